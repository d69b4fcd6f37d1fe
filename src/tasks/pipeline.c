/* pipeline.c — opening a model directory for the tasks; running batches. */
#include "tasks/pipeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/finite.h"
#include "util/error.h"

bert_pipeline_params bert_pipeline_default_params(void) {
    bert_pipeline_params p = {.n_threads = 0, .truncate = 0, .truncate_left = 0};
    return p;
}

char *task_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char *task_cp_slice(const char *text, int s, int e) {
    const unsigned char *p = (const unsigned char *)text;
    const char *bs = NULL, *be = NULL;
    for (size_t i = 0, cp = 0;; i++) {
        if ((p[i] & 0xC0) == 0x80) continue; /* inside a code point */
        if ((int)cp == s) bs = text + i;
        if ((int)cp == e || !p[i]) {
            be = text + i;
            break;
        }
        cp++;
    }
    if (!bs) bs = be;
    size_t n = (size_t)(be - bs);
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, bs, n);
        out[n] = '\0';
    }
    return out;
}

bert_status bert_pipeline_open(const char *dir, const bert_pipeline_params *params, bert_pipeline **out,
                               bert_error *err) {
    bert_error_clear(err);
    *out = NULL;
    bert_pipeline *p = calloc(1, sizeof *p);
    if (!p) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    p->params = params ? *params : bert_pipeline_default_params();
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = p->params.n_threads;
    bert_model_params mp = bert_model_default_params();
    mp.compute = p->params.compute;
    mp.device = p->params.device;
    bert_status rc = bert_model_load(dir, &mp, &p->model, err);
    if (rc == BERT_OK) rc = bert_tokenizer_load(dir, &p->tok, err);
    if (rc == BERT_OK) rc = bert_context_create(p->model, &cp, &p->ctx, err);
    if (rc == BERT_OK) rc = bert_sentence_head_load(dir, &p->head, err);
    if (rc == BERT_OK && p->head) {
        p->st = *bert_sentence_head_config(p->head);
        int C = bert_model_config(p->model)->hidden_size;
        if (p->st.modules[0].in_features != C)
            rc = bert_fail(err, BERT_ERR_CONFIG, "%s: the Pooling module's word_embedding_dimension is %d, the model's "
                                                 "hidden_size %d", dir, p->st.modules[0].in_features, C);
    }
    if (rc != BERT_OK) {
        bert_pipeline_free(p);
        return rc;
    }
    *out = p;
    return BERT_OK;
}

void bert_pipeline_free(bert_pipeline *p) {
    if (!p) return;
    bert_sentence_head_free(p->head);
    bert_context_free(p->ctx);
    bert_tokenizer_free(p->tok);
    bert_model_free(p->model);
    free(p);
}

const bert_model *bert_pipeline_model(const bert_pipeline *p) { return p->model; }
const bert_tokenizer *bert_pipeline_tokenizer(const bert_pipeline *p) { return p->tok; }

void task_batch_free(task_batch *b) {
    for (int i = 0; b->enc && i < b->n; i++) bert_encodings_free(&b->enc[i]);
    free(b->enc);
    free(b->seqs);
    memset(b, 0, sizeof *b);
}

bert_status task_run(bert_pipeline *p, const char *const *texts, const char *const *pairs, int n, int max_len,
                     unsigned outputs, task_batch *b, bert_error *err) {
    memset(b, 0, sizeof *b);
    if (n <= 0) return bert_fail(err, BERT_ERR_INPUT, "no inputs");
    int limit = bert_model_config(p->model)->max_position_embeddings;
    if (max_len <= 0 || max_len > limit) max_len = limit;
    bert_encode_params ep = bert_encode_default_params();
    if (p->params.truncate) {
        ep.truncation = BERT_TRUNCATE_LONGEST_FIRST;
        ep.max_length = max_len;
        ep.truncate_left = p->params.truncate_left;
    }
    b->enc = calloc((size_t)n, sizeof *b->enc);
    b->seqs = calloc((size_t)n, sizeof *b->seqs);
    b->n = n;
    if (!b->enc || !b->seqs) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = bert_tokenize_batch(p->tok, texts, pairs, n, &ep, b->enc, err);
    if (rc != BERT_OK) {
        free(b->enc);
        b->enc = NULL;
        return rc;
    }
    for (int i = 0; i < n; i++) {
        const bert_encoding *e = &b->enc[i].encodings[0];
        if (e->n_tokens > max_len) {
            rc = bert_fail(err, BERT_ERR_INPUT,
                           "input %d: %d tokens; the model takes at most %d (truncate to accept longer texts)", i,
                           e->n_tokens, max_len);
            if (err) err->item = i;
            return rc;
        }
        b->seqs[i] = (bert_sequence){.input_ids = e->input_ids, .token_type_ids = e->token_type_ids, .n_tokens = e->n_tokens};
    }
    rc = bert_forward(p->ctx, b->seqs, n, outputs, err);
    return rc == BERT_OK ? task_check_finite(p->ctx, p->model, b->seqs, n, outputs, err) : rc;
}

void task_softmax(double *x, int n) {
    double mx = x[0], sum = 0;
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++) sum += (x[i] = exp(x[i] - mx));
    for (int i = 0; i < n; i++) x[i] /= sum;
}
