#!/usr/bin/python3
"""A Relu before a strided MaxPool runs after it, on the pooled tensor (the
stem of ResNet, Inception and SqueezeNet); the Relus of two branches
concatenated before a MaxPool run once after it (SqueezeNet's fire modules).
A MaxPool whose Indices output is read, or a Relu read elsewhere too, stays
where it is.

Builds one model per case, optimizes it with `--verify`, compares the ops
left with the expected ones, and checks the output against NumPy with
`graphsub run --data`.
"""
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto, helper

import opcase

POOL = dict(kernel_shape=[3, 3], strides=[2, 2])


def maxpool(x):
    win = sliding_window_view(x, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
    return win.max(axis=(4, 5))


def relu(x):
    return np.maximum(x, 0)


def stem():
    nodes = [helper.make_node("Relu", ["a"], ["r"]), helper.make_node("MaxPool", ["r"], ["y"], **POOL)]
    return nodes, ["a"], ["y"], lambda a, b: [maxpool(relu(a))]


def fire():
    nodes = [helper.make_node("Relu", ["a"], ["ra"]), helper.make_node("Relu", ["b"], ["rb"]),
             helper.make_node("Concat", ["ra", "rb"], ["c"], axis=1),
             helper.make_node("MaxPool", ["c"], ["y"], **POOL)]
    return nodes, ["a", "b"], ["y"], lambda a, b: [maxpool(np.concatenate([relu(a), relu(b)], axis=1))]


def indices_read():
    nodes = [helper.make_node("Relu", ["a"], ["r"]), helper.make_node("MaxPool", ["r"], ["y", "i"], **POOL)]
    return nodes, ["a"], ["y", "i"], None


def relu_read_too():
    nodes = [helper.make_node("Relu", ["a"], ["r"]), helper.make_node("MaxPool", ["r"], ["y"], **POOL)]
    return nodes, ["a"], ["y", "r"], lambda a, b: [maxpool(relu(a)), relu(a)]


# (name, builder, the ops expected after optimizing)
CASES = [
    ("stem", stem, ["MaxPool", "Relu"]),
    ("fire", fire, ["Concat", "MaxPool", "Relu"]),
    ("indices-read", indices_read, ["Relu", "MaxPool"]),
    ("relu-read-too", relu_read_too, ["Relu", "MaxPool"]),
]


def build(nodes, inputs, outputs):
    shape = {"a": [1, 4, 9, 9], "b": [1, 3, 9, 9]}
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape[n]) for n in inputs]
    types = {"i": TensorProto.INT64}
    outs = [helper.make_tensor_value_info(n, types.get(n, TensorProto.FLOAT), None) for n in outputs]
    g = helper.make_graph(nodes, "m", ins, outs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), shape


def case(gs, d, name, builder, want):
    nodes, inputs, outputs, expect = builder()
    model, shape = build(nodes, inputs, outputs)
    rng = np.random.default_rng(5)
    vals = {n: rng.standard_normal(shape[n]).astype(np.float32) for n in ("a", "b")}
    expected = ([(n, v.astype(np.float32)) for n, v in zip(outputs, expect(vals["a"], vals["b"]))]
                if expect else None)
    return opcase.check(gs, d, name, model, [(n, vals[n]) for n in inputs], expected, want)


if __name__ == "__main__":
    sys.exit(opcase.main(CASES, case))
