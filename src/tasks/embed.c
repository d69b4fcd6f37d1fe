/* embed.c — sentence embeddings with the sentence-transformers settings of
 * the model directory (Pooling mode, Normalize, max_seq_length). */
#include "tasks/pipeline.h"
#include "util/error.h"

bert_status bert_embed(bert_pipeline *p, const char *const *texts, int n, int pooling, int normalize, float *out,
                       bert_error *err) {
    bert_error_clear(err);
    if (pooling < 0) pooling = p->st.present ? p->st.pooling : BERT_POOL_MEAN;
    if (normalize < 0) normalize = p->st.present ? p->st.normalize : 0;
    /* sentence-transformers truncates to max_seq_length silently. */
    int max_len = p->st.max_seq_length;
    bert_pipeline_params saved = p->params;
    if (max_len > 0) p->params.truncate = 1;
    task_batch b;
    bert_status rc = task_run(p, texts, NULL, n, max_len, BERT_OUTPUT_HIDDEN, &b, err);
    p->params = saved;
    int C = bert_model_config(p->model)->hidden_size;
    for (int i = 0; rc == BERT_OK && i < n; i++)
        rc = bert_pool(p->ctx, i, (bert_pooling)pooling, normalize, out + (size_t)i * C, err);
    task_batch_free(&b);
    return rc;
}
