/*
 * search.c - the cost-guided search over rewrites in the manner of TASO
 * (Jia et al., SOSP 2019), and the structural hash it skips duplicates by.
 *
 * The search keeps a priority queue of candidate graphs ordered by cost. It
 * pops the cheapest, finds every match of the search rules, applies each to
 * a clone, prices the clone from the rewrite's delta, skips graphs already
 * seen (structural hash), and keeps a new candidate while its cost is below
 * alpha times the best so far: a rewrite that makes the graph slightly worse
 * can open the way to a much better one. It stops at the budget of expanded
 * candidates or the time limit and returns the best graph seen.
 */
#include "gs_search.h"
#include "gs_ocggs.h"

#include <string.h>
#include <time.h>

/* ---- hashing ----------------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {   /* a word at a time, then the tail bytes */
        uint64_t w;
        memcpy(&w, c + i, sizeof w);
        h = mix(h, w);
    }
    for (; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    return hash_bytes(h, s, strlen(s) + 1);
}

static uint64_t hash_tensor(const gs_tensor *t)
{
    uint64_t h = mix((uint64_t)t->dtype, (uint64_t)t->rank);
    h = hash_bytes(h, t->dims, (size_t)t->rank * sizeof t->dims[0]);
    if (t->data)   /* small tensors by content; big ones by identity */
        h = t->nbytes <= 256 ? hash_bytes(h, t->data, t->nbytes) : mix(h, (uint64_t)(uintptr_t)t->data);
    return h;
}

static uint64_t hash_attr(uint64_t h, const gs_attr *a)
{
    h = hash_str(mix(h, (uint64_t)a->type), a->name);
    switch (a->type) {
    case GS_A_INT: return mix(h, (uint64_t)a->i);
    case GS_A_FLOAT: return hash_bytes(h, &a->f, sizeof a->f);
    case GS_A_STRING: return hash_bytes(h, a->s, a->slen);
    case GS_A_INTS: return hash_bytes(h, a->ints, a->n * sizeof *a->ints);
    case GS_A_FLOATS: return hash_bytes(h, a->floats, a->n * sizeof *a->floats);
    case GS_A_TENSOR: return a->t ? mix(h, hash_tensor(a->t)) : h;
    default: return mix(h, (uint64_t)(uintptr_t)a->src);
    }
}

static uint64_t hash_leaf(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    if (val->init)
        return mix(11, hash_tensor(val->init));
    if (val->flags & GS_V_INPUT) {
        for (int32_t i = 0; i < g->ninputs; i++)
            if (g->inputs[i] == v)
                return mix(13, (uint64_t)i);
    }
    return mix(17, (uint64_t)v);
}

/* The hash of n's op, domain and attributes, with bit 0 saying whether its
 * two operands commute, and bit 1 set so it is never 0: computed once per
 * node and kept in the node, which clones copy (a candidate's graph differs
 * from its parent's in a few nodes, and the rest need not be hashed again). */
static uint64_t node_self(gs_node *n)
{
    if (n->hash_self)
        return n->hash_self;
    uint64_t h = hash_str(hash_str(0xcbf29ce484222325ull, n->op), n->domain);
    for (int a = 0; a < n->nattrs; a++)
        h = hash_attr(h, &n->attrs[a]);
    const gs_opdef *d = n->nin == 2 ? n->def : NULL;
    bool comm = d && (d->flags & GS_OP_COMMUTATIVE);
    return n->hash_self = (h & ~3ull) | 2u | (comm ? 1u : 0u);
}

static uint64_t hash_node(gs_node *n, const uint64_t *vh)
{
    uint64_t h = node_self(n);
    uint64_t in[2] = { 0, 0 };
    bool comm = h & 1u;
    for (int k = 0; k < n->nin; k++) {
        uint64_t x = n->in[k] == GS_NONE ? 7 : vh[n->in[k]];
        if (comm)
            in[k] = x;
        else
            h = mix(h, x);
    }
    if (comm)   /* operand order does not matter */
        h = mix(mix(h, in[0] < in[1] ? in[0] : in[1]), in[0] < in[1] ? in[1] : in[0]);
    for (int k = 0; k < n->ncaps; k++)
        h = mix(h, vh[n->caps[k]]);
    return h;
}

/* The canonical hash of g into *out; false when memory is short. */
static bool graph_hash(const gs_graph *g, uint64_t *out)
{
    uint64_t *vh = gs_alloc(g->ctx, ((size_t)g->nvalues + 1) * sizeof *vh);
    gs_id *order = gs_alloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *order);
    uint64_t h = 0;
    int n = vh && order ? gs_ir_topo(g, order) : -1;
    if (n >= 0) {
        for (gs_id v = 0; v < g->nvalues; v++)
            vh[v] = hash_leaf(g, v);
        for (int i = 0; i < n; i++) {
            gs_node *nd = &g->nodes[order[i]];   /* hash_node keeps node_self in it */
            uint64_t nh = hash_node(nd, vh);
            for (int k = 0; k < nd->nout; k++)
                if (nd->out[k] != GS_NONE)
                    vh[nd->out[k]] = mix(nh, (uint64_t)k);
        }
        h = 0x84222325cbf29ce4ull;
        for (int32_t i = 0; i < g->noutputs; i++)
            h = mix(h, vh[g->outputs[i]]);
    }
    gs_dealloc(g->ctx, vh);
    gs_dealloc(g->ctx, order);
    *out = h;
    return n >= 0;
}

uint64_t gs_graph_hash(const gs_graph *g)
{
    uint64_t h = 0;
    graph_hash(g, &h);
    return h;
}

/* ---- the search -------------------------------------------------------- */

typedef struct cand {
    gs_graph *g;
    size_t bytes;               /* graph_bytes(g) */
    double cost;
    uint32_t seq;               /* insertion order: ties break deterministically */
    gs_step *path;
    /* OCGGS (search_ocggs.c): */
    int32_t key;                /* the key of the match that made it; -1: the start, or
                                   made by a step that raised the cost (gs_ocggs.h) */
    double delta;               /* the cost change of the step that made it */
    bool prev_raised;           /* the step before that one raised the cost */
    gs_oreuse *reuse;           /* the parent's matches it keeps, or NULL */
} cand;

typedef struct heap {
    cand *a;
    int n, cap;
    size_t bytes;               /* graph_bytes of the graphs held */
} heap;

/* Bytes a candidate graph holds: its arrays and name tables, and its arena
 * (node and value lists, and a 16 KiB block for what rewrites add); names
 * and weights are shared with the start graph. */
static size_t graph_bytes(const gs_graph *g)
{
    size_t b = sizeof *g + (size_t)g->capnodes * sizeof(gs_node) + (size_t)g->capvalues * sizeof(gs_value) +
               ((size_t)g->mapcap + g->nodemapcap) * sizeof(gs_id), lists = 0;
    for (gs_id i = 0; i < g->nnodes; i++) {
        const gs_node *n = &g->nodes[i];
        lists += (size_t)(n->nin + n->nout + n->ncaps) * sizeof(gs_id) + (size_t)n->nattrs * sizeof(gs_attr);
    }
    for (gs_id v = 0; v < g->nvalues; v++)
        lists += (size_t)(g->values[v].rank > 0 ? g->values[v].rank : 0) * sizeof(gs_dim) +
                 (size_t)g->values[v].nuses * sizeof(gs_id);
    return b + lists + 16384;
}

static bool cand_less(const cand *x, const cand *y)
{
    return x->cost < y->cost || (x->cost == y->cost && x->seq < y->seq);
}

static bool heap_push(gs_ctx *ctx, heap *h, cand c)
{
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 64;
        cand *a = gs_realloc(ctx, h->a, (size_t)cap * sizeof *a);
        if (!a)
            return false;
        h->a = a;
        h->cap = cap;
    }
    h->bytes += c.bytes;
    int i = h->n++;
    while (i > 0 && cand_less(&c, &h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = c;
    return true;
}

static cand heap_pop(heap *h)
{
    cand top = h->a[0], x = h->a[--h->n];
    h->bytes -= top.bytes;
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && cand_less(&h->a[c + 1], &h->a[c]))
            c++;
        if (!cand_less(&h->a[c], &x))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    h->a[i] = x;
    return top;
}

/* Removes and returns the last candidate in the queue's order (a leaf). */
static cand heap_drop_worst(heap *h)
{
    int w = h->n / 2;
    for (int i = w + 1; i < h->n; i++)
        if (cand_less(&h->a[w], &h->a[i]))
            w = i;
    cand worst = h->a[w], x = h->a[--h->n];
    h->bytes -= worst.bytes;
    if (w < h->n) {   /* the last leaf takes the hole and rises to its place */
        int i = w;
        while (i > 0 && cand_less(&x, &h->a[(i - 1) / 2])) {
            h->a[i] = h->a[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h->a[i] = x;
    }
    return worst;
}

/* A set of 64-bit hashes (open addressing; 0 is mapped to 1). */
typedef struct hset {
    uint64_t *a;
    size_t n, cap;
} hset;

static int hset_add(gs_ctx *ctx, hset *s, uint64_t h)
{
    h = h ? h : 1;
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *a = gs_zalloc(ctx, cap * sizeof *a);
        if (!a)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->a[i])
                for (size_t j = s->a[i] & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (!a[j]) {
                        a[j] = s->a[i];
                        break;
                    }
        gs_dealloc(ctx, s->a);
        s->a = a;
        s->cap = cap;
    }
    for (size_t j = h & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->a[j] == h)
            return 0;
        if (!s->a[j]) {
            s->a[j] = h;
            s->n++;
            return 1;
        }
    }
}

typedef struct mlist {
    gs_match *a;
    int n, cap;
    gs_ctx *ctx;
    bool nomem;
} mlist;

static bool collect(const gs_match *m, void *ud)
{
    mlist *l = ud;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 32;
        gs_match *a = gs_realloc(l->ctx, l->a, (size_t)cap * sizeof *a);
        if (!a) {
            l->nomem = true;
            return false;
        }
        l->a = a;
        l->cap = cap;
    }
    l->a[l->n++] = *m;
    return true;
}

typedef struct search {
    gs_ctx *ctx;
    const gs_rw *rw;
    const gs_search_opts *opts;
    heap q;
    hset seen;
    mlist ml;
    cand best;
    uint32_t seq;
    int candidates, expanded;
    size_t queue_cap, queue_peak;   /* bytes of queued graphs: the cap, the most seen */
    const gs_arena *perm;       /* names and constants the rewrites make */
    size_t arena0;              /* perm's and arena's bytes at the start */
    int tried, matches, reused;
    /* OCGGS (search_ocggs.c): */
    gs_ocggs *oc;               /* order keys and match reuse; NULL: TASO's search */
    bool sample;                /* grow a step at a time: children wait in next */
    heap next;                  /* the children of this step's candidates */
    uint64_t rng;
} search;

static void cand_free(search *s, cand c)
{
    gs_ir_free(c.g);
    if (s->oc)
        gs_ocggs_release(s->oc, c.reuse);
}

/* True while what the rewrites of candidates left in the shared arenas
 * (names, new constants, steps: freed only with the model and the run) is
 * within GS_SEARCH_ARENA_BYTES. */
static bool arenas_ok(const search *s)
{
    return s->perm->bytes + s->rw->arena->bytes - s->arena0 <= GS_SEARCH_ARENA_BYTES;
}

/* Add node id, and the nodes reading its outputs down to depth more levels,
 * to work list w: a cleanup match that holds a changed node may be rooted
 * below it (Concat(Relu(a), Relu(b)) over a Split's parts). */
static void work_add(const gs_graph *g, gs_id *w, int *n, int cap, gs_id id, int depth)
{
    int i = 0;
    while (i < *n && w[i] != id)
        i++;
    if (i == *n && *n < cap)
        w[(*n)++] = id;
    const gs_node *nd = &g->nodes[id];
    for (int k = 0; k < nd->nout && depth > 0; k++) {
        if (nd->out[k] == GS_NONE)
            continue;
        const gs_value *v = &g->values[nd->out[k]];
        for (int u = 0; u < v->nuses && *n < cap; u++)
            work_add(g, w, n, cap, v->uses[u], depth - 1);
    }
}

/* Cleanup rules where a search rewrite changed the graph, to a fixed point:
 * a rewrite's payoff may come only from the cleanup it enables (the Concat of
 * a merged Conv's Split cancels that Split), and the search must see it.
 * Each cleanup step joins the path; *delta grows by its cost change. */
static gs_status local_cleanup(search *s, gs_graph *g, const gs_delta *first, gs_step **path,
                               double *delta)
{
    enum { CAP = 512, STEPS = 64, CLEANUP_DEPTH = 2 };
    gs_id work[CAP];
    int n = 0;
    for (int i = 0; i < first->nadded; i++)
        work_add(g, work, &n, CAP, first->added[i], CLEANUP_DEPTH);
    for (int steps = 0; n > 0 && steps < STEPS;) {
        gs_delta d;
        bool priced;
        bool applied;
        gs_status st = gs_rw_cleanup_at(s->rw, g, GS_RULE_CLEANUP, work[--n], path, &d, &applied, &priced);
        if (st != GS_OK)
            return st;
        if (!applied)
            continue;
        if (!priced)
            return GS_ERR_UNSUPPORTED;   /* cannot be priced: the candidate is not taken */
        *delta += (*path)->delta;
        steps++;
        for (int i = 0; i < d.nadded; i++)
            work_add(g, work, &n, CAP, d.added[i], CLEANUP_DEPTH);
    }
    return GS_OK;
}

/* Apply match m to a clone of c, then the cleanup rules around the change;
 * keep the result if it is new and cheap enough. Returns GS_OK unless memory
 * ran out. */
static gs_status try_match(search *s, const cand *c, const gs_match *m)
{
    gs_graph *ng = gs_ir_clone(c->g, NULL);
    if (!ng)
        return gs_nomem(s->ctx);
    gs_delta d;
    gs_status st = gs_rule_apply(ng, m, &d);
    if (st != GS_OK) {
        gs_ir_free(ng);
        return st == GS_ERR_NOMEM ? st : GS_OK;   /* a rule that cannot apply here is skipped */
    }
    s->tried++;
    if (!gs_rw_price_added(s->rw, ng, &d)) {
        gs_ir_free(ng);
        return GS_OK;   /* cannot be priced: not taken */
    }
    double removed = gs_rw_nodes_cost(s->rw, c->g, d.removed, d.nremoved);
    double delta = gs_rw_nodes_cost(s->rw, ng, d.added, d.nadded) - removed;
    gs_step *path = gs_rw_step(s->rw, c->g, m, delta, c->path);
    if (!path) {
        gs_ir_free(ng);
        return gs_nomem(s->ctx);
    }
    if ((st = local_cleanup(s, ng, &d, &path, &delta)) != GS_OK) {
        gs_ir_free(ng);
        return st == GS_ERR_NOMEM ? st : GS_OK;
    }
    double cost = c->cost + delta;
    int32_t key = s->oc ? gs_ocggs_child_key(s->oc, m, delta) : -1;   /* OCGGS: notes a raise */
    uint64_t h;
    int fresh = s->opts->keep_duplicates ? 1 : graph_hash(ng, &h) ? hset_add(s->ctx, &s->seen, h) : -1;
    if (fresh <= 0 || cost >= s->opts->alpha * s->best.cost) {
        gs_ir_free(ng);
        return fresh < 0 ? gs_nomem(s->ctx) : GS_OK;
    }
    s->candidates++;
    cand nc = { ng, graph_bytes(ng), cost, s->seq++, path, key, delta, c->path != NULL && c->delta >= 0,
                NULL };
    if (s->oc && (st = gs_ocggs_inherit(s->oc, c->g, ng, &nc.reuse)) != GS_OK) {   /* OCGGS */
        gs_ir_free(ng);
        return st;
    }
    if (cost < s->best.cost) {
        gs_graph *copy = gs_ir_clone(ng, NULL);
        if (!copy) {
            cand_free(s, nc);
            return gs_nomem(s->ctx);
        }
        gs_ir_free(s->best.g);
        s->best = nc;
        s->best.g = copy;
        s->best.reuse = NULL;
    }
    heap *q = s->sample ? &s->next : &s->q;   /* OCGGS sampling: the next step's */
    if (!heap_push(s->ctx, q, nc)) {
        cand_free(s, nc);
        return gs_nomem(s->ctx);
    }
    if (s->q.bytes + s->next.bytes > s->queue_peak)
        s->queue_peak = s->q.bytes + s->next.bytes;
    /* The budget leaves budget - expanded more pops: a candidate ranked below
     * that can never be expanded (ranks only fall behind), so it is freed now.
     * Past the memory cap the most expensive candidates go too. */
    while (q->n > 0 && ((!s->sample && q->n > s->opts->budget - s->expanded) ||
                        (q->n > 1 && s->q.bytes + s->next.bytes > s->queue_cap)))
        cand_free(s, heap_drop_worst(q));
    return GS_OK;
}

/* The matches of c's graph into *ms: all of them, or with OCGGS those of
 * its parent that the rewrite left alone and the new ones around it.
 * Returns the count, or -1 with *st set. */
static int find_matches(search *s, cand *c, const gs_match **ms, gs_status *st)
{
    *st = GS_ERR_NOMEM;
    if (s->oc) {   /* OCGGS */
        int reused = 0, n = gs_ocggs_matches(s->oc, c->g, c->reuse, ms, &reused);
        s->reused += reused;
        if (n >= 0 && s->opts->check_reuse && (*st = gs_ocggs_check(s->oc, c->g)) != GS_OK)
            return -1;
        return n;
    }
    s->ml.n = 0;
    if (gs_match_all(s->rw->rs, c->g, GS_RULE_SEARCH, collect, &s->ml) < 0 || s->ml.nomem)
        return -1;
    *ms = s->ml.a;
    return s->ml.n;
}

static gs_status expand(search *s, cand *c)
{
    const gs_match *ms;
    gs_status st;
    int n = find_matches(s, c, &ms, &st);
    if (n < 0)
        return st == GS_ERR_NOMEM ? gs_nomem(s->ctx) : st;
    s->matches += n;
    st = GS_OK;
    for (int i = 0; i < n && st == GS_OK; i++)
        if (!s->oc || s->sample || gs_ocggs_allowed(s->oc, &ms[i], c->key))   /* OCGGS: in order */
            st = try_match(s, c, &ms[i]);
    return st;
}

/* OCGGS sampling: once every candidate of a step is expanded, a weighted
 * sample of their children (search_ocggs.c) becomes the next step's; the
 * others are freed. */
static gs_status next_step(search *s)
{
    int n = s->next.n;
    gs_osample *items = gs_alloc(s->ctx, ((size_t)n + 1) * sizeof *items);
    uint8_t *keep = gs_alloc(s->ctx, (size_t)n + 1);
    int kept = items && keep ? 0 : -1;
    for (int i = 0; kept == 0 && i < n; i++)
        items[i] = (gs_osample){ s->next.a[i].cost, s->next.a[i].delta, s->next.a[i].prev_raised };
    if (kept == 0)
        kept = gs_ocggs_sample(s->ctx, items, n, s->best.cost, s->opts->alpha,
                               s->opts->sample_width > 0 ? s->opts->sample_width : GS_OCGGS_SAMPLE_WIDTH,
                               &s->rng, keep);
    gs_status st = kept < 0 ? gs_nomem(s->ctx) : GS_OK;
    for (int i = 0; i < n; i++) {
        bool pushed = st == GS_OK && keep[i] && heap_push(s->ctx, &s->q, s->next.a[i]);
        if (st == GS_OK && keep[i] && !pushed)
            st = gs_nomem(s->ctx);
        if (!pushed)
            cand_free(s, s->next.a[i]);
    }
    s->next.n = 0;
    s->next.bytes = 0;
    gs_dealloc(s->ctx, items);
    gs_dealloc(s->ctx, keep);
    return st;
}

static void search_free(search *s)
{
    while (s->q.n > 0)
        cand_free(s, heap_pop(&s->q));
    while (s->next.n > 0)
        cand_free(s, heap_pop(&s->next));
    gs_dealloc(s->ctx, s->next.a);
    gs_ocggs_free(s->oc);
    gs_dealloc(s->ctx, s->q.a);
    gs_dealloc(s->ctx, s->seen.a);
    gs_dealloc(s->ctx, s->ml.a);
}

gs_status gs_search(const gs_rw *rw, const gs_graph *g, const gs_search_opts *opts, gs_search_result *res)
{
    search s = { .ctx = g->ctx, .rw = rw, .opts = opts, .perm = g->perm, .arena0 = g->perm->bytes + rw->arena->bytes,
                 .queue_cap = opts->queue_bytes ? opts->queue_bytes : GS_SEARCH_QUEUE_BYTES };
    s.ml.ctx = g->ctx;
    double t0 = gs_now();
    memset(res, 0, sizeof *res);
    cand start = { gs_ir_clone(g, NULL), 0, gs_cost_graph(rw->cm, g), s.seq++, NULL, -1, 0, false, NULL };
    if (start.g && !gs_ir_reserve_names(start.g, start.g->nvalues + start.g->nvalues / 2 + 256)) {
        gs_ir_free(start.g);
        start.g = NULL;
    }
    s.best = (cand){ .g = gs_ir_clone(g, NULL), .cost = start.cost, .key = -1 };
    gs_status st = start.g && s.best.g ? GS_OK : gs_nomem(g->ctx);
    if (st == GS_OK && opts->mode != GS_SEARCH_TASO && !(s.oc = gs_ocggs_new(g->ctx, rw->rs)))   /* OCGGS */
        st = gs_nomem(g->ctx);
    s.sample = opts->mode == GS_SEARCH_OCGGS_SAMPLE;
    s.rng = opts->seed ^ 0x6a09e667f3bcc908ull;
    uint64_t h;
    if (st == GS_OK && (!graph_hash(g, &h) || hset_add(s.ctx, &s.seen, h) < 0 ||
                        !heap_push(s.ctx, &s.q, start)))
        st = gs_nomem(g->ctx);
    if (st != GS_OK)
        gs_ir_free(start.g);   /* not in the queue: the queue frees only what it holds */
    while (st == GS_OK && s.expanded < opts->budget && gs_now() - t0 < opts->time_limit && arenas_ok(&s)) {
        if (s.q.n == 0 && s.sample && s.next.n > 0)
            st = next_step(&s);   /* OCGGS sampling: this step done, the next one's chosen */
        if (st != GS_OK || s.q.n == 0)
            break;
        cand c = heap_pop(&s.q);
        s.expanded++;
        st = expand(&s, &c);
        cand_free(&s, c);
        if (opts->progress && opts->progress(opts->progress_ud, s.expanded, s.best.cost))
            break;   /* the caller cancelled: the best so far stands */
    }
    search_free(&s);
    if (st != GS_OK) {
        gs_ir_free(s.best.g);
        return st;
    }
    res->graph = s.best.g;
    res->cost = s.best.cost;
    res->path = s.best.path;
    res->candidates = s.candidates;
    res->expanded = s.expanded;
    res->queue_peak = s.queue_peak;
    res->tried = s.tried;
    res->matches = s.matches;
    res->reused = s.reused;
    res->time_ms = (gs_now() - t0) * 1e3;
    return GS_OK;
}
