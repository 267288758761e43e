/*
 * main.c - the graphsub command: dispatch to a subcommand.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    { "optimize", cmd_optimize, "rewrite a model into a faster equivalent model" },
    { "info", cmd_info, "print ops, inputs, outputs, parameters and opsets of a model" },
    { "run", cmd_run, "run a model in the reference interpreter (ONNX test-data layout)" },
    { "verify", cmd_verify, "check that two models compute the same outputs" },
    { "rules", cmd_rules, "list the rewrite rules, or check each one numerically" },
    { "dot", cmd_dot, "write the graph in Graphviz dot format" },
};

static int usage(FILE *f)
{
    fprintf(f, "usage: graphsub COMMAND [ARGS]\n\n"
               "graphsub rewrites ONNX models into equivalent, faster models.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'graphsub COMMAND --help' describes a command.\n"
               "Every option written '--name VALUE' may be written '--name=VALUE' too.\n"
               "Exit status: 0 success, 1 a check or comparison failed, 2 usage error,\n"
               "3 bad input (model, rules, data), 4 internal error.\n");
    return f == stdout ? 0 : EXIT_USAGE;
}

/* Standard output flushed and closed: a write error there (a full disk, a
 * closed pipe) fails the command, it is not dropped at exit. */
static int close_stdout(int rc)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout) && fclose(stdout) == 0)
        return rc;
    int err = errno;
    fprintf(stderr, "graphsub: standard output: write error: %s\n", strerror(err ? err : EIO));
    return rc ? rc : EXIT_INPUT;
}

/* Options that take no value: "--quiet=1" is refused rather than read as
 * "--quiet" followed by a file named "1". */
static const char *const flags[] = {
    "--help", "--quiet", "--verify", "--external-data", "--no-default-rules", "--json", "--stats",
    "--version", NULL,
};

/* argv with every "--name=value" split into "--name" "value" (at the first
 * '='), so each command accepts both forms; NULL after a message when an
 * option that takes no value was given one, or memory is short. */
static char **split_equals(int argc, char **argv, int *nargc, int *rc)
{
    char **out = malloc(((size_t)argc * 2 + 1) * sizeof *out);
    if (!out) {
        *rc = cli_error(EXIT_INTERNAL, "out of memory");
        return NULL;
    }
    int n = 0;
    for (int i = 0; i < argc; i++) {
        char *eq = strncmp(argv[i], "--", 2) ? NULL : strchr(argv[i], '=');
        if (!eq || eq == argv[i] + 2 || i == 0) {
            out[n++] = argv[i];
            continue;
        }
        *eq = '\0';
        for (int k = 0; flags[k]; k++)
            if (!strcmp(argv[i], flags[k])) {
                *rc = cli_error(EXIT_USAGE, "option '%s' takes no value (see 'graphsub --help')", argv[i]);
                free(out);
                return NULL;
            }
        out[n++] = argv[i];
        out[n++] = eq + 1;
    }
    out[n] = NULL;
    *nargc = n;
    return out;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (cli_is_help(argv[1]))
        return usage(stdout);
    if (!strcmp(argv[1], "--version")) {
        printf("graphsub %s\n", gs_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "graphsub: unknown command '%s' (see 'graphsub --help')\n", argv[1]);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    cli_catch_signals();
    int n = 0, rc = 0;
    char **args = split_equals(argc, argv, &n, &rc);
    if (!args)
        return close_stdout(rc);
    rc = dispatch(n, args);
    free(args);
    return close_stdout(rc);
}
