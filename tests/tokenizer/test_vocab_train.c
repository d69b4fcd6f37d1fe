/* WordPiece vocabulary training (src/tokenizer/vocab_train.c). */
#include <stdlib.h>

#include "test.h"

/* The textbook BPE example, counted by hand with the "##" prefix:
 * low x3, lower, newest x2, widest. Pair counts: (l,##o) 4 = (##o,##w) 4
 * -> "lo" (older symbols win the tie), then (lo,##w) 4 -> "low"; then
 * (##e,##s) 3 = (##s,##t) 3 -> "##es", (##es,##t) 3 -> "##est"; then the
 * count-2 pairs (n,##e), (##e,##w), (##w,##est) -> "ne" (n is oldest). */
TEST(vocab_train_merges_as_counted_by_hand) {
    bert_vocab_train_params p = bert_vocab_train_default_params();
    p.vocab_size = 5 + 10 + 8 + 5;
    bert_vocab_trainer *t;
    bert_error err;
    CHECK_OK(bert_vocab_trainer_create(&p, &t, &err), err);
    CHECK_OK(bert_vocab_trainer_feed(t, "Low low LOW lower newest newest widest", -1, &err), err);
    CHECK(bert_vocab_trainer_words(t) == 4);
    char **v;
    int n;
    CHECK_OK(bert_vocab_trainer_finish(t, &v, &n, &err), err);
    CHECK(n == p.vocab_size);
    if (n == p.vocab_size) {
        const char *want_head[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "d", "e", "i", "l", "n", "o", "r", "s", "t", "w"};
        const char *want_tail[] = {"lo", "low", "##es", "##est", "ne"};
        for (int i = 0; i < 15; i++) CHECK(strcmp(v[i], want_head[i]) == 0);
        for (int i = 0; i < 5; i++) CHECK(strcmp(v[23 + i], want_tail[i]) == 0);
        for (int i = 15; i < 23; i++) CHECK(strncmp(v[i], "##", 2) == 0 && strlen(v[i]) == 3);
    }
    bert_vocab_tokens_free(v, n);
    bert_vocab_trainer_free(t);
}

TEST(vocab_train_limits_and_errors) {
    bert_vocab_train_params p = bert_vocab_train_default_params();
    bert_vocab_trainer *t;
    bert_error err;
    p.vocab_size = 3;
    CHECK_ERR(bert_vocab_trainer_create(&p, &t, &err), err, BERT_ERR_INPUT, "too small");
    p.vocab_size = 1000, p.min_frequency = 2, p.limit_alphabet = 3, p.lowercase = 0;
    CHECK_OK(bert_vocab_trainer_create(&p, &t, &err), err);
    CHECK_ERR(bert_vocab_trainer_feed(t, "bad \xc3 byte", -1, &err), err, BERT_ERR_INPUT, "invalid UTF-8");
    /* a 8 times, b twice, then ',' 'Z' 'q' 'Ä' once each: the third kept is the lowest code point, ',' */
    CHECK_OK(bert_vocab_trainer_feed(t, "aaa aaa ab ab Zq, Ä", -1, &err), err);
    char **v;
    int n;
    CHECK_OK(bert_vocab_trainer_finish(t, &v, &n, &err), err);
    int has_q = 0, has_comma = 0, has_a_umlaut = 0, has_aa = 0, has_z = 0;
    for (int i = 0; i < n; i++) {
        has_q |= strcmp(v[i], "q") == 0 || strcmp(v[i], "##q") == 0;
        has_comma |= strcmp(v[i], ",") == 0;
        has_z |= strcmp(v[i], "Z") == 0 || strcmp(v[i], "z") == 0;
        has_a_umlaut |= strcmp(v[i], "\xc3\x84") == 0;
        has_aa |= strcmp(v[i], "a##a") == 0 || strcmp(v[i], "aa") == 0;
    }
    CHECK(!has_q && !has_z && !has_a_umlaut && has_comma); /* the 3-character alphabet */
    CHECK(has_aa);                                         /* pairs seen twice merged */
    CHECK(n < 1000);                              /* stopped: nothing left at min_frequency */
    bert_vocab_tokens_free(v, n);
    bert_vocab_trainer_free(t);
}
