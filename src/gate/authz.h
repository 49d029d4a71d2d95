/* authz.h — authorization of engine statements on DuckDB's own bound plan.
 *
 * For every statement the engine runs, the gate asks DuckDB for the bound
 * logical plan (json_serialize_plan) and checks every table and column it
 * reads or writes against the effective user's grants (policy/acl.h).
 * Views have definer rights: a view the user names and may SELECT is
 * "sealed" (replaced, for the check only, by an empty relation of the same
 * shape) and its definition is checked separately with its owner's rights.
 * DDL is checked on the statement's target (ownership, CREATE on schema). */
#ifndef MADANG_GATE_AUTHZ_H
#define MADANG_GATE_AUTHZ_H

#include "gate/gate.h"

/* A version that changes whenever grants or the catalog change; a statement
 * authorized at an older version is authorized again before it runs. */
uint64_t authz_version(void);
void authz_catalog_changed(void);

/* Reloads the session's rights and its catalog-visibility table if stale. */
bool authz_refresh(sess_t *s, gate_err_t *err) MUST_CHECK;
/* Decides whether the session may run the prepared engine statement st. */
bool authz_check(sess_t *s, gate_stmt_t *st, gate_err_t *err) MUST_CHECK;
/* Bookkeeping after a DDL statement succeeded (owners, grants of dropped objects). */
void authz_after_success(sess_t *s, gate_stmt_t *st);
/* The columns of a relation, in order, with their types, from the engine's
 * catalog. db NULL or "": any catalog but the session's TEMP one and the
 * system ones. False when the relation has none (or cannot be read). */
typedef struct {
    int n;
    char **name, **type;
} authz_cols_t;
bool authz_columns(duckdb_connection c, const char *db, const char *schema, const char *table,
                   authz_cols_t *out);
void authz_cols_free(authz_cols_t *c);

/* What the statement reads and writes, from its bound plan, as a JSON array of
 * {"object": "schema.table", "access": "read|insert|update|delete|merge",
 * "columns": [...]} (heap); cached per statement shape. */
char *authz_objects(sess_t *s, const char *sql);

/* What a SELECT named (Snowflake's direct_objects_accessed): [{"object", "kind": table|view}]. */
char *authz_direct_objects(sess_t *s, const char *sql);

/* The statement's normalized fingerprint (literals and comments dropped), hex. */
char *authz_fingerprint(const char *sql);

/* A new statement arrived: the plan kept from the last one is dropped (the
 * checks, the audit and lineage share one plan per statement text until then). */
void authz_new_statement(sess_t *s);

/* Frees the session's authorization caches. */
void authz_session_free(sess_t *s);

/* Records the compatibility shim's TEMP objects of a new session. */
void authz_note_shim_objects(sess_t *s);

/* What a user may do with a table, and why: rows of (privilege, allowed, via). */
typedef struct {
    const char *privilege;
    bool allowed;
    char via[256];
} authz_explain_row_t;
int authz_explain(meta_t *m, const char *user, const char *schema, const char *table,
                  authz_explain_row_t out[5]);

/* ---- shared with the policy rewrite (protect.c) ---- */
#include <jansson.h>

/* A relation the statement names: [catalog.][schema.]name [alias] at a byte offset. */
typedef struct {
    char *catalog, *schema, *name, *alias;
    size_t location;
} ref_t;

/* What a parse tree names: relations, CTE names, table functions. */
typedef struct {
    ref_t *refs;
    int nrefs;
    char **ctes;
    int nctes;
    char **fns;
    int nfns;
} named_t;

/* How a name the user wrote resolves. */
typedef enum { REL_NONE, REL_TABLE, REL_VIEW, REL_TEMP_VIEW, REL_SHIM, REL_SYSTEM_VIEW } rel_kind_t;

typedef struct {
    rel_kind_t kind;
    char db[64], schema[128], name[128];
    char *sql; /* view definition (heap) */
} rel_t;

/* SELECT fn('<sql>') (json_serialize_sql / json_serialize_plan) → parsed JSON, or NULL with err.
 * Its numbers are reals (JSON_DECODE_INT_AS_REAL: locations reach 2^64-1). */
json_t *authz_serialize(sess_t *s, const char *fn, const char *sql, gate_err_t *err);
/* Member k of a tree's object as a string, "" when absent. */
const char *authz_jstr(json_t *o, const char *k);
/* A tree's number as an offset or index, -1 when absent, negative or "none" (2^64-1). */
long long authz_jidx(json_t *v);
void authz_collect_named(named_t *n, json_t *tree);
void authz_named_free(named_t *n);
bool authz_is_cte(const named_t *n, const char *name);
rel_kind_t authz_resolve(sess_t *s, const ref_t *r, rel_t *out);
/* As authz_resolve, among the warehouse's own relations only (never the
 * session's TEMP objects): how policy expressions name their tables. */
rel_kind_t authz_resolve_persistent(sess_t *s, const ref_t *r, rel_t *out);
/* Length of the name written at loc: ident(.ident)* */
size_t authz_name_span(const char *sql, size_t loc);
/* Whether the span of text at a reference's location names it (its last part). */
bool authz_span_names(const char *text, size_t span, const ref_t *r);
/* What a parse tree names (tree consumed into n), its relations ordered from
 * the last in the text to the first, so replacing one by other text never
 * moves the offsets of those still to do. Free the array (not the refs). */
ref_t **authz_refs_last_first(json_t *tree, named_t *n);
/* The query of "CREATE VIEW v AS <query>" (heap), or NULL. */
char *authz_view_body(const char *sql);
/* Every user view of the catalog snapshot (names, for a cheap pre-check). */
bool authz_is_view_name(sess_t *s, const char *name);

#endif
