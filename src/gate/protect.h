/* protect.h — row policies and column masks, applied by rewriting statements.
 *
 * After a statement is authorized (authz.c), every reference to a table that
 * has row policies or masks for the session's user is replaced, in the text
 * the engine runs, by a subquery that reads the table with the user's row
 * filter and masked columns:
 *
 *     (SELECT CASE WHEN madang_fence() THEN id END AS id, …, CAST(mask AS T) AS email
 *        FROM s.t WHERE madang_fence() AND (policy OR policy)) AS t
 *
 * madang_fence() is a volatile engine function that always answers true. The
 * optimizer may not move a filter across a projection of volatile
 * expressions, so no predicate, join condition or function the user wrote
 * ever sees a row the policies hide (no error, cast or timing oracle); masks
 * are computed in that projection, so every use of a masked column sees the
 * masked value. Views whose expansion reaches such a table are inlined and
 * rewritten the same way. The rewritten statement's bound plan is then
 * checked: every scan of a protected table must sit under a fence filter, or
 * the statement is refused (fail closed). Superusers are exempt.
 *
 * Writes: UPDATE and DELETE touch only rows the user's policies admit (their
 * WHERE is evaluated on the protected subquery); INSERT into a table with row
 * policies must produce rows a policy's WITH CHECK (or USING) admits. */
#ifndef MADANG_GATE_PROTECT_H
#define MADANG_GATE_PROTECT_H

#include "gate/gate.h"

/* Registers madang_fence(), madang_has_row_policies(schema, table) and the
 * built-in masks (schema madang). */
bool protect_setup_engine(meta_t *m, duckdb_connection c, char *err, size_t errlen) MUST_CHECK;

/* The text the engine must run instead of st->sql, in *out (heap), or NULL
 * when no policy touches the statement. False with err when the statement
 * cannot be run under its policies. */
bool protect_rewrite(sess_t *s, gate_stmt_t *st, char **out, gate_err_t *err) MUST_CHECK;

/* Whether the table has row policies that restrict this session's user
 * (COPY FROM refuses such targets). */
bool protect_has_row_policies(sess_t *s, const char *schema, const char *table);

/* What policies apply to user on schema.table, for madang.explain_access:
 * calls fn(ctx, what, via) for the row filter and each masked column. */
void protect_explain(meta_t *m, duckdb_connection c, const char *user, const char *schema, const char *table,
                     void (*fn)(void *ctx, const char *what, const char *via), void *ctx);

/* A policy or mask expression for one user: current_user / session_user /
 * is_member('g') become constants, mask_* are qualified with schema madang,
 * and identifier arg (may be NULL) becomes repl. Heap string. */
struct pol_acl;
char *protect_subst(const char *expr, const struct pol_acl *a, const char *real_user, const char *arg,
                    const char *repl);

/* Evaluates the row-policy value sets the statement's rewrite uses (see
 * protect.c, policy sets), just before it runs. False with err if one
 * cannot be evaluated: the statement must not run. */
bool protect_before_execute(sess_t *s, const gate_stmt_t *st, gate_err_t *err) MUST_CHECK;

void protect_session_free(sess_t *s);

#endif
