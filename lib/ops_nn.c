/*
 * ops_nn.c - registry rows for the neural-network ops: MatMul, Gemm, Conv,
 * pools, normalizations, Softmax. These carry most of a model's FLOPs, so
 * their cost functions matter to the search, and their kernels share one
 * cache-blocked float GEMM (Conv as im2col + GEMM) so a ResNet-50 runs in
 * seconds. Other dtypes run through float conversion where the ops allow.
 */
#include "gs_ops.h"

#include <math.h>
#include <string.h>

/* A float32 view of x: x itself, or a converted copy in *tmp. */
static gs_status as_float(gs_kcall *k, const gs_tensor *x, gs_tensor *tmp, const float **out)
{
    if (x->dtype == GS_FLOAT) {
        *out = x->data;
        return GS_OK;
    }
    if (x->dtype != GS_DOUBLE && x->dtype != GS_FLOAT16 && x->dtype != GS_BFLOAT16)
        return gs_kunsupported(k, gs_dtype_name(x->dtype));
    gs_status st = gs_kmake(k, tmp, GS_FLOAT, x->dims, x->rank);
    int64_t n = gs_tensor_numel(x);
    for (int64_t i = 0; st == GS_OK && i < n; i++)
        ((float *)tmp->data)[i] = (float)gs_tensor_get_f(x, i);
    *out = tmp->data;
    return st;
}

/* Store a float32 result into out of the given dtype (converting). */
static gs_status from_float(gs_kcall *k, gs_tensor *f, gs_tensor *out, int32_t dtype)
{
    if (dtype == GS_FLOAT) {
        *out = *f;
        memset(f, 0, sizeof *f);
        return GS_OK;
    }
    gs_status st = gs_kmake(k, out, dtype, f->dims, f->rank);
    int64_t n = gs_tensor_numel(f);
    for (int64_t i = 0; st == GS_OK && i < n; i++)
        gs_tensor_set_f(out, i, ((float *)f->data)[i]);
    gs_tensor_clear(k->ctx, f);
    return st;
}

/* ---- GEMM: C[m,n] = alpha * op(A) * op(B) + beta * C -------------------- */

typedef struct mat {
    const float *p;
    int64_t rs, cs;   /* row and column strides */
} mat;

/* C (row-major, ldc) += alpha * A * B, blocked so the inner loop streams
 * contiguous rows of B and C. */
static void gemm(int64_t m, int64_t n, int64_t kk, float alpha, mat a, mat b, float *c, int64_t ldc)
{
    enum { BK = 128, BN = 512 };
    for (int64_t k0 = 0; k0 < kk; k0 += BK) {
        int64_t k1 = k0 + BK < kk ? k0 + BK : kk;
        for (int64_t n0 = 0; n0 < n; n0 += BN) {
            int64_t n1 = n0 + BN < n ? n0 + BN : n;
            for (int64_t i = 0; i < m; i++) {
                float *crow = c + i * ldc;
                for (int64_t p = k0; p < k1; p++) {
                    float av = alpha * a.p[i * a.rs + p * a.cs];
                    if (av == 0)
                        continue;
                    const float *brow = b.p + p * b.rs;
                    if (b.cs == 1)
                        for (int64_t j = n0; j < n1; j++)
                            crow[j] += av * brow[j];
                    else
                        for (int64_t j = n0; j < n1; j++)
                            crow[j] += av * brow[j * b.cs];
                }
            }
        }
    }
}

/* ---- MatMul (numpy batching) ---------------------------------------------- */

static gs_status k_matmul(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *a = in[0], *b = in[1];
    if (a->rank < 1 || b->rank < 1)
        return gs_kfail(k, "operands must have rank 1 or more");
    int64_t ad[GS_MAX_RANK], bd[GS_MAX_RANK];
    int ar = a->rank == 1 ? 2 : a->rank, br = b->rank == 1 ? 2 : b->rank;
    memcpy(ad, a->dims, (size_t)a->rank * 8);
    memcpy(bd, b->dims, (size_t)b->rank * 8);
    if (a->rank == 1)
        ad[1] = ad[0], ad[0] = 1;
    if (b->rank == 1)
        bd[1] = 1;
    int64_t m = ad[ar - 2], kk = ad[ar - 1], n = bd[br - 1];
    if (bd[br - 2] != kk)
        return gs_kfail(k, "inner dimensions differ");
    int64_t batch[GS_MAX_RANK], dims[GS_MAX_RANK];
    int rb;
    if (!gs_broadcast_shape(ad, ar - 2, bd, br - 2, batch, &rb) || rb + 2 > GS_MAX_RANK)
        return gs_kfail(k, "batch dimensions do not broadcast");
    memcpy(dims, batch, (size_t)rb * 8);
    int r = rb;
    if (a->rank > 1)
        dims[r++] = m;
    if (b->rank > 1)
        dims[r++] = n;
    gs_tensor ta = { 0 }, tb = { 0 }, f = { 0 };
    const float *pa, *pb;
    gs_status st = as_float(k, a, &ta, &pa);
    if (st == GS_OK)
        st = as_float(k, b, &tb, &pb);
    if (st == GS_OK)
        st = gs_kmake(k, &f, GS_FLOAT, dims, r);
    if (st == GS_OK) {
        gs_bcast ba, bb;
        gs_bcast_init(&ba, batch, rb, ad, ar - 2);
        gs_bcast_init(&bb, batch, rb, bd, br - 2);
        int64_t nb = gs_numel(batch, rb);
        for (int64_t i = 0; i < nb; i++) {
            mat ma = { pa + gs_bcast_index(&ba, i) * m * kk, kk, 1 };
            mat mb = { pb + gs_bcast_index(&bb, i) * kk * n, n, 1 };
            gemm(m, n, kk, 1.0f, ma, mb, (float *)f.data + i * m * n, n);
        }
        st = from_float(k, &f, out, a->dtype);
    }
    gs_tensor_clear(k->ctx, &ta);
    gs_tensor_clear(k->ctx, &tb);
    gs_tensor_clear(k->ctx, &f);
    return st;
}

static gs_status k_gemm(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *a = in[0], *b = in[1], *c = nin > 2 ? in[2] : NULL;
    if (a->rank != 2 || b->rank != 2)
        return gs_kfail(k, "A and B must be matrices");
    int ta_ = (int)gs_attr_int(k->node, "transA", 0), tb_ = (int)gs_attr_int(k->node, "transB", 0);
    float alpha = gs_attr_float(k->node, "alpha", 1), beta = gs_attr_float(k->node, "beta", 1);
    int64_t m = ta_ ? a->dims[1] : a->dims[0], kk = ta_ ? a->dims[0] : a->dims[1];
    int64_t n = tb_ ? b->dims[0] : b->dims[1];
    if ((tb_ ? b->dims[1] : b->dims[0]) != kk)
        return gs_kfail(k, "inner dimensions differ");
    int64_t dims[2] = { m, n };
    gs_tensor tA = { 0 }, tB = { 0 }, f = { 0 };
    const float *pa, *pb;
    gs_status st = as_float(k, a, &tA, &pa);
    if (st == GS_OK)
        st = as_float(k, b, &tB, &pb);
    if (st == GS_OK)
        st = gs_kmake(k, &f, GS_FLOAT, dims, 2);
    if (st == GS_OK && c && beta != 0) {
        gs_bcast bc;
        int64_t cd[2];
        int rc;
        if (!gs_broadcast_shape(dims, 2, c->dims, c->rank, cd, &rc) || cd[0] != m || cd[1] != n)
            st = gs_kfail(k, "C does not broadcast to the output");
        gs_bcast_init(&bc, dims, 2, c->dims, c->rank);
        for (int64_t i = 0; st == GS_OK && i < m * n; i++)
            ((float *)f.data)[i] = beta * (float)gs_tensor_get_f(c, gs_bcast_index(&bc, i));
    }
    if (st == GS_OK) {
        mat ma = ta_ ? (mat){ pa, 1, m } : (mat){ pa, kk, 1 };
        mat mb = tb_ ? (mat){ pb, 1, kk } : (mat){ pb, n, 1 };
        gemm(m, n, kk, alpha, ma, mb, f.data, n);
        st = from_float(k, &f, out, a->dtype);
    }
    gs_tensor_clear(k->ctx, &tA);
    gs_tensor_clear(k->ctx, &tB);
    gs_tensor_clear(k->ctx, &f);
    return st;
}

/* ---- windows: Conv and pools share the output-size logic ------------------ */

typedef struct window {
    int nd;                               /* spatial dims */
    int64_t kernel[GS_MAX_RANK], stride[GS_MAX_RANK], dil[GS_MAX_RANK];
    int64_t pad0[GS_MAX_RANK], pad1[GS_MAX_RANK];
    int64_t in[GS_MAX_RANK], out[GS_MAX_RANK];
} window;

static void attr_list(const gs_node *n, const char *name, int64_t *v, int nd, int64_t dflt)
{
    const int64_t *a;
    int c = gs_attr_ints(n, name, &a);
    for (int i = 0; i < nd; i++)
        v[i] = c == nd ? a[i] : dflt;
}

/* Fill w from the node's attributes for input spatial dims in[0..nd). */
static gs_status window_init(gs_kcall *k, window *w, const int64_t *in, int nd, const int64_t *kernel,
                             bool ceil_mode)
{
    const gs_node *n = k->node;
    w->nd = nd;
    memcpy(w->in, in, (size_t)nd * 8);
    memcpy(w->kernel, kernel, (size_t)nd * 8);
    attr_list(n, "strides", w->stride, nd, 1);
    attr_list(n, "dilations", w->dil, nd, 1);
    const int64_t *pads;
    int np = gs_attr_ints(n, "pads", &pads);
    for (int i = 0; i < nd; i++) {
        w->pad0[i] = np == 2 * nd ? pads[i] : 0;
        w->pad1[i] = np == 2 * nd ? pads[i + nd] : 0;
    }
    const char *ap = gs_attr_str(n, "auto_pad", "NOTSET");
    for (int i = 0; i < nd; i++) {
        int64_t ek = (w->kernel[i] - 1) * w->dil[i] + 1;
        if (w->stride[i] <= 0 || w->dil[i] <= 0 || w->kernel[i] <= 0)
            return gs_kfail(k, "strides, dilations and kernel must be positive");
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            int64_t o = (in[i] + w->stride[i] - 1) / w->stride[i];
            int64_t total = (o - 1) * w->stride[i] + ek - in[i];
            total = total > 0 ? total : 0;
            w->pad0[i] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
            w->pad1[i] = total - w->pad0[i];
        } else if (!strcmp(ap, "VALID")) {
            w->pad0[i] = w->pad1[i] = 0;
        }
        int64_t span = in[i] + w->pad0[i] + w->pad1[i] - ek;
        if (span < 0)
            return gs_kfail(k, "kernel larger than the padded input");
        w->out[i] = (ceil_mode ? (span + w->stride[i] - 1) / w->stride[i] : span / w->stride[i]) + 1;
        if (ceil_mode && (w->out[i] - 1) * w->stride[i] >= in[i] + w->pad0[i])
            w->out[i]--;   /* the last window must start inside the input or left pad */
    }
    return GS_OK;
}

/* Offset of output position o (flat over spatial dims) with kernel offset
 * kk (flat): the input coordinate per dim, or false if it falls in padding. */
static bool window_at(const window *w, int64_t o, int64_t kk, int64_t *flat)
{
    int64_t idx = 0;
    for (int d = w->nd - 1, mul = 1; d >= 0; d--) {
        int64_t od = o % w->out[d], kd = kk % w->kernel[d];
        o /= w->out[d];
        kk /= w->kernel[d];
        int64_t x = od * w->stride[d] - w->pad0[d] + kd * w->dil[d];
        if (x < 0 || x >= w->in[d])
            return false;
        idx += x * mul;
        mul *= (int)w->in[d];
    }
    *flat = idx;
    return true;
}

static int64_t prod(const int64_t *v, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= v[i];
    return p;
}

/* ---- Conv: im2col + GEMM per group --------------------------------------- */

static gs_status k_conv(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0], *w = in[1], *b = nin > 2 ? in[2] : NULL;
    int nd = x->rank - 2;
    if (nd < 1 || w->rank != x->rank)
        return gs_kfail(k, "input and weight ranks do not fit");
    int64_t group = gs_attr_int(k->node, "group", 1), N = x->dims[0], C = x->dims[1], M = w->dims[0];
    if (group <= 0 || C % group || M % group || w->dims[1] != C / group)
        return gs_kfail(k, "channels do not fit the groups");
    window win;
    gs_status st = window_init(k, &win, x->dims + 2, nd, w->dims + 2, false);
    if (st != GS_OK)
        return st;
    int64_t dims[GS_MAX_RANK] = { N, M };
    memcpy(dims + 2, win.out, (size_t)nd * 8);
    int64_t cg = C / group, mg = M / group, ksz = prod(win.kernel, nd), osz = prod(win.out, nd);
    int64_t isz = prod(win.in, nd), rows = cg * ksz;
    gs_tensor tx = { 0 }, tw = { 0 }, f = { 0 }, col = { 0 };
    const float *px, *pw;
    st = as_float(k, x, &tx, &px);
    if (st == GS_OK)
        st = as_float(k, w, &tw, &pw);
    if (st == GS_OK)
        st = gs_kmake(k, &f, GS_FLOAT, dims, x->rank);
    int64_t cold[2] = { rows, osz };
    if (st == GS_OK)
        st = gs_kmake(k, &col, GS_FLOAT, cold, 2);
    float *pc = col.data, *po = f.data;
    for (int64_t n = 0; st == GS_OK && n < N; n++)
        for (int64_t g = 0; g < group; g++) {
            for (int64_t c = 0; c < cg; c++) {
                const float *img = px + ((n * C) + g * cg + c) * isz;
                for (int64_t kk = 0; kk < ksz; kk++) {
                    float *row = pc + (c * ksz + kk) * osz;
                    for (int64_t o = 0; o < osz; o++) {
                        int64_t idx;
                        row[o] = window_at(&win, o, kk, &idx) ? img[idx] : 0.0f;
                    }
                }
            }
            float *dst = po + (n * M + g * mg) * osz;
            for (int64_t m = 0; b && m < mg; m++)
                for (int64_t o = 0; o < osz; o++)
                    dst[m * osz + o] = (float)gs_tensor_get_f(b, g * mg + m);
            mat ma = { pw + g * mg * rows, rows, 1 }, mb = { pc, osz, 1 };
            gemm(mg, osz, rows, 1.0f, ma, mb, dst, osz);
        }
    if (st == GS_OK)
        st = from_float(k, &f, out, x->dtype);
    gs_tensor_clear(k->ctx, &tx);
    gs_tensor_clear(k->ctx, &tw);
    gs_tensor_clear(k->ctx, &f);
    gs_tensor_clear(k->ctx, &col);
    return st;
}

/* ---- pools ------------------------------------------------------------------ */

static gs_status pool(gs_kcall *k, const gs_tensor *x, gs_tensor *out, bool max, bool global)
{
    int nd = x->rank - 2;
    if (nd < 1)
        return gs_kfail(k, "input rank must be 3 or more");
    int64_t kernel[GS_MAX_RANK];
    if (global)
        memcpy(kernel, x->dims + 2, (size_t)nd * 8);
    else
        attr_list(k->node, "kernel_shape", kernel, nd, 0);
    if (!global && gs_attr_int(k->node, "storage_order", 0))
        return gs_kunsupported(k, "storage_order 1");
    window win;
    gs_status st = global ? GS_OK : GS_OK;
    if (global) {
        memset(&win, 0, sizeof win);
        win.nd = nd;
        for (int i = 0; i < nd; i++)
            win.kernel[i] = kernel[i], win.stride[i] = 1, win.dil[i] = 1, win.in[i] = x->dims[2 + i],
            win.out[i] = 1;
    } else {
        st = window_init(k, &win, x->dims + 2, nd, kernel, gs_attr_int(k->node, "ceil_mode", 0));
    }
    if (st != GS_OK)
        return st;
    int64_t dims[GS_MAX_RANK] = { x->dims[0], x->dims[1] };
    memcpy(dims + 2, win.out, (size_t)nd * 8);
    gs_tensor tx = { 0 }, f = { 0 };
    const float *px;
    st = as_float(k, x, &tx, &px);
    if (st == GS_OK)
        st = gs_kmake(k, &f, GS_FLOAT, dims, x->rank);
    int64_t planes = x->dims[0] * x->dims[1], isz = prod(win.in, nd), osz = prod(win.out, nd);
    int64_t ksz = prod(win.kernel, nd);
    bool count_pad = gs_attr_int(k->node, "count_include_pad", 0);
    for (int64_t p = 0; st == GS_OK && p < planes; p++) {
        const float *img = px + p * isz;
        for (int64_t o = 0; o < osz; o++) {
            double acc = max ? -INFINITY : 0;
            int64_t cnt = 0, pad_cnt = 0;
            for (int64_t kk = 0; kk < ksz; kk++) {
                int64_t idx;
                if (!window_at(&win, o, kk, &idx)) {
                    pad_cnt += count_pad && !max;
                    continue;
                }
                acc = max ? fmax(acc, img[idx]) : acc + img[idx];
                cnt++;
            }
            if (!max && count_pad) {   /* padded positions count, but not past the pads */
                cnt += pad_cnt;
            }
            ((float *)f.data)[p * osz + o] = (float)(max ? acc : cnt ? acc / (double)cnt : 0);
        }
    }
    if (st == GS_OK)
        st = from_float(k, &f, out, x->dtype);
    gs_tensor_clear(k->ctx, &tx);
    gs_tensor_clear(k->ctx, &f);
    return st;
}

static gs_status k_maxpool(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin;
    if (nout > 1 && k->node->out[1] != GS_NONE)
        return gs_kunsupported(k, "the Indices output");
    return pool(k, in[0], out, true, false);
}

static gs_status k_avgpool(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return pool(k, in[0], out, false, false);
}

static gs_status k_gap(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return pool(k, in[0], out, false, true);
}

static gs_status k_gmp(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return pool(k, in[0], out, true, true);
}

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

/* Normalize groups of `inner` elements: (x - mean) / sqrt(var + eps) * scale + bias,
 * with scale/bias indexed by sidx(group, i). */
static gs_status k_layernorm(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    const gs_tensor *x = in[0], *sc = in[1], *bi = nin > 2 ? in[2] : NULL;
    int axis = (int)gs_attr_int(k->node, "axis", -1);
    axis = axis < 0 ? axis + x->rank : axis;
    if (axis < 0 || axis >= x->rank)
        return gs_kfail(k, "axis out of range");
    float eps = gs_attr_float(k->node, "epsilon", 1e-5f);
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

static gs_status k_instancenorm(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    float eps = gs_attr_float(k->node, "epsilon", 1e-5f);
    int64_t N = x->dims[0], C = x->dims[1], inner = gs_numel(x->dims + 2, x->rank - 2);
    gs_status st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
    for (int64_t p = 0; st == GS_OK && p < N * C; p++) {
        double mean, var;
        moments(x, p * inner, inner, &mean, &var);
        double s = gs_tensor_get_f(in[1], p % C) / sqrt(var + eps), b = gs_tensor_get_f(in[2], p % C);
        for (int64_t i = 0; i < inner; i++)
            gs_tensor_set_f(out, p * inner + i, (gs_tensor_get_f(x, p * inner + i) - mean) * s + b);
    }
    return st;
}

/* ---- Softmax, LogSoftmax --------------------------------------------------- */

static gs_status softmax(gs_kcall *k, const gs_tensor *x, gs_tensor *out, bool log_)
{
    int axis = (int)gs_attr_int(k->node, "axis", k->opset >= 13 ? -1 : 1);
    axis = axis < 0 ? axis + x->rank : axis;
    if (axis < 0 || axis >= x->rank)
        return gs_kfail(k, "axis out of range");
    /* before opset 13 the input is flattened to 2-D at axis; from 13 one axis */
    int64_t outer, len, inner;
    if (k->opset < 13) {
        outer = gs_numel(x->dims, axis), len = gs_numel(x->dims + axis, x->rank - axis), inner = 1;
    } else {
        outer = gs_numel(x->dims, axis), len = x->dims[axis];
        inner = gs_numel(x->dims + axis + 1, x->rank - axis - 1);
    }
    gs_status st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
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

/* ---- ConvTranspose: each input element scatters its kernel ------------------ */

static gs_status k_convtranspose(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0], *w = in[1], *b = nin > 2 ? in[2] : NULL;
    int nd = x->rank - 2;
    if (nd < 1 || w->rank != x->rank)
        return gs_kfail(k, "input and weight ranks do not fit");
    const gs_node *n = k->node;
    int64_t group = gs_attr_int(n, "group", 1), C = x->dims[1], mg = w->dims[1], M = mg * group;
    if (group <= 0 || C % group || w->dims[0] != C)
        return gs_kfail(k, "channels do not fit the groups");
    int64_t st[GS_MAX_RANK], dl[GS_MAX_RANK], op[GS_MAX_RANK], p0[GS_MAX_RANK], p1[GS_MAX_RANK];
    int64_t kd[GS_MAX_RANK], od[GS_MAX_RANK], idm[GS_MAX_RANK];
    attr_list(n, "strides", st, nd, 1);
    attr_list(n, "dilations", dl, nd, 1);
    attr_list(n, "output_padding", op, nd, 0);
    const int64_t *pads, *oshape;
    int np = gs_attr_ints(n, "pads", &pads), ns = gs_attr_ints(n, "output_shape", &oshape);
    const char *ap = gs_attr_str(n, "auto_pad", "NOTSET");
    for (int i = 0; i < nd; i++) {
        kd[i] = w->dims[2 + i], idm[i] = x->dims[2 + i];
        int64_t full = st[i] * (idm[i] - 1) + op[i] + (kd[i] - 1) * dl[i] + 1;
        p0[i] = np == 2 * nd ? pads[i] : 0;
        p1[i] = np == 2 * nd ? pads[i + nd] : 0;
        if (ns >= nd || !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            int64_t target = ns >= nd ? oshape[ns - nd + i] : idm[i] * st[i];
            int64_t total = full - target;   /* negative: zeros appended at the end */
            bool upper = !strcmp(ap, "SAME_UPPER");
            p0[i] = total <= 0 ? 0 : upper ? total / 2 : total - total / 2;
            p1[i] = total - p0[i];
        }
        od[i] = full - p0[i] - p1[i];
        if (od[i] <= 0)
            return gs_kfail(k, "output size not positive");
    }
    int64_t dims[GS_MAX_RANK] = { x->dims[0], M };
    memcpy(dims + 2, od, (size_t)nd * 8);
    gs_tensor f = { 0 };
    gs_status s_ = gs_kmake(k, &f, GS_FLOAT, dims, x->rank);
    if (s_ != GS_OK)
        return s_;
    float *o = f.data;
    int64_t isz = prod(idm, nd), osz = prod(od, nd), ksz = prod(kd, nd), cg = C / group;
    for (int64_t nn = 0; nn < x->dims[0]; nn++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t q = 0; b && q < osz; q++)
                o[(nn * M + m) * osz + q] = (float)gs_tensor_get_f(b, m);
    for (int64_t nn = 0; nn < x->dims[0]; nn++)
        for (int64_t c = 0; c < C; c++) {
            int64_t g = c / cg;
            for (int64_t i = 0; i < isz; i++) {
                double xv = gs_tensor_get_f(x, (nn * C + c) * isz + i);
                for (int64_t kk = 0; kk < ksz; kk++) {
                    int64_t oi = 0, rem_i = i, rem_k = kk, mul = 1;
                    bool inside = true;
                    for (int d = nd - 1; d >= 0; d--) {
                        int64_t id_ = rem_i % idm[d], kd_ = rem_k % kd[d];
                        rem_i /= idm[d], rem_k /= kd[d];
                        int64_t pos = id_ * st[d] - p0[d] + kd_ * dl[d];
                        inside &= pos >= 0 && pos < od[d];
                        oi += pos * mul;
                        mul *= od[d];
                    }
                    if (!inside)
                        continue;
                    for (int64_t m = 0; m < mg; m++)
                        o[(nn * M + g * mg + m) * osz + oi] +=
                            (float)(xv * gs_tensor_get_f(w, (c * mg + m) * ksz + kk));
                }
            }
        }
    return from_float(k, &f, out, x->dtype);
}

/* ---- Einsum: every index assignment, for up to two operands -------------- */

static gs_status k_einsum(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const char *eq = gs_attr_str(k->node, "equation", "");
    char terms[3][GS_MAX_RANK + 1] = { "", "", "" }, outs[GS_MAX_RANK + 1] = "";
    int nt = 0, len = 0;
    bool arrow = false;
    for (const char *p = eq; *p; p++) {
        if (*p == ' ')
            continue;
        if (*p == '.')
            return gs_err(k->ctx, GS_ERR_UNSUPPORTED, "node '%s' (Einsum): equation '%s' with an ellipsis "
                          "is not supported", k->node->name, eq);
        if (*p == ',' || (*p == '-' && p[1] == '>')) {
            if (nt >= 2)
                return gs_err(k->ctx, GS_ERR_UNSUPPORTED, "node '%s' (Einsum): more than two operands "
                              "is not supported", k->node->name);
            terms[nt++][len] = 0, len = 0;
            if (*p == '-')
                arrow = true, p++;
            continue;
        }
        if (len >= GS_MAX_RANK)
            return gs_kfail(k, "equation too long");
        if (arrow)
            outs[len++] = *p, outs[len] = 0;
        else
            terms[nt][len++] = *p, terms[nt][len] = 0;
    }
    if (!arrow)
        terms[nt++][len] = 0;
    if (nt != nin)
        return gs_kfail(k, "equation does not match the operands");
    int64_t size[256] = { 0 };
    int count[256] = { 0 };
    char letters[64];
    int nl = 0;
    for (int t = 0; t < nt; t++) {
        if ((int)strlen(terms[t]) != in[t]->rank)
            return gs_kfail(k, "term rank does not match its operand");
        for (int i = 0; terms[t][i]; i++) {
            unsigned char c = (unsigned char)terms[t][i];
            if (!count[c] && nl < 64)
                letters[nl++] = (char)c;
            if (count[c] && size[c] != in[t]->dims[i])
                return gs_kfail(k, "index sizes disagree");
            size[c] = in[t]->dims[i], count[c]++;
        }
    }
    if (!arrow) {   /* implicit output: letters seen once, in order */
        int o = 0;
        for (int c = 'A'; c <= 'z' && o < GS_MAX_RANK; c++)
            if (count[c] == 1)
                outs[o++] = (char)c;
        outs[o] = 0;
    }
    int64_t dims[GS_MAX_RANK];
    int orank = (int)strlen(outs);
    for (int i = 0; i < orank; i++)
        dims[i] = size[(unsigned char)outs[i]];
    gs_tensor f = { 0 };
    gs_status st = gs_kmake(k, &f, GS_FLOAT, dims, orank);
    int64_t total = 1, idx[64] = { 0 };
    for (int i = 0; i < nl; i++)
        total *= size[(unsigned char)letters[i]];
    for (int64_t it = 0; st == GS_OK && it < total; it++) {
        int64_t r = it;
        for (int i = nl - 1; i >= 0; i--) {
            int64_t s = size[(unsigned char)letters[i]];
            idx[i] = r % s;
            r /= s;
        }
        double v = 1;
        int64_t pos[256];
        for (int i = 0; i < nl; i++)
            pos[(unsigned char)letters[i]] = idx[i];
        for (int t = 0; t < nt; t++) {
            int64_t off = 0;
            for (int i = 0; terms[t][i]; i++)
                off = off * in[t]->dims[i] + pos[(unsigned char)terms[t][i]];
            v *= gs_tensor_get_f(in[t], off);
        }
        int64_t o = 0;
        for (int i = 0; i < orank; i++)
            o = o * dims[i] + pos[(unsigned char)outs[i]];
        ((float *)f.data)[o] += (float)v;
    }
    return st == GS_OK ? from_float(k, &f, out, in[0]->dtype) : st;
}

/* ---- shape inference and cost ----------------------------------------------- */

static const gs_value *val(const gs_graph *g, const gs_node *n, int k)
{
    return k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
}

static bool known(const gs_value *v)
{
    if (!v || v->rank < 0)
        return false;
    for (int i = 0; i < v->rank; i++)
        if (v->dims[i].v < 0)
            return false;
    return true;
}

static double elems(const gs_value *v)
{
    double e = 1;
    for (int i = 0; v && i < v->rank; i++)
        e *= v->dims[i].v > 0 ? (double)v->dims[i].v : 1;
    return e;
}

static gs_status infer_matmul(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    const gs_value *a = val(g, n, 0), *b = val(g, n, 1);
    if (!a || !b || a->rank < 1 || b->rank < 1)
        return GS_OK;
    gs_dim dims[GS_MAX_RANK];
    int ra = a->rank, rb = b->rank, r = (ra > rb ? ra : rb);
    if (ra == 1 || rb == 1) {   /* vector operands drop a dim */
        if (ra == 1 && rb == 1)
            return gs_infer_set(g, n->out[0], a->dtype, 0, (gs_dim[1]){ { 0, NULL } });
        const gs_value *m = ra == 1 ? b : a;
        int k = 0;
        for (int i = 0; i < m->rank; i++)
            if (!(ra == 1 ? i == m->rank - 2 : i == m->rank - 1))
                dims[k++] = m->dims[i];
        return gs_infer_set(g, n->out[0], a->dtype, k, dims);
    }
    for (int i = 0; i < r - 2; i++) {   /* broadcast batch dims */
        int ia = i - (r - ra), ib = i - (r - rb);
        gs_dim da = ia >= 0 ? a->dims[ia] : (gs_dim){ 1, NULL };
        gs_dim db = ib >= 0 ? b->dims[ib] : (gs_dim){ 1, NULL };
        dims[i] = da.v == 1 ? db : da;
    }
    dims[r - 2] = a->dims[ra - 2];
    dims[r - 1] = b->dims[rb - 1];
    return gs_infer_set(g, n->out[0], a->dtype, r, dims);
}

/* A GEMM producing n columns reaches about n / (n + 256) of the peak: wider
 * products amortize packing and loop overhead (one reason merging parallel
 * MatMuls pays on a CPU). */
static double gemm_width_factor(const gs_value *o)
{
    double n = o && o->rank > 0 && o->dims[o->rank - 1].v > 0 ? (double)o->dims[o->rank - 1].v : 1;
    return (n + 256) / n;
}

static void cost_matmul(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    const gs_value *a = val(g, n, 0), *o = n->out[0] != GS_NONE ? &g->values[n->out[0]] : NULL;
    double kk = a && a->rank > 0 && a->dims[a->rank - 1].v > 0 ? (double)a->dims[a->rank - 1].v : 1;
    c->flops = 2 * elems(o) * kk * gemm_width_factor(o);
    c->bytes_read = 4 * (elems(a) + elems(val(g, n, 1)) + (n->nin > 2 ? elems(val(g, n, 2)) : 0));
    c->bytes_written = 4 * elems(o);
}

static gs_status infer_gemm(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    const gs_value *a = val(g, n, 0), *b = val(g, n, 1);
    if (!a || !b || a->rank != 2 || b->rank != 2)
        return GS_OK;
    gs_dim dims[2] = { a->dims[gs_attr_int(n, "transA", 0) ? 1 : 0],
                       b->dims[gs_attr_int(n, "transB", 0) ? 0 : 1] };
    return gs_infer_set(g, n->out[0], a->dtype, 2, dims);
}

static void cost_gemm(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    const gs_value *a = val(g, n, 0), *o = n->out[0] != GS_NONE ? &g->values[n->out[0]] : NULL;
    int ka = gs_attr_int(n, "transA", 0) ? 0 : 1;
    double kk = a && a->rank == 2 && a->dims[ka].v > 0 ? (double)a->dims[ka].v : 1;
    c->flops = 2 * elems(o) * kk * gemm_width_factor(o);
    c->bytes_read = 4 * (elems(a) + elems(val(g, n, 1)) + (n->nin > 2 ? elems(val(g, n, 2)) : 0));
    c->bytes_written = 4 * elems(o);
}

/* Conv and pools: output spatial dims from the window attributes. */
static gs_status infer_window(gs_graph *g, gs_node *n, const int64_t *kernel, int64_t channels,
                              bool ceil_mode)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 3)
        return GS_OK;
    for (int i = 2; i < x->rank; i++)   /* spatial dims must be known; N may be symbolic */
        if (x->dims[i].v < 0)
            return gs_infer_set(g, n->out[0], x->dtype, -1, NULL);
    gs_kcall k = { g->ctx, g, n, 0, NULL };
    window w;
    int64_t in[GS_MAX_RANK];
    for (int i = 2; i < x->rank; i++)
        in[i - 2] = x->dims[i].v;
    char saved[sizeof g->ctx->msg];
    memcpy(saved, g->ctx->msg, sizeof saved);
    gs_status st = window_init(&k, &w, in, x->rank - 2, kernel, ceil_mode);
    memcpy(g->ctx->msg, saved, sizeof saved);   /* an invalid window is the kernel's error */
    if (st != GS_OK)
        return GS_OK;
    gs_dim dims[GS_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = channels >= 0 ? (gs_dim){ channels, NULL } : x->dims[1];
    for (int i = 0; i < w.nd; i++)
        dims[2 + i] = (gs_dim){ w.out[i], NULL };
    gs_status r = gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
    return r;
}

static gs_status infer_conv(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    const gs_value *x = val(g, n, 0), *w = val(g, n, 1);
    if (!x || !w || !known(w) || w->rank != x->rank || x->rank < 3)
        return GS_OK;
    int64_t kernel[GS_MAX_RANK];
    for (int i = 2; i < w->rank; i++)
        kernel[i - 2] = w->dims[i].v;
    return infer_window(g, n, kernel, w->dims[0].v, false);
}

static void cost_conv(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    const gs_value *w = val(g, n, 1), *o = n->out[0] != GS_NONE ? &g->values[n->out[0]] : NULL;
    double per = 1;   /* MACs per output element: Cin/group * kernel */
    for (int i = 1; w && i < w->rank; i++)
        per *= w->dims[i].v > 0 ? (double)w->dims[i].v : 1;
    c->flops = 2 * elems(o) * per;
    c->bytes_read = 4 * (elems(val(g, n, 0)) + elems(w) + (n->nin > 2 ? elems(val(g, n, 2)) : 0));
    c->bytes_written = 4 * elems(o);
}

static gs_status infer_pool(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 3)
        return GS_OK;
    int64_t kernel[GS_MAX_RANK];
    attr_list(n, "kernel_shape", kernel, x->rank - 2, 0);
    return infer_window(g, n, kernel, -1, gs_attr_int(n, "ceil_mode", 0));
}

static gs_status infer_global(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 3)
        return GS_OK;
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = i < 2 ? x->dims[i] : (gs_dim){ 1, NULL };
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
}

static void cost_pool(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    const gs_value *x = val(g, n, 0), *o = n->out[0] != GS_NONE ? &g->values[n->out[0]] : NULL;
    const int64_t *ks;
    int nk = gs_attr_ints(n, "kernel_shape", &ks);
    double per = 1;
    for (int i = 0; i < nk; i++)
        per *= (double)ks[i];
    c->flops = nk > 0 ? elems(o) * per : elems(x);
    c->bytes_read = 4 * elems(x);
    c->bytes_written = 4 * elems(o);
}

static gs_status infer_layernorm(gs_graph *g, gs_node *n, int64_t opset)
{
    gs_status st = gs_infer_same(g, n, opset);
    const gs_value *x = val(g, n, 0);
    if (st != GS_OK || !x || x->rank < 0 || n->nout < 2)
        return st;
    int axis = (int)gs_attr_int(n, "axis", -1);
    axis = axis < 0 ? axis + x->rank : axis;
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

const gs_opdef gs_ops_nn[] = {
    { "MatMul", 1, 0, 2, 2, 1, 1, 0, "", infer_matmul, cost_matmul, k_matmul },
    { "Gemm", 1, 0, 2, 3, 1, 1, 0, "alpha:f=1 beta:f=1 transA:i=0 transB:i=0", infer_gemm, cost_gemm,
      k_gemm },
    { "Conv", 1, 0, 2, 3, 1, 1, 0, "auto_pad:s dilations:ints group:i=1 kernel_shape:ints pads:ints "
      "strides:ints", infer_conv, cost_conv, k_conv },
    { "MaxPool", 1, 0, 1, 1, 1, 2, 0, "auto_pad:s ceil_mode:i dilations:ints kernel_shape:ints pads:ints "
      "storage_order:i strides:ints", infer_pool, cost_pool, k_maxpool },
    { "AveragePool", 1, 0, 1, 1, 1, 1, 0, "auto_pad:s ceil_mode:i count_include_pad:i kernel_shape:ints "
      "pads:ints strides:ints", infer_pool, cost_pool, k_avgpool },
    { "GlobalAveragePool", 1, 0, 1, 1, 1, 1, 0, "", infer_global, cost_pool, k_gap },
    { "GlobalMaxPool", 1, 0, 1, 1, 1, 1, 0, "", infer_global, cost_pool, k_gmp },
    { "BatchNormalization", 1, 0, 5, 5, 1, 5, 0, "epsilon:f=1e-5 momentum:f training_mode:i=0",
      gs_infer_same, cost_norm, k_batchnorm },
    { "LayerNormalization", 17, 0, 2, 3, 1, 3, 0, "axis:i=-1 epsilon:f=1e-5 stash_type:i=1",
      infer_layernorm, cost_norm, k_layernorm },
    { "InstanceNormalization", 1, 0, 3, 3, 1, 1, 0, "epsilon:f=1e-5", gs_infer_same, cost_norm,
      k_instancenorm },
    { "ConvTranspose", 1, 0, 2, 3, 1, 1, 0, "auto_pad:s dilations:ints group:i kernel_shape:ints "
      "output_padding:ints output_shape:ints pads:ints strides:ints", NULL, NULL, k_convtranspose },
    { "Einsum", 12, 0, 1, 2, 1, 1, 0, "equation:s (one or two operands, no ellipsis)", NULL, NULL, k_einsum },
    { "Softmax", 1, 0, 1, 1, 1, 1, 0, "axis:i", gs_infer_same, cost_norm, k_softmax },
    { "LogSoftmax", 1, 0, 1, 1, 1, 1, 0, "axis:i", gs_infer_same, cost_norm, k_logsoftmax },
    { .name = NULL },
};
