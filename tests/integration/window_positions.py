#!/usr/bin/python3
"""Whisper's decoder self-attention: token embeddings plus the learned
position rows past .. past + seq (a Slice of the position table), multi-head
attention over Concat(past, new) keys and values, and a causal mask built
from positions (Greater of two Ranges) read by masked_fill.

The position rows are a window of at most seq rows that may be empty, so
inference names them min(seq, R) and the broadcast with the tokens or0(seq):
seq, or 0 where seq is 1 (gs_infer_bdim). The attention's query rows are
or0(seq) while the mask's are seq; `causal` compares them with or0(seq)
read as seq, since where they differ the queries are empty. At `--opset 23`
the attention fuses into one Attention with is_causal=1, the cache as
past_key/past_value and the Concats as its present outputs
(attention-fuse-mha-causal-div-cache); before, it stayed written out.
--verify and graphsub verify pass at prefill and decode shapes. When
onnxruntime-node is installed, ONNX Runtime gives the original's outputs
for the fused model at prefill, decode, and decode at the last position
row. Queries from the tokens alone, with keys from tokens plus positions,
are not fused: the keys' rows or0(seq) may be empty where the queries'
rows are not, and `causal` reads or0 only in the queries' rows.

usage: window_positions.py GRAPHSUB SRCDIR"""
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
H, D, E, VOCAB, POS = 2, 4, 8, 11, 16


def model(query_positions=True):
    """query_positions False: the queries from the token embeddings alone,
    the keys and values from tokens plus positions."""
    rng = np.random.default_rng(5)
    inits = [numpy_helper.from_array(rng.standard_normal((E, E)).astype(np.float32) * 0.5, n) for n in ("wq", "wk", "wv")]
    inits += [numpy_helper.from_array(rng.standard_normal((VOCAB, E)).astype(np.float32), "emb"),
              numpy_helper.from_array(rng.standard_normal((POS, E)).astype(np.float32), "pos")]
    inits += [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
              (("heads", [0, 0, H, D]), ("i0", 0), ("i1", 1), ("i2", 2), ("ax0", [0]), ("ax1", [1]))]
    inits += [numpy_helper.from_array(np.array(2.0, np.float32), "d"),
              numpy_helper.from_array(np.array(-np.inf, np.float32), "fill")]
    nodes = [N("Shape", ["ids"], ["is"]), N("Gather", ["is", "i1"], ["seq"], axis=0),
             N("Shape", ["past_key"], ["ps"]), N("Gather", ["ps", "i2"], ["past"], axis=0),
             N("Add", ["past", "seq"], ["total"]),
             N("Unsqueeze", ["past", "ax0"], ["start"]), N("Unsqueeze", ["total", "ax0"], ["end"]),
             N("Slice", ["pos", "start", "end", "ax0"], ["p"]),
             N("Gather", ["emb", "ids"], ["t"], axis=0), N("Add", ["t", "p"], ["x"])]
    for name, w in (("q", "wq"), ("k", "wk"), ("v", "wv")):
        nodes += [N("MatMul", ["x" if query_positions or name != "q" else "t", w], [name + "m"]), N("Reshape", [name + "m", "heads"], [name + "r"]),
                  N("Transpose", [name + "r"], [name], perm=[0, 2, 1, 3])]
    nodes += [N("Concat", ["past_key", "k"], ["present_key"], axis=2),
              N("Concat", ["past_value", "v"], ["present_value"], axis=2),
              N("Transpose", ["present_key"], ["kt"], perm=[0, 1, 3, 2]),
              N("MatMul", ["q", "kt"], ["s0"]), N("Div", ["s0", "d"], ["s"]),
              N("Range", ["i0", "total", "i1"], ["cols0"]), N("Unsqueeze", ["cols0", "ax0"], ["cols"]),
              N("Range", ["i0", "seq", "i1"], ["rows0"]), N("Add", ["rows0", "past"], ["rows1"]),
              N("Unsqueeze", ["rows1", "ax1"], ["rows"]), N("Greater", ["cols", "rows"], ["c"]),
              N("Where", ["c", "fill", "s"], ["w"]), N("Softmax", ["w"], ["pr"], axis=-1),
              N("MatMul", ["pr", "present_value"], ["y"])]
    cache = ["batch", H, "past", D]
    g = helper.make_graph(nodes, "wp", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"]),
                                        helper.make_tensor_value_info("past_key", F, cache),
                                        helper.make_tensor_value_info("past_value", F, cache)],
                          [helper.make_tensor_value_info("y", F, None),
                           helper.make_tensor_value_info("present_key", F, None),
                           helper.make_tensor_value_info("present_value", F, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def attentions(path):
    return nodes(path, "Attention")


def optimize(gs, src, dst):
    r = subprocess.run([gs, "optimize", src, "-o", dst, "--opset", "23", "--verify"], capture_output=True, text=True)
    return r, attentions(dst) if r.returncode == 0 else []


def feeds(past, seq, seed):
    rng = np.random.default_rng(seed)
    return {"ids": rng.integers(0, VOCAB, (2, seq)).astype(np.int64),
            "past_key": rng.standard_normal((2, H, past, D)).astype(np.float32),
            "past_value": rng.standard_normal((2, H, past, D)).astype(np.float32)}


def main():
    gs, src = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        m, o = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "o.onnx")
        onnx.save(model(), m)
        r, att = optimize(gs, m, o)
        attrs = {a.name: helper.get_attribute_value(a) for a in att[0].attribute} if att else {}
        check(r.returncode == 0 and len(att) == 1 and attrs.get("is_causal") == 1 and
              (len(att[0].input) < 4 or att[0].input[3] == "") and list(att[0].output)[1:] == ["present_key", "present_value"],
              f"position rows past .. past + seq: the attention fuses as is_causal with the cache: {attrs} "
              f"{r.stderr.strip()[-300:]}")
        left = [n.op_type for n in onnx.load(o).graph.node if n.op_type in ("Softmax", "Where")] \
            if r.returncode == 0 else None
        check(left == [], f"no Softmax or Where is left: {left}")
        for past, seq in ((0, 4), (3, 1), (2, 3)):
            v = subprocess.run([gs, "verify", m, o, "--dim", f"past={past}", "--dim", f"seq={seq}", "--dim", "batch=2"],
                               capture_output=True, text=True)
            check(v.returncode == 0, f"graphsub verify at past {past}, seq {seq}: {v.stdout.strip().splitlines()[-1:]}"
                  f" {v.stderr.strip()[-200:]}")

        kp, ko = os.path.join(tmp, "kp.onnx"), os.path.join(tmp, "kp.o.onnx")
        onnx.save(model(query_positions=False), kp)
        r, att = optimize(gs, kp, ko)
        check(r.returncode == 0 and att == [],
              "queries from the tokens alone, keys from tokens plus positions: not fused (the keys' rows "
              f"or0(seq) are empty where the queries' are not) {r.stderr.strip()[-300:]}")

        modules = ort_modules(src)
        if not modules:
            print("note: onnxruntime-node not installed; ONNX Runtime comparison not run")
        # (past, seq): prefill, decode, and decode at the last position row (at
        # past POS the window is empty and the original fails: its mask
        # [1, POS + 1] does not broadcast against scores [.., 0, POS]).
        for past, seq in (((0, 4), (3, 1), (POS - 1, 1)) if modules else ()):
            f = feeds(past, seq, past * 10 + seq)
            a, ea = ort_run(modules, m, f, tmp, "a")
            b, eb = ort_run(modules, o, f, tmp, "b")
            ok = a is not None and b is not None and all(
                len(a[k]) == len(b[k]) and np.allclose(a[k], b[k], rtol=1e-4, atol=1e-5)
                for k in ("y", "present_key", "present_value"))
            check(ok, f"ONNX Runtime: the fused model's outputs are the original's at past {past}, seq {seq} "
                      f"{ea or eb or ''}")
    return summary("window-positions")


if __name__ == "__main__":
    sys.exit(main())
