#!/usr/bin/python3
"""A Transpose and the Transpose undoing it, with only elementwise ops between
them (channels-last converters write every Conv between such a pair, its bias
Add and activation after it), cancel: the ops work in the first one's input
layout, their constants permuted to it.

A Concat, a Pad, a per-channel QuantizeLinear and DequantizeLinear, a
reduction keeping its dims, a Softmax, an ArgMax, a Split, a Resize, a Slice
and a Gather move too, their axes, pads and scales renumbered (the Pad then
folds into the Conv it pads; a Slice with no axes gets them); a
Reshape that moves only axes of length 1 counts as the Transpose it equals
(a squeeze-and-excitation block's). Regions join: a residual Add of two such
chains, a bias Add pulled in through the residual Add that reads it, a value
read by something else as well, which then reads it through one new
Transpose. Where the ops cannot all be moved so (a value that is a graph
output, an input that is not a constant, permutations that do not undo each
other), nothing changes.

Builds one model per case, optimizes it with `--verify`, compares the ops
left, and checks the output against NumPy with `graphsub run --data` (the
Conv cases against the interpreter's run of the original, through
`--verify`).
"""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import opcase

NCHW_TO_NHWC, NHWC_TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]
rng = np.random.default_rng(7)
B = rng.standard_normal(3).astype(np.float32)              # a bias per channel (NHWC's last axis)
S = rng.uniform(0.5, 2, (1, 1, 1, 3)).astype(np.float32)   # a scale of rank 4
SLOPE = rng.uniform(0.1, 0.3, 3).astype(np.float32)


def const(name, v):
    return numpy_helper.from_array(np.asarray(v), name)


def model(nodes, inits, ins, outs):
    g = helper.make_graph(nodes, "pairs", [helper.make_tensor_value_info(n, TensorProto.FLOAT, d) for n, d in ins],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outs], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def sandwich(ops, inits, dims=(1, 3, 4, 5), close=NHWC_TO_NCHW, extra_ins=(), extra_outs=()):
    """x (NCHW) -> Transpose to NHWC -> ops (a list of (op, other inputs, attrs), the chain's value
    first unless the other inputs hold '@') -> Transpose `close` -> y."""
    nodes, v = [helper.make_node("Transpose", ["x"], ["t0"], perm=NCHW_TO_NHWC)], "t0"
    for i, (op, others, attrs) in enumerate(ops):
        ins = [v if o == "@" else o for o in others] if "@" in others else [v, *others]
        nodes.append(helper.make_node(op, ins, [f"v{i}"], **attrs))
        v = f"v{i}"
    nodes.append(helper.make_node("Transpose", [v], ["y"], perm=close))
    return model(nodes, inits, [("x", list(dims)), *extra_ins], ["y", *extra_outs])


def bias_relu():
    return sandwich([("Add", ["b"], {}), ("Relu", [], {})], [const("b", B)])


def many_ops():
    ops = [("Mul", ["s"], {}), ("Sub", ["c", "@"], {}), ("Clip", ["lo", "hi"], {}),
           ("PRelu", ["slope"], {}), ("LeakyRelu", [], {"alpha": 0.2}), ("Div", ["s"], {})]
    inits = [const("s", S), const("c", B), const("lo", np.float32(-1)), const("hi", np.float32(6)),
             const("slope", SLOPE)]
    return sandwich(ops, inits)


def many_ops_ref(x):
    t = x.transpose(NCHW_TO_NHWC)
    t = np.clip(B - t * S, -1, 6)
    t = np.where(t < 0, t * SLOPE, t)
    t = np.where(t < 0, t * np.float32(0.2), t)
    return (t / S).transpose(NHWC_TO_NCHW).astype(np.float32)


def conv_nhwc():
    """Channels-last input, two Convs as a converter writes them, channels-last output."""
    n, inits, v = [], [], "x"
    for i in range(2):
        inits += [const(f"w{i}", rng.standard_normal((3, 3, 3, 3)).astype(np.float32) * 0.3), const(f"b{i}", B)]
        n += [helper.make_node("Transpose", [v], [f"a{i}"], perm=NHWC_TO_NCHW),
              helper.make_node("Conv", [f"a{i}", f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
              helper.make_node("Transpose", [f"c{i}"], [f"d{i}"], perm=NCHW_TO_NHWC),
              helper.make_node("Add", [f"d{i}", f"b{i}"], [f"e{i}"]),
              helper.make_node("Relu", [f"e{i}"], [f"r{i}" if i == 0 else "y"])]
        v = f"r{i}"
    return model(n, inits, [("x", [1, 6, 6, 3])], ["y"])


B2 = rng.standard_normal((2, 1, 1, 3)).astype(np.float32)


def residual():
    """Two NCHW inputs moved to NHWC, one with a bias, summed, Relu, back to NCHW."""
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC), n("Add", ["a", "b"], ["ab"]),
             n("Transpose", ["x2"], ["c"], perm=NCHW_TO_NHWC), n("Add", ["ab", "c"], ["s"]),
             n("Relu", ["s"], ["r"]), n("Transpose", ["r"], ["y"], perm=NHWC_TO_NCHW)]
    return model(nodes, [const("b", B)], [("x", [1, 3, 4, 5]), ("x2", [1, 3, 4, 5])], ["y"])


def residual_late_bias():
    """The same with the bias Add written after the second Transpose: the region grown from that
    one reaches the residual Add before the bias Add, and pulls it in."""
    n = helper.make_node
    nodes = [n("Transpose", ["x2"], ["c"], perm=NCHW_TO_NHWC), n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC),
             n("Add", ["a", "b"], ["ab"]), n("Add", ["c", "ab"], ["s"]), n("Relu", ["s"], ["r"]),
             n("Transpose", ["r"], ["y"], perm=NHWC_TO_NCHW)]
    return model(nodes, [const("b", B)], [("x", [1, 3, 4, 5]), ("x2", [1, 3, 4, 5])], ["y"])


C2 = rng.standard_normal((1, 4, 5, 2)).astype(np.float32)   # channels-last, concatenated on channels
W = rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3


def concat_channels():
    """A Concat on the channels-last axis 3 of the moved value and a constant: axis 1 once moved."""
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC), n("Concat", ["a", "c2"], ["c"], axis=3),
             n("Relu", ["c"], ["r"]), n("Transpose", ["r"], ["y"], perm=NHWC_TO_NCHW)]
    return model(nodes, [const("c2", C2)], [("x", [1, 3, 4, 5])], ["y"])


def pad_conv():
    """A channels-last Pad of H and W before a Transpose to a Conv without padding (a converter's
    SAME padding): the Pad moves to channels first, where it folds into the Conv."""
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC), n("Add", ["a", "b"], ["ab"]), n("Relu", ["ab"], ["r"]),
             n("Pad", ["r", "pads"], ["p"]), n("Transpose", ["p"], ["pc"], perm=NHWC_TO_NCHW),
             n("Conv", ["pc", "w"], ["y"])]
    return model(nodes, [const("b", B), const("pads", np.array([0, 1, 1, 0, 0, 1, 1, 0], dtype=np.int64)),
                         const("w", W)], [("x", [1, 3, 4, 5])], ["y"])


QS = np.array([0.02, 0.05, 0.1], dtype=np.float32)     # a scale per channel
QZ = np.array([128, 120, 136], dtype=np.uint8)


def qdq_per_axis(per_axis=True):
    """Quantized channels-last: QuantizeLinear and DequantizeLinear per channel (axis 3, NHWC's) or
    per tensor between the Transposes: the axis becomes 1."""
    n = helper.make_node
    s, z = ("s", "z") if per_axis else ("s1", "z1")
    kw = {"axis": 3} if per_axis else {}
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC), n("QuantizeLinear", ["a", s, z], ["q"], **kw),
             n("DequantizeLinear", ["q", s, z], ["d"], **kw), n("Transpose", ["d"], ["y"], perm=NHWC_TO_NCHW)]
    return model(nodes, [const("s", QS), const("z", QZ), const("s1", np.float32(0.05)), const("z1", np.uint8(128))],
                 [("x", [1, 3, 4, 5])], ["y"])


def qdq_ref(x, per_axis=True):
    s, z = (QS[None, :, None, None], QZ[None, :, None, None].astype(np.float32)) if per_axis else \
        (np.float32(0.05), np.float32(128))
    q = np.clip(np.round(x / s) + z, 0, 255)
    return ((q - z) * s).astype(np.float32)


W1 = rng.standard_normal((3, 3, 1, 1)).astype(np.float32)


def se_block():
    """A squeeze-and-excitation block on channels-last values: a mean over H and W, a 1x1 Conv
    between two Reshapes that move only axes of length 1 (what transpose-unit-reshape makes of a
    converter's Transposes there), a Sigmoid scaling the input. Everything moves: no Transpose or
    Reshape is left."""
    n = helper.make_node
    ints = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.int64), name)
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC),
             n("ReduceMean", ["a"], ["m"], axes=[1, 2], keepdims=1), n("Reshape", ["m", "to_nchw"], ["mc"]),
             n("Conv", ["mc", "w1"], ["c"]), n("Reshape", ["c", "to_nhwc"], ["cl"]), n("Sigmoid", ["cl"], ["s"]),
             n("Mul", ["a", "s"], ["ms"]), n("Transpose", ["ms"], ["y"], perm=NHWC_TO_NCHW)]
    return model(nodes, [const("w1", W1), ints("to_nchw", [1, 3, 1, 1]), ints("to_nhwc", [1, 1, 1, 3])],
                 [("x", [1, 3, 4, 5])], ["y"])


def se_ref(x):
    m = x.mean(axis=(2, 3))
    c = m @ W1[:, :, 0, 0].T
    return (x * (1 / (1 + np.exp(-c)))[:, :, None, None]).astype(np.float32)


def reduce_sum():
    """ReduceSum (axes as an input at opset 13) over the channels-last H and W, keeping them."""
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC), n("ReduceSum", ["a", "axes"], ["r"], keepdims=1),
             n("Transpose", ["r"], ["y"], perm=NHWC_TO_NCHW)]
    return model(nodes, [numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "axes")], [("x", [1, 3, 4, 5])],
                 ["y"])


def over_channels(op, **attrs):
    """A segmentation head's softmax or arg max over the channels-last axis, back to channels first."""
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC), n(op, ["a"], ["s"], **attrs),
             n("Transpose", ["s"], ["y"], perm=NHWC_TO_NCHW)]
    g = helper.make_graph(nodes, "pairs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT if op == "Softmax" else
                                                         TensorProto.INT64, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def softmax_ref(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def split_channels():
    """A channels-last Split of the channels into 1 and 2, a Relu and a Sigmoid on the parts,
    concatenated back: a channel split as ShuffleNet-style blocks write it."""
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC), n("Split", ["a", "sizes"], ["p0", "p1"], axis=3),
             n("Relu", ["p0"], ["r0"]), n("Sigmoid", ["p1"], ["r1"]), n("Concat", ["r1", "r0"], ["c"], axis=-1),
             n("Transpose", ["c"], ["y"], perm=NHWC_TO_NCHW)]
    return model(nodes, [numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "sizes")], [("x", [1, 3, 4, 5])],
                 ["y"])


def split_ref(x):
    return np.concatenate([1 / (1 + np.exp(-x[:, 1:])), np.maximum(x[:, :1], 0)], axis=1).astype(np.float32)


def resize_nhwc():
    """A nearest 2x upsampling written on channels-last values (scales [1, 2, 2, 1], an empty roi)."""
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC),
             n("Resize", ["a", "roi", "scales"], ["u"], mode="nearest"), n("Relu", ["u"], ["r"]),
             n("Transpose", ["r"], ["y"], perm=NHWC_TO_NCHW)]
    return model(nodes, [const("roi", np.zeros(0, dtype=np.float32)),
                         const("scales", np.array([1, 2, 2, 1], dtype=np.float32))], [("x", [1, 3, 4, 5])], ["y"])


def slice_nhwc(starts, ends, axes=None, steps=None, dtype=np.int64, dynamic_ends=False):
    """A channels-last Slice (a crop or a channel range) then a Relu: its axes are renumbered, or
    when it has none, an axes input is added (in the starts' type). With dynamic_ends its ends
    are a graph input, which the move leaves as it is."""
    n = helper.make_node
    names = ["a", "st", "ends" if dynamic_ends else "en", "ax" if axes is not None else "",
             "sp" if steps is not None else ""]
    while not names[-1]:
        names.pop()
    inits = [numpy_helper.from_array(np.array(v, dtype=dtype), nm)
             for nm, v in (("st", starts), ("en", ends), ("ax", axes), ("sp", steps))
             if v is not None and not (nm == "en" and dynamic_ends)]
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC), n("Slice", names, ["s"]), n("Relu", ["s"], ["r"]),
             n("Transpose", ["r"], ["y"], perm=NHWC_TO_NCHW)]
    g = helper.make_graph(nodes, "pairs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 5])] +
                          ([helper.make_tensor_value_info("ends", TensorProto.INT64, [len(ends)])]
                           if dynamic_ends else []),
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def gather_channels():
    """A channels-last Gather reordering the channels (indices [2, 0, 1]) then a Relu."""
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC), n("Gather", ["a", "ix"], ["g"], axis=-1),
             n("Relu", ["g"], ["r"]), n("Transpose", ["r"], ["y"], perm=NHWC_TO_NCHW)]
    return model(nodes, [numpy_helper.from_array(np.array([2, 0, 1], dtype=np.int64), "ix")], [("x", [1, 3, 4, 5])],
                 ["y"])


def foreign_reader():
    """The Relu's value is read by the Transpose back and by a Softmax over its last axis."""
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["a"], perm=NCHW_TO_NHWC), n("Add", ["a", "b"], ["ab"]), n("Relu", ["ab"], ["r"]),
             n("Transpose", ["r"], ["y"], perm=NHWC_TO_NCHW), n("Softmax", ["r"], ["z"], axis=-1)]
    return model(nodes, [const("b", B)], [("x", [1, 3, 4, 5])], ["y", "z"])


def resnet_nhwc():
    """A channels-last stem Conv and two residual blocks as a converter writes them (a Transpose on
    each side of every Conv), then a mean over H and W: the Transposes inside go, one stays at each
    end."""
    n, inits = [], []

    def conv(v, i):
        inits.extend([const(f"w{i}", rng.standard_normal((3, 3, 3, 3)).astype(np.float32) * 0.3),
                      const(f"b{i}", B)])
        n.extend([helper.make_node("Transpose", [v], [f"a{i}"], perm=NHWC_TO_NCHW),
                  helper.make_node("Conv", [f"a{i}", f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Transpose", [f"c{i}"], [f"d{i}"], perm=NCHW_TO_NHWC),
                  helper.make_node("Add", [f"d{i}", f"b{i}"], [f"e{i}"])])
        return f"e{i}"
    v = conv("x", 0)
    for blk in range(2):
        h = conv(v, 2 * blk + 1)
        n.append(helper.make_node("Relu", [h], [f"h{blk}"]))
        h = conv(f"h{blk}", 2 * blk + 2)
        n.extend([helper.make_node("Add", [h, v], [f"s{blk}"]), helper.make_node("Relu", [f"s{blk}"], [f"o{blk}"])])
        v = f"o{blk}"
    n.append(helper.make_node("ReduceMean", [v], ["y"], axes=[1, 2], keepdims=0))
    return model(n, inits, [("x", [1, 6, 6, 3])], ["y"])


def x_of(dims):
    return rng.standard_normal([2 if isinstance(d, str) else d for d in dims]).astype(np.float32)


def relu_bias_ref(x):
    return np.maximum(x + B[None, :, None, None], 0)


# (name, model, input dims, reference or None, ops expected after optimizing)
CASES = [
    ("bias-relu", bias_relu(), (1, 3, 4, 5), relu_bias_ref, ["Add", "Relu"]),
    ("symbolic-batch", sandwich([("Add", ["b"], {}), ("Relu", [], {})], [const("b", B)], dims=("n", 3, 4, 5)),
     ("n", 3, 4, 5), relu_bias_ref, ["Add", "Relu"]),
    ("many-ops", many_ops(), (1, 3, 4, 5), many_ops_ref, ["Mul", "Sub", "Clip", "PRelu", "LeakyRelu", "Div"]),
    ("conv-nhwc", conv_nhwc(), (1, 6, 6, 3), None, ["Transpose", "Conv", "Relu", "Conv", "Transpose", "Add", "Relu"]),
    # unchanged: the Add's value is a graph output too
    ("read-twice", sandwich([("Add", ["b"], {}), ("Relu", [], {})], [const("b", B)], extra_outs=["v0"]),
     (1, 3, 4, 5), None, ["Transpose", "Add", "Relu", "Transpose"]),
    # unchanged: the second Transpose does not undo the first
    ("not-inverse", sandwich([("Add", ["b"], {}), ("Relu", [], {})], [const("b", B)], close=NCHW_TO_NHWC),
     (1, 3, 4, 5), None, ["Transpose", "Add", "Relu", "Transpose"]),
    # a constant may broadcast the batch of 1 to 2: broadcasting commutes with the permutation too
    ("enlarging-constant", sandwich([("Add", ["b2"], {}), ("Relu", [], {})], [const("b2", B2)]),
     (1, 3, 4, 5), lambda x: np.maximum(x + B2.transpose(NHWC_TO_NCHW), 0), ["Add", "Relu"]),
    ("residual", residual(), (1, 3, 4, 5), None, ["Add", "Add", "Relu"]),
    ("residual-late-bias", residual_late_bias(), (1, 3, 4, 5), None, ["Add", "Add", "Relu"]),
    ("concat-channels", concat_channels(), (1, 3, 4, 5),
     lambda x: np.maximum(np.concatenate([x, C2.transpose(NHWC_TO_NCHW)], axis=1), 0), ["Concat", "Relu"]),
    ("pad-conv", pad_conv(), (1, 3, 4, 5), None, ["Add", "Relu", "Conv"]),
    ("qdq-per-axis", qdq_per_axis(), (1, 3, 4, 5), qdq_ref, ["QuantizeLinear", "DequantizeLinear"]),
    ("se-block", se_block(), (1, 3, 4, 5), se_ref, ["ReduceMean", "Conv", "Sigmoid", "Mul"]),
    ("split-channels", split_channels(), (1, 3, 4, 5), split_ref, ["Split", "Relu", "Sigmoid", "Concat"]),
    ("resize-nhwc", resize_nhwc(), (1, 3, 4, 5), lambda x: np.maximum(x.repeat(2, axis=2).repeat(2, axis=3), 0),
     ["Resize", "Relu"]),
    ("softmax-channels", over_channels("Softmax", axis=-1), (1, 3, 4, 5), softmax_ref, ["Softmax"]),
    ("argmax-channels", over_channels("ArgMax", axis=3), (1, 3, 4, 5),
     lambda x: x.argmax(axis=1)[:, None].astype(np.int64), ["ArgMax"]),
    ("reduce-sum", reduce_sum(), (1, 3, 4, 5), lambda x: x.sum(axis=(2, 3), keepdims=True), ["ReduceSum"]),
    ("qdq-per-tensor", qdq_per_axis(False), (1, 3, 4, 5), lambda x: qdq_ref(x, False),
     ["QuantizeLinear", "DequantizeLinear"]),
    ("slice-channels", slice_nhwc([1], [3], axes=[-1]), (1, 3, 4, 5), lambda x: np.maximum(x[:, 1:3], 0),
     ["Slice", "Relu"]),
    ("slice-no-axes", slice_nhwc([0, 1, 0, 1], [1, 4, 5, 3], dtype=np.int32), (1, 3, 4, 5),
     lambda x: np.maximum(x[:, 1:3, 1:4, :], 0), ["Slice", "Relu"]),
    ("slice-steps-no-axes", slice_nhwc([0, 3, 4], [1, 0, 0], steps=[1, -2, -1]), (1, 3, 4, 5),
     lambda x: np.maximum(x[:, :, 3:0:-2, 4:0:-1], 0), ["Slice", "Relu"]),
    ("slice-dynamic-ends", slice_nhwc([0, 1], [9, 9], axes=[2, 3], dynamic_ends=True), (1, 3, 4, 5),
     lambda x: np.maximum(x[:, 1:3, :, :3], 0), ["Slice", "Relu"]),
    ("gather-channels", gather_channels(), (1, 3, 4, 5), lambda x: np.maximum(x[:, [2, 0, 1]], 0),
     ["Gather", "Relu"]),
    ("foreign-reader", foreign_reader(), (1, 3, 4, 5), None, ["Add", "Relu", "Transpose", "Softmax"]),
    ("resnet-nhwc", resnet_nhwc(), (1, 6, 6, 3), None, ["Transpose"] + ["Conv"] * 5 + ["Relu", "Add", "Relu"] * 2 +
     ["Transpose", "ReduceMean"]),
    # unchanged: the Add's other operand is an input, not a constant
    ("input-operand", sandwich([("Add", ["z"], {}), ("Relu", [], {})], [], extra_ins=[("z", [1, 4, 5, 3])]),
     (1, 3, 4, 5), None, ["Transpose", "Add", "Relu", "Transpose"]),
]


EXTRA_INPUTS = {"slice-dynamic-ends": [("ends", np.array([3, 4], dtype=np.int64))]}   # W to 3, C to 4 (NHWC)


def case(gs, d, name, m, dims, ref, want):
    x = x_of(dims)
    outs = [("y", ref(x))] if ref else None
    ok = opcase.check(gs, d, name, m, [("x", x)] + EXTRA_INPUTS.get(name, []), outs, want, ordered=False)
    if ok and ref:   # the graph output keeps its name
        import onnx
        ok = [o.name for o in onnx.load(f"{d}/{name}-opt.onnx").graph.output][0] == "y"
        if not ok:
            print(f"FAIL {name}: the graph output lost its name")
    return ok


if __name__ == "__main__":
    sys.exit(opcase.main(CASES, case))
