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

/* The child of trie node `node` labelled c, or -1. */
static int child(const bert_added_trie *tr, int node, uint32_t c) {
    int lo = tr->first[node], hi = lo + tr->count[node];
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (tr->cp[mid] < c) lo = mid + 1;
        else hi = mid;
    }
    return lo < tr->first[node] + tr->count[node] && tr->cp[lo] == c ? lo : -1;
}

/* The longest pattern of the trie that matches s at i, or NULL. */
static const bert_added_token *longest_at(const bert_tokenizer *t, const bert_added_trie *tr, const uint32_t *s, int n,
                                          int i) {
    const bert_added_token *best = NULL;
    for (int node = 0, k = i; k < n; k++) {
        if ((node = child(tr, node, s[k])) < 0) break;
        if (tr->token[node] >= 0) best = &t->added[tr->token[node]];
    }
    return best;
}

int bert_added_next(const bert_tokenizer *t, const uint32_t *s, int n, int normalized, int *scan, int prev_end,
                    bert_added_match *m) {
    const bert_added_trie *tr = &t->trie[normalized != 0];
    if (tr->n <= 1) return 0;
    for (int i = *scan; i < n;) {
        const bert_added_token *a = longest_at(t, tr, s, n, i);
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

/* Lexicographic order of two added tokens' patterns, then their index. */
static int cmp_pat(const void *x, const void *y, const bert_tokenizer *t) {
    int i = *(const int *)x, j = *(const int *)y;
    const bert_added_token *a = &t->added[i], *b = &t->added[j];
    for (int k = 0; k < a->n_pat && k < b->n_pat; k++)
        if (a->pat[k] != b->pat[k]) return a->pat[k] < b->pat[k] ? -1 : 1;
    if (a->n_pat != b->n_pat) return a->n_pat < b->n_pat ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Merge sort of idx[0..n) by cmp_pat (qsort has no context argument). */
static void sort_pats(int *idx, int *tmp, int n, const bert_tokenizer *t) {
    if (n < 2) return;
    int h = n / 2;
    sort_pats(idx, tmp, h, t);
    sort_pats(idx + h, tmp, n - h, t);
    int i = 0, j = h, k = 0;
    while (i < h || j < n) tmp[k++] = j >= n || (i < h && cmp_pat(&idx[i], &idx[j], t) <= 0) ? idx[i++] : idx[j++];
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

/* Release a trie and empty it. */
static void trie_free(bert_added_trie *tr) {
    free(tr->cp), free(tr->first), free(tr->count), free(tr->token);
    memset(tr, 0, sizeof *tr);
}

/* A range of sorted patterns that share their first `depth` code points,
 * waiting to become node `node`'s subtree. */
typedef struct {
    int node, lo, hi, depth;
} pending;

/* The trie of the tokens with normalized == `normalized`: breadth first,
 * so that each node's children are contiguous. */
static bert_status build_trie(bert_tokenizer *t, int normalized, bert_added_trie *tr, bert_error *err) {
    size_t total = 1;
    int n = 0;
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].normalized == normalized) total += (size_t)t->added[i].n_pat, n++;
    int *idx = malloc(((size_t)n + 1) * sizeof *idx), *tmp = malloc(((size_t)n + 1) * sizeof *tmp);
    pending *q = malloc(total * sizeof *q);
    tr->cp = malloc(total * sizeof *tr->cp);
    tr->first = malloc(total * sizeof *tr->first);
    tr->count = malloc(total * sizeof *tr->count);
    tr->token = malloc(total * sizeof *tr->token);
    bert_status rc = BERT_OK;
    if (!idx || !tmp || !q || !tr->cp || !tr->first || !tr->count || !tr->token) {
        rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        goto done;
    }
    n = 0;
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].normalized == normalized) idx[n++] = i;
    sort_pats(idx, tmp, n, t);
    tr->n = 1;
    tr->cp[0] = 0;
    int head = 0, tail = 0;
    q[tail++] = (pending){0, 0, n, 0};
    while (head < tail) {
        pending p = q[head++];
        int lo = p.lo;
        tr->token[p.node] = -1;
        /* The pattern that ends here sorts first (the earliest one wins). */
        if (lo < p.hi && t->added[idx[lo]].n_pat == p.depth) tr->token[p.node] = idx[lo];
        while (lo < p.hi && t->added[idx[lo]].n_pat == p.depth) lo++;
        tr->first[p.node] = tr->n;
        tr->count[p.node] = 0;
        while (lo < p.hi) {
            uint32_t c = t->added[idx[lo]].pat[p.depth];
            int hi = lo;
            while (hi < p.hi && t->added[idx[hi]].pat[p.depth] == c) hi++;
            int node = tr->n++;
            tr->cp[node] = c;
            tr->count[p.node]++;
            q[tail++] = (pending){node, lo, hi, p.depth + 1};
            lo = hi;
        }
    }
done:
    free(idx), free(tmp), free(q);
    return rc;
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
    trie_free(&t->trie[0]), trie_free(&t->trie[1]), free(t->added_only);
    t->added_only = NULL;
    if (rc == BERT_OK) rc = build_trie(t, 0, &t->trie[0], err);
    if (rc == BERT_OK) rc = build_trie(t, 1, &t->trie[1], err);
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
    trie_free(&t->trie[0]);
    trie_free(&t->trie[1]);
    free(t->added_only);
    free(t->added_ids);
    t->added_ids = NULL;
    t->n_added_ids = t->cap_added = 0;
    t->added = NULL;
    t->added_only = NULL;
    t->n_added = t->n_added_only = 0;
}
