#!/usr/bin/python3
"""Signals during a write and an input truncated while it is read.

- SIGINT, SIGTERM or SIGHUP while optimize writes its output (a 64 MiB model:
  the temporary file lives through the write and the fsync) removes the
  temporary file; the process still dies of the signal and a previous output
  is intact.
- A model truncated while mapped (verify reads its weights again on every
  trial; optimize packs them into its output) gives exit 3 and a line naming
  the file, not a SIGBUS, and leaves no temporary file.
Each case waits for the moment it needs (the temporary file in the folder,
the mapping in /proc/PID/maps) and tries again a few times when the process
was faster than the test.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def big_model(path, rows=2048, cols=8192):
    w = numpy_helper.from_array(np.random.default_rng(0).random((rows, cols), dtype=np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, rows])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cols])], [w])
    with open(path, "wb") as f:
        f.write(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())


def wait_for(cond, proc, limit=30.0):
    """Poll cond() until true; False when proc ended first or after limit seconds."""
    end = time.monotonic() + limit
    while time.monotonic() < end and proc.poll() is None:
        if cond():
            return True
        time.sleep(0.0005)
    return False


def default_signals():
    """In the child: the stop signals at their default, whatever this test inherited (a test run
    under nohup would pass SIGHUP on ignored, and graphsub keeps an ignored SIGHUP ignored)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def nohup_write(gs, d, src):
    """Under nohup (SIGHUP ignored when graphsub starts) a SIGHUP does not stop the write."""
    out = os.path.join(d, "nohup.onnx")
    for _ in range(5):
        before = set(os.listdir(d))
        p = subprocess.Popen([gs, "optimize", "-O0", src, "-o", out, "--quiet"], stderr=subprocess.PIPE,
                             preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
        if not wait_for(lambda: set(os.listdir(d)) - before - {"nohup.onnx"}, p):
            p.wait()
            continue
        p.send_signal(signal.SIGHUP)
        p.wait()
        left = sorted(set(os.listdir(d)) - before - {"nohup.onnx"})
        ok = p.returncode == 0 and not left and os.path.getsize(out) > os.path.getsize(src) // 2
        print(("ok  " if ok else "FAIL") + f" SIGHUP under nohup: exit {p.returncode}, left behind {left}")
        os.unlink(out)
        return ok
    print("FAIL SIGHUP under nohup: no try caught the write in progress")
    return False


def interrupted_write(gs, d, src, sig):
    out = os.path.join(d, "out.onnx")
    for _ in range(5):
        with open(out, "wb") as f:
            f.write(b"previous output")
        before = set(os.listdir(d))
        p = subprocess.Popen([gs, "optimize", "-O0", src, "-o", out, "--quiet"], stderr=subprocess.PIPE,
                             preexec_fn=default_signals)
        if not wait_for(lambda: set(os.listdir(d)) - before, p):
            p.wait()
            continue   # finished before the test saw the temporary file
        p.send_signal(sig)
        p.wait()
        if p.returncode == 0 and not set(os.listdir(d)) - before and open(out, "rb").read(4) != b"prev":
            continue   # the write was done (renamed in place) before the signal came: not a case
        left = sorted(set(os.listdir(d)) - before)
        intact = open(out, "rb").read() == b"previous output"
        ok = p.returncode == -sig and not left and intact
        print(("ok  " if ok else "FAIL") + f" {signal.Signals(sig).name} during the write: exit "
              f"{p.returncode}, left behind {left}, previous output {'intact' if intact else 'CHANGED'}")
        for name in left:
            os.unlink(os.path.join(d, name))
        return ok
    print(f"FAIL {signal.Signals(sig).name} during the write: no try caught the write in progress")
    return False


def truncated_input(gs, d, what, args, watch):
    """Run args, wait until every path in watch is mapped, truncate watch[-1]."""
    src, before = watch[-1], set(os.listdir(d))
    for _ in range(5):
        for path in watch:
            big_model(path)
        p = subprocess.Popen([gs, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        maps = f"/proc/{p.pid}/maps"

        def mapped():
            try:
                with open(maps) as f:
                    text = f.read()
                return all(w in text for w in watch)
            except OSError:
                return False
        if not wait_for(mapped, p):
            p.wait()
            continue
        p.send_signal(signal.SIGSTOP)
        os.truncate(src, 4096)
        p.send_signal(signal.SIGCONT)
        err = p.communicate(timeout=120)[1].decode().strip()
        left = sorted(set(os.listdir(d)) - before)
        ok = p.returncode == 3 and src in err and "truncated" in err and not left
        print(("ok  " if ok else "FAIL") + f" input truncated under {what}: exit {p.returncode}, "
              f"left behind {left}: {err}")
        return ok
    print(f"FAIL input truncated under {what}: the process never mapped the model in time")
    return False


def main():
    gs = sys.argv[1]
    results = []
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as ind:
        src = os.path.join(ind, "in.onnx")   # outside d: d lists only what the writes leave
        big_model(src)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            results.append(interrupted_write(gs, d, src, sig))
        results.append(nohup_write(gs, d, src))
        a, b = os.path.join(ind, "a.onnx"), os.path.join(ind, "b.onnx")
        # verify reads the weights again on every trial; both models loaded, b is cut
        results.append(truncated_input(gs, d, "verify", ["verify", a, b, "--trials", "200"], [a, b]))
        # optimize packs the mapped weights into its temporary file
        results.append(truncated_input(gs, d, "optimize's write",
                                       ["optimize", "-O0", a, "-o", os.path.join(d, "o.onnx")], [a]))
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
