/*
 * infer.c - shape inference over a graph: each registry row's infer
 * function, in topological order, with shared helpers for the common cases
 * (same shape, broadcast). Symbolic dims (batch, seq) flow through; what
 * cannot be inferred stays unknown rather than failing.
 *
 * Under dynamic shapes three things let shape arithmetic fold:
 * - a dim that cannot be sized gets a name (unk__N) that every value with
 *   the same dim shares, so Shape(x)[1] is known to be x's dim 1;
 * - small integer values (a Shape, a Gather of it, a Concat of such and
 *   numbers) record their elements as numbers and dim names (gs_value.elems),
 *   which Reshape, Expand, Slice, ConstantOfShape and Range read, and fold.c
 *   turns into constants or constant targets;
 * - a dim name may be a polynomial over names with integer coefficients,
 *   in one spelling (past + seq, 8*batch, batch*heads), so equal
 *   expressions compare equal: Add, Sub and Mul of shape values give such
 *   expressions, Div by a number only where exact for every value
 *   ((2*seq)/2 is seq; seq/2 stays unknown), and a Reshape's -1 is the
 *   input's size divided by the target's other dims when that is exact.
 */
#include "gs_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dims inference could not name: fresh symbols -------------------------- */

static void count_sym(const char *s, int32_t *next)
{
    size_t np = sizeof GS_SYM_PREFIX - 1;
    if (!s || strncmp(s, GS_SYM_PREFIX, np) || !s[np] || strlen(s + np) > 9 ||
        strspn(s + np, "0123456789") != strlen(s + np))
        return;
    int32_t k = (int32_t)strtol(s + np, NULL, 10);
    *next = k >= *next ? k + 1 : *next;
}

static void count_syms(const gs_graph *g, int32_t *next)
{
    for (gs_id v = 0; v < g->nvalues; v++) {
        const gs_value *val = &g->values[v];
        for (int i = 0; i < val->rank; i++)
            count_sym(val->dims[i].sym, next);
        for (int i = 0; val->elems && i < val->nelems; i++)
            count_sym(val->elems[i].sym, next);
    }
    for (int32_t i = 0; i < g->nsubs; i++)
        count_syms(g->subs[i], next);
}

static gs_graph *root_of(gs_graph *g)
{
    while (g->parent)
        g = g->parent;
    return g;
}

const char *gs_infer_fresh_sym(gs_graph *g)
{
    gs_graph *r = root_of(g);
    if (!r->nextsym) {   /* above every such name the model already has (a model optimized before) */
        int32_t next = 1;
        count_syms(r, &next);
        r->nextsym = next;
    }
    if (r->nextsym >= INT32_MAX - 1)
        return NULL;
    const char *s = gs_arena_printf(r->perm, GS_SYM_PREFIX "%d", r->nextsym);
    r->nextsym += s != NULL;
    return s;
}

static bool same_dim(gs_dim a, gs_dim b)
{
    return a.v == b.v && (a.sym == b.sym || (a.sym && b.sym && !strcmp(a.sym, b.sym)));
}

bool gs_dim_equal(gs_dim a, gs_dim b)
{
    return a.v >= 0 ? a.v == b.v : b.v < 0 && a.sym && b.sym && gs_elem_same(gs_elem_of_dim(a), gs_elem_of_dim(b));
}

/* Dim name sym with each factor or0(z) written z, into buf (n bytes);
 * false when it does not fit. */
static bool or0_read_as(const char *sym, const char *z, size_t zlen, char *buf, size_t n)
{
    size_t at = 0, np = sizeof GS_OR0, whole = np + zlen + 1;   /* "or0(" z ")" */
    for (const char *p = sym; *p;) {
        bool start = p == sym || strchr(" *(", p[-1]);
        if (start && !strncmp(p, GS_OR0 "(", np) && !strncmp(p + np, z, zlen) && p[np + zlen] == ')' &&
            (!p[whole] || strchr(" *)", p[whole]))) {
            if (at + zlen >= n)
                return false;
            memcpy(buf + at, z, zlen);
            at += zlen, p += whole;
            continue;
        }
        if (at + 1 >= n)
            return false;
        buf[at++] = *p++;
    }
    buf[at] = 0;
    return true;
}

/* Element e with or0(z) read as z, its name in buf (z NULL: e as it is). */
static gs_dim or0_elem(gs_dim e, const char *z, size_t zlen, char *buf, size_t n)
{
    if (!z || gs_elem_known(e) || !e.sym)
        return e;
    return or0_read_as(e.sym, z, zlen, buf, n) ? (gs_dim){ e.v, buf } : (gs_dim){ GS_ELEM_UNKNOWN, NULL };
}

bool gs_dim_equal_or0(gs_dim a, gs_dim b, const char *z, size_t zlen)
{
    char ba[512], bb[512];
    if (gs_dim_equal(a, b))
        return true;
    gs_dim ea = or0_elem(gs_elem_of_dim(a), z, zlen, ba, sizeof ba);
    gs_dim eb = or0_elem(gs_elem_of_dim(b), z, zlen, bb, sizeof bb);
    return gs_elem_same(ea, eb);
}

static bool same_dims(const gs_value *v, int rank, const gs_dim *dims)
{
    if (v->rank != rank)
        return false;
    for (int i = 0; i < rank; i++)
        if (!same_dim(v->dims[i], dims[i]))
            return false;
    return true;
}

/* Whether dim name sym is a dim of an input of graph g or of a graph
 * enclosing it. */
static bool input_sym(const gs_graph *g, const char *sym)
{
    for (; g; g = g->parent)
        for (int32_t k = 0; k < g->ninputs; k++) {
            const gs_value *in = &g->values[g->inputs[k]];
            for (int i = 0; i < in->rank; i++)
                if (in->dims[i].sym && !strcmp(in->dims[i].sym, sym))
                    return true;
        }
    return false;
}

/* A graph output keeps the dim name it declares over the one inference
 * finds, unless no input has that name: such a name (`total` on a present
 * key cache whose inputs say `past` and `seq`) is only the model's word for
 * whatever the output's dim is, so the dim inference finds (`past + seq`) is
 * that dim, and values read from the output compare equal to values
 * computed from the inputs. The exporter writes the declared name back. */
static bool keeps_output_sym(const gs_graph *g, const gs_value *v, const char *had)
{
    return (v->flags & GS_V_OUTPUT) && input_sym(g, had);
}

/* The dims inference gives v, merged with what v had: a size wins, then a
 * name inference found (except over a graph output's own name, see
 * keeps_output_sym), then the name v had (so names stay stable from one
 * pass to the next); a dim still unnamed gets a fresh name. */
static gs_status merge_dims(gs_graph *g, const gs_value *v, int rank, const gs_dim *dims, gs_dim *out)
{
    bool had = v->rank == rank;
    for (int i = 0; i < rank; i++) {
        out[i] = dims[i];
        if (dims[i].v >= 0)
            continue;
        out[i].v = -1;
        if (had && v->dims[i].v >= 0)
            out[i] = v->dims[i];
        else if (had && v->dims[i].sym && (!dims[i].sym || keeps_output_sym(g, v, v->dims[i].sym)))
            out[i] = v->dims[i];
        else if (!dims[i].sym && !(out[i].sym = gs_infer_fresh_sym(g)))
            return gs_nomem(g->ctx);
    }
    return GS_OK;
}

gs_status gs_infer_set(gs_graph *g, gs_id v, int32_t dtype, int rank, const gs_dim *dims)
{
    if (v == GS_NONE)
        return GS_OK;
    gs_value *val = &g->values[v];
    if (val->init)
        return GS_OK;   /* a constant knows its shape */
    if (rank > GS_MAX_RANK)
        return gs_err(g->ctx, GS_ERR_LIMIT, "value '%s': rank %d above the limit", val->name, rank);
    gs_dim merged[GS_MAX_RANK];
    if (rank > 0 && dims) {
        gs_status st = merge_dims(g, val, rank, dims, merged);
        if (st != GS_OK)
            return st;
        dims = merged;
    }
    bool dtype_changes = dtype && dtype != val->dtype;
    bool shape_changes = rank >= 0 && (dims || rank == 0) && !same_dims(val, rank, dims);
    if (!dtype_changes && !shape_changes)
        return GS_OK;
    if (dtype_changes)
        val->dtype = dtype;
    if (shape_changes) {
        gs_dim *d = gs_arena_alloc(&g->arena, (size_t)(rank ? rank : 1) * sizeof *d);
        if (!d)
            return gs_nomem(g->ctx);
        if (rank)
            memcpy(d, dims, (size_t)rank * sizeof *d);
        val->dims = d;
        val->rank = rank;
    }
    val->flags |= GS_V_TYPED;
    return GS_OK;
}

void gs_infer_forget(gs_graph *g, gs_id v)
{
    gs_value *val = v == GS_NONE ? NULL : &g->values[v];
    if (!val || val->init || val->rank < 0)
        return;
    val->rank = -1;
    val->dims = NULL;
    val->flags |= GS_V_TYPED;
}

gs_status gs_infer_same(gs_graph *g, gs_node *n)
{
    if (n->nin < 1 || n->nout < 1 || n->in[0] == GS_NONE)
        return GS_OK;
    const gs_value *x = &g->values[n->in[0]];
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, x->dims);
}

/* Dim name m is "min(a, o)" or "min(o, a)" (see ops_tensor.c's prefix_len
 * and window_len): the other operand o into *o, *lo; false otherwise. */
static bool min_of(const char *m, const char *a, const char **o, size_t *lo)
{
    size_t n = strlen(a), lm = strlen(m);
    if (strncmp(m, "min(", 4) || lm < n + 7 || m[lm - 1] != ')')
        return false;
    if (!strncmp(m + 4, a, n) && !strncmp(m + 4 + n, ", ", 2)) {
        *o = m + 6 + n, *lo = lm - 7 - n;
        return true;
    }
    if (!strncmp(m + lm - 1 - n, a, n) && !strncmp(m + lm - 3 - n, ", ", 2)) {
        *o = m + 4, *lo = lm - 7 - n;
        return true;
    }
    return false;
}

static bool all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return n > 0;
}

/* The number written in digits p[0..n) into *v; false when above int64. */
static bool read_num(const char *p, size_t n, int64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++)
        if (__builtin_mul_overflow(*v, 10, v) || __builtin_add_overflow(*v, p[i] - '0', v))
            return false;
    return true;
}

/* Digits p[0..n) are a number of at least 1. */
static bool number_from_1(const char *p, size_t n)
{
    int64_t v;
    return all_digits(p, n) && read_num(p, n, &v) && v >= 1;
}

const char *gs_or0_of(const gs_graph *g, gs_dim d, size_t *len)
{
    size_t n = d.v < 0 && d.sym && gs_infer_own_forms(g) ? strlen(d.sym) : 0, np = sizeof GS_OR0;
    if (n <= np + 1 || strncmp(d.sym, GS_OR0 "(", np) || d.sym[n - 1] != ')' ||
        strcspn(d.sym + np, "() ") != n - np - 1)
        return NULL;
    *len = n - np - 1;
    return d.sym + np;
}

/* Dim d is or0(name), name a NUL-terminated plain name. */
static bool or0_is(const gs_graph *g, gs_dim d, const char *name)
{
    size_t n;
    const char *z = gs_or0_of(g, d, &n);
    return z && strlen(name) == n && !strncmp(z, name, n);
}

/* Broadcasting dim a against dim b. A dim min(a, o) broadcast with a:
 * - o a number of at least 1: a. Where a <= o they are equal, and where
 *   a > o the broadcast is valid only if o is 1.
 * - o a name (the rows a window slice has left, which may be 0):
 *   or0(a), which is a, or 0 where a is 1 (a > o is valid only if o is 1,
 *   giving a, or a is 1 and o 0, giving 0).
 * A dim or0(a) broadcast with a is or0(a) (where it is 0, a is 1). */
bool gs_infer_bdim(gs_graph *g, gs_dim a, gs_dim b, gs_dim *out)
{
    for (int side = 0; side < 2 && gs_infer_own_forms(g); side++) {
        gs_dim x = side ? b : a, m = side ? a : b;
        const char *o;
        size_t lo;
        if (x.sym && m.sym && min_of(m.sym, x.sym, &o, &lo)) {
            if (number_from_1(o, lo)) {
                *out = x;
                return true;
            }
            const char *s = gs_arena_printf(gs_graph_root(g)->perm, GS_OR0 "(%s)", x.sym);
            *out = s ? (gs_dim){ -1, s } : (gs_dim){ -1, NULL };
            return true;
        }
        if (x.sym && or0_is(g, m, x.sym)) {
            *out = m;
            return true;
        }
    }
    if (a.v == 1) { *out = b; return true; }
    if (b.v == 1) { *out = a; return true; }
    if (a.v >= 0 && b.v >= 0) { *out = a; return a.v == b.v; }
    if (a.v >= 0) { *out = a; return true; }
    if (b.v >= 0) { *out = b; return true; }
    if (a.sym && b.sym && gs_dim_equal(a, b)) { *out = a; return true; }   /* 8*batch, batch*8 */
    *out = (gs_dim){ -1, NULL };
    return true;
}

static gs_status bcast(gs_graph *g, gs_node *n, int32_t dtype)
{
    gs_dim dims[GS_MAX_RANK];
    int rank = 0;
    bool known = true;
    for (int k = 0; k < n->nin; k++) {
        if (n->in[k] == GS_NONE)
            continue;
        const gs_value *x = &g->values[n->in[k]];
        if (x->rank < 0) {
            known = false;
            break;
        }
        int r = x->rank > rank ? x->rank : rank;
        gs_dim next[GS_MAX_RANK];
        for (int i = 0; i < r; i++) {
            gs_dim a = i < r - rank ? (gs_dim){ 1, NULL } : dims[i - (r - rank)];
            gs_dim b = i < r - x->rank ? (gs_dim){ 1, NULL } : x->dims[i - (r - x->rank)];
            if (!gs_infer_bdim(g, a, b, &next[i]))   /* legacy broadcasts (opset < 7): leave unknown */
                return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        }
        memcpy(dims, next, (size_t)r * sizeof *dims);
        rank = r;
    }
    return gs_infer_set(g, n->out[0], dtype, known ? rank : -1, known ? dims : NULL);
}

/* The dtype of the first of n's inputs from k on whose dtype is known, or 0
 * (for inputs that share one type). */
static int32_t dtype_from(const gs_graph *g, const gs_node *n, int k)
{
    for (; k < n->nin; k++)
        if (n->in[k] != GS_NONE && g->values[n->in[k]].dtype)
            return g->values[n->in[k]].dtype;
    return 0;
}

/* Input 0's dtype only: Pow's exponent may have another type. */
gs_status gs_infer_bcast(gs_graph *g, gs_node *n)
{
    if (n->nout < 1)
        return GS_OK;
    return bcast(g, n, n->nin > 0 && n->in[0] != GS_NONE ? g->values[n->in[0]].dtype : 0);
}

gs_status gs_infer_where(gs_graph *g, gs_node *n)
{
    return n->nout < 1 ? GS_OK : bcast(g, n, dtype_from(g, n, 1));
}

gs_status gs_infer_bcast_bool(gs_graph *g, gs_node *n)
{
    return n->nout < 1 ? GS_OK : bcast(g, n, GS_BOOL);
}

gs_status gs_infer_overflow(gs_graph *g, const gs_node *n)
{
    return gs_err(g->ctx, GS_ERR_MODEL, "node '%s' (%s): an output dim is out of range (overflows int64 "
                  "or is negative)", n->name ? n->name : "", n->op);
}

const gs_tensor *gs_infer_const(const gs_graph *g, const gs_node *n, int k)
{
    if (k >= n->nin || n->in[k] == GS_NONE)
        return NULL;
    const gs_value *v = &g->values[n->in[k]];
    const gs_tensor *t = v->init;
    if (!t && v->producer != GS_NONE) {   /* the value attribute of a Constant node */
        const gs_node *p = &g->nodes[v->producer];
        const gs_attr *a = !(p->flags & GS_N_DEAD) && !strcmp(p->op, "Constant") && !*p->domain
                               ? gs_ir_attr(p, "value") : NULL;
        t = a && a->type == GS_A_TENSOR ? a->t : NULL;
    }
    return t && t->data ? t : NULL;
}

/* ---- partial values: the elements of small integer tensors --------------- */

static bool int_type(int32_t dtype)
{
    return dtype == GS_INT64 || dtype == GS_INT32;
}

static const gs_dim UNKNOWN_ELEM = { GS_ELEM_UNKNOWN, NULL };

static const gs_tensor *const_of(const gs_graph *g, gs_id v)
{
    const gs_value *val = &g->values[v];
    const gs_tensor *t = val->init;
    if (!t && val->producer != GS_NONE) {
        const gs_node *p = &g->nodes[val->producer];
        const gs_attr *a = !(p->flags & GS_N_DEAD) && !strcmp(p->op, "Constant") && !*p->domain
                               ? gs_ir_attr(p, "value") : NULL;
        t = a && a->type == GS_A_TENSOR ? a->t : NULL;
    }
    return t && t->data ? t : NULL;
}

int gs_infer_elems(const gs_graph *g, gs_id v, gs_dim *out)
{
    if (v == GS_NONE)
        return -1;
    const gs_tensor *t = const_of(g, v);
    if (t) {
        int64_t n = gs_tensor_numel(t);
        if ((!int_type(t->dtype) && t->dtype != GS_BOOL) || t->rank > 1 || n > GS_MAX_ELEMS)
            return -1;
        for (int64_t i = 0; i < n; i++) {
            out[i] = (gs_dim){ gs_tensor_get_i(t, i), NULL };
            if (out[i].v == GS_ELEM_UNKNOWN)
                out[i] = UNKNOWN_ELEM;
        }
        return (int)n;
    }
    const gs_value *val = &g->values[v];
    if (!val->elems || val->flags & GS_V_OUTER)
        return -1;
    memcpy(out, val->elems, (size_t)val->nelems * sizeof *out);
    return val->nelems;
}

gs_dim gs_elem_of_dim(gs_dim d)
{
    return d.v >= 0 ? (gs_dim){ d.v, NULL } : (gs_dim){ GS_ELEM_UNKNOWN, d.sym };
}

gs_dim gs_dim_of_elem(gs_dim e)
{
    return gs_elem_known(e) ? (gs_dim){ e.v >= 0 ? e.v : -1, NULL } : (gs_dim){ -1, e.sym };
}

static bool same_elems(const gs_value *v, const gs_dim *e, int n)
{
    if (!v->elems || v->nelems != n)
        return false;
    for (int i = 0; i < n; i++)
        if (!same_dim(v->elems[i], e[i]))
            return false;
    return true;
}

/* Record (n >= 0) or forget (n < 0) the elements of value v. */
static gs_status set_elems(gs_graph *g, gs_id v, const gs_dim *e, int n)
{
    gs_value *val = &g->values[v];
    if (n < 0 || n > GS_MAX_ELEMS) {
        val->elems = NULL, val->nelems = 0;
        return GS_OK;
    }
    if (same_elems(val, e, n))
        return GS_OK;
    gs_dim *d = gs_arena_alloc(&g->arena, (size_t)(n ? n : 1) * sizeof *d);
    if (!d)
        return gs_nomem(g->ctx);
    if (n)
        memcpy(d, e, (size_t)n * sizeof *d);
    val->elems = d, val->nelems = n;
    return GS_OK;
}

/* ---- dim expressions: polynomials over named dims ----------------------- */

/* A dim name is read as a sum of terms separated by " + " or " - " (outside
 * parentheses), each a product of factors separated by "*": numbers and
 * names (batch, seq, min(seq, 32)). The form this file writes: a term's
 * number first and its names in strcmp order ("8*batch", "2*batch*seq"),
 * terms in strcmp order of their names, the number last ("past + seq",
 * "2*batch + 1"). So equal expressions get equal names (batch*8 reads as
 * 8*batch), and a model's own "s0 + s1" or "batch*heads" reads as what it
 * says. A coefficient that overflows int64, or too many terms, makes the
 * expression unknown. */
enum { LIN_TERMS = 8, LIN_FACTORS = 8, LIN_CHARS = 768 };
typedef struct lin {
    int n;
    const char *atom[LIN_TERMS];   /* a term's names joined by '*', in buf */
    size_t len[LIN_TERMS];
    int64_t coef[LIN_TERMS];       /* never 0 */
    int64_t c;                     /* the number term */
    size_t used;                   /* bytes of buf taken */
    char buf[LIN_CHARS];
} lin;

static int atom_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    int r = memcmp(a, b, la < lb ? la : lb);
    return r ? r : (la > lb) - (la < lb);
}

static void lin_drop(lin *l, int i)
{
    memmove(&l->atom[i], &l->atom[i + 1], (size_t)(l->n - i - 1) * sizeof l->atom[0]);
    memmove(&l->len[i], &l->len[i + 1], (size_t)(l->n - i - 1) * sizeof l->len[0]);
    memmove(&l->coef[i], &l->coef[i + 1], (size_t)(l->n - i - 1) * sizeof l->coef[0]);
    l->n--;
}

/* Add k*atom to l (an empty atom: the number term), keeping atoms sorted and
 * merged; a new atom is copied into l. False on overflow or too many terms. */
static bool lin_add_atom(lin *l, const char *a, size_t len, int64_t k)
{
    if (!len)
        return !__builtin_add_overflow(l->c, k, &l->c);
    int i = 0;
    while (i < l->n && atom_cmp(l->atom[i], l->len[i], a, len) < 0)
        i++;
    if (i < l->n && !atom_cmp(l->atom[i], l->len[i], a, len)) {
        if (__builtin_add_overflow(l->coef[i], k, &l->coef[i]))
            return false;
        if (!l->coef[i])
            lin_drop(l, i);
        return true;
    }
    if (!k)
        return true;
    if (l->n == LIN_TERMS || l->used + len > LIN_CHARS)
        return false;
    memcpy(l->buf + l->used, a, len);
    memmove(&l->atom[i + 1], &l->atom[i], (size_t)(l->n - i) * sizeof l->atom[0]);
    memmove(&l->len[i + 1], &l->len[i], (size_t)(l->n - i) * sizeof l->len[0]);
    memmove(&l->coef[i + 1], &l->coef[i], (size_t)(l->n - i) * sizeof l->coef[0]);
    l->atom[i] = l->buf + l->used, l->len[i] = len, l->coef[i] = k;
    l->used += len;
    l->n++;
    return true;
}

/* A product of factors p[0..n) into its number (*k times) and its names
 * f[0..*nf) in strcmp order; false when a factor is empty, the number
 * overflows or there are too many names. */
static bool factors(const char *p, size_t n, int64_t *k, const char **f, size_t *fl, int *nf)
{
    int depth = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n) {
            depth += p[i] == '(' ? 1 : p[i] == ')' ? -1 : 0;
            if (depth || p[i] != '*')
                continue;
        }
        const char *s = p + start;
        size_t len = i - start;
        start = i + 1;
        for (; len && *s == ' '; s++, len--) {}
        for (; len && s[len - 1] == ' '; len--) {}
        if (!len)
            return false;
        int64_t v;
        if (all_digits(s, len)) {
            if (!read_num(s, len, &v) || __builtin_mul_overflow(*k, v, k))
                return false;
            continue;
        }
        if (*nf == LIN_FACTORS)
            return false;
        int j = (*nf)++;
        for (; j > 0 && atom_cmp(f[j - 1], fl[j - 1], s, len) > 0; j--)
            f[j] = f[j - 1], fl[j] = fl[j - 1];
        f[j] = s, fl[j] = len;
    }
    return true;
}

/* k times the names f[0..nf) (sorted) into l. */
static bool lin_add_names(lin *l, const char *const *f, const size_t *fl, int nf, int64_t k)
{
    char m[LIN_CHARS];
    size_t at = 0;
    for (int i = 0; i < nf; i++) {
        if (at + fl[i] + 1 > sizeof m)
            return false;
        if (i)
            m[at++] = '*';
        memcpy(m + at, f[i], fl[i]);
        at += fl[i];
    }
    return lin_add_atom(l, m, at, k);
}

/* One term of a name into l with sign sg. */
static bool lin_term(lin *l, const char *p, size_t n, int64_t sg)
{
    const char *f[LIN_FACTORS];
    size_t fl[LIN_FACTORS];
    int nf = 0;
    int64_t k = sg;
    return factors(p, n, &k, f, fl, &nf) && lin_add_names(l, f, fl, nf, k);
}

/* The first " + " or " - " of p outside parentheses, or NULL. */
static const char *next_sep(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
        if (!depth && p[0] == ' ' && (p[1] == '+' || p[1] == '-') && p[2] == ' ')
            return p;
    }
    return NULL;
}

/* e (an element: a number or a name) scaled by k into l. */
static bool lin_of(gs_dim e, int64_t k, lin *l)
{
    if (gs_elem_known(e))
        return !__builtin_mul_overflow(e.v, k, &e.v) && !__builtin_add_overflow(l->c, e.v, &l->c);
    if (!e.sym || !*e.sym)
        return false;
    lin t = { 0 };
    const char *p = e.sym;
    int64_t sg = 1;
    for (;;) {
        const char *q = next_sep(p);
        if (!lin_term(&t, p, q ? (size_t)(q - p) : strlen(p), sg))
            return false;
        if (!q)
            break;
        sg = q[1] == '+' ? 1 : -1;
        p = q + 3;
    }
    for (int i = 0; i < t.n; i++)
        if (__builtin_mul_overflow(t.coef[i], k, &t.coef[i]) || !lin_add_atom(l, t.atom[i], t.len[i], t.coef[i]))
            return false;
    return !__builtin_mul_overflow(t.c, k, &t.c) && !__builtin_add_overflow(l->c, t.c, &l->c);
}

/* The names of a product and b product together (sorted) with coefficient
 * k into out. */
static bool lin_add_product(lin *out, const char *a, size_t la, const char *b, size_t lb, int64_t k)
{
    const char *f[2 * LIN_FACTORS];
    size_t fl[2 * LIN_FACTORS];
    int nf = 0, nb = 0;
    int64_t one = 1;
    if ((la && !factors(a, la, &one, f, fl, &nf)) || (lb && !factors(b, lb, &one, f + nf, fl + nf, &nb)))
        return false;
    for (int i = nf; i < nf + nb; i++)   /* insert b's names among a's */
        for (int j = i; j > 0 && atom_cmp(f[j - 1], fl[j - 1], f[j], fl[j]) > 0; j--) {
            const char *ts = f[j];
            size_t tl = fl[j];
            f[j] = f[j - 1], fl[j] = fl[j - 1], f[j - 1] = ts, fl[j - 1] = tl;
        }
    return nf + nb <= LIN_FACTORS && lin_add_names(out, f, fl, nf + nb, k);
}

/* out = a * b (out zeroed by the caller); false on overflow or too many terms. */
static bool lin_mul(const lin *a, const lin *b, lin *out)
{
    for (int i = -1; i < a->n; i++)
        for (int j = -1; j < b->n; j++) {
            int64_t ka = i < 0 ? a->c : a->coef[i], kb = j < 0 ? b->c : b->coef[j], k;
            if (!ka || !kb)
                continue;
            if (__builtin_mul_overflow(ka, kb, &k) ||
                !lin_add_product(out, i < 0 ? "" : a->atom[i], i < 0 ? 0 : a->len[i],
                                 j < 0 ? "" : b->atom[j], j < 0 ? 0 : b->len[j], k))
                return false;
        }
    return true;
}

static bool lin_same(const lin *a, const lin *b)
{
    if (a->n != b->n || a->c != b->c)
        return false;
    for (int i = 0; i < a->n; i++)
        if (a->coef[i] != b->coef[i] || atom_cmp(a->atom[i], a->len[i], b->atom[i], b->len[i]))
            return false;
    return true;
}

/* Names of product a with those of product m taken out (each once) into
 * out[0..*len): false when m has a name a has not. */
static bool names_less(const char *a, size_t la, const char *m, size_t lm, char *out, size_t *len)
{
    const char *f[LIN_FACTORS], *g[LIN_FACTORS];
    size_t fl[LIN_FACTORS], gl[LIN_FACTORS];
    int nf = 0, ng = 0;
    int64_t one = 1;
    if ((la && !factors(a, la, &one, f, fl, &nf)) || (lm && !factors(m, lm, &one, g, gl, &ng)))
        return false;
    for (int j = 0; j < ng; j++) {
        int i = 0;
        while (i < nf && atom_cmp(f[i], fl[i], g[j], gl[j]))
            i++;
        if (i == nf)
            return false;
        memmove(&f[i], &f[i + 1], (size_t)(nf - i - 1) * sizeof f[0]);
        memmove(&fl[i], &fl[i + 1], (size_t)(nf - i - 1) * sizeof fl[0]);
        nf--;
    }
    *len = 0;
    for (int i = 0; i < nf; i++) {
        if (i)
            out[(*len)++] = '*';
        memcpy(out + *len, f[i], fl[i]);
        *len += fl[i];
    }
    return true;
}

/* out = p / (k * m), m a product of names (length lm, 0 for none), k > 0:
 * exact for every value of the names (each term's number divisible by k and
 * its names including m's), else false. out zeroed by the caller. */
static bool lin_div(const lin *p, int64_t k, const char *m, size_t lm, lin *out)
{
    if (k <= 0 || (p->c && (lm || p->c % k)))
        return false;
    out->c = p->c / k;
    for (int i = 0; i < p->n; i++) {
        char rest[LIN_CHARS];
        size_t lr;
        if (p->coef[i] % k || !names_less(p->atom[i], p->len[i], m, lm, rest, &lr) ||
            !lin_add_atom(out, rest, lr, p->coef[i] / k))
            return false;
    }
    return true;
}

/* l written in the form above into buf: false when it does not fit or
 * would not be read back the same (a leading minus). */
static bool lin_write(const lin *l, char *buf, size_t cap)
{
    size_t at = 0;
    for (int i = 0; i < l->n && at < cap; i++) {
        int64_t k = l->coef[i];
        const char *sep = i == 0 ? (k < 0 ? "-" : "") : (k < 0 ? " - " : " + ");
        if (k == INT64_MIN)
            return false;
        int64_t a = k < 0 ? -k : k;
        at += a == 1 ? (size_t)snprintf(buf + at, cap - at, "%s%.*s", sep, (int)l->len[i], l->atom[i])
                     : (size_t)snprintf(buf + at, cap - at, "%s%lld*%.*s", sep, (long long)a,
                                        (int)l->len[i], l->atom[i]);
    }
    if (l->c && at < cap)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", l->c < 0 ? " - " : " + ",
                               (long long)(l->c < 0 ? -l->c : l->c));
    return at < cap && buf[0] != '-';
}

static const char *perm_strdup(gs_graph *g, const char *s)
{
    return gs_arena_strdup(gs_graph_root(g)->perm, s);
}

/* l as an element: a number, or a name written in the form above. */
static gs_dim lin_elem(gs_graph *g, const lin *l)
{
    if (l->c == INT64_MIN)
        return UNKNOWN_ELEM;
    if (l->n == 0)
        return (gs_dim){ l->c, NULL };
    char buf[1024];
    const char *sym = lin_write(l, buf, sizeof buf) ? perm_strdup(g, buf) : NULL;
    return sym ? (gs_dim){ GS_ELEM_UNKNOWN, sym } : UNKNOWN_ELEM;
}

/* Element e with a dim expression spelled in the form above (a model's own
 * batch*8 as 8*batch), so equal elements are equal strings (cse.c compares
 * them so); e itself when already so spelled or not an expression. */
static gs_dim canon_elem(gs_graph *g, gs_dim e)
{
    lin l = { 0 };
    char buf[1024];
    if (!e.sym || !strpbrk(e.sym, "*+-") || !lin_of(e, 1, &l) || l.c == INT64_MIN)
        return e;
    if (l.n == 0)
        return (gs_dim){ l.c, NULL };
    if (!lin_write(&l, buf, sizeof buf) || !strcmp(buf, e.sym))
        return e;
    const char *sym = perm_strdup(g, buf);
    return sym ? (gs_dim){ GS_ELEM_UNKNOWN, sym } : e;
}

/* True when every term of l is a dim added (so l >= 0 at run time). */
static bool lin_nonneg(const lin *l)
{
    for (int i = 0; i < l->n; i++)
        if (l->coef[i] < 0)
            return false;
    return l->c >= 0;
}

/* a + sg*b for two elements, as an element. */
static gs_dim elem_sum(gs_graph *g, gs_dim a, gs_dim b, int64_t sg)
{
    lin l = { 0 };
    return lin_of(a, 1, &l) && lin_of(b, sg, &l) ? lin_elem(g, &l) : UNKNOWN_ELEM;
}

bool gs_elem_sum_is(gs_dim e, gs_dim a, gs_dim b)
{
    lin l = { 0 }, r = { 0 };
    return lin_of(e, 1, &l) && lin_of(a, 1, &r) && lin_of(b, 1, &r) && lin_same(&l, &r);
}

bool gs_elem_sum_is_or0(gs_dim e, gs_dim a, gs_dim b, const char *z, size_t zlen)
{
    char be[512], ba[512], bb[512];
    gs_dim x = or0_elem(e, z, zlen, be, sizeof be), y = or0_elem(a, z, zlen, ba, sizeof ba);
    gs_dim w = or0_elem(b, z, zlen, bb, sizeof bb);
    return gs_elem_sum_is(x, y, w);
}

bool gs_elem_same(gs_dim a, gs_dim b)
{
    if (gs_elem_known(a) || gs_elem_known(b))
        return gs_elem_known(a) && gs_elem_known(b) && a.v == b.v;
    if (!a.sym || !b.sym)
        return false;
    if (!strcmp(a.sym, b.sym))
        return true;
    lin l = { 0 }, r = { 0 };
    return lin_of(a, 1, &l) && lin_of(b, 1, &r) && lin_same(&l, &r);
}

bool gs_elem_nonneg(gs_dim e)
{
    lin l = { 0 };
    return lin_of(e, 1, &l) && lin_nonneg(&l);
}

gs_dim gs_dim_add(gs_graph *g, gs_dim a, gs_dim b)
{
    lin l = { 0 };
    if (!lin_of(gs_elem_of_dim(a), 1, &l) || !lin_of(gs_elem_of_dim(b), 1, &l) || !lin_nonneg(&l))
        return (gs_dim){ -1, NULL };
    return gs_dim_of_elem(lin_elem(g, &l));
}

gs_dim gs_elem_mul(gs_graph *g, gs_dim a, gs_dim b)
{
    lin x = { 0 }, y = { 0 }, p = { 0 };
    return lin_of(a, 1, &x) && lin_of(b, 1, &y) && lin_mul(&x, &y, &p) ? lin_elem(g, &p) : UNKNOWN_ELEM;
}

gs_dim gs_elem_sub(gs_graph *g, gs_dim a, gs_dim b)
{
    return elem_sum(g, a, b, -1);
}

gs_dim gs_elem_div(gs_graph *g, gs_dim a, int64_t k)
{
    lin x = { 0 }, q = { 0 };
    return lin_of(a, 1, &x) && lin_div(&x, k, "", 0, &q) ? lin_elem(g, &q) : UNKNOWN_ELEM;
}

/* The product of dims d[0..n) but d[skip] and those named in taken[]
 * (cancelled), into *p; false when a dim is unknown or the product does not
 * fit. */
static bool dims_product(const gs_dim *d, int n, int skip, const bool *taken, lin *p)
{
    p->c = 1;
    for (int i = 0; i < n; i++) {
        if (i == skip || taken[i])
            continue;
        lin f = { 0 }, prod = { 0 };
        if (!lin_of(gs_elem_of_dim(d[i]), 1, &f) || !lin_mul(p, &f, &prod))
            return false;
        memcpy(p, &prod, sizeof prod);
        for (int j = 0; j < p->n; j++)   /* the copy's atoms point into its own buffer */
            p->atom[j] = p->buf + (prod.atom[j] - prod.buf);
    }
    return true;
}

gs_dim gs_infer_size_ratio(gs_graph *g, const gs_dim *x, int rx, const gs_dim *t, int r, int skip, bool *never)
{
    gs_dim unk = { -1, NULL };
    bool xt[GS_MAX_RANK] = { false }, tt[GS_MAX_ELEMS] = { false };
    *never = false;
    if (rx > GS_MAX_RANK || r > GS_MAX_ELEMS)
        return unk;
    for (int i = 0; i < r; i++)   /* equal names cancel first (past + seq against itself) */
        for (int j = 0; i != skip && t[i].v < 0 && t[i].sym && j < rx; j++)
            if (!xt[j] && x[j].v < 0 && x[j].sym && !strcmp(x[j].sym, t[i].sym)) {
                xt[j] = tt[i] = true;
                break;
            }
    lin p = { 0 }, d = { 0 }, q = { 0 };
    if (!dims_product(x, rx, -1, xt, &p) || !dims_product(t, r, skip, tt, &d) || d.n > 1 || (d.n && d.c))
        return unk;   /* only a number or one product of names divides */
    int64_t k = d.n ? d.coef[0] : d.c;
    const char *m = d.n ? d.atom[0] : "";
    size_t lm = d.n ? d.len[0] : 0;
    if (k <= 0) {
        *never = k == 0 && p.n == 0 && p.c != 0;
        return unk;
    }
    if (p.n == 0 && p.c == 0 && lm)
        return unk;   /* 0 over a product of names: -1 is then ambiguous */
    if (!lin_div(&p, k, m, lm, &q)) {   /* the same names, numbers that never divide */
        *never = (p.n == 0 && !lm) || (p.n == 1 && !p.c && !atom_cmp(p.atom[0], p.len[0], m, lm));
        return unk;
    }
    if (skip < 0) {
        *never = q.n == 0 && q.c != 1;
        return q.n == 0 && q.c == 1 ? (gs_dim){ 1, NULL } : unk;
    }
    return gs_dim_of_elem(lin_elem(g, &q));
}

bool gs_dim_eval(const char *sym, gs_dim_name_fn fn, void *ud, int64_t *out)
{
    bool ok = true;
    const char *p = sym;
    int64_t sg = 1;
    *out = 0;
    if (!sym || !*sym)
        return false;
    for (;;) {
        const char *q = next_sep(p), *f[LIN_FACTORS];
        size_t fl[LIN_FACTORS];
        int nf = 0;
        int64_t k = sg, v;
        if (!factors(p, q ? (size_t)(q - p) : strlen(p), &k, f, fl, &nf))
            return false;
        for (int i = 0; i < nf; i++)   /* every name is asked for, known or not */
            ok &= fn(ud, f[i], fl[i], &v) && !__builtin_mul_overflow(k, v, &k);
        ok &= !__builtin_add_overflow(*out, k, out);
        if (!q)
            break;
        sg = q[1] == '+' ? 1 : -1;
        p = q + 3;
    }
    return ok;
}

/* a op b for two elements: numbers are computed (division only when
 * exact), a name with 0 or 1 stays that name, sums, differences and
 * products are dim expressions, and so are quotients by a number that
 * divides every term exactly ((2*seq)/2 is seq, seq/2 unknown); anything
 * else is unknown. */
static gs_dim elem_arith(gs_graph *g, char op, gs_dim a, gs_dim b)
{
    bool ka = gs_elem_known(a), kb = gs_elem_known(b);
    int64_t r;
    if (ka && kb) {
        bool ok = op == '+' ? !__builtin_add_overflow(a.v, b.v, &r)
                : op == '-' ? !__builtin_sub_overflow(a.v, b.v, &r)
                : op == '*' ? !__builtin_mul_overflow(a.v, b.v, &r)
                : b.v != 0 && !(a.v == INT64_MIN && b.v == -1) && a.v % b.v == 0 && ((r = a.v / b.v), true);
        return ok && r != GS_ELEM_UNKNOWN ? (gs_dim){ r, NULL } : UNKNOWN_ELEM;
    }
    if (kb && ((b.v == 0 && (op == '+' || op == '-')) || (b.v == 1 && (op == '*' || op == '/'))))
        return a;
    if (ka && ((a.v == 0 && op == '+') || (a.v == 1 && op == '*')))
        return b;
    if ((ka && a.v == 0 && op == '*') || (kb && b.v == 0 && op == '*'))
        return (gs_dim){ 0, NULL };
    if (op == '+' || op == '-')
        return elem_sum(g, a, b, op == '+' ? 1 : -1);
    if (op == '*')
        return gs_elem_mul(g, a, b);
    if (op == '/' && kb)
        return gs_elem_div(g, a, b.v);
    return UNKNOWN_ELEM;
}

static int elems_shape(gs_graph *g, const gs_node *n, gs_dim *e)
{
    const gs_value *x = &g->values[n->in[0]];
    if (x->rank < 0)
        return -1;
    int64_t r = x->rank, s = gs_attr_int(n, "start", 0), end = gs_attr_int(n, "end", r);
    s = s < 0 ? s + r : s, end = end < 0 ? end + r : end;
    s = s < 0 ? 0 : s > r ? r : s, end = end < 0 ? 0 : end > r ? r : end;
    int k = 0;
    for (int64_t i = s; i < end; i++)
        e[k++] = canon_elem(g, gs_elem_of_dim(x->dims[i]));
    return k;
}

static int elems_gather(const gs_graph *g, const gs_node *n, gs_dim *e)
{
    gs_dim data[GS_MAX_ELEMS], idx[GS_MAX_ELEMS];
    int nd = gs_infer_elems(g, n->in[0], data), ni = gs_infer_elems(g, n->in[1], idx);
    const gs_value *x = &g->values[n->in[0]];
    int64_t axis = gs_attr_int(n, "axis", 0);
    if (nd < 0 || ni < 0 || x->rank != 1 || (axis != 0 && axis != -1))
        return -1;
    for (int i = 0; i < ni; i++) {
        int64_t k = idx[i].v;
        if (!gs_elem_known(idx[i]) || k < -nd || k >= nd)
            return -1;
        e[i] = data[k < 0 ? k + nd : k];
    }
    return ni;
}

static int elems_concat(const gs_graph *g, const gs_node *n, gs_dim *e)
{
    int64_t axis = gs_attr_int(n, "axis", 0);
    if (axis != 0 && axis != -1)
        return -1;
    int k = 0;
    for (int i = 0; i < n->nin; i++) {
        gs_dim part[GS_MAX_ELEMS];
        int np = gs_infer_elems(g, n->in[i], part);
        if (np < 0 || k + np > GS_MAX_ELEMS)
            return -1;
        memcpy(e + k, part, (size_t)np * sizeof *part);
        k += np;
    }
    return k;
}

/* Slice of a 1-D value along axis 0 with known starts, ends and steps. */
static int elems_slice(const gs_graph *g, const gs_node *n, gs_dim *e)
{
    gs_dim x[GS_MAX_ELEMS], p[4][GS_MAX_ELEMS];
    int nx = gs_infer_elems(g, n->in[0], x);
    if (nx < 0 || g->opset < 10 || n->nin < 3)
        return -1;
    for (int k = 1; k < 5; k++) {
        p[k - 1][0] = (gs_dim){ k == 3 ? 0 : 1, NULL };
        int c = k < n->nin && n->in[k] != GS_NONE ? gs_infer_elems(g, n->in[k], p[k - 1]) : 1;
        if (c != 1 || !gs_elem_known(p[k - 1][0]))
            return -1;
    }
    int64_t st = p[0][0].v, en = p[1][0].v, ax = p[2][0].v, step = p[3][0].v;
    if ((ax != 0 && ax != -1) || step == 0)
        return -1;
    st = st < 0 ? st + nx : st, en = en < 0 ? (en < -nx ? -1 : en + nx) : en;
    if (step > 0) {
        st = st < 0 ? 0 : st > nx ? nx : st, en = en > nx ? nx : en < 0 ? 0 : en;
    } else {
        st = st < 0 ? -1 : st > nx - 1 ? nx - 1 : st, en = en < -1 ? -1 : en > nx - 1 ? nx - 1 : en;
    }
    int k = 0;
    for (int64_t i = st; step > 0 ? i < en : i > en; i += step)
        e[k++] = x[i];
    return k;
}

static int elems_arith(gs_graph *g, const gs_node *n, gs_dim *e)
{
    gs_dim a[GS_MAX_ELEMS], b[GS_MAX_ELEMS];
    int na = gs_infer_elems(g, n->in[0], a), nb = gs_infer_elems(g, n->in[1], b);
    if (na < 0 || nb < 0 || (na != nb && na != 1 && nb != 1))
        return -1;
    char op = !strcmp(n->op, "Add") ? '+' : !strcmp(n->op, "Sub") ? '-' : !strcmp(n->op, "Mul") ? '*' : '/';
    int k = na > nb ? na : nb;
    for (int i = 0; i < k; i++)
        e[i] = elem_arith(g, op, a[na == 1 ? 0 : i], b[nb == 1 ? 0 : i]);
    return k;
}

/* Equal of two elements: 1 or 0 where that is known (a dim is never
 * negative), else unknown. */
static gs_dim elem_equal(gs_dim a, gs_dim b)
{
    bool ka = gs_elem_known(a), kb = gs_elem_known(b);
    if (ka && kb)
        return (gs_dim){ a.v == b.v, NULL };
    if (a.sym && b.sym && gs_elem_same(a, b))
        return (gs_dim){ 1, NULL };
    lin l = { 0 };
    if ((ka && b.sym && a.v < 0 && lin_of(b, 1, &l) && lin_nonneg(&l)) ||
        (kb && a.sym && b.v < 0 && lin_of(a, 1, &l) && lin_nonneg(&l)))
        return (gs_dim){ 0, NULL };
    return UNKNOWN_ELEM;
}

static int elems_equal_where(const gs_graph *g, const gs_node *n, gs_dim *e)
{
    bool where = !strcmp(n->op, "Where");
    gs_dim in[3][GS_MAX_ELEMS];
    int c[3], k = 0;
    for (int i = 0; i < (where ? 3 : 2); i++) {
        if ((c[i] = gs_infer_elems(g, n->in[i], in[i])) < 0)
            return -1;
        k = c[i] > k ? c[i] : k;
    }
    for (int i = 0; i < (where ? 3 : 2); i++)
        if (c[i] != k && c[i] != 1)
            return -1;
    for (int j = 0; j < k; j++) {
        gs_dim a = in[0][c[0] == 1 ? 0 : j], b = in[1][c[1] == 1 ? 0 : j];
        if (!where) {
            e[j] = elem_equal(a, b);
        } else {
            if (!gs_elem_known(a))
                return -1;
            e[j] = a.v ? b : in[2][c[2] == 1 ? 0 : j];
        }
    }
    return k;
}

static int elems_of_node(gs_graph *g, const gs_node *n, gs_dim *e)
{
    const char *op = n->op;
    if (n->nin < 1 || n->in[0] == GS_NONE)
        return -1;
    if (!strcmp(op, "Shape"))
        return elems_shape(g, n, e);
    if (!strcmp(op, "Gather"))
        return n->nin == 2 ? elems_gather(g, n, e) : -1;
    if (!strcmp(op, "Concat"))
        return elems_concat(g, n, e);
    if (!strcmp(op, "Slice"))
        return elems_slice(g, n, e);
    if (!strcmp(op, "Equal") || !strcmp(op, "Where"))
        return n->nin == (op[0] == 'W' ? 3 : 2) ? elems_equal_where(g, n, e) : -1;
    if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div"))
        return n->nin == 2 && n->in[1] != GS_NONE ? elems_arith(g, n, e) : -1;
    bool cast = !strcmp(op, "Cast") || !strcmp(op, "CastLike");
    if (cast || !strcmp(op, "Identity") || !strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze") ||
        !strcmp(op, "Reshape") || !strcmp(op, "Flatten")) {
        int32_t from = g->values[n->in[0]].init ? g->values[n->in[0]].init->dtype : g->values[n->in[0]].dtype;
        return !cast || int_type(from) ? gs_infer_elems(g, n->in[0], e) : -1;
    }
    return -1;
}

/* The elements of n's output 0 when it is a small integer value whose
 * elements follow from its inputs' (fits: the node fits its registry row). */
static gs_status infer_elems(gs_graph *g, const gs_node *n, bool fits)
{
    gs_value *o = &g->values[n->out[0]];
    if (o->init)
        return GS_OK;
    gs_dim e[GS_MAX_ELEMS];
    int ne = -1;
    bool equal = !strcmp(n->op, "Equal") && o->dtype == GS_BOOL;
    if (fits && !*n->domain && (int_type(o->dtype) || equal) && (o->rank == 0 || o->rank == 1))
        ne = elems_of_node(g, n, e);
    /* the count must be the value's (a Reshape or Squeeze of several elements to one) */
    if (ne >= 0 && (o->rank == 0 ? ne != 1 : o->dims[0].v >= 0 && o->dims[0].v != ne))
        ne = -1;
    return set_elems(g, n->out[0], e, ne);
}

/* A body's outer values take the types of the values they read. */
static gs_status type_outer(gs_graph *sub)
{
    gs_status st = GS_OK;
    for (gs_id v = 0; v < sub->nvalues && st == GS_OK; v++) {
        const gs_value *sv = &sub->values[v];
        if (!(sv->flags & GS_V_OUTER) || sv->outer < 0 || !sub->parent || sv->outer >= sub->parent->nvalues)
            continue;
        const gs_value *ov = &sub->parent->values[sv->outer];
        if (ov->dtype || ov->rank >= 0)
            st = gs_infer_set(sub, v, ov->dtype, ov->rank, ov->rank >= 0 ? ov->dims : NULL);
    }
    return st;
}

static gs_status infer_body(gs_graph *sub)
{
    gs_status st = type_outer(sub);
    return st == GS_OK ? gs_infer_graph(sub) : st;
}

/* An If's output k from its branches' output k: the type both give, the
 * rank both give, each dim both give alike (others unknown). An output
 * already typed is left as it is. */
static gs_status infer_if(gs_graph *g, const gs_node *n)
{
    const gs_attr *t = gs_ir_attr(n, "then_branch"), *e = gs_ir_attr(n, "else_branch");
    if (!t || !e || t->type != GS_A_GRAPH || e->type != GS_A_GRAPH || !t->g || !e->g ||
        t->g->noutputs != n->nout || e->g->noutputs != n->nout)
        return GS_OK;
    gs_status st = GS_OK;
    for (int k = 0; k < n->nout && st == GS_OK; k++) {
        const gs_value *a = &t->g->values[t->g->outputs[k]], *b = &e->g->values[e->g->outputs[k]];
        if (n->out[k] == GS_NONE || g->values[n->out[k]].dtype || !a->dtype || a->dtype != b->dtype)
            continue;
        gs_dim dims[GS_MAX_RANK];
        int rank = a->rank == b->rank && a->rank <= GS_MAX_RANK ? a->rank : -1;
        for (int d = 0; d < rank; d++)
            dims[d] = gs_dim_equal(a->dims[d], b->dims[d]) && a->dims[d].v >= 0 ? a->dims[d] : (gs_dim){ -1, NULL };
        st = gs_infer_set(g, n->out[k], a->dtype, rank, rank >= 0 ? dims : NULL);
    }
    return st;
}

/* Whether a dim of graph g or of its bodies is named min(...) or or0(...). */
static bool names_forms(const gs_graph *g)
{
    for (gs_id v = 0; v < g->nvalues; v++)
        for (int i = 0; i < g->values[v].rank; i++) {
            const char *s = g->values[v].dims[i].sym;
            if (s && (!strncmp(s, "min(", 4) || !strncmp(s, GS_OR0 "(", sizeof GS_OR0)))
                return true;
        }
    for (int32_t i = 0; i < g->nsubs; i++)
        if (names_forms(g->subs[i]))
            return true;
    return false;
}

bool gs_infer_own_forms(const gs_graph *g)
{
    return gs_graph_root(g)->own_forms == 1;
}

gs_status gs_infer_graph(gs_graph *g)
{
    gs_graph *r = root_of(g);
    if (!r->own_forms)   /* before any name of these forms is made */
        r->own_forms = names_forms(r) ? 2 : 1;
    gs_id *order = gs_alloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *order);
    if (!order)
        return gs_nomem(g->ctx);
    int n = gs_ir_topo(g, order);
    gs_status st = n == -2 ? GS_ERR_NOMEM : n < 0 ? gs_err(g->ctx, GS_ERR_MODEL, "graph has a cycle") : GS_OK;
    for (int i = 0; i < n && st == GS_OK; i++) {
        gs_node *nd = &g->nodes[order[i]];
        const gs_opdef *d = nd->def;
        if (d && d->infer && gs_op_fits(d, nd))
            st = d->infer(g, nd);
        if (st == GS_OK && nd->nout >= 1 && nd->out[0] != GS_NONE)
            st = infer_elems(g, nd, d && gs_op_fits(d, nd));
        for (int a = 0; a < nd->nattrs && st == GS_OK; a++) {
            gs_attr *at = &nd->attrs[a];
            if (at->type == GS_A_GRAPH && at->g)
                st = infer_body(at->g);
            for (size_t j = 0; at->type == GS_A_GRAPHS && j < at->n && st == GS_OK; j++)
                st = infer_body(at->gs[j]);
        }
        if (st == GS_OK && !*nd->domain && !strcmp(nd->op, "If"))
            st = infer_if(g, nd);   /* after its branches */
    }
    gs_dealloc(g->ctx, order);
    return st;
}

/* ---- rows whose outputs follow from attributes and constant inputs ------- */

static const gs_value *input(const gs_graph *g, const gs_node *n, int k)
{
    return k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
}

/* Unknown dims of a known rank. */
static gs_status set_rank(gs_graph *g, gs_id v, int32_t dtype, int rank)
{
    gs_dim dims[GS_MAX_RANK];
    if (rank < 0 || rank > GS_MAX_RANK)
        return gs_infer_set(g, v, dtype, -1, NULL);
    for (int i = 0; i < rank; i++)
        dims[i] = (gs_dim){ -1, NULL };
    return gs_infer_set(g, v, dtype, rank, dims);
}

gs_status gs_infer_constant_of_shape(gs_graph *g, gs_node *n)
{
    const gs_attr *a = gs_ir_attr(n, "value");
    int32_t dtype = a && a->type == GS_A_TENSOR && a->t ? a->t->dtype : GS_FLOAT;
    const gs_value *x = input(g, n, 0);
    gs_dim e[GS_MAX_ELEMS], dims[GS_MAX_RANK];
    int r = x && x->rank == 1 ? gs_infer_elems(g, n->in[0], e) : -1;
    if (r < 0)
        return set_rank(g, n->out[0], dtype, x && x->rank == 1 ? (int)(x->dims[0].v <= GS_MAX_RANK ?
                                                                      x->dims[0].v : -1) : -1);
    for (int i = 0; i < r; i++)   /* a number or a dim name each */
        dims[i] = gs_dim_of_elem(e[i]);
    return gs_infer_set(g, n->out[0], dtype, r, dims);
}

/* Range: one dim, known when start, limit and delta are constants; with
 * delta 1 and start and limit known as numbers and dims, limit - start when
 * that is a sum of dims (so never negative). */
gs_status gs_infer_range(gs_graph *g, gs_node *n)
{
    const gs_tensor *t[3];
    gs_dim d = { -1, NULL };
    bool all = true;
    for (int k = 0; k < 3; k++)
        all &= (t[k] = gs_infer_const(g, n, k)) != NULL && gs_tensor_numel(t[k]) == 1;
    if (all) {
        double s = gs_tensor_get_f(t[0], 0), l = gs_tensor_get_f(t[1], 0), dl = gs_tensor_get_f(t[2], 0);
        double c = ceil((l - s) / dl);   /* NaN (delta 0): unknown; the kernel refuses it */
        d.v = c < 9e18 ? (c > 0 ? (int64_t)c : 0) : -1;
        d.v = c != c ? -1 : d.v;
    } else {
        gs_dim e[3][GS_MAX_ELEMS];
        bool ok = true;
        for (int k = 0; k < 3; k++)
            ok &= gs_infer_elems(g, n->in[k], e[k]) == 1;
        lin l = { 0 };
        if (ok && gs_elem_known(e[2][0]) && e[2][0].v == 1 && lin_of(e[1][0], 1, &l) && lin_of(e[0][0], -1, &l) &&
            lin_nonneg(&l))
            d = gs_dim_of_elem(lin_elem(g, &l));
    }
    return gs_infer_set(g, n->out[0], dtype_from(g, n, 0), 1, &d);
}

/* Tile: input 0's dtype and rank; dims multiplied by constant repeats. */
gs_status gs_infer_tile(gs_graph *g, gs_node *n)
{
    const gs_value *x = input(g, n, 0);
    const gs_tensor *r = gs_infer_const(g, n, 1);
    if (!x || x->rank < 0 || !r || r->rank != 1 || r->dims[0] != x->rank)
        return x ? set_rank(g, n->out[0], x->dtype, x->rank) : GS_OK;
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        int64_t m = gs_tensor_get_i(r, i), v;
        dims[i] = m == 1 ? x->dims[i]
                : x->dims[i].v >= 0 && m >= 0 && gs_mul64_ok(x->dims[i].v, m, &v) ? (gs_dim){ v, NULL }
                : (gs_dim){ -1, NULL };
    }
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
}

/* ArgMax, ArgMin: int64, the axis kept as 1 or dropped. */
gs_status gs_infer_argminmax(gs_graph *g, gs_node *n)
{
    const gs_value *x = input(g, n, 0);
    bool keep = gs_attr_int(n, "keepdims", 1) != 0;
    int axis = x ? gs_axis(gs_attr_int(n, "axis", 0), x->rank) : -1;
    if (!x || x->rank < 0 || axis < 0)
        return gs_infer_set(g, n->out[0], GS_INT64, -1, NULL);
    gs_dim dims[GS_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (i != axis)
            dims[r++] = x->dims[i];
        else if (keep)
            dims[r++] = (gs_dim){ 1, NULL };
    return gs_infer_set(g, n->out[0], GS_INT64, r, dims);
}

/* Resize, Upsample: input 0's dtype and rank; the dims from constant sizes,
 * or floor(dim * scale) from constant scales (a scale of 1 keeps the dim,
 * symbolic or not), as the kernel computes them. With axes or a
 * keep_aspect_ratio_policy other than stretch, the dims stay unknown. */
gs_status gs_infer_resize(gs_graph *g, gs_node *n)
{
    const gs_value *x = input(g, n, 0);
    if (!x)
        return GS_OK;
    bool up = !strcmp(n->op, "Upsample") || g->opset < 11;   /* Resize-10: (X, scales) */
    const gs_tensor *scales = gs_infer_const(g, n, up ? 1 : 2);
    const gs_tensor *sizes = up ? NULL : gs_infer_const(g, n, 3);
    if (scales && !gs_tensor_numel(scales))
        scales = NULL;
    if (sizes && !gs_tensor_numel(sizes))
        sizes = NULL;
    const gs_tensor *c = sizes ? sizes : scales;
    if (x->rank < 0 || !c || gs_tensor_numel(c) != x->rank || gs_ir_attr(n, "axes") ||
        strcmp(gs_attr_str(n, "keep_aspect_ratio_policy", "stretch"), "stretch"))
        return set_rank(g, n->out[0], x->dtype, x->rank);
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        dims[i] = (gs_dim){ -1, NULL };
        if (sizes) {
            int64_t v = gs_tensor_get_i(sizes, i);
            if (v >= 0)
                dims[i] = (gs_dim){ v, NULL };
            continue;
        }
        double s = gs_tensor_get_f(scales, i), o;
        if (s == 1.0)
            dims[i] = x->dims[i];
        else if (x->dims[i].v >= 0 && s > 0 && (o = floor((double)x->dims[i].v * s)) < 9.0e15)
            dims[i] = (gs_dim){ (int64_t)o, NULL };
    }
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
}

