#!/usr/bin/python3
"""Interleaved rotary embedding (GPT-J's rotate_every_two) fuses into
RotaryEmbedding with interleaved=1 at `--opset 23`.

The model: y = x * cos[pos] + rotate_every_two(x) * sin[pos] on x
[batch, 3, seq, 8], rotate_every_two(x) = stack(-x[..., 1::2],
x[..., ::2], -1).flatten(-2), the cos/sin tables built with
repeat_interleave (each pair of columns equal), positions an input.
It becomes one RotaryEmbedding (interleaved=1, no Neg left), passes
`--verify`, and `graphsub run` and ONNX Runtime (when onnxruntime-node is
installed: bench/node_modules or $ORT_NODE_MODULES) reproduce PyTorch's
output at two bindings. The same model with tables whose pairs differ (a
half-split table, Concat(f, f)) is left alone.

usage: rotary_interleaved.py GRAPHSUB SRCDIR
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


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def rope(interleaved_tables):
    import torch  # noqa: PLC0415

    class Rope(torch.nn.Module):
        def __init__(self, hd=8, max_pos=32):
            super().__init__()
            inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
            f = torch.outer(torch.arange(max_pos).float(), inv)
            if interleaved_tables:
                cos, sin = f.cos().repeat_interleave(2, -1), f.sin().repeat_interleave(2, -1)
            else:
                cos, sin = torch.cat((f, f), -1).cos(), torch.cat((f, f), -1).sin()
            self.register_buffer("cos", cos)
            self.register_buffer("sin", sin)

        def forward(self, x, pos):
            c, s = self.cos[pos], self.sin[pos]
            rot = torch.stack((-x[..., 1::2], x[..., ::2]), -1).flatten(-2)
            return x * c + rot * s

    return Rope().eval()


def export(module, path):
    import torch  # noqa: PLC0415
    with torch.no_grad():
        torch.onnx.export(module, (torch.randn(2, 3, 5, 8), torch.arange(5)), path, opset_version=17,
                          input_names=["x", "pos"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch", 2: "seq"}, "pos": {0: "seq"}, "y": {0: "batch", 2: "seq"}})


def check_ort(modules, path, feeds, want, tmp, k):
    out, msg = ort_run(modules, path, feeds, tmp, f"rope{k}")
    if msg:
        fail(f"ONNX Runtime refuses the fused model: {msg[:300]}")
        return
    err = float(np.abs(np.array(out["y"], dtype=np.float32).reshape(want.shape) - want).max())
    if err > 1e-4:
        fail(f"ONNX Runtime's output differs from PyTorch's by {err} at binding {k}")
    else:
        print(f"ok ONNX Runtime at binding {k}, output within {err:.2g}")


def main():
    graphsub, src = sys.argv[1], sys.argv[2]
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        print("note: torch is not installed: nothing to export, nothing checked")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for interleaved in (True, False):
            name = "interleaved" if interleaved else "half-split-tables"
            module = rope(interleaved)
            path, out = os.path.join(tmp, name + ".onnx"), os.path.join(tmp, name + ".fused.onnx")
            export(module, path)
            r = run([graphsub, "optimize", "--quiet", "--opset", "23", "--verify", path, "-o", out])
            if r.returncode != 0:
                fail(f"{name}: optimize --opset 23 --verify exit {r.returncode}: {r.stderr.strip()[-300:]}")
                continue
            m = onnx.load(out)
            ops = collections.Counter(n.op_type for n in m.graph.node)
            rope_nodes = [n for n in m.graph.node if n.op_type == "RotaryEmbedding"]
            if not interleaved:
                if rope_nodes:
                    fail(f"{name}: tables whose pairs differ were fused as interleaved")
                else:
                    print(f"ok {name}: left alone ({dict(ops)})")
                continue
            flags = [a.i for n in rope_nodes for a in n.attribute if a.name == "interleaved"]
            if len(rope_nodes) != 1 or flags != [1] or ops.get("Neg", 0):
                fail(f"{name}: want one RotaryEmbedding with interleaved=1 and no Neg, got {dict(ops)}, {flags}")
            else:
                print(f"ok {name}: one RotaryEmbedding, interleaved=1")
            modules = ort_modules(src)
            ort = modules is not None
            g = torch.Generator().manual_seed(3)
            for k, (b, s, p0) in enumerate(((2, 5, 0), (1, 4, 20))):
                x, pos = torch.randn(b, 3, s, 8, generator=g), torch.arange(p0, p0 + s)
                with torch.no_grad():
                    want = module(x, pos).numpy()
                feeds = {"x": x.numpy(), "pos": pos.numpy()}
                folder = os.path.join(tmp, f"case{k}")
                os.makedirs(folder)
                for i, n in enumerate(("x", "pos")):
                    open(os.path.join(folder, f"input_{i}.pb"), "wb").write(
                        numpy_helper.from_array(feeds[n], n).SerializeToString())
                open(os.path.join(folder, "output_0.pb"), "wb").write(
                    numpy_helper.from_array(want, "y").SerializeToString())
                r = run([graphsub, "run", out, "--data", folder])
                if r.returncode != 0:
                    fail(f"{name}: graphsub run at binding {k}: exit {r.returncode}: {(r.stdout + r.stderr)[-300:]}")
                if ort:
                    check_ort(modules, out, feeds, want, tmp, k)
            if not ort:
                print("note: onnxruntime-node not installed, ONNX Runtime not checked")
    print(f"rotary interleaved: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
