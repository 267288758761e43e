/*
 * rules_load.c - rule files: JSON (the only code that sees cJSON) holding
 * patterns in a small expression language, compiled once into gs_pnode
 * trees. A file with any error is refused whole; messages give the file,
 * the rule and the position.
 *
 *   { "rules": [ { "name": "...", "doc": "...", "class": "cleanup"|"search"|"lower",
 *                  "opset": [13, 21], "match": "y = Relu(Relu(x))",
 *                  "where": ["const(w)"], "rewrite": "y = Relu(x)" } ] }
 *
 * Expressions: Op(arg, ...){attr=var, attr=literal, ...}, variables
 * (lowercase names), numbers, lists [1, -1], and in the rewrite the infix
 * operators + - * / (Add, Sub, Mul, Div) and functions such as dim(w, 0).
 * Statements are separated by ';' and may name their outputs: "a, b = ...".
 */
#include "gs_ops.h"
#include "gs_rules.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_default.h"   /* generated: the rules/ library as C strings */

/* ---- the parser ---------------------------------------------------------- */

typedef struct parser {
    gs_ruleset *rs;
    gs_rule *rule;
    const char *src, *p;       /* text and cursor */
    const char *what;          /* "match", "rewrite", "where" */
    bool rewrite;              /* infix operators allowed */
    int depth;                 /* nesting, bounded so a hostile file cannot exhaust the stack */
    int slots;                 /* calls numbered in a match */
    char err[256];
} parser;

static bool perr(parser *ps, const char *msg)
{
    if (!ps->err[0])
        snprintf(ps->err, sizeof ps->err, "%s at column %d: %s", ps->what, (int)(ps->p - ps->src) + 1, msg);
    return false;
}

static void skip(parser *ps)
{
    while (isspace((unsigned char)*ps->p))
        ps->p++;
}

static bool eat(parser *ps, char c)
{
    skip(ps);
    if (*ps->p != c)
        return false;
    ps->p++;
    return true;
}

static const char *ident(parser *ps)
{
    skip(ps);
    const char *s = ps->p;
    if (!isalpha((unsigned char)*s) && *s != '_')
        return NULL;
    while (isalnum((unsigned char)*ps->p) || *ps->p == '_' ||
           (*ps->p == '.' && isalpha((unsigned char)ps->p[1])))
        ps->p++;
    char *name = gs_arena_alloc(&ps->rs->arena, (size_t)(ps->p - s) + 1);
    if (name)
        memcpy(name, s, (size_t)(ps->p - s));
    return name;
}

static gs_pnode *pnew(parser *ps, gs_pkind kind)
{
    gs_pnode *n = gs_arena_alloc(&ps->rs->arena, sizeof *n);
    if (n) {
        n->kind = kind;
        n->pos = (int)(ps->p - ps->src);
        n->var = -1;
        n->slot = -1;
    }
    return n;
}

static int var_index(parser *ps, const char *name)
{
    gs_rule *r = ps->rule;
    for (int i = 0; i < r->nvars; i++)
        if (!strcmp(r->vars[i], name))
            return i;
    if (r->nvars == GS_MAX_BINDINGS)
        return -1;
    r->vars[r->nvars] = name;
    return r->nvars++;
}

static gs_pnode *expr(parser *ps);

static bool push(parser *ps, gs_pnode ***arr, int *n, void *item, size_t size)
{
    void *a = gs_arena_alloc(&ps->rs->arena, (size_t)(*n + 1) * size);
    if (!a)
        return perr(ps, "out of memory");
    if (*n)
        memcpy(a, *arr, (size_t)*n * size);
    memcpy((char *)a + (size_t)*n * size, item, size);
    *arr = a;
    (*n)++;
    return true;
}

/* args until closing c */
static bool args(parser *ps, gs_pnode *n, char close)
{
    if (eat(ps, close))
        return true;
    do {
        if (!ps->rewrite && n->nargs && n->args[n->nargs - 1]->kind == P_VAR && n->args[n->nargs - 1]->rest)
            return perr(ps, "'name...' must be the last argument of a match call");
        gs_pnode *a = expr(ps);
        if (!a || !push(ps, &n->args, &n->nargs, &a, sizeof a))
            return false;
    } while (eat(ps, ','));
    return eat(ps, close) || perr(ps, close == ')' ? "expected ')'" : "expected ']'");
}

static gs_pnode *number(parser *ps);

/* "name=var|literal": the attribute bound when the node does not have it. */
static bool attr_default(parser *ps, gs_pattr *a)
{
    if (a->val->kind != P_VAR)
        return perr(ps, "only an attribute variable can have a default");
    skip(ps);
    if (isalpha((unsigned char)*ps->p)) {   /* "mode=m|constant": a string default */
        const char *word = ident(ps);
        gs_attr *d = word ? gs_arena_alloc(&ps->rs->arena, sizeof *d) : NULL;
        if (!d)
            return perr(ps, "out of memory");
        d->name = a->name;
        d->type = GS_A_STRING;
        d->s = word;
        d->slen = strlen(word);
        a->dflt = d;
        return true;
    }
    gs_pnode *lit = number(ps);
    gs_attr *d = lit ? gs_arena_alloc(&ps->rs->arena, sizeof *d) : NULL;
    if (!d)
        return lit ? perr(ps, "out of memory") : false;
    d->name = a->name;
    d->type = lit->var ? GS_A_FLOAT : GS_A_INT;
    d->f = (float)lit->num;
    d->i = gs_to_int64(lit->num);
    a->dflt = d;
    return true;
}

static bool attrs(parser *ps, gs_pnode *n)
{
    if (!eat(ps, '{'))
        return true;
    if (eat(ps, '}'))
        return true;
    do {
        gs_pattr a = { NULL, NULL, NULL };
        skip(ps);
        if (!strncmp(ps->p, "...", 3)) {
            ps->p += 3;
        } else {
            if (!(a.name = ident(ps)))
                return perr(ps, "expected an attribute name");
            if (!eat(ps, '='))
                return perr(ps, "expected '='");
            if (!(a.val = expr(ps)))
                return false;
            if (eat(ps, '|') && !attr_default(ps, &a))
                return false;
        }
        if (!push(ps, (gs_pnode ***)&n->attrs, &n->nattrs, &a, sizeof a))
            return false;
    } while (eat(ps, ','));
    return eat(ps, '}') || perr(ps, "expected '}'");
}

static gs_pnode *number(parser *ps)
{
    char *end;
    double v = strtod(ps->p, &end);
    if (end == ps->p) {
        perr(ps, "expected an expression");
        return NULL;
    }
    gs_pnode *n = pnew(ps, P_NUM);
    if (n) {
        n->num = v;
        n->var = strpbrk(ps->p, ".eE") && strpbrk(ps->p, ".eE") < end;   /* 1 = float literal */
    }
    ps->p = end;
    return n;
}

static gs_pnode *primary_at(parser *ps);

enum { MAX_NESTING = 64 };

static gs_pnode *primary(parser *ps)
{
    if (++ps->depth > MAX_NESTING) {
        perr(ps, "expression nested too deeply");
        return NULL;
    }
    gs_pnode *n = primary_at(ps);
    ps->depth--;
    return n;
}

static gs_pnode *primary_at(parser *ps)
{
    skip(ps);
    if (eat(ps, '(')) {
        gs_pnode *e = expr(ps);
        return e && (eat(ps, ')') || perr(ps, "expected ')'")) ? e : NULL;
    }
    if (eat(ps, '[')) {
        gs_pnode *n = pnew(ps, P_LIST);
        return n && args(ps, n, ']') ? n : NULL;
    }
    if (isdigit((unsigned char)*ps->p) || *ps->p == '-' || *ps->p == '.')
        return number(ps);
    int pos = (int)(ps->p - ps->src);
    const char *name = ident(ps);
    if (!name) {
        perr(ps, "expected an expression");
        return NULL;
    }
    if (eat(ps, '(')) {
        bool op = isupper((unsigned char)name[0]);
        gs_pnode *n = pnew(ps, op ? P_CALL : P_FUNC);
        if (!n)
            return NULL;
        n->name = name;
        n->pos = pos;
        if (op && !ps->rewrite)
            n->slot = ps->slots++;
        if (!args(ps, n, ')') || (op && !attrs(ps, n)))
            return NULL;
        return n;
    }
    gs_pnode *n = pnew(ps, P_VAR);
    if (!n)
        return NULL;
    n->name = name;
    n->pos = pos;
    skip(ps);
    if (!strncmp(ps->p, "...", 3)) {
        ps->p += 3;
        n->rest = true;
    } else if (!ps->rewrite && *ps->p == '?') {
        ps->p++;
        n->optional = true;
    }
    if ((n->var = var_index(ps, name)) < 0) {
        perr(ps, "too many variables");
        return NULL;
    }
    if (n->optional)
        ps->rule->optional |= (uint64_t)1 << n->var;
    return n;
}

static gs_pnode *binop(parser *ps, const char *op, gs_pnode *a, gs_pnode *b)
{
    gs_pnode *n = pnew(ps, P_CALL);
    if (!n)
        return NULL;
    n->name = op;
    n->args = gs_arena_alloc(&ps->rs->arena, 2 * sizeof *n->args);
    if (!n->args)
        return NULL;
    n->args[0] = a, n->args[1] = b;
    n->nargs = 2;
    return n;
}

static gs_pnode *term(parser *ps)
{
    gs_pnode *a = primary(ps);
    while (a && ps->rewrite) {
        skip(ps);
        char c = *ps->p;
        if (c != '*' && c != '/')
            break;
        ps->p++;
        gs_pnode *b = primary(ps);
        a = b ? binop(ps, c == '*' ? "Mul" : "Div", a, b) : NULL;
    }
    return a;
}

static gs_pnode *expr(parser *ps)
{
    gs_pnode *a = term(ps);
    while (a && ps->rewrite) {
        skip(ps);
        char c = *ps->p;
        if (c != '+' && !(c == '-' && !isdigit((unsigned char)ps->p[1])))
            break;
        ps->p++;
        gs_pnode *b = term(ps);
        a = b ? binop(ps, c == '+' ? "Add" : "Sub", a, b) : NULL;
    }
    return a;
}

/* "a, b = expr" or "expr"; outputs receive variable indexes. Names become
 * variables only once the '=' shows they are outputs. */
static gs_pnode *statement(parser *ps, int *outs, int *nouts)
{
    const char *save = ps->p, *names[GS_MAX_ROOTS];
    int n = 0;
    *nouts = 0;
    for (;;) {
        const char *name = ident(ps);
        if (!name || n == GS_MAX_ROOTS)
            break;
        names[n++] = name;
        if (eat(ps, ','))
            continue;
        if (eat(ps, '=') && *ps->p != '=') {
            for (int i = 0; i < n; i++)
                if ((outs[(*nouts)++] = var_index(ps, names[i])) < 0)
                    return perr(ps, "too many variables"), NULL;
            return expr(ps);
        }
        break;
    }
    ps->p = save;
    return expr(ps);
}

/* ---- rules --------------------------------------------------------------- */

static bool reads_var(const gs_pnode *n, int var)
{
    if (n->kind == P_VAR)
        return n->var == var;
    for (int i = 0; i < n->nargs; i++)
        if (reads_var(n->args[i], var))
            return true;
    return false;
}

/* A statement whose output another statement reads is inner: "d = Sub(x,
 * m); Div(d, s)" shares the Sub between two branches. Inner statements must
 * come before their readers; they are matched last (last written first), at
 * the producer of the value their reader bound. */
static bool order_statements(parser *ps)
{
    gs_rule *r = ps->rule;
    bool inner[GS_MAX_ROOTS] = { false };
    for (int k = 0; k < r->nroots; k++)
        for (int o = 0; o < r->root_nout[k]; o++)
            for (int j = 0; j < r->nroots; j++)
                if (j != k && reads_var(r->roots[j], r->root_out[k][o])) {
                    if (j < k)
                        return perr(ps, "a statement must come before the statements that read its output");
                    inner[k] = true;
                }
    gs_pnode *roots[GS_MAX_ROOTS] = { NULL };
    int outs[GS_MAX_ROOTS][GS_MAX_ROOTS], nout[GS_MAX_ROOTS] = { 0 }, order[GS_MAX_ROOTS], n = 0;
    for (int k = 0; k < r->nroots; k++)
        if (!inner[k])
            order[n++] = k;
    r->nouter = n;
    for (int k = r->nroots - 1; k >= 0; k--)
        if (inner[k])
            order[n++] = k;
    for (int i = 0; i < n; i++) {
        roots[i] = r->roots[order[i]];
        nout[i] = r->root_nout[order[i]];
        memcpy(outs[i], r->root_out[order[i]], sizeof outs[i]);
    }
    memcpy(r->roots, roots, sizeof roots);
    memcpy(r->root_out, outs, sizeof outs);
    memcpy(r->root_nout, nout, sizeof nout);
    return r->nouter > 0 || perr(ps, "every statement is read by another");
}

static bool compile_match(parser *ps, const char *text)
{
    gs_rule *r = ps->rule;
    ps->src = ps->p = text;
    ps->what = "match";
    ps->rewrite = false;
    do {
        int outs[GS_MAX_ROOTS], nouts;
        if (r->nroots == GS_MAX_ROOTS)
            return perr(ps, "too many statements");
        gs_pnode *root = statement(ps, outs, &nouts);
        if (!root)
            return false;
        if (root->kind != P_CALL)
            return perr(ps, "a match statement must be an op call");
        memcpy(r->root_out[r->nroots], outs, sizeof outs);
        r->root_nout[r->nroots] = nouts;
        r->roots[r->nroots++] = root;
    } while (eat(ps, ';') && (skip(ps), *ps->p));
    r->nslots = ps->slots;
    if (r->nslots > GS_MAX_PATTERN)
        return perr(ps, "pattern too large");
    skip(ps);
    return (!*ps->p || perr(ps, "unexpected text")) && order_statements(ps);
}

/* Does n read a variable that is neither the match's (below match_vars)
 * nor a rewrite binding already defined? */
static bool reads_undefined(const gs_rule *r, const gs_pnode *n, int match_vars)
{
    if (n->kind == P_VAR)
        return n->var >= match_vars && !(r->let_vars >> n->var & 1);
    for (int i = 0; i < n->nargs; i++)
        if (reads_undefined(r, n->args[i], match_vars))
            return true;
    return false;
}

/* "k = expr;" before the rewrite's final statement: a value built once and
 * read by name wherever the rest of the rewrite needs it. */
static bool compile_let(parser *ps, const int *outs, int nouts, gs_pnode *e, int match_vars)
{
    gs_rule *r = ps->rule;
    if (nouts != 1)
        return perr(ps, "a rewrite binding names one value: \"k = expr;\"");
    int var = outs[0];
    if (var < match_vars)
        return perr(ps, "a rewrite binding must not reuse a name of the match");
    if (r->let_vars >> var & 1)
        return perr(ps, "a rewrite binding is defined twice");
    if (reads_undefined(r, e, match_vars))
        return perr(ps, "a rewrite binding reads a name that is neither matched nor bound before it");
    if (r->nlets == GS_MAX_LETS)
        return perr(ps, "too many rewrite bindings");
    r->lets[r->nlets] = e;
    r->let_var[r->nlets++] = var;
    r->let_vars |= (uint64_t)1 << var;
    return true;
}

static bool compile_rewrite(parser *ps, const char *text)
{
    gs_rule *r = ps->rule;
    ps->src = ps->p = text;
    ps->what = "rewrite";
    ps->rewrite = true;
    int outs[GS_MAX_ROOTS], nouts, want = 0, k = 0, match_vars = r->nvars;
    gs_pnode *e;
    for (;;) {   /* bindings "k = expr;", then the final statement */
        if (!(e = statement(ps, outs, &nouts)))
            return false;
        if (!eat(ps, ';'))
            break;
        if (!compile_let(ps, outs, nouts, e, match_vars))
            return false;
    }
    r->rewrite[0] = e;
    r->nrewrite = 1;
    while (eat(ps, ',')) {   /* "p, q": a tuple, one expression per replaced value */
        if (r->nrewrite == GS_MAX_ROOTS)
            return perr(ps, "too many rewrite outputs");
        if (!(r->rewrite[r->nrewrite++] = expr(ps)))
            return false;
        r->rewrite_tuple = true;
    }
    skip(ps);
    if (*ps->p)
        return perr(ps, "unexpected text");
    int named[GS_MAX_ROOTS * GS_MAX_ROOTS];
    for (int i = 0; i < r->nouter; i++) {
        int n = r->root_nout[i] ? r->root_nout[i] : 1;
        for (int o = 0; o < n; o++)
            named[k++] = r->root_nout[i] ? r->root_out[i][o] : -1;
        want += n;
    }
    if (want > GS_MAX_ROOTS)
        return perr(ps, "too many values to replace");
    if (want > 1 && nouts != want)
        return perr(ps, "a match with several outer outputs needs a rewrite naming each, as \"a, b = ...\"");
    for (int i = 0; want > 1 && i < nouts; i++)
        if (outs[i] != named[i])
            return perr(ps, "rewrite outputs must be named as the match outputs, in order");
    if (r->rewrite_tuple && r->nrewrite != want)
        return perr(ps, "the rewrite tuple must give one value per match output");
    r->nrewrite = want;
    return true;
}

static bool compile_where(parser *ps, const cJSON *where)
{
    gs_rule *r = ps->rule;
    const cJSON *c;
    cJSON_ArrayForEach(c, where) {
        if (!cJSON_IsString(c))
            return perr(ps, "'where' must be a list of strings");
        ps->src = ps->p = c->valuestring;
        ps->what = "where";
        ps->rewrite = false;
        gs_pnode *e = expr(ps);
        if (!e)
            return false;
        if (e->kind != P_FUNC || !gs_match_known_condition(e->name, e->nargs))
            return perr(ps, "unknown condition or wrong number of arguments");
        if (!push(ps, &r->where, &r->nwhere, &e, sizeof e))
            return false;
    }
    return true;
}

static void collect_ops(gs_arena *a, const gs_pnode *n, char *buf, size_t cap)
{
    if (!n || n->kind != P_CALL)
        return;
    size_t len = strlen(buf);
    if (len + strlen(n->name) + 2 < cap && !strstr(buf, n->name))
        snprintf(buf + len, cap - len, "%s%s", len ? " " : "", n->name);
    for (int i = 0; i < n->nargs; i++)
        collect_ops(a, n->args[i], buf, cap);
    (void)a;
}

static const char *str_field(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

static char *dup(gs_ruleset *rs, const char *s)
{
    return s ? gs_arena_strdup(&rs->arena, s) : NULL;
}

static bool has_duplicate_keys(const cJSON *o, const char **dupkey)
{
    for (const cJSON *a = o ? o->child : NULL; a; a = a->next) {
        if (cJSON_IsObject(a) && has_duplicate_keys(a, dupkey))
            return true;
        if (cJSON_IsArray(a))
            for (const cJSON *e = a->child; e; e = e->next)
                if (cJSON_IsObject(e) && has_duplicate_keys(e, dupkey))
                    return true;
        for (const cJSON *b = a->next; cJSON_IsObject(o) && b; b = b->next)
            if (a->string && b->string && !strcmp(a->string, b->string)) {
                *dupkey = a->string;
                return true;
            }
    }
    return false;
}

/* ---- symmetric statement pairs -------------------------------------------- */

/* a and b are the same pattern up to variable names; map[var of a] = var of b. */
static bool same_up_to_vars(const gs_pnode *a, const gs_pnode *b, int *map)
{
    if (a->kind != b->kind || a->nargs != b->nargs || a->nattrs != b->nattrs || a->rest != b->rest)
        return false;
    switch (a->kind) {
    case P_VAR:
        if (map[a->var] < 0)
            map[a->var] = b->var;
        return map[a->var] == b->var;
    case P_NUM:
        return a->num == b->num;
    default:
        break;
    }
    if ((a->name || b->name) && (!a->name || !b->name || strcmp(a->name, b->name)))
        return false;
    for (int i = 0; i < a->nargs; i++)
        if (!same_up_to_vars(a->args[i], b->args[i], map))
            return false;
    for (int i = 0; i < a->nattrs; i++) {
        const gs_pattr *x = &a->attrs[i], *y = &b->attrs[i];
        if ((x->name || y->name) && (!x->name || !y->name || strcmp(x->name, y->name)))
            return false;
        if ((x->val || y->val) && (!x->val || !y->val || !same_up_to_vars(x->val, y->val, map)))
            return false;
        if ((x->dflt != NULL) != (y->dflt != NULL))
            return false;
    }
    return true;
}

/* a equals b after swapping variables through swap (swap[v] is v's partner);
 * the arguments of const(), which are a set, in any order. */
static bool equal_swapped(const gs_pnode *a, const gs_pnode *b, const int *swap)
{
    if (a->kind != b->kind || a->nargs != b->nargs)
        return false;
    if (a->kind == P_FUNC && !strcmp(a->name, "const") && !strcmp(b->name, "const")) {
        for (int i = 0; i < a->nargs; i++) {
            bool found = false;
            for (int j = 0; j < b->nargs && !found; j++)
                found = equal_swapped(a->args[i], b->args[j], swap);
            if (!found)
                return false;
        }
        return true;
    }
    if (a->kind == P_VAR)
        return swap[a->var] == b->var;
    if (a->kind == P_NUM)
        return a->num == b->num;
    if ((a->name || b->name) && (!a->name || !b->name || strcmp(a->name, b->name)))
        return false;
    for (int i = 0; i < a->nargs; i++)
        if (!equal_swapped(a->args[i], b->args[i], swap))
            return false;
    return true;
}

/* Every variable of pattern p (arguments and attribute values) is fixed by swap. */
static bool fixed_by(const gs_pnode *p, const int *swap)
{
    if (!p)
        return true;
    if (p->kind == P_VAR)
        return swap[p->var] == p->var;
    for (int i = 0; i < p->nargs; i++)
        if (!fixed_by(p->args[i], swap))
            return false;
    for (int i = 0; i < p->nattrs; i++)
        if (!fixed_by(p->attrs[i].val, swap))
            return false;
    return true;
}

/* Outer statements i and j are interchangeable when their patterns agree up
 * to variable names and swapping those names maps the conditions onto
 * themselves and leaves every other statement as it is; in
 * "y1 = MatMul(x, w1); y2 = MatMul(x, w2)" they are, a 1x1 Conv with a 3x3
 * one (conditions on each kernel) is not, nor "y1 = Relu(a); y2 = Relu(b)"
 * over "a, b = Split(x)" (the Split's outputs are ordered). */
static bool pair_symmetric(const gs_rule *r, int i, int j)
{
    int map[GS_MAX_BINDINGS], back[GS_MAX_BINDINGS], swap[GS_MAX_BINDINGS];
    for (int v = 0; v < GS_MAX_BINDINGS; v++)
        map[v] = back[v] = -1;
    if (!same_up_to_vars(r->roots[i], r->roots[j], map))
        return false;
    if (r->root_nout[i] > 1 || r->root_nout[j] > 1)
        return false;
    if (r->root_nout[i] == 1 && r->root_nout[j] == 1)
        map[r->root_out[i][0]] = r->root_out[j][0];
    for (int v = 0; v < GS_MAX_BINDINGS; v++)
        if (map[v] >= 0) {
            if (back[map[v]] >= 0 && back[map[v]] != v)
                return false;
            back[map[v]] = v;
        }
    for (int v = 0; v < GS_MAX_BINDINGS; v++)
        swap[v] = map[v] >= 0 ? map[v] : back[v] >= 0 ? back[v] : v;
    for (int v = 0; v < GS_MAX_BINDINGS; v++)
        if (swap[swap[v]] != v)
            return false;
    for (int k = 0; k < r->nroots; k++) {
        if (k == i || k == j)
            continue;
        if (!fixed_by(r->roots[k], swap))
            return false;
        for (int o = 0; o < r->root_nout[k]; o++)
            if (swap[r->root_out[k][o]] != r->root_out[k][o])
                return false;
    }
    for (int a = 0; a < r->nwhere; a++) {
        bool found = false;
        for (int b = 0; b < r->nwhere && !found; b++)
            found = equal_swapped(r->where[a], r->where[b], swap);
        if (!found)
            return false;
    }
    return true;
}

/* The outer statements may be matched in any order when each adjacent pair
 * is interchangeable (adjacent swaps make every order): each set of nodes is
 * then matched once, in increasing node order, not once per order. */
static bool statements_symmetric(const gs_rule *r)
{
    if (r->nouter < 2)
        return false;
    for (int i = 0; i + 1 < r->nouter; i++)
        if (!pair_symmetric(r, i, i + 1))
            return false;
    return true;
}

static gs_status rule_err(gs_ruleset *rs, const char *file, int index, const char *name, const char *msg)
{
    return gs_err(rs->ctx, GS_ERR_RULE, "%s: rule %d '%s': %s", file, index + 1, name ? name : "?", msg);
}

/* The "class" field's names and their flags. */
static const struct {
    const char *name;
    uint32_t flag;
} classes[] = {
    { "search", GS_RULE_SEARCH },
    { "cleanup", GS_RULE_CLEANUP },
    { "lower", GS_RULE_LOWER },
};

const char *gs_rule_class(const gs_rule *r)
{
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (r->flags & classes[i].flag)
            return classes[i].name;
    return "search";   /* a rule a profile skips (no flags) was one */
}

/* The slots of pattern p (and below) whose op is commutative, as bits. */
static uint32_t commutative_slots(const gs_pnode *p)
{
    uint32_t bits = 0;
    if (p->kind != P_CALL)
        return 0;
    const gs_opdef *d = gs_op_find(p->name, "", 1000);
    if (d && (d->flags & GS_OP_COMMUTATIVE) && p->nargs == 2 && p->slot < 32)
        bits |= 1u << p->slot;
    for (int a = 0; a < p->nargs; a++)
        bits |= commutative_slots(p->args[a]);
    return bits;
}

static gs_status compile_rule(gs_ruleset *rs, const char *file, const cJSON *o, int index, gs_rule **out)
{
    const char *name = str_field(o, "name"), *match = str_field(o, "match"), *rw = str_field(o, "rewrite");
    const char *cls = str_field(o, "class");
    if (!cJSON_IsObject(o) || !name || !match || !rw)
        return rule_err(rs, file, index, name, "needs string fields 'name', 'match' and 'rewrite'");
    int32_t failures = rs->arena.failures;
    gs_rule *r = gs_arena_alloc(&rs->arena, sizeof *r);
    if (!r)
        return gs_nomem(rs->ctx);
    r->name = dup(rs, name);
    r->doc = dup(rs, str_field(o, "doc") ? str_field(o, "doc") : "");
    r->file = dup(rs, file);
    r->flags = 0;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0] && !r->flags; i++)
        if (!strcmp(cls ? cls : "search", classes[i].name))
            r->flags = classes[i].flag;
    if (!r->flags)
        return rule_err(rs, file, index, name, "class must be \"cleanup\", \"search\" or \"lower\"");
    r->opset_min = 1, r->opset_max = 1000;
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "opset");
    if (op && (!cJSON_IsArray(op) || cJSON_GetArraySize(op) != 2 ||
               !cJSON_IsNumber(cJSON_GetArrayItem(op, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(op, 1))))
        return rule_err(rs, file, index, name, "opset must be [min, max]");
    if (op)
        r->opset_min = cJSON_GetArrayItem(op, 0)->valueint, r->opset_max = cJSON_GetArrayItem(op, 1)->valueint;
    const cJSON *shared = cJSON_GetObjectItemCaseSensitive(o, "shared_inner");
    if (shared && !cJSON_IsBool(shared))
        return rule_err(rs, file, index, name, "shared_inner must be true or false");
    r->shared_inner = cJSON_IsTrue(shared);
    const cJSON *check = cJSON_GetObjectItemCaseSensitive(o, "check");
    if (check) {
        char *txt = cJSON_PrintUnformatted(check);
        r->check = txt ? dup(rs, txt) : NULL;
        cJSON_free(txt);
    }
    parser ps = { .rs = rs, .rule = r };
    bool ok = compile_match(&ps, match) && compile_rewrite(&ps, rw);
    const cJSON *where = cJSON_GetObjectItemCaseSensitive(o, "where");
    if (ok && where && !cJSON_IsArray(where))
        ok = perr(&ps, "'where' must be a list");
    if (ok && where)
        ok = compile_where(&ps, where);
    if (rs->arena.failures == failures && !ok)
        return rule_err(rs, file, index, name, ps.err);
    r->symmetric = ok && statements_symmetric(r);
    r->comm_slots = ok && r->nroots == 1 ? commutative_slots(r->roots[0]) : 0;
    r->copied_slots = ok ? gs_match_copied_slots(r) : 0;
    char ops[256] = "";
    for (int i = 0; ok && i < r->nroots; i++)
        collect_ops(&rs->arena, r->roots[i], ops, sizeof ops);
    r->ops = dup(rs, ops);
    if (rs->arena.failures != failures)   /* a parse stopped by memory is not a rule error */
        return gs_nomem(rs->ctx);
    *out = r;
    return GS_OK;
}

/* The slot of op in the root table: its own, or the empty one it would take. */
static int root_slot(const gs_ruleset *rs, const char *op)
{
    int mask = rs->root_cap - 1;
    for (int i = (int)(gs_hash_str(op) & (uint32_t)mask);; i = (i + 1) & mask) {
        int f = rs->root_first[i];
        if (f < 0 || !strcmp(rs->rules[f]->roots[0]->name, op))
            return i;
    }
}

int gs_ruleset_first_at(const gs_ruleset *rs, const char *op)
{
    return rs->root_cap ? rs->root_first[root_slot(rs, op)] : -1;
}

/* Rule i joins the end of its op's list (rules are only ever appended). */
static void root_link(gs_ruleset *rs, int i)
{
    int slot = root_slot(rs, rs->rules[i]->roots[0]->name);
    rs->root_next[i] = -1;
    if (rs->root_first[slot] < 0) {
        rs->root_first[slot] = i;
        rs->nroot_ops++;
    } else {
        rs->root_next[rs->root_last[slot]] = i;
    }
    rs->root_last[slot] = i;
}

/* The table again from rules 0 .. n-1, in load order. */
static void root_relink(gs_ruleset *rs)
{
    rs->nroot_ops = 0;
    for (int k = 0; k < rs->root_cap; k++)
        rs->root_first[k] = -1;
    for (int i = 0; i < rs->n; i++)
        root_link(rs, i);
}

/* Room for one more op in the table (rebuilt when it grows). */
static bool root_reserve(gs_ruleset *rs)
{
    if ((rs->nroot_ops + 1) * 2 <= rs->root_cap)
        return true;
    int cap = rs->root_cap ? rs->root_cap * 2 : 64;
    int *t = gs_alloc(rs->ctx, (size_t)cap * sizeof *t), *last = gs_alloc(rs->ctx, (size_t)cap * sizeof *last);
    if (!t || !last) {
        gs_dealloc(rs->ctx, t);
        gs_dealloc(rs->ctx, last);
        return false;
    }
    gs_dealloc(rs->ctx, rs->root_first);
    gs_dealloc(rs->ctx, rs->root_last);
    rs->root_first = t;
    rs->root_last = last;
    rs->root_cap = cap;
    root_relink(rs);
    return true;
}

static gs_status add_rule(gs_ruleset *rs, gs_rule *r)
{
    if (rs->n == rs->cap) {
        int cap = rs->cap ? rs->cap * 2 : 64;
        gs_rule **a = gs_realloc(rs->ctx, rs->rules, (size_t)cap * sizeof *a);
        if (!a)
            return gs_nomem(rs->ctx);
        rs->rules = a;
        int *next = gs_realloc(rs->ctx, rs->root_next, (size_t)cap * sizeof *next);
        if (!next)
            return gs_nomem(rs->ctx);
        rs->root_next = next;
        rs->cap = cap;
    }
    if (!root_reserve(rs))
        return gs_nomem(rs->ctx);
    rs->rules[rs->n] = r;
    root_link(rs, rs->n++);
    return GS_OK;
}

static int line_of(const char *text, const char *at, int *col)
{
    int line = 1;
    const char *bol = text;
    for (const char *p = text; p < at; p++)
        if (*p == '\n')
            line++, bol = p + 1;
    *col = (int)(at - bol) + 1;
    return line;
}

gs_status gs_ruleset_load_mem(gs_ruleset *rs, const char *json, size_t len, const char *name)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!root) {
        int col, line = line_of(json, end ? end : json, &col);
        return gs_err(rs->ctx, GS_ERR_RULE, "%s:%d:%d: invalid JSON", name, line, col);
    }
    const char *dupkey = NULL;
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
    gs_status st = GS_OK;
    if (has_duplicate_keys(root, &dupkey))
        st = gs_err(rs->ctx, GS_ERR_RULE, "%s: duplicate key '%s'", name, dupkey);
    else if (!cJSON_IsArray(rules))
        st = gs_err(rs->ctx, GS_ERR_RULE, "%s: expected an object with a \"rules\" list", name);
    int first = rs->n, i = 0;
    const cJSON *o;
    const cJSON *list = st == GS_OK ? rules : NULL;
    cJSON_ArrayForEach(o, list) {
        gs_rule *r;
        if ((st = compile_rule(rs, name, o, i++, &r)) != GS_OK || (st = add_rule(rs, r)) != GS_OK)
            break;
    }
    if (st != GS_OK && rs->n > first) {   /* the whole file is refused */
        rs->n = first;
        root_relink(rs);
    }
    cJSON_Delete(root);
    return st;
}

static gs_status load_file(gs_ruleset *rs, const char *path)
{
    void *map;
    size_t size;
    gs_status st = gs_file_map(rs->ctx, path, &map, &size);
    if (st == GS_ERR_IO) {   /* a rules file that cannot be read is a rules error */
        char msg[sizeof rs->ctx->msg];   /* the message formats into ctx->msg itself */
        snprintf(msg, sizeof msg, "%s", rs->ctx->msg);
        return gs_err(rs->ctx, GS_ERR_RULE, "%s", msg);
    }
    if (st != GS_OK)
        return st;
    st = gs_ruleset_load_mem(rs, map ? map : "", size, path);
    gs_file_unmap(map, size);
    return st;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json names of folder d, sorted, into *out (ctx heap, each name and
 * the array; any number of them). */
static gs_status json_names(gs_ruleset *rs, DIR *d, const char *path, char ***out, int *count)
{
    char **names = NULL;
    int n = 0, cap = 0;
    gs_status st = GS_OK;
    struct dirent *e;
    while (st == GS_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **a = cap < INT32_MAX / 2 ? gs_realloc(rs->ctx, names, (size_t)cap * sizeof *a) : NULL;
            if (!a) {
                st = gs_nomem(rs->ctx);
                break;
            }
            names = a;
        }
        if (strlen(path) + len + 2 > 4096)
            st = gs_err(rs->ctx, GS_ERR_RULE, "%s/%s: path too long", path, e->d_name);
        else if (!(names[n] = gs_strdup(rs->ctx, e->d_name)))
            st = gs_nomem(rs->ctx);
        else
            n++;
    }
    if (n)
        qsort(names, (size_t)n, sizeof *names, by_name);
    *out = names;
    *count = n;
    return st;
}

gs_status gs_ruleset_load(gs_ruleset *rs, const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return load_file(rs, path);
    char **names;
    int n;
    gs_status st = json_names(rs, d, path, &names, &n);
    closedir(d);
    for (int i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        if (st == GS_OK)
            st = load_file(rs, full);
        gs_dealloc(rs->ctx, names[i]);
    }
    gs_dealloc(rs->ctx, names);
    return st;
}

gs_status gs_ruleset_load_default(gs_ruleset *rs)
{
    for (size_t i = 0; i < sizeof gs_default_rules / sizeof gs_default_rules[0]; i++) {
        gs_status st = gs_ruleset_load_mem(rs, gs_default_rules[i].text, strlen(gs_default_rules[i].text),
                                           gs_default_rules[i].name);
        if (st != GS_OK)
            return st;
    }
    return GS_OK;
}

gs_ruleset *gs_ruleset_new(gs_ctx *ctx)
{
    gs_ruleset *rs = gs_zalloc(ctx, sizeof *rs);
    if (rs) {
        rs->ctx = ctx;
        gs_arena_init(&rs->arena, ctx);
    }
    return rs;
}

void gs_ruleset_free(gs_ruleset *rs)
{
    if (!rs)
        return;
    gs_arena_free(&rs->arena);
    gs_dealloc(rs->ctx, rs->rules);
    gs_dealloc(rs->ctx, rs->root_first);
    gs_dealloc(rs->ctx, rs->root_last);
    gs_dealloc(rs->ctx, rs->root_next);
    gs_dealloc(rs->ctx, rs);
}

int gs_ruleset_count(const gs_ruleset *rs) { return rs->n; }
const gs_rule *gs_ruleset_get(const gs_ruleset *rs, int i) { return i >= 0 && i < rs->n ? rs->rules[i] : NULL; }
const char *gs_rule_name(const gs_rule *r) { return r->name; }
const char *gs_rule_file(const gs_rule *r) { return r->file; }
const char *gs_rule_doc(const gs_rule *r) { return r->doc; }
uint32_t gs_rule_flags(const gs_rule *r) { return r->flags; }
const char *gs_rule_ops(const gs_rule *r) { return r->ops; }
