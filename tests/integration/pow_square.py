#!/usr/bin/python3
"""A float raised to a constant 2 becomes a Mul of the float by itself
(rule pow-two-as-mul: a written-out LayerNormalization's variance) when the
exponent is a constant of the base's type, a scalar or all 2s. An exponent
other than 2, one of another type (an int64 2: left as it is), one that
broadcasts the base to a larger shape, one that is not a constant, or an
integer base keeps its Pow.

Builds one model per case, optimizes it with `--verify`, compares the ops
left with the expected ones, and checks the output against NumPy with
`graphsub run --data`.
"""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import opcase

SHAPE = [2, 3, 4]


def const(value, dtype):
    return numpy_helper.from_array(np.array(value, dtype=dtype), "e")


# (name, exponent initializer or None for a graph input, base dtype, ops expected after optimizing)
CASES = [
    ("float-two", const(2.0, np.float32), np.float32, ["Mul"]),
    ("int64-two", const([2], np.int64), np.float32, ["Pow"]),
    ("vector-of-twos", const([2.0, 2.0, 2.0, 2.0], np.float32), np.float32, ["Mul"]),
    ("three", const(3.0, np.float32), np.float32, ["Pow"]),
    ("broadcasts-base", const(np.full([5, 1, 1, 1], 2.0), np.float32), np.float32, ["Pow"]),
    ("not-a-constant", None, np.float32, ["Pow"]),
    ("int-base", const(2, np.int32), np.int32, ["Pow"]),
]

ONNX_TYPE = {np.float32: TensorProto.FLOAT, np.int32: TensorProto.INT32}


def case(gs, d, name, exponent, dtype, want):
    ins = [helper.make_tensor_value_info("x", ONNX_TYPE[dtype], SHAPE)]
    inits = [exponent] if exponent is not None else []
    if exponent is None:
        ins.append(helper.make_tensor_value_info("e", TensorProto.FLOAT, [1]))
    g = helper.make_graph([helper.make_node("Pow", ["x", "e"], ["y"])], "m", ins,
                          [helper.make_tensor_value_info("y", ONNX_TYPE[dtype], None)], initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(SHAPE) * 3).astype(dtype)
    e = numpy_helper.to_array(exponent) if exponent is not None else np.array([2.0], np.float32)
    y = np.power(x, e.astype(dtype))
    inputs = [("x", x)] + ([("e", e)] if exponent is None else [])
    return opcase.check(gs, d, name, model, inputs, [("y", y.astype(dtype))], want)


if __name__ == "__main__":
    sys.exit(opcase.main(CASES, case))
