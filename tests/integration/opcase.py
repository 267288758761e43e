"""Shared harness of the integration tests that build a small model per
case: optimize it with `--verify`, compare the ops left with the expected
ones, and check the outputs against NumPy with `graphsub run --data`."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
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


def run_interp(gs, tmp, name, m, feeds):
    """`graphsub run` of model m (saved as tmp/name/model.onnx) on feeds (name -> array): (the
    model's path, its outputs as arrays), or (the path, "exit N: message")."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    path = os.path.join(d, "model.onnx")
    onnx.save(m, path)
    for k, (n, v) in enumerate(feeds.items()):
        with open(os.path.join(d, f"input_{k}.pb"), "wb") as fh:
            fh.write(numpy_helper.from_array(v, n).SerializeToString())
    r = subprocess.run([gs, "run", path, "--data", d], capture_output=True, text=True)
    if r.returncode:
        return path, f"exit {r.returncode}: {r.stderr.strip()}"
    outs = []
    for k in range(len(m.graph.output)):
        t = onnx.TensorProto()
        with open(os.path.join(d, f"output_{k}.pb"), "rb") as fh:
            t.ParseFromString(fh.read())
        outs.append(numpy_helper.to_array(t))
    return path, outs


def run_kernels_ort(path, feeds, modules=None):
    """ONNX Runtime at level disabled on the model at path (kernels_ort.js; feeds of float32, int64,
    int32, uint8, int8 or bool): {output name: {dims, data}}, or its error message. modules: the
    node_modules holding onnxruntime-node when not the default."""
    case = {"model": path, "feeds": {n: {"dtype": "bool" if v.dtype == np.bool_ else str(v.dtype),
                                         "dims": list(v.shape), "data": v.ravel().tolist()}
                                     for n, v in feeds.items()}}
    with open(path + ".json", "w") as fh:
        json.dump(case, fh)
    env = dict(os.environ, ORT_NODE_MODULES=modules) if modules else None
    r = subprocess.run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels_ort.js"),
                        path + ".json"], capture_output=True, text=True, env=env)
    return json.loads(r.stdout) if r.returncode == 0 else r.stderr.strip()


def main(cases, case):
    """Run case(gs, tmpdir, *c) for each c in cases; graphsub's path is argv[1]."""
    gs = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        results = [case(gs, d, *c) for c in cases]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1
