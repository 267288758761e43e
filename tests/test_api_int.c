/*
 * test_api_int.c - what the public API promises but only the internals can
 * provoke: a rule that fails while it applies (its rewrite needs a shape
 * nobody knows) reports its file in front of the rule's name, as messages
 * from loading do.
 */
#include "gs_rules.h"

#include <CUnit/CUnit.h>
#include <stdio.h>

int cu_register(void);

static bool first(const gs_match *m, void *ud)
{
    *(gs_match *)ud = *m;
    return false;
}

static void test_apply_error_names_file(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_builder *b = NULL;
    gs_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(gs_builder_new(ctx, 17, &b), GS_OK);
    gs_builder_input(b, "x", GS_FLOAT, -1, NULL, NULL);   /* shape unknown */
    gs_builder_node(b, "Relu", NULL, "r", (const char *[]){ "x" }, 1, (const char *[]){ "y" }, 1);
    gs_builder_output(b, "y", GS_FLOAT);
    CU_ASSERT_EQUAL_FATAL(gs_builder_finish(b, &m), GS_OK);
    const char *json = "{\"rules\": [{\"name\": \"relu-reshape\", \"doc\": \"A rewrite needing x's shape.\", "
                       "\"class\": \"search\", \"opset\": [5, 1000], \"match\": \"y = Relu(x)\", "
                       "\"rewrite\": \"y = Reshape(Relu(x), shape(x))\"}]}";
    gs_ruleset *rs = gs_ruleset_new(ctx);
    gs_status st = gs_ruleset_load_mem(rs, json, strlen(json), "mine.json");
    if (st != GS_OK)
        printf("\n  load: %s\n", gs_ctx_errmsg(ctx));
    CU_ASSERT_EQUAL_FATAL(st, GS_OK);
    gs_match mt;
    CU_ASSERT_EQUAL_FATAL(gs_match_all(rs, m->graph, GS_RULE_SEARCH, first, &mt), 1);
    st = gs_rule_apply(m->graph, &mt, NULL);
    CU_ASSERT_NOT_EQUAL(st, GS_OK);
    CU_ASSERT(!strncmp(gs_ctx_errmsg(ctx), "mine.json: rule 'relu-reshape': ", 32));
    if (strncmp(gs_ctx_errmsg(ctx), "mine.json: rule 'relu-reshape': ", 32))
        printf("\n  message: %s\n", gs_ctx_errmsg(ctx));
    gs_ruleset_free(rs);
    gs_model_free(m);
    gs_ctx_free(ctx);
}

int cu_register(void)
{
    CU_pSuite s = CU_add_suite("api-internal", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "a rule failing as it applies names its file", test_apply_error_names_file);
    return 0;
}
