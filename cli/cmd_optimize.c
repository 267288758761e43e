/*
 * cmd_optimize.c - graphsub optimize: load, optimize, optionally verify,
 * write atomically, and report.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
    "usage: graphsub optimize IN.onnx [-o OUT.onnx] [--rules PATH]... [--no-default-rules]\n"
    "                         [-O0|-O1|-O2] [--alpha A] [--budget N] [--time-limit SEC]\n"
    "                         [--profile NAME|FILE] [--report REPORT.json] [--verify]\n"
    "                         [--dim NAME=VALUE]... [--input-shape NAME=D1,D2,...]...\n"
    "                         [--disable-rule RULE]... [--only-rule RULE]... [--opset N]\n"
    "                         [--external-data] [--quiet] [--search taso|ocggs|ocggs-sample]\n"
    "                         [--search-seed N]\n"
    "\n"
    "Rewrite IN.onnx into an equivalent model that the cost model estimates to be\n"
    "faster, and write it to OUT.onnx (default: IN.opt.onnx beside the input). The\n"
    "input is never modified unless -o names it; the output is written to a\n"
    "temporary file and renamed into place (through a symbolic link, to its\n"
    "target); '-', a character device or a FIFO is written directly. An output\n"
    "that would replace an input or another output is refused (exit 2). Unless\n"
    "--quiet, a table on standard error gives the ops whose count changed, nodes,\n"
    "parameters and model size before and after, then a summary line.\n"
    "\n"
    "  -o OUT.onnx          output file ('-': standard output)\n"
    "  -O0                  import and export only (a lossless round trip)\n"
    "  -O1                  cleanup rules, constant folding, then lowering rules; with\n"
    "                       the cleanup, Transposes that only carry elementwise ops (and\n"
    "                       Concat, Pad, Split, Resize, Slice, Gather, Softmax,\n"
    "                       reductions) into another layout and back are removed\n"
    "  -O2                  cleanup, the cost-guided search, cleanup, lowering (default);\n"
    "                       at -O1 and -O2 the nodes computing only from initializers\n"
    "                       are written first, then the others, in the input's order\n"
    "                       where it is still topological; calls of model-local\n"
    "                       functions are replaced by their nodes first\n"
    "  --rules PATH         add rules from a JSON file or a folder of them (repeatable)\n"
    "  --no-default-rules   use only the rules given with --rules\n"
    "  --disable-rule RULE  never apply the rule of that name (repeatable; exit 2 when\n"
    "                       no loaded rule has the name; 'graphsub rules list' names them)\n"
    "  --only-rule RULE     apply only the rules named so (repeatable)\n"
    "  --alpha A            keep candidates costing less than A x the best, A from 1 to 10\n"
    "                       (default 1.05)\n"
    "  --budget N           candidates the search expands (default 400)\n"
    "  --search ALGO        taso (default): best-first over every order of the rewrites;\n"
    "                       ocggs: the same, each set of independent rewrites in one\n"
    "                       order only, reusing the matches a rewrite left alone;\n"
    "                       ocggs-sample: a step at a time, keeping a weighted\n"
    "                       sample of each step's candidates\n"
    "  --search-seed N      the random draws of ocggs-sample (default 0)\n"
    "  --time-limit SEC     time limit in seconds of the search and of each cleanup\n"
    "                       phase (default 10)\n"
    "  --profile NAME|FILE  device profile for the cost model (default: generic x86-64):\n"
    "                       a file, or the name of an installed one (onnxruntime-cpu,\n"
    "                       x86-64, arm-a76, unfused-x86-64); a profile's \"opset\" raises\n"
    "                       the model to that opset when every op keeps its meaning (as\n"
    "                       --opset, without the error)\n"
    "  --report FILE        write a JSON report: version, paths, options, op histograms,\n"
    "                       nodes, parameters, cost, rewrites with their nodes, search,\n"
    "                       timings\n"
    "  --verify             run both models on random inputs and refuse to write the\n"
    "                       output when they differ (exit 1); the output is run as\n"
    "                       written (serialized and read back); symbolic input dims not\n"
    "                       bound take two bindings of values from 2 to 6 (see\n"
    "                       graphsub verify)\n"
    "  --dim NAME=VALUE     bind the symbolic input dim NAME to VALUE before optimizing\n"
    "                       (repeatable; exit 2 when no input has a dim of that name)\n"
    "  --input-shape NAME=D1,D2,...\n"
    "                       fix the shape of input NAME before optimizing; its symbolic\n"
    "                       dims are bound everywhere (repeatable; exit 2 for an unknown\n"
    "                       input, another rank or a dim that contradicts the model)\n"
    "  --opset N            first raise the model's opset to N (at most 24, from 13 or\n"
    "                       later) when every op keeps its meaning, so that fusions into\n"
    "                       newer ops apply (LayerNormalization 17, Gelu 20,\n"
    "                       RMSNormalization, RotaryEmbedding, Attention 23); exit 3\n"
    "                       naming the op when one does not\n"
    "  --external-data      write tensors of 1 KiB or more to OUT.onnx.data\n"
    "  --quiet              print nothing on success (no table, no progress line)\n"
    "  -h, --help           show this help\n"
    "Every option also takes the form --name=VALUE. On a terminal, a search of more\n"
    "than a second shows one progress line (regions searched, candidates expanded,\n"
    "the model's best estimated cost), updated at most four times a second.\n";

enum { MAX_RULE_PATHS = 64, MAX_DIMS = 32, MAX_NAMES = 256 };

typedef struct opts {
    const char *in, *out, *report;
    const char *rules[MAX_RULE_PATHS + 1];
    int nrules;
    const char *dims[MAX_DIMS + 1];  /* --dim NAME=VALUE, NULL-terminated */
    int ndims;
    const char *shapes[MAX_DIMS + 1];   /* --input-shape NAME=D1,D2,... */
    int nshapes;
    const char *disabled[MAX_NAMES + 1], *only[MAX_NAMES + 1];   /* NULL-terminated */
    int ndisabled, nonly;
    char *profile;                   /* the file --profile names (malloc'd) */
    char *vdims[2 * MAX_DIMS + 1];   /* verify's bindings: --dim, then the input shapes' (malloc'd) */
    gs_optimize_opts go;
    bool external, quiet, verify;
} opts;

/* The dims of "NAME=D1,D2,..." into dims[16]: the rank, or -1 when malformed
 * ("NAME=" is a scalar, rank 0). */
static int parse_shape(const char *s, int64_t *dims)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return -1;
    int rank = 0;
    for (const char *p = eq + 1; *p;) {
        long long v = 0;
        const char *start = p;
        for (; *p >= '0' && *p <= '9'; p++)
            if ((v = v * 10 + (*p - '0')) > 2147483647LL)
                return -1;
        if (p == start || rank == 16 || (*p && *p != ',') || (*p == ',' && !p[1]))
            return -1;
        dims[rank++] = v;
        p += *p == ',';
    }
    return rank;
}

static int need(int argc, char **argv, int i)
{
    if (i + 1 >= argc)
        return cli_usage("optimize", "%s needs a value", argv[i]);
    return 0;
}

/* --search ALGO or --search-seed N. */
static int parse_search(const char *a, const char *v, opts *o)
{
    static const char *const names[] = { "taso", "ocggs", "ocggs-sample" };   /* GS_SEARCH_* order */
    long l;
    if (!strcmp(a, "--search-seed")) {
        if (!cli_parse_long("optimize", a, v, &l))
            return EXIT_USAGE;
        if (l < 0 || l > 4294967295L)
            return cli_usage("optimize", "--search-seed must be between 0 and 4294967295, got '%s'", v);
        o->go.search_seed = (unsigned)l;
        return 0;
    }
    for (int i = 0; i < 3; i++)
        if (!strcmp(v, names[i]))
            return o->go.search = i, 0;
    return cli_usage("optimize", "--search must be taso, ocggs or ocggs-sample, got '%s'", v);
}

/* One option at argv[*i]; returns 0, an exit status, or -1 after --help. */
static int parse_one(int argc, char **argv, int *i, opts *o)
{
    const char *a = argv[*i];
    double d;
    long l;
    if (cli_is_help(a)) {
        fputs(help, stdout);
        return -1;
    }
    if (!strcmp(a, "-O0") || !strcmp(a, "-O1") || !strcmp(a, "-O2")) {
        o->go.level = a[2] - '0';
        return 0;
    }
    if (!strcmp(a, "--external-data"))
        return o->external = true, 0;
    if (!strcmp(a, "--quiet"))
        return o->quiet = true, 0;
    if (!strcmp(a, "--verify"))
        return o->verify = true, 0;
    if (!strcmp(a, "--no-default-rules"))
        return o->go.no_default_rules = 1, 0;
    bool valued = !strcmp(a, "-o") || !strcmp(a, "--rules") || !strcmp(a, "--alpha") ||
                  !strcmp(a, "--budget") || !strcmp(a, "--time-limit") ||
                  !strcmp(a, "--profile") || !strcmp(a, "--report") || !strcmp(a, "--opset") ||
                  !strcmp(a, "--dim") || !strcmp(a, "--input-shape") ||
                  !strcmp(a, "--disable-rule") || !strcmp(a, "--only-rule") ||
                  !strcmp(a, "--search") || !strcmp(a, "--search-seed");
    if (!valued)
        return cli_usage("optimize", "unknown option '%s'", a);
    if (need(argc, argv, *i))
        return EXIT_USAGE;
    const char *v = argv[++*i];
    if (!strcmp(a, "-o"))
        o->out = v;
    else if (!strcmp(a, "--search") || !strcmp(a, "--search-seed"))
        return parse_search(a, v, o);
    else if (!strcmp(a, "--dim")) {
        if (o->ndims == MAX_DIMS || !cli_dim_ok(v))
            return cli_usage("optimize", "--dim needs NAME=VALUE with VALUE an integer from 0 to "
                             "2147483647 (at most %d), got '%s'", MAX_DIMS, v);
        o->dims[o->ndims++] = v;
    } else if (!strcmp(a, "--input-shape")) {
        int64_t dims[16];
        if (o->nshapes == MAX_DIMS || parse_shape(v, dims) < 0)
            return cli_usage("optimize", "--input-shape needs NAME=D1,D2,... with each D an integer "
                             "from 0 to 2147483647, at most 16 (at most %d options), got '%s'", MAX_DIMS, v);
        o->shapes[o->nshapes++] = v;
    } else if (!strcmp(a, "--disable-rule") || !strcmp(a, "--only-rule")) {
        bool dis = a[2] == 'd';
        if ((dis ? o->ndisabled : o->nonly) == MAX_NAMES || !*v)
            return cli_usage("optimize", "%s needs a rule name (at most %d)", a, MAX_NAMES);
        if (dis)
            o->disabled[o->ndisabled++] = v;
        else
            o->only[o->nonly++] = v;
    } else if (!strcmp(a, "--profile")) {
        free(o->profile);
        if (!(o->profile = cli_profile_path("optimize", v)))
            return EXIT_USAGE;
        o->go.profile_path = o->profile;
    }
    else if (!strcmp(a, "--report"))
        o->report = v;
    else if (!strcmp(a, "--rules")) {
        if (o->nrules == MAX_RULE_PATHS)
            return cli_usage("optimize", "at most %d --rules options", MAX_RULE_PATHS);
        o->rules[o->nrules++] = v;
    } else if (!strcmp(a, "--alpha")) {
        if (!cli_parse_double("optimize", a, v, &d))
            return EXIT_USAGE;
        if (!(d >= 1.0 && d <= 10.0))
            return cli_usage("optimize", "--alpha must be between 1 and 10, got '%s'", v);
        o->go.alpha = d;
    } else if (!strcmp(a, "--opset")) {
        if (!cli_parse_long("optimize", a, v, &l))
            return EXIT_USAGE;
        if (l < 1 || l > 1000)
            return cli_usage("optimize", "--opset must be between 1 and 1000, got '%s'", v);
        o->go.target_opset = (int)l;
    } else if (!strcmp(a, "--budget")) {
        if (!cli_parse_long("optimize", a, v, &l))
            return EXIT_USAGE;
        if (l < 0 || l > 10000000)
            return cli_usage("optimize", "--budget must be between 0 and 10000000, got '%s'", v);
        o->go.budget = (int)l;
    } else {
        if (!cli_parse_double("optimize", a, v, &d))
            return EXIT_USAGE;
        if (!(d >= 0 && d <= 86400))
            return cli_usage("optimize", "--time-limit must be between 0 and 86400, got '%s'", v);
        o->go.time_limit = d;
    }
    return 0;
}

static int parse(int argc, char **argv, opts *o)
{
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            int rc = parse_one(argc, argv, &i, o);
            if (rc)
                return rc;
        } else if (!o->in) {
            o->in = argv[i];
        } else {
            return cli_usage("optimize", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!o->in)
        return cli_usage("optimize", "no input model given");
    o->rules[o->nrules] = NULL;
    o->go.rule_paths = o->rules;
    o->disabled[o->ndisabled] = o->only[o->nonly] = NULL;
    o->go.disabled_rules = o->ndisabled ? o->disabled : NULL;
    o->go.only_rules = o->nonly ? o->only : NULL;
    return 0;
}

/* IN.onnx -> IN.opt.onnx (or IN.opt.onnx appended when there is no .onnx). */
static char *default_output(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(n + 16);
    if (!out)
        return NULL;
    size_t stem = n > 5 && !strcmp(in + n - 5, ".onnx") ? n - 5 : n;
    memcpy(out, in, stem);
    strcpy(out + stem, ".opt.onnx");
    return out;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A progress line on a terminal once the search has run for a second,
 * rewritten at most four times a second, with figures of the whole graph. */
typedef struct progress {
    double start, last;
    bool shown;
} progress;

static int on_progress(void *ud, const gs_progress *p)
{
    progress *pr = ud;
    double t = now_ms();
    if (t - pr->start < 1000 || t - pr->last < 250)
        return 0;
    pr->last = t;
    fprintf(stderr, "\rgraphsub: searching: region %d of %d, %d candidates expanded, "
                    "estimated cost %.3f -> %.3f ms ", p->regions_done + 1 <= p->regions_total ?
                    p->regions_done + 1 : p->regions_total, p->regions_total, p->expanded,
            p->cost_start * 1e3, p->best_cost * 1e3);
    pr->shown = true;
    return 0;
}

typedef struct timings {
    double import, optimize, verify, export_;
    cli_stats before, after;             /* op histograms, nodes, parameters */
    int64_t size_before, size_after;     /* bytes of the files, -1 when unknown */
    int64_t opset_before, opset_after;   /* default domain; they differ after a raise */
    int sub_before, sub_after;           /* nodes inside If, Loop and Scan bodies */
} timings;

/* A NULL-terminated list of strings as a JSON array. */
static void json_list(FILE *f, const char *const *list)
{
    fputc('[', f);
    for (int i = 0; list && list[i]; i++) {
        fputs(i ? ", " : "", f);
        cli_json_str(f, list[i]);
    }
    fputc(']', f);
}

/* The matched nodes of a step as a JSON array: the names are joined by
 * commas, a comma or backslash inside a name preceded by a backslash. */
static void json_nodes(FILE *f, const char *joined)
{
    char *name = malloc(strlen(joined) + 1);
    fputc('[', f);
    for (const char *p = joined; name; p++) {
        bool first = p == joined;
        size_t n = 0;
        for (; *p && *p != ','; p++)
            name[n++] = *p == '\\' && p[1] ? *++p : *p;
        name[n] = '\0';
        fputs(first ? "" : ", ", f);
        cli_json_str(f, name);
        if (!*p)
            break;
    }
    fputc(']', f);
    free(name);
}

static void json_path(FILE *f, const char *key, const char *path)
{
    fprintf(f, "  \"%s\": ", key);
    if (path)
        cli_json_str(f, path);
    else
        fputs("null", f);
    fputs(",\n", f);
}

static void write_options_json(FILE *f, const opts *o)
{
    fprintf(f, "  \"options\": {\"level\": %d, \"alpha\": %g, \"budget\": %d, \"time_limit\": %g, "
               "\"opset\": %d, \"no_default_rules\": %s, \"external_data\": %s, \"verify\": %s,\n    "
               "\"profile\": ", o->go.level, o->go.alpha, o->go.budget, o->go.time_limit,
            o->go.target_opset, o->go.no_default_rules ? "true" : "false",
            o->external ? "true" : "false", o->verify ? "true" : "false");
    if (o->profile)
        cli_json_str(f, o->profile);
    else
        fputs("null", f);
    fputs(", \"rules\": ", f);
    json_list(f, o->rules);
    fputs(", \"disabled_rules\": ", f);
    json_list(f, o->disabled);
    fputs(", \"only_rules\": ", f);
    json_list(f, o->only);
    fputs(",\n    \"dims\": ", f);
    json_list(f, o->dims);
    fputs(", \"input_shapes\": ", f);
    json_list(f, o->shapes);
    fputs("},\n", f);
}

static void write_report_json(FILE *f, const gs_report *r, const opts *o, const timings *t,
                              const char *out)
{
    fprintf(f, "{\n  \"graphsub_version\": \"%s\",\n", gs_version());
    json_path(f, "input", o->in);
    json_path(f, "output", out);
    write_options_json(f, o);
    fprintf(f, "  \"nodes_before\": %d,\n  \"nodes_after\": %d,\n", r->nodes_before,
            r->nodes_after);
    fprintf(f, "  \"nodes_in_subgraphs_before\": %d,\n  \"nodes_in_subgraphs_after\": %d,\n",
            t->sub_before, t->sub_after);
    fputs("  \"ops_before\": ", f);
    cli_stats_json(f, &t->before);
    fputs(",\n  \"ops_after\": ", f);
    cli_stats_json(f, &t->after);
    fprintf(f, ",\n  \"parameters_before\": %lld,\n  \"parameters_after\": %lld,\n",
            (long long)t->before.params, (long long)t->after.params);
    fprintf(f, "  \"bytes_before\": %lld,\n  \"bytes_after\": %lld,\n", (long long)t->size_before,
            (long long)t->size_after);
    fprintf(f, "  \"opset_before\": %lld,\n  \"opset_after\": %lld,\n", (long long)t->opset_before,
            (long long)t->opset_after);
    fprintf(f, "  \"cost_before\": %.9g,\n  \"cost_after\": %.9g,\n  \"cost_unit\": \"seconds\",\n",
            r->cost_before, r->cost_after);
    fprintf(f, "  \"folded\": %d,\n  \"widened\": %d,\n  \"rewrites\": {", r->folded, r->widened);
    for (int i = 0; i < r->nrules; i++) {
        fprintf(f, "%s\n    ", i ? "," : "");
        cli_json_str(f, r->rule_names[i]);
        fprintf(f, ": %d", r->rule_counts[i]);
    }
    fprintf(f, "%s},\n  \"applied\": [", r->nrules ? "\n  " : "");
    for (int i = 0; i < r->nsteps; i++) {
        fprintf(f, "%s\n    {\"rule\": ", i ? "," : "");
        cli_json_str(f, r->steps[i].rule);
        fprintf(f, ", \"nodes\": ");
        json_nodes(f, r->steps[i].nodes);
        fprintf(f, ", \"cost_delta\": %.9g}", r->steps[i].cost_delta);
    }
    fprintf(f, "%s],\n", r->nsteps ? "\n  " : "");
    static const char *const algo[] = { "taso", "ocggs", "ocggs-sample" };
    fprintf(f, "  \"search\": {\"level\": %d, \"alpha\": %g, \"budget\": %d, \"time_limit\": %g, "
               "\"candidates\": %d, \"expanded\": %d, \"tried\": %d, \"time_ms\": %.3f, \"algorithm\": \"%s\"},\n",
            o->go.level, o->go.alpha, o->go.budget, o->go.time_limit, r->candidates, r->expanded,
            r->tried, r->time_ms, algo[o->go.search]);
    fprintf(f, "  \"timings_ms\": {\"import\": %.3f, \"optimize\": %.3f, \"verify\": %.3f, "
               "\"export\": %.3f}\n}\n", t->import, t->optimize, t->verify, t->export_);
}

/* The report as text (malloc'd, *n bytes), or NULL when memory is short. */
static char *report_text(const gs_report *r, const opts *o, const timings *t, const char *out,
                         size_t *n)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, n);
    if (!f)
        return NULL;
    write_report_json(f, r, o, t, out);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Write and commit the report opened before the model was written. */
static int write_report(gs_ctx *ctx, gs_output *ro, const gs_report *r, const opts *o,
                        const timings *t, const char *out)
{
    size_t n;
    char *text = report_text(r, o, t, out, &n);
    bool made = text != NULL;
    gs_status st = made ? gs_output_write(ro, text, n) : GS_ERR_NOMEM;
    free(text);
    if (st == GS_OK) {
        st = gs_output_commit(ro);
    } else {
        gs_output_abort(ro);
    }
    if (st == GS_OK)
        return 0;
    int rc = made ? cli_fail(ctx, st) : cli_error(EXIT_INTERNAL, "out of memory");
    cli_error(rc, "%s was written, the report %s was not", out, o->report);
    return rc;
}

/* The optimized model as it will be written: serialized to memory and read
 * back, so --verify runs the bytes, not only the graph (an attribute the
 * export took from the input file unchanged would pass otherwise). A model
 * past protobuf's 2 GiB, which is written with external data, is run as it
 * is in memory. */
static gs_status written_form(gs_ctx *ctx, gs_model *m, gs_model **out)
{
    void *buf = NULL;
    size_t size = 0;
    *out = NULL;
    gs_status st = gs_model_save_mem(m, &buf, &size);
    if (st == GS_OK && size < ((size_t)2 << 30) - 4096)
        st = gs_model_load_mem(ctx, buf, size, NULL, out);
    gs_free(ctx, buf);
    return st;
}

static gs_status optimize_and_verify(gs_ctx *ctx, gs_model *m, const opts *o, gs_report *rep,
                                     timings *t)
{
    double t0 = now_ms();
    progress pr = { t0, 0, false };
    gs_optimize_opts go = o->go;
    if (!o->quiet && isatty(2)) {
        go.progress_ex = on_progress;
        go.progress_ud = &pr;
    }
    t->opset_before = gs_model_opset(m, "");
    t->sub_before = gs_model_subgraph_node_count(m);
    gs_status st = gs_optimize(ctx, m, &go, rep);
    t->opset_after = gs_model_opset(m, "");
    t->sub_after = gs_model_subgraph_node_count(m);
    if (pr.shown)
        fputc('\n', stderr);
    t->optimize = now_ms() - t0;
    if (st != GS_OK || !o->verify)
        return st;
    t0 = now_ms();
    gs_model *orig = NULL, *written = NULL;
    gs_verify_opts vo = { GS_VERIFY_OPTS_VERSION, 0, 1, 0, 0, (const char *const *)o->vdims };
    st = gs_model_load(ctx, o->in, &orig);
    if (st == GS_OK)
        st = written_form(ctx, m, &written);
    if (st == GS_OK)
        st = gs_model_compare(ctx, orig, written ? written : m, &vo, NULL, NULL);
    gs_model_free(written);
    gs_model_free(orig);
    t->verify = now_ms() - t0;
    return st;
}

static int live_nodes(const gs_model *m)
{
    int n = 0;
    for (int i = 0; i < gs_model_node_count(m); i++)
        n += gs_node_is_live(m, i);
    return n;
}

static void summary(const gs_report *r, const char *out, const timings *t, const gs_model *m, int level)
{
    if (level == 0) {
        fprintf(stderr, "graphsub: wrote %s: lossless round trip, %d nodes, %.0f ms\n", out, live_nodes(m),
                t->import + t->export_);
        return;
    }
    char widened[96] = "";
    if (r->widened)   /* a change of precision is said, not silent */
        snprintf(widened, sizeof widened, ", %d float16 nodes computed in float32", r->widened);
    fprintf(stderr, "graphsub: wrote %s: %d -> %d nodes, estimated cost %.3f -> %.3f ms "
                    "(%.1f%%), %d rewrites%s, %.0f ms\n",
            out, r->nodes_before, r->nodes_after, r->cost_before * 1e3, r->cost_after * 1e3,
            r->cost_before > 0 ? 100.0 * (r->cost_after - r->cost_before) / r->cost_before : 0.0,
            r->nsteps, widened, t->import + t->optimize + t->verify + t->export_);
}

/* The command's inputs: the model and its external data first (n_model of
 * them), then rules and profile. Returns a malloc'd array of *n. */
static cli_file *inputs_of(const opts *o, const gs_model *m, int *n, int *n_model)
{
    int nd = gs_model_data_file_count(m);
    cli_file *in = malloc((size_t)(nd + o->nrules + 2) * sizeof *in);
    if (!in)
        return NULL;
    int k = 0;
    in[k++] = (cli_file){ o->in, "input model" };
    for (int i = 0; i < nd; i++)
        in[k++] = (cli_file){ gs_model_data_file(m, i), "external data of the input" };
    *n_model = k;
    for (int i = 0; i < o->nrules; i++)
        in[k++] = (cli_file){ o->rules[i], "rules" };
    if (o->go.profile_path)
        in[k++] = (cli_file){ o->go.profile_path, "profile" };
    *n = k;
    return in;
}

/* Exit 2 when an output would replace an input or another output. Only an
 * explicit -o may name the input model itself (an in-place rewrite, whose
 * external data then replaces the input's). */
static int check_paths(const opts *o, const char *out, const gs_model *m)
{
    int nin, nm;
    cli_file *in = inputs_of(o, m, &nin, &nm);
    char *xpath = o->external && strcmp(out, "-") ? cli_data_path(out) : NULL;
    if (!in || (o->external && strcmp(out, "-") && !xpath)) {
        free(in);
        return cli_error(EXIT_INTERNAL, "out of memory");
    }
    cli_file outs[3];
    int nout = 0;
    outs[nout++] = (cli_file){ out, "output model" };
    if (xpath)
        outs[nout++] = (cli_file){ xpath, "output's external data" };
    if (o->report)
        outs[nout++] = (cli_file){ o->report, "report" };
    int skip = o->out && cli_same_file(o->out, o->in) ? nm : 0;
    int rc = cli_check_outputs(in + skip, nin - skip, outs, nout);
    if (rc == 0 && skip && o->report)
        rc = cli_check_outputs(in, nm, &outs[nout - 1], 1);
    free(xpath);
    free(in);
    return rc;
}

/* Bytes of path and, when data is set, of path.data beside it; -1 when
 * path is not a regular file ("-", a FIFO). */
static int64_t file_bytes(const char *path, bool data)
{
    struct stat st;
    if (!strcmp(path, "-") || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    int64_t n = st.st_size;
    char *x = data ? cli_data_path(path) : NULL;
    if (x && stat(x, &st) == 0)
        n += st.st_size;
    free(x);
    return n;
}

static int64_t model_bytes(const gs_model *m, const char *path)
{
    int64_t n = file_bytes(path, false);
    struct stat st;
    for (int i = 0; n >= 0 && i < gs_model_data_file_count(m); i++)
        if (stat(gs_model_data_file(m, i), &st) == 0)
            n += st.st_size;
    return n;
}

/* Add "NAME=VALUE" to verify's bindings unless NAME is bound already. */
static int add_vdim(opts *o, const char *name, int64_t value)
{
    int n = 0;
    size_t len = strlen(name);
    for (; o->vdims[n]; n++)
        if (!strncmp(o->vdims[n], name, len) && o->vdims[n][len] == '=')
            return 0;
    if (n == 2 * MAX_DIMS)
        return 0;   /* verify gives the rest its own values */
    size_t cap = len + 24;
    if (!(o->vdims[n] = malloc(cap)))
        return cli_error(EXIT_INTERNAL, "out of memory");
    snprintf(o->vdims[n], cap, "%s=%lld", name, (long long)value);
    return 0;
}

/* The graph input named name, or -1. */
static int input_named(const gs_model *m, const char *name)
{
    for (int i = 0; i < gs_model_input_count(m); i++)
        if (!strcmp(gs_value_name(m, gs_model_input(m, i)), name))
            return gs_model_input(m, i);
    return -1;
}

/* --input-shape NAME=D1,D2,... on m; its input's symbolic dims go to verify's bindings. */
static int fix_shape(gs_ctx *ctx, gs_model *m, opts *o, const char *spec)
{
    int64_t dims[16];
    int rank = parse_shape(spec, dims), rc = 0;
    char *name = strndup(spec, (size_t)(strchr(spec, '=') - spec));
    if (!name)
        return cli_error(EXIT_INTERNAL, "out of memory");
    int v = input_named(m, name);
    for (int k = 0; v >= 0 && k < rank && k < gs_value_rank(m, v) && rc == 0; k++) {
        const char *sym;
        if (gs_value_dim(m, v, k, &sym) < 0 && sym)
            rc = add_vdim(o, sym, dims[k]);
    }
    gs_status st = rc ? GS_OK : gs_model_set_input_shape(m, name, rank, dims);
    free(name);
    return rc ? rc : st != GS_OK ? cli_fail(ctx, st) : 0;
}

/* --dim and --input-shape bound in m before optimizing; verify binds the
 * original model's dims to the same values. */
static int bind_shapes(gs_ctx *ctx, gs_model *m, opts *o)
{
    int rc = 0;
    for (int i = 0; i < o->ndims && rc == 0; i++) {
        const char *eq = strchr(o->dims[i], '=');
        char *name = strndup(o->dims[i], (size_t)(eq - o->dims[i]));
        long long value = atoll(eq + 1);
        if (!name)
            return cli_error(EXIT_INTERNAL, "out of memory");
        gs_status st = gs_model_bind_dim(m, name, value);
        rc = st != GS_OK ? cli_fail(ctx, st) : add_vdim(o, name, value);
        free(name);
    }
    for (int i = 0; i < o->nshapes && rc == 0; i++)
        rc = fix_shape(ctx, m, o, o->shapes[i]);
    return rc;
}

static int load(gs_ctx *ctx, opts *o, const char *out, gs_model **m, timings *t)
{
    double t0 = now_ms();
    gs_status st = gs_model_load(ctx, o->in, m);
    t->import = now_ms() - t0;
    if (st != GS_OK)
        return cli_fail(ctx, st);
    int rc = check_paths(o, out, *m);
    if (rc == 0 && !cli_stats_of(*m, &t->before))
        rc = cli_error(EXIT_INTERNAL, "out of memory");
    t->size_before = model_bytes(*m, o->in);
    return rc ? rc : bind_shapes(ctx, *m, o);
}

/* Optimize, then open the report (so an unwritable report stops the command
 * before the model is written), write the model, then the report. */
static int optimize_and_write(gs_ctx *ctx, const opts *o, const char *out, gs_model *m,
                              timings *t, gs_report *rep)
{
    gs_status st = optimize_and_verify(ctx, m, o, rep, t);
    if (st != GS_OK)
        return cli_fail(ctx, st);
    if (!cli_stats_of(m, &t->after))
        return cli_error(EXIT_INTERNAL, "out of memory");
    gs_output *ro = NULL;
    if (o->report && (st = gs_output_open(ctx, o->report, &ro)) != GS_OK)
        return cli_fail(ctx, st);
    gs_save_opts so = { GS_SAVE_OPTS_VERSION, o->external, 0 };
    double t0 = now_ms();
    st = gs_model_save(m, out, &so);
    t->export_ = now_ms() - t0;
    if (st != GS_OK) {
        gs_output_abort(ro);
        return cli_fail(ctx, st);
    }
    t->size_after = file_bytes(out, o->external);
    return ro ? write_report(ctx, ro, rep, o, t, out) : 0;
}

static int run(gs_ctx *ctx, opts *o, const char *out)
{
    timings t = { 0 };
    gs_report rep = { .version = GS_REPORT_VERSION };
    gs_model *m = NULL;
    int rc = load(ctx, o, out, &m, &t);
    if (rc == 0)
        rc = optimize_and_write(ctx, o, out, m, &t, &rep);
    if (rc == 0 && !o->quiet) {
        cli_stats_table(stderr, &t.before, &t.after, t.size_before, t.size_after);
        summary(&rep, out, &t, m, o->go.level);
    }
    cli_stats_free(&t.before);
    cli_stats_free(&t.after);
    gs_report_clear(ctx, &rep);
    gs_model_free(m);
    return rc;
}

int cmd_optimize(int argc, char **argv)
{
    opts o = { 0 };
    gs_optimize_opts_init(&o.go);
    int rc = parse(argc, argv, &o);
    if (rc) {
        free(o.profile);
        return rc < 0 ? 0 : rc;
    }
    char *defout = o.out ? NULL : default_output(o.in);
    const char *out = o.out ? o.out : defout;
    if (!out)
        return cli_error(EXIT_INTERNAL, "out of memory");
    gs_ctx *ctx = cli_ctx();
    rc = ctx ? run(ctx, &o, out) : EXIT_INTERNAL;
    cli_ctx_free(ctx);
    free(defout);
    free(o.profile);
    for (int i = 0; o.vdims[i]; i++)
        free(o.vdims[i]);
    return rc;
}
