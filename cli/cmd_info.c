/*
 * cmd_info.c - graphsub info: a summary of a model (op histogram, node count,
 * inputs and outputs with shapes, parameter count and bytes, opsets), as
 * text or JSON.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: graphsub info IN.onnx [--json]\n"
    "\n"
    "Print the op histogram, node count, inputs and outputs with their shapes\n"
    "(inferred where the model does not declare them), parameter count and bytes,\n"
    "and the opsets of a model.\n"
    "\n"
    "  --json       print one JSON object instead of text\n"
    "  -h, --help   show this help\n";

typedef struct opcount {
    const char *op, *domain;
    int count;
} opcount;

static int by_count(const void *a, const void *b)
{
    const opcount *x = a, *y = b;
    if (x->count != y->count)
        return y->count - x->count;
    return strcmp(x->op, y->op);
}

/* Histogram of live node ops, sorted by count; returns the number of rows. */
static int histogram(const gs_model *m, opcount *rows)
{
    int n = 0;
    for (int i = 0; i < gs_model_node_count(m); i++) {
        if (!gs_node_is_live(m, i))
            continue;
        const char *op = gs_node_op(m, i), *dom = gs_node_domain(m, i);
        int k;
        for (k = 0; k < n && (strcmp(rows[k].op, op) || strcmp(rows[k].domain, dom)); k++)
            ;
        if (k == n)
            rows[n++] = (opcount){ op, dom, 0 };
        rows[k].count++;
    }
    qsort(rows, (size_t)n, sizeof *rows, by_count);
    return n;
}

static void print_shape(const gs_model *m, int v, bool json)
{
    int rank = gs_value_rank(m, v);
    if (rank < 0) {
        fputs(json ? "null" : "?", stdout);
        return;
    }
    putchar('[');
    for (int k = 0; k < rank; k++) {
        const char *sym;
        int64_t d = gs_value_dim(m, v, k, &sym);
        if (k)
            fputs(json ? ", " : ",", stdout);
        if (d >= 0)
            printf("%lld", (long long)d);
        else if (sym && json)
            cli_json_str(stdout, sym);
        else if (sym) {
            char buf[256];
            fputs(cli_text(sym, buf, sizeof buf), stdout);
        }
        else
            fputs(json ? "null" : "?", stdout);
    }
    putchar(']');
}

static void print_values(const gs_model *m, bool inputs, bool json)
{
    int n = inputs ? gs_model_input_count(m) : gs_model_output_count(m);
    for (int i = 0; i < n; i++) {
        int v = inputs ? gs_model_input(m, i) : gs_model_output(m, i);
        if (json) {
            printf("%s{\"name\": ", i ? ", " : "");
            cli_json_str(stdout, gs_value_name(m, v));
            printf(", \"dtype\": \"%s\", \"shape\": ", gs_dtype_str(gs_value_dtype(m, v)));
            print_shape(m, v, true);
            putchar('}');
        } else {
            char buf[256];
            printf("  %-8s %s %s ", inputs ? "input" : "output", cli_text(gs_value_name(m, v), buf, sizeof buf),
                   gs_dtype_str(gs_value_dtype(m, v)));
            print_shape(m, v, false);
            putchar('\n');
        }
    }
}

typedef struct params {
    int64_t count, bytes;
    int tensors;
} params;

static params count_params(const gs_model *m)
{
    params p = { 0, 0, 0 };
    for (int v = 0; v < gs_model_value_count(m); v++) {
        if (!gs_value_is_constant(m, v))
            continue;
        int64_t n = gs_value_numel(m, v);
        if (n < 0)
            continue;
        p.tensors++;
        p.count += n;
        p.bytes += n * gs_dtype_bytes(gs_value_dtype(m, v));
    }
    return p;
}

/* Values read or written by live nodes, and how many have a known shape. */
static void shape_counts(const gs_model *m, int *values, int *known)
{
    *values = *known = 0;
    for (int v = 0; v < gs_model_value_count(m); v++) {
        int p = gs_value_producer(m, v);
        bool used = p >= 0 ? gs_node_is_live(m, p) : gs_value_is_constant(m, v) == 0;
        if (!used)
            continue;
        (*values)++;
        *known += gs_value_shape_known(m, v);
    }
}

static double model_cost(const gs_model *m)
{
    double total = 0;
    for (int i = 0; i < gs_model_node_count(m); i++)
        if (gs_node_is_live(m, i))
            total += gs_node_cost(m, i, NULL, NULL);
    return total;
}

static int live_nodes(const gs_model *m)
{
    int n = 0;
    for (int i = 0; i < gs_model_node_count(m); i++)
        n += gs_node_is_live(m, i);
    return n;
}

static void print_text(const char *path, const gs_model *m, const opcount *rows, int nrows)
{
    params p = count_params(m);
    int values, known;
    shape_counts(m, &values, &known);
    char buf[4096];
    printf("%s\n  nodes    %d", cli_text(path, buf, sizeof buf), live_nodes(m));
    if (gs_model_subgraph_node_count(m))
        printf(" (and %d inside If, Loop and Scan bodies)", gs_model_subgraph_node_count(m));
    printf("\n  params   %lld in %d tensors (%lld bytes)\n  shapes   %d of %d values "
           "known\n  cost     %.3f ms (estimated, generic x86-64 core)\n  opset   ",
           (long long)p.count, p.tensors, (long long)p.bytes, known, values, model_cost(m) * 1e3);
    printf(" ai.onnx %lld\n", (long long)gs_model_opset(m, ""));
    print_values(m, true, false);
    print_values(m, false, false);
    printf("  ops\n");
    for (int i = 0; i < nrows; i++) {
        char dom[256], op[256];
        printf("    %6d  %s%s%s\n", rows[i].count, cli_text(rows[i].domain, dom, sizeof dom),
               *rows[i].domain ? "." : "", cli_text(rows[i].op, op, sizeof op));
    }
}

static void print_json(const char *path, const gs_model *m, const opcount *rows, int nrows)
{
    params p = count_params(m);
    int values, known;
    shape_counts(m, &values, &known);
    printf("{\"file\": ");
    cli_json_str(stdout, path);
    printf(", \"nodes\": %d, \"nodes_in_subgraphs\": %d, \"params\": %lld, \"param_tensors\": %d, \"param_bytes\": %lld, "
           "\"values\": %d, \"shapes_known\": %d, \"cost_ms\": %.6f, \"opset\": %lld, \"inputs\": [",
           live_nodes(m), gs_model_subgraph_node_count(m), (long long)p.count, p.tensors, (long long)p.bytes, values, known,
           model_cost(m) * 1e3, (long long)gs_model_opset(m, ""));
    print_values(m, true, true);
    printf("], \"outputs\": [");
    print_values(m, false, true);
    printf("], \"ops\": {");
    for (int i = 0; i < nrows; i++) {
        printf("%s", i ? ", " : "");
        if (*rows[i].domain) {
            char buf[512];
            snprintf(buf, sizeof buf, "%s.%s", rows[i].domain, rows[i].op);
            cli_json_str(stdout, buf);
        } else {
            cli_json_str(stdout, rows[i].op);
        }
        printf(": %d", rows[i].count);
    }
    printf("}}\n");
}

int cmd_info(int argc, char **argv)
{
    const char *in = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(help, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage("info", "unknown option '%s'", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else {
            return cli_usage("info", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!in)
        return cli_usage("info", "no input model given");
    gs_ctx *ctx = cli_ctx();
    if (!ctx)
        return EXIT_INTERNAL;
    gs_model *m = NULL;
    gs_status st = gs_model_load(ctx, in, &m);
    if (st == GS_OK)
        st = gs_model_infer_shapes(m);   /* shapes of every value, for the listing */
    if (st != GS_OK) {
        int rc = cli_fail(ctx, st);
        gs_model_free(m);
        cli_ctx_free(ctx);
        return rc;
    }
    opcount *rows = calloc((size_t)gs_model_node_count(m) + 1, sizeof *rows);
    int rc = 0;
    if (!rows) {
        rc = cli_error(EXIT_INTERNAL, "out of memory");
    } else {
        int nrows = histogram(m, rows);
        if (json)
            print_json(in, m, rows, nrows);
        else
            print_text(in, m, rows, nrows);
    }
    free(rows);
    gs_model_free(m);
    cli_ctx_free(ctx);
    return rc;
}
