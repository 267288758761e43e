/*
 * test_ir.c - CUnit suites for the IR (build, verify, rewire, dead code,
 * clone) and for ONNX import/export (memory and file round trips, external
 * data both ways), and allocation failure at every step of load -> save and
 * of load -> optimize -> run -> save.
 */
#include "cu_alloc.h"
#include "gs_ops.h"

#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Dim expressions: sums of named dims get one spelling whatever the order
 * they are added in, a model's own "s0 + s1" reads as that sum, a dim and
 * its negation cancel to a number; fresh names skip those the model uses. */
static void test_dim_expressions(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    gs_dim seq = { -1, "seq" }, past = { -1, "past" }, three = { 3, NULL };
    gs_dim a = gs_dim_add(g, seq, past), b = gs_dim_add(g, past, seq);
    CU_ASSERT_STRING_EQUAL(a.sym, "past + seq");
    CU_ASSERT(gs_dim_equal(a, b));
    gs_dim c = gs_dim_add(g, gs_dim_add(g, seq, three), past);
    CU_ASSERT_STRING_EQUAL(c.sym, "past + seq + 3");
    gs_dim d = gs_dim_add(g, (gs_dim){ -1, "s1 + s0" }, seq);
    CU_ASSERT_STRING_EQUAL(d.sym, "s0 + s1 + seq");
    gs_dim twice = gs_dim_add(g, seq, seq);
    CU_ASSERT_STRING_EQUAL(twice.sym, "2*seq");
    CU_ASSERT(!gs_dim_equal(seq, (gs_dim){ -1, NULL }));
    CU_ASSERT_EQUAL(gs_dim_add(g, (gs_dim){ 2, NULL }, three).v, 5);
    CU_ASSERT_EQUAL(gs_dim_add(g, seq, (gs_dim){ -1, NULL }).sym, NULL);   /* unknown stays unknown */
    /* a fresh name is above every unk__N the graph holds */
    gs_id v = gs_ir_add_value(g, "x", true);
    gs_dim dims[2] = { { -1, GS_SYM_PREFIX "7" }, { 4, NULL } };
    CU_ASSERT_EQUAL(gs_infer_set(g, v, GS_FLOAT, 2, dims), GS_OK);
    CU_ASSERT_STRING_EQUAL(gs_infer_fresh_sym(g), GS_SYM_PREFIX "8");
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

/* A gs_dim_name_fn: batch 3, seq 5, past 2, any other name unknown. */
static bool test_names(void *ud, const char *name, size_t len, int64_t *value)
{
    static const struct { const char *n; int64_t v; } known[] = { { "batch", 3 }, { "seq", 5 }, { "past", 2 } };
    ++*(int *)ud;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].n) == len && !strncmp(known[i].n, name, len)) {
            *value = known[i].v;
            return true;
        }
    return false;
}

/* A dim name's value from its names' (verify's bindings): every name is
 * asked for, an unknown one or an overflow makes it unknown. */
static void test_dim_eval(void)
{
    int64_t v;
    int asked = 0;
    CU_ASSERT(gs_dim_eval("past + seq", test_names, &asked, &v) && v == 7);
    CU_ASSERT(gs_dim_eval("batch*8", test_names, &asked, &v) && v == 24);
    CU_ASSERT(gs_dim_eval("2*batch*seq - past + 1", test_names, &asked, &v) && v == 29);
    CU_ASSERT(gs_dim_eval("seq", test_names, &asked, &v) && v == 5);
    asked = 0;
    CU_ASSERT(!gs_dim_eval("heads*batch + seq", test_names, &asked, &v));
    CU_ASSERT_EQUAL(asked, 3);   /* heads, batch and seq all asked for */
    CU_ASSERT(!gs_dim_eval("9223372036854775807*batch", test_names, &asked, &v));
    CU_ASSERT(!gs_dim_eval("", test_names, &asked, &v));
    CU_ASSERT(!gs_dim_eval("seq*", test_names, &asked, &v));
}

/* Products and exact quotients of dims: one spelling whatever the order of
 * the factors (8*batch, batch*8; batch*heads, heads*batch), products of
 * sums multiply out, a quotient by a number only where every coefficient
 * divides ((2*seq)/2 is seq, seq/2 and (2*seq + 1)/2 unknown), and a
 * coefficient that would overflow int64 makes the expression unknown. */
static void test_dim_products(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    gs_dim batch = { GS_ELEM_UNKNOWN, "batch" }, heads = { GS_ELEM_UNKNOWN, "heads" };
    gs_dim seq = { GS_ELEM_UNKNOWN, "seq" }, eight = { 8, NULL };
    gs_dim b8 = gs_elem_mul(g, batch, eight), b8r = gs_elem_mul(g, eight, batch);
    CU_ASSERT_STRING_EQUAL(b8.sym, "8*batch");
    CU_ASSERT_STRING_EQUAL(b8r.sym, "8*batch");
    CU_ASSERT(gs_elem_same(b8, (gs_dim){ GS_ELEM_UNKNOWN, "batch*8" }));   /* a model's own spelling */
    CU_ASSERT(gs_elem_same(b8, (gs_dim){ GS_ELEM_UNKNOWN, "2*batch*4" }));
    CU_ASSERT(!gs_elem_same(b8, batch));
    CU_ASSERT(gs_dim_equal((gs_dim){ -1, "8*batch" }, (gs_dim){ -1, "batch*8" }));
    gs_dim bh = gs_elem_mul(g, heads, batch);
    CU_ASSERT_STRING_EQUAL(bh.sym, "batch*heads");
    CU_ASSERT(gs_elem_same(bh, gs_elem_mul(g, batch, heads)));
    CU_ASSERT_STRING_EQUAL(gs_elem_mul(g, gs_elem_mul(g, bh, eight), seq).sym, "8*batch*heads*seq");
    gs_dim total = { GS_ELEM_UNKNOWN, "past + seq" };
    CU_ASSERT_STRING_EQUAL(gs_elem_mul(g, total, batch).sym, "batch*past + batch*seq");
    CU_ASSERT_STRING_EQUAL(gs_elem_mul(g, total, total).sym, "past*past + 2*past*seq + seq*seq");
    CU_ASSERT(gs_elem_same(gs_elem_mul(g, total, total),
                           (gs_dim){ GS_ELEM_UNKNOWN, "seq*seq + past*past + seq*past + past*seq" }));
    /* exact quotients only */
    CU_ASSERT_STRING_EQUAL(gs_elem_div(g, b8, 8).sym, "batch");
    CU_ASSERT_STRING_EQUAL(gs_elem_div(g, b8, 2).sym, "4*batch");
    CU_ASSERT(gs_elem_same(gs_elem_div(g, gs_elem_mul(g, seq, (gs_dim){ 2, NULL }), 2), seq));
    CU_ASSERT(!gs_elem_div(g, seq, 2).sym && !gs_elem_known(gs_elem_div(g, seq, 2)));
    CU_ASSERT(!gs_elem_div(g, (gs_dim){ GS_ELEM_UNKNOWN, "2*seq + 1" }, 2).sym);
    CU_ASSERT(!gs_elem_div(g, b8, 3).sym);
    CU_ASSERT(!gs_elem_div(g, b8, 0).sym && !gs_elem_div(g, b8, -8).sym);
    CU_ASSERT_STRING_EQUAL(gs_elem_div(g, (gs_dim){ GS_ELEM_UNKNOWN, "4*past + 2*seq + 6" }, 2).sym,
                           "2*past + seq + 3");
    /* overflow: unknown, never wrapped */
    gs_dim big = { INT64_MAX / 2 + 1, NULL };
    gs_dim huge = gs_elem_mul(g, batch, big);
    CU_ASSERT(huge.sym != NULL);
    gs_dim over = gs_elem_mul(g, huge, (gs_dim){ 2, NULL });
    CU_ASSERT(!over.sym && !gs_elem_known(over));
    CU_ASSERT(!gs_elem_mul(g, (gs_dim){ GS_ELEM_UNKNOWN, "9223372036854775807*batch" }, eight).sym);
    CU_ASSERT(!gs_elem_same((gs_dim){ GS_ELEM_UNKNOWN, "99999999999999999999*batch" }, batch));
    CU_ASSERT(!gs_elem_mul(g, (gs_dim){ GS_ELEM_UNKNOWN, "2*" }, eight).sym);   /* not an expression */
    /* a Reshape's -1: the input's size over the target's others */
    gs_dim x[4] = { { -1, "batch" }, { 8, NULL }, { -1, "seq" }, { 8, NULL } };
    gs_dim t[3] = { { -1, "8*batch" }, { -1, NULL }, { 8, NULL } };
    bool never = true;
    gs_dim rest = gs_infer_size_ratio(g, x, 4, t, 3, 1, &never);
    CU_ASSERT(!never && rest.v < 0 && rest.sym && !strcmp(rest.sym, "seq"));
    gs_dim back[4] = { { -1, "batch" }, { 8, NULL }, { -1, "seq" }, { 8, NULL } };
    gs_dim y[3] = { { -1, "batch*8" }, { -1, "seq" }, { 8, NULL } };
    CU_ASSERT_EQUAL(gs_infer_size_ratio(g, y, 3, back, 4, -1, &never).v, 1);   /* always the same size */
    gs_dim seven[3] = { { -1, "7*batch" }, { -1, "seq" }, { 8, NULL } };
    CU_ASSERT_EQUAL(gs_infer_size_ratio(g, x, 4, seven, 3, -1, &never).v, -1);
    CU_ASSERT(never);   /* 64*batch*seq against 56*batch*seq */
    gs_dim flat[2] = { { -1, "seq" }, { -1, NULL } };
    rest = gs_infer_size_ratio(g, x, 4, flat, 2, 1, &never);
    CU_ASSERT(rest.sym && !strcmp(rest.sym, "64*batch"));
    gs_dim other[2] = { { -1, "heads" }, { -1, NULL } };
    CU_ASSERT_EQUAL(gs_infer_size_ratio(g, x, 4, other, 2, 1, &never).sym, NULL);   /* heads divides nothing */
    CU_ASSERT(!never);
    gs_dim half[2] = { { -1, "2*batch" }, { -1, NULL } };
    CU_ASSERT_STRING_EQUAL(gs_infer_size_ratio(g, x, 4, half, 2, 1, &never).sym, "32*seq");
    gs_dim sum[2] = { { -1, "batch" }, { -1, "past + seq" } }, two[2] = { { -1, "batch" }, { -1, NULL } };
    CU_ASSERT_STRING_EQUAL(gs_infer_size_ratio(g, sum, 2, two, 2, 1, &never).sym, "past + seq");
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

/* The graph's own opset decides what a node means: ReduceMean(x){axes=[1]}
 * reduces axis 1 at opset 13 (axes an attribute) and every axis at opset 18
 * (axes an input, absent here); LayerNormalization has a registry row only
 * from 17. Raising the graph's opset (gs_ir_set_opset) changes each node's
 * row, its bodies' too, and what inference and the interpreter do. */
static void test_opset_of_the_graph(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = gs_ir_new_opset(ctx, 13);
    gs_graph *body = gs_ir_new(ctx, g);
    CU_ASSERT_EQUAL(body->opset, 13);
    gs_id x = gs_ir_add_value(g, "x", true), y = gs_ir_add_value(g, "y", true);
    gs_id l = gs_ir_add_value(body, "l", true);
    gs_dim dims[3] = { { 2, NULL }, { 3, NULL }, { 4, NULL } };
    CU_ASSERT_EQUAL(gs_infer_set(g, x, GS_FLOAT, 3, dims), GS_OK);
    g->values[x].flags |= GS_V_INPUT;
    g->inputs = gs_arena_memdup(&g->arena, &x, sizeof x);
    g->ninputs = 1;
    g->values[y].flags |= GS_V_OUTPUT;
    g->outputs = gs_arena_memdup(&g->arena, &y, sizeof y);
    g->noutputs = 1;
    gs_id mean = gs_ir_add_node(g, "ReduceMean", "", "mean", &x, 1, &y, 1);
    static int64_t axis1[1] = { 1 };
    gs_attr *a = gs_arena_alloc(&g->arena, sizeof *a);
    *a = (gs_attr){ .name = "axes", .type = GS_A_INTS, .n = 1, .ints = axis1 };
    g->nodes[mean].attrs = a;
    g->nodes[mean].nattrs = 1;
    gs_id ln_in[2] = { gs_ir_add_value(body, "bx", true), gs_ir_add_value(body, "bs", true) };
    gs_id ln = gs_ir_add_node(body, "LayerNormalization", "", "ln", ln_in, 2, &l, 1);
    CU_ASSERT_PTR_NOT_NULL(g->nodes[mean].def);
    CU_ASSERT_PTR_NULL(body->nodes[ln].def);    /* no row before 17: opaque */
    CU_ASSERT_EQUAL(gs_infer_graph(g), GS_OK);
    CU_ASSERT_EQUAL(g->values[y].rank, 3);
    CU_ASSERT_EQUAL(g->values[y].dims[1].v, 1);
    CU_ASSERT_EQUAL(g->values[y].dims[2].v, 4);

    gs_ir_set_opset(g, 18);
    CU_ASSERT_EQUAL(body->opset, 18);
    CU_ASSERT_PTR_NOT_NULL(body->nodes[ln].def);
    CU_ASSERT_EQUAL(gs_infer_graph(g), GS_OK);
    CU_ASSERT_EQUAL(g->values[y].rank, 3);      /* every axis reduced, kept as 1 */
    CU_ASSERT_EQUAL(g->values[y].dims[0].v, 1);
    CU_ASSERT_EQUAL(g->values[y].dims[2].v, 1);

    float data[24];
    for (int i = 0; i < 24; i++)
        data[i] = (float)i;
    gs_tensor in = { .dtype = GS_FLOAT, .rank = 3, .dims = { 2, 3, 4 }, .data = data, .nbytes = sizeof data };
    const gs_tensor *ins[1] = { &in };
    gs_tensor *out[1] = { NULL };
    CU_ASSERT_EQUAL_FATAL(gs_interp_run(ctx, g, ins, 1, out, 1), GS_OK);
    CU_ASSERT_EQUAL(out[0]->rank, 3);
    CU_ASSERT_DOUBLE_EQUAL(gs_tensor_get_f(out[0], 0), 11.5, 1e-6);   /* the mean of 0..23 */
    gs_tensor_free(ctx, out[0]);
    gs_ir_set_opset(g, 13);
    CU_ASSERT_EQUAL_FATAL(gs_interp_run(ctx, g, ins, 1, out, 1), GS_OK);
    CU_ASSERT_EQUAL(out[0]->dims[1], 1);
    CU_ASSERT_DOUBLE_EQUAL(gs_tensor_get_f(out[0], 0), 4, 1e-6);       /* (0 + 4 + 8) / 3 */
    gs_tensor_free(ctx, out[0]);
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

int cu_register(void);

#define TESTDATA "/usr/share/libonnx-testdata/data"
#ifndef SRCDIR
#define SRCDIR "."
#endif

/* ---- a counting allocator that can fail the Nth allocation ------------- */

static gs_ctx *counting_ctx(counting *c)
{
    gs_allocator a = counting_allocator(c);
    return gs_ctx_new(&a);
}

/* ---- building graphs --------------------------------------------------- */

/* x -> Relu -> a -> Relu -> y, y is the graph output. */
static gs_graph *relu_chain(gs_ctx *ctx)
{
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = gs_ir_add_value(g, "x", true), a = gs_ir_add_value(g, "a", true);
    gs_id y = gs_ir_add_value(g, "y", true);
    g->values[x].flags |= GS_V_INPUT;
    g->values[y].flags |= GS_V_OUTPUT;
    g->inputs = gs_arena_memdup(&g->arena, &x, sizeof x);
    g->ninputs = 1;
    g->outputs = gs_arena_memdup(&g->arena, &y, sizeof y);
    g->noutputs = 1;
    CU_ASSERT_FATAL(gs_ir_add_node(g, "Relu", "", "r1", &x, 1, &a, 1) == 0);
    CU_ASSERT_FATAL(gs_ir_add_node(g, "Relu", "", "r2", &a, 1, &y, 1) == 1);
    return g;
}

static void test_build_verify(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = relu_chain(ctx);
    CU_ASSERT_EQUAL(gs_ir_verify(g), GS_OK);
    CU_ASSERT_EQUAL(g->values[gs_ir_find(g, "a")].producer, 0);
    CU_ASSERT_EQUAL(g->values[gs_ir_find(g, "a")].nuses, 1);
    CU_ASSERT_EQUAL(gs_ir_find(g, "nope"), GS_NONE);
    CU_ASSERT_EQUAL(gs_ir_add_value(g, "a", true), GS_NONE);   /* names are unique */
    gs_id order[2];
    CU_ASSERT_EQUAL(gs_ir_topo(g, order), 2);
    CU_ASSERT_EQUAL(order[0], 0);
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

static void test_verify_catches_cycle_and_undefined(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = relu_chain(ctx);
    gs_id y = gs_ir_find(g, "y");
    CU_ASSERT_EQUAL(gs_ir_set_input(g, 0, 0, y), GS_OK);    /* r1 reads r2's output */
    CU_ASSERT_EQUAL(gs_ir_verify(g), GS_ERR_MODEL);
    CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "cycle"));
    gs_ir_free(g);

    g = relu_chain(ctx);
    gs_id u = gs_ir_add_value(g, "u", true);                  /* never defined */
    CU_ASSERT_EQUAL(gs_ir_set_input(g, 1, 0, u), GS_OK);
    CU_ASSERT_EQUAL(gs_ir_verify(g), GS_ERR_MODEL);
    CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "undefined value 'u'"));
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

static void test_rewire_and_dce(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = relu_chain(ctx);
    gs_id a = gs_ir_find(g, "a"), y = gs_ir_find(g, "y");
    /* Relu(Relu(x)) -> Relu(x): the graph output moves to a. */
    CU_ASSERT_EQUAL(gs_ir_replace_uses(g, y, a), GS_OK);
    CU_ASSERT_EQUAL(g->outputs[0], a);
    CU_ASSERT(g->values[a].flags & GS_V_OUTPUT);
    CU_ASSERT_EQUAL(gs_ir_dce(g), 1);
    CU_ASSERT(g->nodes[1].flags & GS_N_DEAD);
    CU_ASSERT_EQUAL(gs_ir_live_nodes(g), 1);
    CU_ASSERT_EQUAL(gs_ir_verify(g), GS_OK);
    CU_ASSERT_EQUAL(g->values[a].nuses, 0);
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

static void test_clone_is_independent(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = relu_chain(ctx);
    gs_graph *c = gs_ir_clone(g, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(gs_ir_verify(c), GS_OK);
    gs_id extra = gs_ir_add_value(c, "extra", true);
    CU_ASSERT_NOT_EQUAL(extra, GS_NONE);
    CU_ASSERT_EQUAL(gs_ir_replace_uses(c, gs_ir_find(c, "y"), gs_ir_find(c, "a")), GS_OK);
    gs_ir_dce(c);
    /* the original is untouched */
    CU_ASSERT_EQUAL(gs_ir_find(g, "extra"), GS_NONE);
    CU_ASSERT_EQUAL(gs_ir_live_nodes(g), 2);
    CU_ASSERT_EQUAL(g->outputs[0], gs_ir_find(g, "y"));
    CU_ASSERT_EQUAL(gs_ir_verify(g), GS_OK);
    gs_ir_free(g);   /* the clone outlives its source */
    CU_ASSERT_STRING_EQUAL(c->values[gs_ir_find(c, "a")].name, "a");
    CU_ASSERT_EQUAL(gs_ir_verify(c), GS_OK);
    gs_ir_free(c);
    gs_ctx_free(ctx);
}

/* A new node's name is unused as a node name and as a value name, in the
 * graph and in a clone of it, also past the name table's first growth. */
static void test_unique_node_names(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_graph *g = relu_chain(ctx);
    CU_ASSERT_TRUE(gs_ir_node_name_taken(g, "r1"));
    CU_ASSERT_FALSE(gs_ir_node_name_taken(g, "a"));   /* a value, not a node */
    CU_ASSERT_STRING_EQUAL(gs_ir_unique_node_name(g, "r1"), "r1_1");
    CU_ASSERT_STRING_EQUAL(gs_ir_unique_node_name(g, "a"), "a_1");
    CU_ASSERT_STRING_EQUAL(gs_ir_unique_node_name(g, "r3"), "r3");
    gs_id in = gs_ir_find(g, "y");
    for (int i = 0; i < 100; i++) {   /* well past the table's first size */
        const char *name = gs_ir_unique_node_name(g, "r1");
        gs_id out = gs_ir_add_value(g, gs_ir_unique_name(g, "t"), false);
        CU_ASSERT_FATAL(name && out != GS_NONE);
        CU_ASSERT_FALSE(gs_ir_node_name_taken(g, name));
        CU_ASSERT_FATAL(gs_ir_add_node(g, "Relu", "", name, &in, 1, &out, 1) != GS_NONE);
        CU_ASSERT_TRUE(gs_ir_node_name_taken(g, name));
        in = out;
    }
    CU_ASSERT_TRUE(gs_ir_node_name_taken(g, "r1_100"));
    gs_graph *c = gs_ir_clone(g, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(gs_ir_unique_node_name(c, "r1"), "r1_101");
    gs_id out = gs_ir_add_value(c, "u", true);
    CU_ASSERT_FATAL(gs_ir_add_node(c, "Relu", "", "only_in_clone", &in, 1, &out, 1) != GS_NONE);
    CU_ASSERT_TRUE(gs_ir_node_name_taken(c, "only_in_clone"));
    CU_ASSERT_FALSE(gs_ir_node_name_taken(g, "only_in_clone"));
    gs_ir_free(c);
    gs_ir_free(g);
    gs_ctx_free(ctx);
}

/* ---- import / export --------------------------------------------------- */

static void *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return p;
}

static void test_memory_roundtrip(void)
{
    const char *path = TESTDATA "/pytorch-converted/test_Conv2d/model.onnx";
    size_t size;
    void *bytes = read_file(path, &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_model *m;
    CU_ASSERT_EQUAL_FATAL(gs_model_load_mem(ctx, bytes, size, NULL, &m), GS_OK);
    CU_ASSERT_EQUAL(gs_model_node_count(m), 1);
    CU_ASSERT_STRING_EQUAL(gs_node_op(m, 0), "Conv");
    void *out;
    size_t outsize;
    CU_ASSERT_EQUAL_FATAL(gs_model_save_mem(m, &out, &outsize), GS_OK);
    CU_ASSERT_EQUAL(outsize, size);
    CU_ASSERT(outsize == size && memcmp(out, bytes, size) == 0);
    gs_free(ctx, out);
    gs_model_free(m);
    gs_ctx_free(ctx);
    free(bytes);
}

/* The initializer bytes of every constant value, in value order. */
static int weights_equal(const gs_model *a, const gs_model *b)
{
    const gs_graph *ga = a->graph, *gb = b->graph;
    if (ga->ninits != gb->ninits)
        return 0;
    for (int32_t i = 0; i < ga->ninits; i++) {
        const gs_tensor *ta = ga->values[ga->inits[i]].init, *tb = gb->values[gb->inits[i]].init;
        if (ta->nbytes != tb->nbytes || ta->dtype != tb->dtype ||
            memcmp(ta->data, tb->data, ta->nbytes) != 0)
            return 0;
    }
    return 1;
}

static void test_external_data_both_ways(void)
{
    const char *path = TESTDATA "/pytorch-converted/test_Conv2d/model.onnx";
    char dir[] = "/tmp/gs_ext_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char ext[256], data[300], back[256];
    snprintf(ext, sizeof ext, "%s/ext.onnx", dir);
    snprintf(data, sizeof data, "%s/ext.onnx.data", dir);
    snprintf(back, sizeof back, "%s/back.onnx", dir);

    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_model *orig, *m2, *m3;
    CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, path, &orig), GS_OK);
    gs_save_opts so = { GS_SAVE_OPTS_VERSION, 1, 16 };
    CU_ASSERT_EQUAL_FATAL(gs_model_save(orig, ext, &so), GS_OK);   /* inline -> external */
    struct stat st;
    CU_ASSERT_EQUAL(stat(data, &st), 0);
    CU_ASSERT(st.st_size >= 300);   /* both tensors (304 bytes) moved out */
    CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, ext, &m2), GS_OK);
    CU_ASSERT(m2->graph->values[m2->graph->inits[0]].init->flags & GS_T_EXTERNAL);
    CU_ASSERT(weights_equal(orig, m2));
    CU_ASSERT_EQUAL_FATAL(gs_model_save(m2, back, NULL), GS_OK);   /* external -> inline */
    CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, back, &m3), GS_OK);
    CU_ASSERT(!(m3->graph->values[m3->graph->inits[0]].init->flags & GS_T_EXTERNAL));
    CU_ASSERT(weights_equal(orig, m3));
    size_t a, b;
    void *pa = read_file(path, &a), *pb = read_file(back, &b);
    CU_ASSERT(pa && pb && a == b && memcmp(pa, pb, a) == 0);   /* same bytes as the original */
    free(pa);
    free(pb);
    gs_model_free(orig);
    gs_model_free(m2);
    gs_model_free(m3);
    gs_ctx_free(ctx);
    unlink(ext), unlink(data), unlink(back), rmdir(dir);
}

/* Fail every allocation in turn along load + save: each run must report
 * GS_ERR_NOMEM (or succeed once past the last allocation), leak nothing and
 * leave no output file. */
static void test_fault_injection(void)
{
    const char *path = TESTDATA "/node/test_if/model.onnx";
    char out[] = "/tmp/gs_fault_XXXXXX";
    int fd = mkstemp(out);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    unlink(out);
    long n, ok = 0;
    for (n = 1; n < 5000 && !ok; n++) {
        counting c = { 0, 0, n };
        gs_ctx *ctx = counting_ctx(&c);
        if (!ctx)
            continue;
        gs_model *m = NULL;
        gs_status st = gs_model_load(ctx, path, &m);
        if (st == GS_OK)
            st = gs_model_save(m, out, NULL);
        if (st == GS_OK) {
            ok = n;
        } else {
            CU_ASSERT_EQUAL(st, GS_ERR_NOMEM);
            CU_ASSERT(access(out, F_OK) != 0);
        }
        gs_model_free(m);
        gs_ctx_free(ctx);
        CU_ASSERT_EQUAL(c.live, 0);
        if (c.live != 0)
            fprintf(stderr, "leak after failing allocation %ld\n", n);
    }
    CU_ASSERT(ok > 10);
    unlink(out);
}

/* gs_optimize checks its options before touching the model: an alpha
 * below 1, above 10 or NaN, a negative budget, a NaN or infinite time limit
 * are GS_ERR_ARG; alpha 0 means the default 1.05. */
static void test_optimize_opts_checked(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, SRCDIR "/examples/tiny_cnn.onnx", &m), GS_OK);
    int nodes = gs_model_node_count(m);
    double alphas[] = { 0.5, NAN, 10.5, -1, INFINITY };
    for (size_t i = 0; i < sizeof alphas / sizeof *alphas; i++) {
        gs_optimize_opts o;
        gs_optimize_opts_init(&o);
        o.alpha = alphas[i];
        CU_ASSERT_EQUAL(gs_optimize(ctx, m, &o, NULL), GS_ERR_ARG);
        CU_ASSERT(strstr(gs_ctx_errmsg(ctx), "alpha") != NULL);
    }
    double limits[] = { NAN, INFINITY, -1 };
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        gs_optimize_opts o;
        gs_optimize_opts_init(&o);
        o.time_limit = limits[i];
        CU_ASSERT_EQUAL(gs_optimize(ctx, m, &o, NULL), GS_ERR_ARG);
    }
    gs_optimize_opts o;
    gs_optimize_opts_init(&o);
    o.budget = -1;
    CU_ASSERT_EQUAL(gs_optimize(ctx, m, &o, NULL), GS_ERR_ARG);
    CU_ASSERT_EQUAL(gs_model_node_count(m), nodes);   /* refused before any change */
    o.budget = 10;
    o.alpha = 0;
    CU_ASSERT_EQUAL(gs_optimize(ctx, m, &o, NULL), GS_OK);
    gs_model_free(m);
    gs_ctx_free(ctx);
}

/* What the header says each zero means is what gs_optimize does: NULL is
 * gs_optimize_opts_init's defaults; a zeroed struct with its version set is
 * a round trip; level 2 with the rest zeroed takes alpha 1.05 and expands
 * no candidate (budget 0); a version-1 struct is widened. */
static void test_optimize_opts_zero(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_optimize_opts init, r, z;
    gs_optimize_opts_init(&init);
    CU_ASSERT_EQUAL(gs_optimize_opts_resolve(ctx, NULL, &r), GS_OK);
    CU_ASSERT_EQUAL(r.level, 2);
    CU_ASSERT_EQUAL(r.alpha, 1.05);
    CU_ASSERT_EQUAL(r.budget, 400);
    CU_ASSERT_EQUAL(r.time_limit, 10);
    CU_ASSERT_EQUAL(memcmp(&r, &init, sizeof r), 0);
    memset(&z, 0, sizeof z);
    z.version = GS_OPTIMIZE_OPTS_VERSION;
    CU_ASSERT_EQUAL(gs_optimize_opts_resolve(ctx, &z, &r), GS_OK);
    CU_ASSERT_EQUAL(r.level, 0);
    CU_ASSERT_EQUAL(r.alpha, 1.05);
    CU_ASSERT_EQUAL(r.budget, 0);
    CU_ASSERT_EQUAL(r.time_limit, 0);
    z.version = 1;
    z.target_opset = 99;   /* not part of a version-1 struct: ignored */
    CU_ASSERT_EQUAL(gs_optimize_opts_resolve(ctx, &z, &r), GS_OK);
    CU_ASSERT_EQUAL(r.version, GS_OPTIMIZE_OPTS_VERSION);
    CU_ASSERT_EQUAL(r.target_opset, 0);

    gs_model *m = NULL;   /* the same through gs_optimize and its report */
    CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, SRCDIR "/examples/tiny_cnn.onnx", &m), GS_OK);
    int nodes = gs_model_node_count(m);
    gs_report rep = { .version = GS_REPORT_VERSION };
    memset(&z, 0, sizeof z);
    z.version = GS_OPTIMIZE_OPTS_VERSION;
    CU_ASSERT_EQUAL(gs_optimize(ctx, m, &z, &rep), GS_OK);   /* level 0 */
    CU_ASSERT_EQUAL(gs_model_node_count(m), nodes);
    CU_ASSERT_EQUAL(rep.nsteps, 0);
    z.level = 2;
    CU_ASSERT_EQUAL(gs_optimize(ctx, m, &z, &rep), GS_OK);
    CU_ASSERT_EQUAL(rep.expanded, 0);
    CU_ASSERT(rep.nsteps > 0);   /* the cleanup's one pass still applies */
    gs_report_clear(ctx, &rep);
    gs_model_free(m);
    CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, SRCDIR "/examples/tiny_cnn.onnx", &m), GS_OK);
    CU_ASSERT_EQUAL(gs_optimize(ctx, m, NULL, &rep), GS_OK);
    CU_ASSERT(rep.expanded > 0);   /* NULL: the default budget */
    gs_report_clear(ctx, &rep);
    gs_model_free(m);
    gs_ctx_free(ctx);
}

/* One pass of the whole pipeline on model path under allocator c: load,
 * optimize (cleanup and search, with a report), run on random inputs, save. */
static gs_status pipeline_of(counting *c, const char *path, const char *out)
{
    gs_ctx *ctx = counting_ctx(c);
    if (!ctx)
        return GS_ERR_NOMEM;
    gs_model *m = NULL;
    gs_report rep = { .version = GS_REPORT_VERSION };
    gs_optimize_opts o;
    gs_optimize_opts_init(&o);
    gs_array *in[4] = { NULL }, *res[4] = { NULL };
    gs_status st = gs_model_load(ctx, path, &m);
    if (st == GS_OK)
        st = gs_optimize(ctx, m, &o, &rep);
    int nin = m ? gs_model_input_count(m) : 0, nout = m ? gs_model_output_count(m) : 0;
    if (st == GS_OK && (nin > 4 || nout > 4))
        st = GS_ERR_LIMIT;
    if (st == GS_OK)
        st = gs_model_random_inputs(ctx, m, 1, NULL, in);
    if (st == GS_OK)
        st = gs_model_run(ctx, m, (const gs_array *const *)in, nin, res);
    if (st == GS_OK)
        st = gs_model_save(m, out, NULL);
    for (int i = 0; i < 4; i++) {
        gs_array_free(ctx, in[i]);
        gs_array_free(ctx, res[i]);
    }
    gs_report_clear(ctx, &rep);
    gs_model_free(m);
    gs_ctx_free(ctx);
    return st;
}

static gs_status pipeline(counting *c, const char *out)
{
    return pipeline_of(c, SRCDIR "/examples/tiny_cnn.onnx", out);
}

/* Every allocation of the pipeline on model path failed in turn (every 3rd
 * past the first 3000): each failure is GS_ERR_NOMEM, frees everything and
 * leaves no output file. */
static void fault_injection_of(const char *path)
{
    char out[] = "/tmp/gs_fault_XXXXXX";
    int fd = mkstemp(out);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    unlink(out);
    counting full = { 0, 0, 0 };
    CU_ASSERT_FATAL(pipeline_of(&full, path, out) == GS_OK);
    CU_ASSERT_EQUAL(full.live, 0);
    unlink(out);
    long bad = 0;
    for (long n = 1; n <= full.calls; n += n < 3000 ? 1 : 3) {
        counting c = { 0, 0, n };
        gs_status st = pipeline_of(&c, path, out);
        if (st != GS_ERR_NOMEM || c.live != 0 || access(out, F_OK) == 0) {
            if (bad++ < 5)
                fprintf(stderr, "%s: allocation %ld of %ld failed: %s, %ld live\n", path, n, full.calls,
                        gs_status_str(st), c.live);
            unlink(out);
        }
    }
    CU_ASSERT(full.calls > 100);
    CU_ASSERT_EQUAL(bad, 0);
}

/* The same through control flow: bodies optimized, a Loop of one trip
 * inlined (with an If inside), constants moved into bodies, loop-invariant
 * nodes moved out, Loop and If run. */
static void test_fault_injection_control(void)
{
    fault_injection_of(SRCDIR "/fuzz/seeds/control_loop_once_nested.onnx");
    fault_injection_of(SRCDIR "/fuzz/seeds/control_loop_hoist.onnx");
}

/* Fail allocation N for every N the pipeline makes (every 3rd past the
 * first 3000): each failure is GS_ERR_NOMEM, frees everything and leaves
 * no output file. */
static void test_fault_injection_optimize(void)
{
    char out[] = "/tmp/gs_fault_XXXXXX";
    int fd = mkstemp(out);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    unlink(out);
    counting full = { 0, 0, 0 };
    CU_ASSERT_FATAL(pipeline(&full, out) == GS_OK);
    CU_ASSERT_EQUAL(full.live, 0);
    unlink(out);
    long failures = 0, bad = 0;
    for (long n = 1; n <= full.calls; n += n < 3000 ? 1 : 3) {
        counting c = { 0, 0, n };
        gs_status st = pipeline(&c, out);
        failures++;
        if (st != GS_ERR_NOMEM || c.live != 0 || access(out, F_OK) == 0) {
            if (bad++ < 5)
                fprintf(stderr, "allocation %ld of %ld failed: %s, %ld live\n", n, full.calls,
                        gs_status_str(st), c.live);
            unlink(out);
        }
    }
    CU_ASSERT(full.calls > 100);
    CU_ASSERT_EQUAL(bad, 0);
}

/* A NULL element in gs_model_run's inputs, or one that does not fit the
 * declared input, is refused at the API boundary. */
static void test_run_null_input(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_model *m = NULL;
    CU_ASSERT_FATAL(gs_model_load(ctx, SRCDIR "/examples/tiny_cnn.onnx", &m) == GS_OK);
    const gs_array *in[1] = { NULL };
    gs_array *out[4] = { NULL };
    CU_ASSERT_EQUAL(gs_model_run(ctx, m, in, 1, out), GS_ERR_ARG);
    CU_ASSERT_PTR_NULL(out[0]);
    int64_t dims[1] = { 3 };   /* an array that does not fit the declared input */
    gs_array *bad = gs_array_new(ctx, GS_FLOAT, 1, dims);
    in[0] = bad;
    CU_ASSERT_EQUAL(gs_model_run(ctx, m, in, 1, out), GS_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "rank"));
    gs_array_free(ctx, bad);
    gs_model_free(m);
    gs_ctx_free(ctx);
}

/* Messages are one printable line whatever the names in them hold: control
 * characters and bytes that are not UTF-8 come out as \xNN. */
static void test_error_message_is_printable(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_err(ctx, GS_ERR_MODEL, "node '%s'", "a\x1b]0;title\x07\x1b[31mred\nnext\tb");
    CU_ASSERT_STRING_EQUAL(gs_ctx_errmsg(ctx), "node 'a\\x1B]0;title\\x07\\x1B[31mred next b'");
    gs_err(ctx, GS_ERR_MODEL, "%s", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82");   /* UTF-8 stays */
    CU_ASSERT_STRING_EQUAL(gs_ctx_errmsg(ctx), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82");
    /* a lone continuation byte, a cut sequence, an overlong '/', a surrogate,
     * a C1 control (CSI, U+009B), a byte never in UTF-8, past U+10FFFF */
    gs_err(ctx, GS_ERR_MODEL, "%s", "\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80|\xc2\x9b|\xff|\xf4\x90\x80\x80");
    CU_ASSERT_STRING_EQUAL(gs_ctx_errmsg(ctx), "\\x80|\\xE2\\x82|\\xC0\\xAF|\\xED\\xA0\\x80|"
                           "\\xC2\\x9B|\\xFF|\\xF4\\x90\\x80\\x80");
    char big[3000];   /* escapes that do not fit are cut whole */
    memset(big, 0x1b, sizeof big - 1);
    big[sizeof big - 1] = '\0';
    gs_err(ctx, GS_ERR_MODEL, "%s", big);
    size_t n = strlen(gs_ctx_errmsg(ctx));
    CU_ASSERT(n > 1000 && n < 1024 && n % 4 == 0);
    gs_ctx_free(ctx);
}

/* A float beyond int64, or NaN, written to an integer tensor is INT64_MIN
 * (x86's conversion), not 0; the doubles inside the range convert. */
static void test_set_f_out_of_range(void)
{
    int64_t data[5];
    gs_tensor t = { .dtype = GS_INT64, .rank = 1, .dims = { 5 }, .data = data, .nbytes = sizeof data };
    gs_tensor_set_f(&t, 0, 0x1p63);
    gs_tensor_set_f(&t, 1, -0x1p64);
    gs_tensor_set_f(&t, 2, NAN);
    gs_tensor_set_f(&t, 3, 9.21e18);
    gs_tensor_set_f(&t, 4, -0x1p63);
    CU_ASSERT_EQUAL(data[0], INT64_MIN);
    CU_ASSERT_EQUAL(data[1], INT64_MIN);
    CU_ASSERT_EQUAL(data[2], INT64_MIN);
    CU_ASSERT_EQUAL(data[3], (int64_t)9.21e18);
    CU_ASSERT_EQUAL(data[4], INT64_MIN);
}

int cu_register(void)
{
    CU_pSuite ir = CU_add_suite("ir", NULL, NULL);
    CU_pSuite io = CU_add_suite("onnx-io", NULL, NULL);
    if (!ir || !io)
        return -1;
    CU_add_test(ir, "build and verify", test_build_verify);
    CU_add_test(ir, "a float beyond int64 written as an integer", test_set_f_out_of_range);
    CU_add_test(ir, "verify catches cycles and undefined values", test_verify_catches_cycle_and_undefined);
    CU_add_test(ir, "rewire and dead code", test_rewire_and_dce);
    CU_add_test(ir, "clone is independent", test_clone_is_independent);
    CU_add_test(ir, "unique node names", test_unique_node_names);
    CU_add_test(ir, "error messages are printable", test_error_message_is_printable);
    CU_add_test(ir, "dim expressions", test_dim_expressions);
    CU_add_test(ir, "dim products and exact quotients", test_dim_products);
    CU_add_test(ir, "a dim name's value from its names", test_dim_eval);
    CU_add_test(ir, "the graph's opset decides what a node means", test_opset_of_the_graph);
    CU_add_test(io, "memory round trip is byte-identical", test_memory_roundtrip);
    CU_add_test(io, "external data both ways", test_external_data_both_ways);
    CU_add_test(io, "allocation failure at every step", test_fault_injection);
    CU_add_test(io, "allocation failure along optimize and run", test_fault_injection_optimize);
    CU_add_test(io, "allocation failure through If and Loop bodies", test_fault_injection_control);
    CU_add_test(io, "a NULL or misfit input array is refused", test_run_null_input);
    CU_add_test(io, "optimize options checked", test_optimize_opts_checked);
    CU_add_test(io, "optimize options: what zero means", test_optimize_opts_zero);
    return 0;
}
