/* torch_load.c — torch.save's two formats read into st_file tensor views:
 * the pickled state dict is interpreted (never executed), its storages
 * located in the zip archive or after the legacy stream's pickles, and
 * every tensor view checked against its storage. */
#include "io/torch_load.h"

#include <stdlib.h>
#include <string.h>

#include "io/pickle.h"
#include "io/zip.h"
#include "util/error.h"

/* The largest data.pkl inflated into memory. */
#define MAX_PICKLE ((uint64_t)256 << 20)

typedef struct {
    const unsigned char *key; /* in the pickle's bytes */
    size_t key_len;
    st_dtype dtype;
    int64_t numel;
    const unsigned char *data; /* numel * dtype size bytes, once located */
    int located;
} storage;

typedef struct {
    storage *v;
    size_t n, cap;
} storage_table;

/* The st_dtype of a storage class, or ST_N_DTYPES. */
static st_dtype storage_dtype(int64_t g) {
    switch (g) {
    case PK_G_FLOAT_STORAGE: return ST_F32;
    case PK_G_HALF_STORAGE: return ST_F16;
    case PK_G_BFLOAT16_STORAGE: return ST_BF16;
    case PK_G_DOUBLE_STORAGE: return ST_F64;
    case PK_G_LONG_STORAGE: return ST_I64;
    case PK_G_INT_STORAGE: return ST_I32;
    case PK_G_SHORT_STORAGE: return ST_I16;
    case PK_G_CHAR_STORAGE: return ST_I8;
    case PK_G_BYTE_STORAGE: return ST_U8;
    case PK_G_BOOL_STORAGE: return ST_BOOL;
    default: return ST_N_DTYPES;
    }
}

const char *torch_format_name(torch_format f) { return f == TORCH_ZIP ? "torch zip" : "torch legacy"; }

static const unsigned char legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

int torch_looks_like_checkpoint(const unsigned char *d, size_t size) {
    if (size >= 4 && memcmp(d, "PK\x03\x04", 4) == 0) return 1;
    return size >= 14 && d[0] == 0x80 && d[1] == 2 && d[2] == 0x8a && d[3] == 10 && memcmp(d + 4, legacy_magic, 10) == 0;
}

/* The storage with this key, or NULL. */
static storage *find_storage(storage_table *t, const unsigned char *key, size_t len) {
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].key_len == len && memcmp(t->v[i].key, key, len) == 0) return &t->v[i];
    return NULL;
}

/* A persistent id ('storage', StorageType, key, location, numel[, None]):
 * the storage it names, added to t on first sight. */
static bert_status read_persid(const pk_value *p, torch_format fmt, storage_table *t, storage **out, bert_error *err) {
    const pk_value *pid = p->kind == PK_PERSID ? p->items[0] : NULL;
    size_t want = fmt == TORCH_ZIP ? 5 : 6;
    if (!pid || pid->kind != PK_TUPLE || pid->n != want || !pk_is_str(pid->items[0], "storage"))
        return bert_fail(err, BERT_ERR_FORMAT, "a tensor's storage is not a ('storage', type, key, location, numel%s) reference",
                         fmt == TORCH_ZIP ? "" : ", None");
    const pk_value *type = pid->items[1], *key = pid->items[2], *loc = pid->items[3], *numel = pid->items[4];
    if (type->kind != PK_GLOBAL || storage_dtype(type->i) == ST_N_DTYPES)
        return bert_fail(err, BERT_ERR_FORMAT, "a storage reference's type is not a torch.*Storage class");
    if (key->kind != PK_STR || key->len == 0 || key->len > 64 || memchr(key->s, '/', key->len) || memchr(key->s, '\0', key->len) ||
        (key->len <= 2 && key->s[0] == '.'))
        return bert_fail(err, BERT_ERR_FORMAT, "a storage key is not a short plain name");
    if (loc->kind != PK_STR || numel->kind != PK_INT || numel->i < 0 || numel->i > INT64_MAX / 8)
        return bert_fail(err, BERT_ERR_FORMAT, "storage '%.*s': location or element count is invalid", (int)key->len, key->s);
    if (want == 6 && pid->items[5]->kind != PK_NONE)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "storage '%.*s' is a storage view (torch < 0.4 checkpoints are not read)",
                         (int)key->len, key->s);
    st_dtype dt = storage_dtype(type->i);
    storage *s = find_storage(t, key->s, key->len);
    if (s && (s->dtype != dt || s->numel != numel->i))
        return bert_fail(err, BERT_ERR_FORMAT, "storage '%.*s' is referenced with two different types or sizes",
                         (int)key->len, key->s);
    if (!s) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 64;
            storage *v = realloc(t->v, cap * sizeof *v);
            if (!v) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            t->v = v, t->cap = cap;
        }
        s = &t->v[t->n++];
        *s = (storage){.key = key->s, .key_len = key->len, .dtype = dt, .numel = numel->i};
    }
    *out = s;
    return BERT_OK;
}

/* The arguments of _rebuild_tensor_v2 (after _rebuild_parameter's
 * unwrapping): storage, offset, size, stride, requires_grad, hooks[, metadata]. */
static const pk_value *tensor_args(const pk_value *v) {
    if (!v || v->kind != PK_CALL) return NULL;
    if (v->items[0]->i == PK_G_REBUILD_PARAMETER) {
        const pk_value *a = v->items[1];
        if (a->n != 3 || a->items[0]->kind != PK_CALL || a->items[0]->items[0]->i != PK_G_REBUILD_TENSOR_V2) return NULL;
        v = a->items[0];
    }
    const pk_value *a = v->items[1];
    if (v->items[0]->i != PK_G_REBUILD_TENSOR_V2 || (a->n != 6 && a->n != 7)) return NULL;
    return a;
}

/* Shape and strides from the argument tuples into t; checks contiguity. */
static bert_status read_shape(const char *name, const pk_value *size, const pk_value *stride, st_tensor *t, bert_error *err) {
    if (size->kind != PK_TUPLE || stride->kind != PK_TUPLE || size->n != stride->n)
        return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': size and stride are not tuples of one length", name);
    if (size->n > ST_MAX_DIMS)
        return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': %zu dimensions (max %d)", name, size->n, ST_MAX_DIMS);
    t->ndim = (int)size->n;
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        const pk_value *s = size->items[d];
        if (s->kind != PK_INT || s->i < 0) return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': size[%d] is not a non-negative integer", name, d);
        if (s->i && numel > INT64_MAX / 8 / s->i) return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': its size overflows", name);
        numel *= s->i;
        t->shape[d] = s->i;
    }
    t->numel = numel;
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0 && numel; d--) {
        const pk_value *s = stride->items[d];
        if (s->kind != PK_INT) return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': stride[%d] is not an integer", name, d);
        if (t->shape[d] != 1 && s->i != expect)
            return bert_fail(err, BERT_ERR_UNSUPPORTED,
                             "tensor '%s' is not contiguous (stride[%d] = %lld, expected %lld); save it with .contiguous()",
                             name, d, (long long)s->i, (long long)expect);
        expect *= t->shape[d];
    }
    return BERT_OK;
}

/* One state dict entry: name -> tensor. ref gets its storage and offset. */
static bert_status read_entry(const pk_value *k, const pk_value *v, torch_format fmt, storage_table *tab, st_tensor *t,
                              storage **ref, int64_t *offset, bert_error *err) {
    if (k->kind != PK_STR || memchr(k->s, '\0', k->len) || k->len > 1000)
        return bert_fail(err, BERT_ERR_FORMAT, "the state dict has a key that is not a name");
    if (!(t->name = malloc(k->len + 1))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    memcpy(t->name, k->s, k->len);
    t->name[k->len] = '\0';
    const pk_value *a = tensor_args(v);
    if (!a) return bert_fail(err, BERT_ERR_FORMAT, "state dict entry '%s' is not a tensor (torch._utils._rebuild_tensor_v2)", t->name);
    bert_status rc = read_persid(a->items[0], fmt, tab, ref, err);
    if (rc != BERT_OK) return bert_error_prefix(err, "tensor '%s'", t->name);
    if (a->items[1]->kind != PK_INT || a->items[1]->i < 0)
        return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': storage offset is not a non-negative integer", t->name);
    *offset = a->items[1]->i;
    if ((rc = read_shape(t->name, a->items[2], a->items[3], t, err)) != BERT_OK) return rc;
    t->dtype = (*ref)->dtype;
    if (*offset > (*ref)->numel || t->numel > (*ref)->numel - *offset)
        return bert_fail(err, BERT_ERR_FORMAT, "tensor '%s': offset %lld + %lld elements go past its storage of %lld elements",
                         t->name, (long long)*offset, (long long)t->numel, (long long)(*ref)->numel);
    t->nbytes = (size_t)t->numel * st_dtype_size(t->dtype);
    return BERT_OK;
}

/* qsort order: by tensor name. */
static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

/* No name twice (st_find would see only the first). */
static bert_status check_unique(const st_file *out, bert_error *err) {
    const st_tensor **v = malloc((size_t)(out->n_tensors ? out->n_tensors : 1) * sizeof *v);
    if (!v) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < out->n_tensors; i++) v[i] = &out->tensors[i];
    qsort(v, (size_t)out->n_tensors, sizeof *v, cmp_name);
    bert_status rc = BERT_OK;
    for (int i = 1; i < out->n_tensors && rc == BERT_OK; i++)
        if (strcmp(v[i - 1]->name, v[i]->name) == 0) rc = bert_fail(err, BERT_ERR_FORMAT, "tensor '%s' is listed twice", v[i]->name);
    free(v);
    return rc;
}

/* The state dict root -> out->tensors (data unset) + the storage table;
 * refs/offsets (one per tensor) give each tensor's storage and offset. */
static bert_status read_state_dict(const pk_value *root, torch_format fmt, st_file *out, storage_table *tab, storage ***refs,
                                   int64_t **offsets, bert_error *err) {
    if (!root || root->kind != PK_DICT) return bert_fail(err, BERT_ERR_FORMAT, "the pickled object is not a state dict (a dict of tensors)");
    size_t n = root->n / 2;
    if (n > 10000000) return bert_fail(err, BERT_ERR_FORMAT, "the state dict has %zu entries", n);
    out->tensors = calloc(n ? n : 1, sizeof *out->tensors);
    *refs = calloc(n ? n : 1, sizeof **refs);
    *offsets = calloc(n ? n : 1, sizeof **offsets);
    if (!out->tensors || !*refs || !*offsets) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = BERT_OK;
    for (size_t i = 0; i < n && rc == BERT_OK; i++) {
        rc = read_entry(root->items[2 * i], root->items[2 * i + 1], fmt, tab, &out->tensors[i], &(*refs)[i], &(*offsets)[i], err);
        if (out->tensors[i].name) out->n_tensors++;
    }
    if (rc == BERT_OK) rc = check_unique(out, err);
    return rc;
}

/* Legacy stream: after the state dict, the key list and the storages. */
static bert_status locate_legacy(const unsigned char *d, size_t size, size_t pos, storage_table *tab, bert_error *err) {
    pk_doc keys;
    size_t used;
    bert_status rc = pk_load(d + pos, size - pos, &used, &keys, err);
    if (rc != BERT_OK) return bert_error_prefix(err, "storage key list");
    pos += used;
    if (keys.root->kind != PK_LIST) rc = bert_fail(err, BERT_ERR_FORMAT, "the storage key list is not a list");
    for (size_t i = 0; rc == BERT_OK && i < keys.root->n; i++) {
        const pk_value *k = keys.root->items[i];
        storage *s = k->kind == PK_STR ? find_storage(tab, k->s, k->len) : NULL;
        if (!s || s->located) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "storage key #%zu is not a tensor's storage or is listed twice", i);
            break;
        }
        size_t bytes = (size_t)s->numel * st_dtype_size(s->dtype);
        uint64_t count = 0;
        for (int b = 7; b >= 0 && size - pos >= 8; b--) count = count << 8 | d[pos + (size_t)b];
        if (size - pos < 8 || count != (uint64_t)s->numel || size - pos - 8 < bytes) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "storage '%.*s' (%lld elements) is missing, has another size or runs past the end (truncated?)",
                           (int)s->key_len, s->key, (long long)s->numel);
            break;
        }
        s->data = d + pos + 8, s->located = 1;
        pos += 8 + bytes;
    }
    for (size_t i = 0; rc == BERT_OK && i < tab->n; i++)
        if (!tab->v[i].located)
            rc = bert_fail(err, BERT_ERR_FORMAT, "storage '%.*s' is not in the storage key list", (int)tab->v[i].key_len, tab->v[i].key);
    pk_free(&keys);
    return rc;
}

/* The legacy stream's three header pickles; *pos moves past them. */
static bert_status legacy_header(const unsigned char *d, size_t size, size_t *pos, bert_error *err) {
    for (int k = 0; k < 3; k++) {
        pk_doc doc;
        size_t used;
        static const char *const what[3] = {"magic number", "protocol version", "system info"};
        bert_status rc = pk_load(d + *pos, size - *pos, &used, &doc, err);
        if (rc != BERT_OK) return bert_error_prefix(err, "legacy %s", what[k]);
        const pk_value *r = doc.root, *le = k == 2 ? pk_dict_get(r, "little_endian") : NULL;
        if (k == 0 && (r->kind != PK_BIGINT || r->len != 10 || memcmp(r->s, legacy_magic, 10) != 0))
            rc = bert_fail(err, BERT_ERR_FORMAT, "not a torch checkpoint (bad legacy magic number)");
        else if (k == 1 && (r->kind != PK_INT || r->i != 1001))
            rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "legacy protocol version is not 1001");
        else if (k == 2 && (r->kind != PK_DICT || (le && (le->kind != PK_BOOL || !le->i))))
            rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "the checkpoint was saved big-endian (only little-endian is read)");
        pk_free(&doc);
        if (rc != BERT_OK) return rc;
        *pos += used;
    }
    return BERT_OK;
}

/* Point every tensor at its storage's bytes. */
static void place_tensors(st_file *out, storage **refs, const int64_t *offsets) {
    for (int i = 0; i < out->n_tensors; i++)
        out->tensors[i].data = refs[i]->data + (size_t)offsets[i] * st_dtype_size(refs[i]->dtype);
}

/* The legacy stream: header pickles, state dict, key list, storages. */
static bert_status parse_legacy(const unsigned char *d, size_t size, st_file *out, bert_error *err) {
    size_t pos = 0, used;
    bert_status rc = legacy_header(d, size, &pos, err);
    if (rc != BERT_OK) return rc;
    pk_doc doc;
    if ((rc = pk_load(d + pos, size - pos, &used, &doc, err)) != BERT_OK) return bert_error_prefix(err, "state dict");
    storage_table tab = {0};
    storage **refs = NULL;
    int64_t *offsets = NULL;
    rc = read_state_dict(doc.root, TORCH_LEGACY, out, &tab, &refs, &offsets, err);
    if (rc == BERT_OK) rc = locate_legacy(d, size, pos + used, &tab, err);
    if (rc == BERT_OK) place_tensors(out, refs, offsets);
    pk_free(&doc);
    free(tab.v), free(refs), free(offsets);
    return rc;
}

/* The archive's record PREFIX/NAME, or NULL. */
static const zip_entry *record(const zip_archive *z, const char *prefix, const char *name, const unsigned char *key, size_t klen) {
    char path[400];
    int n = snprintf(path, sizeof path, "%s%s%.*s", prefix, name, (int)klen, key ? (const char *)key : "");
    return n > 0 && (size_t)n < sizeof path ? zip_find(z, path) : NULL;
}

/* data.pkl's entry and its prefix ("archive/"): the one entry named
 * "<dir>/data.pkl" with no deeper directory. */
static bert_status find_pickle(const zip_archive *z, char *prefix, size_t cap, const zip_entry **pkl, bert_error *err) {
    *pkl = NULL;
    for (int i = 0; i < z->n_entries; i++) {
        const char *nm = z->entries[i].name, *slash = strchr(nm, '/');
        if (!slash || strcmp(slash, "/data.pkl") != 0) continue;
        if (*pkl) return bert_fail(err, BERT_ERR_FORMAT, "the archive holds two data.pkl records");
        if ((size_t)(slash - nm) + 2 > cap) return bert_fail(err, BERT_ERR_FORMAT, "the archive's directory name is too long");
        memcpy(prefix, nm, (size_t)(slash - nm) + 1);
        prefix[slash - nm + 1] = '\0';
        *pkl = &z->entries[i];
    }
    if (!*pkl) return bert_fail(err, BERT_ERR_FORMAT, "the zip archive has no DIR/data.pkl record (not a torch checkpoint)");
    return BERT_OK;
}

/* Each storage's record: its bytes in place when stored, otherwise every
 * storage is inflated/copied into one block kept in out->file. */
static bert_status locate_zip(const zip_archive *z, const char *prefix, storage_table *tab, st_file *out, bert_error *err) {
    int gather = 0;
    uint64_t total = 0;
    const zip_entry **ents = calloc(tab->n ? tab->n : 1, sizeof *ents);
    if (!ents) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = BERT_OK;
    for (size_t i = 0; i < tab->n && rc == BERT_OK; i++) {
        storage *s = &tab->v[i];
        uint64_t bytes = (uint64_t)s->numel * st_dtype_size(s->dtype);
        ents[i] = record(z, prefix, "data/", s->key, s->key_len);
        if (!ents[i]) rc = bert_fail(err, BERT_ERR_FORMAT, "storage '%.*s' has no record %sdata/%.*s", (int)s->key_len, s->key, prefix,
                                     (int)s->key_len, s->key);
        else if (ents[i]->usize != bytes)
            rc = bert_fail(err, BERT_ERR_FORMAT, "storage '%.*s': its record holds %llu bytes, %lld elements need %llu", (int)s->key_len,
                           s->key, (unsigned long long)ents[i]->usize, (long long)s->numel, (unsigned long long)bytes);
        gather |= ents[i] && ents[i]->method != 0;
        total += bytes;
    }
    if (rc == BERT_OK && gather) {
        if (!(out->file.data = malloc(total ? (size_t)total : 1))) rc = bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %llu bytes", (unsigned long long)total);
        out->file.size = (size_t)total, out->file.mapped = 0;
    }
    size_t at = 0;
    for (size_t i = 0; i < tab->n && rc == BERT_OK; i++) {
        if (gather) {
            rc = zip_extract(z, ents[i], out->file.data + at, err);
            tab->v[i].data = out->file.data + at;
            at += (size_t)ents[i]->usize;
        } else if (!(tab->v[i].data = zip_stored(z, ents[i], err))) {
            rc = BERT_ERR_FORMAT;
        }
    }
    free(ents);
    return rc;
}

/* data.pkl's bytes: in place when stored, else inflated into *owned. */
static bert_status pickle_bytes(const zip_archive *z, const zip_entry *e, const unsigned char **p, unsigned char **owned, bert_error *err) {
    *owned = NULL;
    if (e->usize > MAX_PICKLE) return bert_fail(err, BERT_ERR_FORMAT, "%s is %llu bytes (more than 256 MiB)", e->name, (unsigned long long)e->usize);
    if (e->method == 0) return (*p = zip_stored(z, e, err)) ? BERT_OK : BERT_ERR_FORMAT;
    if (!(*owned = malloc(e->usize ? (size_t)e->usize : 1))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    *p = *owned;
    return zip_extract(z, e, *owned, err);
}

/* The zip container: byteorder, data.pkl, then each storage's record. */
static bert_status parse_zip(const unsigned char *d, size_t size, st_file *out, bert_error *err) {
    zip_archive z;
    bert_status rc = zip_open(d, size, &z, err);
    if (rc != BERT_OK) return rc;
    char prefix[256];
    const zip_entry *pkl, *bo;
    const unsigned char *p = NULL;
    unsigned char *owned = NULL;
    pk_doc doc = {0};
    storage_table tab = {0};
    storage **refs = NULL;
    int64_t *offsets = NULL;
    rc = find_pickle(&z, prefix, sizeof prefix, &pkl, err);
    if (rc == BERT_OK && (bo = record(&z, prefix, "byteorder", NULL, 0)) != NULL) {
        const unsigned char *b = zip_stored(&z, bo, err);
        if (!b) rc = BERT_ERR_FORMAT;
        else if (bo->usize != 6 || memcmp(b, "little", 6) != 0)
            rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "the checkpoint's byteorder record is not 'little'");
    }
    if (rc == BERT_OK) rc = pickle_bytes(&z, pkl, &p, &owned, err);
    if (rc == BERT_OK && (rc = pk_load(p, (size_t)pkl->usize, NULL, &doc, err)) != BERT_OK) bert_error_prefix(err, "%s", pkl->name);
    if (rc == BERT_OK) rc = read_state_dict(doc.root, TORCH_ZIP, out, &tab, &refs, &offsets, err);
    if (rc == BERT_OK) rc = locate_zip(&z, prefix, &tab, out, err);
    if (rc == BERT_OK) place_tensors(out, refs, offsets);
    pk_free(&doc);
    free(owned), free(tab.v), free(refs), free(offsets);
    zip_close(&z);
    return rc;
}

bert_status torch_parse(const unsigned char *data, size_t size, st_file *out, torch_format *format, bert_error *err) {
    memset(out, 0, sizeof *out);
    if (!torch_looks_like_checkpoint(data, size))
        return bert_fail(err, BERT_ERR_FORMAT, "not a torch checkpoint (neither a zip archive nor a legacy pickle stream)");
    torch_format f = memcmp(data, "PK", 2) == 0 ? TORCH_ZIP : TORCH_LEGACY;
    if (format) *format = f;
    bert_status rc = f == TORCH_ZIP ? parse_zip(data, size, out, err) : parse_legacy(data, size, out, err);
    if (rc != BERT_OK) st_close(out);
    return rc;
}

bert_status torch_open(const char *path, int use_mmap, st_file *out, torch_format *format, bert_error *err) {
    memset(out, 0, sizeof *out);
    bert_file file;
    bert_status rc = bert_file_open(path, use_mmap, &file, err);
    if (rc != BERT_OK) return rc;
    rc = torch_parse(file.data, file.size, out, format, err);
    if (rc == BERT_OK && !out->file.data) out->file = file; /* the tensors point into the file */
    else bert_file_close(&file);
    if (rc == BERT_OK && !(out->path = strdup(path))) {
        st_close(out);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    if (rc != BERT_OK) bert_error_prefix(err, "%s", path);
    return rc;
}
