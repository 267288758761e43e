/*
 * ops_elementwise.c - registry rows for elementwise ops: unary math and
 * activations, binary arithmetic with broadcasting, comparisons, logic,
 * variadic Min/Max/Sum/Mean, Clip, Where.
 *
 * Kernels are written once for every numeric type: values are read and
 * written through gs_tensor_get_f/set_f (double precision, float16 by
 * conversion), with an int64 path where float math would lose precision,
 * and a direct float32 path for the common case.
 */
#include "gs_ops.h"

#include <math.h>
#include <string.h>

static bool is_numeric(int32_t t)
{
    return gs_dtype_size(t) > 0 && t != GS_COMPLEX64 && t != GS_COMPLEX128;
}

static gs_status bad_type(gs_kcall *k, const gs_tensor *t)
{
    return gs_err(k->ctx, GS_ERR_UNSUPPORTED, "node '%s' (%s): type %s is not supported",
                  k->node->name, k->node->op, gs_dtype_name(t->dtype));
}

/* ---- unary ------------------------------------------------------------ */

typedef struct uparams {
    double alpha, beta, gamma;
    const char *mode;
} uparams;

typedef double (*ufn)(double x, const uparams *p);

static double f_abs(double x, const uparams *p) { (void)p; return fabs(x); }
static double f_neg(double x, const uparams *p) { (void)p; return -x; }
static double f_exp(double x, const uparams *p) { (void)p; return exp(x); }
static double f_log(double x, const uparams *p) { (void)p; return log(x); }
static double f_sqrt(double x, const uparams *p) { (void)p; return sqrt(x); }
static double f_recip(double x, const uparams *p) { (void)p; return 1.0 / x; }
static double f_erf(double x, const uparams *p) { (void)p; return erf(x); }
static double f_tanh(double x, const uparams *p) { (void)p; return tanh(x); }
static double f_sigmoid(double x, const uparams *p) { (void)p; return 1.0 / (1.0 + exp(-x)); }
static double f_relu(double x, const uparams *p) { (void)p; return x > 0 ? x : 0; }
static double f_floor(double x, const uparams *p) { (void)p; return floor(x); }
static double f_ceil(double x, const uparams *p) { (void)p; return ceil(x); }
static double f_round(double x, const uparams *p) { (void)p; return nearbyint(x); }
static double f_sign(double x, const uparams *p) { (void)p; return x > 0 ? 1 : x < 0 ? -1 : 0; }
static double f_sin(double x, const uparams *p) { (void)p; return sin(x); }
static double f_cos(double x, const uparams *p) { (void)p; return cos(x); }
static double f_tan(double x, const uparams *p) { (void)p; return tan(x); }
static double f_asin(double x, const uparams *p) { (void)p; return asin(x); }
static double f_acos(double x, const uparams *p) { (void)p; return acos(x); }
static double f_atan(double x, const uparams *p) { (void)p; return atan(x); }
static double f_sinh(double x, const uparams *p) { (void)p; return sinh(x); }
static double f_cosh(double x, const uparams *p) { (void)p; return cosh(x); }
static double f_asinh(double x, const uparams *p) { (void)p; return asinh(x); }
static double f_acosh(double x, const uparams *p) { (void)p; return acosh(x); }
static double f_atanh(double x, const uparams *p) { (void)p; return atanh(x); }
static double f_softplus(double x, const uparams *p) { (void)p; return x > 30 ? x : log1p(exp(x)); }
static double f_softsign(double x, const uparams *p) { (void)p; return x / (1 + fabs(x)); }
static double f_leaky(double x, const uparams *p) { return x >= 0 ? x : p->alpha * x; }
static double f_elu(double x, const uparams *p) { return x >= 0 ? x : p->alpha * (exp(x) - 1); }
static double f_celu(double x, const uparams *p) { return fmax(0, x) + fmin(0, p->alpha * (exp(x / p->alpha) - 1)); }
static double f_selu(double x, const uparams *p)
{
    return p->gamma * (x > 0 ? x : p->alpha * (exp(x) - 1));
}
static double f_hsigmoid(double x, const uparams *p) { return fmax(0, fmin(1, p->alpha * x + p->beta)); }
static double f_hswish(double x, const uparams *p) { (void)p; return x * fmax(0, fmin(1, x / 6 + 0.5)); }
static double f_thrrelu(double x, const uparams *p) { return x > p->alpha ? x : 0; }
static double f_mish(double x, const uparams *p) { return x * tanh(f_softplus(x, p)); }
/* Shrink, alpha standing for lambd and beta for bias */
static double f_shrink(double x, const uparams *p)
{
    return x < -p->alpha ? x + p->beta : x > p->alpha ? x - p->beta : 0;
}
static double f_gelu(double x, const uparams *p)
{
    if (p->mode && !strcmp(p->mode, "tanh"))
        return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1 + erf(x / sqrt(2.0)));
}

static gs_status map1(gs_kcall *k, const gs_tensor *x, gs_tensor *out, ufn f, const uparams *p)
{
    if (!is_numeric(x->dtype))
        return bad_type(k, x);
    gs_status st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
    if (st != GS_OK)
        return st;
    int64_t n = gs_tensor_numel(x);
    if (x->dtype == GS_FLOAT) {
        const float *a = x->data;
        float *o = out->data;
        for (int64_t i = 0; i < n; i++)
            o[i] = (float)f(a[i], p);
        return GS_OK;
    }
    for (int64_t i = 0; i < n; i++)
        gs_tensor_set_f(out, i, f(gs_tensor_get_f(x, i), p));
    return GS_OK;
}

static uparams params(const gs_node *n, double alpha, double beta, double gamma)
{
    uparams p = { gs_attr_float(n, "alpha", (float)alpha), gs_attr_float(n, "beta", (float)beta),
                  gs_attr_float(n, "gamma", (float)gamma), gs_attr_str(n, "approximate", "none") };
    return p;
}

#define UNARY(name, fn, a, b, c)                                                        \
    static gs_status k_##name(gs_kcall *k, const gs_tensor *const *in, int nin,         \
                              gs_tensor *out, int nout)                                 \
    {                                                                                   \
        (void)nin, (void)nout;                                                          \
        uparams p = params(k->node, a, b, c);                                           \
        return map1(k, in[0], out, fn, &p);                                             \
    }

UNARY(abs, f_abs, 0, 0, 0)
UNARY(neg, f_neg, 0, 0, 0)
UNARY(exp, f_exp, 0, 0, 0)
UNARY(log, f_log, 0, 0, 0)
UNARY(sqrt, f_sqrt, 0, 0, 0)
UNARY(recip, f_recip, 0, 0, 0)
UNARY(erf, f_erf, 0, 0, 0)
UNARY(tanh, f_tanh, 0, 0, 0)
UNARY(sigmoid, f_sigmoid, 0, 0, 0)
UNARY(relu, f_relu, 0, 0, 0)
UNARY(floor, f_floor, 0, 0, 0)
UNARY(ceil, f_ceil, 0, 0, 0)
UNARY(round, f_round, 0, 0, 0)
UNARY(sign, f_sign, 0, 0, 0)
UNARY(sin, f_sin, 0, 0, 0)
UNARY(cos, f_cos, 0, 0, 0)
UNARY(tan, f_tan, 0, 0, 0)
UNARY(asin, f_asin, 0, 0, 0)
UNARY(acos, f_acos, 0, 0, 0)
UNARY(atan, f_atan, 0, 0, 0)
UNARY(sinh, f_sinh, 0, 0, 0)
UNARY(cosh, f_cosh, 0, 0, 0)
UNARY(asinh, f_asinh, 0, 0, 0)
UNARY(acosh, f_acosh, 0, 0, 0)
UNARY(atanh, f_atanh, 0, 0, 0)
UNARY(softplus, f_softplus, 0, 0, 0)
UNARY(softsign, f_softsign, 0, 0, 0)
UNARY(leaky, f_leaky, 0.01, 0, 0)
UNARY(elu, f_elu, 1.0, 0, 0)
UNARY(celu, f_celu, 1.0, 0, 0)
UNARY(selu, f_selu, 1.67326319217681884765625, 0, 1.05070102214813232421875)
UNARY(hsigmoid, f_hsigmoid, 0.2, 0.5, 0)
UNARY(hswish, f_hswish, 0, 0, 0)
UNARY(thrrelu, f_thrrelu, 1.0, 0, 0)
UNARY(mish, f_mish, 0, 0, 0)
UNARY(gelu, f_gelu, 0, 0, 0)

/* Shrink: x + bias below -lambd, x - bias above lambd, 0 between; integer
 * inputs too, computed in double and converted back. */
static gs_status k_shrink(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    uparams p = { .alpha = gs_attr_float(k->node, "lambd", 0.5f), .beta = gs_attr_float(k->node, "bias", 0) };
    return map1(k, in[0], out, f_shrink, &p);
}

static gs_status k_not(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    gs_status st = gs_kmake(k, out, GS_BOOL, in[0]->dims, in[0]->rank);
    int64_t n = gs_tensor_numel(in[0]);
    for (int64_t i = 0; st == GS_OK && i < n; i++)
        ((uint8_t *)out->data)[i] = !((const uint8_t *)in[0]->data)[i];
    return st;
}

static gs_status isx(gs_kcall *k, const gs_tensor *x, gs_tensor *out, bool nan)
{
    if (!gs_op_floatlike(x->dtype))
        return bad_type(k, x);
    gs_status st = gs_kmake(k, out, GS_BOOL, x->dims, x->rank);
    int64_t pos = gs_attr_int(k->node, "detect_positive", 1), neg = gs_attr_int(k->node, "detect_negative", 1);
    int64_t n = gs_tensor_numel(x);
    for (int64_t i = 0; st == GS_OK && i < n; i++) {
        double v = gs_tensor_get_f(x, i);
        ((uint8_t *)out->data)[i] = nan ? isnan(v) : isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
    }
    return st;
}

static gs_status k_isnan(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return isx(k, in[0], out, true);
}

static gs_status k_isinf(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return isx(k, in[0], out, false);
}

/* ---- binary with broadcasting ----------------------------------------- */

typedef enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MOD, B_FMOD, B_MIN, B_MAX, B_PRELU,
               B_EQ, B_LT, B_GT, B_LE, B_GE, B_AND, B_OR, B_XOR, B_BITAND, B_BITOR, B_BITXOR } bop;

static bool is_compare(bop op) { return op >= B_EQ && op <= B_GE; }
static bool is_logic(bop op) { return op >= B_AND && op <= B_XOR; }

static double fop(bop op, double a, double b)
{
    switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_POW: return pow(a, b);
    case B_FMOD: return fmod(a, b);
    case B_MOD: { double r = fmod(a, b); return r != 0 && ((r < 0) != (b < 0)) ? r + b : r; }
    case B_MIN: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
    case B_MAX: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
    case B_PRELU: return a < 0 ? a * b : a;
    case B_EQ: return a == b;
    case B_LT: return a < b;
    case B_GT: return a > b;
    case B_LE: return a <= b;
    case B_GE: return a >= b;
    default: return 0;
    }
}

static int64_t iop(bop op, int64_t a, int64_t b)
{
    switch (op) {
    case B_ADD: return (int64_t)((uint64_t)a + (uint64_t)b);
    case B_SUB: return (int64_t)((uint64_t)a - (uint64_t)b);
    case B_MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
    case B_DIV: return b == 0 ? 0 : (a == INT64_MIN && b == -1) ? a : a / b;
    case B_POW: {   /* by squaring, wrapping round as the other integer ops do (a signed
                       overflow is undefined); a negative exponent gives 1 */
        uint64_t r = 1, x = (uint64_t)a;
        for (uint64_t e = b > 0 ? (uint64_t)b : 0; e; e >>= 1, x *= x)
            if (e & 1)
                r *= x;
        return (int64_t)r;
    }
    case B_FMOD: return b == 0 ? 0 : a % b;
    case B_MOD: { if (b == 0) return 0; int64_t r = a % b; return r != 0 && ((r < 0) != (b < 0)) ? r + b : r; }
    case B_MIN: return a < b ? a : b;
    case B_MAX: return a > b ? a : b;
    case B_PRELU: return a < 0 ? a * b : a;
    case B_EQ: return a == b;
    case B_LT: return a < b;
    case B_GT: return a > b;
    case B_LE: return a <= b;
    case B_GE: return a >= b;
    case B_AND: return a && b;
    case B_OR: return a || b;
    case B_XOR: return !a != !b;
    case B_BITAND: return a & b;
    case B_BITOR: return a | b;
    case B_BITXOR: return a ^ b;
    }
    return 0;
}

/* out = a op b, broadcast; out dtype: a's, or bool for comparisons/logic. */
/* The longest run of trailing dims along which each input is either read
 * contiguously or broadcast throughout: a row of *last elements, and each
 * input's stride within it (1 or 0). w [64, 256, 1, 1] times s [64, 1, 1, 1]
 * gives rows of 256, not of 1. */
static void bcast_rows(const int64_t *dims, int rank, const gs_bcast *ba, const gs_bcast *bb, int64_t *last,
                       int64_t *sa, int64_t *sb)
{
    int ka = -1, kb = -1;   /* 1 contiguous, 0 broadcast, -1 not decided yet */
    int t = rank;
    for (; t > 0; t--) {
        int d = t - 1;
        if (dims[d] == 1)
            continue;
        int a = ba->in_strides[d] != 0, b = bb->in_strides[d] != 0;
        if ((ka >= 0 && ka != a) || (kb >= 0 && kb != b))
            break;
        ka = a, kb = b;
    }
    *last = gs_numel(dims + t, rank - t);
    *sa = ka != 0, *sb = kb != 0;
}

/* One row of the float fast path: o[j] = x[j * sx] op y[j * sy], the
 * inputs read at any alignment (a mapped weight is not copied first), the
 * arithmetic fop's (in double, rounded once). Add, Sub, Mul and Div get a
 * loop each, so the op is not decided per element (BERT's optimize at -O1,
 * which folds its scaled weights here: user time 0.40 -> 0.30 s). */
static void float_row(bop op, float *o, const char *x, int64_t sx, const char *y, int64_t sy, int64_t n)
{
#define ROW(expr)                                            \
    for (int64_t j = 0; j < n; j++) {                        \
        float xv, yv;                                        \
        memcpy(&xv, x + (size_t)(j * sx) * 4, 4);           \
        memcpy(&yv, y + (size_t)(j * sy) * 4, 4);           \
        o[j] = (float)(expr);                                \
    }
    switch (op) {
    case B_ADD: ROW((double)xv + yv) break;
    case B_SUB: ROW((double)xv - yv) break;
    case B_MUL: ROW((double)xv * yv) break;
    case B_DIV: ROW((double)xv / yv) break;
    default: ROW(fop(op, xv, yv)) break;
    }
#undef ROW
}

static gs_status binary(gs_kcall *k, const gs_tensor *a, const gs_tensor *b, gs_tensor *out, bop op)
{
    if (!is_numeric(a->dtype) || !is_numeric(b->dtype))
        return bad_type(k, a);
    int64_t dims[GS_MAX_RANK];
    int rank;
    if (!gs_broadcast_shape(a->dims, a->rank, b->dims, b->rank, dims, &rank))
        return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (%s): shapes do not broadcast",
                      k->node->name, k->node->op);
    int32_t dtype = is_compare(op) || is_logic(op) ? GS_BOOL : a->dtype;
    gs_status st = gs_kmake_raw(k, out, dtype, dims, rank);   /* every element is written below */
    if (st != GS_OK)
        return st;
    gs_bcast ba, bb;
    gs_bcast_init(&ba, dims, rank, a->dims, a->rank);
    gs_bcast_init(&bb, dims, rank, b->dims, b->rank);
    int64_t n = gs_tensor_numel(out);
    bool ints = !gs_op_floatlike(a->dtype) && (op == B_POW ? !gs_op_floatlike(b->dtype) : true);
    bool fast = a->dtype == GS_FLOAT && b->dtype == GS_FLOAT && dtype == GS_FLOAT;
    /* Row by row: one broadcast index per row, then strides 1, or 0 for an
     * input broadcast along the whole row. */
    int64_t last, sa, sb;
    bcast_rows(dims, rank, &ba, &bb, &last, &sa, &sb);
    for (int64_t row = 0; row < n; row += last) {
        int64_t ia = gs_bcast_index(&ba, row), ib = gs_bcast_index(&bb, row);
        if (fast) {
            float_row(op, (float *)out->data + row, (const char *)a->data + (size_t)ia * 4, sa,
                      (const char *)b->data + (size_t)ib * 4, sb, last);
            continue;
        }
        for (int64_t j = 0; j < last; j++) {
            int64_t i = row + j, xa = ia + j * sa, xb = ib + j * sb;
            if (ints || is_logic(op))
                gs_tensor_set_i(out, i, iop(op, gs_tensor_get_i(a, xa), gs_tensor_get_i(b, xb)));
            else
                gs_tensor_set_f(out, i, fop(op, gs_tensor_get_f(a, xa), gs_tensor_get_f(b, xb)));
        }
    }
    return GS_OK;
}

#define BINARY(name, op)                                                                \
    static gs_status k_##name(gs_kcall *k, const gs_tensor *const *in, int nin,         \
                              gs_tensor *out, int nout)                                 \
    {                                                                                   \
        (void)nin, (void)nout;                                                          \
        return binary(k, in[0], in[1], out, op);                                        \
    }

BINARY(add, B_ADD)
BINARY(sub, B_SUB)
BINARY(mul, B_MUL)
BINARY(div, B_DIV)
BINARY(pow, B_POW)
/* PRelu before opset 7 takes a per-channel slope [C] for x [N, C, ...]. */
static gs_status k_prelu(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0], *s = in[1];
    int64_t dims[GS_MAX_RANK];
    int r;
    if (!gs_broadcast_shape(x->dims, x->rank, s->dims, s->rank, dims, &r) && s->rank == 1 &&
        x->rank >= 2 && s->dims[0] == x->dims[1]) {
        gs_tensor view = *s;
        view.rank = x->rank - 1;
        for (int i = 1; i < view.rank; i++)
            view.dims[i] = 1;
        return binary(k, x, &view, out, B_PRELU);
    }
    return binary(k, x, s, out, B_PRELU);
}
BINARY(eq, B_EQ)
BINARY(lt, B_LT)
BINARY(gt, B_GT)
BINARY(le, B_LE)
BINARY(ge, B_GE)
BINARY(and, B_AND)
BINARY(or, B_OR)
BINARY(xor, B_XOR)
BINARY(bitand, B_BITAND)
BINARY(bitor, B_BITOR)
BINARY(bitxor, B_BITXOR)

static gs_status k_mod(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    return binary(k, in[0], in[1], out, gs_attr_int(k->node, "fmod", 0) ? B_FMOD : B_MOD);
}

/* Fold a variadic op over its inputs: Min, Max, Sum, Mean. */
static gs_status variadic(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, bop op,
                          bool mean)
{
    gs_tensor acc = { 0 };
    gs_status st = GS_OK;
    if (nin == 1) {
        st = gs_kmake(k, &acc, in[0]->dtype, in[0]->dims, in[0]->rank);
        if (st == GS_OK)
            memcpy(acc.data, in[0]->data, acc.nbytes);
    }
    for (int i = 1; i < nin && st == GS_OK; i++) {
        gs_tensor next = { 0 };
        st = binary(k, i == 1 ? in[0] : &acc, in[i], &next, op);
        gs_tensor_clear(k->ctx, &acc);
        acc = next;
    }
    if (st == GS_OK && mean) {
        int64_t n = gs_tensor_numel(&acc);
        for (int64_t i = 0; i < n; i++)
            gs_tensor_set_f(&acc, i, gs_tensor_get_f(&acc, i) / nin);
    }
    if (st != GS_OK) {
        gs_tensor_clear(k->ctx, &acc);
        return st;
    }
    *out = acc;
    return GS_OK;
}

static gs_status k_min(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    return variadic(k, in, nin, out, B_MIN, false);
}

static gs_status k_max(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    return variadic(k, in, nin, out, B_MAX, false);
}

static gs_status k_sum(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    return variadic(k, in, nin, out, B_ADD, false);
}

static gs_status k_mean(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    return variadic(k, in, nin, out, B_ADD, true);
}

/* ---- Clip, Where ------------------------------------------------------- */

static gs_status k_clip(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const gs_tensor *x = in[0];
    if (!is_numeric(x->dtype))
        return bad_type(k, x);
    bool ints = !gs_op_floatlike(x->dtype);
    double lo = -INFINITY, hi = INFINITY;
    int64_t ilo = INT64_MIN, ihi = INT64_MAX;
    if (k->opset < 11) {
        lo = gs_attr_float(k->node, "min", -3.402823e+38f);
        hi = gs_attr_float(k->node, "max", 3.402823e+38f);
    } else {
        if (nin > 1 && in[1] && gs_tensor_numel(in[1]) > 0)
            lo = gs_tensor_get_f(in[1], 0), ilo = gs_tensor_get_i(in[1], 0);
        if (nin > 2 && in[2] && gs_tensor_numel(in[2]) > 0)
            hi = gs_tensor_get_f(in[2], 0), ihi = gs_tensor_get_i(in[2], 0);
    }
    gs_status st = gs_kmake(k, out, x->dtype, x->dims, x->rank);
    int64_t n = gs_tensor_numel(x);
    for (int64_t i = 0; st == GS_OK && i < n; i++) {
        if (ints) {
            int64_t v = gs_tensor_get_i(x, i);
            gs_tensor_set_i(out, i, v < ilo ? ilo : v > ihi ? ihi : v);
        } else {
            double v = gs_tensor_get_f(x, i);
            gs_tensor_set_f(out, i, v < lo ? lo : v > hi ? hi : v);
        }
    }
    return st;
}

static gs_status k_where(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *c = in[0], *x = in[1], *y = in[2];
    int64_t d1[GS_MAX_RANK], dims[GS_MAX_RANK];
    int r1, rank;
    if (x->dtype != y->dtype || !gs_broadcast_shape(c->dims, c->rank, x->dims, x->rank, d1, &r1) ||
        !gs_broadcast_shape(d1, r1, y->dims, y->rank, dims, &rank))
        return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (Where): inputs do not broadcast", k->node->name);
    size_t es = gs_dtype_size(x->dtype);
    if (!es)
        return bad_type(k, x);
    gs_status st = gs_kmake(k, out, x->dtype, dims, rank);
    if (st != GS_OK)
        return st;
    gs_bcast bc, bx, by;
    gs_bcast_init(&bc, dims, rank, c->dims, c->rank);
    gs_bcast_init(&bx, dims, rank, x->dims, x->rank);
    gs_bcast_init(&by, dims, rank, y->dims, y->rank);
    int64_t n = gs_tensor_numel(out);
    for (int64_t i = 0; i < n; i++) {
        bool take_x = ((const uint8_t *)c->data)[gs_bcast_index(&bc, i)];
        const char *src = take_x ? (const char *)x->data + gs_bcast_index(&bx, i) * (int64_t)es
                                 : (const char *)y->data + gs_bcast_index(&by, i) * (int64_t)es;
        memcpy((char *)out->data + i * (int64_t)es, src, es);
    }
    return GS_OK;
}

static gs_status infer_isx(gs_graph *g, gs_node *n)
{
    const gs_value *x = &g->values[n->in[0]];
    return gs_infer_set(g, n->out[0], GS_BOOL, x->rank, x->dims);
}

/* ---- the table --------------------------------------------------------- */

#define EW GS_OP_ELEMENTWISE
#define U(name, since, fn) { name, since, 0, 1, 1, 1, 1, EW, "", gs_infer_same, NULL, k_##fn, GS_RAISE_KEEP }
#define UA(name, since, fn, attrs) { name, since, 0, 1, 1, 1, 1, EW, attrs, gs_infer_same, NULL, k_##fn, GS_RAISE_KEEP }
#define B(name, since, fn, flags) { name, since, 0, 2, 2, 1, 1, EW | (flags), "", gs_infer_bcast, NULL, k_##fn, \
            GS_RAISE_KEEP }
#define C(name, since, fn, flags) { name, since, 0, 2, 2, 1, 1, EW | (flags), "", gs_infer_bcast_bool, NULL, k_##fn, \
            GS_RAISE_KEEP }
#define V(name, since, fn) { name, since, 0, 1, -1, 1, 1, EW | GS_OP_COMMUTATIVE | GS_OP_ASSOCIATIVE, "", \
            gs_infer_bcast, NULL, k_##fn, GS_RAISE_KEEP }

const gs_opdef gs_ops_elementwise[] = {
    U("Abs", 1, abs), U("Neg", 1, neg), U("Exp", 1, exp), U("Log", 1, log), U("Sqrt", 1, sqrt),
    U("Reciprocal", 1, recip), U("Erf", 9, erf), U("Tanh", 1, tanh), U("Sigmoid", 1, sigmoid),
    U("Relu", 1, relu), U("Floor", 1, floor), U("Ceil", 1, ceil), U("Round", 11, round), U("Sign", 9, sign),
    U("Sin", 7, sin), U("Cos", 7, cos), U("Tan", 7, tan), U("Asin", 7, asin), U("Acos", 7, acos),
    U("Atan", 7, atan), U("Sinh", 9, sinh), U("Cosh", 9, cosh), U("Asinh", 9, asinh), U("Acosh", 9, acosh),
    U("Atanh", 9, atanh), U("Softplus", 1, softplus), U("Softsign", 1, softsign),
    UA("LeakyRelu", 1, leaky, "alpha:f=0.01"), UA("Elu", 1, elu, "alpha:f=1"),
    UA("Celu", 12, celu, "alpha:f=1"),
    UA("Selu", 1, selu, "alpha:f=1.6733 gamma:f=1.0507"),
    UA("HardSigmoid", 1, hsigmoid, "alpha:f=0.2 beta:f=0.5"), U("HardSwish", 14, hswish),
    UA("ThresholdedRelu", 10, thrrelu, "alpha:f=1"), U("Mish", 18, mish),
    UA("Gelu", 20, gelu, "approximate:s=none"), UA("Shrink", 9, shrink, "bias:f=0 lambd:f=0.5"),
    { "Not", 1, 0, 1, 1, 1, 1, EW, "", gs_infer_same, NULL, k_not, GS_RAISE_KEEP },
    { "IsNaN", 9, 0, 1, 1, 1, 1, EW, "", infer_isx, NULL, k_isnan, GS_RAISE_KEEP },
    { "IsInf", 10, 0, 1, 1, 1, 1, EW, "detect_positive:i=1 detect_negative:i=1", infer_isx, NULL, k_isinf,
      GS_RAISE_KEEP },
    B("Add", 1, add, GS_OP_COMMUTATIVE | GS_OP_ASSOCIATIVE | GS_OP_ANY_ALIGN),
    B("Sub", 1, sub, GS_OP_ANY_ALIGN),
    B("Mul", 1, mul, GS_OP_COMMUTATIVE | GS_OP_ASSOCIATIVE | GS_OP_ANY_ALIGN),
    B("Div", 1, div, GS_OP_ANY_ALIGN), B("Pow", 1, pow, GS_OP_ANY_ALIGN),
    { "Mod", 10, 0, 2, 2, 1, 1, EW, "fmod:i=0", gs_infer_bcast, NULL, k_mod, GS_RAISE_KEEP },
    B("PRelu", 1, prelu, 0),
    B("BitwiseAnd", 18, bitand, GS_OP_COMMUTATIVE), B("BitwiseOr", 18, bitor, GS_OP_COMMUTATIVE),
    B("BitwiseXor", 18, bitxor, GS_OP_COMMUTATIVE),
    C("Equal", 1, eq, GS_OP_COMMUTATIVE), C("Less", 1, lt, 0), C("Greater", 1, gt, 0),
    C("LessOrEqual", 12, le, 0), C("GreaterOrEqual", 12, ge, 0),
    C("And", 1, and, GS_OP_COMMUTATIVE), C("Or", 1, or, GS_OP_COMMUTATIVE), C("Xor", 1, xor, GS_OP_COMMUTATIVE),
    V("Min", 1, min), V("Max", 1, max), V("Sum", 1, sum), V("Mean", 1, mean),
    { "Clip", 1, 0, 1, 3, 1, 1, EW, "min:f max:f (attributes before opset 11, inputs after)",
      gs_infer_same, NULL, k_clip, GS_RAISE_KEEP },
    { "Where", 9, 0, 3, 3, 1, 1, EW, "", gs_infer_where, NULL, k_where, GS_RAISE_KEEP },
    { .name = NULL },
};
