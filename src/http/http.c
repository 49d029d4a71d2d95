/* http.c — the HTTP door. Handlers answer JSON (jansson) or Prometheus text.
 *
 * libmicrohttpd runs its own threads; handlers must only read shared state
 * through thread-safe calls (metrics atomics, meta's mutex). */
#include "http/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "audit/audit.h"
#include "gate/gate.h"
#include "gate/lex.h"
#include "pgwire/scram.h"
#include "policy/identity.h"
#include "policy/ldap.h"
#include "server/metrics.h"

#define MAX_BODY    (1u << 20)
#define MAX_ROWS    10000
#define TOKEN_HOURS 12

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

typedef struct {
    buf_t body;
    bool too_big;
} req_t;

static void req_done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode toe)
{
    UNUSED(cls);
    UNUSED(c);
    UNUSED(toe);
    req_t *r = *state;
    if (r) {
        if (r->body.data) explicit_bzero(r->body.data, r->body.cap);
        buf_free(&r->body);
        free(r);
    }
    *state = NULL;
}

static void peer_of(struct MHD_Connection *c, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ci->client_addr;
        inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)n);
    }
}

/* POST /api/v1/login {"user","password"} → {"token","expires_at"}: a token
 * valid for TOKEN_HOURS hours (also set as the cookie madang_token). */
static enum MHD_Result login(http_t *h, struct MHD_Connection *c, json_t *in)
{
    const char *user = json_string_value(json_object_get(in, "user"));
    const char *pw = json_string_value(json_object_get(in, "password"));
    if (!user || !pw) return respond_error(c, 400, "22023", "send {\"user\": ..., \"password\": ...}");
    char peer[64];
    peer_of(c, peer, sizeof peer);
    meta_t *m = h->srv->meta;
    meta_user_t u;
    bool known = meta_user_get(m, user, &u);
    bool ok = false;
    char err[256] = "";
    if (h->srv->cfg.ldap_url && (!known || !strcmp(u.source, "ldap"))) {
        char **groups = NULL;
        int ng = 0;
        ok = ldap_login(&h->srv->cfg, user, pw, &groups, &ng, err, sizeof err) &&
             ldap_apply(m, user, true, groups, ng);
        ldap_groups_free(groups, ng);
        known = ok && meta_user_get(m, user, &u);
    } else {
        /* unknown users are checked against a dummy verifier: same work, same answer */
        ok = pgw_scram_check_password(known && u.scram[0] ? u.scram : NULL, pw) && known;
    }
    if (!ok) {
        id_login_failed(m, &h->srv->cfg, user, peer);
        gate_audit_login(h->srv, "http", user, user, peer, "", false, "28P01",
                         "password authentication failed");
        log_event(LOG_WARN, "login_failed", "user=\"%s\" peer=%s door=http", user, peer);
        return respond_error(c, 401, "28P01", "password authentication failed");
    }
    if (!u.can_login || id_is_locked(&u)) {
        log_event(LOG_WARN, "login_failed", "user=\"%s\" peer=%s door=http reason=locked", user, peer);
        return respond_error(c, 401, "28000", !u.can_login ? "role may not log in" : "account is locked");
    }
    id_login_succeeded(m, user);
    gate_audit_login(h->srv, "http", user, user, peer, "", true, "00000", "token issued");
    char expires[32];
    time_t t = time(NULL) + TOKEN_HOURS * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(expires, sizeof expires, "%Y-%m-%dT%H:%M:%S", &tm);
    int64_t id;
    char *secret = NULL;
    if (!id_token_create(m, user, expires, user, &id, &secret, err, sizeof err))
        return respond_error(c, 500, "XX000", "cannot create a token");
    json_t *j =
        json_pack("{s:s,s:s,s:I}", "token", secret, "expires_at", expires, "token_id", (json_int_t)id);
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    char cookie[160];
    snprintf(cookie, sizeof cookie, "madang_token=%s; HttpOnly; SameSite=Strict; Path=/", secret);
    MHD_add_response_header(r, "Set-Cookie", cookie);
    explicit_bzero(cookie, sizeof cookie);
    explicit_bzero(secret, strlen(secret));
    free(secret);
    log_event(LOG_INFO, "login", "user=\"%s\" peer=%s door=http", user, peer);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static bool http_type_ok(duckdb_logical_type lt)
{
    switch (duckdb_get_type_id(lt)) {
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_VARCHAR:
        return true;
    default:
        return false; /* sent as text (the gate casts the column) */
    }
}

static const char *type_name(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN:
        return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT:
        return "TINYINT";
    case DUCKDB_TYPE_SMALLINT:
        return "SMALLINT";
    case DUCKDB_TYPE_INTEGER:
        return "INTEGER";
    case DUCKDB_TYPE_BIGINT:
        return "BIGINT";
    case DUCKDB_TYPE_UTINYINT:
        return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT:
        return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER:
        return "UINTEGER";
    case DUCKDB_TYPE_FLOAT:
        return "FLOAT";
    case DUCKDB_TYPE_DOUBLE:
        return "DOUBLE";
    default:
        return "VARCHAR";
    }
}

/* JSON has no Infinity or NaN: they are sent as PostgreSQL spells them, as
 * strings (jansson refuses them as numbers, which would shift the row). */
static json_t *real_cell(double v)
{
    if (isnan(v)) return json_string("NaN");
    if (isinf(v)) return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

static json_t *cell(duckdb_vector v, duckdb_type t, idx_t i)
{
    uint64_t *valid = duckdb_vector_get_validity(v);
    if (valid && !duckdb_validity_row_is_valid(valid, i)) return json_null();
    void *d = duckdb_vector_get_data(v);
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN:
        return json_boolean(((bool *)d)[i]);
    case DUCKDB_TYPE_TINYINT:
        return json_integer(((int8_t *)d)[i]);
    case DUCKDB_TYPE_SMALLINT:
        return json_integer(((int16_t *)d)[i]);
    case DUCKDB_TYPE_INTEGER:
        return json_integer(((int32_t *)d)[i]);
    case DUCKDB_TYPE_BIGINT:
        return json_integer(((int64_t *)d)[i]);
    case DUCKDB_TYPE_UTINYINT:
        return json_integer(((uint8_t *)d)[i]);
    case DUCKDB_TYPE_USMALLINT:
        return json_integer(((uint16_t *)d)[i]);
    case DUCKDB_TYPE_UINTEGER:
        return json_integer(((uint32_t *)d)[i]);
    case DUCKDB_TYPE_FLOAT:
        return real_cell(((float *)d)[i]);
    case DUCKDB_TYPE_DOUBLE:
        return real_cell(((double *)d)[i]);
    case DUCKDB_TYPE_VARCHAR: {
        duckdb_string_t *s = &((duckdb_string_t *)d)[i];
        json_t *j = json_stringn(duckdb_string_t_data(s), duckdb_string_t_length(*s));
        if (!j) { /* not UTF-8 (a BLOB cast to text): shown with U+FFFD, never dropped */
            buf_t b;
            buf_init(&b, duckdb_string_t_length(*s) + 8);
            audit_json_string(&b, duckdb_string_t_data(s), duckdb_string_t_length(*s));
            j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
            buf_free(&b);
        }
        return j ? j : json_null();
    }
    default:
        return json_null();
    }
}

static enum MHD_Result query_error(struct MHD_Connection *c, const gate_err_t *e)
{
    unsigned status = !strcmp(e->sqlstate, "42501") ? 403 : !strncmp(e->sqlstate, "28", 2) ? 401 : 400;
    json_t *err = json_pack("{s:s,s:s}", "code", e->sqlstate, "message", e->message);
    if (e->detail[0]) json_object_set_new(err, "detail", json_string(e->detail));
    if (e->hint[0]) json_object_set_new(err, "hint", json_string(e->hint));
    return respond_json(c, status, json_pack("{s:o}", "error", err));
}

/* POST /api/v1/query {"sql"} with "Authorization: Bearer <token>" (or the
 * madang_token cookie), optionally "X-Madang-Impersonate: user". One session
 * per request; the statements run through the gate like any other door's. */
static enum MHD_Result run_sql(http_t *h, struct MHD_Connection *c, const char *sql);

static enum MHD_Result query(http_t *h, struct MHD_Connection *c, json_t *in)
{
    const char *sql = json_string_value(json_object_get(in, "sql"));
    if (!sql) return respond_error(c, 400, "22023", "send {\"sql\": ...}");
    return run_sql(h, c, sql);
}

/* GET /api/v1/audit?user=&since=&until=&table=&column=&type=&decision=&limit= —
 * madang.audit_log with the caller's visibility (their own records; all for
 * superusers and the auditors group). */
static enum MHD_Result run_sql_collect(http_t *h, struct MHD_Connection *c, const char *sql, json_t **result,
                                       bool *answered);

static enum MHD_Result audit_get(http_t *h, struct MHD_Connection *c)
{
    buf_t q;
    buf_init(&q, 256);
    buf_append_str(&q, "SELECT * FROM madang.audit_log WHERE true");
    static const struct {
        const char *param, *cond;
    } filters[] = {
        {"user", " AND (user_name = %s OR real_user = %s)"},
        {"since", " AND ts >= CAST(%s AS TIMESTAMP)"},
        {"until", " AND ts < CAST(%s AS TIMESTAMP)"},
        {"type", " AND type = %s"},
        {"decision", " AND decision = %s"},
        {"table", " AND (json_contains(objects, json_object('object', %s)) OR json_contains(direct_objects, "
                  "json_object('object', %s)))"},
        {"column", " AND list_contains(flatten(list_transform(CAST(objects AS JSON[]), x -> "
                   "CAST(json_extract(x, '$.columns') AS VARCHAR[]))), %s)"},
    };
    for (size_t i = 0; i < ARRAY_LEN(filters); i++) {
        const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, filters[i].param);
        if (!v) continue;
        buf_t lit;
        buf_init(&lit, 64);
        /* a table without its schema is in main, as in SQL */
        char *qualified =
            !strcmp(filters[i].param, "table") && !strchr(v, '.') ? xasprintf("main.%s", v) : NULL;
        if (!strcmp(filters[i].param, "since") || !strcmp(filters[i].param, "until")) {
            /* a time with its zone, as `madang audit export --since` reads it; the log's times are UTC */
            int64_t us;
            if (!audit_parse_time(v, &us)) {
                buf_free(&lit);
                buf_free(&q);
                return respond_error(c, 400, "22007",
                                     "since and until are times: 2026-11-27, 2026-11-27T09:30:00Z or "
                                     "2026-11-27T18:30:00+09:00 (no zone: UTC)");
            }
            time_t secs = (time_t)(us / 1000000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            char when[64];
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
            qualified = xasprintf("%s.%06d", when, (int)(us % 1000000));
        }
        lex_put_literal(&lit, qualified ? qualified : v);
        free(qualified);
        buf_printf(&q, filters[i].cond, buf_cstr(&lit), buf_cstr(&lit));
        buf_free(&lit);
    }
    const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    long n = lim ? strtol(lim, NULL, 10) : 1000;
    if (n <= 0 || n > MAX_ROWS) n = MAX_ROWS;
    /* one row more than asked for tells whether there are more */
    buf_printf(&q, " ORDER BY seq LIMIT %ld", n + 1);
    json_t *out = NULL;
    bool answered = false;
    enum MHD_Result r = run_sql_collect(h, c, buf_cstr(&q), &out, &answered);
    buf_free(&q);
    if (answered) return r;
    json_t *rows = json_object_get(out, "rows");
    if ((long)json_array_size(rows) > n) {
        json_array_remove(rows, (size_t)n);
        json_object_set_new(out, "row_count", json_integer(n));
        json_object_set_new(out, "truncated", json_true());
    }
    return respond_json(c, 200, out);
}

/* Runs sql through the gate as the request's user (token, impersonation).
 * On success *result gets {columns, rows, row_count, truncated, command} of
 * the last statement and *answered is false; otherwise the request was
 * answered with the error (*answered true) and the return value is that
 * response's. */
static enum MHD_Result run_sql_collect(http_t *h, struct MHD_Connection *c, const char *sql, json_t **result,
                                       bool *answered);

static enum MHD_Result run_sql(http_t *h, struct MHD_Connection *c, const char *sql)
{
    json_t *out = NULL;
    bool answered = false;
    enum MHD_Result r = run_sql_collect(h, c, sql, &out, &answered);
    if (answered) return r;
    return respond_json(c, 200, out);
}

static enum MHD_Result run_sql_collect(http_t *h, struct MHD_Connection *c, const char *sql, json_t **result,
                                       bool *answered)
{
    *answered = true;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *tok = auth && !strncasecmp(auth, "Bearer ", 7) ? auth + 7 : NULL;
    if (!tok) tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "madang_token");
    char user[64];
    char peer[64];
    peer_of(c, peer, sizeof peer);
    meta_t *m = h->srv->meta;
    if (!tok || !id_token_check(m, tok, user, sizeof user)) {
        gate_audit_login(h->srv, "http", "", "", peer, "", false, "28000", "bad or expired token");
        log_event(LOG_WARN, "login_failed", "user=\"\" peer=%s door=http reason=\"bad or expired token\"",
                  peer);
        return respond_error(c, 401, "28000",
                             "a valid token is required (POST /api/v1/login, or CREATE TOKEN)");
    }
    meta_user_t u;
    if (!meta_user_get(m, user, &u) || !u.can_login || id_is_locked(&u)) {
        gate_audit_login(h->srv, "http", user, user, peer, "", false, "28000",
                         "this token's user may not log in");
        return respond_error(c, 401, "28000", "this token's user may not log in");
    }
    const char *imp = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Madang-Impersonate");
    meta_user_t eff = u;
    if (imp && *imp) {
        char why[256];
        snprintf(why, sizeof why, "permission denied to impersonate \"%s\"", imp);
        bool ok = id_may_impersonate(m, user, imp, why, sizeof why) && meta_user_get(m, imp, &eff);
        if (ok && !config_host_allowed(&h->srv->cfg, user, peer)) {
            snprintf(why, sizeof why, "\"%s\" may not impersonate from %s (impersonation.allowed_hosts)",
                     user, peer);
            ok = false;
        }
        if (!ok) {
            /* refused before any statement: on the record as the wire's refusal is */
            gate_audit_login(h->srv, "http", imp, user, peer,
                             MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent"), false, "42501",
                             why);
            return respond_error(c, 403, "42501", why);
        }
    }
    sess_t *s = sess_create(h->srv, imp && *imp ? imp : user, eff.superuser, peer, "http");
    if (!s) return respond_error(c, 503, "53000", "could not open an engine connection");
    {
        /* the application, for the audit trail and madang.sessions: X-Madang-Application, or the User-Agent
         */
        const char *app = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Madang-Application");
        if (!app || !*app) app = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
        char appbuf[64], e[128];
        if (app && *app) {
            snprintf(appbuf, sizeof appbuf, "%s", app);
            (void)sess_set(s, "application_name", appbuf, true, e, sizeof e);
        }
    }
    if (imp && *imp) {
        snprintf(s->real_user, sizeof s->real_user, "%s", user);
        s->impersonated = true;
    }
    char err[256];
    if (!gate_session_start(s, 0, err, sizeof err)) {
        sess_destroy(s);
        return respond_error(c, 500, "XX000", err);
    }
    lex_range_t *ranges = NULL;
    int n = lex_split(sql, &ranges);
    json_t *out = NULL;
    gate_err_t ge;
    memset(&ge, 0, sizeof ge);
    bool ok = n >= 0;
    if (!ok) gate_err_set(&ge, "42601", "unterminated quoted string, identifier or comment");
    for (int i = 0; ok && i < n; i++) {
        if (ranges[i].is_empty) continue;
        char *one = xstrndup(sql + ranges[i].start, ranges[i].len);
        gate_stmt_t *st = NULL;
        ok = gate_prepare(s, one, http_type_ok, &st, &ge) && gate_check_tx(s, st, &ge);
        free(one);
        if (!ok) break;
        json_decref(out);
        out = json_object();
        json_t *cols = json_array(), *rows = json_array();
        int64_t count = 0;
        bool truncated = false;
        if (st->action == GATE_ENGINE) {
            duckdb_result res;
            int64_t changed = 0;
            ok = gate_execute(s, st, &res, &changed, &ge);
            if (ok && st->returns_rows) {
                for (int k = 0; k < st->ncols; k++)
                    json_array_append_new(cols, json_pack("{s:s,s:s}", "name", st->col_names[k], "type",
                                                          type_name(duckdb_get_type_id(st->col_types[k]))));
                for (;;) {
                    duckdb_data_chunk ch = duckdb_fetch_chunk(res);
                    if (!ch) break;
                    idx_t rn = duckdb_data_chunk_get_size(ch);
                    for (idx_t r = 0; r < rn; r++) {
                        if (count >= MAX_ROWS) {
                            truncated = true;
                            break;
                        }
                        json_t *row = json_array();
                        for (int k = 0; k < st->ncols; k++)
                            json_array_append_new(row, cell(duckdb_data_chunk_get_vector(ch, (idx_t)k),
                                                            duckdb_get_type_id(st->col_types[k]), r));
                        json_array_append_new(rows, row);
                        count++;
                    }
                    duckdb_destroy_data_chunk(&ch);
                    if (truncated) break;
                }
                const char *e = duckdb_result_error(&res);
                if (e && !truncated) {
                    gate_err_from_duckdb(&ge, e, duckdb_result_error_type(&res));
                    ok = false;
                }
                duckdb_destroy_result(&res);
                gate_audit_end(s, st, count, ok ? NULL : &ge);
            } else if (ok) {
                count = changed;
            }
            if (!ok) gate_note_failure(s);
            json_object_set_new(out, "command", json_string(st->tag));
        } else {
            char tag[64] = "";
            ok = gate_run_utility(s, st, tag, sizeof tag, &ge);
            json_object_set_new(out, "command", json_string(tag));
        }
        json_object_set_new(out, "columns", cols);
        json_object_set_new(out, "rows", rows);
        json_object_set_new(out, "row_count", json_integer(count));
        json_object_set_new(out, "truncated", json_boolean(truncated));
        gate_stmt_free(st);
    }
    free(ranges);
    if (!gate_audit_durable(s, &ge)) ok = false;
    sess_destroy(s);
    if (!ok) {
        json_decref(out);
        return query_error(c, &ge);
    }
    if (!out) out = json_pack("{s:[],s:[],s:i,s:b}", "columns", "rows", "row_count", 0, "truncated", 0);
    *result = out;
    *answered = false;
    return MHD_YES;
}

/* GET /api/v1/lineage/{schema}.{table}[.{column}]?direction=up|down|both&depth=N&columns=true
 * → {root, direction, depth, nodes:[{id,table,column,depth}], edges:[{source,target,type,subtype}]},
 * read through the gate (madang_lineage_graph) with the caller's visibility. */
static enum MHD_Result lineage_get(http_t *h, struct MHD_Connection *c, const char *node)
{
    const char *dir = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "direction");
    const char *dep = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "depth");
    const char *cols = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "columns");
    if (!dir) dir = "both";
    if (strcmp(dir, "up") && strcmp(dir, "down") && strcmp(dir, "both"))
        return respond_error(c, 400, "22023", "direction must be up, down or both");
    long depth = dep ? strtol(dep, NULL, 10) : 5;
    if (depth < 1 || depth > 100) return respond_error(c, 400, "22023", "depth must be between 1 and 100");
    bool columns = cols && (!strcmp(cols, "true") || !strcmp(cols, "1"));
    buf_t q;
    buf_init(&q, 256);
    buf_append_str(&q, "SELECT kind, id, \"table\", \"column\", depth, source, target, type, subtype FROM "
                       "madang_lineage_graph(");
    lex_put_literal(&q, node);
    buf_append_str(&q, ", ");
    lex_put_literal(&q, dir);
    buf_printf(&q, ", %ld, %s)", depth, columns ? "'true'" : "'false'");
    json_t *out = NULL;
    bool answered = false;
    enum MHD_Result r = run_sql_collect(h, c, buf_cstr(&q), &out, &answered);
    buf_free(&q);
    if (answered) return r;
    json_t *nodes = json_array(), *edges = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(out, "rows"), i, row)
    {
        const char *kind = json_string_value(json_array_get(row, 0));
        if (kind && !strcmp(kind, "node")) {
            json_t *d = json_array_get(row, 4);
            json_array_append_new(nodes,
                                  json_pack("{s:O,s:O,s:O,s:I}", "id", json_array_get(row, 1), "table",
                                            json_array_get(row, 2), "column", json_array_get(row, 3), "depth",
                                            (json_int_t)(json_is_string(d) ? atoll(json_string_value(d))
                                                                           : json_integer_value(d))));
        } else {
            json_array_append_new(edges,
                                  json_pack("{s:O,s:O,s:O,s:O}", "source", json_array_get(row, 5), "target",
                                            json_array_get(row, 6), "type", json_array_get(row, 7), "subtype",
                                            json_array_get(row, 8)));
        }
    }
    json_decref(out);
    return respond_json(c, 200,
                        json_pack("{s:s,s:s,s:i,s:b,s:o,s:o}", "root", node, "direction", dir, "depth",
                                  (int)depth, "columns", columns, "nodes", nodes, "edges", edges));
}

/* A cell of a collected row as a JSON value: text cells that hold JSON
 * (the lists the catalog queries send as to_json(...)::VARCHAR) parsed. */
static json_t *row_json(json_t *row, size_t k)
{
    json_t *v = json_array_get(row, k);
    if (!json_is_string(v)) return json_null();
    json_t *j = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
    return j ? j : json_null();
}

static json_t *row_int(json_t *row, size_t k)
{
    json_t *v = json_array_get(row, k);
    if (json_is_integer(v)) return json_incref(v);
    if (json_is_string(v)) return json_integer(atoll(json_string_value(v)));
    return json_null();
}

static json_t *row_bool(json_t *row, size_t k)
{
    json_t *v = json_array_get(row, k);
    if (json_is_boolean(v)) return json_incref(v);
    if (json_is_string(v)) return json_boolean(!strcmp(json_string_value(v), "true"));
    return json_null();
}

static json_t *row_str(json_t *row, size_t k)
{
    json_t *v = json_array_get(row, k);
    return json_is_string(v) ? json_incref(v) : json_null();
}

/* GET /api/v1/catalog/search?q=&limit= → {query, count, results:[{name,
 * schema, table, kind, owner, comment, tags, estimated_rows,
 * matched_columns, score}]}: the tables and views the caller can see
 * (madang.tables, read through the gate) whose name, comment or tags — or a
 * column's name, comment or tags — contain q (case-insensitive), best first:
 * the name itself, then a name starting with q, containing it, a tag, the
 * comment, and ten points a matching column. */
static enum MHD_Result catalog_search(http_t *h, struct MHD_Connection *c)
{
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
    while (q && isspace((unsigned char)*q)) q++;
    if (!q || !*q)
        return respond_error(c, 400, "22023", "say what to look for: /api/v1/catalog/search?q=text");
    if (strlen(q) > 200)
        return respond_error(c, 400, "22023", "the search text is longer than 200 characters");
    const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    long n = lim ? strtol(lim, NULL, 10) : 50;
    if (n <= 0 || n > 1000) return respond_error(c, 400, "22023", "limit must be between 1 and 1000");
    char *term = xstrdup(q);
    for (char *p = term + strlen(term); p > term && isspace((unsigned char)p[-1]);) *--p = '\0';
    buf_t lit;
    buf_init(&lit, 64);
    buf_append_str(&lit, "lower(");
    lex_put_literal(&lit, term);
    buf_append_str(&lit, ")");
    const char *Q = buf_cstr(&lit);
    buf_t sql;
    buf_init(&sql, 2048);
    buf_printf(
        &sql,
        "WITH m AS (SELECT t.schema_name, t.table_name, t.table_kind, t.owner, t.comment, t.tags, "
        "t.estimated_rows, (SELECT list(c.column_name ORDER BY c.ordinal_position) FROM madang.columns c "
        "WHERE c.schema_name = t.schema_name AND c.table_name = t.table_name AND "
        "(contains(lower(c.column_name), %s) OR contains(lower(COALESCE(c.comment, '')), %s) OR "
        "len(list_filter(c.tags, x -> contains(lower(x), %s))) > 0)) AS cols, "
        "CASE WHEN lower(t.table_name) = %s OR lower(t.schema_name || '.' || t.table_name) = %s THEN 100 "
        "WHEN starts_with(lower(t.table_name), %s) THEN 60 "
        "WHEN contains(lower(t.schema_name || '.' || t.table_name), %s) THEN 40 ELSE 0 END + "
        "CASE WHEN len(list_filter(t.tags, x -> contains(lower(x), %s))) > 0 THEN 30 ELSE 0 END + "
        "CASE WHEN contains(lower(COALESCE(t.comment, '')), %s) THEN 20 ELSE 0 END AS own "
        "FROM madang.tables t) "
        "SELECT schema_name, table_name, table_kind, owner, comment, to_json(tags)::VARCHAR, "
        "estimated_rows, to_json(COALESCE(cols, []))::VARCHAR, own + 10 * COALESCE(len(cols), 0) AS score "
        "FROM m WHERE own > 0 OR len(cols) > 0 ORDER BY score DESC, schema_name, table_name LIMIT %ld",
        Q, Q, Q, Q, Q, Q, Q, Q, Q, n);
    buf_free(&lit);
    json_t *out = NULL;
    bool answered = false;
    enum MHD_Result r = run_sql_collect(h, c, buf_cstr(&sql), &out, &answered);
    buf_free(&sql);
    if (answered) {
        free(term);
        return r;
    }
    json_t *results = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(out, "rows"), i, row)
    {
        const char *sc = json_string_value(json_array_get(row, 0)),
                   *tb = json_string_value(json_array_get(row, 1));
        char *name = xasprintf("%s.%s", sc ? sc : "", tb ? tb : "");
        json_array_append_new(results,
                              json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "name", name, "schema",
                                        row_str(row, 0), "table", row_str(row, 1), "kind", row_str(row, 2),
                                        "owner", row_str(row, 3), "comment", row_str(row, 4), "tags",
                                        row_json(row, 5), "estimated_rows", row_int(row, 6),
                                        "matched_columns", row_json(row, 7), "score", row_int(row, 8)));
        free(name);
    }
    json_decref(out);
    json_t *res = json_pack("{s:s,s:I,s:o}", "query", term, "count", (json_int_t)json_array_size(results),
                            "results", results);
    free(term);
    return respond_json(c, 200, res);
}

/* GET /api/v1/tables/{schema}.{table} (no schema: main) → the table or view
 * as the caller sees it: {name, schema, table, kind, owner, comment,
 * estimated_rows, tags, has_row_policy, columns:[{name, position, type,
 * nullable, comment, tags, masking_policy, masked_via}], upstream:[…],
 * downstream:[…]} (the tables it is made from and those made from it, by
 * madang.table_lineage). 404 when it does not exist or the caller may not
 * see it: the answer does not tell the two apart. */
static enum MHD_Result table_get(http_t *h, struct MHD_Connection *c, const char *name)
{
    char schema[128] = "main", table[128];
    const char *dot = strchr(name, '.');
    if (dot) {
        if (dot == name || (size_t)(dot - name) >= sizeof schema)
            return respond_error(c, 400, "22023", "name a table: /api/v1/tables/{schema}.{table}");
        snprintf(schema, sizeof schema, "%.*s", (int)(dot - name), name);
        name = dot + 1;
    }
    if (!*name || strlen(name) >= sizeof table || strchr(name, '/'))
        return respond_error(c, 400, "22023", "name a table: /api/v1/tables/{schema}.{table}");
    snprintf(table, sizeof table, "%s", name);
    buf_t sl, tl, fl;
    buf_init(&sl, 64);
    buf_init(&tl, 64);
    buf_init(&fl, 64);
    lex_put_literal(&sl, schema);
    lex_put_literal(&tl, table);
    char *full = xasprintf("%s.%s", schema, table);
    lex_put_literal(&fl, full);
    /* one statement: the table's row, its columns, its neighbours in lineage */
    buf_t sql;
    buf_init(&sql, 2048);
    buf_printf(&sql,
               "SELECT 'table' AS part, table_kind AS a, owner AS b, comment AS c, "
               "CAST(estimated_rows AS VARCHAR) AS d, to_json(tags)::VARCHAR AS e, "
               "CAST(has_row_policy AS VARCHAR) AS f, NULL AS g, NULL AS h, 0 AS pos "
               "FROM madang.tables WHERE schema_name = %s AND table_name = %s "
               "UNION ALL SELECT 'column', column_name, data_type, comment, CAST(is_nullable AS VARCHAR), "
               "to_json(tags)::VARCHAR, masking_policy, masked_via, NULL, ordinal_position "
               "FROM madang.columns WHERE schema_name = %s AND table_name = %s "
               "UNION ALL SELECT 'upstream', source_table, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0 "
               "FROM madang.table_lineage WHERE target_table = %s AND source_table <> target_table "
               "UNION ALL SELECT 'downstream', target_table, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0 "
               "FROM madang.table_lineage WHERE source_table = %s AND source_table <> target_table "
               "ORDER BY part, pos, a",
               buf_cstr(&sl), buf_cstr(&tl), buf_cstr(&sl), buf_cstr(&tl), buf_cstr(&fl), buf_cstr(&fl));
    buf_free(&sl);
    buf_free(&tl);
    buf_free(&fl);
    json_t *out = NULL;
    bool answered = false;
    enum MHD_Result r = run_sql_collect(h, c, buf_cstr(&sql), &out, &answered);
    buf_free(&sql);
    if (answered) {
        free(full);
        return r;
    }
    json_t *res = NULL, *cols = json_array(), *up = json_array(), *down = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(out, "rows"), i, row)
    {
        const char *part = json_string_value(json_array_get(row, 0));
        if (!part) continue;
        if (!strcmp(part, "table")) {
            res = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "name", full, "schema", schema, "table",
                            table, "kind", row_str(row, 1), "owner", row_str(row, 2), "comment",
                            row_str(row, 3), "estimated_rows", row_int(row, 4), "tags", row_json(row, 5),
                            "has_row_policy", row_bool(row, 6));
        } else if (!strcmp(part, "column")) {
            json_array_append_new(cols, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "name",
                                                  row_str(row, 1), "position", row_int(row, 9), "type",
                                                  row_str(row, 2), "nullable", row_bool(row, 4), "comment",
                                                  row_str(row, 3), "tags", row_json(row, 5), "masking_policy",
                                                  row_str(row, 6), "masked_via", row_str(row, 7)));
        } else {
            json_array_append_new(!strcmp(part, "upstream") ? up : down, row_str(row, 1));
        }
    }
    json_decref(out);
    free(full);
    if (!res) {
        json_decref(cols);
        json_decref(up);
        json_decref(down);
        return respond_error(c, 404, "42P01", "no such table or view, or you may not see it");
    }
    json_object_set_new(res, "columns", cols);
    json_object_set_new(res, "upstream", up);
    json_object_set_new(res, "downstream", down);
    return respond_json(c, 200, res);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size, void **state)
{
    http_t *h = cls;
    UNUSED(version);
    /* First call per request: headers only. */
    if (*state == NULL) {
        req_t *r = xcalloc(1, sizeof *r);
        buf_init(&r->body, 256);
        *state = r;
        return MHD_YES;
    }
    req_t *rq = *state;
    if (*upload_size) {
        if (rq->body.len + *upload_size > MAX_BODY)
            rq->too_big = true;
        else
            buf_append(&rq->body, upload_data, *upload_size);
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
    if (strcmp(url, "/api/v1/audit") == 0) {
        if (strcmp(method, "GET")) return respond_error(c, 405, "method_not_allowed", "use GET");
        return audit_get(h, c);
    }
    if (strncmp(url, "/api/v1/lineage/", 16) == 0) {
        if (strcmp(method, "GET")) return respond_error(c, 405, "method_not_allowed", "use GET");
        if (!url[16]) return respond_error(c, 400, "22023", "name a table: /api/v1/lineage/{schema}.{table}");
        return lineage_get(h, c, url + 16);
    }
    if (strcmp(url, "/api/v1/catalog/search") == 0) {
        if (strcmp(method, "GET")) return respond_error(c, 405, "method_not_allowed", "use GET");
        return catalog_search(h, c);
    }
    if (strncmp(url, "/api/v1/tables/", 15) == 0) {
        if (strcmp(method, "GET")) return respond_error(c, 405, "method_not_allowed", "use GET");
        return table_get(h, c, url + 15);
    }
    if (strcmp(url, "/api/v1/login") == 0 || strcmp(url, "/api/v1/query") == 0) {
        if (strcmp(method, "POST")) return respond_error(c, 405, "method_not_allowed", "use POST");
        if (rq->too_big) return respond_error(c, 413, "54000", "request body too large");
        json_error_t je;
        json_t *in = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len, 0, &je);
        if (!json_is_object(in)) {
            json_decref(in);
            return respond_error(c, 400, "22P02", "the body must be a JSON object");
        }
        enum MHD_Result ret = url[8] == 'l' ? login(h, c, in) : query(h, c, in);
        json_decref(in);
        return ret;
    }
    return respond_error(c, 404, "not_found", "no such endpoint; see docs/http.md");
}

http_t *http_start(server_t *srv, int fd, char *err, size_t errlen)
{
    http_t *h = xcalloc(1, sizeof *h);
    h->srv = srv;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0,
                            NULL, NULL, handle, h, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
                            req_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
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
