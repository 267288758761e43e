#!/usr/bin/python3
"""Export the benchmark zoo with PyTorch (random weights, fixed seed, nothing
downloaded), opset 13, batch 1, into bench/models/; and the dynamic-shape
models of zoo_dynamic.py (decoder, bert-dyn, whisper) at opset 17 with
symbolic batch/seq/past dims; and the control-flow models of zoo_control.py (vad, greedy,
frontend, scan-gru) at opset 17, three of them torch.jit.script exports.

CNNs are exported twice: NAME-bn keeps BatchNormalization as separate nodes
(training mode PRESERVE on an eval-mode model, constant folding off) and NAME
uses the exporter's defaults. BatchNormalization statistics and affine
parameters are randomised so a wrong fold changes the outputs. BERT is also
exported with constant folding off (bert-nofold), and at 24 and 48 layers.

usage: bench/make_zoo.py [--only a,b | --broad] [--force] [--out DIR]
"""
import argparse
import os
import sys

import torch
import torchvision

import zoo_broad
import zoo_control
import zoo_dynamic


def rand_bn(model):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
    return model


def rand_affine(model):
    """Give what torchvision initialises to ones and zeros the scatter of a trained model: LayerNorm
    scales and shifts, Linear and Conv biases, ConvNeXt's layer scales (1e-6 at init). Left at one
    and zero, the exporter shares one tensor among them and graphsub removes the Mul by one and the
    Add of zero, so the LayerNorms and Linears would not look like a trained model's."""
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.4 - 0.2)
            elif isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and m.bias is not None:
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
            if hasattr(m, "layer_scale"):
                m.layer_scale.copy_(torch.rand(m.layer_scale.shape, generator=g) * 0.5 + 0.05)
    return model


class Block(torch.nn.Module):
    """A transformer layer of plain Linear/LayerNorm/GELU/softmax ops: Q, K, V are separate MatMuls."""

    def __init__(self, d=768, heads=12, causal=False):
        super().__init__()
        self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
        self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        self.f1, self.f2 = torch.nn.Linear(d, 4 * d), torch.nn.Linear(4 * d, d)
        self.heads, self.causal = heads, causal
        self.register_buffer("mask", torch.triu(torch.full((128, 128), -1e4), 1))   # opset 13 has no Trilu

    def forward(self, x, bias=None):
        b, t, d = x.shape
        h = self.heads
        q = self.q(x).view(b, t, h, d // h).transpose(1, 2)
        k = self.k(x).view(b, t, h, d // h).transpose(1, 2)
        v = self.v(x).view(b, t, h, d // h).transpose(1, 2)
        s = q @ k.transpose(-1, -2) / (d // h) ** 0.5
        if self.causal:
            s = s + self.mask[:t, :t]
        if bias is not None:
            s = s + bias
        a = torch.softmax(s, -1) @ v
        x = self.ln1(x + self.o(a.transpose(1, 2).reshape(b, t, d)))
        return self.ln2(x + self.f2(torch.nn.functional.gelu(self.f1(x))))


class Encoder(torch.nn.Module):
    def __init__(self, layers, causal=False):
        super().__init__()
        self.emb = torch.nn.Embedding(1000, 768)
        self.pos = torch.nn.Parameter(torch.randn(1, 128, 768) * 0.02)
        self.layers = torch.nn.ModuleList([Block(causal=causal) for _ in range(layers)])

    def forward(self, ids):
        x = self.emb(ids) + self.pos
        for layer in self.layers:
            x = layer(x)
        return x


def cnn(name):
    tv = torchvision.models
    build = {"resnet50": tv.resnet50, "resnext50": tv.resnext50_32x4d, "mobilenetv2": tv.mobilenet_v2,
             "squeezenet": tv.squeezenet1_1, "vit": tv.vit_b_16, "convnext": tv.convnext_tiny}
    if name == "inception":
        return torch.randn(1, 3, 299, 299), rand_bn(tv.inception_v3(weights=None, aux_logits=False,
                                                                     init_weights=True)).eval()
    if name == "convnext":
        return torch.randn(1, 3, 224, 224), rand_affine(tv.convnext_tiny(weights=None)).eval()
    return torch.randn(1, 3, 224, 224), rand_bn(build[name](weights=None)).eval()


def export(model, x, path, **kw):
    torch.onnx.export(model, x, path, opset_version=13, **kw)


def make(name, out):
    torch.manual_seed(0)
    base = name.replace("-bn", "").replace("-nofold", "")
    path = os.path.join(out, name + ".onnx")
    if name in zoo_dynamic.DYNAMIC:
        zoo_dynamic.export(name, path, Block)
    elif name in zoo_control.CONTROL:
        zoo_control.export(name, path)
    elif name in zoo_broad.MODELS:
        zoo_broad.MODELS[name](name, path)
    elif name in zoo_broad.FP16_BASE or name in zoo_broad.NHWC_BASE:
        base_of, convert = ((zoo_broad.FP16_BASE, zoo_broad.to_fp16) if name in zoo_broad.FP16_BASE
                            else (zoo_broad.NHWC_BASE, zoo_broad.to_nhwc))
        src = os.path.join(out, base_of[name] + ".onnx")
        if not os.path.exists(src):
            make(base_of[name], out)
        convert(src, path)
    elif base.startswith("bert") or base == "gpt2":
        layers = int(base.split("-")[1]) if "-" in base else 12
        model = Encoder(layers, causal=base == "gpt2").eval()
        export(model, torch.randint(0, 1000, (1, 128)), path, do_constant_folding=not name.endswith("-nofold"))
    elif name.endswith("-bn"):
        x, model = cnn(base)
        export(model, x, path, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    else:
        x, model = cnn(base)
        export(model, x, path)
    return path


ZOO = ["squeezenet", "squeezenet-bn", "resnet50", "resnet50-bn", "resnext50", "resnext50-bn",
       "mobilenetv2", "mobilenetv2-bn", "inception", "inception-bn", "vit", "convnext", "bert", "bert-nofold", "gpt2",
       "bert-24", "bert-48", "bert-2"] + zoo_dynamic.DYNAMIC + zoo_control.CONTROL
# the broader zoo (zoo_broad.py): every torchvision family, segmentation, detection, QDQ, fp16 and
# channels-last
BROAD = list(zoo_broad.MODELS) + list(zoo_broad.FP16_BASE) + list(zoo_broad.NHWC_BASE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--broad", action="store_true", help="only the broader zoo of zoo_broad.py")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "models"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    names = a.only.split(",") if a.only else BROAD if a.broad else ZOO + BROAD
    for name in names:
        path = os.path.join(a.out, name + ".onnx")
        if os.path.exists(path) and not a.force:
            continue
        try:
            make(name, a.out)
            print(f"made {path}", file=sys.stderr)
        except Exception as e:  # noqa: BLE001 - the driver shows the failure in the row
            print(f"make_zoo: {name}: {e}", file=sys.stderr)


if __name__ == "__main__":
    main()
