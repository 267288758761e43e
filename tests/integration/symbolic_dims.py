#!/usr/bin/python3
"""Shape arithmetic over symbolic dims folds under dynamic shapes.

Each case is a small model with named dims (batch, seq, past) built with
the onnx package and optimized with the default options:
- a Reshape by a computed shape (Concat of Unsqueezed Gathers of Shape and
  numbers): its target becomes a constant with 0 where the input's own dim
  is copied, and no Shape/Gather/Unsqueeze/Concat is left;
- attention-style head split and merge (dynamic batch and seq, the head
  size read back from the shape and multiplied): both targets constant;
- a Reshape to [4, seq, 16] of a [seq, 64] tensor: -1 for the one dim that
  is not copied;
- a Reshape to [4, n, 16] of a [seq, 64] tensor, n a dim of another
  input: no -1 (the original fails where n != seq), the target stays;
- a Reshape whose target can never match the input ([batch, 6, 64] to
  [batch, 7, 64], its output declared so): carried through, the same
  nodes, no shape declared for its output;
- the KV-cache Concat of `past` and `seq` keeps the name its declared
  output gives it (`total`) at -O1 and -O2;
- a value computed from that output and from another Concat of `past`
  and `seq` is known as [batch, 2, past + seq, 4]: `total`, a name no input
  has, is only the model's word for the output's dim, which is past + seq;
- the first seq rows of a [32, 8] position table added to a [batch, seq, 8]
  tensor give [batch, seq, 8]: the slice is min(seq, 32) rows, and the Add
  runs only where that is seq (or 1, where seq is 1 too);
- the rows past .. past + seq of a [32, 8] position table (past a dim of
  another input) added to a [batch, seq, 8] tensor: the slice is a window
  of at most seq rows that may be empty, min(seq, unk__N) rows, and the Add
  gives [batch, or0(seq), 8] (seq, or 0 where seq is 1); verified also at
  past 32, seq 1, where the window is empty and so is the output;
- a model that names a dim `or0(seq)` or `min(seq, 4)` itself: such names
  are the model's, not graphsub's, and are not read as or0 or min (an
  `or0(seq)` of 1 added to a `seq` of 3 gives 3): the broadcast of x
  [batch, or0(seq), 8] with y [batch, seq, 8] is not declared or0(seq), nor
  the window of the case above when another input names a dim min(seq, 4);
- two layers each computing the ConstantOfShape target [batch, 2, seq, 4]
  (which, unlike a Reshape's or an Expand's, cannot become a constant) from
  the Shape of its own input: one Shape is left, the second layer reads the
  first's target; a third target from another input's dims ([other, 2,
  seq, 4]) keeps its own Shape.
Each output is compared with the original by `graphsub verify` at two
bindings of the dims (where the original runs), and every type graphsub
declares is checked against onnx.shape_inference (as value_info.py does).
"""
import copy
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("value_info", os.path.join(HERE, "value_info.py"))
value_info = importlib.util.module_from_spec(spec)
spec.loader.exec_module(value_info)

SHAPE_OPS = {"Shape", "Gather", "Unsqueeze", "Concat", "Mul", "Squeeze", "Slice", "Cast"}
BINDINGS = [{"batch": 2, "seq": 3, "past": 4}, {"batch": 1, "seq": 5, "past": 0}]


def i64(name, vals):
    return numpy_helper.from_array(np.array(vals, np.int64), name)


def dim_of(x, k, out, nodes, inits):
    """Nodes appending out = Unsqueeze(Gather(Shape(x), k), [0]) (1-D)."""
    inits += [i64(out + "_k", k), i64(out + "_ax", [0])]
    nodes += [helper.make_node("Shape", [x], [out + "_s"]),
              helper.make_node("Gather", [out + "_s", out + "_k"], [out + "_g"], axis=0),
              helper.make_node("Unsqueeze", [out + "_g", out + "_ax"], [out])]


def model(nodes, inits, inputs, outputs):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def fin(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def computed_reshape():
    """x [batch, seq, 64] -> Reshape(x, [Shape(x)[0], Shape(x)[1], 4, 16])."""
    nodes, inits = [], []
    dim_of("x", 0, "d0", nodes, inits)
    dim_of("x", 1, "d1", nodes, inits)
    inits.append(i64("heads", [4, 16]))
    nodes += [helper.make_node("Concat", ["d0", "d1", "heads"], ["t"], axis=0),
              helper.make_node("Reshape", ["x", "t"], ["r"]),
              helper.make_node("Relu", ["r"], ["y"])]
    return model(nodes, inits, [fin("x", ["batch", "seq", 64])], [fin("y", None)])


def attention():
    """Head split of q = x W, a transpose, and the merge back with the width
    computed as Shape(t)[2] * Shape(t)[3]."""
    nodes, inits = [], []
    rng = np.random.default_rng(0)
    inits.append(numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), "w"))
    nodes.append(helper.make_node("MatMul", ["x", "w"], ["q"]))
    dim_of("q", 0, "b", nodes, inits)
    dim_of("q", 1, "s", nodes, inits)
    inits.append(i64("hd", [4, 16]))
    nodes += [helper.make_node("Concat", ["b", "s", "hd"], ["split"], axis=0),
              helper.make_node("Reshape", ["q", "split"], ["qh"]),
              helper.make_node("Transpose", ["qh"], ["qt"], perm=[0, 2, 1, 3]),
              helper.make_node("Softmax", ["qt"], ["p"], axis=-1),
              helper.make_node("Transpose", ["p"], ["pt"], perm=[0, 2, 1, 3])]
    dim_of("pt", 0, "b2", nodes, inits)
    dim_of("pt", 1, "s2", nodes, inits)
    inits += [i64("k2", 2), i64("k3", 3), i64("ax0", [0])]
    nodes += [helper.make_node("Shape", ["pt"], ["ps"]),
              helper.make_node("Gather", ["ps", "k2"], ["h"], axis=0),
              helper.make_node("Gather", ["ps", "k3"], ["e"], axis=0),
              helper.make_node("Mul", ["h", "e"], ["he"]),
              helper.make_node("Unsqueeze", ["he", "ax0"], ["heu"]),
              helper.make_node("Concat", ["b2", "s2", "heu"], ["merge"], axis=0),
              helper.make_node("Reshape", ["pt", "merge"], ["y"])]
    return model(nodes, inits, [fin("x", ["batch", "seq", 64])], [fin("y", None)])


def minus_one():
    """x [seq, 64] -> [4, seq, 16]: seq is not x's dim 1, so it becomes -1."""
    nodes, inits = [], []
    dim_of("x", 0, "s", nodes, inits)
    inits += [i64("four", [4]), i64("sixteen", [16])]
    nodes += [helper.make_node("Concat", ["four", "s", "sixteen"], ["t"], axis=0),
              helper.make_node("Reshape", ["x", "t"], ["r"]),
              helper.make_node("Relu", ["r"], ["y"])]
    return model(nodes, inits, [fin("x", ["seq", 64])], [fin("y", None)])


def foreign_dim():
    """x [seq, 64] -> [4, Shape(z)[0], 16]: z's dim is not tied to x's size,
    so no -1 may stand for it (the original fails where n != seq)."""
    nodes, inits = [], []
    dim_of("z", 0, "n", nodes, inits)
    inits += [i64("four", [4]), i64("sixteen", [16])]
    nodes += [helper.make_node("Concat", ["four", "n", "sixteen"], ["t"], axis=0),
              helper.make_node("Reshape", ["x", "t"], ["r"]),
              helper.make_node("Relu", ["r"], ["y"])]
    return model(nodes, inits, [fin("x", ["seq", 64]), fin("z", ["n"])], [fin("y", None)])


def never_matches():
    """x [batch, 6, 64] -> [Shape(x)[0], 7, 64]: never the same size."""
    nodes, inits = [], []
    dim_of("x", 0, "b", nodes, inits)
    inits.append(i64("rest", [7, 64]))
    nodes += [helper.make_node("Concat", ["b", "rest"], ["t"], axis=0),
              helper.make_node("Reshape", ["x", "t"], ["r"]),
              helper.make_node("Relu", ["r"], ["y"])]
    m = model(nodes, inits, [fin("x", ["batch", 6, 64])], [fin("y", None)])
    m.graph.value_info.append(fin("r", ["batch", 7, 64]))   # declared as the exporter wished
    return m


def kv_cache():
    """present = Concat(past_k, k) on axis 2, declared [batch, 2, total, 4]."""
    nodes = [helper.make_node("Relu", ["k"], ["kr"]),
             helper.make_node("Concat", ["past_k", "kr"], ["present"], axis=2)]
    return model(nodes, [], [fin("past_k", ["batch", 2, "past", 4]), fin("k", ["batch", 2, "seq", 4])],
                 [fin("present", ["batch", 2, "total", 4])])


def kv_cache_read():
    """kv_cache() with w = Relu(present) * Concat(past_k, k), an output
    declared without a shape."""
    m = kv_cache()
    m.graph.node.extend([helper.make_node("Relu", ["present"], ["pr"]),
                         helper.make_node("Concat", ["past_k", "k"], ["other"], axis=2),
                         helper.make_node("Mul", ["pr", "other"], ["w"])])
    m.graph.output.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, None))
    return m


def check_kv_cache_read(gs, tmp):
    name = "kv-cache-read"
    src, out, fails = optimize(gs, kv_cache_read(), tmp, name, "-O1")
    if not out:
        return fails
    got = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
           for o in onnx.load(out).graph.output}
    want = {"present": ["batch", 2, "total", 4], "w": ["batch", 2, "past + seq", 4]}
    if got != want:
        fails.append(f"{name}: outputs declared {got}, want {want}")
    return fails + verify(gs, src, out, name)


def position_slice():
    """y = x + table[:seq], x [batch, seq, 8], table a [32, 8] constant."""
    nodes, inits = [], [numpy_helper.from_array(np.arange(256, dtype=np.float32).reshape(32, 8) / 256, "table"),
                        i64("zero", [0])]
    dim_of("x", 1, "n", nodes, inits)
    nodes += [helper.make_node("Slice", ["table", "zero", "n", "zero"], ["rows"]),
              helper.make_node("Add", ["x", "rows"], ["y"])]
    return model(nodes, inits, [fin("x", ["batch", "seq", 8])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])


def window_slice():
    """y = x + table[past : past + seq], x [batch, seq, 8], c [past], table a [32, 8] constant."""
    nodes, inits = [], [numpy_helper.from_array(np.arange(256, dtype=np.float32).reshape(32, 8) / 256, "table"),
                        i64("zero", [0])]
    dim_of("x", 1, "n", nodes, inits)
    dim_of("c", 0, "p", nodes, inits)
    nodes += [helper.make_node("Add", ["p", "n"], ["e"]),
              helper.make_node("Slice", ["table", "p", "e", "zero"], ["rows"]),
              helper.make_node("Add", ["x", "rows"], ["y"])]
    return model(nodes, inits, [fin("x", ["batch", "seq", 8]), fin("c", ["past"])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])


def check_window_slice(gs, tmp):
    name = "window-slice"
    src, out, fails = optimize(gs, window_slice(), tmp, name, "-O1")
    if not out:
        return fails
    g = onnx.load(out).graph
    dims = [d.dim_param or d.dim_value for d in g.output[0].type.tensor_type.shape.dim]
    if dims != ["batch", "or0(seq)", 8]:
        fails.append(f"{name}: output declared {dims}, want ['batch', 'or0(seq)', 8]")
    rows = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in g.value_info if v.name == "rows"]
    if not rows or not str(rows[0][0]).startswith("min(seq, unk__") or rows[0][1:] != [8]:
        fails.append(f"{name}: the window's rows declared {rows}, want [min(seq, unk__N), 8]")
    empty = {"batch": 2, "seq": 1, "past": 32}
    return fails + verify(gs, src, out, name, BINDINGS + [empty]) + declared_types(out, name)


def foreign_forms(window):
    """window: the window case with an extra input z [min(seq, 4)]; else x [batch, or0(seq), 8] + y [batch, seq, 8]."""
    if window:
        m = window_slice()
        m.graph.input.append(fin("z", ["min(seq, 4)"]))
        return m
    return model([helper.make_node("Add", ["x", "y"], ["s"])], [],
                 [fin("x", ["batch", "or0(seq)", 8]), fin("y", ["batch", "seq", 8])],
                 [helper.make_tensor_value_info("s", TensorProto.FLOAT, None)])


def check_foreign_forms(gs, tmp):
    fails = []
    for window in (False, True):
        name = "foreign-window" if window else "foreign-or0"
        src, out, f = optimize(gs, foreign_forms(window), tmp, name, "-O1")
        fails += f
        if not out:
            continue
        dims = [d.dim_param or d.dim_value for d in onnx.load(out).graph.output[0].type.tensor_type.shape.dim]
        if len(dims) != 3 or str(dims[1]).startswith("or0(") or dims[1] == "seq":
            fails.append(f"{name}: output declared {dims}: the model's own name read as graphsub's")
    return fails


def shared_targets():
    """e_i = t_i + ConstantOfShape([Shape(t_i)[0], 2, Shape(t_i)[2], 4]) for t_1 = Relu(x),
    t_2 = Sigmoid(x), x [batch, 1, seq, 4]; e_3 the same of z [other, 1, seq, 4]."""
    nodes, inits = [helper.make_node("Relu", ["x"], ["t1"]), helper.make_node("Sigmoid", ["x"], ["t2"]),
                    helper.make_node("Neg", ["z"], ["t3"])], [i64("two", [2]), i64("four", [4])]
    for i in (1, 2, 3):
        dim_of(f"t{i}", 0, f"b{i}", nodes, inits)
        dim_of(f"t{i}", 2, f"s{i}", nodes, inits)
        nodes += [helper.make_node("Concat", [f"b{i}", "two", f"s{i}", "four"], [f"tgt{i}"], axis=0),
                  helper.make_node("ConstantOfShape", [f"tgt{i}"], [f"c{i}"],
                                   value=numpy_helper.from_array(np.array([0.5], np.float32))),
                  helper.make_node("Add", [f"t{i}", f"c{i}"], [f"e{i}"])]
    nodes.append(helper.make_node("Add", ["e1", "e2"], ["y"]))
    return model(nodes, inits, [fin("x", ["batch", 1, "seq", 4]), fin("z", ["other", 1, "seq", 4])],
                 [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "e3")])


def check_shared_targets(gs, tmp):
    name = "shared-targets"
    src, out, fails = optimize(gs, shared_targets(), tmp, name)
    if not out:
        return fails
    g = onnx.load(out).graph
    shapes = sorted(n.input[0] for n in g.node if n.op_type == "Shape")
    if len(shapes) != 2 or shapes[1] != "t3":
        fails.append(f"{name}: Shape nodes of {shapes}, want one of t1 or t2 and one of t3")
    return fails + verify(gs, src, out, name) + declared_types(out, name)


def check_position_slice(gs, tmp):
    name = "position-slice"
    src, out, fails = optimize(gs, position_slice(), tmp, name, "-O1")
    if not out:
        return fails
    o = onnx.load(out).graph.output[0]
    dims = [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
    if dims != ["batch", "seq", 8]:
        fails.append(f"{name}: output declared {dims}, want ['batch', 'seq', 8]")
    return fails + verify(gs, src, out, name)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def optimize(gs, m, tmp, name, level=None):
    src, out = os.path.join(tmp, name + ".onnx"), os.path.join(tmp, name + ".opt.onnx")
    onnx.save(m, src)
    r = run([gs, "optimize", "--quiet", src, "-o", out] + ([level] if level else []))
    if r.returncode != 0:
        return src, None, [f"{name}: optimize exit {r.returncode}: {r.stderr.strip()}"]
    return src, out, []


def input_dims(path):
    return {d.dim_param for i in onnx.load(path).graph.input for d in i.type.tensor_type.shape.dim}


def verify(gs, src, out, name, bindings=BINDINGS):
    """graphsub verify of src against out at each binding of the dims src's inputs name."""
    fails = []
    names = input_dims(src)
    for b in bindings:
        dims = [x for k, v in b.items() if k in names for x in ("--dim", f"{k}={v}")]
        r = run([gs, "verify", src, out] + dims)
        if r.returncode != 0:
            fails.append(f"{name}: verify {b}: exit {r.returncode}: {(r.stderr or r.stdout).strip()[:300]}")
    return fails


def declared_types(out, name):
    written = onnx.load(out)
    bare = copy.deepcopy(written)
    value_info.strip(bare.graph)
    inferred = shape_inference.infer_shapes(bare)
    return [f"{name}: {x}" for x in value_info.compare(written.graph, inferred.graph)]


def ops(path):
    return sorted(n.op_type for n in onnx.load(path).graph.node)


def reshape_targets(path):
    """The constant targets of the Reshapes (None where computed)."""
    g = onnx.load(path).graph
    inits = {t.name: numpy_helper.to_array(t).tolist() for t in g.initializer}
    return [inits.get(n.input[1]) for n in g.node if n.op_type == "Reshape"]


def check_folded(gs, tmp, name, m, want_targets):
    src, out, fails = optimize(gs, m, tmp, name)
    if not out:
        return fails
    left = [op for op in ops(out) if op in SHAPE_OPS]
    if left:
        fails.append(f"{name}: shape arithmetic left: {left}")
    got = reshape_targets(out)
    if got != want_targets:
        fails.append(f"{name}: Reshape targets {got}, want {want_targets}")
    return fails + verify(gs, src, out, name) + declared_types(out, name)


def check_never_matches(gs, tmp):
    name = "never-matches"
    m = never_matches()
    src, out, fails = optimize(gs, m, tmp, name)
    if not out:
        return fails
    if ops(out) != ops(src):
        fails.append(f"{name}: nodes {ops(out)}, were {ops(src)}")
    if reshape_targets(out) != [None]:
        fails.append(f"{name}: the Reshape target became {reshape_targets(out)}")
    g = onnx.load(out).graph
    for v in list(g.value_info) + list(g.output):
        if v.name in ("r", "y") and v.type.tensor_type.HasField("shape"):
            dims = [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            fails.append(f"{name}: '{v.name}' declared with shape {dims}")
    r1, r2 = run([gs, "verify", src, src, "--dim", "batch=2"]), run([gs, "verify", src, out, "--dim", "batch=2"])
    if r1.returncode == 0 or r2.returncode != r1.returncode:
        fails.append(f"{name}: verify exits {r2.returncode}, the original against itself {r1.returncode}")
    return fails + declared_types(out, name)


def check_kv_cache(gs, tmp):
    fails = []
    for level in ("-O0", "-O1", "-O2"):
        name = "kv-cache" + level
        src, out, f = optimize(gs, kv_cache(), tmp, name, level)
        fails += f
        if not out:
            continue
        o = onnx.load(out).graph.output[0]
        dims = [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
        if dims != ["batch", 2, "total", 4]:
            fails.append(f"{name}: output declared {dims}, want ['batch', 2, 'total', 4]")
        fails += verify(gs, src, out, name) + declared_types(out, name)
    return fails


def main():
    gs = sys.argv[1]
    fails = []
    with tempfile.TemporaryDirectory() as tmp:
        fails += check_folded(gs, tmp, "computed-reshape", computed_reshape(), [[0, 0, 4, 16]])
        fails += check_folded(gs, tmp, "attention", attention(), [[0, 0, 4, 16], [0, 0, 64]])
        fails += check_folded(gs, tmp, "minus-one", minus_one(), [[4, -1, 16]])
        fails += check_never_matches(gs, tmp)
        src, out, f = optimize(gs, foreign_dim(), tmp, "foreign-dim")
        fails += f
        if out and reshape_targets(out) != [None]:
            fails.append(f"foreign-dim: the Reshape target became {reshape_targets(out)}")
        fails += check_kv_cache(gs, tmp)
        fails += check_kv_cache_read(gs, tmp)
        fails += check_position_slice(gs, tmp)
        fails += check_window_slice(gs, tmp)
        fails += check_foreign_forms(gs, tmp)
        fails += check_shared_targets(gs, tmp)
    for f in fails:
        print(f)
    print(f"symbolic-dims: {len(fails)} failures")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
