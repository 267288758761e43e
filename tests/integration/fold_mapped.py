#!/usr/bin/python3
"""Constant folding reads weights where the model file holds them: the
weights of a model file of 1 MiB or more are mapped, not copied, so a
weight's bytes may start at any offset, and the elementwise, Concat and
Split kernels read them there without an aligned copy. Builds a 1.3 MB model
whose weights sit at offsets that are not multiples of 4 (checked), folds
Mul/Add/Div/Sub of weight pairs, their Concat and a Split of it, and checks the
folded model against NumPy (CI runs this under UndefinedBehaviorSanitizer,
which rejects a misaligned float read)."""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import opcase


def model():
    rng = np.random.default_rng(11)
    w = [rng.uniform(0.5, 2.0, [64, 640]).astype(np.float32) for _ in range(8)]
    inits = [numpy_helper.from_array(a, "w" * (k + 1)) for k, a in enumerate(w)]   # names of 1..8 bytes
    name = [t.name for t in inits]
    nodes = [helper.make_node(op, [name[2 * i], name[2 * i + 1]], [f"c{i}"])
             for i, op in enumerate(["Mul", "Add", "Div", "Sub"])]
    nodes += [helper.make_node("Concat", [f"c{i}" for i in range(4)], ["cat"], axis=0),
              helper.make_node("Split", ["cat", "sizes"], ["s0", "s1"], axis=0),
              helper.make_node("Add", ["x", "s0"], ["y"]), helper.make_node("Mul", ["x", "s1"], ["z"])]
    inits.append(numpy_helper.from_array(np.array([128, 128], np.int64), "sizes"))
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [128, 640])],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "z")],
                          initializer=inits)
    cat = np.concatenate([w[0] * w[1], w[2] + w[3], w[4] / w[5], w[6] - w[7]], axis=0)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), w, cat


def case(gs, d, name):
    m, w, cat = model()
    data = m.SerializeToString()
    offsets = [data.find(a.tobytes()) for a in w]
    odd = [o for o in offsets if o % 4]
    print(f"{len(data)} bytes, weights at offsets {offsets}: {len(odd)} not a multiple of 4")
    if len(data) < 1 << 20 or len(odd) < 2:
        print(f"FAIL {name}: the model does not place weights at misaligned offsets")
        return False
    x = np.random.default_rng(3).standard_normal([128, 640]).astype(np.float32)
    return opcase.check(gs, d, name, m, [("x", x)], [("y", x + cat[:128]), ("z", x * cat[128:])], ["Add", "Mul"])


if __name__ == "__main__":
    sys.exit(opcase.main([("fold-mapped",)], case))
