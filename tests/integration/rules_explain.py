#!/usr/bin/python3
"""`graphsub rules explain RULE MODEL` says, for each node of the op of the
rule's first statement, whether the rule matches there and, when it does
not, why: the first condition that failed with the values it saw, or the
step of the pattern that did not fit (an attribute the pattern does not
mention, an input produced by another op, a value read outside the match).

usage: rules_explain.py GRAPHSUB
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper
from onnx import numpy_helper as nh

R = np.random.default_rng(0)


def weight(name, shape, lo=-1, hi=1):
    return nh.from_array(R.uniform(lo, hi, shape).astype(np.float32), name)


def model(path):
    inits = [weight("w1", [4, 3, 3, 3]), weight("w2", [4, 4, 3, 3]), weight("w4", [4, 4, 3, 3])]
    for i in (1, 2, 3, 4):
        inits += [weight(f"s{i}", [4]), weight(f"b{i}", [4]), weight(f"v{i}", [4], 0.5, 2)]
        if i != 4:
            inits.append(weight(f"m{i}", [4]))
    n = helper.make_node
    nodes = [n("Conv", ["x", "w1"], ["c1"], name="conv1"),
             n("BatchNormalization", ["c1", "s1", "b1", "m1", "v1"], ["y1"], name="bn1"),
             n("Conv", ["y1", "w2"], ["c2"], name="conv2"),
             n("BatchNormalization", ["c2", "s2", "b2", "m2", "v2"], ["y2"], name="bn2", training_mode=1),
             n("Relu", ["y2"], ["r"], name="relu"),
             n("BatchNormalization", ["r", "s3", "b3", "m3", "v3"], ["y3"], name="bn3"),
             n("Conv", ["y3", "w4"], ["c4"], name="conv4"),
             n("BatchNormalization", ["c4", "s4", "b4", "mean", "v4"], ["y"], name="bn4")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8]),
                                       helper.make_tensor_value_info("mean", T.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", T.FLOAT, None)], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)]), path)


def main():
    gs = sys.argv[1]
    failures = 0

    def check(ok, what, got=""):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + what + ("" if ok else "\n     got: " + got))
        failures += not ok

    with tempfile.TemporaryDirectory() as d:
        m = os.path.join(d, "m.onnx")
        model(m)
        r = subprocess.run([gs, "rules", "explain", "conv-bn-fold", m], capture_output=True, text=True)
        lines = r.stdout.splitlines()
        check(r.returncode == 0 and len(lines) == 4, "one line per BatchNormalization node", r.stdout + r.stderr)
        want = [
            "node 'bn1' (BatchNormalization): matches: every statement and condition holds",
            "node 'bn2' (BatchNormalization): no match: bn2: attribute training_mode is not at its default and "
            "the pattern does not mention it (nor copies the node's attributes with {...})",
            "node 'bn3' (BatchNormalization): no match: node 'relu' (Relu) is not the Conv the pattern wants",
        ]
        for w in want:
            check(w in lines, w, r.stdout)
        bn4 = next((l for l in lines if l.startswith("node 'bn4'")), "")
        check(bn4.startswith("node 'bn4' (BatchNormalization): no match: condition 1, const(w, s, beta, mean, "
                             "var), is false:") and "mean = 'mean' float32[4]" in bn4
              and "w = 'w4' constant float32[4, 4, 3, 3]:" in bn4,
              "a failed condition is named with the values it saw", bn4)

        rules = os.path.join(d, "mine.json")
        with open(rules, "w") as f:
            json.dump({"rules": [{"name": "relu-after-bn", "match": "Relu(BatchNormalization(x, s, b, m, v){training_mode=t})",
                                  "where": ["rank(x, 3)"], "rewrite": "Relu(x)"}]}, f)
        r = subprocess.run([gs, "rules", "explain", "relu-after-bn", m, "--rules", rules], capture_output=True,
                           text=True)
        check(r.returncode == 0 and r.stdout.strip() ==
              "node 'relu' (Relu): no match: condition 1, rank(x, 3), is false: x = 'c2' float32[1, 4, 4, 4]",
              "a rule of one's own file, explained with --rules", r.stdout + r.stderr)
        dyn = os.path.join(d, "dyn.onnx")   # symbolic dims print as their names and expressions
        g = helper.make_graph([helper.make_node("Concat", ["x", "x"], ["c"], axis=1),
                               helper.make_node("Relu", ["c"], ["y"], name="relu")], "g",
                              [helper.make_tensor_value_info("x", T.FLOAT, ["batch", "seq", 4])],
                              [helper.make_tensor_value_info("y", T.FLOAT, None)])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)]), dyn)
        with open(rules, "w") as f:
            json.dump({"rules": [{"name": "relu-rank2", "match": "Relu(x)", "where": ["rank(x, 2)"],
                                  "rewrite": "x"}]}, f)
        r = subprocess.run([gs, "rules", "explain", "relu-rank2", dyn, "--rules", rules], capture_output=True,
                           text=True)
        check(r.returncode == 0 and r.stdout.strip() ==
              "node 'relu' (Relu): no match: condition 1, rank(x, 2), is false: x = 'c' float32[batch, 2*seq, 4]",
              "symbolic dims explained by name", r.stdout + r.stderr)
        r = subprocess.run([gs, "rules", "explain", "gelu-fuse", m], capture_output=True, text=True)
        check(r.returncode == 0 and "the rule applies at opsets 20 to 1000 and the model has opset 15" in r.stdout
              and "has no Mul node" in r.stdout, "a rule for other opsets and ops says so", r.stdout)
        r = subprocess.run([gs, "rules", "explain", "conv-bn-fld", m], capture_output=True, text=True)
        check(r.returncode == 2 and "no rule named 'conv-bn-fld' (did you mean 'conv-bn-fold'?)" in r.stderr,
              "an unknown rule is a usage error, with the nearest name",
              r.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
