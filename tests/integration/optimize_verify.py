#!/usr/bin/python3
"""Optimized models compute what the originals compute.

Runs `graphsub optimize -O1` (and `-O2`) on the bundled examples and on the
ONNX test-data pytorch-converted models, then `graphsub verify` of each
output against its original, and checks that the output's node names are
unique (ONNX requires it; runtimes refuse duplicates). A model the interpreter cannot run (an op
without a kernel, exit 3 from verify naming it) is counted as unchecked and
listed, never as passed. Exits 1 on any failure.
"""
import collections
import glob
import os
import subprocess
import sys
import tempfile

DATA = "/usr/share/libonnx-testdata/data"


def models(root):
    yield from sorted(glob.glob(os.path.join(root, "examples", "*.onnx")))
    yield from sorted(glob.glob(os.path.join(DATA, "pytorch-converted", "*", "model.onnx")))


def short(path):
    return os.path.relpath(path, DATA) if path.startswith(DATA) else os.path.basename(path)


def check(graphsub, path, level, tmp):
    out = os.path.join(tmp, "out.onnx")
    r = subprocess.run([graphsub, "optimize", level, "--quiet", path, "-o", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "fail", f"optimize {level} exit {r.returncode}: {r.stderr.strip()}"
    import onnx   # noqa: PLC0415 - only needed once an output exists
    names = collections.Counter(n.name for n in onnx.load(out).graph.node if n.name)
    dup = [n for n, c in names.items() if c > 1]
    if dup:
        return "fail", f"optimize {level}: node names used twice: {dup[:3]}"
    r = subprocess.run([graphsub, "verify", path, out], capture_output=True, text=True)
    if r.returncode == 0:
        return "ok", ""
    if r.returncode == 3 and ("no kernel" in r.stderr or "not supported" in r.stderr):
        return "unchecked", r.stderr.strip()
    return "fail", f"verify exit {r.returncode}: {(r.stdout + r.stderr).strip()[-300:]}"


def main():
    graphsub, root = sys.argv[1], sys.argv[2]
    counts = {"ok": 0, "fail": 0, "unchecked": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for path in models(root):
            for level in ("-O1", "-O2"):
                status, why = check(graphsub, path, level, tmp)
                counts[status] += 1
                if status != "ok":
                    print(f"{status.upper():9} {level} {short(path)}: {why}")
    print(f"optimize+verify: {counts['ok']} ok, {counts['fail']} failed, "
          f"{counts['unchecked']} unchecked (an op or mode without a kernel)")
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
