#!/usr/bin/python3
"""Models above 1 MiB are imported without copying their weights (a skeleton
of the message is unpacked and tensors point into the mapped file). Check
that such a model round-trips byte for byte, through external data and back,
with raw, typed and small tensors mixed, and that the weights survive."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make(path):
    rng = np.random.default_rng(3)
    big = numpy_helper.from_array(rng.standard_normal((512, 1024)).astype(np.float32), "big")
    big2 = numpy_helper.from_array(rng.standard_normal((1024, 300)).astype(np.float32), "big2")
    small = numpy_helper.from_array(np.arange(6, dtype=np.int64), "small")
    typed = helper.make_tensor("typed", TensorProto.FLOAT, [300], rng.standard_normal(300).tolist())
    nodes = [helper.make_node("MatMul", ["x", "big"], ["h"], name="mm1"),
             helper.make_node("MatMul", ["h", "big2"], ["h2"], name="mm2"),
             helper.make_node("Add", ["h2", "typed"], ["y"], name="add")]
    g = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 300])],
                          [big, small, typed, big2], doc_string="weights above the cut threshold")
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.metadata_props.add(key="k", value="v")
    onnx.save(m, path)
    return m


def run(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL {' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.returncode == 0


def main():
    gs = sys.argv[1]
    ok = True
    with tempfile.TemporaryDirectory() as d:
        src, rt, ext, back = (os.path.join(d, n) for n in ("m.onnx", "rt.onnx", "ext.onnx", "back.onnx"))
        orig = make(src)
        assert os.path.getsize(src) > 1 << 20
        ok &= run(gs, "optimize", "-O0", "--quiet", src, "-o", rt)
        same = ok and open(src, "rb").read() == open(rt, "rb").read()
        print(("ok  " if same else "FAIL") + " round trip is byte-identical")
        ok &= same
        ok &= run(gs, "optimize", "-O0", "--quiet", "--external-data", src, "-o", ext)
        ok &= run(gs, "optimize", "-O0", "--quiet", ext, "-o", back)
        if ok:
            small = os.path.getsize(ext) < 100000 and os.path.getsize(ext + ".data") > 1 << 20
            print(("ok  " if small else "FAIL") + " weights moved to external data")
            b = onnx.load(back)
            values = all(np.array_equal(numpy_helper.to_array(x), numpy_helper.to_array(y))
                         for x, y in zip(orig.graph.initializer, b.graph.initializer))
            del orig.graph.initializer[:], b.graph.initializer[:]
            same = values and b == orig   # typed fields come back as raw_data: compare values
            print(("ok  " if same else "FAIL") + " external -> inline keeps every weight and field")
            ok &= small and same
    print("big model:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
