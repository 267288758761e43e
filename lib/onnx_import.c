/*
 * onnx_import.c - ONNX ModelProto -> IR. With onnx_export.c, the only code
 * that sees protobuf-c.
 *
 * The unpacked ModelProto stays alive with the model: IR names point into it
 * and every IR entity keeps a pointer to the message it came from, so the
 * exporter can carry through everything the IR does not model (doc strings,
 * metadata, functions, unknown fields). Typed tensor fields of the matching
 * element type are used in place; other typed fields are converted once.
 * External data is mapped from files next to the model; a location that
 * would leave the model's folder is refused.
 */
#include "gs_onnx.h"
#include "gs_ops.h"
#include "gs_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct imp {
    gs_ctx *ctx;
    gs_model *m;
    const char *path;     /* for messages */
    const char *dir;      /* for external data, or NULL */
    int depth;
    int64_t opset;        /* the default domain's, from opset_import (0: none) */
} imp;

/* ---- errors ------------------------------------------------------------ */

/* Prefix the stored message with the file name. */
static gs_status in_file(imp *im, gs_status st)
{
    char tmp[sizeof im->ctx->msg];
    if (st == GS_ERR_NOMEM || !strncmp(im->ctx->msg, im->path, strlen(im->path)))
        return st;
    snprintf(tmp, sizeof tmp, "%s", im->ctx->msg);
    return gs_err(im->ctx, st, "%s: %s", im->path, tmp);
}

/* ---- tensors ----------------------------------------------------------- */

static bool safe_location(const char *loc)
{
    if (!loc || !*loc || loc[0] == '/')
        return false;
    for (const char *p = loc; *p;) {            /* no ".." component */
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (!e)
            break;
        p = e + 1;
    }
    return !strchr(loc, '\\');
}

/* True when path, with symbolic links resolved, lies inside the model's
 * folder (a link inside the folder may not lead out of it). */
static bool inside_folder(imp *im, const char *path, const char *loc)
{
    char *dir = realpath(im->dir, NULL), *file = realpath(path, NULL);
    size_t n = dir ? strlen(dir) : 0;
    bool ok = !file || (dir && !strncmp(file, dir, n) && (file[n] == '/' || (n == 1 && dir[0] == '/')));
    free(dir);   /* realpath's buffers come from malloc */
    free(file);
    if (!ok)
        gs_err(im->ctx, GS_ERR_MODEL, "external data location '%s' leads outside the model's folder", loc);
    return ok;
}

/* The file at full, mapped and kept by the model, or NULL when not yet. */
static const gs_extfile *ext_find(const gs_model *m, const char *full)
{
    for (int32_t i = m->next - 1; i >= 0; i--)   /* the last one first: usually one file */
        if (!strcmp(m->ext[i].path, full))
            return &m->ext[i];
    return NULL;
}

static gs_status ext_add(imp *im, char *full, void *map, size_t size)
{
    gs_model *m = im->m;
    if (m->next == m->capext) {
        int32_t cap = m->capext ? m->capext * 2 : 4;
        gs_extfile *p = gs_realloc(im->ctx, m->ext, (size_t)cap * sizeof *p);
        if (!p)
            return gs_nomem(im->ctx);
        m->ext = p;
        m->capext = cap;
    }
    m->ext[m->next++] = (gs_extfile){ full, map, size };
    return GS_OK;
}

/* Map each external-data file once per model: a model of 70,000 tensors in
 * one file makes one mapping, not 70,000 (vm.max_map_count is 65,530). */
static gs_status map_external(imp *im, const char *loc, void **map, size_t *size)
{
    size_t n = strlen(im->dir) + strlen(loc) + 2;
    char *full = gs_alloc(im->ctx, n);
    if (!full)
        return gs_nomem(im->ctx);
    snprintf(full, n, "%s/%s", im->dir, loc);
    const gs_extfile *f = ext_find(im->m, full);
    if (f) {
        gs_dealloc(im->ctx, full);
        *map = f->map;
        *size = f->size;
        return GS_OK;
    }
    gs_status st = inside_folder(im, full, loc) ? gs_file_map(im->ctx, full, map, size) : GS_ERR_MODEL;
    if (st == GS_OK && (st = ext_add(im, full, *map, *size)) != GS_OK)
        gs_file_unmap(*map, *size);
    if (st != GS_OK)
        gs_dealloc(im->ctx, full);
    return st;
}

static gs_status external_data(imp *im, const Onnx__TensorProto *tp, gs_tensor *t, size_t want)
{
    const char *loc = NULL;
    int64_t offset = 0, length = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key || !e->value)
            continue;
        if (!strcmp(e->key, "location"))
            loc = e->value;
        else if (!strcmp(e->key, "offset"))
            offset = strtoll(e->value, NULL, 10);
        else if (!strcmp(e->key, "length"))
            length = strtoll(e->value, NULL, 10);
    }
    const char *name = t->name;
    if (!safe_location(loc))
        return gs_err(im->ctx, GS_ERR_MODEL, "tensor '%s': external data location '%s' is not a "
                      "relative path inside the model's folder", name, loc ? loc : "");
    if (!im->dir || !im->m)
        return gs_err(im->ctx, GS_ERR_MODEL, "tensor '%s': external data needs a model file", name);
    void *map;
    size_t size;
    gs_status st = map_external(im, loc, &map, &size);
    if (st != GS_OK)
        return st;
    if (length < 0)
        length = (int64_t)want;
    if (offset < 0 || (uint64_t)offset > size || (uint64_t)length > size - (uint64_t)offset ||
        (size_t)length != want)
        return gs_err(im->ctx, GS_ERR_MODEL, "tensor '%s': external data range (offset %lld, "
                      "length %lld) does not fit '%s' or the tensor's %zu bytes", name,
                      (long long)offset, (long long)length, loc, want);
    t->data = (char *)map + offset;
    t->nbytes = want;
    if ((uintptr_t)t->data % 16 && !(t->data = gs_arena_memdup(im->m->graph->perm, t->data, want)))
        return gs_nomem(im->ctx);   /* kernels need aligned elements */
    t->flags |= GS_T_EXTERNAL;
    return GS_OK;
}

/* Copy n typed-field elements into t's element type. */
static gs_status convert_typed(imp *im, gs_arena *perm, gs_tensor *t, const void *src, size_t n,
                               int kind)
{
    size_t es = gs_dtype_size(t->dtype);
    size_t bytes = n * es;   /* n counts elements of a shape already checked */
    void *d = gs_arena_alloc(perm, bytes ? bytes : 1);
    if (!d)
        return gs_nomem(im->ctx);
    for (size_t i = 0; i < n; i++) {
        int64_t v = kind == 32 ? ((const int32_t *)src)[i] : (int64_t)((const uint64_t *)src)[i];
        switch (es) {
        case 1: ((uint8_t *)d)[i] = (uint8_t)v; break;
        case 2: ((uint16_t *)d)[i] = (uint16_t)v; break;
        case 4: ((uint32_t *)d)[i] = (uint32_t)v; break;
        default: ((uint64_t *)d)[i] = (uint64_t)v; break;
        }
    }
    t->data = d;
    t->nbytes = n * es;
    return GS_OK;
}

static gs_status typed_data(imp *im, gs_arena *perm, const Onnx__TensorProto *tp, gs_tensor *t,
                            size_t numel)
{
    const void *src = NULL;
    size_t n = 0, per = 1;
    int kind = 0;   /* 0: use in place; 32 / 64: convert from int32 / uint64 fields */
    switch (t->dtype) {
    case GS_FLOAT: src = tp->float_data, n = tp->n_float_data; break;
    case GS_COMPLEX64: src = tp->float_data, n = tp->n_float_data, per = 2; break;
    case GS_DOUBLE: src = tp->double_data, n = tp->n_double_data; break;
    case GS_COMPLEX128: src = tp->double_data, n = tp->n_double_data, per = 2; break;
    case GS_INT64: src = tp->int64_data, n = tp->n_int64_data; break;
    case GS_INT32: src = tp->int32_data, n = tp->n_int32_data; break;
    case GS_UINT32: case GS_UINT64:
        src = tp->uint64_data, n = tp->n_uint64_data, kind = t->dtype == GS_UINT32 ? 64 : 0; break;
    default: src = tp->int32_data, n = tp->n_int32_data, kind = 32; break;
    }
    if (n != numel * per)
        return gs_err(im->ctx, GS_ERR_MODEL, "tensor '%s' has %zu values, its shape needs %zu",
                      t->name, n / per, numel);
    if (kind)
        return convert_typed(im, perm, t, src, n, kind);
    t->data = (void *)src;
    t->nbytes = numel * gs_dtype_size(t->dtype);
    return GS_OK;
}

static gs_status tensor_shape(imp *im, const Onnx__TensorProto *tp, gs_tensor *t, size_t *numel)
{
    if (tp->n_dims > GS_MAX_RANK)
        return gs_err(im->ctx, GS_ERR_LIMIT, "tensor '%s' has rank %zu (limit %d)", t->name,
                      tp->n_dims, GS_MAX_RANK);
    t->rank = (int32_t)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return gs_err(im->ctx, GS_ERR_MODEL, "tensor '%s' has a negative dim", t->name);
        t->dims[i] = tp->dims[i];
    }
    int64_t n = gs_numel(t->dims, t->rank);
    size_t bytes;
    if (n < 0 || !gs_mul_ok((size_t)n, gs_dtype_size(t->dtype) ? gs_dtype_size(t->dtype) : 1, &bytes) ||
        (int64_t)bytes > GS_MAX_TENSOR_BYTES)
        return gs_err(im->ctx, GS_ERR_LIMIT, "tensor '%s': dims overflow or exceed the size limit",
                      t->name);
    *numel = (size_t)n;
    return GS_OK;
}

/* Import a TensorProto into a tensor in arena perm (the graph's shared arena). */
static gs_status import_tensor_in(imp *im, gs_arena *perm, const Onnx__TensorProto *tp,
                                  gs_tensor **out)
{
    gs_tensor *t = gs_arena_alloc(perm, sizeof *t);
    if (!t)
        return gs_nomem(im->ctx);
    t->name = tp->name ? tp->name : "";
    t->dtype = tp->has_data_type ? tp->data_type : GS_UNDEFINED;
    t->src = tp;
    *out = t;
    size_t numel = 0;
    gs_status st = tensor_shape(im, tp, t, &numel);
    if (st != GS_OK)
        return st;
    size_t es = gs_dtype_size(t->dtype);
    if (t->dtype == GS_STRING || es == 0 || tp->segment)
        return GS_OK;   /* carried through, never evaluated */
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return external_data(im, tp, t, numel * es);
    if (tp->has_raw_data) {
        if (tp->raw_data.len != numel * es)
            return gs_err(im->ctx, GS_ERR_MODEL, "tensor '%s' has %zu bytes of data, its shape "
                          "needs %zu", t->name, tp->raw_data.len, numel * es);
        t->data = tp->raw_data.data;
        t->nbytes = tp->raw_data.len;
        if (im->m && im->m->map && t->data >= (void *)im->m->map &&
            (char *)t->data < (char *)im->m->map + im->m->mapsize)
            t->flags |= GS_T_MAPPED;
        return GS_OK;
    }
    return typed_data(im, perm, tp, t, numel);
}

static gs_status import_tensor(imp *im, gs_graph *g, const Onnx__TensorProto *tp, gs_tensor **out)
{
    return import_tensor_in(im, g->perm, tp, out);
}

/* ---- value types ------------------------------------------------------- */

static gs_status import_type(imp *im, gs_graph *g, gs_value *v, const Onnx__ValueInfoProto *vi)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return GS_OK;
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type)
        v->dtype = tt->elem_type;
    if (!tt->shape)
        return GS_OK;
    if (tt->shape->n_dim > GS_MAX_RANK)
        return gs_err(im->ctx, GS_ERR_LIMIT, "value '%s' has rank %zu (limit %d)", v->name,
                      tt->shape->n_dim, GS_MAX_RANK);
    int rank = (int)tt->shape->n_dim;
    gs_dim *dims = gs_arena_alloc(&g->arena, (size_t)(rank ? rank : 1) * sizeof *dims);
    if (!dims)
        return gs_nomem(im->ctx);
    for (int i = 0; i < rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        dims[i].v = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0)
            dims[i].v = d->dim_value;
        else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            dims[i].sym = d->dim_param;
    }
    v->rank = rank;
    v->dims = dims;
    return GS_OK;
}

/* Find or create the value named by a ValueInfoProto and attach its type. */
static gs_status value_of_info(imp *im, gs_graph *g, const Onnx__ValueInfoProto *vi, gs_id *out)
{
    const char *name = vi->name ? vi->name : "";
    gs_id v = gs_ir_find(g, name);
    if (v == GS_NONE && (v = gs_ir_add_value(g, name, false)) == GS_NONE)
        return g->ctx->last;
    *out = v;
    gs_value *val = &g->values[v];
    if (val->src_info)
        return GS_OK;
    val->src_info = vi;
    return import_type(im, g, val, vi);
}

/* ---- graphs and nodes -------------------------------------------------- */

static gs_status import_graph(imp *im, const Onnx__GraphProto *gp, gs_graph *parent, gs_graph **out);

/* The id in g of a name used by a node: local, or captured from an
 * enclosing graph (recursively), or GS_NONE when undefined anywhere. */
static gs_id resolve(gs_graph *g, const char *name)
{
    gs_id v = gs_ir_find(g, name);
    if (v != GS_NONE || !g->parent)
        return v;
    gs_id pv = resolve(g->parent, name);
    if (pv == GS_NONE)
        return GS_NONE;
    v = gs_ir_add_value(g, name, false);
    if (v == GS_NONE)
        return GS_NONE;
    g->values[v].flags |= GS_V_OUTER;
    g->values[v].outer = pv;
    g->values[v].dtype = g->parent->values[pv].dtype;
    return v;
}

static gs_status attr_strings(imp *im, gs_graph *g, gs_attr *a, const ProtobufCBinaryData *bs, size_t n)
{
    a->strs = gs_arena_alloc(g->perm, (n ? n : 1) * sizeof *a->strs);
    a->strlens = gs_arena_alloc(g->perm, (n ? n : 1) * sizeof *a->strlens);
    if (!a->strs || !a->strlens)
        return gs_nomem(im->ctx);
    for (size_t i = 0; i < n; i++) {
        char *s = gs_arena_alloc(g->perm, bs[i].len + 1);
        if (!s)
            return gs_nomem(im->ctx);
        if (bs[i].len)
            memcpy(s, bs[i].data, bs[i].len);
        a->strs[i] = s;
        a->strlens[i] = bs[i].len;
    }
    a->n = n;
    return GS_OK;
}

static int attr_type(const Onnx__AttributeProto *ap)
{
    if (ap->has_type && ap->type)
        return ap->type;
    if (ap->has_f) return GS_A_FLOAT;       /* IR version 1 models omit the type */
    if (ap->has_i) return GS_A_INT;
    if (ap->has_s) return GS_A_STRING;
    if (ap->t) return GS_A_TENSOR;
    if (ap->g) return GS_A_GRAPH;
    if (ap->n_floats) return GS_A_FLOATS;
    if (ap->n_ints) return GS_A_INTS;
    if (ap->n_strings) return GS_A_STRINGS;
    if (ap->n_tensors) return GS_A_TENSORS;
    if (ap->n_graphs) return GS_A_GRAPHS;
    return GS_A_UNDEFINED;
}

static gs_status import_attr(imp *im, gs_graph *g, const Onnx__AttributeProto *ap, gs_attr *a)
{
    gs_status st = GS_OK;
    a->name = ap->name ? ap->name : "";
    a->type = attr_type(ap);
    a->src = ap;
    a->f = ap->f;
    a->i = ap->i;
    a->ints = ap->ints;
    a->floats = ap->floats;
    switch (a->type) {
    case GS_A_INTS: a->n = ap->n_ints; break;
    case GS_A_FLOATS: a->n = ap->n_floats; break;
    case GS_A_STRING:
        if ((st = attr_strings(im, g, a, &ap->s, 1)) == GS_OK)
            a->s = a->strs[0], a->slen = a->strlens[0], a->n = 0;
        break;
    case GS_A_STRINGS: st = attr_strings(im, g, a, ap->strings, ap->n_strings); break;
    case GS_A_TENSOR:
        if (ap->t)
            st = import_tensor(im, g, ap->t, &a->t);
        break;
    case GS_A_TENSORS:
        a->n = ap->n_tensors;
        if (!(a->ts = gs_arena_alloc(g->perm, (a->n ? a->n : 1) * sizeof *a->ts)))
            return gs_nomem(im->ctx);
        for (size_t i = 0; i < a->n && st == GS_OK; i++)
            st = import_tensor(im, g, ap->tensors[i], &a->ts[i]);
        break;
    case GS_A_GRAPH:
        if (ap->g)
            st = import_graph(im, ap->g, g, &a->g);
        break;
    case GS_A_GRAPHS:
        a->n = ap->n_graphs;
        if (!(a->gs = gs_arena_alloc(&g->arena, (a->n ? a->n : 1) * sizeof *a->gs)))
            return gs_nomem(im->ctx);
        for (size_t i = 0; i < a->n && st == GS_OK; i++)
            st = import_graph(im, ap->graphs[i], g, &a->gs[i]);
        break;
    default:
        break;   /* sparse tensors, type protos: carried through by src */
    }
    return st;
}

/* Record on node id the outer values its subgraphs read. */
static gs_status collect_caps(gs_graph *g, gs_id id, const gs_graph *sub)
{
    for (gs_id v = 0; v < sub->nvalues; v++) {
        const gs_value *sv = &sub->values[v];
        if (!(sv->flags & GS_V_OUTER))
            continue;
        gs_node *n = &g->nodes[id];
        bool seen = false;
        for (int k = 0; k < n->ncaps; k++)
            seen |= n->caps[k] == sv->outer;
        if (seen)
            continue;
        gs_id *caps = gs_arena_alloc(&g->arena, (size_t)(n->ncaps + 1) * sizeof *caps);
        if (!caps)
            return gs_nomem(g->ctx);
        if (n->ncaps)
            memcpy(caps, n->caps, (size_t)n->ncaps * sizeof *caps);
        caps[n->ncaps++] = sv->outer;
        n->caps = caps;
        if (gs_ir_add_use(g, sv->outer, id) != GS_OK)
            return GS_ERR_NOMEM;
    }
    return GS_OK;
}

static gs_status node_caps(gs_graph *g, gs_id id)
{
    gs_status st = GS_OK;
    for (int a = 0; a < g->nodes[id].nattrs && st == GS_OK; a++) {
        const gs_attr *at = &g->nodes[id].attrs[a];
        if (at->type == GS_A_GRAPH && at->g)
            st = collect_caps(g, id, at->g);
        for (size_t j = 0; at->type == GS_A_GRAPHS && j < at->n && st == GS_OK; j++)
            st = collect_caps(g, id, at->gs[j]);
    }
    return st;
}

static gs_status node_values(imp *im, gs_graph *g, const Onnx__NodeProto *np, gs_id *ids, bool out)
{
    size_t n = out ? np->n_output : np->n_input;
    char **names = out ? np->output : np->input;
    for (size_t k = 0; k < n; k++) {
        const char *name = names[k] ? names[k] : "";
        if (!*name) {
            ids[k] = GS_NONE;
            continue;
        }
        if (strlen(name) > GS_MAX_NAME)
            return gs_err(im->ctx, GS_ERR_LIMIT, "node '%s': a value name is too long",
                          np->name ? np->name : "");
        ids[k] = out ? gs_ir_find(g, name) : resolve(g, name);
        if (ids[k] == GS_NONE)
            return g->ctx->last == GS_ERR_NOMEM ? GS_ERR_NOMEM :
                   gs_err(im->ctx, GS_ERR_MODEL, "node '%s' (%s) reads undefined value '%s'",
                          np->name ? np->name : "", np->op_type ? np->op_type : "", name);
    }
    return GS_OK;
}

static gs_status import_node(imp *im, gs_graph *g, const Onnx__NodeProto *np)
{
    size_t nin = np->n_input, nout = np->n_output;
    if (nin > 100000 || nout > 100000)
        return gs_err(im->ctx, GS_ERR_LIMIT, "node '%s' has too many inputs or outputs",
                      np->name ? np->name : "");
    gs_id *ids = gs_alloc(im->ctx, (nin + nout + 1) * sizeof *ids);
    if (!ids)
        return gs_nomem(im->ctx);
    gs_status st = node_values(im, g, np, ids, false);
    if (st == GS_OK)
        st = node_values(im, g, np, ids + nin, true);
    gs_id id = GS_NONE;
    if (st == GS_OK) {
        id = gs_ir_add_node(g, np->op_type ? np->op_type : "", np->domain ? np->domain : "",
                            np->name ? np->name : "", ids, (int)nin, ids + nin, (int)nout);
        st = id == GS_NONE ? g->ctx->last : GS_OK;
    }
    gs_dealloc(im->ctx, ids);
    if (st != GS_OK)
        return st;
    gs_node *n = &g->nodes[id];
    n->src = np;
    if (np->n_attribute > 10000)
        return gs_err(im->ctx, GS_ERR_LIMIT, "node '%s' has too many attributes", n->name);
    n->nattrs = (int32_t)np->n_attribute;
    gs_attr *attrs = gs_arena_alloc(&g->arena, (np->n_attribute ? np->n_attribute : 1) * sizeof *attrs);
    if (!attrs)
        return gs_nomem(im->ctx);
    g->nodes[id].attrs = attrs;
    for (size_t a = 0; a < np->n_attribute; a++)
        if ((st = import_attr(im, g, np->attribute[a], &attrs[a])) != GS_OK)
            return st;
    return node_caps(g, id);
}

/* Pre-create the values every node defines, so nodes may come in any order. */
static gs_status define_outputs(imp *im, gs_graph *g, const Onnx__GraphProto *gp)
{
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        for (size_t k = 0; k < np->n_output; k++) {
            const char *name = np->output[k] ? np->output[k] : "";
            if (!*name)
                continue;
            gs_id v = gs_ir_find(g, name);
            if (v != GS_NONE && !(g->values[v].flags & GS_V_INPUT) && !g->values[v].init)
                return gs_err(im->ctx, GS_ERR_MODEL, "value '%s' is defined by two nodes", name);
            if (v == GS_NONE && gs_ir_add_value(g, name, false) == GS_NONE)
                return g->ctx->last;
        }
    }
    return GS_OK;
}

static gs_status import_list(imp *im, gs_graph *g, Onnx__ValueInfoProto **vis, size_t n,
                             gs_id **ids, const void ***srcs, int32_t *count, uint32_t flag)
{
    *ids = gs_arena_alloc(g->perm, (n ? n : 1) * sizeof **ids);
    *srcs = gs_arena_alloc(g->perm, (n ? n : 1) * sizeof **srcs);
    if (!*ids || !*srcs)
        return gs_nomem(im->ctx);
    for (size_t i = 0; i < n; i++) {
        gs_status st = value_of_info(im, g, vis[i], &(*ids)[i]);
        if (st != GS_OK)
            return st;
        (*srcs)[i] = vis[i];
        g->values[(*ids)[i]].flags |= flag;
    }
    *count = (int32_t)n;
    return GS_OK;
}

static gs_status import_inits(imp *im, gs_graph *g, const Onnx__GraphProto *gp)
{
    g->inits = gs_arena_alloc(g->perm, (gp->n_initializer ? gp->n_initializer : 1) * sizeof *g->inits);
    if (!g->inits)
        return gs_nomem(im->ctx);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        const char *name = tp->name ? tp->name : "";
        gs_id v = gs_ir_find(g, name);
        if (v != GS_NONE && g->values[v].init)
            return gs_err(im->ctx, GS_ERR_MODEL, "initializer '%s' is defined twice", name);
        if (v == GS_NONE && (v = gs_ir_add_value(g, name, false)) == GS_NONE)
            return g->ctx->last;
        gs_tensor *t;
        gs_status st = import_tensor(im, g, tp, &t);
        if (st != GS_OK)
            return st;
        gs_value *val = &g->values[v];
        val->init = t;
        if (!val->src_info) {
            val->dtype = t->dtype;
            val->rank = t->rank;
            val->dims = gs_arena_alloc(&g->arena, (size_t)(t->rank ? t->rank : 1) * sizeof(gs_dim));
            if (!val->dims)
                return gs_nomem(im->ctx);
            for (int k = 0; k < t->rank; k++)
                val->dims[k].v = t->dims[k];
        }
        g->inits[g->ninits++] = v;
    }
    for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
        const Onnx__SparseTensorProto *sp = gp->sparse_initializer[i];
        const char *name = sp->values && sp->values->name ? sp->values->name : "";
        gs_id v = gs_ir_find(g, name);
        if (v == GS_NONE && (v = gs_ir_add_value(g, name, false)) == GS_NONE)
            return g->ctx->last;
        g->values[v].flags |= GS_V_SPARSE;
    }
    return GS_OK;
}

static gs_status import_graph_body(imp *im, const Onnx__GraphProto *gp, gs_graph *g)
{
    gs_status st;
    g->name = gp->name ? gp->name : "";
    g->src = gp;
    if (gp->n_node > GS_MAX_NODES)
        return gs_err(im->ctx, GS_ERR_LIMIT, "graph '%s' has more than %d nodes", g->name, GS_MAX_NODES);
    if ((st = import_list(im, g, gp->input, gp->n_input, &g->inputs, &g->insrc, &g->ninputs,
                          GS_V_INPUT)) != GS_OK ||
        (st = import_inits(im, g, gp)) != GS_OK ||
        (st = define_outputs(im, g, gp)) != GS_OK)
        return st;
    for (size_t i = 0; i < gp->n_node; i++)
        if ((st = import_node(im, g, gp->node[i])) != GS_OK)
            return st;
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name ? gp->output[i]->name : "";
        if (resolve(g, name) == GS_NONE)
            return gs_err(im->ctx, GS_ERR_MODEL, "graph output '%s' is not defined", name);
    }
    if ((st = import_list(im, g, gp->output, gp->n_output, &g->outputs, &g->outsrc, &g->noutputs,
                          GS_V_OUTPUT)) != GS_OK)
        return st;
    return import_list(im, g, gp->value_info, gp->n_value_info, &g->infos, &g->infosrc,
                       &g->ninfos, 0);
}

static gs_status import_graph(imp *im, const Onnx__GraphProto *gp, gs_graph *parent, gs_graph **out)
{
    if (++im->depth > GS_MAX_DEPTH)
        return gs_err(im->ctx, GS_ERR_LIMIT, "subgraphs nested deeper than %d", GS_MAX_DEPTH);
    gs_graph *g = gs_ir_new(im->ctx, parent);
    if (!g)
        return gs_nomem(im->ctx);
    if (!parent) {   /* a subgraph is its parent's from the start, so errors free it */
        g->opset = im->opset;
        im->m->graph = g;
    }
    *out = g;
    gs_status st = import_graph_body(im, gp, g);
    im->depth--;
    return st;
}

/* ---- model ------------------------------------------------------------- */

static gs_status import_opsets(imp *im, const Onnx__ModelProto *mp)
{
    gs_model *m = im->m;
    m->opsets = gs_zalloc(im->ctx, (mp->n_opset_import + 1) * sizeof *m->opsets);
    if (!m->opsets)
        return gs_nomem(im->ctx);
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        m->opsets[i].domain = o->domain ? o->domain : "";
        m->opsets[i].version = o->has_version ? o->version : 0;
        const char *d = m->opsets[i].domain;
        if (!im->opset && (!*d || !strcmp(d, "ai.onnx")))
            im->opset = m->opsets[i].version;   /* the first entry wins, as gs_model_opset_of */
    }
    m->nopsets = (int32_t)mp->n_opset_import;
    return GS_OK;
}

enum { CUT_THRESHOLD = 4096, SKELETON_MIN_FILE = 1 << 20 };

/* Point the initializers cut from the skeleton at their bytes in the map;
 * false when the unpacked message does not have them where expected. */
static bool attach_cuts(Onnx__ModelProto *mp, const gs_wire_skel *sk)
{
    for (int i = 0; i < sk->ncuts; i++) {
        const gs_wire_cut *c = &sk->cuts[i];
        if (!mp->graph || (size_t)c->tensor >= mp->graph->n_initializer ||
            mp->graph->initializer[c->tensor]->has_raw_data)
            return false;
    }
    for (int i = 0; i < sk->ncuts; i++) {
        Onnx__TensorProto *tp = sk->cuts[i].tensor >= 0 ? mp->graph->initializer[sk->cuts[i].tensor] : NULL;
        tp->has_raw_data = 1;
        tp->raw_data.data = (uint8_t *)sk->cuts[i].data;
        tp->raw_data.len = sk->cuts[i].len;
    }
    return true;
}

/* Unpack buf; for a large mapped file, unpack a skeleton without the big
 * weights and keep the map (see onnx_wire.c). *keep_map tells which. */
static Onnx__ModelProto *unpack(gs_ctx *ctx, gs_pbmem *pm, void *buf, size_t size, bool mapped,
                                gs_wire_skel *sk, bool *keep_map)
{
    ProtobufCAllocator pa = gs_onnx_allocator(pm);
    *keep_map = false;
    if (mapped && size >= SKELETON_MIN_FILE && gs_wire_skeleton(ctx, buf, size, CUT_THRESHOLD, sk)) {
        Onnx__ModelProto *mp = onnx__model_proto__unpack(&pa, sk->size, sk->buf);
        gs_dealloc(ctx, sk->buf);
        sk->buf = NULL;
        if (mp && attach_cuts(mp, sk)) {
            *keep_map = true;
            return mp;
        }
        if (mp)
            onnx__model_proto__free_unpacked(mp, &pa);
        gs_wire_skel_free(ctx, sk);
        if (pm->failed)
            return NULL;
    }
    return onnx__model_proto__unpack(&pa, size, buf);
}

gs_status gs_onnx_import(gs_model *m, void *buf, size_t size, bool mapped, const char *path,
                         const char *dir)
{
    gs_ctx *ctx = m->ctx;
    gs_pbmem pm = { ctx, false };
    gs_wire_skel sk;
    bool keep_map;
    gs_status wst = gs_wire_check(ctx, buf, size, GS_MAX_MESSAGE_DEPTH, path);
    if (wst != GS_OK) {
        if (mapped)
            gs_file_unmap(buf, size);
        return wst;
    }
    Onnx__ModelProto *mp = unpack(ctx, &pm, buf, size, mapped, &sk, &keep_map);
    if (mapped && !keep_map)
        gs_file_unmap(buf, size);   /* unpack copied everything it keeps */
    if (!mp && pm.failed)
        return gs_nomem(ctx);
    if (!mp)
        return gs_err(ctx, GS_ERR_PARSE, "%s: not an ONNX model (protobuf parse failed)", path);
    m->proto = mp;   /* from here the model owns the message and the map */
    if (keep_map) {
        m->map = buf;
        m->mapsize = size;
        m->cuts = sk.cuts;
        m->ncuts = sk.ncuts;
    }
    imp im = { ctx, m, path, dir, 0, 0 };
    gs_status st = GS_OK;
    if (dir && !(m->dir = gs_strdup(ctx, dir)))
        st = gs_nomem(ctx);
    if (st == GS_OK && !mp->graph)
        st = gs_err(ctx, GS_ERR_PARSE, "%s: not an ONNX model (no graph)", path);
    if (st == GS_OK)
        st = gs_onnx_check(ctx, mp, path);
    if (st == GS_OK)
        st = import_opsets(&im, mp);
    gs_graph *g;
    if (st == GS_OK)
        st = import_graph(&im, mp->graph, NULL, &g);
    if (st == GS_OK)
        st = gs_ir_verify(m->graph);
    return st == GS_OK ? GS_OK : in_file(&im, st);
}

/* ---- tensor files (ONNX test-data layout) ------------------------------ */

static gs_status read_tensor(gs_ctx *ctx, const char *path, const Onnx__TensorProto *tp,
                             gs_tensor **out)
{
    gs_arena tmp;
    gs_arena_init(&tmp, ctx);
    imp im = { ctx, NULL, path, NULL, 0, 0 };
    gs_tensor *t = NULL, *c = NULL;
    gs_status st = import_tensor_in(&im, &tmp, tp, &t);
    if (st == GS_OK && !t->data && (t->dtype == GS_STRING || !gs_dtype_size(t->dtype) || t->nbytes))
        st = gs_err(ctx, GS_ERR_UNSUPPORTED, "tensors of type %s are not supported",
                    gs_dtype_name(t->dtype));
    if (st == GS_OK && !(c = gs_tensor_new(ctx)))
        st = gs_nomem(ctx);
    if (st == GS_OK) {
        *c = *t;
        c->src = NULL;
        c->flags = 0;
        c->name = "";
        c->data = gs_alloc(ctx, t->nbytes ? t->nbytes : 1);
        if (!c->data) {
            gs_dealloc(ctx, c);
            c = NULL;
            st = gs_nomem(ctx);
        } else {
            if (t->nbytes)
                memcpy(c->data, t->data, t->nbytes);
            c->flags = GS_T_OWNED;
        }
    }
    gs_arena_free(&tmp);
    *out = c;
    return st;
}

gs_status gs_onnx_read_tensor(gs_ctx *ctx, const char *path, gs_tensor **out)
{
    *out = NULL;
    void *map;
    size_t size;
    gs_status st = gs_file_map(ctx, path, &map, &size);
    if (st != GS_OK)
        return st;
    gs_pbmem pm = { ctx, false };
    ProtobufCAllocator pa = gs_onnx_allocator(&pm);
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&pa, size, map ? map : (void *)"");
    gs_file_unmap(map, size);
    if (!tp)
        return pm.failed ? gs_nomem(ctx)
                         : gs_err(ctx, GS_ERR_PARSE, "%s: not an ONNX tensor (protobuf parse failed)", path);
    st = gs_onnx_check_tensor(ctx, tp, path);
    if (st == GS_OK)
        st = read_tensor(ctx, path, tp, out);
    onnx__tensor_proto__free_unpacked(tp, &pa);
    if (st != GS_OK && st != GS_ERR_NOMEM && strncmp(ctx->msg, path, strlen(path))) {
        char msg[sizeof ctx->msg];
        snprintf(msg, sizeof msg, "%s", ctx->msg);
        gs_err(ctx, st, "%s: %s", path, msg);
    }
    return st;
}

/* ---- model-local functions, inlined ------------------------------------ */

/* A call's body: a node whose domain and op name one of the model's local
 * functions (FunctionProto) is replaced by the function's nodes, their
 * values renamed apart, the function's inputs and outputs bound to the
 * call's, attributes that refer to the call's (ref_attr_name) taken from it.
 * ONNX defines a call as exactly that expansion. A function is left called
 * when inlining could change what it means or cannot be done here: its
 * opset imports differ from the model's, a node of it holds a graph (whose
 * names would need renaming inside), two functions share its name
 * (overloads), a name in it is read before it is defined, or an attribute
 * it refers to is missing from the call while the function may give a
 * default (fields this protobuf schema does not know). */

enum { MAX_INLINED = 1 << 20 };   /* calls expanded in one model: a recursive function stops here */

/* A small string -> value map for one call's names. */
typedef struct names {
    const char **key;
    gs_id *id;
    size_t cap;   /* a power of 2, at least twice the names */
} names;

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

/* The value slot of key, added (holding GS_NONE) when key is new. */
static gs_id *name_slot(names *t, const char *key)
{
    size_t i = name_hash(key) & (t->cap - 1);
    while (t->key[i] && strcmp(t->key[i], key))
        i = (i + 1) & (t->cap - 1);
    if (!t->key[i])
        t->key[i] = key, t->id[i] = GS_NONE;
    return &t->id[i];
}

/* Whether key is in t (its value in *id). */
static bool name_get(const names *t, const char *key, gs_id *id)
{
    size_t i = name_hash(key) & (t->cap - 1);
    for (; t->key[i]; i = (i + 1) & (t->cap - 1))
        if (!strcmp(t->key[i], key)) {
            *id = t->id[i];
            return true;
        }
    return false;
}

static gs_status names_init(gs_ctx *ctx, names *t, size_t count)
{
    t->cap = 16;
    while (t->cap < 2 * count + 2)
        t->cap *= 2;
    t->key = gs_zalloc(ctx, t->cap * sizeof *t->key);
    t->id = gs_alloc(ctx, t->cap * sizeof *t->id);
    return t->key && t->id ? GS_OK : gs_nomem(ctx);
}

/* Room for every name of f's inputs and its nodes' outputs. */
static size_t function_names(const Onnx__FunctionProto *f)
{
    size_t n = f->n_input + f->n_output + 64;
    for (size_t i = 0; i < f->n_node; i++)
        n += f->node[i]->n_output;
    return n;
}

static void names_free(gs_ctx *ctx, names *t)
{
    gs_dealloc(ctx, t->key);
    gs_dealloc(ctx, t->id);
}

/* The function node n calls, or NULL (none, or two of that name). */
static const Onnx__FunctionProto *callee(const Onnx__ModelProto *mp, const gs_node *n)
{
    const Onnx__FunctionProto *found = NULL;
    for (size_t i = 0; i < mp->n_functions; i++) {
        const Onnx__FunctionProto *f = mp->functions[i];
        if (f->name && !strcmp(f->name, n->op) && gs_onnx_same_domain(f->domain, n->domain)) {
            if (found)
                return NULL;   /* overloads: which one is not known here */
            found = f;
        }
    }
    return found;
}

/* Every opset f imports is the model's. */
static bool same_opsets(const gs_model *m, const Onnx__FunctionProto *f)
{
    for (size_t i = 0; i < f->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = f->opset_import[i];
        bool found = false;
        for (int32_t k = 0; k < m->nopsets && !found; k++)
            found = gs_onnx_same_domain(m->opsets[k].domain, o->domain) && m->opsets[k].version == o->version;
        if (!found)
            return false;
    }
    return true;
}

/* Whether the call n of f can be expanded (see the top of this part). */
static bool inlinable(imp *im, const Onnx__FunctionProto *f, const gs_node *n)
{
    if (!same_opsets(im->m, f) || (size_t)n->nin > f->n_input || (size_t)n->nout > f->n_output)
        return false;
    names t;
    if (f->n_node > GS_MAX_NODES || names_init(im->ctx, &t, function_names(f)) != GS_OK)
        return false;
    bool ok = true;
    for (size_t i = 0; i < f->n_input; i++)
        *name_slot(&t, f->input[i] ? f->input[i] : "") = 0;
    for (size_t i = 0; i < f->n_node && ok; i++) {
        const Onnx__NodeProto *np = f->node[i];
        ok = np->op_type && np->n_input < 100000 && np->n_output < 100000;
        for (size_t k = 0; k < np->n_input && ok; k++) {
            gs_id id;
            ok = !np->input[k] || !*np->input[k] || name_get(&t, np->input[k], &id);
        }
        for (size_t a = 0; a < np->n_attribute && ok; a++) {
            const Onnx__AttributeProto *ap = np->attribute[a];
            int type = attr_type(ap);
            ok = type != GS_A_GRAPH && type != GS_A_GRAPHS &&
                 (!ap->ref_attr_name || !*ap->ref_attr_name || gs_ir_attr(n, ap->ref_attr_name) ||
                  !f->base.n_unknown_fields);
        }
        for (size_t k = 0; k < np->n_output && ok; k++) {
            gs_id id;
            if (np->output[k] && *np->output[k] && !(ok = !name_get(&t, np->output[k], &id)))
                break;   /* defined twice */
            if (np->output[k] && *np->output[k])
                *name_slot(&t, np->output[k]) = 0;
        }
    }
    for (size_t j = 0; j < f->n_output && ok; j++) {
        gs_id id;
        ok = f->output[j] && name_get(&t, f->output[j], &id);
    }
    names_free(im->ctx, &t);
    return ok;
}

/* Attribute ap of a body node inlined at call (its attributes attrs[0..n)):
 * into *a; false when it refers to an attribute the call does not give (it
 * is then omitted). */
static gs_status inline_attr(imp *im, gs_graph *g, const Onnx__AttributeProto *ap, const gs_attr *attrs,
                             int n, gs_attr *a, bool *keep)
{
    *keep = true;
    if (!ap->ref_attr_name || !*ap->ref_attr_name)
        return import_attr(im, g, ap, a);
    for (int i = 0; i < n; i++)
        if (!strcmp(attrs[i].name, ap->ref_attr_name)) {
            *a = attrs[i];
            a->name = ap->name ? ap->name : "";
            a->src = NULL;   /* written from the IR under the body's name */
            return GS_OK;
        }
    *keep = false;
    return GS_OK;
}

/* Body node np of a call, added to g reading and writing through t. */
static gs_status inline_node(imp *im, gs_graph *g, const Onnx__NodeProto *np, names *t, const char *prefix,
                             const gs_attr *attrs, int nattrs)
{
    size_t nin = np->n_input, nout = np->n_output;
    gs_id *ids = gs_alloc(im->ctx, (nin + nout + 1) * sizeof *ids);
    if (!ids)
        return gs_nomem(im->ctx);
    gs_status st = GS_OK;
    for (size_t k = 0; k < nin; k++)
        if (!np->input[k] || !*np->input[k] || !name_get(t, np->input[k], &ids[k]))
            ids[k] = GS_NONE;
    char base[512];   /* a longer name is cut, then made unique */
    for (size_t k = 0; k < nout && st == GS_OK; k++) {
        gs_id *slot = np->output[k] && *np->output[k] ? name_slot(t, np->output[k]) : NULL;
        ids[nin + k] = slot ? *slot : GS_NONE;
        if (slot && *slot == GS_NONE) {   /* an inner value: a fresh name */
            snprintf(base, sizeof base, "%s/%s", prefix, np->output[k]);
            const char *name = gs_ir_unique_name(g, base);
            *slot = ids[nin + k] = name ? gs_ir_add_value(g, name, false) : GS_NONE;
            st = *slot == GS_NONE ? (g->ctx->last ? g->ctx->last : gs_nomem(im->ctx)) : GS_OK;
        }
    }
    snprintf(base, sizeof base, "%s/%s", prefix, np->name && *np->name ? np->name : np->op_type);
    const char *name = st == GS_OK ? gs_ir_unique_node_name(g, base) : NULL;
    gs_id id = name ? gs_ir_add_node(g, np->op_type, np->domain ? np->domain : "", name, ids, (int)nin, ids + nin,
                                     (int)nout) : GS_NONE;
    gs_dealloc(im->ctx, ids);
    if (id == GS_NONE)
        return st != GS_OK ? st : g->ctx->last ? g->ctx->last : gs_nomem(im->ctx);
    gs_attr *out = gs_arena_alloc(&g->arena, (np->n_attribute ? np->n_attribute : 1) * sizeof *out);
    if (!out)
        return gs_nomem(im->ctx);
    int kept = 0;
    for (size_t a = 0; a < np->n_attribute && st == GS_OK; a++) {
        bool keep;
        st = inline_attr(im, g, np->attribute[a], attrs, nattrs, &out[kept], &keep);
        kept += keep;
    }
    g->nodes[id].attrs = out;
    g->nodes[id].nattrs = kept;
    return st;
}

/* Replace call node id of f in g by f's nodes. */
static gs_status inline_call(imp *im, gs_graph *g, gs_id id, const Onnx__FunctionProto *f)
{
    gs_node call = g->nodes[id];   /* its arrays stay in g's arena after it is removed */
    names t;
    gs_status st = names_init(im->ctx, &t, function_names(f));
    for (size_t i = 0; st == GS_OK && i < f->n_input; i++)
        *name_slot(&t, f->input[i] ? f->input[i] : "") = (int)i < call.nin ? call.in[i] : GS_NONE;
    gs_ir_remove_node(g, id);
    for (int j = 0; j < call.nout; j++)
        if (call.out[j] != GS_NONE)
            g->values[call.out[j]].flags &= ~GS_V_DEAD;
    /* an output a body node writes takes the call's value; a call output that is
       one of the function's inputs (or another output) gets an Identity below */
    bool *direct = gs_zalloc(im->ctx, (size_t)call.nout + 1);
    if (st == GS_OK && !direct)
        st = gs_nomem(im->ctx);
    for (int j = 0; st == GS_OK && j < call.nout; j++) {
        gs_id have;
        if (call.out[j] == GS_NONE || name_get(&t, f->output[j], &have))
            continue;
        *name_slot(&t, f->output[j]) = call.out[j];
        direct[j] = true;
    }
    const char *prefix = *call.name ? call.name : call.op;
    for (size_t i = 0; st == GS_OK && i < f->n_node; i++)
        st = inline_node(im, g, f->node[i], &t, prefix, call.attrs, call.nattrs);
    for (int j = 0; st == GS_OK && j < call.nout; j++) {
        gs_id from;
        if (call.out[j] == GS_NONE || direct[j] || !name_get(&t, f->output[j], &from))
            continue;
        char base[512];   /* a longer name is cut, then made unique */
        snprintf(base, sizeof base, "%s/Identity", prefix);
        const char *name = gs_ir_unique_node_name(g, base);
        if (!name || gs_ir_add_node(g, "Identity", "", name, &from, 1, &call.out[j], 1) == GS_NONE)
            st = g->ctx->last ? g->ctx->last : gs_nomem(im->ctx);
    }
    gs_dealloc(im->ctx, direct);
    names_free(im->ctx, &t);
    return st;
}

/* Expand the calls in g and in its bodies; *count grows by the calls expanded. */
static gs_status inline_graph(imp *im, gs_graph *g, int *count)
{
    const Onnx__ModelProto *mp = im->m->proto;
    gs_status st = GS_OK;
    for (gs_id id = 0; id < g->nnodes && st == GS_OK; id++) {   /* nodes added are visited too */
        const gs_node *n = &g->nodes[id];
        if (n->flags & GS_N_DEAD)
            continue;
        for (int a = 0; a < n->nattrs && st == GS_OK; a++) {
            const gs_attr *at = &n->attrs[a];
            if (at->type == GS_A_GRAPH && at->g)
                st = inline_graph(im, at->g, count);
            for (size_t j = 0; at->type == GS_A_GRAPHS && j < at->n && st == GS_OK; j++)
                st = inline_graph(im, at->gs[j], count);
        }
        const Onnx__FunctionProto *f = !gs_onnx_same_domain(n->domain, "") ? callee(mp, n) : NULL;
        if (st != GS_OK || !f || !inlinable(im, f, n))
            continue;
        if (++*count > MAX_INLINED)
            return gs_err(im->ctx, GS_ERR_LIMIT, "more than %d function calls to expand (a recursive function?)",
                          MAX_INLINED);
        st = inline_call(im, g, id, f);
    }
    return st;
}

gs_status gs_onnx_inline_functions(gs_model *m, gs_graph *g, int *count)
{
    const Onnx__ModelProto *mp = m->proto;
    *count = 0;
    if (!mp || !mp->n_functions)
        return GS_OK;
    imp im = { m->ctx, m, m->path ? m->path : "model", m->dir, 0, gs_graph_root(g)->opset };
    gs_status st = inline_graph(&im, g, count);
    if (st == GS_OK && *count)
        st = gs_ir_verify(g);
    return st;
}

/* Whether a node of domain domain and op op calls function f. */
static bool calls(const Onnx__FunctionProto *f, const char *domain, const char *op)
{
    return f->name && op && !strcmp(f->name, op) && !gs_onnx_same_domain(f->domain, "") &&
           gs_onnx_same_domain(f->domain, domain);
}

/* Mark in used the functions of mp that g's live nodes (bodies included) call. */
static void mark_called(const Onnx__ModelProto *mp, const gs_graph *g, bool *used)
{
    for (gs_id id = 0; id < g->nnodes; id++) {
        const gs_node *n = &g->nodes[id];
        if (n->flags & GS_N_DEAD)
            continue;
        for (size_t i = 0; i < mp->n_functions; i++)
            used[i] |= calls(mp->functions[i], n->domain, n->op);
        for (int a = 0; a < n->nattrs; a++) {
            const gs_attr *at = &n->attrs[a];
            if (at->type == GS_A_GRAPH && at->g)
                mark_called(mp, at->g, used);
            for (size_t j = 0; at->type == GS_A_GRAPHS && j < at->n; j++)
                mark_called(mp, at->gs[j], used);
        }
    }
}

void gs_onnx_kept_functions(const gs_model *m, bool *used)
{
    const Onnx__ModelProto *mp = m->proto;
    for (size_t i = 0; i < mp->n_functions; i++)
        used[i] = !m->inlined;
    if (!m->inlined)
        return;
    mark_called(mp, m->graph, used);
    for (bool more = true; more;) {   /* functions called from kept functions' bodies */
        more = false;
        for (size_t i = 0; i < mp->n_functions; i++)
            for (size_t k = 0; used[i] && k < mp->functions[i]->n_node; k++)
                for (size_t j = 0; j < mp->n_functions; j++) {
                    const Onnx__NodeProto *np = mp->functions[i]->node[k];
                    if (!used[j] && calls(mp->functions[j], np->domain ? np->domain : "", np->op_type))
                        used[j] = more = true;
                }
    }
}

const char *gs_onnx_function_with_opset(gs_model *m)
{
    const Onnx__ModelProto *mp = m->proto;
    if (!mp || !mp->n_functions)
        return NULL;
    bool *used = gs_alloc(m->ctx, mp->n_functions);
    if (!used)
        return "(out of memory)";
    gs_onnx_kept_functions(m, used);
    const char *name = NULL;
    for (size_t i = 0; i < mp->n_functions && !name; i++)
        for (size_t k = 0; used[i] && k < mp->functions[i]->n_opset_import && !name; k++)
            if (gs_onnx_same_domain(mp->functions[i]->opset_import[k]->domain, ""))
                name = mp->functions[i]->name ? mp->functions[i]->name : "";
    gs_dealloc(m->ctx, used);
    return name;
}

bool gs_onnx_calls_functions(const gs_model *m)
{
    const Onnx__ModelProto *mp = m->proto;
    if (!mp || !mp->n_functions)
        return false;
    bool *used = gs_zalloc(m->ctx, mp->n_functions), any = !used;   /* no memory: the expansion says so */
    if (used)
        mark_called(mp, m->graph, used);
    for (size_t i = 0; used && i < mp->n_functions; i++)
        any |= used[i];
    gs_dealloc(m->ctx, used);
    return any;
}
