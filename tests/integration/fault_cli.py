#!/usr/bin/python3
"""Every command survives a failed allocation.

GRAPHSUB_FAIL_ALLOC=count makes graphsub print how many allocations went
through its context; GRAPHSUB_FAIL_ALLOC=N makes the Nth one fail. Either
way graphsub reports blocks not freed at exit (a leak, in any build). For each
command (optimize, rules check, run, verify, info, dot; optimize and run
also on a model with an If, run with test data files) the allocations are
counted on a good run, then each of them is failed in turn (the first ones,
then a stride over the rest: about 200 runs a command, 30 in a build with
sanitizers, where a run is several times slower): the command must
exit 4 (out of memory, not mistaken for bad input or a failed check), print
one line on stderr, end without a signal or a sanitizer report (under ASan, a
leak is one), and leave no output file behind.
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

NODE = "/usr/share/libonnx-testdata/data/node"
FIRST = 60      # allocations failed one by one first
RUNS = 200      # about this many runs per command,
SAN_RUNS = 30   # or this many when the binary is built with sanitizers (slower)


def commands(root, d):
    """(name, argv, output files) with the outputs in folder d."""
    cnn = os.path.join(root, "examples", "tiny_cnn.onnx")
    out = lambda name: os.path.join(d, name)  # noqa: E731
    return [
        ("optimize", ["optimize", cnn, "-o", out("o.onnx"), "--report", out("o.json"), "--verify"]),
        ("rules-check", ["rules", "check", os.path.join(root, "rules")]),
        ("rules-check-one", ["rules", "check", ONE_RULE]),
        ("run", ["run", cnn, "--seed", "1"]),
        ("verify", ["verify", cnn, cnn, "--trials", "2"]),
        ("info", ["info", cnn, "--json"]),
        ("dot", ["dot", cnn, "-o", out("o.dot")]),
        ("optimize-if", ["optimize", os.path.join(NODE, "test_if", "model.onnx"), "-o", out("if.onnx")]),
        ("run-data", ["run", os.path.join(NODE, "test_if", "model.onnx"),
                      "--data", os.path.join(NODE, "test_if", "test_data_set_0")]),
    ]


# One rule with a constant and an input: every allocation of its check can be failed.
ONE_RULE_TEXT = json.dumps({"rules": [{
    "name": "mul-mul-const", "class": "cleanup", "doc": "two constant scalings are one",
    "match": "Mul(Mul(x, a), b)", "where": ["const(a, b)"], "rewrite": "Mul(x, a * b)",
    "check": {"x": [2, 3], "a": [3], "b": [3]}}]})
ONE_RULE = None


def run(gs, argv, fail):
    env = dict(os.environ, GRAPHSUB_FAIL_ALLOC=str(fail))
    return subprocess.run([gs] + argv, capture_output=True, text=True, env=env, timeout=120)


def count(gs, argv):
    r = run(gs, argv, "count")
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    if r.returncode != 0 or not last.endswith(" allocations, 0 not freed"):
        return None, f"good run exits {r.returncode}: {r.stderr.strip()[-300:]}"
    return int(last.split()[-5]), None


def picks(total, runs):
    """The first allocations one by one, then a stride: about runs in all."""
    first = min(total, FIRST, runs // 3)
    stride = max(1, (total - first) // max(1, runs - first))
    return sorted(set(range(1, first + 1)) | set(range(first + 1, total + 1, stride)))


def failed_run(gs, d, argv, n):
    """Problems with the run failing allocation n, or None."""
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    r = run(gs, argv, n)
    err = r.stderr.strip().splitlines()
    problems = []
    if r.returncode != 4:
        problems.append(f"exit {r.returncode}")
    if len(err) != 1:
        problems.append(f"{len(err)} lines on stderr")
    if "Sanitizer" in r.stderr or "runtime error" in r.stderr:
        problems.append("sanitizer report")
    if os.listdir(d):
        problems.append(f"left {os.listdir(d)}")
    return f"{', '.join(problems)}: {' | '.join(err)[-300:]}" if problems else None


def one_command(gs, root, d, name):
    """Fail each allocation of one command in turn; (lines to print, failures)."""
    d = os.path.join(d, name)
    os.mkdir(d)
    argv = dict((c[0], c[1]) for c in commands(root, d))[name]
    total, err = count(gs, argv)
    if err:
        return [f"FAIL {name}: {err}"], 1
    lines = []
    with open(gs, "rb") as f:
        sanitized = b"__asan_init" in f.read()
    ns = picks(total, SAN_RUNS if sanitized else RUNS)
    for n in ns:
        msg = failed_run(gs, d, argv, n)
        if msg:
            lines.append(f"FAIL {name}, allocation {n} of {total}: {msg}")
    lines.append(f"{name}: {total} allocations, {len(ns)} failed in turn, {len(lines)} failures")
    return lines, len(lines) - 1


def main():
    global ONE_RULE
    gs, root = sys.argv[1], sys.argv[2]
    names = [c[0] for c in commands(root, "")]
    bad = 0
    with tempfile.TemporaryDirectory() as d, \
            concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        ONE_RULE = os.path.join(d, "one_rule.json")
        with open(ONE_RULE, "w") as f:
            f.write(ONE_RULE_TEXT)
        for lines, failures in pool.map(lambda name: one_command(gs, root, d, name), names):
            print("\n".join(lines))
            bad += failures
    print(f"fault injection: {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
