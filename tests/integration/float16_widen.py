#!/usr/bin/python3
"""float16 computed in float32 (profile field float16_compute, widen.c): on
a small float16 model whose interface is float32, the onnxruntime-cpu
profile makes the Conv, Relu, MaxPool and Add compute in float32 with
float32 weights, keeps the Resize (its scales are float32: not in the table)
in float16 behind a cast, keeps an intermediate graph output float16 under
its name, says so on its summary line and in --report, passes --verify (a
float16 model is judged at rtol 1e-2) and ONNX's checker with full shape
inference; the default profile and one saying "float16" keep the model's
float16 (so (x + 60000) - 60000 still overflows in the interpreter); a bad
value is refused naming the file and the field. When onnxruntime-node is
installed in bench/, ONNX Runtime gives the original's outputs for the
output: on the overflow model exactly, as it computes float16 in float32
itself.

usage: float16_widen.py GRAPHSUB"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
from ort_run import ort_modules, ort_run  # noqa: E402

N = helper.make_node
F16 = TensorProto.FLOAT16


def model():
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float16), "w"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float16), "b"),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
             numpy_helper.from_array(np.array([0.5], np.float16), "half")]
    nodes = [N("Cast", ["x"], ["xh"], to=F16),
             N("Conv", ["xh", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             N("Relu", ["c"], ["mid"]),
             N("MaxPool", ["mid"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             N("Resize", ["p", "", "scales"], ["r"], mode="nearest"),
             N("Add", ["r", "half"], ["a"]),
             N("Cast", ["a"], ["y"], to=TensorProto.FLOAT)]
    g = helper.make_graph(nodes, "f16", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8]),
                           helper.make_tensor_value_info("mid", F16, [1, 4, 8, 8])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def overflow_model():
    """(x + 60000) - 60000 in float16 between casts from and to float32."""
    g = helper.make_graph([N("Cast", ["x"], ["xh"], to=F16), N("Add", ["xh", "c"], ["t"]), N("Sub", ["t", "c"], ["yh"]),
                           N("Cast", ["yh"], ["y"], to=TensorProto.FLOAT)], "ovf",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
                          [numpy_helper.from_array(np.array(60000, np.float16), "c")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def captured_model():
    """A float16 weight read by a Conv of the main graph and, by name, by an
    If branch (a Mul there)."""
    w = numpy_helper.from_array(np.full((2, 2, 1, 1), 0.5, np.float16), "w")
    branch = lambda name: helper.make_graph([N("Mul", ["xh", "w"], [name])], name, [],
                                            [helper.make_tensor_value_info(name, F16, None)])
    nodes = [N("Cast", ["x"], ["xh"], to=F16), N("Conv", ["xh", "w"], ["c"]),
             N("If", ["cond"], ["b"], then_branch=branch("t"), else_branch=branch("e")),
             N("Add", ["c", "b"], ["a"]), N("Cast", ["a"], ["y"], to=TensorProto.FLOAT)]
    g = helper.make_graph(nodes, "cap", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 2, 2]),
                                         helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def check(cond, what):
    if not cond:
        sys.exit(f"float16_widen: FAILED: {what}")
    print(f"ok  {what}")


def optimize(gs, src, out, *extra):
    r = subprocess.run([gs, "optimize", src, "-o", out] + list(extra), capture_output=True, text=True)
    return r.returncode, r.stderr


def main():
    gs = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        src, out, rep = (os.path.join(tmp, n) for n in ("m.onnx", "o.onnx", "r.json"))
        onnx.save(model(), src)
        ortp = os.path.join(ROOT, "profiles", "onnxruntime-cpu.json")
        rc, err = optimize(gs, src, out, "--verify", "--report", rep, "--profile", ortp)
        check(rc == 0 and "4 float16 nodes computed in float32" in err,
              f"the onnxruntime-cpu profile widens Conv, Relu, MaxPool and Add and says so: {err.strip()}")
        check(json.load(open(rep)).get("widened") == 4, "--report counts them")
        m = onnx.load(out)
        g = m.graph
        inits = {t.name: t.data_type for t in g.initializer}
        check(inits.get("w") == TensorProto.FLOAT and inits.get("b") == TensorProto.FLOAT and
              F16 not in inits.values(), f"weights are float32 initializers under their names: {inits}")
        outs = {o.name: o.type.tensor_type.elem_type for o in g.output}
        check(outs == {"y": TensorProto.FLOAT, "mid": F16} and
              [i.type.tensor_type.elem_type for i in g.input] == [TensorProto.FLOAT],
              f"the interface keeps its names and types: {outs}")
        producer = {o: n for n in g.node for o in n.output}
        resize = next(n for n in g.node if n.op_type == "Resize")
        check(producer[resize.input[0]].op_type == "Cast" and producer["mid"].op_type == "Cast",
              "the Resize reads float16 through a cast, the float16 output is cast down")
        m.ir_version = min(m.ir_version, onnx.IR_VERSION)   # the opset raise may need a newer IR than this onnx knows
        onnx.checker.check_model(m, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
        declared = {v.name: v.type.tensor_type.elem_type for v in g.value_info}
        check(all(types.get(k, t) == t for k, t in declared.items()),
              f"declared types agree with ONNX shape inference: {declared}")

        cap, cap_out = os.path.join(tmp, "cap.onnx"), os.path.join(tmp, "cap.o.onnx")
        onnx.save(captured_model(), cap)
        rc, err = optimize(gs, cap, cap_out, "--verify", "--profile", ortp)
        if rc == 0:
            cm = onnx.load(cap_out)
            body = next(a.g for n in cm.graph.node if n.op_type == "If" for a in n.attribute)
            types = {t.name: t.data_type for t in list(cm.graph.initializer) + list(body.initializer)}
            mul = next(n for n in body.node if n.op_type == "Mul")
        check(rc == 0 and types.get(mul.input[1]) == F16,
              f"a float16 weight an If branch reads by name stays float16 there: {err.strip()[-200:]}")

        keep = os.path.join(tmp, "keep.json")
        json.dump({"name": "k", "peak_gflops": 50, "bandwidth_gbs": 12, "overhead_us": 3,
                   "float16_compute": "float16"}, open(keep, "w"))
        for extra, why in (([], "the default profile"), (["--profile", keep], "a profile saying float16")):
            rc, err = optimize(gs, src, out, *extra)
            kept = {t.name: t.data_type for t in onnx.load(out).graph.initializer}
            check(rc == 0 and "computed in float32" not in err and kept.get("w") == F16,
                  f"{why} keeps float16: {err.strip()}")
        bad = os.path.join(tmp, "bad.json")
        json.dump({"name": "b", "peak_gflops": 50, "bandwidth_gbs": 12, "overhead_us": 3,
                   "float16_compute": "half"}, open(bad, "w"))
        rc, err = optimize(gs, src, os.path.join(tmp, "none.onnx"), "--profile", bad)
        check(rc != 0 and "float16_compute" in err and bad in err and not os.path.exists(os.path.join(tmp, "none.onnx")),
              f"a bad float16_compute is refused naming the file and the field: {err.strip()}")

        rc, err = optimize(gs, src, out, "--profile", ortp)
        r = subprocess.run([gs, "verify", src, out, "--trials", "2"], capture_output=True, text=True)
        check(r.returncode == 0, f"verify judges a float16 model at its precision: {r.stdout.strip()}")

        for elem, dt, passes in ((F16, np.float16, True), (TensorProto.FLOAT, np.float32, False)):
            pair = []
            for k in (1.0, 1.00390625):   # 1 + 2^-8: a float16 step away from 1
                g = helper.make_graph([N("Mul", ["x", "k"], ["y"])], "mul", [helper.make_tensor_value_info("x", elem, [8])],
                                      [helper.make_tensor_value_info("y", elem, [8])],
                                      [numpy_helper.from_array(np.array(k, dt), "k")])
                pair.append(os.path.join(tmp, f"mul{elem}_{k}.onnx"))
                onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), pair[-1])
            r = subprocess.run([gs, "verify"] + pair, capture_output=True, text=True)
            strict = subprocess.run([gs, "verify"] + pair + ["--rtol", "1e-3"], capture_output=True, text=True)
            check((r.returncode == 0) == passes and strict.returncode != 0,
                  f"{np.dtype(dt).name}: a difference of 2^-8 {'passes' if passes else 'fails'} verify's default "
                  f"tolerance and fails --rtol 1e-3")

        ovf, ovf_out, ovf_keep = (os.path.join(tmp, n) for n in ("ovf.onnx", "ovf.o.onnx", "ovf.k.onnx"))
        onnx.save(overflow_model(), ovf)
        rc1, _ = optimize(gs, ovf, ovf_out, "--profile", ortp)
        rc2, _ = optimize(gs, ovf, ovf_keep)
        xs = np.array([10000, 1, -1, 0], np.float32)
        ys = {}
        for name, path in (("kept", ovf_keep), ("widened", ovf_out)):
            data = os.path.join(tmp, "data_" + name)
            os.makedirs(data)
            onnx.save_tensor(numpy_helper.from_array(xs), os.path.join(data, "input_0.pb"))
            subprocess.run([gs, "run", path, "--data", data], capture_output=True, timeout=60)
            ys[name] = numpy_helper.to_array(onnx.load_tensor(os.path.join(data, "output_0.pb")))
        check(rc1 == 0 and rc2 == 0 and np.isinf(ys["kept"][0]) and ys["widened"][0] == 10000,
              f"float16 (10000 + 60000) - 60000 overflows unless widened: {ys}")

        modules = ort_modules(ROOT)
        if modules:
            x = np.random.default_rng(2).uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)
            a, ea = ort_run(modules, src, {"x": x}, tmp, "orig")
            b, eb = ort_run(modules, out, {"x": x}, tmp, "opt")
            check(a is not None and b is not None, f"ONNX Runtime runs both: {ea or eb}")
            ya, yb = np.array(a["y"]), np.array(b["y"])
            check(np.abs(ya - yb).max() <= 1e-2 * np.abs(ya).max(), "ONNX Runtime's outputs agree")
            a, ea = ort_run(modules, ovf, {"x": xs}, tmp, "ovf")
            b, eb = ort_run(modules, ovf_out, {"x": xs}, tmp, "ovfo")
            check(a is not None and a == b and a["y"][0] == 10000,
                  f"ONNX Runtime computes the float16 original in float32 too: {a} {b} {ea or eb}")
        else:
            print("note: onnxruntime-node not installed in bench/; ONNX Runtime comparison not run")


if __name__ == "__main__":
    main()
