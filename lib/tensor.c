/*
 * tensor.c - dense tensors: element types, sizes, allocation, half-precision
 * conversion, and generic element access for kernels that are written once
 * for every numeric type.
 */
#include "gs_ops.h"

#include <math.h>
#include <string.h>

static const struct { int32_t size; const char *name; } dtypes[] = {
    [GS_UNDEFINED] = { 0, "undefined" }, [GS_FLOAT] = { 4, "float32" },
    [GS_UINT8] = { 1, "uint8" },         [GS_INT8] = { 1, "int8" },
    [GS_UINT16] = { 2, "uint16" },       [GS_INT16] = { 2, "int16" },
    [GS_INT32] = { 4, "int32" },         [GS_INT64] = { 8, "int64" },
    [GS_STRING] = { 0, "string" },       [GS_BOOL] = { 1, "bool" },
    [GS_FLOAT16] = { 2, "float16" },     [GS_DOUBLE] = { 8, "float64" },
    [GS_UINT32] = { 4, "uint32" },       [GS_UINT64] = { 8, "uint64" },
    [GS_COMPLEX64] = { 8, "complex64" }, [GS_COMPLEX128] = { 16, "complex128" },
    [GS_BFLOAT16] = { 2, "bfloat16" },
};
enum { NDTYPES = sizeof dtypes / sizeof dtypes[0] };

size_t gs_dtype_size(int32_t dtype)
{
    return dtype >= 0 && dtype < NDTYPES ? (size_t)dtypes[dtype].size : 0;
}

const char *gs_dtype_name(int32_t dtype)
{
    return dtype >= 0 && dtype < NDTYPES ? dtypes[dtype].name : "unknown";
}

int64_t gs_numel(const int64_t *dims, int rank)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0 || !gs_mul64_ok(n, dims[i], &n))
            return -1;
    return n;
}

int64_t gs_tensor_numel(const gs_tensor *t)
{
    return gs_numel(t->dims, t->rank);
}

void gs_permute_elems(const void *src, const int64_t *dims, int rank, const int64_t *perm, size_t es, void *dst)
{
    int64_t stride[GS_MAX_RANK], out[GS_MAX_RANK], idx[GS_MAX_RANK] = { 0 };   /* idx: dst's, row-major */
    for (int k = rank - 1; k >= 0; k--)
        stride[k] = k == rank - 1 ? 1 : stride[k + 1] * dims[k + 1];
    for (int k = 0; k < rank; k++)
        out[k] = dims[perm[k]];
    int64_t n = gs_numel(dims, rank);
    for (int64_t i = 0; i < n; i++) {
        int64_t from = 0;
        for (int k = 0; k < rank; k++)
            from += idx[k] * stride[perm[k]];
        memcpy((char *)dst + (size_t)i * es, (const char *)src + (size_t)from * es, es);
        for (int k = rank - 1; k >= 0 && ++idx[k] == out[k]; k--)
            idx[k] = 0;
    }
}

/* t->data for t's dtype and dims, zeroed or not. */
static gs_status alloc_data(gs_ctx *ctx, gs_tensor *t, bool zero)
{
    int64_t n = gs_tensor_numel(t);
    size_t es = gs_dtype_size(t->dtype), bytes;
    if (n < 0 || t->rank < 0 || t->rank > GS_MAX_RANK)
        return gs_err(ctx, GS_ERR_LIMIT, "tensor shape is invalid or too large");
    if (es == 0)
        return gs_err(ctx, GS_ERR_UNSUPPORTED, "tensors of type %s are not supported",
                      gs_dtype_name(t->dtype));
    if (!gs_mul_ok((size_t)n, es, &bytes) || (int64_t)bytes > GS_MAX_TENSOR_BYTES)
        return gs_err(ctx, GS_ERR_LIMIT, "tensor of %lld elements is too large", (long long)n);
    t->data = zero ? gs_zalloc(ctx, bytes ? bytes : 1) : gs_alloc(ctx, bytes ? bytes : 1);
    if (!t->data)
        return gs_nomem(ctx);
    t->nbytes = bytes;
    t->flags |= GS_T_OWNED;
    return GS_OK;
}

gs_status gs_tensor_alloc(gs_ctx *ctx, gs_tensor *t)
{
    return alloc_data(ctx, t, true);
}

gs_status gs_tensor_alloc_raw(gs_ctx *ctx, gs_tensor *t)
{
    return alloc_data(ctx, t, false);
}

void gs_tensor_clear(gs_ctx *ctx, gs_tensor *t)
{
    for (int64_t i = 0; (t->flags & GS_T_SEQUENCE) && t->data && i < t->dims[0]; i++)
        gs_tensor_clear(ctx, (gs_tensor *)t->data + i);   /* a sequence's elements */
    if (t->flags & GS_T_OWNED)
        gs_dealloc(ctx, t->data);
    memset(t, 0, sizeof *t);
}

gs_tensor *gs_tensor_new(gs_ctx *ctx)
{
    return gs_zalloc(ctx, sizeof(gs_tensor));
}

/* c = a copy of sequence t with copies of its elements; false on no memory
 * (c is then empty). */
static bool dup_sequence(gs_ctx *ctx, const gs_tensor *t, gs_tensor *c)
{
    const gs_tensor *e = t->data;
    gs_tensor *ce = gs_zalloc(ctx, t->nbytes ? t->nbytes : 1);
    c->data = ce;
    c->flags = GS_T_OWNED | GS_T_SEQUENCE;
    c->dims[0] = 0;
    for (int64_t i = 0; ce && i < t->dims[0]; i++) {
        gs_tensor *x = gs_tensor_dup(ctx, &e[i]);
        if (!x)
            break;
        ce[c->dims[0]++] = *x;
        gs_dealloc(ctx, x);
    }
    if (ce && c->dims[0] == t->dims[0])
        return true;
    gs_tensor_clear(ctx, c);
    return false;
}

gs_tensor *gs_tensor_dup(gs_ctx *ctx, const gs_tensor *t)
{
    gs_tensor *c = gs_tensor_new(ctx);
    if (!c)
        return NULL;
    *c = *t;
    c->flags = 0;
    c->src = NULL;
    if (t->flags & GS_T_SEQUENCE) {
        if (dup_sequence(ctx, t, c))
            return c;
        gs_dealloc(ctx, c);
        return NULL;
    }
    if (!t->data)
        return c;
    c->data = gs_alloc(ctx, t->nbytes ? t->nbytes : 1);
    if (!c->data) {
        gs_dealloc(ctx, c);
        return NULL;
    }
    if (t->nbytes)
        memcpy(c->data, t->data, t->nbytes);
    c->flags = GS_T_OWNED;
    return c;
}

void gs_tensor_free(gs_ctx *ctx, gs_tensor *t)
{
    if (!t)
        return;
    gs_tensor_clear(ctx, t);
    gs_dealloc(ctx, t);
}

float gs_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {                      /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t gs_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff)                       /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {                                        /* subnormal or zero */
        if (exp < -10)
            return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;                                               /* may carry into exp: correct */
    return (uint16_t)h;
}

float gs_bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t gs_float_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000)
        return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)(x >> 16);   /* truncation, as ONNX's reference Cast does */
}

int gs_axis(int64_t a, int r)
{
    if (a < -(int64_t)r || a >= (int64_t)r)
        return -1;
    return (int)(a < 0 ? a + r : a);
}

/* Element i of type T at p, read at any alignment (mapped weights sit at
 * any offset of the model file). */
#define LOAD(T, p, i) load_##T(p, i)
#define DEF_LOAD(T)                                         \
    static inline T load_##T(const void *p, int64_t i)      \
    {                                                       \
        T v;                                                \
        memcpy(&v, (const char *)p + (size_t)i * sizeof v, sizeof v); \
        return v;                                           \
    }
DEF_LOAD(float)
DEF_LOAD(double)
DEF_LOAD(int8_t)
DEF_LOAD(uint8_t)
DEF_LOAD(int16_t)
DEF_LOAD(uint16_t)
DEF_LOAD(int32_t)
DEF_LOAD(uint32_t)
DEF_LOAD(int64_t)
DEF_LOAD(uint64_t)

double gs_tensor_get_f(const gs_tensor *t, int64_t i)
{
    const void *p = t->data;
    switch (t->dtype) {
    case GS_FLOAT: return LOAD(float, p, i);
    case GS_DOUBLE: return LOAD(double, p, i);
    case GS_FLOAT16: return gs_half_to_float(LOAD(uint16_t, p, i));
    case GS_BFLOAT16: return gs_bf16_to_float(LOAD(uint16_t, p, i));
    case GS_INT8: case GS_UINT8: case GS_BOOL: case GS_INT16: case GS_UINT16: case GS_INT32:
    case GS_UINT32: case GS_INT64:   /* gs_tensor_get_i reads these itself: no recursion */
        return (double)gs_tensor_get_i(t, i);
    case GS_UINT64: return (double)LOAD(uint64_t, p, i);   /* above 2^63 as unsigned */
    default: return NAN;
    }
}

int64_t gs_tensor_get_i(const gs_tensor *t, int64_t i)
{
    const void *p = t->data;
    switch (t->dtype) {
    case GS_INT8: return LOAD(int8_t, p, i);
    case GS_UINT8: case GS_BOOL: return LOAD(uint8_t, p, i);
    case GS_INT16: return LOAD(int16_t, p, i);
    case GS_UINT16: return LOAD(uint16_t, p, i);
    case GS_INT32: return LOAD(int32_t, p, i);
    case GS_UINT32: return LOAD(uint32_t, p, i);
    case GS_INT64: return LOAD(int64_t, p, i);
    case GS_UINT64: return (int64_t)LOAD(uint64_t, p, i);
    default: {
        double d = gs_tensor_get_f(t, i);
        if (!(d >= -9.2e18 && d <= 9.2e18))
            return 0;
        return (int64_t)d;
    }
    }
}

void gs_tensor_set_f(gs_tensor *t, int64_t i, double v)
{
    void *p = t->data;
    switch (t->dtype) {
    case GS_FLOAT: ((float *)p)[i] = (float)v; break;
    case GS_DOUBLE: ((double *)p)[i] = v; break;
    case GS_FLOAT16: ((uint16_t *)p)[i] = gs_float_to_half((float)v); break;
    case GS_BFLOAT16: ((uint16_t *)p)[i] = gs_float_to_bf16((float)v); break;
    case GS_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case GS_INT8: case GS_UINT8: case GS_INT16: case GS_UINT16: case GS_INT32: case GS_UINT32:
    case GS_INT64: case GS_UINT64:
        /* beyond int64 and NaN: INT64_MIN, as x86's conversion (numpy, ONNX Runtime) gives */
        gs_tensor_set_i(t, i, v >= -0x1p63 && v < 0x1p63 ? (int64_t)v : INT64_MIN);
        break;
    default: break;   /* strings and complex numbers have no scalar view: kernels refuse them */
    }
}

void gs_tensor_set_i(gs_tensor *t, int64_t i, int64_t v)
{
    void *p = t->data;
    switch (t->dtype) {
    case GS_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case GS_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case GS_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case GS_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case GS_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case GS_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case GS_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case GS_INT64: ((int64_t *)p)[i] = v; break;
    case GS_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case GS_FLOAT: case GS_DOUBLE: case GS_FLOAT16: case GS_BFLOAT16: gs_tensor_set_f(t, i, (double)v); break;
    default: break;   /* strings and complex numbers have no scalar view */
    }
}

/* ---- helpers for kernels ------------------------------------------------ */

gs_status gs_kfail(gs_kcall *k, const char *what)
{
    return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (%s): %s", k->node->name, k->node->op, what);
}

gs_status gs_kunsupported(gs_kcall *k, const char *what)
{
    return gs_err(k->ctx, GS_ERR_UNSUPPORTED, "node '%s' (%s): %s is not supported", k->node->name,
                  k->node->op, what);
}

/* Set out's type and shape and allocate it, zeroed or not. */
static gs_status kmake(gs_kcall *k, gs_tensor *out, int32_t dtype, const int64_t *dims, int rank,
                       bool zero)
{
    if (rank < 0 || rank > GS_MAX_RANK)
        return gs_kfail(k, "output rank out of range");
    out->dtype = dtype;
    out->rank = rank;
    if (rank)
        memcpy(out->dims, dims, (size_t)rank * sizeof *dims);
    if (!gs_dtype_size(dtype))
        return gs_kunsupported(k, gs_dtype_name(dtype));
    return alloc_data(k->ctx, out, zero);
}

gs_status gs_kmake(gs_kcall *k, gs_tensor *out, int32_t dtype, const int64_t *dims, int rank)
{
    return kmake(k, out, dtype, dims, rank, true);
}

gs_status gs_kmake_raw(gs_kcall *k, gs_tensor *out, int32_t dtype, const int64_t *dims, int rank)
{
    return kmake(k, out, dtype, dims, rank, false);
}
