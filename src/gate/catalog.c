/* catalog.c — madang.tables and madang.columns: the warehouse's tables and
 * views with their owners, comments, tags, masks and row policies, as each
 * caller may see them (catalog.h).
 *
 * What a caller sees follows PostgreSQL's information_schema: a table or view
 * they own or hold any privilege on (SELECT, INSERT, UPDATE, DELETE, on the
 * table, its schema or one of its columns), and of its columns those a
 * privilege reaches. Superusers and members of the group `auditors` see
 * everything. The names, types and comments come from the engine's own
 * catalog (duckdb_tables, duckdb_views, duckdb_columns), read on a
 * connection of the function's own (the caller's is busy binding), so they
 * cannot disagree with what runs; owners, tags, masks and row policies from
 * meta.db. The HTTP catalog (GET /api/v1/catalog/search, /api/v1/tables/…)
 * reads these views through the gate. */
#include "gate/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "gate/sysviews.h"
#include "policy/acl.h"
#include "policy/rls.h"

static server_t *g_srv;

/* Tags travel joined by the unit separator (a tag name may hold a comma). */
#define TAG_SEP     '\x1f'
#define TAG_SEP_SQL "chr(31)"

typedef struct {
    pol_acl_t *acl;
    bool all; /* superuser or auditor */
    rls_set_t *rls;
    duckdb_connection c;
} viewer_t;

static bool viewer_open(viewer_t *v, const char *user, bool su, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    v->acl = g_srv && g_srv->meta ? pol_acl_load(g_srv->meta, user) : NULL;
    v->rls = g_srv && g_srv->meta ? rls_load(g_srv->meta) : NULL;
    v->c = g_srv && g_srv->eng ? eng_connect(g_srv->eng) : NULL;
    if (!v->acl || !v->rls || !v->c) {
        snprintf(err, errlen, "could not read the catalog");
        return false;
    }
    v->all = su || v->acl->superuser || pol_in_group(v->acl, "auditors");
    return true;
}

static void viewer_close(viewer_t *v)
{
    pol_acl_free(v->acl);
    rls_free(v->rls);
    eng_disconnect(&v->c);
}

static bool sees_table(const viewer_t *v, const char *schema, const char *table)
{
    return v->all || pol_sees(v->acl, schema, table);
}

static bool sees_column(const viewer_t *v, const char *schema, const char *table, const char *column)
{
    return v->all || pol_sees_column(v->acl, schema, table, column);
}

/* The tags on a column (column == NULL: on any column of the table the viewer
 * may see), separated by TAG_SEP in tag order without repeats, or NULL. Heap
 * string. */
static char *tags_of(const viewer_t *v, const char *schema, const char *table, const char *column)
{
    buf_t b;
    buf_init(&b, 64);
    const char *last = NULL;
    for (int i = 0; i < v->rls->ncoltag; i++) { /* ordered by tag name */
        const rls_colref_t *e = &v->rls->coltag[i];
        if (strcmp(e->schema, schema) || strcmp(e->table, table)) continue;
        if (column ? strcmp(e->column, column) != 0 : !sees_column(v, schema, table, e->column)) continue;
        if (last && !strcmp(last, e->value)) continue;
        if (b.len) buf_putc(&b, TAG_SEP);
        buf_append_str(&b, e->value);
        last = e->value;
    }
    if (!b.len) {
        buf_free(&b);
        return NULL;
    }
    buf_cstr(&b);
    return b.data;
}

/* How many columns of schema.table the viewer may see (a column grant). */
static int visible_columns(viewer_t *v, const char *schema, const char *table)
{
    duckdb_prepared_statement ps;
    duckdb_result r;
    int n = 0;
    if (duckdb_prepare(
            v->c,
            "SELECT column_name FROM duckdb_columns() WHERE database_name NOT IN ('temp', 'system') "
            "AND schema_name = $1 AND table_name = $2",
            &ps) == DuckDBSuccess &&
        duckdb_bind_varchar(ps, 1, schema) == DuckDBSuccess &&
        duckdb_bind_varchar(ps, 2, table) == DuckDBSuccess &&
        duckdb_execute_prepared(ps, &r) == DuckDBSuccess) {
        for (idx_t i = 0; i < duckdb_row_count(&r); i++) {
            char *col = duckdb_value_varchar(&r, 0, i);
            if (col && sees_column(v, schema, table, col)) n++;
            duckdb_free(col);
        }
        duckdb_destroy_result(&r);
    }
    duckdb_destroy_prepare(&ps);
    return n;
}

/* Row i's first n cells as text (NULL: SQL NULL); free with free_cells. */
static void get_cells(duckdb_result *r, idx_t i, int n, char **cell)
{
    for (int k = 0; k < n; k++)
        cell[k] = duckdb_value_is_null(r, (idx_t)k, i) ? NULL : duckdb_value_varchar(r, (idx_t)k, i);
}

static void free_cells(int n, char **cell)
{
    for (int k = 0; k < n; k++) duckdb_free(cell[k]);
}

/* Runs an engine catalog query; false (with err) when it fails. */
static bool catalog_query(viewer_t *v, const char *sql, duckdb_result *r, char *err, size_t errlen)
{
    if (duckdb_query(v->c, sql, r) == DuckDBSuccess) return true;
    snprintf(err, errlen, "could not read the catalog: %s", duckdb_result_error(r));
    duckdb_destroy_result(r);
    return false;
}

#define WAREHOUSE_OBJECTS                                                                                    \
    "database_name NOT IN ('temp', 'system') AND NOT internal AND schema_name NOT IN "                       \
    "('madang', 'pg_catalog', 'information_schema')"

/* Opens the viewer and runs an engine catalog query for it; on failure
 * (err set) nothing is left open. */
static bool open_and_query(viewer_t *v, const char *user, bool su, const char *sql, duckdb_result *r,
                           char *err, size_t errlen)
{
    if (viewer_open(v, user, su, err, errlen) && catalog_query(v, sql, r, err, errlen)) return true;
    viewer_close(v);
    return false;
}

static bool tables_fill(const char *user, bool su, const char **args, sys_rows_t *out, char *err,
                        size_t errlen)
{
    UNUSED(args);
    viewer_t v;
    duckdb_result r;
    if (!open_and_query(&v, user, su,
                        "SELECT schema_name, table_name, 'table', comment, column_count::VARCHAR, "
                        "estimated_size::VARCHAR FROM duckdb_tables() WHERE " WAREHOUSE_OBJECTS
                        " UNION ALL SELECT schema_name, view_name, 'view', comment, column_count::VARCHAR, "
                        "NULL FROM duckdb_views() WHERE " WAREHOUSE_OBJECTS " ORDER BY 1, 2",
                        &r, err, errlen))
        return false;
    for (idx_t i = 0; i < duckdb_row_count(&r); i++) {
        char *cell[6];
        get_cells(&r, i, 6, cell);
        if (cell[0] && cell[1] && sees_table(&v, cell[0], cell[1])) {
            char *owner = pol_owner_of(g_srv->meta, cell[0], cell[1]);
            char *tags = tags_of(&v, cell[0], cell[1], NULL);
            /* the whole table, or a column grant's columns: their count, their tags */
            bool whole = sees_column(&v, cell[0], cell[1], NULL);
            char count[24];
            if (!whole) snprintf(count, sizeof count, "%d", visible_columns(&v, cell[0], cell[1]));
            bool filtered = rls_has_row_policies(v.rls, cell[0], cell[1]);
            /* the row count of a filtered table would tell what the filter hides */
            const char *rows = filtered && !v.all && !pol_owns(v.acl, cell[0], cell[1]) ? NULL : cell[5];
            const char *row[9] = {cell[0],
                                  cell[1],
                                  cell[2],
                                  owner ? owner : "admin",
                                  cell[3],
                                  whole ? cell[4] : count,
                                  rows,
                                  tags,
                                  filtered ? "true" : "false"};
            sys_rows_add(out, 9, row);
            free(owner);
            free(tags);
        }
        free_cells(6, cell);
    }
    duckdb_destroy_result(&r);
    viewer_close(&v);
    return true;
}

static bool columns_fill(const char *user, bool su, const char **args, sys_rows_t *out, char *err,
                         size_t errlen)
{
    UNUSED(args);
    viewer_t v;
    duckdb_result r;
    if (!open_and_query(&v, user, su,
                        "SELECT schema_name, table_name, column_name, (column_index)::VARCHAR, data_type, "
                        "CASE WHEN is_nullable THEN 'true' ELSE 'false' END, comment FROM duckdb_columns() "
                        "WHERE " WAREHOUSE_OBJECTS " ORDER BY schema_name, table_name, column_index",
                        &r, err, errlen))
        return false;
    for (idx_t i = 0; i < duckdb_row_count(&r); i++) {
        char *cell[7];
        get_cells(&r, i, 7, cell);
        if (cell[0] && cell[1] && cell[2] && sees_column(&v, cell[0], cell[1], cell[2])) {
            char via[160] = "";
            const rls_mask_t *m =
                rls_column_mask(v.rls, cell[0], cell[1], cell[2], cell[4] ? cell[4] : "", via, sizeof via);
            char *tags = tags_of(&v, cell[0], cell[1], cell[2]);
            const char *row[10] = {
                cell[0],       cell[1], cell[2], cell[3], cell[4], cell[5], cell[6], tags, m ? m->name : NULL,
                m ? via : NULL};
            sys_rows_add(out, 10, row);
            free(tags);
        }
        free_cells(7, cell);
    }
    duckdb_destroy_result(&r);
    viewer_close(&v);
    return true;
}

static const sys_fn_t fns[] = {
    {"madang_tables",
     {"schema_name", "table_name", "table_kind", "owner", "comment", "column_count", "estimated_rows", "tags",
      "has_row_policy", NULL},
     0,
     {0},
     tables_fill},
    {"madang_columns",
     {"schema_name", "table_name", "column_name", "ordinal_position", "data_type", "is_nullable", "comment",
      "tags", "masking_policy", "masked_via", NULL},
     0,
     {0},
     columns_fill},
};

#define TAG_LIST                                                                                             \
    "CASE WHEN tags IS NULL THEN []::VARCHAR[] ELSE string_split(tags, " TAG_SEP_SQL ") END AS tags"

static const char *views_sql[] = {
    "CREATE OR REPLACE VIEW madang.tables AS SELECT schema_name, table_name, table_kind, owner, comment, "
    "CAST(column_count AS BIGINT) AS column_count, CAST(estimated_rows AS BIGINT) AS "
    "estimated_rows, " TAG_LIST ", CAST(has_row_policy AS BOOLEAN) AS has_row_policy FROM madang_tables()",
    "CREATE OR REPLACE VIEW madang.columns AS SELECT schema_name, table_name, column_name, "
    "CAST(ordinal_position AS INTEGER) AS ordinal_position, data_type, CAST(is_nullable AS BOOLEAN) AS "
    "is_nullable, comment, " TAG_LIST ", masking_policy, masked_via FROM madang_columns()",
};

bool catalog_setup(server_t *srv, duckdb_connection c, char *err, size_t errlen)
{
    g_srv = srv;
    return sysviews_setup(c, fns, ARRAY_LEN(fns), views_sql, ARRAY_LEN(views_sql), err, errlen);
}
