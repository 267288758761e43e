"""The broader zoo, for bench/make_zoo.py: one model of every image
classification family torchvision 0.14 offers, its segmentation and
detection models, a QDQ-quantized CNN and fp16 models. Random weights from
the caller's seed (BatchNorm statistics and affine parameters randomised, so
a wrong fold changes the outputs); nothing is downloaded.

Each entry of MODELS maps a zoo name to a function (name, path) that writes
the model. Detection models return boxes, scores and labels after score
thresholds and NMS: with random weights their scores are spread so that the
count of boxes kept does not hinge on a last-bit difference.
"""

import numpy as np
import onnx
import torch
import torchvision
from onnx import TensorProto, helper, numpy_helper

tv = torchvision.models


def rand_norms(model, seed=1):
    """BatchNorm statistics and every norm's affine parameters away from the
    ones and zeros torchvision starts them at."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d, torch.nn.LayerNorm, torch.nn.GroupNorm)) \
                    and getattr(m, "weight", None) is not None:
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.4 - 0.2)
            elif isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and m.bias is not None:
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
            if hasattr(m, "layer_scale") and isinstance(m.layer_scale, torch.Tensor):
                m.layer_scale.copy_(torch.rand(m.layer_scale.shape, generator=g) * 0.5 + 0.05)
    return model


def export(model, x, path, opset=13, **kw):
    with torch.no_grad():
        torch.onnx.export(model, x, path, opset_version=opset, **kw)


# -- classification: the smallest member of each family, 224x224 (Swin-T, EfficientNet-B0 as trained)

CLASSIFIERS = {
    "alexnet": tv.alexnet, "vgg11": tv.vgg11_bn, "googlenet": None, "densenet121": tv.densenet121,
    "efficientnet-b0": tv.efficientnet_b0, "efficientnet-v2-s": tv.efficientnet_v2_s,
    "regnet-y-400mf": tv.regnet_y_400mf, "regnet-x-400mf": tv.regnet_x_400mf,
    "shufflenetv2": tv.shufflenet_v2_x1_0, "mobilenetv3-large": tv.mobilenet_v3_large,
    "mobilenetv3-small": tv.mobilenet_v3_small, "mnasnet": tv.mnasnet1_0, "swin-t": tv.swin_t,
    "resnet18": tv.resnet18, "wide-resnet50": tv.wide_resnet50_2,
}


def classifier(name, path):
    if name == "googlenet":
        model = tv.googlenet(weights=None, aux_logits=False, init_weights=True)
    else:
        model = CLASSIFIERS[name](weights=None)
    export(rand_norms(model).eval(), torch.randn(1, 3, 224, 224), path)


def video(name, path):
    """R3D-18: 3-D convolutions over 8 frames of 112x112."""
    export(rand_norms(tv.video.r3d_18(weights=None)).eval(), torch.randn(1, 3, 8, 112, 112), path)


# -- segmentation (256x256; the output is the 'out' map)

class OutOnly(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)["out"]


SEGMENTERS = {
    "deeplabv3-mobilenetv3": lambda: tv.segmentation.deeplabv3_mobilenet_v3_large(weights=None,
                                                                                    weights_backbone=None),
    "deeplabv3-resnet50": lambda: tv.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None),
    "fcn-resnet50": lambda: tv.segmentation.fcn_resnet50(weights=None, weights_backbone=None),
    "lraspp": lambda: tv.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None),
}


def segmenter(name, path):
    export(OutOnly(rand_norms(SEGMENTERS[name]())).eval(), torch.randn(1, 3, 256, 256), path)


# -- detection: torchvision's own ONNX path (opset 13, the image size fixed at 320x320)

class Boxes(torch.nn.Module):
    """A detector on one image [3, H, W] -> boxes, scores, labels, then the outputs of the heads
    named in `heads` (each flattened, its calls concatenated): untrained, some detectors keep no
    box on a random image, and an output compared between two models must hold numbers."""

    def __init__(self, m, heads=()):
        super().__init__()
        self.m = m
        self.seen = {n: [] for n in heads}
        for n, mod in m.named_modules():
            if n in self.seen:
                mod.register_forward_hook(self.record(n))

    def record(self, name):
        def hook(module, inputs, output):   # returns None: the output stays as it is
            todo = [output]
            while todo:
                o = todo.pop(0)
                if isinstance(o, (tuple, list)):
                    todo[:0] = o
                else:
                    self.seen[name].append(o.flatten())
        return hook

    def forward(self, x):
        for calls in self.seen.values():
            calls.clear()
        d = self.m([x])[0]
        return (d["boxes"], d["scores"], d["labels"]) + tuple(torch.cat(c) for c in self.seen.values())


def detectors():
    det = tv.detection
    small = dict(weights=None, weights_backbone=None, min_size=320, max_size=320)
    return {
        "ssdlite": lambda: det.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                             score_thresh=0.3),
        "retinanet": lambda: det.retinanet_resnet50_fpn(score_thresh=0.3, **small),
        "fcos": lambda: det.fcos_resnet50_fpn(score_thresh=0.3, **small),
        "fasterrcnn": lambda: det.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None,
                                                                        box_score_thresh=0.05),
        "maskrcnn": lambda: det.maskrcnn_resnet50_fpn(box_score_thresh=0.05, **small),
    }


def spread_scores(model, x):
    """Scale each classification layer (cls_logits, cls_score) so its outputs have a standard
    deviation of about 1 on x: untrained, a ResNet backbone's features grow layer by layer and
    the scores saturate at 1, so boxes tie and their order (and NMS's choices) would hinge on
    the last bit of a sum."""
    heads = {n: m for n, m in model.named_modules() if n.endswith(("cls_logits", "cls_score"))}
    spread = {}
    def hook(name):
        def record(module, inputs, output):   # returns None: the output stays as it is
            spread.setdefault(name, float(output.float().std()))
        return record

    hooks = [m.register_forward_hook(hook(n)) for n, m in heads.items()]
    with torch.no_grad():
        model([x])
        for n, m in heads.items():
            if spread.get(n):
                m.weight.mul_(1 / spread[n])
                m.bias.zero_()
    for h in hooks:
        h.remove()
    return model


# detectors that keep no box on a random image: their heads' outputs are outputs too. Mask
# R-CNN's is its region proposal head: the box head after it reads regions chosen by top-k, NMS
# and a pyramid level from each box's area, steps a last-bit change upstream (a sum in another
# order) can flip, so its outputs on an untrained model are not a fair comparison
HEADS = {"ssdlite": ("head.classification_head", "head.regression_head"),
         "maskrcnn": ("rpn.head",)}


def detector(name, path):
    x = torch.rand(3, 320, 320) * 2 - 1   # as bench/ort_common.js draws inputs
    model = spread_scores(rand_norms(detectors()[name]()).eval(), x)
    heads = HEADS.get(name, ())
    export(Boxes(model, heads), x, path, input_names=["image"],
           output_names=["boxes", "scores", "labels"] + [h.replace(".", "_") for h in heads])


# -- QDQ: PyTorch's eager quantization flow on torchvision's quantizable models (BatchNorms fused,
#    observers calibrated on random images). resnet18-qdq: post-training quantization converted to
#    quantized modules, which the exporter writes as int8 weights behind DequantizeLinear and uint8
#    activations between QuantizeLinear/DequantizeLinear pairs around float ops; mobilenetv2-qdq:
#    quantization-aware training's fake quantization, exported as QuantizeLinear/DequantizeLinear
#    pairs on float weights and activations (uint8 activations, symmetric per-channel int8 weights).

def calibrate(model):
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(2, 3, 224, 224))


def qdq(name, path):
    from torch.ao import quantization as q
    if name == "resnet18-qdq":
        model = rand_norms(torchvision.models.quantization.resnet18(weights=None, quantize=False)).eval()
        model.fuse_model()
        model.qconfig = q.get_default_qconfig("fbgemm")
        q.prepare(model, inplace=True)
        calibrate(model)
        q.convert(model, inplace=True)
    else:
        model = rand_norms(torchvision.models.quantization.mobilenet_v2(weights=None, quantize=False)).eval()
        model.fuse_model()   # in eval mode: each BatchNorm folded into its Conv, so none is left for QAT
        model.train()
        # FakeQuantize modules: the default QAT qconfig's fused observer has no ONNX export
        model.qconfig = q.QConfig(
            activation=q.FakeQuantize.with_args(observer=q.MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                                dtype=torch.quint8, qscheme=torch.per_tensor_affine),
            weight=q.FakeQuantize.with_args(observer=q.MovingAveragePerChannelMinMaxObserver, quant_min=-128,
                                            quant_max=127, dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
                                            ch_axis=0))
        q.prepare_qat(model, inplace=True)
        calibrate(model)
        model.apply(q.disable_observer)
        model.eval()
    export(model, torch.randn(1, 3, 224, 224), path)


# -- fp16: a float32 export converted to float16 (weights, activations and every float op), the
#    graph inputs and outputs kept float32 behind Casts, as float16 converters write it

FP16_BASE = {"resnet50-fp16": "resnet50", "mobilenetv2-fp16": "mobilenetv2", "bert-fp16": "bert"}
KEEP_FLOAT = {"Resize": {1, 2}, "Upsample": {1}}   # inputs that must stay float32 (scales)


def to_fp16(src, dst):
    """Rewrite every float32 tensor of the model at src to float16: initializers, Constant values,
    Cast targets, ConstantOfShape values, value infos; Casts to float16 after the graph's float
    inputs and to float32 before its float outputs, so the interface stays float32."""
    m = onnx.load(src)
    g = m.graph

    def half(t):
        if t.data_type == TensorProto.FLOAT:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))

    for t in g.initializer:
        half(t)
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                half(a.t)
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
    for vi in g.value_info:
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.FLOAT16
    rename = {}
    for vi in g.input:
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            rename[vi.name] = vi.name + "_fp16"
    for n in g.node:
        for i, x in enumerate(n.input):
            if x in rename:
                n.input[i] = rename[x]
    casts = [helper.make_node("Cast", [x], [y], to=TensorProto.FLOAT16, name=y + "_cast") for x, y in rename.items()]
    out_casts = []
    for vi in g.output:
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            inner = vi.name + "_fp16"
            for n in g.node:
                for i, x in enumerate(n.output):
                    if x == vi.name:
                        n.output[i] = inner
                for i, x in enumerate(n.input):
                    if x == vi.name:
                        n.input[i] = inner
            out_casts.append(helper.make_node("Cast", [inner], [vi.name], to=TensorProto.FLOAT, name=vi.name + "_cast"))
    nodes = casts + list(g.node) + out_casts
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, dst)


NHWC_BASE = {"resnet18-nhwc": "resnet18", "mobilenetv2-nhwc": "mobilenetv2", "resnet18-qdq-nhwc": "resnet18-qdq",
             "mobilenetv3-small-nhwc": "mobilenetv3-small", "efficientnet-b0-nhwc": "efficientnet-b0"}
NCHW_OPS = {"Conv", "MaxPool", "AveragePool"}   # ops that read and write channels first
# ops indifferent to the layout (per-tensor quantization: every scale and zero point here is one)
LAYOUT_FREE = {"Relu", "Clip", "Add", "Mul", "Cast", "QuantizeLinear", "DequantizeLinear", "Sigmoid", "HardSigmoid",
               "HardSwish"}


def to_nhwc(src, dst):
    """The model at src as a converter from a channels-last framework writes it (no layout pass of its
    own): a channels-last input, each Conv and pool between a Transpose to channels first and one
    back, a Conv's bias as an Add of a vector after it (TensorFlow's BiasAdd), the elementwise ops on
    channels-last values, a GlobalAveragePool as a ReduceMean over H and W; every other op reads
    channels-first values."""
    m = onnx.load(src)
    g = m.graph
    nhwc, nodes, consts = set(), [], {t.name for t in g.initializer}
    consts |= {n.output[0] for n in g.node if n.op_type == "Constant"}
    x = g.input[0]
    dims = [d.dim_value for d in x.type.tensor_type.shape.dim]
    x_in = x.name + "_nhwc"
    nhwc.add(x.name)
    nodes.append(helper.make_node("Identity", [x_in], [x.name], name="input_nhwc"))

    def transposed(v, perm, tag):
        out = f"{v}_{tag}{len(nodes)}"
        nodes.append(helper.make_node("Transpose", [v], [out], perm=perm, name=out))
        return out

    for n in g.node:
        if n.op_type in NCHW_OPS:
            n.input[0] = transposed(n.input[0], [0, 3, 1, 2], "nchw") if n.input[0] in nhwc else n.input[0]
            # a constant bias as an Add after the Conv (a computed one, a quantized model's
            # DequantizeLinear of int32, stays an input of the Conv, as converters keep it)
            bias = n.input[2] if n.op_type == "Conv" and len(n.input) > 2 and n.input[2] in consts else None
            if bias:
                del n.input[2]
            y = n.output[0]
            n.output[0] = y + "_conv"
            nodes.append(n)
            t = transposed(n.output[0], [0, 2, 3, 1], "nhwc")
            if bias:
                nodes.append(helper.make_node("Add", [t, bias], [y], name=y + "_bias"))
            else:
                nodes.append(helper.make_node("Identity", [t], [y], name=y + "_id"))
            nhwc.add(y)
        elif n.op_type == "GlobalAveragePool" and n.input[0] in nhwc:
            nodes.append(helper.make_node("ReduceMean", [n.input[0]], [n.output[0]], axes=[1, 2], keepdims=1,
                                          name=n.name))
            nhwc.add(n.output[0])   # [N, 1, 1, C]: flattens as [N, C] in either layout
        elif n.op_type == "Flatten" and n.input[0] in nhwc:
            nodes.append(n)
        elif n.op_type in LAYOUT_FREE and any(i in nhwc for i in n.input):
            assert all(i in nhwc or i in consts or i == "" for i in n.input), n.name
            nodes.append(n)
            nhwc.add(n.output[0])
        else:
            for i, v in enumerate(n.input):
                if v in nhwc:
                    n.input[i] = transposed(v, [0, 3, 1, 2], "nchw")
            nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    g.input[0].name = x_in
    shape = g.input[0].type.tensor_type.shape.dim
    for d, v in zip(shape, [dims[0], dims[2], dims[3], dims[1]]):
        d.dim_value = v
    del g.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, dst)


MODELS = {}
for _n in CLASSIFIERS:
    MODELS[_n] = classifier
MODELS["r3d-18"] = video
for _n in SEGMENTERS:
    MODELS[_n] = segmenter
for _n in ("ssdlite", "retinanet", "fcos", "fasterrcnn", "maskrcnn"):
    MODELS[_n] = detector
for _n in ("resnet18-qdq", "mobilenetv2-qdq"):
    MODELS[_n] = qdq
