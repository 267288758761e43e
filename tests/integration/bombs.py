#!/usr/bin/python3
"""Tiny models that ask for huge or overflowing sizes: no bomb, no wrong shape.

Constant folding: a ConstantOfShape or Expand of a few bytes to 1 GiB (2^28
floats, 2^14 x 2^14) or 2^33 elements is left as it is, without running the
kernel (it took 1 GiB and seconds, or failed with exit 4 "out of memory"):
each optimizes in seconds with exit 0, under 256 MB of memory, and the node
stays. Ranges whose length or values do not fit, a Resize with a NaN region
and an integer Pow that overflows are folded or left without undefined
behaviour (the sanitizer build stops at any). Overflowing shapes (Flatten of
[2^32, 2^32, 2], a Concat, a Pad, a Conv's dilation and a ConvTranspose's
stride and group) are bad input: exit 3, one line naming the file and the
node, no output; a declared input of 2^64 elements is exit 3 for --verify
and run. A kernel failing in `run` names the model file.

usage: bombs.py GRAPHSUB
"""
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def save(d, name, nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    path = os.path.join(d, name + ".onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def const(name, value, dtype=np.int64):
    return numpy_helper.from_array(np.array(value, dtype), name)


def out(name="y", t=F, shape=None):
    return helper.make_tensor_value_info(name, t, shape)


def inp(name, shape, t=F):
    return helper.make_tensor_value_info(name, t, shape)


def folds(d):
    """(name, path, op that must stay, or None) of models whose folding must stay bounded."""
    m = []
    for e in (28, 33):
        m.append((f"ConstantOfShape 2^{e}", save(d, f"cos{e}", [helper.make_node("ConstantOfShape", ["s"], ["c"]),
                                                              helper.make_node("Relu", ["c"], ["y"])],
                                                 [], [out()], [const("s", [1 << e])]), "ConstantOfShape"))
    m.append(("Expand to 2^14 x 2^14", save(d, "expand", [helper.make_node("Expand", ["one", "s"], ["c"]),
                                                          helper.make_node("Relu", ["c"], ["y"])],
                                            [], [out()], [const("one", [1.0], np.float32),
                                                          const("s", [1 << 14, 1 << 14])]), "Expand"))
    m.append(("Range of 2^40", save(d, "range", [helper.make_node("Range", ["a", "b", "c"], ["r"]),
                                                 helper.make_node("Neg", ["r"], ["y"])],
                                    [], [out("y", I64)], [const("a", 0), const("b", 1 << 40), const("c", 1)]), "Range"))
    m.append(("float Range of 1e30", save(d, "frange", [helper.make_node("Range", ["a", "b", "c"], ["r"]),
                                                        helper.make_node("Neg", ["r"], ["y"])],
                                           [], [out()], [const("a", 0, np.float32), const("b", 1e30, np.float32),
                                                         const("c", 1e-30, np.float32)]), "Range"))
    m.append(("int Range overflowing int64", save(d, "irange", [helper.make_node("Range", ["a", "b", "c"], ["r"]),
                                                                helper.make_node("Neg", ["r"], ["y"])],
                                                   [], [out("y", I64)], [const("a", -(1 << 62)), const("b", 1 << 62),
                                                                         const("c", (1 << 62) - 1)]), None))
    m.append(("Resize with a NaN region", save(d, "resize", [helper.make_node(
        "Resize", ["x", "roi", "sc"], ["r"], coordinate_transformation_mode="tf_crop_and_resize", mode="nearest"),
        helper.make_node("Neg", ["r"], ["y"])], [], [out()],
        [const("x", np.ones((1, 1, 2, 2)), np.float32), const("roi", [0, 0, float("nan"), 3e38, 1, 1, 1, 1], np.float32),
         const("sc", [1, 1, 2, 2], np.float32)]), None))
    return m


def overflows(d):
    """(name, path, node name) of models whose shapes overflow."""
    big = 1 << 62
    return [
        ("Flatten of [2^32, 2^32, 2]", save(d, "flatten", [helper.make_node("Flatten", ["x"], ["y"], axis=2, name="fl")],
                                            [inp("x", [1 << 32, 1 << 32, 2])], [out()]), "fl"),
        ("Concat of 2^62 + 2^62", save(d, "concat", [helper.make_node("Concat", ["a", "b"], ["y"], axis=0, name="cat")],
                                       [inp("a", [big, 2]), inp("b", [big, 2])], [out()]), "cat"),
        ("Pad by 2^62 twice", save(d, "pad", [helper.make_node("Pad", ["x", "p"], ["y"], name="pad")],
                                   [inp("x", [big, 2])], [out()], [const("p", [big, 0, big, 0])]), "pad"),
        ("Conv with dilation 2^62", save(d, "conv", [helper.make_node("Conv", ["x", "w"], ["y"], dilations=[big, 1],
                                                                     name="conv")],
                                         [inp("x", [1, 1, 4, 4])], [out()],
                                         [const("w", np.ones((1, 1, 3, 3)), np.float32)]), "conv"),
        ("ConvTranspose with stride 2^62", save(d, "convt", [helper.make_node("ConvTranspose", ["x", "w"], ["y"],
                                                                             strides=[big, 1], name="convt")],
                                                [inp("x", [1, 1, 4, 4])], [out()],
                                                [const("w", np.ones((1, 1, 3, 3)), np.float32)]), "convt"),
        ("ConvTranspose with group 2^62", save(d, "convg", [helper.make_node("ConvTranspose", ["x", "w"], ["y"],
                                                                            group=big, name="convg")],
                                               [inp("x", [1, 1, 4, 4])], [out()],
                                               [const("w", np.ones((1, 4, 3, 3)), np.float32)]), "convg"),
    ]


def main():
    gs = sys.argv[1]
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + what)
        failures += not ok

    def run(args):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.monotonic()
        try:
            r = subprocess.run([gs] + args, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            return None, 0, 120
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return r, (rss if rss > before else 0) / 1024, time.monotonic() - t0

    with tempfile.TemporaryDirectory() as d:
        o = os.path.join(d, "o.onnx")
        for name, path, stays in folds(d):
            r, mb, secs = run(["optimize", path, "-o", o])
            ok = r is not None and r.returncode == 0
            check(ok and mb < 256, f"{name}: exit {r.returncode if r else 'timeout'} in {secs:.1f} s, "
                                   f"{mb:.0f} MB {r.stderr.strip()[:200] if r else ''}")
            if ok and stays:
                ops = [n.op_type for n in onnx.load(o).graph.node]
                check(stays in ops, f"{name}: {stays} left as it is ({ops})")
        for name, path, node in overflows(d):
            if os.path.exists(o):
                os.remove(o)
            for level in ("-O1", "-O2"):
                r, _, _ = run(["optimize", path, "-o", o, level])
                err = r.stderr.strip() if r else ""
                check(r is not None and r.returncode == 3 and path in err and f"'{node}'" in err and
                      len(err.splitlines()) == 1 and not os.path.exists(o),
                      f"{name} {level}: exit {r.returncode if r else 'timeout'}: {err[:200]}")
        # integer Pow wraps round like NumPy's int64, and the fold agrees with run
        p = save(d, "ipow", [helper.make_node("Pow", ["a", "b"], ["c"]), helper.make_node("Neg", ["c"], ["y"])],
                 [], [out("y", I64)], [const("a", [3, -1, 7, 2]), const("b", [41, 65, 30, 64])])
        r, _, _ = run(["optimize", p, "-o", o])
        want = np.power(np.array([3, -1, 7, 2], np.int64), np.array([41, 65, 30, 64], np.int64))
        got = None
        if r and r.returncode == 0:
            g = onnx.load(o).graph
            got = [numpy_helper.to_array(t) for t in g.initializer]
        check(got is not None and len(got) == 1 and np.array_equal(got[0], want),   # y keeps its Neg
              f"integer Pow folds as NumPy computes it: {got} vs {want}")
        # declared dims of 2^64 elements: bad input, not "out of memory"
        p = save(d, "declared", [helper.make_node("Relu", ["x"], ["y"])], [inp("x", [1 << 62, 8])], [out()])
        for args in (["optimize", p, "-o", o, "--verify"], ["run", p]):
            r, _, _ = run(args)
            err = r.stderr.strip() if r else ""
            check(r is not None and r.returncode == 3 and p in err, f"{args[0]} of 2^64 declared elements: "
                                                                    f"exit {r.returncode if r else 'timeout'}: {err}")
        # a kernel failing in run names the model file and the node
        p = save(d, "badrun", [helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")],
                 [inp("x", [2, 3]), inp("s", [1], I64)], [out()])
        data = os.path.join(d, "data")
        os.mkdir(data)
        for i, a in enumerate((np.ones((2, 3), np.float32), np.array([7], np.int64))):
            with open(os.path.join(data, f"input_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(a).SerializeToString())
        r, _, _ = run(["run", p, "--data", data])
        err = r.stderr.strip() if r else ""
        check(r is not None and r.returncode == 3 and p in err and "'rs'" in err,
              f"a kernel error in run names the file and the node: {err}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
