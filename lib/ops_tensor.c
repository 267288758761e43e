/*
 * ops_tensor.c - registry rows for ops that move data without arithmetic:
 * shape and layout (Reshape, Flatten, Transpose, DepthToSpace, SpaceToDepth,
 * Squeeze, Unsqueeze, Expand, Tile), joining and cutting (Concat, Split,
 * Slice, Gather), Shape, Size, Cast, ConstantOfShape, Range, Pad, Identity,
 * Dropout.
 *
 * Kernels move elements by element size with memcpy, so one kernel serves
 * every dtype. Ops whose signature changed across opsets (Squeeze, Unsqueeze,
 * Split, Slice, Pad) read the attribute form before the change and the
 * input form after.
 */
#include "gs_ops.h"

#include <math.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

/* axis counted from the front; -1 for one far out of range (so a huge
 * value cannot wrap round to a valid axis when narrowed to int). */
static int norm_axis(int64_t axis, int rank)
{
    if (axis < -(int64_t)rank - 1 || axis > (int64_t)rank + 1)
        return -1;
    return (int)(axis < 0 ? axis + rank : axis);
}

/* A list of int64 from input k (when present) or attribute name. */
static int node_int_list(const gs_node *node, const gs_tensor *const *in, int nin, int idx, const char *attr,
                         int64_t *vals, int max)
{
    if (idx >= 0 && idx < nin && in[idx]) {
        int64_t n = gs_tensor_numel(in[idx]);
        if (n > max)
            return -2;
        for (int64_t i = 0; i < n; i++)
            vals[i] = gs_tensor_get_i(in[idx], i);
        return (int)n;
    }
    const int64_t *a;
    int n = attr ? gs_attr_ints(node, attr, &a) : -1;
    if (n > max)
        return -2;
    for (int i = 0; i < n; i++)
        vals[i] = a[i];
    return n;
}

static int int_list(gs_kcall *k, const gs_tensor *const *in, int nin, int idx, const char *attr,
                    int64_t *vals, int max)
{
    return node_int_list(k->node, in, nin, idx, attr, vals, max);
}

/* Row-major strides of dims. A tensor with a zero dim may have others whose
 * product overflows; its strides saturate, since no element is addressed. */
static void strides_of(const int64_t *dims, int rank, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        if (__builtin_mul_overflow(s, dims[i], &s))
            s = INT64_MAX;
    }
}

/* ---- Identity, Dropout, Reshape, Flatten, Squeeze, Unsqueeze ------------- */

static gs_status copy_as(gs_kcall *k, const gs_tensor *x, gs_tensor *out, const int64_t *dims, int rank)
{
    int64_t n = gs_numel(dims, rank);
    if (n != gs_tensor_numel(x))
        return gs_kfail(k, "element count changes");
    gs_status st = gs_kmake(k, out, x->dtype, dims, rank);
    if (st == GS_OK && x->nbytes)
        memcpy(out->data, x->data, x->nbytes);
    return st;
}

static gs_status k_identity(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    if (in[0]->flags & GS_T_SEQUENCE) {   /* Identity forwards sequences too (opset 14) */
        gs_tensor *c = gs_tensor_dup(k->ctx, in[0]);
        if (!c)
            return gs_nomem(k->ctx);
        *out = *c;
        gs_dealloc(k->ctx, c);
        return GS_OK;
    }
    return copy_as(k, in[0], out, in[0]->dims, in[0]->rank);
}

static gs_status k_dropout(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    bool zero = nin > 1 && in[1] && gs_tensor_numel(in[1]) == 1 && gs_tensor_get_f(in[1], 0) == 0.0;
    if (nin > 2 && in[2] && gs_tensor_get_i(in[2], 0) && !zero)   /* ratio 0 drops nothing, training or not */
        return gs_kunsupported(k, "training mode");
    if (k->opset < 7 && gs_attr_int(k->node, "is_test", 0) == 0)
        return gs_kunsupported(k, "training mode (is_test=0)");
    gs_status st = copy_as(k, in[0], out, in[0]->dims, in[0]->rank);
    if (st == GS_OK && nout > 1) {   /* mask: all kept */
        st = gs_kmake(k, &out[1], GS_BOOL, in[0]->dims, in[0]->rank);
        if (st == GS_OK)
            memset(out[1].data, 1, out[1].nbytes);
    }
    return st;
}

static gs_status reshape_dims(gs_kcall *k, const gs_tensor *x, const int64_t *shape, int n, bool allowzero,
                              int64_t *dims)
{
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        dims[i] = shape[i];
        if (shape[i] == 0 && !allowzero) {
            if (i >= x->rank)
                return gs_kfail(k, "shape 0 refers past the input rank");
            dims[i] = x->dims[i];
        }
        if (dims[i] == -1) {
            if (infer >= 0)
                return gs_kfail(k, "two -1 in the shape");
            infer = i;
        } else if (dims[i] < 0) {
            return gs_kfail(k, "negative dim in the shape");
        } else if (dims[i] && known > INT64_MAX / dims[i]) {
            return gs_kfail(k, "the shape has too many elements");
        } else {
            known *= dims[i];
        }
    }
    if (infer >= 0)
        dims[infer] = known ? gs_tensor_numel(x) / known : 0;
    return GS_OK;
}

static gs_status k_reshape(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    int64_t shape[GS_MAX_RANK], dims[GS_MAX_RANK];
    int n = int_list(k, in, nin, 1, "shape", shape, GS_MAX_RANK);
    if (n < 0)
        return gs_kfail(k, "missing or too long shape");
    gs_status st = reshape_dims(k, in[0], shape, n, gs_attr_int(k->node, "allowzero", 0), dims);
    return st == GS_OK ? copy_as(k, in[0], out, dims, n) : st;
}

static gs_status k_flatten(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    int axis = norm_axis(gs_attr_int(k->node, "axis", 1), x->rank);
    if (axis < 0 || axis > x->rank)
        return gs_kfail(k, "axis out of range");
    int64_t dims[2] = { gs_numel(x->dims, axis), gs_numel(x->dims + axis, x->rank - axis) };
    return copy_as(k, x, out, dims, 2);
}

static gs_status k_squeeze(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0];
    int64_t axes[GS_MAX_RANK], dims[GS_MAX_RANK];
    int na = int_list(k, in, nin, k->opset >= 13 ? 1 : -1, k->opset >= 13 ? NULL : "axes", axes, GS_MAX_RANK);
    bool drop[GS_MAX_RANK] = { false };
    for (int i = 0; i < na; i++) {
        int a = norm_axis(axes[i], x->rank);
        if (a < 0 || a >= x->rank || x->dims[a] != 1)
            return gs_kfail(k, "axis out of range or not of size 1");
        drop[a] = true;
    }
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!(na > 0 ? drop[i] : x->dims[i] == 1))
            dims[r++] = x->dims[i];
    return copy_as(k, x, out, dims, r);
}

static gs_status k_unsqueeze(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0];
    int64_t axes[GS_MAX_RANK], dims[GS_MAX_RANK];
    int na = int_list(k, in, nin, k->opset >= 13 ? 1 : -1, k->opset >= 13 ? NULL : "axes", axes, GS_MAX_RANK);
    int r = x->rank + na;
    if (na < 0 || r > GS_MAX_RANK)
        return gs_kfail(k, "axes missing or rank too large");
    bool add[GS_MAX_RANK] = { false };
    for (int i = 0; i < na; i++) {
        int a = norm_axis(axes[i], r);
        if (a < 0 || a >= r || add[a])
            return gs_kfail(k, "axis out of range or repeated");
        add[a] = true;
    }
    for (int i = 0, j = 0; i < r; i++)
        dims[i] = add[i] ? 1 : x->dims[j++];
    return copy_as(k, x, out, dims, r);
}

/* ---- Transpose ------------------------------------------------------------ */

static gs_status k_transpose(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    int64_t perm[GS_MAX_RANK], dims[GS_MAX_RANK];
    int np = int_list(k, in, 0, -1, "perm", perm, GS_MAX_RANK);
    if (np < 0)
        for (np = 0; np < x->rank; np++)
            perm[np] = x->rank - 1 - np;
    if (np != x->rank)
        return gs_kfail(k, "perm does not match the rank");
    bool seen[GS_MAX_RANK] = { false };
    for (int i = 0; i < np; i++) {
        if (perm[i] < 0 || perm[i] >= x->rank || seen[perm[i]])
            return gs_kfail(k, "perm is not a permutation of the axes");
        seen[perm[i]] = true;
        dims[i] = x->dims[perm[i]];
    }
    gs_status st = gs_kmake(k, out, x->dtype, dims, np);
    if (st == GS_OK)
        gs_permute_elems(x->data, x->dims, np, perm, gs_dtype_size(x->dtype), out->data);
    return st;
}

/* ---- DepthToSpace, SpaceToDepth ------------------------------------------- */

/* The blocksize attribute of the node, with its square in *sq; a message in
 * *why when the input is not 4-D or the block is not a size above 0 whose
 * square fits int64. */
static int64_t blocksize(gs_kcall *k, const gs_tensor *x, int64_t *sq, const char **why)
{
    int64_t b = gs_attr_int(k->node, "blocksize", 0);
    *why = x->rank != 4 ? "the input is not 4-D"
         : b < 1 || !gs_mul64_ok(b, b, sq) ? "blocksize must be above 0 (and its square fit int64)"
         : NULL;
    return b;
}

/* out = x (4-D) read as the 6-D array six, transposed by perm, of dims
 * odims: a reshape, a transpose and a reshape, which DepthToSpace and
 * SpaceToDepth are. */
static gs_status block_move(gs_kcall *k, const gs_tensor *x, const int64_t *six, const int64_t *perm,
                            const int64_t *odims, gs_tensor *out)
{
    gs_status st = gs_kmake_raw(k, out, x->dtype, odims, 4);   /* the permutation writes every element */
    if (st == GS_OK && gs_tensor_numel(out) > 0)   /* an empty one may have dims whose product overflows */
        gs_permute_elems(x->data, six, 6, perm, gs_dtype_size(x->dtype), out->data);
    return st;
}

/* DepthToSpace: [n, c, h, w] to [n, c / b^2, h * b, w * b], the channels
 * read as [b, b, c / b^2] (DCR, the only order before opset 11) or [c / b^2,
 * b, b] (CRD) and moved into b x b blocks of rows and columns. */
static gs_status k_depth_to_space(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    int64_t sq;
    const char *why;
    int64_t b = blocksize(k, x, &sq, &why);
    if (why)
        return gs_kfail(k, why);
    const char *mode = k->opset >= 11 ? gs_attr_str(k->node, "mode", "DCR") : "DCR";
    bool crd = !strcmp(mode, "CRD");
    if (!crd && strcmp(mode, "DCR"))
        return gs_kfail(k, "mode is neither DCR nor CRD");
    const int64_t *d = x->dims;
    int64_t odims[4] = { d[0], d[1] / sq, 0, 0 };
    if (d[1] % sq)
        return gs_kfail(k, "the channels do not divide by blocksize^2");
    if (!gs_mul64_ok(d[2], b, &odims[2]) || !gs_mul64_ok(d[3], b, &odims[3]))
        return gs_kfail(k, "the output's height or width overflows int64");
    if (crd)
        return block_move(k, x, (int64_t[6]){ d[0], odims[1], b, b, d[2], d[3] },
                          (int64_t[6]){ 0, 1, 4, 2, 5, 3 }, odims, out);
    return block_move(k, x, (int64_t[6]){ d[0], b, b, odims[1], d[2], d[3] }, (int64_t[6]){ 0, 3, 4, 1, 5, 2 },
                      odims, out);
}

/* SpaceToDepth: [n, c, h, w] to [n, c * b^2, h / b, w / b], each b x b block
 * of rows and columns moved into the channels as [b, b, c] (the inverse of
 * DepthToSpace's DCR). */
static gs_status k_space_to_depth(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0];
    int64_t sq;
    const char *why;
    int64_t b = blocksize(k, x, &sq, &why);
    if (why)
        return gs_kfail(k, why);
    const int64_t *d = x->dims;
    int64_t odims[4] = { d[0], 0, d[2] / b, d[3] / b };
    if (d[2] % b || d[3] % b)
        return gs_kfail(k, "the height or width does not divide by blocksize");
    if (!gs_mul64_ok(d[1], sq, &odims[1]))
        return gs_kfail(k, "the output's channels overflow int64");
    return block_move(k, x, (int64_t[6]){ d[0], d[1], odims[2], b, odims[3], b }, (int64_t[6]){ 0, 3, 5, 1, 2, 4 },
                      odims, out);
}

/* ---- Concat, Split, Slice, Gather ---------------------------------------- */

static gs_status k_concat(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0];
    int axis = norm_axis(gs_attr_int(k->node, "axis", 0), x->rank);
    if (axis < 0 || axis >= x->rank)
        return gs_kfail(k, "axis out of range");
    int64_t dims[GS_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < nin; i++) {
        if (in[i]->rank != x->rank || in[i]->dtype != x->dtype)
            return gs_kfail(k, "inputs differ in rank or type");
        for (int d = 0; d < x->rank; d++)
            if (d != axis && in[i]->dims[d] != x->dims[d])
                return gs_kfail(k, "inputs differ in a dim other than the axis");
        dims[axis] += in[i]->dims[axis];
    }
    gs_status st = gs_kmake_raw(k, out, x->dtype, dims, x->rank);   /* the copies fill it */
    if (st != GS_OK)
        return st;
    int64_t outer = gs_numel(x->dims, axis), inner = gs_numel(x->dims + axis + 1, x->rank - axis - 1);
    size_t es = gs_dtype_size(x->dtype);
    char *o = out->data;
    for (int64_t b = 0; b < outer; b++)
        for (int i = 0; i < nin; i++) {
            size_t chunk = (size_t)(in[i]->dims[axis] * inner) * es;
            if (chunk)
                memcpy(o, (const char *)in[i]->data + (size_t)b * chunk, chunk);
            o += chunk;
        }
    return GS_OK;
}

static gs_status k_split(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    const gs_tensor *x = in[0];
    int axis = norm_axis(gs_attr_int(k->node, "axis", 0), x->rank);
    if (axis < 0 || axis >= x->rank)
        return gs_kfail(k, "axis out of range");
    int64_t split[64];
    int ns = int_list(k, in, nin, k->opset >= 13 ? 1 : -1, k->opset >= 13 ? NULL : "split", split, 64);
    if (ns < 0 || ns == 0) {   /* equal parts; the last smaller (opset 18 num_outputs) */
        int64_t each = (x->dims[axis] + nout - 1) / nout;
        for (int i = 0; i < nout && i < 64; i++) {
            int64_t left = x->dims[axis] - each * i;
            split[i] = left < each ? (left > 0 ? left : 0) : each;
        }
        ns = nout;
    }
    if (ns != nout || nout > 64)
        return gs_kfail(k, "split sizes do not match the outputs");
    int64_t total = 0;
    for (int i = 0; i < nout; i++) {
        if (split[i] < 0 || split[i] > x->dims[axis] - total)
            return gs_kfail(k, "split sizes do not add up to the axis");
        total += split[i];
    }
    if (total != x->dims[axis])
        return gs_kfail(k, "split sizes do not add up to the axis");
    int64_t outer = gs_numel(x->dims, axis), inner = gs_numel(x->dims + axis + 1, x->rank - axis - 1);
    size_t es = gs_dtype_size(x->dtype);
    int64_t offset = 0;
    for (int i = 0; i < nout; i++) {
        int64_t dims[GS_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = split[i];
        gs_status st = gs_kmake_raw(k, &out[i], x->dtype, dims, x->rank);   /* the copies fill it */
        if (st != GS_OK)
            return st;
        size_t chunk = (size_t)(split[i] * inner) * es, row = (size_t)(x->dims[axis] * inner) * es;
        for (int64_t b = 0; b < outer && chunk; b++)
            memcpy((char *)out[i].data + (size_t)b * chunk,
                   (const char *)x->data + (size_t)b * row + (size_t)(offset * inner) * es, chunk);
        offset += split[i];
    }
    return GS_OK;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Where a Slice reads: per axis of x its first index, step and length. A
 * negative dim in dims (shape inference) is unknown: an axis sliced there gets
 * an unknown length (and lo -1). Returns NULL, or what is wrong. */
static const char *slice_plan(const gs_node *node, int64_t opset, const gs_tensor *const *in, int nin,
                              int rank, int64_t *lo, int64_t *step, int64_t *dims)
{
    int64_t starts[GS_MAX_RANK], ends[GS_MAX_RANK], axes[GS_MAX_RANK], steps[GS_MAX_RANK];
    bool v10 = opset >= 10;
    int n = node_int_list(node, in, nin, v10 ? 1 : -1, v10 ? NULL : "starts", starts, GS_MAX_RANK);
    int ne = node_int_list(node, in, nin, v10 ? 2 : -1, v10 ? NULL : "ends", ends, GS_MAX_RANK);
    int na = node_int_list(node, in, nin, v10 ? 3 : -1, v10 ? NULL : "axes", axes, GS_MAX_RANK);
    int nst = node_int_list(node, in, nin, v10 ? 4 : -1, NULL, steps, GS_MAX_RANK);
    if (n < 0 || ne != n || (na >= 0 && na != n) || (nst >= 0 && nst != n))
        return "starts, ends, axes and steps disagree";
    for (int d = 0; d < rank; d++)
        lo[d] = 0, step[d] = 1;
    bool seen[GS_MAX_RANK] = { false };
    for (int i = 0; i < n; i++) {
        int a = norm_axis(na >= 0 ? axes[i] : i, rank);
        int64_t s = nst >= 0 ? steps[i] : 1;
        if (a < 0 || a >= rank || s == 0 || seen[a])
            return "axis out of range, repeated, or zero step";
        seen[a] = true;
        int64_t dim = dims[a];
        if (dim < 0) {   /* unknown length; lo -1 marks the axis as sliced */
            lo[a] = -1;
            continue;
        }
        s = s > 0 ? (s > dim + 1 ? dim + 1 : s) : (s < -(dim + 1) ? -(dim + 1) : s);   /* same picks */
        int64_t b = starts[i] < 0 ? starts[i] + dim : starts[i];
        int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
        b = s > 0 ? clamp(b, 0, dim) : clamp(b, 0, dim - 1);
        e = s > 0 ? clamp(e, 0, dim) : clamp(e, -1, dim - 1);
        int64_t len = s > 0 ? (e > b ? (e - b - 1) / s + 1 : 0) : (b > e ? (b - e - 1) / -s + 1 : 0);
        lo[a] = b, step[a] = s, dims[a] = len > 0 ? len : 0;
    }
    return NULL;
}

static gs_status k_slice(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0];
    int64_t lo[GS_MAX_RANK], step[GS_MAX_RANK], dims[GS_MAX_RANK];
    memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
    const char *why = slice_plan(k->node, k->opset, in, nin, x->rank, lo, step, dims);
    if (why)
        return gs_kfail(k, why);
    gs_status st = gs_kmake(k, out, x->dtype, dims, x->rank);
    if (st != GS_OK)
        return st;
    int64_t xs[GS_MAX_RANK], os[GS_MAX_RANK];
    strides_of(x->dims, x->rank, xs);
    strides_of(dims, x->rank, os);
    size_t es = gs_dtype_size(x->dtype);
    int64_t total = gs_tensor_numel(out);
    for (int64_t i = 0; i < total; i++) {
        int64_t rem = i, src = 0;
        for (int d = 0; d < x->rank; d++) {
            int64_t c = rem / os[d];
            rem %= os[d];
            src += (lo[d] + c * step[d]) * xs[d];
        }
        memcpy((char *)out->data + i * (int64_t)es, (const char *)x->data + src * (int64_t)es, es);
    }
    return GS_OK;
}

static gs_status k_gather(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0], *idx = in[1];
    int axis = norm_axis(gs_attr_int(k->node, "axis", 0), x->rank);
    if (axis < 0 || axis >= x->rank || x->rank + idx->rank - 1 > GS_MAX_RANK)
        return gs_kfail(k, "axis out of range");
    int64_t dims[GS_MAX_RANK];
    int r = 0;
    for (int i = 0; i < axis; i++)
        dims[r++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++)
        dims[r++] = idx->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        dims[r++] = x->dims[i];
    gs_status st = gs_kmake(k, out, x->dtype, dims, r);
    if (st != GS_OK)
        return st;
    int64_t outer = gs_numel(x->dims, axis), inner = gs_numel(x->dims + axis + 1, x->rank - axis - 1);
    int64_t ni = gs_tensor_numel(idx), dim = x->dims[axis];
    size_t es = gs_dtype_size(x->dtype), chunk = (size_t)inner * es;
    for (int64_t b = 0; b < outer; b++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t ix = gs_tensor_get_i(idx, j);
            ix = ix < 0 ? ix + dim : ix;
            if (ix < 0 || ix >= dim)
                return gs_kfail(k, "index out of range");
            memcpy((char *)out->data + (size_t)(b * ni + j) * chunk,
                   (const char *)x->data + (size_t)(b * dim + ix) * chunk, chunk);
        }
    return GS_OK;
}

/* ---- Shape, Size, Cast, ConstantOfShape, Range, Expand, Tile, Pad ---------- */

static gs_status k_shape(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    int r = in[0]->rank;
    int64_t s = gs_attr_int(k->node, "start", 0), e = gs_attr_int(k->node, "end", r);
    s = clamp(s < 0 ? s + r : s, 0, r);
    e = clamp(e < 0 ? e + r : e, 0, r);
    int64_t n = e > s ? e - s : 0;
    gs_status st = gs_kmake(k, out, GS_INT64, &n, 1);
    for (int64_t i = 0; st == GS_OK && i < n; i++)
        ((int64_t *)out->data)[i] = in[0]->dims[s + i];
    return st;
}

static gs_status k_size(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    gs_status st = gs_kmake(k, out, GS_INT64, NULL, 0);
    if (st == GS_OK)
        *(int64_t *)out->data = gs_tensor_numel(in[0]);
    return st;
}

static gs_status cast_to(gs_kcall *k, const gs_tensor *x, gs_tensor *out, int32_t to)
{
    if (!gs_dtype_size(to) || !gs_dtype_size(x->dtype) || to == GS_STRING)
        return gs_kunsupported(k, "casting strings");
    gs_status st = gs_kmake(k, out, to, x->dims, x->rank);
    int64_t n = gs_tensor_numel(x);
    bool from_float = gs_op_floatlike(x->dtype);
    for (int64_t i = 0; st == GS_OK && i < n; i++) {
        if (from_float)
            gs_tensor_set_f(out, i, gs_tensor_get_f(x, i));
        else
            gs_tensor_set_i(out, i, gs_tensor_get_i(x, i));
    }
    return st;
}

static gs_status k_cast(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return cast_to(k, in[0], out, (int32_t)gs_attr_int(k->node, "to", 0));
}

static gs_status k_castlike(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return cast_to(k, in[0], out, in[1]->dtype);
}

static gs_status k_constant_of_shape(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out,
                                     int nout)
{
    (void)nout;
    int64_t dims[GS_MAX_RANK];
    int r = int_list(k, in, nin, 0, NULL, dims, GS_MAX_RANK);
    const gs_attr *a = gs_ir_attr(k->node, "value");
    const gs_tensor *v = a && a->type == GS_A_TENSOR ? a->t : NULL;
    if (r < 0)
        return gs_kfail(k, "shape rank too large");
    gs_status st = gs_kmake(k, out, v ? v->dtype : GS_FLOAT, dims, r);
    size_t es = gs_dtype_size(out->dtype);
    int64_t n = gs_tensor_numel(out);
    for (int64_t i = 0; st == GS_OK && v && v->data && i < n; i++)
        memcpy((char *)out->data + i * (int64_t)es, v->data, es);
    return st;
}

static gs_status k_range(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    double s = gs_tensor_get_f(in[0], 0), l = gs_tensor_get_f(in[1], 0), d = gs_tensor_get_f(in[2], 0);
    if (d == 0)
        return gs_kfail(k, "delta is zero");
    double count = ceil((l - s) / d);   /* checked before the cast: NaN or huge is out of range */
    if (!(count <= (double)((int64_t)1 << 32)))
        return gs_kfail(k, "range too long (or not a number)");
    int64_t n = count > 0 ? (int64_t)count : 0;
    bool ints = in[0]->dtype != GS_FLOAT && in[0]->dtype != GS_DOUBLE && in[0]->dtype != GS_FLOAT16;
    int64_t is = ints ? gs_tensor_get_i(in[0], 0) : 0, id = ints ? gs_tensor_get_i(in[2], 0) : 0, last;
    if (ints && n > 0 && (__builtin_mul_overflow(n - 1, id, &last) || __builtin_add_overflow(is, last, &last)))
        return gs_kfail(k, "range values overflow int64");
    gs_status st = gs_kmake(k, out, in[0]->dtype, &n, 1);
    for (int64_t i = 0; st == GS_OK && i < n; i++) {
        if (ints)
            gs_tensor_set_i(out, i, is + i * id);
        else
            gs_tensor_set_f(out, i, s + (double)i * d);
    }
    return st;
}

/* Copy x into out where out's dims are a broadcast (Expand) or multiple (Tile). */
static gs_status repeat(gs_kcall *k, const gs_tensor *x, gs_tensor *out, const int64_t *dims, int rank,
                        bool tile)
{
    gs_status st = gs_kmake(k, out, x->dtype, dims, rank);
    if (st != GS_OK)
        return st;
    int64_t xd[GS_MAX_RANK], xs[GS_MAX_RANK], os[GS_MAX_RANK];
    for (int i = 0; i < rank; i++)
        xd[i] = i < rank - x->rank ? 1 : x->dims[i - (rank - x->rank)];
    strides_of(xd, rank, xs);
    strides_of(dims, rank, os);
    size_t es = gs_dtype_size(x->dtype);
    int64_t n = gs_tensor_numel(out);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, src = 0;
        for (int d = 0; d < rank; d++) {
            int64_t c = rem / os[d];
            rem %= os[d];
            src += (tile ? c % xd[d] : (xd[d] == 1 ? 0 : c)) * xs[d];
        }
        memcpy((char *)out->data + i * (int64_t)es, (const char *)x->data + src * (int64_t)es, es);
    }
    return GS_OK;
}

static gs_status k_expand(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    int64_t shape[GS_MAX_RANK], dims[GS_MAX_RANK];
    int n = int_list(k, in, nin, 1, NULL, shape, GS_MAX_RANK), r;
    if (n < 0 || !gs_broadcast_shape(in[0]->dims, in[0]->rank, shape, n, dims, &r))
        return gs_kfail(k, "shape does not broadcast");
    return repeat(k, in[0], out, dims, r, false);
}

static gs_status k_tile(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    int64_t reps[GS_MAX_RANK], dims[GS_MAX_RANK];
    int n = int_list(k, in, nin, 1, NULL, reps, GS_MAX_RANK);
    if (n != in[0]->rank)
        return gs_kfail(k, "repeats do not match the rank");
    for (int i = 0; i < n; i++) {
        if (reps[i] < 0 || (reps[i] && in[0]->dims[i] > INT64_MAX / reps[i]))
            return gs_kfail(k, "repeats must be non-negative and the result addressable");
        dims[i] = in[0]->dims[i] * reps[i];
    }
    return repeat(k, in[0], out, dims, n, true);
}

/* Index c of a padded dim of length n mapped into [0, n) by mode: edge
 * repeats the border element, reflect mirrors without repeating it, wrap
 * goes round; -1 for constant padding. */
static int64_t pad_source(int mode, int64_t c, int64_t n)
{
    if (c >= 0 && c < n)
        return c;
    switch (mode) {
    case 1: return c < 0 ? 0 : n - 1;
    case 2:
        if (n == 1)
            return 0;
        c %= 2 * (n - 1);
        c = c < 0 ? c + 2 * (n - 1) : c;
        return c < n ? c : 2 * (n - 1) - c;
    case 3: return (c % n + n) % n;
    default: return -1;
    }
}

static bool pad_in_range(int64_t p)
{
    return p >= -((int64_t)1 << 40) && p <= (int64_t)1 << 40;
}

static gs_status k_pad(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0];
    const char *mode_s = gs_attr_str(k->node, "mode", "constant");
    static const char *const modes[] = { "constant", "edge", "reflect", "wrap" };
    int mode = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(mode_s, modes[i]))
            mode = i;
    if (mode < 0 || (mode == 3 && k->opset < 19))
        return gs_kfail(k, "unknown pad mode");
    int64_t pads[2 * GS_MAX_RANK], axes[GS_MAX_RANK], full[2 * GS_MAX_RANK] = { 0 }, dims[GS_MAX_RANK];
    bool v11 = k->opset >= 11;
    int np = int_list(k, in, nin, v11 ? 1 : -1, v11 ? NULL : (k->opset < 2 ? "paddings" : "pads"), pads,
                      2 * GS_MAX_RANK);
    int na = v11 ? int_list(k, in, nin, 3, NULL, axes, GS_MAX_RANK) : -1;
    if (na < 0)
        for (na = 0; na < x->rank; na++)
            axes[na] = na;
    if (np != 2 * na)
        return gs_kfail(k, "pads do not match the axes");
    for (int i = 0; i < na; i++) {
        int a = norm_axis(axes[i], x->rank);
        if (a < 0 || a >= x->rank)
            return gs_kfail(k, "axis out of range");
        if (!pad_in_range(pads[i]) || !pad_in_range(pads[i + na]))
            return gs_kfail(k, "pads out of range");
        full[a] = pads[i], full[a + x->rank] = pads[i + na];
    }
    for (int d = 0; d < x->rank; d++) {
        if ((dims[d] = x->dims[d] + full[d] + full[d + x->rank]) < 0)
            return gs_kfail(k, "negative size");
        if (mode > 0 && x->dims[d] == 0 && dims[d] > 0)
            return gs_kfail(k, "edge, reflect and wrap need a non-empty input");
    }
    gs_status st = gs_kmake(k, out, x->dtype, dims, x->rank);
    if (st != GS_OK)
        return st;
    double value = v11 ? (nin > 2 && in[2] && gs_tensor_numel(in[2]) ? gs_tensor_get_f(in[2], 0) : 0)
                       : gs_attr_float(k->node, "value", 0);
    int64_t xs[GS_MAX_RANK], os[GS_MAX_RANK], n = gs_tensor_numel(out);
    strides_of(x->dims, x->rank, xs);
    strides_of(dims, x->rank, os);
    size_t es = gs_dtype_size(x->dtype);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, src = 0;
        bool inside = true;
        for (int d = 0; d < x->rank; d++) {
            int64_t c = pad_source(mode, rem / os[d] - full[d], x->dims[d]);
            rem %= os[d];
            inside &= c >= 0;
            src += c * xs[d];
        }
        if (inside)
            memcpy((char *)out->data + i * (int64_t)es, (const char *)x->data + src * (int64_t)es, es);
        else
            gs_tensor_set_f(out, i, value);
    }
    return GS_OK;
}

/* ---- Resize: nearest and (n-)linear ----------------------------------------- */

enum { RESIZE_NEAREST, RESIZE_LINEAR, RESIZE_CUBIC };

typedef struct resize_plan {
    int rank;
    int64_t in[GS_MAX_RANK], out[GS_MAX_RANK];
    double scale[GS_MAX_RANK], roi0[GS_MAX_RANK], roi1[GS_MAX_RANK];
    double out_real[GS_MAX_RANK];   /* in * scale before flooring: what the formulas use */
    const char *coord, *nearest;
    int mode;                       /* RESIZE_* */
    float cubic_a;                  /* cubic_coeff_a */
    bool exclude;                   /* exclude_outside */
} resize_plan;

/* Input coordinate of output coordinate o along dim d. */
static double source_coord(const resize_plan *p, int d, int64_t o)
{
    double s = p->scale[d], x = (double)o, out = p->out_real[d];
    int64_t in = p->in[d];
    const char *c = p->coord;
    if (!strcmp(c, "asymmetric"))
        return x / s;
    if (!strcmp(c, "align_corners"))
        return out == 1 ? 0 : x * (double)(in - 1) / (out - 1);
    if (!strcmp(c, "pytorch_half_pixel"))
        return out > 1 ? (x + 0.5) / s - 0.5 : 0;
    if (!strcmp(c, "tf_half_pixel_for_nn"))
        return (x + 0.5) / s;
    if (!strcmp(c, "tf_crop_and_resize"))
        return out > 1 ? p->roi0[d] * (double)(in - 1) + x * (p->roi1[d] - p->roi0[d]) * (double)(in - 1) / (out - 1)
                       : 0.5 * (p->roi0[d] + p->roi1[d]) * (double)(in - 1);
    return (x + 0.5) / s - 0.5;   /* half_pixel */
}

static int64_t nearest_index(const resize_plan *p, double x)
{
    const char *m = p->nearest;
    x = !(x > -1e15) ? -1e15 : x > 1e15 ? 1e15 : x;   /* NaN and far coordinates (clamped by the caller) */
    double f = floor(x);
    if (!strcmp(m, "floor"))
        return (int64_t)f;
    if (!strcmp(m, "ceil"))
        return (int64_t)ceil(x);
    if (!strcmp(m, "round_prefer_ceil"))
        return x - f == 0.5 ? (int64_t)f + 1 : (int64_t)nearbyint(x);
    return x - f == 0.5 ? (int64_t)f : (int64_t)nearbyint(x);   /* round_prefer_floor */
}

static gs_status resize_plan_init(gs_kcall *k, const gs_tensor *const *in, int nin, resize_plan *p)
{
    const gs_tensor *x = in[0];
    const gs_node *n = k->node;
    const gs_tensor *roi = NULL, *scales = NULL, *sizes = NULL;
    if (k->opset < 11) {
        scales = nin > 1 ? in[1] : NULL;
    } else {
        roi = nin > 1 ? in[1] : NULL;
        scales = nin > 2 && in[2] && gs_tensor_numel(in[2]) ? in[2] : NULL;
        sizes = nin > 3 && in[3] && gs_tensor_numel(in[3]) ? in[3] : NULL;
    }
    const char *mode = gs_attr_str(n, "mode", "nearest");
    if (strcmp(mode, "nearest") && strcmp(mode, "linear") && (strcmp(mode, "cubic") || k->opset < 11))
        return gs_kfail(k, "mode is not nearest, linear or (from opset 11) cubic");
    if (gs_ir_attr(n, "axes") || gs_attr_int(n, "antialias", 0) ||
        strcmp(gs_attr_str(n, "keep_aspect_ratio_policy", "stretch"), "stretch"))
        return gs_kunsupported(k, "axes, antialias or keep_aspect_ratio_policy");
    p->mode = !strcmp(mode, "linear") ? RESIZE_LINEAR : !strcmp(mode, "cubic") ? RESIZE_CUBIC : RESIZE_NEAREST;
    p->cubic_a = gs_attr_float(n, "cubic_coeff_a", -0.75f);
    p->exclude = gs_attr_int(n, "exclude_outside", 0) != 0;
    p->rank = x->rank;
    p->coord = gs_attr_str(n, "coordinate_transformation_mode", k->opset < 11 ? "asymmetric" : "half_pixel");
    p->nearest = !strcmp(n->op, "Upsample") ? "floor" : gs_attr_str(n, "nearest_mode", "round_prefer_floor");
    if ((sizes && gs_tensor_numel(sizes) != x->rank) || (scales && gs_tensor_numel(scales) != x->rank) ||
        (!sizes && !scales))
        return gs_kfail(k, "scales or sizes must give one value per dim");
    for (int d = 0; d < x->rank; d++) {
        p->in[d] = x->dims[d];
        if (sizes) {
            p->out[d] = gs_tensor_get_i(sizes, d);
            p->scale[d] = (double)p->out[d] / (double)x->dims[d];
        } else {
            p->scale[d] = gs_tensor_get_f(scales, d);
            double o = floor((double)x->dims[d] * p->scale[d]);
            if (!(o >= 0 && o < 9.0e15))
                return gs_kfail(k, "scales give an output size out of range");
            p->out[d] = (int64_t)o;
        }
        if (x->dims[d] == 0 && p->out[d] != 0)
            return gs_kfail(k, "an empty input cannot be resized to a non-empty output");
        p->out_real[d] = sizes ? (double)p->out[d] : (double)x->dims[d] * p->scale[d];
        bool has_roi = roi && gs_tensor_numel(roi) == 2 * x->rank;
        p->roi0[d] = has_roi ? gs_tensor_get_f(roi, d) : 0;
        p->roi1[d] = has_roi ? gs_tensor_get_f(roi, d + x->rank) : 1;
        if (p->out[d] < 0 || !(p->scale[d] > 0))
            return gs_kfail(k, "scale must be positive");
    }
    return GS_OK;
}

/* The input rows output coordinate o reads along dim d, and their weights
 * (up to 4, zeros left out): the nearest row, the two around it (linear),
 * or four (cubic: edge rows repeated, or with exclude_outside those outside
 * dropped and the rest renormalized). */
static int resize_taps(const resize_plan *p, int d, double c, int64_t *idx, double *wt)
{
    int64_t last = p->in[d] - 1;
    if (p->mode == RESIZE_NEAREST) {
        int64_t j = nearest_index(p, c);
        idx[0] = j < 0 ? 0 : j > last ? last : j, wt[0] = 1;
        return 1;
    }
    if (p->mode == RESIZE_LINEAR) {
        double cc = !(c > 0) ? 0 : c > (double)last ? (double)last : c;   /* NaN: 0 */
        int64_t lo = (int64_t)floor(cc);
        idx[0] = lo, wt[0] = 1 - (cc - (double)lo);
        idx[1] = lo < last ? lo + 1 : last, wt[1] = cc - (double)lo;
        return wt[1] != 0 ? 2 : 1;
    }
    c = !(c > -1e15) ? -1e15 : c > 1e15 ? 1e15 : c;   /* NaN and far coordinates */
    double base = floor(c), w[4], sum = 0;
    gs_cubic_weights(c - base, p->cubic_a, w);
    int n = 0;
    for (int t = 0; t < 4; t++) {
        double j = base - 1 + t;
        bool inside = j >= 0 && j <= (double)last;
        if (w[t] == 0 || (p->exclude && !inside))
            continue;
        idx[n] = inside ? (int64_t)j : j < 0 ? 0 : last, wt[n] = w[t], sum += w[t];
        n++;
    }
    for (int t = 0; p->exclude && sum != 0 && t < n; t++)
        wt[t] /= sum;
    return n;
}

static gs_status k_resize(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    resize_plan p;
    gs_status st = resize_plan_init(k, in, nin, &p);
    if (st != GS_OK)
        return st;
    const gs_tensor *x = in[0];
    if ((st = gs_kmake(k, out, x->dtype, p.out, p.rank)) != GS_OK)
        return st;
    int64_t xs[GS_MAX_RANK], os[GS_MAX_RANK], n = gs_tensor_numel(out);
    strides_of(x->dims, x->rank, xs);
    strides_of(p.out, p.rank, os);
    bool crop = !strcmp(p.coord, "tf_crop_and_resize");
    double extrap = gs_attr_float(k->node, "extrapolation_value", 0);
    for (int64_t i = 0; i < n; i++) {
        int64_t idx[GS_MAX_RANK][4], rem = i;
        double wt[GS_MAX_RANK][4];
        int taps[GS_MAX_RANK], combos = 1;
        bool outside = false;
        for (int d = 0; d < p.rank; d++) {
            int64_t o = rem / os[d];
            rem %= os[d];
            double c = source_coord(&p, d, o);
            if (crop && (c < 0 || c > (double)(p.in[d] - 1)))
                outside = true;
            taps[d] = resize_taps(&p, d, c, idx[d], wt[d]);
            combos *= taps[d];
        }
        if (outside) {
            gs_tensor_set_f(out, i, extrap);
            continue;
        }
        double acc = 0;
        for (int combo = 0; combo < combos; combo++) {   /* every tap of every dim: the product of their weights */
            double w = 1;
            int64_t src = 0;
            for (int d = 0, r = combo; d < p.rank; r /= taps[d], d++) {
                w *= wt[d][r % taps[d]];
                src += idx[d][r % taps[d]] * xs[d];
            }
            acc += w * gs_tensor_get_f(x, src);
        }
        gs_tensor_set_f(out, i, acc);
    }
    return GS_OK;
}

/* ---- shape inference ------------------------------------------------------ */

static const gs_value *val(const gs_graph *g, const gs_node *n, int k)
{
    return k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
}

/* The -1 of a Reshape target: the input's dims divided by the target's
 * others, as a number or a dim expression, when that is exact (equal names
 * cancel, products divide: [8*batch, -1, 8] of [batch, 8, seq, 8] is seq).
 * *bad: the target can never match the input's size. */
static gs_dim reshape_rest(gs_graph *g, const gs_value *x, const gs_dim *t, int r, int skip, bool *bad)
{
    bool never;
    gs_dim d = gs_infer_size_ratio(g, x->dims, x->rank, t, r, skip, &never);
    *bad |= never;
    return skip >= 0 ? d : (gs_dim){ -1, NULL };
}

/* Reshape to a constant target, or to one whose elements are known in part
 * (a Concat of a Shape's dims and numbers): each element gives its number
 * or its name, 0 the input's dim, -1 what is left. A target that can never
 * match leaves the output's shape unknown. */
static gs_status infer_reshape(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    gs_dim t[GS_MAX_ELEMS];
    int r = x ? gs_infer_elems(g, n->in[1], t) : -1;
    if (!x || r < 0 || g->values[n->in[1]].rank != 1)
        return x ? gs_infer_set(g, n->out[0], x->dtype, -1, NULL) : GS_OK;
    gs_dim dims[GS_MAX_RANK];
    int infer = -1;
    bool allowzero = gs_attr_int(n, "allowzero", 0), bad = false;
    for (int i = 0; i < r; i++) {
        dims[i] = gs_dim_of_elem(t[i]);
        if (!gs_elem_known(t[i]))
            continue;
        if (t[i].v == 0 && !allowzero)
            dims[i] = i < x->rank ? x->dims[i] : (gs_dim){ -1, NULL };
        else if (t[i].v == -1 && infer < 0)
            infer = i;
        else if (t[i].v < 0)
            bad = true;
    }
    if (x->rank >= 0) {
        gs_dim rest = reshape_rest(g, x, dims, r, infer, &bad);
        if (infer >= 0)
            dims[infer] = rest;
    }
    if (bad) {
        gs_infer_forget(g, n->out[0]);
        return gs_infer_set(g, n->out[0], x->dtype, -1, NULL);
    }
    return gs_infer_set(g, n->out[0], x->dtype, r, dims);
}

/* Dim d times mul over div: a number when d is one (*over set when it
 * overflows int64), a dim expression when exact (h to 2*h, 4*c to c), and
 * unknown otherwise, or when a number does not divide (the kernel reports
 * it). */
static gs_dim scaled_dim(gs_graph *g, gs_dim d, int64_t mul, int64_t div, bool *over)
{
    int64_t v;
    if (d.v >= 0) {
        bool ok = d.v % div == 0 && gs_mul64_ok(d.v / div, mul, &v);
        *over |= d.v % div == 0 && !ok;
        return (gs_dim){ ok ? v : -1, NULL };
    }
    gs_dim e = gs_elem_of_dim(d);
    if (mul != 1)
        e = gs_elem_mul(g, e, (gs_dim){ mul, NULL });
    if (div != 1)
        e = gs_elem_div(g, e, div);
    return gs_dim_of_elem(e);
}

/* DepthToSpace (to_space true) and SpaceToDepth: x's dtype; with a 4-D x and
 * a valid blocksize b, [n, c / b^2, h * b, w * b] or [n, c * b^2, h / b,
 * w / b]. */
static gs_status infer_blocks(gs_graph *g, gs_node *n, bool to_space)
{
    const gs_value *x = val(g, n, 0);
    int64_t b = gs_attr_int(n, "blocksize", 0), sq;
    if (!x)
        return GS_OK;
    if (x->rank != 4 || b < 1 || !gs_mul64_ok(b, b, &sq))
        return gs_infer_set(g, n->out[0], x->dtype, -1, NULL);
    bool over = false;
    int64_t cm = to_space ? 1 : sq, cd = to_space ? sq : 1, sm = to_space ? b : 1, sd = to_space ? 1 : b;
    gs_dim dims[4] = { x->dims[0], scaled_dim(g, x->dims[1], cm, cd, &over),
                       scaled_dim(g, x->dims[2], sm, sd, &over), scaled_dim(g, x->dims[3], sm, sd, &over) };
    return over ? gs_infer_overflow(g, n) : gs_infer_set(g, n->out[0], x->dtype, 4, dims);
}

static gs_status infer_depth_to_space(gs_graph *g, gs_node *n)
{
    return infer_blocks(g, n, true);
}

static gs_status infer_space_to_depth(gs_graph *g, gs_node *n)
{
    return infer_blocks(g, n, false);
}

static gs_status infer_transpose(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 0)
        return GS_OK;
    const int64_t *perm;
    int np = gs_attr_ints(n, "perm", &perm);
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        int64_t p = np >= 0 ? (i < np ? perm[i] : -1) : x->rank - 1 - i;
        if (np >= 0 && np != x->rank)
            return GS_OK;
        if (p < 0 || p >= x->rank)
            return GS_OK;
        dims[i] = x->dims[p];
    }
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
}

/* Concat: the inputs' type, whatever is known of their shapes (a Cast of
 * boxes concatenated after a NonZero to the type they have then goes). */
static gs_status infer_concat(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 0) {
        for (int i = 0; i < n->nin; i++)
            if (val(g, n, i) && val(g, n, i)->dtype)
                return gs_infer_set(g, n->out[0], val(g, n, i)->dtype, -1, NULL);
        return GS_OK;
    }
    int axis = norm_axis(gs_attr_int(n, "axis", 0), x->rank);
    if (axis < 0 || axis >= x->rank)
        return GS_OK;
    gs_dim dims[GS_MAX_RANK];
    memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
    int64_t sum = 0;
    gs_dim named = { 0, NULL };   /* the sum as a dim expression (past + seq) */
    for (int i = 0; i < n->nin; i++) {
        const gs_value *v = val(g, n, i);
        if (!v || v->rank != x->rank || v->dims[axis].v < 0 || sum < 0)
            sum = -1;
        else if (__builtin_add_overflow(sum, v->dims[axis].v, &sum))
            return gs_infer_overflow(g, n);
        named = v && v->rank == x->rank ? gs_dim_add(g, named, v->dims[axis]) : (gs_dim){ -1, NULL };
    }
    dims[axis] = sum >= 0 ? (gs_dim){ sum, NULL } : named;
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
}

static gs_status infer_flatten(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 0)
        return GS_OK;
    int axis = norm_axis(gs_attr_int(n, "axis", 1), x->rank);
    int64_t a = 1, b = 1;
    for (int i = 0; i < x->rank; i++) {
        int64_t *p = i < axis ? &a : &b;
        if (x->dims[i].v < 0 || *p < 0)
            *p = -1;
        else if (__builtin_mul_overflow(*p, x->dims[i].v, p))
            return gs_infer_overflow(g, n);
    }
    gs_dim dims[2] = { { a, NULL }, { b, NULL } };
    if (axis == 1 && x->rank >= 1 && x->dims[0].v < 0)
        dims[0] = x->dims[0];
    return gs_infer_set(g, n->out[0], x->dtype, 2, dims);
}

static gs_status infer_unsqueeze(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    int64_t axes[GS_MAX_RANK];
    int na = -1;
    if (g->opset >= 13) {
        const gs_tensor *t = gs_infer_const(g, n, 1);
        if (t && gs_tensor_numel(t) <= GS_MAX_RANK)
            for (na = 0; na < gs_tensor_numel(t); na++)
                axes[na] = gs_tensor_get_i(t, na);
    } else {
        const int64_t *a;
        na = gs_attr_ints(n, "axes", &a);
        for (int i = 0; i < na && i < GS_MAX_RANK; i++)
            axes[i] = a[i];
    }
    if (!x || x->rank < 0 || na < 0 || x->rank + na > GS_MAX_RANK)
        return GS_OK;
    int r = x->rank + na;
    bool add[GS_MAX_RANK] = { false };
    for (int i = 0; i < na; i++) {
        int a = norm_axis(axes[i], r);
        if (a < 0 || a >= r)
            return GS_OK;
        add[a] = true;
    }
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0, j = 0; i < r; i++)
        dims[i] = add[i] ? (gs_dim){ 1, NULL } : x->dims[j++];
    return gs_infer_set(g, n->out[0], x->dtype, r, dims);
}

static gs_status infer_squeeze(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 0)
        return GS_OK;
    int64_t axes[GS_MAX_RANK];
    int na = 0;
    if (g->opset >= 13) {
        const gs_tensor *t = gs_infer_const(g, n, 1);
        if (n->nin > 1 && n->in[1] != GS_NONE && !t)
            return GS_OK;
        for (na = 0; t && na < gs_tensor_numel(t) && na < GS_MAX_RANK; na++)
            axes[na] = gs_tensor_get_i(t, na);
    } else {
        const int64_t *a;
        int c = gs_attr_ints(n, "axes", &a);
        for (na = 0; na < c && na < GS_MAX_RANK; na++)
            axes[na] = a[na];
    }
    bool drop[GS_MAX_RANK] = { false };
    for (int i = 0; i < na; i++) {
        int a = norm_axis(axes[i], x->rank);
        if (a < 0 || a >= x->rank)
            return GS_OK;
        drop[a] = true;
    }
    gs_dim dims[GS_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (na == 0 && x->dims[i].v < 0)
            return GS_OK;   /* unknown which dims are 1 */
        if (!(na ? drop[i] : x->dims[i].v == 1))
            dims[r++] = x->dims[i];
    }
    return gs_infer_set(g, n->out[0], x->dtype, r, dims);
}

static gs_status infer_gather(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0), *i = val(g, n, 1);
    if (!x || !i || x->rank < 0 || i->rank < 0 || x->rank + i->rank - 1 > GS_MAX_RANK)   /* the type is x's */
        return x && x->dtype ? gs_infer_set(g, n->out[0], x->dtype, -1, NULL) : GS_OK;
    int axis = norm_axis(gs_attr_int(n, "axis", 0), x->rank);
    if (axis < 0 || axis >= x->rank)
        return GS_OK;
    gs_dim dims[GS_MAX_RANK];
    int r = 0;
    for (int d = 0; d < axis; d++)
        dims[r++] = x->dims[d];
    for (int d = 0; d < i->rank; d++)
        dims[r++] = i->dims[d];
    for (int d = axis + 1; d < x->rank; d++)
        dims[r++] = x->dims[d];
    return gs_infer_set(g, n->out[0], x->dtype, r, dims);
}

static gs_status infer_shape(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 0)   /* one dim, of unknown length */
        return gs_infer_set(g, n->out[0], GS_INT64, 1, (gs_dim[1]){ { -1, NULL } });
    int64_t r = x->rank, s = gs_attr_int(n, "start", 0), e = gs_attr_int(n, "end", r);
    s = clamp(s < 0 ? s + r : s, 0, r);
    e = clamp(e < 0 ? e + r : e, 0, r);
    gs_dim d = { e > s ? e - s : 0, NULL };
    return gs_infer_set(g, n->out[0], GS_INT64, 1, &d);
}

static gs_status infer_size(gs_graph *g, gs_node *n)
{
    return gs_infer_set(g, n->out[0], GS_INT64, 0, (gs_dim[1]){ { 0, NULL } });
}

static gs_status infer_cast(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    int32_t to = !strcmp(n->op, "CastLike") ? (val(g, n, 1) ? val(g, n, 1)->dtype : 0)
                                            : (int32_t)gs_attr_int(n, "to", 0);
    return x ? gs_infer_set(g, n->out[0], to, x->rank, x->rank >= 0 ? x->dims : NULL) : GS_OK;
}

static gs_status infer_dropout(gs_graph *g, gs_node *n)
{
    gs_status st = gs_infer_same(g, n);
    const gs_value *x = val(g, n, 0);
    if (st == GS_OK && x && n->nout > 1 && n->out[1] != GS_NONE)
        st = gs_infer_set(g, n->out[1], GS_BOOL, x->rank, x->rank >= 0 ? x->dims : NULL);
    return st;
}

static gs_status infer_split(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 0)
        return GS_OK;
    int axis = norm_axis(gs_attr_int(n, "axis", 0), x->rank);
    if (axis < 0 || axis >= x->rank)
        return GS_OK;
    int64_t split[64];
    int ns = -1;
    if (g->opset >= 13) {
        const gs_tensor *t = gs_infer_const(g, n, 1);
        if (t && gs_tensor_numel(t) <= 64)
            for (ns = 0; ns < gs_tensor_numel(t); ns++)
                split[ns] = gs_tensor_get_i(t, ns);
        else if (n->nin > 1 && n->in[1] != GS_NONE)
            return GS_OK;
    } else {
        const int64_t *a;
        ns = gs_attr_ints(n, "split", &a);
        for (int i = 0; i < ns && i < 64; i++)
            split[i] = a[i];
    }
    if (ns < 0) {
        if (x->dims[axis].v < 0 || n->nout > 64)
            return GS_OK;
        int64_t each = (x->dims[axis].v + n->nout - 1) / n->nout;
        for (ns = 0; ns < n->nout; ns++) {
            int64_t left = x->dims[axis].v - each * ns;
            split[ns] = left < each ? (left > 0 ? left : 0) : each;
        }
    }
    if (ns != n->nout)
        return GS_OK;
    gs_status st = GS_OK;
    for (int i = 0; i < ns && st == GS_OK; i++) {
        gs_dim dims[GS_MAX_RANK];
        memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
        dims[axis] = (gs_dim){ split[i], NULL };
        st = gs_infer_set(g, n->out[i], x->dtype, x->rank, dims);
    }
    return st;
}

/* A parameter of Slice known element by element (a Concat of constants,
 * a Shape of known dims) as a tensor over buf; false when some element is
 * not a number. */
static bool known_param(const gs_graph *g, gs_id v, gs_tensor *t, int64_t *buf)
{
    gs_dim e[GS_MAX_ELEMS];
    int n = gs_infer_elems(g, v, e);
    if (n < 0 || g->values[v].rank != 1)
        return false;
    for (int i = 0; i < n; i++) {
        if (!gs_elem_known(e[i]))
            return false;
        buf[i] = e[i].v;
    }
    memset(t, 0, sizeof *t);
    t->dtype = GS_INT64, t->rank = 1, t->dims[0] = n, t->data = buf, t->nbytes = (size_t)n * sizeof *buf;
    return true;
}

/* The length of a slice from 0 to end e (an element) of an axis of length
 * x: a number when both are, x when e names x, else min(e, x) as a dim
 * name ("min(seq, 512)") when e is one dim name and x a number of at least
 * 1, which broadcasting reads as e (gs_infer_bdim); unknown otherwise. */
static gs_dim prefix_len(gs_graph *g, gs_dim e, gs_dim x)
{
    if (gs_elem_known(e))
        return e.v >= 0 && x.v >= 0 ? (gs_dim){ e.v < x.v ? e.v : x.v, NULL } : (gs_dim){ -1, NULL };
    if (x.sym && !strcmp(e.sym, x.sym))
        return x;
    if (strchr(e.sym, ' ') || x.v < 1 || !gs_infer_own_forms(g))
        return (gs_dim){ -1, NULL };
    return (gs_dim){ -1, gs_arena_printf(gs_graph_root(g)->perm, "min(%s, %lld)", e.sym, (long long)x.v) };
}

/* The length of a slice from element s to element e = s + L of an axis,
 * step 1, L one dim name: at most L whatever s is (a negative start or end
 * counts from the axis's end, and clamping to the axis only shortens), and
 * possibly 0, so the dim name min(L, R) with R a new name for the rows the
 * window has (Whisper's position rows past .. past + seq). Broadcasting
 * reads it against L as or0(L) (gs_infer_bdim). The name the output
 * already has there (had) is kept, so inference run again does not rename
 * it. Unknown when e - s is not one dim name. */
static gs_dim window_len(gs_graph *g, gs_dim s, gs_dim e, gs_dim had)
{
    gs_dim L = gs_elem_sub(g, e, s);
    if (gs_elem_known(L) || !L.sym || strpbrk(L.sym, " ()*+-") || !gs_infer_own_forms(g))
        return (gs_dim){ -1, NULL };
    size_t n = strlen(L.sym);
    if (had.v < 0 && had.sym && !strncmp(had.sym, "min(", 4) && !strncmp(had.sym + 4, L.sym, n) &&
        !strncmp(had.sym + 4 + n, ", " GS_SYM_PREFIX, 2 + sizeof GS_SYM_PREFIX - 1))
        return had;
    const char *R = gs_infer_fresh_sym(g);
    const char *m = R ? gs_arena_printf(gs_graph_root(g)->perm, "min(%s, %s)", L.sym, R) : NULL;
    return (gs_dim){ -1, m };
}

/* A Slice with steps 1 (or absent) and axes known, whose ends inference
 * knows element by element: starts of 0 (the first `seq` rows of a
 * position table, prefix_len), or starts s with ends s + L for a dim name
 * L (window_len). Its sliced dims by those; false when the parameters are
 * not of that form. */
static bool prefix_slice(gs_graph *g, const gs_node *n, const gs_value *x, gs_dim *dims)
{
    gs_dim st[GS_MAX_ELEMS], en[GS_MAX_ELEMS], ax[GS_MAX_ELEMS], sp[GS_MAX_ELEMS];
    if (g->opset < 10 || n->nin < 3 || n->in[1] == GS_NONE || n->in[2] == GS_NONE)
        return false;
    int ns = gs_infer_elems(g, n->in[1], st), ne = gs_infer_elems(g, n->in[2], en);
    int na = n->nin > 3 && n->in[3] != GS_NONE ? gs_infer_elems(g, n->in[3], ax) : -2;
    int np = n->nin > 4 && n->in[4] != GS_NONE ? gs_infer_elems(g, n->in[4], sp) : -2;
    if (ns < 1 || ne != ns || na == -1 || np == -1 || (na >= 0 && na != ns) || (np >= 0 && np != ns))
        return false;
    const gs_value *out = n->nout > 0 && n->out[0] != GS_NONE ? &g->values[n->out[0]] : NULL;
    memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
    for (int i = 0; i < ns; i++) {
        int a = na < 0 ? i : gs_elem_known(ax[i]) ? norm_axis(ax[i].v, x->rank) : -1;
        if (a < 0 || a >= x->rank || (np >= 0 && (!gs_elem_known(sp[i]) || sp[i].v != 1)))
            return false;
        if (gs_elem_known(st[i]) && st[i].v == 0) {
            if (!gs_elem_known(en[i]) && !gs_elem_nonneg(en[i]))
                return false;
            dims[a] = prefix_len(g, en[i], x->dims[a]);
            continue;
        }
        gs_dim had = out && out->rank == x->rank ? out->dims[a] : (gs_dim){ -1, NULL };
        dims[a] = window_len(g, st[i], en[i], had);
        if (!dims[a].sym)
            return false;
    }
    return true;
}

/* Slice with constant starts, ends, axes and steps (attributes before opset
 * 10, or inputs whose elements are known); an axis it does not slice keeps
 * its dimension, named or not. Starts or ends not known leave the sliced
 * axes' dims unknown (every axis when the axes are not known either). */
static gs_status infer_slice(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 0)
        return GS_OK;
    const gs_tensor *in[5] = { NULL };
    gs_tensor known[5];
    int64_t buf[5][GS_MAX_ELEMS];
    int nin = n->nin < 5 ? n->nin : 5;
    bool all = true;
    for (int k = 1; g->opset >= 10 && k < nin; k++)
        if (n->in[k] != GS_NONE && !(in[k] = gs_infer_const(g, n, k)))
            in[k] = known_param(g, n->in[k], &known[k], buf[k]) ? &known[k] : NULL, all &= in[k] != NULL;
    gs_dim dims[GS_MAX_RANK];
    if (!all && prefix_slice(g, n, x, dims))
        return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
    if (!all) {
        bool sliced[GS_MAX_RANK] = { false };
        bool axes = nin > 3 && n->in[3] != GS_NONE && in[3];
        for (int64_t i = 0; axes && i < gs_tensor_numel(in[3]); i++) {
            int a = norm_axis(gs_tensor_get_i(in[3], i), x->rank);
            if (a < 0 || a >= x->rank)
                return GS_OK;
            sliced[a] = true;
        }
        for (int d = 0; d < x->rank; d++)
            dims[d] = axes && !sliced[d] ? x->dims[d] : (gs_dim){ -1, NULL };
        return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
    }
    int64_t lo[GS_MAX_RANK], step[GS_MAX_RANK], len[GS_MAX_RANK];
    for (int d = 0; d < x->rank; d++)
        len[d] = x->dims[d].v >= 0 ? x->dims[d].v : -1;
    if (slice_plan(n, g->opset, in, nin, x->rank, lo, step, len))
        return GS_OK;
    for (int d = 0; d < x->rank; d++) {
        bool whole = lo[d] == 0 && step[d] == 1 && len[d] == x->dims[d].v;
        dims[d] = whole ? x->dims[d] : (gs_dim){ len[d], NULL };
    }
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
}

/* Pad with constant pads (and axes); the pads attribute before opset 11. */
static gs_status infer_pad(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    if (!x || x->rank < 0)
        return GS_OK;
    int64_t pads[2 * GS_MAX_RANK];
    int np = -1;
    if (g->opset >= 11) {
        const gs_tensor *t = gs_infer_const(g, n, 1);
        if (!t || gs_tensor_numel(t) != 2 * x->rank || (n->nin > 3 && n->in[3] != GS_NONE))
            return GS_OK;
        for (np = 0; np < 2 * x->rank; np++)
            pads[np] = gs_tensor_get_i(t, np);
    } else {
        const int64_t *a;
        np = gs_attr_ints(n, g->opset < 2 ? "paddings" : "pads", &a);
        if (np != 2 * x->rank)
            return GS_OK;
        for (int i = 0; i < np; i++)
            pads[i] = a[i];
    }
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        int64_t add, v = -1;
        if (__builtin_add_overflow(pads[i], pads[i + x->rank], &add) ||
            (x->dims[i].v >= 0 && (__builtin_add_overflow(x->dims[i].v, add, &v) || v < 0)))
            return gs_infer_overflow(g, n);
        dims[i] = add == 0 ? x->dims[i] : (gs_dim){ v, NULL };
    }
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
}

/* Expand to a constant shape, or to one whose elements are numbers and dim
 * names: 1 keeps the input's dim, a name equal to it too; a name against
 * a dim that is not 1 leaves that dim unknown. */
static gs_status infer_expand(gs_graph *g, gs_node *n)
{
    const gs_value *x = val(g, n, 0);
    gs_dim s[GS_MAX_ELEMS];
    int ns = x ? gs_infer_elems(g, n->in[1], s) : -1;
    if (!x || x->rank < 0 || ns < 0 || g->values[n->in[1]].rank != 1)
        return GS_OK;
    int r = ns > x->rank ? ns : x->rank;
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int ix = i - (r - x->rank), is = i - (r - ns);
        gs_dim a = ix >= 0 ? x->dims[ix] : (gs_dim){ 1, NULL };
        gs_dim b = is >= 0 ? gs_dim_of_elem(s[is]) : (gs_dim){ 1, NULL };
        if (is >= 0 && gs_elem_known(s[is]) && s[is].v < 0)
            return GS_OK;   /* a negative size: the kernel reports it */
        if (b.v == 1 || gs_dim_equal(a, b))
            dims[i] = a;
        else if (a.v == 1 || (b.v >= 0 && a.v < 0))
            dims[i] = b;   /* an unknown dim that is not 1 must be b itself */
        else if (a.v >= 0)
            dims[i] = a;   /* b unknown: 1 or a */
        else if (b.v >= 0 && a.v >= 0)
            return GS_OK;   /* does not broadcast: the kernel reports it */
        else
            dims[i] = (gs_dim){ -1, NULL };
    }
    return gs_infer_set(g, n->out[0], x->dtype, r, dims);
}

/* Ops that only relabel a shape: runtimes hand the input's buffer on
 * without a copy, so they cost their per-op overhead and nothing else. */
static void cost_view(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    (void)g, (void)n;
    c->flops = c->bytes_read = c->bytes_written = 0;
}

/* ---- the table ------------------------------------------------------------ */

#define L GS_OP_LAYOUT

const gs_opdef gs_ops_tensor[] = {
    { "Identity", 1, 0, 1, 1, 1, 1, L, "", gs_infer_same, cost_view, k_identity, GS_RAISE_KEEP },
    { "Dropout", 1, 0, 1, 3, 1, 2, L, "ratio:f=0.5 seed:i", infer_dropout, NULL, k_dropout, GS_RAISE_KEEP },
    { "Reshape", 5, 0, 2, 2, 1, 1, L, "allowzero:i=0", infer_reshape, cost_view, k_reshape, GS_RAISE_KEEP },
    { "Flatten", 1, 0, 1, 1, 1, 1, L, "axis:i=1", infer_flatten, cost_view, k_flatten, GS_RAISE_KEEP },
    { "Squeeze", 1, 0, 1, 2, 1, 1, L, "axes:ints (input from opset 13)", infer_squeeze, cost_view,
      k_squeeze, GS_RAISE_KEEP },
    { "Unsqueeze", 1, 0, 1, 2, 1, 1, L, "axes:ints (input from opset 13)", infer_unsqueeze, cost_view,
      k_unsqueeze, GS_RAISE_KEEP },
    { "Transpose", 1, 0, 1, 1, 1, 1, L, "perm:ints", infer_transpose, NULL, k_transpose, GS_RAISE_KEEP },
    { "DepthToSpace", 1, 0, 1, 1, 1, 1, L | GS_OP_ANY_ALIGN, "blocksize:i mode:s=DCR (from opset 11)",
      infer_depth_to_space, NULL, k_depth_to_space, GS_RAISE_KEEP },
    { "SpaceToDepth", 1, 0, 1, 1, 1, 1, L | GS_OP_ANY_ALIGN, "blocksize:i", infer_space_to_depth, NULL,
      k_space_to_depth, GS_RAISE_KEEP },
    { "Concat", 4, 0, 1, -1, 1, 1, L | GS_OP_ANY_ALIGN, "axis:i", infer_concat, NULL, k_concat,
      GS_RAISE_KEEP },
    { "Split", 2, 0, 1, 2, 1, -1, L | GS_OP_ANY_ALIGN, "axis:i=0 split:ints num_outputs:i", infer_split,
      NULL, k_split, GS_RAISE_SPLIT_COUNT },
    { "Slice", 1, 0, 1, 5, 1, 1, L, "starts ends axes (inputs from opset 10) steps", infer_slice, NULL,
      k_slice, GS_RAISE_KEEP },
    { "Gather", 1, 0, 2, 2, 1, 1, L, "axis:i=0", infer_gather, NULL, k_gather, GS_RAISE_KEEP },
    { "Shape", 1, 0, 1, 1, 1, 1, GS_OP_SHAPE_ONLY, "start:i=0 end:i", infer_shape, NULL, k_shape,
      GS_RAISE_KEEP },
    { "Size", 1, 0, 1, 1, 1, 1, GS_OP_SHAPE_ONLY, "", infer_size, NULL, k_size, GS_RAISE_KEEP },
    { "Cast", 6, 0, 1, 1, 1, 1, GS_OP_ELEMENTWISE, "to:i saturate:i=1", infer_cast, NULL, k_cast,
      GS_RAISE_CAST_FLOAT8 },
    { "CastLike", 15, 0, 2, 2, 1, 1, GS_OP_ELEMENTWISE, "saturate:i=1", infer_cast, NULL, k_castlike,
      GS_RAISE_CAST_FLOAT8 },
    { "ConstantOfShape", 9, 0, 1, 1, 1, 1, 0, "value:t", gs_infer_constant_of_shape, NULL,
      k_constant_of_shape, GS_RAISE_KEEP },
    { "Range", 11, 0, 3, 3, 1, 1, 0, "", gs_infer_range, NULL, k_range, GS_RAISE_KEEP },
    { "Expand", 8, 0, 2, 2, 1, 1, L, "", infer_expand, NULL, k_expand, GS_RAISE_KEEP },
    { "Tile", 6, 0, 2, 2, 1, 1, L, "", gs_infer_tile, NULL, k_tile, GS_RAISE_KEEP },
    { "Pad", 1, 0, 1, 4, 1, 1, L, "mode:s=constant pads value", infer_pad, NULL, k_pad, GS_RAISE_KEEP },
    { "Resize", 10, 0, 2, 4, 1, 1, GS_OP_GAPS, "mode:s=nearest coordinate_transformation_mode:s=half_pixel "
      "nearest_mode:s=round_prefer_floor cubic_coeff_a:f=-0.75 exclude_outside:i=0 extrapolation_value:f=0 "
      "antialias:i=0 keep_aspect_ratio_policy:s=stretch", gs_infer_resize, NULL, k_resize,
      GS_RAISE_KEEP },
    /* known, carried through, not evaluated */
    { "Unique", 11, 0, 1, 1, 1, 4, 0, "axis:i sorted:i=1", NULL, NULL, NULL, GS_RAISE_KEEP },
    /* the signal ops of opset 17, unchanged since: carried through, and they do not keep a model
       from being raised */
    { "BlackmanWindow", 17, 0, 1, 1, 1, 1, 0, "output_datatype:i=1 periodic:i=1", NULL, NULL, NULL,
      GS_RAISE_KEEP },
    { "HammingWindow", 17, 0, 1, 1, 1, 1, 0, "output_datatype:i=1 periodic:i=1", NULL, NULL, NULL,
      GS_RAISE_KEEP },
    { "HannWindow", 17, 0, 1, 1, 1, 1, 0, "output_datatype:i=1 periodic:i=1", NULL, NULL, NULL,
      GS_RAISE_KEEP },
    { "MelWeightMatrix", 17, 0, 5, 5, 1, 1, 0, "output_datatype:i=1", NULL, NULL, NULL, GS_RAISE_KEEP },
    { "STFT", 17, 0, 2, 4, 1, 1, GS_OP_GAPS, "onesided:i=1", NULL, NULL, NULL, GS_RAISE_KEEP },
    { "Upsample", 9, 9, 2, 2, 1, 1, 0, "mode:s=nearest", gs_infer_resize, NULL, k_resize,
      GS_RAISE_NO },
    { .name = NULL },
};
