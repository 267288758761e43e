/*
 * fuzz_optimize.c - libFuzzer target: bytes -> model -> optimize (cleanup,
 * constant folding, the search with a small budget, lowering) -> export.
 * Exercises the rule matcher, the conditions and the rewrites on arbitrary
 * graphs, shapes and attributes; inputs of odd length use the ONNX Runtime
 * profile (its opset raise, its rules and skipped rules). Any input must give
 * a status, never a crash, a leak or a sanitizer report.
 */
#include <graphsub.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_model *m = NULL;
    if (ctx && gs_model_load_mem(ctx, data, size, NULL, &m) == GS_OK && gs_model_verify(m) == GS_OK) {
        gs_optimize_opts o;
        gs_optimize_opts_init(&o);
        o.budget = 20;
        o.time_limit = 0.5;
#ifdef GS_FUZZ_PROFILE
        if (size & 1)
            o.profile_path = GS_FUZZ_PROFILE;
#endif
        gs_report r = { .version = GS_REPORT_VERSION };
        void *buf;
        size_t n;
        if (gs_optimize(ctx, m, &o, &r) == GS_OK && gs_model_save_mem(m, &buf, &n) == GS_OK)
            gs_free(ctx, buf);
        gs_report_clear(ctx, &r);
    }
    gs_model_free(m);
    gs_ctx_free(ctx);
    return 0;
}
