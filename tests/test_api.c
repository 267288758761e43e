/*
 * test_api.c - CUnit suite for the public calls a compiler embedding
 * graphsub uses, through the public header only: building a model
 * (gs_builder) and its errors, reading attributes and weights, the
 * topological order, compact and clone, binding input shapes, the rule
 * choices and rules from JSON of gs_optimize_opts, cancellation from the
 * progress callback, and the version number.
 */
#include <graphsub.h>

#include <CUnit/CUnit.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cu_register(void);

static gs_ctx *ctx;

static int setup(void)
{
    ctx = gs_ctx_new(NULL);
    return ctx ? 0 : -1;
}

static int teardown(void)
{
    gs_ctx_free(ctx);
    return 0;
}

/* x[batch, 4] -> Transpose(perm 1,0) -> Transpose -> MatMul(w[4,2]) -> Mul(s) -> y;
 * the Mul scalar s as a Constant node's tensor attribute. */
static gs_model *build_model(void)
{
    gs_builder *b = NULL;
    gs_model *m = NULL;
    const int64_t xd[] = { -1, 4 }, wd[] = { 4, 2 }, perm[] = { 1, 0 };
    const char *const xs[] = { "batch", NULL };
    float w[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, two = 2;
    CU_ASSERT_EQUAL_FATAL(gs_builder_new(ctx, 17, &b), GS_OK);
    gs_builder_input(b, "x", GS_FLOAT, 2, xd, xs);
    gs_builder_initializer(b, "w", GS_FLOAT, 2, wd, w, sizeof w);
    gs_builder_node(b, "Constant", NULL, "k", NULL, 0, (const char *[]){ "s" }, 1);
    gs_builder_attr_tensor(b, "value", GS_FLOAT, 0, NULL, &two, sizeof two);
    gs_builder_node(b, "Transpose", "", "t1", (const char *[]){ "x" }, 1, (const char *[]){ "a" }, 1);
    gs_builder_attr_ints(b, "perm", perm, 2);
    gs_builder_node(b, "Transpose", "", "t2", (const char *[]){ "a" }, 1, (const char *[]){ "c" }, 1);
    gs_builder_attr_ints(b, "perm", perm, 2);
    gs_builder_node(b, "MatMul", NULL, "mm", (const char *[]){ "c", "w" }, 2, (const char *[]){ "d" }, 1);
    gs_builder_node(b, "Mul", NULL, "mul", (const char *[]){ "d", "s" }, 2, (const char *[]){ "y" }, 1);
    gs_builder_attr_string(b, "note", "kept");   /* an unknown attribute is carried through */
    CU_ASSERT_EQUAL(gs_builder_output(b, "y", GS_FLOAT), GS_OK);
    gs_status st = gs_builder_finish(b, &m);
    if (st != GS_OK)
        printf("\n  build: %s\n", gs_ctx_errmsg(ctx));
    CU_ASSERT_EQUAL_FATAL(st, GS_OK);
    return m;
}

static int node_named(const gs_model *m, const char *name)
{
    for (int i = 0; i < gs_model_node_count(m); i++)
        if (gs_node_is_live(m, i) && !strcmp(gs_node_name(m, i), name))
            return i;
    return -1;
}

static void test_build_and_read(void)
{
    gs_model *m = build_model();
    CU_ASSERT_EQUAL(gs_model_node_count(m), 5);
    CU_ASSERT_EQUAL(gs_model_opset(m, ""), 17);
    CU_ASSERT_EQUAL(gs_model_verify(m), GS_OK);
    int t1 = node_named(m, "t1"), k = node_named(m, "k"), mul = node_named(m, "mul");
    CU_ASSERT_FATAL(t1 >= 0 && k >= 0 && mul >= 0);
    int a = gs_node_attr_find(m, t1, "perm");
    const int64_t *perm;
    CU_ASSERT_EQUAL(gs_node_attr_type(m, t1, a), GS_ATTR_INTS);
    CU_ASSERT_EQUAL(gs_node_attr_ints(m, t1, a, &perm), 2);
    CU_ASSERT(perm[0] == 1 && perm[1] == 0);
    CU_ASSERT_EQUAL(gs_node_attr_int(m, t1, a), 0);           /* wrong type: 0 */
    CU_ASSERT_EQUAL(gs_node_attr_floats(m, t1, a, NULL), -1);
    CU_ASSERT_EQUAL(gs_node_attr_find(m, t1, "nope"), -1);
    gs_tensor_view tv;
    int va = gs_node_attr_find(m, k, "value");
    CU_ASSERT_EQUAL(gs_node_attr_type(m, k, va), GS_ATTR_TENSOR);
    CU_ASSERT_FATAL(gs_node_attr_tensor(m, k, va, 0, &tv));
    float f;
    memcpy(&f, tv.data, sizeof f);
    CU_ASSERT(tv.dtype == GS_FLOAT && tv.rank == 0 && tv.nbytes == 4 && f == 2);
    size_t len;
    int note = gs_node_attr_find(m, mul, "note");
    CU_ASSERT_STRING_EQUAL(gs_node_attr_string(m, mul, note, &len), "kept");
    CU_ASSERT_EQUAL(len, 4);
    /* the weight's data, dtype and shape */
    int mm = node_named(m, "mm"), w = gs_node_input(m, mm, 1);
    CU_ASSERT_FATAL(gs_value_tensor(m, w, &tv));
    CU_ASSERT(tv.dtype == GS_FLOAT && tv.rank == 2 && tv.dims[0] == 4 && tv.dims[1] == 2 && tv.nbytes == 32);
    memcpy(&f, (const char *)tv.data + 7 * sizeof f, sizeof f);
    CU_ASSERT_EQUAL(f, 8);
    CU_ASSERT_FALSE(gs_value_tensor(m, gs_model_input(m, 0), &tv));
    /* shapes inferred through: y is [batch, 2] */
    const char *sym = NULL;
    int y = gs_model_output(m, 0);
    CU_ASSERT_EQUAL(gs_value_rank(m, y), 2);
    CU_ASSERT_EQUAL(gs_value_dim(m, y, 0, &sym), -1);
    CU_ASSERT(sym && !strcmp(sym, "batch"));
    CU_ASSERT_EQUAL(gs_value_dim(m, y, 1, NULL), 2);
    gs_model_free(m);
}

static void test_builder_errors(void)
{
    gs_builder *b = NULL;
    gs_model *m = NULL;
    const int64_t d[] = { 2 };
    float v[2] = { 0 };
    CU_ASSERT_EQUAL(gs_builder_new(ctx, 3, &b), GS_ERR_ARG);
    CU_ASSERT_EQUAL(gs_builder_new(ctx, 25, &b), GS_ERR_ARG);
    /* opset 24 (Swish, Attention's fourth input) builds, with the IR version that came with it:
     * ModelProto's field 1, ir_version, is the first the packer writes */
    CU_ASSERT_EQUAL_FATAL(gs_builder_new(ctx, 24, &b), GS_OK);
    gs_builder_input(b, "x", GS_FLOAT, 1, d, NULL);
    gs_builder_node(b, "Relu", NULL, "r", (const char *[]){ "x" }, 1, (const char *[]){ "y" }, 1);
    gs_builder_output(b, "y", GS_FLOAT);
    CU_ASSERT_EQUAL_FATAL(gs_builder_finish(b, &m), GS_OK);
    CU_ASSERT_EQUAL(gs_model_opset(m, ""), 24);
    void *buf = NULL;
    size_t size = 0;
    CU_ASSERT_EQUAL_FATAL(gs_model_save_mem(m, &buf, &size), GS_OK);
    CU_ASSERT(size > 2 && ((unsigned char *)buf)[0] == 0x08 && ((unsigned char *)buf)[1] == 12);
    gs_free(ctx, buf);
    gs_model_free(m);
    m = NULL;
    CU_ASSERT_EQUAL_FATAL(gs_builder_new(ctx, 17, &b), GS_OK);
    CU_ASSERT_EQUAL(gs_builder_attr_int(b, "axis", 1), GS_ERR_ARG);   /* no node yet */
    CU_ASSERT(strstr(gs_ctx_errmsg(ctx), "axis") != NULL);
    CU_ASSERT_EQUAL(gs_builder_input(b, "x", GS_FLOAT, 1, d, NULL), GS_ERR_ARG);   /* sticky */
    gs_builder_free(b);

    CU_ASSERT_EQUAL_FATAL(gs_builder_new(ctx, 17, &b), GS_OK);
    CU_ASSERT_EQUAL(gs_builder_initializer(b, "w", GS_FLOAT, 1, d, v, 4), GS_ERR_ARG);   /* 8 bytes */
    CU_ASSERT_EQUAL(gs_builder_finish(b, &m), GS_ERR_ARG);
    CU_ASSERT_PTR_NULL(m);

    CU_ASSERT_EQUAL_FATAL(gs_builder_new(ctx, 17, &b), GS_OK);
    gs_builder_input(b, "x", GS_FLOAT, 1, d, NULL);
    gs_builder_node(b, "Relu", NULL, "r", (const char *[]){ "x" }, 1, (const char *[]){ "y" }, 1);
    gs_builder_attr_int(b, "a", 1);
    CU_ASSERT_EQUAL(gs_builder_attr_int(b, "a", 2), GS_ERR_ARG);   /* twice */
    gs_builder_free(b);

    /* a node reading an undefined value: refused as a loaded model would be */
    CU_ASSERT_EQUAL_FATAL(gs_builder_new(ctx, 17, &b), GS_OK);
    gs_builder_input(b, "x", GS_FLOAT, 1, d, NULL);
    gs_builder_node(b, "Add", NULL, "add", (const char *[]){ "x", "ghost" }, 2, (const char *[]){ "y" }, 1);
    gs_builder_output(b, "y", GS_FLOAT);
    gs_status st = gs_builder_finish(b, &m);
    CU_ASSERT(st == GS_ERR_MODEL || st == GS_ERR_PARSE);
    CU_ASSERT(strstr(gs_ctx_errmsg(ctx), "ghost") != NULL);
    CU_ASSERT_PTR_NULL(m);
}

/* After gs_optimize: topological order of the live nodes, compact, clone. */
static void test_order_compact_clone(void)
{
    gs_model *m = build_model();
    gs_optimize_opts o;
    gs_optimize_opts_init(&o);
    CU_ASSERT_EQUAL_FATAL(gs_optimize(ctx, m, &o, NULL), GS_OK);
    int n = gs_model_node_count(m), order[16], live = 0;
    for (int i = 0; i < n; i++)
        live += gs_node_is_live(m, i);
    CU_ASSERT(live < n);   /* the Transposes left dead slots */
    int k = gs_model_topo_order(m, order);
    CU_ASSERT_EQUAL(k, live);
    for (int i = 0; i < k; i++)   /* every input's producer comes earlier */
        for (int j = 0; j < gs_node_input_count(m, order[i]); j++) {
            int p = gs_value_producer(m, gs_node_input(m, order[i], j));
            for (int l = i; p >= 0 && l < k; l++)
                CU_ASSERT_NOT_EQUAL(order[l], p);
        }
    gs_model *c = NULL;
    CU_ASSERT_EQUAL_FATAL(gs_model_clone(m, &c), GS_OK);
    CU_ASSERT_EQUAL(gs_model_node_count(c), live);
    CU_ASSERT_EQUAL(gs_model_compact(m), GS_OK);
    CU_ASSERT_EQUAL(gs_model_node_count(m), live);
    for (int i = 0; i < live; i++) {
        CU_ASSERT(gs_node_is_live(m, i));
        CU_ASSERT_STRING_EQUAL(gs_node_op(m, i), gs_node_op(c, i));
        for (int j = 0; j < gs_node_input_count(m, i); j++)   /* index order is topological */
            CU_ASSERT(gs_value_producer(m, gs_node_input(m, i, j)) < i);
    }
    gs_model_free(c);   /* independent of m */
    CU_ASSERT_EQUAL(gs_model_verify(m), GS_OK);
    gs_model_free(m);
}

static void test_bind_shapes(void)
{
    gs_model *m = build_model();
    const int64_t bad_rank[] = { 3 }, bad_dim[] = { 3, 5 }, good[] = { 3, 4 };
    CU_ASSERT_EQUAL(gs_model_bind_dim(m, "seq", 2), GS_ERR_ARG);
    CU_ASSERT(strstr(gs_ctx_errmsg(ctx), "'seq'") != NULL);
    CU_ASSERT_EQUAL(gs_model_bind_dim(m, "batch", -1), GS_ERR_ARG);
    CU_ASSERT_EQUAL(gs_model_set_input_shape(m, "nope", 2, good), GS_ERR_ARG);
    CU_ASSERT_EQUAL(gs_model_set_input_shape(m, "x", 1, bad_rank), GS_ERR_ARG);
    CU_ASSERT_EQUAL(gs_model_set_input_shape(m, "x", 2, bad_dim), GS_ERR_ARG);
    CU_ASSERT_EQUAL(gs_model_set_input_shape(m, "x", 2, good), GS_OK);
    int x = gs_model_input(m, 0), y = gs_model_output(m, 0);
    CU_ASSERT_EQUAL(gs_value_dim(m, x, 0, NULL), 3);
    CU_ASSERT_EQUAL(gs_value_dim(m, y, 0, NULL), 3);   /* batch bound everywhere */
    gs_model_free(m);

    m = build_model();
    CU_ASSERT_EQUAL(gs_model_bind_dim(m, "batch", 7), GS_OK);
    CU_ASSERT_EQUAL(gs_value_dim(m, gs_model_output(m, 0), 0, NULL), 7);
    gs_model_free(m);
}

/* The report's rules for a model; returns the count of rule name. */
static int applied(gs_model *m, gs_optimize_opts *o, const char *rule, gs_status *st)
{
    gs_report r = { .version = GS_REPORT_VERSION };
    *st = gs_optimize(ctx, m, o, &r);
    int n = 0;
    for (int i = 0; i < r.nrules; i++)
        if (!strcmp(r.rule_names[i], rule))
            n = r.rule_counts[i];
    gs_report_clear(ctx, &r);
    return n;
}

static void test_rule_choices(void)
{
    gs_optimize_opts o;
    gs_status st;
    gs_model *m = build_model();
    gs_optimize_opts_init(&o);
    CU_ASSERT_EQUAL(applied(m, &o, "transpose-cancel", &st), 1);
    gs_model_free(m);

    m = build_model();
    const char *off[] = { "transpose-cancel", NULL }, *unknown[] = { "no-such-rule", NULL };
    o.disabled_rules = off;
    CU_ASSERT_EQUAL(applied(m, &o, "transpose-cancel", &st), 0);
    CU_ASSERT_EQUAL(st, GS_OK);
    gs_model_free(m);

    m = build_model();
    o.disabled_rules = unknown;
    applied(m, &o, "transpose-cancel", &st);
    CU_ASSERT_EQUAL(st, GS_ERR_ARG);
    CU_ASSERT(strstr(gs_ctx_errmsg(ctx), "no-such-rule") != NULL);
    gs_model_free(m);

    m = build_model();
    o.disabled_rules = NULL;
    o.only_rules = off;   /* only transpose-cancel */
    CU_ASSERT_EQUAL(applied(m, &o, "transpose-cancel", &st), 1);
    gs_model_free(m);

    /* rules from a string, alone */
    m = build_model();
    gs_optimize_opts_init(&o);
    o.no_default_rules = 1;
    o.rules_json = "{\"rules\": [{\"name\": \"tt\", \"doc\": \"Two inverse transposes cancel.\", "
                   "\"class\": \"cleanup\", \"match\": \"y = Transpose(Transpose(x){perm=[1,0]}){perm=[1,0]}\", "
                   "\"rewrite\": \"y = Identity(x)\"}]}";
    CU_ASSERT_EQUAL(applied(m, &o, "tt", &st), 1);
    CU_ASSERT_EQUAL(st, GS_OK);
    if (st != GS_OK)
        printf("\n  rules_json: %s\n", gs_ctx_errmsg(ctx));
    gs_model_free(m);

    m = build_model();
    o.rules_json = "{\"rules\": [";
    applied(m, &o, "tt", &st);
    CU_ASSERT(st == GS_ERR_RULE || st == GS_ERR_PARSE);
    CU_ASSERT(strstr(gs_ctx_errmsg(ctx), "<rules_json>") != NULL);
    gs_model_free(m);

    /* a version-2 caller is still accepted (no rule fields read) */
    m = build_model();
    gs_optimize_opts_init(&o);
    o.version = 2;
    o.disabled_rules = unknown;   /* beyond a version-2 struct: ignored */
    applied(m, &o, "transpose-cancel", &st);
    CU_ASSERT_EQUAL(st, GS_OK);
    gs_model_free(m);
}

typedef struct seen {
    int calls, last_done, total;
    double start, best;
} seen;

static int stop_at_first(void *ud, const gs_progress *p)
{
    seen *s = ud;
    s->calls++;
    s->total = p->regions_total;
    s->start = p->cost_start;
    s->best = p->best_cost;
    return 1;
}

/* A chain of 300 Tanh/Sigmoid: several regions; the first call stops it all. */
static void test_cancel(void)
{
    gs_builder *b = NULL;
    gs_model *m = NULL;
    const int64_t d[] = { 2, 3 };
    CU_ASSERT_EQUAL_FATAL(gs_builder_new(ctx, 17, &b), GS_OK);
    gs_builder_input(b, "v0", GS_FLOAT, 2, d, NULL);
    char in[16], out[16];
    for (int i = 0; i < 300; i++) {
        snprintf(in, sizeof in, "v%d", i);
        snprintf(out, sizeof out, "v%d", i + 1);
        gs_builder_node(b, i % 2 ? "Sigmoid" : "Tanh", NULL, NULL, (const char *[]){ in }, 1,
                        (const char *[]){ out }, 1);
    }
    gs_builder_output(b, out, GS_FLOAT);
    CU_ASSERT_EQUAL_FATAL(gs_builder_finish(b, &m), GS_OK);
    seen s = { 0 };
    gs_optimize_opts o;
    gs_optimize_opts_init(&o);
    o.progress_ex = stop_at_first;
    o.progress_ud = &s;
    CU_ASSERT_EQUAL(gs_optimize(ctx, m, &o, NULL), GS_OK);
    CU_ASSERT_EQUAL(s.calls, 1);
    CU_ASSERT(s.total >= 2);
    CU_ASSERT(s.start > 0 && s.best <= s.start);
    CU_ASSERT_EQUAL(gs_model_verify(m), GS_OK);
    gs_model_free(m);
}

static void test_version(void)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", GS_VERSION_MAJOR, GS_VERSION_MINOR, GS_VERSION_PATCH);
    CU_ASSERT_STRING_EQUAL(gs_version(), want);
    CU_ASSERT_EQUAL(gs_version_number(), GS_VERSION_NUMBER);
    CU_ASSERT_EQUAL(GS_VERSION_NUMBER, GS_VERSION_MAJOR * 10000 + GS_VERSION_MINOR * 100 + GS_VERSION_PATCH);
}

/* Edit a built model: the Transposes out, a bias Add in; then it runs:
 * y = (x @ w + bias) * 2. */
static void test_edit(void)
{
    gs_model *m = build_model();
    int t1 = node_named(m, "t1"), t2 = node_named(m, "t2"), mm = node_named(m, "mm"), mul = node_named(m, "mul");
    int x = gs_model_input(m, 0), d = gs_node_output(m, mm, 0), bias, sum, add;
    const int64_t bd[] = { 2 };
    float b[2] = { 0.5f, -1 };
    CU_ASSERT_EQUAL(gs_model_add_initializer(m, "w", GS_FLOAT, 1, bd, b, sizeof b, &bias), GS_ERR_ARG);
    CU_ASSERT_EQUAL(gs_model_add_initializer(m, "bias", GS_FLOAT, 1, bd, b, 4, &bias), GS_ERR_ARG);
    CU_ASSERT_EQUAL_FATAL(gs_model_add_initializer(m, "bias", GS_FLOAT, 1, bd, b, sizeof b, &bias), GS_OK);
    CU_ASSERT_EQUAL_FATAL(gs_model_add_node(m, "Add", NULL, "add", (const int[]){ d, bias }, 2, 1, &sum, &add),
                          GS_OK);
    CU_ASSERT_EQUAL(gs_model_add_node(m, "Add", NULL, "add", (const int[]){ d, bias }, 2, 1, &sum, NULL),
                    GS_ERR_ARG);   /* the name is taken */
    CU_ASSERT_EQUAL(gs_node_set_input(m, mul, 0, sum), GS_OK);
    CU_ASSERT_EQUAL(gs_model_remove_node(m, t1), GS_ERR_ARG);   /* t2 reads it */
    CU_ASSERT(strstr(gs_ctx_errmsg(ctx), "still read") != NULL);
    CU_ASSERT_EQUAL(gs_node_set_input(m, mm, 0, x), GS_OK);
    CU_ASSERT_EQUAL(gs_model_remove_node(m, t2), GS_OK);
    CU_ASSERT_EQUAL(gs_model_remove_node(m, t1), GS_OK);
    CU_ASSERT_EQUAL(gs_node_set_attr_string(m, add, "note", "added"), GS_OK);
    CU_ASSERT_EQUAL(gs_node_set_attr_int(m, mul, "note", 3), GS_OK);   /* replaces the string */
    CU_ASSERT_EQUAL(gs_node_attr_count(m, mul), 1);
    CU_ASSERT_EQUAL(gs_node_attr_int(m, mul, gs_node_attr_find(m, mul, "note")), 3);
    CU_ASSERT_EQUAL(gs_model_verify(m), GS_OK);
    CU_ASSERT_EQUAL(gs_model_infer_shapes(m), GS_OK);
    CU_ASSERT_EQUAL(gs_value_rank(m, sum), 2);
    /* it runs, and survives a round trip through bytes */
    gs_model *c = NULL;
    CU_ASSERT_EQUAL_FATAL(gs_model_clone(m, &c), GS_OK);
    CU_ASSERT_EQUAL(gs_model_node_count(c), 4);   /* Constant, MatMul, Add, Mul */
    const int64_t xd[] = { 1, 4 };
    gs_array *in = gs_array_new(ctx, GS_FLOAT, 2, xd), *out = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    for (int i = 0; i < 4; i++)
        ((float *)in->data)[i] = 1;
    CU_ASSERT_EQUAL_FATAL(gs_model_run(ctx, c, (const gs_array *const *)&in, 1, &out), GS_OK);
    CU_ASSERT(((float *)out->data)[0] == 33 && ((float *)out->data)[1] == 38);
    gs_array_free(ctx, in);
    gs_array_free(ctx, out);
    /* a graph output moved to another value */
    CU_ASSERT_EQUAL(gs_model_set_output(c, 0, gs_node_input(c, node_named(c, "mul"), 0)), GS_OK);
    CU_ASSERT_EQUAL(gs_model_verify(c), GS_OK);
    gs_model *c2 = NULL;
    CU_ASSERT_EQUAL_FATAL(gs_model_clone(c, &c2), GS_OK);
    CU_ASSERT_STRING_EQUAL(gs_value_name(c2, gs_model_output(c2, 0)), gs_value_name(c, gs_model_output(c, 0)));
    gs_model_free(c2);
    gs_model_free(c);
    gs_model_free(m);
}

/* An allocator that keeps each block's size itself, to check what the
 * library tells free_sized. */
typedef struct tally {
    long blocks, wrong;
} tally;

static void *t_alloc(void *ud, size_t n)
{
    size_t *p = malloc(n + 16);
    if (!p)
        return NULL;
    *p = n;
    ((tally *)ud)->blocks++;
    return (char *)p + 16;
}

static void *t_realloc(void *ud, void *ptr, size_t n)
{
    if (!ptr)
        return t_alloc(ud, n);
    size_t *p = realloc((char *)ptr - 16, n + 16);
    if (!p)
        return NULL;
    *p = n;
    return (char *)p + 16;
}

static void t_free_sized(void *ud, void *ptr, size_t size)
{
    tally *t = ud;
    size_t *p = (size_t *)((char *)ptr - 16);
    t->wrong += *p != size;
    t->blocks--;
    free(p);
}

static void test_free_sized(void)
{
    tally t = { 0, 0 };
    gs_allocator a = { t_alloc, t_realloc, NULL, &t };
    CU_ASSERT_PTR_NULL(gs_ctx_new_sized(&a, NULL));
    gs_ctx *saved = ctx;
    ctx = gs_ctx_new_sized(&a, t_free_sized);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    gs_model *m = build_model();
    gs_optimize_opts o;
    gs_optimize_opts_init(&o);
    CU_ASSERT_EQUAL(gs_optimize(ctx, m, &o, NULL), GS_OK);
    void *buf = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(gs_model_save_mem(m, &buf, &n), GS_OK);
    CU_ASSERT(n > 0);
    gs_free(ctx, buf);
    gs_model_free(m);
    CU_ASSERT(t.blocks > 0);   /* the context itself */
    gs_ctx_free(ctx);
    ctx = saved;
    CU_ASSERT_EQUAL(t.blocks, 0);
    CU_ASSERT_EQUAL(t.wrong, 0);
}

/* ---- allocation failures ----------------------------------------------------- */

typedef struct faulty {
    long n, fail_at;   /* allocations so far; the one that fails (0: none) */
    long live;         /* blocks not yet freed */
    bool failed;
} faulty;

static void *f_alloc(void *ud, size_t n)
{
    faulty *f = ud;
    if (++f->n == f->fail_at) {
        f->failed = true;
        return NULL;
    }
    void *p = malloc(n ? n : 1);
    f->live += p != NULL;
    return p;
}

static void *f_realloc(void *ud, void *p, size_t n)
{
    faulty *f = ud;
    if (!p)
        return f_alloc(ud, n);
    if (++f->n == f->fail_at) {
        f->failed = true;
        return NULL;
    }
    return realloc(p, n ? n : 1);
}

static void f_free(void *ud, void *p)
{
    faulty *f = ud;
    f->live -= p != NULL;
    free(p);
}

/* Build, bind, edit, clone and compact: the new calls end to end. */
static gs_status scenario(gs_ctx *c)
{
    gs_builder *b = NULL;
    gs_model *m = NULL, *cl = NULL;
    const int64_t xd[] = { -1, 4 }, wd[] = { 4, 2 }, perm[] = { 1, 0 }, shape[] = { 3, 4 }, bd[] = { 2 };
    const char *const xs[] = { "batch", NULL };
    float w[8] = { 0 }, bias[2] = { 0 };
    gs_status st = gs_builder_new(c, 17, &b);
    if (st != GS_OK)
        return st;
    gs_builder_input(b, "x", GS_FLOAT, 2, xd, xs);
    gs_builder_initializer(b, "w", GS_FLOAT, 2, wd, w, sizeof w);
    gs_builder_node(b, "Transpose", NULL, "t", (const char *[]){ "x" }, 1, (const char *[]){ "a" }, 1);
    gs_builder_attr_ints(b, "perm", perm, 2);
    gs_builder_node(b, "Transpose", NULL, "u", (const char *[]){ "a" }, 1, (const char *[]){ "c" }, 1);
    gs_builder_attr_ints(b, "perm", perm, 2);
    gs_builder_node(b, "MatMul", NULL, "mm", (const char *[]){ "c", "w" }, 2, (const char *[]){ "y" }, 1);
    st = gs_builder_output(b, "y", GS_FLOAT);
    if (st != GS_OK) {
        gs_builder_free(b);
        return st;
    }
    st = gs_builder_finish(b, &m);
    int v = -1, out = -1, node = -1;
    if (st == GS_OK)
        st = gs_model_set_input_shape(m, "x", 2, shape);
    if (st == GS_OK)
        st = gs_model_add_initializer(m, "bias", GS_FLOAT, 1, bd, bias, sizeof bias, &v);
    if (st == GS_OK)
        st = gs_model_add_node(m, "Add", NULL, NULL, (const int[]){ gs_model_output(m, 0), v }, 2, 1, &out, &node);
    if (st == GS_OK)
        st = gs_node_set_attr_floats(m, node, "note", (const float[]){ 1, 2 }, 2);
    if (st == GS_OK)
        st = gs_model_set_output(m, 0, out);
    gs_optimize_opts o;
    gs_optimize_opts_init(&o);
    o.budget = 4;
    if (st == GS_OK)
        st = gs_optimize(c, m, &o, NULL);
    if (st == GS_OK)
        st = gs_model_clone(m, &cl);
    if (st == GS_OK)
        st = gs_model_compact(m);
    gs_model_free(cl);
    gs_model_free(m);
    return st;
}

static void test_alloc_failures(void)
{
    faulty f = { 0, 0, 0, false };
    gs_allocator a = { f_alloc, f_realloc, f_free, &f };
    gs_ctx *c = gs_ctx_new(&a);
    CU_ASSERT_EQUAL_FATAL(scenario(c), GS_OK);
    gs_ctx_free(c);
    long total = f.n, bad = 0;
    CU_ASSERT(total > 50);
    printf(" (%ld allocations) ", total);
    for (long k = 2; k <= total; k++) {   /* allocation 1 is the context */
        f = (faulty){ 0, k, 0, false };
        c = gs_ctx_new(&a);
        gs_status st = scenario(c);
        gs_ctx_free(c);
        if ((f.failed && st != GS_ERR_NOMEM) || f.live != 0) {
            if (bad++ < 5)
                printf("\n  allocation %ld of %ld failed: status %s, %ld blocks left\n", k, total,
                       gs_status_str(st), f.live);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
}

/* Threads, each with its own context, run the same scenario at once. */
static void *thread_main(void *arg)
{
    gs_ctx *c = gs_ctx_new(NULL);
    *(gs_status *)arg = c ? scenario(c) : GS_ERR_NOMEM;
    gs_ctx_free(c);
    return NULL;
}

static void test_threads(void)
{
    enum { N = 4 };
    pthread_t t[N];
    gs_status st[N];
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, thread_main, &st[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(st[i], GS_OK);
    }
}

int cu_register(void)
{
    CU_pSuite s = CU_add_suite("api", setup, teardown);
    if (!s)
        return -1;
    CU_add_test(s, "build a model and read it back", test_build_and_read);
    CU_add_test(s, "builder errors", test_builder_errors);
    CU_add_test(s, "topological order, compact, clone", test_order_compact_clone);
    CU_add_test(s, "binding input shapes", test_bind_shapes);
    CU_add_test(s, "rules off, only, from JSON", test_rule_choices);
    CU_add_test(s, "cancel from the progress callback", test_cancel);
    CU_add_test(s, "version", test_version);
    CU_add_test(s, "edit a model", test_edit);
    CU_add_test(s, "every allocation failure: NOMEM, nothing left", test_alloc_failures);
    CU_add_test(s, "one context per thread, at once", test_threads);
    CU_add_test(s, "the free hook told the size", test_free_sized);
    return 0;
}
