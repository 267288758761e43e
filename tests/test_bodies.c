/*
 * test_bodies.c - CUnit suite for reading If, Loop and Scan bodies through
 * the public header only (gs_node_attr_graph, gs_value_outer,
 * gs_node_capture): the ONNX node tests with bodies, and a model made by
 * tests/data/make_bodies.py with bodies two deep, initializers at every
 * level, values captured from one and two graphs out and a GRAPHS
 * attribute. Every body is walked recursively as the main graph is; calls
 * that would change a body are refused; optimize and compact keep the
 * counts consistent; a body's view survives an allocation failure.
 */
#include <graphsub.h>

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef BODIES_MODEL
#error "BODIES_MODEL: the model tests/data/make_bodies.py writes"
#endif
#ifndef TESTDATA
#define TESTDATA "/usr/share/libonnx-testdata/data"
#endif

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

static gs_model *load(const char *path)
{
    gs_model *m = NULL;
    gs_status st = gs_model_load(ctx, path, &m);
    if (st != GS_OK)
        printf("\n  %s\n", gs_ctx_errmsg(ctx));
    return m;
}

/* ---- helpers -------------------------------------------------------------- */

static int node_named(const gs_model *m, const char *name)
{
    for (int i = 0; i < gs_model_node_count(m); i++)
        if (gs_node_is_live(m, i) && !strcmp(gs_node_name(m, i), name))
            return i;
    return -1;
}

static int value_named(const gs_model *m, const char *name)
{
    for (int v = 0; v < gs_model_value_count(m); v++)
        if (!strcmp(gs_value_name(m, v), name))
            return v;
    return -1;
}

/* Body i of attribute attr of node (by name), or NULL. */
static const gs_model *body(const gs_model *m, const char *node, const char *attr, int i)
{
    int n = node_named(m, node);
    return n < 0 ? NULL : gs_node_attr_graph(m, n, gs_node_attr_find(m, n, attr), i);
}

/* The ops of the live nodes of m in index order, comma separated. */
static const char *ops_of(const gs_model *m, char *buf, size_t size)
{
    buf[0] = 0;
    for (int i = 0; i < gs_model_node_count(m); i++)
        if (gs_node_is_live(m, i))
            snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", buf[0] ? "," : "", gs_node_op(m, i));
    return buf;
}

/* The names of m's inputs (outputs when out), comma separated. */
static const char *io_of(const gs_model *m, int out, char *buf, size_t size)
{
    int n = out ? gs_model_output_count(m) : gs_model_input_count(m);
    buf[0] = 0;
    for (int i = 0; i < n; i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? "," : "",
                 gs_value_name(m, out ? gs_model_output(m, i) : gs_model_input(m, i)));
    return buf;
}

static int is_input(const gs_model *m, int v)
{
    for (int i = 0; i < gs_model_input_count(m); i++)
        if (gs_model_input(m, i) == v)
            return 1;
    return 0;
}

static int captures(const gs_model *m, int node, int v)
{
    for (int i = 0; i < gs_node_capture_count(m, node); i++)
        if (gs_node_capture(m, node, i) == v)
            return 1;
    return 0;
}

/* A value of m a live node may read: an input, a live node's output, a
 * weight, or a capture of a value of the same name of parent, listed among
 * the implicit inputs of parent's node pnode. */
static void check_defined(const gs_model *m, const gs_model *parent, int pnode, int v)
{
    int p = gs_value_producer(m, v), outer = gs_value_outer(m, v);
    CU_ASSERT(is_input(m, v) || (p >= 0 && gs_node_is_live(m, p)) || gs_value_is_constant(m, v) || outer >= 0);
    if (outer < 0)
        return;
    CU_ASSERT_FATAL(parent != NULL);
    CU_ASSERT(outer < gs_model_value_count(parent));
    CU_ASSERT_STRING_EQUAL(gs_value_name(parent, outer), gs_value_name(m, v));
    CU_ASSERT(!is_input(m, v) && p < 0 && !gs_value_is_constant(m, v));
    CU_ASSERT(captures(parent, pnode, outer));
}

static int walk(const gs_model *m, const gs_model *parent, int pnode, int depth);

/* Walk every body of node n of m; returns their live nodes, at any depth. */
static int walk_bodies(const gs_model *m, int n, int depth)
{
    int total = 0;
    for (int k = 0; k < gs_node_attr_count(m, n); k++) {
        gs_attr_type t = gs_node_attr_type(m, n, k);
        int count = t == GS_ATTR_GRAPH ? 1 : t == GS_ATTR_GRAPHS ? gs_node_attr_list_count(m, n, k) : 0;
        for (int i = 0; i < count; i++) {
            const gs_model *b = gs_node_attr_graph(m, n, k, i);
            CU_ASSERT_FATAL(b != NULL);
            CU_ASSERT(gs_node_attr_graph(m, n, k, i) == b);   /* the same handle, no new memory */
            CU_ASSERT(gs_model_opset(b, "") == gs_model_opset(m, ""));
            total += walk(b, m, n, depth + 1) + gs_model_subgraph_node_count(b);   /* checked there */
        }
        CU_ASSERT(gs_node_attr_graph(m, n, k, count) == NULL);
        CU_ASSERT(gs_node_attr_graph(m, n, k, -1) == NULL);
    }
    return total;
}

/* Check m as a compiler walks it; returns its live nodes. */
static int walk(const gs_model *m, const gs_model *parent, int pnode, int depth)
{
    CU_ASSERT_FATAL(depth < 8);
    int nn = gs_model_node_count(m), live = 0, sub = 0;
    int *order = malloc(((size_t)nn + 1) * sizeof *order);
    CU_ASSERT_FATAL(order != NULL);
    for (int i = 0; i < nn; i++) {
        if (!gs_node_is_live(m, i))
            continue;
        live++;
        for (int k = 0; k < gs_node_input_count(m, i); k++)
            if (gs_node_input(m, i, k) >= 0)
                check_defined(m, parent, pnode, gs_node_input(m, i, k));
        for (int k = 0; k < gs_node_capture_count(m, i); k++)
            CU_ASSERT(gs_node_capture(m, i, k) >= 0 && gs_node_capture(m, i, k) < gs_model_value_count(m));
        sub += walk_bodies(m, i, depth);
    }
    for (int i = 0; i < gs_model_output_count(m); i++)
        check_defined(m, parent, pnode, gs_model_output(m, i));
    CU_ASSERT(gs_model_topo_order(m, order) == live);
    CU_ASSERT(gs_model_subgraph_node_count(m) == sub);
    free(order);
    return live;
}

/* The live nodes of m's bodies, at any depth, counted by walking. */
static int walk_bodies_total(const gs_model *m)
{
    int total = 0;
    for (int i = 0; i < gs_model_node_count(m); i++)
        if (gs_node_is_live(m, i))
            total += walk_bodies(m, i, 0);
    return total;
}

static void tensor_floats(const gs_tensor_view *t, float *out, int n)
{
    CU_ASSERT_EQUAL_FATAL(t->dtype, GS_FLOAT);
    CU_ASSERT_EQUAL_FATAL(t->nbytes, (size_t)n * sizeof(float));
    memcpy(out, t->data, t->nbytes);   /* may be unaligned: it points into the file */
}

/* ---- the ONNX node tests ------------------------------------------------- */

static void test_node_tests(void)
{
    static const struct {
        const char *dir, *attr;
        int i;                          /* element of the attribute */
        const char *ops, *inputs, *outputs;
    } cases[] = {
        { "test_if", "then_branch", 0, "Constant", "", "then_out" },
        { "test_if", "else_branch", 0, "Constant", "", "else_out" },
        { "test_if_seq", "then_branch", 0, "Constant,SequenceConstruct", "", "then_out" },
        { "test_if_opt", "else_branch", 0, "Constant,SequenceConstruct,Optional", "", "else_opt" },
        { "test_loop11", "body", 0, "Identity,Constant,Constant,Add,Unsqueeze,Unsqueeze,Slice,Add,Identity",
          "iter_count,cond_in,y_in", "cond_out,y_out,scan_out" },
        { "test_loop13_seq", "body", 0, "Identity,Constant,Constant,Constant,Add,Constant,Unsqueeze,Slice,"
          "SequenceInsert", "iter_count,cond_in,seq_in", "cond_out,seq_out" },
        { "test_scan9_sum", "body", 0, "Add,Identity", "sum_in,next", "sum_out,scan_out" },
        { "test_scan_sum", "body", 0, "Add,Identity", "sum_in,next", "sum_out,scan_out" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char path[512], buf[512];
        snprintf(path, sizeof path, "%s/node/%s/model.onnx", TESTDATA, cases[c].dir);
        gs_model *m = load(path);
        CU_ASSERT_FATAL(m != NULL);
        CU_ASSERT_EQUAL(gs_model_node_count(m), 1);
        int k = gs_node_attr_find(m, 0, cases[c].attr);
        CU_ASSERT_EQUAL(gs_node_attr_type(m, 0, k), GS_ATTR_GRAPH);
        const gs_model *b = gs_node_attr_graph(m, 0, k, cases[c].i);
        CU_ASSERT_FATAL(b != NULL);
        CU_ASSERT_STRING_EQUAL(ops_of(b, buf, sizeof buf), cases[c].ops);
        CU_ASSERT_STRING_EQUAL(io_of(b, 0, buf, sizeof buf), cases[c].inputs);
        CU_ASSERT_STRING_EQUAL(io_of(b, 1, buf, sizeof buf), cases[c].outputs);
        CU_ASSERT(gs_node_attr_graph(m, 0, k, 1) == NULL);                  /* GRAPH: element 0 only */
        CU_ASSERT(gs_node_attr_tensor(m, 0, k, 0, &(gs_tensor_view){ 0 }) == 0);
        for (int v = 0; v < gs_model_value_count(b); v++)
            CU_ASSERT(gs_value_outer(b, v) == -1);                          /* these bodies capture nothing */
        CU_ASSERT(gs_node_capture_count(m, 0) == 0);
        CU_ASSERT_EQUAL(walk(m, NULL, -1, 0), 1);
        gs_model_free(m);
    }
}

/* test_if: each branch's Constant holds its tensor; test_loop11's body
 * computes from its inputs. */
static void test_node_test_values(void)
{
    gs_model *m = load(TESTDATA "/node/test_if/model.onnx");
    CU_ASSERT_FATAL(m != NULL);
    const char *branches[2] = { "then_branch", "else_branch" };
    const float want[2][5] = { { 1, 2, 3, 4, 5 }, { 5, 4, 3, 2, 1 } };
    for (int b = 0; b < 2; b++) {
        const gs_model *body = gs_node_attr_graph(m, 0, gs_node_attr_find(m, 0, branches[b]), 0);
        CU_ASSERT_FATAL(body != NULL);
        gs_tensor_view t;
        float got[5];
        CU_ASSERT_FATAL(gs_node_attr_tensor(body, 0, gs_node_attr_find(body, 0, "value"), 0, &t) == 1);
        tensor_floats(&t, got, 5);
        CU_ASSERT(!memcmp(got, want[b], sizeof got));
        CU_ASSERT_EQUAL(gs_value_dtype(body, gs_model_output(body, 0)), GS_FLOAT);
    }
    gs_model_free(m);
    m = load(TESTDATA "/node/test_loop11/model.onnx");
    CU_ASSERT_FATAL(m != NULL);
    const gs_model *b = gs_node_attr_graph(m, 0, gs_node_attr_find(m, 0, "body"), 0);
    CU_ASSERT_FATAL(b != NULL);
    int add = 3;   /* end = Add(iter_count, one) */
    CU_ASSERT_STRING_EQUAL(gs_node_op(b, add), "Add");
    CU_ASSERT_EQUAL(gs_node_input(b, add, 0), gs_model_input(b, 0));
    CU_ASSERT_EQUAL(gs_value_dtype(b, gs_model_input(b, 0)), GS_INT64);
    CU_ASSERT_EQUAL(gs_value_producer(b, gs_node_input(b, add, 1)), 2);
    gs_model_free(m);
}

/* ---- nested bodies, captures, GRAPHS ---------------------------------------- */

static void test_nested(void)
{
    char buf[512];
    gs_model *m = load(BODIES_MODEL);
    CU_ASSERT_FATAL(m != NULL);
    int loop = node_named(m, "loop"), alts = node_named(m, "alts");
    int x = value_named(m, "x"), w = value_named(m, "w");
    CU_ASSERT_FATAL(loop >= 0 && alts >= 0 && x >= 0 && w >= 0);
    CU_ASSERT(gs_node_attr_graph(m, loop, gs_node_attr_find(m, loop, "body"), 1) == NULL);
    for (int v = 0; v < gs_model_value_count(m); v++)
        CU_ASSERT(gs_value_outer(m, v) == -1);   /* the main graph captures nothing */

    /* the Loop body: its inputs, weights and captures */
    const gs_model *lb = body(m, "loop", "body", 0);
    CU_ASSERT_FATAL(lb != NULL);
    CU_ASSERT_STRING_EQUAL(ops_of(lb, buf, sizeof buf), "Identity,Less,If,Add,Identity,Identity");
    CU_ASSERT_STRING_EQUAL(io_of(lb, 0, buf, sizeof buf), "i,cond_in,acc");
    CU_ASSERT_STRING_EQUAL(io_of(lb, 1, buf, sizeof buf), "cond_out,acc_out,scan_out");
    CU_ASSERT_EQUAL(gs_model_opset(lb, ""), 13);
    CU_ASSERT_EQUAL(gs_model_opset(lb, "test.bodies"), 1);
    int step = value_named(lb, "step"), lim = value_named(lb, "lim");
    gs_tensor_view t;
    float f[3];
    CU_ASSERT_FATAL(gs_value_tensor(lb, step, &t) == 1);
    tensor_floats(&t, f, 3);
    CU_ASSERT(f[0] == 1 && f[1] == 2 && f[2] == 3);
    int64_t one = 0;
    CU_ASSERT_FATAL(gs_value_tensor(lb, lim, &t) == 1);
    CU_ASSERT(t.dtype == GS_INT64 && t.rank == 0 && t.nbytes == 8);
    memcpy(&one, t.data, sizeof one);
    CU_ASSERT_EQUAL(one, 1);
    int lx = value_named(lb, "x"), lw = value_named(lb, "w"), acc = value_named(lb, "acc");
    CU_ASSERT_EQUAL(gs_value_outer(lb, lx), x);          /* read by plus_x */
    CU_ASSERT_EQUAL(gs_value_outer(lb, lw), w);          /* read by the If's else branch only */
    CU_ASSERT_EQUAL(gs_value_outer(lb, acc), -1);        /* an input */
    CU_ASSERT_EQUAL(gs_value_outer(lb, step), -1);       /* a weight */
    CU_ASSERT(gs_value_producer(lb, lx) == -1 && !gs_value_is_constant(lb, lx) && !is_input(lb, lx));
    CU_ASSERT_EQUAL(gs_node_capture_count(m, loop), 2);
    CU_ASSERT(captures(m, loop, x) && captures(m, loop, w));
    CU_ASSERT_EQUAL(gs_value_dtype(lb, lx), GS_FLOAT);

    /* the If inside it: one capture from the loop body, one from two graphs out */
    const gs_model *then_b = body(lb, "branch", "then_branch", 0), *else_b = body(lb, "branch", "else_branch", 0);
    CU_ASSERT_FATAL(then_b != NULL && else_b != NULL && then_b != else_b);
    CU_ASSERT_STRING_EQUAL(ops_of(then_b, buf, sizeof buf), "Mul");
    CU_ASSERT_STRING_EQUAL(gs_node_name(else_b, 0), "shift");
    CU_ASSERT_EQUAL(gs_model_input_count(then_b), 0);
    CU_ASSERT_EQUAL(gs_value_outer(then_b, value_named(then_b, "acc")), acc);
    CU_ASSERT_FATAL(gs_value_tensor(then_b, value_named(then_b, "half"), &t) == 1);
    tensor_floats(&t, f, 1);
    CU_ASSERT(f[0] == 0.5f);
    int ew = value_named(else_b, "w");
    CU_ASSERT_EQUAL(gs_value_outer(else_b, ew), lw);
    CU_ASSERT_EQUAL(gs_value_outer(lb, gs_value_outer(else_b, ew)), w);   /* followed up to main */
    CU_ASSERT_EQUAL(gs_value_outer(else_b, value_named(else_b, "step")), step);
    int branch = node_named(lb, "branch");
    CU_ASSERT_EQUAL(gs_node_capture_count(lb, branch), 3);
    CU_ASSERT(captures(lb, branch, acc) && captures(lb, branch, lw) && captures(lb, branch, step));
    CU_ASSERT(gs_model_subgraph_node_count(lb) == 2);
    gs_array *in[3] = { NULL };
    CU_ASSERT_EQUAL(gs_model_random_inputs(ctx, lb, 1, NULL, in), GS_OK);   /* i, cond_in, acc */
    CU_ASSERT(in[2] && in[2]->dtype == GS_FLOAT && in[2]->rank == 2 && in[2]->dims[1] == 3);
    for (int j = 0; j < 3; j++)
        gs_array_free(ctx, in[j]);

    /* the GRAPHS attribute of an op graphsub does not know */
    int k = gs_node_attr_find(m, alts, "alts");
    CU_ASSERT_EQUAL(gs_node_attr_type(m, alts, k), GS_ATTR_GRAPHS);
    CU_ASSERT_EQUAL(gs_node_attr_list_count(m, alts, k), 2);
    const gs_model *a0 = gs_node_attr_graph(m, alts, k, 0), *a1 = gs_node_attr_graph(m, alts, k, 1);
    CU_ASSERT_FATAL(a0 != NULL && a1 != NULL && a0 != a1);
    CU_ASSERT(gs_node_attr_graph(m, alts, k, 2) == NULL);
    CU_ASSERT_STRING_EQUAL(ops_of(a0, buf, sizeof buf), "Neg");
    CU_ASSERT_EQUAL(gs_value_outer(a0, value_named(a0, "x")), x);
    CU_ASSERT_FATAL(gs_value_tensor(a1, value_named(a1, "k1"), &t) == 1);
    tensor_floats(&t, f, 3);
    CU_ASSERT(f[0] == 7 && f[1] == 8 && f[2] == 9);
    CU_ASSERT_EQUAL(gs_value_outer(a1, value_named(a1, "w")), w);
    CU_ASSERT(gs_node_attr_graph(m, alts, gs_node_attr_find(m, alts, "nothing"), 0) == NULL);
    CU_ASSERT(gs_node_attr_graph(m, -1, 0, 0) == NULL && gs_node_attr_graph(NULL, 0, 0, 0) == NULL);

    /* everything, recursively; the counts agree */
    CU_ASSERT_EQUAL(walk(m, NULL, -1, 0), 2);
    CU_ASSERT_EQUAL(gs_model_subgraph_node_count(m), 10);
    CU_ASSERT_EQUAL(walk_bodies_total(m), 10);
    gs_model_free(m);
}

/* ---- a body is read-only ------------------------------------------------------ */

static void refused(gs_status st, const char *call)
{
    if (st != GS_ERR_ARG || !strstr(gs_ctx_errmsg(ctx), "read-only"))
        printf("\n  %s on a body: %s, '%s'\n", call, gs_status_str(st), gs_ctx_errmsg(ctx));
    CU_ASSERT_EQUAL(st, GS_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "read-only"));
}

static void no_rule_cb(void *ud, const char *node, const char *op, int matched, const char *why)
{
    (void)node, (void)op, (void)matched, (void)why;
    ++*(int *)ud;
}

static void test_read_only(void)
{
    char buf[512], tmp[] = "/tmp/gs_bodies_XXXXXX";
    gs_model *m = load(BODIES_MODEL);
    CU_ASSERT_FATAL(m != NULL);
    gs_model *b = (gs_model *)body(m, "loop", "body", 0);   /* what a careless caller does */
    CU_ASSERT_FATAL(b != NULL);
    const char *before = strdup(ops_of(b, buf, sizeof buf));
    int nvalues = gs_model_value_count(b), v = -1, outs[1], calls = 0;
    const int64_t d3[] = { 3 }, d23[] = { 2, 3 };
    const float data[3] = { 0 };
    gs_model *copy = NULL;
    void *mem = NULL;
    size_t size = 0;
    gs_array *out[3] = { NULL };
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmp));
    char path[64];
    snprintf(path, sizeof path, "%s/body.onnx", tmp);

    refused(gs_model_add_initializer(b, "extra", GS_FLOAT, 1, d3, data, sizeof data, &v), "add_initializer");
    refused(gs_model_add_node(b, "Relu", NULL, NULL, (int[]){ 0 }, 1, 1, outs, NULL), "add_node");
    refused(gs_node_set_attr_int(b, 0, "a", 1), "set_attr_int");
    refused(gs_node_set_attr_float(b, 0, "a", 1), "set_attr_float");
    refused(gs_node_set_attr_string(b, 0, "a", "s"), "set_attr_string");
    refused(gs_node_set_attr_ints(b, 0, "a", (int64_t[]){ 1 }, 1), "set_attr_ints");
    refused(gs_node_set_attr_floats(b, 0, "a", (float[]){ 1 }, 1), "set_attr_floats");
    refused(gs_node_set_input(b, 3, 0, gs_model_input(b, 2)), "set_input");
    refused(gs_model_replace_uses(b, gs_model_input(b, 2), gs_model_input(b, 1)), "replace_uses");
    refused(gs_model_remove_node(b, 5), "remove_node");
    refused(gs_model_set_output(b, 0, gs_model_input(b, 1)), "set_output");
    refused(gs_model_bind_dim(b, "batch", 1), "bind_dim");
    refused(gs_model_set_input_shape(b, "acc", 2, d23), "set_input_shape");
    refused(gs_model_infer_shapes(b), "infer_shapes");
    refused(gs_model_save(b, path, NULL), "save");
    refused(gs_model_save_mem(b, &mem, &size), "save_mem");
    refused(gs_model_clone(b, &copy), "clone");
    refused(gs_model_compact(b), "compact");
    refused(gs_optimize(ctx, b, NULL, NULL), "optimize");
    refused(gs_model_run(ctx, b, NULL, 0, out), "run");
    refused(gs_model_compare(ctx, b, m, NULL, NULL, NULL), "compare");
    refused(gs_model_compare(ctx, m, b, NULL, NULL, NULL), "compare");
    refused(gs_rules_explain(ctx, NULL, "relu-relu", b, no_rule_cb, &calls), "rules_explain");
    CU_ASSERT(copy == NULL && mem == NULL && calls == 0);
    CU_ASSERT(out[0] == NULL);
    CU_ASSERT_EQUAL(remove(path), -1);   /* nothing written */
    rmdir(tmp);
    gs_model_free(b);                    /* ignored: the body belongs to m */
    CU_ASSERT_STRING_EQUAL(ops_of(b, buf, sizeof buf), before);
    CU_ASSERT_EQUAL(gs_model_value_count(b), nvalues);
    CU_ASSERT_EQUAL(gs_model_verify(b), GS_OK);   /* checking reads only */
    CU_ASSERT(body(m, "loop", "body", 0) == b);
    CU_ASSERT_EQUAL(gs_model_save_mem(m, &mem, &size), GS_OK);   /* the model itself still is writable */
    gs_free(ctx, mem);
    free((void *)before);
    gs_model_free(m);
}

/* ---- after optimize and compact --------------------------------------------- */

static void test_optimize_compact(void)
{
    gs_model *m = load(BODIES_MODEL);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL_FATAL(gs_optimize(ctx, m, NULL, NULL), GS_OK);
    const gs_model *lb = body(m, "loop", "body", 0);
    CU_ASSERT_FATAL(lb != NULL);
    int dead = 0;
    for (int i = 0; i < gs_model_node_count(lb); i++)
        dead += !gs_node_is_live(lb, i);
    CU_ASSERT(dead > 0);   /* the Identity noop, at least: its slot stays, not live */
    int live = walk(m, NULL, -1, 0), sub = gs_model_subgraph_node_count(m);
    CU_ASSERT_EQUAL(walk_bodies_total(m), sub);
    CU_ASSERT(sub < 10);
    CU_ASSERT_EQUAL(node_named(lb, "noop"), -1);

    CU_ASSERT_EQUAL_FATAL(gs_model_compact(m), GS_OK);
    lb = body(m, "loop", "body", 0);
    CU_ASSERT_FATAL(lb != NULL);
    for (int i = 0; i < gs_model_node_count(lb); i++)
        CU_ASSERT(gs_node_is_live(lb, i));
    CU_ASSERT_EQUAL(walk(m, NULL, -1, 0), live);
    double flops = -1;   /* shapes inferred in bodies too: a [2,3] Add */
    CU_ASSERT(gs_node_cost(lb, node_named(lb, "plus_x"), &flops, NULL) > 0 && flops == 6);
    CU_ASSERT_EQUAL(gs_model_subgraph_node_count(m), sub);
    CU_ASSERT_EQUAL(walk_bodies_total(m), sub);
    gs_model_free(m);
}

/* ---- memory short ------------------------------------------------------------ */

static int fail_at;   /* the allocation that fails (1-based), 0: none */

static void *count_alloc(void *ud, size_t n)
{
    (void)ud;
    return fail_at && --fail_at == 0 ? NULL : malloc(n);
}

static void *count_realloc(void *ud, void *p, size_t n)
{
    (void)ud;
    return fail_at && --fail_at == 0 ? NULL : realloc(p, n);
}

static void count_free(void *ud, void *p)
{
    (void)ud;
    free(p);
}

static void test_nomem(void)
{
    gs_allocator a = { count_alloc, count_realloc, count_free, NULL };
    gs_ctx *c = gs_ctx_new(&a);
    gs_model *m = NULL;
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT_EQUAL_FATAL(gs_model_load(c, BODIES_MODEL, &m), GS_OK);
    int loop = 0, k = gs_node_attr_find(m, loop, "body");
    fail_at = 1;
    CU_ASSERT(gs_node_attr_graph(m, loop, k, 0) == NULL);
    CU_ASSERT_STRING_EQUAL(gs_ctx_errmsg(c), "out of memory");
    const gs_model *b = gs_node_attr_graph(m, loop, k, 0);
    CU_ASSERT_FATAL(b != NULL);
    fail_at = 1;   /* made already: no allocation */
    CU_ASSERT(gs_node_attr_graph(m, loop, k, 0) == b);
    CU_ASSERT_EQUAL(fail_at, 1);
    fail_at = 0;
    gs_model_free(m);   /* frees the view with the body (ASan: no leak) */
    gs_ctx_free(c);
}

int cu_register(void)
{
    CU_pSuite s = CU_add_suite("bodies", setup, teardown);
    if (!s)
        return -1;
    CU_add_test(s, "the ONNX node tests' bodies", test_node_tests);
    CU_add_test(s, "the node tests' constants and inputs", test_node_test_values);
    CU_add_test(s, "nested bodies, captures, GRAPHS", test_nested);
    CU_add_test(s, "a body is read-only", test_read_only);
    CU_add_test(s, "optimize and compact: dead slots, counts", test_optimize_compact);
    CU_add_test(s, "a view when memory is short", test_nomem);
    return 0;
}
