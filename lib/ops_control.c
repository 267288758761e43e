/*
 * ops_control.c - registry rows for the control ops (see gs_ops.h).
 */
#include "gs_ops.h"

const gs_opdef gs_ops_control[] = {
    { .name = NULL },
};
