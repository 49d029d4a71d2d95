/* sysviews.c — madang.users, madang.groups, madang.grants and
 * madang.explain_access(user, table), as engine table functions over meta.db.
 *
 * The views govern themselves: each function finds the calling session by its
 * engine connection id; superusers see every row, others only rows about
 * themselves (their user row, groups they belong to, grants that reach them).
 * The views live in schema madang of the warehouse and are recreated at every
 * start, so their definition always matches this binary. */
#include "gate/sysviews.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/index.h"
#include "gate/authz.h"
#include "gate/protect.h"
#include "gate/session.h"
#include "policy/acl.h"

static server_t *g_srv;

/* A function's rows, made at bind (so errors reach the caller's statement)
 * and made again at every later execution of the same prepared statement
 * (init), from what the bind saved: who called, and the arguments. */
typedef struct sys_rows {
    int ncols;
    char **cells; /* rows * ncols, NULL = SQL NULL */
    size_t nrows;
    size_t cap;
    size_t pos;
    bool fresh; /* made by the bind, not yet read by an execution */
    const void *fn;
    bool generic; /* fn is a sys_fn_t (else a sysfn_t) */
    char user[64];
    bool su;
    char *args[4];
} rows_t;

static void rows_clear(rows_t *r)
{
    for (size_t i = 0; i < r->nrows * (size_t)r->ncols; i++) free(r->cells[i]);
    r->nrows = 0;
    r->pos = 0;
}

static void rows_free(void *p)
{
    rows_t *r = p;
    rows_clear(r);
    free(r->cells);
    for (int i = 0; i < 4; i++) free(r->args[i]);
    free(r);
}

static bool add_row(void *ctx, int n, const char **c)
{
    rows_t *r = ctx;
    if (r->nrows == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->cells = xrealloc(r->cells, sizeof(char *) * r->cap * (size_t)r->ncols);
    }
    for (int i = 0; i < r->ncols; i++)
        r->cells[r->nrows * (size_t)r->ncols + (size_t)i] = i < n && c[i] ? xstrdup(c[i]) : NULL;
    r->nrows++;
    return true;
}

void sys_rows_add(sys_rows_t *r, int n, const char **cells)
{
    (void)add_row(r, n, cells);
}

typedef struct {
    const char *name;
    const char *cols[24];
    const char *sql_all;  /* superusers */
    const char *sql_self; /* others: ?1 = the caller */
    int nparams;          /* VARCHAR parameters of the function */
} sysfn_t;

/* Grants that reach the caller (?1): to them, to PUBLIC, or to a group of theirs. */
#define GRANTEE_IS_CALLER                                                                                    \
    "((g.grantee_kind = 'user' AND g.grantee = ?1) OR g.grantee_kind = 'public' OR (g.grantee_kind = "       \
    "'group' "                                                                                               \
    "AND g.grantee IN (SELECT group_name FROM group_members WHERE user_name = ?1)))"

/* Row policies and column masks (direct or through a tag), one row each.
 * Others see the row policies that apply to them and the masks on tables
 * they were granted. */
#define POLICIES_SQL(filter)                                                                                 \
    "SELECT name, kind, schema_name, table_name, column_name, command, grantee_kind, grantee, expression, "  \
    "via, "                                                                                                  \
    "owner, created_at FROM ("                                                                               \
    "SELECT p.name, 'ROW ACCESS' AS kind, p.schema_name, p.table_name, NULL AS column_name, p.command, "     \
    "p.grantee_kind, NULLIF(p.grantee, '') AS grantee, trim(COALESCE('USING (' || p.using_expr || ')', '') " \
    "|| "                                                                                                    \
    "COALESCE(' WITH CHECK (' || p.check_expr || ')', '')) AS expression, NULL AS via, p.owner, "            \
    "p.created_at, "                                                                                         \
    "(p.grantee_kind = 'public' OR (p.grantee_kind = 'user' AND p.grantee = ?1) OR (p.grantee_kind = "       \
    "'group' "                                                                                               \
    "AND p.grantee IN (SELECT group_name FROM group_members WHERE user_name = ?1))) AS applies FROM "        \
    "row_policies p "                                                                                        \
    "UNION ALL SELECT m.name, 'MASKING', c.schema_name, c.table_name, c.column_name, 'SELECT', 'public', "   \
    "NULL, "                                                                                                 \
    "'(' || m.arg_name || ' ' || m.arg_type || ') -> ' || m.body, 'column', m.owner, m.created_at, EXISTS "  \
    "(SELECT 1 FROM grants g WHERE g.schema_name = c.schema_name AND g.table_name IN ('', c.table_name) "    \
    "AND g.column_name IN ('', c.column_name) AND " GRANTEE_IS_CALLER                                        \
    ") FROM column_masks c JOIN masking_policies m ON m.name = c.policy "                                    \
    "UNION ALL SELECT m.name, 'MASKING', c.schema_name, c.table_name, c.column_name, 'SELECT', 'public', "   \
    "NULL, "                                                                                                 \
    "'(' || m.arg_name || ' ' || m.arg_type || ') -> ' || m.body, 'tag ' || t.name || ' (columns of type ' " \
    "|| "                                                                                                    \
    "m.arg_type || ')', m.owner, m.created_at, EXISTS (SELECT 1 FROM grants g WHERE g.schema_name = "        \
    "c.schema_name AND g.table_name IN ('', c.table_name) AND g.column_name IN ('', c.column_name) "         \
    "AND " GRANTEE_IS_CALLER ") FROM column_tags c JOIN "                                                    \
    "tags t ON t.name = c.tag JOIN masking_policies m ON m.name = t.masking_policy"                          \
    ")" filter " ORDER BY schema_name, table_name, column_name NULLS FIRST, name"

/* One row per audited event: statements with their completion in it
 * (audit/index.c merges the two records). */
#define AUDIT_SQL(filter)                                                                                    \
    "SELECT s.seq, s.ts, s.type, s.real_user, s.user_name, s.session_id, s.client_addr, "                    \
    "s.application_name, s.door, s.statement, s.fingerprint, s.kind, s.decision, s.rule, "                   \
    "COALESCE(s.completion_sqlstate, s.sqlstate), s.rows, s.duration_us, s.objects, s.policies, "            \
    "s.outcome, s.tag, s.error, s.direct_objects FROM audit_index s WHERE true" filter " ORDER BY s.seq"

static const sysfn_t fns[] = {
    {"madang_users",
     {"name", "superuser", "created_at", "groups", NULL},
     "SELECT u.name, CASE WHEN u.superuser THEN 'true' ELSE 'false' END, u.created_at, "
     "(SELECT group_concat(group_name, ',') FROM group_members m WHERE m.user_name = u.name) FROM users u "
     "ORDER BY u.name",
     "SELECT u.name, CASE WHEN u.superuser THEN 'true' ELSE 'false' END, u.created_at, "
     "(SELECT group_concat(group_name, ',') FROM group_members m WHERE m.user_name = u.name) FROM users u "
     "WHERE u.name = ?1",
     0},
    {"madang_groups",
     {"name", "members", "synced", "created_at", NULL},
     "SELECT g.name, (SELECT group_concat(user_name, ',') FROM group_members m WHERE m.group_name = g.name), "
     "CASE WHEN g.synced THEN 'true' ELSE 'false' END, g.created_at FROM groups g ORDER BY g.name",
     "SELECT g.name, (SELECT group_concat(user_name, ',') FROM group_members m WHERE m.group_name = g.name), "
     "CASE WHEN g.synced THEN 'true' ELSE 'false' END, g.created_at FROM groups g "
     "WHERE g.name IN (SELECT group_name FROM group_members WHERE user_name = ?1) ORDER BY g.name",
     0},
    {"madang_grants",
     {"grantee_kind", "grantee", "privilege", "object_kind", "schema_name", "table_name", "column_name",
      "grantor", "created_at", NULL},
     "SELECT grantee_kind, NULLIF(grantee, ''), privilege, object_kind, schema_name, NULLIF(table_name, ''), "
     "NULLIF(column_name, ''), grantor, created_at FROM grants ORDER BY schema_name, table_name, grantee, "
     "privilege",
     "SELECT grantee_kind, NULLIF(grantee, ''), privilege, object_kind, schema_name, NULLIF(table_name, ''), "
     "NULLIF(column_name, ''), grantor, created_at FROM grants WHERE (grantee_kind = 'user' AND grantee = "
     "?1) "
     "OR grantee_kind = 'public' OR (grantee_kind = 'group' AND grantee IN "
     "(SELECT group_name FROM group_members WHERE user_name = ?1)) ORDER BY schema_name, table_name, "
     "grantee, privilege",
     0},
    {"madang_policies",
     {"policy_name", "policy_kind", "schema_name", "table_name", "column_name", "command", "grantee_kind",
      "grantee", "expression", "via", "owner", "created_at"},
     POLICIES_SQL(""),
     POLICIES_SQL(" WHERE applies"),
     0},
    {"madang_tags",
     {"name", "masking_policy", "comment", "owner", "created_at", "columns", NULL},
     "SELECT t.name, t.masking_policy, t.comment, t.owner, t.created_at, (SELECT group_concat(schema_name || "
     "'.' "
     "|| table_name || '.' || column_name, ',') FROM (SELECT * FROM column_tags c WHERE c.tag = t.name ORDER "
     "BY "
     "1, 2, 3)) FROM tags t ORDER BY t.name",
     "SELECT t.name, t.masking_policy, t.comment, t.owner, t.created_at, (SELECT group_concat(schema_name || "
     "'.' "
     "|| table_name || '.' || column_name, ',') FROM (SELECT * FROM column_tags c WHERE c.tag = t.name AND "
     "EXISTS (SELECT 1 FROM grants g WHERE g.schema_name = c.schema_name AND g.table_name IN ('', "
     "c.table_name) AND g.column_name IN ('', c.column_name) "
     "AND " GRANTEE_IS_CALLER ") ORDER BY 1, 2, 3)) FROM tags t ORDER BY t.name",
     0},
    {"madang_tokens",
     {"token_id", "user_name", "created_by", "created_at", "expires_at", "expired", NULL},
     "SELECT id, user_name, created_by, created_at, expires_at, CASE WHEN expires_at IS NOT NULL AND "
     "julianday(expires_at) <= julianday('now') THEN 'true' ELSE 'false' END FROM tokens ORDER BY id",
     "SELECT id, user_name, created_by, created_at, expires_at, CASE WHEN expires_at IS NOT NULL AND "
     "julianday(expires_at) <= julianday('now') THEN 'true' ELSE 'false' END FROM tokens WHERE user_name = "
     "?1 "
     "ORDER BY id",
     0},
    {"madang_impersonation",
     {"proxy", "target_kind", "target", "grantor", "created_at", NULL},
     "SELECT proxy, target_kind, target, grantor, created_at FROM impersonation ORDER BY 1, 2, 3",
     "SELECT proxy, target_kind, target, grantor, created_at FROM impersonation WHERE proxy = ?1 OR "
     "(target_kind = "
     "'user' AND target = ?1) ORDER BY 1, 2, 3",
     0},
    {"madang_audit_log",
     {"seq",         "ts",         "type",          "real_user",
      "user_name",   "session_id", "client_addr",   "application_name",
      "door",        "statement",  "fingerprint",   "kind",
      "decision",    "rule",       "sqlstate",      "rows",
      "duration_us", "objects",    "policies",      "outcome",
      "tag",         "error",      "direct_objects"},
     AUDIT_SQL(""),
     AUDIT_SQL(" AND (s.user_name = ?1 OR s.real_user = ?1)"),
     0},
    {"madang_sessions",
     {"session_id", "user_name", "real_user", "client_addr", "application_name", "door", "started_at",
      "state", NULL},
     NULL,
     NULL,
     -1},
    {"madang_explain_access", {"privilege", "allowed", "via", NULL}, NULL, NULL, 2},
};

static void add_policy_row(void *ctx, const char *what, const char *via)
{
    const char *c[3] = {what, "true", via};
    add_row(ctx, 3, c);
}

static bool first_row(void *ctx, int n, const char **c)
{
    UNUSED(n);
    UNUSED(c);
    *(bool *)ctx = true;
    return false;
}

static void add_session_row(void *vctx, const sess_t *s)
{
    struct {
        rows_t *r;
        const char *user;
        bool su;
    } *ctx = vctx;
    if (!ctx->su && strcmp(s->user, ctx->user) != 0 && strcmp(s->real_user, ctx->user) != 0) return;
    char id[32], started[64];
    snprintf(id, sizeof id, "%lld", (long long)s->id);
    time_t t = (time_t)(s->started_wall_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(started, sizeof started, "%Y-%m-%d %H:%M:%S", &tm);
    const char *app = NULL;
    for (int i = 0; i < s->nsettings; i++)
        if (!strcmp(s->settings[i].name, "application_name")) app = s->settings[i].value;
    const char *state = s->tx == SESS_TX_IDLE    ? "idle"
                        : s->tx == SESS_TX_BLOCK ? "in transaction"
                                                 : "failed transaction";
    const char *c[8] = {
        id, s->user, s->real_user, s->client_addr, app ? app : "", s->door ? s->door : "", started, state};
    add_row(ctx->r, 8, c);
}

static bool caller(duckdb_bind_info info, char *user, size_t n, bool *su)
{
    duckdb_client_context ctx;
    duckdb_table_function_get_client_context(info, &ctx);
    uint64_t id = duckdb_client_context_get_connection_id(ctx);
    duckdb_destroy_client_context(&ctx);
    return sess_user_of_connection(id, user, n, su);
}

static bool fill_sysfn(rows_t *r, char *err, size_t errlen)
{
    const sysfn_t *f = r->fn;
    const char *user = r->user;
    bool su = r->su;
    if (f->nparams == -1) {
        /* madang.sessions: live sessions; others see their own (as user or real user) */
        struct {
            rows_t *r;
            const char *user;
            bool su;
        } ctx = {r, user, su};
        sess_foreach(add_session_row, &ctx);
    } else if (f->nparams == 2) {
        const char *who = r->args[0] ? r->args[0] : "", *tbl = r->args[1] ? r->args[1] : "";
        if (!su && strcmp(who, user) != 0) {
            snprintf(err, errlen, "permission denied: only superusers may explain another user's access");
            return false;
        }
        char schema[128] = "main", table[128];
        const char *dot = strchr(tbl, '.');
        if (dot) {
            snprintf(schema, sizeof schema, "%.*s", (int)(dot - tbl), tbl);
            snprintf(table, sizeof table, "%s", dot + 1);
        } else {
            snprintf(table, sizeof table, "%s", tbl);
        }
        authz_explain_row_t out[5];
        int n = g_srv && g_srv->meta ? authz_explain(g_srv->meta, who, schema, table, out) : 0;
        for (int i = 0; i < n; i++) {
            const char *c[3] = {out[i].privilege, out[i].allowed ? "true" : "false", out[i].via};
            add_row(r, 3, c);
        }
        /* the row filter and masks that apply (a connection of its own: this
         * one is busy binding the caller's statement) */
        if (n > 0 && g_srv->eng) {
            duckdb_connection ec = eng_connect(g_srv->eng);
            if (ec) {
                protect_explain(g_srv->meta, ec, who, schema, table, add_policy_row, r);
                eng_disconnect(&ec);
            }
        }
    } else if (g_srv && g_srv->meta) {
        if (!strcmp(f->name, "madang_audit_log")) {
            audit_index_catch_up(g_srv->audit_index);
            /* the auditors group reads everyone's records */
            const char *ga[] = {user};
            bool auditor = false;
            if (!su &&
                !meta_query(g_srv->meta,
                            "SELECT 1 FROM group_members WHERE user_name = ?1 AND group_name = 'auditors'", 1,
                            ga, first_row, &auditor))
                auditor = false;
            if (auditor) su = true;
        }
        const char *args[] = {user};
        if (!meta_query(g_srv->meta, su ? f->sql_all : f->sql_self, su ? 0 : 1, args, add_row, r)) {
            snprintf(err, errlen, "could not read madang's metadata");
            return false;
        }
    }
    return true;
}

static bool fill(rows_t *r, char *err, size_t errlen)
{
    if (!r->generic) return fill_sysfn(r, err, errlen);
    const sys_fn_t *f = r->fn;
    return f->fill(r->user, r->su, (const char **)r->args, r, err, errlen);
}

/* Both kinds of function: the caller, the arguments, the rows. */
static void bind_common(duckdb_bind_info info, const void *fn, bool generic, const char *const *cols,
                        int nargs)
{
    rows_t *r = xcalloc(1, sizeof *r);
    r->fn = fn;
    r->generic = generic;
    if (!caller(info, r->user, sizeof r->user, &r->su)) {
        /* madang's own connections (start-up) see everything */
        snprintf(r->user, sizeof r->user, "admin");
        r->su = true;
    }
    duckdb_logical_type vt = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    for (int i = 0; cols[i]; i++) {
        duckdb_bind_add_result_column(info, cols[i], vt);
        r->ncols++;
    }
    duckdb_destroy_logical_type(&vt);
    for (int i = 0; i < nargs && i < 4; i++) {
        duckdb_value v = duckdb_bind_get_parameter(info, (idx_t)i);
        if (!duckdb_is_null_value(v)) {
            char *a = duckdb_get_varchar(v);
            r->args[i] = xstrdup(a);
            duckdb_free(a);
        }
        duckdb_destroy_value(&v);
    }
    char err[256] = "";
    if (!fill(r, err, sizeof err)) {
        duckdb_bind_set_error(info, err);
        rows_free(r);
        return;
    }
    r->fresh = true;
    duckdb_bind_set_bind_data(info, r, rows_free);
}

static void bind(duckdb_bind_info info)
{
    const sysfn_t *f = duckdb_bind_get_extra_info(info);
    bind_common(info, f, false, f->cols, f->nparams > 0 ? f->nparams : 0);
}

static void generic_bind(duckdb_bind_info info)
{
    const sys_fn_t *f = duckdb_bind_get_extra_info(info);
    bind_common(info, f, true, f->cols, f->nargs);
}

/* A prepared statement runs again: the rows are made again, as of now. */
static void init(duckdb_init_info info)
{
    rows_t *r = duckdb_init_get_bind_data(info);
    if (!r) return;
    if (r->fresh) {
        r->fresh = false;
        return;
    }
    rows_clear(r);
    char err[256] = "";
    if (!fill(r, err, sizeof err)) duckdb_init_set_error(info, err);
}

static void produce(duckdb_function_info info, duckdb_data_chunk out)
{
    rows_t *r = duckdb_function_get_bind_data(info);
    idx_t cap = duckdb_vector_size();
    idx_t n = 0;
    while (r->pos < r->nrows && n < cap) {
        for (int c = 0; c < r->ncols; c++) {
            duckdb_vector v = duckdb_data_chunk_get_vector(out, (idx_t)c);
            const char *cell = r->cells[r->pos * (size_t)r->ncols + (size_t)c];
            if (cell) {
                duckdb_vector_assign_string_element(v, n, cell);
            } else {
                duckdb_vector_ensure_validity_writable(v);
                duckdb_validity_set_row_invalid(duckdb_vector_get_validity(v), n);
            }
        }
        r->pos++;
        n++;
    }
    duckdb_data_chunk_set_size(out, n);
}

bool sysviews_register(duckdb_connection c, const sys_fn_t *fn)
{
    duckdb_table_function f = duckdb_create_table_function();
    duckdb_table_function_set_name(f, fn->name);
    for (int p = 0; p < fn->nargs; p++) {
        duckdb_logical_type t = duckdb_create_logical_type(fn->arg_types[p]);
        duckdb_table_function_add_parameter(f, t);
        duckdb_destroy_logical_type(&t);
    }
    duckdb_table_function_set_extra_info(f, (void *)fn, NULL);
    duckdb_table_function_set_bind(f, generic_bind);
    duckdb_table_function_set_init(f, init);
    duckdb_table_function_set_function(f, produce);
    duckdb_state st = duckdb_register_table_function(c, f);
    duckdb_destroy_table_function(&f);
    return st == DuckDBSuccess;
}

/* ---- session settings as scalar functions: current_setting / set_config ----
 * The bind callback learns which session is calling (client context →
 * connection id); the function then reads or changes that session's emulated
 * PostgreSQL settings, so SET, set_config and current_setting agree. */

static void setting_bind(duckdb_bind_info info)
{
    duckdb_client_context ctx;
    duckdb_scalar_function_get_client_context(info, &ctx);
    uint64_t *id = xmalloc(sizeof *id);
    *id = duckdb_client_context_get_connection_id(ctx);
    duckdb_destroy_client_context(&ctx);
    duckdb_scalar_function_set_bind_data(info, id, free);
}

static char *arg_string(duckdb_vector v, idx_t row, bool *is_null)
{
    uint64_t *valid = duckdb_vector_get_validity(v);
    if (valid && !duckdb_validity_row_is_valid(valid, row)) {
        *is_null = true;
        return NULL;
    }
    *is_null = false;
    duckdb_string_t *s = &((duckdb_string_t *)duckdb_vector_get_data(v))[row];
    return xstrndup(duckdb_string_t_data(s), duckdb_string_t_length(*s));
}

static void get_setting_fn(duckdb_function_info info, duckdb_data_chunk in, duckdb_vector out)
{
    uint64_t *id = duckdb_scalar_function_get_bind_data(info);
    sess_t *s = id ? sess_of_connection(*id) : NULL; /* no bind data: no session to read */
    duckdb_vector names = duckdb_data_chunk_get_vector(in, 0);
    idx_t n = duckdb_data_chunk_get_size(in);
    duckdb_vector_ensure_validity_writable(out);
    uint64_t *valid = duckdb_vector_get_validity(out);
    for (idx_t i = 0; i < n; i++) {
        bool null;
        char *name = arg_string(names, i, &null);
        /* DuckDB drops a C function's bind data when it copies the expression
         * (a filter pushed into a scan, a UNION branch): then there is no way
         * to find the session, and the server-wide default is the answer. */
        const char *v = !name ? NULL : s ? sess_get(s, name) : sess_default(name);
        if (v)
            duckdb_vector_assign_string_element(out, i, v);
        else
            duckdb_validity_set_row_invalid(valid, i);
        free(name);
    }
}

static void set_config_fn(duckdb_function_info info, duckdb_data_chunk in, duckdb_vector out)
{
    uint64_t *id = duckdb_scalar_function_get_bind_data(info);
    sess_t *s = id ? sess_of_connection(*id) : NULL; /* no bind data: no session to read */
    duckdb_vector names = duckdb_data_chunk_get_vector(in, 0), values = duckdb_data_chunk_get_vector(in, 1);
    idx_t n = duckdb_data_chunk_get_size(in);
    duckdb_vector_ensure_validity_writable(out);
    uint64_t *valid = duckdb_vector_get_validity(out);
    for (idx_t i = 0; i < n; i++) {
        bool null_n, null_v;
        char *name = arg_string(names, i, &null_n), *value = arg_string(values, i, &null_v);
        char err[256];
        if (!s || null_n) {
            duckdb_scalar_function_set_error(
                info, null_n ? "set_config: the setting name is NULL"
                             : "set_config can only be called in a query's select list");
        } else if (sess_set(s, name, null_v ? "" : value, false, err, sizeof err) != SESS_SET_OK) {
            duckdb_scalar_function_set_error(info, err);
        } else {
            duckdb_vector_assign_string_element(out, i, sess_get(s, name));
        }
        if (null_v) duckdb_validity_set_row_invalid(valid, i);
        free(name);
        free(value);
    }
}

static bool register_setting_fn(duckdb_connection c, const char *name, int nargs, duckdb_scalar_function_t fn)
{
    duckdb_scalar_function f = duckdb_create_scalar_function();
    duckdb_scalar_function_set_name(f, name);
    duckdb_logical_type vt = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    duckdb_logical_type bt = duckdb_create_logical_type(DUCKDB_TYPE_BOOLEAN);
    for (int i = 0; i < nargs; i++) duckdb_scalar_function_add_parameter(f, i < 2 ? vt : bt);
    duckdb_scalar_function_set_return_type(f, vt);
    duckdb_destroy_logical_type(&vt);
    duckdb_destroy_logical_type(&bt);
    duckdb_scalar_function_set_bind(f, setting_bind);
    duckdb_scalar_function_set_function(f, fn);
    duckdb_scalar_function_set_volatile(f);
    duckdb_scalar_function_set_special_handling(f); /* NULL arguments reach the function */
    duckdb_state st = duckdb_register_scalar_function(c, f);
    duckdb_destroy_scalar_function(&f);
    return st == DuckDBSuccess;
}

static const char *views_sql[] = {
    "CREATE SCHEMA IF NOT EXISTS madang",
    "CREATE OR REPLACE VIEW madang.users AS SELECT name, superuser::BOOLEAN AS superuser, "
    "created_at::TIMESTAMP AS created_at, CASE WHEN groups IS NULL THEN []::VARCHAR[] ELSE "
    "string_split(groups, ',') END AS groups FROM madang_users()",
    "CREATE OR REPLACE VIEW madang.groups AS SELECT name, CASE WHEN members IS NULL THEN []::VARCHAR[] ELSE "
    "string_split(members, ',') END AS members, "
    "synced::BOOLEAN AS synced, created_at::TIMESTAMP AS created_at FROM madang_groups()",
    "CREATE OR REPLACE VIEW madang.grants AS SELECT grantee_kind, grantee, privilege, object_kind, "
    "schema_name, "
    "table_name, column_name, grantor, created_at::TIMESTAMP AS created_at FROM madang_grants()",
    "CREATE OR REPLACE VIEW madang.policies AS SELECT policy_name, policy_kind, schema_name, table_name, "
    "column_name, command, grantee_kind, grantee, expression, via, owner, created_at::TIMESTAMP AS "
    "created_at "
    "FROM madang_policies()",
    "CREATE OR REPLACE VIEW madang.tags AS SELECT name, masking_policy, comment, owner, "
    "created_at::TIMESTAMP AS "
    "created_at, CASE WHEN columns IS NULL THEN []::VARCHAR[] ELSE string_split(columns, ',') END AS columns "
    "FROM madang_tags()",
    "CREATE OR REPLACE VIEW madang.audit_log AS SELECT CAST(seq AS BIGINT) AS seq, CAST(ts AS TIMESTAMP) AS "
    "ts, "
    "type, real_user, user_name, CAST(session_id AS BIGINT) AS session_id, client_addr, application_name, "
    "door, "
    "statement, fingerprint, kind, decision, rule, sqlstate, CAST(rows AS BIGINT) AS rows, CAST(duration_us "
    "AS "
    "BIGINT) AS duration_us, CAST(COALESCE(objects, '[]') AS JSON) AS objects, CAST(COALESCE(policies, '[]') "
    "AS "
    "JSON) AS policies, outcome, tag, error, CAST(COALESCE(direct_objects, '[]') AS JSON) AS direct_objects "
    "FROM madang_audit_log()",
    "CREATE OR REPLACE VIEW madang.tokens AS SELECT CAST(token_id AS BIGINT) AS token_id, user_name, "
    "created_by, "
    "created_at::TIMESTAMP AS created_at, expires_at::TIMESTAMP AS expires_at, expired::BOOLEAN AS expired "
    "FROM "
    "madang_tokens()",
    "CREATE OR REPLACE VIEW madang.impersonation AS SELECT proxy, target_kind, target, grantor, "
    "created_at::TIMESTAMP AS created_at FROM madang_impersonation()",
    "CREATE OR REPLACE VIEW madang.sessions AS SELECT CAST(session_id AS BIGINT) AS session_id, user_name, "
    "real_user, client_addr, application_name, door, started_at::TIMESTAMP AS started_at, state FROM "
    "madang_sessions()",
    "CREATE OR REPLACE MACRO madang.explain_access(u, t) AS TABLE SELECT privilege, allowed::BOOLEAN AS "
    "allowed, via "
    "FROM madang_explain_access(u, t)",
};

bool sysviews_setup(duckdb_connection c, const sys_fn_t *fns, size_t nfns, const char *const *views,
                    size_t nviews, char *err, size_t errlen)
{
    for (size_t i = 0; i < nfns; i++)
        if (!sysviews_register(c, &fns[i])) {
            snprintf(err, errlen, "cannot register %s", fns[i].name);
            return false;
        }
    for (size_t i = 0; i < nviews; i++)
        if (!eng_exec_internal(c, views[i], err, errlen)) return false;
    return true;
}

bool sysviews_install(server_t *srv, duckdb_connection c, char *err, size_t errlen)
{
    g_srv = srv;
    for (size_t i = 0; i < ARRAY_LEN(fns); i++) {
        duckdb_table_function f = duckdb_create_table_function();
        duckdb_table_function_set_name(f, fns[i].name);
        duckdb_logical_type vt = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
        for (int p = 0; p < fns[i].nparams; p++) duckdb_table_function_add_parameter(f, vt);
        duckdb_destroy_logical_type(&vt);
        duckdb_table_function_set_extra_info(f, (void *)&fns[i], NULL);
        duckdb_table_function_set_bind(f, bind);
        duckdb_table_function_set_init(f, init);
        duckdb_table_function_set_function(f, produce);
        duckdb_state st = duckdb_register_table_function(c, f);
        duckdb_destroy_table_function(&f);
        if (st != DuckDBSuccess) {
            snprintf(err, errlen, "cannot register %s", fns[i].name);
            return false;
        }
    }
    if (!register_setting_fn(c, "madang_get_setting", 1, get_setting_fn) ||
        !register_setting_fn(c, "madang_set_config", 3, set_config_fn)) {
        snprintf(err, errlen, "cannot register the session setting functions");
        return false;
    }
    for (size_t i = 0; i < ARRAY_LEN(views_sql); i++) {
        if (!eng_exec_internal(c, views_sql[i], err, errlen)) return false;
    }
    return true;
}
