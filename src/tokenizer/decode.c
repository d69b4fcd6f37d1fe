/* decode.c — ids back to text: Hugging Face's WordPiece decoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

/* tokenizers' decoders::wordpiece::cleanup, applied to each token (with
 * its leading space) — not to the joined string. */
static size_t cleanup(const char *in, char *out) {
    static const char *const from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " do not", " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", " don't", "'s", "'ve", "'re"};
    /* The replacements run one after the other over the whole token. */
    size_t n = strlen(in);
    char *cur = malloc(n + 1), *nxt = malloc(n * 2 + 2);
    if (!cur || !nxt) {
        free(cur);
        free(nxt);
        memcpy(out, in, n + 1);
        return n;
    }
    memcpy(cur, in, n + 1);
    for (size_t r = 0; r < sizeof from / sizeof from[0]; r++) {
        size_t fl = strlen(from[r]), tl = strlen(to[r]), k = 0;
        for (const char *p = cur; *p;) {
            if (strncmp(p, from[r], fl) == 0) {
                memcpy(nxt + k, to[r], tl);
                k += tl;
                p += fl;
            } else {
                nxt[k++] = *p++;
            }
        }
        nxt[k] = '\0';
        memcpy(cur, nxt, k + 1);
    }
    size_t len = strlen(cur);
    memcpy(out, cur, len + 1);
    free(cur);
    free(nxt);
    return len;
}

static int is_special(const bert_tokenizer *t, int id) {
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].id == id && t->added[i].special) return 1;
    return 0;
}

char *bert_decode_tokens(const bert_tokenizer *t, const char *const *tokens, int n) {
    size_t cap = 1;
    for (int i = 0; i < n; i++) cap += strlen(tokens[i]) + 2;
    char *s = malloc(cap), *tmp = malloc(cap + 2);
    if (!s || !tmp) {
        free(s);
        free(tmp);
        return NULL;
    }
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        const char *tok = tokens[i];
        /* The first token is written as is; later ones either lose the
         * "##" prefix or get a leading space. */
        if (i > 0 && strncmp(tok, t->prefix, t->prefix_len) == 0) snprintf(tmp, cap + 2, "%s", tok + t->prefix_len);
        else snprintf(tmp, cap + 2, "%s%s", i > 0 ? " " : "", tok);
        if (t->decode_cleanup) {
            len += cleanup(tmp, s + len);
        } else {
            size_t l = strlen(tmp);
            memcpy(s + len, tmp, l + 1);
            len += l;
        }
    }
    s[len] = '\0';
    free(tmp);
    return s;
}

void bert_clean_up_tokenization(char *s) {
    /* transformers' PreTrainedTokenizerBase.clean_up_tokenization, run
     * over the whole decoded string (after the per-token clean-up). */
    static const char *const from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re"};
    for (size_t r = 0; r < sizeof from / sizeof from[0]; r++) {
        size_t fl = strlen(from[r]), tl = strlen(to[r]);
        char *w = s;
        for (const char *p = s; *p;) {
            if (strncmp(p, from[r], fl) == 0) {
                memmove(w, to[r], tl); /* tl < fl: never overtakes p */
                w += tl;
                p += fl;
            } else {
                *w++ = *p++;
            }
        }
        *w = '\0';
    }
}

bert_status bert_detokenize(const bert_tokenizer *t, const int32_t *ids, int n, int skip_special, char **out,
                            bert_error *err) {
    bert_error_clear(err);
    const char **toks = malloc(sizeof *toks * (size_t)(n > 0 ? n : 1));
    if (!toks) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab.n || !t->vocab.tokens[ids[i]]) {
            free(toks);
            return bert_fail(err, BERT_ERR_INPUT, "id %d at position %d is not in the vocabulary", ids[i], i);
        }
        if (skip_special && is_special(t, ids[i])) continue;
        toks[k++] = t->vocab.tokens[ids[i]];
    }
    *out = bert_decode_tokens(t, toks, k);
    free(toks);
    return *out ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
}
