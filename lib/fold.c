/*
 * fold.c - constant folding: a node of a known, deterministic op whose
 * inputs are all constants is evaluated once with its reference kernel, and
 * its outputs become initializers. Outputs larger than their inputs (and
 * than FOLD_MIN_CAP, 1 MiB) stay computed at run time, so folding never blows
 * a model up (an Expand to a huge constant stays an Expand); below it a
 * constant may grow as ONNX Runtime's folding grows it (Swin's shifted-window
 * attention masks: [64, 49, 49] float32 from two [64, 49] vectors). The size is
 * checked before the kernel runs: from the inferred output shapes, and by an
 * allocation cap while it runs.
 */
#include "gs_ops.h"

#include <stdio.h>
#include <string.h>

enum { FOLD_MIN_CAP = 1 << 20 };

/* A Shape or Size of a value whose dims are all known. */
static bool known_shape(const gs_graph *g, const gs_node *n, const gs_opdef *d)
{
    if (!(d->flags & GS_OP_SHAPE_ONLY) || n->nin != 1 || n->in[0] == GS_NONE)
        return false;
    const gs_value *v = &g->values[n->in[0]];
    for (int i = 0; i < v->rank; i++)
        if (v->dims[i].v < 0)
            return false;
    return v->rank >= 0;
}

/* Bytes of v by its inferred type and shape, or SIZE_MAX when not known. */
static size_t known_bytes(const gs_value *v)
{
    if (v->init)
        return v->init->nbytes;
    size_t bytes = gs_dtype_size(v->dtype);
    if (!bytes || v->rank < 0)
        return SIZE_MAX;
    for (int i = 0; i < v->rank; i++)
        if (v->dims[i].v < 0 || !gs_mul_ok(bytes, (size_t)v->dims[i].v, &bytes))
            return SIZE_MAX;
    return bytes;
}

/* The inputs' bytes allow the outputs' (where inference knows both): an
 * output bigger than its inputs and than FOLD_MIN_CAP stays computed. */
static bool small_enough(const gs_graph *g, const gs_node *n)
{
    size_t in = 0, out = 0;
    for (int k = 0; k < n->nin; k++) {
        size_t b = n->in[k] == GS_NONE ? 0 : known_bytes(&g->values[n->in[k]]);
        if (b == SIZE_MAX || (in += b) < b)
            return true;   /* not known: the folder's allocation cap decides */
    }
    for (int k = 0; k < n->nout; k++) {
        size_t b = n->out[k] == GS_NONE ? 0 : known_bytes(&g->values[n->out[k]]);
        if (b == SIZE_MAX)
            return true;
        if ((out += b) < b)
            return false;
    }
    return out <= (in > FOLD_MIN_CAP ? in : FOLD_MIN_CAP);
}

/* n's op can be evaluated here (checked first: cheap, and most nodes fail
 * it or their inputs). */
static bool evaluable(const gs_node *n)
{
    const gs_opdef *d = n->def;
    return !(n->flags & GS_N_DEAD) && !n->ncaps && n->nout <= 16 && n->nin <= 64 && d && d->kernel &&
           !(d->flags & (GS_OP_RANDOM | GS_OP_CONTROL | GS_OP_SEQUENCE | GS_OP_NO_FOLD));
}

/* n's outputs may become constants: it fits its row and none is a graph
 * output (a graph output keeps its producer). */
static bool replaceable(const gs_graph *g, const gs_node *n)
{
    if (!gs_op_fits(n->def, n))
        return false;
    for (int k = 0; k < n->nout; k++)
        if (n->out[k] != GS_NONE && (g->values[n->out[k]].flags & GS_V_OUTPUT))
            return false;
    return true;
}

bool gs_fold_will_fold(const gs_graph *g, const gs_node *n, int depth)
{
    if (!evaluable(n))
        return false;
    if (known_shape(g, n, n->def))
        return replaceable(g, n);
    for (int k = 0; k < n->nin; k++)
        if (n->in[k] != GS_NONE && !gs_fold_const_value(g, n->in[k], depth))
            return false;
    return replaceable(g, n) && small_enough(g, n);
}

bool gs_fold_const_value(const gs_graph *g, gs_id v, int depth)
{
    const gs_value *val = &g->values[v];
    if (val->init)
        return val->init->data != NULL;
    if (val->producer == GS_NONE || depth <= 0)
        return false;
    return gs_fold_will_fold(g, &g->nodes[val->producer], depth - 1);
}

/* The alignment a kernel needs to read elements of type dtype in place: the
 * element's size (8 for the 16-byte complex type, 16 for an unknown size). */
static uintptr_t elem_align(int32_t dtype)
{
    size_t es = gs_dtype_size(dtype);
    return es == 0 ? 16 : es > 8 ? 8 : es;
}

/* Views of the inputs aligned for their element type (mapped weights may sit
 * at any offset: those are copied, unless the kernel reads any alignment). */
static gs_status gather(gs_ctx *ctx, const gs_graph *g, const gs_node *n, bool any_align,
                        gs_tensor *copies, const gs_tensor **in, size_t *bytes)
{
    *bytes = 0;
    for (int k = 0; k < n->nin; k++) {
        memset(&copies[k], 0, sizeof copies[k]);
        in[k] = NULL;
        if (n->in[k] == GS_NONE)
            continue;
        const gs_value *val = &g->values[n->in[k]];
        const gs_tensor *t = val->init;
        if (!t) {   /* Shape/Size of a known shape: a tensor with dims and no data */
            copies[k].dtype = val->dtype;
            copies[k].rank = val->rank;
            for (int i = 0; i < val->rank; i++)
                copies[k].dims[i] = val->dims[i].v;
            in[k] = &copies[k];
            continue;
        }
        *bytes += t->nbytes;
        in[k] = t;
        if (any_align || (uintptr_t)t->data % elem_align(t->dtype) == 0)
            continue;
        copies[k] = *t;
        copies[k].flags = 0;
        gs_status st = gs_tensor_alloc_raw(ctx, &copies[k]);   /* the memcpy fills it */
        if (st != GS_OK)
            return st;
        memcpy(copies[k].data, t->data, t->nbytes);
        in[k] = &copies[k];
    }
    return GS_OK;
}

/* Make out (owned) an initializer of m replacing value old. */
static gs_status adopt(gs_model *m, gs_graph *g, gs_id old, gs_tensor *out)
{
    gs_tensor *t = gs_tensor_new(g->ctx);
    if (!t)
        return gs_nomem(g->ctx);
    *t = *out;
    memset(out, 0, sizeof *out);
    if (gs_model_own(m, t) != GS_OK) {
        gs_tensor_free(g->ctx, t);
        return GS_ERR_NOMEM;
    }
    char base[512];
    snprintf(base, sizeof base, "%s_folded", g->values[old].name);
    gs_id v = gs_ir_add_init(g, base, t);
    if (v == GS_NONE)
        return g->ctx->last;
    return gs_ir_replace_uses(g, old, v);
}

/* False when an output of n whose shape inference knows (inputs are
 * constants now: the node is inferred again) holds more than cap bytes, or
 * more than can be counted. */
static bool outputs_fit(gs_graph *g, gs_node *n, const gs_opdef *d, size_t cap)
{
    if (d->infer && d->infer(g, n) == GS_ERR_NOMEM)
        return false;
    size_t total = 0;
    for (int j = 0; j < n->nout; j++) {
        const gs_value *v = n->out[j] == GS_NONE ? NULL : &g->values[n->out[j]];
        size_t es = v ? gs_dtype_size(v->dtype) : 0, bytes = es;
        for (int i = 0; v && es && i < v->rank; i++) {
            if (v->dims[i].v < 0) {
                bytes = 0;   /* not known: the allocation cap below watches the kernel */
                break;
            }
            if (!gs_mul_ok(bytes, (size_t)v->dims[i].v, &bytes))
                return false;
        }
        if (v && v->rank >= 0 && (total += bytes) > cap)
            return false;
    }
    return true;
}

/* While a kernel folds a node, every allocation above cap fails (hit set):
 * an output whose size inference did not know is refused before it is
 * touched (a 1 GiB ConstantOfShape in a 118-byte model took 1 GiB and 2 s,
 * and at 2^33 elements optimize failed with "out of memory"). */
typedef struct capped {
    gs_allocator inner;
    size_t cap;
    bool hit;
} capped;

static void *capped_alloc(void *ud, size_t n)
{
    capped *c = ud;
    if (n > c->cap) {
        c->hit = true;
        return NULL;
    }
    return c->inner.alloc(c->inner.ud, n);
}

static void *capped_realloc(void *ud, void *p, size_t n)
{
    capped *c = ud;
    if (n > c->cap) {
        c->hit = true;
        return NULL;
    }
    return c->inner.realloc(c->inner.ud, p, n);
}

static void capped_free(void *ud, void *p)
{
    capped *c = ud;
    c->inner.free(c->inner.ud, p);
}

/* The node's kernel under an allocation cap of 4 x the fold limit plus
 * 1 MiB (room for converted copies of the inputs); GS_ERR_LIMIT when the
 * cap refused an allocation. */
static gs_status run_capped(const gs_opdef *d, gs_kcall *k, const gs_tensor **in, gs_node *n, gs_tensor *out,
                            size_t cap)
{
    gs_ctx *ctx = k->ctx;
    capped c = { ctx->a, cap > (SIZE_MAX - (1 << 20)) / 4 ? SIZE_MAX : 4 * cap + (1 << 20), false };
    ctx->a = (gs_allocator){ capped_alloc, capped_realloc, capped_free, &c };
    gs_status st = d->kernel(k, in, n->nin, out, n->nout);
    ctx->a = c.inner;
    return st == GS_ERR_NOMEM && c.hit ? GS_ERR_LIMIT : st;
}

static gs_status fold_node(gs_model *m, gs_graph *g, gs_id id, const gs_opdef *d,
                           bool *done)
{
    gs_node *n = &g->nodes[id];
    gs_tensor copies[64], out[16];
    const gs_tensor *in[64];
    size_t in_bytes;
    *done = false;
    memset(out, 0, sizeof out);
    gs_status st = gather(g->ctx, g, n, d->flags & GS_OP_ANY_ALIGN, copies, in, &in_bytes);
    size_t cap = in_bytes > FOLD_MIN_CAP ? in_bytes : FOLD_MIN_CAP;
    gs_kcall k = { g->ctx, g, n, g->opset, NULL };
    bool fits = st == GS_OK && outputs_fit(g, n, d, cap);
    if (fits)
        st = run_capped(d, &k, in, n, out, cap);
    size_t out_bytes = 0;
    for (int j = 0; j < n->nout; j++)
        out_bytes += out[j].nbytes;
    fits = fits && out_bytes <= cap;
    for (int j = 0; st == GS_OK && fits && j < n->nout; j++)
        if (n->out[j] != GS_NONE)
            st = adopt(m, g, n->out[j], &out[j]);
    if (st == GS_OK && fits) {
        gs_ir_remove_node(g, id);
        *done = true;
    }
    for (int j = 0; j < n->nout; j++)
        gs_tensor_clear(g->ctx, &out[j]);
    for (int j = 0; j < n->nin; j++)
        gs_tensor_clear(g->ctx, &copies[j]);
    /* a kernel refusing a mode leaves the node as it is */
    return st == GS_ERR_UNSUPPORTED || st == GS_ERR_MODEL || st == GS_ERR_LIMIT ? GS_OK : st;
}

/* ---- folding by partial values ------------------------------------------- */

/* A new initializer of m: the int64 vector e[0..n) (rank 0 when scalar). */
static gs_id add_vector(gs_model *m, gs_graph *g, const char *base, int32_t dtype, const int64_t *e, int n,
                        bool scalar)
{
    gs_tensor *t = gs_tensor_new(g->ctx);
    if (!t) {
        gs_nomem(g->ctx);
        return GS_NONE;
    }
    t->dtype = dtype;
    t->rank = scalar ? 0 : 1;
    t->dims[0] = n;
    if (gs_tensor_alloc(g->ctx, t) != GS_OK) {
        gs_tensor_free(g->ctx, t);
        return GS_NONE;
    }
    for (int i = 0; i < n; i++)
        gs_tensor_set_i(t, i, e[i]);
    if (gs_model_own(m, t) != GS_OK) {
        gs_tensor_free(g->ctx, t);
        return GS_NONE;
    }
    return gs_ir_add_init(g, base, t);
}

/* n computes a small integer value whose every element shape inference
 * knows (a Shape of known dims, a Gather, Concat or product of such): the
 * value becomes a constant. */
static gs_status fold_elems(gs_model *m, gs_graph *g, gs_id id, bool *done)
{
    gs_node *n = &g->nodes[id];
    *done = false;
    if ((n->flags & GS_N_DEAD) || *n->domain || n->nout != 1 || n->out[0] == GS_NONE || n->ncaps)
        return GS_OK;
    gs_value *o = &g->values[n->out[0]];
    if (!o->elems || o->init || (o->flags & GS_V_OUTPUT) || (o->dtype != GS_INT64 && o->dtype != GS_INT32) ||
        (o->rank != 0 && o->rank != 1) || (o->rank == 0 && o->nelems != 1) ||
        (o->rank == 1 && o->dims[0].v != o->nelems))
        return GS_OK;
    int64_t e[GS_MAX_ELEMS];
    for (int i = 0; i < o->nelems; i++) {
        if (!gs_elem_known(o->elems[i]) || (o->dtype == GS_INT32 && (o->elems[i].v != (int32_t)o->elems[i].v)))
            return GS_OK;
        e[i] = o->elems[i].v;
    }
    char base[512];
    snprintf(base, sizeof base, "%s_folded", o->name);
    gs_id v = add_vector(m, g, base, o->dtype, e, o->nelems, o->rank == 0);
    if (v == GS_NONE)
        return g->ctx->last;
    gs_status st = gs_ir_replace_uses(g, n->out[0], v);
    if (st == GS_ERR_UNSUPPORTED)
        return GS_OK;   /* the unused initializer goes with the next cleanup */
    if (st == GS_OK) {
        gs_ir_remove_node(g, id);
        *done = true;
    }
    return st;
}

/* True when x's dims and the elements t[0..r) (numbers and dim
 * expressions, none 0 or -1) have the same product for every value of the
 * names, so the Reshape always runs and a -1 in place of a name is that
 * name. */
static bool same_size(gs_graph *g, const gs_value *x, const gs_dim *t, int r)
{
    gs_dim d[GS_MAX_ELEMS];
    bool never;
    for (int i = 0; i < r; i++) {
        if (gs_elem_known(t[i]) && t[i].v <= 0)
            return false;
        d[i] = gs_dim_of_elem(t[i]);
    }
    gs_dim q = gs_infer_size_ratio(g, x->dims, x->rank, d, r, -1, &never);
    return q.v == 1;
}

/* The target of a Reshape whose elements are numbers and names (allowzero
 * 0): a name that is the input's dim at the same place becomes 0 (copy),
 * and one name left, with every other element a number above 0, becomes
 * -1. False when some element cannot be written so. */
static bool reshape_target(gs_graph *g, const gs_value *x, const gs_dim *t, int r, int64_t *out)
{
    int pending = -1;
    bool others_fixed = true;
    for (int i = 0; i < r; i++) {
        if (gs_elem_known(t[i])) {
            out[i] = t[i].v;
            others_fixed &= t[i].v > 0;
        } else if (t[i].sym && i < x->rank && x->dims[i].v < 0 && gs_dim_equal(x->dims[i], gs_dim_of_elem(t[i]))) {
            out[i] = 0;
            others_fixed = false;
        } else if (pending < 0 && t[i].sym) {
            pending = i;
            out[i] = -1;
        } else {
            return false;
        }
    }
    return pending < 0 || (others_fixed && same_size(g, x, t, r));
}

/* The target of an Expand: a name that is the input's dim at the same place
 * (from the right) becomes 1. */
static bool expand_target(const gs_value *x, const gs_dim *t, int r, int64_t *out)
{
    for (int i = 0; i < r; i++) {
        int ix = i - (r - x->rank);
        if (gs_elem_known(t[i]))
            out[i] = t[i].v;
        else if (t[i].sym && ix >= 0 && x->dims[ix].v < 0 && gs_dim_equal(x->dims[ix], gs_dim_of_elem(t[i])))
            out[i] = 1;
        else
            return false;
    }
    return true;
}

/* A Reshape or Expand whose target is computed from shapes at run time but
 * is known as numbers and the input's own dims gets a constant target. */
static gs_status retarget(gs_model *m, gs_graph *g, gs_id id, bool *done)
{
    gs_node *n = &g->nodes[id];
    *done = false;
    bool reshape = !strcmp(n->op, "Reshape");
    if ((n->flags & GS_N_DEAD) || *n->domain || n->nin != 2 || n->nout != 1 || n->in[0] == GS_NONE ||
        n->in[1] == GS_NONE || (!reshape && strcmp(n->op, "Expand")) || gs_infer_const(g, n, 1))
        return GS_OK;
    const gs_value *x = &g->values[n->in[0]], *o = &g->values[n->out[0]];
    gs_dim t[GS_MAX_ELEMS];
    int r = gs_infer_elems(g, n->in[1], t);
    int64_t e[GS_MAX_ELEMS];
    if (r < 0 || x->rank < 0 || g->values[n->in[1]].rank != 1 || g->values[n->in[1]].dtype != GS_INT64 ||
        o->rank < 0 || (reshape ? o->rank != r || gs_attr_int(n, "allowzero", 0) || !reshape_target(g, x, t, r, e)
                                : r < x->rank || !expand_target(x, t, r, e)))
        return GS_OK;   /* also a Reshape that can never match (its output's rank is unknown) */
    char base[512];
    snprintf(base, sizeof base, "%s_shape", n->name && *n->name ? n->name : o->name);
    gs_id v = add_vector(m, g, base, GS_INT64, e, r, false);
    if (v == GS_NONE)
        return g->ctx->last;
    gs_status st = gs_ir_set_input(g, id, 1, v);
    *done = st == GS_OK;
    return st;
}

gs_status gs_fold_constants(gs_model *m, gs_graph *g, int *folded)
{
    *folded = 0;
    gs_id *order = gs_alloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *order);
    if (!order)
        return gs_nomem(g->ctx);
    int n = gs_ir_topo(g, order);
    gs_status st = n == -2 ? GS_ERR_NOMEM : GS_OK;
    for (int i = 0; i < n && st == GS_OK; i++) {   /* topological: folded outputs feed later nodes */
        bool done = false;
        if (gs_fold_will_fold(g, &g->nodes[order[i]], 0))
            st = fold_node(m, g, order[i], g->nodes[order[i]].def, &done);
        else if ((st = fold_elems(m, g, order[i], &done)) == GS_OK && !done)
            st = retarget(m, g, order[i], &done);
        *folded += st == GS_OK && done;
    }
    gs_dealloc(g->ctx, order);
    if (st == GS_OK && *folded)
        gs_ir_drop_unused_inits(g);
    return st;
}
