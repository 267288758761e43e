"""The zoo's dynamic-shape models, for bench/make_zoo.py: a Llama-style decoder
with a KV cache, a BERT encoder with dynamic batch and sequence, and a
Whisper-style encoder-decoder. Each is exported once at opset 17 (PyTorch
1.13's ceiling) with named symbolic dims; bench/run times them at the points
of its POINTS table. Random weights from the caller's seed; nothing is
downloaded.
"""
import math

import torch
from torch import nn

OPSET = 17


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(1 + 0.1 * torch.randn(d))   # not all ones, so a dropped scale shows

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotary_tables(positions, head_dim, base=10000.0):
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
    freqs = torch.outer(torch.arange(positions).float(), inv)
    emb = torch.cat((freqs, freqs), -1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), -1)


class LlamaLayer(nn.Module):
    """Pre-RMSNorm layer: rotary Q/K, grouped-query attention over a KV cache
    (K/V heads repeated with Expand + Reshape), SwiGLU MLP. Linear layers have
    no bias."""

    def __init__(self, d, heads, kv_heads, ffn):
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, d // heads
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.wv = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.w1, self.w3 = nn.Linear(d, ffn, bias=False), nn.Linear(d, ffn, bias=False)
        self.w2 = nn.Linear(ffn, d, bias=False)
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)

    def forward(self, x, cos, sin, keep, past_k, past_v):
        b, t, d = x.shape
        h = self.n1(x)
        q = self.wq(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.wk(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = self.wv(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = torch.cat((past_k, k), 2)
        v = torch.cat((past_v, v), 2)
        total = k.shape[2]
        rep = self.heads // self.kv_heads
        kr = k[:, :, None].expand(b, self.kv_heads, rep, total, self.hd).reshape(b, self.heads, total, self.hd)
        vr = v[:, :, None].expand(b, self.kv_heads, rep, total, self.hd).reshape(b, self.heads, total, self.hd)
        s = q @ kr.transpose(-1, -2) / math.sqrt(self.hd)
        s = s.masked_fill(keep == 0, -1e9)
        a = torch.softmax(s, -1) @ vr
        x = x + self.wo(a.transpose(1, 2).reshape(b, t, d))
        h = self.n2(x)
        x = x + self.w2(nn.functional.silu(self.w1(h)) * self.w3(h))
        return x, k, v


class LlamaDecoder(nn.Module):
    """input_ids [batch, seq] and per layer past_key_i / past_value_i
    [batch, kv_heads, past, head_dim] -> logits [batch, seq, vocab] and
    present_key_i / present_value_i [batch, kv_heads, past + seq, head_dim].
    The causal mask is a Trilu of ones with k = past, then Where."""

    def __init__(self, d=512, layers=6, heads=8, kv_heads=2, ffn=1408, vocab=4096, max_pos=1024):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList([LlamaLayer(d, heads, kv_heads, ffn) for _ in range(layers)])
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        cos, sin = rotary_tables(max_pos, d // heads)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, ids, *past):
        t, p = ids.shape[1], past[0].shape[2]
        pos = torch.arange(p, p + t)
        cos, sin = self.cos[pos], self.sin[pos]
        keep = torch.tril(torch.ones(t, t + p), diagonal=p)
        x = self.emb(ids)
        present = []
        for i, layer in enumerate(self.layers):
            x, k, v = layer(x, cos, sin, keep, past[2 * i], past[2 * i + 1])
            present += [k, v]
        return (self.head(self.norm(x)),) + tuple(present)


class BertDyn(nn.Module):
    """input_ids and attention_mask [batch, seq] -> hidden [batch, seq, 768]:
    position embeddings sliced to seq, the mask as an additive bias of 0
    where it is 1 and -10000 elsewhere (so random masks of any integers give
    bounded scores)."""

    def __init__(self, block, layers=6, d=768, vocab=8000, max_pos=512):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_pos, d)
        self.ln = nn.LayerNorm(d)
        self.layers = nn.ModuleList([block() for _ in range(layers)])

    def forward(self, ids, mask):
        t = ids.shape[1]
        x = self.ln(self.emb(ids) + self.pos.weight[:t])
        inverted = 1.0 - mask[:, None, None, :].float()
        bias = inverted.masked_fill(inverted.bool(), -10000.0)   # every mask value but 1 masks
        for layer in self.layers:
            x = layer(x, bias)
        return x


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.hd = heads, d // heads
        self.q, self.k, self.v, self.o = nn.Linear(d, d), nn.Linear(d, d, bias=False), nn.Linear(d, d), nn.Linear(d, d)

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.hd).transpose(1, 2)

    def attend(self, q, k, v, masked=None):
        s = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        if masked is not None:
            s = s.masked_fill(masked, -1e9)
        a = torch.softmax(s, -1) @ v
        b, h, t, hd = a.shape
        return self.o(a.transpose(1, 2).reshape(b, t, h * hd))


class WhisperEncoderLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.attn = Attention(d, heads)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.f1, self.f2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.attn.attend(self.attn.split(self.attn.q(h)), self.attn.split(self.attn.k(h)),
                                 self.attn.split(self.attn.v(h)))
        return x + self.f2(nn.functional.gelu(self.f1(self.ln2(x))))


class WhisperDecoderLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.self_attn, self.cross = Attention(d, heads), Attention(d, heads)
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.f1, self.f2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x, enc, masked, past_k, past_v):
        a = self.self_attn
        h = self.ln1(x)
        k = torch.cat((past_k, a.split(a.k(h))), 2)
        v = torch.cat((past_v, a.split(a.v(h))), 2)
        x = x + a.attend(a.split(a.q(h)), k, v, masked)
        c = self.cross
        x = x + c.attend(c.split(c.q(self.ln2(x))), c.split(c.k(enc)), c.split(c.v(enc)))
        return x + self.f2(nn.functional.gelu(self.f1(self.ln3(x)))), k, v


def sinusoids(length, d):
    inc = math.log(10000) / (d // 2 - 1)
    inv = torch.exp(-inc * torch.arange(d // 2).float())
    t = torch.arange(length).float()[:, None] * inv[None, :]
    return torch.cat((t.sin(), t.cos()), 1)


class Whisper(nn.Module):
    """input_features [batch, 80, frames], decoder_input_ids [batch, seq] and
    per decoder layer past_key_i / past_value_i [batch, heads, past, head_dim]
    -> logits [batch, seq, vocab] and present_key_i / present_value_i.
    Conv1d front end (the second with stride 2), pre-LayerNorm encoder,
    decoder with a causal mask from Range, Greater and Where, cross-attention
    to the encoder output, output projection tied to the token embedding."""

    def __init__(self, d=384, heads=6, enc_layers=4, dec_layers=4, mels=80, vocab=5000, max_src=1500, max_tgt=448):
        super().__init__()
        self.conv1 = nn.Conv1d(mels, d, 3, padding=1)
        self.conv2 = nn.Conv1d(d, d, 3, stride=2, padding=1)
        self.register_buffer("enc_pos", sinusoids(max_src, d))
        self.enc = nn.ModuleList([WhisperEncoderLayer(d, heads) for _ in range(enc_layers)])
        self.enc_ln = nn.LayerNorm(d)
        self.tok = nn.Embedding(vocab, d)
        self.dec_pos = nn.Parameter(torch.randn(max_tgt, d) * 0.02)
        self.dec = nn.ModuleList([WhisperDecoderLayer(d, heads) for _ in range(dec_layers)])
        self.dec_ln = nn.LayerNorm(d)

    def forward(self, features, ids, *past):
        x = nn.functional.gelu(self.conv1(features))
        x = nn.functional.gelu(self.conv2(x)).transpose(1, 2)
        x = x + self.enc_pos[:x.shape[1]]
        for layer in self.enc:
            x = layer(x)
        enc = self.enc_ln(x)
        t, p = ids.shape[1], past[0].shape[2]
        y = self.tok(ids) + self.dec_pos[p:p + t]
        masked = torch.arange(t + p)[None, :] > (torch.arange(t) + p)[:, None]
        present = []
        for i, layer in enumerate(self.dec):
            y, k, v = layer(y, enc, masked, past[2 * i], past[2 * i + 1])
            present += [k, v]
        return (self.dec_ln(y) @ self.tok.weight.t(),) + tuple(present)


def cache_names(layers, prefix):
    return [f"{prefix}_{kind}_{i}" for i in range(layers) for kind in ("key", "value")]


def export(name, path, block):
    """Export the dynamic model name to path. The example inputs use sizes
    that are neither 0 nor 1 and differ from each other, so no dim is taken
    for a constant."""
    b, t, p = 2, 5, 3
    if name == "decoder":
        m = LlamaDecoder().eval()
        n, kv, hd = len(m.layers), m.layers[0].kv_heads, m.layers[0].hd
        past = [torch.randn(b, kv, p, hd) for _ in range(2 * n)]
        args = (torch.randint(0, 4096, (b, t)),) + tuple(past)
        ins = ["input_ids"] + cache_names(n, "past")
        outs = ["logits"] + cache_names(n, "present")
        axes = {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    elif name == "bert-dyn":
        m = BertDyn(block).eval()
        args = (torch.randint(0, 8000, (b, t)), torch.ones(b, t, dtype=torch.int64))
        ins, outs = ["input_ids", "attention_mask"], ["hidden"]
        axes = {k: {0: "batch", 1: "seq"} for k in ins + outs}
    elif name == "whisper":
        m = Whisper().eval()
        n, h, hd = len(m.dec), m.dec[0].self_attn.heads, m.dec[0].self_attn.hd
        past = [torch.randn(b, h, p, hd) for _ in range(2 * n)]
        args = (torch.randn(b, 80, 14), torch.randint(0, 5000, (b, t))) + tuple(past)
        ins = ["input_features", "decoder_input_ids"] + cache_names(n, "past")
        outs = ["logits"] + cache_names(n, "present")
        axes = {"input_features": {0: "batch", 2: "frames"}, "decoder_input_ids": {0: "batch", 1: "seq"},
                "logits": {0: "batch", 1: "seq"}}
    else:
        raise ValueError(f"no dynamic model {name}")
    for k in ins:
        if "past_" in k:
            axes[k] = {0: "batch", 2: "past"}
    for k in outs:
        if "present_" in k:
            axes[k] = {0: "batch", 2: "total"}
    torch.onnx.export(m, args, path, opset_version=OPSET, input_names=ins, output_names=outs, dynamic_axes=axes)


DYNAMIC = ["decoder", "bert-dyn", "whisper"]
