/* grant.c — parsing and running GRANT, REVOKE and group statements (grant.h). */
#include "gate/grant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/authz.h"
#include "gate/lex.h"
#include "policy/acl.h"

typedef enum {
    GOV_GRANT,
    GOV_REVOKE,
    GOV_MEMBER_ADD,
    GOV_MEMBER_DROP,
    GOV_GROUP_CREATE,
    GOV_GROUP_DROP
} gov_op_t;

typedef struct {
    int privs;
    char **cols;
    int ncols;
} gov_priv_t;

typedef struct {
    pol_grantee_kind_t kind;
    char *name;
} gov_grantee_t;

typedef struct {
    char *schema; /* "" until resolved */
    char *name;
} gov_obj_t;

struct gate_gov {
    gov_op_t op;
    gov_priv_t *privs;
    int nprivs;
    bool on_schema;
    gov_obj_t *objs;
    int nobjs;
    gov_grantee_t *grantees;
    int ngrantees;
    char *group;
    char **users;
    int nusers;
    bool if_exists;
};

void grant_free(struct gate_gov *g)
{
    if (!g) return;
    for (int i = 0; i < g->nprivs; i++) {
        for (int c = 0; c < g->privs[i].ncols; c++) free(g->privs[i].cols[c]);
        free(g->privs[i].cols);
    }
    free(g->privs);
    for (int i = 0; i < g->nobjs; i++) {
        free(g->objs[i].schema);
        free(g->objs[i].name);
    }
    free(g->objs);
    for (int i = 0; i < g->ngrantees; i++) free(g->grantees[i].name);
    free(g->grantees);
    free(g->group);
    for (int i = 0; i < g->nusers; i++) free(g->users[i]);
    free(g->users);
    free(g);
}

static bool is_name(const lex_tok_t *t)
{
    return t->type == TK_IDENT || t->type == TK_QIDENT;
}

static int priv_of(const lex_tok_t *t)
{
    if (lex_is(t, "SELECT")) return POL_SELECT;
    if (lex_is(t, "INSERT")) return POL_INSERT;
    if (lex_is(t, "UPDATE")) return POL_UPDATE;
    if (lex_is(t, "DELETE")) return POL_DELETE;
    if (lex_is(t, "CREATE")) return POL_CREATE;
    if (lex_is(t, "USAGE")) return POL_SELECT; /* schema USAGE: madang has no separate usage right */
    return 0;
}

static void add_str(char ***arr, int *n, char *v)
{
    *arr = xrealloc(*arr, sizeof(char *) * (size_t)(*n + 1));
    (*arr)[(*n)++] = v;
}

static bool syntax(gate_err_t *err, const char *what)
{
    gate_err_set(err, "42601", "syntax error in %s", what);
    snprintf(err->hint, sizeof err->hint,
             "GRANT SELECT [(col, ...)] ON [TABLE] schema.table TO [USER|GROUP] name | PUBLIC; GRANT ... ON "
             "SCHEMA s TO ...");
    return false;
}

static bool parse_grantees(lex_t *l, lex_tok_t *t, struct gate_gov *g)
{
    for (;;) {
        gov_grantee_t ge = {POL_GRANTEE_USER, NULL};
        if (lex_is(t, "PUBLIC")) {
            ge.kind = POL_GRANTEE_PUBLIC;
            ge.name = xstrdup("");
        } else {
            if (lex_is(t, "USER") || lex_is(t, "ROLE"))
                *t = lex_next(l);
            else if (lex_is(t, "GROUP")) {
                ge.kind = POL_GRANTEE_GROUP;
                *t = lex_next(l);
            }
            if (!is_name(t) && t->type != TK_STRING) return false;
            ge.name = lex_value(t);
        }
        g->grantees = xrealloc(g->grantees, sizeof *g->grantees * (size_t)(g->ngrantees + 1));
        g->grantees[g->ngrantees++] = ge;
        *t = lex_next(l);
        if (t->type != TK_COMMA) break;
        *t = lex_next(l);
    }
    return true;
}

static bool parse_grant(const char *sql, bool revoke, struct gate_gov *g, gate_err_t *err)
{
    const char *what = revoke ? "REVOKE" : "GRANT";
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    lex_tok_t t = lex_next(&l); /* GRANT/REVOKE */
    t = lex_next(&l);
    if (lex_is(&t, "IMPERSONATE")) {
        gate_err_set(err, "0A000", "GRANT IMPERSONATE is not available yet");
        return false;
    }
    /* role membership: GRANT g TO u / REVOKE g FROM u */
    lex_t peek = l;
    lex_tok_t t2 = lex_next(&peek);
    if (is_name(&t) && !priv_of(&t) && !lex_is(&t, "ALL") &&
        (lex_is(&t2, "TO") || lex_is(&t2, "FROM") || t2.type == TK_COMMA)) {
        g->op = revoke ? GOV_MEMBER_DROP : GOV_MEMBER_ADD;
        g->group = lex_value(&t);
        t = lex_next(&l);
        if (!lex_is(&t, revoke ? "FROM" : "TO")) return syntax(err, what);
        t = lex_next(&l);
        for (;;) {
            if (lex_is(&t, "USER") || lex_is(&t, "ROLE")) t = lex_next(&l);
            if (!is_name(&t)) return syntax(err, what);
            add_str(&g->users, &g->nusers, lex_value(&t));
            t = lex_next(&l);
            if (t.type != TK_COMMA) break;
            t = lex_next(&l);
        }
        return t.type == TK_EOF ? true : syntax(err, what);
    }
    g->op = revoke ? GOV_REVOKE : GOV_GRANT;
    if (revoke && lex_is(&t, "GRANT")) { /* REVOKE GRANT OPTION FOR */
        gate_err_set(err, "0A000", "grant options are not supported");
        return false;
    }
    if (lex_is(&t, "ALL")) {
        t = lex_next(&l);
        if (lex_is(&t, "PRIVILEGES")) t = lex_next(&l);
        g->privs = xcalloc(1, sizeof *g->privs);
        g->privs[0].privs = POL_SELECT | POL_INSERT | POL_UPDATE | POL_DELETE;
        g->nprivs = 1;
        if (t.type == TK_LPAREN) { /* ALL (cols) */
            for (;;) {
                t = lex_next(&l);
                if (!is_name(&t)) return syntax(err, what);
                add_str(&g->privs[0].cols, &g->privs[0].ncols, lex_value(&t));
                t = lex_next(&l);
                if (t.type == TK_RPAREN) break;
                if (t.type != TK_COMMA) return syntax(err, what);
            }
            t = lex_next(&l);
        }
    } else {
        for (;;) {
            int p = priv_of(&t);
            if (!p) {
                char *w = lex_value(&t);
                gate_err_set(err,
                             lex_is(&t, "TRUNCATE") || lex_is(&t, "REFERENCES") || lex_is(&t, "TRIGGER")
                                 ? "0A000"
                                 : "42601",
                             "privilege \"%s\" is not supported", w);
                snprintf(err->hint, sizeof err->hint,
                         "madang grants SELECT, INSERT, UPDATE, DELETE and CREATE (on schemas)");
                free(w);
                return false;
            }
            g->privs = xrealloc(g->privs, sizeof *g->privs * (size_t)(g->nprivs + 1));
            gov_priv_t *gp = &g->privs[g->nprivs++];
            memset(gp, 0, sizeof *gp);
            gp->privs = p;
            t = lex_next(&l);
            if (t.type == TK_LPAREN) {
                for (;;) {
                    t = lex_next(&l);
                    if (!is_name(&t)) return syntax(err, what);
                    add_str(&gp->cols, &gp->ncols, lex_value(&t));
                    t = lex_next(&l);
                    if (t.type == TK_RPAREN) break;
                    if (t.type != TK_COMMA) return syntax(err, what);
                }
                t = lex_next(&l);
            }
            if (t.type != TK_COMMA) break;
            t = lex_next(&l);
        }
    }
    if (!lex_is(&t, "ON")) return syntax(err, what);
    t = lex_next(&l);
    if (lex_is(&t, "SCHEMA")) {
        g->on_schema = true;
        t = lex_next(&l);
    } else if (lex_is(&t, "ALL")) {
        /* ON ALL TABLES IN SCHEMA s: madang's schema grants cover later tables too */
        t = lex_next(&l);
        if (!lex_is(&t, "TABLES")) return syntax(err, what);
        t = lex_next(&l);
        if (!lex_is(&t, "IN")) return syntax(err, what);
        t = lex_next(&l);
        if (!lex_is(&t, "SCHEMA")) return syntax(err, what);
        g->on_schema = true;
        t = lex_next(&l);
    } else if (lex_is(&t, "TABLE") || lex_is(&t, "VIEW")) {
        t = lex_next(&l);
    } else if (lex_is(&t, "DATABASE") || lex_is(&t, "FUNCTION") || lex_is(&t, "SEQUENCE") ||
               lex_is(&t, "TYPE")) {
        char *w = lex_value(&t);
        gate_err_set(err, "0A000", "privileges on %s objects are not supported", w);
        free(w);
        return false;
    }
    for (;;) {
        if (!is_name(&t)) return syntax(err, what);
        char *a = lex_value(&t), *b = NULL;
        t = lex_next(&l);
        if (t.type == TK_DOT) {
            t = lex_next(&l);
            if (!is_name(&t)) {
                free(a);
                return syntax(err, what);
            }
            b = lex_value(&t);
            t = lex_next(&l);
        }
        g->objs = xrealloc(g->objs, sizeof *g->objs * (size_t)(g->nobjs + 1));
        gov_obj_t *o = &g->objs[g->nobjs++];
        if (g->on_schema) {
            o->schema = a;
            o->name = xstrdup("");
            free(b);
        } else {
            o->schema = b ? a : xstrdup("");
            o->name = b ? b : a;
        }
        if (t.type != TK_COMMA) break;
        t = lex_next(&l);
    }
    if (!lex_is(&t, revoke ? "FROM" : "TO")) return syntax(err, what);
    t = lex_next(&l);
    if (!parse_grantees(&l, &t, g)) return syntax(err, what);
    if (t.type != TK_EOF && !lex_is(&t, "CASCADE") && !lex_is(&t, "RESTRICT")) return syntax(err, what);
    for (int i = 0; i < g->nprivs; i++) {
        if (g->on_schema && g->privs[i].ncols) return syntax(err, what);
        if (!g->on_schema && (g->privs[i].privs & POL_CREATE)) {
            gate_err_set(err, "0A000", "CREATE is granted on schemas: GRANT CREATE ON SCHEMA s TO ...");
            return false;
        }
    }
    return true;
}

static bool parse_group(const char *sql, struct gate_gov *g, gate_err_t *err)
{
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    lex_tok_t t = lex_next(&l);
    bool create = lex_is(&t, "CREATE"), drop = lex_is(&t, "DROP");
    t = lex_next(&l); /* GROUP */
    t = lex_next(&l);
    if (drop && lex_is(&t, "IF")) {
        t = lex_next(&l);
        t = lex_next(&l);
        g->if_exists = true;
    }
    if (!is_name(&t)) return syntax(err, "GROUP statement");
    g->group = lex_value(&t);
    t = lex_next(&l);
    if (create || drop) {
        g->op = create ? GOV_GROUP_CREATE : GOV_GROUP_DROP;
        return t.type == TK_EOF ? true : syntax(err, "GROUP statement");
    }
    if (lex_is(&t, "ADD"))
        g->op = GOV_MEMBER_ADD;
    else if (lex_is(&t, "DROP"))
        g->op = GOV_MEMBER_DROP;
    else
        return syntax(err, "ALTER GROUP");
    t = lex_next(&l);
    if (lex_is(&t, "USER") || lex_is(&t, "ROLE")) t = lex_next(&l);
    for (;;) {
        if (!is_name(&t)) return syntax(err, "ALTER GROUP");
        add_str(&g->users, &g->nusers, lex_value(&t));
        t = lex_next(&l);
        if (t.type != TK_COMMA) break;
        t = lex_next(&l);
    }
    return t.type == TK_EOF ? true : syntax(err, "ALTER GROUP");
}

bool grant_classify(sess_t *s, const char *sql, gate_stmt_t **out, gate_err_t *err)
{
    UNUSED(s);
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    lex_tok_t t = lex_next(&l);
    struct gate_gov *g = xcalloc(1, sizeof *g);
    bool ok;
    const char *tag;
    if (lex_is(&t, "GRANT") || lex_is(&t, "REVOKE")) {
        bool revoke = lex_is(&t, "REVOKE");
        ok = parse_grant(sql, revoke, g, err);
        tag = g->op == GOV_MEMBER_ADD    ? "GRANT ROLE"
              : g->op == GOV_MEMBER_DROP ? "REVOKE ROLE"
              : revoke                   ? "REVOKE"
                                         : "GRANT";
    } else {
        ok = parse_group(sql, g, err);
        tag = g->op == GOV_GROUP_CREATE ? "CREATE ROLE"
              : g->op == GOV_GROUP_DROP ? "DROP ROLE"
                                        : "ALTER ROLE";
    }
    if (!ok) {
        grant_free(g);
        return false;
    }
    gate_stmt_t *st = xcalloc(1, sizeof *st);
    st->action = GATE_GOVERN;
    st->kind = MET_KIND_GOVERNANCE;
    st->superuser = -1;
    st->fetch_count = -1;
    snprintf(st->tag, sizeof st->tag, "%s", tag);
    st->gov = g;
    *out = st;
    return true;
}

static bool resolve_table(sess_t *s, gov_obj_t *o, gate_err_t *err)
{
    /* an existing table or view: in the schema written, else the default schema, else main */
    const char *candidates[3] = {o->schema[0] ? o->schema : s->default_schema, o->schema[0] ? NULL : "main",
                                 NULL};
    for (int i = 0; candidates[i]; i++) {
        char *q = xasprintf("SELECT count(*) FROM (SELECT schema_name, table_name AS n FROM duckdb_tables() "
                            "WHERE NOT temporary "
                            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE NOT temporary "
                            "AND NOT internal) "
                            "WHERE schema_name = '%s' AND n = '%s'",
                            candidates[i], o->name);
        bool found = !strchr(candidates[i], '\'') && !strchr(o->name, '\'') && eng_query_int(s->conn, q) > 0;
        free(q);
        if (found) {
            char *schema = xstrdup(candidates[i]); /* candidates[0] may be o->schema itself */
            free(o->schema);
            o->schema = schema;
            return true;
        }
    }
    gate_err_set(err, "42P01", "relation \"%s%s%s\" does not exist", o->schema, o->schema[0] ? "." : "",
                 o->name);
    return false;
}

bool grant_run(sess_t *s, gate_stmt_t *st, char *tag, size_t taglen, gate_err_t *err)
{
    struct gate_gov *g = st->gov;
    snprintf(tag, taglen, "%s", st->tag);
    meta_t *m = s->srv->meta;
    char e[256] = "";
    bool su = s->superuser;
    if (!authz_refresh(s, err)) return false; /* ownership may be newer than the session's cached rights */
    switch (g->op) {
    case GOV_GROUP_CREATE:
    case GOV_GROUP_DROP:
    case GOV_MEMBER_ADD:
    case GOV_MEMBER_DROP: {
        if (!su) {
            gate_err_set(err, "42501", "permission denied to change group \"%s\"", g->group);
            snprintf(err->hint, sizeof err->hint, "only superusers manage groups");
            return false;
        }
        bool ok = g->op == GOV_GROUP_CREATE ? pol_group_create(m, g->group, e, sizeof e)
                  : g->op == GOV_GROUP_DROP
                      ? pol_group_drop(m, g->group, g->if_exists, e, sizeof e)
                      : pol_group_alter(m, g->group, g->op == GOV_MEMBER_ADD, (const char **)g->users,
                                        g->nusers, e, sizeof e);
        if (!ok) {
            gate_err_set(err,
                         strstr(e, "already exists")     ? "42710"
                         : strstr(e, "does not exist")   ? "42704"
                         : strstr(e, "synced from LDAP") ? "42501"
                                                         : "XX000",
                         "%s", e);
            return false;
        }
        break;
    }
    case GOV_GRANT:
    case GOV_REVOKE:
        for (int o = 0; o < g->nobjs; o++) {
            gov_obj_t *obj = &g->objs[o];
            if (g->on_schema) {
                if (!su) {
                    gate_err_set(err, "42501", "permission denied for schema %s", obj->schema);
                    snprintf(err->hint, sizeof err->hint, "only superusers grant on schemas");
                    return false;
                }
                char *q =
                    xasprintf("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = '%s'", obj->schema);
                bool exists = !strchr(obj->schema, '\'') && eng_query_int(s->conn, q) > 0;
                free(q);
                if (!exists) {
                    gate_err_set(err, "3F000", "schema \"%s\" does not exist", obj->schema);
                    return false;
                }
            } else {
                if (!resolve_table(s, obj, err)) return false;
                if (!su && !(s->acl && pol_owns(s->acl, obj->schema, obj->name))) {
                    gate_err_set(err, "42501", "permission denied for table %s.%s", obj->schema, obj->name);
                    snprintf(err->hint, sizeof err->hint,
                             "only the table's owner or a superuser may grant on it");
                    return false;
                }
            }
            for (int p = 0; p < g->nprivs; p++) {
                for (int r = 0; r < g->ngrantees; r++) {
                    if (!pol_grant(m, g->op == GOV_REVOKE, g->privs[p].privs, g->on_schema, obj->schema,
                                   obj->name, (const char **)g->privs[p].cols, g->privs[p].ncols,
                                   g->grantees[r].kind, g->grantees[r].name, s->user, e, sizeof e)) {
                        gate_err_set(err, strstr(e, "does not exist") ? "42704" : "XX000", "%s", e);
                        return false;
                    }
                }
            }
        }
        break;
    }
    log_event(LOG_INFO, "governance", "action=\"%s\" by=\"%s\"", st->tag, s->user);
    return true;
}
