/* authz.c — who may run what, decided on the engine's bound plan (authz.h).
 *
 * Why the plan: every governance layer that checked SQL by its text has been
 * bypassed (quoted names, CTE shadowing, views, table functions). DuckDB's
 * json_serialize_plan is the binder's own resolution of the statement: each
 * LOGICAL_GET names the catalog, schema, table and the column indexes it
 * reads (including columns used only in WHERE/JOIN/GROUP BY/ORDER BY), and
 * LOGICAL_INSERT/UPDATE/DELETE name their target. Anything in the plan this
 * file does not recognize as allowed is denied.
 *
 * Views (definer rights): the plan has views already expanded, so a base
 * table read through a view is indistinguishable from a direct read. The
 * parse tree (json_serialize_sql, SELECT only) names what the user wrote,
 * with its byte position. Every named view not owned by the user is replaced
 * in a copy of the SQL by an empty relation of the same shape ("sealed"),
 * the copy's plan is checked with the user's rights, and each sealed view's
 * definition is checked with its owner's rights, recursively. A name that is
 * also a CTE name in the statement is never sealed (over-denying at worst).
 *
 * Table functions: the ones on a short allow-list may be called; the engine's
 * metadata functions (duckdb_tables() ...) may appear in a plan only through
 * the compatibility shim's catalog views and macros, never named by the user.
 * Superusers pass every check. */
#include "gate/authz.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/lex.h"
#include "policy/acl.h"

static atomic_ullong g_catalog_version = 1;

uint64_t authz_version(void)
{
    return pol_version() * 1000003ULL + atomic_load(&g_catalog_version);
}

void authz_catalog_changed(void)
{
    atomic_fetch_add(&g_catalog_version, 1);
}

#define MAX_VIEW_DEPTH 16
#define ROWID          ((json_int_t)-1)

static const char *const allowed_table_functions[] = {
    "range",     "generate_series", "unnest",     "generate_subscripts",
    "json_each", "json_tree",       "repeat_row", "pg_get_keywords",
};

/* Reachable only through the shim's catalog views and macros. */
static const char *const metadata_functions[] = {
    "duckdb_tables",       "duckdb_columns",       "duckdb_views",     "duckdb_indexes",
    "duckdb_constraints",  "duckdb_schemas",       "duckdb_databases", "duckdb_functions",
    "duckdb_types",        "duckdb_sequences",     "duckdb_keywords",  "duckdb_settings",
    "duckdb_dependencies", "pragma_database_size",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(s, list[i])) return true;
    return false;
}

static bool is_shim_object(const sess_t *s, const char *name)
{
    UNUSED(s);
    return gate_shim_object(name);
}

static void deny(gate_err_t *err, const char *detail_fmt, const char *a, const char *b, const char *msg_fmt,
                 ...) __attribute__((format(printf, 5, 6)));

static void deny(gate_err_t *err, const char *detail_fmt, const char *a, const char *b, const char *msg_fmt,
                 ...)
{
    memset(err, 0, sizeof *err);
    snprintf(err->sqlstate, sizeof err->sqlstate, "42501");
    va_list ap;
    va_start(ap, msg_fmt);
    vsnprintf(err->message, sizeof err->message, msg_fmt, ap);
    va_end(ap);
    if (detail_fmt) snprintf(err->detail, sizeof err->detail, detail_fmt, a ? a : "", b ? b : "");
}

/* ---- running helper queries on the session's connection ---- */

/* SELECT fn('<sql>') → parsed JSON, or NULL with err. */
/* The session's snapshot of the catalog's relations (reloaded when the
 * catalog version changes: every DDL passes the gate), and its most recent
 * allowed statements (so a statement re-sent or re-parsed is not planned
 * twice). Both are dropped whenever authz_version() moves. */
typedef struct {
    char *db, *schema, *name, *sql;
    bool view, internal;
} snap_rel_t;

#define AZ_CACHE 64

struct authz_state {
    uint64_t snap_version;
    snap_rel_t *rels;
    size_t nrels;
    uint64_t cache_version;
    char *cache[AZ_CACHE];
    int cache_next;
    /* per statement shape, for the audit: what the plan reads and writes, what the query named */
    strcache_t objects, direct;
    /* the last plan serialized, shared by the checks, the audit and lineage
     * until the session's next statement arrives (authz_new_statement) */
    char *plan_sql;
    json_t *plan;
    uint64_t plan_version; /* authz_version() it was made at */
};

static struct authz_state *az(sess_t *s);

/* fn('<sql>') as JSON; optimized: the plan after DuckDB's optimizer (not
 * cached: only the bound plan is, the one the checks read). */
static json_t *serialize(sess_t *s, const char *fn, const char *sql, bool optimized, gate_err_t *err)
{
    bool plan = !optimized && !strcmp(fn, "json_serialize_plan");
    struct authz_state *a = az(s);
    if (plan && a->plan && a->plan_version == authz_version() && !strcmp(a->plan_sql, sql))
        return json_incref(a->plan);
    buf_t q;
    buf_init(&q, strlen(sql) + 64);
    buf_printf(&q, "SELECT %s(", fn);
    lex_put_literal(&q, sql);
    /* smaller JSON: nothing the checks read is null or empty */
    buf_append_str(&q, optimized ? ", skip_null := true, skip_empty := true, optimize := true)"
                                 : ", skip_null := true, skip_empty := true)");
    duckdb_result r;
    json_t *j = NULL;
    if (duckdb_query(s->conn, buf_cstr(&q), &r) != DuckDBSuccess) {
        gate_err_from_duckdb(err, duckdb_result_error(&r), duckdb_result_error_type(&r));
    } else {
        char *v = duckdb_value_varchar(&r, 0, 0);
        json_error_t je;
        /* plans carry 2^64-1 markers (row id, "not inserted"): read numbers as reals */
        j = v ? json_loads(v, JSON_DECODE_INT_AS_REAL, &je) : NULL;
        duckdb_free(v);
        if (!j)
            gate_err_set(err, "XX000", "could not read the engine's plan of this statement");
        else if (json_is_true(json_object_get(j, "error"))) {
            const char *m = json_string_value(json_object_get(j, "error_message"));
            gate_err_set(err, "42501", "madang cannot authorize this statement: %s",
                         m ? m : "the engine cannot plan it");
            json_decref(j);
            j = NULL;
        }
    }
    duckdb_destroy_result(&r);
    buf_free(&q);
    if (plan && j) {
        authz_new_statement(s);
        a->plan_sql = xstrdup(sql);
        a->plan = json_incref(j);
        a->plan_version = authz_version();
    }
    return j;
}

json_t *authz_serialize(sess_t *s, const char *fn, const char *sql, gate_err_t *err)
{
    return serialize(s, fn, sql, false, err);
}

/* ---- the plan walk ---- */

typedef struct {
    char *name; /* lower-case function names the user wrote */
} named_fn_t;

typedef struct {
    sess_t *s;
    pol_acl_t *acl;   /* whose rights are checked */
    bool have_parse;  /* the statement's parse tree was available (SELECT) */
    char **named_fns; /* table functions the user named */
    int nnamed_fns;
    gate_err_t *err;
    bool ok;
} walk_t;

/* A plan index; -1 for the engine's "none" markers (2^64-1 and friends). */
long long authz_jidx(json_t *v)
{
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || d >= 1e15) return -1;
    return (long long)d;
}

const char *authz_jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static bool fn_named(const walk_t *w, const char *name)
{
    for (int i = 0; i < w->nnamed_fns; i++)
        if (!strcasecmp(w->named_fns[i], name)) return true;
    return false;
}

static void check_get(walk_t *w, json_t *get)
{
    const char *fn = authz_jstr(get, "name");
    if (strcmp(fn, "seq_scan") != 0) {
        if (in_list(fn, allowed_table_functions, ARRAY_LEN(allowed_table_functions)) ||
            !strncmp(fn, "madang_", 7))
            return;
        if (in_list(fn, metadata_functions, ARRAY_LEN(metadata_functions)) && w->have_parse &&
            !fn_named(w, fn))
            return;
        deny(w->err, "the table function %s%s is not on madang's allow-list", fn, "",
             "permission denied for table function %s", fn);
        snprintf(w->err->hint, sizeof w->err->hint, "read tables you were granted, or the pg_catalog views");
        w->ok = false;
        return;
    }
    json_t *fd = json_object_get(get, "function_data");
    const char *catalog = authz_jstr(fd, "catalog"), *schema = authz_jstr(fd, "schema"),
               *table = authz_jstr(fd, "table");
    if (!strcmp(catalog, "temp")) return; /* the session's own temp tables and the shim's */
    if (!strcmp(catalog, "system")) return;
    json_t *names = json_object_get(get, "names");
    json_t *idxs = json_object_get(get, "column_indexes");
    size_t ncols = 0;
    size_t i;
    json_t *ci;
    json_array_foreach(idxs, i, ci)
    {
        long long idx = authz_jidx(json_object_get(ci, "index"));
        if (idx < 0 || (size_t)idx >= json_array_size(names)) continue; /* row id */
        const char *col = json_string_value(json_array_get(names, (size_t)idx));
        if (!col) continue;
        ncols++;
        if (!pol_allows(w->acl, POL_SELECT, schema, table, col, NULL, 0)) {
            if (!pol_allows_any(w->acl, POL_SELECT, schema, table)) {
                /* no column of it is theirs: name the table, not a column they may not know of */
                deny(w->err, "%s lacks SELECT on this table; a superuser or the table's owner can GRANT it",
                     w->acl->user, NULL, "permission denied for table %s.%s", schema, table);
                snprintf(w->err->hint, sizeof w->err->hint, "GRANT SELECT ON %s.%s TO %s", schema, table,
                         w->acl->user);
            } else {
                deny(w->err, "%s lacks SELECT on this column; a superuser or the table's owner can GRANT it",
                     w->acl->user, NULL, "permission denied for column %s of table %s.%s", col, schema,
                     table);
                snprintf(w->err->hint, sizeof w->err->hint, "GRANT SELECT (%s) ON %s.%s TO %s", col, schema,
                         table, w->acl->user);
            }
            w->ok = false;
            return;
        }
    }
    if (ncols == 0 && !pol_allows_any(w->acl, POL_SELECT, schema, table)) {
        deny(w->err, "%s lacks SELECT on %s", w->acl->user, table, "permission denied for table %s.%s",
             schema, table);
        w->ok = false;
    }
}

static void require_all_columns(walk_t *w, pol_priv_t priv, const char *schema, const char *table,
                                json_t *cols);

static void check_write(walk_t *w, json_t *node, const char *type)
{
    json_t *ti = json_object_get(node, "table_info");
    const char *catalog = authz_jstr(ti, "catalog"), *schema = authz_jstr(ti, "schema"),
               *table = authz_jstr(ti, "table");
    if (!strcmp(catalog, "temp")) {
        if (is_shim_object(w->s, table)) {
            deny(w->err, NULL, NULL, NULL, "permission denied for system relation %s", table);
            w->ok = false;
        }
        return;
    }
    if (!strcmp(catalog, "system")) {
        deny(w->err, NULL, NULL, NULL, "permission denied for system relation %s", table);
        w->ok = false;
        return;
    }
    json_t *cols = json_object_get(json_object_get(ti, "columns"), "columns");
    pol_priv_t priv = !strcmp(type, "LOGICAL_INSERT")   ? POL_INSERT
                      : !strcmp(type, "LOGICAL_UPDATE") ? POL_UPDATE
                                                        : POL_DELETE;
    /* RETURNING hands back the written rows: SELECT on the table's columns */
    if (json_is_true(json_object_get(node, "return_chunk"))) {
        require_all_columns(w, POL_SELECT, schema, table, cols);
        if (!w->ok) return;
    }
    if (priv == POL_DELETE) {
        if (!pol_allows(w->acl, POL_DELETE, schema, table, NULL, NULL, 0)) {
            deny(w->err, "%s lacks DELETE on %s", w->acl->user, table, "permission denied for table %s.%s",
                 schema, table);
            w->ok = false;
        }
        return;
    }
    json_t *list = priv == POL_INSERT
                       ? json_object_get(json_object_get(node, "column_index_map"), "internal_vector")
                       : json_object_get(node, "columns");
    size_t i;
    json_t *v;
    if (priv == POL_INSERT && json_array_size(list) == 0) list = NULL; /* no column map: every column */
    if (!list) {
        json_array_foreach(cols, i, v)
        {
            const char *col = authz_jstr(v, "name");
            if (!pol_allows(w->acl, priv, schema, table, col, NULL, 0)) {
                deny(w->err, "%s lacks %s on this column", w->acl->user, pol_priv_name(priv),
                     "permission denied for column %s of table %s.%s", col, schema, table);
                w->ok = false;
                return;
            }
        }
        return;
    }
    json_array_foreach(list, i, v)
    {
        size_t col_index;
        if (priv == POL_INSERT) {
            if (authz_jidx(v) < 0) continue; /* column not inserted */
            col_index = i;
        } else {
            if (authz_jidx(v) < 0) continue;
            col_index = (size_t)authz_jidx(v);
        }
        const char *col = authz_jstr(json_array_get(cols, col_index), "name");
        if (!pol_allows(w->acl, priv, schema, table, col, NULL, 0)) {
            deny(w->err, "%s lacks %s on this column", w->acl->user, pol_priv_name(priv),
                 "permission denied for column %s of table %s.%s", col, schema, table);
            snprintf(w->err->hint, sizeof w->err->hint, "GRANT %s ON %s.%s TO %s", pol_priv_name(priv),
                     schema, table, w->acl->user);
            w->ok = false;
            return;
        }
    }
}

/* Plan operators madang knows; any other operator in a plan is denied (a new
 * engine version's operator is checked before it is trusted). */
static const char *const known_ops[] = {
    "LOGICAL_PROJECTION",
    "LOGICAL_FILTER",
    "LOGICAL_AGGREGATE_AND_GROUP_BY",
    "LOGICAL_WINDOW",
    "LOGICAL_UNNEST",
    "LOGICAL_LIMIT",
    "LOGICAL_ORDER_BY",
    "LOGICAL_TOP_N",
    "LOGICAL_DISTINCT",
    "LOGICAL_SAMPLE",
    "LOGICAL_PIVOT",
    "LOGICAL_GET",
    "LOGICAL_CHUNK_GET",
    "LOGICAL_DELIM_GET",
    "LOGICAL_EXPRESSION_GET",
    "LOGICAL_DUMMY_SCAN",
    "LOGICAL_EMPTY_RESULT",
    "LOGICAL_CTE_REF",
    "LOGICAL_JOIN",
    "LOGICAL_DELIM_JOIN",
    "LOGICAL_COMPARISON_JOIN",
    "LOGICAL_ANY_JOIN",
    "LOGICAL_CROSS_PRODUCT",
    "LOGICAL_POSITIONAL_JOIN",
    "LOGICAL_ASOF_JOIN",
    "LOGICAL_DEPENDENT_JOIN",
    "LOGICAL_UNION",
    "LOGICAL_EXCEPT",
    "LOGICAL_INTERSECT",
    "LOGICAL_RECURSIVE_CTE",
    "LOGICAL_MATERIALIZED_CTE",
    "LOGICAL_INSERT",
    "LOGICAL_DELETE",
    "LOGICAL_UPDATE",
    "LOGICAL_MERGE_INTO",
    "LOGICAL_CREATE_TABLE",
    "LOGICAL_EXPLAIN",
};

/* Scalar functions that reveal the catalog to whoever calls them. */
static const char *const denied_scalar_functions[] = {
    "json_serialize_plan", "getvariable",
    "current_setting_raw", "madang_fence", /* marks where row policies were applied (protect.c) */
    "madang_policy_in",                    /* a row policy's set of values (protect.c) */
};

static void require_all_columns(walk_t *w, pol_priv_t priv, const char *schema, const char *table,
                                json_t *cols)
{
    size_t i;
    json_t *v;
    json_array_foreach(cols, i, v)
    {
        const char *col = authz_jstr(v, "name");
        if (!pol_allows(w->acl, priv, schema, table, col, NULL, 0)) {
            deny(w->err, "%s lacks %s on this column", w->acl->user, pol_priv_name(priv),
                 "permission denied for column %s of table %s.%s", col, schema, table);
            w->ok = false;
            return;
        }
    }
}

/* INSERT ... ON CONFLICT and INSERT OR REPLACE plan as a MERGE: each action
 * needs its privilege (UPDATE on the columns set, INSERT on every column,
 * DELETE), and RETURNING needs SELECT on the table's columns. */
static void check_merge(walk_t *w, json_t *node)
{
    json_t *ti = json_object_get(node, "table_info");
    const char *catalog = authz_jstr(ti, "catalog"), *schema = authz_jstr(ti, "schema"),
               *table = authz_jstr(ti, "table");
    if (!strcmp(catalog, "temp") && !is_shim_object(w->s, table)) return;
    if (!strcmp(catalog, "temp") || !strcmp(catalog, "system") || !ti) {
        deny(w->err, NULL, NULL, NULL, "permission denied for relation %s", table[0] ? table : "(unknown)");
        w->ok = false;
        return;
    }
    json_t *cols = json_object_get(json_object_get(ti, "columns"), "columns");
    size_t i, j;
    json_t *a, *act;
    json_array_foreach(json_object_get(node, "actions"), i, a)
    {
        json_array_foreach(json_object_get(a, "value"), j, act)
        {
            const char *t = authz_jstr(act, "action_type");
            if (!strcmp(t, "MERGE_UPDATE")) {
                size_t k;
                json_t *c;
                json_array_foreach(json_object_get(act, "columns"), k, c)
                {
                    long long idx = authz_jidx(c);
                    const char *col = idx >= 0 ? authz_jstr(json_array_get(cols, (size_t)idx), "name") : "";
                    if (!pol_allows(w->acl, POL_UPDATE, schema, table, col, NULL, 0)) {
                        deny(w->err, "%s lacks UPDATE on this column", w->acl->user, NULL,
                             "permission denied for column %s of table %s.%s", col, schema, table);
                        w->ok = false;
                        return;
                    }
                }
            } else if (!strcmp(t, "MERGE_INSERT")) {
                require_all_columns(w, POL_INSERT, schema, table, cols);
            } else if (!strcmp(t, "MERGE_DELETE")) {
                if (!pol_allows(w->acl, POL_DELETE, schema, table, NULL, NULL, 0)) {
                    deny(w->err, NULL, NULL, NULL, "permission denied for table %s.%s", schema, table);
                    w->ok = false;
                }
            } else if (strcmp(t, "MERGE_DO_NOTHING") != 0 && strcmp(t, "MERGE_ERROR") != 0) {
                deny(w->err, NULL, NULL, NULL, "madang cannot authorize the merge action %s", t);
                w->ok = false;
            }
            if (!w->ok) return;
        }
    }
    /* INSERT ... ON CONFLICT DO NOTHING inserts: it needs INSERT even with no action rows */
    if (w->ok) require_all_columns(w, POL_INSERT, schema, table, cols);
    if (w->ok && json_is_true(json_object_get(node, "return_chunk")))
        require_all_columns(w, POL_SELECT, schema, table, cols);
}

static void walk(walk_t *w, json_t *n)
{
    if (!w->ok) return;
    if (json_is_object(n)) {
        const char *type = json_string_value(json_object_get(n, "type"));
        if (type && !strncmp(type, "LOGICAL_", 8) && !in_list(type, known_ops, ARRAY_LEN(known_ops))) {
            deny(w->err, NULL, NULL, NULL, "madang cannot authorize the plan operator %s", type);
            w->ok = false;
            return;
        }
        if (type && !strcmp(type, "BOUND_FUNCTION") && !w->acl->superuser &&
            in_list(authz_jstr(n, "name"), denied_scalar_functions, ARRAY_LEN(denied_scalar_functions))) {
            deny(w->err, NULL, NULL, NULL, "permission denied for function %s", authz_jstr(n, "name"));
            w->ok = false;
            return;
        }
        if (type && !strcmp(type, "LOGICAL_GET"))
            check_get(w, n);
        else if (type && !strcmp(type, "LOGICAL_MERGE_INTO"))
            check_merge(w, n);
        else if (type && (!strcmp(type, "LOGICAL_INSERT") || !strcmp(type, "LOGICAL_UPDATE") ||
                          !strcmp(type, "LOGICAL_DELETE")))
            check_write(w, n, type);
        const char *k;
        json_t *v;
        json_object_foreach(n, k, v) walk(w, v);
    } else if (json_is_array(n)) {
        size_t i;
        json_t *v;
        json_array_foreach(n, i, v) walk(w, v);
    }
}

/* ---- the parse tree: what the user named ---- */

void authz_named_free(named_t *n)
{
    for (int i = 0; i < n->nrefs; i++) {
        free(n->refs[i].catalog);
        free(n->refs[i].schema);
        free(n->refs[i].name);
        free(n->refs[i].alias);
    }
    free(n->refs);
    for (int i = 0; i < n->nctes; i++) free(n->ctes[i]);
    free(n->ctes);
    for (int i = 0; i < n->nfns; i++) free(n->fns[i]);
    free(n->fns);
}

void authz_collect_named(named_t *n, json_t *o)
{
    if (json_is_object(o)) {
        const char *type = json_string_value(json_object_get(o, "type"));
        if (type && !strcmp(type, "BASE_TABLE") && json_object_get(o, "table_name")) {
            n->refs = xrealloc(n->refs, sizeof *n->refs * (size_t)(n->nrefs + 1));
            ref_t *r = &n->refs[n->nrefs++];
            r->catalog = xstrdup(authz_jstr(o, "catalog_name"));
            r->schema = xstrdup(authz_jstr(o, "schema_name"));
            r->name = xstrdup(authz_jstr(o, "table_name"));
            r->alias = xstrdup(authz_jstr(o, "alias"));
            long long loc = authz_jidx(json_object_get(o, "query_location"));
            r->location = loc >= 0 ? (size_t)loc : (size_t)-1;
        } else if (type && !strcmp(type, "TABLE_FUNCTION")) {
            json_t *f = json_object_get(o, "function");
            const char *fname = authz_jstr(f, "function_name"), *fschema = authz_jstr(f, "schema");
            n->fns = xrealloc(n->fns, sizeof(char *) * (size_t)(n->nfns + 1));
            /* madang's own table macros are named with their schema */
            n->fns[n->nfns++] = !strcmp(fschema, "madang") ? xasprintf("madang.%s", fname) : xstrdup(fname);
        }
        json_t *cte = json_object_get(o, "cte_map");
        if (cte) {
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(cte, "map"), i, e)
            {
                const char *k = json_string_value(json_object_get(e, "key"));
                if (!k) continue;
                n->ctes = xrealloc(n->ctes, sizeof(char *) * (size_t)(n->nctes + 1));
                n->ctes[n->nctes++] = xstrdup(k);
            }
        }
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) authz_collect_named(n, v);
    } else if (json_is_array(o)) {
        size_t i;
        json_t *v;
        json_array_foreach(o, i, v) authz_collect_named(n, v);
    }
}

static struct authz_state *az(sess_t *s)
{
    if (!s->az) s->az = xcalloc(1, sizeof *s->az);
    return s->az;
}

static void snap_clear(struct authz_state *a)
{
    for (size_t i = 0; i < a->nrels; i++) {
        free(a->rels[i].db);
        free(a->rels[i].schema);
        free(a->rels[i].name);
        free(a->rels[i].sql);
    }
    free(a->rels);
    a->rels = NULL;
    a->nrels = 0;
}

static void cache_clear(struct authz_state *a)
{
    for (int i = 0; i < AZ_CACHE; i++) {
        free(a->cache[i]);
        a->cache[i] = NULL;
    }
}

static void obj_clear(struct authz_state *a)
{
    strcache_clear(&a->objects);
    strcache_clear(&a->direct);
}

void authz_new_statement(sess_t *s)
{
    struct authz_state *a = s->az;
    if (!a || !a->plan) return;
    json_decref(a->plan);
    free(a->plan_sql);
    a->plan = NULL;
    a->plan_sql = NULL;
}

void authz_session_free(sess_t *s)
{
    authz_new_statement(s);
    if (s->az) obj_clear(s->az);
    if (!s->az) return;
    snap_clear(s->az);
    cache_clear(s->az);
    free(s->az);
    s->az = NULL;
}

static void snapshot(sess_t *s)
{
    struct authz_state *a = az(s);
    uint64_t v = authz_version();
    if (a->rels && a->snap_version == v) return;
    snap_clear(a);
    duckdb_result r;
    if (duckdb_query(
            s->conn,
            "SELECT database_name, schema_name, view_name, true, internal, CASE WHEN internal THEN NULL ELSE "
            "sql END "
            "FROM duckdb_views() UNION ALL SELECT database_name, schema_name, table_name, false, false, NULL "
            "FROM duckdb_tables()",
            &r) == DuckDBSuccess) {
        idx_t n = duckdb_row_count(&r);
        a->rels = xcalloc((size_t)n + 1, sizeof *a->rels);
        for (idx_t i = 0; i < n; i++) {
            snap_rel_t *e = &a->rels[a->nrels++];
            char *c0 = duckdb_value_varchar(&r, 0, i), *c1 = duckdb_value_varchar(&r, 1, i),
                 *c2 = duckdb_value_varchar(&r, 2, i), *c5 = duckdb_value_varchar(&r, 5, i);
            e->db = xstrdup(c0 ? c0 : "");
            e->schema = xstrdup(c1 ? c1 : "");
            e->name = xstrdup(c2 ? c2 : "");
            e->sql = c5 ? xstrdup(c5) : NULL;
            e->view = duckdb_value_boolean(&r, 3, i);
            e->internal = duckdb_value_boolean(&r, 4, i);
            duckdb_free(c0);
            duckdb_free(c1);
            duckdb_free(c2);
            duckdb_free(c5);
        }
    }
    duckdb_destroy_result(&r);
    a->snap_version = v;
}

static bool cache_hit(sess_t *s, const char *sql)
{
    struct authz_state *a = az(s);
    if (a->cache_version != authz_version()) {
        cache_clear(a);
        a->cache_version = authz_version();
        return false;
    }
    for (int i = 0; i < AZ_CACHE; i++)
        if (a->cache[i] && !strcmp(a->cache[i], sql)) return true;
    return false;
}

static void cache_put(sess_t *s, const char *sql)
{
    struct authz_state *a = az(s);
    if (a->cache_version != authz_version()) {
        cache_clear(a);
        a->cache_version = authz_version();
    }
    if (strlen(sql) > 8192) return;
    free(a->cache[a->cache_next]);
    a->cache[a->cache_next] = xstrdup(sql);
    a->cache_next = (a->cache_next + 1) % AZ_CACHE;
}

static rel_kind_t resolve_in(sess_t *s, const ref_t *r, rel_t *out, bool persistent_only);

rel_kind_t authz_resolve(sess_t *s, const ref_t *r, rel_t *out)
{
    return resolve_in(s, r, out, false);
}

rel_kind_t authz_resolve_persistent(sess_t *s, const ref_t *r, rel_t *out)
{
    return resolve_in(s, r, out, true);
}

static rel_kind_t resolve_in(sess_t *s, const ref_t *r, rel_t *out, bool persistent_only)
{
    memset(out, 0, sizeof *out);
    snapshot(s);
    struct authz_state *a = az(s);
    rel_kind_t best = REL_NONE;
    int best_rank = 1000;
    {
        for (size_t i = 0; i < a->nrels; i++) {
            snap_rel_t *e = &a->rels[i];
            if (strcasecmp(e->name, r->name) != 0) continue; /* the engine's names are case-insensitive */
            if (persistent_only && (!strcmp(e->db, "temp") || !strcmp(e->db, "system"))) continue;
            const char *db = e->db, *sc = e->schema;
            const char *k = e->view ? "v" : "t";
            bool temp = false;
            bool internal = e->internal;
            /* rank by DuckDB's resolution order: temp, then the schema written or the
             * search path (default schema, main), then the system catalog */
            int rank = 1000;
            bool schema_match = r->schema[0] ? !strcasecmp(sc, r->schema) : true;
            bool catalog_match = r->catalog[0] ? !strcasecmp(db, r->catalog) : true;
            if (schema_match && catalog_match) {
                UNUSED(temp); /* system views report temporary too: go by catalog */
                if (!strcmp(db, "temp"))
                    rank = r->schema[0] ? 5 : 0;
                else if (!strcmp(db, "system"))
                    rank = 50;
                else if (r->schema[0])
                    rank = 1;
                else if (!strcasecmp(sc, s->default_schema))
                    rank = 2;
                else if (!strcmp(sc, "main"))
                    rank = 3;
            }
            if (rank < best_rank) {
                best_rank = rank;
                snprintf(out->db, sizeof out->db, "%s", db);
                snprintf(out->schema, sizeof out->schema, "%s", sc);
                snprintf(out->name, sizeof out->name, "%s", e->name); /* as the catalog spells it */
                free(out->sql);
                out->sql = NULL;
                if (k[0] == 'v') {
                    out->sql = e->sql ? xstrdup(e->sql) : NULL;
                    if (!strcmp(db, "temp"))
                        best = is_shim_object(s, r->name) ? REL_SHIM : REL_TEMP_VIEW;
                    else if (!strcmp(db, "system") || internal)
                        best = REL_SYSTEM_VIEW;
                    else if (!strcmp(sc, "madang"))
                        best = REL_SHIM; /* madang.* system views govern themselves */
                    else
                        best = REL_VIEW;
                } else {
                    best = REL_TABLE;
                }
            }
        }
    }
    out->kind = best;
    return best;
}

bool authz_is_view_name(sess_t *s, const char *name)
{
    snapshot(s);
    struct authz_state *a = az(s);
    for (size_t i = 0; i < a->nrels; i++) {
        snap_rel_t *e = &a->rels[i];
        if (e->view && !e->internal && strcmp(e->db, "temp") != 0 && strcmp(e->db, "system") != 0 &&
            !strcasecmp(e->name, name))
            return true;
    }
    return false;
}

void authz_cols_free(authz_cols_t *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->name[i]);
        free(c->type[i]);
    }
    free(c->name);
    free(c->type);
    memset(c, 0, sizeof *c);
}

bool authz_columns(duckdb_connection c, const char *db, const char *schema, const char *table,
                   authz_cols_t *out)
{
    memset(out, 0, sizeof *out);
    buf_t q;
    buf_init(&q, 256);
    buf_append_str(&q, "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ");
    lex_put_literal(&q, schema);
    buf_append_str(&q, " AND table_name = ");
    lex_put_literal(&q, table);
    if (db && db[0]) {
        buf_append_str(&q, " AND database_name = ");
        lex_put_literal(&q, db);
    } else {
        buf_append_str(&q, " AND database_name NOT IN ('temp', 'system')");
    }
    buf_append_str(&q, " ORDER BY column_index");
    duckdb_result r;
    bool ok = duckdb_query(c, buf_cstr(&q), &r) == DuckDBSuccess;
    buf_free(&q);
    if (ok) {
        idx_t n = duckdb_row_count(&r);
        out->name = xcalloc((size_t)n + 1, sizeof(char *));
        out->type = xcalloc((size_t)n + 1, sizeof(char *));
        for (idx_t i = 0; i < n; i++) {
            char *a = duckdb_value_varchar(&r, 0, i), *t = duckdb_value_varchar(&r, 1, i);
            out->name[out->n] = xstrdup(a ? a : "");
            out->type[out->n] = xstrdup(t ? t : "VARCHAR");
            out->n++;
            duckdb_free(a);
            duckdb_free(t);
        }
        ok = n > 0;
    }
    duckdb_destroy_result(&r);
    return ok;
}

/* An empty relation with the view's columns and types. */
static char *sealed_relation(sess_t *s, const rel_t *v, const ref_t *r)
{
    buf_t out;
    buf_init(&out, 256);
    buf_append_str(&out, "(SELECT ");
    authz_cols_t c;
    if (authz_columns(s->conn, v->db, v->schema, v->name, &c)) {
        for (int i = 0; i < c.n; i++) {
            if (i) buf_append_str(&out, ", ");
            buf_printf(&out, "CAST(NULL AS %s) AS ", c.type[i]);
            lex_put_ident(&out, c.name[i]);
        }
        authz_cols_free(&c);
    } else {
        buf_append_str(&out, "NULL AS madang_sealed");
    }
    buf_append_str(&out, " WHERE false)");
    if (!r->alias[0]) {
        buf_append_str(&out, " AS ");
        lex_put_ident(&out, r->name);
    }
    buf_cstr(&out);
    return out.data;
}

/* Length of the name written at location: ident(.ident)* */
size_t authz_name_span(const char *sql, size_t loc)
{
    lex_t l;
    size_t len = strlen(sql);
    if (loc >= len) return 0;
    lex_init(&l, sql + loc, len - loc);
    size_t end = 0;
    for (;;) {
        lex_tok_t t = lex_next(&l);
        if (t.type != TK_IDENT && t.type != TK_QIDENT) break;
        end = t.offset + t.len;
        lex_t save = l;
        lex_tok_t d = lex_next(&l);
        if (d.type != TK_DOT) {
            l = save;
            break;
        }
    }
    return end;
}

static int by_location_desc(const void *a, const void *b)
{
    const ref_t *x = *(ref_t *const *)a, *y = *(ref_t *const *)b;
    return x->location < y->location ? 1 : x->location > y->location ? -1 : 0;
}

ref_t **authz_refs_last_first(json_t *tree, named_t *n)
{
    authz_collect_named(n, tree);
    json_decref(tree);
    ref_t **order = xcalloc((size_t)n->nrefs + 1, sizeof *order);
    for (int i = 0; i < n->nrefs; i++) order[i] = &n->refs[i];
    qsort(order, (size_t)n->nrefs, sizeof *order, by_location_desc);
    return order;
}

bool authz_span_names(const char *text, size_t span, const ref_t *r)
{
    /* the last identifier of the span is the name (quoted or not) */
    lex_t l;
    lex_init(&l, text, span);
    char *last = NULL;
    for (;;) {
        lex_tok_t t = lex_next(&l);
        if (t.type == TK_EOF || t.type == TK_ERROR) break;
        if (t.type == TK_IDENT || t.type == TK_QIDENT) {
            free(last);
            last = lex_value(&t);
        }
    }
    bool ok = last && !strcasecmp(last, r->name);
    free(last);
    return ok;
}

bool authz_is_cte(const named_t *n, const char *name)
{
    for (int i = 0; i < n->nctes; i++)
        if (!strcasecmp(n->ctes[i], name)) return true;
    return false;
}

char *authz_view_body(const char *sql)
{
    /* "CREATE VIEW name [(cols)] AS <query>;" → <query> */
    long at = lex_after_top_level_kw(sql, "AS");
    if (at < 0) return NULL;
    char *body = xstrdup(sql + at);
    size_t n = strlen(body);
    while (n && (body[n - 1] == ';' || isspace((unsigned char)body[n - 1]))) body[--n] = '\0';
    return body;
}

static bool check_plan(sess_t *s, pol_acl_t *acl, const char *sql, bool have_parse, const named_t *named,
                       gate_err_t *err);

/* Authorizes a SELECT-like query text for acl; views are sealed. */
static bool check_select(sess_t *s, pol_acl_t *acl, const char *sql, int depth, gate_err_t *err)
{
    if (depth > MAX_VIEW_DEPTH) {
        gate_err_set(err, "42501", "views nested deeper than %d levels cannot be authorized", MAX_VIEW_DEPTH);
        return false;
    }
    /* Fast path: if the user may read everything the plan reads directly, no
     * view's definer rights can matter and the parse tree is not needed. */
    {
        gate_err_t fast;
        if (check_plan(s, acl, sql, false, NULL, &fast)) return true;
    }
    json_t *tree = authz_serialize(s, "json_serialize_sql", sql, err);
    if (!tree) return false;
    named_t n = {0};
    /* seal views, from the last position in the text to the first so offsets
     * stay valid (the parse tree's order is not the text's: ORDER BY comes
     * before FROM) */
    ref_t **order = authz_refs_last_first(tree, &n);
    bool ok = true;
    char *work = xstrdup(sql);
    for (int i = 0; i < n.nrefs && ok; i++) {
        ref_t *r = order[i];
        if (authz_is_cte(&n, r->name) && !r->schema[0]) {
            /* a CTE reference; if a relation of the same name exists it is checked
             * unsealed (with the user's rights), which can only deny more */
            continue;
        }
        rel_t v;
        rel_kind_t k = authz_resolve(s, r, &v);
        bool seal = false;
        if (k == REL_SHIM) {
            seal = true;
        } else if (k == REL_SYSTEM_VIEW && !acl->superuser) {
            deny(err, NULL, NULL, NULL, "permission denied for system view %s.%s", v.schema, v.name);
            snprintf(err->hint, sizeof err->hint,
                     "use the pg_catalog views (pg_class, pg_attribute, ...) or madang.* views");
            ok = false;
        } else if (k == REL_VIEW && !acl->superuser && !pol_owns(acl, v.schema, v.name)) {
            if (!pol_allows_any(acl, POL_SELECT, v.schema, v.name)) {
                deny(err, "%s lacks SELECT on view %s", acl->user, v.name, "permission denied for view %s.%s",
                     v.schema, v.name);
                ok = false;
            } else {
                /* definer rights: the view's owner must be able to read what it reads */
                char *owner = pol_owner_of(s->srv->meta, v.schema, v.name);
                pol_acl_t *oacl = pol_acl_load(s->srv->meta, owner ? owner : "admin");
                char *body = v.sql ? authz_view_body(v.sql) : NULL;
                if (!oacl || !body) {
                    deny(err, NULL, NULL, NULL, "cannot authorize view %s.%s: its owner %s no longer exists",
                         v.schema, v.name, owner ? owner : "admin");
                    ok = false;
                } else if (!oacl->superuser) {
                    gate_err_t e2;
                    if (!check_select(s, oacl, body, depth + 1, &e2)) {
                        deny(err, "%s", e2.message, NULL,
                             "permission denied for view %s.%s: its owner %s may not read what it reads",
                             v.schema, v.name, oacl->user);
                        ok = false;
                    }
                }
                free(body);
                pol_acl_free(oacl);
                free(owner);
                seal = ok;
            }
        }
        if (seal && r->location != (size_t)-1) {
            size_t span = authz_name_span(work, r->location);
            if (span == 0 || !authz_span_names(work + r->location, span, r)) {
                gate_err_set(err, "42501",
                             "madang cannot authorize this statement (view reference not found)");
                ok = false;
            } else {
                char *rel = sealed_relation(s, &v, r);
                buf_t b;
                buf_init(&b, strlen(work) + strlen(rel));
                buf_append(&b, work, r->location);
                buf_append_str(&b, rel);
                buf_append_str(&b, work + r->location + span);
                free(work);
                free(rel);
                work = xstrdup(buf_cstr(&b));
                buf_free(&b);
            }
        }
        free(v.sql);
    }
    if (ok) {
        for (int i = 0; i < n.nfns && ok; i++) {
            if (acl->superuser) break;
            if (!in_list(n.fns[i], allowed_table_functions, ARRAY_LEN(allowed_table_functions)) &&
                strncmp(n.fns[i], "madang_", 7) != 0 && strncmp(n.fns[i], "madang.", 7) != 0) {
                deny(err, "the table function %s%s is not on madang's allow-list", n.fns[i], "",
                     "permission denied for table function %s", n.fns[i]);
                ok = false;
            }
        }
    }
    if (ok) ok = check_plan(s, acl, work, true, &n, err);
    free(work);
    free(order);
    authz_named_free(&n);
    return ok;
}

static bool check_plan(sess_t *s, pol_acl_t *acl, const char *sql, bool have_parse, const named_t *named,
                       gate_err_t *err)
{
    json_t *plan = authz_serialize(s, "json_serialize_plan", sql, err);
    if (!plan) return false;
    walk_t w = {.s = s, .acl = acl, .have_parse = have_parse, .err = err, .ok = true};
    if (named) {
        w.named_fns = named->fns;
        w.nnamed_fns = named->nfns;
    }
    walk(&w, json_object_get(plan, "plans"));
    json_decref(plan);
    return w.ok;
}

/* ---- DDL ---- */

typedef struct {
    char schema[128];
    char name[128];
    bool qualified;
    bool temp;
} qname_t;

/* Reads [catalog.][schema.]name at the lexer; false if no name. */
static bool read_qname(lex_t *l, lex_tok_t *t, qname_t *q)
{
    char parts[3][128];
    int n = 0;
    memset(q, 0, sizeof *q);
    while ((t->type == TK_IDENT || t->type == TK_QIDENT) && n < 3) {
        char *v = lex_value(t);
        snprintf(parts[n++], sizeof parts[0], "%s", v);
        free(v);
        *t = lex_next(l);
        if (t->type != TK_DOT) break;
        *t = lex_next(l);
    }
    if (n == 0) return false;
    memcpy(q->name, parts[n - 1], sizeof q->name);
    if (n >= 2) {
        memcpy(q->schema, parts[n - 2], sizeof q->schema);
        q->qualified = true;
    }
    if (n == 3 && !strcmp(parts[0], "temp")) q->temp = true;
    if (q->qualified && !strcmp(q->schema, "temp")) q->temp = true;
    return true;
}

/* Where an existing relation named q (DROP/ALTER/COMMENT) is: its schema,
 * and (name_out, may be NULL) its name as the catalog spells it. */
static bool find_existing(sess_t *s, const qname_t *q, char *schema_out, size_t n, char *name_out, size_t nn,
                          bool *is_temp)
{
    ref_t r = {.catalog = "",
               .schema = (char *)(q->qualified && !q->temp ? q->schema : ""),
               .name = (char *)q->name,
               .alias = ""};
    rel_t v;
    rel_kind_t k = authz_resolve(s, &r, &v);
    free(v.sql);
    if (k == REL_NONE) return false;
    snprintf(schema_out, n, "%s", v.schema);
    if (name_out) snprintf(name_out, nn, "%s", v.name);
    *is_temp = !strcmp(v.db, "temp");
    if (k == REL_SHIM) *is_temp = true;
    return true;
}

static bool must_own(sess_t *s, const qname_t *q, const char *what, gate_err_t *err)
{
    char schema[128];
    bool temp = false;
    if (!find_existing(s, q, schema, sizeof schema, NULL, 0, &temp))
        return true; /* the engine reports it missing */
    if (temp) {
        if (is_shim_object(s, q->name)) {
            deny(err, NULL, NULL, NULL, "permission denied for system relation %s", q->name);
            return false;
        }
        return true; /* the session's own temp object */
    }
    if (s->acl->superuser || pol_owns(s->acl, schema, q->name)) return true;
    char *owner = pol_owner_of(s->srv->meta, schema, q->name);
    deny(err, "only its owner (%s) or a superuser may %s it", owner ? owner : "admin", what,
         "must be owner of %s %s.%s", "relation", schema, q->name);
    free(owner);
    return false;
}

static bool may_create_in(sess_t *s, const char *schema, gate_err_t *err)
{
    if (s->acl->superuser || pol_allows(s->acl, POL_CREATE, schema, NULL, NULL, NULL, 0)) return true;
    deny(err, "%s lacks CREATE on schema %s", s->acl->user, schema, "permission denied for schema %s",
         schema);
    snprintf(err->hint, sizeof err->hint, "GRANT CREATE ON SCHEMA %s TO %s", schema, s->acl->user);
    return false;
}

static void set_ddl(gate_stmt_t *st, char op, const char *kind, const char *schema, const char *name,
                    const char *new_name)
{
    st->ddl_op = op;
    snprintf(st->ddl_kind, sizeof st->ddl_kind, "%s", kind);
    free(st->ddl_schema);
    free(st->ddl_name);
    free(st->ddl_new_name);
    st->ddl_schema = xstrdup(schema);
    st->ddl_name = xstrdup(name);
    st->ddl_new_name = new_name ? xstrdup(new_name) : NULL;
    free(st->ddl_column);
    st->ddl_column = NULL;
}

/* Reads the object kind word (TABLE, VIEW, ...) into kind, lower case, and
 * skips an IF [NOT] EXISTS that follows it; t ends on the object's name. */
static void read_kind(lex_t *l, lex_tok_t *t, char kind[16])
{
    char *k = lex_value(t);
    snprintf(kind, 16, "%s", k);
    free(k);
    *t = lex_next(l);
    if (lex_is(t, "IF")) {
        *t = lex_next(l);
        if (lex_is(t, "NOT")) *t = lex_next(l);
        *t = lex_next(l); /* EXISTS */
    }
}

static bool check_ddl(sess_t *s, gate_stmt_t *st, gate_err_t *err)
{
    const char *sql = st->sql;
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    lex_tok_t t = lex_next(&l);
    bool su = s->acl->superuser;
    if (lex_is(&t, "CREATE")) {
        t = lex_next(&l);
        bool replace = false, temp = false;
        if (lex_is(&t, "OR")) {
            t = lex_next(&l);
            t = lex_next(&l);
            replace = true;
        }
        if (lex_is(&t, "TEMP") || lex_is(&t, "TEMPORARY") || lex_is(&t, "LOCAL")) {
            temp = true;
            t = lex_next(&l);
        }
        if (lex_is(&t, "UNIQUE")) t = lex_next(&l);
        char kind[16];
        read_kind(&l, &t, kind);
        if (!strcmp(kind, "schema")) {
            qname_t q;
            if (!read_qname(&l, &t, &q)) return true;
            if (!su) {
                deny(err, NULL, NULL, NULL, "permission denied to create schema %s", q.name);
                snprintf(err->hint, sizeof err->hint, "only superusers create schemas");
                return false;
            }
            set_ddl(st, 'C', "schema", q.name, "", NULL);
            return true;
        }
        if (!strcmp(kind, "index")) {
            /* CREATE INDEX [name] ON table: the table's owner */
            while (t.type != TK_EOF && !lex_is(&t, "ON")) t = lex_next(&l);
            t = lex_next(&l);
            qname_t q;
            if (!read_qname(&l, &t, &q)) return true;
            return must_own(s, &q, "index", err);
        }
        qname_t q;
        if (!read_qname(&l, &t, &q)) return true;
        if (temp || q.temp) {
            if (is_shim_object(s, q.name)) {
                deny(err, NULL, NULL, NULL, "permission denied for system relation %s", q.name);
                return false;
            }
        } else {
            const char *schema = q.qualified ? q.schema : s->default_schema;
            if (!may_create_in(s, schema, err)) return false;
            if (replace) {
                qname_t e = q;
                if (!e.qualified) {
                    snprintf(e.schema, sizeof e.schema, "%s", schema);
                    e.qualified = true;
                }
                if (!must_own(s, &e, "replace", err)) return false;
            }
            set_ddl(st, 'C', kind, schema, q.name, NULL);
        }
        /* what a new view reads must be readable by its creator */
        if (!strcmp(kind, "view") && !su) {
            char *body = authz_view_body(sql);
            bool ok = body && check_select(s, s->acl, body, 1, err);
            free(body);
            if (!ok) {
                if (!err->sqlstate[0]) gate_err_set(err, "42501", "permission denied for the view's query");
                return false;
            }
        }
        /* CREATE TABLE ... AS: the query's reads are checked on the plan */
        if (!strcmp(kind, "table") && !su) {
            bool as = lex_after_top_level_kw(sql, "AS") >= 0;
            if (as) return check_plan(s, s->acl, sql, false, NULL, err);
        }
        return true;
    }
    if (lex_is(&t, "DROP")) {
        t = lex_next(&l);
        char kind[16];
        read_kind(&l, &t, kind);
        if (!strcmp(kind, "schema")) {
            qname_t q;
            if (!read_qname(&l, &t, &q)) return true;
            if (!su) {
                deny(err, NULL, NULL, NULL, "permission denied to drop schema %s", q.name);
                return false;
            }
            set_ddl(st, 'D', "schema", q.name, "", NULL);
            return true;
        }
        for (;;) {
            qname_t q;
            if (!read_qname(&l, &t, &q)) break;
            if (!must_own(s, &q, "drop", err)) return false;
            char schema[128], name[128];
            bool temp = false;
            if (find_existing(s, &q, schema, sizeof schema, name, sizeof name, &temp) && !temp)
                set_ddl(st, 'D', kind, schema, name, NULL);
            if (t.type != TK_COMMA) break;
            t = lex_next(&l);
        }
        return true;
    }
    if (lex_is(&t, "ALTER")) {
        t = lex_next(&l);
        char kind[16];
        read_kind(&l, &t, kind); /* TABLE / VIEW / SEQUENCE */
        qname_t q;
        if (!read_qname(&l, &t, &q)) return true;
        if (!must_own(s, &q, "alter", err)) return false;
        /* RENAME TO new: grants and ownership follow */
        char schema[128], name[128];
        bool temp = false;
        if (lex_is(&t, "RENAME") && find_existing(s, &q, schema, sizeof schema, name, sizeof name, &temp) &&
            !temp) {
            lex_tok_t u = lex_next(&l);
            if (lex_is(&u, "TO")) {
                u = lex_next(&l);
                char *nn = lex_value(&u);
                set_ddl(st, 'R', "table", schema, name, nn);
                free(nn);
            } else {
                /* RENAME [COLUMN] a TO b: lineage follows (ddl_column is a) */
                if (lex_is(&u, "COLUMN")) u = lex_next(&l);
                lex_tok_t to = lex_next(&l), nt = lex_next(&l);
                if ((u.type == TK_IDENT || u.type == TK_QIDENT) && lex_is(&to, "TO") &&
                    (nt.type == TK_IDENT || nt.type == TK_QIDENT)) {
                    char *from = lex_value(&u), *nn = lex_value(&nt);
                    set_ddl(st, 'K', "column", schema, name, nn);
                    st->ddl_column = from;
                    free(nn);
                }
            }
        }
        return true;
    }
    if (lex_is(&t, "COMMENT")) {
        t = lex_next(&l); /* ON */
        t = lex_next(&l);
        bool column = lex_is(&t, "COLUMN");
        t = lex_next(&l);
        qname_t q;
        lex_t save = l;
        UNUSED(save);
        if (!read_qname(&l, &t, &q)) return true;
        if (column) {
            /* s.t.c or t.c: the table is the part before the column */
            char *dot = NULL;
            qname_t tq = q;
            UNUSED(dot);
            if (q.qualified) {
                snprintf(tq.name, sizeof tq.name, "%s", q.schema);
                tq.qualified = false;
                tq.schema[0] = '\0';
            }
            return must_own(s, &tq, "comment on", err);
        }
        return must_own(s, &q, "comment on", err);
    }
    if (lex_is(&t, "TRUNCATE")) {
        t = lex_next(&l);
        if (lex_is(&t, "TABLE")) t = lex_next(&l);
        qname_t q;
        if (!read_qname(&l, &t, &q)) return true;
        char schema[128];
        bool temp = false;
        if (!find_existing(s, &q, schema, sizeof schema, NULL, 0, &temp) || temp) return true;
        if (!pol_allows(s->acl, POL_DELETE, schema, q.name, NULL, NULL, 0)) {
            deny(err, "%s lacks DELETE on %s", s->acl->user, q.name, "permission denied for table %s.%s",
                 schema, q.name);
            return false;
        }
        return true;
    }
    return true; /* ANALYZE, VACUUM */
}

/* ---- entry points ---- */

static bool load_acl(sess_t *s, gate_err_t *err)
{
    if (s->acl && s->acl->version == pol_version()) return true;
    pol_acl_free(s->acl);
    s->acl = pol_acl_load(s->srv->meta, s->user);
    if (!s->acl) {
        gate_err_set(err, "28000", "role \"%s\" does not exist any more", s->user);
        return false;
    }
    return true;
}

static void visible_row(buf_t *ins, const char *schema, const char *table, const char *column)
{
    buf_append_str(ins, ", (");
    lex_put_literal(ins, schema);
    buf_append_str(ins, ", ");
    lex_put_literal(ins, table);
    buf_append_str(ins, ", ");
    lex_put_literal(ins, column);
    buf_append_str(ins, ")");
}

bool authz_refresh(sess_t *s, gate_err_t *err)
{
    if (!load_acl(s, err)) return false;
    uint64_t v = authz_version();
    /* the visibility table exists once the catalog part of the shim is installed */
    if (s->visible_version == v || s->acl->superuser || !s->shim_lazy_done) {
        s->visible_version = v;
        return true;
    }
    /* the relations this user may read something of, for the catalog views */
    duckdb_result r;
    duckdb_prepared_statement cols = NULL; /* a table's columns, for column grants */
    buf_t ins;
    buf_init(&ins, 1024);
    buf_append_str(
        &ins,
        "DELETE FROM temp.main.madang_visible; INSERT INTO temp.main.madang_visible VALUES ('', '', '')");
    if (duckdb_query(s->conn,
                     "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary AND "
                     "database_name NOT IN ('temp','system') "
                     "UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE NOT temporary AND "
                     "NOT internal "
                     "AND database_name NOT IN ('temp','system')",
                     &r) == DuckDBSuccess) {
        for (idx_t i = 0; i < duckdb_row_count(&r); i++) {
            char *sc = duckdb_value_varchar(&r, 0, i), *tb = duckdb_value_varchar(&r, 1, i);
            if (pol_sees_column(s->acl, sc, tb, NULL)) {
                visible_row(&ins, sc, tb, ""); /* every column */
            } else if (pol_sees(s->acl, sc, tb)) {
                /* only the columns a column grant reaches */
                duckdb_result cr;
                if (!cols) {
                    if (duckdb_prepare(s->conn,
                                       "SELECT column_name FROM duckdb_columns() WHERE NOT internal AND "
                                       "database_name NOT IN ('temp','system') AND schema_name = $1 AND "
                                       "table_name = $2",
                                       &cols) != DuckDBSuccess)
                        duckdb_destroy_prepare(&cols);
                }
                if (cols && duckdb_bind_varchar(cols, 1, sc) == DuckDBSuccess &&
                    duckdb_bind_varchar(cols, 2, tb) == DuckDBSuccess &&
                    duckdb_execute_prepared(cols, &cr) == DuckDBSuccess) {
                    for (idx_t k = 0; k < duckdb_row_count(&cr); k++) {
                        char *col = duckdb_value_varchar(&cr, 0, k);
                        if (col && pol_sees_column(s->acl, sc, tb, col)) visible_row(&ins, sc, tb, col);
                        duckdb_free(col);
                    }
                    duckdb_destroy_result(&cr);
                }
            }
            duckdb_free(sc);
            duckdb_free(tb);
        }
    }
    duckdb_destroy_result(&r);
    if (cols) duckdb_destroy_prepare(&cols);
    char e[256];
    bool ok = eng_exec_internal(s->conn, buf_cstr(&ins), e, sizeof e);
    buf_free(&ins);
    if (!ok) log_event(LOG_WARN, "visibility_refresh_failed", "user=\"%s\" error=\"%s\"", s->user, e);
    s->visible_version = v;
    return true;
}

/* The statement with its literals replaced by '?' and comments dropped: two
 * statements of the same shape read and write the same tables and columns,
 * so an allowed decision for one holds for the other. Not where a literal
 * chooses columns: positional references (#2), COLUMNS('regex') and
 * "* LIKE 'pattern'" — those statements are keyed by their exact text. */
static char *statement_shape(const char *sql)
{
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    buf_t b;
    buf_init(&b, strlen(sql) + 16);
    lex_tok_t prev = {TK_EOF, NULL, 0, 0};
    for (lex_tok_t t = lex_next(&l); t.type != TK_EOF; t = lex_next(&l)) {
        if (t.type == TK_ERROR) goto exact;
        if (t.type == TK_OP && t.len >= 1 && t.p[0] == '#') goto exact;
        if (lex_is(&t, "COLUMNS")) goto exact;
        if (prev.type == TK_OP && prev.len == 1 && prev.p[0] == '*' &&
            (lex_is(&t, "LIKE") || lex_is(&t, "ILIKE") || lex_is(&t, "SIMILAR") || lex_is(&t, "GLOB") ||
             lex_is(&t, "NOT")))
            goto exact;
        if (b.len) buf_putc(&b, ' ');
        if (t.type == TK_STRING || t.type == TK_NUMBER)
            buf_putc(&b, '?');
        else
            buf_append(&b, t.p, t.len);
        prev = t;
    }
    buf_cstr(&b);
    return b.data;
exact:
    buf_free(&b);
    return xstrdup(sql);
}

/* Table functions that read a table named by a string argument: the engine
 * expands them while binding, so the plan shows only the table's scan, and a
 * decision cached for one statement shape would cover every table name. They
 * are refused by name, before any plan is made. */
static const char *const string_named_readers[] = {"query", "query_table"};

static const char *names_string_reader(const char *sql)
{
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    lex_tok_t prev = {TK_EOF, NULL, 0, 0};
    for (lex_tok_t t = lex_next(&l); t.type != TK_EOF && t.type != TK_ERROR; t = lex_next(&l)) {
        if (t.type == TK_LPAREN && (prev.type == TK_IDENT || prev.type == TK_QIDENT)) {
            char *v = lex_value(&prev);
            for (size_t i = 0; i < ARRAY_LEN(string_named_readers); i++)
                if (!strcasecmp(v, string_named_readers[i])) {
                    free(v);
                    return string_named_readers[i];
                }
            free(v);
        }
        prev = t;
    }
    return NULL;
}

/* The statement's shape for its fingerprint, as pg_stat_statements groups
 * statements: keywords and unquoted names in lower case, whitespace and
 * comments gone, every constant and parameter (a signed number too) a '?',
 * and a list of constants — IN (1, 2, 3) — one '?' (as PostgreSQL 18
 * squashes them). Not the shape authorization caches decisions on. */
static char *fingerprint_shape(const char *sql)
{
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    buf_t b;
    buf_init(&b, strlen(sql) + 16);
    lex_tok_t prev = {TK_EOF, NULL, 0, 0};
    for (lex_tok_t t = lex_next(&l); t.type != TK_EOF; t = lex_next(&l)) {
        if (t.type == TK_ERROR) {
            buf_free(&b);
            return xstrdup(sql);
        }
        bool constant = t.type == TK_STRING || t.type == TK_NUMBER || t.type == TK_PARAM;
        /* a sign before a number, where a value starts (not a subtraction):
         * "-7" after an operator, "(", "," or a keyword; "=-7" (one operator
         * run ending in the sign) anywhere */
        if (t.type == TK_OP && (t.p[t.len - 1] == '-' || t.p[t.len - 1] == '+') &&
            (t.len > 1 || prev.type == TK_EOF || prev.type == TK_OP || prev.type == TK_LPAREN ||
             prev.type == TK_COMMA ||
             (prev.type == TK_IDENT &&
              (lex_is(&prev, "SELECT") || lex_is(&prev, "WHERE") || lex_is(&prev, "AND") ||
               lex_is(&prev, "OR") || lex_is(&prev, "THEN") || lex_is(&prev, "ELSE") ||
               lex_is(&prev, "WHEN") || lex_is(&prev, "VALUES") || lex_is(&prev, "BETWEEN"))))) {
            lex_t peek = l;
            lex_tok_t n = lex_next(&peek);
            if (n.type == TK_NUMBER) {
                if (t.len > 1) { /* the operator before the sign */
                    if (b.len) buf_putc(&b, ' ');
                    buf_append(&b, t.p, t.len - 1);
                }
                l = peek;
                t = n;
                constant = true;
            }
        }
        /* "main"."pub" is main.pub */
        if (t.type == TK_QIDENT && t.len > 2) {
            bool plain = !isdigit((unsigned char)t.p[1]);
            for (size_t i = 1; i + 1 < t.len && plain; i++)
                plain = (t.p[i] >= 'a' && t.p[i] <= 'z') || (t.p[i] >= '0' && t.p[i] <= '9') || t.p[i] == '_';
            if (plain) {
                if (b.len) buf_putc(&b, ' ');
                buf_append(&b, t.p + 1, t.len - 2);
                prev = t;
                continue;
            }
        }
        if (constant) {
            /* "?, ?" in a list is one "?" */
            if (prev.type == TK_COMMA && b.len >= 3 && !memcmp(b.data + b.len - 3, "? ,", 3)) {
                b.len -= 2;
                prev = t;
                continue;
            }
            if (b.len) buf_putc(&b, ' ');
            buf_putc(&b, '?');
        } else {
            if (b.len) buf_putc(&b, ' ');
            size_t at = b.len;
            buf_append(&b, t.p, t.len);
            if (t.type == TK_IDENT)
                for (size_t i = at; i < b.len; i++) b.data[i] = (char)tolower((unsigned char)b.data[i]);
        }
        prev = t;
    }
    buf_cstr(&b);
    return b.data;
}

char *authz_fingerprint(const char *sql)
{
    char *shape = fingerprint_shape(sql);
    unsigned char d[32];
    unsigned int n = 0;
    EVP_Digest(shape, strlen(shape), d, &n, EVP_sha256(), NULL);
    free(shape);
    char *h = xmalloc(33);
    for (int i = 0; i < 16; i++) snprintf(h + 2 * i, 3, "%02x", d[i]);
    return h;
}

bool authz_check(sess_t *s, gate_stmt_t *st, gate_err_t *err)
{
    if (!authz_refresh(s, err)) return false;
    st->authz_version = authz_version();
    st->ddl_op = 0;
    const char *reader = s->acl->superuser ? NULL : names_string_reader(st->sql);
    if (reader) {
        deny(err, "the table function %s%s is not on madang's allow-list", reader, "",
             "permission denied for table function %s", reader);
        snprintf(err->hint, sizeof err->hint, "name the table in FROM");
        return false;
    }
    /* DDL has bookkeeping to derive each time; everything else may be cached */
    bool cacheable = st->kind != MET_KIND_DDL && !s->acl->superuser;
    /* a decision holds for one statement shape, one user and one search path */
    char *shape = cacheable ? statement_shape(st->sql) : NULL;
    char *key = cacheable ? xasprintf("%s\x01%s\x01%s", s->user, s->default_schema, shape) : NULL;
    free(shape);
    if (cacheable && cache_hit(s, key)) {
        free(key);
        return true;
    }
    bool ok;
    /* EXPLAIN q is authorized as q (EXPLAIN ANALYZE never reaches here) */
    const char *body = st->sql;
    {
        lex_t l;
        lex_init(&l, body, strlen(body));
        lex_tok_t t = lex_next(&l);
        if (lex_is(&t, "EXPLAIN")) body = st->sql + l.pos;
    }
    switch (st->kind) {
    case MET_KIND_SELECT:
        ok = s->acl->superuser || check_select(s, s->acl, body, 0, err);
        break;
    case MET_KIND_INSERT:
    case MET_KIND_UPDATE:
    case MET_KIND_DELETE:
        ok = s->acl->superuser || check_plan(s, s->acl, st->sql, false, NULL, err);
        break;
    case MET_KIND_DDL:
        ok = check_ddl(s, st, err);
        break;
    default:
        ok = s->acl->superuser;
        break;
    }
    if (ok && cacheable) cache_put(s, key);
    free(key);
    if (!ok && !err->sqlstate[0]) gate_err_set(err, "42501", "permission denied");
    if (!ok)
        log_event(LOG_INFO, "access_denied", "user=\"%s\" sqlstate=%s reason=\"%.200s\"", s->user,
                  err->sqlstate, err->message);
    return ok;
}

void authz_after_success(sess_t *s, gate_stmt_t *st)
{
    if (st->kind != MET_KIND_DDL) return;
    authz_catalog_changed();
    if (!st->ddl_op) return;
    meta_t *m = s->srv->meta;
    bool ok = true;
    switch (st->ddl_op) {
    case 'C':
        ok = pol_set_owner(m, st->ddl_kind, st->ddl_schema, st->ddl_name, s->user);
        break;
    case 'D':
        ok = pol_forget_object(m, st->ddl_schema, st->ddl_name);
        break;
    case 'R':
        ok = pol_rename_object(m, st->ddl_schema, st->ddl_name, st->ddl_new_name);
        break;
    default:
        break;
    }
    if (!ok) log_event(LOG_WARN, "ownership_update_failed", "object=\"%s.%s\"", st->ddl_schema, st->ddl_name);
}

void authz_note_shim_objects(sess_t *s)
{
    UNUSED(s); /* the names are known server-wide: gate_shim_object() */
}

int authz_explain(meta_t *m, const char *user, const char *schema, const char *table,
                  authz_explain_row_t out[5])
{
    pol_acl_t *a = pol_acl_load(m, user);
    static const pol_priv_t privs[] = {POL_SELECT, POL_INSERT, POL_UPDATE, POL_DELETE};
    int n = 0;
    for (size_t i = 0; i < ARRAY_LEN(privs); i++) {
        out[n].privilege = pol_priv_name(privs[i]);
        out[n].via[0] = '\0';
        if (!a) {
            out[n].allowed = false;
            snprintf(out[n].via, sizeof out[n].via, "no such user");
        } else {
            out[n].allowed = pol_allows(a, privs[i], schema, table, NULL, out[n].via, sizeof out[n].via);
            if (!out[n].allowed) {
                /* column grants: list them */
                buf_t b;
                buf_init(&b, 64);
                for (int g = 0; g < a->ngrants; g++) {
                    pol_grant_t *gr = &a->grants[g];
                    if ((gr->privs & (int)privs[i]) && !strcmp(gr->schema, schema) &&
                        !strcmp(gr->table, table) && gr->column[0]) {
                        buf_printf(&b, "%s%s (%s)", b.len ? "; " : "columns: ", gr->column, gr->via);
                    }
                }
                snprintf(out[n].via, sizeof out[n].via, "%s", b.len ? buf_cstr(&b) : "no grant");
                buf_free(&b);
            }
        }
        n++;
    }
    pol_acl_free(a);
    return n;
}

/* ---- what a statement reads and writes, for the audit ---- */

typedef struct {
    json_t *list; /* [{object, access, columns[]}] */
} objs_t;

static json_t *obj_entry(objs_t *o, const char *object, const char *access)
{
    size_t i;
    json_t *e;
    json_array_foreach(o->list, i, e)
    {
        if (!strcmp(authz_jstr(e, "object"), object) && !strcmp(authz_jstr(e, "access"), access)) return e;
    }
    e = json_pack("{s:s,s:s,s:[]}", "object", object, "access", access, "columns");
    json_array_append_new(o->list, e);
    return e;
}

static void add_column(json_t *e, const char *col)
{
    json_t *cols = json_object_get(e, "columns");
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c) if (!strcmp(json_string_value(c), col)) return;
    json_array_append_new(cols, json_string(col));
}

/* The name of the target's column i (a write's table_info / a CTAS's info). */
static const char *target_column(json_t *ti, unsigned long long i)
{
    return json_string_value(json_object_get(
        json_array_get(json_object_get(json_object_get(ti, "columns"), "columns"), (size_t)i), "name"));
}

/* The target's columns an INSERT fills: column_index_map names, for each of
 * the ncols columns, the expression that fills it, or INVALID_INDEX (read as
 * a real, 1.8e19: the column gets its default); no map: every column. */
static void mapped_columns(json_t *e, json_t *ti, size_t ncols, json_t *map)
{
    map = json_object_get(map, "internal_vector");
    for (size_t i = 0; i < ncols; i++)
        if ((!json_array_size(map) || authz_jidx(json_array_get(map, i)) >= 0) && target_column(ti, i))
            add_column(e, target_column(ti, i));
}

/* The target's columns listed by index (an UPDATE's SET columns). */
static void indexed_columns(json_t *e, json_t *ti, json_t *idxs)
{
    size_t i;
    json_t *c;
    json_array_foreach(idxs, i, c)
    {
        long long idx = authz_jidx(c);
        if (idx >= 0 && target_column(ti, (unsigned long long)idx))
            add_column(e, target_column(ti, (unsigned long long)idx));
    }
}

/* The columns a write writes: an INSERT's (its column list, or all), an
 * UPDATE's SET columns, a MERGE's updated and inserted ones, a CTAS's all;
 * a DELETE removes whole rows (no columns). */
static void write_columns(json_t *e, json_t *n, json_t *ti, const char *type)
{
    size_t ncols = json_array_size(json_object_get(json_object_get(ti, "columns"), "columns"));
    if (!strcmp(type, "LOGICAL_CREATE_TABLE")) {
        mapped_columns(e, ti, ncols, NULL);
    } else if (!strcmp(type, "LOGICAL_INSERT")) {
        mapped_columns(e, ti, ncols, json_object_get(n, "column_index_map"));
    } else if (!strcmp(type, "LOGICAL_UPDATE")) {
        indexed_columns(e, ti, json_object_get(n, "columns"));
    } else if (!strcmp(type, "LOGICAL_MERGE_INTO")) {
        size_t i, j;
        json_t *a, *act;
        json_array_foreach(json_object_get(n, "actions"), i, a)
            json_array_foreach(json_object_get(a, "value"), j, act)
        {
            const char *at = authz_jstr(act, "action_type");
            if (!strcmp(at, "MERGE_UPDATE"))
                indexed_columns(e, ti, json_object_get(act, "columns"));
            else if (!strcmp(at, "MERGE_INSERT"))
                mapped_columns(e, ti, ncols, json_object_get(act, "column_index_map"));
        }
    }
}

static void objs_walk(objs_t *o, json_t *n)
{
    if (json_is_array(n)) {
        size_t i;
        json_t *v;
        json_array_foreach(n, i, v) objs_walk(o, v);
        return;
    }
    if (!json_is_object(n)) return;
    const char *type = json_string_value(json_object_get(n, "type"));
    if (type && !strcmp(type, "LOGICAL_GET") && !strcmp(authz_jstr(n, "name"), "seq_scan")) {
        json_t *fd = json_object_get(n, "function_data");
        const char *cat = authz_jstr(fd, "catalog");
        if (strcmp(cat, "temp") && strcmp(cat, "system")) {
            char *obj = xasprintf("%s.%s", authz_jstr(fd, "schema"), authz_jstr(fd, "table"));
            json_t *e = obj_entry(o, obj, "read");
            free(obj);
            json_t *names = json_object_get(n, "names");
            size_t i;
            json_t *ci;
            json_array_foreach(json_object_get(n, "column_indexes"), i, ci)
            {
                long long idx = authz_jidx(json_object_get(ci, "index"));
                const char *col = idx >= 0 ? json_string_value(json_array_get(names, (size_t)idx)) : NULL;
                if (col) add_column(e, col);
            }
        }
    } else if (type && (!strcmp(type, "LOGICAL_INSERT") || !strcmp(type, "LOGICAL_UPDATE") ||
                        !strcmp(type, "LOGICAL_DELETE") || !strcmp(type, "LOGICAL_MERGE_INTO") ||
                        !strcmp(type, "LOGICAL_CREATE_TABLE"))) {
        bool ctas = !strcmp(type, "LOGICAL_CREATE_TABLE");
        json_t *ti = json_object_get(n, ctas ? "info" : "table_info");
        if (!ti) ti = json_object_get(n, "table");
        const char *cat = authz_jstr(ti, "catalog");
        if (authz_jstr(ti, "table")[0] && strcmp(cat, "temp") && strcmp(cat, "system")) {
            char *obj = xasprintf("%s.%s", authz_jstr(ti, "schema")[0] ? authz_jstr(ti, "schema") : "main",
                                  authz_jstr(ti, "table"));
            const char *acc = !strcmp(type, "LOGICAL_INSERT")   ? "insert"
                              : !strcmp(type, "LOGICAL_UPDATE") ? "update"
                              : !strcmp(type, "LOGICAL_DELETE") ? "delete"
                              : ctas                            ? "create"
                                                                : "merge";
            json_t *e = obj_entry(o, obj, acc);
            free(obj);
            write_columns(e, n, ti, type);
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(n, k, v) objs_walk(o, v);
}

char *authz_objects(sess_t *s, const char *sql)
{
    struct authz_state *a = az(s);
    char *key = statement_shape(sql);
    const char *hit = strcache_get(&a->objects, authz_version(), key);
    if (hit) {
        free(key);
        return xstrdup(hit);
    }
    gate_err_t err;
    json_t *plan = authz_serialize(s, "json_serialize_plan", sql, &err);
    objs_t o = {json_array()};
    if (plan) objs_walk(&o, json_object_get(plan, "plans"));
    json_decref(plan);
    /* the columns a read uses: the bound plan reads every column of a view it
     * expands; the optimized plan only what the statement uses (its filters
     * too). Which tables: the bound plan's (the optimizer may drop a scan it
     * knows to be empty); their columns: the optimized plan's where it scans. */
    json_t *opt = serialize(s, "json_serialize_plan", sql, true, &err);
    if (opt) {
        objs_t p = {json_array()};
        objs_walk(&p, json_object_get(opt, "plans"));
        size_t i, j;
        json_t *e, *f;
        json_array_foreach(o.list, i, e)
        {
            if (strcmp(authz_jstr(e, "access"), "read")) continue;
            json_array_foreach(p.list, j, f)
            {
                if (!strcmp(authz_jstr(f, "access"), "read") &&
                    !strcmp(authz_jstr(f, "object"), authz_jstr(e, "object")))
                    json_object_set(e, "columns", json_object_get(f, "columns"));
            }
        }
        json_decref(p.list);
        json_decref(opt);
    }
    char *out = json_dumps(o.list, JSON_COMPACT);
    json_decref(o.list);
    strcache_put(&a->objects, authz_version(), key, out, 8192);
    free(key);
    return out;
}

char *authz_direct_objects(sess_t *s, const char *sql)
{
    struct authz_state *a = az(s);
    char *key = statement_shape(sql);
    const char *hit = strcache_get(&a->direct, authz_version(), key);
    if (hit) {
        free(key);
        return xstrdup(hit);
    }
    gate_err_t err;
    json_t *tree = authz_serialize(s, "json_serialize_sql", sql, &err);
    json_t *list = json_array();
    if (tree) {
        named_t n = {0};
        authz_collect_named(&n, tree);
        json_decref(tree);
        for (int i = 0; i < n.nrefs; i++) {
            ref_t *r = &n.refs[i];
            if (authz_is_cte(&n, r->name) && !r->schema[0]) continue;
            rel_t v;
            rel_kind_t k = authz_resolve(s, r, &v);
            free(v.sql);
            if (k != REL_TABLE && k != REL_VIEW && k != REL_SHIM && k != REL_SYSTEM_VIEW) continue;
            char *obj = xasprintf("%s.%s", v.schema, v.name);
            bool seen = false;
            size_t j;
            json_t *e;
            json_array_foreach(list, j, e) seen |= !strcmp(authz_jstr(e, "object"), obj);
            if (!seen)
                json_array_append_new(
                    list, json_pack("{s:s,s:s}", "object", obj, "kind", k == REL_TABLE ? "table" : "view"));
            free(obj);
        }
        authz_named_free(&n);
    }
    char *out = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    strcache_put(&a->direct, authz_version(), key, out, 8192);
    free(key);
    return out;
}
