/*
 * api_graph.c - the public calls that read a model's graph beyond its
 * nodes and values (attributes, initializer data, a topological order, the
 * If/Loop/Scan bodies as read-only models), copy it (clone, compact), and
 * fix its input shapes (symbolic dims bound to sizes). Arguments are
 * checked here; the IR below asserts instead.
 *
 * A body view is a gs_model whose graph is the body and whose owner is the
 * model holding it: every reading call works on it unchanged, the calls that
 * change, save, run or optimize refuse it (gs_model_writable), and
 * gs_model_free ignores it. It is kept on the body graph (gs_graph.view), so
 * asking again returns the same handle and it dies with the body.
 */
#include "gs_ops.h"

#include <stdio.h>
#include <string.h>

GS_API int gs_version_number(void)
{
    return GS_VERSION_NUMBER;
}

/* ---- attributes --------------------------------------------------------- */

static const gs_node *node_of(const gs_model *m, int i)
{
    return m && i >= 0 && i < m->graph->nnodes ? &m->graph->nodes[i] : NULL;
}

static const gs_attr *attr_of(const gs_model *m, int node, int k)
{
    const gs_node *n = node_of(m, node);
    return n && k >= 0 && k < n->nattrs ? &n->attrs[k] : NULL;
}

GS_API int gs_node_attr_count(const gs_model *m, int node)
{
    const gs_node *n = node_of(m, node);
    return n ? n->nattrs : 0;
}

GS_API int gs_node_attr_find(const gs_model *m, int node, const char *name)
{
    const gs_node *n = node_of(m, node);
    for (int k = 0; n && name && k < n->nattrs; k++)
        if (!strcmp(n->attrs[k].name, name))
            return k;
    return -1;
}

GS_API const char *gs_node_attr_name(const gs_model *m, int node, int k)
{
    const gs_attr *a = attr_of(m, node, k);
    return a ? a->name : NULL;
}

GS_API gs_attr_type gs_node_attr_type(const gs_model *m, int node, int k)
{
    const gs_attr *a = attr_of(m, node, k);
    return a ? (gs_attr_type)a->type : GS_ATTR_UNDEFINED;
}

GS_API int64_t gs_node_attr_int(const gs_model *m, int node, int k)
{
    const gs_attr *a = attr_of(m, node, k);
    return a && a->type == GS_A_INT ? a->i : 0;
}

GS_API double gs_node_attr_float(const gs_model *m, int node, int k)
{
    const gs_attr *a = attr_of(m, node, k);
    return a && a->type == GS_A_FLOAT ? a->f : 0;
}

GS_API const char *gs_node_attr_string(const gs_model *m, int node, int k, size_t *len)
{
    const gs_attr *a = attr_of(m, node, k);
    bool ok = a && a->type == GS_A_STRING;
    if (len)
        *len = ok ? a->slen : 0;
    return ok ? (a->s ? a->s : "") : NULL;
}

GS_API int gs_node_attr_ints(const gs_model *m, int node, int k, const int64_t **vals)
{
    const gs_attr *a = attr_of(m, node, k);
    bool ok = a && a->type == GS_A_INTS;
    if (vals)
        *vals = ok ? a->ints : NULL;
    return ok ? (int)a->n : -1;
}

GS_API int gs_node_attr_floats(const gs_model *m, int node, int k, const float **vals)
{
    const gs_attr *a = attr_of(m, node, k);
    bool ok = a && a->type == GS_A_FLOATS;
    if (vals)
        *vals = ok ? a->floats : NULL;
    return ok ? (int)a->n : -1;
}

GS_API int gs_node_attr_list_count(const gs_model *m, int node, int k)
{
    const gs_attr *a = attr_of(m, node, k);
    if (!a)
        return -1;
    switch (a->type) {
    case GS_A_FLOATS: case GS_A_INTS: case GS_A_STRINGS: case GS_A_TENSORS: case GS_A_GRAPHS:
    case GS_A_SPARSE_TENSORS: case GS_A_TYPE_PROTOS:
        return (int)a->n;
    default:
        return -1;
    }
}

GS_API const char *gs_node_attr_strings_at(const gs_model *m, int node, int k, int i, size_t *len)
{
    const gs_attr *a = attr_of(m, node, k);
    bool ok = a && a->type == GS_A_STRINGS && i >= 0 && (size_t)i < a->n;
    if (len)
        *len = ok ? a->strlens[i] : 0;
    return ok ? a->strs[i] : NULL;
}

/* ---- bodies --------------------------------------------------------------- */

/* The read-only model handle on body g of m (a model or a body view): made
 * on first use and kept on g, so it lives as long as the body. NULL when
 * memory is short (message set). */
static const gs_model *body_view(const gs_model *m, gs_graph *g)
{
    if (g->view)
        return g->view;
    gs_model *v = gs_zalloc(m->ctx, sizeof *v);
    if (!v) {
        gs_nomem(m->ctx);
        return NULL;
    }
    v->ctx = m->ctx;
    v->graph = g;
    v->owner = gs_model_root(m);
    v->path = v->owner->path;
    g->view = v;
    return v;
}

GS_API const gs_model *gs_node_attr_graph(const gs_model *m, int node, int k, int i)
{
    const gs_attr *a = attr_of(m, node, k);
    gs_graph *g = !a ? NULL : a->type == GS_A_GRAPH && i == 0 ? a->g
                : a->type == GS_A_GRAPHS && i >= 0 && (size_t)i < a->n ? a->gs[i] : NULL;
    return g ? body_view(m, g) : NULL;
}

GS_API int gs_value_outer(const gs_model *m, int value)
{
    if (!m || value < 0 || value >= m->graph->nvalues)
        return -1;
    const gs_value *v = &m->graph->values[value];
    return (v->flags & GS_V_OUTER) && !(v->flags & GS_V_DEAD) ? v->outer : -1;
}

GS_API int gs_node_capture_count(const gs_model *m, int node)
{
    const gs_node *n = node_of(m, node);
    return n ? n->ncaps : 0;
}

GS_API int gs_node_capture(const gs_model *m, int node, int i)
{
    const gs_node *n = node_of(m, node);
    return n && i >= 0 && i < n->ncaps ? n->caps[i] : -1;
}

/* ---- tensors ------------------------------------------------------------- */

static void view_of(const gs_tensor *t, gs_tensor_view *out)
{
    out->dtype = (gs_dtype)t->dtype;
    out->rank = t->rank;
    out->dims = t->dims;
    out->data = t->data;
    out->nbytes = t->data ? t->nbytes : 0;
}

GS_API int gs_node_attr_tensor(const gs_model *m, int node, int k, int i, gs_tensor_view *out)
{
    const gs_attr *a = attr_of(m, node, k);
    const gs_tensor *t = !a ? NULL : a->type == GS_A_TENSOR && i == 0 ? a->t
                       : a->type == GS_A_TENSORS && i >= 0 && (size_t)i < a->n ? a->ts[i] : NULL;
    if (!t || !out)
        return 0;
    view_of(t, out);
    return 1;
}

GS_API int gs_value_tensor(const gs_model *m, int value, gs_tensor_view *out)
{
    if (!m || value < 0 || value >= m->graph->nvalues || !out)
        return 0;
    const gs_value *v = &m->graph->values[value];
    if (!v->init || (v->flags & GS_V_DEAD))
        return 0;
    view_of(v->init, out);
    return 1;
}

/* ---- order and copies ---------------------------------------------------- */

GS_API int gs_model_topo_order(const gs_model *m, int *order)
{
    if (!m || !order)
        return m ? gs_err(m->ctx, GS_ERR_ARG, "gs_model_topo_order: order must not be NULL"), -1 : -1;
    int n = gs_ir_topo(m->graph, (gs_id *)order);
    if (n == -1)
        gs_err(m->ctx, GS_ERR_MODEL, "graph has a cycle");
    return n < 0 ? -1 : n;
}

GS_API gs_status gs_model_clone(const gs_model *m, gs_model **out)
{
    GS_CHECK_WRITABLE(m);   /* a body alone reads undefined outer values */
    if (!out)
        return gs_err(m->ctx, GS_ERR_ARG, "gs_model_clone: out must not be NULL");
    *out = NULL;
    void *buf = NULL;
    size_t size = 0;
    gs_status st = gs_model_save_mem((gs_model *)m, &buf, &size);
    if (st == GS_OK)
        st = gs_model_load_mem(m->ctx, buf, size, NULL, out);
    gs_free(m->ctx, buf);
    if (st == GS_OK && m->path && !((*out)->path = gs_arena_strdup((*out)->graph->perm, m->path))) {
        gs_model_free(*out);
        *out = NULL;
        st = gs_nomem(m->ctx);
    }
    return st;
}

GS_API gs_status gs_model_compact(gs_model *m)
{
    GS_CHECK_WRITABLE(m);
    gs_model *fresh = NULL;
    gs_status st = gs_model_clone(m, &fresh);
    if (st != GS_OK)
        return st;
    gs_model old = *m;
    *m = *fresh;
    *fresh = old;      /* the old contents are freed in the old struct's place */
    gs_model_free(fresh);
    return GS_OK;
}

/* ---- binding input shapes ------------------------------------------------- */

static bool word_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* True when sym is name, or an expression (past + seq, 2*batch) with name as a term. */
static bool sym_mentions(const char *sym, const char *name, bool *exact)
{
    size_t n = strlen(name);
    *exact = !strcmp(sym, name);
    for (const char *p = strstr(sym, name); p; p = strstr(p + 1, name))
        if ((p == sym || !word_char(p[-1])) && !word_char(p[n]))
            return true;
    return false;
}

/* The binding being made (a gs_dim_name_fn over a bound_name): its value
 * for its name, unknown for any other. */
typedef struct bound_name {
    const char *name;
    int64_t value;
} bound_name;

static bool bound_value(void *ud, const char *name, size_t len, int64_t *value)
{
    const bound_name *b = ud;
    *value = b->value;
    return strlen(b->name) == len && !strncmp(b->name, name, len);
}

/* The dim a dim named sym becomes when name is value: that value, the
 * value of an expression over name alone (8*batch), else unknown. */
static gs_dim bound_dim(const char *sym, const char *name, int64_t value)
{
    bound_name b = { name, value };
    int64_t v;
    if (!strcmp(sym, name))
        return (gs_dim){ value, NULL };
    return gs_dim_eval(sym, bound_value, &b, &v) && v >= 0 ? (gs_dim){ v, NULL } : (gs_dim){ -1, NULL };
}

/* Dims of every value of g (and its bodies) named name become value; a dim
 * whose expression mentions name becomes its value when name is its only
 * name (8*batch), else unknown, for inference to redo. */
static gs_status bind_in(gs_graph *g, const char *name, int64_t value, int *hits)
{
    for (gs_id v = 0; v < g->nvalues; v++) {
        gs_value *val = &g->values[v];
        for (int i = 0; i < val->rank; i++) {
            bool exact;
            if (!val->dims[i].sym || !sym_mentions(val->dims[i].sym, name, &exact))
                continue;
            gs_dim *d = gs_arena_memdup(&g->arena, val->dims, (size_t)val->rank * sizeof *d);
            if (!d)
                return gs_nomem(g->ctx);
            d[i] = bound_dim(val->dims[i].sym, name, value);
            val->dims = d;
            val->flags |= GS_V_TYPED;
            *hits += (val->flags & GS_V_INPUT) != 0;
        }
        for (int i = 0; val->elems && i < val->nelems; i++) {
            bool exact;
            if (val->elems[i].sym && sym_mentions(val->elems[i].sym, name, &exact))
                val->elems[i] = gs_elem_of_dim(bound_dim(val->elems[i].sym, name, value));
        }
    }
    for (int32_t i = 0; i < g->nsubs; i++) {
        gs_status st = bind_in(g->subs[i], name, value, hits);
        if (st != GS_OK)
            return st;
    }
    return GS_OK;
}

static bool input_has_sym(const gs_graph *g, const char *name)
{
    for (int32_t i = 0; i < g->ninputs; i++) {
        const gs_value *v = &g->values[g->inputs[i]];
        for (int k = 0; !v->init && k < v->rank; k++)
            if (v->dims[k].sym && !strcmp(v->dims[k].sym, name))
                return true;
    }
    return false;
}

GS_API gs_status gs_model_bind_dim(gs_model *m, const char *name, int64_t value)
{
    GS_CHECK_WRITABLE(m);
    if (!name || !*name)
        return gs_err(m->ctx, GS_ERR_ARG, "gs_model_bind_dim: name must not be empty");
    if (value < 0 || value > INT32_MAX)
        return gs_err(m->ctx, GS_ERR_ARG, "dim '%s': value %lld out of range (0 to 2147483647)", name,
                      (long long)value);
    if (!input_has_sym(m->graph, name))
        return gs_err(m->ctx, GS_ERR_ARG, "%s%sno input has a symbolic dim named '%s'",
                      m->path ? m->path : "", m->path ? ": " : "", name);
    int hits = 0;
    return bind_in(m->graph, name, value, &hits);
}

static gs_value *input_named(gs_model *m, const char *name)
{
    gs_graph *g = m->graph;
    for (int32_t i = 0; i < g->ninputs; i++) {
        gs_value *v = &g->values[g->inputs[i]];
        if (!v->init && !strcmp(v->name, name))
            return v;
    }
    return NULL;
}

/* GS_ERR_ARG when dims cannot be v's shape (rank, or a size v declares). */
static gs_status shape_fits(gs_model *m, const gs_value *v, int rank, const int64_t *dims)
{
    const char *f = m->path ? m->path : "model";
    if (v->rank >= 0 && v->rank != rank)
        return gs_err(m->ctx, GS_ERR_ARG, "%s: input '%s' has rank %d, the shape given has %d dims", f,
                      v->name, v->rank, rank);
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 0 || dims[k] > INT32_MAX)
            return gs_err(m->ctx, GS_ERR_ARG, "%s: input '%s': dim %d must be from 0 to 2147483647", f,
                          v->name, k);
        if (v->rank >= 0 && v->dims[k].v >= 0 && v->dims[k].v != dims[k])
            return gs_err(m->ctx, GS_ERR_ARG, "%s: input '%s' dim %d is %lld, not %lld", f, v->name, k,
                          (long long)v->dims[k].v, (long long)dims[k]);
    }
    return GS_OK;
}

GS_API gs_status gs_model_set_input_shape(gs_model *m, const char *name, int rank, const int64_t *dims)
{
    GS_CHECK_WRITABLE(m);
    if (!name || rank < 0 || rank > GS_MAX_RANK || (rank && !dims))
        return gs_err(m->ctx, GS_ERR_ARG, "gs_model_set_input_shape: invalid argument");
    gs_value *v = input_named(m, name);
    if (!v)
        return gs_err(m->ctx, GS_ERR_ARG, "%s: no input named '%s'", m->path ? m->path : "model", name);
    gs_status st = shape_fits(m, v, rank, dims);
    for (int k = 0; st == GS_OK && v->rank >= 0 && k < rank; k++) {
        const char *sym = v->dims[k].v < 0 ? v->dims[k].sym : NULL;
        int hits = 0;
        if (sym && (sym = gs_arena_strdup(&m->graph->arena, sym)))   /* the binding replaces it */
            st = bind_in(m->graph, sym, dims[k], &hits);
    }
    if (st != GS_OK)
        return st;
    gs_dim *d = gs_arena_alloc(&m->graph->arena, (size_t)(rank ? rank : 1) * sizeof *d);
    if (!d)
        return gs_nomem(m->ctx);
    for (int k = 0; k < rank; k++)
        d[k] = (gs_dim){ dims[k], NULL };
    v->dims = d;
    v->rank = rank;
    v->flags |= GS_V_TYPED;
    return GS_OK;
}
