/*
 * alloc_hook.c - a testing hook on the contexts' allocator.
 *
 * GRAPHSUB_FAIL_ALLOC=N makes the Nth allocation through the contexts fail
 * (counting from 1, reallocations included); GRAPHSUB_FAIL_ALLOC=count
 * prints "graphsub: N allocations, M not freed" on stderr at exit. Either
 * way a block still allocated at exit is reported on stderr, so a test can
 * fail each allocation of a command in turn and see every leak
 * (tests/integration/fault_cli.py). The state is the process's: the CLI
 * makes one context per command.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static struct {
    long at;      /* the allocation to fail (from 1); -1 to count; 0 before the first context */
    long calls;   /* allocations and reallocations so far */
    long live;    /* blocks allocated and not freed */
} fail_hook;

static void *hook_alloc(void *ud, size_t n)
{
    (void)ud;
    void *p = ++fail_hook.calls == fail_hook.at ? NULL : malloc(n ? n : 1);
    fail_hook.live += p != NULL;
    return p;
}

static void *hook_realloc(void *ud, void *p, size_t n)
{
    (void)ud;
    void *q = ++fail_hook.calls == fail_hook.at ? NULL : realloc(p, n ? n : 1);
    fail_hook.live += q && !p;
    return q;
}

static void hook_free(void *ud, void *p)
{
    (void)ud;
    fail_hook.live -= p != NULL;
    free(p);
}

static void hook_report(void)
{
    if (fail_hook.at < 0)
        fprintf(stderr, "graphsub: %ld allocations, %ld not freed\n", fail_hook.calls, fail_hook.live);
    else if (fail_hook.live)
        fprintf(stderr, "graphsub: %ld allocations not freed at exit\n", fail_hook.live);
}

const gs_allocator *cli_alloc_hook(void)
{
    static const gs_allocator hook = { hook_alloc, hook_realloc, hook_free, NULL };
    const char *env = getenv("GRAPHSUB_FAIL_ALLOC");
    if (!env || !*env)
        return NULL;
    if (fail_hook.at == 0) {
        fail_hook.at = !strcmp(env, "count") ? -1 : strtol(env, NULL, 10);
        atexit(hook_report);
    }
    return &hook;
}
