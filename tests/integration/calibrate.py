#!/usr/bin/python3
"""Measured costs (bench/calibrate, a profile's "measured" table):
- the keys bench/calibrate writes are the keys graphsub computes, on a model
  of varied ops (float, string and list attributes, an absent input between
  present ones, several outputs, dtypes other than float32, an op of another
  domain): with
  a profile pricing key k at 2^k microseconds and the formula at next to
  nothing, `graphsub optimize --report`'s cost_before is the sum over the
  nodes of their keys' prices; a node with a symbolic dim has no key;
- a malformed "measured" table is refused, exit 3, one line naming the
  profile file and the field;
- with ONNX Runtime (tests/integration/ort_run.py says where), calibrate
  times examples/tiny_cnn.onnx (batch bound to 1) and writes a profile that
  graphsub optimize accepts, whose keys price every node of the model and of
  graphsub's output: the report's costs before and after are the sums of
  their measured times.

usage: calibrate.py GRAPHSUB SRCDIR"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_run import ort_modules  # noqa: E402

FAILED = []


def fail(msg):
    FAILED.append(msg)
    print("FAIL " + msg)


def varied_model():
    rng = np.random.default_rng(3)
    f32 = lambda name, *shape: numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
    i64 = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.int64), name)
    inits = [numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales"),
             i64("pads", [0, 0, 1, 1, 0, 0, 1, 1]), i64("split", [2, 2]), f32("w", 4, 2, 3, 3),
             f32("g", 16), f32("bt", 16), f32("gw", 16, 5)]
    mk = helper.make_node
    nodes = [
        mk("LeakyRelu", ["x"], ["a"], alpha=0.1, name="leaky"),
        mk("Resize", ["a", "", "scales"], ["b"], mode="nearest", name="resize"),
        mk("Pad", ["b", "pads"], ["c"], mode="reflect", name="pad"),
        mk("Split", ["c", "split"], ["s0", "s1"], axis=1, name="split"),
        mk("Conv", ["s0", "w"], ["cv"], strides=[2, 2], group=2, dilations=[1, 1], kernel_shape=[3, 3],
           pads=[0, 0, 0, 0], name="conv"),
        mk("LayerNormalization", ["cv", "g", "bt"], ["ln"], axis=-1, epsilon=1e-5, name="ln"),
        mk("Cast", ["ln"], ["ci"], to=TensorProto.INT32, name="cast"),
        mk("Cast", ["ci"], ["cf"], to=TensorProto.FLOAT, name="cast_back"),
        mk("Gemm", ["flat", "gw"], ["gm"], alpha=0.5, transB=0, name="gemm"),
        mk("Reshape", ["cf", "shape"], ["flat"], name="reshape"),
        mk("Greater", ["s1", "zero"], ["gt"], name="greater"),
        mk("Where", ["gt", "s1", "zero"], ["wh"], name="where"),
        mk("Relu", ["z"], ["zr"], name="dynamic"),
        mk("FusedMatMul", ["gm", "fw"], ["fm"], domain="com.microsoft", alpha=0.25, transB=1, name="contrib"),
    ]
    nodes = nodes[:8] + [nodes[9], nodes[8]] + nodes[10:]
    inits += [i64("shape", [-1, 16]), numpy_helper.from_array(np.float32(0), "zero"), f32("fw", 3, 5)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 16])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", 3])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("wh", "zr")]
    outs.append(helper.make_tensor_value_info("fm", TensorProto.FLOAT, [32, 3]))   # ONNX does not infer contrib ops
    g = helper.make_graph(nodes, "varied", [x, z], outs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])


def keys(src, model, *extra):
    """bench/calibrate --keys: node name -> key, or None for a node without one."""
    r = subprocess.run([os.path.join(src, "bench", "calibrate"), "--keys", model, *extra],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"calibrate --keys {model}: exit {r.returncode}: {r.stderr.strip()}")
        return {}
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split("\t")
        out[parts[0]] = parts[1] if parts[1] != "-" else None
    return out


def optimize(gs, model, prof, tmp, *extra):
    """graphsub optimize -O1 with the profile: (report, CompletedProcess)."""
    rep = os.path.join(tmp, "report.json")
    if os.path.exists(rep):
        os.remove(rep)
    r = subprocess.run([gs, "optimize", model, "-O1", "-o", os.path.join(tmp, "out.onnx"), "--profile", prof,
                        "--report", rep, "--quiet", *extra], capture_output=True, text=True)
    return (json.load(open(rep)) if r.returncode == 0 else None), r


def check_keys_match(gs, src, tmp):
    path = os.path.join(tmp, "varied.onnx")
    onnx.save(varied_model(), path)
    ks = keys(src, path)
    if not ks:
        return
    if ks.get("dynamic") is not None or any(v is None for n, v in ks.items() if n != "dynamic"):
        fail(f"varied: keys {ks}: want one for every node but 'dynamic'")
    if ks.get("resize", "").split("|")[1:2] != ["f32[1,4,8,16],_,f32[4]"]:
        fail(f"varied: the Resize's key {ks.get('resize')} does not show its absent roi as _")
    distinct = sorted({v for v in ks.values() if v})
    price = {k: 2 ** i for i, k in enumerate(distinct)}
    prof = os.path.join(tmp, "priced.json")
    json.dump({"peak_gflops": 1e9, "bandwidth_gbs": 1e9, "overhead_us": 1e-9, "measured": price}, open(prof, "w"))
    rep, r = optimize(gs, path, prof, tmp)
    if rep is None:
        fail(f"varied: graphsub optimize failed: {r.stderr.strip()}")
        return
    want = sum(price[v] for v in ks.values() if v)
    got = rep["cost_before"] * 1e6
    if abs(got - want) > 0.01:
        missed = [k for k in distinct if not (int(round(got)) >> distinct.index(k)) & 1]
        fail(f"varied: cost_before {got:.3f} us, want {want} us: graphsub's keys differ for {missed}")
    else:
        print(f"ok varied: the {len(ks) - 1} keys bench/calibrate wrote price their nodes in graphsub "
              f"({want} us), the node with a symbolic dim has none")


def check_malformed(gs, src, tmp):
    model = os.path.join(src, "examples", "tiny_cnn.onnx")
    cases = [([1, 2], "profile field 'measured' must be an object"),
             ({"Relu": 3}, "measured key 'Relu' is not of the form Op|inputs|outputs|attributes"),
             ({"Relu|f32[1]|f32[1]|": "fast"}, "measured.Relu|f32[1]|f32[1]| must be a number of microseconds")]
    for table, want in cases:
        prof = os.path.join(tmp, "bad.json")
        json.dump({"peak_gflops": 50, "bandwidth_gbs": 12, "overhead_us": 3, "measured": table}, open(prof, "w"))
        rep, r = optimize(gs, model, prof, tmp)
        err = r.stderr.strip()
        if r.returncode != 3 or "\n" in err or prof not in err or want not in err:
            fail(f"malformed {table}: exit {r.returncode}, stderr {err!r}: want exit 3, one line naming "
                 f"{prof} and '{want}'")
        else:
            print(f"ok malformed {json.dumps(table)}: {err}")


def check_calibrate(gs, src, tmp, modules):
    model = os.path.join(src, "examples", "tiny_cnn.onnx")
    prof = os.path.join(tmp, "sub", "tiny-measured.json")
    os.makedirs(os.path.dirname(prof))
    env = dict(os.environ, ORT_NODE_MODULES=modules)
    r = subprocess.run([os.path.join(src, "bench", "calibrate"), model, "--dim", "batch=1", "-o", prof,
                        "--runs", "5", "--warmup", "1", "--graphsub", gs,
                        "--base", os.path.join(src, "profiles", "onnxruntime-cpu.json")],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0 or "signatures measured" not in r.stdout:
        fail(f"calibrate tiny_cnn: exit {r.returncode}: {r.stdout.strip()} {r.stderr.strip()}")
        return
    print("ok " + r.stdout.strip())
    measured = json.load(open(prof))["measured"]
    rep, r = optimize(gs, model, prof, tmp, "-O2", "--dim", "batch=1")
    if rep is None:
        fail(f"graphsub optimize --profile {prof}: {r.stderr.strip()}")
        return
    before = keys(src, model, "--dim", "batch=1")
    after = keys(src, os.path.join(tmp, "out.onnx"))
    for label, ks, cost in (("before", before, rep["cost_before"]), ("after", after, rep["cost_after"])):
        missing = [k for k in ks.values() if k not in measured]
        want = sum(measured.get(k, 0) for k in ks.values())
        if missing or not ks or abs(cost * 1e6 - want) > 0.01:
            fail(f"tiny_cnn {label}: cost {cost * 1e6:.3f} us, want the measured sum {want:.3f} us of "
                 f"{len(ks)} nodes; not measured: {missing}")
        else:
            print(f"ok tiny_cnn {label}: {len(ks)} nodes, each measured, cost {want:.1f} us")


def main():
    gs, src = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        check_keys_match(gs, src, tmp)
        check_malformed(gs, src, tmp)
        modules = ort_modules(src)
        if modules:
            check_calibrate(gs, src, tmp, modules)
        else:
            print("skip: onnxruntime-node not found (bench/node_modules or $ORT_NODE_MODULES): calibrate not run")
    if FAILED:
        sys.exit(f"{len(FAILED)} failure(s)")


if __name__ == "__main__":
    main()
