#!/usr/bin/python3
"""`graphsub verify` never says "equal" wrongly: inputs are bound by name,
models whose inputs or outputs differ are refused (exit 1), `--dim` values
are parsed strictly (exit 2), a model without outputs is refused, inputs
are drawn from several ranges (a Clip removed shows on large values) and a
NaN on one side only is a mismatch; success prints a summary line with the
number of trials run (two at least when a symbolic dim is left unbound)."""
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import TensorProto, helper


def model(path, nodes, inputs, outputs, opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(m, path)
    return path


def tensor(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def sub(path, a, b, order=("x", "z"), dtype=TensorProto.FLOAT, shapes=None, out="y"):
    shapes = shapes or {"x": [2, 3], "z": [2, 3]}
    return model(path, [helper.make_node("Sub", [a, b], [out])],
                 [tensor(n, shapes[n], dtype) for n in order], [tensor(out, None, dtype)])


def unary(path, ops, shape=("N", 4)):
    nodes, prev = [], "x"
    for i, op in enumerate(ops):
        out = "y" if i == len(ops) - 1 else f"t{i}"
        if op == "Clip":
            nodes.append(helper.make_node("Clip", [prev, "lo", "hi"], [out]))
        else:
            nodes.append(helper.make_node(op, [prev], [out]))
        prev = out
    g = helper.make_graph(nodes, "g", [tensor("x", list(shape))], [tensor("y", None)],
                          [helper.make_tensor("lo", TensorProto.FLOAT, [], [-1.0]),
                           helper.make_tensor("hi", TensorProto.FLOAT, [], [1.0])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def main():
    gs = sys.argv[1]
    failures = 0

    def check(what, args, code, needle=None):
        nonlocal failures
        r = subprocess.run([gs, "verify", *args], capture_output=True, text=True, timeout=60)
        text = r.stdout + r.stderr
        ok = r.returncode == code and (needle is None or needle in text)
        print(("ok  " if ok else "FAIL") + f" {what}: exit {r.returncode}: {text.strip()[-300:]}")
        failures += not ok

    with tempfile.TemporaryDirectory() as d:
        p = lambda n: os.path.join(d, n)
        xz = sub(p("xz.onnx"), "x", "z")
        zx_swapped = sub(p("zx.onnx"), "z", "x", order=("z", "x"))
        xz_reordered = sub(p("xz2.onnx"), "x", "z", order=("z", "x"))
        check("x - z against z - x with the inputs listed in the other order", [xz, zx_swapped], 1, "MISMATCH")
        check("x - z against x - z with the inputs listed in the other order", [xz, xz_reordered], 0, "agree")
        check("a differing input dtype", [xz, sub(p("d.onnx"), "x", "z", dtype=TensorProto.DOUBLE)], 1,
              "input 'x' is float32 in the first model and float64 in the second")
        check("a differing input shape", [xz, sub(p("s.onnx"), "x", "z", shapes={"x": [3, 2], "z": [3, 2]})],
              1, "dim 0 is 2 in the first model and 3 in the second")
        check("a differing input rank", [xz, sub(p("r.onnx"), "x", "z", shapes={"x": [6], "z": [6]})],
              1, "rank 2 in the first model and 1 in the second")
        check("a differing input name", [xz, model(p("n.onnx"), [helper.make_node("Sub", ["x", "w"], ["y"])],
                                                  [tensor("x", [2, 3]), tensor("w", [2, 3])], [tensor("y", None)])],
              1, "input 'z' of the first model is not an input of the second")
        check("a differing output name", [xz, sub(p("o.onnx"), "x", "z", out="q")], 1,
              "output 'y' of the first model is not an output of the second")
        cast = model(p("cast.onnx"), [helper.make_node("Sub", ["x", "z"], ["t"]),
                                     helper.make_node("Cast", ["t"], ["y"], to=TensorProto.DOUBLE)],
                     [tensor("x", [2, 3]), tensor("z", [2, 3])], [tensor("y", None, TensorProto.DOUBLE)])
        check("an output of another type", [xz, cast], 1, "output 'y' differs in type or shape")
        empty = model(p("empty.onnx"), [], [tensor("x", [2, 3]), tensor("z", [2, 3])], [])
        check("a model without outputs", [empty, xz], 3, "no outputs")
        check("a model without outputs, second", [xz, empty], 1, "outputs")
        n1 = unary(p("n1.onnx"), ["Relu"])
        for bad in ["N=abc", "N=1e9", "N=-1", "N=", "N=99999999999", "=3"]:
            check(f"--dim {bad}", [n1, n1, "--dim", bad], 2, "--dim")
        check("--dim naming no input dim", [n1, n1, "--dim", "M=2"], 2, "no input of either model has a dim")
        check("--dim N=3", [n1, n1, "--dim", "N=3"], 0, "agree")
        check("--dim N=3 runs one trial and says so", [n1, n1, "--dim", "N=3"], 0, "1 output, 1 trial of")
        check("N unbound: two trials run and the summary says two", [n1, n1], 0, "1 output, 2 trials of")
        check("--trials 3 with N unbound: three", [n1, n1, "--trials", "3"], 0, "1 output, 3 trials of")
        clip = unary(p("clip.onnx"), ["Clip"])
        ident = unary(p("ident.onnx"), ["Identity"])
        check("Clip(x, -1, 1) against x", [clip, ident], 1, "[-1000, 1000)")
        nan = unary(p("nan.onnx"), ["Abs", "Neg", "Sqrt"])
        check("Sqrt(Neg(Abs(x))) against Abs(x)", [nan, unary(p("abs.onnx"), ["Abs"])], 1, "MISMATCH")
        check("a model against itself", [nan, nan], 0, "agree")

        # run --data: a data file must fit its declared input
        from onnx import numpy_helper
        import numpy as np
        gather = model(p("gather.onnx"), [helper.make_node("Gather", ["t", "i"], ["y"])],
                       [tensor("t", [5, 4]), tensor("i", [1, 4], TensorProto.INT64)], [tensor("y", None)])
        for what, arrays, needle in [
                ("float indices for an int64 input", [np.zeros((5, 4), np.float32), np.zeros((1, 4), np.float32)],
                 "input 'i' is declared int64, the file holds float32"),
                ("a [4] tensor for a declared [1, 4]", [np.zeros((5, 4), np.float32), np.zeros(4, np.int64)],
                 "input 'i' is declared of rank 2, the file holds rank 1"),
                ("a [5, 3] tensor for a declared [5, 4]", [np.zeros((5, 3), np.float32), np.zeros((1, 4), np.int64)],
                 "input 't' dim 1 is declared 4, the file holds 3")]:
            data = tempfile.mkdtemp(dir=d)
            for k, a in enumerate(arrays):
                onnx.save_tensor(numpy_helper.from_array(a), os.path.join(data, f"input_{k}.pb"))
            r = subprocess.run([gs, "run", gather, "--data", data], capture_output=True, text=True, timeout=60)
            ok = r.returncode == 3 and needle in r.stderr and "input_" in r.stderr
            ok &= not os.path.exists(os.path.join(data, "output_0.pb"))
            print(("ok  " if ok else "FAIL") + f" run --data with {what}: exit {r.returncode}: {r.stderr.strip()}")
            failures += not ok
    print("verify-interface:", "all passed" if not failures else f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
