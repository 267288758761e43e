/*
 * graphsub.h - the whole public C API of graphsub.
 *
 * graphsub reads an ONNX model, rewrites its computation graph into an
 * equivalent graph that runs faster, and writes a standard ONNX model back.
 *
 * A complete example (error handling included) that loads a model, prints its
 * nodes and writes it back:
 *
 *     #include <graphsub.h>
 *     #include <stdio.h>
 *
 *     int main(int argc, char **argv) {
 *         gs_ctx *ctx = gs_ctx_new(NULL);          // NULL: malloc/realloc/free
 *         gs_model *m = NULL;
 *         if (!ctx) return 4;
 *         if (gs_model_load(ctx, argv[1], &m) != GS_OK) {
 *             fprintf(stderr, "%s\n", gs_ctx_errmsg(ctx));
 *             gs_ctx_free(ctx);
 *             return 3;
 *         }
 *         for (int i = 0; i < gs_model_node_count(m); i++)
 *             printf("%s %s\n", gs_node_op(m, i), gs_node_name(m, i));
 *         gs_status st = gs_model_save(m, argv[2], NULL);   // atomic write
 *         if (st != GS_OK) fprintf(stderr, "%s\n", gs_ctx_errmsg(ctx));
 *         gs_model_free(m);
 *         gs_ctx_free(ctx);
 *         return st == GS_OK ? 0 : 3;
 *     }
 *
 * Conventions:
 *  - Every fallible call returns a gs_status; GS_OK is 0. The text of the last
 *    error is kept on the context (gs_ctx_errmsg) until the next error.
 *  - The library never prints and never exits.
 *  - Handles are opaque. A gs_model belongs to the gs_ctx that made it and must
 *    be freed before the context.
 *  - Threads. The library has no mutable globals and takes no locks: contexts
 *    are independent, so threads may work at the same time each with its own
 *    context (and the models, builders, outputs and arrays made from it).
 *    Unless a function says otherwise below, it must not run while another
 *    call uses the same context or a model of it. Exceptions:
 *    - any thread, any time: the functions that take neither a context nor
 *      a model: gs_status_str, gs_status_exit, gs_version,
 *      gs_version_number, gs_dtype_bytes, gs_dtype_str,
 *      gs_verify_range_count, gs_verify_range_name, gs_optimize_opts_init;
 *    - readers: the accessors taking a const gs_model * and no context
 *      (gs_model_*_count, gs_model_input/output/opset/data_file,
 *      gs_node_* but gs_node_cost, gs_value_*) only read the model: several
 *      threads may call them on one model at once while no call changes it
 *      or uses its context. The same holds for a body view (see
 *      gs_node_attr_graph), and gs_node_attr_graph is such a reader for a
 *      body it has returned before: its first call for a body makes the
 *      view (it allocates, and sets the message when memory is short);
 *    - gs_ctx_remove_temp_files may run in a signal handler, at any time.
 *  - Strings returned by the API are owned by the model (or context) and stay
 *    valid until the model is freed or changed.
 */
#ifndef GRAPHSUB_H
#define GRAPHSUB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(GS_BUILDING_LIB) && defined(__GNUC__)
#define GS_API __attribute__((visibility("default")))
#else
#define GS_API
#endif

#define GS_VERSION_MAJOR 0
#define GS_VERSION_MINOR 1
#define GS_VERSION_PATCH 0
/* The version as one number, MAJOR * 10000 + MINOR * 100 + PATCH, for #if. */
#define GS_VERSION_NUMBER (GS_VERSION_MAJOR * 10000 + GS_VERSION_MINOR * 100 + GS_VERSION_PATCH)

/* Status codes. The CLI maps them to exit statuses (see gs_status_exit). */
typedef enum gs_status {
    GS_OK = 0,
    GS_ERR_NOMEM,       /* an allocation failed */
    GS_ERR_IO,          /* a file could not be read or written */
    GS_ERR_PARSE,       /* bytes are not a valid ONNX model / tensor */
    GS_ERR_MODEL,       /* the model is well-formed protobuf but invalid (cycle, undefined value...) */
    GS_ERR_RULE,        /* a rule file is invalid */
    GS_ERR_UNSUPPORTED, /* an op, dtype or mode graphsub cannot handle */
    GS_ERR_LIMIT,       /* a size limit was exceeded (nodes, rank, bytes, depth...) */
    GS_ERR_ARG,         /* a bad argument was passed to the API */
    GS_ERR_MISMATCH,    /* a comparison failed (verify, run --data) */
    GS_ERR_INTERNAL     /* a bug: an invariant does not hold */
} gs_status;

/* ONNX tensor element types (the values of onnx.TensorProto.DataType). */
typedef enum gs_dtype {
    GS_UNDEFINED = 0, GS_FLOAT = 1, GS_UINT8 = 2, GS_INT8 = 3, GS_UINT16 = 4,
    GS_INT16 = 5, GS_INT32 = 6, GS_INT64 = 7, GS_STRING = 8, GS_BOOL = 9,
    GS_FLOAT16 = 10, GS_DOUBLE = 11, GS_UINT32 = 12, GS_UINT64 = 13,
    GS_COMPLEX64 = 14, GS_COMPLEX128 = 15, GS_BFLOAT16 = 16
} gs_dtype;

/* Memory hooks. Every allocation the library makes goes through these, so a
 * caller can account for memory or inject failures. realloc(ud, NULL, n) must
 * behave as alloc; free(ud, NULL) must do nothing. */
typedef struct gs_allocator {
    void *(*alloc)(void *ud, size_t size);
    void *(*realloc)(void *ud, void *ptr, size_t size);
    void (*free)(void *ud, void *ptr);
    void *ud;
} gs_allocator;

typedef struct gs_ctx gs_ctx;
typedef struct gs_model gs_model;

/* ---- context ---------------------------------------------------------- */

/* Returns a new context, or NULL when memory is short. alloc may be NULL for
 * the C library's malloc; it is copied. Free with gs_ctx_free. */
GS_API gs_ctx *gs_ctx_new(const gs_allocator *alloc);
/* A free hook told the size of the block, as Lua's allocator is: size is
 * what alloc or realloc was asked for when the block was made. */
typedef void (*gs_free_sized_fn)(void *ud, void *ptr, size_t size);
/* Like gs_ctx_new (alloc must not be NULL), but every block is freed through
 * free_sized instead of alloc->free, which is not called (may be NULL). The
 * library asks alloc for 16 bytes more than it uses, to keep each size. */
GS_API gs_ctx *gs_ctx_new_sized(const gs_allocator *alloc, gs_free_sized_fn free_sized);
GS_API void gs_ctx_free(gs_ctx *ctx);
/* The message of the last error on ctx ("" if none). Owned by ctx. */
GS_API const char *gs_ctx_errmsg(const gs_ctx *ctx);
/* A short constant name for a status ("GS_ERR_NOMEM"...). */
GS_API const char *gs_status_str(gs_status st);
/* The CLI exit status for a status: 0 ok, 1 mismatch, 2 argument, 3 bad input, 4 internal. */
GS_API int gs_status_exit(gs_status st);
/* Free memory the library returned to the caller (gs_model_save_mem buffers). */
GS_API void gs_free(gs_ctx *ctx, void *ptr);
/* The library version as "MAJOR.MINOR.PATCH". */
GS_API const char *gs_version(void);
/* The version of the library linked (GS_VERSION_NUMBER of its build). */
GS_API int gs_version_number(void);

/* ---- models ----------------------------------------------------------- */

/* Load an ONNX model from a file. Weights are mapped from the file, not copied
 * (so a file truncated while the model lives raises SIGBUS on access, which a
 * caller may catch; the graphsub command does); each external-data file is
 * mapped once, resolved next to the file, and may not leave its folder; a
 * FIFO or device is refused without blocking.
 * On success *out owns the model; on failure *out is NULL and the error names
 * the file. */
GS_API gs_status gs_model_load(gs_ctx *ctx, const char *path, gs_model **out);
/* Load from memory. The bytes are copied. External data is resolved against
 * base_dir (NULL: external data is refused). */
GS_API gs_status gs_model_load_mem(gs_ctx *ctx, const void *data, size_t size,
                                   const char *base_dir, gs_model **out);
GS_API void gs_model_free(gs_model *m);

typedef struct gs_save_opts {
    int version;                 /* GS_SAVE_OPTS_VERSION */
    int external_data;           /* write tensors >= external_threshold to PATH.data */
    size_t external_threshold;   /* bytes; 0 means 1024 */
} gs_save_opts;
#define GS_SAVE_OPTS_VERSION 1

/* Write the model to path atomically: a temporary file in the target's
 * folder is written, flushed and renamed over it, so a failure leaves any
 * previous file intact and no temporary file behind; "-", a character device
 * or a FIFO is written in place, a symbolic link's target is replaced (see
 * gs_output_open). opts may be NULL. Tensors read from external data are
 * written inline unless opts->external_data is set; a model above 2 GiB is
 * written with external data automatically. External data goes to PATH.data
 * beside the (link-resolved) model file, written under a temporary name too
 * and renamed just before the model, both only once both are complete; it
 * needs a regular output file (GS_ERR_ARG otherwise). */
GS_API gs_status gs_model_save(gs_model *m, const char *path, const gs_save_opts *opts);
/* The external-data files a loaded model reads (full paths, owned by the
 * model): outputs must not replace them while the model is in use. */
GS_API int gs_model_data_file_count(const gs_model *m);
GS_API const char *gs_model_data_file(const gs_model *m, int i);
/* Serialize to memory (inline tensors only). *buf is freed with gs_free. */
GS_API gs_status gs_model_save_mem(gs_model *m, void **buf, size_t *size);
/* Check every IR invariant (acyclic, every use defined, use lists consistent). */
GS_API gs_status gs_model_verify(gs_model *m);

/* ---- output files ------------------------------------------------------ */

/* An output file written the way gs_model_save writes: "-" is standard
 * output; a character device or a FIFO is written in place; a symbolic link
 * is followed and its target replaced (the link stays); a regular or absent
 * file is written to a temporary file in its folder and renamed over it by
 * gs_output_commit, keeping the replaced file's mode. A folder, a block
 * device or a socket is refused (GS_ERR_IO). */
typedef struct gs_output gs_output;
GS_API gs_status gs_output_open(gs_ctx *ctx, const char *path, gs_output **out);
GS_API gs_status gs_output_write(gs_output *o, const void *data, size_t n);
/* Flush and put the file in place; o is freed whatever the result. */
GS_API gs_status gs_output_commit(gs_output *o);
/* Drop the output: the temporary file is removed, o is freed. NULL is a no-op. */
GS_API void gs_output_abort(gs_output *o);
/* Remove every temporary file ctx is writing at this moment. It calls only
 * unlink(), so a signal handler may call it before the process dies (the
 * library itself installs no handler). */
GS_API void gs_ctx_remove_temp_files(gs_ctx *ctx);

/* ---- walking the main graph ------------------------------------------- */
/* Node and value indices run from 0 to count-1. Value index -1 stands for an
 * absent optional input or output. A loaded model's nodes are in the file's
 * (topological) order; after gs_optimize or an edit some slots are dead
 * (gs_node_is_live) and new nodes come last: gs_model_topo_order gives the
 * live nodes in order, gs_model_compact renumbers the model so. */

GS_API int gs_model_node_count(const gs_model *m);
/* Live nodes inside the If, Loop and Scan bodies of live nodes, at any depth. */
GS_API int gs_model_subgraph_node_count(const gs_model *m);
GS_API int gs_model_value_count(const gs_model *m);
GS_API int gs_model_input_count(const gs_model *m);   /* graph inputs, initializers excluded */
GS_API int gs_model_output_count(const gs_model *m);
GS_API int gs_model_input(const gs_model *m, int i);  /* value index */
GS_API int gs_model_output(const gs_model *m, int i);
/* The opset version the model imports for domain ("" or "ai.onnx" for the default), or 0. */
GS_API int64_t gs_model_opset(const gs_model *m, const char *domain);

GS_API const char *gs_node_op(const gs_model *m, int node);
GS_API const char *gs_node_domain(const gs_model *m, int node);
GS_API const char *gs_node_name(const gs_model *m, int node);
GS_API int gs_node_input_count(const gs_model *m, int node);
GS_API int gs_node_output_count(const gs_model *m, int node);
GS_API int gs_node_input(const gs_model *m, int node, int k);
GS_API int gs_node_output(const gs_model *m, int node, int k);
/* 0 for a node removed by a rewrite (its index stays valid), else 1. */
GS_API int gs_node_is_live(const gs_model *m, int node);

GS_API const char *gs_value_name(const gs_model *m, int value);
GS_API gs_dtype gs_value_dtype(const gs_model *m, int value);
/* Rank of the value, or -1 when unknown. */
GS_API int gs_value_rank(const gs_model *m, int value);
/* Dim k: its size, or -1 when unknown or symbolic; *sym (if not NULL) receives
 * the symbol name or NULL. */
GS_API int64_t gs_value_dim(const gs_model *m, int value, int k, const char **sym);
/* 1 if the value is an initializer (a weight), else 0. */
GS_API int gs_value_is_constant(const gs_model *m, int value);
/* The node producing the value, or -1 for inputs and initializers. */
GS_API int gs_value_producer(const gs_model *m, int value);
/* Element count when every dim is known, else -1. */
GS_API int64_t gs_value_numel(const gs_model *m, int value);
/* Bytes per element of a dtype (0 for strings and unknown types), and its name ("float32"). */
GS_API int gs_dtype_bytes(gs_dtype t);
GS_API const char *gs_dtype_str(gs_dtype t);

/* ---- reading attributes and weights ------------------------------------ */
/* A node's attributes are numbered 0..gs_node_attr_count-1 in the order the
 * model lists them. Accessors of the wrong type return 0, NULL or -1. */

typedef enum gs_attr_type {      /* the values of onnx.AttributeProto.AttributeType */
    GS_ATTR_UNDEFINED = 0, GS_ATTR_FLOAT = 1, GS_ATTR_INT = 2, GS_ATTR_STRING = 3,
    GS_ATTR_TENSOR = 4, GS_ATTR_GRAPH = 5, GS_ATTR_FLOATS = 6, GS_ATTR_INTS = 7,
    GS_ATTR_STRINGS = 8, GS_ATTR_TENSORS = 9, GS_ATTR_GRAPHS = 10, GS_ATTR_SPARSE_TENSOR = 11,
    GS_ATTR_SPARSE_TENSORS = 12, GS_ATTR_TYPE_PROTO = 13, GS_ATTR_TYPE_PROTOS = 14
} gs_attr_type;

/* A tensor owned by the model: dims and data stay valid until the model is
 * freed or changed. data may be unaligned (it can point into the mapped
 * file): copy with memcpy before reading elements. data is NULL for strings. */
typedef struct gs_tensor_view {
    gs_dtype dtype;
    int rank;
    const int64_t *dims;
    const void *data;
    size_t nbytes;
} gs_tensor_view;

GS_API int gs_node_attr_count(const gs_model *m, int node);
/* Index of the attribute named name, or -1. */
GS_API int gs_node_attr_find(const gs_model *m, int node, const char *name);
GS_API const char *gs_node_attr_name(const gs_model *m, int node, int k);
GS_API gs_attr_type gs_node_attr_type(const gs_model *m, int node, int k);
GS_API int64_t gs_node_attr_int(const gs_model *m, int node, int k);
GS_API double gs_node_attr_float(const gs_model *m, int node, int k);
/* The bytes of a STRING attribute (may hold NULs: *len, if not NULL, gets the length). */
GS_API const char *gs_node_attr_string(const gs_model *m, int node, int k, size_t *len);
/* INTS / FLOATS: the element count and *vals, or -1 for another type. */
GS_API int gs_node_attr_ints(const gs_model *m, int node, int k, const int64_t **vals);
GS_API int gs_node_attr_floats(const gs_model *m, int node, int k, const float **vals);
/* Elements of any list type (FLOATS ... TYPE_PROTOS), or -1 for a single value. */
GS_API int gs_node_attr_list_count(const gs_model *m, int node, int k);
GS_API const char *gs_node_attr_strings_at(const gs_model *m, int node, int k, int i, size_t *len);
/* TENSOR (i = 0) or element i of TENSORS into *out: 1, else 0. GRAPH(S)
 * attributes are read with gs_node_attr_graph below; SPARSE_TENSOR(S) and
 * TYPE_PROTO(S) attributes are carried through unchanged, their contents
 * not readable here. */
GS_API int gs_node_attr_tensor(const gs_model *m, int node, int k, int i, gs_tensor_view *out);
/* An initializer's data into *out: 1, else 0 (not an initializer). */
GS_API int gs_value_tensor(const gs_model *m, int value, gs_tensor_view *out);

/* The live nodes in a topological order (every node after the producers of
 * its inputs; the order gs_model_save writes): order needs room for
 * gs_model_node_count entries; returns the number of live nodes, or -1
 * (message set) on a cycle or when memory is short. Node indices are slots:
 * after gs_optimize some are dead (gs_node_is_live) and new nodes come last,
 * so index order is not topological. */
GS_API int gs_model_topo_order(const gs_model *m, int *order);
/* Renumber m so that nodes 0..gs_model_node_count-1 are exactly its live
 * nodes in topological order and dead values are gone, in every body too
 * (by writing the model to memory and reading it back: weights are copied
 * into memory, and every index, string, tensor view and body view taken
 * from m before is invalid after). */
GS_API gs_status gs_model_compact(gs_model *m);
/* A new, independent model equal to m (compact, weights in memory), on m's context. */
GS_API gs_status gs_model_clone(const gs_model *m, gs_model **out);

/* ---- reading If, Loop and Scan bodies ------------------------------------ */
/* A body (the graph in a GRAPH or GRAPHS attribute) is read as a model: the
 * handle gs_node_attr_graph returns works with every reading call above
 * (gs_model_node_count, gs_model_input/output, gs_node_*, gs_value_*,
 * gs_value_tensor for the body's own initializers, gs_model_topo_order,
 * gs_model_subgraph_node_count, gs_node_attr_graph again for nested bodies,
 * gs_model_opset: what its model imports), with indices of its own. It
 * belongs to m: it stays valid, and repeated calls return the same handle
 * without more memory, until m is freed or changed (gs_optimize, an edit,
 * gs_model_compact); gs_model_free ignores it. It is read-only: a call that
 * would change, save, clone, run or optimize it (gs_model_add_*,
 * gs_node_set_*, gs_model_save*, gs_model_clone, gs_model_compact,
 * gs_model_bind_dim, gs_model_set_input_shape, gs_model_infer_shapes,
 * gs_model_run, gs_model_compare, gs_rules_explain, gs_optimize) returns
 * GS_ERR_ARG with a message saying so. As in the main graph, after
 * gs_optimize some node slots of a body are dead (gs_node_is_live) and
 * index order is not topological; gs_model_compact renumbers the bodies too.
 *
 * The values a body reads come from three places:
 *  - its inputs (gs_model_input), bound by position to what the op passes
 *    in: none for If; iteration number, condition, then the loop-carried
 *    values for Loop; the state values, then one slice of each scanned
 *    input for Scan;
 *  - values it computes or holds (a producer, or gs_value_is_constant);
 *  - captures: values of an enclosing graph it reads by name. A capture is
 *    a value of the body that is no input, has no producer and is no
 *    initializer; gs_value_outer gives the value it stands for in the graph
 *    enclosing the body (itself a capture when it comes from further out,
 *    so following gs_value_outer up reaches the graph that defines it). */

/* The body in GRAPH attribute k of node (i = 0), or element i of a GRAPHS
 * attribute, as a read-only model; NULL for another type, an index out of
 * range, or when memory is short (message set on m's context). Threads:
 * the first call for a body makes its view, so it must not run while
 * another call uses m or its context; later calls for that body only read
 * (see Threads at the top). */
GS_API const gs_model *gs_node_attr_graph(const gs_model *m, int node, int k, int i);
/* For a capture of body m: the index of the value it stands for in the
 * graph enclosing m (the model or body view m came from); -1 for any other
 * value, and for every value of a model's main graph. */
GS_API int gs_value_outer(const gs_model *m, int value);
/* The values of m's graph that the bodies of node read by capture (at any
 * depth): its implicit inputs, which gs_model_topo_order orders it after.
 * Count, then element i (a value index), in no particular order; -1 out of
 * range. */
GS_API int gs_node_capture_count(const gs_model *m, int node);
GS_API int gs_node_capture(const gs_model *m, int node, int i);

/* ---- fixing input shapes ---------------------------------------------------- */

/* Bind the symbolic dim name (batch, seq) to value in every value of the
 * model, bodies included; a dim written as an expression of it (past + seq)
 * becomes unknown, for gs_optimize's shape inference to work out. name must
 * be a symbolic dim of an input (else GS_ERR_ARG naming it); value in [0, 2^31). */
GS_API gs_status gs_model_bind_dim(gs_model *m, const char *name, int64_t value);
/* Give graph input name the shape dims[0..rank): its symbolic dims are bound
 * as gs_model_bind_dim does, its unknown dims set. GS_ERR_ARG when no input
 * has that name, the rank differs from a declared rank, or a dim differs from
 * a declared size. */
GS_API gs_status gs_model_set_input_shape(gs_model *m, const char *name, int rank, const int64_t *dims);

/* ---- editing a model ------------------------------------------------------ */
/* Changes to the main graph of m, in place; indices are those of the walking
 * calls (value -1: an absent optional input). Names given must be new in the
 * graph (GS_ERR_ARG otherwise); strings and arrays are copied. After edits,
 * gs_model_verify checks the graph and gs_model_infer_shapes types what was
 * added (gs_optimize and gs_model_save run inference themselves). */

/* A weight: nbytes of raw row-major little-endian data (numeric types);
 * *value receives its value index. */
GS_API gs_status gs_model_add_initializer(gs_model *m, const char *name, gs_dtype dtype, int rank,
                                          const int64_t *dims, const void *data, size_t nbytes, int *value);
/* A node reading inputs[0..ninputs) and writing noutputs new values, whose
 * indices go to outputs (named after the node); name NULL: one made from
 * op; domain NULL: the default ONNX domain. *node (may be NULL) receives its index. */
GS_API gs_status gs_model_add_node(gs_model *m, const char *op, const char *domain, const char *name,
                                   const int *inputs, int ninputs, int noutputs, int *outputs, int *node);
/* Set (add or replace) an attribute of a live node. */
GS_API gs_status gs_node_set_attr_int(gs_model *m, int node, const char *name, int64_t v);
GS_API gs_status gs_node_set_attr_float(gs_model *m, int node, const char *name, float v);
GS_API gs_status gs_node_set_attr_string(gs_model *m, int node, const char *name, const char *v);
GS_API gs_status gs_node_set_attr_ints(gs_model *m, int node, const char *name, const int64_t *v, int n);
GS_API gs_status gs_node_set_attr_floats(gs_model *m, int node, const char *name, const float *v, int n);
/* Input k of a live node reads value (-1: absent). */
GS_API gs_status gs_node_set_input(gs_model *m, int node, int k, int value);
/* Every reader of old (nodes and graph outputs) reads value instead. */
GS_API gs_status gs_model_replace_uses(gs_model *m, int old, int value);
/* Remove a live node whose outputs nothing reads (GS_ERR_ARG naming the
 * output otherwise); its index stays, not live. */
GS_API gs_status gs_model_remove_node(gs_model *m, int node);
/* Graph output i becomes value (named as the value is). */
GS_API gs_status gs_model_set_output(gs_model *m, int i, int value);

/* ---- building a model ----------------------------------------------------- */
/* A compiler can hand graphsub a graph without writing protobuf: declare
 * inputs, initializers, nodes (each followed by its attributes) and outputs
 * by name, in any order that defines a value before a node reads it, then
 * gs_builder_finish checks the whole and returns a model, as if loaded from
 * a file. Every string and array is copied. A call on a builder after one of
 * its calls failed returns that failure again. */
typedef struct gs_builder gs_builder;

/* A builder for a model importing the default domain at opset (7 to 24). */
GS_API gs_status gs_builder_new(gs_ctx *ctx, int64_t opset, gs_builder **out);
GS_API void gs_builder_free(gs_builder *b);
/* A graph input. dims[k] < 0 is a dim of unknown size, named syms[k] when
 * syms is not NULL and syms[k] is not NULL; rank -1: the shape is unknown. */
GS_API gs_status gs_builder_input(gs_builder *b, const char *name, gs_dtype dtype, int rank,
                                  const int64_t *dims, const char *const *syms);
/* A weight: nbytes of raw row-major little-endian data (numeric types). */
GS_API gs_status gs_builder_initializer(gs_builder *b, const char *name, gs_dtype dtype, int rank,
                                        const int64_t *dims, const void *data, size_t nbytes);
/* A node; domain NULL or "" is the default ONNX domain; name may be NULL. An
 * input name "" is an absent optional input. */
GS_API gs_status gs_builder_node(gs_builder *b, const char *op, const char *domain, const char *name,
                                 const char *const *inputs, int ninputs,
                                 const char *const *outputs, int noutputs);
/* Attributes of the node added last. */
GS_API gs_status gs_builder_attr_int(gs_builder *b, const char *name, int64_t v);
GS_API gs_status gs_builder_attr_float(gs_builder *b, const char *name, float v);
GS_API gs_status gs_builder_attr_string(gs_builder *b, const char *name, const char *v);
GS_API gs_status gs_builder_attr_ints(gs_builder *b, const char *name, const int64_t *v, int n);
GS_API gs_status gs_builder_attr_floats(gs_builder *b, const char *name, const float *v, int n);
GS_API gs_status gs_builder_attr_tensor(gs_builder *b, const char *name, gs_dtype dtype, int rank,
                                        const int64_t *dims, const void *data, size_t nbytes);
/* A graph output with its element type (ONNX requires one); its shape is
 * left to shape inference. */
GS_API gs_status gs_builder_output(gs_builder *b, const char *name, gs_dtype dtype);
/* The model; b is freed whatever the result. The model is checked as a
 * loaded one is (GS_ERR_MODEL naming the problem) and its shapes inferred. */
GS_API gs_status gs_builder_finish(gs_builder *b, gs_model **out);

/* ---- running ------------------------------------------------------------ */

/* A dense tensor in row-major order. Arrays made by the library are freed
 * with gs_array_free; data is owned by the array. */
typedef struct gs_array {
    gs_dtype dtype;
    int rank;
    int64_t dims[16];
    void *data;
    size_t nbytes;
} gs_array;

/* A new zero-filled array; NULL when memory is short or the shape is invalid. */
GS_API gs_array *gs_array_new(gs_ctx *ctx, gs_dtype dtype, int rank, const int64_t *dims);
GS_API void gs_array_free(gs_ctx *ctx, gs_array *a);
/* Read / write one onnx TensorProto file (the ONNX test-data layout: input_0.pb...). */
GS_API gs_status gs_array_load(gs_ctx *ctx, const char *path, gs_array **out);
GS_API gs_status gs_array_save(gs_ctx *ctx, const char *path, const gs_array *a);

/* Run the model in the reference interpreter. inputs[i] feeds graph input i
 * (initializers excluded; a NULL element, or one whose dtype, rank or a
 * known dim differs from the declared input, is GS_ERR_ARG); outputs[0..gs_model_output_count) receive new
 * arrays owned by the caller. A node whose op has no kernel is an error
 * (GS_ERR_UNSUPPORTED) naming the node and the op. */
GS_API gs_status gs_model_run(gs_ctx *ctx, gs_model *m, const gs_array *const *inputs, int ninputs,
                              gs_array **outputs);
/* Random inputs for the model: floats uniform in [-1, 1), integers in [0, 4),
 * bools; unknown or symbolic dims take the value given by "name=value" in
 * dims (NULL-terminated, may be NULL), else 1. inputs receives
 * gs_model_input_count arrays. */
GS_API gs_status gs_model_random_inputs(gs_ctx *ctx, const gs_model *m, uint64_t seed,
                                        const char *const *dims, gs_array **inputs);
/* Infer the shapes of every value (exported models carry them in value_info). */
GS_API gs_status gs_model_infer_shapes(gs_model *m);
/* Estimated cost of one node in seconds on the default profile (generic
 * x86-64 core), with its FLOPs and bytes moved (either may be NULL); 0 for
 * nodes that constant folding removes. Uses the shapes known so far. */
GS_API double gs_node_cost(const gs_model *m, int node, double *flops, double *bytes);
/* 1 when the value's rank is known and every dim is a size or a symbol, else 0. */
GS_API int gs_value_shape_known(const gs_model *m, int value);

/* Element-wise comparison: |got - want| <= atol + rtol * max(|want|, m / 100)
 * where m is the largest |want| of the tensor (so float rounding near zero
 * is judged against the tensor's scale); integers must be equal; NaN equals NaN. */
typedef struct gs_diff {
    double max_abs, max_rel;     /* largest differences */
    int64_t worst;               /* flat index of the worst element, or -1 */
    double got, want;            /* values at the worst element */
    int ok;                      /* 1 when every element is within tolerance */
} gs_diff;
/* Compare two arrays; GS_ERR_MISMATCH (message set) when the types or
 * shapes differ. */
GS_API gs_status gs_array_compare(gs_ctx *ctx, const gs_array *got, const gs_array *want,
                                  double rtol, double atol, gs_diff *diff);

typedef struct gs_verify_opts {
    int version;                 /* GS_VERIFY_OPTS_VERSION */
    uint64_t seed;
    int trials;                  /* random input sets (0: 1) */
    double rtol, atol;           /* 0: 1e-3 and 1e-4; rtol 0 is 1e-2 when the first model
                                    computes in float16 or bfloat16 (a value of either type
                                    in its graph: 11 bits, rounded at every op) */
    const char *const *dims;     /* "name=value" for dynamic dims, NULL-terminated; a symbolic
                                    input dim not named here takes 2 + (k + t) % 5 in trial t
                                    (k: its place among the inputs' symbols), and at least two
                                    trials run when there is one */
} gs_verify_opts;
#define GS_VERIFY_OPTS_VERSION 1

typedef struct gs_output_diff {
    const char *name;            /* output name (owned by model a) */
    gs_diff diff;                /* worst over the trials */
    const char *range;           /* the input range of that worst trial (a static string) */
} gs_output_diff;

/* Run a and b on the same random inputs and compare every output of a with
 * the output of b of the same name. Each trial draws the float inputs from
 * each of gs_verify_range_count() ranges in turn ([-1, 1), large values,
 * zeros); integers from [0, 4). Inputs are bound by name.
 * Before running, the interfaces must agree: a has at least one output
 * (else GS_ERR_MODEL); both take inputs of the same names, types, ranks and
 * known dims, and give outputs of the same names (else GS_ERR_MISMATCH);
 * every opts->dims entry is "NAME=VALUE" with VALUE a decimal integer in
 * [0, 2^31) and NAME a symbolic dim of an input (else GS_ERR_ARG).
 * diffs (may be NULL) receives one entry per output of a, freed with
 * gs_free. GS_ERR_MISMATCH when any output differs; the message names the
 * output and the input range. opts may be NULL. */
GS_API gs_status gs_model_compare(gs_ctx *ctx, gs_model *a, gs_model *b, const gs_verify_opts *opts,
                                  gs_output_diff **diffs, int *ndiffs);
/* How many trials gs_model_compare runs on a with these options (opts may
 * be NULL): opts->trials, or 2 when it is below 2 and an input has a symbolic
 * dim opts->dims does not bind; -1 on an error (message set). */
GS_API int gs_model_compare_trials(gs_ctx *ctx, const gs_model *a, const gs_verify_opts *opts);
/* The input ranges gs_model_compare tries, and the name of range i ("[-1, 1)"), or NULL. */
GS_API int gs_verify_range_count(void);
GS_API const char *gs_verify_range_name(int i);

/* ---- rules --------------------------------------------------------------- */

/* Called once per rule: class is "cleanup" or "search"; verdict is -1 when
 * only listing, else 0 ok, 1 failed, 2 unchecked, with detail saying why. */
typedef void (*gs_rule_cb)(void *ud, const char *name, const char *file, const char *ops,
                           const char *doc, const char *cls, int verdict, const char *detail);
/* List (check = 0) or numerically check (check = 1) the rules of the given
 * files or folders (NULL-terminated; NULL or empty: the default library).
 * *nfailed (may be NULL) receives the number of failed rules. A rule file
 * with an error fails the call (GS_ERR_RULE) naming file, rule and position. */
GS_API gs_status gs_rules_each(gs_ctx *ctx, const char *const *paths, int check, gs_rule_cb cb,
                               void *ud, int *nfailed);

/* What gs_rules_generate found. */
typedef struct gs_rulegen_stats {
    int expressions;             /* expressions enumerated */
    int equal;                   /* of them, with the fingerprint of an earlier one */
    int candidates;              /* rules from an expression to the first of its group */
    int pruned;                  /* of them, redundant (a smaller rule, or a more general one) */
    int verified;                /* the rest whose sides agree on two more runs */
    int checked;                 /* of those, passing `rules check`: the rules written */
} gs_rulegen_stats;
/* Generate rules the way TASO does: every expression of 1 to max_nodes ops
 * from ops (comma separated: Add, Mul, Sub, Div, Max, Min, MatMul,
 * Transpose, Relu, Neg, Exp, Log, Sqrt, Abs, Sigmoid, Tanh, Reciprocal) over
 * up to three square matrices, fingerprinted on random inputs in the
 * reference interpreter, grouped, pruned of redundant rules, verified on
 * other shapes and values, checked as `rules check` does. *json receives a
 * rule file (free with gs_free); stats may be NULL. */
GS_API gs_status gs_rules_generate(gs_ctx *ctx, const char *ops, int max_nodes, char **json,
                                   gs_rulegen_stats *stats);

/* Called once per node of the op of the rule's first statement (node and op
 * NULL for a note about the whole model): matched is 1 when the rule
 * matches there, else why gives the first condition that failed with the
 * values it saw, or the step of the pattern that did not fit. */
typedef void (*gs_explain_cb)(void *ud, const char *node, const char *op, int matched, const char *why);
/* Why rule `rule` (from the given files or folders, NULL or empty: the
 * default library) does or does not match at each node of model's main
 * graph, as read (after shape inference; before any other rule fired).
 * GS_ERR_ARG when no loaded rule has that name. */
GS_API gs_status gs_rules_explain(gs_ctx *ctx, const char *const *paths, const char *rule, gs_model *model,
                                  gs_explain_cb cb, void *ud);

/* ---- optimizing --------------------------------------------------------- */

/* Per-node cost callback: return the estimated seconds of one node, given
 * its op, FLOPs and bytes moved as computed by graphsub. */
typedef double (*gs_cost_cb)(void *ud, const char *op, double flops, double bytes);

/* What the search has done so far, for gs_optimize_opts.progress_ex. The
 * search runs region by region over the graph being searched (the main graph,
 * then each If/Loop/Scan body searched in its own call); figures are for that
 * whole graph, not one region. */
typedef struct gs_progress {
    int regions_done;            /* regions searched so far */
    int regions_total;           /* regions the graph is cut into */
    int expanded;                /* candidates expanded so far, all regions */
    double cost_start;           /* estimated cost (seconds) of the graph when the search began */
    double best_cost;            /* estimated cost of the graph with the best rewrites found */
    double elapsed;              /* seconds since the search began */
} gs_progress;
/* Called after each candidate the search expands (often: throttle any
 * output). Return 0 to go on; any other value stops the search as its time
 * limit would: the rewrites found so far are kept, the cleanup after the
 * search still runs, and gs_optimize returns GS_OK with a valid model. The
 * callback runs on the thread that called gs_optimize. */
typedef int (*gs_progress_cb)(void *ud, const gs_progress *p);

typedef struct gs_optimize_opts {
    int version;                 /* GS_OPTIMIZE_OPTS_VERSION */
    int level;                   /* 0 round trip, 1 cleanup, 2 cleanup + search (default) */
    double alpha;                /* relaxation: keep candidates below alpha * best, from 1
                                    to 10 (0: 1.05) */
    int budget;                  /* candidates expanded by the search (0: none) */
    double time_limit;           /* seconds for the search and for each cleanup phase (0: the
                                    search stops at once, each cleanup phase after one pass) */
    int no_default_rules;        /* 1: only the rules given below */
    const char *const *rule_paths;   /* extra rule files or folders, NULL-terminated or NULL */
    const char *profile_path;    /* device profile JSON, or NULL for the generic x86-64 core;
                                    its "opset" and "rules" (profiles/README.md) raise the
                                    model's opset and add rules as --opset and --rules do */
    gs_cost_cb cost_cb;          /* replaces the analytic per-node cost when set */
    void *cost_ud;
    void (*progress)(void *ud, int expanded, double best_cost);  /* may be NULL; candidates
                                    expanded and best cost of the whole graph being searched */
    void *progress_ud;
    /* version 2: */
    int target_opset;            /* raise the default-domain opset to this first (0: keep),
                                    when every op keeps its meaning (13 <= opset, target <= 24) */
    /* version 3: */
    const char *const *disabled_rules;  /* names of rules that never apply, NULL-terminated
                                           or NULL; a name that is no loaded rule is GS_ERR_ARG */
    const char *const *only_rules;      /* when not NULL: only these rules apply (the same
                                           check); NULL-terminated */
    const char *rules_json;      /* rules from memory: the text of a rule file (NUL-terminated),
                                    loaded after rule_paths; messages call it "<rules_json>" */
    gs_progress_cb progress_ex;  /* whole-graph progress; a non-zero return stops the search
                                    (may be NULL) */
    /* version 4: */
    int search;                  /* GS_SEARCH_TASO (0, default), GS_SEARCH_OCGGS or
                                    GS_SEARCH_OCGGS_SAMPLE */
    unsigned search_seed;        /* GS_SEARCH_OCGGS_SAMPLE: the same seed, the same result */
} gs_optimize_opts;
#define GS_OPTIMIZE_OPTS_VERSION 4   /* versions 1 to 3 (without the later fields) are accepted */

/* The search algorithms (gs_optimize_opts.search). */
enum {
    GS_SEARCH_TASO = 0,          /* best-first over every order of the rewrites (TASO) */
    GS_SEARCH_OCGGS = 1,         /* the same queue, each set of independent rewrites in one
                                    order only, and matches the last rewrite left alone
                                    reused (Fang et al., PVLDB 2020) */
    GS_SEARCH_OCGGS_SAMPLE = 2,  /* grown a step at a time (matches reused as OCGGS does),
                                    keeping a weighted sample of the cost-lowering and of
                                    the promising cost-raising candidates of each step */
};

/* Fill opts with the defaults: level 2, alpha 1.05, budget 400, time limit
 * 10 s, nothing else set. A field left 0 means what its comment says: a
 * zeroed struct with only its version set is a round trip (level 0), and
 * level 2 with the rest zeroed cleans up once and expands no candidate.
 * gs_optimize with NULL options uses these defaults. */
GS_API void gs_optimize_opts_init(gs_optimize_opts *opts);

typedef struct gs_rewrite_step {
    const char *rule;            /* rule name */
    const char *nodes;           /* names of the matched nodes, comma separated; a comma or
                                    backslash inside a name is preceded by a backslash */
    double cost_delta;           /* change in estimated cost (seconds) */
} gs_rewrite_step;

typedef struct gs_report {
    int version;                 /* GS_REPORT_VERSION */
    int nodes_before, nodes_after;
    double cost_before, cost_after;          /* estimated seconds */
    int candidates;              /* candidates generated by the search */
    int expanded;                /* candidates expanded */
    double time_ms;              /* search time */
    int nrules;                  /* distinct rules applied */
    const char **rule_names;     /* rule_names[i] applied rule_counts[i] times */
    int *rule_counts;
    int nsteps;                  /* rewrites on the path to the result, in order */
    gs_rewrite_step *steps;
    int folded;                  /* nodes replaced by constants */
    /* version 2: */
    int tried;                   /* rewrites the search applied to a candidate and priced */
    /* version 3: */
    int widened;                 /* float16 nodes made to compute in float32 (the profile's
                                    float16_compute) */
} gs_report;
#define GS_REPORT_VERSION 3      /* versions 1 (without tried) and 2 (without widened) are
                                    accepted too */

/* Optimize m in place. report may be NULL; when given, its version must be
 * set, and gs_report_clear frees what the call put in it. */
GS_API gs_status gs_optimize(gs_ctx *ctx, gs_model *m, const gs_optimize_opts *opts,
                             gs_report *report);
GS_API void gs_report_clear(gs_ctx *ctx, gs_report *report);

#ifdef __cplusplus
}
#endif
#endif /* GRAPHSUB_H */
