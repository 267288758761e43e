#!/usr/bin/python3
"""If, Loop and Scan models whose bodies hold the work, optimized inside.

Each model's bodies read every kind of outer value (a graph input, an
initializer, a Constant node's output, an outer node's output, and a value
of an enclosing body; in the deep-* models, whose outermost node is an If,
a Loop or a Scan, the innermost bodies read a value defined two bodies up)
and hold work the pipeline removes: Transpose(Transpose(x)), Identity
chains, Relu(Relu(x)), arithmetic on constants. For each model,
`graphsub optimize --report` must exit 0, the output must pass
onnx.checker, `graphsub verify` (the interpreter's Loop, Scan and If
kernels) must find the outputs equal to the original's, and `graphsub run`
must give the numbers numpy computes from the model's definition; the report
and `graphsub info` count the nodes inside bodies as the files hold them. Models
marked `inside` must show rewrites applied inside bodies (nodes inside
subgraphs fewer after than before) and the Constant only their bodies read
moved into them; the constant-condition If and the Loops of one and of no
trip must be gone from the output, and the estimated cost (bodies priced
in) must not rise. A Loop body's condition output that only forwards its
condition input must be that input itself (body outputs are bound by
position, so no name needs keeping). Loop-invariant nodes of a Loop body
must run once, in the enclosing graph. A TorchScript export with a Loop and an If
(tests/data/torchscript_decoder.onnx, made by make_torchscript_decoder.py: an
LSTMCell, written as an LSTM, and a list, written as sequences) must optimize
to a valid model with its bodies more than halved, and `optimize --verify`
must pass on it.

The sequences model (TorchScript's lists: a Loop appending to a carried
sequence, then every sequence op) must run to numpy's outputs too, and a
sequence where a tensor belongs, an empty one to concatenate, a position
out of range or a sequence as graph output must be exit 3 naming the
problem.

A Loop of 2^30 trips around a Loop of 300,000 (each within the bound one
Loop has) must stop `graphsub run` and `optimize --verify` with exit 3 and
the bound on node runs inside bodies, within 60 s of CPU time: the two
multiplied to some 10^11 node runs, which ran for hours.

When onnxruntime-node is installed (bench/node_modules, see bench/README.md,
or $ORT_NODE_MODULES) and node is on the path, ONNX Runtime must also give
numpy's outputs for every original and optimized model and input set
(control_flow_ort.js, at ORT levels disabled and all); otherwise the test
says it did not check that.

usage: control_flow.py GRAPHSUB [--keep DIR]

With --keep, DIR keeps the models and one folder per run with its inputs,
the expected outputs and case.json, which control_flow_ort.js reads.
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
N = helper.make_node


def vi(name, t=F, shape=None):
    return helper.make_tensor_value_info(name, t, shape)


def const(name, values, dtype=np.float32):
    return N("Constant", [], [name], value=numpy_helper.from_array(np.array(values, dtype)))


def busy(x, out, p):
    """Transpose-Transpose, an Identity chain, Relu(Relu) and constant arithmetic on x (2x3)."""
    return [N("Transpose", [x], [p + "t1"], perm=[1, 0]), N("Transpose", [p + "t1"], [p + "t2"], perm=[1, 0]),
            N("Identity", [p + "t2"], [p + "i1"]), N("Identity", [p + "i1"], [p + "i2"]),
            N("Relu", [p + "i2"], [p + "r1"]), N("Relu", [p + "r1"], [p + "r2"]),
            const(p + "c1", 0.25), const(p + "c2", 0.75), N("Add", [p + "c1", p + "c2"], [p + "c3"]),
            N("Mul", [p + "r2", p + "c3"], [out])]


def relu(a):
    return np.maximum(a, 0)


W = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], np.float32)
K = np.array([1.0, 2.0, 3.0], np.float32)


def outer_graph(nodes, inputs, outputs, inits=()):
    g = helper.make_graph([const("/Constant_output_0", K)] + nodes, "g", inputs, outputs,
                          [numpy_helper.from_array(W, "w")] + list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def if_model():
    """An If on a graph input; both branches read x (input), w (initializer), the Constant node."""
    then_g = helper.make_graph(busy("x", "tb", "then/") + [N("Mul", ["tb", "w"], ["tm"]),
                                                          N("Add", ["tm", "/Constant_output_0"], ["t_out"])],
                               "then", [], [vi("t_out", F, [2, 3])])
    else_g = helper.make_graph([N("Identity", ["x"], ["e1"]), N("Identity", ["e1"], ["e2"]),
                                N("Neg", ["e2"], ["n1"]), N("Neg", ["n1"], ["n2"]),
                                N("Sub", ["n2", "w"], ["e_out"])], "else", [], [vi("e_out", F, [2, 3])])
    m = outer_graph([N("If", ["cond"], ["y"], name="if0", then_branch=then_g, else_branch=else_g)],
                    [vi("x", F, [2, 3]), vi("cond", B, [])], [vi("y", F, [2, 3])])

    def ref(feeds):
        x = feeds["x"]
        return relu(x) * 1.0 * W + K if feeds["cond"] else x - W
    return m, ref


def loop_model():
    """A Loop of M (a graph input) trips carrying s; the body reads x, w, the Constant node, and
    holds an If whose branches read a value of the body (another body's value) and x."""
    then_g = helper.make_graph([N("Relu", ["b"], ["q1"]), N("Relu", ["q1"], ["q2"]),
                                N("Add", ["q2", "x"], ["it_out"])], "then", [], [vi("it_out", F, [2, 3])])
    else_g = helper.make_graph([N("Identity", ["b"], ["ie1"]), N("Sub", ["ie1", "x"], ["ie_out"])],
                               "else", [], [vi("ie_out", F, [2, 3])])
    body = helper.make_graph(
        busy("s_in", "b0", "body/") +
        [N("Mul", ["b0", "w"], ["b1"]), N("Add", ["b1", "/Constant_output_0"], ["b2"]),
         const("body/tenth", 0.1), N("Mul", ["b2", "body/tenth"], ["b"]),
         N("If", ["flag"], ["s_out"], name="inner_if", then_branch=then_g, else_branch=else_g),
         N("Identity", ["cond_in"], ["cond_out"]),
         N("Identity", ["s_out"], ["sc1"]), N("Identity", ["sc1"], ["scan_out"])],
        "body", [vi("i", I64, []), vi("cond_in", B, []), vi("s_in", F, [2, 3])],
        [vi("cond_out", B, []), vi("s_out", F, [2, 3]), vi("scan_out", F, [2, 3])])
    m = outer_graph([N("Loop", ["M", "", "x"], ["s_final", "stacked"], name="loop0", body=body)],
                    [vi("x", F, [2, 3]), vi("M", I64, []), vi("flag", B, [])],
                    [vi("s_final", F, [2, 3]), vi("stacked", F, [None, 2, 3])])

    def ref(feeds):
        s, x, outs = feeds["x"], feeds["x"], []
        for _ in range(int(feeds["M"])):
            b = (relu(s) * W + K) * np.float32(0.1)
            s = relu(b) + x if feeds["flag"] else b - x
            outs.append(s)
        return s, np.stack(outs) if outs else np.zeros((0, 2, 3), np.float32)
    return m, ref


def scan_model():
    """A Scan over the rows of xs (reversed) carrying a state; the body reads x (input), w, the
    Constant node, and stacks its outputs along axis 1."""
    body = helper.make_graph(
        [N("Identity", ["st_in"], ["a1"]), N("Identity", ["a1"], ["a2"]),
         N("Relu", ["row"], ["r1"]), N("Relu", ["r1"], ["r2"]),
         N("Add", ["a2", "r2"], ["st_out"]), N("Mul", ["st_out", "/Constant_output_0"], ["m1"]),
         const("body/k1", 2.0), const("body/k2", 0.5), N("Mul", ["body/k1", "body/k2"], ["one"]),
         N("Mul", ["m1", "one"], ["m2"]), N("Add", ["m2", "xr"], ["y_t"])],
        "body", [vi("st_in", F, [3]), vi("row", F, [3])], [vi("st_out", F, [3]), vi("y_t", F, [3])])
    m = outer_graph([N("Gather", ["w", "zero"], ["xr0"], axis=0), N("Add", ["xr0", "x"], ["xr"]),
                     N("Scan", ["s0", "xs"], ["s_final", "ys"], name="scan0", body=body, num_scan_inputs=1,
                       scan_input_directions=[1], scan_output_axes=[1])],
                    [vi("x", F, [3]), vi("s0", F, [3]), vi("xs", F, [4, 3])],
                    [vi("s_final", F, [3]), vi("ys", F, [3, 4])],
                    [numpy_helper.from_array(np.array(0, np.int64), "zero")])

    def ref(feeds):
        s, xr, ys = feeds["s0"], W[0] + feeds["x"], []
        for row in feeds["xs"][::-1]:
            s = s + relu(row)
            ys.append(s * K * 1.0 + xr)
        return s, np.stack(ys, axis=1)
    return m, ref


def const_if_model():
    """An If whose condition folds (Greater of two constants): replaced by its then branch."""
    then_g = helper.make_graph(busy("x", "ctb", "then/") + [N("Add", ["ctb", "w"], ["ct_out"])],
                               "then", [], [vi("ct_out", F, [2, 3])])
    else_g = helper.make_graph([N("Sub", ["x", "w"], ["ce_out"])], "else", [], [vi("ce_out", F, [2, 3])])
    m = outer_graph([const("a", 2.0), const("b", 1.0), N("Greater", ["a", "b"], ["c"]),
                     N("If", ["c"], ["y0"], name="if_const", then_branch=then_g, else_branch=else_g),
                     N("Relu", ["y0"], ["y"])],
                    [vi("x", F, [2, 3])], [vi("y", F, [2, 3])])
    return m, lambda feeds: relu(relu(feeds["x"]) + W)


def loop_once_model():
    """A Loop of one trip (M an initializer): its body runs once, in the outer graph."""
    body = helper.make_graph(busy("l_in", "lb", "body/") + [N("Add", ["lb", "w"], ["l_out"]),
                                                            N("Identity", ["lc_in"], ["lc_out"])],
                             "body", [vi("li", I64, []), vi("lc_in", B, []), vi("l_in", F, [2, 3])],
                             [vi("lc_out", B, []), vi("l_out", F, [2, 3])])
    m = outer_graph([N("Loop", ["one", "", "x"], ["y"], name="loop_once", body=body)],
                    [vi("x", F, [2, 3])], [vi("y", F, [2, 3])],
                    [numpy_helper.from_array(np.array(1, np.int64), "one")])
    return m, lambda feeds: relu(feeds["x"]) + W


def loop_once_nested_model():
    """A Loop of one trip whose body holds an If reading the carried value by the body input's name:
    inlined, the If's branches must read the Loop's input under its own name."""
    inner = N("If", ["flag"], ["lo"],
              then_branch=helper.make_graph([N("Mul", ["n_in", "w"], ["m"])], "then", [], [vi("m", F, [2, 3])]),
              else_branch=helper.make_graph([N("Identity", ["n_in"], ["e"])], "else", [], [vi("e", F, [2, 3])]))
    body = helper.make_graph([inner, N("Identity", ["nc_in"], ["nc_out"]), N("Relu", ["lo"], ["sc"])], "body",
                             [vi("ni", I64, []), vi("nc_in", B, []), vi("n_in", F, [2, 3])],
                             [vi("nc_out", B, []), vi("lo", F, [2, 3]), vi("sc", F, [2, 3])])
    m = outer_graph([N("Loop", ["one", "", "x"], ["y", "ys"], name="loop_once_nested", body=body)],
                    [vi("x", F, [2, 3]), vi("flag", B, [])], [vi("y", F, [2, 3]), vi("ys", F, [1, 2, 3])],
                    [numpy_helper.from_array(np.array(1, np.int64), "one")])

    def ref(feeds):
        y = feeds["x"] * W if feeds["flag"] else feeds["x"]
        return y, relu(y)[None]
    return m, ref


def loop_search_model():
    """A Loop whose step reads its three weights (outer initializers) through three MatMuls of one
    input: the search merges them inside the body (the weights' shapes known through the capture)."""
    ws = [np.random.default_rng(i).uniform(-0.1, 0.1, (64, 64)).astype(np.float32) for i in range(3)]
    body = helper.make_graph(
        [N("MatMul", ["h_in", f"mw{i}"], [f"p{i}"]) for i in range(3)] +
        [N("Add", ["p0", "p1"], ["pa"]), N("Add", ["pa", "p2"], ["pb"]), N("Tanh", ["pb"], ["h_out"]),
         N("Identity", ["hc_in"], ["hc_out"])],
        "body", [vi("hi", I64, []), vi("hc_in", B, []), vi("h_in", F, [8, 64])],
        [vi("hc_out", B, []), vi("h_out", F, [8, 64])])
    m = outer_graph([N("Loop", ["M", "", "h0"], ["h"], name="rnn", body=body)],
                    [vi("h0", F, [8, 64]), vi("M", I64, [])], [vi("h", F, [8, 64])],
                    [numpy_helper.from_array(w, f"mw{i}") for i, w in enumerate(ws)])

    def ref(feeds):
        h = feeds["h0"]
        for _ in range(int(feeds["M"])):
            h = np.tanh(h @ ws[0] + h @ ws[1] + h @ ws[2])
        return h
    return m, ref


def loop_hoist_model():
    """A Loop whose step adds Relu(x @ v) (x a graph input, v a weight: the same in every iteration)
    to its carried value: the MatMul and the Relu move out of the body, the Add stays."""
    v = np.random.default_rng(5).uniform(-1, 1, (3, 3)).astype(np.float32)
    body = helper.make_graph([N("MatMul", ["x", "v"], ["xv"]), N("Relu", ["xv"], ["xvr"]),
                              N("Add", ["a_in", "xvr"], ["a_out"]), N("Identity", ["ac_in"], ["ac_out"])],
                             "body", [vi("ai", I64, []), vi("ac_in", B, []), vi("a_in", F, [2, 3])],
                             [vi("ac_out", B, []), vi("a_out", F, [2, 3])])
    m = outer_graph([N("Loop", ["M", "", "x"], ["y"], name="loop_hoist", body=body)],
                    [vi("x", F, [2, 3]), vi("M", I64, [])], [vi("y", F, [2, 3])],
                    [numpy_helper.from_array(v, "v")])

    def ref(feeds):
        y = feeds["x"]
        for _ in range(int(feeds["M"])):
            y = y + relu(feeds["x"] @ v)
        return y
    return m, ref


def loop_zero_model():
    """A Loop of no trip: its outputs are its initial values."""
    body = helper.make_graph([N("Add", ["z_in", "w"], ["z_out"]), N("Identity", ["zc_in"], ["zc_out"])],
                             "body", [vi("zi", I64, []), vi("zc_in", B, []), vi("z_in", F, [2, 3])],
                             [vi("zc_out", B, []), vi("z_out", F, [2, 3])])
    m = outer_graph([N("Relu", ["x"], ["xr"]),
                     N("Loop", ["nought", "", "xr"], ["z"], name="loop_zero", body=body),
                     N("Add", ["z", "x"], ["y"])],
                    [vi("x", F, [2, 3])], [vi("y", F, [2, 3])],
                    [numpy_helper.from_array(np.array(0, np.int64), "nought")])
    return m, lambda feeds: relu(feeds["x"]) + feeds["x"]


def nested_model():
    """If(cond) { Loop(2) { If(flag) {Relu(Relu)} else {Identity} } } else { Transpose(Transpose(x)) }:
    the trip count is a Constant node of the then branch, the inner If reads a value of the Loop body."""
    inner_then = helper.make_graph([N("Relu", ["li"], ["q1"]), N("Relu", ["q1"], ["q_out"])], "inner_then", [],
                                   [vi("q_out", F, [2, 3])])
    inner_else = helper.make_graph([N("Identity", ["li"], ["e_out"])], "inner_else", [], [vi("e_out", F, [2, 3])])
    body = helper.make_graph(
        [N("Identity", ["l_in"], ["li0"]), N("Mul", ["li0", "w"], ["li"]),
         N("If", ["flag"], ["l_out"], name="inner_if", then_branch=inner_then, else_branch=inner_else),
         N("Identity", ["lc_in"], ["lc_out"])],
        "body", [vi("it", I64, []), vi("lc_in", B, []), vi("l_in", F, [2, 3])],
        [vi("lc_out", B, []), vi("l_out", F, [2, 3])])
    then_g = helper.make_graph([const("two", 2, np.int64),
                                N("Loop", ["two", "", "x"], ["t_out"], name="loop_in_then", body=body)],
                               "then", [], [vi("t_out", F, [2, 3])])
    else_g = helper.make_graph([N("Transpose", ["x"], ["x1"], perm=[1, 0]),
                                N("Transpose", ["x1"], ["x_out"], perm=[1, 0])], "else", [],
                               [vi("x_out", F, [2, 3])])
    m = outer_graph([N("If", ["cond"], ["y"], name="outer_if", then_branch=then_g, else_branch=else_g)],
                    [vi("x", F, [2, 3]), vi("cond", B, []), vi("flag", B, [])], [vi("y", F, [2, 3])])

    def ref(feeds):
        s = feeds["x"]
        for _ in range(2 if feeds["cond"] else 0):
            s = relu(s * W) if feeds["flag"] else s * W
        return s
    return m, ref


def deep_inputs():
    return [vi("x", F, [2, 3]), vi("cond", B, []), vi("flag", B, []), vi("M", I64, []), vi("xs", F, [4, 2, 3])]


def deep_graph(nodes, outputs):
    """The outer graph of the deep models: x, cond, flag, M, xs; w (initializer), the Constant node
    K and xo = Sigmoid(x), an outer node's output, all read only from bodies."""
    return outer_graph([N("Sigmoid", ["x"], ["xo"], name="/outer/Sigmoid")] + nodes, deep_inputs(), outputs)


def sigmoid(a):
    return (1 / (1 + np.exp(-a.astype(np.float64)))).astype(np.float32)


def inner_if(v1, out, p):
    """An If on flag whose branches read v1 (defined two bodies up), x (graph input), xo (an outer
    node's output), w (initializer) and the Constant node's output."""
    then_g = helper.make_graph(busy(v1, p + "b", p + "t/") +
                               [N("Add", [p + "b", "xo"], [p + "t1"]), N("Mul", [p + "t1", "w"], [p + "t2"]),
                                N("Add", [p + "t2", "/Constant_output_0"], [p + "then_out"])],
                               p + "then", [], [vi(p + "then_out", F, [2, 3])])
    else_g = helper.make_graph([N("Sub", [v1, "x"], [p + "e1"]), N("Identity", [p + "e1"], [p + "else_out"])],
                               p + "else", [], [vi(p + "else_out", F, [2, 3])])
    return N("If", ["flag"], [out], name=p + "if", then_branch=then_g, else_branch=else_g)


def inner_ref(v1, feeds):
    x = feeds["x"]
    return (relu(v1) + sigmoid(x)) * W + K if feeds["flag"] else v1 - x


def loop_body(nodes, p, carried):
    """A Loop body of trip counter, condition and one carried [2, 3] value (p + "s_in")."""
    return helper.make_graph(nodes + [N("Identity", [p + "c_in"], [p + "c_out"])], p + "body",
                             [vi(p + "i", I64, []), vi(p + "c_in", B, []), vi(p + "s_in", F, [2, 3])],
                             [vi(p + "c_out", B, []), vi(carried, F, [2, 3])])


def deep_if_model():
    """If(cond) { v1 = x * w; Loop(2 trips, a Constant node of the branch) { s += If(flag){...}(v1) } }
    else { xo + K }: the innermost bodies read v1 two levels up."""
    body = loop_body([inner_if("v1", "q", "l2/"), N("Add", ["l2/s_in", "q"], ["l2/s_out"])], "l2/", "l2/s_out")
    then_g = helper.make_graph([N("Mul", ["x", "w"], ["v1"]), const("two", 2, np.int64),
                                N("Loop", ["two", "", "xo"], ["l1_out"], name="l2/loop", body=body)],
                               "then", [], [vi("l1_out", F, [2, 3])])
    else_g = helper.make_graph([N("Add", ["xo", "/Constant_output_0"], ["l1_else"])], "else", [],
                               [vi("l1_else", F, [2, 3])])
    m = deep_graph([N("If", ["cond"], ["y"], name="l1/if", then_branch=then_g, else_branch=else_g)],
                   [vi("y", F, [2, 3])])

    def ref(feeds):
        xo = sigmoid(feeds["x"])
        if not feeds["cond"]:
            return xo + K
        return xo + 2 * inner_ref(feeds["x"] * W, feeds)
    return m, ref


def deep_loop_model():
    """Loop(M) { v1 = s + xo; Scan(v1, xs) { st += row * If(flag){...}(v1) } }: the If inside the
    Scan body reads v1 of the Loop body, xs is a graph input the Loop body reads."""
    scan_body = helper.make_graph([inner_if("v1", "q", "l2/"), N("Mul", ["row", "q"], ["rq"]),
                                   N("Add", ["st_in", "rq"], ["st_out"]), N("Identity", ["st_out"], ["y_t"])],
                                  "scan_body", [vi("st_in", F, [2, 3]), vi("row", F, [2, 3])],
                                  [vi("st_out", F, [2, 3]), vi("y_t", F, [2, 3])])
    body = loop_body([N("Add", ["l1/s_in", "xo"], ["v1"]),
                      N("Scan", ["v1", "xs"], ["l1/s_out", "l1/ys"], name="l2/scan", body=scan_body,
                        num_scan_inputs=1)], "l1/", "l1/s_out")
    m = deep_graph([N("Loop", ["M", "", "x"], ["y"], name="l1/loop", body=body)], [vi("y", F, [2, 3])])

    def ref(feeds):
        s, xo = feeds["x"], sigmoid(feeds["x"])
        for _ in range(int(feeds["M"])):
            v1 = s + xo
            s = v1
            for row in feeds["xs"]:
                s = s + row * inner_ref(v1, feeds)
        return s
    return m, ref


def deep_scan_model():
    """Scan(x, xs) { v1 = row * w; If(cond) { Loop(2, a Constant node of the branch) { a += v1 * xo + K - x } }
    else { st - v1 }; st = that + row }: the Loop body reads v1 of the Scan body, two levels up."""
    body3 = loop_body([N("Mul", ["v1", "xo"], ["l3/m"]), N("Add", ["l3/s_in", "l3/m"], ["l3/a1"]),
                       N("Add", ["l3/a1", "/Constant_output_0"], ["l3/a2"]), N("Sub", ["l3/a2", "x"], ["l3/s_out"])],
                      "l3/", "l3/s_out")
    then_g = helper.make_graph([const("two", 2, np.int64),
                                N("Loop", ["two", "", "st_in"], ["l2_then"], name="l3/loop", body=body3)],
                               "then", [], [vi("l2_then", F, [2, 3])])
    else_g = helper.make_graph([N("Sub", ["st_in", "v1"], ["l2_else"])], "else", [], [vi("l2_else", F, [2, 3])])
    scan_body = helper.make_graph([N("Mul", ["row", "w"], ["v1"]),
                                   N("If", ["cond"], ["r"], name="l2/if", then_branch=then_g, else_branch=else_g),
                                   N("Add", ["r", "row"], ["st_out"]), N("Identity", ["st_out"], ["y_t"])],
                                  "scan_body", [vi("st_in", F, [2, 3]), vi("row", F, [2, 3])],
                                  [vi("st_out", F, [2, 3]), vi("y_t", F, [2, 3])])
    m = deep_graph([N("Scan", ["x", "xs"], ["y", "ys"], name="l1/scan", body=scan_body, num_scan_inputs=1)],
                   [vi("y", F, [2, 3]), vi("ys", F, [4, 2, 3])])

    def ref(feeds):
        x, st, ys = feeds["x"], feeds["x"], []
        for row in feeds["xs"]:
            v1 = row * W
            if feeds["cond"]:
                for _ in range(2):
                    st = st + v1 * sigmoid(x) + K - x
            else:
                st = st - v1
            st = st + row
            ys.append(st)
        return st, np.stack(ys)
    return m, ref


def sequence_model():
    """TorchScript's lists as sequences: a Loop appends each step's state to a carried sequence
    (SequenceEmpty, SequenceInsert), then ConcatFromSequence stacks and joins it, SequenceLength,
    SequenceAt (from the front and the back), SplitToSequence (pieces of one, of a scalar size,
    squeezed), SequenceErase, SequenceConstruct and an Identity of a sequence."""
    body = helper.make_graph(
        [N("Mul", ["h_in", "w"], ["hm"]), N("Add", ["hm", "/Constant_output_0"], ["h_out"]),
         N("Identity", ["seq_in"], ["seq_id"]), N("SequenceInsert", ["seq_id", "h_out"], ["seq_out"]),
         N("Identity", ["sc_in"], ["sc_out"])],
        "body", [vi("si", I64, []), vi("sc_in", B, []),
                 helper.make_tensor_sequence_value_info("seq_in", F, None), vi("h_in", F, [2, 3])],
        [vi("sc_out", B, []), helper.make_tensor_sequence_value_info("seq_out", F, None), vi("h_out", F, [2, 3])])
    i64 = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
    m = outer_graph([
        N("SequenceEmpty", [], ["s0"], dtype=F),
        N("Loop", ["M", "", "s0", "x"], ["seq", "h"], name="append", body=body),
        N("ConcatFromSequence", ["seq"], ["stacked"], axis=0, new_axis=1),
        N("ConcatFromSequence", ["seq"], ["joined"], axis=1),
        N("SequenceLength", ["seq"], ["n"]), N("Cast", ["n"], ["n_f"], to=F),
        N("SequenceAt", ["seq", "zero"], ["first"]), N("SequenceAt", ["seq", "minus_one"], ["last"]),
        N("SequenceConstruct", ["first", "last"], ["pair"]), N("ConcatFromSequence", ["pair"], ["ends"], axis=0),
        N("SplitToSequence", ["x"], ["cols"], axis=1), N("SequenceErase", ["cols", "one"], ["cols2"]),
        N("ConcatFromSequence", ["cols2"], ["outer_cols"], axis=1),
        N("SplitToSequence", ["x", "two"], ["halves"], axis=1), N("ConcatFromSequence", ["halves"], ["x_again"], axis=1),
        N("SplitToSequence", ["x"], ["rows"], axis=0, keepdims=0),
        N("ConcatFromSequence", ["rows"], ["x_t"], axis=-1, new_axis=1)],
        [vi("x", F, [2, 3]), vi("M", I64, [])],
        [vi("stacked", F, [None, 2, 3]), vi("joined", F, [2, None]), vi("n_f", F, []), vi("ends", F, [4, 3]),
         vi("outer_cols", F, [2, 2]), vi("x_again", F, [2, 3]), vi("x_t", F, [3, 2]), vi("h", F, [2, 3])],
        [i64("zero", 0), i64("minus_one", -1), i64("one", 1), i64("two", 2)])
    m.opset_import[0].version = 14   # Identity takes sequences from 14

    def ref(feeds):
        x, hs = feeds["x"], []
        for _ in range(int(feeds["M"])):
            hs.append((hs[-1] if hs else x) * W + K)
        return (np.stack(hs), np.concatenate(hs, 1), np.float32(len(hs)), np.concatenate([hs[0], hs[-1]]),
                x[:, [0, 2]], x, x.T, hs[-1])
    return m, ref


DEEP = [{"x": None, "cond": c, "flag": f, "M": m, "xs": None} for c, f, m in
        ((True, True, 2), (True, False, 1), (False, True, 0), (False, False, 3))]

# name, builder, inputs, rewrites inside bodies expected, op that must be gone
CASES = [
    ("if", if_model, [{"x": None, "cond": True}, {"x": None, "cond": False}], True, None),
    ("loop", loop_model, [{"x": None, "M": 3, "flag": True}, {"x": None, "M": 2, "flag": False},
                          {"x": None, "M": 0, "flag": True}], True, None),
    ("scan", scan_model, [{"x": None, "s0": None, "xs": None}], True, None),
    ("nested", nested_model, [{"x": None, "cond": True, "flag": True}, {"x": None, "cond": True, "flag": False},
                              {"x": None, "cond": False, "flag": True}], True, None),
    ("loop-hoist", loop_hoist_model, [{"x": None, "M": 3}, {"x": None, "M": 0}], True, None),
    ("loop-search", loop_search_model, [{"h0": None, "M": 3}], True, None),
    ("const-if", const_if_model, [{"x": None}], False, "If"),
    ("loop-once", loop_once_model, [{"x": None}], False, "Loop"),
    ("loop-once-nested", loop_once_nested_model, [{"x": None, "flag": True}, {"x": None, "flag": False}], False,
     "Loop"),
    ("loop-zero", loop_zero_model, [{"x": None}], False, "Loop"),
    ("deep-if", deep_if_model, DEEP, True, None),
    ("deep-loop", deep_loop_model, DEEP, True, None),
    ("deep-scan", deep_scan_model, DEEP, True, None),
    ("sequences", sequence_model, [{"x": None, "M": 3}, {"x": None, "M": 1}], False, None),
]

SEARCHED = {"loop-search": "parallel-matmul-merge3"}   # a search rewrite expected inside the body


def feeds_for(model, spec, rng):
    out = {}
    for inp in model.graph.input:
        name = inp.name
        if spec.get(name) is not None:
            t = inp.type.tensor_type.elem_type
            out[name] = np.array(spec[name], np.int64 if t == I64 else bool if t == B else np.float32)
            continue
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        out[name] = rng.uniform(-2, 2, dims).astype(np.float32)
    return out


def run(args, ok=(0,)):
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if p.returncode not in ok:
        sys.exit(f"FAIL: {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def nodes_inside(graph):
    n = 0
    for node in graph.node:
        for a in node.attribute:
            for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                n += len(g.node) + nodes_inside(g)
    return n


def ops(graph):
    out = set()
    for node in graph.node:
        out.add(node.op_type)
        for a in node.attribute:
            for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                out |= ops(g)
    return out


def check_run(gs, path, feeds, want, d, tag):
    """graphsub run on feeds must give want (a tuple of arrays)."""
    data = os.path.join(d, tag)
    os.makedirs(data, exist_ok=True)
    for i, (k, v) in enumerate(feeds.items()):
        with open(os.path.join(data, f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(v, k).SerializeToString())
    want = want if isinstance(want, tuple) else (want,)
    for i, v in enumerate(want):
        with open(os.path.join(data, f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(v, np.float32)).SerializeToString())
    with open(os.path.join(data, "case.json"), "w") as f:   # for control_flow_ort.js
        json.dump({"model": os.path.abspath(path),
                   "feeds": {k: {"dtype": str(v.dtype), "dims": list(v.shape), "data": v.ravel().tolist()}
                             for k, v in feeds.items()},
                   "outputs": [{"dims": list(np.shape(v)), "data": np.asarray(v, np.float32).ravel().tolist()}
                               for v in want]}, f)
    run([gs, "run", path, "--data", data])


def one(gs, d, name, build, specs, inside, gone, rng):
    model, ref = build()
    onnx.checker.check_model(model)
    src, dst, rep = (os.path.join(d, name + s) for s in (".onnx", ".opt.onnx", ".json"))
    onnx.save(model, src)
    run([gs, "optimize", src, "-o", dst, "--report", rep, "--quiet"])
    out = onnx.load(dst)
    onnx.checker.check_model(out)
    report = json.load(open(rep))
    for k, spec in enumerate(specs):
        feeds = feeds_for(model, spec, rng)
        check_run(gs, src, feeds, ref(feeds), d, f"{name}-src-{k}")
        check_run(gs, dst, feeds, ref(feeds), d, f"{name}-dst-{k}")
    run([gs, "verify", src, dst, "--trials", "3"])
    before, after = nodes_inside(model.graph), nodes_inside(out.graph)
    if report.get("nodes_in_subgraphs_before") != before or report.get("nodes_in_subgraphs_after") != after:
        sys.exit(f"FAIL {name}: report counts {report.get('nodes_in_subgraphs_before')} -> "
                 f"{report.get('nodes_in_subgraphs_after')} nodes in subgraphs, the files {before} -> {after}")
    for path, want in ((src, before), (dst, after)):
        info = json.loads(run([gs, "info", path, "--json"]).stdout)
        if info.get("nodes_in_subgraphs") != want:
            sys.exit(f"FAIL {name}: info counts {info.get('nodes_in_subgraphs')} nodes in subgraphs of {path}, "
                     f"the file {want}")
    if inside and not after < before:
        sys.exit(f"FAIL {name}: nothing removed inside bodies ({before} -> {after} nodes); "
                 f"rewrites {report.get('rewrites')}")
    if name == "loop-hoist" and not {"MatMul", "Relu"} <= {n.op_type for n in out.graph.node}:
        sys.exit(f"FAIL {name}: the loop-invariant MatMul and Relu stay in the body")
    if name in SEARCHED and SEARCHED[name] not in report.get("rewrites", {}):
        sys.exit(f"FAIL {name}: {SEARCHED[name]} not applied inside the body: {report.get('rewrites')}")
    outer_inits = {t.name for t in out.graph.initializer}
    if report["cost_after"] > report["cost_before"]:
        sys.exit(f"FAIL {name}: the cost rose from {report['cost_before']} to {report['cost_after']}")
    if inside and name not in ("nested", "loop-search", "loop-hoist") and "/Constant_output_0" in outer_inits:
        sys.exit(f"FAIL {name}: the constant only bodies read stays in the outer graph")
    for node in (n for n in out.graph.node if n.op_type == "Loop"):
        body = node.attribute[0].g
        if body.output[0].name != body.input[1].name:
            sys.exit(f"FAIL {name}: the Loop body's condition still goes through "
                     f"{[n.op_type for n in body.node if body.output[0].name in n.output]}")
    if gone and gone in ops(out.graph):
        sys.exit(f"FAIL {name}: the {gone} is still in the output")
    print(f"ok {name}: nodes in subgraphs {before} -> {after}, nodes {report['nodes_before']} -> "
          f"{report['nodes_after']}, rewrites {report.get('rewrites')}")


def torchscript(gs, d):
    """tests/data/torchscript_decoder.onnx (a torch.jit.script export: Loop, If, LSTM, sequences):
    optimize exits 0, the output passes onnx.checker, the bodies shrink, and --verify passes."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "torchscript_decoder.onnx")
    dst, rep = os.path.join(d, "torchscript.opt.onnx"), os.path.join(d, "torchscript.json")
    run([gs, "optimize", src, "-o", dst, "--report", rep, "--quiet"])
    onnx.checker.check_model(onnx.load(dst))
    report = json.load(open(rep))
    before, after = report["nodes_in_subgraphs_before"], report["nodes_in_subgraphs_after"]
    if not after < before / 2:
        sys.exit(f"FAIL torchscript: nodes in subgraphs {before} -> {after}")
    run([gs, "optimize", src, "-o", dst, "--verify", "--quiet"])
    print(f"ok torchscript: nodes in subgraphs {before} -> {after}, nodes {report['nodes_before']} -> "
          f"{report['nodes_after']}, folded {report['folded']}")


def sequence_errors(gs, d):
    """A sequence where a tensor belongs (and the reverse), an empty sequence to concatenate, a
    position out of range and a sequence as graph output: graphsub run exits 3 naming the problem."""
    seq_out = helper.make_tensor_sequence_value_info("s", F, None)
    cases = {
        "is a sequence, not a tensor": ([N("SequenceEmpty", [], ["e"]), N("Add", ["e", "x"], ["y"])], [vi("y")]),
        "an empty sequence": ([N("SequenceEmpty", [], ["e"]), N("ConcatFromSequence", ["e"], ["y"], axis=0)],
                              [vi("y")]),
        "position out of range": ([N("SequenceConstruct", ["x", "x"], ["e"]), N("SequenceAt", ["e", "five"], ["y"])],
                                  [vi("y")]),
        "must be a sequence is a tensor": ([N("SequenceInsert", ["x", "x"], ["e"]),
                                            N("ConcatFromSequence", ["e"], ["y"], axis=0)], [vi("y")]),
        "of another type than the sequence's": ([N("SequenceEmpty", [], ["e"], dtype=I64),
                                                 N("SequenceInsert", ["e", "x"], ["e2"]),
                                                 N("ConcatFromSequence", ["e2"], ["y"], axis=0)], [vi("y")]),
        "sequence outputs are not supported": ([N("SplitToSequence", ["x"], ["s"], axis=0)], [seq_out]),
    }
    for i, (want, (nodes, outputs)) in enumerate(cases.items()):
        g = helper.make_graph(nodes, "bad_sequence", [vi("x", F, [2, 3])], outputs,
                              [numpy_helper.from_array(np.array(5, np.int64), "five")])
        path = os.path.join(d, f"bad_sequence_{i}.onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), path)
        p = subprocess.run([gs, "run", path], capture_output=True, text=True, timeout=60)
        if p.returncode != 3 or want not in p.stderr or path not in p.stderr:
            sys.exit(f"FAIL bad sequence: want exit 3 and '{want}', got exit {p.returncode}: {p.stderr.strip()}")
    print(f"ok bad sequences: {len(cases)} refused with exit 3, naming the problem")


def nested_trips(gs, d):
    """Loops nested in Loops stop at the bound on node runs inside bodies, not hours later."""
    inner = helper.make_graph([N("Add", ["b_in", "one_f"], ["b_out"]), N("Identity", ["bc_in"], ["bc_out"])],
                              "inner", [vi("bi", I64, []), vi("bc_in", B, []), vi("b_in", F, [2])],
                              [vi("bc_out", B, []), vi("b_out", F, [2])])
    outer = helper.make_graph([N("Loop", ["mid", "", "a_in"], ["a_out"], body=inner),
                               N("Identity", ["ac_in"], ["ac_out"])], "outer",
                              [vi("ai", I64, []), vi("ac_in", B, []), vi("a_in", F, [2])],
                              [vi("ac_out", B, []), vi("a_out", F, [2])])
    g = helper.make_graph([N("Loop", ["big", "", "x"], ["y"], body=outer)], "nested_trips",
                          [vi("x", F, [2])], [vi("y", F, [2])],
                          [numpy_helper.from_array(np.array(v, t), k) for k, v, t in
                           (("big", 1 << 30, np.int64), ("mid", 300000, np.int64), ("one_f", 1.0, np.float32))])
    path = os.path.join(d, "nested_trips.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    for args in (["run", path], ["optimize", path, "-o", os.path.join(d, "nt.opt.onnx"), "--verify"]):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run([gs] + args, capture_output=True, text=True, timeout=600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        if p.returncode != 3 or "node runs inside If, Loop and Scan bodies" not in p.stderr or cpu > 60:
            sys.exit(f"FAIL nested trips: {args[0]} exited {p.returncode} after {cpu:.1f} s of CPU: "
                     f"{p.stderr.strip()}")
    print(f"ok nested trips: stopped at the bound on node runs inside bodies ({cpu:.1f} s of CPU)")


def ort_check(d):
    """control_flow_ort.js over every case folder of d, when ONNX Runtime for Node is installed."""
    here = os.path.dirname(os.path.abspath(__file__))
    modules = os.environ.get("ORT_NODE_MODULES") or os.path.join(here, "..", "..", "bench", "node_modules")
    if not shutil.which("node") or not os.path.isdir(os.path.join(modules, "onnxruntime-node")):
        print("note: onnxruntime-node not installed, ONNX Runtime not checked")
        return
    p = subprocess.run(["node", os.path.join(here, "control_flow_ort.js"), d], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, ORT_NODE_MODULES=os.path.abspath(modules)))
    if p.returncode != 0:
        sys.exit(f"FAIL: ONNX Runtime: {p.stderr.strip()}")
    print(f"ok ONNX Runtime gives numpy's outputs on {len(p.stdout.splitlines())} runs, original and optimized")


def main():
    gs = sys.argv[1]
    keep = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--keep" else None
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        d = keep or tmp
        os.makedirs(d, exist_ok=True)
        for case in CASES:
            one(gs, d, *case, rng)
        torchscript(gs, d)
        nested_trips(gs, d)
        sequence_errors(gs, d)
        ort_check(d)


if __name__ == "__main__":
    main()
