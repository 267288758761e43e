#!/usr/bin/python3
"""Attention whose mask is written as masked_fill (a Where on a bool mask),
fused at `--opset 23`.

1. The zoo's Llama-style decoder (bench/zoo_dynamic.py's LlamaDecoder, a
   small 2-layer instance exported the way bench/make_zoo.py exports it: a
   causal mask Trilu(ones(seq, past + seq), past) read by masked_fill(mask
   == 0, -1e9), present outputs declared [batch, 2, total, 64]): every
   RMSNorm, rotary embedding and attention fuses; every Attention is
   is_causal=1 with no mask, writes the present outputs, and the outputs
   keep their declared dim `total`; `--verify` and `graphsub verify` at a
   decode step pass; `graphsub run` and ONNX Runtime (when onnxruntime-node
   is installed: bench/node_modules or $ORT_NODE_MODULES) reproduce
   PyTorch's outputs at prefill (past 0 and 1) and decode (past 15).
2. Masks that are not causal at the past are never is_causal: a Trilu
   aligned to the top left (diagonal 0 with a past) fuses with its mask as
   an additive attn_mask; a Trilu with diagonal past - 1 (the first row
   masked whole when past is 0) does not fuse at all, as masked_fill and an
   attention's -inf mask differ on a row with every key masked.

usage: masked_attention.py GRAPHSUB SRCDIR
"""
import collections
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

from ort_run import ort_modules, ort_run

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


LAYERS = 2
BINDINGS = ((1, 8, 0), (1, 8, 1), (2, 1, 15))   # (batch, seq, past): prefill twice, decode



def make_decoder(src, diagonal):
    """A small LlamaDecoder of bench/zoo_dynamic.py whose mask is
    tril(ones(t, t + p), diagonal(p))."""
    import torch  # noqa: PLC0415
    sys.path.insert(0, os.path.join(src, "bench"))
    import zoo_dynamic  # noqa: PLC0415

    class Decoder(zoo_dynamic.LlamaDecoder):
        def forward(self, ids, *past):
            t, p = ids.shape[1], past[0].shape[2]
            pos = torch.arange(p, p + t)
            cos, sin = self.cos[pos], self.sin[pos]
            keep = torch.tril(torch.ones(t, t + p), diagonal=diagonal(p))
            x = self.emb(ids)
            present = []
            for i, layer in enumerate(self.layers):
                x, k, v = layer(x, cos, sin, keep, past[2 * i], past[2 * i + 1])
                present += [k, v]
            return (self.head(self.norm(x)),) + tuple(present)

    torch.manual_seed(0)
    return Decoder(d=64, layers=LAYERS, heads=4, kv_heads=2, ffn=96, vocab=256, max_pos=64).eval()


def export(model, path):
    import torch  # noqa: PLC0415
    import zoo_dynamic  # noqa: PLC0415
    b, t, p = 2, 5, 3
    past = [torch.randn(b, 2, p, 16) for _ in range(2 * LAYERS)]
    ins = ["input_ids"] + zoo_dynamic.cache_names(LAYERS, "past")
    outs = ["logits"] + zoo_dynamic.cache_names(LAYERS, "present")
    axes = {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    axes.update({k: {0: "batch", 2: "past"} for k in ins[1:]})
    axes.update({k: {0: "batch", 2: "total"} for k in outs[1:]})
    with torch.no_grad():
        torch.onnx.export(model, (torch.randint(0, 256, (b, t)),) + tuple(past), path,
                          opset_version=zoo_dynamic.OPSET, input_names=ins, output_names=outs, dynamic_axes=axes)


def cases(model):
    import torch  # noqa: PLC0415
    import zoo_dynamic  # noqa: PLC0415
    out = []
    for k, (batch, seq, past) in enumerate(BINDINGS):
        g = torch.Generator().manual_seed(100 + k)
        ids = torch.randint(0, 256, (batch, seq), generator=g)
        cache = [torch.randn(batch, 2, past, 16, generator=g) for _ in range(2 * LAYERS)]
        with torch.no_grad():
            res = model(ids, *cache)
        names = ["input_ids"] + zoo_dynamic.cache_names(LAYERS, "past")
        onames = ["logits"] + zoo_dynamic.cache_names(LAYERS, "present")
        out.append(({n: t.numpy() for n, t in zip(names, (ids, *cache))},
                    {n: t.numpy() for n, t in zip(onames, res)}))
    return out


def write_case(folder, model, feeds, outputs):
    from onnx import numpy_helper  # noqa: PLC0415
    os.makedirs(folder)
    for i, inp in enumerate(model.graph.input):
        t = numpy_helper.from_array(feeds[inp.name], inp.name)
        open(os.path.join(folder, f"input_{i}.pb"), "wb").write(t.SerializeToString())
    for i, out in enumerate(model.graph.output):
        t = numpy_helper.from_array(outputs[out.name], out.name)
        open(os.path.join(folder, f"output_{i}.pb"), "wb").write(t.SerializeToString())


def check_ort(modules, path, cases_, tmp, name):
    for k, (feeds, outputs) in enumerate(cases_):
        got, err = ort_run(modules, path, feeds, tmp, f"{name}{k}")
        if err:
            fail(f"{name}: ONNX Runtime refuses the fused model at binding {BINDINGS[k]}: {err}")
            continue
        worst = max(float(np.abs(np.array(got[n], dtype=np.float32).reshape(w.shape) - w).max())
                    for n, w in outputs.items())
        if worst > 1e-3:
            fail(f"{name}: ONNX Runtime's outputs differ from PyTorch's by {worst} at binding {BINDINGS[k]}")
        else:
            print(f"ok {name}: ONNX Runtime at (batch, seq, past) = {BINDINGS[k]}, outputs within {worst:.2g}")


def optimize(graphsub, path, out, name):
    r = run([graphsub, "optimize", "--quiet", "--opset", "23", "--verify", path, "-o", out])
    if r.returncode != 0:
        fail(f"{name}: optimize --opset 23 --verify exit {r.returncode}: {r.stderr.strip()[-300:]}")
        return None
    return onnx.load(out)


def attentions(m):
    return [n for n in m.graph.node if n.op_type == "Attention"]


def is_causal(n):
    return any(a.name == "is_causal" and a.i == 1 for a in n.attribute)


def check_causal(graphsub, src, tmp):
    name = "zoo-decoder"
    model = make_decoder(src, lambda p: p)
    path, out = os.path.join(tmp, "decoder.onnx"), os.path.join(tmp, "decoder.fused.onnx")
    export(model, path)
    m = optimize(graphsub, path, out, name)
    if m is None:
        return
    ops = collections.Counter(n.op_type for n in m.graph.node)
    want = {"RMSNormalization": 2 * LAYERS + 1, "RotaryEmbedding": 2 * LAYERS, "Attention": LAYERS,
            "Softmax": 0, "Where": 0, "Trilu": 0}
    got = {op: ops.get(op, 0) for op in want}
    if got != want:
        fail(f"{name}: fused op counts {got}, expected {want}")
    else:
        print(f"ok {name}: {got}")
    for n in attentions(m):
        if not is_causal(n) or (len(n.input) > 3 and n.input[3]) or len(n.output) != 3:
            fail(f"{name}: Attention {n.name} is not causal without a mask and with present outputs: "
                 f"inputs {list(n.input)}, outputs {list(n.output)}")
    presents = {o.name for o in m.graph.output if o.name.startswith("present_")}
    if presents != {o for n in attentions(m) for o in n.output[1:3]}:
        fail(f"{name}: present outputs not all written by Attention")
    dims = {o.type.tensor_type.shape.dim[2].dim_param for o in m.graph.output if o.name.startswith("present_")}
    if dims != {"total"}:
        fail(f"{name}: the present outputs' declared dim 'total' became {dims}")
    r = run([graphsub, "verify", "--dim", "past=6", "--dim", "seq=1", path, out])
    if r.returncode != 0:
        fail(f"{name}: verify at a decode step exit {r.returncode}: {(r.stdout + r.stderr)[-300:]}")
    cs = cases(model)
    orig = onnx.load(path)
    for k, (feeds, outputs) in enumerate(cs):
        folder = os.path.join(tmp, f"{name}_case{k}")
        write_case(folder, orig, feeds, outputs)
        r = run([graphsub, "run", out, "--data", folder])
        if r.returncode != 0:
            fail(f"{name}: graphsub run at {BINDINGS[k]}: exit {r.returncode}: {(r.stdout + r.stderr)[-300:]}")
    modules = ort_modules(src)
    if modules:
        check_ort(modules, out, cs, tmp, name)
    else:
        print(f"note {name}: onnxruntime-node not installed, ONNX Runtime not checked")


def check_not_causal(graphsub, src, tmp):
    """Masks is_causal would change: aligned to the top left, or able to
    mask a whole row."""
    for name, diagonal, fused in (("top-left-mask", lambda p: 0, True),
                                  ("row-masking-mask", lambda p: p - 1, False)):
        path, out = os.path.join(tmp, name + ".onnx"), os.path.join(tmp, name + ".fused.onnx")
        export(make_decoder(src, diagonal), path)
        m = optimize(graphsub, path, out, name)
        if m is None:
            continue
        att = attentions(m)
        if any(is_causal(n) for n in att):
            fail(f"{name}: an Attention was made is_causal from a mask that is not causal at the past")
        elif fused and (len(att) != LAYERS or any(len(n.input) < 4 or not n.input[3] for n in att)):
            fail(f"{name}: expected {LAYERS} Attentions with the mask as attn_mask, got "
                 f"{[list(n.input) for n in att]}")
        elif not fused and att:
            fail(f"{name}: a mask that can mask a whole row was fused into {len(att)} Attentions")
        else:
            print(f"ok {name}: {len(att)} Attentions, none is_causal")
        r = run([graphsub, "verify", "--dim", "past=0", "--dim", "seq=3", path, out])
        if r.returncode != 0:
            fail(f"{name}: verify at past 0 exit {r.returncode}: {(r.stdout + r.stderr)[-300:]}")


def main():
    graphsub, src = sys.argv[1], sys.argv[2]
    try:
        import torch  # noqa: F401, PLC0415
    except ImportError:
        print("note: torch is not installed: nothing to export, nothing checked")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        check_causal(graphsub, src, tmp)
        check_not_causal(graphsub, src, tmp)
    print(f"masked attention: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
