/*
 * ops_nn.c - MatMul and Gemm, and what every neural-network kernel shares:
 * float32 views of other dtypes and one cache-blocked float GEMM.
 *
 * MatMul, Gemm, Conv (im2col + GEMM, ops_conv.c), ConvTranspose (GEMM +
 * col2im) and Einsum (ops_einsum.c) all run on gs_op_gemm, so a ResNet-50
 * runs in the interpreter in seconds. The GEMM is plain C: a block of B stays
 * in cache while four rows of C are updated at once, and the innermost loop
 * runs over contiguous memory with restrict pointers so gcc -O2 vectorizes
 * it. No intrinsics, no threads. float16, bfloat16 and double run through a
 * float32 copy; integer MatMul and Gemm run a plain triple loop in 64 bits.
 */
#include "gs_ops.h"

#include <string.h>

/* ---- float32 views ------------------------------------------------------- */

gs_status gs_op_as_float(gs_kcall *k, const gs_tensor *x, gs_tensor *tmp, const float **out)
{
    if (x->dtype == GS_FLOAT) {
        *out = x->data;
        return GS_OK;
    }
    if (!gs_dtype_size(x->dtype) || x->dtype == GS_BOOL || x->dtype == GS_COMPLEX64 ||
        x->dtype == GS_COMPLEX128)
        return gs_kunsupported(k, gs_dtype_name(x->dtype));
    gs_status st = gs_kmake(k, tmp, GS_FLOAT, x->dims, x->rank);
    int64_t n = gs_tensor_numel(x);
    float *p = tmp->data;
    for (int64_t i = 0; st == GS_OK && i < n; i++)
        p[i] = (float)gs_tensor_get_f(x, i);
    *out = p;
    return st;
}

gs_status gs_op_from_float(gs_kcall *k, gs_tensor *f, gs_tensor *out, int32_t dtype)
{
    if (dtype == GS_FLOAT) {
        *out = *f;
        memset(f, 0, sizeof *f);
        return GS_OK;
    }
    gs_status st = gs_kmake(k, out, dtype, f->dims, f->rank);
    int64_t n = gs_tensor_numel(f);
    const float *p = f->data;
    for (int64_t i = 0; st == GS_OK && i < n; i++)
        gs_tensor_set_f(out, i, p[i]);
    gs_tensor_clear(k->ctx, f);
    return st;
}

bool gs_op_floatlike(int32_t dtype)
{
    return dtype == GS_FLOAT || dtype == GS_DOUBLE || dtype == GS_FLOAT16 || dtype == GS_BFLOAT16;
}

/* ---- GEMM ------------------------------------------------------------------ */

enum {
    GEMM_KB = 128,   /* rows of B per block */
    GEMM_NB = 512,   /* columns of B and C per block: 128 x 512 floats of B stay in L2 */
};

/* y[j] += a * x[j]. */
static void axpy(int64_t n, float a, const float *restrict x, float *restrict y)
{
    for (int64_t j = 0; j < n; j++)
        y[j] += a * x[j];
}

/* Four rows at once: y_r[j] += a[r] * x[j], each x[j] loaded once. */
static void axpy4(int64_t n, const float a[4], const float *restrict x, float *restrict y0,
                  float *restrict y1, float *restrict y2, float *restrict y3)
{
    for (int64_t j = 0; j < n; j++) {
        float b = x[j];
        y0[j] += a[0] * b;
        y1[j] += a[1] * b;
        y2[j] += a[2] * b;
        y3[j] += a[3] * b;
    }
}

/* The columns [n0, n1) and rows [k0, k1) of B against every row of A. */
static void gemm_block(int64_t m, int64_t n0, int64_t n1, int64_t k0, int64_t k1, float alpha,
                       gs_fmat a, gs_fmat b, float *c, int64_t ldc)
{
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        float *c0 = c + i * ldc + n0;
        for (int64_t p = k0; p < k1; p++) {
            float av[4];
            for (int r = 0; r < 4; r++)
                av[r] = alpha * a.p[(i + r) * a.rs + p * a.cs];
            if (av[0] != 0 || av[1] != 0 || av[2] != 0 || av[3] != 0)
                axpy4(n1 - n0, av, b.p + p * b.rs + n0, c0, c0 + ldc, c0 + 2 * ldc, c0 + 3 * ldc);
        }
    }
    for (; i < m; i++)
        for (int64_t p = k0; p < k1; p++) {
            float av = alpha * a.p[i * a.rs + p * a.cs];
            if (av != 0)
                axpy(n1 - n0, av, b.p + p * b.rs + n0, c + i * ldc + n0);
        }
}

void gs_op_gemm(int64_t m, int64_t n, int64_t k, float alpha, gs_fmat a, gs_fmat b, float *c, int64_t ldc)
{
    if (b.cs != 1) {   /* strided B: plain loops (callers pack B when it matters) */
        for (int64_t i = 0; i < m; i++)
            for (int64_t p = 0; p < k; p++)
                for (int64_t j = 0; j < n; j++)
                    c[i * ldc + j] += alpha * a.p[i * a.rs + p * a.cs] * b.p[p * b.rs + j * b.cs];
        return;
    }
    for (int64_t k0 = 0; k0 < k; k0 += GEMM_KB)
        for (int64_t n0 = 0; n0 < n; n0 += GEMM_NB)
            gemm_block(m, n0, n0 + GEMM_NB < n ? n0 + GEMM_NB : n, k0, k0 + GEMM_KB < k ? k0 + GEMM_KB : k,
                       alpha, a, b, c, ldc);
}

/* ---- MatMul: numpy batching, 1-D operands ---------------------------------- */

gs_status gs_op_mm_plan(gs_kcall *k, const gs_tensor *a, const gs_tensor *b, gs_mm_plan *p)
{
    if (a->rank < 1 || b->rank < 1)
        return gs_kfail(k, "operands must have rank 1 or more");
    p->ar = a->rank == 1 ? 2 : a->rank;
    p->br = b->rank == 1 ? 2 : b->rank;
    memcpy(p->adims, a->dims, (size_t)a->rank * sizeof *a->dims);
    memcpy(p->bdims, b->dims, (size_t)b->rank * sizeof *b->dims);
    if (a->rank == 1)   /* [k] is a row [1, k] */
        p->adims[1] = p->adims[0], p->adims[0] = 1;
    if (b->rank == 1)   /* [k] is a column [k, 1] */
        p->bdims[1] = 1;
    p->m = p->adims[p->ar - 2], p->k = p->adims[p->ar - 1], p->n = p->bdims[p->br - 1];
    if (p->bdims[p->br - 2] != p->k)
        return gs_kfail(k, "inner dimensions differ");
    if (!gs_broadcast_shape(p->adims, p->ar - 2, p->bdims, p->br - 2, p->batch, &p->rb) ||
        p->rb + 2 > GS_MAX_RANK)
        return gs_kfail(k, "batch dimensions do not broadcast");
    memcpy(p->dims, p->batch, (size_t)p->rb * sizeof *p->batch);
    p->rank = p->rb;
    if (a->rank > 1)
        p->dims[p->rank++] = p->m;
    if (b->rank > 1)
        p->dims[p->rank++] = p->n;
    gs_bcast_init(&p->ba, p->batch, p->rb, p->adims, p->ar - 2);
    gs_bcast_init(&p->bb, p->batch, p->rb, p->bdims, p->br - 2);
    p->count = p->m && p->n ? gs_numel(p->batch, p->rb) : 0;
    return GS_OK;
}

void gs_op_mm_batch(const gs_mm_plan *p, int64_t t, int64_t *ta, int64_t *tb)
{
    *ta = gs_bcast_index(&p->ba, t);
    *tb = gs_bcast_index(&p->bb, t);
}

/* Integer MatMul: a plain triple loop with 64-bit accumulation. */
static gs_status matmul_int(gs_kcall *k, const gs_tensor *a, const gs_tensor *b, const gs_mm_plan *p,
                            gs_tensor *out)
{
    gs_status st = gs_kmake(k, out, a->dtype, p->dims, p->rank);
    int64_t nb = p->count, m = p->m, n = p->n, kk = p->k;
    for (int64_t t = 0; st == GS_OK && t < nb; t++) {
        int64_t oa, ob;
        gs_op_mm_batch(p, t, &oa, &ob);
        oa *= m * kk, ob *= kk * n;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                int64_t acc = 0;
                for (int64_t q = 0; q < kk; q++)
                    acc += gs_tensor_get_i(a, oa + i * kk + q) * gs_tensor_get_i(b, ob + q * n + j);
                gs_tensor_set_i(out, (t * m + i) * n + j, acc);
            }
    }
    return st;
}

static gs_status k_matmul(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    const gs_tensor *a = in[0], *b = in[1];
    gs_mm_plan p;
    gs_status st = gs_op_mm_plan(k, a, b, &p);
    if (st != GS_OK)
        return st;
    if (a->dtype != b->dtype)
        return gs_kfail(k, "operands have different types");
    if (!gs_op_floatlike(a->dtype))
        return matmul_int(k, a, b, &p, out);
    gs_tensor ta = { 0 }, tb = { 0 }, f = { 0 };
    const float *pa, *pb;
    st = gs_op_as_float(k, a, &ta, &pa);
    if (st == GS_OK)
        st = gs_op_as_float(k, b, &tb, &pb);
    if (st == GS_OK)
        st = gs_kmake(k, &f, GS_FLOAT, p.dims, p.rank);
    if (st == GS_OK) {
        int64_t nb = p.count, ia, ib;
        for (int64_t t = 0; t < nb; t++) {
            gs_op_mm_batch(&p, t, &ia, &ib);
            gs_fmat ma = { pa + ia * p.m * p.k, p.k, 1 };
            gs_fmat mb = { pb + ib * p.k * p.n, p.n, 1 };
            gs_op_gemm(p.m, p.n, p.k, 1.0f, ma, mb, (float *)f.data + t * p.m * p.n, p.n);
        }
        st = gs_op_from_float(k, &f, out, a->dtype);
    }
    gs_tensor_clear(k->ctx, &ta);
    gs_tensor_clear(k->ctx, &tb);
    gs_tensor_clear(k->ctx, &f);
    return st;
}

/* ---- Gemm: alpha * op(A) * op(B) + beta * C ------------------------------- */

typedef struct gemm_plan {
    bool ta, tb;
    float alpha, beta;
    int64_t m, k, n;
} gemm_plan;

static gs_status gemm_plan_init(gs_kcall *k, const gs_tensor *a, const gs_tensor *b, const gs_tensor *c,
                                gemm_plan *p)
{
    if (a->rank != 2 || b->rank != 2)
        return gs_kfail(k, "A and B must be matrices");
    p->ta = gs_attr_int(k->node, "transA", 0) != 0;
    p->tb = gs_attr_int(k->node, "transB", 0) != 0;
    p->alpha = gs_attr_float(k->node, "alpha", 1);
    p->beta = gs_attr_float(k->node, "beta", 1);
    p->m = a->dims[p->ta ? 1 : 0], p->k = a->dims[p->ta ? 0 : 1];
    p->n = b->dims[p->tb ? 0 : 1];
    if (b->dims[p->tb ? 1 : 0] != p->k)
        return gs_kfail(k, "inner dimensions differ");
    int64_t dims[2] = { p->m, p->n }, cd[GS_MAX_RANK];
    int rc;
    if (c && (!gs_broadcast_shape(dims, 2, c->dims, c->rank, cd, &rc) || rc != 2 || cd[0] != p->m ||
              cd[1] != p->n))
        return gs_kfail(k, "C does not broadcast to the output");
    return GS_OK;
}

/* out = beta * C broadcast to [m, n] (out already allocated, zero). */
static void gemm_add_c(const gs_tensor *c, const gemm_plan *p, gs_tensor *out)
{
    if (!c || p->beta == 0)
        return;
    int64_t dims[2] = { p->m, p->n };
    gs_bcast bc;
    gs_bcast_init(&bc, dims, 2, c->dims, c->rank);
    for (int64_t i = 0; i < p->m * p->n; i++)
        gs_tensor_set_f(out, i, p->beta * gs_tensor_get_f(c, gs_bcast_index(&bc, i)));
}

/* Integer Gemm: plain loops in double (exact below 2^53). */
static void gemm_slow(const gs_tensor *a, const gs_tensor *b, const gemm_plan *p, gs_tensor *out)
{
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) {
            double acc = 0;
            for (int64_t q = 0; q < p->k; q++)
                acc += gs_tensor_get_f(a, p->ta ? q * p->m + i : i * p->k + q) *
                       gs_tensor_get_f(b, p->tb ? j * p->k + q : q * p->n + j);
            gs_tensor_set_f(out, i * p->n + j, gs_tensor_get_f(out, i * p->n + j) + p->alpha * acc);
        }
}

/* B transposed into contiguous rows: t[q * n + j] = b[j * k + q]. */
static gs_status pack_transposed(gs_kcall *k, const float *b, int64_t rows, int64_t cols, gs_tensor *t)
{
    int64_t dims[2] = { cols, rows };
    gs_status st = gs_kmake(k, t, GS_FLOAT, dims, 2);
    float *p = t->data;
    for (int64_t j = 0; st == GS_OK && j < rows; j++)
        for (int64_t q = 0; q < cols; q++)
            p[q * rows + j] = b[j * cols + q];
    return st;
}

static gs_status k_gemm(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    const gs_tensor *a = in[0], *b = in[1], *c = nin > 2 ? in[2] : NULL;
    gemm_plan p;
    gs_status st = gemm_plan_init(k, a, b, c, &p);
    if (st != GS_OK)
        return st;
    int64_t dims[2] = { p.m, p.n };
    if (!gs_op_floatlike(a->dtype)) {
        st = gs_kmake(k, out, a->dtype, dims, 2);
        if (st == GS_OK)
            gemm_add_c(c, &p, out), gemm_slow(a, b, &p, out);
        return st;
    }
    gs_tensor tA = { 0 }, tB = { 0 }, tT = { 0 }, f = { 0 };
    const float *pa, *pb;
    st = gs_op_as_float(k, a, &tA, &pa);
    if (st == GS_OK)
        st = gs_op_as_float(k, b, &tB, &pb);
    if (st == GS_OK && p.tb)   /* B is [n, k]: make its transpose's rows contiguous */
        st = pack_transposed(k, pb, p.n, p.k, &tT), pb = tT.data;
    if (st == GS_OK)
        st = gs_kmake(k, &f, GS_FLOAT, dims, 2);
    if (st == GS_OK) {
        gemm_add_c(c, &p, &f);
        gs_fmat ma = p.ta ? (gs_fmat){ pa, 1, p.m } : (gs_fmat){ pa, p.k, 1 };
        gs_op_gemm(p.m, p.n, p.k, p.alpha, ma, (gs_fmat){ pb, p.n, 1 }, f.data, p.n);
        st = gs_op_from_float(k, &f, out, a->dtype);
    }
    gs_tensor_clear(k->ctx, &tA);
    gs_tensor_clear(k->ctx, &tB);
    gs_tensor_clear(k->ctx, &tT);
    gs_tensor_clear(k->ctx, &f);
    return st;
}

/* ---- shape inference and cost ---------------------------------------------- */

static const gs_value *val(const gs_graph *g, const gs_node *n, int k)
{
    return k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
}

static const gs_value *outval(const gs_graph *g, const gs_node *n)
{
    return n->nout > 0 && n->out[0] != GS_NONE ? &g->values[n->out[0]] : NULL;
}

gs_status gs_op_infer_matmul(gs_graph *g, gs_node *n, const gs_value *a, const gs_value *b, int32_t dtype)
{
    if (!a || !b || a->rank < 1 || b->rank < 1)
        return GS_OK;
    gs_dim dims[GS_MAX_RANK] = { 0 };
    int ra = a->rank, rb = b->rank, r = ra > rb ? ra : rb;
    if (ra == 1 || rb == 1) {   /* a vector operand drops its dim */
        if (ra == 1 && rb == 1)
            return gs_infer_set(g, n->out[0], dtype, 0, dims);
        const gs_value *m = ra == 1 ? b : a;
        int k = 0;
        for (int i = 0; i < m->rank; i++)
            if (i != (ra == 1 ? m->rank - 2 : m->rank - 1))
                dims[k++] = m->dims[i];
        return gs_infer_set(g, n->out[0], dtype, k, dims);
    }
    for (int i = 0; i < r - 2; i++) {   /* broadcast batch dims */
        int ia = i - (r - ra), ib = i - (r - rb);
        gs_dim da = ia >= 0 ? a->dims[ia] : (gs_dim){ 1, NULL };
        gs_dim db = ib >= 0 ? b->dims[ib] : (gs_dim){ 1, NULL };
        dims[i] = da.v == 1 ? db : da;
    }
    dims[r - 2] = a->dims[ra - 2];
    dims[r - 1] = b->dims[rb - 1];
    return gs_infer_set(g, n->out[0], dtype, r, dims);
}

static gs_status infer_matmul(gs_graph *g, gs_node *n)
{
    const gs_value *a = val(g, n, 0);
    return gs_op_infer_matmul(g, n, a, val(g, n, 1), a ? a->dtype : 0);
}

static gs_status infer_gemm(gs_graph *g, gs_node *n)
{
    const gs_value *a = val(g, n, 0), *b = val(g, n, 1);
    if (!a || !b || a->rank != 2 || b->rank != 2)
        return GS_OK;
    gs_dim dims[2] = { a->dims[gs_attr_int(n, "transA", 0) ? 1 : 0],
                       b->dims[gs_attr_int(n, "transB", 0) ? 0 : 1] };
    return gs_infer_set(g, n->out[0], a->dtype, 2, dims);
}

/* MatMul and Gemm: 2 * M * N * K * batch, i.e. 2 * output elements * K; the
 * output width N goes to gemm_cols, for the profile to say how much a narrow
 * product loses (one reason merging parallel MatMuls can pay). */
static void cost_gemmlike(const gs_graph *g, const gs_node *n, gs_cost *c, double k)
{
    const gs_value *o = outval(g, n);
    c->flops = 2 * gs_value_elems(o) * k;
    c->gemm_cols = o && o->rank > 0 ? gs_cost_dim(o->dims[o->rank - 1]) : 1;
    c->bytes_read = 0;
    for (int i = 0; i < n->nin; i++)
        c->bytes_read += gs_value_bytes(val(g, n, i));
    c->bytes_written = gs_value_bytes(o);
}

void gs_op_cost_matmul(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    const gs_value *a = val(g, n, 0);
    double k = a && a->rank > 0 ? gs_cost_dim(a->dims[a->rank - 1]) : 1;
    cost_gemmlike(g, n, c, k);
}

static void cost_gemm(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    const gs_value *a = val(g, n, 0);
    int ka = gs_attr_int(n, "transA", 0) ? 0 : 1;
    double k = a && a->rank == 2 ? gs_cost_dim(a->dims[ka]) : 1;
    cost_gemmlike(g, n, c, k);
}

/* ---- the table -------------------------------------------------------------- */

const gs_opdef gs_ops_nn[] = {
    { "MatMul", 1, 0, 2, 2, 1, 1, 0, "(numpy batching; 1-D operands promoted and dropped)", infer_matmul,
      gs_op_cost_matmul, k_matmul, GS_RAISE_KEEP },
    { "Gemm", 1, 0, 2, 3, 1, 1, 0, "alpha:f=1 beta:f=1 transA:i=0 transB:i=0 (C optional, broadcast)",
      infer_gemm, cost_gemm, k_gemm, GS_RAISE_KEEP },
    { .name = NULL },
};
