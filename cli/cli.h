/*
 * cli.h - shared pieces of the graphsub command line. The CLI sees only the
 * public header; each subcommand lives in cmd_NAME.c and has the signature
 * int cmd_NAME(int argc, char **argv), returning the process exit status:
 * 0 success, 1 a check or comparison failed, 2 usage error, 3 bad input,
 * 4 internal error. Errors are one line on stderr.
 */
#ifndef GS_CLI_H
#define GS_CLI_H

#include <graphsub.h>
#include <stdbool.h>
#include <stdio.h>

enum { EXIT_MISMATCH = 1, EXIT_USAGE = 2, EXIT_INPUT = 3, EXIT_INTERNAL = 4 };

/* Print "graphsub: <ctx message>" and return the exit status for st. */
int cli_fail(gs_ctx *ctx, gs_status st);
/* Print "graphsub CMD: message" and a hint to use --help; return EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "graphsub: message" and return status. */
int cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when arg is -h or --help. */
bool cli_is_help(const char *arg);
/* Parse a number option value; false (after a usage message) when malformed. */
bool cli_parse_double(const char *cmd, const char *opt, const char *s, double *out);
bool cli_parse_long(const char *cmd, const char *opt, const char *s, long *out);
/* A new context with the default allocator; NULL (after a message) on failure. */
gs_ctx *cli_ctx(void);
/* alloc_hook.c: the allocator GRAPHSUB_FAIL_ALLOC asks for, or NULL. */
const gs_allocator *cli_alloc_hook(void);

int cmd_optimize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_dot(int argc, char **argv);

#endif
