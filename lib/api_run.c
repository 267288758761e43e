/*
 * api_run.c - the public API for running models: arrays, the interpreter,
 * random inputs, shape inference, and comparing two models output by output.
 */
#include "gs_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(GS_MAX_RANK == 16, "gs_array.dims must hold GS_MAX_RANK dims");

/* ---- arrays <-> tensors -------------------------------------------------- */

GS_API gs_array *gs_array_new(gs_ctx *ctx, gs_dtype dtype, int rank, const int64_t *dims)
{
    if (!ctx || rank < 0 || rank > GS_MAX_RANK || (rank && !dims))
        return NULL;
    gs_tensor t = { .dtype = dtype, .rank = rank };
    if (rank)
        memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
    gs_array *a = gs_zalloc(ctx, sizeof *a);
    if (!a || gs_tensor_alloc(ctx, &t) != GS_OK) {
        gs_dealloc(ctx, a);
        return NULL;
    }
    a->dtype = dtype;
    a->rank = rank;
    memcpy(a->dims, t.dims, sizeof a->dims);
    a->data = t.data;
    a->nbytes = t.nbytes;
    return a;
}

GS_API void gs_array_free(gs_ctx *ctx, gs_array *a)
{
    if (!ctx || !a)
        return;
    gs_dealloc(ctx, a->data);
    gs_dealloc(ctx, a);
}

static gs_tensor view(const gs_array *a)
{
    gs_tensor t = { .dtype = a->dtype, .rank = a->rank, .data = a->data, .nbytes = a->nbytes };
    memcpy(t.dims, a->dims, sizeof t.dims);
    return t;
}

/* Move an owned tensor into a new array. The tensor struct is freed either
 * way; NULL when memory is short. */
static gs_array *adopt(gs_ctx *ctx, gs_tensor *t)
{
    gs_array *a = gs_zalloc(ctx, sizeof *a);
    if (!a) {
        gs_tensor_free(ctx, t);
        return NULL;
    }
    a->dtype = (gs_dtype)t->dtype;
    a->rank = t->rank;
    memcpy(a->dims, t->dims, sizeof a->dims);
    a->nbytes = t->nbytes;
    if (t->flags & GS_T_OWNED) {
        a->data = t->data;
        t->flags &= ~(uint32_t)GS_T_OWNED;
    } else if ((a->data = gs_alloc(ctx, t->nbytes ? t->nbytes : 1)) != NULL) {
        if (t->nbytes)   /* an empty tensor may have no data pointer at all */
            memcpy(a->data, t->data, t->nbytes);
    } else {
        gs_dealloc(ctx, a);
        a = NULL;
    }
    gs_tensor_free(ctx, t);
    return a;
}

GS_API gs_status gs_array_load(gs_ctx *ctx, const char *path, gs_array **out)
{
    if (!ctx || !path || !out)
        return GS_ERR_ARG;
    gs_tensor *t;
    gs_status st = gs_onnx_read_tensor(ctx, path, &t);
    if (st != GS_OK)
        return st;
    if (!(*out = adopt(ctx, t)))
        return gs_nomem(ctx);
    return GS_OK;
}

GS_API gs_status gs_array_save(gs_ctx *ctx, const char *path, const gs_array *a)
{
    if (!ctx || !path || !a)
        return GS_ERR_ARG;
    gs_tensor t = view(a);
    t.name = "";
    return gs_onnx_write_tensor(ctx, path, &t);
}

/* ---- running ------------------------------------------------------------- */

GS_API gs_status gs_model_run(gs_ctx *ctx, gs_model *m, const gs_array *const *inputs, int ninputs,
                              gs_array **outputs)
{
    if (!ctx || !m || (ninputs && !inputs) || !outputs || ninputs < 0 || ninputs > 4096)
        return ctx ? gs_err(ctx, GS_ERR_ARG, "gs_model_run: invalid arguments") : GS_ERR_ARG;
    int nout = m->graph->noutputs;
    gs_tensor *tin = gs_zalloc(ctx, ((size_t)ninputs + 1) * sizeof *tin);
    const gs_tensor **pin = gs_zalloc(ctx, ((size_t)ninputs + 1) * sizeof *pin);
    gs_tensor **tout = gs_zalloc(ctx, ((size_t)nout + 1) * sizeof *tout);
    gs_status st = tin && pin && tout ? GS_OK : gs_nomem(ctx);
    for (int i = 0; st == GS_OK && i < ninputs; i++) {
        tin[i] = view(inputs[i]);
        pin[i] = &tin[i];
    }
    if (st == GS_OK)
        st = gs_interp_run(ctx, m->graph, gs_model_opset_of(m, ""), pin, ninputs, tout, nout);
    for (int i = 0; i < nout; i++)
        outputs[i] = NULL;
    for (int i = 0; st == GS_OK && i < nout; i++) {
        outputs[i] = adopt(ctx, tout[i]);
        tout[i] = NULL;
        if (!outputs[i])
            st = gs_nomem(ctx);
    }
    for (int i = 0; tout && i < nout; i++)
        gs_tensor_free(ctx, tout[i]);
    if (st != GS_OK)
        for (int i = 0; i < nout; i++) {
            gs_array_free(ctx, outputs[i]);
            outputs[i] = NULL;
        }
    gs_dealloc(ctx, tin);
    gs_dealloc(ctx, pin);
    gs_dealloc(ctx, tout);
    return st;
}

GS_API gs_status gs_model_infer_shapes(gs_model *m)
{
    if (!m)
        return GS_ERR_ARG;
    return gs_infer_graph(m->graph, gs_model_opset_of(m, ""));
}

/* ---- random inputs ------------------------------------------------------- */

static uint64_t next(uint64_t *s)   /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int64_t dim_value(const gs_dim *d, const char *const *dims)
{
    if (d->v >= 0)
        return d->v;
    for (int i = 0; dims && dims[i]; i++) {
        const char *eq = strchr(dims[i], '=');
        if (eq && d->sym && strlen(d->sym) == (size_t)(eq - dims[i]) &&
            !strncmp(dims[i], d->sym, (size_t)(eq - dims[i])))
            return strtoll(eq + 1, NULL, 10);
    }
    return 1;
}

static gs_status random_input(gs_ctx *ctx, const gs_value *v, uint64_t *seed, const char *const *dims,
                              gs_array **out)
{
    int64_t shape[GS_MAX_RANK];
    if (v->rank < 0 || !v->dtype)
        return gs_err(ctx, GS_ERR_UNSUPPORTED, "input '%s' has no known type or rank", v->name);
    for (int i = 0; i < v->rank; i++)
        if ((shape[i] = dim_value(&v->dims[i], dims)) < 0)
            return gs_err(ctx, GS_ERR_ARG, "input '%s': negative dim", v->name);
    if (!gs_dtype_size(v->dtype) || v->dtype == GS_COMPLEX64 || v->dtype == GS_COMPLEX128)
        return gs_err(ctx, GS_ERR_UNSUPPORTED, "input '%s' has type %s: random values of it are not supported",
                      v->name, gs_dtype_name(v->dtype));
    gs_array *a = gs_array_new(ctx, (gs_dtype)v->dtype, v->rank, shape);
    if (!a)
        return gs_nomem(ctx);
    gs_tensor t = view(a);
    int64_t n = gs_tensor_numel(&t);
    bool fl = v->dtype == GS_FLOAT || v->dtype == GS_DOUBLE || v->dtype == GS_FLOAT16 ||
              v->dtype == GS_BFLOAT16;
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = next(seed);
        if (fl)
            gs_tensor_set_f(&t, i, (double)(r >> 11) / 9007199254740992.0 * 2 - 1);
        else
            gs_tensor_set_i(&t, i, (int64_t)(r % (v->dtype == GS_BOOL ? 2 : 4)));
    }
    *out = a;
    return GS_OK;
}

GS_API gs_status gs_model_random_inputs(gs_ctx *ctx, const gs_model *m, uint64_t seed,
                                        const char *const *dims, gs_array **inputs)
{
    if (!ctx || !m || !inputs)
        return GS_ERR_ARG;
    uint64_t s = seed;
    int n = gs_model_input_count(m);
    for (int i = 0; i < n; i++)
        inputs[i] = NULL;
    for (int i = 0; i < n; i++) {
        gs_status st = random_input(ctx, &m->graph->values[gs_model_input(m, i)], &s, dims, &inputs[i]);
        if (st != GS_OK) {
            for (int j = 0; j < i; j++)
                gs_array_free(ctx, inputs[j]), inputs[j] = NULL;
            return st;
        }
    }
    return GS_OK;
}

/* ---- comparing ----------------------------------------------------------- */

GS_API gs_status gs_array_compare(gs_ctx *ctx, const gs_array *got, const gs_array *want,
                                  double rtol, double atol, gs_diff *d)
{
    memset(d, 0, sizeof *d);
    d->worst = -1;
    if (got->dtype != want->dtype || got->rank != want->rank ||
        memcmp(got->dims, want->dims, (size_t)got->rank * sizeof got->dims[0]))
        return gs_err(ctx, GS_ERR_MISMATCH, "type or shape differs (%s rank %d vs %s rank %d)",
                      gs_dtype_name(got->dtype), got->rank, gs_dtype_name(want->dtype), want->rank);
    gs_tensor a = view(got), b = view(want);
    int64_t n = gs_tensor_numel(&a);
    bool exact = !(got->dtype == GS_FLOAT || got->dtype == GS_DOUBLE || got->dtype == GS_FLOAT16 ||
                   got->dtype == GS_BFLOAT16);
    double worst_excess = -1, scale = 0;
    d->ok = 1;
    for (int64_t i = 0; i < n && !exact; i++) {
        double y = fabs(gs_tensor_get_f(&b, i));
        if (y > scale && !isinf(y))
            scale = y;
    }
    scale *= 0.01;   /* float rounding near zero is judged against the tensor's magnitude */
    for (int64_t i = 0; i < n; i++) {
        double x = exact ? (double)gs_tensor_get_i(&a, i) : gs_tensor_get_f(&a, i);
        double y = exact ? (double)gs_tensor_get_i(&b, i) : gs_tensor_get_f(&b, i);
        if ((isnan(x) && isnan(y)) || x == y)
            continue;
        double diff = fabs(x - y), rel = diff / (fabs(y) > 0 ? fabs(y) : 1);
        if (isnan(diff))
            diff = INFINITY, rel = INFINITY;
        d->max_abs = fmax(d->max_abs, diff);
        d->max_rel = fmax(d->max_rel, rel);
        double excess = diff - (exact ? 0 : atol + rtol * fmax(fabs(y), scale));
        if (excess > 0)
            d->ok = 0;
        if (excess > worst_excess) {
            worst_excess = excess;
            d->worst = i, d->got = x, d->want = y;
        }
    }
    return GS_OK;
}

static int find_output(const gs_model *m, const char *name)
{
    for (int i = 0; i < gs_model_output_count(m); i++)
        if (!strcmp(gs_value_name(m, gs_model_output(m, i)), name))
            return i;
    return -1;
}

static void free_arrays(gs_ctx *ctx, gs_array **a, int n)
{
    for (int i = 0; a && i < n; i++)
        gs_array_free(ctx, a[i]);
    gs_dealloc(ctx, a);
}

/* One trial: same inputs to both, fold the differences into diffs. */
static gs_status trial(gs_ctx *ctx, gs_model *a, gs_model *b, const gs_verify_opts *o, uint64_t seed,
                       gs_output_diff *diffs)
{
    int ni = gs_model_input_count(a), na = gs_model_output_count(a), nb = gs_model_output_count(b);
    if (gs_model_input_count(b) != ni)
        return gs_err(ctx, GS_ERR_MISMATCH, "the models take %d and %d inputs", ni,
                      gs_model_input_count(b));
    gs_array **in = gs_zalloc(ctx, ((size_t)ni + 1) * sizeof *in);
    gs_array **oa = gs_zalloc(ctx, ((size_t)na + 1) * sizeof *oa);
    gs_array **ob = gs_zalloc(ctx, ((size_t)nb + 1) * sizeof *ob);
    gs_status st = in && oa && ob ? GS_OK : gs_nomem(ctx);
    if (st == GS_OK)
        st = gs_model_random_inputs(ctx, a, seed, o->dims, in);
    if (st == GS_OK)
        st = gs_model_run(ctx, a, (const gs_array *const *)in, ni, oa);
    if (st == GS_OK)
        st = gs_model_run(ctx, b, (const gs_array *const *)in, ni, ob);
    for (int i = 0; st == GS_OK && i < na; i++) {
        int j = find_output(b, diffs[i].name);
        gs_diff d;
        if (j < 0) {
            diffs[i].diff.ok = 0;
            continue;
        }
        if (gs_array_compare(ctx, oa[i], ob[j], o->rtol, o->atol, &d) != GS_OK) {
            diffs[i].diff.ok = 0;
            diffs[i].diff.max_abs = INFINITY;
            continue;
        }
        gs_diff *w = &diffs[i].diff;
        if (d.max_abs >= w->max_abs) {
            int ok = w->ok && d.ok;
            *w = d;
            w->ok = ok;
        } else {
            w->ok = w->ok && d.ok;
        }
    }
    free_arrays(ctx, in, ni);
    free_arrays(ctx, oa, na);
    free_arrays(ctx, ob, nb);
    return st;
}

/* ---- binding symbolic dims ---------------------------------------------- */

/* True when dims binds the symbol sym ("sym=value"). */
static bool bound(const char *const *dims, const char *sym)
{
    size_t n = strlen(sym);
    for (int i = 0; dims && dims[i]; i++)
        if (!strncmp(dims[i], sym, n) && dims[i][n] == '=')
            return true;
    return false;
}

/* The binding of trial t: the caller's "name=value" entries, then the k-th
 * other symbol of a's inputs (in order of first appearance) at 2 + (k + t)
 * % 5, so consecutive trials bind every symbol differently. *out (ctx heap,
 * one block) is NULL-terminated; *nsyms counts the symbols added. */
static gs_status bind_dims(gs_ctx *ctx, const gs_model *a, const char *const *user, int t, char ***out,
                           int *nsyms)
{
    const gs_graph *g = a->graph;
    int nuser = 0, cap = 0;
    while (user && user[nuser])
        nuser++;
    for (int i = 0; i < gs_model_input_count(a); i++)
        cap += g->values[gs_model_input(a, i)].rank > 0 ? g->values[gs_model_input(a, i)].rank : 0;
    char **list = gs_alloc(ctx, (size_t)(nuser + cap + 1) * (sizeof *list + 80) + 1);
    if (!list)
        return gs_nomem(ctx);
    char *text = (char *)(list + nuser + cap + 1);
    int n = 0;
    for (; n < nuser; n++)
        list[n] = (char *)user[n];
    list[n] = NULL;
    *nsyms = 0;
    for (int i = 0; i < gs_model_input_count(a); i++) {
        const gs_value *v = &g->values[gs_model_input(a, i)];
        for (int d = 0; d < v->rank; d++) {
            const char *sym = v->dims[d].sym;
            if (v->dims[d].v >= 0 || !sym || strlen(sym) > 64 || bound((const char *const *)list, sym))
                continue;
            snprintf(text, 80, "%s=%d", sym, 2 + (*nsyms + t) % 5);
            list[n++] = text;
            list[n] = NULL;
            text += 80;
            ++*nsyms;
        }
    }
    *out = list;
    return GS_OK;
}

GS_API gs_status gs_model_compare(gs_ctx *ctx, gs_model *a, gs_model *b, const gs_verify_opts *opts,
                                  gs_output_diff **diffs, int *ndiffs)
{
    if (!ctx || !a || !b)
        return GS_ERR_ARG;
    gs_verify_opts o = { GS_VERIFY_OPTS_VERSION, 0, 1, 1e-3, 1e-4, NULL };
    if (opts) {
        if (opts->version != GS_VERIFY_OPTS_VERSION)
            return gs_err(ctx, GS_ERR_ARG, "gs_model_compare: unknown options version");
        o = *opts;
        o.trials = o.trials > 0 ? o.trials : 1;
        o.rtol = o.rtol > 0 ? o.rtol : 1e-3;
        o.atol = o.atol > 0 ? o.atol : 1e-4;
    }
    int na = gs_model_output_count(a);
    gs_output_diff *d = gs_zalloc(ctx, ((size_t)na + 1) * sizeof *d);
    if (!d)
        return gs_nomem(ctx);
    for (int i = 0; i < na; i++) {
        d[i].name = gs_value_name(a, gs_model_output(a, i));
        d[i].diff.ok = 1;
        d[i].diff.worst = -1;
    }
    gs_status st = GS_OK;
    for (int t = 0; t < o.trials && st == GS_OK; t++) {
        gs_verify_opts ot = o;
        char **dims = NULL;
        int nsyms = 0;
        if ((st = bind_dims(ctx, a, o.dims, t, &dims, &nsyms)) != GS_OK)
            break;
        ot.dims = (const char *const *)dims;
        st = trial(ctx, a, b, &ot, o.seed + (uint64_t)t * 7919, d);
        gs_dealloc(ctx, dims);
        if (nsyms && o.trials < 2)
            o.trials = 2;   /* symbolic dims: at least two bindings */
    }
    int bad = -1;
    for (int i = 0; st == GS_OK && i < na; i++)
        if (!d[i].diff.ok && bad < 0)
            bad = i;
    if (st == GS_OK && bad >= 0)
        st = gs_err(ctx, GS_ERR_MISMATCH, "output '%s' differs: max abs %g, max rel %g (element %lld: "
                    "%.9g vs %.9g)", d[bad].name, d[bad].diff.max_abs, d[bad].diff.max_rel,
                    (long long)d[bad].diff.worst, d[bad].diff.got, d[bad].diff.want);
    if (diffs && (st == GS_OK || st == GS_ERR_MISMATCH)) {
        *diffs = d;
        if (ndiffs)
            *ndiffs = na;
    } else {
        gs_dealloc(ctx, d);
    }
    return st;
}
