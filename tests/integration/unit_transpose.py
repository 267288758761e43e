#!/usr/bin/python3
"""A Transpose that moves only axes of length 1 moves no data and becomes a
Reshape (nn.MultiheadAttention's batch-first <-> sequence-first swaps at
batch 1); one that reorders two longer axes, or whose input shape is not
known, stays a Transpose.

Builds one model per case, optimizes it with `--verify`, counts the
Transposes and Reshapes left, and checks the output against NumPy with
`graphsub run --data`.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (name, input dims, perm, the ops expected after optimizing)
CASES = [
    ("batch-one-swap", [1, 7, 8], [1, 0, 2], ["Reshape", "Relu"]),
    ("same-shape", [1, 3, 1, 4], [2, 1, 0, 3], ["Relu"]),   # a Reshape to the same shape goes too
    ("reorders-long-axes", [1, 3, 4], [0, 2, 1], ["Transpose", "Relu"]),
    ("unknown-dim", ["n", 7, 8], [1, 0, 2], ["Transpose", "Relu"]),
]


def build(dims, perm):
    # A Relu after the Transpose keeps the graph output from being the Transpose itself.
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=perm),
             helper.make_node("Relu", ["t"], ["y"])]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def case(gs, d, name, dims, perm, want):
    src, out = os.path.join(d, name + ".onnx"), os.path.join(d, name + "-opt.onnx")
    onnx.save(build(dims, perm), src)
    r = subprocess.run([gs, "optimize", src, "-o", out, "--verify"], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL {name}: optimize exit {r.returncode}: {r.stderr.strip()}")
        return False
    ops = [n.op_type for n in onnx.load(out).graph.node]
    data = os.path.join(d, name + "-data")
    os.makedirs(data)
    shape = [2 if isinstance(v, str) else v for v in dims]
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    for fname, a, n in (("input_0.pb", x, "x"), ("output_0.pb", np.maximum(x.transpose(perm), 0), "y")):
        with open(os.path.join(data, fname), "wb") as fh:
            fh.write(numpy_helper.from_array(a, n).SerializeToString())
    run = subprocess.run([gs, "run", out, "--data", data], capture_output=True, text=True)
    ok = ops == want and run.returncode == 0
    print(f"{'ok' if ok else 'FAIL'} {name}: {ops}, run exit {run.returncode} {run.stderr.strip()}")
    return ok


def main():
    gs = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        results = [case(gs, d, *c) for c in CASES]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
