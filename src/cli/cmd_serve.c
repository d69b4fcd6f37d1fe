/* cmd_serve.c — `bert serve MODEL_DIR`: flags into srv_params, then the
 * server (src/server) runs until SIGTERM / SIGINT. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/serve.h"

static const char *usage_text =
    "usage: bert serve MODEL_DIR [options]\n"
    "  --host ADDR                 address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
    "  --port N                    port (default 8080; 0: a free port, printed on stderr)\n"
    "  --threads N                 compute threads (default: all cores)\n"
    "  --http-threads N            connection threads: parse, tokenize, answer (default 2)\n"
    "  --dtype f32|bf16|int8|tf32|f16  precision of the encoder's products (default f32; tf32, f16: --device cuda)\n"
    "  --device cpu|cuda           where the encoder's layers run (default cpu)\n"
    "  --max-batch-tokens N        tokens per ragged batch of the batcher (default 16384)\n"
    "  --max-concurrent-requests N requests queued or running; more get 429 (default 512)\n"
    "  --max-client-batch-size N   inputs per request; more get 413 (default 64)\n"
    "  --max-input-tokens N        tokens per input (default: what the model takes)\n"
    "  --truncate                  cut over-long inputs by default (else 413)\n"
    "  --max-body-bytes N          request body limit; more get 413 (default 2000000)\n"
    "  --max-connections N         open connections at once (default 1024)\n"
    "  --timeout S                 close idle or slow connections after S seconds (default 30)\n"
    "  --api-key KEY               require Authorization: Bearer KEY (all routes but /health)\n"
    "  --api-key-file F            the same, the key read from the first line of F\n"
    "  --model-id NAME             the model name in /info, /v1/models and responses\n"
    "  --cors-allow-origin ORIGIN  answer browsers from ORIGIN (default: no CORS headers)\n"
    "  --log-format text|json      one log line per request on stderr (default text)\n"
    "Routes: POST /v1/embeddings, GET /v1/models (OpenAI); POST /embed, /embed_all, /rerank,\n"
    "/predict, /tokenize, /decode, GET /info, /health (text-embeddings-inference); POST\n"
    "/fill-mask, /ner, /qa (bert.c's pipelines); GET /metrics (Prometheus).\n";

/* Read the key: the first line of path, without its newline; 0 after a message. */
static int read_key(const char *path, char *key, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return !cli_error("serve", "%s: cannot open: %s", path, strerror(errno));
    int ok = fgets(key, (int)cap, f) != NULL;
    size_t n = ok ? strcspn(key, "\r\n") : 0;
    int next = ok && key[n] == '\0' ? fgetc(f) : 0; /* past a full buffer: its line's end, or the file's */
    int whole = ok && (key[n] != '\0' || next == EOF || next == '\n' || next == '\r');
    fclose(f);
    key[n] = '\0';
    if (!ok || !*key) return !cli_error("serve", "%s: no key on its first line", path);
    if (!whole) return !cli_error("serve", "%s: the key is longer than %zu bytes", path, cap - 1);
    return 1;
}

/* An int flag's value into *v; 0 after a message. */
static int int_flag(const char *flag, const char *v, int min, int *out) { return cli_parse_int("serve", flag, v, min, out); }

/* `bert serve`: parse the flags, then run the server until a signal. */
int cmd_serve(int argc, char **argv) {
    srv_params p = srv_default_params();
    static char key[512];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1, body = 0;
        if (strcmp(a, "--truncate") == 0) p.truncate = 1;
        else if (!v || a[0] != '-' || a[1] != '-') {
            if (a[0] == '-' || p.model_dir) {
                cli_help_if_asked(a, usage_text);
                return cli_usage_error("serve", usage_text, "%s '%s'", a[0] == '-' ? "unknown option or missing value:" : "unexpected argument", a);
            }
            p.model_dir = a;
            continue;
        } else if (strcmp(a, "--host") == 0) p.host = v;
        else if (strcmp(a, "--port") == 0) ok = int_flag(a, v, 0, &p.port) && (p.port <= 65535 || !cli_error("serve", "--port must be at most 65535"));
        else if (strcmp(a, "--threads") == 0) ok = int_flag(a, v, 1, &p.threads);
        else if (strcmp(a, "--http-threads") == 0) ok = int_flag(a, v, 1, &p.http_threads) && (p.http_threads <= 256 || !cli_error("serve", "--http-threads must be at most 256"));
        else if (strcmp(a, "--dtype") == 0) ok = cli_parse_dtype("serve", v, &p.dtype);
        else if (strcmp(a, "--device") == 0) ok = cli_parse_device("serve", v, &p.device);
        else if (strcmp(a, "--max-batch-tokens") == 0) ok = int_flag(a, v, 1, &p.max_batch_tokens);
        else if (strcmp(a, "--max-concurrent-requests") == 0) ok = int_flag(a, v, 1, &p.max_concurrent);
        else if (strcmp(a, "--max-client-batch-size") == 0) ok = int_flag(a, v, 1, &p.max_client_batch);
        else if (strcmp(a, "--max-input-tokens") == 0) ok = int_flag(a, v, 1, &p.max_input_tokens);
        else if (strcmp(a, "--max-body-bytes") == 0) ok = int_flag(a, v, 1, &body), p.max_body_bytes = body;
        else if (strcmp(a, "--max-connections") == 0) ok = int_flag(a, v, 1, &p.max_connections);
        else if (strcmp(a, "--timeout") == 0) ok = int_flag(a, v, 1, &p.timeout_s);
        else if (strcmp(a, "--api-key") == 0) p.api_key = v;
        else if (strcmp(a, "--api-key-file") == 0) ok = read_key(v, key, sizeof key), p.api_key = key;
        else if (strcmp(a, "--model-id") == 0) p.model_id = v;
        else if (strcmp(a, "--cors-allow-origin") == 0) p.cors_origin = v;
        else if (strcmp(a, "--log-format") == 0) {
            p.log_json = strcmp(v, "json") == 0;
            if (!p.log_json && strcmp(v, "text") != 0) ok = !cli_error("serve", "--log-format must be text or json");
        } else {
            cli_help_if_asked(a, usage_text);
            return cli_usage_error("serve", usage_text, "unknown option '%s'", a);
        }
        if (!ok) return CLI_USAGE;
        i++;
    }
    if (!p.model_dir) return cli_usage_error("serve", usage_text, "needs MODEL_DIR");
    if (p.api_key && !*p.api_key) return cli_usage_error("serve", usage_text, "--api-key must not be empty");
    return srv_run(&p);
}
