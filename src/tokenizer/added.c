/* added.c — matching added tokens in text, as Hugging Face tokenizers'
 * AddedVocabulary does (tokenizers/src/tokenizer/added_vocabulary.rs).
 *
 * Two passes over a text: tokens with normalized = false are found in the
 * raw text; each stretch between them is normalized, and tokens with
 * normalized = true are found there, against their content normalized the
 * same way. Within a pass, candidates come leftmost-longest and never
 * overlap (an Aho-Corasick iterator); a candidate that fails single_word
 * is dropped and the scan goes on after it. lstrip / rstrip widen an
 * accepted match over the whitespace (regex \s) on that side; lstrip
 * never reaches back into the previous match. single_word needs no word
 * character (regex \w) right before the match and right after it, within
 * the text the pass looks at. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

/* Rust regex's Unicode \w: Alphabetic, marks, decimal digits, connector
 * punctuation, joiners. Alphabetic is letters, letter numbers and
 * Other_Alphabetic, whose code points outside the mark categories are the
 * circled and squared Latin letters. */
static int is_word_char(uint32_t c) {
    if (c == 0x200C || c == 0x200D) return 1;
    if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
        (c >= 0x1F170 && c <= 0x1F189))
        return 1;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
        return 1;
    default:
        return 0;
    }
}

/* The first position of order[0..n) whose token's pattern starts with c
 * (order is sorted by that first code point), or n. */
static int first_with(const bert_tokenizer *t, const int *order, int n, uint32_t c) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (t->added[order[mid]].pat[0] < c) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The longest token of the pass that matches s at i, or NULL. */
static const bert_added_token *longest_at(const bert_tokenizer *t, const int *order, int n_order, const uint32_t *s,
                                          int n, int i) {
    const bert_added_token *best = NULL;
    for (int k = first_with(t, order, n_order, s[i]); k < n_order; k++) {
        const bert_added_token *a = &t->added[order[k]];
        if (a->pat[0] != s[i]) break;
        if (a->n_pat > n - i || (best && a->n_pat <= best->n_pat)) continue;
        if (memcmp(a->pat, s + i, (size_t)a->n_pat * sizeof *s) == 0) best = a;
    }
    return best;
}

int bert_added_next(const bert_tokenizer *t, const uint32_t *s, int n, int normalized, int *scan, int prev_end,
                    bert_added_match *m) {
    const int *order = normalized ? t->norm_order : t->raw_order;
    int n_order = normalized ? t->n_norm : t->n_raw;
    if (n_order == 0) return 0;
    for (int i = *scan; i < n;) {
        const bert_added_token *a = longest_at(t, order, n_order, s, n, i);
        if (!a) {
            i++;
            continue;
        }
        int start = i, end = i + a->n_pat;
        i = end;
        *scan = end;
        if (a->single_word && ((start > 0 && is_word_char(s[start - 1])) || (end < n && is_word_char(s[end]))))
            continue;
        if (a->lstrip) {
            while (start > 0 && bert_is_whitespace(s[start - 1])) start--;
            if (start < prev_end) start = prev_end;
        }
        if (a->rstrip)
            while (end < n && bert_is_whitespace(s[end])) end++;
        /* A match never starts inside the previous one (rstrip may have
         * taken in whitespace that a pattern starts with). */
        if (start < prev_end) start = prev_end;
        *m = (bert_added_match){start, end, a};
        return 1;
    }
    *scan = n;
    return 0;
}

typedef struct {
    uint32_t first;
    int idx;
} keyed;

static int cmp_keyed(const void *x, const void *y) {
    const keyed *a = x, *b = y;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* order[] of the tokens of one pass, sorted by first code point. */
static bert_status build_order(const bert_tokenizer *t, int normalized, int **order, int *n_order, bert_error *err) {
    keyed *k = malloc(((size_t)t->n_added + 1) * sizeof *k);
    *order = malloc(((size_t)t->n_added + 1) * sizeof **order);
    if (!k || !*order) {
        free(k);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    int n = 0;
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].normalized == normalized) k[n++] = (keyed){t->added[i].pat[0], i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    for (int i = 0; i < n; i++) (*order)[i] = k[i].idx;
    *n_order = n;
    free(k);
    return BERT_OK;
}

bert_status bert_added_prepare(bert_tokenizer *t, const char *path, bert_error *err) {
    bert_tok_scratch w = {0};
    bert_status rc = BERT_OK;
    for (int i = 0; i < t->n_added && rc == BERT_OK; i++) {
        bert_added_token *a = &t->added[i];
        if (a->pat && a->pat != a->cps) free(a->pat);
        a->pat = a->cps;
        a->n_pat = a->n_cps;
        if (!a->normalized) continue;
        int n = 0;
        if (!bert_normalize_range(t, a->cps, 0, a->n_cps, &w, &n)) {
            rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        } else if (n == 0) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: added token '%s' normalizes to nothing", path, a->content);
        } else if (!(a->pat = malloc((size_t)n * sizeof *a->pat))) {
            a->pat = a->cps;
            rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        } else {
            memcpy(a->pat, w.norm, (size_t)n * sizeof *a->pat);
            a->n_pat = n;
        }
    }
    bert_tok_scratch_free(&w);
    free(t->raw_order), free(t->norm_order), free(t->added_only);
    t->raw_order = t->norm_order = NULL;
    t->added_only = NULL;
    if (rc == BERT_OK) rc = build_order(t, 0, &t->raw_order, &t->n_raw, err);
    if (rc == BERT_OK) rc = build_order(t, 1, &t->norm_order, &t->n_norm, err);
    int max_id = -1;
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].outside_vocab && t->added[i].id > max_id) max_id = t->added[i].id;
    t->n_added_only = 0;
    if (rc == BERT_OK && max_id >= 0) {
        if (!(t->added_only = calloc((size_t)max_id + 1, 1))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        t->n_added_only = max_id + 1;
        for (int i = 0; i < t->n_added; i++)
            if (t->added[i].outside_vocab) t->added_only[t->added[i].id] = 1;
    }
    return rc;
}

void bert_added_free(bert_tokenizer *t) {
    for (int i = 0; i < t->n_added; i++) {
        if (t->added[i].pat != t->added[i].cps) free(t->added[i].pat);
        free(t->added[i].content);
        free(t->added[i].cps);
    }
    free(t->added);
    free(t->raw_order);
    free(t->norm_order);
    free(t->added_only);
    t->added = NULL;
    t->raw_order = t->norm_order = NULL;
    t->added_only = NULL;
    t->n_added = t->n_raw = t->n_norm = t->n_added_only = 0;
}
