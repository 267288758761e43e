/*
 * cmd_verify.c - graphsub verify: run two models on the same random inputs
 * and compare every output by name.
 */
#include "cli.h"

#include <string.h>

static const char help[] =
    "usage: graphsub verify A.onnx B.onnx [--seed S] [--trials N] [--rtol R] [--atol A]\n"
    "                       [--dim NAME=VALUE]...\n"
    "\n"
    "Run both models in the reference interpreter on the same random inputs and\n"
    "compare every output of A with the output of B of the same name. Inputs are\n"
    "bound by name; each trial draws float inputs from [-1, 1), [-1000, 1000) and\n"
    "zeros. Prints the worst difference per output and a summary line; exits 1\n"
    "when any output differs, or when the models' inputs (names, types, ranks,\n"
    "known dims) or output names differ.\n"
    "\n"
    "  --seed S          seed of the random inputs (default 0)\n"
    "  --trials N        input sets to try (default 1)\n"
    "  --rtol R          relative tolerance (default 1e-3; 1e-2 when A computes in\n"
    "                    float16 or bfloat16)\n"
    "  --atol A          absolute tolerance (default 1e-4)\n"
    "  --dim NAME=VALUE  value (an integer) of a symbolic input dim; repeatable; NAME\n"
    "                    must be a dim of an input (or a name in one named by an\n"
    "                    expression: batch of 8*batch). Symbols not given take\n"
    "                    2 + (k + t) % 5 in trial t (k: the symbol's place among the\n"
    "                    inputs' symbols), and at least two trials run when there\n"
    "                    is one; a dim named by an expression (past + seq) takes\n"
    "                    its value from its names; a dim with no name is 1\n"
    "  -h, --help        show this help\n"
    "An element passes when |got - want| <= atol + rtol * max(|want|, max|want| / 100).\n";

enum { MAX_DIMS = 32 };

static void print_diffs(const gs_output_diff *diffs, int nd)
{
    for (int i = 0; i < nd; i++) {
        printf("%-8s %s: max abs %g, max rel %g", diffs[i].diff.ok ? "ok" : "MISMATCH", diffs[i].name,
               diffs[i].diff.max_abs, diffs[i].diff.max_rel);
        if (!diffs[i].diff.ok)
            printf(" (inputs drawn from %s)", diffs[i].range);
        printf("\n");
    }
}

int cmd_verify(int argc, char **argv)
{
    const char *files[2] = { NULL, NULL }, *dims[MAX_DIMS + 1] = { NULL };
    int nfiles = 0, ndims = 0;
    long seed = 0, trials = 1;
    double rtol = 0, atol = 1e-4;   /* rtol 0: the library's default for A */
    bool rtol_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(help, stdout);
            return 0;
        }
        bool valued = !strcmp(a, "--seed") || !strcmp(a, "--trials") || !strcmp(a, "--rtol") ||
                      !strcmp(a, "--atol") || !strcmp(a, "--dim");
        if (valued && i + 1 >= argc)
            return cli_usage("verify", "%s needs a value", a);
        rtol_given |= !strcmp(a, "--rtol");
        if ((!strcmp(a, "--seed") && !cli_parse_long("verify", a, argv[++i], &seed)) ||
            (!strcmp(a, "--trials") && !cli_parse_long("verify", a, argv[++i], &trials)) ||
            (!strcmp(a, "--rtol") && !cli_parse_double("verify", a, argv[++i], &rtol)) ||
            (!strcmp(a, "--atol") && !cli_parse_double("verify", a, argv[++i], &atol)))
            return EXIT_USAGE;
        if (!strcmp(a, "--dim")) {
            if (ndims == MAX_DIMS || !cli_dim_ok(argv[i + 1]))
                return cli_usage("verify", "--dim needs NAME=VALUE with VALUE an integer from 0 to "
                                 "2147483647 (at most %d), got '%s'", MAX_DIMS, argv[i + 1]);
            dims[ndims++] = argv[++i];
        } else if (!valued && a[0] == '-' && a[1]) {
            return cli_usage("verify", "unknown option '%s'", a);
        } else if (!valued) {
            if (nfiles == 2)
                return cli_usage("verify", "unexpected argument '%s'", a);
            files[nfiles++] = a;
        }
    }
    if (nfiles != 2)
        return cli_usage("verify", "two models are needed");
    if (trials < 1 || trials > 1000 || (rtol_given && !(rtol > 0)) || !(atol > 0))
        return cli_usage("verify", "--trials must be 1..1000 and tolerances positive");
    gs_ctx *ctx = cli_ctx();
    if (!ctx)
        return EXIT_INTERNAL;
    gs_model *a = NULL, *b = NULL;
    gs_output_diff *diffs = NULL;
    int nd = 0, rc = 0;
    gs_status st = gs_model_load(ctx, files[0], &a);
    if (st == GS_OK)
        st = gs_model_load(ctx, files[1], &b);
    gs_verify_opts vo = { GS_VERIFY_OPTS_VERSION, (uint64_t)seed, (int)trials, rtol, atol, dims };
    if (st == GS_OK)
        st = gs_model_compare(ctx, a, b, &vo, &diffs, &nd);
    print_diffs(diffs, nd);
    if (st != GS_OK)
        rc = cli_fail(ctx, st);
    else {
        int run = gs_model_compare_trials(ctx, a, &vo);
        printf("verify: %s and %s agree: %d output%s, %d trial%s of %d input ranges\n", files[0], files[1],
               nd, nd == 1 ? "" : "s", run, run == 1 ? "" : "s", gs_verify_range_count());
    }
    gs_free(ctx, diffs);
    gs_model_free(a);
    gs_model_free(b);
    cli_ctx_free(ctx);
    return rc;
}
