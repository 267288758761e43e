/*
 * ops_attention.c - the transformer ops of opset 23: RotaryEmbedding and
 * Attention (scaled dot-product attention with a mask, causal masking,
 * grouped-query heads and a key/value cache; revised at 24 with the
 * nonpad_kv_seqlen input).
 *
 * They are the targets of the rotary and attention fusions, so their
 * kernels are references: every product and sum in double, written for
 * clarity through the dtype-generic element accessors (the models they run
 * in are checked at small sizes). The semantics follow the ONNX operator
 * specification: a causal mask is aligned to the end of the keys when a
 * past key cache is given (query i sees keys up to past + i), K and V heads
 * are shared by q_num_heads / kv_num_heads consecutive query heads, and a
 * query row with every key masked gives zeros (the specification's errata),
 * not NaN.
 */
#include "gs_ops.h"

#include <math.h>
#include <string.h>

static const gs_value *val(const gs_graph *g, const gs_node *n, int k)
{
    return k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
}

static bool has_out(const gs_node *n, int k)
{
    return k < n->nout && n->out[k] != GS_NONE;
}

/* ---- RotaryEmbedding ------------------------------------------------------ */

/* The layout of a rotary input: [B, N, S, H] (rank 4) or [B, S, N * H]
 * (rank 3, N from num_heads); elem() gives the flat index of (b, n, s, h). */
typedef struct rope_shape {
    int64_t B, N, S, H;
    bool bsnh;                  /* rank 3: heads inside the last axis */
} rope_shape;

static int64_t rope_elem(const rope_shape *r, int64_t b, int64_t n, int64_t s, int64_t h)
{
    return r->bsnh ? ((b * r->S + s) * r->N + n) * r->H + h : ((b * r->N + n) * r->S + s) * r->H + h;
}

static gs_status rope_layout(gs_kcall *k, const gs_tensor *x, rope_shape *r)
{
    if (x->rank == 4) {
        *r = (rope_shape){ x->dims[0], x->dims[1], x->dims[2], x->dims[3], false };
        return GS_OK;
    }
    int64_t heads = gs_attr_int(k->node, "num_heads", 0);
    if (x->rank != 3 || heads <= 0 || x->dims[2] % heads)
        return gs_kfail(k, "input must be [B, N, S, H], or [B, S, hidden] with num_heads dividing hidden");
    *r = (rope_shape){ x->dims[0], heads, x->dims[1], x->dims[2] / heads, true };
    return GS_OK;
}

/* The row of the cos/sin caches for (b, s): with position ids, the cache
 * row they name; without, caches of shape [B, S, rot/2] (B may be 1). */
static gs_status rope_row(gs_kcall *k, const gs_tensor *cache, const gs_tensor *pos, const rope_shape *r,
                          int64_t b, int64_t s, int64_t half, int64_t *row)
{
    if (pos) {
        int64_t p = gs_tensor_get_i(pos, b * r->S + s);
        if (p < 0 || p >= cache->dims[0])
            return gs_kfail(k, "position id outside the cos/sin cache");
        *row = p * half;
        return GS_OK;
    }
    *row = ((cache->dims[0] == 1 ? 0 : b) * r->S + s) * half;
    return GS_OK;
}

static gs_status rope_check(gs_kcall *k, const gs_tensor *c, const gs_tensor *sn, const gs_tensor *pos,
                            const rope_shape *r, int64_t half)
{
    if (c->rank != sn->rank || memcmp(c->dims, sn->dims, (size_t)c->rank * sizeof c->dims[0]))
        return gs_kfail(k, "cos_cache and sin_cache must have one shape");
    if (pos) {
        if (pos->rank != 2 || pos->dims[0] != r->B || pos->dims[1] != r->S)
            return gs_kfail(k, "position_ids must be [batch, sequence]");
        if (c->rank != 2 || c->dims[1] != half)
            return gs_kfail(k, "with position_ids, the caches must be [max_position, rotary_dim / 2]");
        return GS_OK;
    }
    if (c->rank != 3 || (c->dims[0] != r->B && c->dims[0] != 1) || c->dims[1] != r->S || c->dims[2] != half)
        return gs_kfail(k, "without position_ids, the caches must be [batch, sequence, rotary_dim / 2]");
    return GS_OK;
}

static gs_status k_rotary(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0], *cc = in[1], *sc = in[2], *pos = nin > 3 ? in[3] : NULL;
    rope_shape r = { 0 };
    gs_status st = rope_layout(k, x, &r);
    if (st != GS_OK)
        return st;
    int64_t rot = gs_attr_int(k->node, "rotary_embedding_dim", 0);
    rot = rot ? rot : r.H;
    if (rot < 2 || rot > r.H || rot % 2)
        return gs_kfail(k, "rotary_embedding_dim must be even and at most the head size");
    int64_t half = rot / 2;
    bool inter = gs_attr_int(k->node, "interleaved", 0) != 0;
    if ((st = rope_check(k, cc, sc, pos, &r, half)) != GS_OK ||
        (st = gs_kmake_raw(k, out, x->dtype, x->dims, x->rank)) != GS_OK)
        return st;
    for (int64_t b = 0; b < r.B; b++)
        for (int64_t s = 0; s < r.S; s++) {
            int64_t row = 0;
            if ((st = rope_row(k, cc, pos, &r, b, s, half, &row)) != GS_OK)
                return st;
            for (int64_t n = 0; n < r.N; n++) {
                for (int64_t i = 0; i < half; i++) {
                    int64_t i1 = rope_elem(&r, b, n, s, inter ? 2 * i : i);
                    int64_t i2 = rope_elem(&r, b, n, s, inter ? 2 * i + 1 : i + half);
                    double c = gs_tensor_get_f(cc, row + i), sn = gs_tensor_get_f(sc, row + i);
                    double x1 = gs_tensor_get_f(x, i1), x2 = gs_tensor_get_f(x, i2);
                    gs_tensor_set_f(out, i1, c * x1 - sn * x2);
                    gs_tensor_set_f(out, i2, sn * x1 + c * x2);
                }
                for (int64_t h = rot; h < r.H; h++) {
                    int64_t i = rope_elem(&r, b, n, s, h);
                    gs_tensor_set_f(out, i, gs_tensor_get_f(x, i));
                }
            }
        }
    return GS_OK;
}

/* Rotary: about six operations per rotated element. */
static void cost_rotary(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    gs_cost_default(g, n, c);
    c->flops *= 3;
}

/* ---- Attention -------------------------------------------------------------- */

/* The operands of one Attention node, as sizes and flat-index strides. */
typedef struct att {
    int64_t B, QN, KN, S, T, P, L, H, HV;   /* L = P + T keys in all */
    bool bsh;                               /* rank-3 Q, K, V: [B, S, heads * H] */
    double scale, softcap;
    bool causal;
} att;

/* Flat index of element (b, head, s, d) of a Q, K or V operand with heads
 * heads of size hs and seq positions. */
static int64_t att_elem(const att *a, int64_t heads, int64_t seq, int64_t hs, int64_t b, int64_t h, int64_t s,
                        int64_t d)
{
    return a->bsh ? (b * seq + s) * heads * hs + h * hs + d : ((b * heads + h) * seq + s) * hs + d;
}

static gs_status att_shape(gs_kcall *k, const gs_tensor *const *in, int nin, att *a)
{
    const gs_tensor *q = in[0], *kk = in[1], *v = in[2];
    const gs_tensor *pk = nin > 4 ? in[4] : NULL, *pv = nin > 5 ? in[5] : NULL;
    if (q->rank != kk->rank || q->rank != v->rank || (q->rank != 3 && q->rank != 4))
        return gs_kfail(k, "Q, K and V must all be rank 3 or all rank 4");
    memset(a, 0, sizeof *a);
    a->B = q->dims[0];
    if (q->rank == 4) {
        a->QN = q->dims[1], a->KN = kk->dims[1], a->S = q->dims[2], a->T = kk->dims[2];
        a->H = q->dims[3], a->HV = v->dims[3];
        if (kk->dims[3] != a->H || v->dims[1] != a->KN || v->dims[2] != a->T)
            return gs_kfail(k, "K and V do not fit Q");
    } else {
        a->bsh = true;
        a->QN = gs_attr_int(k->node, "q_num_heads", 0), a->KN = gs_attr_int(k->node, "kv_num_heads", 0);
        if (a->QN <= 0 || a->KN <= 0 || q->dims[2] % a->QN || kk->dims[2] % a->KN || v->dims[2] % a->KN)
            return gs_kfail(k, "rank-3 inputs need q_num_heads and kv_num_heads dividing their hidden sizes");
        a->S = q->dims[1], a->T = kk->dims[1], a->H = q->dims[2] / a->QN, a->HV = v->dims[2] / a->KN;
        if (kk->dims[2] / a->KN != a->H || v->dims[1] != a->T)
            return gs_kfail(k, "K and V do not fit Q");
    }
    if (kk->dims[0] != a->B || v->dims[0] != a->B || a->KN <= 0 || a->QN % a->KN)
        return gs_kfail(k, "the K/V heads must divide the query heads, with one batch");
    if (!pk != !pv)
        return gs_kfail(k, "past_key and past_value go together");
    if (pk) {
        if (pk->rank != 4 || pv->rank != 4 || pk->dims[0] != a->B || pk->dims[1] != a->KN || pk->dims[3] != a->H ||
            pv->dims[0] != a->B || pv->dims[1] != a->KN || pv->dims[2] != pk->dims[2] || pv->dims[3] != a->HV)
            return gs_kfail(k, "past_key and past_value must be [batch, kv_num_heads, past, head_size]");
        a->P = pk->dims[2];
    }
    a->L = a->P + a->T;
    float sc = gs_attr_float(k->node, "scale", 0);
    a->scale = gs_ir_attr(k->node, "scale") ? sc : 1 / sqrt((double)a->H);
    a->softcap = gs_attr_float(k->node, "softcap", 0);
    a->causal = gs_attr_int(k->node, "is_causal", 0) != 0;
    return GS_OK;
}

/* The present keys (or values): past then new, [B, KN, L, hs], in doubles. */
static void att_present(const att *a, const gs_tensor *past, const gs_tensor *cur, int64_t hs, double *out)
{
    for (int64_t b = 0; b < a->B; b++)
        for (int64_t g = 0; g < a->KN; g++)
            for (int64_t l = 0; l < a->L; l++)
                for (int64_t d = 0; d < hs; d++) {
                    double v = l < a->P ? gs_tensor_get_f(past, ((b * a->KN + g) * a->P + l) * hs + d)
                                        : gs_tensor_get_f(cur, att_elem(a, a->KN, a->T, hs, b, g, l - a->P, d));
                    out[((b * a->KN + g) * a->L + l) * hs + d] = v;
                }
}

/* The additive bias of score (b, h, i, l) from the mask, the causal flag
 * and the non-padded key counts. */
static double att_bias(const att *a, const gs_tensor *mask, const gs_bcast *mb, int64_t mlen,
                       const gs_tensor *nonpad, int64_t b, int64_t h, int64_t i, int64_t l)
{
    double bias = 0;
    if (mask) {
        if (l >= mlen)
            return -INFINITY;
        int64_t at = gs_bcast_index(mb, ((b * a->QN + h) * a->S + i) * mlen + l);
        if (mask->dtype == GS_BOOL)
            bias = gs_tensor_get_i(mask, at) ? 0 : -INFINITY;
        else
            bias = gs_tensor_get_f(mask, at);
    }
    int64_t valid = nonpad ? gs_tensor_get_i(nonpad, b) : a->L;
    if (a->causal) {
        int64_t offset = a->P ? a->P : nonpad ? valid - a->S : 0;
        if (l > i + offset)
            return -INFINITY;
    }
    return l >= valid ? -INFINITY : bias;
}

/* x rounded to element type t, as a tensor of that type would hold it. */
static double in_type(int32_t t, double x)
{
    switch (t) {
    case GS_FLOAT: return (float)x;
    case GS_FLOAT16: return gs_half_to_float(gs_float_to_half((float)x));
    case GS_BFLOAT16: return gs_bf16_to_float(gs_float_to_bf16((float)x));
    default: return x;
    }
}

/* Scores of query row (b, h, i) against all keys into sc[0..L), then the
 * softmax of them in place; qk receives the scaled products when not NULL.
 * The products, the scaled scores and the biased scores are rounded to Q's
 * type, as the operator's function body (MatMul, Mul, Add in that type)
 * holds them: scores that tie there tie here too. */
static void att_row(const att *a, const gs_tensor *q, const double *keys, const gs_tensor *mask,
                    const gs_bcast *mb, int64_t mlen, const gs_tensor *nonpad, int64_t b, int64_t h, int64_t i,
                    double *sc, double *qk)
{
    int64_t g = h / (a->QN / a->KN);
    double mx = -INFINITY, sum = 0;
    for (int64_t l = 0; l < a->L; l++) {
        double dot = 0;
        for (int64_t d = 0; d < a->H; d++)
            dot += gs_tensor_get_f(q, att_elem(a, a->QN, a->S, a->H, b, h, i, d)) *
                   keys[((b * a->KN + g) * a->L + l) * a->H + d];
        double s = in_type(q->dtype, in_type(q->dtype, dot) * a->scale);
        if (a->softcap > 0)
            s = in_type(q->dtype, a->softcap * tanh(s / a->softcap));
        if (qk)
            qk[l] = s;
        sc[l] = in_type(q->dtype, s + att_bias(a, mask, mb, mlen, nonpad, b, h, i, l));
        mx = fmax(mx, sc[l]);
    }
    for (int64_t l = 0; l < a->L; l++)   /* a row with every key masked gives zeros, not NaN */
        sum += sc[l] = mx == -INFINITY ? 0 : exp(sc[l] - mx);
    for (int64_t l = 0; sum > 0 && l < a->L; l++)
        sc[l] /= sum;
}

static gs_status att_outputs(gs_kcall *k, const att *a, int32_t dtype, gs_tensor *out, int nout)
{
    int64_t y4[4] = { a->B, a->QN, a->S, a->HV }, y3[3] = { a->B, a->S, a->QN * a->HV };
    gs_status st = a->bsh ? gs_kmake(k, &out[0], dtype, y3, 3) : gs_kmake(k, &out[0], dtype, y4, 4);
    int64_t pk[4] = { a->B, a->KN, a->L, a->H }, pv[4] = { a->B, a->KN, a->L, a->HV };
    int64_t qk[4] = { a->B, a->QN, a->S, a->L };
    if (st == GS_OK && nout > 1 && has_out(k->node, 1))
        st = gs_kmake(k, &out[1], dtype, pk, 4);
    if (st == GS_OK && nout > 2 && has_out(k->node, 2))
        st = gs_kmake(k, &out[2], dtype, pv, 4);
    if (st == GS_OK && nout > 3 && has_out(k->node, 3))
        st = gs_kmake(k, &out[3], dtype, qk, 4);
    return st;
}

static gs_status att_mask_check(gs_kcall *k, const att *a, const gs_tensor *mask, gs_bcast *mb, int64_t *mlen)
{
    *mlen = 0;
    if (!mask)
        return GS_OK;
    if (mask->rank < 1 || mask->rank > 4 || mask->dims[mask->rank - 1] > a->L)
        return gs_kfail(k, "attn_mask must be at most rank 4 and no longer than the keys");
    *mlen = mask->dims[mask->rank - 1];
    int64_t full[4] = { a->B, a->QN, a->S, *mlen };
    int64_t dims[4];
    int r;
    if (!gs_broadcast_shape(full, 4, mask->dims, mask->rank, dims, &r) || memcmp(dims, full, sizeof full))
        return gs_kfail(k, "attn_mask must broadcast to [batch, heads, q_sequence, keys]");
    gs_bcast_init(mb, full, 4, mask->dims, mask->rank);
    return GS_OK;
}

static gs_status att_nonpad_check(gs_kcall *k, const att *a, const gs_tensor *nonpad)
{
    if (!nonpad)
        return GS_OK;
    if (k->opset < 24)
        return gs_kfail(k, "nonpad_kv_seqlen is an input from opset 24");
    if (gs_tensor_numel(nonpad) != a->B)
        return gs_kfail(k, "nonpad_kv_seqlen must have one element per batch");
    for (int64_t b = 0; b < a->B; b++)
        if (gs_tensor_get_i(nonpad, b) < 0 || gs_tensor_get_i(nonpad, b) > a->L)
            return gs_kfail(k, "nonpad_kv_seqlen out of range");
    return GS_OK;
}

/* What this kernel leaves out: a QK output other than the scaled products
 * (mode 0, no softcap) or the softmax (mode 3), and opset 25's windows. */
static gs_status att_modes(gs_kcall *k, const att *a, int nout)
{
    int64_t mode = gs_attr_int(k->node, "qk_matmul_output_mode", 0);
    if (nout > 3 && has_out(k->node, 3) && !((mode == 0 && a->softcap <= 0) || mode == 3))
        return gs_kunsupported(k, "this qk_matmul_output_mode");
    if (gs_attr_int(k->node, "left_window_size", -1) != -1 || gs_attr_int(k->node, "right_window_size", -1) != -1)
        return gs_kunsupported(k, "a sliding window");
    return GS_OK;
}

static gs_status att_run(gs_kcall *k, const att *a, const gs_tensor *const *in, int nin, gs_tensor *out,
                         int nout, double *keys, double *vals, double *sc, double *qk)
{
    const gs_tensor *mask = nin > 3 ? in[3] : NULL, *nonpad = nin > 6 ? in[6] : NULL;
    gs_bcast mb;
    int64_t mlen;
    gs_status st = att_mask_check(k, a, mask, &mb, &mlen);
    if (st == GS_OK)
        st = att_nonpad_check(k, a, nonpad);
    if (st == GS_OK)
        st = att_outputs(k, a, in[0]->dtype, out, nout);
    if (st != GS_OK)
        return st;
    att_present(a, nin > 4 ? in[4] : NULL, in[1], a->H, keys);
    att_present(a, nin > 5 ? in[5] : NULL, in[2], a->HV, vals);
    int64_t mode = gs_attr_int(k->node, "qk_matmul_output_mode", 0);
    bool want_qk = nout > 3 && out[3].data;
    for (int64_t b = 0; b < a->B; b++)
        for (int64_t h = 0; h < a->QN; h++)
            for (int64_t i = 0; i < a->S; i++) {
                att_row(a, in[0], keys, mask, &mb, mlen, nonpad, b, h, i, sc, qk);
                int64_t g = h / (a->QN / a->KN), row = ((b * a->QN + h) * a->S + i) * a->L;
                for (int64_t l = 0; want_qk && l < a->L; l++)
                    gs_tensor_set_f(&out[3], row + l, mode == 3 ? sc[l] : qk[l]);
                for (int64_t d = 0; d < a->HV; d++) {
                    double y = 0;
                    for (int64_t l = 0; l < a->L; l++)
                        y += sc[l] * vals[((b * a->KN + g) * a->L + l) * a->HV + d];
                    gs_tensor_set_f(&out[0], att_elem(a, a->QN, a->S, a->HV, b, h, i, d), y);
                }
            }
    int64_t nk = a->B * a->KN * a->L;
    for (int64_t e = 0; nout > 1 && out[1].data && e < nk * a->H; e++)
        gs_tensor_set_f(&out[1], e, keys[e]);
    for (int64_t e = 0; nout > 2 && out[2].data && e < nk * a->HV; e++)
        gs_tensor_set_f(&out[2], e, vals[e]);
    return GS_OK;
}

static gs_status k_attention(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    att a;
    gs_status st = att_shape(k, in, nin, &a);
    if (st == GS_OK)
        st = att_modes(k, &a, nout);
    if (st != GS_OK)
        return st;
    size_t nk, nv, nl;
    if (!gs_mul_ok((size_t)(a.B * a.KN * a.L), (size_t)a.H * sizeof(double), &nk) ||
        !gs_mul_ok((size_t)(a.B * a.KN * a.L), (size_t)a.HV * sizeof(double), &nv) ||
        !gs_mul_ok((size_t)a.L + 1, 2 * sizeof(double), &nl))
        return gs_kfail(k, "operands too large");
    double *keys = gs_alloc(k->ctx, nk ? nk : 1), *vals = gs_alloc(k->ctx, nv ? nv : 1);
    double *sc = gs_alloc(k->ctx, nl);
    if (!keys || !vals || !sc)
        st = gs_nomem(k->ctx);
    else
        st = att_run(k, &a, in, nin, out, nout, keys, vals, sc, sc + a.L + 1);
    gs_dealloc(k->ctx, keys);
    gs_dealloc(k->ctx, vals);
    gs_dealloc(k->ctx, sc);
    return st;
}

/* ---- shape inference and cost ------------------------------------------------ */

/* A dim times a known count (unknown unless the dim is a number). */
static gs_dim dim_times(gs_dim d, int64_t k)
{
    int64_t r;
    return d.v >= 0 && !d.sym && k > 0 && gs_mul64_ok(d.v, k, &r) ? (gs_dim){ r, NULL } : (gs_dim){ -1, NULL };
}

static gs_dim dim_div(gs_dim d, int64_t k)
{
    return d.v >= 0 && !d.sym && k > 0 && d.v % k == 0 ? (gs_dim){ d.v / k, NULL } : (gs_dim){ -1, NULL };
}

static gs_status infer_attention(gs_graph *g, gs_node *n)
{
    const gs_value *q = val(g, n, 0), *k = val(g, n, 1), *v = val(g, n, 2), *pk = val(g, n, 4);
    if (!q || !k || !v || q->rank < 3 || q->rank > 4 || k->rank != q->rank || v->rank != q->rank)
        return GS_OK;
    bool bsh = q->rank == 3;
    int64_t qn = gs_attr_int(n, "q_num_heads", 0), kn = gs_attr_int(n, "kv_num_heads", 0);
    gs_dim B = q->dims[0], S = bsh ? q->dims[1] : q->dims[2], T = bsh ? k->dims[1] : k->dims[2];
    gs_dim QN = bsh ? (gs_dim){ qn > 0 ? qn : -1, NULL } : q->dims[1];
    gs_dim KN = bsh ? (gs_dim){ kn > 0 ? kn : -1, NULL } : k->dims[1];
    gs_dim H = bsh ? dim_div(k->dims[2], kn) : k->dims[3], HV = bsh ? dim_div(v->dims[2], kn) : v->dims[3];
    gs_dim L = pk && pk->rank == 4 ? gs_dim_add(g, pk->dims[2], T) : T;
    gs_dim y[4] = { B, QN, S, HV };
    if (bsh)
        y[1] = S, y[2] = dim_times(HV, qn);
    gs_status st = gs_infer_set(g, n->out[0], q->dtype, bsh ? 3 : 4, y);
    gs_dim pkd[4] = { B, KN, L, H }, pvd[4] = { B, KN, L, HV }, qkd[4] = { B, QN, S, L };
    if (st == GS_OK && has_out(n, 1))
        st = gs_infer_set(g, n->out[1], q->dtype, 4, pkd);
    if (st == GS_OK && has_out(n, 2))
        st = gs_infer_set(g, n->out[2], q->dtype, 4, pvd);
    if (st == GS_OK && has_out(n, 3))
        st = gs_infer_set(g, n->out[3], q->dtype, 4, qkd);
    return st;
}

static double dimv(gs_dim d)
{
    return gs_cost_dim(d);
}

/* Two products of [S, H] by [H, L] and [S, L] by [L, HV] per query head,
 * and the softmax; bytes as read and written. */
static void cost_attention(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    gs_cost_default(g, n, c);
    const gs_value *q = val(g, n, 0), *k = val(g, n, 1), *pk = val(g, n, 4);
    const gs_value *y = n->nout > 0 && n->out[0] != GS_NONE ? &g->values[n->out[0]] : NULL;
    if (!q || !k || !y || q->rank < 3 || k->rank != q->rank)
        return;
    double l = dimv(k->dims[k->rank == 3 ? 1 : 2]) + (pk && pk->rank == 4 ? dimv(pk->dims[2]) : 0);
    double qelems = gs_value_elems(q), yelems = gs_value_elems(y);
    double rows = qelems / dimv(q->dims[q->rank - 1]);   /* rank 4: B * heads * S */
    if (q->rank == 3) {                                   /* rank 3: B * S, times the heads */
        int64_t qn = gs_attr_int(n, "q_num_heads", 1);
        rows *= (double)(qn > 0 ? qn : 1);
    }
    c->flops = 2 * qelems * l + 2 * yelems * l + 5 * rows * l;
}

/* ---- the table -------------------------------------------------------------- */

/* Attention 24 only adds an optional input (nonpad_kv_seqlen): a node of 23
 * keeps its meaning at 24. */
const gs_opdef gs_ops_attention[] = {
    { "RotaryEmbedding", 23, 0, 3, 4, 1, 1, 0, "interleaved:i=0 num_heads:i=0 rotary_embedding_dim:i=0",
      gs_infer_same, cost_rotary, k_rotary, GS_RAISE_KEEP },
    { "Attention", 23, 23, 3, 6, 1, 4, 0,
      "is_causal:i=0 kv_num_heads:i q_num_heads:i qk_matmul_output_mode:i=0 scale:f softcap:f=0 "
      "softmax_precision:i",
      infer_attention, cost_attention, k_attention, GS_RAISE_KEEP },
    { "Attention", 24, 0, 3, 7, 1, 4, 0,
      "is_causal:i=0 kv_num_heads:i q_num_heads:i qk_matmul_output_mode:i=0 scale:f softcap:f=0 "
      "softmax_precision:i (input 6: nonpad_kv_seqlen)",
      infer_attention, cost_attention, k_attention, GS_RAISE_KEEP },
    { .name = NULL },
};
