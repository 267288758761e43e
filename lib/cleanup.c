/*
 * cleanup.c - the rewriter: applying one match and pricing what it changed
 * (shared with the search), and cleanup to a fixed point: the rules that
 * always pay (class cleanup, or lower), pass after pass, with common
 * subexpressions merged between rounds.
 */
#include "gs_cleanup.h"

#include <string.h>
#include <time.h>

/* ---- shapes and costs of what a rewrite added ------------------------- */

bool gs_rw_price_added(const gs_rw *rw, gs_graph *g, const gs_delta *d)
{
    bool priced = true;
    for (int i = 0; i < d->nadded; i++) {
        gs_node *n = &g->nodes[d->added[i]];
        const gs_opdef *def = n->def;
        if (def && def->infer)
            def->infer(g, n);   /* unknown stays unknown; errors are not fatal here */
        gs_ncost c;
        gs_cost_node(rw->cm, g, n, &c);
        for (int k = 0; k < n->nout && c.seconds > 0; k++)
            if (n->out[k] != GS_NONE && g->values[n->out[k]].rank < 0)
                priced = false;
    }
    return priced;
}

double gs_rw_nodes_cost(const gs_rw *rw, const gs_graph *g, const gs_id *ids, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        gs_ncost c;
        gs_node saved = g->nodes[ids[i]];
        saved.flags &= ~(uint32_t)GS_N_DEAD;   /* price removed nodes as they were */
        gs_cost_node(rw->cm, g, &saved, &c);
        total += c.seconds;
    }
    return total;
}

/* ---- steps ------------------------------------------------------------- */

/* The matched nodes' names joined by commas, a comma or backslash inside a
 * name escaped by a backslash (so the list splits back exactly). */
static const char *match_names(gs_arena *a, const gs_graph *g, const gs_match *m)
{
    size_t len = 1;
    for (int i = 0; i < m->nnodes; i++)
        len += 2 * strlen(g->nodes[m->nodes[i]].name) + 1;
    char *s = gs_arena_alloc(a, len), *p = s;
    for (int i = 0; s && i < m->nnodes; i++) {
        if (i)
            *p++ = ',';
        for (const char *c = g->nodes[m->nodes[i]].name; *c; c++) {
            if (*c == ',' || *c == '\\')
                *p++ = '\\';
            *p++ = *c;
        }
    }
    return s;
}

gs_step *gs_rw_step(const gs_rw *rw, const gs_graph *g, const gs_match *m, double delta, gs_step *prev)
{
    gs_arena *a = rw->arena;
    gs_step *s = gs_arena_alloc(a, sizeof *s);
    if (!s)
        return NULL;
    s->rule = m->rule;
    s->nodes = match_names(a, g, m);
    s->delta = delta;
    s->prev = prev;
    return s->nodes ? s : NULL;
}

/* ---- cleanup ----------------------------------------------------------- */

static bool take_first(const gs_match *m, void *ud)
{
    *(gs_match *)ud = *m;
    return false;
}

/* Roots of the matches one pass over the graph found (in rule order). */
typedef struct roots {
    gs_ctx *ctx;
    gs_id *ids;
    int n, cap;
    bool nomem;
} roots;

static bool collect_root(const gs_match *m, void *ud)
{
    roots *r = ud;
    gs_id id = m->nodes[m->rule->roots[0]->slot];
    for (int i = r->n - 1; i >= 0 && i >= r->n - 8; i--)
        if (r->ids[i] == id)
            return true;   /* the same root again (another binding): once is enough */
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 64;
        gs_id *a = gs_realloc(r->ctx, r->ids, (size_t)cap * sizeof *a);
        if (!a) {
            r->nomem = true;
            return false;
        }
        r->ids = a, r->cap = cap;
    }
    r->ids[r->n++] = id;
    return true;
}

gs_status gs_rw_cleanup_at(const gs_rw *rw, gs_graph *g, uint32_t flags, gs_id id, gs_step **path,
                           gs_delta *d, bool *applied, bool *priced)
{
    gs_match m;
    *applied = false;
    if ((g->nodes[id].flags & GS_N_DEAD) || gs_match_at(rw->rs, g, flags, id, take_first, &m) <= 0)
        return GS_OK;
    gs_step *s = gs_rw_step(rw, g, &m, 0, *path);   /* names taken before the nodes go */
    if (!s)
        return gs_nomem(g->ctx);
    gs_status st = gs_rule_apply(g, &m, d);
    if (st != GS_OK)
        return st;
    *priced = gs_rw_price_added(rw, g, d);
    s->delta = gs_rw_nodes_cost(rw, g, d->added, d->nadded) - gs_rw_nodes_cost(rw, g, d->removed, d->nremoved);
    *path = s;
    *applied = true;
    return GS_OK;
}

/* What one gs_cleanup call may do: a rule set that does not converge (rules
 * undoing each other, or a rule whose rewrite holds its own match) never
 * reaches a fixed point, and every rewrite adds node slots, so the slots
 * bound ends it; the deadline ends a slow one. */
typedef struct cbound {
    int64_t slots0;             /* g->nnodes when the call began */
    int64_t max_slots;          /* g->nnodes may not pass this */
    double t_end;               /* monotonic seconds; 0: none */
    const gs_step *start;       /* *path when the call began */
} cbound;

/* The error for a cleanup that passed its bound: the rules of the last
 * steps taken (the ones that keep applying), with their file. */
static gs_status no_fixed_point(gs_graph *g, uint32_t flags, const gs_step *path, const cbound *b)
{
    const char *names[4] = { 0 }, *file = "rules";
    int n = 0, steps = 0;
    for (const gs_step *s = path; s && s != b->start; s = s->prev, steps++) {
        const char *name = gs_rule_name(s->rule);
        int i = 0;
        while (i < n && strcmp(names[i], name))
            i++;
        if (i == n && n < 4 && steps < 256)
            names[n++] = name, file = gs_rule_file(s->rule);
    }
    return gs_err(g->ctx, GS_ERR_RULE,
                  "%s: %s rules do not reach a fixed point: %d rewrites made %lld nodes from %lld "
                  "(limit %lld); rules still applying: %s%s%s%s%s%s%s",
                  file, flags & GS_RULE_LOWER ? "lowering" : "cleanup", steps,
                  (long long)(g->nnodes - b->slots0), (long long)b->slots0, (long long)b->max_slots,
                  n > 0 ? names[0] : "?", n > 1 ? ", " : "", n > 1 ? names[1] : "",
                  n > 2 ? ", " : "", n > 2 ? names[2] : "", n > 3 ? ", " : "", n > 3 ? names[3] : "");
}

/* Rule passes to a fixed point. Each pass finds the roots of every match once
 * (through the op index), then applies, root by root in that order, the
 * first match still rooted there: a pass does the work of many, so the
 * passes needed stay few as the graph grows (a 48-layer BERT has hundreds of
 * cleanup rewrites). Stops at the deadline (the graph as it is then) or
 * with GS_ERR_RULE past the slots bound. */
static gs_status cleanup_rules(const gs_rw *rw, gs_graph *g, uint32_t flags, gs_step **path,
                               const cbound *b, int *applied)
{
    gs_status st = GS_OK;
    roots r = { g->ctx, NULL, 0, 0, false };
    for (int pass = 0; st == GS_OK; pass++) {
        r.n = 0;
        int found = gs_match_all(rw->rs, g, flags, collect_root, &r);
        if (found < 0 || r.nomem) {
            st = gs_nomem(g->ctx);
            break;
        }
        int done = 0;
        for (int i = 0; i < r.n && st == GS_OK; i++) {
            gs_delta d;
            bool hit, priced;   /* cleanup rules always pay: applied even unpriced */
            st = gs_rw_cleanup_at(rw, g, flags, r.ids[i], path, &d, &hit, &priced);
            done += hit;
            if (st == GS_OK && hit && g->nnodes > b->max_slots)
                st = no_fixed_point(g, flags, *path, b);
        }
        *applied += done;
        if (!done || (b->t_end > 0 && gs_now() > b->t_end))
            break;
    }
    gs_dealloc(g->ctx, r.ids);
    return st;
}

gs_status gs_cleanup(const gs_rw *rw, gs_graph *g, uint32_t flags, gs_step **path, int *count)
{
    double t_end = gs_now() + rw->phase_time;
    cbound b = { g->nnodes, GS_CLEANUP_GROWTH * (int64_t)g->nnodes + GS_CLEANUP_SLACK, t_end, *path };
    gs_status st = GS_OK;
    int total = 0;
    for (int round = 0; round < 16 && st == GS_OK; round++) {   /* merging can enable rules and back */
        int n = 0, merged = 0, pairs = 0;
        st = cleanup_rules(rw, g, flags, path, &b, &n);
        if (st == GS_OK)
            st = gs_cse(g, &merged);
        if (st == GS_OK)
            st = gs_cancel_transpose_pairs(g, &pairs);
        if (st == GS_OK)
            gs_ir_dce(g);
        total += n + merged + pairs;
        if (merged + pairs == 0 || gs_now() > t_end)
            break;
    }
    if (count)
        *count = total;
    return st;
}
