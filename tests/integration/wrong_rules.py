#!/usr/bin/python3
"""Rules that would change a model's results are caught or do not fire.

- `rules check` draws inputs from several ranges and names the one that
  failed: Clip(x, -1, 1) -> x fails on large values, Log(Exp(x)) -> x too,
  Sqrt(Neg(Abs(x))) -> Abs(x) because a NaN on one side only is a
  mismatch, x / x -> 1 on zeros (tests/data/wrong_rules.json).
- A pattern node matches only when the attributes it does not mention are
  absent or at their defaults (unless the rewrite copies them): a
  BatchNormalization with training_mode=1 (or of opset 6 without
  is_test=1) is not folded into its Conv, two
  Convs with auto_pad=SAME_UPPER are not merged into one without it; a
  PyTorch-style BatchNormalization (momentum=0.9) still folds.
- Rules exact only in real arithmetic keep to float32/float64 and moderate
  constants: float16 (x + 60000) - 60000 keeps its overflow; Log(Exp(x)) is
  not in the library.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper
from onnx import numpy_helper as nh

RNG = np.random.default_rng(0)


def save(path, nodes, ins, outs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", ins, outs, list(inits))
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def vi(name, dtype=T.FLOAT, shape=None):
    return helper.make_tensor_value_info(name, dtype, shape)


def weight(name, shape, lo=-1, hi=1):
    return nh.from_array(RNG.uniform(lo, hi, shape).astype(np.float32), name)


def conv_bn(path, opset=15, **bn_attrs):
    bn = [weight("s", [4]), weight("beta", [4]), weight("mean", [4]), weight("var", [4], 0.5, 2)]
    return save(path, [helper.make_node("Conv", ["x", "w"], ["c"]),
                       helper.make_node("BatchNormalization", ["c", "s", "beta", "mean", "var"], ["y"], **bn_attrs)],
                [vi("x", shape=[1, 3, 6, 6])], [vi("y")], [weight("w", [4, 3, 3, 3])] + bn, opset=opset)


def optimize(gs, src, d):
    out, rep = os.path.join(d, "out.onnx"), os.path.join(d, "rep.json")
    r = subprocess.run([gs, "optimize", src, "-o", out, "--report", rep, "--quiet"], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        return None, {}, r.stderr.strip()
    ops = [n.op_type for n in onnx.load(out).graph.node]
    return out, json.load(open(rep))["rewrites"], ops


def main():
    gs, root = sys.argv[1], sys.argv[2]
    failures = 0

    def report(ok, what):
        nonlocal failures
        print(("ok  " if ok else "FAIL") + " " + what)
        failures += not ok

    r = subprocess.run([gs, "rules", "check", os.path.join(root, "tests", "data", "wrong_rules.json")],
                       capture_output=True, text=True, timeout=60)
    lines = {l.split()[1].rstrip(":"): l for l in r.stdout.splitlines() if l.startswith(("ok", "FAILED", "unchecked"))}
    for name, rng in [("clip-drop-wrong", "[-10000, 10000)"), ("sqrt-neg-abs-wrong", "[-1, 1)"),
                      ("log-exp-wrong", "[-10000, 10000)"), ("div-self-wrong", "zeros")]:
        line = lines.get(name, "")
        report(line.startswith("FAILED") and rng in line, f"rules check catches {name} on {rng}: {line}")
    report(r.returncode == 1, f"rules check of wrong rules exits 1 (exit {r.returncode})")

    with tempfile.TemporaryDirectory() as d:
        p = lambda n: os.path.join(d, n)
        _, rw, ops = optimize(gs, conv_bn(p("bn_train.onnx"), training_mode=1), d)
        report("BatchNormalization" in ops and not rw, f"BatchNormalization training_mode=1 not folded: {rw} {ops}")
        _, rw, ops = optimize(gs, conv_bn(p("bn_opset6.onnx"), opset=6), d)
        report("BatchNormalization" in ops and not rw, f"opset 6 BatchNormalization without is_test (training) "
               f"not folded: {rw} {ops}")
        _, rw, ops = optimize(gs, conv_bn(p("bn_torch.onnx"), momentum=0.9, epsilon=1e-5), d)
        report(rw.get("conv-bn-fold") == 1 and "BatchNormalization" not in ops,
               f"BatchNormalization momentum=0.9 (inference) still folds: {rw} {ops}")

        ws = [weight("w1", [4, 3, 3, 3]), weight("w2", [4, 3, 3, 3])]
        src = save(p("autopad.onnx"), [
            helper.make_node("Conv", ["x", "w1"], ["y1"], kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
            helper.make_node("Conv", ["x", "w2"], ["y2"], kernel_shape=[3, 3], auto_pad="SAME_UPPER")],
            [vi("x", shape=[1, 3, 6, 6])], [vi("y1"), vi("y2")], ws)
        out, rw, ops = optimize(gs, src, d)
        v = subprocess.run([gs, "verify", src, out], capture_output=True, text=True, timeout=60) if out else None
        report(out and v.returncode == 0 and "parallel-conv-merge" not in rw,
               f"Convs with auto_pad=SAME_UPPER not merged without it: {rw} "
               f"{v.stdout.strip().splitlines()[-1] if v else ops}")

        c = nh.from_array(np.array(60000, np.float16), "c")
        src = save(p("fp16.onnx"), [helper.make_node("Add", ["x", "c"], ["t"]), helper.make_node("Sub", ["t", "c"], ["y"])],
                   [vi("x", T.FLOAT16, [4])], [vi("y", T.FLOAT16, [4])], [c])
        out, rw, ops = optimize(gs, src, d)
        report(out is not None and "Add" in ops and not rw.get("add-add-const"),
               f"float16 (x + 60000) - 60000 keeps its overflow: {rw} {ops}")
        if out:
            data = p("data")
            os.makedirs(data)
            onnx.save_tensor(nh.from_array(np.array([10000, 1, -1, 0], np.float16)), os.path.join(data, "input_0.pb"))
            subprocess.run([gs, "run", out, "--data", data], capture_output=True, timeout=60)
            y = nh.to_array(onnx.load_tensor(os.path.join(data, "output_0.pb")))
            report(np.isinf(y[0]), f"float16 (10000 + 60000) - 60000 is still inf after optimize: {y}")

        src = save(p("logexp.onnx"), [helper.make_node("Neg", ["x"], ["n"]), helper.make_node("Exp", ["n"], ["e"]),
                                      helper.make_node("Log", ["e"], ["l"]), helper.make_node("Relu", ["l"], ["y"])],
                   [vi("x", shape=[4])], [vi("y", shape=[4])])
        out, rw, ops = optimize(gs, src, d)
        report(out is not None and "Log" in ops and "Exp" in ops, f"Log(Exp(x)) kept: {rw} {ops}")
    print("wrong-rules:", "all passed" if not failures else f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
