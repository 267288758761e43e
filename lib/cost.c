/*
 * cost.c - the analytic cost model.
 *
 * A node costs max(flops / (peak * efficiency), bytes / bandwidth) plus a
 * fixed per-op overhead, in seconds, with the parameters taken from a device
 * profile. FLOPs and bytes come from the op registry's cost function. A node
 * that constant folding will evaluate (gs_fold_will_fold) costs nothing.
 * A graph costs the sum of its live nodes. A caller can replace the per-node
 * formula with a callback (gs_optimize_opts.cost_cb).
 */
#include "gs_cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static double efficiency(const gs_profile *p, const char *op)
{
    for (int i = 0; i < p->noverrides; i++)
        if (!strcmp(p->overrides[i].op, op))
            return p->overrides[i].efficiency;
    return 1.0;
}

/* ---- counts for the ops' cost functions ------------------------------- */

/* True when input k of n is also an earlier input (Mul(x, x)). */
static bool read_before(const gs_node *n, int k)
{
    for (int j = 0; j < k; j++)
        if (n->in[j] == n->in[k])
            return true;
    return false;
}

/* Elementwise default: one operation per output element; bytes are every
 * input (each value once: Mul(x, x) reads x once) and output with a known
 * shape. */
void gs_cost_default(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    c->flops = c->bytes_read = c->bytes_written = 0;
    for (int k = 0; k < n->nin + n->nout; k++) {
        bool out = k >= n->nin;
        gs_id v = out ? n->out[k - n->nin] : n->in[k];
        if (v == GS_NONE || g->values[v].rank < 0 || (!out && read_before(n, k)))
            continue;
        const gs_value *val = &g->values[v];
        double elems = 1;
        for (int d = 0; d < val->rank; d++)
            elems *= val->dims[d].v > 0 ? (double)val->dims[d].v : 1;
        double bytes = elems * (double)(gs_dtype_size(val->dtype) ? gs_dtype_size(val->dtype) : 4);
        if (out) {
            c->bytes_written += bytes;
            c->flops += elems;
        } else {
            c->bytes_read += bytes;
        }
    }
}

double gs_value_elems(const gs_value *v)
{
    double e = 1;
    for (int i = 0; v && i < v->rank; i++)
        e *= v->dims[i].v > 0 ? (double)v->dims[i].v : 1;
    return e;
}

double gs_value_bytes(const gs_value *v)
{
    size_t s = v ? gs_dtype_size(v->dtype) : 0;
    return v ? gs_value_elems(v) * (double)(s ? s : 4) : 0;
}

/* ---- the model ------------------------------------------------------------ */

void gs_cost_node(const gs_cost_model *cm, const gs_graph *g, const gs_node *n,
                  gs_ncost *out)
{
    memset(out, 0, sizeof *out);
    if ((n->flags & GS_N_DEAD) || gs_fold_will_fold(g, n, GS_FOLD_DEPTH))
        return;
    const gs_opdef *d = n->def;
    gs_cost c = { 0, 0, 0, 0 };
    if (d && d->cost && gs_op_fits(d, n))
        d->cost(g, n, &c);
    else
        gs_cost_default(g, n, &c);
    out->flops = c.flops;
    out->bytes = c.bytes_read + c.bytes_written;
    const gs_profile *p = cm->profile;
    if (c.gemm_cols > 0 && p->gemm_half_cols > 0)   /* effective work of a narrow GEMM */
        out->flops *= (c.gemm_cols + p->gemm_half_cols) / c.gemm_cols;
    if (cm->cb) {
        out->seconds = cm->cb(cm->cb_ud, n->op, out->flops, out->bytes);
        return;
    }
    double compute = out->flops / (p->peak_flops * efficiency(p, n->op));
    double memory = out->bytes / p->bandwidth;
    out->seconds = (compute > memory ? compute : memory) + p->overhead;
}

double gs_cost_graph(const gs_cost_model *cm, const gs_graph *g)
{
    double total = 0;
    for (gs_id i = 0; i < g->nnodes; i++) {
        gs_ncost c;
        gs_cost_node(cm, g, &g->nodes[i], &c);
        total += c.seconds;
    }
    return total;
}

GS_API double gs_node_cost(const gs_model *m, int node, double *flops, double *bytes)
{
    if (!m || node < 0 || node >= m->graph->nnodes)
        return 0;
    gs_cost_model cm = { &gs_profile_default, NULL, NULL };
    gs_ncost c;
    gs_cost_node(&cm, m->graph, &m->graph->nodes[node], &c);
    if (flops)
        *flops = c.flops;
    if (bytes)
        *bytes = c.bytes;
    return c.seconds;
}
