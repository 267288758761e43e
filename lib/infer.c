/*
 * infer.c - shape inference over a graph: each registry row's infer
 * function, in topological order, with shared helpers for the common cases
 * (same shape, broadcast). Symbolic dims (batch, seq) flow through; what
 * cannot be inferred stays unknown rather than failing.
 */
#include "gs_ops.h"

#include <math.h>
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

/* The dtype of the first of n's inputs from k on whose dtype is known, or 0
 * (for inputs that share one type). */
static int32_t dtype_from(const gs_graph *g, const gs_node *n, int k)
{
    for (; k < n->nin; k++)
        if (n->in[k] != GS_NONE && g->values[n->in[k]].dtype)
            return g->values[n->in[k]].dtype;
    return 0;
}

/* Input 0's dtype only: Pow's exponent may have another type. */
gs_status gs_infer_bcast(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    if (n->nout < 1)
        return GS_OK;
    return bcast(g, n, n->nin > 0 && n->in[0] != GS_NONE ? g->values[n->in[0]].dtype : 0);
}

gs_status gs_infer_where(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    return n->nout < 1 ? GS_OK : bcast(g, n, dtype_from(g, n, 1));
}

gs_status gs_infer_bcast_bool(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    return n->nout < 1 ? GS_OK : bcast(g, n, GS_BOOL);
}

gs_status gs_infer_overflow(gs_graph *g, const gs_node *n)
{
    return gs_err(g->ctx, GS_ERR_MODEL, "node '%s' (%s): an output dim is out of range (overflows int64 "
                  "or is negative)", n->name ? n->name : "", n->op);
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

/* ---- rows whose outputs follow from attributes and constant inputs ------- */

static const gs_value *input(const gs_graph *g, const gs_node *n, int k)
{
    return k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
}

/* Unknown dims of a known rank. */
static gs_status set_rank(gs_graph *g, gs_id v, int32_t dtype, int rank)
{
    gs_dim dims[GS_MAX_RANK];
    if (rank < 0 || rank > GS_MAX_RANK)
        return gs_infer_set(g, v, dtype, -1, NULL);
    for (int i = 0; i < rank; i++)
        dims[i] = (gs_dim){ -1, NULL };
    return gs_infer_set(g, v, dtype, rank, dims);
}

gs_status gs_infer_constant_of_shape(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    const gs_attr *a = gs_ir_attr(n, "value");
    int32_t dtype = a && a->type == GS_A_TENSOR && a->t ? a->t->dtype : GS_FLOAT;
    const gs_tensor *s = gs_infer_const(g, n, 0);
    const gs_value *x = input(g, n, 0);
    if (!s || s->rank != 1 || s->dims[0] > GS_MAX_RANK)
        return set_rank(g, n->out[0], dtype, x && x->rank == 1 ? (int)(x->dims[0].v <= GS_MAX_RANK ?
                                                                      x->dims[0].v : -1) : -1);
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < s->dims[0]; i++) {
        int64_t v = gs_tensor_get_i(s, i);
        dims[i] = (gs_dim){ v >= 0 ? v : -1, NULL };
    }
    return gs_infer_set(g, n->out[0], dtype, (int)s->dims[0], dims);
}

/* Range: one dim, known when start, limit and delta are constants. */
gs_status gs_infer_range(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    const gs_tensor *t[3];
    gs_dim d = { -1, NULL };
    bool all = true;
    for (int k = 0; k < 3; k++)
        all &= (t[k] = gs_infer_const(g, n, k)) != NULL && gs_tensor_numel(t[k]) == 1;
    if (all) {
        double s = gs_tensor_get_f(t[0], 0), l = gs_tensor_get_f(t[1], 0), dl = gs_tensor_get_f(t[2], 0);
        double c = ceil((l - s) / dl);   /* NaN (delta 0): unknown; the kernel refuses it */
        d.v = c < 9e18 ? (c > 0 ? (int64_t)c : 0) : -1;
        d.v = c != c ? -1 : d.v;
    }
    return gs_infer_set(g, n->out[0], dtype_from(g, n, 0), 1, &d);
}

/* Tile: input 0's dtype and rank; dims multiplied by constant repeats. */
gs_status gs_infer_tile(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    const gs_value *x = input(g, n, 0);
    const gs_tensor *r = gs_infer_const(g, n, 1);
    if (!x || x->rank < 0 || !r || r->rank != 1 || r->dims[0] != x->rank)
        return x ? set_rank(g, n->out[0], x->dtype, x->rank) : GS_OK;
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        int64_t m = gs_tensor_get_i(r, i), v;
        dims[i] = m == 1 ? x->dims[i]
                : x->dims[i].v >= 0 && m >= 0 && gs_mul64_ok(x->dims[i].v, m, &v) ? (gs_dim){ v, NULL }
                : (gs_dim){ -1, NULL };
    }
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
}

/* ArgMax, ArgMin: int64, the axis kept as 1 or dropped. */
gs_status gs_infer_argminmax(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    const gs_value *x = input(g, n, 0);
    bool keep = gs_attr_int(n, "keepdims", 1) != 0;
    int axis = x ? gs_axis(gs_attr_int(n, "axis", 0), x->rank) : -1;
    if (!x || x->rank < 0 || axis < 0)
        return gs_infer_set(g, n->out[0], GS_INT64, -1, NULL);
    gs_dim dims[GS_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (i != axis)
            dims[r++] = x->dims[i];
        else if (keep)
            dims[r++] = (gs_dim){ 1, NULL };
    return gs_infer_set(g, n->out[0], GS_INT64, r, dims);
}

gs_status gs_infer_resize(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    const gs_value *x = input(g, n, 0);
    return x ? set_rank(g, n->out[0], x->dtype, x->rank) : GS_OK;
}

/* Einsum: the output's letters take their dims from the operands (explicit
 * "->" or implicit form; an ellipsis stands for broadcast dims); an equation
 * that does not fit the operands leaves the shape unknown. */
gs_status gs_infer_einsum(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    const char *eq = gs_attr_str(n, "equation", "");
    const gs_value *x = input(g, n, 0);
    int32_t dtype = x ? x->dtype : 0;
    char expanded[256];
    bool bc[256] = { false };
    if (strchr(eq, '.')) {   /* the ellipsis spelled out: needs every operand's rank */
        int ranks[3];
        for (int k = 0; k < n->nin; k++)
            if (n->nin > 3 || !input(g, n, k) || (ranks[k] = input(g, n, k)->rank) < 0)
                return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        if (!gs_einsum_expand(eq, ranks, n->nin, expanded, sizeof expanded, bc))
            return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        eq = expanded;
    }
    gs_dim size[128];
    int count[128] = { 0 }, t = 0, pos = 0, orank = 0;
    char outs[GS_MAX_RANK];
    bool arrow = false;
    for (const char *p = eq; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ')
            continue;
        if (c == ',' || (c == '-' && p[1] == '>')) {
            const gs_value *v = input(g, n, t);
            if (arrow || !v || v->rank != pos)
                return gs_infer_set(g, n->out[0], dtype, -1, NULL);
            t++, pos = 0, arrow = c == '-', p += c == '-';
            continue;
        }
        const gs_value *v = arrow ? NULL : input(g, n, t);
        if (c >= 128 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) || (arrow && orank >= GS_MAX_RANK) ||
            (!arrow && (!v || pos >= v->rank)))
            return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        if (arrow) {
            outs[orank++] = (char)c;
        } else {
            if (count[c] && bc[c] && !bdim(size[c], v->dims[pos], &size[c]))
                return gs_infer_set(g, n->out[0], dtype, -1, NULL);   /* ellipsis dims broadcast */
            if (!count[c] || (!bc[c] && size[c].v < 0))
                size[c] = v->dims[pos];
            count[c]++, pos++;
        }
    }
    if (!arrow) {   /* implicit: letters seen once, in alphabetical order */
        const gs_value *v = input(g, n, t);
        if (!v || v->rank != pos || t + 1 != n->nin)
            return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        for (int c = 'A'; c <= 'z' && orank < GS_MAX_RANK; c++)
            if (count[c] == 1)
                outs[orank++] = (char)c;
    } else if (t != n->nin) {
        return gs_infer_set(g, n->out[0], dtype, -1, NULL);
    }
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < orank; i++) {
        if (!count[(unsigned char)outs[i]])
            return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        dims[i] = size[(unsigned char)outs[i]];
    }
    return gs_infer_set(g, n->out[0], dtype, orank, dims);
}
