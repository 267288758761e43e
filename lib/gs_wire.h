/*
 * gs_wire.h - onnx_wire.c: a skeleton of a mapped model without its large
 * raw_data payloads, so unpacking does not copy the weights.
 */
#ifndef GS_WIRE_H
#define GS_WIRE_H

#include "gs_int.h"

typedef struct gs_wire_cut {
    int tensor;             /* index in graph.initializer */
    const void *data;       /* the payload in the mapped file */
    size_t len;
} gs_wire_cut;

typedef struct gs_wire_skel {
    uint8_t *buf;           /* the skeleton message (ctx heap) */
    size_t size;
    gs_wire_cut *cuts;      /* ctx heap */
    int ncuts;
} gs_wire_skel;

/* Build the skeleton of ModelProto bytes, cutting raw_data payloads of
 * graph initializers of at least threshold bytes. False (nothing to free)
 * when there is nothing to cut, memory is short, or the bytes are unusual:
 * the caller then unpacks the original bytes. */
bool gs_wire_skeleton(gs_ctx *ctx, const void *buf, size_t size, size_t threshold,
                      gs_wire_skel *out);
void gs_wire_skel_free(gs_ctx *ctx, gs_wire_skel *s);

/* Check the wire form of a model before protobuf-c unpacks it: messages nest
 * no deeper than limit levels along the schema's recursive fields (graph,
 * node, attribute, type...), so the recursive unpack cannot run out of
 * stack; and names (of nodes, values, ops, attributes, initializers) hold
 * no NUL byte, which would silently cut them. GS_ERR_LIMIT or GS_ERR_PARSE
 * naming path otherwise. */
gs_status gs_wire_check(gs_ctx *ctx, const void *buf, size_t size, int limit, const char *path);

#endif
