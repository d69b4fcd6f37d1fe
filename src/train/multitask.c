/* multitask.c — bert_multitask: several tasks' data (each read by its task
 * type, task.h) through one trainer with a head per task (multihead.c) and
 * the one training loop (loop.c); the sampler (sampler.c) picks the task of
 * every micro-batch, each task's shuffled epochs (epochs.c) its examples.
 *
 *   tokenizer -> each task: prepare -> trainer with heads (open or resume)
 *   -> bert_train_loop (next_batch: sample a task, select its head, its next
 *   batch; evaluate: every task, its metrics as TASK/METRIC, the mean of the
 *   tasks' own metrics as "score", each task's best saved as OUT/TASK)
 *   -> OUT/shared, report.json -> optionally each task fine-tuned alone. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file.h"
#include "io/fs.h"
#include "io/json_fields.h"
#include "train/data_parallel.h"
#include "train/epochs.h"
#include "train/notice.h"
#include "train/result.h"
#include "train/sampler.h"
#include "train/task.h"
#include "train/trainer.h"
#include "util/error.h"

typedef struct {
    const char *name;
    bert_finetune_params p;   /* the task's data options, resolved */
    const train_task_ops *ops;
    void *state;
    bert_train_params tp;     /* its labels and problem, from prepare */
    const char *metric;       /* its own metric (for "score" and its best) */
    int gib;                  /* greater is better */
    train_epochs ep;
    int ep_ready;
    long drawn;               /* its batches handed out */
    double best;              /* its own best metric, NAN before the first evaluation */
    long best_step;
    char names[BERT_MAX_METRICS][96]; /* "TASK/METRIC" */
    FILE *log;                /* OUT/log-TASK.jsonl */
} mt_task;

typedef struct {
    const bert_multitask_params *p;
    mt_task t[BERT_MAX_HEADS];
    int n;
    train_sampler sampler;
    long epoch_batches, batches; /* batches in a multi-task epoch; handed out so far */
    int writer;               /* this process writes the run's files (rank 0) */
} mt_run;

bert_multitask_params bert_multitask_default_params(void) {
    bert_multitask_params p;
    memset(&p, 0, sizeof p);
    p.sampler = (bert_sampler_params){BERT_SAMPLING_PROPORTIONAL, 2.0, 0.2};
    p.epochs = 3;
    p.train = bert_train_default_params();
    p.train.lr = 5e-5;
    p.loop = bert_loop_default_params();
    p.loop.metric = "score";
    return p;
}

static const train_task_ops *ops_of(bert_task task) {
    return task == BERT_TASK_SEQUENCE ? &train_task_sequence : task == BERT_TASK_TOKEN ? &train_task_token : NULL;
}

/* Names that would collide with what a run writes in OUT: its own
 * directories and files, another task's log, and the temporary names of
 * atomic saves (NAME.tmp, NAME.old). */
static int reserved(const char *name) {
    static const char *const words[] = {"shared", "best", "logs", "finetune", "report.json", "log.jsonl"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strcmp(name, words[i]) == 0) return 1;
    size_t n = strlen(name);
    return strncmp(name, "checkpoint-", 11) == 0 || strncmp(name, "log-", 4) == 0 ||
           (n > 4 && (strcmp(name + n - 4, ".tmp") == 0 || strcmp(name + n - 4, ".old") == 0));
}

/* Task k's name, type and sizes, checked before any data is read. */
static bert_status name_task(mt_run *r, int k, bert_error *err) {
    const bert_multitask_task *src = &r->p->tasks[k];
    mt_task *m = &r->t[k];
    m->p = src->data;
    m->best = NAN, m->best_step = -1;
    bert_status rc = m->p.preset ? bert_finetune_preset_task(m->p.preset, &m->p.task, err) : BERT_OK;
    if (rc != BERT_OK) return bert_error_prefix(err, "task %d", k + 1);
    m->name = src->name ? src->name : m->p.preset;
    if (!m->name) return bert_fail(err, BERT_ERR_INPUT, "task %d: a task without a preset needs a name", k + 1);
    if (!train_head_name_ok(m->name))
        return bert_fail(err, BERT_ERR_INPUT, "task name '%s' must be 1..64 of A-Z a-z 0-9 _ . - (not starting with '.')", m->name);
    if (reserved(m->name)) return bert_fail(err, BERT_ERR_INPUT, "task name '%s' is reserved (it names a run's output)", m->name);
    for (int j = 0; j < k; j++)
        if (strcmp(r->t[j].name, m->name) == 0) return bert_fail(err, BERT_ERR_INPUT, "task '%s' given twice", m->name);
    if (!(m->ops = ops_of(m->p.task)))
        return bert_fail(err, BERT_ERR_INPUT, "task '%s': multi-task runs train sequence and token tasks", m->name);
    if (m->p.batch_size < 1 || m->p.max_seq_len < 8)
        return bert_fail(err, BERT_ERR_INPUT, "task '%s': batch size must be >= 1 and the maximum length >= 8", m->name);
    return BERT_OK;
}

/* Task k's data: read and featurise it. */
static bert_status prepare_task(mt_run *r, int k, const bert_tokenizer *tok, bert_error *err) {
    mt_task *m = &r->t[k];
    m->p.model_dir = r->p->model_dir, m->p.output_dir = r->p->output_dir;
    m->p.eval_only = 0, m->p.resume_from = NULL;
    m->p.loop.on_event = r->p->loop.on_event, m->p.loop.on_event_user = r->p->loop.on_event_user;
    m->tp = r->p->train;
    m->tp.task = m->p.task, m->tp.heads = NULL, m->tp.n_heads = 0;
    if (m->p.problem_given) m->tp.problem = m->p.train.problem;
    m->gib = 1;
    const char *own = m->p.loop.metric;
    bert_status rc = m->ops->prepare(&m->p, tok, &m->tp, &m->metric, &m->gib, &m->state, err);
    if (rc == BERT_OK && own && *own) m->metric = own, m->gib = !(strstr(own, "loss") != NULL);
    if (rc == BERT_OK) rc = train_dp_global_batch(r->p->train.dist, &m->p.batch_size, err); /* per rank -> global */
    if (rc == BERT_OK) rc = train_epochs_init(&m->ep, m->ops, m->state, m->p.batch_size, INT_MAX, err);
    m->ep_ready = rc == BERT_OK;
    if (rc != BERT_OK) return bert_error_prefix(err, "task '%s'", m->name);
    const char *const *names = m->ops->metric_names(m->state);
    int i = 0;
    while (names[i] && strcmp(names[i], m->metric) != 0) i++;
    if (!names[i]) return bert_fail(err, BERT_ERR_INPUT, "task '%s': metric '%s' is not one it reports", m->name, m->metric);
    return BERT_OK;
}

/* loop.metric: "score", or TASK/METRIC of a task's reported metrics. */
static bert_status check_metric(const mt_run *r, const char *metric, bert_error *err) {
    if (!metric || !*metric || strcmp(metric, "score") == 0) return BERT_OK;
    const char *slash = strchr(metric, '/');
    for (int k = 0; slash && k < r->n; k++) {
        if (strlen(r->t[k].name) != (size_t)(slash - metric) || strncmp(metric, r->t[k].name, (size_t)(slash - metric)) != 0)
            continue;
        const char *const *names = r->t[k].ops->metric_names(r->t[k].state);
        for (int i = 0; names[i]; i++)
            if (strcmp(names[i], slash + 1) == 0) return BERT_OK;
    }
    return bert_fail(err, BERT_ERR_INPUT, "metric '%s': use score or TASK/METRIC with a metric the task reports", metric);
}

/* ---- the source ---- */

static bert_status next_batch(void *user, bert_trainer *t, bert_batch *b, bert_error *err) {
    mt_run *r = user;
    int k = train_sampler_next(&r->sampler, bert_trainer_steps(t), bert_trainer_total_steps(t));
    bert_status rc = bert_trainer_select(t, k, err);
    bert_train_source s = train_epochs_source(&r->t[k].ep);
    if (rc == BERT_OK) rc = s.next_batch(s.user, t, b, err);
    if (rc != BERT_OK) return bert_error_prefix(err, "task '%s'", r->t[k].name);
    r->t[k].drawn++, r->batches++;
    b->epoch = (double)r->batches / (double)r->epoch_batches;
    b->end_of_epoch = r->batches % r->epoch_batches == 0;
    return BERT_OK;
}

/* {"sampler":{"state","inc","drawn"},"batches":B,"tasks":[{epoch, position,
 * shuffle_seed, drawn, best, best_step}...]} */
static int position(void *user, char *json, size_t cap) {
    mt_run *r = user;
    int len = snprintf(json, cap, "{\"sampler\":{\"state\":\"%llu\",\"inc\":\"%llu\",\"drawn\":%ld},\"batches\":%ld,\"tasks\":[",
                       (unsigned long long)r->sampler.rng.state, (unsigned long long)r->sampler.rng.inc, r->sampler.drawn,
                       r->batches);
    for (int k = 0; k < r->n && len > 0 && (size_t)len < cap; k++) {
        const mt_task *m = &r->t[k];
        char best[40];
        if (isnan(m->best)) snprintf(best, sizeof best, "null");
        else snprintf(best, sizeof best, "%.17g", m->best);
        len += snprintf(json + len, cap - (size_t)len,
                        "%s{\"epoch\":%d,\"position\":%d,\"shuffle_seed\":%u,\"drawn\":%ld,\"best\":%s,\"best_step\":%ld}",
                        k ? "," : "", m->ep.epoch, m->ep.pos, m->ep.seeded ? m->ep.seed : 0u, m->drawn, best, m->best_step);
    }
    if (len > 0 && (size_t)len + 3 < cap) len += snprintf(json + len, cap - (size_t)len, "]}");
    return len > 0 && (size_t)len < cap;
}

/* *out = v when it is an integer in [min, 9e15]. */
static int count_of(const cJSON *v, double min, long *out) {
    if (!bert_json_whole(v, min, 9e15)) return 0;
    *out = (long)v->valuedouble;
    return 1;
}

/* One task's entry of the position: its epochs' position, then its own. */
static int seek_task(mt_task *m, const cJSON *e, bert_error *err) {
    cJSON *sub = cJSON_CreateObject();
    static const char *const keys[] = {"epoch", "position", "shuffle_seed"};
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, keys[i]);
        if (v) cJSON_AddItemToObject(sub, keys[i], cJSON_Duplicate(v, 0));
    }
    char *text = cJSON_PrintUnformatted(sub);
    cJSON_Delete(sub);
    bert_train_source s = train_epochs_source(&m->ep);
    bert_status rc = text ? s.seek(s.user, text, err) : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    free(text);
    if (rc != BERT_OK) return 0;
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(e, "best");
    if (!count_of(cJSON_GetObjectItemCaseSensitive(e, "drawn"), 0, &m->drawn) ||
        !count_of(cJSON_GetObjectItemCaseSensitive(e, "best_step"), -1, &m->best_step) ||
        !(cJSON_IsNull(best) || (cJSON_IsNumber(best) && isfinite(best->valuedouble))))
        return bert_fail(err, BERT_ERR_FORMAT, "task '%s': drawn, best or best_step is not valid", m->name), 0;
    m->best = cJSON_IsNull(best) ? NAN : best->valuedouble;
    return 1;
}

static bert_status seek(void *user, const char *json, bert_error *err) {
    mt_run *r = user;
    cJSON *o = cJSON_Parse(json);
    const cJSON *smp = cJSON_GetObjectItemCaseSensitive(o, "sampler"), *tasks = cJSON_GetObjectItemCaseSensitive(o, "tasks");
    uint64_t state = 0, inc = 0;
    int ok = cJSON_IsArray(tasks) && cJSON_GetArraySize(tasks) == r->n &&
             bert_json_u64_string(cJSON_GetObjectItemCaseSensitive(smp, "state"), &state) &&
             bert_json_u64_string(cJSON_GetObjectItemCaseSensitive(smp, "inc"), &inc) && (inc & 1) &&
             count_of(cJSON_GetObjectItemCaseSensitive(smp, "drawn"), 0, &r->sampler.drawn) &&
             count_of(cJSON_GetObjectItemCaseSensitive(o, "batches"), 0, &r->batches);
    bert_status rc = ok ? BERT_OK
                        : bert_fail(err, BERT_ERR_FORMAT,
                                    "the checkpoint's data position is not a multi-task position of %d tasks", r->n);
    if (rc == BERT_OK) r->sampler.rng.state = state, r->sampler.rng.inc = inc;
    for (int k = 0; rc == BERT_OK && k < r->n; k++)
        if (!seek_task(&r->t[k], cJSON_GetArrayItem(tasks, k), err)) rc = bert_error_prefix(err, "checkpoint");
    cJSON_Delete(o);
    return rc;
}

/* Task k's evaluation: its metrics into out as TASK/METRIC, its log line,
 * its own best saved as OUT/TASK; *own = its metric (negated when lower
 * is better). */
static bert_status evaluate_task(mt_run *r, int k, bert_trainer *t, bert_metrics *out, double *own, bert_error *err) {
    mt_task *m = &r->t[k];
    bert_metrics mk = {0};
    bert_status rc = bert_trainer_select(t, k, err);
    if (rc == BERT_OK) rc = m->ops->evaluate(m->state, t, &mk, err);
    if (rc != BERT_OK) return bert_error_prefix(err, "task '%s'", m->name);
    double v = NAN;
    bert_metrics_get(&mk, m->metric, &v);
    *own = m->gib ? v : -v;
    int improved = isnan(m->best) || (m->gib ? v > m->best : v < m->best);
    char line[2048];
    int len = snprintf(line, sizeof line, "{\"step\":%ld,\"drawn\":%ld", bert_trainer_steps(t), m->drawn);
    for (int i = 0; i < mk.n && i < BERT_MAX_METRICS; i++) {
        snprintf(m->names[i], sizeof m->names[i], "%s/%s", m->name, mk.name[i]);
        bert_metrics_set(out, m->names[i], mk.value[i]);
        if (len > 0 && (size_t)len < sizeof line)
            len += snprintf(line + len, sizeof line - (size_t)len, ",\"eval_%s\":%.6f", mk.name[i], mk.value[i]);
    }
    if (len > 0 && (size_t)len < sizeof line) snprintf(line + len, sizeof line - (size_t)len, ",\"best\":%s}", improved ? "true" : "false");
    if (m->log && (fprintf(m->log, "%s\n", line) < 0 || fflush(m->log) != 0))
        return bert_fail(err, BERT_ERR_IO, "%s/log-%s.jsonl: write failed", r->p->output_dir, m->name);
    if (!improved) return BERT_OK;
    if (!r->writer) return m->best = v, m->best_step = bert_trainer_steps(t), BERT_OK;
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/%s", r->p->output_dir, m->name) >= (int)sizeof dir)
        return bert_fail(err, BERT_ERR_INPUT, "%s: output path too long", r->p->output_dir);
    rc = bert_trainer_save_head(t, k, dir, err);
    if (rc == BERT_OK) m->best = v, m->best_step = bert_trainer_steps(t);
    return rc;
}

static bert_status evaluate(void *user, bert_trainer *t, bert_metrics *out, bert_error *err) {
    mt_run *r = user;
    double sum = 0;
    bert_metrics_set(out, "score", 0); /* first: it is never the one dropped past BERT_MAX_METRICS */
    for (int k = 0; k < r->n; k++) {
        double own;
        bert_status rc = evaluate_task(r, k, t, out, &own, err);
        if (rc != BERT_OK) return rc;
        sum += own;
    }
    bert_metrics_set(out, "score", sum / r->n);
    return BERT_OK;
}

/* ---- the run ---- */

/* OUT/log-TASK.jsonl for every task: truncated, or appended to on resume. */
static bert_status open_logs(mt_run *r, int resumed, bert_error *err) {
    for (int k = 0; k < r->n; k++) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/log-%s.jsonl", r->p->output_dir, r->t[k].name) >= (int)sizeof path)
            return bert_fail(err, BERT_ERR_INPUT, "%s: output path too long", r->p->output_dir);
        bert_status rc = bert_file_open_log(path, resumed, &r->t[k].log, err);
        if (rc != BERT_OK) return rc;
    }
    return BERT_OK;
}

/* What an interrupted earlier run left of OUT/TASK and OUT/shared. */
static int owned(void *user, const char *name, int is_dir) {
    const mt_run *r = user;
    if (!is_dir) return 0;
    if (strcmp(name, "shared") == 0) return 1;
    for (int k = 0; k < r->n; k++)
        if (strcmp(name, r->t[k].name) == 0) return 1;
    return 0;
}

/* Open (or resume) the trainer with one head per task and run the loop. */
static bert_status train(mt_run *r, bert_trainer **out, bert_loop_result *res, bert_error *err) {
    const bert_multitask_params *p = r->p;
    bert_head_spec heads[BERT_MAX_HEADS];
    long sizes[BERT_MAX_HEADS];
    r->epoch_batches = 0;
    for (int k = 0; k < r->n; k++) {
        const mt_task *m = &r->t[k];
        heads[k] = (bert_head_spec){m->name, m->p.task, m->tp.problem, m->tp.num_labels, m->tp.labels,
                                    p->tasks[k].loss_weight};
        sizes[k] = m->ep.n_items;
        r->epoch_batches += (m->ep.n_items + m->ep.batch - 1) / m->ep.batch;
    }
    bert_train_params tp = p->train;
    tp.heads = heads, tp.n_heads = r->n;
    int accum = tp.grad_accum > 0 ? tp.grad_accum : 1;
    tp.total_steps = p->max_steps > 0 ? p->max_steps : (r->epoch_batches + accum - 1) / accum * p->epochs;
    bert_status rc = train_sampler_init(&r->sampler, &p->sampler, sizes, r->n, tp.seed, err);
    char *extra = NULL;
    if (rc == BERT_OK && r->writer) rc = bert_dir_clean_leftovers(p->output_dir, owned, r, NULL, err);
    if (rc == BERT_OK && p->resume_from) rc = bert_trainer_resume(p->resume_from, &tp, out, &extra, err);
    else if (rc == BERT_OK) rc = bert_trainer_open(p->model_dir, &tp, out, NULL, err);
    if (rc == BERT_OK && p->resume_from && !extra)
        rc = bert_fail(err, BERT_ERR_FORMAT, "%s: not a resumable checkpoint (no data position)", p->resume_from);
    if (rc == BERT_OK && r->writer) rc = open_logs(r, p->resume_from != NULL, err);
    if (rc == BERT_OK) {
        bert_train_source src = {.user = r, .next_batch = next_batch, .position = position, .seek = seek, .evaluate = evaluate};
        bert_loop_params lp = p->loop;
        lp.output_dir = p->output_dir, lp.model_dir = NULL, lp.resume_state = extra;
        if (!lp.metric || !*lp.metric) lp.metric = "score", lp.greater_is_better = 1;
        rc = bert_train_loop(*out, &src, &lp, res, err);
    }
    free(extra);
    return rc;
}

/* After the loop: OUT/shared (the encoder of OUT/best, or the last one),
 * and OUT/TASK for a task never evaluated. */
static bert_status finish_models(mt_run *r, bert_trainer *t, bert_error *err) {
    char best[PATH_MAX], shared[PATH_MAX];
    snprintf(best, sizeof best, "%s/best", r->p->output_dir);
    if (snprintf(shared, sizeof shared, "%s/shared", r->p->output_dir) >= (int)sizeof shared)
        return bert_fail(err, BERT_ERR_INPUT, "%s: output path too long", r->p->output_dir);
    struct stat st;
    bert_status rc = stat(best, &st) == 0 ? bert_dir_copy(best, shared, err) : bert_trainer_save(t, shared, 0, NULL, err);
    for (int k = 0; rc == BERT_OK && k < r->n; k++) {
        if (r->t[k].best_step >= 0) continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", r->p->output_dir, r->t[k].name);
        rc = bert_trainer_save_head(t, k, dir, err);
    }
    return rc;
}

/* Point the result's metric names at its own storage: the run's copies
 * are freed when bert_multitask returns. */
static void keep_names(bert_loop_result *res) {
    int n = 0;
    bert_metrics *ms[2] = {&res->best_metrics, &res->last_metrics};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < ms[k]->n; i++) {
            int j = 0;
            while (j < n && strcmp(res->name_store[j], ms[k]->name[i]) != 0) j++;
            if (j == n && n < BERT_MAX_METRICS) snprintf(res->name_store[n++], sizeof res->name_store[0], "%s", ms[k]->name[i]);
            ms[k]->name[i] = j < n ? res->name_store[j] : "";
        }
}

static const char *const sampling_names[] = {"proportional", "uniform", "temperature", "annealed", "round-robin"};

/* OUT/report.json: the run, the combined best and every task's own. */
static bert_status write_report(const mt_run *r, const bert_loop_result *res, const bert_loop_result *ft, bert_error *err) {
    cJSON *o = cJSON_CreateObject(), *tasks = cJSON_AddArrayToObject(o, "tasks");
    cJSON_AddStringToObject(o, "sampling", sampling_names[r->p->sampler.strategy]);
    cJSON_AddNumberToObject(o, "steps", (double)res->steps);
    cJSON_AddStringToObject(o, "metric", r->p->loop.metric && *r->p->loop.metric ? r->p->loop.metric : "score");
    if (res->best_step >= 0) cJSON_AddNumberToObject(o, "best", res->best), cJSON_AddNumberToObject(o, "best_step", (double)res->best_step);
    for (int k = 0; k < r->n; k++) {
        const mt_task *m = &r->t[k];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", m->name);
        if (m->p.preset) cJSON_AddStringToObject(e, "preset", m->p.preset);
        cJSON_AddNumberToObject(e, "train_examples", m->ep.n_items);
        cJSON_AddNumberToObject(e, "batches_drawn", (double)m->drawn);
        cJSON_AddStringToObject(e, "metric", m->metric);
        if (m->best_step >= 0) cJSON_AddNumberToObject(e, "best", m->best), cJSON_AddNumberToObject(e, "best_step", (double)m->best_step);
        for (int i = 0; i < res->best_metrics.n; i++) { /* its metrics at the combined best */
            size_t ln = strlen(m->name);
            const char *nm = res->best_metrics.name[i];
            if (strncmp(nm, m->name, ln) == 0 && nm[ln] == '/')
                cJSON_AddNumberToObject(e, nm + ln + 1, res->best_metrics.value[i]);
        }
        if (ft) cJSON_AddNumberToObject(e, "finetuned_best", ft[k].best);
        cJSON_AddItemToArray(tasks, e);
    }
    char *text = cJSON_Print(o), path[PATH_MAX];
    cJSON_Delete(o);
    bert_status rc = text ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK && snprintf(path, sizeof path, "%s/report.json", r->p->output_dir) >= (int)sizeof path)
        rc = bert_fail(err, BERT_ERR_INPUT, "%s: output path too long", r->p->output_dir);
    if (rc == BERT_OK) rc = bert_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* MT-DNN's second stage: each task alone from OUT/TASK into OUT/finetune/TASK. */
static bert_status finetune_each(const mt_run *r, bert_loop_result *ft, bert_error *err) {
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s/finetune", r->p->output_dir);
    if (r->writer && mkdir(root, 0755) != 0 && errno != EEXIST) return bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", root, strerror(errno));
    for (int k = 0; k < r->n; k++) {
        const mt_task *m = &r->t[k];
        char model[PATH_MAX], out[PATH_MAX];
        snprintf(model, sizeof model, "%s/%s", r->p->output_dir, m->name);
        if (snprintf(out, sizeof out, "%s/%s", root, m->name) >= (int)sizeof out)
            return bert_fail(err, BERT_ERR_INPUT, "%s: output path too long", root);
        bert_finetune_params fp = r->p->tasks[k].data;
        fp.model_dir = model, fp.output_dir = out, fp.eval_only = 0, fp.resume_from = NULL, fp.max_steps = 0;
        fp.epochs = r->p->finetune_epochs > 0 ? r->p->finetune_epochs : 3;
        fp.train = r->p->train;
        fp.train.heads = NULL, fp.train.n_heads = 0;
        fp.train.problem = m->tp.problem; /* the task's own, as the first stage trained it */
        fp.loop = bert_loop_default_params();
        fp.loop.metric = m->metric, fp.loop.greater_is_better = m->gib;
        fp.loop.on_event = r->p->loop.on_event, fp.loop.on_event_user = r->p->loop.on_event_user;
        fp.loop.interrupt = r->p->loop.interrupt;
        train_notice(&r->p->loop, 0, 0, "fine-tuning %s alone from %s", m->name, model);
        bert_status rc = bert_finetune(&fp, &ft[k], err);
        if (rc != BERT_OK) return bert_error_prefix(err, "fine-tuning %s", m->name);
    }
    return BERT_OK;
}

bert_status bert_multitask(const bert_multitask_params *params, bert_loop_result *result, bert_error *err) {
    bert_error_clear(err);
    bert_loop_result local;
    bert_loop_result *res = train_result_start(result, &local);
    if (!params) return bert_fail(err, BERT_ERR_INPUT, "multi-task training needs parameters");
    bert_multitask_params q = *params;
    int writer = bert_dist_rank(q.train.dist) == 0; /* rank 0 writes and speaks for the job */
    if (!writer) q.loop.on_event = NULL;
    const bert_multitask_params *p = &q;
    if (!p->model_dir || !p->output_dir) return bert_fail(err, BERT_ERR_INPUT, "multi-task training needs a model directory and an output directory");
    if (p->n_tasks < 1 || p->n_tasks > BERT_MAX_HEADS || !p->tasks)
        return bert_fail(err, BERT_ERR_INPUT, "multi-task training takes 1..%d tasks", BERT_MAX_HEADS);
    if (p->epochs < 1 && p->max_steps <= 0) return bert_fail(err, BERT_ERR_INPUT, "epochs must be >= 1");
    if (p->train.compute == BERT_COMPUTE_INT8 || p->train.compute == BERT_COMPUTE_TF32 || p->train.compute == BERT_COMPUTE_F16)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "int8, tf32 and f16 are for inference; train in f32 or bf16");
    if (writer && mkdir(p->output_dir, 0755) != 0 && errno != EEXIST)
        return bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", p->output_dir, strerror(errno));
    mt_run *r = calloc(1, sizeof *r);
    if (!r) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    r->p = p, r->n = p->n_tasks, r->writer = writer;
    bert_tokenizer *tok = NULL;
    bert_trainer *t = NULL;
    bert_loop_result *ft = NULL;
    bert_status rc = BERT_OK;
    for (int k = 0; rc == BERT_OK && k < r->n; k++) rc = name_task(r, k, err);
    if (rc == BERT_OK) rc = bert_tokenizer_load(p->model_dir, &tok, err);
    for (int k = 0; rc == BERT_OK && k < r->n; k++) rc = prepare_task(r, k, tok, err);
    if (rc == BERT_OK) rc = check_metric(r, p->loop.metric, err);
    if (rc == BERT_OK) rc = train(r, &t, res, err);
    if (rc == BERT_OK && writer) rc = finish_models(r, t, err);
    bert_trainer_free(t);
    if (rc == BERT_OK && p->then_finetune && !(ft = calloc((size_t)r->n, sizeof *ft))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    double barrier = 0; /* the second stage reads OUT/TASK: every rank waits for rank 0 to have written them */
    if (rc == BERT_OK && ft) rc = bert_dist_sum(p->train.dist, &barrier, 1, err);
    if (rc == BERT_OK && ft) rc = finetune_each(r, ft, err);
    if (rc == BERT_OK && writer) rc = write_report(r, res, ft, err);
    keep_names(res);
    for (int k = 0; k < r->n; k++) {
        mt_task *m = &r->t[k];
        if (m->log && fclose(m->log) != 0 && rc == BERT_OK) rc = bert_fail(err, BERT_ERR_IO, "log-%s.jsonl: write failed", m->name);
        if (m->ep_ready) train_epochs_free(&m->ep);
        if (m->state) m->ops->free(m->state);
    }
    free(ft);
    free(r);
    bert_tokenizer_free(tok);
    return rc;
}
