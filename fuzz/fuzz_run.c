/*
 * fuzz_run.c - libFuzzer target: bytes -> model -> random inputs -> run in
 * the reference interpreter. Every kernel, shape check and broadcast sees
 * fuzzed shapes, attributes and initializers; any input must give a status,
 * never a crash, a leak or a sanitizer report.
 *
 * The size cap: an allocator that refuses once the live bytes would pass
 * 16 MiB, so a fuzzed Expand to a billion elements ends in GS_ERR_NOMEM
 * (exercising the out-of-memory paths of every kernel) instead of a slow
 * or killed run; models of more than 64 nodes, with an input of more than
 * 2^16 elements, or estimated (after shape inference) at more than 10^8
 * FLOPs are not run: the sanitized reference kernels would take minutes.
 */
#include <graphsub.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define LIVE_CAP ((size_t)16 << 20)
#define MAX_NODES 64
#define MAX_IO 64
#define MAX_INPUT_ELEMS (1 << 16)
#define MAX_FLOPS 1e8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef union header {
    size_t size;
    max_align_t align;
} header;

static size_t live;

static void *cap_alloc(void *ud, size_t n)
{
    (void)ud;
    if (n > LIVE_CAP - live)
        return NULL;
    header *h = malloc(sizeof *h + n);
    if (!h)
        return NULL;
    h->size = n;
    live += n;
    return h + 1;
}

static void cap_free(void *ud, void *p)
{
    (void)ud;
    if (!p)
        return;
    header *h = (header *)p - 1;
    live -= h->size;
    free(h);
}

static void *cap_realloc(void *ud, void *p, size_t n)
{
    if (!p)
        return cap_alloc(ud, n);
    header *h = (header *)p - 1;
    if (n > h->size && n - h->size > LIVE_CAP - live)
        return NULL;
    header *q = realloc(h, sizeof *q + n);
    if (!q)
        return NULL;
    live = live - q->size + n;
    q->size = n;
    return q + 1;
}

static void run(gs_ctx *ctx, gs_model *m)
{
    int nin = gs_model_input_count(m), nout = gs_model_output_count(m);
    if (nin > MAX_IO || nout > MAX_IO || gs_model_node_count(m) > MAX_NODES)
        return;
    for (int i = 0; i < nin; i++) {
        int v = gs_model_input(m, i);
        double n = 1;
        for (int k = 0; k < gs_value_rank(m, v); k++) {
            int64_t d = gs_value_dim(m, v, k, NULL);
            n *= d > 0 ? (double)d : 1;   /* symbolic dims run as 1 */
        }
        if (n > MAX_INPUT_ELEMS)
            return;
    }
    gs_array *in[MAX_IO] = { 0 }, *out[MAX_IO] = { 0 };
    gs_model_infer_shapes(m);
    double total = 0;
    for (int i = 0; i < gs_model_node_count(m); i++) {
        double flops = 0;
        gs_node_cost(m, i, &flops, NULL);
        total += flops;
    }
    if (!(total <= MAX_FLOPS))
        return;
    if (gs_model_random_inputs(ctx, m, 1, NULL, in) == GS_OK) {
        if (gs_model_run(ctx, m, (const gs_array *const *)in, nin, out) == GS_OK)
            for (int i = 0; i < nout; i++)
                gs_array_free(ctx, out[i]);
        for (int i = 0; i < nin; i++)
            gs_array_free(ctx, in[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gs_allocator a = { cap_alloc, cap_realloc, cap_free, NULL };
    gs_ctx *ctx = gs_ctx_new(&a);
    gs_model *m = NULL;
    if (ctx && gs_model_load_mem(ctx, data, size, NULL, &m) == GS_OK && gs_model_verify(m) == GS_OK)
        run(ctx, m);
    gs_model_free(m);
    gs_ctx_free(ctx);
    if (live != 0)
        abort();   /* everything the library allocated must be back */
    return 0;
}
