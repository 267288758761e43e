/*
 * fuzz_import.c - libFuzzer target: bytes -> model -> verify -> export.
 * Any input must give a status, never a crash, a leak or a sanitizer report.
 */
#include <graphsub.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_model *m = NULL;
    if (ctx && gs_model_load_mem(ctx, data, size, NULL, &m) == GS_OK) {
        void *buf;
        size_t n;
        if (gs_model_verify(m) == GS_OK && gs_model_save_mem(m, &buf, &n) == GS_OK)
            gs_free(ctx, buf);
        gs_model_infer_shapes(m);
    }
    gs_model_free(m);
    gs_ctx_free(ctx);
    return 0;
}
