/*
 * widen.c - float16 computed in float32, for a target whose runtime does so
 * anyway (profile field "float16_compute": "float32": every x86-64 CPU
 * runtime; ONNX Runtime's CPU provider inserts these very casts when it
 * loads a float16 model, and at its level `all` folds the weights' casts).
 *
 * A node of an op in the table below whose floating inputs and outputs are
 * all float16 is made to compute in float32: a float16 weight becomes a
 * float32 initializer (exact), any other float16 input is cast up once for
 * all its readers, and each output is cast down for the readers that stay
 * float16 and for the graph's outputs. Between two widened nodes the value
 * stays float32: its rounding to float16 is skipped, as the runtime skips
 * it. The graph's interface keeps its types and names.
 */
#include "gs_ops.h"

#include <string.h>

/* Ops that compute the same in float32 on float16 values cast up (the
 * arithmetic ones up to the rounding of their result; the data-movement ones
 * exactly): every floating input and output of theirs shares one type. */
static const char *const widen_ops[] = {
    "Abs", "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv", "ConvTranspose",
    "DepthToSpace", "Div", "Elu", "Erf", "Exp", "Expand", "Flatten", "Gather", "Gelu", "Gemm",
    "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "HardSwish", "InstanceNormalization",
    "LayerNormalization", "LeakyRelu", "Log", "LogSoftmax", "MatMul", "Max", "MaxPool", "Min", "Mul",
    "Neg", "PRelu", "Pad", "Pow", "Reciprocal", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceSum",
    "Relu", "Reshape", "Selu", "Sigmoid", "Slice", "Softmax", "Softplus", "SpaceToDepth", "Split",
    "Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "Tile", "Transpose", "Unsqueeze", "Where",
};

static bool in_table(const char *op)
{
    for (size_t i = 0; i < sizeof widen_ops / sizeof *widen_ops; i++)
        if (!strcmp(widen_ops[i], op))
            return true;
    return false;
}

/* n computes in float16 only, and its op is in the table. */
static bool widenable(const gs_graph *g, const gs_node *n)
{
    if ((n->flags & GS_N_DEAD) || n->domain[0] || !n->def || n->ncaps || !in_table(n->op))
        return false;
    bool half = false;
    for (int k = 0; k < n->nin + n->nout; k++) {
        gs_id v = k < n->nin ? n->in[k] : n->out[k - n->nin];
        if (v == GS_NONE)
            continue;
        int32_t dt = g->values[v].dtype;
        if (!dt || (gs_op_floatlike(dt) && dt != GS_FLOAT16))
            return false;
        half |= dt == GS_FLOAT16;
    }
    return half;
}

/* A new float32 value shaped as v (unnamed: gs_ir_unique_name), or GS_NONE. */
static gs_id wide_value(gs_graph *g, gs_id v)
{
    const char *name = gs_ir_unique_name(g, g->values[v].name);
    gs_id w = name ? gs_ir_add_value(g, name, false) : GS_NONE;
    if (w == GS_NONE)
        return GS_NONE;
    gs_value *src = &g->values[v], *dst = &g->values[w];
    dst->dtype = GS_FLOAT;
    dst->flags |= GS_V_TYPED;
    dst->rank = src->rank;
    if (src->rank > 0 && !(dst->dims = gs_arena_memdup(&g->arena, src->dims, (size_t)src->rank * sizeof *src->dims)))
        return gs_nomem(g->ctx), GS_NONE;
    return w;
}

/* A Cast node from value a to value b (to: b's type). */
static gs_status add_cast(gs_graph *g, gs_id a, gs_id b, int32_t to)
{
    gs_attr *at = gs_arena_alloc(&g->arena, sizeof *at);
    const char *name = gs_ir_unique_node_name(g, g->values[b].name);
    if (!at || !name)
        return gs_nomem(g->ctx);
    gs_id c = gs_ir_add_node(g, "Cast", "", name, &a, 1, &b, 1);
    if (c == GS_NONE)
        return GS_ERR_NOMEM;
    at->name = "to", at->type = GS_A_INT, at->i = to;
    g->nodes[c].attrs = at;
    g->nodes[c].nattrs = 1;
    return GS_OK;
}

/* A float32 initializer holding the float16 initializer v's values, or GS_NONE. */
static gs_id wide_init(gs_model *m, gs_graph *g, gs_id v)
{
    const gs_tensor *h = g->values[v].init;
    gs_tensor *t = gs_tensor_new(g->ctx);
    if (!t)
        return gs_nomem(g->ctx), GS_NONE;
    t->dtype = GS_FLOAT;
    t->rank = h->rank;
    memcpy(t->dims, h->dims, sizeof t->dims);
    if (gs_tensor_alloc(g->ctx, t) != GS_OK || gs_model_own(m, t) != GS_OK) {
        gs_tensor_free(g->ctx, t);
        return gs_nomem(g->ctx), GS_NONE;
    }
    const unsigned char *src = h->data;   /* a mapped weight may sit at any offset */
    float *dst = t->data;
    for (int64_t i = 0, n = gs_tensor_numel(h); i < n; i++) {
        uint16_t bits;
        memcpy(&bits, src + 2 * i, sizeof bits);
        dst[i] = gs_half_to_float(bits);
    }
    return gs_ir_add_init(g, g->values[v].name, t);
}

/* The float32 form of the float16 value v (wide[v]), made on first use. */
static gs_id widened(gs_model *m, gs_graph *g, gs_id *wide, gs_id v)
{
    if (wide[v] != GS_NONE)
        return wide[v];
    const gs_value *val = &g->values[v];
    gs_id w;
    if (val->init && val->init->data && !(val->flags & GS_V_INPUT))
        w = wide_init(m, g, v);     /* a weight: converted once, exactly */
    else if ((w = wide_value(g, v)) != GS_NONE && add_cast(g, v, w, GS_FLOAT) != GS_OK)
        w = GS_NONE;
    return wide[v] = w;
}

/* Node id computes in float32; its float16 outputs keep their ids and
 * names, each now made by a Cast from the node's new float32 output. */
static gs_status widen_node(gs_model *m, gs_graph *g, gs_id *wide, gs_id id)
{
    for (int k = 0; k < g->nodes[id].nin; k++) {
        gs_id v = g->nodes[id].in[k];
        if (v == GS_NONE || g->values[v].dtype != GS_FLOAT16)
            continue;
        gs_id w = widened(m, g, wide, v);
        if (w == GS_NONE)
            return GS_ERR_NOMEM;
        gs_status st = gs_ir_set_input(g, id, k, w);
        if (st != GS_OK)
            return st;
    }
    for (int k = 0; k < g->nodes[id].nout; k++) {
        gs_id o = g->nodes[id].out[k];
        if (o == GS_NONE || g->values[o].dtype != GS_FLOAT16)
            continue;
        gs_id w = wide_value(g, o);
        if (w == GS_NONE)
            return GS_ERR_NOMEM;
        g->nodes[id].out[k] = w;
        g->values[w].producer = id;
        g->values[o].producer = GS_NONE;
        gs_status st = add_cast(g, w, o, GS_FLOAT16);
        if (st != GS_OK)
            return st;
        wide[o] = w;
    }
    return GS_OK;
}

/* A float16 weight nothing reads any more gives its name to its float32
 * form (wide[v], for the first n values), so the model's weights keep
 * their names. */
static void keep_weight_names(gs_graph *g, const gs_id *wide, int32_t n)
{
    for (int32_t v = 0; v < n; v++) {
        const gs_value *val = &g->values[v];
        if (wide[v] == GS_NONE || !val->init || !g->values[wide[v]].init || val->nuses ||
            (val->flags & (GS_V_OUTPUT | GS_V_INPUT)))
            continue;
        gs_ir_swap_names(g, v, wide[v]);
        g->values[wide[v]].init->name = g->values[wide[v]].name;
    }
}

gs_status gs_widen_float16(gs_model *m, gs_graph *g, int *count)
{
    *count = 0;
    int32_t n0 = g->nvalues, nn = g->nnodes;
    gs_id *order = gs_alloc(g->ctx, ((size_t)nn + 1) * sizeof *order);
    gs_id *wide = gs_alloc(g->ctx, ((size_t)n0 + 1) * sizeof *wide);
    if (!order || !wide) {
        gs_dealloc(g->ctx, order);
        gs_dealloc(g->ctx, wide);
        return gs_nomem(g->ctx);
    }
    for (int32_t v = 0; v < n0; v++)
        wide[v] = GS_NONE;
    int live = gs_ir_topo(g, order);
    gs_status st = live == -2 ? GS_ERR_NOMEM : GS_OK;
    for (int i = 0; st == GS_OK && i < live; i++)
        if (widenable(g, &g->nodes[order[i]])) {
            st = widen_node(m, g, wide, order[i]);
            ++*count;
        }
    if (st == GS_OK)
        keep_weight_names(g, wide, n0);
    gs_dealloc(g->ctx, order);
    gs_dealloc(g->ctx, wide);
    if (st == GS_OK && *count) {
        gs_ir_dce(g);                  /* the down-casts nothing reads */
        gs_ir_drop_unused_inits(g);    /* the float16 weights now read in float32 */
    }
    return st;
}
