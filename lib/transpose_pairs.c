/*
 * transpose_pairs.c - a Transpose and its inverse with only elementwise ops
 * between them cancel: Transpose(x){perm=p} -> ops -> Transpose{perm=q},
 * q undoing p, becomes the ops on x itself. Converters from layouts with
 * channels last (TensorFlow's, TFLite's) write every Conv so:
 * Transpose -> Conv -> Transpose -> bias Add -> Relu -> Transpose -> Conv.
 *
 * Each op between must compute element by element and read the chain's
 * value once, its other inputs scalars or constants that broadcast into the
 * chain's value without enlarging it; each value between must be read only
 * by the next op (no graph output, no body reads it). A constant is then
 * rewritten into x's layout (its dims extended to the chain's rank, then
 * permuted by the inverse of p), and the values between get x's layout
 * too. The first Transpose stays when something else reads it.
 */
#include "gs_cleanup.h"

#include <string.h>

/* Ops computing each output element from the elements at the same place in
 * their inputs (broadcast), with no axis attribute. */
static const char *const elementwise_ops[] = {
    "Abs", "Add", "Ceil", "Celu", "Clip", "Cos", "Div", "Elu", "Erf", "Exp", "Floor", "Gelu",
    "HardSigmoid", "HardSwish", "LeakyRelu", "Log", "Max", "Min", "Mish", "Mul", "Neg", "Pow",
    "PRelu", "Reciprocal", "Relu", "Round", "Selu", "Sigmoid", "Sign", "Sin", "Softplus",
    "Softsign", "Sqrt", "Sub", "Tanh", "ThresholdedRelu",
};

enum { MAX_CHAIN = 32 };

static bool elementwise(const gs_node *n)
{
    if (*n->domain && strcmp(n->domain, "ai.onnx"))
        return false;
    for (size_t i = 0; i < sizeof elementwise_ops / sizeof *elementwise_ops; i++)
        if (!strcmp(elementwise_ops[i], n->op))
            return n->nout == 1 && n->out[0] != GS_NONE;
    return false;
}

/* p then q is the identity, both permutations of 0..r-1. */
static bool inverse(const int64_t *p, const int64_t *q, int r)
{
    for (int k = 0; k < r; k++)
        if (p[k] < 0 || p[k] >= r || q[p[k]] != k)
            return false;
    return true;
}

static int perm_of(const gs_node *n, int64_t *perm)
{
    const gs_attr *a = gs_ir_attr(n, "perm");
    if (!a || a->type != GS_A_INTS || a->n < 1 || a->n > GS_MAX_RANK)
        return -1;
    bool seen[GS_MAX_RANK] = { false };
    for (size_t k = 0; k < a->n; k++) {
        if (a->ints[k] < 0 || a->ints[k] >= (int64_t)a->n || seen[a->ints[k]])
            return -1;
        seen[a->ints[k]] = true;
        perm[k] = a->ints[k];
    }
    return (int)a->n;
}

/* v is read once, by a node, and by nothing else (no graph output, no body). */
static bool single_reader(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    return val->nuses == 1 && !(val->flags & (GS_V_OUTPUT | GS_V_OUTER)) && !gs_ir_captured(g, v);
}

/* Input c of an elementwise op on chain value v (rank r) needs no change in
 * v's other layout: it has one element. */
static bool scalar_input(const gs_graph *g, gs_id c)
{
    const gs_value *cv = &g->values[c];
    if (cv->rank < 0)
        return false;
    for (int k = 0; k < cv->rank; k++)
        if (cv->dims[k].sym || cv->dims[k].v != 1)
            return false;
    return true;
}

/* Input c is a constant that broadcasts into v (rank r) leaving its shape:
 * at most rank r, each dim 1 or v's known size there. */
static bool constant_input(const gs_graph *g, gs_id c, gs_id v)
{
    const gs_value *cv = &g->values[c], *vv = &g->values[v];
    const gs_tensor *t = cv->init;
    if (!t || !t->data || cv->dtype != vv->dtype || t->rank > vv->rank || !gs_dtype_size(t->dtype))
        return false;
    for (int k = 0; k < t->rank; k++) {
        const gs_dim *d = &vv->dims[vv->rank - t->rank + k];
        if (t->dims[k] != 1 && (d->sym || d->v != t->dims[k]))
            return false;
    }
    return true;
}

/* Node n reads chain value v at exactly one input, its others scalars or
 * fitting constants, and writes a value of v's type and shape. */
static bool chain_op(const gs_graph *g, const gs_node *n, gs_id v)
{
    const gs_value *vv = &g->values[v], *out = &g->values[n->out[0]];
    if (!elementwise(n) || out->rank != vv->rank || out->dtype != vv->dtype)
        return false;
    for (int k = 0; k < vv->rank; k++)
        if (out->dims[k].v != vv->dims[k].v ||
            (out->dims[k].sym != vv->dims[k].sym &&
             (!out->dims[k].sym || !vv->dims[k].sym || strcmp(out->dims[k].sym, vv->dims[k].sym))))
            return false;
    int reads = 0;
    for (int k = 0; k < n->nin; k++) {
        gs_id c = n->in[k];
        if (c == v)
            reads++;
        else if (c != GS_NONE && !scalar_input(g, c) && !constant_input(g, c, v))
            return false;
    }
    return reads == 1;
}

/* Constant t, its dims extended to rank r with leading 1s, permuted by inv
 * (out dim k = extended dim inv[k]): a new tensor in g's permanent arena. */
static gs_tensor *permuted(gs_graph *g, const gs_tensor *t, const int64_t *inv, int r)
{
    int64_t ext[GS_MAX_RANK], stride[GS_MAX_RANK];
    for (int k = 0; k < r; k++)
        ext[k] = k < r - t->rank ? 1 : t->dims[k - (r - t->rank)];
    stride[r - 1] = 1;
    for (int k = r - 2; k >= 0; k--)
        stride[k] = stride[k + 1] * ext[k + 1];
    gs_tensor *o = gs_arena_alloc(g->perm, sizeof *o);
    size_t es = gs_dtype_size(t->dtype);
    int64_t n = gs_tensor_numel(t);
    char *data = o ? gs_arena_alloc(g->perm, (size_t)(n ? n : 1) * es) : NULL;
    if (!data)
        return NULL;
    memset(o, 0, sizeof *o);
    o->dtype = t->dtype;
    o->rank = r;
    for (int k = 0; k < r; k++)
        o->dims[k] = ext[inv[k]];
    o->data = data;
    o->nbytes = (size_t)n * es;
    int64_t idx[GS_MAX_RANK] = { 0 };   /* output index, row-major */
    for (int64_t i = 0; i < n; i++) {
        int64_t src = 0;
        for (int k = 0; k < r; k++)
            src += idx[k] * stride[inv[k]];
        memcpy(data + (size_t)i * es, (const char *)t->data + (size_t)src * es, es);
        for (int k = r - 1; k >= 0 && ++idx[k] == o->dims[k]; k--)
            idx[k] = 0;
    }
    return o;
}

/* Value v (rank r) of layout p's output given x's layout: dim p[k] <- dim k. */
static gs_status relayout(gs_graph *g, gs_id v, const int64_t *p, int r)
{
    gs_value *val = &g->values[v];
    gs_dim *dims = gs_arena_alloc(&g->arena, (size_t)r * sizeof *dims);
    if (!dims)
        return gs_nomem(g->ctx);
    for (int k = 0; k < r; k++)
        dims[p[k]] = val->dims[k];
    val->dims = dims;
    val->elems = NULL;
    val->nelems = 0;
    val->flags |= GS_V_TYPED;
    return GS_OK;
}

/* The chain below Transpose t1 (perm p, rank r) up to the Transpose undoing
 * it: its ops into chain[], the closing Transpose returned, or GS_NONE. */
static gs_id find_chain(const gs_graph *g, gs_id t1, const int64_t *p, int r, gs_id *chain, int *len)
{
    gs_id v = g->nodes[t1].out[0];
    *len = 0;
    if (v == GS_NONE || g->values[v].rank != r)
        return GS_NONE;
    for (;;) {
        bool first = *len == 0;
        if (first ? g->values[v].nuses != 1 || gs_ir_captured(g, v) : !single_reader(g, v))
            return GS_NONE;
        gs_id id = g->values[v].uses[0];
        const gs_node *n = &g->nodes[id];
        int64_t q[GS_MAX_RANK];
        if (!strcmp(n->op, "Transpose") && !*n->domain && perm_of(n, q) == r)
            return inverse(p, q, r) && *len > 0 && gs_ir_replaceable(g, n->out[0], v) ? id : GS_NONE;
        if (*len == MAX_CHAIN || !chain_op(g, n, v))
            return GS_NONE;
        chain[(*len)++] = id;
        v = n->out[0];
    }
}

/* Remove the pair around chain[0..len): the ops read x and keep x's layout. */
static gs_status cancel(gs_graph *g, gs_id t1, gs_id t2, const int64_t *p, int r, const gs_id *chain,
                        int len)
{
    int64_t inv[GS_MAX_RANK];
    for (int k = 0; k < r; k++)
        inv[p[k]] = k;
    gs_id x = g->nodes[t1].in[0], v = g->nodes[t1].out[0];
    for (int i = 0; i < len; i++) {
        gs_node *n = &g->nodes[chain[i]];
        for (int k = 0; k < n->nin; k++) {
            gs_id c = n->in[k];
            gs_status st = GS_OK;
            if (c == v) {
                st = gs_ir_set_input(g, chain[i], k, i ? g->nodes[chain[i - 1]].out[0] : x);
            } else if (c != GS_NONE && !scalar_input(g, c)) {
                gs_tensor *t = permuted(g, g->values[c].init, inv, r);
                gs_id nc = t ? gs_ir_add_init(g, g->values[c].name, t) : GS_NONE;
                st = nc == GS_NONE ? (g->ctx->last ? g->ctx->last : GS_ERR_NOMEM)
                                   : gs_ir_set_input(g, chain[i], k, nc);
            }
            if (st != GS_OK)
                return st;
            n = &g->nodes[chain[i]];
        }
        v = n->out[0];
        gs_status st = relayout(g, v, p, r);
        if (st != GS_OK)
            return st;
    }
    gs_id y = g->nodes[t2].out[0];
    if (g->values[y].flags & GS_V_OUTPUT)
        gs_ir_swap_names(g, y, v);   /* the last op's value takes the graph output's name */
    gs_status st = gs_ir_replace_uses(g, y, v);
    if (st != GS_OK)
        return st;
    gs_ir_remove_node(g, t2);
    if (!g->values[g->nodes[t1].out[0]].nuses && !(g->values[g->nodes[t1].out[0]].flags & GS_V_OUTPUT))
        gs_ir_remove_node(g, t1);
    return GS_OK;
}

gs_status gs_cancel_transpose_pairs(gs_graph *g, int *count)
{
    *count = 0;
    gs_id chain[MAX_CHAIN];
    for (gs_id i = 0; i < g->nnodes; i++) {
        const gs_node *n = &g->nodes[i];
        int64_t p[GS_MAX_RANK];
        int r, len;
        if ((n->flags & GS_N_DEAD) || strcmp(n->op, "Transpose") || *n->domain || n->nin < 1 ||
            (r = perm_of(n, p)) < 1)
            continue;
        gs_id t2 = find_chain(g, i, p, r, chain, &len);
        if (t2 == GS_NONE)
            continue;
        gs_status st = cancel(g, i, t2, p, r, chain, len);
        if (st != GS_OK)
            return st;
        ++*count;
    }
    return GS_OK;
}
