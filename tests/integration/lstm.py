#!/usr/bin/python3
"""The interpreter's LSTM, GRU and RNN against numpy (and ONNX Runtime when installed).

ONNX's backend node tests cover the forward direction with the default
layout, a bias, peepholes and layout 1; these models cover the rest of what
the kernel claims: reverse and bidirectional, sequence_lens (steps past a
batch row's length give zeros in Y and leave Y_h, Y_c at its last step,
reversed within its length; a row of length 0 gives zeros, as ONNX
Runtime does, not its initial state), clip, input_forget, initial state, layout 1
with two directions; and GRUs with linear_before_reset (as PyTorch writes
nn.GRU) and without, reverse, bidirectional, with sequence_lens, which the
node tests do not cover; and RNNs reverse, bidirectional, with sequence_lens
and clip (the node tests have the forward direction only). `graphsub run` must give numpy's outputs for each, and
shape inference must size Y and Y_h over symbolic dims;
`optimize --verify` must pass; an activation other than the defaults must be
exit 3 "not supported". When onnxruntime-node is installed (bench/README.md),
ONNX Runtime must give numpy's outputs too (control_flow_ort.js), except
for layout 1, which it refuses.

usage: lstm.py GRAPHSUB
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

F = TensorProto.FLOAT


def sigm(v):
    return 1 / (1 + np.exp(-v))


def ref(x, w, r, b, lens, h0, c0, p, direction, clip, couple, layout):
    """ONNX LSTM in numpy (float64), gates i, o, f, c; peepholes i, o, f."""
    if layout:
        x = x.transpose(1, 0, 2)
        h0 = None if h0 is None else h0.transpose(1, 0, 2)
        c0 = None if c0 is None else c0.transpose(1, 0, 2)
    T, N, _ = x.shape
    D, H = w.shape[0], r.shape[2]
    y = np.zeros((T, D, N, H))
    yh, yc = np.zeros((D, N, H)), np.zeros((D, N, H))
    cl = (lambda v: np.clip(v, -clip, clip)) if clip else (lambda v: v)
    for d in range(D):
        rev = direction == "reverse" or d == 1
        for n in range(N):
            h = h0[d, n].astype(np.float64) if h0 is not None else np.zeros(H)
            c = c0[d, n].astype(np.float64) if c0 is not None else np.zeros(H)
            L = T if lens is None else int(lens[n])
            for s in range(L):
                t = L - 1 - s if rev else s
                g = w[d] @ x[t, n] + r[d] @ h + (b[d, :4 * H] + b[d, 4 * H:] if b is not None else 0)
                pi, po, pf = (p[d, :H], p[d, H:2 * H], p[d, 2 * H:]) if p is not None else (0, 0, 0)
                i = sigm(cl(g[:H] + pi * c))
                f = 1 - i if couple else sigm(cl(g[2 * H:3 * H] + pf * c))
                c = f * c + i * np.tanh(cl(g[3 * H:]))
                o = sigm(cl(g[H:2 * H] + po * c))
                h = o * np.tanh(c)
                y[t, d, n] = h
            yh[d, n], yc[d, n] = (h, c) if L else (0, 0)   # a row of no step: zeros, as ONNX Runtime
    if layout:
        return y.transpose(2, 0, 1, 3), yh.transpose(1, 0, 2), yc.transpose(1, 0, 2)
    return y, yh, yc


def gru_ref(x, w, r, b, lens, h0, direction, lbr):
    """ONNX GRU in numpy (float64, layout 0), gates z, r, h."""
    T, N, _ = x.shape
    D, H = w.shape[0], r.shape[2]
    y, yh = np.zeros((T, D, N, H)), np.zeros((D, N, H))
    for d in range(D):
        rev = direction == "reverse" or d == 1
        wb, rb = b[d, :3 * H], b[d, 3 * H:]
        for n in range(N):
            h = h0[d, n].astype(np.float64) if h0 is not None else np.zeros(H)
            L = T if lens is None else int(lens[n])
            for s in range(L):
                t = L - 1 - s if rev else s
                gx, gh = w[d] @ x[t, n] + wb, r[d] @ h + rb
                z, rr = sigm(gx[:H] + gh[:H]), sigm(gx[H:2 * H] + gh[H:2 * H])
                if lbr:
                    hh = np.tanh(gx[2 * H:] + rr * gh[2 * H:])
                else:
                    hh = np.tanh(gx[2 * H:] + r[d, 2 * H:] @ (rr * h) + rb[2 * H:])
                h = (1 - z) * hh + z * h
                y[t, d, n] = h
            yh[d, n] = h if L else 0
    return y, yh


def rnn_ref(x, w, r, b, lens, h0, direction, clip):
    """ONNX RNN in numpy (float64, layout 0): h = tanh(W x + R h + Wb + Rb), clipped before the tanh."""
    T, N, _ = x.shape
    D, H = w.shape[0], r.shape[2]
    y, yh = np.zeros((T, D, N, H)), np.zeros((D, N, H))
    cl = (lambda v: np.clip(v, -clip, clip)) if clip else (lambda v: v)
    for d in range(D):
        rev = direction == "reverse" or d == 1
        for n in range(N):
            h = h0[d, n].astype(np.float64)
            L = T if lens is None else int(lens[n])
            for s in range(L):
                t = L - 1 - s if rev else s
                h = np.tanh(cl(w[d] @ x[t, n] + r[d] @ h + b[d, :H] + b[d, H:]))
                y[t, d, n] = h
            yh[d, n] = h if L else 0
    return y, yh


def build_cell(name, op, gates, ref, attrs, direction, use_lens, rng, T=5, N=3, I=4, H=6):
    """A GRU (3 gates) or RNN (1 gate) node with a bias, an initial state and, with use_lens,
    sequence_lens [T, 2, 0]; ref(x, w, r, b, lens, h0) gives its outputs in numpy."""
    D = 2 if direction == "bidirectional" else 1
    u = lambda *s: rng.uniform(-1, 1, s).astype(np.float32)
    x, w, r, b, h0 = u(T, N, I), u(D, gates * H, I), u(D, gates * H, H), u(D, 2 * gates * H), u(D, N, H)
    lens = np.array([T, 2, 0], np.int32) if use_lens else None
    want = [a.astype(np.float32) for a in ref(x.astype(np.float64), w, r, b, lens, h0)]
    inits = [numpy_helper.from_array(a, k) for k, a in (("W", w), ("R", r), ("B", b), ("h0", h0))]
    if use_lens:
        inits.append(numpy_helper.from_array(lens, "lens"))
    node = helper.make_node(op, ["x", "W", "R", "B", "lens" if use_lens else "", "h0"], ["y", "yh"],
                            hidden_size=H, direction=direction, **attrs)
    g = helper.make_graph([node], name, [helper.make_tensor_value_info("x", F, list(x.shape))],
                          [helper.make_tensor_value_info(k, F, list(a.shape)) for k, a in zip(("y", "yh"), want)],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(m)
    return m, x, want


def build_rnn(name, spec, rng):
    direction, use_lens, clip = spec
    ref = lambda x, w, r, b, lens, h0: rnn_ref(x, w, r, b, lens, h0, direction, clip)
    return build_cell(name, "RNN", 1, ref, {"clip": clip} if clip else {}, direction, use_lens, rng)


RNN_CASES = {
    "rnn-reverse-lens-clip": ("reverse", True, 0.8),
    "rnn-bidirectional": ("bidirectional", True, 0),
}


def build_gru(name, spec, rng):
    direction, use_lens, lbr = spec
    ref = lambda x, w, r, b, lens, h0: gru_ref(x, w, r, b, lens, h0, direction, lbr)
    return build_cell(name, "GRU", 3, ref, {"linear_before_reset": lbr}, direction, use_lens, rng)


GRU_CASES = {
    "gru-torch": ("forward", False, 1),
    "gru-reverse-lens": ("reverse", True, 1),
    "gru-bidirectional": ("bidirectional", True, 0),
}

# name: direction, sequence_lens, initial state, peepholes, clip, input_forget, layout
CASES = {
    "forward": ("forward", False, False, False, 0, 0, 0),
    "reverse": ("reverse", False, True, False, 0, 0, 0),
    "bidirectional": ("bidirectional", False, True, True, 0, 0, 0),
    "lens-forward": ("forward", True, True, False, 0, 0, 0),
    "lens-bidirectional": ("bidirectional", True, False, True, 0, 0, 0),
    "clip-couple": ("forward", False, True, True, 0.7, 1, 0),
    "layout1-bidirectional": ("bidirectional", True, True, False, 0, 0, 1),
}


def build(name, spec, rng, T=5, N=3, I=4, H=6):
    direction, use_lens, use_state, use_p, clip, couple, layout = spec
    D = 2 if direction == "bidirectional" else 1
    u = lambda *s: rng.uniform(-1, 1, s).astype(np.float32)
    x = u(N, T, I) if layout else u(T, N, I)
    w, r, b = u(D, 4 * H, I), u(D, 4 * H, H), u(D, 8 * H)
    lens = np.array([T, 2, 0][:N], np.int32) if use_lens else None
    state = (N, D, H) if layout else (D, N, H)
    h0, c0 = (u(*state), u(*state)) if use_state else (None, None)
    p = u(D, 3 * H) if use_p else None
    inits = [numpy_helper.from_array(a, k) for k, a in (("W", w), ("R", r), ("B", b))]
    names = ["x", "W", "R", "B", "", "", "", ""]
    for i, (k, a) in enumerate((("lens", lens), ("h0", h0), ("c0", c0), ("P", p))):
        if a is not None:
            inits.append(numpy_helper.from_array(a, k))
            names[4 + i] = k
    while names[-1] == "":
        names.pop()
    attrs = {"hidden_size": H, "direction": direction, "layout": layout}
    if clip:
        attrs["clip"] = clip
    if couple:
        attrs["input_forget"] = couple
    want = ref(x.astype(np.float64), w, r, b, lens, h0, c0, p, direction, clip, couple, layout)
    node = helper.make_node("LSTM", names, ["y", "yh", "yc"], **attrs)
    g = helper.make_graph([node], name, [helper.make_tensor_value_info("x", F, list(x.shape))],
                          [helper.make_tensor_value_info(k, F, list(a.shape)) for k, a in zip(("y", "yh", "yc"), want)],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(m)
    return m, x, [a.astype(np.float32) for a in want]


def run(args, ok=(0,)):
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if p.returncode not in ok:
        sys.exit(f"FAIL: {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def inferred(gs, d):
    """Shape inference sizes Y and Y_h of a bidirectional LSTM over symbolic dims, both layouts."""
    for layout, want_y, want_h in ((0, ["T", 2, "N", 6], [2, "N", 6]), (1, ["N", "T", 2, 6], ["N", 2, 6])):
        node = helper.make_node("LSTM", ["x", "W", "R"], ["y", "yh"], hidden_size=6, direction="bidirectional",
                                layout=layout)
        g = helper.make_graph([node, helper.make_node("Relu", ["y"], ["a"]), helper.make_node("Relu", ["yh"], ["b"])],
                              "inferred", [helper.make_tensor_value_info("x", F, ["N", "T", 4] if layout else ["T", "N", 4])],
                              [helper.make_tensor_value_info(k, F, None) for k in ("a", "b")],
                              [numpy_helper.from_array(np.zeros(s, np.float32), k) for k, s in
                               (("W", (2, 24, 4)), ("R", (2, 24, 6)))])
        src, dst = os.path.join(d, f"inferred{layout}.onnx"), os.path.join(d, f"inferred{layout}.opt.onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), src)
        run([gs, "optimize", src, "-o", dst, "--quiet"])
        got = {v.name: [x.dim_value or x.dim_param for x in v.type.tensor_type.shape.dim]
               for v in list(onnx.load(dst).graph.value_info) + list(onnx.load(dst).graph.output)}
        if got.get("y") != want_y or got.get("yh") != want_h:
            sys.exit(f"FAIL inferred shapes, layout {layout}: {got}")
    print("ok Y and Y_h sized by shape inference, both layouts")


def main():
    gs = sys.argv[1]
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as d:
        for name, spec in list(CASES.items()) + list(GRU_CASES.items()) + list(RNN_CASES.items()):
            m, x, want = {"gru": build_gru, "rnn": build_rnn}.get(name[:3], build)(name, spec, rng)
            path = os.path.join(d, name + ".onnx")
            onnx.save(m, path)
            data = os.path.join(d, name)
            os.makedirs(data)
            with open(os.path.join(data, "input_0.pb"), "wb") as f:
                f.write(numpy_helper.from_array(x, "x").SerializeToString())
            for i, a in enumerate(want):
                with open(os.path.join(data, f"output_{i}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(a).SerializeToString())
            if len(spec) > 6 and spec[6]:
                pass   # ONNX Runtime refuses layout 1 ("Batchwise recurrent operations are not supported")
            else:
                with open(os.path.join(data, "case.json"), "w") as f:   # for control_flow_ort.js
                    json.dump({"model": path, "feeds": {"x": {"dtype": "float32", "dims": list(x.shape),
                                                          "data": x.ravel().tolist()}},
                               "outputs": [{"dims": list(a.shape), "data": a.ravel().tolist()} for a in want]}, f)
            run([gs, "run", path, "--data", data, "--atol", "1e-5"])
            run([gs, "optimize", path, "-o", os.path.join(d, name + ".opt.onnx"), "--verify", "--quiet"])
            print(f"ok {name}: graphsub run gives numpy's outputs")
        inferred(gs, d)
        m, _, _ = build("relu", CASES["forward"], rng)
        m.graph.node[0].attribute.append(helper.make_attribute("activations", ["Relu", "Tanh", "Tanh"]))
        path = os.path.join(d, "relu.onnx")
        onnx.save(m, path)
        p = run([gs, "run", path], ok=(3,))
        if "not supported" not in p.stderr:
            sys.exit(f"FAIL relu: {p.stderr.strip()}")
        print("ok relu activation: exit 3, not supported")
        here = os.path.dirname(os.path.abspath(__file__))
        modules = os.environ.get("ORT_NODE_MODULES") or os.path.join(here, "..", "..", "bench", "node_modules")
        if not shutil.which("node") or not os.path.isdir(os.path.join(modules, "onnxruntime-node")):
            print("note: onnxruntime-node not installed, ONNX Runtime not checked")
            return
        p = run(["node", os.path.join(here, "control_flow_ort.js"), d])
        print(f"ok ONNX Runtime gives numpy's outputs on {len(p.stdout.splitlines())} models")


if __name__ == "__main__":
    main()
