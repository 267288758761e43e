#!/usr/bin/python3
"""Einsum forms that exporters write run in the interpreter and get the
right output shape.

Each equation (explicit and implicit outputs, a transpose, an outer
product, attention's batched contraction, an ellipsis with broadcasting,
a diagonal) is one Einsum node model: `graphsub run` must reproduce
numpy.einsum's result, and the output type `graphsub optimize` declares
must have numpy's shape.

usage: einsum_forms.py GRAPHSUB
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

rng = np.random.default_rng(1)


def r(*shape):
    return rng.standard_normal(shape).astype(np.float32)


CASES = [
    ("...ij,...jk->...ik", [r(2, 3, 4, 5), r(3, 5, 2)]),
    ("bhqd,bhkd->bhqk", [r(2, 2, 3, 4), r(2, 2, 5, 4)]),
    ("i,j->ij", [r(3), r(4)]),
    ("...ii->...i", [r(2, 3, 3)]),
    ("ij...,jk...", [r(2, 3, 4), r(3, 2, 1)]),
    ("...j,j", [r(2, 3, 4), r(4)]),
    ("ij->ji", [r(2, 3)]),
    ("b...d,bkd->b...k", [r(2, 3, 4, 5), r(2, 6, 5)]),
    ("...,...->...", [r(2, 1, 3), r(4, 1)]),
]


def check(graphsub, eq, ins, tmp):
    want = np.einsum(eq, *ins).astype(np.float32)
    names = [f"x{k}" for k in range(len(ins))]
    g = helper.make_graph([helper.make_node("Einsum", names, ["y"], equation=eq)], "g",
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, x.shape) for n, x in zip(names, ins)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path, data = os.path.join(tmp, "model.onnx"), os.path.join(tmp, "data")
    os.makedirs(data, exist_ok=True)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    for k, (n, x) in enumerate(zip(names, ins)):
        with open(os.path.join(data, f"input_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, n).SerializeToString())
    with open(os.path.join(data, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(want, "y").SerializeToString())
    fails = []
    r_ = subprocess.run([graphsub, "run", path, "--data", data], capture_output=True, text=True)
    if r_.returncode:
        fails.append(f"run exit {r_.returncode}: {(r_.stdout + r_.stderr).strip()[-200:]}")
    out = os.path.join(tmp, "out.onnx")
    r_ = subprocess.run([graphsub, "optimize", "--quiet", path, "-o", out], capture_output=True, text=True)
    if r_.returncode:
        fails.append(f"optimize exit {r_.returncode}: {r_.stderr.strip()}")
    else:
        t = onnx.load(out).graph.output[0].type.tensor_type
        dims = tuple(d.dim_value for d in t.shape.dim) if t.HasField("shape") else None
        if dims != want.shape:
            fails.append(f"declared shape {dims}, numpy's {want.shape}")
    return fails


def main():
    graphsub = sys.argv[1]
    bad = 0
    for eq, ins in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            fails = check(graphsub, eq, ins, tmp)
        for f in fails:
            print(f"FAIL '{eq}': {f}")
        bad += bool(fails)
    print(f"einsum forms: {len(CASES) - bad} of {len(CASES)} passed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
