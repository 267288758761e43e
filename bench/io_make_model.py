#!/usr/bin/python3
"""Make a model with about SIZE_MIB MiB of float32 weights (default 1024) for
the import/export benchmark: a chain of MatMuls on 4096x4096 weights, stored
as raw_data. Deterministic content, written with onnx.

Usage: bench/io_make_model.py OUT.onnx [SIZE_MIB]
"""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def main():
    out = sys.argv[1]
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    dim = 4096
    count = max(1, mib * (1 << 20) // (dim * dim * 4))
    nodes, inits = [], []
    prev = "x"
    for i in range(count):
        w = np.full((dim, dim), 1.0 / (i + 1), dtype=np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"y{i}"], name=f"mm{i}"))
        prev = f"y{i}"
    graph = helper.make_graph(
        nodes, "io_bench",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, dim])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, dim])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with open(out, "wb") as f:
        f.write(model.SerializeToString())
    print(f"{out}: {count} tensors of {dim}x{dim} float32, {count * dim * dim * 4 / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
