/* finetune.c — bert_finetune: a task type's data (task.h) through the one
 * training loop (loop.c) in shuffled epochs (epochs.c).
 *
 *   tokenizer -> task prepare (read + featurise train/dev/test) -> trainer
 *   (open, or resume from a checkpoint) -> bert_train_loop -> task finish
 *   (test scores, predictions, report.json). With eval_only the model is
 *   opened as it is and scored; nothing trains. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train/notice.h"
#include "bert.h"
#include "train/data_parallel.h"
#include "train/epochs.h"
#include "train/task.h"
#include "train/result.h"
#include "util/error.h"

/* The named data sets and their task types. */
static const struct {
    const char *name;
    bert_task task;
} presets[] = {
    {"sst2", BERT_TASK_SEQUENCE}, {"cola", BERT_TASK_SEQUENCE},   {"mrpc", BERT_TASK_SEQUENCE},
    {"rte", BERT_TASK_SEQUENCE},  {"stsb", BERT_TASK_SEQUENCE},   {"wnli", BERT_TASK_SEQUENCE},
    {"ncbi", BERT_TASK_TOKEN},    {"bc5cdr", BERT_TASK_TOKEN},    {"conll2003", BERT_TASK_TOKEN},
    {"sec", BERT_TASK_TOKEN},     {"squad", BERT_TASK_QA},        {"tydi", BERT_TASK_QA},
    {"xquad", BERT_TASK_QA},      {"bioasq", BERT_TASK_QA},       {"covid_qa", BERT_TASK_QA},
    {"subjqa", BERT_TASK_QA},     {"snips", BERT_TASK_DIALOGUE}, {"atis", BERT_TASK_DIALOGUE},
    {"sgd", BERT_TASK_DIALOGUE},
};
#define N_PRESETS ((int)(sizeof presets / sizeof presets[0]))

const char *const *bert_finetune_presets(void) {
    static const char *const names[N_PRESETS + 1] = {"sst2", "cola", "mrpc", "rte", "stsb", "wnli", "ncbi", "bc5cdr",
                                                     "conll2003", "sec", "squad", "tydi", "xquad", "bioasq",
                                                     "covid_qa", "subjqa", "snips", "atis", "sgd", NULL};
    return names;
}

bert_status bert_finetune_preset_task(const char *name, bert_task *task, bert_error *err) {
    for (int i = 0; name && i < N_PRESETS; i++)
        if (strcmp(presets[i].name, name) == 0) {
            *task = presets[i].task;
            return BERT_OK;
        }
    return bert_fail(err, BERT_ERR_INPUT,
                     "unknown task '%s' (sst2, cola, mrpc, rte, stsb, wnli; ncbi, bc5cdr, conll2003, sec; squad, tydi, "
                     "xquad, bioasq, covid_qa, subjqa; snips, atis, sgd)",
                     name ? name : "");
}

bert_finetune_params bert_finetune_default_params(bert_task task) {
    bert_finetune_params p;
    memset(&p, 0, sizeof p);
    p.task = task;
    p.data_dir = "../shared/data";
    p.epochs = task == BERT_TASK_QA ? 2 : 3;
    p.batch_size = task == BERT_TASK_QA ? 12 : 32;
    p.max_seq_len = task == BERT_TASK_QA ? 384 : 128;
    p.doc_stride = 128;
    p.text_column = "text", p.pair_column = NULL, p.label_column = "label";
    p.subjqa_domain = "electronics";
    p.train = bert_train_default_params();
    p.train.task = task;
    p.train.lr = task == BERT_TASK_TOKEN || task == BERT_TASK_DIALOGUE ? 5e-5 : task == BERT_TASK_QA ? 3e-5 : 2e-5;
    p.loop = bert_loop_default_params();
    return p;
}

static const train_task_ops *task_ops(bert_task task) {
    switch (task) {
    case BERT_TASK_SEQUENCE: return &train_task_sequence;
    case BERT_TASK_TOKEN: return &train_task_token;
    case BERT_TASK_QA: return &train_task_qa;
    case BERT_TASK_DIALOGUE: return &train_task_dialogue;
    default: return NULL;
    }
}

/* The heads bert_trainer_open had to create, said as the user needs it. */
static void created_notice(const bert_finetune_params *p, const bert_train_params *tp, unsigned created) {
    char text[1400];
    unsigned long long seed = (unsigned long long)tp->seed;
    if (tp->task == BERT_TASK_TOKEN)
        snprintf(text, sizeof text, "notice: %s has no token classifier for these %d tags; created from seed %llu",
                 p->model_dir, tp->num_labels, seed);
    else if (tp->task == BERT_TASK_DIALOGUE)
        snprintf(text, sizeof text, "notice: %s has no intent head and slot tagger for these %d intents and %d tags; created from seed %llu",
                 p->model_dir, tp->num_intents, tp->num_labels, seed);
    else if (tp->task == BERT_TASK_QA)
        snprintf(text, sizeof text, "notice: %s has no QA head; created from seed %llu", p->model_dir, seed);
    else
        snprintf(text, sizeof text, "notice: %s has no trained %s%s%s; created from seed %llu", p->model_dir,
                 created & BERT_HEAD_POOLER ? "pooler" : "",
                 created == (BERT_HEAD_POOLER | BERT_HEAD_CLASSIFIER) ? " and " : "",
                 created & BERT_HEAD_CLASSIFIER ? "classifier" : "", seed);
    train_notice(&p->loop, 0, 0, "%s", text);
}

/* A metric the task reports for this data (refused before any training). */
static bert_status check_metric(const train_task_ops *ops, void *state, const char *metric, bert_error *err) {
    const char *const *names = ops->metric_names ? ops->metric_names(state) : NULL;
    if (!names || !metric || !*metric) return BERT_OK;
    char list[256] = "";
    for (int i = 0; names[i]; i++) {
        if (strcmp(names[i], metric) == 0) return BERT_OK;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    }
    return bert_fail(err, BERT_ERR_INPUT, "metric '%s': this task reports %s", metric, list);
}

/* eval_only: the model as it is, scored on the dev data. */
static bert_status score_only(const bert_finetune_params *p, const train_task_ops *ops, void *state,
                              const bert_train_params *tp, bert_loop_result *r, bert_error *err) {
    bert_trainer *t = NULL;
    unsigned created = 0;
    bert_status rc = bert_trainer_open(p->model_dir, tp, &t, &created, err);
    if (rc == BERT_OK && created)
        rc = bert_fail(err, BERT_ERR_INPUT, "%s has no trained %s to evaluate", p->model_dir,
                       tp->task == BERT_TASK_TOKEN ? "token classifier" : tp->task == BERT_TASK_QA ? "QA head" : "classifier");
    if (rc == BERT_OK) rc = ops->evaluate(state, t, &r->last_metrics, err);
    if (rc == BERT_OK) {
        r->best_metrics = r->last_metrics, r->best_step = 0;
        if (p->loop.metric && *p->loop.metric) bert_metrics_get(&r->last_metrics, p->loop.metric, &r->best);
    }
    bert_trainer_free(t);
    return rc;
}

/* Open (or resume) the trainer and run the loop over shuffled epochs. */
static bert_status train(const bert_finetune_params *p, const train_task_ops *ops, void *state, bert_train_params *tp,
                         bert_loop_params *lp, bert_loop_result *r, bert_error *err) {
    int n = ops->n_train(state), accum = tp->grad_accum > 0 ? tp->grad_accum : 1;
    long steps_per_epoch = ((long)(n + p->batch_size - 1) / p->batch_size + accum - 1) / accum;
    tp->total_steps = p->max_steps > 0 ? p->max_steps : steps_per_epoch * p->epochs;
    train_epochs ep;
    bert_status rc = train_epochs_init(&ep, ops, state, p->batch_size, p->max_steps > 0 ? INT_MAX : p->epochs, err);
    if (rc != BERT_OK) return rc;
    bert_trainer *t = NULL;
    char *extra = NULL;
    unsigned created = 0;
    if (p->resume_from) rc = bert_trainer_resume(p->resume_from, tp, &t, &extra, err);
    else rc = bert_trainer_open(p->model_dir, tp, &t, &created, err);
    if (rc == BERT_OK && created) created_notice(p, tp, created);
    if (rc == BERT_OK && p->resume_from && !extra)
        rc = bert_fail(err, BERT_ERR_FORMAT, "%s: not a resumable checkpoint (no data position)", p->resume_from);
    if (rc == BERT_OK) {
        bert_train_source src = train_epochs_source(&ep);
        lp->resume_state = extra;
        rc = bert_train_loop(t, &src, lp, r, err);
        lp->resume_state = NULL;
    }
    free(extra);
    bert_trainer_free(t);
    train_epochs_free(&ep);
    return rc;
}

bert_status bert_finetune(const bert_finetune_params *params, bert_loop_result *result, bert_error *err) {
    bert_error_clear(err);
    bert_loop_result local;
    bert_loop_result *r = train_result_start(result, &local);
    if (!params || !params->model_dir || !params->output_dir)
        return bert_fail(err, BERT_ERR_INPUT, "fine-tuning needs a model directory and an output directory");
    bert_finetune_params p = *params;
    int writer = bert_dist_rank(p.train.dist) == 0;
    if (!writer) p.loop.on_event = NULL; /* rank 0 speaks for the job */
    if (p.batch_size >= 1) {
        bert_status rc = train_dp_global_batch(p.train.dist, &p.batch_size, err);
        if (rc != BERT_OK) return rc;
    }
    if (p.preset) {
        bert_status rc = bert_finetune_preset_task(p.preset, &p.task, err);
        if (rc != BERT_OK) return rc;
    }
    const train_task_ops *ops = task_ops(p.task);
    if (!ops) return bert_fail(err, BERT_ERR_INPUT, "fine-tuning trains sequence, token, QA or dialogue tasks (pre-training: bert_pretrain)");
    if (p.batch_size < 1 || p.epochs < 1 || p.max_seq_len < 8)
        return bert_fail(err, BERT_ERR_INPUT, "batch size, epochs must be >= 1 and the maximum length >= 8");
    if (p.train.compute == BERT_COMPUTE_INT8 || p.train.compute == BERT_COMPUTE_TF32 || p.train.compute == BERT_COMPUTE_F16)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, p.eval_only ? "evaluation scores through the trainer, in f32 or bf16 (int8, tf32 and f16 are for the inference commands)"
                                                                : "int8, tf32 and f16 are for inference; train in f32 or bf16");
    if (writer && mkdir(p.output_dir, 0755) != 0 && errno != EEXIST)
        return bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", p.output_dir, strerror(errno));
    bert_train_params tp = p.train;
    tp.task = p.task;
    bert_loop_params lp = p.loop;
    lp.output_dir = p.output_dir;
    int gib = lp.greater_is_better;
    const char *metric = NULL;
    bert_tokenizer *tok = NULL;
    void *state = NULL;
    bert_status rc = bert_tokenizer_load(p.model_dir, &tok, err);
    if (rc == BERT_OK) rc = ops->prepare(&p, tok, &tp, &metric, &gib, &state, err);
    if (rc == BERT_OK && !(lp.metric && *lp.metric)) lp.metric = metric, lp.greater_is_better = gib;
    if (rc == BERT_OK) rc = check_metric(ops, state, lp.metric, err);
    p.loop = lp;
    if (rc == BERT_OK) rc = p.eval_only ? score_only(&p, ops, state, &tp, r, err) : train(&p, ops, state, &tp, &lp, r, err);
    if (writer && (rc == BERT_OK || rc == BERT_ERR_INTERRUPTED)) {
        char best[4096];
        int n = snprintf(best, sizeof best, "%s/best", p.output_dir);
        struct stat st;
        const char *model = p.eval_only ? p.model_dir
                            : n > 0 && (size_t)n < sizeof best && stat(best, &st) == 0 ? best : NULL;
        bert_error ferr;
        bert_status frc = ops->finish(state, &p, model, r, &ferr);
        if (frc != BERT_OK && rc == BERT_OK) {
            rc = frc;
            if (err) *err = ferr;
        }
    }
    if (state) ops->free(state);
    bert_tokenizer_free(tok);
    return rc;
}
