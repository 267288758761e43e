#!/usr/bin/python3
"""A Gather that picks one token of an attention block's output (a ViT's
class token, as nn.MultiheadAttention exports it at batch 1, sequence first)
moves up through the block: the output projection (a Gemm), the head merge
(Reshape, Transpose), the probabilities times V and the Softmax of the scores
then run for that token only; K and V stay whole.

Builds the block, optimizes it with default options and with the ONNX
Runtime profile (`--verify`), checks that the output projection and both
batched MatMuls work on one row, and that the output equals an independent
NumPy computation (`graphsub run --data`).
"""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

S, E, H = 6, 8, 2   # tokens, width, heads
DH = E // H


def c(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def build(rng):
    inits = [c("wq", rng.standard_normal((E, E)).astype(np.float32)),
             c("wk", rng.standard_normal((E, E)).astype(np.float32)),
             c("wv", rng.standard_normal((E, E)).astype(np.float32)),
             c("wo", rng.standard_normal((E, E)).astype(np.float32)),
             c("bo", rng.standard_normal(E).astype(np.float32)),
             c("heads", np.array([S, H, DH], np.int64)), c("flat", np.array([S, E], np.int64)),
             c("front", np.array([1, S, E], np.int64)), c("idx", np.int64(0))]
    nodes = []
    for p in "qkv":
        nodes += [helper.make_node("MatMul", ["x", "w" + p], [p + "0"]),
                  helper.make_node("Reshape", [p + "0", "heads"], [p + "1"])]
    nodes += [helper.make_node("Transpose", ["q1"], ["q"], perm=[1, 0, 2]),
              helper.make_node("Transpose", ["k1"], ["kt"], perm=[1, 2, 0]),
              helper.make_node("Transpose", ["v1"], ["v"], perm=[1, 0, 2]),
              helper.make_node("MatMul", ["q", "kt"], ["sc"]),
              helper.make_node("Softmax", ["sc"], ["pr"], axis=-1),
              helper.make_node("MatMul", ["pr", "v"], ["ctx"]),
              helper.make_node("Transpose", ["ctx"], ["ct"], perm=[1, 0, 2]),
              helper.make_node("Reshape", ["ct", "flat"], ["cf"]),
              helper.make_node("Gemm", ["cf", "wo", "bo"], ["o"], transB=1),
              helper.make_node("Reshape", ["o", "front"], ["of"]),
              helper.make_node("Gather", ["of", "idx"], ["y"], axis=1)]
    g = helper.make_graph(nodes, "attn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [S, E])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, E])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def reference(model, x):
    w = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    q, k, v = ((x @ w["w" + p]).reshape(S, H, DH).transpose(1, 0, 2) for p in "qkv")
    sc = q @ k.transpose(0, 2, 1)
    pr = np.exp(sc - sc.max(-1, keepdims=True))
    pr /= pr.sum(-1, keepdims=True)
    o = (pr @ v).transpose(1, 0, 2).reshape(S, E) @ w["wo"].T + w["bo"]
    return o[:1].astype(np.float32)


def rows(path):
    """Rows of the left operand of the out projection and of the two batched MatMuls."""
    m = onnx.shape_inference.infer_shapes(onnx.load(path))
    shape = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in
             list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
    out = []
    for n in m.graph.node:
        a = shape.get(n.input[0], [])
        if n.op_type == "Gemm" or (n.op_type == "MatMul" and len(a) == 3 and len(shape.get(n.input[1], [])) == 3):
            out.append(a[-2] if len(a) >= 2 else -1)
    return out


def main():
    gs, root = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(11)
    model = build(rng)
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        src, data = os.path.join(d, "attn.onnx"), os.path.join(d, "data")
        onnx.save(model, src)
        os.makedirs(data)
        x = rng.standard_normal((S, E)).astype(np.float32)
        for name, a in (("input_0.pb", x), ("output_0.pb", reference(model, x))):
            with open(os.path.join(data, name), "wb") as fh:
                fh.write(numpy_helper.from_array(a).SerializeToString())
        for label, extra in (("default", []), ("onnxruntime-cpu", ["--profile", os.path.join(root, "profiles", "onnxruntime-cpu.json")])):
            out = os.path.join(d, f"attn-{label}.onnx")
            r = subprocess.run([gs, "optimize", src, "-o", out, "--verify", *extra], capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL {label}: optimize exit {r.returncode}: {r.stderr.strip()}")
                bad += 1
                continue
            got = rows(out)
            run = subprocess.run([gs, "run", out, "--data", data], capture_output=True, text=True)
            ok = len(got) == 3 and all(n == 1 for n in got) and run.returncode == 0
            bad += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {label}: rows of the out projection and batched MatMuls {got}, "
                  f"run exit {run.returncode} {run.stderr.strip()}")
    print(f"{2 - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
