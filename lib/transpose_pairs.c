/*
 * transpose_pairs.c - Transposes that only move a region of elementwise ops
 * into another layout and back, removed. Converters from layouts with
 * channels last (TensorFlow's, TFLite's) write every Conv between two:
 * Transpose -> Conv -> Transpose -> bias Add -> Relu -> Transpose -> Conv,
 * and a residual block's Add joins two such chains.
 *
 * A region grows from a Transpose with perm p (an entry; a Reshape moving
 * only axes of length 1 counts as the Transpose it equals): the values it
 * holds are in p's layout; every reader of one is an op of a kind below
 * (which joins, its outputs too), a Transpose undoing p (an exit), or
 * something else (a foreign reader). An op joins when each of its inputs is
 * a region value, another entry, a one-element value, a constant of at most
 * the region's rank, or the output of an op that can join in turn (pulled
 * in), or a list of positions (a Slice's starts, ends and steps, a Gather's
 * indices). Removing the region's entries and exits and running its ops on the
 * entries' inputs computes the same (elementwise ops and broadcasting
 * commute with a permutation applied to all their operands, constants
 * extended to the rank and permuted by the inverse of p; the other kinds
 * have their axes renumbered); a foreign reader then gets the value through
 * a new Transpose with perm p. That is done when it removes more Transposes
 * than it adds, and more elements moved. No region value may be a graph
 * output or read by a body.
 */
#include "gs_cleanup.h"
#include "gs_ops.h"

#include <stdio.h>
#include <string.h>

enum { AXIS_NONE = 99 };

/* The default axis of an op working along one axis that a region can hold
 * with the axis renumbered, or AXIS_NONE: a Softmax, LogSoftmax or Hardmax
 * from opset 13 (before, they work on the input flattened to 2-D from the
 * axis on, which a permutation changes), an ArgMax or ArgMin keeping the
 * reduced dim. */
static int axis_default(const gs_node *n)
{
    if (!strcmp(n->op, "Softmax") || !strcmp(n->op, "LogSoftmax") || !strcmp(n->op, "Hardmax"))
        return n->def && n->def->since >= 13 ? -1 : AXIS_NONE;
    if (!strcmp(n->op, "ArgMax") || !strcmp(n->op, "ArgMin"))
        return gs_attr_int(n, "keepdims", 1) == 1 ? 0 : AXIS_NONE;
    return AXIS_NONE;
}

/* What a region can hold: elementwise ops, and those whose axes it
 * renumbers: a Concat's axis, a Pad's pads (the paddings converters write
 * before a channels-last Conv with SAME padding), a per-axis quantization's
 * axis (a per-tensor one is elementwise), a reduction's axes when it keeps
 * the reduced dims (a squeeze-and-excitation block's mean over H and W), the
 * axis of a softmax or an arg max (a segmentation head's, over channels), a
 * Split's axis (its sizes along it stay), a Resize's scales, sizes and roi
 * (an upsampling written on channels-last values), a Slice's axes (a crop or
 * a channel range; its starts, ends and steps stay), a Gather's axis with a
 * list of indices (a channel reorder; the indices stay). */
typedef enum op_kind {
    K_NONE, K_ELEMENTWISE, K_CONCAT, K_PAD, K_QDQ, K_REDUCE, K_AXIS, K_SPLIT, K_RESIZE, K_SLICE, K_GATHER
} op_kind;

static op_kind kind_of(const gs_node *n)
{
    if ((*n->domain && strcmp(n->domain, "ai.onnx")) || n->nout < 1)
        return K_NONE;
    for (int k = 0; k < n->nout; k++)
        if (n->out[k] == GS_NONE)
            return K_NONE;
    if (!strcmp(n->op, "Split"))
        return K_SPLIT;
    if (n->nout != 1)
        return K_NONE;
    if (!strcmp(n->op, "Concat"))
        return K_CONCAT;
    if (!strcmp(n->op, "Pad"))
        return K_PAD;
    if (!strcmp(n->op, "Resize"))
        return K_RESIZE;
    if (!strcmp(n->op, "Slice"))
        return K_SLICE;
    if (!strcmp(n->op, "Gather"))
        return K_GATHER;
    if (!strcmp(n->op, "QuantizeLinear") || !strcmp(n->op, "DequantizeLinear"))
        return K_QDQ;
    if (!strncmp(n->op, "Reduce", 6))
        return K_REDUCE;
    if (axis_default(n) != AXIS_NONE)
        return K_AXIS;
    /* the registry's elementwise ops: each output element from the input elements at its
       place (after broadcasting), no axis attribute */
    return n->def && (n->def->flags & GS_OP_ELEMENTWISE) ? K_ELEMENTWISE : K_NONE;
}

/* p then q is the identity, both permutations of 0..r-1. */
static bool inverse(const int64_t *p, const int64_t *q, int r)
{
    for (int k = 0; k < r; k++)
        if (p[k] < 0 || p[k] >= r || q[p[k]] != k)
            return false;
    return true;
}

static int perm_of(const gs_node *n, int64_t *perm)
{
    const gs_attr *a = gs_ir_attr(n, "perm");
    if (!a || a->type != GS_A_INTS || a->n < 1 || a->n > GS_MAX_RANK)
        return -1;
    bool seen[GS_MAX_RANK] = { false };
    for (size_t k = 0; k < a->n; k++) {
        if (a->ints[k] < 0 || a->ints[k] >= (int64_t)a->n || seen[a->ints[k]])
            return -1;
        seen[a->ints[k]] = true;
        perm[k] = a->ints[k];
    }
    return (int)a->n;
}

/* Input c of an elementwise op in a region of rank r that needs no change: a
 * value of one element. */
static bool scalar_input(const gs_graph *g, gs_id c)
{
    const gs_value *cv = &g->values[c];
    if (cv->rank < 0)
        return false;
    for (int k = 0; k < cv->rank; k++)
        if (cv->dims[k].sym || cv->dims[k].v != 1)
            return false;
    return true;
}

/* Input c is a constant a region of rank r can hold permuted. */
static bool constant_input(const gs_graph *g, gs_id c, int r)
{
    const gs_tensor *t = g->values[c].init;
    return t && (t->data || !gs_tensor_numel(t)) && t->rank <= r && gs_dtype_size(t->dtype) &&
           !(g->values[c].flags & GS_V_INPUT);
}

/* Constant t, its dims extended to rank r with leading 1s, permuted by inv
 * (out dim k = extended dim inv[k]): a new tensor in g's permanent arena. */
static gs_tensor *permuted(gs_graph *g, const gs_tensor *t, const int64_t *inv, int r)
{
    int64_t ext[GS_MAX_RANK];
    for (int k = 0; k < r; k++)
        ext[k] = k < r - t->rank ? 1 : t->dims[k - (r - t->rank)];
    gs_tensor *o = gs_arena_alloc(g->perm, sizeof *o);
    size_t es = gs_dtype_size(t->dtype);
    int64_t n = gs_tensor_numel(t);
    char *data = o ? gs_arena_alloc(g->perm, (size_t)(n ? n : 1) * es) : NULL;
    if (!data)
        return NULL;
    *o = (gs_tensor){ .dtype = t->dtype, .rank = r, .data = data, .nbytes = (size_t)n * es };
    for (int k = 0; k < r; k++)
        o->dims[k] = ext[inv[k]];
    gs_permute_elems(t->data, ext, r, inv, es, data);
    return o;
}

/* Node marks: in the region (NODE_OP, NODE_ENTRY, NODE_EXIT); an entry of a
 * region already tried, which is not tried again as one (NODE_TRIED); a node
 * the pass added (NODE_NEW), a foreign reader to every region. */
enum { NODE_OP = 1, NODE_ENTRY, NODE_EXIT, NODE_TRIED, NODE_NEW };
enum { MAX_REGION = 4096 };

/* One region under construction (see the top of the file). */
typedef struct region {
    gs_graph *g;
    int64_t p[GS_MAX_RANK], inv[GS_MAX_RANK];
    int r;
    uint8_t *nmark;     /* per node: NODE_* */
    gs_id *zero;        /* per value: GS_NONE outside the region; its value in the entries'
                           input layout inside (an entry's input, or the op output itself) */
    gs_id *vals, *nodes;   /* region values (worklist), and its ops, entries and exits */
    int nvals, nnodes, next;
    int32_t nn, nv;     /* nodes and values when the pass began: the ones it adds are
                           outside every region */
} region;

static gs_id zero_of(const region *R, gs_id v)
{
    return v < R->nv ? R->zero[v] : GS_NONE;
}

static uint8_t mark_of(const region *R, gs_id id)
{
    return id < R->nn ? R->nmark[id] : NODE_NEW;
}

/* Reshape node n computes what Transpose{perm} of rank r does: its input's
 * dims are all known and only axes of length 1 move (the form graphsub's
 * transpose-unit-reshape rule gives such a Transpose). */
static bool unit_reshape(const gs_graph *g, const gs_node *n, const int64_t *perm, int r)
{
    if (strcmp(n->op, "Reshape") || *n->domain || n->nin < 1 || n->in[0] == GS_NONE || n->nout < 1 ||
        n->out[0] == GS_NONE)
        return false;
    const gs_value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
    if (x->rank != r || y->rank != r)
        return false;
    int64_t last = -1;
    for (int k = 0; k < r; k++) {
        const gs_dim *d = &x->dims[perm[k]];
        if (d->sym || d->v < 0 || y->dims[k].sym || y->dims[k].v != d->v)
            return false;
        if (d->v != 1 && perm[k] < last)
            return false;   /* two longer axes swap: data moves */
        if (d->v != 1)
            last = perm[k];
    }
    return true;
}

/* Node n moves its input into the region's layout: a Transpose with perm p,
 * or a Reshape doing the same. */
static bool entry_like(const region *R, const gs_node *n)
{
    int64_t q[GS_MAX_RANK];
    if (n->nin < 1 || n->in[0] == GS_NONE || n->nout < 1 || n->out[0] == GS_NONE)
        return false;
    if (!strcmp(n->op, "Transpose") && !*n->domain && perm_of(n, q) == R->r) {
        for (int k = 0; k < R->r; k++)
            if (q[k] != R->p[k])
                return false;
        return true;
    }
    return unit_reshape(R->g, n, R->p, R->r);
}

/* Node n moves region value v back: a Transpose undoing p, or a Reshape doing
 * the same. */
static bool exit_like(const region *R, const gs_node *n, gs_id v)
{
    int64_t q[GS_MAX_RANK];
    if (n->nin < 1 || n->in[0] != v || n->nout < 1 || n->out[0] == GS_NONE)
        return false;   /* (v read as a Reshape's shape is no exit) */
    if (!strcmp(n->op, "Transpose") && !*n->domain && perm_of(n, q) == R->r)
        return inverse(R->p, q, R->r);
    return unit_reshape(R->g, n, R->inv, R->r);
}

static bool add_value(region *R, gs_id v, gs_id zero)
{
    if (v >= R->nv)
        return false;
    if (R->zero[v] != GS_NONE)
        return true;
    if (R->nvals == MAX_REGION || (R->g->values[v].flags & (GS_V_OUTPUT | GS_V_OUTER)) ||
        gs_ir_captured(R->g, v) || R->g->values[v].rank != R->r)
        return false;
    R->zero[v] = zero;
    R->vals[R->nvals++] = v;
    return true;
}

static bool add_node(region *R, gs_id id, uint8_t mark)
{
    if (R->nnodes == MAX_REGION || id >= R->nn)
        return false;
    R->nmark[id] = mark;
    R->nodes[R->nnodes++] = id;
    return true;
}

enum { PULL_DEPTH = 8 };   /* elementwise ops pulled in through an op's inputs, one below another */

/* Input k of node n is a list of positions the layout leaves as they are: a
 * Slice's starts, ends and steps (its axes too, renumbered when constant), a
 * Gather's indices. Of rank 1 in a region of rank 2 or more (see fits), it
 * is never a region value. */
static bool index_input(const gs_node *n, int k)
{
    return (k >= 1 && !strcmp(n->op, "Slice")) || (k == 1 && !strcmp(n->op, "Gather"));
}

/* Input k of op n joining the region needs nothing from the region. */
static bool admissible(const region *R, const gs_node *n, int k)
{
    gs_id c = n->in[k];
    return c == GS_NONE || zero_of(R, c) != GS_NONE || scalar_input(R->g, c) || constant_input(R->g, c, R->r) ||
           index_input(n, k);
}

/* Input k of node n is a constant 1-D int64 list (a Pad's pads, a Split's
 * sizes, a reduction's axes): its tensor, or NULL. */
static const gs_tensor *int64_list(const gs_graph *g, const gs_node *n, int k)
{
    const gs_tensor *t = n->nin > k && n->in[k] != GS_NONE ? g->values[n->in[k]].init : NULL;
    return t && t->data && t->dtype == GS_INT64 && t->rank == 1 ? t : NULL;
}

/* Value c is a constant 1-D list of int32 or int64 axes of a value of rank
 * r, each in [-r, r) (a Slice's axes). */
static bool axes_list(const gs_graph *g, gs_id c, int r)
{
    const gs_tensor *t = g->values[c].init;
    if (!t || !t->data || t->rank != 1 || (t->dtype != GS_INT64 && t->dtype != GS_INT32))
        return false;
    if (t->dims[0] > r)
        return false;
    for (int64_t i = 0; i < t->dims[0]; i++)
        if (gs_tensor_get_i(t, i) < -r || gs_tensor_get_i(t, i) >= r)
            return false;
    return true;
}

/* Whether input k of node n is absent or a constant 1-D int64 list. */
static bool no_input_or_list(const gs_graph *g, const gs_node *n, int k)
{
    return n->nin <= k || n->in[k] == GS_NONE || int64_list(g, n, k);
}

/* Node n is of a kind a region holds, writes a value of its rank, and has
 * the inputs and attributes its kind needs (apart from the region's values). */
static bool fits(const region *R, const gs_node *n)
{
    const gs_graph *g = R->g;
    op_kind k = kind_of(n);
    if (k == K_NONE)
        return false;
    for (int i = 0; i < n->nout; i++) {
        gs_id out = n->out[i];
        if (out >= R->nv || g->values[out].rank != R->r || (g->values[out].flags & (GS_V_OUTPUT | GS_V_OUTER)) ||
            gs_ir_captured(g, out))
            return false;   /* (an op writing a graph output stays a foreign reader) */
    }
    if (k == K_RESIZE) {   /* scales, sizes and roi constants of one or two per axis, or empty */
        if (n->nin < 2 || n->nin > 4 || gs_ir_attr(n, "axes") || n->in[0] == GS_NONE || g->values[n->in[0]].init)
            return false;
        for (int i = 1; i < n->nin; i++) {
            const gs_tensor *t = n->in[i] == GS_NONE ? NULL : g->values[n->in[i]].init;
            int64_t e = t ? gs_tensor_numel(t) : 0;
            if (n->in[i] != GS_NONE && (!t || (!t->data && e) || t->rank != 1 || (e != 0 && e != R->r && e != 2 * R->r)))
                return false;
        }
        return true;
    }
    if (k == K_SLICE) {   /* inputs from opset 10; axes a constant list, or none and as many starts as axes */
        if (g->opset < 10 || R->r < 2 || n->nin < 3 || n->nin > 5 || n->in[0] == GS_NONE ||
            g->values[n->in[0]].init || n->in[1] == GS_NONE || n->in[2] == GS_NONE)
            return false;
        if (n->nin > 3 && n->in[3] != GS_NONE)
            return axes_list(g, n->in[3], R->r);
        const gs_value *s = &g->values[n->in[1]];
        return s->rank == 1 && !s->dims[0].sym && s->dims[0].v >= 1 && s->dims[0].v <= R->r &&
               (s->dtype == GS_INT64 || s->dtype == GS_INT32);
    }
    if (k == K_GATHER) {   /* indices of rank 1: the output keeps the rank */
        int64_t axis = gs_attr_int(n, "axis", 0);
        const gs_value *ix = n->nin == 2 && n->in[1] != GS_NONE ? &g->values[n->in[1]] : NULL;
        return R->r >= 2 && ix && ix->rank == 1 && n->in[0] != GS_NONE && !g->values[n->in[0]].init &&
               axis >= -R->r && axis < R->r;
    }
    if (k == K_SPLIT) {   /* the sizes as an attribute, a constant input or none */
        int64_t axis = gs_attr_int(n, "axis", 0);
        return n->nin <= 2 && n->in[0] != GS_NONE && axis >= -R->r && axis < R->r && no_input_or_list(g, n, 1);
    }
    if (k == K_CONCAT) {
        const gs_attr *a = gs_ir_attr(n, "axis");
        if (!a || a->type != GS_A_INT || a->i < -R->r || a->i >= R->r)
            return false;
        for (int i = 0; i < n->nin; i++)   /* a constant must be of the full rank */
            if (n->in[i] == GS_NONE || (g->values[n->in[i]].init && g->values[n->in[i]].rank != R->r))
                return false;
    }
    if (k == K_AXIS) {
        int64_t axis = gs_attr_int(n, "axis", axis_default(n));
        return n->nin == 1 && n->in[0] != GS_NONE && axis >= -R->r && axis < R->r;
    }
    if (k == K_REDUCE) {   /* keepdims, and axes as an attribute or a constant input, or none */
        return gs_attr_int(n, "keepdims", 1) == 1 && n->nin <= 2 && n->in[0] != GS_NONE &&
               !g->values[n->in[0]].init && (n->nin < 2 || n->in[1] == GS_NONE || axes_list(g, n->in[1], R->r));
    }
    if (k == K_QDQ) {   /* x, then a scale and zero point per tensor or per axis, not blocked */
        if (n->nin < 2 || n->nin > 3 || gs_attr_int(n, "block_size", 0) || n->in[0] == GS_NONE ||
            g->values[n->in[0]].init)
            return false;
        for (int i = 1; i < n->nin; i++) {
            const gs_value *q = n->in[i] == GS_NONE ? NULL : &g->values[n->in[i]];
            if (q && !scalar_input(g, n->in[i]) && (q->rank != 1 || !q->init))
                return false;
        }
        int64_t axis = gs_attr_int(n, "axis", 1);
        return axis >= -R->r && axis < R->r;
    }
    /* a Pad of a value (not a constant, which would need permuting too) with pads as an input
       (opset 11 on) and no axes input (opset 18) */
    const gs_tensor *pads = int64_list(g, n, 1);
    return k != K_PAD || (n->nin <= 3 && n->in[0] != GS_NONE && !g->values[n->in[0]].init && pads &&
                          pads->dims[0] == 2 * R->r && (n->nin < 3 || n->in[2] == GS_NONE || scalar_input(g, n->in[2])));
}

/* Value c, an input of an op joining the region, can join it too: an entry
 * (a Transpose with perm p), or the output of an elementwise op whose own
 * inputs can (a bias Add on a Conv's output, read by a residual Add). */
static bool can_pull(const region *R, gs_id c, int depth)
{
    const gs_graph *g = R->g;
    gs_id pr = g->values[c].producer;
    if (pr == GS_NONE || c >= R->nv || (g->values[c].flags & (GS_V_OUTPUT | GS_V_OUTER)) ||
        g->values[c].rank != R->r || gs_ir_captured(g, c))
        return false;
    const gs_node *n = &g->nodes[pr];
    if (entry_like(R, n))
        return mark_of(R, pr) < NODE_TRIED;
    if (depth == 0 || mark_of(R, pr) != 0 || !fits(R, n))
        return false;
    for (int k = 0; k < n->nin; k++)
        if (!admissible(R, n, k) && !can_pull(R, n->in[k], depth - 1))
            return false;
    return true;
}

/* Node n (not yet in the region) can join it: see the top of the file. */
static bool joins(const region *R, const gs_node *n)
{
    if (!fits(R, n))
        return false;
    for (int k = 0; k < n->nin; k++)
        if (!admissible(R, n, k) && !can_pull(R, n->in[k], PULL_DEPTH))
            return false;
    return true;
}

static bool add_op(region *R, gs_id id, int depth);

/* Value c, which can_pull allowed, into the region with its producer. */
static bool pull(region *R, gs_id c, int depth)
{
    gs_id pr = R->g->values[c].producer;
    if (entry_like(R, &R->g->nodes[pr]))
        return add_node(R, pr, NODE_ENTRY) && add_value(R, c, R->g->nodes[pr].in[0]);
    return add_op(R, pr, depth - 1);
}

/* Op id, which joins allowed, into the region with its output and the
 * inputs it pulls in. */
static bool add_op(region *R, gs_id id, int depth)
{
    if (!add_node(R, id, NODE_OP))
        return false;
    const gs_node *n = &R->g->nodes[id];
    for (int k = 0; k < n->nin; k++)
        if (!admissible(R, n, k) && !pull(R, n->in[k], depth))
            return false;
    for (int k = 0; k < n->nout; k++)
        if (!add_value(R, n->out[k], n->out[k]))
            return false;
    return true;
}

/* Grow the region from its values; false when it cannot be moved (a region
 * value read as a graph output or by a body, or the size bound). */
static bool grow_region(region *R)
{
    gs_graph *g = R->g;
    for (; R->next < R->nvals; R->next++) {
        gs_id v = R->vals[R->next];
        for (int u = 0; u < g->values[v].nuses; u++) {
            gs_id id = g->values[v].uses[u];
            const gs_node *n = &g->nodes[id];
            uint8_t m = mark_of(R, id);
            if (m == NODE_OP || m == NODE_EXIT || m == NODE_ENTRY || m == NODE_NEW)
                continue;   /* in the region, or a node of the pass's own (a foreign reader) */
            if (exit_like(R, n, v)) {
                if (!add_node(R, id, NODE_EXIT))
                    return false;
                continue;
            }
            if (!joins(R, n))
                continue;   /* a foreign reader */
            if (!add_op(R, id, PULL_DEPTH))
                return false;
        }
    }
    return true;
}

/* Readers of region value v other than the region's ops and exits. */
static int foreign_readers(const region *R, gs_id v)
{
    int count = 0;
    for (int u = 0; u < R->g->values[v].nuses; u++) {
        uint8_t m = mark_of(R, R->g->values[v].uses[u]);
        count += m != NODE_OP && m != NODE_EXIT;
    }
    return count;
}

/* Elements of value v, a dim not known as a number counted as 64. */
static double elems(const gs_value *v)
{
    double e = 1;
    for (int k = 0; k < v->rank; k++)
        e *= v->dims[k].sym || v->dims[k].v < 0 ? 64 : (double)v->dims[k].v;
    return e;
}

/* Elements Transpose node id moves: none for a Reshape. */
static double moved(const gs_graph *g, gs_id id)
{
    const gs_node *n = &g->nodes[id];
    return strcmp(n->op, "Transpose") ? 0 : elems(&g->values[n->in[0]]);
}

/* Whether moving the region pays: it removes more Transposes than it adds,
 * and more elements moved (a Transpose added for a foreign reader moves a
 * region value's elements; a Reshape removed moves none). False too when it
 * cannot be made (an exit writes a graph output that cannot take its name). */
static bool pays(const region *R)
{
    const gs_graph *g = R->g;
    int removed = 0, added = 0;
    double removed_elems = 0, added_elems = 0;
    for (int i = 0; i < R->nnodes; i++)
        if (R->nmark[R->nodes[i]] == NODE_ENTRY && !foreign_readers(R, g->nodes[R->nodes[i]].out[0]))
            removed++, removed_elems += moved(g, R->nodes[i]);   /* the entry goes */
    for (int i = 0; i < R->nvals; i++) {
        gs_id v = R->vals[i];
        if (R->zero[v] == v && foreign_readers(R, v))
            added++, added_elems += elems(&g->values[v]);
    }
    int outputs = 0;
    for (int i = 0; i < R->nnodes; i++) {
        const gs_node *n = &g->nodes[R->nodes[i]];
        if (R->nmark[R->nodes[i]] != NODE_EXIT)
            continue;
        gs_id y = n->out[0], z = R->zero[n->in[0]];
        const gs_value *zv = &g->values[z];
        if ((g->values[y].flags & GS_V_OUTPUT) &&   /* z takes y's name: one z, one it can take */
            (++outputs > 1 || zv->producer == GS_NONE || zv->init ||
             (zv->flags & (GS_V_INPUT | GS_V_OUTPUT | GS_V_OUTER | GS_V_SPARSE))))
            return false;
        if (!gs_ir_replaceable(g, y, z))
            return false;
        removed++, removed_elems += moved(g, R->nodes[i]);
    }
    return removed > added && removed_elems >= added_elems;
}

/* Region value v (an op's output, now in the entries' layout) read by
 * foreign readers: they read Transpose(v){perm=p} instead. */
static gs_status keep_layout(region *R, gs_id v)
{
    gs_graph *g = R->g;
    const char *name = gs_ir_unique_name(g, g->values[v].name);
    gs_id w = name ? gs_ir_add_value(g, name, false) : GS_NONE;
    if (w == GS_NONE)
        return g->ctx->last ? g->ctx->last : gs_nomem(g->ctx);
    gs_value *wv = &g->values[w];
    const gs_value *vv = &g->values[v];
    wv->dtype = vv->dtype;
    wv->rank = vv->rank;
    wv->dims = gs_arena_alloc(&g->arena, (size_t)R->r * sizeof *wv->dims);
    gs_attr *attrs = gs_arena_alloc(&g->arena, sizeof *attrs);
    int64_t *perm = gs_arena_memdup(&g->arena, R->p, (size_t)R->r * sizeof *perm);
    if (!wv->dims || !attrs || !perm)
        return gs_nomem(g->ctx);
    *attrs = (gs_attr){ .name = "perm", .type = GS_A_INTS, .n = (size_t)R->r, .ints = perm };
    for (int k = 0; k < R->r; k++)
        wv->dims[k] = vv->dims[R->p[k]];
    wv->flags |= GS_V_TYPED;
    /* the foreign readers, collected before the new node reads v */
    int n = 0;
    gs_id *readers = gs_alloc(g->ctx, (size_t)(vv->nuses ? vv->nuses : 1) * sizeof *readers);
    if (!readers)
        return gs_nomem(g->ctx);
    for (int u = 0; u < vv->nuses; u++)
        if (mark_of(R, vv->uses[u]) != NODE_OP && mark_of(R, vv->uses[u]) != NODE_EXIT)
            readers[n++] = vv->uses[u];
    gs_id t = gs_ir_add_node(g, "Transpose", "", gs_ir_unique_node_name(g, name), &v, 1, &w, 1);
    gs_status st = t == GS_NONE ? (g->ctx->last ? g->ctx->last : GS_ERR_NOMEM) : GS_OK;
    if (st == GS_OK) {
        g->nodes[t].attrs = attrs;
        g->nodes[t].nattrs = 1;
    }
    for (int i = 0; i < n && st == GS_OK; i++) {
        gs_node *rd = &g->nodes[readers[i]];
        for (int k = 0; k < rd->nin && st == GS_OK; k++)
            if (rd->in[k] == v)
                st = gs_ir_set_input(g, readers[i], k, w);
    }
    gs_dealloc(g->ctx, readers);
    return st;
}

/* A constant of one element per axis (a Resize's scales or sizes) or of two
 * (a Pad's pads, a Resize's roi: every axis's first, then every axis's
 * second) in the entries' input layout: axis k's elements go to axis p[k]. */
static gs_tensor *renumbered_per_axis(const region *R, const gs_tensor *in)
{
    int64_t n = gs_tensor_numel(in);
    size_t es = gs_dtype_size(in->dtype);
    gs_tensor *t = gs_arena_alloc(R->g->perm, sizeof *t);
    char *data = gs_arena_alloc(R->g->perm, (size_t)(n ? n : 1) * es);
    if (!t || !data)
        return NULL;
    *t = (gs_tensor){ .dtype = in->dtype, .rank = 1, .dims = { n }, .data = data, .nbytes = (size_t)n * es };
    for (int64_t half = 0; half < n; half += R->r)   /* one pass per element of each axis */
        for (int k = 0; k < R->r; k++)
            memcpy(data + (size_t)(half + R->p[k]) * es, (const char *)in->data + (size_t)(half + k) * es, es);
    return t;
}

/* Reduction axes a[0..n) of rank r in the entries' input layout, into out. */
static void renumber_list(const region *R, const int64_t *a, size_t n, int64_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] < -R->r || a[i] >= R->r ? a[i] : R->p[a[i] < 0 ? a[i] + R->r : a[i]];
}

/* A 1-D tensor of dtype dtype (int32 or int64) holding a[0..n). */
static gs_tensor *index_tensor(const region *R, int32_t dtype, const int64_t *a, size_t n)
{
    size_t es = gs_dtype_size(dtype);
    gs_tensor *t = gs_arena_alloc(R->g->perm, sizeof *t);
    char *data = gs_arena_alloc(R->g->perm, (n ? n : 1) * es);
    if (!t || !data)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int32_t a32 = (int32_t)a[i];
        memcpy(data + i * es, dtype == GS_INT32 ? (const void *)&a32 : (const void *)&a[i], es);
    }
    *t = (gs_tensor){ .dtype = dtype, .rank = 1, .dims = { (int64_t)n }, .data = data, .nbytes = n * es };
    return t;
}

/* A constant axes input (a reduction's, a Slice's; int32 or int64) in the
 * entries' input layout. */
static gs_tensor *renumbered_axes(const region *R, const gs_tensor *axes)
{
    int64_t a[GS_MAX_RANK], out[GS_MAX_RANK];
    size_t n = (size_t)axes->dims[0];
    if (n > GS_MAX_RANK)
        return NULL;
    for (size_t i = 0; i < n; i++)
        a[i] = gs_tensor_get_i(axes, (int64_t)i);
    renumber_list(R, a, n, out);
    return index_tensor(R, axes->dtype, out, n);
}

/* Slice id, with no axes input, reads the default axes 0..m-1 (m starts) in
 * the entries' input layout: p[0..m-1], an input of the starts' type. */
static gs_status add_slice_axes(region *R, gs_id id)
{
    gs_graph *g = R->g;
    const gs_value *s = &g->values[g->nodes[id].in[1]];
    int64_t axes[GS_MAX_RANK];
    size_t m = (size_t)s->dims[0].v;
    for (size_t i = 0; i < m; i++)
        axes[i] = R->p[i];
    gs_tensor *t = index_tensor(R, s->dtype, axes, m);
    char base[256];
    snprintf(base, sizeof base, "%s/axes", *g->nodes[id].name ? g->nodes[id].name : "Slice");
    gs_id v = t ? gs_ir_add_init(g, base, t) : GS_NONE;
    if (v == GS_NONE)
        return g->ctx->last ? g->ctx->last : gs_nomem(g->ctx);
    return gs_ir_set_input(g, id, 3, v);   /* (past a Slice's three inputs: the list grows) */
}

/* A reduction's axes attribute in the entries' input layout. */
static gs_status renumber_axes_attr(const region *R, gs_id id)
{
    gs_graph *g = R->g;
    gs_node *n = &g->nodes[id];
    gs_attr *attrs = gs_arena_memdup(&g->arena, n->attrs, (size_t)n->nattrs * sizeof *attrs);
    if (!attrs)
        return gs_nomem(g->ctx);
    for (int i = 0; i < n->nattrs; i++) {
        if (strcmp(attrs[i].name, "axes") || attrs[i].type != GS_A_INTS)
            continue;
        int64_t *axes = gs_arena_alloc(&g->arena, (attrs[i].n ? attrs[i].n : 1) * sizeof *axes);
        if (!axes)
            return gs_nomem(g->ctx);
        renumber_list(R, attrs[i].ints, attrs[i].n, axes);
        attrs[i].ints = axes;
        attrs[i].src = NULL;   /* written from the IR, not copied from the input file */
    }
    n->attrs = attrs;
    n->hash_self = 0;
    return GS_OK;
}

/* An axis attribute in the entries' input layout: axis k is axis p[k] there
 * (written out where the node left it at its default, dflt). */
static gs_status renumber_axis(const region *R, gs_id id, int64_t dflt)
{
    gs_graph *g = R->g;
    gs_node *n = &g->nodes[id];
    gs_attr *attrs = gs_arena_alloc(&g->arena, ((size_t)n->nattrs + 1) * sizeof *attrs);
    if (!attrs)
        return gs_nomem(g->ctx);
    memcpy(attrs, n->attrs, (size_t)n->nattrs * sizeof *attrs);
    int i = 0;
    while (i < n->nattrs && strcmp(attrs[i].name, "axis"))
        i++;
    if (i == n->nattrs)
        attrs[n->nattrs++] = (gs_attr){ .name = "axis", .type = GS_A_INT, .i = dflt };
    attrs[i].i = R->p[attrs[i].i < 0 ? attrs[i].i + R->r : attrs[i].i];
    attrs[i].src = NULL;   /* written from the IR, not copied from the input file */
    n->attrs = attrs;
    n->hash_self = 0;
    return GS_OK;
}

/* Input k of a region op of kind kind, constant c (not a region value): its
 * tensor in the entries' input layout, or NULL (*st GS_OK) when it stays as
 * it is. */
static gs_tensor *constant_in_layout(const region *R, op_kind kind, int k, gs_id c, gs_status *st)
{
    const gs_tensor *t = R->g->values[c].init;
    *st = GS_OK;
    gs_tensor *o = NULL;
    switch (kind) {
    case K_QDQ:     /* scales and zero points per tensor or along the renumbered axis */
    case K_SPLIT:   /* sizes along the renumbered axis */
        return NULL;
    case K_GATHER:   /* its indices */
        return NULL;
    case K_REDUCE:   /* input 1: its axes */
    case K_SLICE:    /* input 3: its axes (starts, ends and steps stay) */
        if (k != (kind == K_REDUCE ? 1 : 3))
            return NULL;
        o = renumbered_axes(R, t);
        break;
    case K_PAD:
    case K_RESIZE:   /* one or two per axis; an empty roi or scales stays */
        if (scalar_input(R->g, c) || !gs_tensor_numel(t))
            return NULL;
        o = renumbered_per_axis(R, t);
        break;
    default:   /* broadcast against the region's values */
        if (scalar_input(R->g, c))
            return NULL;
        o = permuted(R->g, t, R->inv, R->r);
        break;
    }
    if (!o)
        *st = gs_nomem(R->g->ctx);
    return o;
}

/* Region op id reads its inputs in the entries' input layout: region values
 * as they are there, constants rewritten, axes renumbered. */
static gs_status relayout_op(region *R, gs_id id)
{
    gs_graph *g = R->g;
    op_kind kind = kind_of(&g->nodes[id]);
    gs_status st = GS_OK;
    for (int k = 0; k < g->nodes[id].nin && st == GS_OK; k++) {
        gs_id c = g->nodes[id].in[k];
        if (c == GS_NONE)
            continue;
        if (zero_of(R, c) != GS_NONE) {
            if (R->zero[c] != c)
                st = gs_ir_set_input(g, id, k, R->zero[c]);
            continue;
        }
        gs_tensor *t = constant_in_layout(R, kind, k, c, &st);
        gs_id nc = t ? gs_ir_add_init(g, g->values[c].name, t) : GS_NONE;
        if (t)
            st = nc == GS_NONE ? (g->ctx->last ? g->ctx->last : gs_nomem(g->ctx)) : gs_ir_set_input(g, id, k, nc);
    }
    const gs_node *n = &g->nodes[id];
    if (st != GS_OK)
        return st;
    switch (kind) {
    case K_CONCAT:
        return renumber_axis(R, id, 1);
    case K_QDQ:   /* per axis only: a per-tensor one has no axis to keep */
        return scalar_input(g, n->in[1]) ? GS_OK : renumber_axis(R, id, 1);
    case K_AXIS:
        return renumber_axis(R, id, axis_default(n));
    case K_SPLIT:
    case K_GATHER:
        return renumber_axis(R, id, 0);
    case K_SLICE:   /* constant axes were renumbered above */
        return n->nin > 3 && n->in[3] != GS_NONE ? GS_OK : add_slice_axes(R, id);
    case K_REDUCE:
        return gs_ir_attr(n, "axes") ? renumber_axes_attr(R, id) : GS_OK;
    default:
        return GS_OK;
    }
}

/* Move the region to its entries' input layout (see the top of the file). */
static gs_status apply(region *R)
{
    gs_graph *g = R->g;
    gs_status st = GS_OK;
    /* the ops read the entries' inputs and constants in their layout */
    for (int i = 0; i < R->nnodes && st == GS_OK; i++) {
        gs_id id = R->nodes[i];
        if (R->nmark[id] == NODE_OP)
            st = relayout_op(R, id);
    }
    /* the ops' outputs take that layout; foreign readers get theirs back */
    int nvals = R->nvals;
    for (int i = 0; i < nvals && st == GS_OK; i++) {
        gs_id v = R->vals[i];
        if (R->zero[v] != v)
            continue;
        gs_value *val = &g->values[v];
        gs_dim *dims = gs_arena_alloc(&g->arena, (size_t)R->r * sizeof *dims);
        if (!dims)
            return gs_nomem(g->ctx);
        for (int k = 0; k < R->r; k++)
            dims[R->p[k]] = val->dims[k];
        val->dims = dims;
        val->elems = NULL;
        val->nelems = 0;
        val->flags |= GS_V_TYPED;
        if (foreign_readers(R, v))
            st = keep_layout(R, v);
    }
    /* the exits' readers read the region's values in that layout */
    for (int i = 0; i < R->nnodes && st == GS_OK; i++) {
        gs_id id = R->nodes[i];
        if (R->nmark[id] != NODE_EXIT)
            continue;
        gs_id y = g->nodes[id].out[0], z = R->zero[g->nodes[id].in[0]];
        if (g->values[y].flags & GS_V_OUTPUT)
            gs_ir_swap_names(g, y, z);   /* z takes the graph output's name */
        st = gs_ir_replace_uses(g, y, z);
        if (st == GS_OK)
            gs_ir_remove_node(g, id);
    }
    /* entries nothing reads any more */
    for (int i = 0; i < R->nnodes && st == GS_OK; i++) {
        gs_id id = R->nodes[i];
        gs_id e = g->nodes[id].out[0];
        if (R->nmark[id] == NODE_ENTRY && !g->values[e].nuses && !(g->values[e].flags & GS_V_OUTPUT))
            gs_ir_remove_node(g, id);
    }
    return st;
}

static void clear(region *R)
{
    for (int i = 0; i < R->nvals; i++)
        R->zero[R->vals[i]] = GS_NONE;
    for (int i = 0; i < R->nnodes; i++)
        R->nmark[R->nodes[i]] = R->nmark[R->nodes[i]] == NODE_ENTRY ? NODE_TRIED : 0;
    R->nvals = R->nnodes = R->next = 0;
}

/* The permutation seed node n moves its input by (into p), and its rank, or
 * -1: a Transpose's perm, or for a Reshape that moves only axes of length 1
 * the one that keeps the longer axes in order and the unit axes in order. */
static int seed_perm(const gs_graph *g, const gs_node *n, int64_t *p)
{
    if (!strcmp(n->op, "Transpose"))
        return perm_of(n, p);
    if (strcmp(n->op, "Reshape"))
        return -1;
    const gs_value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
    int r = x->rank;
    if (r < 1 || r != y->rank)
        return -1;
    int unit = 0, longer = 0;   /* the next unit and longer axes of x to place */
    for (int k = 0; k < r; k++) {
        bool one = !y->dims[k].sym && y->dims[k].v == 1;
        int *next = one ? &unit : &longer;
        while (*next < r && (x->dims[*next].sym || (x->dims[*next].v == 1) != one))
            ++*next;
        if (*next == r)
            return -1;
        p[k] = (*next)++;
    }
    bool identity = true;
    for (int k = 0; k < r; k++)
        identity &= p[k] == k;
    return !identity && unit_reshape(g, n, p, r) ? r : -1;
}

gs_status gs_cancel_transpose_pairs(gs_graph *g, int *count)
{
    *count = 0;
    int32_t nn = g->nnodes, nv = g->nvalues;
    region R = { .g = g, .nn = nn, .nv = nv };
    R.nmark = gs_alloc(g->ctx, (size_t)nn + 1);
    R.zero = gs_alloc(g->ctx, ((size_t)nv + 1) * sizeof *R.zero);
    R.vals = gs_alloc(g->ctx, MAX_REGION * sizeof *R.vals);
    R.nodes = gs_alloc(g->ctx, MAX_REGION * sizeof *R.nodes);
    gs_status st = R.nmark && R.zero && R.vals && R.nodes ? GS_OK : gs_nomem(g->ctx);
    if (st == GS_OK) {
        memset(R.nmark, 0, (size_t)nn + 1);
        for (int32_t i = 0; i < nv; i++)
            R.zero[i] = GS_NONE;
    }
    for (gs_id i = 0; i < nn && st == GS_OK; i++) {
        const gs_node *n = &g->nodes[i];
        if ((n->flags & GS_N_DEAD) || R.nmark[i] || *n->domain || n->nin < 1 || n->in[0] == GS_NONE ||
            n->nout != 1 || n->out[0] == GS_NONE || (R.r = seed_perm(g, n, R.p)) < 1)
            continue;
        for (int k = 0; k < R.r; k++)
            R.inv[R.p[k]] = k;
        bool ok = add_node(&R, i, NODE_ENTRY) && add_value(&R, n->out[0], n->in[0]) && grow_region(&R);
        if (ok && pays(&R)) {
            st = apply(&R);
            ++*count;
        }
        clear(&R);
    }
    gs_dealloc(g->ctx, R.nmark);
    gs_dealloc(g->ctx, R.zero);
    gs_dealloc(g->ctx, R.vals);
    gs_dealloc(g->ctx, R.nodes);
    return st;
}
