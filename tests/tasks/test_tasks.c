/* test_tasks.c — the task C API: results equal across batch sizes, input
 * errors name the input, sentence-transformers settings are read. The
 * numbers themselves are checked against the reference by the CLI tests
 * (tests/cli/test_cli.sh, tests/fixtures/tasks). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define TASKS "tests/fixtures/tasks"

static bert_pipeline *open_p(const char *name) {
    char dir[256];
    snprintf(dir, sizeof dir, TASKS "/%s", name);
    bert_error err;
    bert_pipeline *p = NULL;
    CHECK_OK(bert_pipeline_open(dir, NULL, &p, &err), err);
    return p;
}

TEST(tasks_classify_batch_equals_single) {
    bert_pipeline *p = open_p("classifier");
    if (!p) return;
    const char *texts[] = {"I love this movie.", "Terrible service, slow and rude.", "ok"};
    const char *pairs[] = {NULL, "a second text", NULL};
    float all[9], one[3];
    bert_error err;
    CHECK_OK(bert_classify(p, texts, pairs, 3, BERT_SCORE_AUTO, all, &err), err);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(bert_classify(p, texts + i, pairs + i, 1, BERT_SCORE_AUTO, one, &err), err);
        CHECK(test_max_abs_diff(one, all + 3 * i, 3) <= 1e-5);
        CHECK(fabsf(one[0] + one[1] + one[2] - 1.0f) < 1e-5f); /* softmax */
    }
    CHECK(bert_pipeline_score_function(p) == BERT_SCORE_SOFTMAX);
    float raw[3];
    CHECK_OK(bert_classify(p, texts, NULL, 1, BERT_SCORE_NONE, raw, &err), err);
    CHECK(fabsf(raw[0] + raw[1] + raw[2] - 1.0f) > 1e-3f); /* logits, not probabilities */
    bert_pipeline_free(p);
}

/* What a server does: tokenize itself, run the sequences of several
 * requests as one batch, read each one's scores. */
TEST(tasks_classify_output_of_a_served_batch) {
    bert_pipeline *p = open_p("classifier");
    if (!p) return;
    const char *texts[] = {"I love this movie.", "Terrible service, slow and rude."};
    const char *pairs[] = {NULL, "a second text"};
    float want[6], got[3];
    bert_error err;
    CHECK_OK(bert_classify(p, texts, pairs, 2, BERT_SCORE_AUTO, want, &err), err);
    bert_encodings es[2];
    bert_sequence seqs[2];
    for (int i = 0; i < 2; i++) {
        CHECK_OK(bert_tokenize(bert_pipeline_tokenizer(p), texts[i], -1, pairs[i], -1, NULL, &es[i], &err), err);
        const bert_encoding *e = &es[i].encodings[0];
        seqs[i] = (bert_sequence){.input_ids = e->input_ids, .token_type_ids = e->token_type_ids, .n_tokens = e->n_tokens};
    }
    CHECK_OK(bert_pipeline_forward(p, seqs, 2, BERT_OUTPUT_HIDDEN, &err), err);
    CHECK_ERR(bert_pipeline_classify_output(p, 0, BERT_SCORE_AUTO, got, &err), err, BERT_ERR_STATE, "no classifier logits");
    CHECK_OK(bert_pipeline_forward(p, seqs, 2, BERT_OUTPUT_CLASSIFIER, &err), err);
    for (int i = 0; i < 2; i++) {
        CHECK_OK(bert_pipeline_classify_output(p, i, BERT_SCORE_AUTO, got, &err), err);
        CHECK(test_max_abs_diff(got, want + 3 * i, 3) <= 1e-5);
    }
    CHECK_ERR(bert_pipeline_classify_output(p, 2, BERT_SCORE_AUTO, got, &err), err, BERT_ERR_STATE, "sequence 2");
    CHECK_ERR(bert_pipeline_classify_output(p, 0, (bert_score_function)9, got, &err), err, BERT_ERR_INPUT, "out of range");
    for (int i = 0; i < 2; i++) bert_encodings_free(&es[i]);
    bert_pipeline_free(p);
}

/* fill-mask over more masks than it takes logits for at once (64): each
 * mask's top prediction is the softmax top of its own row of MLM logits,
 * read back from the pipeline's context (the pass's states), in order. */
TEST(tasks_fill_mask_many_masks) {
    bert_error err;
    bert_pipeline *p = open_p("mlm");
    if (!p) return;
    enum { MASKS = 70 };
    char text[MASKS * 7 + 1] = "";
    for (int i = 0; i < MASKS; i++) strcat(text, "[MASK] ");
    const char *texts[1] = {text};
    bert_fill_mask_result r;
    CHECK_OK(bert_fill_mask(p, texts, 1, 2, NULL, 0, &r, &err), err);
    int V = bert_model_config(bert_pipeline_model(p))->vocab_size;
    float *z = malloc(sizeof *z * (size_t)V);
    CHECK(r.n_masks == MASKS);
    const int check[] = {0, 1, 63, 64, 65, 69};
    for (size_t c = 0; z && r.n_masks == MASKS && c < sizeof check / sizeof check[0]; c++) {
        int32_t pos = check[c] + 1; /* after [CLS] */
        /* the context is the pipeline's, read only here (a CPU model's head reads its states) */
        CHECK_OK(bert_mlm_logits_at((bert_context *)bert_pipeline_context(p), 0, &pos, 1, z, &err), err);
        int best = 0;
        double sum = 0;
        for (int v = 1; v < V; v++) best = z[v] > z[best] ? v : best;
        for (int v = 0; v < V; v++) sum += exp((double)z[v] - z[best]);
        const bert_fill_prediction *top = &r.predictions[(size_t)check[c] * 2];
        CHECK(top->token == best);
        CHECK(fabs(top->score - 1.0 / sum) <= 1e-6);
    }
    free(z);
    bert_fill_mask_result_free(&r, 1);
    bert_pipeline_free(p);
}

TEST(tasks_errors_name_the_input) {
    bert_error err;
    bert_pipeline *mlm = open_p("mlm"), *qa = open_p("qa"), *ce = open_p("cross-encoder");
    if (!mlm || !qa || !ce) return;
    const char *texts[] = {"a [MASK] b", "no mask", "c [MASK]"};
    bert_fill_mask_result r[3];
    CHECK_ERR(bert_fill_mask(mlm, texts, 3, 5, NULL, 0, r, &err), err, BERT_ERR_INPUT, "input 1: no mask token");
    CHECK(err.item == 1);
    CHECK_ERR(bert_fill_mask(mlm, texts, 1, 0, NULL, 0, r, &err), err, BERT_ERR_INPUT, "top_k must be at least 1");
    const char *t1[] = {"one", "two"}, *p1[] = {"x", NULL};
    float prob[2];
    CHECK_ERR(bert_nsp(mlm, t1, p1, 2, prob, &err), err, BERT_ERR_INPUT, "input 1: NSP needs a second text");
    CHECK(err.item == 1);
    float sc[1];
    CHECK_ERR(bert_classify(mlm, t1, NULL, 1, BERT_SCORE_AUTO, sc, &err), err, BERT_ERR_UNSUPPORTED, "no classifier head");
    CHECK_ERR(bert_rerank(ce, "q", NULL, 0, sc, &err), err, BERT_ERR_INPUT, "no documents");
    bert_answer *a = NULL;
    int na = 0;
    CHECK_ERR(bert_qa(qa, "", "context", NULL, &a, &na, &err), err, BERT_ERR_INPUT, "must not be empty");
    bert_qa_params qp = bert_qa_default_params();
    qp.max_seq_len = 16;
    qp.doc_stride = 8;
    CHECK_ERR(bert_qa(qa, "the the the the the the", "the mat", &qp, &a, &na, &err), err, BERT_ERR_INPUT,
              "leaves no room for the context");
    bert_entities ents[1];
    CHECK_ERR(bert_ner(mlm, t1, 1, BERT_AGGREGATE_SIMPLE, ents, &err), err, BERT_ERR_UNSUPPORTED, "no token classification head");
    bert_pipeline_free(mlm);
    bert_pipeline_free(qa);
    bert_pipeline_free(ce);
    bert_pipeline *none = NULL;
    CHECK_ERR(bert_pipeline_open(FIXTURES "/tiny-pretraining", NULL, &none, &err), err, BERT_ERR_IO,
              "no tokenizer.json or vocab.txt");
}

TEST(tasks_qa_answers_are_spans_of_the_context) {
    bert_pipeline *p = open_p("qa");
    if (!p) return;
    const char *context = "The cat sat on the mat. The mat was red, and Zürich is far away from it.";
    bert_qa_params qp = bert_qa_default_params();
    qp.max_seq_len = 24;
    qp.doc_stride = 6;
    qp.top_k = 5;
    bert_answer *a = NULL;
    int na = 0;
    bert_error err;
    CHECK_OK(bert_qa(p, "Where is the mat?", context, &qp, &a, &na, &err), err);
    CHECK(na == 5);
    for (int i = 0; i < na; i++) {
        CHECK(a[i].start < a[i].end && a[i].end <= 72);
        CHECK(i == 0 || a[i].score <= a[i - 1].score);
        CHECK(a[i].answer[0] != ' ' && strlen(a[i].answer) > 0);
    }
    bert_answers_free(a, na);
    bert_pipeline_free(p);
}

TEST(tasks_sentence_transformers_config) {
    bert_sentence_config st;
    bert_error err;
    CHECK_OK(bert_sentence_config_load(TASKS "/sentence-transformer", &st, &err), err);
    CHECK(st.present && st.pooling == BERT_POOL_MEAN && st.normalize == 1 && st.max_seq_length == 16);
    CHECK_OK(bert_sentence_config_load(TASKS "/mlm", &st, &err), err);
    CHECK(!st.present);
    bert_pipeline *p = open_p("sentence-transformer");
    if (!p) return;
    const char *texts[] = {"The cat sat on the mat.", "Zürich ☃"};
    float e[64];
    CHECK_OK(bert_embed(p, texts, 2, -1, -1, e, &err), err);
    double n0 = 0, n1 = 0;
    for (int j = 0; j < 32; j++) n0 += (double)e[j] * e[j], n1 += (double)e[32 + j] * e[32 + j];
    CHECK(fabs(n0 - 1) < 1e-5 && fabs(n1 - 1) < 1e-5); /* Normalize module honoured */
    bert_pipeline_free(p);
}
