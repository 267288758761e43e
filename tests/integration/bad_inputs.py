#!/usr/bin/python3
"""Bad models get exit status 3 and one line on stderr naming the file.

Each case is written to a fresh folder; `graphsub optimize` and `graphsub info`
must exit 3, print exactly one line that names the file, and leave no output
file (and no temporary file) behind.
"""
import os
import random
import subprocess
import sys
import tempfile

from onnx import TensorProto, helper

DATA = "/usr/share/libonnx-testdata/data"


def model_with(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def vi(name):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [2])


def wire_field(num, payload):
    """A length-delimited protobuf field, for inputs the onnx package cannot build."""
    def varint(n):
        out = bytearray()
        while True:
            b, n = n & 0x7F, n >> 7
            out.append(b | 0x80 if n else b)
            if not n:
                return bytes(out)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def deeply_nested(levels):
    """Graphs nested in If-like attributes in nodes, `levels` deep: a stack
    exhaustion attack on a recursive protobuf parser."""
    inner = b""
    for _ in range(levels):
        inner = wire_field(1, wire_field(5, wire_field(6, inner)))   # graph.node.attribute.g
    return b"\x08\x08" + wire_field(7, inner)                          # ir_version 8, graph


def cases(d):
    real = open(os.path.join(DATA, "pytorch-converted/test_Conv2d/model.onnx"), "rb").read()
    yield "truncated", real[: len(real) // 2]
    yield "random-bytes", bytes(random.Random(7).getrandbits(8) for _ in range(4096))
    yield "empty", b""
    yield "nested-5000-deep", deeply_nested(5000)
    nul = model_with([helper.make_node("Relu", ["x\0y"], ["y"], name="n1")], [vi("x")], [vi("y")])
    yield "name-with-nul", nul.SerializeToString()
    cyc = model_with([helper.make_node("Relu", ["b"], ["a"], name="n1"),
                      helper.make_node("Relu", ["a"], ["b"], name="n2")], [vi("x")], [vi("b")])
    yield "cycle", cyc.SerializeToString()
    undef = model_with([helper.make_node("Relu", ["nowhere"], ["y"], name="n1")], [vi("x")], [vi("y")])
    yield "undefined-value", undef.SerializeToString()
    big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 40], raw_data=b"")
    over = model_with([helper.make_node("Add", ["x", "w"], ["y"], name="n1")], [vi("x")], [vi("y")], [big])
    yield "dims-overflow", over.SerializeToString()
    ext = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2],
                      data_location=TensorProto.EXTERNAL)
    for k, v in (("location", "../secret.bin"), ("offset", "0"), ("length", "8")):
        ext.external_data.add(key=k, value=v)
    esc = model_with([helper.make_node("Add", ["x", "w"], ["y"], name="n1")], [vi("x")], [vi("y")], [ext])
    with open(os.path.join(os.path.dirname(d), "secret.bin"), "wb") as f:
        f.write(b"\0" * 8)
    yield "external-dotdot", esc.SerializeToString()
    link = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2],
                       data_location=TensorProto.EXTERNAL)
    for k, v in (("location", "link.bin"), ("offset", "0"), ("length", "8")):
        link.external_data.add(key=k, value=v)
    if not os.path.lexists(os.path.join(d, "link.bin")):
        os.symlink(os.path.join(os.path.dirname(d), "secret.bin"), os.path.join(d, "link.bin"))
    lnk = model_with([helper.make_node("Add", ["x", "w"], ["y"], name="n1")], [vi("x")], [vi("y")], [link])
    yield "external-symlink-out", lnk.SerializeToString()
    short = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4], raw_data=b"\0" * 8)
    bad = model_with([helper.make_node("Add", ["x", "w"], ["y"], name="n1")], [vi("x")], [vi("y")], [short])
    yield "short-tensor-data", bad.SerializeToString()


def check(graphsub, path, argv, failures):
    out = path + ".out.onnx"
    r = subprocess.run([graphsub] + argv(path, out), capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    problems = []
    if r.returncode != 3:
        problems.append(f"exit {r.returncode}, expected 3")
    if len(lines) != 1 or path not in lines[0]:
        problems.append(f"stderr is not one line naming the file: {r.stderr.strip()!r}")
    left = [f for f in os.listdir(os.path.dirname(path)) if f.startswith(os.path.basename(path) + ".")]
    if left:
        problems.append(f"left files behind: {left}")
    name = os.path.basename(path)
    if problems:
        failures.append(name)
        print(f"FAIL {argv(path, out)[0]} {name}: {'; '.join(problems)}")
    else:
        print(f"ok   {argv(path, out)[0]} {name}: {lines[0]}")


def main():
    graphsub = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as top:
        d = os.path.join(top, "models")
        os.mkdir(d)
        n = 0
        for name, data in cases(d):
            path = os.path.join(d, name + ".onnx")
            with open(path, "wb") as f:
                f.write(data)
            for argv in (lambda p, o: ["optimize", p, "-o", o], lambda p, o: ["info", p]):
                check(graphsub, path, argv, failures)
                n += 1
        missing = os.path.join(d, "missing.onnx")
        check(graphsub, missing, lambda p, o: ["optimize", p, "-o", o], failures)
        n += 1
    print(f"bad inputs: {n - len(failures)} of {n} cases passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
