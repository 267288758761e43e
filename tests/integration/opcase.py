"""Shared harness of the integration tests that build a small model per
case: optimize it with `--verify`, compare the ops left with the expected
ones, and check the outputs against NumPy with `graphsub run --data`."""
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import numpy_helper


def write_data(folder, inputs, outputs):
    """ONNX test-data layout: input_N.pb and output_N.pb, from (name, array) pairs."""
    os.makedirs(folder)
    for kind, pairs in (("input", inputs), ("output", outputs)):
        for i, (name, value) in enumerate(pairs):
            with open(os.path.join(folder, f"{kind}_{i}.pb"), "wb") as fh:
                fh.write(numpy_helper.from_array(value, name).SerializeToString())


def check(gs, d, name, model, inputs, outputs, want, ordered=True, extra=()):
    """Optimize `model` (an onnx ModelProto) with --verify and the `extra`
    arguments; True when its ops
    equal `want` (in order, or as a multiset) and, when `outputs` (name,
    array) are given, `graphsub run` on `inputs` reproduces them. Prints one
    line per case."""
    src, out = os.path.join(d, name + ".onnx"), os.path.join(d, name + "-opt.onnx")
    onnx.save(model, src)
    r = subprocess.run([gs, "optimize", src, "-o", out, "--verify", *extra], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL {name}: optimize exit {r.returncode}: {r.stderr.strip()}")
        return False
    ops = [n.op_type for n in onnx.load(out).graph.node]
    same = ops == want if ordered else sorted(ops) == sorted(want)
    rc, msg = 0, ""
    if outputs:
        data = os.path.join(d, name + "-data")
        write_data(data, inputs, outputs)
        run = subprocess.run([gs, "run", out, "--data", data], capture_output=True, text=True)
        rc, msg = run.returncode, run.stderr.strip()
    ok = same and rc == 0
    print(f"{'ok' if ok else 'FAIL'} {name}: {ops} (want {want}), run exit {rc} {msg}")
    return ok


def main(cases, case):
    """Run case(gs, tmpdir, *c) for each c in cases; graphsub's path is argv[1]."""
    gs = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        results = [case(gs, d, *c) for c in cases]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1
