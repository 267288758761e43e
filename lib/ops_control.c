/*
 * ops_control.c - registry rows for Constant and If. If runs the branch
 * its condition selects, with the branch's outer-scope names resolved in
 * the enclosing run.
 */
#include "gs_ops.h"

#include <string.h>

static gs_status k_constant(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)in, (void)nin, (void)nout;
    const gs_node *n = k->node;
    for (int i = 0; i < n->nattrs; i++) {
        const gs_attr *a = &n->attrs[i];
        out->rank = 0;
        if (a->type == GS_A_TENSOR && a->t && a->t->data) {
            out->dtype = a->t->dtype;
            out->rank = a->t->rank;
            memcpy(out->dims, a->t->dims, sizeof out->dims);
            gs_status st = gs_tensor_alloc(k->ctx, out);
            if (st == GS_OK && a->t->nbytes)
                memcpy(out->data, a->t->data, a->t->nbytes);
            return st;
        }
        bool list = a->type == GS_A_INTS || a->type == GS_A_FLOATS;
        if (a->type == GS_A_INT || a->type == GS_A_FLOAT || list) {
            out->dtype = a->type == GS_A_INT || a->type == GS_A_INTS ? GS_INT64 : GS_FLOAT;
            if (list)
                out->rank = 1, out->dims[0] = (int64_t)a->n;
            gs_status st = gs_tensor_alloc(k->ctx, out);
            for (int64_t j = 0; st == GS_OK && j < (list ? (int64_t)a->n : 1); j++) {
                if (out->dtype == GS_INT64)
                    ((int64_t *)out->data)[j] = list ? a->ints[j] : a->i;
                else
                    ((float *)out->data)[j] = list ? a->floats[j] : a->f;
            }
            return st;
        }
    }
    return gs_err(k->ctx, GS_ERR_UNSUPPORTED, "node '%s' (Constant): this value kind is not supported",
                  n->name);
}

static gs_status infer_constant(gs_graph *g, gs_node *n, int64_t opset)
{
    (void)opset;
    for (int i = 0; i < n->nattrs; i++) {
        const gs_attr *a = &n->attrs[i];
        gs_dim dims[GS_MAX_RANK];
        if (a->type == GS_A_TENSOR && a->t) {
            for (int d = 0; d < a->t->rank; d++)
                dims[d] = (gs_dim){ a->t->dims[d], NULL };
            return gs_infer_set(g, n->out[0], a->t->dtype, a->t->rank, dims);
        }
        if (a->type == GS_A_INT || a->type == GS_A_FLOAT)
            return gs_infer_set(g, n->out[0], a->type == GS_A_INT ? GS_INT64 : GS_FLOAT, 0, NULL);
        if (a->type == GS_A_INTS || a->type == GS_A_FLOATS) {
            dims[0] = (gs_dim){ (int64_t)a->n, NULL };
            return gs_infer_set(g, n->out[0], a->type == GS_A_INTS ? GS_INT64 : GS_FLOAT, 1, dims);
        }
    }
    return GS_OK;
}

static gs_status k_if(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin;
    if (gs_tensor_numel(in[0]) < 1)
        return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (If): empty condition", k->node->name);
    bool cond = gs_tensor_get_i(in[0], 0) != 0;
    const gs_attr *a = gs_ir_attr(k->node, cond ? "then_branch" : "else_branch");
    if (!a || a->type != GS_A_GRAPH || !a->g)
        return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (If): missing branch", k->node->name);
    if (a->g->noutputs != nout || nout > 16)
        return gs_err(k->ctx, GS_ERR_MODEL, "node '%s' (If): branch outputs do not match", k->node->name);
    gs_tensor *res[16] = { NULL };
    gs_status st = gs_interp_run_sub(k->interp, a->g, NULL, 0, res, nout);
    for (int i = 0; i < nout; i++) {
        if (st == GS_OK) {
            out[i] = *res[i];
            gs_dealloc(k->ctx, res[i]);
        } else {
            gs_tensor_free(k->ctx, res[i]);
        }
    }
    return st;
}

const gs_opdef gs_ops_control[] = {
    { "Constant", 1, 0, 0, 0, 1, 1, 0, "value:t value_float value_floats value_int value_ints",
      infer_constant, NULL, k_constant },
    { "If", 1, 0, 1, 1, 1, -1, GS_OP_CONTROL, "then_branch:g else_branch:g", NULL, NULL, k_if },
    { .name = NULL },
};
