/* query.c — reading lineage: the madang.lineage_* views and functions, the
 * walk up and down the graph (SQL and HTTP), and the OpenLineage export. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "gate/sysviews.h"
#include "lineage/lineage.h"
#include "policy/acl.h"

#define MAX_DEPTH 100

static server_t *g_srv;

/* ---- who sees what ---- */

struct lin_viewer {
    pol_acl_t *acl;
    bool all;
};

lin_viewer_t *lin_viewer_open(meta_t *m, const char *user)
{
    lin_viewer_t *v = xcalloc(1, sizeof *v);
    v->acl = pol_acl_load(m, user);
    v->all = v->acl && (v->acl->superuser || pol_in_group(v->acl, "auditors"));
    return v;
}

bool lin_viewer_sees(lin_viewer_t *v, const char *table)
{
    if (v->all || !strcmp(table, "stdin")) return true;
    if (!v->acl) return false;
    const char *dot = strchr(table, '.');
    if (!dot) return false;
    char schema[128];
    snprintf(schema, sizeof schema, "%.*s", (int)(dot - table), table);
    const char *name = dot + 1;
    return pol_sees(v->acl, schema, name);
}

void lin_viewer_close(lin_viewer_t *v)
{
    if (!v) return;
    pol_acl_free(v->acl);
    free(v);
}

/* ---- edges in memory ---- */

typedef struct {
    char *tt, *tc, *st, *sc, *type, *sub, *seq, *at, *current;
} row_t;

typedef struct {
    row_t *r;
    int n, cap;
    lin_viewer_t *v;
} rows_t;

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static bool add_edge_row(void *ctx, int n, const char **c)
{
    rows_t *rs = ctx;
    if (n < 9) return false;
    if (!lin_viewer_sees(rs->v, c[0]) || !lin_viewer_sees(rs->v, c[2])) return true;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 64;
        rs->r = xrealloc(rs->r, sizeof *rs->r * (size_t)rs->cap);
    }
    row_t *r = &rs->r[rs->n++];
    r->tt = dup_or_null(c[0]);
    r->tc = dup_or_null(c[1]);
    r->st = dup_or_null(c[2]);
    r->sc = dup_or_null(c[3]);
    r->type = dup_or_null(c[4]);
    r->sub = dup_or_null(c[5]);
    r->seq = dup_or_null(c[6]);
    r->at = dup_or_null(c[7]);
    r->current = dup_or_null(c[8]);
    return true;
}

static void rows_free(rows_t *rs)
{
    for (int i = 0; i < rs->n; i++) {
        row_t *r = &rs->r[i];
        free(r->tt);
        free(r->tc);
        free(r->st);
        free(r->sc);
        free(r->type);
        free(r->sub);
        free(r->seq);
        free(r->at);
        free(r->current);
    }
    free(rs->r);
}

#define EDGES_SQL                                                                                            \
    "SELECT e.target_table, e.target_column, e.source_table, e.source_column, e.type, e.subtype, "           \
    "r.statement_seq, r.ended_at, CASE WHEN r.current THEN 'true' ELSE 'false' END FROM lineage_edges e "    \
    "JOIN "                                                                                                  \
    "lineage_runs r ON r.id = e.run_id WHERE r.status = 'COMPLETE'"

static bool load_edges(meta_t *m, lin_viewer_t *v, bool current_only, rows_t *out)
{
    memset(out, 0, sizeof *out);
    out->v = v;
    return meta_query(
        m, current_only ? EDGES_SQL " AND r.current ORDER BY e.id" : EDGES_SQL " ORDER BY r.id, e.id", 0,
        NULL, add_edge_row, out);
}

/* ---- madang.lineage_edges ---- */

static bool edges_fill(const char *user, bool su, const char **args, sys_rows_t *out, char *err,
                       size_t errlen)
{
    UNUSED(su);
    UNUSED(args);
    lin_viewer_t *v = lin_viewer_open(g_srv->meta, user);
    rows_t rs;
    bool ok = load_edges(g_srv->meta, v, false, &rs);
    if (!ok) snprintf(err, errlen, "could not read madang's lineage");
    for (int i = 0; ok && i < rs.n; i++) {
        row_t *r = &rs.r[i];
        const char *c[9] = {r->tt, r->tc, r->st, r->sc, r->type, r->sub, r->seq, r->at, r->current};
        sys_rows_add(out, 9, c);
    }
    rows_free(&rs);
    lin_viewer_close(v);
    return ok;
}

/* ---- the walk ---- */

static char *node_id(const char *table, const char *column)
{
    return column ? xasprintf("%s.%s", table, column) : xstrdup(table);
}

static bool eq(const char *a, const char *b)
{
    return a ? b && !strcmp(a, b) : !b;
}

static int find_node(const lin_graph_t *g, const char *table, const char *column)
{
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].table, table) && eq(g->nodes[i].column, column)) return i;
    return -1;
}

/* from: the index of the node it was reached from, or -1 (the start). */
static int add_node(lin_graph_t *g, const char *table, const char *column, int depth, int from_index)
{
    g->nodes = xrealloc(g->nodes, sizeof *g->nodes * (size_t)(g->nnodes + 1));
    const lin_node_t *from = from_index >= 0 ? &g->nodes[from_index] : NULL;
    lin_node_t *n = &g->nodes[g->nnodes];
    n->table = xstrdup(table);
    n->column = dup_or_null(column);
    n->depth = depth;
    n->npath = from ? from->npath + 1 : 1;
    n->path = xcalloc((size_t)n->npath, sizeof *n->path);
    for (int i = 0; from && i < from->npath; i++) n->path[i] = xstrdup(from->path[i]);
    n->path[n->npath - 1] = node_id(table, column);
    return g->nnodes++;
}

static void add_gedge(lin_graph_t *g, const char *src, const char *dst, const char *type, const char *sub)
{
    for (int i = 0; i < g->nedges; i++) {
        lin_gedge_t *e = &g->edges[i];
        if (!strcmp(e->source, src) && !strcmp(e->target, dst) && eq(e->type, type) && eq(e->subtype, sub))
            return;
    }
    g->edges = xrealloc(g->edges, sizeof *g->edges * (size_t)(g->nedges + 1));
    lin_gedge_t *e = &g->edges[g->nedges++];
    e->source = xstrdup(src);
    e->target = xstrdup(dst);
    e->type = dup_or_null(type);
    e->subtype = dup_or_null(sub);
}

/* Splits "s.t" / "s.t.c" / "t"; false when it names neither. */
static bool parse_start(const char *start, char **table, char **column)
{
    const char *d1 = strchr(start, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d2 && strchr(d2 + 1, '.')) return false;
    if (!d1) {
        *table = xasprintf("main.%s", start);
        *column = NULL;
    } else if (!d2) {
        *table = xstrdup(start);
        *column = NULL;
    } else {
        *table = xstrndup(start, (size_t)(d2 - start));
        *column = xstrdup(d2 + 1);
    }
    return (*table)[0] && (*table)[strlen(*table) - 1] != '.';
}

/* One step from node (t, c): the neighbors and the edge rows that lead there. */
static bool step_matches(const row_t *r, const char *t, const char *c, bool up, bool columns)
{
    if (up) {
        if (strcmp(r->tt, t) != 0) return false;
        /* a table-wide edge shapes every column of the target */
        return !columns || !c || !r->tc || !strcmp(r->tc, c);
    }
    if (strcmp(r->st, t) != 0) return false;
    return !columns || !c || (r->sc && !strcmp(r->sc, c));
}

static void bfs(lin_graph_t *g, const rows_t *rs, const char *table, const char *column, bool up, int depth,
                bool columns)
{
    int root = find_node(g, table, column);
    if (root < 0) root = add_node(g, table, column, 0, -1);
    int *queue = xcalloc(1, sizeof *queue);
    int qh = 0, qt = 0;
    queue[qt++] = root;
    while (qh < qt) {
        int cur = queue[qh++];
        int d = g->nodes[cur].depth;
        if (d >= depth) continue;
        for (int i = 0; i < rs->n; i++) {
            const row_t *r = &rs->r[i];
            if (!step_matches(r, g->nodes[cur].table, g->nodes[cur].column, up, columns)) continue;
            const char *nt = up ? r->st : r->tt;
            const char *nc = columns ? (up ? r->sc : r->tc) : NULL;
            if (find_node(g, nt, nc) < 0) {
                int k = add_node(g, nt, nc, d + 1, cur);
                queue = xrealloc(queue, sizeof *queue * (size_t)(qt + 1));
                queue[qt++] = k;
            }
            char *src = node_id(r->st, columns ? r->sc : NULL), *dst = node_id(r->tt, columns ? r->tc : NULL);
            add_gedge(g, src, dst, columns ? r->type : NULL, columns ? r->sub : NULL);
            free(src);
            free(dst);
        }
    }
    free(queue);
}

lin_graph_t *lin_walk(meta_t *m, lin_viewer_t *v, const char *start, bool up, bool down, int depth,
                      bool columns)
{
    char *table, *column;
    if (!parse_start(start, &table, &column)) return NULL;
    if (depth < 0 || depth > MAX_DEPTH) depth = MAX_DEPTH;
    lin_graph_t *g = xcalloc(1, sizeof *g);
    rows_t rs;
    bool ok = lin_viewer_sees(v, table) && load_edges(m, v, true, &rs);
    if (ok) {
        bool col = columns || column != NULL;
        if (up) bfs(g, &rs, table, column, true, depth, col);
        if (down) bfs(g, &rs, table, column, false, depth, col);
        rows_free(&rs);
    }
    free(table);
    free(column);
    return g;
}

void lin_graph_free(lin_graph_t *g)
{
    if (!g) return;
    for (int i = 0; i < g->nnodes; i++) {
        free(g->nodes[i].table);
        free(g->nodes[i].column);
        for (int k = 0; k < g->nodes[i].npath; k++) free(g->nodes[i].path[k]);
        free(g->nodes[i].path);
    }
    free(g->nodes);
    for (int i = 0; i < g->nedges; i++) {
        free(g->edges[i].source);
        free(g->edges[i].target);
        free(g->edges[i].type);
        free(g->edges[i].subtype);
    }
    free(g->edges);
    free(g);
}

/* The walk from start as user sees it, or NULL with err. */
static lin_graph_t *walk_as(const char *user, const char *start, bool up, bool down, int depth, bool columns,
                            char *err, size_t errlen)
{
    lin_viewer_t *v = lin_viewer_open(g_srv->meta, user);
    lin_graph_t *g = lin_walk(g_srv->meta, v, start, up, down, depth, columns);
    lin_viewer_close(v);
    if (!g)
        snprintf(err, errlen,
                 "lineage: \"%s\" is not a table (schema.table) or a column (schema.table.column)", start);
    return g;
}

static bool walk_fill(const char *user, bool su, const char **args, sys_rows_t *out, char *err, size_t errlen)
{
    UNUSED(su);
    if (!args[0]) return true;
    int depth = args[1] ? atoi(args[1]) : MAX_DEPTH;
    bool up = args[2] && !strcmp(args[2], "up");
    lin_graph_t *g = walk_as(user, args[0], up, !up, depth, false, err, errlen);
    if (!g) return false;
    for (int i = 0; i < g->nnodes; i++) {
        lin_node_t *n = &g->nodes[i];
        if (n->depth == 0) continue;
        char d[16];
        snprintf(d, sizeof d, "%d", n->depth);
        buf_t p;
        buf_init(&p, 64);
        for (int k = 0; k < n->npath; k++) {
            if (k) buf_putc(&p, '\x1f');
            buf_append_str(&p, n->path[k]);
        }
        const char *c[4] = {n->table, n->column, d, buf_cstr(&p)};
        sys_rows_add(out, 4, c);
        buf_free(&p);
    }
    lin_graph_free(g);
    return true;
}

/* madang_lineage_graph(start, direction, depth, columns): the walk as nodes
 * and edges (HTTP GET /api/v1/lineage/...). */
static bool graph_fill(const char *user, bool su, const char **args, sys_rows_t *out, char *err,
                       size_t errlen)
{
    UNUSED(su);
    if (!args[0]) return true;
    const char *dir = args[1] ? args[1] : "both";
    int depth = args[2] ? atoi(args[2]) : 5;
    bool columns = args[3] && !strcmp(args[3], "true");
    lin_graph_t *g =
        walk_as(user, args[0], strcmp(dir, "down") != 0, strcmp(dir, "up") != 0, depth, columns, err, errlen);
    if (!g) return false;
    for (int i = 0; i < g->nnodes; i++) {
        lin_node_t *n = &g->nodes[i];
        char d[16];
        snprintf(d, sizeof d, "%d", n->depth);
        const char *c[9] = {"node", n->path[n->npath - 1], n->table, n->column, d, NULL, NULL, NULL, NULL};
        sys_rows_add(out, 9, c);
    }
    for (int i = 0; i < g->nedges; i++) {
        lin_gedge_t *e = &g->edges[i];
        const char *c[9] = {"edge", NULL, NULL, NULL, NULL, e->source, e->target, e->type, e->subtype};
        sys_rows_add(out, 9, c);
    }
    lin_graph_free(g);
    return true;
}

static const sys_fn_t fns[] = {
    {"madang_lineage_edges",
     {"target_table", "target_column", "source_table", "source_column", "type", "subtype", "statement_seq",
      "created_at", "current", NULL},
     0,
     {0},
     edges_fill},
    {"madang_lineage_walk",
     {"table", "column", "depth", "path", NULL},
     3,
     {DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_VARCHAR},
     walk_fill},
    {"madang_lineage_graph",
     {"kind", "id", "table", "column", "depth", "source", "target", "type", "subtype", NULL},
     4,
     {DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_VARCHAR},
     graph_fill},
};

#define WALK_MACRO(name, dir)                                                                                \
    "CREATE OR REPLACE MACRO madang." name "(start_node, max_depth) AS TABLE SELECT \"table\", \"column\", " \
    "CAST(depth AS INTEGER) AS depth, string_split(path, chr(31)) AS path FROM "                             \
    "madang_lineage_walk(start_node, "                                                                       \
    "max_depth, '" dir "') ORDER BY 3, 1, 2 NULLS FIRST"

static const char *views_sql[] = {
    "CREATE OR REPLACE VIEW madang.lineage_edges AS SELECT target_table, target_column, source_table, "
    "source_column, type, subtype, CAST(statement_seq AS BIGINT) AS statement_seq, CAST(created_at AS "
    "TIMESTAMP) "
    "AS created_at, CAST(current AS BOOLEAN) AS current FROM madang_lineage_edges()",
    "CREATE OR REPLACE VIEW madang.table_lineage AS SELECT target_table, source_table, max(created_at) AS "
    "last_seen FROM madang.lineage_edges WHERE current GROUP BY target_table, source_table",
    WALK_MACRO("lineage_upstream", "up"),
    WALK_MACRO("lineage_downstream", "down"),
};

bool lin_query_setup(server_t *srv, duckdb_connection c, char *err, size_t errlen)
{
    g_srv = srv;
    return sysviews_setup(c, fns, ARRAY_LEN(fns), views_sql, ARRAY_LEN(views_sql), err, errlen);
}
