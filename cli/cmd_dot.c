/*
 * cmd_dot.c - graphsub dot: the main graph in Graphviz format, one box per
 * node labelled with its op and name, edges labelled with value names.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: graphsub dot IN.onnx [-o OUT.dot]\n"
    "\n"
    "Write the main graph of IN.onnx in Graphviz dot format (default: to stdout).\n"
    "A file is written to a temporary file and renamed into place; an output that\n"
    "would replace the input is refused (exit 2).\n"
    "Render it with, for example, 'dot -Tsvg OUT.dot > graph.svg'.\n"
    "\n"
    "  -o OUT.dot   output file\n"
    "  -h, --help   show this help\n";

static void dot_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_dot(FILE *f, const gs_model *m)
{
    fprintf(f, "digraph graphsub {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    for (int i = 0; i < gs_model_input_count(m); i++) {
        fprintf(f, "  in%d [shape=ellipse, label=", i);
        dot_str(f, gs_value_name(m, gs_model_input(m, i)));
        fprintf(f, "];\n");
    }
    for (int i = 0; i < gs_model_output_count(m); i++) {
        fprintf(f, "  out%d [shape=ellipse, label=", i);
        dot_str(f, gs_value_name(m, gs_model_output(m, i)));
        fprintf(f, "];\n");
    }
    for (int n = 0; n < gs_model_node_count(m); n++) {
        if (!gs_node_is_live(m, n))
            continue;
        char label[512];
        snprintf(label, sizeof label, "%s\n%s", gs_node_op(m, n), gs_node_name(m, n));
        fprintf(f, "  n%d [label=", n);
        dot_str(f, label);
        fprintf(f, "];\n");
    }
    for (int n = 0; n < gs_model_node_count(m); n++) {
        if (!gs_node_is_live(m, n))
            continue;
        for (int k = 0; k < gs_node_input_count(m, n); k++) {
            int v = gs_node_input(m, n, k);
            if (v < 0 || gs_value_is_constant(m, v))
                continue;
            int p = gs_value_producer(m, v);
            if (p >= 0) {
                fprintf(f, "  n%d -> n%d [label=", p, n);
            } else {
                int i;
                for (i = 0; i < gs_model_input_count(m) && gs_model_input(m, i) != v; i++)
                    ;
                if (i == gs_model_input_count(m))
                    continue;
                fprintf(f, "  in%d -> n%d [label=", i, n);
            }
            dot_str(f, gs_value_name(m, v));
            fprintf(f, "];\n");
        }
    }
    for (int i = 0; i < gs_model_output_count(m); i++) {
        int p = gs_value_producer(m, gs_model_output(m, i));
        if (p >= 0)
            fprintf(f, "  n%d -> out%d;\n", p, i);
    }
    fprintf(f, "}\n");
}

/* The graph as dot text (malloc'd, *n bytes), or NULL when memory is short. */
static char *dot_text(const gs_model *m, size_t *n)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, n);
    if (!f)
        return NULL;
    write_dot(f, m);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int check_paths(const char *in, const char *out, const gs_model *m)
{
    int nd = gs_model_data_file_count(m);
    cli_file *ins = malloc((size_t)(nd + 1) * sizeof *ins);
    if (!ins)
        return cli_error(EXIT_INTERNAL, "out of memory");
    ins[0] = (cli_file){ in, "input model" };
    for (int i = 0; i < nd; i++)
        ins[i + 1] = (cli_file){ gs_model_data_file(m, i), "external data of the input" };
    cli_file o = { out, "dot output" };
    int rc = cli_check_outputs(ins, nd + 1, &o, 1);
    free(ins);
    return rc;
}

static int dot(const char *in, const char *out)
{
    gs_ctx *ctx = cli_ctx();
    if (!ctx)
        return EXIT_INTERNAL;
    gs_model *m = NULL;
    gs_status st = gs_model_load(ctx, in, &m);
    int rc = st == GS_OK ? 0 : cli_fail(ctx, st);
    if (rc == 0)
        rc = check_paths(in, out, m);
    size_t n = 0;
    char *text = rc == 0 ? dot_text(m, &n) : NULL;
    if (rc == 0)
        rc = text ? cli_write_file(ctx, out, text, n) : cli_error(EXIT_INTERNAL, "out of memory");
    free(text);
    gs_model_free(m);
    cli_ctx_free(ctx);
    return rc;
}

int cmd_dot(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(help, stdout);
            return 0;
        } else if (!strcmp(argv[i], "-o")) {
            if (++i >= argc)
                return cli_usage("dot", "-o needs a file name");
            out = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage("dot", "unknown option '%s'", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else {
            return cli_usage("dot", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!in)
        return cli_usage("dot", "no input model given");
    return dot(in, out ? out : "-");
}
