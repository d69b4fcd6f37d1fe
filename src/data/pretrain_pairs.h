/* pretrain_pairs.h — pre-training instances: sentence pairs for NSP cut
 * from a corpus (Google's create_pretraining_data.py recipe) and their
 * masking for the masked-LM loss. */
#ifndef BERT_DATA_PRETRAIN_PAIRS_H
#define BERT_DATA_PRETRAIN_PAIRS_H

#include <stdint.h>

#include "bert.h"
#include "data/corpus.h"

typedef struct { /* [CLS] A [SEP] B [SEP], masked when fed */
    int32_t *ids, *types;
    int n, nsp;        /* nsp: 0 = B is the real continuation, 1 = B is random */
    int forced_random; /* A took the whole chunk (one segment), so B had to be random,
                          as in Google's recipe: such pairs push the random share a
                          little above 50 %; the coin is fair for all others */
} pairs_instance;

typedef struct {
    pairs_instance *v;
    int n, cap;
} pairs_list;

/* Data preparation's own generator (a 64-bit LCG): pairs and fixed maskings
 * are functions of a seed, so an epoch can be rebuilt on resume. */
uint32_t pairs_rand(uint64_t *s);

/* Append the pairs of documents [d0, d1) of c for sequences of at most
 * max_seq tokens (target max_seq - 3, shorter with probability 0.1; B the
 * true continuation half of the time, else text of another document in
 * [d0, d1); the longer side trimmed at a random end). rs is the generator's
 * state. BERT_ERR_NOMEM when out of memory (out keeps what was added). */
bert_status pairs_make(const corpus *c, int64_t d0, int64_t d1, int max_seq, int cls, int sep, uint64_t *rs,
                       pairs_list *out, bert_error *err);
/* Release the pairs; out is zeroed. */
void pairs_list_free(pairs_list *x);

typedef struct {
    int cls, sep, mask, vocab;
    const unsigned char *continuation; /* [vocab]: 1 for "##" pieces (whole-word masking) */
    int max_predictions;
    int whole_word;
} pairs_masking;

/* The special ids and "##" pieces of tok's vocabulary. */
bert_status pairs_masking_init(pairs_masking *m, const bert_tokenizer *tok, int max_predictions, int whole_word,
                               bert_error *err);
void pairs_masking_free(pairs_masking *m);

/* Mask x into ids (a copy) and labels (-100 where not predicted): 15 % of
 * the non-special tokens (at least 1, at most max_predictions), of those
 * 80 % -> [MASK], 10 % -> a random id, 10 % unchanged; with whole_word a
 * word's pieces are chosen together. next(st) gives 32 random bits. */
bert_status pairs_mask(const pairs_masking *m, const pairs_instance *x, int32_t *ids, float *labels,
                       uint32_t (*next)(void *), void *st, bert_error *err);

#endif
