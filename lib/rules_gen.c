/*
 * rules_gen.c - gs_rules_generate: substitution rules found the way TASO
 * finds them (Jia et al., SOSP 2019), over graphsub's own interpreter.
 *
 *   enumerate every expression of up to N ops from a list over up to three
 *   square matrices x, y, z (one DAG holds them all, each expression a node
 *   over the smaller ones) -> run the DAG once on random 3x3 inputs and
 *   fingerprint each expression's values -> group expressions with equal
 *   fingerprints -> a rule from each member to the smallest member of its
 *   group that reads no other input -> prune the redundant (a source holding
 *   a subexpression that a smaller rule rewrites; the same op over one same
 *   operand on both sides, the others related by a smaller rule; a source
 *   that is an instance of a more general rule's source) -> keep the rules
 *   whose two sides agree on two more runs (4x4 and 5x5, other values) ->
 *   write them as JSON rules with a "check" and keep those `rules check`
 *   passes.
 *
 * Expressions are trees written over variables in order of first use
 * (x before y before z), so a renaming of the inputs is one expression; a
 * commutative op takes its operands in one order, the matcher tries both.
 */
#include "gs_rules.h"
#include "gs_ops.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gop {
    const char *name;
    int arity;
    bool comm;
} gop;

static const gop known_ops[] = {
    { "Add", 2, true }, { "Mul", 2, true }, { "Sub", 2, false }, { "Div", 2, false },
    { "Max", 2, true }, { "Min", 2, true }, { "MatMul", 2, false }, { "Transpose", 1, false },
    { "Relu", 1, false }, { "Neg", 1, false }, { "Exp", 1, false }, { "Log", 1, false },
    { "Sqrt", 1, false }, { "Abs", 1, false }, { "Sigmoid", 1, false }, { "Tanh", 1, false },
    { "Reciprocal", 1, false },
};
enum { NKNOWN = sizeof known_ops / sizeof known_ops[0], MAX_OPS = 16, NVARS = 3 };

typedef struct expr {
    int16_t op;                 /* index in gen.ops, or -1: variable var */
    int16_t var;
    int32_t a, b;               /* operands (expression indices), -1 none */
    int32_t size;               /* ops in the tree */
    uint8_t vars;               /* bit v: reads variable v */
    uint8_t first[NVARS];       /* variables in order of first use */
    uint8_t nfirst;
    int32_t group;              /* fingerprint group, -1: not finite */
    gs_id value;                /* its value in the DAG */
} expr;

typedef struct gen {
    gs_ctx *ctx;
    const gop *ops[MAX_OPS];
    int nops, max_nodes;
    expr *e;
    int n, cap;
    gs_graph *g;                /* the DAG of every expression */
    gs_tensor **run[3];         /* per run (3x3, 4x4, 5x5): each expression's value */
    uint64_t seed;
} gen;

/* ---- the op list -------------------------------------------------------- */

static gs_status parse_ops(gen *G, const char *list)
{
    char name[32];
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof name)
            return gs_err(G->ctx, GS_ERR_ARG, "rules generate: bad op list '%s'", list);
        memcpy(name, p, len);
        name[len] = 0;
        int k = 0;
        while (k < NKNOWN && strcmp(known_ops[k].name, name))
            k++;
        if (k == NKNOWN)
            return gs_err(G->ctx, GS_ERR_ARG, "rules generate: op '%s' is not one the generator "
                          "enumerates (Add, Mul, Sub, Div, Max, Min, MatMul, Transpose, Relu, Neg, Exp, "
                          "Log, Sqrt, Abs, Sigmoid, Tanh, Reciprocal)", name);
        for (int i = 0; i < G->nops; i++)
            if (G->ops[i] == &known_ops[k])
                return gs_err(G->ctx, GS_ERR_ARG, "rules generate: op '%s' given twice", name);
        if (G->nops == MAX_OPS)
            return gs_err(G->ctx, GS_ERR_ARG, "rules generate: at most %d ops", MAX_OPS);
        G->ops[G->nops++] = &known_ops[k];
        p += len + (p[len] == ',');
    }
    return G->nops ? GS_OK : gs_err(G->ctx, GS_ERR_ARG, "rules generate: no ops given");
}

/* ---- enumeration ---------------------------------------------------------- */

static expr *push(gen *G)
{
    if (G->n == G->cap) {
        int cap = G->cap ? G->cap * 2 : 1024;
        expr *a = gs_realloc(G->ctx, G->e, (size_t)cap * sizeof *a);
        if (!a)
            return NULL;
        G->e = a;
        G->cap = cap;
    }
    expr *x = &G->e[G->n++];
    memset(x, 0, sizeof *x);
    x->a = x->b = -1;
    x->group = -1;
    x->value = GS_NONE;
    return x;
}

/* x's variables in order of first use: a's, then b's new ones. */
static void first_use(expr *x, const expr *a, const expr *b)
{
    x->nfirst = 0;
    for (int side = 0; side < 2; side++) {
        const expr *s = side ? b : a;
        for (int i = 0; s && i < s->nfirst; i++)
            if (!(x->vars & (1u << s->first[i]))) {
                x->vars |= (uint8_t)(1u << s->first[i]);
                x->first[x->nfirst++] = s->first[i];
            }
    }
}

/* Renaming the inputs in order of first use leaves x as it is. */
static bool canonical(const expr *x)
{
    for (int i = 0; i < x->nfirst; i++)
        if (x->first[i] != i)
            return false;
    return true;
}

static bool add_op(gen *G, int op, int a, int b)
{
    expr *x = push(G);
    if (!x)
        return false;
    const expr *ea = &G->e[a], *eb = b >= 0 ? &G->e[b] : NULL;
    x->op = (int16_t)op;
    x->a = a, x->b = b;
    x->size = 1 + ea->size + (eb ? eb->size : 0);
    first_use(x, ea, eb);
    return true;
}

/* Every expression of exactly size ops, from those smaller (indices below
 * end; level[s] is where size s starts). */
static bool enumerate_size(gen *G, int size, const int *level)
{
    for (int k = 0; k < G->nops; k++) {
        const gop *o = G->ops[k];
        if (o->arity == 1) {
            for (int a = level[size - 1]; a < level[size]; a++)
                if (!add_op(G, k, a, -1))
                    return false;
            continue;
        }
        for (int sa = 0; sa < size; sa++)
            for (int a = level[sa]; a < level[sa + 1]; a++)
                for (int b = level[size - 1 - sa]; b < level[size - sa]; b++)
                    if ((!o->comm || a <= b) && !add_op(G, k, a, b))
                        return false;
    }
    return true;
}

static gs_status enumerate(gen *G)
{
    int level[16] = { 0 };
    for (int v = 0; v < NVARS; v++) {
        expr *x = push(G);
        if (!x)
            return gs_nomem(G->ctx);
        x->op = -1, x->var = (int16_t)v, x->vars = (uint8_t)(1u << v);
        x->first[0] = (uint8_t)v, x->nfirst = 1;
    }
    level[1] = G->n;
    for (int s = 1; s <= G->max_nodes; s++) {
        if (!enumerate_size(G, s, level))
            return gs_nomem(G->ctx);
        level[s + 1] = G->n;
    }
    return GS_OK;
}

/* ---- running the DAG ------------------------------------------------------- */

static bool set_perm(gs_graph *g, gs_id node)
{
    gs_attr *at = gs_arena_alloc(&g->arena, sizeof *at);
    int64_t *p = gs_arena_alloc(&g->arena, 2 * sizeof *p);
    if (!at || !p)
        return false;
    p[0] = 1, p[1] = 0;
    at->name = "perm", at->type = GS_A_INTS, at->ints = p, at->n = 2;
    g->nodes[node].attrs = at;
    g->nodes[node].nattrs = 1;
    return true;
}

/* The DAG: inputs x, y, z and one node per expression, each an output. */
static gs_status build_dag(gen *G)
{
    gs_graph *g = G->g = gs_ir_new_opset(G->ctx, 17);
    gs_id *outs = gs_alloc(G->ctx, ((size_t)G->n + 1) * sizeof *outs);
    gs_id *ins = g ? gs_arena_alloc(&g->arena, NVARS * sizeof *ins) : NULL;
    if (!g || !outs || !ins) {
        gs_dealloc(G->ctx, outs);
        return gs_nomem(G->ctx);
    }
    int nout = 0;
    char name[32];
    for (int i = 0; i < G->n; i++) {
        expr *x = &G->e[i];
        snprintf(name, sizeof name, x->op < 0 ? "%c" : "e%d", x->op < 0 ? "xyz"[x->var] : i);
        if ((x->value = gs_ir_add_value(g, name, true)) == GS_NONE)
            break;
        if (x->op < 0) {
            g->values[x->value].flags |= GS_V_INPUT;
            ins[x->var] = x->value;
            continue;
        }
        gs_id in[2] = { G->e[x->a].value, x->b >= 0 ? G->e[x->b].value : GS_NONE };
        gs_id nd = gs_ir_add_node(g, G->ops[x->op]->name, "", gs_arena_strdup(g->perm, name), in,
                                  x->b >= 0 ? 2 : 1, &x->value, 1);
        if (nd == GS_NONE || (!strcmp(G->ops[x->op]->name, "Transpose") && !set_perm(g, nd)))
            break;
        g->values[x->value].flags |= GS_V_OUTPUT;
        outs[nout++] = x->value;
    }
    g->inputs = ins, g->ninputs = NVARS;
    g->outputs = gs_arena_memdup(&g->arena, outs, (size_t)nout * sizeof *outs);
    g->noutputs = nout;
    gs_dealloc(G->ctx, outs);
    return nout == G->n - NVARS && g->outputs ? GS_OK : gs_nomem(G->ctx);
}

static double rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* Run the DAG on random n x n inputs (magnitudes in [0.5, 2), either sign:
 * an expression true only of positive inputs would not pass rules check);
 * G->run[r][i] receives expression i's value (an expression that is not
 * finite everywhere, such as a Log of an input, is left out). */
static gs_status run_dag(gen *G, int r, int64_t n)
{
    gs_tensor *in[NVARS] = { NULL };
    gs_status st = GS_OK;
    for (int v = 0; v < NVARS && st == GS_OK; v++) {
        gs_value *val = &G->g->values[G->e[v].value];
        gs_dim d[2] = { { .v = n }, { .v = n } };
        val->dtype = GS_FLOAT;
        val->rank = 2;
        val->dims = gs_arena_memdup(&G->g->arena, d, sizeof d);
        if (!(in[v] = gs_tensor_new(G->ctx)) || !val->dims) {
            st = gs_nomem(G->ctx);
            break;
        }
        in[v]->dtype = GS_FLOAT, in[v]->rank = 2, in[v]->dims[0] = n, in[v]->dims[1] = n;
        if ((st = gs_tensor_alloc(G->ctx, in[v])) != GS_OK)
            break;
        for (int64_t k = 0; k < n * n; k++) {   /* both signs, away from 0 */
            double m = 0.5 + 1.5 * rnd(&G->seed);
            gs_tensor_set_f(in[v], k, rnd(&G->seed) < 0.5 ? -m : m);
        }
    }
    G->run[r] = gs_zalloc(G->ctx, (size_t)G->n * sizeof *G->run[r]);
    if (st == GS_OK && !G->run[r])
        st = gs_nomem(G->ctx);
    if (st == GS_OK && (st = gs_infer_graph(G->g)) == GS_OK)
        st = gs_interp_run(G->ctx, G->g, (const gs_tensor *const *)in, NVARS, G->run[r] + NVARS,
                           G->n - NVARS);
    for (int v = 0; v < NVARS; v++) {
        if (G->run[r] && st == GS_OK)
            G->run[r][v] = in[v], in[v] = NULL;   /* the variables' values are the inputs */
        gs_tensor_free(G->ctx, in[v]);
    }
    return st;
}

/* ---- fingerprints and groups ------------------------------------------------ */

/* A hash of t's values to about four significant digits; false when one is
 * not finite. */
static bool fingerprint(const gs_tensor *t, uint64_t *out)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int64_t k = 0; k < gs_tensor_numel(t); k++) {
        double v = gs_tensor_get_f(t, k);
        if (!isfinite(v))
            return false;
        int e = 0;
        double m = fabs(v) < 1e-6 ? 0 : frexp(v, &e);
        int64_t q = (int64_t)llround(m * 4096);
        h = (h ^ (uint64_t)q) * 0x100000001b3ull;
        h = (h ^ (uint64_t)(e + 4096)) * 0x100000001b3ull;
    }
    *out = h;
    return true;
}

/* Groups of equal fingerprint: e[i].group is the index of the group's
 * first expression (-1: a value not finite). Returns how many expressions
 * joined a group an earlier one started, or -1 when memory is short. */
static int group(gen *G)
{
    size_t cap = 1;
    while (cap < (size_t)G->n * 2)
        cap *= 2;
    uint64_t *keys = gs_zalloc(G->ctx, cap * sizeof *keys);
    int32_t *first = gs_alloc(G->ctx, cap * sizeof *first);
    int joined = keys && first ? 0 : -1;
    for (int i = 0; joined >= 0 && i < G->n; i++) {
        uint64_t h;
        if (!fingerprint(G->run[0][i], &h))
            continue;
        h = h ? h : 1;
        size_t j = h & (cap - 1);
        while (keys[j] && keys[j] != h)
            j = (j + 1) & (cap - 1);
        if (!keys[j])
            keys[j] = h, first[j] = i;
        else
            joined++;
        G->e[i].group = first[j];
    }
    gs_dealloc(G->ctx, keys);
    gs_dealloc(G->ctx, first);
    return joined;
}

/* ---- rules ------------------------------------------------------------------ */

/* The target of a rule from i: the first member of i's group (the
 * smallest: expressions are made in order of size) that reads only
 * variables i reads and is no larger; of i's size, one made before i or one
 * not written in order of first use (that one is never a source itself, so
 * each pair gives one rule). -1: none. */
static int target_of(const gen *G, int i)
{
    const expr *x = &G->e[i];
    for (int j = 0; j < G->n && x->group >= 0 && G->e[j].size <= x->size; j++)
        if (j != i && G->e[j].group == x->group && (G->e[j].vars & ~x->vars) == 0 &&
            (G->e[j].size < x->size || j < i || !canonical(&G->e[j])))
            return j;
    return -1;
}

/* True when expression i can be rewritten into a strictly smaller one. */
static bool reducible(const gen *G, int i)
{
    int t = target_of(G, i);
    return t >= 0 && G->e[t].size < G->e[i].size;
}

/* True when some op subexpression of i (i itself when self) is reducible. */
static bool has_reducible(const gen *G, int i, bool self)
{
    const expr *x = &G->e[i];
    if (x->op < 0)
        return false;
    if (self && reducible(G, i))
        return true;
    return has_reducible(G, x->a, true) || (x->b >= 0 && has_reducible(G, x->b, true));
}

/* True when i and j apply the same op to one same operand (or to their only
 * one), and their other operands compute the same: the rule between those
 * operands implies i -> j. */
static bool same_context(const gen *G, int i, int j)
{
    const expr *x = &G->e[i], *y = &G->e[j];
    if (x->op < 0 || x->op != y->op)
        return false;
    if (x->b < 0)   /* one operand each */
        return G->e[x->a].group >= 0 && G->e[x->a].group == G->e[y->a].group;
    int xo[2] = { x->a, x->b }, yo[2] = { y->a, y->b };
    for (int k = 0; k < 2; k++)
        for (int l = 0; l < 2; l++)
            if (xo[k] == yo[l] && (k == l || G->ops[x->op]->comm) &&
                G->e[xo[1 - k]].group >= 0 && G->e[xo[1 - k]].group == G->e[yo[1 - l]].group)
                return true;
    return false;
}

/* True when tree s is general tree g with its variables replaced by trees
 * (bind[v]: the tree of s variable v of g stands for, -1 unbound), the
 * operands of a commutative op in either order. */
static bool instance(const gen *G, int g, int s, int *bind)
{
    const expr *x = &G->e[g], *y = &G->e[s];
    if (x->op < 0) {
        if (bind[x->var] < 0)
            bind[x->var] = s;
        return bind[x->var] == s;
    }
    if (x->op != y->op)
        return false;
    int saved[NVARS];
    memcpy(saved, bind, sizeof saved);
    if (instance(G, x->a, y->a, bind) && (x->b < 0 || instance(G, x->b, y->b, bind)))
        return true;
    memcpy(bind, saved, sizeof saved);   /* a commutative op: the other order, as the matcher tries */
    return x->b >= 0 && G->ops[x->op]->comm && instance(G, x->a, y->b, bind) && instance(G, x->b, y->a, bind);
}

/* True when the source of rule i is an instance of the source of a rule
 * kept before it (rules[0..n)). */
static bool special_case(const gen *G, int src, const int *kept, int n)
{
    for (int k = 0; k < n; k++) {
        int bind[NVARS] = { -1, -1, -1 };
        if (kept[k] != src && instance(G, kept[k], src, bind))
            return true;
    }
    return false;
}

/* True when expressions i and j agree, within float rounding, on run r. */
static bool agree(const gen *G, int r, int i, int j)
{
    const gs_tensor *a = G->run[r][i], *b = G->run[r][j];
    if (!a || !b)
        return false;
    for (int64_t k = 0; k < gs_tensor_numel(a); k++) {
        double x = gs_tensor_get_f(a, k), y = gs_tensor_get_f(b, k);
        if (!isfinite(x) || !isfinite(y) || fabs(x - y) > 1e-4 + 1e-3 * fmax(fabs(x), fabs(y)))
            return false;
    }
    return true;
}

/* ---- writing the rules ---------------------------------------------------- */

typedef struct sbuf {
    gs_ctx *ctx;
    char *s;
    size_t n, cap;
    bool nomem;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (int pass = 0; pass < 2 && !b->nomem; pass++) {
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->nomem = true;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap + (size_t)k + 1) * 2;
        char *s = gs_realloc(b->ctx, b->s, cap);
        if (!s)
            b->nomem = true;
        else
            b->s = s, b->cap = cap;
    }
}

/* Expression i as rule text. A Transpose of the match side binds its perm
 * to p1, p2, ... (*nperm counts them; a condition and the check give them
 * [1, 0]); the rewrite side writes the literal. nperm NULL: the rewrite. */
static void put_expr(sbuf *b, const gen *G, int i, int *nperm)
{
    const expr *x = &G->e[i];
    if (x->op < 0) {
        put(b, "%c", "xyz"[x->var]);
        return;
    }
    put(b, "%s(", G->ops[x->op]->name);
    put_expr(b, G, x->a, nperm);
    if (x->b >= 0) {
        put(b, ", ");
        put_expr(b, G, x->b, nperm);
    }
    put(b, ")");
    if (!strcmp(G->ops[x->op]->name, "Transpose") && nperm)
        put(b, "{perm=p%d}", ++*nperm);
    else if (!strcmp(G->ops[x->op]->name, "Transpose"))
        put(b, "{perm=[1, 0]}");
}

typedef struct grule {
    int src, tgt;
} grule;

/* The rule file for rules[0..n) whose keep[] is set (keep NULL: all). */
static void write_rules(sbuf *b, const gen *G, const char *ops, const grule *r, int n, const uint8_t *keep)
{
    put(b, "{\"rules\": [");
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (keep && !keep[i])
            continue;
        const expr *x = &G->e[r[i].src];
        put(b, "%s\n {\"name\": \"gen-%d\", \"class\": \"search\",\n", k++ ? "," : "", i + 1);
        put(b, "  \"doc\": \"Generated (rules generate --ops %s): both sides agree on random 3x3, "
               "4x4 and 5x5 inputs.\",\n  \"match\": \"", ops);
        int nperm = 0;
        put_expr(b, G, r[i].src, &nperm);
        put(b, "\",\n  \"where\": [\"rank(x, 2)\"");
        for (int v = 1; v < NVARS; v++)
            if (x->vars & (1u << v))
                put(b, ", \"same_shape(x, %c)\"", "xyz"[v]);
        for (int p = 1; p <= nperm; p++)
            put(b, ", \"attr_eq(p%d, [1, 0])\"", p);
        put(b, "],\n  \"rewrite\": \"");
        put_expr(b, G, r[i].tgt, NULL);
        put(b, "\",\n  \"check\": {");
        for (int v = 0, c = 0; v < NVARS; v++)
            if (x->vars & (1u << v))
                put(b, "%s\"%c\": [3, 3]", c++ ? ", " : "", "xyz"[v]);
        for (int p = 1; p <= nperm; p++)
            put(b, ", \"p%d\": [1, 0]", p);
        put(b, "}}");
    }
    put(b, "\n]}\n");
}

/* ---- the whole ---------------------------------------------------------------- */

static const gen *G_sort;   /* qsort has no user pointer; set just before the call */

/* Smaller sources first; of a size, those reading more variables. */
static int general_first(const void *pa, const void *pb)
{
    const expr *a = &G_sort->e[((const grule *)pa)->src], *b = &G_sort->e[((const grule *)pb)->src];
    if (a->size != b->size)
        return a->size - b->size;
    int va = __builtin_popcount(a->vars), vb = __builtin_popcount(b->vars);
    if (va != vb)
        return vb - va;
    return ((const grule *)pa)->src - ((const grule *)pb)->src;
}

/* Candidate rules: each var-canonical expression to the first member of its
 * group, unless redundant; those that agree on the other runs. */
static gs_status find_rules(gen *G, grule **out, int *nout, gs_rulegen_stats *stats)
{
    grule *r = gs_alloc(G->ctx, ((size_t)G->n + 1) * sizeof *r);
    if (!r)
        return gs_nomem(G->ctx);
    int *srcs = gs_alloc(G->ctx, ((size_t)G->n + 1) * sizeof *srcs);
    if (!srcs) {
        gs_dealloc(G->ctx, r);
        return gs_nomem(G->ctx);
    }
    int m = 0, n = 0;
    for (int i = NVARS; i < G->n; i++) {
        int t = target_of(G, i);
        if (t < 0 || !canonical(&G->e[i]))
            continue;
        stats->candidates++;
        if (has_reducible(G, i, false) || same_context(G, i, t))
            stats->pruned++;
        else
            r[m++] = (grule){ i, t };
    }
    G_sort = G;
    qsort(r, (size_t)m, sizeof *r, general_first);
    for (int k = 0; k < m; k++) {   /* the more general sources first */
        if (special_case(G, r[k].src, srcs, n))
            stats->pruned++;
        else if (agree(G, 1, r[k].src, r[k].tgt) && agree(G, 2, r[k].src, r[k].tgt))
            srcs[n] = r[k].src, r[n++] = r[k];
    }
    gs_dealloc(G->ctx, srcs);
    stats->verified = n;
    *out = r;
    *nout = n;
    return GS_OK;
}

/* Load the rules and keep those `rules check` passes. */
static gs_status check_rules(gen *G, const sbuf *b, int n, uint8_t *keep, gs_rulegen_stats *stats)
{
    gs_ruleset *rs = gs_ruleset_new(G->ctx);
    if (!rs)
        return gs_nomem(G->ctx);
    gs_status st = gs_ruleset_load_mem(rs, b->s, b->n, "generated");
    if (st == GS_OK && gs_ruleset_count(rs) != n)
        st = gs_err(G->ctx, GS_ERR_INTERNAL, "rules generate: wrote %d rules, read %d", n,
                    gs_ruleset_count(rs));
    for (int i = 0; st == GS_OK && i < n; i++) {
        char why[256];
        int v = gs_rule_check(G->ctx, gs_ruleset_get(rs, i), why, sizeof why);
        if (v == CHECK_NOMEM)
            st = GS_ERR_NOMEM;
        keep[i] = v == 0;
        stats->checked += v == 0;
    }
    gs_ruleset_free(rs);
    return st;
}

static void gen_free(gen *G)
{
    for (int r = 0; r < 3; r++) {
        for (int i = 0; G->run[r] && i < G->n; i++)
            gs_tensor_free(G->ctx, G->run[r][i]);
        gs_dealloc(G->ctx, G->run[r]);
    }
    gs_ir_free(G->g);
    gs_dealloc(G->ctx, G->e);
}

/* Every expression of up to max_nodes ops, at most this many. */
#define GS_RULEGEN_MAX_EXPRS 400000

GS_API gs_status gs_rules_generate(gs_ctx *ctx, const char *ops, int max_nodes, char **json,
                                   gs_rulegen_stats *stats)
{
    if (!ctx || !ops || !json)
        return GS_ERR_ARG;
    *json = NULL;
    if (max_nodes < 1 || max_nodes > 4)
        return gs_err(ctx, GS_ERR_ARG, "rules generate: --max-nodes must be from 1 to 4 (got %d)", max_nodes);
    gs_rulegen_stats local;
    stats = stats ? stats : &local;
    memset(stats, 0, sizeof *stats);
    gen G = { .ctx = ctx, .max_nodes = max_nodes, .seed = 0x5eed };
    gs_status st = parse_ops(&G, ops);
    if (st == GS_OK)
        st = enumerate(&G);
    if (st == GS_OK && G.n > GS_RULEGEN_MAX_EXPRS)
        st = gs_err(ctx, GS_ERR_ARG, "rules generate: %d ops up to %d nodes make %d expressions "
                    "(at most %d): fewer ops or nodes", G.nops, max_nodes, G.n, GS_RULEGEN_MAX_EXPRS);
    stats->expressions = G.n - NVARS;
    if (st == GS_OK)
        st = build_dag(&G);
    for (int r = 0; r < 3 && st == GS_OK; r++)
        st = run_dag(&G, r, 3 + r);
    int joined = st == GS_OK ? group(&G) : 0;
    for (int i = 0; getenv("GS_GDBG") && i < G.n; i++) fprintf(stderr, "%d op %d a %d b %d group %d vars %d nfirst %d canon %d t %d\n", i, G.e[i].op, G.e[i].a, G.e[i].b, G.e[i].group, G.e[i].vars, G.e[i].nfirst, canonical(&G.e[i]), target_of(&G, i));
    if (st == GS_OK && joined < 0)
        st = gs_nomem(ctx);
    stats->equal = joined;
    grule *rules = NULL;
    int n = 0;
    if (st == GS_OK)
        st = find_rules(&G, &rules, &n, stats);
    sbuf all = { ctx, NULL, 0, 0, false }, kept = { ctx, NULL, 0, 0, false };
    uint8_t *keep = st == GS_OK ? gs_zalloc(ctx, (size_t)n + 1) : NULL;
    if (st == GS_OK && !keep)
        st = gs_nomem(ctx);
    if (st == GS_OK)
        write_rules(&all, &G, ops, rules, n, NULL);
    if (st == GS_OK && all.nomem)
        st = gs_nomem(ctx);
    if (st == GS_OK)
        st = check_rules(&G, &all, n, keep, stats);
    if (st == GS_OK)
        write_rules(&kept, &G, ops, rules, n, keep);
    if (st == GS_OK && kept.nomem)
        st = gs_nomem(ctx);
    if (st == GS_OK)
        *json = kept.s, kept.s = NULL;
    gs_dealloc(ctx, all.s);
    gs_dealloc(ctx, kept.s);
    gs_dealloc(ctx, keep);
    gs_dealloc(ctx, rules);
    gen_free(&G);
    return st;
}
