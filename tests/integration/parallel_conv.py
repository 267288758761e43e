#!/usr/bin/python3
"""Parallel convolutions are merged when the cost model says it pays.

Two Convs reading the same input become one Conv and a Split (search), and a
Concat of that Split's parts in order cancels it (cleanup). The search must
see that cleanup's saving when it prices the merge:
  - two same-window Convs into a Concat: merged with the default profile
    (one Conv left, no Split, no Concat);
  - the same two Convs, each with its Relu, read separately (Inception's
    branches): not merged with the default profile (the Split would only add
    a copy), merged under a launch-bound profile, where one Relu before the
    Split leaves two nodes fewer;
  - SqueezeNet's fire expand (a 1x1 and a 3x3 Conv, each with its Relu, into
    a Concat): merged only under a launch-bound profile, where the 1x1
    zero-padded to 3x3 (9x its work) costs less than three more nodes (the
    Relus of the Split's parts concatenated are one Relu); the default
    profile keeps it.
Every output passes --verify; the report names the rules used.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LAUNCH_BOUND = {"name": "launch-bound", "peak_gflops": 1000, "bandwidth_gbs": 100, "overhead_us": 200}


def conv(rng, name, cin, cout, k, out):
    inits = [numpy_helper.from_array(rng.standard_normal((cout, cin, k, k)).astype(np.float32), name + "_w"),
             numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), name + "_b")]
    node = helper.make_node("Conv", ["x", name + "_w", name + "_b"], [out], name=name,
                            kernel_shape=[k, k], pads=[k // 2] * 4)
    return node, inits


def model(kind, c=16, hw=28):
    rng = np.random.default_rng(1)
    a, ia = conv(rng, "a", c, 8, 3, "ya0")
    b, ib = conv(rng, "b", c, 8, 1 if kind == "fire" else 3, "yb0")
    nodes = [a, b]
    if kind == "separate":
        nodes += [helper.make_node("Relu", ["ya0"], ["ya"], name="ra"),
                  helper.make_node("Relu", ["yb0"], ["yb"], name="rb")]
        outs = ["ya", "yb"]
    elif kind == "fire":   # SqueezeNet: expand1x1 and expand3x3, each with its Relu, concatenated
        nodes += [helper.make_node("Relu", ["yb0"], ["yb"], name="rb"),
                  helper.make_node("Relu", ["ya0"], ["ya"], name="ra"),
                  helper.make_node("Concat", ["yb", "ya"], ["y"], axis=1, name="cat")]
        outs = ["y"]
    else:
        nodes.append(helper.make_node("Concat", ["ya0", "yb0"], ["y"], axis=1, name="cat"))
        outs = ["y"]
    g = helper.make_graph(nodes, kind, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, hw, hw])],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], ia + ib)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


# (model, use the launch-bound profile, ops expected after optimizing, a merge rule expected)
CASES = [
    ("concat", False, ["Conv"], "parallel-conv-bias-merge"),
    ("separate", False, ["Conv", "Conv", "Relu", "Relu"], None),
    ("separate", True, ["Conv", "Relu", "Split"], "parallel-conv-bias-merge"),
    ("fire", False, ["Conv", "Conv", "Relu", "Relu", "Concat"], None),
    ("fire", True, ["Conv", "Relu"], "conv-bias-enlarge-merge"),
]


def main():
    gs = sys.argv[1]
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        prof = os.path.join(d, "launch-bound.json")
        with open(prof, "w") as fh:
            json.dump(LAUNCH_BOUND, fh)
        for kind, launch, want_ops, want_rule in CASES:
            src, out, rep = (os.path.join(d, f"{kind}{x}") for x in (".onnx", "-opt.onnx", ".json"))
            onnx.save(model(kind), src)
            extra = ["--profile", prof] if launch else []
            r = subprocess.run([gs, "optimize", src, "-o", out, "--report", rep, "--verify", "--quiet", *extra],
                               capture_output=True, text=True)
            label = kind + (" (launch-bound)" if launch else "")
            if r.returncode != 0:
                print(f"FAIL {label}: optimize exit {r.returncode}: {r.stderr.strip()}")
                bad += 1
                continue
            ops = sorted(n.op_type for n in onnx.load(out).graph.node)
            rules = [a["rule"] for a in json.load(open(rep))["applied"]]
            ok = ops == sorted(want_ops) and (want_rule in rules if want_rule else not rules)
            bad += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {label}: {ops}, rules {rules}")
    print(f"{len(CASES) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
