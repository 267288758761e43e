/*
 * stats.c - a model's op histogram, node and parameter counts, and the
 * before/after table `graphsub optimize` prints (as onnx-simplifier does).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void add_op(cli_stats *s, const char *op, const char *domain)
{
    for (int k = 0; k < s->nops; k++)
        if (!strcmp(s->ops[k].op, op) && !strcmp(s->ops[k].domain, domain)) {
            s->ops[k].count++;
            return;
        }
    s->ops[s->nops++] = (cli_opcount){ strdup(op), strdup(domain), 1 };
}

static int by_name(const void *a, const void *b)
{
    const cli_opcount *x = a, *y = b;
    int c = strcmp(x->op, y->op);
    return c ? c : strcmp(x->domain, y->domain);
}

bool cli_stats_of(const gs_model *m, cli_stats *s)
{
    int nn = gs_model_node_count(m), nv = gs_model_value_count(m);
    memset(s, 0, sizeof *s);
    s->ops = calloc((size_t)nn + 1, sizeof *s->ops);
    char *seen = calloc((size_t)nv + 1, 1);
    if (!s->ops || !seen) {
        free(seen);
        cli_stats_free(s);
        return false;
    }
    for (int i = 0; i < nn; i++) {
        if (!gs_node_is_live(m, i))
            continue;
        s->nodes++;
        add_op(s, gs_node_op(m, i), gs_node_domain(m, i));
        if (!s->ops[s->nops - 1].op || !s->ops[s->nops - 1].domain) {
            free(seen);
            cli_stats_free(s);
            return false;
        }
        for (int k = 0; k < gs_node_input_count(m, i); k++) {   /* weights read by live nodes */
            int v = gs_node_input(m, i, k);
            if (v >= 0 && !seen[v] && gs_value_is_constant(m, v) && gs_value_numel(m, v) >= 0) {
                seen[v] = 1;
                s->params += gs_value_numel(m, v);
            }
        }
    }
    free(seen);
    qsort(s->ops, (size_t)s->nops, sizeof *s->ops, by_name);
    return true;
}

void cli_stats_free(cli_stats *s)
{
    for (int k = 0; s->ops && k < s->nops; k++) {
        free((char *)s->ops[k].op);
        free((char *)s->ops[k].domain);
    }
    free(s->ops);
    memset(s, 0, sizeof *s);
}

int cli_stats_count(const cli_stats *s, const char *op, const char *domain)
{
    for (int k = 0; k < s->nops; k++)
        if (!strcmp(s->ops[k].op, op) && !strcmp(s->ops[k].domain, domain))
            return s->ops[k].count;
    return 0;
}

void cli_stats_json(FILE *f, const cli_stats *s)
{
    fputc('{', f);
    for (int k = 0; k < s->nops; k++) {
        char name[512];
        const char *dom = s->ops[k].domain;
        snprintf(name, sizeof name, "%s%s%s", *dom ? dom : "", *dom ? "::" : "", s->ops[k].op);
        fputs(k ? ", " : "", f);
        cli_json_str(f, name);
        fprintf(f, ": %d", s->ops[k].count);
    }
    fputc('}', f);
}

/* "1.2 MB" style, for the table. */
static const char *human(int64_t bytes, char *buf, size_t cap)
{
    if (bytes < 0)
        return "-";
    const char *unit[] = { "B", "KB", "MB", "GB", "TB" };
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4)
        v /= 1024, u++;
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

static void row(FILE *f, const char *name, const char *a, const char *b)
{
    char buf[256];
    fprintf(f, "  %-28s %12s %12s\n", cli_text(name, buf, sizeof buf), a, b);
}

static void count_row(FILE *f, const char *name, int64_t a, int64_t b)
{
    char x[32], y[32];
    snprintf(x, sizeof x, "%lld", (long long)a);
    snprintf(y, sizeof y, "%lld", (long long)b);
    row(f, name, x, y);
}

/* Ops whose count changed: those of a in name order, then those new in b. */
static void changed_ops(FILE *f, const cli_stats *a, const cli_stats *b)
{
    for (int pass = 0; pass < 2; pass++) {
        const cli_stats *s = pass ? b : a;
        for (int k = 0; k < s->nops; k++) {
            const cli_opcount *o = &s->ops[k];
            if (pass && cli_stats_count(a, o->op, o->domain))
                continue;   /* listed in the first pass */
            int before = cli_stats_count(a, o->op, o->domain), after = cli_stats_count(b, o->op, o->domain);
            if (before == after)
                continue;
            char name[512];
            snprintf(name, sizeof name, "%s%s%s", *o->domain ? o->domain : "", *o->domain ? "::" : "", o->op);
            count_row(f, name, before, after);
        }
    }
}

void cli_stats_table(FILE *f, const cli_stats *a, const cli_stats *b, int64_t size_a, int64_t size_b)
{
    char x[32], y[32];
    row(f, "", "before", "after");
    changed_ops(f, a, b);
    count_row(f, "nodes", a->nodes, b->nodes);
    count_row(f, "parameters", a->params, b->params);
    row(f, "model size", human(size_a, x, sizeof x), human(size_b, y, sizeof y));
}
