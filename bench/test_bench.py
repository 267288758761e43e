#!/usr/bin/python3
"""Checks of bench/run's own arithmetic that need neither PyTorch nor ONNX
Runtime: the shape-arithmetic count, --merge, the ORT inputs of a
dynamic model's point (only when Node.js is present), the node orders of
bench/order_control, and rows' intervals over their processes. Exit 0 when
every check holds.

usage: bench/test_bench.py
"""
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ophist  # noqa: E402


def load_run(script="run"):
    """A script of bench/ (run, order_control) as a module."""
    loader = importlib.machinery.SourceFileLoader("bench_" + script, os.path.join(HERE, script))
    spec = importlib.util.spec_from_loader("bench_" + script, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def tiny_model(path):
    """x [b, s, 4] reshaped to [b, s * 4]: Shape, two Gathers, a Mul, two
    Unsqueezes and a Concat compute the target shape (7 nodes); an Add of two
    initializers and the Constant do not count, nor does the Reshape or the
    Relu of data."""
    i = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.int64), name)
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Constant", [], ["zero"], value=i("zero", 0)),
        helper.make_node("Gather", ["sh", "zero"], ["b"], axis=0),
        helper.make_node("Gather", ["sh", "one"], ["s"], axis=0),
        helper.make_node("Add", ["one", "one"], ["two"]),
        helper.make_node("Mul", ["s", "four"], ["s4"]),
        helper.make_node("Unsqueeze", ["b", "axes"], ["b1"]),
        helper.make_node("Unsqueeze", ["s4", "axes"], ["s41"]),
        helper.make_node("Concat", ["b1", "s41"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["r"]),
        helper.make_node("Relu", ["r"], ["y"]),
    ]
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", None]),
                           helper.make_tensor_value_info("two", TensorProto.INT64, [])],
                          [i("one", 1), i("four", 4), i("axes", [0])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def check(cond, what):
    if not cond:
        sys.exit(f"test_bench: FAILED: {what}")
    print(f"ok  {what}")


def main():
    run = load_run()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tiny.onnx")
        tiny_model(path)
        sa = run.shape_arithmetic(path)
        check(sa["nodes"] == 7 and sa["ops"] == {"Gather": 2, "Unsqueeze": 2, "Shape": 1, "Mul": 1, "Concat": 1},
              f"shape arithmetic of the tiny model: {sa}")

        # an If reading a shape-computed condition: its output is data, not shape arithmetic
        branch = lambda name: helper.make_graph([helper.make_node("Relu", ["x"], [name])], name, [],
                                                [helper.make_tensor_value_info(name, TensorProto.FLOAT, None)])
        g = helper.make_graph([helper.make_node("Shape", ["x"], ["sh"]), helper.make_node("ReduceSum", ["sh"], ["n"]),
                               helper.make_node("Greater", ["n", "k"], ["c"]),
                               helper.make_node("If", ["c"], ["y0"], then_branch=branch("t"), else_branch=branch("e")),
                               helper.make_node("Relu", ["y0"], ["y"])], "cfsa",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
                              [numpy_helper.from_array(np.array(8, np.int64), "k")])
        cfsa = os.path.join(tmp, "cfsa.onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), cfsa)
        sa = run.shape_arithmetic(cfsa)
        check(sa["ops"] == {"Shape": 1, "ReduceSum": 1, "Greater": 1},
              f"an If's output (and what reads it) is not shape arithmetic: {sa}")

        # a point's inputs for graphsub run: symbolic dims from the point, fixed integers, ranges
        g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "pt",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3]),
                               helper.make_tensor_value_info("sr", TensorProto.INT64, []),
                               helper.make_tensor_value_info("ids", TensorProto.INT32, ["batch", "seq"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])])
        pt = os.path.join(tmp, "pt.onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), pt)
        ins = run.point_inputs(pt, {"dims": {"batch": 2, "seq": 5}, "values": {"sr": 16000}, "high": {"ids": 3}})
        check(ins["x"].shape == (2, 3) and ins["x"].dtype == np.float32 and -1 <= ins["x"].min() and
              ins["x"].max() < 1 and ins["sr"].shape == () and ins["sr"].dtype == np.int64 and
              int(ins["sr"]) == 16000 and ins["ids"].shape == (2, 5) and ins["ids"].dtype == np.int32 and
              set(np.unique(ins["ids"])) <= {0, 1, 2},
              f"a point's interpreter inputs: {({k: (v.shape, v.dtype) for k, v in ins.items()})}")

        old = {"machine": {"commit": "old"}, "results": [{"model": m} for m in ("a", "d/p", "d/q", "b")]}
        js = os.path.join(tmp, "results.json")
        with open(js, "w") as f:
            json.dump(old, f)
        new = [{"model": "d/p", "x": 1}, {"model": "d/q", "x": 1}, {"model": "c"}]
        rows, info = run.merged(js, new, {"commit": "new", "date": "today", "pairs": 3})
        check([r["model"] for r in rows] == ["a", "d/p", "d/q", "b", "c"] and rows[1].get("x") == 1 and
              rows[1]["run"]["commit"] == "new" and "run" not in rows[0] and info["commit"] == "old",
              "--merge replaces a model's rows in place and appends new models")
        old["machine"]["cpu"] = "This CPU"
        with open(js, "w") as f:
            json.dump(old, f)
        here = {"commit": "new", "date": "today", "pairs": 3, "cpu": "This CPU"}
        same, _ = run.merged(js, [{"model": "b", "ort": {"pairs": 3}}], dict(here))
        other, _ = run.merged(js, [{"model": "b", "ort": {"pairs": 3}}], dict(here, cpu="Other CPU"))
        check("cpu" not in same[3]["run"] and other[3]["run"].get("cpu") == "Other CPU" and
              run.row_name(other[3], here) == "b (new, today, Other CPU)",
              "a row merged from a run on another CPU names that CPU; one from the file's own does not")

        # every second process creates the sessions the other way round
        check("--optimized-first" in run.ort_cmd("a.onnx", "b.onnx", 3, opt_first=True) and
              "--optimized-first" not in run.ort_cmd("a.onnx", "b.onnx", 3),
              "ort_cmd asks for the second model's session first only when told")
        seen, real_ort, real_processes = [], run.ort, run.PROCESSES
        one = {"graphsub": [{"level": "all", "ratio": 1.0, "ratios": [1.0], "orig_ms": 1, "opt_ms": 1}]}
        run.ort = lambda *a, opt_first=False, **k: seen.append(opt_first) or json.loads(json.dumps(one))
        run.PROCESSES = 4
        try:
            pooled4 = run.ort_checked("a.onnx", "b.onnx", 3, 1)
        finally:
            run.ort, run.PROCESSES = real_ort, real_processes
        check(seen == [False, True, False, True] and pooled4["processes"] == 4,
              f"four processes alternate which session is created first: {seen}")

        # a row whose one process's interval lies wholly above 1 is timed again, one around 1 is not
        check(run.above_one({"graphsub": [{"level": "all", "ratio": 1.01, "ratios": [1.008, 1.01, 1.012, 1.009]}]})
              and not run.above_one({"graphsub": [{"level": "all", "ratio": 1.0, "ratios": [0.99, 1.0, 1.01, 1.005]}]}),
              "above_one: an interval wholly above 1 asks for more processes")

        # a level at which ORT refuses the original is shown, and is not graphsub's failure
        res = {"graphsub": [{"level": "disabled", "ratio": 0.9, "ratios": [0.9]},
                            {"level": "all", "error": "original refused at all: x", "original_refused": True}],
               "vs_ort_basic": [{"level": "disabled", "ratio": 1.0, "ratios": [1.0]}]}
        check(run.ort_error(res) is None and run.slowest(res) == 1.0 and
              run.ratio_cell(res, "graphsub", "all") == "refused" and
              run.ratio_cell(res, "graphsub", "disabled") == "0.900" and
              run.ratio_cell(res, "ort_basic", "all") == "n/a",
              "a level whose original ORT refuses reads 'refused' and fails nothing")
        res["graphsub"][0] = {"level": "disabled", "error": "graphsub's output refused"}
        check(run.ort_error(res) == "graphsub's output refused", "a refused output of graphsub's is a failure")

        # runs of one comparison pooled: ratios joined, their median, the times' median
        runs = [{"graphsub": [{"level": "all", "ratio": 1.1, "ratios": [1.0, 1.1, 1.2], "orig_ms": 10, "opt_ms": 11}]},
                {"graphsub": [{"level": "all", "ratio": 0.9, "ratios": [0.8, 0.9, 0.95], "orig_ms": 12, "opt_ms": 10}]},
                {"graphsub": [{"level": "all", "ratio": 1.0, "ratios": [1.0], "orig_ms": 11, "opt_ms": 11}]}]
        pr = run.pooled(runs)["graphsub"][0]
        check(pr["ratios"] == [1.0, 1.1, 1.2, 0.8, 0.9, 0.95, 1.0] and pr["ratio"] == 1.0 and pr["orig_ms"] == 11 and
              pr["opt_ms"] == 11, f"runs pooled: {pr}")

        # op histograms count If bodies; the gaps are the op types the peer has fewer of or alone
        then = helper.make_graph([helper.make_node("Identity", ["x"], ["t"]), helper.make_node("Cast", ["t"], ["u"], to=1)],
                                 "then", [], [helper.make_tensor_value_info("u", TensorProto.FLOAT, None)])
        other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                                  [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
        g = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)], "cf",
                              [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                               helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
        cf = os.path.join(tmp, "cf.onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), cf)
        h = ophist.histogram(cf)
        check(h == {"If": 1, "Identity": 2, "Cast": 1}, f"op histogram with an If's bodies: {h}")
        gp = ophist.gaps(h, {"If": 1, "Identity": 1, "Cast": 1, "com.microsoft:FusedConv": 2})
        check(gp == {"Identity": [2, 1], "com.microsoft:FusedConv": [0, 2]} and
              ophist.fmt_gaps(gp) == "Identity 2->1, com.microsoft:FusedConv 0->2" and
              ophist.fmt_gaps(ophist.gaps(h, h)) == "none" and
              ophist.gaps({"Cast": 1}, {"Pad": 1, "Constant": 2}, {"Pad": 1, "Cast": 1}) == {"Cast": [1, 0]} and
              ophist.gaps({"Concat": 4, "Split": 2}, {"Concat": 1}, {"Concat": 1}) == {},
              f"gaps against a peer's histogram: {gp}")

        if shutil.which("node"):
            js_check = (
                "const { feeds, parseAssignments } = require(process.argv[1]);"
                "class T { constructor(type, data, dims) { Object.assign(this, { type, data, dims }); } }"
                "const s = { inputNames: ['ids', 'past', 'sr'], inputMetadata: ["
                "  { name: 'ids', type: 'int64', shape: ['batch', 'seq'] },"
                "  { name: 'past', type: 'float32', shape: ['batch', 2, 'past', 4] },"
                "  { name: 'sr', type: 'int64', shape: [] }] };"
                "const f = feeds({ Tensor: T }, s, 1, { dims: parseAssignments('batch=2,seq=3,past=0'),"
                "                                         high: { ids: 2 }, values: parseAssignments('sr=16000') });"
                "let missing = '';"
                "try { feeds({ Tensor: T }, s, 1, { dims: { batch: 1, seq: 1 } }); } catch (e) { missing = e.message; }"
                "console.log(JSON.stringify({ ids: f.ids.dims, past: f.past.dims, sr: String(f.sr.data[0]),"
                "  srdims: f.sr.dims, small: [...f.ids.data].every(v => v === 0n || v === 1n), missing }));")
            r = subprocess.run(["node", "-e", js_check, os.path.join(HERE, "ort_common.js")],
                               capture_output=True, text=True)
            out = json.loads(r.stdout) if r.returncode == 0 else {}
            check(out.get("ids") == [2, 3] and out.get("past") == [2, 2, 0, 4] and out.get("small") and
                  out.get("sr") == "16000" and out.get("srdims") == [] and "'past'" in out.get("missing", ""),
                  f"ORT inputs take the point's dims, ranges and fixed values; a dim without a value is an error "
                  f"{out or r.stderr}")


def check_orders():
    """bench/order_control's two orders of the tiny model: permutations that stay topological;
    consts-first moves the Add of two initializers (and nothing reading data) to the front;
    readers puts each node right before its first reader."""
    oc = load_run("order_control")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tiny.onnx")
        tiny_model(path)
        m = onnx.load(path)
    for how in ("consts-first", "readers"):
        r = oc.reordered(m, how)
        same = sorted(n.SerializeToString() for n in r.graph.node) == sorted(n.SerializeToString() for n in m.graph.node)
        check(same and oc.is_topological(list(r.graph.node), r.graph), f"{how}: a topological permutation")
    ops = [n.op_type for n in oc.reordered(m, "consts-first").graph.node]
    check(ops[:2] == ["Constant", "Add"] and ops[2] == "Shape", f"consts-first: {ops}")
    ops = [n.op_type for n in oc.reordered(m, "readers").graph.node]
    check(ops[-2:] == ["Relu", "Add"] and ops.index("Constant") == ops.index("Gather") - 1, f"readers: {ops}")


def check_intervals():
    """A pooled row's ratios go back to their processes, and its interval resamples processes: of
    three processes of 20 pairs, two near 0.99 and one near 1.05, the pairs pooled as one process
    put the median at 0.99 every time, while drawing the processes reaches the slow one's 1.05; a
    row timed once keeps the pairs-only interval."""
    run = load_run()
    low = [0.99 + 0.001 * (i % 5) for i in range(20)]
    xs = low + low + [1.05 + 0.001 * (i % 5) for i in range(20)]
    pooled_row = {"graphsub": [{"level": "all", "ratio": 0.99, "ratios": xs}], "pairs": 60, "processes": 3}
    once = {"graphsub": [{"level": "all", "ratio": 0.99, "ratios": xs}], "pairs": 60}
    check(run.process_groups(pooled_row, xs) == [xs[:20], xs[20:40], xs[40:]] and
          run.process_groups(once, xs) == [xs], "a pooled row's ratios split back into its three processes")
    lo3, hi3 = run.model_interval(pooled_row, "graphsub", "all")
    lo1, hi1 = run.model_interval(once, "graphsub", "all")
    check(hi3 >= 1.04 and hi1 < 1.0 and lo3 < 1.0,
          f"a disagreeing process widens the interval: {lo3:.3f}-{hi3:.3f} against {lo1:.3f}-{hi1:.3f}")

if __name__ == "__main__":
    main()
    check_orders()
    check_intervals()
