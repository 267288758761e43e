#!/usr/bin/python3
"""The opset-23 transformer ops in the reference interpreter: single-op
models of RMSNormalization, RotaryEmbedding and Attention (23 and 24) run by
`graphsub run` against references computed here with numpy, written from the
operator specification: RMS over the dims from axis on; rotary halves or
interleaved pairs, caches indexed by position ids or by (batch, position),
partial rotation; attention with 3-D and 4-D operands, grouped K/V heads
(query head h reads K/V head h // (q_heads / kv_heads)), float and bool masks,
a causal mask aligned to the end of a past key cache, a custom scale, a
softcap, the present key/value outputs, a query row with every key masked
(zeros, not NaN, as the specification's errata says) and, at opset 24,
nonpad_kv_seqlen. When onnxruntime-node is installed
(bench/node_modules, or $ORT_NODE_MODULES) each model also runs in ONNX
Runtime and must give the same outputs. A malformed node (rotary caches of
the wrong width) is refused with exit 3 naming the node.

usage: transformer_ops.py GRAPHSUB
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RNG = np.random.default_rng(23)
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


# ---- references ---------------------------------------------------------------

def rmsnorm(x, scale, axis=-1, eps=1e-5):
    axes = tuple(range(axis % x.ndim, x.ndim))
    ms = np.mean(x.astype(np.float64) ** 2, axis=axes, keepdims=True)
    return (x / np.sqrt(ms + eps) * scale).astype(x.dtype)


def rotary(x, cos, sin, pos=None, interleaved=0, rot=0, num_heads=0):
    """x [B, N, S, H] or [B, S, N*H]; cos/sin [B, S, r/2], or [P, r/2] with pos [B, S]."""
    shape = x.shape
    if x.ndim == 3:
        b, s, hid = shape
        x4 = x.reshape(b, s, num_heads, hid // num_heads).transpose(0, 2, 1, 3)
    else:
        x4 = x
    x4 = x4.astype(np.float64).copy()
    head = x4.shape[-1]
    rot = rot or head
    c = cos[pos] if pos is not None else cos     # [B, S, r/2]
    sn = sin[pos] if pos is not None else sin
    c, sn = c[:, None].astype(np.float64), sn[:, None].astype(np.float64)   # [B, 1, S, r/2]
    if interleaved:
        x1, x2 = x4[..., 0:rot:2].copy(), x4[..., 1:rot:2].copy()
        x4[..., 0:rot:2], x4[..., 1:rot:2] = c * x1 - sn * x2, sn * x1 + c * x2
    else:
        h = rot // 2
        x1, x2 = x4[..., :h].copy(), x4[..., h:rot].copy()
        x4[..., :h], x4[..., h:rot] = c * x1 - sn * x2, sn * x1 + c * x2
    if x.ndim == 3:
        x4 = x4.transpose(0, 2, 1, 3).reshape(shape)
    return x4.astype(x.dtype)


def attention(q, k, v, mask=None, past_k=None, past_v=None, nonpad=None, scale=None, causal=0,
              qn=0, kvn=0, softcap=0.0):
    """Returns (Y, present_key, present_value)."""
    three = q.ndim == 3
    if three:
        def heads(t, n):
            b, s, hid = t.shape
            return t.reshape(b, s, n, hid // n).transpose(0, 2, 1, 3)
        q, k, v = heads(q, qn), heads(k, kvn), heads(v, kvn)
    q, k, v = (t.astype(np.float64) for t in (q, k, v))
    pk = np.concatenate([past_k, k], axis=2) if past_k is not None else k
    pv = np.concatenate([past_v, v], axis=2) if past_v is not None else v
    b, qh, s, hd = q.shape
    kh, total = pk.shape[1], pk.shape[2]
    past = past_k.shape[2] if past_k is not None else 0
    scale = 1 / np.sqrt(hd) if scale is None else scale
    rep = qh // kh
    kk, vv = np.repeat(pk, rep, axis=1), np.repeat(pv, rep, axis=1)
    scores = q @ kk.transpose(0, 1, 3, 2) * scale
    if softcap > 0:
        scores = softcap * np.tanh(scores / softcap)
    bias = np.zeros((b, qh, s, total))
    if mask is not None:
        m = np.full(mask.shape[:-1] + (total,), False if mask.dtype == bool else -np.inf)
        m[..., :mask.shape[-1]] = mask
        bias = bias + (np.where(m, 0.0, -np.inf) if mask.dtype == bool else m)
    i = np.arange(s)[:, None]
    j = np.arange(total)[None, :]
    if causal:
        offs = past if past_k is not None else (nonpad[:, None, None, None] - s if nonpad is not None else 0)
        bias = np.where(j > i + offs, -np.inf, bias)
    if nonpad is not None:
        bias = np.where(j >= nonpad[:, None, None, None], -np.inf, bias)
    z = scores + bias
    top = z.max(axis=-1, keepdims=True)
    dead = np.isneginf(top)                    # every key masked: a zero row
    z = np.where(dead, 0.0, np.exp(z - np.where(dead, 0.0, top)))
    y = (z / np.where(dead, 1.0, z.sum(axis=-1, keepdims=True))) @ vv
    if three:
        y = y.transpose(0, 2, 1, 3).reshape(b, s, -1)
    dt = np.float32
    return y.astype(dt), pk.astype(dt), pv.astype(dt)


# ---- models -------------------------------------------------------------------

def model_of(op, inputs, outputs, attrs, opset):
    """A one-node model; inputs/outputs: [(name, array)] (None for an absent input)."""
    def vi(name, a):
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype)
                                             if hasattr(helper, "np_dtype_to_tensor_dtype")
                                             else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], list(a.shape))
    node = helper.make_node(op, [n if a is not None else "" for n, a in inputs], [n for n, _ in outputs],
                            name=op.lower(), **attrs)
    graph = helper.make_graph([node], op.lower(), [vi(n, a) for n, a in inputs if a is not None],
                              [vi(n, a) for n, a in outputs])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    return m


def write_case(folder, inputs, outputs):
    os.makedirs(folder)
    present = [(n, a) for n, a in inputs if a is not None]
    for i, (n, a) in enumerate(present):
        open(os.path.join(folder, f"input_{i}.pb"), "wb").write(numpy_helper.from_array(a, n).SerializeToString())
    for i, (n, a) in enumerate(outputs):
        open(os.path.join(folder, f"output_{i}.pb"), "wb").write(numpy_helper.from_array(a, n).SerializeToString())


ORT_SCRIPT = """
const ort = require(process.argv[2] + '/onnxruntime-node');
const fs = require('fs');
const spec = JSON.parse(fs.readFileSync(process.argv[4]));
const kinds = {int: ['int64', BigInt64Array, BigInt], bool: ['bool', Uint8Array, Number],
               float: ['float32', Float32Array, Number]};
(async () => {
  const s = await ort.InferenceSession.create(process.argv[3]);
  const feeds = {};
  for (const [n, v] of Object.entries(spec)) {
    const [t, A, f] = kinds[v.kind];
    feeds[n] = new ort.Tensor(t, A.from(v.data.map(f)), v.dims);
  }
  const out = await s.run(feeds);
  const res = {};
  for (const n of s.outputNames) res[n] = Array.from(out[n].data);
  console.log(JSON.stringify(res));
})().catch(e => { console.error(String(e.message).split('\\n')[0]); process.exit(1); });
"""


def ort_modules():
    modules = os.path.abspath(os.environ.get("ORT_NODE_MODULES") or os.path.join(ROOT, "bench", "node_modules"))
    if shutil.which("node") and os.path.isdir(os.path.join(modules, "onnxruntime-node")):
        return modules
    return None


def check_ort(modules, path, inputs, outputs, name, tmp):
    kind = {np.dtype(np.int64): "int", np.dtype(bool): "bool"}
    spec = {n: {"kind": kind.get(a.dtype, "float"), "dims": list(a.shape), "data": a.ravel().tolist()}
            for n, a in inputs if a is not None}
    open(os.path.join(tmp, "spec.json"), "w").write(json.dumps(spec))
    open(os.path.join(tmp, "ort.js"), "w").write(ORT_SCRIPT)
    r = subprocess.run(["node", os.path.join(tmp, "ort.js"), modules, path, os.path.join(tmp, "spec.json")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{name}: ONNX Runtime refuses the model: {r.stderr.strip()}")
        return
    got = json.loads(r.stdout)
    for n, want in outputs:
        g = np.array(got[n], dtype=np.float64).reshape(want.shape)
        err = float(np.nanmax(np.abs(g - want))) if want.size else 0.0
        if err > 1e-4 or not np.array_equal(np.isnan(g), np.isnan(want)):
            fail(f"{name}: ONNX Runtime's {n} differs from the reference by {err}")
            return
    print(f"ok {name} in ONNX Runtime")


def check(graphsub, tmp, name, op, inputs, outputs, attrs, opset=23, ort=True):
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    path = os.path.join(folder, "model.onnx")
    onnx.save(model_of(op, inputs, outputs, attrs, opset), path)
    write_case(os.path.join(folder, "test_data_set_0"), inputs, outputs)
    r = subprocess.run([graphsub, "run", path, "--data", os.path.join(folder, "test_data_set_0")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{name}: graphsub run exit {r.returncode}: {(r.stdout + r.stderr).strip()[-400:]}")
    else:
        print(f"ok {name}")
    modules = ort_modules()
    if ort and modules:
        check_ort(modules, path, inputs, outputs, name, folder)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def rope_caches(rows, half, base=10000.0):
    inv = 1.0 / base ** (np.arange(half) / half)
    ang = np.arange(rows)[:, None] * inv[None, :]
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def rms_cases(gs, tmp):
    x, w = f32(2, 3, 8), (RNG.random(8) + 0.5).astype(np.float32)
    check(gs, tmp, "rms-last", "RMSNormalization", [("x", x), ("w", w)], [("y", rmsnorm(x, w))], {})
    w2 = (RNG.random((3, 8)) + 0.5).astype(np.float32)
    check(gs, tmp, "rms-axis", "RMSNormalization", [("x", x), ("w", w2)],
          [("y", rmsnorm(x, w2, axis=-2, eps=0.01))], {"axis": -2, "epsilon": 0.01})


def rope_cases(gs, tmp):
    b, n, s, h = 2, 3, 5, 8
    x = f32(b, n, s, h)
    cos, sin = rope_caches(16, h // 2)
    pos = np.array([[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]], dtype=np.int64)
    bc, bs = cos[pos], sin[pos]            # [B, S, H/2]
    check(gs, tmp, "rope-half", "RotaryEmbedding", [("x", x), ("cos", bc), ("sin", bs)],
          [("y", rotary(x, bc, bs))], {})
    check(gs, tmp, "rope-interleaved", "RotaryEmbedding", [("x", x), ("cos", bc), ("sin", bs)],
          [("y", rotary(x, bc, bs, interleaved=1))], {"interleaved": 1})
    check(gs, tmp, "rope-positions", "RotaryEmbedding", [("x", x), ("cos", cos), ("sin", sin), ("pos", pos)],
          [("y", rotary(x, cos, sin, pos=pos))], {})
    x3 = f32(b, s, n * h)
    c4, s4 = rope_caches(16, 2)
    check(gs, tmp, "rope-3d-partial", "RotaryEmbedding", [("x", x3), ("cos", c4), ("sin", s4), ("pos", pos)],
          [("y", rotary(x3, c4, s4, pos=pos, rot=4, num_heads=n))], {"num_heads": n, "rotary_embedding_dim": 4})
    bad = model_of("RotaryEmbedding", [("x", x), ("cos", cos[:, :3]), ("sin", sin[:, :3]), ("pos", pos)],
                   [("y", x)], {}, 23)
    path = os.path.join(tmp, "rope-bad.onnx")
    onnx.save(bad, path)
    r = subprocess.run([gs, "run", path], capture_output=True, text=True)
    if r.returncode != 3 or "rotary" not in r.stderr.lower():
        fail(f"rope-bad: a cache of the wrong width gave exit {r.returncode}: {r.stderr.strip()}")


def attention_cases(gs, tmp):
    b, qn, kvn, s, past, h = 2, 4, 2, 3, 5, 8
    q, k, v = f32(b, qn, s, h), f32(b, kvn, s, h), f32(b, kvn, s, h)
    y, _, _ = attention(q, k, v)
    check(gs, tmp, "att-plain", "Attention", [("q", q), ("k", k), ("v", v)], [("y", y)], {})
    pk, pv = f32(b, kvn, past, h), f32(b, kvn, past, h)
    mask = (RNG.standard_normal((s, past + s)) * 2).astype(np.float32)
    y, kp, vp = attention(q, k, v, mask, pk, pv)
    check(gs, tmp, "att-gqa-mask-past", "Attention",
          [("q", q), ("k", k), ("v", v), ("mask", mask), ("past_key", pk), ("past_value", pv)],
          [("y", y), ("present_key", kp), ("present_value", vp)], {})
    y, kp, vp = attention(q, k, v, None, pk, pv, causal=1, scale=0.2)
    check(gs, tmp, "att-causal-past", "Attention",
          [("q", q), ("k", k), ("v", v), ("mask", None), ("past_key", pk), ("past_value", pv)],
          [("y", y), ("present_key", kp), ("present_value", vp)], {"is_causal": 1, "scale": 0.2})
    q1, k1, v1 = f32(b, qn, 1, h), f32(b, kvn, 1, h), f32(b, kvn, 1, h)
    y, kp, vp = attention(q1, k1, v1, None, pk, pv, causal=1)
    check(gs, tmp, "att-causal-decode", "Attention",
          [("q", q1), ("k", k1), ("v", v1), ("mask", None), ("past_key", pk), ("past_value", pv)],
          [("y", y), ("present_key", kp), ("present_value", vp)], {"is_causal": 1})
    q3, k3, v3 = f32(b, s, qn * h), f32(b, s, kvn * h), f32(b, s, kvn * h)
    y, _, _ = attention(q3, k3, v3, causal=1, qn=qn, kvn=kvn)
    check(gs, tmp, "att-3d-causal", "Attention", [("q", q3), ("k", k3), ("v", v3)], [("y", y)],
          {"is_causal": 1, "q_num_heads": qn, "kv_num_heads": kvn})
    bmask = RNG.random((b, 1, s, s)) > 0.3
    bmask[..., 0] = True
    y, _, _ = attention(q, k, v, bmask)
    check(gs, tmp, "att-bool-mask", "Attention", [("q", q), ("k", k), ("v", v), ("mask", bmask)], [("y", y)], {})
    bmask[0, 0, 1, :] = False                  # a query that sees no key: zeros, not NaN
    y, _, _ = attention(q, k, v, bmask)
    check(gs, tmp, "att-masked-row", "Attention", [("q", q), ("k", k), ("v", v), ("mask", bmask)], [("y", y)], {})
    y, _, _ = attention(q, k, v, softcap=2.0)
    check(gs, tmp, "att-softcap", "Attention", [("q", q), ("k", k), ("v", v)], [("y", y)], {"softcap": 2.0})
    cache_k, cache_v = f32(b, kvn, 6, h), f32(b, kvn, 6, h)
    nonpad = np.array([4, 6], dtype=np.int64)
    y, _, _ = attention(q, cache_k, cache_v, nonpad=nonpad, causal=1)
    check(gs, tmp, "att24-nonpad-causal", "Attention",
          [("q", q), ("k", cache_k), ("v", cache_v), ("mask", None), ("past_key", None), ("past_value", None),
           ("nonpad", nonpad)], [("y", y)], {"is_causal": 1}, opset=24, ort=False)


def main():
    gs = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        rms_cases(gs, tmp)
        rope_cases(gs, tmp)
        attention_cases(gs, tmp)
    if not ort_modules():
        print("note: onnxruntime-node not installed, ONNX Runtime not checked")
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("all transformer-op checks passed")


if __name__ == "__main__":
    main()
