#!/usr/bin/python3
"""Shape arithmetic with products and exact quotients of symbolic dims folds.

Models built with the onnx package, inputs of dims batch and seq:
- multi-head attention as exporters write it: a Reshape of [batch, 8, seq,
  8] to [Shape[0] * 8, -1, 8], and the way back reading that output's
  Shape (its dim 0 divided by 8) for [batch, 8, seq, 8] and then [batch,
  seq, 64]. The first output is known as [8*batch, seq, 8], its dim 0 over
  8 as batch: the second Shape, its Gathers and the Div go (merged with
  the first Shape's), the last target becomes the constant [0, 0, 64];
- [2*seq, 4] (a Concat of x with itself) reshaped by [Shape[0] * 2, 4]
  (a copy: the constant [0, 4]) and by [2, Shape[0] / 2, 4]
  ((2*seq)/2 is seq: the constant [2, -1, 4]);
- [seq, 4] reshaped by [Shape[0] / 2, -1]: seq/2 is not exact, the Div
  and the whole target stay;
- a dim spelled batch*8 by one input and 8*batch by another: their sum is
  [8*batch, 4] (in either spelling), and a target of Shape(z)[0] * 8 (z
  [batch, 3]) is a copy: the constant [0, 4];
- ConstantOfShape targets [Shape(x)[0], 4] and [Shape(z)[0] * 8, 4], x
  [batch*8, 4], z [batch, 3]: both are Shape(x), one ConstantOfShape of it
  is left;
- inputs whose dims are named by expressions (past + seq, 8*batch):
  verify binds past, seq and batch and sizes those dims from them, and
  optimize --dim batch=2 makes 8*batch 16.
Each optimized model passes `optimize --verify`, equals the original in
`graphsub verify` at two bindings (an input dim named batch*8 is bound
from batch), passes onnx.checker, and declares only
types onnx.shape_inference agrees with.

usage: dim_products.py GRAPHSUB
"""
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("symbolic_dims", os.path.join(HERE, "symbolic_dims.py"))
sd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sd)

SHAPE_OPS = ("Shape", "Gather", "Concat", "Unsqueeze", "Mul", "Div", "ConstantOfShape")
BINDINGS = [{"batch": 2, "seq": 6}, {"batch": 3, "seq": 4}]


def scalar(name, v):
    return numpy_helper.from_array(np.array(v, np.int64), name)


def gather(shape, k, out, nodes, inits):
    """out = Gather(shape, k), a 0-D dim."""
    inits.append(scalar(out + "_k", k))
    nodes.append(helper.make_node("Gather", [shape, out + "_k"], [out], axis=0))


def unsq(x, nodes, inits):
    """Unsqueeze(x, [0]) as x + '_u'."""
    inits.append(sd.i64(x + "_ax", [0]))
    nodes.append(helper.make_node("Unsqueeze", [x, x + "_ax"], [x + "_u"]))
    return x + "_u"


def multi_head():
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32) / 8, "w"),
             scalar("eight", 8), sd.i64("c88", [8, 8]), sd.i64("cm1", [-1]), sd.i64("c8", [8]),
             sd.i64("c64", [64])]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["q"]), helper.make_node("Shape", ["q"], ["s"])]
    gather("s", 0, "b", nodes, inits)
    gather("s", 1, "n", nodes, inits)
    nodes.append(helper.make_node("Mul", ["b", "eight"], ["bh"]))
    nodes += [helper.make_node("Concat", [unsq("b", nodes, inits), unsq("n", nodes, inits), "c88"], ["t1"], axis=0),
              helper.make_node("Reshape", ["q", "t1"], ["qh"]),
              helper.make_node("Transpose", ["qh"], ["qt"], perm=[0, 2, 1, 3])]
    nodes += [helper.make_node("Concat", [unsq("bh", nodes, inits), "cm1", "c8"], ["t2"], axis=0),
              helper.make_node("Reshape", ["qt", "t2"], ["r1"]),
              helper.make_node("Softmax", ["r1"], ["p"], axis=-1),
              helper.make_node("Shape", ["p"], ["s2"])]
    gather("s2", 0, "g0", nodes, inits)
    gather("s2", 1, "g1", nodes, inits)
    nodes.append(helper.make_node("Div", ["g0", "eight"], ["bb"]))
    bu, g1u = unsq("bb", nodes, inits), unsq("g1", nodes, inits)
    nodes += [helper.make_node("Concat", [bu, "c8", g1u, "c8"], ["t3"], axis=0),
              helper.make_node("Reshape", ["p", "t3"], ["r2"]),
              helper.make_node("Transpose", ["r2"], ["pt"], perm=[0, 2, 1, 3]),
              helper.make_node("Concat", [bu, g1u, "c64"], ["t4"], axis=0),
              helper.make_node("Reshape", ["pt", "t4"], ["y"])]
    return sd.model(nodes, inits, [sd.fin("x", ["batch", "seq", 64])], [sd.fin("y", None)])


def twice_seq():
    inits = [scalar("two", 2), sd.i64("c4", [4]), sd.i64("c2", [2])]
    nodes = [helper.make_node("Relu", ["x"], ["xr"]),
             helper.make_node("Concat", ["xr", "xr"], ["c"], axis=0),
             helper.make_node("Shape", ["x"], ["s"])]
    gather("s", 0, "n", nodes, inits)
    nodes.append(helper.make_node("Mul", ["n", "two"], ["n2"]))
    nodes += [helper.make_node("Concat", [unsq("n2", nodes, inits), "c4"], ["t1"], axis=0),
              helper.make_node("Reshape", ["c", "t1"], ["y1"]),
              helper.make_node("Shape", ["c"], ["sc"])]
    gather("sc", 0, "m", nodes, inits)
    nodes.append(helper.make_node("Div", ["m", "two"], ["h"]))
    nodes += [helper.make_node("Concat", ["c2", unsq("h", nodes, inits), "c4"], ["t2"], axis=0),
              helper.make_node("Reshape", ["c", "t2"], ["y2"])]
    return sd.model(nodes, inits, [sd.fin("x", ["seq", 4])], [sd.fin("y1", None), sd.fin("y2", None)])


def half_seq():
    inits = [scalar("two", 2), sd.i64("cm1", [-1])]
    nodes = [helper.make_node("Shape", ["x"], ["s"])]
    gather("s", 0, "n", nodes, inits)
    nodes.append(helper.make_node("Div", ["n", "two"], ["h"]))
    nodes += [helper.make_node("Concat", [unsq("h", nodes, inits), "cm1"], ["t"], axis=0),
              helper.make_node("Reshape", ["x", "t"], ["r"]),
              helper.make_node("Relu", ["r"], ["y"])]
    return sd.model(nodes, inits, [sd.fin("x", ["seq", 4])], [sd.fin("y", None)])


def spelling():
    """y = x + x2 with x [batch*8, 4] and x2 [8*batch, 4] (one dim, two
    spellings), reshaped by [Shape(z)[0] * 8, 4], z [batch, 3]."""
    inits = [scalar("eight", 8), sd.i64("c4", [4])]
    nodes = [helper.make_node("Add", ["x", "x2"], ["a"]), helper.make_node("Shape", ["z"], ["s"])]
    gather("s", 0, "b", nodes, inits)
    nodes.append(helper.make_node("Mul", ["b", "eight"], ["b8"]))
    nodes += [helper.make_node("Concat", [unsq("b8", nodes, inits), "c4"], ["t"], axis=0),
              helper.make_node("Reshape", ["a", "t"], ["r"]),
              helper.make_node("Relu", ["r"], ["y"])]
    return sd.model(nodes, inits, [sd.fin("x", ["batch*8", 4]), sd.fin("x2", ["8*batch", 4]),
                                   sd.fin("z", ["batch", 3])], [sd.fin("y", None)])


def shared_spelling():
    """y = ConstantOfShape([Shape(x)[0], 4]) + ConstantOfShape([Shape(z)[0] * 8, 4]) + x,
    x [batch*8, 4], z [batch, 3]: one target, spelled two ways."""
    inits = [scalar("eight", 8), sd.i64("c4", [4])]
    half = numpy_helper.from_array(np.array([0.5], np.float32))
    nodes = [helper.make_node("Shape", ["x"], ["sx"]), helper.make_node("Shape", ["z"], ["sz"])]
    gather("sx", 0, "a", nodes, inits)
    gather("sz", 0, "b", nodes, inits)
    nodes.append(helper.make_node("Mul", ["b", "eight"], ["b8"]))
    nodes += [helper.make_node("Concat", [unsq("a", nodes, inits), "c4"], ["t1"], axis=0),
              helper.make_node("Concat", [unsq("b8", nodes, inits), "c4"], ["t2"], axis=0),
              helper.make_node("ConstantOfShape", ["t1"], ["c1"], value=half),
              helper.make_node("ConstantOfShape", ["t2"], ["c2"], value=half),
              helper.make_node("Add", ["c1", "c2"], ["s"]),
              helper.make_node("Add", ["s", "x"], ["y"])]
    return sd.model(nodes, inits, [sd.fin("x", ["batch*8", 4]), sd.fin("z", ["batch", 3])], [sd.fin("y", None)])


def expression_inputs():
    """y = x + x2, x [past + seq, 8*batch], x2 [seq + past, batch*8], w [batch]."""
    return sd.model([helper.make_node("Add", ["x", "x2"], ["y"])], [],
                    [sd.fin("x", ["past + seq", "8*batch"]), sd.fin("x2", ["seq + past", "batch*8"]),
                     sd.fin("w", ["batch"])], [sd.fin("y", None)])


def check_expression_inputs(gs, tmp):
    """verify binds the names of an input dim named by an expression (not
    the expression as one more name, which would make x and x2 differ),
    --dim may name them, and optimize --dim batch=2 makes 8*batch 16."""
    name, fails = "expression-inputs", []
    src, out = os.path.join(tmp, name + ".onnx"), os.path.join(tmp, name + ".opt.onnx")
    onnx.save(expression_inputs(), src)
    for extra in ([], ["--dim", "seq=3", "--dim", "batch=1"]):
        r = subprocess.run([gs, "verify", src, src] + extra, capture_output=True, text=True)
        if r.returncode != 0:
            fails.append(f"{name}: verify {extra}: exit {r.returncode}: {r.stderr.strip()}")
    r = subprocess.run([gs, "optimize", "--quiet", "--verify", "--dim", "batch=2", src, "-o", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return fails + [f"{name}: optimize --dim batch=2: exit {r.returncode}: {r.stderr.strip()}"]
    g = onnx.load(out).graph
    got = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in g.input]
    want = [["past + seq", 16], ["seq + past", 16], [2]]
    if got != want:
        fails.append(f"{name}: inputs {got} after --dim batch=2, want {want}")
    return fails


def counts(path):
    ops = [n.op_type for n in onnx.load(path).graph.node]
    return {op: ops.count(op) for op in SHAPE_OPS if ops.count(op)}


def check(gs, tmp, name, m, want_counts, want_targets):
    src, out = os.path.join(tmp, name + ".onnx"), os.path.join(tmp, name + ".opt.onnx")
    onnx.save(m, src)
    r = subprocess.run([gs, "optimize", "--quiet", "--verify", src, "-o", out], capture_output=True, text=True)
    if r.returncode != 0:
        return [f"{name}: optimize --verify exit {r.returncode}: {r.stderr.strip()}"]
    fails = []
    before, after = counts(src), counts(out)
    print(f"{name}: shape arithmetic {before} -> {after}")
    if after != want_counts:
        fails.append(f"{name}: shape arithmetic left {after}, want {want_counts}")
    if sd.reshape_targets(out) != want_targets:
        fails.append(f"{name}: Reshape targets {sd.reshape_targets(out)}, want {want_targets}")
    try:
        onnx.checker.check_model(onnx.load(out), full_check=True)
    except Exception as e:  # noqa: BLE001 - the checker's complaint is the failure
        fails.append(f"{name}: onnx.checker: {e}")
    return fails + sd.verify(gs, src, out, name, BINDINGS) + sd.declared_types(out, name)


def main():
    gs = sys.argv[1]
    fails = []
    with tempfile.TemporaryDirectory() as tmp:
        fails += check(gs, tmp, "multi-head", multi_head(),
                       {"Shape": 1, "Gather": 2, "Concat": 2, "Unsqueeze": 3, "Mul": 1},
                       [[0, 0, 8, 8], None, None, [0, 0, 64]])
        fails += check(gs, tmp, "twice-seq", twice_seq(), {"Concat": 1}, [[0, 4], [2, -1, 4]])   # x with x
        fails += check(gs, tmp, "half-seq", half_seq(),
                       {"Shape": 1, "Gather": 1, "Div": 1, "Unsqueeze": 1, "Concat": 1}, [None])
        fails += check(gs, tmp, "spelling", spelling(), {}, [[0, 4]])
        out = os.path.join(tmp, "spelling.opt.onnx")
        if os.path.exists(out):
            y = onnx.load(out).graph.output[0]
            dims = [d.dim_param or d.dim_value for d in y.type.tensor_type.shape.dim]
            if dims not in (["batch*8", 4], ["8*batch", 4]):
                fails.append(f"spelling: output declared {dims}, want [8*batch, 4] in either spelling")
        fails += check(gs, tmp, "shared-spelling", shared_spelling(),
                       {"Shape": 1, "ConstantOfShape": 1}, [])
        fails += check_expression_inputs(gs, tmp)
    for f in fails:
        print(f)
    print(f"dim-products: {len(fails)} failures")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
