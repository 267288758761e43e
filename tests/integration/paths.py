#!/usr/bin/python3
"""Outputs and inputs that are not plain files. Every node this test writes
to is one it made in its own temporary folder (a character device made with
mknod is a null device of its own, never /dev/*).

- an output naming a character device, a FIFO or "-" is written in place and
  stays what it was; a symbolic link stays and its target is replaced; a
  replaced file keeps its mode (optimize -o, --report, dot -o, run --data);
- an output naming an input (the model, its external data, input data) or
  another output is refused with exit 2 and the input is left as it was;
- an unwritable report stops optimize before the model is written (exit 3);
- -o FOLDER --external-data is refused and leaves no FOLDER.data behind;
- a FIFO given as rules or as external data is refused (exit 3), not waited on;
- 70,000 tensors in one external-data file load (one mapping, not 70,000);
- an output name of 250 characters is written (short temporary names);
- a write error on standard output fails the command (exit 3);
- node names that are not UTF-8 leave the report valid JSON.
"""
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

GS = None
RESULTS = []


def report(name, ok, detail=""):
    RESULTS.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}".rstrip(": "), flush=True)


def gs(*args, timeout=60, **kw):
    try:
        return subprocess.run([GS, *args], capture_output=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, "timeout", b"", b"timed out")


def model(name="mm", outputs=1):
    w = numpy_helper.from_array(np.arange(64 * 64, dtype=np.float32).reshape(64, 64), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y0"], name=name)]
    outs = [helper.make_tensor_value_info("y0", TensorProto.FLOAT, [1, 64])]
    for i in range(1, outputs):
        nodes.append(helper.make_node("Relu", ["y0"], [f"y{i}"], name=f"relu{i}"))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, [1, 64]))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                          outs, [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def save(m, path):
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def chardev(path):
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))   # a null device of our own
    return path


def is_chardev(path):
    return stat.S_ISCHR(os.lstat(path).st_mode)


def fifo_reader(path, sink):
    def run():
        with open(path, "rb") as f:
            sink.append(f.read())
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# ---- outputs that are not regular files --------------------------------

def devices(d, src):
    dev = chardev(os.path.join(d, "null"))
    cases = [("optimize -o", ["optimize", src, "-o", dev, "--quiet"]),
             ("--report", ["optimize", src, "-o", os.path.join(d, "o1.onnx"), "--report", dev, "--quiet"]),
             ("dot -o", ["dot", src, "-o", dev])]
    for what, args in cases:
        r = gs(*args)
        report(f"character device as {what}",
               r.returncode == 0 and is_chardev(dev), f"exit {r.returncode}, still a device: "
               f"{is_chardev(dev)} {r.stderr.decode().strip()}")
    two = save(model(outputs=2), os.path.join(d, "two-out.onnx"))
    data = os.path.join(d, "rundata")
    os.mkdir(data)
    dev1 = chardev(os.path.join(data, "output_1.pb"))   # output_0.pb absent: run writes
    r = gs("run", two, "--data", data)
    ok = r.returncode == 0 and is_chardev(dev1) and os.path.getsize(os.path.join(data, "output_0.pb")) > 0
    report("run --data writing output_1.pb, a device", ok, f"exit {r.returncode}, still a device: "
           f"{is_chardev(dev1)} {r.stderr.decode().strip()}")


def fifos(d, src):
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    for args, what in ((["optimize", src, "-o", fifo, "--quiet"], "optimize -o"),
                       (["dot", src, "-o", fifo], "dot -o")):
        got = []
        t = fifo_reader(fifo, got)
        r = gs(*args, timeout=30)
        t.join(10)
        ok = r.returncode == 0 and stat.S_ISFIFO(os.lstat(fifo).st_mode) and got and len(got[0]) > 0
        if ok and what == "optimize -o":
            ok = onnx.load_from_string(got[0]).graph.node[0].op_type == "MatMul"
        report(f"FIFO as {what}", ok, f"exit {r.returncode}, {len(got[0]) if got else 0} bytes read")


def stdout_dash(d, src):
    r = gs("optimize", src, "-o", "-", "--quiet")
    ok = r.returncode == 0 and onnx.load_from_string(r.stdout).graph.node[0].op_type == "MatMul"
    report("optimize -o - writes the model to standard output", ok, f"exit {r.returncode}")
    r = gs("optimize", src, "-o", os.path.join(d, "o2.onnx"), "--report", "-", "--quiet")
    ok = r.returncode == 0 and "nodes_before" in json.loads(r.stdout)
    report("--report - writes the report to standard output", ok, f"exit {r.returncode}")


def proc_fd_link(d, src):
    link = os.path.join(d, "to-stdout")
    os.symlink("/proc/self/fd/1", link)   # what /dev/stdout is, made here
    r = gs("optimize", src, "-o", link, "--quiet")
    ok = r.returncode == 0 and os.path.islink(link) and len(r.stdout) > 1000
    if ok:
        ok = onnx.load_from_string(r.stdout).graph.node[0].op_type == "MatMul"
    report("a link to /proc/self/fd/1 (a pipe) as -o", ok, f"exit {r.returncode}, link kept "
           f"{os.path.islink(link)}, {len(r.stdout)} bytes on stdout {r.stderr.decode().strip()}")


def dangling_link(d, src):
    os.mkdir(os.path.join(d, "later"))
    link = os.path.join(d, "dangling.onnx")
    os.symlink("later/made.onnx", link)
    r = gs("optimize", src, "-o", link, "--quiet")
    made = os.path.join(d, "later", "made.onnx")
    ok = r.returncode == 0 and os.path.islink(link) and os.path.isfile(made)
    report("a dangling link as -o creates its target", ok, f"exit {r.returncode}, link kept "
           f"{os.path.islink(link)} {r.stderr.decode().strip()}")


def symlinks(d, src):
    for kind, args in (("optimize -o", lambda l: ["optimize", src, "-o", l, "--quiet"]),
                       ("--report", lambda l: ["optimize", src, "-o", os.path.join(d, "o3.onnx"),
                                               "--report", l, "--quiet"]),
                       ("dot -o", lambda l: ["dot", src, "-o", l])):
        sub = os.path.join(d, "targets-" + kind.replace(" ", "").strip("-"))
        os.mkdir(sub)
        target = os.path.join(sub, "out")
        with open(target, "wb") as f:
            f.write(b"old")
        os.chmod(target, 0o600)
        link = os.path.join(d, "link-" + os.path.basename(sub))
        os.symlink(os.path.relpath(target, d), link)
        r = gs(*args(link))
        ok = (r.returncode == 0 and os.path.islink(link) and read(target) != b"old"
              and stat.S_IMODE(os.stat(target).st_mode) == 0o600
              and sorted(os.listdir(sub)) == [os.path.basename(target)])
        report(f"symbolic link as {kind}", ok, f"exit {r.returncode}, link kept {os.path.islink(link)}, "
               f"target mode {oct(stat.S_IMODE(os.stat(target).st_mode))}, folder {sorted(os.listdir(sub))}")


def mode_kept(d, src):
    out = os.path.join(d, "private.onnx")
    save(model(), out)
    os.chmod(out, 0o600)
    r = gs("optimize", src, "-o", out, "--quiet")
    mode = stat.S_IMODE(os.stat(out).st_mode)
    report("a replaced 0600 model stays 0600", r.returncode == 0 and mode == 0o600, oct(mode))


# ---- outputs that name an input ----------------------------------------

def refused(d, name, args, keep):
    before = {p: read(p) for p in keep}
    r = gs(*args)
    intact = all(os.path.exists(p) and read(p) == b for p, b in before.items())
    report(name, r.returncode == 2 and intact,
           f"exit {r.returncode}, inputs {'intact' if intact else 'CHANGED'}: {r.stderr.decode().strip()}")


def inputs_as_outputs(d, src):
    ext = os.path.join(d, "ext.onnx")
    r = gs("optimize", src, "-O0", "-o", ext, "--external-data", "--quiet")
    assert r.returncode == 0, r.stderr
    extdata = ext + ".data"
    refused(d, "--report naming the input", ["optimize", src, "-o", os.path.join(d, "o4.onnx"),
                                             "--report", src], [src])
    refused(d, "dot -o naming the input", ["dot", src, "-o", src], [src])
    refused(d, "--report equal to -o", ["optimize", src, "-o", os.path.join(d, "same.onnx"),
                                        "--report", os.path.join(d, "same.onnx")], [src])
    refused(d, "-o naming the input's external data", ["optimize", ext, "-o", extdata], [ext, extdata])
    refused(d, "--report naming the input's external data",
            ["optimize", ext, "-o", os.path.join(d, "o5.onnx"), "--report", extdata], [ext, extdata])
    refused(d, "dot -o naming the input's external data", ["dot", ext, "-o", extdata], [ext, extdata])
    link = os.path.join(d, "linked.onnx")
    os.symlink("m.onnx", link)
    refused(d, "--report through a symbolic link to the input",
            ["optimize", src, "-o", os.path.join(d, "o6.onnx"), "--report", link], [src])
    viaopt = save(model(), os.path.join(d, "alias.onnx"))
    os.symlink("alias.onnx", os.path.join(d, "alias.opt.onnx"))
    refused(d, "default output a symbolic link to the input", ["optimize", viaopt], [viaopt])
    two = save(model(outputs=2), os.path.join(d, "two.onnx"))
    data = os.path.join(d, "rundata2")
    os.mkdir(data)
    os.symlink("../two.onnx", os.path.join(data, "output_1.pb"))
    refused(d, "run --data output_1.pb a link to the model", ["run", two, "--data", data], [two])
    r = gs("optimize", ext, "-o", ext, "--external-data", "--quiet")
    report("-o naming the input itself (in place, as documented)", r.returncode == 0,
           f"exit {r.returncode} {r.stderr.decode().strip()}")


# ---- order and failures ------------------------------------------------

def report_unwritable(d, src):
    out = os.path.join(d, "never.onnx")
    r = gs("optimize", src, "-o", out, "--report", os.path.join(d, "no-such-folder", "r.json"))
    report("an unwritable report stops before the model is written",
           r.returncode == 3 and not os.path.exists(out), f"exit {r.returncode}, model written: "
           f"{os.path.exists(out)}: {r.stderr.decode().strip()}")


def folder_external(d, src):
    folder = os.path.join(d, "outdir")
    os.mkdir(folder)
    r = gs("optimize", src, "-o", folder, "--external-data")
    left = [n for n in os.listdir(d) if n.startswith("outdir") and n != "outdir"]
    report("-o FOLDER --external-data is refused and leaves nothing", r.returncode == 3 and not left,
           f"exit {r.returncode}, left {left}: {r.stderr.decode().strip()}")


def fifo_inputs(d, src):
    rules = os.path.join(d, "rules-fifo.json")
    os.mkfifo(rules)
    r = gs("optimize", src, "-o", os.path.join(d, "o7.onnx"), "--rules", rules, timeout=20)
    report("a FIFO as --rules is refused", r.returncode == 3, f"exit {r.returncode}: {r.stderr.decode().strip()}")
    sub = os.path.join(d, "fifo-ext")
    os.mkdir(sub)
    r = gs("optimize", src, "-O0", "-o", os.path.join(sub, "e.onnx"), "--external-data", "--quiet")
    os.unlink(os.path.join(sub, "e.onnx.data"))
    os.mkfifo(os.path.join(sub, "e.onnx.data"))
    r = gs("info", os.path.join(sub, "e.onnx"), timeout=20)
    report("a FIFO as external data is refused", r.returncode == 3, f"exit {r.returncode}: {r.stderr.decode().strip()}")


def many_tensors(d, src):
    n = 70000
    sub = os.path.join(d, "many")
    os.mkdir(sub)
    with open(os.path.join(sub, "w.data"), "wb") as f:
        f.write(np.arange(n, dtype=np.float32).tobytes())
    inits = []
    for i in range(n):
        t = TensorProto(name=f"t{i}", data_type=TensorProto.FLOAT, dims=[1])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "w.data"), ("offset", str(4 * i)), ("length", "4")):
            e = t.external_data.add()
            e.key, e.value = k, v
        inits.append(t)
    g = helper.make_graph([helper.make_node("Add", ["x", "t69999"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], inits)
    path = save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(sub, "m.onnx"))
    r = gs("info", path, timeout=120)
    report(f"{n} tensors in one external-data file", r.returncode == 0,
           f"exit {r.returncode} {r.stderr.decode().strip()}")


def long_name(d, src):
    out = os.path.join(d, "n" * 245 + ".onnx")   # 250 characters
    r = gs("optimize", src, "-o", out, "--quiet")
    report("an output name of 250 characters", r.returncode == 0 and os.path.exists(out),
           f"exit {r.returncode} {r.stderr.decode().strip()}")


def stdout_error(d, src):
    rd, wr = os.pipe()
    os.close(rd)   # nobody reads: every write fails with EPIPE
    try:
        r = subprocess.run([GS, "info", src], stdout=wr, stderr=subprocess.PIPE, timeout=60,
                           preexec_fn=lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN))
    finally:
        os.close(wr)
    report("a write error on standard output fails the command", r.returncode == 3,
           f"exit {r.returncode}: {r.stderr.decode().strip()}")


def non_utf8(d, src):
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], name="reluA"),
                           helper.make_node("Relu", ["r"], ["y"], name="reluB")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    raw = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    raw = raw.replace(b"\x1a\x05reluA", b"\x1a\x05relu\xff")   # NodeProto.name, same length
    src = os.path.join(d, "bad-name.onnx")
    with open(src, "wb") as f:
        f.write(raw)
    rep = os.path.join(d, "bad-name.json")
    r = gs("optimize", src, "-o", os.path.join(d, "bad-name.opt.onnx"), "--report", rep, "--quiet")
    try:
        text = read(rep).decode("utf-8")
        json.loads(text)
        valid = "\ufffd" in text or "\\ufffd" in text
    except (ValueError, OSError) as e:
        valid = str(e)
    report("node names not in UTF-8 leave the report valid JSON", r.returncode == 0 and valid is True,
           f"exit {r.returncode}, {valid}")


def main():
    global GS
    GS = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        src = save(model(), os.path.join(d, "m.onnx"))
        for t in (devices, fifos, stdout_dash, proc_fd_link, dangling_link, symlinks, mode_kept, inputs_as_outputs, report_unwritable,
                  folder_external, fifo_inputs, long_name, stdout_error, non_utf8, many_tensors):
            try:
                save(model(), src)   # fresh, whatever an earlier case did to it
                t(d, src)
            except Exception as e:   # an unexpected output (say, no model on stdout) is a failure
                report(t.__name__, False, f"{type(e).__name__}: {e}")
        left = [n for n in os.listdir(d) if n.startswith(".gs") or ".tmp" in n]
        report("no temporary file left", not left, str(left))
    print(f"{sum(RESULTS)} passed, {len(RESULTS) - sum(RESULTS)} failed")
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
