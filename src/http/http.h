/* http.h — the HTTP door (libmicrohttpd): /api/v1/... JSON and /metrics. */
#ifndef MADANG_HTTP_H
#define MADANG_HTTP_H

#include "server/server.h"

typedef struct http http_t;

/* Starts serving on the already-bound, listening socket fd (ownership passes
 * to the HTTP daemon). NULL + err on failure. */
http_t *http_start(server_t *srv, int fd, char *err, size_t errlen);
void http_stop(http_t *h);

#endif
