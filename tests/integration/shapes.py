#!/usr/bin/python3
"""`graphsub info` infers shapes: every pytorch-converted test-data model gets
a known shape for every value its nodes use. Prints the models that do not."""
import glob
import json
import subprocess
import sys


def main():
    gs = sys.argv[1]
    models = sorted(glob.glob("/usr/share/libonnx-testdata/data/pytorch-converted/*/model.onnx"))
    incomplete = []
    for path in models:
        r = subprocess.run([gs, "info", "--json", path], capture_output=True, text=True)
        info = json.loads(r.stdout) if r.returncode == 0 else None
        if not info or info["shapes_known"] != info["values"]:
            incomplete.append(path)
            print(f"incomplete {path}: {info and (info['shapes_known'], info['values'])} {r.stderr.strip()}")
    print(f"shapes: {len(models) - len(incomplete)} of {len(models)} pytorch-converted models complete")
    return 1 if incomplete or not models else 0


if __name__ == "__main__":
    sys.exit(main())
