/*
 * interp.c - the reference interpreter: runs a graph on concrete tensors with
 * the registry's plain kernels, in topological order. Initializers and
 * inputs are used in place; an intermediate is freed after its last use. A
 * node without a kernel is an error naming it, never skipped. Subgraphs
 * (If branches) run with their outer-scope names resolved in the caller.
 * The node runs inside bodies of one run are counted together, so Loops
 * nested in Loops cannot multiply their trips into hours of work.
 */
#include "gs_ops.h"

#include <string.h>

struct gs_interp {
    gs_ctx *ctx;
    const gs_graph *g;
    gs_interp *parent;
    gs_tensor **env;          /* per value id: its tensor, or NULL */
    uint8_t *owned;           /* env[v] was made here and is freed here */
    int32_t *left;            /* uses not yet executed */
    int64_t body_runs;        /* the outermost run's: node runs inside bodies so far */
};

/* Node runs inside If, Loop and Scan bodies that one run may make: each Loop
 * has its own bound (ops_control.c), and this one holds when Loops nest. */
#define MAX_BODY_RUNS ((int64_t)1 << 20)

static gs_status no_data(gs_interp *it, gs_id v)
{
    return gs_err(it->ctx, GS_ERR_MODEL, "value '%s' has no data when it is read",
                  it->g->values[v].name);
}

/* The tensor of value v, resolving outer names in the enclosing run. */
static gs_tensor *lookup(gs_interp *it, gs_id v)
{
    const gs_value *val = &it->g->values[v];
    if (it->env[v])
        return it->env[v];
    if ((val->flags & GS_V_OUTER) && it->parent)
        return lookup(it->parent, val->outer);
    return NULL;
}

/* Mapped weights may sit at any byte offset: kernels get an aligned copy. */
static gs_status aligned_init(gs_interp *it, gs_id v)
{
    gs_tensor *t = it->g->values[v].init;
    if (!t->data || (uintptr_t)t->data % 16 == 0) {
        it->env[v] = t;
        return GS_OK;
    }
    gs_tensor *c = gs_tensor_dup(it->ctx, t);
    if (!c)
        return gs_nomem(it->ctx);
    it->env[v] = c;
    it->owned[v] = 1;
    return GS_OK;
}

static gs_status bind_inputs(gs_interp *it, const gs_tensor *const *inputs, int n)
{
    const gs_graph *g = it->g;
    int k = 0;
    for (int32_t i = 0; i < g->ninputs; i++) {
        gs_id v = g->inputs[i];
        if (g->values[v].init)
            continue;   /* an initializer listed as input keeps its value */
        if (k >= n)
            return gs_err(it->ctx, GS_ERR_ARG, "graph '%s' needs input '%s' (only %d given)",
                          g->name, g->values[v].name, n);
        it->env[v] = (gs_tensor *)inputs[k++];
    }
    if (k != n)
        return gs_err(it->ctx, GS_ERR_ARG, "graph '%s' takes %d inputs, %d given", g->name, k, n);
    for (int32_t i = 0; i < g->ninits; i++) {
        gs_id v = g->inits[i];
        if (!it->env[v] && g->values[v].init) {
            gs_status st = aligned_init(it, v);
            if (st != GS_OK)
                return st;
        }
    }
    return GS_OK;
}

static void release(gs_interp *it, gs_id v)
{
    if (it->owned[v]) {
        gs_tensor_free(it->ctx, it->env[v]);
        it->owned[v] = 0;
    }
    it->env[v] = NULL;
}

static gs_status check_arity(gs_interp *it, const gs_node *n, const gs_opdef *d)
{
    if (!gs_op_fits(d, n))
        return gs_err(it->ctx, GS_ERR_MODEL, "node '%s' (%s): %d inputs and %d outputs do not "
                      "fit the op, or a required input is missing", n->name, n->op, n->nin, n->nout);
    return GS_OK;
}

static gs_status store_outputs(gs_interp *it, const gs_node *n, gs_tensor *outs)
{
    for (int k = 0; k < n->nout; k++) {
        gs_id v = n->out[k];
        if (v == GS_NONE || (!it->left[v] && !(it->g->values[v].flags & GS_V_OUTPUT))) {
            gs_tensor_clear(it->ctx, &outs[k]);
            continue;
        }
        gs_tensor *t = gs_tensor_new(it->ctx);
        if (!t)
            return gs_nomem(it->ctx);
        *t = outs[k];
        memset(&outs[k], 0, sizeof outs[k]);
        t->name = it->g->values[v].name;
        it->env[v] = t;
        it->owned[v] = 1;
    }
    return GS_OK;
}

/* Count one node run inside a body against the outermost run's bound. */
static gs_status count_body_run(gs_interp *it)
{
    gs_interp *root = it;
    while (root->parent)
        root = root->parent;
    if (++root->body_runs <= MAX_BODY_RUNS)
        return GS_OK;
    return gs_err(it->ctx, GS_ERR_LIMIT, "graph '%s': more than %lld node runs inside If, Loop and Scan "
                  "bodies (nested Loops of many trips)", root->g->name, (long long)MAX_BODY_RUNS);
}

/* A sequence reaches only the sequence ops, a Loop's carried values and
 * Identity: any other kernel reads tensors. */
static bool takes_sequence(const gs_node *n, const gs_opdef *d, int k)
{
    return (d->flags & GS_OP_SEQUENCE) || (!strcmp(n->op, "Loop") && k >= 2) || !strcmp(n->op, "Identity");
}

static gs_status run_node(gs_interp *it, gs_id id)
{
    const gs_node *n = &it->g->nodes[id];
    const gs_opdef *d = n->def;
    if (it->parent) {
        gs_status st = count_body_run(it);
        if (st != GS_OK)
            return st;
    }
    if (!d || !d->kernel)
        return gs_err(it->ctx, GS_ERR_UNSUPPORTED, "node '%s' (%s%s%s): no kernel for this op",
                      n->name, n->domain, *n->domain ? "." : "", n->op);
    gs_status st = check_arity(it, n, d);
    if (st != GS_OK)
        return st;
    const gs_tensor *few[64], **in = few;   /* a Concat of a detector's 90 class scores: on the heap */
    gs_tensor out[16];
    if (n->nout > 16)
        return gs_err(it->ctx, GS_ERR_LIMIT, "node '%s' (%s) has too many outputs", n->name, n->op);
    if (n->nin > 64 && !(in = gs_alloc(it->ctx, (size_t)n->nin * sizeof *in)))
        return gs_nomem(it->ctx);
    for (int k = 0; k < n->nin && st == GS_OK; k++) {
        in[k] = n->in[k] == GS_NONE ? NULL : lookup(it, n->in[k]);
        if (n->in[k] != GS_NONE && !in[k])
            st = no_data(it, n->in[k]);
        else if (in[k] && gs_seq_is(in[k]) && !takes_sequence(n, d, k))
            st = gs_err(it->ctx, GS_ERR_MODEL, "node '%s' (%s): input '%s' is a sequence, not a tensor",
                        n->name, n->op, it->g->values[n->in[k]].name);
    }
    memset(out, 0, sizeof out);
    gs_kcall k = { it->ctx, it->g, n, it->g->opset, it };
    if (st == GS_OK)
        st = d->kernel(&k, in, n->nin, out, n->nout);
    if (in != few)
        gs_free(it->ctx, in);
    if (st == GS_OK)
        st = store_outputs(it, n, out);
    for (int j = 0; j < n->nout; j++)
        gs_tensor_clear(it->ctx, &out[j]);
    for (int j = 0; j < n->nin && st == GS_OK; j++) {
        gs_id v = n->in[j];
        if (v != GS_NONE && it->env[v] && --it->left[v] <= 0 &&
            !(it->g->values[v].flags & GS_V_OUTPUT))
            release(it, v);
    }
    return st;
}

/* Hand the graph outputs to the caller as tensors it owns. */
static gs_status take_outputs(gs_interp *it, gs_tensor **outputs, int n)
{
    const gs_graph *g = it->g;
    if (n != g->noutputs)
        return gs_err(it->ctx, GS_ERR_ARG, "graph '%s' has %d outputs, %d asked", g->name,
                      g->noutputs, n);
    for (int i = 0; i < n; i++)
        outputs[i] = NULL;
    for (int i = 0; i < n; i++) {
        gs_id v = g->outputs[i];
        gs_tensor *t = lookup(it, v);
        if (!t)
            return no_data(it, v);
        bool again = false;
        for (int j = i + 1; j < n; j++)
            again |= g->outputs[j] == v;
        gs_tensor *c;
        if (it->owned[v] && it->env[v] == t && !again) {   /* move */
            c = t;
            c->src = NULL;
            it->env[v] = NULL;
            it->owned[v] = 0;
        } else if (!(c = gs_tensor_dup(it->ctx, t))) {      /* copy: inputs, weights, repeats */
            return gs_nomem(it->ctx);
        }
        outputs[i] = c;
    }
    return GS_OK;
}

static void interp_free(gs_interp *it)
{
    for (gs_id v = 0; it->owned && v < it->g->nvalues; v++)
        if (it->owned[v])
            release(it, v);
    gs_dealloc(it->ctx, it->env);
    gs_dealloc(it->ctx, it->owned);
    gs_dealloc(it->ctx, it->left);
}

static gs_status run(gs_interp *it, const gs_tensor *const *inputs, int ninputs,
                     gs_tensor **outputs, int noutputs)
{
    const gs_graph *g = it->g;
    size_t nv = (size_t)g->nvalues + 1;
    it->env = gs_zalloc(it->ctx, nv * sizeof *it->env);
    it->owned = gs_zalloc(it->ctx, nv);
    it->left = gs_zalloc(it->ctx, nv * sizeof *it->left);
    gs_id *order = gs_alloc(it->ctx, ((size_t)g->nnodes + 1) * sizeof *order);
    gs_status st = it->env && it->owned && it->left && order ? GS_OK : gs_nomem(it->ctx);
    int n = st == GS_OK ? gs_ir_topo(g, order) : 0;
    if (n < 0)
        st = n == -2 ? GS_ERR_NOMEM : gs_err(it->ctx, GS_ERR_MODEL, "graph '%s' has a cycle", g->name);
    for (gs_id v = 0; st == GS_OK && v < g->nvalues; v++)
        it->left[v] = g->values[v].nuses;
    if (st == GS_OK)
        st = bind_inputs(it, inputs, ninputs);
    for (int i = 0; i < n && st == GS_OK; i++)
        st = run_node(it, order[i]);
    if (st == GS_OK)
        st = take_outputs(it, outputs, noutputs);
    if (st != GS_OK)
        for (int i = 0; i < noutputs; i++) {
            gs_tensor_free(it->ctx, outputs[i]);
            outputs[i] = NULL;
        }
    gs_dealloc(it->ctx, order);
    interp_free(it);
    return st;
}

gs_status gs_interp_run(gs_ctx *ctx, const gs_graph *g,
                        const gs_tensor *const *inputs, int ninputs,
                        gs_tensor **outputs, int noutputs)
{
    gs_interp it = { ctx, g, NULL, NULL, NULL, NULL, 0 };
    gs_status st = run(&it, inputs, ninputs, outputs, noutputs);
    for (int i = 0; st == GS_OK && i < noutputs; i++)
        if (gs_seq_is(outputs[i]))
            st = gs_err(ctx, GS_ERR_UNSUPPORTED, "output '%s' is a sequence: sequence outputs are not supported",
                        g->values[g->outputs[i]].name);
    for (int i = 0; st != GS_OK && i < noutputs; i++) {
        gs_tensor_free(ctx, outputs[i]);
        outputs[i] = NULL;
    }
    return st;
}

gs_status gs_interp_run_sub(gs_interp *parent, const gs_graph *sub,
                            const gs_tensor *const *inputs, int ninputs,
                            gs_tensor **outputs, int noutputs)
{
    gs_interp it = { parent->ctx, sub, parent, NULL, NULL, NULL, 0 };
    return run(&it, inputs, ninputs, outputs, noutputs);
}
