#!/usr/bin/python3
"""The sum of two 1x1 Convs with bias (a residual block's last Conv and its
projection shortcut) becomes one 1x1 Conv over the two inputs concatenated
(rule add-pointwise-convs-concat), when the cost model says it pays and only
when the two Convs make the same shape with no broadcast: both stride 1, no
pads, one group, inputs of the same batch and spatial size.

Cases that must keep their two Convs and the Add: a shortcut with stride 2,
a 1x1 Conv with pads, a grouped Conv, a Conv output that the Add broadcasts
(spatial size 1 against 5x5), and a Conv whose output
is also read elsewhere (the merge would have to compute it anyway).

Builds one model per case, optimizes it with `--verify`, compares the ops
left with the expected ones, and checks the outputs against NumPy with
`graphsub run --data`.
"""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import opcase

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
    return opcase.check(gs, d, name, model, [("a", a), ("x", x)], expect, want, ordered=False)


if __name__ == "__main__":
    sys.exit(opcase.main(CASES, case))
