#!/usr/bin/python3
"""Values that If branches read from the outer graph survive every pass.

A subgraph reads an outer value by name, so a pass in the outer graph must
not remove or rename it. Each model below has an If whose two branches read
a value of the outer graph, with foldable or rewritable work around it:
a Constant node (as TorchScript exports write them; folding it used to make
`optimize` exit 4: "value '/Constant_output_0' is captured by node ..."),
an Identity of a graph input, two equal nodes that common-subexpression
elimination merges, and a Relu(Relu(x)) chain a rule rewrites. For each,
`graphsub optimize` and `optimize --verify` must exit 0, the output must pass
onnx.checker, and every name a branch reads must be defined in the outer
graph of the output.

usage: captured_constant.py GRAPHSUB
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

F = TensorProto.FLOAT


def const(name, values):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(values, np.float32)))


def branches(read):
    """An If reading `read` from the outer graph in both branches."""
    then_g = helper.make_graph([helper.make_node("Mul", ["x", read], ["t_out"])], "then", [],
                               [helper.make_tensor_value_info("t_out", F, [2])])
    else_g = helper.make_graph([helper.make_node("Add", ["x", read], ["e_out"])], "else", [],
                               [helper.make_tensor_value_info("e_out", F, [2])])
    return helper.make_node("If", ["cond"], ["y0"], name="/model/decoder/If_1", then_branch=then_g,
                            else_branch=else_g)


def model(nodes, read, extra_out=None):
    outs = [helper.make_tensor_value_info("y", F, [2])]
    if extra_out:
        outs.append(helper.make_tensor_value_info(extra_out, F, [2]))
    g = helper.make_graph(nodes + [branches(read), helper.make_node("Mul", ["y0", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", F, [2]),
                           helper.make_tensor_value_info("cond", TensorProto.BOOL, [])], outs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def cases():
    # TorchScript's form: an outer Constant node read by both branches, and foldable work around it.
    yield "constant node", model([const("/Constant_output_0", [2.0, 3.0]), const("k2", [1.0, 1.0]),
                                  helper.make_node("Add", ["k2", "/Constant_output_0"], ["w"])],
                                 "/Constant_output_0")
    # An Identity of a graph input: removing it must not rename what the branches read.
    yield "identity of an input", model([const("w", [1.0, 2.0]), helper.make_node("Identity", ["x"], ["xi"])],
                                        "xi")
    # Two equal nodes, the second read by the branches.
    yield "equal nodes", model([const("c", [0.5, 1.5]), helper.make_node("Mul", ["x", "c"], ["a"]),
                                helper.make_node("Mul", ["x", "c"], ["b"]),
                                helper.make_node("Add", ["a", "x"], ["w"])], "b")
    # Relu(Relu(x)), rewritten by a rule, read by the branches.
    yield "relu chain", model([const("w", [1.0, 2.0]), helper.make_node("Relu", ["x"], ["r1"]),
                               helper.make_node("Relu", ["r1"], ["r2"])], "r2")


def outer_reads(graph):
    """Names that the subgraphs of graph's nodes read but do not define."""
    names = set()
    for node in graph.node:
        for a in node.attribute:
            for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                defined = {i.name for i in sub.input} | {t.name for t in sub.initializer}
                defined |= {o for n in sub.node for o in n.output}
                names |= {i for n in sub.node for i in n.input if i and i not in defined}
                names |= outer_reads(sub) - defined
    return names


def check(graphsub, name, m, tmp):
    src = os.path.join(tmp, "in.onnx")
    onnx.checker.check_model(m)
    onnx.save(m, src)
    out = os.path.join(tmp, "out.onnx")
    fails = []
    for args in ([], ["--verify"], ["-O1"]):
        r = subprocess.run([graphsub, "optimize", "--quiet", *args, src, "-o", out], capture_output=True, text=True)
        if r.returncode != 0:
            fails.append(f"optimize {' '.join(args)} exit {r.returncode}: {r.stderr.strip()}")
            continue
        o = onnx.load(out)
        try:
            onnx.checker.check_model(o)
        except Exception as e:  # noqa: BLE001
            fails.append(f"checker refuses the output: {str(e).splitlines()[0]}")
        g = o.graph
        defined = {i.name for i in g.input} | {t.name for t in g.initializer} | {x for n in g.node for x in n.output}
        missing = outer_reads(g) - defined
        if missing:
            fails.append(f"optimize {' '.join(args)}: the branches read {sorted(missing)}, not defined outside")
    for f in fails:
        print(f"FAIL {name}: {f}")
    return not fails


def main():
    graphsub = sys.argv[1]
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, m in cases():
            bad += not check(graphsub, name, m, tmp)
    print(f"captured values: {bad} of 4 models failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
