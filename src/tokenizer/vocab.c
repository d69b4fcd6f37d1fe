/* vocab.c — an open-addressing hash table of token ids keyed by text. */
#include "tokenizer/vocab.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* FNV-1a over prefix then bytes: the hash of the concatenation. */
uint64_t bert_vocab_hash(const char *a, size_t na, const char *b, size_t nb) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < na; i++) h = (h ^ (unsigned char)a[i]) * 1099511628211ull;
    for (size_t i = 0; i < nb; i++) h = (h ^ (unsigned char)b[i]) * 1099511628211ull;
    return h;
}

static int equals2(const char *tok, const char *a, size_t na, const char *b, size_t nb) {
    return strlen(tok) == na + nb && (na == 0 || memcmp(tok, a, na) == 0) && memcmp(tok + na, b, nb) == 0;
}

bert_status bert_vocab_init(bert_vocab *v, int capacity, bert_error *err) {
    memset(v, 0, sizeof *v);
    v->n_slots = 1024;
    while (v->n_slots < (size_t)capacity * 2) v->n_slots *= 2;
    v->slots = malloc(v->n_slots * sizeof *v->slots);
    v->cap = capacity > 0 ? capacity : 1;
    v->tokens = calloc((size_t)v->cap, sizeof *v->tokens);
    if (!v->slots || !v->tokens) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    memset(v->slots, 0xff, v->n_slots * sizeof *v->slots);
    v->n = 0;
    return BERT_OK;
}

/* Make room for ids up to `id` (< BERT_VOCAB_MAX_ID); 0 when out of memory. */
static int grow_ids(bert_vocab *v, int id) {
    if (id < v->cap) return 1;
    int cap = v->cap;
    while (cap <= id) cap = cap > BERT_VOCAB_MAX_ID / 2 ? BERT_VOCAB_MAX_ID : cap * 2;
    char **t = realloc(v->tokens, (size_t)cap * sizeof *t);
    if (!t) return 0;
    memset(t + v->cap, 0, (size_t)(cap - v->cap) * sizeof *t);
    v->tokens = t;
    v->cap = cap;
    return 1;
}

static void insert_slot(bert_vocab *v, int id) {
    const char *t = v->tokens[id];
    size_t mask = v->n_slots - 1, i = (size_t)bert_vocab_hash(NULL, 0, t, strlen(t)) & mask;
    while (v->slots[i] >= 0) {
        if (strcmp(v->tokens[v->slots[i]], t) == 0) { /* same text: the later id wins */
            v->slots[i] = id;
            return;
        }
        i = (i + 1) & mask;
    }
    v->slots[i] = id;
}

bert_status bert_vocab_add(bert_vocab *v, const char *text, size_t len, int id, bert_error *err) {
    if (id < 0 || id >= BERT_VOCAB_MAX_ID)
        return bert_fail(err, BERT_ERR_FORMAT, "token id %d is outside [0, %d)", id, BERT_VOCAB_MAX_ID);
    if (!grow_ids(v, id)) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    char *copy = malloc(len + 1);
    if (!copy) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    free(v->tokens[id]);
    v->tokens[id] = copy;
    if (id >= v->n) v->n = id + 1;
    if (len > v->max_len) v->max_len = len;
    /* Keep the load factor under 1/2. */
    if ((size_t)v->n * 2 > v->n_slots) {
        size_t n = v->n_slots * 2;
        int32_t *s = malloc(n * sizeof *s);
        if (!s) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        free(v->slots);
        v->slots = s;
        v->n_slots = n;
        memset(s, 0xff, n * sizeof *s);
        for (int i = 0; i < v->n; i++)
            if (v->tokens[i] && i != id) insert_slot(v, i);
    }
    insert_slot(v, id);
    return BERT_OK;
}

int bert_vocab_find(const bert_vocab *v, const char *prefix, size_t prefix_len, const char *bytes, size_t len) {
    if (prefix_len + len > v->max_len) return -1;
    size_t mask = v->n_slots - 1, i = (size_t)bert_vocab_hash(prefix, prefix_len, bytes, len) & mask;
    while (v->slots[i] >= 0) {
        if (equals2(v->tokens[v->slots[i]], prefix, prefix_len, bytes, len)) return v->slots[i];
        i = (i + 1) & mask;
    }
    return -1;
}

void bert_vocab_free(bert_vocab *v) {
    for (int i = 0; v->tokens && i < v->n; i++) free(v->tokens[i]);
    free(v->tokens);
    free(v->slots);
    memset(v, 0, sizeof *v);
}
