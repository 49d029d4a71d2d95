/* polsql.c — CREATE/DROP POLICY, masking policies and tags (polsql.h).
 *
 *   CREATE POLICY p ON s.t [AS PERMISSIVE] [FOR {ALL|SELECT|INSERT}]
 *       [TO {[USER] u | GROUP g | PUBLIC}] [USING (expr)] [WITH CHECK (expr)];
 *   DROP POLICY [IF EXISTS] p ON s.t;
 *   CREATE [OR REPLACE] MASKING POLICY m AS (v type) RETURNS type -> expr;
 *   DROP MASKING POLICY [IF EXISTS] m;
 *   CREATE TAG [IF NOT EXISTS] t [COMMENT = '…'];  DROP TAG [IF EXISTS] t;
 *   ALTER TAG t {SET MASKING POLICY m | UNSET MASKING POLICY};
 *   ALTER TABLE s.t ALTER [COLUMN] c {SET MASKING POLICY m | UNSET MASKING POLICY
 *                                     | SET TAG t [= '…'] | UNSET TAG t};
 *
 * Only superusers manage them (as Ranger's administrators do): a table's
 * owner cannot weaken the policies on it. Expressions are checked against the
 * engine when they are created, so a typo fails at CREATE, not at the first
 * query. */
#include "gate/polsql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/authz.h"
#include "gate/lex.h"
#include "gate/protect.h"
#include "policy/acl.h"
#include "policy/rls.h"

typedef struct {
    const char *sql;
    lex_t l;
    lex_tok_t t; /* current token */
} cur_t;

static void next(cur_t *c)
{
    c->t = lex_next(&c->l);
}

static bool is(cur_t *c, const char *kw)
{
    return lex_is(&c->t, kw);
}

static bool accept(cur_t *c, const char *kw)
{
    if (!is(c, kw)) return false;
    next(c);
    return true;
}

static bool is_word(const cur_t *c)
{
    return c->t.type == TK_IDENT || c->t.type == TK_QIDENT;
}

/* An identifier (folded as PostgreSQL does); NULL if none. */
static char *ident(cur_t *c)
{
    if (!is_word(c)) return NULL;
    char *v = lex_value(&c->t);
    next(c);
    return v;
}

/* [schema.]name */
static bool qname(cur_t *c, char **schema, char **name)
{
    *schema = NULL;
    *name = ident(c);
    if (!*name) return false;
    if (c->t.type == TK_DOT) {
        next(c);
        *schema = *name;
        *name = ident(c);
        if (!*name) return false;
    }
    return true;
}

/* "( expr )" → the text between the parentheses (heap), the cursor after them. */
static char *paren_text(cur_t *c)
{
    if (c->t.type != TK_LPAREN) return NULL;
    size_t start = c->t.offset + 1;
    int depth = 1;
    for (;;) {
        next(c);
        if (c->t.type == TK_EOF || c->t.type == TK_ERROR) return NULL;
        if (c->t.type == TK_LPAREN) depth++;
        if (c->t.type == TK_RPAREN && --depth == 0) break;
    }
    char *v = xstrndup(c->sql + start, c->t.offset - start);
    next(c);
    return v;
}

static bool syntax(gate_err_t *err, const char *usage)
{
    gate_err_set(err, "42601", "syntax error in policy statement");
    snprintf(err->hint, sizeof err->hint, "%s", usage);
    return false;
}

/* ---- classification ---- */

bool polsql_match(const char *sql)
{
    cur_t c = {.sql = sql};
    lex_init(&c.l, sql, strlen(sql));
    next(&c);
    if (accept(&c, "CREATE")) {
        if (accept(&c, "OR")) accept(&c, "REPLACE");
        return is(&c, "POLICY") || is(&c, "MASKING") || is(&c, "TAG");
    }
    if (accept(&c, "DROP")) return is(&c, "POLICY") || is(&c, "MASKING") || is(&c, "TAG");
    if (accept(&c, "ALTER")) {
        if (is(&c, "TAG")) return true;
        if (!accept(&c, "TABLE")) return false;
        if (accept(&c, "IF")) accept(&c, "EXISTS");
        /* ALTER TABLE name ALTER [COLUMN] c {SET|UNSET} {MASKING|TAG} */
        char *sc, *nm;
        bool ok = qname(&c, &sc, &nm);
        free(sc);
        free(nm);
        if (!ok || !accept(&c, "ALTER")) return false;
        accept(&c, "COLUMN");
        char *col = ident(&c);
        free(col);
        if (!col || !(accept(&c, "SET") || accept(&c, "UNSET"))) return false;
        return is(&c, "MASKING") || is(&c, "TAG");
    }
    return false;
}

/* ---- helpers ---- */

static bool superuser_only(sess_t *s, gate_err_t *err)
{
    if (s->acl && s->acl->superuser) return true;
    gate_err_set(err, "42501",
                 "permission denied: only superusers manage row policies, masking policies and tags");
    return false;
}

static bool exists_cb(void *ctx, int n, const char **c)
{
    UNUSED(n);
    UNUSED(c);
    *(bool *)ctx = true;
    return false;
}

static bool meta_has(meta_t *m, const char *sql, int nargs, const char **args)
{
    bool found = false;
    if (!meta_query(m, sql, nargs, args, exists_cb, &found)) return false;
    return found;
}

static bool meta_do(sess_t *s, const char *sql, int nargs, const char **args, gate_err_t *err)
{
    char e[256];
    if (meta_exec(s->srv->meta, sql, nargs, args, e, sizeof e) < 0) {
        gate_err_set(err, "XX000", "cannot store the policy: %s", e);
        return false;
    }
    pol_bump();
    return true;
}

/* Resolves [schema.]table to a table of the warehouse. */
static bool find_table(sess_t *s, const char *schema, const char *name, rel_t *v, gate_err_t *err)
{
    ref_t ref = {.catalog = "", .schema = (char *)(schema ? schema : ""), .name = (char *)name, .alias = ""};
    rel_kind_t k = authz_resolve(s, &ref, v);
    if (k != REL_TABLE || !strcmp(v->db, "temp")) {
        free(v->sql);
        v->sql = NULL;
        gate_err_set(err, "42P01", "table \"%s%s%s\" does not exist", schema ? schema : "", schema ? "." : "",
                     name);
        if (k == REL_VIEW) snprintf(err->hint, sizeof err->hint, "policies apply to tables; views read them");
        return false;
    }
    return true;
}

/* Checks SQL against the engine (prepare only). */
static bool engine_accepts(sess_t *s, const char *sql, gate_err_t *err)
{
    duckdb_prepared_statement ps;
    bool ok = duckdb_prepare(s->conn, sql, &ps) == DuckDBSuccess;
    if (!ok) gate_err_from_duckdb(err, duckdb_prepare_error(ps), DUCKDB_ERROR_INVALID);
    duckdb_destroy_prepare(&ps);
    return ok;
}

/* DuckDB's name for a type the user wrote ("int" → "INTEGER"), or NULL. */
static char *normalize_type(sess_t *s, const char *type)
{
    buf_t q;
    buf_init(&q, 64);
    buf_printf(&q, "SELECT typeof(CAST(NULL AS %s))", type);
    duckdb_result r;
    char *out = NULL;
    if (duckdb_query(s->conn, buf_cstr(&q), &r) == DuckDBSuccess) {
        char *v = duckdb_value_varchar(&r, 0, 0);
        out = v ? xstrdup(v) : NULL;
        duckdb_free(v);
    }
    duckdb_destroy_result(&r);
    buf_free(&q);
    return out;
}

static char *column_type(sess_t *s, const rel_t *v, const char *col)
{
    buf_t q;
    buf_init(&q, 128);
    buf_append_str(&q, "SELECT data_type FROM duckdb_columns() WHERE database_name = ");
    lex_put_literal(&q, v->db);
    buf_append_str(&q, " AND schema_name = ");
    lex_put_literal(&q, v->schema);
    buf_append_str(&q, " AND table_name = ");
    lex_put_literal(&q, v->name);
    buf_append_str(&q, " AND column_name = ");
    lex_put_literal(&q, col);
    duckdb_result r;
    char *out = NULL;
    if (duckdb_query(s->conn, buf_cstr(&q), &r) == DuckDBSuccess && duckdb_row_count(&r) == 1) {
        char *t = duckdb_value_varchar(&r, 0, 0);
        out = t ? xstrdup(t) : NULL;
        duckdb_free(t);
    }
    duckdb_destroy_result(&r);
    buf_free(&q);
    return out;
}

/* ---- CREATE / DROP POLICY ---- */

static const char *const USAGE_POLICY =
    "CREATE POLICY name ON schema.table [FOR {ALL|SELECT|INSERT}] [TO {[USER] u | GROUP g | PUBLIC}] "
    "[USING (expr)] [WITH CHECK (expr)]";

static bool check_policy_expr(sess_t *s, const rel_t *v, const char *expr, gate_err_t *err)
{
    char *x = protect_subst(expr, s->acl, s->real_user, NULL, NULL);
    buf_t q;
    buf_init(&q, 256);
    buf_printf(&q, "SELECT CAST((%s) AS BOOLEAN) FROM ", x);
    lex_put_ident(&q, v->schema);
    buf_putc(&q, '.');
    lex_put_ident(&q, v->name);
    gate_err_t e;
    bool ok = engine_accepts(s, buf_cstr(&q), &e);
    if (!ok)
        gate_err_set(err, "42P17", "the policy expression cannot be evaluated on %s.%s: %s", v->schema,
                     v->name, e.message);
    buf_free(&q);
    free(x);
    return ok;
}

static bool create_policy(sess_t *s, cur_t *c, gate_err_t *err)
{
    next(c); /* POLICY */
    char *name = ident(c), *schema = NULL, *table = NULL, *using_expr = NULL, *check_expr = NULL,
         *grantee = NULL;
    const char *cmd = "ALL", *gkind = "public";
    bool ok = false;
    rel_t v = {0};
    if (!name || !accept(c, "ON") || !qname(c, &schema, &table)) goto syntax;
    if (accept(c, "AS")) {
        if (!accept(c, "PERMISSIVE")) {
            gate_err_set(err, "0A000", "only PERMISSIVE policies are supported");
            goto out;
        }
    }
    if (accept(c, "FOR")) {
        if (accept(c, "ALL"))
            cmd = "ALL";
        else if (accept(c, "SELECT"))
            cmd = "SELECT";
        else if (accept(c, "INSERT"))
            cmd = "INSERT";
        else if (is(c, "UPDATE") || is(c, "DELETE")) {
            gate_err_set(err, "0A000", "policies FOR UPDATE or DELETE are not supported");
            snprintf(err->hint, sizeof err->hint,
                     "UPDATE and DELETE touch only rows the user's SELECT policies admit; use FOR ALL or FOR "
                     "SELECT");
            goto out;
        } else
            goto syntax;
    }
    if (accept(c, "TO")) {
        if (accept(c, "PUBLIC")) {
            gkind = "public";
        } else {
            gkind = "user";
            if (accept(c, "GROUP") || accept(c, "ROLE"))
                gkind = "group";
            else
                accept(c, "USER");
            grantee = ident(c);
            if (!grantee) goto syntax;
        }
        if (c->t.type == TK_COMMA) {
            gate_err_set(err, "0A000", "a policy has one grantee");
            snprintf(err->hint, sizeof err->hint, "create one policy per user or group, or grant to a GROUP");
            goto out;
        }
    }
    if (accept(c, "USING")) {
        using_expr = paren_text(c);
        if (!using_expr) goto syntax;
    }
    if (accept(c, "WITH")) {
        if (!accept(c, "CHECK")) goto syntax;
        check_expr = paren_text(c);
        if (!check_expr) goto syntax;
    }
    if (c->t.type != TK_EOF) goto syntax;
    if (!using_expr && !check_expr) {
        gate_err_set(err, "42601", "a policy needs USING (expr) or WITH CHECK (expr)");
        goto out;
    }
    if (!strcmp(cmd, "SELECT") && check_expr) {
        gate_err_set(err, "42601", "only WITH CHECK expression allowed for INSERT");
        goto out;
    }
    if (!strcmp(cmd, "INSERT") && using_expr) {
        gate_err_set(err, "42601", "only WITH CHECK expression allowed for INSERT");
        goto out;
    }
    if (!superuser_only(s, err) || !find_table(s, schema, table, &v, err)) goto out;
    if (!strcmp(gkind, "user")) {
        meta_user_t u;
        if (!meta_user_get(s->srv->meta, grantee, &u)) {
            gate_err_set(err, "42704", "role \"%s\" does not exist", grantee);
            goto out;
        }
    } else if (!strcmp(gkind, "group") && !pol_group_exists(s->srv->meta, grantee)) {
        gate_err_set(err, "42704", "group \"%s\" does not exist", grantee);
        goto out;
    }
    if ((using_expr && !check_policy_expr(s, &v, using_expr, err)) ||
        (check_expr && !check_policy_expr(s, &v, check_expr, err)))
        goto out;
    {
        const char *args[] = {v.schema, v.name, name};
        if (meta_has(s->srv->meta,
                     "SELECT 1 FROM row_policies WHERE schema_name = ?1 AND table_name = ?2 AND name = ?3", 3,
                     args)) {
            gate_err_set(err, "42710", "policy \"%s\" for table \"%s\" already exists", name, v.name);
            goto out;
        }
        const char *ins[] = {name,       v.schema,   v.name, cmd, gkind, grantee ? grantee : "",
                             using_expr, check_expr, s->user};
        ok = meta_do(
            s,
            "INSERT INTO row_policies (name, schema_name, table_name, command, grantee_kind, grantee, "
            "using_expr, check_expr, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            9, ins, err);
        if (ok)
            log_event(LOG_INFO, "policy_created", "user=\"%s\" policy=\"%s\" table=\"%s.%s\"", s->user, name,
                      v.schema, v.name);
    }
    goto out;
syntax:
    ok = syntax(err, USAGE_POLICY);
out:
    free(v.sql);
    free(name);
    free(schema);
    free(table);
    free(using_expr);
    free(check_expr);
    free(grantee);
    return ok;
}

static bool drop_policy(sess_t *s, cur_t *c, gate_err_t *err)
{
    next(c); /* POLICY */
    bool if_exists = accept(c, "IF") && accept(c, "EXISTS");
    char *name = ident(c), *schema = NULL, *table = NULL;
    bool ok = false;
    rel_t v = {0};
    if (!name || !accept(c, "ON") || !qname(c, &schema, &table) || c->t.type != TK_EOF) {
        ok = syntax(err, "DROP POLICY [IF EXISTS] name ON schema.table");
        goto out;
    }
    if (!superuser_only(s, err) || !find_table(s, schema, table, &v, err)) goto out;
    {
        const char *args[] = {v.schema, v.name, name};
        char e[256];
        int n = meta_exec(s->srv->meta,
                          "DELETE FROM row_policies WHERE schema_name = ?1 AND table_name = ?2 AND name = ?3",
                          3, args, e, sizeof e);
        pol_bump();
        if (n < 0)
            gate_err_set(err, "XX000", "cannot drop the policy: %s", e);
        else if (n == 0 && !if_exists)
            gate_err_set(err, "42704", "policy \"%s\" for table \"%s\" does not exist", name, v.name);
        else
            ok = true;
    }
out:
    free(v.sql);
    free(name);
    free(schema);
    free(table);
    return ok;
}

/* ---- masking policies ---- */

static const char *const USAGE_MASK =
    "CREATE [OR REPLACE] MASKING POLICY name AS (arg type) RETURNS type -> expr";

static bool create_mask(sess_t *s, cur_t *c, bool replace, gate_err_t *err)
{
    next(c); /* MASKING */
    if (!accept(c, "POLICY")) return syntax(err, USAGE_MASK);
    char *name = ident(c), *arg = NULL, *type = NULL, *rtype = NULL, *ntype = NULL, *nrtype = NULL;
    bool ok = false;
    if (!name || !accept(c, "AS") || c->t.type != TK_LPAREN) goto syntax;
    {
        char *inside = paren_text(c);
        if (!inside) goto syntax;
        cur_t a = {.sql = inside};
        lex_init(&a.l, inside, strlen(inside));
        next(&a);
        arg = ident(&a);
        if (!arg || a.t.type == TK_EOF) {
            free(inside);
            goto syntax;
        }
        type = xstrdup(inside + a.t.offset);
        free(inside);
    }
    if (!accept(c, "RETURNS")) goto syntax;
    {
        size_t start = c->t.offset;
        while (c->t.type != TK_EOF && !(c->t.type == TK_OP && c->t.len == 2 && !strncmp(c->t.p, "->", 2)))
            next(c);
        if (c->t.type == TK_EOF) goto syntax;
        rtype = xstrndup(c->sql + start, c->t.offset - start);
        next(c);
    }
    if (c->t.type == TK_EOF) goto syntax;
    const char *body = c->sql + c->t.offset;
    if (!superuser_only(s, err)) goto out;
    ntype = normalize_type(s, type);
    nrtype = normalize_type(s, rtype);
    if (!ntype || !nrtype) {
        gate_err_set(err, "42704", "type \"%s\" does not exist", !ntype ? type : rtype);
        goto out;
    }
    if (strcmp(ntype, nrtype) != 0) {
        gate_err_set(err, "42804", "a masking policy returns the type it takes (%s, not %s)", ntype, nrtype);
        snprintf(err->hint, sizeof err->hint, "cast the result: RETURNS %s -> CAST(... AS %s)", ntype, ntype);
        goto out;
    }
    {
        char *x = protect_subst(body, s->acl, s->real_user, arg, "\"madang_arg\"");
        buf_t q;
        buf_init(&q, 256);
        buf_printf(&q, "SELECT CAST((%s) AS %s) FROM (SELECT CAST(NULL AS %s) AS \"madang_arg\")", x, ntype,
                   ntype);
        gate_err_t e;
        bool good = engine_accepts(s, buf_cstr(&q), &e);
        buf_free(&q);
        free(x);
        if (!good) {
            gate_err_set(err, "42P17", "the masking expression cannot be evaluated: %s", e.message);
            goto out;
        }
    }
    {
        const char *args[] = {name};
        bool exists = meta_has(s->srv->meta, "SELECT 1 FROM masking_policies WHERE name = ?1", 1, args);
        if (exists && !replace) {
            gate_err_set(err, "42710", "masking policy \"%s\" already exists", name);
            goto out;
        }
        if (exists) {
            const char *up[] = {name, arg, ntype, body};
            ok = meta_do(
                s, "UPDATE masking_policies SET arg_name = ?2, arg_type = ?3, body = ?4 WHERE name = ?1", 4,
                up, err);
        } else {
            const char *ins[] = {name, arg, ntype, body, s->user};
            ok = meta_do(
                s,
                "INSERT INTO masking_policies (name, arg_name, arg_type, body, owner) VALUES (?1, ?2, ?3, "
                "?4, ?5)",
                5, ins, err);
        }
    }
    goto out;
syntax:
    ok = syntax(err, USAGE_MASK);
out:
    free(name);
    free(arg);
    free(type);
    free(rtype);
    free(ntype);
    free(nrtype);
    return ok;
}

static bool drop_mask(sess_t *s, cur_t *c, gate_err_t *err)
{
    next(c); /* MASKING */
    if (!accept(c, "POLICY")) return syntax(err, "DROP MASKING POLICY [IF EXISTS] name");
    bool if_exists = accept(c, "IF") && accept(c, "EXISTS");
    char *name = ident(c);
    bool ok = false;
    if (!name || c->t.type != TK_EOF) {
        free(name);
        return syntax(err, "DROP MASKING POLICY [IF EXISTS] name");
    }
    if (!superuser_only(s, err)) goto out;
    {
        const char *args[] = {name};
        if (meta_has(s->srv->meta, "SELECT 1 FROM column_masks WHERE policy = ?1", 1, args) ||
            meta_has(s->srv->meta, "SELECT 1 FROM tags WHERE masking_policy = ?1", 1, args)) {
            gate_err_set(err, "2BP01", "cannot drop masking policy \"%s\" because columns or tags use it",
                         name);
            snprintf(err->hint, sizeof err->hint,
                     "UNSET it from those columns and tags first (see madang.policies)");
            goto out;
        }
        char e[256];
        int n = meta_exec(s->srv->meta, "DELETE FROM masking_policies WHERE name = ?1", 1, args, e, sizeof e);
        pol_bump();
        if (n < 0)
            gate_err_set(err, "XX000", "cannot drop the masking policy: %s", e);
        else if (n == 0 && !if_exists)
            gate_err_set(err, "42704", "masking policy \"%s\" does not exist", name);
        else
            ok = true;
    }
out:
    free(name);
    return ok;
}

/* ---- tags ---- */

static bool mask_exists(sess_t *s, const char *m, gate_err_t *err)
{
    const char *args[] = {m};
    if (meta_has(s->srv->meta, "SELECT 1 FROM masking_policies WHERE name = ?1", 1, args)) return true;
    gate_err_set(err, "42704", "masking policy \"%s\" does not exist", m);
    return false;
}

static bool tag_exists(sess_t *s, const char *t)
{
    const char *args[] = {t};
    return meta_has(s->srv->meta, "SELECT 1 FROM tags WHERE name = ?1", 1, args);
}

static bool create_tag(sess_t *s, cur_t *c, gate_err_t *err)
{
    next(c); /* TAG */
    bool if_not = accept(c, "IF") && accept(c, "NOT") && accept(c, "EXISTS");
    char *name = ident(c), *comment = NULL;
    bool ok = false;
    if (!name) return syntax(err, "CREATE TAG [IF NOT EXISTS] name [COMMENT = 'text']");
    if (accept(c, "COMMENT")) {
        if (c->t.type == TK_OP && c->t.len == 1 && c->t.p[0] == '=') next(c);
        if (c->t.type != TK_STRING) {
            free(name);
            return syntax(err, "CREATE TAG [IF NOT EXISTS] name [COMMENT = 'text']");
        }
        comment = lex_value(&c->t);
        next(c);
    }
    if (c->t.type != TK_EOF) {
        ok = syntax(err, "CREATE TAG [IF NOT EXISTS] name [COMMENT = 'text']");
    } else if (superuser_only(s, err)) {
        if (tag_exists(s, name)) {
            ok = if_not;
            if (!ok) gate_err_set(err, "42710", "tag \"%s\" already exists", name);
        } else {
            const char *args[] = {name, comment, s->user};
            ok = meta_do(s, "INSERT INTO tags (name, comment, owner) VALUES (?1, ?2, ?3)", 3, args, err);
        }
    }
    free(name);
    free(comment);
    return ok;
}

static bool drop_tag(sess_t *s, cur_t *c, gate_err_t *err)
{
    next(c); /* TAG */
    bool if_exists = accept(c, "IF") && accept(c, "EXISTS");
    char *name = ident(c);
    bool ok = false;
    if (!name || c->t.type != TK_EOF) {
        free(name);
        return syntax(err, "DROP TAG [IF EXISTS] name");
    }
    if (superuser_only(s, err)) {
        if (!tag_exists(s, name)) {
            ok = if_exists;
            if (!ok) gate_err_set(err, "42704", "tag \"%s\" does not exist", name);
        } else {
            const char *args[] = {name};
            ok = meta_do(s, "DELETE FROM column_tags WHERE tag = ?1", 1, args, err) &&
                 meta_do(s, "DELETE FROM tags WHERE name = ?1", 1, args, err);
        }
    }
    free(name);
    return ok;
}

static bool alter_tag(sess_t *s, cur_t *c, gate_err_t *err)
{
    static const char *usage = "ALTER TAG name {SET MASKING POLICY m | UNSET MASKING POLICY}";
    next(c); /* TAG */
    char *name = ident(c), *mask = NULL;
    bool ok = false, set = false;
    if (!name) return syntax(err, usage);
    if (accept(c, "SET"))
        set = true;
    else if (!accept(c, "UNSET"))
        goto syntax;
    if (!accept(c, "MASKING") || !accept(c, "POLICY")) goto syntax;
    if (set && !(mask = ident(c))) goto syntax;
    if (c->t.type != TK_EOF) goto syntax;
    if (!superuser_only(s, err)) goto out;
    if (!tag_exists(s, name)) {
        gate_err_set(err, "42704", "tag \"%s\" does not exist", name);
        goto out;
    }
    if (set && !mask_exists(s, mask, err)) goto out;
    {
        const char *args[] = {name, mask};
        ok = meta_do(s, "UPDATE tags SET masking_policy = ?2 WHERE name = ?1", 2, args, err);
    }
    goto out;
syntax:
    ok = syntax(err, usage);
out:
    free(name);
    free(mask);
    return ok;
}

/* ALTER TABLE t ALTER [COLUMN] c {SET|UNSET} {MASKING POLICY [m] | TAG t [= '…']} */
static bool alter_column(sess_t *s, cur_t *c, gate_err_t *err)
{
    static const char *usage =
        "ALTER TABLE schema.table ALTER COLUMN c {SET MASKING POLICY m | UNSET MASKING "
        "POLICY | SET TAG t | UNSET TAG t}";
    next(c); /* TABLE */
    if (accept(c, "IF")) accept(c, "EXISTS");
    char *schema = NULL, *table = NULL, *col = NULL, *obj = NULL, *ctype = NULL;
    bool ok = false, set = false, is_mask = false;
    rel_t v = {0};
    if (!qname(c, &schema, &table) || !accept(c, "ALTER")) goto syntax;
    accept(c, "COLUMN");
    col = ident(c);
    if (!col) goto syntax;
    if (accept(c, "SET"))
        set = true;
    else if (!accept(c, "UNSET"))
        goto syntax;
    if (accept(c, "MASKING")) {
        if (!accept(c, "POLICY")) goto syntax;
        is_mask = true;
        if (set && !(obj = ident(c))) goto syntax;
        accept(c, "FORCE");
    } else if (accept(c, "TAG")) {
        if (!(obj = ident(c))) goto syntax;
        if (c->t.type == TK_OP && c->t.len == 1 && c->t.p[0] == '=') {
            next(c);
            if (c->t.type != TK_STRING) goto syntax;
            next(c);
        }
    } else {
        goto syntax;
    }
    if (c->t.type != TK_EOF) goto syntax;
    if (!superuser_only(s, err) || !find_table(s, schema, table, &v, err)) goto out;
    ctype = column_type(s, &v, col);
    if (!ctype) {
        gate_err_set(err, "42703", "column \"%s\" of relation \"%s\" does not exist", col, v.name);
        goto out;
    }
    if (is_mask && set) {
        if (!mask_exists(s, obj, err)) goto out;
        rls_set_t *r = rls_load(s->srv->meta);
        const rls_mask_t *m = r ? rls_mask_named(r, obj) : NULL;
        bool match = m && !strcasecmp(m->type, ctype);
        char mtype[64];
        snprintf(mtype, sizeof mtype, "%s", m ? m->type : "?");
        rls_free(r);
        if (!match) {
            gate_err_set(err, "42804", "masking policy \"%s\" takes %s but column \"%s\" is %s", obj, mtype,
                         col, ctype);
            goto out;
        }
        const char *args[] = {v.schema, v.name, col, obj};
        ok = meta_do(
            s,
            "INSERT INTO column_masks (schema_name, table_name, column_name, policy) VALUES (?1, ?2, ?3, "
            "?4) ON CONFLICT (schema_name, table_name, column_name) DO UPDATE SET policy = ?4",
            4, args, err);
    } else if (is_mask) {
        const char *args[] = {v.schema, v.name, col};
        ok = meta_do(
            s, "DELETE FROM column_masks WHERE schema_name = ?1 AND table_name = ?2 AND column_name = ?3", 3,
            args, err);
    } else if (set) {
        if (!tag_exists(s, obj)) {
            gate_err_set(err, "42704", "tag \"%s\" does not exist", obj);
            goto out;
        }
        const char *args[] = {v.schema, v.name, col, obj};
        ok = meta_do(
            s,
            "INSERT OR IGNORE INTO column_tags (schema_name, table_name, column_name, tag) VALUES (?1, "
            "?2, ?3, ?4)",
            4, args, err);
    } else {
        const char *args[] = {v.schema, v.name, col, obj};
        ok =
            meta_do(s,
                    "DELETE FROM column_tags WHERE schema_name = ?1 AND table_name = ?2 AND column_name = ?3 "
                    "AND tag = ?4",
                    4, args, err);
    }
    goto out;
syntax:
    ok = syntax(err, usage);
out:
    free(v.sql);
    free(schema);
    free(table);
    free(col);
    free(obj);
    free(ctype);
    return ok;
}

/* ---- DDL that would lose a mask ---- */

bool polsql_guard_alter(sess_t *s, const char *sql, gate_err_t *err)
{
    cur_t c = {.sql = sql};
    lex_init(&c.l, sql, strlen(sql));
    next(&c);
    if (!accept(&c, "ALTER") || !accept(&c, "TABLE")) return true;
    if (accept(&c, "IF")) accept(&c, "EXISTS");
    char *schema = NULL, *table = NULL, *col = NULL;
    bool ok = true;
    if (!qname(&c, &schema, &table)) goto out;
    if (accept(&c, "RENAME") || accept(&c, "DROP")) {
        accept(&c, "COLUMN");
        if (accept(&c, "IF")) accept(&c, "EXISTS");
        if (is(&c, "TO")) goto out; /* RENAME TO: the table's policies follow it */
        col = ident(&c);
    }
    if (!col) goto out;
    rel_t v = {0};
    gate_err_t ignore;
    if (!find_table(s, schema, table, &v, &ignore)) goto out;
    const char *args[] = {v.schema, v.name, col};
    if (meta_has(s->srv->meta,
                 "SELECT 1 FROM column_masks WHERE schema_name = ?1 AND table_name = ?2 AND column_name = ?3 "
                 "UNION ALL SELECT 1 FROM column_tags WHERE schema_name = ?1 AND table_name = ?2 AND "
                 "column_name = "
                 "?3",
                 3, args)) {
        gate_err_set(err, "0A000", "column \"%s\" of %s.%s has a masking policy or tags", col, v.schema,
                     v.name);
        snprintf(err->hint, sizeof err->hint,
                 "UNSET its masking policy and tags first, then set them again on the renamed column");
        ok = false;
    }
    free(v.sql);
out:
    free(schema);
    free(table);
    free(col);
    return ok;
}

/* ---- entry points ---- */

bool polsql_classify(sess_t *s, const char *sql, gate_stmt_t **out, gate_err_t *err)
{
    UNUSED(s);
    UNUSED(err);
    gate_stmt_t *st = xcalloc(1, sizeof *st);
    st->action = GATE_POLICY;
    st->kind = MET_KIND_GOVERNANCE;
    st->sql = xstrdup(sql);
    cur_t c = {.sql = sql};
    lex_init(&c.l, sql, strlen(sql));
    next(&c);
    const char *verb = is(&c, "CREATE") ? "CREATE" : is(&c, "DROP") ? "DROP" : "ALTER";
    next(&c);
    if (accept(&c, "OR")) accept(&c, "REPLACE");
    const char *obj = is(&c, "POLICY")    ? "POLICY"
                      : is(&c, "MASKING") ? "MASKING POLICY"
                      : is(&c, "TAG")     ? "TAG"
                                          : "TABLE";
    snprintf(st->tag, sizeof st->tag, "%s %s", verb, obj);
    *out = st;
    return true;
}

bool polsql_run(sess_t *s, gate_stmt_t *st, char *tag, size_t taglen, gate_err_t *err)
{
    cur_t c = {.sql = st->sql};
    lex_init(&c.l, st->sql, strlen(st->sql));
    next(&c);
    bool ok;
    snprintf(tag, taglen, "%s", st->tag);
    if (accept(&c, "CREATE")) {
        bool replace = false;
        if (accept(&c, "OR")) replace = accept(&c, "REPLACE");
        ok = is(&c, "POLICY")    ? create_policy(s, &c, err)
             : is(&c, "MASKING") ? create_mask(s, &c, replace, err)
                                 : create_tag(s, &c, err);
    } else if (accept(&c, "DROP")) {
        ok = is(&c, "POLICY")    ? drop_policy(s, &c, err)
             : is(&c, "MASKING") ? drop_mask(s, &c, err)
                                 : drop_tag(s, &c, err);
    } else {
        next(&c); /* ALTER */
        ok = is(&c, "TAG") ? alter_tag(s, &c, err) : alter_column(s, &c, err);
    }
    if (!ok && !err->sqlstate[0]) gate_err_set(err, "XX000", "the policy statement failed");
    return ok;
}
