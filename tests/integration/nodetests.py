#!/usr/bin/python3
"""ONNX's backend node tests through `graphsub run --data`.

Every /usr/share/libonnx-testdata/data/node/test_*/ is run against its
test_data_set_0. Outcomes:
  pass          outputs match
  FAIL          a mismatch or an error for an op the interpreter claims
  unsupported   a kernel reports a mode it does not support (exit 3, "not supported")
  not claimed   the interpreter has no kernel for an op of the test (exit 3, "no kernel")
Prints counts per op and a total; exits 1 on any FAIL, or when a test of an
op in CLAIMED does not pass (those kernels cover every test of theirs here).
Usage: nodetests.py GRAPHSUB [PATTERN]   (PATTERN: substring of the test name)
"""
import collections
import concurrent.futures
import os
import subprocess
import sys

import onnx

NODE = "/usr/share/libonnx-testdata/data/node"

# Test data that disagrees with its own model: CastLike's "like" input is
# declared [3, 4] and stored as [1] (only its type matters to the op).
# `graphsub run --data` refuses such a file (exit 3 naming it); these tests
# must give exactly that refusal.
BAD_DATA = {"test_castlike_BFLOAT16_to_FLOAT", "test_castlike_BFLOAT16_to_FLOAT_expanded",
            "test_castlike_FLOAT_to_BFLOAT16", "test_castlike_FLOAT_to_BFLOAT16_expanded"}

# Ops every node test of which must pass (each kernel here was checked against all of its tests).
CLAIMED = {"QuantizeLinear", "DequantizeLinear", "NonZero", "TopK", "GatherND", "NonMaxSuppression", "RoiAlign",
           "LSTM", "GRU", "RNN", "GridSample", "Hardmax", "LRN", "MeanVarianceNormalization", "Shrink",
           "DepthToSpace", "SpaceToDepth", "OneHot", "EyeLike", "Compress", "ReverseSequence", "ReduceLogSum", "Resize",
           "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearMatMul", "QLinearConv"}


def classify(graphsub, test):
    d = os.path.join(NODE, test)
    r = subprocess.run([graphsub, "run", os.path.join(d, "model.onnx"), "--data",
                        os.path.join(d, "test_data_set_0")], capture_output=True, text=True)
    text = (r.stdout + r.stderr).strip()
    if test in BAD_DATA:
        refused = r.returncode == 3 and "input 'like' is declared of rank 2" in text
        return ("pass", "") if refused else ("FAIL", f"bad test data not refused: exit {r.returncode}: {text}")
    if r.returncode == 0:
        return "pass", ""
    if r.returncode == 3 and "no kernel" in text:
        return "not claimed", text.splitlines()[-1]
    if r.returncode == 3 and "not supported" in text:
        return "unsupported", text.splitlines()[-1]
    return "FAIL", f"exit {r.returncode}: {text[-400:]}"


def op_of(test):
    m = onnx.load(os.path.join(NODE, test, "model.onnx"), load_external_data=False)
    ops = sorted({n.op_type for n in m.graph.node})
    return ops[0] if len(ops) == 1 else "+".join(ops[:3]) + ("+..." if len(ops) > 3 else "")


def main():
    graphsub = sys.argv[1]
    pattern = sys.argv[2] if len(sys.argv) > 2 else ""
    tests = sorted(t for t in os.listdir(NODE)
                   if pattern in t and os.path.exists(os.path.join(NODE, t, "model.onnx")))
    per_op = collections.defaultdict(collections.Counter)
    total = collections.Counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda t: classify(graphsub, t), tests))
    for test, (status, why) in zip(tests, results):
        per_op[op_of(test)][status] += 1
        total[status] += 1
        if status == "FAIL":
            print(f"FAIL {test}: {why}")
        elif status == "unsupported":
            print(f"unsupported {test}: {why}")
    print(f"\n{'op':40} {'pass':>5} {'FAIL':>5} {'unsup':>6} {'not claimed':>12}")
    for op in sorted(per_op):
        c = per_op[op]
        if c["pass"] or c["FAIL"] or c["unsupported"]:
            print(f"{op:40} {c['pass']:5} {c['FAIL']:5} {c['unsupported']:6} {c['not claimed']:12}")
    unclaimed = sorted(op for op, c in per_op.items() if c["not claimed"] and not c["pass"])
    print(f"\nnot claimed ({len(unclaimed)} ops): {' '.join(unclaimed)}")
    print(f"node tests: {total['pass']} passed, {total['FAIL']} failed, "
          f"{total['unsupported']} unsupported, {total['not claimed']} not claimed, of {len(tests)}")
    missed = sorted(op for op in CLAIMED if set(per_op[op]) - {"pass"} or not per_op[op]["pass"])
    if missed and not pattern:
        print(f"FAIL: not every test passes for {' '.join(missed)}")
    return 1 if total["FAIL"] or (missed and not pattern) else 0


if __name__ == "__main__":
    sys.exit(main())
