#!/usr/bin/python3
"""A Llama-style decoder with dynamic batch, seq and past optimizes, verifies
and loads in ONNX Runtime.

The models: tests/data/decoder/model.onnx (2 layers, made with PyTorch by
decoder_model.py --data, with PyTorch's outputs at two bindings of batch,
seq and past in test_data_set_K) and, when torch is installed, a fresh
4-layer export with its outputs computed by PyTorch. For each:
`graphsub optimize` with the default options exits 0 and writes types that
agree with onnx.shape_inference (value_info.py's comparison) and pass
onnx.checker; `optimize --verify` and `graphsub verify --dim` exit 0;
`graphsub run` of the original and of the output reproduces PyTorch's
outputs at both bindings; when onnxruntime-node is installed
(bench/node_modules, see bench/README.md, or $ORT_NODE_MODULES), ONNX
Runtime loads the output and computes PyTorch's logits. Also checks that
`graphsub verify` tries more than one binding of a symbolic dim (a model
right only while a dim is below 3 is caught).

usage: decoder.py GRAPHSUB SRCDIR
"""
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import value_info  # noqa: E402
from ort_run import ort_modules, ort_run  # noqa: E402

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def write_case(folder, model, feeds, outputs):
    """An ONNX test-data folder: input_N.pb and output_N.pb in graph order."""
    os.makedirs(folder)
    for i, inp in enumerate(model.graph.input):
        t = numpy_helper.from_array(feeds[inp.name], inp.name)
        open(os.path.join(folder, f"input_{i}.pb"), "wb").write(t.SerializeToString())
    for i, out in enumerate(model.graph.output):
        t = numpy_helper.from_array(outputs[out.name], out.name)
        open(os.path.join(folder, f"output_{i}.pb"), "wb").write(t.SerializeToString())


def check_runs(graphsub, orig, opt, model, cases, tmp, name):
    """graphsub run of the original and of the output against expected outputs."""
    for k, (feeds, outputs) in enumerate(cases):
        folder = os.path.join(tmp, f"{name}_case{k}")
        write_case(folder, model, feeds, outputs)
        for label, path in (("original", orig), ("optimized", opt)):
            r = run([graphsub, "run", path, "--data", folder])
            if r.returncode != 0:
                fail(f"{name}: graphsub run of the {label} model, binding {k}: exit {r.returncode}: "
                     f"{(r.stdout + r.stderr).strip()[-300:]}")


def check_ort(opt, model, cases, name):
    """ONNX Runtime loads the output and computes the expected logits."""
    modules = ort_modules(SRC)
    if not modules:
        print(f"note {name}: onnxruntime-node not installed, ONNX Runtime not checked")
        return
    feeds, outputs = cases[0]
    with tempfile.TemporaryDirectory() as t:
        res, err = ort_run(modules, opt, feeds, t, name)
    if err is not None:
        fail(f"{name}: ONNX Runtime refuses the output: {err}")
        return
    got = np.array(res["logits"], dtype=np.float32).reshape(outputs["logits"].shape)
    err = float(np.abs(got - outputs["logits"]).max())
    if err > 1e-3:
        fail(f"{name}: ONNX Runtime's logits differ from the expected by {err}")
    else:
        print(f"ok {name}: ONNX Runtime loads the output, logits within {err:.2g}")


def check_model(graphsub, path, cases, tmp, name):
    model = onnx.load(path)
    opt = os.path.join(tmp, name + ".opt.onnx")
    r = run([graphsub, "optimize", "--quiet", path, "-o", opt])
    if r.returncode != 0:
        fail(f"{name}: optimize exit {r.returncode}: {r.stderr.strip()}")
        return
    written = onnx.load(opt)
    why = value_info.checks(written)
    if why:
        fail(f"{name}: onnx.checker refuses the output: {why}")
    bare = onnx.ModelProto()
    bare.CopyFrom(written)
    value_info.strip(bare.graph)
    inferred = onnx.shape_inference.infer_shapes(bare)
    for line in value_info.compare(written.graph, inferred.graph):
        fail(f"{name}: declared type disagrees with onnx shape inference: {line}")
    r = run([graphsub, "optimize", "--quiet", "--verify", path, "-o", os.path.join(tmp, name + ".v.onnx")])
    if r.returncode != 0:
        fail(f"{name}: optimize --verify exit {r.returncode}: {r.stderr.strip()}")
    r = run([graphsub, "verify", "--dim", "past=1", "--dim", "seq=1", path, opt])
    if r.returncode != 0:
        fail(f"{name}: verify --dim past=1 --dim seq=1 exit {r.returncode}: {(r.stdout + r.stderr)[-300:]}")
    check_runs(graphsub, path, opt, model, cases, tmp, name)
    check_ort(opt, model, cases, name)
    print(f"checked {name}: {len(model.graph.node)} -> {len(written.graph.node)} nodes, "
          f"{len(written.graph.value_info)} value_info entries")


def stored_cases(path):
    """(inputs, outputs) of the stored model's test_data_set_K folders."""
    model = onnx.load(path)
    out = []
    for d in sorted(glob.glob(os.path.join(os.path.dirname(path), "test_data_set_*"))):
        def load(kind, values):
            return {v.name: numpy_helper.to_array(onnx.load_tensor(os.path.join(d, f"{kind}_{n}.pb")))
                    for n, v in enumerate(values)}
        out.append((load("input", model.graph.input), load("output", model.graph.output)))
    return out


def torch_cases(layers, path):
    import decoder_model  # noqa: PLC0415 - needs torch
    return decoder_model.cases(decoder_model.export(path, layers), layers)


def check_bindings(graphsub, tmp):
    """A model equal to another only while dim n < 3: verify must see n >= 3."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    a = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "a", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 13)])
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Less", ["s", "three"], ["small"]),
             helper.make_node("Add", ["x", "x"], ["x2"]),
             helper.make_node("Where", ["small", "x", "x2"], ["y"])]
    three = numpy_helper.from_array(np.array([3], dtype=np.int64), "three")
    b = helper.make_model(helper.make_graph(nodes, "b", [x], [y], [three]),
                          opset_imports=[helper.make_opsetid("", 13)])
    pa, pb = os.path.join(tmp, "bind_a.onnx"), os.path.join(tmp, "bind_b.onnx")
    onnx.save(a, pa)
    onnx.save(b, pb)
    r = run([graphsub, "verify", pa, pb])
    if r.returncode != 1:
        fail(f"verify of models that differ only when n >= 3: exit {r.returncode}, expected 1")
    r = run([graphsub, "verify", "--dim", "n=2", pa, pb])
    if r.returncode != 0:
        fail(f"verify --dim n=2 of models equal there: exit {r.returncode}: {r.stdout + r.stderr}")


def main():
    global SRC
    graphsub, SRC = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        check_bindings(graphsub, tmp)
        stored = os.path.join(SRC, "tests", "data", "decoder", "model.onnx")
        cases = stored_cases(stored)
        if len(cases) < 2:
            fail("tests/data/decoder has fewer than two test_data_set folders")
        check_model(graphsub, stored, cases, tmp, "stored 2-layer decoder")
        try:
            import torch  # noqa: F401, PLC0415
        except ImportError:
            print("note: torch is not installed: only the stored decoder was checked")
        else:
            path = os.path.join(tmp, "decoder4.onnx")
            check_model(graphsub, path, torch_cases(4, path), tmp, "fresh 4-layer decoder")
    print(f"decoder: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
