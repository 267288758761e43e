/*
 * gs_cleanup.h - the rewriter (cleanup.c): its context, the steps it
 * records, applying one match and pricing it, cleanup to a fixed point; and
 * common-subexpression elimination (cse.c).
 */
#ifndef GS_CLEANUP_H
#define GS_CLEANUP_H

#include "gs_cost.h"
#include "gs_rules.h"

/* The rewriter's context: what applying rules needs, made once by
 * gs_optimize and passed to the cleanup and the search. */
typedef struct gs_rw {
    gs_ctx *ctx;
    const gs_ruleset *rs;
    const gs_cost_model *cm;
    gs_arena *arena;            /* steps and the match names they hold */
    double phase_time;          /* seconds one gs_cleanup call may take (0: one pass) */
} gs_rw;

/* One rewrite on the path from the input to the result. */
typedef struct gs_step {
    const gs_rule *rule;
    const char *nodes;          /* matched node names, comma separated (a comma or backslash
                                   inside a name escaped by a backslash) */
    double delta;               /* cost change, seconds */
    struct gs_step *prev;
} gs_step;

/* The first match of a rule of the classes in flags rooted at node id, if
 * there is one, applied: its step (priced by what it added and removed)
 * joins *path, its changes go to *d, *applied says whether it was, and
 * *priced is false when an added node cannot be priced. */
gs_status gs_rw_cleanup_at(const gs_rw *rw, gs_graph *g, uint32_t flags, gs_id id, gs_step **path,
                           gs_delta *d, bool *applied, bool *priced);
/* Infer the shapes of the nodes a rewrite added (d->added). False when a
 * node that will not be folded away has an output of unknown shape: such a
 * candidate cannot be priced, and an unknown shape would price it as free. */
bool gs_rw_price_added(const gs_rw *rw, gs_graph *g, const gs_delta *d);
/* Cost of nodes ids[0..n) of g, removed ones priced as they were. */
double gs_rw_nodes_cost(const gs_rw *rw, const gs_graph *g, const gs_id *ids, int n);
/* A step of match m in g (names taken from g now) in rw->arena; NULL on no memory. */
gs_step *gs_rw_step(const gs_rw *rw, const gs_graph *g, const gs_match *m, double delta, gs_step *prev);

/* Bounds of one gs_cleanup call: the graph's node slots (live and dead:
 * every rewrite adds some) may grow to GROWTH x the slots at the start plus
 * SLACK; a rule set that passes this does not converge (rules undoing each
 * other, or a rewrite holding its own match). */
#define GS_CLEANUP_GROWTH 16
#define GS_CLEANUP_SLACK 4096
/* Apply the rules of class flags (GS_RULE_CLEANUP or GS_RULE_LOWER) to a
 * fixed point, in place, merging equal nodes between rounds. Steps taken are
 * prepended to *path (allocated in rw->arena); *count (may be NULL) receives
 * the rewrites and merges made. Stops after the pass that ends past
 * rw->phase_time seconds, keeping the graph as it is then; past the slots
 * bound GS_ERR_RULE names the rules that kept applying. */
gs_status gs_cleanup(const gs_rw *rw, gs_graph *g, uint32_t flags, gs_step **path, int *count);
/* cse.c: merge live nodes with the same op, attributes and inputs; *merged
 * receives the number merged. */
gs_status gs_cse(gs_graph *g, int *merged);
/* A Transpose and the Transpose undoing it, with only elementwise ops reading
 * one value after another between them, removed; the ops work in the first
 * one's input layout, their constants permuted to it (transpose_pairs.c).
 * *count: pairs removed. */
gs_status gs_cancel_transpose_pairs(gs_graph *g, int *count);

#endif /* GS_CLEANUP_H */
