#!/usr/bin/python3
"""1x1 Convs and Concat, both ways, as the cost model says.

The sum of two 1x1 Convs with bias (a residual block's last Conv and its
projection shortcut) becomes one 1x1 Conv over the two inputs concatenated
(rule add-pointwise-convs-concat), when the cost model says it pays and only
when the two Convs make the same shape with no broadcast: both stride 1, no
pads, one group, inputs of the same batch and spatial size. The rule is the
unfused profile's (profiles/unfused-x86-64.json): ONNX Runtime at level
`all` fuses the Add into a Conv itself, so the default leaves the sum alone;
a default-options case checks that too.

Cases that must keep their two Convs and the Add: a shortcut with stride 2,
a 1x1 Conv with pads, a grouped Conv, a Conv output that the Add broadcasts
(spatial size 1 against 5x5), and a Conv whose output is also read
elsewhere (the merge would have to compute it anyway).

The other way (rule pointwise-conv-of-concat-split): a 1x1 Conv that narrows
two tensors concatenated on the channels (SqueezeNet's squeeze after a
fire's two expands) becomes two 1x1 Convs and an Add, with or without bias;
a Conv that widens them keeps its Concat (the Add would move more than the
Concat did), and so does a 3x3 Conv.

A narrowing 1x1 Conv with bias after an AveragePool runs before the pool,
its bias added after it (rule pointwise-conv-bias-before-avgpool, Inception's
pool branch), with the unfused profile only: the Add it leaves between pool
and Relu keeps ONNX Runtime at level `all` from fusing the Conv and the Relu.

Builds one model per case, optimizes it with `--verify`, compares the ops
left with the expected ones, and checks the outputs against NumPy with
`graphsub run --data`.
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import opcase

UNFUSED = ("--profile", os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                     "profiles", "unfused-x86-64.json"))

CA, CX, CO = 8, 6, 16


def conv1x1(x, w, b, stride=1, pads=0, group=1):
    """NumPy reference: a 1x1 Conv (NCHW) with zero pads, strides and groups."""
    if pads:
        x = np.pad(x, [(0, 0), (0, 0), (pads, pads), (pads, pads)])
    x = x[:, :, ::stride, ::stride]
    gi, go = x.shape[1] // group, w.shape[0] // group
    parts = [np.einsum("oc,nchw->nohw", w[g * go:(g + 1) * go, :, 0, 0], x[:, g * gi:(g + 1) * gi])
             for g in range(group)]
    y = np.concatenate(parts, axis=1)
    return y + (b.reshape(1, -1, 1, 1) if b is not None else 0)


# (name, a's spatial size, x's spatial size, x-conv attributes, bias on both, x-conv output also read, ops expected)
MERGED = ["Concat", "Conv", "Relu"]
KEPT = ["Conv", "Conv", "Add", "Relu"]
CASES = [
    ("residual", 5, 5, {}, True, False, MERGED),
    ("default-options", 5, 5, {}, True, False, KEPT),
    ("strided-shortcut", 3, 5, {"strides": [2, 2]}, True, False, KEPT),
    ("padded", 7, 5, {"pads": [1, 1, 1, 1]}, True, False, KEPT),
    ("grouped", 5, 5, {"group": 2}, True, False, KEPT),
    ("broadcast", 5, 1, {}, True, False, KEPT),
    ("read-elsewhere", 5, 5, {}, True, True, KEPT),
]


def case(gs, d, name, ha, hx, attrs, bias, shared, want):
    rng = np.random.default_rng(3)
    group = attrs.get("group", 1)
    a = rng.standard_normal((1, CA, ha, ha)).astype(np.float32)
    x = rng.standard_normal((1, CX, hx, hx)).astype(np.float32)
    wa = (rng.standard_normal((CO, CA, 1, 1)) * 0.3).astype(np.float32)
    wx = (rng.standard_normal((CO, CX // group, 1, 1)) * 0.3).astype(np.float32)
    ba, bx = (rng.standard_normal(CO).astype(np.float32) for _ in range(2))
    inits = [numpy_helper.from_array(v, n) for v, n in ((wa, "wa"), (wx, "wx"))]
    if bias:
        inits += [numpy_helper.from_array(ba, "ba"), numpy_helper.from_array(bx, "bx")]
    nodes = [helper.make_node("Conv", ["a", "wa"] + (["ba"] if bias else []), ["ya"], kernel_shape=[1, 1]),
             helper.make_node("Conv", ["x", "wx"] + (["bx"] if bias else []), ["yx"], kernel_shape=[1, 1], **attrs),
             helper.make_node("Add", ["ya", "yx"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if shared:
        outs.append(helper.make_tensor_value_info("yx", TensorProto.FLOAT, None))
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("a", TensorProto.FLOAT, list(a.shape)),
                                        helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                          outs, initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    yx = conv1x1(x, wx, bx if bias else None, attrs.get("strides", [1])[0], attrs.get("pads", [0])[0], group)
    y = np.maximum(conv1x1(a, wa, ba if bias else None) + yx, 0).astype(np.float32)
    expect = [("y", y)] + ([("yx", yx.astype(np.float32))] if shared else [])
    extra = () if name == "default-options" else UNFUSED
    return opcase.check(gs, d, name, model, [("a", a), ("x", x)], expect, want, ordered=False, extra=extra)


# (name, channels out, kernel size, bias, ops expected)
SPLIT_CASES = [
    ("fire-squeeze", 4, 1, True, ["Relu", "Relu", "Conv", "Conv", "Add"]),
    ("fire-squeeze-no-bias", 4, 1, False, ["Relu", "Relu", "Conv", "Conv", "Add"]),
    ("widening", 256, 1, True, ["Relu", "Relu", "Concat", "Conv"]),
    ("three-by-three", 4, 3, True, ["Relu", "Relu", "Concat", "Conv"]),
]


def conv_same(x, w, b):
    """NumPy reference: a Conv (NCHW) with stride 1 and 'same' zero pads."""
    k = w.shape[2]
    xp = np.pad(x, [(0, 0), (0, 0), (k // 2, k // 2), (k // 2, k // 2)])
    h, wd = x.shape[2], x.shape[3]
    y = sum(np.einsum("oc,nchw->nohw", w[:, :, i, j], xp[:, :, i:i + h, j:j + wd]) for i in range(k) for j in range(k))
    return y + (b.reshape(1, -1, 1, 1) if b is not None else 0)


def split_case(gs, d, name, cout, k, bias, want):
    rng = np.random.default_rng(5)
    e1, e3 = (rng.standard_normal((1, 64, 28, 28)).astype(np.float32) for _ in range(2))
    w = (rng.standard_normal((cout, 128, k, k)) * 0.1).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")] + ([numpy_helper.from_array(b, "b")] if bias else [])
    nodes = [helper.make_node("Relu", ["e1"], ["r1"]), helper.make_node("Relu", ["e3"], ["r3"]),
             helper.make_node("Concat", ["r1", "r3"], ["cat"], axis=1),
             helper.make_node("Conv", ["cat", "w"] + (["b"] if bias else []), ["y"], kernel_shape=[k, k],
                              pads=[k // 2] * 4)]
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 64, 28, 28])
                                        for n in ("e1", "e3")],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    cat = np.concatenate([np.maximum(e1, 0), np.maximum(e3, 0)], axis=1)
    y = conv_same(cat, w, b if bias else None).astype(np.float32)
    return opcase.check(gs, d, name, model, [("e1", e1), ("e3", e3)], [("y", y)], want, ordered=False)


# (name, with the unfused profile, ops expected)
POOL_CASES = [
    ("pool-branch", True, ["Conv", "AveragePool", "Add", "Relu"]),
    ("pool-branch-default", False, ["AveragePool", "Conv", "Relu"]),
]


def pool_case(gs, d, name, unfused, want):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 128, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((16, 128, 1, 1)) * 0.1).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    nodes = [helper.make_node("AveragePool", ["x"], ["p"], kernel_shape=[3, 3]),
             helper.make_node("Conv", ["p", "w", "b"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    pooled = np.mean([x[:, :, i:i + 30, j:j + 30] for i in range(3) for j in range(3)], axis=0)
    y = np.maximum(conv1x1(pooled, w, b), 0).astype(np.float32)
    return opcase.check(gs, d, name, model, [("x", x)], [("y", y)], want, ordered=False,
                        extra=UNFUSED if unfused else ())


def run(gs, d, fn, *c):
    return fn(gs, d, *c)


if __name__ == "__main__":
    sys.exit(opcase.main([(case, *c) for c in CASES] + [(split_case, *c) for c in SPLIT_CASES] +
                         [(pool_case, *c) for c in POOL_CASES], run))
