#!/usr/bin/python3
"""`rules check` leaves no hole a wrong rule can pass through.

- `range` applies to every variable, graph inputs too: Sqrt(x * x) -> x
  passes with "range": [0.5, 4] on x and fails without it.
- A NaN on one side only is a mismatch (Sqrt(Neg(Abs(x))) -> Abs(x) fails,
  tests/data/wrong_rules.json).
- Each rule is checked at a second size (every dim > 1 one larger) and with
  one input broadcast: a mean over 4 written as a sum times 0.25 fails at
  the second size, (x + y) - y -> x fails when x broadcasts against y.
- `--strict` makes a rule that could not be checked an error (exit 1); the
  library passes `rules check --strict` (rules_check.py).

usage: rules_check_holes.py GRAPHSUB SOURCE_ROOT
"""
import os
import subprocess
import sys


def main():
    gs, root = sys.argv[1], sys.argv[2]
    data = os.path.join(root, "tests", "data")
    failures = 0

    def check(ok, what, out=""):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + what + ("" if ok else "\n     " + out.strip().replace("\n", "\n     ")))
        failures += not ok

    def rules_check(*args):
        r = subprocess.run([gs, "rules", "check", *args], capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout + r.stderr

    rc, out = rules_check(os.path.join(data, "rules", "check", "range.json"))
    check(rc == 0 and "ok         sqrt-square-positive" in out, "a positive-only rule passes with range on its input", out)
    rc, out = rules_check(os.path.join(data, "rules", "check", "norange.json"))
    check(rc == 1 and "FAILED     sqrt-square-unranged" in out, "the same rule fails without the range", out)
    rc, out = rules_check(os.path.join(data, "wrong_rules.json"))
    check(rc == 1 and "FAILED     sqrt-neg-abs-wrong: worst difference inf" in out,
          "a NaN on the original side only is a mismatch", out)
    rc, out = rules_check(os.path.join(data, "rules", "check", "shapes.json"))
    check(rc == 1 and "FAILED     mean-of-four-wrong" in out and "one larger" in out,
          "a rule right at the check data's size only fails at a second size", out)
    check("FAILED     add-sub-cancel-wrong: output shapes differ" in out and "'x' with a first dim of 1, broadcast" in out,
          "a rule wrong under broadcasting fails on the broadcast case", out)
    unchecked = os.path.join(data, "rules", "check", "unchecked.json")
    rc, out = rules_check(unchecked)
    check(rc == 0 and "unchecked  relu-relu-no-data" in out, "an unchecked rule is reported, exit 0 without --strict", out)
    rc, out = rules_check("--strict", unchecked)
    check(rc == 1 and "could not be checked (--strict)" in out, "with --strict, an unchecked rule exits 1", out)
    rc, out = rules_check("--strict")
    lines = [l for l in out.splitlines() if l and not l.startswith("no rule")]
    check(rc == 0 and lines and all(l.startswith("ok ") for l in lines),
          f"the built-in library passes --strict ({len(lines)} rules)", out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
