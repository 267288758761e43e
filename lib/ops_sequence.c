/*
 * ops_sequence.c - the sequence ops: SequenceEmpty, SequenceConstruct,
 * SequenceInsert, SequenceAt, SequenceErase, SequenceLength,
 * ConcatFromSequence and SplitToSequence. TorchScript exports write Python
 * lists as sequences carried through a Loop (append, then torch.stack or
 * torch.cat after it); with these kernels the interpreter runs them, so
 * `--verify` checks such models.
 *
 * A sequence at run time is a gs_tensor flagged GS_T_SEQUENCE: rank 1,
 * dims[0] elements, data an array of gs_tensor (each owning its data), dtype
 * the elements'. tensor.c frees and copies it whole. Only these ops, a Loop's
 * carried values and Identity take one (interp.c refuses it anywhere else),
 * and a sequence is never folded, merged or hoisted (GS_OP_SEQUENCE): a
 * constant cannot hold one. Elements are numeric tensors; a sequence of
 * strings or of sequences is not supported.
 */
#include "gs_ops.h"

#include <string.h>

bool gs_seq_is(const gs_tensor *t)
{
    return t && (t->flags & GS_T_SEQUENCE);
}

/* out = an empty sequence of dtype elements with room for cap of them. */
static gs_status seq_make(gs_kcall *k, gs_tensor *out, int32_t dtype, int64_t cap)
{
    memset(out, 0, sizeof *out);
    size_t bytes;
    if (cap < 0 || !gs_mul_ok((size_t)cap + 1, sizeof(gs_tensor), &bytes) ||
        (int64_t)bytes > GS_MAX_TENSOR_BYTES)
        return gs_kfail(k, "too many sequence elements");
    if (!(out->data = gs_zalloc(k->ctx, bytes)))
        return gs_nomem(k->ctx);
    out->dtype = dtype;
    out->rank = 1;
    out->nbytes = bytes;
    out->flags = GS_T_OWNED | GS_T_SEQUENCE;
    return GS_OK;
}

static gs_tensor *elems(const gs_tensor *s)
{
    return (gs_tensor *)s->data;
}

/* Append a copy of tensor t to sequence s (which has room for it). */
static gs_status seq_push(gs_kcall *k, gs_tensor *s, const gs_tensor *t)
{
    if (gs_seq_is(t))
        return gs_kunsupported(k, "a sequence of sequences");
    if (!gs_dtype_size(t->dtype) || (!t->data && gs_tensor_numel(t) > 0))
        return gs_kunsupported(k, "a sequence of strings or of unknown types");
    if (t->dtype != s->dtype)
        return gs_kfail(k, "a tensor of another type than the sequence's elements");
    gs_tensor *c = gs_tensor_dup(k->ctx, t);
    if (!c)
        return gs_nomem(k->ctx);
    c->name = NULL;
    elems(s)[s->dims[0]++] = *c;
    gs_dealloc(k->ctx, c);
    return GS_OK;
}

/* in[i] must be a sequence (want) or a tensor (!want). */
static gs_status want_seq(gs_kcall *k, const gs_tensor *t, bool want)
{
    if (gs_seq_is(t) == want)
        return GS_OK;
    return gs_kfail(k, want ? "an input that must be a sequence is a tensor" :
                             "an input that must be a tensor is a sequence");
}

/* Position input p (a scalar, NULL: dflt) counted from the front in [0, n + extra). */
static gs_status position(gs_kcall *k, const gs_tensor *p, int64_t n, int64_t extra, int64_t dflt,
                          int64_t *at)
{
    gs_status st = p ? want_seq(k, p, false) : GS_OK;
    if (st != GS_OK)
        return st;
    if (p && (gs_tensor_numel(p) != 1 || (p->dtype != GS_INT64 && p->dtype != GS_INT32)))
        return gs_kfail(k, "position is not one int32 or int64");
    int64_t v = p ? gs_tensor_get_i(p, 0) : dflt;
    if (v < -n || v >= n + extra)
        return gs_kfail(k, "position out of range");
    *at = v < 0 ? v + n : v;
    return GS_OK;
}

static gs_status k_seq_empty(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)in, (void)nin, (void)nout;
    int64_t dtype = gs_attr_int(k->node, "dtype", GS_FLOAT);
    if (dtype < 0 || dtype > 64 || !gs_dtype_size((int32_t)dtype))
        return gs_kunsupported(k, "this element type");
    return seq_make(k, out, (int32_t)dtype, 0);
}

static gs_status k_seq_construct(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    gs_status st = want_seq(k, in[0], false);
    if (st == GS_OK)
        st = seq_make(k, out, in[0]->dtype, nin);
    for (int i = 0; i < nin && st == GS_OK; i++)
        if ((st = want_seq(k, in[i], false)) == GS_OK)
            st = seq_push(k, out, in[i]);
    return st;
}

/* out = a copy of sequence s with tensor t at position at (t NULL: none),
 * element skip left out (-1: none). */
static gs_status seq_edit(gs_kcall *k, const gs_tensor *s, int64_t at, const gs_tensor *t, int64_t skip,
                          gs_tensor *out)
{
    int64_t n = s->dims[0];
    gs_status st = seq_make(k, out, s->dtype, n + 1);
    for (int64_t i = 0; i <= n && st == GS_OK; i++) {
        if (t && i == at)
            st = seq_push(k, out, t);
        if (i < n && i != skip && st == GS_OK)
            st = seq_push(k, out, &elems(s)[i]);
    }
    return st;
}

static gs_status k_seq_insert(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    int64_t at;
    gs_status st = want_seq(k, in[0], true);
    if (st == GS_OK)
        st = want_seq(k, in[1], false);
    if (st == GS_OK)
        st = position(k, nin > 2 ? in[2] : NULL, in[0]->dims[0], 1, in[0]->dims[0], &at);
    return st == GS_OK ? seq_edit(k, in[0], at, in[1], -1, out) : st;
}

static gs_status k_seq_erase(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    int64_t at;
    gs_status st = want_seq(k, in[0], true);
    if (st == GS_OK)
        st = position(k, nin > 1 ? in[1] : NULL, in[0]->dims[0], 0, -1, &at);
    return st == GS_OK ? seq_edit(k, in[0], -1, NULL, at, out) : st;
}

static gs_status k_seq_at(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    int64_t at;
    gs_status st = want_seq(k, in[0], true);
    if (st == GS_OK)
        st = position(k, in[1], in[0]->dims[0], 0, 0, &at);
    if (st != GS_OK)
        return st;
    gs_tensor *c = gs_tensor_dup(k->ctx, &elems(in[0])[at]);
    if (!c)
        return gs_nomem(k->ctx);
    *out = *c;
    gs_dealloc(k->ctx, c);
    return GS_OK;
}

static gs_status k_seq_length(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    gs_status st = want_seq(k, in[0], true);
    if (st == GS_OK)
        st = gs_kmake(k, out, GS_INT64, NULL, 0);
    if (st == GS_OK)
        gs_tensor_set_i(out, 0, in[0]->dims[0]);
    return st;
}

/* ConcatFromSequence: the elements joined along axis, or stacked along a new
 * axis there (new_axis=1, as torch.stack). */
static gs_status k_concat_seq(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    gs_status st = want_seq(k, in[0], true);
    if (st != GS_OK)
        return st;
    const gs_tensor *e = elems(in[0]);
    int64_t n = in[0]->dims[0];
    bool stack = gs_attr_int(k->node, "new_axis", 0) != 0;
    if (n < 1)
        return gs_kfail(k, "an empty sequence");
    int r = e[0].rank, axis = gs_axis(gs_attr_int(k->node, "axis", 0), r + stack);
    if (axis < 0 || r + stack > GS_MAX_RANK || (!stack && r < 1))
        return gs_kfail(k, "axis out of range");
    int64_t dims[GS_MAX_RANK];
    for (int d = 0, j = 0; d < r + stack; d++)
        dims[d] = stack && d == axis ? 0 : e[0].dims[j++];
    dims[axis] = 0;   /* the sum below */
    for (int64_t i = 0; i < n; i++) {
        if (e[i].rank != r)
            return gs_kfail(k, "elements differ in rank");
        for (int d = 0; d < r; d++)
            if (e[i].dims[d] != e[0].dims[d] && (stack || d != axis))
                return gs_kfail(k, "elements differ in a dim other than the axis");
        dims[axis] += stack ? 1 : e[i].dims[axis];
    }
    if ((st = gs_kmake_raw(k, out, e[0].dtype, dims, r + stack)) != GS_OK)
        return st;
    int64_t outer = gs_numel(e[0].dims, axis);
    size_t es = gs_dtype_size(e[0].dtype);
    char *o = out->data;
    for (int64_t b = 0; b < outer; b++)
        for (int64_t i = 0; i < n; i++) {
            size_t chunk = (size_t)(outer ? gs_tensor_numel(&e[i]) / outer : 0) * es;
            if (chunk)
                memcpy(o, (const char *)e[i].data + (size_t)b * chunk, chunk);
            o += chunk;
        }
    return GS_OK;
}

/* Elements [start, start + len) of t along axis, as element dst (the axis
 * dropped when squeeze and len is 1). */
static gs_status slab(gs_kcall *k, const gs_tensor *t, int axis, int64_t start, int64_t len, bool squeeze,
                      gs_tensor *dst)
{
    int64_t dims[GS_MAX_RANK], outer = gs_numel(t->dims, axis), D = t->dims[axis];
    int rank = 0;
    for (int d = 0; d < t->rank; d++)
        if (d != axis || !squeeze)
            dims[rank++] = d == axis ? len : t->dims[d];
    gs_status st = gs_kmake_raw(k, dst, t->dtype, dims, rank);
    size_t inner = (size_t)gs_numel(t->dims + axis + 1, t->rank - axis - 1) * gs_dtype_size(t->dtype);
    for (int64_t o = 0; st == GS_OK && o < outer && inner && len; o++)
        memcpy((char *)dst->data + (size_t)(o * len) * inner,
               (const char *)t->data + (size_t)(o * D + start) * inner, (size_t)len * inner);
    return st;
}

/* The piece sizes of SplitToSequence along a dim of D: split absent (1 each),
 * a scalar (that size, the last piece smaller) or a list adding up to D. */
static gs_status pieces(gs_kcall *k, const gs_tensor *split, int64_t D, int64_t **sizes, int64_t *n)
{
    bool list = split && split->rank == 1;
    if (split && (gs_seq_is(split) || (split->dtype != GS_INT64 && split->dtype != GS_INT32) ||
                  (!list && split->rank != 0)))
        return gs_kfail(k, "split is not a positive scalar or a list of sizes");
    int64_t each = split && !list ? gs_tensor_get_i(split, 0) : 1;
    if (each < 1)
        return gs_kfail(k, "split is not a positive scalar or a list of sizes");
    *n = list ? split->dims[0] : D ? (D + each - 1) / each : 0;
    if (!(*sizes = gs_alloc(k->ctx, ((size_t)*n + 1) * sizeof **sizes)))
        return gs_nomem(k->ctx);
    int64_t sum = 0;
    for (int64_t i = 0; i < *n; i++) {
        int64_t s = list ? gs_tensor_get_i(split, i) : i == *n - 1 ? D - each * (*n - 1) : each;
        if (s < 0 || s > D - sum)
            return gs_kfail(k, "split sizes do not add up to the dim");
        (*sizes)[i] = s;
        sum += s;
    }
    return sum == D ? GS_OK : gs_kfail(k, "split sizes do not add up to the dim");
}

static gs_status k_split_seq(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0], *split = nin > 1 ? in[1] : NULL;
    gs_status st = want_seq(k, x, false);
    int axis = x->rank > 0 ? gs_axis(gs_attr_int(k->node, "axis", 0), x->rank) : -1;
    if (st == GS_OK && (axis < 0 || !gs_dtype_size(x->dtype)))
        st = gs_kfail(k, "axis out of range, or a tensor of strings");
    int64_t *sizes = NULL, n = 0;
    if (st == GS_OK)
        st = pieces(k, split, x->dims[axis], &sizes, &n);
    bool squeeze = !split && gs_attr_int(k->node, "keepdims", 1) == 0;
    if (st == GS_OK)
        st = seq_make(k, out, x->dtype, n);
    for (int64_t i = 0, start = 0; st == GS_OK && i < n; start += sizes[i++]) {
        gs_tensor *e = &elems(out)[i];
        st = slab(k, x, axis, start, sizes[i], squeeze, e);
        if (st == GS_OK)
            out->dims[0]++;
    }
    gs_dealloc(k->ctx, sizes);
    return st;
}

static gs_status infer_length(gs_graph *g, gs_node *n)
{
    return gs_infer_set(g, n->out[0], GS_INT64, 0, NULL);
}

#define S GS_OP_SEQUENCE
const gs_opdef gs_ops_sequence[] = {
    { "SequenceEmpty", 11, 0, 0, 0, 1, 1, S, "dtype:i=1", NULL, NULL, k_seq_empty, GS_RAISE_KEEP },
    { "SequenceConstruct", 11, 0, 1, -1, 1, 1, S, "", NULL, NULL, k_seq_construct, GS_RAISE_KEEP },
    { "SequenceInsert", 11, 0, 2, 3, 1, 1, S, "", NULL, NULL, k_seq_insert, GS_RAISE_KEEP },
    { "SequenceErase", 11, 0, 1, 2, 1, 1, S, "", NULL, NULL, k_seq_erase, GS_RAISE_KEEP },
    { "SequenceAt", 11, 0, 2, 2, 1, 1, S, "", NULL, NULL, k_seq_at, GS_RAISE_KEEP },
    { "SequenceLength", 11, 0, 1, 1, 1, 1, S, "", infer_length, NULL, k_seq_length, GS_RAISE_KEEP },
    { "ConcatFromSequence", 11, 0, 1, 1, 1, 1, S, "axis:i new_axis:i=0", NULL, NULL, k_concat_seq,
      GS_RAISE_KEEP },
    { "SplitToSequence", 11, 0, 1, 2, 1, 1, S, "axis:i=0 keepdims:i=1", NULL, NULL, k_split_seq,
      GS_RAISE_KEEP },
    { NULL, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0 },
};
#undef S
