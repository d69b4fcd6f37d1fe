/* safetensors.c — a strict reader and a small writer for safetensors.
 *
 * The reader checks everything it can before any byte of tensor data is
 * used, because model files come from users and may be truncated or
 * hand-edited: an error here is far easier to understand than a wrong
 * number three layers later. */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* Headers larger than this are rejected (the Rust crate uses the same cap). */
#define ST_MAX_HEADER (100u * 1024u * 1024u)

static const struct {
    const char *name;
    size_t size;
} dtype_info[ST_N_DTYPES] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},   [ST_I8] = {"I8", 1},     [ST_F8_E5M2] = {"F8_E5M2", 1},
    [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_I16] = {"I16", 2}, [ST_U16] = {"U16", 2}, [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4}, [ST_U32] = {"U32", 4},   [ST_F32] = {"F32", 4},
    [ST_F64] = {"F64", 8},   [ST_I64] = {"I64", 8}, [ST_U64] = {"U64", 8},
};

const char *st_dtype_name(st_dtype t) { return t < ST_N_DTYPES ? dtype_info[t].name : "?"; }
size_t st_dtype_size(st_dtype t) { return t < ST_N_DTYPES ? dtype_info[t].size : 0; }

static int dtype_from_name(const char *s, st_dtype *out) {
    for (int i = 0; i < ST_N_DTYPES; i++) {
        if (strcmp(s, dtype_info[i].name) == 0) {
            *out = (st_dtype)i;
            return 1;
        }
    }
    return 0;
}

/* A JSON number that is a non-negative integer below 2^53, or -1. */
static int64_t json_uint(const cJSON *v) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (d < 0 || d > 9007199254740992.0 || floor(d) != d) return -1;
    return (int64_t)d;
}

static int cmp_by_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Parse one tensor entry of the header. buf/buf_size: the data buffer. */
static bert_status parse_entry(const cJSON *e, const unsigned char *buf, size_t buf_size, st_tensor *t,
                               bert_error *err) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': entry is not an object", name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': needs string dtype, array shape and array data_offsets",
                         name);
    if (!dtype_from_name(dt->valuestring, &t->dtype))
        return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': unknown dtype '%s'", name, dt->valuestring);
    int nd = cJSON_GetArraySize(shape);
    if (nd > ST_MAX_DIMS) return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': %d dimensions (max %d)", name, nd, ST_MAX_DIMS);
    t->ndim = nd;
    int64_t numel = 1;
    for (int i = 0; i < nd; i++) {
        int64_t d = json_uint(cJSON_GetArrayItem(shape, i));
        if (d < 0) return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': shape[%d] is not a non-negative integer", name, i);
        if (d != 0 && numel > INT64_MAX / 8 / d)
            return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': shape is too large", name);
        numel *= d;
        t->shape[i] = d;
    }
    t->numel = numel;
    if (cJSON_GetArraySize(offs) != 2)
        return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': data_offsets must have 2 entries", name);
    int64_t b = json_uint(cJSON_GetArrayItem(offs, 0)), en = json_uint(cJSON_GetArrayItem(offs, 1));
    if (b < 0 || en < 0) return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': data_offsets are not non-negative integers", name);
    if (en < b) return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': data_offsets [%lld, %lld] are reversed", name,
                                 (long long)b, (long long)en);
    if ((uint64_t)en > buf_size)
        return bert_fail(err, BERT_ERR_FORMAT,
                         "tensor '%s': data_offsets [%lld, %lld] go beyond the %zu-byte data buffer (truncated file?)",
                         name, (long long)b, (long long)en, buf_size);
    size_t want = (size_t)numel * st_dtype_size(t->dtype);
    if ((size_t)(en - b) != want)
        return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': %lld bytes in data_offsets but shape x %s needs %zu", name,
                         (long long)(en - b), dtype_info[t->dtype].name, want);
    t->data = buf + b;
    t->nbytes = want;
    t->name = strdup(name);
    if (!t->name) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    return BERT_OK;
}

/* Check that the tensors tile [0, buf_size) exactly. */
static bert_status check_tiling(st_file *f, const unsigned char *buf, size_t buf_size, bert_error *err) {
    int n = f->n_tensors;
    const st_tensor **order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)n, sizeof *order, cmp_by_offset);
    size_t pos = 0;
    bert_status rc = BERT_OK;
    for (int i = 0; i < n && rc == BERT_OK; i++) {
        size_t b = (size_t)(order[i]->data - buf);
        if (b < pos)
            rc = bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': data overlaps tensor '%s'", order[i]->name,
                           order[i - 1]->name);
        else if (b > pos)
            rc = bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': %zu unused bytes before its data", order[i]->name, b - pos);
        pos = b + order[i]->nbytes;
    }
    if (rc == BERT_OK && pos != buf_size)
        rc = bert_fail(err, BERT_ERR_FORMAT, "%zu bytes after the last tensor are not described by the header",
                       buf_size - pos);
    free(order);
    return rc;
}

static bert_status parse(st_file *f, bert_error *err) {
    const unsigned char *p = f->file.data;
    size_t size = f->file.size;
    if (size < 8) return bert_fail(err, BERT_ERR_FORMAT, "file is %zu bytes, too short for a safetensors header", size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | p[i];
    if (n > size - 8)
        return bert_fail(err, BERT_ERR_FORMAT, "header length %llu goes beyond the end of the %zu-byte file (truncated?)",
                         (unsigned long long)n, size);
    if (n > ST_MAX_HEADER) return bert_fail(err, BERT_ERR_FORMAT, "header length %llu exceeds 100 MB", (unsigned long long)n);
    if (n < 2 || p[8] != '{') return bert_fail(err, BERT_ERR_FORMAT, "header does not start with '{'");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)p + 8, (size_t)n, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        size_t at = end ? (size_t)(end - (const char *)p - 8) : 0;
        cJSON_Delete(root);
        return bert_fail(err, BERT_ERR_FORMAT, "header is not valid JSON (near byte %zu of the header)", at);
    }
    /* Anything after the JSON object must be padding spaces. */
    for (const char *q = end; q && q < (const char *)p + 8 + n; q++) {
        if (*q != ' ' && *q != '\0') {
            cJSON_Delete(root);
            return bert_fail(err, BERT_ERR_FORMAT, "header has trailing bytes after the JSON object");
        }
    }
    const unsigned char *buf = p + 8 + n;
    size_t buf_size = size - 8 - (size_t)n;
    int count = 0;
    for (const cJSON *e = root->child; e; e = e->next) count += strcmp(e->string, "__metadata__") != 0;
    f->tensors = calloc((size_t)(count ? count : 1), sizeof *f->tensors);
    if (!f->tensors) {
        cJSON_Delete(root);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    bert_status rc = BERT_OK;
    for (const cJSON *e = root->child; e && rc == BERT_OK; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        if (st_find(f, e->string))
            rc = bert_fail(err, BERT_ERR_FORMAT, "tensor '%s' is listed twice", e->string);
        else if ((rc = parse_entry(e, buf, buf_size, &f->tensors[f->n_tensors], err)) == BERT_OK)
            f->n_tensors++;
    }
    cJSON_Delete(root);
    if (rc == BERT_OK) rc = check_tiling(f, buf, buf_size, err);
    return rc;
}

bert_status st_open(const char *path, int use_mmap, st_file *out, bert_error *err) {
    memset(out, 0, sizeof *out);
    out->path = strdup(path);
    if (!out->path) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = bert_file_open(path, use_mmap, &out->file, err);
    if (rc == BERT_OK && (rc = parse(out, err)) != BERT_OK) bert_error_prefix(err, "%s", path);
    if (rc != BERT_OK) st_close(out);
    return rc;
}

void st_close(st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    free(f->path);
    bert_file_close(&f->file);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

static size_t write_numel(const st_write_tensor *t) {
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

bert_status st_write(const char *path, const st_write_tensor *tensors, int n, const char *metadata_json,
                     bert_error *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (metadata_json) {
        cJSON *meta = cJSON_Parse(metadata_json);
        if (!meta) {
            cJSON_Delete(root);
            return bert_fail(err, BERT_ERR_INPUT, "safetensors metadata is not valid JSON");
        }
        cJSON_AddItemToObject(root, "__metadata__", meta);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const st_write_tensor *t = &tensors[i];
        size_t bytes = write_numel(t) * st_dtype_size(t->dtype);
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(e, "dtype", st_dtype_name(t->dtype));
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    size_t jl = strlen(json), hl = (jl + 7) & ~(size_t)7;
    bert_atomic_file af;
    bert_status rc = bert_atomic_open(path, &af, err);
    if (rc != BERT_OK) {
        free(json);
        return rc;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    int ok = fwrite(len8, 1, 8, af.fp) == 8 && fwrite(json, 1, jl, af.fp) == jl;
    for (size_t i = jl; ok && i < hl; i++) ok = fputc(' ', af.fp) != EOF;
    free(json);
    for (int i = 0; ok && i < n; i++) {
        size_t bytes = write_numel(&tensors[i]) * st_dtype_size(tensors[i].dtype);
        ok = bytes == 0 || fwrite(tensors[i].data, 1, bytes, af.fp) == bytes;
    }
    if (!ok) {
        bert_atomic_abort(&af);
        return bert_fail(err, BERT_ERR_IO, "%s: write failed", path);
    }
    return bert_atomic_commit(&af, err);
}
