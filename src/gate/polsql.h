/* polsql.h — the SQL of row policies, masking policies and tags.
 * Parsed and run by madang (meta.db), never by the engine. */
#ifndef MADANG_GATE_POLSQL_H
#define MADANG_GATE_POLSQL_H

#include "gate/gate.h"

/* Whether sql is one of the statements polsql handles. */
bool polsql_match(const char *sql);
bool polsql_classify(sess_t *s, const char *sql, gate_stmt_t **out, gate_err_t *err) MUST_CHECK;
bool polsql_run(sess_t *s, gate_stmt_t *st, char *tag, size_t taglen, gate_err_t *err) MUST_CHECK;

/* Refuses ALTER TABLE … RENAME/DROP COLUMN of a column with a mask or tags
 * (the mask would silently stop applying). */
bool polsql_guard_alter(sess_t *s, const char *sql, gate_err_t *err) MUST_CHECK;

#endif
