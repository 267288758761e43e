"""ONNX Runtime (onnxruntime-node) from the Python tests: where it is, and one
model run on numpy feeds (int64 or float32) giving its outputs by name."""
import json
import os
import shutil
import subprocess

import numpy as np

ORT_SCRIPT = """
const ort = require(process.argv[2] + '/onnxruntime-node');
const fs = require('fs');
const spec = JSON.parse(fs.readFileSync(process.argv[4]));
(async () => {
  const s = await ort.InferenceSession.create(process.argv[3]);
  const feeds = {};
  for (const [n, v] of Object.entries(spec)) {
    feeds[n] = v.int ? new ort.Tensor('int64', BigInt64Array.from(v.data.map(BigInt)), v.dims)
                     : new ort.Tensor('float32', Float32Array.from(v.data), v.dims);
  }
  const out = await s.run(feeds);
  const res = {};
  for (const n of s.outputNames) res[n] = Array.from(out[n].data);
  console.log(JSON.stringify(res));
})().catch(e => { console.error(String(e.message).split('\\n')[0]); process.exit(1); });
"""


def ort_modules(src):
    """The node_modules folder holding onnxruntime-node ($ORT_NODE_MODULES or
    bench/node_modules of the source tree src), or None when it or node is missing."""
    modules = os.path.abspath(os.environ.get("ORT_NODE_MODULES") or os.path.join(src, "bench", "node_modules"))
    if shutil.which("node") and os.path.isdir(os.path.join(modules, "onnxruntime-node")):
        return modules
    return None


def ort_run(modules, path, feeds, tmp, tag):
    """Run the model at path on feeds (name -> numpy array); (outputs by name as
    flat lists, None), or (None, ONNX Runtime's one-line error)."""
    spec = {n: {"int": v.dtype == np.int64, "dims": list(v.shape), "data": v.ravel().tolist()}
            for n, v in feeds.items()}
    sp, js = os.path.join(tmp, f"{tag}_spec.json"), os.path.join(tmp, "ort.js")
    with open(sp, "w") as f:
        f.write(json.dumps(spec))
    with open(js, "w") as f:
        f.write(ORT_SCRIPT)
    r = subprocess.run(["node", js, modules, path, sp], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return json.loads(r.stdout), None
