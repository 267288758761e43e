#!/usr/bin/python3
"""Parallel projections of one input (attention's Q, K and V) merge into one
MatMul on concatenated weights and one Split: three with a bias each become
MatMul, Add, Split (rule parallel-matmul-bias-merge3: one Split with three
parts, where two two-way merges would leave a Split of a Split that copies K
and V twice); two merge the same way (parallel-matmul-bias-merge); three
without biases become MatMul, Split. Projections of different inputs stay.

Builds one model per case, optimizes it with `--verify` (default options),
compares the ops left with the expected ones, and checks the outputs against
NumPy with `graphsub run --data`.
"""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import opcase

D = 64


def build(nproj, bias, shared):
    rng = np.random.default_rng(13)
    nodes, inits, outs = [], [], []
    x = {"x": rng.standard_normal([1, 8, D]).astype(np.float32),
         "x2": rng.standard_normal([1, 8, D]).astype(np.float32)}
    for i in range(nproj):
        src = "x" if shared or i == 0 else "x2"
        w = rng.standard_normal([D, D]).astype(np.float32) / 8
        b = rng.standard_normal([D]).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        y = x[src] @ w
        if bias:
            inits.append(numpy_helper.from_array(b, f"b{i}"))
            nodes += [helper.make_node("MatMul", [src, f"w{i}"], [f"m{i}"]),
                      helper.make_node("Add", [f"m{i}", f"b{i}"], [f"y{i}"])]
            y = y + b
        else:
            nodes.append(helper.make_node("MatMul", [src, f"w{i}"], [f"y{i}"]))
        outs.append((f"y{i}", y.astype(np.float32)))
    ins = ["x"] + ([] if shared else ["x2"])
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 8, D]) for n in ins],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n, _ in outs],
                          initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), [(n, x[n]) for n in ins], outs


# (name, projections, with bias, one shared input, ops expected after optimizing)
CASES = [
    ("qkv-bias", 3, True, True, ["MatMul", "Add", "Split"]),
    ("qk-bias", 2, True, True, ["MatMul", "Add", "Split"]),
    ("qkv", 3, False, True, ["MatMul", "Split"]),
    ("separate-inputs", 2, True, False, ["MatMul", "Add", "MatMul", "Add"]),
]


def case(gs, d, name, nproj, bias, shared, want):
    model, inputs, outputs = build(nproj, bias, shared)
    return opcase.check(gs, d, name, model, inputs, outputs, want, ordered=False)


if __name__ == "__main__":
    sys.exit(opcase.main(CASES, case))
