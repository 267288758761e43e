/*
 * arena.c - a bump allocator owned by one graph. Strings, attribute lists and
 * small per-node arrays are carved from blocks that are all freed together
 * when the graph dies, so a rewrite never has to free piecemeal.
 */
#include "gs_int.h"

#include <stdio.h>
#include <string.h>

struct gs_arena_block {
    gs_arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

enum { BLOCK_SIZE = 16384 };

void gs_arena_init(gs_arena *a, gs_ctx *ctx)
{
    a->ctx = ctx;
    a->head = NULL;
    a->refs = 0;
    a->failures = 0;
    a->bytes = 0;
}

void gs_arena_free(gs_arena *a)
{
    gs_arena_block *b = a->head;
    while (b) {
        gs_arena_block *next = b->next;
        gs_dealloc(a->ctx, b);
        b = next;
    }
    a->head = NULL;
    a->bytes = 0;
}

/* n bytes, 16-aligned, left as they are (the callers zero or fill them). */
static void *arena_take(gs_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) {
        a->failures++;
        return NULL;
    }
    gs_arena_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > BLOCK_SIZE / 2 ? need : BLOCK_SIZE;
        b = cap <= SIZE_MAX - sizeof *b ? gs_alloc(a->ctx, sizeof *b + cap) : NULL;
        if (!b) {
            a->failures++;
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        a->bytes += sizeof *b + cap;
        if (a->head && need > BLOCK_SIZE / 2) {   /* big one-off: keep the current block first */
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += need;
    return p;
}

void *gs_arena_take(gs_arena *a, size_t n)
{
    return arena_take(a, n ? n : 1);
}

void *gs_arena_alloc(gs_arena *a, size_t n)
{
    void *p = arena_take(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void *gs_arena_memdup(gs_arena *a, const void *p, size_t n)
{
    void *d = arena_take(a, n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

char *gs_arena_strdup(gs_arena *a, const char *s)
{
    return gs_arena_memdup(a, s, strlen(s) + 1);
}

char *gs_arena_printf(gs_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = gs_arena_alloc(a, (size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

gs_arena *gs_arena_new(gs_ctx *ctx)
{
    gs_arena *a = gs_alloc(ctx, sizeof *a);
    if (!a)
        return NULL;
    gs_arena_init(a, ctx);
    a->refs = 1;
    return a;
}

gs_arena *gs_arena_ref(gs_arena *a)
{
    a->refs++;
    return a;
}

void gs_arena_unref(gs_arena *a)
{
    if (a && --a->refs == 0) {
        gs_arena_free(a);
        gs_dealloc(a->ctx, a);
    }
}
