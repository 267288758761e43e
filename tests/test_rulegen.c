/*
 * test_rulegen.c - CUnit suite for gs_rules_generate (rules_gen.c): it
 * rediscovers the textbook identities of its ops, every rule it writes
 * loads and passes the numerical check, and bad arguments are refused.
 */
#include "gs_rules.h"

#include <CUnit/CUnit.h>
#include <string.h>

int cu_register(void);

static void test_rediscovers(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    char *json = NULL;
    gs_rulegen_stats s;
    CU_ASSERT_EQUAL_FATAL(gs_rules_generate(ctx, "Add,Mul,MatMul,Transpose", 3, &json, &s), GS_OK);
    static const char *const expect[] = {
        "\"match\": \"Add(Mul(x, y), Mul(x, z))\",",                       /* distributivity */
        "\"rewrite\": \"Mul(x, Add(y, z))\",",
        "\"match\": \"MatMul(MatMul(x, y), z)\",",
        "\"match\": \"Add(x, Add(y, z))\",",                               /* associativity */
        "\"match\": \"Transpose(Transpose(x){perm=p1}){perm=p2}\",",       /* transposes cancel */
        "\"match\": \"MatMul(Transpose(x){perm=p1}, Transpose(y){perm=p2})\",",
        "\"rewrite\": \"Transpose(MatMul(y, x)){perm=[1, 0]}\",",
    };
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(json, expect[i]));
    CU_ASSERT_PTR_NULL(strstr(json, "Add(x, Add(x, y))"));   /* a special case of associativity */
    CU_ASSERT(s.expressions > 1000 && s.pruned > s.verified && s.checked > 10);
    CU_ASSERT(s.checked <= s.verified && s.checked >= s.verified - 3);   /* rules check's wider
                                   ranges drop an identity float rounding cannot keep */
    gs_ruleset *rs = gs_ruleset_new(ctx);   /* what it wrote loads, and every rule checks */
    CU_ASSERT_EQUAL_FATAL(gs_ruleset_load_mem(rs, json, strlen(json), "generated.json"), GS_OK);
    CU_ASSERT_EQUAL(gs_ruleset_count(rs), s.checked);
    for (int i = 0; i < gs_ruleset_count(rs); i++) {
        char why[256];
        CU_ASSERT_EQUAL(gs_rule_check(ctx, gs_ruleset_get(rs, i), why, sizeof why), 0);
    }
    gs_ruleset_free(rs);
    gs_free(ctx, json);
    gs_ctx_free(ctx);
}

/* Inputs of both signs: Abs and Relu are not taken for the identity. */
static void test_unary_identities(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    char *json = NULL;
    CU_ASSERT_EQUAL_FATAL(gs_rules_generate(ctx, "Abs,Relu,Neg", 2, &json, NULL), GS_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"match\": \"Abs(Relu(x))\",\n  \"where\": [\"rank(x, 2)\"],\n  \"rewrite\": \"Relu(x)\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"match\": \"Relu(Relu(x))\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"match\": \"Neg(Neg(x))\""));
    CU_ASSERT_PTR_NULL(strstr(json, "\"rewrite\": \"x\",\n  \"check\": {\"x\": [3, 3]}}")
                       && strstr(json, "\"match\": \"Abs(x)\""));   /* Abs(x) is not x */
    gs_free(ctx, json);
    gs_ctx_free(ctx);
}

static void test_bad_arguments(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    char *json = NULL;
    CU_ASSERT_EQUAL(gs_rules_generate(ctx, "Add,Conv", 2, &json, NULL), GS_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(gs_ctx_errmsg(ctx), "'Conv'"));
    CU_ASSERT_EQUAL(gs_rules_generate(ctx, "Add,Add", 2, &json, NULL), GS_ERR_ARG);
    CU_ASSERT_EQUAL(gs_rules_generate(ctx, "Add", 5, &json, NULL), GS_ERR_ARG);
    CU_ASSERT_EQUAL(gs_rules_generate(ctx, "", 2, &json, NULL), GS_ERR_ARG);
    CU_ASSERT_PTR_NULL(json);
    gs_ctx_free(ctx);
}

int cu_register(void)
{
    CU_pSuite s = CU_add_suite("rulegen", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "rediscovers identities; every rule checks", test_rediscovers);
    CU_add_test(s, "unary identities on inputs of both signs", test_unary_identities);
    CU_add_test(s, "bad ops and sizes refused", test_bad_arguments);
    return 0;
}
