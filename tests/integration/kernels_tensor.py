#!/usr/bin/python3
"""The reference interpreter's DepthToSpace, SpaceToDepth, OneHot, EyeLike,
Compress, ReverseSequence and ReduceLogSum kernels against numpy and ONNX
Runtime, their refusals of bad input, and their shape inference.

Each case is a one-node model run by `graphsub run --data` on fixed inputs
and must give exactly what numpy computes: DepthToSpace (opset 1, and DCR
and CRD from 11) and SpaceToDepth over int64, uint8 and float16; OneHot
with out-of-range, negative (off before opset 11, counted from the end
from 11) and fractional indices, every axis; EyeLike on and off the
diagonal, k beyond the matrix; Compress along an axis, flattened, with a
condition shorter or longer (false past the end) than the axis;
ReverseSequence on either axis order, a length of 0 reversing nothing;
ReduceLogSum with axes as an input (opset 18). When onnxruntime-node is
installed (bench/node_modules, or $ORT_NODE_MODULES), the cases of types
it reads must match ONNX Runtime too. Bad inputs (a blocksize that does
not divide, a depth of 0, a condition true past the end, a sequence
longer than the time axis...) must be refused with exit 3 naming the
problem. `graphsub info` must give each output's inferred shape: symbolic
for DepthToSpace, the depth of a constant for OneHot, the count of a
constant condition for Compress.

usage: kernels_tensor.py GRAPHSUB"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper

from opcase import run_interp, run_kernels_ort
from ort_run import ort_modules

HERE = os.path.dirname(os.path.abspath(__file__))
N = helper.make_node
ORT_TYPES = {np.float32, np.int64, np.int32, np.uint8, np.int8, np.bool_}
bad = 0


def check(ok, what):
    global bad
    print(("ok    " if ok else "FAIL  ") + what)
    bad += not ok


def model(node, inputs, outputs, opset, inits=(), shapes=None):
    """A one-node model; inputs and outputs are (name, numpy dtype) pairs, shapes open unless given."""
    shapes = shapes or {}

    def vi(name, t):
        return helper.make_tensor_value_info(name, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype(t)],
                                             shapes.get(name))
    g = helper.make_graph([node], "k", [vi(n, t) for n, t in inputs], [vi(n, t) for n, t in outputs],
                          [numpy_helper.from_array(v, k) for k, v in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def depth_to_space(x, b, crd):
    n, c, h, w = x.shape
    if crd:
        t = x.reshape(n, c // b ** 2, b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        t = x.reshape(n, b, b, c // b ** 2, h, w).transpose(0, 3, 4, 1, 5, 2)
    return t.reshape(n, c // b ** 2, h * b, w * b)


def space_to_depth(x, b):
    n, c, h, w = x.shape
    t = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return t.reshape(n, c * b * b, h // b, w // b)


def one_hot(idx, depth, axis, values, wrap):
    """ONNX's OneHot: indices truncated to integers; out of range (negative before opset 11) all off."""
    axis = axis + idx.ndim + 1 if axis < 0 else axis
    shape = idx.shape[:axis] + (depth,) + idx.shape[axis:]
    out = np.full(shape, values[0], values.dtype)
    for pos in np.ndindex(idx.shape):
        v = int(np.trunc(idx[pos]))
        v = v + depth if wrap and -depth <= v < 0 else v
        if 0 <= v < depth:
            out[pos[:axis] + (v,) + pos[axis:]] = values[1]
    return out


def reverse_sequence(x, lens, batch_axis):
    y = x.copy()
    for b, n in enumerate(lens):
        if batch_axis == 0:
            y[b, :n] = x[b, :n][::-1]
        else:
            y[:n, b] = x[:n, b][::-1]
    return y


def layout_cases(rng):
    out = []
    for dt in (np.float32, np.int64, np.uint8, np.float16):
        x = rng.integers(0, 100, (2, 18, 2, 3)).astype(dt)
        for opset, mode in ((1, None), (11, "CRD"), (13, "DCR"), (13, "CRD")):
            attrs = {"blocksize": 3} if mode is None else {"blocksize": 3, "mode": mode}
            out.append((f"depthtospace-{np.dtype(dt).name}-{opset}-{mode or 'none'}",
                        model(N("DepthToSpace", ["x"], ["y"], **attrs), [("x", dt)], [("y", dt)], opset),
                        {"x": x}, [depth_to_space(x, 3, mode == "CRD")]))
        x = rng.integers(0, 100, (2, 3, 4, 6)).astype(dt)
        out.append((f"spacetodepth-{np.dtype(dt).name}",
                    model(N("SpaceToDepth", ["x"], ["y"], blocksize=2), [("x", dt)], [("y", dt)], 1),
                    {"x": x}, [space_to_depth(x, 2)]))
    x = np.zeros((0, 8, 2, 2), np.float32)
    out.append(("depthtospace-empty", model(N("DepthToSpace", ["x"], ["y"], blocksize=2),
                                            [("x", np.float32)], [("y", np.float32)], 13),
                {"x": x}, [np.zeros((0, 2, 4, 4), np.float32)]))
    return out


def onehot_cases(opsets):
    out = []
    idx = np.array([[0, -1, 5], [3, 10, -11]], np.int64)
    values = np.array([0, 1], np.float32)
    for opset in opsets:
        for axis in (-1, 0, 1, -3):
            out.append((f"onehot-opset{opset}-axis{axis}",
                        model(N("OneHot", ["i", "d", "v"], ["y"], axis=axis),
                              [("i", np.int64), ("d", np.float32), ("v", np.float32)], [("y", np.float32)], opset),
                        {"i": idx, "d": np.array(10, np.float32), "v": values},
                        [one_hot(idx, 10, axis, values, opset >= 11)]))
    if 11 not in opsets:
        return out
    fidx = np.array([2, -1, 3, -4, 4], np.float32)
    fv = np.array([-5, 7], np.float32)
    out.append(("onehot-float-indices", model(N("OneHot", ["i", "d", "v"], ["y"], axis=0),
                                              [("i", np.float32), ("d", np.float32), ("v", np.float32)],
                                              [("y", np.float32)], 11),
                {"i": fidx, "d": np.array([4.9], np.float32), "v": fv}, [one_hot(fidx, 4, 0, fv, True)]))
    iv = np.array([3, 1], np.int32)
    out.append(("onehot-int32-values", model(N("OneHot", ["i", "d", "v"], ["y"]),
                                             [("i", np.int64), ("d", np.float32), ("v", np.int32)],
                                             [("y", np.int32)], 11),
                {"i": idx, "d": np.array(6, np.float32), "v": iv}, [one_hot(idx, 6, -1, iv, True)]))
    return out


def eyelike_cases():
    out = []
    for shape, k, dtype, want_t in (((3, 5), -1, None, np.int32), ((4, 4), 2, 6, np.int32), ((3, 3), 1, 9, np.bool_),
                                    ((2, 3), 100, 1, np.float32), ((2, 3), -(2 ** 63), 7, np.int64),
                                    ((5, 2), 0, 11, np.float64)):
        attrs = {"k": k} if dtype is None else {"k": k, "dtype": dtype}
        x = np.ones(shape, np.int32)
        out.append((f"eyelike-{shape[0]}x{shape[1]}-k{k}",
                    model(N("EyeLike", ["x"], ["y"], **attrs), [("x", np.int32)], [("y", want_t)], 9),
                    {"x": x}, [np.eye(shape[0], shape[1], k=max(min(k, 99), -99), dtype=want_t)]))
    return out


def compress_cases(rng):
    out = []
    x = rng.integers(0, 50, (2, 3, 4)).astype(np.int64)
    for name, opset, axis, cond in (("axis0", 9, 0, [False, True]), ("axis-last", 11, -1, [True, False, True, True]),
                                    ("flat", 9, None, [False, True, False, False, True]),
                                    ("shorter", 11, 1, [True]), ("longer", 11, 1, [True, False, True, False, False]),
                                    ("none-true", 11, 2, [False, False, False, False])):
        c = np.array(cond, np.bool_)
        attrs = {} if axis is None else {"axis": axis}
        want = np.compress(c[:x.size if axis is None else x.shape[axis]], x, axis=axis)
        out.append((f"compress-{name}", model(N("Compress", ["x", "c"], ["y"], **attrs),
                                              [("x", np.int64), ("c", np.bool_)], [("y", np.int64)], opset),
                    {"x": x, "c": c}, [want]))
    return out


def other_cases(rng):
    out = []
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    for ba, ta, lens in ((1, 0, [4, 3, 2, 1]), (0, 1, [1, 2, 3, 4])):
        out.append((f"reversesequence-batch{ba}", model(N("ReverseSequence", ["x", "l"], ["y"], batch_axis=ba,
                                                          time_axis=ta),
                                                        [("x", np.float32), ("l", np.int64)], [("y", np.float32)], 10),
                    {"x": x, "l": np.array(lens, np.int64)}, [reverse_sequence(x, lens, ba)]))
    x3 = rng.integers(0, 100, (3, 2, 5)).astype(np.int32)
    out.append(("reversesequence-3d", model(N("ReverseSequence", ["x", "l"], ["y"]),
                                            [("x", np.int32), ("l", np.int64)], [("y", np.int32)], 10),
                {"x": x3, "l": np.array([3, 1], np.int64)}, [reverse_sequence(x3, [3, 1], 1)]))
    xr = (rng.random((3, 4, 5)) + 0.1).astype(np.float32)
    out.append(("reducelogsum-axes-input", model(N("ReduceLogSum", ["x", "a"], ["y"], keepdims=0),
                                                 [("x", np.float32), ("a", np.int64)], [("y", np.float32)], 18),
                {"x": xr, "a": np.array([-1, 0], np.int64)}, [np.log(xr.sum(axis=(2, 0)))]))
    return out


def numpy_only_cases():
    """Cases ONNX Runtime computes otherwise: checked against numpy only. Its OneHot counts negative
    indices from the end at opset 9 too, where OneHot-9 says they select nothing, and matches
    fractional indices against nothing, where OneHot says they are cast to int64."""
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    fidx, fv = np.array([2.7, -0.5, 3.99, -2.2, 4.0], np.float32), np.array([-5, 7], np.float32)
    fractional = ("onehot-fractional-indices", model(N("OneHot", ["i", "d", "v"], ["y"], axis=0),
                                                     [("i", np.float32), ("d", np.float32), ("v", np.float32)],
                                                     [("y", np.float32)], 11),
                  {"i": fidx, "d": np.array(4, np.float32), "v": fv}, [one_hot(fidx, 4, 0, fv, True)])
    empty = ("reversesequence-length-0", model(N("ReverseSequence", ["x", "l"], ["y"], batch_axis=0, time_axis=1),
                                               [("x", np.float32), ("l", np.int64)], [("y", np.float32)], 10),
             {"x": x, "l": np.array([0, 6], np.int64)}, [reverse_sequence(x, [0, 6], 0)])
    return onehot_cases((9,)) + [fractional, empty]


def refusals():
    """(name, model, feeds, words the message must hold): exit 3, no crash."""
    f = np.float32
    z4 = np.zeros((1, 4, 2, 2), f)
    d2s = lambda **a: model(N("DepthToSpace", ["x"], ["y"], **a), [("x", f)], [("y", f)], 13)
    s2d = lambda **a: model(N("SpaceToDepth", ["x"], ["y"], **a), [("x", f)], [("y", f)], 13)
    oh = lambda opset=11, **a: model(N("OneHot", ["i", "d", "v"], ["y"], **a),
                                     [("i", np.int64), ("d", np.int64), ("v", f)], [("y", f)], opset)
    eye = lambda **a: model(N("EyeLike", ["x"], ["y"], **a), [("x", f)], [("y", f)], 9)
    cmp = lambda opset=11, ct=np.bool_, **a: model(N("Compress", ["x", "c"], ["y"], **a), [("x", f), ("c", ct)],
                                                   [("y", f)], opset)
    rs = lambda **a: model(N("ReverseSequence", ["x", "l"], ["y"], **a), [("x", f), ("l", np.int64)], [("y", f)], 10)
    i3, v2 = np.array([1, 2, 3], np.int64), np.array([0, 1], f)
    x23, x44 = np.zeros((2, 3), f), np.zeros((4, 4), f)
    return [
        ("depthtospace-channels", d2s(blocksize=2), {"x": np.zeros((1, 6, 2, 2), f)}, "do not divide"),
        ("depthtospace-rank", d2s(blocksize=2), {"x": np.zeros((4, 2, 2), f)}, "not 4-D"),
        ("depthtospace-blocksize-0", d2s(blocksize=0), {"x": z4}, "blocksize"),
        ("depthtospace-blocksize-huge", d2s(blocksize=2 ** 40), {"x": z4}, "blocksize"),
        ("depthtospace-mode", d2s(blocksize=2, mode="XYZ"), {"x": z4}, "mode"),
        ("spacetodepth-height", s2d(blocksize=2), {"x": np.zeros((1, 1, 3, 2), f)}, "does not divide"),
        ("onehot-depth-0", oh(), {"i": i3, "d": np.array(0, np.int64), "v": v2}, "depth"),
        ("onehot-depth-negative", oh(), {"i": i3, "d": np.array(-4, np.int64), "v": v2}, "depth"),
        ("onehot-depth-two", oh(), {"i": i3, "d": np.array([4, 4], np.int64), "v": v2}, "depth"),
        ("onehot-bool-indices", model(N("OneHot", ["i", "d", "v"], ["y"]), [("i", np.bool_), ("d", np.int64),
                                                                              ("v", f)], [("y", f)], 11),
         {"i": np.array([True, False]), "d": np.array(4, np.int64), "v": v2}, "number type"),
        ("onehot-values", oh(), {"i": i3, "d": np.array(4, np.int64), "v": np.zeros(3, f)}, "values"),
        ("onehot-axis", oh(axis=2), {"i": i3, "d": np.array(4, np.int64), "v": v2}, "axis"),
        ("onehot-depth-huge", oh(), {"i": i3, "d": np.array(2 ** 62, np.int64), "v": v2}, "depth"),
        ("onehot-huge", oh(), {"i": np.zeros((2 ** 20,), np.int64), "d": np.array(2 ** 61, np.int64), "v": v2},
         "int64"),
        ("eyelike-rank", eye(), {"x": np.zeros((2, 2, 2), f)}, "not 2-D"),
        ("eyelike-string", eye(dtype=8), {"x": x23}, "not supported"),
        ("eyelike-dtype", eye(dtype=99), {"x": x23}, "dtype"),
        ("compress-past-end", cmp(axis=1), {"x": x23, "c": np.array([0, 0, 0, 1], np.bool_)}, "past the end"),
        ("compress-negative-axis-opset9", cmp(9, axis=-1), {"x": x23, "c": np.array([1], np.bool_)}, "axis"),
        ("compress-axis", cmp(axis=2), {"x": x23, "c": np.array([1], np.bool_)}, "axis"),
        ("compress-condition-type", cmp(ct=f, axis=0), {"x": x23, "c": np.array([1, 0], f)}, "bool"),
        ("compress-condition-rank", cmp(axis=0), {"x": x23, "c": np.array([[1, 0]], np.bool_)}, "1-D"),
        ("reversesequence-long", rs(), {"x": x44, "l": np.array([1, 5, 1, 1], np.int64)}, "sequence length"),
        ("reversesequence-negative", rs(), {"x": x44, "l": np.array([1, -1, 1, 1], np.int64)}, "sequence length"),
        ("reversesequence-count", rs(), {"x": x44, "l": np.array([1, 1], np.int64)}, "one per batch"),
        ("reversesequence-axes", rs(batch_axis=0, time_axis=0), {"x": x44, "l": np.ones(4, np.int64)}, "axis"),
        ("reversesequence-rank", rs(), {"x": np.zeros(4, f), "l": np.ones(4, np.int64)}, "2-D"),
    ]


def inferred(gs, tmp, name, m):
    """The output line of `graphsub info` for m: 'y float32 [N,2,2*H,6]'."""
    path = os.path.join(tmp, name + ".onnx")
    onnx.save(m, path)
    r = subprocess.run([gs, "info", path], capture_output=True, text=True)
    lines = [ln.split("output", 1)[1].strip() for ln in r.stdout.splitlines() if ln.strip().startswith("output")]
    return lines[0] if r.returncode == 0 and lines else f"exit {r.returncode}: {r.stderr.strip()}"


def inference_checks(gs, tmp):
    f, i64 = np.float32, np.int64
    d2s = model(N("DepthToSpace", ["x"], ["y"], blocksize=2), [("x", f)], [("y", f)], 13,
                shapes={"x": ["N", 8, "H", 3]})
    s2d = model(N("SpaceToDepth", ["x"], ["y"], blocksize=2), [("x", f)], [("y", f)], 13,
                shapes={"x": ["N", 3, 4, 6]})
    oh = model(N("OneHot", ["i", "d", "v"], ["y"], axis=1), [("i", i64), ("v", f)], [("y", f)], 11,
               inits=[("d", np.array(10, i64))], shapes={"i": ["B", 5]})
    ohv = model(N("OneHot", ["i", "d", "v"], ["y"]), [("i", i64), ("d", i64), ("v", f)], [("y", f)], 11,
                shapes={"i": ["B"]})
    eye = model(N("EyeLike", ["x"], ["y"], dtype=7), [("x", f)], [("y", i64)], 9, shapes={"x": ["R", 4]})
    cmp = model(N("Compress", ["x", "c"], ["y"], axis=1), [("x", f)], [("y", f)], 11,
                inits=[("c", np.array([True, False, True], np.bool_))], shapes={"x": ["B", 3, 7]})
    cmpf = model(N("Compress", ["x", "c"], ["y"]), [("x", f), ("c", np.bool_)], [("y", f)], 11,
                 shapes={"x": ["B", 3]})
    rs = model(N("ReverseSequence", ["x", "l"], ["y"]), [("x", f), ("l", i64)], [("y", f)], 10,
               shapes={"x": ["T", "B", 2]})
    rls = model(N("ReduceLogSum", ["x"], ["y"], axes=[1], keepdims=0), [("x", f)], [("y", f)], 13,
                shapes={"x": ["N", 4, 5]})
    for name, m, want in (("depthtospace", d2s, "y float32 [N,2,2*H,6]"), ("spacetodepth", s2d, "y float32 [N,12,2,3]"),
                          ("onehot", oh, "y float32 [B,10,5]"), ("onehot-depth-unknown", ohv, "y float32 [B,unk__1]"),
                          ("eyelike", eye, "y int64 [R,4]"), ("compress", cmp, "y float32 [B,2,7]"),
                          ("compress-flat", cmpf, "y float32 [unk__1]"), ("reversesequence", rs, "y float32 [T,B,2]"),
                          ("reducelogsum", rls, "y float32 [N,5]")):
        got = inferred(gs, tmp, "infer-" + name, m)
        check(got == want, f"{name}: inferred {want}" + ("" if got == want else f", got {got}"))


def same(got, want):
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    if np.issubdtype(want.dtype, np.floating):
        return bool(np.allclose(got, want, rtol=1e-6, atol=1e-6))
    return bool(np.array_equal(got, want))


def check_case(gs, tmp, ort, name, m, feeds, want):
    path, got = run_interp(gs, tmp, name, m, feeds)
    if isinstance(got, str):
        check(False, f"{name}: graphsub run: {got}")
        return
    ok = all(same(g, w) for g, w in zip(got, want))
    check(ok, f"{name}: as numpy computes it" + ("" if ok else f": got {got}, want {want}"))
    if ort and all(v.dtype.type in ORT_TYPES for v in list(feeds.values()) + got):
        res = run_kernels_ort(path, feeds, ort)
        if isinstance(res, str) and "Could not find an implementation" in res:
            print(f"skip  {name}: ONNX Runtime has no kernel for these types")
            return
        ok = isinstance(res, dict) and all(
            same(g, np.array(res[o.name]["data"]).astype(g.dtype).reshape(res[o.name]["dims"]))
            for g, o in zip(got, m.graph.output))
        check(ok, f"{name}: as ONNX Runtime computes it" + ("" if ok else f": got {got}, ORT {res}"))


def main():
    gs = sys.argv[1]
    ort = ort_modules(os.path.join(HERE, "..", ".."))
    if not ort:
        print("skip  ONNX Runtime comparisons (no onnxruntime-node)")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for name, m, feeds, want in (layout_cases(rng) + onehot_cases((11,)) + eyelike_cases() +
                                     compress_cases(rng) + other_cases(rng)):
            check_case(gs, tmp, ort, name, m, feeds, want)
        for name, m, feeds, want in numpy_only_cases():
            check_case(gs, tmp, None, name, m, feeds, want)
        for name, m, feeds, words in refusals():
            _, got = run_interp(gs, tmp, name, m, feeds)
            ok = isinstance(got, str) and got.startswith("exit 3") and words in got
            check(ok, f"{name}: refused naming '{words}'" + ("" if ok else f": {got}"))
        inference_checks(gs, tmp)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
