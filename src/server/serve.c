/* serve.c — `bert serve` from start to exit: load the model, start the
 * batcher and the HTTP daemon, wait for SIGTERM/SIGINT, drain, stop. */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/http.h"

/* The tokens an input may have: --max-input-tokens, capped by what the
 * model takes (positions, the tokenizer's and sentence-transformers' max). */
static int input_limit(const srv_server *s) {
    int lim = bert_model_config(s->model)->max_position_embeddings;
    int tml = bert_tokenizer_model_max_length(s->tok);
    if (tml > 0 && tml < lim) lim = tml;
    if (s->st.max_seq_length > 0 && s->st.max_seq_length < lim) lim = s->st.max_seq_length;
    if (s->prm.max_input_tokens > 0 && s->prm.max_input_tokens < lim) lim = s->prm.max_input_tokens;
    return lim;
}

/* Open the model into s; 0 after printing why not. */
static int open_model(srv_server *s) {
    bert_pipeline_params pp = bert_pipeline_default_params();
    pp.n_threads = s->prm.threads;
    pp.compute = s->prm.dtype;
    pp.device = s->prm.device;
    pp.truncate = s->prm.truncate;
    bert_error err;
    if (bert_pipeline_open(s->prm.model_dir, &pp, &s->pipe, &err) != BERT_OK) {
        fprintf(stderr, "bert serve: %s\n", err.message);
        return 0;
    }
    s->model = bert_pipeline_model(s->pipe);
    s->tok = bert_pipeline_tokenizer(s->pipe);
    s->st = bert_pipeline_sentence_config(s->pipe);
    const bert_config *c = bert_model_config(s->model);
    s->hidden = c->hidden_size;
    s->vocab = c->vocab_size < bert_tokenizer_vocab_size(s->tok) ? c->vocab_size : bert_tokenizer_vocab_size(s->tok);
    s->heads = bert_model_heads(s->model);
    s->is_token_classifier = strstr(c->architecture, "TokenClassification") != NULL;
    s->max_input = input_limit(s);
    s->embed_dim = bert_embed_dim(s->pipe, NULL);
    if (bert_pipeline_embed_prompt(s->pipe, NULL, &s->prompt, &s->prompt_len, &err) != BERT_OK) {
        fprintf(stderr, "bert serve: %s\n", err.message);
        return 0;
    }
    s->model_id = s->prm.model_id ? s->prm.model_id : s->prm.model_dir;
    return 1;
}

/* Resolve host:port into *ss; 0 after printing why not. */
static int resolve(const srv_params *p, struct sockaddr_storage *ss, int *ipv6) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    int rc = getaddrinfo(p->host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "bert serve: --host %s: %s\n", p->host, gai_strerror(rc));
        return 0;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 1;
}

/* Wait until every request that queued a job is closed, at most limit_s. */
static void drain(srv_server *s, double limit_s) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        int w = s->waiting;
        pthread_mutex_unlock(&s->lock);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (w == 0 || (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) * 1e-9 > limit_s) return;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
}

/* Serve until SIGTERM/SIGINT; see serve.h. */
int srv_run(const srv_params *params) {
    srv_server *s = calloc(1, sizeof *s);
    if (!s) return fprintf(stderr, "bert serve: out of memory\n"), 1;
    s->prm = *params;
    pthread_mutex_init(&s->lock, NULL);
    /* Every thread started from here on inherits the mask: the signals
     * come to sigwait below, and a closed socket never raises SIGPIPE. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sockaddr_storage ss;
    int ipv6 = 0, rc = 1;
    char msg[300];
    if (!resolve(params, &ss, &ipv6) || !open_model(s)) goto done;
    if (!(s->metrics = srv_metrics_new())) {
        fprintf(stderr, "bert serve: out of memory\n");
        goto done;
    }
    if (!(s->queue = srv_queue_start(s->pipe, params->max_concurrent, params->max_batch_tokens, s->metrics, msg, sizeof msg)) ||
        !srv_http_start(s, (const struct sockaddr *)&ss, ipv6, msg, sizeof msg)) {
        fprintf(stderr, "bert serve: %s\n", msg);
        goto done;
    }
    const bert_config *c = bert_model_config(s->model);
    fprintf(stderr, "bert serve: %s (%d layers, hidden %d, max input %d tokens) listening on http://%s%s%s:%d/\n",
            s->model_id, c->num_hidden_layers, c->hidden_size, s->max_input, ipv6 ? "[" : "", params->host,
            ipv6 ? "]" : "", s->bound_port);
    sigdelset(&set, SIGPIPE);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "bert serve: %s: no new connections; answering the %d queued request(s)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", srv_queue_depth(s->queue));
    srv_http_quiesce(s);
    drain(s, params->timeout_s + 5.0);
    /* libmicrohttpd must not stop with a connection suspended: what the
     * batcher has not started is answered 503, what it has runs to its end */
    int cancelled = srv_queue_cancel(s->queue);
    if (cancelled)
        fprintf(stderr, "bert serve: %d queued request(s) not started after %d s: answered 503\n", cancelled,
                params->timeout_s + 5);
    while (srv_queue_depth(s->queue) > 0) nanosleep(&(struct timespec){0, 10000000}, NULL);
    if (cancelled) drain(s, 5.0); /* their answers out */
    srv_http_stop(s);
    rc = 0;
    fprintf(stderr, "bert serve: stopped\n");
done:
    srv_http_stop(s);
    srv_queue_stop(s->queue);
    srv_metrics_free(s->metrics);
    bert_pipeline_free(s->pipe);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return rc;
}
