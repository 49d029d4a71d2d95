/* engine.h — the embedded DuckDB database: one per server, one connection per session.
 *
 * The database is opened locked down (the second wall behind the gate; see
 * DESIGN.md): no external access outside madang's own directories, no extension
 * auto-install/auto-load, configuration locked after start-up. Only the gate
 * may hand SQL to a connection obtained here. */
#ifndef MADANG_ENGINE_H
#define MADANG_ENGINE_H

#include <duckdb.h>

#include "util/util.h"

typedef struct eng eng_t;

/* Opens DATA/warehouse.duckdb. NULL + err on failure. */
eng_t *eng_open(const char *db_path, const char *tmp_dir, char *err, size_t errlen);
/* CHECKPOINTs and closes. All connections must be closed first. */
void eng_close(eng_t *e);

/* A new connection with madang's session defaults. NULL on failure. */
duckdb_connection eng_connect(eng_t *e);
void eng_disconnect(duckdb_connection *c);

/* Runs SQL for madang's own use (bootstrap, demo data); never for user SQL. */
bool eng_exec_internal(duckdb_connection c, const char *sql, char *err, size_t errlen) MUST_CHECK;
/* Runs a query returning one BIGINT; -1 on error. */
int64_t eng_query_int(duckdb_connection c, const char *sql);

const char *eng_version(void);

#endif
