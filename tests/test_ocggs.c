/*
 * test_ocggs.c - CUnit suite for the OCGGS search (search_ocggs.c): on
 * graphs small enough to enumerate every order of every rewrite, the
 * ordered search reaches the best cost of the exhaustive one with fewer
 * expansions; the matches a child keeps and finds again are those a search
 * of its whole graph finds; the sampling variant is deterministic for a
 * seed and reaches the best cost; gs_optimize runs all three searches.
 */
#include "cu_alloc.h"
#include "gs_ocggs.h"
#include "gs_search.h"

#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int cu_register(void);

#ifndef SRCDIR
#define SRCDIR "."
#endif

/* ---- graph building ------------------------------------------------------ */

static gs_id input_shaped(gs_graph *g, const char *name, int64_t d0, int64_t d1)
{
    gs_id v = gs_ir_add_value(g, name, true);
    gs_value *val = &g->values[v];
    val->flags |= GS_V_INPUT;
    val->dtype = GS_FLOAT;
    val->rank = 2;
    val->dims = gs_arena_alloc(&g->arena, 2 * sizeof(gs_dim));
    val->dims[0].v = d0;
    val->dims[1].v = d1;
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

static gs_id op1(gs_graph *g, const char *op, gs_id a, const char *out)
{
    gs_id o = gs_ir_add_value(g, out, true);
    gs_ir_add_node(g, op, "", gs_arena_strdup(g->perm, out), &a, 1, &o, 1);
    return o;
}

/* Search rules whose costs interact. abs-expand makes a branch a little
 * dearer (Abs -> Sign * x) and only then can mul-sign-drop remove both
 * nodes under its Relu (a search needs the worse step first); neg-pair
 * cancels two Negs, and a chain of three holds two overlapping matches;
 * exp-log cancels Exp(Log(x)). The rules are nonsense as math: the search
 * only sees costs. */
static const char rules_json[] =
    "{\"rules\": ["
    "{\"name\": \"abs-expand\", \"class\": \"search\", \"match\": \"Abs(x)\","
    " \"rewrite\": \"Mul(Sign(x), x)\", \"opset\": [9, 1000]},"
    "{\"name\": \"mul-sign-drop\", \"class\": \"search\", \"match\": \"Relu(Mul(Sign(x), x))\","
    " \"rewrite\": \"Relu(x)\"},"
    "{\"name\": \"neg-pair\", \"class\": \"search\", \"match\": \"Neg(Neg(x))\", \"rewrite\": \"x\"},"
    "{\"name\": \"exp-log\", \"class\": \"search\", \"match\": \"Exp(Log(x))\", \"rewrite\": \"x\"}"
    "]}";

/* nabs branches Relu(Abs(x)), a chain of three Negs, and nexp branches
 * Relu(Exp(Log(x))), each on its own 32x32 input. */
static gs_graph *small_graph(gs_ctx *ctx, int nabs, int nexp)
{
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    char in[16], a[16], b[16], c[16];
    for (int i = 0; i < nabs; i++) {
        snprintf(in, sizeof in, "x%d", i), snprintf(a, sizeof a, "a%d", i), snprintf(b, sizeof b, "y%d", i);
        output(g, op1(g, "Relu", op1(g, "Abs", input_shaped(g, in, 32, 32), a), b));
    }
    gs_id n = input_shaped(g, "n", 32, 32);
    output(g, op1(g, "Relu", op1(g, "Neg", op1(g, "Neg", op1(g, "Neg", n, "n1"), "n2"), "n3"), "n4"));
    for (int i = 0; i < nexp; i++) {
        snprintf(in, sizeof in, "e%d", i), snprintf(a, sizeof a, "l%d", i), snprintf(c, sizeof c, "z%d", i);
        snprintf(b, sizeof b, "p%d", i);
        output(g, op1(g, "Relu", op1(g, "Exp", op1(g, "Log", input_shaped(g, in, 32, 32), a), b), c));
    }
    gs_infer_graph(g);
    return g;
}

typedef struct fixture {
    gs_ctx *ctx;
    gs_ruleset *rs;
    gs_arena arena;
    gs_cost_model cm;
} fixture;

static void fixture_init(fixture *f)
{
    f->ctx = gs_ctx_new(NULL);
    f->rs = gs_ruleset_new(f->ctx);
    CU_ASSERT_EQUAL_FATAL(gs_ruleset_load_mem(f->rs, rules_json, strlen(rules_json), "ocggs.json"), GS_OK);
    gs_arena_init(&f->arena, f->ctx);
    f->cm = (gs_cost_model){ &gs_profile_default, NULL, NULL };
}

static void fixture_free(fixture *f)
{
    gs_arena_free(&f->arena);
    gs_ruleset_free(f->rs);
    gs_ctx_free(f->ctx);
}

static gs_search_result run(fixture *f, const gs_graph *g, gs_search_opts so)
{
    gs_search_result res;
    memset(&res, 0, sizeof res);
    gs_rw rw = { f->ctx, f->rs, &f->cm, &f->arena, 10 };
    CU_ASSERT_EQUAL(gs_search(&rw, g, &so, &res), GS_OK);
    return res;
}

static bool same_cost(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fabs(a);
}

/* ---- the ordered search against the exhaustive one ------------------------ */

/* Every order of every rewrite (no hash, alpha 10, a budget past the count)
 * against the same search extended only in key order: the same best cost,
 * far fewer expansions; and the ordered search with the hash (as
 * --search ocggs runs) against TASO's with the hash: the same best cost,
 * no more expansions and fewer rewrites tried. */
static void check_orders(int nabs, int nexp)
{
    fixture f;
    fixture_init(&f);
    gs_graph *g = small_graph(f.ctx, nabs, nexp);
    double start = gs_cost_graph(&f.cm, g);
    gs_search_opts all = { .alpha = 10, .budget = 1000000, .time_limit = 120, .keep_duplicates = true };
    gs_search_opts ordered = all;
    ordered.mode = GS_SEARCH_OCGGS;
    gs_search_result ex = run(&f, g, all), oc = run(&f, g, ordered);
    CU_ASSERT(ex.cost < start);
    CU_ASSERT(same_cost(ex.cost, oc.cost));
    CU_ASSERT(ex.expanded < all.budget);   /* the enumeration ran out, not the budget */
    CU_ASSERT(oc.expanded * 2 < ex.expanded);
    CU_ASSERT_EQUAL(gs_graph_hash(ex.graph), gs_graph_hash(oc.graph));

    gs_search_opts taso = { .alpha = 10, .budget = 1000000, .time_limit = 120 }, ocggs = taso;
    ocggs.mode = GS_SEARCH_OCGGS;
    gs_search_result t = run(&f, g, taso), o = run(&f, g, ocggs);
    CU_ASSERT(same_cost(t.cost, ex.cost));
    CU_ASSERT(same_cost(o.cost, ex.cost));
    CU_ASSERT(o.expanded <= t.expanded);
    CU_ASSERT(o.tried < t.tried);
    CU_ASSERT(o.reused > 0);   /* the branches a rewrite left alone kept their matches */
    gs_ir_free(ex.graph), gs_ir_free(oc.graph), gs_ir_free(t.graph), gs_ir_free(o.graph);
    gs_ir_free(g);
    fixture_free(&f);
}

static void test_orders_small(void)
{
    check_orders(2, 1);
}

static void test_orders_larger(void)
{
    check_orders(3, 2);
}

/* A budget too small for the exhaustive search to finish: the ordered one
 * still reaches the best cost within it (the orders it skips are the ones
 * that use the budget up). */
static void test_orders_within_budget(void)
{
    fixture f;
    fixture_init(&f);
    gs_graph *g = small_graph(f.ctx, 3, 2);
    gs_search_opts full = { .alpha = 10, .budget = 1000000, .time_limit = 120, .mode = GS_SEARCH_OCGGS };
    gs_search_result best = run(&f, g, full);
    gs_search_opts tight = full;
    tight.keep_duplicates = true;
    tight.budget = best.expanded * 2;
    tight.mode = GS_SEARCH_TASO;
    gs_search_result ex = run(&f, g, tight);
    tight.mode = GS_SEARCH_OCGGS;
    gs_search_result oc = run(&f, g, tight);
    CU_ASSERT_EQUAL(ex.expanded, tight.budget);   /* stopped by the budget */
    CU_ASSERT(same_cost(oc.cost, best.cost));
    gs_ir_free(best.graph), gs_ir_free(ex.graph), gs_ir_free(oc.graph);
    gs_ir_free(g);
    fixture_free(&f);
}

/* ---- match reuse ------------------------------------------------------------ */

/* With check_reuse, every expansion compares what it kept and found again
 * with a search of the whole graph (GS_ERR_INTERNAL on a difference). */
static void test_reuse_equals_full_matching(void)
{
    fixture f;
    fixture_init(&f);
    gs_graph *g = small_graph(f.ctx, 3, 2);
    gs_search_opts so = { .alpha = 10, .budget = 2000, .time_limit = 60, .mode = GS_SEARCH_OCGGS,
                          .check_reuse = true };
    gs_search_result r = run(&f, g, so);
    CU_ASSERT(r.expanded > 20);
    CU_ASSERT(r.reused > r.matches / 4);
    gs_ir_free(r.graph);
    gs_ir_free(g);
    fixture_free(&f);
}

/* The same on a real model with the default rules. */
static void test_reuse_on_model(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_model *m;
    CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, SRCDIR "/examples/tiny_cnn.onnx", &m), GS_OK);
    gs_ruleset *rs = gs_ruleset_new(ctx);
    CU_ASSERT_EQUAL_FATAL(gs_ruleset_load_default(rs), GS_OK);
    CU_ASSERT_EQUAL(gs_infer_graph(m->graph), GS_OK);
    gs_cost_model cm = { &gs_profile_default, NULL, NULL };
    gs_arena arena;
    gs_arena_init(&arena, ctx);
    for (int mode = GS_SEARCH_OCGGS; mode <= GS_SEARCH_OCGGS_SAMPLE; mode++) {
        gs_search_opts so = { .alpha = 1.5, .budget = 200, .time_limit = 60, .mode = mode, .check_reuse = true };
        gs_search_result r;
        gs_rw rw = { ctx, rs, &cm, &arena, 10 };
        CU_ASSERT_EQUAL(gs_search(&rw, m->graph, &so, &r), GS_OK);
        CU_ASSERT(r.expanded > 1);
        CU_ASSERT(r.cost < gs_cost_graph(&cm, m->graph));
        gs_ir_free(r.graph);
    }
    gs_arena_free(&arena);
    gs_ruleset_free(rs);
    gs_model_free(m);
    gs_ctx_free(ctx);
}

/* ---- sampling ---------------------------------------------------------------- */

static void test_sample_choice(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    /* best 10, eta 1.1: raising ones qualify below 11 and not after a raise */
    gs_osample it[8] = {
        { 9.0, -1.0, false }, { 9.5, -0.5, false }, { 9.9, -0.1, true }, { 9.8, -0.2, false },
        { 10.5, 0.5, false }, { 10.9, 0.9, false }, { 10.2, 0.2, true }, { 12.0, 2.0, false },
    };
    uint8_t keep[8], again[8];
    uint64_t rng = 42, rng2 = 42;
    CU_ASSERT_EQUAL(gs_ocggs_sample(ctx, it, 8, 10.0, 1.1, 4, &rng, keep), 4);
    CU_ASSERT_EQUAL(keep[0] + keep[1] + keep[2] + keep[3], 2);   /* Q/2 lowering */
    CU_ASSERT(keep[4] && keep[5]);                               /* the two promising raises */
    CU_ASSERT(!keep[6] && !keep[7]);   /* a second raise in a row; above eta x best */
    CU_ASSERT_EQUAL(gs_ocggs_sample(ctx, it, 8, 10.0, 1.1, 4, &rng2, again), 4);
    CU_ASSERT(!memcmp(keep, again, sizeof keep));   /* the same seed, the same draw */
    CU_ASSERT_EQUAL(gs_ocggs_sample(ctx, it, 8, 10.0, 1.1, 100, &rng, keep), 6);   /* all that qualify */
    int heavy = 0;   /* the weights matter: -1.0 is drawn far more often than -0.1 */
    for (int i = 0; i < 400; i++) {
        gs_ocggs_sample(ctx, it, 8, 10.0, 1.1, 2, &rng, keep);
        heavy += keep[0] - keep[2];
    }
    CU_ASSERT(heavy > 100);
    gs_ctx_free(ctx);
}

static void test_sample_deterministic(void)
{
    fixture f;
    fixture_init(&f);
    gs_graph *g = small_graph(f.ctx, 3, 2);
    gs_search_opts full = { .alpha = 1.5, .budget = 1000000, .time_limit = 120, .mode = GS_SEARCH_OCGGS };
    gs_search_result best = run(&f, g, full);
    gs_search_opts so = { .alpha = 1.5, .budget = 400, .time_limit = 60, .mode = GS_SEARCH_OCGGS_SAMPLE,
                          .seed = 7, .sample_width = 4 };
    gs_search_result a = run(&f, g, so), b = run(&f, g, so);
    CU_ASSERT_EQUAL(gs_graph_hash(a.graph), gs_graph_hash(b.graph));
    CU_ASSERT_EQUAL(a.expanded, b.expanded);
    CU_ASSERT_EQUAL(a.candidates, b.candidates);
    CU_ASSERT(a.cost == b.cost);
    CU_ASSERT(same_cost(a.cost, best.cost));   /* the sample reaches the best graph */
    CU_ASSERT(a.expanded < best.expanded);
    for (uint64_t seed = 0; seed < 4; seed++) {   /* every seed does here */
        so.seed = seed;
        gs_search_result c = run(&f, g, so);
        CU_ASSERT(same_cost(c.cost, best.cost));
        gs_ir_free(c.graph);
    }
    gs_ir_free(best.graph), gs_ir_free(a.graph), gs_ir_free(b.graph);
    gs_ir_free(g);
    fixture_free(&f);
}

/* ---- out of memory ------------------------------------------------------- */

/* One search with the Nth allocation of the search failing: GS_OK (the
 * failure fell where a candidate is only dropped) or GS_ERR_NOMEM, and
 * nothing left allocated once all is freed. Returns the allocations the
 * search made (fail_at 0: none failed). */
static long search_failing(int mode, long fail_at)
{
    counting c = { 0, 0, 0 };
    gs_allocator a = counting_allocator(&c);
    fixture f;
    f.ctx = gs_ctx_new(&a);
    f.rs = gs_ruleset_new(f.ctx);
    CU_ASSERT_EQUAL_FATAL(gs_ruleset_load_mem(f.rs, rules_json, strlen(rules_json), "ocggs.json"), GS_OK);
    gs_arena_init(&f.arena, f.ctx);
    f.cm = (gs_cost_model){ &gs_profile_default, NULL, NULL };
    gs_graph *g = small_graph(f.ctx, 2, 1);
    gs_search_opts so = { .alpha = 1.5, .budget = 30, .time_limit = 60, .mode = mode, .seed = 1,
                          .sample_width = 4 };
    gs_rw rw = { f.ctx, f.rs, &f.cm, &f.arena, 10 };
    gs_search_result res;
    long before = c.calls;
    c.fail_at = fail_at ? before + fail_at : 0;
    gs_status st = gs_search(&rw, g, &so, &res);
    long made = c.calls - before;
    c.fail_at = 0;
    CU_ASSERT(st == GS_OK || st == GS_ERR_NOMEM);
    if (st == GS_OK)
        gs_ir_free(res.graph);
    gs_ir_free(g);
    fixture_free(&f);
    CU_ASSERT_EQUAL(c.live, 0);
    return made;
}

static void test_out_of_memory(void)
{
    for (int mode = GS_SEARCH_OCGGS; mode <= GS_SEARCH_OCGGS_SAMPLE; mode++) {
        long n = search_failing(mode, 0);
        CU_ASSERT(n > 50);
        for (long k = 1; k <= n; k++)
            search_failing(mode, k);
    }
}

/* ---- through gs_optimize --------------------------------------------------- */

static void test_optimize_each_search(void)
{
    for (int mode = GS_SEARCH_TASO; mode <= GS_SEARCH_OCGGS_SAMPLE; mode++) {
        gs_ctx *ctx = gs_ctx_new(NULL);
        gs_model *orig, *m;
        CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, SRCDIR "/examples/tiny_cnn.onnx", &orig), GS_OK);
        CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, SRCDIR "/examples/tiny_cnn.onnx", &m), GS_OK);
        gs_optimize_opts o;
        gs_optimize_opts_init(&o);
        o.search = mode;
        o.search_seed = 3;
        gs_report rep = { .version = GS_REPORT_VERSION };
        CU_ASSERT_EQUAL(gs_optimize(ctx, m, &o, &rep), GS_OK);
        CU_ASSERT(rep.cost_after < rep.cost_before);
        CU_ASSERT(rep.tried >= rep.candidates && rep.tried > 0);
        CU_ASSERT_EQUAL(gs_model_compare(ctx, orig, m, NULL, NULL, NULL), GS_OK);
        gs_report_clear(ctx, &rep);
        gs_report old = { .version = 1, .tried = -7 };   /* a version 1 caller's struct ends before tried */
        CU_ASSERT_EQUAL(gs_optimize(ctx, m, &o, &old), GS_OK);
        CU_ASSERT_EQUAL(old.tried, -7);
        gs_report_clear(ctx, &old);
        CU_ASSERT_EQUAL(old.tried, -7);
        o.search = 3;
        CU_ASSERT_EQUAL(gs_optimize(ctx, m, &o, NULL), GS_ERR_ARG);
        CU_ASSERT(strstr(gs_ctx_errmsg(ctx), "unknown search") != NULL);
        gs_model_free(orig);
        gs_model_free(m);
        gs_ctx_free(ctx);
    }
}

int cu_register(void)
{
    CU_pSuite s = CU_add_suite("ocggs", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "ordered search = every order, fewer expansions (small)", test_orders_small);
    CU_add_test(s, "ordered search = every order, fewer expansions (larger)", test_orders_larger);
    CU_add_test(s, "ordered search within a budget every order passes", test_orders_within_budget);
    CU_add_test(s, "kept and refound matches = full matching", test_reuse_equals_full_matching);
    CU_add_test(s, "match reuse on a model with the default rules", test_reuse_on_model);
    CU_add_test(s, "sample: Q/2 each way, eta, weights, seed", test_sample_choice);
    CU_add_test(s, "sampling search: deterministic, reaches the best", test_sample_deterministic);
    CU_add_test(s, "gs_optimize with each search", test_optimize_each_search);
    CU_add_test(s, "every allocation failing in turn", test_out_of_memory);
    return 0;
}
