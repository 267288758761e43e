/*
 * onnx_export.c - IR -> ONNX ModelProto, packed to a file or to memory.
 *
 * The exporter builds a shallow ModelProto: every IR entity that came from
 * the input (node, tensor, value info, attribute) starts as a copy of its
 * original message, so fields the IR does not model - doc strings, metadata,
 * unknown fields - pass through; only what the IR owns (lists, names,
 * attributes it changed, types it inferred) is rebuilt. All messages made
 * here live in a temporary arena and never own what they point to, so they
 * are dropped with the arena and never passed to free_unpacked. Nodes are
 * written in a stable topological order, so the same IR gives the same bytes;
 * in an optimized model (gs_graph.consts_first) the nodes that compute only
 * from initializers come first.
 */
#include "gs_onnx.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct ex {
    gs_ctx *ctx;
    gs_model *m;
    gs_arena tmp;            /* every message built here */
    int ext_fd;              /* external data file, or -1 */
    const char *ext_path;
    size_t ext_threshold;
    uint64_t ext_off;
    const char *path;
    int64_t ir_version;      /* of the model written */
    gs_status st;            /* first error while building or writing */
} ex;

static char empty[] = "";

static void *ealloc(ex *e, size_t n)
{
    void *p = gs_arena_alloc(&e->tmp, n ? n : 1);
    if (!p && e->st == GS_OK)
        e->st = gs_nomem(e->ctx);
    return p;
}

/* ---- tensors ----------------------------------------------------------- */

static void clear_data(Onnx__TensorProto *tp)
{
    tp->n_float_data = tp->n_int32_data = tp->n_int64_data = 0;
    tp->n_double_data = tp->n_uint64_data = tp->n_string_data = 0;
    tp->has_raw_data = 0;
    tp->raw_data.len = 0;
    tp->raw_data.data = NULL;
    tp->has_data_location = 0;
    tp->n_external_data = 0;
    tp->external_data = NULL;
}

static Onnx__StringStringEntryProto *entry(ex *e, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *kv = ealloc(e, sizeof *kv);
    if (!kv)
        return NULL;
    onnx__string_string_entry_proto__init(kv);
    kv->key = (char *)key;
    kv->value = gs_arena_strdup(&e->tmp, value);
    return kv->value ? kv : NULL;
}

static void write_external(ex *e, const gs_tensor *t, Onnx__TensorProto *tp)
{
    static const char zeros[64];
    uint64_t pad = (64 - e->ext_off % 64) % 64;   /* 64-byte aligned tensors */
    if (pad && gs_file_write_all(e->ctx, e->ext_fd, zeros, pad, e->ext_path) != GS_OK)
        e->st = GS_ERR_IO;
    e->ext_off += pad;
    if (e->st == GS_OK && gs_file_write_all(e->ctx, e->ext_fd, t->data, t->nbytes, e->ext_path) != GS_OK)
        e->st = GS_ERR_IO;
    char off[32], len[32];
    snprintf(off, sizeof off, "%llu", (unsigned long long)e->ext_off);
    snprintf(len, sizeof len, "%zu", t->nbytes);
    e->ext_off += t->nbytes;
    tp->external_data = ealloc(e, 3 * sizeof *tp->external_data);
    if (!tp->external_data)
        return;
    const char *slash = strrchr(e->ext_path, '/');
    tp->external_data[0] = entry(e, "location", slash ? slash + 1 : e->ext_path);
    tp->external_data[1] = entry(e, "offset", off);
    tp->external_data[2] = entry(e, "length", len);
    tp->n_external_data = 3;
    tp->has_data_location = 1;
    tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

static Onnx__TensorProto *export_tensor(ex *e, const gs_tensor *t)
{
    const Onnx__TensorProto *src = t->src;
    bool ext = e->ext_fd >= 0 && t->data && t->nbytes >= e->ext_threshold;
    if (src && !(t->flags & GS_T_EXTERNAL) && !ext)
        return (Onnx__TensorProto *)src;     /* unchanged: carried through */
    Onnx__TensorProto *tp = ealloc(e, sizeof *tp);
    if (!tp)
        return NULL;
    if (src) {
        *tp = *src;
    } else {
        onnx__tensor_proto__init(tp);
        tp->name = (char *)t->name;
        tp->has_data_type = 1;
        tp->data_type = t->dtype;
        tp->n_dims = (size_t)t->rank;
        tp->dims = (int64_t *)t->dims;
    }
    if (!t->data && src)
        return tp;                           /* strings: keep the typed field */
    clear_data(tp);
    if (ext) {
        write_external(e, t, tp);
    } else {
        tp->has_raw_data = 1;
        tp->raw_data.len = t->nbytes;
        tp->raw_data.data = t->data;
    }
    return tp;
}

/* ---- value infos ------------------------------------------------------- */

static Onnx__TypeProto *export_type(ex *e, const gs_value *v)
{
    Onnx__TypeProto *tp = ealloc(e, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ealloc(e, sizeof *tt);
    if (!tp || !tt)
        return NULL;
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = v->dtype != 0;
    tt->elem_type = v->dtype;
    if (v->rank < 0)
        return tp;
    Onnx__TensorShapeProto *sh = ealloc(e, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims = ealloc(e, (size_t)(v->rank + 1) * sizeof *dims);
    if (!sh || !dims)
        return NULL;
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < v->rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = ealloc(e, sizeof *d);
        if (!d)
            return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (v->dims[i].v >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = v->dims[i].v;
        } else if (v->dims[i].sym) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = (char *)v->dims[i].sym;
        }
        dims[i] = d;
    }
    sh->n_dim = (size_t)v->rank;
    sh->dim = dims;
    tt->shape = sh;
    return tp;
}

static Onnx__ValueInfoProto *export_info(ex *e, const gs_value *v, const void *src)
{
    if (src && !(v->flags & GS_V_TYPED))
        return (Onnx__ValueInfoProto *)src;
    Onnx__ValueInfoProto *vi = ealloc(e, sizeof *vi);
    if (!vi)
        return NULL;
    if (src)
        *vi = *(const Onnx__ValueInfoProto *)src;
    else
        onnx__value_info_proto__init(vi);
    vi->name = (char *)v->name;
    if (v->dtype || v->rank >= 0 || !src)
        vi->type = export_type(e, v);
    return vi;
}

/* A graph input's or output's dims named as its ValueInfoProto src named
 * them, where both are names: an output whose declared name no input has
 * (`total`) is inferred as the dim it is (`past + seq`, see infer.c), and
 * the model's interface keeps its own word for it. */
static void declared_names(Onnx__ValueInfoProto *vi, const Onnx__ValueInfoProto *src)
{
    const Onnx__TypeProto *st = src ? src->type : NULL;
    Onnx__TypeProto *t = vi ? vi->type : NULL;
    if (vi == src || !st || !t || st->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !st->tensor_type->shape || !t->tensor_type->shape ||
        st->tensor_type->shape->n_dim != t->tensor_type->shape->n_dim)
        return;
    for (size_t i = 0; i < t->tensor_type->shape->n_dim; i++) {
        Onnx__TensorShapeProto__Dimension *d = t->tensor_type->shape->dim[i];
        const Onnx__TensorShapeProto__Dimension *sd = st->tensor_type->shape->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
            sd->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            d->dim_param = sd->dim_param;
    }
}

static Onnx__ValueInfoProto **export_infos(ex *e, const gs_graph *g, const gs_id *ids,
                                           const void **srcs, int32_t n, size_t *count)
{
    Onnx__ValueInfoProto **out = ealloc(e, ((size_t)n + 1) * sizeof *out);
    size_t k = 0;
    for (int32_t i = 0; out && i < n; i++)
        if (!(g->values[ids[i]].flags & GS_V_DEAD)) {
            const gs_value *v = &g->values[ids[i]];
            const Onnx__ValueInfoProto *src = srcs ? srcs[i] : NULL;
            if (src && (!src->name || strcmp(src->name, v->name)))
                src = NULL;   /* an output now made by a value of another name: described anew */
            out[k] = export_info(e, v, src);
            declared_names(out[k++], src);
        }
    *count = k;
    return out;
}

/* graph.input: the listed inputs, then (IR version below 4, where ONNX
 * requires every initializer to be a graph input too) each initializer
 * graphsub made (by folding, by a rule) that is not listed; the model's own
 * are left as they came. */
static Onnx__ValueInfoProto **export_inputs(ex *e, const gs_graph *g, size_t *count)
{
    Onnx__ValueInfoProto **out = export_infos(e, g, g->inputs, g->insrc, g->ninputs, count);
    if (!out || e->ir_version >= 4 || !g->ninits)
        return out;
    Onnx__ValueInfoProto **all = ealloc(e, (*count + (size_t)g->ninits + 1) * sizeof *all);
    if (!all)
        return NULL;
    memcpy(all, out, *count * sizeof *all);
    for (int32_t i = 0; i < g->ninits; i++) {
        const gs_value *v = &g->values[g->inits[i]];
        if (!(v->flags & (GS_V_DEAD | GS_V_INPUT)) && v->init && !v->init->src)
            all[(*count)++] = export_info(e, v, NULL);
    }
    return all;
}

/* value_info: the imported entries, then values typed by inference that no
 * other list describes, in id order. */
static Onnx__ValueInfoProto **export_value_info(ex *e, const gs_graph *g, size_t *count)
{
    Onnx__ValueInfoProto **out = ealloc(e, ((size_t)g->ninfos + (size_t)g->nvalues + 1) * sizeof *out);
    if (!out)
        return NULL;
    size_t k = 0;
    uint8_t *listed = ealloc(e, (size_t)g->nvalues + 1);
    if (!listed)
        return NULL;
    for (int32_t i = 0; i < g->ninfos; i++) {
        const gs_value *v = &g->values[g->infos[i]];
        listed[g->infos[i]] = 1;
        if (!(v->flags & GS_V_DEAD))
            out[k++] = export_info(e, v, g->infosrc ? g->infosrc[i] : NULL);
    }
    for (gs_id i = 0; i < g->nvalues; i++) {
        const gs_value *v = &g->values[i];
        if (listed[i] || !(v->flags & GS_V_TYPED) || !v->dtype || v->init || v->producer == GS_NONE ||
            (v->flags & (GS_V_DEAD | GS_V_INPUT | GS_V_OUTPUT | GS_V_OUTER)))
            continue;
        out[k++] = export_info(e, v, NULL);
    }
    *count = k;
    return out;
}

/* ---- nodes and graphs -------------------------------------------------- */

static Onnx__GraphProto *export_graph(ex *e, const gs_graph *g);

static Onnx__AttributeProto *export_attr(ex *e, const gs_attr *a)
{
    bool has_graphs = a->type == GS_A_GRAPH || a->type == GS_A_GRAPHS;
    if (a->src && !has_graphs)
        return (Onnx__AttributeProto *)a->src;
    Onnx__AttributeProto *ap = ealloc(e, sizeof *ap);
    if (!ap)
        return NULL;
    if (a->src) {
        *ap = *(const Onnx__AttributeProto *)a->src;
    } else {
        onnx__attribute_proto__init(ap);
        ap->name = (char *)a->name;
        ap->has_type = 1;
        ap->type = a->type;
    }
    switch (a->type) {
    case GS_A_FLOAT: ap->has_f = 1, ap->f = a->f; break;
    case GS_A_INT: ap->has_i = 1, ap->i = a->i; break;
    case GS_A_STRING:
        ap->has_s = 1, ap->s.data = (uint8_t *)a->s, ap->s.len = a->slen; break;
    case GS_A_FLOATS: ap->n_floats = a->n, ap->floats = a->floats; break;
    case GS_A_INTS: ap->n_ints = a->n, ap->ints = a->ints; break;
    case GS_A_STRINGS:
        ap->n_strings = a->n;
        ap->strings = ealloc(e, (a->n + 1) * sizeof *ap->strings);
        for (size_t i = 0; ap->strings && i < a->n; i++)
            ap->strings[i].data = (uint8_t *)a->strs[i], ap->strings[i].len = a->strlens[i];
        break;
    case GS_A_TENSOR: ap->t = a->t ? export_tensor(e, a->t) : NULL; break;
    case GS_A_TENSORS:
        ap->n_tensors = a->n;
        ap->tensors = ealloc(e, (a->n + 1) * sizeof *ap->tensors);
        for (size_t i = 0; ap->tensors && i < a->n; i++)
            ap->tensors[i] = export_tensor(e, a->ts[i]);
        break;
    case GS_A_GRAPH: ap->g = a->g ? export_graph(e, a->g) : NULL; break;
    case GS_A_GRAPHS:
        ap->n_graphs = a->n;
        ap->graphs = ealloc(e, (a->n + 1) * sizeof *ap->graphs);
        for (size_t i = 0; ap->graphs && i < a->n; i++)
            ap->graphs[i] = export_graph(e, a->gs[i]);
        break;
    default: break;
    }
    return ap;
}

static char **value_names(ex *e, const gs_graph *g, const gs_id *ids, int n)
{
    char **names = ealloc(e, ((size_t)n + 1) * sizeof *names);
    for (int k = 0; names && k < n; k++)
        names[k] = ids[k] == GS_NONE ? empty : (char *)g->values[ids[k]].name;
    return names;
}

/* A node graphsub made (not read from the input) of the default domain must
 * be an op of the model's opset: none is ever written that a runtime of
 * that opset does not know. Nodes of the input are carried through as they
 * were, known to the registry or not. */
static bool op_written_ok(ex *e, const gs_graph *g, const gs_node *n)
{
    if (n->src || *n->domain || n->def || e->st != GS_OK || g->opset <= 0)
        return true;
    e->st = gs_err(e->ctx, GS_ERR_INTERNAL, "node '%s': op %s is not in opset %lld of the default domain; "
                   "the model is not written", n->name, n->op, (long long)g->opset);
    return false;
}

static Onnx__NodeProto *export_node(ex *e, const gs_graph *g, const gs_node *n)
{
    if (!op_written_ok(e, g, n))
        return NULL;
    Onnx__NodeProto *np = ealloc(e, sizeof *np);
    if (!np)
        return NULL;
    if (n->src) {
        *np = *(const Onnx__NodeProto *)n->src;
    } else {
        onnx__node_proto__init(np);
        np->op_type = (char *)n->op;
        np->domain = *n->domain ? (char *)n->domain : NULL;
        np->name = *n->name ? (char *)n->name : NULL;
    }
    np->n_input = (size_t)n->nin;
    np->input = value_names(e, g, n->in, n->nin);
    np->n_output = (size_t)n->nout;
    np->output = value_names(e, g, n->out, n->nout);
    np->n_attribute = (size_t)n->nattrs;
    np->attribute = ealloc(e, ((size_t)n->nattrs + 1) * sizeof *np->attribute);
    for (int a = 0; np->attribute && a < n->nattrs; a++)
        np->attribute[a] = export_attr(e, &n->attrs[a]);
    return np;
}

static Onnx__TensorProto **export_inits(ex *e, const gs_graph *g, size_t *count)
{
    Onnx__TensorProto **out = ealloc(e, ((size_t)g->ninits + 1) * sizeof *out);
    size_t k = 0;
    for (int32_t i = 0; out && i < g->ninits; i++) {
        const gs_value *v = &g->values[g->inits[i]];
        if (!(v->flags & GS_V_DEAD) && v->init)
            out[k++] = export_tensor(e, v->init);
    }
    *count = k;
    return out;
}

static Onnx__GraphProto *export_graph(ex *e, const gs_graph *g)
{
    Onnx__GraphProto *gp = ealloc(e, sizeof *gp);
    gs_id *order = ealloc(e, ((size_t)g->nnodes + 1) * sizeof *order);
    if (!gp || !order)
        return NULL;
    if (g->src) {
        *gp = *(const Onnx__GraphProto *)g->src;
    } else {
        onnx__graph_proto__init(gp);
        gp->name = (char *)g->name;
    }
    int n = gs_ir_order(g, order, gs_graph_root(g)->consts_first);
    if (n < 0) {
        if (e->st == GS_OK)
            e->st = n == -2 ? GS_ERR_NOMEM :
                    gs_err(e->ctx, GS_ERR_INTERNAL, "graph '%s' has a cycle", g->name);
        return NULL;
    }
    gp->n_node = (size_t)n;
    gp->node = ealloc(e, ((size_t)n + 1) * sizeof *gp->node);
    for (int i = 0; gp->node && i < n; i++)
        gp->node[i] = export_node(e, g, &g->nodes[order[i]]);
    gp->input = export_inputs(e, g, &gp->n_input);
    gp->output = export_infos(e, g, g->outputs, g->outsrc, g->noutputs, &gp->n_output);
    gp->value_info = export_value_info(e, g, &gp->n_value_info);
    gp->initializer = export_inits(e, g, &gp->n_initializer);
    return gp;
}

static Onnx__OperatorSetIdProto **export_opsets(ex *e, const Onnx__ModelProto *src, size_t *count)
{
    const gs_model *m = e->m;
    Onnx__OperatorSetIdProto **out = ealloc(e, ((size_t)m->nopsets + 1) * sizeof *out);
    for (int32_t i = 0; out && i < m->nopsets; i++) {
        const Onnx__OperatorSetIdProto *o = (size_t)i < src->n_opset_import ? src->opset_import[i] : NULL;
        if (o && o->has_version && o->version == m->opsets[i].version) {
            out[i] = (Onnx__OperatorSetIdProto *)o;
            continue;
        }
        Onnx__OperatorSetIdProto *n = ealloc(e, sizeof *n);
        if (!n)
            return NULL;
        if (o)
            *n = *o;
        else
            onnx__operator_set_id_proto__init(n), n->domain = (char *)m->opsets[i].domain;
        n->has_version = 1;
        n->version = m->opsets[i].version;
        out[i] = n;
    }
    *count = (size_t)m->nopsets;
    return out;
}

/* ---- packing ----------------------------------------------------------- */

typedef struct fdbuf {
    ProtobufCBuffer base;
    ex *e;
    int fd;
    size_t used;
    uint8_t data[1 << 16];
} fdbuf;

static void fd_flush(fdbuf *b)
{
    if (b->used && b->e->st == GS_OK &&
        gs_file_write_all(b->e->ctx, b->fd, b->data, b->used, b->e->path) != GS_OK)
        b->e->st = GS_ERR_IO;
    b->used = 0;
}

static void fd_append(ProtobufCBuffer *base, size_t len, const uint8_t *data)
{
    fdbuf *b = (fdbuf *)base;
    while (len > 0) {
        if (b->used == sizeof b->data)
            fd_flush(b);
        size_t n = sizeof b->data - b->used < len ? sizeof b->data - b->used : len;
        memcpy(b->data + b->used, data, n);
        b->used += n;
        data += n;
        len -= n;
    }
}

/* After calls were expanded (m->inlined), only the functions still called,
 * directly or by a function kept, are written. */
static void keep_called(ex *e, Onnx__ModelProto *mp)
{
    bool *used = ealloc(e, mp->n_functions + 1);
    Onnx__FunctionProto **kept = ealloc(e, (mp->n_functions + 1) * sizeof *kept);
    if (!used || !kept)
        return;
    gs_onnx_kept_functions(e->m, used);
    size_t n = 0;
    for (size_t i = 0; i < mp->n_functions; i++)
        if (used[i])
            kept[n++] = mp->functions[i];
    mp->functions = kept;
    mp->n_functions = n;
}

static gs_status build(ex *e, Onnx__ModelProto *mp)
{
    const Onnx__ModelProto *src = e->m->proto;
    *mp = *src;
    if (mp->ir_version < e->m->min_ir_version)
        mp->ir_version = e->m->min_ir_version, mp->has_ir_version = 1;
    e->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    mp->graph = export_graph(e, e->m->graph);
    mp->opset_import = export_opsets(e, src, &mp->n_opset_import);
    if (e->m->inlined && mp->n_functions)
        keep_called(e, mp);
    if (e->st == GS_OK && (!mp->graph || !mp->opset_import))
        e->st = gs_nomem(e->ctx);
    return e->st;
}

gs_status gs_onnx_export(gs_model *m, int fd, void **buf, size_t *size,
                         int ext_fd, const char *ext_path, size_t ext_threshold,
                         const char *path)
{
    ex e = { .ctx = m->ctx, .m = m, .ext_fd = ext_fd, .ext_path = ext_path,
             .ext_threshold = ext_threshold, .path = path, .st = GS_OK };
    gs_arena_init(&e.tmp, m->ctx);
    Onnx__ModelProto mp;
    if (build(&e, &mp) == GS_OK) {
        if (fd >= 0) {
            fdbuf *b = gs_alloc(m->ctx, sizeof *b);
            if (!b) {
                e.st = gs_nomem(m->ctx);
            } else {
                b->base.append = fd_append;
                b->e = &e;
                b->fd = fd;
                b->used = 0;
                protobuf_c_message_pack_to_buffer(&mp.base, &b->base);
                fd_flush(b);
                gs_dealloc(m->ctx, b);
            }
        } else {
            size_t n = protobuf_c_message_get_packed_size(&mp.base);
            *buf = gs_alloc(m->ctx, n ? n : 1);
            if (!*buf)
                e.st = gs_nomem(m->ctx);
            else
                *size = protobuf_c_message_pack(&mp.base, *buf);
        }
    }
    gs_arena_free(&e.tmp);
    return e.st;
}

gs_status gs_onnx_packed_size(gs_model *m, uint64_t *size)
{
    ex e = { .ctx = m->ctx, .m = m, .ext_fd = -1, .path = "", .st = GS_OK };
    gs_arena_init(&e.tmp, m->ctx);
    Onnx__ModelProto mp;
    if (build(&e, &mp) == GS_OK)
        *size = protobuf_c_message_get_packed_size(&mp.base);
    gs_arena_free(&e.tmp);
    return e.st;
}

/* ---- tensor files ------------------------------------------------------ */

gs_status gs_onnx_write_tensor(gs_ctx *ctx, const char *path, const gs_tensor *t)
{
    Onnx__TensorProto tp;
    onnx__tensor_proto__init(&tp);
    tp.name = (char *)(t->name ? t->name : "");
    tp.has_data_type = 1;
    tp.data_type = t->dtype;
    tp.n_dims = (size_t)t->rank;
    tp.dims = (int64_t *)t->dims;
    tp.has_raw_data = 1;
    tp.raw_data.len = t->nbytes;
    tp.raw_data.data = t->data;
    size_t n = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = gs_alloc(ctx, n ? n : 1);
    if (!buf)
        return gs_nomem(ctx);
    onnx__tensor_proto__pack(&tp, buf);
    gs_out o;
    gs_status st = gs_out_open(ctx, path, &o);
    if (st == GS_OK && (st = gs_out_write(&o, buf, n)) != GS_OK)
        gs_out_abort(&o);
    else if (st == GS_OK)
        st = gs_out_commit(&o);
    gs_dealloc(ctx, buf);
    return st;
}
