/* rls.c — reading row policies, masking policies and tags (rls.h). */
#include "policy/rls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

#define GROW(arr, n) ((arr) = xrealloc((arr), sizeof *(arr) * (size_t)((n) + 1)), &(arr)[(n)++])

static bool load_pol(void *ctx, int n, const char **c)
{
    rls_set_t *r = ctx;
    if (n < 10) return false;
    rls_policy_t *p = GROW(r->pol, r->npol);
    p->name = xstrdup(c[0]);
    p->schema = xstrdup(c[1]);
    p->table = xstrdup(c[2]);
    p->command = xstrdup(c[3]);
    p->grantee_kind = xstrdup(c[4]);
    p->grantee = xstrdup(c[5] ? c[5] : "");
    p->using_expr = dup_or_null(c[6]);
    p->check_expr = dup_or_null(c[7]);
    p->owner = xstrdup(c[8]);
    p->created_at = xstrdup(c[9]);
    return true;
}

static bool load_mask(void *ctx, int n, const char **c)
{
    rls_set_t *r = ctx;
    if (n < 6) return false;
    rls_mask_t *m = GROW(r->mask, r->nmask);
    m->name = xstrdup(c[0]);
    m->arg = xstrdup(c[1]);
    m->type = xstrdup(c[2]);
    m->body = xstrdup(c[3]);
    m->owner = xstrdup(c[4]);
    m->created_at = xstrdup(c[5]);
    return true;
}

static bool load_ref(rls_colref_t *e, const char **c)
{
    e->schema = xstrdup(c[0]);
    e->table = xstrdup(c[1]);
    e->column = xstrdup(c[2]);
    e->value = xstrdup(c[3]);
    return true;
}

static bool load_colmask(void *ctx, int n, const char **c)
{
    rls_set_t *r = ctx;
    return n >= 4 && load_ref(GROW(r->colmask, r->ncolmask), c);
}

static bool load_coltag(void *ctx, int n, const char **c)
{
    rls_set_t *r = ctx;
    return n >= 4 && load_ref(GROW(r->coltag, r->ncoltag), c);
}

static bool load_tag(void *ctx, int n, const char **c)
{
    rls_set_t *r = ctx;
    if (n < 4) return false;
    rls_tag_t *t = GROW(r->tag, r->ntag);
    t->name = xstrdup(c[0]);
    t->mask = dup_or_null(c[1]);
    t->owner = xstrdup(c[2]);
    t->created_at = xstrdup(c[3]);
    return true;
}

rls_set_t *rls_load(meta_t *m)
{
    rls_set_t *r = xcalloc(1, sizeof *r);
    r->version = pol_version();
    if (!meta_query(m,
                    "SELECT name, schema_name, table_name, command, grantee_kind, grantee, using_expr, "
                    "check_expr, owner, created_at FROM row_policies ORDER BY schema_name, table_name, name",
                    0, NULL, load_pol, r) ||
        !meta_query(m,
                    "SELECT name, arg_name, arg_type, body, owner, created_at FROM masking_policies ORDER BY "
                    "name",
                    0, NULL, load_mask, r) ||
        !meta_query(m, "SELECT schema_name, table_name, column_name, policy FROM column_masks", 0, NULL,
                    load_colmask, r) ||
        !meta_query(m, "SELECT name, masking_policy, owner, created_at FROM tags ORDER BY name", 0, NULL,
                    load_tag, r) ||
        !meta_query(m, "SELECT schema_name, table_name, column_name, tag FROM column_tags ORDER BY tag", 0,
                    NULL, load_coltag, r)) {
        rls_free(r);
        return NULL;
    }
    return r;
}

static void free_refs(rls_colref_t *e, int n)
{
    for (int i = 0; i < n; i++) {
        free(e[i].schema);
        free(e[i].table);
        free(e[i].column);
        free(e[i].value);
    }
    free(e);
}

void rls_free(rls_set_t *r)
{
    if (!r) return;
    for (int i = 0; i < r->npol; i++) {
        rls_policy_t *p = &r->pol[i];
        free(p->name);
        free(p->schema);
        free(p->table);
        free(p->command);
        free(p->grantee_kind);
        free(p->grantee);
        free(p->using_expr);
        free(p->check_expr);
        free(p->owner);
        free(p->created_at);
    }
    free(r->pol);
    for (int i = 0; i < r->nmask; i++) {
        free(r->mask[i].name);
        free(r->mask[i].arg);
        free(r->mask[i].type);
        free(r->mask[i].body);
        free(r->mask[i].owner);
        free(r->mask[i].created_at);
    }
    free(r->mask);
    for (int i = 0; i < r->ntag; i++) {
        free(r->tag[i].name);
        free(r->tag[i].mask);
        free(r->tag[i].owner);
        free(r->tag[i].created_at);
    }
    free(r->tag);
    free_refs(r->colmask, r->ncolmask);
    free_refs(r->coltag, r->ncoltag);
    free(r);
}

bool rls_policy_applies(const rls_policy_t *p, const pol_acl_t *a)
{
    if (!strcmp(p->grantee_kind, "public")) return true;
    if (!strcmp(p->grantee_kind, "user")) return !strcmp(p->grantee, a->user);
    for (int i = 0; i < a->ngroups; i++)
        if (!strcmp(a->groups[i], p->grantee)) return true;
    return false;
}

bool rls_has_row_policies(const rls_set_t *r, const char *schema, const char *table)
{
    for (int i = 0; i < r->npol; i++)
        if (!strcmp(r->pol[i].schema, schema) && !strcmp(r->pol[i].table, table)) return true;
    return false;
}

static bool tag_has_mask(const rls_set_t *r, const char *tag)
{
    for (int i = 0; i < r->ntag; i++)
        if (!strcmp(r->tag[i].name, tag)) return r->tag[i].mask != NULL;
    return false;
}

bool rls_may_mask(const rls_set_t *r, const char *schema, const char *table)
{
    for (int i = 0; i < r->ncolmask; i++)
        if (!strcmp(r->colmask[i].schema, schema) && !strcmp(r->colmask[i].table, table)) return true;
    for (int i = 0; i < r->ncoltag; i++)
        if (!strcmp(r->coltag[i].schema, schema) && !strcmp(r->coltag[i].table, table) &&
            tag_has_mask(r, r->coltag[i].value))
            return true;
    return false;
}

const rls_mask_t *rls_mask_named(const rls_set_t *r, const char *name)
{
    for (int i = 0; i < r->nmask; i++)
        if (!strcmp(r->mask[i].name, name)) return &r->mask[i];
    return NULL;
}

const rls_mask_t *rls_column_mask(const rls_set_t *r, const char *schema, const char *table,
                                  const char *column, const char *type, char *via, size_t vialen)
{
    for (int i = 0; i < r->ncolmask; i++) {
        const rls_colref_t *e = &r->colmask[i];
        if (!strcmp(e->schema, schema) && !strcmp(e->table, table) && !strcmp(e->column, column)) {
            if (via) snprintf(via, vialen, "column");
            return rls_mask_named(r, e->value);
        }
    }
    /* tags: ordered by tag name; the first whose masking policy takes this type */
    for (int i = 0; i < r->ncoltag; i++) {
        const rls_colref_t *e = &r->coltag[i];
        if (strcmp(e->schema, schema) || strcmp(e->table, table) || strcmp(e->column, column)) continue;
        for (int t = 0; t < r->ntag; t++) {
            if (strcmp(r->tag[t].name, e->value) || !r->tag[t].mask) continue;
            const rls_mask_t *m = rls_mask_named(r, r->tag[t].mask);
            if (m && !strcasecmp(m->type, type)) {
                if (via) snprintf(via, vialen, "tag %s", e->value);
                return m;
            }
        }
    }
    return NULL;
}
