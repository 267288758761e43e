#!/usr/bin/python3
"""Error messages print names from the input as printable text.

A node name holding a terminal escape sequence, a name that is not UTF-8 and
a file name with control characters each reach an error message; stderr
must be one line of valid UTF-8 without control characters, with the
offending bytes shown as \\xNN.
"""
import os
import subprocess
import sys
import tempfile

from onnx import TensorProto, helper

ESC = "\x1b]0;owned\x07\x1b[2J\x1b[31m"


def model(node_name):
    node = helper.make_node("Relu", ["nowhere"], ["y"], name=node_name)   # an undefined input
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def cases(d):
    yield "escape-in-node-name", os.path.join(d, "a.onnx"), model("n" + ESC), "n\\x1B]0;owned\\x07\\x1B[2J\\x1B[31m"
    # Same length as the placeholder, so the protobuf lengths stay right.
    raw = model("PLACEHOLDER").replace(b"PLACEHOLDER", b"bad\xff\xc0\xaf\xc2\x9b\xed\xa0\x80")
    yield "not-utf8-node-name", os.path.join(d, "b.onnx"), raw, "bad\\xFF\\xC0\\xAF\\xC2\\x9B\\xED\\xA0\\x80"
    yield "escape-in-file-name", os.path.join(d, "c" + ESC + ".onnx"), b"", "c\\x1B]0;owned"


def main():
    gs = sys.argv[1]
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        for name, path, data, shown in cases(d):
            with open(path, "wb") as f:
                f.write(data)
            r = subprocess.run([gs, "info", path], capture_output=True)
            err = r.stderr
            problems = []
            try:
                text = err.decode("utf-8")
            except UnicodeDecodeError:
                problems.append("not UTF-8")
                text = err.decode("utf-8", "replace")
            if any(c < 0x20 and c != 0x0A for c in err) or b"\xc2\x9b" in err or err.count(b"\n") != 1:
                problems.append("control characters or more than one line")
            if r.returncode != 3 or shown not in text:
                problems.append(f"exit {r.returncode}, wanted '{shown}'")
            bad += bool(problems)
            print(("FAIL " if problems else "ok   ") + f"{name}: {text.strip()!r} {', '.join(problems)}")
    print(f"messages: {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
