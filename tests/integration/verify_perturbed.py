#!/usr/bin/python3
"""`graphsub verify` passes a model against itself and catches a copy with
one weight element perturbed (exit 1, naming the output)."""
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import numpy_helper

MODEL = "/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d/model.onnx"


def main():
    gs = sys.argv[1]
    ok = True
    r = subprocess.run([gs, "verify", MODEL, MODEL], capture_output=True, text=True)
    print(("ok  " if r.returncode == 0 else "FAIL") + f" self: exit {r.returncode}")
    ok &= r.returncode == 0
    m = onnx.load(MODEL)
    w = numpy_helper.to_array(m.graph.initializer[0]).copy()
    w.flat[0] += 0.5
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, m.graph.initializer[0].name))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "perturbed.onnx")
        onnx.save(m, path)
        r = subprocess.run([gs, "verify", MODEL, path], capture_output=True, text=True)
    caught = r.returncode == 1 and "MISMATCH" in r.stdout and "differs" in r.stderr
    print(("ok  " if caught else "FAIL") + f" perturbed weight: exit {r.returncode}: {r.stderr.strip()}")
    ok &= caught
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
