/*
 * ops_control.c - registry rows for Constant, If, Loop and Scan. If runs the
 * branch its condition selects; Loop runs its body while the trip count and
 * the condition allow (up to 2^20 body node runs), carrying values from one
 * iteration to the next and stacking its scan outputs; Scan runs its body
 * once per slice of its scan inputs. Bodies run with their outer-scope names
 * resolved in the enclosing run.
 */
#include "gs_ops.h"

#include <string.h>

static gs_status k_constant(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)in, (void)nin, (void)nout;
    const gs_node *n = k->node;
    for (int i = 0; i < n->nattrs; i++) {
        const gs_attr *a = &n->attrs[i];
        out->rank = 0;
        if (a->type == GS_A_TENSOR && a->t && (a->t->data || !a->t->nbytes)) {   /* an empty tensor has no data */
            out->dtype = a->t->dtype;
            out->rank = a->t->rank;
            memcpy(out->dims, a->t->dims, sizeof out->dims);
            gs_status st = gs_tensor_alloc(k->ctx, out);
            if (st == GS_OK && a->t->nbytes)
                memcpy(out->data, a->t->data, a->t->nbytes);
            return st;
        }
        bool list = a->type == GS_A_INTS || a->type == GS_A_FLOATS;
        if (a->type == GS_A_INT || a->type == GS_A_FLOAT || list) {
            out->dtype = a->type == GS_A_INT || a->type == GS_A_INTS ? GS_INT64 : GS_FLOAT;
            if (list)
                out->rank = 1, out->dims[0] = (int64_t)a->n;
            gs_status st = gs_tensor_alloc(k->ctx, out);
            for (int64_t j = 0; st == GS_OK && j < (list ? (int64_t)a->n : 1); j++) {
                if (out->dtype == GS_INT64)
                    ((int64_t *)out->data)[j] = list ? a->ints[j] : a->i;
                else
                    ((float *)out->data)[j] = list ? a->floats[j] : a->f;
            }
            return st;
        }
    }
    return gs_err(k->ctx, GS_ERR_UNSUPPORTED, "node '%s' (Constant): this value kind is not supported",
                  n->name);
}

static gs_status infer_constant(gs_graph *g, gs_node *n)
{
    for (int i = 0; i < n->nattrs; i++) {
        const gs_attr *a = &n->attrs[i];
        gs_dim dims[GS_MAX_RANK];
        if (a->type == GS_A_TENSOR && a->t) {
            for (int d = 0; d < a->t->rank; d++)
                dims[d] = (gs_dim){ a->t->dims[d], NULL };
            return gs_infer_set(g, n->out[0], a->t->dtype, a->t->rank, dims);
        }
        if (a->type == GS_A_INT || a->type == GS_A_FLOAT)
            return gs_infer_set(g, n->out[0], a->type == GS_A_INT ? GS_INT64 : GS_FLOAT, 0, NULL);
        if (a->type == GS_A_INTS || a->type == GS_A_FLOATS) {
            dims[0] = (gs_dim){ (int64_t)a->n, NULL };
            return gs_infer_set(g, n->out[0], a->type == GS_A_INTS ? GS_INT64 : GS_FLOAT, 1, dims);
        }
    }
    return GS_OK;
}

static gs_status k_if(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin;
    if (gs_tensor_numel(in[0]) < 1)
        return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (If): empty condition", k->node->name);
    bool cond = gs_tensor_get_i(in[0], 0) != 0;
    const gs_attr *a = gs_ir_attr(k->node, cond ? "then_branch" : "else_branch");
    if (!a || a->type != GS_A_GRAPH || !a->g)
        return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (If): missing branch", k->node->name);
    if (a->g->noutputs != nout || nout > 16)
        return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (If): branch outputs do not match", k->node->name);
    gs_tensor *res[16] = { NULL };
    gs_status st = gs_interp_run_sub(k->interp, a->g, NULL, 0, res, nout);
    for (int i = 0; i < nout; i++) {
        if (st == GS_OK) {
            out[i] = *res[i];
            gs_dealloc(k->ctx, res[i]);
        } else {
            gs_tensor_free(k->ctx, res[i]);
        }
    }
    return st;
}

/* ---- Loop and Scan ------------------------------------------------------ */

enum { MAX_BODY = 64 };   /* body inputs and outputs a kernel handles */
#define MAX_STEPS ((int64_t)1 << 20)   /* body node runs of one Loop before giving up (a trip
                                          count of 2^37 from a corrupt model must not hang) */

/* The body graph of node n (attribute "body"), or NULL. */
static const gs_graph *body_of(const gs_node *n)
{
    const gs_attr *a = gs_ir_attr(n, "body");
    return a && a->type == GS_A_GRAPH ? a->g : NULL;
}

static void free_all(gs_ctx *ctx, gs_tensor **ts, int n)
{
    for (int i = 0; i < n; i++) {
        gs_tensor_free(ctx, ts[i]);
        ts[i] = NULL;
    }
}

/* A new scalar tensor of dtype holding v. */
static gs_tensor *scalar(gs_ctx *ctx, int32_t dtype, int64_t v)
{
    gs_tensor *t = gs_tensor_new(ctx);
    if (!t)
        return NULL;
    t->dtype = dtype;
    t->rank = 0;
    if (gs_tensor_alloc(ctx, t) != GS_OK) {
        gs_tensor_free(ctx, t);
        return NULL;
    }
    gs_tensor_set_i(t, 0, v);
    return t;
}

/* Split t's dims at axis: elements before it, its length, bytes after it. */
static void split_at(const gs_tensor *t, int axis, int64_t *outer, int64_t *len, size_t *inner)
{
    *outer = gs_numel(t->dims, axis);
    *len = axis < t->rank ? t->dims[axis] : 1;
    *inner = (size_t)gs_numel(t->dims + axis + 1, t->rank - axis - 1) * gs_dtype_size(t->dtype);
}

/* Slice i of t along axis, the axis removed (a new tensor, or NULL). */
static gs_tensor *slice_axis(gs_ctx *ctx, const gs_tensor *t, int axis, int64_t i)
{
    int64_t outer, len;
    size_t inner;
    split_at(t, axis, &outer, &len, &inner);
    gs_tensor *s = gs_tensor_new(ctx);
    if (!s)
        return NULL;
    s->dtype = t->dtype;
    s->rank = t->rank - 1;
    for (int d = 0, j = 0; d < t->rank; d++)
        if (d != axis)
            s->dims[j++] = t->dims[d];
    if (gs_tensor_alloc_raw(ctx, s) != GS_OK) {
        gs_tensor_free(ctx, s);
        return NULL;
    }
    for (int64_t o = 0; o < outer && inner; o++)
        memcpy((char *)s->data + (size_t)o * inner, (const char *)t->data + (size_t)(o * len + i) * inner, inner);
    return s;
}

/* out = the T tensors of parts stacked along a new axis (reversed when
 * rev): all parts have one dtype and shape. */
static gs_status stack(gs_kcall *k, gs_tensor *const *parts, int64_t T, int axis, bool rev, gs_tensor *out)
{
    const gs_tensor *e = parts[0];
    if (axis < 0 || axis > e->rank || e->rank >= GS_MAX_RANK)
        return gs_kfail(k, "scan output axis out of range");
    for (int64_t i = 1; i < T; i++)
        if (parts[i]->dtype != e->dtype || parts[i]->rank != e->rank ||
            memcmp(parts[i]->dims, e->dims, (size_t)e->rank * sizeof *e->dims))
            return gs_kfail(k, "scan outputs of different shapes across iterations");
    int64_t dims[GS_MAX_RANK];
    for (int d = 0, j = 0; d <= e->rank; d++)
        dims[d] = d == axis ? T : e->dims[j++];
    gs_status st = gs_kmake_raw(k, out, e->dtype, dims, e->rank + 1);
    int64_t outer = gs_numel(e->dims, axis);
    size_t inner = (size_t)gs_numel(e->dims + axis, e->rank - axis) * gs_dtype_size(e->dtype);
    for (int64_t i = 0; st == GS_OK && i < T; i++) {
        int64_t at = rev ? T - 1 - i : i;
        for (int64_t o = 0; o < outer && inner; o++)
            memcpy((char *)out->data + (size_t)(o * T + at) * inner,
                   (const char *)parts[i]->data + (size_t)o * inner, inner);
    }
    return st;
}

/* A scan output of no iteration: shape [0] plus the body output's known dims. */
static gs_status empty_scan(gs_kcall *k, const gs_graph *body, int j, gs_tensor *out)
{
    const gs_value *v = &body->values[body->outputs[j]];
    int64_t dims[GS_MAX_RANK] = { 0 };
    int rank = v->rank >= 0 && v->rank < GS_MAX_RANK ? v->rank + 1 : 1;
    for (int d = 1; d < rank; d++)
        dims[d] = v->dims[d - 1].v > 0 ? v->dims[d - 1].v : 0;
    return gs_kmake(k, out, v->dtype ? v->dtype : GS_FLOAT, dims, rank);
}

/* Per-iteration scan outputs kept until they are stacked. */
typedef struct scans {
    gs_tensor **t;    /* [iteration * K + j] */
    int64_t n, cap;   /* iterations kept, room */
    int K;
} scans;

static gs_status scans_add(gs_kcall *k, scans *s, gs_tensor **res)
{
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 16;
        gs_tensor **t = gs_realloc(k->ctx, s->t, (size_t)(cap * s->K + 1) * sizeof *t);
        if (!t)
            return gs_nomem(k->ctx);
        s->t = t, s->cap = cap;
    }
    for (int j = 0; j < s->K; j++)
        s->t[s->n * s->K + j] = res[j], res[j] = NULL;
    s->n++;
    return GS_OK;
}

static void scans_free(gs_ctx *ctx, scans *s)
{
    for (int64_t i = 0; i < s->n * s->K; i++)
        gs_tensor_free(ctx, s->t[i]);
    gs_dealloc(ctx, s->t);
}

/* out[j] = output j of every iteration stacked along axes[j] (reversed where dirs[j]). */
static gs_status scans_stack(gs_kcall *k, scans *s, const gs_graph *body, int first,
                             const int64_t *axes, const int64_t *dirs, gs_tensor *out)
{
    gs_status st = GS_OK;
    gs_tensor **parts = gs_alloc(k->ctx, ((size_t)s->n + 1) * sizeof *parts);
    if (!parts)
        return gs_nomem(k->ctx);
    for (int j = 0; j < s->K && st == GS_OK; j++) {
        for (int64_t i = 0; i < s->n; i++)
            if ((parts[i] = s->t[i * s->K + j])->flags & GS_T_SEQUENCE)
                st = gs_kfail(k, "a scan output is a sequence");
        if (st != GS_OK)
            break;
        if (!s->n) {
            st = empty_scan(k, body, first + j, &out[j]);
            continue;
        }
        int rank = parts[0]->rank + 1;
        int64_t a = axes ? axes[j] : 0;
        st = stack(k, parts, s->n, (int)(a < 0 ? a + rank : a), dirs && dirs[j], &out[j]);
    }
    gs_dealloc(k->ctx, parts);
    return st;
}

/* Hand the carried tensors to out (moved, the heap shells freed). */
static void give(gs_ctx *ctx, gs_tensor **carried, int n, gs_tensor *out)
{
    for (int i = 0; i < n; i++) {
        out[i] = *carried[i];
        gs_dealloc(ctx, carried[i]);
        carried[i] = NULL;
    }
}

/* The body's iteration: inputs iter, cond, carried; outputs cond, carried, scans. */
static gs_status loop_step(gs_kcall *k, const gs_graph *body, int64_t i, bool cond, gs_tensor **carried,
                           int N, scans *sc, bool *next)
{
    gs_tensor *res[MAX_BODY] = { NULL };
    const gs_tensor *in[MAX_BODY];
    gs_tensor *it = scalar(k->ctx, GS_INT64, i), *c = scalar(k->ctx, GS_BOOL, cond);
    gs_status st = it && c ? GS_OK : gs_nomem(k->ctx);
    in[0] = it, in[1] = c;
    for (int j = 0; j < N; j++)
        in[2 + j] = carried[j];
    if (st == GS_OK)
        st = gs_interp_run_sub(k->interp, body, in, 2 + N, res, body->noutputs);
    gs_tensor_free(k->ctx, it);
    gs_tensor_free(k->ctx, c);
    if (st != GS_OK)
        return st;
    *next = gs_tensor_numel(res[0]) > 0 && gs_tensor_get_i(res[0], 0) != 0;
    gs_tensor_free(k->ctx, res[0]);
    free_all(k->ctx, carried, N);
    for (int j = 0; j < N; j++)
        carried[j] = res[1 + j];
    return scans_add(k, sc, res + 1 + N);
}

static gs_status k_loop(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    const gs_graph *body = body_of(k->node);
    int N = nin - 2, K = nout - N;
    if (!k->interp)
        return gs_kunsupported(k, "a Loop outside the interpreter");
    if (!body || N < 0 || K < 0 || body->noutputs != 1 + N + K || nin > MAX_BODY - 2 ||
        body->noutputs > MAX_BODY)
        return gs_kfail(k, "body inputs and outputs do not match the node");
    gs_tensor *carried[MAX_BODY] = { NULL };
    gs_status st = GS_OK;
    for (int j = 0; j < N && st == GS_OK; j++)
        if (!in[2 + j] || !(carried[j] = gs_tensor_dup(k->ctx, in[2 + j])))
            st = in[2 + j] ? gs_nomem(k->ctx) : gs_kfail(k, "a loop-carried input is missing");
    int64_t M = in[0] && gs_tensor_numel(in[0]) > 0 ? gs_tensor_get_i(in[0], 0) : INT64_MAX;
    bool cond = !in[1] || (gs_tensor_numel(in[1]) > 0 && gs_tensor_get_i(in[1], 0) != 0);
    scans sc = { .K = K };
    int64_t trips = MAX_STEPS / (gs_ir_live_nodes(body) + 1);
    for (int64_t i = 0; st == GS_OK && i < M && cond; i++)
        st = i >= trips ? gs_err(k->ctx, GS_ERR_LIMIT, "node '%s' (Loop): more than %lld iterations of "
                                 "its body", k->node->name, (long long)trips)
                        : loop_step(k, body, i, cond, carried, N, &sc, &cond);
    if (st == GS_OK)
        st = scans_stack(k, &sc, body, 1 + N, NULL, NULL, out + N);
    if (st == GS_OK)
        give(k->ctx, carried, N, out);
    free_all(k->ctx, carried, N);
    scans_free(k->ctx, &sc);
    return st;
}

/* Scan's attribute name of M (or K) axes or directions, each in range. */
static gs_status scan_ints(gs_kcall *k, const char *name, int count, const int64_t **vals)
{
    int n = gs_attr_ints(k->node, name, vals);
    if (n < 0)
        *vals = NULL;
    else if (n != count)
        return gs_kfail(k, "an axes or directions attribute has the wrong length");
    return GS_OK;
}

/* The sequence length of Scan: the scan axis of every scan input, equal. */
static gs_status scan_length(gs_kcall *k, const gs_tensor *const *xs, int M, const int64_t *axes, int64_t *T)
{
    *T = -1;
    for (int j = 0; j < M; j++) {
        int a = xs[j] ? gs_axis(axes ? axes[j] : 0, xs[j]->rank) : -1;
        if (a < 0 || !xs[j]->data || (*T >= 0 && xs[j]->dims[a] != *T))
            return gs_kfail(k, "scan inputs disagree on the sequence length or axis");
        *T = xs[j]->dims[a];
    }
    return *T >= 0 ? GS_OK : gs_kfail(k, "no scan input");
}

static gs_status scan_step(gs_kcall *k, const gs_graph *body, const gs_tensor *const *xs, int M,
                           const int64_t *axes, const int64_t *dirs, int64_t i, int64_t T,
                           gs_tensor **state, int N, scans *sc)
{
    gs_tensor *slices[MAX_BODY] = { NULL }, *res[MAX_BODY] = { NULL };
    const gs_tensor *in[MAX_BODY];
    gs_status st = GS_OK;
    for (int j = 0; j < N; j++)
        in[j] = state[j];
    for (int j = 0; j < M && st == GS_OK; j++) {
        int64_t at = dirs && dirs[j] ? T - 1 - i : i;
        slices[j] = slice_axis(k->ctx, xs[j], gs_axis(axes ? axes[j] : 0, xs[j]->rank), at);
        in[N + j] = slices[j];
        st = slices[j] ? GS_OK : gs_nomem(k->ctx);
    }
    if (st == GS_OK)
        st = gs_interp_run_sub(k->interp, body, in, N + M, res, body->noutputs);
    free_all(k->ctx, slices, M);
    if (st != GS_OK)
        return st;
    free_all(k->ctx, state, N);
    for (int j = 0; j < N; j++)
        state[j] = res[j];
    return scans_add(k, sc, res + N);
}

static gs_status k_scan(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    const gs_graph *body = body_of(k->node);
    int M = (int)gs_attr_int(k->node, "num_scan_inputs", -1), N = nin - M, K = nout - N;
    if (!k->interp)
        return gs_kunsupported(k, "a Scan outside the interpreter");
    if (!body || M < 1 || N < 0 || K < 0 || body->ninputs != N + M || body->noutputs != N + K ||
        nin > MAX_BODY || nout > MAX_BODY)
        return gs_kfail(k, "body inputs and outputs do not match the node");
    const int64_t *in_axes, *in_dirs, *out_axes, *out_dirs;
    int64_t T;
    gs_status st = scan_ints(k, "scan_input_axes", M, &in_axes);
    if (st == GS_OK) st = scan_ints(k, "scan_input_directions", M, &in_dirs);
    if (st == GS_OK) st = scan_ints(k, "scan_output_axes", K, &out_axes);
    if (st == GS_OK) st = scan_ints(k, "scan_output_directions", K, &out_dirs);
    if (st == GS_OK)
        st = scan_length(k, in + N, M, in_axes, &T);
    gs_tensor *state[MAX_BODY] = { NULL };
    for (int j = 0; j < N && st == GS_OK; j++)
        if (!in[j] || !(state[j] = gs_tensor_dup(k->ctx, in[j])))
            st = in[j] ? gs_nomem(k->ctx) : gs_kfail(k, "a state input is missing");
    scans sc = { .K = K };
    for (int64_t i = 0; st == GS_OK && i < T; i++)
        st = scan_step(k, body, in + N, M, in_axes, in_dirs, i, T, state, N, &sc);
    if (st == GS_OK)
        st = scans_stack(k, &sc, body, N, out_axes, out_dirs, out + N);
    if (st == GS_OK)
        give(k->ctx, state, N, out);
    free_all(k->ctx, state, N);
    scans_free(k->ctx, &sc);
    return st;
}

const gs_opdef gs_ops_control[] = {
    { "Constant", 1, 0, 0, 0, 1, 1, 0, "value:t value_float value_floats value_int value_ints",
      infer_constant, NULL, k_constant, GS_RAISE_KEEP },
    /* Loop's trip count and condition may be empty names: min_in 0, the kernel checks */
    { "Loop", 1, 0, 0, 64, 1, -1, GS_OP_CONTROL | GS_OP_GAPS, "body:g", NULL, NULL, k_loop, GS_RAISE_KEEP },
    { "Scan", 9, 0, 1, 64, 1, -1, GS_OP_CONTROL,
      "body:g num_scan_inputs:i scan_input_axes:ints scan_input_directions:ints "
      "scan_output_axes:ints scan_output_directions:ints", NULL, NULL, k_scan, GS_RAISE_KEEP },
    { "If", 1, 0, 1, 1, 1, -1, GS_OP_CONTROL, "then_branch:g else_branch:g", NULL, NULL, k_if,
      GS_RAISE_KEEP },
    { .name = NULL },
};
