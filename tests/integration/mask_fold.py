#!/usr/bin/python3
"""A constant that grows when folded, up to 1 MiB: Swin's shifted-window
attention mask ([64, 49, 49] float32 from the difference of two [64, 49]
window-label vectors, then Where(!= 0, -100, 0)) folds into one initializer,
as ONNX Runtime folds it, and the optimized model gives the same outputs
(--verify); an Expand of a scalar to 4 MiB stays an Expand.

usage: mask_fold.py GRAPHSUB"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

N = helper.make_node


def mask_model():
    labels = np.random.default_rng(0).integers(0, 9, (64, 49)).astype(np.float32)
    nodes = [N("Unsqueeze", ["lab", "ax1"], ["a"]), N("Unsqueeze", ["lab", "ax2"], ["b"]),
             N("Sub", ["a", "b"], ["d"]), N("Equal", ["d", "zero"], ["eq"]), N("Not", ["eq"], ["ne"]),
             N("Where", ["ne", "big", "d"], ["m"]),
             N("Where", ["eq", "zero", "m"], ["mask"]), N("Add", ["x", "mask"], ["y"]),
             N("Expand", ["one", "shape"], ["e"]), N("Add", ["y2in", "e"], ["y2"])]
    inits = [numpy_helper.from_array(labels, "lab"), numpy_helper.from_array(np.array([1], np.int64), "ax1"),
             numpy_helper.from_array(np.array([2], np.int64), "ax2"),
             numpy_helper.from_array(np.array(0, np.float32), "zero"),
             numpy_helper.from_array(np.array(-100, np.float32), "big"),
             numpy_helper.from_array(np.array(1, np.float32), "one"),
             numpy_helper.from_array(np.array([1024, 1024], np.int64), "shape")]
    vi = helper.make_tensor_value_info
    g = helper.make_graph(nodes, "mask", [vi("x", TensorProto.FLOAT, [64, 49, 49]),
                                          vi("y2in", TensorProto.FLOAT, [1, 1024])],
                          [vi("y", TensorProto.FLOAT, [64, 49, 49]), vi("y2", TensorProto.FLOAT, [1024, 1024])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def main():
    gs = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "mask.onnx"), os.path.join(tmp, "mask.opt.onnx")
        onnx.save(mask_model(), src)
        r = subprocess.run([gs, "optimize", src, "-o", dst, "--verify", "--quiet"], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"FAIL optimize --verify: exit {r.returncode}: {r.stderr.strip()}")
        ops = sorted(n.op_type for n in onnx.load(dst).graph.node)
        if ops != ["Add", "Add", "Expand"]:
            sys.exit(f"FAIL the mask folds into one constant and the 4 MiB Expand stays: {ops}")
        print("ok    the [64, 49, 49] mask folds, the 4 MiB Expand stays, --verify passes")


if __name__ == "__main__":
    main()
