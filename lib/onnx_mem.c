/*
 * onnx_mem.c - the memory of unpacked protobuf-c messages: an allocator over
 * the context's hooks, and freeing the ModelProto a model keeps for the
 * fields graphsub carries through. Apart from the importer so that model.c
 * frees a model without calling back into the code that filled it.
 */
#include "gs_onnx.h"
#include "gs_wire.h"

static void *pb_alloc(void *ud, size_t n)
{
    gs_pbmem *pm = ud;
    void *p = gs_alloc(pm->ctx, n);
    pm->failed |= !p;
    return p;
}

static void pb_free(void *ud, void *p)
{
    gs_dealloc(((gs_pbmem *)ud)->ctx, p);
}

ProtobufCAllocator gs_onnx_allocator(gs_pbmem *pm)
{
    ProtobufCAllocator a = { pb_alloc, pb_free, pm };
    return a;
}

void gs_onnx_free_proto(gs_model *m)
{
    gs_pbmem pm = { m->ctx, false };
    ProtobufCAllocator pa = gs_onnx_allocator(&pm);
    Onnx__ModelProto *mp = m->proto;
    const gs_wire_cut *cuts = m->cuts;
    for (int32_t i = 0; mp && i < m->ncuts; i++) {   /* the map owns these bytes */
        Onnx__TensorProto *tp = mp->graph->initializer[cuts[i].tensor];
        tp->has_raw_data = 0;
        tp->raw_data.data = NULL;
        tp->raw_data.len = 0;
    }
    if (mp)
        onnx__model_proto__free_unpacked(mp, &pa);
    gs_dealloc(m->ctx, m->cuts);
    gs_file_unmap(m->map, m->mapsize);
    m->proto = NULL;
    m->cuts = NULL;
    m->map = NULL;
}
