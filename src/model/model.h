/* model.h — the loaded model: configuration plus typed views of its weights.
 *
 * Every pointer below points either into a mapped safetensors or torch
 * checkpoint file (F32 tensors, used in place) or into one block of widened F16/BF16 values.
 * Linear weights keep PyTorch's [out x in] layout. */
#ifndef BERT_MODEL_MODEL_H
#define BERT_MODEL_MODEL_H

#include "bert.h"
#include "io/safetensors.h"
#include "model/config.h"

typedef struct {
    const float *w;      /* [out x in] */
    const float *b;      /* [out]      */
    const uint16_t *w16; /* bf16 copy of w when computing in bf16 through oneDNN, else NULL */
    const uint16_t *wamx; /* w packed for kernels/linear_amx.h when computing in bf16 on AMX, else NULL */
    struct bert_qlinear *q8; /* int8 packed form of w when computing in int8, else NULL */
    struct bert_plinear *pf32; /* w packed for oneDNN's f32 matmul (bert_model_params.pack_weights), else NULL */
    struct bert_plinear *pbf16; /* w in bf16 packed for oneDNN's matmul (bf16, layers and pooler >= 256 x 256), else NULL */
    const float *wavx; /* w packed for kernels/linear_avx512.h (f32 layers oneDNN does not pack), else NULL */
} bert_dense;

typedef struct {
    const float *w, *b; /* [C] gamma, beta */
} bert_norm;

typedef struct {
    bert_dense q, k, v;   /* attention.self.{query,key,value}   */
    bert_dense attn_out;  /* attention.output.dense              */
    bert_norm attn_ln;    /* attention.output.LayerNorm          */
    bert_dense inter;     /* intermediate.dense  [I x C]         */
    bert_dense out;       /* output.dense        [C x I]         */
    bert_norm out_ln;     /* output.LayerNorm                    */
    /* Q, K and V as one product of [3C x C] (inference, small hidden sizes;
     * all zero where the model keeps three): under f32 unpacked (model.c's
     * fuse_qkv) w and b in m->fused, wavx their AVX-512 packing where made;
     * packed for oneDNN's matmul (pack_f32_weights): pf32, b = q.b (q, k,
     * v's biases side by side);
     * q, k and v themselves then stay unpacked and unused. Under bf16
     * pbf16 (make_bf16_weights, layers oneDNN packs) or w16 (fuse_qkv: =
     * q.w16, k's and v's following), under int8
     * (make_int8_weights) q8 of [3C x C]; b the biases side by side in
     * m->fused. */
    bert_dense qkv;
} bert_layer_weights;

typedef struct {
    const float *word;  /* [V x C]  */
    const float *pos;   /* [P x C]  */
    const float *type;  /* [TV x C] */
    bert_norm emb_ln;
    bert_layer_weights *layers; /* [num_hidden_layers] */
    bert_dense pooler;          /* [C x C] */
    bert_dense mlm_transform;   /* [C x C] */
    bert_norm mlm_ln;
    const float *mlm_decoder; /* [V x C], == word when tied */
    const float *mlm_bias;    /* [V] */
    bert_dense nsp;           /* [2 x C] */
    bert_dense classifier;    /* [num_labels x C] */
    bert_dense qa;            /* [2 x C] */
    bert_dense intent;        /* [num_intents x C] (joint intent + slot models) */
} bert_weights;

struct bert_model {
    bert_config_full cfg;
    bert_weights w;
    unsigned heads;    /* BERT_HEAD_* */
    st_file *shards;   /* [n_shards] open weight files (safetensors or torch, io/torch_load.h) */
    int n_shards;
    float *converted;  /* widened F16/BF16 (and unaligned F32) tensors */
    uint16_t *bf16;    /* bf16 copies of the encoder's dense weights (BERT_COMPUTE_BF16) */
    float *fused;      /* the layers' concatenated Q/K/V weights and biases (f32: qkv.w and qkv.b; bf16/int8: qkv.b), or NULL */
    float *packed_avx; /* the wavx weights of every layer (pack_small_f32), or NULL */
    bert_compute_dtype compute;
    /* the bf16 attention kernel (kernels/attention.h: a
     * bert_attention_bf16_kernel, AMX or AVX512-BF16) under bf16/int8 where
     * this CPU and the head size allow, else 0 (NONE); picked at load */
    int attention_bf16;
    int packed_f32;    /* encoder dense layers packed for oneDNN's f32 matmul (some d->pf32 set) */
    int packed_bf16;   /* some encoder dense layer or the pooler packed for oneDNN's bf16 matmul (d->pbf16) */
    struct bert_cuda_model *cuda; /* BERT_DEVICE_CUDA: the layers' and heads' weights on the GPU (cuda/encoder.h), else NULL */
    int cuda_labels;   /* the classifier's rows the GPU holds (bert_model_num_labels at loading) */
    float *packed_small; /* the encoder's biases and LayerNorm vectors copied out of the file where its
                            dense weights were packed or converted (their file pages given back) */
    int64_t n_params;
    int n_ignored;
    char dtypes[32];
    char source[160];  /* the weight file read and its format (bert_model_source) */
};

/* One weight the model has or can have. */
typedef struct {
    char name[96];       /* canonical name (no "bert." prefix) */
    const float **slot;  /* where the pointer goes in bert_weights */
    int64_t rows, cols;  /* shape from the config; cols == 0 for a vector */
    unsigned group;      /* 0 = encoder (required), else the BERT_HEAD_* it belongs to */
    int optional;        /* may be absent even when its group is present (the tied decoder) */
} bert_weight_req;

typedef struct {
    bert_weight_req *v;
    int n, cap;
} bert_weight_list;

/* Every weight m's config allows, in a fixed order (weights.c); slots
 * point into m->w (allocating m->w.layers if needed). Free l->v. */
bert_status bert_weight_list_build(bert_model *m, bert_weight_list *l, bert_error *err);

/* Bind the tensors of the open shards to m->w, checking dtype and shape
 * against m->cfg (weights.c). */
bert_status bert_weights_bind(bert_model *m, bert_error *err);

/* A calloc'd array of m's layers' weights as the GPU path takes them
 * (cuda/encoder.h's bert_cuda_layer_src, pointing into m->w), one per
 * layer; NULL when memory runs out. For loading onto the GPU and for
 * training there. */
struct bert_cuda_layer_src *bert_model_cuda_layers(const bert_model *m);

#endif
