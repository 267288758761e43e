#!/usr/bin/python3
"""Resize and Upsample outputs get their dims from constant sizes or scales
(`graphsub info`), so that a Shape read after a Resize folds to a constant
(as in torchvision's segmentation heads and detection transforms), and the
optimized model computes what the original does (`--verify`)."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.float32), name)   # noqa: E731
I = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.int64), name)     # noqa: E731

# (name, opset, input shape, node inputs after x, initializers, expected output shape; None: unknown)
CASES = [
    ("sizes", 13, [1, 3, 5, 7], ["", "", "sz"], [I("sz", [1, 3, 10, 4])], [1, 3, 10, 4]),
    ("scales", 13, ["n", 3, 5, 7], ["", "sc"], [F("sc", [1, 1, 2, 1.5])], ["n", 3, 10, 10]),
    ("scales-unknown-dim", 13, [1, 3, "h", 7], ["", "sc"], [F("sc", [1, 1, 2, 2])], [1, 3, None, 14]),
    ("resize-10", 10, [1, 2, 4, 4], ["sc"], [F("sc", [1, 1, 0.5, 3])], [1, 2, 2, 12]),
    ("upsample-9", 9, [1, 2, 3, 3], ["sc"], [F("sc", [1, 1, 2, 2])], [1, 2, 6, 6]),
    ("sizes-from-input", 13, [1, 3, 5, 7], ["", "", "s_in"], [], [None, None, None, None]),
]


def model(opset, shape, inputs, inits, op="Resize", shape_after=False):
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)]
    if "s_in" in inputs:
        ins.append(helper.make_tensor_value_info("s_in", TensorProto.INT64, [4]))
    nodes = [helper.make_node(op, ["x"] + inputs, ["y"], mode="linear" if op == "Resize" else "nearest")]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if shape_after:   # y's shape read as data: y * Cast(Shape(y)[3])
        nodes += [helper.make_node("Shape", ["y"], ["sh"]), helper.make_node("Gather", ["sh", "three"], ["w"]),
                  helper.make_node("Cast", ["w"], ["wf"], to=TensorProto.FLOAT),
                  helper.make_node("Mul", ["y", "wf"], ["z"])]
        inits = inits + [I("three", 3)]
        outs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)]
    g = helper.make_graph(nodes, "resize", ins, outs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def main():
    gs = sys.argv[1]
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, opset, shape, inputs, inits, want in CASES:
            op = "Upsample" if name.startswith("upsample") else "Resize"
            path = os.path.join(tmp, name + ".onnx")
            onnx.save(model(opset, shape, inputs, inits, op), path)
            r = subprocess.run([gs, "info", "--json", path], capture_output=True, text=True)
            got = json.loads(r.stdout)["outputs"][0]["shape"] if r.returncode == 0 else r.stderr.strip()
            if isinstance(got, list):
                got = [d if isinstance(d, int) and d >= 0 else
                       (d if isinstance(d, str) and not d.startswith("unk__") else None) for d in got]
            ok = got == want
            bad += not ok
            print(f"{'ok' if ok else 'FAILED'}  {name}: output shape {got}, expected {want}")
        # a Shape after a Resize of constant sizes folds away; the outputs stay the same
        path, out = os.path.join(tmp, "fold.onnx"), os.path.join(tmp, "fold.opt.onnx")
        onnx.save(model(13, [1, 3, 5, 7], ["", "", "sz"], [I("sz", [1, 3, 10, 4])], shape_after=True), path)
        r = subprocess.run([gs, "optimize", path, "-o", out, "--verify", "--quiet"], capture_output=True, text=True)
        ops = [n.op_type for n in onnx.load(out).graph.node] if r.returncode == 0 else r.stderr.strip()
        ok = r.returncode == 0 and "Shape" not in ops and ops.count("Resize") == 1
        bad += not ok
        print(f"{'ok' if ok else 'FAILED'}  the Shape of a Resize's output folds, --verify passes: {ops}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
