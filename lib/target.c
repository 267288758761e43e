/*
 * target.c - the target description: a device profile (JSON, see
 * profiles/README.md) gives the cost formula's figures (peak FLOP/s,
 * bandwidth, per-op overhead, GEMM width, per-op efficiencies) and what the
 * target's runtime wants from a model (its opset, the opsets some ops are
 * limited to, rule files it adds, rules it skips), and the times measured
 * for node signatures on the device (bench/calibrate). gs_optimize reads it
 * once; the cost model reads the figures.
 */
#include "gs_target.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A generic x86-64 core (AVX2, one thread): about 50 GFLOP/s of float32 in a
 * good GEMM, 12 GB/s of streaming bandwidth, a few microseconds per op. */
const gs_profile gs_profile_default = {
    .name = "generic-x86-64",
    .peak_flops = 50e9,
    .bandwidth = 12e9,
    .overhead = 3e-6,
    .gemm_half_cols = 0,
    .noverrides = 0,
};

/* ---- profiles ---------------------------------------------------------- */

static gs_status number(gs_ctx *ctx, const char *path, const cJSON *root, const char *key,
                        double *out, bool required)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it && !required)
        return GS_OK;
    if (!cJSON_IsNumber(it) || !(it->valuedouble > 0))
        return gs_err(ctx, GS_ERR_PARSE, "%s: profile field '%s' must be a positive number", path, key);
    *out = it->valuedouble;
    return GS_OK;
}

static gs_status overrides(gs_ctx *ctx, const char *path, const cJSON *ops, gs_profile *p)
{
    if (!ops)
        return GS_OK;
    if (!cJSON_IsObject(ops))
        return gs_err(ctx, GS_ERR_PARSE, "%s: profile field 'ops' must be an object", path);
    int n = cJSON_GetArraySize(ops);
    if (n > GS_PROFILE_MAX_OPS)
        return gs_err(ctx, GS_ERR_PARSE, "%s: profile has more than %d op entries", path,
                      GS_PROFILE_MAX_OPS);
    const cJSON *it;
    cJSON_ArrayForEach(it, ops) {
        const cJSON *eff = cJSON_GetObjectItemCaseSensitive(it, "efficiency");
        if (!cJSON_IsNumber(eff) || !(eff->valuedouble > 0) || eff->valuedouble > 1e3)
            return gs_err(ctx, GS_ERR_PARSE, "%s: ops.%s.efficiency must be a positive number",
                          path, it->string);
        gs_profile_op *o = &p->overrides[p->noverrides++];
        snprintf(o->op, sizeof o->op, "%s", it->string);
        o->efficiency = eff->valuedouble;
    }
    return GS_OK;
}

/* The profile's "rules": paths relative to the folder of the profile at path. */
static gs_status rule_paths(gs_ctx *ctx, const char *path, const cJSON *list, gs_profile *p)
{
    if (!list)
        return GS_OK;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > GS_PROFILE_MAX_RULES)
        return gs_err(ctx, GS_ERR_PARSE, "%s: profile field 'rules' must be a list of at most %d paths", path,
                      GS_PROFILE_MAX_RULES);
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) + 1 : 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        if (!cJSON_IsString(it) || !*it->valuestring)
            return gs_err(ctx, GS_ERR_PARSE, "%s: profile field 'rules' must hold non-empty strings", path);
        const char *r = it->valuestring;
        int n = snprintf(p->rules[p->nrules], GS_PROFILE_PATH_MAX, "%.*s%s", r[0] == '/' ? 0 : dirlen, path, r);
        if (n < 0 || n >= GS_PROFILE_PATH_MAX)
            return gs_err(ctx, GS_ERR_PARSE, "%s: profile rules path '%s' is too long", path, r);
        p->nrules++;
    }
    return GS_OK;
}

static bool whole_in(const cJSON *v, double lo, double hi)
{
    return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi &&
           v->valuedouble == (double)(int)v->valuedouble;
}

/* The profile's "opset_limits": {"Op": highest opset for a model holding Op}. */
static gs_status opset_limits(gs_ctx *ctx, const char *path, const cJSON *obj, gs_profile *p)
{
    if (!obj)
        return GS_OK;
    if (!cJSON_IsObject(obj) || cJSON_GetArraySize(obj) > GS_PROFILE_MAX_LIMITS)
        return gs_err(ctx, GS_ERR_PARSE, "%s: profile field 'opset_limits' must be an object of at most %d ops",
                      path, GS_PROFILE_MAX_LIMITS);
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        if (!whole_in(it, 1, 1000) || strlen(it->string) >= sizeof p->opset_limits[0].op)
            return gs_err(ctx, GS_ERR_PARSE, "%s: opset_limits.%s must be an integer from 1 to 1000", path,
                          it->string);
        snprintf(p->opset_limits[p->nlimits].op, sizeof p->opset_limits[0].op, "%s", it->string);
        p->opset_limits[p->nlimits++].opset = (int)it->valuedouble;
    }
    return GS_OK;
}

/* The profile's "skip_rules": names of rules not used for this target. */
static gs_status skip_rules(gs_ctx *ctx, const char *path, const cJSON *list, gs_profile *p)
{
    if (!list)
        return GS_OK;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > GS_PROFILE_MAX_SKIP)
        return gs_err(ctx, GS_ERR_PARSE, "%s: profile field 'skip_rules' must be a list of at most %d rule names",
                      path, GS_PROFILE_MAX_SKIP);
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        if (!cJSON_IsString(it) || !*it->valuestring || strlen(it->valuestring) >= sizeof p->skip[0])
            return gs_err(ctx, GS_ERR_PARSE, "%s: profile field 'skip_rules' must hold rule names", path);
        snprintf(p->skip[p->nskip++], sizeof p->skip[0], "%s", it->valuestring);
    }
    return GS_OK;
}

/* ---- the measured table -------------------------------------------------- */

static int cmp_measured(const void *a, const void *b)
{
    return strcmp(((const gs_measured *)a)->key, ((const gs_measured *)b)->key);
}

/* A key as bench/calibrate writes it: an op name, then three '|'. */
static bool key_form(const char *k)
{
    int bars = 0;
    for (const char *c = k; *c; c++)
        bars += *c == '|';
    return *k && *k != '|' && bars == 3 && strlen(k) < GS_MEASURED_KEY_MAX;
}

/* Check every entry of the "measured" object; the bytes its keys need. */
static gs_status measured_check(gs_ctx *ctx, const char *path, const cJSON *obj, size_t *bytes)
{
    if (!cJSON_IsObject(obj) || cJSON_GetArraySize(obj) > GS_MEASURED_MAX)
        return gs_err(ctx, GS_ERR_PARSE, "%s: profile field 'measured' must be an object of at most %d "
                      "\"KEY\": microseconds entries", path, GS_MEASURED_MAX);
    *bytes = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        if (!key_form(it->string))
            return gs_err(ctx, GS_ERR_PARSE, "%s: measured key '%.200s' is not of the form "
                          "Op|inputs|outputs|attributes", path, it->string);
        if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0) || it->valuedouble > 1e9)
            return gs_err(ctx, GS_ERR_PARSE, "%s: measured.%.200s must be a number of microseconds from 0 "
                          "to 1e9", path, it->string);
        *bytes += strlen(it->string) + 1;
    }
    return GS_OK;
}

/* The profile's "measured": {"KEY": microseconds}, into one block sorted by
 * key; a key given twice is an error. */
static gs_status measured_table(gs_ctx *ctx, const char *path, const cJSON *obj, gs_profile *p)
{
    size_t bytes = 0;
    if (!obj)
        return GS_OK;
    gs_status st = measured_check(ctx, path, obj, &bytes);
    if (st != GS_OK)
        return st;
    int n = cJSON_GetArraySize(obj);
    gs_measured *m = gs_alloc(ctx, (size_t)n * sizeof *m + bytes + 1);
    if (!m)
        return gs_nomem(ctx);
    char *s = (char *)(m + n);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        size_t len = strlen(it->string) + 1;
        memcpy(s, it->string, len);
        m[i++] = (gs_measured){ s, it->valuedouble * 1e-6 };
        s += len;
    }
    qsort(m, (size_t)n, sizeof *m, cmp_measured);
    for (i = 1; i < n; i++)
        if (!strcmp(m[i - 1].key, m[i].key)) {
            st = gs_err(ctx, GS_ERR_PARSE, "%s: measured key '%.200s' is given twice", path, m[i].key);
            gs_dealloc(ctx, m);
            return st;
        }
    p->measured = n ? m : NULL;
    p->nmeasured = n;
    if (!n)
        gs_dealloc(ctx, m);
    return GS_OK;
}

const gs_measured *gs_profile_measured(const gs_profile *p, const char *key)
{
    if (!p->nmeasured)
        return NULL;
    gs_measured k = { key, 0 };
    return bsearch(&k, p->measured, (size_t)p->nmeasured, sizeof k, cmp_measured);
}

void gs_profile_free(gs_ctx *ctx, gs_profile *p)
{
    gs_dealloc(ctx, p->measured);
    p->measured = NULL;
    p->nmeasured = 0;
}

gs_status gs_profile_parse(gs_ctx *ctx, const char *json, size_t len, const char *path,
                           gs_profile *p)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!root)
        return gs_err(ctx, GS_ERR_PARSE, "%s: profile is not valid JSON (at byte %ld)", path,
                      end ? (long)(end - json) : 0L);
    *p = gs_profile_default;
    gs_status st = GS_OK;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsObject(root))
        st = gs_err(ctx, GS_ERR_PARSE, "%s: profile must be a JSON object", path);
    if (st == GS_OK && cJSON_IsString(name))
        snprintf(p->name, sizeof p->name, "%s", name->valuestring);
    double gflops = 0, gbs = 0, us = 0;
    if (st == GS_OK)
        st = number(ctx, path, root, "peak_gflops", &gflops, true);
    if (st == GS_OK)
        st = number(ctx, path, root, "bandwidth_gbs", &gbs, true);
    if (st == GS_OK)
        st = number(ctx, path, root, "overhead_us", &us, true);
    if (st == GS_OK)
        st = overrides(ctx, path, cJSON_GetObjectItemCaseSensitive(root, "ops"), p);
    const cJSON *hc = cJSON_GetObjectItemCaseSensitive(root, "gemm_half_cols");
    if (st == GS_OK && hc && !(cJSON_IsNumber(hc) && hc->valuedouble >= 0 && hc->valuedouble <= 1e6))
        st = gs_err(ctx, GS_ERR_PARSE, "%s: profile field 'gemm_half_cols' must be a number from 0 to 1e6", path);
    if (st == GS_OK && hc)
        p->gemm_half_cols = hc->valuedouble;
    const cJSON *fc = cJSON_GetObjectItemCaseSensitive(root, "float16_compute");
    if (st == GS_OK && fc && !(cJSON_IsString(fc) && (!strcmp(fc->valuestring, "float16") ||
                                                      !strcmp(fc->valuestring, "float32"))))
        st = gs_err(ctx, GS_ERR_PARSE, "%s: profile field 'float16_compute' must be \"float16\" or \"float32\"", path);
    if (st == GS_OK && fc)
        p->float16_as_float32 = !strcmp(fc->valuestring, "float32");
    const cJSON *os = cJSON_GetObjectItemCaseSensitive(root, "opset");
    if (st == GS_OK && os && !whole_in(os, 1, 1000))
        st = gs_err(ctx, GS_ERR_PARSE, "%s: profile field 'opset' must be an integer from 1 to 1000", path);
    if (st == GS_OK && os)
        p->opset = (int)os->valuedouble;
    if (st == GS_OK)
        st = opset_limits(ctx, path, cJSON_GetObjectItemCaseSensitive(root, "opset_limits"), p);
    if (st == GS_OK)
        st = rule_paths(ctx, path, cJSON_GetObjectItemCaseSensitive(root, "rules"), p);
    if (st == GS_OK)
        st = skip_rules(ctx, path, cJSON_GetObjectItemCaseSensitive(root, "skip_rules"), p);
    if (st == GS_OK)    /* last: nothing fails after it allocates */
        st = measured_table(ctx, path, cJSON_GetObjectItemCaseSensitive(root, "measured"), p);
    p->peak_flops = gflops * 1e9;
    p->bandwidth = gbs * 1e9;
    p->overhead = us * 1e-6;
    cJSON_Delete(root);
    return st;
}

gs_status gs_profile_load(gs_ctx *ctx, const char *path, gs_profile *p)
{
    void *map;
    size_t size;
    gs_status st = gs_file_map(ctx, path, &map, &size);
    if (st != GS_OK)
        return st;
    st = gs_profile_parse(ctx, map ? map : "", size, path, p);
    gs_file_unmap(map, size);
    return st;
}
