/*
 * opset.c - raising a model's default-domain opset without changing what it
 * computes, so rules for newer ops (LayerNormalization at 17, Gelu at 20)
 * can apply to models exported at an older opset.
 *
 * Only models at opset GS_RAISE_MIN or later are raised, to at most
 * GS_RAISE_MAX. Every op of the default domain in the model (subgraphs
 * included) must say in its registry row (gs_opdef.raise) that it keeps its
 * meaning at every opset in that range given its defaults, or that its
 * signature changed in a way a local conversion undoes (Reduce* axes from
 * attribute to input at 18, Split's num_outputs at 18), or that its meaning
 * changed only in a corner the node can be seen to avoid (from 22 a pool
 * with ceil_mode drops windows that start in the right padding; from 24 a
 * Cast to a float8 type saturates infinities differently). Opsets 22 to 24
 * otherwise only added types (22: bfloat16 for the float ops; 23, 24: 4-bit
 * and float8 types) and ops (RMSNormalization, RotaryEmbedding, Attention at
 * 23; Attention's nonpad_kv_seqlen input, Swish, TensorScatter at 24); IR
 * versions 11 and 12 go with 23 and 24. Any other op
 * (RoiAlign and GridSample changed their defaults, GroupNormalization its
 * scale shape, the quantization ops their saturation; an op without a row)
 * leaves the model unchanged with an error naming it. Nodes of other domains
 * are carried through as they are.
 */
#include "gs_ops.h"

#include <stdio.h>
#include <string.h>

static bool default_domain(const gs_node *n)
{
    return !*n->domain || !strcmp(n->domain, "ai.onnx");
}

/* Why node n keeps the model from being raised from opset `from` to `to`, or NULL. */
static const char *blocker(const gs_graph *g, const gs_node *n, int64_t from, int64_t to)
{
    if (!n->def)
        return "graphsub does not know the op, so not whether it keeps its meaning";
    gs_raise r = (gs_raise)n->def->raise;
    if (r == GS_RAISE_NO)
        return "its meaning or signature changed at a later opset";
    if (r == GS_RAISE_POOL_CEIL && from < 22 && to >= 22 && gs_attr_int(n, "ceil_mode", 0))
        return "with ceil_mode its windows changed at opset 22";
    if (r == GS_RAISE_CAST_FLOAT8 && from < 24 && to >= 24) {
        /* Cast's target is its attribute, CastLike's the type of its second input */
        bool like = n->nin > 1;
        int64_t cast_to = like ? (n->in[1] != GS_NONE ? g->values[n->in[1]].dtype : 0) : gs_attr_int(n, "to", 0);
        if (!cast_to)
            return "its target type is not known";
        if (cast_to >= 17 && cast_to <= 20)
            return "casts to float8 saturate differently from opset 24";
    }
    if (r == GS_RAISE_INFERENCE_BN) {
        if (gs_attr_int(n, "training_mode", 0))
            return "training mode";
        for (int i = 1; i < n->nout; i++)
            if (n->out[i] != GS_NONE)
                return "its statistics outputs changed meaning at opset 14";
    }
    return NULL;
}

/* The first live default-domain node of g or its bodies that keeps the
 * model from being raised from `from` to `to` (*why says why), or NULL.
 * Reads only. */
static const gs_node *first_blocker(const gs_graph *g, int64_t from, int64_t to, const char **why)
{
    for (gs_id i = 0; i < g->nnodes; i++) {
        const gs_node *n = &g->nodes[i];
        if (!(n->flags & GS_N_DEAD) && default_domain(n) && (*why = blocker(g, n, from, to)))
            return n;
    }
    for (int32_t i = 0; i < g->nsubs; i++) {
        const gs_node *n = first_blocker(g->subs[i], from, to, why);
        if (n)
            return n;
    }
    return NULL;
}

static gs_status check_graph(const gs_graph *g, int64_t from, int64_t to)
{
    const char *why;
    const gs_node *n = first_blocker(g, from, to, &why);
    if (n)
        return gs_err(g->ctx, GS_ERR_UNSUPPORTED, "cannot raise the opset: node '%s' (%s): %s", n->name,
                      n->op, why);
    return GS_OK;
}

/* n's attributes without the one named name. */
static gs_status drop_attr(gs_graph *g, gs_node *n, const char *name)
{
    gs_attr *list = gs_arena_alloc(&g->arena, ((size_t)n->nattrs + 1) * sizeof *list);
    if (!list)
        return gs_nomem(g->ctx);
    int count = 0;
    for (int i = 0; i < n->nattrs; i++)
        if (strcmp(n->attrs[i].name, name))
            list[count++] = n->attrs[i];
    n->attrs = list;
    n->nattrs = count;
    n->hash_self = 0;
    return GS_OK;
}

/* Reduce*(x){axes=[...]} -> Reduce*(x, axes) with axes an int64 initializer. */
static gs_status axes_to_input(gs_graph *g, gs_id id)
{
    gs_node *n = &g->nodes[id];
    const gs_attr *a = gs_ir_attr(n, "axes");
    if (!a)
        return GS_OK;   /* every axis: the same with no axes input */
    if (a->type != GS_A_INTS || n->nin != 1)
        return gs_err(g->ctx, GS_ERR_MODEL, "node '%s' (%s): bad axes", n->name, n->op);
    gs_tensor *t = gs_arena_alloc(g->perm, sizeof *t);
    int64_t *data = gs_arena_alloc(g->perm, (a->n ? a->n : 1) * sizeof *data);
    if (!t || !data)
        return gs_nomem(g->ctx);
    memcpy(data, a->ints, a->n * sizeof *data);
    t->dtype = GS_INT64;
    t->rank = 1;
    t->dims[0] = (int64_t)a->n;
    t->data = data;
    t->nbytes = a->n * sizeof *data;
    char base[256];
    snprintf(base, sizeof base, "%s/axes", *n->name ? n->name : n->op);
    gs_id v = gs_ir_add_init(g, base, t);
    if (v == GS_NONE)
        return g->ctx->last ? g->ctx->last : GS_ERR_NOMEM;
    gs_status st = gs_ir_set_input(g, id, 1, v);
    return st == GS_OK ? drop_attr(g, &g->nodes[id], "axes") : st;
}

/* Split(x){...} with no split input -> Split(x){..., num_outputs=N}. */
static gs_status split_count(gs_graph *g, gs_node *n)
{
    if ((n->nin > 1 && n->in[1] != GS_NONE) || gs_ir_attr(n, "num_outputs"))
        return GS_OK;
    gs_attr *list = gs_arena_alloc(&g->arena, ((size_t)n->nattrs + 1) * sizeof *list);
    if (!list)
        return gs_nomem(g->ctx);
    memcpy(list, n->attrs, (size_t)n->nattrs * sizeof *list);
    list[n->nattrs] = (gs_attr){ .name = "num_outputs", .type = GS_A_INT, .i = n->nout };
    n->attrs = list;
    n->nattrs++;
    n->hash_self = 0;
    return GS_OK;
}

static gs_status convert_graph(gs_graph *g, int64_t from, int64_t to)
{
    gs_status st = GS_OK;
    for (gs_id i = 0; st == GS_OK && i < g->nnodes; i++) {
        gs_node *n = &g->nodes[i];
        if ((n->flags & GS_N_DEAD) || !default_domain(n) || from >= 18 || to < 18)
            continue;
        gs_raise r = (gs_raise)n->def->raise;   /* check_graph saw a row */
        if (r == GS_RAISE_AXES_TO_INPUT)
            st = axes_to_input(g, i);
        else if (r == GS_RAISE_SPLIT_COUNT)
            st = split_count(g, n);
    }
    for (int32_t i = 0; st == GS_OK && i < g->nsubs; i++)
        st = convert_graph(g->subs[i], from, to);
    return st;
}

int64_t gs_opset_ir_version(int64_t opset)
{
    static const int64_t first[][2] = { { 24, 12 }, { 23, 11 }, { 21, 10 }, { 19, 9 }, { 15, 8 },
                                        { 12, 7 }, { 11, 6 }, { 10, 5 }, { 9, 4 }, { 0, 3 } };
    int i = 0;
    while (opset < first[i][0])
        i++;
    return first[i][1];
}

bool gs_opset_can_raise(gs_model *m, int64_t target)
{
    int64_t from = gs_model_opset_of(m, "");
    if (target <= from || from < GS_RAISE_MIN || target > GS_RAISE_MAX)
        return false;
    const char *why;
    return !gs_onnx_function_with_opset(m) && !first_blocker(m->graph, from, target, &why);
}

gs_status gs_opset_raise(gs_model *m, int64_t target)
{
    int64_t from = gs_model_opset_of(m, "");
    if (target <= from)
        return GS_OK;
    if (from < GS_RAISE_MIN || target > GS_RAISE_MAX)
        return gs_err(m->ctx, GS_ERR_UNSUPPORTED, "cannot raise the opset from %lld to %lld (from %d or "
                      "later, to %d at most)", (long long)from, (long long)target, GS_RAISE_MIN, GS_RAISE_MAX);
    const char *fn = gs_onnx_function_with_opset(m);
    if (fn)
        return gs_err(m->ctx, GS_ERR_UNSUPPORTED, "cannot raise the opset: the model-local function '%s' imports "
                      "opset %lld and is still called", fn, (long long)from);
    gs_status st = check_graph(m->graph, from, target);
    if (st == GS_OK)
        st = convert_graph(m->graph, from, target);
    if (st != GS_OK)
        return st;
    for (int32_t i = 0; i < m->nopsets; i++)
        if (!*m->opsets[i].domain || !strcmp(m->opsets[i].domain, "ai.onnx"))
            m->opsets[i].version = target;
    gs_ir_set_opset(m->graph, target);   /* and each node's row at the new opset */
    if (m->min_ir_version < gs_opset_ir_version(target))
        m->min_ir_version = gs_opset_ir_version(target);
    return GS_OK;
}
