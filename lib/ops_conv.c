/*
 * ops_conv.c - Conv, ConvTranspose and the pools (MaxPool with its Indices,
 * AveragePool, GlobalAveragePool, GlobalMaxPool).
 *
 * They share one sliding window: kernel, strides, dilations, and pads either
 * explicit or from auto_pad (SAME_UPPER, SAME_LOWER, VALID), which fix the
 * number of window positions per spatial dim (ceil_mode for pools). Conv
 * copies the image under every kernel offset into an im2col matrix and
 * multiplies the weights with it on gs_op_gemm; a 1x1 Conv with unit strides
 * and no pads multiplies the image itself. ConvTranspose is the adjoint: one
 * GEMM makes the columns and col2im adds them back into the output image.
 * Pools visit each window directly; they are cheap next to convolutions.
 * Conv's plan (shapes, groups, window), its im2col, shape inference and cost
 * serve ConvInteger and QLinearConv too (ops_quant.c), which only multiply
 * differently.
 */
#include "gs_ops.h"

#include <math.h>
#include <string.h>

typedef gs_window window;   /* gs_ops.h: shared with ConvInteger and QLinearConv */

/* window_init and transposed_window: a size overflows int64 (an infer
 * error, not an unknown shape). */
static const char gs_conv_overflows[] = "sizes overflow int64";

static int64_t prod(const int64_t *v, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= v[i];
    return p;
}

/* Flat row-major index r over dims[0..nd) split into idx. */
static void unflatten(int64_t r, const int64_t *dims, int nd, int64_t *idx)
{
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = dims[d] > 0 ? r % dims[d] : 0;
        r = dims[d] > 0 ? r / dims[d] : 0;
    }
}

/* The next multi-index after idx in row-major order over dims. */
static void step(int64_t *idx, const int64_t *dims, int nd)
{
    for (int d = nd - 1; d >= 0; d--) {
        if (++idx[d] < dims[d])
            return;
        idx[d] = 0;
    }
}

/* INTS attribute name into v[0..nd), or dflt everywhere when it is absent;
 * false when it is present with another length. */
static bool attr_list(const gs_node *n, const char *name, int64_t *v, int nd, int64_t dflt)
{
    const int64_t *a;
    int c = gs_attr_ints(n, name, &a);
    for (int i = 0; i < nd; i++)
        v[i] = c == nd ? a[i] : dflt;
    return c <= 0 || c == nd;
}

/* kernel_shape into kernel[0..nd); false unless it has nd entries. */
static bool kernel_shape(const gs_node *n, int nd, int64_t *kernel)
{
    const int64_t *a;
    if (gs_attr_ints(n, "kernel_shape", &a) != nd)
        return false;
    memcpy(kernel, a, (size_t)nd * sizeof *kernel);
    return true;
}

/* auto_pad as 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID; -1 unknown. */
static int auto_pad(const gs_node *n)
{
    static const char *const names[] = { "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID" };
    const char *ap = gs_attr_str(n, "auto_pad", "NOTSET");
    for (int i = 0; i < 4; i++)
        if (!strcmp(ap, names[i]))
            return i;
    return *ap ? -1 : 0;
}

/* Strides, dilations and explicit pads of node n for nd spatial dims;
 * returns NULL or what is wrong with them. */
static const char *window_attrs(window *w, const gs_node *n, int nd)
{
    w->nd = nd;
    if (!attr_list(n, "strides", w->stride, nd, 1) || !attr_list(n, "dilations", w->dil, nd, 1))
        return "strides or dilations do not have one entry per spatial dim";
    const int64_t *pads;
    int np = gs_attr_ints(n, "pads", &pads);
    if (np > 0 && np != 2 * nd)
        return "pads do not have two entries per spatial dim";
    for (int i = 0; i < nd; i++) {
        w->pad0[i] = np > 0 ? pads[i] : 0;
        w->pad1[i] = np > 0 ? pads[i + nd] : 0;
        if (w->stride[i] <= 0 || w->dil[i] <= 0 || w->pad0[i] < 0 || w->pad1[i] < 0)
            return "strides and dilations must be positive and pads not negative";
    }
    if (auto_pad(n) < 0)
        return "auto_pad is not NOTSET, SAME_UPPER, SAME_LOWER or VALID";
    return NULL;
}

/* The window of Conv or a pool over image dims in[0..nd) with the given
 * kernel; returns NULL or what is wrong. */
static const char *window_init(window *w, const gs_node *n, const int64_t *in, int nd, const int64_t *kernel,
                               bool ceil_mode)
{
    const char *why = window_attrs(w, n, nd);
    if (why)
        return why;
    int ap = auto_pad(n);
    for (int i = 0; i < nd; i++) {
        w->in[i] = in[i], w->kernel[i] = kernel[i];
        if (kernel[i] <= 0)
            return "kernel dims must be positive";
        int64_t ek, o, total, span, end, last;   /* ek: the dilated extent */
        if (__builtin_mul_overflow(kernel[i] - 1, w->dil[i], &ek) || __builtin_add_overflow(ek, 1, &ek))
            return gs_conv_overflows;
        if (ap == 1 || ap == 2) {   /* SAME: ceil(in / stride) positions, pads split */
            if (__builtin_add_overflow(in[i], w->stride[i] - 1, &o))
                return gs_conv_overflows;
            o /= w->stride[i];
            if (__builtin_mul_overflow(o - 1, w->stride[i], &total) || __builtin_add_overflow(total, ek - in[i], &total))
                return gs_conv_overflows;
            total = total > 0 ? total : 0;
            w->pad0[i] = ap == 1 ? total / 2 : total - total / 2;
            w->pad1[i] = total - w->pad0[i];
        } else if (ap == 3) {
            w->pad0[i] = w->pad1[i] = 0;
        }
        if (__builtin_add_overflow(in[i], w->pad0[i], &end) || __builtin_add_overflow(end, w->pad1[i], &span) ||
            __builtin_sub_overflow(span, ek, &span))
            return gs_conv_overflows;
        if (span < 0)
            return "kernel larger than the padded input";
        if (ceil_mode && __builtin_add_overflow(span, w->stride[i] - 1, &span))
            return gs_conv_overflows;
        w->out[i] = span / w->stride[i] + 1;
        if (ceil_mode && (__builtin_mul_overflow(w->out[i] - 1, w->stride[i], &last) || last >= end))
            w->out[i]--;   /* the last window must start inside the input or its left pad */
    }
    return NULL;
}

/* The window of ConvTranspose over input dims in[0..nd): out holds the input
 * positions and in the output image the columns are added into (output_shape
 * or auto_pad fixes its size and the pads). Returns NULL or what is wrong. */
static const char *transposed_window(window *w, const gs_node *n, const int64_t *in, int nd,
                                     const int64_t *kernel)
{
    const char *why = window_attrs(w, n, nd);
    if (why)
        return why;
    int64_t opad[GS_MAX_RANK];
    const int64_t *oshape;
    int ns = gs_attr_ints(n, "output_shape", &oshape), ap = auto_pad(n);
    if (!attr_list(n, "output_padding", opad, nd, 0))
        return "output_padding does not have one entry per spatial dim";
    if (ns > 0 && ns != nd && ns != nd + 2)
        return "output_shape does not fit the input rank";
    for (int i = 0; i < nd; i++) {
        w->out[i] = in[i], w->kernel[i] = kernel[i];
        if (kernel[i] <= 0)
            return "kernel dims must be positive";
        int64_t full, ek, target = ns > 0 ? oshape[ns - nd + i] : 0, total;
        if (__builtin_mul_overflow(w->stride[i], in[i] - 1, &full) || __builtin_add_overflow(full, opad[i], &full) ||
            __builtin_mul_overflow(kernel[i] - 1, w->dil[i], &ek) || __builtin_add_overflow(full, ek, &full) ||
            __builtin_add_overflow(full, 1, &full) ||
            (ns <= 0 && __builtin_mul_overflow(in[i], w->stride[i], &target)))
            return gs_conv_overflows;
        if (ap == 3)
            w->pad0[i] = w->pad1[i] = 0;
        if (ns > 0 || ap == 1 || ap == 2) {   /* pads from the wanted output size */
            if (__builtin_sub_overflow(full, target, &total))   /* negative: zeros appended at the end */
                return gs_conv_overflows;
            w->pad0[i] = total <= 0 ? 0 : ap == 1 ? total / 2 : total - total / 2;
            w->pad1[i] = total - w->pad0[i];
        }
        if (__builtin_sub_overflow(full, w->pad0[i], &w->in[i]) || __builtin_sub_overflow(w->in[i], w->pad1[i], &w->in[i]))
            return gs_conv_overflows;
        if (w->in[i] <= 0)
            return "output size not positive";
    }
    return NULL;
}

/* ---- im2col and its adjoint ------------------------------------------------ */

/* For kernel offset kof and window line r (all spatial dims but the last,
 * flattened), the offset of the image line under it; false in padding. */
static bool line_at(const window *w, const int64_t *kof, int64_t r, int64_t *off)
{
    int last = w->nd - 1;
    int64_t o[GS_MAX_RANK], at = 0;
    unflatten(r, w->out, last, o);
    for (int d = 0; d < last; d++) {
        int64_t x = o[d] * w->stride[d] - w->pad0[d] + kof[d] * w->dil[d];
        if (x < 0 || x >= w->in[d])
            return false;
        at = at * w->in[d] + x;
    }
    *off = at * w->in[last];
    return true;
}

/* Row kk of the im2col matrix of one channel image: row[o] is the image
 * element under kernel offset kk at window position o, 0 in padding. */
static void im2col_row(const window *w, int64_t kk, const float *img, float *row)
{
    int last = w->nd - 1;
    int64_t kof[GS_MAX_RANK] = { 0 }, off, len = w->out[last], lines = prod(w->out, last);
    unflatten(kk, w->kernel, w->nd, kof);
    int64_t s = w->stride[last], x0 = kof[last] * w->dil[last] - w->pad0[last], width = w->in[last];
    for (int64_t r = 0; r < lines; r++, row += len) {
        if (!line_at(w, kof, r, &off)) {
            memset(row, 0, (size_t)len * sizeof *row);
            continue;
        }
        for (int64_t j = 0; j < len; j++) {
            int64_t x = x0 + j * s;
            row[j] = x >= 0 && x < width ? img[off + x] : 0.0f;
        }
    }
}

/* The adjoint of im2col_row: img[x] += row[o] wherever kernel offset kk at
 * window position o lands inside the image. */
static void col2im_row(const window *w, int64_t kk, const float *row, float *img)
{
    int last = w->nd - 1;
    int64_t kof[GS_MAX_RANK] = { 0 }, off, len = w->out[last], lines = prod(w->out, last);
    unflatten(kk, w->kernel, w->nd, kof);
    int64_t s = w->stride[last], x0 = kof[last] * w->dil[last] - w->pad0[last], width = w->in[last];
    for (int64_t r = 0; r < lines; r++, row += len) {
        if (!line_at(w, kof, r, &off))
            continue;
        for (int64_t j = 0; j < len; j++) {
            int64_t x = x0 + j * s;
            if (x >= 0 && x < width)
                img[off + x] += row[j];
        }
    }
}

/* A 1x1 kernel with unit strides and no pads: the im2col matrix is the image. */
static bool pointwise(const window *w)
{
    for (int i = 0; i < w->nd; i++)
        if (w->kernel[i] != 1 || w->stride[i] != 1 || w->pad0[i] || w->pad1[i])
            return false;
    return true;
}

/* ---- Conv ------------------------------------------------------------------ */

/* Shape checks shared by Conv and ConvTranspose: x is [N, C, spatial...], w
 * has x's rank, the groups divide the channels (w is [M, C / group, ...], or
 * transposed [C, M / group, ...]), b has one value per output channel, whose
 * count goes to *outc. */
static gs_status conv_check(gs_kcall *k, const gs_tensor *x, const gs_tensor *w, const gs_tensor *b,
                            int64_t group, bool transposed, int64_t *outc)
{
    if (x->rank < 3 || w->rank != x->rank)
        return gs_kfail(k, "input and weight ranks do not fit");
    int64_t grouped;   /* w's dim 1 times the groups */
    if (group <= 0 || __builtin_mul_overflow(w->dims[1], group, &grouped))
        return gs_kfail(k, "channels do not fit the weight and the groups");
    int64_t wc = transposed ? w->dims[0] : grouped;
    *outc = transposed ? grouped : w->dims[0];
    if (x->dims[1] % group || *outc % group || wc != x->dims[1])
        return gs_kfail(k, "channels do not fit the weight and the groups");
    if (b && (b->rank != 1 || b->dims[0] != *outc))
        return gs_kfail(k, "bias must have one value per output channel");
    return GS_OK;
}

gs_status gs_op_conv_plan(gs_kcall *k, const gs_tensor *x, const gs_tensor *w, const gs_tensor *b,
                          gs_conv_plan *p)
{
    int64_t M;
    p->group = gs_attr_int(k->node, "group", 1);
    gs_status st = conv_check(k, x, w, b, p->group, false, &M);
    if (st != GS_OK)
        return st;
    int nd = x->rank - 2;
    const char *why = window_init(&p->win, k->node, x->dims + 2, nd, w->dims + 2, false);
    if (why)
        return gs_kfail(k, why);
    p->cg = x->dims[1] / p->group, p->mg = M / p->group;
    p->ksz = gs_numel(p->win.kernel, nd), p->isz = gs_numel(p->win.in, nd), p->osz = gs_numel(p->win.out, nd);
    p->direct = pointwise(&p->win);
    p->dims[0] = x->dims[0], p->dims[1] = M, p->rank = x->rank;
    memcpy(p->dims + 2, p->win.out, (size_t)nd * sizeof *p->dims);
    if (p->ksz < 0 || p->isz < 0 || p->osz < 0 || !gs_mul64_ok(p->cg, p->ksz, &p->rows) ||
        gs_numel(p->dims, p->rank) < 0)
        return gs_kfail(k, gs_conv_overflows);
    return GS_OK;
}

void gs_op_im2col(const gs_conv_plan *p, const float *img, float *col)
{
    for (int64_t r = 0; r < p->rows; r++)
        im2col_row(&p->win, r % p->ksz, img + r / p->ksz * p->isz, col + r * p->osz);
}

/* The float32 operands of Conv or ConvTranspose (b may be absent). */
typedef struct conv_args {
    gs_tensor tx, tw, tb;   /* converted copies, when the dtype is not float32 */
    const float *x, *w, *b;
} conv_args;

static gs_status conv_args_init(gs_kcall *k, const gs_tensor *x, const gs_tensor *w, const gs_tensor *b,
                                conv_args *a)
{
    memset(a, 0, sizeof *a);
    gs_status st = gs_op_as_float(k, x, &a->tx, &a->x);
    if (st == GS_OK)
        st = gs_op_as_float(k, w, &a->tw, &a->w);
    if (st == GS_OK && b)
        st = gs_op_as_float(k, b, &a->tb, &a->b);
    return st;
}

static void conv_args_clear(gs_kcall *k, conv_args *a)
{
    gs_tensor_clear(k->ctx, &a->tx);
    gs_tensor_clear(k->ctx, &a->tw);
    gs_tensor_clear(k->ctx, &a->tb);
}

static gs_status k_conv(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    const gs_tensor *x = in[0], *w = in[1], *b = nin > 2 ? in[2] : NULL;
    if (!gs_op_floatlike(x->dtype))
        return gs_kunsupported(k, gs_dtype_name(x->dtype));
    gs_conv_plan p;
    gs_status st = gs_op_conv_plan(k, x, w, b, &p);
    if (st != GS_OK)
        return st;
    int64_t mg = p.mg, osz = p.osz, rows = p.rows, cold[2] = { rows, osz };
    conv_args a;
    gs_tensor f = { 0 }, col = { 0 };
    st = conv_args_init(k, x, w, b, &a);
    if (st == GS_OK)
        st = gs_kmake(k, &f, GS_FLOAT, p.dims, p.rank);
    if (st == GS_OK && !p.direct)
        st = gs_kmake(k, &col, GS_FLOAT, cold, 2);
    for (int64_t n = 0; st == GS_OK && n < p.dims[0]; n++)
        for (int64_t g = 0; g < p.group; g++) {
            const float *src = a.x + (n * p.group + g) * p.cg * p.isz, *cols = src;
            if (!p.direct)
                gs_op_im2col(&p, src, col.data), cols = col.data;
            float *dst = (float *)f.data + (n * p.group + g) * mg * osz;
            for (int64_t m = 0; a.b && m < mg; m++)
                for (int64_t o = 0; o < osz; o++)
                    dst[m * osz + o] = a.b[g * mg + m];
            gs_op_gemm(mg, osz, rows, 1.0f, (gs_fmat){ a.w + g * mg * rows, rows, 1 },
                       (gs_fmat){ cols, osz, 1 }, dst, osz);
        }
    if (st == GS_OK)
        st = gs_op_from_float(k, &f, out, x->dtype);
    conv_args_clear(k, &a);
    gs_tensor_clear(k->ctx, &f);
    gs_tensor_clear(k->ctx, &col);
    return st;
}

/* ---- ConvTranspose: GEMM, then col2im --------------------------------------- */

static gs_status k_convtranspose(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    const gs_tensor *x = in[0], *w = in[1], *b = nin > 2 ? in[2] : NULL;
    if (!gs_op_floatlike(x->dtype))
        return gs_kunsupported(k, gs_dtype_name(x->dtype));
    int64_t group = gs_attr_int(k->node, "group", 1), M;
    gs_status st = conv_check(k, x, w, b, group, true, &M);
    if (st != GS_OK)
        return st;
    int nd = x->rank - 2;
    window win;
    const char *why = transposed_window(&win, k->node, x->dims + 2, nd, w->dims + 2);
    if (why)
        return gs_kfail(k, why);
    int64_t N = x->dims[0], C = x->dims[1], cg = C / group, mg = w->dims[1];
    int64_t ksz = prod(win.kernel, nd), isz = prod(win.out, nd), osz = prod(win.in, nd), rows = mg * ksz;
    int64_t dims[GS_MAX_RANK] = { N, M }, cold[2] = { rows, isz };
    memcpy(dims + 2, win.in, (size_t)nd * sizeof *dims);
    conv_args a;
    gs_tensor f = { 0 }, col = { 0 };
    st = conv_args_init(k, x, w, b, &a);
    if (st == GS_OK)
        st = gs_kmake(k, &f, GS_FLOAT, dims, x->rank);
    if (st == GS_OK)
        st = gs_kmake(k, &col, GS_FLOAT, cold, 2);
    float *cols = col.data;
    for (int64_t n = 0; st == GS_OK && n < N; n++)
        for (int64_t g = 0; g < group; g++) {
            /* cols[m * ksz + kk, i] = sum over c of w[g * cg + c, m, kk] * x[n, g * cg + c, i] */
            memset(cols, 0, (size_t)(rows * isz) * sizeof *cols);
            gs_op_gemm(rows, isz, cg, 1.0f, (gs_fmat){ a.w + g * cg * rows, 1, rows },
                       (gs_fmat){ a.x + (n * C + g * cg) * isz, isz, 1 }, cols, isz);
            float *dst = (float *)f.data + (n * M + g * mg) * osz;
            for (int64_t r = 0; r < rows; r++)
                col2im_row(&win, r % ksz, cols + r * isz, dst + r / ksz * osz);
            for (int64_t m = 0; a.b && m < mg; m++)
                for (int64_t o = 0; o < osz; o++)
                    dst[m * osz + o] += a.b[g * mg + m];
        }
    if (st == GS_OK)
        st = gs_op_from_float(k, &f, out, x->dtype);
    conv_args_clear(k, &a);
    gs_tensor_clear(k->ctx, &f);
    gs_tensor_clear(k->ctx, &col);
    return st;
}

/* ---- pools ------------------------------------------------------------------ */

typedef struct pool_mode {
    bool max;           /* MaxPool, else AveragePool */
    bool count_pad;     /* AveragePool: padding counts in the divisor */
} pool_mode;

/* Row-major offset at within a plane of dims[0..nd) as a column-major one. */
static int64_t colmajor(int64_t at, const int64_t *dims, int nd)
{
    int64_t idx[GS_MAX_RANK], r = 0;
    unflatten(at, dims, nd, idx);
    for (int d = nd - 1; d >= 0; d--)
        r = r * dims[d] + idx[d];
    return r;
}

/* One window position o: its max (argmax offset into *at) or average. */
static float pool_window(const window *w, pool_mode pm, const float *img, const int64_t *o, int64_t *at)
{
    int nd = w->nd;
    int64_t kof[GS_MAX_RANK] = { 0 }, ksz = prod(w->kernel, nd), cnt = 0;
    float best = -INFINITY;
    double sum = 0;
    *at = -1;
    for (int64_t kk = 0; kk < ksz; kk++, step(kof, w->kernel, nd)) {
        int64_t off = 0;
        bool inside = true, padded = true;   /* in the image; in the image or its pads */
        for (int d = 0; d < nd; d++) {
            int64_t x = o[d] * w->stride[d] - w->pad0[d] + kof[d] * w->dil[d];
            inside = inside && x >= 0 && x < w->in[d];
            padded = padded && x < w->in[d] + w->pad1[d];
            off = off * w->in[d] + x;
        }
        if (!inside) {
            cnt += pm.count_pad && padded;
            continue;
        }
        float v = img[off];
        if (pm.max && (*at < 0 || v > best))
            best = v, *at = off;
        sum += v, cnt++;
    }
    return pm.max ? best : cnt ? (float)(sum / (double)cnt) : 0.0f;
}

/* Pool x over window w into out (and the argmax into idx when not NULL). */
static gs_status pool_run(gs_kcall *k, const gs_tensor *x, const window *w, pool_mode pm, bool colmaj,
                          gs_tensor *out, gs_tensor *idx)
{
    int nd = w->nd;
    int64_t dims[GS_MAX_RANK] = { x->dims[0], x->dims[1] };
    memcpy(dims + 2, w->out, (size_t)nd * sizeof *dims);
    gs_tensor tx = { 0 }, f = { 0 };
    const float *px;
    gs_status st = gs_op_as_float(k, x, &tx, &px);
    if (st == GS_OK)
        st = gs_kmake(k, &f, GS_FLOAT, dims, x->rank);
    if (st == GS_OK && idx)
        st = gs_kmake(k, idx, GS_INT64, dims, x->rank);
    int64_t planes = x->dims[0] * x->dims[1], isz = prod(w->in, nd), osz = prod(w->out, nd);
    float *po = f.data;
    for (int64_t p = 0; st == GS_OK && p < planes; p++) {
        int64_t o[GS_MAX_RANK] = { 0 }, at;
        for (int64_t q = 0; q < osz; q++, step(o, w->out, nd)) {
            po[p * osz + q] = pool_window(w, pm, px + p * isz, o, &at);
            if (idx)
                ((int64_t *)idx->data)[p * osz + q] = p * isz + (colmaj ? colmajor(at, w->in, nd) : at);
        }
    }
    if (st == GS_OK)
        st = gs_op_from_float(k, &f, out, x->dtype);
    gs_tensor_clear(k->ctx, &tx);
    gs_tensor_clear(k->ctx, &f);
    return st;
}

/* MaxPool and AveragePool: the window from kernel_shape and the attributes. */
static gs_status pool(gs_kcall *k, const gs_tensor *x, pool_mode pm, gs_tensor *out, gs_tensor *idx)
{
    int nd = x->rank - 2;
    if (nd < 1)
        return gs_kfail(k, "input rank must be 3 or more");
    bool bytes = x->dtype == GS_INT8 || x->dtype == GS_UINT8;   /* MaxPool from opset 12 */
    if (!gs_op_floatlike(x->dtype) && !(pm.max && bytes))
        return gs_kunsupported(k, gs_dtype_name(x->dtype));
    int64_t kernel[GS_MAX_RANK];
    if (!kernel_shape(k->node, nd, kernel))
        return gs_kfail(k, "kernel_shape must have one entry per spatial dim");
    window w;
    const char *why = window_init(&w, k->node, x->dims + 2, nd, kernel, gs_attr_int(k->node, "ceil_mode", 0));
    if (why)
        return gs_kfail(k, why);
    return pool_run(k, x, &w, pm, gs_attr_int(k->node, "storage_order", 0) != 0, out, idx);
}

/* GlobalAveragePool and GlobalMaxPool: one window over every spatial dim. */
static gs_status global_pool(gs_kcall *k, const gs_tensor *x, bool max, gs_tensor *out)
{
    int nd = x->rank - 2;
    if (nd < 1)
        return gs_kfail(k, "input rank must be 3 or more");
    if (!gs_op_floatlike(x->dtype))
        return gs_kunsupported(k, gs_dtype_name(x->dtype));
    window w;
    memset(&w, 0, sizeof w);
    w.nd = nd;
    for (int i = 0; i < nd; i++) {
        w.kernel[i] = w.in[i] = x->dims[2 + i];
        w.stride[i] = w.dil[i] = w.out[i] = 1;
        if (w.in[i] <= 0)
            return gs_kfail(k, "spatial dims must be positive");
    }
    return pool_run(k, x, &w, (pool_mode){ max, false }, false, out, NULL);
}

static gs_status k_maxpool(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    bool indices = nout > 1 && k->node->out[1] != GS_NONE;
    return pool(k, in[0], (pool_mode){ true, false }, &out[0], indices ? &out[1] : NULL);
}

static gs_status k_avgpool(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    pool_mode pm = { false, gs_attr_int(k->node, "count_include_pad", 0) != 0 };
    return pool(k, in[0], pm, out, NULL);
}

static gs_status k_gap(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    return global_pool(k, in[0], false, out);
}

static gs_status k_gmp(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    return global_pool(k, in[0], true, out);
}

/* ---- shape inference and cost ------------------------------------------------ */

static const gs_value *val(const gs_graph *g, const gs_node *n, int k)
{
    return k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
}

static const gs_value *outval(const gs_graph *g, const gs_node *n)
{
    return n->nout > 0 && n->out[0] != GS_NONE ? &g->values[n->out[0]] : NULL;
}

/* Dims 2.. of v (the spatial dims) into in; false when any is unknown. */
static bool spatial(const gs_value *v, int64_t *in)
{
    for (int i = 2; i < v->rank; i++)
        if ((in[i - 2] = v->dims[i].v) < 0)
            return false;
    return true;
}

/* The kernel dims of weight w (dims 2..), or of kernel_shape; false if unknown. */
static bool kernel_of(const gs_node *n, const gs_value *w, int nd, int64_t *kernel)
{
    if (w && w->rank == nd + 2 && spatial(w, kernel))
        return true;
    return kernel_shape(n, nd, kernel);
}

/* Output 0 (and an Indices output) as [N, channels, spatial...] of type
 * dtype: spatial dims from window w, or unknown when w is NULL. */
static gs_status infer_out(gs_graph *g, gs_node *n, const gs_value *x, int32_t dtype, gs_dim channels,
                           const window *w)
{
    gs_dim dims[GS_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = channels;
    for (int i = 2; i < x->rank; i++)
        dims[i] = (gs_dim){ w ? w->out[i - 2] : -1, NULL };
    gs_status st = gs_infer_set(g, n->out[0], dtype, x->rank, dims);
    if (st == GS_OK && n->nout > 1)
        st = gs_infer_set(g, n->out[1], GS_INT64, x->rank, dims);
    return st;
}

gs_status gs_op_infer_conv(gs_graph *g, gs_node *n, const gs_value *x, const gs_value *w, int32_t dtype)
{
    if (!x || !w || x->rank < 3 || (w->rank >= 0 && w->rank != x->rank))
        return GS_OK;
    int nd = x->rank - 2;
    int64_t in[GS_MAX_RANK], kernel[GS_MAX_RANK];
    gs_dim m = w->rank > 0 ? w->dims[0] : (gs_dim){ -1, NULL };
    window win;
    const char *why = spatial(x, in) && kernel_of(n, w, nd, kernel) ? window_init(&win, n, in, nd, kernel, false)
                                                                     : "unknown";
    if (why == gs_conv_overflows)
        return gs_infer_overflow(g, n);
    return infer_out(g, n, x, dtype, m, why ? NULL : &win);
}

static gs_status infer_conv(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    return gs_op_infer_conv(g, n, x, val(g, n, 1), x ? x->dtype : 0);
}

static gs_status infer_convtranspose(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0), *w = val(g, n, 1);
    if (!x || !w || x->rank < 3 || (w->rank >= 0 && w->rank != x->rank))
        return GS_OK;
    int nd = x->rank - 2;
    int64_t in[GS_MAX_RANK], kernel[GS_MAX_RANK], group = gs_attr_int(n, "group", 1);
    gs_dim m = { -1, NULL };
    if (w->rank > 1 && w->dims[1].v >= 0 && group > 0 && __builtin_mul_overflow(w->dims[1].v, group, &m.v))
        return gs_infer_overflow(g, n);
    window win;
    const char *why = spatial(x, in) && kernel_of(n, w, nd, kernel) ? transposed_window(&win, n, in, nd, kernel)
                                                                     : "unknown";
    if (why == gs_conv_overflows)
        return gs_infer_overflow(g, n);
    if (!why)   /* infer_out reads the window positions: here they are the output image */
        memcpy(win.out, win.in, sizeof win.out);
    return infer_out(g, n, x, x->dtype, m, why ? NULL : &win);
}

static gs_status infer_pool(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 3)
        return GS_OK;
    int nd = x->rank - 2;
    int64_t in[GS_MAX_RANK], kernel[GS_MAX_RANK];
    window win;
    const char *why = spatial(x, in) && kernel_of(n, NULL, nd, kernel)
                          ? window_init(&win, n, in, nd, kernel, gs_attr_int(n, "ceil_mode", 0)) : "unknown";
    if (why == gs_conv_overflows)
        return gs_infer_overflow(g, n);
    return infer_out(g, n, x, x->dtype, x->dims[1], why ? NULL : &win);
}

static gs_status infer_global(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 3)
        return GS_OK;
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = i < 2 ? x->dims[i] : (gs_dim){ 1, NULL };
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
}

/* Conv: 2 * N * Cout * spatial_out * (Cin / group) * kernel, i.e. two per
 * output element and weight element of one output channel (w: the weight).
 * ConvTranspose: two per input element and weight element of one input
 * channel. */
static void cost_convlike(const gs_graph *g, const gs_node *n, gs_cost *c, const gs_value *per, const gs_value *w)
{
    const gs_value *o = outval(g, n);
    double wper = w && w->rank > 0 && w->dims[0].v > 0 ? gs_value_elems(w) / (double)w->dims[0].v : gs_value_elems(w);
    c->flops = 2 * gs_value_elems(per) * wper;
    c->bytes_read = 0;
    for (int i = 0; i < n->nin; i++)
        c->bytes_read += gs_value_bytes(val(g, n, i));
    c->bytes_written = gs_value_bytes(o);
}

void gs_op_cost_conv(const gs_graph *g, const gs_node *n, int wk, gs_cost *c)
{
    cost_convlike(g, n, c, outval(g, n), val(g, n, wk));
}

static void cost_conv(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    gs_op_cost_conv(g, n, 1, c);
}

static void cost_convtranspose(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    cost_convlike(g, n, c, val(g, n, 0), val(g, n, 1));
}

/* Pools: one operation per output element and kernel element. */
static void cost_pool(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    const gs_value *x = val(g, n, 0), *o = outval(g, n);
    const int64_t *ks;
    int nk = gs_attr_ints(n, "kernel_shape", &ks);
    double per = 1;
    for (int i = 0; i < nk; i++)
        per *= (double)ks[i];
    c->flops = nk > 0 ? gs_value_elems(o) * per : gs_value_elems(x);
    c->bytes_read = gs_value_bytes(x);
    c->bytes_written = gs_value_bytes(o) * (n->nout > 1 && n->out[1] != GS_NONE ? 3 : 1);
}

/* ---- the table ---------------------------------------------------------------- */

const gs_opdef gs_ops_conv[] = {
    { "Conv", 1, 0, 2, 3, 1, 1, 0, "auto_pad:s=NOTSET dilations:ints=1 group:i=1 kernel_shape:ints "
      "pads:ints=0 strides:ints=1", infer_conv, cost_conv, k_conv, GS_RAISE_KEEP },
    { "ConvTranspose", 1, 0, 2, 3, 1, 1, 0, "auto_pad:s=NOTSET dilations:ints group:i=1 kernel_shape:ints "
      "output_padding:ints output_shape:ints pads:ints strides:ints", infer_convtranspose, cost_convtranspose,
      k_convtranspose, GS_RAISE_KEEP },
    { "MaxPool", 1, 0, 1, 1, 1, 2, 0, "auto_pad:s=NOTSET ceil_mode:i=0 dilations:ints=1 kernel_shape:ints "
      "pads:ints=0 storage_order:i=0 strides:ints=1 (second output: Indices)", infer_pool, cost_pool,
        k_maxpool, GS_RAISE_POOL_CEIL },
    { "AveragePool", 1, 0, 1, 1, 1, 1, 0, "auto_pad:s=NOTSET ceil_mode:i=0 count_include_pad:i=0 "
      "dilations:ints=1 kernel_shape:ints pads:ints=0 strides:ints=1", infer_pool, cost_pool, k_avgpool,
        GS_RAISE_POOL_CEIL },
    { "GlobalAveragePool", 1, 0, 1, 1, 1, 1, 0, "", infer_global, cost_pool, k_gap, GS_RAISE_KEEP },
    { "GlobalMaxPool", 1, 0, 1, 1, 1, 1, 0, "", infer_global, cost_pool, k_gmp, GS_RAISE_KEEP },
    /* known, carried through, not evaluated */
    { "GlobalLpPool", 2, 0, 1, 1, 1, 1, 0, "p:i=2", NULL, NULL, NULL, GS_RAISE_KEEP },
    { "LpPool", 11, 0, 1, 1, 1, 1, 0, "auto_pad:s=NOTSET ceil_mode:i=0 dilations:ints kernel_shape:ints "
      "p:i=2 pads:ints strides:ints", NULL, NULL, NULL, GS_RAISE_KEEP },
    { "MaxUnpool", 11, 0, 2, 3, 1, 1, 0, "kernel_shape:ints pads:ints strides:ints", NULL, NULL, NULL,
      GS_RAISE_KEEP },
    { .name = NULL },
};
