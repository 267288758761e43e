#!/usr/bin/python3
"""Model-local functions (FunctionProto; PyTorch's dynamo exporter and
onnxscript write them): at -O1 and -O2 a call is replaced by the function's
nodes, which are then optimized with the rest, and the functions no longer
called are not written; `graphsub run` and `--verify` run a model that
calls them. At -O0 the model is written as it was read. A function that
cannot be expanded (here: one holding an If) stays called, and the opset
is not raised past the version a function still called imports.

Each case: `optimize --verify`, the ops and functions left, onnx.checker on
the output, and `graphsub run` against NumPy.

usage: local_functions.py GRAPHSUB
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
n = helper.make_node
OPSET = [helper.make_opsetid("", 13), helper.make_opsetid("local", 1)]
rng = np.random.default_rng(5)
X = rng.standard_normal((2, 3)).astype(np.float32)


def fn(name, inputs, outputs, nodes, attributes=()):
    return helper.make_function("local", name, inputs, outputs, nodes, OPSET, list(attributes))


ADD_RELU = fn("AddRelu", ["a", "b"], ["c"], [n("Add", ["a", "b"], ["t"]), n("Relu", ["t"], ["c"])])
# LeakyRelu's alpha from the call's attribute `slope`
LEAKY = fn("Leaky", ["a"], ["c"], [helper.make_node("LeakyRelu", ["a"], ["c"])], ["slope"])
LEAKY.node[0].attribute.append(onnx.AttributeProto(name="alpha", ref_attr_name="slope", type=onnx.AttributeProto.FLOAT))
# calls AddRelu, and passes its input through as a second output
OUTER = fn("Outer", ["a"], ["c", "same"], [n("AddRelu", ["a", "a"], ["c"], domain="local")])
OUTER.output[:] = ["c", "a"]
# Clip with its max absent
CLIP_LO = fn("ClipLo", ["a", "lo", "hi"], ["c"], [n("Clip", ["a", "lo", "hi"], ["c"])])
# an If inside: not expanded
then_g = helper.make_graph([n("Neg", ["a_outer"], ["r"])], "then", [], [helper.make_tensor_value_info("r", F, [2, 3])])
else_g = helper.make_graph([n("Abs", ["a_outer"], ["r2"])], "else", [], [helper.make_tensor_value_info("r2", F, [2, 3])])
WITH_IF = fn("WithIf", ["cond", "a_outer"], ["c"], [n("If", ["cond"], ["c"], then_branch=then_g, else_branch=else_g)])


def model(nodes, functions, inits=(), extra_inputs=(), outputs=("y",)):
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", F, [2, 3]), *extra_inputs],
                          [helper.make_tensor_value_info(o, F, [2, 3]) for o in outputs], list(inits))
    m = helper.make_model(g, opset_imports=OPSET, functions=functions)
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def f32(name, v):
    return numpy_helper.from_array(np.asarray(v, dtype=np.float32), name)


relu = lambda v: np.maximum(v, 0)
CASES = [
    # name, model, expected outputs, ops after -O2, functions left
    ("two-calls", model([n("AddRelu", ["x", "x"], ["h"], domain="local"), n("AddRelu", ["h", "one"], ["y"],
                                                                                domain="local")],
                        [ADD_RELU], [f32("one", [1.0])]),
     [relu(relu(2 * X) + 1)], ["Add", "Relu", "Add", "Relu"], []),
    ("attribute-ref", model([n("Leaky", ["x"], ["y"], domain="local", slope=0.3)], [LEAKY]),
     [np.where(X < 0, 0.3 * X, X)], ["LeakyRelu"], []),
    ("nested-passthrough", model([n("Outer", ["x"], ["c", "s"], domain="local"), n("Add", ["c", "s"], ["y"])],
                                 [OUTER, ADD_RELU]),
     [relu(2 * X) + X], ["Add", "Relu", "Add"], []),
    ("absent-input", model([n("ClipLo", ["x", "lo", ""], ["y"], domain="local")], [CLIP_LO], [f32("lo", 0.5)]),
     [np.maximum(X, 0.5)], ["Clip"], []),
    ("in-a-body", model([n("If", ["c"], ["y"], then_branch=helper.make_graph(
        [n("AddRelu", ["x", "x"], ["t"], domain="local")], "b", [], [helper.make_tensor_value_info("t", F, [2, 3])]),
        else_branch=helper.make_graph([n("Neg", ["x"], ["e"])], "e", [], [helper.make_tensor_value_info("e", F, [2, 3])]))],
        [ADD_RELU], extra_inputs=[helper.make_tensor_value_info("c", TensorProto.BOOL, [])]),
     [relu(2 * X)], ["If"], []),
]


def run(args, ok=(0,)):
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if p.returncode not in ok:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def write_data(folder, feeds, outs):
    os.makedirs(folder)
    for i, (name, v) in enumerate(feeds):
        with open(os.path.join(folder, f"input_{i}.pb"), "wb") as fh:
            fh.write(numpy_helper.from_array(v, name).SerializeToString())
    for i, v in enumerate(outs):
        with open(os.path.join(folder, f"output_{i}.pb"), "wb") as fh:
            fh.write(numpy_helper.from_array(v.astype(np.float32)).SerializeToString())


def body_ops(g):
    ops = []
    for node in g.node:
        ops.append(node.op_type)
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                ops += body_ops(a.g)
    return ops


def case(gs, d, name, m, want, ops, funcs):
    src, out = os.path.join(d, name + ".onnx"), os.path.join(d, name + ".opt.onnx")
    onnx.save(m, src)
    feeds = [("x", X)] + ([("c", np.array(True))] if name == "in-a-body" else [])
    data = os.path.join(d, name + "-data")
    write_data(data, feeds, want)
    run([gs, "run", src, "--data", data])   # the original, calls and all
    run([gs, "optimize", src, "-o", out, "--verify", "--quiet"])
    o = onnx.load(out)
    onnx.checker.check_model(o)
    got_ops = [op for op in body_ops(o.graph) if op != "If"] if name == "in-a-body" else body_ops(o.graph)
    want_ops = ["Add", "Relu", "Neg"] if name == "in-a-body" else ops
    left = [f.name for f in o.functions]
    assert sorted(got_ops) == sorted(want_ops) and left == funcs, f"{name}: ops {got_ops}, functions {left}"
    run([gs, "run", out, "--data", data])
    with open(os.path.join(data, "case.json"), "w") as fh:   # for control_flow_ort.js: the output in ORT
        json.dump({"model": out, "feeds": {k: {"dtype": "bool" if v.dtype == bool else "float32",
                                               "dims": list(v.shape), "data": v.ravel().tolist()}
                                           for k, v in feeds},
                   "outputs": [{"dims": list(w.shape), "data": w.ravel().tolist()} for w in want]}, fh)
    p0 = os.path.join(d, name + ".O0.onnx")
    run([gs, "optimize", "-O0", src, "-o", p0, "--quiet"])
    assert open(p0, "rb").read() == open(src, "rb").read(), f"{name}: -O0 changed the model"
    print(f"ok {name}: {got_ops}, functions left {left}")


def not_expanded(gs, d):
    """A function holding an If stays called (and written); the output is still a valid model."""
    m = model([n("WithIf", ["c", "x"], ["y"], domain="local")], [WITH_IF],
              extra_inputs=[helper.make_tensor_value_info("c", TensorProto.BOOL, [])])
    src, out = os.path.join(d, "with-if.onnx"), os.path.join(d, "with-if.opt.onnx")
    onnx.save(m, src)
    run([gs, "optimize", src, "-o", out, "--quiet"])
    o = onnx.load(out)
    onnx.checker.check_model(o)
    assert [x.op_type for x in o.graph.node] == ["WithIf"] and [f.name for f in o.functions] == ["WithIf"], \
        "with-if: the call or the function is gone"
    p = run([gs, "optimize", src, "-o", out, "--quiet", "--opset", "21"], ok=(3,))
    assert "'WithIf'" in p.stderr, p.stderr
    print("ok with-if: stays called; --opset 21 refused naming it")


def raise_after_inlining(gs, d):
    """--opset 21 raises a model whose calls were all expanded; at -O0 (no expansion) it is refused."""
    src, out = os.path.join(d, "two-calls.onnx"), os.path.join(d, "two-calls.21.onnx")
    run([gs, "optimize", src, "-o", out, "--quiet", "--opset", "21", "--verify"])
    o = onnx.load(out)   # (IR 10: newer than this onnx package's checker)
    assert [op.version for op in o.opset_import if op.domain in ("", "ai.onnx")] == [21] and not o.functions
    p = run([gs, "optimize", "-O0", src, "-o", out, "--quiet", "--opset", "21"], ok=(3,))
    assert "'AddRelu'" in p.stderr, p.stderr
    print("ok raise: after expansion to 21; at -O0 refused naming the function")


def in_onnx_runtime(gs, d):
    """The expanded models give NumPy's outputs in ONNX Runtime too, at levels disabled and all."""
    here = os.path.dirname(os.path.abspath(__file__))
    modules = os.environ.get("ORT_NODE_MODULES") or os.path.join(here, "..", "..", "bench", "node_modules")
    if not shutil.which("node") or not os.path.isdir(os.path.join(modules, "onnxruntime-node")):
        print("note: onnxruntime-node not installed, ONNX Runtime not checked")
        return
    p = subprocess.run(["node", os.path.join(here, "control_flow_ort.js"), d], capture_output=True, text=True)
    assert p.returncode == 0, f"ONNX Runtime: {p.stderr.strip()}"
    print(f"ok ONNX Runtime gives NumPy's outputs on {len(p.stdout.splitlines())} expanded models")


def main():
    gs = sys.argv[1]
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for c in CASES:
            try:
                case(gs, d, *c)
            except AssertionError as e:
                failed += 1
                print(f"FAIL {e}")
        for extra in (not_expanded, raise_after_inlining, in_onnx_runtime):
            try:
                extra(gs, d)
            except AssertionError as e:
                failed += 1
                print(f"FAIL {e}")
    total = len(CASES) + 3
    print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
