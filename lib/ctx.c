/*
 * ctx.c - the context: allocator hooks, the stored error message, and small
 * checked-arithmetic helpers. All library state hangs off a gs_ctx; nothing
 * here is global except constant tables.
 */
#include "gs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

/* Blocks of 2 MiB and more (weights) start on a 2 MiB boundary and are asked
 * to be backed by huge pages (their whole 2 MiB stretches; the tail keeps
 * small pages): a folded or merged weight touches every page it gets, and a
 * page fault per 4 KiB made up most of optimize's time on BERT. */
#define HUGE_PAGE ((size_t)2 << 20)

static void *std_alloc(void *ud, size_t n)
{
    (void)ud;
#ifdef MADV_HUGEPAGE
    if (n >= HUGE_PAGE) {
        void *p = NULL;
        if (posix_memalign(&p, HUGE_PAGE, n) != 0)
            return NULL;
        madvise(p, n & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);   /* a hint: failure changes nothing */
        return p;
    }
#endif
    return malloc(n ? n : 1);
}

static void *std_realloc(void *ud, void *p, size_t n) { (void)ud; return realloc(p, n ? n : 1); }
static void std_free(void *ud, void *p) { (void)ud; free(p); }

static const gs_allocator std_allocator = { std_alloc, std_realloc, std_free, NULL };

GS_API gs_ctx *gs_ctx_new(const gs_allocator *alloc)
{
    const gs_allocator *a = alloc ? alloc : &std_allocator;
    if (!a->alloc || !a->realloc || !a->free)
        return NULL;
    gs_ctx *ctx = a->alloc(a->ud, sizeof *ctx);
    if (!ctx)
        return NULL;
    memset(ctx, 0, sizeof *ctx);
    ctx->a = *a;
    return ctx;
}

GS_API gs_ctx *gs_ctx_new_sized(const gs_allocator *alloc, gs_free_sized_fn free_sized)
{
    if (!alloc || !alloc->alloc || !alloc->realloc || !free_sized)
        return NULL;
    gs_ctx *ctx = alloc->alloc(alloc->ud, sizeof *ctx);
    if (!ctx)
        return NULL;
    memset(ctx, 0, sizeof *ctx);
    ctx->a = *alloc;
    ctx->free_sized = free_sized;
    return ctx;
}

GS_API void gs_ctx_free(gs_ctx *ctx)
{
    if (ctx && ctx->free_sized)
        ctx->free_sized(ctx->a.ud, ctx, sizeof *ctx);
    else if (ctx)
        ctx->a.free(ctx->a.ud, ctx);
}

GS_API const char *gs_ctx_errmsg(const gs_ctx *ctx)
{
    return ctx ? ctx->msg : "no context";
}

GS_API const char *gs_status_str(gs_status st)
{
    static const char *const names[] = {
        "GS_OK", "GS_ERR_NOMEM", "GS_ERR_IO", "GS_ERR_PARSE", "GS_ERR_MODEL", "GS_ERR_RULE",
        "GS_ERR_UNSUPPORTED", "GS_ERR_LIMIT", "GS_ERR_ARG", "GS_ERR_MISMATCH", "GS_ERR_INTERNAL",
    };
    if ((unsigned)st < sizeof names / sizeof names[0])
        return names[st];
    return "GS_ERR_UNKNOWN";
}

GS_API int gs_status_exit(gs_status st)
{
    switch (st) {
    case GS_OK: return 0;
    case GS_ERR_MISMATCH: return 1;
    case GS_ERR_ARG: return 2;
    case GS_ERR_IO: case GS_ERR_PARSE: case GS_ERR_MODEL: case GS_ERR_RULE:
    case GS_ERR_UNSUPPORTED: case GS_ERR_LIMIT: return 3;
    default: return 4;
    }
}

GS_API const char *gs_version(void)
{
    return "0.1.0";
}

/* Length of the well-formed UTF-8 sequence at s that encodes a printable
 * character (not a C1 control, U+0080..U+009F), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    uint32_t cp = c & (n == 4 ? 0x07 : n == 3 ? 0x0f : 0x1f);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||   /* overlong, surrogate */
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (n == 2 && cp < 0xa0))
        return 0;
    return n;
}

/* Copy the formatted message src into dst (cap bytes) as one printable
 * line: line breaks and tabs become spaces, other control characters
 * (a terminal's escape sequences) and bytes that are not UTF-8 become \xNN.
 * Names in messages come from the input and may hold anything. */
static void printable(char *dst, size_t cap, const char *src)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    while (*s) {
        size_t n = *s >= 0x20 && *s < 0x7f ? 1 : *s >= 0x80 ? utf8_len(s) : 0;
        const char *sp = *s == '\n' || *s == '\r' || *s == '\t' ? " " : NULL;
        size_t w = sp ? 1 : n ? n : 4;
        if (o + w >= cap)
            break;
        if (sp)
            dst[o] = ' ';
        else if (n)
            memcpy(dst + o, s, n);
        else
            snprintf(dst + o, 5, "\\x%02X", *s);
        o += w;
        s += n ? n : 1;
    }
    dst[o] = '\0';
}

gs_status gs_err(gs_ctx *ctx, gs_status st, const char *fmt, ...)
{
    char raw[sizeof ctx->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    printable(ctx->msg, sizeof ctx->msg, raw);
    ctx->last = st;
    return st;
}

gs_status gs_nomem(gs_ctx *ctx)
{
    return gs_err(ctx, GS_ERR_NOMEM, "out of memory");
}

/* A failed allocation leaves GS_ERR_NOMEM on the context, so that a caller
 * which can only return NULL or GS_NONE still lets its own caller tell out
 * of memory from other failures. */
static void *checked(gs_ctx *ctx, void *p)
{
    if (!p)
        gs_nomem(ctx);
    return p;
}

/* With a free_sized hook every block starts with a header holding the size
 * the hook's alloc or realloc was asked for (16 bytes, so blocks stay
 * 16-byte aligned), which gs_dealloc tells the hook. */
enum { SIZE_HEADER = 16 };

static void *sized_out(void *base, size_t total)
{
    if (!base)
        return NULL;
    memcpy(base, &total, sizeof total);
    return (char *)base + SIZE_HEADER;
}

void *gs_alloc(gs_ctx *ctx, size_t n)
{
    if (!ctx->free_sized)
        return checked(ctx, ctx->a.alloc(ctx->a.ud, n));
    if (n > SIZE_MAX - SIZE_HEADER)
        return checked(ctx, NULL);
    return checked(ctx, sized_out(ctx->a.alloc(ctx->a.ud, n + SIZE_HEADER), n + SIZE_HEADER));
}

void *gs_zalloc(gs_ctx *ctx, size_t n)
{
    void *p = gs_alloc(ctx, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void *gs_realloc(gs_ctx *ctx, void *p, size_t n)
{
    if (!ctx->free_sized)
        return checked(ctx, ctx->a.realloc(ctx->a.ud, p, n));
    if (n > SIZE_MAX - SIZE_HEADER)
        return checked(ctx, NULL);
    void *base = p ? (char *)p - SIZE_HEADER : NULL;
    return checked(ctx, sized_out(ctx->a.realloc(ctx->a.ud, base, n + SIZE_HEADER), n + SIZE_HEADER));
}

void gs_dealloc(gs_ctx *ctx, void *p)
{
    if (!p)
        return;
    if (!ctx->free_sized) {
        ctx->a.free(ctx->a.ud, p);
        return;
    }
    size_t total;
    char *base = (char *)p - SIZE_HEADER;
    memcpy(&total, base, sizeof total);
    ctx->free_sized(ctx->a.ud, base, total);
}

GS_API void gs_free(gs_ctx *ctx, void *ptr)
{
    if (ctx)
        gs_dealloc(ctx, ptr);
}

char *gs_strdup(gs_ctx *ctx, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = gs_alloc(ctx, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

bool gs_mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

bool gs_mul64_ok(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

int64_t gs_to_int64(double v)
{
    if (!(v >= -9.2e18 && v <= 9.2e18))   /* NaN and values beyond int64 */
        return v > 0 ? INT64_MAX : v < 0 ? INT64_MIN : 0;
    return (int64_t)v;
}

double gs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
