/* queue.c — the request queue and the batcher thread: the sequences of
 * embedding and classification jobs (/v1/embeddings, /embed, /embed_all,
 * /predict, /rerank, ...) from all connections run together as ragged
 * batches of up to max_batch_tokens tokens (no padding, so each result is
 * the single request's up to the float summation order); other tasks run
 * one job at a time, in arrival order, on the same thread. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server.h"

struct srv_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_job *head, *tail;
    int depth, max_jobs, max_tokens, closing, C;
    bert_pipeline *p;
    srv_metrics *m;
    pthread_t th;
    /* The batcher's scratch (its thread only). */
    bert_sequence *seqs;
    bert_pooling_spec *spec; /* each entry's sentence pooling (bert_pipeline_embed_pooling) */
    srv_job **owner, **jobs;
    int *index, cap, jobs_cap;
};

/* Seconds on the monotonic clock. */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Free a job and what it owns. */
void srv_job_free(srv_job *job) {
    if (!job) return;
    for (int i = 0; job->seqs && i < job->n_seqs; i++) free((void *)job->seqs[i].input_ids);
    free(job->seqs);
    free(job->out);
    free(job->out_row);
    free(job->prompt_len);
    free(job);
}

/* Grow the scratch arrays to hold n entries and n jobs; 0 when out of memory. */
static int scratch(srv_queue *q, int n) {
    if (n <= q->cap) return 1;
    int c = q->cap ? q->cap : 64;
    while (c < n) c *= 2;
    bert_sequence *s = realloc(q->seqs, (size_t)c * sizeof *s);
    if (s) q->seqs = s;
    srv_job **o = realloc(q->owner, (size_t)c * sizeof *o);
    if (o) q->owner = o;
    int *x = realloc(q->index, (size_t)c * sizeof *x);
    if (x) q->index = x;
    srv_job **j = realloc(q->jobs, (size_t)c * sizeof *j);
    if (j) q->jobs = j;
    bert_pooling_spec *sp = realloc(q->spec, (size_t)c * sizeof *sp);
    if (sp) q->spec = sp;
    if (!s || !o || !x || !j || !sp) return 0;
    q->cap = c;
    return 1;
}

/* Under the lock: take sequences from the embedding and classification jobs at the head, up to
 * the token budget (at least one sequence). Fully taken jobs leave the
 * list. Returns the number of sequences; *n_jobs the jobs concerned. */
static int gather(srv_queue *q, int *n_jobs, long *tokens) {
    int n = 0, nj = 0;
    long budget = q->max_tokens;
    *tokens = 0;
    srv_job *j;
    while ((j = q->head) && !j->task) {
        if (!scratch(q, (n > nj ? n : nj) + 1 + (j->n_seqs - j->next_seq))) break;
        if (!j->t_started) j->t_started = now_s();
        q->jobs[nj++] = j;
        if (j->failed) { /* a failed job's remaining sequences are not run */
            j->done_seqs += j->n_seqs - j->next_seq;
            j->next_seq = j->n_seqs;
        }
        while (j->next_seq < j->n_seqs) {
            int len = j->seqs[j->next_seq].n_tokens;
            if (n > 0 && *tokens + len > budget) break;
            q->seqs[n] = j->seqs[j->next_seq];
            q->owner[n] = j;
            q->index[n] = j->next_seq++;
            *tokens += len;
            n++;
        }
        if (j->next_seq < j->n_seqs) break; /* the budget is spent: the rest goes in the next batch */
        q->head = j->next;
        if (!q->head) q->tail = NULL;
    }
    *n_jobs = nj;
    return n;
}

/* An error about "input K" or "sequence K" (K: the batch entry) made to
 * name the request's input `index` instead. */
static void name_input(bert_error *e, int index) {
    int k, used = 0;
    char rest[sizeof e->message];
    if ((sscanf(e->message, "input %d: %n", &k, &used) == 1 && used > 0) ||
        (sscanf(e->message, "sequence %d: %n", &k, &used) == 1 && used > 0)) {
        snprintf(rest, sizeof rest, "%s", e->message + used);
        snprintf(e->message, sizeof e->message, "input %d: %.480s", index, rest);
        e->item = index;
    }
}

/* Copy the results of batch entry i into its job. */
static void store(srv_queue *q, int i) {
    srv_job *j = q->owner[i];
    const bert_context *ctx = bert_pipeline_context(q->p);
    float *dst = j->out + j->out_row[q->index[i]] * (size_t)j->dim;
    if (j->classify) {
        if (bert_pipeline_classify_output(q->p, i, j->score_fn, dst, &j->err) != BERT_OK) {
            j->failed = 1;
            name_input(&j->err, q->index[i]);
        }
        return;
    }
    if (!j->token_level) {
        if (bert_pipeline_embed_output(q->p, i, &j->ep, j->prompt_len[q->index[i]], dst, &j->err) != BERT_OK) j->failed = 1;
        return;
    }
    const float *h = bert_output_hidden(ctx, i);
    memcpy(dst, h, (size_t)q->seqs[i].n_tokens * (size_t)q->C * sizeof *dst);
}

/* Run one batch of n sequences (the lock not held): the sentence
 * embeddings, each entry pooled as its job asks (so a GPU model sends back
 * those rows, not every token's), when an embedding job has sequences in
 * it, the hidden states when a token-level one has, the classifier logits
 * when a classification job has. A sequence the model refuses (bert_forward names
 * it in err.item) fails its own job only: that job's sequences leave the
 * batch and the rest run again, so one client's bad input never fails
 * another's request. */
static void run_batch(srv_queue *q, int n, long tokens) {
    bert_error err;
    int m = n; /* the batch's entries still to run are 0..m-1 */
    for (int i = 0; i < n; i++) q->owner[i]->done_seqs++;
    srv_metrics_batch(q->m, n, tokens);
    while (m > 0) {
        unsigned outputs = 0;
        for (int i = 0; i < m; i++) {
            const srv_job *j = q->owner[i];
            outputs |= j->classify ? BERT_OUTPUT_CLASSIFIER : j->token_level ? BERT_OUTPUT_HIDDEN : BERT_OUTPUT_SENTENCE;
            q->spec[i] = j->classify || j->token_level ? (bert_pooling_spec){1u << BERT_POOL_MEAN, 0}
                                                       : bert_pipeline_embed_pooling(q->p, &j->ep, j->prompt_len[q->index[i]]);
        }
        if (bert_pipeline_set_pooling(q->p, q->spec, m, &err) == BERT_OK &&
            bert_pipeline_forward(q->p, q->seqs, m, outputs, &err) == BERT_OK) {
            for (int i = 0; i < m; i++)
                if (!q->owner[i]->failed) store(q, i);
            return;
        }
        if (err.item < 0 || err.item >= m) { /* not about one sequence: every job of the batch fails */
            for (int i = 0; i < m; i++) {
                srv_job *j = q->owner[i];
                if (!j->failed) j->err = err, j->failed = 1;
            }
            return;
        }
        srv_job *bad = q->owner[err.item];
        name_input(&err, q->index[err.item]);
        if (!bad->failed) bad->err = err, bad->failed = 1;
        int k = 0; /* keep the entries of the other jobs, in order */
        for (int i = 0; i < m; i++) {
            if (q->owner[i] == bad) continue;
            q->seqs[k] = q->seqs[i], q->owner[k] = q->owner[i], q->index[k] = q->index[i];
            k++;
        }
        m = k;
    }
}

/* Under the lock: mark finished the jobs whose sequences are all done and
 * collect their connections into conns. Returns how many. */
static int finish(srv_queue *q, srv_job **jobs, int nj, struct MHD_Connection **conns) {
    int k = 0;
    double t = now_s();
    for (int i = 0; i < nj; i++) {
        srv_job *j = jobs[i];
        if (j->finished || (!j->task && j->done_seqs < j->n_seqs)) continue;
        j->finished = 1;
        j->t_finished = t;
        q->depth--;
        conns[k++] = j->conn;
    }
    return k;
}

/* The batcher thread. */
static void *batcher(void *arg) {
    srv_queue *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->closing) pthread_cond_wait(&q->cv, &q->mu);
        if (!q->head) break;
        srv_job *j = q->head, *single[1];
        struct MHD_Connection *conns[1];
        if (j->task) {
            q->head = j->next;
            if (!q->head) q->tail = NULL;
            j->t_started = now_s();
            pthread_mutex_unlock(&q->mu);
            j->failed = !j->task(j, q->p);
            pthread_mutex_lock(&q->mu);
            single[0] = j;
            int k = finish(q, single, 1, conns);
            pthread_mutex_unlock(&q->mu);
            for (int i = 0; i < k; i++) MHD_resume_connection(conns[i]);
            pthread_mutex_lock(&q->mu);
            continue;
        }
        int nj;
        long tokens;
        int n = gather(q, &nj, &tokens);
        pthread_mutex_unlock(&q->mu);
        if (n > 0) run_batch(q, n, tokens);
        struct MHD_Connection **done = malloc((size_t)(nj ? nj : 1) * sizeof *done);
        pthread_mutex_lock(&q->mu);
        if (!done || nj == 0) { /* out of memory: try again after a pause rather than lose the jobs */
            pthread_mutex_unlock(&q->mu);
            nanosleep(&(struct timespec){0, 10000000}, NULL);
            pthread_mutex_lock(&q->mu);
            free(done);
            continue;
        }
        int k = finish(q, q->jobs, nj, done);
        pthread_mutex_unlock(&q->mu);
        for (int i = 0; i < k; i++) MHD_resume_connection(done[i]);
        free(done);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Start the batcher over p; NULL with a message in msg on failure. */
srv_queue *srv_queue_start(bert_pipeline *p, int max_jobs, int max_batch_tokens, srv_metrics *m, char *msg,
                           size_t cap) {
    srv_queue *q = calloc(1, sizeof *q);
    if (!q || !scratch(q, 64)) {
        if (q) free(q->seqs), free(q->spec), free(q->owner), free(q->index), free(q->jobs);
        free(q);
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    q->p = p, q->m = m, q->max_jobs = max_jobs, q->max_tokens = max_batch_tokens;
    q->C = bert_model_config(bert_pipeline_model(p))->hidden_size;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    if (pthread_create(&q->th, NULL, batcher, q) != 0) {
        snprintf(msg, cap, "cannot start the batcher thread");
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->cv);
        free(q->seqs), free(q->spec), free(q->owner), free(q->index), free(q->jobs), free(q);
        return NULL;
    }
    return q;
}

/* Append job; 0 when full or closing. */
int srv_queue_push(srv_queue *q, srv_job *job) {
    pthread_mutex_lock(&q->mu);
    int ok = !q->closing && q->depth < q->max_jobs;
    if (ok) {
        job->next = NULL;
        job->t_queued = now_s();
        if (q->tail) q->tail->next = job;
        else q->head = job;
        q->tail = job;
        q->depth++;
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

int srv_queue_cancel(srv_queue *q) {
    int n = 0;
    pthread_mutex_lock(&q->mu);
    q->closing = 1;
    for (;;) { /* one at a time: each connection is resumed outside the lock */
        srv_job *prev = NULL, *j = q->head;
        while (j && j->t_started) prev = j, j = j->next;
        if (!j) break;
        if (prev) prev->next = j->next;
        else q->head = j->next;
        if (q->tail == j) q->tail = prev;
        j->failed = j->cancelled = j->finished = 1;
        j->err.code = BERT_ERR_STATE;
        snprintf(j->err.message, sizeof j->err.message, "the server is shutting down; the request was not started");
        j->t_started = j->t_finished = now_s();
        q->depth--;
        struct MHD_Connection *c = j->conn;
        pthread_mutex_unlock(&q->mu);
        MHD_resume_connection(c);
        n++;
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* Jobs queued or running. */
int srv_queue_depth(srv_queue *q) {
    pthread_mutex_lock(&q->mu);
    int d = q->depth;
    pthread_mutex_unlock(&q->mu);
    return d;
}

/* Whether job has finished. */
int srv_job_finished(srv_queue *q, const srv_job *job) {
    pthread_mutex_lock(&q->mu);
    int f = job->finished;
    pthread_mutex_unlock(&q->mu);
    return f;
}

/* Run what is queued, stop the thread, free q. */
void srv_queue_stop(srv_queue *q) {
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->closing = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q->seqs), free(q->spec), free(q->owner), free(q->index), free(q->jobs);
    free(q);
}
