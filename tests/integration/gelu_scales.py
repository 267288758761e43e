#!/usr/bin/python3
"""With the rules for runtimes that run a GELU op by op
(rules/targets/unfused.json), a written-out GELU between two projections
(opset 13, no Gelu op) hands its 1/sqrt(2) and its 0.5 to the projections'
weights: one Div (or Mul) and one Mul fewer per block, for each of the three
ways exporters write it. The scales stay where the first projection's output
is read elsewhere, where the constants are not GELU's, at opset 20, where the
pattern becomes a Gelu, and with the default rules (ONNX Runtime fuses the
written-out GELU itself).

Builds one model per case, optimizes it with `--verify`, compares the ops
left with the expected ones (in any order), and checks the output against
NumPy with `graphsub run --data`.
"""
import os
import sys
from math import erf

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import opcase

UNFUSED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "rules", "targets", "unfused.json")
D, F = 8, 32
X = [1, 4, D]
RNG = np.random.default_rng(3)
W1 = RNG.standard_normal((D, F)).astype(np.float32) * 0.3
B1 = RNG.standard_normal(F).astype(np.float32) * 0.1
W2 = RNG.standard_normal((F, D)).astype(np.float32) * 0.3


def gelu(x):
    return 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))


def const(name, v):
    return numpy_helper.from_array(np.array(v, np.float32), name)


def mlp(form, r=1.4142135, leak=False):
    """h -> MatMul + bias -> GELU written as `form` -> MatMul."""
    n = helper.make_node
    nodes = [n("MatMul", ["x", "w1"], ["m"]), n("Add", ["b1", "m"], ["h"])]
    if form == "div":
        nodes += [n("Div", ["h", "r"], ["s"]), n("Erf", ["s"], ["e"]), n("Add", ["e", "one"], ["a"]),
                  n("Mul", ["h", "a"], ["p"]), n("Mul", ["p", "half"], ["g"])]
    elif form == "mul":
        nodes += [n("Mul", ["h", "r"], ["s"]), n("Erf", ["s"], ["e"]), n("Add", ["e", "one"], ["a"]),
                  n("Mul", ["h", "a"], ["p"]), n("Mul", ["p", "half"], ["g"])]
        r = 0.70710677
    else:   # half first
        nodes += [n("Div", ["h", "r"], ["s"]), n("Erf", ["s"], ["e"]), n("Add", ["e", "one"], ["a"]),
                  n("Mul", ["h", "half"], ["p"]), n("Mul", ["p", "a"], ["g"])]
    nodes.append(n("MatMul", ["g", "w2"], ["y"]))
    outputs = ["y"]
    if leak:
        nodes.append(n("Relu", ["h"], ["z"]))
        outputs.append("z")
    inits = [numpy_helper.from_array(W1, "w1"), numpy_helper.from_array(B1, "b1"),
             numpy_helper.from_array(W2, "w2"), const("r", r), const("one", 1.0), const("half", 0.5)]
    return nodes, inits, outputs


def expect(x, r=np.sqrt(2), leak=False):
    h = x @ W1 + B1
    g = 0.5 * h * (1 + np.vectorize(erf)(h / r))
    return [g @ W2] + ([np.maximum(h, 0)] if leak else [])


FOLDED = ["MatMul", "Add", "Erf", "Add", "Mul", "MatMul"]
KEPT = ["MatMul", "Add", "Div", "Erf", "Add", "Mul", "Mul", "MatMul"]

# (name, opset, graph, NumPy outputs from x, ops expected after optimizing, optimize with the unfused rules)
CASES = [
    ("div", 13, mlp("div"), expect, FOLDED, True),
    ("mul", 13, mlp("mul"), expect, FOLDED, True),
    ("half-first", 13, mlp("half"), expect, FOLDED, True),
    ("first-projection-read-elsewhere", 13, mlp("div", leak=True), lambda x: expect(x, leak=True),
     KEPT + ["Relu"], True),
    ("not-gelu", 13, mlp("div", r=1.5), lambda x: expect(x, r=1.5), KEPT, True),
    ("opset-20", 20, mlp("div"), expect, ["MatMul", "Add", "Gelu", "MatMul"], True),
    ("default-rules", 13, mlp("div"), expect, KEPT, False),
]


def case(gs, d, name, opset, graph, want_out, want, unfused):
    nodes, inits, outputs = graph
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, X)],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    x = np.random.default_rng(7).standard_normal(X).astype(np.float32)
    expected = [(o, v.astype(np.float32)) for o, v in zip(outputs, want_out(x.astype(np.float64)))]
    return opcase.check(gs, d, name, model, [("x", x)], expected, want, ordered=False,
                        extra=["--rules", UNFUSED] if unfused else [])


if __name__ == "__main__":
    sys.exit(opcase.main(CASES, case))
