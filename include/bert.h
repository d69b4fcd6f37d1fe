/*
 * bert.h — the public interface of libbert (bert.c).
 *
 * libbert loads Hugging Face BERT model directories (config.json +
 * model.safetensors, possibly sharded) and runs the BERT encoder and its
 * pre-training heads with the same arithmetic as Hugging Face transformers'
 * BertModel / BertForPreTraining.
 *
 * Usage in four calls:
 *
 *     bert_error err;
 *     bert_model *model;
 *     bert_model_params mp = bert_model_default_params();
 *     if (bert_model_load("path/to/model_dir", &mp, &model, &err) != BERT_OK) {
 *         fprintf(stderr, "%s\n", err.message);
 *         return 1;
 *     }
 *     bert_context *ctx;
 *     bert_context_params cp = bert_context_default_params();
 *     bert_context_create(model, &cp, &ctx, &err);
 *
 *     int32_t ids[] = {101, 7592, 2088, 102};
 *     bert_sequence seq = { .input_ids = ids, .n_tokens = 4 };
 *     bert_forward(ctx, &seq, 1, BERT_OUTPUT_HIDDEN | BERT_OUTPUT_POOLED, &err);
 *     const float *h = bert_output_hidden(ctx, 0);   // [4 x hidden_size]
 *
 *     bert_context_free(ctx);
 *     bert_model_free(model);
 *
 * Conventions
 *  - Every fallible call returns a bert_status and fills an optional
 *    bert_error (pass NULL when you only want the code). The library never
 *    prints and never exits.
 *  - A bert_model is immutable after loading and may be shared by any number
 *    of threads. A bert_context holds the working memory of one forward pass
 *    and must be used by one thread at a time; create one per thread.
 *  - A sequence's f32 outputs do not depend on the batch it runs in: the
 *    same bits alone or among others, with any n_threads, when the products
 *    run on oneDNN (the default where libdnnl is installed; `bert --version`
 *    names the backend; bf16 and int8 measured the same on AVX-512 without
 *    AMX, and are the same by construction on AMX, whose kernels sum each
 *    row alone). On OpenBLAS alone they agree to a few ulps.
 *  - Matrices are row-major. "[T x C]" means T rows of C floats.
 *  - Shape letters: B sequences in a batch, T tokens of one sequence,
 *    N tokens of the whole batch, C hidden size, V vocabulary size.
 */
#ifndef BERT_H
#define BERT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(BERT_STATIC_ONLY)
#define BERT_API __attribute__((visibility("default")))
#else
#define BERT_API
#endif

#define BERT_VERSION "0.1.0"

/* ------------------------------------------------------------------------
 * Status codes and errors
 * ---------------------------------------------------------------------- */

/* NOTE: always add codes at the end to keep the numbering stable. */
typedef enum {
    BERT_OK = 0,
    BERT_ERR_IO = 1,          /* a file or directory is missing or unreadable  */
    BERT_ERR_FORMAT = 2,      /* a file is malformed (JSON, safetensors)        */
    BERT_ERR_CONFIG = 3,      /* config.json is inconsistent or unsupported    */
    BERT_ERR_SHAPE = 4,       /* a tensor's shape or dtype does not fit        */
    BERT_ERR_INPUT = 5,       /* the caller's input is invalid                 */
    BERT_ERR_NOMEM = 6,       /* an allocation failed                          */
    BERT_ERR_UNSUPPORTED = 7, /* a valid but unsupported feature was requested */
    BERT_ERR_STATE = 8,       /* a call made in the wrong order                */
    BERT_ERR_INTERRUPTED = 9  /* stopped on request; the work so far is saved  */
} bert_status;

/* Filled by every fallible call when non-NULL. message is a single line
 * that names the file, tensor, field or input position concerned. */
typedef struct {
    bert_status code;
    /* For input errors of bert_forward(): the index of the offending
     * sequence in the batch (the message then starts "sequence N: "); -1
     * otherwise. */
    int item;
    char message[512];
} bert_error;

/* A short constant English name for a status code ("ok", "i/o error", ...). */
BERT_API const char *bert_status_string(bert_status code);

/* The library version string, e.g. "0.1.0". */
BERT_API const char *bert_version(void);

/* Write one line describing the compute backend into buf (cap bytes,
 * NUL-terminated, truncated if needed): the CPU's SIMD features found at
 * run time, the matrix-product library and, for OpenBLAS, the kernel family
 * it chose. Returns buf. */
BERT_API char *bert_system_info(char *buf, size_t cap);

/* When the BLAS runs kernels older than this CPU supports (OpenBLAS does not
 * recognise some virtualised CPUs and falls back to SSE3 "Prescott"
 * kernels, about 5x slower), the OPENBLAS_CORETYPE value that fixes it
 * ("SkylakeX", "Cooperlake", "Haswell"); otherwise NULL. The variable must be
 * set before the process starts (the `bert` tool re-executes itself with
 * it); a program linking libbert should set it in its environment. */
BERT_API const char *bert_blas_coretype_hint(void);

/* ------------------------------------------------------------------------
 * Models
 * ---------------------------------------------------------------------- */

typedef struct bert_model bert_model;

/* The precision of the encoder's matrix products (never changed by surprise:
 * only what the caller asks for). */
typedef enum {
    BERT_COMPUTE_F32 = 0,  /* exact: matches PyTorch to ~1e-5 (the default)   */
    BERT_COMPUTE_BF16 = 1, /* the encoder's dense layers and the pooler in
                            * bfloat16 with f32 sums (AMX: bert.c's own
                            * kernel; AVX512-BF16: oneDNN), ~3x faster
                            * products, hidden-state cosine >= 0.999 vs f32;
                            * attention's two products too where the CPU has
                            * AMX or fast AVX512-BF16 dot products (softmax
                            * in f32). LayerNorm, embeddings and the task
                            * heads stay f32. With BERT_DEVICE_CUDA: the
                            * layers' four products only (docs/gpu.md). Also
                            * mixed-precision training, see
                            * bert_train_params.compute. */
    BERT_COMPUTE_INT8 = 2, /* the encoder's dense layers and the pooler as
                            * int8 x int8 -> int32 products (AMX: bert.c's
                            * own kernel; VNNI: oneDNN's matmul), weights
                            * quantized once per output channel, inputs per
                            * token at run time (dynamic quantization);
                            * hidden-state cosine >= 0.99 vs f32 on the test
                            * fixtures, >= 0.98 on real text (all-MiniLM-L6-v2
                            * sentence embeddings: min 0.986, mean 0.997 over
                            * 320 texts). Needs a CPU
                            * with VNNI or AMX (without them int8 sums can
                            * saturate) and oneDNN. Inference only; the rest
                            * as for bf16 (the other heads f32). */
    BERT_COMPUTE_TF32 = 3  /* BERT_DEVICE_CUDA only: the encoder's cuBLAS
                            * products on the GPU's tensor cores with TF32
                            * inputs (10 explicit mantissa bits, as PyTorch's
                            * torch.backends.cuda.matmul.allow_tf32) and f32
                            * sums (the batched attention's products too, as
                            * PyTorch's; the fused attention kernel, LayerNorm
                            * and the rest stay f32). Never the default; refused on
                            * the CPU (which has no TF32) and by training,
                            * with BERT_ERR_UNSUPPORTED. */
} bert_compute_dtype;

/* Where the encoder's layers run (bert_model_params.device). */
typedef enum {
    BERT_DEVICE_CPU = 0,  /* the default */
    BERT_DEVICE_CUDA = 1  /* an NVIDIA GPU (the first one CUDA lists): the
                           * encoder's layers in f32 on cuBLAS (TF32 off)
                           * with bert.c's own kernels for bias + activation,
                           * residual + LayerNorm and the attention (one
                           * fused kernel for the batch: key mask, online
                           * softmax; head size <= 64, else batched cuBLAS
                           * products and a softmax kernel); ragged batches
                           * as on the CPU, no padding; in inference the
                           * embeddings on the GPU too. The heads (pooler,
                           * classifiers, MLM) stay on the CPU. Inference in
                           * f32, bf16 or tf32 (bert_model_params.device);
                           * training, the layers and (but with an MLM head
                           * or frozen positions) the embeddings, in f32 or bf16
                           * (bert_train_params.device); see
                           * bert_cuda_unavailable_reason. */
} bert_device;

typedef struct {
    /* 1 (default): map model.safetensors into memory and use F32 tensors in
     * place. 0: read the files into memory (for file systems without mmap). */
    int use_mmap;
    /* BERT_COMPUTE_F32 (default), _BF16, _INT8 or (BERT_DEVICE_CUDA) _TF32.
     * bf16 / int8 fail at load with BERT_ERR_UNSUPPORTED, saying why, where
     * the CPU or oneDNN (libdnnl.so.2) cannot do it; see
     * bert_bf16_unavailable_reason and bert_int8_unavailable_reason. */
    bert_compute_dtype compute;
    /* 1 (default): under BERT_COMPUTE_F32, copy the encoder's dense weights
     * (layers of at least 256 x 256, and the pooler) once, at load, into the blocked layout
     * oneDNN's matrix-product kernels read, so no forward pass repacks them
     * (~10 % of an f32 pass at 128 tokens, more for short inputs). The
     * file's own pages of those weights are then released from memory when
     * the file is mapped, so the resident size stays about the same. Done
     * only where oneDNN (libdnnl.so.2) is found. 0: keep only the file's
     * layout (what training, which updates the weights, uses). Results are
     * the same f32 products either way, up to summation order. */
    int pack_weights;
    /* BERT_DEVICE_CPU (default) or BERT_DEVICE_CUDA: the weights of the
     * encoder's layers are copied to the GPU once, here; every forward pass
     * of the model then runs its layers there (each context has its own
     * GPU buffers and stream). BERT_ERR_UNSUPPORTED at load, saying why,
     * where that cannot be (bert_cuda_unavailable_reason) or with
     * BERT_COMPUTE_INT8. With BERT_COMPUTE_BF16 the layers' four dense
     * products take bf16 weights and inputs with f32 sums on the GPU
     * (attention, LayerNorm, the embeddings and heads stay f32); it needs
     * no oneDNN. With BERT_COMPUTE_TF32, cuBLAS's TF32 math. */
    bert_device device;
} bert_model_params;

/* NULL when BERT_DEVICE_CUDA can be used here, else a sentence saying why
 * not: a build without CUDA (nvcc was not found, or a sanitizer build), no
 * NVIDIA driver or no GPU (CUDA's own message), or cuBLAS not found. Asks
 * the CUDA runtime once, on first call (which initialises the driver). */
BERT_API const char *bert_cuda_unavailable_reason(void);

/* NULL when BERT_COMPUTE_BF16 can run on this machine for any model, else a
 * sentence saying what is missing (CPU feature or library). Where the CPU
 * has AMX but oneDNN is missing, this names oneDNN, yet models whose dense
 * layers all have sizes in multiples of 16 (outputs) and 32 (inputs) (BERT's
 * sizes, BERT-Tiny, bert.c's bundled models) still load in bf16: they need
 * only the AMX kernels. */
BERT_API const char *bert_bf16_unavailable_reason(void);

/* The same for BERT_COMPUTE_INT8 (no VNNI/AMX, no oneDNN library, or a
 * build without oneDNN's header). */
BERT_API const char *bert_int8_unavailable_reason(void);

/* Default loading options. */
BERT_API bert_model_params bert_model_default_params(void);

/* Load the model directory `dir` in the Hugging Face layout:
 * config.json plus model.safetensors, or model.safetensors.index.json and
 * its shards. F32, F16 and BF16 tensors are accepted (F16/BF16 are widened
 * to F32 once, at load). Tensor names are accepted with or without the
 * "bert." prefix and with the old LayerNorm "gamma"/"beta" names; an absent
 * cls.predictions.decoder.weight means the decoder is tied to the word
 * embeddings. Every tensor used is checked against the config's shapes.
 * params may be NULL (defaults). On success *out owns the model. */
BERT_API bert_status bert_model_load(const char *dir, const bert_model_params *params,
                                     bert_model **out, bert_error *err);

/* Release a model. NULL is allowed. All contexts made from it must be freed
 * first. */
BERT_API void bert_model_free(bert_model *model);

/* Which parts a checkpoint holds; see bert_model_heads(). */
enum {
    BERT_HEAD_POOLER = 1 << 0,     /* bert.pooler.dense                        */
    BERT_HEAD_MLM = 1 << 1,        /* cls.predictions (masked-LM head)          */
    BERT_HEAD_NSP = 1 << 2,        /* cls.seq_relationship                      */
    BERT_HEAD_CLASSIFIER = 1 << 3, /* classifier (sequence/token classification)*/
    BERT_HEAD_QA = 1 << 4,         /* qa_outputs (extractive QA span head)       */
    BERT_HEAD_INTENT = 1 << 5      /* intent_classifier (joint intent + slot models) */
};

/* The configuration a model was loaded with (config.json, with Hugging
 * Face's BertConfig defaults for absent fields). Strings are owned by the
 * model. */
typedef struct {
    int vocab_size;
    int hidden_size;
    int num_hidden_layers;
    int num_attention_heads;
    int intermediate_size;
    int max_position_embeddings;
    int type_vocab_size;
    int pad_token_id;
    int num_labels;                      /* len(id2label); 0 when absent          */
    int num_intents;                     /* joint intent + slot models: len(config
                                            "intent_id2label"), the intents of the
                                            intent_classifier on the pooled [CLS]
                                            (id2label then names the slot tags); 0
                                            for every other model                  */
    int intent_multi_label;              /* "intent_problem_type" is
                                            "multi_label_classification"           */
    int dialogue_context_turns;          /* earlier turns the model was trained to
                                            read as segment B ("dialogue_context_turns", 0) */
    int dialogue_max_length;             /* tokens per input it was trained on
                                            ("dialogue_max_length"; 0 = the model's) */
    double layer_norm_eps;
    const char *hidden_act;              /* "gelu", "gelu_new", "relu", ...       */
    const char *position_embedding_type; /* "absolute"                            */
    const char *problem_type;            /* "" when absent                        */
    const char *architecture;            /* architectures[0], "" when absent       */
    int sinusoidal_positions;            /* config "sinusoidal_position_embeddings":
                                            the position table holds fixed sin/cos
                                            values and training leaves it alone
                                            (Hugging Face ignores the key and reads
                                            the table as learned ones: same outputs) */
} bert_config;

/* The model's configuration. Valid while the model lives. */
BERT_API const bert_config *bert_model_config(const bert_model *model);

/* A bit set of BERT_HEAD_* flags for the parts present in the checkpoint. */
BERT_API unsigned bert_model_heads(const bert_model *model);

/* Number of parameters the model uses (tied weights counted once). */
BERT_API int64_t bert_model_n_params(const bert_model *model);

/* The label of class `id` (config id2label), or NULL when out of range. */
BERT_API const char *bert_model_label(const bert_model *model, int id);
/* The name of intent `id` (config intent_id2label), or NULL when out of range. */
BERT_API const char *bert_model_intent(const bert_model *model, int id);

/* The dtypes found in the checkpoint's used tensors, e.g. "F32" or
 * "F16+F32". Valid while the model lives. */
BERT_API const char *bert_model_dtypes(const bert_model *model);

/* Number of tensors in the checkpoint that bert.c does not use (for
 * example heads it does not know); they are validated but ignored. */
BERT_API int bert_model_n_ignored_tensors(const bert_model *model);

/* ------------------------------------------------------------------------
 * Contexts and the forward pass
 * ---------------------------------------------------------------------- */

typedef struct bert_context bert_context;

typedef struct {
    /* Threads used by this context's forward passes; 0 = all cores. */
    int n_threads;
    /* Working memory is sized for this many tokens in one call (summed over
     * the batch) and sequences of at most max_seq_len tokens. 0 = decide at
     * the first call. A call that needs more grows the memory once, before
     * any layer runs; nothing is allocated inside the layer loop. */
    int max_batch_tokens;
    int max_seq_len;
    /* 1: time every kind of operation of each forward pass, per layer
     * (bert_context_profile); on a BERT_DEVICE_CUDA model the GPU's steps
     * are timed by CUDA events on the context's stream, the copies to and
     * from it fall in BERT_OP_OTHER. 0 (default): no clock is read. */
    int profile;
} bert_context_params;

/* Default context options. */
BERT_API bert_context_params bert_context_default_params(void);

/* What a profile times (bert_context_params.profile). */
typedef enum {
    BERT_OP_EMBEDDINGS = 0, /* the lookups and their LayerNorm                         */
    BERT_OP_CONVERT,        /* inputs to bf16 or int8 (rows and scales) for the products */
    BERT_OP_PRODUCTS,       /* the encoder's dense layers: matrix products with their
                               fused bias, activation (the intermediate's GELU) and
                               bf16 conversion epilogues                              */
    BERT_OP_ATTENTION,      /* scores, key mask, softmax and context, every head       */
    BERT_OP_LAYERNORM,      /* the residual adds and their LayerNorms                   */
    BERT_OP_HEADS,          /* pooler, classifiers, QA and MLM heads                    */
    BERT_OP_OTHER,          /* the rest of the call: checks, memory, the hand-offs
                               between operations (total minus the kinds above)       */
    BERT_OP_COUNT
} bert_op_kind;

/* A context's profile since it was created or reset. */
typedef struct {
    long calls;                      /* forward passes timed                       */
    long tokens;                     /* tokens over them                           */
    int n_layers;
    double total_s;                  /* inside bert_forward, in all                */
    double op_s[BERT_OP_COUNT];      /* per kind, every layer together             */
    const double *layer_op_s;        /* [n_layers x BERT_OP_COUNT]: per layer and kind
                                        (EMBEDDINGS, HEADS and OTHER stay 0 there);
                                        valid until the context's next call          */
} bert_profile;

/* The profile of ctx; BERT_ERR_STATE when it was created without
 * params.profile. */
BERT_API bert_status bert_context_profile(const bert_context *ctx, bert_profile *out, bert_error *err);
/* Set ctx's profile to zero (a warm-up pass left out). */
BERT_API void bert_context_profile_reset(bert_context *ctx);
/* "embeddings", "convert", "products", "attention", "layernorm", "heads",
 * "other"; NULL for another value. */
BERT_API const char *bert_op_kind_name(bert_op_kind k);
/* The profile as text into buf (at most cap bytes, NUL-terminated):
 * json 0: a table (a row per layer: milliseconds per pass of each kind,
 * then the totals and each kind's share); json 1: one JSON object
 * {"calls","tokens","total_ms_per_call","ops":{KIND: ms per call},
 * "layers":[{KIND: ms per call}, ...]}. Returns the length it needs
 * (as snprintf does). */
BERT_API int bert_profile_format(const bert_profile *p, int json, char *buf, size_t cap);

/* Create a working context for `model`. params may be NULL (defaults). */
BERT_API bert_status bert_context_create(const bert_model *model, const bert_context_params *params,
                                         bert_context **out, bert_error *err);

/* Release a context. NULL is allowed. */
BERT_API void bert_context_free(bert_context *ctx);

/* One input sequence. The sequences of a batch may have different lengths:
 * they are processed without padding (a ragged batch), so each result is
 * that of running the sequence alone, up to the order of the float sums
 * in the matrix products, which depends on the batch's size (most values
 * byte-identical; the rest within ~2e-6 on embeddings, tests/cli/test_server.sh). */
typedef struct {
    const int32_t *input_ids;      /* [n_tokens] ids in [0, vocab_size)                  */
    const int32_t *token_type_ids; /* [n_tokens] in [0, type_vocab_size), or NULL (all 0) */
    const int32_t *attention_mask; /* [n_tokens] 1 = attend, 0 = padding; NULL = all 1     */
    int32_t n_tokens;              /* 1 .. max_position_embeddings                       */
} bert_sequence;

/* What bert_forward() should compute; OR them together. */
enum {
    BERT_OUTPUT_HIDDEN = 1 << 0, /* last_hidden_state  [T x C]                     */
    BERT_OUTPUT_POOLED = 1 << 1, /* pooler_output      [C]      needs the pooler    */
    BERT_OUTPUT_MLM = 1 << 2,    /* prediction_logits  [T x V]  needs the MLM head  */
    BERT_OUTPUT_NSP = 1 << 3,    /* seq_relationship   [2]      needs pooler + NSP  */
    BERT_OUTPUT_CLASSIFIER = 1 << 4,       /* sequence classification logits [L] = classifier(pooler) */
    BERT_OUTPUT_TOKEN_CLASSIFIER = 1 << 5, /* token classification logits [T x L] = classifier(h)    */
    BERT_OUTPUT_QA = 1 << 6,               /* QA span logits [T x 2]: start, end per token            */
    BERT_OUTPUT_INTENT = 1 << 7            /* intent logits [num_intents] = intent_classifier(pooler) */
};

/* Run the encoder on `n_seqs` sequences and compute the requested outputs.
 * Validates every input (ids and token types in range, lengths within
 * max_position_embeddings, masks 0/1) and names the sequence and position
 * of the first bad one. Outputs stay valid until the next call on ctx. */
BERT_API bert_status bert_forward(bert_context *ctx, const bert_sequence *seqs, int n_seqs,
                                  unsigned outputs, bert_error *err);

/* Results of the last bert_forward() for sequence `seq` (0-based), or NULL
 * when that output was not requested or seq is out of range. */
BERT_API const float *bert_output_hidden(const bert_context *ctx, int seq);     /* [T x C] */
BERT_API const float *bert_output_pooled(const bert_context *ctx, int seq);     /* [C]     */
BERT_API const float *bert_output_mlm_logits(const bert_context *ctx, int seq); /* [T x V] */
BERT_API const float *bert_output_nsp_logits(const bert_context *ctx, int seq); /* [2]     */
BERT_API const float *bert_output_classifier_logits(const bert_context *ctx, int seq);       /* [L]     */
BERT_API const float *bert_output_intent_logits(const bert_context *ctx, int seq);           /* [num_intents] */
BERT_API const float *bert_output_token_classifier_logits(const bert_context *ctx, int seq); /* [T x L] */
BERT_API const float *bert_output_qa_logits(const bert_context *ctx, int seq);               /* [T x 2] */

/* The MLM head's logits (prediction_logits) at chosen token positions only:
 * out[i * vocab_size ..] = the row of position positions[i] of sequence seq
 * of the last bert_forward, which must have requested BERT_OUTPUT_HIDDEN.
 * The same values as BERT_OUTPUT_MLM's rows, at a fraction of the cost when
 * few positions are wanted (fill-mask: the [MASK] tokens): the decoder over
 * the vocabulary costs vocab_size x hidden per token — for a BERT-Tiny-sized
 * model about eight times the whole encoder. out holds n_positions x
 * vocab_size floats. */
BERT_API bert_status bert_mlm_logits_at(bert_context *ctx, int seq, const int32_t *positions, int n_positions,
                                        float *out, bert_error *err);

/* L, the number of classes of the classifier head: len(id2label), or 2
 * (BertConfig's default num_labels) when the config has no id2label. */
BERT_API int bert_model_num_labels(const bert_model *model);

/* Sentence-embedding pooling over last_hidden_state: the modes of
 * sentence-transformers' Pooling module (models/Pooling.py). "Tokens"
 * below are those whose attention_mask is 1. */
typedef enum {
    BERT_POOL_CLS = 0,           /* the first token's hidden state (not the pooler output)       */
    BERT_POOL_MEAN = 1,          /* the mean over the tokens                                     */
    BERT_POOL_MAX = 2,           /* per dimension, the max over the tokens (-1e9 when none)      */
    BERT_POOL_MEAN_SQRT_LEN = 3, /* their sum divided by the square root of their number         */
    BERT_POOL_WEIGHTED_MEAN = 4, /* their mean weighted by position: 1 for the first token, 2, ... */
    BERT_POOL_LAST_TOKEN = 5     /* the last of them (zeros when none)                           */
} bert_pooling;
#define BERT_POOL_N_MODES 6

/* Pool sequence `seq` of the last forward (which must have requested
 * BERT_OUTPUT_HIDDEN) into out[0..C), L2-normalised when `normalize`.
 * BERT_POOL_CLS or BERT_POOL_MEAN; any mode, or several concatenated:
 * bert_pool_states(). */
BERT_API bert_status bert_pool(const bert_context *ctx, int seq, bert_pooling pooling,
                               int normalize, float *out, bert_error *err);

/* Pool token states hidden[n_tokens x dim] with every mode whose bit
 * (1u << bert_pooling) is set in `modes`, concatenated in
 * sentence-transformers' order — cls, max, mean, mean_sqrt_len,
 * weighted_mean, last_token — into out[(number of modes) x dim]. mask[t]
 * is 0 or 1 (NULL: all 1). The first prompt_length tokens count as masked
 * for every mode (Pooling's include_prompt = false; 0 otherwise); cls
 * still takes token 0, except that with max also on a masked token 0 reads
 * -1e9 there, as sentence-transformers' in-place masking gives it.
 * Errors: BERT_ERR_INPUT (no mode, unknown bits, sizes, mask values). */
BERT_API bert_status bert_pool_states(const float *hidden, const int32_t *mask, int n_tokens, int dim,
                                      unsigned modes, int prompt_length, float *out, bert_error *err);

/* ------------------------------------------------------------------------
 * Tokenizer (Hugging Face BertTokenizerFast / `tokenizers` WordPiece)
 * ---------------------------------------------------------------------- */

typedef struct bert_tokenizer bert_tokenizer;

/* Load the tokenizer of a model directory: vocab.txt and
 * tokenizer_config.json, or tokenizer.json when present (its normalizer
 * flags, vocabulary and added tokens then take precedence). A directory
 * with only tokenizer files (no weights) is fine. The tokenizer is
 * immutable after loading and may be shared by threads.
 * Added tokens are matched as Hugging Face tokenizers' AddedVocabulary
 * matches them: normalized = false ones in the raw text, normalized = true
 * ones (add_tokens()'s default) in the normalized text against their
 * normalized content; leftmost, longest first; lstrip / rstrip take in the
 * whitespace on that side (offsets include it); single_word ones only
 * where no word character (regex \w) touches them; special ones are
 * skipped by bert_detokenize(skip_special_tokens). An added token outside
 * the WordPiece vocabulary is never a WordPiece piece. */
BERT_API bert_status bert_tokenizer_load(const char *dir, bert_tokenizer **out, bert_error *err);

/* Release a tokenizer. NULL is allowed. */
BERT_API void bert_tokenizer_free(bert_tokenizer *tok);

/* Vocabulary size (including added tokens). */
BERT_API int bert_tokenizer_vocab_size(const bert_tokenizer *tok);

/* The id of token text `token`, or -1 when it is not in the vocabulary. */
BERT_API int bert_tokenizer_token_to_id(const bert_tokenizer *tok, const char *token);

/* The text of token `id`, or NULL when out of range. */
BERT_API const char *bert_tokenizer_id_to_token(const bert_tokenizer *tok, int id);

/* Which special token; see bert_tokenizer_special_id(). */
typedef enum {
    BERT_SPECIAL_PAD = 0,
    BERT_SPECIAL_UNK = 1,
    BERT_SPECIAL_CLS = 2,
    BERT_SPECIAL_SEP = 3,
    BERT_SPECIAL_MASK = 4
} bert_special;

/* The id of a special token, looked up by its string ("[MASK]", ...)
 * from the tokenizer files; -1 when the vocabulary lacks it. */
BERT_API int bert_tokenizer_special_id(const bert_tokenizer *tok, bert_special which);

/* model_max_length from tokenizer_config.json (0 when absent). */
BERT_API int bert_tokenizer_model_max_length(const bert_tokenizer *tok);

typedef enum {
    BERT_TRUNCATE_NONE = 0,     /* never truncate                                    */
    BERT_TRUNCATE_LONGEST_FIRST,/* trim the longer of the pair first (HF default)     */
    BERT_TRUNCATE_ONLY_FIRST,   /* trim only the first text                          */
    BERT_TRUNCATE_ONLY_SECOND   /* trim only the second text (QA contexts)           */
} bert_truncation;

typedef enum {
    BERT_PAD_NONE = 0,   /* no padding                                                 */
    BERT_PAD_LONGEST,    /* to the longest encoding of the batch                       */
    BERT_PAD_MAX_LENGTH  /* to max_length                                              */
} bert_padding;

/* Options of bert_tokenize(), with Hugging Face's meanings. */
typedef struct {
    int add_special_tokens;      /* 1: [CLS] A [SEP] (B [SEP])                          */
    bert_truncation truncation;  /* applies when max_length > 0                         */
    int max_length;              /* tokens per encoding, special tokens included; 0: none */
    int stride;                  /* overlap of consecutive overflowing windows          */
    int truncate_left;           /* 1: drop tokens from the start instead of the end     */
    int return_overflowing;      /* 1: also return the windows that truncation cut off  */
    bert_padding padding;
    int pad_to_multiple_of;      /* round the padded length up to a multiple; 0: off    */
    int pad_left;                /* 1: padding before the tokens                        */
} bert_encode_params;

/* No truncation, no padding, special tokens added. */
BERT_API bert_encode_params bert_encode_default_params(void);

/* One encoded sequence (arrays of n_tokens entries). offsets are Unicode
 * code-point indices into the original text the token came from (the
 * first or the second text of a pair), [start, end) as Hugging Face's
 * Python API reports them; (0, 0) for special and padding tokens. word_ids
 * and sequence_ids are -1 where Hugging Face has None. */
typedef struct {
    int n_tokens;
    int32_t *input_ids;
    int32_t *token_type_ids;
    int32_t *attention_mask;
    int32_t *special_tokens_mask;
    int32_t *word_ids;
    int32_t *sequence_ids;
    int32_t *offsets; /* [n_tokens x 2] */
    const char **tokens; /* the vocabulary text of each id (convert_ids_to_tokens), owned by
                            the tokenizer; for an added token, tokenizers' Encoding.tokens
                            has the text matched instead (normalized, with the whitespace
                            lstrip / rstrip took in) */
} bert_encoding;

/* The result of encoding one input: encodings[0] is the encoding itself,
 * encodings[1..] the overflowing windows (when requested), in Hugging
 * Face's order. */
typedef struct {
    int n;
    bert_encoding *encodings;
} bert_encodings;

/* Encode `text` (and `pair` when non-NULL) as UTF-8 of the given byte
 * lengths (-1: NUL-terminated). Invalid UTF-8 is an error that gives the
 * byte position ("invalid UTF-8 at byte 17 of the text"). On success *out
 * holds the encodings; free them with bert_encodings_free(). */
BERT_API bert_status bert_tokenize(const bert_tokenizer *tok, const char *text, long text_len, const char *pair,
                                   long pair_len, const bert_encode_params *params, bert_encodings *out,
                                   bert_error *err);

/* Encode n inputs (pairs[i] may be NULL; pairs may be NULL), padding all
 * of them together for BERT_PAD_LONGEST. out must hold n bert_encodings.
 * On an input error err->item is the index of the input. */
BERT_API bert_status bert_tokenize_batch(const bert_tokenizer *tok, const char *const *texts,
                                         const char *const *pairs, int n, const bert_encode_params *params,
                                         bert_encodings *out, bert_error *err);

/* Release what bert_tokenize() returned (the struct itself is the caller's). */
BERT_API void bert_encodings_free(bert_encodings *e);

/* Decode ids back to text as Hugging Face's WordPiece decoder does
 * ("##" pieces joined, clean-up of spaces before punctuation), skipping
 * special tokens when asked. Returns a malloc'd string in *out. */
BERT_API bert_status bert_detokenize(const bert_tokenizer *tok, const int32_t *ids, int n, int skip_special_tokens,
                                     char **out, bert_error *err);

/* WordPiece vocabulary training, as Hugging Face tokenizers'
 * WordPieceTrainer (BertWordPieceTokenizer.train) does it: words from BERT's
 * normalizer and pre-tokenizer are counted, the alphabet is their
 * characters (the limit_alphabet most frequent), then BPE merges with the
 * "##" continuation prefix grow the vocabulary. The result starts with
 * [PAD] [UNK] [CLS] [SEP] [MASK], then the alphabet, then the merges in the
 * order they were learned. Ties between equally frequent pairs go to the
 * older symbols; Hugging Face's order there depends on hash-map iteration,
 * so the two vocabularies agree in content closely but not exactly. Words
 * longer than 255 characters are left out. */
typedef struct {
    int vocab_size;     /* 30522                                                */
    int min_frequency;  /* 2: a pair seen fewer times is never merged           */
    int limit_alphabet; /* 1000: characters kept, by frequency; 0 = all          */
    int lowercase;      /* 1: uncased (BertNormalizer lowercase)                 */
    int strip_accents;  /* -1: as lowercase; 0 / 1                               */
} bert_vocab_train_params;

BERT_API bert_vocab_train_params bert_vocab_train_default_params(void);

typedef struct bert_vocab_trainer bert_vocab_trainer;

BERT_API bert_status bert_vocab_trainer_create(const bert_vocab_train_params *params, bert_vocab_trainer **out,
                                               bert_error *err);
/* Count the words of one text (UTF-8 of len bytes, -1: NUL-terminated);
 * invalid UTF-8 is an error (BERT_ERR_INPUT) and counts nothing. */
BERT_API bert_status bert_vocab_trainer_feed(bert_vocab_trainer *t, const char *text, long len, bert_error *err);
/* Distinct words counted so far. */
BERT_API int bert_vocab_trainer_words(const bert_vocab_trainer *t);
/* Learn the vocabulary: *tokens (n of them, in id order) is malloc'd;
 * release with bert_vocab_tokens_free(). */
BERT_API bert_status bert_vocab_trainer_finish(bert_vocab_trainer *t, char ***tokens, int *n, bert_error *err);
BERT_API void bert_vocab_tokens_free(char **tokens, int n);
BERT_API void bert_vocab_trainer_free(bert_vocab_trainer *t);

/* ------------------------------------------------------------------------
 * Tasks (Hugging Face pipeline semantics)
 *
 * A bert_pipeline bundles a model, its tokenizer and one working context:
 * use one per thread (open it once per thread, or share the files' pages:
 * the weights are mapped read-only). Every task call takes a batch of
 * inputs and runs them as one ragged batch; results are per input and do
 * not depend on the batch. On an input error, err->item is the index of
 * the input concerned.
 * ---------------------------------------------------------------------- */

typedef struct bert_pipeline bert_pipeline;

typedef struct {
    int n_threads;     /* 0: all cores                                              */
    int truncate;      /* 1: cut inputs longer than the model takes; 0: error        */
    int truncate_left; /* with truncate: drop from the start instead of the end      */
    bert_compute_dtype compute; /* BERT_COMPUTE_F32 (default), _BF16, _INT8 or _TF32, see bert_model_params */
    bert_device device;         /* BERT_DEVICE_CPU (default) or _CUDA, see bert_model_params */
} bert_pipeline_params;

BERT_API bert_pipeline_params bert_pipeline_default_params(void);

/* Open model directory `dir` (weights + tokenizer files, and the
 * sentence-transformers files when present). */
BERT_API bert_status bert_pipeline_open(const char *dir, const bert_pipeline_params *params, bert_pipeline **out,
                                        bert_error *err);
BERT_API void bert_pipeline_free(bert_pipeline *p);
BERT_API const bert_model *bert_pipeline_model(const bert_pipeline *p);
BERT_API const bert_tokenizer *bert_pipeline_tokenizer(const bert_pipeline *p);

/* fill-mask: for each [MASK] of each text, the top_k tokens.
 * sequence is the text with that mask filled (decoded as transformers does;
 * special tokens skipped when the text has a single mask; token_str and
 * sequence get transformers' clean_up_tokenization only when
 * tokenizer_config.json sets clean_up_tokenization_spaces: true — absent
 * means false, as in transformers >= 4.45). */
typedef struct {
    double score;
    int32_t token;
    char *token_str;
    char *sequence;
} bert_fill_prediction;

typedef struct {
    int n_masks, top_k;          /* predictions: [n_masks x top_k], best first */
    bert_fill_prediction *predictions;
} bert_fill_mask_result;

/* targets (may be NULL): restrict predictions to these tokens (a target
 * not in the vocabulary is tokenized and its first piece used, as
 * transformers does). top_k is capped at the number of targets. */
BERT_API bert_status bert_fill_mask(bert_pipeline *p, const char *const *texts, int n, int top_k,
                                    const char *const *targets, int n_targets, bert_fill_mask_result *out,
                                    bert_error *err);
BERT_API void bert_fill_mask_result_free(bert_fill_mask_result *r, int n);

typedef enum {
    BERT_SCORE_AUTO = 0, /* from problem_type / num_labels, as transformers does */
    BERT_SCORE_SOFTMAX,
    BERT_SCORE_SIGMOID,
    BERT_SCORE_NONE /* raw logits (regression) */
} bert_score_function;

/* Sequence classification of texts (pairs[i] may be NULL; pairs may be
 * NULL). scores: [n x num_labels] in label order, after `fn` (a value
 * outside bert_score_function: BERT_ERR_INPUT). */
BERT_API bert_status bert_classify(bert_pipeline *p, const char *const *texts, const char *const *pairs, int n,
                                   bert_score_function fn, float *scores, bert_error *err);

/* The score function BERT_SCORE_AUTO means for this model. */
BERT_API bert_score_function bert_pipeline_score_function(const bert_pipeline *p);

/* NSP: probability that pairs[i] follows texts[i] (label 0 = IsNext). */
BERT_API bert_status bert_nsp(bert_pipeline *p, const char *const *texts, const char *const *pairs, int n,
                              float *is_next, bert_error *err);

typedef enum {
    BERT_AGGREGATE_NONE = 0, /* one entity per token: "entity", "index"            */
    BERT_AGGREGATE_SIMPLE,   /* adjacent B-/I- tokens of a type grouped              */
    BERT_AGGREGATE_FIRST,    /* words take their first token's label, then grouped   */
    BERT_AGGREGATE_AVERAGE,  /* words take their averaged scores' label               */
    BERT_AGGREGATE_MAX       /* words take their best token's label                   */
} bert_aggregation;

typedef struct {
    char *entity; /* the label (NONE) or the entity group (others) */
    double score;
    char *word;
    int start, end; /* code-point offsets into the text */
    int index;      /* token index (NONE only; -1 otherwise) */
} bert_entity;

typedef struct {
    int n;
    bert_entity *entities;
} bert_entities;

/* Token classification with transformers' aggregation strategies; the
 * label "O" is dropped, as the pipeline's default ignore_labels does. */
BERT_API bert_status bert_ner(bert_pipeline *p, const char *const *texts, int n, bert_aggregation aggregation,
                              bert_entities *out, bert_error *err);
BERT_API void bert_entities_free(bert_entities *e, int n);

/* A sparse vector over the vocabulary: n (index, value) pairs, indices rising. */
typedef struct {
    int n;
    int *index;
    float *value;
} bert_sparse_vector;

/* SPLADE sparse embeddings (Formal et al. 2021; TEI's /embed_sparse with
 * splade pooling): for every vocabulary entry, the largest log(1 +
 * relu(MLM logit)) over the text's tokens (special tokens included, as
 * the attention mask has them); the entries above 0 are kept. Needs the
 * masked-LM head. */
BERT_API bert_status bert_embed_sparse(bert_pipeline *p, const char *const *texts, int n, bert_sparse_vector *out,
                                       bert_error *err);
BERT_API void bert_sparse_vectors_free(bert_sparse_vector *v, int n);

/* Joint intent + slot filling (a model with intent_id2label, trained as
 * BERT_TASK_DIALOGUE): one user turn and the turns before it. */
typedef struct {
    const char *text;              /* the user turn                              */
    const char *const *history;    /* the earlier turns, oldest first; may be NULL */
    int n_history;
} bert_dialogue_input;

typedef struct {
    int n_intents;                 /* single-label: the top_k intents by softmax
                                      probability; multi-label: every intent with a
                                      sigmoid above 0.5 (the best one when none is),
                                      best first                                   */
    char **intents;
    double *scores;
    bert_entities slots;           /* "first" aggregation over the turn's words:
                                      slot name, score, words, code-point offsets
                                      into text; "O" dropped                        */
} bert_dialogue_output;

/* The intents and slots of in[0..n). The model reads its training layout:
 * [CLS] text [SEP] and, when it was trained with context
 * (config dialogue_context_turns; context_turns >= 0 overrides), the last
 * turns of history, most recent first, each followed by [SEP], cut from
 * the oldest side to config dialogue_max_length tokens (the text kept
 * whole; a text longer than that alone is an error naming it). */
BERT_API bert_status bert_dialogue(bert_pipeline *p, const bert_dialogue_input *in, int n, int context_turns, int top_k,
                                   bert_dialogue_output *out, bert_error *err);
BERT_API void bert_dialogue_output_free(bert_dialogue_output *o, int n);
/* One output as the JSON `bert dialogue` and POST /dialogue write:
 * {"intent": {"label", "score"}, "intents": [{"label", "score"}, ...],
 * "slots": [{"slot", "value", "start", "end", "score"}, ...]}; malloc'd,
 * NULL when out of memory. */
BERT_API char *bert_dialogue_output_json(const bert_dialogue_output *o);

typedef struct {
    int max_seq_len;      /* 384 */
    int doc_stride;       /* 128: tokens shared by consecutive windows */
    int max_question_len; /* 64: longer questions are an error */
    int max_answer_len;   /* 15 (the pipeline's default; 30 for SQuAD) */
    int top_k;            /* 1 */
    int handle_impossible;/* 0: 1 adds the SQuAD 2.0 null answer */
} bert_qa_params;

BERT_API bert_qa_params bert_qa_default_params(void);

typedef struct {
    double score;
    int start, end; /* code points into the context */
    char *answer;
} bert_answer;

/* Extractive QA over a context of any length: windows of max_seq_len
 * overlapping by doc_stride, start/end probabilities per window (softmax
 * over the context tokens and [CLS]), spans scored start x end, a start
 * token scored only in the window where it has the most context, answers
 * widened to whole words. *answers gets up to top_k answers, best first. */
BERT_API bert_status bert_qa(bert_pipeline *p, const char *question, const char *context, const bert_qa_params *params,
                             bert_answer **answers, int *n_answers, bert_error *err);
BERT_API void bert_answers_free(bert_answer *a, int n);

/* Cross-encoder scores of (query, documents[i]): sigmoid of the single
 * logit (or of the score function for multi-label models). */
BERT_API bert_status bert_rerank(bert_pipeline *p, const char *query, const char *const *documents, int n,
                                 float *scores, bert_error *err);

/* Sentence-transformers model directories: modules.json lists the
 * Transformer (this BERT), then Pooling, Dense and Normalize modules, run
 * in that order on each text's token states; sentence_bert_config.json has
 * max_seq_length; config_sentence_transformers.json may name prompts and a
 * default prompt. What bert.c cannot run exactly (another module type, an
 * unknown activation, weights only in pytorch_model.bin, do_lower_case)
 * is refused with an error naming the file and field. */
typedef enum { BERT_ST_POOLING = 1, BERT_ST_DENSE = 2, BERT_ST_NORMALIZE = 3 } bert_st_module_type;

/* A Dense module's activation_function. */
typedef enum {
    BERT_ST_ACT_IDENTITY = 0, /* torch.nn.Identity                  */
    BERT_ST_ACT_TANH = 1,     /* torch.nn.Tanh (Dense's default)      */
    BERT_ST_ACT_RELU = 2,     /* torch.nn.ReLU                        */
    BERT_ST_ACT_SIGMOID = 3,  /* torch.nn.Sigmoid                     */
    BERT_ST_ACT_GELU = 4      /* torch.nn.GELU (exact, erf)           */
} bert_st_activation;

#define BERT_ST_MAX_MODULES 16

/* The sentence-transformers settings of a model directory. */
typedef struct {
    int present;        /* modules.json exists                                        */
    int pooling;        /* bert_pooling: the first mode on in 1_Pooling/config.json   */
    int normalize;      /* a Normalize module is listed                               */
    int max_seq_length; /* sentence_bert_config.json; 0 when absent                   */
    unsigned pooling_modes; /* every mode on: bit 1u << bert_pooling for each         */
    int include_prompt;     /* Pooling's include_prompt (1 when absent)                */
    int n_modules;          /* modules after the Transformer, in modules.json order    */
    struct {
        int type;                      /* bert_st_module_type                             */
        int in_features, out_features; /* Pooling: hidden size in, modes x hidden out     */
        int bias;                      /* Dense: has a bias                               */
        int activation;                /* Dense: bert_st_activation                       */
    } modules[BERT_ST_MAX_MODULES];
    int dim;    /* values per embedding after the last module                          */
    int simple; /* 1: `pooling` and `normalize` say it all (one mode, no Dense)         */
} bert_sentence_config;

/* Read modules.json, each module's config.json and sentence_bert_config.json
 * of `dir`; out->present = 0 when there is no modules.json. */
BERT_API bert_status bert_sentence_config_load(const char *dir, bert_sentence_config *out, bert_error *err);

/* The sentence-transformers modules of a directory, with the Dense
 * weights (2_Dense/model.safetensors ...) and the prompts, ready to run on
 * token states. Immutable after loading; may be shared by threads. */
typedef struct bert_sentence_head bert_sentence_head;

/* Load the modules of `dir`; *out = NULL (and BERT_OK) when the directory
 * has no modules.json. Errors name the file and field. */
BERT_API bert_status bert_sentence_head_load(const char *dir, bert_sentence_head **out, bert_error *err);
BERT_API void bert_sentence_head_free(bert_sentence_head *h);
BERT_API const bert_sentence_config *bert_sentence_head_config(const bert_sentence_head *h);

/* Run the modules on one sequence's token states hidden[n_tokens x
 * hidden_size] (mask as in bert_pool_states; prompt_length: tokens of the
 * prompt, left out of pooling when include_prompt is false) into
 * out[config.dim]. hidden_size must be the Pooling's
 * word_embedding_dimension. */
BERT_API bert_status bert_sentence_head_apply(const bert_sentence_head *h, const float *hidden, const int32_t *mask,
                                              int n_tokens, int hidden_size, int prompt_length, float *out,
                                              bert_error *err);

/* Options of bert_embed_texts(). */
typedef struct {
    int pooling;   /* -1: the directory's modules (Pooling, Dense, Normalize), else one
                      bert_pooling over the hidden states alone (no Dense)              */
    int normalize; /* -1: as the directory says; 0: no Normalize; 1: L2-normalise the
                      result (SentenceTransformer.encode(normalize_embeddings=True))     */
    const char *prompt;      /* text put before each input, as encode(prompt=...); NULL:
                                prompt_name's, else the directory's default prompt       */
    const char *prompt_name; /* a key of config_sentence_transformers.json "prompts"     */
} bert_embed_params;

/* pooling -1, normalize -1, no prompt given (the directory's default applies). */
BERT_API bert_embed_params bert_embed_default_params(void);

/* Values per text that bert_embed_texts() writes with `params` (NULL:
 * defaults): the last module's output size (cls + mean: 2 x hidden_size;
 * a Dense module: its out_features), hidden_size for one pooling mode.
 * 0 when params are invalid. */
BERT_API int bert_embed_dim(const bert_pipeline *p, const bert_embed_params *params);

/* Sentence embeddings of texts into out[n x bert_embed_dim()] as
 * SentenceTransformer(dir).encode(texts, prompt=..., prompt_name=...)
 * computes them: the prompt put before each text (its tokens left out of
 * pooling when include_prompt is false), texts cut to max_seq_length
 * tokens, then the modules. out_len is the number of floats out holds;
 * too few is BERT_ERR_INPUT. */
BERT_API bert_status bert_embed_texts(bert_pipeline *p, const char *const *texts, int n, const bert_embed_params *params,
                                      float *out, size_t out_len, bert_error *err);

/* Sentence embeddings of texts into out[n x hidden_size]: bert_embed_texts()
 * with `pooling` / `normalize` as in bert_embed_params (pass -1 to use the
 * directory's settings). A directory whose embeddings have another size
 * (several pooling modes, a Dense module) is BERT_ERR_UNSUPPORTED here: use
 * bert_embed_texts() with bert_embed_dim(). */
BERT_API bert_status bert_embed(bert_pipeline *p, const char *const *texts, int n, int pooling, int normalize,
                                float *out, bert_error *err);

/* ------------------------------------------------------------------------
 * Training: the trainer (one model, its optimizer and one step at a time)
 *
 * Five task types train (bert_task): sequence classification / regression /
 * multi-label, token classification, extractive QA, masked-LM + NSP
 * pre-training and masked-LM only. bert_train_loop (below) runs the whole
 * run; bert_finetune and bert_pretrain are the loop with the readers of
 * src/data for the usual data sets.
 * ---------------------------------------------------------------------- */

typedef enum { BERT_SCHEDULE_LINEAR = 0, BERT_SCHEDULE_CONSTANT, BERT_SCHEDULE_COSINE } bert_schedule;

typedef enum {
    BERT_PROBLEM_SINGLE_LABEL = 0, /* CrossEntropyLoss over num_labels classes  */
    BERT_PROBLEM_MULTI_LABEL,      /* BCEWithLogitsLoss, labels [n x num_labels] */
    BERT_PROBLEM_REGRESSION        /* MSELoss on one output                      */
} bert_problem;

/* What is trained; it decides the heads and the meaning of `labels`. */
typedef enum {
    BERT_TASK_SEQUENCE = 0, /* BertForSequenceClassification: labels [n] (or [n x L] multi-label)     */
    BERT_TASK_TOKEN,        /* BertForTokenClassification: labels [N], one class id per token of the
                               batch in order, -100 = not scored                                      */
    BERT_TASK_QA,           /* BertForQuestionAnswering: labels [n x 2], start and end token index    */
    BERT_TASK_PRETRAINING,  /* BertForPreTraining: labels [N] MLM target ids (-100 = not masked),
                               then [n] NSP labels (0 = IsNext)                                       */
    BERT_TASK_MLM,          /* BertForMaskedLM: labels [N] MLM target ids (-100 = not masked)         */
    BERT_TASK_DIALOGUE      /* joint intent + slot filling (JointBERT, Chen et al. 2019): the slot
                               tagger on every token (classifier, num_labels tags) and the intent
                               classifier on the pooled [CLS] (intent_classifier, num_intents);
                               labels [n] intent ids (intent_multi_label: [n x num_intents] 0/1),
                               then [N] slot tag ids per token (-100 = not scored); the loss is
                               their sum                                                             */
} bert_task;

typedef struct {
    bert_task task;
    bert_problem problem;        /* for BERT_TASK_SEQUENCE                                          */
    int num_labels;              /* classes (1 for regression)                                     */
    const char *const *labels;   /* [num_labels] names for id2label, or NULL (LABEL_0, ...)          */
    double lr;                   /* peak learning rate (2e-5)                                       */
    double weight_decay;         /* decoupled; not applied to biases and LayerNorm (0.01)           */
    double beta1, beta2, eps;    /* 0.9, 0.999, 1e-8                                                */
    int bert_adam;               /* 1: original BERT optimizer (no bias correction; use eps 1e-6)  */
    bert_schedule schedule;      /* linear warmup then decay to 0 (default), constant, cosine      */
    long warmup_steps;           /* or, when 0, warmup_ratio x total_steps                          */
    double warmup_ratio;
    long total_steps;            /* optimizer steps the schedule spans                              */
    double max_grad_norm;        /* global-norm clipping (1.0); 0 = off                             */
    int grad_accum;              /* micro-batches per optimizer step (1)                            */
    double hidden_dropout, attention_dropout, classifier_dropout; /* < 0: from config.json (0.1)  */
    uint64_t seed;               /* head initialisation, dropout, shuffling                         */
    int n_threads;
    int from_scratch;            /* 1: initialise every weight as BERT does (normal(0,
                                    initializer_range), LayerNorm 1/0, zero biases, zero
                                    padding row; sin/cos positions when the config asks);
                                    the directory then needs only config.json and the
                                    tokenizer files (`bert init`)                              */
    bert_compute_dtype compute;  /* BERT_COMPUTE_F32 (default, exact) or BERT_COMPUTE_BF16: mixed
                                    precision as torch.autocast(bfloat16) does it: the encoder's
                                    dense layers and the MLM decoder multiply bf16 copies of
                                    weights and activations with f32 sums, forward and backward;
                                    master weights, AdamW, attention, LayerNorm, softmax and the
                                    losses stay f32. bert_trainer_open fails with
                                    BERT_ERR_UNSUPPORTED where bf16 cannot run, and for the
                                    inference dtypes _INT8 and _TF32                             */
    /* Multi-task training: n_heads > 0 heads on one shared encoder (the
     * pooler is shared by the sequence heads). task, problem, num_labels
     * and labels above are then ignored: those of the selected head
     * (bert_trainer_select; head 0 after opening) apply. The trainer copies
     * the specs. */
    const struct bert_head_spec *heads;
    int n_heads;                 /* 0: one task, as above; at most BERT_MAX_HEADS   */
    /* BERT_TASK_DIALOGUE: the intents (num_labels and labels name the slot tags) */
    int num_intents;
    const char *const *intents;  /* [num_intents] names, or NULL (INTENT_0, ...)    */
    int intent_multi_label;      /* BCEWithLogits over the intents (ATIS's "a#b")   */
    int context_turns, max_length; /* recorded in config.json for inference          */
    /* Data-parallel training (bert_dist_open): NULL or a job of one = this
     * process alone. Otherwise every rank opens its trainer with the same
     * parameters and hands it the same micro-batches; see bert_dist. */
    struct bert_dist *dist;
    bert_device device;          /* BERT_DEVICE_CPU (default) or BERT_DEVICE_CUDA: the encoder
                                    layers' forward, backward, gradient sums and AdamW step
                                    on a GPU (the first one alone), and the embeddings' too
                                    unless the positions are frozen (sinusoidal) or an MLM
                                    head that stays on the CPU ties its decoder to the word
                                    table; the pre-training heads (task _PRETRAINING: MLM +
                                    NSP; _MLM: MLM) and their losses there too, with the
                                    embeddings, in a single-task trainer; in f32 or bf16
                                    (compute _BF16: the CPU's mixed precision; with an MLM
                                    head on the CPU, the CPU must do bf16 too, its decoder
                                    running there), their weights copied back after each
                                    optimizer step; the other heads, their losses and the
                                    other tensors' AdamW stay on the CPU; the encoder's
                                    dropout masks are drawn on
                                    the GPU from the trainer's RNG stream as the CPU draws
                                    them. Results follow the CPU's to
                                    within f32 rounding.
                                    With a bert_dist of several ranks, each rank takes the
                                    GPU of its rank among the job's processes on its machine
                                    (modulo the GPUs there); the GPU's gradients are summed
                                    over the ranks on the GPUs by NCCL where every rank can
                                    open libnccl.so.2 and has a GPU of its own (else, or with
                                    BERT_CUDA_ALLREDUCE=host in any rank's environment, on the
                                    host with the rest).
                                    bert_trainer_open is then a collective: every rank calls it.
                                    bert_trainer_open fails with BERT_ERR_UNSUPPORTED where
                                    the GPU path cannot run (bert_cuda_unavailable_reason) */
} bert_train_params;

#define BERT_MAX_HEADS 16

/* One task head of a multi-task trainer. */
typedef struct bert_head_spec {
    const char *name;            /* 1..64 of [A-Za-z0-9_.-], not starting with '.', unique:
                                    names the head's tensors in checkpoints and its directory */
    bert_task task;              /* BERT_TASK_SEQUENCE (pooler + classifier) or BERT_TASK_TOKEN */
    bert_problem problem;        /* sequence heads                                  */
    int num_labels;              /* classes (regression: 1)                         */
    const char *const *labels;   /* [num_labels] names for id2label, or NULL        */
    double loss_weight;          /* scales the head's loss in the gradients; 0 = 1  */
} bert_head_spec;

/* Defaults: BERT_TASK_SEQUENCE single-label with 2 labels, lr 2e-5, weight
 * decay 0.01, betas 0.9/0.999, eps 1e-8, linear schedule with warmup_ratio
 * 0.1, total_steps 1000, max_grad_norm 1, grad_accum 1, dropouts from
 * config.json, seed 42, 1 thread, f32. */
BERT_API bert_train_params bert_train_default_params(void);

typedef struct bert_trainer bert_trainer;

/* Start training the model in `dir` for params->task (any bert_task). The
 * head weights the task needs that `dir` lacks (or has with another shape,
 * e.g. a classifier of another size) are created, initialised as BERT does
 * (normal(0, initializer_range), zero bias) from the seed; *created_heads
 * tells which (BERT_HEAD_* bits). */
BERT_API bert_status bert_trainer_open(const char *dir, const bert_train_params *params, bert_trainer **out,
                                       unsigned *created_heads, bert_error *err);
BERT_API void bert_trainer_free(bert_trainer *t);

/* Forward + backward on one micro-batch; after grad_accum calls, one
 * clipped AdamW step at the scheduled learning rate. labels: as bert_task
 * says for the trainer's task (sequence tasks: the class index as a float,
 * the target value, or [n x num_labels] 0/1). *loss: the micro-batch's mean loss
 * (data-parallel: this rank's share of it, see bert_dist).
 * *stepped: 1 when this call applied an optimizer step. */
BERT_API bert_status bert_trainer_step(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels,
                                       double *loss, int *stepped, bert_error *err);

/* The two halves of bert_trainer_step, for callers that act between them
 * (e.g. to clip or inspect the gradients their own way):
 * bert_trainer_backward runs forward + backward on one micro-batch and adds
 * its gradients (scaled by 1 / grad_accum) to the gradient block; it never
 * steps. bert_trainer_step_due is 1 once grad_accum micro-batches have been
 * accumulated. bert_trainer_gradients is the flat gradient block (*n floats,
 * the layout of the parameters; the caller may change it in place; with a
 * bert_dist of several ranks, between backward and apply it is in use by
 * the gradient sums: read or change it only in the loop's before_step,
 * where the sums are done; with BERT_DEVICE_CUDA, the gradients of what
 * trains there (the layers', the embeddings', the pre-training heads'),
 * summed on the GPU until then, are copied into it first and from then on
 * are summed in it, NULL if that copy fails; with BERT_DEVICE_CUDA and a
 * bert_dist of several ranks whose sums NCCL takes, the first call is a
 * collective: every rank makes it at the same point, and in before_step it
 * sums those over the ranks first).
 * bert_trainer_apply clips, takes one AdamW step at the scheduled learning
 * rate and zeroes the gradients; BERT_ERR_STATE when no micro-batch was
 * accumulated (with BERT_DEVICE_CUDA also after a GPU failure that left a
 * step half done: resume from the last checkpoint; docs/gpu.md). bert_trainer_step is backward, then apply when due. */
BERT_API bert_status bert_trainer_backward(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels,
                                           double *loss, bert_error *err);
BERT_API int bert_trainer_step_due(const bert_trainer *t);
BERT_API float *bert_trainer_gradients(bert_trainer *t, size_t *n);
BERT_API bert_status bert_trainer_apply(bert_trainer *t, bert_error *err);

/* The inference forward on the trainer's current weights (no dropout, no
 * gradients, no RNG draw; callable at any point, also inside an
 * accumulation). *loss (when loss is not NULL): the mean loss the training
 * step would compute, 0 when labels is NULL; labels as for bert_task.
 * logits (NULL: not wanted): sequence tasks [n x num_labels]; token
 * classification [N x num_labels], every token of the batch in order; QA
 * [N x 2], start and end per token; dialogue [N x num_labels] slot logits
 * then [n x num_intents] intent logits; pre-training and masked-LM leave
 * it untouched (their loss covers the masked tokens only). A sequence-task
 * trainer with a dist of several ranks shares the forward out (see
 * bert_dist): then every rank must call it with the same batch. */
BERT_API bert_status bert_trainer_eval(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels,
                                       double *loss, float *logits, bert_error *err);

/* Optimizer steps taken; learning rate of the next step; last gradient norm. */
BERT_API long bert_trainer_steps(const bert_trainer *t);
/* The optimizer steps the run spans (bert_train_params.total_steps). */
BERT_API long bert_trainer_total_steps(const bert_trainer *t);
BERT_API double bert_trainer_lr(const bert_trainer *t);
BERT_API double bert_trainer_grad_norm(const bert_trainer *t);

/* The model being trained (weights are the trainer's current ones). */
BERT_API const bert_model *bert_trainer_model(const bert_trainer *t);

/* Write a checkpoint: a Hugging Face model directory (config.json with the
 * labels and problem_type, model.safetensors, the tokenizer files) and,
 * with `state`, the training state (trainer_state.json: step, schedule,
 * RNG, `extra_json` for the caller's data position; optimizer.safetensors:
 * AdamW moments). Every file is written under a temporary name and
 * renamed; the directory itself is created as dir.tmp and renamed last.
 * After a GPU failure that left a step half done (bert_trainer_apply),
 * BERT_ERR_STATE with `state`, and also without it where the failed copy
 * may have left the host's weights part new (docs/gpu.md; then
 * bert_trainer_save_head and bert_trainer_eval refuse as well). */
BERT_API bert_status bert_trainer_save(bert_trainer *t, const char *dir, int state, const char *extra_json,
                                       bert_error *err);

/* Resume from a checkpoint written with state: weights, moments, step,
 * RNG. params must match the original run's (schedule, batch sizes).
 * *extra_json (malloc'd, may be NULL) is what was saved. */
BERT_API bert_status bert_trainer_resume(const char *dir, const bert_train_params *params, bert_trainer **out,
                                         char **extra_json, bert_error *err);

/* Multi-task trainers (bert_train_params.n_heads > 0). One optimizer step
 * may accumulate micro-batches of several heads. AdamW updates only what a
 * step's micro-batches reached, as torch.optim.AdamW skips parameters whose
 * .grad is None: a head (and the pooler, for token-only steps) that no
 * micro-batch of the step used keeps its weights and moments, and its bias
 * correction counts only its own updates. With one head every step
 * reaches everything and the run is the single-task run of that head.
 *
 * bert_trainer_select makes head `head` the trainer's task for the next
 * backward, eval and bert_trainer_model (its labels, problem, classifier).
 * bert_trainer_n_heads is the head count (0 for a single-task trainer).
 * bert_trainer_save_head writes head `head` with the shared encoder as a
 * complete Hugging Face model directory (BertForSequenceClassification or
 * BertForTokenClassification with its id2label), atomically as
 * bert_trainer_save does. bert_trainer_save on a multi-task trainer writes
 * the shared encoder as a BertModel directory plus heads.safetensors (every
 * head, tensors named HEAD/classifier.weight) and heads.json (the specs);
 * bert_trainer_resume takes such a checkpoint with the same heads. */
BERT_API bert_status bert_trainer_select(bert_trainer *t, int head, bert_error *err);
BERT_API int bert_trainer_n_heads(const bert_trainer *t);
BERT_API bert_status bert_trainer_save_head(bert_trainer *t, int head, const char *dir, bert_error *err);

/* The trainer's RNG, for the caller's shuffling (same stream on resume). */
BERT_API uint32_t bert_trainer_random(bert_trainer *t);

/* ------------------------------------------------------------------------
 * The training loop
 *
 * bert_train_loop drives a bert_trainer over the batches of a
 * bert_train_source: optimizer steps, the log (OUT/log.jsonl and a callback),
 * evaluation every K steps and at epoch ends, the best model (OUT/best) by a
 * metric, early stopping, checkpoints every K steps (OUT/checkpoint-STEP,
 * the newest N kept) that resume bit-identically, and a clean stop on an
 * interrupt flag. Every task type runs through it.
 * ---------------------------------------------------------------------- */

#define BERT_MAX_METRICS 128

/* Named results of one evaluation, in the order they were set. Names are
 * short constant strings ("loss", "accuracy", "f1", "exact_match", ...). */
typedef struct {
    int n;
    const char *name[BERT_MAX_METRICS];
    double value[BERT_MAX_METRICS];
} bert_metrics;

/* Set (or replace) metric `name`; name must outlive m (a string literal).
 * Past BERT_MAX_METRICS the value is dropped. */
BERT_API void bert_metrics_set(bert_metrics *m, const char *name, double value);
/* 1 and *value when m holds `name`, else 0. */
BERT_API int bert_metrics_get(const bert_metrics *m, const char *name, double *value);

/* One micro-batch handed to the loop. Memory is the source's, valid until
 * its next call. */
typedef struct {
    const bert_sequence *seqs;
    int n;                /* sequences; 0 = no more data (the loop ends)  */
    const float *labels;  /* as bert_trainer_step takes them              */
    long tokens;          /* tokens in the batch (throughput)             */
    double epoch;         /* epochs completed after this batch, fractional */
    int end_of_epoch;     /* this batch ends an epoch                     */
} bert_batch;

/* Where the loop gets its data and how it scores the model. */
typedef struct {
    void *user;
    /* "Which batch comes next": fill *b. t is the trainer (its RNG, its
     * step count for schedules of sequence length). */
    bert_status (*next_batch)(void *user, bert_trainer *t, bert_batch *b, bert_error *err);
    /* The data position after the last batch handed out, as one JSON
     * object written into checkpoints (at most cap bytes; returns 0 when it
     * does not fit), and the inverse, given what a checkpoint holds. */
    int (*position)(void *user, char *json, size_t cap);
    bert_status (*seek)(void *user, const char *json, bert_error *err);
    /* Score the trainer's current model on held-out data; NULL = the run
     * has no evaluation. */
    bert_status (*evaluate)(void *user, bert_trainer *t, bert_metrics *out, bert_error *err);
} bert_train_source;

/* What the loop reports to its callback. */
typedef enum {
    BERT_EVENT_TRAIN = 0,  /* a training log line (every log_steps)           */
    BERT_EVENT_EVAL,       /* an evaluation                                   */
    BERT_EVENT_CHECKPOINT, /* a checkpoint was written (path)                 */
    BERT_EVENT_EARLY_STOP, /* patience ran out                                */
    BERT_EVENT_NOTICE      /* a sentence for the user (text)                  */
} bert_event_kind;

typedef struct {
    bert_event_kind kind;
    long step, total_steps;
    double epoch, loss, lr, grad_norm, tokens_per_s, eta_s; /* TRAIN            */
    const bert_metrics *metrics;                            /* EVAL             */
    const char *metric;                                     /* EVAL: the one that picks the best, or NULL */
    double metric_value;
    int improved;                                           /* EVAL: a new best */
    const char *text;                                       /* NOTICE, CHECKPOINT (the directory) */
} bert_event;

typedef struct {
    const char *output_dir;  /* log.jsonl, checkpoint-STEP/, best/ (created)         */
    int log_steps;           /* a train line every K optimizer steps (10)            */
    int eval_steps;          /* evaluate every K steps; 0 = not by step count         */
    int eval_at_epoch_end;   /* evaluate when a step ends an epoch (1)                */
    int eval_at_start;       /* evaluate before the first step (0)                    */
    int save_steps;          /* checkpoint every K steps; 0 = not by step count       */
    int save_at_epoch_end;   /* checkpoint when a step ends an epoch (1)              */
    int save_total_limit;    /* keep the newest N checkpoints (2); 0 = keep all       */
    const char *metric;      /* the evaluation metric that picks OUT/best; NULL or "" =
                                no best model                                          */
    int greater_is_better;   /* 1; 0 for losses and perplexity                        */
    int patience;            /* stop after N evaluations without a new best; 0 = never */
    const char *model_dir;   /* also write the current model to OUT/<model_dir> after
                                every evaluation and at the end (NULL = not)           */
    long stop_at_step;       /* checkpoint and return at this step (a time slice); 0 = off */
    /* Resume: the trainer was opened with bert_trainer_resume, and this is the
     * extra_json it returned (the loop's and the source's state). NULL = a
     * fresh run (log.jsonl is truncated, not appended). */
    const char *resume_state;
    /* Polled between optimizer steps (where a checkpoint holds the whole
     * state); when it becomes non-zero the loop writes a checkpoint and
     * returns BERT_ERR_INTERRUPTED. A signal handler may set it. May be NULL. */
    volatile sig_atomic_t *interrupt;
    /* The seam after backward, before the optimizer step: called once per
     * optimizer step when the gradients of grad_accum micro-batches are in
     * bert_trainer_gradients (with a bert_dist of several ranks: already
     * summed over the ranks). */
    bert_status (*before_step)(void *user, bert_trainer *t, bert_error *err);
    void *before_step_user;
    /* Progress: every log line, evaluation, checkpoint and notice. May be NULL. */
    void (*on_event)(void *user, const bert_event *e);
    void *on_event_user;
} bert_loop_params;

BERT_API bert_loop_params bert_loop_default_params(void);

/* What a run came to. */
typedef struct {
    long steps;              /* optimizer steps taken (in all, resumed runs included) */
    double best;             /* the best value of params.metric (NAN when none)   */
    long best_step;          /* its step; -1 when none                            */
    bert_metrics best_metrics, last_metrics; /* the best and the last evaluation */
    int stopped_early, interrupted;
    long tokens;             /* trained on in this process                        */
    double seconds;          /* of this process's loop                            */
    char checkpoint[1024];   /* the newest checkpoint written, "" when none       */
    /* bert_multitask: the TASK/METRIC names of best_metrics and last_metrics
     * point here (this struct, not a copy of it); other runs' names are
     * constant strings */
    char name_store[BERT_MAX_METRICS][80];
} bert_loop_result;

/* Run training to the trainer's total_steps, the end of the source's data,
 * early stopping or an interrupt. The trainer's parameters (total_steps,
 * grad_accum) are the run's. On BERT_ERR_INTERRUPTED a checkpoint has been
 * written (result->checkpoint) and result holds the run so far; on other
 * errors the newest checkpoint is intact. result may be NULL. */
BERT_API bert_status bert_train_loop(bert_trainer *t, const bert_train_source *src, const bert_loop_params *params,
                                     bert_loop_result *result, bert_error *err);

/* ------------------------------------------------------------------------
 * Data parallelism across processes (MPI)
 *
 * A bert_dist is this process's place in a job of `size` processes (ranks)
 * that mpirun started, or a job of one. Given to a trainer
 * (bert_train_params.dist) it makes training data-parallel, as PyTorch's
 * DistributedDataParallel does:
 * - every rank calls bert_trainer_backward with the same global micro-batch
 *   of n sequences; rank r of N runs forward and backward on its share,
 *   sequences [r*n/N, (r+1)*n/N), with each loss term normalised by the
 *   count of the whole micro-batch (sequences, labelled tokens, masked
 *   tokens), and the gradients are summed over the ranks (MPI_Allreduce):
 *   N ranks compute the gradient of the global batch, equal to one process
 *   up to the float summation order. *loss is this rank's share of the
 *   micro-batch's mean loss (the shares sum to it). A rank whose share is
 *   empty (n < N) adds nothing but takes part in the sums.
 * - the sums travel in buckets: on the last micro-batch of a step, a
 *   layer's gradients as soon as its backward is done (a communication
 *   thread sends them while backward goes on; params.overlap), the rest
 *   before the loop's before_step (or at bert_trainer_apply), which waits
 *   for all of them. Every rank then takes the same AdamW step.
 * - dropout: each rank draws its piece of the whole micro-batch's masks
 *   (the trainer's RNG skips the other ranks' draws, PCG's jump-ahead), so
 *   the masks, the trainer's RNG and what is shuffled or masked with it are
 *   those of one process: N ranks equal one process with the global batch,
 *   dropout on or off, and a checkpoint resumes under any N.
 * - bert_train_loop: rank 0 alone writes log.jsonl, checkpoints and models
 *   and sends events; the logged loss is summed over the ranks' shares;
 *   every rank gets the same evaluation scores, so every rank takes the
 *   same best-model and early-stopping decisions: sequence tasks
 *   (bert_trainer_eval), token tasks and pre-training's held-out set are
 *   sharded (each rank scores its share; logits, predicted tags or sums
 *   are gathered), QA and dialogue tasks are scored whole on every rank;
 *   the weights' digest is
 *   compared every checksum_steps steps (a mismatch stops the run with
 *   BERT_ERR_STATE).
 * - the ranks check at the loop's start that they hold the same weights
 *   and step (a rank that resumed another checkpoint is an error).
 * - a collective that waits timeout_s without progress fails with
 *   BERT_ERR_IO (a rank stopped or hangs); so do the other ranks while rank
 *   0 writes a checkpoint: timeout_s must exceed the longest checkpoint
 *   write. After any failed collective the ranks no longer agree on what
 *   comes next: end the job with bert_dist_abort.
 * - bert_finetune / bert_pretrain / bert_multitask: batch_size is per rank;
 *   the data source hands out global batches of N x batch_size (the same
 *   examples in the same order as one process with that batch), so the
 *   run's steps and its data order do not depend on N, and a checkpoint
 *   resumes under another N with the same global batch.
 * Built without MPI (bert_dist_compiled() == 0) every process is a job of
 * one, and bert_dist_open fails with BERT_ERR_UNSUPPORTED when the
 * environment says a launcher started several (OMPI_COMM_WORLD_SIZE,
 * PMI_SIZE); so does an MPI build that sees another job size than the
 * launcher announced (another MPI's launcher). Open at most one bert_dist
 * per process (MPI starts once).
 * ---------------------------------------------------------------------- */

typedef struct bert_dist bert_dist;

typedef struct {
    int overlap;           /* 1: a layer's gradients travel while backward goes on (1) */
    int compress_bf16;     /* 1: gradients travel as bf16 (half the bytes; each hop
                              adds in f32 and rounds to bf16) (0)                   */
    int checksum_steps;    /* compare the weights' digest every K optimizer steps
                              (100); 0 = never                                      */
    double timeout_s;      /* a collective that waits longer ends the job (300)     */
} bert_dist_params;

/* What the gradient sums cost so far (for benchmarks). */
typedef struct {
    long buckets;          /* sum-allreduces of gradient ranges                     */
    double bytes;          /* their payload, bytes sent per rank before the sum     */
    double reduce_s;       /* time inside them (the communication thread's)         */
    double wait_s;         /* time the trainer waited for them at the step          */
} bert_dist_stats;

BERT_API bert_dist_params bert_dist_default_params(void);
/* 1 when this library was built with MPI. */
BERT_API int bert_dist_compiled(void);
/* Join the job this process belongs to: under mpirun, MPI is started (a
 * thread level of at least MPI_THREAD_SERIALIZED; with less, overlap is
 * off); otherwise a job of one, MPI untouched. p may be NULL (defaults). */
BERT_API bert_status bert_dist_open(const bert_dist_params *p, bert_dist **out, bert_error *err);
/* This rank (0 for NULL) and the job's size (1 for NULL). */
BERT_API int bert_dist_rank(const bert_dist *d);
BERT_API int bert_dist_size(const bert_dist *d);
/* Sum n doubles over the ranks, in place; every rank calls it. */
BERT_API bert_status bert_dist_sum(bert_dist *d, double *x, int n, bert_error *err);
/* Gather len bytes from every rank to rank 0: there *out (malloc'd) holds
 * them concatenated in rank order and lens[0..size) their lengths; other
 * ranks get *out = NULL. Every rank calls it. */
BERT_API bert_status bert_dist_gather(bert_dist *d, const void *data, size_t len, char **out, size_t *lens,
                                      bert_error *err);
/* The statistics, and setting them to zero; between optimizer steps only
 * (the communication thread updates them during a step). */
BERT_API void bert_dist_stats_get(const bert_dist *d, bert_dist_stats *s);
BERT_API void bert_dist_stats_reset(bert_dist *d);
/* End every process of the job now (MPI_Abort) with exit code `code`:
 * what a rank does after an error the others cannot see, so that they do
 * not wait for it. Returns (doing nothing) in a job of one. */
BERT_API void bert_dist_abort(bert_dist *d, int code);
/* Leave the job (MPI_Finalize, after waiting for the other ranks) and
 * free d. NULL is a no-op. */
BERT_API void bert_dist_close(bert_dist *d);

/* ------------------------------------------------------------------------
 * Fine-tuning and pre-training runs: the loop on the usual data sets
 * ---------------------------------------------------------------------- */

typedef struct {
    const char *model_dir;   /* the starting model (or, with eval_only, the one scored) */
    const char *output_dir;  /* created; report.json, log.jsonl, best/, checkpoints     */
    bert_task task;          /* BERT_TASK_SEQUENCE (default), _TOKEN or _QA; a preset
                                sets it                                                 */
    const char *preset;      /* a named data set (bert_finetune_presets), or NULL      */
    const char *data_dir;    /* where presets are looked up ("../shared/data", relative
                                to the current directory; GLUE presets in DIR/glue)    */
    const char *train_file, *dev_file, *test_file; /* override or replace the preset's */
    int eval_only;           /* score model_dir on the dev (and test) data; no training */
    int epochs;              /* 3 (QA: 2)                                               */
    long max_steps;          /* > 0: the run's optimizer steps instead of epochs x data;
                                the data then repeats as long as needed                 */
    int batch_size;          /* 32 (QA: 12)                                             */
    int max_seq_len;         /* 128 (QA: 384)                                           */
    int max_train, max_dev;  /* > 0: use only the first N examples                     */
    /* sequence tasks: TSV (header row, or --no-header and column numbers) or
     * JSONL, one example per line */
    const char *text_column, *pair_column, *label_column; /* "text", NULL, "label". A pair
                                column, when given, is required; with NULL, JSONL lines
                                may carry an optional "text_pair"                       */
    int no_header;
    const char *labels;      /* "a,b,c": the label list; NULL = the sorted distinct train labels */
    int problem_given;       /* train.problem was set by the caller (else preset / default) */
    /* token tasks */
    int label_all_tokens;    /* every piece of a word carries its tag (B- -> I-)        */
    int tag_scheme_iob2;     /* convert IOB1/IOE/... tags to IOB2 before training       */
    /* dialogue tasks (joint intent + slots; presets snips, atis) */
    int context_turns;       /* earlier turns given as segment B, most recent first (0;
                                at most 1000). eval_only: 0 = what the model was trained
                                with (config dialogue_context_turns), and max_seq_len
                                left at 128 = its dialogue_max_length                    */
    int split_intents;       /* 1: intents are multi-label over the '#'-separated parts
                                when a training intent has one (ATIS's "a#b"); 0: "a#b"
                                is an intent class of its own, as JointBERT counts ATIS
                                (the default: +9 points of ATIS intent accuracy here)   */
    /* QA tasks */
    int doc_stride;          /* 128                                                     */
    int drop_windows_without_answer;
    double dev_split;        /* > 0: hold out this fraction of train's contexts as dev  */
    const char *bioasq_golden, *subjqa_domain;
    bert_train_params train; /* optimizer, schedule, seed, threads, dtype, dropout;
                                train.task and num_labels are set by the run            */
    bert_loop_params loop;   /* eval/save/patience/metric; output_dir is set from the
                                field above. metric NULL or "": the task's own (sequence:
                                the preset's, else accuracy or pearson; token and QA:
                                f1; BioASQ: mrr); a metric the task does not report is
                                refused before training                                 */
    const char *resume_from; /* a checkpoint directory to continue from, or NULL        */
} bert_finetune_params;

/* Defaults for `task` (learning rate, epochs, batch and length differ by
 * task type). */
BERT_API bert_finetune_params bert_finetune_default_params(bert_task task);

/* The named data sets bert_finetune knows, "sst2", ..., NULL-terminated. */
BERT_API const char *const *bert_finetune_presets(void);
/* The task type of preset `name`; BERT_ERR_INPUT when unknown. */
BERT_API bert_status bert_finetune_preset_task(const char *name, bert_task *task, bert_error *err);

/* Read the data, open (or resume) the trainer, run bert_train_loop, score
 * the best model on the test data where there is some, and write
 * OUT/report.json. result may be NULL. */
BERT_API bert_status bert_finetune(const bert_finetune_params *params, bert_loop_result *result, bert_error *err);

/* Masked-LM (+ NSP) pre-training on text corpora or a prepared binary corpus. */
typedef struct {
    const char *model_dir, *output_dir;
    const char *const *corpus_files; /* text files, or one file from bert_corpus_prepare */
    int n_corpus_files;
    int split_sentences, prose;      /* text reading options (bert_corpus_read_params)  */
    /* progress while text is read, as bert_corpus_read_params.progress; may be NULL */
    void (*read_progress)(void *user, double bytes_read, double bytes_total, long long documents, long long tokens);
    void *read_progress_user;
    int seq_len[4];                  /* phases: sequence lengths ({128})               */
    double seq_frac[4];              /* and their fractions of the steps ({1.0})       */
    int n_phases;
    int max_predictions;             /* 20 at the first phase's length                 */
    int whole_word, no_nsp;
    int dupe_factor;                 /* > 0: static masking, N copies                  */
    int heldout_docs;                /* 50                                             */
    int epochs;                      /* 1                                              */
    long max_steps;
    int batch_size;                  /* 32                                             */
    bert_train_params train;
    bert_loop_params loop;           /* bert_pretrain sets output_dir, eval_at_start 1,
                                        eval_at_epoch_end 0, save_at_epoch_end 0 and
                                        model_dir "model"; metric NULL (no OUT/best) or
                                        one of mlm_loss, perplexity (lower is better),
                                        mlm_accuracy, with patience                     */
    const char *resume_from;         /* a checkpoint directory, or NULL                */
} bert_pretrain_params;

/* Defaults: one phase of 128 tokens, max_predictions 20, heldout_docs 50,
 * epochs 1, batch 32; train: BERT_TASK_PRETRAINING, lr 1e-4, warmup_ratio
 * 0.01; loop: eval_steps 500, log_steps 100, no checkpoints by step. */
BERT_API bert_pretrain_params bert_pretrain_default_params(void);

/* Read the corpus (text, or one file from bert_corpus_prepare; at least 2
 * documents), hold out the last heldout_docs documents (at most half),
 * pair the rest for NSP (Google's create_pretraining_data.py: new pairs
 * every epoch and phase, from seeds derived from train.seed), open the
 * trainer (or resume it from resume_from, bit-identically to a run that
 * never stopped) and run bert_train_loop with train.total_steps = max_steps
 * or epochs x the first epoch's optimizer steps (batches / grad_accum). Masking is dynamic (a fresh mask
 * whenever a pair is fed, from the trainer's RNG), or static with
 * dupe_factor N (epoch e uses copy e mod N, masks from derived seeds); the
 * phases change the sequence length at their share of the steps, with
 * max_predictions growing in proportion. Evaluations (at the start, every
 * loop.eval_steps, at the end) give "mlm_loss", "perplexity" and
 * "mlm_accuracy" on the held-out pairs with one fixed masking; the model
 * goes to OUT/model after each; checkpoints are OUT/checkpoint-STEP. Ends
 * with OUT/report.json. Notices (corpus sizes, phases, the first held-out
 * figures, skipped lines, resuming) go to loop.on_event. result may be NULL. */
BERT_API bert_status bert_pretrain(const bert_pretrain_params *params, bert_loop_result *result, bert_error *err);

/* ------------------------------------------------------------------------
 * Multi-task fine-tuning (MT-DNN, Liu et al. 2019; "BERT and PALs",
 * Stickland & Murray 2019): one shared encoder, one head per task, and a
 * task-sampling schedule. Every micro-batch holds one task's examples.
 * ---------------------------------------------------------------------- */

typedef enum {
    BERT_SAMPLING_PROPORTIONAL = 0, /* p_k proportional to the task's training examples (MT-DNN)  */
    BERT_SAMPLING_UNIFORM,          /* p_k = 1 / K                                               */
    BERT_SAMPLING_TEMPERATURE,      /* p_k proportional to size_k^(1/T)                          */
    BERT_SAMPLING_ANNEALED,         /* p_k proportional to size_k^alpha, alpha going linearly from 1
                                       at the first step to anneal_floor at the last (Stickland &
                                       Murray's 1 - 0.8 (e - 1) / (E - 1), by step not by epoch) */
    BERT_SAMPLING_ROUND_ROBIN       /* tasks in turn, 0, 1, ..., K - 1, 0, ...                   */
} bert_sampling;

typedef struct {
    bert_sampling strategy;  /* proportional                                    */
    double temperature;      /* > 0 (2)                                         */
    double anneal_floor;     /* alpha at the last step, in [0, 1] (0.2)         */
} bert_sampler_params;

/* The probability of each of n tasks of sizes[] (training examples, >= 1)
 * being drawn at optimizer step `step` of total_steps, into probs[n].
 * Round-robin gives 1 / n each (its order is fixed). BERT_ERR_INPUT for a
 * bad strategy, temperature, floor, size or n outside 1..BERT_MAX_HEADS. */
BERT_API bert_status bert_sampler_probabilities(const bert_sampler_params *sp, const long *sizes, int n, long step,
                                                long total_steps, double *probs, bert_error *err);

/* One task of a multi-task run. */
typedef struct {
    const char *name;            /* its head and OUT/<name>; NULL = the preset's name. 1..64 of
                                    A-Z a-z 0-9 _ . -; not shared, best, logs, finetune,
                                    checkpoint-*                                              */
    bert_finetune_params data;   /* its data and its batches: preset or train/dev files and
                                    their columns, labels, problem, task type, batch_size,
                                    max_seq_len, max_train, max_dev, token-task options, and
                                    data.loop.metric (NULL: the task's default) as the task's
                                    own metric. Its model, output, optimizer, epochs and
                                    resume fields are not used                                */
    double loss_weight;          /* 0 = 1                                                     */
} bert_multitask_task;

typedef struct {
    const char *model_dir, *output_dir;
    const bert_multitask_task *tasks;
    int n_tasks;                 /* 1..BERT_MAX_HEADS; sequence and token tasks               */
    bert_sampler_params sampler;
    int epochs;                  /* 3; an epoch is every task's batches once (sum over tasks
                                    of ceil(examples / batch_size))                           */
    long max_steps;              /* > 0: the run's optimizer steps instead                    */
    bert_train_params train;     /* optimizer, schedule, seed, threads, dtype, dropout (task
                                    fields and heads are set by the run)                      */
    bert_loop_params loop;       /* metric NULL or "score": the mean of the tasks' own metrics
                                    (a lower-is-better one counted negated); or "TASK/METRIC" */
    const char *resume_from;     /* a checkpoint of the same tasks, or NULL                    */
    int then_finetune;           /* then fine-tune each task alone from OUT/<task> for
                                    finetune_epochs into OUT/finetune/<task> (MT-DNN's second
                                    stage), with the same optimizer settings                  */
    int finetune_epochs;         /* 0 = 3                                                     */
} bert_multitask_params;

/* A tasks file for bert_multitask: a JSON array (or {"tasks": [...]}) of
 * 1..BERT_MAX_HEADS objects, each one task with these keys, all optional
 * but a preset or a train and a dev file: "name", "preset", "type"
 * ("sequence" or "token"), "train", "dev" (paths relative to the file's
 * directory unless absolute), "text_column", "pair_column", "label_column"
 * (names, or column numbers with "no_header": true), "labels" (an array of
 * names), "problem" ("single_label", "multi_label", "regression"),
 * "batch_size", "max_seq_len", "max_train", "max_dev", "label_all_tokens",
 * "tag_scheme" ("keep", "iob2"), "metric" and "loss_weight". Another key,
 * a wrong type or a value out of range is BERT_ERR_INPUT naming the task
 * and the key. Fields the file does not set come from `defaults`. The list
 * owns the strings its tasks point to. */
typedef struct bert_task_list bert_task_list;
BERT_API bert_status bert_task_list_read(const char *path, const bert_finetune_params *defaults, bert_task_list **out,
                                         bert_error *err);
BERT_API int bert_task_list_count(const bert_task_list *l);
BERT_API const bert_multitask_task *bert_task_list_tasks(const bert_task_list *l);
BERT_API void bert_task_list_free(bert_task_list *l);

/* Defaults: no tasks, proportional sampling (temperature 2, floor 0.2),
 * 3 epochs, train as bert_train_default_params with lr 5e-5, the loop's
 * defaults with metric "score". */
BERT_API bert_multitask_params bert_multitask_default_params(void);

/* Read every task's data (each task's reader, as bert_finetune reads it),
 * open one trainer with a head per task (or resume it), run bert_train_loop
 * drawing each micro-batch's task from the sampler (seeded from
 * train.seed; its state and every task's data position go into
 * checkpoints, so a resumed run is the run that never stopped), and
 * evaluate every task with its own metric. Writes OUT/log.jsonl (metrics
 * named TASK/METRIC and "score"), OUT/log-TASK.jsonl (the task's
 * evaluations and how many of its batches were drawn), OUT/best (by
 * loop.metric: the shared encoder + heads), OUT/TASK (the task's own model
 * at its best evaluation: a complete BertForSequenceClassification or
 * BertForTokenClassification directory), OUT/shared (the encoder of
 * OUT/best) and OUT/report.json; with then_finetune, OUT/finetune/TASK. */
BERT_API bert_status bert_multitask(const bert_multitask_params *params, bert_loop_result *result, bert_error *err);

/* ------------------------------------------------------------------------
 * Data sets: pre-training corpora
 *
 * A corpus is documents of segments of text. Text files hold one sentence
 * or paragraph per line with blank lines between documents; with prose, a
 * file is one document of hard-wrapped paragraphs (blank lines between
 * them), split into sentences. bert_corpus_prepare tokenizes such files
 * once into a binary corpus (ids, document and segment offsets, the
 * vocabulary's hash) that bert_pretrain maps instead of reading the text
 * again; it trains exactly as the text it came from.
 * ---------------------------------------------------------------------- */

typedef struct {
    int split_sentences; /* split each line (or prose paragraph) into sentences */
    int prose;           /* a file is a document; blank lines end paragraphs (implies split_sentences) */
    /* Called about every 0.5 s while text is read (not at the end). May be NULL. */
    void (*progress)(void *user, double bytes_read, double bytes_total, long long documents, long long tokens);
    void *progress_user;
} bert_corpus_read_params;

BERT_API bert_corpus_read_params bert_corpus_read_default_params(void);

/* What reading a corpus found. */
typedef struct {
    long long documents, segments, tokens;
    long bad_lines;       /* lines skipped: not valid UTF-8                    */
    char first_bad[1100]; /* "FILE:LINE (reason)" of the first skipped line    */
} bert_corpus_stats;

/* 1 when the file at path is a prepared (binary) corpus, else 0. */
BERT_API int bert_corpus_is_prepared(const char *path);

/* Tokenize text files with tok and write the binary corpus to
 * output_path (atomically). A file that is already a prepared corpus, or
 * text without a token, is an error. stats may be NULL. */
BERT_API bert_status bert_corpus_prepare(const bert_tokenizer *tok, const char *const *files, int n_files,
                                         const bert_corpus_read_params *params, const char *output_path,
                                         bert_corpus_stats *stats, bert_error *err);

/* ------------------------------------------------------------------------
 * Data sets: tagged sentences (CoNLL, JSONL) for token classification
 * ---------------------------------------------------------------------- */

/* One sentence: n words and their tags (malloc'd strings). */
typedef struct {
    char **words, **tags;
    int n;
    long line; /* the file line the sentence starts on */
} bert_tagged_sentence;

typedef struct {
    bert_tagged_sentence *v;
    int n;
} bert_tagged_data;

/* Read `path` into *out (its previous contents are not freed). A name
 * ending in ".jsonl" is JSONL, one {"tokens": [...], "tags": [...]} object
 * (lists of strings of equal length) a line; anything else is CoNLL
 * columns: one word a line, columns split on spaces or tabs, the word
 * first, the tag last; blank lines end sentences; -DOCSTART- lines are
 * skipped. Empty sentences are dropped. Errors: BERT_ERR_IO (unreadable),
 * BERT_ERR_FORMAT naming file:line (a malformed line), BERT_ERR_INPUT (no
 * sentences). Free with bert_tagged_free. */
BERT_API bert_status bert_tagged_read(const char *path, bert_tagged_data *out, bert_error *err);
BERT_API void bert_tagged_free(bert_tagged_data *d);

/* Move a seeded ~10 % of train's sentences (each with probability 1/10,
 * from a generator seeded with `seed`) to the end of *dev, keeping the
 * order of both: the dev split of data sets that have none. */
BERT_API bert_status bert_tagged_split_dev(bert_tagged_data *train, uint64_t seed, bert_tagged_data *dev,
                                           bert_error *err);

/* ------------------------------------------------------------------------
 * Data sets: dialogue turns (intent + slots, with the turns before)
 * ---------------------------------------------------------------------- */

/* One user turn: its words with their BIO slot tags, its intent, and the
 * dialogue's earlier turns. */
typedef struct {
    bert_tagged_sentence s;   /* the turn's words and slot tags (B-x / I-x / O)          */
    char *text;               /* the turn as written (the SNIPS layout: the words joined
                                 by single spaces)                                        */
    char *intent;             /* "a", or "a#b" for a turn with several intents (ATIS)     */
    char **history;           /* the earlier turns, oldest first, as given (JSONL: strings,
                                 or {"speaker", "text"} objects written "speaker: text")  */
    int n_history;
    int intent_in_history;    /* SGD: the turn has an intent but does not state it (no
                                 INFORM_INTENT act): only the turns before tell it        */
    char *service;            /* SGD: the service of the frame the intent came from (the
                                 first frame's when none has one); NULL otherwise         */
} bert_dialogue_turn;

typedef struct {
    bert_dialogue_turn *v;
    int n;
} bert_dialogue_data;

/* Read `path` into *out: a directory in the SNIPS / ATIS layout (seq.in:
 * space-separated words, seq.out: one BIO tag per word, label: the
 * intent, line by line), or a JSONL file (gzip or not) of {"text",
 * "intent", "slots": [[name, start, end], ...], "history": [...]} lines,
 * or of Schema-Guided Dialogue dialogues ({"dialogue_id", "turns": [...]}
 * a line: each USER turn with the first active_intent other than "NONE"
 * of its frames, every frame's slot spans, and the 8 turns before it as
 * "user: ..." / "system: ..."), slot offsets in characters (code points,
 * end exclusive, as Python slices them). A word
 * a slot span touches is tagged (B- on the first, I- after), so a span
 * that cuts a word takes the whole word; a span over words already
 * tagged by an earlier span is left out. Errors name file:line:
 * BERT_ERR_FORMAT for a malformed line or a span outside the text,
 * BERT_ERR_INPUT for no turns; a line over 1 MiB is BERT_ERR_FORMAT. */
BERT_API bert_status bert_dialogue_read(const char *path, bert_dialogue_data *out, bert_error *err);
BERT_API void bert_dialogue_free(bert_dialogue_data *d);
/* Keep the first n turns of d (all when it has fewer) and free the rest. */
BERT_API void bert_dialogue_keep(bert_dialogue_data *d, int n);

/* A slot as character offsets into a turn's text (code points, end exclusive). */
typedef struct {
    char *slot;
    int start, end;
} bert_slot_span;

/* The slots of turn t from its BIO tags: each B-x (or an I-x that does not
 * continue an x) starts one, running over the I-x words after it, from
 * the first word's start to the last word's end in t->text. Spans read
 * from JSONL / SGD come back as they were when they fall on word
 * boundaries, and widened to whole words when they cut one. *out is
 * malloc'd (free with bert_slot_spans_free). */
BERT_API bert_status bert_dialogue_turn_spans(const bert_dialogue_turn *t, bert_slot_span **out, int *n, bert_error *err);
BERT_API void bert_slot_spans_free(bert_slot_span *s, int n);

typedef enum {
    BERT_TAGS_IOB2 = 0, /* every entity starts with B-                         */
    BERT_TAGS_IOB1,     /* I- starts an entity; B- only between two of a type  */
    BERT_TAGS_IO,       /* no B- at all                                        */
    BERT_TAGS_IOE,      /* E- ends entities, no B-                             */
    BERT_TAGS_BIOES     /* S- single-word entities, or B- and E- both          */
} bert_tag_scheme;

/* The tagging scheme of the data: BIOES when S- occurs or B- and E- both
 * do, IOE when E- does without B-, IOB2 when every entity starts with B-,
 * IOB1 when an I- tag starts one and B- occurs too, IO when no B- does. */
BERT_API bert_tag_scheme bert_tag_scheme_detect(const bert_tagged_data *d);
/* "IOB2", "IOB1", "IO", "IOE", "BIOES". */
BERT_API const char *bert_tag_scheme_name(bert_tag_scheme s);
/* Rewrite the tags as IOB2 in place, each read against the original tag
 * before it: B-X stays, S-X becomes B-X, I-X and E-X become B-X where they
 * start an entity (the tag before is not B-X or I-X) and I-X otherwise.
 * Covers IOB1, IO, IOE and BIOES; IOB2 is unchanged. */
BERT_API void bert_tags_to_iob2(bert_tagged_data *d);

/* The named NER data sets: files under DATA_DIR/dir. dev NULL: the data
 * set has no dev split (take one with bert_tagged_split_dev). */
typedef struct {
    const char *name; /* "ncbi", "bc5cdr", "conll2003", "sec"  */
    const char *dir;  /* "ncbi_disease", ...                   */
    const char *train, *dev, *test;
} bert_ner_preset;

/* The presets, ending with an entry whose name is NULL. */
BERT_API const bert_ner_preset *bert_ner_presets(void);
/* The preset called name, or NULL. */
BERT_API const bert_ner_preset *bert_ner_preset_find(const char *name);

/* ------------------------------------------------------------------------
 * Data sets: text classification examples (TSV, JSONL, the GLUE tasks)
 * ---------------------------------------------------------------------- */

/* Where an example's text, second text and label are. TSV: a name from the
 * header line (header = 1; a UTF-8 byte-order mark before it is skipped) or
 * a 0-based column number ("3"); columns are split on tabs only (no
 * quoting). JSONL: field names; header is not used. pair NULL: TSV examples
 * are single texts, and a JSONL line's "text_pair" string is the second
 * text where the line has one (a line without it is a single text). pair
 * set: every example must have that column or field. */
typedef struct {
    const char *text, *pair, *label;
    int header;
} bert_text_columns;

/* One example (malloc'd strings). */
typedef struct {
    char *text, *pair; /* pair NULL for a single text                     */
    char *label;       /* as written; a JSON number as printf's %.17g      */
    long line;         /* 1-based line of the file                         */
} bert_text_example;

typedef struct {
    bert_text_example *v;
    int n;
} bert_text_examples;

/* Read `path` into *out: JSONL (one object a line) when the name ends in
 * ".jsonl", else TSV; blank lines are skipped. cols NULL: {"text", NULL,
 * "label", 1}. Errors name the file (and line): BERT_ERR_IO (unreadable),
 * BERT_ERR_FORMAT ("FILE:LINE: 1 columns, need at least 2", "FILE:LINE: not
 * a JSON object", "FILE: no column 'x'", a missing field), BERT_ERR_INPUT
 * ("FILE: no examples"). On error *out is empty. Free with
 * bert_text_examples_free. */
BERT_API bert_status bert_text_examples_read(const char *path, const bert_text_columns *cols,
                                             bert_text_examples *out, bert_error *err);
BERT_API void bert_text_examples_free(bert_text_examples *e);

/* A GLUE task: files DATA_DIR/dir/train and DATA_DIR/dir/dev (TSV). */
typedef struct {
    const char *name;        /* "sst2", "cola", "mrpc", "rte", "stsb", "wnli" */
    const char *dir;         /* under the data directory: "glue/SST-2", ...  */
    const char *train, *dev; /* "train.tsv", "dev.tsv"                       */
    bert_text_columns cols;
    bert_problem problem;    /* single-label, or regression (stsb)           */
    const char *metric;      /* the task's metric: "accuracy", "mcc" (cola),
                                "f1" (mrpc), "pearson" (stsb)                */
} bert_glue_preset;

/* The presets, ending with an entry whose name is NULL. */
BERT_API const bert_glue_preset *bert_glue_presets(void);
/* The preset called name, or NULL. */
BERT_API const bert_glue_preset *bert_glue_preset_find(const char *name);

/* ------------------------------------------------------------------------
 * Data sets: question answering (SQuAD, SubjQA, BioASQ)
 * ---------------------------------------------------------------------- */

/* One question over one context, with its gold answers. */
typedef struct {
    char *id, *question, *context;
    int n_answers;
    char **answers;    /* [n_answers] gold answer texts                      */
    int *starts;       /* [n_answers] their starts in context, in code points */
    int is_impossible; /* no gold answer (SQuAD 2.0, SubjQA ANSWERNOTFOUND)    */
} bert_qa_example;

typedef struct {
    bert_qa_example *v;
    int n;
    int moved;     /* answer_starts moved to their text (see bert_qa_data_read) */
    int unaligned; /* answers not found near their answer_start, kept as given   */
} bert_qa_data;

/* Read the questions of `path` into *out (its previous contents are not
 * freed); limit > 0 keeps only the first limit questions. A name ending in
 * ".csv" is SubjQA CSV: a question per q_review_id, the review (without
 * its trailing " ANSWERNOTFOUND") as context, the distinct spans of
 * human_ans_indices as answers, none where the span is ANSWERNOTFOUND.
 * Anything else is SQuAD JSON, v1.1 or 2.0, gunzipped when gzip (".json.gz");
 * numeric ids are written as integers. An answer_start that does not point
 * at its text (COVID-QA has some) is moved to the text: surrounding
 * whitespace trimmed, the nearest occurrence within 200 bytes (counted in
 * out->moved; not found: kept as given, counted in out->unaligned).
 * Errors: BERT_ERR_IO, BERT_ERR_FORMAT naming the file and the item
 * ("data[0].paragraphs[2].qas[1]: ...", or file:line for CSV and broken
 * JSON), BERT_ERR_INPUT when there are no questions. Free with
 * bert_qa_data_free. */
BERT_API bert_status bert_qa_data_read(const char *path, int limit, bert_qa_data *out, bert_error *err);
BERT_API void bert_qa_data_free(bert_qa_data *d);

/* Move the questions of a seeded share `frac` (0 < frac < 1) of the
 * contexts from *all to the end of *dev, so that no context is in both
 * (a dev split for sets that come as one file); the order of both is kept.
 * A context goes to dev when a hash of its text and the seed falls under
 * frac. */
BERT_API bert_status bert_qa_data_split(bert_qa_data *all, double frac, uint64_t seed, bert_qa_data *dev,
                                        bert_error *err);

/* The named QA data sets: files relative to DATA_DIR. In subjqa's paths
 * "{domain}" stands for the SubjQA domain ("electronics", "grocery", ...). */
typedef struct {
    const char *name;    /* "squad", "tydi", "xquad", "bioasq", "covid_qa", "subjqa"           */
    const char *train;   /* NULL: no training split (xquad is an evaluation set)                */
    const char *dev;     /* NULL: none; take dev_split of train                                 */
    const char *golden;  /* BioASQ's golden file (factoid scoring per question), or NULL        */
    double dev_split;    /* > 0 (with dev NULL): the share of train's contexts held out as dev  */
} bert_qa_preset;

/* The presets, ending with an entry whose name is NULL. */
BERT_API const bert_qa_preset *bert_qa_presets(void);
/* The preset called name, or NULL. */
BERT_API const bert_qa_preset *bert_qa_preset_find(const char *name);
/* buf = data_dir/file with "{domain}" replaced by subjqa_domain (NULL:
 * "electronics"); BERT_ERR_INPUT when it does not fit in cap bytes. */
BERT_API bert_status bert_qa_preset_path(const char *data_dir, const char *file, const char *subjqa_domain, char *buf,
                                         size_t cap, bert_error *err);

/* ------------------------------------------------------------------------
 * Serving: running already tokenized batches on a pipeline
 *
 * What a server (`bert serve`) needs to batch requests of many clients:
 * tokenize each request on the thread that received it, then run the
 * sequences of many requests as one ragged batch on the pipeline.
 *
 * Threading rules:
 *  - The tokenizer (bert_pipeline_tokenizer) and the model
 *    (bert_pipeline_model) are read-only after bert_pipeline_open and may be
 *    used by any number of threads at once, also while the pipeline runs.
 *  - Every call that takes a non-const bert_pipeline * (the task calls
 *    above, bert_pipeline_forward, bert_pipeline_set_truncation) must come
 *    from one thread at a time (a server's one batcher thread); the outputs
 *    read through bert_pipeline_context stay valid until that thread's next
 *    such call.
 *  - bert_pipeline_sentence_config and bert_pipeline_context may be read by
 *    the thread that runs the pipeline; the settings do not change after
 *    opening.
 * ---------------------------------------------------------------------- */

/* Run seqs[0..n) as one ragged batch on the pipeline's model and context
 * (bert_forward's validation and errors, err->item naming the sequence).
 * Each sequence's results are those of running it alone (up to the float
 * summation order, see bert_sequence), so a batch built from several
 * clients' requests answers each as a single request would.
 * Read the outputs with bert_output_* / bert_pool on
 * bert_pipeline_context(p). */
BERT_API bert_status bert_pipeline_forward(bert_pipeline *p, const bert_sequence *seqs, int n, unsigned outputs,
                                           bert_error *err);

/* The working context of the pipeline (outputs of its last run). */
BERT_API const bert_context *bert_pipeline_context(const bert_pipeline *p);

/* The sentence-transformers settings read when the pipeline was opened
 * (present = 0 when the directory has none); bert_embed uses them. */
BERT_API bert_sentence_config bert_pipeline_sentence_config(const bert_pipeline *p);

/* The prompt bert_embed_texts() puts before each text for `params` (NULL:
 * defaults): params->prompt, the prompt named params->prompt_name, else
 * the directory's default prompt; *prompt = NULL when none. *prompt_length
 * is the prompt's token count as bert_embed_texts() passes it to pooling
 * (0 without a prompt). *prompt stays valid while the pipeline lives (or
 * is params->prompt). Errors: BERT_ERR_INPUT (unknown prompt_name, bad
 * pooling / normalize values). Any thread (reads the tokenizer only). */
BERT_API bert_status bert_pipeline_embed_prompt(const bert_pipeline *p, const bert_embed_params *params,
                                                const char **prompt, int *prompt_length, bert_error *err);

/* The sentence embedding of sequence `seq` of the pipeline's last run
 * (bert_pipeline_forward with BERT_OUTPUT_HIDDEN over the tokens of the
 * prompt + text, cut to max_seq_length) into out[bert_embed_dim(p,
 * params)]: what bert_embed_texts() computes from the same token states
 * (the directory's modules, or params' one pooling mode and normalize). */
BERT_API bert_status bert_pipeline_embed_output(bert_pipeline *p, int seq, const bert_embed_params *params,
                                                int prompt_length, float *out, bert_error *err);

/* The classifier scores of sequence `seq` of the pipeline's last run
 * (bert_pipeline_forward with BERT_OUTPUT_CLASSIFIER) into
 * out[bert_model_num_labels]: what bert_classify() gives for the same tokens
 * with score function fn (BERT_SCORE_AUTO: bert_pipeline_score_function).
 * Errors: BERT_ERR_UNSUPPORTED (no classifier head), BERT_ERR_STATE (the
 * last run has no such sequence or did not compute the logits),
 * BERT_ERR_FORMAT (a logit is NaN or infinite; err->item = seq),
 * BERT_ERR_INPUT (fn out of range). */
BERT_API bert_status bert_pipeline_classify_output(bert_pipeline *p, int seq, bert_score_function fn, float *out,
                                                   bert_error *err);

/* Change the truncation policy of the task calls (bert_classify,
 * bert_rerank, bert_ner, bert_fill_mask, ...): truncate = 1 cuts inputs
 * longer than the model takes (from the start when truncate_left), 0 makes
 * them an error. Lets one pipeline serve requests that each choose. */
BERT_API void bert_pipeline_set_truncation(bert_pipeline *p, int truncate, int truncate_left);

/* PyTorch checkpoints and conversion to safetensors.
 *
 * bert_model_load looks for a model directory's weights where transformers
 * does, in this order: model.safetensors, model.safetensors.index.json (and
 * its shards), pytorch_model.bin, pytorch_model.bin.index.json (and its
 * shards pytorch_model-0000x-of-0000y.bin). A .bin is read in either format
 * torch.save writes (the zip container of torch >= 1.6 or the legacy pickle
 * stream), F32/F16/BF16 tensors, storages shared between tensors and views
 * at any offset (contiguous strides; others are refused). Its pickle is
 * read by a restricted reader that executes nothing and refuses, naming
 * it, any global other than collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2 / _rebuild_parameter and the
 * torch.*Storage classes. Tensor names are normalised as for safetensors
 * ("bert." prefix optional, LayerNorm gamma/beta, the decoder bias under
 * either name, position_ids ignored). */

/* Which weight file the model was loaded from and its format:
 * "model.safetensors (safetensors)", "pytorch_model.bin (torch zip)",
 * "pytorch_model.bin (torch legacy)", or for an index
 * "pytorch_model.bin.index.json (torch zip + torch legacy, 2 shards)".
 * Valid while the model lives. */
BERT_API const char *bert_model_source(const bert_model *model);

/* The dtype bert_convert writes floating-point tensors in. */
typedef enum {
    BERT_CONVERT_KEEP = 0, /* each tensor's own dtype */
    BERT_CONVERT_F32 = 1,
    BERT_CONVERT_F16 = 2,  /* round to nearest even; values beyond F16's range become infinite */
    BERT_CONVERT_BF16 = 3  /* round to nearest even */
} bert_convert_dtype;

/* Write the model in model_dir (any weight format bert_model_load reads) to
 * the new directory out_dir in the safetensors layout: one
 * model.safetensors (metadata format "pt") with every tensor of the
 * checkpoint once — names normalised (LayerNorm gamma/beta -> weight/bias,
 * cls.predictions.decoder.bias -> cls.predictions.bias when that is
 * absent, the "bert." prefix kept as the source has it), the tied decoder
 * weight and duplicate decoder bias left out, position_ids buffers left
 * out — floating-point tensors in `dtype`, other tensors unchanged; then
 * config.json, the tokenizer files (vocab.txt, tokenizer.json,
 * tokenizer_config.json, special_tokens_map.json, added_tokens.json) and
 * the sentence-transformers files (modules.json,
 * config_sentence_transformers.json, sentence_bert_config.json and the
 * module directories modules.json names) copied unchanged. The model is
 * loaded first, so a checkpoint bert_model_load refuses is not converted.
 * The output is written to "out_dir.tmp" and renamed to out_dir at the
 * end: out_dir never holds a partial conversion. Fails with BERT_ERR_INPUT
 * when out_dir or out_dir.tmp exists (nothing is overwritten or removed). */
BERT_API bert_status bert_convert(const char *model_dir, const char *out_dir, bert_convert_dtype dtype,
                                  bert_error *err);

/* ----------------------------------------------------------------------
 * Resource limits: hostile inputs are refused with an error naming the
 * limit, never allowed to take memory or time without bound.
 * ---------------------------------------------------------------------- */

/* Context windows one bert_qa input may need (a context of about
 * BERT_QA_MAX_WINDOWS x doc_stride tokens); more is BERT_ERR_INPUT. The
 * windows run a few at a time, so memory does not grow with their count. */
#define BERT_QA_MAX_WINDOWS 1024
/* Documents one bert_rerank call takes; more is BERT_ERR_INPUT. They run
 * in groups, so memory does not grow with their count. */
#define BERT_RERANK_MAX_DOCUMENTS 10000
/* The longest padded encoding (bert_encode_params padding to max_length or
 * to a multiple): a longer target is BERT_ERR_INPUT. */
#define BERT_MAX_PADDED_LENGTH 65536
/* Threads a context (bert_context_params.n_threads), a pipeline
 * (bert_pipeline_params.n_threads) or a trainer (bert_train_params.n_threads)
 * may ask for: at most this many per online CPU core; more is
 * BERT_ERR_INPUT. */
#define BERT_MAX_THREADS_PER_CORE 4

/* Metrics (scikit-learn / scipy definitions). */
BERT_API double bert_metric_accuracy(const int *pred, const int *gold, int n);
BERT_API double bert_metric_f1(const int *pred, const int *gold, int n, int positive); /* binary F1 of class `positive` */
BERT_API double bert_metric_mcc(const int *pred, const int *gold, int n);              /* binary Matthews correlation  */
BERT_API double bert_metric_pearson(const double *x, const double *y, int n);
BERT_API double bert_metric_spearman(const double *x, const double *y, int n);         /* ties get average ranks       */

/* Entity-level scores of tag sequences, as seqeval computes them: its
 * classification_report(output_dict=True) — per type, micro / macro /
 * weighted averages — and the token accuracy (accuracy_score). */
typedef struct {
    double precision, recall, f1;   /* micro averages over all entities ("micro avg")          */
    double macro_f1;                /* mean of the per-type F1 ("macro avg"; 0 without types,  */
    double macro_precision, macro_recall; /* where seqeval gives nan)                          */
    double weighted_precision, weighted_recall, weighted_f1; /* weighted by support ("weighted avg";
                                       0 without gold entities, as seqeval)                    */
    double token_accuracy;          /* tags equal, over all tokens                             */
    long n_gold, n_pred, n_correct; /* entities; n_gold is every average's "support"           */
    int scheme;                     /* strict modes: the scheme applied (BERT_SEQEVAL_IOB1 ..) */
    int n_types;                    /* per-type results, types sorted (Python's str order)     */
    char **types;                   /* "_" for untyped tags (B, I, ...)                        */
    double *type_precision, *type_recall, *type_f1;
    long *type_support;             /* gold entities of the type                               */
} bert_seqeval_result;

/* seqeval's modes: the default (mode=None: conlleval's chunking, where an
 * I- after O starts an entity), or mode='strict' with scheme=IOB1 .. BILOU,
 * or mode='strict' with the scheme auto_detect finds in the gold tags
 * (IOB2, IOE2, IOBES or BILOU from the set of first letters, so untyped
 * B / E / S tags are IOBES). */
enum {
    BERT_SEQEVAL_DEFAULT = 0,
    BERT_SEQEVAL_STRICT = 1, /* strict, scheme detected */
    BERT_SEQEVAL_IOB1,
    BERT_SEQEVAL_IOB2,
    BERT_SEQEVAL_IOE1,
    BERT_SEQEVAL_IOE2,
    BERT_SEQEVAL_IOBES,
    BERT_SEQEVAL_BILOU
};

/* gold and pred hold the tags of n_sent sentences back to back
 * (sent_len[i] tags each); mode is one of the BERT_SEQEVAL_ values. Types
 * are read as seqeval does: default mode the part after the first '-' of
 * tag[1:] (all of tag[1:] without one), strict modes tag[1:] stripped of
 * '-'; "_" when empty. Prefix tags only (seqeval's suffix=False). Errors
 * (BERT_ERR_INPUT, naming the side, sentence and tag, where seqeval raises):
 * an empty tag; strict: a tag whose first letter is none of I O B E S U L,
 * one the scheme does not allow, gold tags no scheme is detected from.
 * Free the result with bert_seqeval_free. */
BERT_API bert_status bert_seqeval(const char *const *gold, const char *const *pred, const int *sent_len, int n_sent,
                                  int mode, bert_seqeval_result *out, bert_error *err);
BERT_API void bert_seqeval_free(bert_seqeval_result *r);

/* The mode's name: "default", "strict", "IOB1", "IOB2", "IOE1", "IOE2",
 * "IOBES", "BILOU"; NULL for another value. bert_seqeval_scheme_from_name
 * is its inverse (-1 for an unknown name). */
BERT_API const char *bert_seqeval_scheme_name(int mode);
BERT_API int bert_seqeval_scheme_from_name(const char *name);

/* The result as seqeval's classification_report(output_dict=True) writes it,
 * as compact JSON (malloc'd; NULL when out of memory): {"TYPE":
 * {"precision", "recall", "f1-score", "support"}, ..., "micro avg",
 * "macro avg", "weighted avg"}. */
BERT_API char *bert_seqeval_report_json(const bert_seqeval_result *r);

/* The official SQuAD answer comparison (evaluate-v1.1.py, evaluate-v2.0.py):
 * normalise (Python's str.lower(), Greek capital sigma final at a word end
 * and U+0130 to "i" + U+0307 included; remove ASCII punctuation; remove the
 * words a/an/the; collapse whitespace; a malloc'd string, NULL when out of
 * memory), exact match (0/1), and token-overlap F1: bert_squad_f1 is
 * v2.0's compute_f1 (an answer without tokens scores 1 against another
 * without, 0 against one with), bert_squad_f1_v1 v1.1's f1_score (0 when
 * no token is shared, so 0 when either is empty). */
BERT_API char *bert_squad_normalize(const char *s);
BERT_API double bert_squad_exact(const char *prediction, const char *gold);
BERT_API double bert_squad_f1(const char *prediction, const char *gold);
BERT_API double bert_squad_f1_v1(const char *prediction, const char *gold);

/* Which official script's rules score a SQuAD file. */
enum { BERT_SQUAD_AUTO = 0, BERT_SQUAD_V1 = 1, BERT_SQUAD_V2 = 2 };

/* One question's exact match and F1 (0..1): the max over the n_golds gold
 * answers with version's rules. BERT_SQUAD_V1: every gold answer counts
 * (n_golds 0 scores 0). BERT_SQUAD_V2: gold answers that normalise to ""
 * are dropped and, when none is left (an unanswerable question), the
 * right answer is "". */
BERT_API void bert_squad_score_question(const char *prediction, const char *const *golds, int n_golds, int version,
                                        double *exact, double *f1);

typedef struct {
    int version;            /* BERT_SQUAD_AUTO: v2.0 when a question has no answers or an
                               "is_impossible" field, or the file's "version" names 2.x;
                               else v1.1. Or BERT_SQUAD_V1 / BERT_SQUAD_V2.                 */
    const char *na_prob_file; /* v2.0: {"id": probability of no answer} (--na-prob-file), or NULL */
    double na_prob_thresh;  /* v2.0: predict "" when the probability exceeds this (1.0)     */
} bert_squad_eval_params;

/* version AUTO, no na_prob_file, na_prob_thresh 1.0. */
BERT_API bert_squad_eval_params bert_squad_eval_default_params(void);

typedef struct {
    int version;              /* the rules applied: BERT_SQUAD_V1 or BERT_SQUAD_V2              */
    char *data_version;       /* the data file's "version" string, or NULL                       */
    double exact, f1;         /* percentages ("exact_match" / "f1" in v1.1, "exact" / "f1" in v2.0) */
    long total;               /* v1.1: every question; v2.0: distinct question ids              */
    long has_total, no_total; /* v2.0: questions with / without gold answers (0: not reported)  */
    double has_exact, has_f1, no_exact, no_f1;
    int has_best;             /* v2.0 with na_prob_file: the best thresholds below               */
    double best_exact, best_exact_thresh, best_f1, best_f1_thresh;
    long n_missing;           /* v1.1: questions without a prediction (scored 0), their ids      */
    char **missing;
    char *json;               /* what the official script prints on stdout, newline-terminated  */
} bert_squad_eval;

/* Score the predictions file ({"id": "answer"}) against the SQuAD data
 * file (gzip allowed) exactly as the official script of the version does,
 * float arithmetic included (sums as CPython 3.11's sum(); Python 3.12+
 * sums with compensation and may differ in the last digit). v1.1: a
 * question without a prediction scores 0. v2.0: every question needs a
 * prediction and, with na_prob_file, a probability (the script stops with
 * a KeyError otherwise: here BERT_ERR_INPUT naming the id); repeated ids
 * count once, as the script's dicts do. Errors name the file and item:
 * BERT_ERR_IO, BERT_ERR_FORMAT (not SQuAD JSON, a non-string answer or id,
 * a non-number probability), BERT_ERR_INPUT (no questions, na_prob_file
 * with the v1.1 rules, a v1.1 question without answers), BERT_ERR_NOMEM.
 * Free with bert_squad_eval_free. */
BERT_API bert_status bert_squad_evaluate(const char *data_path, const char *predictions_path,
                                         const bert_squad_eval_params *p, bert_squad_eval *out, bert_error *err);
BERT_API void bert_squad_eval_free(bert_squad_eval *e);

#ifdef __cplusplus
}
#endif

#endif /* BERT_H */
