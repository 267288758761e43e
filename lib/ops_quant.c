/*
 * ops_quant.c - registry rows for QuantizeLinear and DequantizeLinear
 * (opsets 10 to 21): per-tensor, per-axis (from opset 13) and blocked (from
 * opset 21) scales, with 8- and 16-bit integer types. The float8 and 4-bit
 * types are not graphsub dtypes: their nodes stay opaque to the kernels.
 * And the ops ONNX Runtime's quantization tools write: DynamicQuantizeLinear
 * and MatMulInteger (dynamic quantization), ConvInteger, QLinearMatMul and
 * QLinearConv (the QOperator format).
 *
 * The arithmetic is ONNX's and ONNX Runtime's, in float32:
 *   QuantizeLinear    y = saturate(round_half_to_even(x / scale) + zero_point)
 *   DequantizeLinear  y = (x - zero_point) * scale
 *   DynamicQuantizeLinear  QuantizeLinear to uint8 with the scale and zero
 *                     point that map x's range (widened to hold 0) onto 0..255
 * QuantizeLinear folds like any op (ONNX Runtime folds the QuantizeLinear of
 * a float weight into an integer initializer too); DequantizeLinear never
 * folds (GS_OP_NO_FOLD): a DequantizeLinear of a constant int8 weight must
 * stay for ONNX Runtime's quantized kernels (QLinearConv, QLinearMatMul) to
 * be fused from it.
 */
#include "gs_ops.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static const gs_value *val(const gs_graph *g, const gs_node *n, int k)
{
    return k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
}

/* QuantizeLinear: x's dims; the zero point's type, else output_dtype (from
 * opset 21), else uint8. */
static gs_status infer_quantize(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0), *z = val(g, n, 2);
    int32_t to = (int32_t)gs_attr_int(n, "output_dtype", 0);
    int32_t dtype = n->nin > 2 && n->in[2] != GS_NONE ? (z ? z->dtype : 0) : to ? to : GS_UINT8;
    return gs_infer_set(g, n->out[0], dtype, x ? x->rank : -1, x && x->rank >= 0 ? x->dims : NULL);
}

/* DequantizeLinear: x's dims, float32 (the scale's type from opset 19). */
static gs_status infer_dequantize(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0), *s = val(g, n, 1);
    int32_t dtype = g->opset < 19 ? GS_FLOAT : s ? s->dtype : 0;
    return gs_infer_set(g, n->out[0], dtype, x ? x->rank : -1, x && x->rank >= 0 ? x->dims : NULL);
}

/* How the scale and zero point of a node cover x: element i of x lies at
 * (o, a, r) around the axis (outer, axis length, inner); its scale is
 * element 0 (per-tensor), a (per-axis) or (o * blocks + a / block) * inner
 * + r (blocked). */
typedef struct qmap {
    int64_t len, inner, block, blocks;
    int kind;                   /* 0 per-tensor, 1 per-axis, 2 blocked */
} qmap;

static int64_t qmap_at(const qmap *m, int64_t i)
{
    if (m->kind == 0)
        return 0;
    int64_t a = i / m->inner % m->len;
    if (m->kind == 1)
        return a;
    int64_t o = i / (m->inner * m->len), r = i % m->inner;
    return (o * m->blocks + a / m->block) * m->inner + r;
}

/* The map of scale s (and zero point z, which must have s's shape) over x;
 * returns what is wrong, or NULL. */
static const char *qmap_make(gs_kcall *k, const gs_tensor *x, const gs_tensor *s, const gs_tensor *z,
                             qmap *m)
{
    if (z && (z->rank != s->rank || gs_tensor_numel(z) != gs_tensor_numel(s)))
        return "the zero point's shape is not the scale's";
    int64_t block = k->opset >= 21 ? gs_attr_int(k->node, "block_size", 0) : 0;
    *m = (qmap){ .len = 1, .inner = 1, .block = 1, .blocks = 1, .kind = 0 };
    if (block < 0)
        return "block_size is negative";
    if (block == 0 && gs_tensor_numel(s) == 1 && s->rank <= 1)
        return NULL;
    if (k->opset < 13)
        return "the scale is not a scalar";
    int axis = gs_axis(gs_attr_int(k->node, "axis", 1), x->rank);
    if (axis < 0)
        return "axis out of range";
    m->len = x->dims[axis];
    m->inner = gs_numel(x->dims + axis + 1, x->rank - axis - 1);
    if (block == 0) {
        m->kind = 1;
        return s->rank == 1 && s->dims[0] == m->len ? NULL : "the scale's length is not the axis's";
    }
    m->kind = 2, m->block = block, m->blocks = (m->len + block - 1) / block;
    if (s->rank != x->rank)
        return "a blocked scale's rank is not the input's";
    for (int d = 0; d < x->rank; d++)
        if (s->dims[d] != (d == axis ? m->blocks : x->dims[d]))
            return "a blocked scale's shape does not cover the input";
    return NULL;
}

/* The range of integer dtype t, false when t is not one quantization writes. */
static bool qrange(int32_t t, int64_t *lo, int64_t *hi)
{
    switch (t) {
    case GS_UINT8: *lo = 0, *hi = 255; return true;
    case GS_INT8: *lo = -128, *hi = 127; return true;
    case GS_UINT16: *lo = 0, *hi = 65535; return true;
    case GS_INT16: *lo = -32768, *hi = 32767; return true;
    default: return false;
    }
}

/* round_half_to_even(v) + z saturated to [lo, hi]; a NaN v counts as 0. */
static int64_t saturate_round(double v, int64_t z, int64_t lo, int64_t hi)
{
    double r = (isnan(v) ? 0.0 : nearbyint(v)) + (double)z;
    return r < (double)lo ? lo : r > (double)hi ? hi : (int64_t)r;
}

static gs_status k_quantize(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0], *s = in[1], *z = nin > 2 ? in[2] : NULL;
    int32_t to = z ? z->dtype : (int32_t)gs_attr_int(k->node, "output_dtype", 0);
    int64_t lo, hi;
    if (!qrange(to ? to : GS_UINT8, &lo, &hi))
        return gs_kunsupported(k, "this output type");
    if (!gs_op_floatlike(x->dtype) && x->dtype != GS_INT32)
        return gs_kfail(k, "the input is not float or int32");
    if (!gs_op_floatlike(s->dtype))
        return gs_kfail(k, "the scale is not float");
    qmap m;
    const char *why = qmap_make(k, x, s, z, &m);
    if (why)
        return gs_kfail(k, why);
    gs_status st = gs_kmake_raw(k, out, to ? to : GS_UINT8, x->dims, x->rank);
    for (int64_t i = 0, n = gs_tensor_numel(x); st == GS_OK && i < n; i++) {
        int64_t j = qmap_at(&m, i);
        float q = (float)gs_tensor_get_f(x, i) / (float)gs_tensor_get_f(s, j);
        gs_tensor_set_i(out, i, saturate_round(q, z ? gs_tensor_get_i(z, j) : 0, lo, hi));
    }
    return st;
}

static gs_status k_dequantize(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0], *s = in[1], *z = nin > 2 ? in[2] : NULL;
    int64_t lo, hi;
    if (!qrange(x->dtype, &lo, &hi) && x->dtype != GS_INT32)
        return gs_kunsupported(k, "this input type");
    if (z && z->dtype != x->dtype)
        return gs_kfail(k, "the zero point's type is not the input's");
    if (!gs_op_floatlike(s->dtype) || (k->opset < 19 && s->dtype != GS_FLOAT))
        return gs_kfail(k, "the scale is not float32 (or, from opset 19, float16 or bfloat16)");
    qmap m;
    const char *why = qmap_make(k, x, s, z, &m);
    if (why)
        return gs_kfail(k, why);
    gs_status st = gs_kmake_raw(k, out, k->opset < 19 ? GS_FLOAT : s->dtype, x->dims, x->rank);
    for (int64_t i = 0, n = gs_tensor_numel(x); st == GS_OK && i < n; i++) {
        int64_t j = qmap_at(&m, i);
        float d = (float)(gs_tensor_get_i(x, i) - (z ? gs_tensor_get_i(z, j) : 0));
        gs_tensor_set_f(out, i, d * (float)gs_tensor_get_f(s, j));
    }
    return st;
}

/* DynamicQuantizeLinear: x's range [lo, hi] widened to hold 0 gives scale
 * (hi - lo) / 255 (1 when both are 0) and zero point round(saturate(-lo /
 * scale)) in uint8; y = saturate(round(x / scale) + zero point). Float32
 * throughout, as ONNX Runtime computes it; NaN elements are left out of the
 * range and quantize to the zero point. */
static gs_status k_dynquantize(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    if (x->dtype != GS_FLOAT)
        return gs_kfail(k, "x is not float32");
    int64_t n = gs_tensor_numel(x);
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = (float)gs_tensor_get_f(x, i);
        lo = fminf(lo, v), hi = fmaxf(hi, v);
    }
    float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
    int64_t zp = saturate_round(fmaxf(0.0f, fminf(255.0f, 0.0f - lo / scale)), 0, 0, 255);
    gs_status st = gs_kmake_raw(k, &out[0], GS_UINT8, x->dims, x->rank);
    if (st == GS_OK)
        st = gs_kmake_raw(k, &out[1], GS_FLOAT, NULL, 0);
    if (st == GS_OK)
        st = gs_kmake_raw(k, &out[2], GS_UINT8, NULL, 0);
    for (int64_t i = 0; st == GS_OK && i < n; i++)
        gs_tensor_set_i(&out[0], i, saturate_round((float)gs_tensor_get_f(x, i) / scale, zp, 0, 255));
    if (st == GS_OK)
        gs_tensor_set_f(&out[1], 0, scale), gs_tensor_set_i(&out[2], 0, zp);
    return st;
}

/* DynamicQuantizeLinear: y uint8 of x's shape, a float32 scalar scale and a
 * uint8 scalar zero point. */
static gs_status infer_dynquantize(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    gs_status st = gs_infer_set(g, n->out[0], GS_UINT8, x ? x->rank : -1, x && x->rank >= 0 ? x->dims : NULL);
    if (st == GS_OK)
        st = gs_infer_set(g, n->out[1], GS_FLOAT, 0, NULL);
    return st == GS_OK ? gs_infer_set(g, n->out[2], GS_UINT8, 0, NULL) : st;
}

/* ---- the integer products ---------------------------------------------------
 *
 * MatMulInteger and QLinearMatMul take their shapes from MatMul's plan
 * (ops_nn.c), ConvInteger and QLinearConv from Conv's, with Conv's im2col
 * (ops_conv.c). The 8-bit operands are centred on their zero points (a -
 * a_zero_point: at most 9 bits, exact in float32) and multiplied exactly:
 * products and sums in double, exact while a sum stays below 2^53 (2^37
 * products). The sum is then wrapped to int32, as the spec's 32-bit
 * accumulator gives it. The QLinear ops requantize it:
 *   y = saturate(round_half_to_even(sum * s) + y_zero_point),
 *   s = a_scale * b_scale / y_scale in float32, the product in double
 * as ONNX's reference computes it (ONNX Runtime rounds the product in
 * float32: the two can differ by one where it lies that close to a half).
 */

enum { EACH_NONE, EACH_ROW, EACH_COLUMN, EACH_CHANNEL };   /* what an operand may have one zero point for */

/* Where element e of an operand finds its zero point: e / msize * len + e /
 * inner % len, for an operand of batch matrices of msize elements, each with
 * len values, one per inner consecutive elements (a's rows: inner K; b's
 * columns: inner 1, msize K * N; a weight's output channels: one matrix);
 * len 0: one value for all. */
typedef struct pmap {
    int64_t len, inner, msize;
} pmap;

/* An 8-bit operand of an integer product, its zero point (NULL: 0) and
 * scale (the QLinear ops). */
typedef struct qoperand {
    const gs_tensor *x, *z, *s;
    int each;                   /* EACH_*: the form its zero point and scale may take besides one value */
    const char *name;           /* "a", "b": the inputs "a", "a_zero_point" in messages */
    pmap zm, sm;                /* of z and s */
} qoperand;

/* The operands of an integer product. */
typedef struct qprod {
    qoperand a, b;
    const gs_tensor *ys, *yz;   /* the QLinear ops: y's scale and zero point; NULL otherwise */
    const gs_tensor *bias;      /* QLinearConv's B: int32 per output channel, or NULL */
} qprod;

static int64_t pmap_elem(const pmap *m, int64_t e)
{
    return m->len ? e / m->msize * m->len + e / m->inner % m->len : 0;
}

/* The value for row, column or channel r of batch matrix t. */
static int64_t pmap_at(const pmap *m, int64_t t, int64_t r)
{
    return m->len ? t * m->len + r : 0;
}

/* t holds one value: a scalar or a vector of one (per tensor). */
static bool one_value(const gs_tensor *t)
{
    return t->rank <= 1 && gs_tensor_numel(t) == 1;
}

/* The map of zero point s of matrix operand x: one per row (a) or column (b)
 * of each of x's matrices, as a vector when x is 2-D, else with x's dims and
 * 1 for the other matrix dim ([.., M, 1] of a, [.., 1, N] of b). Returns
 * what is wrong, or NULL. */
static const char *fit_matrix(const gs_tensor *s, const gs_tensor *x, bool rows, pmap *m)
{
    int r = x->rank, one = rows ? r - 1 : r - 2;   /* the dim s has one value for */
    const char *wrong = rows ? "is not one value or one per row" : "is not one value or one per column";
    if (r < 2)
        return "is not one value";
    m->len = x->dims[rows ? r - 2 : r - 1];
    m->inner = rows ? x->dims[r - 1] : 1;
    m->msize = gs_numel(x->dims + r - 2, 2);
    if (m->msize < 0)
        m->msize = 1;   /* overflows only when x is empty (a batch dim 0): no element asks */
    if (s->rank == 1 && r == 2)
        return s->dims[0] == m->len ? NULL : wrong;
    if (s->rank != r)
        return wrong;
    for (int d = 0; d < r; d++)
        if (s->dims[d] != (d == one ? 1 : x->dims[d]))
            return wrong;
    return NULL;
}

/* The map of zero point s of weight w: one per output channel (w's dim 0),
 * as a vector. Returns what is wrong, or NULL. */
static const char *fit_channel(const gs_tensor *s, const gs_tensor *w, pmap *m)
{
    if (s->rank != 1 || w->rank < 1 || s->dims[0] != w->dims[0])
        return "is not one value or one per output channel";
    int64_t n = gs_tensor_numel(w);
    *m = (pmap){ w->dims[0], w->dims[0] ? n / w->dims[0] : 1, n };
    return NULL;
}

/* The map of zero point s over operand x that may have one per `each`;
 * returns what is wrong, or NULL. */
static const char *pmap_fit(const gs_tensor *s, const gs_tensor *x, int each, pmap *m)
{
    *m = (pmap){ 0, 1, 1 };
    if (one_value(s))
        return NULL;
    if (each == EACH_ROW || each == EACH_COLUMN)
        return fit_matrix(s, x, each == EACH_ROW, m);
    if (each == EACH_CHANNEL)
        return fit_channel(s, x, m);
    return "is not one value";
}

/* gs_kfail with a message formatted as printf's (naming the inputs). */
__attribute__((format(printf, 2, 3)))
static gs_status kfail_fmt(gs_kcall *k, const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return gs_kfail(k, buf);
}

/* Checks operand o (8-bit, its zero point of its type, a float scale) and
 * maps its zero point and scale. */
static gs_status operand_check(gs_kcall *k, qoperand *o)
{
    int32_t t = o->x->dtype;
    if (t != GS_UINT8 && t != GS_INT8)
        return gs_dtype_size(t) ? kfail_fmt(k, "%s is not int8 or uint8", o->name)
                                : gs_kunsupported(k, "an input type other than int8 and uint8");
    if (o->z && o->z->dtype != t)
        return kfail_fmt(k, "%s_zero_point and %s differ in type", o->name, o->name);
    if (o->s && !gs_op_floatlike(o->s->dtype))
        return kfail_fmt(k, "%s_scale is not float", o->name);
    const char *why = o->z ? pmap_fit(o->z, o->x, o->each, &o->zm) : NULL;
    if (why)
        return kfail_fmt(k, "%s_zero_point %s", o->name, why);
    why = o->s ? pmap_fit(o->s, o->x, o->each, &o->sm) : NULL;
    return why ? kfail_fmt(k, "%s_scale %s", o->name, why) : GS_OK;
}

/* Checks y's scale (a float) and zero point (int8 or uint8, the output's
 * type), one value each, and the bias (int32). */
static gs_status output_check(gs_kcall *k, const qprod *q)
{
    if (!gs_op_floatlike(q->ys->dtype) || !one_value(q->ys))
        return gs_kfail(k, "y_scale is not one float value");
    if ((q->yz->dtype != GS_UINT8 && q->yz->dtype != GS_INT8) || !one_value(q->yz))
        return gs_kfail(k, "y_zero_point is not one int8 or uint8 value");
    if (q->bias && q->bias->dtype != GS_INT32)
        return gs_kfail(k, "B is not int32");
    return GS_OK;
}

static gs_status operands_check(gs_kcall *k, qprod *q)
{
    gs_status st = operand_check(k, &q->a);
    if (st == GS_OK)
        st = operand_check(k, &q->b);
    return st == GS_OK && q->yz ? output_check(k, q) : st;
}

/* x - its zero point as float32 tensor c of x's shape (exact: 9 bits). */
static gs_status centre(gs_kcall *k, const qoperand *o, gs_tensor *c)
{
    gs_status st = gs_kmake_raw(k, c, GS_FLOAT, o->x->dims, o->x->rank);
    float *p = c->data;
    for (int64_t e = 0, n = gs_tensor_numel(o->x); st == GS_OK && e < n; e++)
        p[e] = (float)(gs_tensor_get_i(o->x, e) - (o->z ? gs_tensor_get_i(o->z, pmap_elem(&o->zm, e)) : 0));
    return st;
}

/* y[j] += a * x[j]. */
static void row_add(int64_t n, double a, const float *restrict x, double *restrict y)
{
    for (int64_t j = 0; j < n; j++)
        y[j] += a * x[j];
}

/* c[i * n + j] += sum over q < kk of a[i * kk + q] * b[q * n + j], in double:
 * exact for centred 8-bit operands. */
static void gemm_exact(int64_t m, int64_t n, int64_t kk, const float *a, const float *b, double *c)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t q = 0; q < kk; q++)
            if (a[i * kk + q] != 0)
                row_add(n, a[i * kk + q], b + q * n, c + i * n);
}

/* The exact product (a - a_zero_point) x (b - b_zero_point) as planned by p,
 * into acc: a float64 tensor of p's output dims. */
static gs_status matmul_acc(gs_kcall *k, const qprod *q, const gs_mm_plan *p, gs_tensor *acc)
{
    gs_tensor ca = { 0 }, cb = { 0 };
    gs_status st = gs_kmake(k, acc, GS_DOUBLE, p->dims, p->rank);
    if (st == GS_OK)
        st = centre(k, &q->a, &ca);
    if (st == GS_OK)
        st = centre(k, &q->b, &cb);
    for (int64_t t = 0, nb = p->count, ia, ib; st == GS_OK && t < nb; t++) {
        gs_op_mm_batch(p, t, &ia, &ib);
        gemm_exact(p->m, p->n, p->k, (const float *)ca.data + ia * p->m * p->k,
                   (const float *)cb.data + ib * p->k * p->n, (double *)acc->data + t * p->m * p->n);
    }
    gs_tensor_clear(k->ctx, &ca);
    gs_tensor_clear(k->ctx, &cb);
    return st;
}

/* Group g's mg output planes at dst start at their bias (int32; NULL: 0). */
static void conv_bias(const gs_conv_plan *p, const gs_tensor *bias, int64_t g, double *dst)
{
    for (int64_t m = 0; bias && m < p->mg; m++)
        for (int64_t o = 0; o < p->osz; o++)
            dst[m * p->osz + o] = (double)gs_tensor_get_i(bias, g * p->mg + m);
}

/* The exact convolution of (x - x_zero_point) by (w - w_zero_point) as
 * planned by p, plus bias (int32 per output channel; NULL: none), into acc:
 * a float64 tensor of p's output dims. Padding reads x_zero_point (0 once
 * centred), as ONNX's reference and ONNX Runtime pad. */
static gs_status conv_acc(gs_kcall *k, const qprod *q, const gs_tensor *bias, const gs_conv_plan *p, gs_tensor *acc)
{
    gs_tensor cx = { 0 }, cw = { 0 }, col = { 0 };
    int64_t cold[2] = { p->rows, p->osz };
    gs_status st = gs_kmake(k, acc, GS_DOUBLE, p->dims, p->rank);
    if (st != GS_OK || gs_tensor_numel(acc) == 0)
        return st;   /* nothing to sum, and no im2col matrix to size */
    st = centre(k, &q->a, &cx);
    if (st == GS_OK)
        st = centre(k, &q->b, &cw);
    if (st == GS_OK && !p->direct)
        st = gs_kmake_raw(k, &col, GS_FLOAT, cold, 2);
    for (int64_t n = 0; st == GS_OK && n < p->dims[0]; n++)
        for (int64_t g = 0; g < p->group; g++) {
            const float *img = (const float *)cx.data + (n * p->group + g) * p->cg * p->isz, *cols = img;
            if (!p->direct)
                gs_op_im2col(p, img, col.data), cols = col.data;
            double *dst = (double *)acc->data + (n * p->group + g) * p->mg * p->osz;
            conv_bias(p, bias, g, dst);
            gemm_exact(p->mg, p->osz, p->rows, (const float *)cw.data + g * p->mg * p->rows, cols, dst);
        }
    gs_tensor_clear(k->ctx, &cx);
    gs_tensor_clear(k->ctx, &cw);
    gs_tensor_clear(k->ctx, &col);
    return st;
}

/* An exact sum wrapped to 32 bits, as an int32 accumulator holds it. */
static int32_t wrap32(double v)
{
    return (int32_t)(uint32_t)(int64_t)v;
}

/* out: int32 of acc's shape, each sum of acc wrapped to 32 bits. */
static gs_status to_int32(gs_kcall *k, const gs_tensor *acc, gs_tensor *out)
{
    gs_status st = gs_kmake_raw(k, out, GS_INT32, acc->dims, acc->rank);
    const double *v = acc->data;
    for (int64_t i = 0, n = gs_tensor_numel(acc); st == GS_OK && i < n; i++)
        ((int32_t *)out->data)[i] = wrap32(v[i]);
    return st;
}

/* y's range, zero point and scale. */
typedef struct qout {
    int64_t lo, hi, z;
    float s;
} qout;

/* out: y of acc's shape and y_zero_point's type; y its range, zero point and scale. */
static gs_status qout_make(gs_kcall *k, const qprod *q, const gs_tensor *acc, gs_tensor *out, qout *y)
{
    qrange(q->yz->dtype, &y->lo, &y->hi);
    y->z = gs_tensor_get_i(q->yz, 0);
    y->s = (float)gs_tensor_get_f(q->ys, 0);
    return gs_kmake_raw(k, out, q->yz->dtype, acc->dims, acc->rank);
}

/* Operand o's scale for row, column or channel r of its batch matrix t. */
static float scale_at(const qoperand *o, int64_t t, int64_t r)
{
    return (float)gs_tensor_get_f(o->s, pmap_at(&o->sm, t, r));
}

/* A sum requantized with multiplier s: saturate(round_half_to_even(sum * s) + y's zero point). */
static int64_t requant(double sum, float s, const qout *y)
{
    return saturate_round((double)wrap32(sum) * (double)s, y->z, y->lo, y->hi);
}

/* QLinearMatMul's y from the sums acc: element (t, i, j) multiplied by a's
 * scale of row i times b's of column j (of the matrices output matrix t
 * multiplies) over y's. */
static gs_status requant_matmul(gs_kcall *k, const qprod *q, const gs_mm_plan *p, const gs_tensor *acc,
                                gs_tensor *out)
{
    qout y;
    gs_status st = qout_make(k, q, acc, out, &y);
    const double *v = acc->data;
    for (int64_t t = 0, e = 0, nb = p->count, ia, ib; st == GS_OK && t < nb; t++) {
        gs_op_mm_batch(p, t, &ia, &ib);
        for (int64_t i = 0; i < p->m; i++)
            for (int64_t j = 0; j < p->n; j++, e++)
                gs_tensor_set_i(out, e, requant(v[e], scale_at(&q->a, ia, i) * scale_at(&q->b, ib, j) / y.s, &y));
    }
    return st;
}

/* QLinearConv's y from the sums acc: output channel c multiplied by x's
 * scale times w's of c over y's. */
static gs_status requant_conv(gs_kcall *k, const qprod *q, const gs_conv_plan *p, const gs_tensor *acc,
                              gs_tensor *out)
{
    qout y;
    gs_status st = qout_make(k, q, acc, out, &y);
    const double *v = acc->data;
    for (int64_t c = 0, e = 0, planes = p->dims[0] * p->dims[1]; st == GS_OK && c < planes; c++) {
        float s = scale_at(&q->a, 0, 0) * scale_at(&q->b, 0, c % p->dims[1]) / y.s;
        for (int64_t o = 0; o < p->osz; o++, e++)
            gs_tensor_set_i(out, e, requant(v[e], s, &y));
    }
    return st;
}

/* MatMulInteger: (A - a_zero_point) x (B - b_zero_point) with MatMul's
 * batching, in int32; a_zero_point one value or one per row of A,
 * b_zero_point one value or one per column of B. */
static gs_status k_matmulinteger(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    qprod q = { .a = { in[0], nin > 2 ? in[2] : NULL, NULL, EACH_ROW, "a" },
                .b = { in[1], nin > 3 ? in[3] : NULL, NULL, EACH_COLUMN, "b" } };
    gs_mm_plan p;
    gs_tensor acc = { 0 };
    gs_status st = gs_op_mm_plan(k, q.a.x, q.b.x, &p);
    if (st == GS_OK)
        st = operands_check(k, &q);
    if (st == GS_OK)
        st = matmul_acc(k, &q, &p, &acc);
    if (st == GS_OK)
        st = to_int32(k, &acc, out);
    gs_tensor_clear(k->ctx, &acc);
    return st;
}

/* MatMulInteger: int32 of MatMul's shape. */
static gs_status infer_matmulinteger(gs_graph *g, gs_node *n)
{
    gs_status st = gs_infer_set(g, n->out[0], GS_INT32, -1, NULL);
    return st == GS_OK ? gs_op_infer_matmul(g, n, val(g, n, 0), val(g, n, 1), GS_INT32) : st;
}

/* ConvInteger: Conv of (x - x_zero_point) by (w - w_zero_point) in int32;
 * x_zero_point one value, w_zero_point one value or one per output channel;
 * padding reads x_zero_point. */
static gs_status k_convinteger(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    qprod q = { .a = { in[0], nin > 2 ? in[2] : NULL, NULL, EACH_NONE, "x" },
                .b = { in[1], nin > 3 ? in[3] : NULL, NULL, EACH_CHANNEL, "w" } };
    gs_conv_plan p;
    gs_tensor acc = { 0 };
    gs_status st = gs_op_conv_plan(k, q.a.x, q.b.x, NULL, &p);
    if (st == GS_OK)
        st = operands_check(k, &q);
    if (st == GS_OK)
        st = conv_acc(k, &q, NULL, &p, &acc);
    if (st == GS_OK)
        st = to_int32(k, &acc, out);
    gs_tensor_clear(k->ctx, &acc);
    return st;
}

/* ConvInteger: int32 of Conv's shape. */
static gs_status infer_convinteger(gs_graph *g, gs_node *n)
{
    gs_status st = gs_infer_set(g, n->out[0], GS_INT32, -1, NULL);
    return st == GS_OK ? gs_op_infer_conv(g, n, val(g, n, 0), val(g, n, 1), GS_INT32) : st;
}

static void cost_convinteger(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    gs_op_cost_conv(g, n, 1, c);
}

/* QLinearMatMul: y = saturate(round_half_to_even((a - a_zero_point) x (b -
 * b_zero_point) * a_scale * b_scale / y_scale) + y_zero_point), MatMul's
 * batching; a's scale and zero point one value or one per row, b's one
 * value or one per column, y's one value, whose type y takes. */
static gs_status k_qlinearmatmul(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    qprod q = { .a = { in[0], in[2], in[1], EACH_ROW, "a" }, .b = { in[3], in[5], in[4], EACH_COLUMN, "b" },
                .ys = in[6], .yz = in[7] };
    gs_mm_plan p;
    gs_tensor acc = { 0 };
    gs_status st = gs_op_mm_plan(k, q.a.x, q.b.x, &p);
    if (st == GS_OK)
        st = operands_check(k, &q);
    if (st == GS_OK)
        st = matmul_acc(k, &q, &p, &acc);
    if (st == GS_OK)
        st = requant_matmul(k, &q, &p, &acc, out);
    gs_tensor_clear(k->ctx, &acc);
    return st;
}

/* The QLinear ops' output type: y_zero_point's (input 7). */
static int32_t qlinear_type(const gs_graph *g, const gs_node *n)
{
    const gs_value *z = val(g, n, 7);
    return z ? z->dtype : 0;
}

/* QLinearMatMul: MatMul's shape of a (input 0) by b (input 3). */
static gs_status infer_qlinearmatmul(gs_graph *g, gs_node *n)
{
    int32_t t = qlinear_type(g, n);
    gs_status st = gs_infer_set(g, n->out[0], t, -1, NULL);
    return st == GS_OK ? gs_op_infer_matmul(g, n, val(g, n, 0), val(g, n, 3), t) : st;
}

/* QLinearConv: y = saturate(round_half_to_even((Conv of (x - x_zero_point)
 * by (w - w_zero_point) + B) * x_scale * w_scale / y_scale) + y_zero_point);
 * x's and y's scale and zero point one value, w's one value or one per
 * output channel, B int32 per output channel; y takes y_zero_point's type. */
static gs_status k_qlinearconv(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    qprod q = { .a = { in[0], in[2], in[1], EACH_NONE, "x" }, .b = { in[3], in[5], in[4], EACH_CHANNEL, "w" },
                .ys = in[6], .yz = in[7], .bias = nin > 8 ? in[8] : NULL };
    gs_conv_plan p;
    gs_tensor acc = { 0 };
    gs_status st = gs_op_conv_plan(k, q.a.x, q.b.x, q.bias, &p);
    if (st == GS_OK)
        st = operands_check(k, &q);
    if (st == GS_OK)
        st = conv_acc(k, &q, q.bias, &p, &acc);
    if (st == GS_OK)
        st = requant_conv(k, &q, &p, &acc, out);
    gs_tensor_clear(k->ctx, &acc);
    return st;
}

/* QLinearConv: Conv's shape of x (input 0) by w (input 3). */
static gs_status infer_qlinearconv(gs_graph *g, gs_node *n)
{
    int32_t t = qlinear_type(g, n);
    gs_status st = gs_infer_set(g, n->out[0], t, -1, NULL);
    return st == GS_OK ? gs_op_infer_conv(g, n, val(g, n, 0), val(g, n, 3), t) : st;
}

static void cost_qlinearconv(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    gs_op_cost_conv(g, n, 3, c);
}

const gs_opdef gs_ops_quant[] = {
    { "QuantizeLinear", 10, 21, 2, 3, 1, 1, GS_OP_ANY_ALIGN,
      "axis:i=1 saturate:i=1 block_size:i=0 output_dtype:i=0", infer_quantize, NULL, k_quantize, GS_RAISE_NO },
    { "DequantizeLinear", 10, 21, 2, 3, 1, 1, GS_OP_NO_FOLD | GS_OP_ANY_ALIGN, "axis:i=1 block_size:i=0",
      infer_dequantize, NULL, k_dequantize, GS_RAISE_NO },
    { "DynamicQuantizeLinear", 11, 0, 1, 1, 3, 3, GS_OP_ANY_ALIGN, "(y uint8, scale and zero point scalars)",
      infer_dynquantize, NULL, k_dynquantize, GS_RAISE_KEEP },
    { "MatMulInteger", 10, 0, 2, 4, 1, 1, GS_OP_ANY_ALIGN, "(MatMul's batching; zero points per tensor, "
      "a's per row, b's per column)", infer_matmulinteger, gs_op_cost_matmul, k_matmulinteger, GS_RAISE_KEEP },
    { "ConvInteger", 10, 0, 2, 4, 1, 1, GS_OP_ANY_ALIGN, "auto_pad:s=NOTSET dilations:ints=1 group:i=1 "
      "kernel_shape:ints pads:ints=0 strides:ints=1", infer_convinteger, cost_convinteger, k_convinteger,
      GS_RAISE_KEEP },
    { "QLinearMatMul", 10, 0, 8, 8, 1, 1, GS_OP_ANY_ALIGN, "(MatMul's batching; scales and zero points per "
      "tensor, a's per row, b's per column)", infer_qlinearmatmul, gs_op_cost_matmul, k_qlinearmatmul,
      GS_RAISE_KEEP },
    { "QLinearConv", 10, 0, 8, 9, 1, 1, GS_OP_ANY_ALIGN, "auto_pad:s=NOTSET dilations:ints=1 group:i=1 "
      "kernel_shape:ints pads:ints=0 strides:ints=1", infer_qlinearconv, cost_qlinearconv, k_qlinearconv,
      GS_RAISE_KEEP },
    { .name = NULL },
};
