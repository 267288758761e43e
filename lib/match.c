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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "rules explain": why the furthest attempt at a node failed. */
typedef struct mexplain {
    char why[600];
    int best;                   /* how far that attempt got (nodes and values bound) */
    bool matched;
} mexplain;

typedef struct mstate {
    const gs_graph *g;
    int64_t opset;
    gs_match m;                 /* m.rule: the rule being matched */
    bool forced;                /* commutative nodes take the operand order in swaps */
    uint32_t swaps;             /* bit per pattern slot: 1 matches the operands swapped */
    mexplain *ex;               /* explaining (NULL when matching) */
} mstate;

/* How far the match in s got: nodes and values bound. */
static int progress(const mstate *s)
{
    int n = 0;
    for (int i = 0; i < s->m.rule->nslots; i++)
        n += s->m.nodes[i] != GS_NONE;
    for (int i = 0; i < s->m.rule->nvars; i++)
        n += s->m.values[i] != GS_NONE || s->m.attrs[i] != NULL;
    return n;
}

static void note(const mstate *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Explaining: keep this failure when its attempt got further than the one kept. */
static void note(const mstate *s, const char *fmt, ...)
{
    if (!s->ex)
        return;
    int p = progress(s);
    if (p <= s->ex->best)
        return;
    s->ex->best = p;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->ex->why, sizeof s->ex->why, fmt, ap);
    va_end(ap);
}

/* "node 'name' (Op)" for messages. */
static const char *node_label(const gs_graph *g, gs_id id, char *buf, size_t cap)
{
    snprintf(buf, cap, "node '%s' (%s)", g->nodes[id].name, g->nodes[id].op);
    return buf;
}

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

bool gs_match_attr_is(const gs_attr *a, const gs_pnode *lit)
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

/* Attributes that never change the output a rule reads, whatever their
 * value (the registry's schema gives the defaults of the others). */
static const struct ignored {
    const char *op, *attr;
    int since, until;           /* opsets where this holds (until 0: on) */
} ignored[] = {
    { "BatchNormalization", "momentum", 0, 0 },   /* running statistics, training only */
    { "Dropout", "seed", 0, 0 },
    { "Dropout", "ratio", 7, 11 },   /* an attribute, and no training mode, before 12 */
    { "Conv", "kernel_shape", 0, 0 },   /* the weight's spatial dims in a valid model */
    { "Split", "num_outputs", 0, 0 },   /* the node's output count in a valid model */
};

static bool num_is(const gs_attr *a, double v)
{
    return (a->type == GS_A_INT && (double)a->i == v) || (a->type == GS_A_FLOAT && a->f == (float)v);
}

/* Attribute a of node n leaves the node's meaning as the op's default does
 * (absent attributes need no check): the default its registry row's schema
 * gives for the opset, or an attribute that never matters. */
static bool attr_neutral(const gs_node *n, const gs_attr *a, int64_t opset)
{
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        if (!strcmp(n->op, ignored[i].op) && !strcmp(a->name, ignored[i].attr) && opset >= ignored[i].since &&
            (!ignored[i].until || opset <= ignored[i].until))
            return true;
    const gs_opdef *d = gs_op_find(n->op, n->domain, opset);
    gs_attr_default v;
    if (!d || !gs_op_attr_default(d, a->name, &v))
        return false;   /* no known default: the pattern must mention it */
    switch (v.kind) {
    case 'i': case 'f': return num_is(a, v.num);
    case 's': return a->type == GS_A_STRING && a->slen == v.slen && !memcmp(a->s, v.str, a->slen);
    case 'l':
        if (a->type != GS_A_INTS)
            return false;
        for (size_t k = 0; k < a->n; k++)
            if ((double)a->ints[k] != v.num)
                return false;
        return true;
    default: return false;
    }
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
        if (!mentions(p, n->attrs[i].name) && !attr_neutral(n, &n->attrs[i], s->opset)) {
            note(s, "%s: attribute %s is not at its default and the pattern does not mention it "
                 "(nor copies the node's attributes with {...})", n->name, n->attrs[i].name);
            return false;
        }
    return true;
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
            if (!a) {    /* binding needs the attribute present */
                note(s, "%s (%s) has no attribute %s to bind to '%s' (and the pattern gives no "
                     "default: {%s=%s|value})", n->name, n->op, pa->name, pa->val->name, pa->name, pa->val->name);
                return false;
            }
            const gs_attr *prev = s->m.attrs[pa->val->var];
            if (prev && !attr_same(prev, a)) {
                note(s, "%s (%s): attribute %s differs from the value '%s' was bound to before", n->name, n->op,
                     pa->name, pa->val->name);
                return false;
            }
            s->m.attrs[pa->val->var] = a;
        } else if (!a || !gs_match_attr_is(a, pa->val)) {
            note(s, "%s (%s): attribute %s %s the value the pattern requires", n->name, n->op, pa->name,
                 a ? "is not" : "is absent, not");
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
    if (count < 1) {
        note(s, "%s (%s) has %d inputs; '%s...' needs at least one from input %d on", n->name, n->op, n->nin,
             p->name, k);
        return false;
    }
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
        if (v == GS_NONE)
            note(s, "%s (%s) has no input %d", n->name, n->op, src);
        if (!match_node(s, p->args[k], v))
            return false;
    }
    for (int k = p->nargs; k < n->nin; k++)   /* extra inputs must be absent */
        if (n->in[k] != GS_NONE) {
            note(s, "%s (%s) has %d inputs; the pattern gives it %d", n->name, n->op, n->nin, p->nargs);
            return false;
        }
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
    if ((n->flags & GS_N_DEAD) || strcmp(n->op, p->name) || *n->domain || n->ncaps) {
        char nb[300];
        note(s, "%s is not the %s the pattern wants%s", node_label(s->g, id, nb, sizeof nb), p->name,
             n->ncaps ? " (it has a subgraph reading outer values)" : *n->domain ? " (another domain)" : "");
        return false;
    }
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
        if (v != GS_NONE && !bind_value(&s->m, p->var, v)) {
            note(s, "'%s' is bound to value '%s' already, and here would be '%s'", p->name,
                 s->g->values[s->m.values[p->var]].name, s->g->values[v].name);
            return false;
        }
        return v != GS_NONE;
    case P_CALL: {
        if (v == GS_NONE)
            return false;
        gs_id prod = s->g->values[v].producer;
        const gs_value *val = &s->g->values[v];
        if (prod == GS_NONE || s->g->nodes[prod].out[0] != v) {
            note(s, "value '%s' is %s, not the output of the %s the pattern wants", val->name,
                 val->init ? "an initializer" : (val->flags & GS_V_INPUT) ? "a graph input"
                 : prod == GS_NONE ? "defined outside this graph" : "not its producer's first output", p->name);
            return false;
        }
        return match_call(s, p, prod);   /* (a value of an outer scope has no producer here) */
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
            if (v->flags & GS_V_OUTPUT) {
                note(s, "'%s', computed inside the match, is a graph output (the rewrite would remove it)",
                     v->name);
                return false;
            }
            for (int32_t u = 0; u < v->nuses; u++) {
                bool inside = false;
                for (int j = 0; j < m->nnodes; j++)
                    inside |= m->nodes[j] == v->uses[u];
                if (!inside) {
                    char nb[300];
                    note(s, "'%s', computed inside the match, is also read by %s outside it (\"shared_inner\" "
                         "allows that)", v->name, node_label(s->g, v->uses[u], nb, sizeof nb));
                    return false;
                }
            }
        }
    }
    return true;
}


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

static void explain_report(mstate *s, const gs_rule *r);

static void report(mstate *s, const gs_rule *r, ctx_cb *cb)
{
    s->m.rule = r;
    s->m.nnodes = r->nslots;
    if (s->ex) {
        explain_report(s, r);
        return;
    }
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
    if (n->nout < need || (want > 1 && n->nout != want)) {
        note(s, "%s (%s) has %d outputs; statement %d names %d", n->name, n->op, n->nout, k + 1, want);
        return false;
    }
    for (int o = 0; o < need; o++)
        if (n->out[o] == GS_NONE || (o < want && !bind_value(&s->m, r->root_out[k][o], n->out[o]))) {
            note(s, "%s (%s): output %d does not fit statement %d", n->name, n->op, o, k + 1);
            return false;
        }
    for (int o = need; o < n->nout; o++) {   /* an output the rewrite does not replace must be unused */
        const gs_value *v = n->out[o] != GS_NONE ? &s->g->values[n->out[o]] : NULL;
        if (v && (v->nuses || (v->flags & GS_V_OUTPUT))) {
            note(s, "%s (%s): its output %d ('%s') is read, and the rewrite replaces output 0 only", n->name,
                 n->op, o, v->name);
            return false;
        }
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
    note(s, "no %s node matches statement %d of the match", p->name, k + 1);
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


bool gs_match_conditions(const gs_graph *g, const gs_rule *r, const gs_match *m)
{
    for (int i = 0; i < r->nwhere; i++) {
        const gs_pnode *w = r->where[i];
        gs_cond_args a = { g, m, (const gs_pnode *const *)w->args, w->nargs };
        if (!w->fn->cond(&a))
            return false;
    }
    return true;
}

/* ---- rules explain: why a rule does or does not match at a node ----------- */

/* What a condition argument stands for, as the matcher saw it:
 * "x = 'input' float32[1, 3, 8, 8]", "x = 'h' float32[batch, 8*seq, 64]", "c = 'w' constant float32[4]: 1, 1, 1, 1",
 * "k = attribute [1, 1]". */
static void describe_arg(const gs_graph *g, const gs_match *m, const gs_pnode *p, char *buf, size_t cap)
{
    size_t n = 0;
    if (p->kind == P_NUM) {
        snprintf(buf, cap, "%g", p->num);
        return;
    }
    if (p->kind != P_VAR) {
        snprintf(buf, cap, "(a literal)");
        return;
    }
    const gs_attr *a = m->attrs[p->var];
    gs_id id = m->values[p->var];
    if (a) {
        n = (size_t)snprintf(buf, cap, "%s = attribute ", p->name);
        if (a->type == GS_A_INT)
            snprintf(buf + n, cap - n, "%lld", (long long)a->i);
        else if (a->type == GS_A_FLOAT)
            snprintf(buf + n, cap - n, "%g", a->f);
        else if (a->type == GS_A_STRING)
            snprintf(buf + n, cap - n, "%.*s", (int)a->slen, a->s);
        else if (a->type == GS_A_INTS)
            for (size_t i = 0; i < a->n && i < 8 && n < cap; i++)
                n += (size_t)snprintf(buf + n, cap - n, "%s%lld%s", i ? ", " : "[", (long long)a->ints[i],
                                      i + 1 == a->n ? "]" : i == 7 ? ", ...]" : "");
        return;
    }
    if (id == GS_NONE) {
        snprintf(buf, cap, "%s = absent", p->name);
        return;
    }
    const gs_value *v = &g->values[id];
    n = (size_t)snprintf(buf, cap, "%s = '%s' %s%s", p->name, v->name, v->init ? "constant " : "",
                         v->dtype ? gs_dtype_name(v->dtype) : "(type unknown)");
    if (v->rank < 0 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " (shape unknown)");
    for (int d = 0; v->rank >= 0 && d < v->rank && n < cap; d++) {   /* a size, a dim name, or ? */
        const gs_dim *dm = &v->dims[d];
        n += dm->v >= 0 ? (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? ", " : "[", (long long)dm->v)
                        : (size_t)snprintf(buf + n, cap - n, "%s%s", d ? ", " : "[", dm->sym ? dm->sym : "?");
    }
    if (v->rank >= 0 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, v->rank ? "]" : "[]");
    if (v->init && v->init->data) {
        int64_t count = gs_tensor_numel(v->init);
        for (int64_t i = 0; i < count && i < 6 && n < cap; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%g%s", i ? ", " : ": ", gs_tensor_get_f(v->init, i),
                                  i == 5 && count > 6 ? ", ..." : "");
    }
}

/* The whole pattern matched: the checks report() makes, each explained. */
static void explain_report(mstate *s, const gs_rule *r)
{
    mexplain *ex = s->ex;
    if (ex->matched)
        return;   /* another set of nodes matched already */
    ex->best = 1 << 30;   /* what follows is the final word on this attempt */
    if (folds_away(s->g, &s->g->nodes[s->m.nodes[r->roots[0]->slot]])) {
        snprintf(ex->why, sizeof ex->why, "every input of the matched root is a constant: constant folding "
                 "evaluates it instead");
        return;
    }
    ex->best = 0;
    if (!closed(s, r)) {
        ex->best = 1 << 30;
        return;
    }
    for (int i = 0; i < r->nwhere; i++) {
        const gs_pnode *w = r->where[i];
        gs_cond_args a = { s->g, &s->m, (const gs_pnode *const *)w->args, w->nargs };
        if (w->fn->cond(&a))
            continue;
        size_t n = (size_t)snprintf(ex->why, sizeof ex->why, "condition %d, %s(", i + 1, w->name);
        for (int k = 0; k < w->nargs && n < sizeof ex->why; k++) {
            const gs_pnode *arg = w->args[k];
            if (arg->kind == P_NUM)
                n += (size_t)snprintf(ex->why + n, sizeof ex->why - n, "%s%g", k ? ", " : "", arg->num);
            else
                n += (size_t)snprintf(ex->why + n, sizeof ex->why - n, "%s%s", k ? ", " : "",
                                      arg->kind == P_VAR ? arg->name : "[...]");
        }
        n += n < sizeof ex->why ? (size_t)snprintf(ex->why + n, sizeof ex->why - n, "), is false:") : 0;
        for (int k = 0; k < w->nargs && n < sizeof ex->why; k++) {
            char d[200];
            if (w->args[k]->kind != P_VAR)
                continue;
            describe_arg(s->g, &s->m, w->args[k], d, sizeof d);
            n += (size_t)snprintf(ex->why + n, sizeof ex->why - n, " %s;", d);
        }
        if (n > 0 && n < sizeof ex->why && ex->why[n - 1] == ';')
            ex->why[n - 1] = 0;
        ex->best = 1 << 30;
        return;
    }
    if (!gs_rule_applicable(s->g, &s->m)) {
        snprintf(ex->why, sizeof ex->why, "the rewrite would have to give a graph output's name to a graph "
                 "input or an initializer");
        ex->best = 1 << 30;
        return;
    }
    ex->matched = true;
    snprintf(ex->why, sizeof ex->why, "matches: every statement and condition holds");
    ex->best = 1 << 30;
}

bool gs_match_explain(const gs_rule *r, const gs_graph *g, gs_id id, char *why, size_t cap)
{
    int64_t opset = g->opset;
    mexplain ex = { .best = -1 };
    snprintf(ex.why, sizeof ex.why, "the pattern does not match");
    uint32_t slots = r->nroots == 1 ? r->comm_slots : 0;
    int c = __builtin_popcount(slots);
    for (uint32_t k = 0; k < (c <= 6 ? (1u << c) : 1u) && !ex.matched; k++) {
        mstate s;
        memset(&s, 0, sizeof s);
        s.g = g;
        s.opset = opset;
        s.forced = c > 0 && c <= 6;
        s.swaps = spread(k, slots);
        s.ex = &ex;
        s.m.rule = r;
            for (int i = 0; i < GS_MAX_BINDINGS; i++)
            s.m.values[i] = GS_NONE;
        for (int i = 0; i < GS_MAX_PATTERN; i++)
            s.m.nodes[i] = GS_NONE;
        s.m.nnodes = r->nslots;
        ctx_cb cb = { NULL, NULL, 0, false, NULL, 0 };
        if (match_call(&s, r->roots[0], id) && bind_outs(&s, r, 0, id))
            match_more(&s, r, 1, &cb);
    }
    snprintf(why, cap, "%s", ex.why);
    return ex.matched;
}
