#!/usr/bin/python3
"""`graphsub info` infers shapes: every pytorch-converted test-data model gets
a known shape for every value its nodes use, and the output shapes of small
Slice models agree with ONNX's own shape inference. Prints what does not."""
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

# Slice cases: (input shape, starts, ends, axes or None, steps or None)
SLICES = [
    ([4, 6, 8], [1], [3], [0], None),
    ([4, 6, 8], [0, -3], [2, 100], [1, 2], None),
    ([4, 6, 8], [-1], [-100], [2], [-2]),
    ([4, 6, 8], [5], [2], [1], None),                 # empty
    (["n", 6, 8], [0], [-1], [-1], [3]),               # named axis kept
    (["n", 6, 8], [1], [2], [0], None),                # named axis sliced: unknown
    ([4, 6, 8], [1, 1], [4, 6], None, None),           # axes default to 0, 1
    ([3, 10], [9], [0], [1], [-4]),
]


def slice_model(shape, starts, ends, axes, steps):
    consts = [("starts", starts), ("ends", ends)] + ([("axes", axes)] if axes is not None else []) + \
        ([("steps", steps)] if steps is not None else [])
    inputs = ["x"] + [name for name, _ in consts]
    if axes is None and steps is not None:
        inputs.insert(3, "")
    inits = [numpy_helper.from_array(np.array(v, dtype=np.int64), name) for name, v in consts]
    node = helper.make_node("Slice", inputs, ["y"])
    graph = helper.make_graph([node], "slice", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def onnx_shape(model):
    out = shape_inference.infer_shapes(model).graph.output[0].type.tensor_type.shape
    named = [d.dim_param if not d.dim_param.startswith("unk__") else None for d in out.dim]   # unk__N: unknown
    return [d.dim_value if d.HasField("dim_value") else named[i] or None for i, d in enumerate(out.dim)]


def check_slices(gs):
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(SLICES):
            model = slice_model(*case)
            path = os.path.join(tmp, f"slice{i}.onnx")
            onnx.save(model, path)
            r = subprocess.run([gs, "info", "--json", path], capture_output=True, text=True)
            got = json.loads(r.stdout)["outputs"][0]["shape"] if r.returncode == 0 else r.stderr.strip()
            got = [d if isinstance(d, int) and d >= 0 else   # graphsub's unk__N: unknown too
                   (d if isinstance(d, str) and not d.startswith("unk__") else None) for d in got] \
                if isinstance(got, list) else got
            want = onnx_shape(model)
            if got != want:
                print(f"slice {case}: graphsub {got}, onnx {want}")
                bad += 1
    print(f"shapes: {len(SLICES) - bad} of {len(SLICES)} Slice cases agree with ONNX's shape inference")
    return bad


def main():
    gs = sys.argv[1]
    models = sorted(glob.glob("/usr/share/libonnx-testdata/data/pytorch-converted/*/model.onnx"))
    incomplete = []
    for path in models:
        r = subprocess.run([gs, "info", "--json", path], capture_output=True, text=True)
        info = json.loads(r.stdout) if r.returncode == 0 else None
        if not info or info["shapes_known"] != info["values"]:
            incomplete.append(path)
            print(f"incomplete {path}: {info and (info['shapes_known'], info['values'])} {r.stderr.strip()}")
    print(f"shapes: {len(models) - len(incomplete)} of {len(models)} pytorch-converted models complete")
    bad = check_slices(gs)
    return 1 if incomplete or bad or not models else 0


if __name__ == "__main__":
    sys.exit(main())
