/*
 * ops_rnn.c - the LSTM, GRU and RNN ops' reference kernels. PyTorch writes
 * nn.LSTM, nn.GRU and nn.RNN, and their cells inside a scripted Loop, as
 * ONNX LSTM, GRU and RNN: voice-activity detectors, greedy decoders. With
 * kernels the interpreter runs them, so `--verify` checks such models.
 *
 * GRU as LSTM below, with its own gates (z, r, h), linear_before_reset (as
 * PyTorch writes it) or not, no cell state, no peepholes. RNN as GRU with one
 * gate: h = Tanh(W x + R h + Wb + Rb).
 *
 * Float32, the default activations (Sigmoid, Tanh, Tanh), forward, reverse
 * and bidirectional, both layouts, bias, initial state, peepholes, clip,
 * input_forget and sequence_lens (a batch row's steps past its length give
 * zeros in Y; a row of length 0 gives zeros in Y_h and Y_c too, as ONNX
 * Runtime does, not its initial state); other activations are reported as not
 * supported. Gates are i, o, f, c in W, R and B (ONNX's order), peepholes
 * i, o, f. Shape inference gives Y, Y_h and Y_c from X, the direction and the
 * hidden size, so what reads them in a Loop body is sized and priced.
 */
#include "gs_ops.h"

#include <math.h>
#include <string.h>

#define MAX_WORK 1e10   /* multiply-adds one LSTM node may take (a step count of 2^40 must not hang) */

typedef struct lstm {
    int64_t T, N, I, H, D;      /* steps, batch, input size, hidden size, directions */
    int layout;                 /* 0: [T, N, ...]; 1: [N, T, ...] */
    const float *x, *w, *r, *b, *h0, *c0, *p;
    const gs_tensor *lens;      /* [N] int32 or int64, or NULL */
    float clip;                 /* 0: none */
    bool couple;                /* input_forget */
    bool gru, lbr;              /* a GRU (3 gates), with linear_before_reset */
    bool plain;                 /* an RNN (1 gate) */
} lstm;

/* Gates per hidden unit: 4 (LSTM), 3 (GRU), 1 (RNN). */
static int64_t gates(const lstm *L)
{
    return L->gru ? 3 : L->plain ? 1 : 4;
}

static float sigm(float v)
{
    return 1.0f / (1.0f + expf(-v));
}

static float clipped(const lstm *L, float v)
{
    return L->clip > 0 ? fmaxf(-L->clip, fminf(L->clip, v)) : v;
}

/* Input or output row of batch n at step t (rows of `width` floats, `dirs`
 * of them per step in the outputs, direction d). */
static int64_t row(const lstm *L, int64_t t, int64_t n, int64_t dirs, int64_t d, int64_t width)
{
    int64_t at = L->layout ? (n * L->T + t) * dirs + d : (t * dirs + d) * L->N + n;
    return at * width;
}

/* One step of direction d for batch n: h and c (H floats each) in place. */
static void step(const lstm *L, int64_t d, const float *x, float *h, float *c, float *g)
{
    int64_t H = L->H, I = L->I;
    const float *w = L->w + d * 4 * H * I, *r = L->r + d * 4 * H * H;
    for (int64_t j = 0; j < 4 * H; j++) {
        float s = L->b ? L->b[d * 8 * H + j] + L->b[d * 8 * H + 4 * H + j] : 0.0f;
        for (int64_t k = 0; k < I; k++)
            s += w[j * I + k] * x[k];
        for (int64_t k = 0; k < H; k++)
            s += r[j * H + k] * h[k];
        g[j] = s;
    }
    const float *p = L->p ? L->p + d * 3 * H : NULL;
    for (int64_t j = 0; j < H; j++) {
        float i = sigm(clipped(L, g[j] + (p ? p[j] * c[j] : 0.0f)));
        float f = L->couple ? 1.0f - i : sigm(clipped(L, g[2 * H + j] + (p ? p[2 * H + j] * c[j] : 0.0f)));
        float u = tanhf(clipped(L, g[3 * H + j]));
        c[j] = f * c[j] + i * u;
        float o = sigm(clipped(L, g[H + j] + (p ? p[H + j] * c[j] : 0.0f)));
        h[j] = o * tanhf(c[j]);
    }
}

/* One GRU step of direction d for batch n: h (H floats) in place; g holds 4H. */
static void gru_step(const lstm *L, int64_t d, const float *x, float *h, float *g)
{
    int64_t H = L->H, I = L->I;
    const float *w = L->w + d * 3 * H * I, *r = L->r + d * 3 * H * H;
    const float *wb = L->b ? L->b + d * 6 * H : NULL, *rb = L->b ? L->b + d * 6 * H + 3 * H : NULL;
    float *rh = g + 3 * H;   /* R_h h (before reset), or r (.) h (after) */
    for (int64_t j = 0; j < 2 * H; j++) {   /* z, r */
        float v = wb ? wb[j] + rb[j] : 0.0f;
        for (int64_t k = 0; k < I; k++)
            v += w[j * I + k] * x[k];
        for (int64_t k = 0; k < H; k++)
            v += r[j * H + k] * h[k];
        g[j] = sigm(clipped(L, v));
    }
    for (int64_t j = 0; j < H; j++) {
        float v = 0.0f;
        for (int64_t k = 0; k < H && L->lbr; k++)
            v += r[(2 * H + j) * H + k] * h[k];
        rh[j] = L->lbr ? g[H + j] * (v + (rb ? rb[2 * H + j] : 0.0f)) : g[H + j] * h[j];
    }
    for (int64_t j = 0; j < H; j++) {
        float v = (wb ? wb[2 * H + j] : 0.0f) + (L->lbr ? rh[j] : (rb ? rb[2 * H + j] : 0.0f));
        for (int64_t k = 0; k < I; k++)
            v += w[(2 * H + j) * I + k] * x[k];
        for (int64_t k = 0; k < H && !L->lbr; k++)
            v += r[(2 * H + j) * H + k] * rh[k];
        g[2 * H + j] = tanhf(clipped(L, v));
    }
    for (int64_t j = 0; j < H; j++)
        h[j] = (1.0f - g[j]) * g[2 * H + j] + g[j] * h[j];
}

/* One RNN step of direction d for batch n: h (H floats) in place; g holds H. */
static void rnn_step(const lstm *L, int64_t d, const float *x, float *h, float *g)
{
    int64_t H = L->H, I = L->I;
    const float *w = L->w + d * H * I, *r = L->r + d * H * H;
    for (int64_t j = 0; j < H; j++) {
        float v = L->b ? L->b[d * 2 * H + j] + L->b[d * 2 * H + H + j] : 0.0f;
        for (int64_t k = 0; k < I; k++)
            v += w[j * I + k] * x[k];
        for (int64_t k = 0; k < H; k++)
            v += r[j * H + k] * h[k];
        g[j] = tanhf(clipped(L, v));
    }
    memcpy(h, g, (size_t)H * sizeof *h);
}

/* Run direction d over every batch row, writing Y (may be NULL), Y_h, Y_c
 * (NULL for a GRU). */
static void run_dir(const lstm *L, int64_t d, bool reverse, float *y, float *yh, float *yc, float *g)
{
    int64_t H = L->H;
    for (int64_t n = 0; n < L->N; n++) {
        float *h = yh + (L->layout ? n * L->D + d : d * L->N + n) * H;
        float *c = yc ? yc + (L->layout ? n * L->D + d : d * L->N + n) * H : NULL;
        int64_t state = (d * L->N + n) * H;   /* initial_h/c are [D, N, H] in layout 0, [N, D, H] in 1 */
        if (L->layout)
            state = (n * L->D + d) * H;
        for (int64_t j = 0; j < H; j++) {
            h[j] = L->h0 ? L->h0[state + j] : 0.0f;
            if (c)
                c[j] = L->c0 ? L->c0[state + j] : 0.0f;
        }
        int64_t len = L->lens ? gs_tensor_get_i(L->lens, n) : L->T;
        for (int64_t s = 0; s < len; s++) {
            int64_t t = reverse ? len - 1 - s : s;
            if (L->plain)
                rnn_step(L, d, L->x + row(L, t, n, 1, 0, L->I), h, g);
            else if (L->gru)
                gru_step(L, d, L->x + row(L, t, n, 1, 0, L->I), h, g);
            else
                step(L, d, L->x + row(L, t, n, 1, 0, L->I), h, c, g);
            if (y)
                memcpy(y + row(L, t, n, L->D, d, H), h, (size_t)H * sizeof *h);
        }
        if (!len) {
            memset(h, 0, (size_t)H * sizeof *h);
            if (c)
                memset(c, 0, (size_t)H * sizeof *c);
        }
    }
}

/* A float32 input of the given rank and dims (-1: any), or NULL when absent. */
static gs_status operand(gs_kcall *k, const gs_tensor *t, int rank, const int64_t *dims, const float **out)
{
    *out = NULL;
    if (!t)
        return GS_OK;
    if (t->dtype != GS_FLOAT)
        return gs_kunsupported(k, "an LSTM not in float32");
    if (t->rank != rank)
        return gs_kfail(k, "an input of the wrong rank");
    for (int i = 0; i < rank; i++)
        if (dims[i] >= 0 && t->dims[i] != dims[i])
            return gs_kfail(k, "an input whose dims do not fit X, W and R");
    *out = t->data;
    return GS_OK;
}

/* The attributes the kernel does not implement, and direction. */
static gs_status modes(gs_kcall *k, lstm *L, bool *reverse)
{
    const gs_attr *a = gs_ir_attr(k->node, "activations");
    static const char *const dflt[3] = { "Sigmoid", "Tanh", "Tanh" };
    size_t per = L->plain ? 1 : L->gru ? 2 : 3;   /* a GRU's are Sigmoid, Tanh; an RNN's Tanh */
    const char *const *want = L->plain ? dflt + 1 : dflt;
    for (size_t i = 0; a && i < a->n; i++)
        if (a->type != GS_A_STRINGS || a->strlens[i] != strlen(want[i % per]) ||
            memcmp(a->strs[i], want[i % per], a->strlens[i]))
            return gs_kunsupported(k, "an activation other than the defaults (Sigmoid, Tanh...)");
    if (gs_ir_attr(k->node, "activation_alpha") || gs_ir_attr(k->node, "activation_beta"))
        return gs_kunsupported(k, "activation_alpha or activation_beta");
    const gs_attr *dir = gs_ir_attr(k->node, "direction");
    const char *ds = dir && dir->type == GS_A_STRING ? dir->s : "forward";
    size_t dl = dir && dir->type == GS_A_STRING ? dir->slen : 7;
    bool bi = dl == 13 && !memcmp(ds, "bidirectional", 13);
    *reverse = dl == 7 && !memcmp(ds, "reverse", 7);
    if (!bi && !*reverse && !(dl == 7 && !memcmp(ds, "forward", 7)))
        return gs_kfail(k, "direction is not forward, reverse or bidirectional");
    if (L->D != (bi ? 2 : 1))
        return gs_kfail(k, "W's first dim does not match the direction");
    L->clip = gs_attr_float(k->node, "clip", 0.0f);
    L->couple = !L->gru && gs_attr_int(k->node, "input_forget", 0) != 0;
    L->lbr = L->gru && gs_attr_int(k->node, "linear_before_reset", 0) != 0;
    L->layout = (int)gs_attr_int(k->node, "layout", 0);
    int64_t hs = gs_attr_int(k->node, "hidden_size", L->H);
    if (L->clip < 0 || (L->layout != 0 && L->layout != 1) || hs != L->H)
        return gs_kfail(k, "clip, layout or hidden_size out of range");
    return GS_OK;
}

/* Sizes from X, W and R, and every input checked against them. */
static gs_status setup(gs_kcall *k, const gs_tensor *const *in, int nin, lstm *L, bool *reverse)
{
    const gs_tensor *X = in[0], *W = in[1], *R = in[2];
    if (X->rank != 3 || W->rank != 3 || R->rank != 3)
        return gs_kfail(k, "X, W or R is not of rank 3");
    L->D = W->dims[0], L->H = R->dims[2], L->I = X->dims[2];
    gs_status st = modes(k, L, reverse);
    if (st != GS_OK)
        return st;
    L->T = X->dims[L->layout ? 1 : 0], L->N = X->dims[L->layout ? 0 : 1];
    int64_t D = L->D, H = L->H, N = L->N, G = gates(L);
    int64_t wd[3] = { D, G * H, L->I }, rd[3] = { D, G * H, H }, bd[2] = { D, 2 * G * H }, pd[2] = { D, 3 * H };
    int64_t sd[3] = { L->layout ? N : D, L->layout ? D : N, H }, xd[3] = { -1, -1, -1 };
    const gs_tensor *at[8] = { NULL };
    for (int i = 0; i < nin && i < 8; i++)
        at[i] = in[i];
    if ((st = operand(k, at[0], 3, xd, &L->x)) == GS_OK && (st = operand(k, at[1], 3, wd, &L->w)) == GS_OK &&
        (st = operand(k, at[2], 3, rd, &L->r)) == GS_OK && (st = operand(k, at[3], 2, bd, &L->b)) == GS_OK &&
        (st = operand(k, at[5], 3, sd, &L->h0)) == GS_OK && (st = operand(k, at[6], 3, sd, &L->c0)) == GS_OK)
        st = operand(k, at[7], 2, pd, &L->p);
    if (st != GS_OK)
        return st;
    L->lens = at[4];
    if (L->lens && ((L->lens->dtype != GS_INT32 && L->lens->dtype != GS_INT64) || L->lens->rank != 1 ||
                    L->lens->dims[0] != N))
        return gs_kfail(k, "sequence_lens is not [batch] of int32 or int64");
    for (int64_t n = 0; L->lens && n < N; n++)
        if (gs_tensor_get_i(L->lens, n) < 0 || gs_tensor_get_i(L->lens, n) > L->T)
            return gs_kfail(k, "a sequence length out of [0, steps]");
    if (D <= 0 || H <= 0 || L->I < 0 || H > (1 << 20))
        return gs_kfail(k, "an empty or huge hidden size");
    double work = (double)L->T * (double)N * (double)D * (double)G * (double)H * (double)(L->I + H + 1);
    if (work > MAX_WORK)   /* steps of an empty input cost nothing to store but still run */
        return gs_err(k->ctx, GS_ERR_LIMIT, "node '%s' (%s): more than %.0f multiply-adds", k->node->name,
                      k->node->op, MAX_WORK);
    return GS_OK;
}

/* LSTM, GRU (gru) or RNN (plain): outputs Y, Y_h and (LSTM) Y_c. */
static gs_status run_cells(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout, bool gru,
                           bool plain)
{
    lstm L = { .gru = gru, .plain = plain };
    bool no_cell = gru || plain;
    bool reverse = false;
    gs_status st = setup(k, in, nin, &L, &reverse);
    if (st != GS_OK)
        return st;
    int64_t yd[4] = { L.T, L.D, L.N, L.H }, yb[4] = { L.N, L.T, L.D, L.H };
    int64_t sd[3] = { L.D, L.N, L.H }, sb[3] = { L.N, L.D, L.H };
    gs_tensor yh = { 0 }, yc = { 0 };
    st = gs_kmake(k, &yh, GS_FLOAT, L.layout ? sb : sd, 3);
    if (st == GS_OK && !no_cell)
        st = gs_kmake(k, &yc, GS_FLOAT, L.layout ? sb : sd, 3);
    if (st == GS_OK && nout > 0)
        st = gs_kmake(k, &out[0], GS_FLOAT, L.layout ? yb : yd, 4);   /* zero past a sequence's end */
    float *g = st == GS_OK ? gs_alloc(k->ctx, (size_t)(4 * L.H) * sizeof *g) : NULL;
    if (st == GS_OK && !g)
        st = gs_nomem(k->ctx);
    for (int64_t d = 0; st == GS_OK && d < L.D; d++)
        run_dir(&L, d, reverse || d == 1, nout > 0 ? out[0].data : NULL, yh.data, no_cell ? NULL : yc.data, g);
    gs_dealloc(k->ctx, g);
    if (st == GS_OK && nout > 1)
        out[1] = yh, memset(&yh, 0, sizeof yh);
    if (st == GS_OK && nout > 2)
        out[2] = yc, memset(&yc, 0, sizeof yc);
    gs_tensor_clear(k->ctx, &yh);
    gs_tensor_clear(k->ctx, &yc);
    return st;
}

static gs_status k_lstm(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    return run_cells(k, in, nin, out, nout, false, false);
}

static gs_status k_gru(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    return run_cells(k, in, nin, out, nout, true, false);
}

static gs_status k_rnn(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    return run_cells(k, in, nin, out, nout, false, true);
}

/* Y [T, D, N, H] (layout 1: [N, T, D, H]), Y_h and Y_c [D, N, H] ([N, D, H]);
 * a GRU's the same without Y_c. */
static gs_status infer_lstm(gs_graph *g, gs_node *n)
{
    const gs_value *x = &g->values[n->in[0]], *r = n->nin > 2 && n->in[2] != GS_NONE ? &g->values[n->in[2]] : NULL;
    if (x->rank != 3)
        return GS_OK;
    const gs_attr *dir = gs_ir_attr(n, "direction");
    bool bi = dir && dir->type == GS_A_STRING && dir->slen == 13 && !memcmp(dir->s, "bidirectional", 13);
    int64_t hs = gs_attr_int(n, "hidden_size", r && r->rank == 3 ? r->dims[2].v : -1);
    gs_dim D = { bi ? 2 : 1, NULL }, H = { hs > 0 ? hs : -1, NULL };
    bool batchwise = gs_attr_int(n, "layout", 0) == 1;
    gs_dim T = x->dims[batchwise], N = x->dims[!batchwise];
    gs_dim y[4] = { T, D, N, H }, yb[4] = { N, T, D, H }, s[3] = { D, N, H }, sb[3] = { N, D, H };
    gs_status st = GS_OK;
    for (int k = 0; k < n->nout && k < 3 && st == GS_OK; k++)
        if (n->out[k] != GS_NONE)
            st = k ? gs_infer_set(g, n->out[k], x->dtype, 3, batchwise ? sb : s)
                   : gs_infer_set(g, n->out[k], x->dtype, 4, batchwise ? yb : y);
    return st;
}

/* Dim i of input k's value as a cost estimate sizes it (gs_cost_dim), or 1. */
static double dim_of(const gs_graph *g, const gs_node *n, int k, int i)
{
    const gs_value *v = k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
    return v && v->rank > i ? gs_cost_dim(v->dims[i]) : 1;
}

/* The gates' (four, three, one) products with the input and the state at every step, both
 * directions; the steps read W and R once each. */
static void cost_lstm(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    bool batchwise = gs_attr_int(n, "layout", 0) == 1;
    double T = dim_of(g, n, 0, batchwise), N = dim_of(g, n, 0, !batchwise), I = dim_of(g, n, 0, 2);
    double D = dim_of(g, n, 1, 0), H = dim_of(g, n, 2, 2);
    double G = !strcmp(n->op, "GRU") ? 3 : !strcmp(n->op, "RNN") ? 1 : 4;
    c->flops = T * N * D * (2 * G * H * (I + H) + 10 * H);
    c->gemm_cols = G * H;
    c->bytes_read = 0;
    for (int k = 0; k < n->nin; k++)
        c->bytes_read += n->in[k] == GS_NONE ? 0 : gs_value_bytes(&g->values[n->in[k]]);
    c->bytes_written = 4 * (T * N * D * H + (5 - G) * N * D * H);
}

const gs_opdef gs_ops_rnn[] = {
    { "LSTM", 7, 0, 3, 8, 0, 3, 0,
      "activation_alpha:floats activation_beta:floats activations:strings clip:f direction:s=forward "
      "hidden_size:i input_forget:i=0 layout:i=0", infer_lstm, cost_lstm, k_lstm, GS_RAISE_KEEP },
    { "GRU", 7, 0, 3, 6, 0, 2, 0,
      "activation_alpha:floats activation_beta:floats activations:strings clip:f direction:s=forward "
      "hidden_size:i layout:i=0 linear_before_reset:i=0", infer_lstm, cost_lstm, k_gru, GS_RAISE_KEEP },
    { "RNN", 7, 0, 3, 6, 0, 2, 0,
      "activation_alpha:floats activation_beta:floats activations:strings clip:f direction:s=forward "
      "hidden_size:i layout:i=0", infer_lstm, cost_lstm, k_rnn, GS_RAISE_KEEP },
    { NULL, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0 },
};
