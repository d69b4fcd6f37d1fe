/* http.c — the libmicrohttpd glue: routing (404, 405), the API key (401),
 * the body limit (413), request bodies, replies, suspending a connection
 * while its job waits for the batcher, and one log line per request. */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "server/http.h"

/* Seconds on the monotonic clock. */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Compare a and the key b in time that depends on b's length only. */
static int ct_equal(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    volatile unsigned char d = la != lb;
    for (size_t i = 0; i < lb; i++) d |= (unsigned char)((i < la ? a[i] : 0) ^ b[i]);
    return d == 0;
}

/* An error reply in the route's shape; see server.h. */
int srv_error(srv_shape shape, srv_reply *out, int status, const char *type, const char *param, const char *fmt, ...) {
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    out->status = status;
    sb_free(&out->body);
    if (shape == SRV_SHAPE_TEI) {
        sb_puts(&out->body, "{\"error\":");
        sb_json_str(&out->body, msg);
        sb_puts(&out->body, ",\"error_type\":");
        sb_json_str(&out->body, type);
        sb_puts(&out->body, "}");
        return 1;
    }
    const char *otype = status == 401   ? "authentication_error"
                        : status == 429 ? "rate_limit_error"
                        : status >= 500 ? "server_error"
                                        : "invalid_request_error";
    const char *code = status == 401 ? "invalid_api_key" : status == 429 ? "rate_limit_exceeded" : NULL;
    sb_puts(&out->body, "{\"error\":{\"message\":");
    sb_json_str(&out->body, msg);
    sb_puts(&out->body, ",\"type\":");
    sb_json_str(&out->body, otype);
    sb_puts(&out->body, ",\"param\":");
    if (param) sb_json_str(&out->body, param);
    else sb_puts(&out->body, "null");
    sb_puts(&out->body, ",\"code\":");
    if (code) sb_json_str(&out->body, code);
    else sb_puts(&out->body, "null");
    sb_puts(&out->body, "}}");
    return 1;
}

/* 1 when the JSON text has a \u0000 escape (cJSON would cut the string there). */
static int has_nul_escape(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && i + 5 < n && memcmp(s + i + 2, "0000", 4) == 0) return 1;
        i++; /* skip the escaped character */
    }
    return 0;
}

/* The body parsed as JSON (kept in r->json), or NULL with a 400 in out. */
cJSON *srv_body_json(srv_req *r, srv_reply *out) {
    srv_shape sh = r->route->shape;
    if (r->body.n == 0) return srv_error(sh, out, 400, "validation", NULL, "the request has no body (expected JSON)"), NULL;
    if (strlen(r->body.p) != r->body.n)
        return srv_error(sh, out, 400, "validation", NULL, "the body holds a NUL byte"), NULL;
    if (has_nul_escape(r->body.p, r->body.n))
        return srv_error(sh, out, 400, "validation", NULL, "the body holds a \\u0000 escape"), NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(r->body.p, r->body.n, &end, 0);
    if (!j) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= r->body.p && at <= r->body.p + r->body.n ? (long)(at - r->body.p) : -1;
        return srv_error(sh, out, 400, "validation", NULL, "malformed JSON near byte %ld", off), NULL;
    }
    /* one JSON value (RFC 8259), whitespace alone after it */
    while (end < r->body.p + r->body.n && strchr(" \t\r\n", *end)) end++;
    if (end < r->body.p + r->body.n) {
        cJSON_Delete(j);
        return srv_error(sh, out, 400, "validation", NULL, "malformed JSON: more after the value at byte %ld",
                         (long)(end - r->body.p)), NULL;
    }
    r->json = j;
    return j;
}

/* Suspend the connection and queue r->job; 503 while draining; a full
 * queue is answered 429 when the handler runs again. Returns 0, or 1 with
 * a reply. */
int srv_submit(srv_req *r, srv_reply *out) {
    srv_server *s = r->s;
    pthread_mutex_lock(&s->lock);
    if (s->draining) {
        pthread_mutex_unlock(&s->lock);
        return srv_error(r->route->shape, out, 503, "unhealthy", NULL, "the server is shutting down");
    }
    s->waiting++;
    r->submitted = 1;
    pthread_mutex_unlock(&s->lock);
    /* the job holds what it reads: a queued request keeps neither its body nor its parsed tree */
    cJSON_Delete(r->json);
    r->json = NULL;
    sb_free(&r->body);
    r->job->conn = r->conn;
    MHD_suspend_connection(r->conn);
    if (!srv_queue_push(s->queue, r->job)) {
        MHD_resume_connection(r->conn); /* answered 429 when the handler runs again */
        r->rejected = 1;
    }
    return 0;
}

/* Queue the reply on c; frees its body. */
static enum MHD_Result send_reply(srv_req *r, struct MHD_Connection *c, srv_reply *rep) {
    if (rep->body.oom) {
        sb_free(&rep->body);
        srv_error(r->route ? r->route->shape : SRV_SHAPE_TEI, rep, 500, "backend", NULL, "out of memory");
    }
    struct MHD_Response *resp;
    if (rep->body.p) {
        resp = MHD_create_response_from_buffer(rep->body.n, rep->body.p, MHD_RESPMEM_MUST_FREE);
        if (resp) rep->body.p = NULL;
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    sb_free(&rep->body);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->ctype ? rep->ctype : "application/json");
    if (rep->retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", rep->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (rep->status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (rep->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep->allow);
    if (r->s->prm.cors_origin) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, r->s->prm.cors_origin);
        if (rep->status == 204) {
            MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        }
    }
    if (r->s->draining) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = rep->status;
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)rep->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* Copy the client's method or path into dst[cap] for the replies, the log
 * and the metrics: printable ASCII only, no quotes or backslashes (each
 * other byte a '?'), cut to fit. */
static void set_printable(char *dst, size_t cap, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\' ? (char)ch : '?';
    }
    dst[i] = '\0';
}

/* First call of a request: route, method, key and size checks. Returns 1
 * with a reply in out when the request is answered before its body. */
static int first_call(srv_req *r, struct MHD_Connection *c, const char *url, const char *method, srv_reply *out) {
    srv_server *s = r->s;
    set_printable(r->method, sizeof r->method, method);
    set_printable(r->path, sizeof r->path, url);
    int path_known = 0;
    srv_shape sh = strncmp(url, "/v1/", 4) == 0 ? SRV_SHAPE_OPENAI : SRV_SHAPE_TEI;
    for (const srv_route *rt = srv_routes; rt->path; rt++) {
        if (strcmp(rt->path, url) != 0) continue;
        path_known = 1;
        /* HEAD as GET (libmicrohttpd leaves the body out), as TEI's router answers it */
        if (strcmp(rt->method, method) == 0 || (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0)) r->route = rt;
        else out->allow = rt->method;
    }
    if (s->prm.cors_origin && strcmp(method, "OPTIONS") == 0 && path_known) return out->status = 204, 1;
    if (s->draining) return srv_error(sh, out, 503, "unhealthy", NULL, "the server is shutting down"), 1;
    if (!path_known) return srv_error(sh, out, 404, "not_found", NULL, "no route %s", r->path), 1;
    if (!r->route) return srv_error(sh, out, 405, "validation", NULL, "%s takes %s, not %s", r->path, out->allow, r->method), 1;
    if (s->prm.api_key && !r->route->public_route) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !ct_equal(h + 7, s->prm.api_key)) /* the scheme: RFC 7235's any case */
            return srv_error(sh, out, 401, "unauthorized", NULL, "a valid API key is needed (Authorization: Bearer KEY)"), 1;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end == cl || n > (unsigned long long)s->prm.max_body_bytes)
            return srv_error(sh, out, 413, "validation", NULL, "the body is over the limit of %ld bytes", s->prm.max_body_bytes), 1;
    }
    return 0;
}

/* The access handler: every call of every request. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    srv_server *s = cls;
    srv_req *r = *con_cls;
    srv_reply out = {0};
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        r->s = s;
        r->conn = c;
        r->t0 = now_s();
        *con_cls = r;
        if (first_call(r, c, url, method, &out)) return send_reply(r, c, &out);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->too_large || r->body.n + *upload_data_size > (size_t)s->prm.max_body_bytes) {
            /* A chunked body over the limit: the rest is read and dropped
             * (memory stays bounded), then 413; past 4x the limit the
             * connection is closed, so a client cannot hold it forever. */
            r->dropped += *upload_data_size;
            r->too_large = 1;
            r->body.n = 0;
            *upload_data_size = 0;
            return r->dropped > 4 * (size_t)s->prm.max_body_bytes ? MHD_NO : MHD_YES;
        }
        sb_put(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return r->body.oom ? MHD_NO : MHD_YES;
    }
    if (r->too_large) {
        srv_error(r->route ? r->route->shape : SRV_SHAPE_TEI, &out, 413, "validation", NULL,
                  "the body is over the limit of %ld bytes", s->prm.max_body_bytes);
        return send_reply(r, c, &out);
    }
    if (!r->started) {
        r->started = 1;
        if (r->route->start(r, &out)) return send_reply(r, c, &out);
        if (!r->rejected) return MHD_YES; /* suspended until the batcher is done */
    }
    if (r->rejected) {
        srv_error(r->route->shape, &out, 429, "overloaded", NULL, "the model is overloaded (%d requests queued)",
                  s->prm.max_concurrent);
        out.retry_after = 1;
        return send_reply(r, c, &out);
    }
    if (r->job && srv_job_finished(s->queue, r->job)) {
        r->queue_ms = (r->job->t_started - r->job->t_queued) * 1e3;
        r->compute_ms = (r->job->t_finished - r->job->t_started) * 1e3;
        r->tokens = r->job->tokens;
        r->route->finish(r, &out);
        return send_reply(r, c, &out);
    }
    return MHD_YES;
}

/* The log line and metrics of a finished request; frees it. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)c, (void)toe;
    srv_server *s = cls;
    srv_req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    double ms = (now_s() - r->t0) * 1e3;
    const char *route = r->route ? r->route->path : "other";
    /* the queue's time only for a job the batcher took (not one refused, or answered before it ran) */
    int ran = r->job && r->job->t_started > 0;
    srv_metrics_request(s->metrics, route, r->status, ms / 1e3, ran ? r->queue_ms / 1e3 : -1, r->tokens);
    char line[512];
    if (s->prm.log_json) {
        time_t now = time(NULL);
        struct tm tm;
        char ts[32];
        gmtime_r(&now, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(line, sizeof line,
                 "{\"time\":\"%s\",\"method\":\"%s\",\"route\":\"%s\",\"status\":%d,\"tokens\":%ld,\"queue_ms\":%.3f,"
                 "\"compute_ms\":%.3f,\"ms\":%.3f}\n",
                 ts, r->method, r->path, r->status, r->tokens, r->queue_ms, r->compute_ms, ms);
    } else {
        snprintf(line, sizeof line, "bert serve: %s %s %d tokens=%ld queue_ms=%.3f compute_ms=%.3f ms=%.3f%s\n",
                 r->method, r->path, r->status, r->tokens, r->queue_ms, r->compute_ms, ms,
                 r->too_large ? " (body over the limit)" : r->status == 0 ? " (closed before an answer)" : "");
    }
    fputs(line, stderr);
    if (r->submitted) {
        pthread_mutex_lock(&s->lock);
        s->waiting--;
        pthread_mutex_unlock(&s->lock);
    }
    if (r->state_free) r->state_free(r->state);
    srv_job_free(r->job);
    cJSON_Delete(r->json);
    sb_free(&r->body);
    free(r);
}

/* libmicrohttpd's own messages, one line each. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    fprintf(stderr, "bert serve: libmicrohttpd: %s\n", msg);
}

/* Start the daemon with the server's limits; see http.h. */
int srv_http_start(srv_server *s, const struct sockaddr *addr, int ipv6, char *msg, size_t cap) {
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ipv6) flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, (uint16_t)s->prm.port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                                 MHD_OPTION_SOCK_ADDR, addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->prm.http_threads,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->prm.max_connections,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->prm.timeout_s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(msg, cap, "cannot listen on %s port %d (in use, or not an address of this machine)", s->prm.host,
                 s->prm.port);
        return 0;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->bound_port = di ? di->port : s->prm.port;
    return 1;
}

/* Close the listening socket; later requests get 503. */
int srv_http_quiesce(srv_server *s) {
    pthread_mutex_lock(&s->lock);
    s->draining = 1;
    pthread_mutex_unlock(&s->lock);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    return 1;
}

/* Stop the daemon (NULL-safe, idempotent). */
void srv_http_stop(srv_server *s) {
    if (s->daemon) MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}
