/* grant.h — GRANT, REVOKE and group statements (DESIGN.md's SQL contract).
 *
 *   GRANT {SELECT|INSERT|UPDATE|DELETE|ALL [PRIVILEGES]} [(col, ...)] [, ...]
 *         ON [TABLE] s.t [, ...] | ON SCHEMA s | ON ALL TABLES IN SCHEMA s
 *         TO {[USER|GROUP] name | PUBLIC} [, ...]
 *   GRANT CREATE ON SCHEMA s TO ...;   REVOKE ... FROM ...;
 *   GRANT group TO user [, ...];  REVOKE group FROM user;   (PostgreSQL role membership)
 *   CREATE GROUP g;  ALTER GROUP g {ADD|DROP} USER u [, ...];  DROP GROUP [IF EXISTS] g;
 *
 * Table grants may be given by the table's owner or a superuser; schema
 * grants and groups by superusers. */
#ifndef MADANG_GATE_GRANT_H
#define MADANG_GATE_GRANT_H

#include "gate/gate.h"

bool grant_classify(sess_t *s, const char *sql, gate_stmt_t **out, gate_err_t *err) MUST_CHECK;
bool grant_run(sess_t *s, gate_stmt_t *st, char *tag, size_t taglen, gate_err_t *err) MUST_CHECK;
void grant_free(struct gate_gov *g);

#endif
