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
#include <stdarg.h>
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
    int fires_from, fires_to;  /* the opsets where every op of the match exists */
    int elem;                  /* "where": the condition's index in the list */
    char err[512];
    const char *err_field;     /* where the error is: the rule's field ("match", "rewrite",
                                  "where", or NULL: the rule), its list element, */
    int err_elem;
    int err_off;               /* and the byte offset in that string (-1: the field itself) */
    const char *err_sub;       /* or a key inside the field's object (a "check" entry) */
    bool err_key;              /* at the field's key, not its value (an unknown field) */
} parser;

/* An error at byte off of the string being parsed (off -1: at the field
 * itself); the rule's loader turns the field and offset into a line and a
 * column of the file. */
static bool perr_at(parser *ps, int off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool verr(parser *ps, int off, const char *fmt, va_list ap)
{
    if (ps->err[0])
        return false;
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (off >= 0)
        snprintf(ps->err, sizeof ps->err, "%s at column %d: %s", ps->what, off + 1, msg);
    else
        snprintf(ps->err, sizeof ps->err, "%s: %s", ps->what, msg);
    ps->err_field = ps->what;
    ps->err_elem = !strcmp(ps->what, "where") ? ps->elem : -1;
    ps->err_off = off;
    return false;
}

static bool perr_at(parser *ps, int off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(ps, off, fmt, ap);
    va_end(ap);
    return false;
}

/* An error at key `sub` of the field being read (a "check" entry). */
static bool perr_key(parser *ps, const char *sub, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool perr_key(parser *ps, const char *sub, const char *fmt, ...)
{
    bool first = !ps->err[0];
    va_list ap;
    va_start(ap, fmt);
    verr(ps, -1, fmt, ap);
    va_end(ap);
    if (first)
        ps->err_sub = sub;
    return false;
}

static bool perr(parser *ps, const char *msg)
{
    return perr_at(ps, (int)(ps->p - ps->src), "%s", msg);
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
    if (ps->rewrite && !strcmp(name, "_")) {   /* an absent optional input */
        gs_pnode *n = pnew(ps, P_NONE);
        if (n)
            n->name = name, n->pos = pos;
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
 * read by name wherever the rest of the rewrite needs it; "a, b = Op(...);"
 * names each output of one node (built once, when either is read). */
static bool compile_let(parser *ps, const int *outs, int nouts, gs_pnode *e, int match_vars)
{
    gs_rule *r = ps->rule;
    if (nouts < 1 || (nouts > 1 && e->kind != P_CALL))
        return perr(ps, "a rewrite binding names one value, \"k = expr;\", or each output of one op, "
                        "\"a, b = Op(...);\"");
    if (reads_undefined(r, e, match_vars))
        return perr(ps, "a rewrite binding reads a name that is neither matched nor bound before it");
    if (r->nlets + nouts > GS_MAX_LETS)
        return perr(ps, "too many rewrite bindings");
    for (int k = 0; k < nouts; k++) {
        int var = outs[k];
        if (var < match_vars)
            return perr(ps, "a rewrite binding must not reuse a name of the match");
        if (r->let_vars >> var & 1)
            return perr(ps, "a rewrite binding is defined twice");
        r->lets[r->nlets] = e;
        r->let_out[r->nlets] = k, r->let_nout[r->nlets] = nouts;
        r->let_var[r->nlets++] = var;
        r->let_vars |= (uint64_t)1 << var;
    }
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

/* ---- validation: every mistake found at load --------------------------- */

/* Edit distance between a and b, capped at 9 (for "did you mean"). */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 9;
    int row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            row[j] = sub < up + 1 ? sub : up + 1;
            if (row[j - 1] + 1 < row[j])
                row[j] = row[j - 1] + 1;
            diag = up;
        }
    }
    return row[lb] < 9 ? row[lb] : 9;
}

/* The nearest of several names to a misspelt one. */
typedef struct nearest {
    const char *word;
    const char *best;
    int dist;
} nearest;

static void consider(nearest *n, const char *cand)
{
    int d = distance(n->word, cand);
    if (d < n->dist) {
        n->dist = d;
        n->best = cand;
    }
}

/* " (did you mean 'x'?)" when a name is close enough, else "". */
static const char *suggest(const nearest *n, char *buf, size_t cap)
{
    size_t len = strlen(n->word);
    int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    if (!n->best || n->dist > limit)
        return "";
    snprintf(buf, cap, " (did you mean '%s'?)", n->best);
    return buf;
}

static void consider_op(const gs_opdef *d, void *ud)
{
    consider(ud, d->name);
}

/* The opsets a rule is checked for: its range, up to the newest the
 * registry can tell apart. */
enum { NEWEST_OPSET = 30 };

static int upper_opset(const gs_rule *r)
{
    return r->opset_max < NEWEST_OPSET ? r->opset_max : NEWEST_OPSET;
}

/* Whether row d takes n inputs (rest: n or more). */
static bool arity_fits(const gs_opdef *d, int lo, int hi, bool rest)
{
    if (d->max_in >= 0 && lo > d->max_in)
        return false;
    return rest || hi >= d->min_in;
}

static const char *plural(int n)
{
    return n == 1 ? "" : "s";
}

/* "1 input", "2 to 3 inputs", "1 or more inputs". */
static const char *inputs_of(const gs_opdef *d, char *buf, size_t cap)
{
    if (d->max_in < 0)
        snprintf(buf, cap, "%d or more inputs", d->min_in);
    else if (d->min_in == d->max_in)
        snprintf(buf, cap, "%d input%s", d->min_in, plural(d->min_in));
    else
        snprintf(buf, cap, "%d to %d inputs", d->min_in, d->max_in);
    return buf;
}

/* Call p's inputs: nargs, of which the trailing optional ones ("b?") may be absent. */
static void call_arity(const gs_rule *r, const gs_pnode *p, int *lo, int *hi, bool *rest)
{
    *hi = p->nargs;
    *rest = p->nargs && p->args[p->nargs - 1]->kind == P_VAR && p->args[p->nargs - 1]->rest;
    *lo = *hi;
    while (*lo > 0 && p->args[*lo - 1]->kind == P_VAR &&
           (p->args[*lo - 1]->optional || (r->optional >> p->args[*lo - 1]->var & 1)))
        (*lo)--;
}

/* A matched op must exist, with that many inputs, at some opset of the
 * rule's range; a written op at every one. */
static bool check_op(parser *ps, const gs_pnode *p, bool written)
{
    const gs_rule *r = ps->rule;
    int lo, hi, from = written ? ps->fires_from : r->opset_min, to = written ? ps->fires_to : upper_opset(r);
    int first = 0;
    bool rest, fits = false;
    call_arity(r, p, &lo, &hi, &rest);
    if (strchr(p->name, '.'))
        return perr_at(ps, p->pos, "'%s': ops of other domains are not supported in rules", p->name);
    for (int o = from; o <= to; o++) {
        const gs_opdef *d = gs_op_find(p->name, "", o);
        if (d && !first)
            first = o;
        if (d && arity_fits(d, lo, hi, rest))
            fits = true;
        if (written && !d && first)
            return perr_at(ps, p->pos, "'%s' does not exist at opset %d, which the rule's \"opset\" "
                           "range [%d, %d] admits", p->name, o, r->opset_min, r->opset_max);
        if (written && d && !arity_fits(d, lo, hi, rest)) {
            char want[64];
            return perr_at(ps, p->pos, "'%s' takes %s at opset %d, not %d", p->name, inputs_of(d, want, sizeof want),
                           o, hi);
        }
    }
    if (!first) {
        char buf[96];
        nearest n = { p->name, NULL, 99 };
        gs_op_each(consider_op, &n);
        for (int o = 1; o <= NEWEST_OPSET && gs_op_find(p->name, "", 1) == NULL; o++)
            if (gs_op_find(p->name, "", o))
                return perr_at(ps, p->pos, "'%s' needs opset %d or later; the rule's \"opset\" range is "
                               "[%d, %d]", p->name, o, r->opset_min, r->opset_max);
        return perr_at(ps, p->pos, "unknown op '%s'%s", p->name, suggest(&n, buf, sizeof buf));
    }
    if (written && first > from)
        return perr_at(ps, p->pos, "'%s' needs opset %d or later; the rule can fire from opset %d (its "
                       "\"opset\" range and the ops it matches)", p->name, first, from);
    if (!fits) {
        char want[64];
        return perr_at(ps, p->pos, "'%s' takes %s, not %d", p->name,
                       inputs_of(gs_op_find(p->name, "", first), want, sizeof want), hi);
    }
    return true;
}

/* Whether variable var is bound to an attribute by match pattern p. */
static bool attr_var(const gs_pnode *p, int var)
{
    if (!p)
        return false;
    for (int i = 0; i < p->nattrs; i++)
        if (p->attrs[i].val && p->attrs[i].val->kind == P_VAR && p->attrs[i].val->var == var)
            return true;
    for (int i = 0; i < p->nargs; i++)
        if (attr_var(p->args[i], var))
            return true;
    return false;
}

bool gs_rule_attr_var(const gs_rule *r, int var)
{
    for (int i = 0; i < r->nroots; i++)
        if (attr_var(r->roots[i], var))
            return true;
    return false;
}

/* The nearest variable of the match to a name it does not bind. */
static const char *near_var(const gs_rule *r, const char *name, char *buf, size_t cap)
{
    nearest n = { name, NULL, 99 };
    for (int v = 0; v < r->nmatch_vars; v++)
        consider(&n, r->vars[v]);
    return suggest(&n, buf, cap);
}

static bool bound_in_rewrite(const gs_rule *r, int var)
{
    return var < r->nmatch_vars || (r->let_vars >> var & 1);
}

static bool check_rewrite_expr(parser *ps, const gs_pnode *p, unsigned place);

/* Argument k of call f (in a condition or a rewrite) is what f takes there. */
static bool check_func_arg(parser *ps, const gs_pnode *f, int k)
{
    const gs_rule *r = ps->rule;
    const gs_pnode *a = f->args[k];
    char kind = gs_rule_func_arg(f->fn, k), buf[96];
    bool var = a->kind == P_VAR && !a->rest;
    if (kind == 'l' && var && !bound_in_rewrite(r, a->var))
        return true;   /* a bare word: a string ("attr_eq(pad, NOTSET)") */
    if (kind == 'n' && a->kind != P_NUM)
        return perr_at(ps, a->pos, "%s(): argument %d must be a number", f->name, k + 1);
    if (a->kind == P_VAR && !bound_in_rewrite(r, a->var))
        return perr_at(ps, a->pos, "%s(): '%s' is not bound by the match%s", f->name, a->name,
                       near_var(r, a->name, buf, sizeof buf));
    if (a->kind == P_VAR && a->var >= r->nmatch_vars && f->fn->id == GS_F_COND)
        return perr_at(ps, a->pos, "%s(): '%s' is a rewrite binding, not a variable of the match", f->name,
                       a->name);
    bool attr = var && a->var < r->nmatch_vars && gs_rule_attr_var(r, a->var);
    switch (kind) {
    case 'v':
        if (!var || attr)
            return perr_at(ps, a->pos, "%s(): argument %d must be a value variable of the match", f->name, k + 1);
        return true;
    case 'a':
        if (!var || !attr)
            return perr_at(ps, a->pos, "%s(): argument %d must be an attribute variable of the match "
                           "({name=var})", f->name, k + 1);
        return true;
    case 'x':
        return var || perr_at(ps, a->pos, "%s(): argument %d must be a variable of the match", f->name, k + 1);
    case 'n':
        return a->kind == P_NUM || perr_at(ps, a->pos, "%s(): argument %d must be a number", f->name, k + 1);
    case 'l':
        return a->kind == P_NUM || a->kind == P_LIST ||
               perr_at(ps, a->pos, "%s(): argument %d must be a number or a list", f->name, k + 1);
    case 'i':
        if (a->kind == P_NUM || (var && !attr))
            return true;
        if (a->kind == P_FUNC)
            return check_rewrite_expr(ps, a, GS_FN_INT);
        return perr_at(ps, a->pos, "%s(): argument %d must be an integer", f->name, k + 1);
    default:
        return perr_at(ps, a->pos, "%s(): too many arguments", f->name);
    }
}

/* Resolve call p to its row in rule_funcs.c, which must allow place. */
static bool resolve_func(parser *ps, gs_pnode *p, unsigned place)
{
    static const char *const where_names[] = { "a condition", "a rewrite input", "an attribute value",
                                               "a list element" };
    char buf[96];
    const gs_rule_func *f = gs_rule_func_find(p->name);
    if (strchr(p->name, '.'))
        return perr_at(ps, p->pos, "'%s': ops of other domains are not supported in rules", p->name);
    if (!f || !(f->places & place)) {
        nearest n = { p->name, NULL, 99 };
        for (int i = 0; gs_rule_func_at(i); i++)
            if (gs_rule_func_at(i)->places & place)
                consider(&n, gs_rule_func_at(i)->name);
        const char *what = place == GS_FN_WHERE ? "condition" : "rewrite function";
        if (f)
            return perr_at(ps, p->pos, "%s() cannot be %s%s", p->name,
                           where_names[__builtin_ctz(place)], suggest(&n, buf, sizeof buf));
        return perr_at(ps, p->pos, "unknown %s '%s'%s", what, p->name, suggest(&n, buf, sizeof buf));
    }
    if (!gs_rule_func_arity(f, p->nargs)) {
        size_t n = strlen(f->args);
        bool more = n && f->args[n - 1] == '+';
        return perr_at(ps, p->pos, "%s() takes %d%s argument%s, not %d", p->name, (int)(more ? n - 1 : n),
                       more ? " or more" : "", plural((int)(more ? n - 1 : n)), p->nargs);
    }
    p->fn = f;
    for (int k = 0; k < p->nargs; k++)
        if (!check_func_arg(ps, p, k))
            return false;
    return true;
}

/* "_" may stand for input i of written call p: an optional input of its op
 * at every opset where the rule fires. */
static bool absent_ok(parser *ps, const gs_pnode *p, int i)
{
    for (int o = ps->fires_from; o <= ps->fires_to; o++) {
        const gs_opdef *d = gs_op_find(p->name, "", o);
        if (d && i < d->min_in)
            return perr_at(ps, p->args[i]->pos, "'_' (an absent input) cannot be input %d of '%s', which it "
                           "requires at opset %d", i + 1, p->name, o);
    }
    return true;
}

/* Rewrite expression p, written at place (GS_FN_INPUT, GS_FN_INT): its ops
 * exist for the rule's opsets, its functions are known there, and every
 * variable it reads is bound. */
static bool check_rewrite_expr(parser *ps, const gs_pnode *p, unsigned place)
{
    const gs_rule *r = ps->rule;
    char buf[96];
    switch (p->kind) {
    case P_VAR:
        if (!bound_in_rewrite(r, p->var))
            return perr_at(ps, p->pos, "'%s' is not bound by the match or a rewrite binding%s", p->name,
                           near_var(r, p->name, buf, sizeof buf));
        return true;
    case P_NUM:
        return true;
    case P_NONE:
        return perr_at(ps, p->pos, "'_' (an absent input) can only be an input of an op");
    case P_LIST:
        for (int i = 0; i < p->nargs; i++)
            if (p->args[i]->kind != P_NUM && !check_rewrite_expr(ps, p->args[i], GS_FN_INT))
                return false;
        return true;
    case P_FUNC:
        return resolve_func(ps, (gs_pnode *)p, place);
    case P_CALL:
        break;
    }
    if (!check_op(ps, p, true))
        return false;
    for (int i = 0; i < p->nargs; i++)
        if (p->args[i]->kind == P_NONE ? !absent_ok(ps, p, i) : !check_rewrite_expr(ps, p->args[i], GS_FN_INPUT))
            return false;
    for (int i = 0; i < p->nattrs; i++) {   /* a bare word is a string; a variable must be an attribute's */
        const gs_pnode *v = p->attrs[i].val;
        if (v && v->kind == P_FUNC && !resolve_func(ps, (gs_pnode *)v, GS_FN_ATTR))
            return false;
        if (v && v->kind == P_LIST && !check_rewrite_expr(ps, v, GS_FN_ATTR))
            return false;
    }
    return true;
}

/* Match pattern p: ops exist with that arity at some opset of the range; no
 * function calls or literals as inputs. */
static bool check_match_expr(parser *ps, const gs_pnode *p)
{
    if (p->kind == P_VAR)
        return true;
    if (p->kind == P_FUNC)
        return perr_at(ps, p->pos, "'%s(...)' in a match: a pattern reads ops (capitalized) and variables; "
                       "conditions go in \"where\"", p->name);
    if (p->kind != P_CALL)
        return perr_at(ps, p->pos, "a literal cannot be an input in a match pattern");
    if (!check_op(ps, p, false))
        return false;
    int o = ps->fires_from;
    while (o < upper_opset(ps->rule) && !gs_op_find(p->name, "", o))
        o++;
    ps->fires_from = o;
    for (o = ps->fires_to; o > ps->fires_from && !gs_op_find(p->name, "", o); o--)
        ;
    ps->fires_to = o;
    for (int i = 0; i < p->nargs; i++)
        if (!check_match_expr(ps, p->args[i]))
            return false;
    return true;
}

/* A rewrite expression giving nout > 1 values ("a, b = Op(...)") is a call
 * of an op with that many outputs at every opset the rule fires at. */
static bool check_outputs(parser *ps, const gs_pnode *p, int nout)
{
    if (nout <= 1)
        return true;
    if (p->kind != P_CALL)
        return perr_at(ps, p->pos, "%d names need an op with %d outputs", nout, nout);
    for (int o = ps->fires_from; o <= ps->fires_to; o++) {
        const gs_opdef *d = gs_op_find(p->name, "", o);
        if (d && d->max_out >= 0 && d->max_out < nout)
            return perr_at(ps, p->pos, "'%s' has %d output%s at opset %d, not %d", p->name, d->max_out,
                           d->max_out == 1 ? "" : "s", o, nout);
    }
    return true;
}

static bool validate_patterns(parser *ps, const char *match, const char *rw)
{
    const gs_rule *r = ps->rule;
    ps->what = "match";
    ps->src = match;
    ps->fires_from = r->opset_min;
    ps->fires_to = upper_opset(r);
    for (int i = 0; i < r->nroots; i++)
        if (!check_match_expr(ps, r->roots[i]))
            return false;
    ps->what = "rewrite";
    ps->src = rw;
    for (int i = 0; i < r->nlets; i++)   /* "a, b = Op(...);": one expression, checked once */
        if (r->let_out[i] == 0 &&
            (!check_rewrite_expr(ps, r->lets[i], GS_FN_INPUT) || !check_outputs(ps, r->lets[i], r->let_nout[i])))
            return false;
    for (int i = 0; i < (r->rewrite_tuple ? r->nrewrite : 1); i++)
        if (!check_rewrite_expr(ps, r->rewrite[i], GS_FN_INPUT))
            return false;
    return r->rewrite_tuple || check_outputs(ps, r->rewrite[0], r->nrewrite);
}

static bool compile_where(parser *ps, const cJSON *where)
{
    gs_rule *r = ps->rule;
    const cJSON *c;
    ps->elem = 0;
    cJSON_ArrayForEach(c, where) {
        ps->what = "where";
        if (!cJSON_IsString(c))
            return perr_at(ps, -1, "'where' must be a list of strings");
        ps->src = ps->p = c->valuestring;
        ps->rewrite = false;
        gs_pnode *e = expr(ps);
        if (!e)
            return false;
        skip(ps);
        if (*ps->p)
            return perr(ps, "unexpected text after the condition");
        if (e->kind != P_FUNC)
            return perr_at(ps, e->pos, "a condition is a call such as const(w)");
        if (!resolve_func(ps, e, GS_FN_WHERE))
            return false;
        if (!push(ps, &r->where, &r->nwhere, &e, sizeof e))
            return false;
        ps->elem++;
    }
    return true;
}

/* The fields a rule may have, and those of a check entry's object. */
static const char *const rule_fields[] = { "name", "doc", "class", "opset", "match", "where", "rewrite",
                                           "check", "shared_inner" };
static const char *const check_fields[] = { "shape", "range", "value", "dtype" };

static const char *unknown_key(const cJSON *o, const char *const *known, int n, char *buf, size_t cap)
{
    for (const cJSON *k = o->child; k; k = k->next) {
        nearest near = { k->string, NULL, 99 };
        bool ok = false;
        for (int i = 0; i < n && !ok; i++) {
            ok = !strcmp(k->string, known[i]);
            consider(&near, known[i]);
        }
        if (!ok) {
            char sb[96];
            snprintf(buf, cap, "unknown field '%s'%s", k->string, suggest(&near, sb, sizeof sb));
            return k->string;
        }
    }
    return NULL;
}

/* The "check" object names variables of the match (value or attribute),
 * each with data of a known form. */
static bool validate_check(parser *ps, const cJSON *check)
{
    const gs_rule *r = ps->rule;
    char buf[200];
    ps->what = "check";
    if (!cJSON_IsObject(check))
        return perr_at(ps, -1, "\"check\" must be an object: a shape or data per variable");
    for (const cJSON *k = check->child; k; k = k->next) {
        if (!strcmp(k->string, "unit_inputs")) {   /* a flag for the check, not a variable */
            if (!cJSON_IsBool(k))
                return perr_key(ps, k->string, "'unit_inputs' must be true or false");
            continue;
        }
        int v = 0;
        while (v < r->nmatch_vars && strcmp(r->vars[v], k->string))
            v++;
        if (v == r->nmatch_vars)
            return perr_key(ps, k->string, "'%s' is not a variable of the match%s", k->string,
                            near_var(r, k->string, buf, sizeof buf));
        if (cJSON_IsObject(k) && unknown_key(k, check_fields, 4, buf, sizeof buf))
            return perr_key(ps, k->string, "'%s': %s", k->string, buf);
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

/* ---- positions in the file --------------------------------------------- */

/* A rule file's text, for turning a rule's field into a line and column. */
typedef struct source {
    const char *file;
    const char *text;
    size_t len;
} source;

/* Past white space as cJSON skips it (every byte up to 32, NUL included);
 * NULL stays NULL, so a lookup that failed fails the whole way. */
static const char *jws(const char *p, const char *e)
{
    while (p && p < e && (unsigned char)*p <= 32)
        p++;
    return p;
}

static const char *jstring_end(const char *p, const char *e)   /* p at '"' */
{
    for (p++; p < e && *p != '"'; p++)
        if (*p == '\\')
            p++;
    return p < e ? p + 1 : e;
}

/* Past the JSON value at p (the text parsed already: no checks). */
static const char *jskip(const char *p, const char *e)
{
    p = jws(p, e);
    if (p < e && *p == '"')
        return jstring_end(p, e);
    if (p < e && (*p == '{' || *p == '[')) {
        int depth = 0;
        for (; p < e; p++) {
            if (*p == '"')
                p = jstring_end(p, e) - 1;
            else if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
        }
        return e;
    }
    while (p < e && (unsigned char)*p > 32 && !strchr(",}]", *p))
        p++;
    return p;
}

/* The value of key in the object at p (or, key_at, the key's quote); NULL
 * when there is none. */
static const char *jfield(const char *p, const char *e, const char *key, bool key_at)
{
    if (!p)
        return NULL;
    p = jws(p, e);
    if (p >= e || *p != '{')
        return NULL;
    for (p++;;) {
        p = jws(p, e);
        if (p >= e || *p != '"')
            return NULL;
        const char *k = p;
        p = jstring_end(p, e);
        bool hit = (size_t)(p - k - 2) == strlen(key) && !memcmp(k + 1, key, (size_t)(p - k - 2));
        p = jws(p, e);
        if (p >= e || *p != ':')
            return NULL;
        p = jws(p + 1, e);
        if (hit)
            return key_at ? k : p;
        p = jws(jskip(p, e), e);
        if (p >= e || *p != ',')
            return NULL;
        p++;
    }
}

/* Element i of the list at p, or NULL. */
static const char *jelem(const char *p, const char *e, int i)
{
    if (!p)
        return NULL;
    p = jws(p, e);
    if (p >= e || *p != '[')
        return NULL;
    for (p++;; i--) {
        p = jws(p, e);
        if (p >= e || *p == ']')
            return NULL;
        if (i == 0)
            return p;
        p = jws(jskip(p, e), e);
        if (p >= e || *p != ',')
            return NULL;
        p++;
    }
}

/* Where byte off of the JSON string at p (at its quote) is in the file. */
static const char *jstring_at(const char *p, const char *e, int off)
{
    if (!p)
        return NULL;
    for (p++; p < e && *p != '"' && off > 0; p++, off--)
        if (*p == '\\')
            p += p[1] == 'u' ? 5 : 1;
    return p;
}

static int line_of(const char *text, const char *at, int *col);

/* The place in the file of rule `index`'s error as the parser recorded it. */
static const char *error_place(const source *src, int index, const parser *ps)
{
    const char *e = src->text + src->len;
    const char *rule = jelem(jfield(src->text, e, "rules", false), e, index), *at = rule;
    if (!rule || !ps || !ps->err_field)
        return rule;
    const char *f = jfield(rule, e, ps->err_field, ps->err_key || (ps->err_off < 0 && ps->err_sub));
    if (f && ps->err_elem >= 0)
        f = jelem(f, e, ps->err_elem);
    if (f && ps->err_sub)
        f = jfield(f, e, ps->err_sub, true);
    if (f && ps->err_off >= 0 && *f == '"')
        f = jstring_at(f, e, ps->err_off);
    return f ? f : at;
}

static gs_status rule_fail(gs_ruleset *rs, const source *src, int index, const char *name, const parser *ps,
                           const char *msg)
{
    const char *at = error_place(src, index, ps);
    int col, line = at ? line_of(src->text, at, &col) : 0;
    if (!at)
        return gs_err(rs->ctx, GS_ERR_RULE, "%s: rule %d '%s': %s", src->file, index + 1, name ? name : "?", msg);
    return gs_err(rs->ctx, GS_ERR_RULE, "%s:%d:%d: rule %d '%s': %s", src->file, line, col, index + 1,
                  name ? name : "?", msg);
}

/* An error at a field of rule `index` (its value; key: the field's name;
 * field NULL: the rule itself). */
static gs_status rule_err_at(gs_ruleset *rs, const source *src, int index, const char *name, const char *field,
                             bool key, const char *msg)
{
    parser ps = { .err_field = field, .err_elem = -1, .err_off = -1, .err_key = key };
    return rule_fail(rs, src, index, name, field ? &ps : NULL, msg);
}

static gs_status rule_err(gs_ruleset *rs, const source *src, int index, const char *name, const char *field,
                          const char *msg)
{
    return rule_err_at(rs, src, index, name, field, false, msg);
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

/* Whether rewrite expression e (or what it reads) copies the attributes of
 * an `op` node ("Op(...){...}"). */
static bool copies_op(const gs_pnode *e, const char *op)
{
    if (!e)
        return false;
    if (e->kind == P_CALL && !strcmp(e->name, op))
        for (int i = 0; i < e->nattrs; i++)
            if (!e->attrs[i].name)
                return true;
    for (int i = 0; i < e->nargs; i++)
        if (copies_op(e->args[i], op))
            return true;
    return false;
}

/* The match side's call nodes by slot. */
static void collect_calls(const gs_pnode *p, const gs_pnode **by_slot)
{
    if (!p || p->kind != P_CALL)
        return;
    if (p->slot >= 0 && p->slot < GS_MAX_PATTERN)
        by_slot[p->slot] = p;
    for (int i = 0; i < p->nargs; i++)
        collect_calls(p->args[i], by_slot);
}

static bool rewrite_copies(const gs_rule *r, const char *op)
{
    for (int i = 0; i < r->nrewrite; i++)
        if (copies_op(r->rewrite[i], op))
            return true;
    for (int i = 0; i < r->nlets; i++)
        if (copies_op(r->lets[i], op))
            return true;
    return false;
}

/* The slots whose attributes rule r's rewrite copies with "{...}" (the
 * first matched node of each op so copied), for gs_rule.copied_slots. */
static uint32_t copied_slots(const gs_rule *r)
{
    const gs_pnode *by_slot[GS_MAX_PATTERN] = { NULL };
    for (int i = 0; i < r->nroots; i++)
        collect_calls(r->roots[i], by_slot);
    uint32_t mask = 0;
    for (int i = 0; i < GS_MAX_PATTERN; i++) {
        bool first = by_slot[i] != NULL;   /* rewrite.c copies from the first slot of the op */
        for (int j = 0; first && j < i; j++)
            first = !by_slot[j] || strcmp(by_slot[j]->name, by_slot[i]->name);
        if (first && rewrite_copies(r, by_slot[i]->name))
            mask |= 1u << i;
    }
    return mask;
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

/* The rule's fields other than its patterns: class, opset, shared_inner. */
static gs_status rule_fields_of(gs_ruleset *rs, const source *src, const cJSON *o, int index, gs_rule *r)
{
    const char *cls = str_field(o, "class");
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(o, "class");
    for (size_t i = 0; i < sizeof classes / sizeof classes[0] && !r->flags; i++)
        if (!strcmp(cls ? cls : "search", classes[i].name))
            r->flags = classes[i].flag;
    if (!r->flags || (cf && !cls))
        return rule_err(rs, src, index, r->name, "class", "class must be \"cleanup\", \"search\" or \"lower\"");
    r->opset_min = 1, r->opset_max = 1000;
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "opset");
    if (op && (!cJSON_IsArray(op) || cJSON_GetArraySize(op) != 2 ||
               !cJSON_IsNumber(cJSON_GetArrayItem(op, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(op, 1))))
        return rule_err(rs, src, index, r->name, "opset", "opset must be [min, max]");
    if (op)
        r->opset_min = cJSON_GetArrayItem(op, 0)->valueint, r->opset_max = cJSON_GetArrayItem(op, 1)->valueint;
    if (op && (r->opset_min < 1 || r->opset_max < r->opset_min))
        return rule_err(rs, src, index, r->name, "opset", "opset must be [min, max] with 1 <= min <= max");
    const cJSON *shared = cJSON_GetObjectItemCaseSensitive(o, "shared_inner");
    if (shared && !cJSON_IsBool(shared))
        return rule_err(rs, src, index, r->name, "shared_inner", "shared_inner must be true or false");
    r->shared_inner = cJSON_IsTrue(shared);
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(o, "doc");
    if (doc && !cJSON_IsString(doc))
        return rule_err(rs, src, index, r->name, "doc", "doc must be a string");
    return GS_OK;
}

/* Match, rewrite and conditions parsed and validated; false with the error in ps. */
static bool compile_patterns(parser *ps, const cJSON *o, const char *match, const char *rw)
{
    gs_rule *r = ps->rule;
    if (!compile_match(ps, match))
        return false;
    r->nmatch_vars = r->nvars;
    if (!compile_rewrite(ps, rw) || !validate_patterns(ps, match, rw))
        return false;
    const cJSON *where = cJSON_GetObjectItemCaseSensitive(o, "where");
    ps->what = "where";
    ps->elem = -1;
    if (where && !cJSON_IsArray(where))
        return perr_at(ps, -1, "'where' must be a list");
    if (where && !compile_where(ps, where))
        return false;
    const cJSON *check = cJSON_GetObjectItemCaseSensitive(o, "check");
    return !check || validate_check(ps, check);
}

static gs_status compile_rule(gs_ruleset *rs, const source *src, const cJSON *o, int index, gs_rule **out)
{
    const char *name = str_field(o, "name"), *match = str_field(o, "match"), *rw = str_field(o, "rewrite");
    char buf[160];
    const char *bad = cJSON_IsObject(o) ? unknown_key(o, rule_fields, sizeof rule_fields / sizeof rule_fields[0],
                                                      buf, sizeof buf) : NULL;
    if (bad)
        return rule_err_at(rs, src, index, name, bad, true, buf);
    if (!cJSON_IsObject(o) || !name || !match || !rw)
        return rule_err(rs, src, index, name, NULL, "needs string fields 'name', 'match' and 'rewrite'");
    int32_t failures = rs->arena.failures;
    gs_rule *r = gs_arena_alloc(&rs->arena, sizeof *r);
    if (!r)
        return gs_nomem(rs->ctx);
    r->name = dup(rs, name);
    r->doc = dup(rs, str_field(o, "doc") ? str_field(o, "doc") : "");
    r->file = dup(rs, src->file);
    r->flags = 0;
    gs_status st = rule_fields_of(rs, src, o, index, r);
    if (st != GS_OK)
        return st;
    const cJSON *check = cJSON_GetObjectItemCaseSensitive(o, "check");
    if (check) {
        char *txt = cJSON_PrintUnformatted(check);
        r->check = txt ? dup(rs, txt) : NULL;
        cJSON_free(txt);
    }
    parser ps = { .rs = rs, .rule = r, .err_elem = -1, .err_off = -1 };
    bool ok = compile_patterns(&ps, o, match, rw);
    if (rs->arena.failures == failures && !ok)
        return rule_fail(rs, src, index, name, &ps, ps.err);
    r->symmetric = ok && statements_symmetric(r);
    r->comm_slots = ok && r->nroots == 1 ? commutative_slots(r->roots[0]) : 0;
    r->copied_slots = ok ? copied_slots(r) : 0;
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

/* ---- rule names: unique across every file loaded ---------------------- */

/* The slot of name in the name table: the rule's, or the empty one it would take. */
static int name_slot(const gs_ruleset *rs, const char *name)
{
    int mask = rs->name_cap - 1;
    for (int i = (int)(gs_hash_str(name) & (uint32_t)mask);; i = (i + 1) & mask) {
        int k = rs->name_rule[i];
        if (k < 0 || !strcmp(rs->rules[k]->name, name))
            return i;
    }
}

/* The table again from rules 0 .. n-1. */
static void names_relink(gs_ruleset *rs)
{
    for (int k = 0; k < rs->name_cap; k++)
        rs->name_rule[k] = -1;
    for (int i = 0; i < rs->n; i++)
        rs->name_rule[name_slot(rs, rs->rules[i]->name)] = i;
}

/* Room for one more name (the table kept at most half full). */
static bool names_reserve(gs_ruleset *rs)
{
    if ((rs->n + 1) * 2 <= rs->name_cap)
        return true;
    int cap = rs->name_cap ? rs->name_cap * 2 : 128;
    int *t = gs_alloc(rs->ctx, (size_t)cap * sizeof *t);
    if (!t)
        return false;
    gs_dealloc(rs->ctx, rs->name_rule);
    rs->name_rule = t;
    rs->name_cap = cap;
    names_relink(rs);
    return true;
}

const gs_rule *gs_ruleset_find(const gs_ruleset *rs, const char *name)
{
    if (!rs->name_cap)
        return NULL;
    int k = rs->name_rule[name_slot(rs, name)];
    return k >= 0 ? rs->rules[k] : NULL;
}

const char *gs_ruleset_nearest(const gs_ruleset *rs, const char *name)
{
    nearest n = { name, NULL, 99 };
    for (int i = 0; i < rs->n; i++)
        consider(&n, rs->rules[i]->name);
    size_t len = strlen(name);
    return n.best && n.dist <= (len <= 3 ? 1 : len <= 6 ? 2 : 3) ? n.best : NULL;
}

static gs_status add_rule(gs_ruleset *rs, gs_rule *r, const source *src, int index)
{
    const gs_rule *same = gs_ruleset_find(rs, r->name);
    if (same) {
        char msg[600];
        snprintf(msg, sizeof msg, "duplicate rule name '%s' (also in %s)", r->name, same->file);
        return rule_err(rs, src, index, r->name, "name", msg);
    }
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
    if (!root_reserve(rs) || !names_reserve(rs))
        return gs_nomem(rs->ctx);
    rs->rules[rs->n] = r;
    rs->name_rule[name_slot(rs, r->name)] = rs->n;
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

/* The second of two keys named key in the object at p, or NULL. */
static const char *jdup_key(const char *p, const char *e, const char *key)
{
    if (!p)
        return NULL;
    const char *first = jfield(p, e, key, true);
    if (!first)
        return NULL;
    const char *after = jstring_end(first, e);
    after = jws(jskip(jws(after, e) + 1, e), e);   /* past its value */
    if (after >= e || *after != ',')
        return NULL;
    /* the rest of the object, read as an object of its own */
    for (const char *q = jws(after + 1, e); q < e && *q == '"';) {
        const char *k = q;
        q = jstring_end(q, e);
        if ((size_t)(q - k - 2) == strlen(key) && !memcmp(k + 1, key, (size_t)(q - k - 2)))
            return k;
        q = jws(jskip(jws(q, e) + 1, e), e);
        if (q >= e || *q != ',')
            return NULL;
        q = jws(q + 1, e);
    }
    return NULL;
}

/* A duplicate key: in a rule (named with its position) or elsewhere. */
static gs_status duplicate_key(gs_ruleset *rs, const char *json, size_t len, const char *name, const cJSON *rules,
                               const char *key)
{
    const char *e = json + len, *list = jfield(json, e, "rules", false);
    int i = 0;
    for (const cJSON *o = cJSON_IsArray(rules) ? rules->child : NULL; o; o = o->next, i++) {
        const char *at = jdup_key(jelem(list, e, i), e, key);
        if (at) {
            int col, line = line_of(json, at, &col);
            const char *rn = str_field(o, "name");
            return gs_err(rs->ctx, GS_ERR_RULE, "%s:%d:%d: rule %d '%s': duplicate key '%s'", name, line, col, i + 1,
                          rn ? rn : "?", key);
        }
    }
    return gs_err(rs->ctx, GS_ERR_RULE, "%s: duplicate key '%s'", name, key);
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
    char buf[160];
    static const char *const top_fields[] = { "rules", "doc" };
    const char *bad;
    if (has_duplicate_keys(root, &dupkey))
        st = duplicate_key(rs, json, len, name, rules, dupkey);
    else if (!cJSON_IsArray(rules))
        st = gs_err(rs->ctx, GS_ERR_RULE, "%s: expected an object with a \"rules\" list", name);
    else if ((bad = unknown_key(root, top_fields, 2, buf, sizeof buf))) {
        const char *at = jfield(json, json + len, bad, true);
        int col, line = line_of(json, at ? at : json, &col);
        st = gs_err(rs->ctx, GS_ERR_RULE, "%s:%d:%d: %s (a rule file holds \"rules\" and \"doc\")", name, line,
                    col, buf);
    }
    int first = rs->n, i = 0;
    const cJSON *o;
    const cJSON *list = st == GS_OK ? rules : NULL;
    source src = { name, json, len };
    cJSON_ArrayForEach(o, list) {
        gs_rule *r = NULL;
        if ((st = compile_rule(rs, &src, o, i, &r)) != GS_OK || (st = add_rule(rs, r, &src, i)) != GS_OK)
            break;
        i++;
    }
    if (st != GS_OK && rs->n > first) {   /* the whole file is refused */
        rs->n = first;
        root_relink(rs);
        names_relink(rs);
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
    gs_dealloc(rs->ctx, rs->name_rule);
    gs_dealloc(rs->ctx, rs);
}

int gs_ruleset_count(const gs_ruleset *rs) { return rs->n; }
const gs_rule *gs_ruleset_get(const gs_ruleset *rs, int i) { return i >= 0 && i < rs->n ? rs->rules[i] : NULL; }
const char *gs_rule_name(const gs_rule *r) { return r->name; }
const char *gs_rule_file(const gs_rule *r) { return r->file; }
const char *gs_rule_doc(const gs_rule *r) { return r->doc; }
uint32_t gs_rule_flags(const gs_rule *r) { return r->flags; }
const char *gs_rule_ops(const gs_rule *r) { return r->ops; }
