/* acl.h — who may do what: groups, grants, ownership (stored in meta.db).
 *
 * Privileges: SELECT, INSERT, UPDATE, DELETE on tables and views (whole
 * table or single columns), the same on a schema (every table in it, now and
 * later), and CREATE on a schema. ALL expands to the four table privileges.
 * A grantee is a user, a group or PUBLIC. The creator of an object owns it and
 * has every privilege on it; superusers pass every check.
 *
 * An acl (pol_acl_t) is one user's effective rights, loaded from meta.db and
 * cached by the session; pol_version() changes whenever any grant, group or
 * owner changes, so a cached acl is reloaded at the next statement. */
#ifndef MADANG_POLICY_ACL_H
#define MADANG_POLICY_ACL_H

#include "meta/meta.h"

typedef enum { POL_SELECT = 1, POL_INSERT = 2, POL_UPDATE = 4, POL_DELETE = 8, POL_CREATE = 16 } pol_priv_t;

typedef struct {
    int privs;    /* bit set of pol_priv_t */
    char *schema; /* lower-case names as stored by the engine */
    char *table;  /* "" = every table of the schema */
    char *column; /* "" = every column */
    char *via;    /* human description: "grant to group analysts" */
} pol_grant_t;

typedef struct {
    char *schema;
    char *name;
} pol_owned_t;

typedef struct pol_acl {
    char user[64];
    bool superuser;
    uint64_t version;
    char **groups;
    int ngroups;
    pol_grant_t *grants;
    int ngrants;
    pol_owned_t *owned;
    int nowned;
} pol_acl_t;

uint64_t pol_version(void);
void pol_bump(void);

/* Loads a user's rights; NULL if the user does not exist. */
pol_acl_t *pol_acl_load(meta_t *m, const char *user);
void pol_acl_free(pol_acl_t *a);

const char *pol_priv_name(pol_priv_t p);
/* Whether the acl allows priv on column (NULL = the whole table / any use
 * that needs the table privilege). Fills why (may be NULL) with what allowed it. */
bool pol_allows(const pol_acl_t *a, pol_priv_t priv, const char *schema, const char *table,
                const char *column, char *why, size_t whylen);
/* Whether priv is granted on at least one column of the table. */
bool pol_allows_any(const pol_acl_t *a, pol_priv_t priv, const char *schema, const char *table);
bool pol_owns(const pol_acl_t *a, const char *schema, const char *name);
/* Whether the catalog shows the user the table (PostgreSQL's information_schema
 * rule): they own it or hold any privilege on it, its schema or a column of it. */
bool pol_sees(const pol_acl_t *a, const char *schema, const char *table);
/* And a column of it (NULL: every column): a privilege on the table, its schema
 * or that column. */
bool pol_sees_column(const pol_acl_t *a, const char *schema, const char *table, const char *column);
/* Whether the acl's user is a member of group. */
bool pol_in_group(const pol_acl_t *a, const char *group);

/* The owner of an object ("" schema-level), or NULL when unrecorded (created
 * before madang tracked owners, or by bootstrap: treated as owned by admin). */
char *pol_owner_of(meta_t *m, const char *schema, const char *name);
bool pol_set_owner(meta_t *m, const char *kind, const char *schema, const char *name,
                   const char *owner) MUST_CHECK;
/* Forgets an object's owner and every grant on it (DROP). */
bool pol_forget_object(meta_t *m, const char *schema, const char *name) MUST_CHECK;
bool pol_rename_object(meta_t *m, const char *schema, const char *old_name, const char *new_name) MUST_CHECK;

/* Grants and groups. err gets a message for the client. */
typedef enum { POL_GRANTEE_USER, POL_GRANTEE_GROUP, POL_GRANTEE_PUBLIC } pol_grantee_kind_t;
bool pol_grant(meta_t *m, bool revoke, int privs, bool schema_level, const char *schema, const char *table,
               const char **columns, int ncolumns, pol_grantee_kind_t kind, const char *grantee,
               const char *grantor, char *err, size_t errlen) MUST_CHECK;
bool pol_group_create(meta_t *m, const char *name, char *err, size_t errlen) MUST_CHECK;
bool pol_group_drop(meta_t *m, const char *name, bool if_exists, char *err, size_t errlen) MUST_CHECK;
bool pol_group_alter(meta_t *m, const char *group, bool add, const char **users, int nusers, char *err,
                     size_t errlen) MUST_CHECK;
bool pol_group_exists(meta_t *m, const char *name);
/* Removes a dropped user's memberships, grants and ownerships (owned objects pass to admin). */
void pol_forget_user(meta_t *m, const char *name);

#endif
