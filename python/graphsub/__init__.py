"""graphsub: rewrite ONNX models into faster equivalent models.

A thin ctypes layer over the graphsub shared library (libgraphsub.so); the
standard library only, plus the onnx package when models are given or wanted
as onnx.ModelProto.

    import onnx, graphsub
    model = onnx.load("model.onnx")
    opt, report = graphsub.optimize(model, budget=800, report=True)
    print(report["nodes_before"], "->", report["nodes_after"])
    graphsub.verify(model, opt)            # raises graphsub.Error when outputs differ
    print(graphsub.info(opt)["ops"])

A model may be an onnx.ModelProto, the bytes of one, or a path (str or
os.PathLike); optimize returns the same kind it was given (a ModelProto for a
path). Every failure raises graphsub.Error, which carries the library's
status (.status, .status_name) and message (.message).

The library is found through $GRAPHSUB_LIB (a path to libgraphsub.so), then
the folder `meson install` put it in, then the system's library path.
"""
import ctypes
import ctypes.util
import os

__all__ = ["Error", "optimize", "verify", "info", "version"]

try:
    from . import _config
    _LIBDIR, _PROFILEDIR = _config.LIBDIR, _config.PROFILEDIR
except ImportError:   # an uninstalled copy: $GRAPHSUB_LIB or the system path
    _LIBDIR, _PROFILEDIR = None, None
# An uninstalled copy in the source tree finds the tree's profiles.
_SOURCE_PROFILEDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "profiles")

# gs_status values (include/graphsub.h)
STATUS_NAMES = ["GS_OK", "GS_ERR_NOMEM", "GS_ERR_IO", "GS_ERR_PARSE", "GS_ERR_MODEL", "GS_ERR_RULE",
                "GS_ERR_UNSUPPORTED", "GS_ERR_LIMIT", "GS_ERR_ARG", "GS_ERR_MISMATCH", "GS_ERR_INTERNAL"]
GS_ERR_MISMATCH = 9


class Error(Exception):
    """A graphsub call failed: .status (int), .status_name ("GS_ERR_MODEL"), .message."""

    def __init__(self, status, message):
        self.status = status
        self.status_name = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else "GS_ERR_UNKNOWN"
        self.message = message
        super().__init__("%s: %s" % (self.status_name, message))


# ---- the C structures (their layout follows include/graphsub.h) ----------------

c_char_pp = ctypes.POINTER(ctypes.c_char_p)


class _Progress(ctypes.Structure):
    _fields_ = [("regions_done", ctypes.c_int), ("regions_total", ctypes.c_int),
                ("expanded", ctypes.c_int), ("cost_start", ctypes.c_double),
                ("best_cost", ctypes.c_double), ("elapsed", ctypes.c_double)]


_PROGRESS_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_Progress))


class _OptimizeOpts(ctypes.Structure):
    _fields_ = [("version", ctypes.c_int), ("level", ctypes.c_int), ("alpha", ctypes.c_double),
                ("budget", ctypes.c_int), ("time_limit", ctypes.c_double),
                ("no_default_rules", ctypes.c_int), ("rule_paths", c_char_pp),
                ("profile_path", ctypes.c_char_p), ("cost_cb", ctypes.c_void_p),
                ("cost_ud", ctypes.c_void_p), ("progress", ctypes.c_void_p),
                ("progress_ud", ctypes.c_void_p), ("target_opset", ctypes.c_int),
                ("disabled_rules", c_char_pp), ("only_rules", c_char_pp),
                ("rules_json", ctypes.c_char_p), ("progress_ex", _PROGRESS_CB),
                ("search", ctypes.c_int), ("search_seed", ctypes.c_uint)]


class _Step(ctypes.Structure):
    _fields_ = [("rule", ctypes.c_char_p), ("nodes", ctypes.c_char_p), ("cost_delta", ctypes.c_double)]


class _Report(ctypes.Structure):
    _fields_ = [("version", ctypes.c_int), ("nodes_before", ctypes.c_int), ("nodes_after", ctypes.c_int),
                ("cost_before", ctypes.c_double), ("cost_after", ctypes.c_double),
                ("candidates", ctypes.c_int), ("expanded", ctypes.c_int), ("time_ms", ctypes.c_double),
                ("nrules", ctypes.c_int), ("rule_names", c_char_pp),
                ("rule_counts", ctypes.POINTER(ctypes.c_int)), ("nsteps", ctypes.c_int),
                ("steps", ctypes.POINTER(_Step)), ("folded", ctypes.c_int), ("tried", ctypes.c_int),
                ("widened", ctypes.c_int)]


class _VerifyOpts(ctypes.Structure):
    _fields_ = [("version", ctypes.c_int), ("seed", ctypes.c_uint64), ("trials", ctypes.c_int),
                ("rtol", ctypes.c_double), ("atol", ctypes.c_double), ("dims", c_char_pp)]


class _Diff(ctypes.Structure):
    _fields_ = [("max_abs", ctypes.c_double), ("max_rel", ctypes.c_double), ("worst", ctypes.c_int64),
                ("got", ctypes.c_double), ("want", ctypes.c_double), ("ok", ctypes.c_int)]


class _OutputDiff(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("diff", _Diff), ("range", ctypes.c_char_p)]


_OPTIMIZE_OPTS_VERSION = 4
_SEARCHES = ("taso", "ocggs", "ocggs-sample")   # gs_optimize_opts.search, GS_SEARCH_* order
_REPORT_VERSION = 3
_VERIFY_OPTS_VERSION = 1

# ---- the library ---------------------------------------------------------------

_lib = None


def _candidates():
    env = os.environ.get("GRAPHSUB_LIB")
    if env:
        yield env
    if _LIBDIR:
        yield os.path.join(_LIBDIR, "libgraphsub.so.0")
        yield os.path.join(_LIBDIR, "libgraphsub.so")
    found = ctypes.util.find_library("graphsub")
    if found:
        yield found
    yield "libgraphsub.so.0"


def _declare(lib):
    P, I, D, S, V = ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_char_p, None
    sigs = {
        "gs_ctx_new": (P, [P]), "gs_ctx_free": (V, [P]), "gs_ctx_errmsg": (S, [P]),
        "gs_free": (V, [P, P]), "gs_version": (S, []),
        "gs_model_load": (I, [P, S, ctypes.POINTER(P)]),
        "gs_model_load_mem": (I, [P, P, ctypes.c_size_t, S, ctypes.POINTER(P)]),
        "gs_model_free": (V, [P]),
        "gs_model_save_mem": (I, [P, ctypes.POINTER(P), ctypes.POINTER(ctypes.c_size_t)]),
        "gs_model_node_count": (I, [P]), "gs_model_value_count": (I, [P]),
        "gs_model_input_count": (I, [P]), "gs_model_output_count": (I, [P]),
        "gs_model_input": (I, [P, I]), "gs_model_output": (I, [P, I]),
        "gs_model_opset": (ctypes.c_int64, [P, S]),
        "gs_model_subgraph_node_count": (I, [P]),
        "gs_node_op": (S, [P, I]), "gs_node_domain": (S, [P, I]), "gs_node_is_live": (I, [P, I]),
        "gs_node_input_count": (I, [P, I]), "gs_node_input": (I, [P, I, I]),
        "gs_value_name": (S, [P, I]), "gs_value_dtype": (I, [P, I]), "gs_value_rank": (I, [P, I]),
        "gs_value_dim": (ctypes.c_int64, [P, I, I, c_char_pp]),
        "gs_value_is_constant": (I, [P, I]), "gs_value_numel": (ctypes.c_int64, [P, I]),
        "gs_dtype_str": (S, [I]), "gs_model_infer_shapes": (I, [P]),
        "gs_model_bind_dim": (I, [P, S, ctypes.c_int64]),
        "gs_model_set_input_shape": (I, [P, S, I, ctypes.POINTER(ctypes.c_int64)]),
        "gs_optimize_opts_init": (V, [ctypes.POINTER(_OptimizeOpts)]),
        "gs_optimize": (I, [P, P, ctypes.POINTER(_OptimizeOpts), ctypes.POINTER(_Report)]),
        "gs_report_clear": (V, [P, ctypes.POINTER(_Report)]),
        "gs_model_compare": (I, [P, P, P, ctypes.POINTER(_VerifyOpts),
                                 ctypes.POINTER(ctypes.POINTER(_OutputDiff)), ctypes.POINTER(I)]),
        "gs_model_compare_trials": (I, [P, P, ctypes.POINTER(_VerifyOpts)]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


def _library():
    global _lib
    if _lib is None:
        errors = []
        for path in _candidates():
            try:
                lib = ctypes.CDLL(path)
                break
            except OSError as e:
                errors.append(str(e))
        else:
            raise ImportError("graphsub: libgraphsub.so not found (set GRAPHSUB_LIB): " + "; ".join(errors))
        _declare(lib)
        _lib = lib
    return _lib


def version():
    """The version of the library loaded, "MAJOR.MINOR.PATCH"."""
    return _library().gs_version().decode()


class _Context:
    """One gs_ctx per call: a context is not thread-safe, so calls from
    several Python threads each get their own."""

    def __init__(self):
        self.lib = _library()
        self.ctx = self.lib.gs_ctx_new(None)
        if not self.ctx:
            raise MemoryError("graphsub: out of memory")
        self.models = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for m in self.models:
            self.lib.gs_model_free(m)
        self.lib.gs_ctx_free(self.ctx)

    def check(self, status):
        if status != 0:
            raise Error(status, self.lib.gs_ctx_errmsg(self.ctx).decode("utf-8", "replace"))

    def load(self, model):
        """A gs_model from a ModelProto, bytes or a path; returns (handle, kind)."""
        m = ctypes.c_void_p()
        if isinstance(model, (str, os.PathLike)):
            self.check(self.lib.gs_model_load(self.ctx, os.fsencode(model), ctypes.byref(m)))
            kind = "path"
        else:
            if isinstance(model, (bytes, bytearray, memoryview)):
                data, kind = bytes(model), "bytes"
            elif hasattr(model, "SerializeToString"):
                data, kind = model.SerializeToString(), "proto"
            else:
                raise TypeError("graphsub: a model is an onnx.ModelProto, bytes or a path, not %s"
                                % type(model).__name__)
            buf = ctypes.create_string_buffer(data, len(data))
            self.check(self.lib.gs_model_load_mem(self.ctx, buf, len(data), None, ctypes.byref(m)))
        self.models.append(m.value)
        return m.value, kind

    def save(self, m):
        buf, size = ctypes.c_void_p(), ctypes.c_size_t()
        self.check(self.lib.gs_model_save_mem(m, ctypes.byref(buf), ctypes.byref(size)))
        try:
            return ctypes.string_at(buf, size.value)
        finally:
            self.lib.gs_free(self.ctx, buf)


def _profile_path(profile):
    """A profile path, or the file of an installed profile named so ("onnxruntime-cpu")."""
    p = os.fspath(profile)
    if "/" in p or p.endswith(".json") or os.path.exists(p):
        return p
    for d in (_PROFILEDIR, _SOURCE_PROFILEDIR):
        if d and os.path.isfile(os.path.join(d, p + ".json")):
            return os.path.join(d, p + ".json")
    raise Error(8, "no profile named '%s' (give a path to a .json file)" % p)


def _strings(items):
    """A NULL-terminated char ** (and the list keeping it alive), or None."""
    if not items:
        return None
    if isinstance(items, (str, os.PathLike)):
        items = [items]
    arr = (ctypes.c_char_p * (len(items) + 1))(*[os.fsencode(x) for x in items], None)
    return ctypes.cast(arr, c_char_pp), arr


def _dims(dims):
    """{"batch": 1} or ["batch=1"] as "NAME=VALUE" strings."""
    if not dims:
        return []
    if isinstance(dims, dict):
        return ["%s=%d" % (k, v) for k, v in dims.items()]
    return list(dims)


def _bind(ctx, m, dims, input_shapes):
    for name, value in (dims or {}).items():
        ctx.check(ctx.lib.gs_model_bind_dim(m, name.encode(), int(value)))
    for name, shape in (input_shapes or {}).items():
        arr = (ctypes.c_int64 * max(len(shape), 1))(*[int(d) for d in shape])
        ctx.check(ctx.lib.gs_model_set_input_shape(m, name.encode(), len(shape), arr))


def _split_names(joined):
    """The step's node names: joined by commas, a comma or backslash inside a
    name preceded by a backslash."""
    names, cur, i = [], [], 0
    while i < len(joined):
        c = joined[i]
        if c == "\\" and i + 1 < len(joined):
            i += 1
            cur.append(joined[i])
        elif c == ",":
            names.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    names.append("".join(cur))
    return names


def _report_dict(r):
    steps = []
    for i in range(r.nsteps):
        s = r.steps[i]
        nodes = s.nodes.decode("utf-8", "replace")
        steps.append({"rule": s.rule.decode(), "nodes": _split_names(nodes),
                      "cost_delta": s.cost_delta})
    return {
        "nodes_before": r.nodes_before, "nodes_after": r.nodes_after,
        "cost_before": r.cost_before, "cost_after": r.cost_after, "cost_unit": "seconds",
        "folded": r.folded, "widened": r.widened,
        "rewrites": {r.rule_names[i].decode(): r.rule_counts[i] for i in range(r.nrules)},
        "applied": steps,
        "search": {"candidates": r.candidates, "expanded": r.expanded, "time_ms": r.time_ms, "tried": r.tried},
    }


def _result(ctx, m, kind):
    data = ctx.save(m)
    if kind == "bytes":
        return data
    import onnx
    return onnx.load_from_string(data)


def optimize(model, *, level=2, alpha=None, budget=None, time_limit=None, rules=None,
             no_default_rules=False, profile=None, opset=None, disable_rules=None,
             only_rules=None, rules_json=None, dims=None, input_shapes=None, progress=None,
             report=False, search="taso", search_seed=0):
    """Optimize a model; returns the optimized model (of the kind given: a
    ModelProto for a ModelProto or a path, bytes for bytes), or (model, report
    dict) with report=True.

    level 0/1/2, alpha, budget, time_limit, rules (paths), no_default_rules,
    profile (a path, or the name of an installed profile), opset, disable_rules and only_rules (rule names) and
    rules_json (the text of a rule file), search ("taso", "ocggs" or
    "ocggs-sample") and search_seed are gs_optimize_opts; dims
    ({"batch": 1}) and input_shapes ({"x": [1, 3, 224, 224]}) fix input
    shapes first. progress(p) is called as the search runs with p a dict of
    whole-graph figures; a true return stops the search (the rewrites found
    so far are kept)."""
    with _Context() as ctx:
        m, kind = ctx.load(model)
        _bind(ctx, m, dims, input_shapes)
        o = _OptimizeOpts()
        ctx.lib.gs_optimize_opts_init(ctypes.byref(o))
        o.version = _OPTIMIZE_OPTS_VERSION
        o.level = level
        if alpha is not None:
            o.alpha = alpha
        if budget is not None:
            o.budget = budget
        if time_limit is not None:
            o.time_limit = time_limit
        o.no_default_rules = int(bool(no_default_rules))
        keep = []
        for field, items in (("rule_paths", rules), ("disabled_rules", disable_rules),
                             ("only_rules", only_rules)):
            s = _strings(items)
            if s:
                setattr(o, field, s[0])
                keep.append(s[1])
        if profile is not None:
            profile_b = os.fsencode(_profile_path(profile))
            o.profile_path = profile_b
        if opset is not None:
            o.target_opset = opset
        if search not in _SEARCHES:
            raise ValueError(f"search must be one of {', '.join(_SEARCHES)}, not {search!r}")
        o.search = _SEARCHES.index(search)
        o.search_seed = search_seed
        if rules_json is not None:
            o.rules_json = rules_json.encode() if isinstance(rules_json, str) else rules_json
        if progress is not None:
            def cb(ud, p):
                figures = {f: getattr(p.contents, f) for f, _ in _Progress._fields_}
                try:
                    return 1 if progress(figures) else 0
                except Exception:   # an exception cannot cross C: stop the search
                    return 1
            o.progress_ex = _PROGRESS_CB(cb)
            keep.append(o.progress_ex)
        r = _Report(version=_REPORT_VERSION)
        st = ctx.lib.gs_optimize(ctx.ctx, m, ctypes.byref(o), ctypes.byref(r))
        try:
            ctx.check(st)
            rep = _report_dict(r)
        finally:
            ctx.lib.gs_report_clear(ctx.ctx, ctypes.byref(r))
        out = _result(ctx, m, kind)
        return (out, rep) if report else out


def verify(a, b, *, seed=0, trials=1, rtol=None, atol=1e-4, dims=None, check=True):
    """Run a and b on the same random inputs and compare every output by name.
    rtol None: 1e-3, or 1e-2 when a computes in float16 or bfloat16.
    Returns {"ok": bool, "trials": the number run (two at least when a
    symbolic input dim is not in dims), "outputs": [{"name", "ok", "max_abs",
    "max_rel", "range"}...]}; with check=True (the default) a difference raises Error
    (status GS_ERR_MISMATCH). Models whose inputs or outputs differ always
    raise. dims: {"batch": 2} binds symbolic input dims."""
    with _Context() as ctx:
        ma, _ = ctx.load(a)
        mb, _ = ctx.load(b)
        d = _strings(_dims(dims))
        vo = _VerifyOpts(_VERIFY_OPTS_VERSION, seed, trials, rtol or 0.0, atol, d[0] if d else None)
        diffs, nd = ctypes.POINTER(_OutputDiff)(), ctypes.c_int()
        st = ctx.lib.gs_model_compare(ctx.ctx, ma, mb, ctypes.byref(vo), ctypes.byref(diffs), ctypes.byref(nd))
        try:
            outs = [{"name": diffs[i].name.decode("utf-8", "replace"), "ok": bool(diffs[i].diff.ok),
                     "max_abs": diffs[i].diff.max_abs, "max_rel": diffs[i].diff.max_rel,
                     "range": diffs[i].range.decode() if diffs[i].range else None}
                    for i in range(nd.value)]
        finally:
            ctx.lib.gs_free(ctx.ctx, diffs)
        if st != 0 and (check or st != GS_ERR_MISMATCH or not outs):
            ctx.check(st)
        run = ctx.lib.gs_model_compare_trials(ctx.ctx, ma, ctypes.byref(vo))
        return {"ok": st == 0, "trials": run, "outputs": outs}


def _shape(lib, m, v):
    rank = lib.gs_value_rank(m, v)
    if rank < 0:
        return None
    shape = []
    for k in range(rank):
        sym = ctypes.c_char_p()
        d = lib.gs_value_dim(m, v, k, ctypes.byref(sym))
        shape.append(d if d >= 0 else (sym.value.decode() if sym.value else None))
    return shape


def info(model):
    """What graphsub reads in a model: {"nodes", "nodes_in_subgraphs", "ops"
    (op -> count; other domains as "domain::op"), "parameters", "opset",
    "inputs" and "outputs" ([{"name", "dtype", "shape"}], shapes inferred)}."""
    with _Context() as ctx:
        lib = ctx.lib
        m, _ = ctx.load(model)
        ctx.check(lib.gs_model_infer_shapes(m))
        ops, nodes, params, seen = {}, 0, 0, set()
        for i in range(lib.gs_model_node_count(m)):
            if not lib.gs_node_is_live(m, i):
                continue
            nodes += 1
            dom = lib.gs_node_domain(m, i).decode()
            op = lib.gs_node_op(m, i).decode()
            key = "%s::%s" % (dom, op) if dom and dom != "ai.onnx" else op
            ops[key] = ops.get(key, 0) + 1
            for k in range(lib.gs_node_input_count(m, i)):
                v = lib.gs_node_input(m, i, k)
                if v >= 0 and v not in seen and lib.gs_value_is_constant(m, v):
                    seen.add(v)
                    params += max(lib.gs_value_numel(m, v), 0)

        def values(count, at):
            out = []
            for i in range(count):
                v = at(m, i)
                out.append({"name": lib.gs_value_name(m, v).decode("utf-8", "replace"),
                            "dtype": lib.gs_dtype_str(lib.gs_value_dtype(m, v)).decode(),
                            "shape": _shape(lib, m, v)})
            return out
        return {"nodes": nodes, "nodes_in_subgraphs": lib.gs_model_subgraph_node_count(m),
                "ops": dict(sorted(ops.items())), "parameters": params,
                "opset": lib.gs_model_opset(m, b""),
                "inputs": values(lib.gs_model_input_count(m), lib.gs_model_input),
                "outputs": values(lib.gs_model_output_count(m), lib.gs_model_output)}
