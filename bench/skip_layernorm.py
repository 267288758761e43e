#!/usr/bin/python3
"""ONNX Runtime's SkipLayerNormalization against the Add and
LayerNormalization it replaces, on its CPU provider, one thread.

At its default level `all`, ONNX Runtime fuses a residual Add followed by a
LayerNormalization into one SkipLayerNormalization whenever it sees both Add
inputs are 3-D of one shape; graphsub's default rules keep that from
happening (rule residual-layernorm-as-2d) because of what this prints. Two
models of LAYERS residual blocks over [BATCH, SEQ, HIDDEN] are timed by
bench/ort_compare.js at level `disabled` (so neither is rewritten): the
written-out Add + LayerNormalization, and the fused op. Prints the median
ratio fused / written-out (above 1: the fused op is slower) with its 95%
bootstrap interval, the medians in ms, and the outputs' largest difference.

Timings need a quiet machine (see bench/README.md).

usage: bench/skip_layernorm.py [--pairs N] [--layers L] [--batch B] [--seq S] [--hidden H]
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def model(fused, layers, dims):
    rng = np.random.default_rng(0)
    hidden = dims[-1]
    nodes, inits, cur = [], [], "x"
    for i in range(layers):
        inits += [numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32), f"g{i}"),
                  numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32), f"b{i}")]
        if fused:
            nodes.append(helper.make_node("SkipLayerNormalization", [cur, "r", f"g{i}", f"b{i}"], [f"o{i}"],
                                          domain="com.microsoft", epsilon=1e-5))
        else:
            nodes += [helper.make_node("Add", [cur, "r"], [f"s{i}"]),
                      helper.make_node("LayerNormalization", [f"s{i}", f"g{i}", f"b{i}"], [f"o{i}"],
                                       axis=-1, epsilon=1e-5)]
        cur = f"o{i}"
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, dims) for n in ("x", "r", cur)]
    g = helper.make_graph(nodes, "residual_ln", io[:2], io[2:], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])


def interval(xs, draws=2000):
    rng = random.Random(1)
    meds = sorted(statistics.median(rng.choice(xs) for _ in xs) for _ in range(draws))
    return meds[int(0.025 * draws)], meds[int(0.975 * draws) - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=30)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=768)
    a = ap.parse_args()
    dims = [a.batch, a.seq, a.hidden]
    with tempfile.TemporaryDirectory() as d:
        paths = [os.path.join(d, f) for f in ("written_out.onnx", "fused.onnx")]
        for fused, p in zip((False, True), paths):
            onnx.save(model(fused, a.layers, dims), p)
        r = subprocess.run(["node", os.path.join(HERE, "ort_compare.js"), *paths, "--levels", "disabled",
                            "--pairs", str(a.pairs)], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"skip_layernorm: {r.stderr.strip()}")
    res = json.loads(r.stdout)
    row = res["graphsub"][0]
    if "error" in row:
        sys.exit(f"skip_layernorm: {row['error']}")
    lo, hi = interval(row["ratios"])
    print(json.dumps({"ort_version": res["ort_version"], "shape": dims, "layers": a.layers, "pairs": a.pairs,
                      "fused_over_written_out": round(row["ratio"], 3), "interval": [round(lo, 3), round(hi, 3)],
                      "written_out_ms": round(row["orig_ms"], 3), "fused_ms": round(row["opt_ms"], 3),
                      "max_abs_diff": row["diff"]["abs"]}))


if __name__ == "__main__":
    main()
