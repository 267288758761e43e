#!/usr/bin/python3
"""`graphsub optimize -O0 --opset N` to 23 and 24, op by op, on the ONNX
test-data node models (Debian's libonnx-testdata) at opset 13 or later: each
model is either raised (opset N, IR version 11 at 23 and 12 at 24) and then
reproduces its expected outputs in `graphsub run` (or names an op without a
kernel: unchecked, never a wrong answer), or refused with exit 3 naming the
op that blocks it. No raised model gives a different answer. Every model at
24, every fourth at 23 (the ops that change between 23 and 24 are a subset);
under sanitizers, where a run is several times slower, every fifth at 24 and
every twentieth at 23.

Also, from models made here: a MaxPool with ceil_mode at opset 13 raises to
21 but not to 22 or later (windows that start in the right padding are
dropped from 22), one without ceil_mode raises to 24; a Cast to a float8
type at opset 23 does not raise to 24 (its saturation changed), a Cast to
float16 does; the same for a CastLike, whose target is its second input's
type, and a CastLike whose target type is not known does not raise.

usage: opset_raise_nodes.py GRAPHSUB
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter

import onnx
from onnx import TensorProto, helper

DATA = "/usr/share/libonnx-testdata/data/node"
IR = {23: 11, 24: 12}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


def default_opset(m):
    v = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")]
    return v[0] if v else 0


def sweep(gs, tmp, target, every):
    counts = Counter()
    models = sorted(glob.glob(os.path.join(DATA, "*", "model.onnx")))
    for i, path in enumerate(models[::every]):
        name = os.path.basename(os.path.dirname(path))
        if default_opset(onnx.load(path, load_external_data=False)) < 13:
            continue
        out = os.path.join(tmp, f"{target}_{i}.onnx")
        r = subprocess.run([gs, "optimize", "-O0", "--quiet", "--opset", str(target), path, "-o", out],
                           capture_output=True, text=True)
        if r.returncode == 3:
            if not re.search(r"cannot raise the opset: node '[^']*' \(\w+\)", r.stderr) or os.path.exists(out):
                fail(f"{name} at {target}: refused without naming the op: {r.stderr.strip()}")
            counts["refused"] += 1
            continue
        if r.returncode != 0:
            fail(f"{name} at {target}: optimize exit {r.returncode}: {r.stderr.strip()}")
            continue
        m = onnx.load(out, load_external_data=False)
        if default_opset(m) != target or m.ir_version < IR[target]:
            fail(f"{name} at {target}: written at opset {default_opset(m)}, IR {m.ir_version}")
        data = os.path.join(os.path.dirname(path), "test_data_set_0")
        r = subprocess.run([gs, "run", out, "--data", data], capture_output=True, text=True)
        if r.returncode == 0:
            counts["raised"] += 1
        elif r.returncode == 3:
            counts["unchecked"] += 1
        else:
            fail(f"{name} at {target}: the raised model's outputs differ: {(r.stdout + r.stderr).strip()[-300:]}")
    print(f"opset {target}: {dict(counts)}")
    return counts


def one_node(tmp, name, node, x_type, y_type, opset):
    x = helper.make_tensor_value_info("x", x_type, [1, 1, 5, 5])
    y = helper.make_tensor_value_info("y", y_type, None)
    m = helper.make_model(helper.make_graph([node], name, [x], [y]),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset < 23 else 11
    path = os.path.join(tmp, name + ".onnx")
    onnx.save(m, path)
    return path


def expect(gs, tmp, path, target, ok, op):
    out = path + f".{target}.onnx"
    r = subprocess.run([gs, "optimize", "-O0", "--quiet", "--opset", str(target), path, "-o", out],
                       capture_output=True, text=True)
    name = os.path.basename(path)
    if ok and r.returncode != 0:
        fail(f"{name} to {target}: exit {r.returncode}: {r.stderr.strip()}")
    elif not ok and (r.returncode != 3 or f"({op})" not in r.stderr or os.path.exists(out)):
        fail(f"{name} to {target}: expected exit 3 naming {op}, got {r.returncode}: {r.stderr.strip()}")
    else:
        print(f"ok {name} to {target}: {'raised' if ok else 'refused'}")


def corners(gs, tmp):
    pool = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, name="p")
    ceil = one_node(tmp, "maxpool-ceil", pool, TensorProto.FLOAT, TensorProto.FLOAT, 13)
    expect(gs, tmp, ceil, 21, True, "MaxPool")
    expect(gs, tmp, ceil, 22, False, "MaxPool")
    expect(gs, tmp, ceil, 24, False, "MaxPool")
    plain = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], name="p")
    expect(gs, tmp, one_node(tmp, "maxpool", plain, TensorProto.FLOAT, TensorProto.FLOAT, 13), 24, True, "MaxPool")
    f8 = helper.make_node("Cast", ["x"], ["y"], to=17, name="c")
    f8p = one_node(tmp, "cast-float8", f8, TensorProto.FLOAT, 17, 23)
    expect(gs, tmp, f8p, 24, False, "Cast")
    f16 = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16, name="c")
    expect(gs, tmp, one_node(tmp, "cast-float16", f16, TensorProto.FLOAT, TensorProto.FLOAT16, 23), 24, True,
           "Cast")
    for like_type, ok in ((17, False), (TensorProto.FLOAT16, True)):
        expect(gs, tmp, castlike(tmp, like_type), 24, ok, "CastLike")
    expect(gs, tmp, castlike(tmp, None), 24, False, "CastLike")


def castlike(tmp, like_type):
    """CastLike(x, like) at opset 23, like an input of like_type (None: a value of no known type)."""
    name = f"castlike-{like_type}"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 5, 5])
    nodes = [helper.make_node("CastLike", ["x", "like"], ["y"], name="c")]
    if like_type is None:   # the type of an op graphsub does not know
        like_type = TensorProto.FLOAT16
        nodes.insert(0, helper.make_node("Mystery", ["x"], ["like"], domain="example.org", name="m"))
        ins = [x]
    else:
        ins = [x, helper.make_tensor_value_info("like", like_type, [1])]
    y = helper.make_tensor_value_info("y", like_type, None)
    m = helper.make_model(helper.make_graph(nodes, name, ins, [y]),
                          opset_imports=[helper.make_opsetid("", 23), helper.make_opsetid("example.org", 1)])
    m.ir_version = 11
    path = os.path.join(tmp, name + ".onnx")
    onnx.save(m, path)
    return path


def main():
    gs = sys.argv[1]
    if not os.path.isdir(DATA):
        print(f"note: {DATA} missing (Debian's libonnx-testdata), sweep skipped")
    with tempfile.TemporaryDirectory() as tmp:
        corners(gs, tmp)
        if os.path.isdir(DATA):
            with open(gs, "rb") as f:
                slow = 5 if b"__asan_init" in f.read() else 1
            at24 = sweep(gs, tmp, 24, slow)
            at23 = sweep(gs, tmp, 23, 4 * slow)
            if at24["raised"] < 400 // slow or at23["raised"] < 100 // slow:
                fail(f"too few models raised: {at24['raised']} to 24, {at23['raised']} to 23")
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("opset raise to 23 and 24: all checks passed")


if __name__ == "__main__":
    main()
