/*
 * gs_ocggs.h - the OCGGS additions to the search (search_ocggs.c): the order
 * keys that let each set of independent rewrites be explored in one order
 * only, the reuse of the matches a rewrite left alone, and the weighted
 * sample of each step's candidates. search.c calls these at a few marked
 * places; the queue, hash, budget and regions stay search.c's.
 */
#ifndef GS_OCGGS_H
#define GS_OCGGS_H

#include "gs_rules.h"

/* Candidates the sampling variant keeps per step when the options say 0. */
#define GS_OCGGS_SAMPLE_WIDTH 32

/* ---- order keys -------------------------------------------------------- */

typedef struct gs_ocggs gs_ocggs;        /* one search's state (matches of the graph
                                            being expanded, rules seen raising the
                                            cost, scratch space) */

/* The key of a match: the largest key of the nodes it matched. A node's key
 * is (the step that made it, its index in that step), the nodes of the start
 * graph their own id; node ids are handed out in that order (a rewrite
 * appends its nodes, a clone keeps every id), so the key of a node is its id.
 * A candidate made by a match of key k is extended only by matches of a key
 * above k: a rewrite that reads what the last one made always is (its key is
 * a new node's), and independent rewrites are applied in one order only. */
int32_t gs_ocggs_key(const gs_match *m);

/* The order is exact for a search that keeps every candidate (the paper's);
 * under alpha it is not: a cost-raising rewrite is kept only while its cost
 * is below alpha x the best so far, so raising late (from an already cheap
 * graph) passes where raising early and lowering after does not. So a
 * rewrite that raised the cost does not move the order on (its child's key
 * is -1), and the rules seen raising it are tried in every order. */
#define GS_OCGGS_RAISERS 256
/* True when m is to be tried on a candidate of key key. */
bool gs_ocggs_allowed(const gs_ocggs *oc, const gs_match *m, int32_t key);
/* The key of the candidate m made with cost change delta (a raise is noted). */
int32_t gs_ocggs_child_key(gs_ocggs *oc, const gs_match *m, double delta);

/* ---- match reuse ------------------------------------------------------- */

typedef struct gs_oreuse gs_oreuse;      /* what a candidate keeps of its parent's
                                            matches: which, and where to search again */

/* NULL when memory is short. */
gs_ocggs *gs_ocggs_new(gs_ctx *ctx, const gs_ruleset *rs);
void gs_ocggs_free(gs_ocggs *oc);
/* The matches of the search rules in g, the graph about to be expanded:
 * from is what g inherited (NULL: g is searched whole); the matches its
 * parent held that the rewrite left alone are taken as they are, and only
 * around the nodes the rewrite touched is g searched. *out is valid until
 * the next call; *reused (may be NULL) receives the number taken over.
 * Returns the count, or -1 when memory is short (the context's error set). */
int gs_ocggs_matches(gs_ocggs *oc, const gs_graph *g, const gs_oreuse *from, const gs_match **out,
                     int *reused);
/* What child, made from parent (the graph of the last gs_ocggs_matches
 * call) by a rewrite and its cleanup, keeps of parent's matches, into *out
 * (released with gs_ocggs_release). GS_ERR_NOMEM when memory is short. */
gs_status gs_ocggs_inherit(gs_ocggs *oc, const gs_graph *parent, const gs_graph *child, gs_oreuse **out);
void gs_ocggs_release(gs_ocggs *oc, gs_oreuse *r);
/* GS_ERR_INTERNAL (naming a rule) unless the matches of the last
 * gs_ocggs_matches call are exactly those a search of all of g finds. */
gs_status gs_ocggs_check(gs_ocggs *oc, const gs_graph *g);

/* ---- sampling ---------------------------------------------------------- */

/* One candidate of a step, as the sampler sees it. */
typedef struct gs_osample {
    double cost;                /* the candidate's cost */
    double delta;               /* the cost change of the step that made it */
    bool parent_raised;         /* the step before it raised the cost too */
} gs_osample;

/* Choose the candidates of one step to grow further: up to width/2 of the
 * cost-lowering ones (delta < 0), drawn with weight -delta, and up to the
 * rest of width from the promising cost-raising ones (cost below eta x best
 * and not a second raise in a row), drawn with weight eta x best - cost:
 * weighted draws without replacement from *rng (splitmix64 state, advanced).
 * keep[i] is set to 1 for the chosen, 0 for the others; returns how many, or
 * -1 when memory is short (the context's error set). */
int gs_ocggs_sample(gs_ctx *ctx, const gs_osample *items, int n, double best, double eta, int width,
                    uint64_t *rng, uint8_t *keep);

#endif /* GS_OCGGS_H */
