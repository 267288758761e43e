/*
 * subgraph.c - control flow seen from the graph that holds it: counting and
 * pricing the bodies of If, Loop and Scan nodes, dropping captures no body
 * reads any more, and replacing control flow whose outcome is known:
 *
 *   If with a constant condition       -> the taken branch, inlined
 *   Loop with a constant trip count 1  -> its body once, inlined
 *   Loop with a constant trip count 0  -> its initial values
 *
 * and moving an initializer that only bodies read into those bodies (under
 * its own name), where folding can use it, and a Loop or Scan body's nodes
 * that compute the same thing in every iteration out of it.
 *
 * An inlined body's values get names unused anywhere along the scopes they
 * land in; its outputs reach the node's outputs through Identity nodes that
 * the cleanup rules remove where the names allow. optimize.c drives the
 * pipeline inside every body.
 */
#include "gs_subgraph.h"

#include <string.h>

/* Calls fn on each subgraph of node n. */
#define EACH_BODY(n, sub, body)                                                                  \
    for (int a_ = 0; a_ < (n)->nattrs; a_++)                                                     \
        for (size_t j_ = 0; j_ < ((n)->attrs[a_].type == GS_A_GRAPH ? 1                           \
                                  : (n)->attrs[a_].type == GS_A_GRAPHS ? (n)->attrs[a_].n : 0); j_++) { \
            gs_graph *sub = (n)->attrs[a_].type == GS_A_GRAPH ? (n)->attrs[a_].g : (n)->attrs[a_].gs[j_]; \
            if (sub) { body }                                                                    \
        }

static bool live(const gs_node *n)
{
    return !(n->flags & GS_N_DEAD);
}

static bool is_op(const gs_node *n, const char *op)
{
    return live(n) && (!*n->domain || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op, op);
}

int gs_sub_nodes(const gs_graph *g)
{
    int count = 0;
    for (gs_id i = 0; i < g->nnodes; i++) {
        const gs_node *n = &g->nodes[i];
        if (live(n))
            EACH_BODY(n, sub, count += gs_ir_live_nodes(sub) + gs_sub_nodes(sub);)
    }
    return count;
}

/* The constant int64 scalar of value v (an initializer), or -1. */
static int64_t const_count(const gs_graph *g, gs_id v)
{
    const gs_tensor *t = v == GS_NONE ? NULL : g->values[v].init;
    return t && t->data && gs_tensor_numel(t) == 1 ? gs_tensor_get_i(t, 0) : -1;
}

/* How many times node n runs its body: a Loop's constant trip count, a
 * Scan's known sequence length, else 1. */
static double trips(const gs_graph *g, const gs_node *n)
{
    if (is_op(n, "Loop") && n->nin > 0) {
        int64_t m = const_count(g, n->in[0]);
        return m >= 0 ? (double)m : 1;
    }
    int64_t ns = gs_attr_int(n, "num_scan_inputs", 0);
    if (is_op(n, "Scan") && ns > 0 && ns <= n->nin) {
        const gs_value *x = &g->values[n->in[n->nin - ns]];
        int a = x->rank > 0 ? gs_axis(0, x->rank) : -1;
        const int64_t *axes;
        if (gs_attr_ints(n, "scan_input_axes", &axes) > 0)
            a = gs_axis(axes[0], x->rank);
        return a >= 0 && x->dims[a].v > 0 ? (double)x->dims[a].v : 1;
    }
    return 1;
}

double gs_sub_cost(const gs_cost_model *cm, const gs_graph *g)
{
    double cost = gs_cost_graph(cm, g);
    for (gs_id i = 0; i < g->nnodes; i++) {
        const gs_node *n = &g->nodes[i];
        if (!live(n) || !n->nattrs)
            continue;
        double most = 0, all = 0;   /* If: the dearer branch; Loop, Scan: the body */
        EACH_BODY(n, sub, {
            double c = gs_sub_cost(cm, sub);
            most = c > most ? c : most;
            all += c;
        })
        cost += is_op(n, "If") ? most : all * trips(g, n);
    }
    return cost;
}

/* ---- captures ---------------------------------------------------------- */

/* Does a body of n still read outer value v (a use, or an output)? */
static bool still_read(const gs_node *n, gs_id v)
{
    bool read = false;
    EACH_BODY(n, sub, {
        for (gs_id i = 0; i < sub->nvalues && !read; i++) {
            const gs_value *s = &sub->values[i];
            read = (s->flags & GS_V_OUTER) && s->outer == v && (s->nuses > 0 || (s->flags & GS_V_OUTPUT));
        }
    })
    return read;
}

void gs_sub_prune_caps(gs_graph *g)
{
    for (gs_id i = 0; i < g->nnodes; i++) {
        gs_node *n = &g->nodes[i];
        for (int k = 0; live(n) && k < n->ncaps;) {
            if (still_read(n, n->caps[k])) {
                k++;
                continue;
            }
            gs_ir_del_use(g, n->caps[k], i);
            n->caps[k] = n->caps[--n->ncaps];
        }
    }
}

/* ---- constants moved into the bodies that read them -------------------- */

enum { SINK_SHARED_MAX = 4096 };   /* bytes copied into each of several bodies at most */

/* The node all of whose uses of v are captures (none an input), or GS_NONE. */
static gs_id sole_capturer(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    if (!val->nuses)
        return GS_NONE;
    gs_id id = val->uses[0];
    const gs_node *n = &g->nodes[id];
    int reads = 0;
    for (int k = 0; k < n->ncaps; k++)
        reads += n->caps[k] == v;
    for (int32_t u = 1; u < val->nuses; u++)
        if (val->uses[u] != id)
            return GS_NONE;
    return reads == val->nuses ? id : GS_NONE;
}

/* The outer value of sub standing for v (not a body output), or GS_NONE. */
static gs_id outer_of(const gs_graph *sub, gs_id v, bool *blocked)
{
    for (gs_id i = 0; i < sub->nvalues; i++)
        if ((sub->values[i].flags & GS_V_OUTER) && sub->values[i].outer == v) {
            *blocked |= (sub->values[i].flags & GS_V_OUTPUT) != 0;
            return i;
        }
    return GS_NONE;
}

/* Outer value sv of sub becomes an initializer of sub holding t (same name). */
static gs_status make_local(gs_graph *sub, gs_id sv, gs_tensor *t)
{
    gs_value *val = &sub->values[sv];
    gs_id *inits = gs_arena_alloc(&sub->arena, ((size_t)sub->ninits + 1) * sizeof *inits);
    gs_dim *dims = gs_arena_alloc(&sub->arena, (size_t)(t->rank ? t->rank : 1) * sizeof *dims);
    if (!inits || !dims)
        return gs_nomem(sub->ctx);
    if (sub->ninits)
        memcpy(inits, sub->inits, (size_t)sub->ninits * sizeof *inits);
    inits[sub->ninits++] = sv;
    sub->inits = inits;
    for (int d = 0; d < t->rank; d++)
        dims[d] = (gs_dim){ t->dims[d], NULL };
    val->flags = (val->flags & ~(uint32_t)GS_V_OUTER) | GS_V_TYPED;
    val->outer = GS_NONE;
    val->init = t;
    val->dtype = t->dtype, val->rank = t->rank, val->dims = dims;
    return GS_OK;
}

/* Initializer v, read by no node but through the bodies of node id, moves into them. */
static gs_status sink(gs_graph *g, gs_id v, gs_id id, int *count)
{
    gs_node *n = &g->nodes[id];
    int readers = 0;
    bool blocked = false;
    EACH_BODY(n, sub, readers += outer_of(sub, v, &blocked) != GS_NONE;)
    if (blocked || !readers || (readers > 1 && g->values[v].init->nbytes > SINK_SHARED_MAX))
        return GS_OK;
    EACH_BODY(n, sub, {
        gs_id sv = outer_of(sub, v, &blocked);
        gs_status st = sv == GS_NONE ? GS_OK : make_local(sub, sv, g->values[v].init);
        if (st != GS_OK)
            return st;
    })
    for (int k = 0; k < n->ncaps;)
        if (n->caps[k] == v) {
            gs_ir_del_use(g, v, id);
            n->caps[k] = n->caps[--n->ncaps];
        } else {
            k++;
        }
    (*count)++;
    return GS_OK;
}

/* Small initializer v, read by several nodes or by nodes of g too: a copy
 * goes into the bodies of each node that captures it, so that the work a
 * body does on it folds there (an Unsqueeze of a shared scalar), as ONNX
 * Runtime folds it; the initializer stays while g's nodes read it. */
static gs_status sink_small(gs_graph *g, gs_id v, int *count)
{
    enum { MAX_CAPTURERS = 64 };
    gs_id ids[MAX_CAPTURERS];
    int nids = 0;
    const gs_value *val = &g->values[v];
    for (int32_t u = 0; u < val->nuses; u++) {
        gs_id id = val->uses[u];
        const gs_node *n = &g->nodes[id];
        bool caps = false, seen = false;
        for (int k = 0; k < n->ncaps; k++)
            caps |= n->caps[k] == v;
        for (int j = 0; j < nids; j++)
            seen |= ids[j] == id;
        if (caps && !seen) {
            if (nids == MAX_CAPTURERS)
                return GS_OK;
            ids[nids++] = id;
        }
    }
    gs_status st = GS_OK;
    for (int j = 0; j < nids && st == GS_OK; j++)
        st = sink(g, v, ids[j], count);
    return st;
}

gs_status gs_sub_sink_consts(gs_graph *g, int *count)
{
    gs_status st = GS_OK;
    for (int32_t i = 0; i < g->ninits && st == GS_OK; i++) {
        gs_id v = g->inits[i];
        const gs_value *val = &g->values[v];
        if ((val->flags & (GS_V_DEAD | GS_V_INPUT | GS_V_OUTPUT | GS_V_OUTER | GS_V_SPARSE)) || !val->init ||
            !val->init->data)
            continue;
        gs_id id = sole_capturer(g, v);
        if (id != GS_NONE)
            st = sink(g, v, id, count);
        else if (val->init->nbytes <= SINK_SHARED_MAX)
            st = sink_small(g, v, count);
    }
    return st;
}

/* ---- inlining ---------------------------------------------------------- */

typedef struct inl {
    gs_model *m;
    gs_graph *g;        /* the graph receiving the body */
    gs_graph *b;        /* the body */
    gs_id *map;         /* body value -> g value, GS_NONE until made */
} inl;

/* A copy of tensor t that g can list under any name (t's TensorProto, if
 * any, carries its old name, so the copy does not point at it). */
static gs_tensor *renamed_tensor(gs_graph *g, const gs_tensor *t)
{
    gs_tensor *c = gs_arena_memdup(g->perm, t, sizeof *t);
    if (c) {
        c->src = NULL;
        c->flags &= ~(uint32_t)GS_T_OWNED;   /* the data stays with its owner */
    }
    return c;
}

/* The value of g standing for body value bv, made on first need. */
static gs_status map_value(inl *s, gs_id bv)
{
    if (bv == GS_NONE || s->map[bv] != GS_NONE)
        return GS_OK;
    const gs_value *val = &s->b->values[bv];
    if (val->flags & GS_V_OUTER) {
        s->map[bv] = val->outer;
        return GS_OK;
    }
    if (val->init) {
        gs_tensor *t = renamed_tensor(s->g, val->init);
        s->map[bv] = t ? gs_ir_add_init(s->g, val->name, t) : GS_NONE;
        return s->map[bv] != GS_NONE ? GS_OK : t ? s->g->ctx->last : gs_nomem(s->g->ctx);
    }
    const char *name = gs_ir_unique_name(s->g, val->name);
    gs_id v = name ? gs_ir_add_value(s->g, name, false) : GS_NONE;
    if (v == GS_NONE)
        return name ? s->g->ctx->last : gs_nomem(s->g->ctx);
    gs_value *nv = &s->g->values[v];
    nv->dtype = val->dtype;
    nv->rank = val->rank;
    if (val->rank > 0 && val->dims && !(nv->dims = gs_arena_memdup(&s->g->arena, val->dims,
                                                                  (size_t)val->rank * sizeof *val->dims)))
        return gs_nomem(s->g->ctx);
    nv->flags |= GS_V_TYPED;
    s->map[bv] = v;
    return GS_OK;
}

/* Room for extra more subgraphs in g's list. */
static gs_status reserve_subs(gs_graph *g, int32_t extra)
{
    if (g->nsubs + extra <= g->capsubs)
        return GS_OK;
    int32_t cap = g->nsubs + extra + 4;
    gs_graph **subs = gs_realloc(g->ctx, g->subs, (size_t)cap * sizeof *subs);
    if (!subs)
        return gs_nomem(g->ctx);
    g->subs = subs, g->capsubs = cap;
    return GS_OK;
}

/* Add sub to the subgraphs g owns (never fails once reserve_subs made room). */
static gs_status own_sub(gs_graph *g, gs_graph *sub)
{
    gs_status st = reserve_subs(g, 1);
    if (st == GS_OK)
        g->subs[g->nsubs++] = sub;
    return st;
}

/* Take sub out of the subgraphs g owns. */
static void disown_sub(gs_graph *g, const gs_graph *sub)
{
    for (int32_t k = 0; k < g->nsubs; k++)
        if (g->subs[k] == sub)
            g->subs[k] = g->subs[--g->nsubs];
}

/* Outer value v of sub now reads a value of another name: sub (and the
 * bodies inside it that read v) read it under that name. Where sub already
 * reads that name, v's readers move to it. */
static gs_status rename_outer(gs_graph *sub, gs_id v, const char *name)
{
    if (!strcmp(sub->values[v].name, name))
        return GS_OK;
    gs_id same = gs_ir_find(sub, name);
    if (same != GS_NONE)
        return (sub->values[same].flags & GS_V_OUTER) && sub->values[same].outer == sub->values[v].outer
                   ? gs_ir_replace_uses(sub, v, same)
                   : gs_err(sub->ctx, GS_ERR_UNSUPPORTED, "a body reads '%s' already", name);
    gs_status st = gs_ir_rename(sub, v, name);
    for (gs_id i = 0; i < sub->nnodes && st == GS_OK; i++) {
        const gs_node *n = &sub->nodes[i];
        bool reads = false;
        for (int k = 0; k < n->ncaps; k++)
            reads |= n->caps[k] == v;
        if (reads && live(n))
            EACH_BODY(n, inner, {
                for (gs_id j = 0; j < inner->nvalues && st == GS_OK; j++)
                    if ((inner->values[j].flags & GS_V_OUTER) && inner->values[j].outer == v)
                        st = rename_outer(inner, j, name);
            })
    }
    return st;
}

/* Subgraphs of an inlined node now sit in g: their outer names point at g's
 * values, under those values' names. */
static gs_status move_bodies(inl *s, gs_node *n, gs_id id)
{
    EACH_BODY(n, sub, {
        for (gs_id i = 0; i < sub->nvalues; i++) {
            gs_value *sv = &sub->values[i];
            gs_status st = sv->flags & GS_V_OUTER ? map_value(s, sv->outer) : GS_OK;
            if (st != GS_OK)
                return st;
            if (sv->flags & GS_V_OUTER) {
                sv->outer = s->map[sv->outer];
                if ((st = rename_outer(sub, i, s->g->values[sv->outer].name)) != GS_OK)
                    return st;
            }
        }
        gs_status st = own_sub(s->g, sub);
        if (st != GS_OK)
            return st;
        disown_sub(s->b, sub);
        sub->parent = s->g;
    })
    for (int k = 0; k < n->ncaps; k++) {
        n->caps[k] = s->map[n->caps[k]];
        gs_status st = gs_ir_add_use(s->g, n->caps[k], id);
        if (st != GS_OK)
            return st;
    }
    return GS_OK;
}

/* Copy body node bn into g. */
static gs_status copy_node(inl *s, const gs_node *bn)
{
    gs_id in[64], out[16];
    if (bn->nin > 64 || bn->nout > 16)
        return gs_err(s->g->ctx, GS_ERR_UNSUPPORTED, "node '%s' has too many operands to inline", bn->name);
    gs_status st = GS_OK;
    for (int k = 0; k < bn->nin && st == GS_OK; k++)
        if ((st = map_value(s, bn->in[k])) == GS_OK)
            in[k] = bn->in[k] == GS_NONE ? GS_NONE : s->map[bn->in[k]];
    for (int k = 0; k < bn->ncaps && st == GS_OK; k++)
        st = map_value(s, bn->caps[k]);
    for (int k = 0; k < bn->nout && st == GS_OK; k++)
        if ((st = map_value(s, bn->out[k])) == GS_OK)
            out[k] = bn->out[k] == GS_NONE ? GS_NONE : s->map[bn->out[k]];
    const char *name = st != GS_OK ? NULL : *bn->name ? gs_ir_unique_node_name(s->g, bn->name) : "";
    if (st != GS_OK || !name)
        return st != GS_OK ? st : gs_nomem(s->g->ctx);
    gs_id id = gs_ir_add_node(s->g, bn->op, bn->domain, name, in, bn->nin, out, bn->nout);
    if (id == GS_NONE)
        return s->g->ctx->last;
    gs_node *n = &s->g->nodes[id];
    n->def = bn->def;
    n->nattrs = bn->nattrs;
    n->attrs = bn->nattrs ? gs_arena_memdup(&s->g->arena, bn->attrs, (size_t)bn->nattrs * sizeof *bn->attrs) : NULL;
    n->ncaps = bn->ncaps;
    n->caps = bn->ncaps ? gs_arena_memdup(&s->g->arena, bn->caps, (size_t)bn->ncaps * sizeof *bn->caps) : NULL;
    if ((bn->nattrs && !n->attrs) || (bn->ncaps && !n->caps))
        return gs_nomem(s->g->ctx);
    return move_bodies(s, n, id);
}

/* A new node `op(src) -> dst` in g (Identity, or Unsqueeze on axis 0). */
static gs_status forward(inl *s, const char *op, gs_id src, gs_id dst)
{
    gs_id in[2] = { src, GS_NONE };
    int nin = 1;
    if (!strcmp(op, "Unsqueeze") && s->g->opset >= 13) {
        gs_tensor *t = gs_arena_alloc(s->g->perm, sizeof *t);
        int64_t *zero = gs_arena_alloc(s->g->perm, sizeof *zero);
        if (!t || !zero)
            return gs_nomem(s->g->ctx);
        *t = (gs_tensor){ .dtype = GS_INT64, .rank = 1, .dims = { 1 }, .data = zero, .nbytes = 8 };
        if ((in[1] = gs_ir_add_init(s->g, "unsqueeze_axes", t)) == GS_NONE)
            return s->g->ctx->last;
        nin = 2;
    }
    s->g->values[dst].flags &= ~(uint32_t)GS_V_DEAD;   /* removed with the node it replaces */
    const char *name = gs_ir_unique_node_name(s->g, s->g->values[dst].name);
    gs_id id = name ? gs_ir_add_node(s->g, op, "", name, in, nin, &dst, 1) : GS_NONE;
    if (id == GS_NONE)
        return name ? s->g->ctx->last : gs_nomem(s->g->ctx);
    if (nin == 1 && !strcmp(op, "Unsqueeze")) {
        gs_attr *a = gs_arena_alloc(&s->g->arena, sizeof *a);
        int64_t *zero = gs_arena_alloc(s->g->perm, sizeof *zero);
        if (!a || !zero)
            return gs_nomem(s->g->ctx);
        *a = (gs_attr){ .name = "axes", .type = GS_A_INTS, .n = 1, .ints = zero };
        s->g->nodes[id].attrs = a;
        s->g->nodes[id].nattrs = 1;
    }
    return GS_OK;
}

/*
 * Replace node id of g by body b: body input k reads ins[k], and node
 * output k is made from body output outs_from + k (through Identity, or
 * Unsqueeze from outs_from + k >= stack_from: a scan output of one trip).
 */
static gs_status inline_body(gs_model *m, gs_graph *g, gs_id id, gs_graph *b, const gs_id *ins,
                             int outs_from, int stack_from)
{
    inl s = { m, g, b, gs_alloc(g->ctx, ((size_t)b->nvalues + 1) * sizeof(gs_id)) };
    gs_id *order = gs_alloc(g->ctx, ((size_t)b->nnodes + 1) * sizeof *order);
    int n = s.map && order ? gs_ir_topo(b, order) : -2;
    gs_status st = n == -2 ? gs_nomem(g->ctx) : n < 0 ? gs_err(g->ctx, GS_ERR_MODEL, "a body has a cycle") : GS_OK;
    for (gs_id v = 0; st == GS_OK && v < b->nvalues; v++)
        s.map[v] = GS_NONE;
    for (int32_t k = 0; st == GS_OK && k < b->ninputs; k++)
        s.map[b->inputs[k]] = ins[k];
    gs_id outs[16];
    int nout = g->nodes[id].nout;
    memcpy(outs, g->nodes[id].out, (size_t)nout * sizeof *outs);
    if (st == GS_OK)   /* b and the bodies inside it will be g's: room made now, so b is never lost */
        st = reserve_subs(g, b->nsubs + 1);
    bool hidden = st == GS_OK;   /* b's names are not taken in g while they move there */
    if (hidden) {
        disown_sub(g, b);
        gs_ir_remove_node(g, id);
    }
    for (int i = 0; i < n && st == GS_OK; i++)
        st = copy_node(&s, &b->nodes[order[i]]);
    for (int k = 0; k < nout && st == GS_OK; k++) {
        gs_id bo = b->outputs[outs_from + k];
        if (outs[k] != GS_NONE && (st = map_value(&s, bo)) == GS_OK)
            st = forward(&s, outs_from + k >= stack_from ? "Unsqueeze" : "Identity", s.map[bo], outs[k]);
    }
    if (hidden)   /* the dead node still points at b: g keeps owning it */
        g->subs[g->nsubs++] = b;
    gs_dealloc(g->ctx, s.map);
    gs_dealloc(g->ctx, order);
    return st;
}

/* ---- loop-invariant nodes hoisted out of Loop and Scan bodies ---------- */

/* Does body node n compute the same thing in every iteration (every input
 * an outer value or a constant of the body, a deterministic op, no body of
 * its own, no output the body hands back)? */
static bool invariant(const gs_graph *b, const gs_node *n)
{
    const gs_opdef *d = n->def;
    if (!live(n) || n->ncaps || n->nout > 16 || n->nin > 64 || !n->nin || !d ||
        (d->flags & (GS_OP_RANDOM | GS_OP_CONTROL | GS_OP_SEQUENCE)))
        return false;
    bool outer = false;
    for (int k = 0; k < n->nin; k++) {
        const gs_value *v = n->in[k] == GS_NONE ? NULL : &b->values[n->in[k]];
        if (v && !(v->flags & GS_V_OUTER) && !(v->init && v->init->data && !(v->flags & GS_V_INPUT)))
            return false;
        outer |= v && (v->flags & GS_V_OUTER);
    }
    for (int k = 0; k < n->nout; k++)
        if (n->out[k] != GS_NONE && (b->values[n->out[k]].flags & GS_V_OUTPUT))
            return false;
    return outer;   /* constants alone are folding's */
}

/* The value of g that body input v of node n (an outer value or a constant) stands for. */
static gs_id hoisted_input(gs_graph *g, const gs_graph *b, gs_id v)
{
    const gs_value *val = &b->values[v];
    if (val->flags & GS_V_OUTER)
        return val->outer;
    gs_tensor *t = renamed_tensor(g, val->init);
    return t ? gs_ir_add_init(g, val->name, t) : (gs_nomem(g->ctx), GS_NONE);
}

/* Node loop (of g) reads pv from its bodies now. */
static gs_status add_cap(gs_graph *g, gs_id loop, gs_id pv)
{
    gs_node *n = &g->nodes[loop];
    gs_id *caps = gs_arena_alloc(&g->arena, ((size_t)n->ncaps + 1) * sizeof *caps);
    if (!caps)
        return gs_nomem(g->ctx);
    if (n->ncaps)
        memcpy(caps, n->caps, (size_t)n->ncaps * sizeof *caps);
    caps[n->ncaps++] = pv;
    n->caps = caps;
    return gs_ir_add_use(g, pv, loop);
}

/* Move body node id of b (a body of node loop of g) into g before loop;
 * its outputs become outer values of b under the names they get in g. */
static gs_status hoist(gs_graph *g, gs_id loop, gs_graph *b, gs_id id)
{
    const gs_node *bn = &b->nodes[id];
    gs_id in[64], out[16];
    for (int k = 0; k < bn->nin; k++)
        if ((in[k] = bn->in[k] == GS_NONE ? GS_NONE : hoisted_input(g, b, bn->in[k])) == GS_NONE &&
            bn->in[k] != GS_NONE)
            return g->ctx->last;
    for (int k = 0; k < bn->nout; k++) {
        out[k] = GS_NONE;
        if (bn->out[k] == GS_NONE)
            continue;
        const gs_value *bv = &b->values[bn->out[k]];
        const char *name = gs_ir_unique_name(g, bv->name);
        if (!name || (out[k] = gs_ir_add_value(g, name, false)) == GS_NONE)
            return name ? g->ctx->last : gs_nomem(g->ctx);
        gs_value *pv = &g->values[out[k]];
        pv->dtype = bv->dtype, pv->rank = bv->rank, pv->flags |= GS_V_TYPED;
        if (bv->rank > 0 && bv->dims &&
            !(pv->dims = gs_arena_memdup(&g->arena, bv->dims, (size_t)bv->rank * sizeof *bv->dims)))
            return gs_nomem(g->ctx);
    }
    const char *name = *bn->name ? gs_ir_unique_node_name(g, bn->name) : "";
    gs_id nid = name ? gs_ir_add_node(g, bn->op, bn->domain, name, in, bn->nin, out, bn->nout) : GS_NONE;
    if (nid == GS_NONE)
        return name ? g->ctx->last : gs_nomem(g->ctx);
    gs_node *n = &g->nodes[nid];
    n->def = bn->def, n->nattrs = bn->nattrs;
    if (bn->nattrs && !(n->attrs = gs_arena_memdup(&g->arena, bn->attrs, (size_t)bn->nattrs * sizeof *bn->attrs)))
        return gs_nomem(g->ctx);
    gs_id bouts[16];
    int nout = bn->nout;
    memcpy(bouts, bn->out, (size_t)nout * sizeof *bouts);
    gs_ir_remove_node(b, id);
    gs_status st = GS_OK;
    for (int k = 0; k < nout && st == GS_OK; k++) {
        if (bouts[k] == GS_NONE)
            continue;
        gs_value *bv = &b->values[bouts[k]];
        bv->flags = (bv->flags & ~(uint32_t)GS_V_DEAD) | GS_V_OUTER;
        bv->outer = out[k];
        if (bv->nuses && (st = add_cap(g, loop, out[k])) == GS_OK)
            st = rename_outer(b, bouts[k], g->values[out[k]].name);
    }
    return st;
}

gs_status gs_sub_hoist(gs_graph *g, int *count)
{
    gs_status st = GS_OK;
    int32_t nn = g->nnodes;
    for (gs_id i = 0; i < nn && st == GS_OK; i++) {
        if (!is_op(&g->nodes[i], "Loop") && !is_op(&g->nodes[i], "Scan"))
            continue;
        const gs_attr *a = gs_ir_attr(&g->nodes[i], "body");
        gs_graph *b = a && a->type == GS_A_GRAPH ? a->g : NULL;
        gs_id *order = b ? gs_alloc(g->ctx, ((size_t)b->nnodes + 1) * sizeof *order) : NULL;
        int n = order ? gs_ir_topo(b, order) : b ? -2 : 0;
        if (n == -2)
            st = gs_nomem(g->ctx);
        for (int j = 0; j < n && st == GS_OK; j++)   /* topological: a hoisted output makes its readers invariant */
            if (invariant(b, &b->nodes[order[j]]) && (st = hoist(g, i, b, order[j])) == GS_OK)
                (*count)++;
        gs_dealloc(g->ctx, order);
        if (b)
            gs_ir_drop_unused_inits(b);   /* constants only hoisted nodes read */
    }
    return st;
}

/* The branch an If with a constant condition takes, or NULL. */
static gs_graph *taken_branch(const gs_graph *g, const gs_node *n)
{
    const gs_tensor *c = n->nin == 1 && n->in[0] != GS_NONE ? g->values[n->in[0]].init : NULL;
    if (!c || !c->data || gs_tensor_numel(c) != 1)
        return NULL;
    const gs_attr *a = gs_ir_attr(n, gs_tensor_get_i(c, 0) ? "then_branch" : "else_branch");
    return a && a->type == GS_A_GRAPH && a->g && !a->g->ninputs && a->g->noutputs == n->nout ? a->g : NULL;
}

/* A new int64 or bool scalar initializer of g holding v (owned by m). */
static gs_id scalar_init(gs_model *m, gs_graph *g, const char *base, int32_t dtype, int64_t v)
{
    gs_tensor *t = gs_tensor_new(g->ctx);
    if (!t)
        return gs_nomem(g->ctx), GS_NONE;
    t->dtype = dtype;
    if (gs_tensor_alloc(g->ctx, t) != GS_OK || gs_model_own(m, t) != GS_OK) {
        gs_tensor_free(g->ctx, t);
        return gs_nomem(g->ctx), GS_NONE;
    }
    gs_tensor_set_i(t, 0, v);
    return gs_ir_add_init(g, base, t);
}

/* The trip count of Loop n when it is constant (the condition absent or a
 * constant true; a constant false condition gives 0), or -1. */
static int64_t loop_trips(const gs_graph *g, const gs_node *n)
{
    if (n->nin < 2)
        return -1;
    int64_t cond = n->in[1] == GS_NONE ? 1 : const_count(g, n->in[1]);
    if (cond == 0)
        return 0;
    return cond < 0 ? -1 : const_count(g, n->in[0]);
}

/* Loop n of trip count 0 or 1 replaced by its initial values or its body once. */
static gs_status simplify_loop(gs_model *m, gs_graph *g, gs_id id, bool *done)
{
    const gs_node *n = &g->nodes[id];
    const gs_attr *a = gs_ir_attr(n, "body");
    gs_graph *b = a && a->type == GS_A_GRAPH ? a->g : NULL;
    int64_t t = loop_trips(g, n);
    int N = n->nin - 2, K = n->nout - N;
    *done = false;
    if (!b || t < 0 || t > 1 || N < 0 || K < 0 || b->ninputs != 2 + N || b->noutputs != 1 + N + K || N > 62 ||
        (t == 0 && K > 0))
        return GS_OK;   /* the stacked outputs of no trip need shapes: left to run time */
    gs_id ins[64];
    for (int k = 0; k < N; k++)
        if ((ins[2 + k] = n->in[2 + k]) == GS_NONE)
            return GS_OK;
    if (t == 0) {
        gs_id outs[64];
        memcpy(outs, n->out, (size_t)N * sizeof *outs);
        gs_ir_remove_node(g, id);
        inl s = { m, g, b, NULL };
        for (int k = 0; k < N; k++) {
            gs_status st = outs[k] == GS_NONE ? GS_OK : forward(&s, "Identity", ins[2 + k], outs[k]);
            if (st != GS_OK)
                return st;
        }
        *done = true;
        return GS_OK;
    }
    ins[0] = scalar_init(m, g, "iteration_0", GS_INT64, 0);
    ins[1] = n->in[1] != GS_NONE ? n->in[1] : scalar_init(m, g, "condition_true", GS_BOOL, 1);
    if (ins[0] == GS_NONE || ins[1] == GS_NONE)
        return g->ctx->last;
    *done = true;
    return inline_body(m, g, id, b, ins, 1, 1 + N);
}

gs_status gs_sub_simplify(gs_model *m, gs_graph *g, int *count)
{
    gs_status st = GS_OK;
    int32_t nn = g->nnodes;   /* nodes added by inlining are not looked at again here */
    for (gs_id i = 0; i < nn && st == GS_OK; i++) {
        gs_node *n = &g->nodes[i];
        bool done = false;
        gs_graph *b;
        if (is_op(n, "If") && (b = taken_branch(g, n))) {
            st = inline_body(m, g, i, b, NULL, 0, n->nout);
            done = true;
        } else if (is_op(n, "Loop")) {
            st = simplify_loop(m, g, i, &done);
        }
        *count += st == GS_OK && done;
    }
    return st;
}

GS_API int gs_model_subgraph_node_count(const gs_model *m)
{
    return m && m->graph ? gs_sub_nodes(m->graph) : 0;
}
