/*
 * fuzz_rules.c - libFuzzer target: bytes -> rule file -> compiled rules.
 */
#include "gs_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_ruleset *rs = ctx ? gs_ruleset_new(ctx) : NULL;
    if (rs)
        gs_ruleset_load_mem(rs, (const char *)data, size, "fuzz.json");
    gs_ruleset_free(rs);
    gs_ctx_free(ctx);
    return 0;
}
