/* normalize.c — BertNormalizer over a range of code points (clean-up,
 * spaces around CJK, NFD minus marks, lowercase), keeping for each
 * normalized character the original one it came from; and the scratch
 * space the encoder and the added-token matcher share. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

typedef bert_tok_scratch scratch;

void bert_tok_scratch_free(bert_tok_scratch *w) {
    free(w->norm);
    free(w->align);
    free(w->utf8);
    free(w->cbyte);
    memset(w, 0, sizeof *w);
}

/* Room for n normalized characters (and their alignment) in w. */
static int reserve(scratch *w, size_t n) {
    if (n <= w->cap) return 1;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < n) cap *= 2;
    uint32_t *a = realloc(w->norm, cap * sizeof *a);
    if (!a) return 0;
    w->norm = a;
    int32_t *b = realloc(w->align, cap * sizeof *b);
    if (!b) return 0;
    w->align = b;
    w->cap = cap;
    return 1;
}

int bert_normalize_range(const bert_tokenizer *t, const uint32_t *cps, int a, int b, scratch *w, int *n_out) {
    /* Each character expands to at most 3 (CJK spacing) x 32 (NFD) x 2. */
    int n = 0;
    int strip = t->strip_accents < 0 ? t->lowercase : t->strip_accents;
    for (int i = a; i < b; i++) {
        uint32_t c = cps[i];
        if (t->clean_text) {
            if (c == 0 || c == 0xFFFD || bert_is_control(c)) continue;
            if (bert_is_whitespace(c)) c = ' ';
        }
        uint32_t stage1[3];
        int n1 = 0;
        if (t->handle_chinese_chars && bert_is_chinese_char(c)) {
            stage1[n1++] = ' ';
            stage1[n1++] = c;
            stage1[n1++] = ' ';
        } else {
            stage1[n1++] = c;
        }
        for (int j = 0; j < n1; j++) {
            uint32_t stage2[32];
            int n2 = 1;
            stage2[0] = stage1[j];
            if (strip) n2 = bert_nfd_strip_marks(stage1[j], stage2);
            if (!reserve(w, (size_t)n + (size_t)n2 * 2 + 1)) return 0;
            for (int k = 0; k < n2; k++) {
                uint32_t lower[2];
                int n3 = 1;
                lower[0] = stage2[k];
                if (t->lowercase) n3 = bert_lowercase(stage2[k], lower);
                for (int m = 0; m < n3; m++) {
                    w->norm[n] = lower[m];
                    w->align[n] = i;
                    n++;
                }
            }
        }
    }
    *n_out = n;
    return 1;
}
