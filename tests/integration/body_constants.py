#!/usr/bin/python3
"""Constants and types across If bodies, as ONNX Runtime's basic level
handles them (the speech front end of bench/zoo_control.py showed both):

1. A small initializer that the main graph and the branches of two Ifs all
   read is copied into each branch, so the shape arithmetic a branch does on
   it (Unsqueeze, Concat) folds there; the main graph keeps its own.
2. An If's output takes the type both branches give it (int64 here), so a
   Cast of it to int64 goes (cast-same-type).

The output must pass `--verify`, onnx.checker and ONNX's shape inference,
and every name a branch reads must be defined in the main graph.

usage: body_constants.py GRAPHSUB"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

N = helper.make_node
I64, F = TensorProto.INT64, TensorProto.FLOAT


def model():
    inits = [numpy_helper.from_array(np.array(4, np.int64), "k"),
             numpy_helper.from_array(np.array([0], np.int64), "ax"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    reshape = helper.make_graph([N("Unsqueeze", ["k", "ax"], ["ks"]), N("Concat", ["minus1", "ks"], ["shape"], axis=0),
                                 N("Reshape", ["x", "shape"], ["rt"])], "then1", [],
                                [helper.make_tensor_value_info("rt", F, ["n", 4])])
    same = helper.make_graph([N("Identity", ["x"], ["re"])], "else1", [], [helper.make_tensor_value_info("re", F, ["n", 4])])
    count = helper.make_graph([N("Shape", ["x"], ["sh"]), N("Gather", ["sh", "k0"], ["n"], axis=0)], "then2", [],
                              [helper.make_tensor_value_info("n", I64, [])],
                              [numpy_helper.from_array(np.array(0, np.int64), "k0")])
    kk = helper.make_graph([N("Unsqueeze", ["k", "ax"], ["k1"]), N("Squeeze", ["k1", "ax"], ["kq"])], "else2", [],
                           [helper.make_tensor_value_info("kq", I64, [])])
    nodes = [N("If", ["cond"], ["y"], then_branch=reshape, else_branch=same),
             N("If", ["cond"], ["m0"], then_branch=count, else_branch=kk),
             N("Cast", ["m0"], ["m"], to=I64), N("Add", ["m", "k"], ["z"])]
    g = helper.make_graph(nodes, "bc", [helper.make_tensor_value_info("x", F, ["n", 4]),
                                        helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                          [helper.make_tensor_value_info("y", F, ["n", 4]), helper.make_tensor_value_info("z", I64, [])],
                          inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


failures = []


def check(cond, what):
    print(("ok  " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def main():
    gs = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "o.onnx")
        onnx.save(model(), src)
        r = subprocess.run([gs, "optimize", src, "-o", out, "--verify"], capture_output=True, text=True)
        check(r.returncode == 0, f"optimize --verify: {r.stderr.strip()[-300:]}")
        if r.returncode:
            return 1
        m = onnx.load(out)
        onnx.checker.check_model(m, full_check=True)
        onnx.shape_inference.infer_shapes(m, strict_mode=True)
        g = m.graph
        ops = [n.op_type for n in g.node]
        check("Cast" not in ops, f"the Cast of an If's int64 output to int64 goes: {ops}")
        bodies = [(n.name, a.g) for n in g.node for a in n.attribute if a.type == onnx.AttributeProto.GRAPH]
        body_ops = {f"{name}/{b.name}": [x.op_type for x in b.node] for name, b in bodies}
        check(not any("Unsqueeze" in o or "Concat" in o for o in body_ops.values()),
              f"the branches' arithmetic on the shared constant folds: {body_ops}")
        defined = {v.name for v in g.input} | {t.name for t in g.initializer} | {o for n in g.node for o in n.output}
        missing = []
        for _, b in bodies:
            local = {t.name for t in b.initializer} | {o for x in b.node for o in x.output}
            missing += [i for x in b.node for i in x.input if i and i not in local and i not in defined]
        check(not missing, f"every name a branch reads is defined: {missing}")
        check("k" in {t.name for t in g.initializer} and "Add" in ops, "the main graph keeps its own k")
    print("body-constants:", "all passed" if not failures else f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
