/*
 * cmd_rules.c - graphsub rules list|check: the rule library, and its
 * numerical soundness check.
 */
#include "cli.h"

#include <string.h>

static const char help[] =
    "usage: graphsub rules list [PATH...]\n"
    "       graphsub rules check [--strict] [PATH...]\n"
    "\n"
    "list: print each rule's name, file, class, ops and doc.\n"
    "check: run each rule's match side and rewrite side in the reference interpreter\n"
    "on random data (from the rule's \"check\" object) and compare; print one line per\n"
    "rule: ok, FAILED with the worst difference, or unchecked with the reason.\n"
    "Exits 1 when any rule fails, and with --strict also when any rule could not be\n"
    "checked.\n"
    "PATH is a rule file or a folder of them; without PATH, the built-in library.\n";

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
    bool check = !strcmp(argv[1], "check");
    if (!check && strcmp(argv[1], "list"))
        return cli_usage("rules", "unknown subcommand '%s' (list or check)", argv[1]);
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
