/*
 * walk_bodies.c - what a compiler embedding graphsub does with control
 * flow: optimize a model with If and Loop, then walk the main graph and
 * every body in it, at any depth, with the same calls (a body is read as a
 * model: gs_node_attr_graph), telling each value a body reads apart: its
 * inputs, its own weights, and captures of an enclosing graph's values.
 *
 * loop_if.onnx (examples/make_examples.py): y = x after n steps of
 * acc * scale on even steps, Relu(Relu(acc)) + bias on odd ones, a Loop
 * around an If. graphsub drops the loop body's Identity nodes, the second
 * Relu, and moves the weight scale into the branch that reads it.
 *
 * Usage: walk_bodies MODEL.onnx. Build: cc walk_bodies.c $(pkg-config
 * --cflags --libs graphsub). Exit status 0 when the result is as described.
 */
#include <graphsub.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tally {
    int relu, identity, nodes;   /* live nodes inside bodies, at any depth */
} tally;

/* Where value v of m comes from, for a reader of m (a model or a body). */
static void print_value(const gs_model *m, int v)
{
    gs_tensor_view t;
    int from = gs_value_outer(m, v);
    printf("%s", gs_value_name(m, v));
    if (from >= 0)
        printf(" (captured: value %d of the enclosing graph)", from);
    else if (gs_value_tensor(m, v, &t))
        printf(" (weight: %s, %zu bytes)", gs_dtype_str(t.dtype), t.nbytes);
}

static void indent(int depth)
{
    printf("%*s", 2 * depth, "");
}

static int walk(const gs_model *m, int depth, tally *t);

/* Every body of node n, each walked as a model of its own. */
static int walk_bodies(const gs_model *m, int n, int depth, tally *t)
{
    for (int k = 0; k < gs_node_attr_count(m, n); k++) {
        gs_attr_type type = gs_node_attr_type(m, n, k);
        int count = type == GS_ATTR_GRAPH ? 1 : type == GS_ATTR_GRAPHS ? gs_node_attr_list_count(m, n, k) : 0;
        for (int i = 0; i < count; i++) {
            const gs_model *b = gs_node_attr_graph(m, n, k, i);
            if (!b)
                return -1;   /* memory short */
            indent(depth + 1);
            printf("%s: inputs (", gs_node_attr_name(m, n, k));
            for (int j = 0; j < gs_model_input_count(b); j++)
                printf("%s%s", j ? ", " : "", gs_value_name(b, gs_model_input(b, j)));
            printf("), outputs (");
            for (int j = 0; j < gs_model_output_count(b); j++)
                printf("%s%s", j ? ", " : "", gs_value_name(b, gs_model_output(b, j)));
            printf(")\n");
            if (walk(b, depth + 2, t) != 0)
                return -1;
        }
    }
    return 0;
}

/* The live nodes of m in topological order, then their bodies. */
static int walk(const gs_model *m, int depth, tally *t)
{
    int *order = malloc(((size_t)gs_model_node_count(m) + 1) * sizeof *order);
    int n = order ? gs_model_topo_order(m, order) : -1;
    for (int j = 0; j < n; j++) {
        int i = order[j];
        indent(depth);
        printf("%s '%s' (", gs_node_op(m, i), gs_node_name(m, i));
        for (int k = 0; k < gs_node_input_count(m, i); k++) {
            printf("%s", k ? ", " : "");
            if (gs_node_input(m, i, k) >= 0)
                print_value(m, gs_node_input(m, i, k));
        }
        printf(")");
        for (int k = 0; k < gs_node_capture_count(m, i); k++)   /* implicit inputs, read by its bodies */
            printf("%s%s", k ? ", " : " and through its bodies: ", gs_value_name(m, gs_node_capture(m, i, k)));
        printf("\n");
        if (depth > 0) {
            t->nodes++;
            t->relu += !strcmp(gs_node_op(m, i), "Relu");
            t->identity += !strcmp(gs_node_op(m, i), "Identity");
        }
        if (walk_bodies(m, i, depth, t) != 0)
            n = -1;
    }
    free(order);
    return n < 0 ? -1 : 0;
}

/* The model's y for n = 3, x = [1, -2, 3, -4]. */
static gs_status run(gs_ctx *ctx, gs_model *m, float y[4])
{
    const int64_t four = 4;
    gs_array *in[2] = { gs_array_new(ctx, GS_INT64, 0, NULL), gs_array_new(ctx, GS_FLOAT, 1, &four) };
    gs_array *out[1] = { NULL };
    gs_status st = in[0] && in[1] ? GS_OK : GS_ERR_NOMEM;
    if (st == GS_OK) {
        memcpy(in[0]->data, &(int64_t){ 3 }, sizeof(int64_t));
        memcpy(in[1]->data, (float[]){ 1, -2, 3, -4 }, 4 * sizeof(float));
        st = gs_model_run(ctx, m, (const gs_array *const *)in, 2, out);
    }
    if (st == GS_OK)
        memcpy(y, out[0]->data, 4 * sizeof(float));
    gs_array_free(ctx, in[0]);
    gs_array_free(ctx, in[1]);
    gs_array_free(ctx, out[0]);
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: walk_bodies MODEL.onnx\n");
        return 2;
    }
    gs_ctx *ctx = gs_ctx_new(NULL);
    gs_model *m = NULL;
    float before[4], after[4];
    if (!ctx)
        return 4;
    gs_status st = gs_model_load(ctx, argv[1], &m);
    if (st == GS_OK)
        st = run(ctx, m, before);
    if (st == GS_OK)
        st = gs_optimize(ctx, m, NULL, NULL);
    if (st == GS_OK)
        st = gs_model_compact(m);
    tally t = { 0, 0, 0 };
    if (st == GS_OK && walk(m, 0, &t) != 0)
        st = GS_ERR_NOMEM;
    if (st == GS_OK)
        st = run(ctx, m, after);
    if (st != GS_OK) {
        fprintf(stderr, "graphsub: %s\n", gs_ctx_errmsg(ctx));
        gs_model_free(m);
        gs_ctx_free(ctx);
        return 3;
    }
    const float want[4] = { 5, -1.5f, 0.875f, -0.75f };
    printf("%d nodes in bodies (gs_model_subgraph_node_count: %d), %d Relu, %d Identity; y = %g %g %g %g\n", t.nodes,
           gs_model_subgraph_node_count(m), t.relu, t.identity, after[0], after[1], after[2], after[3]);
    int ok = t.nodes == gs_model_subgraph_node_count(m) && t.relu == 1 && t.identity == 0 &&
             !memcmp(before, want, sizeof want) && !memcmp(after, want, sizeof want);
    gs_model_free(m);
    gs_ctx_free(ctx);
    printf("%s\n", ok ? "ok" : "UNEXPECTED RESULT");
    return ok ? 0 : 1;
}
