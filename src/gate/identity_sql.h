/* identity_sql.h — GRANT/REVOKE IMPERSONATE, CREATE/DROP TOKEN, ALTER USER … ACCOUNT UNLOCK.
 *
 *   GRANT IMPERSONATE ON {USER u | GROUP g} TO [USER] proxy;   REVOKE … FROM [USER] proxy;
 *   CREATE TOKEN [FOR USER u] [EXPIRES 'timestamp'];   -- one row: token_id, token (shown once)
 *   DROP TOKEN id;
 *   ALTER USER u ACCOUNT UNLOCK;
 *
 * Impersonation grants and unlocking are for superusers; a user may create
 * and drop their own tokens, superusers anyone's. */
#ifndef MADANG_GATE_IDENTITY_SQL_H
#define MADANG_GATE_IDENTITY_SQL_H

#include "gate/gate.h"

/* Whether sql is one of these statements. */
bool identity_match(const char *sql);
bool identity_classify(sess_t *s, const char *sql, gate_stmt_t **out, gate_err_t *err) MUST_CHECK;
bool identity_run(sess_t *s, gate_stmt_t *st, char *tag, size_t taglen, gate_err_t *err) MUST_CHECK;
/* CREATE TOKEN runs at execution: creates the token and prepares the row
 * that shows it (st->ps is replaced). */
bool identity_token_execute(sess_t *s, gate_stmt_t *st, gate_err_t *err) MUST_CHECK;

#endif
