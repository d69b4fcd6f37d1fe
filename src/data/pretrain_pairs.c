/* pretrain_pairs.c — NSP pairs and masked-LM masking (see pretrain_pairs.h). */
#include "data/pretrain_pairs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

uint32_t pairs_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 32); /* the high half: the low bits of an LCG are weak */
}

/* Uniform in [0, 1) from the generator. */
static double rand01(uint64_t *s) { return pairs_rand(s) / 4294967296.0; }

/* Copy segment k of c to dst (at most room tokens); returns the count. */
static int copy_segment(const corpus *c, int64_t k, int32_t *dst, int room) {
    int64_t n = corpus_seg_len(c, k), s = (int64_t)c->seg_start[k];
    if (n > room) n = room;
    for (int64_t i = 0; i < n; i++) dst[i] = corpus_token(c, s + i);
    return (int)n;
}

/* Append [CLS] a [SEP] b [SEP] with its types and NSP label; 0 when out of memory. */
static int push(pairs_list *out, const int32_t *a, int na, const int32_t *b, int nb, int cls, int sep, int nsp,
                int forced) {
    if (out->n == out->cap) {
        int cap = out->cap ? 2 * out->cap : 1024;
        pairs_instance *v = realloc(out->v, sizeof *v * (size_t)cap);
        if (!v) return 0;
        out->v = v, out->cap = cap;
    }
    pairs_instance *x = &out->v[out->n];
    x->n = na + nb + 3;
    x->ids = malloc(sizeof *x->ids * (size_t)x->n);
    x->types = malloc(sizeof *x->types * (size_t)x->n);
    if (!x->ids || !x->types) return free(x->ids), free(x->types), 0;
    int p = 0;
    x->ids[p] = cls, x->types[p++] = 0;
    for (int k = 0; k < na; k++) x->ids[p] = a[k], x->types[p++] = 0;
    x->ids[p] = sep, x->types[p++] = 0;
    for (int k = 0; k < nb; k++) x->ids[p] = b[k], x->types[p++] = 1;
    x->ids[p] = sep, x->types[p++] = 1;
    x->nsp = nsp;
    x->forced_random = forced;
    out->n++;
    return 1;
}

/* Google's create_instances_from_document for document d; a and b are
 * scratch of cap tokens. 0 when out of memory. */
static int document_instances(const corpus *c, int64_t d0, int64_t d1, int64_t d, int max_seq, int cls, int sep,
                              uint64_t *rs, pairs_list *out, int32_t *a, int32_t *b, int cap) {
    int64_t s0 = (int64_t)c->doc_start[d], ns = corpus_doc_segs(c, d);
    int max_tokens = max_seq - 3, target = max_tokens;
    if (rand01(rs) < 0.1) target = 2 + (int)(pairs_rand(rs) % (uint32_t)(max_tokens - 1));
    int64_t start = 0;
    int len = 0;
    for (int64_t i = 0; i < ns; i++) {
        len += (int)corpus_seg_len(c, s0 + i);
        if (i != ns - 1 && len < target) continue;
        int64_t count = i - start + 1; /* segments start..i */
        int64_t a_end = count >= 2 ? start + 1 + (int64_t)(pairs_rand(rs) % (uint32_t)(count - 1)) : start + 1;
        int na = 0, nb = 0, nsp = 0;
        for (int64_t k = start; k < a_end && na < cap; k++) na += copy_segment(c, s0 + k, a + na, cap - na);
        if (count == 1 || (d1 - d0 > 1 && rand01(rs) < 0.5)) { /* random next: text of another document */
            nsp = 1;
            int64_t other = d;
            for (int tries = 0; tries < 10 && other == d; tries++) other = d0 + (int64_t)(pairs_rand(rs) % (uint64_t)(d1 - d0));
            int64_t os0 = (int64_t)c->doc_start[other], ons = corpus_doc_segs(c, other);
            int target_b = target - na;
            /* at least one segment, then until B reaches its target length (Google's loop) */
            for (int64_t k = (int64_t)(pairs_rand(rs) % (uint64_t)ons); k < ons && (nb == 0 || (nb < target_b && nb < max_seq * 3)); k++)
                nb += copy_segment(c, os0 + k, b + nb, cap - nb);
            i = a_end - 1; /* the unused segments go back (Google: num_unused_segments) */
        } else {
            for (int64_t k = a_end; k <= i && nb < max_seq * 3; k++) nb += copy_segment(c, s0 + k, b + nb, cap - nb);
        }
        /* truncate_seq_pair: trim the longer side at a random end */
        int a0 = 0, b0 = 0;
        while (na + nb > max_tokens) {
            if (na >= nb) {
                if (rand01(rs) < 0.5) a0++;
                na--;
            } else {
                if (rand01(rs) < 0.5) b0++;
                nb--;
            }
        }
        if (na >= 1 && nb >= 1 && !push(out, a + a0, na, b + b0, nb, cls, sep, nsp, count == 1)) return 0;
        start = i + 1, len = 0;
    }
    return 1;
}

bert_status pairs_make(const corpus *c, int64_t d0, int64_t d1, int max_seq, int cls, int sep, uint64_t *rs,
                       pairs_list *out, bert_error *err) {
    if (max_seq < 8) return bert_fail(err, BERT_ERR_INPUT, "pre-training sequences need at least 8 tokens, not %d", max_seq);
    int cap = max_seq * 4;
    int32_t *a = malloc(sizeof *a * (size_t)cap), *b = malloc(sizeof *b * (size_t)cap);
    int ok = a && b;
    for (int64_t d = d0; ok && d < d1; d++) ok = document_instances(c, d0, d1, d, max_seq, cls, sep, rs, out, a, b, cap);
    free(a), free(b);
    return ok ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory making pre-training pairs");
}

void pairs_list_free(pairs_list *x) {
    for (int i = 0; i < x->n; i++) free(x->v[i].ids), free(x->v[i].types);
    free(x->v);
    memset(x, 0, sizeof *x);
}

bert_status pairs_masking_init(pairs_masking *m, const bert_tokenizer *tok, int max_predictions, int whole_word,
                               bert_error *err) {
    memset(m, 0, sizeof *m);
    m->cls = bert_tokenizer_special_id(tok, BERT_SPECIAL_CLS);
    m->sep = bert_tokenizer_special_id(tok, BERT_SPECIAL_SEP);
    m->mask = bert_tokenizer_special_id(tok, BERT_SPECIAL_MASK);
    m->vocab = bert_tokenizer_vocab_size(tok);
    m->max_predictions = max_predictions;
    m->whole_word = whole_word;
    if (m->cls < 0 || m->sep < 0 || m->mask < 0)
        return bert_fail(err, BERT_ERR_INPUT, "the vocabulary lacks [CLS], [SEP] or [MASK], which pre-training needs");
    unsigned char *cont = calloc((size_t)m->vocab, 1);
    if (!cont) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->vocab; i++) {
        const char *t = bert_tokenizer_id_to_token(tok, i);
        cont[i] = t && strncmp(t, "##", 2) == 0;
    }
    m->continuation = cont;
    return BERT_OK;
}

void pairs_masking_free(pairs_masking *m) { free((void *)m->continuation), m->continuation = NULL; }

bert_status pairs_mask(const pairs_masking *m, const pairs_instance *x, int32_t *ids, float *labels,
                       uint32_t (*next)(void *), void *st, bert_error *err) {
    memcpy(ids, x->ids, sizeof *ids * (size_t)x->n);
    for (int i = 0; i < x->n; i++) labels[i] = -100;
    /* candidate units: a token, or with whole_word a token and its "##" pieces */
    int *start = malloc(sizeof *start * (size_t)x->n * 2), *len = start + x->n, nu = 0, ntok = 0;
    if (!start) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < x->n; i++) {
        if (x->ids[i] == m->cls || x->ids[i] == m->sep) continue;
        ntok++;
        if (m->whole_word && nu > 0 && m->continuation[x->ids[i]] && start[nu - 1] + len[nu - 1] == i) {
            len[nu - 1]++;
            continue;
        }
        start[nu] = i, len[nu++] = 1;
    }
    for (int i = nu - 1; i > 0; i--) { /* shuffle units */
        int j = (int)(next(st) % (uint32_t)(i + 1)), a = start[i], b = len[i];
        start[i] = start[j], len[i] = len[j], start[j] = a, len[j] = b;
    }
    int want = (int)lround(ntok * 0.15), done = 0;
    if (want < 1) want = 1;
    if (want > m->max_predictions) want = m->max_predictions;
    for (int u = 0; u < nu && done < want; u++) {
        if (done + len[u] > want) continue; /* a whole word that would exceed the budget is skipped */
        for (int k = start[u]; k < start[u] + len[u]; k++) {
            labels[k] = (float)x->ids[k];
            double r = (next(st) >> 8) / 16777216.0;
            if (r < 0.8) ids[k] = m->mask;
            else if (r < 0.9) ids[k] = (int32_t)(next(st) % (uint32_t)m->vocab);
            done++;
        }
    }
    free(start);
    return BERT_OK;
}
