/*
 * gs_onnx.h - the protobuf-c side of import and export, seen only by the
 * code that sees protobuf-c: onnx_mem.c (protobuf-c's memory over the
 * context's allocator) and onnx_check.c (the structural checks an unpacked
 * ModelProto passes before it is imported).
 */
#ifndef GS_ONNX_H
#define GS_ONNX_H

#include "gs_int.h"
#include "onnx.pb-c.h"

/* Check the structure of mp the way onnx.checker does for the parts graphsub
 * reads: ir_version and opset_import, value and attribute names, attribute
 * types against their payloads, tensors' data types, dims and data fields,
 * single definition of every value (SSA, no shadowing of an enclosing
 * graph's values by node outputs), initializers listed as inputs up to IR
 * version 3. GS_OK, GS_ERR_NOMEM, or GS_ERR_MODEL with one line naming path,
 * the node or value, and the problem. Node order and op schemas are left to
 * the importer and the op registry. */
/* ---- onnx_mem.c -------------------------------------------------------- */

/* protobuf-c reports a failed allocation and a parse error alike (NULL), so
 * the allocator remembers whether it failed. */
typedef struct gs_pbmem {
    gs_ctx *ctx;
    bool failed;
} gs_pbmem;

/* protobuf-c's allocator over pm->ctx's hooks (pm outlives its use). */
ProtobufCAllocator gs_onnx_allocator(gs_pbmem *pm);

/* ---- onnx_check.c ------------------------------------------------------ */

gs_status gs_onnx_check(gs_ctx *ctx, const Onnx__ModelProto *mp, const char *path);
/* Domains a and b are the same ("" and "ai.onnx" both name the default one;
 * NULL is ""). */
bool gs_onnx_same_domain(const char *a, const char *b);
/* onnx_import.c: mark in used[0..n_functions) the model-local functions the
 * export of m writes: all of them, or once calls were expanded (m->inlined)
 * those a live node still calls, directly or through a function kept. */
void gs_onnx_kept_functions(const gs_model *m, bool *used);
/* The same checks on a lone tensor (a test-data file): data type, dims,
 * data fields. GS_OK or GS_ERR_MODEL naming path and the tensor. */
gs_status gs_onnx_check_tensor(gs_ctx *ctx, const Onnx__TensorProto *tp, const char *path);

#endif
