/* loop.c — bert_train_loop: the one training loop every task type runs.
 *
 * In the order things happen, for each micro-batch the source hands out:
 *   bert_trainer_backward; once grad_accum micro-batches are in: the
 *   before_step seam, bert_trainer_apply (clip + AdamW), then a log line
 *   every log_steps steps, an evaluation (every eval_steps, at epoch ends,
 *   at the last step) that may write OUT/best and stop early, a checkpoint
 *   (every save_steps, at epoch ends, at stop_at_step) with the newest
 *   save_total_limit kept. An interrupt is honoured between optimizer
 *   steps, where a checkpoint captures the whole state.
 * Data-parallel (the trainer's dist of several ranks): every rank runs
 * the same loop; rank 0 alone writes (log, models, checkpoints, rotation,
 * cleaning) and sends events; the logged loss is summed over the ranks
 * (each holds its share of every micro-batch's mean); an interrupt on any
 * rank stops all of them at the same step. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train/leftovers.h"
#include "train/notice.h"
#include "util/clock.h"
#include "bert.h"
#include "io/file.h"
#include "io/fs.h"
#include "train/result.h"
#include "train/data_parallel.h"
#include "train/trainer.h"
#include "util/error.h"

void bert_metrics_set(bert_metrics *m, const char *name, double value) {
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->name[i], name) == 0) {
            m->value[i] = value;
            return;
        }
    if (m->n == BERT_MAX_METRICS) return;
    m->name[m->n] = name;
    m->value[m->n++] = value;
}

int bert_metrics_get(const bert_metrics *m, const char *name, double *value) {
    for (int i = 0; m && name && i < m->n; i++)
        if (strcmp(m->name[i], name) == 0) {
            if (value) *value = m->value[i];
            return 1;
        }
    return 0;
}

bert_loop_params bert_loop_default_params(void) {
    return (bert_loop_params){.log_steps = 10, .eval_at_epoch_end = 1, .save_at_epoch_end = 1, .save_total_limit = 2,
                              .greater_is_better = 1};
}

/* One run's state. */
typedef struct {
    bert_trainer *t;
    const bert_train_source *src;
    const bert_loop_params *p;
    bert_loop_result *r;
    FILE *log;
    double t0, loss_sum;
    long first_step, loss_n;
    long last_eval, last_save; /* steps of the newest evaluation and checkpoint */
    int bad_evals, stop;
    int interrupt;       /* an interrupt was seen (on any rank) */
    bert_dist *dist;     /* the trainer's; NULL or a job of one when alone */
    int writer;          /* this process writes (rank 0) */
} loop_run;


static void emit(const loop_run *L, bert_event *e) {
    e->step = bert_trainer_steps(L->t);
    e->total_steps = bert_trainer_total_steps(L->t);
    if (L->p->on_event && L->writer) L->p->on_event(L->p->on_event_user, e);
}

/* OUT/name into buf; BERT_ERR_INPUT when it does not fit. */
static bert_status out_path(const loop_run *L, char *buf, size_t cap, const char *name, bert_error *err) {
    int n = snprintf(buf, cap, "%s/%s", L->p->output_dir, name);
    if (n < 0 || (size_t)n >= cap) return bert_fail(err, BERT_ERR_INPUT, "%s: output path too long", L->p->output_dir);
    return BERT_OK;
}

/* Append one JSON line to log.jsonl and flush it. */
static bert_status log_line(const loop_run *L, const char *line, bert_error *err) {
    if (!L->writer) return BERT_OK;
    if (fprintf(L->log, "%s\n", line) < 0 || fflush(L->log) != 0)
        return bert_fail(err, BERT_ERR_IO, "%s/log.jsonl: write failed: %s", L->p->output_dir, strerror(errno));
    return BERT_OK;
}

/* The train line: mean loss of the micro-batches since the last line. */
static bert_status log_train(loop_run *L, double epoch, bert_error *err) {
    long step = bert_trainer_steps(L->t), total = bert_trainer_total_steps(L->t);
    double el = bert_now_s() - L->t0, tps = (double)L->r->tokens / (el > 0 ? el : 1), loss_sum = L->loss_sum;
    bert_status rc = bert_dist_sum(L->dist, &loss_sum, 1, err); /* the ranks' shares of each mean */
    if (rc != BERT_OK) return bert_error_prefix(err, "step %ld: the loss", step);
    bert_event e = {.kind = BERT_EVENT_TRAIN, .epoch = epoch, .loss = loss_sum / (double)L->loss_n,
                    .lr = bert_trainer_lr(L->t), .grad_norm = bert_trainer_grad_norm(L->t), .tokens_per_s = tps,
                    .eta_s = step > L->first_step ? (double)(total - step) * el / (double)(step - L->first_step) : 0};
    char line[512];
    snprintf(line, sizeof line, "{\"step\":%ld,\"epoch\":%.3f,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.4f,\"tokens_per_s\":%.0f}",
             step, epoch, e.loss, e.lr, e.grad_norm, tps);
    L->loss_sum = 0, L->loss_n = 0;
    emit(L, &e);
    return log_line(L, line, err);
}

static bert_status save_model(const loop_run *L, const char *name, bert_error *err) {
    if (!L->writer) return BERT_OK;
    char path[4096];
    bert_status rc = out_path(L, path, sizeof path, name, err);
    return rc != BERT_OK ? rc : bert_trainer_save(L->t, path, 0, NULL, err);
}

/* Score the model: log it, keep the best (OUT/best), count patience,
 * refresh OUT/<model_dir>. */
static bert_status evaluate(loop_run *L, bert_error *err) {
    const bert_loop_params *p = L->p;
    bert_metrics m = {0};
    bert_status rc = L->src->evaluate(L->src->user, L->t, &m, err);
    if (rc != BERT_OK) return bert_error_prefix(err, "evaluation at step %ld", bert_trainer_steps(L->t));
    /* One JSON object per line, whole: a metric that would not fit is left
     * out (BERT_MAX_METRICS x a 64-byte name and a number fit). */
    char line[16384];
    int len = snprintf(line, sizeof line, "{\"step\":%ld", bert_trainer_steps(L->t));
    for (int i = 0; i < m.n; i++) {
        char item[160];
        int k = snprintf(item, sizeof item, ",\"eval_%s\":%.6f", m.name[i], m.value[i]);
        if (k < 0 || (size_t)k >= sizeof item || (size_t)(len + k) + 2 > sizeof line) continue;
        memcpy(line + len, item, (size_t)k), len += k;
    }
    line[len++] = '}', line[len] = 0;
    L->r->last_metrics = m;
    L->last_eval = bert_trainer_steps(L->t);
    bert_event e = {.kind = BERT_EVENT_EVAL, .metrics = &m};
    int ranked = p->metric && *p->metric;
    if (ranked) {
        double v;
        if (!bert_metrics_get(&m, p->metric, &v)) {
            char names[512] = "";
            for (int i = 0; i < m.n; i++) strncat(names, i ? ", " : "", sizeof names - strlen(names) - 1),
                                           strncat(names, m.name[i], sizeof names - strlen(names) - 1);
            return bert_fail(err, BERT_ERR_INPUT, "metric '%s': this task reports %s", p->metric, names);
        }
        e.metric = p->metric, e.metric_value = v;
        e.improved = isnan(L->r->best) || (p->greater_is_better ? v > L->r->best : v < L->r->best);
        if (e.improved) L->r->best = v, L->r->best_step = bert_trainer_steps(L->t), L->r->best_metrics = m;
    }
    emit(L, &e);
    if ((rc = log_line(L, line, err)) != BERT_OK) return rc;
    if (ranked && e.improved) {
        L->bad_evals = 0;
        if ((rc = save_model(L, "best", err)) != BERT_OK) return rc;
    } else if (ranked && p->patience && ++L->bad_evals >= p->patience) {
        bert_event s = {.kind = BERT_EVENT_EARLY_STOP};
        char text[128];
        snprintf(text, sizeof text, "early stopping: %d evaluations without improvement", L->bad_evals);
        s.text = text;
        emit(L, &s);
        L->r->stopped_early = 1, L->stop = 1;
    }
    if (p->model_dir && *p->model_dir) rc = save_model(L, p->model_dir, err);
    return rc;
}

static int by_step(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Remove OUT/checkpoint-* beyond the newest save_total_limit (but not the
 * one a resumed run started from). */
static bert_status rotate(const loop_run *L, bert_error *err) {
    if (L->p->save_total_limit <= 0 || !L->writer) return BERT_OK;
    DIR *d = opendir(L->p->output_dir);
    if (!d) return bert_fail(err, BERT_ERR_IO, "%s: cannot list: %s", L->p->output_dir, strerror(errno));
    long steps[4096];
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) && n < 4096;) {
        char *end;
        if (strncmp(de->d_name, "checkpoint-", 11) != 0) continue;
        long s = strtol(de->d_name + 11, &end, 10);
        if (end != de->d_name + 11 && !*end && s >= 0) steps[n++] = s;
    }
    closedir(d);
    qsort(steps, (size_t)n, sizeof *steps, by_step);
    /* A trainer reads its config and tokenizer files back from the
     * directory it was opened from at every save (a resumed run's
     * checkpoint): that directory is kept, known by its device and inode. */
    struct stat src;
    int has_src = L->t->src_dir && stat(L->t->src_dir, &src) == 0;
    for (int i = 0; i + L->p->save_total_limit < n; i++) {
        char name[64], path[4096];
        snprintf(name, sizeof name, "checkpoint-%ld", steps[i]);
        bert_status rc = out_path(L, path, sizeof path, name, err);
        struct stat st;
        if (rc == BERT_OK && has_src && stat(path, &st) == 0 && st.st_dev == src.st_dev && st.st_ino == src.st_ino) continue;
        if (rc == BERT_OK) rc = bert_dir_remove(path, err);
        if (rc != BERT_OK) return rc;
    }
    return BERT_OK;
}

/* OUT/checkpoint-STEP with the optimizer state, the data position and the
 * loop's own state, then the rotation. */
static bert_status checkpoint(loop_run *L, bert_error *err) {
    char pos[4096], extra[4700], best[40], name[64];
    if (!L->src->position(L->src->user, pos, sizeof pos))
        return bert_fail(err, BERT_ERR_INPUT, "the data position does not fit a checkpoint");
    if (isnan(L->r->best)) snprintf(best, sizeof best, "null");
    else snprintf(best, sizeof best, "%.17g", L->r->best);
    snprintf(extra, sizeof extra, "{\"data\":%s,\"loop\":{\"best\":%s,\"best_step\":%ld,\"bad_evals\":%d}}", pos, best,
             L->r->best_step, L->bad_evals);
    snprintf(name, sizeof name, "checkpoint-%ld", bert_trainer_steps(L->t));
    bert_status rc = out_path(L, L->r->checkpoint, sizeof L->r->checkpoint, name, err);
    if (rc == BERT_OK && L->writer) rc = bert_trainer_save(L->t, L->r->checkpoint, 1, extra, err);
    if (rc != BERT_OK) return rc;
    L->last_save = bert_trainer_steps(L->t);
    bert_event e = {.kind = BERT_EVENT_CHECKPOINT, .text = L->r->checkpoint};
    emit(L, &e);
    return rotate(L, err);
}

/* extra.loop of a checkpoint: "best" a finite number or null, "best_step"
 * an integer from -1 to the trainer's step (>= 0 with a best), "bad_evals"
 * an integer >= 0; anything else is an error naming the field. */
static bert_status restore_loop(loop_run *L, const cJSON *loop, bert_error *err) {
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(loop, "best"),
                *step = cJSON_GetObjectItemCaseSensitive(loop, "best_step"),
                *bad = cJSON_GetObjectItemCaseSensitive(loop, "bad_evals");
    double now = (double)bert_trainer_steps(L->t), s = cJSON_IsNumber(step) ? step->valuedouble : NAN,
           b = cJSON_IsNumber(bad) ? bad->valuedouble : NAN;
    const char *field = !cJSON_IsObject(loop)                                              ? "loop"
                        : !(cJSON_IsNull(best) || (cJSON_IsNumber(best) && isfinite(best->valuedouble))) ? "loop.best"
                        : !(s >= (cJSON_IsNull(best) ? -1 : 0) && s <= now && s == floor(s)) ? "loop.best_step"
                        : !(b >= 0 && b <= 1e9 && b == floor(b))                           ? "loop.bad_evals"
                                                                                           : NULL;
    if (field) return bert_fail(err, BERT_ERR_FORMAT, "the checkpoint's trainer_state.json: extra.%s is not valid", field);
    L->r->best = cJSON_IsNull(best) ? NAN : best->valuedouble;
    L->r->best_step = cJSON_IsNull(best) ? -1 : (long)s, L->bad_evals = (int)b;
    return BERT_OK;
}

/* The loop's and the source's state from a checkpoint's extra_json. A
 * checkpoint without a "data" object holds the data position alone. */
static bert_status restore(loop_run *L, const char *json, bert_error *err) {
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return bert_fail(err, BERT_ERR_FORMAT, "the checkpoint's trainer_state.json has no data position");
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data"), *loop = cJSON_GetObjectItemCaseSensitive(o, "loop");
    char *pos = data ? cJSON_PrintUnformatted(data) : NULL;
    bert_status rc = L->src->seek(L->src->user, pos ? pos : json, err);
    if (rc == BERT_OK && loop) rc = restore_loop(L, loop, err);
    free(pos);
    cJSON_Delete(o);
    return rc;
}

/* Everything after an optimizer step: log, evaluate, checkpoint, stop. */
static bert_status after_step(loop_run *L, const bert_batch *b, bert_error *err) {
    const bert_loop_params *p = L->p;
    long step = bert_trainer_steps(L->t), total = bert_trainer_total_steps(L->t);
    bert_status rc = BERT_OK;
    int last = step >= total, stop_here = p->stop_at_step > 0 && step >= p->stop_at_step;
    if (p->log_steps > 0 && (step % p->log_steps == 0 || step == total)) rc = log_train(L, b->epoch, err);
    int do_eval = (b->end_of_epoch && p->eval_at_epoch_end) || (p->eval_steps > 0 && step % p->eval_steps == 0) || last;
    if (rc == BERT_OK && do_eval && L->src->evaluate) rc = evaluate(L, err);
    int do_save = (p->save_steps > 0 && (step % p->save_steps == 0 || last)) || (b->end_of_epoch && p->save_at_epoch_end) ||
                  stop_here;
    if (rc == BERT_OK && do_save) rc = checkpoint(L, err);
    if (last || stop_here) L->stop = 1;
    if (rc == BERT_OK && stop_here) train_notice(L->p, step, total, "stopped at step %ld; resume from %s", step, L->r->checkpoint);
    return rc;
}

/* The data ended before total_steps: the evaluation and the checkpoint the
 * last step would have had, where they are not already there. */
static bert_status finish_early(loop_run *L, bert_error *err) {
    const bert_loop_params *p = L->p;
    long step = bert_trainer_steps(L->t);
    bert_status rc = BERT_OK;
    if (step > L->first_step && step > L->last_eval && L->src->evaluate) rc = evaluate(L, err);
    if (rc == BERT_OK && step > L->first_step && step > L->last_save && (p->save_steps > 0 || p->save_at_epoch_end))
        rc = checkpoint(L, err);
    return rc;
}

static bert_status interrupted(loop_run *L, bert_error *err);

/* Open log.jsonl (appended to on resume), restore a resumed run's state,
 * evaluate first when asked. */
static bert_status start(loop_run *L, bert_error *err) {
    const bert_loop_params *p = L->p;
    if (!p->output_dir || !*p->output_dir) return bert_fail(err, BERT_ERR_INPUT, "the training loop needs an output directory");
    if (!L->src->next_batch || !L->src->position || !L->src->seek)
        return bert_fail(err, BERT_ERR_INPUT, "the data source lacks next_batch, position or seek");
    if (L->writer && mkdir(p->output_dir, 0755) != 0 && errno != EEXIST)
        return bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", p->output_dir, strerror(errno));
    int cleaned = 0;
    bert_status rc = L->writer ? train_clean_leftovers(p, &cleaned, err) : BERT_OK;
    if (rc != BERT_OK) return rc;
    if (cleaned)
        train_notice(p, bert_trainer_steps(L->t), bert_trainer_total_steps(L->t),
                     "cleaned %d leftover(s) of an interrupted run in %s", cleaned, p->output_dir);
    rc = p->resume_state ? restore(L, p->resume_state, err) : BERT_OK;
    if (rc != BERT_OK) return rc;
    char path[4096];
    if ((rc = out_path(L, path, sizeof path, "log.jsonl", err)) != BERT_OK) return rc;
    if (L->writer && (rc = bert_file_open_log(path, p->resume_state != NULL, &L->log, err)) != BERT_OK) return rc;
    /* The same start on every rank: the same weights and step, and the
     * same answer to "interrupted already?" */
    if (rc == BERT_OK && L->t->dp) rc = train_dp_same_start(L->t->dp, L->t->params, L->t->step, err);
    if (rc == BERT_OK && p->interrupt) rc = interrupted(L, err);
    if (rc == BERT_OK && p->eval_at_start && !p->resume_state && L->src->evaluate && !L->interrupt) rc = evaluate(L, err);
    return rc;
}

/* L->interrupt from the flag, summed over the ranks so that every rank
 * stops at the same step. */
static bert_status interrupted(loop_run *L, bert_error *err) {
    double x = *L->p->interrupt ? 1.0 : 0.0;
    bert_status rc = bert_dist_size(L->dist) > 1 ? bert_dist_sum(L->dist, &x, 1, err) : BERT_OK;
    L->interrupt = x > 0;
    return rc;
}

/* Train on one micro-batch; after the last of grad_accum, or at an epoch's
 * end with fewer accumulated (as transformers' Trainer does), step. */
static bert_status train_batch(loop_run *L, const bert_batch *b, int *stepped, bert_error *err) {
    double loss;
    *stepped = 0;
    bert_status rc = bert_trainer_backward(L->t, b->seqs, b->n, b->labels, &loss, err);
    if (rc != BERT_OK) return bert_error_prefix(err, "step %ld", bert_trainer_steps(L->t) + 1);
    L->loss_sum += loss, L->loss_n++;
    L->r->tokens += b->tokens;
    if (!bert_trainer_step_due(L->t) && !b->end_of_epoch) return BERT_OK;
    /* Data-parallel: the gradients summed over the ranks before the seam sees them. */
    if (L->t->dp && (rc = train_dp_reduce(L->t->dp, err)) != BERT_OK) return rc;
    if (L->p->before_step && (rc = L->p->before_step(L->p->before_step_user, L->t, err)) != BERT_OK) return rc;
    if ((rc = bert_trainer_apply(L->t, err)) != BERT_OK) return rc;
    *stepped = 1;
    return BERT_OK;
}

bert_status bert_train_loop(bert_trainer *t, const bert_train_source *src, const bert_loop_params *params,
                            bert_loop_result *result, bert_error *err) {
    bert_error_clear(err);
    bert_loop_result local;
    bert_loop_result *r = train_result_start(result, &local);
    if (!t || !src || !params) return bert_fail(err, BERT_ERR_INPUT, "bert_train_loop needs a trainer, a source and params");
    loop_run L = {.t = t, .src = src, .p = params, .r = r, .t0 = bert_now_s(), .first_step = bert_trainer_steps(t),
                  .dist = t->p.dist, .writer = bert_dist_rank(t->p.dist) == 0};
    L.last_eval = L.last_save = L.first_step;
    bert_status rc = start(&L, err);
    int pending = 0; /* micro-batches accumulated towards the next step */
    while (rc == BERT_OK && !L.stop && bert_trainer_steps(t) < bert_trainer_total_steps(t)) {
        if (!pending && params->interrupt && (rc = interrupted(&L, err)) != BERT_OK) break;
        if (!pending && params->interrupt && L.interrupt) {
            if ((rc = checkpoint(&L, err)) == BERT_OK)
                rc = bert_fail(err, BERT_ERR_INTERRUPTED, "interrupted at step %ld; checkpoint in %s", bert_trainer_steps(t),
                               r->checkpoint);
            r->interrupted = 1;
            break;
        }
        bert_batch b;
        if ((rc = src->next_batch(src->user, t, &b, err)) != BERT_OK) break;
        if (b.n == 0) {
            rc = finish_early(&L, err);
            break;
        }
        int stepped;
        if ((rc = train_batch(&L, &b, &stepped, err)) != BERT_OK) break;
        pending = stepped ? 0 : pending + 1;
        if (stepped) rc = after_step(&L, &b, err);
    }
    if (rc == BERT_OK && params->model_dir && *params->model_dir) rc = save_model(&L, params->model_dir, err);
    r->steps = bert_trainer_steps(t);
    r->seconds = bert_now_s() - L.t0;
    if (L.log && fclose(L.log) != 0 && rc == BERT_OK)
        rc = bert_fail(err, BERT_ERR_IO, "%s/log.jsonl: write failed", params->output_dir);
    return rc;
}
