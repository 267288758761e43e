/*
 * util.c - error printing and option parsing shared by the subcommands.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(gs_ctx *ctx, gs_status st)
{
    fprintf(stderr, "graphsub: %s\n", gs_ctx_errmsg(ctx));
    return gs_status_exit(st);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "graphsub %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'graphsub %s --help')\n", cmd);
    return EXIT_USAGE;
}

int cli_error(int status, const char *fmt, ...)
{
    va_list ap;
    fputs("graphsub: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

bool cli_is_help(const char *arg)
{
    return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

bool cli_parse_double(const char *cmd, const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno) {
        cli_usage(cmd, "%s needs a number, got '%s'", opt, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_long(const char *cmd, const char *opt, const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno) {
        cli_usage(cmd, "%s needs an integer, got '%s'", opt, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

/* A testing hook: GRAPHSUB_FAIL_ALLOC=N makes the Nth allocation through the
 * contexts fail (counting from 1, reallocations included); =count prints
 * "graphsub: N allocations, M not freed" on stderr at exit. Either way a
 * block still allocated at exit is reported on stderr. Unset: the library's
 * own allocator. */
static struct { long at, calls, live; } fail_hook;

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

static const gs_allocator *hook_allocator(void)
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

gs_ctx *cli_ctx(void)
{
    gs_ctx *ctx = gs_ctx_new(hook_allocator());
    if (!ctx)
        cli_error(EXIT_INTERNAL, "out of memory");
    return ctx;
}
