#!/usr/bin/python3
"""The order `graphsub optimize` writes nodes in: every node that computes
only from initializers (a quantized model's weight DequantizeLinears, and the
nodes reading only their outputs) comes first, then the others, each part in
the order of the input; ONNX Runtime runs such a model faster at levels
disabled and basic (bench/README.md, "Node order"). An initializer that is
also a graph input can be overridden, so a node reading it is not moved.
-O0 keeps the input's order. The outputs are checked with `graphsub verify`.

usage: node_order.py GRAPHSUB"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

N = helper.make_node
failures = 0


def check(ok, what):
    global failures
    print(("ok  " if ok else "FAIL") + " " + what)
    failures += not ok


def model():
    """x -> Relu -> Conv(DQ(w1)) -> Conv(DQ(w2)) -> Conv(Reshape(DQ(w3), shape)) -> y, with w2 also
    a graph input; DQ(w3)'s output reshaped by a Constant shape, so the constant part is two deep."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.integers(-50, 50, (4, 4, 1, 1)).astype(np.int8), "w1"),
             numpy_helper.from_array(rng.integers(-50, 50, (4, 4, 1, 1)).astype(np.int8), "w2"),
             numpy_helper.from_array(rng.integers(-50, 50, (16,)).astype(np.int8), "w3"),
             numpy_helper.from_array(np.array(0.02, np.float32), "s")]
    nodes = [N("Relu", ["x"], ["r"], name="relu"),
             N("DequantizeLinear", ["w1", "s"], ["w1f"], name="dq1"),
             N("Conv", ["r", "w1f"], ["c1"], name="conv1"),
             N("DequantizeLinear", ["w2", "s"], ["w2f"], name="dq2"),
             N("Conv", ["c1", "w2f"], ["c2"], name="conv2"),
             N("DequantizeLinear", ["w3", "s"], ["w3f"], name="dq3"),
             N("Constant", [], ["shape"], name="shape",
               value=numpy_helper.from_array(np.array([4, 4, 1, 1], np.int64))),
             N("Reshape", ["w3f", "shape"], ["w3r"], name="reshape3"),
             N("Conv", ["c2", "w3r"], ["y"], name="conv3")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3, 3]),
              helper.make_tensor_value_info("w2", TensorProto.INT8, [4, 4, 1, 1])]
    g = helper.make_graph(nodes, "order", inputs,
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 3, 3])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def names(path):
    return [n.name for n in onnx.load(path).graph.node]


def main():
    graphsub = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        src, out, same = (os.path.join(tmp, f) for f in ("in.onnx", "out.onnx", "o0.onnx"))
        onnx.save(model(), src)
        r = subprocess.run([graphsub, "optimize", "-O1", "--quiet", "--verify", src, "-o", out],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"optimize -O1 --verify exits 0 ({r.stderr.strip()})")
        if r.returncode == 0:
            order = names(out)
            want = ["dq1", "dq3", "reshape3", "relu", "conv1", "dq2", "conv2", "conv3"]
            kept = [n for n in order if n in want]
            check(kept == want, f"constant-computing nodes first, each part in input order: {order}")
            try:
                onnx.checker.check_model(onnx.load(out))
                why = ""
            except onnx.checker.ValidationError as e:
                why = str(e)
            check(not why, f"the output passes onnx.checker {why}")
            v = subprocess.run([graphsub, "verify", src, out], capture_output=True, text=True)
            check(v.returncode == 0, f"graphsub verify calls the output equal ({v.stdout.strip()} {v.stderr.strip()})")
        r = subprocess.run([graphsub, "optimize", "-O0", "--quiet", src, "-o", same],
                           capture_output=True, text=True)
        check(r.returncode == 0 and names(same) == names(src), "-O0 keeps the input's order")
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
