#!/usr/bin/python3
"""A Transpose that moves only axes of length 1 moves no data and becomes a
Reshape (nn.MultiheadAttention's batch-first <-> sequence-first swaps at
batch 1); one that reorders two longer axes, or whose input shape is not
known, stays a Transpose.

Builds one model per case, optimizes it with `--verify`, counts the
Transposes and Reshapes left, and checks the output against NumPy with
`graphsub run --data`.
"""
import sys

import numpy as np
from onnx import TensorProto, helper

import opcase

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
    shape = [2 if isinstance(v, str) else v for v in dims]
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    return opcase.check(gs, d, name, build(dims, perm), [("x", x)], [("y", np.maximum(x.transpose(perm), 0))], want)


if __name__ == "__main__":
    sys.exit(opcase.main(CASES, case))
