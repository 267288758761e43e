/*
 * rules_check.c - numerical soundness check of rules.
 *
 * For each rule, the match side is built as a small graph from the rule's
 * "check" object (a shape per value variable, or a constant's values, a
 * value per attribute variable). Variables that the rule's conditions need
 * constant become initializers with random data; the others become graph
 * inputs. The graph is run in the reference interpreter on random inputs,
 * the rule is matched and applied to it, the result is run on the same
 * inputs, and the outputs are compared. Several seeds are tried, each with
 * float inputs drawn from several ranges: a rule exact only near zero (a
 * Clip removed) fails on large values, one that turns an overflow into a
 * number (Log of Exp) too, one that divides by what may be zero on the
 * zeros. A rule
 * whose instance cannot be built or run (no check data, an op without a
 * kernel) is reported as unchecked, never as passing.
 */
#include "gs_ops.h"
#include "gs_rules.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Where the float inputs of a check instance come from. Constants keep
 * their check data's range: they stand for a model's weights. */
static const struct range {
    const char *name;
    double lo, hi;
    bool special;               /* half the elements from special_values */
} ranges[] = {
    { "[-1, 1)", -1, 1, false },
    { "[-10000, 10000)", -1e4, 1e4, false },
    { "zeros", 0, 0, false },
    { "mixed magnitudes (0, -0, +-1e-30, +-1, +-1e4)", -1, 1, true },
};
enum { NRANGES = sizeof ranges / sizeof ranges[0] };

typedef struct inst {
    gs_ctx *ctx;
    const gs_rule *r;
    gs_graph *g;
    cJSON *spec;
    uint64_t seed;
    gs_id vals[GS_MAX_BINDINGS];   /* value made for each variable */
    char why[256];                 /* why the instance cannot be built */
    bool absent;                   /* leave the optional inputs ("b?") out */
} inst;

static double rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static double draw(const struct range *r, uint64_t *seed)
{
    /* No infinities or NaNs: a fold that reassociates a sum (every linear
     * fold does) changes where inf - inf becomes NaN, which no model relies
     * on. A NaN or infinity made from finite inputs is still caught. */
    static const double special_values[] = { 0.0, -0.0, 1e-30, -1e-30, 1, -1, 1e4, -1e4 };
    enum { NSPECIAL = sizeof special_values / sizeof special_values[0] };
    double u = rnd(seed);
    if (r->special && u < 0.5)
        return special_values[(int)(u * 2 * NSPECIAL) % NSPECIAL];
    return r->lo + (r->hi - r->lo) * rnd(seed);
}

/* Variables some const(...) condition names must be initializers. */
static bool wants_const(const gs_rule *r, int var)
{
    for (int i = 0; i < r->nwhere; i++)
        if (!strcmp(r->where[i]->name, "const") || !strcmp(r->where[i]->name, "all_equal") ||
            !strcmp(r->where[i]->name, "same_const") || !strcmp(r->where[i]->name, "no_zero") ||
            !strcmp(r->where[i]->name, "channel_bias") || !strcmp(r->where[i]->name, "vector_for"))
            for (int k = 0; k < r->where[i]->nargs; k++)
                if (r->where[i]->args[k]->kind == P_VAR && r->where[i]->args[k]->var == var)
                    return true;
    return false;
}

static bool shape_of(const cJSON *arr, int64_t *dims, int *rank)
{
    *rank = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, arr) {
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || *rank == GS_MAX_RANK)
            return false;
        dims[(*rank)++] = gs_to_int64(d->valuedouble);
    }
    return true;
}

static gs_id make_value(inst *in, int var)
{
    const char *name = in->r->vars[var];
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(in->spec, name);
    gs_tensor t = { .dtype = GS_FLOAT };
    double lo = -1, hi = 1;
    const cJSON *values = NULL;
    bool ok = true;
    if (cJSON_IsArray(s)) {
        ok = shape_of(s, t.dims, &t.rank);
    } else if (cJSON_IsString(s) && !strcmp(s->valuestring, "scalar")) {
        t.rank = 0;
    } else if (cJSON_IsObject(s)) {
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(s, "shape");
        const cJSON *range = cJSON_GetObjectItemCaseSensitive(s, "range");
        const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(s, "dtype");
        values = cJSON_GetObjectItemCaseSensitive(s, "value");
        if (cJSON_IsNumber(values)) {   /* a rank-0 constant */
            t.rank = 0;
        } else if (cJSON_IsArray(values) && shape) {   /* a constant of that shape, elements in order */
            ok = shape_of(shape, t.dims, &t.rank) && gs_tensor_numel(&t) == cJSON_GetArraySize(values);
        } else if (cJSON_IsArray(values)) {
            t.rank = 1;
            t.dims[0] = cJSON_GetArraySize(values);
        } else if (values) {
            ok = false;
        } else {
            ok = shape && shape_of(shape, t.dims, &t.rank);
        }
        if (cJSON_IsArray(range) && cJSON_GetArraySize(range) == 2)
            lo = cJSON_GetArrayItem(range, 0)->valuedouble, hi = cJSON_GetArrayItem(range, 1)->valuedouble;
        if (cJSON_IsString(dtype) && !strcmp(dtype->valuestring, "int64"))
            t.dtype = GS_INT64;
    } else {
        snprintf(in->why, sizeof in->why, "no check data for '%s'", name);
        return GS_NONE;
    }
    if (!ok) {
        snprintf(in->why, sizeof in->why, "bad check data for '%s'", name);
        return GS_NONE;
    }
    int64_t numel = gs_tensor_numel(&t);
    if (numel < 0 || numel > (1 << 24)) {
        snprintf(in->why, sizeof in->why, "check data for '%s' is too large", name);
        return GS_NONE;
    }
    bool is_const = values || wants_const(in->r, var);
    if (!is_const) {
        gs_id v = gs_ir_add_value(in->g, name, true);
        if (v == GS_NONE)
            return GS_NONE;
        gs_value *val = &in->g->values[v];
        val->flags |= GS_V_INPUT;
        val->dtype = t.dtype;
        val->rank = t.rank;
        val->dims = gs_arena_alloc(&in->g->arena, (size_t)(t.rank + 1) * sizeof(gs_dim));
        for (int i = 0; val->dims && i < t.rank; i++)
            val->dims[i].v = t.dims[i];
        gs_id *l = gs_arena_alloc(&in->g->arena, ((size_t)in->g->ninputs + 1) * sizeof *l);
        if (!l || !val->dims)
            return GS_NONE;
        if (in->g->ninputs)
            memcpy(l, in->g->inputs, (size_t)in->g->ninputs * sizeof *l);
        l[in->g->ninputs++] = v;
        in->g->inputs = l;
        return v;
    }
    gs_tensor *c = gs_arena_alloc(in->g->perm, sizeof *c);
    if (!c)
        return GS_NONE;
    *c = t;
    size_t n = (size_t)gs_tensor_numel(&t), es = gs_dtype_size(t.dtype);
    c->nbytes = n * es;
    c->data = gs_arena_alloc(in->g->perm, c->nbytes ? c->nbytes : 1);
    if (!c->data)
        return GS_NONE;
    for (size_t i = 0; i < n; i++) {
        double v = cJSON_IsNumber(values) ? values->valuedouble
                   : values ? cJSON_GetArrayItem(values, (int)i)->valuedouble : lo + (hi - lo) * rnd(&in->seed);
        gs_tensor_set_f(c, (int64_t)i, v);
    }
    return gs_ir_add_init(in->g, name, c);
}

static gs_attr *attr_from(inst *in, const char *name, const cJSON *v)
{
    gs_attr *a = gs_arena_alloc(in->g->perm, sizeof *a);
    if (!a)
        return NULL;
    a->name = gs_arena_strdup(in->g->perm, name);
    if (cJSON_IsNumber(v)) {   /* integral numbers make INT attributes, others FLOAT */
        bool integral = v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15;
        a->type = integral ? GS_A_INT : GS_A_FLOAT;
        a->i = gs_to_int64(v->valuedouble);
        a->f = (float)v->valuedouble;
    } else if (cJSON_IsArray(v)) {
        a->type = GS_A_INTS;
        a->n = (size_t)cJSON_GetArraySize(v);
        a->ints = gs_arena_alloc(in->g->perm, (a->n + 1) * sizeof *a->ints);
        for (size_t i = 0; a->ints && i < a->n; i++)
            a->ints[i] = gs_to_int64(cJSON_GetArrayItem(v, (int)i)->valuedouble);
    } else if (cJSON_IsString(v)) {
        a->type = GS_A_STRING;
        a->s = gs_arena_strdup(in->g->perm, v->valuestring);
        a->slen = a->s ? strlen(a->s) : 0;
    } else {
        return NULL;
    }
    return a;
}

/* Attributes of a pattern call for the instance. */
static bool node_attrs(inst *in, const gs_pnode *p, gs_node *n)
{
    gs_attr *list = gs_arena_alloc(&in->g->arena, ((size_t)p->nattrs + 1) * sizeof *list);
    int count = 0;
    for (int i = 0; list && i < p->nattrs; i++) {
        const gs_pattr *pa = &p->attrs[i];
        const gs_pnode *v = pa->val;
        if (!pa->name)
            continue;
        gs_attr *a = NULL;
        if (v->kind == P_VAR) {
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(in->spec, v->name);
            if (!s)
                continue;   /* absent: the op's default (or the pattern's "|default") */
            a = attr_from(in, pa->name, s);
        } else if (v->kind == P_NUM) {
            a = gs_arena_alloc(in->g->perm, sizeof *a);
            if (a) {
                a->name = pa->name;
                a->type = v->var ? GS_A_FLOAT : GS_A_INT;
                a->f = (float)v->num, a->i = gs_to_int64(v->num);
            }
        }
        if (!a) {
            snprintf(in->why, sizeof in->why, "attribute '%s' cannot be instantiated", pa->name);
            return false;
        }
        list[count++] = *a;
    }
    n->attrs = list;
    n->nattrs = count;
    return list != NULL;
}

/* Build pattern node p (and what it reads); a statement's node gets one
 * output per name in out_vars (at least one). Returns its first output. */
static gs_id build(inst *in, const gs_pnode *p, const int *out_vars, int nout)
{
    if (p->kind == P_VAR) {
        if (in->vals[p->var] == GS_NONE)
            in->vals[p->var] = make_value(in, p->var);
        return in->vals[p->var];
    }
    if (p->kind != P_CALL) {
        snprintf(in->why, sizeof in->why, "literal in a match pattern");
        return GS_NONE;
    }
    gs_id args[32];
    int nargs = 0;
    for (int k = 0; k < p->nargs && k < 32; k++, nargs++) {
        if (in->absent && p->args[k]->kind == P_VAR && p->args[k]->optional) {
            args[k] = GS_NONE;
            continue;
        }
        if ((args[k] = build(in, p->args[k], NULL, 0)) == GS_NONE)
            return GS_NONE;
    }
    while (nargs > 0 && args[nargs - 1] == GS_NONE)
        nargs--;
    gs_id outs[GS_MAX_ROOTS];
    int n = nout > 1 ? nout : 1;
    for (int o = 0; o < n; o++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%d", nout ? in->r->vars[out_vars[o]] : "t", p->slot);
        if ((outs[o] = gs_ir_add_value(in->g, name, true)) == GS_NONE)
            return GS_NONE;
    }
    const char *node_name = gs_arena_printf(in->g->perm, "n%d_%s", p->slot, p->name);
    gs_id id = node_name ? gs_ir_add_node(in->g, p->name, "", node_name, args, nargs, outs, n) : GS_NONE;
    if (id == GS_NONE || !node_attrs(in, p, &in->g->nodes[id]))
        return GS_NONE;
    for (int o = 0; o < nout; o++)
        in->vals[out_vars[o]] = outs[o];
    return outs[0];
}

static bool build_instance(inst *in)
{
    const gs_rule *r = in->r;
    for (int i = 0; i < GS_MAX_BINDINGS; i++)
        in->vals[i] = GS_NONE;
    gs_id outs[GS_MAX_ROOTS];
    int nsinks = 0;
    for (int i = r->nroots - 1; i >= r->nouter; i--)   /* inner statements first, as written */
        if (build(in, r->roots[i], r->root_out[i], r->root_nout[i]) == GS_NONE)
            return false;
    for (int i = 0; i < r->nouter; i++) {
        gs_id first = build(in, r->roots[i], r->root_out[i], r->root_nout[i]);
        if (first == GS_NONE)
            return false;
        if (r->root_nout[i] <= 1 && nsinks < GS_MAX_ROOTS)
            outs[nsinks++] = first;
        for (int o = 0; r->root_nout[i] > 1 && o < r->root_nout[i] && nsinks < GS_MAX_ROOTS; o++)
            outs[nsinks++] = in->vals[r->root_out[i][o]];
    }
    in->g->outputs = gs_arena_alloc(&in->g->arena, (size_t)nsinks * sizeof(gs_id));
    if (!in->g->outputs)
        return false;
    for (int i = 0; i < nsinks; i++) {   /* a Sum of one input as a sink: no rule matches it */
        char name[32];
        snprintf(name, sizeof name, "sink_%d", i);
        gs_id o = gs_ir_add_value(in->g, name, true);
        const char *nn = gs_arena_strdup(in->g->perm, name);
        if (o == GS_NONE || !nn || gs_ir_add_node(in->g, "Sum", "", nn, &outs[i], 1, &o, 1) == GS_NONE)
            return false;
        in->g->outputs[i] = o;
        in->g->values[o].flags |= GS_V_OUTPUT;
    }
    in->g->noutputs = nsinks;
    return true;
}

static bool first_match(const gs_match *m, void *ud)
{
    *(gs_match *)ud = *m;
    return false;
}

typedef struct run_out {
    gs_tensor *t[GS_MAX_ROOTS];
    int n;
} run_out;

static gs_status run(gs_ctx *ctx, const gs_graph *g, const gs_tensor *const *ins, int nin, run_out *o)
{
    o->n = g->noutputs;
    return gs_interp_run(ctx, g, ins, nin, o->t, o->n);
}

static void free_out(gs_ctx *ctx, run_out *o)
{
    for (int i = 0; i < o->n; i++)
        gs_tensor_free(ctx, o->t[i]);
    o->n = 0;
}

/* Largest finite |element| of t. */
static double magnitude(const gs_tensor *t)
{
    double m = 0;
    for (int64_t k = 0; k < gs_tensor_numel(t); k++) {
        double p = fabs(gs_tensor_get_f(t, k));
        if (isfinite(p) && p > m)
            m = p;
    }
    return m;
}

/* Worst difference beyond tolerance between tensors x (before) and y
 * (after), or 0: a NaN matches only a NaN at the same place, an infinity
 * only the same infinity; others pass within 1e-5 + 1e-4 * max(|p|,
 * largest |p| / 100), float rounding near zero judged against the scale. */
static double worst_of(const gs_tensor *x, const gs_tensor *y)
{
    double w = 0, scale = magnitude(x) / 100;
    for (int64_t k = 0; k < gs_tensor_numel(x); k++) {
        double p = gs_tensor_get_f(x, k), q = gs_tensor_get_f(y, k);
        if ((isnan(p) && isnan(q)) || p == q)
            continue;
        if (!isfinite(p) || !isfinite(q))
            return INFINITY;   /* a NaN or an infinity on one side only */
        double d = fabs(p - q);
        if (d > 1e-5 + 1e-4 * fmax(fabs(p), scale) && d > w)
            w = d;
    }
    return w;
}

/* Worst difference beyond tolerance between a and b, or 0. */
static double worst(const run_out *a, const run_out *b, bool *shape_ok)
{
    double w = 0;
    *shape_ok = a->n == b->n;
    for (int i = 0; i < a->n && *shape_ok; i++) {
        const gs_tensor *x = a->t[i], *y = b->t[i];
        if (x->rank != y->rank || memcmp(x->dims, y->dims, (size_t)x->rank * 8)) {
            *shape_ok = false;
            break;
        }
        w = fmax(w, worst_of(x, y));
    }
    return w;
}

/* One seed of one rule: "ok", or a message in res. Returns 0 ok, 1 failed, 2 unchecked. */
static int check_once(gs_ctx *ctx, const gs_rule *r, cJSON *spec, uint64_t seed, bool absent,
                      const struct range *range, char *res, size_t cap)
{
    int64_t opset = r->opset_max < 21 ? r->opset_max : 17;
    if (opset < r->opset_min)
        opset = r->opset_min;
    ctx->last = GS_OK;   /* GS_ERR_NOMEM there at the end: memory ran out on the way */
    inst in = { ctx, r, gs_ir_new_opset(ctx, opset), spec, seed, { 0 }, "", absent };
    if (!in.g)
        return gs_nomem(ctx), CHECK_NOMEM;
    int verdict = 2;
    run_out before = { { NULL }, 0 }, after = { { NULL }, 0 };
    gs_tensor *ins[64] = { NULL };
    int nin = 0;
    if (!build_instance(&in)) {
        snprintf(res, cap, "%s", in.why[0] ? in.why : gs_ctx_errmsg(ctx));
        goto done;
    }
    if (gs_infer_graph(in.g) == GS_ERR_NOMEM)
        goto done;
    for (int i = 0; i < in.g->ninputs && i < 64; i++, nin++) {   /* random inputs */
        const gs_value *v = &in.g->values[in.g->inputs[i]];
        if (!(ins[i] = gs_tensor_new(ctx)))
            goto done;
        ins[i]->dtype = v->dtype;
        ins[i]->rank = v->rank;
        for (int d = 0; d < v->rank; d++)
            ins[i]->dims[d] = v->dims[d].v;
        if (gs_tensor_alloc(ctx, ins[i]) != GS_OK)
            goto done;
        bool fl = v->dtype == GS_FLOAT || v->dtype == GS_DOUBLE || v->dtype == GS_FLOAT16 ||
                  v->dtype == GS_BFLOAT16;
        for (int64_t k = 0; k < gs_tensor_numel(ins[i]); k++)
            gs_tensor_set_f(ins[i], k, fl ? draw(range, &in.seed) : 2 * rnd(&in.seed) - 1);
    }
    if (run(ctx, in.g, (const gs_tensor *const *)ins, nin, &before) != GS_OK) {
        snprintf(res, cap, "%s", gs_ctx_errmsg(ctx));
        goto done;
    }
    gs_ruleset one = { .ctx = ctx, .arena = { ctx, NULL, 0, 0 }, .rules = (gs_rule **)&r, .n = 1, .cap = 1 };
    gs_match m;
    int found = gs_match_all(&one, in.g, GS_RULE_CLEANUP | GS_RULE_SEARCH | GS_RULE_LOWER, first_match, &m);
    if (found < 0) {
        snprintf(res, cap, "%s", gs_ctx_errmsg(ctx));
        goto done;
    }
    if (found == 0) {
        snprintf(res, cap, "the check instance does not match the pattern and conditions");
        goto done;
    }
    if (gs_rule_apply(in.g, &m, NULL) != GS_OK || gs_ir_verify(in.g) != GS_OK) {
        snprintf(res, cap, "rewrite failed: %s", gs_ctx_errmsg(ctx));
        verdict = 1;
        goto done;
    }
    gs_status st = run(ctx, in.g, (const gs_tensor *const *)ins, nin, &after);
    if (st != GS_OK) {   /* the match side ran: a replacement that does not is wrong, */
        snprintf(res, cap, "the rewritten graph does not run: %s", gs_ctx_errmsg(ctx));
        verdict = st == GS_ERR_UNSUPPORTED ? 2 : 1;   /* unless it needs an op without a kernel */
        goto done;
    }
    bool shape_ok;
    double w = worst(&before, &after, &shape_ok);
    verdict = !shape_ok || w > 0;
    if (!shape_ok)
        snprintf(res, cap, "output shapes differ");
    else if (w > 0)
        snprintf(res, cap, "worst difference %g", w);
done:
    free_out(ctx, &before);
    free_out(ctx, &after);
    for (int i = 0; i <= nin && i < 64; i++)   /* and the one being made when memory ran out */
        gs_tensor_free(ctx, ins[i]);
    gs_ir_free(in.g);
    return ctx->last == GS_ERR_NOMEM ? CHECK_NOMEM : verdict;
}

int gs_rule_check(gs_ctx *ctx, const gs_rule *r, char *res, size_t cap)
{
    if (!r->check) {
        snprintf(res, cap, "no \"check\" object");
        return 2;
    }
    cJSON *spec = cJSON_Parse(r->check);
    if (!spec)   /* the text was printed by cJSON at load: only memory can fail */
        return gs_nomem(ctx), CHECK_NOMEM;
    int verdict = 0;
    /* "unit_inputs": true: a rule whose sides take a softmax of products of
     * inputs (attention) is checked on [-1, 1) and zeros only: at magnitudes
     * of 1e4 its logits reach 1e8, where two correct roundings of one sum
     * are a whole logit apart and flip the softmax. */
    bool unit = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "unit_inputs"));
    for (int absent = 0; absent <= (r->optional != 0) && verdict == 0; absent++)   /* and without them */
        for (int k = 0; k < NRANGES && verdict == 0; k++)
            for (uint64_t seed = 1; seed <= 3 && verdict == 0 &&
                                 !(unit && (ranges[k].special || ranges[k].hi - ranges[k].lo > 2)); seed++) {
                verdict = check_once(ctx, r, spec, seed * 1000003, absent, &ranges[k], res, cap);
                if (verdict != 0 && verdict != CHECK_NOMEM) {
                    char msg[512];
                    snprintf(msg, sizeof msg, "%s (inputs drawn from %s%s)", res, ranges[k].name,
                             absent ? ", optional inputs absent" : "");
                    snprintf(res, cap, "%s", msg);
                }
            }
    if (verdict == 0)
        snprintf(res, cap, unit ? "ok (inputs in [-1, 1) and zeros only)" : "ok");
    cJSON_Delete(spec);
    return verdict;
}

/* ---- the public listing and checking ------------------------------------ */

GS_API gs_status gs_rules_each(gs_ctx *ctx, const char *const *paths, int check, gs_rule_cb cb, void *ud,
                               int *nfailed)
{
    if (!ctx || !cb)
        return GS_ERR_ARG;
    gs_ruleset *rs = gs_ruleset_new(ctx);
    if (!rs)
        return gs_nomem(ctx);
    gs_status st = paths && paths[0] ? GS_OK : gs_ruleset_load_default(rs);
    for (int i = 0; st == GS_OK && paths && paths[i]; i++)
        st = gs_ruleset_load(rs, paths[i]);
    int failed = 0;
    for (int i = 0; st == GS_OK && i < rs->n; i++) {
        const gs_rule *r = rs->rules[i];
        char res[512] = "";
        int verdict = check ? gs_rule_check(ctx, r, res, sizeof res) : -1;
        if (verdict == CHECK_NOMEM) {
            st = GS_ERR_NOMEM;
            break;
        }
        failed += verdict == 1;
        cb(ud, r->name, r->file, r->ops, r->doc, gs_rule_class(r), verdict, res);
    }
    if (nfailed)
        *nfailed = failed;
    gs_ruleset_free(rs);
    return st;
}
