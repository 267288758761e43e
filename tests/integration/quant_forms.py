#!/usr/bin/python3
"""Forms that PyTorch's exporter writes and ONNX Runtime's basic level
cleans up, on small QDQ and Dropout models: a Cast of a QuantizeLinear's
output to the type it already has goes (`cast-same-type`, now that the
output's type is inferred from the zero point), one-element scales and zero
points of rank 1 become scalars (`quantize-scale-scalar`,
`dequantize-scale-scalar`: ONNX Runtime's fused QLinearAdd refuses them),
every QuantizeLinear/DequantizeLinear pair stays
(ONNX Runtime's quantized kernels are fused from them) and an int8 weight
stays behind its DequantizeLinear; a Dropout of ratio 0 in training mode goes
(`dropout-zero-ratio-elim`); and two 1x1 Convs added merge in float32 but not
in float16 (`add-pointwise-convs-concat`: exact in real arithmetic only); an
empty Constant runs under --verify; a Div or Mul by a scalar 1 goes from a
value of unknown shape (`div-one-scalar`, `mul-one-scalar`); a Cast of a
Gather at a NonZero's indices, or of a Concat of values of unknown rank, to
the type it has goes. Besides the reference
interpreter (--verify), when onnxruntime-node is installed in bench/ (npm install
--ignore-scripts) the outputs are compared there at levels disabled and all.

usage: quant_forms.py GRAPHSUB"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
BENCH = os.path.join(ROOT, "bench")
N = helper.make_node


def arr(name, v, dtype):
    return numpy_helper.from_array(np.array(v, dtype=dtype), name)


def qdq_model():
    """x -> Q -> Cast(uint8) -> DQ -> Conv(DQ(int8 w)) -> Q -> DQ -> Add(residual) -> y; the
    activations' scales and zero points of shape [1], as PyTorch's fake quantization exports them."""
    rng = np.random.default_rng(0)
    w = rng.integers(-100, 100, (4, 4, 1, 1)).astype(np.int8)
    nodes = [N("QuantizeLinear", ["x", "s", "z"], ["q"]), N("Cast", ["q"], ["qc"], to=TensorProto.UINT8),
             N("DequantizeLinear", ["qc", "s", "z"], ["d"]),
             N("DequantizeLinear", ["w", "ws"], ["wf"], axis=0),
             N("Conv", ["d", "wf"], ["c"]),
             N("QuantizeLinear", ["c", "s2", "z"], ["q2"]), N("DequantizeLinear", ["q2", "s2", "z"], ["d2"]),
             N("Add", ["d2", "d"], ["y"])]
    inits = [arr("s", [0.02], np.float32), arr("z", [128], np.uint8), arr("s2", [0.5], np.float32),
             arr("w", w, np.int8), arr("ws", [0.01, 0.02, 0.015, 0.005], np.float32)]
    g = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 3, 3])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def dropout_model():
    nodes = [N("Dropout", ["x", "r", "t"], ["d"]), N("Relu", ["d"], ["y"])]
    inits = [arr("r", 0.0, np.float32), arr("t", True, np.bool_)]
    g = helper.make_graph(nodes, "dropout", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def convs_add_model(elem):
    """Add of two 1x1 Convs (a projection shortcut): merged through a Concat in float32 only, since
    in float16 the merged sum rounds and overflows differently (`add-pointwise-convs-concat` wants
    wide_float); `graphsub optimize --verify` must pass on both."""
    rng = np.random.default_rng(1)
    dt = np.float16 if elem == TensorProto.FLOAT16 else np.float32
    nodes = [N("Conv", ["a", "w1", "b1"], ["c1"]), N("Conv", ["x", "w2", "b2"], ["c2"]), N("Add", ["c1", "c2"], ["y"])]
    inits = [arr("w1", rng.standard_normal((8, 4, 1, 1)), dt), arr("b1", rng.standard_normal(8), dt),
             arr("w2", rng.standard_normal((8, 6, 1, 1)), dt), arr("b2", rng.standard_normal(8), dt)]
    g = helper.make_graph(nodes, "convs", [helper.make_tensor_value_info("a", elem, [1, 4, 5, 5]),
                                           helper.make_tensor_value_info("x", elem, [1, 6, 5, 5])],
                          [helper.make_tensor_value_info("y", elem, [1, 8, 5, 5])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def empty_constant_model():
    """torchvision's anchor generator exports an empty int64 Constant, concatenated to a shape."""
    nodes = [N("Constant", [], ["e"], value=arr("e", np.zeros((0,), np.int64), np.int64)),
             N("Concat", ["x", "e"], ["y"], axis=0)]
    g = helper.make_graph(nodes, "empty", [helper.make_tensor_value_info("x", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.INT64, [2])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def unit_scalar_model():
    """Div and Mul by a scalar 1 of a value of unknown shape (torchvision's box coder divides the
    boxes that survive a NonZero by weights of 1); Add keeps the graph from being empty."""
    nodes = [N("Div", ["x", "one"], ["a"]), N("Mul", ["a", "one"], ["b"]), N("Add", ["b", "b"], ["y"])]
    g = helper.make_graph(nodes, "unit", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [arr("one", 1.0, np.float32)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def nonzero_gather_model():
    """Anchors gathered at the indices a NonZero finds, then cast to float32 (their type already),
    as torchvision's detection heads do: the Cast goes once the Gather's type is known."""
    nodes = [N("NonZero", ["s"], ["nz"]), N("Squeeze", ["nz", "zero"], ["idx"]),
             N("Gather", ["anchors", "idx"], ["g"]), N("Cast", ["g"], ["y"], to=TensorProto.FLOAT)]
    inits = [arr("anchors", np.arange(16).reshape(4, 4), np.float32), arr("zero", [0], np.int64)]
    g = helper.make_graph(nodes, "nz", [helper.make_tensor_value_info("s", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def concat_cast_model():
    """Two values of unknown rank concatenated, then cast to float32 (their type already), as
    Faster R-CNN's box pooling does with its proposals: the Cast goes once the Concat's type is known."""
    nodes = [N("Concat", ["a", "b"], ["c"], axis=0), N("Cast", ["c"], ["y"], to=TensorProto.FLOAT)]
    vi = helper.make_tensor_value_info
    g = helper.make_graph(nodes, "cc", [vi("a", TensorProto.FLOAT, None), vi("b", TensorProto.FLOAT, None)],
                          [vi("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def main():
    gs = sys.argv[1]
    bad = 0

    def check(cond, what):
        nonlocal bad
        bad += not cond
        print(f"{'ok' if cond else 'FAILED'}  {what}")

    ort = shutil.which("node") and os.path.isdir(os.path.join(BENCH, "node_modules", "onnxruntime-node"))
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in (("qdq", qdq_model()), ("dropout", dropout_model())):
            src, out, rep = (os.path.join(tmp, name + s) for s in (".onnx", ".opt.onnx", ".json"))
            onnx.save(model, src)
            r = subprocess.run([gs, "optimize", src, "-o", out, "--report", rep, "--verify", "--quiet"],
                               capture_output=True, text=True)
            check(r.returncode == 0, f"{name}: optimize exits 0 {r.stderr.strip()}")
            if r.returncode:
                continue
            g = onnx.load(out).graph
            ops = [n.op_type for n in g.node]
            rewrites = json.load(open(rep))["rewrites"]
            if name == "qdq":
                inits = {t.name: t for t in g.initializer}
                ranks = {i: len(inits[i].dims) for n in g.node if n.op_type.endswith("QuantizeLinear")
                         for i in n.input[1:] if i in inits and n.input[0] != "w"}
                check("Cast" not in ops and rewrites.get("cast-same-type") == 1,
                      f"qdq: the Cast to uint8 after QuantizeLinear goes: {ops}")
                check(ops.count("QuantizeLinear") == 2 and ops.count("DequantizeLinear") == 3,
                      "qdq: every QuantizeLinear/DequantizeLinear pair and the weight's DequantizeLinear stay")
                check(any(t.data_type == TensorProto.INT8 for t in g.initializer),
                      "qdq: the int8 weight stays int8 (not folded through its DequantizeLinear)")
                check(ranks and all(r == 0 for r in ranks.values()),
                      f"qdq: activation scales and zero points are scalars: {ranks}")
            else:
                check(ops == ["Relu"] and rewrites.get("dropout-zero-ratio-elim") == 1,
                      f"dropout: a Dropout of ratio 0 in training mode goes: {ops}")
            if not ort:
                print(f"skip  {name}: ONNX Runtime comparison (no bench/node_modules/onnxruntime-node)")
                continue
            r = subprocess.run(["node", os.path.join(BENCH, "ort_check.js"), src, out, "--levels", "disabled,all"],
                               capture_output=True, text=True)
            res = json.loads(r.stdout) if r.returncode == 0 else {"levels": [{"error": r.stderr.strip()}]}
            errs = [lv.get("error") for lv in res["levels"] if lv.get("error")]
            check(not errs and all(lv["diff"]["abs"] == 0 for lv in res["levels"]),
                  f"{name}: ONNX Runtime gives the same outputs at disabled and all: {errs or res['levels']}")
        for elem, merged in ((TensorProto.FLOAT, True), (TensorProto.FLOAT16, False)):
            src, out, rep = (os.path.join(tmp, f"convs{elem}" + s) for s in (".onnx", ".opt.onnx", ".json"))
            onnx.save(convs_add_model(elem), src)
            r = subprocess.run([gs, "optimize", src, "-o", out, "--report", rep, "--verify", "--quiet",
                                "--profile", os.path.join(ROOT, "profiles", "unfused-x86-64.json")],
                               capture_output=True, text=True)
            rewrites = json.load(open(rep))["rewrites"] if r.returncode == 0 else {}
            kind = "float32" if elem == TensorProto.FLOAT else "float16"
            check(r.returncode == 0 and ("add-pointwise-convs-concat" in rewrites) == merged,
                  f"{kind}: two 1x1 Convs added {'merge' if merged else 'stay'}, --verify passes: {rewrites} "
                  f"{r.stderr.strip()}")
        src, out = os.path.join(tmp, "unit.onnx"), os.path.join(tmp, "unit.opt.onnx")
        onnx.save(unit_scalar_model(), src)
        r = subprocess.run([gs, "optimize", src, "-o", out, "--quiet"], capture_output=True, text=True)
        ops = [n.op_type for n in onnx.load(out).graph.node] if r.returncode == 0 else r.stderr.strip()
        check(ops == ["Add"], f"Div and Mul by a scalar 1 go from a value of unknown shape: {ops}")
        src, out = os.path.join(tmp, "nz.onnx"), os.path.join(tmp, "nz.opt.onnx")
        onnx.save(nonzero_gather_model(), src)
        r = subprocess.run([gs, "optimize", src, "-o", out, "--quiet"], capture_output=True, text=True)
        ops = [n.op_type for n in onnx.load(out).graph.node] if r.returncode == 0 else r.stderr.strip()
        check(isinstance(ops, list) and "Cast" not in ops and "Gather" in ops,
              f"the Cast of a Gather at NonZero's indices to the type it has goes: {ops}")
        src, out = os.path.join(tmp, "cc.onnx"), os.path.join(tmp, "cc.opt.onnx")
        onnx.save(concat_cast_model(), src)
        r = subprocess.run([gs, "optimize", src, "-o", out, "--quiet"], capture_output=True, text=True)
        ops = [n.op_type for n in onnx.load(out).graph.node] if r.returncode == 0 else r.stderr.strip()
        check(ops == ["Concat"], f"the Cast of a Concat of values of unknown rank to the type it has goes: {ops}")
        src, out = os.path.join(tmp, "empty.onnx"), os.path.join(tmp, "empty.opt.onnx")
        onnx.save(empty_constant_model(), src)
        r = subprocess.run([gs, "optimize", src, "-o", out, "--verify", "--quiet"], capture_output=True, text=True)
        check(r.returncode == 0, f"an empty Constant runs in the reference interpreter (--verify) {r.stderr.strip()}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
