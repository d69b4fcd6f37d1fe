/* model.c — opening a Hugging Face model directory.
 *
 * Order of checks: the directory, config.json, then the weights
 * (model.safetensors, model.safetensors.index.json with its shards,
 * pytorch_model.bin or pytorch_model.bin.index.json, as transformers
 * looks for them), so the first error a user sees is about the most basic
 * thing that is wrong. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file.h"
#include "io/json_fields.h"
#include "io/torch_load.h"
#include "kernels/gemm.h"
#include "kernels/gemm_onednn.h"
#include "kernels/linear_amx.h"
#include "kernels/linear_avx512.h"
#include "kernels/linear_packed.h"
#include "kernels/qlinear.h"
#include "kernels/half.h"
#include "model/model.h"

#include "cuda/encoder.h"
#include "kernels/attention.h"
#include "util/error.h"
#include "util/mem.h"

bert_model_params bert_model_default_params(void) {
    bert_model_params p = {.use_mmap = 1, .pack_weights = 1};
    return p;
}

/* The distinct shard file names of an index's weight_map, in first-seen order. */
static bert_status index_shards(const char *dir, const char *index_path, char ***names, int *n, bert_error *err) {
    cJSON *root;
    bert_status rc = bert_json_load_file(index_path, &root, err);
    if (rc != BERT_OK) return rc;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return bert_fail(err, BERT_ERR_FORMAT, "%s: no 'weight_map' object", index_path);
    }
    int cap = cJSON_GetArraySize(map);
    *names = calloc((size_t)(cap ? cap : 1), sizeof **names);
    *n = 0;
    if (!*names) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (const cJSON *e = map->child; e && rc == BERT_OK; e = e->next) {
        if (!cJSON_IsString(e)) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: weight_map['%s'] is not a file name", index_path, e->string);
            break;
        }
        const char *f = e->valuestring;
        if (!*f || strchr(f, '/') || strcmp(f, "..") == 0) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: shard name '%s' must be a plain file name in %s", index_path, f, dir);
            break;
        }
        int seen = 0;
        for (int i = 0; i < *n && !seen; i++) seen = strcmp((*names)[i], f) == 0;
        if (!seen && !((*names)[(*n)++] = strdup(f))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    /* Every weight the index names must be in the shard it names. This is
     * checked after the shards are opened (see check_index). */
    cJSON_Delete(root);
    return rc;
}

static bert_status check_index(bert_model *m, const char *index_path, bert_error *err) {
    cJSON *root;
    bert_status rc = bert_json_load_file(index_path, &root, err);
    if (rc != BERT_OK) return rc;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    for (const cJSON *e = map->child; e && rc == BERT_OK; e = e->next) {
        const st_file *shard = NULL;
        for (int s = 0; s < m->n_shards && !shard; s++) {
            const char *base = strrchr(m->shards[s].path, '/');
            if (strcmp(base ? base + 1 : m->shards[s].path, e->valuestring) == 0) shard = &m->shards[s];
        }
        if (!shard || !st_find(shard, e->string))
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: tensor '%s' is not in its shard %s", index_path, e->string,
                           e->valuestring);
    }
    cJSON_Delete(root);
    return rc;
}

/* Append format to the "+"-separated list in buf unless it is there. */
static void note_format(char *buf, size_t cap, const char *format) {
    if (strstr(buf, format)) return;
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "%s%s", len ? " + " : "", format);
}

/* Open one weight file: safetensors, or a torch checkpoint when is_torch;
 * its format name is added to formats. */
static bert_status open_one(const char *path, int is_torch, int use_mmap, st_file *f, char *formats, size_t cap,
                            bert_error *err) {
    torch_format tf;
    bert_status rc = is_torch ? torch_open(path, use_mmap, f, &tf, err) : st_open(path, use_mmap, f, err);
    if (rc == BERT_OK) note_format(formats, cap, is_torch ? torch_format_name(tf) : "safetensors");
    return rc;
}

/* The shards an index names, each opened, then the index checked against them. */
static bert_status open_sharded(bert_model *m, const char *dir, const char *index, int is_torch, int use_mmap,
                                char *formats, size_t cap, bert_error *err) {
    char path[PATH_MAX];
    char **names = NULL;
    int n = 0;
    bert_status rc = index_shards(dir, index, &names, &n, err);
    if (rc == BERT_OK && !(m->shards = calloc((size_t)(n ? n : 1), sizeof *m->shards)))
        rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && rc == BERT_OK; i++) {
        rc = bert_path_join(path, sizeof path, dir, names[i], err);
        if (rc == BERT_OK) rc = open_one(path, is_torch, use_mmap, &m->shards[i], formats, cap, err);
        if (rc == BERT_OK) m->n_shards++;
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc == BERT_OK) rc = check_index(m, index, err);
    return rc;
}

/* The weights in transformers' order: model.safetensors, its index,
 * pytorch_model.bin, its index; m->source says which was read. */
static bert_status open_weights(bert_model *m, const char *dir, int use_mmap, bert_error *err) {
    static const struct {
        const char *single, *index;
        int is_torch;
    } kinds[2] = {{"model.safetensors", "model.safetensors.index.json", 0},
                  {"pytorch_model.bin", "pytorch_model.bin.index.json", 1}};
    char single[PATH_MAX], index[PATH_MAX], path[PATH_MAX], formats[64] = "";
    bert_status rc;
    for (int k = 0; k < 2; k++) {
        if ((rc = bert_path_join(single, sizeof single, dir, kinds[k].single, err)) != BERT_OK ||
            (rc = bert_path_join(index, sizeof index, dir, kinds[k].index, err)) != BERT_OK)
            return rc;
        if (bert_file_exists(single)) {
            if (!(m->shards = calloc(1, sizeof *m->shards))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            rc = open_one(single, kinds[k].is_torch, use_mmap, &m->shards[0], formats, sizeof formats, err);
            if (rc == BERT_OK) m->n_shards = 1;
            snprintf(m->source, sizeof m->source, "%s (%s)", kinds[k].single, formats);
            return rc;
        }
        if (bert_file_exists(index)) {
            rc = open_sharded(m, dir, index, kinds[k].is_torch, use_mmap, formats, sizeof formats, err);
            snprintf(m->source, sizeof m->source, "%s (%s, %d shards)", kinds[k].index, formats, m->n_shards);
            return rc;
        }
    }
    const char *other[] = {"tf_model.h5", "flax_model.msgpack", "model.onnx"};
    for (int i = 0; i < 3; i++) {
        if (bert_path_join(path, sizeof path, dir, other[i], NULL) == BERT_OK && bert_file_exists(path))
            return bert_fail(err, BERT_ERR_UNSUPPORTED,
                             "%s: only safetensors and PyTorch weights are read; convert %s to model.safetensors "
                             "(transformers: model.save_pretrained(dir, safe_serialization=True))",
                             dir, other[i]);
    }
    return bert_fail(err, BERT_ERR_IO,
                     "%s: no model.safetensors or model.safetensors.index.json (nor pytorch_model.bin or "
                     "pytorch_model.bin.index.json)",
                     dir);
}

const char *bert_bf16_unavailable_reason(void) { return bert_bf16_unavailable(); }
const char *bert_int8_unavailable_reason(void) { return bert_int8_unavailable(); }

/* The six dense layers of layer l, and their [out, in] sizes. */
static void layer_denses(bert_model *m, int l, bert_dense *d[6], int out[6], int in[6]) {
    int C = m->cfg.pub.hidden_size, I = m->cfg.pub.intermediate_size;
    bert_layer_weights *L = &m->w.layers[l];
    bert_dense *dd[6] = {&L->q, &L->k, &L->v, &L->attn_out, &L->inter, &L->out};
    int o[6] = {C, C, C, C, I, C}, i[6] = {C, C, C, C, C, I};
    for (int k = 0; k < 6; k++) d[k] = dd[k], out[k] = o[k], in[k] = i[k];
}

/* Give the file's pages of [p, p + n) back (see bert_file_release). */
static void release_file_pages(bert_model *m, const void *p, size_t n) {
    for (int i = 0; i < m->n_shards; i++) bert_file_release(&m->shards[i].file, p, n);
}

/* Copy n floats of a small tensor into the block at *at and point *ptr there. */
static void move_small(bert_model *m, const float **ptr, size_t n, float **at) {
    memcpy(*at, *ptr, sizeof(float) * n);
    release_file_pages(m, *ptr, sizeof(float) * n);
    *ptr = *at, *at += n;
}

/* The file's pages of layer l's dense weights that inference reads only in
 * another form (packed f32 or bf16, bf16, AMX tiles, int8 alone or fused). */
static void release_converted(bert_model *m, int l) {
    bert_dense *d[6];
    int out[6], in[6];
    layer_denses(m, l, d, out, in);
    const bert_layer_weights *L = &m->w.layers[l];
    for (int k = 0; k < 6; k++)
        if (d[k]->pf32 || d[k]->pbf16 || d[k]->w16 || d[k]->wamx || d[k]->q8 || d[k]->wavx ||
            (k < 3 && (L->qkv.pf32 || L->qkv.pbf16 || L->qkv.q8 || L->qkv.wavx)))
            release_file_pages(m, d[k]->w, sizeof(float) * (size_t)out[k] * (size_t)in[k]);
}

/* A block for every layer's biases and LayerNorm vectors and the pooler's
 * bias (m->packed_small), or NULL when memory is short (then nothing is
 * released: the same results). */
static float *small_block(bert_model *m) {
    const bert_config *c = &m->cfg.pub;
    size_t per_layer = 9 * (size_t)c->hidden_size + (size_t)c->intermediate_size;
    return m->packed_small = malloc(sizeof(float) * (per_layer * (size_t)c->num_hidden_layers + (size_t)c->hidden_size));
}

/* The file's pages of the pooler's weight, once inference reads it only
 * in another form (bf16, int8, packed f32), its bias first copied into
 * the block at *at (where the layers' left off; NULL: nothing released),
 * as release_converted and move_layer_small do for a layer. */
static void release_pooler(bert_model *m, float **at) {
    size_t C = (size_t)m->cfg.pub.hidden_size;
    if (!*at) return;
    if (m->w.pooler.b) move_small(m, &m->w.pooler.b, C, at);
    release_file_pages(m, m->w.pooler.w, sizeof(float) * C * C);
}

/* Layer l's biases (q, k, v's side by side, in that order) and LayerNorm
 * vectors copied into the block at *at: a forward pass reading them from
 * the mapping would fault their pages back in once the weights' are
 * released, and the kernel maps a whole large page-cache folio (up to MBs)
 * at a time — measured here, a pass brought 45 % of the released weights
 * back. */
static void move_layer_small(bert_model *m, int l, float **at) {
    bert_dense *d[6];
    int out[6], in[6];
    layer_denses(m, l, d, out, in);
    bert_layer_weights *L = &m->w.layers[l];
    size_t C = (size_t)m->cfg.pub.hidden_size;
    for (int k = 0; k < 6; k++)
        if (d[k]->b) move_small(m, &d[k]->b, (size_t)out[k], at);
    move_small(m, &L->attn_ln.w, C, at), move_small(m, &L->attn_ln.b, C, at);
    move_small(m, &L->out_ln.w, C, at), move_small(m, &L->out_ln.b, C, at);
}

/* Whether Q, K and V may run as one product of 3C outputs: small hidden
 * sizes, and a feed-forward buffer ([N x I]) that holds [N x 3C]. */
static int qkv_fusable(const bert_config *c) {
    return c->hidden_size <= 512 && c->intermediate_size >= 3 * c->hidden_size;
}

/* L's query, key and value weights ([C x C] each) one after another into dst [3C x C]. */
static void copy_qkv_weights(const bert_layer_weights *L, size_t C, float *dst) {
    const float *w[3] = {L->q.w, L->k.w, L->v.w};
    for (int k = 0; k < 3; k++) memcpy(dst + (size_t)k * C * C, w[k], sizeof(float) * C * C);
}

/* L's query, key and value biases side by side into dst [3C] (zeros for a
 * missing one): the bias of the fused product. */
static void copy_qkv_biases(const bert_layer_weights *L, size_t C, float *dst) {
    const float *b[3] = {L->q.b, L->k.b, L->v.b};
    for (int k = 0; k < 3; k++)
        if (b[k]) memcpy(dst + (size_t)k * C, b[k], sizeof(float) * C);
        else memset(dst + (size_t)k * C, 0, sizeof(float) * C);
}

/* *buf holding at least n bf16 values (*cap of them now), grown as needed;
 * 0 when memory is short (*buf then NULL). */
static int grow_bf16(uint16_t **buf, size_t *cap, size_t n) {
    if (n <= *cap && *buf) return 1;
    free(*buf);
    *buf = malloc(n * sizeof **buf);
    *cap = *buf ? n : 0;
    return *buf != NULL;
}

/* d [out x in] in bf16 for make_bf16_weights: packed into AMX's tile
 * layout at slot where linear_amx.h takes the shape; else, with oneDNN
 * (onednn), packed for its bf16 matmul where the layer is large enough
 * (the rounded copy passing through *tmp, grown as needed), or plain at
 * slot (also where oneDNN refused it). 0 when neither AMX nor oneDNN can
 * take it (d unchanged). */
static int bf16_dense(bert_model *m, bert_dense *d, int out, int in, uint16_t *slot, int onednn, uint16_t **tmp,
                      size_t *largest) {
    size_t n = (size_t)out * (size_t)in;
    if (bert_amx_linear_preferred(out, in)) {
        bert_amx_pack_weights(slot, d->w, out, in);
        d->wamx = slot;
        return 1;
    }
    if (!onednn) return 0;
    if (bert_plinear_bf16_preferred(out, in) && grow_bf16(tmp, largest, n)) {
        bert_f32_to_bf16_array(*tmp, d->w, n);
        if ((d->pbf16 = bert_plinear_create_bf16(*tmp, out, in, d->b != NULL))) {
            m->packed_bf16 = 1;
            return 1;
        }
    }
    bert_f32_to_bf16_array(slot, d->w, n);
    d->w16 = slot;
    return 1;
}

/* BERT_COMPUTE_BF16: one bf16 copy of each encoder dense weight, rounded
 * to nearest even once here, so no product converts weights again: packed
 * into AMX's tile layout where the kernel of linear_amx.h can take the shape,
 * packed for oneDNN's bf16 matmul primitive where the layer is large enough
 * (bert_plinear_bf16_preferred: then no product repacks it either; the
 * rounded copy only passes through a buffer), plain row-major for oneDNN's
 * bf16 gemm otherwise; Q, K and V as one packed [3C x C] weight where they
 * may run as one product (qkv_fusable; as pack_qkv does for f32). m->bf16
 * has a slot for every weight in layer order
 * (so a layer's q, k, v are adjacent); the slots of the weights oneDNN
 * packed are never written, so their pages never become resident. Each layer's f32
 * weights are given back to the file once converted (inference does not
 * read them), their biases and LayerNorm vectors copied out first. */
static bert_status make_bf16_weights(bert_model *m, bert_error *err) {
    const bert_config *c = &m->cfg.pub;
    const char *why = bert_bf16_unavailable(); /* oneDNN: needed only for what AMX does not take */
    size_t C = (size_t)c->hidden_size, I = (size_t)c->intermediate_size, largest = 0;
    size_t per_layer = 4 * C * C + 2 * C * I, pooler = (m->heads & BERT_HEAD_POOLER) ? C * C : 0;
    m->bf16 = bert_alloc64((per_layer * (size_t)c->num_hidden_layers + pooler) * sizeof(uint16_t));
    if (!m->bf16) return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate bf16 weights");
    uint16_t *p = m->bf16, *tmp = NULL;
    float *small = small_block(m);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        bert_dense *d[6];
        int out[6], in[6];
        layer_denses(m, l, d, out, in);
        bert_layer_weights *L = &m->w.layers[l];
        if (small) move_layer_small(m, l, &small);
        /* the fused product's bias is q's, k's and v's side by side: moved so just above */
        int fused = small && !why && qkv_fusable(c) && L->q.b && L->k.b && L->v.b && !bert_amx_linear_preferred((int)C, (int)C) &&
                    bert_plinear_bf16_preferred(3 * (int)C, (int)C) && grow_bf16(&tmp, &largest, 3 * C * C);
        if (fused) {
            const float *w[3] = {L->q.w, L->k.w, L->v.w};
            for (int k = 0; k < 3; k++) bert_f32_to_bf16_array(tmp + (size_t)k * C * C, w[k], C * C);
            fused = (L->qkv.pbf16 = bert_plinear_create_bf16(tmp, 3 * (int)C, (int)C, 1)) != NULL;
        }
        if (fused) L->qkv.b = L->q.b, m->packed_bf16 = 1;
        for (int i = 0; i < 6; i++) {
            uint16_t *slot = p;
            p += (size_t)out[i] * (size_t)in[i];
            if (fused && i < 3) continue;
            if (!bf16_dense(m, d[i], out[i], in[i], slot, !why, &tmp, &largest)) {
                free(tmp);
                return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", why); /* bert_model_free releases m->bf16 */
            }
        }
        if (small) release_converted(m, l);
    }
    /* the pooler too, as autocast runs every Linear in bf16: its f32
     * weight, read for a few rows a pass and cold by then, is memory-bound
     * (bert-base shape, batch 1, one thread, Intel Xeon: 0.23 of 3.3 ms);
     * bf16 reads half the bytes */
    if ((m->heads & BERT_HEAD_POOLER) && bf16_dense(m, &m->w.pooler, (int)C, (int)C, p, !why, &tmp, &largest))
        release_pooler(m, &small);
    free(tmp);
    m->compute = BERT_COMPUTE_BF16;
    return BERT_OK;
}

/* BERT_COMPUTE_INT8: each encoder dense weight, and the pooler's, quantized
 * and packed once;
 * Q, K and V as one [3C x C] weight where they may run as one product
 * (qkv_fusable; weights are quantized per output row, so each row's scale
 * is the one it had alone), its bias in m->fused. Each layer's f32 weights
 * are given back to the file once quantized (inference does not read
 * them), their biases and LayerNorm vectors copied out first. */
static bert_status make_int8_weights(bert_model *m, bert_error *err) {
    const bert_config *c = &m->cfg.pub;
    const char *why = bert_int8_unavailable();
    if (why) return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s", why);
    size_t C = (size_t)c->hidden_size;
    float *w3 = qkv_fusable(c) ? malloc(sizeof(float) * 3 * C * C) : NULL; /* without it: three products */
    float *b3 = w3 ? (m->fused = malloc(sizeof(float) * 3 * C * (size_t)c->num_hidden_layers)) : NULL;
    if (!b3) free(w3), w3 = NULL;
    float *small = small_block(m);
    bert_status rc = BERT_OK;
    for (int l = 0; rc == BERT_OK && l < c->num_hidden_layers; l++) {
        bert_dense *d[6];
        int out[6], in[6];
        layer_denses(m, l, d, out, in);
        bert_layer_weights *L = &m->w.layers[l];
        if (small) move_layer_small(m, l, &small);
        if (w3) {
            copy_qkv_weights(L, C, w3);
            copy_qkv_biases(L, C, b3);
            L->qkv.b = b3, b3 += 3 * C;
            if (!(L->qkv.q8 = bert_qlinear_create(w3, 3 * (int)C, (int)C, &why)))
                rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "layer %d: %s", l, why);
        }
        for (int k = w3 ? 3 : 0; rc == BERT_OK && k < 6; k++)
            if (!(d[k]->q8 = bert_qlinear_create(d[k]->w, out[k], in[k], &why)))
                rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "layer %d: %s", l, why);
        if (small && rc == BERT_OK) release_converted(m, l);
    }
    /* the pooler too, as PyTorch's and ONNX Runtime's dynamic quantization
     * of every Linear does: its f32 weight, read for a few rows a pass and
     * cold by then, cost a bert-base-shaped pass 0.27 of 3.3 ms (one
     * thread, batch 1, Intel Xeon) — memory-bound; int8 reads a quarter */
    if (rc == BERT_OK && (m->heads & BERT_HEAD_POOLER)) {
        if (!(m->w.pooler.q8 = bert_qlinear_create(m->w.pooler.w, (int)C, (int)C, &why)))
            rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "pooler: %s", why);
        else release_pooler(m, &small);
    }
    free(w3);
    if (rc == BERT_OK) m->compute = BERT_COMPUTE_INT8;
    return rc;
}

/* Layer l's Q, K and V packed as one [3C x C] product into L->qkv (small
 * hidden sizes, where the feed-forward buffer holds [N x 3C]: one primitive
 * call instead of three, the fixed cost per call being what short inputs
 * pay). 0 when not done (then each is packed alone). */
static int pack_qkv(bert_model *m, int l) {
    size_t C = (size_t)m->cfg.pub.hidden_size;
    bert_layer_weights *L = &m->w.layers[l];
    if (!qkv_fusable(&m->cfg.pub) || !bert_plinear_preferred(3 * (int)C, (int)C) || !L->q.b || !L->k.b || !L->v.b)
        return 0;
    float *w3 = malloc(sizeof(float) * 3 * C * C);
    if (!w3) return 0;
    copy_qkv_weights(L, C, w3);
    L->qkv.pf32 = bert_plinear_create(w3, 3 * (int)C, (int)C, 1);
    free(w3);
    return L->qkv.pf32 != NULL;
}

/* BERT_COMPUTE_F32 with pack_weights: each large encoder dense weight packed
 * once for oneDNN's f32 matmul (kernels/linear_packed.h), and the file's
 * pages of the plain weight released, so the packed copy replaces rather
 * than adds to the resident size (the layer's biases and LayerNorm vectors
 * copied out first: move_layer_small). A layer oneDNN refuses (or that
 * memory cannot be found for) stays on the plain path: same results. */
static void pack_f32_weights(bert_model *m) {
    const bert_config *c = &m->cfg.pub;
    size_t C = (size_t)c->hidden_size, I = (size_t)c->intermediate_size;
    if (!bert_plinear_preferred((int)C, (int)C) && !bert_plinear_preferred((int)I, (int)C) &&
        !bert_plinear_preferred((int)C, (int)I))
        return; /* no layer of this model is packed (small models, or no oneDNN) */
    float *at = small_block(m);
    if (!at) return;
    for (int l = 0; l < c->num_hidden_layers; l++) {
        bert_dense *d[6];
        int out[6], in[6];
        layer_denses(m, l, d, out, in);
        int fused = pack_qkv(m, l);
        m->packed_f32 |= fused;
        for (int k = fused ? 3 : 0; k < 6; k++)
            if (bert_plinear_preferred(out[k], in[k]) && (d[k]->pf32 = bert_plinear_create(d[k]->w, out[k], in[k], d[k]->b != NULL)))
                m->packed_f32 = 1;
        if (!m->packed_f32) return;
        move_layer_small(m, l, &at);
        if (fused) m->w.layers[l].qkv.b = m->w.layers[l].q.b; /* the fused product's [3C] */
        release_converted(m, l); /* now, so that the peak holds one layer in both forms */
    }
    /* the pooler too: a batch's first tokens are few rows, which the plain
     * path pads to 16 and whose sgemm then repacks the weight on each call */
    if ((m->heads & BERT_HEAD_POOLER) && bert_plinear_preferred((int)C, (int)C) &&
        (m->w.pooler.pf32 = bert_plinear_create(m->w.pooler.w, (int)C, (int)C, 1)))
        release_pooler(m, &at);
}

/* Q, K and V as one product of 3C outputs, for hidden sizes of at most 512
 * and an intermediate size of at least 3 x hidden (the forward pass puts
 * Q, K, V in its feed-forward buffer); the fixed cost per product call is
 * what short inputs pay (f32 at two threads on the BERT-Tiny shape: 0.76-
 * 0.81 of the time of three; the same sums per output, in other blocks).
 * - f32 without packed weights: each layer's weights and biases concatenated
 *   (qkv.w, qkv.b in m->fused); the file's pages of the three weights are
 *   given back after the copy (inference reads only the fused one), so the
 *   copy replaces rather than adds to the resident size;
 * - bf16: make_bf16_weights put the three bf16 weights one after another
 *   already, so qkv.w16 is q's (not where AMX or oneDNN packed them), the
 *   biases side by side as qkv.b (in m->fused);
 * - int8: make_int8_weights fuses them itself (qkv_fusable too).
 * Larger models keep three products; so does a model whose memory for it
 * cannot be found (the same results either way). */
static void fuse_qkv(bert_model *m) {
    const bert_config *c = &m->cfg.pub;
    size_t C = (size_t)c->hidden_size, nl = (size_t)c->num_hidden_layers;
    if (!qkv_fusable(c) || nl < 1 || m->compute == BERT_COMPUTE_INT8) return; /* int8: make_int8_weights fuses */
    for (size_t l = 0; l < nl; l++) {
        const bert_layer_weights *L = &m->w.layers[l];
        if (L->q.pf32 || L->k.pf32 || L->v.pf32 || L->qkv.pf32 || L->q.wamx || L->q.pbf16 || L->k.pbf16 || L->v.pbf16)
            return;
        if (m->compute == BERT_COMPUTE_BF16 && (!L->q.w16 || L->k.w16 != L->q.w16 + C * C || L->v.w16 != L->k.w16 + C * C))
            return;
    }
    int f32 = m->compute == BERT_COMPUTE_F32;
    float *at = m->fused = malloc(sizeof(float) * ((f32 ? 3 * C * C : 0) + 3 * C) * nl);
    if (!at) return;
    for (size_t l = 0; l < nl; l++) {
        bert_layer_weights *L = &m->w.layers[l];
        bert_dense *d[3] = {&L->q, &L->k, &L->v};
        if (f32) {
            L->qkv.w = at;
            copy_qkv_weights(L, C, at);
            for (int k = 0; k < 3; k++) release_file_pages(m, d[k]->w, sizeof(float) * C * C);
            at += 3 * C * C;
        } else {
            L->qkv.w16 = L->q.w16;
        }
        copy_qkv_biases(L, C, at);
        L->qkv.b = at;
        at += 3 * C;
    }
}

/* BERT_COMPUTE_F32 with pack_weights: the dense weights oneDNN's packed
 * matmul does not take (small models' layers) packed for the AVX-512
 * register kernel (kernels/linear_avx512.h), Q, K and V as their fused
 * [3C x C] weight where fuse_qkv made one. The plain weights stay (the
 * packed copy adds what such a model's layers weigh: under 2 MB for
 * BERT-Tiny). Nothing is packed where the CPU has no AVX-512 or memory is
 * short: the plain path, the same sums up to their order. */
static void pack_small_f32(bert_model *m) {
    const bert_config *c = &m->cfg.pub;
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        float *at = m->packed_avx;
        for (int l = 0; l < c->num_hidden_layers; l++) {
            bert_layer_weights *L = &m->w.layers[l];
            bert_dense *d[7];
            int out[7], in[7];
            layer_denses(m, l, d, out, in);
            /* the fused Q/K/V as a seventh dense layer, in place of the three */
            int C = c->hidden_size, fused = L->qkv.w != NULL;
            d[6] = &L->qkv, out[6] = 3 * C, in[6] = C;
            for (int k = fused ? 3 : 0; k < 7; k++) {
                const float *w = d[k]->w;
                if (!w || !bert_avx512_linear_preferred(out[k], in[k])) continue; /* (pf32 takes only larger ones) */
                size_t n = (size_t)out[k] * (size_t)in[k];
                if (pass == 0) total += n;
                else {
                    bert_avx512_pack_weights(at, w, out[k], in[k]);
                    d[k]->wavx = at;
                    at += n;
                }
            }
            if (pass == 1) release_converted(m, l); /* given back layer by layer, as made */
        }
        if (pass == 0 && (!total || !(m->packed_avx = bert_alloc64(sizeof(float) * total)))) return;
    }
}

struct bert_cuda_layer_src *bert_model_cuda_layers(const bert_model *m) {
    int L = m->cfg.pub.num_hidden_layers;
    bert_cuda_layer_src *ls = calloc(L > 0 ? (size_t)L : 1, sizeof *ls);
    for (int l = 0; ls && l < L; l++) {
        const bert_layer_weights *w = &m->w.layers[l];
        ls[l] = (bert_cuda_layer_src){w->q.w,       w->q.b,       w->k.w,       w->k.b,       w->v.w,     w->v.b,
                                      w->attn_out.w, w->attn_out.b, w->attn_ln.w, w->attn_ln.b, w->inter.w, w->inter.b,
                                      w->out.w,     w->out.b,     w->out_ln.w,  w->out_ln.b};
    }
    return ls;
}

/* BERT_DEVICE_CUDA: the embeddings', encoder layers' and heads' weights
 * (the MLM decoder's only when not tied to the word table, which is there
 * already) copied to the GPU, f32, or (BERT_COMPUTE_BF16) with the layers'
 * dense weights rounded to bf16 there, (BERT_COMPUTE_F16) to float16, or
 * (BERT_COMPUTE_TF32) f32 for cuBLAS's TF32 math; the CPU's copies stay f32. */
static bert_status to_gpu(bert_model *m, const bert_model_params *p, bert_error *err) {
    if (p->compute == BERT_COMPUTE_INT8)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda runs f32, bf16, f16 and tf32 (not --dtype int8)");
    const bert_config *c = &m->cfg.pub;
    bert_cuda_layer_src *ls = bert_model_cuda_layers(m);
    if (!ls) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_cuda_model_src src = {c->hidden_size,
                               c->num_attention_heads,
                               c->intermediate_size,
                               c->num_hidden_layers,
                               (int)m->cfg.act,
                               (float)c->layer_norm_eps,
                               ls,
                               p->compute == BERT_COMPUTE_BF16,
                               p->compute == BERT_COMPUTE_TF32,
                               p->compute == BERT_COMPUTE_F16,
                               {m->w.word, m->w.pos, m->w.type, m->w.emb_ln.w, m->w.emb_ln.b, c->vocab_size,
                                c->max_position_embeddings, c->type_vocab_size},
                               {0}};
    const bert_weights *w = &m->w;
    bert_cuda_heads_src *h = &src.head;
    if (m->heads & BERT_HEAD_POOLER) h->pooler_w = w->pooler.w, h->pooler_b = w->pooler.b;
    if (m->heads & BERT_HEAD_NSP) h->nsp_w = w->nsp.w, h->nsp_b = w->nsp.b;
    if (m->heads & BERT_HEAD_CLASSIFIER)
        h->cls_w = w->classifier.w, h->cls_b = w->classifier.b, h->classes = m->cuda_labels = bert_model_num_labels(m);
    if (m->heads & BERT_HEAD_INTENT) h->intent_w = w->intent.w, h->intent_b = w->intent.b, h->intents = c->num_intents;
    if (m->heads & BERT_HEAD_QA) h->qa_w = w->qa.w, h->qa_b = w->qa.b;
    if (m->heads & BERT_HEAD_MLM) {
        h->mlm_w = w->mlm_transform.w, h->mlm_b = w->mlm_transform.b, h->mlm_ln_w = w->mlm_ln.w, h->mlm_ln_b = w->mlm_ln.b;
        h->mlm_bias = w->mlm_bias, h->mlm_dec = w->mlm_decoder == w->word ? NULL : w->mlm_decoder;
    }
    bert_status rc = bert_cuda_model_create(&src, &m->cuda, err);
    free(ls);
    return rc;
}

const char *bert_cuda_unavailable_reason(void) { return bert_cuda_unavailable(); }

bert_status bert_model_load(const char *dir, const bert_model_params *params, bert_model **out, bert_error *err) {
    bert_error_clear(err);
    *out = NULL;
    bert_model_params p = params ? *params : bert_model_default_params();
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return bert_fail(err, BERT_ERR_IO, "%s: no such model directory", dir ? dir : "(null)");
    bert_model *m = calloc(1, sizeof *m);
    if (!m) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = bert_config_load(dir, &m->cfg, err);
    if (rc == BERT_OK) rc = open_weights(m, dir, p.use_mmap, err);
    if (rc == BERT_OK) rc = bert_weights_bind(m, err);
    /* f32 on the CPU: weights packed at load (pack_weights) */
    int pack_f32 = p.compute == BERT_COMPUTE_F32 && p.pack_weights && p.device == BERT_DEVICE_CPU;
    if (rc == BERT_OK && p.compute != BERT_COMPUTE_F32 && p.compute != BERT_COMPUTE_BF16 && p.compute != BERT_COMPUTE_INT8 &&
        p.compute != BERT_COMPUTE_TF32 && p.compute != BERT_COMPUTE_F16)
        rc = bert_fail(err, BERT_ERR_INPUT, "unknown compute dtype %d", (int)p.compute);
    else if (rc == BERT_OK && p.compute == BERT_COMPUTE_TF32 && p.device != BERT_DEVICE_CUDA)
        rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "--dtype tf32 runs on --device cuda only (a CPU has no TF32)");
    else if (rc == BERT_OK && p.compute == BERT_COMPUTE_F16 && p.device != BERT_DEVICE_CUDA)
        rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "--dtype f16 runs on --device cuda only (on a CPU, use bf16)");
    else if (rc == BERT_OK && p.device == BERT_DEVICE_CUDA)
        ; /* the layers' weights in the compute dtype are the GPU's (to_gpu, below) */
    else if (rc == BERT_OK && p.compute == BERT_COMPUTE_BF16) rc = make_bf16_weights(m, err);
    else if (rc == BERT_OK && p.compute == BERT_COMPUTE_INT8) rc = make_int8_weights(m, err);
    else if (rc == BERT_OK && pack_f32) pack_f32_weights(m);
    if (rc != BERT_OK) {
        bert_model_free(m);
        return rc;
    }
    if (p.device == BERT_DEVICE_CUDA && (rc = to_gpu(m, &p, err)) != BERT_OK) {
        bert_model_free(m);
        return rc;
    }
    if (p.device != BERT_DEVICE_CPU && p.device != BERT_DEVICE_CUDA) {
        bert_model_free(m);
        return bert_fail(err, BERT_ERR_INPUT, "unknown device %d", (int)p.device);
    }
    if (!m->cuda) fuse_qkv(m);
    if (pack_f32) pack_small_f32(m);
    /* the packed or converted weights' pages given back layer by layer while
     * made, and again now: reading one tensor maps its neighbours' pages too */
    for (int l = 0; m->packed_small && l < m->cfg.pub.num_hidden_layers; l++) release_converted(m, l);
    m->attention_bf16 = m->compute == BERT_COMPUTE_F32
                            ? BERT_ATTENTION_BF16_NONE
                            : bert_attention_bf16_pick(m->cfg.pub.hidden_size / m->cfg.pub.num_attention_heads);
    bert_gemm_init();
    *out = m;
    return BERT_OK;
}

void bert_model_free(bert_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_shards; i++) st_close(&m->shards[i]);
    free(m->shards);
    free(m->converted);
    free(m->bf16);
    free(m->fused);
    free(m->packed_avx);
    free(m->packed_small);
    bert_cuda_model_free(m->cuda);
    for (int l = 0; m->w.layers && l < m->cfg.pub.num_hidden_layers; l++) {
        bert_dense *d[6];
        int out[6], in[6];
        layer_denses(m, l, d, out, in);
        for (int k = 0; k < 6; k++) bert_qlinear_free(d[k]->q8), bert_plinear_free(d[k]->pf32), bert_plinear_free(d[k]->pbf16);
        bert_plinear_free(m->w.layers[l].qkv.pf32), bert_plinear_free(m->w.layers[l].qkv.pbf16);
        bert_qlinear_free(m->w.layers[l].qkv.q8);
    }
    free(m->w.layers);
    bert_plinear_free(m->w.pooler.pf32), bert_plinear_free(m->w.pooler.pbf16);
    bert_qlinear_free(m->w.pooler.q8);
    bert_config_free(&m->cfg);
    free(m);
}

const bert_config *bert_model_config(const bert_model *m) { return &m->cfg.pub; }
unsigned bert_model_heads(const bert_model *m) { return m->heads; }
int bert_model_num_labels(const bert_model *m) { return m->cfg.pub.num_labels > 0 ? m->cfg.pub.num_labels : 2; }
int64_t bert_model_n_params(const bert_model *m) { return m->n_params; }
const char *bert_model_dtypes(const bert_model *m) { return m->dtypes; }
const char *bert_model_source(const bert_model *m) { return m->source; }
int bert_model_n_ignored_tensors(const bert_model *m) { return m->n_ignored; }

const char *bert_model_intent(const bert_model *m, int id) {
    return m && m->cfg.intents && id >= 0 && id < m->cfg.pub.num_intents ? m->cfg.intents[id] : NULL;
}

const char *bert_model_label(const bert_model *m, int id) {
    if (id < 0 || id >= m->cfg.pub.num_labels) return NULL;
    return m->cfg.labels[id];
}
