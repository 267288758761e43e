/*
 * onnx_build.c - gs_builder: a model made through the API instead of read
 * from a file. The calls fill an ONNX ModelProto (protobuf-c messages in the
 * builder's arena); gs_builder_finish packs it and imports the bytes, so a
 * built model passes every check a loaded one does and the IR has one way
 * in. Like import and export, this file sees protobuf-c.
 */
#include "gs_int.h"
#include "gs_ops.h"
#include "onnx.pb-c.h"

#include <stdio.h>
#include <string.h>

struct gs_builder {
    gs_ctx *ctx;
    gs_arena arena;              /* every message and copy below */
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1];
    Onnx__NodeProto *last;       /* the node attributes go to */
    size_t capnodes, capinputs, capinits, capoutputs;
    gs_status st;                /* first failure: every later call returns it */
};

GS_API gs_status gs_builder_new(gs_ctx *ctx, int64_t opset, gs_builder **out)
{
    if (!ctx)
        return GS_ERR_ARG;
    if (!out || opset < 7 || opset > GS_RAISE_MAX)
        return gs_err(ctx, GS_ERR_ARG, "gs_builder_new: opset must be from 7 to %d (got %lld)",
                      GS_RAISE_MAX, (long long)opset);
    gs_builder *b = gs_zalloc(ctx, sizeof *b);
    if (!(*out = b))
        return gs_nomem(ctx);
    b->ctx = ctx;
    gs_arena_init(&b->arena, ctx);
    onnx__model_proto__init(&b->model);
    onnx__graph_proto__init(&b->graph);
    onnx__operator_set_id_proto__init(&b->opset);
    b->opset.domain = "";
    b->opset.version = opset, b->opset.has_version = 1;
    b->opsets[0] = &b->opset;
    b->model.ir_version = gs_opset_ir_version(opset), b->model.has_ir_version = 1;
    b->model.producer_name = "graphsub";
    b->model.opset_import = b->opsets;
    b->model.n_opset_import = 1;
    b->model.graph = &b->graph;
    b->graph.name = "graph";
    return GS_OK;
}

GS_API void gs_builder_free(gs_builder *b)
{
    if (!b)
        return;
    gs_arena_free(&b->arena);
    gs_dealloc(b->ctx, b);
}

/* ---- helpers --------------------------------------------------------------- */

static gs_status fail(gs_builder *b, gs_status st)
{
    if (b->st == GS_OK)
        b->st = st;
    return b->st;
}

static void *balloc(gs_builder *b, size_t n)
{
    void *p = gs_arena_alloc(&b->arena, n ? n : 1);
    if (!p)
        fail(b, gs_nomem(b->ctx));
    return p;
}

static char *bstr(gs_builder *b, const char *s)
{
    char *p = gs_arena_strdup(&b->arena, s ? s : "");
    if (!p)
        fail(b, gs_nomem(b->ctx));
    return p;
}

/* Append item to the list *items (of *n, room *cap), growing in the arena. */
static bool append(gs_builder *b, void ***items, size_t *n, size_t *cap, void *item)
{
    if (!item)
        return false;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        void **p = balloc(b, c * sizeof *p);
        if (!p)
            return false;
        if (*n)
            memcpy(p, *items, *n * sizeof *p);
        *items = p;
        *cap = c;
    }
    (*items)[(*n)++] = item;
    return true;
}

static gs_status bad(gs_builder *b, const char *fmt, const char *what)
{
    return fail(b, gs_err(b->ctx, GS_ERR_ARG, fmt, what ? what : "(null)"));
}

static bool dtype_ok(gs_dtype t)
{
    return t > GS_UNDEFINED && t <= GS_BFLOAT16;
}

/* A TensorProto of raw data (numeric types only). */
static Onnx__TensorProto *tensor(gs_builder *b, const char *name, gs_dtype dtype, int rank,
                                 const int64_t *dims, const void *data, size_t nbytes)
{
    int64_t numel = 1;
    for (int k = 0; k < rank && numel >= 0; k++)
        if (dims[k] < 0 || !gs_mul64_ok(numel, dims[k], &numel))
            numel = -1;
    size_t esize = gs_dtype_size(dtype);
    if (!dtype_ok(dtype) || dtype == GS_STRING || !esize || rank < 0 || rank > GS_MAX_RANK ||
        (rank && !dims) || numel < 0 || (uint64_t)numel * esize != nbytes || (nbytes && !data)) {
        bad(b, "tensor '%s': the dtype, dims and byte count do not agree (strings are not supported)",
            name);
        return NULL;
    }
    Onnx__TensorProto *t = balloc(b, sizeof *t);
    int64_t *d = balloc(b, (size_t)(rank ? rank : 1) * sizeof *d);
    void *copy = balloc(b, nbytes);
    if (!t || !d || !copy)
        return NULL;
    onnx__tensor_proto__init(t);
    if (rank)
        memcpy(d, dims, (size_t)rank * sizeof *d);
    if (nbytes)
        memcpy(copy, data, nbytes);
    t->name = bstr(b, name);
    t->data_type = dtype, t->has_data_type = 1;
    t->dims = d, t->n_dims = (size_t)rank;
    t->raw_data.data = copy, t->raw_data.len = nbytes, t->has_raw_data = 1;
    return t;
}

/* A ValueInfoProto with a tensor type (dtype 0 and rank -1: no type at all). */
static Onnx__ValueInfoProto *value_info(gs_builder *b, const char *name, gs_dtype dtype, int rank,
                                        const int64_t *dims, const char *const *syms)
{
    Onnx__ValueInfoProto *vi = balloc(b, sizeof *vi);
    if (!vi)
        return NULL;
    onnx__value_info_proto__init(vi);
    vi->name = bstr(b, name);
    if (dtype == GS_UNDEFINED && rank < 0)
        return vi;
    Onnx__TypeProto *tp = balloc(b, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = balloc(b, sizeof *tt);
    if (!tp || !tt)
        return NULL;
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    tt->elem_type = dtype, tt->has_elem_type = 1;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    if (rank < 0)
        return vi;
    Onnx__TensorShapeProto *sh = balloc(b, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **ds = balloc(b, (size_t)(rank ? rank : 1) * sizeof *ds);
    if (!sh || !ds)
        return NULL;
    onnx__tensor_shape_proto__init(sh);
    for (int k = 0; k < rank; k++) {
        Onnx__TensorShapeProto__Dimension *d = ds[k] = balloc(b, sizeof *d);
        if (!d)
            return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[k] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[k];
        } else if (syms && syms[k]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = bstr(b, syms[k]);
        }
    }
    sh->dim = ds, sh->n_dim = (size_t)rank;
    tt->shape = sh;
    return vi;
}

/* ---- graph parts ------------------------------------------------------------- */

GS_API gs_status gs_builder_input(gs_builder *b, const char *name, gs_dtype dtype, int rank,
                                  const int64_t *dims, const char *const *syms)
{
    if (!b)
        return GS_ERR_ARG;
    if (b->st != GS_OK)
        return b->st;
    if (!name || !*name || !dtype_ok(dtype) || rank < -1 || rank > GS_MAX_RANK || (rank > 0 && !dims))
        return bad(b, "gs_builder_input: input '%s': invalid name, dtype or shape", name);
    Onnx__ValueInfoProto *vi = value_info(b, name, dtype, rank, dims, syms);
    append(b, (void ***)&b->graph.input, &b->graph.n_input, &b->capinputs, vi);
    return b->st;
}

GS_API gs_status gs_builder_initializer(gs_builder *b, const char *name, gs_dtype dtype, int rank,
                                        const int64_t *dims, const void *data, size_t nbytes)
{
    if (!b)
        return GS_ERR_ARG;
    if (b->st != GS_OK)
        return b->st;
    if (!name || !*name)
        return bad(b, "gs_builder_initializer: %s name", "empty");
    Onnx__TensorProto *t = tensor(b, name, dtype, rank, dims, data, nbytes);
    append(b, (void ***)&b->graph.initializer, &b->graph.n_initializer, &b->capinits, t);
    return b->st;
}

static char **names(gs_builder *b, const char *const *list, int n)
{
    char **out = balloc(b, (size_t)(n ? n : 1) * sizeof *out);
    for (int i = 0; out && i < n; i++)
        if (!(out[i] = bstr(b, list[i])))
            return NULL;
    return out;
}

GS_API gs_status gs_builder_node(gs_builder *b, const char *op, const char *domain, const char *name,
                                 const char *const *inputs, int ninputs,
                                 const char *const *outputs, int noutputs)
{
    if (!b)
        return GS_ERR_ARG;
    if (b->st != GS_OK)
        return b->st;
    if (!op || !*op || ninputs < 0 || noutputs < 1 || (ninputs && !inputs) || !outputs)
        return bad(b, "gs_builder_node: node of op '%s': an op and at least one output are needed", op);
    for (int i = 0; i < noutputs; i++)
        if (!outputs[i])
            return bad(b, "gs_builder_node: node of op '%s': an output name is NULL", op);
    for (int i = 0; i < ninputs; i++)
        if (!inputs[i])
            return bad(b, "gs_builder_node: node of op '%s': an input name is NULL (\"\" is absent)", op);
    Onnx__NodeProto *n = balloc(b, sizeof *n);
    if (!n)
        return b->st;
    onnx__node_proto__init(n);
    n->op_type = bstr(b, op);
    n->domain = bstr(b, domain);
    n->name = bstr(b, name);
    n->input = names(b, inputs, ninputs), n->n_input = (size_t)ninputs;
    n->output = names(b, outputs, noutputs), n->n_output = (size_t)noutputs;
    if (append(b, (void ***)&b->graph.node, &b->graph.n_node, &b->capnodes, n))
        b->last = n;
    return b->st;
}

/* A new attribute of the last node, or NULL (failure recorded). */
static Onnx__AttributeProto *attr(gs_builder *b, const char *name, int type)
{
    if (b->st != GS_OK)
        return NULL;
    if (!b->last) {
        bad(b, "attribute '%s': no node was added before it", name);
        return NULL;
    }
    if (!name || !*name) {
        bad(b, "gs_builder_attr: %s attribute name", "empty");
        return NULL;
    }
    for (size_t i = 0; i < b->last->n_attribute; i++)
        if (!strcmp(b->last->attribute[i]->name, name)) {
            bad(b, "attribute '%s' given twice", name);
            return NULL;
        }
    Onnx__AttributeProto *a = balloc(b, sizeof *a);
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = bstr(b, name);
    a->type = (Onnx__AttributeProto__AttributeType)type, a->has_type = 1;
    size_t n = b->last->n_attribute, cap = n;   /* lists are copied on each append: nodes have few */
    Onnx__AttributeProto **list = (Onnx__AttributeProto **)b->last->attribute;
    if (!append(b, (void ***)&list, &n, &cap, a))
        return NULL;
    b->last->attribute = list;
    b->last->n_attribute = n;
    return a;
}

GS_API gs_status gs_builder_attr_int(gs_builder *b, const char *name, int64_t v)
{
    if (!b)
        return GS_ERR_ARG;
    Onnx__AttributeProto *a = attr(b, name, GS_ATTR_INT);
    if (a)
        a->i = v, a->has_i = 1;
    return b->st;
}

GS_API gs_status gs_builder_attr_float(gs_builder *b, const char *name, float v)
{
    if (!b)
        return GS_ERR_ARG;
    Onnx__AttributeProto *a = attr(b, name, GS_ATTR_FLOAT);
    if (a)
        a->f = v, a->has_f = 1;
    return b->st;
}

GS_API gs_status gs_builder_attr_string(gs_builder *b, const char *name, const char *v)
{
    if (!b)
        return GS_ERR_ARG;
    Onnx__AttributeProto *a = attr(b, name, GS_ATTR_STRING);
    char *s = a ? bstr(b, v) : NULL;
    if (s)
        a->s.data = (uint8_t *)s, a->s.len = strlen(s), a->has_s = 1;
    return b->st;
}

GS_API gs_status gs_builder_attr_ints(gs_builder *b, const char *name, const int64_t *v, int n)
{
    if (!b)
        return GS_ERR_ARG;
    if (n < 0 || (n && !v))
        return bad(b, "attribute '%s': invalid list", name);
    Onnx__AttributeProto *a = attr(b, name, GS_ATTR_INTS);
    int64_t *copy = a ? balloc(b, (size_t)(n ? n : 1) * sizeof *copy) : NULL;
    if (copy) {
        if (n)
            memcpy(copy, v, (size_t)n * sizeof *copy);
        a->ints = copy, a->n_ints = (size_t)n;
    }
    return b->st;
}

GS_API gs_status gs_builder_attr_floats(gs_builder *b, const char *name, const float *v, int n)
{
    if (!b)
        return GS_ERR_ARG;
    if (n < 0 || (n && !v))
        return bad(b, "attribute '%s': invalid list", name);
    Onnx__AttributeProto *a = attr(b, name, GS_ATTR_FLOATS);
    float *copy = a ? balloc(b, (size_t)(n ? n : 1) * sizeof *copy) : NULL;
    if (copy) {
        if (n)
            memcpy(copy, v, (size_t)n * sizeof *copy);
        a->floats = copy, a->n_floats = (size_t)n;
    }
    return b->st;
}

GS_API gs_status gs_builder_attr_tensor(gs_builder *b, const char *name, gs_dtype dtype, int rank,
                                        const int64_t *dims, const void *data, size_t nbytes)
{
    if (!b)
        return GS_ERR_ARG;
    Onnx__AttributeProto *a = attr(b, name, GS_ATTR_TENSOR);
    Onnx__TensorProto *t = a ? tensor(b, "", dtype, rank, dims, data, nbytes) : NULL;
    if (t)
        a->t = t;
    return b->st;
}

GS_API gs_status gs_builder_output(gs_builder *b, const char *name, gs_dtype dtype)
{
    if (!b)
        return GS_ERR_ARG;
    if (b->st != GS_OK)
        return b->st;
    if (!name || !*name || !dtype_ok(dtype))
        return bad(b, "gs_builder_output: output '%s': invalid name or dtype (ONNX needs the "
                   "element type of a graph output)", name);
    Onnx__ValueInfoProto *vi = value_info(b, name, dtype, -1, NULL, NULL);
    append(b, (void ***)&b->graph.output, &b->graph.n_output, &b->capoutputs, vi);
    return b->st;
}

GS_API gs_status gs_builder_finish(gs_builder *b, gs_model **out)
{
    if (!b)
        return GS_ERR_ARG;
    gs_ctx *ctx = b->ctx;
    gs_status st = b->st;
    if (st == GS_OK && !out)
        st = gs_err(ctx, GS_ERR_ARG, "gs_builder_finish: out must not be NULL");
    if (st == GS_OK && !b->graph.n_output)
        st = gs_err(ctx, GS_ERR_ARG, "gs_builder_finish: the graph has no output");
    size_t size = st == GS_OK ? onnx__model_proto__get_packed_size(&b->model) : 0;
    uint8_t *buf = st == GS_OK ? gs_alloc(ctx, size ? size : 1) : NULL;
    if (st == GS_OK && !buf)
        st = gs_nomem(ctx);
    if (st == GS_OK) {
        onnx__model_proto__pack(&b->model, buf);
        st = gs_model_load_mem(ctx, buf, size, NULL, out);
    }
    gs_dealloc(ctx, buf);
    gs_builder_free(b);
    if (st == GS_OK && (st = gs_model_infer_shapes(*out)) != GS_OK) {
        gs_model_free(*out);
        *out = NULL;
    }
    return st;
}
