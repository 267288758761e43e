#!/usr/bin/python3
"""With default options, the written-out LayerNorms and GELUs of a model
below opset 17 keep the form ONNX Runtime fuses at its `extended` and `all`
levels: the variance's Pow(d, 2) read by a ReduceMean (its LayerNormalization
and SimplifiedLayerNormalization fusions look for the Pow) and the GELU's
Div by sqrt(2) and Mul by 0.5 (its Gelu fusion looks for them), in a
ConvNeXt-like block (LayerNorm over channels after a Transpose to channels
last, then Linear, GELU, Linear, Transpose back, layer scale, residual) and
a ViT-like one (LayerNorm, Linear, GELU, Linear on [1, 16, 32]). A Pow by 2
read by no reduction still becomes a Mul, and the ConvNeXt block's layer
scale (a Mul by a [C, 1, 1] constant after the Transpose back) folds into the
second projection (channel-scale-into-linear), which blocks no fusion.

With the rules for runtimes that run the written-out ops one by one
(`rules/targets/unfused.json`), the Pow becomes a Mul and the GELU's scales
move into the projections' weights; at opset 17 graphsub writes
LayerNormalization itself.

Each case is optimized with `--verify` and its output compared with the
original's by `graphsub verify`.
"""
import os
import subprocess
import sys
import tempfile
from collections import Counter

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNFUSED = os.path.join(ROOT, "rules", "targets", "unfused.json")
RNG = np.random.default_rng(5)


def f32(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


def layernorm(p, x, dim, nodes, inits):
    """PyTorch's opset-13 LayerNorm over the last axis of x, names prefixed p."""
    n = helper.make_node
    inits += [f32(p + "two", 2.0), f32(p + "eps", 1e-6), f32(p + "g", RNG.random(dim) + 0.5),
              f32(p + "b", RNG.random(dim) * 0.4 - 0.2)]
    nodes += [n("ReduceMean", [x], [p + "m"], axes=[-1]), n("Sub", [x, p + "m"], [p + "d"]),
              n("Pow", [p + "d", p + "two"], [p + "sq"]), n("ReduceMean", [p + "sq"], [p + "v"], axes=[-1]),
              n("Add", [p + "v", p + "eps"], [p + "ve"]), n("Sqrt", [p + "ve"], [p + "sd"]),
              n("Div", [p + "d", p + "sd"], [p + "nx"]), n("Mul", [p + "nx", p + "g"], [p + "sc"]),
              n("Add", [p + "sc", p + "b"], [p + "ln"])]
    return p + "ln"


def mlp(p, x, dim, nodes, inits):
    """Linear (dim -> 4 dim), GELU as PyTorch writes it, Linear back."""
    n = helper.make_node
    inits += [f32(p + "w1", RNG.standard_normal((dim, 4 * dim)) * 0.2), f32(p + "b1", RNG.random(4 * dim) * 0.2 - 0.1),
              f32(p + "w2", RNG.standard_normal((4 * dim, dim)) * 0.2), f32(p + "b2", RNG.random(dim) * 0.2 - 0.1),
              f32(p + "r2", 1.4142135381698608), f32(p + "one", 1.0), f32(p + "half", 0.5)]
    nodes += [n("MatMul", [x, p + "w1"], [p + "h0"]), n("Add", [p + "h0", p + "b1"], [p + "h"]),
              n("Div", [p + "h", p + "r2"], [p + "s"]), n("Erf", [p + "s"], [p + "e"]),
              n("Add", [p + "e", p + "one"], [p + "a"]), n("Mul", [p + "h", p + "a"], [p + "ga"]),
              n("Mul", [p + "ga", p + "half"], [p + "gelu"]),
              n("MatMul", [p + "gelu", p + "w2"], [p + "o0"]), n("Add", [p + "o0", p + "b2"], [p + "o"])]
    return p + "o"


def convnext_block(opset):
    c = 16
    n = helper.make_node
    nodes, inits = [], [f32("gamma", RNG.random((c, 1, 1)) * 0.5 + 0.05)]
    nodes.append(n("Transpose", ["x"], ["xl"], perm=[0, 2, 3, 1]))
    y = mlp("f_", layernorm("n_", "xl", c, nodes, inits), c, nodes, inits)
    nodes += [n("Transpose", [y], ["yc"], perm=[0, 3, 1, 2]), n("Mul", ["yc", "gamma"], ["ys"]),
              n("Add", ["x", "ys"], ["y"])]
    return graph("convnext", nodes, inits, [1, c, 6, 6], opset)


def vit_block(opset):
    d = 32
    nodes, inits = [], []
    y = mlp("f_", layernorm("n_", "x", d, nodes, inits), d, nodes, inits)
    nodes.append(helper.make_node("Add", ["x", y], ["y"]))
    return graph("vit", nodes, inits, [1, 16, d], opset)


def lone_square(opset):
    nodes = [helper.make_node("Pow", ["x", "two"], ["y"])]
    return graph("square", nodes, [f32("two", 2.0)], [2, 3, 4], opset)


def graph(name, nodes, inits, shape, opset):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def consts(model):
    """Initializer and Constant values by name."""
    out = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for nd in model.graph.node:
        if nd.op_type == "Constant":
            out[nd.output[0]] = numpy_helper.to_array(nd.attribute[0].t)
    return out


def is_const(c, name, value):
    return name in c and c[name].size == 1 and abs(float(c[name].reshape(-1)[0]) - value) < 1e-6 * abs(value)


def ort_forms(model):
    """(norm Pows by 2 read by a ReduceMean, GELUs with Div by sqrt(2) -> Erf and a Mul by 0.5, Muls of a
    value by itself read by a ReduceMean)."""
    c, readers = consts(model), {}
    for nd in model.graph.node:
        for i in nd.input:
            readers.setdefault(i, []).append(nd)
    reduced = lambda v: any(r.op_type == "ReduceMean" for r in readers.get(v, []))
    pows = sum(1 for nd in model.graph.node if nd.op_type == "Pow" and is_const(c, nd.input[1], 2.0)
               and reduced(nd.output[0]))
    squares = sum(1 for nd in model.graph.node if nd.op_type == "Mul" and nd.input[0] == nd.input[1]
                  and reduced(nd.output[0]))
    gelus = 0
    for nd in model.graph.node:
        if nd.op_type != "Div" or not is_const(c, nd.input[1], 1.4142135381698608):
            continue
        erf = [r for r in readers.get(nd.output[0], []) if r.op_type == "Erf"]
        add = [r for e in erf for r in readers.get(e.output[0], []) if r.op_type == "Add"]
        mul = [r for a in add for r in readers.get(a.output[0], []) if r.op_type == "Mul" and nd.input[0] in r.input]
        half = [r for m in mul for r in readers.get(m.output[0], []) if r.op_type == "Mul"
                and any(is_const(c, i, 0.5) for i in r.input)]
        gelus += bool(half)
    return pows, gelus, squares


def scaled_after_transpose(model):
    """Whether a Mul reads a Transpose's output (the layer scale left after the projection)."""
    made = {nd.output[0]: nd.op_type for nd in model.graph.node}
    return any(nd.op_type == "Mul" and any(made.get(i) == "Transpose" for i in nd.input) for nd in model.graph.node)


def optimize(gs, d, name, model, extra):
    src, out = os.path.join(d, name + ".onnx"), os.path.join(d, name + "-opt.onnx")
    onnx.save(model, src)
    r = subprocess.run([gs, "optimize", src, "-o", out, "--verify", "--quiet"] + extra, capture_output=True,
                       text=True)
    if r.returncode != 0:
        return None, f"optimize exit {r.returncode}: {r.stderr.strip()}"
    v = subprocess.run([gs, "verify", src, out], capture_output=True, text=True)
    if v.returncode != 0:
        return None, f"verify exit {v.returncode}: {v.stdout.strip()} {v.stderr.strip()}"
    return onnx.load(out), ""


# (name, model, extra optimize arguments, check of the optimized model: a description and a predicate)
CASES = [
    ("convnext-default", convnext_block(13), [], "Pow and GELU kept, layer scale in the second projection",
     lambda m: ort_forms(m)[:2] == (1, 1) and not scaled_after_transpose(m)),
    ("vit-default", vit_block(13), [], "Pow and GELU kept", lambda m: ort_forms(m)[:2] == (1, 1)),
    ("lone-square-default", lone_square(13), [], "Pow read by no reduction as Mul",
     lambda m: [nd.op_type for nd in m.graph.node] == ["Mul"]),
    ("convnext-unfused", convnext_block(13), ["--rules", UNFUSED], "Pow as Mul, GELU scales in weights",
     lambda m: ort_forms(m) == (0, 0, 1)),
    ("vit-unfused", vit_block(13), ["--rules", UNFUSED], "Pow as Mul, GELU scales in weights",
     lambda m: ort_forms(m) == (0, 0, 1)),
    ("convnext-opset17", convnext_block(13), ["--opset", "17"], "one LayerNormalization, GELU kept",
     lambda m: Counter(nd.op_type for nd in m.graph.node)["LayerNormalization"] == 1 and ort_forms(m)[1] == 1),
]


def main():
    gs = sys.argv[1]
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, model, extra, what, pred in CASES:
            m, err = optimize(gs, d, name, model, extra)
            ok = m is not None and pred(m)
            failed += not ok
            detail = err or f"{ort_forms(m)} {dict(Counter(nd.op_type for nd in m.graph.node))}"
            print(f"{'ok' if ok else 'FAIL'} {name}: {what}: {detail}")
    print(f"{len(CASES) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
