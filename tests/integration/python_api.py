#!/usr/bin/python3
"""The Python module (python/graphsub) over the shared library, with the onnx
package: optimize takes and returns a ModelProto, bytes or a path; the report
is a dict whose numbers agree with the models; rules are turned off by name
and given as JSON; input shapes are fixed; verify agrees and raises on a
difference; info reads ops, shapes and parameters; errors are graphsub.Error
with the status and the message; a progress callback sees whole-graph
figures and can stop the search. Usage: python_api.py PYTHON_DIR LIBGRAPHSUB.so
"""
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto as T, helper as h, numpy_helper

sys.path.insert(0, sys.argv[1])
os.environ["GRAPHSUB_LIB"] = sys.argv[2]
import graphsub   # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def model(batch="batch"):
    """x[batch, 4] -> Relu(Relu(x)) @ w -> Identity -> y, with a dead Transpose pair."""
    w = numpy_helper.from_array(np.arange(8, dtype=np.float32).reshape(4, 2), "w")
    nodes = [h.make_node("Relu", ["x"], ["r1"], name="relu1"),
             h.make_node("Relu", ["r1"], ["r2"], name="relu2"),
             h.make_node("Transpose", ["r2"], ["t1"], name="tr,1\\", perm=[1, 0]),
             h.make_node("Transpose", ["t1"], ["t2"], name="tr2", perm=[1, 0]),
             h.make_node("MatMul", ["t2", "w"], ["m"], name="mm"),
             h.make_node("Identity", ["m"], ["y"], name="id")]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [batch, 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, [batch, 2])], [w])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)])


def ops(m):
    return sorted(n.op_type for n in m.graph.node)


m = model()
check(graphsub.version().count(".") == 2, "version is MAJOR.MINOR.PATCH")

# ModelProto in, ModelProto out, with the report as a dict.
opt, rep = graphsub.optimize(m, report=True)
check(isinstance(opt, onnx.ModelProto), "optimize returns a ModelProto for a ModelProto")
check(ops(opt) == ["MatMul", "Relu"], "Relu pair, Transposes and Identity gone: %s" % ops(opt))
check(rep["nodes_before"] == 6 and rep["nodes_after"] == len(opt.graph.node),
      "report nodes: %s" % rep)
check(rep["cost_after"] <= rep["cost_before"], "cost does not rise")
check(all(isinstance(s["nodes"], list) and s["nodes"] for s in rep["applied"]), "steps list their nodes")
cancel = [sorted(s["nodes"]) for s in rep["applied"] if s["rule"] == "transpose-cancel"]
check(rep["widened"] == 0 and rep["search"]["tried"] >= 0, "report: widened and tried: %s" % rep)

# float16 computed in float32 under a profile that says so; verify at float16's precision.
def half(k):
    g = h.make_graph([h.make_node("Mul", ["x", "k"], ["y"])], "h", [h.make_tensor_value_info("x", T.FLOAT16, [8])],
                     [h.make_tensor_value_info("y", T.FLOAT16, [8])], [numpy_helper.from_array(np.array(k, np.float16), "k")])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 13)])


ort_profile = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "profiles", "onnxruntime-cpu.json")
_, rep16 = graphsub.optimize(half(2.0), profile=ort_profile, report=True)
check(rep16["widened"] == 1, "the onnxruntime-cpu profile widens the float16 Mul: %s" % rep16)
check(graphsub.verify(half(1.0), half(1.00390625))["ok"], "verify's default rtol for float16 is 1e-2")
check(not graphsub.verify(half(1.0), half(1.00390625), rtol=1e-3, check=False)["ok"], "rtol=1e-3 is kept")
check(cancel == [["tr,1\\", "tr2"]], "names with a comma and a backslash stay whole: %s" % cancel)
check(sum(rep["rewrites"].values()) == len(rep["applied"]), "rewrites count the steps")
onnx.checker.check_model(opt)

# bytes in, bytes out; a path in, a ModelProto out.
data = graphsub.optimize(m.SerializeToString())
check(isinstance(data, bytes) and ops(onnx.load_from_string(data)) == ["MatMul", "Relu"], "bytes round")
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "m.onnx")
    onnx.save(m, path)
    check(ops(graphsub.optimize(path)) == ["MatMul", "Relu"], "path in, ModelProto out")
    check(graphsub.info(path)["nodes"] == 6, "info of a path")

# -O0 is a round trip.
check(ops(graphsub.optimize(m, level=0)) == ops(m), "level 0 keeps every node")

# A rule turned off by name stays off; only_rules keeps one.
rep_names = set(rep["rewrites"])
check("transpose-cancel" in rep_names, "transpose-cancel fired by default: %s" % rep_names)
off, rep2 = graphsub.optimize(m, disable_rules=["transpose-cancel"], report=True)
check("transpose-cancel" not in rep2["rewrites"], "disable_rules turns the rule off")
check("Transpose" in ops(off), "a Transpose stays when the rule cancelling them is off: %s" % ops(off))
only, rep3 = graphsub.optimize(m, only_rules=["transpose-cancel"], report=True)
check(set(rep3["rewrites"]) <= {"transpose-cancel"} and rep3["rewrites"], "only_rules: %s" % rep3["rewrites"])
try:
    graphsub.optimize(m, disable_rules=["no-such-rule"])
    check(False, "an unknown rule name raises")
except graphsub.Error as e:
    check(e.status_name == "GS_ERR_ARG" and "no-such-rule" in e.message, "unknown rule: %s" % e)

# Rules from a JSON string: with no default rules, only it applies.
rule = '{"rules": [{"name": "double-relu", "doc": "Relu is idempotent.", "class": "cleanup", ' \
       '"match": "y = Relu(Relu(x))", "rewrite": "y = Relu(x)"}]}'
try:
    js, rep4 = graphsub.optimize(m, no_default_rules=True, rules_json=rule, report=True)
    check(rep4["rewrites"] == {"double-relu": 1}, "rules_json applies: %s" % rep4["rewrites"])
except graphsub.Error as e:
    check(False, "rules_json: %s" % e)
try:
    graphsub.optimize(m, rules_json="{not json")
    check(False, "bad rules_json raises")
except graphsub.Error as e:
    check(e.status_name in ("GS_ERR_RULE", "GS_ERR_PARSE") and "<rules_json>" in e.message,
          "bad rules_json names itself: %s" % e)

# A profile by name: the ONNX Runtime one raises the opset to 23.
prof = graphsub.optimize(m, profile="onnxruntime-cpu")
check([o.version for o in prof.opset_import if o.domain in ("", "ai.onnx")] == [23], "profile by name")
try:
    graphsub.optimize(m, profile="no-such-device")
    check(False, "an unknown profile raises")
except graphsub.Error as e:
    check(e.status_name == "GS_ERR_ARG" and "no-such-device" in e.message, "unknown profile: %s" % e)

# Input shapes fixed before optimizing.
fixed = graphsub.optimize(m, input_shapes={"x": [3, 4]})
dims = [d.dim_value for d in fixed.graph.input[0].type.tensor_type.shape.dim]
check(dims == [3, 4], "input_shapes fixes the input: %s" % dims)
ydims = [d.dim_value for d in fixed.graph.output[0].type.tensor_type.shape.dim]
check(ydims == [3, 2], "and the output follows: %s" % ydims)
bound = graphsub.optimize(m, dims={"batch": 5})
check([d.dim_value for d in bound.graph.input[0].type.tensor_type.shape.dim] == [5, 4], "dims binds batch")
for bad, what in (({"x": [3, 5]}, "a dim that contradicts the model"), ({"x": [3]}, "another rank"),
                  ({"nope": [1, 4]}, "an unknown input")):
    try:
        graphsub.optimize(m, input_shapes=bad)
        check(False, "%s raises" % what)
    except graphsub.Error as e:
        check(e.status_name == "GS_ERR_ARG", "%s: %s" % (what, e))
try:
    graphsub.optimize(m, dims={"seq": 2})
    check(False, "an unknown dim name raises")
except graphsub.Error as e:
    check("seq" in e.message, "unknown dim named: %s" % e)

# verify: the optimized model agrees; a changed weight does not.
res = graphsub.verify(m, opt)
check(res["ok"] and [o["name"] for o in res["outputs"]] == ["y"], "verify agrees: %s" % res)
check(res["trials"] == 2, "two trials run with batch unbound: %s" % res["trials"])
check(graphsub.verify(m, opt, dims={"batch": 3})["trials"] == 1, "one trial with batch bound")
bad = onnx.ModelProto()
bad.CopyFrom(m)
bad.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.ones((4, 2), np.float32), "w"))
try:
    graphsub.verify(m, bad)
    check(False, "verify raises on a difference")
except graphsub.Error as e:
    check(e.status_name == "GS_ERR_MISMATCH" and "'y'" in e.message, "mismatch: %s" % e)
res = graphsub.verify(m, bad, check=False)
check(not res["ok"] and not res["outputs"][0]["ok"], "check=False returns the difference")

# info.
inf = graphsub.info(m)
check(inf["ops"] == {"Identity": 1, "MatMul": 1, "Relu": 2, "Transpose": 2}, "info ops: %s" % inf["ops"])
check(inf["parameters"] == 8 and inf["opset"] == 17, "info parameters and opset: %s" % inf)
check(inf["inputs"] == [{"name": "x", "dtype": "float32", "shape": ["batch", 4]}], "info inputs: %s" % inf["inputs"])
check(inf["outputs"][0]["shape"] == ["batch", 2], "info outputs: %s" % inf["outputs"])

# Errors carry the status and the message.
try:
    graphsub.optimize(b"not a model")
    check(False, "garbage raises")
except graphsub.Error as e:
    check(e.status_name == "GS_ERR_PARSE" and e.message, "garbage: %s" % e)
try:
    graphsub.optimize(42)
    check(False, "a number is no model")
except TypeError:
    pass

# A progress callback sees whole-graph figures; returning True stops the search.
seen = []


def stop(p):
    seen.append(p)
    return True


chain = [h.make_node("Sigmoid" if i % 2 else "Tanh", ["x" if i == 0 else "t%d" % i], ["t%d" % (i + 1)])
         for i in range(400)]
g = h.make_graph(chain, "g", [h.make_tensor_value_info("x", T.FLOAT, [2, 3])],
                 [h.make_tensor_value_info("t400", T.FLOAT, [2, 3])])
big = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
graphsub.optimize(big, progress=stop, budget=50)
check(len(seen) == 1, "the search reports progress and stops when told: %d calls" % len(seen))
for p in seen:
    check(p["regions_total"] >= 2 and 0 <= p["regions_done"] < p["regions_total"] and p["expanded"] >= 1,
          "progress figures: %s" % p)
    check(p["best_cost"] <= p["cost_start"] + 1e-12, "best cost never above the start: %s" % p)

# The search algorithms: each keeps the model's meaning; an unknown one is refused.
for algo in ("ocggs", "ocggs-sample"):
    out, r = graphsub.optimize(big, search=algo, search_seed=1, budget=50, report=True)
    check(graphsub.verify(big, out)["ok"], "search=%s verifies" % algo)
    check(r["cost_after"] <= r["cost_before"] + 1e-12, "search=%s: cost %s -> %s" % (algo, r["cost_before"], r["cost_after"]))
try:
    graphsub.optimize(big, search="greedy")
    check(False, "an unknown search is refused")
except ValueError:
    pass

if failures:
    print("%d failures" % len(failures))
    sys.exit(1)
print("python module: all checks passed")
