/*
 * cmd_rules.c - graphsub rules list|check|explain: the rule library, its
 * numerical soundness check, and why a rule does or does not match in a
 * model.
 */
#include "cli.h"

#include <string.h>

static const char help[] =
    "usage: graphsub rules list [PATH...]\n"
    "       graphsub rules check [--strict] [PATH...]\n"
    "       graphsub rules explain RULE MODEL.onnx [--rules PATH]...\n"
    "       graphsub rules generate --ops OP,... --max-nodes N [--out FILE]\n"
    "\n"
    "list: print each rule's name, file, class, ops and doc.\n"
    "check: run each rule's match side and rewrite side in the reference interpreter\n"
    "on random data (from the rule's \"check\" object) and compare; print one line per\n"
    "rule: ok, FAILED with the worst difference, or unchecked with the reason.\n"
    "Exits 1 when any rule fails, and with --strict also when any rule could not be\n"
    "checked.\n"
    "explain: for each node of the op of RULE's first statement, whether RULE matches\n"
    "there and, when it does not, the first condition that failed with the values it saw\n"
    "or the step of the pattern that did not fit (the model as read, shapes inferred).\n"
    "PATH is a rule file or a folder of them; without PATH, the built-in library.\n";

static void on_explain(void *ud, const char *node, const char *op, int matched, const char *why)
{
    char nb[512], ob[128], wb[1024];
    (void)ud;
    why = cli_text(why, wb, sizeof wb);
    if (!node) {
        printf("%s\n", why);
        return;
    }
    printf("node '%s' (%s): %s%s\n", cli_text(node, nb, sizeof nb), cli_text(op, ob, sizeof ob),
           matched ? "" : "no match: ", why);
}

/* graphsub rules explain RULE MODEL [--rules PATH]... */
static int explain(int argc, char **argv)
{
    const char *rule = NULL, *model = NULL;
    const char **paths = (const char **)argv;   /* reuses argv's slots: room for every PATH */
    int npaths = 0;
    for (int i = 2; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(help, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--rules")) {
            if (++i == argc)
                return cli_usage("rules", "--rules needs a path");
            paths[npaths++] = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage("rules", "unknown option '%s'", argv[i]);
        } else if (!rule) {
            rule = argv[i];
        } else if (!model) {
            model = argv[i];
        } else {
            return cli_usage("rules", "explain takes one rule and one model");
        }
    }
    if (!model)
        return cli_usage("rules", "explain needs a rule name and a model");
    paths[npaths] = NULL;
    gs_ctx *ctx = cli_ctx();
    if (!ctx)
        return EXIT_INTERNAL;
    gs_model *m = NULL;
    gs_status st = gs_model_load(ctx, model, &m);
    if (st == GS_OK)
        st = gs_rules_explain(ctx, paths, rule, m, on_explain, NULL);
    int rc = st == GS_ERR_ARG ? cli_error(EXIT_USAGE, "%s", gs_ctx_errmsg(ctx)) : st != GS_OK ? cli_fail(ctx, st) : 0;
    gs_model_free(m);
    cli_ctx_free(ctx);
    return rc;
}

typedef struct tally {
    int unchecked;
} tally;

static void on_rule(void *ud, const char *name, const char *file, const char *ops, const char *doc,
                    const char *cls, int verdict, const char *detail)
{
    char nb[512], db[1024];
    name = cli_text(name, nb, sizeof nb);
    detail = detail ? cli_text(detail, db, sizeof db) : detail;
    if (verdict < 0) {
        printf("%-30s %-22s %-8s %-40s %s\n", name, file, cls, ops, doc);
        return;
    }
    ((tally *)ud)->unchecked += verdict == 2;
    const char *tag = verdict == 0 ? "ok" : verdict == 1 ? "FAILED" : "unchecked";
    if (verdict == 0)
        printf("%-10s %s\n", tag, name);
    else
        printf("%-10s %s: %s\n", tag, name, detail);
}

int cmd_rules(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "generate"))
        return cmd_rules_generate(argc - 1, argv + 1);
    if (!strcmp(argv[1], "explain"))
        return explain(argc, argv);
    bool check = !strcmp(argv[1], "check");
    if (!check && strcmp(argv[1], "list"))
        return cli_usage("rules", "unknown subcommand '%s' (list, check, explain or generate)", argv[1]);
    bool strict = false;
    const char **paths = (const char **)argv + 2;
    int npaths = 0;
    for (int i = 2; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(help, stdout);
            return 0;
        }
        if (check && !strcmp(argv[i], "--strict"))
            strict = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage("rules", "unknown option '%s'", argv[i]);
        else
            paths[npaths++] = argv[i];
    }
    paths[npaths] = NULL;
    gs_ctx *ctx = cli_ctx();
    if (!ctx)
        return EXIT_INTERNAL;
    int failed = 0;
    tally t = { 0 };
    gs_status st = gs_rules_each(ctx, paths, check, on_rule, &t, &failed);
    bool bad = failed || (strict && t.unchecked);
    int rc = st != GS_OK ? cli_fail(ctx, st) : bad ? EXIT_MISMATCH : 0;
    if (st == GS_OK && check && failed)
        printf("some rules FAILED\n");
    else if (st == GS_OK && check && strict && t.unchecked)
        printf("%d rule%s could not be checked (--strict)\n", t.unchecked, t.unchecked == 1 ? "" : "s");
    else if (st == GS_OK && check)
        printf("no rule failed%s\n", t.unchecked ? " (some could not be checked)" : "");
    cli_ctx_free(ctx);
    return rc;
}
