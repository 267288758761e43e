/*
 * broadcast.c - numpy-style multidirectional broadcasting, done once here
 * for every kernel: the output shape of two shapes, and for an output index
 * the index into an input broadcast to it.
 */
#include "gs_ops.h"

bool gs_broadcast_shape(const int64_t *a, int ra, const int64_t *b, int rb,
                        int64_t *out, int *rout)
{
    int r = ra > rb ? ra : rb;
    if (r > GS_MAX_RANK)
        return false;
    for (int i = 0; i < r; i++) {
        int64_t x = i < r - ra ? 1 : a[i - (r - ra)];
        int64_t y = i < r - rb ? 1 : b[i - (r - rb)];
        if (x != y && x != 1 && y != 1)
            return false;
        out[i] = x == 1 ? y : x;
    }
    *rout = r;
    return true;
}

void gs_bcast_init(gs_bcast *b, const int64_t *out, int rout, const int64_t *in, int rin)
{
    b->rank = rout;
    int64_t stride = 1;
    for (int i = rout - 1; i >= 0; i--) {
        b->out_dims[i] = out[i];
        int k = i - (rout - rin);
        int64_t d = k >= 0 ? in[k] : 1;
        b->in_strides[i] = d == 1 ? 0 : stride;
        stride *= d;
    }
}

int64_t gs_bcast_index(const gs_bcast *b, int64_t i)
{
    int64_t idx = 0;
    for (int d = b->rank - 1; d >= 0 && i > 0; d--) {
        int64_t n = b->out_dims[d];
        idx += (i % n) * b->in_strides[d];
        i /= n;
    }
    return idx;
}
