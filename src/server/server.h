/* server.h — what the server's files share: the server state, a request,
 * a reply, the route table, byte buffers and the batcher's jobs. */
#ifndef BERT_SERVER_SERVER_H
#define BERT_SERVER_SERVER_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "server/serve.h"

struct MHD_Connection;
struct MHD_Daemon;

/* A growable byte buffer; oom is set (and writes dropped) when memory runs out. */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

void sb_put(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal (quotes, escapes; bytes >= 0x80 copied). */
void sb_json_str(sbuf *b, const char *s);
/* [v0,v1,...] with "%.9g", the `bert embed` format. */
void sb_floats(sbuf *b, const float *v, int n);
/* v as little-endian f32 bytes in standard base64, in quotes. */
void sb_base64_f32(sbuf *b, const float *v, int n);
void sb_free(sbuf *b);

/* Histograms and counters for /metrics. */
typedef struct srv_metrics srv_metrics;
srv_metrics *srv_metrics_new(void);
void srv_metrics_free(srv_metrics *m);
void srv_metrics_request(srv_metrics *m, const char *route, int status, double seconds, double queue_s, long tokens);
void srv_metrics_batch(srv_metrics *m, int sequences, long tokens);
void srv_metrics_render(srv_metrics *m, int queue_depth, sbuf *out);

/* ---- the batcher ------------------------------------------------------ */

typedef struct srv_job srv_job;
/* Runs a whole job on the batcher thread (tasks other than embeddings and
 * classification); returns 0 with job->err filled on failure. */
typedef int (*srv_task_fn)(srv_job *job, bert_pipeline *p);

struct srv_job {
    /* Embeddings and classifier scores: sequences run in ragged batches with
     * other jobs' sequences, possibly split over several. */
    int n_seqs;
    bert_sequence *seqs;   /* owned, with their ids                                       */
    int classify;          /* 1: every label's classifier score per sequence (dim = labels) */
    bert_score_function score_fn; /* classify: applied to the logits                      */
    int token_level;       /* 0: one sentence embedding per sequence; 1: a vector per token */
    bert_embed_params ep;  /* how the sentence embedding is made (bert_embed_texts' rules)  */
    int *prompt_len;       /* [n_seqs] tokens of the prompt at the start of each sequence    */
    int dim;               /* values per row of out                                         */
    float *out;            /* results: [n_seqs x dim] or [sum of tokens x dim]             */
    size_t *out_row;       /* [n_seqs] first row of each sequence in out                    */
    int next_seq, done_seqs;
    /* Other tasks (task != NULL): one call on the batcher, alone. */
    srv_task_fn task;
    void *task_state;
    long tokens;
    /* Results. */
    int failed;
    bert_error err;
    double t_queued, t_started, t_finished;
    int finished;
    int cancelled;         /* failed unstarted at shutdown (srv_queue_cancel): answered 503 */
    struct MHD_Connection *conn; /* resumed when the job finishes */
    srv_job *next;
};

typedef struct srv_queue srv_queue;
/* Start the batcher thread over p. */
srv_queue *srv_queue_start(bert_pipeline *p, int max_jobs, int max_batch_tokens, srv_metrics *m, char *msg,
                           size_t cap);
/* Append a job; 0 when the queue holds max_jobs already (or is closing). */
int srv_queue_push(srv_queue *q, srv_job *job);
/* Jobs queued or running. */
int srv_queue_depth(srv_queue *q);
/* Whether the job has finished (read under the queue's lock). */
int srv_job_finished(srv_queue *q, const srv_job *job);
/* Shutdown's last resort: takes no more jobs, and fails (cancelled) and
 * finishes every queued job the batcher has not started, resuming their
 * connections; the started ones run to their end. Returns how many. */
int srv_queue_cancel(srv_queue *q);
/* Finish the queued jobs, then stop and join the batcher; frees q. */
void srv_queue_stop(srv_queue *q);
void srv_job_free(srv_job *job);

/* ---- requests and routes ---------------------------------------------- */

typedef enum { SRV_SHAPE_TEI = 0, SRV_SHAPE_OPENAI } srv_shape;

typedef struct {
    int status;
    sbuf body;
    const char *ctype; /* NULL: application/json */
    int retry_after;   /* > 0: a Retry-After header */
    const char *allow; /* an Allow header (405) */
} srv_reply;

typedef struct srv_server srv_server;
typedef struct srv_req srv_req;

/* Start a request: fill out and return 1, or queue r->job and return 0. */
typedef int (*srv_route_start)(srv_req *r, srv_reply *out);
/* Answer a finished job. */
typedef void (*srv_route_finish)(srv_req *r, srv_reply *out);

typedef struct {
    const char *method, *path;
    srv_shape shape;
    srv_route_start start;
    srv_route_finish finish;
    int public_route; /* answered without the API key (/health) */
} srv_route;

struct srv_server {
    srv_params prm;
    bert_pipeline *pipe;
    const bert_tokenizer *tok;
    const bert_model *model;
    bert_sentence_config st;
    int hidden, vocab, max_input;   /* the max tokens an input takes                     */
    int embed_dim;                   /* values of a sentence embedding (bert_embed_dim)      */
    const char *prompt;              /* the directory's default prompt (NULL: none)          */
    int prompt_len;                  /* its tokens                                          */
    unsigned heads;
    int is_token_classifier;         /* architecture *TokenClassification                   */
    const char *model_id;
    srv_queue *queue;
    srv_metrics *metrics;
    struct MHD_Daemon *daemon;
    int bound_port;
    atomic_int draining;             /* SIGTERM came: new requests get 503                 */
    pthread_mutex_t lock;            /* waiting, below                                      */
    int waiting;                     /* requests that queued a job, not yet closed          */
};

struct srv_req {
    srv_server *s;
    const srv_route *route;
    struct MHD_Connection *conn;
    char method[16];
    char path[128];                  /* for the log: the route, or the sanitised path      */
    sbuf body;
    int too_large, started, status;
    size_t dropped;    /* bytes of an over-limit chunked body read and dropped */
    double t0;
    cJSON *json;                     /* the parsed body (routes with one), until queued    */
    srv_job *job;
    int rejected;                    /* the queue was full after suspending                */
    int submitted;                   /* counted in waiting                                  */
    void *state;                     /* route-specific request data                       */
    int flags;                       /* route-specific options (base64 output, ...)         */
    void (*state_free)(void *);
    long tokens;
    double queue_ms, compute_ms;
};

/* The routes, ending with {NULL}. */
extern const srv_route srv_routes[];

/* An error reply in the route's shape. TEI: {"error": msg, "error_type":
 * type}; OpenAI: {"error": {"message", "type", "param", "code"}}. type is
 * TEI's ("validation", "tokenizer", "backend", "overloaded", "empty",
 * "unhealthy", "unauthorized", "not_found"); param may be NULL. Returns 1. */
int srv_error(srv_shape shape, srv_reply *out, int status, const char *type, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Queue r->job (already filled) on the batcher: suspends the connection;
 * the route's finish answers when the job is done. Returns 0, or 1 with a
 * 429 in out when the queue is full. */
int srv_submit(srv_req *r, srv_reply *out);

/* The request body as JSON (object or array), or an error reply (400). */
cJSON *srv_body_json(srv_req *r, srv_reply *out);

/* ---- inputs ----------------------------------------------------------- */

/* Truncation a request asked for. */
typedef struct {
    int truncate, left;
    const char *prompt; /* embeddings: put before each text (NULL: none) */
    int prompt_len;     /* its tokens, as bert_pipeline_embed_prompt says  */
} srv_trunc;

/* Read TEI's "truncate" / "truncation_direction" from o (defaults: the
 * server's --truncate, right); 0 with a 422 in out on a bad value. */
int srv_read_trunc(srv_req *r, const cJSON *o, srv_trunc *t, srv_reply *out);

/* An optional boolean field (absent or null: def); 0 with a 422 reply. */
int srv_read_bool(srv_req *r, const cJSON *o, const char *key, int def, int *v, srv_reply *out);

/* Parse `inputs` (a string, a list of strings, a list of token ids, a list
 * of such lists) into an embedding job: texts tokenized as `bert embed`
 * does (sentence-transformers max_seq_length, else the server's limit),
 * ids taken as they are. Limits: at least one input, at most
 * max_client_batch (413), every input non-empty and within the token
 * limit unless truncated (413 naming it), valid UTF-8 and ids (422/400).
 * field names the request field in messages. */
int srv_embed_job(srv_req *r, const cJSON *inputs, const char *field, const srv_trunc *t, srv_job **job,
                  srv_reply *out);

/* Tokens of text (and pair) with the request's truncation (at the server's
 * input limit), added to *n; keep (may be NULL) receives the sequence, its
 * ids and token types in one block owned by keep->input_ids. 0 with a 413
 * (too long, naming input `index`), 422 (bad UTF-8) or 500 reply. */
int srv_count_tokens(srv_req *r, const char *text, const char *pair, const srv_trunc *t, int index, long *n,
                     bert_sequence *keep, srv_reply *out);

/* Size job->out for one pooled vector per sequence (token_level 0) or one
 * per token (1), and their rows; 0 when out of memory. */
int srv_job_alloc(srv_server *s, srv_job *job, int token_level);

/* A reply for a job that failed on the batcher: input errors 413 (too
 * long) or 422, the rest 500. */
void srv_job_error(srv_req *r, srv_reply *out);

#endif
