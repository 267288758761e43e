/*
 * gs_cost.h - cost.c: the analytic cost model (FLOPs, bytes, per-op
 * overhead from the target's figures) or a caller's callback.
 */
#ifndef GS_COST_H
#define GS_COST_H

#include "gs_ops.h"
#include "gs_target.h"

typedef struct gs_cost_model {
    const gs_profile *profile;
    gs_cost_cb cb;              /* replaces the formula when set */
    void *cb_ud;
} gs_cost_model;

typedef struct gs_ncost {
    double flops, bytes, seconds;
} gs_ncost;

/* Write into buf (cap bytes) the key under which a profile's measured table
 * holds n's cost: "Op|inputs|outputs|attributes", each value as its short
 * dtype and dims ("f32[1,64,56,56]", "_" absent, trailing absent left out),
 * attributes sorted by name as "name=value" joined by ';' (profiles/README.md;
 * bench/calibrate writes the same). The key's length, or -1 when n has none
 * (a dim or dtype not known, a graph attribute) or it does not fit (GS_MEASURED_KEY_MAX bytes are enough for
 * every key a profile can hold). */
int gs_cost_key(const gs_graph *g, const gs_node *n, char *buf, size_t cap);
/* Cost of one node (zero for dead and constant-only nodes). */
void gs_cost_node(const gs_cost_model *cm, const gs_graph *g, const gs_node *n,
                  gs_ncost *out);
/* Sum over the live nodes of g, in seconds. */
double gs_cost_graph(const gs_cost_model *cm, const gs_graph *g);

#endif /* GS_COST_H */
