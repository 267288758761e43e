/*
 * model.c - the public model handle: loading, saving (atomically, with or
 * without external data) and walking the main graph. Arguments are checked
 * here, at the API boundary; the IR below asserts its invariants instead.
 */
#include "gs_ops.h"

#include <stdio.h>
#include <string.h>

#define CHECK_ARG(ctx, cond, what)                                                    \
    do {                                                                              \
        if (!(cond))                                                                  \
            return gs_err(ctx, GS_ERR_ARG, "%s: invalid argument: %s", __func__, what); \
    } while (0)

/* ---- loading ------------------------------------------------------------ */

gs_model *gs_model_new(gs_ctx *ctx)
{
    gs_model *m = gs_zalloc(ctx, sizeof *m);
    if (m)
        m->ctx = ctx;
    return m;
}

/* A model imported from buf (see gs_onnx_import), or an error. */
static gs_status import(gs_ctx *ctx, void *buf, size_t size, bool mapped, const char *path,
                        const char *dir, gs_model **out)
{
    gs_model *m = gs_model_new(ctx);
    if (!m) {
        if (mapped)
            gs_file_unmap(buf, size);
        return gs_nomem(ctx);
    }
    gs_status st = gs_onnx_import(m, buf, size, mapped, path, dir);
    if (st != GS_OK) {
        gs_model_free(m);
        return st;
    }
    *out = m;
    return GS_OK;
}

GS_API gs_status gs_model_load(gs_ctx *ctx, const char *path, gs_model **out)
{
    if (!ctx)
        return GS_ERR_ARG;
    CHECK_ARG(ctx, path && out, "path and out must not be NULL");
    *out = NULL;
    void *map;
    size_t size;
    gs_status st = gs_file_map(ctx, path, &map, &size);
    if (st != GS_OK)
        return st;
    if (size == 0)
        return gs_err(ctx, GS_ERR_PARSE, "%s: empty file, not an ONNX model", path);
    char *dir = gs_file_dir(ctx, path);
    if (!dir) {
        gs_file_unmap(map, size);
        return gs_nomem(ctx);
    }
    st = import(ctx, map, size, true, path, dir, out);
    gs_dealloc(ctx, dir);
    if (st == GS_OK && !((*out)->path = gs_arena_strdup((*out)->graph->perm, path))) {
        gs_model_free(*out);
        *out = NULL;
        return gs_nomem(ctx);
    }
    return st;
}

gs_status gs_model_errfile(const gs_model *m, gs_status st)
{
    if (!m || !m->path || (st != GS_ERR_MODEL && st != GS_ERR_UNSUPPORTED && st != GS_ERR_LIMIT))
        return st;
    size_t n = strlen(m->path);
    if (!strncmp(m->ctx->msg, m->path, n) && m->ctx->msg[n] == ':')
        return st;
    char msg[sizeof m->ctx->msg];
    snprintf(msg, sizeof msg, "%s", m->ctx->msg);
    return gs_err(m->ctx, st, "%s: %s", m->path, msg);
}

GS_API gs_status gs_model_load_mem(gs_ctx *ctx, const void *data, size_t size,
                                   const char *base_dir, gs_model **out)
{
    if (!ctx)
        return GS_ERR_ARG;
    CHECK_ARG(ctx, data && out, "data and out must not be NULL");
    *out = NULL;
    return import(ctx, (void *)data, size, false, "<memory>", base_dir, out);
}

GS_API void gs_model_free(gs_model *m)
{
    if (!m || m->owner)   /* a body view is freed with the body */
        return;
    gs_ctx *ctx = m->ctx;
    gs_ir_free(m->graph);
    gs_onnx_free_proto(m);
    for (int32_t i = 0; i < m->next; i++) {
        gs_file_unmap(m->ext[i].map, m->ext[i].size);
        gs_dealloc(ctx, m->ext[i].path);
    }
    for (int32_t i = 0; i < m->nowned; i++)
        gs_tensor_free(ctx, m->owned[i]);
    gs_dealloc(ctx, m->owned);
    gs_dealloc(ctx, m->ext);
    gs_dealloc(ctx, m->opsets);
    gs_dealloc(ctx, m->dir);
    gs_dealloc(ctx, m);
}

gs_status gs_model_writable(const gs_model *m, const char *fn)
{
    if (!m->owner)
        return GS_OK;
    return gs_err(m->ctx, GS_ERR_ARG, "%s: a body (from gs_node_attr_graph) is read-only: change, save, "
                  "run or optimize the model that holds it", fn);
}

gs_status gs_model_own(gs_model *m, gs_tensor *t)
{
    if (m->nowned == m->capowned) {
        int32_t cap = m->capowned ? m->capowned * 2 : 16;
        gs_tensor **p = gs_realloc(m->ctx, m->owned, (size_t)cap * sizeof *p);
        if (!p)
            return gs_nomem(m->ctx);
        m->owned = p;
        m->capowned = cap;
    }
    m->owned[m->nowned++] = t;
    return GS_OK;
}

/* ---- saving ------------------------------------------------------------- */

static const uint64_t PROTO_LIMIT = ((uint64_t)2 << 30) - 4096;   /* protobuf's 2 GiB cap */

/* PATH.data beside the file path resolved to (ctx memory), or NULL. */
static char *data_path(gs_ctx *ctx, const char *target)
{
    size_t n = strlen(target) + 6;
    char *x = gs_alloc(ctx, n);
    if (x)
        snprintf(x, n, "%s.data", target);
    return x;
}

/* The external-data file of an output: a regular file of its own, written
 * under a temporary name like the model. */
static gs_status open_data(gs_ctx *ctx, const gs_out *out, char **xpath, gs_out *x)
{
    if (out->through)
        return gs_err(ctx, GS_ERR_ARG, "%s: external data needs a regular output file, "
                      "written beside it", out->path);
    if (!(*xpath = data_path(ctx, out->target)))
        return gs_nomem(ctx);
    gs_status st = gs_out_open(ctx, *xpath, x);
    if (st == GS_OK && x->through) {
        gs_out_abort(x);
        st = gs_err(ctx, GS_ERR_IO, "%s: not a regular file, not replaced", *xpath);
    }
    return st;
}

/* Both files complete, then the data renamed before the model that reads it:
 * an old model never sees new weights after a failure. */
static gs_status finish_both(gs_out *model, gs_out *data)
{
    gs_status st = gs_out_finish(data);
    if (st == GS_OK)
        st = gs_out_finish(model);
    if (st != GS_OK) {
        gs_out_abort(data);
        gs_out_abort(model);
        return st;
    }
    return gs_out_place_pair(data, model);
}

static gs_status save_files(gs_model *m, const char *path, bool external, size_t threshold)
{
    gs_ctx *ctx = m->ctx;
    gs_out out, x = { .ctx = ctx, .fd = -1, .slot = -1 };
    char *xpath = NULL;
    gs_status st = gs_out_open(ctx, path, &out);
    if (st != GS_OK)
        return st;
    if (external && (st = open_data(ctx, &out, &xpath, &x)) != GS_OK) {
        gs_out_abort(&out);
        gs_dealloc(ctx, xpath);
        return st;
    }
    st = gs_onnx_export(m, out.fd, NULL, NULL, x.fd, xpath, threshold, path);
    if (st != GS_OK) {
        gs_out_abort(&x);
        gs_out_abort(&out);
    } else {
        st = external ? finish_both(&out, &x) : gs_out_commit(&out);
    }
    gs_dealloc(ctx, xpath);
    return st;
}

GS_API gs_status gs_model_save(gs_model *m, const char *path, const gs_save_opts *opts)
{
    GS_CHECK_WRITABLE(m);
    CHECK_ARG(m->ctx, path && *path, "path must not be empty");
    CHECK_ARG(m->ctx, !opts || opts->version == GS_SAVE_OPTS_VERSION, "unknown gs_save_opts version");
    bool external = opts && opts->external_data;
    size_t threshold = opts && opts->external_threshold ? opts->external_threshold : 1024;
    if (!external) {
        uint64_t size;
        gs_status st = gs_onnx_packed_size(m, &size);
        if (st != GS_OK)
            return st;
        external = size > PROTO_LIMIT;   /* too big for one protobuf message */
    }
    return save_files(m, path, external, threshold);
}

GS_API gs_status gs_model_save_mem(gs_model *m, void **buf, size_t *size)
{
    GS_CHECK_WRITABLE(m);
    CHECK_ARG(m->ctx, buf && size, "buf and size must not be NULL");
    *buf = NULL;
    *size = 0;
    return gs_onnx_export(m, -1, buf, size, -1, NULL, 0, "<memory>");
}

GS_API int gs_model_data_file_count(const gs_model *m)
{
    return m ? gs_model_root(m)->next : 0;
}

GS_API const char *gs_model_data_file(const gs_model *m, int i)
{
    m = m ? gs_model_root(m) : NULL;
    return m && i >= 0 && i < m->next ? m->ext[i].path : NULL;
}

GS_API gs_status gs_model_verify(gs_model *m)
{
    if (!m)
        return GS_ERR_ARG;
    return gs_ir_verify(m->graph);
}

/* ---- walking ------------------------------------------------------------ */

int64_t gs_model_opset_of(const gs_model *m, const char *domain)
{
    bool dflt = !domain || !*domain || !strcmp(domain, "ai.onnx");
    m = gs_model_root(m);   /* a body imports what its model imports */
    for (int32_t i = 0; i < m->nopsets; i++) {
        const char *d = m->opsets[i].domain;
        if (dflt ? (!*d || !strcmp(d, "ai.onnx")) : !strcmp(d, domain))
            return m->opsets[i].version;
    }
    return 0;
}

GS_API int64_t gs_model_opset(const gs_model *m, const char *domain)
{
    return m ? gs_model_opset_of(m, domain) : 0;
}

static const gs_node *node_at(const gs_model *m, int i)
{
    return m && i >= 0 && i < m->graph->nnodes ? &m->graph->nodes[i] : NULL;
}

static const gs_value *value_at(const gs_model *m, int v)
{
    return m && v >= 0 && v < m->graph->nvalues ? &m->graph->values[v] : NULL;
}

GS_API int gs_model_node_count(const gs_model *m) { return m ? m->graph->nnodes : 0; }
GS_API int gs_model_value_count(const gs_model *m) { return m ? m->graph->nvalues : 0; }
GS_API int gs_model_output_count(const gs_model *m) { return m ? m->graph->noutputs : 0; }

GS_API int gs_model_input_count(const gs_model *m)
{
    int n = 0;
    for (int32_t i = 0; m && i < m->graph->ninputs; i++)
        n += !m->graph->values[m->graph->inputs[i]].init;
    return n;
}

GS_API int gs_model_input(const gs_model *m, int i)
{
    for (int32_t k = 0; m && k < m->graph->ninputs; k++)
        if (!m->graph->values[m->graph->inputs[k]].init && i-- == 0)
            return m->graph->inputs[k];
    return -1;
}

GS_API int gs_model_output(const gs_model *m, int i)
{
    return m && i >= 0 && i < m->graph->noutputs ? m->graph->outputs[i] : -1;
}

GS_API const char *gs_node_op(const gs_model *m, int i)
{
    const gs_node *n = node_at(m, i);
    return n ? n->op : NULL;
}

GS_API const char *gs_node_domain(const gs_model *m, int i)
{
    const gs_node *n = node_at(m, i);
    return n ? n->domain : NULL;
}

GS_API const char *gs_node_name(const gs_model *m, int i)
{
    const gs_node *n = node_at(m, i);
    return n ? n->name : NULL;
}

GS_API int gs_node_input_count(const gs_model *m, int i)
{
    const gs_node *n = node_at(m, i);
    return n ? n->nin : 0;
}

GS_API int gs_node_output_count(const gs_model *m, int i)
{
    const gs_node *n = node_at(m, i);
    return n ? n->nout : 0;
}

GS_API int gs_node_input(const gs_model *m, int i, int k)
{
    const gs_node *n = node_at(m, i);
    return n && k >= 0 && k < n->nin ? n->in[k] : -1;
}

GS_API int gs_node_output(const gs_model *m, int i, int k)
{
    const gs_node *n = node_at(m, i);
    return n && k >= 0 && k < n->nout ? n->out[k] : -1;
}

GS_API int gs_node_is_live(const gs_model *m, int i)
{
    const gs_node *n = node_at(m, i);
    return n && !(n->flags & GS_N_DEAD);
}

GS_API const char *gs_value_name(const gs_model *m, int v)
{
    const gs_value *val = value_at(m, v);
    return val ? val->name : NULL;
}

GS_API gs_dtype gs_value_dtype(const gs_model *m, int v)
{
    const gs_value *val = value_at(m, v);
    return val ? (gs_dtype)val->dtype : GS_UNDEFINED;
}

GS_API int gs_value_rank(const gs_model *m, int v)
{
    const gs_value *val = value_at(m, v);
    return val ? val->rank : -1;
}

GS_API int64_t gs_value_dim(const gs_model *m, int v, int k, const char **sym)
{
    const gs_value *val = value_at(m, v);
    if (sym)
        *sym = NULL;
    if (!val || k < 0 || k >= val->rank)
        return -1;
    if (sym)
        *sym = val->dims[k].sym;
    return val->dims[k].v;
}

GS_API int gs_value_is_constant(const gs_model *m, int v)
{
    const gs_value *val = value_at(m, v);
    return val && val->init;
}

GS_API int gs_value_producer(const gs_model *m, int v)
{
    const gs_value *val = value_at(m, v);
    return val ? val->producer : -1;
}

GS_API int64_t gs_value_numel(const gs_model *m, int v)
{
    const gs_value *val = value_at(m, v);
    if (!val || val->rank < 0)
        return -1;
    int64_t n = 1;
    for (int k = 0; k < val->rank; k++)
        if (val->dims[k].v < 0 || !gs_mul64_ok(n, val->dims[k].v, &n))
            return -1;
    return n;
}

GS_API int gs_dtype_bytes(gs_dtype t)
{
    return (int)gs_dtype_size(t);
}

GS_API const char *gs_dtype_str(gs_dtype t)
{
    return gs_dtype_name(t);
}

GS_API int gs_value_shape_known(const gs_model *m, int v)
{
    const gs_value *val = value_at(m, v);
    if (!val || val->rank < 0)
        return 0;
    for (int k = 0; k < val->rank; k++)
        if (val->dims[k].v < 0 && !val->dims[k].sym)
            return 0;
    return 1;
}
