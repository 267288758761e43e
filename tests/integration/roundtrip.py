#!/usr/bin/python3
"""Round-trip every ONNX test-data model through `graphsub optimize -O0`.

For each model.onnx under the libonnx-testdata folders, the output must load
in Python's onnx as a message equal to the original, and pass
onnx.checker.check_model whenever the original did. Prints one line per
failure and a summary; exits 1 on any failure.
"""
import concurrent.futures
import os
import subprocess
import sys
import tempfile

import onnx

DATA = "/usr/share/libonnx-testdata/data"
FOLDERS = ["node", "pytorch-converted", "pytorch-operator", "simple"]


def models():
    for folder in FOLDERS:
        for root, _, files in sorted(os.walk(os.path.join(DATA, folder))):
            if "model.onnx" in files:
                yield os.path.join(root, "model.onnx")


def checks(model):
    try:
        onnx.checker.check_model(model)
        return True
    except Exception:
        return False


def roundtrip(graphsub, path, tmpdir):
    out = os.path.join(tmpdir, path.replace("/", "_"))
    r = subprocess.run([graphsub, "optimize", "-O0", "--quiet", path, "-o", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return f"exit {r.returncode}: {r.stderr.strip()}"
    try:
        a = onnx.load(path, load_external_data=False)
        b = onnx.load(out, load_external_data=False)
    except Exception as e:  # noqa: BLE001 - report any load failure
        return f"output does not load: {e}"
    finally:
        if os.path.exists(out):
            os.unlink(out)
    if a != b:
        return "output differs from the original message"
    if checks(a) and not checks(b):
        return "checker accepts the original but not the output"
    return None


def main():
    graphsub = sys.argv[1]
    paths = list(models())
    failures = []
    with tempfile.TemporaryDirectory() as tmpdir, \
            concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for path, err in zip(paths, pool.map(lambda p: roundtrip(graphsub, p, tmpdir), paths)):
            if err:
                failures.append(path)
                print(f"FAIL {os.path.relpath(path, DATA)}: {err}")
    print(f"round trip: {len(paths) - len(failures)} of {len(paths)} models passed")
    return 1 if failures or len(paths) < 1000 else 0


if __name__ == "__main__":
    sys.exit(main())
