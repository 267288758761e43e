#!/usr/bin/python3
"""The reference interpreter's Hardmax, LRN, LpNormalization,
MeanVarianceNormalization and Shrink kernels where ONNX's node tests do not
reach: Hardmax before opset 13 (the input flattened to 2-D at axis), ties
and NaN; LRN at opset 1, even sizes, sizes past the channel count, ranks 2
and 3; LpNormalization (no node test) with p 1 and 2 on every axis and a
group of norm 0 (zeros, not NaN); MeanVarianceNormalization at opset 9 and
with other axes; Shrink on integers. Each case is a one-node model run by
`graphsub run --data` and compared with numpy (within 1e-6). Invalid nodes
(axis out of range, LRN size below 1 or rank below 2, p not 1 or 2, axes
listed twice or the default ones on rank 3) must be refused with exit 3 and
a message; empty inputs give empty outputs, at once even when the dims
around the empty one are vast ([2^40, 3, 0]).

usage: kernels_norm.py GRAPHSUB"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper

N = helper.make_node
bad = 0


def check(ok, what):
    global bad
    print(("ok    " if ok else "FAIL  ") + what)
    bad += not ok


# constant inputs a node may read besides x: an empty scale, and three channels' scale and bias
INITS = {"empty_scale": np.zeros(0, np.float32), "scale3": np.ones(3, np.float32), "bias3": np.zeros(3, np.float32)}


def model(node, dtype, opset):
    """A one-node model from x to y, both of dtype, shapes left open (other inputs from INITS)."""
    t = onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype(dtype)]
    g = helper.make_graph([node], "k", [helper.make_tensor_value_info("x", t, None)],
                          [helper.make_tensor_value_info("y", t, None)],
                          [numpy_helper.from_array(INITS[i], i) for i in dict.fromkeys(node.input) if i in INITS])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def run(gs, tmp, name, node, opset, x):
    """graphsub run on x: (exit status, output y or None, last line of its messages)."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    path = os.path.join(d, "model.onnx")
    onnx.save(model(node, x.dtype, opset), path)
    with open(os.path.join(d, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())
    try:
        r = subprocess.run([gs, "run", path, "--data", d], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return -1, None, "timed out"
    text = (r.stdout + r.stderr).strip()
    if r.returncode:
        return r.returncode, None, text.splitlines()[-1] if text else ""
    t = onnx.TensorProto()
    with open(os.path.join(d, "output_0.pb"), "rb") as f:
        t.ParseFromString(f.read())
    return 0, numpy_helper.to_array(t), ""


def hardmax(x, axis, flatten):
    """1 at the first maximum along axis (flatten: of x taken as 2-D at axis)."""
    if flatten:
        f = x.reshape(int(np.prod(x.shape[:axis % x.ndim])), -1)
        return hardmax(f, 1, False).reshape(x.shape)
    y = np.zeros_like(x)
    np.put_along_axis(y, np.expand_dims(np.argmax(x, axis), axis), 1, axis)
    return y


def lrn(x, size, alpha=1e-4, beta=0.75, bias=1.0):
    c_count, sq = x.shape[1], np.zeros(x.shape)
    for c in range(c_count):
        lo, hi = max(0, c - (size - 1) // 2), min(c_count, c + size // 2 + 1)
        sq[:, c] = (x[:, lo:hi].astype(np.float64) ** 2).sum(1)
    return (x / (bias + alpha / size * sq) ** beta).astype(x.dtype)


def lp_norm(x, axis, p):
    n = (np.abs(x.astype(np.float64)) ** p).sum(axis, keepdims=True) ** (1 / p)
    return np.where(n == 0, 0, x / np.where(n == 0, 1, n)).astype(x.dtype)


def mvn(x, axes):
    m = x.astype(np.float64).mean(axes, keepdims=True)
    return ((x - m) / (np.sqrt(((x - m) ** 2).mean(axes, keepdims=True)) + 1e-9)).astype(x.dtype)


def shrink(x, lambd, bias):
    v = x.astype(np.float64)
    return np.where(v < -lambd, v + bias, np.where(v > lambd, v - bias, 0)).astype(x.dtype)


def cases():
    """(name, node, opset, x, expected y)"""
    rng = np.random.default_rng(0)
    x3 = rng.standard_normal((3, 4, 5)).astype(np.float32)
    x4 = rng.standard_normal((2, 5, 3, 4)).astype(np.float32)
    ties = np.array([[1, 3, 3, 2], [5, 5, 5, 5], [-1, np.nan, 2, np.nan]], np.float32)
    out = []
    for opset in (1, 11):
        for axis in (0, 1, 2, -1):
            out.append((f"hardmax-opset{opset}-axis{axis}", N("Hardmax", ["x"], ["y"], axis=axis), opset, x3,
                        hardmax(x3, axis, True)))
    out.append(("hardmax-opset11-default", N("Hardmax", ["x"], ["y"]), 11, x4, hardmax(x4, 1, True)))
    out.append(("hardmax-ties-nan", N("Hardmax", ["x"], ["y"]), 13, ties, hardmax(ties, -1, False)))
    out.append(("hardmax-ties-nan-axis0", N("Hardmax", ["x"], ["y"], axis=0), 13, ties, hardmax(ties, 0, False)))
    for size in (1, 2, 4, 5, 11):
        out.append((f"lrn-size{size}", N("LRN", ["x"], ["y"], size=size, alpha=0.5, beta=0.6, bias=1.5), 13, x4,
                    lrn(x4, size, 0.5, 0.6, 1.5)))
    out.append(("lrn-opset1-defaults", N("LRN", ["x"], ["y"], size=3), 1, x4, lrn(x4, 3)))
    out.append(("lrn-rank3", N("LRN", ["x"], ["y"], size=3, alpha=0.3), 13, x3, lrn(x3, 3, 0.3)))
    x2 = x3[0]
    out.append(("lrn-rank2", N("LRN", ["x"], ["y"], size=2, alpha=0.3), 13, x2, lrn(x2, 2, 0.3)))
    xz = x3.copy()
    xz[1, :, 2] = 0
    for p in (1, 2):
        for axis in (0, 1, -1):
            out.append((f"lpnorm-p{p}-axis{axis}", N("LpNormalization", ["x"], ["y"], axis=axis, p=p), 1, xz,
                        lp_norm(xz, axis, p)))
    out.append(("lpnorm-defaults", N("LpNormalization", ["x"], ["y"]), 1, xz, lp_norm(xz, -1, 2)))
    out.append(("mvn-opset9-defaults", N("MeanVarianceNormalization", ["x"], ["y"]), 9, x4, mvn(x4, (0, 2, 3))))
    for axes in ((1,), (-1,), (0, 1, 2, 3)):
        out.append((f"mvn-axes{''.join(map(str, axes))}", N("MeanVarianceNormalization", ["x"], ["y"], axes=list(axes)),
                    13, x4, mvn(x4, axes)))
    xi = np.arange(-5, 6).astype(np.int32)
    out.append(("shrink-int32", N("Shrink", ["x"], ["y"], lambd=1.5, bias=1.0), 9, xi, shrink(xi, 1.5, 1.0)))
    xs = np.arange(-3, 3.5, 0.25).astype(np.float32)
    out.append(("shrink-defaults", N("Shrink", ["x"], ["y"]), 9, xs, shrink(xs, 0.5, 0)))
    return out


def refusals():
    """(name, node, opset, x, words the message must hold); None: an empty output of x's shape."""
    r = np.ones((2, 3, 4), np.float32)
    empty = np.zeros((2, 0, 3, 3), np.float32)
    vast = np.zeros((2 ** 40, 3, 0), np.float32)   # no element, but 2^40 groups counted by its dims
    return [
        ("hardmax-axis3", N("Hardmax", ["x"], ["y"], axis=3), 13, r, "axis out of range"),
        ("hardmax-opset11-scalar", N("Hardmax", ["x"], ["y"]), 11, np.array(1, np.float32), "axis out of range"),
        ("lrn-rank1", N("LRN", ["x"], ["y"], size=3), 13, r[0, 0], "rank must be 2 or more"),
        ("lrn-size0", N("LRN", ["x"], ["y"], size=0), 13, r, "size must be 1 or more"),
        ("lrn-no-size", N("LRN", ["x"], ["y"]), 13, r, "size must be 1 or more"),
        ("lpnorm-p3", N("LpNormalization", ["x"], ["y"], p=3), 1, r, "p must be 1 or 2"),
        ("lpnorm-axis3", N("LpNormalization", ["x"], ["y"], axis=3), 1, r, "axis out of range"),
        ("mvn-default-rank3", N("MeanVarianceNormalization", ["x"], ["y"]), 13, r, "need an input of rank 4"),
        ("mvn-twice", N("MeanVarianceNormalization", ["x"], ["y"], axes=[1, -2]), 13, r, "listed twice"),
        ("mvn-axis3", N("MeanVarianceNormalization", ["x"], ["y"], axes=[3]), 13, r, "axis out of range"),
        ("hardmax-empty", N("Hardmax", ["x"], ["y"], axis=1), 13, empty, None),
        ("lrn-empty", N("LRN", ["x"], ["y"], size=3), 13, empty, None),
        ("lpnorm-empty", N("LpNormalization", ["x"], ["y"], axis=1), 1, empty, None),
        ("mvn-empty", N("MeanVarianceNormalization", ["x"], ["y"]), 13, empty, None),
        ("shrink-empty", N("Shrink", ["x"], ["y"]), 9, empty, None),
        ("softmax-vast-empty", N("Softmax", ["x"], ["y"], axis=1), 13, vast, None),
        ("hardmax-vast-empty", N("Hardmax", ["x"], ["y"], axis=1), 13, vast, None),
        ("lpnorm-vast-empty", N("LpNormalization", ["x"], ["y"], axis=1), 1, vast, None),
        ("lrn-vast-empty", N("LRN", ["x"], ["y"], size=3), 13, vast, None),
        ("layernorm-vast-empty", N("LayerNormalization", ["x", "empty_scale"], ["y"]), 17, vast, None),
        ("rmsnorm-vast-empty", N("RMSNormalization", ["x", "empty_scale"], ["y"]), 23, vast, None),
        ("instancenorm-vast-empty", N("InstanceNormalization", ["x", "scale3", "bias3"], ["y"]), 13,
         np.zeros((2 ** 40, 3, 0), np.float32), None),
        ("batchnorm-vast-empty", N("BatchNormalization", ["x", "scale3", "bias3", "bias3", "scale3"], ["y"]), 15,
         np.zeros((2 ** 40, 3, 0), np.float32), None),
    ]


def main():
    gs = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        for name, node, opset, x, want in cases():
            rc, y, msg = run(gs, tmp, name, node, opset, x)
            ok = rc == 0 and y.dtype == want.dtype and y.shape == want.shape and \
                np.allclose(y, want, rtol=1e-6, atol=1e-6, equal_nan=True)
            check(ok, f"{name}: as numpy computes it" + ("" if ok else f": exit {rc} {msg} {y}"))
        for name, node, opset, x, words in refusals():
            rc, y, msg = run(gs, tmp, name, node, opset, x)
            if words is None:
                check(rc == 0 and y.shape == x.shape, f"{name}: an empty output" + ("" if rc == 0 else f": {msg}"))
            else:
                check(rc == 3 and words in msg, f"{name}: refused, '{words}'" + ("" if rc == 3 else f": exit {rc}"))
    print(f"kernels_norm: {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
