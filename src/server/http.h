/* http.h — starting, quiescing and stopping the libmicrohttpd daemon. */
#ifndef BERT_SERVER_HTTP_H
#define BERT_SERVER_HTTP_H

#include <sys/socket.h>

#include "server/server.h"

/* Listen on addr (s->prm.port 0: a free port) with the server's limits;
 * s->bound_port is the port. 0 with a message on failure. */
int srv_http_start(srv_server *s, const struct sockaddr *addr, int ipv6, char *msg, size_t cap);
/* Stop accepting connections; requests after this get 503. */
int srv_http_quiesce(srv_server *s);
/* Close every connection and stop the daemon's threads. */
void srv_http_stop(srv_server *s);

#endif
