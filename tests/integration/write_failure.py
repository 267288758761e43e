#!/usr/bin/python3
"""A write that fails half way (the file-size limit is hit, so write() fails
with EFBIG) leaves the previous output intact and no temporary file behind,
and graphsub reports the failure (exit 3) naming the file; with
--external-data, the previous model and its data file both stay intact."""
import os
import resource
import signal
import subprocess
import sys
import tempfile

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def limit():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))


def main():
    gs = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        w = numpy_helper.from_array(np.ones((512, 512), dtype=np.float32), "w")   # 1 MiB of weights
        g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 512])], [w])
        model = os.path.join(d, "m.onnx")
        with open(model, "wb") as f:
            f.write(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
        ok = True
        for extra in ([], ["--external-data"]):
            out = os.path.join(d, "out.onnx")
            previous = {out: b"previous output", out + ".data": b"previous data"}
            for path, text in previous.items():
                with open(path, "wb") as f:
                    f.write(text)
            r = subprocess.run([gs, "optimize", "-O0", model, "-o", out, *extra], capture_output=True,
                               text=True, preexec_fn=limit)
            intact = all(open(p, "rb").read() == t for p, t in previous.items())
            left = sorted(set(os.listdir(d)) - {"m.onnx", "out.onnx", "out.onnx.data"})
            named = out + (".data" if extra else "")   # the file whose write failed
            good = r.returncode == 3 and intact and not left and named + ":" in r.stderr
            ok &= good
            print(("ok  " if good else "FAIL") + f" write failure {' '.join(extra)}: exit {r.returncode}, "
                  f"previous output {'intact' if intact else 'CHANGED'}, left behind {left}: {r.stderr.strip()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
