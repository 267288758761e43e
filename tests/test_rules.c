/*
 * test_rules.c - CUnit suites for the rule engine: loading errors, matching
 * with commutative operands, variadic inputs, multiple roots, outer-scope
 * values of an If branch, refusal when an intermediate value is a graph
 * output or read elsewhere (or a matched node's second output is), rewriting that keeps output names, nodes shared
 * by two pattern branches, statement pairs, optional inputs.
 */
#include "gs_ops.h"
#include "gs_rules.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

int cu_register(void);

static gs_id add_list(gs_graph *g, gs_id **list, int32_t *n, gs_id v)
{
    gs_id *l = gs_arena_alloc(&g->arena, ((size_t)*n + 1) * sizeof *l);
    if (*n)
        memcpy(l, *list, (size_t)*n * sizeof *l);
    l[(*n)++] = v;
    *list = l;
    return v;
}

static gs_id input(gs_graph *g, const char *name)
{
    gs_id v = gs_ir_add_value(g, name, true);
    g->values[v].flags |= GS_V_INPUT;
    g->values[v].dtype = GS_FLOAT;
    return add_list(g, &g->inputs, &g->ninputs, v);
}

static void output(gs_graph *g, gs_id v)
{
    g->values[v].flags |= GS_V_OUTPUT;
    add_list(g, &g->outputs, &g->noutputs, v);
}

static gs_id node(gs_graph *g, const char *op, const gs_id *in, int nin, const char *out)
{
    gs_id o = gs_ir_add_value(g, out, true);
    gs_ir_add_node(g, op, "", gs_arena_strdup(g->perm, out), in, nin, &o, 1);
    return o;
}

static gs_id node1(gs_graph *g, const char *op, gs_id a, const char *out)
{
    return node(g, op, &a, 1, out);
}

static gs_id node2(gs_graph *g, const char *op, gs_id a, gs_id b, const char *out)
{
    gs_id in[2] = { a, b };
    return node(g, op, in, 2, out);
}

static gs_ruleset *rules(gs_ctx *ctx, const char *json)
{
    gs_ruleset *rs = gs_ruleset_new(ctx);
    gs_status st = gs_ruleset_load_mem(rs, json, strlen(json), "test.json");
    if (st != GS_OK)
        fprintf(stderr, "%s\n", gs_ctx_errmsg(ctx));
    CU_ASSERT_EQUAL(st, GS_OK);
    return rs;
}

typedef struct found {
    gs_match m[8];
    int n;
} found;

static bool collect(const gs_match *m, void *ud)
{
    found *f = ud;
    if (f->n < 8)
        f->m[f->n++] = *m;
    return true;
}

static found match(const gs_ruleset *rs, const gs_graph *g)
{
    found f = { .n = 0 };
    gs_match_all(rs, g, GS_RULE_CLEANUP | GS_RULE_SEARCH, collect, &f);
    return f;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_load_errors(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = gs_ruleset_new(ctx);
    const char *bad = "{\"rules\": [{\"name\": \"r\", \"match\": \"Relu(x\", \"rewrite\": \"x\"}]}";
    CU_ASSERT_EQUAL(gs_ruleset_load_mem(rs, bad, strlen(bad), "f.json"), GS_ERR_RULE);
    CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "f.json:1:42: rule 1 'r': match at column 7: expected ')'"));
    const char *dup = "{\"rules\": [{\"name\": \"r\", \"name\": \"s\", \"match\": \"Relu(x)\", \"rewrite\": \"x\"}]}";
    CU_ASSERT_EQUAL(gs_ruleset_load_mem(rs, dup, strlen(dup), "f.json"), GS_ERR_RULE);
    CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "duplicate key 'name'"));
    const char *json = "{\"rules\": [\n {\"name\": 1}\n,]}";
    CU_ASSERT_EQUAL(gs_ruleset_load_mem(rs, json, strlen(json), "f.json"), GS_ERR_RULE);
    CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "f.json:3:"));   /* line of the JSON error */
    const char *cond = "{\"rules\": [{\"name\": \"r\", \"match\": \"Relu(x)\", \"where\": [\"nope(x)\"], \"rewrite\": \"x\"}]}";
    CU_ASSERT_EQUAL(gs_ruleset_load_mem(rs, cond, strlen(cond), "f.json"), GS_ERR_RULE);
    const char *shared = "{\"rules\": [{\"name\": \"r\", \"match\": \"Relu(x)\", \"rewrite\": \"x\", \"shared_inner\": 1}]}";
    CU_ASSERT_EQUAL(gs_ruleset_load_mem(rs, shared, strlen(shared), "f.json"), GS_ERR_RULE);
    CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "f.json:1:78: rule 1 'r': shared_inner must be true or false"));
    CU_ASSERT_EQUAL(gs_ruleset_count(rs), 0);   /* every file was refused whole */
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

static found match_at(const gs_ruleset *rs, const gs_graph *g, gs_id root)
{
    found f = { .n = 0 };
    gs_match_at(rs, g, GS_RULE_CLEANUP | GS_RULE_SEARCH, root, collect, &f);
    return f;
}

/* gs_match_at finds a node's rules through the ruleset's index by root op:
 * every rule of that op in load order, across the index's growth (40 ops),
 * and none of a file that was refused after some of its rules compiled. */
static void test_rules_by_root_op(void)
{
    static const char *const ops[] = { "Relu", "Neg", "Abs", "Exp", "Log", "Sqrt", "Sigmoid", "Tanh", "Floor",
                                       "Ceil", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh",
                                       "Cosh", "Asinh", "Acosh", "Atanh", "Reciprocal", "Sign", "Round",
                                       "Softsign", "Softplus", "Not", "Identity", "Elu", "Selu", "Celu",
                                       "HardSigmoid", "HardSwish", "Mish", "IsNaN", "IsInf", "LeakyRelu",
                                       "ThresholdedRelu", "Softmax" };
    enum { NOPS = sizeof ops / sizeof ops[0] };
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = gs_ruleset_new(ctx);
    char json[256];
    for (int i = 0; i < NOPS; i++) {   /* one rule per op, then a second rule for Relu */
        snprintf(json, sizeof json, "{\"rules\": [{\"name\": \"r%d\", \"match\": \"%s(x)\", \"rewrite\": \"x\"}]}",
                 i, ops[i]);
        CU_ASSERT_EQUAL_FATAL(gs_ruleset_load_mem(rs, json, strlen(json), "a.json"), GS_OK);
    }
    const char *more = "{\"rules\": [{\"name\": \"relu2\", \"match\": \"Relu(x)\", \"rewrite\": \"Neg(x)\"}]}";
    CU_ASSERT_EQUAL_FATAL(gs_ruleset_load_mem(rs, more, strlen(more), "b.json"), GS_OK);
    const char *refused = "{\"rules\": [{\"name\": \"relu3\", \"match\": \"Relu(x)\", \"rewrite\": \"x\"},"
                          " {\"name\": \"gelu\", \"match\": \"Gelu(x)\", \"rewrite\": \"x\"},"
                          " {\"name\": \"bad\", \"match\": \"Relu(x\", \"rewrite\": \"x\"}]}";
    CU_ASSERT_EQUAL(gs_ruleset_load_mem(rs, refused, strlen(refused), "c.json"), GS_ERR_RULE);
    CU_ASSERT_EQUAL(gs_ruleset_count(rs), NOPS + 1);
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x");
    gs_id relu = node1(g, "Relu", x, "r"), last = node1(g, ops[NOPS - 1], relu, "s");
    gs_id gelu = node1(g, "Gelu", last, "t");
    output(g, gelu);
    found f = match_at(rs, g, g->values[relu].producer);
    CU_ASSERT_EQUAL_FATAL(f.n, 2);
    CU_ASSERT_STRING_EQUAL(gs_rule_name(f.m[0].rule), "r0");   /* load order */
    CU_ASSERT_STRING_EQUAL(gs_rule_name(f.m[1].rule), "relu2");
    f = match_at(rs, g, g->values[last].producer);
    CU_ASSERT_EQUAL_FATAL(f.n, 1);
    CU_ASSERT_STRING_EQUAL(gs_rule_name(f.m[0].rule), "r39");
    CU_ASSERT_EQUAL(match_at(rs, g, g->values[gelu].producer).n, 0);   /* only the refused file had one */
    gs_ir_free(g);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

static void test_commutative(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"r\", \"match\": \"Add(Relu(x), c)\", \"rewrite\": \"Neg(x)\"}]}");
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x"), c = input(g, "c");
    output(g, node2(g, "Add", c, node1(g, "Relu", x, "r"), "y"));   /* Relu is the second operand */
    found f = match(rs, g);
    CU_ASSERT_EQUAL(f.n, 1);
    CU_ASSERT_EQUAL(f.m[0].values[0], x);
    gs_graph *s = gs_ir_new_opset(ctx, 17);   /* Sub does not commute */
    gs_ruleset *rs2 = rules(ctx, "{\"rules\": [{\"name\": \"r\", \"match\": \"Sub(Relu(x), c)\", \"rewrite\": \"x\"}]}");
    x = input(s, "x"), c = input(s, "c");
    output(s, node2(s, "Sub", c, node1(s, "Relu", x, "r"), "y"));
    CU_ASSERT_EQUAL(match(rs2, s).n, 0);
    gs_ir_free(g), gs_ir_free(s);
    gs_ruleset_free(rs), gs_ruleset_free(rs2);
    gs_ctx_free(ctx);
}

/* Two plain variables match either operand: the order that passes the
 * conditions is the one bound, whichever way round the node has them. */
static void test_commutative_conditions(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"r\", \"match\": \"Mul(x, Add(a, b))\", "
                                "\"where\": [\"rank(b, 1)\", \"rank(x, 2)\"], \"rewrite\": \"Neg(x)\"}]}");
    for (int order = 0; order < 4; order++) {
        gs_graph *g = gs_ir_new_opset(ctx, 17);
        gs_id x = input(g, "x"), a = input(g, "a"), b = input(g, "b");
        g->values[x].rank = 2, g->values[a].rank = 3, g->values[b].rank = 1;
        gs_id sum = order & 1 ? node2(g, "Add", b, a, "s") : node2(g, "Add", a, b, "s");
        output(g, order & 2 ? node2(g, "Mul", sum, x, "y") : node2(g, "Mul", x, sum, "y"));
        found f = match(rs, g);
        CU_ASSERT_EQUAL(f.n, 1);
        CU_ASSERT_EQUAL(f.m[0].values[0], x);   /* variables in order of appearance: x, a, b */
        CU_ASSERT_EQUAL(f.m[0].values[1], a);
        CU_ASSERT_EQUAL(f.m[0].values[2], b);
        g->values[b].rank = 3;   /* no order passes now */
        CU_ASSERT_EQUAL(match(rs, g).n, 0);
        gs_ir_free(g);
    }
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

static void test_variadic(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"flat\", \"match\": "
                                "\"Concat(Concat(a...){axis=k}, b...){axis=k}\", \"rewrite\": \"Concat(a..., b...){axis=k}\"}]}");
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id p = input(g, "p"), q = input(g, "q"), r = input(g, "r"), s = input(g, "s");
    gs_id in1[2] = { p, q };
    gs_id inner = node(g, "Concat", in1, 2, "inner");
    gs_id in2[3] = { inner, r, s };
    gs_id outer = node(g, "Concat", in2, 3, "y");
    output(g, outer);
    gs_attr axis = { .name = "axis", .type = GS_A_INT, .i = 1 };
    g->nodes[0].attrs = g->nodes[1].attrs = &axis;
    g->nodes[0].nattrs = g->nodes[1].nattrs = 1;
    found f = match(rs, g);
    CU_ASSERT_EQUAL_FATAL(f.n, 1);
    CU_ASSERT_EQUAL(gs_rule_apply(g, &f.m[0], NULL), GS_OK);
    CU_ASSERT_EQUAL(gs_ir_verify(g), GS_OK);
    CU_ASSERT_EQUAL(gs_ir_live_nodes(g), 1);
    const gs_node *n = &g->nodes[g->values[g->outputs[0]].producer];
    CU_ASSERT_EQUAL(n->nin, 4);
    CU_ASSERT(n->nin == 4 && n->in[0] == p && n->in[1] == q && n->in[2] == r && n->in[3] == s);
    CU_ASSERT_STRING_EQUAL(g->values[g->outputs[0]].name, "y");   /* the output keeps its name */
    gs_ir_free(g);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

static void test_multiple_roots(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"pair\", \"opset\": [13, 21], \"match\": \"y1 = Relu(x); y2 = Sigmoid(x)\","
                                " \"rewrite\": \"y1, y2 = Split(Concat(Relu(x), Sigmoid(x)){axis=0}, [1, 1]){axis=0}\"}]}");
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x"), z = input(g, "z");
    output(g, node1(g, "Relu", x, "a"));
    output(g, node1(g, "Sigmoid", x, "b"));
    output(g, node1(g, "Sigmoid", z, "c"));   /* does not share x: no second match */
    found f = match(rs, g);
    CU_ASSERT_EQUAL(f.n, 1);
    CU_ASSERT(f.n == 1 && f.m[0].values[0] != GS_NONE);
    gs_ir_free(g);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

static void test_outer_scope(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"rr\", \"match\": \"Relu(Relu(x))\", \"rewrite\": \"Relu(x)\"},"
                                "{\"name\": \"rrr\", \"match\": \"Relu(Relu(Relu(x)))\", \"rewrite\": \"Relu(x)\"}]}");
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x");
    gs_id r = node1(g, "Relu", x, "r");   /* in the enclosing graph */
    gs_graph *b = gs_ir_new(ctx, g);      /* an If branch reading r */
    gs_id ro = gs_ir_add_value(b, "r", true);
    b->values[ro].flags |= GS_V_OUTER;
    b->values[ro].outer = r;
    output(b, node1(b, "Relu", node1(b, "Relu", ro, "s"), "t"));
    found f = match(rs, b);
    CU_ASSERT_EQUAL(f.n, 1);                       /* rr inside the branch binds the outer value */
    CU_ASSERT(f.n == 1 && !strcmp(gs_rule_name(f.m[0].rule), "rr") && f.m[0].values[0] == ro);
    CU_ASSERT_EQUAL(gs_rule_apply(b, &f.m[0], NULL), GS_OK);
    CU_ASSERT_EQUAL(gs_ir_verify(b), GS_OK);
    gs_ir_free(g);   /* and b, its subgraph */
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

static void test_refused_when_intermediate_escapes(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"rr\", \"match\": \"Relu(Relu(x))\", \"rewrite\": \"Relu(x)\"}]}");
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x");
    gs_id a = node1(g, "Relu", x, "a");
    output(g, a);                                  /* the intermediate is a graph output */
    output(g, node1(g, "Relu", a, "y"));
    CU_ASSERT_EQUAL(match(rs, g).n, 0);
    gs_graph *h = gs_ir_new_opset(ctx, 17);
    x = input(h, "x");
    a = node1(h, "Relu", x, "a");
    output(h, node1(h, "Relu", a, "y"));
    output(h, node1(h, "Neg", a, "z"));            /* read by a node outside the match */
    CU_ASSERT_EQUAL(match(rs, h).n, 0);
    gs_ir_free(g), gs_ir_free(h);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

/* A one-output statement replaces a node's first output only: a node whose
 * second output (MaxPool's Indices) is read, or is a graph output, does not
 * match, since the rewrite could not remove it. */
static void test_refused_when_second_output_read(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"mr\", \"match\": \"MaxPool(Relu(x))\", "
                                "\"rewrite\": \"Relu(MaxPool(x){...})\"}]}");
    for (int mode = 0; mode < 3; mode++) {   /* Indices unread, read by a node, a graph output */
        gs_graph *g = gs_ir_new_opset(ctx, 17);
        gs_id r = node1(g, "Relu", input(g, "x"), "r");
        gs_id out[2] = { gs_ir_add_value(g, "y", true), gs_ir_add_value(g, "i", true) };
        gs_ir_add_node(g, "MaxPool", "", "pool", &r, 1, out, 2);
        output(g, out[0]);
        if (mode == 1)
            output(g, node1(g, "Neg", out[1], "z"));
        if (mode == 2)
            output(g, out[1]);
        CU_ASSERT_EQUAL(match(rs, g).n, mode == 0 ? 1 : 0);
        gs_ir_free(g);
    }
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

/* "d = Sub(x, m); ... d ... d": a node shared by two branches of a pattern. */
static void test_shared_inner_statement(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"sq\", \"match\": \"d = Sub(x, c); Mul(d, d)\","
                                " \"rewrite\": \"Pow(Sub(x, c), 2)\"}]}");
    CU_ASSERT_EQUAL(gs_ruleset_get(rs, 0)->nouter, 1);
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x"), c = input(g, "c");
    gs_id d = node2(g, "Sub", x, c, "d");
    output(g, node2(g, "Mul", d, d, "y"));
    found f = match(rs, g);
    CU_ASSERT_EQUAL(f.n, 1);
    CU_ASSERT(f.n == 1 && gs_rule_apply(g, &f.m[0], NULL) == GS_OK);
    CU_ASSERT_EQUAL(gs_ir_verify(g), GS_OK);
    CU_ASSERT_EQUAL(gs_ir_live_nodes(g), 2);                /* Sub and Pow; the old pair is gone */
    CU_ASSERT_STRING_EQUAL(g->nodes[g->values[g->outputs[0]].producer].op, "Pow");
    gs_graph *h = gs_ir_new_opset(ctx, 17);                     /* d read outside: refused */
    x = input(h, "x"), c = input(h, "c");
    d = node2(h, "Sub", x, c, "d");
    output(h, node2(h, "Mul", d, d, "y"));
    output(h, node1(h, "Neg", d, "z"));
    CU_ASSERT_EQUAL(match(rs, h).n, 0);
    gs_graph *k = gs_ir_new_opset(ctx, 17);                     /* two different Subs: no match */
    x = input(k, "x"), c = input(k, "c");
    output(k, node2(k, "Mul", node2(k, "Sub", x, c, "d1"), node2(k, "Sub", x, c, "d2"), "y"));
    CU_ASSERT_EQUAL(match(rs, k).n, 0);
    const char *late = "{\"rules\": [{\"name\": \"r\", \"match\": \"Mul(d, d); d = Sub(x, c)\", \"rewrite\": \"x\"}]}";
    CU_ASSERT_EQUAL(gs_ruleset_load_mem(rs, late, strlen(late), "f.json"), GS_ERR_RULE);
    gs_ir_free(g), gs_ir_free(h), gs_ir_free(k);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

/* Two statements that cannot be swapped match in either node order;
 * interchangeable ones match each pair once. */
static void test_statement_pairs(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"asym\", \"opset\": [13, 21], \"match\": \"y1 = Relu(x); y2 = Relu(z)\","
                                " \"where\": [\"rank(x, 1)\", \"rank(z, 2)\"],"
                                " \"rewrite\": \"y1, y2 = Split(Concat(x, z){axis=0}, [1, 1]){axis=0}\"},"
                                "{\"name\": \"sym\", \"opset\": [13, 21], \"match\": \"y1 = Relu(x); y2 = Relu(z)\","
                                " \"where\": [\"rank(x, 1)\", \"rank(z, 1)\"],"
                                " \"rewrite\": \"y1, y2 = Split(Concat(x, z){axis=0}, [1, 1]){axis=0}\"}]}");
    CU_ASSERT_FALSE(gs_ruleset_get(rs, 0)->symmetric);
    CU_ASSERT_TRUE(gs_ruleset_get(rs, 1)->symmetric);
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id a = input(g, "a"), b = input(g, "b");
    g->values[a].rank = 2, g->values[b].rank = 1;           /* the rank-2 one comes first */
    g->values[a].dims = gs_arena_alloc(&g->arena, 2 * sizeof(gs_dim));
    g->values[b].dims = gs_arena_alloc(&g->arena, sizeof(gs_dim));
    g->values[a].dims[0] = g->values[a].dims[1] = g->values[b].dims[0] = (gs_dim){ 1, NULL };
    output(g, node1(g, "Relu", a, "ra"));
    output(g, node1(g, "Relu", b, "rb"));
    found f = match(rs, g);
    CU_ASSERT_EQUAL(f.n, 1);                                /* asym, with y1 on the later node */
    CU_ASSERT(f.n == 1 && !strcmp(gs_rule_name(f.m[0].rule), "asym") && f.m[0].values[1] == b);
    gs_ir_free(g);
    gs_graph *h = gs_ir_new_opset(ctx, 17);
    a = input(h, "a"), b = input(h, "b");
    h->values[a].rank = h->values[b].rank = 1;
    h->values[a].dims = h->values[b].dims = gs_arena_alloc(&h->arena, sizeof(gs_dim));
    h->values[a].dims[0] = (gs_dim){ 1, NULL };
    output(h, node1(h, "Relu", a, "ra"));
    output(h, node1(h, "Relu", b, "rb"));
    CU_ASSERT_EQUAL(match(rs, h).n, 1);                     /* sym: the pair once */
    gs_ir_free(h);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

/* Three interchangeable statements match each set of three nodes once (not
 * once per order); statements over ordered outputs ("a, b = Split(x)") are
 * not interchangeable and match in either node order. */
static void test_statement_triples(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"sym3\", \"opset\": [13, 21],"
                                " \"match\": \"y1 = Relu(x); y2 = Relu(z); y3 = Relu(t)\","
                                " \"rewrite\": \"y1, y2, y3 = Split(Concat(x, z, t){axis=0}, [1, 1, 1]){axis=0}\"},"
                                "{\"name\": \"parts\", \"opset\": [13, 21], \"match\": \"a, b = Split(x); y1 = Relu(a); y2 = Relu(b)\","
                                " \"rewrite\": \"y1, y2 = Split(Relu(x)){axis=0}\"}]}");
    CU_ASSERT_TRUE(gs_ruleset_get(rs, 0)->symmetric);
    CU_ASSERT_FALSE(gs_ruleset_get(rs, 1)->symmetric);
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id a = input(g, "a"), b = input(g, "b"), c = input(g, "c");
    output(g, node1(g, "Relu", a, "ra"));
    output(g, node1(g, "Relu", b, "rb"));
    output(g, node1(g, "Relu", c, "rc"));
    found f = match(rs, g);
    CU_ASSERT_EQUAL(f.n, 1);                                /* sym3: the three once */
    gs_ir_free(g);
    /* A Split whose second output's Relu comes first in node order. */
    g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x"), outs[2] = { gs_ir_add_value(g, "p0", true), gs_ir_add_value(g, "p1", true) };
    gs_ir_add_node(g, "Split", "", "split", &x, 1, outs, 2);
    output(g, node1(g, "Relu", outs[1], "r1"));
    output(g, node1(g, "Relu", outs[0], "r0"));
    f = match(rs, g);
    CU_ASSERT_EQUAL(f.n, 1);                                /* parts, y1 on the later node */
    CU_ASSERT(f.n == 1 && !strcmp(gs_rule_name(f.m[0].rule), "parts"));
    gs_ir_free(g);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

/* "lo?": an optional input matches present or absent, and an absent one stays
 * absent in the rewrite (in the middle, or dropped at the end). */
static void test_optional_inputs(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"o\", \"match\": \"Relu(Clip(x, lo?, hi?))\","
                                " \"rewrite\": \"Clip(Relu(x), lo, hi)\"}]}");
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x"), hi = input(g, "hi");
    gs_id in3[3] = { x, GS_NONE, hi };
    output(g, node1(g, "Relu", node(g, "Clip", in3, 3, "c"), "y"));        /* lo absent, hi given */
    output(g, node1(g, "Relu", node1(g, "Clip", x, "d"), "z"));            /* both absent */
    found f = match(rs, g);
    CU_ASSERT_EQUAL(f.n, 2);
    for (int i = 0; i < f.n; i++)
        CU_ASSERT_EQUAL(gs_rule_apply(g, &f.m[i], NULL), GS_OK);
    CU_ASSERT_EQUAL(gs_ir_verify(g), GS_OK);
    const gs_node *c1 = &g->nodes[g->values[g->outputs[0]].producer];
    const gs_node *c2 = &g->nodes[g->values[g->outputs[1]].producer];
    CU_ASSERT_STRING_EQUAL(c1->op, "Clip");
    CU_ASSERT(c1->nin == 3 && c1->in[1] == GS_NONE && c1->in[2] == hi);
    CU_ASSERT(c2->nin == 1);
    gs_ir_free(g);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

/* y = Identity(x) with x a graph input and y a graph output: x cannot take
 * y's name, so the match is not reported (and optimize keeps the node). */
static void test_refused_when_output_cannot_be_renamed(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"id\", \"match\": \"Identity(x)\", \"rewrite\": \"x\"}]}");
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x");
    output(g, node1(g, "Identity", x, "y"));
    CU_ASSERT_EQUAL(match(rs, g).n, 0);
    gs_graph *h = gs_ir_new_opset(ctx, 17);                     /* a computed value can take the name */
    x = input(h, "x");
    output(h, node1(h, "Identity", node1(h, "Relu", x, "r"), "y"));
    found f = match(rs, h);
    CU_ASSERT_EQUAL(f.n, 1);
    CU_ASSERT(f.n == 1 && gs_rule_apply(h, &f.m[0], NULL) == GS_OK);
    CU_ASSERT_STRING_EQUAL(h->values[h->outputs[0]].name, "y");
    gs_ir_free(g), gs_ir_free(h);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

/* A rewrite making two nodes of one op names them apart (ONNX requires
 * unique node names), and apart from the graph's other nodes. */
static void test_new_node_names_unique(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"nn\", \"match\": \"Relu(x)\", \"rewrite\": \"Neg(Neg(x))\"}]}");
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x");
    gs_id r = node1(g, "Relu", x, "r");
    output(g, node1(g, "Sigmoid", r, "r/Neg"));            /* an existing node already named r/Neg */
    found f = match(rs, g);
    CU_ASSERT_EQUAL_FATAL(f.n, 1);
    CU_ASSERT_EQUAL(gs_rule_apply(g, &f.m[0], NULL), GS_OK);
    for (gs_id i = 0; i < g->nnodes; i++)
        for (gs_id j = i + 1; j < g->nnodes; j++)
            if (!(g->nodes[i].flags & GS_N_DEAD) && !(g->nodes[j].flags & GS_N_DEAD))
                CU_ASSERT(strcmp(g->nodes[i].name, g->nodes[j].name) != 0);
    gs_ir_free(g);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

/* no_zero(c) on a float divisor: 0.5 is not zero (it was read as an
 * integer, 0), 0.0 is. */
static void test_no_zero_float(void)
{
    static float half = 0.5f, zero = 0.0f;
    gs_tensor t[2] = {
        { .dtype = GS_FLOAT, .rank = 0, .data = &half, .nbytes = sizeof half },
        { .dtype = GS_FLOAT, .rank = 0, .data = &zero, .nbytes = sizeof zero },
    };
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"d\", \"match\": \"Div(x, c)\","
                                " \"where\": [\"no_zero(c)\"], \"rewrite\": \"Mul(x, 1 / c)\"}]}");
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x");
    output(g, node2(g, "Div", x, gs_ir_add_init(g, "h", &t[0]), "y"));
    output(g, node2(g, "Div", x, gs_ir_add_init(g, "z", &t[1]), "w"));
    found f = match(rs, g);
    CU_ASSERT_EQUAL_FATAL(f.n, 1);
    CU_ASSERT_STRING_EQUAL(g->values[f.m[0].values[1]].name, "h");
    gs_ir_free(g);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

/* "k = expr;" in a rewrite builds k once, however often the rest reads it;
 * a binding that reuses a match name, reads itself or a later binding is
 * refused at load. */
static void test_rewrite_bindings(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"b\", \"match\": \"Mul(Relu(x), c)\","
                                " \"rewrite\": \"k = Neg(x); m = Sigmoid(k); Add(Mul(k, m), k)\"}]}");
    gs_graph *g = gs_ir_new_opset(ctx, 17);
    gs_id x = input(g, "x"), c = input(g, "c");
    output(g, node2(g, "Mul", node1(g, "Relu", x, "r"), c, "y"));
    found f = match(rs, g);
    CU_ASSERT_EQUAL_FATAL(f.n, 1);
    CU_ASSERT_EQUAL(gs_rule_apply(g, &f.m[0], NULL), GS_OK);
    CU_ASSERT_EQUAL(gs_ir_verify(g), GS_OK);
    CU_ASSERT_EQUAL(gs_ir_live_nodes(g), 4);                /* one Neg, read three times */
    const gs_node *add = &g->nodes[g->values[g->outputs[0]].producer];
    CU_ASSERT_STRING_EQUAL(add->op, "Add");
    gs_id k = add->in[1];
    CU_ASSERT_STRING_EQUAL(g->nodes[g->values[k].producer].op, "Neg");
    CU_ASSERT_EQUAL(g->values[k].nuses, 3);
    const char *bad[] = {
        "{\"rules\": [{\"name\": \"r\", \"match\": \"Relu(x)\", \"rewrite\": \"x = Neg(x); x\"}]}",
        "{\"rules\": [{\"name\": \"r\", \"match\": \"Relu(x)\", \"rewrite\": \"k = Neg(k); k\"}]}",
        "{\"rules\": [{\"name\": \"r\", \"match\": \"Relu(x)\", \"rewrite\": \"k = Neg(j); j = Neg(x); k\"}]}",
        "{\"rules\": [{\"name\": \"r\", \"match\": \"Relu(x)\", \"rewrite\": \"k = Neg(x); k = Abs(x); k\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(gs_ruleset_load_mem(rs, bad[i], strlen(bad[i]), "f.json"), GS_ERR_RULE);
        CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "rewrite binding"));
    }
    gs_ir_free(g);
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

/* No op the target opset lacks is ever written: a rewrite whose op the
 * match's opset does not have is refused as a rule error naming the rule's
 * file (the loader checks this for a rule's opset range; here the compiled
 * rule is altered after loading to get past it), and the exporter refuses
 * a node graphsub made of an op the model's opset does not have, while
 * carrying the input's nodes through. */
static void test_never_write_unknown_op(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = gs_ruleset_new(ctx);
    const char *json = "{\"rules\": [{\"name\": \"relu-relu\", \"match\": \"Relu(Relu(x))\", \"rewrite\": \"Relu(x)\"}]}";
    CU_ASSERT_EQUAL_FATAL(gs_ruleset_load_mem(rs, json, strlen(json), "mine.json"), GS_OK);
    ((gs_rule *)gs_ruleset_get(rs, 0))->rewrite[0]->name = "LayerNormalization";   /* opset 17 on */
    gs_graph *g = gs_ir_new_opset(ctx, 13);
    output(g, node1(g, "Relu", node1(g, "Relu", input(g, "x"), "a"), "y"));
    found f = { .n = 0 };
    gs_match_all(rs, g, GS_RULE_SEARCH, collect, &f);
    CU_ASSERT_EQUAL_FATAL(f.n, 1);
    CU_ASSERT_EQUAL(gs_rule_apply(g, &f.m[0], NULL), GS_ERR_RULE);
    CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "mine.json: rule 'relu-relu' writes LayerNormalization, "
                                                      "which opset 13 does not have"));
    gs_ir_free(g);
    gs_ruleset_free(rs);

    gs_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(gs_model_load(ctx, SRCDIR "/examples/tiny_cnn.onnx", &m), GS_OK);   /* opset 13 */
    void *out = NULL;
    size_t size = 0;
    CU_ASSERT_EQUAL(gs_model_save_mem(m, &out, &size), GS_OK);   /* the input's nodes are carried through */
    gs_free(ctx, out);
    gs_graph *mg = m->graph;
    gs_id y = mg->outputs[0], g1 = gs_ir_add_value(mg, "norm_out", false);
    gs_id id = gs_ir_add_node(mg, "LayerNormalization", "", "made_norm", &y, 1, &g1, 1);
    CU_ASSERT_FATAL(id != GS_NONE);
    out = NULL;
    CU_ASSERT_EQUAL(gs_model_save_mem(m, &out, &size), GS_ERR_INTERNAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "node 'made_norm': op LayerNormalization is not in opset 13"));
    mg->nodes[id].op = "Relu";   /* an op of opset 13: written */
    mg->nodes[id].def = gs_op_find("Relu", "", 13);
    CU_ASSERT_EQUAL(gs_model_save_mem(m, &out, &size), GS_OK);
    gs_free(ctx, out);
    gs_model_free(m);
    gs_ctx_free(ctx);
}

/* An attribute a pattern does not mention matches at the default the
 * registry's schema gives for the node's opset: Softmax's axis is 1 before
 * opset 13 and -1 from 13; a Conv's strides of ones match, of twos not. */
static void test_defaults_from_registry(void)
{
    gs_attr_default v;
    const gs_opdef *d = gs_op_find("Conv", "", 17);
    CU_ASSERT_FATAL(d && gs_op_attr_default(d, "strides", &v));
    CU_ASSERT(v.kind == 'l' && v.num == 1);
    CU_ASSERT(gs_op_attr_default(d, "auto_pad", &v) && v.kind == 's' && v.slen == 6 && !strncmp(v.str, "NOTSET", 6));
    CU_ASSERT_FALSE(gs_op_attr_default(d, "kernel_shape", &v));   /* no default */
    CU_ASSERT(gs_op_attr_default(gs_op_find("Softmax", "", 12), "axis", &v) && v.kind == 'i' && v.num == 1);
    CU_ASSERT(gs_op_attr_default(gs_op_find("Softmax", "", 13), "axis", &v) && v.num == -1);

    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = rules(ctx, "{\"rules\": [{\"name\": \"s\", \"match\": \"Relu(Softmax(x))\","
                                " \"rewrite\": \"Softmax(x)\"},"
                                "{\"name\": \"c\", \"match\": \"Relu(Conv(x, w))\", \"rewrite\": \"Conv(x, w)\"}]}");
    static int64_t ones[2] = { 1, 1 }, twos[2] = { 2, 2 };
    struct { const char *op; gs_attr a; int64_t opset; int want; } cases[] = {
        { "Softmax", { .name = "axis", .type = GS_A_INT, .i = -1 }, 13, 1 },
        { "Softmax", { .name = "axis", .type = GS_A_INT, .i = -1 }, 12, 0 },
        { "Softmax", { .name = "axis", .type = GS_A_INT, .i = 1 }, 12, 1 },
        { "Conv", { .name = "strides", .type = GS_A_INTS, .ints = ones, .n = 2 }, 17, 1 },
        { "Conv", { .name = "strides", .type = GS_A_INTS, .ints = twos, .n = 2 }, 17, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gs_graph *g = gs_ir_new_opset(ctx, cases[i].opset);
        gs_id x = input(g, "x");
        gs_id y = !strcmp(cases[i].op, "Conv") ? node2(g, "Conv", x, input(g, "w"), "y") : node1(g, "Softmax", x, "y");
        gs_node *n = &g->nodes[g->values[y].producer];
        n->attrs = &cases[i].a;
        n->nattrs = 1;
        output(g, node1(g, "Relu", y, "r"));
        found f = { .n = 0 };
        gs_match_all(rs, g, GS_RULE_SEARCH, collect, &f);
        CU_ASSERT_EQUAL(f.n, cases[i].want);
        gs_ir_free(g);
    }
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
}

int cu_register(void)
{
    CU_pSuite s = CU_add_suite("rules", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "rule file errors give file, rule and position", test_load_errors);
    CU_add_test(s, "a node's rules found by their root op", test_rules_by_root_op);
    CU_add_test(s, "commutative operands in either order", test_commutative);
    CU_add_test(s, "commutative operands: the order that passes the conditions", test_commutative_conditions);
    CU_add_test(s, "variadic inputs", test_variadic);
    CU_add_test(s, "multiple roots sharing an input", test_multiple_roots);
    CU_add_test(s, "a pattern inside an If branch binds an outer-scope value", test_outer_scope);
    CU_add_test(s, "refused when an intermediate value escapes", test_refused_when_intermediate_escapes);
    CU_add_test(s, "refused when a node's second output is read", test_refused_when_second_output_read);
    CU_add_test(s, "a node shared by two branches of a pattern", test_shared_inner_statement);
    CU_add_test(s, "optional inputs present or absent", test_optional_inputs);
    CU_add_test(s, "refused when a graph output cannot be renamed", test_refused_when_output_cannot_be_renamed);
    CU_add_test(s, "new nodes get unique names", test_new_node_names_unique);
    CU_add_test(s, "rewrite bindings build a shared value once", test_rewrite_bindings);
    CU_add_test(s, "no_zero on a float constant", test_no_zero_float);
    CU_add_test(s, "statement pairs: asymmetric in either order, symmetric once", test_statement_pairs);
    CU_add_test(s, "statement triples once; ordered outputs in either order", test_statement_triples);
    CU_add_test(s, "no op the target opset lacks is written", test_never_write_unknown_op);
    CU_add_test(s, "unmentioned attributes match at the registry's defaults", test_defaults_from_registry);
    return 0;
}
