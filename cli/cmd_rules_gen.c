/*
 * cmd_rules_gen.c - graphsub rules generate: substitution rules found by
 * enumerating small expressions and comparing them on random inputs
 * (gs_rules_generate), written as a rule file.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: graphsub rules generate --ops OP,OP,... --max-nodes N [--out FILE]\n"
    "\n"
    "Enumerate every expression of 1 to N (at most 4) of the ops over up to three\n"
    "square matrices x, y, z, run them all on random inputs in the reference\n"
    "interpreter, group the expressions that compute the same values, and write a\n"
    "rule from each to the smallest of its group; redundant rules (one a smaller\n"
    "rule implies, or a more general one) are left out, and every rule written\n"
    "agrees on two more runs with other shapes and passes `rules check`.\n"
    "Ops: Add, Mul, Sub, Div, Max, Min, MatMul, Transpose (perm 1,0), Relu, Neg,\n"
    "Exp, Log, Sqrt, Abs, Sigmoid, Tanh, Reciprocal.\n"
    "\n"
    "  --ops LIST       comma-separated op names\n"
    "  --max-nodes N    ops in the largest expression, 1 to 4\n"
    "  --out FILE       write the rules here (default: standard output)\n"
    "  --quiet          no counts on standard error\n";

int cmd_rules_generate(int argc, char **argv)
{
    const char *ops = NULL, *out = "-";
    long n = 0;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(help, stdout);
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = true;
            continue;
        }
        if (strcmp(a, "--ops") && strcmp(a, "--max-nodes") && strcmp(a, "--out"))
            return cli_usage("rules generate", "unknown argument '%s'", a);
        if (i + 1 >= argc)
            return cli_usage("rules generate", "%s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--ops"))
            ops = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!cli_parse_long("rules generate", a, v, &n))
            return EXIT_USAGE;
    }
    if (!ops || n == 0)
        return cli_usage("rules generate", "--ops and --max-nodes are needed");
    if (n < 1 || n > 4)
        return cli_usage("rules generate", "--max-nodes must be from 1 to 4, got %ld", n);
    gs_ctx *ctx = cli_ctx();
    if (!ctx)
        return EXIT_INTERNAL;
    char *json = NULL;
    gs_rulegen_stats s;
    gs_status st = gs_rules_generate(ctx, ops, (int)n, &json, &s);
    const char *msg = gs_ctx_errmsg(ctx);
    if (!strncmp(msg, "rules generate: ", 16))
        msg += 16;
    int rc = st == GS_ERR_ARG ? cli_usage("rules generate", "%s", msg)
           : st != GS_OK ? cli_fail(ctx, st) : cli_write_file(ctx, out, json, strlen(json));
    if (st == GS_OK && !quiet)
        fprintf(stderr, "graphsub: rules generate: %d expressions, %d equal to an earlier one, %d candidate "
                "rules, %d redundant, %d verified, %d written (passing rules check)\n", s.expressions,
                s.equal, s.candidates, s.pruned, s.verified, s.checked);
    gs_free(ctx, json);
    cli_ctx_free(ctx);
    return rc;
}
