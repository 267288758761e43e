/*
 * cse.c - common subexpression elimination: two live nodes with the same op,
 * domain, attributes and inputs compute the same values, so the later one's
 * consumers are moved to the earlier one and it dies. Random ops, ops with
 * subgraphs, and nodes whose outputs are graph outputs are left alone (an
 * output keeps its name). Equal small constants are made one value first, so
 * two Reshapes of one tensor by equal shape initializers merge too; and two
 * small integer values that shape inference knows to hold the same dims
 * (batch, past + seq, 8: a Reshape target each layer of a decoder computes
 * from its own Shape) become the earlier one. Runs as part of cleanup.
 */
#include "gs_cleanup.h"

#include <string.h>

static bool same_attr(const gs_attr *a, const gs_attr *b)
{
    if (strcmp(a->name, b->name) || a->type != b->type)
        return false;
    switch (a->type) {
    case GS_A_INT: return a->i == b->i;
    case GS_A_FLOAT: return !memcmp(&a->f, &b->f, sizeof a->f);
    case GS_A_STRING: return a->slen == b->slen && !memcmp(a->s, b->s, a->slen);
    case GS_A_INTS: return a->n == b->n && !memcmp(a->ints, b->ints, a->n * sizeof *a->ints);
    case GS_A_FLOATS: return a->n == b->n && !memcmp(a->floats, b->floats, a->n * sizeof *a->floats);
    case GS_A_STRINGS:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++)
            if (a->strlens[i] != b->strlens[i] || memcmp(a->strs[i], b->strs[i], a->strlens[i]))
                return false;
        return true;
    case GS_A_TENSOR:
        return a->t && b->t && a->t->dtype == b->t->dtype && a->t->rank == b->t->rank &&
               !memcmp(a->t->dims, b->t->dims, (size_t)a->t->rank * sizeof a->t->dims[0]) &&
               a->t->data && b->t->data && a->t->nbytes == b->t->nbytes &&
               !memcmp(a->t->data, b->t->data, a->t->nbytes);
    default: return false;   /* graphs, sparse tensors, type protos: never merged */
    }
}

static bool same_node(const gs_node *a, const gs_node *b)
{
    if (strcmp(a->op, b->op) || strcmp(a->domain, b->domain) || a->nin != b->nin ||
        a->nout != b->nout || a->nattrs != b->nattrs || a->ncaps || b->ncaps)
        return false;
    if (memcmp(a->in, b->in, (size_t)a->nin * sizeof *a->in))
        return false;
    for (int i = 0; i < a->nout; i++)
        if ((a->out[i] == GS_NONE) != (b->out[i] == GS_NONE))
            return false;
    for (int i = 0; i < a->nattrs; i++) {   /* attribute order may differ */
        int j;
        for (j = 0; j < b->nattrs && !same_attr(&a->attrs[i], &b->attrs[j]); j++)
            ;
        if (j == b->nattrs)
            return false;
    }
    return true;
}

static bool mergeable(const gs_graph *g, const gs_node *n)
{
    if ((n->flags & GS_N_DEAD) || n->ncaps || *n->domain)
        return false;
    const gs_opdef *d = n->def;
    if (!d || (d->flags & (GS_OP_RANDOM | GS_OP_CONTROL | GS_OP_SEQUENCE)))
        return false;
    for (int k = 0; k < n->nout; k++)
        if (n->out[k] != GS_NONE && (g->values[n->out[k]].flags & GS_V_OUTPUT))
            return false;
    return true;
}

static uint64_t node_key(const gs_node *n)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = n->op; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    for (int k = 0; k < n->nin; k++)
        h = (h ^ (uint64_t)(uint32_t)n->in[k]) * 1099511628211ull;
    return h;
}

/* Can every output of dup move to keep's (names that subgraphs read kept)? */
static bool names_kept(const gs_graph *g, const gs_node *keep, const gs_node *dup)
{
    for (int k = 0; k < keep->nout; k++)
        if (dup->out[k] != GS_NONE && !gs_ir_replaceable(g, dup->out[k], keep->out[k]))
            return false;
    return true;
}

/* Move the consumers of dup's outputs to keep's; dup becomes dead code. */
static gs_status merge(gs_graph *g, const gs_node *keep, gs_id dup)
{
    for (int k = 0; k < keep->nout; k++) {
        gs_id from = g->nodes[dup].out[k];
        if (from == GS_NONE)
            continue;
        gs_status st = gs_ir_replace_uses(g, from, keep->out[k]);
        if (st != GS_OK)
            return st;
    }
    gs_ir_remove_node(g, dup);
    return GS_OK;
}

enum { SHARED_CONST_MAX = 1024 };   /* bytes: shape vectors and scalars, not weights */

/* A small initializer read as an input by nodes and listed nowhere else, so
 * its uses may move. */
static bool shareable(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    const gs_tensor *t = val->init;
    return t && t->data && t->nbytes <= SHARED_CONST_MAX && val->nuses > 0 &&
           !(val->flags & (GS_V_INPUT | GS_V_OUTPUT | GS_V_OUTER | GS_V_DEAD | GS_V_SPARSE)) &&
           !gs_ir_captured(g, v);
}

static bool same_tensor(const gs_tensor *a, const gs_tensor *b)
{
    return a->dtype == b->dtype && a->rank == b->rank && a->nbytes == b->nbytes &&
           !memcmp(a->dims, b->dims, (size_t)a->rank * sizeof a->dims[0]) &&
           !memcmp(a->data, b->data, a->nbytes);
}

static uint64_t tensor_key(const gs_tensor *t)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)t->dtype;
    for (int i = 0; i < t->rank; i++)
        h = (h ^ (uint64_t)t->dims[i]) * 1099511628211ull;
    for (size_t i = 0; i < t->nbytes; i++)
        h = (h ^ ((const unsigned char *)t->data)[i]) * 1099511628211ull;
    return h;
}

/* Equal small constants (an exporter writes one shape initializer per
 * Reshape) become one value, so the nodes reading them can merge. Returns
 * how many values gave up their readers. */
static int share_constants(gs_graph *g, gs_status *st)
{
    uint32_t cap = 64;
    while (cap < (uint32_t)g->nvalues * 2)
        cap *= 2;
    gs_id *table = gs_alloc(g->ctx, cap * sizeof *table);
    if (!table) {
        *st = gs_nomem(g->ctx);
        return 0;
    }
    memset(table, 0xff, cap * sizeof *table);
    int moved = 0;
    for (gs_id v = 0; v < (gs_id)g->nvalues && *st == GS_OK; v++) {
        if (!shareable(g, v))
            continue;
        for (uint32_t j = (uint32_t)tensor_key(g->values[v].init) & (cap - 1);; j = (j + 1) & (cap - 1)) {
            if (table[j] == GS_NONE) {
                table[j] = v;
                break;
            }
            if (same_tensor(g->values[table[j]].init, g->values[v].init)) {
                *st = gs_ir_replace_uses(g, v, table[j]);
                moved++;
                break;
            }
        }
    }
    gs_dealloc(g->ctx, table);
    return moved;
}

/* A pass over g's live nodes in topological order with an empty
 * open-addressing table of at least twice as many slots (GS_NONE-filled).
 * n < 0 when the graph has a cycle (verify's business: nothing to do) or
 * memory is short (walk_begin's status says so). */
typedef struct walk {
    gs_id *order, *table;
    uint32_t cap;
    int n;
} walk;

static void walk_end(gs_graph *g, walk *w)
{
    gs_dealloc(g->ctx, w->order);
    gs_dealloc(g->ctx, w->table);
    w->order = w->table = NULL;
}

static gs_status walk_begin(gs_graph *g, walk *w)
{
    w->order = gs_alloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *w->order);
    for (w->cap = 64; w->cap < (uint32_t)g->nnodes * 2; w->cap *= 2)
        ;
    w->table = gs_alloc(g->ctx, w->cap * sizeof *w->table);
    w->n = w->order && w->table ? gs_ir_topo(g, w->order) : -2;
    if (w->n >= 0) {
        memset(w->table, 0xff, w->cap * sizeof *w->table);
        return GS_OK;
    }
    walk_end(g, w);
    return w->n == -2 ? gs_nomem(g->ctx) : GS_OK;
}

/* Equal nodes merged, in topological order; *count grows by the merges. */
static gs_status merge_nodes(gs_graph *g, int *count)
{
    walk w;
    gs_status st = walk_begin(g, &w);
    gs_id *table = w.table;
    uint32_t cap = w.cap;
    for (int i = 0; i < w.n && st == GS_OK; i++) {   /* topological: inputs are final */
        gs_id id = w.order[i];
        if (!mergeable(g, &g->nodes[id]))
            continue;
        for (uint32_t j = (uint32_t)node_key(&g->nodes[id]) & (cap - 1);; j = (j + 1) & (cap - 1)) {
            if (table[j] == GS_NONE) {
                table[j] = id;
                break;
            }
            if (same_node(&g->nodes[table[j]], &g->nodes[id])) {
                if (!names_kept(g, &g->nodes[table[j]], &g->nodes[id]))
                    break;   /* a subgraph reads dup's output by a name keep's cannot take */
                st = merge(g, &g->nodes[table[j]], id);
                (*count)++;
                break;
            }
        }
    }
    walk_end(g, &w);
    return st;
}

/* A node's output whose every element shape inference knows, at least one
 * a dim name (a known number alone is the folder's business): a shape or dim
 * computed at run time from Shape. */
static bool symbolic_value(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    if ((val->dtype != GS_INT64 && val->dtype != GS_INT32) || !val->elems || val->init ||
        (val->flags & (GS_V_OUTPUT | GS_V_DEAD)) || val->rank < 0 || val->rank > 1 ||
        val->nelems != (val->rank ? val->dims[0].v : 1))
        return false;
    bool named = false;
    for (int i = 0; i < val->nelems; i++) {
        if (!val->elems[i].sym && val->elems[i].v == GS_ELEM_UNKNOWN)
            return false;
        named |= val->elems[i].sym != NULL;
    }
    return named;
}

static bool same_elems(const gs_value *a, const gs_value *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank || a->nelems != b->nelems)
        return false;
    for (int i = 0; i < a->nelems; i++) {
        const gs_dim *x = &a->elems[i], *y = &b->elems[i];
        if (!x->sym != !y->sym || (x->sym ? strcmp(x->sym, y->sym) : x->v != y->v))
            return false;
    }
    return true;
}

static uint64_t elems_key(const gs_value *val)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)val->dtype ^ ((uint64_t)val->rank << 8);
    for (int i = 0; i < val->nelems; i++) {
        const gs_dim *e = &val->elems[i];
        if (e->sym)
            for (const char *c = e->sym; *c; c++)
                h = (h ^ (unsigned char)*c) * 1099511628211ull;
        else
            h = (h ^ (uint64_t)e->v) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    }
    return h;
}

/* Values of equal known elements (symbolic_value) become the first in
 * topological order: it comes before every reader of a later one, so moving
 * those readers to it makes no cycle. The later values' producers become
 * dead code. *count grows by the values moved. */
static gs_status merge_symbolic_values(gs_graph *g, int *count)
{
    walk w;
    gs_status st = walk_begin(g, &w);
    gs_id *table = w.table;
    uint32_t cap = w.cap;
    for (int i = 0; i < w.n && st == GS_OK; i++) {
        const gs_node *nd = &g->nodes[w.order[i]];
        if (!mergeable(g, nd))
            continue;
        for (int k = 0; k < nd->nout && st == GS_OK; k++) {
            gs_id v = nd->out[k];
            if (v == GS_NONE || !symbolic_value(g, v))
                continue;
            for (uint32_t j = (uint32_t)elems_key(&g->values[v]) & (cap - 1);; j = (j + 1) & (cap - 1)) {
                if (table[j] == GS_NONE) {
                    table[j] = v;
                    break;
                }
                if (same_elems(&g->values[table[j]], &g->values[v])) {
                    if (g->values[v].nuses && gs_ir_replaceable(g, v, table[j])) {
                        st = gs_ir_replace_uses(g, v, table[j]);
                        (*count)++;
                    }
                    break;
                }
            }
        }
    }
    walk_end(g, &w);
    return st;
}

gs_status gs_cse(gs_graph *g, int *merged)
{
    gs_status st = GS_OK;
    *merged = share_constants(g, &st);
    if (st == GS_OK)
        st = merge_nodes(g, merged);
    return st == GS_OK ? merge_symbolic_values(g, merged) : st;
}
