/* lineage.h — table and column lineage of every write, from the bound plan.
 *
 *   gate_execute → lin_before_execute: plans the statement once more with
 *                  views kept as nodes (a stand-in table function per view
 *                  the statement names) and derives its edges (derive.h)
 *   gate_audit_end → lin_statement_end: a statement that succeeded records
 *                  a run with its edges; DROP retires, RENAME follows, CREATE
 *                  [OR REPLACE] retires the old definition's edges
 *   COMMIT / ROLLBACK → lin_tx_end: inside a transaction block the runs wait
 *                  for the engine's COMMIT; a ROLLBACK leaves no edge (the
 *                  runs are kept as ABORT, without edges, for the export)
 *
 * Storage in meta.db (lineage_runs, lineage_edges); tables are named
 * "schema.table"; a COPY FROM STDIN reads from the source "stdin".
 * SQL: madang.lineage_edges, madang.table_lineage, madang.lineage_upstream /
 * lineage_downstream (query.c); HTTP GET /api/v1/lineage/...; export as
 * OpenLineage events (madang lineage export). */
#ifndef MADANG_LINEAGE_LINEAGE_H
#define MADANG_LINEAGE_LINEAGE_H

#include "gate/gate.h"
#include "lineage/derive.h"

/* The stand-in table function and the lineage views' functions. */
bool lin_setup_engine(server_t *srv, duckdb_connection c, char *err, size_t errlen) MUST_CHECK;

void lin_before_execute(sess_t *s, gate_stmt_t *st);
/* err NULL or empty sqlstate: the statement succeeded. */
void lin_statement_end(sess_t *s, gate_stmt_t *st, const gate_err_t *err);
void lin_tx_end(sess_t *s, bool committed);
void lin_session_free(sess_t *s);

/* ---- reading (query.c) ---- */

/* The lineage views' functions and views (called by lin_setup_engine). */
bool lin_query_setup(server_t *srv, duckdb_connection c, char *err, size_t errlen) MUST_CHECK;

/* Whether user may see a table's lineage: superusers and the auditors group
 * see all; others the tables they own or hold any privilege on. */
typedef struct lin_viewer lin_viewer_t;
lin_viewer_t *lin_viewer_open(meta_t *m, const char *user);
bool lin_viewer_sees(lin_viewer_t *v, const char *table);
void lin_viewer_close(lin_viewer_t *v);

/* A walk from start ("s.t" tables, "s.t.c" columns) up or down the current
 * edges, breadth first, each node once at its shortest depth. */
typedef struct {
    char *table;
    char *column; /* NULL: the table (or the whole table, for table-wide edges) */
    int depth;
    char **path; /* start first, node last; "s.t" or "s.t.c" */
    int npath;
} lin_node_t;

typedef struct {
    char *source, *target; /* node ids */
    char *type, *subtype;  /* NULL for table-level edges */
} lin_gedge_t;

typedef struct {
    lin_node_t *nodes;
    int nnodes;
    lin_gedge_t *edges;
    int nedges;
} lin_graph_t;

lin_graph_t *lin_walk(meta_t *m, lin_viewer_t *v, const char *start, bool up, bool down, int depth,
                      bool columns);
void lin_graph_free(lin_graph_t *g);

/* madang lineage export --data DIR --format openlineage [--since TS] */
int lin_export_main(int argc, char **argv);

#endif
