#!/usr/bin/python3
"""Each opset-23 transformer op against its written-out form in ONNX Runtime.

For RMSNormalization, RotaryEmbedding and Attention (grouped-query, with a
key/value cache), a one-block model is exported by PyTorch at opset 17 the
way a Llama-style decoder writes it (bench/zoo_dynamic.py's shapes: hidden
512, 8 query heads over 2 key/value heads, head size 64), optimized by
`graphsub optimize --opset 23` (which must fuse it into the op; the run
stops otherwise), and both are timed by bench/ort_compare.js at the prefill
(batch 1, seq 128, past 0) and decode (batch 1, seq 1, past 255) points, at
ONNX Runtime's levels `disabled` and `all`. One JSON object per op and point
goes to stdout: the median ratio fused / written-out per level (below 1 is
faster) and the largest output difference.

Timings need a quiet machine: on a shared one, differences within a few
percent are noise (see bench/README.md). These figures are what
profiles/onnxruntime-cpu.json's choice of opset and rules for these ops
should rest on.

usage: bench/fused_ops.py [--pairs N] [--only rms,rope,attention] [--keep DIR]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GRAPHSUB = os.environ.get("GRAPHSUB") or os.path.join(ROOT, "build", "cli", "graphsub")
D, HEADS, KV, HD = 512, 8, 2, 64
POINTS = [("prefill", {"batch": 1, "seq": 128, "past": 0}), ("decode", {"batch": 1, "seq": 1, "past": 255})]


class Rms(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(1 + 0.1 * torch.randn(D))

    def forward(self, x, past):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight + past.sum() * 0


def rotate_half(x):
    return torch.cat((-x[..., HD // 2:], x[..., :HD // 2]), -1)


class Rope(torch.nn.Module):
    """Query and key rotary embedding on [B, heads, S, HD] from cos/sin tables."""

    def __init__(self):
        super().__init__()
        inv = 1.0 / 10000 ** (torch.arange(0, HD, 2).float() / HD)
        emb = torch.outer(torch.arange(1024).float(), inv)
        emb = torch.cat((emb, emb), -1)
        self.register_buffer("cos", emb.cos())
        self.register_buffer("sin", emb.sin())

    def forward(self, q, past):
        t, p = q.shape[2], past.shape[2]
        pos = torch.arange(p, p + t)
        cos, sin = self.cos[pos], self.sin[pos]
        return q * cos + rotate_half(q) * sin


class Att(torch.nn.Module):
    """Softmax(Q Kt / sqrt(HD) + mask) V with the cache Concat and Llama's repeat_kv; the
    mask is causal, -1e9 above the diagonal shifted by the past length."""

    def forward(self, q, k, v, past_k, past_v):
        b, t, p = q.shape[0], q.shape[2], past_k.shape[2]
        mask = torch.triu(torch.full((t, p + t), -1e9), diagonal=p + 1)[None, None]
        k = torch.cat((past_k, k), 2)
        v = torch.cat((past_v, v), 2)
        total, rep = k.shape[2], HEADS // KV
        kr = k[:, :, None].expand(b, KV, rep, total, HD).reshape(b, HEADS, total, HD)
        vr = v[:, :, None].expand(b, KV, rep, total, HD).reshape(b, HEADS, total, HD)
        s = q @ kr.transpose(2, 3) / math.sqrt(HD) + mask
        return torch.softmax(s, -1) @ vr, k, v


def export(name, path):
    b, t, p = 2, 5, 3
    if name == "rms":
        m, args = Rms(), (torch.randn(b, t, D), torch.randn(b, KV, p, HD))
        ins, outs = ["x", "past"], ["y"]
        axes = {"x": {0: "batch", 1: "seq"}, "past": {0: "batch", 2: "past"}, "y": {0: "batch", 1: "seq"}}
    elif name == "rope":
        m, args = Rope(), (torch.randn(b, HEADS, t, HD), torch.randn(b, KV, p, HD))
        ins, outs = ["q", "past"], ["y"]
        axes = {"q": {0: "batch", 2: "seq"}, "past": {0: "batch", 2: "past"}, "y": {0: "batch", 2: "seq"}}
    else:
        m = Att()
        args = (torch.randn(b, HEADS, t, HD), torch.randn(b, KV, t, HD), torch.randn(b, KV, t, HD),
                torch.randn(b, KV, p, HD), torch.randn(b, KV, p, HD))
        ins, outs = ["q", "k", "v", "past_k", "past_v"], ["y", "present_k", "present_v"]
        axes = {"q": {0: "batch", 2: "seq"}, "k": {0: "batch", 2: "seq"}, "v": {0: "batch", 2: "seq"},
                "past_k": {0: "batch", 2: "past"},
                "past_v": {0: "batch", 2: "past"}, "y": {0: "batch", 2: "seq"},
                "present_k": {0: "batch", 2: "past + seq"}, "present_v": {0: "batch", 2: "past + seq"}}
    torch.onnx.export(m.eval(), args, path, opset_version=17, input_names=ins, output_names=outs,
                      dynamic_axes=axes)


FUSED = {"rms": "RMSNormalization", "rope": "RotaryEmbedding", "attention": "Attention"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=11)
    ap.add_argument("--only", default="rms,rope,attention")
    ap.add_argument("--keep", default=None, help="keep the models in this folder")
    a = ap.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.keep or tmp
        os.makedirs(folder, exist_ok=True)
        for name in a.only.split(","):
            src, opt = os.path.join(folder, name + ".onnx"), os.path.join(folder, name + ".fused.onnx")
            export(name, src)
            r = subprocess.run([GRAPHSUB, "optimize", "--quiet", "--opset", "23", "--verify", src, "-o", opt],
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"fused_ops: {name}: graphsub optimize exit {r.returncode}: {r.stderr.strip()}")
            import onnx  # noqa: PLC0415
            if FUSED[name] not in [n.op_type for n in onnx.load(opt).graph.node]:
                sys.exit(f"fused_ops: {name}: graphsub did not fuse it into {FUSED[name]}")
            for point, dims in POINTS:
                spec = ",".join(f"{k}={v}" for k, v in dims.items())
                r = subprocess.run(["node", os.path.join(HERE, "ort_compare.js"), src, opt, "--pairs", str(a.pairs),
                                    "--levels", "disabled,all", "--dims", spec], capture_output=True, text=True)
                if r.returncode != 0:
                    print(json.dumps({"op": FUSED[name], "point": point, "error": r.stderr.strip()[-300:]}))
                    continue
                res = json.loads(r.stdout)
                print(json.dumps({"op": FUSED[name], "point": point, "dims": dims, "result": res}))


if __name__ == "__main__":
    main()
