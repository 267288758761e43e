#!/usr/bin/python3
"""A Gather that picks one token of a transformer block's output (a ViT's
class token) moves up through the block: the final LayerNorm, the residual
Add, the MLP's MatMuls, biases and GELU then run on that token only.

Builds a small block as PyTorch exports it (LayerNorms and GELU written out,
biases as the first operand of Add), optimizes it with default options and
with the ONNX Runtime profile, and checks: each MatMul of the MLP multiplies
one row after optimization, not the whole sequence; the
output equals an independent NumPy computation (`graphsub run --data`);
`--verify` passes. Two variants where moving is wrong must keep the work:
the Gather on the last axis (MatMul mixes that axis), and the block output
also read as a graph output (the full value is needed).
"""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

S, D, H = 5, 8, 16   # tokens, width, MLP width


def const(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def layernorm(nodes, x, p):
    nodes += [helper.make_node("ReduceMean", [x], [p + "m"], axes=[-1]),
              helper.make_node("Sub", [x, p + "m"], [p + "d"]),
              helper.make_node("Pow", [p + "d", "two"], [p + "p"]),
              helper.make_node("ReduceMean", [p + "p"], [p + "v"], axes=[-1]),
              helper.make_node("Add", [p + "v", "eps"], [p + "ve"]),
              helper.make_node("Sqrt", [p + "ve"], [p + "s"]),
              helper.make_node("Div", [p + "d", p + "s"], [p + "n"]),
              helper.make_node("Mul", [p + "n", p + "g"], [p + "ng"]),
              helper.make_node("Add", [p + "b", p + "ng"], [p + "y"])]
    return p + "y"


def build(rng, axis, index, also_output):
    nodes = []
    a = layernorm(nodes, "x", "ln1_")
    nodes += [helper.make_node("MatMul", [a, "w1"], ["h0"]),
              helper.make_node("Add", ["b1", "h0"], ["h"]),
              helper.make_node("Div", ["h", "r2"], ["hd"]),
              helper.make_node("Erf", ["hd"], ["he"]),
              helper.make_node("Add", ["he", "one"], ["h1"]),
              helper.make_node("Mul", ["h", "h1"], ["hm"]),
              helper.make_node("Mul", ["hm", "half"], ["g"]),
              helper.make_node("MatMul", ["g", "w2"], ["o0"]),
              helper.make_node("Add", ["b2", "o0"], ["o"]),
              helper.make_node("Add", ["x", "o"], ["block"])]
    f = layernorm(nodes, "block", "lnf_")
    nodes.append(helper.make_node("Gather", [f, "idx"], ["y"], axis=axis))
    inits = [const("w1", rng.standard_normal((D, H)).astype(np.float32)),
             const("b1", rng.standard_normal(H).astype(np.float32)),
             const("w2", rng.standard_normal((H, D)).astype(np.float32)),
             const("b2", rng.standard_normal(D).astype(np.float32)),
             const("two", np.float32(2)), const("eps", np.float32(1e-5)),
             const("r2", np.float32(math.sqrt(2))), const("one", np.float32(1)),
             const("half", np.float32(0.5)), const("idx", np.int64(index))]
    for p in ("ln1_", "lnf_"):
        inits += [const(p + "g", rng.uniform(0.5, 1.5, D).astype(np.float32)),
                  const(p + "b", rng.standard_normal(D).astype(np.float32))]
    out_dims = [1, D] if axis == 1 else [1, S]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_dims)]
    if also_output:
        outs.append(helper.make_tensor_value_info("block", TensorProto.FLOAT, [1, S, D]))
    g = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, S, D])],
                          outs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def reference(model, x):
    w = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    def ln(v, p):
        d = v - v.mean(-1, keepdims=True)
        return d / np.sqrt((d * d).mean(-1, keepdims=True) + 1e-5) * w[p + "g"] + w[p + "b"]

    erf = np.vectorize(math.erf)
    h = ln(x, "ln1_") @ w["w1"] + w["b1"]
    block = x + (h * (1 + erf(h / math.sqrt(2))) * 0.5) @ w["w2"] + w["b2"]
    f = ln(block, "lnf_")
    axis = model.graph.node[-1].attribute[0].i
    outs = [np.take(f, int(w["idx"]), axis=axis).astype(np.float32)]
    return outs + ([block.astype(np.float32)] if len(model.graph.output) > 1 else [])


def matmul_rows(path):
    """Rows each MatMul or Gemm multiplies: its first input's elements over its last dim."""
    m = onnx.shape_inference.infer_shapes(onnx.load(path))
    rows = {v.name: math.prod(d.dim_value for d in v.type.tensor_type.shape.dim[:-1]) for v in
            list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
    return sorted(rows.get(n.input[0], -1) for n in m.graph.node if n.op_type in ("MatMul", "Gemm"))


def case(gs, root, d, name, axis, index, also_output, pushed):
    rng = np.random.default_rng(7)
    model = build(rng, axis, index, also_output)
    src = os.path.join(d, name + ".onnx")
    onnx.save(model, src)
    data = os.path.join(d, name + "-data")
    os.makedirs(data)
    x = rng.standard_normal((1, S, D)).astype(np.float32)
    with open(os.path.join(data, "input_0.pb"), "wb") as fh:
        fh.write(numpy_helper.from_array(x, "x").SerializeToString())
    for k, v in enumerate(reference(model, x)):
        with open(os.path.join(data, f"output_{k}.pb"), "wb") as fh:
            fh.write(numpy_helper.from_array(v).SerializeToString())
    ok = True
    for label, extra in (("default", []), ("onnxruntime-cpu", ["--profile", os.path.join(root, "profiles", "onnxruntime-cpu.json")])):
        out = os.path.join(d, f"{name}-{label}.onnx")
        r = subprocess.run([gs, "optimize", src, "-o", out, "--verify", *extra], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {name} {label}: optimize exit {r.returncode}: {r.stderr.strip()}")
            ok = False
            continue
        run = subprocess.run([gs, "run", out, "--data", data], capture_output=True, text=True)
        rows = matmul_rows(out)
        shrunk = rows == [1, 1]
        good = run.returncode == 0 and shrunk == pushed
        print(("ok  " if good else "FAIL") + f" {name} {label}: matches NumPy: {run.returncode == 0}; "
              f"MatMul/Gemm rows {rows} ({'one token' if shrunk else 'whole sequence'})")
        if run.returncode != 0:
            print("     " + (run.stdout + run.stderr).strip())
        ok &= good
    return ok


def main():
    gs, root = sys.argv[1], sys.argv[2]
    ok = True
    with tempfile.TemporaryDirectory() as d:
        ok &= case(gs, root, d, "class-token", 1, 0, False, True)
        ok &= case(gs, root, d, "last-token", 1, -1, False, True)
        ok &= case(gs, root, d, "feature-axis", 2, 3, False, False)
        ok &= case(gs, root, d, "block-also-output", 1, 0, True, False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
