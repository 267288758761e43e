/*
 * ops.c - the op registry: one lookup over the per-family tables. A node of
 * an op without a row (or of a custom domain) is opaque to graphsub.
 *
 * The matcher asks for a node's row at nearly every step of the search, so
 * lookups go through an index of every row sorted by name (built once,
 * under pthread_once) and a hash table from a name to its first row in the
 * index: one string hash and one comparison, not a scan of the tables or a
 * binary search's eight comparisons.
 */
#include "gs_ops.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const gs_opdef *const tables[] = {
    gs_ops_elementwise, gs_ops_tensor, gs_ops_reduce, gs_ops_nn,
    gs_ops_conv,        gs_ops_norm,   gs_ops_einsum, gs_ops_control, gs_ops_index,
    gs_ops_attention,   gs_ops_sequence, gs_ops_rnn,   gs_ops_quant,  gs_ops_detect, gs_ops_sample,
};
enum { NTABLES = sizeof tables / sizeof tables[0] };

static bool default_domain(const char *domain)
{
    return !domain || !*domain || !strcmp(domain, "ai.onnx");
}

enum { MAX_ROWS = 1024, NSLOTS = 4 * MAX_ROWS };

typedef struct row {
    const gs_opdef *d;
    int order;              /* position in the tables: rows of one name keep it */
} row;

static row index_rows[MAX_ROWS];
static int index_n;
static int16_t name_slots[NSLOTS];   /* 1 + the first index row of a name; 0 empty */
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static int row_cmp(const void *a, const void *b)
{
    const row *x = a, *y = b;
    int c = strcmp(x->d->name, y->d->name);
    return c ? c : x->order - y->order;
}

static void index_build(void)
{
    for (int t = 0; t < NTABLES; t++)
        for (const gs_opdef *d = tables[t]; d->name && index_n < MAX_ROWS; d++, index_n++)
            index_rows[index_n] = (row){ d, index_n };
    qsort(index_rows, (size_t)index_n, sizeof index_rows[0], row_cmp);
    for (int i = 0; i < index_n; i++) {
        if (i > 0 && !strcmp(index_rows[i - 1].d->name, index_rows[i].d->name))
            continue;
        uint32_t h = gs_hash_str(index_rows[i].d->name);
        while (name_slots[h % NSLOTS])
            h++;
        name_slots[h % NSLOTS] = (int16_t)(i + 1);
    }
}

/* The first index row named op, or index_n. */
static int first_row(const char *op)
{
    for (uint32_t h = gs_hash_str(op); name_slots[h % NSLOTS]; h++) {
        int i = name_slots[h % NSLOTS] - 1;
        if (!strcmp(index_rows[i].d->name, op))
            return i;
    }
    return index_n;
}

const gs_opdef *gs_op_find(const char *op, const char *domain, int64_t opset)
{
    if (!op || !default_domain(domain))
        return NULL;
    pthread_once(&index_once, index_build);
    for (int i = first_row(op); i < index_n && !strcmp(index_rows[i].d->name, op); i++) {
        const gs_opdef *d = index_rows[i].d;
        if (opset >= d->since && (d->until == 0 || opset <= d->until))
            return d;
    }
    return NULL;
}

bool gs_op_attr_default(const gs_opdef *d, const char *name, gs_attr_default *out)
{
    size_t len = strlen(name);
    for (const char *p = d->attrs; p && *p;) {
        size_t tok = strcspn(p, " ");
        const char *colon = memchr(p, ':', tok), *eq = memchr(p, '=', tok);
        if (colon && eq && (size_t)(colon - p) == len && !memcmp(p, name, len)) {
            const char *v = eq + 1;
            size_t vlen = tok - (size_t)(v - p);
            out->kind = colon[1] == 's' ? 's' : !strncmp(colon + 1, "ints", 4) ? 'l' : colon[1];
            out->str = v;
            out->slen = vlen;
            out->num = out->kind == 's' ? 0 : strtod(v, NULL);
            return out->kind == 'i' || out->kind == 'f' || out->kind == 's' || out->kind == 'l';
        }
        p += tok;
        p += strspn(p, " ");
    }
    return false;
}

void gs_op_each(void (*fn)(const gs_opdef *d, void *ud), void *ud)
{
    for (int t = 0; t < NTABLES; t++)
        for (const gs_opdef *d = tables[t]; d->name; d++)
            fn(d, ud);
}

bool gs_op_fits(const gs_opdef *d, const gs_node *n)
{
    if (n->nin < d->min_in || (d->max_in >= 0 && n->nin > d->max_in) || n->nout < d->min_out ||
        (d->max_out >= 0 && n->nout > d->max_out))
        return false;
    for (int k = 0; k < (d->max_in < 0 ? n->nin : d->min_in); k++)   /* variadic: every one */
        if (n->in[k] == GS_NONE && (k == 0 || !(d->flags & GS_OP_GAPS)))
            return false;
    return true;
}
