/*
 * gs_search.h - search.c: the cost-guided search over rewrites in the
 * manner of TASO, and the structural graph hash it skips duplicates by.
 */
#ifndef GS_SEARCH_H
#define GS_SEARCH_H

#include "gs_cleanup.h"

typedef struct gs_search_opts {
    double alpha;               /* keep candidates below alpha * best */
    int budget;                 /* candidates expanded */
    double time_limit;          /* seconds */
    int (*progress)(void *ud, int expanded, double best_cost);   /* non-zero: stop */
    void *progress_ud;
    size_t queue_bytes;         /* cap on queued graphs; 0: GS_SEARCH_QUEUE_BYTES */
} gs_search_opts;

typedef struct gs_search_result {
    gs_graph *graph;            /* best graph found (owned by the caller) */
    double cost;
    int candidates, expanded;
    double time_ms;
    size_t queue_peak;          /* most bytes of graphs queued at once */
    gs_step *path;              /* last step first; lives in the arena passed in */
} gs_search_result;

/* 64-bit structural hash: equal for graphs that compute the same thing in
 * the same way, whatever their node order and value names. */
uint64_t gs_graph_hash(const gs_graph *g);
/* The candidates a search keeps queued hold at most this many bytes of graph
 * (arrays, name tables, node and value lists; shared names and weights not
 * counted): past it the most expensive are dropped, whatever the budget and
 * alpha. */
#define GS_SEARCH_QUEUE_BYTES ((size_t)256 << 20)
/* The search also stops (as at its time limit) once the names, constants and
 * steps its rewrites made pass this many bytes: they live in arenas shared
 * with the model, freed only with it. */
#define GS_SEARCH_ARENA_BYTES ((size_t)256 << 20)
/* TASO-style search from g (not modified) with the rules and cost model of
 * rw; res->path's steps live in rw->arena. */
gs_status gs_search(const gs_rw *rw, const gs_graph *g, const gs_search_opts *opts, gs_search_result *res);

#endif /* GS_SEARCH_H */
