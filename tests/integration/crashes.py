#!/usr/bin/python3
"""Inputs that once crashed graphsub (found by fuzzing, kept in
tests/data/crashes/) must now give a clean status: exit 0 or 3, no signal.
Each is run through info (shape inference), run (the interpreter on random
inputs), optimize and verify against itself."""
import os
import subprocess
import sys
import tempfile


def main():
    gs, root = sys.argv[1], sys.argv[2]
    folder = os.path.join(root, "tests", "data", "crashes")
    bad = 0
    files = sorted(os.listdir(folder))
    with tempfile.TemporaryDirectory() as d:
        for name in files:
            path = os.path.join(folder, name)
            for argv in (["info", path], ["run", path, "--seed", "1"], ["optimize", path, "-o", os.path.join(d, "o.onnx")], ["verify", path, path]):
                r = subprocess.run([gs] + argv, capture_output=True, text=True)
                ok = r.returncode in (0, 1, 3) and "Sanitizer" not in r.stderr
                bad += not ok
                print(("ok  " if ok else "FAIL") + f" {argv[0]} {name}: exit {r.returncode} {r.stderr.strip()[-200:]}")
    print(f"crash corpus: {len(files)} inputs, {bad} failures")
    return 1 if bad or not files else 0


if __name__ == "__main__":
    sys.exit(main())
