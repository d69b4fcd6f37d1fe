/* test_added_tokens.c — added tokens against Hugging Face `tokenizers`
 * itself: tests/fixtures/conformance/added_tokens.jsonl holds what
 * Tokenizer.from_file(...).encode() / .decode() gave for texts that probe
 * each matching rule (normalized true/false, lstrip, rstrip, single_word,
 * special or not, longest match, CJK and accents in patterns), on the two
 * tokenizer.json files beside it (tools/make_conformance_goldens.py).
 * Also the same tokens in a vocab.txt tokenizer's tokenizer_config.json
 * (added_tokens_decoder), as transformers' AutoTokenizer runs it.
 * Required: identical ids, token types, offsets, word ids and special
 * masks, and identical decoded text with and without special tokens. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test.h"

/* The goldens: the committed ones, or BERT_CONFORMANCE_DIR's (made
 * afresh by the peers in tests/cli/test_conform_embed.sh). */
static const char *conf_dir(void) {
    const char *d = getenv("BERT_CONFORMANCE_DIR");
    return d && *d ? d : "tests/fixtures/conformance";
}

static int same_ints(const cJSON *want, const int32_t *got, int n, int stride) {
    if (cJSON_GetArraySize(want) != n) return 0;
    int i = 0;
    for (const cJSON *v = want->child; v; v = v->next, i++) {
        if (stride == 2) {
            if (cJSON_GetArraySize(v) != 2 || (int)v->child->valuedouble != got[2 * i] ||
                (int)v->child->next->valuedouble != got[2 * i + 1])
                return 0;
        } else if ((int)v->valuedouble != got[i]) {
            return 0;
        }
    }
    return 1;
}

/* The first field of golden case c that bert.c gets differently, or NULL. */
static const char *check_case(const bert_tokenizer *tok, const cJSON *c, char *detail, size_t dn) {
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text"), *pair = cJSON_GetObjectItemCaseSensitive(c, "pair");
    bert_encodings es;
    bert_error err;
    if (bert_tokenize(tok, text->valuestring, -1, cJSON_IsString(pair) ? pair->valuestring : NULL, -1, NULL, &es,
                      &err) != BERT_OK) {
        snprintf(detail, dn, "%s", err.message);
        return "error";
    }
    const bert_encoding *e = &es.encodings[0];
    const char *bad = NULL;
    if (!same_ints(cJSON_GetObjectItemCaseSensitive(c, "ids"), e->input_ids, e->n_tokens, 1)) bad = "ids";
    else if (!same_ints(cJSON_GetObjectItemCaseSensitive(c, "type_ids"), e->token_type_ids, e->n_tokens, 1)) bad = "type_ids";
    else if (!same_ints(cJSON_GetObjectItemCaseSensitive(c, "offsets"), e->offsets, e->n_tokens, 2)) bad = "offsets";
    else if (!same_ints(cJSON_GetObjectItemCaseSensitive(c, "word_ids"), e->word_ids, e->n_tokens, 1)) bad = "word_ids";
    else if (!same_ints(cJSON_GetObjectItemCaseSensitive(c, "special_tokens_mask"), e->special_tokens_mask, e->n_tokens, 1))
        bad = "special_tokens_mask";
    if (bad) {
        int k = 0;
        for (int i = 0; i < e->n_tokens && k < (int)dn - 16; i++)
            k += snprintf(detail + k, dn - (size_t)k, "%d@%d-%d ", e->input_ids[i], e->offsets[2 * i], e->offsets[2 * i + 1]);
    }
    for (int skip = 0; skip < 2 && !bad; skip++) {
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, skip ? "decode_skip_special" : "decode");
        if (!cJSON_IsString(want)) break; /* transformers' cases: its own decode, not compared */
        char *got = NULL;
        if (bert_detokenize(tok, e->input_ids, e->n_tokens, skip, &got, &err) != BERT_OK) {
            snprintf(detail, dn, "%s", err.message);
            bad = "decode error";
        } else if (strcmp(got, want->valuestring) != 0) {
            snprintf(detail, dn, "'%s'", got);
            bad = skip ? "decode_skip_special" : "decode";
        }
        free(got);
    }
    bert_encodings_free(&es);
    return bad;
}

TEST(added_tokens_match_hugging_face_tokenizers) {
    char path[600];
    snprintf(path, sizeof path, "%s/added_tokens.jsonl", conf_dir());
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    char *line = NULL, name[64] = "", dir[700], detail[1024];
    size_t cap = 0;
    bert_tokenizer *tok = NULL;
    bert_error err;
    int cases = 0, bad = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *c = cJSON_Parse(line);
        CHECK(c != NULL);
        if (!c) continue;
        const cJSON *tn = cJSON_GetObjectItemCaseSensitive(c, "tokenizer");
        if (strcmp(name, tn->valuestring) != 0) {
            bert_tokenizer_free(tok);
            tok = NULL;
            snprintf(name, sizeof name, "%s", tn->valuestring);
            snprintf(dir, sizeof dir, "%s/%s", conf_dir(), name);
            CHECK_OK(bert_tokenizer_load(dir, &tok, &err), err);
        }
        if (tok) {
            cases++;
            const char *why = check_case(tok, c, detail, sizeof detail);
            if (why) {
                bad++;
                test_fail(__FILE__, __LINE__, "%s %s: %s differs: %s", name,
                          cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring, why, detail);
            }
        }
        cJSON_Delete(c);
    }
    free(line);
    fclose(f);
    bert_tokenizer_free(tok);
    printf("  added-token cases: %d, mismatches: %d\n", cases, bad);
    CHECK(cases >= 80);
}

/* A flag that is not a boolean is refused, naming the token and field. */
TEST(added_tokens_bad_flag_is_refused) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/added_bad_flag", test_tmpdir());
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    const char *json =
        "{\"added_tokens\":[{\"id\":0,\"content\":\"[PAD]\",\"special\":true,\"normalized\":false},"
        "{\"id\":5,\"content\":\"<x>\",\"lstrip\":\"yes\"}],"
        "\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true},"
        "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
        "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,"
        "\"[SEP]\":3,\"a\":4}}}";
    CHECK(test_write_file(path, json, strlen(json)) == 0);
    bert_tokenizer *t = NULL;
    bert_error err;
    CHECK_ERR(bert_tokenizer_load(dir, &t, &err), err, BERT_ERR_FORMAT, "'<x>': lstrip must be true or false");
    bert_tokenizer_free(t);
}
