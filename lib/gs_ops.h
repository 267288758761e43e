/*
 * gs_ops.h - the op registry, shape inference, cost and the reference
 * interpreter's kernel interface.
 *
 * Every op of the default ONNX domain that graphsub understands is one row
 * (gs_opdef) in one of the tables listed in ops.c. A row carries the op's
 * signature and flags and points at three small functions: shape inference,
 * cost, and a reference kernel. Ops without a row are opaque: carried
 * through untouched, never evaluated.
 */
#ifndef GS_OPS_H
#define GS_OPS_H

#include "gs_int.h"

enum {                          /* gs_opdef.flags */
    GS_OP_ELEMENTWISE = 1 << 0, /* output[i] depends on input[i] only (after broadcast) */
    GS_OP_COMMUTATIVE = 1 << 1, /* inputs 0 and 1 may be swapped */
    GS_OP_ASSOCIATIVE = 1 << 2,
    GS_OP_SHAPE_ONLY = 1 << 3,  /* output depends on input shapes only (Shape, Size) */
    GS_OP_LAYOUT = 1 << 4,      /* moves data without arithmetic (Reshape, Transpose...) */
    GS_OP_RANDOM = 1 << 5,      /* nondeterministic: never folded */
    GS_OP_CONTROL = 1 << 6,     /* has subgraphs (If, Loop, Scan) */
    GS_OP_GAPS = 1 << 7,        /* required inputs after the first may be empty names (Resize's roi) */
    GS_OP_ANY_ALIGN = 1 << 8,   /* the kernel reads inputs at any address (memcpy, gs_tensor_get_*):
                                   constant folding passes a mapped weight without an aligned copy */
    GS_OP_SEQUENCE = 1 << 9,    /* makes or reads a sequence (ops_sequence.c): never folded, merged
                                   or hoisted, since a constant cannot hold one */
    GS_OP_NO_FOLD = 1 << 10,    /* evaluated by the interpreter, never folded into a constant
                                   (a DequantizeLinear of a weight stays for quantized kernels) */
};

typedef struct gs_interp gs_interp;

/* What a kernel sees besides its tensors. */
typedef struct gs_kcall {
    gs_ctx *ctx;
    const gs_graph *graph;      /* graph of the node */
    const gs_node *node;
    int64_t opset;              /* default-domain opset of the model */
    gs_interp *interp;          /* for ops that run subgraphs */
} gs_kcall;

/* A reference kernel. in[k] is NULL for an absent optional input. The kernel
 * sets dtype/rank/dims of each out[k] and allocates its data with
 * gs_tensor_alloc; on error it returns a status with a message naming the
 * node and the problem (the caller frees any outputs already allocated). */
typedef gs_status (*gs_kernel_fn)(gs_kcall *k, const gs_tensor *const *in, int nin,
                                  gs_tensor *out, int nout);

/* Shape inference: set dtype/rank/dims of the node's outputs from its inputs
 * (and constant inputs' values where needed). Unknown stays unknown (rank -1);
 * return GS_OK unless the node is provably invalid. */
typedef gs_status (*gs_infer_fn)(gs_graph *g, gs_node *n);

typedef struct gs_cost {
    double flops;               /* arithmetic operations */
    double bytes_read;          /* input bytes */
    double bytes_written;       /* output bytes */
    double gemm_cols;           /* a matrix product: columns of its output (0 otherwise), for
                                   the profile's GEMM width efficiency */
} gs_cost;

/* Cost of one node from its (inferred) shapes; unknown dims count as 1. */
typedef void (*gs_cost_fn)(const gs_graph *g, const gs_node *n, gs_cost *c);

/* What raising a model's default-domain opset (opset.c, from 13 up to
 * GS_RAISE_MAX) does to a node of an op. */
typedef enum gs_raise {
    GS_RAISE_NO = 0,            /* meaning or signature changed: the model is not raised */
    GS_RAISE_KEEP,              /* the same at every opset from 13 to GS_RAISE_MAX given its
                                   defaults (later versions only added types, or attributes
                                   whose defaults keep the old behaviour) */
    GS_RAISE_AXES_TO_INPUT,     /* from 18: axes is an input, not an attribute (Reduce*) */
    GS_RAISE_SPLIT_COUNT,       /* from 18: without a split input, num_outputs is required */
    GS_RAISE_INFERENCE_BN,      /* from 14: outputs 1-4 changed meaning; inference form only */
    GS_RAISE_POOL_CEIL,         /* from 22: with ceil_mode, windows that start in the right
                                   padding are dropped; without it, kept (MaxPool, AveragePool) */
    GS_RAISE_CAST_FLOAT8,       /* from 24: casts to float8 types saturate infinities
                                   differently; any other cast kept */
} gs_raise;
enum { GS_RAISE_MIN = 13, GS_RAISE_MAX = 24 };   /* opsets a model is raised from and to */

typedef struct gs_opdef {
    const char *name;
    int since, until;           /* opset range handled; until 0 = up to the latest */
    int8_t min_in, max_in;      /* max_in -1: variadic */
    int8_t min_out, max_out;
    uint32_t flags;             /* GS_OP_* */
    const char *attrs;          /* "axis:i=0 keepdims:i=1 perm:ints" documentation and checks */
    gs_infer_fn infer;          /* NULL: outputs stay unknown */
    gs_cost_fn cost;            /* NULL: gs_cost_default */
    gs_kernel_fn kernel;        /* NULL: cannot be evaluated */
    int8_t raise;               /* gs_raise: the row is the one place that says it */
} gs_opdef;

/* ---- ops.c: the registry ---------------------------------------------- */

/* The row for op in domain ("" or "ai.onnx") at opset, or NULL. */
const gs_opdef *gs_op_find(const char *op, const char *domain, int64_t opset);
/* An attribute's default, from a row's schema ("axis:i=0", "mode:s=constant",
 * "strides:ints=1": a list of that value, of any length). */
typedef struct gs_attr_default {
    char kind;                  /* 'i', 'f', 's', 'l' (a list of num) */
    double num;                 /* 'i', 'f', 'l' */
    const char *str;            /* 's': not NUL-terminated, slen bytes */
    size_t slen;
} gs_attr_default;
/* The default of attribute name in row d's schema; false when it gives none. */
bool gs_op_attr_default(const gs_opdef *d, const char *name, gs_attr_default *out);
/* Calls fn for every row (for listings and tests). */
void gs_op_each(void (*fn)(const gs_opdef *d, void *ud), void *ud);
/* True when n's input and output counts fit the row and its required
 * inputs are present (checked before any infer, cost or kernel function
 * looks at n's operands). */
bool gs_op_fits(const gs_opdef *d, const gs_node *n);

/* ---- cost.c: counts for the rows' cost functions ---------------------- */

/* The default (a row without a cost function): one operation per output
 * element, bytes of every distinct input and of the outputs. */
void gs_cost_default(const gs_graph *g, const gs_node *n, gs_cost *c);
/* The size a cost estimate gives dim d: its value; GS_COST_DIM_UNKNOWN when
 * it is symbolic or unknown (a batch, a sequence: priced at a typical size
 * rather than 1, where every op's fixed cost would outweigh its data and a
 * rewrite that saves ops but copies data would look cheap); 1 for 0. */
#define GS_COST_DIM_UNKNOWN 64
double gs_cost_dim(gs_dim d);
/* Elements of v (dims as gs_cost_dim gives them, and a NULL v as one
 * element) and its bytes (4 per element when the type is unknown, 0 for a
 * NULL v). */
double gs_value_elems(const gs_value *v);
double gs_value_bytes(const gs_value *v);

/* Tables, each terminated by a row with name NULL. */
extern const gs_opdef gs_ops_elementwise[];  /* ops_elementwise.c */
extern const gs_opdef gs_ops_tensor[];       /* ops_tensor.c: shape/layout/index ops */
extern const gs_opdef gs_ops_reduce[];       /* ops_reduce.c */
extern const gs_opdef gs_ops_nn[];           /* ops_nn.c: MatMul, Gemm */
extern const gs_opdef gs_ops_conv[];         /* ops_conv.c: Conv, ConvTranspose, pools */
extern const gs_opdef gs_ops_norm[];         /* ops_norm.c: normalizations, softmax */
extern const gs_opdef gs_ops_einsum[];       /* ops_einsum.c */
extern const gs_opdef gs_ops_control[];      /* ops_control.c: If, Constant... */
extern const gs_opdef gs_ops_index[];        /* ops_index.c: Trilu, CumSum, scatters */
extern const gs_opdef gs_ops_attention[];    /* ops_attention.c: RotaryEmbedding, Attention */
extern const gs_opdef gs_ops_sequence[];     /* ops_sequence.c: SequenceInsert, ConcatFromSequence... */
extern const gs_opdef gs_ops_rnn[];          /* ops_rnn.c: LSTM */
extern const gs_opdef gs_ops_quant[];        /* ops_quant.c: QuantizeLinear, DequantizeLinear, the
                                                integer products (MatMulInteger, QLinearConv...) */
extern const gs_opdef gs_ops_detect[];       /* ops_detect.c: NonZero, TopK, GatherND, NMS, RoiAlign */
extern const gs_opdef gs_ops_sample[];       /* ops_sample.c: GridSample */

/* ---- ops_sequence.c ----------------------------------------------------- */

/* t is a sequence of tensors (GS_T_SEQUENCE), not a tensor. */
bool gs_seq_is(const gs_tensor *t);

/* ---- tensor.c: helpers for kernels ------------------------------------ */

/* Allocate t->data for t's dtype and dims (zeroed); sets nbytes and GS_T_OWNED. */
gs_status gs_tensor_alloc(gs_ctx *ctx, gs_tensor *t);
/* The same, not zeroed: for a caller that writes every byte (a copy, a
 * Concat), so a large weight is touched once instead of twice. */
gs_status gs_tensor_alloc_raw(gs_ctx *ctx, gs_tensor *t);
/* Free data if owned and reset the tensor to empty. */
void gs_tensor_clear(gs_ctx *ctx, gs_tensor *t);
/* Free a heap tensor made by gs_tensor_new / gs_onnx_read_tensor. */
void gs_tensor_free(gs_ctx *ctx, gs_tensor *t);
gs_tensor *gs_tensor_new(gs_ctx *ctx);
/* A new heap tensor with its own (aligned) copy of t's data; NULL on no memory. */
gs_tensor *gs_tensor_dup(gs_ctx *ctx, const gs_tensor *t);
/* Kernel errors naming the node: an invalid node (GS_ERR_MODEL), or a mode
 * the kernel does not support (GS_ERR_UNSUPPORTED, "<what> is not supported"). */
gs_status gs_kfail(gs_kcall *k, const char *what);
gs_status gs_kunsupported(gs_kcall *k, const char *what);
/* Set out's type and shape and allocate it (zeroed). */
gs_status gs_kmake(gs_kcall *k, gs_tensor *out, int32_t dtype, const int64_t *dims, int rank);
/* The same, not zeroed: for a kernel that writes every output element. */
gs_status gs_kmake_raw(gs_kcall *k, gs_tensor *out, int32_t dtype, const int64_t *dims, int rank);
/* Read element i of any numeric tensor as double / int64. */
double gs_tensor_get_f(const gs_tensor *t, int64_t i);
int64_t gs_tensor_get_i(const gs_tensor *t, int64_t i);
/* Axis attribute a of a rank-r tensor counted from the front, or -1 when it
 * is not in [-r, r) (no huge value wraps round when narrowed). */
int gs_axis(int64_t a, int r);
void gs_tensor_set_f(gs_tensor *t, int64_t i, double v);
void gs_tensor_set_i(gs_tensor *t, int64_t i, int64_t v);

/* ---- ops_sample.c: cubic convolution (GridSample, Resize) --------------- */

/* The weights w[0..4) of the neighbours at distances 1 + t, t, 1 - t and
 * 2 - t (t in [0, 1)) in cubic convolution with coefficient A (Keys; -0.75
 * as PyTorch and ONNX use, -0.5 as TensorFlow). */
void gs_cubic_weights(double t, double A, double *w);

/* ---- ops_nn.c: helpers shared by the nn kernels ------------------------- */

/* A float32 view of numeric tensor x: x's own data when it is float32, else
 * a converted copy allocated in *tmp (the caller clears tmp either way). */
gs_status gs_op_as_float(gs_kcall *k, const gs_tensor *x, gs_tensor *tmp, const float **out);
/* Move the float32 result f into out converted to dtype (out takes f's data
 * when dtype is float32); f is empty afterwards. */
gs_status gs_op_from_float(gs_kcall *k, gs_tensor *f, gs_tensor *out, int32_t dtype);
/* True for float32, float64, float16 and bfloat16. */
bool gs_op_floatlike(int32_t dtype);
/* A matrix operand of gs_op_gemm: element (i, j) is p[i * rs + j * cs]. */
typedef struct gs_fmat {
    const float *p;
    int64_t rs, cs;
} gs_fmat;
/* c[i * ldc + j] += alpha * sum over p < k of a(i, p) * b(p, j), for i < m,
 * j < n. Cache-blocked and vectorized when b's rows are contiguous (b.cs 1);
 * plain loops otherwise. c must not overlap a or b. */
void gs_op_gemm(int64_t m, int64_t n, int64_t k, float alpha, gs_fmat a, gs_fmat b, float *c,
                int64_t ldc);

/* ---- broadcast.c: numpy-style multidirectional broadcasting ------------ */

/* Broadcast shape of a and b into out; false if incompatible. */
bool gs_broadcast_shape(const int64_t *a, int ra, const int64_t *b, int rb,
                        int64_t *out, int *rout);
/* For output flat index i (shape out/rout), the flat index into an input of
 * shape in/rin broadcast to it. Strides precomputed by gs_bcast_init. */
typedef struct gs_bcast {
    int rank;
    int64_t out_dims[GS_MAX_RANK];
    int64_t in_strides[GS_MAX_RANK];   /* 0 where the input dim is broadcast */
} gs_bcast;
void gs_bcast_init(gs_bcast *b, const int64_t *out, int rout, const int64_t *in, int rin);
int64_t gs_bcast_index(const gs_bcast *b, int64_t i);

/* ---- ops_nn.c: MatMul's plan, shared with the integer products -------- */

/* The shape of a MatMul of a by b (numpy batching: a 1-D a is a row, a 1-D b
 * a column, and the output drops their dim), also planned for MatMulInteger
 * and QLinearMatMul. */
typedef struct gs_mm_plan {
    int64_t m, k, n;
    int64_t adims[GS_MAX_RANK], bdims[GS_MAX_RANK];  /* operands as matrices (1-D promoted) */
    int ar, br;
    int64_t batch[GS_MAX_RANK];                      /* broadcast batch dims */
    int rb;
    int64_t dims[GS_MAX_RANK];                       /* output dims */
    int rank;
    gs_bcast ba, bb;                                 /* output matrix to a's and to b's */
    int64_t count;                                   /* output matrices to compute: the batch's,
                                                        none when they are empty ([2^40, 3, 0, 0]) */
} gs_mm_plan;
/* Plan a x b into p; fails naming the problem (a rank 0 operand, inner dims
 * that differ, batch dims that do not broadcast). Types are the caller's. */
gs_status gs_op_mm_plan(gs_kcall *k, const gs_tensor *a, const gs_tensor *b, gs_mm_plan *p);
/* For output matrix t (below p->count), the index of the
 * matrix of a and of b it multiplies (in their own batch dims). */
void gs_op_mm_batch(const gs_mm_plan *p, int64_t t, int64_t *ta, int64_t *tb);
/* MatMul's output shape from operands a and b (NULL: unknown) as n's output
 * 0 of type dtype; nothing is set while a rank is unknown (or 0). */
gs_status gs_op_infer_matmul(gs_graph *g, gs_node *n, const gs_value *a, const gs_value *b, int32_t dtype);
/* MatMul's cost for any node whose input 0 is the left operand (MatMul,
 * MatMulInteger, QLinearMatMul): 2 * output elements * K flops, bytes of
 * every input and of the output. */
void gs_op_cost_matmul(const gs_graph *g, const gs_node *n, gs_cost *c);

/* ---- ops_conv.c: Conv's plan, shared with the integer convolutions ----- */

/* A sliding window over nd spatial dims (Conv, ConvTranspose, the pools). */
typedef struct gs_window {
    int nd;                                            /* spatial dims */
    int64_t kernel[GS_MAX_RANK], stride[GS_MAX_RANK], dil[GS_MAX_RANK];
    int64_t pad0[GS_MAX_RANK], pad1[GS_MAX_RANK];      /* before and after each dim */
    int64_t in[GS_MAX_RANK];                           /* spatial dims of the image */
    int64_t out[GS_MAX_RANK];                          /* window positions per dim */
} gs_window;
/* A convolution of image x [N, C, spatial...] by weight w [M, C / group,
 * kernel...] as one matrix product per image and group: output channels
 * g * mg ... of image n are w's rows for them [mg, rows] times the im2col
 * matrix [rows, osz] of x's channels g * cg ... of image n. */
typedef struct gs_conv_plan {
    gs_window win;
    int64_t group, cg, mg;      /* groups; input and output channels of each */
    int64_t isz, osz, ksz;      /* elements of an image plane, an output plane, a kernel */
    int64_t rows;               /* rows of the im2col matrix: cg * ksz */
    bool direct;                /* 1x1 kernel, unit strides, no pads: the image is its own im2col matrix */
    int64_t dims[GS_MAX_RANK];  /* output dims [N, M, window positions...] */
    int rank;
} gs_conv_plan;
/* Plan the convolution of node k->node (its group and window attributes)
 * over x and w: checks their ranks, the channels against the groups, bias b
 * (NULL, or one value per output channel) and that every size fits int64;
 * fails naming the problem. Types are the caller's. */
gs_status gs_op_conv_plan(gs_kcall *k, const gs_tensor *x, const gs_tensor *w, const gs_tensor *b,
                          gs_conv_plan *p);
/* The im2col matrix [p->rows, p->osz] of one group's image planes img (p->cg
 * planes of p->isz elements) into col: row c * ksz + kk holds, at window
 * position o, the element of plane c under kernel offset kk (0 in padding). */
void gs_op_im2col(const gs_conv_plan *p, const float *img, float *col);
/* Conv's output shape [N, M, positions...] from image x, weight w (or
 * kernel_shape when w's dims are unknown) and n's attributes, as n's output 0
 * of type dtype; nothing is set while x or w is unknown, or their ranks do
 * not fit (x's below 3, or w's another). */
gs_status gs_op_infer_conv(gs_graph *g, gs_node *n, const gs_value *x, const gs_value *w, int32_t dtype);
/* Conv's cost for node n whose weight is input wk (Conv, ConvInteger: 1;
 * QLinearConv: 3): two flops per output element and weight element of one
 * output channel, bytes of every input and of the output. */
void gs_op_cost_conv(const gs_graph *g, const gs_node *n, int wk, gs_cost *c);

/* ---- interp.c: the reference interpreter ------------------------------ */

/* Run graph g of model m. inputs[k] feeds graph input k (by position in
 * g->inputs, initializers excluded); outputs are returned in g->outputs order
 * as tensors owned by the caller (free each with gs_tensor_free). */
gs_status gs_interp_run(gs_ctx *ctx, const gs_graph *g,
                        const gs_tensor *const *inputs, int ninputs,
                        gs_tensor **outputs, int noutputs);

/* Run subgraph sub within a running interpreter: its outer-scope names
 * resolve in the caller's values (for If, Loop, Scan kernels). */
gs_status gs_interp_run_sub(gs_interp *parent, const gs_graph *sub,
                            const gs_tensor *const *inputs, int ninputs,
                            gs_tensor **outputs, int noutputs);

/* ---- infer.c: shape inference ----------------------------------------- */

/* Infer every node's outputs in topological order (subgraphs included);
 * ops without an infer function leave their outputs as they are. */
gs_status gs_infer_graph(gs_graph *g);
/* Set value v's type; dims (rank entries, may be NULL for rank -1) are
 * copied. Marks the value GS_V_TYPED when anything changed. */
gs_status gs_infer_set(gs_graph *g, gs_id v, int32_t dtype, int rank, const gs_dim *dims);
/* Forget v's shape (rank -1): inference found its node can never run, so
 * no shape, not even one declared before, is written for it. */
void gs_infer_forget(gs_graph *g, gs_id v);
/* Output 0 has input 0's type and shape. */
gs_status gs_infer_same(gs_graph *g, gs_node *n);
/* Output 0: broadcast of every input's shape, input 0's dtype. */
gs_status gs_infer_bcast(gs_graph *g, gs_node *n);
/* As gs_infer_bcast with a bool output (comparisons). */
gs_status gs_infer_bcast_bool(gs_graph *g, gs_node *n);
/* GS_ERR_MODEL naming n: an output dim computed from n's inputs and
 * attributes overflows int64 or is negative (checked arithmetic,
 * __builtin_*_overflow, finds it; the dim is never exported wrapped). */
gs_status gs_infer_overflow(gs_graph *g, const gs_node *n);
/* Where: broadcast of the three inputs, the dtype of X (or of Y when X's is
 * unknown); never the condition's. */
gs_status gs_infer_where(gs_graph *g, gs_node *n);
/* Rows whose outputs follow from attributes and constant inputs (the shape
 * is left unknown where an input it depends on is not constant). */
gs_status gs_infer_constant_of_shape(gs_graph *g, gs_node *n);
gs_status gs_infer_range(gs_graph *g, gs_node *n);
gs_status gs_infer_tile(gs_graph *g, gs_node *n);
gs_status gs_infer_argminmax(gs_graph *g, gs_node *n);
/* Broadcast two dims into *out; false when they are known to differ. A
 * new name (or0(a)) lives in g's permanent arena. */
bool gs_infer_bdim(gs_graph *g, gs_dim a, gs_dim b, gs_dim *out);
/* When dim d is named or0(z) (GS_OR0, z a name) by graphsub (see
 * gs_infer_own_forms): z, not NUL-terminated, and its length in *len; NULL
 * otherwise. */
const char *gs_or0_of(const gs_graph *g, gs_dim d, size_t *len);
/* Whether dim names min(...) and or0(...) in g's model are graphsub's own,
 * read as what they say: true when the model named no dim so itself. */
bool gs_infer_own_forms(const gs_graph *g);
/* Resize, Upsample: input 0's dtype and rank (dims unknown). */
gs_status gs_infer_resize(gs_graph *g, gs_node *n);
/* The elements of small integer value v (at most GS_MAX_ELEMS, 0-D or 1-D)
 * into out (see GS_ELEM_UNKNOWN): a constant's, or what inference recorded
 * in v->elems (Shape, Gather, Slice, Concat, Unsqueeze, Squeeze, Cast, Add,
 * Sub, Mul, Div of such values). Returns their count, -1 when not known. */
int gs_infer_elems(const gs_graph *g, gs_id v, gs_dim *out);
/* An element from a dim and a dim from an element (a number below 0 gives
 * an unknown dim). */
gs_dim gs_elem_of_dim(gs_dim d);
gs_dim gs_dim_of_elem(gs_dim e);
/* a + b as a dim: a number, or a sum of dim names (see the top of infer.c's
 * dim expressions); unknown when either is. */
gs_dim gs_dim_add(gs_graph *g, gs_dim a, gs_dim b);
/* True when element e (a number or a dim name, see gs_elem_of_dim) is the
 * sum of elements a and b: `past + seq` of `past` and `seq`, 5 of 3 and 2. */
bool gs_elem_sum_is(gs_dim e, gs_dim a, gs_dim b);
/* True when element e is known not to be negative: a number >= 0, or a
 * sum of dim names with no coefficient below 0. */
bool gs_elem_nonneg(gs_dim e);
/* True when elements a and b are the same number, or expressions that are
 * equal for every value of their names (8*batch and batch*8). */
bool gs_elem_same(gs_dim a, gs_dim b);
/* a * b and a / k (k a number above 0) as elements: a number or a dim
 * expression (see the top of infer.c); the quotient only when it is exact
 * for every value of the names ((2*seq)/2 is seq, seq/2 unknown); unknown
 * when an input is, or a coefficient overflows int64. Names live in g's
 * permanent arena. */
gs_dim gs_elem_mul(gs_graph *g, gs_dim a, gs_dim b);
gs_dim gs_elem_div(gs_graph *g, gs_dim a, int64_t k);
/* a - b as an element (a number or a dim expression); unknown when either
 * is, or a coefficient overflows. */
gs_dim gs_elem_sub(gs_graph *g, gs_dim a, gs_dim b);
/* The product of dims x[0..rx) over that of dims t[0..r) other than
 * t[skip] (skip -1: all), when exact for every value of the names (equal
 * names cancel, then the rest divides by one number times names): a
 * number or a dim expression (a Reshape's -1); unknown otherwise. With
 * skip -1 the result is 1 exactly when the sizes are always equal. *never:
 * the two can never divide (numbers that do not, over the same names). */
gs_dim gs_infer_size_ratio(gs_graph *g, const gs_dim *x, int rx, const gs_dim *t, int r, int skip, bool *never);
/* The value of dim name sym (a name or an expression over names, see the
 * top of infer.c) where fn gives each name's value (false: not known). fn
 * is called on every name of sym, in order, known or not. False when some
 * name is unknown, sym is not an expression, or the value overflows. */
typedef bool (*gs_dim_name_fn)(void *ud, const char *name, size_t len, int64_t *value);
bool gs_dim_eval(const char *sym, gs_dim_name_fn fn, void *ud, int64_t *out);
/* True when a and b are the same size at run time: equal sizes or equal
 * names (expressions equal as gs_elem_same says). */
bool gs_dim_equal(gs_dim a, gs_dim b);
/* True when a and b are the same size wherever the dim or0(z) is z (z
 * first zlen bytes of z): gs_dim_equal with that name read as z in both (z
 * NULL: gs_dim_equal). A dim of an or0(z) value differs from z only where
 * that value is empty. */
bool gs_dim_equal_or0(gs_dim a, gs_dim b, const char *z, size_t zlen);
/* True when element e is a + b wherever or0(z) is z (see above; z NULL:
 * gs_elem_sum_is). */
bool gs_elem_sum_is_or0(gs_dim e, gs_dim a, gs_dim b, const char *z, size_t zlen);
/* A new name for a dim nothing names (GS_SYM_PREFIX and a number unused in
 * g's model), in g's permanent arena; NULL when memory is short. */
const char *gs_infer_fresh_sym(gs_graph *g);
/* The constant tensor of input k of n (an initializer), or NULL. */
const gs_tensor *gs_infer_const(const gs_graph *g, const gs_node *n, int k);

/* ---- widen.c: float16 computed in float32 -------------------------------- */

/* Make every node of g that computes in float16 only, of an op that computes
 * the same in float32, compute in float32 (weights converted, other inputs
 * cast up, outputs cast down where a reader or the graph wants float16);
 * *count receives the nodes widened. */
gs_status gs_widen_float16(gs_model *m, gs_graph *g, int *count);

/* ---- fold.c: constant folding ----------------------------------------- */

/* Evaluate every node whose inputs are all constants (and whose op is known
 * and not random) and make its outputs initializers owned by m; outputs
 * above max_bytes stay computed at run time. *folded receives the count. */
gs_status gs_fold_constants(gs_model *m, gs_graph *g, int *folded);
/* The one answer to "will constant folding evaluate node n?", used by the
 * folder itself (depth 0: its inputs are constants now), by the cost model
 * (a node that will fold costs nothing) and by the matcher (a root that will
 * fold is left to the folder): a known, deterministic op with a kernel, not
 * producing a graph output, reading only constants or values computed by
 * nodes that will fold (looking back at most depth producers) or the shape
 * of a value whose dims are known, and whose outputs, where inference knows
 * their size, are no larger than its inputs or 64 KiB. */
bool gs_fold_will_fold(const gs_graph *g, const gs_node *n, int depth);
/* v is a constant, or computed by nodes that will fold (at most depth back). */
bool gs_fold_const_value(const gs_graph *g, gs_id v, int depth);
/* The depth the cost model and the matcher look back (rewrites build short
 * constant expressions). */
enum { GS_FOLD_DEPTH = 8 };

#endif /* GS_OPS_H */
