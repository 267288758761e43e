/*
 * infer.c - shape inference over a graph: each registry row's infer
 * function, in topological order, with shared helpers for the common cases
 * (same shape, broadcast). Symbolic dims (batch, seq) flow through; what
 * cannot be inferred stays unknown rather than failing.
 */
#include "gs_ops.h"

#include <string.h>

static bool same_dims(const gs_value *v, int rank, const gs_dim *dims)
{
    if (v->rank != rank)
        return false;
    for (int i = 0; i < rank; i++) {
        if (v->dims[i].v != dims[i].v)
            return false;
        const char *a = v->dims[i].sym, *b = dims[i].sym;
        if ((a == NULL) != (b == NULL) || (a && strcmp(a, b)))
            return false;
    }
    return true;
}

gs_status gs_infer_set(gs_graph *g, gs_id v, int32_t dtype, int rank, const gs_dim *dims)
{
    if (v == GS_NONE)
        return GS_OK;
    gs_value *val = &g->values[v];
    if (val->init)
        return GS_OK;   /* a constant knows its shape */
    if (rank > GS_MAX_RANK)
        return gs_err(g->ctx, GS_ERR_LIMIT, "value '%s': rank %d above the limit", val->name, rank);
    bool dtype_changes = dtype && dtype != val->dtype;
    bool shape_changes = rank >= 0 && (dims || rank == 0) && !same_dims(val, rank, dims);
    if (!dtype_changes && !shape_changes)
        return GS_OK;
    if (dtype_changes)
        val->dtype = dtype;
    if (shape_changes) {
        gs_dim *d = gs_arena_alloc(&g->arena, (size_t)(rank ? rank : 1) * sizeof *d);
        if (!d)
            return gs_nomem(g->ctx);
        if (rank)
            memcpy(d, dims, (size_t)rank * sizeof *d);
        val->dims = d;
        val->rank = rank;
    }
    val->flags |= GS_V_TYPED;
    return GS_OK;
}

gs_status gs_infer_same(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    if (n->nin < 1 || n->nout < 1 || n->in[0] == GS_NONE)
        return GS_OK;
    const gs_value *x = &g->values[n->in[0]];
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, x->dims);
}

/* Broadcast two dims; false when they are known to be incompatible. */
static bool bdim(gs_dim a, gs_dim b, gs_dim *out)
{
    if (a.v == 1) { *out = b; return true; }
    if (b.v == 1) { *out = a; return true; }
    if (a.v >= 0 && b.v >= 0) { *out = a; return a.v == b.v; }
    if (a.v >= 0) { *out = a; return true; }
    if (b.v >= 0) { *out = b; return true; }
    if (a.sym && b.sym && !strcmp(a.sym, b.sym)) { *out = a; return true; }
    *out = (gs_dim){ -1, NULL };
    return true;
}

static gs_status bcast(gs_graph *g, gs_node *n, int32_t dtype)
{
    gs_dim dims[GS_MAX_RANK];
    int rank = 0;
    bool known = true;
    for (int k = 0; k < n->nin; k++) {
        if (n->in[k] == GS_NONE)
            continue;
        const gs_value *x = &g->values[n->in[k]];
        if (x->rank < 0) {
            known = false;
            break;
        }
        int r = x->rank > rank ? x->rank : rank;
        gs_dim next[GS_MAX_RANK];
        for (int i = 0; i < r; i++) {
            gs_dim a = i < r - rank ? (gs_dim){ 1, NULL } : dims[i - (r - rank)];
            gs_dim b = i < r - x->rank ? (gs_dim){ 1, NULL } : x->dims[i - (r - x->rank)];
            if (!bdim(a, b, &next[i]))   /* legacy broadcasts (opset < 7): leave unknown */
                return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        }
        memcpy(dims, next, (size_t)r * sizeof *dims);
        rank = r;
    }
    return gs_infer_set(g, n->out[0], dtype, known ? rank : -1, known ? dims : NULL);
}

gs_status gs_infer_bcast(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    if (n->nout < 1)
        return GS_OK;
    int32_t dtype = n->nin > 0 && n->in[0] != GS_NONE ? g->values[n->in[0]].dtype : 0;
    return bcast(g, n, dtype);
}

gs_status gs_infer_bcast_bool(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    return n->nout < 1 ? GS_OK : bcast(g, n, GS_BOOL);
}

const gs_tensor *gs_infer_const(const gs_graph *g, const gs_node *n, int k)
{
    if (k >= n->nin || n->in[k] == GS_NONE)
        return NULL;
    const gs_value *v = &g->values[n->in[k]];
    const gs_tensor *t = v->init;
    if (!t && v->producer != GS_NONE) {   /* the value attribute of a Constant node */
        const gs_node *p = &g->nodes[v->producer];
        const gs_attr *a = !(p->flags & GS_N_DEAD) && !strcmp(p->op, "Constant") && !*p->domain
                               ? gs_ir_attr(p, "value") : NULL;
        t = a && a->type == GS_A_TENSOR ? a->t : NULL;
    }
    return t && t->data ? t : NULL;
}

/* A body's outer values take the types of the values they read. */
static gs_status type_outer(gs_graph *sub)
{
    gs_status st = GS_OK;
    for (gs_id v = 0; v < sub->nvalues && st == GS_OK; v++) {
        const gs_value *sv = &sub->values[v];
        if (!(sv->flags & GS_V_OUTER) || sv->outer < 0 || !sub->parent || sv->outer >= sub->parent->nvalues)
            continue;
        const gs_value *ov = &sub->parent->values[sv->outer];
        if (ov->dtype || ov->rank >= 0)
            st = gs_infer_set(sub, v, ov->dtype, ov->rank, ov->rank >= 0 ? ov->dims : NULL);
    }
    return st;
}

static gs_status infer_body(gs_graph *sub, int64_t opset)
{
    gs_status st = type_outer(sub);
    return st == GS_OK ? gs_infer_graph(sub, opset) : st;
}

gs_status gs_infer_graph(gs_graph *g, int64_t opset)
{
    gs_id *order = gs_alloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *order);
    if (!order)
        return gs_nomem(g->ctx);
    int n = gs_ir_topo(g, order);
    gs_status st = n == -2 ? GS_ERR_NOMEM : n < 0 ? gs_err(g->ctx, GS_ERR_MODEL, "graph has a cycle") : GS_OK;
    for (int i = 0; i < n && st == GS_OK; i++) {
        gs_node *nd = &g->nodes[order[i]];
        const gs_opdef *d = gs_op_find(nd->op, nd->domain, opset);
        if (d && d->infer && gs_op_fits(d, nd))
            st = d->infer(g, nd, opset);
        for (int a = 0; a < nd->nattrs && st == GS_OK; a++) {
            gs_attr *at = &nd->attrs[a];
            if (at->type == GS_A_GRAPH && at->g)
                st = infer_body(at->g, opset);
            for (size_t j = 0; at->type == GS_A_GRAPHS && j < at->n && st == GS_OK; j++)
                st = infer_body(at->gs[j], opset);
        }
    }
    gs_dealloc(g->ctx, order);
    return st;
}
