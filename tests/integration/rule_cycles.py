#!/usr/bin/python3
"""Rule sets that never reach a fixed point end with exit 3 naming the rules.

tests/data/rule_cycles/ holds cleanup rules that undo each other (cycle.json),
a cleanup rule and a lowering rule whose rewrite holds their own match
(grow.json, lower_grow.json) and a search rule of that kind
(search_grow.json). Each runs under a 1 GiB address-space limit (not in a
sanitizer build) and a 60-second timeout with a time limit far away
(--time-limit 86400), so only the growth bound can end them: cleanup and
lowering must fail with exit 3 naming the file and the rules within seconds,
leaving no output; the search rule is bounded by the budget, and optimize
succeeds. With --time-limit 0 each cleanup phase stops after its first pass
(exit 0). The same model with the default rules alone converges (exit 0).

usage: rule_cycles.py GRAPHSUB SRCDIR
"""
import os
import resource
import subprocess
import sys
import tempfile
import time

import onnx
from onnx import TensorProto, helper


def limiter(gs):
    """A 1 GiB address-space limit, except for an AddressSanitizer build (its
    shadow memory reserves terabytes of address space)."""
    with open(gs, "rb") as f:
        if b"__asan_init" in f.read():
            return None
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def model(path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    nodes = [helper.make_node("Add", ["x", "x"], ["a"], name="add"),
             helper.make_node("Relu", ["a"], ["b"], name="relu1"),
             helper.make_node("Relu", ["b"], ["c"], name="relu2"),
             helper.make_node("Sigmoid", ["c"], ["y"], name="sig")]
    g = helper.make_graph(nodes, "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def main():
    gs, src = sys.argv[1], sys.argv[2]
    limit = limiter(gs)
    data = os.path.join(src, "tests", "data", "rule_cycles")
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + what)
        failures += not ok

    with tempfile.TemporaryDirectory() as d:
        m = os.path.join(d, "m.onnx")
        model(m)
        cases = [("cycle.json", 3, ["relu-as-max", "max-as-relu", "cleanup rules do not reach a fixed point"]),
                 ("grow.json", 3, ["relu-twice", "cleanup rules do not reach a fixed point"]),
                 ("lower_grow.json", 3, ["lower-relu-twice", "lowering rules do not reach a fixed point"]),
                 ("search_grow.json", 0, [])]
        for name, want_rc, words in cases:
            rules = os.path.join(data, name)
            out = os.path.join(d, name + ".onnx")
            for level in ("-O1", "-O2"):
                if want_rc == 0 and level == "-O1":
                    continue
                t0 = time.monotonic()
                try:
                    r = subprocess.run([gs, "optimize", m, "-o", out, "--no-default-rules", "--rules", rules,
                                        "--time-limit", "86400", "--budget", "200", "--alpha", "10", level],
                                       capture_output=True, text=True, timeout=60, preexec_fn=limit)
                except subprocess.TimeoutExpired:
                    check(False, f"{name} {level}: still running after 60 s")
                    continue
                secs = time.monotonic() - t0
                err = r.stderr.strip()
                check(r.returncode == want_rc, f"{name} {level}: exit {r.returncode} (want {want_rc}) in {secs:.2f} s: {err[:300]}")
                if want_rc:
                    check(all(w in err for w in words) and name in err and len(err.splitlines()) == 1,
                          f"{name} {level}: one line naming the file and the rules")
                    check(not os.path.exists(out), f"{name} {level}: no output written")
                if os.path.exists(out):
                    os.remove(out)
        # a short time limit ends each cleanup phase after its first pass, with a valid graph
        t0 = time.monotonic()
        r = subprocess.run([gs, "optimize", m, "-o", os.path.join(d, "t0.onnx"), "--no-default-rules", "--rules",
                            os.path.join(data, "cycle.json"), "--time-limit", "0", "-O1"],
                           capture_output=True, text=True, timeout=60, preexec_fn=limit)
        check(r.returncode == 0 and time.monotonic() - t0 < 30,
              f"cycle.json with --time-limit 0: exit {r.returncode} {r.stderr.strip()[:200]}")
        r = subprocess.run([gs, "optimize", m, "-o", os.path.join(d, "dflt.onnx"), "--time-limit", "86400"],
                           capture_output=True, text=True, timeout=60, preexec_fn=limit)
        check(r.returncode == 0, f"default rules converge: exit {r.returncode} {r.stderr.strip()[:200]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
