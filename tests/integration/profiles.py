#!/usr/bin/python3
"""Device profiles: every shipped profile loads and optimizes a model; a
profile's "rules" (paths relative to the profile) join the default rules, a
file given by both --rules and the profile is loaded once; a rule named in
"skip_rules" never applies; the ONNX Runtime profile splits a merged Q/K/V
input projection read by three Slices into three MatMuls (the query's
scale then moves into its weight), the default profile keeps it; both run
a LayerNormalization of a 3-D residual sum on its 2-D view (a default
lowering, tests/integration/residual_layernorm.py); a bad
"rules" or "skip_rules" field (a name that is no rule), or a missing rules
file, is an error naming the profile or the file, with nothing written."""
import json
import os
import glob
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RULE = {"rules": [{"name": "test-neg-of-sub", "class": "cleanup", "doc": "-(a - b) is b - a.",
                   "match": "Neg(Sub(a, b))", "rewrite": "Sub(b, a)", "check": {"a": [3], "b": [3]}}]}


def neg_sub_model():
    nodes = [helper.make_node("Sub", ["a", "b"], ["d"], name="sub"), helper.make_node("Neg", ["d"], ["y"], name="neg")]
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [4]) for n in ("a", "b")]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    return helper.make_model(helper.make_graph(nodes, "negsub", ins, [y]), opset_imports=[helper.make_opsetid("", 13)])


def pool_model(op):
    node = helper.make_node(op, ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="pool")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 6])
    return helper.make_model(helper.make_graph([node], "pool", [x], [y]), opset_imports=[helper.make_opsetid("", 13)])


def matmul_bias_model():
    rng = np.random.default_rng(5)
    inits = [numpy_helper.from_array(rng.standard_normal((256, 256)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(256).astype(np.float32), "b")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"), helper.make_node("Add", ["m", "b"], ["y"], name="add")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128, 256])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 128, 256])
    return helper.make_model(helper.make_graph(nodes, "mmb", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)])


def qkv_model():
    """nn.MultiheadAttention's export at batch 1: one input projection for Q, K and V, three Slices, heads
    split, the query divided by sqrt(head size)."""
    rng = np.random.default_rng(6)
    s_, e, h, dh = 16, 64, 4, 16
    i64 = lambda v: numpy_helper.from_array(np.array(v, dtype=np.int64))
    inits = [numpy_helper.from_array(rng.standard_normal((e, 3 * e)).astype(np.float32), "w"),
             numpy_helper.from_array(np.float32(np.sqrt(dh)), "scale")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="in_proj")]
    for k, part in enumerate("qkv"):
        for name, v in ((f"{part}_s", [k * e]), (f"{part}_e", [(k + 1) * e]), (f"{part}_a", [-1])):
            t = i64(v)
            t.name = name
            inits.append(t)
        t = i64([s_, h, dh])
        t.name = f"{part}_shape"
        inits.append(t)
        nodes += [helper.make_node("Slice", ["m", f"{part}_s", f"{part}_e", f"{part}_a"], [f"{part}0"]),
                  helper.make_node("Reshape", [f"{part}0", f"{part}_shape"], [f"{part}1"]),
                  helper.make_node("Transpose", [f"{part}1"], [f"{part}2"], perm=[1, 0, 2])]
    nodes += [helper.make_node("Div", ["q2", "scale"], ["q3"]),
              helper.make_node("Transpose", ["k2"], ["kt"], perm=[0, 2, 1]),
              helper.make_node("MatMul", ["q3", "kt"], ["sc"]),
              helper.make_node("Softmax", ["sc"], ["pr"], axis=-1),
              helper.make_node("MatMul", ["pr", "v2"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [s_, 1, e])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [h, s_, dh])
    return helper.make_model(helper.make_graph(nodes, "qkv", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)])


def layernorm_of_sum_model():
    """A transformer's residual sum and the LayerNormalization after it (opset 17)."""
    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array(rng.standard_normal(32).astype(np.float32) + 1, "gamma"),
             numpy_helper.from_array(rng.standard_normal(32).astype(np.float32), "beta")]
    nodes = [helper.make_node("Add", ["x", "r"], ["t"], name="residual"),
             helper.make_node("LayerNormalization", ["t", "gamma", "beta"], ["y"], axis=-1, epsilon=1e-5, name="ln")]
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 16, 32]) for n in ("x", "r")]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 32])
    return helper.make_model(helper.make_graph(nodes, "ln", ins, [y], inits), opset_imports=[helper.make_opsetid("", 17)])


def main():
    gs, root = sys.argv[1], sys.argv[2]
    bad = 0

    def check(ok, what):
        nonlocal bad
        bad += not ok
        print(("ok  " if ok else "FAIL") + " " + what)

    def optimize(model, out, *extra):
        rep = out + ".json"
        r = subprocess.run([gs, "optimize", model, "-o", out, "--report", rep, "--verify", "--quiet", *extra],
                           capture_output=True, text=True)
        return r, (json.load(open(rep)) if r.returncode == 0 else {})

    with tempfile.TemporaryDirectory() as d:
        example = os.path.join(root, "examples", "tiny_cnn.onnx")
        for prof in sorted(glob.glob(os.path.join(root, "profiles", "*.json"))):
            r, _ = optimize(example, os.path.join(d, "ex.onnx"), "--profile", prof)
            check(r.returncode == 0, f"{os.path.basename(prof)} optimizes the example: exit {r.returncode} {r.stderr.strip()}")

        mmb = os.path.join(d, "mmb.onnx")
        onnx.save(matmul_bias_model(), mmb)
        ort = os.path.join(root, "profiles", "onnxruntime-cpu.json")
        r, rep = optimize(mmb, os.path.join(d, "mmb.out.onnx"), "--profile", ort)
        check(rep.get("rewrites", {}).get("matmul-add-gemm-3d") == 1,
              f"onnxruntime-cpu brings its target rule: {rep.get('rewrites')} {r.stderr.strip()}")
        r2, rep2 = optimize(mmb, os.path.join(d, "mmb.out2.onnx"), "--profile", ort,
                            "--rules", os.path.join(root, "rules", "targets", "onnxruntime-cpu.json"))
        check(r2.returncode == 0 and rep2["search"]["candidates"] == rep["search"]["candidates"],
              "the same rules file through --rules and the profile is loaded once")
        r, rep = optimize(mmb, os.path.join(d, "mmb.out3.onnx"))
        check("matmul-add-gemm-3d" not in rep.get("rewrites", {}), "without the profile the target rule stays out")

        qkv = os.path.join(d, "qkv.onnx")
        onnx.save(qkv_model(), qkv)
        for extra, want in (((), {"MatMul": 3, "Slice": 3, "Div": 1}), (("--profile", ort), {"MatMul": 5, "Slice": 0, "Div": 0})):
            out = os.path.join(d, "qkv.out.onnx")
            r, rep = optimize(qkv, out, *extra)
            ops = [n.op_type for n in onnx.load(out).graph.node] if r.returncode == 0 else []
            got = {op: ops.count(op) for op in want}
            check(r.returncode == 0 and got == want,
                  f"merged Q/K/V projection {'with' if extra else 'without'} the ORT profile: {got} (want {want}) "
                  f"{rep.get('rewrites')} {r.stderr.strip()}")

        ln = os.path.join(d, "ln.onnx")
        onnx.save(layernorm_of_sum_model(), ln)
        for extra, want in (((), ["Add", "Reshape", "LayerNormalization", "Reshape"]),
                            (("--profile", ort), ["Add", "Reshape", "LayerNormalization", "Reshape"])):
            out = os.path.join(d, "ln.out.onnx")
            r, rep = optimize(ln, out, *extra)
            ops = [n.op_type for n in onnx.load(out).graph.node] if r.returncode == 0 else []
            ln_in = [n for n in onnx.load(out).graph.node if n.op_type == "LayerNormalization"] if ops else []
            flat = bool(ln_in) and ln_in[0].input[0] != "t"
            check(r.returncode == 0 and ops == want and flat,
                  f"LayerNormalization of a residual sum {'with' if extra else 'without'} the ORT profile: {ops} "
                  f"(want {want}) {r.stderr.strip()}")

        sub = os.path.join(d, "sub")
        os.mkdir(sub)
        with open(os.path.join(sub, "mine.json"), "w") as f:
            json.dump(RULE, f)
        prof = os.path.join(sub, "p.json")
        with open(prof, "w") as f:
            json.dump({"peak_gflops": 50, "bandwidth_gbs": 12, "overhead_us": 3, "rules": ["mine.json"]}, f)
        ns = os.path.join(d, "negsub.onnx")
        onnx.save(neg_sub_model(), ns)
        r, rep = optimize(ns, os.path.join(d, "ns.out.onnx"), "--profile", prof)
        check(rep.get("rewrites", {}).get("test-neg-of-sub") == 1,
              f"a relative rules path is read from the profile's folder: {rep.get('rewrites')} {r.stderr.strip()}")

        with open(prof, "w") as f:
            json.dump({"peak_gflops": 50, "bandwidth_gbs": 12, "overhead_us": 3, "rules": ["mine.json"],
                       "skip_rules": ["test-neg-of-sub"]}, f)
        r, rep = optimize(ns, os.path.join(d, "ns.out2.onnx"), "--profile", prof)
        check(r.returncode == 0 and "test-neg-of-sub" not in rep.get("rewrites", {}) and rep.get("nodes_after") == 2,
              f"skip_rules keeps a rule from applying: {rep.get('rewrites')} {r.stderr.strip()}")

        with open(prof, "w") as f:
            json.dump({"peak_gflops": 50, "bandwidth_gbs": 12, "overhead_us": 3, "opset": 20,
                       "opset_limits": {"AveragePool": 18}}, f)
        for op, want in (("AveragePool", 18), ("MaxPool", 20)):
            src = os.path.join(d, op + ".onnx")
            onnx.save(pool_model(op), src)
            r, rep = optimize(src, os.path.join(d, op + ".out.onnx"), "--profile", prof)
            check(rep.get("opset_after") == want, f"opset_limits: a model with {op} is raised to {want}: "
                  f"{rep.get('opset_after')} {r.stderr.strip()}")

        for field, want in (('"opset_limits": {"AveragePool": 18.5}', "AveragePool"),
                            ('"opset_limits": [18]', "opset_limits"),
                            ('"rules": "mine.json"', "rules"), ('"rules": ["missing.json"]', "missing.json"),
                            ('"rules": [""]', "rules"), ('"skip_rules": ["no-such-rule"]', "no-such-rule"),
                            ('"skip_rules": "mul-one"', "skip_rules"), ('"x": ]', "not valid JSON"),
                            ('"gemm_half_cols": -1', "gemm_half_cols"), ('"ops": {"Conv": 2}', "efficiency")):
            with open(prof, "w") as f:
                f.write('{"peak_gflops": 50, "bandwidth_gbs": 12, "overhead_us": 3, ' + field + "}")
            out = os.path.join(d, "never.onnx")
            r = subprocess.run([gs, "optimize", ns, "-o", out, "--profile", prof], capture_output=True, text=True)
            check(r.returncode == 3 and want in r.stderr and not os.path.exists(out),   # bad input
                  f"{field}: exit {r.returncode}: {r.stderr.strip()}")
    print(f"profiles: {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
