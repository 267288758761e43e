/*
 * match.c - finding the matches of compiled rules in a graph, and the
 * conditions of their "where" lists.
 *
 * Candidates come from an index of live nodes by op, built once per call,
 * so a pattern is tried only at nodes of its root's op. Matching walks the
 * pattern tree down the producers of the node's inputs, binding variables
 * to values and attribute variables to attributes; commutative ops are tried
 * in both operand orders. Multi-statement patterns (several roots sharing an
 * input) look for further roots among the consumers of values already bound.
 * A match is refused when a value inside it (not a root output) is read
 * outside the match or is a graph output, unless the rule is marked
 * shared_inner.
 *
 * An attribute a pattern node does not mention matches only when the node
 * leaves it out or gives its default value (or it cannot change the output
 * the rule reads, as BatchNormalization's momentum), unless the rewrite
 * copies that node's attributes with "{...}": a rule that does not say
 * what training_mode=1, auto_pad=SAME_UPPER or allowzero=1 would do does
 * not match nodes that have them.
 */
#include "gs_ops.h"
#include "gs_rules.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct mstate {
    const gs_graph *g;
    int64_t opset;
    gs_match m;                 /* m.rule: the rule being matched */
    bool forced;                /* commutative nodes take the operand order in swaps */
    uint32_t swaps;             /* bit per pattern slot: 1 matches the operands swapped */
} mstate;

/* What matching a rule changes in a state: its slots' nodes and its
 * variables' bindings (a "xs..." binding's other fields are read only while
 * its value is bound). Saving and restoring just these, as far as the rule's
 * slots and variables reach, and not the whole 1 KiB state, at every node
 * tried is much of the matcher's time. */
typedef struct msaved {
    gs_id nodes[GS_MAX_PATTERN];
    gs_id values[GS_MAX_BINDINGS];
    const gs_attr *attrs[GS_MAX_BINDINGS];
} msaved;

static void save(const mstate *s, msaved *sv)
{
    const gs_rule *r = s->m.rule;
    memcpy(sv->nodes, s->m.nodes, (size_t)r->nslots * sizeof *sv->nodes);
    memcpy(sv->values, s->m.values, (size_t)r->nvars * sizeof *sv->values);
    memcpy(sv->attrs, s->m.attrs, (size_t)r->nvars * sizeof *sv->attrs);
}

static void restore(mstate *s, const msaved *sv)
{
    const gs_rule *r = s->m.rule;
    memcpy(s->m.nodes, sv->nodes, (size_t)r->nslots * sizeof *sv->nodes);
    memcpy(s->m.values, sv->values, (size_t)r->nvars * sizeof *sv->values);
    memcpy(s->m.attrs, sv->attrs, (size_t)r->nvars * sizeof *sv->attrs);
}

static bool bind_value(gs_match *m, int var, gs_id v)
{
    if (m->values[var] != GS_NONE)
        return m->values[var] == v;
    m->values[var] = v;
    return true;
}

static bool attr_equal_literal(const gs_attr *a, const gs_pnode *lit)
{
    if (lit->kind == P_NUM)
        return (a->type == GS_A_INT && (double)a->i == lit->num) ||
               (a->type == GS_A_FLOAT && fabs(a->f - lit->num) < 1e-6);
    if (lit->kind == P_LIST && a->type == GS_A_INTS && a->n == (size_t)lit->nargs) {
        for (int i = 0; i < lit->nargs; i++)
            if (lit->args[i]->kind != P_NUM || (double)a->ints[i] != lit->args[i]->num)
                return false;
        return true;
    }
    if (lit->kind == P_VAR && a->type == GS_A_STRING)   /* a bare word compares with a string */
        return !strcmp(a->s, lit->name);
    return false;
}

/* Two attributes hold the same value (a variable bound twice). */
static bool attr_same(const gs_attr *a, const gs_attr *b)
{
    if (a == b)
        return true;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case GS_A_INT: return a->i == b->i;
    case GS_A_FLOAT: return a->f == b->f;
    case GS_A_STRING: return a->slen == b->slen && !memcmp(a->s, b->s, a->slen);
    case GS_A_INTS: return a->n == b->n && !memcmp(a->ints, b->ints, a->n * sizeof *a->ints);
    case GS_A_FLOATS: return a->n == b->n && !memcmp(a->floats, b->floats, a->n * sizeof *a->floats);
    default: return false;
    }
}

/* ---- attributes a pattern leaves out ------------------------------------- */

typedef struct attr_rule {
    const char *op, *attr;
    char kind;                  /* 'x' never changes the output a rule reads; 'i', 'f', 's': the
                                   default value; 'l': a list of that value (any length) */
    double num;                 /* 'i', 'f', 'l' */
    const char *str;            /* 's' */
    int since, until;           /* opsets where this default holds (until 0: on) */
} attr_rule;

static const attr_rule attr_rules[] = {
    { "BatchNormalization", "momentum", 'x', 0, NULL, 0, 0 },   /* running statistics, training only */
    { "BatchNormalization", "epsilon", 'f', 1e-5, NULL, 0, 0 },
    { "BatchNormalization", "training_mode", 'i', 0, NULL, 0, 0 },
    { "BatchNormalization", "spatial", 'i', 1, NULL, 0, 0 },
    { "Dropout", "seed", 'x', 0, NULL, 0, 0 },
    { "Dropout", "ratio", 'x', 0, NULL, 7, 11 },   /* an attribute, and no training mode, before 12 */
    { "Conv", "kernel_shape", 'x', 0, NULL, 0, 0 },   /* the weight's spatial dims in a valid model */
    { "Conv", "auto_pad", 's', 0, "NOTSET", 0, 0 },
    { "Conv", "dilations", 'l', 1, NULL, 0, 0 },
    { "Conv", "strides", 'l', 1, NULL, 0, 0 },
    { "Conv", "pads", 'l', 0, NULL, 0, 0 },
    { "Conv", "group", 'i', 1, NULL, 0, 0 },
    { "MaxPool", "auto_pad", 's', 0, "NOTSET", 0, 0 },
    { "MaxPool", "ceil_mode", 'i', 0, NULL, 0, 0 },
    { "MaxPool", "dilations", 'l', 1, NULL, 0, 0 },
    { "MaxPool", "pads", 'l', 0, NULL, 0, 0 },
    { "MaxPool", "storage_order", 'i', 0, NULL, 0, 0 },
    { "MaxPool", "strides", 'l', 1, NULL, 0, 0 },
    { "AveragePool", "auto_pad", 's', 0, "NOTSET", 0, 0 },
    { "AveragePool", "ceil_mode", 'i', 0, NULL, 0, 0 },
    { "AveragePool", "count_include_pad", 'i', 0, NULL, 0, 0 },
    { "AveragePool", "dilations", 'l', 1, NULL, 0, 0 },
    { "AveragePool", "pads", 'l', 0, NULL, 0, 0 },
    { "AveragePool", "strides", 'l', 1, NULL, 0, 0 },
    { "Gemm", "alpha", 'f', 1, NULL, 0, 0 },
    { "Gemm", "beta", 'f', 1, NULL, 0, 0 },
    { "Gemm", "transA", 'i', 0, NULL, 0, 0 },
    { "Gemm", "transB", 'i', 0, NULL, 0, 0 },
    { "Softmax", "axis", 'i', 1, NULL, 0, 12 },
    { "Softmax", "axis", 'i', -1, NULL, 13, 0 },
    { "LogSoftmax", "axis", 'i', 1, NULL, 0, 12 },
    { "LogSoftmax", "axis", 'i', -1, NULL, 13, 0 },
    { "Hardmax", "axis", 'i', 1, NULL, 0, 12 },
    { "Hardmax", "axis", 'i', -1, NULL, 13, 0 },
    { "Reshape", "allowzero", 'i', 0, NULL, 0, 0 },
    { "Flatten", "axis", 'i', 1, NULL, 0, 0 },
    { "Split", "axis", 'i', 0, NULL, 0, 0 },
    { "Split", "num_outputs", 'x', 0, NULL, 0, 0 },   /* the node's output count in a valid model */
    { "Gather", "axis", 'i', 0, NULL, 0, 0 },
    { "Cast", "saturate", 'i', 1, NULL, 0, 0 },
    { "LayerNormalization", "axis", 'i', -1, NULL, 0, 0 },
    { "LayerNormalization", "epsilon", 'f', 1e-5, NULL, 0, 0 },
    { "LayerNormalization", "stash_type", 'i', 1, NULL, 0, 0 },
    { "Gelu", "approximate", 's', 0, "none", 0, 0 },
    { "Pad", "mode", 's', 0, "constant", 0, 0 },
    { "Resize", "mode", 's', 0, "nearest", 0, 0 },
    { "Resize", "coordinate_transformation_mode", 's', 0, "half_pixel", 11, 0 },
    { "Resize", "cubic_coeff_a", 'f', -0.75, NULL, 0, 0 },
    { "Resize", "exclude_outside", 'i', 0, NULL, 0, 0 },
    { "Resize", "extrapolation_value", 'f', 0, NULL, 0, 0 },
    { "Resize", "nearest_mode", 's', 0, "round_prefer_floor", 0, 0 },
    { "Resize", "antialias", 'i', 0, NULL, 0, 0 },
    { "Resize", "keep_aspect_ratio_policy", 's', 0, "stretch", 0, 0 },
    { "LeakyRelu", "alpha", 'f', 0.01, NULL, 0, 0 },
    { "Elu", "alpha", 'f', 1, NULL, 0, 0 },
    { "Celu", "alpha", 'f', 1, NULL, 0, 0 },
    { "HardSigmoid", "alpha", 'f', 0.2, NULL, 0, 0 },
    { "HardSigmoid", "beta", 'f', 0.5, NULL, 0, 0 },
    { "ArgMax", "axis", 'i', 0, NULL, 0, 0 },
    { "ArgMax", "keepdims", 'i', 1, NULL, 0, 0 },
    { "ArgMax", "select_last_index", 'i', 0, NULL, 0, 0 },
    { "ArgMin", "axis", 'i', 0, NULL, 0, 0 },
    { "ArgMin", "keepdims", 'i', 1, NULL, 0, 0 },
    { "ArgMin", "select_last_index", 'i', 0, NULL, 0, 0 },
    { "CumSum", "exclusive", 'i', 0, NULL, 0, 0 },
    { "CumSum", "reverse", 'i', 0, NULL, 0, 0 },
    { "InstanceNormalization", "epsilon", 'f', 1e-5, NULL, 0, 0 },
    { "Shape", "start", 'i', 0, NULL, 0, 0 },
    { "*Reduce", "keepdims", 'i', 1, NULL, 0, 0 },   /* "*Reduce": every op named Reduce... */
    { "*Reduce", "noop_with_empty_axes", 'i', 0, NULL, 0, 0 },
};

static bool attr_rule_is(const attr_rule *r, const char *op, const char *attr, int64_t opset)
{
    bool op_ok = r->op[0] == '*' ? !strncmp(op, r->op + 1, strlen(r->op + 1)) : !strcmp(op, r->op);
    return op_ok && !strcmp(attr, r->attr) && opset >= r->since && (!r->until || opset <= r->until);
}

static bool num_is(const gs_attr *a, double v)
{
    return (a->type == GS_A_INT && (double)a->i == v) || (a->type == GS_A_FLOAT && a->f == (float)v);
}

/* Attribute a of an `op` node leaves the node's meaning as the op's
 * default does (absent attributes need no check). */
static bool attr_neutral(const char *op, const gs_attr *a, int64_t opset)
{
    for (size_t i = 0; i < sizeof attr_rules / sizeof attr_rules[0]; i++) {
        const attr_rule *r = &attr_rules[i];
        if (!attr_rule_is(r, op, a->name, opset))
            continue;
        switch (r->kind) {
        case 'x': return true;
        case 'i': case 'f': return num_is(a, r->num);
        case 's': return a->type == GS_A_STRING && a->slen == strlen(r->str) && !memcmp(a->s, r->str, a->slen);
        case 'l':
            if (a->type != GS_A_INTS)
                return false;
            for (size_t k = 0; k < a->n; k++)
                if ((double)a->ints[k] != r->num)
                    return false;
            return true;
        default: return false;
        }
    }
    return false;   /* no known default: the pattern must mention it */
}

/* Whether pattern node p names attribute `name`. */
static bool mentions(const gs_pnode *p, const char *name)
{
    for (int i = 0; i < p->nattrs; i++)
        if (p->attrs[i].name && !strcmp(p->attrs[i].name, name))
            return true;
    return false;
}

/* Every attribute of n that p does not mention is neutral, unless the
 * rewrite copies n's attributes ("{...}"). */
static bool unmentioned_neutral(const mstate *s, const gs_node *n, const gs_pnode *p)
{
    if ((s->m.rule->copied_slots >> p->slot) & 1)
        return true;
    for (int i = 0; i < n->nattrs; i++)
        if (!mentions(p, n->attrs[i].name) && !attr_neutral(n->op, &n->attrs[i], s->opset))
            return false;
    return true;
}

/* Whether rewrite expression e (or what it reads) copies the attributes of
 * an `op` node ("Op(...){...}"). */
static bool copies_op(const gs_pnode *e, const char *op)
{
    if (!e)
        return false;
    if (e->kind == P_CALL && !strcmp(e->name, op))
        for (int i = 0; i < e->nattrs; i++)
            if (!e->attrs[i].name)
                return true;
    for (int i = 0; i < e->nargs; i++)
        if (copies_op(e->args[i], op))
            return true;
    return false;
}

/* The match side's call nodes by slot. */
static void collect_calls(const gs_pnode *p, const gs_pnode **by_slot)
{
    if (!p || p->kind != P_CALL)
        return;
    if (p->slot >= 0 && p->slot < GS_MAX_PATTERN)
        by_slot[p->slot] = p;
    for (int i = 0; i < p->nargs; i++)
        collect_calls(p->args[i], by_slot);
}

static bool rewrite_copies(const gs_rule *r, const char *op)
{
    for (int i = 0; i < r->nrewrite; i++)
        if (copies_op(r->rewrite[i], op))
            return true;
    for (int i = 0; i < r->nlets; i++)
        if (copies_op(r->lets[i], op))
            return true;
    return false;
}

uint32_t gs_match_copied_slots(const gs_rule *r)
{
    const gs_pnode *by_slot[GS_MAX_PATTERN] = { NULL };
    for (int i = 0; i < r->nroots; i++)
        collect_calls(r->roots[i], by_slot);
    uint32_t mask = 0;
    for (int i = 0; i < GS_MAX_PATTERN; i++) {
        bool first = by_slot[i] != NULL;   /* rewrite.c copies from the first slot of the op */
        for (int j = 0; first && j < i; j++)
            first = !by_slot[j] || strcmp(by_slot[j]->name, by_slot[i]->name);
        if (first && rewrite_copies(r, by_slot[i]->name))
            mask |= 1u << i;
    }
    return mask;
}

static bool match_attrs(mstate *s, const gs_node *n, const gs_pnode *p)
{
    if (!unmentioned_neutral(s, n, p))
        return false;
    for (int i = 0; i < p->nattrs; i++) {
        const gs_pattr *pa = &p->attrs[i];
        if (!pa->name)
            continue;
        const gs_attr *a = gs_ir_attr(n, pa->name);
        if (!a)
            a = pa->dflt;
        if (pa->val->kind == P_VAR && !(a && a->type == GS_A_STRING && !strcmp(a->s, pa->val->name))) {
            if (!a)
                return false;    /* binding needs the attribute present */
            const gs_attr *prev = s->m.attrs[pa->val->var];
            if (prev && !attr_same(prev, a))
                return false;
            s->m.attrs[pa->val->var] = a;
        } else if (!a || !attr_equal_literal(a, pa->val)) {
            return false;
        }
    }
    return true;
}

static bool match_node(mstate *s, const gs_pnode *p, gs_id v);

/* "xs...": bind the inputs of node id from k on (all present, at least one). */
static bool match_rest(mstate *s, const gs_pnode *p, gs_id id, int k)
{
    const gs_node *n = &s->g->nodes[id];
    int count = n->nin - k;
    if (count < 1)
        return false;
    for (int i = k; i < n->nin; i++)
        if (n->in[i] == GS_NONE)
            return false;
    gs_match *m = &s->m;
    if (m->values[p->var] != GS_NONE) {   /* bound before: the same inputs */
        const gs_node *o = &s->g->nodes[m->rest_node[p->var]];
        if (m->rest_count[p->var] != count)
            return false;
        for (int i = 0; i < count; i++)
            if (o->in[m->rest_first[p->var] + i] != n->in[k + i])
                return false;
        return true;
    }
    m->values[p->var] = n->in[k];
    m->rest_node[p->var] = id;
    m->rest_first[p->var] = (int16_t)k;
    m->rest_count[p->var] = (int16_t)count;
    return true;
}

static bool match_args(mstate *s, const gs_node *n, const gs_pnode *p, bool swap)
{
    for (int k = 0; k < p->nargs; k++) {
        if (p->args[k]->kind == P_VAR && p->args[k]->rest)
            return match_rest(s, p->args[k], (gs_id)(n - s->g->nodes), k);
        int src = swap && k < 2 ? 1 - k : k;
        gs_id v = src < n->nin ? n->in[src] : GS_NONE;
        if (v == GS_NONE && p->args[k]->optional && s->m.values[p->args[k]->var] == GS_NONE)
            continue;   /* an absent optional input leaves its variable unbound */
        if (!match_node(s, p->args[k], v))
            return false;
    }
    for (int k = p->nargs; k < n->nin; k++)   /* extra inputs must be absent */
        if (n->in[k] != GS_NONE)
            return false;
    return true;
}

static bool commutative(const mstate *s, const gs_node *n)
{
    const gs_opdef *d = n->nin == 2 ? n->def : NULL;
    return d && (d->flags & GS_OP_COMMUTATIVE);
}

/* Match call pattern p at node id (which must not be matched already). */
static bool match_call(mstate *s, const gs_pnode *p, gs_id id)
{
    const gs_node *n = &s->g->nodes[id];
    if ((n->flags & GS_N_DEAD) || strcmp(n->op, p->name) || *n->domain || n->ncaps)
        return false;
    for (int i = 0; i < s->m.nnodes; i++)
        if (s->m.nodes[i] == id && i != p->slot)
            return false;
    msaved saved;
    save(s, &saved);
    int first = 0, last = commutative(s, n);
    if (s->forced && last)
        first = last = (int)(s->swaps >> p->slot) & 1;
    for (int swap = first; swap <= last; swap++) {
        if (swap > first)
            restore(s, &saved);
        s->m.nodes[p->slot] = id;
        if (match_attrs(s, n, p) && match_args(s, n, p, swap))
            return true;
    }
    restore(s, &saved);
    return false;
}

static bool match_node(mstate *s, const gs_pnode *p, gs_id v)
{
    switch (p->kind) {
    case P_VAR:
        return v != GS_NONE && bind_value(&s->m, p->var, v);
    case P_CALL: {
        if (v == GS_NONE)
            return false;
        gs_id prod = s->g->values[v].producer;
        const gs_value *val = &s->g->values[v];
        if (prod == GS_NONE && (val->flags & GS_V_OUTER))
            return false;   /* produced outside this graph: not matchable here */
        return prod != GS_NONE && s->g->nodes[prod].out[0] == v && match_call(s, p, prod);
    }
    default:
        return false;   /* literals do not appear in match patterns */
    }
}

/* Values defined inside the match (outputs of non-root matched nodes) may
 * not be needed outside it, unless the rule allows it (shared_inner: those
 * nodes then stay for their other readers). */
static bool closed(const mstate *s, const gs_rule *r)
{
    const gs_match *m = &s->m;
    if (r->shared_inner)
        return true;
    for (int i = 0; i < m->nnodes; i++) {
        bool root = false;
        for (int j = 0; j < r->nouter; j++)
            root |= r->roots[j]->slot == i;
        if (root)
            continue;
        const gs_node *n = &s->g->nodes[m->nodes[i]];
        for (int k = 0; k < n->nout; k++) {
            if (n->out[k] == GS_NONE)
                continue;
            const gs_value *v = &s->g->values[n->out[k]];
            if (v->flags & GS_V_OUTPUT)
                return false;
            for (int32_t u = 0; u < v->nuses; u++) {
                bool inside = false;
                for (int j = 0; j < m->nnodes; j++)
                    inside |= m->nodes[j] == v->uses[u];
                if (!inside)
                    return false;
            }
        }
    }
    return true;
}

bool gs_match_conditions(const gs_graph *g, const gs_rule *r, const gs_match *m);

/* A root computed from constants only is left to constant folding. */
static bool folds_away(const gs_graph *g, const gs_node *root)
{
    for (int k = 0; k < root->nin; k++)
        if (root->in[k] != GS_NONE && !gs_fold_const_value(g, root->in[k], GS_FOLD_DEPTH))
            return false;
    return true;
}

typedef struct ctx_cb {
    gs_match_fn fn;
    void *ud;
    int count;
    bool stop;
    const gs_id *ids;     /* live nodes sorted by op (NULL: scan every node) */
    int nids;
} ctx_cb;

static void report(mstate *s, const gs_rule *r, ctx_cb *cb)
{
    s->m.rule = r;
    s->m.nnodes = r->nslots;
    if (folds_away(s->g, &s->g->nodes[s->m.nodes[r->roots[0]->slot]]) || !closed(s, r) ||
        !gs_match_conditions(s->g, r, &s->m) || !gs_rule_applicable(s->g, &s->m))
        return;
    cb->count++;
    if (!cb->fn(&s->m, cb->ud))
        cb->stop = true;
}

/* First index in cb->ids of a node of op (binary search), or nids. */
static int first_of(const gs_graph *g, const ctx_cb *cb, const char *op)
{
    int lo = 0, hi = cb->nids;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (strcmp(g->nodes[cb->ids[mid]].op, op) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The output variables of statement k name the outputs of node id: a
 * statement with several ("a, b = Split(x)") needs a node with exactly
 * that many outputs, all present; any other needs its first output present
 * (a node without outputs matches no statement) and its other outputs
 * unread (MaxPool's Indices, Dropout's mask): the rewrite replaces output 0
 * alone, so the node would stay beside its replacement. */
static bool bind_outs(mstate *s, const gs_rule *r, int k, gs_id id)
{
    const gs_node *n = &s->g->nodes[id];
    int want = r->root_nout[k], need = want > 1 ? want : 1;   /* the outputs a rewrite replaces */
    if (n->nout < need || (want > 1 && n->nout != want))
        return false;
    for (int o = 0; o < need; o++)
        if (n->out[o] == GS_NONE || (o < want && !bind_value(&s->m, r->root_out[k][o], n->out[o])))
            return false;
    for (int o = need; o < n->nout; o++) {   /* an output the rewrite does not replace must be unused */
        const gs_value *v = n->out[o] != GS_NONE ? &s->g->values[n->out[o]] : NULL;
        if (v && (v->nuses || (v->flags & GS_V_OUTPUT)))
            return false;
    }
    return true;
}

/* The value variable var must have when it is output o of an inner
 * statement another of whose outputs is bound already (b of `a, b =
 * Split(x)` once a is): output o of that value's producer. *known is set
 * when there is such a statement; GS_NONE then means no value can match. */
static gs_id sibling_output(const mstate *s, const gs_rule *r, int var, bool *known)
{
    for (int j = r->nouter; j < r->nroots; j++)
        for (int o = 0; o < r->root_nout[j]; o++) {
            if (r->root_out[j][o] != var)
                continue;
            for (int o2 = 0; o2 < r->root_nout[j]; o2++) {
                gs_id u = r->root_out[j][o2] >= 0 ? s->m.values[r->root_out[j][o2]] : GS_NONE;
                if (u == GS_NONE)
                    continue;
                *known = true;
                gs_id prod = s->g->values[u].producer;
                const gs_node *pn = prod != GS_NONE ? &s->g->nodes[prod] : NULL;
                return pn && o < pn->nout && o2 < pn->nout && pn->out[o2] == u ? pn->out[o] : GS_NONE;
            }
        }
    return GS_NONE;
}

/* A value statement p reads directly that is known already: bound (the
 * input two parallel MatMuls share), or the sibling output of a bound one;
 * only its readers can match p. *known is set when there is one (GS_NONE
 * then: nothing can match). */
static gs_id bound_arg(const mstate *s, const gs_rule *r, const gs_pnode *p, bool *known)
{
    *known = false;
    for (int a = 0; a < p->nargs; a++) {
        const gs_pnode *arg = p->args[a];
        if (arg->kind == P_VAR && !arg->rest && s->m.values[arg->var] != GS_NONE) {
            *known = true;
            return s->m.values[arg->var];
        }
    }
    for (int a = 0; a < p->nargs; a++) {
        const gs_pnode *arg = p->args[a];
        gs_id v = arg->kind == P_VAR && !arg->rest ? sibling_output(s, r, arg->var, known) : GS_NONE;
        if (*known)
            return v;
    }
    return GS_NONE;
}

/* Statement k onwards: further roots are nodes of their op after the first
 * root (each set once, in id order); consistent bindings make them share
 * the variables they have in common. */
static void match_more(mstate *s, const gs_rule *r, int k, ctx_cb *cb);

/* Statement k at node id, then the statements after it; s is left as it was. */
static void try_statement(mstate *s, const gs_rule *r, int k, gs_id id, ctx_cb *cb)
{
    msaved saved;
    save(s, &saved);
    if (match_call(s, r->roots[k], id) && bind_outs(s, r, k, id))
        match_more(s, r, k + 1, cb);
    restore(s, &saved);
}

static void match_more(mstate *s, const gs_rule *r, int k, ctx_cb *cb)
{
    if (cb->stop)
        return;
    if (k == r->nroots) {
        report(s, r, cb);
        return;
    }
    const gs_pnode *p = r->roots[k];
    if (k >= r->nouter) {   /* inner: at the producer of a value its reader bound */
        gs_id v = GS_NONE;
        for (int o = 0; o < r->root_nout[k] && v == GS_NONE; o++)
            v = s->m.values[r->root_out[k][o]];
        gs_id prod = v != GS_NONE ? s->g->values[v].producer : GS_NONE;
        if (prod != GS_NONE)
            try_statement(s, r, k, prod, cb);
        return;
    }
    gs_id after = s->m.nodes[r->roots[k - 1]->slot];
    bool known;
    gs_id via = bound_arg(s, r, p, &known);
    if (known) {   /* only the readers of a value known already can match */
        if (via == GS_NONE)
            return;
        const gs_value *v = &s->g->values[via];
        for (int32_t u = 0; u < v->nuses && !cb->stop; u++) {
            gs_id id = v->uses[u];
            bool seen = false;
            for (int32_t q = 0; q < u && !seen; q++)
                seen = v->uses[q] == id;
            if (!seen && !strcmp(s->g->nodes[id].op, p->name) && !(r->symmetric && id <= after))
                try_statement(s, r, k, id, cb);
        }
        return;
    }
    int i = cb->ids ? first_of(s->g, cb, p->name) : 0;
    int end = cb->ids ? cb->nids : s->g->nnodes;
    for (; i < end && !cb->stop; i++) {
        gs_id id = cb->ids ? cb->ids[i] : i;
        if (cb->ids && strcmp(s->g->nodes[id].op, p->name))
            break;
        if (!(r->symmetric && id <= after))
            try_statement(s, r, k, id, cb);
    }
}

/* The bits of k spread over the set bits of mask, lowest first. */
static uint32_t spread(uint32_t k, uint32_t mask)
{
    uint32_t out = 0;
    for (int b = 0; b < 32 && k; b++)
        if (mask & (1u << b)) {
            out |= (k & 1u) << b;
            k >>= 1;
        }
    return out;
}

static void match_rule_from(const gs_graph *g, int64_t opset, const gs_rule *r, gs_id id, ctx_cb *cb,
                            bool forced, uint32_t swaps)
{
    mstate s;
    memset(&s, 0, sizeof s);
    s.g = g;
    s.opset = opset;
    s.forced = forced;
    s.swaps = swaps;
    s.m.rule = r;
    for (int i = 0; i < GS_MAX_BINDINGS; i++)
        s.m.values[i] = GS_NONE;
    for (int i = 0; i < GS_MAX_PATTERN; i++)
        s.m.nodes[i] = GS_NONE;
    s.m.nnodes = r->nslots;
    if (match_call(&s, r->roots[0], id) && bind_outs(&s, r, 0, id))
        match_more(&s, r, 1, cb);
}

/* A one-statement rule tries every operand order of its commutative nodes
 * (up to 64 orders) until one passes the conditions as well: "Add(x, b)"
 * with a condition on b matches Add(bias, y) too. Several statements keep
 * the first order that matches the structure. */
static void match_rule_at(const gs_graph *g, int64_t opset, const gs_rule *r, gs_id id, ctx_cb *cb)
{
    uint32_t slots = r->nroots == 1 ? r->comm_slots : 0;
    int c = __builtin_popcount(slots);
    if (c == 0 || c > 6) {
        match_rule_from(g, opset, r, id, cb, false, 0);
        return;
    }
    for (uint32_t k = 0; k < (1u << c) && !cb->stop; k++) {
        int before = cb->count;
        match_rule_from(g, opset, r, id, cb, true, spread(k, slots));
        if (cb->count > before)
            break;
    }
}

static bool rule_applies(const gs_rule *r, int64_t opset, uint32_t flags)
{
    return (r->flags & flags) && opset >= r->opset_min && opset <= r->opset_max;
}

/* The rule after rule prev (-1: the first) whose first statement is an op
 * node, in load order: through the ruleset's index, or by a scan for a
 * ruleset put together without one (rules_check's one-rule set). */
static int next_rule_at(const gs_ruleset *rs, const char *op, int prev)
{
    if (rs->root_cap)
        return prev < 0 ? gs_ruleset_first_at(rs, op) : rs->root_next[prev];
    for (int i = prev + 1; i < rs->n; i++)
        if (!strcmp(rs->rules[i]->roots[0]->name, op))
            return i;
    return -1;
}

int gs_match_at(const gs_ruleset *rs, const gs_graph *g, uint32_t flags, gs_id root,
                gs_match_fn fn, void *ud)
{
    int64_t opset = g->opset;
    ctx_cb cb = { fn, ud, 0, false, NULL, 0 };
    const char *op = g->nodes[root].op;
    for (int i = next_rule_at(rs, op, -1); i >= 0 && !cb.stop; i = next_rule_at(rs, op, i))
        if (rule_applies(rs->rules[i], opset, flags))
            match_rule_at(g, opset, rs->rules[i], root, &cb);
    return cb.count;
}

/* The op index: live node ids sorted by op name (ties by id, so the order
 * and hence the search are deterministic), built once per call; each rule
 * then visits only the run of nodes of its root's op. */
typedef struct op_id {
    const char *op;
    gs_id id;
} op_id;

static int op_id_cmp(const void *a, const void *b)
{
    const op_id *x = a, *y = b;
    int c = strcmp(x->op, y->op);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

int gs_match_all(const gs_ruleset *rs, const gs_graph *g, uint32_t flags,
                 gs_match_fn fn, void *ud)
{
    int64_t opset = g->opset;
    ctx_cb cb = { fn, ud, 0, false, NULL, 0 };
    op_id *sorted = gs_alloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *sorted);
    gs_id *ids = gs_alloc(g->ctx, ((size_t)g->nnodes + 1) * sizeof *ids);
    if (!sorted || !ids) {
        gs_dealloc(g->ctx, sorted);
        gs_dealloc(g->ctx, ids);
        gs_nomem(g->ctx);
        return -1;
    }
    int n = 0;
    for (gs_id i = 0; i < g->nnodes; i++)
        if (!(g->nodes[i].flags & GS_N_DEAD))
            sorted[n++] = (op_id){ g->nodes[i].op, i };
    qsort(sorted, (size_t)n, sizeof *sorted, op_id_cmp);
    for (int i = 0; i < n; i++)
        ids[i] = sorted[i].id;
    gs_dealloc(g->ctx, sorted);
    cb.ids = ids;
    cb.nids = n;
    for (int i = 0; i < rs->n && !cb.stop; i++) {
        const gs_rule *r = rs->rules[i];
        if (!rule_applies(r, opset, flags))
            continue;
        for (int j = first_of(g, &cb, r->roots[0]->name); j < n && !cb.stop && !strcmp(g->nodes[ids[j]].op, r->roots[0]->name); j++)
            match_rule_at(g, opset, r, ids[j], &cb);
    }
    gs_dealloc(g->ctx, ids);
    return cb.count;
}

/* ---- conditions ----------------------------------------------------------- */

typedef struct cond_args {
    const gs_graph *g;
    const gs_match *m;
    const gs_pnode *const *args;
    int n;
} cond_args;

static const gs_value *arg_value(const cond_args *c, int i)
{
    const gs_pnode *p = c->args[i];
    if (p->kind != P_VAR || c->m->values[p->var] == GS_NONE)
        return NULL;
    return &c->g->values[c->m->values[p->var]];
}

static const gs_attr *arg_attr(const cond_args *c, int i)
{
    const gs_pnode *p = c->args[i];
    return p->kind == P_VAR ? c->m->attrs[p->var] : NULL;
}

static double arg_num(const cond_args *c, int i)
{
    return c->args[i]->kind == P_NUM ? c->args[i]->num : NAN;
}

/* const(a, b, ...): every argument is a constant or a constant expression. */
static bool c_const(const cond_args *c)
{
    for (int i = 0; i < c->n; i++) {
        const gs_pnode *p = c->args[i];
        if (p->kind != P_VAR || c->m->values[p->var] == GS_NONE || !gs_fold_const_value(c->g, c->m->values[p->var], GS_FOLD_DEPTH))
            return false;
    }
    return true;
}

/* rank(x, r): x has rank r. */
static bool c_rank(const cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    return v && v->rank == (int)arg_num(c, 1);
}

/* Constant argument 0 is not empty and has every element within a relative
 * tol of number argument 1 (tol 0: equal). */
static bool every_element(const cond_args *c, double tol)
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
static bool c_all_equal(const cond_args *c)
{
    return every_element(c, 0);
}

/* inverse_perm(p, q): applying q after p is the identity. */
static bool c_inverse_perm(const cond_args *c)
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
static bool c_same_type(const cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    const gs_attr *a = arg_attr(c, 1);
    return v && a && a->type == GS_A_INT && v->dtype && v->dtype == a->i;
}

/* same_shape(x, y): both shapes fully known and equal. */
static bool c_same_shape(const cond_args *c)
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
static bool c_channel_bias(const cond_args *c)
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
static bool c_vector_for(const cond_args *c)
{
    const gs_value *b = arg_value(c, 0), *w = arg_value(c, 1);
    return b && w && w->rank == 2 && b->rank == 1 && w->dims[1].v >= 0 && b->dims[0].v == w->dims[1].v;
}

/* float(x): x has a floating-point element type. */
static bool c_float(const cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    return v && (v->dtype == GS_FLOAT || v->dtype == GS_DOUBLE || v->dtype == GS_FLOAT16);
}

/* wide_float(x): x is float32 or float64. A rule exact only in real
 * arithmetic (constants reassociated, a scale moved across a sum, a
 * written-out op fused) keeps a float16 model's overflows only there:
 * in float16 (x + 60000) - 60000 is inf for x > 5504, x alone is not. */
static bool c_wide_float(const cond_args *c)
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
static bool c_moderate(const cond_args *c)
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
static bool c_same_dim(const cond_args *c)
{
    const gs_value *x = arg_value(c, 0), *y = arg_value(c, 2);
    int i = (int)arg_num(c, 1), j = (int)arg_num(c, 3);
    if (!x || !y || x->rank < 0 || y->rank < 0)
        return false;
    i = i < 0 ? i + x->rank : i;
    j = j < 0 ? j + y->rank : j;
    return i >= 0 && i < x->rank && j >= 0 && j < y->rank && gs_dim_equal(x->dims[i], y->dims[j]);
}

/* attr_eq(a, v): attribute variable a equals the literal v (int, float or
 * list); an integer default bound by "name=var|0" equals a list of that value. */
static bool c_attr_eq(const cond_args *c)
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
    return a && attr_equal_literal(a, lit);
}

/* no_zero(c): constant c has no zero element (a Reshape shape that copies
 * no dim from its input; a divisor). Floats are compared as floats: 0.5 is
 * not zero. */
static bool c_no_zero(const cond_args *c)
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
static bool c_noop_bcast(const cond_args *c)
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
static bool c_same_const(const cond_args *c)
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
static bool c_true(const cond_args *c)
{
    (void)c;
    return true;
}

/* Constant c has one element. */
static bool c_scalar(const cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    return v && v->init && v->init->data && gs_tensor_numel(v->init) == 1;
}

/* Constant c has every element within a relative 1e-6 of v (for constants
 * such as sqrt(2) that exporters write with different roundings). */
static bool c_near(const cond_args *c)
{
    return every_element(c, 1e-6);
}

/* Axes a (an attribute or a constant input) name only the last axis of x. */
static bool c_last_axis(const cond_args *c)
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
static bool c_last_dim(const cond_args *c)
{
    const gs_value *b = arg_value(c, 0), *x = arg_value(c, 1);
    return b && x && x->rank >= 1 && b->rank == 1 && x->dims[x->rank - 1].v >= 0 &&
           b->dims[0].v == x->dims[x->rank - 1].v;
}

/* Optional input v is absent, or a constant with every element equal to x
 * (the value the op assumes when it is absent). */
static bool c_default(const cond_args *c)
{
    const gs_pnode *p = c->args[0];
    if (p->kind == P_VAR && c->m->values[p->var] == GS_NONE && !c->m->attrs[p->var])
        return true;
    return c_all_equal(c);
}

/* p (a constant Pad "pads" input) pads only the spatial dims of x, by
 * non-negative amounts: it can move into a Conv's or pool's pads. */
static bool c_spatial_pads(const cond_args *c)
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
static bool c_splits_match(const cond_args *c)
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
static bool c_disjoint_axes(const cond_args *c)
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
static bool c_dtype(const cond_args *c)
{
    const gs_value *v = arg_value(c, 0);
    return v && v->dtype == (int32_t)arg_num(c, 1);
}

/* Attribute variable k as an axis of x (negative counts from the end);
 * -1 when it is not a valid axis. */
static int axis_of(const cond_args *c, int karg, const gs_value *x)
{
    const gs_attr *a = arg_attr(c, karg);
    if (!a || a->type != GS_A_INT || !x || x->rank < 1)
        return -1;
    int64_t k = a->i < 0 ? a->i + x->rank : a->i;
    return k >= 0 && k < x->rank ? (int)k : -1;
}

/* inner_axis(k, x): attribute k names an axis of x other than its last (the
 * rows of a MatMul, the tokens before a LayerNormalization). */
static bool c_inner_axis(const cond_args *c)
{
    const gs_value *x = arg_value(c, 1);
    int k = axis_of(c, 0, x);
    return k >= 0 && k < x->rank - 1;
}

/* outside_axis(b, k, x): b, broadcast against x, does not reach x's axis k
 * (b has fewer dims than x has from axis k on): picking along axis k of
 * x op b picks along x alone. */
static bool c_outside_axis(const cond_args *c)
{
    const gs_value *b = arg_value(c, 0), *x = arg_value(c, 2);
    int k = axis_of(c, 1, x);
    return k >= 0 && b && b->rank >= 0 && b->rank < x->rank - k;
}

/* along_axis(y, k, x): y has x's rank and x's known length on axis k: picking
 * along axis k of x op y picks along both. */
static bool c_along_axis(const cond_args *c)
{
    const gs_value *y = arg_value(c, 0), *x = arg_value(c, 2);
    int k = axis_of(c, 1, x);
    return k >= 0 && y && y->rank == x->rank && x->dims[k].v >= 0 && y->dims[k].v == x->dims[k].v;
}

/* pointwise(w): w is a conv weight [Cout, Cin, 1, ...] (every spatial dim 1). */
static bool c_pointwise(const cond_args *c)
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
static bool c_narrows(const cond_args *c)
{
    const gs_value *w = arg_value(c, 0);
    return w && w->rank >= 2 && w->dims[0].v > 0 && w->dims[1].v > w->dims[0].v;
}

/* unit_perm(p, x): permutation p moves only x's axes of length 1 (the others
 * keep their order) and x's shape is known: the Transpose is a Reshape. */
static bool c_unit_perm(const cond_args *c)
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
static bool c_unreduced(const cond_args *c)
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
static bool c_channel_scale(const cond_args *c)
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
static bool c_half_dim(const cond_args *c)
{
    const gs_value *x = arg_value(c, 1);
    int64_t h, d = x && x->rank >= 1 && !x->dims[x->rank - 1].sym ? x->dims[x->rank - 1].v : -1;
    return one_int(arg_value(c, 0), &h) && d > 0 && d % 2 == 0 && h == d / 2;
}

/* slice_end(e, x): constant Slice end e reaches past x's known last dim
 * (a slice "to the end" of the last axis). */
static bool c_slice_end(const cond_args *c)
{
    const gs_value *x = arg_value(c, 1);
    int64_t e, d = x && x->rank >= 1 && !x->dims[x->rank - 1].sym ? x->dims[x->rank - 1].v : -1;
    return one_int(arg_value(c, 0), &e) && d >= 0 && e >= d;
}

/* halves_equal(t): constant t's last axis has an even length and its two
 * halves are equal element for element (a rotary cos/sin table built as
 * Concat(f, f), so rotate_half's pairs share one angle). */
static bool c_halves_equal(const cond_args *c)
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

typedef struct condition {
    const char *name;
    int nargs;                  /* -1: any */
    bool (*fn)(const cond_args *c);
} condition;

static const condition conditions[] = {
    { "const", -1, c_const },
    { "rank", 2, c_rank },
    { "all_equal", 2, c_all_equal },
    { "inverse_perm", 2, c_inverse_perm },
    { "same_type", 2, c_same_type },
    { "same_shape", 2, c_same_shape },
    { "channel_bias", 2, c_channel_bias },
    { "vector_for", 2, c_vector_for },
    { "float", 1, c_float },
    { "wide_float", 1, c_wide_float },
    { "moderate", -1, c_moderate },
    { "same_dim", 4, c_same_dim },
    { "attr_eq", 2, c_attr_eq },
    { "true", 0, c_true },
    { "no_zero", 1, c_no_zero },
    { "noop_bcast", 2, c_noop_bcast },
    { "same_const", 2, c_same_const },
    { "scalar", 1, c_scalar },
    { "near", 2, c_near },
    { "last_axis", 2, c_last_axis },
    { "last_dim", 2, c_last_dim },
    { "dtype", 2, c_dtype },
    { "default", 2, c_default },
    { "spatial_pads", 2, c_spatial_pads },
    { "splits_match", 4, c_splits_match },
    { "disjoint_axes", 3, c_disjoint_axes },
    { "inner_axis", 2, c_inner_axis },
    { "outside_axis", 3, c_outside_axis },
    { "along_axis", 3, c_along_axis },
    { "pointwise", 1, c_pointwise },
    { "narrows", 1, c_narrows },
    { "unit_perm", 2, c_unit_perm },
    { "unreduced", 1, c_unreduced },
    { "channel_scale", 2, c_channel_scale },
    { "half_dim", 2, c_half_dim },          /* rotary fusions */
    { "slice_end", 2, c_slice_end },
    { "halves_equal", 1, c_halves_equal },
};

static const condition *find_condition(const char *name)
{
    for (size_t i = 0; i < sizeof conditions / sizeof conditions[0]; i++)
        if (!strcmp(conditions[i].name, name))
            return &conditions[i];
    return NULL;
}

bool gs_match_known_condition(const char *name, int nargs)
{
    const condition *c = find_condition(name);
    return c && (c->nargs < 0 || c->nargs == nargs);
}

bool gs_match_conditions(const gs_graph *g, const gs_rule *r, const gs_match *m)
{
    for (int i = 0; i < r->nwhere; i++) {
        const gs_pnode *w = r->where[i];
        const condition *c = find_condition(w->name);
        cond_args a = { g, m, (const gs_pnode *const *)w->args, w->nargs };
        if (!c || !c->fn(&a))
            return false;
    }
    return true;
}
