/*
 * build_and_optimize.c - what a compiler embedding graphsub does: build a
 * small graph through the API (no protobuf), optimize it, and walk the
 * result in topological order with its attributes and weights.
 *
 *   y = Relu(Relu(BatchNormalization(Conv(x, w))))     x: [batch, 2, 5, 5]
 *
 * graphsub folds the BatchNormalization into the Conv's weight and bias and
 * drops the second Relu. Build: cc build_and_optimize.c $(pkg-config --cflags
 * --libs graphsub). Exit status 0 when the result is as described.
 */
#include <graphsub.h>

#include <stdio.h>
#include <string.h>

#if GS_VERSION_NUMBER < 100
#error "needs graphsub 0.1.0 or later"
#endif

static gs_status build(gs_ctx *ctx, gs_model **out)
{
    gs_builder *b = NULL;
    gs_status st = gs_builder_new(ctx, 17, &b);
    if (st != GS_OK)
        return st;
    const int64_t xdims[] = { -1, 2, 5, 5 }, wdims[] = { 3, 2, 3, 3 }, cdims[] = { 3 };
    const char *const xsyms[] = { "batch", NULL, NULL, NULL };
    float w[3 * 2 * 3 * 3], scale[3] = { 1, 2, 0.5f }, bias[3] = { 0.1f, 0, -0.1f };
    float mean[3] = { 0, 0.5f, 1 }, var[3] = { 1, 4, 0.25f };
    for (int i = 0; i < 54; i++)
        w[i] = (float)((i * 7) % 11 - 5) / 10;
    const int64_t pads[] = { 1, 1, 1, 1 };
    gs_builder_input(b, "x", GS_FLOAT, 4, xdims, xsyms);
    gs_builder_initializer(b, "w", GS_FLOAT, 4, wdims, w, sizeof w);
    gs_builder_initializer(b, "scale", GS_FLOAT, 1, cdims, scale, sizeof scale);
    gs_builder_initializer(b, "bias", GS_FLOAT, 1, cdims, bias, sizeof bias);
    gs_builder_initializer(b, "mean", GS_FLOAT, 1, cdims, mean, sizeof mean);
    gs_builder_initializer(b, "var", GS_FLOAT, 1, cdims, var, sizeof var);
    gs_builder_node(b, "Conv", NULL, "conv", (const char *[]){ "x", "w" }, 2, (const char *[]){ "c" }, 1);
    gs_builder_attr_ints(b, "pads", pads, 4);
    gs_builder_node(b, "BatchNormalization", NULL, "bn",
                    (const char *[]){ "c", "scale", "bias", "mean", "var" }, 5, (const char *[]){ "n" }, 1);
    gs_builder_attr_float(b, "epsilon", 1e-5f);
    gs_builder_node(b, "Relu", NULL, "relu1", (const char *[]){ "n" }, 1, (const char *[]){ "r" }, 1);
    gs_builder_node(b, "Relu", NULL, "relu2", (const char *[]){ "r" }, 1, (const char *[]){ "y" }, 1);
    st = gs_builder_output(b, "y", GS_FLOAT);   /* a failure above is returned here too */
    if (st != GS_OK) {
        gs_builder_free(b);
        return st;
    }
    return gs_builder_finish(b, out);
}

static void print_attr(const gs_model *m, int node, int k)
{
    const int64_t *ints;
    int n;
    printf("    %s =", gs_node_attr_name(m, node, k));
    switch (gs_node_attr_type(m, node, k)) {
    case GS_ATTR_INT: printf(" %lld", (long long)gs_node_attr_int(m, node, k)); break;
    case GS_ATTR_FLOAT: printf(" %g", gs_node_attr_float(m, node, k)); break;
    case GS_ATTR_INTS:
        n = gs_node_attr_ints(m, node, k, &ints);
        for (int i = 0; i < n; i++)
            printf(" %lld", (long long)ints[i]);
        break;
    default: printf(" (type %d)", gs_node_attr_type(m, node, k)); break;
    }
    printf("\n");
}

/* Walk the nodes in topological order; returns the number of node of op. */
static int walk(const gs_model *m, const char *count_op)
{
    int count = 0;
    for (int i = 0; i < gs_model_node_count(m); i++) {   /* compact: index order is topological */
        printf("node %d: %s '%s'\n", i, gs_node_op(m, i), gs_node_name(m, i));
        count += !strcmp(gs_node_op(m, i), count_op);
        for (int k = 0; k < gs_node_attr_count(m, i); k++)
            print_attr(m, i, k);
        for (int k = 0; k < gs_node_input_count(m, i); k++) {
            int v = gs_node_input(m, i, k);
            gs_tensor_view t;
            if (v >= 0 && gs_value_tensor(m, v, &t))
                printf("    input %d '%s': weight %s, %d dims, %zu bytes\n", k, gs_value_name(m, v),
                       gs_dtype_str(t.dtype), t.rank, t.nbytes);
            else if (v >= 0)
                printf("    input %d '%s'\n", k, gs_value_name(m, v));
        }
    }
    return count;
}

int main(void)
{
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_model *m = NULL;
    if (!ctx)
        return 4;
    gs_optimize_opts opts;
    gs_optimize_opts_init(&opts);
    gs_status st = build(ctx, &m);
    if (st == GS_OK)
        st = gs_optimize(ctx, m, &opts, NULL);
    if (st == GS_OK)
        st = gs_model_compact(m);   /* drop removed slots: nodes 0..n-1 in topological order */
    if (st != GS_OK) {
        fprintf(stderr, "graphsub: %s\n", gs_ctx_errmsg(ctx));
        gs_model_free(m);
        gs_ctx_free(ctx);
        return 3;
    }
    int relus = walk(m, "Relu"), nodes = gs_model_node_count(m);
    int bns = 0;
    for (int i = 0; i < nodes; i++)
        bns += !strcmp(gs_node_op(m, i), "BatchNormalization");
    int y = gs_model_output(m, 0);
    const char *sym = NULL;
    gs_value_dim(m, y, 0, &sym);
    printf("%d nodes; output '%s' of %d dims, the first '%s'\n", nodes, gs_value_name(m, y),
           gs_value_rank(m, y), sym ? sym : "?");
    int ok = nodes == 2 && relus == 1 && bns == 0 && gs_value_rank(m, y) == 4 && sym && !strcmp(sym, "batch");
    gs_model_free(m);
    gs_ctx_free(ctx);
    printf("%s\n", ok ? "ok" : "UNEXPECTED RESULT");
    return ok ? 0 : 1;
}
