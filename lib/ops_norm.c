/*
 * ops_norm.c - the normalizations (BatchNormalization in inference,
 * LayerNormalization, RMSNormalization, InstanceNormalization, LRN,
 * LpNormalization, MeanVarianceNormalization) and Softmax, LogSoftmax,
 * Hardmax.
 *
 * Each normalizes groups of elements with statistics computed in double, so
 * the results are accurate references for the rules that fold or fuse them.
 * They are cheap next to convolutions and matrix products and are written
 * for clarity, through the dtype-generic element accessors.
 */
#include "gs_ops.h"

#include <math.h>
#include <string.h>

/* ---- normalizations ------------------------------------------------------- */

static gs_status k_batchnorm(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin;
    if (gs_attr_int(k->node, "training_mode", 0) || nout > 1 ||
        (k->opset < 7 && gs_attr_int(k->node, "is_test", 0) == 0))
        return gs_kunsupported(k, "training mode");
    const gs_tensor *x = in[0];
    float eps = gs_attr_float(k->node, "epsilon", 1e-5f);
    if (x->rank < 2)
        return gs_kfail(k, "input rank must be 2 or more");
    int64_t C = x->dims[1], inner = gs_numel(x->dims + 2, x->rank - 2), N = x->dims[0];
    for (int i = 1; i < 5; i++)
        if (gs_tensor_numel(in[i]) != C)
            return gs_kfail(k, "scale, bias, mean and variance must have C elements");
    gs_status st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
    if (st != GS_OK || !gs_tensor_numel(x))
        return st;   /* no looping over the N and C of [2^40, 3, 0] */
    for (int64_t c = 0; st == GS_OK && c < C; c++) {
        double s = gs_tensor_get_f(in[1], c) / sqrt(gs_tensor_get_f(in[4], c) + eps);
        double b = gs_tensor_get_f(in[2], c) - gs_tensor_get_f(in[3], c) * s;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t idx = (n * C + c) * inner + i;
                gs_tensor_set_f(out, idx, gs_tensor_get_f(x, idx) * s + b);
            }
    }
    return st;
}

/* t broadcasts to dims[0..rank) in one direction (numpy rules, t's dims
 * aligned to the right, each 1 or equal). */
static bool broadcasts_to(const gs_tensor *t, const int64_t *dims, int rank)
{
    if (t->rank > rank)
        return false;
    for (int i = 0; i < t->rank; i++) {
        int64_t d = t->dims[t->rank - 1 - i], want = dims[rank - 1 - i];
        if (d != 1 && d != want)
            return false;
    }
    return true;
}

/* Mean and (biased) variance of x[first .. first + n). */
static void moments(const gs_tensor *x, int64_t first, int64_t n, double *mean, double *var)
{
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; i++)
        m += gs_tensor_get_f(x, first + i);
    m /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        double d = gs_tensor_get_f(x, first + i) - m;
        v += d * d;
    }
    *mean = m;
    *var = v / (double)n;
}

/* The groups along axis (in [0, rank)) of x: outer * inner groups of len
 * elements each, inner apart, the group of (o, i) starting at
 * o * len * inner + i. With flatten (x taken as 2-D at axis), a group is
 * everything from axis on. An empty x has no groups (outer 0), so a kernel
 * does not loop over [2^40, 3, 0] for nothing. */
static void axis_groups(const gs_tensor *x, int axis, bool flatten, int64_t *outer, int64_t *len,
                        int64_t *inner)
{
    *outer = gs_tensor_numel(x) ? gs_numel(x->dims, axis) : 0;
    if (flatten) {
        *len = gs_numel(x->dims + axis, x->rank - axis), *inner = 1;
    } else {
        *len = x->dims[axis], *inner = gs_numel(x->dims + axis + 1, x->rank - axis - 1);
    }
}

/* Normalize groups of `inner` elements: (x - mean) / sqrt(var + eps) * scale + bias,
 * with scale/bias indexed by sidx(group, i). */
static gs_status k_layernorm(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    const gs_tensor *x = in[0], *sc = in[1], *bi = nin > 2 ? in[2] : NULL;
    int axis = gs_axis(gs_attr_int(k->node, "axis", -1), x->rank);
    if (axis < 0)
        return gs_kfail(k, "axis out of range");
    float eps = gs_attr_float(k->node, "epsilon", 1e-5f);
    int nr = x->rank - axis;
    if (!broadcasts_to(sc, x->dims + axis, nr) || (bi && !broadcasts_to(bi, x->dims + axis, nr)))
        return gs_kfail(k, "scale and bias must broadcast to the normalized dims");
    int64_t outer = gs_numel(x->dims, axis), inner = gs_numel(x->dims + axis, x->rank - axis);
    int64_t sdims[GS_MAX_RANK];
    memcpy(sdims, x->dims, (size_t)axis * 8);
    for (int i = axis; i < x->rank; i++)
        sdims[i] = 1;
    gs_status st = gs_kmake(k, &out[0], x->dtype, x->dims, x->rank);
    int32_t stype = (int32_t)gs_attr_int(k->node, "stash_type", 1);
    for (int j = 1; st == GS_OK && j < nout && j < 3; j++)
        if (k->node->out[j] != GS_NONE)
            st = gs_kmake(k, &out[j], stype == GS_DOUBLE ? GS_DOUBLE : GS_FLOAT, sdims, x->rank);
    gs_bcast bs, bb;
    gs_bcast_init(&bs, x->dims + axis, x->rank - axis, sc->dims, sc->rank);
    if (bi)
        gs_bcast_init(&bb, x->dims + axis, x->rank - axis, bi->dims, bi->rank);
    if (!inner)   /* groups of nothing: only the statistics written, no looping over [2^40, 3, 0] */
        outer = nout > 1 && out[1].data ? outer : nout > 2 && out[2].data ? outer : 0;
    for (int64_t o = 0; st == GS_OK && o < outer; o++) {
        double mean, var;
        moments(x, o * inner, inner, &mean, &var);
        double inv = 1 / sqrt(var + eps);
        for (int64_t i = 0; i < inner; i++) {
            double v = (gs_tensor_get_f(x, o * inner + i) - mean) * inv *
                       gs_tensor_get_f(sc, gs_bcast_index(&bs, i));
            if (bi)
                v += gs_tensor_get_f(bi, gs_bcast_index(&bb, i));
            gs_tensor_set_f(&out[0], o * inner + i, v);
        }
        if (nout > 1 && out[1].data)
            gs_tensor_set_f(&out[1], o, mean);
        if (nout > 2 && out[2].data)
            gs_tensor_set_f(&out[2], o, inv);
    }
    return st;
}

/* RMSNormalization (opset 23): x / sqrt(mean(x^2) + eps) * scale over the
 * dims from axis on; the statistics in double whatever stash_type asks. */
static gs_status k_rmsnorm(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0], *sc = in[1];
    int axis = gs_axis(gs_attr_int(k->node, "axis", -1), x->rank);
    if (axis < 0)
        return gs_kfail(k, "axis out of range");
    float eps = gs_attr_float(k->node, "epsilon", 1e-5f);
    int nr = x->rank - axis;
    if (!broadcasts_to(sc, x->dims + axis, nr))
        return gs_kfail(k, "scale must broadcast to the normalized dims");
    int64_t outer = gs_numel(x->dims, axis), inner = gs_numel(x->dims + axis, nr);
    gs_status st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
    if (!inner)
        outer = 0;   /* an empty output: no looping over [2^40, 3, 0] */
    gs_bcast bs;
    gs_bcast_init(&bs, x->dims + axis, nr, sc->dims, sc->rank);
    for (int64_t o = 0; st == GS_OK && o < outer; o++) {
        double ms = 0;
        for (int64_t i = 0; i < inner; i++) {
            double v = gs_tensor_get_f(x, o * inner + i);
            ms += v * v;
        }
        double inv = 1 / sqrt(ms / (double)(inner ? inner : 1) + eps);
        for (int64_t i = 0; i < inner; i++)
            gs_tensor_set_f(out, o * inner + i, gs_tensor_get_f(x, o * inner + i) * inv *
                                                    gs_tensor_get_f(sc, gs_bcast_index(&bs, i)));
    }
    return st;
}

static gs_status k_instancenorm(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    float eps = gs_attr_float(k->node, "epsilon", 1e-5f);
    if (x->rank < 3)
        return gs_kfail(k, "input rank must be 3 or more");
    int64_t N = x->dims[0], C = x->dims[1], inner = gs_numel(x->dims + 2, x->rank - 2);
    if (gs_tensor_numel(in[1]) != C || gs_tensor_numel(in[2]) != C)
        return gs_kfail(k, "scale and bias must have C elements");
    gs_status st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
    for (int64_t p = 0; st == GS_OK && inner && p < N * C; p++) {   /* ([2^40, 3, 0]: no loop) */
        double mean, var;
        moments(x, p * inner, inner, &mean, &var);
        double s = gs_tensor_get_f(in[1], p % C) / sqrt(var + eps), b = gs_tensor_get_f(in[2], p % C);
        for (int64_t i = 0; i < inner; i++)
            gs_tensor_set_f(out, p * inner + i, (gs_tensor_get_f(x, p * inner + i) - mean) * s + b);
    }
    return st;
}

/* The sum of squares of x[n, lo..hi, ...] at one spatial position: base is
 * the flat index of x[n, 0, ...], channels inner apart. */
static double square_sum(const gs_tensor *x, int64_t base, int64_t inner, int64_t lo, int64_t hi)
{
    double s = 0;
    for (int64_t c = lo; c <= hi; c++) {
        double v = gs_tensor_get_f(x, base + c * inner);
        s += v * v;
    }
    return s;
}

/* LRN over x [N, C, D1, ...]: x / (bias + alpha / size * s)^beta, s the sum
 * of squares over channels c - floor((size - 1) / 2) to c + ceil((size - 1)
 * / 2), clipped to [0, C), at the same n and spatial position. */
static gs_status k_lrn(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    int64_t size = gs_attr_int(k->node, "size", 0);
    if (x->rank < 2)
        return gs_kfail(k, "input rank must be 2 or more");
    if (size < 1)
        return gs_kfail(k, "size must be 1 or more");
    double alpha = gs_attr_float(k->node, "alpha", 1e-4f), beta = gs_attr_float(k->node, "beta", 0.75f);
    double bias = gs_attr_float(k->node, "bias", 1.0f);
    int64_t N = x->dims[0], C = x->dims[1], inner = gs_numel(x->dims + 2, x->rank - 2);
    int64_t below = (size - 1) / 2, above = size / 2;   /* floor and ceil of (size - 1) / 2 */
    gs_status st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
    if (st != GS_OK || gs_tensor_numel(x) == 0)
        return st;   /* no looping over the N and C of [2^20, 2^20, 0] */
    for (int64_t n = 0; st == GS_OK && n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t base = n * C * inner + i, idx = base + c * inner;
                double s = square_sum(x, base, inner, c > below ? c - below : 0,
                                      above < C - 1 - c ? c + above : C - 1);
                gs_tensor_set_f(out, idx, gs_tensor_get_f(x, idx) / pow(bias + alpha / (double)size * s, beta));
            }
    return st;
}

/* The L1 (p 1) or L2 (p 2) norm of the group of len elements from base,
 * inner apart. */
static double lp_norm(const gs_tensor *x, int64_t base, int64_t len, int64_t inner, int64_t p)
{
    double s = 0;
    for (int64_t j = 0; j < len; j++) {
        double v = gs_tensor_get_f(x, base + j * inner);
        s += p == 1 ? fabs(v) : v * v;
    }
    return p == 1 ? s : sqrt(s);
}

/* LpNormalization: x / ||x||_p along axis (default -1), p 1 or 2 (the only
 * orders the spec allows). A group of norm 0 gives zeros, not 0 / 0, as
 * ONNX's reference implementation and ONNX Runtime have it. */
static gs_status k_lpnorm(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    int axis = gs_axis(gs_attr_int(k->node, "axis", -1), x->rank);
    int64_t p = gs_attr_int(k->node, "p", 2), outer, len, inner;
    if (axis < 0)
        return gs_kfail(k, "axis out of range");
    if (p != 1 && p != 2)
        return gs_kfail(k, "p must be 1 or 2");
    axis_groups(x, axis, false, &outer, &len, &inner);
    gs_status st = gs_kmake(k, out, x->dtype, x->dims, x->rank);   /* zeroed */
    for (int64_t o = 0; st == GS_OK && o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i;
            double norm = lp_norm(x, base, len, inner, p);
            for (int64_t j = 0; j < len && norm != 0; j++)
                gs_tensor_set_f(out, base + j * inner, gs_tensor_get_f(x, base + j * inner) / norm);
        }
    return st;
}

/* The axes MeanVarianceNormalization reduces, as a mask over rank dims:
 * its axes attribute (default 0, 2, 3). An empty list means every axis, as
 * the ReduceMean of the op's function body reads it. */
static gs_status mvn_axes(gs_kcall *k, int rank, bool *mask)
{
    static const int64_t dflt[] = { 0, 2, 3 };
    const int64_t *a;
    int na = gs_attr_ints(k->node, "axes", &a);
    if (na < 0)
        a = dflt, na = 3;
    for (int d = 0; d < rank; d++)
        mask[d] = na == 0;
    for (int i = 0; i < na; i++) {
        int d = gs_axis(a[i], rank);
        if (d < 0)
            return gs_kfail(k, a == dflt ? "the default axes 0, 2, 3 need an input of rank 4 or more"
                                         : "axis out of range");
        if (mask[d])
            return gs_kfail(k, "an axis is listed twice");
        mask[d] = true;
    }
    return GS_OK;
}

/* The group of flat element i of x (not empty): its coordinates along the
 * dims mask leaves, as a flat index over those dims. */
static int64_t group_of(const gs_tensor *x, const bool *mask, int64_t i)
{
    int64_t g = 0, stride = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        int64_t c = i % x->dims[d];
        i /= x->dims[d];
        if (!mask[d])
            g += c * stride, stride *= x->dims[d];
    }
    return g;
}

/* The mean (m[2 * g]) and biased variance (m[2 * g + 1]) of each of the
 * groups of x (count elements each), in two passes; m starts zeroed. */
static void mvn_moments(const gs_tensor *x, const bool *mask, int64_t groups, int64_t count, double *m)
{
    int64_t n = gs_tensor_numel(x);
    for (int64_t i = 0; i < n; i++)
        m[2 * group_of(x, mask, i)] += gs_tensor_get_f(x, i);
    for (int64_t g = 0; g < groups; g++)
        m[2 * g] /= (double)count;
    for (int64_t i = 0; i < n; i++) {
        int64_t g = group_of(x, mask, i);
        double d = gs_tensor_get_f(x, i) - m[2 * g];
        m[2 * g + 1] += d * d;
    }
    for (int64_t g = 0; g < groups; g++)
        m[2 * g + 1] /= (double)count;
}

/* MeanVarianceNormalization: (x - mean) / (sqrt(var) + 1e-9), mean and
 * biased variance over the axes listed, at each position along the other
 * dims; 1e-9 is the float constant of the op's function body. The variance
 * is (x - mean)^2 averaged in double where the body takes E[x^2] - E[x]^2,
 * which can round below 0. */
static gs_status k_mvn(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    bool mask[GS_MAX_RANK];
    gs_status st = mvn_axes(k, x->rank, mask);
    if (st == GS_OK)
        st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
    int64_t n = gs_tensor_numel(x), groups = 1;
    if (st != GS_OK || n == 0)
        return st;
    for (int d = 0; d < x->rank; d++)
        groups *= mask[d] ? 1 : x->dims[d];
    int64_t mdims[2] = { groups, 2 };
    gs_tensor m = { 0 };
    st = gs_kmake(k, &m, GS_DOUBLE, mdims, 2);
    if (st == GS_OK) {
        const double *ms = m.data;
        const double eps = (double)1e-9f;
        mvn_moments(x, mask, groups, n / groups, m.data);
        for (int64_t i = 0; i < n; i++) {
            int64_t g = group_of(x, mask, i);
            gs_tensor_set_f(out, i, (gs_tensor_get_f(x, i) - ms[2 * g]) / (sqrt(ms[2 * g + 1]) + eps));
        }
    }
    gs_tensor_clear(k->ctx, &m);
    return st;
}

/* ---- Softmax, LogSoftmax --------------------------------------------------- */

/* The groups a softmax-like op (Softmax, LogSoftmax, Hardmax) works on:
 * before opset 13 the input is flattened to 2-D at axis (default 1); from
 * 13 a group runs along one axis (default -1). */
static gs_status softmax_groups(gs_kcall *k, const gs_tensor *x, int64_t *outer, int64_t *len, int64_t *inner)
{
    int axis = gs_axis(gs_attr_int(k->node, "axis", k->opset >= 13 ? -1 : 1), x->rank);
    if (axis < 0)
        return gs_kfail(k, "axis out of range");
    axis_groups(x, axis, k->opset < 13, outer, len, inner);
    return GS_OK;
}

static gs_status softmax(gs_kcall *k, const gs_tensor *x, gs_tensor *out, bool log_)
{
    int64_t outer, len, inner;
    gs_status st = softmax_groups(k, x, &outer, &len, &inner);
    if (st == GS_OK)
        st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
    for (int64_t o = 0; st == GS_OK && o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i;
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < len; j++)
                mx = fmax(mx, gs_tensor_get_f(x, base + j * inner));
            for (int64_t j = 0; j < len; j++)
                sum += exp(gs_tensor_get_f(x, base + j * inner) - mx);
            for (int64_t j = 0; j < len; j++) {
                double v = gs_tensor_get_f(x, base + j * inner) - mx;
                gs_tensor_set_f(out, base + j * inner, log_ ? v - log(sum) : exp(v) / sum);
            }
        }
    return st;
}

static gs_status k_softmax(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return softmax(k, in[0], out, false);
}

static gs_status k_logsoftmax(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return softmax(k, in[0], out, true);
}

/* a beats b as a group's maximum: greater, or NaN where b is not (numpy's
 * argmax, which ONNX's Hardmax tests use, takes the first NaN) */
static bool beats(double a, double b)
{
    return a > b || (isnan(a) && !isnan(b));
}

/* Hardmax: 1 at the first maximum of each group of softmax_groups(), 0 at
 * every other element. */
static gs_status k_hardmax(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    int64_t outer, len, inner;
    gs_status st = softmax_groups(k, x, &outer, &len, &inner);
    if (st == GS_OK)
        st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
    for (int64_t o = 0; st == GS_OK && o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i, best = 0;
            for (int64_t j = 1; j < len; j++)
                if (beats(gs_tensor_get_f(x, base + j * inner), gs_tensor_get_f(x, base + best * inner)))
                    best = j;
            gs_tensor_set_f(out, base + best * inner, 1);
        }
    return st;
}

/* ---- shape inference and cost ---------------------------------------------- */

static const gs_value *val(const gs_graph *g, const gs_node *n, int k)
{
    return k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
}

static gs_status infer_layernorm(gs_graph *g, gs_node *n)
{
    gs_status st = gs_infer_same(g, n);
    const gs_value *x = val(g, n, 0);
    if (st != GS_OK || !x || x->rank < 0 || n->nout < 2)
        return st;
    int axis = gs_axis(gs_attr_int(n, "axis", -1), x->rank);
    if (axis < 0)
        return st;
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = i < axis ? x->dims[i] : (gs_dim){ 1, NULL };
    for (int j = 1; j < n->nout && st == GS_OK; j++)
        st = gs_infer_set(g, n->out[j], GS_FLOAT, x->rank, dims);
    return st;
}

/* Normalizations and softmax: a handful of operations per element. */
static void cost_norm(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    gs_cost_default(g, n, c);
    c->flops *= 5;
}

/* ---- the table -------------------------------------------------------------- */

const gs_opdef gs_ops_norm[] = {
    { "BatchNormalization", 1, 0, 5, 5, 1, 5, 0, "epsilon:f=1e-5 momentum:f training_mode:i=0 spatial:i=1",
      gs_infer_same, cost_norm, k_batchnorm, GS_RAISE_INFERENCE_BN },
    { "LayerNormalization", 17, 0, 2, 3, 1, 3, 0, "axis:i=-1 epsilon:f=1e-5 stash_type:i=1",
      infer_layernorm, cost_norm, k_layernorm, GS_RAISE_KEEP },
    { "RMSNormalization", 23, 0, 2, 2, 1, 1, 0, "axis:i=-1 epsilon:f=1e-5 stash_type:i=1", gs_infer_same,
      cost_norm, k_rmsnorm, GS_RAISE_KEEP },
    { "InstanceNormalization", 1, 0, 3, 3, 1, 1, 0, "epsilon:f=1e-5", gs_infer_same, cost_norm,
      k_instancenorm, GS_RAISE_KEEP },
    /* LRN-13 only added bfloat16 to LRN-1 */
    { "LRN", 1, 0, 1, 1, 1, 1, 0, "alpha:f=0.0001 beta:f=0.75 bias:f=1 size:i", gs_infer_same, cost_norm,
      k_lrn, GS_RAISE_KEEP },
    { "LpNormalization", 1, 0, 1, 1, 1, 1, 0, "axis:i=-1 p:i=2", gs_infer_same, cost_norm, k_lpnorm,
      GS_RAISE_KEEP },
    /* MeanVarianceNormalization-13 only added bfloat16 to -9 */
    { "MeanVarianceNormalization", 9, 0, 1, 1, 1, 1, 0, "axes:ints=0,2,3", gs_infer_same, cost_norm, k_mvn,
      GS_RAISE_KEEP },
    { "Softmax", 1, 12, 1, 1, 1, 1, 0, "axis:i=1", gs_infer_same, cost_norm, k_softmax, GS_RAISE_KEEP },
    { "Softmax", 13, 0, 1, 1, 1, 1, 0, "axis:i=-1", gs_infer_same, cost_norm, k_softmax, GS_RAISE_KEEP },
    { "LogSoftmax", 1, 12, 1, 1, 1, 1, 0, "axis:i=1", gs_infer_same, cost_norm, k_logsoftmax, GS_RAISE_KEEP },
    { "LogSoftmax", 13, 0, 1, 1, 1, 1, 0, "axis:i=-1", gs_infer_same, cost_norm, k_logsoftmax,
      GS_RAISE_KEEP },
    /* before opset 13 the input is flattened to 2-D at axis: the meaning changed at 13 */
    { "Hardmax", 1, 12, 1, 1, 1, 1, 0, "axis:i=1", gs_infer_same, NULL, k_hardmax, GS_RAISE_NO },
    { "Hardmax", 13, 0, 1, 1, 1, 1, 0, "axis:i=-1", gs_infer_same, NULL, k_hardmax, GS_RAISE_KEEP },
    { .name = NULL },
};
