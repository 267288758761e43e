#!/usr/bin/python3
"""GridSample in the interpreter against PyTorch's grid_sample, which is what
exports it: every mode (bilinear, nearest, bicubic), padding (zeros, border,
reflection) and align_corners, on grids reaching past [-1, 1], for 2 spatial
dims at opset 16 and 3 at opset 20 (linear and nearest; its mode names
linear and cubic). ONNX's node tests hold 8 models of opset 16; these cover
the rest. Also: a cubic sampling of 3 spatial dims is exit 3, not
supported; a grid that does not fit X is exit 3.

usage: gridsample.py GRAPHSUB
"""
import itertools
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NEW_NAMES = {"bilinear": "linear", "nearest": "nearest", "bicubic": "cubic"}


def model(path, x, grid, mode, pad, align, opset):
    node = helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=pad, align_corners=align)
    g = helper.make_graph([node], "gridsample",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape)),
                           helper.make_tensor_value_info("g", TensorProto.FLOAT, list(grid.shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset < 20 else 9
    onnx.save(m, path)


def run(gs, d, name, x, grid, want, mode, pad, align, opset):
    """`graphsub run` of the model on x and grid against want; its exit status and stderr."""
    path, data = os.path.join(d, name + ".onnx"), os.path.join(d, name)
    model(path, x, grid, mode, pad, align, opset)
    os.makedirs(data)
    for i, (k, v) in enumerate((("x", x), ("g", grid))):
        with open(os.path.join(data, f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(v, k).SerializeToString())
    if want is not None:
        with open(os.path.join(data, "output_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(want, "y").SerializeToString())
    p = subprocess.run([gs, "run", path, "--data", data, "--atol", "1e-5"], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stderr.strip()


def main():
    gs = sys.argv[1]
    rng = np.random.default_rng(4)
    failed = total = 0
    with tempfile.TemporaryDirectory() as d:
        # refusals, which need no reference
        x, grid = rng.standard_normal((1, 2, 3, 4, 5)).astype(np.float32), np.zeros((1, 2, 2, 2, 3), np.float32)
        for name, g, mode, want in (("cubic-3d", grid, "cubic", "not supported"),
                                    ("grid-misfit", grid[..., :2], "linear", "the grid must be")):
            total += 1
            rc, err = run(gs, d, name, x, g, None, mode, "zeros", 0, 20)
            if rc != 3 or want not in err:
                failed += 1
                print(f"FAIL {name}: exit {rc}: {err}")
        # an empty output of 2^40 batches: at once, not a loop over them
        vast, vgrid = np.zeros((2 ** 40, 3, 0, 0), np.float32), np.zeros((2 ** 40, 0, 0, 2), np.float32)
        total += 1
        try:
            rc, err = run(gs, d, "vast-empty", vast, vgrid, None, "linear", "zeros", 0, 20)
        except subprocess.TimeoutExpired:
            rc, err = -1, "timed out"
        if rc:
            failed += 1
            print(f"FAIL vast-empty: exit {rc}: {err}")
        try:
            import torch  # noqa: PLC0415
        except ImportError:
            print(f"note: torch is not installed: only the refusals were checked\n{total - failed} passed, "
                  f"{failed} failed")
            return 1 if failed else 0
        for dims in ((2, 3, 5, 7), (1, 2, 4, 5, 6)):
            r = len(dims) - 2
            for mode, pad, align in itertools.product(NEW_NAMES, ("zeros", "border", "reflection"), (0, 1)):
                if r == 3 and mode == "bicubic":
                    continue
                x = rng.standard_normal(dims).astype(np.float32)
                grid = rng.uniform(-1.4, 1.4, (dims[0],) + (3, 4, 5)[:r] + (r,)).astype(np.float32)
                want = torch.nn.functional.grid_sample(torch.tensor(x), torch.tensor(grid), mode=mode, padding_mode=pad,
                                                       align_corners=bool(align)).numpy()
                opset = 16 if r == 2 else 20
                name = f"{r}d-{mode}-{pad}-{align}"
                rc, err = run(gs, d, name, x, grid, want, mode if opset < 20 else NEW_NAMES[mode], pad, align, opset)
                total += 1
                if rc:
                    failed += 1
                    print(f"FAIL {name}: exit {rc}: {err}")
    print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
