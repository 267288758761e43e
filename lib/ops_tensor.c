/*
 * ops_tensor.c - registry rows for the tensor ops (see gs_ops.h).
 */
#include "gs_ops.h"

const gs_opdef gs_ops_tensor[] = {
    { .name = NULL },
};
