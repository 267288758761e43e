/*
 * ops_reduce.c - registry rows for reductions: ReduceSum/Mean/Max/Min/Prod/
 * L1/L2/SumSquare/LogSum/LogSumExp and ArgMax/ArgMin. Axes are an attribute before
 * opset 18 (ReduceSum: 13) and an optional input after; keepdims and
 * noop_with_empty_axes as the spec says.
 */
#include "gs_ops.h"

#include <math.h>
#include <string.h>

typedef enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_SUMSQ, R_LOGSUM, R_LOGSUMEXP } rop;

static bool axes_as_input(const gs_node *n, int64_t opset)
{
    return strcmp(n->op, "ReduceSum") ? opset >= 18 : opset >= 13;
}

/* Reduced axes into mask; false (message set) on a bad axis. *noop when the
 * reduction is the identity (empty axes with noop_with_empty_axes). */
static gs_status reduced_axes(gs_kcall *k, const gs_tensor *const *in, int nin, int rank, bool *mask,
                              bool *noop)
{
    int64_t axes[GS_MAX_RANK];
    int na = -1;
    if (axes_as_input(k->node, k->opset)) {
        if (nin > 1 && in[1]) {
            na = (int)gs_tensor_numel(in[1]);
            for (int i = 0; i < na && i < GS_MAX_RANK; i++)
                axes[i] = gs_tensor_get_i(in[1], i);
        }
    } else {
        const int64_t *a;
        na = gs_attr_ints(k->node, "axes", &a);
        for (int i = 0; i < na && i < GS_MAX_RANK; i++)
            axes[i] = a[i];
    }
    if (na > GS_MAX_RANK)
        return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (%s): too many axes", k->node->name, k->node->op);
    *noop = na <= 0 && gs_attr_int(k->node, "noop_with_empty_axes", 0);
    for (int i = 0; i < rank; i++)
        mask[i] = na <= 0;
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank)
            return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (%s): axis out of range", k->node->name, k->node->op);
        mask[a] = true;
    }
    return GS_OK;
}

static double start(rop op)
{
    switch (op) {
    case R_MAX: return -INFINITY;
    case R_MIN: return INFINITY;
    case R_PROD: return 1;
    default: return 0;
    }
}

static double step(rop op, double acc, double v)
{
    switch (op) {
    case R_MAX: return v > acc || isnan(v) ? v : acc;
    case R_MIN: return v < acc || isnan(v) ? v : acc;
    case R_PROD: return acc * v;
    case R_L1: return acc + fabs(v);
    case R_L2: case R_SUMSQ: return acc + v * v;
    case R_LOGSUMEXP: return acc + exp(v);
    default: return acc + v;
    }
}

static double finish(rop op, double acc, int64_t count)
{
    switch (op) {
    case R_MEAN: return count ? acc / (double)count : NAN;
    case R_L2: return sqrt(acc);
    case R_LOGSUM: case R_LOGSUMEXP: return log(acc);
    default: return acc;
    }
}

static gs_status reduce(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, rop op)
{
    const gs_tensor *x = in[0];
    bool mask[GS_MAX_RANK], noop;
    gs_status st = reduced_axes(k, in, nin, x->rank, mask, &noop);
    if (st != GS_OK)
        return st;
    bool keep = gs_attr_int(k->node, "keepdims", 1);
    int64_t dims[GS_MAX_RANK], kd[GS_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        kd[i] = noop || !mask[i] ? x->dims[i] : 1;
        if (keep || noop || !mask[i])
            dims[r++] = kd[i];
    }
    out->dtype = x->dtype;
    out->rank = r;
    memcpy(out->dims, dims, (size_t)r * 8);
    if ((st = gs_tensor_alloc(k->ctx, out)) != GS_OK)
        return st;
    int64_t n = gs_tensor_numel(out), total = gs_tensor_numel(x);
    double *acc = gs_alloc(k->ctx, (size_t)(n ? n : 1) * sizeof *acc);
    if (!acc)
        return gs_nomem(k->ctx);
    for (int64_t i = 0; i < n; i++)
        acc[i] = start(op);
    gs_bcast b;   /* x index -> reduced index: broadcasting kd to x's dims, inverted */
    gs_bcast_init(&b, x->dims, x->rank, kd, x->rank);
    for (int64_t i = 0; i < total; i++) {
        int64_t o = gs_bcast_index(&b, i);
        acc[o] = noop ? gs_tensor_get_f(x, i) : step(op, acc[o], gs_tensor_get_f(x, i));
    }
    int64_t count = n ? total / n : 0;
    for (int64_t i = 0; i < n; i++)
        gs_tensor_set_f(out, i, noop ? acc[i] : finish(op, acc[i], count));
    gs_dealloc(k->ctx, acc);
    return GS_OK;
}

#define REDUCE(name, op)                                                                \
    static gs_status k_##name(gs_kcall *k, const gs_tensor *const *in, int nin,         \
                              gs_tensor *out, int nout)                                 \
    {                                                                                   \
        (void)nout;                                                                     \
        return reduce(k, in, nin, out, op);                                             \
    }

/* One kernel per row, each the reduction its rop names: ReduceLogSum is the
 * log of the sum (-inf for an empty one), ReduceLogSumExp of the sum of exp. */
REDUCE(sum, R_SUM)
REDUCE(mean, R_MEAN)
REDUCE(max, R_MAX)
REDUCE(min, R_MIN)
REDUCE(prod, R_PROD)
REDUCE(l1, R_L1)
REDUCE(l2, R_L2)
REDUCE(sumsq, R_SUMSQ)
REDUCE(logsum, R_LOGSUM)
REDUCE(lse, R_LOGSUMEXP)

static gs_status arg(gs_kcall *k, const gs_tensor *x, gs_tensor *out, bool max)
{
    int axis = gs_axis(gs_attr_int(k->node, "axis", 0), x->rank);
    if (axis < 0)
        return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (%s): axis out of range", k->node->name, k->node->op);
    bool keep = gs_attr_int(k->node, "keepdims", 1), last = gs_attr_int(k->node, "select_last_index", 0);
    int64_t outer = gs_numel(x->dims, axis), len = x->dims[axis];
    int64_t inner = gs_numel(x->dims + axis + 1, x->rank - axis - 1);
    if (len == 0 && outer * inner > 0)
        return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (%s): the axis is empty", k->node->name, k->node->op);
    out->dtype = GS_INT64;
    out->rank = 0;
    for (int i = 0; i < x->rank; i++)
        if (i != axis || keep)
            out->dims[out->rank++] = i == axis ? 1 : x->dims[i];
    gs_status st = gs_tensor_alloc(k->ctx, out);
    for (int64_t o = 0; st == GS_OK && o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t best = 0;
            double bv = gs_tensor_get_f(x, o * len * inner + i);
            for (int64_t j = 1; j < len; j++) {
                double v = gs_tensor_get_f(x, (o * len + j) * inner + i);
                if (max ? (v > bv || (last && v == bv)) : (v < bv || (last && v == bv)))
                    bv = v, best = j;
            }
            ((int64_t *)out->data)[o * inner + i] = best;
        }
    return st;
}

static gs_status k_argmax(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return arg(k, in[0], out, true);
}

static gs_status k_argmin(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return arg(k, in[0], out, false);
}

/* Shapes when the axes are known (attribute, or a constant input). */
static gs_status infer_reduce(gs_graph *g, gs_node *n)
{
    const gs_value *x = n->in[0] != GS_NONE ? &g->values[n->in[0]] : NULL;
    if (!x || x->rank < 0)
        return GS_OK;
    int64_t axes[GS_MAX_RANK];
    int na = -1;
    if (axes_as_input(n, g->opset)) {
        const gs_tensor *t = gs_infer_const(g, n, 1);
        if (n->nin > 1 && n->in[1] != GS_NONE && !t)
            return GS_OK;
        na = t ? (int)gs_tensor_numel(t) : 0;
        for (int i = 0; t && i < na && i < GS_MAX_RANK; i++)
            axes[i] = gs_tensor_get_i(t, i);
    } else {
        const int64_t *a;
        na = gs_attr_ints(n, "axes", &a);
        for (int i = 0; i < na && i < GS_MAX_RANK; i++)
            axes[i] = a[i];
    }
    if (na > GS_MAX_RANK)
        return GS_OK;
    bool noop = na <= 0 && gs_attr_int(n, "noop_with_empty_axes", 0), keep = gs_attr_int(n, "keepdims", 1);
    bool mask[GS_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        mask[i] = !noop && na <= 0;
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];
        if (a < 0 || a >= x->rank)
            return GS_OK;
        mask[a] = true;
    }
    gs_dim dims[GS_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!mask[i])
            dims[r++] = x->dims[i];
        else if (keep)
            dims[r++] = (gs_dim){ 1, NULL };
    return gs_infer_set(g, n->out[0], x->dtype, r, dims);
}

static void cost_reduce(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    gs_cost_default(g, n, c);
    c->flops = c->bytes_read / 4;   /* one operation per input element */
}

#define RROW(name, fn, raise) { name, 1, 0, 1, 2, 1, 1, 0, "axes keepdims:i=1 noop_with_empty_axes:i=0", \
                                infer_reduce, cost_reduce, k_##fn, GS_RAISE_##raise }

const gs_opdef gs_ops_reduce[] = {
    /* ReduceSum took its axes as an input already at 13 */
    RROW("ReduceSum", sum, KEEP), RROW("ReduceMean", mean, AXES_TO_INPUT),
    RROW("ReduceMax", max, AXES_TO_INPUT), RROW("ReduceMin", min, AXES_TO_INPUT),
    RROW("ReduceProd", prod, AXES_TO_INPUT), RROW("ReduceL1", l1, AXES_TO_INPUT),
    RROW("ReduceL2", l2, AXES_TO_INPUT), RROW("ReduceSumSquare", sumsq, AXES_TO_INPUT),
    RROW("ReduceLogSum", logsum, AXES_TO_INPUT), RROW("ReduceLogSumExp", lse, AXES_TO_INPUT),
    { "ArgMax", 1, 0, 1, 1, 1, 1, 0, "axis:i=0 keepdims:i=1 select_last_index:i=0", gs_infer_argminmax,
      NULL, k_argmax, GS_RAISE_KEEP },
    { "ArgMin", 1, 0, 1, 1, 1, 1, 0, "axis:i=0 keepdims:i=1 select_last_index:i=0", gs_infer_argminmax,
      NULL, k_argmin, GS_RAISE_KEEP },
    { .name = NULL },
};
