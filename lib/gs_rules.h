/*
 * gs_rules.h - rewrite rules: loading (the only code that sees cJSON),
 * compiled patterns, matching against the IR, and applying rewrites.
 *
 * A rule says: this subgraph may be replaced by that one, under these
 * conditions. Rules are data (JSON files under rules/), compiled once into a
 * gs_ruleset; each compiled rule keeps its file and name so every message
 * points back at the JSON that caused it. The search (search.c) drives the
 * engine through the three calls below: find matches, apply one, and learn
 * what changed.
 */
#ifndef GS_RULES_H
#define GS_RULES_H

#include "gs_int.h"

#define GS_MAX_PATTERN 16        /* nodes in one side of a rule */
#define GS_MAX_BINDINGS 48       /* variables bound by one match */

typedef struct gs_rule gs_rule;          /* one compiled rule (opaque outside rules*.c) */
typedef struct gs_ruleset gs_ruleset;    /* rules loaded from files/memory (owns them) */

enum {                          /* gs_rule flags, from the JSON "class" field */
    GS_RULE_CLEANUP = 1,        /* always pays: applied to a fixed point before/after search */
    GS_RULE_SEARCH = 2,         /* explored by the cost-guided search */
    GS_RULE_LOWER = 4,          /* a target's preferred form: applied to a fixed point after
                                   the search and its cleanup, where it blocks no other rule */
};

/* ---- rules_load.c ------------------------------------------------------ */

gs_ruleset *gs_ruleset_new(gs_ctx *ctx);
void gs_ruleset_free(gs_ruleset *rs);
/* Load every rule of a JSON file, or of every *.json file of a folder (in
 * name order). A file with any error is refused whole; the message gives
 * file, rule name and position. */
gs_status gs_ruleset_load(gs_ruleset *rs, const char *path);
gs_status gs_ruleset_load_mem(gs_ruleset *rs, const char *json, size_t len, const char *name);
/* Load the default rule library (the JSON files of rules/, embedded at build time). */
gs_status gs_ruleset_load_default(gs_ruleset *rs);
int gs_ruleset_count(const gs_ruleset *rs);
/* The rule named name, or NULL. */
const gs_rule *gs_ruleset_find(const gs_ruleset *rs, const char *name);
/* The name of a rule close to a misspelt name, or NULL. */
const char *gs_ruleset_nearest(const gs_ruleset *rs, const char *name);
const gs_rule *gs_ruleset_get(const gs_ruleset *rs, int i);
const char *gs_rule_name(const gs_rule *r);
const char *gs_rule_file(const gs_rule *r);
const char *gs_rule_doc(const gs_rule *r);
uint32_t gs_rule_flags(const gs_rule *r);
/* The rule's "class" name: "search", "cleanup" or "lower". */
const char *gs_rule_class(const gs_rule *r);
/* Ops of the match side, space separated (for listings). */
const char *gs_rule_ops(const gs_rule *r);
/* True when match variable var is bound to an attribute (not a value). */
bool gs_rule_attr_var(const gs_rule *r, int var);

/* ---- match.c ----------------------------------------------------------- */

/* One match: the matched nodes (root first) and the variable bindings. */
typedef struct gs_match {
    const gs_rule *rule;
    gs_id nodes[GS_MAX_PATTERN];
    int nnodes;
    gs_id values[GS_MAX_BINDINGS];   /* value bound to each pattern variable, or GS_NONE */
    const gs_attr *attrs[GS_MAX_BINDINGS];  /* attribute bound to each attribute variable */
    gs_id rest_node[GS_MAX_BINDINGS];  /* "xs...": the node whose inputs it binds */
    int16_t rest_first[GS_MAX_BINDINGS], rest_count[GS_MAX_BINDINGS];
} gs_match;

/* Call fn for every match of every rule with a flag in `flags` whose opset
 * range admits `opset`, found through the op index (not a scan per pattern
 * node). fn returns false to stop. Returns the number of matches reported,
 * or -1 when memory is short (the context's error is set). */
typedef bool (*gs_match_fn)(const gs_match *m, void *ud);
int gs_match_all(const gs_ruleset *rs, const gs_graph *g, uint32_t flags,
                 gs_match_fn fn, void *ud);
/* Matches rooted at node `root` only (for incremental search after a rewrite). */
int gs_match_at(const gs_ruleset *rs, const gs_graph *g, uint32_t flags,
                gs_id root, gs_match_fn fn, void *ud);

/* ---- rewrite.c --------------------------------------------------------- */

/* What a rewrite did: nodes removed (dead) and nodes added (new ids). */
typedef struct gs_delta {
    gs_id removed[GS_MAX_PATTERN * 2];
    int nremoved;
    gs_id added[GS_MAX_PATTERN * 2];
    int nadded;
} gs_delta;

/* Apply match m to graph g (which must be the graph it was found in, or a
 * clone of it): build the replacement, rewire consumers, keep graph output
 * names, remove what became dead. gs_ir_verify(g) holds afterwards. New
 * constants computed from matched constants are ordinary nodes, left for
 * constant folding. delta may be NULL. */
gs_status gs_rule_apply(gs_graph *g, const gs_match *m, gs_delta *delta);
/* False when applying m would have to rename a value that cannot take a graph
 * output's name (a graph input or an initializer replacing a graph output):
 * the matcher does not report such matches. */
bool gs_rule_applicable(const gs_graph *g, const gs_match *m);

/* ---- compiled patterns (rules_load.c builds them, match.c reads them) --- */

typedef enum { P_VAR, P_CALL, P_NUM, P_LIST, P_FUNC, P_NONE } gs_pkind;   /* P_NONE: "_", an absent input */

typedef struct gs_pnode gs_pnode;
typedef struct gs_rule_func gs_rule_func;

typedef struct gs_pattr {
    const char *name;           /* attribute name; NULL for "..." (copy all) */
    gs_pnode *val;              /* P_VAR (attribute variable) or a literal */
    gs_attr *dflt;              /* "eps|1e-5": the value bound when the attribute is absent */
} gs_pattr;

struct gs_pnode {
    gs_pkind kind;
    const char *name;           /* variable, op or function name */
    int var;                    /* P_VAR: variable index */
    double num;                 /* P_NUM */
    gs_pnode **args;            /* P_CALL / P_LIST / P_FUNC arguments */
    int nargs;
    gs_pattr *attrs;            /* P_CALL attributes */
    int nattrs;
    int slot;                   /* P_CALL in a match: index in gs_match.nodes */
    int pos;                    /* byte offset in its source text, for messages */
    bool rest;                  /* P_VAR written "xs...": the remaining inputs, any number */
    bool optional;              /* P_VAR written "b?" in a match: the input may be absent */
    const gs_rule_func *fn;     /* P_FUNC: its row in rule_funcs.c, resolved at load */
};

#define GS_MAX_ROOTS 8
#define GS_MAX_LETS 8            /* "k = expr;" bindings in one rewrite */

struct gs_rule {
    const char *name, *doc, *file;
    uint32_t flags;             /* GS_RULE_* */
    int opset_min, opset_max;
    gs_pnode *roots[GS_MAX_ROOTS];   /* match statements: the outer ones first, in the order
                                        written, then the inner ones, last written first */
    int root_out[GS_MAX_ROOTS][GS_MAX_ROOTS];   /* output variables of each statement
                                                   ("a, b = Split(x)" binds outputs 0, 1) */
    int root_nout[GS_MAX_ROOTS];     /* named outputs of each statement (0: unnamed) */
    int nroots;
    bool symmetric;             /* outer statements that may be matched in any order (same
                                   pattern up to variable names, conditions and the other
                                   statements unchanged by a swap): each set of nodes is
                                   then matched once, not once per order */
    int nouter;                 /* statements whose output the rewrite replaces; the others
                                   are inner: read by another statement, matched at the
                                   producer of that value, and removed with the match */
    gs_pnode *rewrite[GS_MAX_ROOTS]; /* one expression giving nrewrite outputs, or (a tuple
                                        "p, q") nrewrite expressions of one output each */
    int nrewrite;               /* values replaced: every output of every outer statement */
    bool rewrite_tuple;
    gs_pnode *lets[GS_MAX_LETS];     /* rewrite bindings "k = expr;" before the final
                                        expression, in the order written */
    int let_var[GS_MAX_LETS];        /* the variable each binding defines */
    int let_out[GS_MAX_LETS];        /* which output of its expression it names ("a, b = Op(...);"
                                        is two bindings of one expression, outputs 0 and 1) */
    int let_nout[GS_MAX_LETS];       /* the outputs of that expression (1: "k = expr;") */
    int nlets;
    uint64_t let_vars;               /* bit v: variable v is a rewrite binding */
    gs_pnode **where;           /* conditions: P_FUNC nodes */
    int nwhere;
    const char *vars[GS_MAX_BINDINGS];   /* variable names */
    uint64_t optional;          /* bit v: variable v is an optional input ("b?") */
    int nvars;
    int nmatch_vars;            /* variables 0 .. nmatch_vars-1 are bound by the match */
    int nslots;                 /* matched nodes */
    uint32_t copied_slots;      /* bit per slot whose node's attributes the rewrite copies
                                   ("{...}"); the others match only with every attribute
                                   they do not mention absent or at its default */
    uint32_t comm_slots;        /* a one-statement rule: bit per slot whose op is commutative
                                   (the matcher tries those operand orders) */
    const char *ops;            /* match-side ops, space separated */
    const char *check;          /* JSON text of the "check" object, or NULL */
    bool shared_inner;          /* "shared_inner": matched inner nodes whose values are read
                                   outside the match are allowed; they stay for those readers */
};

struct gs_ruleset {
    gs_ctx *ctx;
    gs_arena arena;             /* rules and their patterns */
    gs_rule **rules;
    int n, cap;
    /* Rules by the op of their first match statement, in load order: a table
     * from the op's name to its first rule (open addressing, -1 empty), and
     * per rule the next one of the same op (-1 at the end). */
    int *root_first, *root_next;
    int *root_last;             /* per table slot, the op's last rule (appends in O(1)) */
    int root_cap, nroot_ops;
    int *name_rule;             /* rules by name (open addressing, -1 empty): names are unique */
    int name_cap;
};

/* The first rule whose first match statement is an `op` node, or -1; the
 * next such rule is rs->root_next[i]. */
int gs_ruleset_first_at(const gs_ruleset *rs, const char *op);

/* rules_check.c: check one rule numerically; 0 ok, 1 failed, 2 unchecked,
 * with "ok", the worst difference or the reason in res; CHECK_NOMEM when
 * memory ran out (GS_ERR_NOMEM on ctx, no verdict). */
enum { CHECK_NOMEM = 3 };
int gs_rule_check(gs_ctx *ctx, const gs_rule *r, char *res, size_t cap);

/* match.c: whether attribute a equals literal lit (a number, a list of
 * numbers, or a bare word against a string). */
bool gs_match_attr_is(const gs_attr *a, const gs_pnode *lit);
/* match.c: whether rule r matches at node id of g (at its opset), with in why
 * the reason: the first condition that failed and the values it saw, or
 * the step of the furthest attempt that failed (an op, an attribute, an
 * input, a value read outside the match). For "rules explain". */
bool gs_match_explain(const gs_rule *r, const gs_graph *g, gs_id id, char *why, size_t cap);
/* match.c: whether every condition of r holds for m. */
bool gs_match_conditions(const gs_graph *g, const gs_rule *r, const gs_match *m);

/* ---- rule_funcs.c: the rule language's functions, one table ------------ */

/* What a condition sees: the graph, the match and the call's arguments. */
typedef struct gs_cond_args {
    const gs_graph *g;
    const gs_match *m;
    const gs_pnode *const *args;
    int n;
} gs_cond_args;

enum {                          /* gs_rule_func.places: where a call may be written */
    GS_FN_WHERE = 1,            /* a condition of a "where" list */
    GS_FN_INPUT = 2,            /* a rewrite input (a new constant) */
    GS_FN_ATTR = 4,             /* a rewrite attribute value */
    GS_FN_INT = 8,              /* an element of a rewrite list [a, b] */
};

typedef enum { GS_F_COND, GS_F_DIM, GS_F_SHAPE, GS_F_COMPOSE, GS_F_ADD_PADS, GS_F_VALUE, GS_F_INVERSE } gs_func_id;

struct gs_rule_func {
    const char *name;
    const char *args;           /* a kind per argument (see rule_funcs.c), "v+": one or more */
    uint8_t places;             /* GS_FN_* */
    gs_func_id id;              /* what rewrite.c computes for a rewrite function */
    bool (*cond)(const gs_cond_args *c);   /* a condition: true when it holds */
    bool const_args;            /* a condition on constants: rules check makes its value
                                   arguments initializers */
};

/* The row named name, or NULL. */
const gs_rule_func *gs_rule_func_find(const char *name);
/* Row i of the table (for listings and suggestions), or NULL past the end. */
const gs_rule_func *gs_rule_func_at(int i);
/* Whether f takes nargs arguments. */
bool gs_rule_func_arity(const gs_rule_func *f, int nargs);
/* The kind of f's argument k ('v', 'a', 'x', 'n', 'l', 'i'), or 0 past the end. */
char gs_rule_func_arg(const gs_rule_func *f, int k);

/* ---- api_rules.c ------------------------------------------------------- */

/* Apply the rule choices of gs_optimize_opts to a loaded ruleset: load
 * o->rules_json, then make the rules o->disabled_rules names (or those
 * o->only_rules does not name) never apply. GS_ERR_ARG naming the first
 * name that is no rule of rs. */
gs_status gs_rules_select(gs_ctx *ctx, gs_ruleset *rs, const gs_optimize_opts *o);

#endif /* GS_RULES_H */
