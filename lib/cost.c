/*
 * cost.c - the analytic cost model.
 *
 * A node costs max(flops / (peak * efficiency), bytes / bandwidth) plus a
 * fixed per-op overhead, in seconds, with the parameters taken from a device
 * profile. FLOPs and bytes come from the op registry's cost function. A node
 * that constant folding will evaluate (gs_fold_will_fold) costs nothing.
 * A graph costs the sum of its live nodes. A caller can replace the per-node
 * formula with a callback (gs_optimize_opts.cost_cb). A node whose signature
 * key (gs_cost_key) the profile's measured table holds (bench/calibrate)
 * costs the time measured for it instead: the runtime's kernel time, which
 * includes its per-op cost, so no overhead is added.
 */
#include "gs_cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static double efficiency(const gs_profile *p, const char *op)
{
    for (int i = 0; i < p->noverrides; i++)
        if (!strcmp(p->overrides[i].op, op))
            return p->overrides[i].efficiency;
    return 1.0;
}

/* ---- counts for the ops' cost functions ------------------------------- */

/* True when input k of n is also an earlier input (Mul(x, x)). */
static bool read_before(const gs_node *n, int k)
{
    for (int j = 0; j < k; j++)
        if (n->in[j] == n->in[k])
            return true;
    return false;
}

/* Elementwise default: one operation per output element; bytes are every
 * input (each value once: Mul(x, x) reads x once) and output with a known
 * shape. */
void gs_cost_default(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    c->flops = c->bytes_read = c->bytes_written = 0;
    for (int k = 0; k < n->nin + n->nout; k++) {
        bool out = k >= n->nin;
        gs_id v = out ? n->out[k - n->nin] : n->in[k];
        if (v == GS_NONE || g->values[v].rank < 0 || (!out && read_before(n, k)))
            continue;
        const gs_value *val = &g->values[v];
        double elems = 1;
        for (int d = 0; d < val->rank; d++)
            elems *= gs_cost_dim(val->dims[d]);
        double bytes = elems * (double)(gs_dtype_size(val->dtype) ? gs_dtype_size(val->dtype) : 4);
        if (out) {
            c->bytes_written += bytes;
            c->flops += elems;
        } else {
            c->bytes_read += bytes;
        }
    }
}

double gs_cost_dim(gs_dim d)
{
    return d.v > 0 ? (double)d.v : d.v < 0 ? GS_COST_DIM_UNKNOWN : 1;
}

double gs_value_elems(const gs_value *v)
{
    double e = 1;
    for (int i = 0; v && i < v->rank; i++)
        e *= gs_cost_dim(v->dims[i]);
    return e;
}

double gs_value_bytes(const gs_value *v)
{
    size_t s = v ? gs_dtype_size(v->dtype) : 0;
    return v ? gs_value_elems(v) * (double)(s ? s : 4) : 0;
}

/* ---- measured costs: the signature key ---------------------------------- */

/* A string being written into a caller's buffer; ok turns false for good
 * when it does not fit or a part has no key form. */
typedef struct keybuf {
    char *p;
    size_t len, cap;
    bool ok;
} keybuf;

/* Append len bytes of s (the key is built for every node the search prices:
 * no printf but for floats). */
static void put_mem(keybuf *b, const char *s, size_t len)
{
    if (!b->ok || len >= b->cap - b->len) {
        b->ok = false;
        return;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = 0;
}

static void put_str(keybuf *b, const char *s)
{
    put_mem(b, s, strlen(s));
}

static void put_int(keybuf *b, int64_t v)
{
    char t[24], *e = t + sizeof t, *c = e;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--c = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--c = '-';
    put_mem(b, c, (size_t)(e - c));
}

static void put_float(keybuf *b, float f)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%.9g", (double)f);
    put_mem(b, t, n > 0 ? (size_t)n : 0);
}

/* dims[0..n) as "[1,64,56,56]". */
static void put_dims(keybuf *b, const int64_t *dims, const gs_dim *gdims, int n)
{
    put_mem(b, "[", 1);
    for (int d = 0; d < n; d++) {
        if (d)
            put_mem(b, ",", 1);
        put_int(b, dims ? dims[d] : gdims[d].v);
    }
    put_mem(b, "]", 1);
}

/* The key's short dtype names, indexed by ONNX's TensorProto.DataType
 * (bench/calibrate has the same table); NULL: no key. */
static const char *const key_dtypes[] = {
    NULL, "f32", "u8", "i8", "u16", "i16", "i32", "i64", "str", "b", "f16", "f64",
    "u32", "u64", "c64", "c128", "bf16",
};

static void put_dtype(keybuf *b, int32_t dtype)
{
    if (dtype <= 0 || dtype >= (int32_t)(sizeof key_dtypes / sizeof *key_dtypes))
        b->ok = false;
    else
        put_str(b, key_dtypes[dtype]);
}

/* "f32[1,64,56,56]"; "_" for an absent value; no key for an unknown dim. */
static void put_value(keybuf *b, const gs_graph *g, gs_id v)
{
    if (v == GS_NONE) {
        put_mem(b, "_", 1);
        return;
    }
    const gs_value *val = &g->values[v];
    put_dtype(b, val->dtype);
    if (val->rank < 0)
        b->ok = false;
    for (int d = 0; d < val->rank; d++)
        if (val->dims[d].sym || val->dims[d].v < 0)
            b->ok = false;
    put_dims(b, NULL, val->dims, val->rank > 0 ? val->rank : 0);
}

/* Values ids[0..n), trailing absent ones left out, comma-separated. */
static void put_values(keybuf *b, const gs_graph *g, const gs_id *ids, int n)
{
    while (n > 0 && ids[n - 1] == GS_NONE)
        n--;
    for (int k = 0; k < n; k++) {
        if (k)
            put_mem(b, ",", 1);
        put_value(b, g, ids[k]);
    }
}

/* "name=value": ints and floats (%.9g) as they are, lists comma-separated,
 * a tensor as its dtype and dims; a graph or other kind has no key form. */
static void put_attr(keybuf *b, const gs_attr *a)
{
    put_str(b, a->name);
    put_mem(b, "=", 1);
    switch (a->type) {
    case GS_A_INT: put_int(b, a->i); break;
    case GS_A_FLOAT: put_float(b, a->f); break;
    case GS_A_STRING: put_mem(b, a->s, a->slen); break;
    case GS_A_INTS:
    case GS_A_FLOATS:
    case GS_A_STRINGS:
        for (size_t i = 0; i < a->n; i++) {
            if (i)
                put_mem(b, ",", 1);
            if (a->type == GS_A_INTS)
                put_int(b, a->ints[i]);
            else if (a->type == GS_A_FLOATS)
                put_float(b, a->floats[i]);
            else
                put_mem(b, a->strs[i], a->strlens[i]);
        }
        break;
    case GS_A_TENSOR:
        put_dtype(b, a->t->dtype);
        put_dims(b, a->t->dims, NULL, a->t->rank);
        break;
    default: b->ok = false;
    }
}

#define KEY_MAX_ATTRS 64

/* The attributes of n in name order (strcmp), ';'-separated. */
static void put_attrs(keybuf *b, const gs_node *n)
{
    const gs_attr *sorted[KEY_MAX_ATTRS];
    if (n->nattrs > KEY_MAX_ATTRS) {
        b->ok = false;
        return;
    }
    for (int i = 0; i < n->nattrs; i++) {   /* insertion sort: a handful of attributes */
        int j = i;
        for (; j > 0 && strcmp(sorted[j - 1]->name, n->attrs[i].name) > 0; j--)
            sorted[j] = sorted[j - 1];
        sorted[j] = &n->attrs[i];
    }
    for (int i = 0; i < n->nattrs; i++) {
        if (i)
            put_mem(b, ";", 1);
        put_attr(b, sorted[i]);
    }
}

int gs_cost_key(const gs_graph *g, const gs_node *n, char *buf, size_t cap)
{
    keybuf b = { buf, 0, cap, cap > 0 };
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")) {
        put_str(&b, n->domain);
        put_mem(&b, ":", 1);
    }
    put_str(&b, n->op);
    put_mem(&b, "|", 1);
    put_values(&b, g, n->in, n->nin);
    put_mem(&b, "|", 1);
    put_values(&b, g, n->out, n->nout);
    put_mem(&b, "|", 1);
    put_attrs(&b, n);
    return b.ok ? (int)b.len : -1;
}

/* The measured seconds of n's signature, or a negative number when the
 * profile has none for it. */
static double measured(const gs_profile *p, const gs_graph *g, const gs_node *n)
{
    char key[GS_MEASURED_KEY_MAX];
    if (gs_cost_key(g, n, key, sizeof key) < 0)
        return -1;
    const gs_measured *m = gs_profile_measured(p, key);
    return m ? m->seconds : -1;
}

/* ---- the model ------------------------------------------------------------ */

void gs_cost_node(const gs_cost_model *cm, const gs_graph *g, const gs_node *n,
                  gs_ncost *out)
{
    memset(out, 0, sizeof *out);
    if ((n->flags & GS_N_DEAD) || gs_fold_will_fold(g, n, GS_FOLD_DEPTH))
        return;
    const gs_opdef *d = n->def;
    gs_cost c = { 0, 0, 0, 0 };
    if (d && d->cost && gs_op_fits(d, n))
        d->cost(g, n, &c);
    else
        gs_cost_default(g, n, &c);
    out->flops = c.flops;
    out->bytes = c.bytes_read + c.bytes_written;
    const gs_profile *p = cm->profile;
    if (c.gemm_cols > 0 && p->gemm_half_cols > 0)   /* effective work of a narrow GEMM */
        out->flops *= (c.gemm_cols + p->gemm_half_cols) / c.gemm_cols;
    if (cm->cb) {
        out->seconds = cm->cb(cm->cb_ud, n->op, out->flops, out->bytes);
        return;
    }
    double known = p->nmeasured ? measured(p, g, n) : -1;
    if (known >= 0) {
        out->seconds = known;
        return;
    }
    double compute = out->flops / (p->peak_flops * efficiency(p, n->op));
    double memory = out->bytes / p->bandwidth;
    out->seconds = (compute > memory ? compute : memory) + p->overhead;
}

double gs_cost_graph(const gs_cost_model *cm, const gs_graph *g)
{
    double total = 0;
    for (gs_id i = 0; i < g->nnodes; i++) {
        gs_ncost c;
        gs_cost_node(cm, g, &g->nodes[i], &c);
        total += c.seconds;
    }
    return total;
}

GS_API double gs_node_cost(const gs_model *m, int node, double *flops, double *bytes)
{
    if (!m || node < 0 || node >= m->graph->nnodes)
        return 0;
    gs_cost_model cm = { &gs_profile_default, NULL, NULL };
    gs_ncost c;
    gs_cost_node(&cm, m->graph, &m->graph->nodes[node], &c);
    if (flops)
        *flops = c.flops;
    if (bytes)
        *bytes = c.bytes;
    return c.seconds;
}
