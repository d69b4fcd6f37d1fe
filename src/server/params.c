/* params.c — the server's defaults (serve.h), in every build of the tool,
 * with libmicrohttpd (serve.c) or without it (none.c). */
#include "server/serve.h"

/* The defaults documented in serve.h. */
srv_params srv_default_params(void) {
    srv_params p = {
        .host = "127.0.0.1",
        .port = 8080,
        .http_threads = 2,
        .max_batch_tokens = 16384,
        .max_concurrent = 512,
        .max_client_batch = 64,
        .max_body_bytes = 2000000,
        .max_connections = 1024,
        .timeout_s = 30,
    };
    return p;
}
