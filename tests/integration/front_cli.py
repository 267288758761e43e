#!/usr/bin/python3
"""The command line as users of onnx-simplifier and onnxslim expect it:
- optimize prints a before/after table (ops whose count changed, nodes,
  parameters, model size) unless --quiet, and its numbers are the models';
- --report holds the version, paths, options, op histograms equal to the
  models' and each step's nodes as a JSON list;
- --input-shape and --dim fix input shapes before optimizing, with exit 2
  for an unknown input or dim, another rank or a contradicting dim;
- --disable-rule and --only-rule, exit 2 for a name that is no rule;
- every option in the --name=VALUE form; a flag given a value is refused;
- --profile NAME finds the profile; an unknown name lists the known ones;
- the progress line on a terminal is rewritten at most ~4 times a second;
- run --data on an empty folder writes its random inputs and outputs, and a
  second run compares against them; run --stats prints output statistics.
Usage: front_cli.py GRAPHSUB"""
import collections
import json
import os
import pty
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto as T, helper as h, numpy_helper as nh

GS = sys.argv[1]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def gs(*args, code=0):
    r = subprocess.run([GS, *args], capture_output=True, text=True, timeout=120)
    if r.returncode != code:
        print("  exit %d (wanted %d): %s %s" % (r.returncode, code, r.stdout[-400:], r.stderr[-400:]))
    return r


def model(path, batch="batch"):
    w = nh.from_array(np.arange(8, dtype=np.float32).reshape(4, 2), "w")
    nodes = [h.make_node("Relu", ["x"], ["r1"], name="relu1"),
             h.make_node("Relu", ["r1"], ["r2"], name="relu2"),
             h.make_node("Transpose", ["r2"], ["t1"], name="tr,1", perm=[1, 0]),
             h.make_node("Transpose", ["t1"], ["t2"], name="tr2", perm=[1, 0]),
             h.make_node("MatMul", ["t2", "w"], ["m"], name="mm"),
             h.make_node("Identity", ["m"], ["y"], name="id")]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [batch, 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, [batch, 2])], [w])
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), path)
    return path


def hist(path):
    return dict(collections.Counter(n.op_type for n in onnx.load(path).graph.node))


with tempfile.TemporaryDirectory() as tmp:
    src = model(os.path.join(tmp, "m.onnx"))
    out = os.path.join(tmp, "m.opt.onnx")
    rep = os.path.join(tmp, "r.json")

    # The table and the report.
    r = gs("optimize", src, "-o", out, "--report", rep)
    lines = r.stderr.splitlines()
    rows = {l.split()[0]: l.split()[1:] for l in lines if l.startswith("  ") and l.split()}
    check("before" in lines[0] and "after" in lines[0], "the table has a header: %r" % lines[:1])
    check(rows.get("Transpose") == ["2", "0"] and rows.get("Identity") == ["1", "0"]
          and rows.get("Relu") == ["2", "1"], "the table gives the ops whose count changed: %s" % rows)
    check("MatMul" not in rows, "an op whose count did not change is not listed")
    check(rows.get("nodes") == ["6", str(len(onnx.load(out).graph.node))], "nodes row: %s" % rows.get("nodes"))
    check(rows.get("parameters") == ["8", "8"], "parameters row: %s" % rows.get("parameters"))
    check(rows.get("model") and rows["model"][0] == "size", "model size row")
    check(lines[-1].startswith("graphsub: wrote "), "then the summary line")
    j = json.load(open(rep))
    check(j["graphsub_version"].count(".") == 2 and j["input"] == src and j["output"] == out,
          "report: version and paths")
    check(j["options"]["budget"] == 400 and j["options"]["level"] == 2, "report: options")
    check(j["ops_before"] == hist(src) and j["ops_after"] == hist(out),
          "report: op histograms are the models' (%s, %s)" % (j["ops_before"], j["ops_after"]))
    check(j["parameters_before"] == 8 and j["bytes_before"] == os.path.getsize(src)
          and j["bytes_after"] == os.path.getsize(out), "report: parameters and bytes")
    steps = j["applied"]
    check(steps and all(isinstance(s["nodes"], list) and all(isinstance(n, str) for n in s["nodes"])
                        for s in steps), "report: each step's nodes is a list of names")
    cancel = [s["nodes"] for s in steps if s["rule"] == "transpose-cancel"]
    check(cancel and sorted(cancel[0]) == ["tr,1", "tr2"], "a name holding a comma stays whole: %s" % cancel)
    check(gs("optimize", src, "-o", out, "--quiet").stderr == "", "--quiet prints nothing")

    # --name=VALUE for every option; a flag with a value is refused.
    r = gs("optimize", src, "-o", out, "--budget=3", "--alpha=1.2", "--time-limit=5", "--report=" + rep,
           "--opset=17", "-O2", "--quiet")
    j = json.load(open(rep))
    check(r.returncode == 0 and j["options"]["budget"] == 3 and j["options"]["alpha"] == 1.2
          and j["options"]["time_limit"] == 5, "--name=VALUE options: %s" % j["options"])
    r = gs("optimize", src, "-o", out, "--quiet=yes", code=2)
    check(r.returncode == 2 and "takes no value" in r.stderr, "--quiet=yes: %s" % r.stderr.strip())
    r = gs("verify", src, src, "--trials=2", "--seed=3")
    check(r.returncode == 0 and "2 trials" in r.stdout, "verify --trials=2: %s" % r.stdout.strip())

    # Input shapes.
    gs("optimize", src, "-o", out, "--input-shape", "x=3,4", "--quiet")
    m = onnx.load(out)
    check([d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim] == [3, 4]
          and [d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim] == [3, 2],
          "--input-shape x=3,4 fixes the input and the output follows")
    gs("optimize", src, "-o", out, "--dim=batch=5", "--verify", "--quiet")
    m = onnx.load(out)
    check([d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim] == [5, 4], "--dim batch=5 binds it")
    for args, needle in ((["--input-shape", "nope=1,4"], "no input named 'nope'"),
                         (["--input-shape", "x=1,4,1"], "rank"),
                         (["--input-shape", "x=1,5"], "dim 1 is 4"),
                         (["--input-shape", "x=a,b"], "--input-shape needs"),
                         (["--dim", "seq=3"], "'seq'"),
                         (["--disable-rule", "no-such-rule"], "no-such-rule"),
                         (["--only-rule", "no-such-rule"], "no-such-rule"),
                         (["--profile", "no-such-device"], "known: ")):
        r = gs("optimize", src, "-o", out, *args, code=2)
        check(r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1,
              "%s: exit 2, one line naming it: %s" % (" ".join(args), r.stderr.strip()))
    check(not os.path.exists(os.path.join(tmp, "m.opt.onnx.tmp")), "no temporary file left")

    # Rules by name.
    gs("optimize", src, "-o", out, "--report", rep, "--disable-rule", "transpose-cancel", "--quiet")
    check("transpose-cancel" not in json.load(open(rep))["rewrites"], "--disable-rule turns it off")
    gs("optimize", src, "-o", out, "--report", rep, "--only-rule=identity-elim", "--quiet")
    j = json.load(open(rep))
    check(list(j["rewrites"]) == ["identity-elim"] and j["options"]["only_rules"] == ["identity-elim"],
          "--only-rule applies that rule alone: %s" % j["rewrites"])

    # Profiles by name.
    gs("optimize", src, "-o", out, "--report", rep, "--profile", "onnxruntime-cpu", "--quiet")
    j = json.load(open(rep))
    check(j["options"]["profile"].endswith("onnxruntime-cpu.json") and j["opset_after"] == 23,
          "--profile onnxruntime-cpu is found (opset raised to 23): %s" % j["options"]["profile"])

    # The progress line on a terminal: a search of ~2 s rewrites it a few times a second at most.
    nodes, inits = [], []
    rng = np.random.default_rng(0)
    for r_ in range(4):
        srcv, parts = "x" if r_ == 0 else "s%d" % (r_ - 1), []
        for i in range(12):
            inits.append(nh.from_array(rng.random((64, 64), dtype=np.float32), "w%d_%d" % (r_, i)))
            nodes.append(h.make_node("MatMul", [srcv, inits[-1].name], ["m%d_%d" % (r_, i)]))
            parts.append("m%d_%d" % (r_, i))
        nodes.append(h.make_node("Sum", parts, ["s%d" % r_]))
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 64])],
                     [h.make_tensor_value_info("s3", T.FLOAT, [1, 64])], inits)
    wide = os.path.join(tmp, "wide.onnx")
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), wide)
    t0 = time.time()
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(GS, [GS, "optimize", wide, "-o", os.path.join(tmp, "wide.opt.onnx"), "--budget", "1000000",
                      "--time-limit", "2.5"])
    text = b""
    while True:
        try:
            d = os.read(fd, 65536)
        except OSError:
            break
        if not d:
            break
        text += d
    _, status = os.waitpid(pid, 0)
    elapsed = time.time() - t0
    n = text.count(b"graphsub: searching:")
    check(os.WEXITSTATUS(status) == 0 and len(text) < 8000, "progress output is small: %d bytes" % len(text))
    check(n <= 4 * elapsed + 2, "at most ~4 progress updates a second: %d in %.1f s" % (n, elapsed))
    check(n == 0 or b"region 1 of" in text, "progress gives regions of the whole graph: %r" % text[:200])

    # run --data on an empty folder, then again; --stats.
    data = os.path.join(tmp, "data")
    os.mkdir(data)
    r = gs("run", src, "--data", data, "--seed", "4")
    check(sorted(os.listdir(data)) == ["input_0.pb", "output_0.pb"], "run writes inputs and outputs: %s"
          % sorted(os.listdir(data)))
    r = gs("run", out, "--data", data)
    check(r.returncode == 0 and "ok" in r.stdout, "a second run compares with them: %s" % r.stdout.strip())
    r = gs("run", src, "--stats")
    stat_lines = [l for l in r.stdout.splitlines() if l.startswith("stats 0 'y'")]
    check(len(stat_lines) == 1 and "min" in stat_lines[0] and "NaN" in stat_lines[0], "run --stats: %s" % r.stdout)

if failures:
    print("%d failures" % len(failures))
    sys.exit(1)
