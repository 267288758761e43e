/*
 * cmd_run.c - graphsub run: run a model in the reference interpreter on the
 * inputs of a test-data folder (or random inputs), and compare with or write
 * the outputs.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: graphsub run IN.onnx [--data DIR] [--seed S] [--rtol R] [--atol A] [--stats]\n"
    "\n"
    "Run IN.onnx in the reference interpreter. Inputs come from DIR/input_N.pb\n"
    "(onnx TensorProto files, the ONNX test-data layout), or are random (seeded by\n"
    "S) when DIR has none; then the random inputs are written to DIR/input_N.pb\n"
    "with the outputs, so DIR becomes a test set later runs compare against. When\n"
    "DIR/output_N.pb exist the outputs are compared with them (exit 1 on a\n"
    "mismatch, naming the output and the worst element); otherwise they are\n"
    "written there. Without --data each output's type and shape is printed.\n"
    "\n"
    "  --data DIR    test-data folder\n"
    "  --seed S      seed for random inputs (default 0)\n"
    "  --rtol R      relative tolerance (default 1e-3)\n"
    "  --atol A      absolute tolerance (default 1e-5)\n"
    "  --stats       print each output's min, max, mean, standard deviation, count\n"
    "                of NaN and infinite elements, and its first values\n"
    "  -h, --help    show this help\n"
    "An element passes when |got - want| <= atol + rtol * max(|want|, max|want| / 100).\n"
    "An op without a kernel is an error naming it (exit 3), never a wrong answer.\n";

typedef struct opts {
    const char *in, *data;
    long seed;
    double rtol, atol;
    bool stats;
    bool generated;     /* the inputs are random (DIR had none) */
} opts;

static int parse(int argc, char **argv, opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(help, stdout);
            return -1;
        }
        bool valued = !strcmp(a, "--data") || !strcmp(a, "--seed") || !strcmp(a, "--rtol") ||
                      !strcmp(a, "--atol");
        if (valued && i + 1 >= argc)
            return cli_usage("run", "%s needs a value", a);
        if (!strcmp(a, "--stats"))
            o->stats = true;
        else if (!strcmp(a, "--data"))
            o->data = argv[++i];
        else if (!strcmp(a, "--seed") && !cli_parse_long("run", a, argv[++i], &o->seed))
            return EXIT_USAGE;
        else if (!strcmp(a, "--rtol") && !cli_parse_double("run", a, argv[++i], &o->rtol))
            return EXIT_USAGE;
        else if (!strcmp(a, "--atol") && !cli_parse_double("run", a, argv[++i], &o->atol))
            return EXIT_USAGE;
        else if (!valued && a[0] == '-' && a[1])
            return cli_usage("run", "unknown option '%s'", a);
        else if (!valued && !o->in)
            o->in = a;
        else if (!valued)
            return cli_usage("run", "unexpected argument '%s'", a);
    }
    if (!o->in)
        return cli_usage("run", "no input model given");
    return 0;
}

/* Index of the first input whose type is not a tensor, or -1. */
static int non_tensor_input(const gs_model *m)
{
    for (int i = 0; i < gs_model_input_count(m); i++)
        if (gs_value_dtype(m, gs_model_input(m, i)) == GS_UNDEFINED)
            return i;
    return -1;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void file_name(char *buf, size_t n, const char *dir, const char *kind, int i)
{
    snprintf(buf, n, "%s/%s_%d.pb", dir, kind, i);
}

/* Older ONNX test data stores bfloat16 tensors as uint16 (the same bits). */
static void as_bfloat16(gs_array *a, gs_dtype want)
{
    if (a && want == GS_BFLOAT16 && a->dtype == GS_UINT16)
        a->dtype = GS_BFLOAT16;
}

/* A data tensor fits graph input v: the declared dtype, and the declared
 * rank and known dims when the model gives them. Prints the error (exit 3). */
static bool fits_input(const gs_model *m, int v, const gs_array *a, const char *path)
{
    const char *name = gs_value_name(m, v);
    gs_dtype want = gs_value_dtype(m, v);
    int rank = gs_value_rank(m, v);
    if (want != GS_UNDEFINED && a->dtype != want) {
        cli_error(EXIT_INPUT, "%s: input '%s' is declared %s, the file holds %s", path, name,
                  gs_dtype_str(want), gs_dtype_str(a->dtype));
        return false;
    }
    if (rank >= 0 && a->rank != rank) {
        cli_error(EXIT_INPUT, "%s: input '%s' is declared of rank %d, the file holds rank %d", path, name,
                  rank, a->rank);
        return false;
    }
    for (int k = 0; rank >= 0 && k < rank; k++) {
        int64_t d = gs_value_dim(m, v, k, NULL);
        if (d >= 0 && a->dims[k] != d) {
            cli_error(EXIT_INPUT, "%s: input '%s' dim %d is declared %lld, the file holds %lld", path, name,
                      k, (long long)d, (long long)a->dims[k]);
            return false;
        }
    }
    return true;
}

/* Inputs from files when the first exists, else random. A file that does
 * not fit its input is GS_ERR_MODEL with the error already printed (*printed). */
static gs_status load_inputs(gs_ctx *ctx, gs_model *m, opts *o, gs_array **in, bool *printed)
{
    int n = gs_model_input_count(m);
    char path[4096];
    if (o->data) {
        file_name(path, sizeof path, o->data, "input", 0);
        if (n > 0 && exists(path)) {
            for (int i = 0; i < n; i++) {
                file_name(path, sizeof path, o->data, "input", i);
                gs_status st = gs_array_load(ctx, path, &in[i]);
                if (st != GS_OK)
                    return st;
                as_bfloat16(in[i], gs_value_dtype(m, gs_model_input(m, i)));
                if (!fits_input(m, gs_model_input(m, i), in[i], path))
                    return *printed = true, GS_ERR_MODEL;
            }
            return GS_OK;
        }
    }
    o->generated = true;
    return gs_model_random_inputs(ctx, m, (uint64_t)o->seed, NULL, in);
}

/* Exit 2 when an output file to be written names an input: the model, its
 * external data or an input_N.pb (through a symbolic link, say). */
static int check_outputs(const gs_model *m, const opts *o)
{
    int nd = gs_model_data_file_count(m), nin = gs_model_input_count(m), nout = gs_model_output_count(m);
    cli_file *in = malloc((size_t)(1 + nd + nin) * sizeof *in);
    cli_file *out = malloc((size_t)(nin + nout + 1) * sizeof *out);
    char (*names)[4096] = malloc((size_t)(nin + nout + 1) * sizeof *names);
    int rc = in && out && names ? 0 : cli_error(EXIT_INTERNAL, "out of memory");
    for (int i = 0; rc == 0 && i < nin + nout; i++)
        file_name(names[i], sizeof names[i], o->data, i < nin ? "input" : "output", i < nin ? i : i - nin);
    if (rc == 0) {
        in[0] = (cli_file){ o->in, "input model" };
        for (int i = 0; i < nd; i++)
            in[1 + i] = (cli_file){ gs_model_data_file(m, i), "external data of the model" };
        int k = 0;
        for (int i = 0; i < nin; i++) {
            if (o->generated)   /* written too */
                out[k++] = (cli_file){ names[i], "input data" };
            else
                in[1 + nd + i] = (cli_file){ names[i], "input data" };
        }
        for (int i = 0; i < nout; i++)
            out[k++] = (cli_file){ names[nin + i], "output" };
        rc = cli_check_outputs(in, 1 + nd + (o->generated ? 0 : nin), out, k);
    }
    free(in);
    free(out);
    free(names);
    return rc;
}

/* The random inputs written to DIR/input_N.pb. */
static int write_inputs(gs_ctx *ctx, const gs_model *m, const opts *o, gs_array **in)
{
    char path[4096];
    for (int i = 0; i < gs_model_input_count(m); i++) {
        file_name(path, sizeof path, o->data, "input", i);
        gs_status st = gs_array_save(ctx, path, in[i]);
        if (st != GS_OK)
            return cli_fail(ctx, st);
    }
    return 0;
}

static int compare_or_write(gs_ctx *ctx, const gs_model *m, const opts *o, gs_array **in, gs_array **out)
{
    int n = gs_model_output_count(m), rc = 0;
    char path[4096];
    file_name(path, sizeof path, o->data, "output", 0);
    bool compare = exists(path);
    if (!compare && (rc = check_outputs(m, o)) != 0)
        return rc;
    if (!compare && o->generated && (rc = write_inputs(ctx, m, o, in)) != 0)
        return rc;
    for (int i = 0; i < n && rc != EXIT_INPUT; i++) {
        file_name(path, sizeof path, o->data, "output", i);
        const char *name = gs_value_name(m, gs_model_output(m, i));
        if (!compare) {
            gs_status st = gs_array_save(ctx, path, out[i]);
            if (st != GS_OK)
                return cli_fail(ctx, st);
            continue;
        }
        gs_array *want = NULL;
        gs_diff d;
        gs_status st = gs_array_load(ctx, path, &want);
        if (st == GS_OK)
            as_bfloat16(want, out[i]->dtype);
        if (st == GS_OK)
            st = gs_array_compare(ctx, out[i], want, o->rtol, o->atol, &d);
        gs_array_free(ctx, want);
        if (st == GS_ERR_MISMATCH) {
            printf("output %d '%s': %s\n", i, name, gs_ctx_errmsg(ctx));
            rc = EXIT_MISMATCH;
        } else if (st != GS_OK) {
            rc = cli_fail(ctx, st);
        } else if (!d.ok) {
            printf("output %d '%s': MISMATCH: max abs %g, max rel %g, worst element %lld: got %.9g, "
                   "expected %.9g\n", i, name, d.max_abs, d.max_rel, (long long)d.worst, d.got, d.want);
            rc = EXIT_MISMATCH;
        } else {
            printf("output %d '%s': ok (max abs %g, max rel %g)\n", i, name, d.max_abs, d.max_rel);
        }
    }
    return rc;
}

static void summary(const gs_model *m, gs_array **out)
{
    for (int i = 0; i < gs_model_output_count(m); i++) {
        const gs_array *a = out[i];
        printf("output %d '%s': %s [", i, gs_value_name(m, gs_model_output(m, i)), gs_dtype_str(a->dtype));
        for (int k = 0; k < a->rank; k++)
            printf("%s%lld", k ? "," : "", (long long)a->dims[k]);
        printf("]\n");
    }
}

/* Element i of a as a double (NaN for types without numbers). */
static double element(const gs_array *a, int64_t i)
{
    const unsigned char *p = a->data;
    switch (a->dtype) {
    case GS_FLOAT: { float v; memcpy(&v, p + i * 4, 4); return v; }
    case GS_DOUBLE: { double v; memcpy(&v, p + i * 8, 8); return v; }
    case GS_INT8: return ((const int8_t *)p)[i];
    case GS_UINT8: case GS_BOOL: return p[i];
    case GS_INT16: { int16_t v; memcpy(&v, p + i * 2, 2); return v; }
    case GS_UINT16: { uint16_t v; memcpy(&v, p + i * 2, 2); return v; }
    case GS_INT32: { int32_t v; memcpy(&v, p + i * 4, 4); return v; }
    case GS_UINT32: { uint32_t v; memcpy(&v, p + i * 4, 4); return v; }
    case GS_INT64: { int64_t v; memcpy(&v, p + i * 8, 8); return (double)v; }
    case GS_UINT64: { uint64_t v; memcpy(&v, p + i * 8, 8); return (double)v; }
    case GS_BFLOAT16: {
        uint16_t h; memcpy(&h, p + i * 2, 2);
        uint32_t b = (uint32_t)h << 16; float v; memcpy(&v, &b, 4); return v;
    }
    case GS_FLOAT16: {
        uint16_t h; memcpy(&h, p + i * 2, 2);
        int e = (h >> 10) & 31, m = h & 1023;
        double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
        return h & 0x8000 ? -v : v;
    }
    default: return NAN;
    }
}

/* Per output: min, max, mean and standard deviation of the finite
 * elements, NaN and infinity counts, and the first values. */
static void print_stats(const gs_model *m, gs_array **out)
{
    for (int i = 0; i < gs_model_output_count(m); i++) {
        const gs_array *a = out[i];
        int esize = gs_dtype_bytes(a->dtype);
        int64_t n = esize ? (int64_t)(a->nbytes / (size_t)esize) : 0, nan = 0, inf = 0, fin = 0;
        double lo = INFINITY, hi = -INFINITY, sum = 0, sq = 0;
        for (int64_t k = 0; k < n; k++) {
            double v = element(a, k);
            if (isnan(v)) { nan++; continue; }
            if (isinf(v)) { inf++; continue; }
            fin++, sum += v, sq += v * v;
            lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
        double mean = fin ? sum / (double)fin : NAN;
        double var = fin ? sq / (double)fin - mean * mean : NAN;
        char buf[256];
        printf("stats %d '%s': %lld elements, min %.6g, max %.6g, mean %.6g, std %.6g, %lld NaN, %lld inf; first:",
               i, cli_text(gs_value_name(m, gs_model_output(m, i)), buf, sizeof buf), (long long)n,
               fin ? lo : NAN, fin ? hi : NAN, mean, var > 0 ? sqrt(var) : 0.0, (long long)nan, (long long)inf);
        for (int64_t k = 0; k < n && k < 8; k++)
            printf(" %.6g", element(a, k));
        printf("%s\n", n > 8 ? " ..." : "");
    }
}

int cmd_run(int argc, char **argv)
{
    opts o = { .rtol = 1e-3, .atol = 1e-5 };
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    gs_ctx *ctx = cli_ctx();
    if (!ctx)
        return EXIT_INTERNAL;
    gs_model *m = NULL;
    gs_array **in = NULL, **out = NULL;
    bool printed = false;
    gs_status st = gs_model_load(ctx, o.in, &m);
    int bad = st == GS_OK ? non_tensor_input(m) : -1;
    if (bad >= 0) {
        rc = cli_error(EXIT_INPUT, "%s: input '%s' is not a tensor: sequence, map and optional "
                       "inputs are not supported", o.in, gs_value_name(m, gs_model_input(m, bad)));
        gs_model_free(m);
        cli_ctx_free(ctx);
        return rc;
    }
    if (st == GS_OK) {
        in = calloc((size_t)gs_model_input_count(m) + 1, sizeof *in);
        out = calloc((size_t)gs_model_output_count(m) + 1, sizeof *out);
        st = in && out ? load_inputs(ctx, m, &o, in, &printed) : GS_ERR_NOMEM;
    }
    if (st == GS_OK)
        st = gs_model_run(ctx, m, (const gs_array *const *)in, gs_model_input_count(m), out);
    if (st != GS_OK && printed)
        rc = EXIT_INPUT;
    else if (st != GS_OK)
        rc = st == GS_ERR_NOMEM && !in ? cli_error(EXIT_INTERNAL, "out of memory") : cli_fail(ctx, st);
    else if (o.data)
        rc = compare_or_write(ctx, m, &o, in, out);
    else
        summary(m, out);
    if (st == GS_OK && rc != EXIT_INPUT && rc != EXIT_INTERNAL && o.stats)
        print_stats(m, out);
    for (int i = 0; m && in && i < gs_model_input_count(m); i++)
        gs_array_free(ctx, in[i]);
    for (int i = 0; m && out && i < gs_model_output_count(m); i++)
        gs_array_free(ctx, out[i]);
    free(in);
    free(out);
    gs_model_free(m);
    cli_ctx_free(ctx);
    return rc;
}
