/* acl.c — groups, grants and ownership in meta.db, and the checks on them.
 *
 * Grants are stored one row per privilege (ALL becomes four rows) so that a
 * REVOKE of one privilege is a DELETE of one row, as in PostgreSQL. */
#include "policy/acl.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_ullong g_version = 1;

uint64_t pol_version(void)
{
    return atomic_load(&g_version);
}

void pol_bump(void)
{
    atomic_fetch_add(&g_version, 1);
}

const char *pol_priv_name(pol_priv_t p)
{
    switch (p) {
    case POL_SELECT:
        return "SELECT";
    case POL_INSERT:
        return "INSERT";
    case POL_UPDATE:
        return "UPDATE";
    case POL_DELETE:
        return "DELETE";
    case POL_CREATE:
        return "CREATE";
    }
    return "?";
}

static int priv_bit(const char *name)
{
    if (!strcmp(name, "SELECT")) return POL_SELECT;
    if (!strcmp(name, "INSERT")) return POL_INSERT;
    if (!strcmp(name, "UPDATE")) return POL_UPDATE;
    if (!strcmp(name, "DELETE")) return POL_DELETE;
    if (!strcmp(name, "CREATE")) return POL_CREATE;
    return 0;
}

typedef struct {
    pol_acl_t *a;
    bool found;
} load_ctx_t;

static bool load_user(void *ctx, int n, const char **c)
{
    load_ctx_t *l = ctx;
    if (n >= 1) {
        l->found = true;
        l->a->superuser = c[0] && c[0][0] == '1';
    }
    return false;
}

static bool load_group(void *ctx, int n, const char **c)
{
    pol_acl_t *a = ctx;
    if (n < 1 || !c[0]) return true;
    a->groups = xrealloc(a->groups, sizeof(char *) * (size_t)(a->ngroups + 1));
    a->groups[a->ngroups++] = xstrdup(c[0]);
    return true;
}

static bool load_grant(void *ctx, int n, const char **c)
{
    pol_acl_t *a = ctx;
    if (n < 7) return true;
    /* privilege, object_kind, schema, table, column, grantee_kind, grantee */
    int bit = priv_bit(c[0]);
    if (!bit) return true;
    /* merge rows for the same object */
    for (int i = 0; i < a->ngrants; i++) {
        pol_grant_t *g = &a->grants[i];
        if (!strcmp(g->schema, c[2]) && !strcmp(g->table, c[3]) && !strcmp(g->column, c[4])) {
            g->privs |= bit;
            return true;
        }
    }
    a->grants = xrealloc(a->grants, sizeof *a->grants * (size_t)(a->ngrants + 1));
    pol_grant_t *g = &a->grants[a->ngrants++];
    g->privs = bit;
    g->schema = xstrdup(c[2]);
    g->table = xstrdup(c[3]);
    g->column = xstrdup(c[4]);
    if (!strcmp(c[5], "public"))
        g->via = xstrdup("grant to PUBLIC");
    else
        g->via = xasprintf("grant to %s %s", c[5], c[6]);
    return true;
}

static bool load_owned(void *ctx, int n, const char **c)
{
    pol_acl_t *a = ctx;
    if (n < 2) return true;
    a->owned = xrealloc(a->owned, sizeof *a->owned * (size_t)(a->nowned + 1));
    a->owned[a->nowned].schema = xstrdup(c[0]);
    a->owned[a->nowned].name = xstrdup(c[1]);
    a->nowned++;
    return true;
}

pol_acl_t *pol_acl_load(meta_t *m, const char *user)
{
    pol_acl_t *a = xcalloc(1, sizeof *a);
    snprintf(a->user, sizeof a->user, "%s", user);
    a->version = pol_version();
    load_ctx_t l = {a, false};
    const char *args[] = {user};
    if (!meta_query(m, "SELECT superuser FROM users WHERE name = ?1", 1, args, load_user, &l) || !l.found) {
        pol_acl_free(a);
        return NULL;
    }
    if (!meta_query(m, "SELECT group_name FROM group_members WHERE user_name = ?1 ORDER BY 1", 1, args,
                    load_group, a) ||
        !meta_query(
            m,
            "SELECT privilege, object_kind, schema_name, table_name, column_name, grantee_kind, grantee "
            "FROM grants WHERE (grantee_kind = 'user' AND grantee = ?1) OR grantee_kind = 'public' "
            "OR (grantee_kind = 'group' AND grantee IN (SELECT group_name FROM group_members WHERE user_name "
            "= ?1)) "
            "ORDER BY grantee_kind DESC, id",
            1, args, load_grant, a) ||
        !meta_query(m, "SELECT schema_name, object_name FROM owners WHERE owner = ?1", 1, args, load_owned,
                    a)) {
        pol_acl_free(a);
        return NULL;
    }
    return a;
}

void pol_acl_free(pol_acl_t *a)
{
    if (!a) return;
    for (int i = 0; i < a->ngroups; i++) free(a->groups[i]);
    free(a->groups);
    for (int i = 0; i < a->ngrants; i++) {
        free(a->grants[i].schema);
        free(a->grants[i].table);
        free(a->grants[i].column);
        free(a->grants[i].via);
    }
    free(a->grants);
    for (int i = 0; i < a->nowned; i++) {
        free(a->owned[i].schema);
        free(a->owned[i].name);
    }
    free(a->owned);
    free(a);
}

bool pol_in_group(const pol_acl_t *a, const char *group)
{
    for (int i = 0; i < a->ngroups; i++)
        if (!strcmp(a->groups[i], group)) return true;
    return false;
}

bool pol_owns(const pol_acl_t *a, const char *schema, const char *name)
{
    for (int i = 0; i < a->nowned; i++)
        if (!strcmp(a->owned[i].schema, schema) && !strcmp(a->owned[i].name, name)) return true;
    return false;
}

bool pol_allows(const pol_acl_t *a, pol_priv_t priv, const char *schema, const char *table,
                const char *column, char *why, size_t whylen)
{
    if (a->superuser) {
        if (why) snprintf(why, whylen, "superuser");
        return true;
    }
    if (table && pol_owns(a, schema, table)) {
        if (why) snprintf(why, whylen, "owner");
        return true;
    }
    for (int i = 0; i < a->ngrants; i++) {
        const pol_grant_t *g = &a->grants[i];
        if (!(g->privs & (int)priv) || strcmp(g->schema, schema)) continue;
        if (g->table[0] == '\0') { /* schema-wide */
            if (priv == POL_CREATE || table) {
                if (why) snprintf(why, whylen, "%s on schema %s", g->via, g->schema);
                return true;
            }
            continue;
        }
        if (!table || strcmp(g->table, table)) continue;
        if (g->column[0] == '\0' || (column && !strcmp(g->column, column))) {
            if (why)
                snprintf(why, whylen, "%s on %s.%s%s%s", g->via, g->schema, g->table, g->column[0] ? "." : "",
                         g->column);
            return true;
        }
    }
    return false;
}

bool pol_allows_any(const pol_acl_t *a, pol_priv_t priv, const char *schema, const char *table)
{
    if (pol_allows(a, priv, schema, table, NULL, NULL, 0)) return true;
    for (int i = 0; i < a->ngrants; i++) {
        const pol_grant_t *g = &a->grants[i];
        if ((g->privs & (int)priv) && !strcmp(g->schema, schema) && !strcmp(g->table, table)) return true;
    }
    return false;
}

static const pol_priv_t TABLE_PRIVS[] = {POL_SELECT, POL_INSERT, POL_UPDATE, POL_DELETE};

bool pol_sees(const pol_acl_t *a, const char *schema, const char *table)
{
    for (size_t i = 0; i < ARRAY_LEN(TABLE_PRIVS); i++)
        if (pol_allows_any(a, TABLE_PRIVS[i], schema, table)) return true;
    return false;
}

bool pol_sees_column(const pol_acl_t *a, const char *schema, const char *table, const char *column)
{
    for (size_t i = 0; i < ARRAY_LEN(TABLE_PRIVS); i++)
        if (pol_allows(a, TABLE_PRIVS[i], schema, table, column, NULL, 0)) return true;
    return false;
}

static bool first_col(void *ctx, int n, const char **c)
{
    char **out = ctx;
    if (n > 0 && c[0]) *out = xstrdup(c[0]);
    return false;
}

char *pol_owner_of(meta_t *m, const char *schema, const char *name)
{
    char *owner = NULL;
    const char *args[] = {schema, name};
    if (!meta_query(m, "SELECT owner FROM owners WHERE schema_name = ?1 AND object_name = ?2", 2, args,
                    first_col, &owner))
        return NULL;
    return owner;
}

bool pol_set_owner(meta_t *m, const char *kind, const char *schema, const char *name, const char *owner)
{
    const char *args[] = {kind, schema, name, owner};
    int n =
        meta_exec(m,
                  "INSERT INTO owners(object_kind, schema_name, object_name, owner) VALUES (?1, ?2, ?3, ?4) "
                  "ON CONFLICT(schema_name, object_name) DO UPDATE SET owner = ?4, object_kind = ?1",
                  4, args, NULL, 0);
    pol_bump();
    return n >= 0;
}

/* Ends a change begun with meta_begin: commit on success, else roll back; any
 * change to grants, groups or owners moves pol_version(). */
static bool finish(meta_t *m, bool ok)
{
    if (ok)
        ok = meta_commit(m);
    else
        meta_rollback(m);
    pol_bump();
    return ok;
}

bool pol_forget_object(meta_t *m, const char *schema, const char *name)
{
    const char *args[] = {schema, name};
    bool ok = true;
    if (!meta_begin(m)) return false;
    if (name[0]) {
        static const char *const del[] = {
            "DELETE FROM grants WHERE schema_name = ?1 AND table_name = ?2",
            "DELETE FROM owners WHERE schema_name = ?1 AND object_name = ?2",
            "DELETE FROM row_policies WHERE schema_name = ?1 AND table_name = ?2",
            "DELETE FROM column_masks WHERE schema_name = ?1 AND table_name = ?2",
            "DELETE FROM column_tags WHERE schema_name = ?1 AND table_name = ?2",
        };
        for (size_t i = 0; i < ARRAY_LEN(del) && ok; i++) ok = meta_exec(m, del[i], 2, args, NULL, 0) >= 0;
    } else {
        static const char *const del[] = {
            "DELETE FROM grants WHERE schema_name = ?1",
            "DELETE FROM owners WHERE schema_name = ?1",
            "DELETE FROM row_policies WHERE schema_name = ?1",
            "DELETE FROM column_masks WHERE schema_name = ?1",
            "DELETE FROM column_tags WHERE schema_name = ?1",
        };
        for (size_t i = 0; i < ARRAY_LEN(del) && ok; i++) ok = meta_exec(m, del[i], 1, args, NULL, 0) >= 0;
    }
    return finish(m, ok);
}

bool pol_rename_object(meta_t *m, const char *schema, const char *old_name, const char *new_name)
{
    const char *args[] = {schema, old_name, new_name};
    if (!meta_begin(m)) return false;
    static const char *const upd[] = {
        "UPDATE grants SET table_name = ?3 WHERE schema_name = ?1 AND table_name = ?2",
        "UPDATE owners SET object_name = ?3 WHERE schema_name = ?1 AND object_name = ?2",
        "UPDATE row_policies SET table_name = ?3 WHERE schema_name = ?1 AND table_name = ?2",
        "UPDATE column_masks SET table_name = ?3 WHERE schema_name = ?1 AND table_name = ?2",
        "UPDATE column_tags SET table_name = ?3 WHERE schema_name = ?1 AND table_name = ?2",
    };
    bool ok = true;
    for (size_t i = 0; i < ARRAY_LEN(upd) && ok; i++) ok = meta_exec(m, upd[i], 3, args, NULL, 0) >= 0;
    return finish(m, ok);
}

static bool exists_cb(void *ctx, int n, const char **c)
{
    UNUSED(n);
    UNUSED(c);
    *(bool *)ctx = true;
    return false;
}

static bool row_exists(meta_t *m, const char *sql, const char *arg)
{
    bool found = false;
    const char *args[] = {arg};
    if (!meta_query(m, sql, 1, args, exists_cb, &found)) return false;
    return found;
}

bool pol_group_exists(meta_t *m, const char *name)
{
    return row_exists(m, "SELECT 1 FROM groups WHERE name = ?1", name);
}

bool pol_grant(meta_t *m, bool revoke, int privs, bool schema_level, const char *schema, const char *table,
               const char **columns, int ncolumns, pol_grantee_kind_t kind, const char *grantee,
               const char *grantor, char *err, size_t errlen)
{
    const char *kind_s = kind == POL_GRANTEE_USER ? "user" : kind == POL_GRANTEE_GROUP ? "group" : "public";
    const char *who = kind == POL_GRANTEE_PUBLIC ? "" : grantee;
    if (kind == POL_GRANTEE_USER && !row_exists(m, "SELECT 1 FROM users WHERE name = ?1", grantee)) {
        snprintf(err, errlen, "role \"%s\" does not exist", grantee);
        return false;
    }
    if (kind == POL_GRANTEE_GROUP && !pol_group_exists(m, grantee)) {
        snprintf(err, errlen, "group \"%s\" does not exist", grantee);
        return false;
    }
    if (!meta_begin(m)) {
        snprintf(err, errlen, "metadata store is busy");
        return false;
    }
    bool ok = true;
    static const pol_priv_t all[] = {POL_SELECT, POL_INSERT, POL_UPDATE, POL_DELETE, POL_CREATE};
    for (size_t i = 0; i < ARRAY_LEN(all) && ok; i++) {
        if (!(privs & (int)all[i])) continue;
        int ncol = ncolumns > 0 ? ncolumns : 1;
        for (int c = 0; c < ncol && ok; c++) {
            const char *col = ncolumns > 0 ? columns[c] : "";
            const char *args[] = {kind_s,
                                  who,
                                  pol_priv_name(all[i]),
                                  schema_level ? "schema" : "table",
                                  schema,
                                  schema_level ? "" : table,
                                  col,
                                  grantor};
            if (revoke) {
                /* REVOKE on a table without columns also removes its column grants */
                const char *sql =
                    ncolumns > 0 || schema_level
                        ? "DELETE FROM grants WHERE grantee_kind = ?1 AND grantee = ?2 AND privilege = ?3 "
                          "AND object_kind = ?4 AND schema_name = ?5 AND table_name = ?6 AND column_name = ?7"
                        : "DELETE FROM grants WHERE grantee_kind = ?1 AND grantee = ?2 AND privilege = ?3 "
                          "AND object_kind = ?4 AND schema_name = ?5 AND table_name = ?6";
                ok = meta_exec(m, sql, ncolumns > 0 || schema_level ? 7 : 6, args, err, errlen) >= 0;
            } else {
                ok = meta_exec(m,
                               "INSERT OR IGNORE INTO grants(grantee_kind, grantee, privilege, object_kind, "
                               "schema_name, "
                               "table_name, column_name, grantor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                               8, args, err, errlen) >= 0;
            }
        }
    }
    return finish(m, ok);
}

bool pol_group_create(meta_t *m, const char *name, char *err, size_t errlen)
{
    if (pol_group_exists(m, name) || row_exists(m, "SELECT 1 FROM users WHERE name = ?1", name)) {
        snprintf(err, errlen, "role \"%s\" already exists", name);
        return false;
    }
    const char *args[] = {name};
    bool ok = meta_exec(m, "INSERT INTO groups(name) VALUES (?1)", 1, args, err, errlen) > 0;
    pol_bump();
    return ok;
}

bool pol_group_drop(meta_t *m, const char *name, bool if_exists, char *err, size_t errlen)
{
    if (!pol_group_exists(m, name)) {
        if (if_exists) return true;
        snprintf(err, errlen, "group \"%s\" does not exist", name);
        return false;
    }
    if (row_exists(m, "SELECT 1 FROM groups WHERE name = ?1 AND synced = 1", name)) {
        snprintf(err, errlen, "group \"%s\" is synced from LDAP; remove it in the directory", name);
        return false;
    }
    const char *args[] = {name};
    if (!meta_begin(m)) return false;
    bool ok = meta_exec(m, "DELETE FROM grants WHERE grantee_kind = 'group' AND grantee = ?1", 1, args, err,
                        errlen) >= 0 &&
              meta_exec(m, "DELETE FROM groups WHERE name = ?1", 1, args, err, errlen) > 0;
    return finish(m, ok);
}

bool pol_group_alter(meta_t *m, const char *group, bool add, const char **users, int nusers, char *err,
                     size_t errlen)
{
    if (!pol_group_exists(m, group)) {
        snprintf(err, errlen, "group \"%s\" does not exist", group);
        return false;
    }
    if (row_exists(m, "SELECT 1 FROM groups WHERE name = ?1 AND synced = 1", group)) {
        snprintf(err, errlen, "group \"%s\" is synced from LDAP; change its members in the directory", group);
        return false;
    }
    for (int i = 0; i < nusers; i++) {
        if (!row_exists(m, "SELECT 1 FROM users WHERE name = ?1", users[i])) {
            snprintf(err, errlen, "role \"%s\" does not exist", users[i]);
            return false;
        }
    }
    if (!meta_begin(m)) return false;
    bool ok = true;
    for (int i = 0; i < nusers && ok; i++) {
        const char *args[] = {group, users[i]};
        ok = meta_exec(m,
                       add ? "INSERT OR IGNORE INTO group_members(group_name, user_name) VALUES (?1, ?2)"
                           : "DELETE FROM group_members WHERE group_name = ?1 AND user_name = ?2",
                       2, args, err, errlen) >= 0;
    }
    return finish(m, ok);
}

void pol_forget_user(meta_t *m, const char *name)
{
    const char *args[] = {name};
    if (meta_exec(m, "DELETE FROM grants WHERE grantee_kind = 'user' AND grantee = ?1", 1, args, NULL, 0) <
            0 ||
        meta_exec(m, "UPDATE owners SET owner = 'admin' WHERE owner = ?1", 1, args, NULL, 0) < 0)
        log_event(LOG_WARN, "forget_user_failed", "user=\"%s\"", name);
    pol_bump();
}
