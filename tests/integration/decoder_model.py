#!/usr/bin/python3
"""A small Llama-style decoder exported by PyTorch with dynamic shapes.

RMSNorm, rotary position embedding, grouped-query attention (8 query heads
over 2 key/value heads, the key/value heads repeated by expand and
reshape), a SwiGLU MLP, a causal mask made with torch.triu and
torch.where, and a key/value cache: inputs `past_key_N`/`past_value_N`,
outputs `present_key_N`/`present_value_N`. Dynamic axes `batch`, `seq` and
`past`; opset 17. Random weights from a fixed seed; hidden size 64.

usage: decoder_model.py OUT.onnx [--layers N]
       decoder_model.py --data FOLDER [--layers N]   (model.onnx and test_data_set_K with
                                                      PyTorch's outputs: tests/data/decoder)
"""
import argparse
import math
import os

import torch

HIDDEN, HEADS, KV_HEADS, VOCAB, FFN = 64, 8, 2, 128, 96
HEAD_DIM = HIDDEN // HEADS


class RMSNorm(torch.nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.rand(d) + 0.5)
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + self.eps) * self.weight


def rotate_half(x):
    a, b = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-b, a), dim=-1)


def rotary(x, cos, sin):
    return x * cos + rotate_half(x) * sin


def repeat_kv(x, n):
    """(b, kv, s, d) -> (b, kv * n, s, d) by expand and reshape, as Llama does."""
    b, kv, s, d = x.shape
    return x[:, :, None, :, :].expand(b, kv, n, s, d).reshape(b, kv * n, s, d)


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(HIDDEN, HEADS * HEAD_DIM, bias=False)
        self.k = torch.nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.v = torch.nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.o = torch.nn.Linear(HEADS * HEAD_DIM, HIDDEN, bias=False)

    def forward(self, x, cos, sin, mask, past_k, past_v):
        b, s, _ = x.shape
        q = self.q(x).view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k(x).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = self.v(x).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q, k = rotary(q, cos, sin), rotary(k, cos, sin)
        k = torch.cat((past_k, k), dim=2)
        v = torch.cat((past_v, v), dim=2)
        kr, vr = repeat_kv(k, HEADS // KV_HEADS), repeat_kv(v, HEADS // KV_HEADS)
        att = torch.matmul(q, kr.transpose(2, 3)) / math.sqrt(HEAD_DIM) + mask
        att = torch.softmax(att.float(), dim=-1).to(q.dtype)
        y = torch.matmul(att, vr).transpose(1, 2).reshape(b, s, HIDDEN)
        return self.o(y), k, v


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = RMSNorm(HIDDEN), RMSNorm(HIDDEN)
        self.att = Attention()
        self.gate = torch.nn.Linear(HIDDEN, FFN, bias=False)
        self.up = torch.nn.Linear(HIDDEN, FFN, bias=False)
        self.down = torch.nn.Linear(FFN, HIDDEN, bias=False)

    def forward(self, x, cos, sin, mask, past_k, past_v):
        b, s, _ = x.shape
        mask = mask.expand(b, 1, s, past_k.shape[2] + s)
        a, k, v = self.att(self.n1(x), cos, sin, mask, past_k, past_v)
        x = x + a
        h = self.n2(x)
        x = x + self.down(torch.nn.functional.silu(self.gate(h)) * self.up(h))
        return x, k, v


class Decoder(torch.nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, HIDDEN)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(layers))
        self.norm = RMSNorm(HIDDEN)
        self.head = torch.nn.Linear(HIDDEN, VOCAB, bias=False)
        inv = 1.0 / (10000 ** (torch.arange(0, HEAD_DIM, 2).float() / HEAD_DIM))
        self.register_buffer("inv_freq", inv)

    def forward(self, ids, *cache):
        s = ids.shape[1]
        past = cache[0].shape[2]
        pos = torch.arange(past, past + s, dtype=torch.int64)
        freqs = pos.float()[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        # causal: query i (at position past + i) sees keys 0 .. past + i
        full = torch.ones(s, past + s, dtype=torch.bool)
        allowed = torch.tril(full, diagonal=past)
        mask = torch.where(allowed, torch.zeros(()), torch.full((), -1e9))[None, None]
        x = self.embed(ids)
        present = []
        for i, blk in enumerate(self.blocks):
            x, k, v = blk(x, cos, sin, mask, cache[2 * i], cache[2 * i + 1])
            present += [k, v]
        return (self.head(self.norm(x)), *present)


def export(path, layers=2, seed=0):
    """Export the model to path; returns the torch module."""
    torch.manual_seed(seed)
    model = Decoder(layers).eval()
    batch, seq, past = 2, 3, 4
    ids = torch.randint(0, VOCAB, (batch, seq))
    cache = [torch.randn(batch, KV_HEADS, past, HEAD_DIM) for _ in range(2 * layers)]
    cache_names = [f"past_{kv}_{i}" for i in range(layers) for kv in ("key", "value")]
    present_names = [f"present_{kv}_{i}" for i in range(layers) for kv in ("key", "value")]
    axes = {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    axes.update({n: {0: "batch", 2: "past"} for n in cache_names})
    axes.update({n: {0: "batch", 2: "past + seq"} for n in present_names})
    with torch.no_grad():
        torch.onnx.export(model, (ids, *cache), path, opset_version=17,
                          input_names=["input_ids", *cache_names],
                          output_names=["logits", *present_names], dynamic_axes=axes)
    return model


BINDINGS = ((2, 3, 4), (1, 1, 5))   # (batch, seq, past) of the test cases


def cases(model, layers):
    """[(inputs, outputs)] by name, one per binding, computed by PyTorch."""
    out = []
    for k, (batch, seq, past) in enumerate(BINDINGS):
        g = torch.Generator().manual_seed(100 + k)
        ids = torch.randint(0, VOCAB, (batch, seq), generator=g)
        cache = [torch.randn(batch, KV_HEADS, past, HEAD_DIM, generator=g) for _ in range(2 * layers)]
        with torch.no_grad():
            res = model(ids, *cache)
        names = ["input_ids"] + [f"past_{kv}_{i}" for i in range(layers) for kv in ("key", "value")]
        onames = ["logits"] + [f"present_{kv}_{i}" for i in range(layers) for kv in ("key", "value")]
        out.append(({n: t.numpy() for n, t in zip(names, (ids, *cache))},
                    {n: t.numpy() for n, t in zip(onames, res)}))
    return out


def write_folder(folder, layers):
    """folder/model.onnx and folder/test_data_set_K/{input,output}_N.pb (ONNX test-data layout)."""
    from onnx import numpy_helper  # noqa: PLC0415
    os.makedirs(folder, exist_ok=True)
    model = export(os.path.join(folder, "model.onnx"), layers)
    for k, (ins, outs) in enumerate(cases(model, layers)):
        d = os.path.join(folder, f"test_data_set_{k}")
        os.makedirs(d, exist_ok=True)
        for kind, tensors in (("input", ins), ("output", outs)):
            for i, (name, a) in enumerate(tensors.items()):
                with open(os.path.join(d, f"{kind}_{i}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(a, name).SerializeToString())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", help="OUT.onnx, or a folder with --data")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--data", action="store_true", help="write a test-data folder with PyTorch's outputs")
    a = ap.parse_args()
    if a.data:
        write_folder(a.out, a.layers)
    else:
        export(a.out, a.layers)


if __name__ == "__main__":
    main()
