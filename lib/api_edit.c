/*
 * api_edit.c - the public calls that edit a loaded (or built) model's main
 * graph in place: add weights and nodes, set attributes, rewire inputs and
 * outputs, remove nodes. Each call checks its arguments and keeps every IR
 * invariant (use lists, unique names); gs_model_verify checks the whole, and
 * gs_model_infer_shapes types what was added.
 */
#include "gs_ops.h"

#include <stdio.h>
#include <string.h>

static bool value_ok(const gs_model *m, int v)
{
    return v >= 0 && v < m->graph->nvalues && !(m->graph->values[v].flags & GS_V_DEAD);
}

static bool node_ok(const gs_model *m, int n)
{
    return n >= 0 && n < m->graph->nnodes && !(m->graph->nodes[n].flags & GS_N_DEAD);
}

static gs_status arg(gs_model *m, const char *fn, const char *what)
{
    return gs_err(m->ctx, GS_ERR_ARG, "%s: %s", fn, what);
}

GS_API gs_status gs_model_add_initializer(gs_model *m, const char *name, gs_dtype dtype, int rank,
                                          const int64_t *dims, const void *data, size_t nbytes, int *value)
{
    GS_CHECK_WRITABLE(m);
    gs_graph *g = m->graph;
    int64_t numel = rank >= 0 && rank <= GS_MAX_RANK && (!rank || dims) ? gs_numel(dims, rank) : -1;
    size_t esize = gs_dtype_size(dtype);
    if (!name || !*name || !value || !esize || dtype == GS_STRING || numel < 0 ||
        (uint64_t)numel * esize != nbytes || (nbytes && !data))
        return arg(m, "gs_model_add_initializer", "the name, dtype, dims and byte count do not agree");
    if (gs_ir_find(g, name) != GS_NONE)
        return gs_err(m->ctx, GS_ERR_ARG, "gs_model_add_initializer: a value named '%s' exists", name);
    gs_tensor *t = gs_zalloc(m->ctx, sizeof *t);
    void *copy = t ? gs_alloc(m->ctx, nbytes ? nbytes : 1) : NULL;
    if (!copy || gs_model_own(m, t) != GS_OK) {   /* owned: freed with the model from here on */
        gs_dealloc(m->ctx, copy);
        gs_dealloc(m->ctx, t);
        return gs_nomem(m->ctx);
    }
    t->dtype = dtype;
    t->rank = rank;
    if (rank)
        memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    memcpy(copy, data, nbytes);
    t->data = copy;
    t->nbytes = nbytes;
    t->flags = GS_T_OWNED;
    gs_id v = gs_ir_add_init(g, name, t);
    if (v == GS_NONE)
        return m->ctx->last ? m->ctx->last : gs_nomem(m->ctx);
    *value = v;
    return GS_OK;
}

GS_API gs_status gs_model_add_node(gs_model *m, const char *op, const char *domain, const char *name,
                                   const int *inputs, int ninputs, int noutputs, int *outputs, int *node)
{
    GS_CHECK_WRITABLE(m);
    gs_graph *g = m->graph;
    if (!op || !*op || ninputs < 0 || ninputs > 1024 || (ninputs && !inputs) || noutputs < 1 ||
        noutputs > 1024 || !outputs)
        return arg(m, "gs_model_add_node", "an op, inputs (-1: absent) and 1 to 1024 outputs are needed");
    for (int k = 0; k < ninputs; k++)
        if (inputs[k] != -1 && !value_ok(m, inputs[k]))
            return gs_err(m->ctx, GS_ERR_ARG, "gs_model_add_node: input %d is not a value", k);
    if (name && *name && gs_ir_node_name_taken(g, name))
        return gs_err(m->ctx, GS_ERR_ARG, "gs_model_add_node: a node named '%s' exists", name);
    const char *op_p = gs_arena_strdup(g->perm, op);
    const char *dom = gs_arena_strdup(g->perm, domain ? domain : "");
    const char *nm = name && *name ? gs_arena_strdup(g->perm, name) : gs_ir_unique_node_name(g, op);
    gs_id outs[1024];
    if (!op_p || !dom || !nm)
        return gs_nomem(m->ctx);
    for (int k = 0; k < noutputs; k++) {
        char base[64];
        snprintf(base, sizeof base, "%.40s_out%d", nm, k);
        const char *vn = gs_ir_unique_name(g, base);
        if (!vn || (outs[k] = gs_ir_add_value(g, vn, false)) == GS_NONE)
            return m->ctx->last == GS_ERR_NOMEM || !vn ? gs_nomem(m->ctx) : m->ctx->last;
    }
    gs_id id = gs_ir_add_node(g, op_p, dom, nm, (const gs_id *)inputs, ninputs, outs, noutputs);
    if (id == GS_NONE)
        return m->ctx->last ? m->ctx->last : gs_nomem(m->ctx);
    for (int k = 0; k < noutputs; k++)
        outputs[k] = outs[k];
    if (node)
        *node = id;
    return GS_OK;
}

/* The attribute name of node n to be (re)set: the existing one or a new
 * slot, cleared, its name set; NULL when memory is short. */
static gs_attr *attr_slot(gs_graph *g, gs_node *n, const char *name)
{
    gs_attr *a = NULL;
    for (int k = 0; k < n->nattrs && !a; k++)
        if (!strcmp(n->attrs[k].name, name))
            a = &n->attrs[k];
    if (!a) {
        gs_attr *list = gs_arena_alloc(&g->arena, ((size_t)n->nattrs + 1) * sizeof *list);
        const char *nm = gs_arena_strdup(g->perm, name);
        if (!list || !nm)
            return NULL;
        if (n->nattrs)
            memcpy(list, n->attrs, (size_t)n->nattrs * sizeof *list);
        n->attrs = list;
        a = &list[n->nattrs++];
        a->name = nm;
    }
    const char *keep = a->name;
    memset(a, 0, sizeof *a);   /* no src: export writes it from these fields */
    a->name = keep;
    n->hash_self = 0;          /* the search's hash of the node's attributes is stale */
    return a;
}

/* The node's attribute slot after the argument checks, or NULL (message set). */
static gs_attr *settable(gs_model *m, int node, const char *name, gs_status *st)
{
    if ((*st = gs_model_writable(m, "gs_node_set_attr")) != GS_OK)
        return NULL;
    if (!node_ok(m, node) || !name || !*name) {
        *st = arg(m, "gs_node_set_attr", "a live node and an attribute name are needed");
        return NULL;
    }
    gs_attr *a = attr_slot(m->graph, &m->graph->nodes[node], name);
    *st = a ? GS_OK : gs_nomem(m->ctx);
    return a;
}

GS_API gs_status gs_node_set_attr_int(gs_model *m, int node, const char *name, int64_t v)
{
    gs_status st = GS_ERR_ARG;
    gs_attr *a = m ? settable(m, node, name, &st) : NULL;
    if (a)
        a->type = GS_A_INT, a->i = v;
    return st;
}

GS_API gs_status gs_node_set_attr_float(gs_model *m, int node, const char *name, float v)
{
    gs_status st = GS_ERR_ARG;
    gs_attr *a = m ? settable(m, node, name, &st) : NULL;
    if (a)
        a->type = GS_A_FLOAT, a->f = v;
    return st;
}

GS_API gs_status gs_node_set_attr_string(gs_model *m, int node, const char *name, const char *v)
{
    if (m && !v)
        return arg(m, "gs_node_set_attr_string", "value must not be NULL");
    gs_status st = GS_ERR_ARG;
    gs_attr *a = m ? settable(m, node, name, &st) : NULL;
    const char *s = a ? gs_arena_strdup(m->graph->perm, v) : NULL;
    if (a && !s)
        return gs_nomem(m->ctx);   /* the slot stays, typeless: exported as nothing */
    if (a)
        a->type = GS_A_STRING, a->s = s, a->slen = strlen(s);
    return st;
}

/* The slot of a list attribute and its own copy of the n elements of v, each
 * of size elem (fn names the API call in messages); NULL with *st set. */
static gs_attr *set_list(gs_model *m, int node, const char *name, const void *v, int n, size_t elem,
                         const char *fn, void **copy, gs_status *st)
{
    *st = GS_ERR_ARG;
    if (!m)
        return NULL;
    if (n < 0 || (n && !v)) {
        *st = arg(m, fn, "invalid list");
        return NULL;
    }
    gs_attr *a = settable(m, node, name, st);
    static const int64_t zero;   /* an empty list still points somewhere */
    *copy = a ? gs_arena_memdup(m->graph->perm, n ? v : &zero, n ? (size_t)n * elem : elem) : NULL;
    if (a && !*copy) {
        *st = gs_nomem(m->ctx);
        return NULL;
    }
    return a;
}

GS_API gs_status gs_node_set_attr_ints(gs_model *m, int node, const char *name, const int64_t *v, int n)
{
    gs_status st;
    void *copy;
    gs_attr *a = set_list(m, node, name, v, n, sizeof *v, "gs_node_set_attr_ints", &copy, &st);
    if (a)
        a->type = GS_A_INTS, a->ints = copy, a->n = (size_t)n;
    return st;
}

GS_API gs_status gs_node_set_attr_floats(gs_model *m, int node, const char *name, const float *v, int n)
{
    gs_status st;
    void *copy;
    gs_attr *a = set_list(m, node, name, v, n, sizeof *v, "gs_node_set_attr_floats", &copy, &st);
    if (a)
        a->type = GS_A_FLOATS, a->floats = copy, a->n = (size_t)n;
    return st;
}

GS_API gs_status gs_node_set_input(gs_model *m, int node, int k, int value)
{
    GS_CHECK_WRITABLE(m);
    if (!node_ok(m, node) || k < 0 || k >= m->graph->nodes[node].nin || (value != -1 && !value_ok(m, value)))
        return arg(m, "gs_node_set_input", "a live node, one of its inputs and a value (or -1) are needed");
    return gs_ir_set_input(m->graph, node, k, value);
}

GS_API gs_status gs_model_replace_uses(gs_model *m, int old, int value)
{
    GS_CHECK_WRITABLE(m);
    if (!value_ok(m, old) || !value_ok(m, value) || old == value)
        return arg(m, "gs_model_replace_uses", "two different values are needed");
    return gs_ir_replace_uses(m->graph, old, value);
}

GS_API gs_status gs_model_remove_node(gs_model *m, int node)
{
    GS_CHECK_WRITABLE(m);
    if (!node_ok(m, node))
        return arg(m, "gs_model_remove_node", "not a live node");
    const gs_node *n = &m->graph->nodes[node];
    for (int k = 0; k < n->nout; k++) {
        const gs_value *v = n->out[k] == GS_NONE ? NULL : &m->graph->values[n->out[k]];
        if (v && (v->nuses || (v->flags & GS_V_OUTPUT)))
            return gs_err(m->ctx, GS_ERR_ARG, "gs_model_remove_node: node '%s': its output '%s' is still "
                          "read (gs_model_replace_uses first)", n->name, v->name);
    }
    gs_ir_remove_node(m->graph, node);
    return GS_OK;
}

GS_API gs_status gs_model_set_output(gs_model *m, int i, int value)
{
    GS_CHECK_WRITABLE(m);
    gs_graph *g = m->graph;
    if (i < 0 || i >= g->noutputs || !value_ok(m, value))
        return arg(m, "gs_model_set_output", "an output index and a value are needed");
    gs_id old = g->outputs[i];
    g->outputs[i] = value;
    if (g->outsrc)
        g->outsrc[i] = NULL;   /* described afresh from the value */
    bool still = false;
    for (int32_t k = 0; k < g->noutputs; k++)
        still |= g->outputs[k] == old;
    if (!still)
        g->values[old].flags &= ~(uint32_t)GS_V_OUTPUT;
    g->values[value].flags |= GS_V_OUTPUT | GS_V_TYPED;
    return GS_OK;
}
