/*
 * ops_sample.c - GridSample: the input read at the points a grid gives, as
 * spatial transformers, optical-flow warps and deformable attention use it
 * (PyTorch's grid_sample exports as it).
 *
 * X is [N, C, D1..Dr], the grid [N, O1..Or, r] with coordinates in [-1, 1]
 * (its last dim lists them innermost spatial dim first: x, then y, then z);
 * the output is [N, C, O1..Or]. A coordinate is unnormalized to the input's
 * pixels (align_corners: -1 and 1 are the first and last pixels' centres,
 * else their outer edges), then read by linear interpolation over the 2^r
 * neighbours, by the nearest pixel (ties to even), or (r = 2) by cubic
 * convolution (A = -0.75) over 4 x 4 neighbours. Padding: zeros reads 0
 * outside the input; border clips the coordinate into it; reflection
 * reflects it at the borders (the pixels' centres with align_corners, else
 * their edges) and then clips. Linear and nearest pad the coordinate, cubic
 * each neighbour's. Opsets 16-19: 4-D, modes bilinear, nearest, bicubic;
 * from 20: any rank, modes linear, nearest, cubic.
 */
#include "gs_ops.h"

#include <math.h>
#include <string.h>

enum { MODE_LINEAR, MODE_NEAREST, MODE_CUBIC };
enum { PAD_ZEROS, PAD_BORDER, PAD_REFLECTION };
enum { MAX_SPATIAL = 3 };

typedef struct sampler {
    const gs_tensor *x;
    int r;                        /* spatial dims */
    int64_t size[MAX_SPATIAL];    /* the input's spatial dims */
    int mode, pad;
    bool align;
} sampler;

/* Grid coordinate g along spatial dim d in the input's pixels. */
static double unnormalize(const sampler *s, int d, double g)
{
    double n = (double)s->size[d];
    return s->align ? (g + 1) / 2 * (n - 1) : ((g + 1) * n - 1) / 2;
}

/* v reflected into [lo2 / 2, hi2 / 2] (NaN when it is not finite). */
static double reflect(double v, double lo2, double hi2)
{
    if (lo2 == hi2)
        return 0;
    if (!isfinite(v))
        return NAN;
    double min = lo2 / 2, span = (hi2 - lo2) / 2;
    v = fabs(v - min);
    double extra = fmod(v, span), flips = floor(v / span);
    return fmod(flips, 2) == 0 ? extra + min : span - extra + min;
}

/* Coordinate v along d after the padding mode (zeros leaves it). */
static double padded(const sampler *s, int d, double v)
{
    double n = (double)s->size[d];
    if (s->pad == PAD_REFLECTION)
        v = s->align ? reflect(v, 0, 2 * (n - 1)) : reflect(v, -1, 2 * n - 1);
    if (s->pad != PAD_ZEROS)
        v = fmin(fmax(v, 0), n - 1);   /* (fmax drops a NaN) */
    return v;
}

/* Plane base's element at pixel idx, 0 outside the input. */
static double pixel(const sampler *s, int64_t base, const double *idx)
{
    int64_t off = 0;
    for (int d = 0; d < s->r; d++) {
        if (!(idx[d] >= 0 && idx[d] <= (double)(s->size[d] - 1)))
            return 0;
        off = off * s->size[d] + (int64_t)idx[d];
    }
    return gs_tensor_get_f(s->x, base + off);
}

static double sample_nearest(const sampler *s, int64_t base, const double *c)
{
    double idx[MAX_SPATIAL];
    for (int d = 0; d < s->r; d++)
        idx[d] = nearbyint(padded(s, d, c[d]));
    return pixel(s, base, idx);
}

static double sample_linear(const sampler *s, int64_t base, const double *c)
{
    double lo[MAX_SPATIAL], t[MAX_SPATIAL], idx[MAX_SPATIAL], sum = 0;
    for (int d = 0; d < s->r; d++) {
        double v = padded(s, d, c[d]);
        lo[d] = floor(v), t[d] = v - lo[d];
    }
    for (int corner = 0; corner < 1 << s->r; corner++) {
        double w = 1;
        for (int d = 0; d < s->r; d++) {
            bool hi = corner >> d & 1;
            idx[d] = lo[d] + hi;
            w *= hi ? t[d] : 1 - t[d];
        }
        if (w != 0)
            sum += w * pixel(s, base, idx);
    }
    return sum;
}

void gs_cubic_weights(double t, double A, double *w)
{
    double x0 = t + 1, x1 = t, x2 = 1 - t, x3 = 2 - t;
    w[0] = ((A * x0 - 5 * A) * x0 + 8 * A) * x0 - 4 * A;
    w[1] = ((A + 2) * x1 - (A + 3)) * x1 * x1 + 1;
    w[2] = ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1;
    w[3] = ((A * x3 - 5 * A) * x3 + 8 * A) * x3 - 4 * A;
}

static double sample_cubic(const sampler *s, int64_t base, const double *c)
{
    double wy[4], wx[4], ly = floor(c[0]), lx = floor(c[1]), sum = 0;
    gs_cubic_weights(c[0] - ly, -0.75, wy);
    gs_cubic_weights(c[1] - lx, -0.75, wx);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double idx[2] = { padded(s, 0, ly - 1 + i), padded(s, 1, lx - 1 + j) };
            sum += wy[i] * wx[j] * pixel(s, base, idx);
        }
    return sum;
}

/* The mode, padding and alignment attributes; UNSUPPORTED or MODEL when
 * they are not ones of the node's opset. */
static gs_status modes(gs_kcall *k, sampler *s)
{
    bool old = k->opset < 20;
    const char *m = gs_attr_str(k->node, "mode", old ? "bilinear" : "linear");
    const char *p = gs_attr_str(k->node, "padding_mode", "zeros");
    if (!strcmp(m, old ? "bilinear" : "linear"))
        s->mode = MODE_LINEAR;
    else if (!strcmp(m, "nearest"))
        s->mode = MODE_NEAREST;
    else if (!strcmp(m, old ? "bicubic" : "cubic"))
        s->mode = MODE_CUBIC;
    else
        return gs_kfail(k, "mode is not one of the op's");
    if (!strcmp(p, "zeros") || !strcmp(p, "border") || !strcmp(p, "reflection"))
        s->pad = !strcmp(p, "zeros") ? PAD_ZEROS : !strcmp(p, "border") ? PAD_BORDER : PAD_REFLECTION;
    else
        return gs_kfail(k, "padding_mode is not zeros, border or reflection");
    s->align = gs_attr_int(k->node, "align_corners", 0) != 0;
    if (s->mode == MODE_CUBIC && s->r != 2)
        return gs_kunsupported(k, "cubic sampling of other than 2 spatial dims");
    return GS_OK;
}

/* Output dims [N, C, O1..Or] after checking X and the grid against each other. */
static gs_status shapes(gs_kcall *k, const gs_tensor *x, const gs_tensor *grid, sampler *s, int64_t *od)
{
    s->x = x;
    s->r = x->rank - 2;
    if (x->rank < 3 || x->rank > 2 + MAX_SPATIAL || (k->opset < 20 && x->rank != 4))
        return gs_kfail(k, "X must be [N, C, D1..Dr] (4-D before opset 20, r at most 3 here)");
    if (grid->rank != x->rank || grid->dims[0] != x->dims[0] || grid->dims[grid->rank - 1] != s->r)
        return gs_kfail(k, "the grid must be [N, O1..Or, r] for X of r spatial dims");
    if (!gs_op_floatlike(x->dtype) || !gs_op_floatlike(grid->dtype))
        return gs_kfail(k, "X and the grid must be of a floating type");
    od[0] = x->dims[0], od[1] = x->dims[1];
    for (int d = 0; d < s->r; d++)
        s->size[d] = x->dims[2 + d], od[2 + d] = grid->dims[1 + d];
    return GS_OK;
}

static gs_status k_gridsample(gs_kcall *k, const gs_tensor *const *in, int nin, gs_tensor *out, int nout)
{
    (void)nin, (void)nout;
    const gs_tensor *x = in[0], *grid = in[1];
    sampler s = { 0 };
    int64_t od[2 + MAX_SPATIAL];
    gs_status st = shapes(k, x, grid, &s, od);
    if (st == GS_OK)
        st = modes(k, &s);
    if (st == GS_OK)
        st = gs_kmake_raw(k, out, x->dtype, od, x->rank);
    if (st != GS_OK || !gs_tensor_numel(out))
        return st;   /* no looping over the N of an empty output */
    int64_t N = od[0], C = od[1], points = gs_numel(od + 2, s.r), plane = gs_numel(s.size, s.r);
    double (*sample)(const sampler *, int64_t, const double *) =
        s.mode == MODE_LINEAR ? sample_linear : s.mode == MODE_NEAREST ? sample_nearest : sample_cubic;
    for (int64_t b = 0; b < N; b++)
        for (int64_t p = 0; p < points; p++) {
            double c[MAX_SPATIAL];   /* in X's order: the grid lists the innermost dim first */
            for (int d = 0; d < s.r; d++)
                c[d] = unnormalize(&s, d, gs_tensor_get_f(grid, (b * points + p) * s.r + (s.r - 1 - d)));
            for (int64_t ch = 0; ch < C; ch++)
                gs_tensor_set_f(out, (b * C + ch) * points + p, sample(&s, (b * C + ch) * plane, c));
        }
    return GS_OK;
}

/* [N, C] of X, then the grid's [O1..Or]; X's type. */
static gs_status infer_gridsample(gs_graph *g, gs_node *n)
{
    const gs_value *x = &g->values[n->in[0]], *grid = &g->values[n->in[1]];
    if (x->rank < 3 || grid->rank != x->rank || x->rank > GS_MAX_RANK)
        return GS_OK;
    gs_dim dims[GS_MAX_RANK];
    dims[0] = x->dims[0], dims[1] = x->dims[1];
    for (int d = 2; d < x->rank; d++)
        dims[d] = grid->dims[d - 1];
    return gs_infer_set(g, n->out[0], x->dtype, x->rank, dims);
}

/* A handful of operations per output element and tap. */
static void cost_gridsample(const gs_graph *g, const gs_node *n, gs_cost *c)
{
    gs_cost_default(g, n, c);
    c->flops *= 16;
}

const gs_opdef gs_ops_sample[] = {
    /* opset 20 renamed the modes (bilinear -> linear, bicubic -> cubic): not raised past it */
    { "GridSample", 16, 19, 2, 2, 1, 1, 0, "align_corners:i=0 mode:s=bilinear padding_mode:s=zeros",
      infer_gridsample, cost_gridsample, k_gridsample, GS_RAISE_NO },
    { "GridSample", 20, 0, 2, 2, 1, 1, 0, "align_corners:i=0 mode:s=linear padding_mode:s=zeros",
      infer_gridsample, cost_gridsample, k_gridsample, GS_RAISE_KEEP },
    { NULL, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0 },
};
