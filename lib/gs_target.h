/*
 * gs_target.h - target.c: the target description (a device profile): the
 * figures of the cost formula, per-op efficiencies, and what the target's
 * runtime wants from a model (its opset, extra rules, rules to skip).
 */
#ifndef GS_TARGET_H
#define GS_TARGET_H

#include "gs_int.h"

#define GS_PROFILE_MAX_OPS 64
#define GS_PROFILE_MAX_RULES 8
#define GS_PROFILE_MAX_LIMITS 16
#define GS_PROFILE_MAX_SKIP 16
#define GS_PROFILE_PATH_MAX 1024
#define GS_MEASURED_KEY_MAX 2048        /* a measured key's bytes, terminator included */
#define GS_MEASURED_MAX 1000000         /* entries of a measured table */

/* One entry of a profile's measured table: a node signature (gs_cost_key) and
 * the time measured for it. */
typedef struct gs_measured {
    const char *key;
    double seconds;
} gs_measured;

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
    bool float16_as_float32;    /* the target's runtime computes float16 in float32 anyway
                                   (ONNX Runtime's CPU provider): optimize writes it so
                                   (widen.c); default false */
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
    gs_measured *measured;      /* sorted by key (strcmp), keys in the same block; ctx heap,
                                   freed by gs_profile_free; NULL when the profile has none */
    int nmeasured;
} gs_profile;

extern const gs_profile gs_profile_default;

/* Parse / load a device profile (JSON: name, peak_gflops, bandwidth_gbs,
 * overhead_us, optional ops: {"Conv": {"efficiency": 0.6}}, measured:
 * {"KEY": microseconds}, ...). On success the caller owns p's measured table
 * (gs_profile_free); on failure p holds none. */
gs_status gs_profile_parse(gs_ctx *ctx, const char *json, size_t len, const char *path,
                           gs_profile *p);
gs_status gs_profile_load(gs_ctx *ctx, const char *path, gs_profile *p);
/* Free p's measured table (a copy of p shares it: free one). */
void gs_profile_free(gs_ctx *ctx, gs_profile *p);
/* The entry of p's measured table for key, or NULL: a binary search. */
const gs_measured *gs_profile_measured(const gs_profile *p, const char *key);

#endif /* GS_TARGET_H */
