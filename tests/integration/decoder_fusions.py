#!/usr/bin/python3
"""The Llama-style decoder (tests/data/decoder, and a fresh 4-layer export
when torch is installed) optimized with `--opset 23`: every layer's two
RMSNorms and the final one become RMSNormalization, every layer's query and
key rotary embeddings RotaryEmbedding, and every layer's grouped-query
attention with its key/value cache one Attention whose present_key and
present_value are the graph's present outputs; no Softmax is left, and
the attention and rotary embeddings read the projections in the ops' 3-D
form ([B, S, heads * D], q_num_heads / kv_num_heads and num_heads set:
attention-3d-present, rotary-3d-positions), so no Transpose is left. The
output passes `--verify`, `graphsub verify --dim past=1 --dim seq=1` (a
decode step) against the original, and reproduces PyTorch's outputs (logits
and every present key and value) in `graphsub run` and, when
onnxruntime-node is installed (bench/node_modules or $ORT_NODE_MODULES), in
ONNX Runtime, at a prefill binding (batch 2, seq 3, past 4) and a decode
binding (batch 1, seq 1, past 5).

usage: decoder_fusions.py GRAPHSUB SRCDIR
"""
import collections
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import decoder  # noqa: E402 - its test-data helpers
from ort_run import ort_modules, ort_run  # noqa: E402

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)



def check_ort(modules, path, cases, tmp, name):
    for k, (feeds, outputs) in enumerate(cases):
        got, err = ort_run(modules, path, feeds, tmp, f"{name}{k}")
        if err:
            fail(f"{name}: ONNX Runtime refuses the fused model at binding {k}: {err}")
            continue
        worst = 0.0
        for n, want in outputs.items():
            g = np.array(got[n], dtype=np.float32).reshape(want.shape)
            worst = max(worst, float(np.abs(g - want).max()))
        if worst > 1e-3:
            fail(f"{name}: ONNX Runtime's outputs differ from PyTorch's by {worst} at binding {k}")
        else:
            print(f"ok {name}: ONNX Runtime runs the fused model at binding {k}, outputs within {worst:.2g}")


def check(graphsub, src, path, cases, layers, tmp, name):
    out = os.path.join(tmp, name + ".fused.onnx")
    r = run([graphsub, "optimize", "--quiet", "--opset", "23", "--verify", path, "-o", out])
    if r.returncode != 0:
        fail(f"{name}: optimize --opset 23 --verify exit {r.returncode}: {r.stderr.strip()}")
        return
    m = onnx.load(out)
    ops = collections.Counter(n.op_type for n in m.graph.node)
    want = {"RMSNormalization": 2 * layers + 1, "RotaryEmbedding": 2 * layers, "Attention": layers, "Softmax": 0}
    got = {op: ops.get(op, 0) for op in want}
    if got != want:
        fail(f"{name}: fused op counts {got}, expected {want}")
    else:
        print(f"ok {name}: {got}")
    heads = {n.op_type: {a.name for a in n.attribute} for n in m.graph.node
             if n.op_type in ("Attention", "RotaryEmbedding")}
    if ops.get("Transpose", 0) or not {"q_num_heads", "kv_num_heads"} <= heads.get("Attention", set()) or \
            "num_heads" not in heads.get("RotaryEmbedding", set()):
        fail(f"{name}: not in the 3-D form: {ops.get('Transpose', 0)} Transposes, attributes {heads}")
    presents = {o.name for o in m.graph.output if o.name.startswith("present_")}
    from_attention = {o for n in m.graph.node if n.op_type == "Attention" for o in n.output[1:3]}
    if presents != from_attention:
        fail(f"{name}: present outputs not all written by Attention: {sorted(presents - from_attention)}")
    r = run([graphsub, "verify", "--dim", "past=1", "--dim", "seq=1", path, out])
    if r.returncode != 0:
        fail(f"{name}: verify at a decode step exit {r.returncode}: {(r.stdout + r.stderr)[-300:]}")
    model = onnx.load(path)
    for k, (feeds, outputs) in enumerate(cases):
        folder = os.path.join(tmp, f"{name}_case{k}")
        decoder.write_case(folder, model, feeds, outputs)
        r = run([graphsub, "run", out, "--data", folder])
        if r.returncode != 0:
            fail(f"{name}: graphsub run of the fused model, binding {k}: exit {r.returncode}: "
                 f"{(r.stdout + r.stderr).strip()[-300:]}")
    modules = ort_modules(src)
    if modules:
        check_ort(modules, out, cases, tmp, name)
    else:
        print(f"note {name}: onnxruntime-node not installed, ONNX Runtime not checked")


def main():
    graphsub, src = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        stored = os.path.join(src, "tests", "data", "decoder", "model.onnx")
        check(graphsub, src, stored, decoder.stored_cases(stored), 2, tmp, "stored-2-layer")
        try:
            import torch  # noqa: F401, PLC0415
        except ImportError:
            print("note: torch is not installed: only the stored decoder was checked")
        else:
            path = os.path.join(tmp, "decoder4.onnx")
            check(graphsub, src, path, decoder.torch_cases(4, path), 4, tmp, "fresh-4-layer")
    print(f"decoder fusions: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
