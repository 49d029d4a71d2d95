/* lineage.c — capturing lineage as statements run, and keeping it (lineage.h). */
#include "lineage/lineage.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "engine/engine.h"
#include "gate/authz.h"
#include "gate/lex.h"

#define STATEMENT_CAP 65536

typedef enum { OP_RUN, OP_RETIRE, OP_RETIRE_SCHEMA, OP_RENAME, OP_RENAME_COLUMN } op_kind_t;

typedef struct {
    op_kind_t kind;
    lin_t *l;        /* OP_RUN (owned) */
    char *a, *b, *c; /* RETIRE a; RETIRE_SCHEMA a; RENAME a → b; RENAME_COLUMN table a: b → c */
    uint64_t seq;
    char started[40], ended[40];
    char user[64], real_user[64];
    char *statement;
} op_t;

struct lin_state {
    op_t *ops; /* waiting for the transaction block's COMMIT */
    int nops;
    strcache_t derived; /* statement text → its edges as JSON ("" = none) */
};

static struct lin_state *state(sess_t *s)
{
    if (!s->lin) s->lin = xcalloc(1, sizeof *s->lin);
    return s->lin;
}

static void op_clear(op_t *o)
{
    lin_free(o->l);
    free(o->a);
    free(o->b);
    free(o->c);
    free(o->statement);
    memset(o, 0, sizeof *o);
}

/* ---- the stand-in for views ---- */

/* madang_lineage_view('s.v', {'col': NULL::TYPE, ...}): no rows, the view's
 * columns and types, so the plan keeps the view as a node of its own. */
static void standin_bind(duckdb_bind_info info)
{
    duckdb_value v = duckdb_bind_get_parameter(info, 1);
    duckdb_logical_type t = duckdb_get_value_type(v);
    if (duckdb_get_type_id(t) != DUCKDB_TYPE_STRUCT) {
        duckdb_bind_set_error(info, "madang_lineage_view needs a struct of the view's columns");
    } else {
        idx_t n = duckdb_struct_type_child_count(t);
        for (idx_t i = 0; i < n; i++) {
            char *name = duckdb_struct_type_child_name(t, i);
            duckdb_logical_type ct = duckdb_struct_type_child_type(t, i);
            duckdb_bind_add_result_column(info, name, ct);
            duckdb_destroy_logical_type(&ct);
            duckdb_free(name);
        }
    }
    duckdb_destroy_value(&v);
}

static void standin_init(duckdb_init_info info)
{
    UNUSED(info);
}

static void standin_fn(duckdb_function_info info, duckdb_data_chunk out)
{
    UNUSED(info);
    duckdb_data_chunk_set_size(out, 0);
}

bool lin_setup_engine(server_t *srv, duckdb_connection c, char *err, size_t errlen)
{
    duckdb_table_function f = duckdb_create_table_function();
    duckdb_table_function_set_name(f, LIN_VIEW_FN);
    duckdb_logical_type vt = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    duckdb_logical_type at = duckdb_create_logical_type(DUCKDB_TYPE_ANY);
    duckdb_table_function_add_parameter(f, vt);
    duckdb_table_function_add_parameter(f, at);
    duckdb_destroy_logical_type(&vt);
    duckdb_destroy_logical_type(&at);
    duckdb_table_function_set_bind(f, standin_bind);
    duckdb_table_function_set_init(f, standin_init);
    duckdb_table_function_set_function(f, standin_fn);
    duckdb_state st = duckdb_register_table_function(c, f);
    duckdb_destroy_table_function(&f);
    if (st != DuckDBSuccess) {
        snprintf(err, errlen, "cannot register %s", LIN_VIEW_FN);
        return false;
    }
    return lin_query_setup(srv, c, err, errlen);
}

/* The warehouse's views, server-wide: names, and the stand-in call of each
 * (its columns and types), made when first needed. Reloaded only after a DDL
 * that may have changed views (a view or schema created, dropped, renamed,
 * a table altered): most statements name no view and learn it here without
 * asking the engine. A stale entry costs a plan, never a wrong edge: a
 * stand-in that does not plan falls back to the plain plan (lin_derive). */
typedef struct {
    char *db, *schema, *name;
    char *standin; /* "madang_lineage_view('s.v', {...})", or NULL until made */
} view_t;

static pthread_mutex_t g_views_mu = PTHREAD_MUTEX_INITIALIZER;
static view_t *g_views;
static int g_nviews;
static bool g_views_stale = true;
static uint64_t g_views_gen; /* moves at every reload */

static void views_changed(void)
{
    pthread_mutex_lock(&g_views_mu);
    g_views_stale = true;
    pthread_mutex_unlock(&g_views_mu);
}

static void views_free(view_t *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].db);
        free(v[i].schema);
        free(v[i].name);
        free(v[i].standin);
    }
    free(v);
}

/* Reloads the list if stale, on madang's own connection (committed views
 * only, whatever the caller's transaction sees), outside the lock. */
static void views_refresh(sess_t *s)
{
    pthread_mutex_lock(&g_views_mu);
    bool stale = g_views_stale;
    pthread_mutex_unlock(&g_views_mu);
    if (!stale || !s->srv->eng) return;
    duckdb_connection c = eng_connect(s->srv->eng);
    if (!c) return;
    view_t *list = NULL;
    int n = 0;
    duckdb_result r;
    bool ok = duckdb_query(
                  c,
                  "SELECT database_name, schema_name, view_name FROM duckdb_views() WHERE NOT internal AND "
                  "database_name NOT IN ('temp', 'system') AND schema_name <> 'madang'",
                  &r) == DuckDBSuccess;
    if (ok) {
        idx_t rows = duckdb_row_count(&r);
        list = xcalloc(rows + 1, sizeof *list);
        for (idx_t i = 0; i < rows; i++) {
            view_t *v = &list[n++];
            char *a = duckdb_value_varchar(&r, 0, i), *b = duckdb_value_varchar(&r, 1, i),
                 *d = duckdb_value_varchar(&r, 2, i);
            v->db = xstrdup(a);
            v->schema = xstrdup(b);
            v->name = xstrdup(d);
            duckdb_free(a);
            duckdb_free(b);
            duckdb_free(d);
        }
    }
    duckdb_destroy_result(&r);
    eng_disconnect(&c);
    if (!ok) return;
    pthread_mutex_lock(&g_views_mu);
    views_free(g_views, g_nviews);
    g_views = list;
    g_nviews = n;
    g_views_stale = false;
    g_views_gen++;
    pthread_mutex_unlock(&g_views_mu);
}

static bool is_view_name(sess_t *s, const char *name)
{
    views_refresh(s);
    pthread_mutex_lock(&g_views_mu);
    bool hit = false;
    for (int i = 0; i < g_nviews && !hit; i++) hit = !strcasecmp(g_views[i].name, name);
    pthread_mutex_unlock(&g_views_mu);
    return hit;
}

/* Whether a relation of this name is found at [catalog.]schema on the
 * session's connection (a TEMP one, or one in the session's own schema,
 * shadows a view of main). */
static bool relation_at(sess_t *s, const char *catalog, const char *schema, const char *name)
{
    buf_t q;
    buf_init(&q, 64);
    buf_append_str(&q, "SELECT * FROM ");
    lex_put_qname(&q, catalog, schema, name);
    duckdb_prepared_statement ps;
    bool found = duckdb_prepare(s->conn, buf_cstr(&q), &ps) == DuckDBSuccess;
    duckdb_destroy_prepare(&ps);
    buf_free(&q);
    return found;
}

/* The stand-in call for view db.schema.name: DESCRIBE (on madang's own
 * connection) gives its columns and types. */
static char *make_standin(sess_t *s, const char *db, const char *schema, const char *name)
{
    duckdb_connection c = eng_connect(s->srv->eng);
    if (!c) return NULL;
    buf_t q;
    buf_init(&q, 128);
    buf_append_str(&q, "DESCRIBE SELECT * FROM ");
    lex_put_qname(&q, db, schema, name);
    duckdb_result res;
    char *out = NULL;
    if (duckdb_query(c, buf_cstr(&q), &res) == DuckDBSuccess && duckdb_row_count(&res) > 0) {
        buf_t b;
        buf_init(&b, 256);
        char *qn = xasprintf("%s.%s", schema, name);
        buf_append_str(&b, LIN_VIEW_FN "(");
        lex_put_literal(&b, qn);
        free(qn);
        buf_append_str(&b, ", {");
        for (idx_t i = 0; i < duckdb_row_count(&res); i++) {
            char *n = duckdb_value_varchar(&res, 0, i), *t = duckdb_value_varchar(&res, 1, i);
            if (i) buf_append_str(&b, ", ");
            lex_put_literal(&b, n);
            buf_printf(&b, ": CAST(NULL AS %s)", t);
            duckdb_free(n);
            duckdb_free(t);
        }
        buf_append_str(&b, "})");
        buf_cstr(&b);
        out = b.data;
    }
    duckdb_destroy_result(&res);
    buf_free(&q);
    eng_disconnect(&c);
    return out;
}

/* The stand-in text for the view a reference names (with an alias when the
 * user wrote none), or NULL when it names no view of the warehouse. An
 * unqualified name resolves as the engine does: a TEMP relation first, then
 * the session's schema, then main. */
static char *standin_for(sess_t *s, const ref_t *r)
{
    if (!r->schema[0] && relation_at(s, "temp", "main", r->name)) return NULL;
    views_refresh(s);
    char db[128] = "", schema[128] = "", *cached = NULL;
    pthread_mutex_lock(&g_views_mu);
    uint64_t gen = g_views_gen;
    int best = -1, best_rank = 1000;
    for (int i = 0; i < g_nviews; i++) {
        view_t *v = &g_views[i];
        if (strcasecmp(v->name, r->name) != 0) continue;
        if (r->catalog[0] && strcasecmp(v->db, r->catalog) != 0) continue;
        int rank = r->schema[0]                                ? (strcasecmp(v->schema, r->schema) ? 1000 : 1)
                   : !strcasecmp(v->schema, s->default_schema) ? 2
                   : !strcmp(v->schema, "main")                ? 3
                                                               : 1000;
        if (rank < best_rank) {
            best_rank = rank;
            best = i;
        }
    }
    if (best >= 0) {
        snprintf(db, sizeof db, "%s", g_views[best].db);
        snprintf(schema, sizeof schema, "%s", g_views[best].schema);
        if (g_views[best].standin) cached = xstrdup(g_views[best].standin);
    }
    pthread_mutex_unlock(&g_views_mu);
    if (best < 0 || best_rank == 1000) {
        free(cached);
        return NULL;
    }
    /* a relation of that name in the session's own schema comes first */
    if (best_rank == 3 && strcasecmp(s->default_schema, "main") != 0 &&
        relation_at(s, NULL, s->default_schema, r->name)) {
        free(cached);
        return NULL;
    }
    if (!cached) {
        cached = make_standin(s, db, schema, r->name);
        if (!cached) return NULL;
        pthread_mutex_lock(&g_views_mu);
        for (int i = 0; g_views_gen == gen && i < g_nviews; i++)
            if (!g_views[i].standin && !strcmp(g_views[i].db, db) && !strcmp(g_views[i].schema, schema) &&
                !strcasecmp(g_views[i].name, r->name))
                g_views[i].standin = xstrdup(cached);
        pthread_mutex_unlock(&g_views_mu);
    }
    buf_t b;
    buf_init(&b, strlen(cached) + 64);
    buf_append_str(&b, cached);
    free(cached);
    if (!r->alias[0]) {
        buf_append_str(&b, " AS ");
        lex_put_ident(&b, r->name);
    }
    buf_cstr(&b);
    return b.data;
}

/* Whether the text names any view at all (a cheap test before parsing). */
static bool mentions_view(sess_t *s, const char *sql)
{
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    for (;;) {
        lex_tok_t t = lex_next(&l);
        if (t.type == TK_EOF || t.type == TK_ERROR) return false;
        if (t.type != TK_IDENT && t.type != TK_QIDENT) continue;
        char *v = lex_value(&t);
        bool hit = is_view_name(s, v);
        free(v);
        if (hit) return true;
    }
}

/* The query part of sql that json_serialize_sql can read (a SELECT): for
 * CREATE TABLE/VIEW ... AS the text after AS, for INSERT the source query;
 * [*from, *to) or false. UPDATE, DELETE and MERGE keep their views expanded. */
static bool query_part(const char *sql, size_t *from, size_t *to)
{
    size_t len = strlen(sql);
    lex_t l;
    lex_init(&l, sql, len);
    lex_tok_t t = lex_next(&l);
    if (lex_is(&t, "SELECT") || lex_is(&t, "WITH") || lex_is(&t, "FROM") || t.type == TK_LPAREN) {
        *from = 0;
        *to = len;
        return true;
    }
    if (lex_is(&t, "CREATE")) {
        long at = lex_after_top_level_kw(sql, "AS");
        if (at < 0) return false;
        *from = (size_t)at;
        *to = len;
        return true;
    }
    if (!lex_is(&t, "INSERT")) return false;
    int depth = 0;
    for (;;) {
        t = lex_next(&l);
        if (t.type == TK_EOF || t.type == TK_ERROR) return false;
        if (t.type == TK_LPAREN) {
            /* a column list, or a parenthesized query */
            lex_t save = l;
            lex_tok_t u = lex_next(&l);
            if (lex_is(&u, "SELECT") || lex_is(&u, "WITH")) {
                *from = t.offset;
                break;
            }
            l = save;
            depth = 1;
            while (depth > 0) {
                u = lex_next(&l);
                if (u.type == TK_EOF) return false;
                if (u.type == TK_LPAREN) depth++;
                if (u.type == TK_RPAREN) depth--;
            }
            continue;
        }
        if (lex_is(&t, "SELECT") || lex_is(&t, "WITH") || lex_is(&t, "FROM") || lex_is(&t, "TABLE")) {
            *from = t.offset;
            break;
        }
        if (lex_is(&t, "VALUES") || lex_is(&t, "DEFAULT")) return false;
    }
    /* up to a top-level ON CONFLICT or RETURNING */
    *to = len;
    lex_init(&l, sql, len);
    l.pos = *from;
    depth = 0;
    for (;;) {
        t = lex_next(&l);
        if (t.type == TK_EOF || t.type == TK_ERROR) break;
        if (t.type == TK_LPAREN) depth++;
        if (t.type == TK_RPAREN) depth--;
        if (depth) continue;
        if (lex_is(&t, "RETURNING")) {
            *to = t.offset;
            break;
        }
        if (lex_is(&t, "ON")) {
            lex_t save = l;
            lex_tok_t u = lex_next(&l);
            l = save;
            if (lex_is(&u, "CONFLICT")) {
                *to = t.offset;
                break;
            }
        }
    }
    return true;
}

/* sql with every view it names replaced by its stand-in, or NULL (no view). */
static char *with_standins(sess_t *s, const char *sql)
{
    if (!mentions_view(s, sql)) return NULL;
    size_t from, to;
    if (!query_part(sql, &from, &to)) return NULL;
    char *q = xstrndup(sql + from, to - from);
    gate_err_t err;
    json_t *tree = authz_serialize(s, "json_serialize_sql", q, &err);
    free(q);
    if (!tree) return NULL;
    named_t n = {0};
    ref_t **order = authz_refs_last_first(tree, &n); /* last first: earlier offsets stay valid */
    char *work = xstrdup(sql);
    bool changed = false;
    for (int i = 0; i < n.nrefs; i++) {
        ref_t *r = order[i];
        if (r->location == (size_t)-1) continue;
        if (authz_is_cte(&n, r->name) && !r->schema[0]) continue;
        size_t at = from + r->location;
        size_t span = authz_name_span(work, at);
        char *text = span && authz_span_names(work + at, span, r) ? standin_for(s, r) : NULL;
        if (text) {
            char *next = xasprintf("%.*s%s%s", (int)at, work, text, work + at + span);
            free(work);
            work = next;
            free(text);
            changed = true;
        }
    }
    free(order);
    authz_named_free(&n);
    if (!changed) {
        free(work);
        return NULL;
    }
    return work;
}

/* The plan of sql with its views as stand-ins; *planned gets the text that
 * was planned (the positions in the plan point into it; free it). When the
 * stand-ins do not plan (a name that was not the view after all) it is the
 * plain plan, views expanded to what they read. */
static json_t *lineage_plan(sess_t *s, const char *sql, char **planned, gate_err_t *err)
{
    char *with = with_standins(s, sql);
    json_t *plan = with ? authz_serialize(s, "json_serialize_plan", with, err) : NULL;
    if (!plan) {
        free(with);
        with = NULL;
        plan = authz_serialize(s, "json_serialize_plan", sql, err);
    }
    *planned = with ? with : xstrdup(sql);
    return plan;
}

static lin_t *lin_derive(sess_t *s, const char *sql, gate_err_t *err)
{
    char *planned;
    json_t *plan = lineage_plan(s, sql, &planned, err);
    lin_t *l = plan ? lin_from_plan(plan, planned) : NULL;
    json_decref(plan);
    free(planned);
    return l;
}

/* ---- a lin_t as text, for the per-session memo ---- */

static char *lin_dump(const lin_t *l)
{
    if (!l) return xstrdup("");
    json_t *e = json_array();
    for (int i = 0; i < l->nedges; i++) {
        const lin_edge_t *x = &l->edges[i];
        json_array_append_new(
            e, json_pack("[s?,s,s?,i]", x->target_column, x->source_table, x->source_column, (int)x->sub));
    }
    json_t *o = json_pack("{s:s,s:s,s:b,s:b,s:o}", "kind", l->kind, "target", l->target, "redefines",
                          l->redefines, "approximate", l->approximate, "edges", e);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static lin_t *lin_load(const char *text)
{
    if (!text[0]) return NULL;
    json_t *o = json_loads(text, 0, NULL);
    if (!o) return NULL;
    lin_t *l = lin_new(json_string_value(json_object_get(o, "kind")),
                       json_string_value(json_object_get(o, "target")));
    l->redefines = json_is_true(json_object_get(o, "redefines"));
    l->approximate = json_is_true(json_object_get(o, "approximate"));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "edges"), i, e) lin_add_edge(
        l, json_string_value(json_array_get(e, 0)), json_string_value(json_array_get(e, 1)),
        json_string_value(json_array_get(e, 2)), (lin_sub_t)json_integer_value(json_array_get(e, 3)));
    json_decref(o);
    return l;
}

/* ---- capture ---- */

static bool writes_rows(const gate_stmt_t *st)
{
    if (st->action != GATE_ENGINE) return false;
    switch (st->kind) {
    case MET_KIND_INSERT:
    case MET_KIND_UPDATE:
    case MET_KIND_DELETE:
        return true;
    case MET_KIND_DDL:
        return !strcmp(st->tag, "SELECT"); /* CREATE TABLE ... AS */
    default:
        return false;
    }
}

static void derive_for(sess_t *s, gate_stmt_t *st);

void lin_before_execute(sess_t *s, gate_stmt_t *st)
{
    st->lineage_us = 0;
    if (!writes_rows(st) || !s->srv->meta) return;
    int64_t t0 = now_us();
    derive_for(s, st);
    st->lineage_us = now_us() - t0;
}

static void derive_for(sess_t *s, gate_stmt_t *st)
{
    uint64_t ver = authz_version();
    if (st->lineage_version == ver) return; /* authz_version() is never 0 */
    lin_free(st->lineage);
    st->lineage = NULL;
    st->lineage_version = ver;
    /* a write that reads nothing (INSERT ... VALUES) has no lineage: the
     * audit already knows what the plan reads (cached per statement shape) */
    if (st->kind != MET_KIND_DDL && st->audit_objects && !strstr(st->audit_objects, "\"read\"")) return;
    const char *sql = st->orig_sql ? st->orig_sql : st->sql;
    struct lin_state *ls = state(s);
    /* names resolve by the session's schema: part of the memo's key */
    char *key = xasprintf("%s\x1f%s\x1f%s", s->default_schema, s->user, sql);
    const char *memo = strcache_get(&ls->derived, ver, key);
    if (memo) {
        free(key);
        st->lineage = lin_load(memo);
        return;
    }
    gate_err_t err;
    memset(&err, 0, sizeof err);
    st->lineage = lin_derive(s, sql, &err);
    if (!st->lineage && err.sqlstate[0])
        log_event(LOG_WARN, "lineage_unplanned", "sqlstate=%s reason=\"%.200s\"", err.sqlstate, err.message);
    char *text = lin_dump(st->lineage);
    strcache_put(&ls->derived, ver, key, text, 16384);
    free(text);
    free(key);
}

/* ---- storage ---- */

static void iso_now(char out[40])
{
    fmt_iso_time(wall_us(), out);
}

static void new_uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        int64_t t = wall_us();
        for (int i = 0; i < 16; i++) b[i] = (unsigned char)(t >> (i % 8 * 8)) ^ (unsigned char)(i * 37);
    }
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static bool exec1(meta_t *m, const char *sql, int n, const char **args)
{
    char err[256];
    if (meta_exec(m, sql, n, args, err, sizeof err) < 0) {
        log_event(LOG_WARN, "lineage_store_failed", "reason=\"%s\"", err);
        return false;
    }
    return true;
}

/* One run: its row, and for a COMPLETE run its edges (the target's earlier
 * edges retired first when it redefines the target). */
static void store_run(meta_t *m, const op_t *o, const char *status, const char *error)
{
    const lin_t *l = o->l;
    bool complete = !strcmp(status, "COMPLETE");
    char seq[32], uuid[37], now[40];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)o->seq);
    new_uuid(uuid);
    iso_now(now);
    json_t *edges = json_array();
    if (complete)
        for (int i = 0; i < l->nedges; i++) {
            const lin_edge_t *e = &l->edges[i];
            json_array_append_new(edges,
                                  json_pack("[s?,s,s?,s,s]", e->target_column, e->source_table,
                                            e->source_column, lin_type_name(e->sub), lin_sub_name(e->sub)));
        }
    char *ej = json_dumps(edges, JSON_COMPACT);
    json_decref(edges);
    if (!meta_begin(m)) {
        free(ej);
        return;
    }
    bool ok = true;
    if (complete && l->redefines) {
        const char *a[] = {l->target, now};
        ok = exec1(
            m, "UPDATE lineage_runs SET current = 0, retired_at = ?2 WHERE target_table = ?1 AND current = 1",
            2, a);
    }
    if (ok) {
        const char *a[] = {uuid,
                           o->seq ? seq : NULL,
                           l->kind,
                           l->target,
                           o->user,
                           o->real_user,
                           o->statement,
                           status,
                           error,
                           o->started,
                           o->ended,
                           complete ? "1" : "0",
                           l->approximate ? "1" : "0"};
        ok = exec1(
            m,
            "INSERT INTO lineage_runs (run_uuid, statement_seq, kind, target_table, user_name, real_user, "
            "statement, status, error, started_at, ended_at, current, approximate) VALUES (?1, ?2, ?3, "
            "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            13, a);
    }
    if (ok && complete && l->nedges) {
        const char *a[] = {ej, l->target};
        ok = exec1(
            m,
            "INSERT INTO lineage_edges (run_id, target_table, target_column, source_table, source_column, "
            "type, subtype) SELECT (SELECT max(id) FROM lineage_runs), ?2, value ->> 0, value ->> 1, "
            "value ->> 2, value ->> 3, value ->> 4 FROM json_each(?1)",
            2, a);
    }
    free(ej);
    if (ok) {
        if (!meta_commit(m)) log_event(LOG_WARN, "lineage_store_failed", "target=\"%s\"", l->target);
    } else {
        meta_rollback(m);
    }
}

/* Runs the statements of one change in one meta transaction. */
static void exec_all(meta_t *m, const char *const *sqls, int n, int nargs, const char **args,
                     const char *what)
{
    if (!meta_begin(m)) return;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) ok = exec1(m, sqls[i], nargs, args);
    if (!ok) {
        meta_rollback(m);
    } else if (!meta_commit(m)) {
        log_event(LOG_WARN, "lineage_store_failed", "change=\"%s\"", what);
    }
}

/* Names compare as the engine's do: without regard to case. */
static void apply(meta_t *m, op_t *o)
{
    char now[40];
    iso_now(now);
    switch (o->kind) {
    case OP_RUN:
        store_run(m, o, "COMPLETE", NULL);
        break;
    case OP_RETIRE: {
        static const char *const q[] = {
            "UPDATE lineage_runs SET current = 0, retired_at = ?2 WHERE target_table "
            "= ?1 COLLATE NOCASE AND current = 1"};
        const char *a[] = {o->a, now};
        exec_all(m, q, 1, 2, a, o->a);
        break;
    }
    case OP_RETIRE_SCHEMA: {
        static const char *const q[] = {
            "UPDATE lineage_runs SET current = 0, retired_at = ?2 WHERE "
            "substr(target_table, 1, length(?1)) = ?1 COLLATE NOCASE AND current = 1"};
        char *prefix = xasprintf("%s.", o->a);
        const char *a[] = {prefix, now};
        exec_all(m, q, 1, 2, a, o->a);
        free(prefix);
        break;
    }
    case OP_RENAME: {
        /* the object keeps its history under its new name */
        static const char *const q[] = {
            "UPDATE lineage_runs SET target_table = ?2 WHERE target_table = ?1 COLLATE NOCASE",
            "UPDATE lineage_edges SET target_table = ?2 WHERE target_table = ?1 COLLATE NOCASE",
            "UPDATE lineage_edges SET source_table = ?2 WHERE source_table = ?1 COLLATE NOCASE"};
        const char *a[] = {o->a, o->b};
        exec_all(m, q, 3, 2, a, o->a);
        break;
    }
    case OP_RENAME_COLUMN: {
        static const char *const q[] = {"UPDATE lineage_edges SET target_column = ?3 WHERE target_table = ?1 "
                                        "COLLATE NOCASE AND target_column = ?2 COLLATE NOCASE",
                                        "UPDATE lineage_edges SET source_column = ?3 WHERE source_table = ?1 "
                                        "COLLATE NOCASE AND source_column = ?2 COLLATE NOCASE"};
        const char *a[] = {o->a, o->b, o->c};
        exec_all(m, q, 2, 3, a, o->a);
        break;
    }
    }
}

/* ---- DDL: what the gate learned (authz.c's ddl fields) and column renames ---- */

static char *qualified(const char *schema, const char *name)
{
    return xasprintf("%s.%s", schema && schema[0] ? schema : "main", name);
}

static lin_t *view_lineage(sess_t *s, gate_stmt_t *st)
{
    const char *sql = st->orig_sql ? st->orig_sql : st->sql;
    char *body = authz_view_body(sql);
    if (!body) return NULL;
    authz_cols_t cols;
    (void)authz_columns(s->conn, NULL, st->ddl_schema, st->ddl_name, &cols);
    char *planned;
    gate_err_t err;
    json_t *plan = lineage_plan(s, body, &planned, &err);
    char *target = qualified(st->ddl_schema, st->ddl_name);
    lin_t *l = plan ? lin_from_query_plan(plan, planned, target, "VIEW", cols.name, cols.n) : NULL;
    if (!plan) log_event(LOG_WARN, "lineage_unplanned", "view=\"%s\" reason=\"%.200s\"", target, err.message);
    free(target);
    json_decref(plan);
    free(planned);
    free(body);
    authz_cols_free(&cols);
    return l;
}

static lin_t *copy_lineage(sess_t *s, gate_stmt_t *st)
{
    /* a session's TEMP table is not in lineage */
    if (st->copy_schema ? !strcasecmp(st->copy_schema, "temp")
                        : relation_at(s, "temp", "main", st->copy_name))
        return NULL;
    const char *schema = st->copy_schema ? st->copy_schema : s->default_schema;
    char *target = qualified(schema, st->copy_name);
    lin_t *l = lin_new("COPY", target);
    free(target);
    authz_cols_t all = {0};
    if (!st->ncopy_cols) (void)authz_columns(s->conn, NULL, schema, st->copy_name, &all);
    int n = st->ncopy_cols ? st->ncopy_cols : all.n;
    char **cols = st->ncopy_cols ? st->copy_cols : all.name;
    for (int i = 0; i < n; i++) lin_add_edge(l, cols[i], "stdin", cols[i], LIN_IDENTITY);
    authz_cols_free(&all);
    return l;
}

static void fill_op(sess_t *s, gate_stmt_t *st, op_t *o)
{
    o->seq = st->audit_seq;
    snprintf(o->user, sizeof o->user, "%s", s->user);
    snprintf(o->real_user, sizeof o->real_user, "%s", s->real_user);
    int64_t now = wall_us();
    int64_t took = st->audit_t0 ? now_us() - st->audit_t0 : 0;
    fmt_iso_time(now - took, o->started);
    fmt_iso_time(now, o->ended);
    const char *text = st->audit_text ? st->audit_text : st->orig_sql ? st->orig_sql : st->sql ? st->sql : "";
    char *red = audit_redact(text);
    if (strlen(red) > STATEMENT_CAP) {
        size_t keep = STATEMENT_CAP;
        while (keep > 0 && ((unsigned char)red[keep] & 0xC0) == 0x80) keep--; /* whole UTF-8 characters */
        red[keep] = '\0';
    }
    o->statement = red;
}

static void push(sess_t *s, op_t *o)
{
    if (s->tx == SESS_TX_IDLE) {
        apply(s->srv->meta, o);
        op_clear(o);
        return;
    }
    struct lin_state *ls = state(s);
    ls->ops = xrealloc(ls->ops, sizeof *ls->ops * (size_t)(ls->nops + 1));
    ls->ops[ls->nops++] = *o;
}

static bool statement_end(sess_t *s, gate_stmt_t *st, const gate_err_t *err);

void lin_statement_end(sess_t *s, gate_stmt_t *st, const gate_err_t *err)
{
    if (!s->srv->meta) return;
    int64_t t0 = now_us();
    if (statement_end(s, st, err)) st->lineage_us += now_us() - t0;
}

static bool statement_end(sess_t *s, gate_stmt_t *st, const gate_err_t *err)
{
    meta_t *m = s->srv->meta;
    /* views, schemas, renames, and ALTER TABLE (a view's column types follow its tables) */
    if (st->kind == MET_KIND_DDL && (!err || !err->sqlstate[0]) &&
        (st->ddl_op == 'R' || st->ddl_op == 'D' || !strcmp(st->ddl_kind, "view") ||
         !strcmp(st->ddl_kind, "schema") || (st->sql && str_has_prefix_ci(st->sql, "ALTER"))))
        views_changed();
    bool failed = err && err->sqlstate[0];
    op_t o;
    memset(&o, 0, sizeof o);
    if (failed) {
        /* kept for the export's FAIL event; a failed statement has no edges */
        if (!st->lineage || !st->lineage->nedges) return false;
        fill_op(s, st, &o);
        o.l = st->lineage;
        store_run(m, &o, "FAIL", err->message);
        o.l = NULL;
        op_clear(&o);
        return true;
    }
    if (st->action == GATE_COPY_IN && st->copy_name) {
        o.kind = OP_RUN;
        o.l = copy_lineage(s, st);
    } else if (st->lineage) {
        o.kind = OP_RUN;
        o.l = lin_copy(st->lineage); /* the run owns a copy: the statement may run again */
    } else if (st->kind == MET_KIND_DDL && st->ddl_op == 'C' && !strcmp(st->ddl_kind, "view")) {
        o.kind = OP_RUN;
        o.l = view_lineage(s, st);
    } else if (st->kind == MET_KIND_DDL && st->ddl_op == 'C' && !strcmp(st->ddl_kind, "table")) {
        o.kind = OP_RETIRE; /* a new table of that name: nothing of an older one is current */
        o.a = qualified(st->ddl_schema, st->ddl_name);
    } else if (st->kind == MET_KIND_DDL && st->ddl_op == 'D') {
        /* the engine drops one object per statement */
        o.kind = !strcmp(st->ddl_kind, "schema") ? OP_RETIRE_SCHEMA : OP_RETIRE;
        o.a = o.kind == OP_RETIRE_SCHEMA ? xstrdup(st->ddl_schema) : qualified(st->ddl_schema, st->ddl_name);
    } else if (st->kind == MET_KIND_DDL && st->ddl_op == 'R' && st->ddl_new_name) {
        o.kind = OP_RENAME;
        o.a = qualified(st->ddl_schema, st->ddl_name);
        o.b = qualified(st->ddl_schema, st->ddl_new_name);
    } else if (st->kind == MET_KIND_DDL && st->ddl_op == 'K' && st->ddl_column) {
        o.kind = OP_RENAME_COLUMN; /* the gate resolved the table (never a TEMP one) */
        o.a = qualified(st->ddl_schema, st->ddl_name);
        o.b = xstrdup(st->ddl_column);
        o.c = xstrdup(st->ddl_new_name);
    } else {
        return false;
    }
    if (o.kind == OP_RUN && (!o.l || (!o.l->nedges && !o.l->redefines))) {
        op_clear(&o); /* nothing to keep: no run for a write that read nothing */
        return false;
    }
    fill_op(s, st, &o);
    push(s, &o);
    return true;
}

void lin_tx_end(sess_t *s, bool committed)
{
    struct lin_state *ls = s->lin;
    if (!ls || !ls->nops) return;
    views_changed(); /* what the block created is visible to every session now, or gone */
    meta_t *m = s->srv->meta;
    for (int i = 0; i < ls->nops; i++) {
        op_t *o = &ls->ops[i];
        if (committed) {
            apply(m, o);
        } else if (o->kind == OP_RUN) {
            store_run(m, o, "ABORT", "the transaction was rolled back");
        }
        op_clear(o);
    }
    free(ls->ops);
    ls->ops = NULL;
    ls->nops = 0;
}

void lin_session_free(sess_t *s)
{
    if (!s->lin) return;
    lin_tx_end(s, false); /* a session that ends inside a transaction block rolls it back */
    strcache_clear(&s->lin->derived);
    free(s->lin);
    s->lin = NULL;
}
