/*
 * gs_subgraph.h - subgraph.c: control flow seen from the graph holding it
 * (bodies priced, If/Loop of known outcome inlined, constants sunk into and
 * loop invariants hoisted out of bodies).
 */
#ifndef GS_SUBGRAPH_H
#define GS_SUBGRAPH_H

#include "gs_cost.h"

/* Live nodes inside the bodies of g's live nodes, at any depth. */
int gs_sub_nodes(const gs_graph *g);
/* Cost of g with its bodies priced in: an If as its dearer branch, a Loop's
 * body times its constant trip count, a Scan's body times its known
 * sequence length (1 when unknown), recursively. */
double gs_sub_cost(const gs_cost_model *cm, const gs_graph *g);
/* Replace If nodes whose condition is a constant by the taken branch, and
 * Loop nodes of constant trip count 1 (0) by their body (initial values),
 * inlined under names unique along every scope; *count is increased by
 * the nodes replaced. New tensors are owned by m. */
gs_status gs_sub_simplify(gs_model *m, gs_graph *g, int *count);
/* Move each initializer of g that no node reads except through the bodies
 * of one node into those bodies, as their initializer of the same name
 * (into several bodies only when small); *count is increased by the moves. */
gs_status gs_sub_sink_consts(gs_graph *g, int *count);
/* Move the nodes of Loop and Scan bodies that compute the same thing in
 * every iteration (their inputs outer values or the body's constants, at
 * least one outer) into g before the node; *count is increased by the
 * nodes moved. */
gs_status gs_sub_hoist(gs_graph *g, int *count);
/* Drop the captures of g's nodes that none of their bodies reads any more. */
void gs_sub_prune_caps(gs_graph *g);

#endif /* GS_SUBGRAPH_H */
