/*
 * cu_alloc.h - a counting allocator for the CUnit suites' fault injection:
 * it counts the blocks not yet freed and the allocations made, and fails
 * the one numbered fail_at (1-based; 0 fails none).
 */
#ifndef CU_ALLOC_H
#define CU_ALLOC_H

#include "graphsub.h"

typedef struct counting {
    long live;      /* blocks not yet freed */
    long calls;     /* allocations made (realloc of a block counts too) */
    long fail_at;   /* fail this allocation (1-based), 0 = never */
} counting;

/* An allocator over malloc that counts into c. */
gs_allocator counting_allocator(counting *c);

#endif
