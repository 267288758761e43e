#!/usr/bin/python3
"""`graphsub rules check` on the rule library prints ok for every rule;
a deliberately wrong rule (Conv+BatchNormalization fold with the sign of the
mean flipped) is caught (FAILED, exit 1, naming the input range; more wrong
rules in wrong_rules.py), and so is one whose replacement does
not run (a Gather pushed into a ReduceMean whose positive axis then no longer
exists); a rule file with a syntax error is
refused whole with file, rule and position (exit 3)."""
import os
import subprocess
import sys
import tempfile


def run(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def main():
    gs, root = sys.argv[1], sys.argv[2]
    ok = True
    rc, out, err = run(gs, "rules", "check", "--strict", os.path.join(root, "rules"), os.path.join(root, "rules", "targets"))
    lines = [l for l in out.splitlines() if l and not l.startswith("no rule")]
    bad = [l for l in lines if not l.startswith("ok")]
    print(f"library: {len(lines) - len(bad)} of {len(lines)} rules ok, exit {rc}")
    for l in bad:
        print("  " + l)
    ok &= rc == 0 and not bad and len(lines) > 0
    rc, out, err = run(gs, "rules", "list", os.path.join(root, "rules", "targets", "onnxruntime-cpu.json"))
    lower = rc == 0 and " lower " in out
    print(("ok  " if lower else "FAIL") + f" a rule of class lower loads and lists as such: {out.strip()[:60]}")
    ok &= lower
    rc, out, err = run(gs, "rules", "check", os.path.join(root, "tests/data/bad_bn_rule.json"))
    caught = rc == 1 and "FAILED" in out and "conv-bn-fold-wrong-sign" in out and "inputs drawn from [-1, 1)" in out
    print(("ok  " if caught else "FAIL") + f" wrong BN fold caught, naming the input range: {out.strip()}")
    ok &= caught
    rc, out, err = run(gs, "rules", "check", os.path.join(root, "tests/data/bad_gather_rule.json"))
    caught = rc == 1 and "FAILED" in out and "does not run" in out
    print(("ok  " if caught else "FAIL") + f" replacement that does not run caught: {out.strip()}")
    ok &= caught
    path = os.path.join(root, "tests/data/broken_rules.json")
    rc, out, err = run(gs, "rules", "list", path)
    refused = rc == 3 and "broken_rules.json" in err and "'broken'" in err and "column" in err and not out
    print(("ok  " if refused else "FAIL") + f" broken file refused: {err.strip()}")
    ok &= refused
    with tempfile.TemporaryDirectory() as d:   # found by fuzzing: nesting once overflowed the stack
        deep = os.path.join(d, "deep.json")
        with open(deep, "w") as f:
            f.write('{"rules": [{"name": "a", "match": "' + "(" * 5000 + "x" + ")" * 5000 + '", "rewrite": "x"}]}')
        rc, out, err = run(gs, "rules", "list", deep)
        nested = rc == 3 and "nested too deeply" in err
        print(("ok  " if nested else "FAIL") + f" deeply nested pattern refused: {err.strip()}")
        ok &= nested
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
