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

/* Array a fits graph input v: v's dtype, rank and known dims when declared. */
static gs_status fits(gs_ctx *ctx, const gs_value *v, const gs_array *a, int i)
{
    if (v->dtype && (int32_t)a->dtype != v->dtype)
        return gs_err(ctx, GS_ERR_ARG, "gs_model_run: inputs[%d] is %s, input '%s' is declared %s", i,
                      gs_dtype_name(a->dtype), v->name, gs_dtype_name(v->dtype));
    if (v->rank >= 0 && a->rank != v->rank)
        return gs_err(ctx, GS_ERR_ARG, "gs_model_run: inputs[%d] has rank %d, input '%s' is declared of rank %d",
                      i, a->rank, v->name, v->rank);
    for (int k = 0; v->rank >= 0 && k < v->rank; k++)
        if (v->dims[k].v >= 0 && a->dims[k] != v->dims[k].v)
            return gs_err(ctx, GS_ERR_ARG, "gs_model_run: inputs[%d] has dim %d of %lld, input '%s' is declared "
                          "%lld", i, k, (long long)a->dims[k], v->name, (long long)v->dims[k].v);
    return GS_OK;
}

/* The graph a run of m executes: m's, or when m calls model-local
 * functions a clone with the calls expanded (*clone, which the caller
 * frees), so the interpreter runs only ops. */
static gs_status runnable(gs_model *m, gs_graph **g, gs_graph **clone)
{
    *g = m->graph, *clone = NULL;
    if (!gs_onnx_calls_functions(m))
        return GS_OK;
    int count;
    if (!(*clone = gs_ir_clone(m->graph, NULL)))
        return gs_nomem(m->ctx);
    gs_status st = gs_onnx_inline_functions(m, *clone, &count);
    *g = *clone;
    return st;
}

GS_API gs_status gs_model_run(gs_ctx *ctx, gs_model *m, const gs_array *const *inputs, int ninputs,
                              gs_array **outputs)
{
    if (!ctx || !m || (ninputs && !inputs) || !outputs || ninputs < 0 || ninputs > 4096)
        return ctx ? gs_err(ctx, GS_ERR_ARG, "gs_model_run: invalid arguments") : GS_ERR_ARG;
    GS_CHECK_WRITABLE(m);   /* a body needs its outer values: run the model */
    int nout = m->graph->noutputs;
    gs_tensor *tin = gs_zalloc(ctx, ((size_t)ninputs + 1) * sizeof *tin);
    const gs_tensor **pin = gs_zalloc(ctx, ((size_t)ninputs + 1) * sizeof *pin);
    gs_tensor **tout = gs_zalloc(ctx, ((size_t)nout + 1) * sizeof *tout);
    gs_status st = tin && pin && tout ? GS_OK : gs_nomem(ctx);
    for (int i = 0; st == GS_OK && i < ninputs; i++) {
        if (!inputs[i]) {
            st = gs_err(ctx, GS_ERR_ARG, "gs_model_run: inputs[%d] is NULL", i);
            break;
        }
        if (i < gs_model_input_count(m))
            st = fits(ctx, &m->graph->values[gs_model_input(m, i)], inputs[i], i);
        if (st != GS_OK)
            break;
        tin[i] = view(inputs[i]);
        pin[i] = &tin[i];
    }
    gs_graph *g = NULL, *clone = NULL;
    if (st == GS_OK)
        st = gs_model_errfile(m, runnable(m, &g, &clone));
    if (st == GS_OK)
        st = gs_model_errfile(m, gs_interp_run(ctx, g, pin, ninputs, tout, nout));
    if (clone)
        gs_ir_free(clone);
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
    GS_CHECK_WRITABLE(m);
    return gs_infer_graph(m->graph);
}

/* ---- random inputs ------------------------------------------------------- */

static uint64_t next(uint64_t *s)   /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The value of a "name=value" entry of dims: a decimal integer in
 * [0, 2^31), strictly (no sign, no exponent, nothing after it). */
static bool entry_number(const char *p, int64_t *out)
{
    int64_t v = 0;
    for (; *p; p++)
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > INT32_MAX)
            return false;
    *out = v;
    return true;
}

static gs_status dim_entry(gs_ctx *ctx, const char *entry, int64_t *out)
{
    const char *eq = strchr(entry, '=');
    if (!eq || eq == entry || !eq[1])
        return gs_err(ctx, GS_ERR_ARG, "dim '%s': expected NAME=VALUE", entry);
    if (!entry_number(eq + 1, out))
        return gs_err(ctx, GS_ERR_ARG, "dim '%s': the value must be an integer from 0 to %d",
                      entry, INT32_MAX);
    return GS_OK;
}

/* Whether dims entry e names symbol sym. */
static bool names_sym(const char *e, const char *sym)
{
    const char *eq = strchr(e, '=');
    return eq && sym && strlen(sym) == (size_t)(eq - e) && !strncmp(e, sym, (size_t)(eq - e));
}

/* The value dims gives name[0..len) (gs_dim_name_fn over a dims list). */
static bool entry_value(void *ud, const char *name, size_t len, int64_t *value)
{
    const char *const *dims = ud;
    for (int i = 0; dims && dims[i]; i++)
        if (!strncmp(dims[i], name, len) && dims[i][len] == '=')
            return dims[i][len + 1] && entry_number(dims[i] + len + 1, value);
    return false;
}

/* Size of dim d: its own, else the one hint gives (>= 0), else the value
 * dims gives its symbol, else the value of its expression over the names
 * dims gives (past + seq, 8*batch) when from 0 to 2^31 - 1, else 1. */
static gs_status dim_value(gs_ctx *ctx, const gs_dim *d, int64_t hint, const char *const *dims,
                           int64_t *out)
{
    *out = d->v >= 0 ? d->v : hint >= 0 ? hint : 1;
    if (d->v >= 0 || hint >= 0)
        return GS_OK;
    for (int i = 0; dims && dims[i]; i++)
        if (names_sym(dims[i], d->sym))
            return dim_entry(ctx, dims[i], out);
    int64_t v;
    if (d->sym && gs_dim_eval(d->sym, entry_value, (void *)dims, &v) && v >= 0 && v <= INT32_MAX)
        *out = v;
    return GS_OK;
}

/* Random values in [lo, hi) for floats (all lo when lo == hi), [0, 4) for
 * integers, 0/1 for bools. */
static void fill_random(gs_tensor *t, uint64_t *seed, double lo, double hi)
{
    int64_t n = gs_tensor_numel(t);
    bool fl = gs_op_floatlike(t->dtype);
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = next(seed);
        if (fl)
            gs_tensor_set_f(t, i, lo + (hi - lo) * ((double)(r >> 11) / 9007199254740992.0));
        else
            gs_tensor_set_i(t, i, (int64_t)(r % (t->dtype == GS_BOOL ? 2 : 4)));
    }
}

/* A random array for input v; `like` (may be NULL) is the same input of
 * another model, whose known dims fill v's unknown ones. */
static gs_status random_input(gs_ctx *ctx, const gs_value *v, const gs_value *like, uint64_t *seed,
                              const char *const *dims, double lo, double hi, gs_array **out)
{
    int64_t shape[GS_MAX_RANK];
    if (v->rank < 0 || !v->dtype)
        return gs_err(ctx, GS_ERR_UNSUPPORTED, "input '%s' has no known type or rank", v->name);
    for (int i = 0; i < v->rank; i++) {
        int64_t hint = like && like->rank == v->rank ? like->dims[i].v : -1;
        gs_status st = dim_value(ctx, &v->dims[i], hint, dims, &shape[i]);
        if (st != GS_OK)
            return st;
    }
    if (!gs_dtype_size(v->dtype) || v->dtype == GS_COMPLEX64 || v->dtype == GS_COMPLEX128)
        return gs_err(ctx, GS_ERR_UNSUPPORTED, "input '%s' has type %s: random values of it are not supported",
                      v->name, gs_dtype_name(v->dtype));
    int64_t count = gs_numel(shape, v->rank), bytes;
    if (count < 0 || __builtin_mul_overflow(count, (int64_t)gs_dtype_size(v->dtype), &bytes) ||
        bytes > GS_MAX_TENSOR_BYTES)   /* a declared size, not a shortage of memory */
        return gs_err(ctx, GS_ERR_LIMIT, "input '%s': its dims hold more than 2^40 bytes", v->name);
    gs_array *a = gs_array_new(ctx, (gs_dtype)v->dtype, v->rank, shape);
    if (!a)
        return gs_nomem(ctx);
    gs_tensor t = view(a);
    fill_random(&t, seed, lo, hi);
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
        gs_status st = random_input(ctx, &m->graph->values[gs_model_input(m, i)], NULL, &s, dims, -1, 1,
                                    &inputs[i]);
        st = gs_model_errfile(m, st);
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
    bool exact = !gs_op_floatlike(got->dtype);
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

/* Input sets each trial draws its float inputs from: a rule that holds only
 * near zero (a Clip removed, an overflow hidden by small values) shows on
 * the large ones; a division by a value that should not be zero, on the zeros. */
static const struct range { const char *name; double lo, hi; } ranges[] = {
    { "[-1, 1)", -1, 1 },
    { "[-1000, 1000)", -1000, 1000 },
    { "zeros", 0, 0 },
};
enum { NRANGES = sizeof ranges / sizeof ranges[0] };

static int find_value(const gs_model *m, bool input, const char *name)
{
    int n = input ? gs_model_input_count(m) : gs_model_output_count(m);
    for (int i = 0; i < n; i++)
        if (!strcmp(gs_value_name(m, input ? gs_model_input(m, i) : gs_model_output(m, i)), name))
            return i;
    return -1;
}

static const gs_value *input_value(const gs_model *m, int i)
{
    return &m->graph->values[gs_model_input(m, i)];
}

/* Input i of a against its namesake in b: same dtype, rank and known dims. */
static gs_status same_input(gs_ctx *ctx, const gs_model *a, const gs_model *b, int i)
{
    const gs_value *x = input_value(a, i);
    int j = find_value(b, true, x->name);
    if (j < 0)
        return gs_err(ctx, GS_ERR_MISMATCH, "input '%s' of the first model is not an input of the second",
                      x->name);
    const gs_value *y = input_value(b, j);
    if (x->dtype != y->dtype)
        return gs_err(ctx, GS_ERR_MISMATCH, "input '%s' is %s in the first model and %s in the second",
                      x->name, gs_dtype_name(x->dtype), gs_dtype_name(y->dtype));
    if (x->rank >= 0 && y->rank >= 0 && x->rank != y->rank)
        return gs_err(ctx, GS_ERR_MISMATCH, "input '%s' has rank %d in the first model and %d in the second",
                      x->name, x->rank, y->rank);
    for (int k = 0; x->rank >= 0 && x->rank == y->rank && k < x->rank; k++)
        if (x->dims[k].v >= 0 && y->dims[k].v >= 0 && x->dims[k].v != y->dims[k].v)
            return gs_err(ctx, GS_ERR_MISMATCH, "input '%s' dim %d is %lld in the first model and %lld in "
                          "the second", x->name, k, (long long)x->dims[k].v, (long long)y->dims[k].v);
    return GS_OK;
}

/* A gs_dim_name_fn noting whether dims entry *ud ("name=value") names
 * name[0..len) (ud: name_hit). */
typedef struct name_hit {
    const char *entry;
    bool hit;
} name_hit;

static bool entry_names(void *ud, const char *name, size_t len, int64_t *value)
{
    name_hit *h = ud;
    h->hit |= !strncmp(h->entry, name, len) && h->entry[len] == '=';
    *value = 1;
    return true;
}

/* Whether the symbol of dims entry e is a dim of an input of m, or a name
 * of the expression naming one (batch of 8*batch). */
static bool has_sym(const gs_model *m, const char *e)
{
    for (int i = 0; i < gs_model_input_count(m); i++) {
        const gs_value *v = input_value(m, i);
        for (int k = 0; k < v->rank; k++) {
            name_hit h = { e, false };
            int64_t unused;
            if (v->dims[k].v < 0 && (names_sym(e, v->dims[k].sym) ||
                                     (v->dims[k].sym && (gs_dim_eval(v->dims[k].sym, entry_names, &h, &unused), h.hit))))
                return true;
        }
    }
    return false;
}

/* The models can be compared: a has outputs, both take the same inputs
 * (by name, with the same types and known dims) and give the same
 * outputs (by name); every dims entry is well formed and names a dim. */
static gs_status same_interface(gs_ctx *ctx, const gs_model *a, const gs_model *b, const char *const *dims)
{
    int na = gs_model_output_count(a), ni = gs_model_input_count(a);
    if (na == 0)
        return gs_err(ctx, GS_ERR_MODEL, "the first model has no outputs: there is nothing to compare");
    if (gs_model_input_count(b) != ni)
        return gs_err(ctx, GS_ERR_MISMATCH, "the models take %d and %d inputs", ni, gs_model_input_count(b));
    if (gs_model_output_count(b) != na)
        return gs_err(ctx, GS_ERR_MISMATCH, "the models give %d and %d outputs", na,
                      gs_model_output_count(b));
    for (int i = 0; i < ni; i++) {
        gs_status st = same_input(ctx, a, b, i);
        if (st != GS_OK)
            return st;
    }
    for (int i = 0; i < na; i++) {
        const char *name = gs_value_name(a, gs_model_output(a, i));
        if (find_value(b, false, name) < 0)
            return gs_err(ctx, GS_ERR_MISMATCH, "output '%s' of the first model is not an output of the "
                          "second", name);
    }
    for (int i = 0; dims && dims[i]; i++) {
        int64_t v;
        gs_status st = dim_entry(ctx, dims[i], &v);
        if (st != GS_OK)
            return st;
        if (!has_sym(a, dims[i]) && !has_sym(b, dims[i]))
            return gs_err(ctx, GS_ERR_ARG, "dim '%s': no input of either model has a dim of that name",
                          dims[i]);
    }
    return GS_OK;
}

static void free_arrays(gs_ctx *ctx, gs_array **a, int n)
{
    for (int i = 0; a && i < n; i++)
        gs_array_free(ctx, a[i]);
    gs_dealloc(ctx, a);
}

/* Random inputs of a for one trial in range r, each shaped by a's dims
 * and, where a's are unknown, b's. */
static gs_status trial_inputs(gs_ctx *ctx, const gs_model *a, const gs_model *b, const char *const *dims,
                              uint64_t seed, const struct range *r, gs_array **in)
{
    for (int i = 0; i < gs_model_input_count(a); i++) {
        const gs_value *x = input_value(a, i);
        const gs_value *y = input_value(b, find_value(b, true, x->name));
        gs_status st = random_input(ctx, x, y, &seed, dims, r->lo, r->hi, &in[i]);
        if (st != GS_OK)
            return gs_model_errfile(a, st);
    }
    return GS_OK;
}

/* Fold the comparison of a's output i (oa) with b's (ob) into w. */
static void fold_diff(gs_ctx *ctx, const gs_array *oa, const gs_array *ob, const gs_verify_opts *o,
                      const struct range *r, gs_output_diff *w)
{
    gs_diff d;
    if (gs_array_compare(ctx, oa, ob, o->rtol, o->atol, &d) != GS_OK) {
        d.ok = 0;
        d.max_abs = d.max_rel = INFINITY;
        d.worst = -1;
    }
    bool take = d.ok != w->diff.ok ? !d.ok : d.max_abs > w->diff.max_abs;   /* the worst, failures first */
    if (take) {
        int ok = w->diff.ok && d.ok;
        w->diff = d;
        w->diff.ok = ok;
        w->range = r->name;
    }
}

/* One trial in one range: the same inputs (bound by name) to both, fold
 * the differences into diffs. */
static gs_status trial(gs_ctx *ctx, gs_model *a, gs_model *b, const gs_verify_opts *o, uint64_t seed,
                       const struct range *r, gs_output_diff *diffs)
{
    int ni = gs_model_input_count(a), na = gs_model_output_count(a), nb = gs_model_output_count(b);
    gs_array **in = gs_zalloc(ctx, ((size_t)ni + 1) * sizeof *in);
    gs_array **inb = gs_zalloc(ctx, ((size_t)ni + 1) * sizeof *inb);
    gs_array **oa = gs_zalloc(ctx, ((size_t)na + 1) * sizeof *oa);
    gs_array **ob = gs_zalloc(ctx, ((size_t)nb + 1) * sizeof *ob);
    gs_status st = in && inb && oa && ob ? GS_OK : gs_nomem(ctx);
    if (st == GS_OK)
        st = trial_inputs(ctx, a, b, o->dims, seed, r, in);
    for (int i = 0; st == GS_OK && i < ni; i++)
        inb[find_value(b, true, gs_value_name(a, gs_model_input(a, i)))] = in[i];
    if (st == GS_OK)
        st = gs_model_run(ctx, a, (const gs_array *const *)in, ni, oa);
    if (st == GS_OK)
        st = gs_model_run(ctx, b, (const gs_array *const *)inb, ni, ob);
    for (int i = 0; st == GS_OK && i < na; i++)
        fold_diff(ctx, oa[i], ob[find_value(b, false, diffs[i].name)], o, r, &diffs[i]);
    gs_dealloc(ctx, inb);
    free_arrays(ctx, in, ni);
    free_arrays(ctx, oa, na);
    free_arrays(ctx, ob, nb);
    return st;
}

static gs_status mismatch(gs_ctx *ctx, const gs_output_diff *d)
{
    if (d->diff.worst < 0)
        return gs_err(ctx, GS_ERR_MISMATCH, "output '%s' differs in type or shape on inputs drawn from %s",
                      d->name, d->range);
    return gs_err(ctx, GS_ERR_MISMATCH, "output '%s' differs on inputs drawn from %s: max abs %g, max rel %g "
                  "(element %lld: %.9g vs %.9g)", d->name, d->range, d->diff.max_abs, d->diff.max_rel,
                  (long long)d->diff.worst, d->diff.got, d->diff.want);
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

/* The bindings of one trial as bind_dims makes them. */
typedef struct binder {
    char **list;    /* NULL-terminated "name=value" entries */
    int n, cap;     /* entries, room for entries */
    char *text;     /* the next entry's 80 bytes */
    int t, nsyms;   /* the trial, the symbols bound so far */
} binder;

/* The value of name[0..len) in b's list, bound now when it is not yet
 * (gs_dim_name_fn). */
static bool bind_name(void *ud, const char *name, size_t len, int64_t *value)
{
    binder *b = ud;
    if (entry_value(b->list, name, len, value))
        return true;
    if (len > 64 || b->n == b->cap)
        return false;
    *value = 2 + (b->nsyms++ + b->t) % 5;
    snprintf(b->text, 80, "%.*s=%d", (int)len, name, (int)*value);
    b->list[b->n++] = b->text;
    b->list[b->n] = NULL;
    b->text += 80;
    return true;
}

/* The binding of trial t: the caller's "name=value" entries, then the k-th
 * other symbol of a's inputs (in order of first appearance; the names of a
 * dim named by an expression, past + seq, 8*batch) at 2 + (k + t) % 5, so
 * consecutive trials bind every symbol differently. *out (ctx heap, one
 * block) is NULL-terminated; *nsyms counts the symbols added. */
static gs_status bind_dims(gs_ctx *ctx, const gs_model *a, const char *const *user, int t, char ***out,
                           int *nsyms)
{
    const gs_graph *g = a->graph;
    int nuser = 0, cap = 0;
    while (user && user[nuser])
        nuser++;
    for (int i = 0; i < gs_model_input_count(a); i++)   /* room for 8 names a dim */
        cap += g->values[gs_model_input(a, i)].rank > 0 ? 8 * g->values[gs_model_input(a, i)].rank : 0;
    char **list = gs_alloc(ctx, (size_t)(nuser + cap + 1) * (sizeof *list + 80) + 1);
    if (!list)
        return gs_nomem(ctx);
    binder b = { list, nuser, nuser + cap, (char *)(list + nuser + cap + 1), t, 0 };
    for (int n = 0; n < nuser; n++)
        list[n] = (char *)user[n];
    list[nuser] = NULL;
    for (int i = 0; i < gs_model_input_count(a); i++) {
        const gs_value *v = &g->values[gs_model_input(a, i)];
        for (int d = 0; d < v->rank; d++) {
            const char *sym = v->dims[d].sym;
            int64_t value;
            if (v->dims[d].v >= 0 || !sym || bound((const char *const *)list, sym) ||
                gs_dim_eval(sym, bind_name, &b, &value))
                continue;
            bind_name(&b, sym, strlen(sym), &value);   /* not an expression: the name itself */
        }
    }
    *out = list;
    *nsyms = b.nsyms;
    return GS_OK;
}

/* g or one of its bodies holds a float16 or bfloat16 value. */
static bool computes_in_half(const gs_graph *g)
{
    for (int32_t v = 0; v < g->nvalues; v++)
        if (!(g->values[v].flags & GS_V_DEAD) &&
            (g->values[v].dtype == GS_FLOAT16 || g->values[v].dtype == GS_BFLOAT16))
            return true;
    for (int i = 0; i < g->nsubs; i++)
        if (computes_in_half(g->subs[i]))
            return true;
    return false;
}

/* The number of trials to run on a: trials (1 when not positive), at least
 * two when an input has a symbolic dim that dims does not bind, so that
 * every such dim takes two values (bind_dims gives each trial its own). */
static gs_status trials_to_run(gs_ctx *ctx, const gs_model *a, int trials, const char *const *dims, int *n)
{
    *n = trials > 0 ? trials : 1;
    if (*n >= 2)
        return GS_OK;
    char **bound = NULL;
    int nsyms = 0;
    gs_status st = bind_dims(ctx, a, dims, 0, &bound, &nsyms);
    gs_dealloc(ctx, bound);
    if (st == GS_OK && nsyms)
        *n = 2;
    return st;
}

GS_API gs_status gs_model_compare(gs_ctx *ctx, gs_model *a, gs_model *b, const gs_verify_opts *opts,
                                  gs_output_diff **diffs, int *ndiffs)
{
    if (!ctx)
        return GS_ERR_ARG;
    GS_CHECK_WRITABLE(a);
    GS_CHECK_WRITABLE(b);
    gs_verify_opts o = { GS_VERIFY_OPTS_VERSION, 0, 1, 0, 1e-4, NULL };
    if (opts) {
        if (opts->version != GS_VERIFY_OPTS_VERSION)
            return gs_err(ctx, GS_ERR_ARG, "gs_model_compare: unknown options version");
        o = *opts;
        o.rtol = o.rtol > 0 ? o.rtol : 0;
        o.atol = o.atol > 0 ? o.atol : 1e-4;
    }
    if (o.rtol == 0)   /* a model rounding to 11 bits at every op is judged at that precision */
        o.rtol = computes_in_half(a->graph) ? 1e-2 : 1e-3;
    gs_status st = same_interface(ctx, a, b, o.dims);
    if (st == GS_OK)
        st = trials_to_run(ctx, a, o.trials, o.dims, &o.trials);
    if (st != GS_OK)
        return st;
    int na = gs_model_output_count(a);
    gs_output_diff *d = gs_zalloc(ctx, ((size_t)na + 1) * sizeof *d);
    if (!d)
        return gs_nomem(ctx);
    for (int i = 0; i < na; i++) {
        d[i].name = gs_value_name(a, gs_model_output(a, i));
        d[i].diff.ok = 1;
        d[i].diff.worst = -1;
        d[i].range = ranges[0].name;
    }
    for (int t = 0; t < o.trials && st == GS_OK; t++) {
        gs_verify_opts ot = o;
        char **dims = NULL;
        int nsyms = 0;
        if ((st = bind_dims(ctx, a, o.dims, t, &dims, &nsyms)) != GS_OK)
            break;
        ot.dims = (const char *const *)dims;
        for (int r = 0; r < NRANGES && st == GS_OK; r++)
            st = trial(ctx, a, b, &ot, o.seed + (uint64_t)t * 7919, &ranges[r], d);
        gs_dealloc(ctx, dims);
    }
    for (int i = 0; st == GS_OK && i < na; i++)
        if (!d[i].diff.ok)
            st = mismatch(ctx, &d[i]);
    if (diffs && (st == GS_OK || st == GS_ERR_MISMATCH)) {
        *diffs = d;
        if (ndiffs)
            *ndiffs = na;
    } else {
        gs_dealloc(ctx, d);
    }
    return st;
}

GS_API int gs_model_compare_trials(gs_ctx *ctx, const gs_model *a, const gs_verify_opts *opts)
{
    if (!ctx || !a)
        return -1;
    if (opts && opts->version != GS_VERIFY_OPTS_VERSION) {
        gs_err(ctx, GS_ERR_ARG, "gs_model_compare_trials: unknown options version");
        return -1;
    }
    int n;
    return trials_to_run(ctx, a, opts ? opts->trials : 1, opts ? opts->dims : NULL, &n) == GS_OK ? n : -1;
}

GS_API int gs_verify_range_count(void)
{
    return NRANGES;
}

GS_API const char *gs_verify_range_name(int i)
{
    return i >= 0 && i < NRANGES ? ranges[i].name : NULL;
}
