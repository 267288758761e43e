#!/usr/bin/python3
"""A causal mask built from positions, as Whisper's and Hugging Face's
decoders build it with a key/value cache: Greater(Range(0, past + seq) as
columns, Range(0, seq) + past as rows), read by masked_fill over multi-head
attention scores whose keys and values are Concat(past, new) with no repeat.
At `--opset 23` the attention fuses into one Attention with is_causal=1, no
mask, the cache as past_key/past_value and the Concats as its present
outputs (attention-fuse-mha-div-cache, softmax-where-mask, range_mask);
--verify and graphsub verify pass at past 0 and 3. A mask whose rows are
offset by past - 1 (its first row masked whole when past is 0) is not
causal at the past and never becomes is_causal. When onnxruntime-node is
installed, ONNX Runtime gives the original's outputs for the fused model.

usage: range_mask.py GRAPHSUB SRCDIR"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, nodes, summary  # noqa: E402
from ort_run import ort_modules, ort_run  # noqa: E402

N = helper.make_node
F = TensorProto.FLOAT
H, D, E = 2, 4, 8


def model(row_offset_minus_one=False):
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal((E, E)).astype(np.float32) * 0.5, n) for n in ("wq", "wk", "wv")]
    inits += [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
              (("heads", [0, 0, H, D]), ("i0", 0), ("i1", 1), ("i2", 2), ("ax0", [0]), ("ax1", [1]))]
    inits += [numpy_helper.from_array(np.array(2.0, np.float32), "d"),
              numpy_helper.from_array(np.array(-1e9, np.float32), "fill")]
    nodes = []
    for name, w in (("q", "wq"), ("k", "wk"), ("v", "wv")):
        nodes += [N("MatMul", ["x", w], [name + "m"]), N("Reshape", [name + "m", "heads"], [name + "r"]),
                  N("Transpose", [name + "r"], [name], perm=[0, 2, 1, 3])]
    nodes += [N("Concat", ["past_key", "k"], ["present_key"], axis=2),
              N("Concat", ["past_value", "v"], ["present_value"], axis=2),
              N("Transpose", ["present_key"], ["kt"], perm=[0, 1, 3, 2]),
              N("MatMul", ["q", "kt"], ["s0"]), N("Div", ["s0", "d"], ["s"]),
              N("Shape", ["x"], ["xs"]), N("Gather", ["xs", "i1"], ["seq"], axis=0),
              N("Shape", ["past_key"], ["ps"]), N("Gather", ["ps", "i2"], ["past"], axis=0),
              N("Add", ["past", "seq"], ["total"]),
              N("Range", ["i0", "total", "i1"], ["cols0"]), N("Unsqueeze", ["cols0", "ax0"], ["cols"]),
              N("Range", ["i0", "seq", "i1"], ["rows0"])]
    if row_offset_minus_one:
        nodes += [N("Sub", ["past", "i1"], ["off"]), N("Add", ["rows0", "off"], ["rows1"])]
    else:
        nodes += [N("Add", ["rows0", "past"], ["rows1"])]
    nodes += [N("Unsqueeze", ["rows1", "ax1"], ["rows"]), N("Greater", ["cols", "rows"], ["c"]),
              N("Where", ["c", "fill", "s"], ["w"]), N("Softmax", ["w"], ["p"], axis=-1),
              N("MatMul", ["p", "present_value"], ["y"])]
    cache = ["batch", H, "past", D]
    g = helper.make_graph(nodes, "rm", [helper.make_tensor_value_info("x", F, ["batch", "seq", E]),
                                        helper.make_tensor_value_info("past_key", F, cache),
                                        helper.make_tensor_value_info("past_value", F, cache)],
                          [helper.make_tensor_value_info("y", F, ["batch", H, "seq", D]),
                           helper.make_tensor_value_info("present_key", F, None),
                           helper.make_tensor_value_info("present_value", F, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def attentions(path):
    return nodes(path, "Attention")


def main():
    gs, src = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        m, o = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "o.onnx")
        onnx.save(model(), m)
        r = subprocess.run([gs, "optimize", m, "-o", o, "--opset", "23", "--verify"],
                           capture_output=True, text=True)
        att = attentions(o) if r.returncode == 0 else []
        attrs = {a.name: helper.get_attribute_value(a) for a in att[0].attribute} if att else {}
        check(r.returncode == 0 and len(att) == 1 and attrs.get("is_causal") == 1 and
              (len(att[0].input) < 4 or att[0].input[3] == "") and list(att[0].output)[1:] == ["present_key", "present_value"],
              f"the position-built causal mask fuses as is_causal with the cache: {attrs} {r.stderr.strip()[-300:]}")
        for past in (0, 3):
            v = subprocess.run([gs, "verify", m, o, "--dim", f"past={past}", "--dim", "seq=4", "--dim", "batch=2"],
                               capture_output=True, text=True)
            check(v.returncode == 0, f"graphsub verify at past {past}: {v.stdout.strip().splitlines()[-1:]}")

        bad, bo = os.path.join(tmp, "bad.onnx"), os.path.join(tmp, "bad.o.onnx")
        onnx.save(model(row_offset_minus_one=True), bad)
        r = subprocess.run([gs, "optimize", bad, "-o", bo, "--opset", "23", "--verify"],
                           capture_output=True, text=True)
        causal = [n for n in attentions(bo) if any(a.name == "is_causal" and a.i for a in n.attribute)] \
            if r.returncode == 0 else None
        check(causal == [], f"rows offset by past - 1: never is_causal {r.stderr.strip()[-300:]}")

        modules = ort_modules(src)
        if not modules:
            print("note: onnxruntime-node not installed; ONNX Runtime comparison not run")
        for past in ((0, 3) if modules else ()):
            rng = np.random.default_rng(past)
            feeds = {"x": rng.standard_normal((2, 4, E)).astype(np.float32),
                     "past_key": rng.standard_normal((2, H, past, D)).astype(np.float32),
                     "past_value": rng.standard_normal((2, H, past, D)).astype(np.float32)}
            a, ea = ort_run(modules, m, feeds, tmp, "a")
            b, eb = ort_run(modules, o, feeds, tmp, "b")
            ok = a is not None and b is not None and all(
                np.allclose(a[k], b[k], rtol=1e-4, atol=1e-5) for k in ("y", "present_key", "present_value"))
            check(ok, f"ONNX Runtime: the fused model's outputs are the original's at past {past} {ea or eb or ''}")
    return summary("range-mask")


if __name__ == "__main__":
    sys.exit(main())
