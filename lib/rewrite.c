/*
 * rewrite.c - applying a match: build the rewrite's nodes and constants,
 * move the consumers of each matched root output to its replacement, keep
 * graph output names, and remove the matched nodes that became dead.
 * Constants computed from matched constants are ordinary nodes here; the
 * cost model prices them at zero and constant folding evaluates them.
 */
#include "gs_ops.h"
#include "gs_rules.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct rw {
    gs_graph *g;
    const gs_match *m;
    const gs_rule *r;
    gs_delta *d;
    const char *base;     /* name the new nodes derive from */
    int nbase;            /* bytes of it used (new names do not stack without end) */
    gs_id lets[GS_MAX_BINDINGS];   /* the value built for each rewrite binding, or GS_NONE */
} rw;

/* A free name from base: base, else the first free of base_1 to base_3,
 * else base_n<count> (the graph's value or node count, free at the first
 * try in practice); node: free as a node name too. gs_ir_unique_name alone
 * counts up from _1, which made a rule set that adds thousands of values
 * under one name quadratic in time and memory (every name tried stays in
 * the arena). */
static const char *fresh_name(gs_graph *g, const char *base, bool node)
{
    char s[600];
    for (int i = 0; i < 4; i++) {
        if (i)
            snprintf(s, sizeof s, "%s_%d", base, i);
        if (gs_ir_find(g, i ? s : base) == GS_NONE && (!node || !gs_ir_node_name_taken(g, i ? s : base)))
            return gs_arena_strdup(g->perm, i ? s : base);
    }
    snprintf(s, sizeof s, "%s_n%d", base, (int)(node ? g->nnodes : g->nvalues));
    return node ? gs_ir_unique_node_name(g, s) : gs_ir_unique_name(g, s);
}

static gs_id new_const(rw *w, int32_t dtype, int rank, const int64_t *dims, const void *data,
                       size_t nbytes)
{
    gs_tensor *t = gs_arena_alloc(w->g->perm, sizeof *t);
    void *copy = gs_arena_alloc(w->g->perm, nbytes ? nbytes : 1);
    if (!t || !copy) {
        gs_nomem(w->g->ctx);
        return GS_NONE;
    }
    memcpy(copy, data, nbytes);
    t->dtype = dtype;
    t->rank = rank;
    if (rank)
        memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    t->data = copy;
    t->nbytes = nbytes;
    char base[256];
    snprintf(base, sizeof base, "%.*s/const", w->nbase, w->base);
    const char *name = fresh_name(w->g, base, false);
    return name ? gs_ir_add_init(w->g, name, t) : (gs_nomem(w->g->ctx), GS_NONE);
}

static bool int_valued(const gs_pnode *p, int64_t *out, const rw *w);

/* dim(v, k): dimension k of bound value v. */
static bool func_value(const gs_pnode *p, int64_t *out, const rw *w)
{
    if (p->fn->id == GS_F_DIM) {   /* the loader checked the arguments */
        gs_id v = w->m->values[p->args[0]->var];
        int64_t k;
        if (v == GS_NONE || !int_valued(p->args[1], &k, w))
            return false;
        const gs_value *val = &w->g->values[v];
        k = k < 0 ? k + val->rank : k;
        if (k < 0 || k >= val->rank || val->dims[k].v < 0)
            return false;
        *out = val->dims[k].v;
        return true;
    }
    return false;
}

static bool int_valued(const gs_pnode *p, int64_t *out, const rw *w)
{
    if (p->kind == P_NUM) {
        *out = gs_to_int64(p->num);
        return true;
    }
    if (p->kind == P_VAR && !p->rest) {   /* a bound constant of one integer element */
        gs_id v = w->m->values[p->var];
        const gs_tensor *t = v != GS_NONE ? w->g->values[v].init : NULL;
        if (!t || !t->data || gs_tensor_numel(t) != 1 || (t->dtype != GS_INT64 && t->dtype != GS_INT32))
            return false;
        *out = gs_tensor_get_i(t, 0);
        return true;
    }
    return p->kind == P_FUNC && func_value(p, out, w);
}

static gs_id attr_as_value(rw *w, const gs_attr *a)
{
    int64_t n = (int64_t)a->n;
    switch (a->type) {
    case GS_A_FLOAT: return new_const(w, GS_FLOAT, 0, NULL, &a->f, sizeof a->f);
    case GS_A_INT: return new_const(w, GS_INT64, 0, NULL, &a->i, sizeof a->i);
    case GS_A_INTS: return new_const(w, GS_INT64, 1, &n, a->ints, a->n * sizeof *a->ints);
    case GS_A_FLOATS: return new_const(w, GS_FLOAT, 1, &n, a->floats, a->n * sizeof *a->floats);
    default: return GS_NONE;
    }
}

static gs_status build(rw *w, const gs_pnode *p, int nout, gs_id *outs);

/* add_pads(cp, p): the pads attribute cp of a Conv or pool (spatial begins,
 * then ends; an integer 0 when absent) plus a Pad's constant pads input p
 * (every dim's begin, then every end) on the spatial dims. */
static gs_status add_pads(rw *w, const gs_attr *cp, gs_id pv, gs_attr *out)
{
    const gs_tensor *p = pv != GS_NONE ? w->g->values[pv].init : NULL;
    int64_t r = p && p->data ? gs_tensor_numel(p) / 2 : 0, nd = r - 2;
    bool zero = cp && cp->type == GS_A_INT && cp->i == 0;
    if (nd < 1 || !cp || (!zero && (cp->type != GS_A_INTS || cp->n != (size_t)(2 * nd))))
        return gs_err(w->g->ctx, GS_ERR_UNSUPPORTED, "rule '%s': add_pads() needs pads of matching rank",
                      w->r->name);
    out->type = GS_A_INTS;
    out->n = (size_t)(2 * nd);
    out->ints = gs_arena_alloc(w->g->perm, out->n * sizeof *out->ints);
    if (!out->ints)
        return gs_nomem(w->g->ctx);
    for (int64_t i = 0; i < nd; i++) {
        out->ints[i] = (zero ? 0 : cp->ints[i]) + gs_tensor_get_i(p, 2 + i);
        out->ints[nd + i] = (zero ? 0 : cp->ints[nd + i]) + gs_tensor_get_i(p, r + 2 + i);
    }
    return GS_OK;
}

static gs_id build1(rw *w, const gs_pnode *p)
{
    gs_id v = GS_NONE;
    return build(w, p, 1, &v) == GS_OK ? v : GS_NONE;
}

/* Attributes of a new node from the rewrite's attribute list. */
static gs_status build_attrs(rw *w, const gs_pnode *p, gs_node *n)
{
    gs_attr list[64];
    int count = 0;
    for (int i = 0; i < p->nattrs && count < 64; i++) {
        const gs_pattr *pa = &p->attrs[i];
        if (!pa->name) {   /* "...": every attribute of the matched node of this op */
            for (int s = 0; s < w->m->nnodes; s++) {
                const gs_node *src = &w->g->nodes[w->m->nodes[s]];
                if (w->m->nodes[s] != GS_NONE && !strcmp(src->op, p->name)) {
                    for (int a = 0; a < src->nattrs && count < 64; a++)
                        list[count++] = src->attrs[a];
                    break;
                }
            }
            continue;
        }
        gs_attr a = { .name = gs_arena_strdup(w->g->perm, pa->name) };
        if (!a.name)
            return gs_nomem(w->g->ctx);
        const gs_pnode *v = pa->val;
        if (v->kind == P_VAR && w->m->attrs[v->var]) {
            const char *an = a.name;
            a = *w->m->attrs[v->var];
            a.name = an;
            a.src = NULL;
        } else if (v->kind == P_NUM) {
            a.type = v->var ? GS_A_FLOAT : GS_A_INT;
            a.f = (float)v->num;
            a.i = gs_to_int64(v->num);
        } else if (v->kind == P_LIST) {
            a.type = GS_A_INTS;
            a.n = (size_t)v->nargs;
            a.ints = gs_arena_alloc(w->g->perm, (a.n ? a.n : 1) * sizeof *a.ints);
            if (!a.ints)
                return gs_nomem(w->g->ctx);
            for (int k = 0; k < v->nargs; k++)
                if (!int_valued(v->args[k], &a.ints[k], w))
                    return gs_err(w->g->ctx, GS_ERR_UNSUPPORTED, "rule '%s': attribute %s not computable",
                                  w->r->name, pa->name);
        } else if (v->kind == P_FUNC && v->fn->id == GS_F_COMPOSE) {
            /* compose(p, q): the permutation of Transpose(q) after Transpose(p) */
            const gs_attr *pa1 = w->m->attrs[v->args[0]->var], *qa = w->m->attrs[v->args[1]->var];
            if (!pa1 || !qa || pa1->type != GS_A_INTS || qa->type != GS_A_INTS || pa1->n != qa->n)
                return gs_err(w->g->ctx, GS_ERR_UNSUPPORTED, "rule '%s': compose() needs two permutations",
                              w->r->name);
            a.type = GS_A_INTS;
            a.n = qa->n;
            a.ints = gs_arena_alloc(w->g->perm, (a.n ? a.n : 1) * sizeof *a.ints);
            if (!a.ints)
                return gs_nomem(w->g->ctx);
            for (size_t k = 0; k < a.n; k++) {
                if (qa->ints[k] < 0 || (size_t)qa->ints[k] >= a.n)
                    return gs_err(w->g->ctx, GS_ERR_UNSUPPORTED, "rule '%s': bad permutation", w->r->name);
                a.ints[k] = pa1->ints[qa->ints[k]];
            }
        } else if (v->kind == P_FUNC && v->fn->id == GS_F_ADD_PADS) {
            gs_status st = add_pads(w, w->m->attrs[v->args[0]->var], w->m->values[v->args[1]->var], &a);
            if (st != GS_OK)
                return st;
        } else if (v->kind == P_FUNC && v->fn->id == GS_F_VALUE) {
            /* value(c): the float attribute holding constant scalar c */
            gs_id cv = w->m->values[v->args[0]->var];
            const gs_tensor *t = cv != GS_NONE ? w->g->values[cv].init : NULL;
            if (!t || !t->data || gs_tensor_numel(t) != 1)
                return gs_err(w->g->ctx, GS_ERR_UNSUPPORTED, "rule '%s': value() needs a constant scalar",
                              w->r->name);
            a.type = GS_A_FLOAT;
            a.f = (float)gs_tensor_get_f(t, 0);
        } else if (v->kind == P_FUNC && v->fn->id == GS_F_INVERSE) {
            /* inverse(c): the float attribute 1 / c for a constant scalar c
             * (an attention's Div by sqrt(d) as Attention's scale) */
            gs_id cv = w->m->values[v->args[0]->var];
            const gs_tensor *t = cv != GS_NONE ? w->g->values[cv].init : NULL;
            double x = t && t->data && gs_tensor_numel(t) == 1 ? gs_tensor_get_f(t, 0) : 0;
            if (!(x != 0 && isfinite(x)))
                return gs_err(w->g->ctx, GS_ERR_UNSUPPORTED, "rule '%s': inverse() needs a constant non-zero "
                              "scalar", w->r->name);
            a.type = GS_A_FLOAT;
            a.f = (float)(1 / x);
        } else if (v->kind == P_FUNC) {
            a.type = GS_A_INT;
            if (!int_valued(v, &a.i, w))
                return gs_err(w->g->ctx, GS_ERR_UNSUPPORTED, "rule '%s': attribute %s not computable",
                              w->r->name, pa->name);
        } else if (v->kind == P_VAR) {   /* a bare word: a string attribute */
            a.type = GS_A_STRING;
            a.s = gs_arena_strdup(w->g->perm, v->name);
            a.slen = strlen(v->name);
            if (!a.s)
                return gs_nomem(w->g->ctx);
        }
        /* a later entry replaces an earlier one of the same name ("..." then overrides) */
        int k;
        for (k = 0; k < count && strcmp(list[k].name, a.name); k++)
            ;
        list[k] = a;
        if (k == count)
            count++;
    }
    for (int i = 0; i < count; i++)
        list[i].src = NULL;   /* attributes moved to a new node are rebuilt on export */
    n->nattrs = count;
    n->attrs = count ? gs_arena_memdup(&w->g->arena, list, (size_t)count * sizeof *list) : NULL;
    return count && !n->attrs ? gs_nomem(w->g->ctx) : GS_OK;
}

static gs_status build_call(rw *w, const gs_pnode *p, int nout, gs_id *outs)
{
    gs_id in[64];
    int nin = 0;
    if (nout > GS_MAX_ROOTS)
        return gs_err(w->g->ctx, GS_ERR_RULE, "rule '%s': call too large", w->r->name);
    for (int k = 0; k < p->nargs; k++) {
        const gs_pnode *a = p->args[k];
        if (a->kind == P_VAR && a->rest && w->m->values[a->var] != GS_NONE) {   /* "xs...": all of them */
            const gs_node *src = &w->g->nodes[w->m->rest_node[a->var]];
            for (int i = 0; i < w->m->rest_count[a->var] && nin < 64; i++)
                in[nin++] = src->in[w->m->rest_first[a->var] + i];
            continue;
        }
        if (nin == 64)
            return gs_err(w->g->ctx, GS_ERR_RULE, "rule '%s': call too large", w->r->name);
        if (a->kind == P_NONE) {
            in[nin++] = GS_NONE;   /* "_": an absent input */
            continue;
        }
        if (a->kind == P_VAR && (w->r->optional >> a->var & 1) && w->m->values[a->var] == GS_NONE) {
            in[nin++] = GS_NONE;   /* an optional input that was absent stays absent */
            continue;
        }
        if ((in[nin++] = build1(w, a)) == GS_NONE)
            return w->g->ctx->last ? w->g->ctx->last : GS_ERR_UNSUPPORTED;
    }
    while (nin > 0 && in[nin - 1] == GS_NONE)
        nin--;
    char base[512];
    snprintf(base, sizeof base, "%.*s/%s", w->nbase, w->base, p->name);
    const char *name = fresh_name(w->g, base, true);
    for (int k = 0; name && k < nout; k++) {
        char vb[600];
        snprintf(vb, sizeof vb, "%s_out%d", name, k);
        const char *vname = fresh_name(w->g, vb, false);
        if (!vname || (outs[k] = gs_ir_add_value(w->g, vname, false)) == GS_NONE)
            return gs_nomem(w->g->ctx);
    }
    if (!name)
        return gs_nomem(w->g->ctx);
    const char *op = gs_arena_strdup(w->g->perm, p->name);   /* the rules may be freed first */
    gs_id id = op ? gs_ir_add_node(w->g, op, "", name, in, nin, outs, nout) : GS_NONE;
    if (!op)
        return gs_nomem(w->g->ctx);
    if (id == GS_NONE)
        return w->g->ctx->last;
    const gs_opdef *d = w->g->nodes[id].def;
    if (!d && w->g->opset > 0)   /* the loader checks a rule's ops for its opsets: a last guard */
        return gs_err(w->g->ctx, GS_ERR_RULE, "%s: rule '%s' writes %s, which opset %lld does not have",
                      w->r->file, w->r->name, op, (long long)w->g->opset);
    if (d && !gs_op_fits(d, &w->g->nodes[id]))   /* an absent optional input in a required place */
        return gs_err(w->g->ctx, GS_ERR_RULE, "rule '%s': its %s lacks a required input", w->r->name, op);
    if (w->d && w->d->nadded < (int)(sizeof w->d->added / sizeof w->d->added[0]))
        w->d->added[w->d->nadded++] = id;
    return build_attrs(w, p, &w->g->nodes[id]);
}

/* shape(v): bound value v's dimensions as an int64 list (every one known). */
static gs_status shape_const(rw *w, const gs_pnode *var, gs_id *outs)
{
    gs_id v = w->m->values[var->var];
    const gs_value *val = v != GS_NONE ? &w->g->values[v] : NULL;
    int64_t dims[GS_MAX_RANK], n = val ? val->rank : -1;
    for (int64_t k = 0; k < n; k++)
        if ((dims[k] = val->dims[k].v) < 0)
            n = -1;
    if (n < 0)
        return gs_err(w->g->ctx, GS_ERR_UNSUPPORTED, "rule '%s': shape(%s) is not known", w->r->name,
                      var->name);
    outs[0] = new_const(w, GS_INT64, 1, &n, dims, (size_t)n * sizeof *dims);
    return outs[0] == GS_NONE ? GS_ERR_NOMEM : GS_OK;
}

/* A rewrite binding ("k = expr;", or an output of "a, b = Op(...);"):
 * built the first time it is read, every output of its node at once. */
static gs_status build_let(rw *w, int var, gs_id *out)
{
    const gs_rule *r = w->r;
    if (w->lets[var] == GS_NONE) {
        int i = 0;
        while (r->let_var[i] != var)
            i++;
        int first = i - r->let_out[i], n = r->let_nout[i];
        gs_id outs[GS_MAX_ROOTS];
        gs_status st = build(w, r->lets[first], n, outs);
        if (st != GS_OK)
            return st;
        for (int k = 0; k < n; k++)
            w->lets[r->let_var[first + k]] = outs[k];
    }
    *out = w->lets[var];
    return GS_OK;
}

static gs_status build(rw *w, const gs_pnode *p, int nout, gs_id *outs)
{
    gs_ctx *ctx = w->g->ctx;
    ctx->last = GS_OK;
    switch (p->kind) {
    case P_VAR:
        if (w->r->let_vars >> p->var & 1)
            return build_let(w, p->var, outs);
        if (w->m->values[p->var] != GS_NONE)
            outs[0] = w->m->values[p->var];
        else if (w->m->attrs[p->var])
            outs[0] = attr_as_value(w, w->m->attrs[p->var]);
        if (outs[0] == GS_NONE && ctx->last == GS_ERR_NOMEM)
            return GS_ERR_NOMEM;
        return outs[0] == GS_NONE ? gs_err(ctx, GS_ERR_UNSUPPORTED, "rule '%s': '%s' is not bound",
                                           w->r->name, p->name) : GS_OK;
    case P_NUM: {
        float f = (float)p->num;
        outs[0] = new_const(w, GS_FLOAT, 0, NULL, &f, sizeof f);
        return outs[0] == GS_NONE ? GS_ERR_NOMEM : GS_OK;
    }
    case P_LIST: {
        int64_t vals[64], n = p->nargs;
        for (int k = 0; k < p->nargs && k < 64; k++)
            if (!int_valued(p->args[k], &vals[k], w))
                return gs_err(ctx, GS_ERR_UNSUPPORTED, "rule '%s': list not computable", w->r->name);
        outs[0] = new_const(w, GS_INT64, 1, &n, vals, (size_t)n * sizeof *vals);
        return outs[0] == GS_NONE ? GS_ERR_NOMEM : GS_OK;
    }
    case P_FUNC: {
        if (p->fn->id == GS_F_SHAPE)
            return shape_const(w, p->args[0], outs);
        int64_t v;
        if (!int_valued(p, &v, w))
            return gs_err(ctx, GS_ERR_UNSUPPORTED, "rule '%s': %s() not computable", w->r->name, p->name);
        outs[0] = new_const(w, GS_INT64, 0, NULL, &v, sizeof v);
        return outs[0] == GS_NONE ? GS_ERR_NOMEM : GS_OK;
    }
    case P_CALL:
        return build_call(w, p, nout, outs);
    case P_NONE:
        break;
    }
    return GS_ERR_INTERNAL;
}

/* Give value v the name of graph output old (old, replaced everywhere, takes v's). */
static gs_status take_name(gs_graph *g, gs_id old, gs_id v)
{
    gs_ir_swap_names(g, old, v);   /* old is replaced everywhere: any free name will do */
    return GS_OK;
}

/* A bare variable cannot take a graph output's name when it is itself an
 * input, a constant, an outer name or another output. */
static bool can_rename(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    return !val->init && !(val->flags & (GS_V_INPUT | GS_V_OUTPUT | GS_V_OUTER | GS_V_SPARSE)) &&
           val->producer != GS_NONE;
}

/* A body's outputs are bound by position, not by name: one may be a body
 * input itself under that input's name (a loop-carried value forwarded). */
static bool body_output_ok(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    return g->parent && (val->flags & GS_V_INPUT) && !val->init &&
           !(val->flags & (GS_V_OUTPUT | GS_V_OUTER | GS_V_SPARSE));
}

static void remove_dead(gs_graph *g, const gs_match *m, gs_delta *d)
{
    bool again = true;
    while (again) {
        again = false;
        for (int i = m->nnodes - 1; i >= 0; i--) {
            gs_id id = m->nodes[i];
            gs_node *n = &g->nodes[id];
            if (id == GS_NONE || (n->flags & GS_N_DEAD))
                continue;
            bool dead = true;
            for (int k = 0; k < n->nout && dead; k++)
                dead = n->out[k] == GS_NONE ||
                       (!g->values[n->out[k]].nuses && !(g->values[n->out[k]].flags & GS_V_OUTPUT));
            if (!dead)
                continue;
            gs_ir_remove_node(g, id);
            if (d && d->nremoved < (int)(sizeof d->removed / sizeof d->removed[0]))
                d->removed[d->nremoved++] = id;
            again = true;
        }
    }
}

bool gs_rule_applicable(const gs_graph *g, const gs_match *m)
{
    const gs_rule *r = m->rule;
    int k = 0;
    for (int i = 0; i < r->nouter; i++) {
        const gs_node *n = &g->nodes[m->nodes[r->roots[i]->slot]];
        for (int o = 0; o < (r->root_nout[i] > 1 ? r->root_nout[i] : 1) && k < r->nrewrite; o++, k++) {
            const gs_pnode *e = r->rewrite[r->rewrite_tuple ? k : 0];
            if (e->kind != P_VAR || (r->let_vars >> e->var & 1) || (!r->rewrite_tuple && r->nrewrite > 1))
                continue;   /* a new node: it can take any name */
            gs_id v = m->values[e->var];
            if (v == GS_NONE ||
                ((g->values[n->out[o]].flags & GS_V_OUTPUT) && !can_rename(g, v) && !body_output_ok(g, v)) ||
                !gs_ir_replaceable(g, n->out[o], v))   /* a name a subgraph reads stays */
                return false;
        }
    }
    return true;
}

/* Bytes of a name new names derive from: at most NAME_STEM, cut before a
 * UTF-8 continuation byte. A rewrite of a rewrite's node would otherwise
 * stack "/Op" on "/Op" (rules applied thousands of times made names of
 * hundreds of bytes, each hashed and compared at every lookup). */
static int base_len(const char *s)
{
    enum { NAME_STEM = 96 };
    int n = (int)strnlen(s, NAME_STEM + 1);
    if (n <= NAME_STEM)
        return n;
    n = NAME_STEM;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static gs_status apply(gs_graph *g, const gs_match *m, gs_delta *delta);

/* A failure names the rule's file in front of "rule 'NAME': ...", as the
 * loader's messages do. */
gs_status gs_rule_apply(gs_graph *g, const gs_match *m, gs_delta *delta)
{
    gs_status st = apply(g, m, delta);
    const char *file = m->rule->file;
    if (st != GS_OK && st != GS_ERR_NOMEM && file && *file && !strncmp(g->ctx->msg, "rule '", 6)) {
        char msg[sizeof g->ctx->msg];
        snprintf(msg, sizeof msg, "%s", g->ctx->msg);
        gs_err(g->ctx, st, "%s: %s", file, msg);
    }
    return st;
}

static gs_status apply(gs_graph *g, const gs_match *m, gs_delta *delta)
{
    const gs_rule *r = m->rule;
    gs_delta local;
    gs_delta *d = delta ? delta : &local;
    d->nadded = d->nremoved = 0;
    gs_id olds[GS_MAX_ROOTS], news[GS_MAX_ROOTS];
    int nold = 0;
    for (int i = 0; i < r->nouter; i++) {   /* every output of every outer statement */
        const gs_node *n = &g->nodes[m->nodes[r->roots[i]->slot]];
        for (int o = 0; o < (r->root_nout[i] > 1 ? r->root_nout[i] : 1) && nold < GS_MAX_ROOTS; o++)
            olds[nold++] = n->out[o];
    }
    if (nold != r->nrewrite)
        return gs_err(g->ctx, GS_ERR_INTERNAL, "rule '%s': %d values to replace, %d given", r->name, nold,
                      r->nrewrite);
    if (!gs_rule_applicable(g, m))
        return gs_err(g->ctx, GS_ERR_UNSUPPORTED, "rule '%s': a graph output cannot be replaced "
                      "by this value", r->name);
    rw w = { g, m, r, d, g->nodes[m->nodes[r->roots[0]->slot]].name, 0, { 0 } };
    for (int i = 0; i < GS_MAX_BINDINGS; i++)
        w.lets[i] = GS_NONE;
    if (!*w.base)
        w.base = g->values[olds[0]].name;
    w.nbase = base_len(w.base);
    gs_status st = GS_OK;
    if (r->rewrite_tuple)
        for (int i = 0; i < r->nrewrite && st == GS_OK; i++)
            st = build(&w, r->rewrite[i], 1, &news[i]);
    else
        st = build(&w, r->rewrite[0], r->nrewrite, news);
    for (int i = 0; st == GS_OK && i < r->nrewrite; i++) {
        if ((g->values[olds[i]].flags & GS_V_OUTPUT) && !body_output_ok(g, news[i]))
            st = take_name(g, olds[i], news[i]);
        if (st == GS_OK) {
            /* the replacement keeps the old value's type where it had none */
            gs_value *nv = &g->values[news[i]], *ov = &g->values[olds[i]];
            if (nv->rank < 0 && ov->rank >= 0 && !nv->init) {
                nv->rank = ov->rank, nv->dims = ov->dims;
                nv->dtype = nv->dtype ? nv->dtype : ov->dtype;
                nv->flags |= GS_V_TYPED;
            }
            st = gs_ir_replace_uses(g, olds[i], news[i]);
        }
    }
    if (st == GS_OK)
        remove_dead(g, m, d);
    return st;
}
