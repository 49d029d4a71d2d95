/* http.c — the HTTP door. Handlers answer JSON (jansson) or Prometheus text.
 *
 * libmicrohttpd runs its own threads; handlers must only read shared state
 * through thread-safe calls (metrics atomics, meta's mutex). */
#include "http/http.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"

struct http {
    struct MHD_Daemon *d;
    server_t *srv;
};

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *ctype, char *body,
                               size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    /* jansson allocates with malloc, so MHD may free() it. */
    return respond(c, status, "application/json", s, strlen(s));
}

static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned status, const char *code,
                                     const char *msg)
{
    return respond_json(c, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size, void **state)
{
    http_t *h = cls;
    UNUSED(version);
    UNUSED(upload_data);
    /* First call per request: headers only. Accept any body later issues need. */
    if (*state == NULL) {
        *state = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/api/v1/healthz") == 0) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            return respond_error(c, 405, "method_not_allowed", "use GET");
        double up = (double)(wall_us() - h->srv->started_wall_us) / 1e6;
        bool stopping = atomic_load(&h->srv->stopping);
        return respond_json(c, stopping ? 503 : 200,
                            json_pack("{s:s,s:s,s:s,s:f}", "status", stopping ? "stopping" : "ok", "version",
                                      MADANG_VERSION, "engine", eng_version(), "uptime_seconds", up));
    }
    if (strcmp(url, "/metrics") == 0 || strcmp(url, "/api/v1/metrics") == 0) {
        if (strcmp(method, "GET")) return respond_error(c, 405, "method_not_allowed", "use GET");
        buf_t b;
        buf_init(&b, 4096);
        met_render(&b);
        return respond(c, 200, "text/plain; version=0.0.4", b.data, b.len);
    }
    return respond_error(c, 404, "not_found", "no such endpoint; see docs/http.md");
}

http_t *http_start(server_t *srv, int fd, char *err, size_t errlen)
{
    http_t *h = xcalloc(1, sizeof *h);
    h->srv = srv;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0,
                            NULL, NULL, handle, h, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "cannot start the HTTP listener");
        free(h);
        return NULL;
    }
    return h;
}

void http_stop(http_t *h)
{
    if (!h) return;
    MHD_stop_daemon(h->d);
    free(h);
}
