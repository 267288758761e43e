/*
 * gs_region.h - region.c: a run of a big graph's nodes cut out as a
 * standalone graph for the search, and spliced back.
 */
#ifndef GS_REGION_H
#define GS_REGION_H

#include "gs_int.h"

typedef struct gs_region {
    gs_graph *g;                /* the big graph */
    const gs_id *nodes;         /* its nodes in the region, topological order */
    int n;
    gs_graph *sub;              /* the region as a standalone graph */
    gs_id *map;                 /* big value id -> region value id, or GS_NONE */
    gs_id *outs;                /* big value id of each region output, in order */
    uint8_t *member;            /* member[node] for big-graph nodes */
} gs_region;

/* Cut n nodes in topological order into regions of min..max nodes at
 * narrow points; starts[0..count] (starts[count] = n) receives the bounds.
 * starts needs n / min + 2 entries. Returns count, or -1 on no memory. */
int gs_region_plan(const gs_graph *g, const gs_id *order, int n, int min_size, int max_size,
                   int *starts);
/* True when a node can be placed in a region (no subgraphs). */
bool gs_region_ok(const gs_graph *g, gs_id id);
/* Extract nodes[0..n) of g into r->sub. */
gs_status gs_region_extract(gs_region *r, gs_graph *g, const gs_id *nodes, int n);
/* Replace the region's nodes in g by the nodes of res (r->sub or a graph the
 * search derived from it). GS_ERR_UNSUPPORTED leaves g untouched. */
gs_status gs_region_splice(gs_region *r, const gs_graph *res);
void gs_region_free(gs_region *r);

#endif /* GS_REGION_H */
