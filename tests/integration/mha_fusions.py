#!/usr/bin/python3
"""Multi-head attention without a K/V repeat fuses into Attention at
`--opset 23`: small instances of the zoo's encoders, exported as
bench/make_zoo.py exports them (its Block: separate Q, K, V projections,
the scale on the scores, which cleanup folds into the query projection):

- BERT with dynamic batch and seq (bench/zoo_dynamic.py's BertDyn): the
  position table sliced to seq, a [batch, 1, 1, seq] additive padding mask;
  every attention fuses with the mask as attn_mask (expanded to a row per
  query, as ONNX Runtime's Attention wants);
- BERT at a static shape, no mask: every attention fuses, no mask;
- GPT-2 at a static shape: the causal mask, a constant slice of
  triu(-10000), becomes is_causal=1 with no mask;
- ViT's attention, PyTorch's nn.MultiheadAttention (batch first, as
  torchvision's ViT): [batch * heads, S, D] with the scale on Q, fused as
  one Attention over a batch of 1 with batch * heads heads.

BERT's and GPT-2's attentions read their projections in the operator's
3-D form ([B, S, heads * D], q_num_heads and kv_num_heads set:
attention-3d), so no Transpose is left. Each passes `--verify`;
`graphsub run` and ONNX Runtime (when
onnxruntime-node is installed: bench/node_modules or $ORT_NODE_MODULES)
reproduce PyTorch's outputs.

usage: mha_fusions.py GRAPHSUB SRCDIR
"""
import collections
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

from ort_run import ort_modules, ort_run
from onnx import numpy_helper

failures = []
D, HEADS, LAYERS, VOCAB = 64, 4, 2, 100


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def models(src):
    """(name, module, input names, dynamic axes or None, example inputs per
    check binding) of the three encoders."""
    import torch  # noqa: PLC0415
    sys.path.insert(0, os.path.join(src, "bench"))
    import zoo_dynamic  # noqa: PLC0415

    class Block(torch.nn.Module):   # bench/make_zoo.py's Block at a small width
        def __init__(self, causal=False):
            super().__init__()
            self.q, self.k, self.v, self.o = (torch.nn.Linear(D, D) for _ in range(4))
            self.ln1, self.ln2 = torch.nn.LayerNorm(D), torch.nn.LayerNorm(D)
            self.f1, self.f2 = torch.nn.Linear(D, 4 * D), torch.nn.Linear(4 * D, D)
            self.causal = causal
            self.register_buffer("mask", torch.triu(torch.full((128, 128), -1e4), 1))

        def forward(self, x, bias=None):
            b, t, d = x.shape
            q = self.q(x).view(b, t, HEADS, d // HEADS).transpose(1, 2)
            k = self.k(x).view(b, t, HEADS, d // HEADS).transpose(1, 2)
            v = self.v(x).view(b, t, HEADS, d // HEADS).transpose(1, 2)
            s = q @ k.transpose(-1, -2) / (d // HEADS) ** 0.5
            if self.causal:
                s = s + self.mask[:t, :t]
            if bias is not None:
                s = s + bias
            a = torch.softmax(s, -1) @ v
            x = self.ln1(x + self.o(a.transpose(1, 2).reshape(b, t, d)))
            return self.ln2(x + self.f2(torch.nn.functional.gelu(self.f1(x))))

    class Encoder(torch.nn.Module):
        def __init__(self, causal):
            super().__init__()
            self.emb = torch.nn.Embedding(VOCAB, D)
            self.pos = torch.nn.Parameter(torch.randn(1, 16, D) * 0.02)
            self.layers = torch.nn.ModuleList([Block(causal) for _ in range(LAYERS)])

        def forward(self, ids):
            x = self.emb(ids) + self.pos
            for layer in self.layers:
                x = layer(x)
            return x

    class Vit(torch.nn.Module):   # torchvision's EncoderBlock, small
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = torch.nn.LayerNorm(D), torch.nn.LayerNorm(D)
            self.att = torch.nn.MultiheadAttention(D, HEADS, batch_first=True)
            self.f1, self.f2 = torch.nn.Linear(D, 2 * D), torch.nn.Linear(2 * D, D)

        def block(self, x):
            h = self.ln1(x)
            x = x + self.att(h, h, h, need_weights=False)[0]
            return x + self.f2(torch.nn.functional.gelu(self.f1(self.ln2(x))))

        def forward(self, x):
            for _ in range(LAYERS):
                x = self.block(x)
            return x

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    bert_dyn = zoo_dynamic.BertDyn(Block, layers=LAYERS, d=D, vocab=VOCAB, max_pos=32).eval()
    dyn_cases = []
    for b, t in ((2, 7), (1, 16)):
        mask = torch.ones(b, t, dtype=torch.int64)
        mask[0, t - 2:] = 0   # padding at the end of the first sequence
        dyn_cases.append((torch.randint(0, VOCAB, (b, t), generator=g), mask))
    axes = {k: {0: "batch", 1: "seq"} for k in ("input_ids", "attention_mask", "hidden")}
    static = [(torch.randint(0, VOCAB, (1, 16), generator=g),)]
    return [("bert-dyn", bert_dyn, ["input_ids", "attention_mask"], axes, dyn_cases),
            ("bert", Encoder(False).eval(), ["input_ids"], None, static),
            ("gpt2", Encoder(True).eval(), ["input_ids"], None, static),
            ("vit", Vit().eval(), ["x"], None, [(torch.randn(2, 10, D, generator=g),)])]


def export(module, names, axes, example, path):
    """Exported with gradients on, as bench/make_zoo.py does (without them
    nn.MultiheadAttention takes a fused path that does not export)."""
    import torch  # noqa: PLC0415
    torch.onnx.export(module, example, path, opset_version=13 if axes is None else 17,
                      input_names=names, output_names=["hidden"], dynamic_axes=axes)


def check_ort(modules, path, feeds, want, tmp, name, k):
    out, err = ort_run(modules, path, feeds, tmp, f"{name}{k}")
    if err:
        fail(f"{name}: ONNX Runtime refuses the fused model: {err[:300]}")
        return
    got = np.array(out["hidden"], dtype=np.float32).reshape(want.shape)
    err = float(np.abs(got - want).max())
    if err > 1e-3:
        fail(f"{name}: ONNX Runtime's output differs from PyTorch's by {err} at binding {k}")
    else:
        print(f"ok {name}: ONNX Runtime at binding {k}, output within {err:.2g}")


def check(graphsub, src, tmp, name, module, names, axes, examples):
    import torch  # noqa: PLC0415
    path, out = os.path.join(tmp, name + ".onnx"), os.path.join(tmp, name + ".fused.onnx")
    export(module, names, axes, examples[0], path)
    r = run([graphsub, "optimize", "--quiet", "--opset", "23", "--verify", path, "-o", out])
    if r.returncode != 0:
        fail(f"{name}: optimize --opset 23 --verify exit {r.returncode}: {r.stderr.strip()[-300:]}")
        return
    m = onnx.load(out)
    ops = collections.Counter(n.op_type for n in m.graph.node)
    att = [n for n in m.graph.node if n.op_type == "Attention"]
    masked = [len(n.input) > 3 and n.input[3] != "" for n in att]
    causal = [any(a.name == "is_causal" and a.i == 1 for a in n.attribute) for n in att]
    want_masked, want_causal = name == "bert-dyn", name == "gpt2"
    if ops.get("Softmax", 0) or len(att) != LAYERS or masked != [want_masked] * LAYERS or \
            causal != [want_causal] * LAYERS:
        fail(f"{name}: {len(att)} Attentions (want {LAYERS}), {ops.get('Softmax', 0)} Softmax, with a mask "
             f"{masked} (want {want_masked}), is_causal {causal} (want {want_causal})")
    else:
        print(f"ok {name}: {LAYERS} Attentions, no Softmax, mask {want_masked}, is_causal {want_causal}")
    three_d = [{"q_num_heads", "kv_num_heads"} <= {a.name for a in n.attribute} for n in att]
    if name != "vit" and (ops.get("Transpose", 0) or not all(three_d)):
        fail(f"{name}: attention not in its 3-D form: {ops.get('Transpose', 0)} Transposes, heads set {three_d}")
    modules = ort_modules(src)
    ort = modules is not None
    for k, example in enumerate(examples):
        with torch.no_grad():
            want = module(*example).numpy()
        feeds = {n: t.numpy() for n, t in zip(names, example)}
        folder = os.path.join(tmp, f"{name}_case{k}")
        os.makedirs(folder)
        for i, n in enumerate(names):
            open(os.path.join(folder, f"input_{i}.pb"), "wb").write(
                numpy_helper.from_array(feeds[n], n).SerializeToString())
        open(os.path.join(folder, "output_0.pb"), "wb").write(
            numpy_helper.from_array(want, "hidden").SerializeToString())
        r = run([graphsub, "run", out, "--data", folder])
        if r.returncode != 0:
            fail(f"{name}: graphsub run at binding {k}: exit {r.returncode}: {(r.stdout + r.stderr)[-300:]}")
        if ort:
            check_ort(modules, out, feeds, want, tmp, name, k)
    if not ort:
        print(f"note {name}: onnxruntime-node not installed, ONNX Runtime not checked")


def main():
    graphsub, src = sys.argv[1], sys.argv[2]
    try:
        import torch  # noqa: F401, PLC0415
    except ImportError:
        print("note: torch is not installed: nothing to export, nothing checked")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, module, names, axes, examples in models(src):
            check(graphsub, src, tmp, name, module, names, axes, examples)
    print(f"mha fusions: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
