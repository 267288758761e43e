/*
 * test_search.c - CUnit suites for the cost model and the search: the
 * structural hash (equal graphs hash equal, different graphs differ), the
 * alpha relaxation, the budget and time limit, determinism, and common
 * subexpressions through equal small constants.
 */
#include "gs_region.h"
#include "gs_search.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

int cu_register(void);

/* ---- graph building ------------------------------------------------------ */

static gs_id input(gs_graph *g, const char *name)
{
    gs_id v = gs_ir_add_value(g, name, true);
    g->values[v].flags |= GS_V_INPUT;
    g->values[v].dtype = GS_FLOAT;
    gs_id *l = gs_arena_alloc(&g->arena, ((size_t)g->ninputs + 1) * sizeof *l);
    if (g->ninputs)
        memcpy(l, g->inputs, (size_t)g->ninputs * sizeof *l);
    l[g->ninputs++] = v;
    g->inputs = l;
    return v;
}

static void output(gs_graph *g, gs_id v)
{
    g->values[v].flags |= GS_V_OUTPUT;
    gs_id *l = gs_arena_alloc(&g->arena, ((size_t)g->noutputs + 1) * sizeof *l);
    if (g->noutputs)
        memcpy(l, g->outputs, (size_t)g->noutputs * sizeof *l);
    l[g->noutputs++] = v;
    g->outputs = l;
}

static gs_id op2(gs_graph *g, const char *op, gs_id a, gs_id b, const char *out)
{
    gs_id in[2] = { a, b }, o = gs_ir_add_value(g, out, true);
    gs_ir_add_node(g, op, "", gs_arena_strdup(g->perm, out), in, b == GS_NONE ? 1 : 2, &o, 1);
    return o;
}

/* y = Relu(Add(x, z)) and w = Sigmoid(x), nodes added in one of two orders
 * and with value names decorated by tag. */
static gs_graph *sample(gs_ctx *ctx, bool reorder, const char *tag, const char *op)
{
    char n1[32], n2[32], n3[32];
    snprintf(n1, sizeof n1, "a%s", tag);
    snprintf(n2, sizeof n2, "y%s", tag);
    snprintf(n3, sizeof n3, "w%s", tag);
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x"), z = input(g, "z"), w = GS_NONE;
    if (reorder)
        w = op2(g, "Sigmoid", x, GS_NONE, n3);
    gs_id a = op2(g, op, x, z, n1);
    gs_id y = op2(g, "Relu", a, GS_NONE, n2);
    if (!reorder)
        w = op2(g, "Sigmoid", x, GS_NONE, n3);
    output(g, y);
    output(g, w);
    return g;
}

static void test_hash_equal(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *a = sample(ctx, false, "", "Add"), *b = sample(ctx, true, "_other", "Add");
    gs_graph *c = gs_ir_clone(a, NULL);
    CU_ASSERT_EQUAL(gs_ir_verify(b), GS_OK);
    CU_ASSERT_EQUAL(gs_graph_hash(a), gs_graph_hash(b));   /* node order and names do not matter */
    CU_ASSERT_EQUAL(gs_graph_hash(a), gs_graph_hash(c));
    gs_ir_free(a), gs_ir_free(b), gs_ir_free(c);
    gs_ctx_free(ctx);
}

static void test_hash_commutative(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *a = sample(ctx, false, "", "Add"), *b = sample(ctx, false, "", "Add");
    gs_graph *s1 = sample(ctx, false, "", "Sub"), *s2 = sample(ctx, false, "", "Sub");
    /* swap the operands of the first node in b and s2 */
    gs_node *nb = &b->nodes[0], *ns = &s2->nodes[0];
    gs_id t = nb->in[0];
    nb->in[0] = nb->in[1], nb->in[1] = t;
    t = ns->in[0];
    ns->in[0] = ns->in[1], ns->in[1] = t;
    CU_ASSERT_EQUAL(gs_graph_hash(a), gs_graph_hash(b));        /* Add commutes */
    CU_ASSERT_NOT_EQUAL(gs_graph_hash(s1), gs_graph_hash(s2));  /* Sub does not */
    CU_ASSERT_NOT_EQUAL(gs_graph_hash(a), gs_graph_hash(s1));   /* different op */
    gs_ir_free(a), gs_ir_free(b), gs_ir_free(s1), gs_ir_free(s2);
    gs_ctx_free(ctx);
}

/* Each node keeps the hash of its op and attributes once computed, and clones
 * copy it: a hashed graph's clone, changed, hashes as the same graph built
 * afresh, and a node whose attributes change (with the reset the IR asks
 * for) hashes anew. */
static void test_hash_kept_in_nodes(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *a = sample(ctx, false, "", "Add"), *b = sample(ctx, false, "", "Add");
    uint64_t ha = gs_graph_hash(a);
    gs_graph *c = gs_ir_clone(a, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    c->outputs[0] = op2(c, "Neg", c->outputs[0], GS_NONE, "neg");
    b->outputs[0] = op2(b, "Neg", b->outputs[0], GS_NONE, "neg");
    CU_ASSERT_EQUAL(gs_graph_hash(c), gs_graph_hash(b));
    CU_ASSERT_NOT_EQUAL(gs_graph_hash(c), ha);
    CU_ASSERT_EQUAL(gs_graph_hash(a), ha);   /* the original is untouched */
    gs_node *neg = &c->nodes[c->values[c->outputs[0]].producer];
    gs_attr *alpha = gs_arena_alloc(&c->arena, sizeof *alpha);
    *alpha = (gs_attr){ .name = "alpha", .type = GS_A_FLOAT, .f = 0.5f };
    uint64_t before = gs_graph_hash(c);
    neg->attrs = alpha, neg->nattrs = 1, neg->hash_self = 0;
    CU_ASSERT_NOT_EQUAL(gs_graph_hash(c), before);
    gs_ir_free(a), gs_ir_free(b), gs_ir_free(c);
    gs_ctx_free(ctx);
}

/* A corpus of small graphs that all differ: every pair must hash apart. */
static void test_hash_corpus_distinct(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    const char *ops[] = { "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Equal" };
    enum { N = sizeof ops / sizeof ops[0] };
    uint64_t h[2 * N];
    for (int i = 0; i < N; i++) {
        gs_graph *g = sample(ctx, false, "", ops[i]);
        h[i] = gs_graph_hash(g);
        gs_id extra = op2(g, "Neg", g->outputs[0], GS_NONE, "neg");   /* one more node */
        g->outputs[0] = extra;
        h[N + i] = gs_graph_hash(g);
        gs_ir_free(g);
    }
    int collisions = 0;
    for (int i = 0; i < 2 * N; i++)
        for (int j = i + 1; j < 2 * N; j++)
            collisions += h[i] == h[j];
    CU_ASSERT_EQUAL(collisions, 0);
    gs_ctx_free(ctx);
}

/* A chain of n Relus; extracting any run into a region and splicing it
 * back unchanged leaves an equivalent, valid graph. */
static gs_graph *chain(gs_ctx *ctx, int n)
{
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id v = input(g, "x");
    char name[32];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "r%d", i);
        v = op2(g, i % 3 ? "Relu" : "Sigmoid", v, GS_NONE, name);
    }
    output(g, v);
    return g;
}

static void test_region_roundtrip(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = chain(ctx, 50);
    uint64_t before = gs_graph_hash(g);
    gs_id order[64];
    int n = gs_ir_topo(g, order);
    int starts[64];
    int count = gs_region_plan(g, order, n, 10, 20, starts);
    CU_ASSERT(count >= 3);
    CU_ASSERT_EQUAL(starts[count], n);
    for (int k = 0; k < count; k++) {
        CU_ASSERT(starts[k + 1] - starts[k] <= 20);
        gs_region r;
        CU_ASSERT_EQUAL_FATAL(gs_region_extract(&r, g, order + starts[k], starts[k + 1] - starts[k]), GS_OK);
        CU_ASSERT_EQUAL(gs_ir_verify(r.sub), GS_OK);
        CU_ASSERT_EQUAL(r.sub->ninputs, 1);
        CU_ASSERT_EQUAL(r.sub->noutputs, 1);
        CU_ASSERT_EQUAL(gs_region_splice(&r, r.sub), GS_OK);
        gs_region_free(&r);
        CU_ASSERT_EQUAL(gs_ir_verify(g), GS_OK);
    }
    CU_ASSERT_EQUAL(gs_ir_live_nodes(g), 50);
    CU_ASSERT_EQUAL(gs_graph_hash(g), before);
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

/* A node a region's search adds may take the name of a node outside the
 * region (the region graph knows only its own): spliced back, it gets a
 * name of its own, and the region's unchanged nodes keep theirs. */
static void test_region_splice_names(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = chain(ctx, 30);
    gs_id order[64];
    int n = gs_ir_topo(g, order);
    gs_region r;
    CU_ASSERT_EQUAL_FATAL(gs_region_extract(&r, g, order + 10, 10), GS_OK);
    CU_ASSERT_FALSE(gs_ir_node_name_taken(r.sub, "r0"));
    gs_id in = r.sub->inputs[0], out = gs_ir_add_value(r.sub, "extra", true);
    CU_ASSERT_FATAL(gs_ir_add_node(r.sub, "Neg", "", "r0", &in, 1, &out, 1) != GS_NONE);
    CU_ASSERT_EQUAL_FATAL(gs_region_splice(&r, r.sub), GS_OK);
    gs_region_free(&r);
    CU_ASSERT_EQUAL(gs_ir_verify(g), GS_OK);
    int r0 = 0, r10 = 0, neg = 0;
    for (gs_id i = 0; i < g->nnodes; i++) {
        const gs_node *nd = &g->nodes[i];
        if (nd->flags & GS_N_DEAD)
            continue;
        r0 += !strcmp(nd->name, "r0");
        r10 += !strcmp(nd->name, "r10");
        if (!strcmp(nd->op, "Neg")) {
            neg++;
            CU_ASSERT_STRING_EQUAL(nd->name, "r0_1");
        }
    }
    CU_ASSERT_EQUAL(r0, 1);
    CU_ASSERT_EQUAL(r10, 1);   /* an unchanged node of the region keeps its name */
    CU_ASSERT_EQUAL(neg, 1);
    CU_ASSERT_EQUAL(n, 30);
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

/* ---- the cost model -------------------------------------------------------- */

static gs_id input_shaped(gs_graph *g, const char *name, int64_t d0, int64_t d1);

/* An elementwise node reads each distinct input once: Mul(x, x) moves the
 * bytes of x and y, Mul(x, z) those of x, z and y, and Pow(x, 2) those of x,
 * the exponent and y. */
static void test_cost_reads_each_input_once(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input_shaped(g, "x", 64, 64), z = input_shaped(g, "z", 64, 64);
    output(g, op2(g, "Mul", x, x, "sq"));
    output(g, op2(g, "Mul", x, z, "xz"));
    gs_infer_graph(g);
    double fsq, bsq, fxz, bxz, tile = 64.0 * 64 * 4;
    gs_cost c;
    gs_cost_default(g, &g->nodes[0], &c);
    bsq = c.bytes_read + c.bytes_written, fsq = c.flops;
    gs_cost_default(g, &g->nodes[1], &c);
    bxz = c.bytes_read + c.bytes_written, fxz = c.flops;
    CU_ASSERT_DOUBLE_EQUAL(bsq, 2 * tile, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(bxz, 3 * tile, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(fsq, fxz, 1e-9);
    gs_cost_model cm = { &gs_profile_default, NULL, NULL };
    gs_ncost a, b;
    gs_cost_node(&cm, g, &g->nodes[0], &a);
    gs_cost_node(&cm, g, &g->nodes[1], &b);
    CU_ASSERT(a.seconds < b.seconds);
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

/* ---- the search ------------------------------------------------------------ */

/* Two search rules: abs-expand makes the graph a little more expensive
 * (Abs -> Sign * x: one more node), and mul-sign-drop then removes both
 * nodes under the Relu, leaving fewer nodes than at the start. Only a search that accepts the first, slightly worse step
 * (alpha > 1) reaches the cheap graph. The rules are nonsense as math: the
 * search only sees costs. */
static const char alpha_rules[] =
    "{\"rules\": ["
    "{\"name\": \"abs-expand\", \"class\": \"search\", \"match\": \"Abs(x)\","
    " \"rewrite\": \"Mul(Sign(x), x)\", \"opset\": [9, 1000]},"
    "{\"name\": \"mul-sign-drop\", \"class\": \"search\", \"match\": \"Relu(Mul(Sign(x), x))\","
    " \"rewrite\": \"Relu(x)\"}]}";

static gs_id input_shaped(gs_graph *g, const char *name, int64_t d0, int64_t d1)
{
    gs_id v = input(g, name);
    gs_value *val = &g->values[v];
    val->rank = 2;
    val->dims = gs_arena_alloc(&g->arena, 2 * sizeof(gs_dim));
    val->dims[0].v = d0;
    val->dims[1].v = d1;
    return v;
}

/* y = Relu(Abs(x)) next to an expensive MatMul that no rule touches. */
static gs_graph *alpha_graph(gs_ctx *ctx)
{
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id a = input_shaped(g, "a", 256, 256), b = input_shaped(g, "b", 256, 256);
    gs_id x = input_shaped(g, "x", 64, 64);
    output(g, op2(g, "MatMul", a, b, "m"));
    output(g, op2(g, "Relu", op2(g, "Abs", x, GS_NONE, "ax"), GS_NONE, "y"));
    gs_infer_graph(g);
    return g;
}

static int count_op(const gs_graph *g, const char *op)
{
    int n = 0;
    for (gs_id i = 0; i < g->nnodes; i++)
        n += !(g->nodes[i].flags & GS_N_DEAD) && !strcmp(g->nodes[i].op, op);
    return n;
}

static gs_search_result run_search(gs_ctx *ctx, const gs_graph *g, const gs_ruleset *rs, double alpha,
                                   int budget, double time_limit, gs_arena *arena)
{
    gs_cost_model cm = { &gs_profile_default, NULL, NULL };
    gs_search_opts so = { .alpha = alpha, .budget = budget, .time_limit = time_limit };
    gs_search_result res;
    gs_rw rw = { ctx, rs, &cm, arena, 10 };
    CU_ASSERT_EQUAL(gs_search(&rw, g, &so, &res), GS_OK);
    return res;
}

static void test_alpha_relaxation(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = gs_ruleset_new(ctx);
    CU_ASSERT_EQUAL_FATAL(gs_ruleset_load_mem(rs, alpha_rules, strlen(alpha_rules), "alpha.json"), GS_OK);
    gs_graph *g = alpha_graph(ctx);
    gs_arena arena;
    gs_arena_init(&arena, ctx);
    gs_cost_model cm = { &gs_profile_default, NULL, NULL };
    double start = gs_cost_graph(&cm, g);

    gs_search_result strict = run_search(ctx, g, rs, 1.0, 100, 10, &arena);
    CU_ASSERT_EQUAL(count_op(strict.graph, "Abs"), 1);       /* never left the start */
    CU_ASSERT(strict.cost >= start);

    gs_search_result relaxed = run_search(ctx, g, rs, 1.05, 100, 10, &arena);
    CU_ASSERT_EQUAL(count_op(relaxed.graph, "Abs"), 0);      /* went through Sign * x */
    CU_ASSERT_EQUAL(count_op(relaxed.graph, "Relu"), 1);
    CU_ASSERT(relaxed.cost < start);
    CU_ASSERT_EQUAL(gs_ir_verify(relaxed.graph), GS_OK);
    CU_ASSERT(relaxed.path && relaxed.path->prev && !relaxed.path->prev->prev);   /* two steps */

    gs_ir_free(strict.graph);
    gs_ir_free(relaxed.graph);
    gs_arena_free(&arena);
    gs_ir_free(g);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

static void test_budget_and_time_limit(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = gs_ruleset_new(ctx);
    CU_ASSERT_EQUAL_FATAL(gs_ruleset_load_mem(rs, alpha_rules, strlen(alpha_rules), "alpha.json"), GS_OK);
    gs_graph *g = alpha_graph(ctx);
    gs_arena arena;
    gs_arena_init(&arena, ctx);
    gs_search_result none = run_search(ctx, g, rs, 1.05, 0, 10, &arena);   /* budget 0 */
    CU_ASSERT_EQUAL(none.expanded, 0);
    CU_ASSERT_EQUAL(count_op(none.graph, "Abs"), 1);
    gs_search_result one = run_search(ctx, g, rs, 1.05, 1, 10, &arena);    /* one expansion: one step */
    CU_ASSERT_EQUAL(one.expanded, 1);
    CU_ASSERT_EQUAL(count_op(one.graph, "Abs"), 1);                          /* best is still the start */
    gs_search_result timed = run_search(ctx, g, rs, 1.05, 100, 0, &arena);  /* no time */
    CU_ASSERT_EQUAL(timed.expanded, 0);
    gs_ir_free(none.graph);
    gs_ir_free(one.graph);
    gs_ir_free(timed.graph);
    gs_arena_free(&arena);
    gs_ir_free(g);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

/* Eight Relu branches and a rule whose rewrite holds its own match: with
 * alpha 10 every mix of chain lengths is a new candidate, so the queue grows
 * with the budget unless its bytes are capped. */
static const char grow_rules[] =
    "{\"rules\": [{\"name\": \"relu-twice\", \"class\": \"search\", \"match\": \"Relu(x)\","
    " \"rewrite\": \"Relu(Relu(x))\"}]}";

static void test_queue_bytes_capped(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = gs_ruleset_new(ctx);
    CU_ASSERT_EQUAL_FATAL(gs_ruleset_load_mem(rs, grow_rules, strlen(grow_rules), "grow.json"), GS_OK);
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    for (int i = 0; i < 8; i++) {
        char in[8], out[8];
        snprintf(in, sizeof in, "x%d", i);
        snprintf(out, sizeof out, "y%d", i);
        output(g, op2(g, "Relu", input_shaped(g, in, 16, 16), GS_NONE, out));
    }
    gs_infer_graph(g);
    gs_arena arena;
    gs_arena_init(&arena, ctx);
    gs_cost_model cm = { &gs_profile_default, NULL, NULL };
    size_t caps[2] = { 0, 256 << 10 }, peak[2];
    for (int i = 0; i < 2; i++) {
        gs_search_opts so = { .alpha = 10, .budget = 2000, .time_limit = 30, .queue_bytes = caps[i] };
        gs_search_result res;
        gs_rw rw = { ctx, rs, &cm, &arena, 10 };
        CU_ASSERT_EQUAL_FATAL(gs_search(&rw, g, &so, &res), GS_OK);
        CU_ASSERT(res.expanded > 100);   /* the cap drops candidates; the search goes on */
        peak[i] = res.queue_peak;
        gs_ir_free(res.graph);
    }
    CU_ASSERT(peak[0] > 4 * caps[1]);              /* uncapped (256 MiB): the queue grows */
    CU_ASSERT(peak[1] <= caps[1] + (64 << 10));   /* capped: at most one graph over */
    gs_arena_free(&arena);
    gs_ir_free(g);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

static void test_determinism(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = gs_ruleset_new(ctx);
    CU_ASSERT_EQUAL_FATAL(gs_ruleset_load_mem(rs, alpha_rules, strlen(alpha_rules), "alpha.json"), GS_OK);
    gs_arena arena;
    gs_arena_init(&arena, ctx);
    uint64_t h[3];
    double cost[3];
    for (int i = 0; i < 3; i++) {
        gs_graph *g = alpha_graph(ctx);
        gs_search_result r = run_search(ctx, g, rs, 1.05, 100, 10, &arena);
        h[i] = gs_graph_hash(r.graph);
        cost[i] = r.cost;
        gs_ir_free(r.graph);
        gs_ir_free(g);
    }
    CU_ASSERT(h[0] == h[1] && h[1] == h[2]);
    CU_ASSERT(cost[0] == cost[1] && cost[1] == cost[2]);
    gs_arena_free(&arena);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}


/* An Expand of a constant to 4 MiB is not folded (its output is far larger
 * than its inputs), so the cost model prices it; the same Expand to four
 * elements folds and costs nothing. The cost model, the matcher and the
 * folder ask one predicate, so the forecast is what the folder does. */
static void test_cost_prices_what_folds(void)
{
    static float one[1] = { 1 };
    static int64_t big[2] = { 1024, 1024 }, small[2] = { 2, 2 };
    gs_tensor t[3] = {
        { .dtype = GS_FLOAT, .rank = 1, .dims = { 1 }, .data = one, .nbytes = sizeof one },
        { .dtype = GS_INT64, .rank = 1, .dims = { 2 }, .data = big, .nbytes = sizeof big },
        { .dtype = GS_INT64, .rank = 1, .dims = { 2 }, .data = small, .nbytes = sizeof small },
    };
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input_shaped(g, "x", 1024, 1024), z = input_shaped(g, "z", 2, 2);
    gs_id c = gs_ir_add_init(g, "c", &t[0]);
    gs_id eb = op2(g, "Expand", c, gs_ir_add_init(g, "big", &t[1]), "eb");
    gs_id es = op2(g, "Expand", c, gs_ir_add_init(g, "small", &t[2]), "es");
    output(g, op2(g, "Add", x, eb, "y"));
    output(g, op2(g, "Add", z, es, "w"));
    CU_ASSERT_EQUAL_FATAL(gs_infer_graph(g), GS_OK);
    const gs_node *nb = &g->nodes[g->values[eb].producer], *ns = &g->nodes[g->values[es].producer];
    CU_ASSERT_FALSE(gs_fold_will_fold(g, nb, GS_FOLD_DEPTH));
    CU_ASSERT_TRUE(gs_fold_will_fold(g, ns, GS_FOLD_DEPTH));
    gs_cost_model cm = { &gs_profile_default, NULL, NULL };
    gs_ncost cb, cs;
    gs_cost_node(&cm, g, nb, &cb);
    gs_cost_node(&cm, g, ns, &cs);
    CU_ASSERT(cb.seconds > 4.0 * 1024 * 1024 / gs_profile_default.bandwidth);   /* writes 4 MiB */
    CU_ASSERT_EQUAL(cs.seconds, 0);
    gs_model m = { .ctx = ctx, .graph = g };
    int folded = 0;
    CU_ASSERT_EQUAL(gs_fold_constants(&m, g, &folded), GS_OK);
    CU_ASSERT_EQUAL(folded, 1);
    CU_ASSERT_EQUAL(count_op(g, "Expand"), 1);
    CU_ASSERT_FALSE(g->nodes[g->values[eb].producer].flags & GS_N_DEAD);
    for (int i = 0; i < m.nowned; i++)
        gs_tensor_free(ctx, m.owned[i]);
    gs_dealloc(ctx, m.owned);
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

/* Three Reshapes of x: two by equal shape initializers (one per Reshape, as
 * exporters write them) merge into one; the third, by another shape, stays.
 * A shape initializer that is also a graph input may be fed another value,
 * so it is not shared. */
static void test_cse_shares_equal_constants(void)
{
    static int64_t flat[2] = { 4, 6 }, same[2] = { 4, 6 }, other[2] = { 6, 4 };
    gs_tensor t[4] = {
        { .dtype = GS_INT64, .rank = 1, .dims = { 2 }, .data = flat, .nbytes = sizeof flat },
        { .dtype = GS_INT64, .rank = 1, .dims = { 2 }, .data = same, .nbytes = sizeof same },
        { .dtype = GS_INT64, .rank = 1, .dims = { 2 }, .data = other, .nbytes = sizeof other },
        { .dtype = GS_INT64, .rank = 1, .dims = { 2 }, .data = same, .nbytes = sizeof same },
    };
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x");
    gs_id s0 = gs_ir_add_init(g, "s", &t[0]), s1 = gs_ir_add_init(g, "s", &t[1]);
    gs_id s2 = gs_ir_add_init(g, "s", &t[2]), s3 = gs_ir_add_init(g, "s", &t[3]);
    g->values[s3].flags |= GS_V_INPUT;   /* an overridable initializer (IR < 4 style) */
    gs_id r0 = op2(g, "Reshape", x, s0, "r0"), r1 = op2(g, "Reshape", x, s1, "r1");
    gs_id r2 = op2(g, "Reshape", x, s2, "r2"), r3 = op2(g, "Reshape", x, s3, "r3");
    output(g, op2(g, "Add", op2(g, "Relu", r0, GS_NONE, "a0"), op2(g, "Relu", r1, GS_NONE, "a1"), "y"));
    output(g, op2(g, "Relu", r2, GS_NONE, "a2"));
    output(g, op2(g, "Relu", r3, GS_NONE, "a3"));
    CU_ASSERT_EQUAL_FATAL(gs_ir_verify(g), GS_OK);
    int merged = 0;
    CU_ASSERT_EQUAL(gs_cse(g, &merged), GS_OK);
    CU_ASSERT(merged > 0);
    gs_ir_dce(g);
    CU_ASSERT_EQUAL(gs_ir_verify(g), GS_OK);
    int reshapes = 0, relus = 0;
    for (gs_id n = 0; n < g->nnodes; n++) {
        if (g->nodes[n].flags & GS_N_DEAD)
            continue;
        reshapes += !strcmp(g->nodes[n].op, "Reshape");
        relus += !strcmp(g->nodes[n].op, "Relu");
    }
    CU_ASSERT_EQUAL(reshapes, 3);   /* r0 = r1; r2 and r3 stay */
    CU_ASSERT_EQUAL(relus, 3);      /* a0 = a1 follows */
    CU_ASSERT_EQUAL(g->values[s1].nuses, 0);
    CU_ASSERT_EQUAL(g->values[s2].nuses, 1);
    CU_ASSERT_EQUAL(g->values[s3].nuses, 1);
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

int cu_register(void)
{
    CU_pSuite q = CU_add_suite("search", NULL, NULL);
    if (!q)
        return -1;
    CU_add_test(q, "alpha relaxation finds what alpha 1 cannot", test_alpha_relaxation);
    CU_add_test(q, "budget and time limit", test_budget_and_time_limit);
    CU_add_test(q, "determinism", test_determinism);
    CU_add_test(q, "queued graphs capped in bytes", test_queue_bytes_capped);
    CU_add_test(q, "common subexpressions through equal constants", test_cse_shares_equal_constants);
    CU_add_test(q, "an input read twice is read once", test_cost_reads_each_input_once);
    CU_add_test(q, "a constant Expand too big to fold is priced", test_cost_prices_what_folds);
    CU_pSuite r = CU_add_suite("region", NULL, NULL);
    if (!r)
        return -1;
    CU_add_test(r, "extract and splice back", test_region_roundtrip);
    CU_add_test(r, "spliced nodes keep names unique", test_region_splice_names);
    CU_pSuite s = CU_add_suite("hash", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "equal graphs hash equal", test_hash_equal);
    CU_add_test(s, "commutative operands", test_hash_commutative);
    CU_add_test(s, "hashes kept in nodes and clones", test_hash_kept_in_nodes);
    CU_add_test(s, "a corpus of different graphs hash apart", test_hash_corpus_distinct);
    return 0;
}
