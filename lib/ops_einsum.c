/*
 * ops_einsum.c - Einsum for one or two operands. An ellipsis is first
 * spelled out as letters the equation does not use (right-aligned, as
 * numpy broadcasts), so the rest sees letters only.
 *
 * The equation is parsed into its terms; the kernel then visits every
 * assignment of the index letters and accumulates the product of the
 * operands' elements into the output. That is slow for large contractions
 * but exact, and exporters emit Einsum only for small ones; a model whose
 * Einsum has three operands gets an error naming the node.
 */
#include "gs_ops.h"

#include <ctype.h>
#include <string.h>

#define MAX_STEPS ((int64_t)1 << 32)   /* index assignments one call may visit */


/* Letters of term [p, end) (spaces skipped), or -1 when it has a character
 * other than a letter or one ellipsis. */
static int term_letters(const char *p, const char *end, bool *ell)
{
    int n = 0;
    *ell = false;
    for (; p < end; p++) {
        if (*p == ' ')
            continue;
        if (*p == '.' && end - p >= 3 && p[1] == '.' && p[2] == '.' && !*ell)
            *ell = true, p += 2;
        else if (isalpha((unsigned char)*p))
            n++;
        else
            return -1;
    }
    return n;
}

/* Equation eq for operands of ranks[0..nin) with each ellipsis spelled out
 * as letters eq does not use, and the implicit output made explicit, into
 * out (cap bytes); bcast[c] is set for those letters. False when eq does not
 * fit the ranks. */
static bool einsum_expand(const char *eq, const int *ranks, int nin, char *out, size_t cap, bool *bcast)
{
    bool used[256] = { false };
    for (const char *p = eq; *p; p++)
        used[(unsigned char)*p] = true;
    const char *starts[4], *ends[4];
    int nt = 0;
    const char *arrow = strstr(eq, "->"), *lhs_end = arrow ? arrow : eq + strlen(eq);
    for (const char *p = eq; nt < 4;) {
        const char *c = memchr(p, ',', (size_t)(lhs_end - p));
        starts[nt] = p, ends[nt++] = c ? c : lhs_end;
        if (!c)
            break;
        p = c + 1;
    }
    if (nt != nin || nt > 3)
        return false;
    int ell[3], maxe = 0;
    for (int t = 0; t < nt; t++) {
        bool e;
        int n = term_letters(starts[t], ends[t], &e);
        if (n < 0 || n > ranks[t] || (!e && n != ranks[t]))
            return false;
        ell[t] = ranks[t] - n;
        maxe = ell[t] > maxe ? ell[t] : maxe;
    }
    char fresh[GS_MAX_RANK];
    int nf = 0;
    for (int c = 'A'; c <= 'z' && nf < maxe; c++)
        if (isalpha(c) && !used[c])
            fresh[nf++] = (char)c, bcast[c] = true;
    if (nf < maxe)
        return false;
    size_t o = 0;
    int once[256] = { 0 };
#define PUT(ch) do { if (o + 1 >= cap) return false; out[o++] = (ch); } while (0)
    for (int t = 0; t < nt; t++) {
        if (t)
            PUT(',');
        for (const char *p = starts[t]; p < ends[t]; p++) {
            if (*p == '.') {
                for (int i = maxe - ell[t]; i < maxe; i++)
                    PUT(fresh[i]);
                p += 2;
            } else if (*p != ' ') {
                once[(unsigned char)*p]++;
                PUT(*p);
            }
        }
    }
    PUT('-');
    PUT('>');
    if (arrow) {
        bool e;
        if (term_letters(arrow + 2, arrow + strlen(arrow), &e) < 0)
            return false;
        for (const char *p = arrow + 2; *p; p++) {
            if (*p == '.') {
                for (int i = 0; i < maxe; i++)
                    PUT(fresh[i]);
                p += 2;
            } else if (*p != ' ') {
                PUT(*p);
            }
        }
    } else {   /* implicit: the ellipsis dims, then the letters seen once in order */
        for (int i = 0; i < maxe; i++)
            PUT(fresh[i]);
        for (int c = 'A'; c <= 'z'; c++)
            if (once[c] == 1 && isalpha(c))
                PUT((char)c);
    }
#undef PUT
    out[o] = 0;
    return true;
}

static gs_status k_einsum(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    char expanded[256];
    bool bcast[256] = { false };
    int ranks[3] = { 0, 0, 0 };
    for (int t = 0; t < nin && t < 3; t++)
        ranks[t] = in[t]->rank;
    const char *eq = gs_attr_str(k->node, "equation", "");
    if (strchr(eq, '.') && !einsum_expand(eq, ranks, nin, expanded, sizeof expanded, bcast))
        return gs_kfail(k, "equation does not match the operands");
    if (strchr(eq, '.'))
        eq = expanded;
    char terms[3][GS_MAX_RANK + 1] = { "", "", "" }, outs[GS_MAX_RANK + 1] = "";
    int nt = 0, len = 0;
    bool arrow = false;
    for (const char *p = eq; *p; p++) {
        if (*p == ' ')
            continue;
        if (*p == ',' || (*p == '-' && p[1] == '>')) {
            if (nt >= 2)
                return gs_err(k->ctx, GS_ERR_UNSUPPORTED, "node '%s' (Einsum): more than two operands "
                              "is not supported", k->node->name);
            terms[nt++][len] = 0, len = 0;
            if (*p == '-')
                arrow = true, p++;
            continue;
        }
        if (len >= GS_MAX_RANK)
            return gs_kfail(k, "equation too long");
        if (!isalpha((unsigned char)*p))
            return gs_kfail(k, "equation indices must be letters");
        if (arrow)
            outs[len++] = *p, outs[len] = 0;
        else
            terms[nt][len++] = *p, terms[nt][len] = 0;
    }
    if (!arrow)
        terms[nt++][len] = 0;
    if (nt != nin)
        return gs_kfail(k, "equation does not match the operands");
    int64_t size[256] = { 0 };
    int count[256] = { 0 };
    char letters[64];
    int nl = 0;
    for (int t = 0; t < nt; t++) {
        if ((int)strlen(terms[t]) != in[t]->rank)
            return gs_kfail(k, "term rank does not match its operand");
        for (int i = 0; terms[t][i]; i++) {
            unsigned char c = (unsigned char)terms[t][i];
            if (!count[c] && nl < 64)
                letters[nl++] = (char)c;
            int64_t d = in[t]->dims[i];
            if (count[c] && size[c] != d && !(bcast[c] && (d == 1 || size[c] == 1)))
                return gs_kfail(k, "index sizes disagree");
            size[c] = count[c] && d == 1 ? size[c] : d, count[c]++;   /* ellipsis dims broadcast */
        }
    }
    if (!arrow) {   /* implicit output: letters seen once, in order */
        int o = 0;
        for (int c = 'A'; c <= 'z' && o < GS_MAX_RANK; c++)
            if (count[c] == 1)
                outs[o++] = (char)c;
        outs[o] = 0;
    }
    int64_t dims[GS_MAX_RANK];
    int orank = (int)strlen(outs);
    for (int i = 0; i < orank; i++) {
        unsigned char c = (unsigned char)outs[i];
        if (!count[c] || strchr(outs + i + 1, c))
            return gs_kfail(k, "an output index must appear once, and in an operand");
        dims[i] = size[c];
    }
    gs_tensor f = { 0 };
    gs_status st = gs_kmake(k, &f, GS_FLOAT, dims, orank);
    int64_t total = 1, idx[64] = { 0 };
    for (int i = 0; i < nl; i++) {
        int64_t s = size[(unsigned char)letters[i]];
        if (s == 0)
            total = 0;
        else if (total > MAX_STEPS / s)
            st = gs_err(k->ctx, GS_ERR_UNSUPPORTED, "node '%s' (Einsum): more than %lld index "
                        "assignments is not supported", k->node->name, (long long)MAX_STEPS);
        else
            total *= s;
    }
    for (int64_t it = 0; st == GS_OK && it < total; it++) {
        int64_t r = it;
        for (int i = nl - 1; i >= 0; i--) {
            int64_t s = size[(unsigned char)letters[i]];
            idx[i] = r % s;
            r /= s;
        }
        double v = 1;
        int64_t pos[256];
        for (int i = 0; i < nl; i++)
            pos[(unsigned char)letters[i]] = idx[i];
        for (int t = 0; t < nt; t++) {
            int64_t off = 0;
            for (int i = 0; terms[t][i]; i++)
                off = off * in[t]->dims[i] + (in[t]->dims[i] == 1 ? 0 : pos[(unsigned char)terms[t][i]]);
            v *= gs_tensor_get_f(in[t], off);
        }
        int64_t o = 0;
        for (int i = 0; i < orank; i++)
            o = o * dims[i] + pos[(unsigned char)outs[i]];
        ((float *)f.data)[o] += (float)v;
    }
    if (st != GS_OK) {
        gs_tensor_clear(k->ctx, &f);
        return st;
    }
    return gs_op_from_float(k, &f, out, in[0]->dtype);
}

/* ---- shape inference ---------------------------------------------------- */

static const gs_value *operand(const gs_graph *g, const gs_node *n, int k)
{
    return k < n->nin && n->in[k] != GS_NONE ? &g->values[n->in[k]] : NULL;
}

/* Einsum: the output's letters take their dims from the operands (explicit
 * "->" or implicit form; an ellipsis stands for broadcast dims); an equation
 * that does not fit the operands leaves the shape unknown. */
static gs_status infer_einsum(gs_graph *g, gs_node *n)
{
    const char *eq = gs_attr_str(n, "equation", "");
    const gs_value *x = operand(g, n, 0);
    int32_t dtype = x ? x->dtype : 0;
    char expanded[256];
    bool bc[256] = { false };
    if (strchr(eq, '.')) {   /* the ellipsis spelled out: needs every operand's rank */
        int ranks[3];
        for (int k = 0; k < n->nin; k++)
            if (n->nin > 3 || !operand(g, n, k) || (ranks[k] = operand(g, n, k)->rank) < 0)
                return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        if (!einsum_expand(eq, ranks, n->nin, expanded, sizeof expanded, bc))
            return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        eq = expanded;
    }
    gs_dim size[128];
    int count[128] = { 0 }, t = 0, pos = 0, orank = 0;
    char outs[GS_MAX_RANK];
    bool arrow = false;
    for (const char *p = eq; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ')
            continue;
        if (c == ',' || (c == '-' && p[1] == '>')) {
            const gs_value *v = operand(g, n, t);
            if (arrow || !v || v->rank != pos)
                return gs_infer_set(g, n->out[0], dtype, -1, NULL);
            t++, pos = 0, arrow = c == '-', p += c == '-';
            continue;
        }
        const gs_value *v = arrow ? NULL : operand(g, n, t);
        if (c >= 128 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) || (arrow && orank >= GS_MAX_RANK) ||
            (!arrow && (!v || pos >= v->rank)))
            return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        if (arrow) {
            outs[orank++] = (char)c;
        } else {
            if (count[c] && bc[c] && !gs_infer_bdim(g, size[c], v->dims[pos], &size[c]))
                return gs_infer_set(g, n->out[0], dtype, -1, NULL);   /* ellipsis dims broadcast */
            if (!count[c] || (!bc[c] && size[c].v < 0))
                size[c] = v->dims[pos];
            count[c]++, pos++;
        }
    }
    if (!arrow) {   /* implicit: letters seen once, in alphabetical order */
        const gs_value *v = operand(g, n, t);
        if (!v || v->rank != pos || t + 1 != n->nin)
            return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        for (int c = 'A'; c <= 'z' && orank < GS_MAX_RANK; c++)
            if (count[c] == 1)
                outs[orank++] = (char)c;
    } else if (t != n->nin) {
        return gs_infer_set(g, n->out[0], dtype, -1, NULL);
    }
    gs_dim dims[GS_MAX_RANK];
    for (int i = 0; i < orank; i++) {
        if (!count[(unsigned char)outs[i]])
            return gs_infer_set(g, n->out[0], dtype, -1, NULL);
        dims[i] = size[(unsigned char)outs[i]];
    }
    return gs_infer_set(g, n->out[0], dtype, orank, dims);
}

const gs_opdef gs_ops_einsum[] = {
    { "Einsum", 12, 0, 1, 2, 1, 1, 0, "equation:s (one or two operands)", infer_einsum, NULL, k_einsum,
      GS_RAISE_KEEP },
    { .name = NULL },
};
