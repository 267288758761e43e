/*
 * ops_nn.c - registry rows for the nn ops (see gs_ops.h).
 */
#include "gs_ops.h"

const gs_opdef gs_ops_nn[] = {
    { .name = NULL },
};
