/*
 * ops_elementwise.c - registry rows for the elementwise ops (see gs_ops.h).
 */
#include "gs_ops.h"

const gs_opdef gs_ops_elementwise[] = {
    { .name = NULL },
};
