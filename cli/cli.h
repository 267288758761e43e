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
/* str as a JSON string on f; bytes that are not UTF-8 become U+FFFD, so the
 * output stays valid JSON whatever a model's names hold. */
void cli_json_str(FILE *f, const char *str);
/* str for a terminal: str itself when it is printable UTF-8, else a copy in
 * buf (cap bytes, cut short if need be) with control characters and bytes
 * that are not UTF-8 as \xNN, as the library's messages show them. */
const char *cli_text(const char *str, char *buf, size_t cap);
/* A new context with the default allocator; NULL (after a message) on failure.
 * Its temporary files are removed on SIGINT, SIGTERM and SIGHUP until it is
 * freed with cli_ctx_free. */
gs_ctx *cli_ctx(void);
void cli_ctx_free(gs_ctx *ctx);

/* files.c: signals, and outputs checked against inputs. */

/* Install the handlers for SIGINT, SIGTERM, SIGHUP (remove the temporary
 * files, then die of the signal) and SIGBUS (an input truncated while
 * mapped: remove them, exit 3 naming the file). */
void cli_catch_signals(void);
/* The context whose temporary files the handlers remove (NULL: none). */
void cli_watch_ctx(gs_ctx *ctx);

typedef struct cli_file {
    const char *path;
    const char *what;   /* "input model", "report"... for messages */
} cli_file;
/* True when a and b name the same file: the same inode (symbolic links
 * followed), both "-", or the same place for files not yet there. */
bool cli_same_file(const char *a, const char *b);
/* 0, or EXIT_USAGE after a message when an output names an input or an
 * earlier output. */
int cli_check_outputs(const cli_file *in, int nin, const cli_file *out, int nout);
/* PATH.data beside the file path leads to, as gs_model_save names it (malloc'd). */
char *cli_data_path(const char *path);
/* Write buf to path through gs_output (atomic, or in place for "-", devices,
 * FIFOs); 0 or the exit status after a message. */
int cli_write_file(gs_ctx *ctx, const char *path, const char *buf, size_t n);

/* alloc_hook.c: the allocator GRAPHSUB_FAIL_ALLOC asks for, or NULL. */
const gs_allocator *cli_alloc_hook(void);

/* stats.c: what a model holds, for the tables and reports. */
typedef struct cli_opcount {
    const char *op, *domain;   /* malloc'd copies */
    int count;
} cli_opcount;
typedef struct cli_stats {
    cli_opcount *ops;          /* sorted by op name */
    int nops;
    int nodes;                 /* live nodes of the main graph */
    int64_t params;            /* elements of the weights live nodes read */
} cli_stats;
/* Fill s from m's live nodes; false when memory is short. Free with cli_stats_free. */
bool cli_stats_of(const gs_model *m, cli_stats *s);
void cli_stats_free(cli_stats *s);
int cli_stats_count(const cli_stats *s, const char *op, const char *domain);
/* {"Conv": 2, "com.microsoft::Gelu": 1} on f. */
void cli_stats_json(FILE *f, const cli_stats *s);
/* The before/after table: ops whose count changed, nodes, parameters and
 * model size (bytes; -1 when unknown). */
void cli_stats_table(FILE *f, const cli_stats *a, const cli_stats *b, int64_t size_a, int64_t size_b);

/* util.c: "NAME=VALUE" with a non-empty NAME and VALUE a decimal integer in
 * [0, 2^31) (a --dim). */
bool cli_dim_ok(const char *s);

/* profiles.c: --profile NAME or PATH. */
/* The file a --profile value names: itself when it holds a '/' or ends in
 * ".json", else NAME.json in the installed profile folder or the source
 * tree's (malloc'd); NULL after a usage message naming the known profiles. */
char *cli_profile_path(const char *cmd, const char *value);

int cmd_optimize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_rules_generate(int argc, char **argv);   /* cmd_rules_gen.c */
int cmd_dot(int argc, char **argv);

#endif
