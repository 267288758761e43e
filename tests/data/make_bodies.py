#!/usr/bin/python3
"""Write the model test_bodies.c reads: bodies nested two deep, with
initializers at every level and values captured from one and two graphs out.

    main  x[2,3], n, c; weight w[2,3]
      loop = Loop(n, c, x) -> y, ys
        body (i, cond_in, acc); weights step[3], lim
          keep_going: cond_out = Identity(cond_in)
          first:      flag = Less(i, lim)
          branch:     t = If(flag)
            then: weight half; halve: then_out = Mul(acc, half)   (acc: the loop body's input)
            else: shift: else_out = Add(w, step)                  (w: main, two graphs out)
          plus_x:     acc_pre = Add(t, x)                         (x: main)
          noop:       acc_out = Identity(acc_pre)                 (cleanup removes it)
          copy:       scan_out = Identity(acc_out)
      alts = test.bodies.Branches(x) -> z, with a GRAPHS attribute of two bodies:
        alt0: neg: o0 = Neg(x)
        alt1: weight k1[3]; scale: o1 = Mul(k1, w)

usage: make_bodies.py OUT.onnx
"""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def init(name, values, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def loop_body():
    then_g = helper.make_graph(
        [helper.make_node("Mul", ["acc", "half"], ["then_out"], name="halve")], "then_body", [],
        [helper.make_tensor_value_info("then_out", F, [2, 3])], [init("half", 0.5)])
    else_g = helper.make_graph(
        [helper.make_node("Add", ["w", "step"], ["else_out"], name="shift")], "else_body", [],
        [helper.make_tensor_value_info("else_out", F, [2, 3])])
    nodes = [
        helper.make_node("Identity", ["cond_in"], ["cond_out"], name="keep_going"),
        helper.make_node("Less", ["i", "lim"], ["flag"], name="first"),
        helper.make_node("If", ["flag"], ["t"], name="branch", then_branch=then_g, else_branch=else_g),
        helper.make_node("Add", ["t", "x"], ["acc_pre"], name="plus_x"),
        helper.make_node("Identity", ["acc_pre"], ["acc_out"], name="noop"),
        helper.make_node("Identity", ["acc_out"], ["scan_out"], name="copy"),
    ]
    return helper.make_graph(
        nodes, "loop_body",
        [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("cond_in", B, []),
         helper.make_tensor_value_info("acc", F, [2, 3])],
        [helper.make_tensor_value_info("cond_out", B, []), helper.make_tensor_value_info("acc_out", F, [2, 3]),
         helper.make_tensor_value_info("scan_out", F, [2, 3])],
        [init("step", [1, 2, 3]), init("lim", 1, np.int64)])


def alts():
    alt0 = helper.make_graph([helper.make_node("Neg", ["x"], ["o0"], name="neg")], "alt0", [],
                             [helper.make_tensor_value_info("o0", F, [2, 3])])
    alt1 = helper.make_graph([helper.make_node("Mul", ["k1", "w"], ["o1"], name="scale")], "alt1", [],
                             [helper.make_tensor_value_info("o1", F, [2, 3])], [init("k1", [7, 8, 9])])
    node = helper.make_node("Branches", ["x"], ["z"], name="alts", domain="test.bodies")
    node.attribute.append(helper.make_attribute("alts", [alt0, alt1]))
    return node


def main():
    graph = helper.make_graph(
        [helper.make_node("Loop", ["n", "c", "x"], ["y", "ys"], name="loop", body=loop_body()), alts()],
        "main",
        [helper.make_tensor_value_info("x", F, [2, 3]), helper.make_tensor_value_info("n", I64, []),
         helper.make_tensor_value_info("c", B, [])],
        [helper.make_tensor_value_info("y", F, [2, 3]), helper.make_tensor_value_info("ys", F, None),
         helper.make_tensor_value_info("z", F, None)],
        [init("w", np.arange(6).reshape(2, 3) * 0.5)])
    model = helper.make_model(graph, producer_name="graphsub-tests",
                              opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("test.bodies", 1)])
    model.ir_version = 8
    with open(sys.argv[1], "wb") as f:
        f.write(model.SerializeToString())


if __name__ == "__main__":
    main()
