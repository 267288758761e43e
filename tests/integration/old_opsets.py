#!/usr/bin/python3
"""Ops (TopK, GatherND, LRN, DepthToSpace, NonZero) at the oldest opset whose
meaning graphsub's registry row and kernel implement: a model written at
that opset (with its IR version) is shape
inferred through the op, optimized with `--verify`, and `graphsub run`
gives NumPy's outputs. Before, a row that started at a later opset left the
op unknown in such a model: nothing after it was typed, and `--verify`
refused the model.

usage: old_opsets.py GRAPHSUB
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import opcase

IR_OF_OPSET = {7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7}
rng = np.random.default_rng(11)
X = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)


def model(opset, nodes, inits, x_shape, x_type=TensorProto.FLOAT):
    """nodes write 'y' from 'x' (and inits); y is declared without a shape."""
    g = helper.make_graph(nodes, "old", [helper.make_tensor_value_info("x", x_type, list(x_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.UNDEFINED, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = IR_OF_OPSET[opset]
    return m


def i64(name, v):
    return numpy_helper.from_array(np.asarray(v, dtype=np.int64), name)


n = helper.make_node
x2 = X.reshape(6, 16)
top3 = -np.sort(-x2, axis=-1)[:, :3]
nd_idx = np.array([[0, 1], [5, 15]], dtype=np.int64)

X4 = rng.standard_normal((1, 4, 2, 3)).astype(np.float32)


def lrn(x, size, alpha=1e-4, beta=0.75, bias=1.0):
    """ONNX LRN: x / (bias + alpha / size * sum of squares over the size channels around c) ** beta."""
    sq, c = np.zeros_like(x, dtype=np.float64), x.shape[1]
    for i in range(c):
        lo, hi = max(0, i - (size - 1) // 2), min(c, i + size // 2 + 1)
        sq[:, i] = (x[:, lo:hi].astype(np.float64) ** 2).sum(axis=1)
    return (x / (bias + alpha / size * sq) ** beta).astype(np.float32)


def depth_to_space(x, b):
    """DCR order, the only one before opset 11."""
    n, c, h, w = x.shape
    return x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2).reshape(n, c // (b * b), h * b, w * b)


# (name, model, input, expected output, ops after optimizing, declared dims of y after optimizing)
CASES = [
    ("topk-10", model(10, [n("TopK", ["x", "k"], ["v", "i"], axis=-1), n("Relu", ["v"], ["y"])],
                      [i64("k", [3])], (6, 16)), x2, np.maximum(top3, 0), ["TopK", "Relu"], [6, 3]),
    ("gathernd-11", model(11, [n("GatherND", ["x", "ix"], ["g"]), n("Relu", ["g"], ["y"])],
                          [i64("ix", nd_idx)], (6, 16)), x2, np.maximum(x2[nd_idx[:, 0], nd_idx[:, 1]], 0),
     ["GatherND", "Relu"], [2]),
    ("lrn-7", model(7, [n("LRN", ["x"], ["y"], size=3)], [], (2, 3, 4, 4)), X, lrn(X, 3), ["LRN"], [2, 3, 4, 4]),
    ("depthtospace-9", model(9, [n("DepthToSpace", ["x"], ["d"], blocksize=2), n("Relu", ["d"], ["y"])], [],
                             (1, 4, 2, 3)), X4, np.maximum(depth_to_space(X4, 2), 0), ["DepthToSpace", "Relu"],
     [1, 1, 4, 6]),
    ("nonzero-9", model(9, [n("Relu", ["x"], ["r"]), n("NonZero", ["r"], ["y"])], [], (6, 16)), x2,
     np.array(np.nonzero(np.maximum(x2, 0)), dtype=np.int64), ["Relu", "NonZero"], [2, None]),
]


def case(gs, d, name, m, x, want, ops, dims):
    if not opcase.check(gs, d, name, m, [("x", x)], [("y", want.astype(want.dtype))], ops):
        return False
    y = onnx.load(os.path.join(d, name + "-opt.onnx")).graph.output[0]
    got = [dd.dim_value if dd.HasField("dim_value") else None for dd in y.type.tensor_type.shape.dim]
    if not y.type.tensor_type.HasField("shape") or got != dims:
        print(f"FAIL {name}: y declared {got if y.type.tensor_type.HasField('shape') else 'without a shape'}, "
              f"want {dims}")
        return False
    return True


if __name__ == "__main__":
    sys.exit(opcase.main(CASES, case))
