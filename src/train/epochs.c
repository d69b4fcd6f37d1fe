/* epochs.c — shuffled epochs over a task's training items (see epochs.h). */
#include "train/epochs.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_fields.h"
#include "util/error.h"

void train_shuffle(int *order, int n, uint32_t seed) {
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int j = (int)((s >> 33) % (uint64_t)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

bert_status train_epochs_init(train_epochs *e, const train_task_ops *ops, void *state, int batch, int epochs,
                              bert_error *err) {
    memset(e, 0, sizeof *e);
    e->ops = ops, e->state = state, e->batch = batch, e->epochs = epochs;
    e->n_items = ops->n_train(state);
    if (batch < 1) return bert_fail(err, BERT_ERR_INPUT, "batch size %d: must be at least 1", batch);
    if (e->n_items < 1) return bert_fail(err, BERT_ERR_INPUT, "no training examples");
    int lf = ops->label_floats(state);
    e->order = malloc(sizeof *e->order * (size_t)e->n_items);
    e->seqs = calloc((size_t)batch, sizeof *e->seqs);
    e->labels = calloc((size_t)batch * (size_t)(lf > 0 ? lf : 1), sizeof *e->labels);
    if (!e->order || !e->seqs || !e->labels) {
        train_epochs_free(e);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory for the batch buffers");
    }
    return BERT_OK;
}

void train_epochs_free(train_epochs *e) {
    free(e->order), free(e->seqs), free(e->labels);
    e->order = NULL, e->seqs = NULL, e->labels = NULL;
}

/* bert_train_source.next_batch: the next run of the current epoch's order. */
static bert_status next_batch(void *user, bert_trainer *t, bert_batch *b, bert_error *err) {
    train_epochs *e = user;
    memset(b, 0, sizeof *b);
    if (e->epoch >= e->epochs) return BERT_OK;
    if (!e->ordered) {
        if (!e->seeded) e->seed = bert_trainer_random(t);
        e->seeded = 1;
        train_shuffle(e->order, e->n_items, e->seed);
        e->ordered = 1;
    }
    int n = e->n_items - e->pos < e->batch ? e->n_items - e->pos : e->batch;
    long tokens = 0;
    bert_status rc = e->ops->fill(e->state, e->order + e->pos, n, e->seqs, e->labels, &tokens, err);
    if (rc != BERT_OK) return rc;
    b->seqs = e->seqs, b->n = n, b->labels = e->labels, b->tokens = tokens;
    b->epoch = e->epoch + (double)(e->pos + n) / e->n_items;
    b->end_of_epoch = e->pos + n >= e->n_items;
    e->pos += n;
    if (b->end_of_epoch) e->epoch++, e->pos = 0, e->seeded = 0, e->ordered = 0;
    return BERT_OK;
}

/* bert_train_source.position: {"epoch":E,"position":P,"shuffle_seed":S}. */
static int position(void *user, char *json, size_t cap) {
    const train_epochs *e = user;
    int len = snprintf(json, cap, "{\"epoch\":%d,\"position\":%d,\"shuffle_seed\":%u}", e->epoch, e->pos,
                       e->seeded ? e->seed : 0u);
    return len > 0 && (size_t)len < cap;
}

/* bert_train_source.seek: the inverse of position(). At an epoch's start
 * the seed is drawn afresh, as an uninterrupted run draws it. */
static bert_status seek(void *user, const char *json, bert_error *err) {
    train_epochs *e = user;
    cJSON *o = cJSON_Parse(json);
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(o, "epoch"), *pos = cJSON_GetObjectItemCaseSensitive(o, "position"),
                *seed = cJSON_GetObjectItemCaseSensitive(o, "shuffle_seed");
    /* an epoch of this run's: past the last one only at its start (a run that ended) */
    int ok = bert_json_whole(ep, 0, e->epochs) && bert_json_whole(pos, 0, e->n_items - 1) && bert_json_whole(seed, 0, 4294967295.0) &&
             (ep->valuedouble < e->epochs || pos->valuedouble == 0);
    if (ok) {
        e->epoch = (int)ep->valuedouble, e->pos = (int)pos->valuedouble;
        e->seed = (uint32_t)seed->valuedouble;
        e->seeded = e->pos > 0, e->ordered = 0;
    }
    cJSON_Delete(o);
    if (!ok)
        return bert_fail(err, BERT_ERR_FORMAT,
                         "the checkpoint's data position is not {\"epoch\" <= %d, \"position\" < %d, \"shuffle_seed\"} "
                         "of integers >= 0 "
                         "(a checkpoint of another data set, task or number of epochs?)",
                         e->epochs, e->n_items);
    return BERT_OK;
}

/* bert_train_source.evaluate: the task's scoring. */
static bert_status evaluate(void *user, bert_trainer *t, bert_metrics *out, bert_error *err) {
    train_epochs *e = user;
    return e->ops->evaluate(e->state, t, out, err);
}

bert_train_source train_epochs_source(train_epochs *e) {
    return (bert_train_source){.user = e, .next_batch = next_batch, .position = position, .seek = seek,
                               .evaluate = e->ops->evaluate ? evaluate : NULL};
}
