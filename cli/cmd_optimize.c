/*
 * cmd_optimize.c - graphsub optimize: load, optimize, write atomically.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char help[] =
    "usage: graphsub optimize IN.onnx [-o OUT.onnx] [-O0] [--external-data] [--quiet]\n"
    "\n"
    "Rewrite IN.onnx into an equivalent model and write it to OUT.onnx\n"
    "(default: IN.opt.onnx beside the input). The input is never modified;\n"
    "the output is written to a temporary file and renamed into place.\n"
    "\n"
    "  -o OUT.onnx        output file\n"
    "  -O0                import and export only (a lossless round trip)\n"
    "  --external-data    write tensors of 1 KiB or more to OUT.onnx.data\n"
    "  --quiet            print nothing on success\n"
    "  -h, --help         show this help\n";

typedef struct opts {
    const char *in, *out;
    int level;
    bool external, quiet;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(help, stdout);
            return -1;
        } else if (!strcmp(a, "-o")) {
            if (++i >= argc)
                return cli_usage("optimize", "-o needs a file name");
            o->out = argv[i];
        } else if (!strcmp(a, "-O0")) {
            o->level = 0;
        } else if (!strcmp(a, "--external-data")) {
            o->external = true;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage("optimize", "unknown option '%s'", a);
        } else if (!o->in) {
            o->in = a;
        } else {
            return cli_usage("optimize", "unexpected argument '%s'", a);
        }
    }
    if (!o->in)
        return cli_usage("optimize", "no input model given");
    return 0;
}

/* IN.onnx -> IN.opt.onnx (or IN.opt.onnx appended when there is no .onnx). */
static char *default_output(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(n + 16);
    if (!out)
        return NULL;
    size_t stem = n > 5 && !strcmp(in + n - 5, ".onnx") ? n - 5 : n;
    memcpy(out, in, stem);
    strcpy(out + stem, ".opt.onnx");
    return out;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int cmd_optimize(int argc, char **argv)
{
    opts o = { .level = 2 };
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    char *defout = o.out ? NULL : default_output(o.in);
    const char *out = o.out ? o.out : defout;
    if (!out)
        return cli_error(EXIT_INTERNAL, "out of memory");
    gs_ctx *ctx = cli_ctx();
    gs_model *m = NULL;
    gs_status st = GS_ERR_NOMEM;
    double t0 = now_ms();
    if (ctx && (st = gs_model_load(ctx, o.in, &m)) == GS_OK) {
        double t1 = now_ms();
        gs_save_opts so = { GS_SAVE_OPTS_VERSION, o.external, 0 };
        st = gs_model_save(m, out, &so);
        if (st == GS_OK && !o.quiet)
            fprintf(stderr, "graphsub: wrote %s (import %.0f ms, export %.0f ms)\n", out,
                    t1 - t0, now_ms() - t1);
    }
    rc = st == GS_OK ? 0 : ctx ? cli_fail(ctx, st) : EXIT_INTERNAL;
    gs_model_free(m);
    gs_ctx_free(ctx);
    free(defout);
    return rc;
}
