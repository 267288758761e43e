/*
 * header_alone.c - the public header compiles on its own (no other include
 * before it), in C and as C++-compatible declarations, and links.
 */
#include <graphsub.h>

int main(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    int ok = ctx && gs_status_exit(GS_ERR_MISMATCH) == 1 && gs_version()[0] != 0;
    gs_ctx_free(ctx);
    return ok ? 0 : 1;
}
