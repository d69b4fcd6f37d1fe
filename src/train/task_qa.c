/* task_qa.c — extractive QA for bert_finetune: SQuAD JSON / SubjQA CSV
 * files or a QA preset (src/data/squad.c), the training windows
 * (src/data/qa_features.c), scoring with the official SQuAD EM / F1 or
 * BioASQ's factoid measures (qa_eval.c), the prediction files and
 * report.json.
 *
 * The dev data is answered with bert_qa's decoding (max answer length 30,
 * as SQuAD evaluation) on the trainer's current weights, in a context of
 * p->train.n_threads threads. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train/notice.h"
#include "data/qa_data.h"
#include "io/file.h"
#include "tasks/pipeline.h"
#include "train/qa_eval.h"
#include "train/task.h"
#include "util/error.h"

typedef struct {
    char *task_name, *model_dir, *out_dir;
    const bert_tokenizer *tok;
    bert_qa_data train, dev, test;
    bert_bioasq_gold gold;
    int have_gold;
    bert_qa_features feat;
    int max_seq, stride, batch, grad_accum, n_threads, eval_only;
    int writer;        /* this process writes the prediction files (rank 0 of a data-parallel run) */
} qa_state;


/* Release the state and everything it holds. NULL is allowed. */
static void qa_free(void *state) {
    qa_state *st = state;
    if (!st) return;
    free(st->task_name), free(st->model_dir), free(st->out_dir);
    bert_qa_data_free(&st->train), bert_qa_data_free(&st->dev), bert_qa_data_free(&st->test);
    bert_bioasq_gold_free(&st->gold);
    bert_qa_features_free(&st->feat);
    free(st);
}

/* The files a run reads ("" for none) and the share of train's contexts
 * held out as dev (0: a dev file). */
typedef struct {
    char train[4096], dev[4096], golden[4096];
    double dev_split;
} qa_files;

/* The preset's files under data_dir, replaced by the caller's train / dev /
 * golden files; the dev split from the caller or the preset. Refuses a run
 * without the data it needs. */
static bert_status resolve_files(const bert_finetune_params *p, qa_files *f, bert_error *err) {
    memset(f, 0, sizeof *f);
    const char *data = p->data_dir ? p->data_dir : "data";
    const bert_qa_preset *pr = p->preset ? bert_qa_preset_find(p->preset) : NULL;
    if (p->preset && !pr)
        return bert_fail(err, BERT_ERR_INPUT, "unknown QA task '%s' (squad, tydi, xquad, bioasq, covid_qa, subjqa)", p->preset);
    bert_status rc = BERT_OK;
    if (pr && pr->train && !p->train_file) rc = bert_qa_preset_path(data, pr->train, p->subjqa_domain, f->train, sizeof f->train, err);
    if (rc == BERT_OK && pr && pr->dev && !p->dev_file) rc = bert_qa_preset_path(data, pr->dev, p->subjqa_domain, f->dev, sizeof f->dev, err);
    if (rc == BERT_OK && pr && pr->golden && !p->bioasq_golden)
        rc = bert_qa_preset_path(data, pr->golden, p->subjqa_domain, f->golden, sizeof f->golden, err);
    if (rc != BERT_OK) return rc;
    if (p->train_file) snprintf(f->train, sizeof f->train, "%s", p->train_file);
    if (p->dev_file) snprintf(f->dev, sizeof f->dev, "%s", p->dev_file);
    if (p->bioasq_golden) snprintf(f->golden, sizeof f->golden, "%s", p->bioasq_golden);
    f->dev_split = p->dev_split > 0 ? p->dev_split : pr ? pr->dev_split : 0;
    if (pr && !pr->train && !*f->train && !p->eval_only)
        return bert_fail(err, BERT_ERR_INPUT, "%s has no training split: score a model on it (evaluation only) or give a train file",
                         pr->name);
    if (p->dev_split < 0 || f->dev_split >= 1) return bert_fail(err, BERT_ERR_INPUT, "the dev split must be in (0, 1)");
    if (f->dev_split > 0 && (!*f->train || *f->dev))
        return bert_fail(err, BERT_ERR_INPUT, "the dev split holds out contexts of the train file: give no --dev file");
    if ((!*f->train && !p->eval_only) || (!*f->dev && f->dev_split <= 0))
        return bert_fail(err, BERT_ERR_INPUT, "QA fine-tuning needs a train file and a dev file, or a QA preset");
    return BERT_OK;
}

/* Read train, dev, test and the golden file; split dev off train. */
static bert_status read_data(const bert_finetune_params *p, const qa_files *f, qa_state *st, bert_error *err) {
    bert_status rc = BERT_OK;
    if (!p->eval_only || f->dev_split > 0) rc = bert_qa_data_read(f->train, p->max_train, &st->train, err);
    if (rc == BERT_OK && f->dev_split <= 0) rc = bert_qa_data_read(f->dev, p->max_dev, &st->dev, err);
    if (rc == BERT_OK && p->test_file) rc = bert_qa_data_read(p->test_file, 0, &st->test, err);
    if (rc == BERT_OK && *f->golden) rc = bert_bioasq_gold_read(f->golden, &st->gold, err), st->have_gold = rc == BERT_OK;
    if (rc == BERT_OK && f->dev_split > 0) {
        rc = bert_qa_data_split(&st->train, f->dev_split, p->train.seed, &st->dev, err);
        if (rc == BERT_OK)
            train_notice(&p->loop, 0, 0, "dev split %.2f: %d training and %d dev questions (no context in both)", f->dev_split, st->train.n,
                   st->dev.n);
        if (rc == BERT_OK && (!st->train.n || !st->dev.n))
            rc = bert_fail(err, BERT_ERR_INPUT, "the dev split %.2f left an empty side", f->dev_split);
        if (rc == BERT_OK && p->eval_only) bert_qa_data_free(&st->train); /* only its held-out part is scored */
    }
    int moved = st->train.moved + st->dev.moved + st->test.moved;
    int unaligned = st->train.unaligned + st->dev.unaligned + st->test.unaligned;
    if (rc == BERT_OK && (moved || unaligned))
        train_notice(&p->loop, 0, 0, "notice: %d answer_start(s) moved to their text (trimmed, within 200 bytes); %d not found near their start "
                  "and kept as given", moved, unaligned);
    return rc;
}

/* task.h prepare: the files, the examples, the training windows, the
 * default metric (f1, or mrr with a BioASQ golden file). */
static bert_status qa_prepare(const bert_finetune_params *p, const bert_tokenizer *tok, bert_train_params *tp,
                              const char **metric, int *greater_is_better, void **state, bert_error *err) {
    bert_error_clear(err);
    *state = NULL;
    if (p->doc_stride < 0) return bert_fail(err, BERT_ERR_INPUT, "the document stride must be >= 0");
    qa_files f;
    bert_status rc = resolve_files(p, &f, err);
    if (rc != BERT_OK) return rc;
    qa_state *st = calloc(1, sizeof *st);
    if (!st) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    st->task_name = strdup(p->preset ? p->preset : "qa");
    st->model_dir = strdup(p->model_dir ? p->model_dir : "");
    st->out_dir = strdup(p->output_dir ? p->output_dir : ".");
    st->tok = tok;
    st->max_seq = p->max_seq_len, st->stride = p->doc_stride, st->batch = p->batch_size;
    st->grad_accum = p->train.grad_accum > 0 ? p->train.grad_accum : 1;
    st->n_threads = p->train.n_threads, st->eval_only = p->eval_only;
    st->writer = bert_dist_rank(p->train.dist) == 0;
    if (!st->task_name || !st->model_dir || !st->out_dir) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) rc = read_data(p, &f, st, err);
    if (rc == BERT_OK && !p->eval_only)
        rc = bert_qa_featurize(tok, &st->train, st->max_seq, st->stride, p->drop_windows_without_answer, &st->feat, err);
    if (rc == BERT_OK && st->feat.skipped)
        train_notice(&p->loop, 0, 0, "%d training questions skipped (too long for the window)", st->feat.skipped);
    if (rc == BERT_OK && !p->eval_only && st->feat.n == 0)
        rc = bert_fail(err, BERT_ERR_INPUT, "%s: no training windows (every question was skipped or dropped)", f.train);
    if (rc != BERT_OK) {
        qa_free(st);
        return rc;
    }
    tp->task = BERT_TASK_QA;
    *metric = st->have_gold ? "mrr" : "f1"; /* BioASQ: the mean reciprocal rank */
    *greater_is_better = 1;
    *state = st;
    return BERT_OK;
}

/* Training items: the windows. */
static int qa_n_train(void *state) { return ((qa_state *)state)->feat.n; }

/* A window's labels: start and end token. */
static int qa_label_floats(void *state) {
    (void)state;
    return 2;
}

/* task.h fill: windows idx[0..n) and their start / end labels. */
static bert_status qa_fill(void *state, const int *idx, int n, bert_sequence *seqs, float *labels, long *tokens,
                           bert_error *err) {
    qa_state *st = state;
    for (int k = 0; k < n; k++) {
        if (idx[k] < 0 || idx[k] >= st->feat.n) return bert_fail(err, BERT_ERR_INPUT, "training item %d out of range", idx[k]);
        const bert_qa_feature *f = &st->feat.v[idx[k]];
        seqs[k] = (bert_sequence){.input_ids = f->ids, .token_type_ids = f->types, .n_tokens = f->n_tokens};
        labels[2 * k] = f->label[0], labels[2 * k + 1] = f->label[1];
        *tokens += f->n_tokens;
    }
    return BERT_OK;
}

/* Score `model` on d (files PREFIX_*.json in the output directory, on the
 * writing rank). */
static bert_status score_model(qa_state *st, const bert_model *model, const bert_qa_data *d, const char *prefix,
                               bert_qa_scores *sc, bert_error *err) {
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = st->n_threads;
    /* A pipeline view of the model and tokenizer: bert_qa only reads them. */
    bert_pipeline view = {.model = (bert_model *)model, .tok = (bert_tokenizer *)st->tok};
    const char *out = st->writer ? st->out_dir : NULL;
    bert_status rc = bert_context_create(model, &cp, &view.ctx, err);
    if (rc == BERT_OK && out && mkdir(out, 0755) != 0 && errno != EEXIST)
        rc = bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", out, strerror(errno));
    if (rc == BERT_OK)
        rc = bert_qa_score(&view, d, st->max_seq, st->stride, st->have_gold && d == &st->dev ? &st->gold : NULL, out,
                           prefix, sc, err);
    bert_context_free(view.ctx);
    return rc;
}

/* task.h evaluate: the trainer's current weights on the dev questions
 * (OUT/dev_predictions.json and the n-best file are rewritten). */
static bert_status qa_evaluate(void *state, bert_trainer *t, bert_metrics *out, bert_error *err) {
    qa_state *st = state;
    bert_qa_scores sc;
    bert_status rc = score_model(st, bert_trainer_model(t), &st->dev, "dev", &sc, err);
    if (rc == BERT_OK) bert_qa_scores_metrics(&sc, out);
    return rc;
}

/* Score the model in dir on d. */
static bert_status score_dir(qa_state *st, const char *dir, const bert_qa_data *d, const char *prefix, bert_qa_scores *sc,
                             bert_error *err) {
    bert_model *m = NULL;
    bert_status rc = bert_model_load(dir, NULL, &m, err);
    if (rc == BERT_OK && !(bert_model_heads(m) & BERT_HEAD_QA))
        rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "%s has no question-answering head (qa_outputs) to evaluate", dir);
    if (rc == BERT_OK) rc = score_model(st, m, d, prefix, sc, err);
    bert_model_free(m);
    return rc;
}


/* Metric `name` of m, 0 when absent. */
static double metric(const bert_metrics *m, const char *name) {
    double v = 0;
    return bert_metrics_get(m, name, &v) ? v : 0;
}

/* The scores of m as report fields (keys after `prefix`, "dev_" or
 * "test_"; SQuAD 2.0 and BioASQ keys as the official scripts name them). */
static void write_scores(FILE *f, const qa_state *st, const bert_qa_data *d, const bert_metrics *m, const char *prefix) {
    double v;
    if (bert_metrics_get(m, "mrr", &v)) {
        fprintf(f, ", \"bioasq_factoid_questions\": %d, \"strict_accuracy\": %.4f, \"lenient_accuracy\": %.4f, \"mrr\": %.4f",
                st->gold.n, metric(m, "strict_accuracy"), metric(m, "lenient_accuracy"), v);
        return;
    }
    fprintf(f, ", \"%sexact_match\": %.4f, \"%sf1\": %.4f", prefix, metric(m, "exact_match"), prefix, metric(m, "f1"));
    if (!bert_metrics_get(m, "best_f1", &v)) return;
    int n_has = 0;
    for (int i = 0; i < d->n; i++) n_has += d->v[i].n_answers > 0;
    const char *p2 = strcmp(prefix, "dev_") == 0 ? "" : prefix;
    fprintf(f, ", \"%sHasAns_exact\": %.4f, \"%sHasAns_f1\": %.4f, \"%sHasAns_total\": %d, \"%sNoAns_exact\": %.4f, "
               "\"%sNoAns_f1\": %.4f, \"%sNoAns_total\": %d, \"%sbest_exact\": %.4f, \"%sbest_f1\": %.4f",
            p2, metric(m, "HasAns_exact"), p2, metric(m, "HasAns_f1"), p2, n_has, p2, metric(m, "NoAns_exact"), p2,
            metric(m, "NoAns_f1"), p2, d->n - n_has, p2, metric(m, "best_exact"), p2, v);
}

/* The 1-based epoch that optimizer step `step` falls in (-1: none). */
static int epoch_of_step(const qa_state *st, long step) {
    long batches = ((long)st->feat.n + st->batch - 1) / st->batch;
    long per_epoch = (batches + st->grad_accum - 1) / st->grad_accum;
    return step < 0 || per_epoch <= 0 ? -1 : (int)((step + per_epoch - 1) / per_epoch);
}

/* OUT/report.json, atomically. */
static bert_status write_report(const qa_state *st, const bert_loop_result *r, const bert_metrics *dev,
                                const bert_metrics *test, bert_error *err) {
    char path[4200];
    bert_atomic_file af;
    bert_status rc = bert_path_join(path, sizeof path, st->out_dir, "report.json", err);
    if (rc == BERT_OK) rc = bert_atomic_open(path, &af, err);
    if (rc != BERT_OK) return rc;
    FILE *f = af.fp;
    fputs("{\"task\": ", f);
    train_json_string(f, st->task_name);
    if (st->eval_only) {
        fputs(", \"model\": ", f);
        train_json_string(f, st->model_dir);
    } else {
        long best_step = r ? r->best_step : -1;
        double secs = r ? r->seconds : 0;
        fprintf(f, ", \"train_questions\": %d, \"train_windows\": %d", st->train.n, st->feat.n);
        fprintf(f, ", \"dev_questions\": %d, \"best_epoch\": %d, \"best_step\": %ld, \"seconds\": %.1f, \"tokens_per_s\": %.0f",
                st->dev.n, epoch_of_step(st, best_step), best_step, secs, secs > 0 ? (double)r->tokens / secs : 0.0);
    }
    if (st->eval_only) fprintf(f, ", \"dev_questions\": %d", st->dev.n);
    if (dev) write_scores(f, st, &st->dev, dev, "dev_");
    if (test) fprintf(f, ", \"test_questions\": %d", st->test.n), write_scores(f, st, &st->test, test, "test_");
    fputs("}\n", f);
    return bert_atomic_commit(&af, err);
}

/* task.h finish: the dev scores of the best (or last) evaluation, or of
 * best_dir when nothing was scored; the test data scored with best_dir;
 * OUT/report.json. */
static bert_status qa_finish(void *state, const bert_finetune_params *p, const char *best_dir, const bert_loop_result *r,
                             bert_error *err) {
    qa_state *st = state;
    (void)p;
    bert_metrics dev = {0}, test = {0};
    const bert_metrics *devp = NULL;
    if (r && r->best_step >= 0 && r->best_metrics.n) devp = &r->best_metrics;
    else if (r && r->last_metrics.n) devp = &r->last_metrics;
    const char *dir = best_dir ? best_dir : st->eval_only ? st->model_dir : NULL;
    bert_qa_scores sc;
    bert_status rc = BERT_OK;
    if (!devp && dir) { /* nothing was scored during the run: score the model now */
        if ((rc = score_dir(st, dir, &st->dev, "dev", &sc, err)) == BERT_OK) bert_qa_scores_metrics(&sc, &dev), devp = &dev;
    }
    int have_test = 0;
    if (rc == BERT_OK && dir && st->test.n) {
        if ((rc = score_dir(st, dir, &st->test, "test", &sc, err)) == BERT_OK) bert_qa_scores_metrics(&sc, &test), have_test = 1;
    }
    if (rc == BERT_OK) rc = write_report(st, r, devp, have_test ? &test : NULL, err);
    return rc;
}

/* train_task_ops.metric_names: BioASQ's with a golden file; else SQuAD's,
 * with the v2.0 ones when the dev data has unanswerable questions. */
static const char *const *qa_metric_names(void *state) {
    const qa_state *st = state;
    static const char *const bioasq[] = {"strict_accuracy", "lenient_accuracy", "mrr", NULL};
    static const char *const v2[] = {"exact_match", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact",
                                     "NoAns_f1", "best_exact", "best_f1", NULL};
    static const char *const v1[] = {"exact_match", "f1", NULL};
    if (st->have_gold) return bioasq;
    for (int i = 0; i < st->dev.n; i++)
        if (st->dev.v[i].n_answers == 0) return v2;
    return v1;
}

const train_task_ops train_task_qa = {
    .name = "qa",
    .prepare = qa_prepare,
    .n_train = qa_n_train,
    .label_floats = qa_label_floats,
    .fill = qa_fill,
    .metric_names = qa_metric_names,
    .evaluate = qa_evaluate,
    .finish = qa_finish,
    .free = qa_free,
};
