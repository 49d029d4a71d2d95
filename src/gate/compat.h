/* compat.h — making PostgreSQL clients' SQL run on DuckDB.
 *
 * Two tools: a per-connection shim script (src/gate/compat.sql, embedded at
 * build time) of TEMP macros, tables and views that stand in for the
 * pg_catalog functions and views psql, pgjdbc and ODBC drivers query; and
 * token-level rewrites of constructs DuckDB's parser does not accept or
 * binds wrongly. Rewrites never widen what a statement can reach: they only
 * replace PostgreSQL spellings with DuckDB ones, and the result still goes
 * through the gate's checks. SET and SHOW are not rewritten here: the gate
 * handles them (and calls compat_set_setting for PostgreSQL-only settings). */
#ifndef MADANG_GATE_COMPAT_H
#define MADANG_GATE_COMPAT_H

#include <duckdb.h>

#include "server/server.h"

/* Returns a heap copy of one statement (no splitting) with PostgreSQL-only
 * constructs rewritten: "pg_catalog." qualifiers stripped, OPERATOR(ns.op)
 * → op, COLLATE "default" dropped, ::regclass/::regtype/::regnamespace/
 * ::regproc casts turned into shim calls, '{a,b}'::t[] array literals into
 * '[a,b]'::t[], information_schema._pg_expandarray → _pg_expandarray, and
 * "FROM srf(...) s" given the column alias s(s). String literals, quoted
 * identifiers and comments are never changed. SQL without any trigger word
 * is copied as is without lexing. The caller frees the result. */
char *compat_rewrite(const char *sql);

/* Runs the shim script on connection c (call once per new connection; running
 * it again replaces the objects and resets the settings table). user is the
 * effective user name reported by current_user/session_user and pg_roles;
 * superuser sets is_superuser and rolsuper; pid is pg_backend_pid(). On
 * failure writes DuckDB's message to err and returns false; the connection
 * must then not serve clients. */
bool compat_install(duckdb_connection c, const char *user, bool superuser, int32_t pid, char *err,
                    size_t errlen) MUST_CHECK;

/* Records a PostgreSQL setting (name folded to lower case) in the session's
 * settings table, which the shim's current_setting() and pg_settings read.
 * value NULL stores SQL NULL. Returns false if the shim is not installed. */
/* The same in parts: 0 = what every session needs at connect (identity and
 * settings functions), 1 = the catalog views and lookup macros (installed on
 * first use; see gate.c), 2 = both. */
bool compat_install_part(duckdb_connection c, const char *user, bool superuser, int32_t pid, int part,
                         char *err, size_t errlen) MUST_CHECK;

bool compat_set_setting(duckdb_connection c, const char *name, const char *value) MUST_CHECK;

#endif
