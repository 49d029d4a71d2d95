/* conn.c — one PostgreSQL client connection: startup, TLS, SCRAM, and the
 * simple and extended query protocols, driving the codec (codec.c) and
 * sending every statement through the gate.
 *
 * Threading: one detached thread per connection. The registry (for
 * CancelRequest and shutdown) is the only state shared between them.
 *
 * Results stream: rows are encoded from each DuckDB chunk straight into the
 * write buffer, which is flushed whenever it passes PGW_FLUSH_AT, so memory
 * stays bounded whatever the result size. An open streaming result is tied to
 * the session's engine connection; before anything else runs on that
 * connection, suspended portals are "parked" (their remaining chunks fetched
 * into memory), because DuckDB invalidates a streaming result when the next
 * query starts. */
#include "pgwire/conn.h"

#include "policy/identity.h"
#include "policy/ldap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gate/authz.h"
#include "gate/gate.h"
#include "gate/lex.h"
#include "pgwire/codec.h"
#include "pgwire/copy.h"
#include "pgwire/scram.h"
#include "pgwire/types.h"
#include "server/metrics.h"

#define PGW_FLUSH_AT (256 * 1024)

typedef struct pstmt {
    char *name;
    gate_stmt_t *g;
    int refs;
    int ndeclared;
    uint32_t *declared; /* parameter OIDs from Parse (0 = unspecified) */
    char *text;         /* the query as parsed (the unnamed statement is kept for a repeat) */
    uint64_t epoch;     /* the session's epoch it was prepared in */
} pstmt_t;

typedef struct portal {
    char *name;
    pstmt_t *ps;
    bool is_cursor;
    /* Bind */
    int nparams;
    int npformats;
    int16_t *pformats;
    char **pvals;
    int32_t *plens;
    int nrformats;
    int16_t *rformats;
    /* execution */
    bool executed;
    bool done;
    bool has_res;
    duckdb_result res;
    duckdb_data_chunk chunk;
    idx_t chunk_row, chunk_size;
    duckdb_data_chunk *parked;
    int nparked, parked_pos;
    int ncols;
    pgw_colenc_t *enc;
    int64_t rows;
    char done_tag[64];
    struct sess *sess; /* for the audit completion of an abandoned portal */
    struct portal *next;
} portal_t;

typedef struct conn {
    server_t *srv;
    int fd;
    SSL *ssl;
    char peer[64];
    buf_t rbuf;
    size_t rpos;
    buf_t wbuf;
    bool broken;
    int32_t pid, key;
    sess_t *sess;
    pstmt_t **stmts;
    int nstmts;
    portal_t *portals;
    bool skip_to_sync;
    int64_t deadline_us; /* auth deadline; 0 = none */
    char *startup;       /* copy of the startup packet (su's strings point here) */
    struct conn *reg_next;
} conn_t;

/* ---- registry: cancel and shutdown ---- */

static pthread_mutex_t g_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_reg_cv = PTHREAD_COND_INITIALIZER;
static conn_t *g_reg;
static int g_threads;  /* connection threads alive */
static int g_sessions; /* authenticated sessions */
static int32_t g_next_pid = 10000;
static bool g_shutdown;

static void reg_add(conn_t *c)
{
    pthread_mutex_lock(&g_reg_mu);
    c->pid = g_next_pid++;
    c->reg_next = g_reg;
    g_reg = c;
    pthread_mutex_unlock(&g_reg_mu);
}

static void reg_remove(conn_t *c)
{
    pthread_mutex_lock(&g_reg_mu);
    for (conn_t **p = &g_reg; *p; p = &(*p)->reg_next) {
        if (*p == c) {
            *p = c->reg_next;
            break;
        }
    }
    pthread_mutex_unlock(&g_reg_mu);
}

static void reg_cancel(int32_t pid, int32_t key)
{
    pthread_mutex_lock(&g_reg_mu);
    for (conn_t *c = g_reg; c; c = c->reg_next) {
        if (c->pid == pid && c->key == key && c->sess) {
            duckdb_interrupt(c->sess->conn);
            log_event(LOG_INFO, "cancel_request", "pid=%d", pid);
            break;
        }
    }
    pthread_mutex_unlock(&g_reg_mu);
}

void pgw_shutdown_all(int timeout_ms)
{
    pthread_mutex_lock(&g_reg_mu);
    g_shutdown = true;
    for (conn_t *c = g_reg; c; c = c->reg_next) {
        if (c->sess) duckdb_interrupt(c->sess->conn);
        shutdown(c->fd, SHUT_RDWR);
    }
    int64_t until = now_us() + (int64_t)timeout_ms * 1000;
    while (g_threads > 0 && now_us() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&g_reg_cv, &g_reg_mu, &ts);
    }
    int left = g_threads;
    pthread_mutex_unlock(&g_reg_mu);
    if (left) log_event(LOG_WARN, "shutdown_connections_left", "count=%d", left);
}

/* ---- I/O ---- */

static bool flush_out(conn_t *c)
{
    /* nothing leaves for the client before the audit records of what it answers are on disk */
    if (c->sess && !gate_audit_durable(c->sess, NULL))
        c->broken = true; /* fail closed: no answer, no connection */
    size_t off = 0;
    while (off < c->wbuf.len && !c->broken) {
        ssize_t n;
        if (c->ssl) {
            int r = SSL_write(c->ssl, c->wbuf.data + off, (int)(c->wbuf.len - off));
            n = r > 0 ? r : -1;
        } else {
            n = send(c->fd, c->wbuf.data + off, c->wbuf.len - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
        }
        if (n <= 0) {
            c->broken = true;
            break;
        }
        off += (size_t)n;
    }
    c->wbuf.len = 0;
    if (c->wbuf.cap > 4 * PGW_FLUSH_AT) {
        buf_free(&c->wbuf);
        buf_init(&c->wbuf, 64 * 1024);
    }
    return !c->broken;
}

/* The session's idle_in_transaction_session_timeout in ms (PostgreSQL units:
 * plain number = ms, or with ms/s/min/h), else the server's default. */
static int idle_in_tx_ms(conn_t *c)
{
    const char *v = sess_get(c->sess, "idle_in_transaction_session_timeout");
    long ms = (long)c->srv->opts.idle_in_tx_timeout_s * 1000;
    if (v && *v) {
        char *end;
        double n = strtod(v, &end);
        while (*end == ' ') end++;
        if (!*end || !strcmp(end, "ms"))
            ms = (long)n;
        else if (!strcmp(end, "s"))
            ms = (long)(n * 1000);
        else if (!strcmp(end, "min"))
            ms = (long)(n * 60000);
        else if (!strcmp(end, "h"))
            ms = (long)(n * 3600000);
        if (n == 0) ms = (long)c->srv->opts.idle_in_tx_timeout_s * 1000;
    }
    return ms > 0 && ms < INT32_MAX ? (int)ms : 0;
}

/* Reads more bytes into rbuf; false on EOF, error or deadline. */
static bool fill(conn_t *c)
{
    if (c->rpos > 0 && c->rpos == c->rbuf.len) {
        c->rbuf.len = c->rpos = 0;
    } else if (c->rpos > 65536) {
        buf_consume(&c->rbuf, c->rpos);
        c->rpos = 0;
    }
    buf_reserve(&c->rbuf, 16384);
    for (;;) {
        if (c->broken) return false;
        if (!(c->ssl && SSL_pending(c->ssl) > 0)) {
            int timeout = -1;
            if (c->deadline_us) {
                int64_t left = c->deadline_us - now_us();
                if (left <= 0) return false;
                timeout = (int)(left / 1000) + 1;
            }
            int idle_ms = c->sess ? idle_in_tx_ms(c) : 0;
            if (c->sess && c->sess->tx != SESS_TX_IDLE && idle_ms > 0) timeout = idle_ms;
            struct pollfd pf = {.fd = c->fd, .events = POLLIN};
            int r = poll(&pf, 1, timeout);
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) {
                if (c->sess && c->sess->tx != SESS_TX_IDLE && idle_ms > 0) {
                    pgw_error_t e = {.severity = "FATAL",
                                     .sqlstate = "25P03",
                                     .message = "terminating connection due to idle-in-transaction timeout"};
                    pgw_error_response(&c->wbuf, &e);
                    flush_out(c);
                }
                return false;
            }
            if (r < 0) return false;
        }
        ssize_t n;
        if (c->ssl) {
            int r = SSL_read(c->ssl, c->rbuf.data + c->rbuf.len, (int)(c->rbuf.cap - c->rbuf.len));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ) continue;
                return false;
            }
            n = r;
        } else {
            n = recv(c->fd, c->rbuf.data + c->rbuf.len, c->rbuf.cap - c->rbuf.len, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
        }
        c->rbuf.len += (size_t)n;
        return true;
    }
}

static void send_error(conn_t *c, const char *severity, const gate_err_t *ge)
{
    pgw_error_t e = {.severity = severity,
                     .sqlstate = ge->sqlstate,
                     .message = ge->message,
                     .detail = ge->detail,
                     .hint = ge->hint,
                     .position = ge->position};
    pgw_error_response(&c->wbuf, &e);
}

static void send_fatal(conn_t *c, const char *sqlstate, const char *msg)
{
    pgw_error_t e = {.severity = "FATAL", .sqlstate = sqlstate, .message = msg};
    pgw_error_response(&c->wbuf, &e);
    flush_out(c);
}

/* Whether the client has sent more than we have read (without waiting). */
static bool input_waiting(conn_t *c)
{
    if (c->ssl && SSL_pending(c->ssl) > 0) return true;
    struct pollfd pf = {.fd = c->fd, .events = POLLIN};
    return poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN);
}

/* Next typed message: false when the connection should close. */
static bool next_msg(conn_t *c, char *type, const char **body, size_t *len)
{
    for (;;) {
        size_t consumed;
        pgw_status_t st = pgw_frame(c->rbuf.data + c->rpos, c->rbuf.len - c->rpos,
                                    c->srv->opts.max_message_bytes, type, body, len, &consumed);
        if (st == PGW_OK) {
            c->rpos += consumed;
            return true;
        }
        if (st == PGW_TOO_BIG) {
            send_fatal(c, "08P01", "message too large");
            log_event(LOG_WARN, "message_too_large", "peer=%s", c->peer);
            return false;
        }
        if (st == PGW_BAD) {
            send_fatal(c, "08P01", "invalid message format");
            log_event(LOG_WARN, "bad_message", "peer=%s", c->peer);
            return false;
        }
        /* need more: make sure the client has everything we owe it first —
         * unless more of its messages are here already (a pipelined batch):
         * then their answers go out together, behind one wait for their audit
         * records instead of one a statement */
        if (c->wbuf.len && (c->wbuf.len >= PGW_FLUSH_AT || !input_waiting(c)) && !flush_out(c)) return false;
        if (!fill(c)) return false;
    }
}

/* ---- startup and authentication ---- */

/* Parses the startup packet from a private copy: its strings outlive rbuf,
 * which the authentication exchange reuses. */
static bool read_startup(conn_t *c, pgw_startup_t *su)
{
    for (;;) {
        size_t consumed;
        pgw_status_t st = pgw_parse_startup(c->rbuf.data + c->rpos, c->rbuf.len - c->rpos, su, &consumed);
        if (st == PGW_OK) {
            free(c->startup);
            c->startup = xmalloc(consumed);
            memcpy(c->startup, c->rbuf.data + c->rpos, consumed);
            c->rpos += consumed;
            if (pgw_parse_startup(c->startup, consumed, su, &consumed) != PGW_OK) return false;
            return true;
        }
        if (st != PGW_NEED_MORE) {
            size_t avail = c->rbuf.len - c->rpos;
            const unsigned char *b = (const unsigned char *)c->rbuf.data + c->rpos;
            int major = avail >= 8 ? (b[4] << 8 | b[5]) : 0;
            if (major >= 1 && major <= 2) {
                char msg[128];
                snprintf(msg, sizeof msg, "unsupported frontend protocol %d.%d: server supports 3.0 to 3.0",
                         major, b[6] << 8 | b[7]);
                send_fatal(c, "0A000", msg);
            } else {
                send_fatal(c, "08P01", "invalid startup packet layout");
            }
            return false;
        }
        if (!fill(c)) return false;
    }
}

static bool start_tls(conn_t *c)
{
    c->ssl = SSL_new(c->srv->tls);
    SSL_set_fd(c->ssl, c->fd);
    int r = SSL_accept(c->ssl);
    if (r != 1) {
        unsigned long e = ERR_get_error();
        char msg[256];
        ERR_error_string_n(e, msg, sizeof msg);
        log_event(LOG_WARN, "tls_handshake_failed", "peer=%s error=\"%s\"", c->peer, msg);
        return false;
    }
    return true;
}

/* SCRAM-SHA-256 exchange; true when the client proved the password. */
static bool authenticate(conn_t *c, const char *user, meta_user_t *u, bool known)
{
    pgw_auth_sasl(&c->wbuf, PGW_SCRAM_MECHANISM);
    if (!flush_out(c)) return false;
    pgw_scram_t *sc = pgw_scram_begin(user, known && u->scram[0] ? u->scram : NULL);
    char type;
    const char *body;
    size_t len;
    char err[256];
    char *out = NULL;
    size_t outlen;
    bool ok = false;
    if (!next_msg(c, &type, &body, &len) || type != 'p') goto done;
    pgw_reader_t r;
    pgw_reader_init(&r, body, len);
    const char *mech = pgw_get_cstr(&r);
    int32_t n = pgw_get_i32(&r);
    const char *data = n > 0 ? pgw_get_bytes(&r, (size_t)n) : NULL;
    if (r.err || !mech || strcmp(mech, PGW_SCRAM_MECHANISM) != 0 || !data) {
        send_fatal(c, "08P01", "expected SASL response with mechanism SCRAM-SHA-256");
        goto done;
    }
    if (!pgw_scram_client_first(sc, data, (size_t)n, &out, &outlen, err, sizeof err)) {
        send_fatal(c, "08P01", err);
        goto done;
    }
    pgw_auth_sasl_continue(&c->wbuf, out, outlen);
    free(out);
    out = NULL;
    if (!flush_out(c)) goto done;
    if (!next_msg(c, &type, &body, &len) || type != 'p') goto done;
    if (!pgw_scram_client_final(sc, body, len, &out, &outlen, err, sizeof err)) {
        if (strcmp(err, PGW_SCRAM_AUTH_FAILED) == 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "password authentication failed for user \"%s\"", user);
            send_fatal(c, "28P01", msg);
            log_event(LOG_WARN, "login_failed", "user=\"%s\" peer=%s", user, c->peer);
        } else {
            send_fatal(c, "08P01", err);
        }
        goto done;
    }
    pgw_auth_sasl_final(&c->wbuf, out, outlen);
    ok = known;
done:
    free(out);
    pgw_scram_free(sc);
    return ok;
}

/* LDAP login: the client sends its password in clear text (PostgreSQL's
 * AuthenticationCleartextPassword), which madang accepts only inside TLS;
 * the password goes to the LDAP bind and is wiped, never stored or logged. */
static bool authenticate_ldap(conn_t *c, const char *user, meta_user_t *u, bool *known, bool *responded)
{
    *responded = false;
    if (!c->ssl) {
        send_fatal(
            c, "28000",
            "LDAP users log in with a password in clear text, which madang accepts only over TLS: connect "
            "with sslmode=require");
        *responded = true;
        return false;
    }
    pgw_auth_cleartext(&c->wbuf);
    if (!flush_out(c)) return false;
    char type;
    const char *body;
    size_t len;
    if (!next_msg(c, &type, &body, &len) || type != 'p') return false;
    char *pw = xstrndup(body, len);
    explicit_bzero((char *)body, len);
    char **groups = NULL;
    int ng = 0;
    char err[256] = "";
    bool ok = ldap_login(&c->srv->cfg, user, pw, &groups, &ng, err, sizeof err);
    explicit_bzero(pw, strlen(pw));
    free(pw);
    if (ok && !ldap_apply(c->srv->meta, user, true, groups, ng)) {
        snprintf(err, sizeof err, "cannot record the LDAP user");
        ok = false;
    }
    ldap_groups_free(groups, ng);
    if (!ok) {
        log_event(LOG_WARN, "login_failed", "user=\"%s\" peer=%s method=ldap reason=\"%s\"", user, c->peer,
                  err);
        char msg[160];
        snprintf(msg, sizeof msg, "password authentication failed for user \"%s\"", user);
        send_fatal(c, "28P01", msg);
        *responded = true;
        return false;
    }
    *known = meta_user_get(c->srv->meta, user, u);
    return *known;
}

/* The target of "-c madang.impersonate=NAME" in the startup options, or NULL. */
static char *startup_impersonate(const pgw_startup_t *su)
{
    const char *direct = pgw_startup_get(su, "madang.impersonate");
    if (direct && *direct) return xstrdup(direct);
    const char *opts = pgw_startup_get(su, "options");
    if (!opts) return NULL;
    const char *p = strstr(opts, "madang.impersonate=");
    if (!p) return NULL;
    p += strlen("madang.impersonate=");
    size_t n = strcspn(p, " \t");
    return n ? xstrndup(p, n) : NULL;
}

/* Applies "-c name=value" / "--name=value" words of the startup `options`. */
static bool apply_options(conn_t *c, const char *opts)
{
    char *copy = xstrdup(opts);
    char *save = NULL;
    bool ok = true;
    bool expect_c = false;
    for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        char *kv = NULL;
        if (expect_c) {
            kv = w;
            expect_c = false;
        } else if (strcmp(w, "-c") == 0) {
            expect_c = true;
            continue;
        } else if (strncmp(w, "-c", 2) == 0) {
            kv = w + 2;
        } else if (strncmp(w, "--", 2) == 0) {
            kv = w + 2;
        } else {
            continue;
        }
        char *eq = strchr(kv, '=');
        if (!eq) continue;
        *eq = '\0';
        for (char *p = kv; *p; p++)
            if (*p == '-') *p = '_';
        char err[256];
        if (sess_set(c->sess, kv, eq + 1, true, err, sizeof err) != SESS_SET_OK &&
            strcmp(kv, "madang.impersonate") != 0) {
            send_fatal(c, "22023", err);
            ok = false;
            break;
        }
    }
    free(copy);
    return ok;
}

static void report_changed(conn_t *c)
{
    int n;
    char **names = sess_take_changed(c->sess, &n);
    for (int i = 0; i < n; i++) {
        const char *v = sess_get(c->sess, names[i]);
        pgw_parameter_status(&c->wbuf, names[i], v ? v : "");
        free(names[i]);
    }
    free(names);
}

static bool type_ok(duckdb_logical_type lt)
{
    return pgw_type_supported(lt);
}

/* ---- statements and portals ---- */

static pstmt_t *find_stmt(conn_t *c, const char *name)
{
    for (int i = 0; i < c->nstmts; i++)
        if (strcmp(c->stmts[i]->name, name) == 0) return c->stmts[i];
    return NULL;
}

static void pstmt_unref(pstmt_t *p)
{
    if (--p->refs > 0) return;
    gate_stmt_free(p->g);
    free(p->name);
    free(p->declared);
    free(p->text);
    free(p);
}

static void remove_stmt(conn_t *c, const char *name)
{
    for (int i = 0; i < c->nstmts; i++) {
        if (strcmp(c->stmts[i]->name, name) == 0) {
            pstmt_unref(c->stmts[i]);
            c->stmts[i] = c->stmts[--c->nstmts];
            return;
        }
    }
}

static portal_t *find_portal(conn_t *c, const char *name)
{
    for (portal_t *p = c->portals; p; p = p->next)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}

static void portal_release_result(portal_t *p)
{
    if (p->chunk) duckdb_destroy_data_chunk(&p->chunk);
    for (int i = p->parked_pos; i < p->nparked; i++) duckdb_destroy_data_chunk(&p->parked[i]);
    free(p->parked);
    p->parked = NULL;
    p->nparked = p->parked_pos = 0;
    if (p->has_res) duckdb_destroy_result(&p->res);
    p->has_res = false;
}

static void portal_free(portal_t *p)
{
    /* a portal closed before its last row: its completion says how far it got */
    if (p->sess && p->ps && p->ps->g && p->executed) gate_audit_end(p->sess, p->ps->g, p->rows, NULL);
    portal_release_result(p);
    for (int i = 0; i < p->ncols; i++) pgw_colenc_free(&p->enc[i]);
    free(p->enc);
    for (int i = 0; i < p->nparams; i++) free(p->pvals[i]);
    free(p->pvals);
    free(p->plens);
    free(p->pformats);
    free(p->rformats);
    if (p->ps) pstmt_unref(p->ps);
    free(p->name);
    free(p);
}

static void drop_portal(conn_t *c, const char *name)
{
    for (portal_t **pp = &c->portals; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->name, name) == 0) {
            portal_t *p = *pp;
            *pp = p->next;
            portal_free(p);
            return;
        }
    }
}

/* Drops portals: cursors only when all_cursors (end of transaction, CLOSE ALL). */
static void drop_portals(conn_t *c, bool cursors)
{
    for (portal_t **pp = &c->portals; *pp;) {
        portal_t *p = *pp;
        if (p->is_cursor && !cursors) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        portal_free(p);
    }
}

/* Fetches every remaining chunk of open streaming results (see file comment). */
static void park_open_results(conn_t *c)
{
    for (portal_t *p = c->portals; p; p = p->next) {
        if (!p->has_res || p->done) continue;
        duckdb_data_chunk ch;
        while ((ch = duckdb_fetch_chunk(p->res))) {
            p->parked = xrealloc(p->parked, sizeof *p->parked * (size_t)(p->nparked + 1));
            p->parked[p->nparked++] = ch;
        }
        duckdb_destroy_result(&p->res);
        p->has_res = false;
    }
}

static duckdb_data_chunk portal_next_chunk(portal_t *p)
{
    if (p->parked_pos < p->nparked) return p->parked[p->parked_pos++];
    if (p->has_res) return duckdb_fetch_chunk(p->res);
    return NULL;
}

static void setup_encoders(portal_t *p)
{
    if (p->enc) return;
    p->ncols = (int)duckdb_column_count(&p->res);
    p->enc = xcalloc((size_t)p->ncols + 1, sizeof *p->enc);
    for (int i = 0; i < p->ncols; i++) {
        pgw_colenc_init(&p->enc[i], duckdb_column_logical_type(&p->res, (idx_t)i));
        int16_t f = 0;
        if (p->nrformats == 1)
            f = p->rformats[0];
        else if (i < p->nrformats)
            f = p->rformats[i];
        p->enc[i].binary = f == 1;
    }
}

/* Fields for RowDescription from a prepared statement's columns. */
static void send_row_description(conn_t *c, gate_stmt_t *g, int nrformats, const int16_t *rformats)
{
    pgw_field_t *f = xcalloc((size_t)g->ncols + 1, sizeof *f);
    pgw_colenc_t *tmp = xcalloc((size_t)g->ncols + 1, sizeof *tmp);
    for (int i = 0; i < g->ncols; i++) {
        pgw_colenc_init(&tmp[i], duckdb_prepared_statement_column_logical_type(g->ps, (idx_t)i));
        f[i].name = g->col_names[i];
        f[i].type_oid = tmp[i].oid;
        f[i].type_len = tmp[i].typlen;
        f[i].type_mod = tmp[i].typmod;
        f[i].format = nrformats == 1 ? rformats[0] : i < nrformats ? rformats[i] : 0;
    }
    pgw_row_description(&c->wbuf, g->ncols, f);
    for (int i = 0; i < g->ncols; i++) pgw_colenc_free(&tmp[i]);
    free(tmp);
    free(f);
}

/* Streams up to max rows (0 = all) of an executed portal as DataRows.
 * Returns false on an engine error (err set). *more = rows remain. */
static bool stream_rows(conn_t *c, portal_t *p, int64_t max, int64_t *sent, bool *more, gate_err_t *err)
{
    *sent = 0;
    *more = false;
    for (;;) {
        if (!p->chunk || p->chunk_row >= p->chunk_size) {
            if (p->chunk) duckdb_destroy_data_chunk(&p->chunk);
            p->chunk = portal_next_chunk(p);
            p->chunk_row = 0;
            p->chunk_size = p->chunk ? duckdb_data_chunk_get_size(p->chunk) : 0;
            if (!p->chunk) {
                if (p->has_res) {
                    const char *e = duckdb_result_error(&p->res);
                    if (e) {
                        gate_err_from_duckdb(err, e, duckdb_result_error_type(&p->res));
                        p->done = true;
                        return false;
                    }
                }
                p->done = true;
                return true;
            }
            if (p->chunk_size == 0) continue;
        }
        if (max > 0 && *sent >= max) {
            *more = true;
            return true;
        }
        int ncols = p->ncols;
        duckdb_vector vecs[ncols > 0 ? ncols : 1];
        for (int i = 0; i < ncols; i++) vecs[i] = duckdb_data_chunk_get_vector(p->chunk, (idx_t)i);
        while (p->chunk_row < p->chunk_size && (max == 0 || *sent < max)) {
            size_t m = pgw_msg_begin(&c->wbuf, 'D');
            pgw_put_i16(&c->wbuf, (int16_t)ncols);
            for (int i = 0; i < ncols; i++) pgw_encode_field(&c->wbuf, &p->enc[i], vecs[i], p->chunk_row);
            pgw_msg_end(&c->wbuf, m);
            p->chunk_row++;
            (*sent)++;
            p->rows++;
            if (c->wbuf.len >= PGW_FLUSH_AT && !flush_out(c)) {
                gate_err_set(err, "08006", "connection lost while sending results");
                return false;
            }
        }
    }
}

static void complete_tag(char *out, size_t n, const gate_stmt_t *g, int64_t rows)
{
    if (strcmp(g->tag, "INSERT") == 0)
        snprintf(out, n, "INSERT 0 %lld", (long long)rows);
    else if (strcmp(g->tag, "SELECT") == 0 || strcmp(g->tag, "UPDATE") == 0 ||
             strcmp(g->tag, "DELETE") == 0 || strcmp(g->tag, "MERGE") == 0 || strcmp(g->tag, "FETCH") == 0 ||
             strcmp(g->tag, "COPY") == 0 || strcmp(g->tag, "MOVE") == 0)
        snprintf(out, n, "%s %lld", g->tag, (long long)rows);
    else if (strcmp(g->tag, "SHOW") == 0)
        snprintf(out, n, "SHOW");
    else if (strcmp(g->tag, "EXPLAIN") == 0)
        snprintf(out, n, "EXPLAIN");
    else
        snprintf(out, n, "%s", g->tag);
}

/* Binds a portal's parameters onto its statement and runs it. */
static bool portal_execute(conn_t *c, portal_t *p, gate_err_t *err)
{
    gate_stmt_t *g = p->ps->g;
    park_open_results(c);
    if (!gate_refresh(c->sess, g, err)) return false;
    duckdb_clear_bindings(g->ps);
    for (int i = 0; i < p->nparams; i++) {
        uint32_t oid = i < p->ps->ndeclared && p->ps->declared[i] ? p->ps->declared[i]
                                                                  : pgw_oid_for_type(g->param_types[i]);
        int16_t f = 0;
        if (p->npformats == 1)
            f = p->pformats[0];
        else if (i < p->npformats)
            f = p->pformats[i];
        char e[256];
        if (!pgw_bind_param(g->ps, (idx_t)i + 1, oid, g->param_types[i], f, p->pvals[i], p->plens[i], e,
                            sizeof e)) {
            gate_err_set(err, "22P02", "%s", e);
            return false;
        }
    }
    int64_t changed = 0;
    if (!gate_execute(c->sess, g, &p->res, &changed, err)) return false;
    p->executed = true;
    if (g->returns_rows) {
        p->has_res = true;
        setup_encoders(p);
    } else {
        p->done = true;
        complete_tag(p->done_tag, sizeof p->done_tag, g, changed);
    }
    return true;
}

/* Executes a statement's portal (if needed) and streams up to max rows.
 * Sends DataRows and PortalSuspended/CommandComplete. */
static bool portal_run(conn_t *c, portal_t *p, int64_t max, gate_err_t *err)
{
    gate_stmt_t *g = p->ps->g;
    if (!p->executed && !portal_execute(c, p, err)) return false;
    if (p->done && !p->has_res && !p->chunk && p->parked_pos >= p->nparked && !g->returns_rows) {
        pgw_command_complete(&c->wbuf, p->done_tag);
        return true;
    }
    int64_t sent;
    bool more;
    if (!stream_rows(c, p, max, &sent, &more, err)) {
        gate_audit_end(c->sess, g, p->rows, err);
        return false;
    }
    if (more) {
        pgw_simple(&c->wbuf, 's');
        return true;
    }
    char tag[64];
    complete_tag(tag, sizeof tag, g, p->rows);
    pgw_command_complete(&c->wbuf, tag);
    gate_audit_end(c->sess, g, p->rows, NULL);
    return true;
}

static portal_t *portal_new(conn_t *c, const char *name, pstmt_t *ps)
{
    drop_portal(c, name);
    portal_t *p = xcalloc(1, sizeof *p);
    p->name = xstrdup(name);
    p->ps = ps;
    p->sess = c->sess;
    ps->refs++;
    p->next = c->portals;
    c->portals = p;
    return p;
}

static pstmt_t *pstmt_wrap(const char *name, gate_stmt_t *g)
{
    pstmt_t *ps = xcalloc(1, sizeof *ps);
    ps->name = xstrdup(name);
    ps->g = g;
    ps->refs = 1;
    return ps;
}

static void send_cursor_description(conn_t *c, portal_t *cur)
{
    gate_stmt_t *g = cur->ps->g;
    pgw_field_t *f = xcalloc((size_t)cur->ncols + 1, sizeof *f);
    for (int i = 0; i < cur->ncols; i++) {
        f[i].name = i < g->ncols ? g->col_names[i] : "?column?";
        f[i].type_oid = cur->enc[i].oid;
        f[i].type_len = cur->enc[i].typlen;
        f[i].type_mod = cur->enc[i].typmod;
        f[i].format = cur->enc[i].binary ? 1 : 0;
    }
    pgw_row_description(&c->wbuf, cur->ncols, f);
    free(f);
}

/* DECLARE: opens a cursor portal over the statement's query (g is consumed). */
static bool declare_cursor(conn_t *c, pstmt_t *ps, gate_err_t *err)
{
    gate_stmt_t *g = ps->g;
    if (find_portal(c, g->name)) {
        gate_err_set(err, "42P03", "cursor \"%s\" already exists", g->name);
        return false;
    }
    if (c->sess->tx == SESS_TX_IDLE) {
        gate_err_set(err, "25P01", "DECLARE CURSOR can only be used in transaction blocks");
        return false;
    }
    portal_t *p = portal_new(c, g->name, ps);
    p->is_cursor = true;
    if (g->cursor_binary) {
        p->nrformats = 1;
        p->rformats = xmalloc(sizeof *p->rformats);
        p->rformats[0] = 1;
    }
    if (!portal_execute(c, p, err)) {
        drop_portal(c, g->name);
        return false;
    }
    return true;
}

static bool fetch_cursor(conn_t *c, gate_stmt_t *g, bool describe, gate_err_t *err)
{
    portal_t *cur = find_portal(c, g->name);
    if (!cur || !cur->is_cursor) {
        gate_err_set(err, "34000", "cursor \"%s\" does not exist", g->name);
        return false;
    }
    if (describe) send_cursor_description(c, cur);
    int64_t sent = 0;
    bool more;
    if (!gate_audit_begin(c->sess, g, "allowed", err)) return false;
    if (g->fetch_count != 0 &&
        !stream_rows(c, cur, g->fetch_count < 0 ? 0 : g->fetch_count, &sent, &more, err)) {
        gate_audit_end(c->sess, g, sent, err);
        return false;
    }
    char tag[64];
    snprintf(tag, sizeof tag, "FETCH %lld", (long long)sent);
    pgw_command_complete(&c->wbuf, tag);
    gate_audit_end(c->sess, g, sent, NULL);
    return true;
}

static void after_tx_end(conn_t *c)
{
    if (c->sess->tx == SESS_TX_IDLE) drop_portals(c, true);
}

/* ---- COPY ---- */

typedef struct {
    gate_copy_t *gc;
    gate_err_t *err;
    bool failed;
} copy_ctx_t;

static bool copy_row_cb(void *ctx, int n, char **fields, size_t *lens)
{
    copy_ctx_t *cc = ctx;
    if (!gate_copy_row(cc->gc, n, fields, lens, cc->err)) {
        cc->failed = true;
        return false;
    }
    return true;
}

/* COPY FROM STDIN: true when the connection is still usable. *ok says whether
 * the load succeeded (err set otherwise). */
static bool copy_in(conn_t *c, gate_stmt_t *g, bool *ok, gate_err_t *err)
{
    *ok = false;
    gate_copy_t *gc = NULL;
    park_open_results(c);
    if (!gate_copy_begin(c->sess, g, &gc, err)) return true;
    pgw_copy_response(&c->wbuf, 'G', false, g->ncols);
    if (!flush_out(c)) {
        int64_t rows;
        gate_err_t e2 = {0}; /* no reason: abandoned */
        if (!gate_copy_end(gc, false, &rows, &e2)) log_event(LOG_DEBUG, "copy_abandoned", "");
        return false;
    }
    pgw_copy_parser_t parser;
    pgw_copy_parser_init(&parser, &g->copy);
    copy_ctx_t cc = {.gc = gc, .err = err};
    bool failed = false, alive = true;
    for (;;) {
        char type;
        const char *body;
        size_t len;
        if (!next_msg(c, &type, &body, &len)) {
            alive = false;
            failed = true;
            break;
        }
        if (type == 'd') {
            if (!failed && !pgw_copy_feed(&parser, body, len, copy_row_cb, &cc)) {
                failed = true;
                if (!cc.failed) gate_err_set(err, "22P04", "%s", parser.err);
                if (!err->detail[0])
                    snprintf(err->detail, sizeof err->detail, "COPY line %lld", (long long)parser.line);
            }
        } else if (type == 'c') {
            if (!failed && !pgw_copy_finish(&parser, copy_row_cb, &cc)) {
                failed = true;
                if (!cc.failed) gate_err_set(err, "22P04", "%s", parser.err);
            }
            break;
        } else if (type == 'f') {
            if (!failed) {
                pgw_reader_t r;
                pgw_reader_init(&r, body, len);
                const char *m = pgw_get_cstr(&r);
                gate_err_set(err, "57014", "COPY from stdin failed: %s", m ? m : "");
            }
            failed = true;
            break;
        } else if (type == 'H' || type == 'S') {
            continue;
        } else {
            gate_err_set(err, "08P01", "unexpected message type 0x%02x during COPY from stdin",
                         (unsigned char)type);
            failed = true;
            break;
        }
    }
    pgw_copy_parser_free(&parser);
    int64_t rows = 0;
    gate_err_t e2 = {0};
    if (failed) e2 = *err; /* why the load was abandoned, for its audit record */
    if (!gate_copy_end(gc, !failed, &rows, &e2) && !failed) {
        *err = e2;
        failed = true;
    }
    if (!failed) {
        char tag[64];
        snprintf(tag, sizeof tag, "COPY %lld", (long long)rows);
        pgw_command_complete(&c->wbuf, tag);
        *ok = true;
    }
    return alive;
}

static bool copy_out(conn_t *c, pstmt_t *ps, gate_err_t *err)
{
    gate_stmt_t *g = ps->g;
    portal_t p = {.ps = ps};
    park_open_results(c);
    int64_t changed;
    if (!gate_execute(c->sess, g, &p.res, &changed, err)) return false;
    p.has_res = true;
    setup_encoders(&p);
    pgw_copy_response(&c->wbuf, 'H', false, p.ncols);
    size_t m;
    if (g->copy.header) {
        m = pgw_msg_begin(&c->wbuf, 'd');
        pgw_copy_encode_header(&c->wbuf, &g->copy, g->col_names, g->ncols);
        pgw_msg_end(&c->wbuf, m);
    }
    int64_t rows = 0;
    bool ok = true;
    duckdb_data_chunk ch;
    duckdb_vector vecs[p.ncols > 0 ? p.ncols : 1];
    while ((ch = duckdb_fetch_chunk(p.res))) {
        idx_t n = duckdb_data_chunk_get_size(ch);
        for (int i = 0; i < p.ncols; i++) vecs[i] = duckdb_data_chunk_get_vector(ch, (idx_t)i);
        for (idx_t r = 0; r < n; r++) {
            m = pgw_msg_begin(&c->wbuf, 'd');
            pgw_copy_encode_row(&c->wbuf, &g->copy, p.enc, vecs, p.ncols, r);
            pgw_msg_end(&c->wbuf, m);
            rows++;
            if (c->wbuf.len >= PGW_FLUSH_AT && !flush_out(c)) ok = false;
        }
        duckdb_destroy_data_chunk(&ch);
        if (!ok) break;
    }
    const char *e = duckdb_result_error(&p.res);
    if (ok && e) {
        gate_err_from_duckdb(err, e, duckdb_result_error_type(&p.res));
        ok = false;
    }
    duckdb_destroy_result(&p.res);
    for (int i = 0; i < p.ncols; i++) pgw_colenc_free(&p.enc[i]);
    free(p.enc);
    gate_audit_end(c->sess, g, (int64_t)rows, ok ? NULL : err);
    if (!ok) return false;
    pgw_simple(&c->wbuf, 'c');
    char tag[64];
    snprintf(tag, sizeof tag, "COPY %lld", (long long)rows);
    pgw_command_complete(&c->wbuf, tag);
    return true;
}

/* ---- one statement, either protocol ---- */

/* Runs a statement that has no parameters to bind (simple query, or an
 * extended-protocol utility). describe: send RowDescription first (simple
 * query). Returns false on error (err set). *alive=false closes the connection. */
static bool run_unnamed(conn_t *c, pstmt_t *ps, bool describe, int64_t max, bool *alive, gate_err_t *err)
{
    gate_stmt_t *g = ps->g;
    *alive = true;
    if (!gate_check_tx(c->sess, g, err)) return false;
    switch (g->action) {
    case GATE_EMPTY:
        pgw_empty_query(&c->wbuf);
        return true;
    case GATE_ENGINE: {
        portal_t *p = portal_new(c, "\x01simple", ps);
        if (describe && g->returns_rows) send_row_description(c, g, 0, NULL);
        bool ok = portal_run(c, p, max, err);
        drop_portal(c, "\x01simple");
        return ok;
    }
    case GATE_DECLARE:
        if (!declare_cursor(c, ps, err)) return false;
        pgw_command_complete(&c->wbuf, "DECLARE CURSOR");
        return true;
    case GATE_FETCH:
        return fetch_cursor(c, g, describe, err);
    case GATE_CLOSE_CURSOR:
        if (g->close_all) {
            drop_portals(c, true);
        } else {
            portal_t *cur = find_portal(c, g->name);
            if (!cur || !cur->is_cursor) {
                gate_err_set(err, "34000", "cursor \"%s\" does not exist", g->name);
                return false;
            }
            drop_portal(c, g->name);
        }
        if (!gate_audit_statement(c->sess, g, err)) return false;
        pgw_command_complete(&c->wbuf, g->tag);
        return true;
    case GATE_COPY_IN: {
        bool ok;
        *alive = copy_in(c, g, &ok, err);
        return ok;
    }
    case GATE_COPY_OUT:
        return copy_out(c, ps, err);
    default: {
        char tag[64];
        park_open_results(c);
        if (!gate_run_utility(c->sess, g, tag, sizeof tag, err)) return false;
        if (g->action == GATE_RESET && g->close_all) drop_portals(c, true);
        if (g->action == GATE_COMMIT || g->action == GATE_ROLLBACK) after_tx_end(c);
        pgw_command_complete(&c->wbuf, tag);
        report_changed(c);
        return true;
    }
    }
}

static void statement_failed(conn_t *c, const gate_err_t *err)
{
    log_event(LOG_INFO, "statement_error", "pid=%d user=\"%s\" sqlstate=%s message=\"%.200s\"", c->pid,
              c->sess->user, err->sqlstate, err->message);
    send_error(c, "ERROR", err);
    gate_note_failure(c->sess);
}

/* 'Q' */
static bool handle_query(conn_t *c, const char *body, size_t len)
{
    if (len == 0 || body[len - 1] != '\0') {
        send_fatal(c, "08P01", "invalid query message");
        return false;
    }
    lex_range_t *r = NULL;
    int n = lex_split(body, &r);
    gate_err_t err;
    bool alive = true;
    if (n < 0) {
        gate_err_set(&err, "42601", "unterminated quoted string, identifier or comment");
        statement_failed(c, &err);
    }
    for (int i = 0; i < n && alive; i++) {
        if (r[i].is_empty && n > 1) continue;
        char *sql = xstrndup(body + r[i].start, r[i].len);
        gate_stmt_t *g = NULL;
        bool ok = true;
        if (c->sess->tx == SESS_TX_FAILED) {
            /* only the end of the transaction block gets through */
            ok = gate_prepare(c->sess, sql, type_ok, &g, &err);
            if (ok && !gate_check_tx(c->sess, g, &err)) ok = false;
        } else {
            park_open_results(c);
            ok = gate_prepare(c->sess, sql, type_ok, &g, &err);
        }
        free(sql);
        if (ok && g->nparams > 0 && g->action == GATE_ENGINE) {
            gate_err_set(&err, "42P02", "there is no parameter $1");
            ok = false;
        }
        if (ok) {
            pstmt_t *ps = pstmt_wrap("", g);
            g = NULL;
            ok = run_unnamed(c, ps, true, 0, &alive, &err);
            pstmt_unref(ps);
            if (ok && c->sess->nchanged) report_changed(c); /* set_config() */
        } else {
            gate_stmt_free(g);
        }
        if (!ok) {
            if (!alive) break;
            statement_failed(c, &err);
            break;
        }
    }
    free(r);
    if (!alive) return false;
    pgw_ready_for_query(&c->wbuf, (char)c->sess->tx);
    return flush_out(c);
}

/* 'P' */
static bool handle_parse(conn_t *c, const char *body, size_t len, gate_err_t *err)
{
    pgw_parse_msg_t m;
    if (!pgw_parse_parse(body, len, &m)) {
        gate_err_set(err, "08P01", "invalid Parse message");
        return false;
    }
    /* refused before the gate sees it: still on the record, once */
    if (m.name[0] && find_stmt(c, m.name)) {
        gate_err_set(err, "42P05", "prepared statement \"%s\" already exists", m.name);
        gate_audit_refused(c->sess, m.query, err);
        return false;
    }
    lex_range_t *r = NULL;
    int n = lex_split(m.query, &r);
    int nonempty = 0;
    for (int i = 0; i < n; i++) nonempty += !r[i].is_empty;
    free(r);
    if (n < 0) {
        gate_err_set(err, "42601", "unterminated quoted string, identifier or comment");
        gate_audit_refused(c->sess, m.query, err);
        return false;
    }
    if (nonempty > 1) {
        gate_err_set(err, "42601", "cannot insert multiple commands into a prepared statement");
        gate_audit_refused(c->sess, m.query, err);
        return false;
    }
    if (c->sess->tx == SESS_TX_FAILED) {
        /* PostgreSQL still parses ROLLBACK/COMMIT in a failed transaction */
        lex_t l;
        lex_init(&l, m.query, strlen(m.query));
        lex_tok_t t = lex_next(&l);
        if (!(lex_is(&t, "ROLLBACK") || lex_is(&t, "COMMIT") || lex_is(&t, "END") || lex_is(&t, "ABORT")) &&
            !gate_check_tx(c->sess, &(gate_stmt_t){.action = GATE_ENGINE, .audit_text = (char *)m.query},
                           err))
            return false;
    }
    park_open_results(c);
    gate_stmt_t *g = NULL;
    /* trailing semicolon is fine: strip it */
    char *sql = xstrdup(m.query);
    size_t ql = strlen(sql);
    while (ql > 0 && (sql[ql - 1] == ';' || sql[ql - 1] == ' ' || sql[ql - 1] == '\n' || sql[ql - 1] == '\t'))
        sql[--ql] = '\0';
    /* The same unnamed statement again (pgbench -M extended, psycopg 3,
     * node-postgres send Parse before every execution): keep the one
     * prepared, as long as nothing it was decided on has changed since —
     * grants, policies, catalog (authz_version), settings and user (epoch).
     * Bind re-checks the version as for any prepared statement. */
    pstmt_t *prev = m.name[0] ? NULL : find_stmt(c, "");
    if (prev && prev->text && !strcmp(prev->text, sql) && prev->epoch == c->sess->epoch &&
        prev->g->action == GATE_ENGINE && prev->g->authz_version == authz_version() &&
        prev->ndeclared == m.nparams) {
        bool same = true;
        for (int i = 0; i < m.nparams && same; i++) same = prev->declared[i] == pgw_parse_param_oid(&m, i);
        if (same) {
            free(sql);
            pgw_simple(&c->wbuf, '1');
            return true;
        }
    }
    const char **hints = xcalloc((size_t)m.nparams + 1, sizeof *hints);
    for (int i = 0; i < m.nparams; i++) hints[i] = pgw_duckdb_type_for_oid(pgw_parse_param_oid(&m, i));
    bool ok = gate_prepare_typed(c->sess, sql, type_ok, hints, m.nparams, &g, err);
    free(hints);
    if (!ok) {
        free(sql);
        return false;
    }
    if (!m.name[0]) remove_stmt(c, "");
    pstmt_t *ps = pstmt_wrap(m.name, g);
    ps->text = sql;
    ps->epoch = c->sess->epoch;
    ps->ndeclared = m.nparams;
    ps->declared = xcalloc((size_t)m.nparams + 1, sizeof *ps->declared);
    for (int i = 0; i < m.nparams; i++) ps->declared[i] = pgw_parse_param_oid(&m, i);
    c->stmts = xrealloc(c->stmts, sizeof *c->stmts * (size_t)(c->nstmts + 1));
    c->stmts[c->nstmts++] = ps;
    pgw_simple(&c->wbuf, '1');
    return true;
}

/* 'B' */
static bool handle_bind(conn_t *c, const char *body, size_t len, gate_err_t *err)
{
    pgw_bind_msg_t m;
    if (!pgw_parse_bind(body, len, &m)) {
        gate_err_set(err, "08P01", "invalid Bind message");
        return false;
    }
    pstmt_t *ps = find_stmt(c, m.stmt);
    if (!ps) {
        gate_err_set(err, "26000", "prepared statement \"%s\" does not exist", m.stmt);
        return false;
    }
    if (!gate_check_tx(c->sess, ps->g, err)) return false;
    int want = ps->g->action == GATE_ENGINE || ps->g->action == GATE_DECLARE ? ps->g->nparams : 0;
    if (m.nparams != want) {
        gate_err_set(err, "08P01",
                     "bind message supplies %d parameters, but prepared statement \"%s\" requires %d",
                     m.nparams, m.stmt, want);
        return false;
    }
    if (m.portal[0]) {
        portal_t *old = find_portal(c, m.portal);
        if (old) {
            gate_err_set(err, "42P03", "portal \"%s\" already exists", m.portal);
            return false;
        }
    }
    park_open_results(c);
    portal_t *p = portal_new(c, m.portal, ps);
    p->nparams = m.nparams;
    p->npformats = m.nformats;
    p->pformats = xcalloc((size_t)m.nformats + 1, sizeof *p->pformats);
    for (int i = 0; i < m.nformats; i++) p->pformats[i] = pgw_bind_param_format(&m, i);
    p->pvals = xcalloc((size_t)m.nparams + 1, sizeof *p->pvals);
    p->plens = xcalloc((size_t)m.nparams + 1, sizeof *p->plens);
    size_t pos = 0;
    for (int i = 0; i < m.nparams; i++) {
        const char *v;
        int32_t l;
        if (!pgw_bind_next_param(&m, &pos, &v, &l)) break;
        p->plens[i] = l;
        p->pvals[i] = l >= 0 ? xstrndup(v, (size_t)l) : NULL;
    }
    p->nrformats = m.nresult_formats;
    p->rformats = xcalloc((size_t)m.nresult_formats + 1, sizeof *p->rformats);
    for (int i = 0; i < m.nresult_formats; i++) p->rformats[i] = pgw_bind_result_format(&m, i);
    pgw_simple(&c->wbuf, '2');
    return true;
}

/* 'D' */
static bool handle_describe(conn_t *c, const char *body, size_t len, gate_err_t *err)
{
    pgw_reader_t r;
    pgw_reader_init(&r, body, len);
    uint8_t kind = pgw_get_u8(&r);
    const char *name = pgw_get_cstr(&r);
    if (!pgw_reader_done(&r) || (kind != 'S' && kind != 'P')) {
        gate_err_set(err, "08P01", "invalid Describe message");
        return false;
    }
    gate_stmt_t *g;
    int nrf = 0;
    const int16_t *rf = NULL;
    if (kind == 'S') {
        pstmt_t *ps = find_stmt(c, name);
        if (!ps) {
            gate_err_set(err, "26000", "prepared statement \"%s\" does not exist", name);
            return false;
        }
        g = ps->g;
        int np = g->action == GATE_ENGINE || g->action == GATE_DECLARE ? g->nparams : 0;
        uint32_t *oids = xcalloc((size_t)np + 1, sizeof *oids);
        for (int i = 0; i < np; i++) {
            oids[i] =
                i < ps->ndeclared && ps->declared[i] ? ps->declared[i] : pgw_oid_for_type(g->param_types[i]);
        }
        pgw_parameter_description(&c->wbuf, np, oids);
        free(oids);
    } else {
        portal_t *p = find_portal(c, name);
        if (!p) {
            gate_err_set(err, "34000", "portal \"%s\" does not exist", name);
            return false;
        }
        g = p->ps->g;
        nrf = p->nrformats;
        rf = p->rformats;
        if (p->is_cursor) {
            send_cursor_description(c, p);
            return true;
        }
    }
    if (g->action == GATE_ENGINE && g->returns_rows) {
        send_row_description(c, g, nrf, rf);
    } else if (g->action == GATE_FETCH) {
        portal_t *cur = find_portal(c, g->name);
        if (cur && cur->is_cursor)
            send_cursor_description(c, cur);
        else
            pgw_simple(&c->wbuf, 'n');
    } else {
        pgw_simple(&c->wbuf, 'n');
    }
    return true;
}

/* 'E' */
static bool handle_execute(conn_t *c, const char *body, size_t len, bool *alive, gate_err_t *err)
{
    *alive = true;
    pgw_reader_t r;
    pgw_reader_init(&r, body, len);
    const char *name = pgw_get_cstr(&r);
    int32_t max = pgw_get_i32(&r);
    if (!pgw_reader_done(&r)) {
        gate_err_set(err, "08P01", "invalid Execute message");
        return false;
    }
    portal_t *p = find_portal(c, name);
    if (!p) {
        gate_err_set(err, "34000", "portal \"%s\" does not exist", name);
        return false;
    }
    gate_stmt_t *g = p->ps->g;
    if (!gate_check_tx(c->sess, g, err)) return false;
    if (g->action == GATE_ENGINE || p->is_cursor) {
        if (!p->executed) park_open_results(c);
        return portal_run(c, p, max > 0 ? max : 0, err);
    }
    if (p->executed) {
        pgw_command_complete(&c->wbuf, p->done_tag);
        return true;
    }
    p->executed = true;
    bool ok = run_unnamed(c, p->ps, false, max, alive, err);
    return ok;
}

/* 'C' */
static bool handle_close(conn_t *c, const char *body, size_t len, gate_err_t *err)
{
    pgw_reader_t r;
    pgw_reader_init(&r, body, len);
    uint8_t kind = pgw_get_u8(&r);
    const char *name = pgw_get_cstr(&r);
    if (!pgw_reader_done(&r) || (kind != 'S' && kind != 'P')) {
        gate_err_set(err, "08P01", "invalid Close message");
        return false;
    }
    if (kind == 'S')
        remove_stmt(c, name);
    else
        drop_portal(c, name);
    pgw_simple(&c->wbuf, '3');
    return true;
}

static void message_loop(conn_t *c)
{
    for (;;) {
        char type;
        const char *body;
        size_t len;
        if (!next_msg(c, &type, &body, &len)) return;
        if (atomic_load(&c->srv->stopping)) {
            send_fatal(c, "57P01", "terminating connection due to administrator command");
            return;
        }
        if (type == 'X') return;
        if (type == 'Q') {
            c->skip_to_sync = false;
            if (!handle_query(c, body, len)) return;
            continue;
        }
        if (type == 'S') {
            c->skip_to_sync = false;
            if (c->sess->tx == SESS_TX_IDLE) drop_portals(c, false);
            pgw_ready_for_query(&c->wbuf, (char)c->sess->tx);
            if (!flush_out(c)) return;
            continue;
        }
        if (type == 'H') {
            if (!flush_out(c)) return;
            continue;
        }
        if (c->skip_to_sync) continue;
        gate_err_t err;
        bool ok, alive = true;
        switch (type) {
        case 'P':
            ok = handle_parse(c, body, len, &err);
            break;
        case 'B':
            ok = handle_bind(c, body, len, &err);
            break;
        case 'D':
            ok = handle_describe(c, body, len, &err);
            break;
        case 'E':
            ok = handle_execute(c, body, len, &alive, &err);
            if (ok && c->sess->nchanged) report_changed(c);
            break;
        case 'C':
            ok = handle_close(c, body, len, &err);
            break;
        case 'd':
        case 'c':
        case 'f':
            continue; /* stray copy messages after an error: ignore, as PostgreSQL does */
        case 'F':
            gate_err_set(&err, "0A000", "the fastpath function call protocol is not supported");
            ok = false;
            break;
        default:
            log_event(LOG_WARN, "bad_message_type", "peer=%s type=0x%02x", c->peer, (unsigned char)type);
            send_fatal(c, "08P01", "invalid frontend message type");
            return;
        }
        if (!alive) return;
        if (!ok) {
            statement_failed(c, &err);
            c->skip_to_sync = true;
        }
        if (c->broken) return;
    }
}

/* ---- connection thread ---- */

static void conn_startup_and_run(conn_t *c)
{
    pgw_startup_t su;
    for (;;) {
        if (!read_startup(c, &su)) return;
        if (su.kind == PGW_STARTUP_SSL) {
            if (c->ssl) return; /* SSLRequest inside TLS: protocol violation */
            if (c->srv->tls && c->rpos == c->rbuf.len) {
                char s = 'S';
                if (send(c->fd, &s, 1, MSG_NOSIGNAL) != 1) return;
                if (!start_tls(c)) return;
            } else {
                char n = 'N';
                if (send(c->fd, &n, 1, MSG_NOSIGNAL) != 1) return;
            }
            continue;
        }
        if (su.kind == PGW_STARTUP_GSSENC) {
            char n = 'N';
            if (send(c->fd, &n, 1, MSG_NOSIGNAL) != 1) return;
            continue;
        }
        if (su.kind == PGW_STARTUP_CANCEL) {
            reg_cancel(su.cancel_pid, su.cancel_key);
            return;
        }
        break;
    }
    /* Newer minor versions and _pq_ options: answer what we speak (3.0). */
    const char *unrec[PGW_MAX_STARTUP_PARAMS];
    int nunrec = 0;
    for (int i = 0; i < su.nparams; i++)
        if (strncmp(su.keys[i], "_pq_.", 5) == 0) unrec[nunrec++] = su.keys[i];
    if ((su.version & 0xffff) != 0 || nunrec) pgw_negotiate_version(&c->wbuf, PGW_PROTO_30, nunrec, unrec);

    const char *user = pgw_startup_get(&su, "user");
    if (!user || !*user) {
        send_fatal(c, "28000", "no PostgreSQL user name specified in startup packet");
        return;
    }
    const char *db = pgw_startup_get(&su, "database");
    if (!db || !*db) db = user;
    char uname[64];
    snprintf(uname, sizeof uname, "%s", user);
    meta_user_t u;
    bool known = meta_user_get(c->srv->meta, uname, &u);
    /* LDAP users (and, with LDAP configured, users not known yet) bind to the directory */
    bool via_ldap = c->srv->cfg.ldap_url && (!known || !strcmp(u.source, "ldap"));
    bool responded = false;
    bool authed =
        via_ldap ? authenticate_ldap(c, uname, &u, &known, &responded) : authenticate(c, uname, &u, known);
    const char *app0 = pgw_startup_get(&su, "application_name");
    if (!authed) {
        id_login_failed(c->srv->meta, &c->srv->cfg, uname, c->peer);
        gate_audit_login(c->srv, "pgwire", uname, uname, c->peer, app0, false, "28P01",
                         via_ldap ? "LDAP authentication failed" : "password authentication failed");
        if (!c->broken && !responded && known == false && c->wbuf.len == 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "password authentication failed for user \"%s\"", uname);
            send_fatal(c, "28P01", msg);
        }
        return;
    }
    if (!u.can_login) {
        log_event(LOG_WARN, "login_failed", "user=\"%s\" peer=%s reason=\"may not log in\"", uname, c->peer);
        char msg[160];
        snprintf(msg, sizeof msg, "role \"%s\" is not permitted to log in", uname);
        gate_audit_login(c->srv, "pgwire", uname, uname, c->peer, app0, false, "28000", "may not log in");
        send_fatal(c, "28000", msg);
        return;
    }
    if (id_is_locked(&u)) {
        log_event(LOG_WARN, "login_failed", "user=\"%s\" peer=%s reason=locked", uname, c->peer);
        gate_audit_login(c->srv, "pgwire", uname, uname, c->peer, app0, false, "28000", "account locked");
        char msg[200];
        snprintf(msg, sizeof msg, "account \"%s\" is locked after too many failed logins", uname);
        pgw_error_t e = {
            .severity = "FATAL",
            .sqlstate = "28000",
            .message = msg,
            .hint = "wait for the lockout to end, or ask an administrator to run ALTER USER … ACCOUNT "
                    "UNLOCK"};
        pgw_error_response(&c->wbuf, &e);
        flush_out(c);
        return;
    }
    id_login_succeeded(c->srv->meta, uname);
    /* connect-time impersonation: the proxy's login, the target's rights */
    char *imp = startup_impersonate(&su);
    meta_user_t target = u;
    if (imp) {
        char why[256] = "";
        char host[64];
        snprintf(host, sizeof host, "%s", c->peer);
        char *colon = strrchr(host, ':');
        if (colon) *colon = '\0';
        bool ok = id_may_impersonate(c->srv->meta, uname, imp, why, sizeof why);
        if (ok && !config_host_allowed(&c->srv->cfg, uname, host)) {
            snprintf(why, sizeof why, "\"%s\" may not impersonate from %s (impersonation.allowed_hosts)",
                     uname, host);
            ok = false;
        }
        if (ok && !meta_user_get(c->srv->meta, imp, &target)) ok = false;
        if (!ok) {
            log_event(LOG_WARN, "impersonation_denied", "user=\"%s\" target=\"%s\" peer=%s", uname, imp,
                      c->peer);
            gate_audit_login(c->srv, "pgwire", imp, uname, c->peer, app0, false, "28000", why);
            pgw_error_t e = {.severity = "FATAL",
                             .sqlstate = "28000",
                             .message = why,
                             .hint = "a superuser can run GRANT IMPERSONATE ON USER <name> TO USER <proxy>"};
            pgw_error_response(&c->wbuf, &e);
            flush_out(c);
            free(imp);
            return;
        }
    }
    if (strcmp(db, "madang") != 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "database \"%s\" does not exist", db);
        gate_audit_login(c->srv, "pgwire", uname, uname, c->peer, app0, false, "3D000", msg);
        pgw_error_t e = {.severity = "FATAL",
                         .sqlstate = "3D000",
                         .message = msg,
                         .hint = "madang serves one database: connect to \"madang\""};
        pgw_error_response(&c->wbuf, &e);
        flush_out(c);
        return;
    }
    pthread_mutex_lock(&g_reg_mu);
    bool full = g_sessions >= c->srv->opts.max_connections;
    if (!full) g_sessions++;
    pthread_mutex_unlock(&g_reg_mu);
    if (full) {
        send_fatal(c, "53300", "sorry, too many clients already");
        return;
    }
    c->deadline_us = 0;
    sess_t *s =
        sess_create(c->srv, imp ? imp : uname, imp ? target.superuser : u.superuser, c->peer, "pgwire");
    if (!s) {
        free(imp);
        send_fatal(c, "53000", "could not open an engine connection");
        goto out;
    }
    if (imp) {
        snprintf(s->real_user, sizeof s->real_user, "%s", uname);
        s->impersonated = true;
        log_event(LOG_INFO, "impersonation", "user=\"%s\" as=\"%s\" peer=%s", uname, imp, c->peer);
        free(imp);
    }
    char err[256];
    for (int i = 0; i < su.nparams; i++) {
        const char *k = su.keys[i];
        if (!strcmp(k, "user") || !strcmp(k, "database") || !strncmp(k, "_pq_.", 5) ||
            !strcmp(k, "replication"))
            continue;
        if (!strcmp(k, "options")) {
            pthread_mutex_lock(&g_reg_mu);
            c->sess = s;
            pthread_mutex_unlock(&g_reg_mu);
            if (!apply_options(c, su.values[i])) goto out;
            continue;
        }
        sess_set_result_t r = sess_set(s, k, su.values[i], true, err, sizeof err);
        if (r == SESS_SET_BAD_VALUE) {
            send_fatal(c, "22023", err);
            goto out;
        }
        /* unknown startup options are accepted and ignored, like PostgreSQL's unknown GUCs with a dot */
    }
    if (!gate_session_start(s, c->pid, err, sizeof err)) {
        send_fatal(c, "XX000", err);
        goto out;
    }
    pthread_mutex_lock(&g_reg_mu);
    c->sess = s;
    pthread_mutex_unlock(&g_reg_mu);
    met_conn_opened();
    pgw_auth_ok(&c->wbuf);
    for (int i = 0; i < s->nsettings; i++) {
        if (!sess_is_reported(s->settings[i].name)) continue;
        const char *n = s->settings[i].name;
        const char *disp = !strcmp(n, "datestyle")       ? "DateStyle"
                           : !strcmp(n, "timezone")      ? "TimeZone"
                           : !strcmp(n, "intervalstyle") ? "IntervalStyle"
                                                         : n;
        pgw_parameter_status(&c->wbuf, disp, s->settings[i].value);
    }
    int nch;
    char **ch = sess_take_changed(s, &nch);
    for (int i = 0; i < nch; i++) free(ch[i]);
    free(ch);
    pgw_backend_key_data(&c->wbuf, c->pid, c->key);
    pgw_ready_for_query(&c->wbuf, 'I');
    log_event(LOG_INFO, "session_start", "pid=%d user=\"%s\" peer=%s tls=%s app=\"%s\"", c->pid, uname,
              c->peer, c->ssl ? "yes" : "no", sess_get(s, "application_name"));
    gate_audit_login(c->srv, "pgwire", s->user, s->real_user, c->peer, sess_get(s, "application_name"), true,
                     "00000", s->impersonated ? "impersonation" : NULL);
    if (flush_out(c)) message_loop(c);
    met_conn_closed();
    log_event(LOG_INFO, "session_end", "pid=%d user=\"%s\"", c->pid, uname);
out:
    pthread_mutex_lock(&g_reg_mu);
    g_sessions--;
    c->sess = NULL;
    pthread_mutex_unlock(&g_reg_mu);
    if (s) {
        drop_portals(c, true);
        for (int i = 0; i < c->nstmts; i++) pstmt_unref(c->stmts[i]);
        c->nstmts = 0;
        if (s->tx != SESS_TX_IDLE) {
            duckdb_result rr;
            duckdb_query(s->conn, "ROLLBACK", &rr);
            duckdb_destroy_result(&rr);
        }
        sess_destroy(s);
    }
}

static void *conn_thread(void *arg)
{
    conn_t *c = arg;
    reg_add(c);
    conn_startup_and_run(c);
    reg_remove(c);
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->fd);
    buf_free(&c->rbuf);
    buf_free(&c->wbuf);
    free(c->stmts);
    free(c->startup);
    free(c);
    pthread_mutex_lock(&g_reg_mu);
    g_threads--;
    bool last = g_threads == 0;
    pthread_cond_broadcast(&g_reg_cv);
    pthread_mutex_unlock(&g_reg_mu);
    /* the last connection gone: hand the malloc arenas' free pages back to
     * the OS (memory still in use, such as the engine's buffer bookkeeping,
     * stays) */
    if (last) malloc_trim(0);
    return NULL;
}

void pgw_accept(server_t *srv)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(srv->pg_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_t *c = xcalloc(1, sizeof *c);
    c->srv = srv;
    c->fd = fd;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(c->peer, sizeof c->peer, "%s:%d", ip, ntohs(a->sin_port));
    }
    buf_init(&c->rbuf, 16384);
    buf_init(&c->wbuf, 64 * 1024);
    if (RAND_bytes((unsigned char *)&c->key, sizeof c->key) != 1) c->key = (int32_t)now_us();
    c->deadline_us = now_us() + (int64_t)srv->opts.auth_timeout_s * 1000000;
    pthread_mutex_lock(&g_reg_mu);
    bool stopping = g_shutdown;
    if (!stopping) g_threads++;
    pthread_mutex_unlock(&g_reg_mu);
    if (stopping) {
        close(fd);
        buf_free(&c->rbuf);
        buf_free(&c->wbuf);
        free(c);
        return;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* DuckDB's binder recurses deeply on large statements: 8 MB like a main
     * thread. (Only touched pages count; glibc also caches fewer big stacks.) */
    pthread_attr_setstacksize(&attr, 8u << 20);
    pthread_t th;
    if (pthread_create(&th, &attr, conn_thread, c) != 0) {
        log_event(LOG_ERROR, "thread_create_failed", "peer=%s", c->peer);
        close(fd);
        buf_free(&c->rbuf);
        buf_free(&c->wbuf);
        free(c);
        pthread_mutex_lock(&g_reg_mu);
        g_threads--;
        pthread_mutex_unlock(&g_reg_mu);
    }
    pthread_attr_destroy(&attr);
}

bool pgw_setup_engine(server_t *srv, char *err, size_t errlen)
{
    return gate_setup_engine(srv, err, errlen);
}
