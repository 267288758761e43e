#!/usr/bin/python3
"""The command line of the search algorithms and the rule generator:
optimize --search taso|ocggs|ocggs-sample each verify against the original,
report their algorithm and the rewrites tried, and (the sampling one) give
the same output for the same --search-seed; a bad --search or --search-seed
is a usage error (exit 2) with nothing written. rules generate writes a rule
file that rules check passes and optimize loads; a bad op or size is exit 2.

usage: search_algos.py GRAPHSUB SRCDIR"""
import json
import os
import subprocess
import sys
import tempfile


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True)


def main():
    exe, src = sys.argv[1], sys.argv[2]
    model = os.path.join(src, "examples", "tiny_cnn.onnx")
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        outs = {}
        for algo in ("taso", "ocggs", "ocggs-sample"):
            out, rep = os.path.join(tmp, algo + ".onnx"), os.path.join(tmp, algo + ".json")
            p = run(exe, "optimize", model, "-o", out, "--search", algo, "--verify", "--report", rep, "--quiet")
            check(p.returncode == 0, f"--search {algo} verifies (exit {p.returncode} {p.stderr.strip()})")
            if p.returncode == 0:
                s = json.load(open(rep))["search"]
                check(s["algorithm"] == algo and s["tried"] >= s["candidates"] > 0,
                      f"--search {algo}: report says {s['algorithm']}, {s['tried']} tried")
                outs[algo] = open(out, "rb").read()
        again = os.path.join(tmp, "again.onnx")
        p = run(exe, "optimize", model, "-o", again, "--search", "ocggs-sample", "--quiet")
        check(p.returncode == 0 and open(again, "rb").read() == outs.get("ocggs-sample"),
              "ocggs-sample: the same seed, the same output")
        for args, what in ((["--search", "greedy"], "unknown --search"),
                           (["--search-seed", "-1"], "negative --search-seed"),
                           (["--search"], "--search without a value")):
            bad = os.path.join(tmp, "bad.onnx")
            p = run(exe, "optimize", model, "-o", bad, *args)
            check(p.returncode == 2 and "--search" in p.stderr and not os.path.exists(bad),
                  f"{what}: exit {p.returncode}, {p.stderr.strip()[:80]}")

        gen = os.path.join(tmp, "gen.json")
        p = run(exe, "rules", "generate", "--ops", "Add,Mul,Neg", "--max-nodes", "2", "--out", gen)
        check(p.returncode == 0 and "written" in p.stderr, f"rules generate (exit {p.returncode})")
        if p.returncode == 0:
            n = len(json.load(open(gen))["rules"])
            p = run(exe, "rules", "check", gen)
            check(p.returncode == 0 and p.stdout.count("\nok") + p.stdout.startswith("ok") == n,
                  f"rules check passes the {n} generated rules")
            p = run(exe, "optimize", model, "-o", os.path.join(tmp, "gen.onnx"), "--rules", gen, "--quiet")
            check(p.returncode == 0, "optimize loads the generated rules")
        for args, what in ((["--ops", "Add,Conv", "--max-nodes", "2"], "an op it does not enumerate"),
                           (["--ops", "Add", "--max-nodes", "7"], "--max-nodes past 4"),
                           (["--max-nodes", "2"], "no --ops")):
            p = run(exe, "rules", "generate", *args)
            check(p.returncode == 2 and p.stderr.startswith("graphsub rules generate:"),
                  f"rules generate, {what}: exit {p.returncode}")
    print(f"search_algos: {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
