/*
 * ops_detect.c - registry rows for the data-dependent ops of detection
 * models: NonZero (score filters), TopK (pre-NMS candidates),
 * NonMaxSuppression and RoiAlign (two-stage detectors' box heads), GatherND
 * (the boxes a filter keeps).
 *
 * Orders follow ONNX where it fixes them and ONNX Runtime where it does not:
 * TopK puts equal values in the order of their indices (ONNX), and
 * NonMaxSuppression takes boxes by score, equal scores by lower index, and
 * keeps a box unless its IoU with one already kept exceeds the threshold
 * (ONNX Runtime's CPU kernel). Box and RoiAlign arithmetic is float32, as
 * ONNX Runtime's.
 */
#include "gs_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const gs_value *val(const gs_graph *g, const gs_node *n, int k)
{
    return k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
}

static bool is_int(int32_t dtype)
{
    return !gs_op_floatlike(dtype);
}

/* ---- NonZero ----------------------------------------------------------- */

/* NonZero: int64 [rank of x (1 for a scalar), count of nonzero elements (unknown)]. */
static gs_status infer_nonzero(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    int64_t r = !x || x->rank < 0 ? -1 : x->rank ? x->rank : 1;
    return gs_infer_set(g, n->out[0], GS_INT64, 2, (gs_dim[2]){ { r, NULL }, { -1, NULL } });
}

static gs_status k_nonzero(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    if (!gs_dtype_size(x->dtype) || x->dtype == GS_COMPLEX64 || x->dtype == GS_COMPLEX128)
        return gs_kunsupported(k, "this element type");
    int64_t n = gs_tensor_numel(x), count = 0;
    for (int64_t i = 0; i < n; i++)
        count += gs_tensor_get_f(x, i) != 0;
    int r = x->rank ? x->rank : 1;
    gs_status st = gs_kmake_raw(k, out, GS_INT64, (int64_t[2]){ r, count }, 2);
    int64_t *o = out->data, c = 0;
    for (int64_t i = 0; st == GS_OK && i < n; i++) {
        if (gs_tensor_get_f(x, i) == 0)
            continue;
        for (int64_t d = x->rank - 1, rest = i; d >= 0; d--)
            o[d * count + c] = rest % x->dims[d], rest /= x->dims[d];
        if (!x->rank)
            o[c] = 0;
        c++;
    }
    return st;
}

/* ---- TopK -------------------------------------------------------------- */

/* TopK: x's dims but k along the axis (unknown unless k is a constant), int64 indices. */
static gs_status infer_topk(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 0)
        return GS_OK;
    int axis = gs_axis(gs_attr_int(n, "axis", -1), x->rank);
    if (axis < 0)
        return GS_OK;
    const gs_tensor *kt = gs_infer_const(g, n, 1);
    gs_dim dims[GS_MAX_RANK];
    memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
    dims[axis] = (gs_dim){ kt && gs_tensor_numel(kt) == 1 ? gs_tensor_get_i(kt, 0) : -1, NULL };
    gs_status st = gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
    if (st == GS_OK && n->nout > 1 && n->out[1] != GS_NONE)
        st = gs_infer_set(g, n->out[1], GS_INT64, x->rank, dims);
    return st;
}

typedef struct keyed {
    double f;                   /* the value, float types */
    int64_t i;                  /* the value, integer types */
    int64_t at;                 /* its index along the axis */
} keyed;

/* Orders for qsort: the larger (or smaller) value first, equal values by
 * lower index; NaN counts as larger than any number. */
static int cmp_f(double a, double b)
{
    bool na = isnan(a), nb = isnan(b);
    return na || nb ? (int)na - (int)nb : (a > b) - (a < b);
}

static int by_index(const keyed *a, const keyed *b)
{
    return (a->at > b->at) - (a->at < b->at);
}

static int largest_f(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    int c = cmp_f(b->f, a->f);
    return c ? c : by_index(a, b);
}

static int smallest_f(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    int c = cmp_f(a->f, b->f);
    return c ? c : by_index(a, b);
}

static int largest_i(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    int c = (b->i > a->i) - (b->i < a->i);
    return c ? c : by_index(a, b);
}

static int smallest_i(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    int c = (a->i > b->i) - (a->i < b->i);
    return c ? c : by_index(a, b);
}

static gs_status k_topk(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin;
    const gs_tensor *x = in[0];
    int axis = gs_axis(gs_attr_int(k->node, "axis", -1), x->rank);
    if (axis < 0)
        return gs_kfail(k, "axis out of range");
    if (gs_tensor_numel(in[1]) != 1)
        return gs_kfail(k, "K is not a one-element tensor");
    int64_t kk = gs_tensor_get_i(in[1], 0), len = x->dims[axis];
    if (kk < 0 || kk > len)
        return gs_kfail(k, "K is negative or larger than the axis");
    if (!gs_dtype_size(x->dtype) || x->dtype == GS_BOOL || x->dtype == GS_COMPLEX64 || x->dtype == GS_COMPLEX128)
        return gs_kunsupported(k, "this element type");
    bool big = gs_attr_int(k->node, "largest", 1) != 0, fl = !is_int(x->dtype);
    int (*cmp)(const void *, const void *) = fl ? (big ? largest_f : smallest_f) : (big ? largest_i : smallest_i);
    int64_t dims[GS_MAX_RANK], inner = gs_numel(x->dims + axis + 1, x->rank - axis - 1);
    int64_t outer = gs_numel(x->dims, axis);
    memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
    dims[axis] = kk;
    gs_status st = gs_kmake_raw(k, &out[0], x->dtype, dims, x->rank);
    if (st == GS_OK && nout > 1)
        st = gs_kmake_raw(k, &out[1], GS_INT64, dims, x->rank);
    keyed *row = st == GS_OK && len ? gs_alloc(k->ctx, (size_t)len * sizeof *row) : NULL;
    if (st == GS_OK && len && !row)
        st = gs_nomem(k->ctx);
    size_t es = gs_dtype_size(x->dtype);
    for (int64_t o = 0; st == GS_OK && o < outer && kk; o++)
        for (int64_t r = 0; r < inner; r++) {
            for (int64_t a = 0; a < len; a++) {
                int64_t at = (o * len + a) * inner + r;
                row[a] = (keyed){ fl ? gs_tensor_get_f(x, at) : 0, fl ? 0 : gs_tensor_get_i(x, at), a };
            }
            qsort(row, (size_t)len, sizeof *row, cmp);
            for (int64_t j = 0; j < kk; j++) {
                int64_t to = (o * kk + j) * inner + r, from = (o * len + row[j].at) * inner + r;
                memcpy((char *)out[0].data + to * (int64_t)es, (const char *)x->data + from * (int64_t)es, es);
                if (nout > 1)
                    ((int64_t *)out[1].data)[to] = row[j].at;
            }
        }
    gs_free(k->ctx, row);
    return st;
}

/* ---- GatherND --------------------------------------------------------- */

/* GatherND: indices' dims but the last, then data's after the batch dims and
 * the indexed ones (data's type). */
static gs_status infer_gather_nd(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0), *i = val(g, n, 1);
    int64_t b = gs_attr_int(n, "batch_dims", 0);
    if (!x || !i || x->rank < 0 || i->rank < 1 || i->dims[i->rank - 1].v < 0)
        return x ? gs_infer_set(g, n->out[0], x->dtype, -1, NULL) : GS_OK;
    int64_t m = i->dims[i->rank - 1].v, r = i->rank - 1 + x->rank - b - m;
    if (b < 0 || b >= i->rank || b + m > x->rank || r > GS_MAX_RANK)
        return GS_OK;
    gs_dim dims[GS_MAX_RANK];
    int k = 0;
    for (int d = 0; d < i->rank - 1; d++)
        dims[k++] = i->dims[d];
    for (int64_t d = b + m; d < x->rank; d++)
        dims[k++] = x->dims[d];
    return gs_infer_set(g, n->out[0], x->dtype, k, dims);
}

static gs_status k_gather_nd(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0], *ix = in[1];
    int64_t b = gs_attr_int(k->node, "batch_dims", 0);
    if (ix->rank < 1 || b < 0 || b >= ix->rank || b > x->rank)
        return gs_kfail(k, "batch_dims out of range");
    int64_t m = ix->dims[ix->rank - 1];
    if (m < 1 || b + m > x->rank || ix->rank - 1 + x->rank - b - m > GS_MAX_RANK)
        return gs_kfail(k, "the indices' last dim does not fit the data");
    for (int d = 0; d < b; d++)
        if (ix->dims[d] != x->dims[d])
            return gs_kfail(k, "the batch dims of data and indices differ");
    if (!gs_dtype_size(x->dtype))
        return gs_kunsupported(k, "this element type");
    int64_t dims[GS_MAX_RANK];
    int r = 0;
    for (int d = 0; d < ix->rank - 1; d++)
        dims[r++] = ix->dims[d];
    for (int64_t d = b + m; d < x->rank; d++)
        dims[r++] = x->dims[d];
    gs_status st = gs_kmake_raw(k, out, x->dtype, dims, r);
    size_t es = gs_dtype_size(x->dtype);
    int64_t slice = gs_numel(x->dims + b + m, (int)(x->rank - b - m));
    int64_t per_batch = gs_numel(x->dims + b, (int)(x->rank - b));
    int64_t tuples = gs_numel(ix->dims, ix->rank - 1), in_batch = gs_numel(ix->dims + b, ix->rank - 1 - (int)b);
    for (int64_t t = 0; st == GS_OK && t < tuples; t++) {
        int64_t at = 0;
        for (int64_t j = 0; j < m; j++) {
            int64_t len = x->dims[b + j], v = gs_tensor_get_i(ix, t * m + j);
            v = v < 0 ? v + len : v;
            if (v < 0 || v >= len)
                return gs_kfail(k, "an index out of range");
            at = at * len + v;
        }
        at = (in_batch ? t / in_batch : 0) * per_batch + at * slice;
        memcpy((char *)out->data + t * slice * (int64_t)es, (const char *)x->data + at * (int64_t)es,
               (size_t)slice * es);
    }
    return st;
}

/* ---- NonMaxSuppression ------------------------------------------------- */

static gs_status infer_nms(gs_graph *g, gs_node *n)
{
    return gs_infer_set(g, n->out[0], GS_INT64, 2, (gs_dim[2]){ { -1, NULL }, { 3, NULL } });
}

typedef struct nbox {
    float y0, x0, y1, x1, area;
    float score;
    int64_t at;
} nbox;

/* Box at of boxes (one batch) as corners, min before max. */
static nbox corners(const gs_tensor *b, int64_t base, bool center)
{
    float v[4];
    for (int i = 0; i < 4; i++)
        v[i] = (float)gs_tensor_get_f(b, base + i);
    nbox r;
    if (center) {
        r.x0 = v[0] - v[2] / 2, r.x1 = v[0] + v[2] / 2;
        r.y0 = v[1] - v[3] / 2, r.y1 = v[1] + v[3] / 2;
    } else {
        r.y0 = fminf(v[0], v[2]), r.y1 = fmaxf(v[0], v[2]);
        r.x0 = fminf(v[1], v[3]), r.x1 = fmaxf(v[1], v[3]);
    }
    r.area = (r.x1 - r.x0) * (r.y1 - r.y0);
    return r;
}

/* a and b overlap by more than iou. */
static bool overlaps(const nbox *a, const nbox *b, float iou)
{
    float x0 = fmaxf(a->x0, b->x0), x1 = fminf(a->x1, b->x1);
    float y0 = fmaxf(a->y0, b->y0), y1 = fminf(a->y1, b->y1);
    if (x1 <= x0 || y1 <= y0)
        return false;
    float inter = (x1 - x0) * (y1 - y0), uni = a->area + b->area - inter;
    if (inter <= 0 || a->area <= 0 || b->area <= 0 || uni <= 0)
        return false;
    return inter / uni > iou;
}

static int by_score(const void *pa, const void *pb)
{
    const nbox *a = pa, *b = pb;
    int c = cmp_f(b->score, a->score);
    return c ? c : (a->at > b->at) - (a->at < b->at);
}

typedef struct nms_args {
    int64_t max_out;
    float iou, score;
    bool has_score, center;
} nms_args;

/* The boxes of one (batch, class) kept, appended to sel as (batch, class, box). */
static int64_t nms_class(const gs_tensor *boxes, const gs_tensor *scores, int64_t bi, int64_t ci,
                         int64_t nc, int64_t nb, const nms_args *a, nbox *cand, nbox *kept, int64_t *sel)
{
    int64_t nc_ = 0, nk = 0;
    for (int64_t j = 0; j < nb; j++) {
        float s = (float)gs_tensor_get_f(scores, (bi * nc + ci) * nb + j);
        if (a->has_score && !(s > a->score))
            continue;
        cand[nc_] = corners(boxes, (bi * nb + j) * 4, a->center);
        cand[nc_].score = s, cand[nc_].at = j;
        nc_++;
    }
    qsort(cand, (size_t)nc_, sizeof *cand, by_score);
    for (int64_t j = 0; j < nc_ && nk < a->max_out; j++) {
        bool keep = true;
        for (int64_t i = 0; i < nk && keep; i++)
            keep = !overlaps(&cand[j], &kept[i], a->iou);
        if (!keep)
            continue;
        kept[nk] = cand[j];
        int64_t *s = sel + 3 * nk++;
        s[0] = bi, s[1] = ci, s[2] = cand[j].at;
    }
    return nk;
}

/* A one-element optional input as a number, or dflt when absent. */
static double scalar_in(const gs_tensor *const *in, int nin, int i, double dflt, bool *given)
{
    bool g = i < nin && in[i] && gs_tensor_numel(in[i]) == 1;
    if (given)
        *given = g;
    return g ? gs_tensor_get_f(in[i], 0) : dflt;
}

static gs_status k_nms(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *boxes = in[0], *scores = in[1];
    if (boxes->rank != 3 || scores->rank != 3 || boxes->dims[2] != 4 || boxes->dims[0] != scores->dims[0] ||
        boxes->dims[1] != scores->dims[2])
        return gs_kfail(k, "boxes are not [batches, boxes, 4] or scores not [batches, classes, boxes]");
    for (int i = 2; i < nin && i < 5; i++)
        if (in[i] && gs_tensor_numel(in[i]) > 1)
            return gs_kfail(k, "a threshold or the output limit is not a scalar");
    nms_args a = { .center = gs_attr_int(k->node, "center_point_box", 0) != 0 };
    int64_t m = nin > 2 && in[2] && gs_tensor_numel(in[2]) == 1 ? gs_tensor_get_i(in[2], 0) : 0;
    a.max_out = m > 0 ? m : 0;
    a.iou = (float)scalar_in(in, nin, 3, 0, NULL);
    a.score = (float)scalar_in(in, nin, 4, 0, &a.has_score);
    if (!(a.iou >= 0 && a.iou <= 1))
        return gs_kfail(k, "iou_threshold is not in [0, 1]");
    int64_t nbat = boxes->dims[0], ncls = scores->dims[1], nb = boxes->dims[1];
    int64_t per = a.max_out < nb ? a.max_out : nb, total = 0, cap = nbat * ncls * per;
    nbox *cand = gs_alloc(k->ctx, (size_t)(nb + per + 1) * sizeof *cand);
    int64_t *sel = gs_alloc(k->ctx, (size_t)(3 * cap + 3) * sizeof *sel);
    gs_status st = cand && sel ? GS_OK : gs_nomem(k->ctx);
    for (int64_t b = 0; st == GS_OK && b < nbat; b++)
        for (int64_t c = 0; c < ncls; c++)
            total += nms_class(boxes, scores, b, c, ncls, nb, &a, cand, cand + nb, sel + 3 * total);
    if (st == GS_OK)
        st = gs_kmake_raw(k, out, GS_INT64, (int64_t[2]){ total, 3 }, 2);
    if (st == GS_OK && total)
        memcpy(out->data, sel, (size_t)(3 * total) * sizeof *sel);
    gs_free(k->ctx, cand);
    gs_free(k->ctx, sel);
    return st;
}

/* ---- RoiAlign ---------------------------------------------------------- */

static gs_status infer_roialign(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0), *r = val(g, n, 1);
    gs_dim dims[4] = { r && r->rank == 2 ? r->dims[0] : (gs_dim){ -1, NULL },
                       x && x->rank == 4 ? x->dims[1] : (gs_dim){ -1, NULL },
                       { gs_attr_int(n, "output_height", 1), NULL }, { gs_attr_int(n, "output_width", 1), NULL } };
    return gs_infer_set(g, n->out[0], x ? x->dtype : 0, 4, dims);
}

/* One sample point: the four neighbours' offsets in a plane and their weights
 * (all zero outside the map), as ONNX's bilinear RoiAlign takes them. */
typedef struct sample {
    int64_t p[4];
    float w[4];
} sample;

static sample sample_at(float y, float x, int64_t h, int64_t w)
{
    sample s = { { 0, 0, 0, 0 }, { 0, 0, 0, 0 } };
    if (!(y >= -1.0f && y <= (float)h && x >= -1.0f && x <= (float)w))   /* outside, or NaN */
        return s;
    y = y <= 0 ? 0 : y, x = x <= 0 ? 0 : x;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1 = y0 + 1, x1 = x0 + 1;
    if (y0 >= h - 1)
        y0 = y1 = h - 1, y = (float)y0;
    if (x0 >= w - 1)
        x0 = x1 = w - 1, x = (float)x0;
    float ly = y - (float)y0, lx = x - (float)x0, hy = 1.0f - ly, hx = 1.0f - lx;
    return (sample){ { y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1 },
                     { hy * hx, hy * lx, ly * hx, ly * lx } };
}

enum { ROI_MAX_SAMPLES = 1 << 12 };   /* sample points a side of one bin */

typedef struct roi_args {
    int64_t oh, ow, ratio, h, w;
    float scale, offset;        /* offset 0.5 for half_pixel */
    bool max;
} roi_args;

/* The value of one output bin of plane p from the samples of the roi. */
static float roi_bin(const float *p, const sample *sm, int64_t n, bool max)
{
    float acc = 0;
    for (int64_t i = 0; i < n; i++) {
        const sample *s = &sm[i];
        if (!max) {
            acc += s->w[0] * p[s->p[0]] + s->w[1] * p[s->p[1]] + s->w[2] * p[s->p[2]] + s->w[3] * p[s->p[3]];
            continue;
        }
        float v = fmaxf(fmaxf(fmaxf(s->w[0] * p[s->p[0]], s->w[1] * p[s->p[1]]), s->w[2] * p[s->p[2]]),
                        s->w[3] * p[s->p[3]]);
        acc = i ? fmaxf(acc, v) : v;
    }
    return max || !n ? acc : acc / (float)n;
}

/* Roi r (x0, y0, x1, y1) of channel planes x over c channels into y. */
static gs_status roi_one(gs_kcall *k, const roi_args *a, const float *r, const float *x, int64_t c, float *y)
{
    float x0 = r[0] * a->scale - a->offset, y0 = r[1] * a->scale - a->offset;
    float rw = r[2] * a->scale - a->offset - x0, rh = r[3] * a->scale - a->offset - y0;
    if (a->offset == 0)
        rw = fmaxf(rw, 1.0f), rh = fmaxf(rh, 1.0f);
    float bh = rh / (float)a->oh, bw = rw / (float)a->ow;
    float fh = a->ratio > 0 ? (float)a->ratio : ceilf(rh / (float)a->oh);
    float fw = a->ratio > 0 ? (float)a->ratio : ceilf(rw / (float)a->ow);
    if (!(fh <= ROI_MAX_SAMPLES && fw <= ROI_MAX_SAMPLES))   /* NaN too */
        return gs_kunsupported(k, "a roi of more than 2^12 samples a side");
    int64_t gh = fh > 0 ? (int64_t)fh : 0, gw = fw > 0 ? (int64_t)fw : 0, per = gh * gw;
    size_t count;
    if (!gs_mul_ok((size_t)(a->oh * a->ow), (size_t)per + 1, &count) || !gs_mul_ok(count, sizeof(sample), &count))
        return gs_kfail(k, "too many sample points");
    sample *sm = gs_alloc(k->ctx, count);
    if (!sm)
        return gs_nomem(k->ctx);
    for (int64_t ph = 0, i = 0; ph < a->oh; ph++)
        for (int64_t pw = 0; pw < a->ow; pw++)
            for (int64_t iy = 0; iy < gh; iy++)
                for (int64_t ix = 0; ix < gw; ix++)
                    sm[i++] = sample_at(y0 + (float)ph * bh + ((float)iy + .5f) * bh / (float)gh,
                                        x0 + (float)pw * bw + ((float)ix + .5f) * bw / (float)gw, a->h, a->w);
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t b = 0; b < a->oh * a->ow; b++)
            y[ch * a->oh * a->ow + b] = roi_bin(x + ch * a->h * a->w, sm + b * per, per, a->max);
    gs_free(k->ctx, sm);
    return GS_OK;
}

static gs_status k_roialign(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0], *rois = in[1], *bi = in[2];
    if (x->rank != 4 || rois->rank != 2 || rois->dims[1] != 4 || bi->rank != 1 || bi->dims[0] != rois->dims[0])
        return gs_kfail(k, "X is not 4-D, rois not [num_rois, 4] or batch_indices not [num_rois]");
    if (x->dtype != GS_FLOAT || rois->dtype != GS_FLOAT)
        return gs_kunsupported(k, "a type other than float32");
    const char *mode = gs_attr_str(k->node, "mode", "avg");
    const char *ctm = gs_attr_str(k->node, "coordinate_transformation_mode", "half_pixel");
    if (strcmp(mode, "avg") && strcmp(mode, "max"))
        return gs_kfail(k, "mode is neither avg nor max");
    if (k->opset >= 16 && strcmp(ctm, "half_pixel") && strcmp(ctm, "output_half_pixel"))
        return gs_kfail(k, "coordinate_transformation_mode is neither half_pixel nor output_half_pixel");
    roi_args a = { gs_attr_int(k->node, "output_height", 1), gs_attr_int(k->node, "output_width", 1),
                   gs_attr_int(k->node, "sampling_ratio", 0), x->dims[2], x->dims[3],
                   gs_attr_float(k->node, "spatial_scale", 1.0f),
                   k->opset >= 16 && !strcmp(ctm, "half_pixel") ? 0.5f : 0.0f, !strcmp(mode, "max") };
    if (a.oh < 1 || a.ow < 1 || a.ratio < 0 || a.ratio > ROI_MAX_SAMPLES || a.oh > 1 << 16 || a.ow > 1 << 16)
        return gs_kfail(k, "output size below 1 or above 2^16, or sampling_ratio negative or above 2^12");
    int64_t n = rois->dims[0], c = x->dims[1], plane = c * a.oh * a.ow;
    gs_status st = gs_kmake(k, out, GS_FLOAT, (int64_t[4]){ n, c, a.oh, a.ow }, 4);
    for (int64_t r = 0; st == GS_OK && r < n; r++) {
        int64_t b = gs_tensor_get_i(bi, r);
        if (b < 0 || b >= x->dims[0])
            return gs_kfail(k, "a batch index out of range");
        st = roi_one(k, &a, (const float *)rois->data + 4 * r, (const float *)x->data + b * c * a.h * a.w, c,
                     (float *)out->data + r * plane);
    }
    return st;
}

const gs_opdef gs_ops_detect[] = {
    { "NonZero", 9, 0, 1, 1, 1, 1, GS_OP_ANY_ALIGN, "", infer_nonzero, NULL, k_nonzero, GS_RAISE_KEEP },
    { "TopK", 11, 0, 2, 2, 2, 2, 0, "axis:i=-1 largest:i=1 sorted:i=1 (sorted or not, the output is sorted)",
      infer_topk, NULL, k_topk, GS_RAISE_KEEP },
    { "GatherND", 13, 0, 2, 2, 1, 1, GS_OP_ANY_ALIGN, "batch_dims:i=0", infer_gather_nd, NULL, k_gather_nd,
      GS_RAISE_KEEP },
    { "NonMaxSuppression", 10, 0, 2, 5, 1, 1, GS_OP_ANY_ALIGN, "center_point_box:i=0", infer_nms, NULL, k_nms,
      GS_RAISE_KEEP },
    { "RoiAlign", 10, 0, 3, 3, 1, 1, 0, "mode:s=avg output_height:i=1 output_width:i=1 sampling_ratio:i=0 "
      "spatial_scale:f=1 coordinate_transformation_mode:s=half_pixel (from opset 16)", infer_roialign, NULL,
      k_roialign, GS_RAISE_NO },
    { .name = NULL },
};
