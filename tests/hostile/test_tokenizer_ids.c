/* test_tokenizer_ids.c — hostile token ids in tokenizer.json: added-token
 * ids outside the vocabulary, ids near INT_MAX, vocabulary ids far beyond
 * what the file holds. Every id the tokenizer emits must name a token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"

/* A tokenizer.json with a six-token vocabulary, the given vocab entries
 * (JSON object members) and added_tokens (JSON array elements). */
static const char *write_tokenizer(const char *name, const char *vocab, const char *added) {
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", test_tmpdir(), name);
    mkdir(dir, 0755);
    char path[600], json[4096];
    snprintf(json, sizeof json,
             "{\"added_tokens\":[%s],\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true},"
             "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\","
             "\"vocab\":{%s}}}",
             added, vocab);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    test_write_file(path, json, strlen(json));
    return dir;
}

#define VOCAB6 "\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"[MASK]\":4,\"a\":5"
#define ADDED(content, id) "{\"id\":" #id ",\"content\":\"" content "\",\"special\":true}"

/* Encode text; every id must be below the vocabulary size and name a token
 * whose text is the encoding's token. Returns the number of tokens (-1 on error). */
static int encode_checked(const bert_tokenizer *t, const char *text, int32_t *ids, int cap) {
    bert_error err;
    bert_encode_params p = bert_encode_default_params();
    bert_encodings es;
    if (bert_tokenize(t, text, -1, NULL, 0, &p, &es, &err) != BERT_OK) {
        test_fail(__FILE__, __LINE__, "tokenize: %s", err.message);
        return -1;
    }
    const bert_encoding *e = &es.encodings[0];
    int n = e->n_tokens, V = bert_tokenizer_vocab_size(t);
    for (int i = 0; i < n; i++) {
        CHECK(e->input_ids[i] >= 0 && e->input_ids[i] < V);
        const char *tok = bert_tokenizer_id_to_token(t, e->input_ids[i]);
        CHECK(tok && e->tokens[i] && strcmp(tok, e->tokens[i]) == 0);
        if (i < cap) ids[i] = e->input_ids[i];
    }
    bert_encodings_free(&es);
    return n;
}

/* An added token already in the vocabulary takes the vocabulary's id, as
 * Hugging Face tokenizers assigns it (the file's id is not trusted). */
TEST(hostile_added_token_id_outside_vocab) {
    const char *ids_tried[] = {ADDED("[MASK]", 100000000), ADDED("[MASK]", 6), ADDED("[CLS]", 6), ADDED("a", -3),
                               ADDED("[MASK]", 2147483647)};
    for (size_t k = 0; k < sizeof ids_tried / sizeof ids_tried[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "f1_%zu", k);
        const char *dir = write_tokenizer(name, VOCAB6, ids_tried[k]);
        bert_tokenizer *t = NULL;
        bert_error err;
        CHECK_OK(bert_tokenizer_load(dir, &t, &err), err);
        if (!t) continue;
        CHECK(bert_tokenizer_vocab_size(t) == 6);
        int32_t ids[8];
        int n = encode_checked(t, "a [MASK] a", ids, 8);
        CHECK(n == 5 && ids[0] == 2 && ids[1] == 5 && ids[2] == 4 && ids[3] == 5 && ids[4] == 3);
        bert_tokenizer_free(t);
    }
}

/* A new added token gets the next id after the vocabulary, whatever id the
 * file gives it: no allocation sized by a hostile id, no overflow. */
TEST(hostile_added_token_huge_id) {
    const char *added = ADDED("[NEW]", 2147483647) "," ADDED("[TWO]", 100000000) "," ADDED("[NEW]", 7);
    const char *dir = write_tokenizer("f2_added", VOCAB6, added);
    bert_tokenizer *t = NULL;
    bert_error err;
    CHECK_OK(bert_tokenizer_load(dir, &t, &err), err);
    if (!t) return;
    CHECK(bert_tokenizer_vocab_size(t) == 8);
    CHECK(bert_tokenizer_token_to_id(t, "[NEW]") == 6);
    CHECK(bert_tokenizer_token_to_id(t, "[TWO]") == 7);
    int32_t ids[8];
    int n = encode_checked(t, "[TWO] a [NEW]", ids, 8);
    CHECK(n == 5 && ids[1] == 7 && ids[2] == 5 && ids[3] == 6);
    bert_tokenizer_free(t);
}

/* A vocabulary id far beyond the file's size is refused (it would size the
 * id table), as are ids that are not integers. */
TEST(hostile_vocab_id_bounded_by_file) {
    static const char *const bad[] = {VOCAB6 ",\"b\":100000000", VOCAB6 ",\"b\":2147483647", VOCAB6 ",\"b\":1e300",
                                      VOCAB6 ",\"b\":5.5", VOCAB6 ",\"b\":\"7\"", VOCAB6 ",\"b\":-1"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "f2_vocab_%zu", k);
        const char *dir = write_tokenizer(name, bad[k], "");
        bert_tokenizer *t = NULL;
        bert_error err;
        CHECK_ERR(bert_tokenizer_load(dir, &t, &err), err, BERT_ERR_FORMAT, "vocab entry 'b'");
        CHECK(t == NULL);
        bert_tokenizer_free(t);
    }
    /* a hole (an id without text, as a vocab.txt with a repeated line gives) loads */
    const char *dir = write_tokenizer("f2_hole", VOCAB6 ",\"b\":8", "");
    bert_tokenizer *t = NULL;
    bert_error err;
    CHECK_OK(bert_tokenizer_load(dir, &t, &err), err);
    if (t) {
        CHECK(bert_tokenizer_vocab_size(t) == 9 && bert_tokenizer_id_to_token(t, 7) == NULL);
        int32_t ids[8];
        CHECK(encode_checked(t, "b a", ids, 8) == 4 && ids[1] == 8);
        char *s = NULL;
        int32_t hole = 7;
        CHECK_ERR(bert_detokenize(t, &hole, 1, 0, &s, &err), err, BERT_ERR_INPUT, "not in the vocabulary");
        free(s);
    }
    bert_tokenizer_free(t);
}

/* model.max_input_chars_per_word must be a whole number that fits an int:
 * 5.05e24 (a fuzzer's find: the conversion to int was undefined), -1, 1.5
 * and a string are refused naming the field; 0 and 100 load. */
TEST(hostile_max_input_chars_per_word) {
    static const char *const bad[] = {"5055555555555555555555555", "-1", "1.5", "1e300", "\"100\""};
    static const char *const good[] = {"0", "100"};
    for (int i = 0; i < 7; i++) {
        const char *value = i < 5 ? bad[i] : good[i - 5];
        char dir[512], path[600], json[1024];
        snprintf(dir, sizeof dir, "%s/maxchars%d", test_tmpdir(), i);
        mkdir(dir, 0755);
        snprintf(json, sizeof json,
                 "{\"added_tokens\":[],\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true},"
                 "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\","
                 "\"max_input_chars_per_word\":%s,\"vocab\":{" VOCAB6 "}}}",
                 value);
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        test_write_file(path, json, strlen(json));
        bert_tokenizer *t = NULL;
        bert_error err;
        bert_status rc = bert_tokenizer_load(dir, &t, &err);
        if (i < 5) CHECK(rc == BERT_ERR_FORMAT && strstr(err.message, "max_input_chars_per_word"));
        else CHECK(rc == BERT_OK && t);
        bert_tokenizer_free(t);
    }
}
