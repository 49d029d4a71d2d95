/* derive.h — column lineage from the engine's bound logical plan.
 *
 * json_serialize_plan gives the plan after binding, with every column
 * reference resolved to a position in its child's output (BOUND_REF #i). The
 * derivation is a dataflow over that tree: every output column of every
 * operator carries the set of source columns it is made from (DIRECT, with
 * the strongest of IDENTITY < TRANSFORMATION < AGGREGATION met on the way)
 * and the sources that influence only its value (INDIRECT, column-scoped:
 * CONDITIONAL, WINDOW, or a filter inside a scalar subquery); every operator
 * carries the sources that decide which rows exist (INDIRECT, table-wide:
 * JOIN, GROUP_BY, FILTER, SORT). The written operator at the top (CREATE
 * TABLE AS, INSERT, UPDATE, DELETE, MERGE) maps outputs to target columns.
 * The rules are written out in docs/lineage.md; tests/lineage/corpus.sql
 * holds their exact expectations.
 *
 * Pure: no engine, no I/O. Ownership: a lin_t is the caller's (lin_free). */
#ifndef MADANG_LINEAGE_DERIVE_H
#define MADANG_LINEAGE_DERIVE_H

#include <jansson.h>
#include <stdbool.h>

typedef enum {
    LIN_IDENTITY,
    LIN_TRANSFORMATION,
    LIN_AGGREGATION, /* the three DIRECT subtypes, weakest first */
    LIN_JOIN,
    LIN_GROUP_BY,
    LIN_FILTER,
    LIN_SORT,
    LIN_WINDOW,
    LIN_CONDITIONAL,
    LIN__NSUB
} lin_sub_t;

const char *lin_sub_name(lin_sub_t s);  /* "IDENTITY", ... */
const char *lin_type_name(lin_sub_t s); /* "DIRECT" | "INDIRECT" */
bool lin_sub_parse(const char *name, lin_sub_t *out);

typedef struct {
    char *target_column; /* NULL: the edge affects the whole target table */
    char *source_table;  /* "schema.table" */
    char *source_column; /* NULL: the whole source */
    lin_sub_t sub;
} lin_edge_t;

typedef struct lin {
    char kind[16];  /* CTAS, INSERT, UPDATE, DELETE, MERGE, VIEW, COPY */
    char *target;   /* "schema.table" */
    bool redefines; /* CREATE [OR REPLACE]: the target's earlier edges stop being current */
    lin_edge_t *edges;
    int nedges;
    bool approximate; /* an operator madang cannot follow column by column was met */
} lin_t;

/* The lineage of a planned statement (the "plans" array's first plan, or the
 * whole json_serialize_plan result). sql is the text that was planned: the
 * positions in the plan point into it (explicit casts are told from the
 * binder's implicit ones by what is written there). NULL when the statement
 * writes no persistent table (a query, a TEMP target, VALUES-only inserts
 * still return an empty lin_t). */
lin_t *lin_from_plan(json_t *plan, const char *sql);

/* The lineage of a query whose output columns become target's columns
 * (CREATE VIEW target(cols) AS query): plan is the query's plan. */
lin_t *lin_from_query_plan(json_t *plan, const char *sql, const char *target, const char *kind, char **cols,
                           int ncols);

lin_t *lin_new(const char *kind, const char *target);
void lin_add_edge(lin_t *l, const char *target_column, const char *source_table, const char *source_column,
                  lin_sub_t sub);
lin_t *lin_copy(const lin_t *l);
void lin_free(lin_t *l);

/* The stand-in table function that keeps a view a node of its own in the
 * plan (lineage.c registers it; derive.c recognizes it). */
#define LIN_VIEW_FN "madang_lineage_view"

#endif
