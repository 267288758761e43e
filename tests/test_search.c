/*
 * test_search.c - CUnit suites for the cost model and the search: the
 * structural hash (equal graphs hash equal, different graphs differ), the
 * alpha relaxation, the budget and time limit, and determinism.
 */
#include "gs_cost.h"

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
    gs_graph *g = gs_ir_new(ctx, NULL);
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
    gs_graph *g = gs_ir_new(ctx, NULL);
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

int cu_register(void)
{
    CU_pSuite r = CU_add_suite("region", NULL, NULL);
    if (!r)
        return -1;
    CU_add_test(r, "extract and splice back", test_region_roundtrip);
    CU_pSuite s = CU_add_suite("hash", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "equal graphs hash equal", test_hash_equal);
    CU_add_test(s, "commutative operands", test_hash_commutative);
    CU_add_test(s, "a corpus of different graphs hash apart", test_hash_corpus_distinct);
    return 0;
}
