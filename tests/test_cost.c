/*
 * test_cost.c - CUnit suite for measured costs: the signature key of a node
 * (the keys bench/calibrate writes for examples/tiny_cnn.onnx, pasted from
 * `bench/calibrate --keys --dim batch=1 examples/tiny_cnn.onnx`), a profile's
 * measured table changing the cost of exactly the node it names, and
 * malformed tables refused with a message naming the file and the field.
 */
#include "cu_alloc.h"
#include "gs_cost.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cu_register(void);

/* bench/calibrate --keys --dim batch=1 examples/tiny_cnn.onnx */
static const char *const tiny_keys[][2] = {
    { "conv1", "Conv|f32[1,3,16,16],f32[8,3,3,3],f32[8]|f32[1,8,16,16]|pads=1,1,1,1" },
    { "bn1", "BatchNormalization|f32[1,8,16,16],f32[8],f32[8],f32[8],f32[8]|f32[1,8,16,16]|"
             "epsilon=9.99999975e-06" },
    { "relu1", "Relu|f32[1,8,16,16]|f32[1,8,16,16]|" },
    { "identity1", "Identity|f32[1,8,16,16]|f32[1,8,16,16]|" },
    { "conv2", "Conv|f32[1,8,16,16],f32[8,8,1,1]|f32[1,8,16,16]|" },
    { "add2", "Add|f32[1,8,16,16],f32[1,8,1,1]|f32[1,8,16,16]|" },
    { "transpose1", "Transpose|f32[1,8,16,16]|f32[1,16,16,8]|perm=0,2,3,1" },
    { "transpose2", "Transpose|f32[1,16,16,8]|f32[1,8,16,16]|perm=0,3,1,2" },
    { "gap", "GlobalAveragePool|f32[1,8,16,16]|f32[1,8,1,1]|" },
    { "flatten", "Flatten|f32[1,8,1,1]|f32[1,8]|" },
    { "fc", "MatMul|f32[1,8],f32[8,10]|f32[1,10]|" },
    { "fc_bias", "Add|f32[1,10],f32[10]|f32[1,10]|" },
};
#define NTINY (int)(sizeof tiny_keys / sizeof *tiny_keys)

static gs_model *tiny(gs_ctx *ctx, bool bind)
{
    gs_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, SRCDIR "/examples/tiny_cnn.onnx", &m), GS_OK);
    if (bind)
        CU_ASSERT_EQUAL_FATAL(gs_model_bind_dim(m, "batch", 1), GS_OK);
    CU_ASSERT_EQUAL_FATAL(gs_infer_graph(m->graph), GS_OK);
    return m;
}

static const gs_node *named(const gs_graph *g, const char *name)
{
    for (gs_id i = 0; i < g->nnodes; i++)
        if (g->nodes[i].name && !strcmp(g->nodes[i].name, name))
            return &g->nodes[i];
    return NULL;
}

static void test_keys_as_calibrate_writes(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_model *m = tiny(ctx, true);
    char key[GS_MEASURED_KEY_MAX];
    for (int i = 0; i < NTINY; i++) {
        const gs_node *n = named(m->graph, tiny_keys[i][0]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(n);
        CU_ASSERT_EQUAL(gs_cost_key(m->graph, n, key, sizeof key), (int)strlen(tiny_keys[i][1]));
        CU_ASSERT_STRING_EQUAL(key, tiny_keys[i][1]);
    }
    const gs_node *conv = named(m->graph, "conv1");
    CU_ASSERT_EQUAL(gs_cost_key(m->graph, conv, key, 20), -1);   /* does not fit */
    gs_model_free(m);
    m = tiny(ctx, false);   /* the batch dim symbolic: no key */
    CU_ASSERT_EQUAL(gs_cost_key(m->graph, named(m->graph, "conv1"), key, sizeof key), -1);
    gs_model_free(m);
    gs_ctx_free(ctx);
}

/* The formula cost of every node of tiny_cnn with its batch dim as given:
 * bound to `batch` (> 0), or left symbolic (0). */
static void tiny_costs(gs_ctx *ctx, int64_t batch, double *out)
{
    gs_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, SRCDIR "/examples/tiny_cnn.onnx", &m), GS_OK);
    if (batch)
        CU_ASSERT_EQUAL_FATAL(gs_model_bind_dim(m, "batch", batch), GS_OK);
    CU_ASSERT_EQUAL_FATAL(gs_infer_graph(m->graph), GS_OK);
    gs_cost_model formula = { &gs_profile_default, NULL, NULL };
    for (int i = 0; i < NTINY; i++) {
        gs_ncost c;
        gs_cost_node(&formula, m->graph, named(m->graph, tiny_keys[i][0]), &c);
        out[i] = c.seconds;
    }
    gs_model_free(m);
}

/* A symbolic dim is priced at a typical size (GS_COST_DIM_UNKNOWN), not 1:
 * at 1 every op's fixed cost outweighs its data, and a rewrite that saves
 * ops but copies data (a merged projection and its Split) looks cheap. */
static void test_symbolic_dims_priced_typical(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    double sym[NTINY], typical[NTINY], one[NTINY];
    tiny_costs(ctx, 0, sym);
    tiny_costs(ctx, GS_COST_DIM_UNKNOWN, typical);
    tiny_costs(ctx, 1, one);
    double tsym = 0, tone = 0;
    for (int i = 0; i < NTINY; i++) {
        CU_ASSERT_DOUBLE_EQUAL(sym[i], typical[i], 1e-15);
        CU_ASSERT(sym[i] >= one[i]);   /* equal for the free ones (Identity, Flatten) */
        tsym += sym[i], tone += one[i];
    }
    CU_ASSERT(tsym > 10 * tone);
    gs_dim d = { 0, NULL };
    CU_ASSERT_DOUBLE_EQUAL(gs_cost_dim(d), 1, 0);   /* an empty dim: one element */
    d.v = 7;
    CU_ASSERT_DOUBLE_EQUAL(gs_cost_dim(d), 7, 0);
    d.v = -1, d.sym = "seq";
    CU_ASSERT_DOUBLE_EQUAL(gs_cost_dim(d), GS_COST_DIM_UNKNOWN, 0);
    gs_ctx_free(ctx);
}

/* A profile of the given measured table (JSON object text). */
static gs_status profile(gs_ctx *ctx, const char *measured, gs_profile *p)
{
    char json[4096];
    snprintf(json, sizeof json, "{\"peak_gflops\": 50, \"bandwidth_gbs\": 12, \"overhead_us\": 3, "
             "\"measured\": %s}", measured);
    return gs_profile_parse(ctx, json, strlen(json), "my.json", p);
}

static void test_measured_cost_of_one_node(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_model *m = tiny(ctx, true);
    gs_profile p;
    char table[512];
    snprintf(table, sizeof table, "{\"%s\": 1234.5, \"Relu|f32[2]|f32[2]|\": 7}", tiny_keys[4][1]);
    CU_ASSERT_EQUAL_FATAL(profile(ctx, table, &p), GS_OK);
    CU_ASSERT_EQUAL(p.nmeasured, 2);
    gs_cost_model formula = { &gs_profile_default, NULL, NULL }, measured = { &p, NULL, NULL };
    int changed = 0;
    for (gs_id i = 0; i < m->graph->nnodes; i++) {
        const gs_node *n = &m->graph->nodes[i];
        gs_ncost a, b;
        gs_cost_node(&formula, m->graph, n, &a);
        gs_cost_node(&measured, m->graph, n, &b);
        if (!strcmp(n->name, "conv2")) {
            CU_ASSERT_DOUBLE_EQUAL(b.seconds, 1234.5e-6, 1e-12);
            CU_ASSERT(a.seconds < 1e-4);
            CU_ASSERT_DOUBLE_EQUAL(b.flops, a.flops, 0);   /* still counted for the report */
        } else {
            CU_ASSERT_DOUBLE_EQUAL(b.seconds, a.seconds, 0);
        }
        changed += b.seconds != a.seconds;
    }
    CU_ASSERT_EQUAL(changed, 1);
    gs_profile_free(ctx, &p);
    gs_model_free(m);
    gs_ctx_free(ctx);
}

static void test_lookup_sorted(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_profile p;
    CU_ASSERT_EQUAL_FATAL(profile(ctx, "{\"Relu|f32[3]|f32[3]|\": 3, \"Add|f32[1],f32[1]|f32[1]|\": 1, "
                                       "\"Mul|f32[2],f32[2]|f32[2]|\": 2, \"Abs|||\": 0}", &p), GS_OK);
    CU_ASSERT_EQUAL(p.nmeasured, 4);
    for (int i = 1; i < p.nmeasured; i++)
        CU_ASSERT(strcmp(p.measured[i - 1].key, p.measured[i].key) < 0);
    const gs_measured *e = gs_profile_measured(&p, "Mul|f32[2],f32[2]|f32[2]|");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_DOUBLE_EQUAL(e->seconds, 2e-6, 1e-15);
    CU_ASSERT_PTR_NULL(gs_profile_measured(&p, "Mul|f32[2],f32[2]|f32[3]|"));
    CU_ASSERT_PTR_NOT_NULL(gs_profile_measured(&p, "Abs|||"));
    gs_profile_free(ctx, &p);
    CU_ASSERT_PTR_NULL(p.measured);
    gs_profile q;   /* none: nothing to free, nothing found */
    const char *plain = "{\"peak_gflops\": 1, \"bandwidth_gbs\": 1, \"overhead_us\": 1}";
    CU_ASSERT_EQUAL(gs_profile_parse(ctx, plain, strlen(plain), "q.json", &q), GS_OK);
    CU_ASSERT_PTR_NULL(gs_profile_measured(&q, "Abs|||"));
    gs_ctx_free(ctx);
}

static void test_malformed_tables(void)
{
    static const char *const bad[][2] = {
        { "[1, 2]", "my.json: profile field 'measured' must be an object" },
        { "{\"Relu\": 3}", "my.json: measured key 'Relu' is not of the form Op|inputs|outputs|attributes" },
        { "{\"|f32[1]|f32[1]|\": 3}", "my.json: measured key '|f32[1]|f32[1]|' is not of the form" },
        { "{\"Relu|f32[1]|f32[1]||\": 3}", "is not of the form" },
        { "{\"Relu|f32[1]|f32[1]|\": -1}", "my.json: measured.Relu|f32[1]|f32[1]| must be a number of microseconds" },
        { "{\"Relu|f32[1]|f32[1]|\": \"3\"}", "my.json: measured.Relu|f32[1]|f32[1]| must be a number" },
        { "{\"Relu|f32[1]|f32[1]|\": 2e9}", "must be a number of microseconds from 0 to 1e9" },
        { "{\"Relu|f32[1]|f32[1]|\": 1, \"Relu|f32[1]|f32[1]|\": 2}",
          "my.json: measured key 'Relu|f32[1]|f32[1]|' is given twice" },
    };
    gs_ctx *ctx = gs_ctx_new(NULL);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        gs_profile p;
        CU_ASSERT_EQUAL(profile(ctx, bad[i][0], &p), GS_ERR_PARSE);
        const char *msg = gs_ctx_errmsg(ctx);
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, bad[i][1]));
        CU_ASSERT_PTR_NULL(strchr(msg, '\n'));
        if (!strstr(msg, bad[i][1]))
            fprintf(stderr, "case %zu: %s\n", i, msg);
    }
    gs_ctx_free(ctx);
}

/* ---- every allocation of the table failing in turn leaks nothing ------- */

static void test_table_out_of_memory(void)
{
    for (long k = 1; k < 100; k++) {
        counting c = { 0, 0, k };
        gs_allocator a = counting_allocator(&c);
        gs_ctx *ctx = gs_ctx_new(&a);
        if (!ctx)
            continue;
        long before = c.live;
        gs_profile p;
        gs_status st = profile(ctx, "{\"Relu|f32[1]|f32[1]|\": 1, \"Abs|f32[1]|f32[1]|\": 2}", &p);
        CU_ASSERT(st == GS_OK || st == GS_ERR_NOMEM);
        if (st == GS_OK) {
            CU_ASSERT_EQUAL(p.nmeasured, 2);
            gs_profile_free(ctx, &p);
        }
        CU_ASSERT_EQUAL(c.live, before);
        gs_ctx_free(ctx);
        if (st == GS_OK && c.calls < k)
            break;   /* no allocation left to fail */
    }
}

int cu_register(void)
{
    CU_pSuite s = CU_add_suite("measured", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "keys as bench/calibrate writes them", test_keys_as_calibrate_writes);
    CU_add_test(s, "a measured entry prices exactly its node", test_measured_cost_of_one_node);
    CU_add_test(s, "a symbolic dim priced at a typical size", test_symbolic_dims_priced_typical);
    CU_add_test(s, "the table is sorted and searched", test_lookup_sorted);
    CU_add_test(s, "malformed tables refused", test_malformed_tables);
    CU_add_test(s, "out of memory while loading the table", test_table_out_of_memory);
    return 0;
}
