/* identity_sql.c — impersonation grants, tokens, unlocking (identity_sql.h). */
#include "gate/identity_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/lex.h"
#include "policy/acl.h"
#include "policy/identity.h"

typedef struct {
    lex_t l;
    lex_tok_t t;
} cur_t;

static void next(cur_t *c)
{
    c->t = lex_next(&c->l);
}

static bool accept(cur_t *c, const char *kw)
{
    if (!lex_is(&c->t, kw)) return false;
    next(c);
    return true;
}

static char *ident(cur_t *c)
{
    if (c->t.type != TK_IDENT && c->t.type != TK_QIDENT && c->t.type != TK_STRING) return NULL;
    char *v = lex_value(&c->t);
    next(c);
    return v;
}

static void start(cur_t *c, const char *sql)
{
    lex_init(&c->l, sql, strlen(sql));
    next(c);
}

bool identity_match(const char *sql)
{
    cur_t c;
    start(&c, sql);
    if (accept(&c, "GRANT") || accept(&c, "REVOKE")) return lex_is(&c.t, "IMPERSONATE");
    if (accept(&c, "CREATE") || accept(&c, "DROP")) return lex_is(&c.t, "TOKEN");
    if (accept(&c, "ALTER") && (accept(&c, "USER") || accept(&c, "ROLE"))) {
        char *u = ident(&c);
        free(u);
        return u && lex_is(&c.t, "ACCOUNT");
    }
    return false;
}

bool identity_classify(sess_t *s, const char *sql, gate_stmt_t **out, gate_err_t *err)
{
    cur_t c;
    start(&c, sql);
    if (accept(&c, "CREATE")) {
        /* CREATE TOKEN [FOR USER u] [EXPIRES 'ts'] */
        next(&c); /* TOKEN */
        char *user = NULL, *expires = NULL;
        if (accept(&c, "FOR")) {
            accept(&c, "USER");
            user = ident(&c);
            if (!user) goto syntax;
        }
        if (accept(&c, "EXPIRES")) {
            if (c.t.type != TK_STRING) {
                free(user);
                goto syntax;
            }
            expires = lex_value(&c.t);
            next(&c);
        }
        if (c.t.type != TK_EOF) {
            free(user);
            free(expires);
            goto syntax;
        }
        gate_stmt_t *st = xcalloc(1, sizeof *st);
        st->action = GATE_ENGINE;
        st->kind = MET_KIND_GOVERNANCE;
        snprintf(st->tag, sizeof st->tag, "SELECT");
        st->token_user = user ? user : xstrdup(s->user);
        st->token_expires = expires;
        /* the shape of the row the execution returns */
        st->sql =
            xstrdup("SELECT CAST(0 AS BIGINT) AS token_id, CAST('' AS VARCHAR) AS token, CAST('' AS VARCHAR) "
                    "AS user_name, CAST(NULL AS TIMESTAMP) AS expires_at");
        if (duckdb_prepare(s->conn, st->sql, &st->ps) != DuckDBSuccess) {
            gate_err_from_duckdb(err, duckdb_prepare_error(st->ps), DUCKDB_ERROR_INVALID);
            free(st->token_user);
            free(st->token_expires);
            duckdb_destroy_prepare(&st->ps);
            free(st->sql);
            free(st);
            return false;
        }
        st->ncols = 4;
        static const char *names[] = {"token_id", "token", "user_name", "expires_at"};
        st->col_names = xcalloc(5, sizeof(char *));
        st->col_types = xcalloc(5, sizeof(duckdb_logical_type));
        for (int i = 0; i < 4; i++) {
            st->col_names[i] = xstrdup(names[i]);
            st->col_types[i] = duckdb_prepared_statement_column_logical_type(st->ps, (idx_t)i);
        }
        st->param_types = xcalloc(1, sizeof *st->param_types);
        st->returns_rows = true;
        *out = st;
        return true;
    }
    gate_stmt_t *st = xcalloc(1, sizeof *st);
    st->action = GATE_IDENTITY;
    st->kind = MET_KIND_GOVERNANCE;
    st->sql = xstrdup(sql);
    snprintf(st->tag, sizeof st->tag, "%s",
             lex_is(&c.t, "GRANT")    ? "GRANT"
             : lex_is(&c.t, "REVOKE") ? "REVOKE"
             : lex_is(&c.t, "DROP")   ? "DROP TOKEN"
                                      : "ALTER ROLE");
    *out = st;
    return true;
syntax:
    gate_err_set(err, "42601", "syntax error in CREATE TOKEN");
    snprintf(err->hint, sizeof err->hint, "use CREATE TOKEN [FOR USER name] [EXPIRES 'timestamp']");
    return false;
}

static bool su_only(sess_t *s, const char *what, gate_err_t *err)
{
    if (s->acl && s->acl->superuser) return true;
    gate_err_set(err, "42501", "permission denied: only superusers may %s", what);
    return false;
}

bool identity_run(sess_t *s, gate_stmt_t *st, char *tag, size_t taglen, gate_err_t *err)
{
    cur_t c;
    start(&c, st->sql);
    char e[256] = "";
    snprintf(tag, taglen, "%s", st->tag);
    meta_t *m = s->srv->meta;
    if (lex_is(&c.t, "GRANT") || lex_is(&c.t, "REVOKE")) {
        bool revoke = lex_is(&c.t, "REVOKE");
        next(&c);
        next(&c); /* IMPERSONATE */
        bool group = false;
        char *target = NULL, *proxy = NULL;
        bool ok = false;
        if (!accept(&c, "ON")) goto gsyntax;
        if (accept(&c, "GROUP"))
            group = true;
        else if (!accept(&c, "USER") && !accept(&c, "ROLE"))
            goto gsyntax;
        target = ident(&c);
        if (!target || !(accept(&c, revoke ? "FROM" : "TO"))) goto gsyntax;
        accept(&c, "USER");
        proxy = ident(&c);
        if (!proxy || c.t.type != TK_EOF) goto gsyntax;
        if (!su_only(s, "grant IMPERSONATE", err)) goto gout;
        meta_user_t u;
        if (!meta_user_get(m, proxy, &u)) {
            gate_err_set(err, "42704", "role \"%s\" does not exist", proxy);
            goto gout;
        }
        if (group ? !pol_group_exists(m, target) : !meta_user_get(m, target, &u)) {
            gate_err_set(err, "42704", "%s \"%s\" does not exist", group ? "group" : "role", target);
            goto gout;
        }
        ok = id_grant_impersonate(m, revoke, proxy, group, target, s->user, e, sizeof e);
        if (!ok) gate_err_set(err, "XX000", "%s", e);
        goto gout;
    gsyntax:
        gate_err_set(err, "42601", "syntax error in %s IMPERSONATE", revoke ? "REVOKE" : "GRANT");
        snprintf(err->hint, sizeof err->hint,
                 "use GRANT IMPERSONATE ON {USER name | GROUP name} TO USER proxy");
    gout:
        free(target);
        free(proxy);
        return ok;
    }
    if (accept(&c, "DROP")) {
        next(&c); /* TOKEN */
        if (c.t.type != TK_NUMBER) {
            gate_err_set(err, "42601", "syntax error in DROP TOKEN");
            snprintf(err->hint, sizeof err->hint, "use DROP TOKEN id (see madang.tokens)");
            return false;
        }
        int64_t id = atoll(c.t.p);
        if (!id_token_drop(m, id, s->user, s->acl && s->acl->superuser, e, sizeof e)) {
            gate_err_set(err, "42704", "%s", e);
            return false;
        }
        log_event(LOG_INFO, "token_dropped", "user=\"%s\" id=%lld", s->user, (long long)id);
        return true;
    }
    /* ALTER USER u ACCOUNT UNLOCK */
    next(&c);
    next(&c);
    char *user = ident(&c);
    bool ok = false;
    if (!user || !accept(&c, "ACCOUNT") || !accept(&c, "UNLOCK") || c.t.type != TK_EOF) {
        gate_err_set(err, "42601", "syntax error in ALTER USER");
        snprintf(err->hint, sizeof err->hint, "use ALTER USER name ACCOUNT UNLOCK");
    } else if (su_only(s, "unlock accounts", err)) {
        meta_user_t u;
        if (!meta_user_get(m, user, &u))
            gate_err_set(err, "42704", "role \"%s\" does not exist", user);
        else if (!(ok = id_unlock(m, user)))
            gate_err_set(err, "XX000", "cannot unlock \"%s\"", user);
        else
            log_event(LOG_INFO, "account_unlocked", "user=\"%s\" by=\"%s\"", user, s->user);
    }
    free(user);
    return ok;
}

bool identity_token_execute(sess_t *s, gate_stmt_t *st, gate_err_t *err)
{
    meta_t *m = s->srv->meta;
    bool su = s->acl && s->acl->superuser;
    if (strcmp(st->token_user, s->user) != 0 && !su) {
        gate_err_set(err, "42501", "permission denied: only superusers may create tokens for other users");
        return false;
    }
    meta_user_t u;
    if (!meta_user_get(m, st->token_user, &u)) {
        gate_err_set(err, "42704", "role \"%s\" does not exist", st->token_user);
        return false;
    }
    char *expires = NULL;
    if (st->token_expires) {
        /* the engine reads the timestamp; stored as ISO 8601 UTC */
        buf_t q;
        buf_init(&q, 64);
        buf_append_str(&q, "SELECT strftime(CAST(");
        lex_put_literal(&q, st->token_expires);
        buf_append_str(&q, " AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S')");
        duckdb_result r;
        if (duckdb_query(s->conn, buf_cstr(&q), &r) != DuckDBSuccess) {
            gate_err_set(err, "22007", "invalid EXPIRES timestamp \"%s\"", st->token_expires);
            duckdb_destroy_result(&r);
            buf_free(&q);
            return false;
        }
        char *v = duckdb_value_varchar(&r, 0, 0);
        expires = v ? xstrdup(v) : NULL;
        duckdb_free(v);
        duckdb_destroy_result(&r);
        buf_free(&q);
    }
    int64_t id = 0;
    char *secret = NULL;
    char e[256];
    if (!id_token_create(m, st->token_user, expires, s->user, &id, &secret, e, sizeof e)) {
        gate_err_set(err, "XX000", "cannot create the token: %s", e);
        free(expires);
        return false;
    }
    buf_t q;
    buf_init(&q, 256);
    buf_printf(&q, "SELECT CAST(%lld AS BIGINT) AS token_id, CAST(", (long long)id);
    lex_put_literal(&q, secret);
    buf_append_str(&q, " AS VARCHAR) AS token, CAST(");
    lex_put_literal(&q, st->token_user);
    buf_append_str(&q, " AS VARCHAR) AS user_name, CAST(");
    if (expires)
        lex_put_literal(&q, expires);
    else
        buf_append_str(&q, "NULL");
    buf_append_str(&q, " AS TIMESTAMP) AS expires_at");
    explicit_bzero(secret, strlen(secret));
    free(secret);
    duckdb_prepared_statement ps;
    bool ok = duckdb_prepare(s->conn, buf_cstr(&q), &ps) == DuckDBSuccess;
    explicit_bzero(q.data, q.len);
    buf_free(&q);
    if (!ok) {
        gate_err_from_duckdb(err, duckdb_prepare_error(ps), DUCKDB_ERROR_INVALID);
        duckdb_destroy_prepare(&ps);
        free(expires);
        return false;
    }
    duckdb_destroy_prepare(&st->ps);
    st->ps = ps;
    log_event(LOG_INFO, "token_created", "user=\"%s\" for=\"%s\" id=%lld expires=\"%s\"", s->user,
              st->token_user, (long long)id, expires ? expires : "never");
    free(expires);
    return true;
}
