/* encode.c — text to token ids, as Hugging Face's Rust tokenizer does it.
 *
 * The pipeline for one text (tokenizers: AddedVocabulary, BertNormalizer,
 * BertPreTokenizer, WordPiece, TemplateProcessing, truncation, padding):
 *   1. decode UTF-8 to code points (strictly; errors give the byte);
 *   2. cut out the added tokens matched in the raw text ([CLS], [MASK],
 *      ... and those with normalized = false), leftmost-longest, so
 *      "[MASK]" is never split (added.c has the matching rules);
 *   3. normalize each remaining piece character by character (clean-up,
 *      spaces around CJK, NFD minus marks, lowercase), remembering for each
 *      normalized character the original character it came from, and cut
 *      out the added tokens with normalized = true matched there;
 *   4. split on whitespace (dropped) and punctuation (kept alone): words;
 *   5. WordPiece each word, greedy longest match first;
 *   6. truncate (into overflowing windows with a stride), add [CLS]/[SEP]
 *      and token types, pad.
 * Offsets are code-point indices into the original text of each sequence. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

/* Tokens of one sequence (or one window of it). */
typedef struct {
    int n, cap;
    int32_t *ids, *words, *start, *end;
} seq_tokens;

static int seq_push(seq_tokens *s, int id, int word, int start, int end) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        int32_t *a = realloc(s->ids, (size_t)cap * 4), *b = NULL, *c = NULL, *d = NULL;
        if (a) s->ids = a;
        if (a && (b = realloc(s->words, (size_t)cap * 4))) s->words = b;
        if (b && (c = realloc(s->start, (size_t)cap * 4))) s->start = c;
        if (c && (d = realloc(s->end, (size_t)cap * 4))) s->end = d;
        if (!d) return 0;
        s->cap = cap;
    }
    s->ids[s->n] = id;
    s->words[s->n] = word;
    s->start[s->n] = start;
    s->end[s->n] = end;
    s->n++;
    return 1;
}

static void seq_free(seq_tokens *s) {
    free(s->ids);
    free(s->words);
    free(s->start);
    free(s->end);
    memset(s, 0, sizeof *s);
}

/* Scratch space of one encode call. */
typedef bert_tok_scratch scratch;

static int reserve_word(scratch *w, size_t chars) {
    if (chars <= w->wcap) return 1;
    size_t cap = chars * 2;
    char *a = realloc(w->utf8, cap * 4 + 1);
    if (!a) return 0;
    w->utf8 = a;
    int32_t *b = realloc(w->cbyte, (cap + 1) * sizeof *b);
    if (!b) return 0;
    w->cbyte = b;
    w->wcap = cap;
    return 1;
}

/* WordPiece of normalized characters [s, e): pushes tokens with word id. */
static int wordpiece(const bert_tokenizer *t, scratch *w, int s, int e, int word, seq_tokens *out) {
    int len = e - s;
    int ostart = w->align[s], oend = w->align[e - 1] + 1;
    if (len > t->max_input_chars_per_word) return seq_push(out, t->unk_id, word, ostart, oend);
    if (!reserve_word(w, (size_t)len)) return 0;
    int nb = 0;
    for (int i = 0; i < len; i++) {
        w->cbyte[i] = nb;
        nb += bert_utf8_encode(w->norm[s + i], w->utf8 + nb);
    }
    w->cbyte[len] = nb;
    int first = out->n, start = 0;
    while (start < len) {
        int end = len, id = -1;
        size_t plen = start > 0 ? t->prefix_len : 0;
        /* No token is longer than the longest vocabulary entry. */
        while (end > start && plen + (size_t)(w->cbyte[end] - w->cbyte[start]) > t->vocab.max_len) end--;
        for (; end > start; end--) {
            id = bert_vocab_find(&t->vocab, start > 0 ? t->prefix : NULL, plen, w->utf8 + w->cbyte[start],
                                 (size_t)(w->cbyte[end] - w->cbyte[start]));
            if (id >= 0 && id < t->n_added_only && t->added_only[id]) id = -1; /* not WordPiece's */
            if (id >= 0) break;
        }
        if (id < 0) { /* no piece fits here: the whole word is unknown */
            out->n = first;
            return seq_push(out, t->unk_id, word, ostart, oend);
        }
        if (!seq_push(out, id, word, w->align[s + start], w->align[s + end - 1] + 1)) return 0;
        start = end;
    }
    return 1;
}

/* Pre-tokenize and WordPiece normalized characters [a, b) of w->norm. */
static int encode_range(const bert_tokenizer *t, scratch *w, int a, int b, int *word, seq_tokens *out) {
    int ws = -1; /* start of the current word, -1 = none */
    for (int i = a; i <= b; i++) {
        int end_word = i == b || bert_is_whitespace(w->norm[i]);
        int punct = !end_word && bert_is_punctuation(w->norm[i]);
        if ((end_word || punct) && ws >= 0) {
            if (!wordpiece(t, w, ws, i, (*word)++, out)) return 0;
            ws = -1;
        }
        if (punct) {
            if (!wordpiece(t, w, i, i + 1, (*word)++, out)) return 0;
        } else if (!end_word && ws < 0) {
            ws = i;
        }
    }
    return 1;
}

/* What walk_text reports: an added token (original code points [s, e)),
 * or a stretch [s, e) of normalized text in w->norm that holds none. */
typedef int (*on_token_fn)(void *ctx, const bert_added_token *a, int s, int e);
typedef int (*on_text_fn)(void *ctx, scratch *w, int s, int e);

/* The normalized stretch [a, b) of the original text: its added tokens
 * (normalized = true) and the text between them. */
static int walk_piece(const bert_tokenizer *t, const uint32_t *cps, int a, int b, scratch *w, on_token_fn tok_fn,
                      on_text_fn text_fn, void *ctx) {
    int n;
    if (!bert_normalize_range(t, cps, a, b, w, &n)) return 0;
    int scan = 0, prev = 0;
    bert_added_match m;
    while (bert_added_next(t, w->norm, n, 1, &scan, prev, &m)) {
        if (prev < m.start && !text_fn(ctx, w, prev, m.start)) return 0;
        if (!tok_fn(ctx, m.tok, w->align[m.start], w->align[m.end - 1] + 1)) return 0;
        prev = m.end;
    }
    return prev < n ? text_fn(ctx, w, prev, n) : 1;
}

/* A text's added tokens and the normalized text between them, in order:
 * first the tokens matched in the raw text, then in each stretch between
 * them (normalized) the tokens matched in normalized text. */
static int walk_text(const bert_tokenizer *t, const uint32_t *cps, int n, scratch *w, on_token_fn tok_fn,
                     on_text_fn text_fn, void *ctx) {
    int scan = 0, prev = 0;
    bert_added_match m;
    while (bert_added_next(t, cps, n, 0, &scan, prev, &m)) {
        if (prev < m.start && !walk_piece(t, cps, prev, m.start, w, tok_fn, text_fn, ctx)) return 0;
        if (!tok_fn(ctx, m.tok, m.start, m.end)) return 0;
        prev = m.end;
    }
    return prev < n ? walk_piece(t, cps, prev, n, w, tok_fn, text_fn, ctx) : 1;
}

/* encode_text's state for walk_text. */
typedef struct {
    const bert_tokenizer *t;
    int word;
    seq_tokens *out;
} encode_state;

/* An added token of the text: one token of its own. */
static int encode_token(void *ctx, const bert_added_token *a, int s, int e) {
    encode_state *st = ctx;
    return seq_push(st->out, a->id, st->word++, s, e);
}

/* Text between added tokens: pre-tokenized and WordPiece'd. */
static int encode_stretch(void *ctx, scratch *w, int s, int e) {
    encode_state *st = ctx;
    return encode_range(st->t, w, s, e, &st->word, st->out);
}

/* Text to code points (*cps malloc'd); invalid UTF-8 is an input error naming the byte. */
static bert_status decode_text(const char *text, size_t len, const char *which, uint32_t **cps, long *n, bert_error *err) {
    if (!(*cps = malloc((len + 1) * sizeof **cps))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    size_t bad = 0;
    if ((*n = bert_utf8_decode(text, len, *cps, &bad)) >= 0) return BERT_OK;
    free(*cps), *cps = NULL;
    return bert_fail(err, BERT_ERR_INPUT, "invalid UTF-8 at byte %zu of the %s", bad, which);
}

/* Text (UTF-8) to the tokens of one sequence. */
static bert_status encode_text(const bert_tokenizer *t, const char *text, size_t len, const char *which, scratch *w,
                               seq_tokens *out, bert_error *err) {
    uint32_t *cps = NULL;
    long n = 0;
    bert_status rc = decode_text(text, len, which, &cps, &n, err);
    if (rc != BERT_OK) return rc;
    encode_state st = {t, 0, out};
    int ok = walk_text(t, cps, (int)n, w, encode_token, encode_stretch, &st);
    free(cps);
    return ok ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
}

/* bert_pretokenize's state for walk_text. */
typedef struct {
    int (*fn)(void *ctx, const char *word, int n);
    void *ctx;
} pretok_state;

/* Added tokens are no words for the vocabulary trainer. */
static int pretok_token(void *ctx, const bert_added_token *a, int s, int e) {
    (void)ctx, (void)a, (void)s, (void)e;
    return 1;
}

/* The words of normalized text [s, e) to the caller's fn, as UTF-8. */
static int pretok_stretch(void *ctx, scratch *w, int s, int e) {
    pretok_state *st = ctx;
    if (!reserve_word(w, (size_t)(e - s))) return 0;
    for (int k = s, ws = -1; k <= e; k++) {
        int end_word = k == e || bert_is_whitespace(w->norm[k]), punct = !end_word && bert_is_punctuation(w->norm[k]);
        if ((end_word || punct) && ws >= 0) {
            int nb = 0;
            for (int c = ws; c < k; c++) nb += bert_utf8_encode(w->norm[c], w->utf8 + nb);
            if (!st->fn(st->ctx, w->utf8, nb)) return 0;
            ws = -1;
        }
        if (punct) {
            int nb = bert_utf8_encode(w->norm[k], w->utf8);
            if (!st->fn(st->ctx, w->utf8, nb)) return 0;
        } else if (!end_word && ws < 0) {
            ws = k;
        }
    }
    return 1;
}

/* The BERT pre-tokenizer alone: normalized words of text, UTF-8, to fn (for
 * vocabulary training). Added tokens in the text separate words and are
 * not reported. */
bert_status bert_pretokenize(const bert_tokenizer *t, const char *text, size_t len,
                             int (*fn)(void *ctx, const char *word, int n), void *ctx, bert_error *err) {
    uint32_t *cps = NULL;
    long n = 0;
    bert_status rc = decode_text(text, len, "text", &cps, &n, err);
    if (rc != BERT_OK) return rc;
    scratch w = {0};
    pretok_state st = {fn, ctx};
    int ok = walk_text(t, cps, (int)n, &w, pretok_token, pretok_stretch, &st);
    free(cps);
    bert_tok_scratch_free(&w);
    return ok ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
}

/* A window [from, to) of a sequence's tokens. */
typedef struct {
    int from, to;
} window;

/* Encoding::truncate: split n tokens into windows of max_len advancing by
 * max_len - stride; windows[0] is the kept part. Returns the count. */
static int make_windows(int n, int max_len, int stride, int left, window *win) {
    if (max_len >= n) {
        win[0] = (window){0, n};
        return 1;
    }
    if (max_len == 0) { /* everything overflows */
        win[0] = (window){0, 0};
        win[1] = (window){0, n};
        return 2;
    }
    int step = max_len - stride, k = 0;
    if (!left) {
        for (int start = 0; start < n; start += step) {
            int stop = start + max_len < n ? start + max_len : n;
            win[k++] = (window){start, stop};
            if (stop == n) break;
        }
    } else {
        for (int stop1 = n - 1; stop1 >= 0; stop1 -= step) {
            int stop = stop1 + 1, start = stop > max_len ? stop - max_len : 0;
            win[k++] = (window){start, stop};
            if (start == 0) break;
        }
    }
    return k;
}

/* truncate_encodings(): the kept length of each sequence. */
static bert_status truncation_lengths(const bert_encode_params *p, int n1, int n2, int has_pair, int max_len,
                                      int *l1, int *l2, bert_error *err) {
    *l1 = n1;
    *l2 = n2;
    int total = n1 + n2;
    if (total <= max_len) return BERT_OK;
    int remove = total - max_len;
    switch (p->truncation) {
    case BERT_TRUNCATE_LONGEST_FIRST:
        if (!has_pair) {
            *l1 = max_len;
        } else {
            int a = n1, b = n2, swap = a > b;
            if (swap) a = n2, b = n1;
            b = a > max_len ? a : (a > max_len - a ? a : max_len - a);
            if (a + b > max_len) {
                a = max_len / 2;
                b = a + max_len % 2;
            }
            *l1 = swap ? b : a;
            *l2 = swap ? a : b;
        }
        return BERT_OK;
    case BERT_TRUNCATE_ONLY_FIRST:
    case BERT_TRUNCATE_ONLY_SECOND: {
        int first = p->truncation == BERT_TRUNCATE_ONLY_FIRST;
        if (!first && !has_pair)
            return bert_fail(err, BERT_ERR_INPUT, "truncation only_second needs a second text");
        int len = first ? n1 : n2;
        if (len <= remove)
            return bert_fail(err, BERT_ERR_INPUT,
                             "the %s text is too short to truncate to max_length %d (%d tokens must go, it has %d)",
                             first ? "first" : "second", p->max_length, remove, len);
        *(first ? l1 : l2) = len - remove;
        return BERT_OK;
    }
    default:
        return BERT_OK;
    }
}

/* Emit one encoding: [CLS] a-window [SEP] (b-window [SEP]). */
static bert_status emit(const bert_tokenizer *t, const bert_encode_params *p, const seq_tokens *a, window wa,
                        const seq_tokens *b, const window *wb, bert_encoding *e, bert_error *err) {
    int specials = p->add_special_tokens ? (b ? 3 : 2) : 0;
    int n = (wa.to - wa.from) + (b ? wb->to - wb->from : 0) + specials;
    memset(e, 0, sizeof *e);
    int cap = n > 0 ? n : 1;
    e->input_ids = malloc((size_t)cap * 4);
    e->token_type_ids = malloc((size_t)cap * 4);
    e->attention_mask = malloc((size_t)cap * 4);
    e->special_tokens_mask = malloc((size_t)cap * 4);
    e->word_ids = malloc((size_t)cap * 4);
    e->sequence_ids = malloc((size_t)cap * 4);
    e->offsets = malloc((size_t)cap * 8);
    e->tokens = malloc((size_t)cap * sizeof *e->tokens);
    if (!e->input_ids || !e->token_type_ids || !e->attention_mask || !e->special_tokens_mask || !e->word_ids ||
        !e->sequence_ids || !e->offsets || !e->tokens)
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    int k = 0;
#define PUT(id_, type_, special_, word_, seq_, s_, e_)                                                    \
    do {                                                                                                  \
        e->input_ids[k] = (id_), e->token_type_ids[k] = (type_), e->attention_mask[k] = 1;               \
        e->special_tokens_mask[k] = (special_), e->word_ids[k] = (word_), e->sequence_ids[k] = (seq_);   \
        e->offsets[2 * k] = (s_), e->offsets[2 * k + 1] = (e_), e->tokens[k] = t->vocab.tokens[id_];     \
        k++;                                                                                              \
    } while (0)
    int cls = t->special_id[BERT_SPECIAL_CLS], sep = t->special_id[BERT_SPECIAL_SEP];
    if (p->add_special_tokens) PUT(cls, 0, 1, -1, -1, 0, 0);
    for (int i = wa.from; i < wa.to; i++) PUT(a->ids[i], 0, 0, a->words[i], 0, a->start[i], a->end[i]);
    if (p->add_special_tokens) PUT(sep, 0, 1, -1, -1, 0, 0);
    if (b) {
        for (int i = wb->from; i < wb->to; i++) PUT(b->ids[i], 1, 0, b->words[i], 1, b->start[i], b->end[i]);
        if (p->add_special_tokens) PUT(sep, 1, 1, -1, -1, 0, 0);
    }
#undef PUT
    e->n_tokens = k;
    return BERT_OK;
}

bert_encode_params bert_encode_default_params(void) {
    bert_encode_params p;
    memset(&p, 0, sizeof p);
    p.add_special_tokens = 1;
    return p;
}

void bert_encodings_free(bert_encodings *es) {
    if (!es) return;
    for (int i = 0; i < es->n; i++) {
        bert_encoding *e = &es->encodings[i];
        free(e->input_ids);
        free(e->token_type_ids);
        free(e->attention_mask);
        free(e->special_tokens_mask);
        free(e->word_ids);
        free(e->sequence_ids);
        free(e->offsets);
        free(e->tokens);
    }
    free(es->encodings);
    es->n = 0;
    es->encodings = NULL;
}

/* Pad e to `target` tokens (nothing when it is already as long); a target
 * above BERT_MAX_PADDED_LENGTH is BERT_ERR_INPUT. */
static bert_status pad_one(const bert_tokenizer *t, bert_encoding *e, int target, int left, bert_error *err) {
    if (target > BERT_MAX_PADDED_LENGTH)
        return bert_fail(err, BERT_ERR_INPUT, "padding to %d tokens: at most %d (BERT_MAX_PADDED_LENGTH)", target,
                         BERT_MAX_PADDED_LENGTH);
    if (e->n_tokens >= target) return BERT_OK;
    int n = e->n_tokens, add = target - n;
    int32_t **arrays[] = {&e->input_ids, &e->token_type_ids, &e->attention_mask, &e->special_tokens_mask,
                          &e->word_ids, &e->sequence_ids};
    int32_t fill[] = {t->special_id[BERT_SPECIAL_PAD], 0, 0, 1, -1, -1};
    for (int i = 0; i < 6; i++) {
        int32_t *a = realloc(*arrays[i], (size_t)target * 4);
        if (!a) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        if (left) memmove(a + add, a, (size_t)n * 4);
        for (int j = 0; j < add; j++) a[left ? j : n + j] = fill[i];
        *arrays[i] = a;
    }
    int32_t *o = realloc(e->offsets, (size_t)target * 8);
    const char **tk = realloc(e->tokens, (size_t)target * sizeof *tk);
    if (o) e->offsets = o;
    if (tk) e->tokens = tk;
    if (!o || !tk) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (left) {
        memmove(o + 2 * add, o, (size_t)n * 8);
        memmove(tk + add, tk, (size_t)n * sizeof *tk);
    }
    const char *pad = t->vocab.tokens[t->special_id[BERT_SPECIAL_PAD]];
    for (int j = 0; j < add; j++) {
        int at = left ? j : n + j;
        o[2 * at] = o[2 * at + 1] = 0;
        tk[at] = pad;
    }
    e->n_tokens = target;
    return BERT_OK;
}

/* Encode one input without padding. */
static bert_status encode_one(const bert_tokenizer *t, const char *text, size_t len, const char *pair, size_t plen,
                              const bert_encode_params *p, scratch *w, bert_encodings *out, bert_error *err) {
    seq_tokens a = {0}, b = {0};
    window *wa = NULL, *wb = NULL;
    bert_status rc = encode_text(t, text, len, "text", w, &a, err);
    if (rc == BERT_OK && pair) rc = encode_text(t, pair, plen, "second text", w, &b, err);
    int na = 1, nb = 1, l1 = a.n, l2 = b.n;
    if (rc == BERT_OK && p->truncation != BERT_TRUNCATE_NONE && p->max_length > 0) {
        int specials = p->add_special_tokens ? (pair ? 3 : 2) : 0;
        int max_len = p->max_length - specials;
        if (max_len < 0)
            rc = bert_fail(err, BERT_ERR_INPUT, "max_length %d leaves no room for the %d special tokens", p->max_length,
                           specials);
        if (rc == BERT_OK) rc = truncation_lengths(p, a.n, b.n, pair != NULL, max_len, &l1, &l2, err);
        if (rc == BERT_OK && ((l1 < a.n && p->stride >= l1 && l1 > 0) || (l2 < b.n && p->stride >= l2 && l2 > 0)))
            rc = bert_fail(err, BERT_ERR_INPUT, "stride %d must be less than the truncated length (%d)", p->stride,
                           l1 < a.n ? l1 : l2);
    }
    if (rc == BERT_OK) {
        wa = malloc(((size_t)a.n + 2) * sizeof *wa);
        wb = malloc(((size_t)b.n + 2) * sizeof *wb);
        if (!wa || !wb) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    if (rc == BERT_OK) {
        na = make_windows(a.n, l1, p->stride, p->truncate_left, wa);
        nb = make_windows(b.n, l2, p->stride, p->truncate_left, wb);
        if (!p->return_overflowing) na = nb = 1;
        /* Hugging Face's order: A0B0, then for each Ai (i > 0) AiB0 and
         * AiBj (j > 0), then A0Bj (j > 0). */
        int total = pair ? na * nb : na;
        out->encodings = calloc((size_t)total, sizeof *out->encodings);
        out->n = 0;
        if (!out->encodings) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        for (int i = 0; i < na && rc == BERT_OK; i++) {
            for (int j = 0; j < (pair ? nb : 1) && rc == BERT_OK; j++) {
                if (i == 0 && j > 0) continue;
                rc = emit(t, p, &a, wa[i], pair ? &b : NULL, pair ? &wb[j] : NULL, &out->encodings[out->n++], err);
            }
        }
        for (int j = 1; pair && j < nb && rc == BERT_OK; j++)
            rc = emit(t, p, &a, wa[0], &b, &wb[j], &out->encodings[out->n++], err);
    }
    free(wa);
    free(wb);
    seq_free(&a);
    seq_free(&b);
    if (rc != BERT_OK) bert_encodings_free(out);
    return rc;
}

static int pad_target(const bert_encode_params *p, const bert_tokenizer *t, const bert_encodings *outs, int n) {
    int target = 0;
    if (p->padding == BERT_PAD_MAX_LENGTH) {
        target = p->max_length > 0 ? p->max_length : t->model_max_length;
    } else {
        for (int i = 0; i < n; i++)
            if (outs[i].n && outs[i].encodings[0].n_tokens > target) target = outs[i].encodings[0].n_tokens;
    }
    if (p->pad_to_multiple_of > 0 && target % p->pad_to_multiple_of)
        target += p->pad_to_multiple_of - target % p->pad_to_multiple_of;
    return target;
}

bert_status bert_tokenize_batch(const bert_tokenizer *t, const char *const *texts, const char *const *pairs, int n,
                                const bert_encode_params *params, bert_encodings *out, bert_error *err) {
    bert_error_clear(err);
    bert_encode_params p = params ? *params : bert_encode_default_params();
    if (p.max_length < 0 || p.stride < 0 || p.pad_to_multiple_of < 0)
        return bert_fail(err, BERT_ERR_INPUT, "max_length, stride and pad_to_multiple_of must not be negative");
    if (p.padding == BERT_PAD_MAX_LENGTH && p.max_length <= 0 && t->model_max_length <= 0)
        return bert_fail(err, BERT_ERR_INPUT, "padding to max_length needs max_length (the tokenizer sets none)");
    if (p.padding != BERT_PAD_NONE && t->special_id[BERT_SPECIAL_PAD] < 0)
        return bert_fail(err, BERT_ERR_INPUT, "padding needs '%s' in the vocabulary", t->special_text[BERT_SPECIAL_PAD]);
    memset(out, 0, (size_t)(n > 0 ? n : 0) * sizeof *out);
    scratch w = {0};
    bert_status rc = BERT_OK;
    for (int i = 0; i < n && rc == BERT_OK; i++) {
        const char *pair = pairs ? pairs[i] : NULL;
        if (!texts[i]) rc = bert_fail(err, BERT_ERR_INPUT, "text %d is NULL", i);
        else rc = encode_one(t, texts[i], strlen(texts[i]), pair, pair ? strlen(pair) : 0, &p, &w, &out[i], err);
        if (rc != BERT_OK && err) err->item = i;
    }
    if (rc == BERT_OK && p.padding != BERT_PAD_NONE) {
        int target = pad_target(&p, t, out, n);
        for (int i = 0; i < n && rc == BERT_OK; i++)
            for (int k = 0; k < out[i].n && rc == BERT_OK; k++)
                rc = pad_one(t, &out[i].encodings[k], target, p.pad_left, err);
    }
    if (rc != BERT_OK)
        for (int i = 0; i < n; i++) bert_encodings_free(&out[i]);
    bert_tok_scratch_free(&w);
    return rc;
}

bert_status bert_tokenize(const bert_tokenizer *t, const char *text, long text_len, const char *pair, long pair_len,
                          const bert_encode_params *params, bert_encodings *out, bert_error *err) {
    bert_error_clear(err);
    memset(out, 0, sizeof *out);
    if (!t || !text) return bert_fail(err, BERT_ERR_INPUT, "bert_tokenize: tokenizer or text is NULL");
    bert_encode_params p = params ? *params : bert_encode_default_params();
    if (p.padding == BERT_PAD_MAX_LENGTH && p.max_length <= 0 && t->model_max_length <= 0)
        return bert_fail(err, BERT_ERR_INPUT, "padding to max_length needs max_length (the tokenizer sets none)");
    if (p.padding != BERT_PAD_NONE && t->special_id[BERT_SPECIAL_PAD] < 0)
        return bert_fail(err, BERT_ERR_INPUT, "padding needs '%s' in the vocabulary", t->special_text[BERT_SPECIAL_PAD]);
    scratch w = {0};
    size_t len = text_len < 0 ? strlen(text) : (size_t)text_len;
    size_t plen = pair ? (pair_len < 0 ? strlen(pair) : (size_t)pair_len) : 0;
    bert_status rc = encode_one(t, text, len, pair, plen, &p, &w, out, err);
    if (rc == BERT_OK && p.padding != BERT_PAD_NONE) {
        int target = pad_target(&p, t, out, 1);
        for (int k = 0; k < out->n && rc == BERT_OK; k++) rc = pad_one(t, &out->encodings[k], target, p.pad_left, err);
        if (rc != BERT_OK) bert_encodings_free(out);
    }
    bert_tok_scratch_free(&w);
    return rc;
}
