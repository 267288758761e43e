/*
 * cu_alloc.c - the counting allocator of cu_alloc.h.
 */
#include "cu_alloc.h"

#include <stdlib.h>

static void *c_alloc(void *ud, size_t n)
{
    counting *c = ud;
    if (++c->calls == c->fail_at)
        return NULL;
    void *p = malloc(n ? n : 1);
    c->live += p != NULL;
    return p;
}

static void *c_realloc(void *ud, void *p, size_t n)
{
    counting *c = ud;
    if (!p)
        return c_alloc(ud, n);
    return ++c->calls == c->fail_at ? NULL : realloc(p, n ? n : 1);
}

static void c_free(void *ud, void *p)
{
    counting *c = ud;
    c->live -= p != NULL;
    free(p);
}

gs_allocator counting_allocator(counting *c)
{
    return (gs_allocator){ c_alloc, c_realloc, c_free, c };
}
