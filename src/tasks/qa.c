/* qa.c — extractive question answering over contexts of any length.
 *
 * Windows and scoring follow transformers pipelines/question_answering.py
 * (fast tokenizer path): the pair (question, context) truncated
 * only_second to max_seq_len with doc_stride tokens shared between
 * windows; per window, start and end probabilities are softmaxes over the
 * context tokens and [CLS]; a span (s, e) with s <= e < s + max_answer_len
 * scores p_start(s) p_end(e); the answer is widened to the whole words
 * its first and last tokens belong to. One rule comes from Google's
 * run_squad.py instead, because a token near a window's edge sees little
 * context: a start token is scored only in the window where
 * min(left context, right context) + 0.01 x window length is largest. */
#include <stdlib.h>
#include <string.h>

#include "tasks/finite.h"
#include "tasks/pipeline.h"
#include "util/error.h"

bert_qa_params bert_qa_default_params(void) {
    bert_qa_params p = {.max_seq_len = 384, .doc_stride = 128, .max_question_len = 64, .max_answer_len = 15,
                        .top_k = 1, .handle_impossible = 0};
    return p;
}

void bert_answers_free(bert_answer *a, int n) {
    for (int i = 0; a && i < n; i++) free(a[i].answer);
    free(a);
}

typedef struct {
    double score;
    int start, end, order;
} cand;

static int by_score(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->order - y->order; /* stable: first found first */
}

static int is_context(const bert_encoding *e, int i) { return e->token_type_ids[i] == 1 && !e->special_tokens_mask[i]; }

/* Characters of word `word` among this window's context tokens. */
static void word_span(const bert_encoding *e, int word, int *cs, int *ce) {
    *cs = -1;
    *ce = -1;
    for (int i = 0; i < e->n_tokens; i++) {
        if (!is_context(e, i) || e->word_ids[i] != word) continue;
        if (*cs < 0 || e->offsets[2 * i] < *cs) *cs = e->offsets[2 * i];
        if (e->offsets[2 * i + 1] > *ce) *ce = e->offsets[2 * i + 1];
    }
}

/* Windows per forward pass. */
#define QA_CHUNK 32

/* The spans of window k (QA logits lg) whose start token has its maximum
 * context in this window, appended to *cands (n used of cap); the window's
 * null score p_start([CLS]) p_end([CLS]) lowers *min_null. ps and pe hold
 * the window's length. */
static bert_status window_candidates(const bert_encoding *e, int k, const float *lg, const int *best_win,
                                     int max_answer_len, double *ps, double *pe, cand **cands, int *n, int *cap,
                                     double *min_null, bert_error *err) {
    int T = e->n_tokens;
    for (int i = 0; i < T; i++) {
        int allowed = i == 0 || is_context(e, i);
        ps[i] = allowed ? lg[2 * i] : -10000.0;
        pe[i] = allowed ? lg[2 * i + 1] : -10000.0;
    }
    task_softmax(ps, T);
    task_softmax(pe, T);
    if (ps[0] * pe[0] < *min_null) *min_null = ps[0] * pe[0];
    for (int s = 1; s < T; s++) {
        if (!is_context(e, s) || best_win[e->offsets[2 * s]] != k) continue;
        for (int en = s; en < T && en - s < max_answer_len; en++) {
            double sc = ps[s] * pe[en];
            if (!is_context(e, en) || !(sc > 0)) continue;
            if (*n == *cap) {
                cand *c2 = realloc(*cands, sizeof *c2 * (size_t)(*cap * 2));
                if (!c2) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
                *cands = c2, *cap *= 2;
            }
            int cs, ce, tmp;
            word_span(e, e->word_ids[s], &cs, &tmp);
            word_span(e, e->word_ids[en], &tmp, &ce);
            (*cands)[*n] = (cand){.score = sc, .start = cs, .end = ce, .order = *n};
            (*n)++;
        }
    }
    return BERT_OK;
}

bert_status bert_qa(bert_pipeline *p, const char *question, const char *context, const bert_qa_params *params,
                    bert_answer **answers, int *n_answers, bert_error *err) {
    bert_error_clear(err);
    *answers = NULL;
    *n_answers = 0;
    bert_qa_params q = params ? *params : bert_qa_default_params();
    if (!(bert_model_heads(p->model) & BERT_HEAD_QA))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this model has no question-answering head (qa_outputs)");
    if (!question || !*question || !context || !*context)
        return bert_fail(err, BERT_ERR_INPUT, "question and context must not be empty");
    if (q.max_answer_len < 1 || q.top_k < 1 || q.max_seq_len < 8 || q.doc_stride < 0)
        return bert_fail(err, BERT_ERR_INPUT, "max_answer_len and top_k must be >= 1, max_seq_len >= 8");
    int limit = bert_model_config(p->model)->max_position_embeddings;
    if (q.max_seq_len > limit) q.max_seq_len = limit;
    /* The pipeline's rule for its default stride, min(max_seq_len / 2, 128),
     * applied whenever the asked stride would not fit the window. */
    if (q.doc_stride > q.max_seq_len / 2) q.doc_stride = q.max_seq_len / 2;
    /* The question alone, to check its length. */
    bert_encode_params ep = bert_encode_default_params();
    ep.add_special_tokens = 0;
    bert_encodings qe;
    bert_status rc = bert_tokenize(p->tok, question, -1, NULL, 0, &ep, &qe, err);
    if (rc != BERT_OK) return rc;
    int qlen = qe.encodings[0].n_tokens;
    bert_encodings_free(&qe);
    if (qlen > q.max_question_len)
        return bert_fail(err, BERT_ERR_INPUT, "the question has %d tokens; at most max_question_len = %d", qlen,
                         q.max_question_len);
    if (qlen + 3 + q.doc_stride >= q.max_seq_len)
        return bert_fail(err, BERT_ERR_INPUT,
                         "the question (%d tokens) leaves no room for the context in windows of %d with stride %d", qlen,
                         q.max_seq_len, q.doc_stride);
    ep = bert_encode_default_params();
    ep.truncation = BERT_TRUNCATE_ONLY_SECOND;
    ep.max_length = q.max_seq_len;
    ep.stride = q.doc_stride;
    ep.return_overflowing = 1;
    bert_encodings w;
    if ((rc = bert_tokenize(p->tok, question, -1, context, -1, &ep, &w, err)) != BERT_OK) return rc;
    if (w.n > BERT_QA_MAX_WINDOWS) {
        rc = bert_fail(err, BERT_ERR_INPUT, "the context needs %d windows of %d tokens; at most %d (BERT_QA_MAX_WINDOWS)", w.n,
                       q.max_seq_len, BERT_QA_MAX_WINDOWS);
        bert_encodings_free(&w);
        return rc;
    }

    /* Max-context window of every context token, keyed by its first character. */
    int ctx_len = 0;
    for (int k = 0; k < w.n; k++)
        for (int i = 0; i < w.encodings[k].n_tokens; i++)
            if (w.encodings[k].offsets[2 * i + 1] > ctx_len) ctx_len = w.encodings[k].offsets[2 * i + 1];
    double *best = malloc(sizeof *best * (size_t)(ctx_len + 1));
    int *best_win = malloc(sizeof *best_win * (size_t)(ctx_len + 1));
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)w.n);
    int cap = 64, n = 0;
    cand *cands = malloc(sizeof *cands * (size_t)cap);
    double *ps = malloc(sizeof *ps * (size_t)q.max_seq_len), *pe = malloc(sizeof *pe * (size_t)q.max_seq_len);
    if (!best || !best_win || !seqs || !cands || !ps || !pe) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int c = 0; rc == BERT_OK && c <= ctx_len; c++) best[c] = -1, best_win[c] = -1;
    for (int k = 0; rc == BERT_OK && k < w.n; k++) {
        const bert_encoding *e = &w.encodings[k];
        int len = 0, j = 0;
        for (int i = 0; i < e->n_tokens; i++) len += is_context(e, i);
        for (int i = 0; i < e->n_tokens; i++) {
            if (!is_context(e, i)) continue;
            int left = j, right = len - 1 - j;
            double s = (left < right ? left : right) + 0.01 * len;
            int c0 = e->offsets[2 * i];
            if (s > best[c0]) best[c0] = s, best_win[c0] = k;
            j++;
        }
        seqs[k] = (bert_sequence){.input_ids = e->input_ids, .token_type_ids = e->token_type_ids, .n_tokens = e->n_tokens};
    }
    /* The windows run QA_CHUNK at a time: memory does not grow with the context. */
    double min_null = 1e6;
    for (int k0 = 0; rc == BERT_OK && k0 < w.n; k0 += QA_CHUNK) {
        int m = w.n - k0 < QA_CHUNK ? w.n - k0 : QA_CHUNK;
        rc = bert_forward(p->ctx, seqs + k0, m, BERT_OUTPUT_QA, err);
        for (int k = k0; rc == BERT_OK && k < k0 + m; k++) {
            const float *lg = bert_output_qa_logits(p->ctx, k - k0);
            if (!task_all_finite(lg, 2 * (size_t)w.encodings[k].n_tokens))
                rc = bert_fail(err, BERT_ERR_FORMAT, "the model's output is not finite (NaN or infinity: are its weights finite?)");
            else
                rc = window_candidates(&w.encodings[k], k, lg, best_win, q.max_answer_len, ps, pe, &cands, &n, &cap,
                                       &min_null, err);
        }
    }
    if (rc == BERT_OK && q.handle_impossible) {
        cand *c2 = n == cap ? realloc(cands, sizeof *c2 * (size_t)(cap + 1)) : cands;
        if (c2) {
            cands = c2;
            cands[n] = (cand){.score = min_null, .start = 0, .end = 0, .order = n};
            n++;
        }
    }
    if (rc == BERT_OK) {
        qsort(cands, (size_t)n, sizeof *cands, by_score);
        int k = n < q.top_k ? n : q.top_k;
        *answers = calloc((size_t)(k > 0 ? k : 1), sizeof **answers);
        if (!*answers) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        for (int i = 0; rc == BERT_OK && i < k; i++) {
            (*answers)[i] = (bert_answer){.score = cands[i].score, .start = cands[i].start, .end = cands[i].end,
                                          .answer = task_cp_slice(context, cands[i].start, cands[i].end)};
            if (!(*answers)[i].answer) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            *n_answers = i + 1;
        }
        if (rc != BERT_OK) {
            bert_answers_free(*answers, *n_answers);
            *answers = NULL;
            *n_answers = 0;
        }
    }
    free(best), free(best_win), free(seqs), free(cands), free(ps), free(pe);
    bert_encodings_free(&w);
    return rc;
}
