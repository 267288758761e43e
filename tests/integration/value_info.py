#!/usr/bin/python3
"""The types graphsub writes agree with ONNX's own shape inference.

For every ONNX test-data model (and every model in the folders given after
the binary, such as the benchmark zoo), runs `graphsub optimize` with the
default options and compares each type graphsub declares in the output
(value_info and graph outputs, in the main graph and in every subgraph)
with what onnx.shape_inference.infer_shapes infers for the same graph with
those declarations removed. A disagreement in element type, in rank, or in
a dim both sides know as a number fails the test; a value that ONNX cannot
infer is not compared. Also checks that onnx.checker accepts every output
whose input it accepts. Prints one line per failure and a summary.

usage: value_info.py GRAPHSUB [DIR...]   (a DIR that does not exist, such as the
zoo before bench/make_zoo.py has run, adds nothing)
"""
import concurrent.futures
import copy
import glob
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import shape_inference

DATA = "/usr/share/libonnx-testdata/data"


def models(extra):
    yield from sorted(glob.glob(os.path.join(DATA, "**", "model.onnx"), recursive=True))
    for d in extra:
        yield from sorted(glob.glob(os.path.join(d, "*.onnx")))


def short(path):
    return os.path.relpath(path, DATA) if path.startswith(DATA) else os.path.basename(path)


def checks(model):
    try:
        onnx.checker.check_model(model)
        return None
    except Exception as e:  # noqa: BLE001 - any refusal counts
        return str(e).strip().splitlines()[0][:200]


def subgraphs(graph):
    """The subgraphs of graph's nodes, in node and attribute order."""
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield a.g
            for g in a.graphs:
                yield g


def strip(graph):
    """Remove the declared types of value_info and of the graph outputs."""
    del graph.value_info[:]
    for o in graph.output:
        o.ClearField("type")
    for g in subgraphs(graph):
        strip(g)


def describe(t):
    """(elem_type or 0, rank or None, [dim_value or None]) of a TypeProto."""
    if not t.HasField("tensor_type"):
        return None
    tt = t.tensor_type
    if not tt.HasField("shape"):
        return tt.elem_type, None, None
    return tt.elem_type, len(tt.shape.dim), [d.dim_value if d.HasField("dim_value") else None
                                              for d in tt.shape.dim]


def disagreement(declared, inferred):
    """Why two described types disagree, or None."""
    if declared is None or inferred is None:
        return None
    (dt, dr, dd), (it, ir, idims) = declared, inferred
    if dt and it and dt != it:
        return f"elem_type {onnx.TensorProto.DataType.Name(dt)}, inferred " \
               f"{onnx.TensorProto.DataType.Name(it)}"
    if dr is None or ir is None:
        return None
    if dr != ir:
        return f"rank {dr}, inferred {ir}"
    for i, (a, b) in enumerate(zip(dd, idims)):
        if a is not None and b is not None and a != b:
            return f"dim {i} is {a}, inferred {b}"
    return None


def compare(written, inferred, where=""):
    """Disagreements between written's declarations and inferred's types."""
    known = {v.name: describe(v.type) for v in list(inferred.value_info) + list(inferred.output)}
    known.update({v.name: describe(v.type) for v in inferred.input})
    out = []
    for v in list(written.value_info) + list(written.output):
        why = disagreement(describe(v.type), known.get(v.name))
        if why:
            out.append(f"{where}{v.name}: {why}")
    for i, (a, b) in enumerate(zip(subgraphs(written), subgraphs(inferred))):
        out += compare(a, b, f"{where}{a.name or 'subgraph ' + str(i)}/")
    return out


def check(graphsub, path, tmpdir):
    """A list of failure lines for one model (empty when it passes)."""
    out = os.path.join(tmpdir, path.replace("/", "_"))
    r = subprocess.run([graphsub, "optimize", "--quiet", path, "-o", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return [f"optimize exit {r.returncode}: {r.stderr.strip()}"]
    try:
        written = onnx.load(out, load_external_data=False)
    finally:
        os.unlink(out)
    fails = []
    why = checks(written)
    if why and not checks(onnx.load(path, load_external_data=False)):
        fails.append(f"checker accepts the input, not the output: {why}")
    bare = copy.deepcopy(written)
    strip(bare.graph)
    try:
        inferred = shape_inference.infer_shapes(bare)
    except Exception:  # noqa: BLE001 - ONNX cannot infer this model: nothing to compare
        return fails
    return fails + compare(written.graph, inferred.graph)


def main():
    graphsub, extra = sys.argv[1], sys.argv[2:]
    paths = list(models(extra))
    bad = 0
    checker = 0
    with tempfile.TemporaryDirectory() as tmpdir, \
            concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for path, fails in zip(paths, pool.map(lambda p: check(graphsub, p, tmpdir), paths)):
            if fails:
                bad += 1
                checker += any(f.startswith("checker") for f in fails)
                print(f"FAIL {short(path)}: " + "; ".join(fails[:3]) +
                      (f" (+{len(fails) - 3} more)" if len(fails) > 3 else ""))
    print(f"value_info: {len(paths) - bad} of {len(paths)} models agree with onnx shape inference "
          f"({checker} refused by onnx.checker)")
    return 1 if bad or len(paths) < 1000 else 0


if __name__ == "__main__":
    sys.exit(main())
