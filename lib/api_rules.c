/*
 * api_rules.c - the rule choices of gs_optimize_opts (version 3): rules from
 * a JSON string, rules turned off by name, or only the rules named. A rule
 * turned off stays loaded (its name still resolves) but never applies, as a
 * profile's skip_rules does.
 */
#include "gs_rules.h"

static bool named(const char *const *names, const char *name)
{
    for (int i = 0; names && names[i]; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

/* GS_ERR_ARG naming the first entry of names that is no rule of rs. */
static gs_status check_names(gs_ctx *ctx, const gs_ruleset *rs, const char *const *names,
                             const char *field)
{
    for (int i = 0; names && names[i]; i++) {
        int k = 0;
        while (k < rs->n && strcmp(gs_rule_name(rs->rules[k]), names[i]))
            k++;
        if (k == rs->n)
            return gs_err(ctx, GS_ERR_ARG, "gs_optimize: %s names '%s', which is not a loaded rule",
                          field, names[i]);
    }
    return GS_OK;
}

gs_status gs_rules_select(gs_ctx *ctx, gs_ruleset *rs, const gs_optimize_opts *o)
{
    gs_status st = GS_OK;
    if (o->rules_json)
        st = gs_ruleset_load_mem(rs, o->rules_json, strlen(o->rules_json), "<rules_json>");
    if (st == GS_OK)
        st = check_names(ctx, rs, o->disabled_rules, "disabled_rules");
    if (st == GS_OK)
        st = check_names(ctx, rs, o->only_rules, "only_rules");
    if (st != GS_OK)
        return st;
    for (int k = 0; k < rs->n; k++) {
        const char *name = gs_rule_name(rs->rules[k]);
        if (named(o->disabled_rules, name) || (o->only_rules && !named(o->only_rules, name)))
            rs->rules[k]->flags = 0;
    }
    return GS_OK;
}
