/*
 * ops_index.c - registry rows for the index and mask ops of decoder
 * exports: Trilu (causal masks), CumSum (position ids), ScatterND and
 * ScatterElements (cache updates), GatherElements; and of older exports:
 * OneHot (labels), EyeLike, Compress (a boolean selection), ReverseSequence
 * (bidirectional RNNs).
 *
 * Kernels that only move elements copy them by element size, so they serve
 * every dtype; CumSum and the scatter reductions add integers as int64 and
 * everything else as double, so int64 position ids stay exact.
 */
#include "gs_ops.h"

#include <math.h>
#include <string.h>

static bool is_int(int32_t dtype)
{
    return !gs_op_floatlike(dtype);
}

static gs_status copy_input(gs_kcall *k, const gs_tensor *x, gs_tensor *out)
{
    if (!gs_dtype_size(x->dtype))
        return gs_kunsupported(k, "this element type");
    gs_status st = gs_kmake_raw(k, out, x->dtype, x->dims, x->rank);
    if (st == GS_OK && x->nbytes)
        memcpy(out->data, x->data, x->nbytes);
    return st;
}

/* ---- Trilu ------------------------------------------------------------- */

static gs_status k_trilu(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0];
    if (x->rank < 2)
        return gs_kfail(k, "input rank below 2");
    if (nin > 1 && in[1] && gs_tensor_numel(in[1]) != 1)
        return gs_kfail(k, "k is not a scalar");
    int64_t diag = nin > 1 && in[1] ? gs_tensor_get_i(in[1], 0) : 0;
    bool upper = gs_attr_int(k->node, "upper", 1) != 0;
    gs_status st = copy_input(k, x, out);
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    int64_t mats = rows && cols ? gs_tensor_numel(x) / (rows * cols) : 0;
    size_t es = gs_dtype_size(x->dtype);
    for (int64_t m = 0; st == GS_OK && m < mats; m++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                bool keep = upper ? j - i >= diag : j - i <= diag;
                if (!keep)
                    memset((char *)out->data + ((m * rows + i) * cols + j) * (int64_t)es, 0, es);
            }
    return st;
}

/* ---- CumSum ------------------------------------------------------------ */

/* outer, len and inner of x around axis. */
static void split_at(const gs_tensor *x, int axis, int64_t *outer, int64_t *len, int64_t *inner)
{
    *outer = gs_numel(x->dims, axis);
    *len = x->dims[axis];
    *inner = gs_numel(x->dims + axis + 1, x->rank - axis - 1);
}

static gs_status k_cumsum(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    if (gs_tensor_numel(in[1]) != 1)
        return gs_kfail(k, "axis is not a scalar");
    int axis = gs_axis(gs_tensor_get_i(in[1], 0), x->rank);
    if (axis < 0)
        return gs_kfail(k, "axis out of range");
    if (!gs_dtype_size(x->dtype) || x->dtype == GS_BOOL || x->dtype == GS_COMPLEX64 ||
        x->dtype == GS_COMPLEX128)
        return gs_kunsupported(k, "this element type");
    bool excl = gs_attr_int(k->node, "exclusive", 0), rev = gs_attr_int(k->node, "reverse", 0);
    gs_status st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
    int64_t outer, len, inner;
    split_at(x, axis, &outer, &len, &inner);
    bool ints = is_int(x->dtype);
    for (int64_t o = 0; st == GS_OK && o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t si = 0;
            double sf = 0;
            for (int64_t s = 0; s < len; s++) {
                int64_t j = rev ? len - 1 - s : s, at = (o * len + j) * inner + i;
                if (!excl)
                    si += ints ? gs_tensor_get_i(x, at) : 0, sf += ints ? 0 : gs_tensor_get_f(x, at);
                if (ints)
                    gs_tensor_set_i(out, at, si);
                else
                    gs_tensor_set_f(out, at, sf);
                if (excl)
                    si += ints ? gs_tensor_get_i(x, at) : 0, sf += ints ? 0 : gs_tensor_get_f(x, at);
            }
        }
    return st;
}

/* ---- ScatterND, ScatterElements, GatherElements -------------------------- */

typedef enum { R_NONE, R_ADD, R_MUL, R_MAX, R_MIN } reduction;

static gs_status reduction_of(gs_kcall *k, reduction *r)
{
    const char *s = gs_attr_str(k->node, "reduction", "none");
    static const char *const names[] = { "none", "add", "mul", "max", "min" };
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) {
            *r = (reduction)i;
            return GS_OK;
        }
    return gs_kfail(k, "unknown reduction");
}

/* out[at] = out[at] (reduction) upd[from], element by element. */
static void put(gs_tensor *out, int64_t at, const gs_tensor *upd, int64_t from, reduction r)
{
    size_t es = gs_dtype_size(out->dtype);
    if (r == R_NONE) {
        memcpy((char *)out->data + at * (int64_t)es, (const char *)upd->data + from * (int64_t)es, es);
        return;
    }
    if (is_int(out->dtype)) {
        int64_t a = gs_tensor_get_i(out, at), b = gs_tensor_get_i(upd, from);
        int64_t v = r == R_ADD ? (int64_t)((uint64_t)a + (uint64_t)b) : r == R_MUL ? (int64_t)((uint64_t)a * (uint64_t)b)
                  : r == R_MAX ? (a > b ? a : b) : (a < b ? a : b);
        gs_tensor_set_i(out, at, v);
    } else {
        double a = gs_tensor_get_f(out, at), b = gs_tensor_get_f(upd, from);
        gs_tensor_set_f(out, at, r == R_ADD ? a + b : r == R_MUL ? a * b : r == R_MAX ? (a > b ? a : b)
                                                                           : (a < b ? a : b));
    }
}

/* Reductions need numbers; a plain scatter moves any element. */
static gs_status check_reduction(gs_kcall *k, const gs_tensor *x, reduction *r)
{
    gs_status st = reduction_of(k, r);
    if (st == GS_OK && *r != R_NONE && (x->dtype == GS_COMPLEX64 || x->dtype == GS_COMPLEX128))
        st = gs_kunsupported(k, "a reduction over complex numbers");
    return st;
}

static gs_status k_scatter_nd(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0], *idx = in[1], *upd = in[2];
    reduction r;
    gs_status st = check_reduction(k, x, &r);
    if (st != GS_OK)
        return st;
    if (idx->rank < 1 || upd->dtype != x->dtype)
        return gs_kfail(k, "indices or updates do not fit the data");
    int64_t q = idx->dims[idx->rank - 1];
    if (q > x->rank || upd->rank != idx->rank - 1 + x->rank - q)
        return gs_kfail(k, "indices or updates do not fit the data");
    for (int i = 0; i < upd->rank; i++)
        if (upd->dims[i] != (i < idx->rank - 1 ? idx->dims[i] : x->dims[q + i - (idx->rank - 1)]))
            return gs_kfail(k, "updates shape does not fit the data and indices");
    if ((st = copy_input(k, x, out)) != GS_OK)
        return st;
    int64_t slice = gs_numel(x->dims + q, x->rank - (int)q), tuples = gs_numel(idx->dims, idx->rank - 1);
    for (int64_t t = 0; t < tuples; t++) {
        int64_t at = 0;
        for (int64_t j = 0; j < q; j++) {
            int64_t d = x->dims[j], v = gs_tensor_get_i(idx, t * q + j);
            v = v < 0 ? v + d : v;
            if (v < 0 || v >= d)
                return gs_kfail(k, "index out of range");
            at = at * d + v;
        }
        for (int64_t e = 0; e < slice; e++)
            put(out, at * slice + e, upd, t * slice + e, r);
    }
    return GS_OK;
}

/* Flat index into x of element i of indices (shape idx) with its axis
 * coordinate replaced by the index value; -1 when out of range. */
static int64_t element_at(const gs_tensor *x, const gs_tensor *idx, int axis, int64_t i)
{
    int64_t coord[GS_MAX_RANK], rest = i, at = 0;
    for (int d = idx->rank - 1; d >= 0; d--) {
        coord[d] = idx->dims[d] ? rest % idx->dims[d] : 0;
        rest = idx->dims[d] ? rest / idx->dims[d] : 0;
    }
    int64_t v = gs_tensor_get_i(idx, i);
    coord[axis] = v < 0 ? v + x->dims[axis] : v;
    if (coord[axis] < 0 || coord[axis] >= x->dims[axis])
        return -1;
    for (int d = 0; d < x->rank; d++)
        at = at * x->dims[d] + coord[d];
    return at;
}

/* indices has data's rank, and no dim larger than data's except along the
 * axis (GatherElements allows any size there). */
static gs_status check_elements(gs_kcall *k, const gs_tensor *x, const gs_tensor *idx, int axis)
{
    if (axis < 0 || idx->rank != x->rank)
        return gs_kfail(k, "indices rank or axis does not fit the data");
    for (int d = 0; d < x->rank; d++)
        if (d != axis && idx->dims[d] > x->dims[d])
            return gs_kfail(k, "indices larger than the data");
    return GS_OK;
}

static gs_status k_scatter_elements(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out,
                                    int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0], *idx = in[1], *upd = in[2];
    int axis = gs_axis(gs_attr_int(k->node, "axis", 0), x->rank);
    reduction r;
    gs_status st = check_reduction(k, x, &r);
    if (st == GS_OK)
        st = check_elements(k, x, idx, axis);
    if (st == GS_OK && (upd->dtype != x->dtype || upd->rank != idx->rank ||
                        memcmp(upd->dims, idx->dims, (size_t)idx->rank * sizeof idx->dims[0])))
        st = gs_kfail(k, "updates do not have the indices' shape");
    if (st == GS_OK)
        st = copy_input(k, x, out);
    for (int64_t i = 0, n = gs_tensor_numel(idx); st == GS_OK && i < n; i++) {
        int64_t at = element_at(x, idx, axis, i);
        if (at < 0)
            return gs_kfail(k, "index out of range");
        put(out, at, upd, i, r);
    }
    return st;
}

static gs_status k_gather_elements(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out,
                                   int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0], *idx = in[1];
    int axis = gs_axis(gs_attr_int(k->node, "axis", 0), x->rank);
    gs_status st = check_elements(k, x, idx, axis);
    if (st == GS_OK && !gs_dtype_size(x->dtype))
        st = gs_kunsupported(k, "this element type");
    if (st == GS_OK)
        st = gs_kmake_raw(k, out, x->dtype, idx->dims, idx->rank);
    size_t es = gs_dtype_size(x->dtype);
    for (int64_t i = 0, n = gs_tensor_numel(idx); st == GS_OK && i < n; i++) {
        int64_t at = element_at(x, idx, axis, i);
        if (at < 0)
            return gs_kfail(k, "index out of range");
        memcpy((char *)out->data + i * (int64_t)es, (const char *)x->data + at * (int64_t)es, es);
    }
    return st;
}

/* Output 0: input 1's shape (the indices), input 0's dtype. */
static gs_status infer_gather_elements(gs_graph *g, gs_node *n)
{
    const gs_value *x = &g->values[n->in[0]], *i = &g->values[n->in[1]];
    return gs_infer_set(g, n->out[0], x->dtype, i->rank, i->rank >= 0 ? i->dims : NULL);
}

/* ---- OneHot ------------------------------------------------------------ */

/* A number type, as OneHot's indices and depth must be (not bool). */
static bool numeric(int32_t dtype)
{
    return gs_dtype_size(dtype) && dtype != GS_BOOL && dtype != GS_COMPLEX64 && dtype != GS_COMPLEX128;
}

/* Element i of t as an integer: integers as they are, floating-point values
 * (and uint64 ones) truncated toward zero; false when the value is not a
 * number or lies outside [lo, hi]. */
static bool int_in(const gs_tensor *t, int64_t i, int64_t lo, int64_t hi, int64_t *v)
{
    if (gs_op_floatlike(t->dtype) || t->dtype == GS_UINT64) {
        double f = trunc(gs_tensor_get_f(t, i));
        if (!(f >= -0x1p62 && f <= 0x1p62))   /* NaN, infinities, far values */
            return false;
        *v = (int64_t)f;
    } else {
        *v = gs_tensor_get_i(t, i);
    }
    return *v >= lo && *v <= hi;
}

/* OneHot's depth: one element, a number from 1 to 2^62 (truncated toward
 * zero); 0 when it is not. */
static int64_t onehot_depth(const gs_tensor *t)
{
    int64_t d;
    return gs_tensor_numel(t) == 1 && int_in(t, 0, 1, (int64_t)1 << 62, &d) ? d : 0;
}

/* OneHot: indices' shape with a dim of depth inserted at axis; values[1]
 * where the coordinate along that dim is the index, values[0] elsewhere. An
 * index outside [0, depth) gives a row of values[0] only; from opset 11 an
 * index in [-depth, 0) counts from the end. */
static gs_status k_onehot(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *idx = in[0], *values = in[2];
    int64_t depth = onehot_depth(in[1]), dims[GS_MAX_RANK];
    int r = idx->rank + 1, axis = gs_axis(gs_attr_int(k->node, "axis", -1), r);
    if (!numeric(idx->dtype) || !numeric(in[1]->dtype))
        return gs_kfail(k, "indices or depth is not of a number type");
    if (depth < 1)
        return gs_kfail(k, "depth is not one number from 1 to 2^62");
    if (gs_tensor_numel(values) != 2)
        return gs_kfail(k, "values does not hold two elements");
    if (r > GS_MAX_RANK || axis < 0)
        return gs_kfail(k, "axis out of range");
    for (int d = 0; d < r; d++)
        dims[d] = d < axis ? idx->dims[d] : d == axis ? depth : idx->dims[d - 1];
    if (gs_numel(dims, r) < 0)
        return gs_kfail(k, "the output has more elements than int64 counts");
    gs_status st = gs_kmake_raw(k, out, values->dtype, dims, r);   /* every element written below */
    if (st != GS_OK)
        return st;
    size_t es = gs_dtype_size(values->dtype);
    const char *off = values->data, *on = off + es;
    for (int64_t i = 0, n = gs_tensor_numel(out); i < n; i++)
        memcpy((char *)out->data + (size_t)i * es, off, es);
    int64_t inner = gs_numel(idx->dims + axis, idx->rank - axis), lo = k->opset >= 11 ? -depth : 0, v;
    for (int64_t j = 0, n = gs_tensor_numel(idx); j < n; j++)
        if (int_in(idx, j, lo, depth - 1, &v)) {
            int64_t o = j / inner, i = j % inner, at = (o * depth + (v < 0 ? v + depth : v)) * inner + i;
            memcpy((char *)out->data + (size_t)at * es, on, es);
        }
    return GS_OK;
}

/* OneHot: values' dtype; indices' dims with one inserted at axis, of
 * depth's value where inference knows it (a constant, or a dim read by
 * Shape), unknown otherwise. */
static gs_status infer_onehot(gs_graph *g, gs_node *n)
{
    const gs_value *idx = &g->values[n->in[0]], *values = &g->values[n->in[2]];
    int r = idx->rank + 1, axis = idx->rank < 0 ? -1 : gs_axis(gs_attr_int(n, "axis", -1), r);
    if (axis < 0 || r > GS_MAX_RANK)
        return gs_infer_set(g, n->out[0], values->dtype, -1, NULL);
    gs_dim e[GS_MAX_ELEMS], dims[GS_MAX_RANK];
    const gs_tensor *t = gs_infer_const(g, n, 1);
    gs_dim depth = { t ? onehot_depth(t) : -1, NULL };
    if (!t && gs_infer_elems(g, n->in[1], e) == 1 && (e[0].sym || e[0].v >= 1))
        depth = gs_dim_of_elem(e[0]);   /* a number, or a dim's name */
    depth.v = depth.v ? depth.v : -1;   /* not a valid depth: the kernel reports it */
    for (int d = 0; d < r; d++)
        dims[d] = d < axis ? idx->dims[d] : d == axis ? depth : idx->dims[d - 1];
    return gs_infer_set(g, n->out[0], values->dtype, r, dims);
}

/* ---- EyeLike ----------------------------------------------------------- */

/* The output type of an EyeLike node for input x: the dtype attribute,
 * else x's; 0 (message set) when it is not a number or bool type. */
static int32_t eye_dtype(gs_kcall *k, const gs_tensor *x, gs_status *st)
{
    int64_t dt = gs_attr_int(k->node, "dtype", x->dtype);
    *st = GS_OK;
    if (dt == GS_STRING || dt == GS_COMPLEX64 || dt == GS_COMPLEX128)
        *st = gs_kunsupported(k, "an output of this type");
    else if (dt < 0 || dt > INT32_MAX || !gs_dtype_size((int32_t)dt))
        *st = gs_kfail(k, "dtype is not a tensor type");
    return *st == GS_OK ? (int32_t)dt : 0;
}

/* EyeLike: a matrix of x's shape (x 2-D) with 1 at [i, i + k] and 0
 * elsewhere; x's elements are not read. */
static gs_status k_eyelike(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    gs_status st;
    int32_t dt = eye_dtype(k, x, &st);
    if (st != GS_OK)
        return st;
    if (x->rank != 2)
        return gs_kfail(k, "the input is not 2-D");
    if ((st = gs_kmake(k, out, dt, x->dims, 2)) != GS_OK)
        return st;
    int64_t rows = x->dims[0], cols = x->dims[1], diag = gs_attr_int(k->node, "k", 0);
    if (diag >= cols || diag <= -rows)
        return GS_OK;   /* the diagonal lies outside the matrix: all zeros */
    for (int64_t i = diag < 0 ? -diag : 0; i < rows && i + diag < cols; i++)
        gs_tensor_set_i(out, i * cols + i + diag, 1);
    return GS_OK;
}

/* EyeLike: x's shape when it is 2-D; the dtype attribute's type, else x's. */
static gs_status infer_eyelike(gs_graph *g, gs_node *n)
{
    const gs_value *x = &g->values[n->in[0]];
    int64_t dt = gs_attr_int(n, "dtype", x->dtype);
    int32_t type = dt > 0 && dt <= INT32_MAX && gs_dtype_size((int32_t)dt) ? (int32_t)dt : 0;
    return gs_infer_set(g, n->out[0], type, x->rank == 2 ? 2 : -1, x->rank == 2 ? x->dims : NULL);
}

/* ---- Compress ------------------------------------------------------------ */

/* The axis a Compress node selects along for a rank-r input, or -1 (x
 * flattened) when it has none; -2 when it is out of range (negative only
 * from opset 11). */
static int compress_axis(const gs_node *n, int64_t opset, int r)
{
    if (!gs_ir_attr(n, "axis"))
        return -1;
    int64_t a = gs_attr_int(n, "axis", 0);
    int axis = opset >= 11 || a >= 0 ? gs_axis(a, r) : -1;
    return axis < 0 ? -2 : axis;
}

/* The number of true elements of a bool condition. */
static int64_t count_true(const gs_tensor *c)
{
    int64_t count = 0;
    for (int64_t i = 0, n = gs_tensor_numel(c); i < n; i++)
        count += gs_tensor_get_i(c, i) != 0;
    return count;
}

/* Compress: the slices of x along axis (of x flattened when there is none)
 * whose element of condition is true, in order. A condition shorter than
 * the axis drops the slices past its end; a longer one must be false past
 * the end (as numpy.compress wants). */
static gs_status k_compress(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0], *c = in[1];
    int axis = compress_axis(k->node, k->opset, x->rank);
    if (axis == -2)
        return gs_kfail(k, "axis out of range");
    if (c->rank != 1 || c->dtype != GS_BOOL)
        return gs_kfail(k, "condition is not a 1-D bool tensor");
    int64_t outer = axis < 0 ? 1 : gs_numel(x->dims, axis), count = count_true(c);
    int64_t len = axis < 0 ? gs_tensor_numel(x) : x->dims[axis];
    int64_t inner = axis < 0 ? 1 : gs_numel(x->dims + axis + 1, x->rank - axis - 1);
    for (int64_t j = len; j < c->dims[0]; j++)
        if (gs_tensor_get_i(c, j))
            return gs_kfail(k, "condition selects past the end of the axis");
    int64_t dims[GS_MAX_RANK];
    memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
    dims[axis < 0 ? 0 : axis] = count;
    gs_status st = gs_kmake_raw(k, out, x->dtype, dims, axis < 0 ? 1 : x->rank);   /* the copies fill it */
    if (st != GS_OK || gs_tensor_numel(out) == 0)
        return st;   /* nothing to copy (and an empty x's other dims may overflow) */
    size_t chunk = (size_t)inner * gs_dtype_size(x->dtype);
    char *o = out->data;
    for (int64_t b = 0; b < outer; b++)
        for (int64_t j = 0; j < len && j < c->dims[0]; j++)
            if (gs_tensor_get_i(c, j)) {
                memcpy(o, (const char *)x->data + (size_t)(b * len + j) * chunk, chunk);
                o += chunk;
            }
    return GS_OK;
}

/* Compress: x's dtype; x's rank (1 without an axis) with the selected dim
 * the count of true elements of a constant condition (the kernel refuses
 * one that is true past the axis's end, so the count is the length), else
 * unknown. */
static gs_status infer_compress(gs_graph *g, gs_node *n)
{
    const gs_value *x = &g->values[n->in[0]];
    const gs_tensor *c = gs_infer_const(g, n, 1);
    gs_dim len = { c && c->rank == 1 && c->dtype == GS_BOOL ? count_true(c) : -1, NULL };
    if (!gs_ir_attr(n, "axis"))
        return gs_infer_set(g, n->out[0], x->dtype, 1, &len);
    int axis = x->rank < 0 ? -2 : compress_axis(n, g->opset, x->rank);
    if (axis < 0)
        return gs_infer_set(g, n->out[0], x->dtype, -1, NULL);
    gs_dim dims[GS_MAX_RANK];
    memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
    dims[axis] = len;
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
}

/* ---- ReverseSequence ------------------------------------------------------ */

/* ReverseSequence: x with, for each index b along batch_axis, its first
 * sequence_lens[b] elements along time_axis reversed and the rest kept.
 * The two axes are 0 and 1, in either order. */
static gs_status k_reverse_sequence(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out,
                                    int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0], *lens = in[1];
    int64_t ba = gs_attr_int(k->node, "batch_axis", 1), ta = gs_attr_int(k->node, "time_axis", 0);
    if (x->rank < 2 || !((ba == 0 && ta == 1) || (ba == 1 && ta == 0)))
        return gs_kfail(k, "the input is not at least 2-D, or batch_axis and time_axis are not 0 and 1");
    if (lens->rank != 1 || lens->dims[0] != x->dims[ba] || lens->dtype != GS_INT64)
        return gs_kfail(k, "sequence_lens is not int64, one per batch");
    for (int64_t b = 0; b < lens->dims[0]; b++)
        if (gs_tensor_get_i(lens, b) < 0 || gs_tensor_get_i(lens, b) > x->dims[ta])
            return gs_kfail(k, "a sequence length is negative or longer than the time axis");
    gs_status st = gs_kmake_raw(k, out, x->dtype, x->dims, x->rank);   /* every element written below */
    if (st != GS_OK || gs_tensor_numel(out) == 0)
        return st;   /* nothing to move (and an empty x's other dims may overflow) */
    size_t chunk = (size_t)gs_numel(x->dims + 2, x->rank - 2) * gs_dtype_size(x->dtype);
    for (int64_t i = 0; i < x->dims[0]; i++)
        for (int64_t j = 0; j < x->dims[1]; j++) {
            int64_t b = ba ? j : i, t = ba ? i : j, len = gs_tensor_get_i(lens, b);
            int64_t from = t < len ? len - 1 - t : t, fi = ba ? from : i, fj = ba ? j : from;
            memcpy((char *)out->data + (size_t)(i * x->dims[1] + j) * chunk,
                   (const char *)x->data + (size_t)(fi * x->dims[1] + fj) * chunk, chunk);
        }
    return GS_OK;
}

/* ---- the table --------------------------------------------------------- */

const gs_opdef gs_ops_index[] = {
    { "Trilu", 14, 0, 1, 2, 1, 1, 0, "upper:i=1", gs_infer_same, NULL, k_trilu, GS_RAISE_KEEP },
    { "CumSum", 11, 0, 2, 2, 1, 1, 0, "exclusive:i=0 reverse:i=0", gs_infer_same, NULL, k_cumsum,
      GS_RAISE_KEEP },
    { "ScatterND", 11, 0, 3, 3, 1, 1, 0, "reduction:s=none (from opset 16)", gs_infer_same, NULL,
      k_scatter_nd, GS_RAISE_KEEP },
    { "ScatterElements", 11, 0, 3, 3, 1, 1, 0, "axis:i=0 reduction:s=none (from opset 16)", gs_infer_same,
      NULL, k_scatter_elements, GS_RAISE_KEEP },
    { "GatherElements", 11, 0, 2, 2, 1, 1, 0, "axis:i=0", infer_gather_elements, NULL, k_gather_elements,
      GS_RAISE_KEEP },
    { "OneHot", 9, 0, 3, 3, 1, 1, GS_OP_ANY_ALIGN, "axis:i=-1 (negative indices count from the end from "
      "opset 11)", infer_onehot, NULL, k_onehot, GS_RAISE_KEEP },
    { "EyeLike", 9, 0, 1, 1, 1, 1, GS_OP_ANY_ALIGN, "dtype:i k:i=0", infer_eyelike, NULL, k_eyelike,
      GS_RAISE_KEEP },
    { "Compress", 9, 0, 2, 2, 1, 1, GS_OP_ANY_ALIGN, "axis:i (negative from opset 11)", infer_compress, NULL,
      k_compress, GS_RAISE_KEEP },
    { "ReverseSequence", 10, 0, 2, 2, 1, 1, GS_OP_ANY_ALIGN, "batch_axis:i=1 time_axis:i=0", gs_infer_same,
      NULL, k_reverse_sequence, GS_RAISE_KEEP },
    { .name = NULL },
};
