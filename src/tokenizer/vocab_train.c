/* vocab_train.c — learning a WordPiece vocabulary from text, the way
 * Hugging Face tokenizers' WordPieceTrainer does (BertWordPieceTokenizer.train):
 *
 *  1. every text goes through BERT's normalizer and pre-tokenizer; words
 *     are counted;
 *  2. the alphabet is the characters of those words, the limit_alphabet
 *     most frequent ones kept (others are dropped from the words); a
 *     character inside a word is the symbol "##c";
 *  3. BPE: the most frequent adjacent pair of symbols (weighted by word
 *     counts) becomes a new symbol ("a" + "##b" -> "ab", "##a" + "##b" ->
 *     "##ab"), until the vocabulary is full or no pair occurs min_frequency
 *     times. Ties go to the pair of older symbols, as the Rust trainer's
 *     Merge ordering does.
 *
 * Pair counts are kept up to date incrementally: a merge touches only the
 * words that hold the pair (pair -> words index), and a max-heap with lazy
 * deletion finds the next best pair. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"
#include "util/error.h"

/* ---- a string -> index hash map over an arena ------------------------------------------------ */

typedef struct {
    char *arena;
    size_t used, cap;
    size_t *off;     /* [n] start of each string in the arena */
    int *len;        /* [n] */
    int n, ncap;
    int *slot;       /* [mask + 1] index + 1, 0 = empty */
    size_t mask;
} strmap;

static const char *sm_str(const strmap *m, int i) { return m->arena + m->off[i]; }

static int sm_rehash(strmap *m, size_t slots) {
    int *s = calloc(slots, sizeof *s);
    if (!s) return 0;
    for (int i = 0; i < m->n; i++) {
        size_t k = bert_vocab_hash(NULL, 0, sm_str(m, i), (size_t)m->len[i]) & (slots - 1);
        while (s[k]) k = (k + 1) & (slots - 1);
        s[k] = i + 1;
    }
    free(m->slot);
    m->slot = s, m->mask = slots - 1;
    return 1;
}

/* The index of s, added when absent (*added = 1); -1 when out of memory. */
static int sm_get(strmap *m, const char *s, int n, int add, int *added) {
    if (added) *added = 0;
    if (!m->slot && !sm_rehash(m, 1024)) return -1;
    size_t k = bert_vocab_hash(NULL, 0, s, (size_t)n) & m->mask;
    for (; m->slot[k]; k = (k + 1) & m->mask) {
        int i = m->slot[k] - 1;
        if (m->len[i] == n && memcmp(sm_str(m, i), s, (size_t)n) == 0) return i;
    }
    if (!add) return -1;
    if (m->used + (size_t)n + 1 > m->cap) {
        size_t cap = (m->cap ? m->cap * 2 : 1 << 16) + (size_t)n;
        char *a = realloc(m->arena, cap);
        if (!a) return -1;
        m->arena = a, m->cap = cap;
    }
    if (m->n == m->ncap) {
        int ncap = m->ncap ? 2 * m->ncap : 1024;
        size_t *o = realloc(m->off, sizeof *o * (size_t)ncap);
        int *l = o ? realloc(m->len, sizeof *l * (size_t)ncap) : NULL;
        if (o) m->off = o;
        if (!l) return -1;
        m->len = l, m->ncap = ncap;
    }
    memcpy(m->arena + m->used, s, (size_t)n);
    m->arena[m->used + (size_t)n] = '\0';
    m->off[m->n] = m->used, m->len[m->n] = n;
    m->used += (size_t)n + 1;
    m->slot[k] = ++m->n;
    if (added) *added = 1;
    if ((size_t)m->n * 2 > m->mask && !sm_rehash(m, (m->mask + 1) * 2)) return -1;
    return m->n - 1;
}

static void sm_free(strmap *m) { free(m->arena), free(m->off), free(m->len), free(m->slot); }

/* ---- the trainer ------------------------------------------------------------------------------ */

struct bert_vocab_trainer {
    bert_vocab_train_params p;
    bert_tokenizer norm; /* the normalizer flags only: no vocabulary, no added tokens */
    strmap words;
    int64_t *counts;
    int ccap;
};

bert_vocab_train_params bert_vocab_train_default_params(void) {
    return (bert_vocab_train_params){.vocab_size = 30522, .min_frequency = 2, .limit_alphabet = 1000, .lowercase = 1,
                                     .strip_accents = -1};
}

bert_status bert_vocab_trainer_create(const bert_vocab_train_params *p, bert_vocab_trainer **out, bert_error *err) {
    bert_error_clear(err);
    bert_vocab_trainer *t = calloc(1, sizeof *t);
    if (!t) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    t->p = p ? *p : bert_vocab_train_default_params();
    if (t->p.vocab_size < 6) {
        int v = t->p.vocab_size;
        free(t);
        return bert_fail(err, BERT_ERR_INPUT, "vocab_size %d is too small (5 special tokens + characters)", v);
    }
    t->norm.clean_text = t->norm.handle_chinese_chars = 1;
    t->norm.lowercase = t->p.lowercase;
    t->norm.strip_accents = t->p.strip_accents;
    *out = t;
    return BERT_OK;
}

static int count_word(void *ctx, const char *w, int n) {
    bert_vocab_trainer *t = ctx;
    int added, i = sm_get(&t->words, w, n, 1, &added);
    if (i < 0) return 0;
    if (i >= t->ccap) {
        int cap = t->ccap ? 2 * t->ccap : 1024;
        int64_t *c = realloc(t->counts, sizeof *c * (size_t)cap);
        if (!c) return 0;
        t->counts = c, t->ccap = cap;
    }
    if (added) t->counts[i] = 0;
    t->counts[i]++;
    return 1;
}

bert_status bert_vocab_trainer_feed(bert_vocab_trainer *t, const char *text, long len, bert_error *err) {
    bert_error_clear(err);
    return bert_pretokenize(&t->norm, text, len < 0 ? strlen(text) : (size_t)len, count_word, t, err);
}

/* pair (a, b) of symbol ids -> count and the words holding it */
typedef struct {
    uint64_t key; /* a << 32 | b, +1 so that 0 is empty */
    int64_t count;
    int *words, nw, cw;
} pair_entry;

typedef struct {
    pair_entry *e;
    size_t mask, n;
} pairmap;

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static pair_entry *pm_get(pairmap *m, int a, int b) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    if ((m->n + 1) * 2 > m->mask) { /* grow */
        size_t slots = m->mask ? (m->mask + 1) * 2 : 1 << 16;
        pair_entry *e = calloc(slots, sizeof *e);
        if (!e) return NULL;
        for (size_t i = 0; m->e && i <= m->mask; i++) {
            if (!m->e[i].key) continue;
            size_t k = mix64(m->e[i].key) & (slots - 1);
            while (e[k].key) k = (k + 1) & (slots - 1);
            e[k] = m->e[i];
        }
        free(m->e);
        m->e = e, m->mask = slots - 1;
    }
    size_t k = mix64(key) & m->mask;
    while (m->e[k].key && m->e[k].key != key) k = (k + 1) & m->mask;
    if (!m->e[k].key) m->e[k].key = key, m->n++;
    return &m->e[k];
}

/* max-heap of (count, a, b): higher count first, then smaller (a, b) */
typedef struct {
    int64_t count;
    int a, b;
} cand;

typedef struct {
    cand *v;
    size_t n, cap;
} heap;

static int better(const cand *x, const cand *y) {
    if (x->count != y->count) return x->count > y->count;
    return x->a != y->a ? x->a < y->a : x->b < y->b;
}

static int heap_push(heap *h, cand c) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 4096;
        cand *v = realloc(h->v, sizeof *v * cap);
        if (!v) return 0;
        h->v = v, h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && better(&c, &h->v[(i - 1) / 2])) h->v[i] = h->v[(i - 1) / 2], i = (i - 1) / 2;
    h->v[i] = c;
    return 1;
}

static cand heap_pop(heap *h) {
    cand top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const cand *best = &last;
        if (l < h->n && better(&h->v[l], best)) m = l, best = &h->v[l];
        if (r < h->n && better(&h->v[r], best)) m = r;
        if (m == i) break;
        h->v[i] = h->v[m], i = m;
    }
    if (h->n) h->v[i] = last;
    return top;
}

typedef struct {
    int *sym, n;
} word_syms;

static int add_pair(pairmap *pm, int a, int b, int64_t count, int word) {
    pair_entry *e = pm_get(pm, a, b);
    if (!e) return 0;
    e->count += count;
    if (count > 0 && (e->nw == 0 || e->words[e->nw - 1] != word)) {
        if (e->nw == e->cw) {
            int cw = e->cw ? 2 * e->cw : 4;
            int *w = realloc(e->words, sizeof *w * (size_t)cw);
            if (!w) return 0;
            e->words = w, e->cw = cw;
        }
        e->words[e->nw++] = word;
    }
    return 1;
}

static int cmp_char_count(const void *x, const void *y) {
    const int64_t *a = x, *b = y; /* {count, code point} */
    if (a[0] != b[0]) return a[0] > b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}
static int cmp_cp(const void *x, const void *y) {
    const int64_t *a = x, *b = y;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}

bert_status bert_vocab_trainer_finish(bert_vocab_trainer *t, char ***tokens_out, int *n_out, bert_error *err) {
    bert_error_clear(err);
    *tokens_out = NULL, *n_out = 0;
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    strmap syms = {0};
    pairmap pm = {0};
    heap h = {0};
    word_syms *ws = calloc((size_t)(t->words.n ? t->words.n : 1), sizeof *ws);
    int64_t *chars = NULL; /* {count, code point} */
    int nchars = 0, ccap = 0, ok = ws != NULL;
    for (int i = 0; ok && i < 5; i++) ok = sm_get(&syms, specials[i], (int)strlen(specials[i]), 1, NULL) >= 0;
    /* the alphabet: characters by frequency, limit_alphabet kept, then in code-point order */
    for (int w = 0; ok && w < t->words.n; w++) {
        uint32_t cps[256];
        const char *s = sm_str(&t->words, w);
        size_t bad;
        long n = t->words.len[w] < 256 ? bert_utf8_decode(s, (size_t)t->words.len[w], cps, &bad) : 0;
        for (long k = 0; ok && k < n; k++) {
            int f = -1;
            for (int j = 0; j < nchars && f < 0; j++) /* small alphabets: linear is fine up to a few thousand */
                if (chars[2 * j + 1] == cps[k]) f = j;
            if (f < 0) {
                if (nchars == ccap && !(chars = realloc(chars, sizeof *chars * 2 * (size_t)(ccap = ccap ? 2 * ccap : 256)))) ok = 0;
                if (!ok) break;
                f = nchars++;
                chars[2 * f] = 0, chars[2 * f + 1] = cps[k];
            }
            chars[2 * f] += t->counts[w];
        }
    }
    if (ok && nchars > 1) qsort(chars, (size_t)nchars, 2 * sizeof *chars, cmp_char_count);
    if (ok && t->p.limit_alphabet > 0 && nchars > t->p.limit_alphabet) nchars = t->p.limit_alphabet;
    if (ok && nchars > 1) qsort(chars, (size_t)nchars, 2 * sizeof *chars, cmp_cp);
    for (int j = 0; ok && j < nchars; j++) {
        char b[8];
        int n = bert_utf8_encode((uint32_t)chars[2 * j + 1], b);
        ok = sm_get(&syms, b, n, 1, NULL) >= 0;
    }
    /* words as symbols: "c", "##c", ... (characters outside the alphabet dropped) */
    for (int w = 0; ok && w < t->words.n; w++) {
        uint32_t cps[256];
        size_t bad;
        long n = t->words.len[w] < 256 ? bert_utf8_decode(sm_str(&t->words, w), (size_t)t->words.len[w], cps, &bad) : 0;
        ws[w].sym = malloc(sizeof *ws[w].sym * (size_t)(n ? n : 1));
        if (!ws[w].sym) ok = 0;
        for (long k = 0; ok && k < n; k++) {
            char b[16] = "##";
            int nb = bert_utf8_encode(cps[k], b + 2);
            if (sm_get(&syms, b + 2, nb, 0, NULL) < 0) continue; /* not in the alphabet */
            int id = ws[w].n == 0 ? sm_get(&syms, b + 2, nb, 0, NULL) : sm_get(&syms, b, nb + 2, 1, NULL);
            if (id < 0) ok = 0;
            else ws[w].sym[ws[w].n++] = id;
        }
        for (int k = 0; ok && k + 1 < ws[w].n; k++) ok = add_pair(&pm, ws[w].sym[k], ws[w].sym[k + 1], t->counts[w], w);
    }
    for (size_t i = 0; ok && i <= pm.mask && pm.e; i++)
        if (pm.e[i].key) ok = heap_push(&h, (cand){pm.e[i].count, (int)((pm.e[i].key - 1) >> 32), (int)((pm.e[i].key - 1) & 0xFFFFFFFFu)});
    /* merges */
    char *buf = NULL;
    size_t bcap = 0;
    while (ok && syms.n < t->p.vocab_size && h.n) {
        cand c = heap_pop(&h);
        pair_entry *e = pm_get(&pm, c.a, c.b);
        if (!e) {
            ok = 0;
            break;
        }
        if (e->count != c.count) { /* stale: requeue with the current count */
            if (e->count > 0) ok = heap_push(&h, (cand){e->count, c.a, c.b});
            continue;
        }
        if (c.count < t->p.min_frequency || c.count <= 0) break;
        const char *sa = sm_str(&syms, c.a), *sb = sm_str(&syms, c.b);
        int la = syms.len[c.a], lb = syms.len[c.b] - 2; /* b always carries "##" */
        if ((size_t)(la + lb + 1) > bcap && !(buf = realloc(buf, bcap = (size_t)(la + lb + 1) * 2))) {
            ok = 0;
            break;
        }
        memcpy(buf, sa, (size_t)la), memcpy(buf + la, sb + 2, (size_t)lb);
        int nid = sm_get(&syms, buf, la + lb, 1, NULL);
        if (nid < 0) {
            ok = 0;
            break;
        }
        /* rewrite the words that hold the pair; the entry may move when the map grows */
        int nw = e->nw, *wl = e->words;
        e->words = NULL, e->nw = e->cw = 0, e->count = 0;
        for (int k = 0; ok && k < nw; k++) {
            word_syms *x = &ws[wl[k]];
            int64_t wc = t->counts[wl[k]];
            for (int i = 0; ok && i + 1 < x->n; i++) {
                if (x->sym[i] != c.a || x->sym[i + 1] != c.b) continue;
                if (i > 0) ok = add_pair(&pm, x->sym[i - 1], c.a, -wc, wl[k]) && add_pair(&pm, x->sym[i - 1], nid, wc, wl[k]);
                if (ok && i + 2 < x->n) ok = add_pair(&pm, c.b, x->sym[i + 2], -wc, wl[k]) && add_pair(&pm, nid, x->sym[i + 2], wc, wl[k]);
                x->sym[i] = nid;
                memmove(x->sym + i + 1, x->sym + i + 2, sizeof *x->sym * (size_t)(x->n - i - 2));
                x->n--;
            }
            for (int i = 0; ok && i + 1 < x->n; i++) /* the new pairs into the queue */
                if (x->sym[i] == nid || x->sym[i + 1] == nid) {
                    pair_entry *ne = pm_get(&pm, x->sym[i], x->sym[i + 1]);
                    ok = ne && heap_push(&h, (cand){ne->count, x->sym[i], x->sym[i + 1]});
                }
        }
        free(wl);
    }
    free(buf);
    char **out = ok ? malloc(sizeof *out * (size_t)syms.n) : NULL;
    if (ok && !out) ok = 0;
    for (int i = 0; ok && i < syms.n; i++)
        if (!(out[i] = strdup(sm_str(&syms, i)))) ok = 0, bert_vocab_tokens_free(out, i), out = NULL;
    if (ok) *tokens_out = out, *n_out = syms.n;
    for (int w = 0; ws && w < t->words.n; w++) free(ws[w].sym);
    for (size_t i = 0; pm.e && i <= pm.mask; i++) free(pm.e[i].words);
    free(ws), free(pm.e), free(h.v), free(chars);
    sm_free(&syms);
    return ok ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
}

int bert_vocab_trainer_words(const bert_vocab_trainer *t) { return t->words.n; }

void bert_vocab_tokens_free(char **tokens, int n) {
    for (int i = 0; tokens && i < n; i++) free(tokens[i]);
    free(tokens);
}

void bert_vocab_trainer_free(bert_vocab_trainer *t) {
    if (!t) return;
    sm_free(&t->words);
    free(t->counts);
    free(t);
}
