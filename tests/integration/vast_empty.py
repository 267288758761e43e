#!/usr/bin/python3
"""Kernels on an input that holds nothing but counts 2^40 batches (dims
[2^40, 3, 0, 0]): each must finish at once, with an empty output or a clear
refusal (exit 3), never loop over the batches for nothing. Such inputs came
from fuzzing and from a sweep of these ops (Softmax, the normalizations,
MatMul and GridSample looped).

usage: vast_empty.py GRAPHSUB
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VAST = (2 ** 40, 3, 0, 0)
INITS = {"ax": np.array(3, np.int64), "reps": np.array([1, 1, 1, 1], np.int64), "pads": np.zeros(8, np.int64),
         "sc": np.ones(4, np.float32), "w": np.zeros((2, 3, 1, 1), np.float32), "s3": np.ones(3, np.float32),
         "m": np.zeros((0, 2), np.float32), "i0": np.array([], np.int64), "sl": np.ones(3, np.int64),
         "cond": np.array([], bool), "grid": np.zeros((2 ** 40, 0, 0, 2), np.float32),
         "shape": np.array([1, 1, 1, 1], np.int64), "mi": np.zeros((0, 2), np.uint8)}
# op, attributes, inputs after x, opset
OPS = [("Relu", {}, [], 17), ("Softmax", {"axis": 1}, [], 17), ("LogSoftmax", {"axis": 1}, [], 17),
       ("Hardmax", {"axis": 1}, [], 17), ("LpNormalization", {"axis": 1}, [], 17), ("LRN", {"size": 3}, [], 17),
       ("MeanVarianceNormalization", {}, [], 17), ("InstanceNormalization", {}, ["s3", "s3"], 17),
       ("BatchNormalization", {}, ["s3", "s3", "s3", "s3"], 15), ("LayerNormalization", {"axis": 1}, ["s3"], 17),
       ("ReduceSum", {"keepdims": 1}, [], 11), ("ReduceLogSum", {"keepdims": 1}, [], 11),
       ("ReduceLogSumExp", {"keepdims": 1}, [], 11), ("ArgMax", {"axis": 3}, [], 17), ("CumSum", {}, ["ax"], 17),
       ("Transpose", {"perm": [3, 2, 1, 0]}, [], 17), ("Tile", {}, ["reps"], 17), ("Pad", {}, ["pads"], 17),
       ("Resize", {"mode": "linear"}, ["", "sc"], 17), ("Resize", {"mode": "cubic"}, ["", "sc"], 17),
       ("DepthToSpace", {"blocksize": 1}, [], 17), ("SpaceToDepth", {"blocksize": 1}, [], 17),
       ("Trilu", {}, [], 17), ("MatMul", {}, ["m"], 17), ("Gather", {"axis": 3}, ["i0"], 17),
       ("ReverseSequence", {}, ["sl"], 17), ("Compress", {"axis": 3}, ["cond"], 17), ("GridSample", {}, ["grid"], 16),
       ("Expand", {}, ["shape"], 17), ("Split", {"axis": 1}, [], 17), ("NonZero", {}, [], 17),
       ("Conv", {}, ["w"], 17), ("MaxPool", {"kernel_shape": [1, 1]}, [], 17)]


def case(gs, d, i, op, attrs, extra, opset):
    name = f"{i:02d}-{op}"
    folder = os.path.join(d, name)
    os.makedirs(folder)
    g = helper.make_graph([helper.make_node(op, ["x", *extra], ["y"], **attrs)], name,
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                          [helper.make_tensor_value_info("y", TensorProto.UNDEFINED, None)],
                          [numpy_helper.from_array(INITS[e], e) for e in dict.fromkeys(extra) if e in INITS])
    path = os.path.join(folder, "model.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), path)
    with open(os.path.join(folder, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.zeros(VAST, np.float32), "x").SerializeToString())
    try:
        r = subprocess.run([gs, "run", path, "--data", folder], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        print(f"FAIL {name}: still running after 20 s")
        return False
    ok = r.returncode == 0 or (r.returncode == 3 and "graphsub:" in r.stderr)
    print(f"{'ok' if ok else 'FAIL'} {name}: exit {r.returncode} {r.stderr.strip()[-100:]}")
    return ok


def main():
    gs = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        results = [case(gs, d, i, *c) for i, c in enumerate(OPS)]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
