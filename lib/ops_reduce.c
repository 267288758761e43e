/*
 * ops_reduce.c - registry rows for the reduce ops (see gs_ops.h).
 */
#include "gs_ops.h"

const gs_opdef gs_ops_reduce[] = {
    { .name = NULL },
};
