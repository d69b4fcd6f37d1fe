/* finite.c — refusing non-finite model outputs (see finite.h). */
#include "tasks/finite.h"

#include <math.h>

#include "util/error.h"

int task_all_finite(const float *x, size_t n) {
    for (size_t i = 0; x && i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

bert_status task_fail_not_finite(int i, bert_error *err) {
    bert_status rc = bert_fail(err, BERT_ERR_FORMAT,
                               "input %d: the model's output is not finite (NaN or infinity: are its weights finite?)", i);
    if (err) err->item = i; /* after bert_fail, which resets it */
    return rc;
}

/* BERT_OUTPUT_SENTENCE of sequence i: its k rows of C. */
static int sentence_finite(const bert_context *ctx, int i, size_t C) {
    bert_pooling_spec sp;
    const float *v = bert_output_sentence(ctx, i, &sp);
    return v && task_all_finite(v, (size_t)__builtin_popcount(sp.modes) * C);
}

bert_status task_check_finite(const bert_context *ctx, const bert_model *model, const bert_sequence *seqs, int n,
                              unsigned outputs, bert_error *err) {
    const bert_config *c = bert_model_config(model);
    size_t C = (size_t)c->hidden_size, V = (size_t)c->vocab_size, L = (size_t)bert_model_num_labels(model);
    for (int i = 0; i < n; i++) {
        size_t T = (size_t)seqs[i].n_tokens;
        int ok = (!(outputs & BERT_OUTPUT_HIDDEN) || task_all_finite(bert_output_hidden(ctx, i), T * C)) &&
                 (!(outputs & BERT_OUTPUT_POOLED) || task_all_finite(bert_output_pooled(ctx, i), C)) &&
                 (!(outputs & BERT_OUTPUT_MLM) || task_all_finite(bert_output_mlm_logits(ctx, i), T * V)) &&
                 (!(outputs & BERT_OUTPUT_NSP) || task_all_finite(bert_output_nsp_logits(ctx, i), 2)) &&
                 (!(outputs & BERT_OUTPUT_CLASSIFIER) || task_all_finite(bert_output_classifier_logits(ctx, i), L)) &&
                 (!(outputs & BERT_OUTPUT_TOKEN_CLASSIFIER) ||
                  task_all_finite(bert_output_token_classifier_logits(ctx, i), T * L)) &&
                 (!(outputs & BERT_OUTPUT_QA) || task_all_finite(bert_output_qa_logits(ctx, i), T * 2)) &&
                 (!(outputs & BERT_OUTPUT_INTENT) || task_all_finite(bert_output_intent_logits(ctx, i), bert_model_config(model)->num_intents)) &&
                 (!(outputs & BERT_OUTPUT_SENTENCE) || sentence_finite(ctx, i, C));
        if (!ok) return task_fail_not_finite(i, err);
    }
    return BERT_OK;
}
