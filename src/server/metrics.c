/* metrics.c — counters and histograms of the server, rendered for
 * Prometheus (text exposition format 0.0.4) at GET /metrics. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

enum { N_LAT = 14, N_BATCH = 10, N_TOK = 12, MAX_SERIES = 128 };
static const double lat_bounds[N_LAT] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10,  30};
static const double batch_bounds[N_BATCH] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
static const double tok_bounds[N_TOK] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};

typedef struct {
    unsigned long long count[16]; /* per bucket, then +Inf */
    double sum;
    unsigned long long n;
} histo;

typedef struct {
    char route[40];
    int status;
    unsigned long long n;
} series;

struct srv_metrics {
    pthread_mutex_t mu;
    series req[MAX_SERIES];
    int n_series;
    histo latency, queue, batch_size, batch_tokens;
    unsigned long long tokens, batches;
};

/* A new, zeroed set of metrics (NULL when out of memory). */
srv_metrics *srv_metrics_new(void) {
    srv_metrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->mu, NULL);
    return m;
}

/* Release m. */
void srv_metrics_free(srv_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Count v into h (bucket bounds b[0..nb)). */
static void observe(histo *h, const double *b, int nb, double v) {
    int i = 0;
    while (i < nb && v > b[i]) i++;
    h->count[i]++;
    h->sum += v;
    h->n++;
}

/* One answered request: its route (a known route name or "other"), status,
 * total and queue seconds, tokens. */
void srv_metrics_request(srv_metrics *m, const char *route, int status, double seconds, double queue_s, long tokens) {
    pthread_mutex_lock(&m->mu);
    int i = 0;
    while (i < m->n_series && (m->req[i].status != status || strcmp(m->req[i].route, route) != 0)) i++;
    if (i == m->n_series && m->n_series < MAX_SERIES) {
        snprintf(m->req[i].route, sizeof m->req[i].route, "%s", route);
        m->req[i].status = status;
        m->n_series++;
    }
    if (i < m->n_series) m->req[i].n++;
    observe(&m->latency, lat_bounds, N_LAT, seconds);
    if (queue_s >= 0) observe(&m->queue, lat_bounds, N_LAT, queue_s);
    if (tokens > 0) m->tokens += (unsigned long long)tokens;
    pthread_mutex_unlock(&m->mu);
}

/* One batch the batcher ran. */
void srv_metrics_batch(srv_metrics *m, int sequences, long tokens) {
    pthread_mutex_lock(&m->mu);
    observe(&m->batch_size, batch_bounds, N_BATCH, sequences);
    observe(&m->batch_tokens, tok_bounds, N_TOK, (double)tokens);
    m->batches++;
    pthread_mutex_unlock(&m->mu);
}

/* Write one histogram. */
static void render_histo(sbuf *o, const char *name, const char *help, const histo *h, const double *b, int nb) {
    sb_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long long cum = 0;
    for (int i = 0; i < nb; i++) {
        cum += h->count[i];
        sb_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, b[i], cum);
    }
    sb_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name, h->n, name, h->sum, name, h->n);
}

/* The whole exposition into out. */
void srv_metrics_render(srv_metrics *m, int queue_depth, sbuf *o) {
    pthread_mutex_lock(&m->mu);
    sb_puts(o, "# HELP bert_requests_total HTTP requests answered, by route and status.\n"
               "# TYPE bert_requests_total counter\n");
    for (int i = 0; i < m->n_series; i++)
        sb_printf(o, "bert_requests_total{route=\"%s\",status=\"%d\"} %llu\n", m->req[i].route, m->req[i].status,
                  m->req[i].n);
    render_histo(o, "bert_request_duration_seconds", "Time from the request's arrival to its answer.", &m->latency,
                 lat_bounds, N_LAT);
    render_histo(o, "bert_queue_duration_seconds", "Time a model request waited for the batcher.", &m->queue,
                 lat_bounds, N_LAT);
    render_histo(o, "bert_batch_size", "Sequences per batch the model ran.", &m->batch_size, batch_bounds, N_BATCH);
    render_histo(o, "bert_batch_tokens", "Tokens per batch the model ran.", &m->batch_tokens, tok_bounds, N_TOK);
    sb_printf(o, "# HELP bert_tokens_total Input tokens of answered requests.\n# TYPE bert_tokens_total counter\n"
                 "bert_tokens_total %llu\n",
              m->tokens);
    sb_printf(o, "# HELP bert_queue_depth Requests queued or running on the model.\n# TYPE bert_queue_depth gauge\n"
                 "bert_queue_depth %d\n",
              queue_depth);
    pthread_mutex_unlock(&m->mu);
}
