/*
 * optimize.c - gs_optimize: the pipeline behind `graphsub optimize`.
 *
 *   shape inference and constant folding -> cleanup to a fixed point
 *   -> control flow of known outcome replaced (subgraph.c) -> the same
 *   pipeline inside every If, Loop and Scan body, recursively
 *   -> search (level 2) -> cleanup -> lowering (class "lower") -> cleanup
 *   -> constant folding -> dead code -> report; the export then writes the
 *   nodes that compute only from initializers first
 *
 * The result is never worse than the input by the cost model: the search
 * returns its start graph when it finds nothing cheaper.
 */
#include "gs_region.h"
#include "gs_search.h"
#include "gs_subgraph.h"

#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

GS_API void gs_optimize_opts_init(gs_optimize_opts *o)
{
    memset(o, 0, sizeof *o);
    o->version = GS_OPTIMIZE_OPTS_VERSION;
    o->level = 2;
    o->alpha = 1.05;
    o->budget = 400;
    o->time_limit = 10;
}

static gs_status check_opts(gs_ctx *ctx, const gs_optimize_opts *o);

gs_status gs_optimize_opts_resolve(gs_ctx *ctx, const gs_optimize_opts *in, gs_optimize_opts *out)
{
    gs_optimize_opts_init(out);
    if (!in)
        return GS_OK;
    if (in->version >= 1 && in->version <= 3) {   /* built against an older header: no later fields */
        static const size_t size[] = { 0, offsetof(gs_optimize_opts, target_opset),
                                       offsetof(gs_optimize_opts, disabled_rules),
                                       offsetof(gs_optimize_opts, search) };
        memcpy(out, in, size[in->version]);
        out->version = GS_OPTIMIZE_OPTS_VERSION;
    } else {
        *out = *in;
    }
    gs_status st = check_opts(ctx, out);
    if (st == GS_OK && out->alpha == 0)
        out->alpha = 1.05;   /* the header's default; every other zero means what it says */
    return st;
}

static gs_status check_opts(gs_ctx *ctx, const gs_optimize_opts *o)
{
    if (o->version != GS_OPTIMIZE_OPTS_VERSION)
        return gs_err(ctx, GS_ERR_ARG, "gs_optimize: unknown options version %d", o->version);
    if (o->target_opset < 0 || o->target_opset > 1000)
        return gs_err(ctx, GS_ERR_ARG, "gs_optimize: target opset %d out of range", o->target_opset);
    if (o->search < GS_SEARCH_TASO || o->search > GS_SEARCH_OCGGS_SAMPLE)
        return gs_err(ctx, GS_ERR_ARG, "gs_optimize: unknown search %d (0 taso, 1 ocggs, 2 ocggs-sample)",
                      o->search);
    if (o->level < 0 || o->level > 2)
        return gs_err(ctx, GS_ERR_ARG, "gs_optimize: level must be 0, 1 or 2 (got %d)", o->level);
    if (o->alpha != 0 && !(o->alpha >= 1 && o->alpha <= 10))   /* NaN fails too */
        return gs_err(ctx, GS_ERR_ARG, "gs_optimize: alpha must be from 1 to 10 (got %g)", o->alpha);
    if (o->budget < 0)
        return gs_err(ctx, GS_ERR_ARG, "gs_optimize: budget must not be negative (got %d)", o->budget);
    if (!(o->time_limit >= 0 && o->time_limit <= 1e9))
        return gs_err(ctx, GS_ERR_ARG, "gs_optimize: time limit must be from 0 to 1e9 seconds (got %g)",
                      o->time_limit);
    return GS_OK;
}

/* True when g or one of its subgraphs holds a live default-domain node of op. */
static bool holds_op(const gs_graph *g, const char *op)
{
    for (gs_id i = 0; i < g->nnodes; i++) {
        const gs_node *n = &g->nodes[i];
        if (!(n->flags & GS_N_DEAD) && (!n->domain || !*n->domain || !strcmp(n->domain, "ai.onnx")) &&
            !strcmp(n->op, op))
            return true;
    }
    for (int32_t i = 0; i < g->nsubs; i++)
        if (holds_op(g->subs[i], op))
            return true;
    return false;
}

/* The opset a profile raises m to: its "opset", lowered by the limits of the
 * ops m holds. */
static int profile_opset(const gs_profile *p, const gs_model *m)
{
    int target = p->opset;
    for (int i = 0; i < p->nlimits; i++)
        if (p->opset_limits[i].opset < target && holds_op(m->graph, p->opset_limits[i].op))
            target = p->opset_limits[i].opset;
    return target;
}

/* True when path names the same file or folder as one of the option's rule paths. */
static bool given(const gs_optimize_opts *o, const char *path)
{
    struct stat a, b;
    if (stat(path, &a) != 0)
        return false;
    for (int i = 0; o->rule_paths && o->rule_paths[i]; i++)
        if (stat(o->rule_paths[i], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return true;
    return false;
}

/* The profile's skip_rules: a rule of that name stays loaded but never
 * applies. A name that is no rule is a mistake in the profile (unless the
 * default rules, where it may live, are turned off). */
static gs_status skip_rule(gs_ctx *ctx, const gs_optimize_opts *o, gs_ruleset *rs, const char *name)
{
    bool found = false;
    for (int i = 0; i < rs->n; i++)
        if (!strcmp(rs->rules[i]->name, name)) {
            rs->rules[i]->flags = 0;
            found = true;
        }
    if (found || o->no_default_rules)
        return GS_OK;
    return gs_err(ctx, GS_ERR_PARSE, "%s: profile field 'skip_rules' names '%s', which is not a rule",
                  o->profile_path ? o->profile_path : "profile", name);
}

/* The default rules (unless turned off), the option's rule paths, then the
 * profile's (each file once). */
static gs_status load_rules(gs_ctx *ctx, const gs_optimize_opts *o, const gs_profile *p, gs_ruleset **out)
{
    gs_ruleset *rs = gs_ruleset_new(ctx);
    if (!rs)
        return gs_nomem(ctx);
    gs_status st = o->no_default_rules ? GS_OK : gs_ruleset_load_default(rs);
    for (int i = 0; st == GS_OK && o->rule_paths && o->rule_paths[i]; i++)
        st = gs_ruleset_load(rs, o->rule_paths[i]);
    for (int i = 0; st == GS_OK && i < p->nrules; i++)
        if (!given(o, p->rules[i]))
            st = gs_ruleset_load(rs, p->rules[i]);
    for (int i = 0; st == GS_OK && i < p->nskip; i++)
        st = skip_rule(ctx, o, rs, p->skip[i]);
    if (st == GS_OK)
        st = gs_rules_select(ctx, rs, o);   /* rules_json, disabled_rules, only_rules (api_rules.c) */
    if (st != GS_OK) {
        gs_ruleset_free(rs);
        return st;
    }
    *out = rs;
    return GS_OK;
}

/* ---- the report -------------------------------------------------------- */

static int count_steps(const gs_step *s)
{
    int n = 0;
    for (; s; s = s->prev)
        n++;
    return n;
}

/* Steps of the path into the report; strings are copied into perm (the
 * model's arena) so they outlive the rules and the run. */
static gs_status fill_steps(gs_ctx *ctx, gs_arena *perm, gs_report *r, const gs_step *path)
{
    int n = count_steps(path);
    r->steps = gs_zalloc(ctx, ((size_t)n + 1) * sizeof *r->steps);
    r->rule_names = gs_zalloc(ctx, ((size_t)n + 1) * sizeof *r->rule_names);
    r->rule_counts = gs_zalloc(ctx, ((size_t)n + 1) * sizeof *r->rule_counts);
    if (!r->steps || !r->rule_names || !r->rule_counts)
        return gs_nomem(ctx);
    r->nsteps = n;
    for (const gs_step *s = path; s; s = s->prev) {   /* the path is newest first */
        gs_rewrite_step *out = &r->steps[--n];
        out->rule = gs_arena_strdup(perm, gs_rule_name(s->rule));
        out->nodes = gs_arena_strdup(perm, s->nodes);
        out->cost_delta = s->delta;
        if (!out->rule || !out->nodes)
            return gs_nomem(ctx);
    }
    for (int i = 0; i < r->nsteps; i++) {
        int k;
        for (k = 0; k < r->nrules && strcmp(r->rule_names[k], r->steps[i].rule); k++)
            ;
        if (k == r->nrules)
            r->rule_names[r->nrules++] = r->steps[i].rule;
        r->rule_counts[k]++;
    }
    return GS_OK;
}

GS_API void gs_report_clear(gs_ctx *ctx, gs_report *r)
{
    if (!ctx || !r)
        return;
    gs_dealloc(ctx, r->steps);
    gs_dealloc(ctx, r->rule_names);
    gs_dealloc(ctx, r->rule_counts);
    int version = r->version;
    /* an older version's struct is shorter */
    memset(r, 0, version == 1 ? offsetof(gs_report, tried) : version == 2 ? offsetof(gs_report, widened) : sizeof *r);
    r->version = version;
}

/* ---- the pipeline ------------------------------------------------------ */

typedef struct run {
    gs_ctx *ctx;
    gs_model *m;
    const gs_optimize_opts *o;
    gs_ruleset *rs;
    gs_profile profile;
    gs_cost_model cm;
    gs_arena arena;     /* steps and their names; strings the report points at */
    gs_rw rw;           /* the rewriter: rs, cm and arena above */
    gs_step *path;
    gs_graph *g;        /* the graph being optimized: the model's, or a body */
    double t_end;       /* the search's deadline, set when it first starts */
    gs_progress prog;   /* the graph being searched: regions done, best cost so far */
    double region_cost; /* cost of the region being searched, before its search */
    double search_t0;
    bool cancelled;     /* the progress callback asked to stop */
} run;

/* A phase of cleanup or lowering rules, to a fixed point or the time limit. */
static gs_status apply_class(run *r, uint32_t flags)
{
    return gs_cleanup(&r->rw, r->g, flags, &r->path, NULL);
}

static gs_status cleanup(run *r)
{
    return apply_class(r, GS_RULE_CLEANUP);
}

/* Append the search's path to the path so far (the search path's oldest
 * step links to the cleanup steps). */
static void join_path(run *r, gs_step *search_path)
{
    if (!search_path)
        return;
    gs_step *s = search_path;
    while (s->prev)
        s = s->prev;
    s->prev = r->path;
    r->path = search_path;
}

enum { REGION_MIN = 40, REGION_MAX = 160 };

/* The search's progress in one region, told to the caller as figures of the
 * whole graph; a non-zero return of progress_ex stops the search. */
static int region_progress(void *ud, int expanded, double best)
{
    run *r = ud;
    gs_progress p = r->prog;
    p.expanded += expanded;
    p.best_cost -= r->region_cost - best;
    p.elapsed = gs_now() - r->search_t0;
    if (r->o->progress)
        r->o->progress(r->o->progress_ud, p.expanded, p.best_cost);
    if (r->o->progress_ex && r->o->progress_ex(r->o->progress_ud, &p))
        r->cancelled = true;
    return r->cancelled;
}

/* Search one run of nodes as a standalone region and splice the best
 * result back when it is cheaper. */
static gs_status search_region(run *r, gs_report *rep, const gs_id *nodes, int n, double t_end)
{
    if (r->cancelled)
        return GS_OK;
    gs_region reg;
    gs_status st = gs_region_extract(&reg, r->g, nodes, n);
    if (st != GS_OK)
        return st == GS_ERR_UNSUPPORTED ? GS_OK : st;
    double left = t_end - gs_now();
    bool watched = r->o->progress || r->o->progress_ex;
    gs_search_opts so = { .alpha = r->o->alpha, .budget = r->o->budget, .time_limit = left > 0 ? left : 0,
                          .progress = watched ? region_progress : NULL, .progress_ud = r,
                          .mode = r->o->search, .seed = r->o->search_seed };
    gs_search_result res;
    double before = r->region_cost = gs_cost_graph(&r->cm, reg.sub);
    st = gs_search(&r->rw, reg.sub, &so, &res);
    if (st == GS_OK) {
        r->prog.expanded += res.expanded;
        if (res.cost < before && (st = gs_region_splice(&reg, res.graph)) == GS_OK) {
            join_path(r, res.path);
            r->prog.best_cost -= before - res.cost;
        } else if (st == GS_ERR_UNSUPPORTED)
            st = GS_OK;   /* the region stays as it was */
        if (rep) {
            rep->candidates += res.candidates;
            rep->expanded += res.expanded;
            if (rep->version >= 2)
                rep->tried += res.tried;
        }
        gs_ir_free(res.graph);
    }
    gs_region_free(&reg);
    return st;
}

/* Regions: runs of at most REGION_MAX nodes cut at narrow points; nodes
 * with subgraphs are left out and end a run. */
static gs_status search(run *r, gs_report *rep)
{
    gs_graph *g = r->g;
    double t0 = gs_now();
    if (!r->t_end)
        r->t_end = t0 + r->o->time_limit;   /* one limit for the model and all its bodies */
    gs_id *order = gs_alloc(r->ctx, ((size_t)g->nnodes + 1) * sizeof *order);
    int *starts = gs_alloc(r->ctx, ((size_t)g->nnodes / REGION_MIN + 3) * sizeof *starts);
    gs_id *run_nodes = gs_alloc(r->ctx, ((size_t)g->nnodes + 1) * sizeof *run_nodes);
    int n = order && starts && run_nodes ? gs_ir_topo(g, order) : -2;
    int count = n >= 0 ? gs_region_plan(g, order, n, REGION_MIN, REGION_MAX, starts) : -1;
    gs_status st = n == -1 ? gs_err(r->ctx, GS_ERR_MODEL, "graph has a cycle")
                 : count < 0 ? gs_nomem(r->ctx) : GS_OK;
    r->prog = (gs_progress){ 0, count > 0 ? count : 0, 0, 0, 0, 0 };
    r->prog.cost_start = r->prog.best_cost = st == GS_OK ? gs_cost_graph(&r->cm, g) : 0;
    r->search_t0 = t0;
    for (int k = 0; st == GS_OK && !r->cancelled && k < count; k++, r->prog.regions_done = k) {
        int len = 0;
        for (int i = starts[k]; i <= starts[k + 1] && st == GS_OK; i++) {
            bool end = i == starts[k + 1] || !gs_region_ok(g, order[i]);
            if (!end) {
                run_nodes[len++] = order[i];
                continue;
            }
            if (len >= 2)
                st = search_region(r, rep, run_nodes, len, r->t_end);
            len = 0;
        }
    }
    if (rep)
        rep->time_ms += (gs_now() - t0) * 1e3;
    gs_dealloc(r->ctx, order);
    gs_dealloc(r->ctx, starts);
    gs_dealloc(r->ctx, run_nodes);
    return st;
}

/* Constant folding then shape inference, until folding finds nothing new:
 * shape subgraphs become constants, so shapes downstream of them are known,
 * which makes the Shape ops reading those values constant in turn (a Slice
 * whose ends are computed from a Shape needs two rounds). */
static gs_status fold_and_infer(run *r, int *folded)
{
    gs_status st = GS_OK;
    for (int round = 0; round < 8 && st == GS_OK; round++) {
        int n = 0;
        st = gs_fold_constants(r->m, r->g, &n);
        *folded += n;
        if (st == GS_OK)
            st = gs_infer_graph(r->g);
        if (n == 0)
            break;
    }
    return st;
}

/* If and Loop of known outcome replaced; the graph is cleaned again after. */
static gs_status simplify_control(run *r, int *folded)
{
    int n = 0;
    gs_status st = gs_sub_simplify(r->m, r->g, &n);
    if (st == GS_OK && n)
        st = gs_infer_graph(r->g);
    if (st == GS_OK && n)
        st = fold_and_infer(r, folded);
    if (st == GS_OK && n)
        st = cleanup(r);
    return st;
}

static gs_status passes(run *r, gs_report *rep, int *folded);

/* fold_and_infer in r->g and in its bodies at any depth (a Loop's trip
 * count computed in its enclosing body is then known to the cost). */
static gs_status fold_all(run *r, int *folded)
{
    gs_graph *g = r->g;
    gs_status st = fold_and_infer(r, folded);
    for (int32_t i = 0; i < g->nsubs && st == GS_OK; i++) {
        r->g = g->subs[i];
        st = fold_all(r, folded);
        r->g = g;
    }
    return st;
}

/* The constants only bodies read moved into them, the passes inside each
 * body of each live node of r->g, loop-invariant nodes moved out of Loop
 * and Scan bodies, then the captures the bodies no longer read dropped. */
static gs_status bodies(run *r, gs_report *rep, int *folded)
{
    gs_graph *g = r->g;
    int sunk = 0;
    gs_status st = gs_sub_sink_consts(g, &sunk);   /* constants only bodies read, moved in */
    for (gs_id i = 0; i < g->nnodes && st == GS_OK; i++) {
        for (int a = 0; !(g->nodes[i].flags & GS_N_DEAD) && a < g->nodes[i].nattrs && st == GS_OK; a++) {
            const gs_attr *at = &g->nodes[i].attrs[a];
            size_t n = at->type == GS_A_GRAPH ? 1 : at->type == GS_A_GRAPHS ? at->n : 0;
            for (size_t j = 0; j < n && st == GS_OK; j++) {
                gs_graph *sub = at->type == GS_A_GRAPH ? at->g : at->gs[j];
                if (!sub)
                    continue;
                r->g = sub;
                st = passes(r, rep, folded);
                r->g = g;
            }
        }
    }
    int hoisted = 0;
    if (st == GS_OK)
        st = gs_sub_hoist(g, &hoisted);   /* loop-invariant nodes run once, outside */
    gs_sub_prune_caps(g);
    return st;
}

/* Everything after the first shape inference, on r->g and its bodies. */
static gs_status passes(run *r, gs_report *rep, int *folded)
{
    gs_status st = fold_and_infer(r, folded);   /* constant nodes cost nothing either way */
    if (st == GS_OK)
        st = cleanup(r);
    if (st == GS_OK)
        st = fold_and_infer(r, folded);
    if (st == GS_OK)
        st = simplify_control(r, folded);
    if (st == GS_OK)
        st = bodies(r, rep, folded);
    if (st == GS_OK && r->o->level >= 2)
        st = search(r, rep);
    if (st == GS_OK)
        st = cleanup(r);
    if (st == GS_OK)
        st = apply_class(r, GS_RULE_LOWER);   /* the target's forms, once nothing else will match */
    if (st == GS_OK)   /* the lowered nodes' shapes and dims, so CSE can merge what they compute */
        st = fold_and_infer(r, folded);
    if (st == GS_OK)
        st = cleanup(r);
    if (st == GS_OK)
        st = fold_and_infer(r, folded);
    if (st != GS_OK)
        return st;
    gs_ir_dce(r->g);
    gs_ir_drop_unused_inits(r->g);
    return GS_OK;
}

static gs_status pipeline(run *r, gs_report *rep)
{
    int folded = 0;
    gs_graph *g = r->m->graph;
    r->g = g;
    gs_status st = gs_infer_graph(g);
    if (rep)
        rep->nodes_before = gs_ir_live_nodes(g);
    int widened = 0;   /* first: the cost model then prices what the target runs */
    if (st == GS_OK && r->profile.float16_as_float32)
        st = gs_widen_float16(r->m, g, &widened);
    if (st == GS_OK && rep && rep->version >= 3)
        rep->widened = widened;
    if (st == GS_OK)
        st = fold_all(r, &folded);   /* constant nodes cost nothing either way */
    if (st == GS_OK && rep)
        rep->cost_before = gs_sub_cost(&r->cm, g);   /* bodies priced in */
    if (st == GS_OK)
        st = passes(r, rep, &folded);
    if (st != GS_OK)
        return st;
    if ((st = gs_ir_verify(g)) == GS_ERR_NOMEM)
        return st;
    if (st != GS_OK) {
        char why[sizeof r->ctx->msg];   /* the message is formatted into the buffer it quotes */
        snprintf(why, sizeof why, "%s", gs_ctx_errmsg(r->ctx));
        return gs_err(r->ctx, GS_ERR_INTERNAL, "optimized graph is invalid: %s", why);
    }
    /* Constant-computing nodes (a quantized model's weight DequantizeLinears)
     * written first run faster in ONNX Runtime at levels disabled and basic,
     * and with a lower peak: bench/README.md, "Node order". */
    g->consts_first = true;
    if (rep) {
        rep->nodes_after = gs_ir_live_nodes(g);
        rep->cost_after = gs_sub_cost(&r->cm, g);
        rep->folded = folded;
    }
    return GS_OK;
}

/* gs_optimize once the profile is loaded (the caller frees it). */
static gs_status optimize_profiled(gs_ctx *ctx, gs_model *m, const gs_optimize_opts *o,
                                   const gs_profile *profile, gs_report *report)
{
    gs_status st;
    int inlined = 0;   /* calls of model-local functions: their bodies are optimized with the rest */
    int nodes_in = gs_ir_live_nodes(m->graph);   /* the report's "before" is the input's count */
    if (o->level > 0 && (st = gs_onnx_inline_functions(m, m->graph, &inlined)) != GS_OK)
        return gs_model_errfile(m, st);
    m->inlined |= inlined > 0;
    if (o->target_opset && (st = gs_opset_raise(m, o->target_opset)) != GS_OK)
        return gs_model_errfile(m, st);
    /* A profile's opset is what the target runs: raise to it when every op allows. */
    int raise = o->target_opset ? 0 : profile_opset(profile, m);
    if (raise && gs_opset_can_raise(m, raise) && (st = gs_opset_raise(m, raise)) != GS_OK)
        return gs_model_errfile(m, st);
    if (o->level == 0)
        return GS_OK;
    run r = { .ctx = ctx, .m = m, .o = o };
    r.profile = *profile;
    r.cm = (gs_cost_model){ &r.profile, o->cost_cb, o->cost_ud };
    if ((st = load_rules(ctx, o, &r.profile, &r.rs)) != GS_OK)
        return st;
    gs_arena_init(&r.arena, ctx);
    r.rw = (gs_rw){ ctx, r.rs, &r.cm, &r.arena, o->time_limit };
    st = pipeline(&r, report);
    if (st == GS_OK && report)
        report->nodes_before = nodes_in;
    if (st == GS_OK && report)
        st = fill_steps(ctx, m->graph->perm, report, r.path);
    gs_arena_free(&r.arena);
    gs_ruleset_free(r.rs);
    return gs_model_errfile(m, st);
}

GS_API gs_status gs_optimize(gs_ctx *ctx, gs_model *m, const gs_optimize_opts *opts,
                             gs_report *report)
{
    if (!ctx)
        return GS_ERR_ARG;
    GS_CHECK_WRITABLE(m);
    gs_optimize_opts dflt;
    gs_status st = gs_optimize_opts_resolve(ctx, opts, &dflt);
    if (st != GS_OK)
        return st;
    const gs_optimize_opts *o = &dflt;
    if (report && (report->version < 1 || report->version > GS_REPORT_VERSION))
        return gs_err(ctx, GS_ERR_ARG, "gs_optimize: unknown report version %d", report->version);
    if (report)
        gs_report_clear(ctx, report);
    gs_profile profile = gs_profile_default;
    if (o->profile_path && (st = gs_profile_load(ctx, o->profile_path, &profile)) != GS_OK)
        return st;
    st = optimize_profiled(ctx, m, o, &profile, report);
    gs_profile_free(ctx, &profile);
    return st;
}
