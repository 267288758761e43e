/*
 * gs_cost.h - the cost model (cost.c) and the search (search.c, optimize.c).
 */
#ifndef GS_COST_H
#define GS_COST_H

#include "gs_ops.h"
#include "gs_rules.h"

/* ---- cost.c ------------------------------------------------------------ */

#define GS_PROFILE_MAX_OPS 64
#define GS_PROFILE_MAX_RULES 8
#define GS_PROFILE_MAX_LIMITS 16
#define GS_PROFILE_MAX_SKIP 16
#define GS_PROFILE_PATH_MAX 1024

typedef struct gs_profile_op {
    char op[48];
    double efficiency;          /* fraction of peak FLOP/s this op reaches */
} gs_profile_op;

typedef struct gs_profile {
    char name[64];
    double peak_flops;          /* FLOP/s */
    double bandwidth;           /* bytes/s */
    double overhead;            /* seconds per node */
    double gemm_half_cols;      /* a GEMM of n output columns reaches n / (n + this) of the
                                   peak (wide products amortize packing); 0: width does not
                                   matter in the target runtime */
    int opset;                  /* the highest default-domain opset the target runs (0: not
                                   given); optimize raises a model to it when it can */
    struct {
        char op[48];
        int opset;
    } opset_limits[GS_PROFILE_MAX_LIMITS];   /* a model holding op is raised to opset at most
                                   (the target runs the op's newer version slowly) */
    int nlimits;
    char rules[GS_PROFILE_MAX_RULES][GS_PROFILE_PATH_MAX];   /* rule files or folders the target
                                   also uses, relative paths resolved against the profile's folder */
    int nrules;
    char skip[GS_PROFILE_MAX_SKIP][64];   /* rules the target does better without */
    int nskip;
    gs_profile_op overrides[GS_PROFILE_MAX_OPS];
    int noverrides;
} gs_profile;

extern const gs_profile gs_profile_default;

typedef struct gs_cost_model {
    const gs_profile *profile;
    gs_cost_cb cb;              /* replaces the formula when set */
    void *cb_ud;
} gs_cost_model;

typedef struct gs_ncost {
    double flops, bytes, seconds;
} gs_ncost;

/* Cost of one node (zero for dead and constant-only nodes). */
void gs_cost_node(const gs_cost_model *cm, const gs_graph *g, const gs_node *n,
                  gs_ncost *out);
/* Sum over the live nodes of g, in seconds. */
double gs_cost_graph(const gs_cost_model *cm, const gs_graph *g);
/* Parse / load a device profile (JSON: name, peak_gflops, bandwidth_gbs,
 * overhead_us, optional ops: {"Conv": {"efficiency": 0.6}}). */
gs_status gs_profile_parse(gs_ctx *ctx, const char *json, size_t len, const char *path,
                           gs_profile *p);
gs_status gs_profile_load(gs_ctx *ctx, const char *path, gs_profile *p);

/* ---- search.c ---------------------------------------------------------- */

typedef struct gs_search_opts {
    double alpha;               /* keep candidates below alpha * best */
    int budget;                 /* candidates expanded */
    double time_limit;          /* seconds */
    int (*progress)(void *ud, int expanded, double best_cost);   /* non-zero: stop */
    void *progress_ud;
    size_t queue_bytes;         /* cap on queued graphs; 0: GS_SEARCH_QUEUE_BYTES */
} gs_search_opts;

/* One rewrite on the path from the input to the result. */
typedef struct gs_step {
    const gs_rule *rule;
    const char *nodes;          /* matched node names, comma separated */
    double delta;               /* cost change, seconds */
    struct gs_step *prev;
} gs_step;

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
/* Bounds of one gs_cleanup call: the graph's node slots (live and dead:
 * every rewrite adds some) may grow to GROWTH x the slots at the start plus
 * SLACK; a rule set that passes this does not converge (rules undoing each
 * other, or a rewrite holding its own match). */
#define GS_CLEANUP_GROWTH 16
#define GS_CLEANUP_SLACK 4096
/* Apply the rules of class flags (GS_RULE_CLEANUP or GS_RULE_LOWER) to a
 * fixed point, in place, merging equal nodes between rounds. Steps taken are
 * prepended to *path (allocated in arena). Stops after the pass that ends
 * past t_end (monotonic seconds, 0 none), keeping the graph as it is then;
 * past the slots bound *st is GS_ERR_RULE naming the rules that kept
 * applying. Returns the count. */
int gs_cleanup(gs_graph *g, const gs_ruleset *rs, uint32_t flags, const gs_cost_model *cm,
               double t_end, gs_arena *arena, gs_step **path, gs_status *st);
/* The candidates a search keeps queued hold at most this many bytes of graph
 * (arrays, name tables, node and value lists; shared names and weights not
 * counted): past it the most expensive are dropped, whatever the budget and
 * alpha. */
#define GS_SEARCH_QUEUE_BYTES ((size_t)256 << 20)
/* The search also stops (as at its time limit) once the names, constants and
 * steps its rewrites made pass this many bytes: they live in arenas shared
 * with the model, freed only with it. */
#define GS_SEARCH_ARENA_BYTES ((size_t)256 << 20)
/* TASO-style search from g (not modified). */
gs_status gs_search(const gs_graph *g, const gs_ruleset *rs,
                    const gs_cost_model *cm, const gs_search_opts *opts, gs_arena *arena,
                    gs_search_result *res);

/* ---- cse.c ------------------------------------------------------------- */

/* Merge live nodes with the same op, attributes and inputs; returns the
 * number merged (*st: GS_OK or NOMEM). */
int gs_cse(gs_graph *g, gs_status *st);

/* ---- region.c ---------------------------------------------------------- */

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

/* ---- subgraph.c: control flow seen from the graph holding it ----------- */

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

#endif /* GS_COST_H */
