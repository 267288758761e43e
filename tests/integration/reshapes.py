#!/usr/bin/python3
"""Reshapes that only move data between layouts go away: a Gelu or Relu
between a Reshape and the Reshape back works on the input as it is, and
Reshapes of one tensor by equal shape initializers (an exporter writes one
per Reshape) merge into one. A Reshape to another shape stays.
The sum of two tensors of one shape, each reshaped the same way, is one
Reshape of their sum, even when one of those Reshapes is also read
elsewhere through a Reshape back (a transformer's residual stream: the
LayerNormalization output feeds the next sublayer and the residual Add), so
the stream stays in its 2-D form; tensors of different shapes reshaped
alike keep their Reshapes.

Builds one model per case, optimizes it with `--verify`, compares the ops
left with the expected ones (in any order), and checks the outputs against NumPy with
`graphsub run --data`.
"""
import sys
from math import erf

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import opcase

X = [2, 3, 4]


def gelu(x):
    return 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))


def shape(name, dims):
    return numpy_helper.from_array(np.array(dims, np.int64), name)


def sandwich(op, back):
    nodes = [helper.make_node("Reshape", ["x", "flat"], ["f"]), helper.make_node(op, ["f"], ["u"]),
             helper.make_node("Reshape", ["u", "back"], ["y"])]
    return nodes, [shape("flat", [6, 4]), shape("back", back)], ["y"]


def three_reshapes():
    nodes = [helper.make_node("Reshape", ["x", f"s{i}"], [f"r{i}"]) for i in range(3)]
    nodes += [helper.make_node("Relu", ["r0"], ["y0"]), helper.make_node("Sigmoid", ["r1"], ["y1"]),
              helper.make_node("Tanh", ["r2"], ["y2"])]
    inits = [shape("s0", [6, 4]), shape("s1", [6, 4]), shape("s2", [4, 6])]
    return nodes, inits, ["y0", "y1", "y2"]


def residual(op, other_shape=False):
    """f = x as [6, 4]; two branches of f (g: of x as [3, 8] with
    other_shape), each reshaped back to x's shape, combined by op, reshaped
    to [6, 4] for a Relu; the first branch's 3-D form is also read through a
    Reshape to [6, 4] by a Neg."""
    nodes = [helper.make_node("Reshape", ["x", "flat"], ["f"]),
             helper.make_node("Reshape", ["x", "wide" if other_shape else "flat"], ["g"]),
             helper.make_node("Sigmoid", ["f"], ["a"]), helper.make_node("Tanh", ["g"], ["b"]),
             helper.make_node("Reshape", ["a", "back"], ["a3"]), helper.make_node("Reshape", ["b", "back"], ["b3"]),
             helper.make_node(op, ["a3", "b3"], ["s"]), helper.make_node("Reshape", ["s", "flat"], ["s2"]),
             helper.make_node("Relu", ["s2"], ["y"]), helper.make_node("Reshape", ["a3", "flat"], ["a2"]),
             helper.make_node("Neg", ["a2"], ["y2"])]
    return nodes, [shape("flat", [6, 4]), shape("wide", [3, 8]), shape("back", X)], ["y", "y2"]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# (name, opset, (nodes, initializers, outputs), NumPy outputs from x, ops expected after optimizing)
CASES = [
    ("gelu", 20, sandwich("Gelu", X), lambda x: [gelu(x)], ["Gelu"]),
    ("relu", 13, sandwich("Relu", X), lambda x: [np.maximum(x, 0)], ["Relu"]),
    ("other-shape", 13, sandwich("Relu", [3, 8]), lambda x: [np.maximum(x, 0).reshape(3, 8)],
     ["Reshape", "Relu", "Reshape"]),
    ("equal-shapes", 13, three_reshapes(),
     lambda x: [np.maximum(x, 0).reshape(6, 4), sigmoid(x).reshape(6, 4), np.tanh(x).reshape(4, 6)],
     ["Reshape", "Relu", "Sigmoid", "Reshape", "Tanh"]),
    ("residual-add", 14, residual("Add"),
     lambda x: [np.maximum(sigmoid(x) + np.tanh(x), 0).reshape(6, 4), -sigmoid(x).reshape(6, 4)],
     ["Reshape", "Sigmoid", "Tanh", "Add", "Relu", "Neg"]),
    ("residual-mul", 14, residual("Mul"),
     lambda x: [np.maximum(sigmoid(x) * np.tanh(x), 0).reshape(6, 4), -sigmoid(x).reshape(6, 4)],
     ["Reshape", "Sigmoid", "Tanh", "Mul", "Relu", "Neg"]),
    ("residual-other-shapes", 14, residual("Add", other_shape=True),
     lambda x: [np.maximum(sigmoid(x) + np.tanh(x), 0).reshape(6, 4), -sigmoid(x).reshape(6, 4)],
     ["Reshape", "Reshape", "Sigmoid", "Tanh", "Reshape", "Reshape", "Add", "Reshape", "Relu", "Neg"]),
]


def case(gs, d, name, opset, graph, expect, want):
    nodes, inits, outputs = graph
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, X)],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    x = np.random.default_rng(7).standard_normal(X).astype(np.float32)
    expected = [(o, v.astype(np.float32)) for o, v in zip(outputs, expect(x.astype(np.float64)))]
    return opcase.check(gs, d, name, model, [("x", x)], expected, want, ordered=False)


if __name__ == "__main__":
    sys.exit(opcase.main(CASES, case))
