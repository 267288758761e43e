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

gs_ctx *cli_ctx(void)
{
    gs_ctx *ctx = gs_ctx_new(cli_alloc_hook());
    if (!ctx)
        cli_error(EXIT_INTERNAL, "out of memory");
    cli_watch_ctx(ctx);
    return ctx;
}

void cli_ctx_free(gs_ctx *ctx)
{
    cli_watch_ctx(NULL);
    gs_ctx_free(ctx);
}
