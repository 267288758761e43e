/*
 * ir.c - the graph IR: nodes and values in arrays, addressed by index.
 *
 * A value has one producer (a node, or none for inputs, initializers and
 * outer-scope names) and a list of consumer nodes with one entry per input
 * slot that reads it. Nodes and values are never moved or reused: removing
 * one marks it dead, so ids held by the search stay valid. gs_ir_verify()
 * checks every invariant and is run after each rewrite in tests.
 */
#include "gs_ops.h"

#include <stdio.h>
#include <string.h>

/* ---- creation and destruction ----------------------------------------- */

static bool register_sub(gs_graph *parent, gs_graph *sub);

gs_graph *gs_ir_new(gs_ctx *ctx, gs_graph *parent)
{
    gs_graph *g = gs_zalloc(ctx, sizeof *g);
    if (!g)
        return NULL;
    g->ctx = ctx;
    g->parent = parent;
    g->opset = parent ? parent->opset : 0;
    gs_arena_init(&g->arena, ctx);
    g->perm = parent ? gs_arena_ref(parent->perm) : gs_arena_new(ctx);
    if (!g->perm) {
        gs_dealloc(ctx, g);
        return NULL;
    }
    g->name = "";
    if (parent && !register_sub(parent, g)) {
        gs_arena_unref(g->perm);
        gs_dealloc(ctx, g);
        return NULL;
    }
    return g;
}

gs_graph *gs_ir_new_opset(gs_ctx *ctx, int64_t opset)
{
    gs_graph *g = gs_ir_new(ctx, NULL);
    if (g)
        g->opset = opset;
    return g;
}

void gs_ir_set_opset(gs_graph *g, int64_t opset)
{
    g->opset = opset;
    for (gs_id i = 0; i < g->nnodes; i++)
        g->nodes[i].def = gs_op_find(g->nodes[i].op, g->nodes[i].domain, opset);
    for (int32_t i = 0; i < g->nsubs; i++)
        gs_ir_set_opset(g->subs[i], opset);
}

void gs_ir_free(gs_graph *g)
{
    if (!g)
        return;
    gs_ctx *ctx = g->ctx;
    for (int32_t i = 0; i < g->nsubs; i++)
        gs_ir_free(g->subs[i]);
    for (int32_t i = 0; i < g->nvalues; i++)
        if (g->values[i].capuses > 0)   /* negative: in the arena */
            gs_dealloc(ctx, g->values[i].uses);
    gs_dealloc(ctx, g->subs);
    gs_dealloc(ctx, g->values);
    gs_dealloc(ctx, g->nodes);
    gs_dealloc(ctx, g->map);
    gs_dealloc(ctx, g->nodemap);
    gs_arena_free(&g->arena);
    gs_arena_unref(g->perm);
    gs_dealloc(ctx, g->view);
    gs_dealloc(ctx, g);
}

/* ---- name map: open addressing, name -> value id ---------------------- */

static gs_id *map_slot(const gs_graph *g, const char *name)
{
    uint32_t mask = g->mapcap - 1;
    for (uint32_t i = gs_hash_str(name) & mask;; i = (i + 1) & mask) {
        gs_id *slot = &g->map[i];
        if (*slot == GS_NONE || !strcmp(g->values[*slot].name, name))
            return slot;
    }
}

static bool map_grow(gs_graph *g)
{
    uint32_t cap = g->mapcap ? g->mapcap * 2 : 64;
    gs_id *old = g->map;
    uint32_t oldcap = g->mapcap;
    g->map = gs_alloc(g->ctx, cap * sizeof *g->map);
    if (!g->map) {
        g->map = old;
        return false;
    }
    memset(g->map, 0xff, cap * sizeof *g->map);   /* all GS_NONE */
    g->mapcap = cap;
    for (uint32_t i = 0; i < oldcap; i++)
        if (old[i] != GS_NONE)
            *map_slot(g, g->values[old[i]].name) = old[i];
    gs_dealloc(g->ctx, old);
    return true;
}

/* ---- node names: open addressing, name -> node id -------------------- */

static gs_id *node_slot(const gs_graph *g, const char *name)
{
    uint32_t mask = g->nodemapcap - 1;
    for (uint32_t i = gs_hash_str(name) & mask;; i = (i + 1) & mask) {
        gs_id *slot = &g->nodemap[i];
        if (*slot == GS_NONE || !strcmp(g->nodes[*slot].name, name))
            return slot;
    }
}

static void node_name_add(gs_graph *g, gs_id id)
{
    gs_id *slot = node_slot(g, g->nodes[id].name);
    if (*slot == GS_NONE)   /* a repeated name keeps its first node */
        *slot = id;
}

/* Room for nnodes named nodes (rebuilt from the nodes when it grows). */
static bool nodemap_reserve(gs_graph *g, int32_t nnodes)
{
    if ((uint32_t)nnodes * 2 <= g->nodemapcap)
        return true;
    uint32_t cap = g->nodemapcap ? g->nodemapcap : 64;
    while ((uint32_t)nnodes * 2 > cap)
        cap *= 2;
    gs_id *m = gs_alloc(g->ctx, cap * sizeof *m);
    if (!m)
        return false;
    memset(m, 0xff, cap * sizeof *m);   /* all GS_NONE */
    gs_dealloc(g->ctx, g->nodemap);
    g->nodemap = m;
    g->nodemapcap = cap;
    for (gs_id i = 0; i < g->nnodes; i++)
        if (*g->nodes[i].name)
            node_name_add(g, i);
    return true;
}

gs_id gs_ir_node_named(const gs_graph *g, const char *name)
{
    return g->nodemapcap ? *node_slot(g, name) : GS_NONE;
}

bool gs_ir_node_name_taken(const gs_graph *g, const char *name)
{
    return gs_ir_node_named(g, name) != GS_NONE;
}

gs_id gs_ir_find(const gs_graph *g, const char *name)
{
    if (!g->mapcap)
        return GS_NONE;
    return *map_slot(g, name);
}

/* ---- values and nodes ------------------------------------------------- */

static bool grow(gs_ctx *ctx, void **arr, int32_t *cap, int32_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    int32_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > INT32_MAX / 2)
            return false;
        ncap *= 2;
    }
    size_t bytes;
    if (!gs_mul_ok((size_t)ncap, elem, &bytes))
        return false;
    void *p = gs_realloc(ctx, *arr, bytes);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

bool gs_ir_reserve_names(gs_graph *g, int32_t nvalues)
{
    while ((uint32_t)nvalues * 2 > g->mapcap)
        if (!map_grow(g))
            return false;
    return true;
}

gs_id gs_ir_add_value(gs_graph *g, const char *name, bool copy_name)
{
    if (gs_ir_find(g, name) != GS_NONE) {
        gs_err(g->ctx, GS_ERR_MODEL, "value '%s' is defined twice", name);
        return GS_NONE;
    }
    if (copy_name && !(name = gs_arena_strdup(g->perm, name)))
        goto nomem;
    if (!grow(g->ctx, (void **)&g->values, &g->capvalues, g->nvalues + 1, sizeof(gs_value)))
        goto nomem;
    if ((uint32_t)(g->nvalues + 1) * 2 > g->mapcap && !map_grow(g))
        goto nomem;
    gs_id id = g->nvalues++;
    gs_value *v = &g->values[id];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->rank = -1;
    v->producer = GS_NONE;
    v->outer = GS_NONE;
    *map_slot(g, name) = id;
    return id;
nomem:
    gs_nomem(g->ctx);
    return GS_NONE;
}

gs_status gs_ir_add_use(gs_graph *g, gs_id v, gs_id node)
{
    gs_value *val = &g->values[v];
    if (val->capuses < 0) {   /* a clone's uses, in its arena: move them to the heap */
        gs_id *heap = gs_alloc(g->ctx, ((size_t)val->nuses + 16) * sizeof *heap);
        if (!heap)
            return gs_nomem(g->ctx);
        if (val->nuses)
            memcpy(heap, val->uses, (size_t)val->nuses * sizeof *heap);
        val->uses = heap;
        val->capuses = val->nuses + 16;
    }
    if (!grow(g->ctx, (void **)&val->uses, &val->capuses, val->nuses + 1, sizeof(gs_id)))
        return gs_nomem(g->ctx);
    val->uses[val->nuses++] = node;
    return GS_OK;
}

void gs_ir_del_use(gs_graph *g, gs_id v, gs_id node)
{
    gs_value *val = &g->values[v];
    for (int32_t i = 0; i < val->nuses; i++)
        if (val->uses[i] == node) {
            val->uses[i] = val->uses[--val->nuses];
            return;
        }
}

gs_id gs_ir_add_node(gs_graph *g, const char *op, const char *domain, const char *name,
                     const gs_id *in, int nin, const gs_id *out, int nout)
{
    if (g->nnodes >= GS_MAX_NODES) {
        gs_err(g->ctx, GS_ERR_LIMIT, "graph has more than %d nodes", GS_MAX_NODES);
        return GS_NONE;
    }
    if (!grow(g->ctx, (void **)&g->nodes, &g->capnodes, g->nnodes + 1, sizeof(gs_node)) ||
        !nodemap_reserve(g, g->nnodes + 1))
        goto nomem;
    gs_id id = g->nnodes;
    gs_node *n = &g->nodes[id];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->domain = domain ? domain : "";
    n->name = name ? name : "";
    n->def = gs_op_find(op, n->domain, g->opset);
    n->nin = nin;
    n->nout = nout;
    n->in = gs_arena_memdup(&g->arena, in, (size_t)nin * sizeof *in);
    n->out = gs_arena_memdup(&g->arena, out, (size_t)nout * sizeof *out);
    if (!n->in || !n->out)
        goto nomem;
    for (int k = 0; k < nout; k++) {
        if (out[k] == GS_NONE)
            continue;
        gs_value *v = &g->values[out[k]];
        if (v->producer != GS_NONE || v->init || (v->flags & (GS_V_INPUT | GS_V_OUTER))) {
            gs_err(g->ctx, GS_ERR_MODEL, "value '%s' is defined twice (again by node '%s' (%s))",
                   v->name, n->name, op);
            return GS_NONE;
        }
    }
    g->nnodes++;
    if (*n->name)
        node_name_add(g, id);
    for (int k = 0; k < nout; k++)
        if (out[k] != GS_NONE)
            g->values[out[k]].producer = id;
    for (int k = 0; k < nin; k++)
        if (in[k] != GS_NONE && gs_ir_add_use(g, in[k], id) != GS_OK)
            return GS_NONE;
    return id;
nomem:
    gs_nomem(g->ctx);
    return GS_NONE;
}

gs_status gs_ir_set_input(gs_graph *g, gs_id node, int k, gs_id v)
{
    gs_node *n = &g->nodes[node];
    if (k >= n->nin) {   /* the inputs before k that the node does not list: empty */
        gs_id *in = gs_arena_alloc(&g->arena, (size_t)(k + 1) * sizeof *in);
        if (!in)
            return gs_nomem(g->ctx);
        memcpy(in, n->in, (size_t)n->nin * sizeof *in);
        for (int i = n->nin; i <= k; i++)
            in[i] = GS_NONE;
        n->in = in;
        n->nin = k + 1;
    }
    if (n->in[k] == v)
        return GS_OK;
    if (v != GS_NONE && gs_ir_add_use(g, v, node) != GS_OK)
        return GS_ERR_NOMEM;
    if (n->in[k] != GS_NONE)
        gs_ir_del_use(g, n->in[k], node);
    n->in[k] = v;
    return GS_OK;
}

bool gs_ir_captured(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    for (int32_t u = 0; u < val->nuses; u++) {
        const gs_node *n = &g->nodes[val->uses[u]];
        for (int k = 0; k < n->ncaps; k++)
            if (n->caps[k] == v)
                return true;
    }
    return false;
}

/* v is named by nothing but its name in this graph (no input, output, outer
 * name, capture, or initializer written under the name of the model's
 * tensor), so it may take another name. */
static bool can_take_name(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    return !(val->flags & (GS_V_INPUT | GS_V_OUTPUT | GS_V_OUTER | GS_V_SPARSE)) &&
           !(val->init && val->init->src) && !gs_ir_captured(g, v);
}

/* Point the subgraphs of node n that read old at nv instead (nv has old's name). */
static void recapture(gs_graph *g, gs_node *n, gs_id old, gs_id nv)
{
    for (int k = 0; k < n->ncaps; k++)
        n->caps[k] = n->caps[k] == old ? nv : n->caps[k];
    for (int a = 0; a < n->nattrs; a++) {
        const gs_attr *at = &n->attrs[a];
        for (size_t j = 0; j < (at->type == GS_A_GRAPH ? 1 : at->type == GS_A_GRAPHS ? at->n : 0); j++) {
            gs_graph *sub = at->type == GS_A_GRAPH ? at->g : at->gs[j];
            for (gs_id i = 0; sub && i < sub->nvalues; i++)
                if ((sub->values[i].flags & GS_V_OUTER) && sub->values[i].outer == old)
                    sub->values[i].outer = nv;
        }
    }
    (void)g;
}

/* The name under which a subgraph of a node reading v captures it, or NULL. */
static const char *captured_name(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    for (int32_t u = 0; u < val->nuses; u++) {
        const gs_node *n = &g->nodes[val->uses[u]];
        for (int a = 0; a < n->nattrs; a++) {
            const gs_attr *at = &n->attrs[a];
            for (size_t j = 0; j < (at->type == GS_A_GRAPH ? 1 : at->type == GS_A_GRAPHS ? at->n : 0); j++) {
                const gs_graph *sub = at->type == GS_A_GRAPH ? at->g : at->gs[j];
                for (gs_id i = 0; sub && i < sub->nvalues; i++)
                    if ((sub->values[i].flags & GS_V_OUTER) && sub->values[i].outer == v)
                        return sub->values[i].name;
            }
        }
    }
    return NULL;
}

bool gs_ir_replaceable(const gs_graph *g, gs_id old, gs_id nv)
{
    const char *want = gs_ir_captured(g, old) ? captured_name(g, old) : NULL;
    return !want || !strcmp(g->values[nv].name, want) || can_take_name(g, nv);
}

/* A value that subgraphs capture is read there by name: nv takes that name
 * (old, when it holds it, gets a fresh one) and the captures move to nv.
 * GS_ERR_UNSUPPORTED, with g unchanged, when nv cannot take the name. */
static gs_status move_captures(gs_graph *g, gs_id old, gs_id nv)
{
    if (!gs_ir_replaceable(g, old, nv))
        return gs_err(g->ctx, GS_ERR_UNSUPPORTED, "value '%s' is read by name in a subgraph of node '%s' "
                      "and '%s' cannot take its name", g->values[old].name,
                      g->nodes[g->values[old].uses[0]].name, g->values[nv].name);
    const char *want = captured_name(g, old);
    gs_status st = GS_OK;
    if (want && strcmp(g->values[nv].name, want)) {
        gs_id holder = gs_ir_find(g, want);
        char fresh[512];
        snprintf(fresh, sizeof fresh, "%s_replaced", want);
        const char *other = holder != GS_NONE ? gs_ir_unique_name(g, fresh) : "";
        st = !other ? gs_nomem(g->ctx) : holder != GS_NONE ? gs_ir_rename(g, holder, other) : GS_OK;
        if (st == GS_OK && (st = gs_ir_rename(g, nv, want)) == GS_OK && g->values[nv].init)
            g->values[nv].init->name = g->values[nv].name;
    }
    for (int32_t u = 0; st == GS_OK && u < g->values[old].nuses;) {
        gs_id user = g->values[old].uses[u];
        gs_node *n = &g->nodes[user];
        int reads = 0;   /* one use entry per capture and per input slot */
        for (int k = 0; k < n->ncaps; k++)
            reads += n->caps[k] == old;
        if (!reads) {
            u++;
            continue;
        }
        recapture(g, n, old, nv);
        for (int r = 0; r < reads && st == GS_OK; r++) {
            st = gs_ir_add_use(g, nv, user);
            gs_ir_del_use(g, old, user);
        }
    }
    return st;
}

gs_status gs_ir_replace_uses(gs_graph *g, gs_id old, gs_id nv)
{
    gs_status st0 = gs_ir_captured(g, old) ? move_captures(g, old, nv) : GS_OK;
    if (st0 != GS_OK)
        return st0;
    gs_value *o = &g->values[old];
    while (o->nuses > 0) {
        gs_id user = o->uses[o->nuses - 1];
        gs_node *n = &g->nodes[user];
        int k;
        for (k = 0; k < n->nin && n->in[k] != old; k++)
            ;
        if (k == n->nin) {                 /* a capture by a subgraph: rename not supported */
            return gs_err(g->ctx, GS_ERR_INTERNAL, "value '%s' is captured by node '%s'",
                          o->name, n->name);
        }
        gs_status st = gs_ir_set_input(g, user, k, nv);
        if (st != GS_OK)
            return st;
        o = &g->values[old];
    }
    for (int32_t i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == old) {
            g->outputs[i] = nv;
            g->values[nv].flags |= GS_V_OUTPUT;
            g->values[old].flags &= ~(uint32_t)GS_V_OUTPUT;
        }
    return GS_OK;
}

void gs_ir_remove_node(gs_graph *g, gs_id node)
{
    gs_node *n = &g->nodes[node];
    if (n->flags & GS_N_DEAD)
        return;
    for (int k = 0; k < n->nin; k++)
        if (n->in[k] != GS_NONE)
            gs_ir_del_use(g, n->in[k], node);
    for (int k = 0; k < n->ncaps; k++)
        gs_ir_del_use(g, n->caps[k], node);
    for (int k = 0; k < n->nout; k++)
        if (n->out[k] != GS_NONE) {
            gs_value *v = &g->values[n->out[k]];
            v->producer = GS_NONE;
            if (!(v->flags & GS_V_OUTPUT))
                v->flags |= GS_V_DEAD;
        }
    n->flags |= GS_N_DEAD;
}

static bool node_is_dead_code(const gs_graph *g, const gs_node *n)
{
    if (n->flags & GS_N_DEAD)
        return false;
    for (int k = 0; k < n->nout; k++) {
        if (n->out[k] == GS_NONE)
            continue;
        const gs_value *v = &g->values[n->out[k]];
        if (v->nuses > 0 || (v->flags & GS_V_OUTPUT))
            return false;
    }
    return true;
}

int gs_ir_dce(gs_graph *g)
{
    int removed = 0;
    bool again = true;
    while (again) {            /* a removal can free its producers: repeat */
        again = false;
        for (gs_id i = g->nnodes - 1; i >= 0; i--)
            if (node_is_dead_code(g, &g->nodes[i])) {
                gs_ir_remove_node(g, i);
                removed++;
                again = true;
            }
    }
    return removed;
}

int gs_ir_live_nodes(const gs_graph *g)
{
    int n = 0;
    for (gs_id i = 0; i < g->nnodes; i++)
        n += !(g->nodes[i].flags & GS_N_DEAD);
    return n;
}

/* ---- topological order: Kahn with a min-heap, so a graph already in order
 * keeps its order exactly ------------------------------------------------ */

static void heap_push(gs_id *h, int *n, gs_id x)
{
    int i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > x) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static gs_id heap_pop(gs_id *h, int *n)
{
    gs_id top = h[0], x = h[--*n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= x)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
    return top;
}

static int live_producer(const gs_graph *g, gs_id v)
{
    if (v == GS_NONE)
        return 0;
    gs_id p = g->values[v].producer;
    return p != GS_NONE && !(g->nodes[p].flags & GS_N_DEAD);
}

/* A value known before the graph runs: an initializer no input overrides. */
static bool fixed_value(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    return val->init && !(val->flags & (GS_V_INPUT | GS_V_OUTER));
}

/* Whether node i computes only from fixed values and such nodes' outputs
 * (konst holds the answer for each node ordered before it). */
static bool konst_node(const gs_graph *g, gs_id i, const bool *konst)
{
    const gs_node *n = &g->nodes[i];
    if (n->ncaps > 0)
        return false;
    for (int k = 0; k < n->nin; k++) {
        gs_id v = n->in[k];
        if (v == GS_NONE)
            continue;
        if (live_producer(g, v) ? !konst[g->values[v].producer] : !fixed_value(g, v))
            return false;
    }
    return true;
}

/* Ready node i enters the heap; with konst, under a key that orders every
 * constant-computing node before every other. */
static void ready(const gs_graph *g, gs_id i, bool *konst, gs_id *heap, int *nheap)
{
    if (konst)
        konst[i] = konst_node(g, i, konst);
    heap_push(heap, nheap, konst && !konst[i] ? i + g->nnodes : i);
}

int gs_ir_order(const gs_graph *g, gs_id *order, bool consts_first)
{
    int32_t *indeg = gs_zalloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *indeg);
    gs_id *heap = gs_alloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *heap);
    bool *konst = consts_first ? gs_zalloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *konst) : NULL;
    int nheap = 0, count = 0, live = 0;
    if (!indeg || !heap || (consts_first && !konst)) {
        gs_dealloc(g->ctx, indeg);
        gs_dealloc(g->ctx, heap);
        gs_dealloc(g->ctx, konst);
        gs_nomem(g->ctx);
        return -2;
    }
    for (gs_id i = 0; i < g->nnodes; i++) {
        const gs_node *n = &g->nodes[i];
        if (n->flags & GS_N_DEAD)
            continue;
        live++;
        for (int k = 0; k < n->nin; k++)
            indeg[i] += live_producer(g, n->in[k]);
        for (int k = 0; k < n->ncaps; k++)
            indeg[i] += live_producer(g, n->caps[k]);
        if (indeg[i] == 0)
            ready(g, i, konst, heap, &nheap);
    }
    while (nheap > 0) {
        gs_id i = heap_pop(heap, &nheap);
        if (i >= g->nnodes)
            i -= g->nnodes;
        order[count++] = i;
        const gs_node *n = &g->nodes[i];
        for (int k = 0; k < n->nout; k++) {
            if (n->out[k] == GS_NONE)
                continue;
            const gs_value *v = &g->values[n->out[k]];
            for (int32_t u = 0; u < v->nuses; u++)
                if (--indeg[v->uses[u]] == 0)
                    ready(g, v->uses[u], konst, heap, &nheap);
        }
    }
    gs_dealloc(g->ctx, indeg);
    gs_dealloc(g->ctx, heap);
    gs_dealloc(g->ctx, konst);
    return count == live ? count : -1;
}

int gs_ir_topo(const gs_graph *g, gs_id *order)
{
    return gs_ir_order(g, order, false);
}

/* ---- verification ----------------------------------------------------- */

static bool value_defined(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    if (val->flags & GS_V_DEAD)
        return false;
    return live_producer(g, v) || val->init || (val->flags & (GS_V_INPUT | GS_V_OUTER | GS_V_SPARSE));
}

static int count_in(const gs_id *arr, int n, gs_id x)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += arr[i] == x;
    return c;
}

static gs_status verify_node(const gs_graph *g, gs_id i)
{
    const gs_node *n = &g->nodes[i];
    for (int k = 0; k < n->nin; k++) {
        gs_id v = n->in[k];
        if (v == GS_NONE)
            continue;
        if (v < 0 || v >= g->nvalues)
            return gs_err(g->ctx, GS_ERR_INTERNAL, "node '%s' (%s): input %d out of range",
                          n->name, n->op, k);
        if (!value_defined(g, v))
            return gs_err(g->ctx, GS_ERR_MODEL, "node '%s' (%s) reads undefined value '%s'",
                          n->name, n->op, g->values[v].name);
        const gs_value *val = &g->values[v];
        if (count_in(val->uses, val->nuses, i) != count_in(n->in, n->nin, v) +
                                                     count_in(n->caps, n->ncaps, v))
            return gs_err(g->ctx, GS_ERR_INTERNAL, "value '%s': use list disagrees with node '%s'",
                          val->name, n->name);
    }
    for (int k = 0; k < n->nout; k++) {
        gs_id v = n->out[k];
        if (v != GS_NONE && (v < 0 || v >= g->nvalues || g->values[v].producer != i))
            return gs_err(g->ctx, GS_ERR_INTERNAL, "node '%s' (%s): output %d not produced by it",
                          n->name, n->op, k);
    }
    gs_status st = GS_OK;
    for (int a = 0; a < n->nattrs && st == GS_OK; a++) {
        const gs_attr *at = &n->attrs[a];
        if (at->type == GS_A_GRAPH && at->g)
            st = gs_ir_verify(at->g);
        for (size_t j = 0; at->type == GS_A_GRAPHS && j < at->n && st == GS_OK; j++)
            st = gs_ir_verify(at->gs[j]);
    }
    return st;
}

/* A body reads an outer value by name: the value it stands for is live in
 * the enclosing graph under the same name. */
static gs_status verify_outer(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    if (!(val->flags & GS_V_OUTER) || (!val->nuses && !(val->flags & GS_V_OUTPUT)))
        return GS_OK;
    const gs_graph *p = g->parent;
    if (!p || val->outer < 0 || val->outer >= p->nvalues || (p->values[val->outer].flags & GS_V_DEAD))
        return gs_err(g->ctx, GS_ERR_INTERNAL, "outer value '%s' of graph '%s' stands for no live value",
                      val->name, g->name);
    if (strcmp(p->values[val->outer].name, val->name))
        return gs_err(g->ctx, GS_ERR_INTERNAL, "graph '%s' reads outer value '%s' by the name '%s'",
                      g->name, p->values[val->outer].name, val->name);
    return GS_OK;
}

static gs_status verify_uses(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    for (int32_t u = 0; u < val->nuses; u++) {
        gs_id user = val->uses[u];
        if (user < 0 || user >= g->nnodes || (g->nodes[user].flags & GS_N_DEAD))
            return gs_err(g->ctx, GS_ERR_INTERNAL, "value '%s' lists a dead or invalid user",
                          val->name);
        const gs_node *n = &g->nodes[user];
        if (!count_in(n->in, n->nin, v) && !count_in(n->caps, n->ncaps, v))
            return gs_err(g->ctx, GS_ERR_INTERNAL, "value '%s' lists node '%s' which does not read it",
                          val->name, n->name);
    }
    return GS_OK;
}

gs_status gs_ir_verify(const gs_graph *g)
{
    gs_status st;
    for (gs_id i = 0; i < g->nnodes; i++)
        if (!(g->nodes[i].flags & GS_N_DEAD) && (st = verify_node(g, i)) != GS_OK)
            return st;
    for (gs_id v = 0; v < g->nvalues; v++)
        if ((st = verify_uses(g, v)) != GS_OK || (st = verify_outer(g, v)) != GS_OK)
            return st;
    for (int32_t i = 0; i < g->noutputs; i++)
        if (!value_defined(g, g->outputs[i]))
            return gs_err(g->ctx, GS_ERR_MODEL, "graph output '%s' is not defined",
                          g->values[g->outputs[i]].name);
    gs_id *order = gs_alloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *order);
    if (!order)
        return gs_nomem(g->ctx);
    int n = gs_ir_topo(g, order);
    gs_dealloc(g->ctx, order);
    if (n == -2)
        return GS_ERR_NOMEM;
    if (n < 0)
        return gs_err(g->ctx, GS_ERR_MODEL, "graph '%s' has a cycle", g->name);
    return GS_OK;
}

/* ---- attributes ------------------------------------------------------- */

const gs_attr *gs_ir_attr(const gs_node *n, const char *name)
{
    for (int i = 0; i < n->nattrs; i++)   /* the first letter first: the matcher asks often */
        if (n->attrs[i].name[0] == name[0] && !strcmp(n->attrs[i].name, name))
            return &n->attrs[i];
    return NULL;
}

int64_t gs_attr_int(const gs_node *n, const char *name, int64_t dflt)
{
    const gs_attr *a = gs_ir_attr(n, name);
    return a && a->type == GS_A_INT ? a->i : dflt;
}

float gs_attr_float(const gs_node *n, const char *name, float dflt)
{
    const gs_attr *a = gs_ir_attr(n, name);
    return a && a->type == GS_A_FLOAT ? a->f : dflt;
}

const char *gs_attr_str(const gs_node *n, const char *name, const char *dflt)
{
    const gs_attr *a = gs_ir_attr(n, name);
    return a && a->type == GS_A_STRING ? a->s : dflt;
}

int gs_attr_ints(const gs_node *n, const char *name, const int64_t **vals)
{
    const gs_attr *a = gs_ir_attr(n, name);
    if (!a || a->type != GS_A_INTS)
        return -1;
    *vals = a->ints;
    return (int)a->n;
}

int gs_attr_floats(const gs_node *n, const char *name, const float **vals)
{
    const gs_attr *a = gs_ir_attr(n, name);
    if (!a || a->type != GS_A_FLOATS)
        return -1;
    *vals = a->floats;
    return (int)a->n;
}

/* ---- cloning ---------------------------------------------------------- */

static bool clone_attrs(gs_graph *d, gs_node *n)
{
    if (!n->nattrs)
        return true;
    gs_attr *attrs = gs_arena_memdup(&d->arena, n->attrs, (size_t)n->nattrs * sizeof *attrs);
    if (!attrs)
        return false;
    n->attrs = attrs;
    for (int a = 0; a < n->nattrs; a++) {
        gs_attr *at = &attrs[a];
        if (at->type == GS_A_GRAPH && at->g) {
            if (!(at->g = gs_ir_clone(at->g, d)))
                return false;
        } else if (at->type == GS_A_GRAPHS && at->n) {
            gs_graph **gs = gs_arena_alloc(&d->arena, at->n * sizeof *gs);
            if (!gs)
                return false;
            for (size_t j = 0; j < at->n; j++)
                if (!(gs[j] = gs_ir_clone(at->gs[j], d)))
                    return false;
            at->gs = gs;
        }
    }
    return true;
}

/* A clone's id and dim lists are carved from one arena allocation: the
 * search clones a graph for every candidate, and one call per list was most
 * of a clone's time. */
static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static size_t lists_size(const gs_graph *g)
{
    size_t n = 0;
    for (gs_id v = 0; v < g->nvalues; v++) {
        const gs_value *val = &g->values[v];
        if (val->rank > 0 && val->dims)
            n += pad8((size_t)val->rank * sizeof *val->dims);
        if (val->elems)
            n += pad8((size_t)val->nelems * sizeof *val->elems);
        n += pad8((size_t)val->nuses * sizeof(gs_id));
    }
    for (gs_id i = 0; i < g->nnodes; i++) {
        const gs_node *nd = &g->nodes[i];
        n += pad8((size_t)nd->nin * sizeof(gs_id)) + pad8((size_t)nd->nout * sizeof(gs_id)) +
             pad8((size_t)nd->ncaps * sizeof(gs_id));
    }
    return n;
}

static void *carve(char **cur, const void *src, size_t n)
{
    void *d = *cur;
    if (n)
        memcpy(d, src, n);
    *cur += pad8(n);
    return d;
}

static bool clone_node(gs_graph *d, gs_node *n, char **cur)
{
    n->in = carve(cur, n->in, (size_t)n->nin * sizeof *n->in);
    n->out = carve(cur, n->out, (size_t)n->nout * sizeof *n->out);
    if (n->ncaps)
        n->caps = carve(cur, n->caps, (size_t)n->ncaps * sizeof(gs_id));
    return clone_attrs(d, n);
}

static void clone_value(gs_value *v, char **cur)
{
    if (v->rank > 0 && v->dims)
        v->dims = carve(cur, v->dims, (size_t)v->rank * sizeof *v->dims);
    if (v->elems)
        v->elems = carve(cur, v->elems, (size_t)v->nelems * sizeof *v->elems);
    /* in the clone's arena (a negative capacity says so) until a use is added */
    v->uses = v->nuses ? carve(cur, v->uses, (size_t)v->nuses * sizeof *v->uses) : NULL;
    v->capuses = -v->nuses;
}

static gs_id *dup_ids(gs_arena *a, const gs_id *ids, int32_t n, bool *ok)
{
    if (!n)
        return NULL;
    gs_id *d = gs_arena_memdup(a, ids, (size_t)n * sizeof *ids);
    *ok = *ok && d;
    return d;
}


static bool register_sub(gs_graph *parent, gs_graph *sub)
{
    if (!grow(parent->ctx, (void **)&parent->subs, &parent->capsubs, parent->nsubs + 1,
              sizeof(gs_graph *)))
        return false;
    parent->subs[parent->nsubs++] = sub;
    return true;
}

gs_graph *gs_ir_clone(const gs_graph *g, gs_graph *parent)
{
    gs_ctx *ctx = g->ctx;
    gs_graph *d = gs_zalloc(ctx, sizeof *d);
    if (!d)
        return NULL;
    *d = *g;
    d->parent = parent;
    gs_arena_init(&d->arena, ctx);
    gs_arena_ref(d->perm);
    d->nodes = NULL, d->values = NULL, d->map = NULL, d->nodemap = NULL, d->subs = NULL;
    d->view = NULL;
    d->capnodes = d->capvalues = d->nsubs = d->capsubs = 0;
    d->nvalues = 0;   /* so a failed copy frees only what it made */
    bool ok = grow(ctx, (void **)&d->nodes, &d->capnodes, g->nnodes, sizeof(gs_node)) &&
              grow(ctx, (void **)&d->values, &d->capvalues, g->nvalues, sizeof(gs_value)) &&
              (!g->mapcap || (d->map = gs_alloc(ctx, g->mapcap * sizeof *d->map))) &&
              (!g->nodemapcap || (d->nodemap = gs_alloc(ctx, g->nodemapcap * sizeof *d->nodemap)));
    if (ok && parent && !register_sub(parent, d))
        ok = false;
    if (!ok) {
        gs_dealloc(ctx, d->nodes);   /* d is not a sub yet, or parent frees it: see below */
        d->nodes = NULL;
        if (parent && parent->nsubs && parent->subs[parent->nsubs - 1] == d)
            parent->nsubs--;
        gs_ir_free(d);
        return NULL;
    }
    if (g->nnodes)
        memcpy(d->nodes, g->nodes, (size_t)g->nnodes * sizeof *d->nodes);
    if (g->mapcap)
        memcpy(d->map, g->map, g->mapcap * sizeof *d->map);
    if (g->nodemapcap)
        memcpy(d->nodemap, g->nodemap, g->nodemapcap * sizeof *d->nodemap);
    char *cur = gs_arena_take(&d->arena, lists_size(g));
    if (!cur) {   /* no values yet: nothing of g's is freed */
        if (!parent)
            gs_ir_free(d);
        return NULL;   /* a subgraph stays registered with its parent, which frees it */
    }
    for (gs_id v = 0; v < g->nvalues; v++) {
        d->values[v] = g->values[v];
        clone_value(&d->values[v], &cur);
    }
    d->nvalues = g->nvalues;
    for (gs_id i = 0; i < g->nnodes && ok; i++)
        ok = clone_node(d, &d->nodes[i], &cur);
    d->inputs = dup_ids(&d->arena, g->inputs, g->ninputs, &ok);
    d->outputs = dup_ids(&d->arena, g->outputs, g->noutputs, &ok);
    d->inits = dup_ids(&d->arena, g->inits, g->ninits, &ok);
    d->infos = dup_ids(&d->arena, g->infos, g->ninfos, &ok);
    if (!ok) {
        if (!parent)
            gs_ir_free(d);
        return NULL;   /* a subgraph stays registered with its parent, which frees it */
    }
    return d;
}

/* ---- new values for rewrites ------------------------------------------ */

/* Is name a value name of g's subgraphs, at any depth? */
static bool used_below(const gs_graph *g, const char *name)
{
    for (int32_t i = 0; i < g->nsubs; i++)
        if (gs_ir_find(g->subs[i], name) != GS_NONE || used_below(g->subs[i], name))
            return true;
    return false;
}

/* Is name free for a new value of g? ONNX wants a name defined once along
 * every path of nested scopes: not in g, its enclosing graphs or its bodies. */
static bool name_free(const gs_graph *g, const char *name)
{
    for (const gs_graph *a = g; a; a = a->parent)
        if (gs_ir_find(a, name) != GS_NONE)
            return false;
    return !used_below(g, name);
}

const char *gs_ir_unique_name(gs_graph *g, const char *base)
{
    if (name_free(g, base))
        return gs_arena_strdup(g->perm, base);
    for (int i = 1;; i++) {
        char *s = gs_arena_printf(g->perm, "%s_%d", base, i);
        if (!s || name_free(g, s))
            return s;
    }
}

const char *gs_ir_unique_node_name(gs_graph *g, const char *base)
{
    if (name_free(g, base) && !gs_ir_node_name_taken(g, base))
        return gs_arena_strdup(g->perm, base);
    for (int i = 1;; i++) {
        char *s = gs_arena_printf(g->perm, "%s_%d", base, i);
        if (!s || (name_free(g, s) && !gs_ir_node_name_taken(g, s)))
            return s;
    }
}

static gs_status append_id(gs_graph *g, gs_id **list, int32_t *n, gs_id v)
{
    gs_id *l = gs_arena_alloc(&g->arena, ((size_t)*n + 1) * sizeof *l);
    if (!l)
        return gs_nomem(g->ctx);
    if (*n)
        memcpy(l, *list, (size_t)*n * sizeof *l);
    l[(*n)++] = v;
    *list = l;
    return GS_OK;
}

gs_id gs_ir_add_init(gs_graph *g, const char *base, gs_tensor *t)
{
    const char *name = gs_ir_unique_name(g, base);
    gs_id v = name ? gs_ir_add_value(g, name, false) : GS_NONE;
    if (!name)
        gs_nomem(g->ctx);
    if (v == GS_NONE)
        return GS_NONE;
    gs_value *val = &g->values[v];
    val->init = t;
    val->dtype = t->dtype;
    val->rank = t->rank;
    val->dims = gs_arena_alloc(&g->arena, (size_t)(t->rank ? t->rank : 1) * sizeof(gs_dim));
    if (!val->dims || append_id(g, &g->inits, &g->ninits, v) != GS_OK) {
        gs_nomem(g->ctx);
        return GS_NONE;
    }
    for (int k = 0; k < t->rank; k++)
        g->values[v].dims[k].v = t->dims[k];
    g->values[v].flags |= GS_V_TYPED;
    t->name = g->values[v].name;
    return v;
}

void gs_ir_drop_unused_inits(gs_graph *g)
{
    for (int32_t i = 0; i < g->ninits; i++) {
        gs_value *v = &g->values[g->inits[i]];
        if (!v->nuses && !(v->flags & (GS_V_OUTPUT | GS_V_INPUT)))
            v->flags |= GS_V_DEAD;
    }
}

void gs_ir_swap_names(gs_graph *g, gs_id a, gs_id b)
{
    gs_id *sa = map_slot(g, g->values[a].name), *sb = map_slot(g, g->values[b].name);
    const char *name = g->values[a].name;
    g->values[a].name = g->values[b].name;
    g->values[b].name = name;
    g->values[a].flags |= GS_V_TYPED;   /* value_info is rebuilt under the new names */
    g->values[b].flags |= GS_V_TYPED;
    if (*sa == a && *sb == b) {
        *sa = b, *sb = a;
        return;
    }
    memset(g->map, 0xff, g->mapcap * sizeof *g->map);   /* names repeated: rebuild */
    for (gs_id i = 0; i < g->nvalues; i++)
        *map_slot(g, g->values[i].name) = i;
}

gs_status gs_ir_rename(gs_graph *g, gs_id v, const char *name)
{
    if (gs_ir_find(g, name) != GS_NONE)
        return gs_err(g->ctx, GS_ERR_INTERNAL, "value name '%s' is taken", name);
    const char *copy = gs_arena_strdup(g->perm, name);
    if (!copy)
        return gs_nomem(g->ctx);
    g->values[v].name = copy;
    g->values[v].flags |= GS_V_TYPED;   /* its value_info is rebuilt under the new name */
    memset(g->map, 0xff, g->mapcap * sizeof *g->map);
    for (gs_id i = 0; i < g->nvalues; i++)
        *map_slot(g, g->values[i].name) = i;
    return GS_OK;
}
