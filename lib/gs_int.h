/*
 * gs_int.h - the private map of graphsub. Each file's exports are listed
 * under a banner with its name; reading this header is reading the design.
 *
 * The IR is index based: a graph owns arrays of nodes and values, and nodes
 * refer to values by index (gs_id). Strings and small arrays live in the
 * graph's arena and die with it. Weights (gs_tensor.data) point into the
 * model file mapping or into tensors owned by the model; they are immutable.
 */
#ifndef GS_INT_H
#define GS_INT_H

#define GS_BUILDING_LIB 1
#include "graphsub.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef int32_t gs_id;   /* index of a node or value in its graph */
#define GS_NONE ((gs_id)-1)

/* Limits: inputs beyond these are refused with GS_ERR_LIMIT. */
#define GS_MAX_RANK 16
#define GS_MAX_NODES (1 << 24)
#define GS_MAX_DEPTH 32            /* subgraph nesting */
#define GS_MAX_MESSAGE_DEPTH 160   /* protobuf message nesting (a subgraph is 3 levels) */
#define GS_MAX_NAME 65536          /* bytes in a name */
#define GS_MAX_TENSOR_BYTES ((int64_t)1 << 40)

/* ---- ctx.c: context, errors, allocation ------------------------------- */

enum { GS_MAX_TEMPS = 8 };   /* temporary files one context writes at once */

struct gs_ctx {
    gs_allocator a;
    char msg[1024];           /* last error message */
    gs_status last;           /* last error status */
    char *volatile temps[GS_MAX_TEMPS];   /* temporary files being written (fileio.c) */
    gs_free_sized_fn free_sized;   /* gs_ctx_new_sized: blocks carry their size (ctx.c) */
};

/* Record an error on ctx and return st. fmt as printf. */
gs_status gs_err(gs_ctx *ctx, gs_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
gs_status gs_nomem(gs_ctx *ctx);   /* gs_err(ctx, GS_ERR_NOMEM, "out of memory") */
/* Monotonic seconds (deadlines and timings). */
double gs_now(void);
void *gs_alloc(gs_ctx *ctx, size_t n);           /* NULL on failure (no message) */
void *gs_zalloc(gs_ctx *ctx, size_t n);          /* zeroed */
void *gs_realloc(gs_ctx *ctx, void *p, size_t n);
void gs_dealloc(gs_ctx *ctx, void *p);
char *gs_strdup(gs_ctx *ctx, const char *s);
/* a*b with overflow check: false on overflow. */
bool gs_mul_ok(size_t a, size_t b, size_t *out);
bool gs_mul64_ok(int64_t a, int64_t b, int64_t *out);
/* v converted to int64, saturating (NaN gives 0): rule files hold any number. */
int64_t gs_to_int64(double v);
/* FNV-1a of a string: the hash of the name tables (values, nodes, ops, rules). */
static inline uint32_t gs_hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* ---- arena.c: bump allocator owned by a graph ------------------------- */

typedef struct gs_arena_block gs_arena_block;
typedef struct gs_arena {
    gs_ctx *ctx;
    gs_arena_block *head;
    int32_t refs;           /* shared arenas (gs_arena_new): owners count */
    int32_t failures;       /* allocations refused (memory short), so a caller can tell */
    size_t bytes;           /* bytes of its blocks (the search bounds its growth) */
} gs_arena;

void gs_arena_init(gs_arena *a, gs_ctx *ctx);
void gs_arena_free(gs_arena *a);
/* A heap arena shared by several graphs: new holds one reference. */
gs_arena *gs_arena_new(gs_ctx *ctx);
gs_arena *gs_arena_ref(gs_arena *a);
void gs_arena_unref(gs_arena *a);
void *gs_arena_alloc(gs_arena *a, size_t n);     /* 16-byte aligned, zeroed; NULL on failure */
void *gs_arena_take(gs_arena *a, size_t n);      /* the same, left as it is (the caller fills it) */
char *gs_arena_strdup(gs_arena *a, const char *s);
char *gs_arena_printf(gs_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void *gs_arena_memdup(gs_arena *a, const void *p, size_t n);

/* ---- tensor.c: dense tensors ------------------------------------------ */

typedef struct gs_tensor {
    int32_t dtype;                  /* gs_dtype */
    int32_t rank;
    int64_t dims[GS_MAX_RANK];
    void *data;                     /* row-major elements; NULL for strings */
    size_t nbytes;                  /* bytes at data */
    const char *name;
    const void *src;                /* originating onnx TensorProto, or NULL */
    uint32_t flags;                 /* GS_T_* */
} gs_tensor;

enum {
    GS_T_OWNED = 1,     /* data was allocated with the ctx allocator for this tensor */
    GS_T_EXTERNAL = 2,  /* data came from an external-data file */
    GS_T_MAPPED = 4,    /* data points into the mapped model file (may be unaligned) */
    GS_T_SEQUENCE = 8,  /* a sequence (ops_sequence.c): data holds dims[0] gs_tensor elements,
                           each owning its data; dtype is theirs */
};

size_t gs_dtype_size(int32_t dtype);            /* bytes per element; 0 for strings/unknown */
const char *gs_dtype_name(int32_t dtype);       /* "float32", "int64"... */
int64_t gs_tensor_numel(const gs_tensor *t);
/* Element count of dims[0..rank); -1 on overflow. */
int64_t gs_numel(const int64_t *dims, int rank);
/* The elements (es bytes each) of a row-major array of dims[0..rank) into
 * dst in the order Transpose{perm} gives: dst's dim k is dims[perm[k]]. src
 * may sit unaligned; dst holds gs_numel(dims, rank) elements. */
void gs_permute_elems(const void *src, const int64_t *dims, int rank, const int64_t *perm, size_t es, void *dst);
float gs_half_to_float(uint16_t h);
uint16_t gs_float_to_half(float f);
float gs_bf16_to_float(uint16_t h);
uint16_t gs_float_to_bf16(float f);

/* ---- ir.c: graphs, nodes, values -------------------------------------- */

typedef struct gs_graph gs_graph;

/* One dimension: a size (v >= 0), or unknown (v < 0) possibly named by sym.
 * Two dims with equal syms are equal at run time: sym is a name of the
 * model (batch, seq) or one shape inference gave a dim it could not name
 * otherwise (GS_SYM_PREFIX and a number, unique in the model), carried to
 * every value that has the same dim. */
typedef struct gs_dim {
    int64_t v;
    const char *sym;
} gs_dim;
#define GS_SYM_PREFIX "unk__"
/* A dim named or0(z) is the dim z, or 0 where z is 1: what broadcasting z
 * against a window of at most z rows that may be empty gives (see
 * gs_infer_bdim). */
#define GS_OR0 "or0"

/* The partial contents of a small integer value (a shape, a dim, a Reshape
 * target: gs_value.elems) are an array of gs_dim read as elements: a known
 * number (sym NULL, v any value but GS_ELEM_UNKNOWN), a dim (sym its name,
 * v GS_ELEM_UNKNOWN), or unknown (both). */
#define GS_ELEM_UNKNOWN INT64_MIN
#define GS_MAX_ELEMS GS_MAX_RANK
static inline bool gs_elem_known(gs_dim e)
{
    return !e.sym && e.v != GS_ELEM_UNKNOWN;
}
enum {                  /* gs_value.flags */
    GS_V_INPUT = 1,     /* listed in graph.input */
    GS_V_OUTPUT = 2,    /* listed in graph.output */
    GS_V_OUTER = 4,     /* a name from an enclosing graph (subgraphs only) */
    GS_V_DEAD = 8,      /* removed; slot kept so ids stay stable */
    GS_V_TYPED = 16,    /* dtype/shape set or changed since import (src_info stale) */
    GS_V_SPARSE = 32,   /* defined by a sparse initializer (carried through, no tensor) */
};

typedef struct gs_value {
    const char *name;
    int32_t dtype;          /* gs_dtype; 0 unknown */
    int32_t rank;           /* -1 unknown */
    gs_dim *dims;           /* rank entries (arena) */
    gs_id producer;         /* producing node, or GS_NONE */
    gs_id *uses;            /* consuming nodes, one entry per input slot (ctx heap; a
                               clone's are in its arena, capuses negative, until one is added) */
    int32_t nuses, capuses;
    gs_tensor *init;        /* initializer tensor, or NULL */
    gs_id outer;            /* GS_V_OUTER: value id in the parent graph */
    uint32_t flags;
    const void *src_info;   /* ValueInfoProto this value was described by, or NULL */
    gs_dim *elems;          /* a 0-D or 1-D integer value: its elements as far as shape
                               inference knows them (see GS_ELEM_UNKNOWN), or NULL (arena) */
    int32_t nelems;
} gs_value;

/* Attribute types: the values of onnx.AttributeProto.AttributeType. */
enum {
    GS_A_UNDEFINED = 0, GS_A_FLOAT = 1, GS_A_INT = 2, GS_A_STRING = 3, GS_A_TENSOR = 4,
    GS_A_GRAPH = 5, GS_A_FLOATS = 6, GS_A_INTS = 7, GS_A_STRINGS = 8, GS_A_TENSORS = 9,
    GS_A_GRAPHS = 10, GS_A_SPARSE_TENSOR = 11, GS_A_SPARSE_TENSORS = 12,
    GS_A_TYPE_PROTO = 13, GS_A_TYPE_PROTOS = 14
};

typedef struct gs_attr {
    const char *name;
    int32_t type;           /* GS_A_* */
    int64_t i;
    float f;
    const char *s;          /* GS_A_STRING (not NUL-safe: use slen) */
    size_t slen;
    size_t n;               /* element count of the list kinds */
    int64_t *ints;
    float *floats;
    const char **strs;
    size_t *strlens;
    gs_tensor *t;
    gs_tensor **ts;
    gs_graph *g;
    gs_graph **gs;
    const void *src;        /* AttributeProto carried through untouched, or NULL */
} gs_attr;

enum {                  /* gs_node.flags */
    GS_N_DEAD = 1,      /* removed; slot kept so ids stay stable */
};

typedef struct gs_node {
    const char *op;         /* op_type */
    const char *domain;     /* "" for the default ONNX domain */
    const char *name;
    const struct gs_opdef *def;  /* registry row at the graph's opset, or NULL (an op
                               graphsub does not know: carried through, opaque) */
    gs_id *in;              /* value ids; GS_NONE for an absent optional input */
    gs_id *out;
    int32_t nin, nout;
    gs_attr *attrs;
    int32_t nattrs;
    gs_id *caps;            /* outer values read by this node's subgraphs */
    int32_t ncaps;
    uint32_t flags;
    const void *src;        /* NodeProto this node came from, or NULL */
    /* The search's hash of op, domain and attributes, and whether the two
     * operands commute (search.c, node_self): 0 until computed. Code that
     * changes an existing node's op or attributes resets it to 0. */
    uint64_t hash_self;
} gs_node;

/*
 * Memory of a graph: `arena` holds its structure (node input/output lists,
 * attribute lists, dims), which gs_ir_clone copies; `perm` holds immutable
 * payloads (names, attribute contents) shared by a graph, its clones and its
 * subgraphs, so a clone can outlive the graph it came from.
 */
struct gs_graph {
    gs_ctx *ctx;
    gs_arena arena;
    gs_arena *perm;
    gs_graph *parent;       /* enclosing graph for subgraphs */
    int64_t opset;          /* default-domain opset (a body's and a clone's are their
                               graph's); 0 when the model imports none */
    gs_node *nodes;         /* ctx heap, grows */
    gs_value *values;       /* ctx heap, grows */
    int32_t nnodes, capnodes, nvalues, capvalues;
    gs_id *inputs, *outputs, *inits, *infos;  /* ordered lists (arena) */
    int32_t ninputs, noutputs, ninits, ninfos;
    const void **insrc, **outsrc, **infosrc;  /* ValueInfoProto per list entry, or NULL */
    const char *name;
    const void *src;        /* GraphProto, or NULL */
    gs_graph **subs;        /* subgraphs owned (freed with this graph) */
    int32_t nsubs, capsubs;
    /* name -> value id (open addressing, ctx heap) */
    gs_id *map;
    uint32_t mapcap;
    /* node name -> node id (open addressing, ctx heap; unnamed nodes are not
     * in it), so a new node's name is checked in constant time */
    gs_id *nodemap;
    uint32_t nodemapcap;
    int32_t nextsym;        /* root graph: number of the next GS_SYM_PREFIX dim (0: not
                               yet counted, see gs_infer_fresh_sym) */
    int8_t own_forms;       /* root graph: 1 when no dim of the model is named min(...) or
                               or0(...), so such names are graphsub's and mean what they say
                               (gs_infer_bdim); 2 when some is, and none is read so; 0: not yet
                               looked (gs_infer_graph looks before its first pass) */
    bool consts_first;      /* export writes the constant-computing nodes first
                               (gs_ir_order); gs_optimize sets it on the root */
    gs_model *view;         /* a body: the read-only handle gs_node_attr_graph made on it
                               (api_graph.c), or NULL; freed with the graph, not cloned */
};

/* A new graph; when parent is not NULL, a subgraph of parent with its
 * opset, registered with it (freed with it). NULL on no memory. */
gs_graph *gs_ir_new(gs_ctx *ctx, gs_graph *parent);
/* The root graph of g (g itself when it is no body): the one holding the
 * model-wide fields (perm names, nextsym, own_forms, consts_first). */
static inline const gs_graph *gs_graph_root(const gs_graph *g)
{
    while (g->parent)
        g = g->parent;
    return g;
}

/* A new root graph of default-domain opset opset; NULL on no memory. */
gs_graph *gs_ir_new_opset(gs_ctx *ctx, int64_t opset);
/* Set the opset of g and of its subgraphs, and the registry row of each of
 * their nodes at that opset. */
void gs_ir_set_opset(gs_graph *g, int64_t opset);
void gs_ir_free(gs_graph *g);                         /* frees subgraphs too */
/* Add a value named name (copied into the arena unless it is NULL). Names must
 * be unique in the graph; returns GS_NONE on failure (message set). */
gs_id gs_ir_add_value(gs_graph *g, const char *name, bool copy_name);
gs_id gs_ir_find(const gs_graph *g, const char *name);   /* GS_NONE if absent */
/* Add a node; in/out are copied. Uses and producers are updated. */
gs_id gs_ir_add_node(gs_graph *g, const char *op, const char *domain, const char *name,
                     const gs_id *in, int nin, const gs_id *out, int nout);
gs_status gs_ir_add_use(gs_graph *g, gs_id v, gs_id node);
void gs_ir_del_use(gs_graph *g, gs_id v, gs_id node);   /* removes one entry */
/* Point input k of node at value v (updating use lists); a k past the
 * node's inputs lists the ones between as empty. */
gs_status gs_ir_set_input(gs_graph *g, gs_id node, int k, gs_id v);
/* Every use of old is redirected to nv, and old's output/graph-output role is
 * moved too. A subgraph reads an outer value by name, so when old is
 * captured, nv takes old's name (old gets a fresh one) and the captures
 * move with it; GS_ERR_UNSUPPORTED, g unchanged, when nv cannot be renamed
 * (an input, an output, a capture itself, a tensor of the model file).
 * Returns GS_OK, that, or NOMEM. */
gs_status gs_ir_replace_uses(gs_graph *g, gs_id old, gs_id nv);
/* True when a node's subgraph reads v (by name). */
bool gs_ir_captured(const gs_graph *g, gs_id v);
/* True when gs_ir_replace_uses(g, old, nv) can keep the name a subgraph
 * reads old by (old is not captured, or nv has that name or may take it). */
bool gs_ir_replaceable(const gs_graph *g, gs_id old, gs_id nv);
void gs_ir_remove_node(gs_graph *g, gs_id node);   /* marks dead, drops uses */
/* Remove nodes whose outputs are unused and not graph outputs; returns count. */
int gs_ir_dce(gs_graph *g);
/* Check every invariant; message names the first broken one. */
gs_status gs_ir_verify(const gs_graph *g);
/* Deep copy (tensors shared). NULL on no memory. */
gs_graph *gs_ir_clone(const gs_graph *g, gs_graph *parent);
/* Topological order of live nodes into order[nnodes]; returns the count, -1
 * on a cycle, -2 when memory is short (message set). */
int gs_ir_topo(const gs_graph *g, gs_id *order);
/* The same with consts_first: every node that computes only from
 * initializers (and such nodes' outputs) before every other node. */
int gs_ir_order(const gs_graph *g, gs_id *order, bool consts_first);
const gs_attr *gs_ir_attr(const gs_node *n, const char *name);
int64_t gs_attr_int(const gs_node *n, const char *name, int64_t dflt);
float gs_attr_float(const gs_node *n, const char *name, float dflt);
const char *gs_attr_str(const gs_node *n, const char *name, const char *dflt);
/* INTS attribute: returns count (or -1 when absent) and *vals. */
int gs_attr_ints(const gs_node *n, const char *name, const int64_t **vals);
int gs_attr_floats(const gs_node *n, const char *name, const float **vals);
int gs_ir_live_nodes(const gs_graph *g);
/* base, or base_N, unused in g, in the graphs enclosing g and in its subgraphs
 * (ONNX scoping: a name is defined once along every path of scopes), in
 * g->perm; NULL on no memory. */
const char *gs_ir_unique_name(gs_graph *g, const char *base);
/* The same, unused both as a value name and as a node name (for new nodes:
 * ONNX requires node names to be unique). */
const char *gs_ir_unique_node_name(gs_graph *g, const char *base);
bool gs_ir_node_name_taken(const gs_graph *g, const char *name);
/* The first node named name (live or dead), or GS_NONE. */
gs_id gs_ir_node_named(const gs_graph *g, const char *name);
/* Add an initializer value named after base holding t (t must outlive g:
 * put it in g->perm or register it with the model). GS_NONE on failure. */
gs_id gs_ir_add_init(gs_graph *g, const char *base, gs_tensor *t);
/* Room in the name table for nvalues values, so that adding values to g and
 * to its clones does not rehash it (the search clones one graph thousands of
 * times); false when memory is short. */
bool gs_ir_reserve_names(gs_graph *g, int32_t nvalues);
/* Rename value v (name copied); its old name becomes free. */
gs_status gs_ir_rename(gs_graph *g, gs_id v, const char *name);
/* Exchange the names of values a and b (constant time: the name table's two
 * entries are exchanged). */
void gs_ir_swap_names(gs_graph *g, gs_id a, gs_id b);
/* Mark initializers nothing reads (and that are not graph inputs/outputs) dead. */
void gs_ir_drop_unused_inits(gs_graph *g);

/* ---- optimize.c --------------------------------------------------------- */

/* The options gs_optimize runs with: the defaults of gs_optimize_opts_init
 * for NULL, else in (a version-1 struct widened) checked, with alpha 0
 * taken as 1.05; every other field means what it says, 0 included (the
 * header documents each). GS_ERR_ARG naming the bad field. */
gs_status gs_optimize_opts_resolve(gs_ctx *ctx, const gs_optimize_opts *in, gs_optimize_opts *out);

/* ---- model.c: the model handle ---------------------------------------- */

typedef struct gs_opset {
    const char *domain;
    int64_t version;
} gs_opset;

typedef struct gs_extfile {
    char *path;             /* folder of the model + location (ctx memory) */
    void *map;              /* the whole file, read-only */
    size_t size;
} gs_extfile;

struct gs_model {
    gs_ctx *ctx;
    gs_graph *graph;
    void *proto;            /* unpacked onnx ModelProto (carried-through fields) */
    gs_opset *opsets;
    int32_t nopsets;
    void *map;              /* model file mapping, kept while tensors point into it */
    size_t mapsize;
    void *cuts;             /* gs_wire_cut[]: initializers whose raw_data is in map */
    int32_t ncuts;
    char *dir;              /* folder of the model file (external data), or NULL */
    gs_extfile *ext;        /* external-data files, each mapped once */
    int32_t next, capext;
    gs_tensor **owned;      /* tensors created after import (freed with the model) */
    int32_t nowned, capowned;
    int64_t min_ir_version; /* the export raises ir_version to this (after an opset raise) */
    bool inlined;           /* function calls were expanded: the export keeps only the
                               functions still called */
    const char *path;       /* file it was loaded from (graph->perm), or NULL */
    const gs_model *owner;  /* a body view (gs_node_attr_graph): the model whose body
                               `graph` is, else NULL; only ctx, graph and path are set */
};

/* The model m reads: m, or the model a body view belongs to. */
static inline const gs_model *gs_model_root(const gs_model *m)
{
    return m->owner ? m->owner : m;
}
/* GS_OK when m may be changed, saved, run or optimized; GS_ERR_ARG naming
 * fn when m is a body view (read-only). */
gs_status gs_model_writable(const gs_model *m, const char *fn);
/* At the top of a public call that changes, saves, runs or optimizes m:
 * return GS_ERR_ARG when m is NULL or a body view (as dav1d's
 * validate_input_or_ret). */
#define GS_CHECK_WRITABLE(m)                                        \
    do {                                                            \
        if (!(m))                                                   \
            return GS_ERR_ARG;                                      \
        gs_status writable_ = gs_model_writable((m), __func__);     \
        if (writable_ != GS_OK)                                     \
            return writable_;                                       \
    } while (0)

int64_t gs_model_opset_of(const gs_model *m, const char *domain);
/* opset.c: raise the default-domain opset to target (13 <= opset, target <=
 * 21) when every op keeps its meaning, converting the nodes whose signature
 * changed; GS_ERR_UNSUPPORTED naming the first op that does not qualify. */
gs_status gs_opset_raise(gs_model *m, int64_t target);
/* True when gs_opset_raise(m, target) would raise the opset (changes nothing). */
bool gs_opset_can_raise(gs_model *m, int64_t target);
/* The IR version of the first ONNX release with default-domain opset
 * opset (a model of that opset needs at least it; ONNX Runtime refuses an
 * IR newer than it knows, so a new model gets exactly it). */
int64_t gs_opset_ir_version(int64_t opset);
/* st, after putting m's file name in front of the context's message when st
 * says the model is bad (MODEL, UNSUPPORTED, LIMIT: a kernel or an inference
 * that failed names only the node) and the message does not name it yet. */
gs_status gs_model_errfile(const gs_model *m, gs_status st);
/* An empty model of ctx (filled by the importer); NULL on no memory. */
gs_model *gs_model_new(gs_ctx *ctx);
/* Register a tensor (and its data if GS_T_OWNED) to be freed with the model. */
gs_status gs_model_own(gs_model *m, gs_tensor *t);

/* ---- onnx_import.c / onnx_export.c: the only code that sees protobuf-c - */

/* Fill m, a model fresh from gs_model_new, from the serialized ModelProto
 * buf[0..size) (a mapping of the file path when mapped: the model keeps it,
 * or it is unmapped here, on failure too). On failure m holds what was
 * made so far and the caller frees it with gs_model_free. */
gs_status gs_onnx_import(gs_model *m, void *buf, size_t size, bool mapped, const char *path,
                         const char *dir);
/* Pack the model and stream it to fd (fd >= 0) or into *buf (ctx heap, size
 * in *size). When ext_fd >= 0, tensors of ext_threshold bytes or more are
 * written to ext_fd, the file ext_path beside the model, and referenced as
 * external data at its base name. path and ext_path name the files in
 * messages. */
gs_status gs_onnx_export(gs_model *m, int fd, void **buf, size_t *size,
                         int ext_fd, const char *ext_path, size_t ext_threshold,
                         const char *path);
/* Expand in g (m's graph or a clone of it) every call of a model-local
 * function that can be (onnx_import.c says when), in bodies too; *count is
 * the number of calls expanded. GS_ERR_LIMIT past 2^20 calls (recursion). */
gs_status gs_onnx_inline_functions(gs_model *m, gs_graph *g, int *count);
/* The name of a model-local function the export of m writes that imports
 * the default domain (raising the model's opset would leave it behind), or
 * NULL. */
const char *gs_onnx_function_with_opset(gs_model *m);
/* Whether a live node of m (bodies included) calls a model-local function. */
bool gs_onnx_calls_functions(const gs_model *m);
/* Packed size of the model with every tensor inline (for the 2 GiB check). */
gs_status gs_onnx_packed_size(gs_model *m, uint64_t *size);
/* onnx_mem.c: free the unpacked ModelProto kept by a model (and its file
 * mapping). */
void gs_onnx_free_proto(gs_model *m);
/* Decode one TensorProto file (ONNX test-data layout) into a tensor owned by
 * the caller (free with gs_tensor_free). */
gs_status gs_onnx_read_tensor(gs_ctx *ctx, const char *path, gs_tensor **out);
gs_status gs_onnx_write_tensor(gs_ctx *ctx, const char *path, const gs_tensor *t);

/* ---- fileio.c: files -------------------------------------------------- */
/* The folder part of path ("." when it has none, "/" for the root), on
 * ctx's heap; NULL when out of memory. */
char *gs_file_dir(gs_ctx *ctx, const char *path);

/* Map a whole regular file read-only (a FIFO or device is refused without
 * blocking); *map (NULL for an empty file) is released with gs_file_unmap. */
gs_status gs_file_map(gs_ctx *ctx, const char *path, void **map, size_t *size);
void gs_file_unmap(void *map, size_t size);
gs_status gs_file_write_all(gs_ctx *ctx, int fd, const void *p, size_t n, const char *path);

/* An output being written (the public gs_output). */
typedef struct gs_output gs_out;
struct gs_output {
    gs_ctx *ctx;
    int fd;
    bool through;        /* written in place ("-", a character device, a FIFO) */
    bool own_fd;         /* fd is closed at the end (not standard output) */
    char *target;        /* the path renamed over, symbolic links followed (ctx memory) */
    char *tmp;           /* the temporary file, or NULL when written in place */
    int slot;            /* tmp's entry in ctx->temps, or -1 */
    const char *path;    /* as given, for messages (borrowed) */
};
/* Decide once how path is written (see the top of fileio.c) and open it:
 * a temporary file in the target's folder, or the device, FIFO or standard
 * output itself. On failure nothing is left open or created. */
gs_status gs_out_open(gs_ctx *ctx, const char *path, gs_out *o);
gs_status gs_out_write(gs_out *o, const void *p, size_t n);
/* Flush and close: the new file is complete but not yet in place. On failure
 * the temporary file is removed. */
gs_status gs_out_finish(gs_out *o);
/* Rename the finished file over its target; frees o's memory in any case. */
gs_status gs_out_place(gs_out *o);
/* gs_out_finish then gs_out_place. */
gs_status gs_out_commit(gs_out *o);
/* Place first (external data), then second (the model that reads it), with
 * signals blocked between the two renames; when first fails, second is
 * removed unplaced. Both must be finished. */
gs_status gs_out_place_pair(gs_out *first, gs_out *second);
/* Close and remove the temporary file; frees o's memory. Idempotent. */
void gs_out_abort(gs_out *o);

#endif /* GS_INT_H */
