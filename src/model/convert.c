/* convert.c — bert_convert: any checkpoint bert_model_load reads, written
 * back as one model.safetensors with its config, tokenizer and
 * sentence-transformers files, in a new directory made atomically. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file.h"
#include "io/fs.h"
#include "io/json_fields.h"
#include "io/safetensors.h"
#include "kernels/half.h"
#include "model/model.h"
#include "util/error.h"

/* One output tensor: its name and bytes (owned when converted). */
typedef struct {
    char name[200];
    const st_tensor *src;
    st_dtype dtype;
    void *owned;
} out_tensor;

/* s ends with suf. */
static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

/* The checkpoint's tensor whose name, without a "bert." prefix, is bare. */
static const st_tensor *find_any(const bert_model *m, const char *bare) {
    char with[200];
    snprintf(with, sizeof with, "bert.%s", bare);
    for (int s = 0; s < m->n_shards; s++) {
        const st_tensor *t = st_find(&m->shards[s], bare);
        if (t || (t = st_find(&m->shards[s], with))) return t;
    }
    return NULL;
}

/* The output name of t, or "" when t is left out (position_ids, the tied
 * decoder weight, a decoder bias that duplicates cls.predictions.bias). */
static void output_name(const bert_model *m, const st_tensor *t, char *out, size_t cap) {
    out[0] = '\0';
    if (has_suffix(t->name, "position_ids")) return;
    if (strcmp(t->name, "cls.predictions.decoder.weight") == 0) {
        const st_tensor *w = find_any(m, "embeddings.word_embeddings.weight");
        if (w && w->dtype == t->dtype && w->nbytes == t->nbytes && memcmp(w->data, t->data, t->nbytes) == 0) return;
    }
    if (strcmp(t->name, "cls.predictions.decoder.bias") == 0) {
        if (find_any(m, "cls.predictions.bias")) return;
        snprintf(out, cap, "cls.predictions.bias");
        return;
    }
    snprintf(out, cap, "%s", t->name);
    size_t n = strlen(out);
    if (has_suffix(out, "LayerNorm.gamma")) snprintf(out + n - 5, cap - (n - 5), "weight");
    else if (has_suffix(out, "LayerNorm.beta")) snprintf(out + n - 4, cap - (n - 4), "bias");
}

/* A dtype --dtype converts. */
static int is_float(st_dtype d) { return d == ST_F32 || d == ST_F16 || d == ST_BF16; }

/* t's values in dtype `to` in a new block (*owned); t is F32/F16/BF16. */
static bert_status narrow(const st_tensor *t, st_dtype to, void **owned, bert_error *err) {
    size_t n = (size_t)t->numel;
    float *f = malloc((n ? n : 1) * sizeof *f);
    void *dst = to == ST_F32 ? (void *)f : malloc((n ? n : 1) * 2);
    if (!f || !dst) {
        free(f);
        if (dst != f) free(dst);
        return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %zu values to convert '%s'", n, t->name);
    }
    if (t->dtype == ST_F16) bert_f16_to_f32_array(f, t->data, n);
    else if (t->dtype == ST_BF16) bert_bf16_to_f32_array(f, t->data, n);
    else memcpy(f, t->data, n * sizeof *f);
    uint16_t *h = dst;
    if (to == ST_BF16) bert_f32_to_bf16_array(h, f, n);
    else if (to == ST_F16)
        for (size_t i = 0; i < n; i++) h[i] = bert_f32_to_f16(f[i]);
    if (dst != f) free(f);
    *owned = dst;
    return BERT_OK;
}

/* Every tensor of m's shards that is written, named and converted. */
static bert_status plan(const bert_model *m, bert_convert_dtype dtype, out_tensor **out, int *n_out, bert_error *err) {
    static const st_dtype want[] = {ST_N_DTYPES, ST_F32, ST_F16, ST_BF16};
    int total = 0;
    for (int s = 0; s < m->n_shards; s++) total += m->shards[s].n_tensors;
    out_tensor *v = calloc((size_t)(total ? total : 1), sizeof *v);
    if (!v) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    *out = v, *n_out = 0;
    bert_status rc = BERT_OK;
    for (int s = 0; s < m->n_shards && rc == BERT_OK; s++) {
        for (int i = 0; i < m->shards[s].n_tensors && rc == BERT_OK; i++) {
            const st_tensor *t = &m->shards[s].tensors[i];
            out_tensor *o = &v[*n_out];
            output_name(m, t, o->name, sizeof o->name);
            if (!o->name[0]) continue;
            for (int j = 0; j < *n_out && rc == BERT_OK; j++)
                if (strcmp(v[j].name, o->name) == 0)
                    rc = bert_fail(err, BERT_ERR_FORMAT, "tensors '%s' and '%s' both become '%s'", v[j].src->name, t->name, o->name);
            o->src = t, o->dtype = t->dtype;
            if (rc == BERT_OK && dtype != BERT_CONVERT_KEEP && is_float(t->dtype) && t->dtype != want[dtype]) {
                o->dtype = want[dtype];
                rc = narrow(t, o->dtype, &o->owned, err);
            }
            (*n_out)++;
        }
    }
    return rc;
}

/* dir/model.safetensors from m's tensors (plan), metadata format "pt". */
static bert_status write_weights(const bert_model *m, const char *dir, bert_convert_dtype dtype, bert_error *err) {
    out_tensor *v = NULL;
    int n = 0;
    bert_status rc = plan(m, dtype, &v, &n, err);
    st_write_tensor *w = rc == BERT_OK ? calloc((size_t)(n ? n : 1), sizeof *w) : NULL;
    if (rc == BERT_OK && !w) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == BERT_OK && i < n; i++) {
        w[i] = (st_write_tensor){.name = v[i].name, .dtype = v[i].dtype, .ndim = v[i].src->ndim,
                                 .data = v[i].owned ? v[i].owned : (const void *)v[i].src->data};
        memcpy(w[i].shape, v[i].src->shape, sizeof w[i].shape);
    }
    char path[PATH_MAX];
    if (rc == BERT_OK) rc = bert_path_join(path, sizeof path, dir, "model.safetensors", err);
    if (rc == BERT_OK) rc = st_write(path, w, n, "{\"format\":\"pt\"}", err);
    for (int i = 0; v && i < n; i++) free(v[i].owned);
    free(v);
    free(w);
    return rc;
}

/* Copy from/name to to/name when from has it (a file, or a directory when is_dir). */
static bert_status copy_named(const char *from, const char *to, const char *name, int is_dir, bert_error *err) {
    char a[PATH_MAX], b[PATH_MAX];
    struct stat st;
    bert_status rc = bert_path_join(a, sizeof a, from, name, err);
    if (rc != BERT_OK || stat(a, &st) != 0 || (is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) return rc;
    if ((rc = bert_path_join(b, sizeof b, to, name, err)) != BERT_OK) return rc;
    return is_dir ? bert_dir_copy(a, b, err) : bert_file_copy(a, b, err);
}

/* The module folders sentence-transformers' modules.json names. */
static bert_status copy_modules(const char *from, const char *to, bert_error *err) {
    char path[PATH_MAX];
    cJSON *root = NULL;
    bert_status rc = bert_path_join(path, sizeof path, from, "modules.json", err);
    if (rc != BERT_OK || !bert_file_exists(path)) return rc;
    if ((rc = bert_json_load_file(path, &root, err)) != BERT_OK) return rc;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path");
        if (!cJSON_IsString(p) || !*p->valuestring) continue;
        const char *name = p->valuestring;
        if (strchr(name, '/') || name[0] == '.') {
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: module path '%s' must be a plain folder name", path, name);
            break;
        }
        if ((rc = copy_named(from, to, name, 1, err)) != BERT_OK) break;
    }
    cJSON_Delete(root);
    return rc;
}

/* Config, tokenizer and sentence-transformers files and module folders. */
static bert_status copy_side_files(const char *from, const char *to, bert_error *err) {
    static const char *const files[] = {"config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json", "added_tokens.json", "modules.json",
                                        "config_sentence_transformers.json", "sentence_bert_config.json"};
    bert_status rc = BERT_OK;
    for (size_t i = 0; rc == BERT_OK && i < sizeof files / sizeof files[0]; i++) rc = copy_named(from, to, files[i], 0, err);
    return rc == BERT_OK ? copy_modules(from, to, err) : rc;
}

bert_status bert_convert(const char *model_dir, const char *out_dir, bert_convert_dtype dtype, bert_error *err) {
    bert_error_clear(err);
    if (!model_dir || !out_dir || !*out_dir) return bert_fail(err, BERT_ERR_INPUT, "convert needs a model and an output directory");
    if ((unsigned)dtype > BERT_CONVERT_BF16) return bert_fail(err, BERT_ERR_INPUT, "unknown convert dtype %d", (int)dtype);
    char tmp[PATH_MAX];
    struct stat st;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", out_dir) >= (int)sizeof tmp) return bert_fail(err, BERT_ERR_INPUT, "%s: path too long", out_dir);
    if (lstat(out_dir, &st) == 0) return bert_fail(err, BERT_ERR_INPUT, "%s exists; bert convert does not overwrite", out_dir);
    if (lstat(tmp, &st) == 0)
        return bert_fail(err, BERT_ERR_INPUT, "%s exists (left by an interrupted convert?); remove it first", tmp);
    bert_model_params p = bert_model_default_params();
    p.pack_weights = 0;
    bert_model *m;
    bert_status rc = bert_model_load(model_dir, &p, &m, err);
    if (rc != BERT_OK) return rc;
    if (mkdir(tmp, 0755) != 0) rc = bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    int made = rc == BERT_OK;
    if (rc == BERT_OK) rc = write_weights(m, tmp, dtype, err);
    bert_model_free(m);
    if (rc == BERT_OK) rc = copy_side_files(model_dir, tmp, err);
    if (rc == BERT_OK && lstat(out_dir, &st) == 0) rc = bert_fail(err, BERT_ERR_INPUT, "%s appeared meanwhile; not overwritten", out_dir);
    if (rc == BERT_OK && rename(tmp, out_dir) != 0) rc = bert_fail(err, BERT_ERR_IO, "%s: rename failed: %s", out_dir, strerror(errno));
    if (rc != BERT_OK && made) bert_dir_remove(tmp, NULL); /* the first error is the one reported */
    return rc;
}
