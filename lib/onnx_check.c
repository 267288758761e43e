/*
 * onnx_check.c - structural checks on an unpacked ModelProto before import,
 * at least as strict as onnx.checker (checker.cc: check_model, check_graph,
 * check_node, check_attribute, check_tensor, check_sparse_tensor,
 * check_value_info) for the parts graphsub reads, so that a malformed model
 * is refused with one line naming the node or value and the problem instead
 * of being rewritten and written back.
 *
 * Left to others on purpose: the order of nodes (graphsub sorts them; the
 * importer refuses an undefined input or a cycle), op schemas (the op
 * registry checks arity and attributes of the ops it knows), graph names and
 * value shapes (graphsub infers shapes), functions and metadata (carried
 * through unread).
 */
#include "gs_onnx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LABEL = 512, MAX_DTYPE = 23 };   /* FLOAT4E2M1, the last ONNX element type */

typedef struct chk {
    gs_ctx *ctx;
    const char *path;
    const Onnx__ModelProto *mp;
    int64_t ir;             /* the model's IR version */
    const char *graph;      /* name of the subgraph being checked, NULL in the main graph */
    int depth;
} chk;

enum { K_INPUT, K_INIT, K_OUTPUT };

typedef struct def {
    const char *name;
    int kind;               /* K_* */
    size_t seq;             /* order of definition; for K_OUTPUT the node's index too */
    size_t node;
} def;

/* The names a graph defines, sorted, with the enclosing graphs' tables. */
typedef struct scope {
    const struct scope *parent;
    def *defs;
    size_t n;
} scope;

static gs_status check_graph(chk *c, const Onnx__GraphProto *gp, const scope *parent);

/* ---- messages ---------------------------------------------------------- */

static gs_status bad(chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static gs_status bad(chk *c, const char *fmt, ...)
{
    char msg[sizeof c->ctx->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->graph)
        return gs_err(c->ctx, GS_ERR_MODEL, "%s: in graph '%s': %s", c->path, c->graph, msg);
    return gs_err(c->ctx, GS_ERR_MODEL, "%s: %s", c->path, msg);
}

static const char *str(const char *s) { return s ? s : ""; }

/* Format a label into buf (LABEL bytes), cut short if need be. */
static const char *label(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *label(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, LABEL, fmt, ap);
    va_end(ap);
    return buf;
}

/* "node 'name' (Op)", or "node #i (Op)" for a node without a name. */
static const char *node_label(char *buf, const Onnx__NodeProto *np, size_t i)
{
    const char *op = *str(np->op_type) ? np->op_type : "no op type";
    if (*str(np->name))
        return label(buf, "node '%s' (%s)", np->name, op);
    return label(buf, "node #%zu (%s)", i, op);
}

static const char *const type_names[] = {
    "UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS", "STRINGS",
    "TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS",
};
static const char *const payload_names[] = {
    "nothing", "a float", "an int", "a string", "a tensor", "a graph", "floats", "ints",
    "strings", "tensors", "graphs", "a sparse tensor", "sparse tensors", "a type", "types",
};

/* ---- tensors ----------------------------------------------------------- */

/* The typed field a tensor of element type dt keeps its values in. */
static int typed_field(int32_t dt)
{
    switch (dt) {
    case GS_FLOAT: case GS_COMPLEX64: return 0;
    case GS_DOUBLE: case GS_COMPLEX128: return 5;
    case GS_INT64: return 3;
    case GS_UINT32: case GS_UINT64: return 6;
    case GS_STRING: return 2;
    default: return 1;   /* int32_data: the small integer and float types */
    }
}

static const char *const field_names[] = {
    "float_data", "int32_data", "string_data", "int64_data", "raw_data", "double_data", "uint64_data",
};

/* Which data fields tp fills, as a bit set over field_names. */
static unsigned data_fields(const Onnx__TensorProto *tp)
{
    return (unsigned)(tp->n_float_data > 0) | (unsigned)(tp->n_int32_data > 0) << 1 |
           (unsigned)(tp->n_string_data > 0) << 2 | (unsigned)(tp->n_int64_data > 0) << 3 |
           (unsigned)(tp->has_raw_data && tp->raw_data.len > 0) << 4 |
           (unsigned)(tp->n_double_data > 0) << 5 | (unsigned)(tp->n_uint64_data > 0) << 6;
}

static gs_status check_external(chk *c, const char *what, const Onnx__TensorProto *tp, unsigned fields)
{
    if (fields)
        return bad(c, "%s is stored externally but also holds %s", what,
                   field_names[__builtin_ctz(fields)]);
    for (size_t i = 0; i < tp->n_external_data; i++)
        if (tp->external_data[i]->key && !strcmp(tp->external_data[i]->key, "location") &&
            tp->external_data[i]->value)
            return GS_OK;
    return bad(c, "%s is stored externally without a location", what);
}

/* what: "initializer 'w'", "node 'c' (Constant): attribute 'value'"... */
static gs_status check_tensor(chk *c, const char *what, const Onnx__TensorProto *tp)
{
    if (!tp->has_data_type || tp->data_type == GS_UNDEFINED)
        return bad(c, "%s has no data type", what);
    if (tp->data_type < 0 || tp->data_type > MAX_DTYPE)
        return bad(c, "%s has an unknown data type %d", what, (int)tp->data_type);
    bool nonempty = true;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return bad(c, "%s has a negative dim (%lld)", what, (long long)tp->dims[i]);
        nonempty &= tp->dims[i] != 0;
    }
    unsigned fields = data_fields(tp);
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return check_external(c, what, tp, fields);
    if (!nonempty && fields)
        return bad(c, "%s has no elements but holds %s", what, field_names[__builtin_ctz(fields)]);
    if (nonempty && !fields)
        return bad(c, "%s holds no data", what);
    if (nonempty && fields & (fields - 1))
        return bad(c, "%s holds data in more than one field", what);
    int want = typed_field(tp->data_type);
    if (!nonempty || fields == 1u << 4) {
        if (fields && tp->data_type == GS_STRING)
            return bad(c, "%s: a STRING tensor cannot hold raw_data", what);
        return GS_OK;
    }
    if (fields != 1u << want)
        return bad(c, "%s of type %s holds %s instead of %s", what, gs_dtype_name(tp->data_type),
                   field_names[__builtin_ctz(fields)], field_names[want]);
    return GS_OK;
}

static gs_status check_sparse(chk *c, const char *what, const Onnx__SparseTensorProto *sp)
{
    char buf[LABEL];
    if (!sp->values)
        return bad(c, "%s: sparse tensor has no values", what);
    label(buf, "%s: sparse values '%s'", what, str(sp->values->name));
    gs_status st = check_tensor(c, buf, sp->values);
    if (st != GS_OK)
        return st;
    if (sp->values->n_dims != 1)
        return bad(c, "%s must have rank 1", buf);
    if (sp->n_dims == 0)
        return bad(c, "%s: sparse tensor has rank 0", what);
    for (size_t i = 0; i < sp->n_dims; i++)
        if (sp->dims[i] < 0)
            return bad(c, "%s: sparse tensor has a negative dim (%lld)", what, (long long)sp->dims[i]);
    int64_t nnz = sp->values->dims[0];
    const Onnx__TensorProto *ix = sp->indices;
    if (!ix)
        return nnz ? bad(c, "%s: sparse tensor has values but no indices", what) : GS_OK;
    label(buf, "%s: sparse indices '%s'", what, str(ix->name));
    if ((st = check_tensor(c, buf, ix)) != GS_OK)
        return st;
    if (ix->data_type != GS_INT64)
        return bad(c, "%s must be INT64", buf);
    if ((ix->n_dims != 1 && ix->n_dims != 2) || ix->dims[0] != nnz ||
        (ix->n_dims == 2 && ix->dims[1] != (int64_t)sp->n_dims))
        return bad(c, "%s do not have the shape [%lld] or [%lld, %zu]", buf, (long long)nnz,
                   (long long)nnz, sp->n_dims);
    return GS_OK;
}

/* ---- attributes -------------------------------------------------------- */

/* The kinds of payload ap holds, as a bit set over GS_A_*. */
static unsigned payloads(const Onnx__AttributeProto *ap)
{
    return (unsigned)!!ap->has_f << GS_A_FLOAT | (unsigned)!!ap->has_i << GS_A_INT |
           (unsigned)!!ap->has_s << GS_A_STRING | (unsigned)!!ap->t << GS_A_TENSOR |
           (unsigned)!!ap->g << GS_A_GRAPH | (unsigned)!!ap->sparse_tensor << GS_A_SPARSE_TENSOR |
           (unsigned)!!ap->tp << GS_A_TYPE_PROTO | (unsigned)!!ap->n_floats << GS_A_FLOATS |
           (unsigned)!!ap->n_ints << GS_A_INTS | (unsigned)!!ap->n_strings << GS_A_STRINGS |
           (unsigned)!!ap->n_tensors << GS_A_TENSORS | (unsigned)!!ap->n_graphs << GS_A_GRAPHS |
           (unsigned)!!ap->n_sparse_tensors << GS_A_SPARSE_TENSORS |
           (unsigned)!!ap->n_type_protos << GS_A_TYPE_PROTOS;
}

/* The attribute's type against its payload. IR version 1 had no type
 * field; from IR version 2 on it is required (as onnx.checker has it). */
static gs_status check_attr_type(chk *c, const char *node, const Onnx__AttributeProto *ap)
{
    const char *name = ap->name;
    unsigned have = payloads(ap);
    if (have & (have - 1))
        return bad(c, "%s: attribute '%s' holds more than one value (%s and %s)", node, name,
                   payload_names[__builtin_ctz(have)], payload_names[31 - __builtin_clz(have)]);
    if (!ap->has_type)
        return c->ir >= 2 ? bad(c, "%s: attribute '%s' has no type", node, name) : GS_OK;
    int t = ap->type;
    if (t <= GS_A_UNDEFINED || t > GS_A_TYPE_PROTOS)
        return bad(c, "%s: attribute '%s' has %s type %d", node, name,
                   t == GS_A_UNDEFINED ? "the undefined" : "an unknown", t);
    if (have && have != 1u << t)
        return bad(c, "%s: attribute '%s' has type %s but holds %s", node, name, type_names[t],
                   payload_names[__builtin_ctz(have)]);
    if (!have && (t == GS_A_TENSOR || t == GS_A_GRAPH || t == GS_A_SPARSE_TENSOR ||
                  t == GS_A_TYPE_PROTO))
        return bad(c, "%s: attribute '%s' has type %s but holds nothing", node, name, type_names[t]);
    return GS_OK;
}

static gs_status check_subgraph(chk *c, const Onnx__GraphProto *gp, const scope *sc)
{
    const char *outer = c->graph;
    c->graph = *str(gp->name) ? gp->name : "(unnamed)";
    gs_status st = check_graph(c, gp, sc);
    if (st == GS_OK)
        c->graph = outer;   /* on error the message names the innermost graph */
    return st;
}

static gs_status check_attr(chk *c, const char *node, const Onnx__AttributeProto *ap,
                            const scope *sc)
{
    if (!*str(ap->name))
        return bad(c, "%s: an attribute has no name", node);
    gs_status st = check_attr_type(c, node, ap);
    char what[LABEL];
    label(what, "%s: attribute '%s'", node, ap->name);
    if (st == GS_OK && ap->t)
        st = check_tensor(c, what, ap->t);
    for (size_t i = 0; st == GS_OK && i < ap->n_tensors; i++)
        st = check_tensor(c, what, ap->tensors[i]);
    if (st == GS_OK && ap->sparse_tensor)
        st = check_sparse(c, what, ap->sparse_tensor);
    for (size_t i = 0; st == GS_OK && i < ap->n_sparse_tensors; i++)
        st = check_sparse(c, what, ap->sparse_tensors[i]);
    if (st == GS_OK && ap->g)
        st = check_subgraph(c, ap->g, sc);
    for (size_t i = 0; st == GS_OK && i < ap->n_graphs; i++)
        st = check_subgraph(c, ap->graphs[i], sc);
    return st;
}

/* ---- nodes ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static gs_status unique_attrs(chk *c, const char *node, const Onnx__NodeProto *np)
{
    if (np->n_attribute < 2)
        return GS_OK;
    const char **names = gs_alloc(c->ctx, np->n_attribute * sizeof *names);
    if (!names)
        return gs_nomem(c->ctx);
    for (size_t i = 0; i < np->n_attribute; i++)
        names[i] = str(np->attribute[i]->name);
    qsort(names, np->n_attribute, sizeof *names, cmp_str);
    const char *dup = NULL;
    for (size_t i = 1; i < np->n_attribute && !dup; i++)
        if (!strcmp(names[i - 1], names[i]))
            dup = names[i];
    gs_dealloc(c->ctx, names);
    return dup ? bad(c, "%s: attribute '%s' appears twice", node, dup) : GS_OK;
}

bool gs_onnx_same_domain(const char *a, const char *b)
{
    a = !a || !strcmp(a, "ai.onnx") ? "" : a;
    b = !b || !strcmp(b, "ai.onnx") ? "" : b;
    return !strcmp(a, b);
}

static bool domain_imported(chk *c, const char *domain)
{
    if (c->ir < 3 && !c->mp->n_opset_import)
        return !*domain || !strcmp(domain, "ai.onnx");   /* the default ONNX opset 1 */
    for (size_t i = 0; i < c->mp->n_opset_import; i++)
        if (gs_onnx_same_domain(str(c->mp->opset_import[i]->domain), domain))
            return true;
    return false;
}

static gs_status check_node(chk *c, const Onnx__NodeProto *np, size_t i, const scope *sc)
{
    char node[LABEL];
    node_label(node, np, i);
    if (!*str(np->op_type))
        return bad(c, "%s has no op type", node);
    if (!np->n_input && !np->n_output)
        return bad(c, "%s has no inputs and no outputs", node);
    if (!domain_imported(c, str(np->domain)))
        return bad(c, "%s: domain '%s' is not in the model's opset_import", node, np->domain);
    gs_status st = unique_attrs(c, node, np);
    for (size_t a = 0; st == GS_OK && a < np->n_attribute; a++)
        st = check_attr(c, node, np->attribute[a], sc);
    return st;
}

/* ---- value infos ------------------------------------------------------- */

/* Graph inputs and outputs need a name; in the main graph also a type (a
 * tensor type with an element type). An element type is a known one. */
static gs_status check_info(chk *c, const char *kind, size_t i, const Onnx__ValueInfoProto *vi)
{
    if (!*str(vi->name))
        return bad(c, "%s #%zu has no name", kind, i);
    const Onnx__TypeProto *tp = vi->type;
    bool main = !c->graph;
    if (main && !tp)
        return bad(c, "%s '%s' has no type", kind, vi->name);
    if (main && tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
        return bad(c, "%s '%s' has an unknown kind of type", kind, vi->name);
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return GS_OK;
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (main && !tt->has_elem_type)
        return bad(c, "%s '%s' has no element type", kind, vi->name);
    if (tt->elem_type < 0 || tt->elem_type > MAX_DTYPE)
        return bad(c, "%s '%s' has an unknown element type %d", kind, vi->name, (int)tt->elem_type);
    return GS_OK;
}

static gs_status check_infos(chk *c, const Onnx__GraphProto *gp)
{
    gs_status st = GS_OK;
    for (size_t i = 0; st == GS_OK && i < gp->n_input; i++)
        st = check_info(c, "graph input", i, gp->input[i]);
    for (size_t i = 0; st == GS_OK && i < gp->n_output; i++)
        st = check_info(c, "graph output", i, gp->output[i]);
    for (size_t i = 0; st == GS_OK && i < gp->n_value_info; i++) {
        const Onnx__ValueInfoProto *vi = gp->value_info[i];
        const Onnx__TypeProto *tp = vi->type;
        if (tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type &&
            (tp->tensor_type->elem_type < 0 || tp->tensor_type->elem_type > MAX_DTYPE))
            st = bad(c, "value_info '%s' has an unknown element type %d", str(vi->name),
                     (int)tp->tensor_type->elem_type);
    }
    return st;
}

/* ---- single definition (SSA) ------------------------------------------- */

static int cmp_def(const void *a, const void *b)
{
    const def *x = a, *y = b;
    int d = strcmp(x->name, y->name);
    return d ? d : x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool scope_has(const scope *sc, const char *name)
{
    for (; sc; sc = sc->parent) {
        def key = { name, 0, 0, 0 };
        size_t lo = 0, hi = sc->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int d = strcmp(sc->defs[mid].name, key.name);
            if (!d)
                return true;
            if (d < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return false;
}

static gs_status collect(chk *c, const Onnx__GraphProto *gp, scope *sc)
{
    size_t n = gp->n_input + gp->n_initializer + gp->n_sparse_initializer;
    for (size_t i = 0; i < gp->n_node; i++)
        n += gp->node[i]->n_output;
    sc->defs = gs_alloc(c->ctx, (n ? n : 1) * sizeof *sc->defs);
    if (!sc->defs)
        return gs_nomem(c->ctx);
    size_t k = 0;
    for (size_t i = 0; i < gp->n_input; i++, k++)
        sc->defs[k] = (def){ str(gp->input[i]->name), K_INPUT, k, 0 };
    for (size_t i = 0; i < gp->n_initializer; i++) {
        if (!*str(gp->initializer[i]->name))
            return bad(c, "initializer #%zu has no name", i);
        sc->defs[k] = (def){ gp->initializer[i]->name, K_INIT, k, 0 };
        k++;
    }
    for (size_t i = 0; i < gp->n_sparse_initializer; i++, k++) {
        const Onnx__TensorProto *v = gp->sparse_initializer[i]->values;
        sc->defs[k] = (def){ v ? str(v->name) : "", K_INIT, k, 0 };
    }
    for (size_t i = 0; i < gp->n_node; i++)
        for (size_t o = 0; o < gp->node[i]->n_output; o++)
            if (*str(gp->node[i]->output[o]))
                sc->defs[k] = (def){ gp->node[i]->output[o], K_OUTPUT, k, i }, k++;
    sc->n = k;
    qsort(sc->defs, k, sizeof *sc->defs, cmp_def);
    return GS_OK;
}

static const char *const kind_names[] = { "a graph input", "an initializer", "a node output" };

/* A run of definitions of one name, in order: at most one graph input and
 * one initializer (which may share the name), no node output with another. */
static gs_status check_run(chk *c, const Onnx__GraphProto *gp, const def *d, size_t n)
{
    char node[LABEL];
    const def *out = NULL;
    int inputs = 0, inits = 0;
    for (size_t i = 0; i < n; i++) {
        inputs += d[i].kind == K_INPUT;
        inits += d[i].kind == K_INIT;
        if (d[i].kind == K_OUTPUT)
            out = &d[i];   /* the last definition is the one in excess */
    }
    if (out && n > 1) {
        const def *other = out == d ? &d[1] : d;
        return bad(c, "%s defines '%s', which is also %s (values are defined once)",
                   node_label(node, gp->node[out->node], out->node), out->name, kind_names[other->kind]);
    }
    if (inputs > 1)
        return bad(c, "graph input '%s' is listed twice", d->name);
    if (inits > 1)
        return bad(c, "initializer '%s' is defined twice", d->name);
    if (inits && !inputs && c->ir <= 3)
        return bad(c, "initializer '%s' is not a graph input (required up to IR version 3)", d->name);
    return GS_OK;
}

/* Each name defined once in the graph; node outputs do not shadow a value
 * of an enclosing graph. */
static gs_status check_defs(chk *c, const Onnx__GraphProto *gp, const scope *sc)
{
    char node[LABEL];
    for (size_t i = 0, j; i < sc->n; i = j) {
        for (j = i + 1; j < sc->n && !strcmp(sc->defs[i].name, sc->defs[j].name); j++)
            ;
        gs_status st = check_run(c, gp, &sc->defs[i], j - i);
        if (st != GS_OK)
            return st;
        const def *d = &sc->defs[i];
        if (d->kind == K_OUTPUT && scope_has(sc->parent, d->name))
            return bad(c, "%s defines '%s', which an enclosing graph already defines",
                       node_label(node, gp->node[d->node], d->node), d->name);
    }
    return GS_OK;
}

/* ---- graphs and the model ---------------------------------------------- */

static gs_status check_inits(chk *c, const Onnx__GraphProto *gp)
{
    char what[LABEL];
    gs_status st = GS_OK;
    for (size_t i = 0; st == GS_OK && i < gp->n_initializer; i++) {
        label(what, "initializer '%s'", str(gp->initializer[i]->name));
        st = check_tensor(c, what, gp->initializer[i]);
    }
    for (size_t i = 0; st == GS_OK && i < gp->n_sparse_initializer; i++) {
        const Onnx__SparseTensorProto *sp = gp->sparse_initializer[i];
        label(what, "sparse initializer #%zu", i);
        st = check_sparse(c, what, sp);
    }
    return st;
}

static gs_status check_graph(chk *c, const Onnx__GraphProto *gp, const scope *parent)
{
    if (++c->depth > GS_MAX_DEPTH)
        return gs_err(c->ctx, GS_ERR_LIMIT, "%s: subgraphs nested deeper than %d", c->path, GS_MAX_DEPTH);
    scope sc = { parent, NULL, 0 };
    gs_status st = check_infos(c, gp);
    if (st == GS_OK)
        st = collect(c, gp, &sc);
    if (st == GS_OK)
        st = check_defs(c, gp, &sc);
    if (st == GS_OK)
        st = check_inits(c, gp);
    for (size_t i = 0; st == GS_OK && i < gp->n_node; i++)
        st = check_node(c, gp->node[i], i, &sc);
    gs_dealloc(c->ctx, sc.defs);
    c->depth--;
    return st;
}

static gs_status check_opsets(chk *c)
{
    const Onnx__ModelProto *mp = c->mp;
    if (c->ir >= 3 && !mp->n_opset_import)
        return bad(c, "the model has no opset_import (required from IR version 3)");
    if (c->ir < 3 && mp->n_opset_import)
        return bad(c, "the model has an opset_import, which IR version %lld does not allow",
                   (long long)c->ir);
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->has_version || o->version < 1)
            return bad(c, "opset_import of domain '%s' has no version", str(o->domain));
        for (size_t j = 0; j < i; j++)
            if (gs_onnx_same_domain(str(mp->opset_import[j]->domain), str(o->domain)))
                return bad(c, "opset_import lists domain '%s' twice", str(o->domain));
    }
    return GS_OK;
}

gs_status gs_onnx_check(gs_ctx *ctx, const Onnx__ModelProto *mp, const char *path)
{
    chk c = { ctx, path, mp, mp->ir_version, NULL, 0 };
    if (!mp->has_ir_version || mp->ir_version < 1)
        return bad(&c, "the model has no ir_version");
    gs_status st = check_opsets(&c);
    return st == GS_OK ? check_graph(&c, mp->graph, NULL) : st;
}

gs_status gs_onnx_check_tensor(gs_ctx *ctx, const Onnx__TensorProto *tp, const char *path)
{
    chk c = { ctx, path, NULL, 0, NULL, 0 };
    char what[LABEL];
    return check_tensor(&c, label(what, "tensor '%s'", str(tp->name)), tp);
}
