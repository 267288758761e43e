#!/usr/bin/python3
"""Structurally malformed models are refused at import.

Each case starts from a small valid model and breaks one rule onnx.checker
enforces (or one it leaves open but graphsub reads, like a GRAPH attribute
without a graph). `graphsub optimize` must exit 3, print one line naming the
file, the node, attribute or value, and the problem, and leave no output file.
Test-data tensor files (`graphsub run --data`) get the same tensor checks.
A few valid models near the edges (IR version 3 initializers listed as
inputs, an If whose branch reads an outer value) must still be accepted.
Each line also tells whether onnx.checker refuses the case (a few cases go
beyond it: unknown data types, negative dims, a domain imported twice).
"""
import copy
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper


def vi(name, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, [2])


def base(ir=8):
    """x -> LeakyRelu(alpha) -> Add(w) -> y, with an initializer w."""
    nodes = [helper.make_node("LeakyRelu", ["x"], ["h"], name="act", alpha=0.1),
             helper.make_node("Add", ["h", "w"], ["y"], name="add")]
    w = numpy_helper.from_array(np.ones(2, np.float32), "w")
    g = helper.make_graph(nodes, "g", [vi("x")], [vi("y")], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = ir
    return m


def with_if():
    """y = If(c) { then: t = x + 1 } else { e = x - 1 }: branches read x."""
    one = numpy_helper.from_array(np.ones(2, np.float32), "one")
    then = helper.make_graph([helper.make_node("Add", ["x", "one"], ["t"], name="tadd")], "then",
                             [], [vi("t")], [one])
    other = helper.make_graph([helper.make_node("Sub", ["x", "one2"], ["e"], name="esub")], "else",
                              [], [vi("e")],
                              [numpy_helper.from_array(np.ones(2, np.float32), "one2")])
    node = helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then, else_branch=other)
    g = helper.make_graph([node], "g", [vi("x"), vi("c", TensorProto.BOOL)], [vi("y")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def attr(m, node=0, name="alpha"):
    return next(a for a in m.graph.node[node].attribute if a.name == name)


def branch(m, name):
    return attr(m, 0, name + "_branch").g


def case_list():
    """(name, model, fragment the message must hold)."""
    m = base(); m.graph.node[0].op_type = ""
    yield "empty-op-type", m, "node 'act' (no op type) has no op type"
    m = base(); a = attr(m); a.type = AttributeProto.GRAPH
    yield "graph-attr-holding-float", m, "node 'act' (LeakyRelu): attribute 'alpha' has type GRAPH but holds a float"
    m = base(); a = attr(m); a.type = AttributeProto.INTS
    yield "ints-attr-holding-float", m, "attribute 'alpha' has type INTS but holds a float"
    m = base(); attr(m).name = ""
    yield "attr-without-name", m, "node 'act' (LeakyRelu): an attribute has no name"
    m = base(); m.graph.node[0].attribute.append(helper.make_attribute("alpha", 0.2))
    yield "attr-twice", m, "node 'act' (LeakyRelu): attribute 'alpha' appears twice"
    m = base(); attr(m).ClearField("type")
    yield "attr-without-type", m, "attribute 'alpha' has no type"
    m = base(); attr(m).i = 3
    yield "attr-two-payloads", m, "attribute 'alpha' holds more than one value (a float and an int)"
    m = base(); a = attr(m); a.ClearField("f"); a.type = AttributeProto.GRAPH
    yield "graph-attr-empty", m, "attribute 'alpha' has type GRAPH but holds nothing"
    m = base(); a = attr(m); a.type = AttributeProto.UNDEFINED
    yield "attr-type-undefined", m, "attribute 'alpha' has the undefined type 0"
    m = base(); m.graph.node[0].name = ""; m.graph.node[0].attribute[0].type = AttributeProto.STRING
    yield "unnamed-node", m, "node #0 (LeakyRelu): attribute 'alpha' has type STRING but holds a float"
    m = base(); m.graph.node[1].output[0] = "h"
    yield "output-defined-twice", m, "node 'add' (Add) defines 'h', which is also a node output"
    m = base(); m.graph.node[0].output[0] = "x"; m.graph.node[1].input[0] = "x"
    yield "output-redefines-input", m, "node 'act' (LeakyRelu) defines 'x', which is also a graph input"
    m = base(); m.graph.node[0].output[0] = "w"; m.graph.node[1].input[0] = "w"
    yield "output-redefines-initializer", m, "node 'act' (LeakyRelu) defines 'w', which is also an initializer"
    m = base(); m.graph.input.append(vi("x"))
    yield "input-twice", m, "graph input 'x' is listed twice"
    m = base(); m.graph.initializer.append(copy.deepcopy(m.graph.initializer[0]))
    yield "initializer-twice", m, "initializer 'w' is defined twice"
    m = base(ir=3)
    yield "ir3-initializer-not-input", m, "initializer 'w' is not a graph input (required up to IR version 3)"
    m = base(); m.graph.initializer[0].data_type = TensorProto.UNDEFINED
    yield "tensor-type-undefined", m, "initializer 'w' has no data type"
    m = base(); m.graph.initializer[0].data_type = 99
    yield "tensor-type-unknown", m, "initializer 'w' has an unknown data type 99"
    m = base(); m.graph.initializer[0].dims[:] = [-2]
    yield "tensor-negative-dim", m, "initializer 'w' has a negative dim (-2)"
    m = base(); t = m.graph.initializer[0]; t.ClearField("raw_data"); t.int64_data[:] = [1, 1]
    yield "tensor-wrong-field", m, "initializer 'w' of type float32 holds int64_data instead of float_data"
    m = base(); m.graph.initializer[0].float_data[:] = [1, 1]
    yield "tensor-two-fields", m, "initializer 'w' holds data in more than one field"
    m = base(); m.graph.initializer[0].ClearField("raw_data")
    yield "tensor-without-data", m, "initializer 'w' holds no data"
    m = base(); m.graph.initializer[0].dims[:] = [0]
    yield "empty-tensor-with-data", m, "initializer 'w' has no elements but holds raw_data"
    m = base(); t = m.graph.initializer[0]; t.data_type = TensorProto.STRING
    yield "string-tensor-raw", m, "initializer 'w': a STRING tensor cannot hold raw_data"
    m = base(); t = m.graph.initializer[0]; t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add(); e.key, e.value = "location", "w.bin"
    yield "external-with-inline-data", m, "initializer 'w' is stored externally but also holds raw_data"
    m = base(); t = m.graph.initializer[0]; t.ClearField("raw_data"); t.data_location = TensorProto.EXTERNAL
    yield "external-without-location", m, "initializer 'w' is stored externally without a location"
    m = base(); m.graph.initializer[0].name = ""
    yield "initializer-without-name", m, "initializer #0 has no name"
    m = base(); del m.opset_import[:]
    yield "no-opset-import", m, "the model has no opset_import (required from IR version 3)"
    m = base(ir=2)
    yield "ir2-with-opset-import", m, "the model has an opset_import, which IR version 2 does not allow"
    m = base(); m.opset_import.append(helper.make_opsetid("ai.onnx", 14))
    yield "opset-domain-twice", m, "opset_import lists domain 'ai.onnx' twice"
    m = base(); m.opset_import[0].ClearField("version")
    yield "opset-without-version", m, "opset_import of domain '' has no version"
    m = base(); m.ClearField("ir_version")
    yield "no-ir-version", m, "the model has no ir_version"
    m = base(); m.graph.node[1].domain = "com.example"
    yield "domain-not-imported", m, "node 'add' (Add): domain 'com.example' is not in the model's opset_import"
    m = base(); m.graph.node.append(helper.make_node("Constant", [], [], name="nothing",
                                                     value_float=1.0))
    yield "node-without-inputs-or-outputs", m, "node 'nothing' (Constant) has no inputs and no outputs"
    m = base(); m.graph.input[0].name = ""
    yield "input-without-name", m, "graph input #0 has no name"
    m = base(); m.graph.output[0].ClearField("type")
    yield "output-without-type", m, "graph output 'y' has no type"
    m = base(); m.graph.input[0].type.tensor_type.ClearField("elem_type")
    yield "input-without-elem-type", m, "graph input 'x' has no element type"
    m = base(); m.graph.value_info.append(vi("h", 999))
    yield "value-info-elem-type-unknown", m, "value_info 'h' has an unknown element type 999"
    m = base(); c = helper.make_node("Constant", [], ["k"], name="const",
                                     value=helper.make_tensor("kv", TensorProto.FLOAT, [2], [1, 1]))
    c.attribute[0].t.data_type = TensorProto.INT64
    m.graph.node.append(c); m.graph.output.append(vi("k"))
    yield "attr-tensor-wrong-field", m, \
        "node 'const' (Constant): attribute 'value' of type int64 holds float_data instead of int64_data"
    m = with_if(); branch(m, "then").node[0].output[0] = "x"
    branch(m, "then").output[0].name = "x"
    yield "branch-shadows-outer-value", m, "in graph 'then': node 'tadd' (Add) defines 'x', which an enclosing graph already defines"
    m = with_if(); branch(m, "then").node[0].op_type = ""
    yield "branch-node-without-op", m, "in graph 'then': node 'tadd' (no op type) has no op type"
    m = with_if(); branch(m, "else").initializer[0].dims[:] = [-1]
    yield "branch-initializer-negative-dim", m, "in graph 'else': initializer 'one2' has a negative dim (-1)"
    m = base(); sp = m.graph.sparse_initializer.add()
    sp.values.CopyFrom(numpy_helper.from_array(np.ones((1, 1), np.float32), "s")); sp.dims[:] = [4]
    yield "sparse-values-rank-2", m, "sparse initializer #0: sparse values 's' must have rank 1"


def accepted():
    """Valid models near the edges, which must still load."""
    m = base(ir=3); m.graph.input.append(vi("w"))
    yield "ir3-initializer-input", m
    yield "if-reads-outer", with_if()


def data_cases():
    """(name, tensor for input_0.pb of `graphsub run --data`, message fragment)."""
    t = numpy_helper.from_array(np.ones(2, np.float32), "x"); t.int64_data[:] = [1, 1]
    yield "data-two-fields", t, "input_0.pb: tensor 'x' holds data in more than one field"
    t = numpy_helper.from_array(np.ones(2, np.float32), "x"); t.dims[:] = [0]
    yield "data-empty-with-data", t, "input_0.pb: tensor 'x' has no elements but holds raw_data"
    t = numpy_helper.from_array(np.ones(2, np.float32), "x"); t.data_type = 99
    yield "data-unknown-type", t, "input_0.pb: tensor 'x' has an unknown data type 99"


def checker_refuses(m):
    try:
        onnx.checker.check_model(m)
        return False
    except Exception:  # noqa: BLE001 - any refusal counts
        return True


def run(gs, d, name, m):
    path = os.path.join(d, name + ".onnx")
    out = os.path.join(d, name + ".out.onnx")
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    r = subprocess.run([gs, "optimize", path, "-o", out], capture_output=True, text=True)
    left = sorted(f for f in os.listdir(d) if f.startswith(name + ".out"))
    return path, r, left


def main():
    gs = sys.argv[1]
    bad = 0
    n = 0
    with tempfile.TemporaryDirectory() as d:
        for name, m, frag in case_list():
            n += 1
            path, r, left = run(gs, d, name, m)
            lines = r.stderr.splitlines()
            ok = (r.returncode == 3 and len(lines) == 1 and path in lines[0] and frag in lines[0]
                  and not left)
            bad += not ok
            print(("ok  " if ok else "FAIL") + f" {name}: exit {r.returncode}, checker "
                  f"{'refuses' if checker_refuses(m) else 'accepts'}: {r.stderr.strip()}"
                  + (f" (left {left})" if left else "") + ("" if ok else f" (wanted '{frag}')"))
        for name, t, frag in data_cases():
            n += 1
            path, _, _ = run(gs, d, name, base())
            data = os.path.join(d, name + ".data")
            os.mkdir(data)
            with open(os.path.join(data, "input_0.pb"), "wb") as f:
                f.write(t.SerializeToString())
            r = subprocess.run([gs, "run", path, "--data", data], capture_output=True, text=True)
            lines = r.stderr.splitlines()
            ok = r.returncode == 3 and len(lines) == 1 and frag in lines[0]
            bad += not ok
            print(("ok  " if ok else "FAIL") + f" {name}: exit {r.returncode}: {r.stderr.strip()}"
                  + ("" if ok else f" (wanted '{frag}')"))
        for name, m in accepted():
            n += 1
            _, r, _ = run(gs, d, name, m)
            ok = r.returncode == 0 and not checker_refuses(m)
            bad += not ok
            print(("ok  " if ok else "FAIL") + f" accepted {name}: exit {r.returncode} {r.stderr.strip()}")
    print(f"structure: {n} cases, {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
