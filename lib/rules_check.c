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
    double in_lo[64], in_hi[64];   /* per graph input: its check data's "range", if any */
    bool in_ranged[64];
} inst;

static double rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

/* An element for a float input: from the pass's range r, or, when the
 * variable's check data gives a "range" [lo, hi], from that range in every
 * pass (zeros: 0 when the range holds it; mixed: the special values it
 * holds, among uniform values). */
static double draw_in(const struct range *r, bool ranged, double lo, double hi, uint64_t *seed);

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

static double draw_in(const struct range *r, bool ranged, double lo, double hi, uint64_t *seed)
{
    if (!ranged)
        return draw(r, seed);
    if (r->lo == 0 && r->hi == 0 && lo <= 0 && hi >= 0)
        return 0;
    if (r->special) {
        double v = draw(r, seed);
        if (v >= lo && v <= hi)
            return v;
    }
    return lo + (hi - lo) * rnd(seed);
}

/* Variables some const(...) condition names must be initializers. */
static bool wants_const(const gs_rule *r, int var)
{
    for (int i = 0; i < r->nwhere; i++)
        if (r->where[i]->fn->const_args)
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

/* The dtype a check spec's "dtype" names, or 0 for a name it does not take. */
static int32_t check_dtype(const char *name)
{
    static const struct { const char *name; int32_t dtype; } types[] = {
        { "float", GS_FLOAT }, { "int64", GS_INT64 }, { "int32", GS_INT32 }, { "int8", GS_INT8 },
        { "uint8", GS_UINT8 }, { "bool", GS_BOOL },
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(name, types[i].name))
            return types[i].dtype;
    return 0;
}

static gs_id make_value(inst *in, int var)
{
    const char *name = in->r->vars[var];
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(in->spec, name);
    gs_tensor t = { .dtype = GS_FLOAT };
    double lo = -1, hi = 1;
    bool ranged = false;
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
        if (cJSON_IsArray(range) && cJSON_GetArraySize(range) == 2) {
            lo = cJSON_GetArrayItem(range, 0)->valuedouble, hi = cJSON_GetArrayItem(range, 1)->valuedouble;
            ranged = true;
        }
        if (dtype && !(cJSON_IsString(dtype) && (t.dtype = check_dtype(dtype->valuestring))))
            ok = false;
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
        if (in->g->ninputs < 64) {
            in->in_lo[in->g->ninputs] = lo, in->in_hi[in->g->ninputs] = hi;
            in->in_ranged[in->g->ninputs] = ranged;
        }
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
    inst in = { .ctx = ctx, .r = r, .g = gs_ir_new_opset(ctx, opset), .spec = spec, .seed = seed, .absent = absent };
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
        bool fl = gs_op_floatlike(v->dtype);
        for (int64_t k = 0; k < gs_tensor_numel(ins[i]); k++)
            gs_tensor_set_f(ins[i], k, fl || in.in_ranged[i]
                                           ? draw_in(range, in.in_ranged[i], in.in_lo[i], in.in_hi[i], &in.seed)
                                           : 2 * rnd(&in.seed) - 1);
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

/* ---- shapes other than the check data's ---------------------------------- */

/* The shape array of value variable var in spec (NULL: an attribute, a
 * constant given by its values, or no shape). */
static cJSON *shape_item(const gs_rule *r, cJSON *spec, int var)
{
    if (gs_rule_attr_var(r, var))
        return NULL;
    cJSON *s = cJSON_GetObjectItemCaseSensitive(spec, r->vars[var]);
    if (cJSON_IsObject(s))
        s = cJSON_GetObjectItemCaseSensitive(s, "value") ? NULL : cJSON_GetObjectItemCaseSensitive(s, "shape");
    return cJSON_IsArray(s) ? s : NULL;
}

/* Numbers an attribute holds, in the pattern or the check data (a
 * kernel_shape of 3): dims of that size are left as written, since an
 * attribute may have to agree with them in a valid model. */
typedef struct fixed_dims {
    double v[64];
    int n;
} fixed_dims;

static void fix_num(fixed_dims *f, double v)
{
    if (f->n < 64)
        f->v[f->n++] = v;
}

static void fix_literals(fixed_dims *f, const gs_pnode *p)
{
    if (!p)
        return;
    if (p->kind == P_NUM)
        fix_num(f, p->num);
    for (int i = 0; i < p->nargs; i++)
        fix_literals(f, p->args[i]);
    for (int i = 0; i < p->nattrs; i++)
        if (p->attrs[i].val && p->attrs[i].val->kind != P_VAR)
            fix_literals(f, p->attrs[i].val);
}

static void fix_attr_data(fixed_dims *f, const gs_rule *r, const cJSON *spec)
{
    for (int v = 0; v < r->nvars; v++) {
        bool attr = gs_rule_attr_var(r, v);
        const cJSON *s = attr ? cJSON_GetObjectItemCaseSensitive(spec, r->vars[v]) : NULL, *e;
        if (cJSON_IsNumber(s))
            fix_num(f, s->valuedouble);
        cJSON_ArrayForEach(e, (cJSON_IsArray(s) ? s : NULL))
            if (cJSON_IsNumber(e))
                fix_num(f, e->valuedouble);
    }
}

/* Every dim d > 1 of every value variable becomes d + 1, except the sizes
 * an attribute holds: the rule at a second size. */
static void grow_dims(const gs_rule *r, cJSON *spec)
{
    fixed_dims f = { .n = 0 };
    for (int i = 0; i < r->nroots; i++)
        fix_literals(&f, r->roots[i]);
    fix_attr_data(&f, r, spec);
    for (int v = 0; v < r->nvars; v++) {
        cJSON *d, *shape = shape_item(r, spec, v);
        cJSON_ArrayForEach(d, shape) {
            bool fixed = false;
            for (int i = 0; i < f.n && !fixed; i++)
                fixed = f.v[i] == d->valuedouble;
            if (cJSON_IsNumber(d) && d->valuedouble > 1 && !fixed)
                cJSON_SetNumberValue(d, d->valuedouble + 1);
        }
    }
}

/* The k-th graph-input variable (not constant) of rank >= 1 with a first dim
 * > 1 gets a first dim of 1, so the ops reading it broadcast it against the
 * others. False when there is no k-th such variable. */
static bool broadcast_one(const gs_rule *r, cJSON *spec, int k, const char **name)
{
    for (int v = 0; v < r->nvars; v++) {
        cJSON *shape = shape_item(r, spec, v);
        cJSON *d0 = shape ? cJSON_GetArrayItem(shape, 0) : NULL;
        if (!d0 || !cJSON_IsNumber(d0) || d0->valuedouble <= 1 || wants_const(r, v) || k--)
            continue;
        cJSON_SetNumberValue(d0, 1);
        *name = r->vars[v];
        return true;
    }
    return false;
}

/* Every range and seed (and with the optional inputs absent) on one spec:
 * 0 ok, 1 failed, 2 unchecked, CHECK_NOMEM; `shapes` names the spec in a
 * message ("" for the check data as written). */
static int check_spec(gs_ctx *ctx, const gs_rule *r, cJSON *spec, bool unit, const char *shapes, char *res,
                      size_t cap)
{
    int verdict = 0;
    for (int absent = 0; absent <= (r->optional != 0) && verdict == 0; absent++)   /* and without them */
        for (int k = 0; k < NRANGES && verdict == 0; k++)
            for (uint64_t seed = 1; seed <= 3 && verdict == 0 &&
                                 !(unit && (ranges[k].special || ranges[k].hi - ranges[k].lo > 2)); seed++) {
                verdict = check_once(ctx, r, spec, seed * 1000003, absent, &ranges[k], res, cap);
                if (verdict != 0 && verdict != CHECK_NOMEM) {
                    char msg[768];
                    snprintf(msg, sizeof msg, "%s (inputs drawn from %s%s%s)", res, ranges[k].name,
                             absent ? ", optional inputs absent" : "", shapes);
                    snprintf(res, cap, "%s", msg);
                }
            }
    return verdict;
}

/* A second size and a broadcast input, where the rule matches them: a
 * variant the pattern or its conditions refuse (or whose match side does
 * not run) is skipped; one that matches must give the same results. */
static int check_variants(gs_ctx *ctx, const gs_rule *r, const cJSON *spec, bool unit, char *res, size_t cap)
{
    char sub[512];
    cJSON *v = cJSON_Duplicate(spec, true);
    if (!v)
        return gs_nomem(ctx), CHECK_NOMEM;
    grow_dims(r, v);
    int verdict = check_spec(ctx, r, v, unit, ", every dim > 1 of the check data one larger", sub, sizeof sub);
    cJSON_Delete(v);
    for (int k = 0; (verdict == 0 || verdict == 2) && k < GS_MAX_BINDINGS; k++) {
        const char *name = NULL;
        if (!(v = cJSON_Duplicate(spec, true)))
            return gs_nomem(ctx), CHECK_NOMEM;
        bool any = broadcast_one(r, v, k, &name);
        char what[128];
        snprintf(what, sizeof what, ", '%s' with a first dim of 1, broadcast", any ? name : "");
        verdict = any ? check_spec(ctx, r, v, unit, what, sub, sizeof sub) : 0;
        cJSON_Delete(v);
        if (!any || verdict == 0)
            break;   /* one broadcast case that matches is enough */
    }
    if (verdict == 1 || verdict == CHECK_NOMEM)
        snprintf(res, cap, "%s", sub);
    return verdict == 2 ? 0 : verdict;
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
    /* "unit_inputs": true: a rule whose sides take a softmax of products of
     * inputs (attention) is checked on [-1, 1) and zeros only: at magnitudes
     * of 1e4 its logits reach 1e8, where two correct roundings of one sum
     * are a whole logit apart and flip the softmax. */
    bool unit = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "unit_inputs"));
    int verdict = check_spec(ctx, r, spec, unit, "", res, cap);
    if (verdict == 0)
        verdict = check_variants(ctx, r, spec, unit, res, cap);
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

/* ---- the public explanation ------------------------------------------------ */

static gs_status explain_graph(gs_ctx *ctx, const gs_rule *r, gs_model *m, gs_explain_cb cb, void *ud)
{
    gs_graph *g = m->graph;
    int64_t opset = g->opset;
    gs_status st = gs_infer_graph(g);   /* conditions read shapes and types */
    if (st == GS_ERR_NOMEM)
        return st;
    ctx->last = GS_OK;
    char why[700];
    if (opset < r->opset_min || opset > r->opset_max) {
        snprintf(why, sizeof why, "the rule applies at opsets %d to %d and the model has opset %lld: it never "
                 "fires on this model (what follows is what it would do at that opset)", r->opset_min,
                 r->opset_max, (long long)opset);
        cb(ud, NULL, NULL, 0, why);
    }
    int seen = 0;
    for (gs_id id = 0; id < g->nnodes; id++) {
        const gs_node *n = &g->nodes[id];
        if ((n->flags & GS_N_DEAD) || *n->domain || strcmp(n->op, r->roots[0]->name))
            continue;
        seen++;
        bool ok = gs_match_explain(r, g, id, why, sizeof why);
        cb(ud, n->name, n->op, ok, why);
    }
    if (!seen) {
        snprintf(why, sizeof why, "the model's main graph has no %s node, the op of the rule's first statement",
                 r->roots[0]->name);
        cb(ud, NULL, NULL, 0, why);
    }
    return GS_OK;
}

GS_API gs_status gs_rules_explain(gs_ctx *ctx, const char *const *paths, const char *rule, gs_model *model,
                                  gs_explain_cb cb, void *ud)
{
    if (!ctx)
        return GS_ERR_ARG;
    if (!rule || !model || !cb)
        return gs_err(ctx, GS_ERR_ARG, "rule, model and callback must not be NULL");
    GS_CHECK_WRITABLE(model);   /* shape inference changes it */
    gs_ruleset *rs = gs_ruleset_new(ctx);
    if (!rs)
        return gs_nomem(ctx);
    gs_status st = paths && paths[0] ? GS_OK : gs_ruleset_load_default(rs);
    for (int i = 0; st == GS_OK && paths && paths[i]; i++)
        st = gs_ruleset_load(rs, paths[i]);
    const gs_rule *r = st == GS_OK ? gs_ruleset_find(rs, rule) : NULL;
    const char *near = st == GS_OK && !r ? gs_ruleset_nearest(rs, rule) : NULL;
    if (st == GS_OK && !r && near)
        st = gs_err(ctx, GS_ERR_ARG, "no rule named '%s' (did you mean '%s'?)", rule, near);
    else if (st == GS_OK && !r)
        st = gs_err(ctx, GS_ERR_ARG, "no rule named '%s' (graphsub rules list shows them)", rule);
    if (st == GS_OK)
        st = explain_graph(ctx, r, model, cb, ud);
    gs_ruleset_free(rs);
    return st;
}
