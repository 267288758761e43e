#!/usr/bin/python3
"""`graphsub optimize --opset N`: a written-out LayerNormalization and GELU at
opset 13 become LayerNormalization and Gelu once the model is raised to opset
20 (ReduceMean's axes move to an input, the IR version rises); the result
passes onnx's checker and `--verify`. A model with an op whose meaning
changed (RoiAlign) is refused with exit 3 naming it, and nothing is written.
A device profile's "opset" raises the same way, and leaves a model it cannot
raise at its opset."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def const(name, value):
    return numpy_helper.from_array(np.array(value, dtype=np.float32), name)


def block():
    """x -> LayerNorm(x) * g + b -> GELU (erf form), as exporters write them at opset 13."""
    n = helper.make_node
    nodes = [
        n("ReduceMean", ["x"], ["m"], axes=[-1], name="ln/mean"),
        n("Sub", ["x", "m"], ["d"], name="ln/sub"),
        n("Pow", ["d", "two"], ["d2"], name="ln/pow"),
        n("ReduceMean", ["d2"], ["v"], axes=[-1], name="ln/var"),
        n("Add", ["v", "eps"], ["ve"], name="ln/add_eps"),
        n("Sqrt", ["ve"], ["s"], name="ln/sqrt"),
        n("Div", ["d", "s"], ["nrm"], name="ln/div"),
        n("Mul", ["nrm", "g"], ["sc"], name="ln/scale"),
        n("Add", ["sc", "b"], ["h"], name="ln/shift"),
        n("Div", ["h", "r2"], ["hd"], name="gelu/div"),
        n("Erf", ["hd"], ["e"], name="gelu/erf"),
        n("Add", ["e", "one"], ["e1"], name="gelu/add"),
        n("Mul", ["h", "e1"], ["he"], name="gelu/mul"),
        n("Mul", ["he", "half"], ["y"], name="gelu/half"),
    ]
    rng = np.random.default_rng(3)
    inits = [const("two", 2.0), const("eps", 1e-5), const("r2", 1.4142135), const("one", 1.0),
             const("half", 0.5), const("g", rng.uniform(0.5, 1.5, 16)), const("b", rng.uniform(-1, 1, 16))]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5, 16])
    return helper.make_model(helper.make_graph(nodes, "block", [x], [y], inits),
                             opset_imports=[helper.make_opsetid("", 13)], ir_version=7)


def roialign():
    n = helper.make_node("RoiAlign", ["x", "rois", "idx"], ["y"], name="roi")
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8]),
           helper.make_tensor_value_info("rois", TensorProto.FLOAT, [1, 4]),
           helper.make_tensor_value_info("idx", TensorProto.INT64, [1])]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    return helper.make_model(helper.make_graph([n], "roi", ins, [y]),
                             opset_imports=[helper.make_opsetid("", 13)])


def cleanups():
    """x -> Dropout -> Reshape -> Reshape -> Unsqueeze -> Squeeze -> Pad of zeros -> Relu: each a
    cleanup rule removes, whatever opset the model is raised to."""
    n = helper.make_node
    ints = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.int64), name)
    nodes = [n("Dropout", ["x"], ["a"]), n("Reshape", ["a", "s1"], ["b"]), n("Reshape", ["b", "s2"], ["c"]),
             n("Unsqueeze", ["c", "ax"], ["d"]), n("Squeeze", ["d", "ax"], ["e"]),
             n("Pad", ["e", "pads"], ["f"]), n("Relu", ["f"], ["y"])]
    g = helper.make_graph(nodes, "cleanups", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [6, 4])],
                          [ints("s1", [3, 2, 4]), ints("s2", [6, 4]), ints("ax", [0]), ints("pads", [0, 0, 0, 0])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def main():
    gs = sys.argv[1]
    bad = 0

    def check(ok, what):
        nonlocal bad
        bad += not ok
        print(("ok  " if ok else "FAIL") + " " + what)

    with tempfile.TemporaryDirectory() as d:
        src, out = os.path.join(d, "block.onnx"), os.path.join(d, "out.onnx")
        onnx.save(block(), src)
        r = subprocess.run([gs, "optimize", src, "-o", out, "--opset", "20", "--verify", "--quiet"],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"--opset 20 --verify exits 0 ({r.returncode}: {r.stderr.strip()})")
        if r.returncode == 0:
            m = onnx.load(out)
            ops = [n.op_type for n in m.graph.node]
            check(m.opset_import[0].version == 20 and m.ir_version >= 9,
                  f"opset 20, IR version {m.ir_version}")
            check(ops == ["LayerNormalization", "Gelu"], f"fused to {ops}")
        # Debian's onnx checks models up to its own opset (17 with onnx 1.12): check
        # at 17, where only the LayerNorm fuses.
        r = subprocess.run([gs, "optimize", src, "-o", out, "--opset", "17", "--verify", "--quiet"],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"--opset 17 --verify exits 0 ({r.returncode}: {r.stderr.strip()})")
        if r.returncode == 0:
            m = onnx.load(out)
            ops = [n.op_type for n in m.graph.node]
            check(ops[0] == "LayerNormalization" and "Erf" in ops, f"at 17: {ops}")
            try:
                onnx.checker.check_model(m, full_check=True)
                check(True, "onnx checker accepts the opset-17 result")
            except Exception as e:   # noqa: BLE001 - report any checker failure
                check(False, f"onnx checker: {e}")
        r = subprocess.run([gs, "optimize", src, "-o", out, "--quiet"], capture_output=True, text=True)
        kept = onnx.load(out) if r.returncode == 0 else None
        check(kept is not None and kept.opset_import[0].version == 13 and
              "LayerNormalization" not in [n.op_type for n in kept.graph.node],
              "without --opset the opset and the written-out forms stay")
        clean = os.path.join(d, "clean.onnx")
        onnx.save(cleanups(), clean)
        for opset in (13, 21, 23, 24):
            r = subprocess.run([gs, "optimize", clean, "-o", out, "--opset", str(opset), "--verify", "--quiet"],
                               capture_output=True, text=True)
            ops = [n.op_type for n in onnx.load(out).graph.node] if r.returncode == 0 else r.stderr.strip()
            check(ops == ["Reshape", "Relu"], f"--opset {opset}: Dropout, Reshape pair, Unsqueeze/Squeeze, "
                  f"zero Pad cleaned up: {ops}")
        roi, out2 = os.path.join(d, "roi.onnx"), os.path.join(d, "roi.out.onnx")
        onnx.save(roialign(), roi)
        r = subprocess.run([gs, "optimize", roi, "-o", out2, "--opset", "20"], capture_output=True, text=True)
        check(r.returncode == 3 and "RoiAlign" in r.stderr and not os.path.exists(out2),
              f"RoiAlign refused: exit {r.returncode}: {r.stderr.strip()}")
        # A profile's "opset" raises the same way, and skips a model it cannot raise.
        prof = os.path.join(d, "p.json")
        with open(prof, "w") as f:
            f.write('{"peak_gflops": 50, "bandwidth_gbs": 12, "overhead_us": 3, "opset": 20}')
        rep = os.path.join(d, "rep.json")
        r = subprocess.run([gs, "optimize", src, "-o", out, "--profile", prof, "--report", rep, "--verify",
                            "--quiet"], capture_output=True, text=True)
        m = onnx.load(out) if r.returncode == 0 else None
        report = json.load(open(rep)) if r.returncode == 0 else {}
        check(m is not None and [n.op_type for n in m.graph.node] == ["LayerNormalization", "Gelu"] and
              (report.get("opset_before"), report.get("opset_after")) == (13, 20),
              f"profile opset 20: exit {r.returncode}, {report.get('opset_before')} -> {report.get('opset_after')}")
        r = subprocess.run([gs, "optimize", roi, "-o", out2, "--profile", prof, "--quiet"],
                           capture_output=True, text=True)
        check(r.returncode == 0 and onnx.load(out2).opset_import[0].version == 13,
              f"profile opset 20 leaves the RoiAlign model at 13: exit {r.returncode}: {r.stderr.strip()}")
        with open(prof, "w") as f:
            f.write('{"peak_gflops": 50, "bandwidth_gbs": 12, "overhead_us": 3, "opset": 2.5}')
        r = subprocess.run([gs, "optimize", src, "-o", out2 + "x", "--profile", prof], capture_output=True, text=True)
        check(r.returncode != 0 and "opset" in r.stderr and not os.path.exists(out2 + "x"),
              f"a fractional profile opset is refused: exit {r.returncode}: {r.stderr.strip()}")
    print(f"opset raise: {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
