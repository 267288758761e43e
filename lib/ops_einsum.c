/*
 * ops_einsum.c - Einsum for one or two operands without an ellipsis.
 *
 * The equation is parsed into its terms; the kernel then visits every
 * assignment of the index letters and accumulates the product of the
 * operands' elements into the output. That is slow for large contractions
 * but exact, and exporters emit Einsum only for small ones; a model whose
 * Einsum has an ellipsis or three operands gets an error naming the node.
 */
#include "gs_ops.h"

#include <ctype.h>
#include <string.h>

#define MAX_STEPS ((int64_t)1 << 32)   /* index assignments one call may visit */

static gs_status k_einsum(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nout;
    const char *eq = gs_attr_str(k->node, "equation", "");
    char terms[3][GS_MAX_RANK + 1] = { "", "", "" }, outs[GS_MAX_RANK + 1] = "";
    int nt = 0, len = 0;
    bool arrow = false;
    for (const char *p = eq; *p; p++) {
        if (*p == ' ')
            continue;
        if (*p == '.')
            return gs_err(k->ctx, GS_ERR_UNSUPPORTED, "node '%s' (Einsum): equation '%s' with an ellipsis "
                          "is not supported", k->node->name, eq);
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
            if (count[c] && size[c] != in[t]->dims[i])
                return gs_kfail(k, "index sizes disagree");
            size[c] = in[t]->dims[i], count[c]++;
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
                off = off * in[t]->dims[i] + pos[(unsigned char)terms[t][i]];
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

const gs_opdef gs_ops_einsum[] = {
    { "Einsum", 12, 0, 1, 2, 1, 1, 0, "equation:s (one or two operands, no ellipsis)", gs_infer_einsum, NULL, k_einsum },
    { .name = NULL },
};
