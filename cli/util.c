/*
 * util.c - error printing and option parsing shared by the subcommands.
 */
#include "cli.h"

#include <errno.h>
#include <stdbool.h>
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

/* Length of the well-formed UTF-8 sequence at s, or 0. */
static int utf8_len(const unsigned char *s)
{
    int n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
          : s[0] >= 0xf0 && s[0] < 0xf5 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) ||
        (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))))
        return 0;   /* overlong, surrogate or past U+10FFFF */
    return n;
}

void cli_json_str(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        int n = utf8_len(s);
        if (n == 0)
            fputs("\\ufffd", f), n = 1;
        else if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if (*s < 0x20 || *s == 0x7f)
            fprintf(f, "\\u%04x", *s);
        else
            fwrite(s, 1, (size_t)n, f);
        s += n;
    }
    fputc('"', f);
}

const char *cli_text(const char *str, char *buf, size_t cap)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t k = 0;
    bool clean = true;
    while (*s && k + 5 < cap) {
        int n = utf8_len(s);
        bool esc = n == 0 || *s < 0x20 || *s == 0x7f || (s[0] == 0xc2 && s[1] < 0xa0);   /* C0, DEL, C1 */
        if (esc)
            k += (size_t)snprintf(buf + k, cap - k, "\\x%02X", *s), n = 1, clean = false;
        else
            memcpy(buf + k, s, (size_t)n), k += (size_t)n;
        s += n;
    }
    buf[k] = '\0';
    return clean && !*s ? str : buf;
}

/* "NAME=VALUE" with a non-empty NAME and VALUE a decimal integer in [0, 2^31). */
bool cli_dim_ok(const char *s)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s || !eq[1] || strlen(eq + 1) > 10)
        return false;
    long long v = 0;
    for (const char *p = eq + 1; *p; p++)
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 2147483647LL)
            return false;
    return true;
}
