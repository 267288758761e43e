/*
 * region.c - independent regions of a large graph, so the search time grows
 * about linearly with the graph.
 *
 * The nodes are cut, in topological order, into runs of a bounded size at
 * narrow points (few non-constant values cross the cut: layer boundaries in
 * a CNN or a transformer). A region is extracted into a small standalone
 * graph: values it reads from outside become inputs (constants stay
 * constants), values it defines that are read outside (or are graph outputs)
 * become outputs, so no rewrite inside can remove them. After the search,
 * the best region graph is spliced back in place of the region's nodes.
 */
#include "gs_region.h"

#include <string.h>

/* ---- planning ---------------------------------------------------------- */

/* crossing[i]: non-constant values defined before position i and read at
 * or after it. */
static void crossings(const gs_graph *g, const gs_id *order, int n, const int *pos, int *crossing)
{
    memset(crossing, 0, ((size_t)n + 1) * sizeof *crossing);
    for (gs_id v = 0; v < g->nvalues; v++) {
        const gs_value *val = &g->values[v];
        if (val->producer == GS_NONE || (val->flags & GS_V_DEAD) || val->nuses == 0)
            continue;
        int p = pos[val->producer], last = p;
        for (int32_t u = 0; u < val->nuses; u++)
            if (pos[val->uses[u]] > last)
                last = pos[val->uses[u]];
        if (val->flags & GS_V_OUTPUT)
            last = n - 1;
        for (int i = p + 1; i <= last; i++)   /* short ranges in practice */
            crossing[i]++;
    }
    (void)order;
}

int gs_region_plan(const gs_graph *g, const gs_id *order, int n, int min_size, int max_size,
                   int *starts)
{
    int *pos = gs_alloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *pos);
    int *crossing = gs_alloc(g->ctx, ((size_t)n + 1) * sizeof *crossing);
    if (!pos || !crossing) {
        gs_dealloc(g->ctx, pos);
        gs_dealloc(g->ctx, crossing);
        return -1;
    }
    for (int i = 0; i < n; i++)
        pos[order[i]] = i;
    crossings(g, order, n, pos, crossing);
    int count = 0, start = 0;
    starts[count++] = 0;
    while (n - start > max_size) {
        int best = start + max_size;   /* the narrowest cut in [start+min, start+max] */
        for (int i = start + min_size; i <= start + max_size && i < n; i++)
            if (crossing[i] < crossing[best])
                best = i;
        starts[count++] = best;
        start = best;
    }
    starts[count] = n;
    gs_dealloc(g->ctx, pos);
    gs_dealloc(g->ctx, crossing);
    return count;
}

/* ---- extraction -------------------------------------------------------- */

static gs_status list_add(gs_graph *s, gs_id **list, int32_t *n, gs_id v)
{
    gs_id *l = gs_arena_alloc(&s->arena, ((size_t)*n + 1) * sizeof *l);
    if (!l)
        return gs_nomem(s->ctx);
    if (*n)
        memcpy(l, *list, (size_t)*n * sizeof *l);
    l[(*n)++] = v;
    *list = l;
    return GS_OK;
}

/* The region-graph value for big-graph value v (created on first use). */
static gs_id sub_value(gs_region *r, gs_id v, bool as_input)
{
    if (r->map[v] != GS_NONE)
        return r->map[v];
    const gs_value *bv = &r->g->values[v];
    gs_graph *s = r->sub;
    gs_id sv = gs_ir_add_value(s, bv->name, false);
    if (sv == GS_NONE)
        return GS_NONE;
    gs_value *val = &s->values[sv];
    val->dtype = bv->dtype;
    val->rank = bv->rank;
    val->dims = bv->dims;
    val->flags |= bv->flags & GS_V_TYPED;
    r->map[v] = sv;
    if (as_input) {
        if (bv->init) {
            val->init = bv->init;
            if (list_add(s, &s->inits, &s->ninits, sv) != GS_OK)
                return GS_NONE;
        } else {
            val->flags |= GS_V_INPUT;
            if (list_add(s, &s->inputs, &s->ninputs, sv) != GS_OK)
                return GS_NONE;
        }
    }
    return sv;
}

static bool in_region(const gs_region *r, gs_id node)
{
    return node != GS_NONE && r->member[node];
}

/* True when v (defined in the region) is needed outside it. */
static bool escapes(const gs_region *r, gs_id v)
{
    const gs_value *val = &r->g->values[v];
    if (val->flags & GS_V_OUTPUT)
        return true;
    for (int32_t u = 0; u < val->nuses; u++)
        if (!in_region(r, val->uses[u]))
            return true;
    return false;
}

static gs_status copy_node(gs_region *r, gs_id id)
{
    const gs_node *n = &r->g->nodes[id];
    gs_id in[64], out[64];
    if (n->nin > 64 || n->nout > 64 || n->ncaps)
        return GS_ERR_UNSUPPORTED;   /* caller keeps such nodes out of regions */
    for (int k = 0; k < n->nin; k++) {
        in[k] = n->in[k] == GS_NONE ? GS_NONE : sub_value(r, n->in[k], !in_region(r, r->g->values[n->in[k]].producer));
        if (n->in[k] != GS_NONE && in[k] == GS_NONE)
            return r->g->ctx->last;
    }
    for (int k = 0; k < n->nout; k++) {
        out[k] = n->out[k] == GS_NONE ? GS_NONE : sub_value(r, n->out[k], false);
        if (n->out[k] != GS_NONE && out[k] == GS_NONE)
            return r->g->ctx->last;
    }
    gs_id sid = gs_ir_add_node(r->sub, n->op, n->domain, n->name, in, n->nin, out, n->nout);
    if (sid == GS_NONE)
        return r->g->ctx->last;
    gs_node *sn = &r->sub->nodes[sid];
    sn->attrs = n->attrs;       /* shared, read-only: rewrites make new attribute lists */
    sn->nattrs = n->nattrs;
    sn->def = n->def;
    sn->hash_self = n->hash_self;   /* the same op, domain and attributes */
    sn->src = n->src;
    return GS_OK;
}

static gs_status mark_outputs(gs_region *r)
{
    gs_graph *s = r->sub;
    r->outs = gs_arena_alloc(&s->arena, ((size_t)s->nvalues + 1) * sizeof *r->outs);
    if (!r->outs)
        return gs_nomem(s->ctx);
    for (gs_id v = 0; v < r->g->nvalues; v++) {
        gs_id sv = r->map[v];
        if (sv == GS_NONE || (s->values[sv].flags & GS_V_INPUT) || s->values[sv].init)
            continue;
        if (escapes(r, v)) {
            s->values[sv].flags |= GS_V_OUTPUT;
            r->outs[s->noutputs] = v;
            gs_status st = list_add(s, &s->outputs, &s->noutputs, sv);
            if (st != GS_OK)
                return st;
        }
    }
    return GS_OK;
}

/* True when node id can go in a region (no subgraphs, few operands). */
bool gs_region_ok(const gs_graph *g, gs_id id)
{
    const gs_node *n = &g->nodes[id];
    return !n->ncaps && n->nin <= 64 && n->nout <= 64;
}

gs_status gs_region_extract(gs_region *r, gs_graph *g, const gs_id *nodes, int n)
{
    memset(r, 0, sizeof *r);
    r->g = g;
    r->nodes = nodes;
    r->n = n;
    r->map = gs_alloc(g->ctx, ((size_t)g->nvalues + 1) * sizeof *r->map);
    r->member = gs_zalloc(g->ctx, (size_t)g->nnodes + 1);
    r->sub = gs_ir_new(g->ctx, NULL);
    if (!r->map || !r->member || !r->sub) {
        gs_region_free(r);
        return gs_nomem(g->ctx);
    }
    gs_arena_unref(r->sub->perm);
    r->sub->perm = gs_arena_ref(g->perm);   /* names and new constants live with g */
    r->sub->opset = g->opset;
    r->sub->name = g->name;
    memset(r->map, 0xff, ((size_t)g->nvalues + 1) * sizeof *r->map);
    for (int i = 0; i < n; i++)
        r->member[nodes[i]] = 1;
    gs_status st = GS_OK;
    for (int i = 0; i < n && st == GS_OK; i++)
        st = copy_node(r, nodes[i]);
    if (st == GS_OK)
        st = mark_outputs(r);
    if (st != GS_OK)
        gs_region_free(r);
    return st;
}

void gs_region_free(gs_region *r)
{
    gs_ctx *ctx = r->g ? r->g->ctx : NULL;
    if (!ctx)
        return;
    gs_ir_free(r->sub);
    gs_dealloc(ctx, r->map);
    gs_dealloc(ctx, r->member);
    r->sub = NULL;
    r->map = NULL;
    r->member = NULL;
}

/* ---- splicing back ----------------------------------------------------- */

/* The big-graph value for region-graph value sv of the result graph res. */
static gs_id big_value(gs_region *r, const gs_graph *res, gs_id sv, gs_id *back)
{
    if (back[sv] != GS_NONE)
        return back[sv];
    const gs_value *val = &res->values[sv];
    gs_id v = gs_ir_add_value(r->g, gs_ir_unique_name(r->g, val->name), false);
    if (v == GS_NONE)
        return GS_NONE;
    gs_value *bv = &r->g->values[v];
    bv->dtype = val->dtype;
    bv->rank = val->rank;
    bv->dims = val->dims && val->rank > 0
                   ? gs_arena_memdup(&r->g->arena, val->dims, (size_t)val->rank * sizeof(gs_dim))
                   : NULL;
    bv->flags |= val->flags & GS_V_TYPED;
    if (val->init) {
        bv->init = val->init;
        gs_id *l = gs_arena_alloc(&r->g->arena, ((size_t)r->g->ninits + 1) * sizeof *l);
        if (!l)
            return GS_NONE;
        memcpy(l, r->g->inits, (size_t)r->g->ninits * sizeof *l);
        l[r->g->ninits++] = v;
        r->g->inits = l;
    }
    back[sv] = v;
    return v;
}

/* Take the region's nodes out of g; values that leave the region keep
 * their ids (and consumers) and get a new producer from the result. */
static void remove_region(gs_region *r)
{
    gs_graph *g = r->g;
    for (int i = 0; i < r->n; i++) {
        gs_node *n = &g->nodes[r->nodes[i]];
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] != GS_NONE)
                gs_ir_del_use(g, n->in[k], r->nodes[i]);
        for (int k = 0; k < n->nout; k++)
            if (n->out[k] != GS_NONE) {
                gs_value *v = &g->values[n->out[k]];
                v->producer = GS_NONE;
                if (r->map[n->out[k]] == GS_NONE || !(r->sub->values[r->map[n->out[k]]].flags & GS_V_OUTPUT))
                    v->flags |= GS_V_DEAD;
            }
        n->flags |= GS_N_DEAD;
    }
}

static gs_status add_result_node(gs_region *r, const gs_graph *res, gs_id id, gs_id *back)
{
    const gs_node *n = &res->nodes[id];
    gs_id in[64], out[64];
    if (n->nin > 64 || n->nout > 64)
        return gs_err(r->g->ctx, GS_ERR_INTERNAL, "node '%s' has too many operands", n->name);
    for (int k = 0; k < n->nin; k++)
        if ((in[k] = n->in[k] == GS_NONE ? GS_NONE : big_value(r, res, n->in[k], back)) == GS_NONE &&
            n->in[k] != GS_NONE)
            return gs_nomem(r->g->ctx);
    for (int k = 0; k < n->nout; k++)
        if ((out[k] = n->out[k] == GS_NONE ? GS_NONE : big_value(r, res, n->out[k], back)) == GS_NONE &&
            n->out[k] != GS_NONE)
            return gs_nomem(r->g->ctx);
    /* A name new in the region may be a live node's elsewhere in g (the
     * region graph knew only its own nodes); its own old nodes are dead. */
    const char *name = n->name;
    gs_id holder = *name ? gs_ir_node_named(r->g, name) : GS_NONE;
    if (holder != GS_NONE && !(r->g->nodes[holder].flags & GS_N_DEAD) &&
        !(name = gs_ir_unique_node_name(r->g, name)))
        return gs_nomem(r->g->ctx);
    gs_id nid = gs_ir_add_node(r->g, n->op, n->domain, name, in, n->nin, out, n->nout);
    if (nid == GS_NONE)
        return r->g->ctx->last;
    gs_node *bn = &r->g->nodes[nid];
    bn->def = n->def;
    bn->src = n->src;
    bn->nattrs = n->nattrs;
    bn->attrs = n->nattrs ? gs_arena_memdup(&r->g->arena, n->attrs, (size_t)n->nattrs * sizeof(gs_attr))
                          : NULL;
    if (n->nattrs && !bn->attrs)
        return gs_nomem(r->g->ctx);
    return GS_OK;
}

/* Region inputs and constants keep their ids (a result graph descends from
 * the region graph by clones, so its ids are stable); output i of the
 * result stands for the big-graph value of region output i. Two outputs
 * merged into one value cannot be spliced (GS_ERR_UNSUPPORTED, g intact). */
static gs_status map_boundary(gs_region *r, const gs_graph *res, gs_id *back)
{
    memset(back, 0xff, ((size_t)res->nvalues + 1) * sizeof *back);
    for (gs_id v = 0; v < r->g->nvalues; v++) {
        gs_id sv = r->map[v];
        if (sv != GS_NONE && ((res->values[sv].flags & GS_V_INPUT) || res->values[sv].init))
            back[sv] = v;
    }
    for (int32_t i = 0; i < res->noutputs; i++) {
        gs_id sv = res->outputs[i];
        if (back[sv] != GS_NONE && back[sv] != r->outs[i])
            return GS_ERR_UNSUPPORTED;
        back[sv] = r->outs[i];
    }
    return GS_OK;
}

gs_status gs_region_splice(gs_region *r, const gs_graph *res)
{
    gs_ctx *ctx = r->g->ctx;
    gs_id *back = gs_alloc(ctx, ((size_t)res->nvalues + 1) * sizeof *back);
    gs_id *order = gs_alloc(ctx, ((size_t)res->nnodes + 1) * sizeof *order);
    int n = back && order ? gs_ir_topo(res, order) : -2;
    gs_status st = n >= 0 ? GS_OK : n == -2 ? gs_nomem(ctx)
                                             : gs_err(ctx, GS_ERR_INTERNAL, "region has a cycle");
    if (st == GS_OK)
        st = map_boundary(r, res, back);
    if (st == GS_OK) {
        remove_region(r);
        for (int i = 0; i < n && st == GS_OK; i++)
            st = add_result_node(r, res, order[i], back);
    }
    gs_dealloc(ctx, back);
    gs_dealloc(ctx, order);
    return st;
}
