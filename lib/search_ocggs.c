/*
 * search_ocggs.c - the ideas of OCGGS (Fang, Shen, Wang, Chen, "Optimizing
 * DNN Computation Graph using Graph Substitutions", PVLDB 13(11), 2020)
 * inside graphsub's search.
 *
 * TASO's search applies the same set of independent rewrites in every order
 * and only then finds, by hashing, that the orders reach one graph. OCGGS
 * orders the rewrites instead: every node has a key, a match is ordered by
 * the largest key among its nodes, and a candidate is extended only by
 * matches ordered after the one that made it (gs_ocggs_key). It also keeps
 * the matches of a candidate that the rewrite which made a child did not
 * touch, and searches the child only around what changed (the "dynamic
 * programming" of the paper). The sampling variant grows candidates a step
 * at a time and keeps a weighted sample of each step (gs_ocggs_sample); it
 * reuses matches but does not order them, as the paper's does not: a
 * sampled line that took a late rewrite would never come back to an early
 * one, and the sample keeps too few lines to cover the other orders.
 *
 * Mirror images of a symmetric rule (the same nodes matched in another
 * order of its statements) are already reported once by the matcher.
 */
#include "gs_ocggs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int32_t gs_ocggs_key(const gs_match *m)
{
    int32_t k = -1;
    for (int i = 0; i < m->nnodes; i++)
        if (m->nodes[i] != GS_NONE && m->nodes[i] > k)
            k = m->nodes[i];
    return k;
}

/* ---- match sets -------------------------------------------------------- */

/* The matches found in one graph, shared by the children made from it (each
 * keeps a reference while it waits in the queue). An attribute a match
 * bound lives in the graph it was found in, which is freed before the
 * children are expanded: loc says where it was (matched slot and attribute
 * index, plus one; 0: the rule's default, which outlives the search). */
typedef struct mset {
    int refs;
    gs_match *a;
    uint16_t (*loc)[GS_MAX_BINDINGS];
    int n, cap;
    bool nomem;
} mset;

struct gs_oreuse {
    mset *from;                 /* the parent's matches */
    int *keep;                  /* indices into from of the matches still valid */
    int nkeep;
    gs_id *roots;               /* nodes to search again: near what the rewrite touched */
    int nroots;
};

struct gs_ocggs {
    gs_ctx *ctx;
    const gs_ruleset *rs;
    int radius;                 /* hops between two nodes of one match, at most */
    mset *cur;                  /* the matches of the graph being expanded */
    uint8_t *mark;              /* scratch: per node of a child */
    gs_id *queue;
    size_t cap;                 /* entries of mark and queue */
    const gs_rule *raisers[GS_OCGGS_RAISERS];   /* rules seen raising the cost */
    int nraisers;
};

/* ---- the order ------------------------------------------------------------ */

/* The rules seen raising the cost (a set of pointers, open addressing). */
static bool raising(const gs_ocggs *oc, const gs_rule *r)
{
    for (size_t i = ((uintptr_t)r >> 4) % GS_OCGGS_RAISERS;; i = (i + 1) % GS_OCGGS_RAISERS) {
        if (!oc->raisers[i])
            return false;
        if (oc->raisers[i] == r)
            return true;
    }
}

bool gs_ocggs_allowed(const gs_ocggs *oc, const gs_match *m, int32_t key)
{
    return gs_ocggs_key(m) > key || raising(oc, m->rule);
}

int32_t gs_ocggs_child_key(gs_ocggs *oc, const gs_match *m, double delta)
{
    if (delta <= 0)
        return gs_ocggs_key(m);
    if (!raising(oc, m->rule) && oc->nraisers < GS_OCGGS_RAISERS / 2) {
        size_t i = ((uintptr_t)m->rule >> 4) % GS_OCGGS_RAISERS;
        while (oc->raisers[i])
            i = (i + 1) % GS_OCGGS_RAISERS;
        oc->raisers[i] = m->rule;
        oc->nraisers++;
    }
    return -1;
}

static mset *mset_new(gs_ctx *ctx)
{
    mset *s = gs_zalloc(ctx, sizeof *s);
    if (s)
        s->refs = 1;
    return s;
}

static void mset_unref(gs_ctx *ctx, mset *s)
{
    if (!s || --s->refs > 0)
        return;
    gs_dealloc(ctx, s->a);
    gs_dealloc(ctx, s->loc);
    gs_dealloc(ctx, s);
}

typedef struct adder {
    gs_ctx *ctx;
    mset *s;
} adder;

static bool mset_add(const gs_match *m, void *ud)
{
    adder *ad = ud;
    mset *s = ad->s;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 32;
        gs_match *a = gs_realloc(ad->ctx, s->a, (size_t)cap * sizeof *a);
        if (a)
            s->a = a;
        uint16_t(*loc)[GS_MAX_BINDINGS] = a ? gs_realloc(ad->ctx, s->loc, (size_t)cap * sizeof *loc) : NULL;
        if (!loc) {
            s->nomem = true;
            return false;
        }
        s->loc = loc;
        s->cap = cap;
    }
    s->a[s->n++] = *m;
    return true;
}

enum { LOC_UNKNOWN = 0xffff };   /* an attribute past the 255th: the match is not reused */

/* Where each attribute m bound lives among the attributes of its nodes in g. */
static void locate_attrs(const gs_graph *g, const gs_match *m, uint16_t *loc)
{
    for (int v = 0; v < GS_MAX_BINDINGS; v++) {
        loc[v] = 0;
        for (int k = 0; m->attrs[v] && k < m->nnodes && !loc[v]; k++) {
            if (m->nodes[k] == GS_NONE)
                continue;
            const gs_node *n = &g->nodes[m->nodes[k]];
            ptrdiff_t a = m->attrs[v] - n->attrs;
            if (m->attrs[v] >= n->attrs && a < n->nattrs)
                loc[v] = a < 255 ? (uint16_t)((k << 8 | (int)a) + 1) : LOC_UNKNOWN;
        }
    }
}

/* False when an attribute of the match could not be located. */
static bool located(const uint16_t *loc)
{
    for (int v = 0; v < GS_MAX_BINDINGS; v++)
        if (loc[v] == LOC_UNKNOWN)
            return false;
    return true;
}

/* m's attribute bindings pointed at the same attributes of g's nodes. */
static void relocate_attrs(const gs_graph *g, gs_match *m, const uint16_t *loc)
{
    for (int v = 0; v < GS_MAX_BINDINGS; v++)
        if (loc[v])
            m->attrs[v] = &g->nodes[m->nodes[(loc[v] - 1) >> 8]].attrs[(loc[v] - 1) & 0xff];
}

/* ---- state ------------------------------------------------------------- */

static int pattern_nodes(const gs_ruleset *rs)
{
    int most = 1;
    for (int i = 0; i < rs->n; i++)
        if ((rs->rules[i]->flags & GS_RULE_SEARCH) && rs->rules[i]->nslots > most)
            most = rs->rules[i]->nslots;
    return most;
}

gs_ocggs *gs_ocggs_new(gs_ctx *ctx, const gs_ruleset *rs)
{
    gs_ocggs *oc = gs_zalloc(ctx, sizeof *oc);
    if (!oc)
        return NULL;
    oc->ctx = ctx;
    oc->rs = rs;
    oc->radius = pattern_nodes(rs);
    return oc;
}

void gs_ocggs_free(gs_ocggs *oc)
{
    if (!oc)
        return;
    mset_unref(oc->ctx, oc->cur);
    gs_dealloc(oc->ctx, oc->mark);
    gs_dealloc(oc->ctx, oc->queue);
    gs_dealloc(oc->ctx, oc);
}

void gs_ocggs_release(gs_ocggs *oc, gs_oreuse *r)
{
    if (!r)
        return;
    mset_unref(oc->ctx, r->from);
    gs_dealloc(oc->ctx, r->keep);
    gs_dealloc(oc->ctx, r->roots);
    gs_dealloc(oc->ctx, r);
}

/* ---- the matches of a graph --------------------------------------------- */

/* The inherited matches, then those rooted at the nodes to search again. */
static bool gather(gs_ocggs *oc, const gs_graph *g, const gs_oreuse *from, adder *ad, int *reused)
{
    for (int i = 0; i < from->nkeep; i++) {
        if (!mset_add(&from->from->a[from->keep[i]], ad))
            return false;
        relocate_attrs(g, &ad->s->a[ad->s->n - 1], from->from->loc[from->keep[i]]);
    }
    *reused = from->nkeep;
    for (int i = 0; i < from->nroots; i++)
        if (!(g->nodes[from->roots[i]].flags & GS_N_DEAD) &&
            gs_match_at(oc->rs, g, GS_RULE_SEARCH, from->roots[i], mset_add, ad) < 0)
            return false;
    return !ad->s->nomem;
}

int gs_ocggs_matches(gs_ocggs *oc, const gs_graph *g, const gs_oreuse *from, const gs_match **out,
                     int *reused)
{
    mset_unref(oc->ctx, oc->cur);
    oc->cur = mset_new(oc->ctx);
    int taken = 0;
    adder ad = { oc->ctx, oc->cur };
    bool ok = oc->cur != NULL;
    if (ok && from)
        ok = gather(oc, g, from, &ad, &taken);
    else if (ok)
        ok = gs_match_all(oc->rs, g, GS_RULE_SEARCH, mset_add, &ad) >= 0 && !oc->cur->nomem;
    if (!ok) {
        gs_nomem(oc->ctx);
        return -1;
    }
    for (int i = 0; i < oc->cur->n; i++)
        locate_attrs(g, &oc->cur->a[i], oc->cur->loc[i]);
    if (reused)
        *reused = taken;
    *out = oc->cur->a;
    return oc->cur->n;
}

/* A hash of what m binds: its rule, nodes, values and attributes. */
static uint64_t match_sig(const gs_match *m)
{
    uint64_t h = (uint64_t)(uintptr_t)m->rule * 0x9e3779b97f4a7c15ull;
    for (int k = 0; k < m->nnodes; k++)
        h = (h ^ (uint64_t)(uint32_t)m->nodes[k]) * 0x100000001b3ull;
    for (int v = 0; v < m->rule->nvars; v++)
        h = ((h ^ (uint64_t)(uint32_t)m->values[v]) * 0x100000001b3ull) ^ (uint64_t)(uintptr_t)m->attrs[v];
    return h * 0xff51afd7ed558ccdull;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The signatures of n matches, sorted, in a new array (NULL: no memory). */
static uint64_t *sorted_sigs(gs_ctx *ctx, const gs_match *a, int n)
{
    uint64_t *h = gs_alloc(ctx, ((size_t)n + 1) * sizeof *h);
    for (int i = 0; h && i < n; i++)
        h[i] = match_sig(&a[i]);
    if (h)
        qsort(h, (size_t)n, sizeof *h, u64_cmp);
    return h;
}

gs_status gs_ocggs_check(gs_ocggs *oc, const gs_graph *g)
{
    mset *full = mset_new(oc->ctx);
    adder ad = { oc->ctx, full };
    if (!full || gs_match_all(oc->rs, g, GS_RULE_SEARCH, mset_add, &ad) < 0 || full->nomem) {
        mset_unref(oc->ctx, full);
        return gs_nomem(oc->ctx);
    }
    uint64_t *a = sorted_sigs(oc->ctx, oc->cur->a, oc->cur->n), *b = sorted_sigs(oc->ctx, full->a, full->n);
    gs_status st = !a || !b ? gs_nomem(oc->ctx) : GS_OK;
    int i = 0;
    while (st == GS_OK && i < oc->cur->n && i < full->n && a[i] == b[i])
        i++;
    if (st == GS_OK && (oc->cur->n != full->n || i < full->n)) {
        const gs_match *odd = full->a;   /* name a rule of the difference */
        for (int k = 0; k < full->n; k++)
            if (i < full->n && match_sig(&full->a[k]) == b[i])
                odd = &full->a[k];
        st = gs_err(oc->ctx, GS_ERR_INTERNAL, "ocggs: %d matches kept and found again, %d found afresh "
                    "(first difference near rule '%s')", oc->cur->n, full->n,
                    full->n ? gs_rule_name(odd->rule) : "?");
    }
    gs_dealloc(oc->ctx, a);
    gs_dealloc(oc->ctx, b);
    mset_unref(oc->ctx, full);
    return st;
}

/* ---- what a rewrite touched --------------------------------------------- */

enum { TOUCHED = 1, NEAR = 2, SEEN = 4 };

static bool same_ids(const gs_id *a, int na, const gs_id *b, int nb)
{
    return na == nb && (na == 0 || !memcmp(a, b, (size_t)na * sizeof *a));
}

static void touch_value(const gs_graph *g, uint8_t *mark, gs_id v)
{
    if (v == GS_NONE || v >= g->nvalues)
        return;
    const gs_value *val = &g->values[v];
    if (val->producer != GS_NONE)
        mark[val->producer] |= TOUCHED;
    for (int u = 0; u < val->nuses; u++)
        mark[val->uses[u]] |= TOUCHED;
}

/* Mark (in child's numbering) the nodes the rewrite and its cleanup added,
 * removed or rewired, and the producers and readers of every value whose
 * producer or readers changed. */
static void mark_touched(const gs_graph *p, const gs_graph *c, uint8_t *mark)
{
    for (gs_id i = 0; i < c->nnodes; i++) {
        const gs_node *b = &c->nodes[i];
        bool live_c = !(b->flags & GS_N_DEAD);
        if (i >= p->nnodes) {
            mark[i] |= live_c ? TOUCHED : 0;
            continue;
        }
        const gs_node *a = &p->nodes[i];
        bool live_p = !(a->flags & GS_N_DEAD);
        if (live_p != live_c || (live_c && (!same_ids(a->in, a->nin, b->in, b->nin) ||
                                            !same_ids(a->out, a->nout, b->out, b->nout))))
            mark[i] |= TOUCHED;
    }
    for (gs_id v = 0; v < c->nvalues; v++) {
        const gs_value *b = &c->values[v];
        const gs_value *a = v < p->nvalues ? &p->values[v] : NULL;
        if (a && a->producer == b->producer && same_ids(a->uses, a->nuses, b->uses, b->nuses))
            continue;
        touch_value(c, mark, v);
        if (a && a->producer != GS_NONE && a->producer < c->nnodes)
            mark[a->producer] |= TOUCHED;
        for (int u = 0; a && u < a->nuses; u++)
            if (a->uses[u] < c->nnodes)
                mark[a->uses[u]] |= TOUCHED;
    }
}

static void push_near(gs_ocggs *oc, uint8_t *mark, int *n, gs_id id)
{
    if (id != GS_NONE && !(mark[id] & SEEN)) {
        mark[id] |= SEEN | NEAR;
        oc->queue[(*n)++] = id;
    }
}

/* Mark NEAR every live node within oc->radius hops of a touched one (a hop:
 * to the producer or a reader of a value the node reads or writes). A match
 * that holds a touched node has its root there. */
static void mark_near(gs_ocggs *oc, const gs_graph *c, uint8_t *mark)
{
    int n = 0;
    for (gs_id i = 0; i < c->nnodes; i++)
        if (mark[i] & TOUCHED)
            push_near(oc, mark, &n, i);
    for (int head = 0, depth = 0, level_end = n; head < n && depth < oc->radius; depth++, level_end = n)
        for (; head < level_end; head++) {
            const gs_node *nd = &c->nodes[oc->queue[head]];
            for (int k = 0; k < nd->nin + nd->nout; k++) {
                gs_id v = k < nd->nin ? nd->in[k] : nd->out[k - nd->nin];
                if (v == GS_NONE)
                    continue;
                push_near(oc, mark, &n, c->values[v].producer);
                for (int u = 0; u < c->values[v].nuses; u++)
                    push_near(oc, mark, &n, c->values[v].uses[u]);
            }
        }
}

/* True when m, found in the parent, holds in the child as it was: its root
 * is not searched again and none of its nodes or values changed. */
static bool still_valid(const gs_graph *c, const uint8_t *mark, const gs_match *m)
{
    gs_id root = m->nodes[m->rule->roots[0]->slot];
    if (mark[root] & NEAR)
        return false;
    for (int k = 0; k < m->nnodes; k++)
        if (m->nodes[k] != GS_NONE && (mark[m->nodes[k]] & TOUCHED))
            return false;
    for (int v = 0; v < m->rule->nvars; v++) {
        gs_id x = m->values[v];
        if (x != GS_NONE && c->values[x].producer != GS_NONE && (mark[c->values[x].producer] & TOUCHED))
            return false;
        for (int u = 0; x != GS_NONE && u < c->values[x].nuses; u++)
            if (mark[c->values[x].uses[u]] & TOUCHED)
                return false;
    }
    return true;
}

static bool scratch(gs_ocggs *oc, size_t n)
{
    if (n <= oc->cap)
        return true;
    size_t cap = n + n / 2 + 64;
    uint8_t *mark = gs_realloc(oc->ctx, oc->mark, cap);
    if (mark)
        oc->mark = mark;
    gs_id *q = mark ? gs_realloc(oc->ctx, oc->queue, cap * sizeof *q) : NULL;
    if (!q)
        return false;
    oc->queue = q;
    oc->cap = cap;
    return true;
}

static gs_status fill_reuse(gs_ocggs *oc, const gs_graph *c, const uint8_t *mark, gs_oreuse *r)
{
    int nroots = 0;
    for (gs_id i = 0; i < c->nnodes; i++)
        nroots += (mark[i] & NEAR) && !(c->nodes[i].flags & GS_N_DEAD);
    r->keep = gs_alloc(oc->ctx, ((size_t)oc->cur->n + 1) * sizeof *r->keep);
    r->roots = gs_alloc(oc->ctx, ((size_t)nroots + 1) * sizeof *r->roots);
    if (!r->keep || !r->roots)
        return gs_nomem(oc->ctx);
    for (gs_id i = 0; i < c->nnodes; i++)
        if ((mark[i] & NEAR) && !(c->nodes[i].flags & GS_N_DEAD))
            r->roots[r->nroots++] = i;
    for (int i = 0; i < oc->cur->n; i++)
        if (still_valid(c, mark, &oc->cur->a[i]) && located(oc->cur->loc[i]))
            r->keep[r->nkeep++] = i;
    return GS_OK;
}

gs_status gs_ocggs_inherit(gs_ocggs *oc, const gs_graph *parent, const gs_graph *child, gs_oreuse **out)
{
    *out = NULL;
    if (!scratch(oc, (size_t)child->nnodes + 1))
        return gs_nomem(oc->ctx);
    gs_oreuse *r = gs_zalloc(oc->ctx, sizeof *r);
    if (!r)
        return gs_nomem(oc->ctx);
    memset(oc->mark, 0, (size_t)child->nnodes);
    mark_touched(parent, child, oc->mark);
    mark_near(oc, child, oc->mark);
    r->from = oc->cur;
    oc->cur->refs++;
    gs_status st = fill_reuse(oc, child, oc->mark, r);
    if (st != GS_OK) {
        gs_ocggs_release(oc, r);
        return st;
    }
    *out = r;
    return GS_OK;
}

/* ---- sampling ------------------------------------------------------------ */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A uniform draw from (0, 1). */
static double uniform(uint64_t *s)
{
    return ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0;
}

/* Draw up to k of the items of class cls (weights w, > 0) without
 * replacement, weight by weight (Efraimidis and Spirakis: the k largest
 * u^(1/w)); keep[] marks them. Returns the number drawn. */
static int draw(const double *w, const int *cls, int n, int want, int k, uint64_t *rng, uint8_t *keep,
                double *score)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        score[i] = cls[i] == want ? log(uniform(rng)) / w[i] : -INFINITY;
    for (; m < k; m++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (cls[i] == want && !keep[i] && (best < 0 || score[i] > score[best]))
                best = i;
        if (best < 0)
            break;
        keep[best] = 1;
    }
    return m;
}

int gs_ocggs_sample(gs_ctx *ctx, const gs_osample *items, int n, double best, double eta, int width,
                    uint64_t *rng, uint8_t *keep)
{
    enum { NONE, LOWER, RAISE };
    double *w = gs_alloc(ctx, ((size_t)n + 1) * sizeof *w);
    double *score = gs_alloc(ctx, ((size_t)n + 1) * sizeof *score);
    int *cls = gs_alloc(ctx, ((size_t)n + 1) * sizeof *cls);
    int kept = -1;
    if (w && score && cls) {
        double limit = eta * best;
        memset(keep, 0, (size_t)n);
        for (int i = 0; i < n; i++) {
            const gs_osample *it = &items[i];
            cls[i] = NONE;
            if (it->delta < 0)
                cls[i] = LOWER, w[i] = -it->delta;
            else if (it->cost < limit && !it->parent_raised)
                cls[i] = RAISE, w[i] = limit - it->cost;
            if (cls[i] != NONE && !(w[i] > 1e-300))
                w[i] = 1e-300;
        }
        kept = draw(w, cls, n, LOWER, width - width / 2, rng, keep, score);
        kept += draw(w, cls, n, RAISE, width / 2, rng, keep, score);
    } else
        gs_nomem(ctx);
    gs_dealloc(ctx, w);
    gs_dealloc(ctx, score);
    gs_dealloc(ctx, cls);
    return kept;
}
