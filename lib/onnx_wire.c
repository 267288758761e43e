/*
 * onnx_wire.c - a skeleton of a mapped model without its big weights.
 *
 * protobuf-c copies every bytes field it unpacks, so unpacking a model with
 * 1 GiB of weights needs another GiB. Instead, the importer walks the wire
 * format of ModelProto.graph.initializer[*].raw_data, builds a copy of the
 * message with the large raw_data payloads cut out (enclosing lengths
 * rewritten), unpacks that small skeleton, and points each cut tensor back
 * at its bytes in the mapped file. Anything unusual (a repeated graph field,
 * a tensor with two raw_data fields, malformed varints) makes the walk give
 * up, and the importer unpacks the whole file as usual.
 */
#include "gs_wire.h"

#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };
enum { MODEL_GRAPH = 7, GRAPH_INITIALIZER = 5, TENSOR_RAW_DATA = 9 };

typedef struct outbuf {
    gs_ctx *ctx;
    uint8_t *p;
    size_t n, cap;
    bool failed;
} outbuf;

static void put(outbuf *o, const void *data, size_t n)
{
    if (o->failed)
        return;
    if (o->n + n > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->n + n)
            cap *= 2;
        uint8_t *p = gs_realloc(o->ctx, o->p, cap);
        if (!p) {
            o->failed = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, data, n);
    o->n += n;
}

static void put_varint(outbuf *o, uint64_t v)
{
    uint8_t b[10];
    int n = 0;
    do {
        b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(o, b, (size_t)n);
}

/* Read a varint at *pos (< end); false when malformed. */
static bool get_varint(const uint8_t *buf, size_t end, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *pos < end; shift += 7) {
        uint8_t b = buf[(*pos)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* One field at *pos: its number, wire type and payload [*start, *stop). */
static bool get_field(const uint8_t *buf, size_t end, size_t *pos, uint32_t *num, int *wt,
                      size_t *start, size_t *stop)
{
    uint64_t key, len = 0;
    if (!get_varint(buf, end, pos, &key))
        return false;
    *num = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    *start = *pos;
    switch (*wt) {
    case WT_VARINT:
        if (!get_varint(buf, end, pos, &len))
            return false;
        break;
    case WT_I64: *pos += 8; break;
    case WT_I32: *pos += 4; break;
    case WT_LEN:
        if (!get_varint(buf, end, pos, &len) || len > end - *pos)
            return false;
        *start = *pos;
        *pos += (size_t)len;
        break;
    default: return false;   /* groups are not used by ONNX */
    }
    if (*pos > end)
        return false;
    *stop = *pos;
    return true;
}

typedef struct walk {
    const uint8_t *buf;
    size_t threshold;
    gs_wire_cut *cuts;
    int ncuts, capcuts;
    int tensor;        /* index of the current initializer */
    gs_ctx *ctx;
} walk;

static bool add_cut(walk *w, size_t start, size_t stop)
{
    if (w->ncuts == w->capcuts) {
        int cap = w->capcuts ? w->capcuts * 2 : 64;
        gs_wire_cut *c = gs_realloc(w->ctx, w->cuts, (size_t)cap * sizeof *c);
        if (!c)
            return false;
        w->cuts = c;
        w->capcuts = cap;
    }
    w->cuts[w->ncuts++] = (gs_wire_cut){ w->tensor, w->buf + start, stop - start };
    return true;
}

/* Copy field bytes [from, to) verbatim. */
static void copy(outbuf *o, const walk *w, size_t from, size_t to)
{
    put(o, w->buf + from, to - from);
}

static bool tensor(walk *w, outbuf *o, size_t begin, size_t end)
{
    size_t pos = begin, start, stop;
    uint32_t num;
    int wt, raws = 0;
    while (pos < end) {
        size_t field = pos;
        if (!get_field(w->buf, end, &pos, &num, &wt, &start, &stop))
            return false;
        if (num == TENSOR_RAW_DATA && wt == WT_LEN) {
            if (++raws > 1)
                return false;
            if (stop - start >= w->threshold) {
                if (!add_cut(w, start, stop))
                    return false;
                continue;   /* cut out: the tensor gets the mapped bytes back */
            }
        }
        copy(o, w, field, pos);
    }
    return true;
}

/* Rewrite a length-delimited submessage through fn. */
static bool nested(walk *w, outbuf *o, uint32_t num, size_t start, size_t stop,
                   bool (*fn)(walk *, outbuf *, size_t, size_t))
{
    outbuf inner = { o->ctx, NULL, 0, 0, false };
    bool ok = fn(w, &inner, start, stop) && !inner.failed;
    if (ok) {
        put_varint(o, (uint64_t)num << 3 | WT_LEN);
        put_varint(o, inner.n);
        put(o, inner.p, inner.n);
    }
    gs_dealloc(o->ctx, inner.p);
    return ok;
}

static bool graph(walk *w, outbuf *o, size_t begin, size_t end)
{
    size_t pos = begin, start, stop;
    uint32_t num;
    int wt;
    while (pos < end) {
        size_t field = pos;
        if (!get_field(w->buf, end, &pos, &num, &wt, &start, &stop))
            return false;
        if (num == GRAPH_INITIALIZER && wt == WT_LEN) {
            if (!nested(w, o, num, start, stop, tensor))
                return false;
            w->tensor++;
            continue;
        }
        copy(o, w, field, pos);
    }
    return true;
}

static bool model(walk *w, outbuf *o, size_t begin, size_t end)
{
    size_t pos = begin, start, stop;
    uint32_t num;
    int wt, graphs = 0;
    while (pos < end) {
        size_t field = pos;
        if (!get_field(w->buf, end, &pos, &num, &wt, &start, &stop))
            return false;
        if (num == MODEL_GRAPH && wt == WT_LEN) {
            if (++graphs > 1 || !nested(w, o, num, start, stop, graph))
                return false;
            continue;
        }
        copy(o, w, field, pos);
    }
    return true;
}

bool gs_wire_skeleton(gs_ctx *ctx, const void *buf, size_t size, size_t threshold,
                      gs_wire_skel *out)
{
    memset(out, 0, sizeof *out);
    walk w = { buf, threshold, NULL, 0, 0, 0, ctx };
    outbuf o = { ctx, NULL, 0, 0, false };
    bool ok = model(&w, &o, 0, size) && !o.failed && w.ncuts > 0;
    if (!ok) {
        gs_dealloc(ctx, o.p);
        gs_dealloc(ctx, w.cuts);
        return false;
    }
    out->buf = o.p;
    out->size = o.n;
    out->cuts = w.cuts;
    out->ncuts = w.ncuts;
    return true;
}

void gs_wire_skel_free(gs_ctx *ctx, gs_wire_skel *s)
{
    gs_dealloc(ctx, s->buf);
    gs_dealloc(ctx, s->cuts);
    memset(s, 0, sizeof *s);
}

/* ---- nesting depth ---------------------------------------------------------
 * protobuf-c unpacks nested messages by recursion, so a hostile file of a few
 * megabytes nesting graphs inside attributes inside nodes inside graphs could
 * exhaust the stack before the importer sees a single node. This walk follows
 * the fields of the ONNX schema through which messages can nest and measures
 * the depth first. */

enum kind { K_NONE, K_MODEL, K_GRAPH, K_NODE, K_ATTR, K_VALUEINFO, K_TYPE, K_TYPE_ELEM, K_TYPE_MAP,
            K_FUNCTION, K_TRAINING, K_TENSOR };

static const struct child {
    enum kind parent;
    uint32_t field;
    enum kind child;
} children[] = {
    { K_MODEL, 7, K_GRAPH },         /* ModelProto.graph */
    { K_MODEL, 20, K_TRAINING },     /* .training_info */
    { K_MODEL, 25, K_FUNCTION },     /* .functions */
    { K_GRAPH, 1, K_NODE },          /* GraphProto.node */
    { K_GRAPH, 5, K_TENSOR },        /* .initializer (walked for its name only) */
    { K_GRAPH, 11, K_VALUEINFO },    /* .input */
    { K_GRAPH, 12, K_VALUEINFO },    /* .output */
    { K_GRAPH, 13, K_VALUEINFO },    /* .value_info */
    { K_NODE, 5, K_ATTR },           /* NodeProto.attribute */
    { K_ATTR, 6, K_GRAPH },          /* AttributeProto.g */
    { K_ATTR, 11, K_GRAPH },         /* .graphs */
    { K_ATTR, 14, K_TYPE },          /* .tp */
    { K_ATTR, 15, K_TYPE },          /* .tps */
    { K_VALUEINFO, 2, K_TYPE },      /* ValueInfoProto.type */
    { K_TYPE, 4, K_TYPE_ELEM },      /* TypeProto.sequence_type */
    { K_TYPE, 5, K_TYPE_MAP },       /* .map_type */
    { K_TYPE, 9, K_TYPE_ELEM },      /* .optional_type */
    { K_TYPE_ELEM, 1, K_TYPE },      /* Sequence.elem_type, Optional.elem_type */
    { K_TYPE_MAP, 2, K_TYPE },       /* Map.value_type */
    { K_FUNCTION, 7, K_NODE },       /* FunctionProto.node */
    { K_FUNCTION, 12, K_VALUEINFO }, /* .value_info */
    { K_TRAINING, 1, K_GRAPH },      /* TrainingInfoProto.initialization */
    { K_TRAINING, 2, K_GRAPH },      /* .algorithm */
};

/* Names: fields that must not hold a NUL byte (protobuf-c would cut the
 * name there, and "a\0b" would silently become "a", or an absent input). */
static const struct name_field {
    enum kind kind;
    uint32_t field;
} names[] = {
    { K_NODE, 1 }, { K_NODE, 2 }, { K_NODE, 3 }, { K_NODE, 4 }, { K_NODE, 7 },   /* in, out, name, op, domain */
    { K_GRAPH, 2 }, { K_VALUEINFO, 1 }, { K_ATTR, 1 }, { K_TENSOR, 8 },
    { K_FUNCTION, 1 }, { K_FUNCTION, 4 }, { K_FUNCTION, 5 }, { K_FUNCTION, 10 },
};

static bool is_name(enum kind k, uint32_t field)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].kind == k && names[i].field == field)
            return true;
    return false;
}

static enum kind child_kind(enum kind parent, uint32_t field)
{
    for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
        if (children[i].parent == parent && children[i].field == field)
            return children[i].child;
    return K_NONE;
}

/* The walk's verdict: 0 fine, 1 nested too deep, 2 a name with a NUL byte. */
enum { WALK_OK, WALK_DEEP, WALK_NUL };

/* Messages below [start, end) nest at most limit deep and their names hold
 * no NUL byte. A malformed field ends the walk of its message only
 * (protobuf-c refuses it there); its siblings are still walked. */
static int check_walk(const uint8_t *buf, size_t start, size_t end, enum kind k, int depth, int limit)
{
    if (depth > limit)
        return WALK_DEEP;
    size_t pos = start;
    while (pos < end) {
        uint32_t num;
        int wt;
        size_t a, b;
        if (!get_field(buf, end, &pos, &num, &wt, &a, &b))
            return WALK_OK;
        if (wt != WT_LEN)
            continue;
        if (is_name(k, num) && memchr(buf + a, 0, b - a))
            return WALK_NUL;
        enum kind c = child_kind(k, num);
        int r = c != K_NONE ? check_walk(buf, a, b, c, depth + 1, limit) : WALK_OK;
        if (r != WALK_OK)
            return r;
    }
    return WALK_OK;
}

gs_status gs_wire_check(gs_ctx *ctx, const void *buf, size_t size, int limit, const char *path)
{
    switch (check_walk(buf, 0, size, K_MODEL, 0, limit)) {
    case WALK_DEEP:
        return gs_err(ctx, GS_ERR_LIMIT, "%s: messages nested deeper than %d (graphs inside attributes "
                      "inside nodes...)", path, limit);
    case WALK_NUL:
        return gs_err(ctx, GS_ERR_PARSE, "%s: a name contains a NUL byte", path);
    default:
        return GS_OK;
    }
}
