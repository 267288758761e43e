#!/usr/bin/python3
"""Make the small example models in examples/ (deterministic: fixed seed).

tiny_cnn.onnx: Conv -> BatchNormalization -> Relu -> Conv -> Add(bias) ->
GlobalAveragePool -> Flatten -> MatMul -> Add, with an Identity and a pair of
Transposes that cancel: the kinds of pattern graphsub rewrites.

loop_if.onnx: a Loop whose body holds an If; the branches read values of the
body and of the main graph by name (captures) and have weights of their own,
and there is something to rewrite at each level (an Identity in the loop
body, Relu(Relu(...)) in a branch). examples/walk_bodies.c walks it.

Usage: examples/make_examples.py [OUT_DIR]   (default: the folder of this script)
"""
import os
import sys

import numpy as np
from onnx import TensorProto, checker, helper, numpy_helper


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def tiny_cnn(rng):
    inits = [
        const("w1", rng.standard_normal((8, 3, 3, 3)) * 0.3),
        const("b1", rng.standard_normal(8) * 0.1),
        const("bn_scale", rng.uniform(0.5, 1.5, 8)),
        const("bn_bias", rng.standard_normal(8) * 0.1),
        const("bn_mean", rng.standard_normal(8) * 0.1),
        const("bn_var", rng.uniform(0.5, 1.5, 8)),
        const("w2", rng.standard_normal((8, 8, 1, 1)) * 0.3),
        const("bias2", rng.standard_normal((1, 8, 1, 1)) * 0.1),
        const("fc_w", rng.standard_normal((8, 10)) * 0.3),
        const("fc_b", rng.standard_normal(10) * 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"],
                         ["bn1"], name="bn1", epsilon=1e-5),
        helper.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
        helper.make_node("Identity", ["r1"], ["id1"], name="identity1"),
        helper.make_node("Conv", ["id1", "w2"], ["c2"], name="conv2"),
        helper.make_node("Add", ["c2", "bias2"], ["a2"], name="add2"),
        helper.make_node("Transpose", ["a2"], ["t1"], name="transpose1", perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", ["t1"], ["t2"], name="transpose2", perm=[0, 3, 1, 2]),
        helper.make_node("GlobalAveragePool", ["t2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "fc_w"], ["mm"], name="fc"),
        helper.make_node("Add", ["mm", "fc_b"], ["y"], name="fc_bias"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        inits)
    model = helper.make_model(graph, producer_name="graphsub-examples",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    checker.check_model(model)
    return model


def loop_if():
    """y = x after n steps of: acc * scale on even steps, Relu(Relu(acc)) + bias on odd ones."""
    i64 = lambda name, v: numpy_helper.from_array(np.asarray(v, dtype=np.int64), name)
    then_g = helper.make_graph(
        [helper.make_node("Mul", ["acc", "scale"], ["then_out"], name="scaled")], "even_step", [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [4])])
    else_g = helper.make_graph(
        [helper.make_node("Relu", ["acc"], ["r1"], name="relu1"),
         helper.make_node("Relu", ["r1"], ["r2"], name="relu2"),
         helper.make_node("Add", ["r2", "bias"], ["else_out"], name="shifted")], "odd_step", [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [4])],
        [const("bias", [0.5, -0.5, 0.25, -0.25])])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"], name="go_on"),
         helper.make_node("Mod", ["i", "two"], ["parity"], name="parity"),
         helper.make_node("Equal", ["parity", "zero"], ["even"], name="is_even"),
         helper.make_node("If", ["even"], ["step"], name="branch", then_branch=then_g, else_branch=else_g),
         helper.make_node("Identity", ["step"], ["acc_out"], name="pass_on")],
        "loop_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [4])],
        [i64("two", 2), i64("zero", 0)])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["n", "", "x"], ["y"], name="loop", body=body)], "loop_if",
        [helper.make_tensor_value_info("n", TensorProto.INT64, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [const("scale", [2, -1, 0.5, 3])])
    model = helper.make_model(graph, producer_name="graphsub-examples",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    checker.check_model(model)
    return model


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, model in (("tiny_cnn.onnx", tiny_cnn(np.random.default_rng(0))), ("loop_if.onnx", loop_if())):
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        print(path)


if __name__ == "__main__":
    main()
