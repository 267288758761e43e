"""The zoo's control-flow models, for bench/make_zoo.py: most of their work sits in If, Loop and
Scan bodies. Three are torch.jit.script exports of PyTorch 1.13 (opset 17), which keep Python's
`if` and `for` as If and Loop; the fourth, a Scan, is built with the onnx package (PyTorch does not
write Scan), the way tf2onnx writes a recurrent layer. Random weights from the caller's seed;
nothing is downloaded.

- `vad`: a voice-activity detector in the manner of Silero VAD: a chunk of 512 samples
  [batch, 512], the sample rate `sr` (int64) and the recurrent state [2, batch, 64]; two networks
  (STFT as a strided Conv1d, magnitude, four Conv1d + BatchNorm + ReLU blocks, an LSTMCell,
  which the exporter writes as an ONNX LSTM of one step, a 1x1 Conv1d + Sigmoid head), one in
  each branch of an If on `sr == 16000`.
- `greedy`: a greedy attention decoder over `memory` [batch, frames, 128] for `max_len` steps
  (int64): a Loop whose body embeds the last token, attends to the memory, steps an LSTMCell,
  takes the arg max of the log-softmax and appends token and score to carried tensors; its
  squeeze()s become Ifs on shapes inside the body.
- `frontend`: a speech encoder's front end whose shape arithmetic sits in If branches:
  `features` [batch, time, 80] padded to a multiple of 4 frames when needed, 4 frames stacked,
  projected, positions cut or tiled to the length, one attention layer with heads split by
  view()s of sizes read from the tensor.
- `scan-gru`: a GRU layer over `x` [batch, time, 64] (hidden 128) as a Scan over the time-major
  input, the body written with a converter's leftovers (Identity, a Cast to the same type, a
  Reshape to the shape it has, a bias split in two Adds of constants).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OPSET = 17


class VadNet(nn.Module):
    """One sample rate's network: frames of `frame` samples (hop frame / 2, reflect-padded)
    through an STFT written as a Conv1d of `bins` real and imaginary filters, the magnitude,
    the encoder, an LSTMCell over the frames' mean and a Sigmoid head."""

    def __init__(self, frame, bins, d=64):
        super().__init__()
        self.frame, self.bins = frame, bins
        self.stft = nn.Conv1d(1, 2 * bins, frame, stride=frame // 2, bias=False)
        self.enc = nn.ModuleList([nn.Sequential(nn.Conv1d(i, d, 3, stride=s, padding=1), nn.BatchNorm1d(d), nn.ReLU())
                                  for i, s in ((bins, 1), (d, 2), (d, 2), (d, 1))])
        self.cell = nn.LSTMCell(d, d)
        self.dec = nn.Conv1d(d, 1, 1)

    def forward(self, x, state):
        x = F.pad(x.unsqueeze(1), (self.frame // 4, self.frame // 4), mode="reflect")
        s = self.stft(x)
        f = torch.sqrt(s[:, :self.bins] ** 2 + s[:, self.bins:] ** 2)
        for block in self.enc:
            f = block(f)
        h, c = self.cell(f.mean(-1), (state[0], state[1]))
        p = torch.sigmoid(self.dec(torch.relu(h).unsqueeze(-1))).squeeze(-1).mean(1, keepdim=True)
        return p, torch.stack([h, c])


class Vad(nn.Module):
    def __init__(self):
        super().__init__()
        self.net16, self.net8 = VadNet(256, 129), VadNet(128, 65)

    def forward(self, x, sr: int, state):
        if x.dim() == 1:
            x = x.unsqueeze(0)
        if sr == 16000:
            p, state = self.net16(x, state)
        else:
            p, state = self.net8(x, state)
        return p, state


class Greedy(nn.Module):
    def __init__(self, vocab: int = 512, d: int = 128, bos: int = 1):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.q, self.k = nn.Linear(d, d), nn.Linear(d, d)
        self.cell = nn.LSTMCell(2 * d, d)
        self.out = nn.Linear(2 * d, vocab)
        self.d, self.bos = d, bos

    def forward(self, memory, max_len: int):
        b = memory.size(0)
        keys = self.k(memory)
        h = memory.mean(1)
        c = torch.zeros_like(h)
        tok = torch.full([b], self.bos, dtype=torch.long)
        tokens = torch.zeros([b, 0], dtype=torch.long)
        scores = torch.zeros([b, 0])
        for _ in range(max_len):
            s = torch.bmm(keys, self.q(h).unsqueeze(2)).squeeze(2) / math.sqrt(self.d)
            ctx = torch.bmm(torch.softmax(s, 1).unsqueeze(1), memory).squeeze(1)
            h, c = self.cell(torch.cat([self.emb(tok), ctx], 1), (h, c))
            best, tok = torch.log_softmax(self.out(torch.cat([h, ctx], 1)), -1).max(-1)
            tokens = torch.cat([tokens, tok.unsqueeze(1)], 1)
            scores = torch.cat([scores, best.unsqueeze(1)], 1)
        return tokens, scores


class Frontend(nn.Module):
    def __init__(self, feat: int = 80, d: int = 256, heads: int = 4, max_len: int = 64):
        super().__init__()
        self.d, self.heads, self.max_len = d, heads, max_len
        self.scale = 1 / math.sqrt(d // heads)   # math.sqrt of a size exports as Sqrt of an int64
        self.proj = nn.Linear(4 * feat, d)
        self.pos = nn.Parameter(torch.randn(max_len, d) * 0.1)
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.ln = nn.LayerNorm(d)

    def forward(self, x):
        if x.dim() == 2:
            x = x.unsqueeze(0)
        b, t, f = x.size(0), x.size(1), x.size(2)
        if t % 4 != 0:
            x = F.pad(x, [0, 0, 0, 4 - t % 4])
            t = x.size(1)
        x = self.proj(x.reshape(b, t // 4, 4 * f))
        n = x.size(1)
        if n <= self.max_len:
            x = x + self.pos[:n]
        else:
            x = x + self.pos.repeat((n + self.max_len - 1) // self.max_len, 1)[:n]
        q, k, v = self.qkv(x).chunk(3, -1)
        hd = x.size(-1) // self.heads
        q = q.reshape(b, n, self.heads, hd).transpose(1, 2)
        k = k.reshape(b, n, self.heads, hd).transpose(1, 2)
        v = v.reshape(b, n, self.heads, hd).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) * self.scale, -1) @ v
        return self.ln(x + self.o(a.transpose(1, 2).reshape(b, n, self.d)))


def rand_stats(model):
    """BatchNorm statistics and affine parameters away from 0 and 1, so a wrong fold shows."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
            elif isinstance(m, nn.LayerNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.4 - 0.2)
    return model


def scan_gru(path, d_in=64, d=128):
    """The GRU layer as a Scan, written with the onnx package."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    F32, N = TensorProto.FLOAT, helper.make_node
    w = lambda *shape: (rng.standard_normal(shape) / math.sqrt(shape[0])).astype(np.float32)
    inits = [numpy_helper.from_array(a, k) for k, a in (
        ("W", w(d_in, 3 * d)), ("R", w(d, 3 * d)), ("Wb", w(3 * d) * 0.1), ("Rb", w(3 * d) * 0.1),
        ("Rb_n", w(d) * 0.1), ("row_shape", np.array([-1, d_in], np.int64)), ("splits", np.array([d, d, d], np.int64)),
        ("one", np.array(1.0, np.float32)))]
    body = helper.make_graph([
        N("Identity", ["h_in"], ["h"]),
        N("Reshape", ["x_t", "row_shape"], ["x2"]),                 # already [batch, d_in]
        N("Add", ["Wb", "Rb"], ["bias"]),                          # two biases, both constants
        N("MatMul", ["x2", "W"], ["xw0"]), N("Add", ["xw0", "bias"], ["xw"]),
        N("MatMul", ["h", "R"], ["hw"]),
        N("Split", ["xw", "splits"], ["xz", "xr", "xn"], axis=1),
        N("Split", ["hw", "splits"], ["hz", "hr", "hn0"], axis=1),
        N("Add", ["hn0", "Rb_n"], ["hn"]),
        N("Add", ["xz", "hz"], ["z0"]), N("Sigmoid", ["z0"], ["z"]),
        N("Add", ["xr", "hr"], ["r0"]), N("Sigmoid", ["r0"], ["r"]),
        N("Mul", ["r", "hn"], ["rn"]), N("Add", ["xn", "rn"], ["n0"]), N("Tanh", ["n0"], ["n"]),
        N("Sub", ["one", "z"], ["zc"]), N("Mul", ["zc", "n"], ["a"]), N("Mul", ["z", "h"], ["b"]),
        N("Add", ["a", "b"], ["h_new"]),
        N("Cast", ["h_new"], ["h_cast"], to=F32),
        N("Identity", ["h_cast"], ["h_out"]), N("Identity", ["h_cast"], ["y_t"])],
        "gru_step", [helper.make_tensor_value_info("h_in", F32, ["batch", d]),
                     helper.make_tensor_value_info("x_t", F32, ["batch", d_in])],
        [helper.make_tensor_value_info("h_out", F32, ["batch", d]),
         helper.make_tensor_value_info("y_t", F32, ["batch", d])])
    g = helper.make_graph([
        N("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        N("Scan", ["h0", "xt"], ["h_last", "ys"], body=body, num_scan_inputs=1),
        N("Transpose", ["ys"], ["y"], perm=[1, 0, 2])], "scan_gru",
        [helper.make_tensor_value_info("x", F32, ["batch", "time", d_in]),
         helper.make_tensor_value_info("h0", F32, ["batch", d])],
        [helper.make_tensor_value_info("y", F32, ["batch", "time", d]),
         helper.make_tensor_value_info("h_last", F32, ["batch", d])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="zoo_control")
    onnx.checker.check_model(m)
    onnx.save(m, path)


def export(name, path):
    """Export the control-flow model name to path (script mode: the example inputs only size
    the outputs, and are neither 0 nor 1 where a dim is symbolic)."""
    if name == "scan-gru":
        return scan_gru(path)
    if name == "vad":
        m, args = Vad(), (torch.randn(2, 512), 16000, torch.zeros(2, 2, 64))
        ins, outs, axes = ["x", "sr", "state"], ["prob", "state_out"], {"x": {0: "batch"}, "state": {1: "batch"}}
    elif name == "greedy":
        m, args = Greedy(), (torch.randn(2, 50, 128), 16)
        ins, outs, axes = ["memory", "max_len"], ["tokens", "scores"], {"memory": {0: "batch", 1: "frames"}}
    elif name == "frontend":
        m, args = Frontend(), (torch.randn(2, 202, 80),)
        ins, outs, axes = ["features"], ["encoded"], {"features": {0: "batch", 1: "time"}}
    else:
        raise ValueError(f"no control-flow model {name}")
    scripted = torch.jit.script(rand_stats(m).eval())
    torch.onnx.export(scripted, args, path, opset_version=OPSET, input_names=ins, output_names=outs,
                      dynamic_axes=axes)


CONTROL = ["vad", "greedy", "frontend", "scan-gru"]
