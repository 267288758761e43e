#!/usr/bin/python3
"""The reference interpreter's QuantizeLinear, DequantizeLinear, NonZero,
TopK, NonMaxSuppression and RoiAlign kernels against numpy and ONNX Runtime,
and those of the ops ONNX Runtime's quantization writes (DynamicQuantizeLinear,
MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv).

Each case is a one-node model run by `graphsub run --data` on fixed inputs.
QuantizeLinear (per-tensor and per-axis, uint8 and int8, with and without a
zero point, at opsets 10 and 13) must round halves to even and saturate;
DequantizeLinear (int8 per-axis, uint8, int32) must give numpy's float32
arithmetic; NonZero numpy's order; TopK (largest and smallest, equal values
in the input, float and int64) equal values in the order of their indices;
GatherND (negative indices, batch_dims 1) numpy's indexing; a Concat of 90
inputs runs; DynamicQuantizeLinear (a range across 0, one all below 0, all
zeros: scale 1) quantizes with ONNX Runtime's float32 formula; MatMulInteger
(uint8 by int8, batched with broadcasting, a 1-D operand, zero points per
tensor, per row of a and per column of b as vectors and with the batch dims,
4096 products to a sum, sums that wrap round int32 as its accumulator does);
ConvInteger (pads, strides, dilations, groups, SAME_UPPER, 1-D, 3-D, 1x1,
1600 products of 255 * 255 to a sum, a zero point per output channel of
int8 weights); QLinearMatMul (uint8, int8, uint8 to int8, scales and zero
points per row of a and per column of b, batched, outputs that saturate)
rounding the int32 sum times the float32 multiplier in float64 as ONNX's
reference does; QLinearConv (uint8, int8 with a scale per output channel
and groups, zero points per output channel, 1x1, SAME_LOWER in 1-D, a
bias, a product a hair beyond a half in float64 that is a half in float32):
all of these exactly as numpy computes them. When onnxruntime-node is
installed in bench/ (npm install --ignore-scripts), every case, and the
NonMaxSuppression (corner and centre boxes, thresholds, two batches and
classes; no output limit) and RoiAlign (opset 10; opset 16 half_pixel; max mode) cases,
must match ONNX Runtime: exactly for integer outputs, within 1e-5 for float
(but for the cases of NUMPY_ONLY, where ONNX Runtime refuses or differs).
Inputs that do not fit an integer product (a zero point or scale of the
wrong shape or type, an operand of another type; but an empty product runs)
are refused with exit 3 and a message naming the input.
A roi of NaN coordinates gives zeros (fixed sampling ratio) or is refused
(adaptive sampling). And a DequantizeLinear of a constant int8 weight must stay in the optimized
model while a QuantizeLinear of a constant float weight folds.

usage: kernels_detect_quant.py GRAPHSUB"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from opcase import run_interp, run_kernels_ort

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "..", "..", "bench")
N = helper.make_node
bad = 0


def check(ok, what):
    global bad
    print(("ok    " if ok else "FAIL  ") + what)
    bad += not ok


def model(node, inputs, outputs, opset, inits=()):
    """A one-node model; inputs and outputs are (name, numpy dtype) pairs, shapes left open."""
    def vi(name, t):
        return helper.make_tensor_value_info(name, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype(t)], None)
    g = helper.make_graph([node], "k", [vi(n, t) for n, t in inputs], [vi(n, t) for n, t in outputs],
                          [numpy_helper.from_array(v, k) for k, v in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def quant(x, s, z, lo, hi):
    return np.clip(np.rint(x.astype(np.float32) / s.astype(np.float32)) + z, lo, hi)


# Cases ONNX Runtime refuses, or gets wrong: its MatMulInteger takes one zero point for a, its
# ConvInteger uint8 only and one zero point for w, its QLinearMatMul one scale and zero point for a
# and no uint8 input to an int8 output, and it rounds the QLinear ops' product of the sum and the
# multiplier in float32 where ONNX's reference and graphsub do in float64; on x86
# without VNNI its uint8-by-int8 kernel adds pairs of products in saturating 16 bits (pmaddubsw), so
# products of a's values above 127 saturate (the uint8-by-int8 cases it runs keep a below 128).
NUMPY_ONLY = {"matmulinteger-a-per-row", "matmulinteger-a-per-row-batched", "matmulinteger-uint8-int8",
              "convinteger-int8-per-channel", "qlinearmatmul-a-per-row", "qlinearmatmul-uint8-to-int8",
              "qlinearconv-rounding"}


def mmint(a, b, az=0, bz=0):
    """MatMulInteger in int32 arithmetic (numpy's matmul wraps round as an int32 accumulator)."""
    return np.matmul(a.astype(np.int32) - np.int32(az), b.astype(np.int32) - np.int32(bz))


def conv_int(x, w, xz=0, wz=0, b=None, pads=None, strides=None, dilations=None, group=1, auto_pad=None):
    """Conv of (x - xz) by (w - wz) in int64 with zero padding, wrapped to int32 (ConvInteger and the
    accumulator of QLinearConv); wz broadcasts against w."""
    x = x.astype(np.int64) - np.int64(xz) if np.ndim(xz) == 0 else x.astype(np.int64) - xz
    w = w.astype(np.int64) - (wz.astype(np.int64).reshape((-1,) + (1,) * (w.ndim - 1)) if np.ndim(wz) else wz)
    nd, sp, ks = x.ndim - 2, x.shape[2:], w.shape[2:]
    strides, dilations = strides or [1] * nd, dilations or [1] * nd
    ek = [(k - 1) * d + 1 for k, d in zip(ks, dilations)]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        total = [max(0, (-(-i // s) - 1) * s + e - i) for i, s, e in zip(sp, strides, ek)]
        first = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in total]
        pads = first + [t - f for t, f in zip(total, first)]
    pads = pads or [0] * 2 * nd
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)])
    outs = [(i + pads[d] + pads[d + nd] - e) // s + 1 for d, (i, s, e) in enumerate(zip(sp, strides, ek))]
    M, cg = w.shape[0], x.shape[1] // group
    mg = M // group
    y = np.zeros((x.shape[0], M, *outs), np.int64)
    for idx in np.ndindex(*ks):
        sl = tuple(slice(k * d, k * d + (o - 1) * s + 1, s) for k, d, o, s in zip(idx, dilations, outs, strides))
        patch = xp[(slice(None), slice(None)) + sl]
        for g in range(group):
            y[:, g * mg:(g + 1) * mg] += np.einsum("mc,nc...->nm...", w[(slice(g * mg, (g + 1) * mg), slice(None)) + idx],
                                                    patch[:, g * cg:(g + 1) * cg])
    if b is not None:
        y += b.astype(np.int64).reshape((1, -1) + (1,) * nd)
    return y.astype(np.int32)


def requant(acc, mult, yz):
    """The QLinear ops' output from the int32 sums: acc * mult (float32) in float64, + y's zero point,
    rounded half to even and saturated to y_zero_point's type."""
    info = np.iinfo(yz.dtype)
    return np.clip(np.rint(acc.astype(np.int32) * mult + yz.astype(np.float64)), info.min, info.max).astype(yz.dtype)


def dynquant(x):
    """DynamicQuantizeLinear as ONNX Runtime computes it, in float32."""
    lo, hi = np.float32(min(0, x.min())), np.float32(max(0, x.max()))
    s = np.float32(1) if hi == lo else (hi - lo) / np.float32(255)
    z = np.rint(np.clip(np.float32(0) - lo / s, 0, 255))
    return [np.clip(np.rint(x / s) + z, 0, 255).astype(np.uint8), np.array(s, np.float32), np.array(z, np.uint8)]


def topk(x, k, axis, largest):
    order = np.argsort(-x if largest else x, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return np.take_along_axis(x, idx, axis=axis), idx


def cases():
    """(name, model, feeds, numpy's outputs or None)."""
    rng = np.random.default_rng(0)
    out = []
    # QuantizeLinear: halves (x / s = +-0.5, 1.5, 2.5) round to even; beyond the range saturates
    x = np.array([1, 3, 5, -1, -3, 0.2, 1e4, -1e4, 254.9, -7.7], np.float32)
    s, z = np.array(2, np.float32), np.array(128, np.uint8)
    out.append(("quantize-uint8", model(N("QuantizeLinear", ["x", "s", "z"], ["y"]),
                                        [("x", np.float32), ("s", np.float32), ("z", np.uint8)], [("y", np.uint8)], 13),
                {"x": x, "s": s, "z": z}, [quant(x, s, 128, 0, 255).astype(np.uint8)]))
    out.append(("quantize-no-zero-point-opset10", model(N("QuantizeLinear", ["x", "s"], ["y"]),
                                                        [("x", np.float32), ("s", np.float32)], [("y", np.uint8)], 10),
                {"x": x, "s": s}, [quant(x, s, 0, 0, 255).astype(np.uint8)]))
    x4 = (rng.standard_normal((2, 3, 4)) * 40).astype(np.float32)
    x4[0, 0, :2] = [0.5 * 0.25, 1.5 * 0.25]   # halves on channel 0
    s3, z3 = np.array([0.25, 0.5, 1.0], np.float32), np.array([-3, 0, 7], np.int8)
    out.append(("quantize-int8-per-axis", model(N("QuantizeLinear", ["x", "s", "z"], ["y"], axis=1),
                                                [("x", np.float32), ("s", np.float32), ("z", np.int8)],
                                                [("y", np.int8)], 13),
                {"x": x4, "s": s3, "z": z3},
                [quant(x4, s3[None, :, None], z3[None, :, None].astype(np.float32), -128, 127).astype(np.int8)]))
    q = rng.integers(-128, 128, (3, 5)).astype(np.int8)
    sd, zd = np.array([0.1, 0.02, 3.0], np.float32), np.array([1, -5, 0], np.int8)
    out.append(("dequantize-int8-per-axis", model(N("DequantizeLinear", ["q", "s", "z"], ["y"], axis=0),
                                                  [("q", np.int8), ("s", np.float32), ("z", np.int8)],
                                                  [("y", np.float32)], 13),
                {"q": q, "s": sd, "z": zd},
                [(q.astype(np.int32) - zd[:, None]).astype(np.float32) * sd[:, None]]))
    qu = rng.integers(0, 256, (4, 3)).astype(np.uint8)
    out.append(("dequantize-uint8", model(N("DequantizeLinear", ["q", "s", "z"], ["y"]),
                                          [("q", np.uint8), ("s", np.float32), ("z", np.uint8)],
                                          [("y", np.float32)], 13),
                {"q": qu, "s": np.array(0.05, np.float32), "z": np.array(120, np.uint8)},
                [(qu.astype(np.int32) - 120).astype(np.float32) * np.float32(0.05)]))
    qi = rng.integers(-100000, 100000, (6,)).astype(np.int32)
    out.append(("dequantize-int32", model(N("DequantizeLinear", ["q", "s"], ["y"]),
                                          [("q", np.int32), ("s", np.float32)], [("y", np.float32)], 13),
                {"q": qi, "s": np.array(0.001, np.float32)}, [qi.astype(np.float32) * np.float32(0.001)]))
    # DynamicQuantizeLinear
    for name, xd in (("across-0", (rng.standard_normal((3, 5, 4)) * 3).astype(np.float32)),
                     ("negative", -rng.random((7,)).astype(np.float32) - 0.5),
                     ("zeros", np.zeros((2, 3), np.float32))):
        out.append((f"dynquant-{name}", model(N("DynamicQuantizeLinear", ["x"], ["y", "s", "z"]), [("x", np.float32)],
                                               [("y", np.uint8), ("s", np.float32), ("z", np.uint8)], 11),
                    {"x": xd}, dynquant(xd)))
    # MatMulInteger: (name, a, b, a's zero point or None, b's, the zero points as numpy broadcasts them)
    u8 = lambda *s: rng.integers(0, 256, s).astype(np.uint8)
    u7 = lambda *s: rng.integers(0, 128, s).astype(np.uint8)
    i8 = lambda *s: rng.integers(-128, 128, s).astype(np.int8)
    zr, zc = u8(4), i8(6)
    zrb, zcb = u8(2, 4, 1), i8(3, 1, 6)
    for name, a, b, az, bz, azb, bzb in (
            ("matmulinteger-uint8-int8", u8(4, 5), i8(5, 6), np.array(131, np.uint8), np.array([-3], np.int8), 131, -3),
            ("matmulinteger-uint7-int8", u7(4, 5), i8(5, 6), np.array(100, np.uint8), np.array(-3, np.int8), 100, -3),
            ("matmulinteger-b-per-column", u7(2, 4, 5), i8(5, 6), np.array([9], np.uint8), zc, 9, zc),
            ("matmulinteger-b-per-column-batched", i8(4, 5), i8(3, 5, 6), None, zcb, 0, zcb),
            ("matmulinteger-broadcast", u8(3, 1, 4, 5), u8(2, 5, 6), None, None, 0, 0),
            ("matmulinteger-1d", u8(5), u8(5, 6), np.array(7, np.uint8), None, 7, 0),
            ("matmulinteger-a-per-row", u8(4, 5), u8(5, 6), zr, np.array(2, np.uint8), zr[:, None], 2),
            ("matmulinteger-a-per-row-batched", u8(2, 4, 5), i8(5, 6), zrb, None, zrb, 0),
            ("matmulinteger-4096", u7(2, 4096), i8(4096, 3), np.array(0, np.uint8), None, 0, 0),
            ("matmulinteger-wraps", np.full((1, 70000), 255, np.uint8), np.full((70000, 2), 255, np.uint8), None, None,
             0, 0)):
        names = ["A", "B", "az" if az is not None else "", "bz" if bz is not None else ""]
        while names[-1] == "":
            names.pop()
        feeds = {"A": a, "B": b, **({"az": az} if az is not None else {}), **({"bz": bz} if bz is not None else {})}
        out.append((name, model(N("MatMulInteger", names, ["y"]), [(k, v.dtype) for k, v in feeds.items()],
                                [("y", np.int32)], 10), feeds, [mmint(a, b, azb, bzb)]))
    # ConvInteger: (name, x, w, x's zero point or None, w's, attributes)
    xz = np.array(128, np.uint8)
    for name, x, w, z, wz, attrs in (
            ("convinteger-pads-strides", u8(1, 3, 7, 6), u8(4, 3, 3, 3), xz, np.array(3, np.uint8),
             dict(pads=[1, 0, 2, 1], strides=[2, 1])),
            ("convinteger-groups-dilations", u8(2, 4, 9, 9), u8(6, 2, 3, 3), None, None,
             dict(group=2, dilations=[2, 2])),
            ("convinteger-same-upper-1d", u8(1, 2, 10), u8(3, 2, 4), xz, None, dict(auto_pad="SAME_UPPER", strides=[3])),
            ("convinteger-1x1", u8(1, 8, 4, 4), u8(5, 8, 1, 1), np.array([17], np.uint8), None, {}),
            ("convinteger-3d", u8(1, 2, 4, 5, 6), u8(2, 2, 2, 3, 2), xz, np.array(200, np.uint8),
             dict(pads=[1, 0, 1, 0, 1, 1])),
            ("convinteger-1600-products", np.full((1, 64, 8, 8), 255, np.uint8), np.full((2, 64, 5, 5), 255, np.uint8),
             None, None, {}),
            ("convinteger-int8-per-channel", i8(1, 2, 5, 5), i8(3, 2, 2, 2), np.array(-7, np.int8), i8(3),
             dict(pads=[1, 1, 1, 1]))):
        names = ["x", "w", "xz" if z is not None else "", "wz" if wz is not None else ""]
        while names[-1] == "":
            names.pop()
        feeds = {"x": x, "w": w, **({"xz": z} if z is not None else {}), **({"wz": wz} if wz is not None else {})}
        want = conv_int(x, w, 0 if z is None else z, 0 if wz is None else wz, **attrs)
        out.append((name, model(N("ConvInteger", names, ["y"], **attrs), [(k, v.dtype) for k, v in feeds.items()],
                                [("y", np.int32)], 10), feeds, [want]))
    # QLinearMatMul: (name, a, its scale, zero point, b, its, y's zero point, the scales and zero points as
    # numpy broadcasts them)
    f32 = lambda *v: np.array(v, np.float32)
    ys = f32(0.06)
    sc, sr, scb = (rng.random(6) * 0.04 + 0.01).astype(np.float32), f32(0.01, 0.02, 0.03, 0.05), \
        (rng.random((3, 1, 6)) * 0.04 + 0.01).astype(np.float32)
    for name, a, asc, az, b, bsc, bz, yz, asb, azb, bsb, bzb in (
            ("qlinearmatmul-uint8", u8(3, 4, 5), f32(0.02), np.array(120, np.uint8), u8(5, 6), f32(0.03),
             np.array(131, np.uint8), np.array(100, np.uint8), 0.02, 120, 0.03, 131),
            ("qlinearmatmul-int8", i8(4, 5), f32(0.02), np.array(-5, np.int8), i8(2, 5, 6), f32(0.03),
             np.array(3, np.int8), np.array(10, np.int8), 0.02, -5, 0.03, 3),
            ("qlinearmatmul-b-per-column", u8(2, 4, 5), f32(0.02), np.array(128, np.uint8), u8(5, 6), sc,
             zcu := u8(6), np.array(128, np.uint8), 0.02, 128, sc, zcu),
            ("qlinearmatmul-b-per-column-batched", u8(4, 5), f32(0.02), np.array(128, np.uint8), u8(3, 5, 6), scb,
             zcbu := u8(3, 1, 6), np.array(7, np.uint8), 0.02, 128, scb, zcbu),
            ("qlinearmatmul-a-per-row", u8(4, 5), sr, zru := u8(4), u8(5, 6), f32(0.03), np.array(9, np.uint8),
             np.array(128, np.uint8), sr[:, None], zru[:, None], 0.03, 9),
            ("qlinearmatmul-uint8-to-int8", u8(4, 5), f32(0.02), np.array(128, np.uint8), u8(5, 3), f32(0.03),
             np.array(128, np.uint8), np.array(0, np.int8), 0.02, 128, 0.03, 128)):
        feeds = {"a": a, "as": asc, "az": az, "b": b, "bs": bsc, "bz": bz, "ys": ys, "yz": yz}
        mult = np.float32(asb) * np.float32(bsb) / ys[0] if np.ndim(asb) + np.ndim(bsb) == 0 else \
            np.asarray(asb, np.float32) * np.asarray(bsb, np.float32) / ys[0]
        want = requant(mmint(a, b, azb, bzb), mult, yz)
        out.append((name, model(N("QLinearMatMul", list(feeds), ["y"]), [(k, v.dtype) for k, v in feeds.items()],
                                [("y", yz.dtype)], 10), feeds, [want]))
    # QLinearConv: (name, x, its scale, zero point, w, its, y's zero point, bias or None, attributes)
    for name, x, xs, xzq, w, ws, wz, yz, bias, attrs in (
            ("qlinearconv-uint8", u8(1, 3, 7, 6), f32(0.02), np.array(120, np.uint8), u8(4, 3, 3, 3), f32(0.01),
             np.array(131, np.uint8), np.array(100, np.uint8), rng.integers(-2000, 2000, 4).astype(np.int32),
             dict(pads=[1, 1, 0, 2], strides=[2, 1])),
            ("qlinearconv-int8-per-channel", i8(2, 4, 6, 6), f32(0.03), np.array(2, np.int8), i8(6, 2, 3, 3),
             (rng.random(6) * 0.02 + 0.002).astype(np.float32), np.zeros(6, np.int8), np.array(-3, np.int8), None,
             dict(group=2, dilations=[1, 2], pads=[1, 2, 1, 2])),
            ("qlinearconv-w-zp-per-channel", u8(1, 2, 5, 5), f32(0.02), np.array(128, np.uint8), u8(3, 2, 2, 2),
             f32(0.01, 0.02, 0.015), u8(3), np.array(128, np.uint8), None, {}),
            ("qlinearconv-1x1", u7(1, 8, 4, 4), f32(0.0517), np.array(64, np.uint8), i8(5, 8, 1, 1), f32(0.0093),
             np.array(0, np.int8), np.array(128, np.uint8), rng.integers(-500, 500, 5).astype(np.int32), {}),
            # a sum of -60 times the float32 multiplier 0.05 * 0.01 / 0.06: -0.50000003 in float64, so -1 as
            # ONNX's reference rounds it (ONNX Runtime's float32 product is -0.5 exactly, so 0)
            ("qlinearconv-rounding", np.array(68, np.uint8).reshape(1, 1, 1, 1), f32(0.05), np.array(128, np.uint8),
             np.ones((1, 1, 1, 1), np.int8), f32(0.01), np.array(0, np.int8), np.array(128, np.uint8), None, {}),
            ("qlinearconv-same-lower-1d", u8(1, 2, 11), f32(0.02), np.array(128, np.uint8), u8(3, 2, 3), f32(0.03),
             np.array(128, np.uint8), np.array(128, np.uint8), None, dict(auto_pad="SAME_LOWER", strides=[2]))):
        feeds = {"x": x, "xs": xs, "xz": xzq, "w": w, "ws": ws, "wz": wz, "ys": ys, "yz": yz,
                 **({"B": bias} if bias is not None else {})}
        mult = (xs * ws / ys[0]).astype(np.float32).reshape((1, -1) + (1,) * (x.ndim - 2))
        want = requant(conv_int(x, w, xzq, wz, bias, **attrs), mult, yz)
        assert name != "qlinearconv-rounding" or want.item() == 127
        out.append((name, model(N("QLinearConv", list(feeds), ["y"], **attrs), [(k, v.dtype) for k, v in feeds.items()],
                                [("y", yz.dtype)], 10), feeds, [want]))
    # NonZero
    nz = (rng.standard_normal((2, 3, 4)) * (rng.random((2, 3, 4)) > 0.5)).astype(np.float32)
    out.append(("nonzero", model(N("NonZero", ["x"], ["y"]), [("x", np.float32)], [("y", np.int64)], 13),
                {"x": nz}, [np.array(np.nonzero(nz), np.int64)]))
    out.append(("nonzero-scalar", model(N("NonZero", ["x"], ["y"]), [("x", np.float32)], [("y", np.int64)], 13),
                {"x": np.array(3, np.float32)}, [np.zeros((1, 1), np.int64)]))   # as ONNX Runtime: [1, 1]
    # TopK: values repeat, so the order of equal ones shows
    tx = rng.integers(0, 5, (3, 8, 2)).astype(np.float32)
    for largest in (1, 0):
        v, i = topk(tx, 5, 1, largest)
        out.append((f"topk-{'largest' if largest else 'smallest'}",
                    model(N("TopK", ["x", "k"], ["v", "i"], axis=1, largest=largest),
                          [("x", np.float32), ("k", np.int64)], [("v", np.float32), ("i", np.int64)], 11),
                    {"x": tx, "k": np.array([5], np.int64)}, [v, i]))
    ti = rng.integers(-3, 3, (4, 6)).astype(np.int64)
    v, i = topk(ti, 4, -1, 1)
    out.append(("topk-int64", model(N("TopK", ["x", "k"], ["v", "i"]), [("x", np.int64), ("k", np.int64)],
                                    [("v", np.int64), ("i", np.int64)], 11),
                {"x": ti, "k": np.array([4], np.int64)}, [v, i]))
    # GatherND: whole rows and single elements, negative indices, batch_dims 1
    gx = rng.standard_normal((3, 4, 5)).astype(np.float32)
    gi = np.array([[0, 1], [2, -1], [-3, 3]], np.int64)
    out.append(("gathernd", model(N("GatherND", ["x", "i"], ["y"]), [("x", np.float32), ("i", np.int64)],
                                  [("y", np.float32)], 13),
                {"x": gx, "i": gi}, [np.stack([gx[0, 1], gx[2, -1], gx[-3, 3]])]))
    gb = np.array([[[1], [3]], [[0], [0]], [[-1], [2]]], np.int64)
    out.append(("gathernd-batch", model(N("GatherND", ["x", "i"], ["y"], batch_dims=1),
                                        [("x", np.float32), ("i", np.int64)], [("y", np.float32)], 13),
                {"x": gx, "i": gb}, [np.stack([gx[b][gb[b, :, 0]] for b in range(3)])]))
    # a Concat of 90 inputs (SSDlite's class scores): more operands than the interpreter's fixed list
    parts = {f"p{j}": rng.standard_normal((1, 2)).astype(np.float32) for j in range(90)}
    out.append(("concat-90", model(N("Concat", list(parts), ["y"], axis=0), [(k, np.float32) for k in parts],
                                   [("y", np.float32)], 13), parts, [np.concatenate(list(parts.values()))]))
    # NonMaxSuppression: clustered boxes so some overlap
    centers = rng.random((2, 1, 12, 2)).astype(np.float32) * 2
    corners = np.concatenate([centers, centers + 1 + rng.random((2, 1, 12, 2)).astype(np.float32)], -1)[:, 0]
    scores = rng.random((2, 3, 12)).astype(np.float32)
    out.append(("nms-no-limit", model(N("NonMaxSuppression", ["b", "s", "m", "iou"], ["y"]),
                                      [("b", np.float32), ("s", np.float32), ("m", np.int64), ("iou", np.float32)],
                                      [("y", np.int64)], 11),
                {"b": corners, "s": scores, "m": np.array([2 ** 40], np.int64),
                 "iou": np.array([0.5], np.float32)}, None))
    for cpb in (0, 1):
        out.append((f"nms-center{cpb}", model(N("NonMaxSuppression", ["b", "s", "m", "iou", "st"], ["y"],
                                                center_point_box=cpb),
                                              [("b", np.float32), ("s", np.float32), ("m", np.int64),
                                               ("iou", np.float32), ("st", np.float32)], [("y", np.int64)], 11),
                    {"b": corners, "s": scores, "m": np.array([6], np.int64), "iou": np.array([0.3], np.float32),
                     "st": np.array([0.2], np.float32)}, None))
    # RoiAlign
    fx = rng.standard_normal((2, 3, 10, 12)).astype(np.float32)
    rois = np.array([[0, 0, 9, 7], [2.5, 1.2, 11.7, 9.9], [-2, -1, 3, 4], [4, 4, 4.3, 4.2], [1, 2, 30, 30]],
                    np.float32)
    bi = np.array([0, 1, 1, 0, 1], np.int64)
    for name, opset, attrs in (("roialign-opset10", 10, dict(sampling_ratio=2, spatial_scale=0.5)),
                               ("roialign-half-pixel", 16, dict(sampling_ratio=0, spatial_scale=0.8)),
                               ("roialign-max", 16, dict(mode="max", sampling_ratio=2,
                                                         coordinate_transformation_mode="output_half_pixel"))):
        out.append((name, model(N("RoiAlign", ["x", "r", "i"], ["y"], output_height=3, output_width=4, **attrs),
                                [("x", np.float32), ("r", np.float32), ("i", np.int64)], [("y", np.float32)], opset),
                    {"x": fx, "r": rois, "i": bi}, None))
    return out


def same(got, want):
    if got.shape != want.shape:
        return False
    if np.issubdtype(want.dtype, np.floating):
        return bool(np.allclose(got, want, rtol=0, atol=1e-5))
    return bool(np.array_equal(got, want))


def fold_check(gs, tmp):
    """Q of a float weight folds to an integer initializer; DQ of an int8 weight stays."""
    w = np.array([[0.3, -0.2], [0.1, 0.05]], np.float32)
    nodes = [N("QuantizeLinear", ["w", "s", "z"], ["wq"]), N("DequantizeLinear", ["wq", "s", "z"], ["wd"]),
             N("DequantizeLinear", ["v", "s", "z"], ["vd"]), N("MatMul", ["x", "wd"], ["a"]),
             N("MatMul", ["a", "vd"], ["y"])]
    vi = helper.make_tensor_value_info
    g = helper.make_graph(nodes, "f", [vi("x", TensorProto.FLOAT, [1, 2])], [vi("y", TensorProto.FLOAT, [1, 2])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array(0.01, np.float32), "s"),
                           numpy_helper.from_array(np.array(0, np.int8), "z"),
                           numpy_helper.from_array(np.array([[5, -3], [2, 9]], np.int8), "v")])
    src, dst = os.path.join(tmp, "fold.onnx"), os.path.join(tmp, "fold.opt.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), src)
    r = subprocess.run([gs, "optimize", src, "-o", dst, "--verify", "--quiet"], capture_output=True, text=True)
    ops = [n.op_type for n in onnx.load(dst).graph.node] if r.returncode == 0 else r.stderr.strip()
    check(isinstance(ops, list) and "QuantizeLinear" not in ops and ops.count("DequantizeLinear") == 2,
          f"a QuantizeLinear of a weight folds, both DequantizeLinears of int8 weights stay, --verify passes: {ops}")


def nan_roi_check(gs, tmp):
    """A roi of NaN coordinates samples nothing (zeros), with a fixed sampling ratio or an adaptive one:
    no undefined conversion of NaN to an integer; adaptive sampling of a roi of 1e30 pixels is refused
    as not supported instead of allocating its samples."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    for ratio, first, refused in ((2, [np.nan, 0, 3, 3], False), (0, [np.nan, 0, 3, 3], False),
                                  (0, [0, 0, 1e30, 1e30], True)):
        feeds = {"x": x, "r": np.array([first, [1, 1, 4, 4]], np.float32), "i": np.array([0, 0], np.int64)}
        m = model(N("RoiAlign", ["x", "r", "i"], ["y"], output_height=2, output_width=2, sampling_ratio=ratio),
                  [("x", np.float32), ("r", np.float32), ("i", np.int64)], [("y", np.float32)], 10)
        name = f"roialign-{'huge' if refused else 'nan'}-{ratio}"
        _, got = run_interp(gs, tmp, name, m, feeds)
        ok = (isinstance(got, str) and "exit 3" in got and "not supported" in got) if refused else \
            (not isinstance(got, str) and not got[0][0].any() and got[0][1].any())
        check(ok, f"{name}: " + ("refused as not supported" if refused else "zeros for the NaN roi") +
              ("" if ok else f": {got}"))


def refusal_check(gs, tmp):
    """Integer products given inputs that do not fit: exit 3 naming the problem, never a crash; an empty
    product runs (zeros where the sum is empty)."""
    rng = np.random.default_rng(2)
    u8 = lambda *s: rng.integers(0, 256, s).astype(np.uint8)
    cases = [
        ("mmint-zp-shape", N("MatMulInteger", ["A", "B", "az"], ["y"]), {"A": u8(4, 5), "B": u8(5, 6), "az": u8(5)},
         "a_zero_point is not one value or one per row"),
        ("mmint-zp-batched-shape", N("MatMulInteger", ["A", "B", "", "bz"], ["y"]),
         {"A": u8(4, 5), "B": u8(5, 6), "bz": u8(2, 1, 6)}, "b_zero_point is not one value or one per column"),
        ("mmint-zp-type", N("MatMulInteger", ["A", "B", "az"], ["y"]),
         {"A": u8(4, 5), "B": u8(5, 6), "az": np.array([1], np.int8)}, "a_zero_point and a differ in type"),
        ("mmint-float", N("MatMulInteger", ["A", "B"], ["y"]), {"A": np.ones((4, 5), np.float32), "B": u8(5, 6)},
         "a is not int8 or uint8"),
        ("mmint-inner", N("MatMulInteger", ["A", "B"], ["y"]), {"A": u8(4, 5), "B": u8(4, 6)}, "inner dimensions differ"),
        ("mmint-empty", N("MatMulInteger", ["A", "B", "az", "bz"], ["y"]),
         {"A": u8(3, 0), "B": u8(0, 6), "az": u8(3), "bz": u8(6)}, np.zeros((3, 6), np.int32)),
        ("convint-w-zp-shape", N("ConvInteger", ["x", "w", "", "wz"], ["y"]),
         {"x": u8(1, 2, 5, 5), "w": u8(3, 2, 2, 2), "wz": u8(2)}, "w_zero_point is not one value or one per output channel"),
        ("convint-x-zp-shape", N("ConvInteger", ["x", "w", "xz"], ["y"]),
         {"x": u8(1, 2, 5, 5), "w": u8(3, 2, 2, 2), "xz": u8(2)}, "x_zero_point is not one value"),
        ("convint-groups", N("ConvInteger", ["x", "w"], ["y"], group=3), {"x": u8(1, 4, 5, 5), "w": u8(3, 2, 2, 2)},
         "channels do not fit the weight and the groups"),
        ("convint-kernel", N("ConvInteger", ["x", "w"], ["y"]), {"x": u8(1, 2, 3, 3), "w": u8(3, 2, 4, 2)},
         "kernel larger than the padded input"),
        ("convint-no-batch", N("ConvInteger", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
         {"x": u8(0, 2, 3, 3), "w": u8(3, 2, 2, 2)}, np.zeros((0, 3, 4, 4), np.int32)),
    ]
    one, f1 = np.array(128, np.uint8), np.array(0.5, np.float32)
    qmm = lambda **kw: {"a": u8(4, 5), "as": f1, "az": one, "b": u8(5, 6), "bs": f1, "bz": one, "ys": f1, "yz": one, **kw}
    cases += [
        ("qlmm-y-zp-shape", N("QLinearMatMul", list(qmm()), ["y"]), qmm(yz=u8(2)),
         "y_zero_point is not one int8 or uint8 value"),
        ("qlmm-a-scale-shape", N("QLinearMatMul", list(qmm()), ["y"]), qmm(**{"as": np.ones(5, np.float32)}),
         "a_scale is not one value or one per row"),
        ("qlmm-b-scale-type", N("QLinearMatMul", list(qmm()), ["y"]), qmm(bs=np.array(1, np.int32)),
         "b_scale is not float"),
        ("qlmm-empty", N("QLinearMatMul", list(qmm()), ["y"]), qmm(a=u8(4, 0), b=u8(0, 6)), np.full((4, 6), 128, np.uint8)),
    ]
    qconv = lambda **kw: {"x": u8(1, 2, 5, 5), "xs": f1, "xz": one, "w": u8(3, 2, 2, 2), "ws": f1, "wz": one, "ys": f1,
                          "yz": one, **kw}
    qc = lambda feeds, **attrs: N("QLinearConv", list(feeds), ["y"], **attrs)
    cases += [
        ("qlconv-x-scale-shape", qc(qconv()), qconv(xs=np.ones(2, np.float32)), "x_scale is not one value"),
        ("qlconv-w-scale-shape", qc(qconv()), qconv(ws=np.ones(2, np.float32)),
         "w_scale is not one value or one per output channel"),
        ("qlconv-bias-type", qc(qconv(B=0)), qconv(B=np.ones(3, np.float32)), "B is not int32"),
        ("qlconv-bias-shape", qc(qconv(B=0)), qconv(B=np.ones(2, np.int32)), "bias must have one value per output channel"),
        ("qlconv-group-0", qc(qconv(), group=0), qconv(), "channels do not fit the weight and the groups"),
    ]
    for name, node, feeds, want in cases:
        out_t = np.uint8 if node.op_type.startswith("QLinear") else np.int32   # the QLinear ones: y_zero_point's
        m = model(node, [(k, v.dtype) for k, v in feeds.items()], [("y", out_t)], 10)
        _, got = run_interp(gs, tmp, name, m, feeds)
        if isinstance(want, str):
            ok = isinstance(got, str) and got.startswith("exit 3") and want in got
        else:
            ok = not isinstance(got, str) and same(got[0], want)
        check(ok, f"{name}: " + (f"refused: {want}" if isinstance(want, str) else "runs") + ("" if ok else f": {got}"))


def main():
    gs = sys.argv[1]
    ort = shutil.which("node") and os.path.isdir(os.path.join(BENCH, "node_modules", "onnxruntime-node"))
    if not ort:
        print("skip  ONNX Runtime comparisons (no bench/node_modules/onnxruntime-node)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, m, feeds, want in cases():
            path, got = run_interp(gs, tmp, name, m, feeds)
            if isinstance(got, str):
                check(False, f"{name}: graphsub run: {got}")
                continue
            if want is not None:
                check(all(same(g, w) for g, w in zip(got, want)),
                      f"{name}: as numpy computes it" + ("" if all(same(g, w) for g, w in zip(got, want))
                                                         else f": got {got}, want {want}"))
            if ort and name not in NUMPY_ONLY:
                res = run_kernels_ort(path, feeds)
                ok = isinstance(res, dict) and all(
                    same(g, np.array(res[o.name]["data"], g.dtype).reshape(res[o.name]["dims"]))
                    for g, o in zip(got, m.graph.output))
                check(ok, f"{name}: as ONNX Runtime computes it" + ("" if ok else f": got {got}, ORT {res}"))
        fold_check(gs, tmp)
        nan_roi_check(gs, tmp)
        refusal_check(gs, tmp)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
