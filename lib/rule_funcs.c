/*
 * rule_funcs.c - the functions of the rule language, in one table: the
 * conditions of "where" lists and the functions a rewrite computes values
 * or attributes with (dim, shape, compose, add_pads, value).
 *
 * The loader resolves each call in a rule to its row once, checking the
 * name, the number of arguments and what each argument must be (a value
 * or attribute variable of the match, a number, a literal), and suggests
 * the nearest name for a misspelt one; the matcher then calls a
 * condition through the row it was given, and the rewriter dispatches on
 * the row's id. Nothing looks a function up by name after loading.
 */
#include "gs_ops.h"
#include "gs_rules.h"

#include <math.h>
#include <string.h>

/* ---- conditions ----------------------------------------------------------- */

static const gs_value *arg_value(const gs_cond_args *c, int i)
{
    const gs_pnode *p = c->args[i];
    if (p->kind != P_VAR || c->m->values[p->var] == GS_NONE)
        return NULL;
    return &c->g->values[c->m->values[p->var]];
}

static const gs_attr *arg_attr(const gs_cond_args *c, int i)
{
    const gs_pnode *p = c->args[i];
    return p->kind == P_VAR ? c->m->attrs[p->var] : NULL;
}

static double arg_num(const gs_cond_args *c, int i)
{
    return c->args[i]->kind == P_NUM ? c->args[i]->num : NAN;
}

/* const(a, b, ...): every argument is a constant or a constant expression. */
static bool c_const(const gs_cond_args *c)
{
    for (int i = 0; i < c->n; i++) {
        const gs_pnode *p = c->args[i];
        if (p->kind != P_VAR || c->m->values[p->var] == GS_NONE || !gs_fold_const_value(c->g, c->m->values[p->var], GS_FOLD_DEPTH))
            return false;
    }
    return true;
}

/* rank(x, r): x has rank r. */
static bool c_rank(const gs_cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    return v && v->rank == (int)arg_num(c, 1);
}

/* Constant argument 0 is not empty and has every element within a relative
 * tol of number argument 1 (tol 0: equal). */
static bool every_element(const gs_cond_args *c, double tol)
{
    const gs_value *v = arg_value(c, 0);
    if (!v || !v->init || !v->init->data)
        return false;
    double want = arg_num(c, 1);
    int64_t n = gs_tensor_numel(v->init);
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(gs_tensor_get_f(v->init, i) - want) <= tol * fabs(want)))
            return false;
    return n > 0;
}

/* all_equal(c, value): constant c has every element equal to value. */
static bool c_all_equal(const gs_cond_args *c)
{
    return every_element(c, 0);
}

/* inverse_perm(p, q): applying q after p is the identity. */
static bool c_inverse_perm(const gs_cond_args *c)
{
    const gs_attr *p = arg_attr(c, 0), *q = arg_attr(c, 1);
    if (!p || !q || p->type != GS_A_INTS || q->type != GS_A_INTS || p->n != q->n)
        return false;
    for (size_t i = 0; i < p->n; i++)
        if (q->ints[i] < 0 || (size_t)q->ints[i] >= p->n || p->ints[q->ints[i]] != (int64_t)i)
            return false;
    return true;
}

/* same_type(x, to): attribute `to` is x's element type. */
static bool c_same_type(const gs_cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    const gs_attr *a = arg_attr(c, 1);
    return v && a && a->type == GS_A_INT && v->dtype && v->dtype == a->i;
}

/* same_shape(x, y): both shapes fully known and equal. */
static bool c_same_shape(const gs_cond_args *c)
{
    const gs_value *x = arg_value(c, 0), *y = arg_value(c, 1);
    if (!x || !y || x->rank < 0 || x->rank != y->rank)
        return false;
    for (int i = 0; i < x->rank; i++)
        if (x->dims[i].v < 0 || x->dims[i].v != y->dims[i].v)
            return false;
    return true;
}

/* channel_bias(b, w): constant b holds one value per output channel of conv
 * weight w, laid out to broadcast over N,C,spatial: [C], [1,C,1..], [C,1..]. */
static bool c_channel_bias(const gs_cond_args *c)
{
    const gs_value *b = arg_value(c, 0), *w = arg_value(c, 1);
    if (!b || !w || !b->init || !w->init || w->rank < 3)
        return false;
    const gs_tensor *t = b->init;
    int64_t C = w->init->dims[0], ch = 0;
    int r = t->rank;
    if (r > w->rank || gs_tensor_numel(t) != C)
        return false;
    for (int i = 0; i < r; i++)
        if (t->dims[i] != 1)
            ch++;
    if (C == 1)
        return true;
    /* the non-1 dim must sit at position 1 of the output (aligned right) */
    int pos_in_out = w->rank - r;
    for (int i = 0; i < r; i++)
        if (t->dims[i] == C)
            return ch == 1 && pos_in_out + i == 1;
    return false;
}

/* vector_for(b, w): b is 1-D with w's last dim (a MatMul bias). */
static bool c_vector_for(const gs_cond_args *c)
{
    const gs_value *b = arg_value(c, 0), *w = arg_value(c, 1);
    return b && w && w->rank == 2 && b->rank == 1 && w->dims[1].v >= 0 && b->dims[0].v == w->dims[1].v;
}

/* float(x): x has a floating-point element type. */
static bool c_float(const gs_cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    return v && (v->dtype == GS_FLOAT || v->dtype == GS_DOUBLE || v->dtype == GS_FLOAT16);
}

/* wide_float(x): x is float32 or float64. A rule exact only in real
 * arithmetic (constants reassociated, a scale moved across a sum, a
 * written-out op fused) keeps a float16 model's overflows only there:
 * in float16 (x + 60000) - 60000 is inf for x > 5504, x alone is not. */
static bool c_wide_float(const gs_cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    return v && (v->dtype == GS_FLOAT || v->dtype == GS_DOUBLE);
}

/* Largest magnitude 2^k of a moderate element of a constant of type dtype
 * (its reciprocal, products and sums of two stay far from overflow). */
static double moderate_limit(int32_t dtype)
{
    return dtype == GS_FLOAT || dtype == GS_DOUBLE ? 16777216.0 : 16384.0;   /* 2^24, 2^14 */
}

/* moderate(c, ...): every argument is a constant (an initializer) whose
 * elements are all finite and 0 or of magnitude in [1/L, L], L 2^24 for
 * float32 and float64 and 2^14 for other types. */
static bool c_moderate(const gs_cond_args *c)
{
    for (int i = 0; i < c->n; i++) {
        const gs_value *v = arg_value(c, i);
        if (!v || !v->init || !v->init->data)
            return false;
        double lim = moderate_limit(v->init->dtype);
        for (int64_t k = 0; k < gs_tensor_numel(v->init); k++) {
            double e = fabs(gs_tensor_get_f(v->init, k));
            if (!(e == 0 || (e >= 1 / lim && e <= lim)))
                return false;
        }
    }
    return c->n > 0;
}

/* same_dim(x, i, y, j): dim i of x equals dim j of y, both known: the same
 * size, or the same symbolic dim (a dynamic model's `seq` in two values). */
static bool c_same_dim(const gs_cond_args *c)
{
    const gs_value *x = arg_value(c, 0), *y = arg_value(c, 2);
    int i = (int)arg_num(c, 1), j = (int)arg_num(c, 3);
    if (!x || !y || x->rank < 0 || y->rank < 0)
        return false;
    i = i < 0 ? i + x->rank : i;
    j = j < 0 ? j + y->rank : j;
    return i >= 0 && i < x->rank && j >= 0 && j < y->rank && gs_dim_equal(x->dims[i], y->dims[j]);
}

/* known_dim(x, i): dim i of x (from the end when negative) is a number. */
static bool c_known_dim(const gs_cond_args *c)
{
    const gs_value *x = arg_value(c, 0);
    int i = (int)arg_num(c, 1);
    if (!x || x->rank < 0)
        return false;
    i = i < 0 ? i + x->rank : i;
    return i >= 0 && i < x->rank && x->dims[i].v >= 0;
}

/* attr_eq(a, v): attribute variable a equals the literal v (int, float or
 * list); an integer default bound by "name=var|0" equals a list of that value. */
static bool c_attr_eq(const gs_cond_args *c)
{
    const gs_attr *a = arg_attr(c, 0);
    const gs_pnode *lit = c->args[1];
    if (a && a->type == GS_A_INT && lit->kind == P_LIST) {
        for (int i = 0; i < lit->nargs; i++)
            if (lit->args[i]->kind != P_NUM || lit->args[i]->num != (double)a->i)
                return false;
        return true;
    }
    if (a && a->type == GS_A_INTS && lit->kind == P_NUM) {   /* every element equal to it */
        for (size_t i = 0; i < a->n; i++)
            if ((double)a->ints[i] != lit->num)
                return false;
        return true;
    }
    return a && gs_match_attr_is(a, lit);
}

/* no_zero(c): constant c has no zero element (a Reshape shape that copies
 * no dim from its input; a divisor). Floats are compared as floats: 0.5 is
 * not zero. */
static bool c_no_zero(const gs_cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    if (!v || !v->init || !v->init->data)
        return false;
    for (int64_t i = 0; i < gs_tensor_numel(v->init); i++)
        if (gs_tensor_get_f(v->init, i) == 0)
            return false;
    return true;
}

/* noop_bcast(x, c): broadcasting c against x leaves x's shape unchanged. */
static bool c_noop_bcast(const gs_cond_args *c)
{
    const gs_value *x = arg_value(c, 0), *k = arg_value(c, 1);
    if (!x || !k || x->rank < 0 || k->rank < 0 || k->rank > x->rank)
        return false;
    for (int i = 0; i < k->rank; i++) {   /* each dim of k 1, or x's (a size or the same symbol) */
        gs_dim kd = k->dims[i], xd = x->dims[x->rank - k->rank + i];
        if (kd.v != 1 && !gs_dim_equal(kd, xd))
            return false;
    }
    return x->dtype && x->dtype == k->dtype;
}

/* same_const(a, b): two constants with the same type, shape and bytes. */
static bool c_same_const(const gs_cond_args *c)
{
    const gs_value *a = arg_value(c, 0), *b = arg_value(c, 1);
    if (!a || !b || !a->init || !b->init || !a->init->data || !b->init->data)
        return false;
    const gs_tensor *x = a->init, *y = b->init;
    return x->dtype == y->dtype && x->rank == y->rank && x->nbytes == y->nbytes &&
           !memcmp(x->dims, y->dims, (size_t)x->rank * sizeof x->dims[0]) &&
           !memcmp(x->data, y->data, x->nbytes);
}

/* not_training(n): Dropout-like op with no training input set (checked by
 * the op's arity in the pattern), kept for readability of rules. */
static bool c_true(const gs_cond_args *c)
{
    (void)c;
    return true;
}

/* Constant c has one element. */
static bool c_scalar(const gs_cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    return v && v->init && v->init->data && gs_tensor_numel(v->init) == 1;
}

/* Constant c has every element within a relative 1e-6 of v (for constants
 * such as sqrt(2) that exporters write with different roundings). */
static bool c_near(const gs_cond_args *c)
{
    return every_element(c, 1e-6);
}

/* Axes a (an attribute or a constant input) name only the last axis of x. */
static bool c_last_axis(const gs_cond_args *c)
{
    const gs_value *x = arg_value(c, 1), *v = arg_value(c, 0);
    const gs_attr *a = arg_attr(c, 0);
    int64_t axis;
    if (!x || x->rank < 1)
        return false;
    if (a && a->type == GS_A_INTS && a->n == 1)
        axis = a->ints[0];
    else if (a && a->type == GS_A_INT)
        axis = a->i;
    else if (v && v->init && v->init->data && gs_tensor_numel(v->init) == 1 &&
             (v->init->dtype == GS_INT64 || v->init->dtype == GS_INT32))
        axis = gs_tensor_get_i(v->init, 0);
    else
        return false;
    return axis == -1 || axis == x->rank - 1;
}

/* b is a vector as long as x's last dimension (a per-feature scale or shift). */
static bool c_last_dim(const gs_cond_args *c)
{
    const gs_value *b = arg_value(c, 0), *x = arg_value(c, 1);
    return b && x && x->rank >= 1 && b->rank == 1 && x->dims[x->rank - 1].v >= 0 &&
           b->dims[0].v == x->dims[x->rank - 1].v;
}

/* Optional input v is absent, or a constant with every element equal to x
 * (the value the op assumes when it is absent). */
static bool c_default(const gs_cond_args *c)
{
    const gs_pnode *p = c->args[0];
    if (p->kind == P_VAR && c->m->values[p->var] == GS_NONE && !c->m->attrs[p->var])
        return true;
    return c_all_equal(c);
}

/* p (a constant Pad "pads" input) pads only the spatial dims of x, by
 * non-negative amounts: it can move into a Conv's or pool's pads. */
static bool c_spatial_pads(const gs_cond_args *c)
{
    const gs_value *p = arg_value(c, 0), *x = arg_value(c, 1);
    if (!p || !x || !p->init || !p->init->data || p->init->dtype != GS_INT64 || x->rank < 3)
        return false;
    int64_t r = x->rank;
    if (gs_tensor_numel(p->init) != 2 * r)
        return false;
    for (int64_t i = 0; i < 2 * r; i++) {
        int64_t v = gs_tensor_get_i(p->init, i);
        if (v < 0 || v > 1 << 20 || (v != 0 && (i % r) < 2))
            return false;
    }
    return true;
}

static bool int_at(const gs_value *v, int64_t i, int64_t *out)
{
    if (!v || !v->init || !v->init->data || (v->init->dtype != GS_INT64 && v->init->dtype != GS_INT32) ||
        i >= gs_tensor_numel(v->init))
        return false;
    *out = gs_tensor_get_i(v->init, i);
    return true;
}

/* Split sizes s (absent: equal parts) along axis attribute k cut a Concat of
 * p and q back into p and q. */
static bool c_splits_match(const gs_cond_args *c)
{
    const gs_value *s = arg_value(c, 0), *p = arg_value(c, 2), *q = arg_value(c, 3);
    const gs_attr *k = arg_attr(c, 1);
    if (!p || !q || !k || k->type != GS_A_INT || p->rank < 1 || p->rank != q->rank)
        return false;
    int64_t axis = k->i < 0 ? k->i + p->rank : k->i;
    if (axis < 0 || axis >= p->rank)
        return false;
    int64_t dp = p->dims[axis].v, dq = q->dims[axis].v, s0, s1;
    if (dp < 0 || dq < 0)
        return false;
    if (c->args[0]->kind == P_VAR && c->m->values[c->args[0]->var] == GS_NONE)
        return dp == dq;
    return s && gs_tensor_numel(s->init) == 2 && int_at(s, 0, &s0) && int_at(s, 1, &s1) && s0 == dp &&
           s1 == dq;
}

/* Constant Slice axes a and b (of x) name different axes. */
static bool c_disjoint_axes(const gs_cond_args *c)
{
    const gs_value *a = arg_value(c, 0), *b = arg_value(c, 1), *x = arg_value(c, 2);
    if (!a || !b || !x || x->rank < 1 || !a->init || !b->init)
        return false;
    bool used[GS_MAX_RANK] = { false };
    for (int t = 0; t < 2; t++) {
        const gs_value *v = t ? b : a;
        for (int64_t i = 0; i < gs_tensor_numel(v->init); i++) {
            int64_t ax;
            if (!int_at(v, i, &ax))
                return false;
            ax = ax < 0 ? ax + x->rank : ax;
            if (ax < 0 || ax >= x->rank || used[ax])
                return false;
            used[ax] = true;
        }
    }
    return true;
}

/* x has element type t (an onnx TensorProto data type: 1 float32, 7 int64...). */
static bool c_dtype(const gs_cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    return v && v->dtype == (int32_t)arg_num(c, 1);
}

/* Attribute variable k as an axis of x (negative counts from the end);
 * -1 when it is not a valid axis. */
static int axis_of(const gs_cond_args *c, int karg, const gs_value *x)
{
    const gs_attr *a = arg_attr(c, karg);
    if (!a || a->type != GS_A_INT || !x || x->rank < 1)
        return -1;
    int64_t k = a->i < 0 ? a->i + x->rank : a->i;
    return k >= 0 && k < x->rank ? (int)k : -1;
}

/* inner_axis(k, x): attribute k names an axis of x other than its last (the
 * rows of a MatMul, the tokens before a LayerNormalization). */
static bool c_inner_axis(const gs_cond_args *c)
{
    const gs_value *x = arg_value(c, 1);
    int k = axis_of(c, 0, x);
    return k >= 0 && k < x->rank - 1;
}

/* outside_axis(b, k, x): b, broadcast against x, does not reach x's axis k
 * (b has fewer dims than x has from axis k on): picking along axis k of
 * x op b picks along x alone. */
static bool c_outside_axis(const gs_cond_args *c)
{
    const gs_value *b = arg_value(c, 0), *x = arg_value(c, 2);
    int k = axis_of(c, 1, x);
    return k >= 0 && b && b->rank >= 0 && b->rank < x->rank - k;
}

/* along_axis(y, k, x): y has x's rank and x's known length on axis k: picking
 * along axis k of x op y picks along both. */
static bool c_along_axis(const gs_cond_args *c)
{
    const gs_value *y = arg_value(c, 0), *x = arg_value(c, 2);
    int k = axis_of(c, 1, x);
    return k >= 0 && y && y->rank == x->rank && x->dims[k].v >= 0 && y->dims[k].v == x->dims[k].v;
}

/* pointwise(w): w is a conv weight [Cout, Cin, 1, ...] (every spatial dim 1). */
static bool c_pointwise(const gs_cond_args *c)
{
    const gs_value *w = arg_value(c, 0);
    if (!w || w->rank < 3)
        return false;
    for (int i = 2; i < w->rank; i++)
        if (w->dims[i].v != 1)
            return false;
    return true;
}

/* narrows(w): conv weight w has fewer output channels than input channels
 * (both known). */
static bool c_narrows(const gs_cond_args *c)
{
    const gs_value *w = arg_value(c, 0);
    return w && w->rank >= 2 && w->dims[0].v > 0 && w->dims[1].v > w->dims[0].v;
}

/* unit_perm(p, x): permutation p moves only x's axes of length 1 (the others
 * keep their order) and x's shape is known: the Transpose is a Reshape. */
static bool c_unit_perm(const gs_cond_args *c)
{
    const gs_attr *p = arg_attr(c, 0);
    const gs_value *x = arg_value(c, 1);
    if (!p || !x || p->type != GS_A_INTS || x->rank < 1 || p->n != (size_t)x->rank)
        return false;
    int64_t last = -1;
    uint32_t seen = 0;
    for (int i = 0; i < x->rank; i++) {
        int64_t a = p->ints[i];
        if (a < 0 || a >= x->rank || (seen >> a & 1) || x->dims[a].v < 0)
            return false;
        seen |= 1u << a;
        if (x->dims[a].v == 1)
            continue;
        if (a < last)
            return false;
        last = a;
    }
    return true;
}

/* unreduced(y): no live node reads y as a Reduce* op (ReduceMean, ReduceSum,
 * ...). A square read by a reduction is the variance of a written-out norm,
 * whose Pow ONNX Runtime's LayerNormalization fusions look for. */
static bool c_unreduced(const gs_cond_args *c)
{
    const gs_value *y = arg_value(c, 0);
    if (!y)
        return false;
    for (int32_t u = 0; u < y->nuses; u++) {
        const gs_node *n = &c->g->nodes[y->uses[u]];
        if (!(n->flags & GS_N_DEAD) && !strncmp(n->op, "Reduce", 6))
            return false;
    }
    return true;
}

/* channel_scale(s, w): constant s has one value per column of 2-D weight w,
 * on axis 1 of a rank-4 tensor it broadcasts against ([C, 1, 1] or
 * [1, C, 1, 1]): a per-channel scale after a Transpose to channels first. */
static bool c_channel_scale(const gs_cond_args *c)
{
    const gs_value *s = arg_value(c, 0), *w = arg_value(c, 1);
    if (!s || !w || !s->init || w->rank != 2 || w->dims[1].v < 0 || s->init->rank > 4)
        return false;
    const gs_tensor *t = s->init;
    int64_t C = w->dims[1].v;
    if (gs_tensor_numel(t) != C)
        return false;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] != (4 - t->rank + i == 1 ? C : 1))
            return false;
    return true;
}

/* The one integer element of constant v, into *out; false otherwise. */
static bool one_int(const gs_value *v, int64_t *out)
{
    if (!v || !v->init || !v->init->data || gs_tensor_numel(v->init) != 1 ||
        (v->init->dtype != GS_INT64 && v->init->dtype != GS_INT32))
        return false;
    *out = gs_tensor_get_i(v->init, 0);
    return true;
}

/* half_dim(h, x): constant h is half of x's known, even last dim (where a
 * rotary embedding's rotate_half splits a head). */
static bool c_half_dim(const gs_cond_args *c)
{
    const gs_value *x = arg_value(c, 1);
    int64_t h, d = x && x->rank >= 1 && !x->dims[x->rank - 1].sym ? x->dims[x->rank - 1].v : -1;
    return one_int(arg_value(c, 0), &h) && d > 0 && d % 2 == 0 && h == d / 2;
}

/* slice_end(e, x): constant Slice end e reaches past x's known last dim
 * (a slice "to the end" of the last axis). */
static bool c_slice_end(const gs_cond_args *c)
{
    const gs_value *x = arg_value(c, 1);
    int64_t e, d = x && x->rank >= 1 && !x->dims[x->rank - 1].sym ? x->dims[x->rank - 1].v : -1;
    return one_int(arg_value(c, 0), &e) && d >= 0 && e >= d;
}

/* halves_equal(t): constant t's last axis has an even length and its two
 * halves are equal element for element (a rotary cos/sin table built as
 * Concat(f, f), so rotate_half's pairs share one angle). */
static bool c_halves_equal(const gs_cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    if (!v || !v->init || !v->init->data || v->init->rank < 1)
        return false;
    const gs_tensor *t = v->init;
    int64_t d = t->dims[t->rank - 1], n = gs_tensor_numel(t);
    if (d < 2 || d % 2)
        return false;
    for (int64_t i = 0; i < n; i += d)
        for (int64_t j = 0; j < d / 2; j++)
            if (gs_tensor_get_f(t, i + j) != gs_tensor_get_f(t, i + j + d / 2))
                return false;
    return n > 0;
}

/* pairs_equal(t): constant t's last axis has an even length and elements
 * 2i and 2i + 1 of it are equal (an interleaved rotary cos/sin table built
 * with repeat_interleave, so each rotated pair shares one angle). */
static bool c_pairs_equal(const gs_cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    if (!v || !v->init || !v->init->data || v->init->rank < 1)
        return false;
    const gs_tensor *t = v->init;
    int64_t d = t->dims[t->rank - 1], n = gs_tensor_numel(t);
    if (d < 2 || d % 2)
        return false;
    for (int64_t i = 0; i < n; i += 2)
        if (gs_tensor_get_f(t, i) != gs_tensor_get_f(t, i + 1))
            return false;
    return n > 0;
}

/* ---- attention masks ------------------------------------------------------ */

/* mask_fill(f): constant f has one element, at most -10000 (or -inf): the
 * fill of a masked_fill. A score set to f adds exp(f - m) to a softmax whose
 * largest score is m, which is 0 in float32 once m > f + 104: a row with
 * one unmasked score above -9896 (a fill of -10000), above -1e9 + 104 (a
 * fill of -1e9), gives the same softmax as with those scores removed. */
static bool c_mask_fill(const gs_cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    return v && v->init && v->init->data && gs_tensor_numel(v->init) == 1 &&
           gs_tensor_get_f(v->init, 0) <= -1e4;
}

/* The live node making value v, or NULL. */
static const gs_node *made_by(const gs_graph *g, const gs_value *v, const char *op)
{
    const gs_node *n = v && v->producer != GS_NONE ? &g->nodes[v->producer] : NULL;
    return n && !(n->flags & GS_N_DEAD) && !*n->domain && !strcmp(n->op, op) ? n : NULL;
}

/* Value v has no zero element: a constant, or a ConstantOfShape of a
 * non-zero value. */
static bool nonzero_fill(const gs_graph *g, const gs_value *v)
{
    const gs_node *n = made_by(g, v, "ConstantOfShape");
    const gs_attr *a = n ? gs_ir_attr(n, "value") : NULL;
    const gs_tensor *t = a && a->type == GS_A_TENSOR ? a->t : v ? v->init : NULL;
    if (n && !a)
        return false;   /* the default fill is 0 */
    if (!t || !t->data || gs_tensor_numel(t) < 1)
        return false;
    for (int64_t i = 0; i < gs_tensor_numel(t); i++)
        if (gs_tensor_get_f(t, i) == 0)
            return false;
    return true;
}

/* The one element of small integer value v, or false. */
static bool one_elem(const gs_graph *g, gs_id v, gs_dim *e)
{
    gs_dim el[GS_MAX_ELEMS];
    if (v == GS_NONE || gs_infer_elems(g, v, el) != 1)
        return false;
    *e = el[0];
    return true;
}

/* Bool value c as Equal(t, 0) (0 a constant of zeros, either operand) with
 * t = Trilu(x, k){upper=0} of an x with no zero element: c is true exactly
 * where column j > row i + k of each matrix of t. The Trilu's output and
 * its k (an element: a number or a dim name, 0 when absent) into *tri, *k. */
static bool trilu_mask(const gs_graph *g, const gs_value *c, const gs_value **tri, gs_dim *k)
{
    const gs_node *eq = made_by(g, c, "Equal");
    if (!eq || eq->nin != 2 || eq->in[0] == GS_NONE || eq->in[1] == GS_NONE)
        return false;
    for (int side = 0; side < 2; side++) {
        const gs_tensor *z = gs_infer_const(g, eq, 1 - side);
        const gs_value *t = &g->values[eq->in[side]];
        const gs_node *tr = made_by(g, t, "Trilu");
        if (!z || !z->data || !tr || gs_attr_int(tr, "upper", 1) != 0 || tr->in[0] == GS_NONE ||
            !nonzero_fill(g, &g->values[tr->in[0]]))
            continue;
        bool zeros = gs_tensor_numel(z) > 0;
        for (int64_t i = 0; i < gs_tensor_numel(z); i++)
            zeros = zeros && gs_tensor_get_f(z, i) == 0;
        gs_dim e = { 0, NULL };   /* k absent: 0 */
        bool has_k = tr->nin > 1 && tr->in[1] != GS_NONE;
        if (!zeros || (has_k && !one_elem(g, tr->in[1], &e)))
            continue;
        *tri = t;
        *k = e;
        return true;
    }
    return false;
}

/* Value v as Range(0, n, 1): the index vector 0, 1, ..., n - 1. */
static bool bare_range(const gs_graph *g, const gs_value *v)
{
    const gs_node *r = made_by(g, v, "Range");
    gs_dim start, delta;
    return r && r->nin == 3 && one_elem(g, r->in[0], &start) && one_elem(g, r->in[2], &delta) &&
           gs_elem_known(start) && start.v == 0 && gs_elem_known(delta) && delta.v == 1;
}

/* Value v as an index vector (bare_range) plus *off: the Range itself (off
 * 0), or an Add of it and a one-element value (either operand). */
static bool index_range(const gs_graph *g, const gs_value *v, gs_dim *off)
{
    *off = (gs_dim){ 0, NULL };
    if (bare_range(g, v))
        return true;
    const gs_node *add = made_by(g, v, "Add");
    if (!add || add->nin != 2 || add->in[0] == GS_NONE || add->in[1] == GS_NONE)
        return false;
    for (int side = 0; side < 2; side++)
        if (bare_range(g, &g->values[add->in[side]]) && one_elem(g, add->in[1 - side], off))
            return true;
    return false;
}

/* Value v as Unsqueeze(r) at axis `axis` of a rank-2 result: r, or NULL. */
static const gs_value *unsqueezed(const gs_graph *g, const gs_value *v, int64_t axis)
{
    const gs_node *u = made_by(g, v, "Unsqueeze");
    if (!u || u->in[0] == GS_NONE || v->rank != 2 || g->values[u->in[0]].rank != 1)
        return NULL;
    gs_dim a;
    const int64_t *attr;
    if (u->nin > 1 && u->in[1] != GS_NONE) {
        if (!one_elem(g, u->in[1], &a) || !gs_elem_known(a))
            return NULL;
    } else if (gs_attr_ints(u, "axes", &attr) == 1) {
        a = (gs_dim){ attr[0], NULL };
    } else {
        return NULL;
    }
    return a.v == axis || a.v == axis - 2 ? &g->values[u->in[0]] : NULL;
}

/* Bool value c of [S, L] as Greater(cols, rows) with cols the key index
 * Unsqueeze(Range(0, L, 1), 0) and rows the query index plus an offset,
 * Unsqueeze(Range(0, S, 1) + p, 1) (or Less with the operands swapped): c
 * is true exactly where column j > row i + p, p into *p (Whisper's and
 * Hugging Face's causal mask with a cache, built from positions). */
static bool range_mask(const gs_graph *g, const gs_value *c, gs_dim *p)
{
    const gs_node *gt = made_by(g, c, "Greater"), *lt = gt ? NULL : made_by(g, c, "Less");
    const gs_node *n = gt ? gt : lt;
    if (!n || n->nin != 2 || n->in[0] == GS_NONE || n->in[1] == GS_NONE || c->rank != 2)
        return false;
    const gs_value *cols = unsqueezed(g, &g->values[n->in[gt ? 0 : 1]], 0);
    const gs_value *rows = unsqueezed(g, &g->values[n->in[gt ? 1 : 0]], 1);
    return cols && rows && bare_range(g, cols) && index_range(g, rows, p);
}

/* Bool constant c with a false element in every row of its last axis. */
static bool rows_keep_one(const gs_tensor *t)
{
    int64_t n = gs_tensor_numel(t), L = t->rank ? t->dims[t->rank - 1] : 1;
    if (t->dtype != GS_BOOL || !t->data || L < 1)
        return false;
    for (int64_t r = 0; r < n; r += L) {
        bool kept = false;
        for (int64_t j = 0; j < L && !kept; j++)
            kept = !gs_tensor_get_i(t, r + j);
        if (!kept)
            return false;
    }
    return true;
}

/* The name z of a dim or0(z) of value x (its length in *len), or NULL:
 * where or0(z) is not z it is 0, and x is empty. Dims compared with
 * or0(z) read as z (gs_dim_equal_or0) then differ only where x is empty. */
static const char *empty_unless(const gs_graph *g, const gs_value *x, size_t *len)
{
    for (int i = 0; i < x->rank; i++) {
        const char *z = gs_or0_of(g, x->dims[i], len);
        if (z)
            return z;
    }
    return NULL;
}

/* keeps_key(c, x): bool c (true where a key is masked), broadcast against
 * scores x, leaves x's shape and at least one key of every row unmasked: c
 * is a constant with a false in every row, or a lower Trilu mask
 * (trilu_mask) or a mask of positions (range_mask) with k >= 0, whose first
 * column is always kept. A Where on
 * such a mask never masks a whole row, where a written-out masked_fill and
 * an attention's -inf mask disagree. Where x has a dim or0(z) (queries
 * whose rows a broadcast gives, see gs_infer_bdim), shapes are compared
 * with or0(z) read as z: where they differ x is empty, and so are both
 * sides of a rule, of one broadcast shape. */
static bool c_keeps_key(const gs_cond_args *c)
{
    const gs_value *m = arg_value(c, 0), *x = arg_value(c, 1);
    if (!m || !x || m->dtype != GS_BOOL || m->rank < 0 || x->rank < m->rank)
        return false;
    size_t zlen = 0;
    const char *z = empty_unless(c->g, x, &zlen);
    for (int i = 0; i < m->rank; i++)
        if (m->dims[i].v != 1 && !gs_dim_equal_or0(m->dims[i], x->dims[x->rank - m->rank + i], z, zlen))
            return false;
    const gs_value *tri;
    gs_dim k;
    if (m->init)
        return rows_keep_one(m->init);
    return (trilu_mask(c->g, m, &tri, &k) || range_mask(c->g, m, &k)) && gs_elem_nonneg(k);
}

/* Constant t of [..., S, L] (leading dims 1) masks exactly where column
 * j > row i + p: a bool t is true there and false elsewhere; a float t (an
 * additive mask) is at most -10000 there (see mask_fill) and 0 elsewhere. */
static bool causal_const(const gs_tensor *t, int64_t p)
{
    int64_t S = t->dims[t->rank - 2], L = t->dims[t->rank - 1];
    if (!t->data || gs_tensor_numel(t) != S * L)
        return false;
    for (int64_t i = 0; i < S; i++)
        for (int64_t j = 0; j < L; j++) {
            bool masked;
            if (t->dtype == GS_BOOL) {
                masked = gs_tensor_get_i(t, i * L + j) != 0;
            } else {
                double v = gs_tensor_get_f(t, i * L + j);
                if (v != 0 && !(v <= -1e4))
                    return false;
                masked = v != 0;
            }
            if (masked != (j > i + p))
                return false;
        }
    return true;
}

/* causal(c, q, k[, pk]): mask c (bool: true where a key is masked; or a
 * float constant, additive: 0 or at most -10000) is the causal
 * mask of an Attention with queries q [B, heads, S, D], new keys k
 * [B, kv_heads, T, D] and past keys pk [B, kv_heads, P, D] (none: P = 0):
 * c is [S, P + T] (after leading 1s) and true exactly where key j > query
 * i + P, which is what is_causal masks (aligned to the end of the past). A
 * constant is read element by element; a lower Trilu mask (trilu_mask)
 * must have the shape and a k known to equal P, a mask of positions
 * (range_mask) an offset known to equal P. Where q's rows are or0(z)
 * (Whisper's: token rows broadcast with the position rows left), the
 * shapes are compared with or0(z) read as z: where they differ q has no
 * rows, and the attention's output and the masked product a rule replaces
 * are both empty ([B, heads, 0, Dv]), or the original fails. */
static bool c_causal(const gs_cond_args *c)
{
    const gs_value *m = arg_value(c, 0), *q = arg_value(c, 1), *k = arg_value(c, 2);
    const gs_value *pk = c->n > 3 ? arg_value(c, 3) : NULL;
    if (!m || !q || !k || c->n > 4 || (c->n > 3 && !pk) || (m->dtype != GS_BOOL && !m->init) || m->rank < 2 ||
        q->rank != 4 || k->rank != 4 || (pk && pk->rank != 4))
        return false;
    for (int i = 0; i < m->rank - 2; i++)
        if (m->dims[i].v != 1)
            return false;
    gs_dim P = pk ? gs_elem_of_dim(pk->dims[2]) : (gs_dim){ 0, NULL };
    size_t zlen = 0;
    const char *z = gs_or0_of(c->g, q->dims[2], &zlen);
    gs_dim L = gs_elem_of_dim(m->dims[m->rank - 1]), T = gs_elem_of_dim(k->dims[2]);
    if (!gs_dim_equal_or0(m->dims[m->rank - 2], q->dims[2], z, zlen) || !gs_elem_sum_is_or0(L, P, T, z, zlen))
        return false;
    if (m->init)
        return gs_elem_known(P) && causal_const(m->init, P.v);
    const gs_value *tri;
    gs_dim tk;
    if (range_mask(c->g, m, &tk))   /* [S, L] by its Range shapes, checked above */
        return gs_elem_sum_is(tk, P, (gs_dim){ 0, NULL });
    if (!trilu_mask(c->g, m, &tri, &tk) || tri->rank != m->rank ||
        !gs_elem_sum_is(tk, P, (gs_dim){ 0, NULL }))
        return false;
    for (int i = 0; i < m->rank; i++)
        if (!gs_dim_equal(tri->dims[i], m->dims[i]))
            return false;
    return true;
}

/* mask_rows(m, q): attention mask m has a dim 1 for the query rows (its
 * dim -2) where queries q [B, heads, S, D] (or [B, S, hidden]) have S not
 * known to be 1: ONNX Runtime's Attention takes only a mask with S rows
 * (the operator's specification broadcasts it). */
static bool c_mask_rows(const gs_cond_args *c)
{
    const gs_value *m = arg_value(c, 0), *q = arg_value(c, 1);
    return m && q && m->rank >= 2 && (q->rank == 4 || q->rank == 3) && m->dims[m->rank - 2].v == 1 &&
           q->dims[q->rank - 2].v != 1;
}

/* Argument kinds (gs_rule_func.args): 'v' a value variable of the match,
 * 'a' an attribute variable, 'x' either, 'n' a number, 'l' a number or a
 * list of numbers, 'i' an integer (a number, a value variable bound to a
 * one-element integer constant, or dim()); a trailing '+' repeats the kind
 * before it (one or more). */
static const gs_rule_func funcs[] = {
    /* conditions ("where") */
    { "const", "v+", GS_FN_WHERE, GS_F_COND, c_const, true },
    { "rank", "vn", GS_FN_WHERE, GS_F_COND, c_rank, false },
    { "all_equal", "vn", GS_FN_WHERE, GS_F_COND, c_all_equal, true },
    { "inverse_perm", "aa", GS_FN_WHERE, GS_F_COND, c_inverse_perm, false },
    { "same_type", "va", GS_FN_WHERE, GS_F_COND, c_same_type, false },
    { "same_shape", "vv", GS_FN_WHERE, GS_F_COND, c_same_shape, false },
    { "channel_bias", "vv", GS_FN_WHERE, GS_F_COND, c_channel_bias, true },
    { "vector_for", "vv", GS_FN_WHERE, GS_F_COND, c_vector_for, true },
    { "float", "v", GS_FN_WHERE, GS_F_COND, c_float, false },
    { "wide_float", "v", GS_FN_WHERE, GS_F_COND, c_wide_float, false },
    { "moderate", "v+", GS_FN_WHERE, GS_F_COND, c_moderate, false },
    { "same_dim", "vnvn", GS_FN_WHERE, GS_F_COND, c_same_dim, false },
    { "known_dim", "vn", GS_FN_WHERE, GS_F_COND, c_known_dim, false },
    { "attr_eq", "al", GS_FN_WHERE, GS_F_COND, c_attr_eq, false },
    { "true", "", GS_FN_WHERE, GS_F_COND, c_true, false },
    { "no_zero", "v", GS_FN_WHERE, GS_F_COND, c_no_zero, true },
    { "noop_bcast", "vv", GS_FN_WHERE, GS_F_COND, c_noop_bcast, false },
    { "same_const", "vv", GS_FN_WHERE, GS_F_COND, c_same_const, true },
    { "scalar", "v", GS_FN_WHERE, GS_F_COND, c_scalar, false },
    { "near", "vn", GS_FN_WHERE, GS_F_COND, c_near, false },
    { "last_axis", "xv", GS_FN_WHERE, GS_F_COND, c_last_axis, false },
    { "last_dim", "vv", GS_FN_WHERE, GS_F_COND, c_last_dim, false },
    { "dtype", "vn", GS_FN_WHERE, GS_F_COND, c_dtype, false },
    { "default", "vn", GS_FN_WHERE, GS_F_COND, c_default, false },
    { "spatial_pads", "vv", GS_FN_WHERE, GS_F_COND, c_spatial_pads, false },
    { "splits_match", "vavv", GS_FN_WHERE, GS_F_COND, c_splits_match, false },
    { "disjoint_axes", "vvv", GS_FN_WHERE, GS_F_COND, c_disjoint_axes, false },
    { "inner_axis", "av", GS_FN_WHERE, GS_F_COND, c_inner_axis, false },
    { "outside_axis", "vav", GS_FN_WHERE, GS_F_COND, c_outside_axis, false },
    { "along_axis", "vav", GS_FN_WHERE, GS_F_COND, c_along_axis, false },
    { "pointwise", "v", GS_FN_WHERE, GS_F_COND, c_pointwise, false },
    { "narrows", "v", GS_FN_WHERE, GS_F_COND, c_narrows, false },
    { "unit_perm", "av", GS_FN_WHERE, GS_F_COND, c_unit_perm, false },
    { "unreduced", "v", GS_FN_WHERE, GS_F_COND, c_unreduced, false },
    { "channel_scale", "vv", GS_FN_WHERE, GS_F_COND, c_channel_scale, false },
    { "half_dim", "vv", GS_FN_WHERE, GS_F_COND, c_half_dim, false },   /* rotary fusions */
    { "slice_end", "vv", GS_FN_WHERE, GS_F_COND, c_slice_end, false },
    { "halves_equal", "v", GS_FN_WHERE, GS_F_COND, c_halves_equal, false },
    { "pairs_equal", "v", GS_FN_WHERE, GS_F_COND, c_pairs_equal, false },
    { "mask_fill", "v", GS_FN_WHERE, GS_F_COND, c_mask_fill, true },   /* attention masks */
    { "keeps_key", "vv", GS_FN_WHERE, GS_F_COND, c_keeps_key, false },
    { "causal", "vvv+", GS_FN_WHERE, GS_F_COND, c_causal, false },
    { "mask_rows", "vv", GS_FN_WHERE, GS_F_COND, c_mask_rows, false },
    /* rewrite functions */
    { "dim", "vi", GS_FN_INPUT | GS_FN_ATTR | GS_FN_INT, GS_F_DIM, NULL, false },
    { "shape", "v", GS_FN_INPUT, GS_F_SHAPE, NULL, false },
    { "compose", "aa", GS_FN_ATTR, GS_F_COMPOSE, NULL, false },
    { "add_pads", "av", GS_FN_ATTR, GS_F_ADD_PADS, NULL, false },
    { "value", "v", GS_FN_ATTR, GS_F_VALUE, NULL, false },
    { "inverse", "v", GS_FN_ATTR, GS_F_INVERSE, NULL, false },
};
enum { NFUNCS = sizeof funcs / sizeof funcs[0] };

const gs_rule_func *gs_rule_func_find(const char *name)
{
    for (int i = 0; i < NFUNCS; i++)
        if (!strcmp(funcs[i].name, name))
            return &funcs[i];
    return NULL;
}

const gs_rule_func *gs_rule_func_at(int i)
{
    return i >= 0 && i < NFUNCS ? &funcs[i] : NULL;
}

bool gs_rule_func_arity(const gs_rule_func *f, int nargs)
{
    size_t n = strlen(f->args);
    if (n && f->args[n - 1] == '+')
        return nargs >= (int)n - 1;
    return nargs == (int)n;
}

char gs_rule_func_arg(const gs_rule_func *f, int k)
{
    size_t n = strlen(f->args);
    if (n && f->args[n - 1] == '+' && k >= (int)n - 2)
        return f->args[n - 2];
    return k < (int)n ? f->args[k] : 0;
}
