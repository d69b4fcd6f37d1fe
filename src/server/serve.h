/* serve.h — `bert serve`: an HTTP server (libmicrohttpd) in front of one
 * loaded model: the OpenAI embeddings API, Hugging Face text-embeddings-
 * inference's routes, bert.c's task pipelines and Prometheus metrics, with
 * one dynamic batcher. Linked into the `bert` tool only, never into libbert. */
#ifndef BERT_SERVER_SERVE_H
#define BERT_SERVER_SERVE_H

#include "bert.h"

typedef struct {
    const char *model_dir;
    const char *host;        /* "127.0.0.1" (default), "0.0.0.0", "::1", ...                 */
    int port;                /* 8080; 0: a free port, printed on stderr                      */
    int threads;             /* compute threads of the batcher; 0: all cores                 */
    int http_threads;        /* connection threads (parse, tokenize, answer); 2              */
    bert_compute_dtype dtype;
    bert_device device;      /* where the encoder's layers run (BERT_DEVICE_CPU)              */
    int max_batch_tokens;    /* tokens per ragged batch (16384)                              */
    int max_concurrent;      /* requests queued or running; more get 429 (512)               */
    int max_client_batch;    /* inputs per request; more get 413 (64)                        */
    int max_input_tokens;    /* tokens per input; 0: what the model takes                    */
    int truncate;            /* default of a request's truncate: 1 cuts, 0 answers 413       */
    long max_body_bytes;     /* request body limit (2000000); more get 413                    */
    int max_connections;     /* open connections at once (1024)                              */
    int timeout_s;           /* an idle or slow connection is closed after this (30)         */
    const char *api_key;     /* non-NULL: every route but /health needs Bearer KEY           */
    const char *model_id;    /* the name in /info, /v1/models and responses; default: dir    */
    const char *cors_origin; /* non-NULL: Access-Control-Allow-Origin (and preflights)      */
    int log_json;            /* 1: one JSON object per request line on stderr               */
} srv_params;

/* Defaults as listed above. */
srv_params srv_default_params(void);

/* Load the model, serve until SIGTERM or SIGINT, then stop accepting,
 * answer what is queued and return 0. Errors (model, bind) are printed on
 * stderr as "bert serve: ..." and give 1. */
int srv_run(const srv_params *params);

#endif
