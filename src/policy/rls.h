/* rls.h — row policies, masking policies and tags (stored in meta.db).
 *
 * A row policy belongs to one table and admits rows for a user, a group or
 * PUBLIC: USING (expr) says which rows they see, WITH CHECK (expr) which rows
 * they may insert. Once a table has any row policy, a non-superuser sees only
 * the rows some policy for them admits (none: no rows).
 *
 * A masking policy is a typed expression over one argument; it applies to a
 * column directly (ALTER TABLE … SET MASKING POLICY) or through a tag the
 * column carries (ALTER TAG … SET MASKING POLICY). A column's own mask wins;
 * among tags, the first by tag name whose policy takes the column's type.
 *
 * The set of all of them is small and read often: rls_load reads it whole,
 * and sessions keep it until pol_version() moves (every change bumps it). */
#ifndef MADANG_POLICY_RLS_H
#define MADANG_POLICY_RLS_H

#include "policy/acl.h"

typedef struct {
    char *name, *schema, *table;
    char *command; /* ALL, SELECT, INSERT */
    char *grantee_kind, *grantee;
    char *using_expr, *check_expr; /* NULL when absent */
    char *owner, *created_at;
} rls_policy_t;

typedef struct {
    char *name, *arg, *type, *body, *owner, *created_at;
} rls_mask_t;

typedef struct {
    char *schema, *table, *column, *value; /* value: a masking policy or a tag name */
} rls_colref_t;

typedef struct {
    char *name, *mask, *owner, *created_at; /* mask NULL when the tag has none */
} rls_tag_t;

typedef struct rls_set {
    uint64_t version;
    rls_policy_t *pol;
    int npol;
    rls_mask_t *mask;
    int nmask;
    rls_colref_t *colmask;
    int ncolmask;
    rls_tag_t *tag;
    int ntag;
    rls_colref_t *coltag; /* ordered by tag name */
    int ncoltag;
} rls_set_t;

rls_set_t *rls_load(meta_t *m); /* NULL if meta.db cannot be read */
void rls_free(rls_set_t *r);

/* Whether the policy is for the acl's user (directly, by group, or PUBLIC). */
bool rls_policy_applies(const rls_policy_t *p, const pol_acl_t *a);
bool rls_has_row_policies(const rls_set_t *r, const char *schema, const char *table);
/* Whether any mask or tag with a mask touches the table (cheap pre-check). */
bool rls_may_mask(const rls_set_t *r, const char *schema, const char *table);
const rls_mask_t *rls_mask_named(const rls_set_t *r, const char *name);
/* The mask for a column of the given type (DuckDB's type name), or NULL.
 * via gets "column" or "tag <name>". A column's own mask whose type does not
 * match is returned anyway (the rewrite then fails closed with a clear error). */
const rls_mask_t *rls_column_mask(const rls_set_t *r, const char *schema, const char *table,
                                  const char *column, const char *type, char *via, size_t vialen);

#endif
