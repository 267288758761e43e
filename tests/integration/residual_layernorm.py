#!/usr/bin/python3
"""A LayerNormalization of a 3-D residual sum runs on its 2-D view with the
default rules (rule residual-layernorm-as-2d), with static dims (the shape
back is a constant) and with dynamic ones (the shape back is the sum's
Shape): outputs equal (--verify), onnx.checker passes, and, when
onnxruntime-node is installed, ONNX Runtime at level all keeps the Add and the
LayerNormalization (no SkipLayerNormalization, which is slower on its CPU
provider: bench/skip_layernorm.py) and gives the original's outputs. A
LayerNormalization not fed by a residual Add, or over another axis, is left
as it is."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

H = 32

ORT_SCRIPT = """
const ort = require(process.argv[2] + '/onnxruntime-node');
(async () => {
  const x = Float32Array.from(JSON.parse(process.argv[4]));
  const out = {};
  for (const m of [process.argv[3], process.argv[5]]) {
    const s = await ort.InferenceSession.create(m, { graphOptimizationLevel: 'all', intraOpNumThreads: 1,
                                                     optimizedModelFilePath: m + '.all.onnx' });
    const r = await s.run({ x: new ort.Tensor('float32', x, [2, 5, %d]) });
    out[m] = Array.from(r[s.outputNames[0]].data);
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e.message); process.exit(1); });
""" % H


def model(dims, axis=-1, residual=True):
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal((H, H)).astype(np.float32) / 4, "w"),
             numpy_helper.from_array(rng.standard_normal(H).astype(np.float32) + 1, "gamma"),
             numpy_helper.from_array(rng.standard_normal(H).astype(np.float32), "beta")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"])]
    nodes.append(helper.make_node("Add", ["x", "m"], ["t"]) if residual else helper.make_node("Relu", ["m"], ["t"]))
    nodes += [helper.make_node("LayerNormalization", ["t", "gamma", "beta"], ["n"], axis=axis, epsilon=1e-5),
              helper.make_node("MatMul", ["n", "w"], ["y"])]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, dims) for n in ("x", "y")]
    g = helper.make_graph(nodes, "residual_ln", io[:1], io[1:], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def ort_modules():
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    modules = os.path.abspath(os.environ.get("ORT_NODE_MODULES") or os.path.join(src, "bench", "node_modules"))
    has_node = subprocess.run(["sh", "-c", "command -v node"], capture_output=True).returncode == 0
    return modules if has_node and os.path.isdir(os.path.join(modules, "onnxruntime-node")) else None


def main():
    gs = sys.argv[1]
    bad = 0

    def check(ok, what):
        nonlocal bad
        bad += not ok
        print(("ok   " if ok else "FAIL ") + what)

    modules = ort_modules()
    print("onnxruntime-node: " + (modules or "not installed, the ONNX Runtime checks are not run"))
    with tempfile.TemporaryDirectory() as d:
        cases = (("static", [2, 5, H], -1, True, ["MatMul", "Add", "Reshape", "LayerNormalization", "Reshape", "MatMul"]),
                 ("dynamic", ["batch", "seq", H], -1, True,
                  ["MatMul", "Add", "Reshape", "LayerNormalization", "Shape", "Reshape", "MatMul"]),
                 ("axis 2", ["batch", "seq", H], 2, True,
                  ["MatMul", "Add", "Reshape", "LayerNormalization", "Shape", "Reshape", "MatMul"]),
                 ("no residual Add", ["batch", "seq", H], -1, False, ["MatMul", "Relu", "LayerNormalization", "MatMul"]),
                 ("over two axes", [2, 5, H], 1, True, ["MatMul", "Add", "LayerNormalization", "MatMul"]))
        for name, dims, axis, residual, want in cases:
            src, out = os.path.join(d, "m.onnx"), os.path.join(d, "m.opt.onnx")
            m = model(dims, axis, residual)
            if axis == 1:   # normalized over [5, H]: scale and bias of that shape
                for t in m.graph.initializer[1:]:
                    t.CopyFrom(numpy_helper.from_array(np.tile(numpy_helper.to_array(t), (5, 1)), t.name))
            onnx.save(m, src)
            r = subprocess.run([gs, "optimize", src, "-o", out, "--verify", "--quiet"], capture_output=True, text=True)
            ops = [n.op_type for n in onnx.load(out).graph.node] if r.returncode == 0 else []
            check(r.returncode == 0 and ops == want, f"{name}: {ops} (want {want}) {r.stderr.strip()}")
            if r.returncode:
                continue
            try:
                onnx.checker.check_model(onnx.load(out), full_check=True)
                check(True, f"{name}: onnx.checker passes")
            except Exception as e:  # noqa: BLE001 - any checker failure is the finding
                check(False, f"{name}: onnx.checker: {e}")
            if not modules or not residual or axis == 1:
                continue
            x = np.random.default_rng(5).standard_normal(2 * 5 * H).astype(np.float32)
            script = os.path.join(d, "run.js")
            with open(script, "w") as f:
                f.write(ORT_SCRIPT)
            r = subprocess.run(["node", script, modules, src, json.dumps(x.tolist()), out],
                               capture_output=True, text=True)
            if r.returncode:
                check(False, f"{name}: ONNX Runtime: {r.stderr.strip()}")
                continue
            res = json.loads(r.stdout)
            diff = float(np.max(np.abs(np.array(res[src]) - np.array(res[out]))))
            check(diff < 1e-4, f"{name}: ONNX Runtime at level all gives the original's outputs (max diff {diff:.2g})")
            fused = lambda p: [n.op_type for n in onnx.load(p + ".all.onnx").graph.node]
            check("SkipLayerNormalization" in fused(src) and "SkipLayerNormalization" not in fused(out),
                  f"{name}: ONNX Runtime at level all fuses the original's Add and LayerNormalization "
                  f"({fused(src)}), not graphsub's ({fused(out)})")
    print(f"residual_layernorm: {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
