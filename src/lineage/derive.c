/* derive.c — column lineage from the bound plan (derive.h).
 *
 * Representation: every source column met in the plan gets a number; a
 * column's lineage (info_t) is LIN__NSUB bit sets over those numbers, one per
 * subtype. Direct sets keep only the strongest subtype per source (a source
 * seen as IDENTITY and as AGGREGATION is AGGREGATION). A relation (rel_t) is
 * the output columns of an operator plus the table-wide sets that decide its
 * rows. */
#include "lineage/derive.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

#define INVALID_INDEX 18446744073709551615ULL
#define ROWID_MIN     (1ULL << 63) /* engine column ids at or above this are virtual (rowid) */

static const char *const sub_names[LIN__NSUB] = {"IDENTITY", "TRANSFORMATION", "AGGREGATION",
                                                 "JOIN",     "GROUP_BY",       "FILTER",
                                                 "SORT",     "WINDOW",         "CONDITIONAL"};

const char *lin_sub_name(lin_sub_t s)
{
    return s < LIN__NSUB ? sub_names[s] : "UNKNOWN";
}

const char *lin_type_name(lin_sub_t s)
{
    return s <= LIN_AGGREGATION ? "DIRECT" : "INDIRECT";
}

bool lin_sub_parse(const char *name, lin_sub_t *out)
{
    for (int i = 0; i < LIN__NSUB; i++)
        if (!strcmp(name, sub_names[i])) {
            *out = (lin_sub_t)i;
            return true;
        }
    return false;
}

/* ---- sets ---- */

typedef struct {
    uint64_t *b; /* LIN__NSUB * W words */
    bool delim;  /* a correlated column (a subquery's copy of an outer column) */
} info_t;

typedef struct {
    info_t *cols;
    int *leaf; /* which scan each column comes from (-1: a correlated copy) */
    int n;
    info_t rows; /* table-wide INDIRECT sets */
    bool scalar; /* exactly one row (an aggregate without GROUP BY) */
} rel_t;

typedef struct {
    long long index;
    rel_t rel;
} cte_t;

typedef struct {
    char **tables, **columns;
    int nsrc, cap;
    int W;
    const char *sql;
    size_t sqllen;
    int next_leaf;
    cte_t *ctes;
    int nctes;
    rel_t *delims[16];
    int ndelims;
    uint64_t **arena;
    size_t narena, carena;
    bool approximate;
} dctx_t;

static uint64_t *alloc_bits(dctx_t *c)
{
    if (c->narena == c->carena) {
        c->carena = c->carena ? c->carena * 2 : 64;
        c->arena = xrealloc(c->arena, sizeof *c->arena * c->carena);
    }
    uint64_t *b = xcalloc((size_t)LIN__NSUB * (size_t)c->W, sizeof *b);
    c->arena[c->narena++] = b;
    return b;
}

static info_t info_new(dctx_t *c)
{
    info_t i = {alloc_bits(c), false};
    return i;
}

static uint64_t *set_of(const dctx_t *c, const info_t *i, int sub)
{
    return i->b + (size_t)sub * (size_t)c->W;
}

static void info_copy(dctx_t *c, info_t *dst, const info_t *src)
{
    memcpy(dst->b, src->b, sizeof(uint64_t) * (size_t)LIN__NSUB * (size_t)c->W);
    dst->delim = src->delim;
}

/* Keeps each source in its strongest direct subtype only. */
static void normalize(dctx_t *c, info_t *i)
{
    uint64_t *id = set_of(c, i, LIN_IDENTITY), *tr = set_of(c, i, LIN_TRANSFORMATION),
             *ag = set_of(c, i, LIN_AGGREGATION);
    for (int w = 0; w < c->W; w++) {
        tr[w] &= ~ag[w];
        id[w] &= ~(ag[w] | tr[w]);
    }
}

/* dst ∪= src, with direct subtypes raised to at least min. */
static void merge(dctx_t *c, info_t *dst, const info_t *src, lin_sub_t min)
{
    for (int s = 0; s < LIN__NSUB; s++) {
        int to = s <= LIN_AGGREGATION && s < (int)min ? (int)min : s;
        uint64_t *d = set_of(c, dst, to);
        const uint64_t *f = set_of(c, src, s);
        for (int w = 0; w < c->W; w++) d[w] |= f[w];
    }
    normalize(c, dst);
}

/* Every source of src (direct or indirect) into dst's set sub. */
static void merge_all_as(dctx_t *c, info_t *dst, const info_t *src, lin_sub_t sub)
{
    uint64_t *d = set_of(c, dst, sub);
    for (int s = 0; s < LIN__NSUB; s++) {
        const uint64_t *f = set_of(c, src, s);
        for (int w = 0; w < c->W; w++) d[w] |= f[w];
    }
    if (sub <= LIN_AGGREGATION) normalize(c, dst);
}

/* dst's indirect sets ∪= src's indirect sets (subtypes kept). */
static void merge_indirect(dctx_t *c, info_t *dst, const info_t *src)
{
    for (int s = LIN_JOIN; s < LIN__NSUB; s++) {
        uint64_t *d = set_of(c, dst, s);
        const uint64_t *f = set_of(c, src, s);
        for (int w = 0; w < c->W; w++) d[w] |= f[w];
    }
}

/* ---- sources ---- */

static int intern(dctx_t *c, const char *table, const char *column)
{
    for (int i = 0; i < c->nsrc; i++)
        if (!strcmp(c->tables[i], table) && !strcmp(c->columns[i], column)) return i;
    if (c->nsrc == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 32;
        c->tables = xrealloc(c->tables, sizeof(char *) * (size_t)c->cap);
        c->columns = xrealloc(c->columns, sizeof(char *) * (size_t)c->cap);
    }
    c->tables[c->nsrc] = xstrdup(table);
    c->columns[c->nsrc] = xstrdup(column);
    return c->nsrc++;
}

static const char *js(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static unsigned long long ju(json_t *v)
{
    /* plans carry 2^64-1 markers, so numbers are read as reals (authz_serialize) */
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || d >= 1e15) return INVALID_INDEX;
    return (unsigned long long)d;
}

/* The table a LOGICAL_GET reads as "schema.table", or NULL when it reads no
 * persistent relation madang tracks (table functions, TEMP and system tables). */
static char *get_source(json_t *get)
{
    const char *fn = js(get, "name");
    if (!strcmp(fn, LIN_VIEW_FN)) {
        json_t *p = json_array_get(json_object_get(get, "parameters"), 0);
        const char *v = json_string_value(json_object_get(p, "value"));
        return v ? xstrdup(v) : NULL;
    }
    if (strcmp(fn, "seq_scan") != 0) return NULL;
    json_t *fd = json_object_get(get, "function_data");
    const char *cat = js(fd, "catalog"), *schema = js(fd, "schema"), *table = js(fd, "table");
    if (!table[0] || !strcmp(cat, "temp") || !strcmp(cat, "system")) return NULL;
    return xasprintf("%s.%s", schema, table);
}

/* The column a GET's k-th column id reads, or NULL (rowid). */
static const char *get_column(json_t *get, json_t *colidx)
{
    unsigned long long ix = ju(json_is_object(colidx) ? json_object_get(colidx, "index") : colidx);
    if (ix >= ROWID_MIN) return NULL;
    return json_string_value(json_array_get(json_object_get(get, "names"), (size_t)ix));
}

static void collect_sources(dctx_t *c, json_t *n)
{
    if (json_is_object(n)) {
        if (!strcmp(js(n, "type"), "LOGICAL_GET")) {
            char *t = get_source(n);
            if (t) {
                size_t i;
                json_t *ci;
                json_array_foreach(json_object_get(n, "column_indexes"), i, ci)
                {
                    const char *col = get_column(n, ci);
                    if (col) intern(c, t, col);
                }
                free(t);
            }
        }
        const char *k;
        json_t *v;
        json_object_foreach(n, k, v) collect_sources(c, v);
    } else if (json_is_array(n)) {
        size_t i;
        json_t *v;
        json_array_foreach(n, i, v) collect_sources(c, v);
    }
}

static int source_of(dctx_t *c, const char *table, const char *column)
{
    for (int i = 0; i < c->nsrc; i++)
        if (!strcmp(c->tables[i], table) && !strcmp(c->columns[i], column)) return i;
    return -1;
}

static void set_bit(uint64_t *s, int i)
{
    s[i / 64] |= 1ULL << (i % 64);
}

/* ---- expressions ---- */

static void eval(dctx_t *c, json_t *e, const rel_t *in, info_t *out);

/* Every expression nested anywhere in j (objects without an expression class
 * are searched too: CASE checks, ORDER BY items) into out, raised to min. */
static void eval_nested(dctx_t *c, json_t *j, const rel_t *in, info_t *out, lin_sub_t min)
{
    if (json_is_object(j)) {
        if (json_object_get(j, "expression_class")) {
            info_t t = info_new(c);
            eval(c, j, in, &t);
            merge(c, out, &t, min);
            return;
        }
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) eval_nested(c, v, in, out, min);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) eval_nested(c, v, in, out, min);
    }
}

/* Whether the cast at e was written by the user (CAST(...), TRY_CAST(...),
 * x::T) rather than added by the binder: an implicit cast carries its
 * operand's position, an explicit one the position of what the user wrote. */
static bool explicit_cast(const dctx_t *c, json_t *e)
{
    unsigned long long at = ju(json_object_get(e, "query_location"));
    if (at >= c->sqllen) return false;
    const char *p = c->sql + at;
    if (p[0] == ':' && p[1] == ':') return true;
    size_t skip = !strncasecmp(p, "TRY_CAST", 8) ? 8 : !strncasecmp(p, "CAST", 4) ? 4 : 0;
    if (!skip) return false;
    p += skip;
    while (isspace((unsigned char)*p)) p++;
    return *p == '(';
}

static bool is_error_call(json_t *e)
{
    while (e && !strcmp(js(e, "expression_class"), "BOUND_CAST")) e = json_object_get(e, "child");
    return e && !strcmp(js(e, "expression_class"), "BOUND_FUNCTION") && !strcmp(js(e, "name"), "error");
}

static void eval(dctx_t *c, json_t *e, const rel_t *in, info_t *out)
{
    const char *cls = js(e, "expression_class");
    if (!strcmp(cls, "BOUND_REF")) {
        unsigned long long i = ju(json_object_get(e, "index"));
        if (in && i < (unsigned long long)in->n) info_copy(c, out, &in->cols[i]);
        return;
    }
    if (!strcmp(cls, "BOUND_CONSTANT") || !strcmp(cls, "BOUND_PARAMETER") || !strcmp(cls, "BOUND_DEFAULT") ||
        !strcmp(cls, "BOUND_LAMBDA_REF"))
        return;
    if (!strcmp(cls, "BOUND_CAST")) {
        json_t *child = json_object_get(e, "child");
        info_t t = info_new(c);
        eval(c, child, in, &t);
        if (explicit_cast(c, e)) {
            merge(c, out, &t, LIN_TRANSFORMATION);
        } else {
            info_copy(c, out, &t); /* the binder's coercion: the value is taken as it is */
        }
        return;
    }
    if (!strcmp(cls, "BOUND_CASE")) {
        /* branches that raise error() give no value; when one value branch
         * is left (the engine's guard around a scalar subquery's value) the
         * value is taken as it is */
        json_t *checks = json_object_get(e, "case_checks"), *els = json_object_get(e, "else_expr");
        int values = els && !is_error_call(els);
        size_t i;
        json_t *chk;
        json_array_foreach(checks, i, chk) values += !is_error_call(json_object_get(chk, "then_expr"));
        lin_sub_t floor = values == 1 ? LIN_IDENTITY : LIN_TRANSFORMATION;
        json_array_foreach(checks, i, chk)
        {
            info_t w = info_new(c);
            eval_nested(c, json_object_get(chk, "when_expr"), in, &w, LIN_IDENTITY);
            merge_all_as(c, out, &w, LIN_CONDITIONAL);
            if (!is_error_call(json_object_get(chk, "then_expr")))
                eval_nested(c, json_object_get(chk, "then_expr"), in, out, floor);
        }
        if (els && !is_error_call(els)) eval_nested(c, els, in, out, floor);
        return;
    }
    if (!strcmp(cls, "BOUND_OPERATOR") && !strcmp(js(e, "type"), "OPERATOR_COALESCE")) {
        info_t a = info_new(c);
        eval_nested(c, json_object_get(e, "children"), in, &a, LIN_TRANSFORMATION);
        merge(c, out, &a, LIN_TRANSFORMATION);
        merge_all_as(c, out, &a, LIN_CONDITIONAL);
        return;
    }
    if (!strcmp(cls, "BOUND_AGGREGATE")) {
        eval_nested(c, json_object_get(e, "children"), in, out, LIN_AGGREGATION);
        info_t f = info_new(c);
        eval_nested(c, json_object_get(e, "filter"), in, &f, LIN_IDENTITY);
        merge_all_as(c, out, &f, LIN_FILTER);
        info_t o = info_new(c);
        eval_nested(c, json_object_get(e, "order_bys"), in, &o, LIN_IDENTITY);
        merge_all_as(c, out, &o, LIN_SORT);
        return;
    }
    if (!strcmp(cls, "BOUND_WINDOW")) {
        bool agg = !strcmp(js(e, "type"), "WINDOW_AGGREGATE");
        eval_nested(c, json_object_get(e, "children"), in, out, agg ? LIN_AGGREGATION : LIN_TRANSFORMATION);
        info_t w = info_new(c);
        eval_nested(c, json_object_get(e, "partitions"), in, &w, LIN_IDENTITY);
        eval_nested(c, json_object_get(e, "orders"), in, &w, LIN_IDENTITY);
        merge_all_as(c, out, &w, LIN_WINDOW);
        info_t f = info_new(c);
        eval_nested(c, json_object_get(e, "filter_expr"), in, &f, LIN_IDENTITY);
        merge_all_as(c, out, &f, LIN_FILTER);
        static const char *const args[] = {"start_expr", "end_expr", "offset_expr", "default_expr"};
        for (size_t i = 0; i < ARRAY_LEN(args); i++)
            eval_nested(c, json_object_get(e, args[i]), in, out, LIN_TRANSFORMATION);
        return;
    }
    if (!strcmp(cls, "BOUND_LAMBDA")) {
        /* the body refers to the lambda's own parameters; only captures are columns */
        eval_nested(c, json_object_get(e, "captures"), in, out, LIN_TRANSFORMATION);
        return;
    }
    /* functions, operators, comparisons, conjunctions, BETWEEN, ... */
    const char *k;
    json_t *v;
    json_object_foreach(e, k, v)
    {
        if (!strcmp(k, "return_type")) continue;
        eval_nested(c, v, in, out, LIN_TRANSFORMATION);
    }
}

/* The leaves (scans) an expression's references come from. */
static void ref_leaves(json_t *j, const rel_t *in, int *leaves, int *n, int max)
{
    if (json_is_object(j)) {
        if (!strcmp(js(j, "expression_class"), "BOUND_REF")) {
            unsigned long long i = ju(json_object_get(j, "index"));
            if (i < (unsigned long long)in->n && in->leaf[i] >= 0) {
                int l = in->leaf[i];
                for (int k = 0; k < *n; k++)
                    if (leaves[k] == l) return;
                if (*n < max) leaves[(*n)++] = l;
            }
            return;
        }
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) ref_leaves(v, in, leaves, n, max);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) ref_leaves(v, in, leaves, n, max);
    }
}

/* ---- operators ---- */

static void rel_init(dctx_t *c, rel_t *r, int n)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    r->cols = xcalloc((size_t)(n ? n : 1), sizeof *r->cols);
    r->leaf = xcalloc((size_t)(n ? n : 1), sizeof *r->leaf);
    for (int i = 0; i < n; i++) r->cols[i] = info_new(c);
    r->rows = info_new(c);
}

static void rel_free(rel_t *r)
{
    free(r->cols);
    free(r->leaf);
    r->cols = NULL;
    r->leaf = NULL;
}

static void rel_copy(dctx_t *c, rel_t *dst, const rel_t *src)
{
    rel_init(c, dst, src->n);
    for (int i = 0; i < src->n; i++) {
        info_copy(c, &dst->cols[i], &src->cols[i]);
        dst->leaf[i] = src->leaf[i];
    }
    info_copy(c, &dst->rows, &src->rows);
    dst->scalar = src->scalar;
}

/* out = a ++ b */
static void rel_concat(dctx_t *c, rel_t *out, const rel_t *a, const rel_t *b)
{
    rel_init(c, out, a->n + b->n);
    for (int i = 0; i < a->n; i++) {
        info_copy(c, &out->cols[i], &a->cols[i]);
        out->leaf[i] = a->leaf[i];
    }
    for (int i = 0; i < b->n; i++) {
        info_copy(c, &out->cols[a->n + i], &b->cols[i]);
        out->leaf[a->n + i] = b->leaf[i];
    }
}

/* Keeps the columns a projection map names (an empty map keeps all). */
static void apply_map(dctx_t *c, rel_t *r, json_t *map)
{
    size_t m = json_array_size(map);
    if (!m) return;
    rel_t o;
    rel_init(c, &o, (int)m);
    for (size_t i = 0; i < m; i++) {
        unsigned long long ix = ju(json_array_get(map, i));
        if (ix < (unsigned long long)r->n) {
            info_copy(c, &o.cols[i], &r->cols[ix]);
            o.leaf[i] = r->leaf[ix];
        }
    }
    info_copy(c, &o.rows, &r->rows);
    o.scalar = r->scalar;
    rel_free(r);
    *r = o;
}

/* A one-row side of a join (a scalar subquery): what decides its rows
 * decides only the values of its columns. */
static void scope_rows_to_columns(dctx_t *c, rel_t *r)
{
    for (int i = 0; i < r->n; i++) merge_indirect(c, &r->cols[i], &r->rows);
    memset(r->rows.b, 0, sizeof(uint64_t) * (size_t)LIN__NSUB * (size_t)c->W);
}

/* Table-wide effect of expressions (a WHERE, an ON): each conjunct is a JOIN
 * when it compares columns of two different scans, a FILTER otherwise
 * (forced: the subtype to use regardless). */
static void add_predicates(dctx_t *c, rel_t *out, json_t *exprs, const rel_t *in, int forced)
{
    size_t i;
    json_t *e;
    json_t *list = json_is_array(exprs) ? exprs : NULL;
    size_t n = list ? json_array_size(list) : (exprs && !json_is_null(exprs) ? 1 : 0);
    for (i = 0; i < n; i++) {
        e = list ? json_array_get(list, i) : exprs;
        info_t t = info_new(c);
        eval_nested(c, e, in, &t, LIN_IDENTITY);
        int sub = forced;
        if (sub < 0) {
            int leaves[4], nl = 0;
            ref_leaves(e, in, leaves, &nl, 4);
            sub = nl >= 2 ? LIN_JOIN : LIN_FILTER;
        }
        merge_all_as(c, &out->rows, &t, (lin_sub_t)sub);
    }
}

static void op(dctx_t *c, json_t *n, rel_t *out);

static void child(dctx_t *c, json_t *n, int i, rel_t *out)
{
    json_t *ch = json_array_get(json_object_get(n, "children"), (size_t)i);
    if (ch) {
        op(c, ch, out);
    } else {
        rel_init(c, out, 0);
    }
}

static void op_get(dctx_t *c, json_t *n, rel_t *out)
{
    json_t *ids = json_object_get(n, "column_indexes");
    json_t *proj = json_object_get(n, "projection_ids");
    size_t nids = json_array_size(ids), np = json_array_size(proj);
    rel_init(c, out, (int)(np ? np : nids));
    int leaf = c->next_leaf++;
    char *t = get_source(n);
    for (int i = 0; i < out->n; i++) {
        out->leaf[i] = leaf;
        size_t k = np ? (size_t)ju(json_array_get(proj, (size_t)i)) : (size_t)i;
        const char *col = t ? get_column(n, json_array_get(ids, k)) : NULL;
        int s = col ? source_of(c, t, col) : -1;
        if (s >= 0) set_bit(set_of(c, &out->cols[i], LIN_IDENTITY), s);
    }
    /* a table function over a subquery (unnest of a column, ...) */
    if (json_array_size(json_object_get(n, "children"))) {
        rel_t in;
        child(c, n, 0, &in);
        info_t all = info_new(c);
        for (int i = 0; i < in.n; i++) merge(c, &all, &in.cols[i], LIN_TRANSFORMATION);
        for (int i = 0; i < out->n; i++) merge(c, &out->cols[i], &all, LIN_TRANSFORMATION);
        info_copy(c, &out->rows, &in.rows);
        rel_free(&in);
    }
    free(t);
}

static void op_projection(dctx_t *c, json_t *n, rel_t *out)
{
    rel_t in;
    child(c, n, 0, &in);
    json_t *ex = json_object_get(n, "expressions");
    rel_init(c, out, (int)json_array_size(ex));
    int fresh = c->next_leaf++;
    for (int i = 0; i < out->n; i++) {
        json_t *e = json_array_get(ex, (size_t)i);
        eval(c, e, &in, &out->cols[i]);
        int leaves[2], nl = 0;
        ref_leaves(e, &in, leaves, &nl, 2);
        out->leaf[i] = nl == 1 ? leaves[0] : fresh;
    }
    info_copy(c, &out->rows, &in.rows);
    out->scalar = in.scalar;
    rel_free(&in);
}

static void op_aggregate(dctx_t *c, json_t *n, rel_t *out)
{
    rel_t in;
    child(c, n, 0, &in);
    json_t *groups = json_object_get(n, "groups"), *aggs = json_object_get(n, "expressions"),
           *gfns = json_object_get(n, "grouping_functions");
    size_t ng = json_array_size(groups), na = json_array_size(aggs);
    size_t nf = ju(json_object_get(n, "groupings_index")) == INVALID_INDEX ? 0 : json_array_size(gfns);
    rel_init(c, out, (int)(ng + na + nf));
    int leaf = c->next_leaf++;
    info_copy(c, &out->rows, &in.rows);
    for (size_t i = 0; i < ng; i++) {
        json_t *g = json_array_get(groups, i);
        eval(c, g, &in, &out->cols[i]);
        /* grouping by a correlated column is how the engine decorrelates a
         * subquery, not a GROUP BY anyone wrote */
        if (!out->cols[i].delim) merge_all_as(c, &out->rows, &out->cols[i], LIN_GROUP_BY);
    }
    /* first(x) with count_star() and no GROUP BY is how the engine reads a
     * scalar subquery's one value: the value is taken as it is */
    bool scalar_subquery = ng == 0 && na == 2 && !strcmp(js(json_array_get(aggs, 0), "name"), "first") &&
                           !strcmp(js(json_array_get(aggs, 1), "name"), "count_star");
    for (size_t i = 0; i < na; i++) {
        json_t *a = json_array_get(aggs, i);
        if (scalar_subquery && i == 0)
            eval_nested(c, json_object_get(a, "children"), &in, &out->cols[ng], LIN_IDENTITY);
        else
            eval(c, a, &in, &out->cols[ng + i]);
    }
    for (int i = 0; i < out->n; i++) out->leaf[i] = leaf;
    out->scalar = ng == 0;
    rel_free(&in);
}

static void op_window(dctx_t *c, json_t *n, rel_t *out)
{
    rel_t in;
    child(c, n, 0, &in);
    json_t *ex = json_object_get(n, "expressions");
    size_t ne = json_array_size(ex);
    rel_init(c, out, in.n + (int)ne);
    int leaf = c->next_leaf++;
    for (int i = 0; i < in.n; i++) {
        info_copy(c, &out->cols[i], &in.cols[i]);
        out->leaf[i] = in.leaf[i];
    }
    for (size_t i = 0; i < ne; i++) {
        eval(c, json_array_get(ex, i), &in, &out->cols[in.n + (int)i]);
        out->leaf[in.n + (int)i] = leaf;
    }
    info_copy(c, &out->rows, &in.rows);
    rel_free(&in);
}

static void op_join(dctx_t *c, json_t *n, rel_t *out)
{
    const char *type = js(n, "type");
    const char *jt = js(n, "join_type");
    bool delim = !strcmp(type, "LOGICAL_DELIM_JOIN");
    rel_t l, r, dl;
    child(c, n, 0, &l);
    if (delim) {
        /* the right side reads copies of these left columns through DELIM_GET */
        json_t *dup = json_object_get(n, "duplicate_eliminated_columns");
        rel_init(c, &dl, (int)json_array_size(dup));
        for (int i = 0; i < dl.n; i++) {
            eval(c, json_array_get(dup, (size_t)i), &l, &dl.cols[i]);
            dl.cols[i].delim = true;
            dl.leaf[i] = -1;
        }
        if (c->ndelims < (int)ARRAY_LEN(c->delims)) c->delims[c->ndelims] = &dl;
        c->ndelims++;
    }
    child(c, n, 1, &r);
    if (delim) {
        c->ndelims--;
        rel_free(&dl);
    }
    apply_map(c, &l, json_object_get(n, "left_projection_map"));
    apply_map(c, &r, json_object_get(n, "right_projection_map"));

    /* the join condition's sources */
    info_t cond = info_new(c);
    bool correlated = false; /* a join on a subquery's copy of outer columns: the engine's decorrelation */
    size_t i;
    json_t *cd;
    json_array_foreach(json_object_get(n, "conditions"), i, cd)
    {
        info_t a = info_new(c), b = info_new(c);
        eval(c, json_object_get(cd, "left"), &l, &a);
        eval(c, json_object_get(cd, "right"), &r, &b);
        correlated |= a.delim || b.delim;
        merge(c, &cond, &a, LIN_IDENTITY);
        merge(c, &cond, &b, LIN_IDENTITY);
    }
    rel_t both;
    rel_concat(c, &both, &l, &r);
    eval_nested(c, json_object_get(n, "predicate"), &both, &cond, LIN_IDENTITY);
    eval_nested(c, json_object_get(n, "condition"), &both, &cond, LIN_IDENTITY); /* ANY join */
    rel_free(&both);

    if (!strcmp(jt, "MARK")) {
        rel_init(c, out, l.n + 1);
        for (int k = 0; k < l.n; k++) {
            info_copy(c, &out->cols[k], &l.cols[k]);
            out->leaf[k] = l.leaf[k];
        }
        info_t *m = &out->cols[l.n];
        merge(c, m, &cond, LIN_TRANSFORMATION);
        merge_indirect(c, m, &r.rows);
        out->leaf[l.n] = c->next_leaf++;
        info_copy(c, &out->rows, &l.rows);
    } else if (!strcmp(jt, "SEMI") || !strcmp(jt, "ANTI") || !strcmp(jt, "RIGHT_SEMI") ||
               !strcmp(jt, "RIGHT_ANTI")) {
        bool right = !strncmp(jt, "RIGHT_", 6);
        rel_copy(c, out, right ? &r : &l);
        merge_all_as(c, &out->rows, &cond, LIN_FILTER);
        merge_all_as(c, &out->rows, right ? &l.rows : &r.rows, LIN_FILTER);
    } else if (!strcmp(jt, "SINGLE")) {
        /* a scalar subquery: its filters and the correlation shape its value only */
        for (int k = 0; k < r.n; k++) {
            merge_indirect(c, &r.cols[k], &r.rows);
            merge_all_as(c, &r.cols[k], &cond, LIN_FILTER);
        }
        rel_concat(c, out, &l, &r);
        info_copy(c, &out->rows, &l.rows);
    } else {
        if (l.scalar) scope_rows_to_columns(c, &l);
        if (r.scalar) scope_rows_to_columns(c, &r);
        rel_concat(c, out, &l, &r);
        info_copy(c, &out->rows, &l.rows);
        merge_indirect(c, &out->rows, &r.rows);
        merge_all_as(c, &out->rows, &cond, delim || correlated ? LIN_FILTER : LIN_JOIN);
    }
    rel_free(&l);
    rel_free(&r);
}

static void op_cross(dctx_t *c, json_t *n, rel_t *out)
{
    rel_t l, r;
    child(c, n, 0, &l);
    child(c, n, 1, &r);
    if (l.scalar) scope_rows_to_columns(c, &l);
    if (r.scalar) scope_rows_to_columns(c, &r);
    rel_concat(c, out, &l, &r);
    info_copy(c, &out->rows, &l.rows);
    merge_indirect(c, &out->rows, &r.rows);
    out->scalar = l.scalar && r.scalar;
    rel_free(&l);
    rel_free(&r);
}

static void op_setop(dctx_t *c, json_t *n, rel_t *out)
{
    const char *type = js(n, "type");
    bool except = !strcmp(type, "LOGICAL_EXCEPT");
    rel_t l, r;
    child(c, n, 0, &l);
    child(c, n, 1, &r);
    int cols = (int)ju(json_object_get(n, "column_count"));
    if (cols < 0 || cols > l.n) cols = l.n;
    rel_init(c, out, cols);
    int leaf = c->next_leaf++;
    info_copy(c, &out->rows, &l.rows);
    for (int i = 0; i < cols; i++) {
        info_copy(c, &out->cols[i], &l.cols[i]);
        out->cols[i].delim = false;
        out->leaf[i] = leaf;
        if (i < r.n) {
            if (except) {
                merge_all_as(c, &out->rows, &r.cols[i], LIN_FILTER); /* rows of the right side remove rows */
            } else {
                merge(c, &out->cols[i], &r.cols[i], LIN_IDENTITY);
            }
        }
    }
    if (except)
        merge_all_as(c, &out->rows, &r.rows, LIN_FILTER);
    else
        merge_indirect(c, &out->rows, &r.rows);
    rel_free(&l);
    rel_free(&r);
}

static cte_t *cte_find(dctx_t *c, long long index)
{
    for (int i = c->nctes - 1; i >= 0; i--)
        if (c->ctes[i].index == index) return &c->ctes[i];
    return NULL;
}

static cte_t *cte_add(dctx_t *c, long long index)
{
    c->ctes = xrealloc(c->ctes, sizeof *c->ctes * (size_t)(c->nctes + 1));
    cte_t *t = &c->ctes[c->nctes++];
    t->index = index;
    memset(&t->rel, 0, sizeof t->rel);
    return t;
}

static void op_cte(dctx_t *c, json_t *n, rel_t *out)
{
    long long idx = (long long)ju(json_object_get(n, "table_index"));
    rel_t def;
    child(c, n, 0, &def);
    cte_t *t = cte_add(c, idx);
    t->rel = def;
    child(c, n, 1, out);
}

static void op_recursive_cte(dctx_t *c, json_t *n, rel_t *out)
{
    long long idx = (long long)ju(json_object_get(n, "table_index"));
    rel_t anchor;
    child(c, n, 0, &anchor);
    cte_t *t = cte_add(c, idx);
    size_t slot = (size_t)(t - c->ctes);
    rel_copy(c, &c->ctes[slot].rel, &anchor);
    /* two rounds reach what a recursion that passes columns along can reach */
    for (int round = 0; round < 2; round++) {
        rel_t rec;
        child(c, n, 1, &rec);
        rel_t *acc = &c->ctes[slot].rel;
        for (int i = 0; i < acc->n && i < rec.n; i++) merge(c, &acc->cols[i], &rec.cols[i], LIN_IDENTITY);
        merge_indirect(c, &acc->rows, &rec.rows);
        rel_free(&rec);
    }
    rel_copy(c, out, &c->ctes[slot].rel);
    int leaf = c->next_leaf++;
    for (int i = 0; i < out->n; i++) out->leaf[i] = leaf;
    rel_free(&anchor);
}

static void op_cte_ref(dctx_t *c, json_t *n, rel_t *out)
{
    cte_t *t = cte_find(c, (long long)ju(json_object_get(n, "cte_index")));
    int leaf = c->next_leaf++;
    if (t) {
        rel_copy(c, out, &t->rel);
    } else {
        rel_init(c, out, (int)json_array_size(json_object_get(n, "chunk_types")));
    }
    for (int i = 0; i < out->n; i++) out->leaf[i] = leaf;
}

static void op_expression_get(dctx_t *c, json_t *n, rel_t *out)
{
    rel_t in;
    child(c, n, 0, &in);
    json_t *rows = json_object_get(n, "expressions");
    int cols = (int)json_array_size(json_object_get(n, "expr_types"));
    rel_init(c, out, cols);
    int leaf = c->next_leaf++;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        for (int k = 0; k < cols; k++) {
            info_t t = info_new(c);
            eval(c, json_array_get(row, (size_t)k), &in, &t);
            merge(c, &out->cols[k], &t, LIN_IDENTITY);
        }
    }
    for (int k = 0; k < cols; k++) out->leaf[k] = leaf;
    info_copy(c, &out->rows, &in.rows);
    rel_free(&in);
}

static void op_passthrough(dctx_t *c, json_t *n, rel_t *out)
{
    child(c, n, 0, out);
    apply_map(c, out, json_object_get(n, "projection_map"));
}

static void op(dctx_t *c, json_t *n, rel_t *out)
{
    const char *type = js(n, "type");
    if (!strcmp(type, "LOGICAL_GET")) {
        op_get(c, n, out);
    } else if (!strcmp(type, "LOGICAL_PROJECTION")) {
        op_projection(c, n, out);
    } else if (!strcmp(type, "LOGICAL_FILTER")) {
        rel_t in;
        child(c, n, 0, &in);
        rel_copy(c, out, &in);
        add_predicates(c, out, json_object_get(n, "expressions"), &in, -1);
        rel_free(&in);
        apply_map(c, out, json_object_get(n, "projection_map"));
    } else if (!strcmp(type, "LOGICAL_AGGREGATE_AND_GROUP_BY")) {
        op_aggregate(c, n, out);
    } else if (!strcmp(type, "LOGICAL_WINDOW")) {
        op_window(c, n, out);
    } else if (!strcmp(type, "LOGICAL_COMPARISON_JOIN") || !strcmp(type, "LOGICAL_DELIM_JOIN") ||
               !strcmp(type, "LOGICAL_ANY_JOIN") || !strcmp(type, "LOGICAL_ASOF_JOIN") ||
               !strcmp(type, "LOGICAL_DEPENDENT_JOIN")) {
        op_join(c, n, out);
    } else if (!strcmp(type, "LOGICAL_CROSS_PRODUCT") || !strcmp(type, "LOGICAL_POSITIONAL_JOIN")) {
        op_cross(c, n, out);
    } else if (!strcmp(type, "LOGICAL_UNION") || !strcmp(type, "LOGICAL_EXCEPT") ||
               !strcmp(type, "LOGICAL_INTERSECT")) {
        op_setop(c, n, out);
    } else if (!strcmp(type, "LOGICAL_ORDER_BY") || !strcmp(type, "LOGICAL_TOP_N")) {
        rel_t in;
        child(c, n, 0, &in);
        rel_copy(c, out, &in);
        size_t i;
        json_t *o;
        info_t s = info_new(c);
        json_array_foreach(json_object_get(n, "orders"), i, o)
            eval_nested(c, json_object_get(o, "expression"), &in, &s, LIN_IDENTITY);
        merge_all_as(c, &out->rows, &s, LIN_SORT);
        rel_free(&in);
        apply_map(c, out, json_object_get(n, "projections"));
    } else if (!strcmp(type, "LOGICAL_LIMIT") || !strcmp(type, "LOGICAL_SAMPLE") ||
               !strcmp(type, "LOGICAL_DISTINCT")) {
        op_passthrough(c, n, out);
    } else if (!strcmp(type, "LOGICAL_MATERIALIZED_CTE") || !strcmp(type, "LOGICAL_CTE")) {
        op_cte(c, n, out);
    } else if (!strcmp(type, "LOGICAL_RECURSIVE_CTE")) {
        op_recursive_cte(c, n, out);
    } else if (!strcmp(type, "LOGICAL_CTE_REF")) {
        op_cte_ref(c, n, out);
    } else if (!strcmp(type, "LOGICAL_EXPRESSION_GET")) {
        op_expression_get(c, n, out);
    } else if (!strcmp(type, "LOGICAL_DUMMY_SCAN") || !strcmp(type, "LOGICAL_EMPTY_RESULT")) {
        rel_init(c, out, (int)json_array_size(json_object_get(n, "return_types")));
    } else if (!strcmp(type, "LOGICAL_DELIM_GET")) {
        int cols = (int)json_array_size(json_object_get(n, "chunk_types"));
        rel_init(c, out, cols);
        if (c->ndelims > 0 && c->ndelims <= (int)ARRAY_LEN(c->delims)) {
            rel_t *d = c->delims[c->ndelims - 1];
            for (int i = 0; i < cols && i < d->n; i++) info_copy(c, &out->cols[i], &d->cols[i]);
        }
        for (int i = 0; i < cols; i++) out->leaf[i] = -1;
    } else if (!strcmp(type, "LOGICAL_UNNEST")) {
        rel_t in;
        child(c, n, 0, &in);
        json_t *ex = json_object_get(n, "expressions");
        size_t ne = json_array_size(ex);
        rel_init(c, out, in.n + (int)ne);
        for (int i = 0; i < in.n; i++) {
            info_copy(c, &out->cols[i], &in.cols[i]);
            out->leaf[i] = in.leaf[i];
        }
        for (size_t i = 0; i < ne; i++) {
            eval_nested(c, json_array_get(ex, i), &in, &out->cols[in.n + (int)i], LIN_TRANSFORMATION);
            out->leaf[in.n + (int)i] = in.n ? in.leaf[0] : -1;
        }
        info_copy(c, &out->rows, &in.rows);
        rel_free(&in);
    } else {
        /* an operator madang does not follow column by column: every output
         * column is made from everything below it */
        c->approximate = true;
        log_event(LOG_DEBUG, "lineage_unknown_operator", "type=%s", type);
        json_t *kids = json_object_get(n, "children");
        info_t all = info_new(c);
        info_t rows = info_new(c);
        int ncols = (int)json_array_size(json_object_get(n, "expressions"));
        for (size_t i = 0; i < json_array_size(kids); i++) {
            rel_t in;
            child(c, n, (int)i, &in);
            for (int k = 0; k < in.n; k++) merge(c, &all, &in.cols[k], LIN_TRANSFORMATION);
            merge_indirect(c, &rows, &in.rows);
            if (i == 0 && !ncols) ncols = in.n;
            rel_free(&in);
        }
        rel_init(c, out, ncols);
        int leaf = c->next_leaf++;
        for (int k = 0; k < ncols; k++) {
            info_copy(c, &out->cols[k], &all);
            out->leaf[k] = leaf;
        }
        info_copy(c, &out->rows, &rows);
    }
}

/* ---- the written target ---- */

lin_t *lin_new(const char *kind, const char *target)
{
    lin_t *l = xcalloc(1, sizeof *l);
    snprintf(l->kind, sizeof l->kind, "%s", kind);
    l->target = xstrdup(target);
    return l;
}

void lin_add_edge(lin_t *l, const char *target_column, const char *source_table, const char *source_column,
                  lin_sub_t sub)
{
    bool direct = sub <= LIN_AGGREGATION;
    for (int i = 0; i < l->nedges; i++) {
        lin_edge_t *e = &l->edges[i];
        bool same_kind = direct ? e->sub <= LIN_AGGREGATION : e->sub == sub;
        if (same_kind && !strcmp(e->source_table, source_table) &&
            (e->target_column ? target_column && !strcmp(e->target_column, target_column) : !target_column) &&
            (e->source_column ? source_column && !strcmp(e->source_column, source_column) : !source_column)) {
            if (direct && sub > e->sub) e->sub = sub; /* one DIRECT edge per pair: the strongest */
            return;
        }
    }
    l->edges = xrealloc(l->edges, sizeof *l->edges * (size_t)(l->nedges + 1));
    lin_edge_t *e = &l->edges[l->nedges++];
    e->target_column = target_column ? xstrdup(target_column) : NULL;
    e->source_table = xstrdup(source_table);
    e->source_column = source_column ? xstrdup(source_column) : NULL;
    e->sub = sub;
}

lin_t *lin_copy(const lin_t *l)
{
    lin_t *c = lin_new(l->kind, l->target);
    c->redefines = l->redefines;
    c->approximate = l->approximate;
    for (int i = 0; i < l->nedges; i++)
        lin_add_edge(c, l->edges[i].target_column, l->edges[i].source_table, l->edges[i].source_column,
                     l->edges[i].sub);
    return c;
}

void lin_free(lin_t *l)
{
    if (!l) return;
    for (int i = 0; i < l->nedges; i++) {
        free(l->edges[i].target_column);
        free(l->edges[i].source_table);
        free(l->edges[i].source_column);
    }
    free(l->edges);
    free(l->target);
    free(l);
}

static bool has_bit(const uint64_t *s, int i)
{
    return (s[i / 64] >> (i % 64)) & 1;
}

/* Edges of one target column (NULL: table-wide, from the rows sets). Column
 * edges that repeat a table-wide one add nothing and are left out. */
static void emit(dctx_t *c, lin_t *l, const char *col, const info_t *i, const info_t *rows)
{
    for (int s = 0; s < LIN__NSUB; s++) {
        const uint64_t *set = set_of(c, i, s);
        for (int k = 0; k < c->nsrc; k++) {
            if (!has_bit(set, k)) continue;
            if (col && s > LIN_AGGREGATION && rows && has_bit(set_of(c, rows, s), k)) continue;
            lin_add_edge(l, col, c->tables[k], c->columns[k], (lin_sub_t)s);
        }
    }
}

static void emit_rows(dctx_t *c, lin_t *l, const info_t *rows)
{
    for (int s = LIN_JOIN; s < LIN__NSUB; s++) {
        const uint64_t *set = set_of(c, rows, s);
        for (int k = 0; k < c->nsrc; k++)
            if (has_bit(set, k)) lin_add_edge(l, NULL, c->tables[k], c->columns[k], (lin_sub_t)s);
    }
}

static char *table_name(json_t *info)
{
    const char *cat = js(info, "catalog"), *schema = js(info, "schema"), *table = js(info, "table");
    if (!table[0] || !strcmp(cat, "temp")) return NULL;
    return xasprintf("%s.%s", schema[0] ? schema : "main", table);
}

static const char *column_name(json_t *info, unsigned long long i)
{
    return json_string_value(json_object_get(
        json_array_get(json_object_get(json_object_get(info, "columns"), "columns"), (size_t)i), "name"));
}

static void dctx_init(dctx_t *c, json_t *root, const char *sql)
{
    memset(c, 0, sizeof *c);
    c->sql = sql ? sql : "";
    c->sqllen = strlen(c->sql);
    collect_sources(c, root);
    c->W = (c->nsrc + 63) / 64;
    if (c->W == 0) c->W = 1;
}

static void dctx_free(dctx_t *c)
{
    for (int i = 0; i < c->nsrc; i++) {
        free(c->tables[i]);
        free(c->columns[i]);
    }
    free(c->tables);
    free(c->columns);
    for (int i = 0; i < c->nctes; i++) rel_free(&c->ctes[i].rel);
    free(c->ctes);
    for (size_t i = 0; i < c->narena; i++) free(c->arena[i]);
    free(c->arena);
}

/* A target column i ← value v of the child (plus its row effects). */
static void map_column(dctx_t *c, lin_t *l, json_t *tinfo, unsigned long long col, const info_t *v,
                       const info_t *rows)
{
    const char *name = column_name(tinfo, col);
    if (name) emit(c, l, name, v, rows);
}

static json_t *first_plan(json_t *plan)
{
    json_t *plans = json_object_get(plan, "plans");
    return plans ? json_array_get(plans, 0) : plan;
}

lin_t *lin_from_plan(json_t *plan, const char *sql)
{
    json_t *root = first_plan(plan);
    /* ... RETURNING: a projection over the write */
    while (!strcmp(js(root, "type"), "LOGICAL_PROJECTION") &&
           json_array_size(json_object_get(root, "children")) == 1)
        root = json_array_get(json_object_get(root, "children"), 0);
    const char *type = js(root, "type");
    bool ctas = !strcmp(type, "LOGICAL_CREATE_TABLE"), insert = !strcmp(type, "LOGICAL_INSERT"),
         update = !strcmp(type, "LOGICAL_UPDATE"), del = !strcmp(type, "LOGICAL_DELETE"),
         merge_into = !strcmp(type, "LOGICAL_MERGE_INTO");
    if (!ctas && !insert && !update && !del && !merge_into) return NULL;
    json_t *tinfo = json_object_get(root, ctas ? "info" : "table_info");
    char *target = table_name(tinfo);
    if (!target) return NULL;
    lin_t *l = lin_new(ctas     ? "CTAS"
                       : insert ? "INSERT"
                       : update ? "UPDATE"
                       : del    ? "DELETE"
                                : "MERGE",
                       target);
    free(target);
    l->redefines = ctas;
    if (ctas && !json_array_size(json_object_get(root, "children"))) return l; /* CREATE TABLE t (cols) */

    dctx_t c;
    dctx_init(&c, root, sql);
    rel_t in;
    child(&c, root, 0, &in);
    const info_t *rows = &in.rows;
    if (ctas) {
        for (int i = 0; i < in.n; i++) map_column(&c, l, tinfo, (unsigned long long)i, &in.cols[i], rows);
    } else if (insert) {
        json_t *map = json_object_get(json_object_get(root, "column_index_map"), "internal_vector");
        if (json_array_size(map)) {
            for (size_t i = 0; i < json_array_size(map); i++) {
                unsigned long long from = ju(json_array_get(map, i));
                if (from < (unsigned long long)in.n) map_column(&c, l, tinfo, i, &in.cols[from], rows);
            }
        } else {
            for (int i = 0; i < in.n; i++) map_column(&c, l, tinfo, (unsigned long long)i, &in.cols[i], rows);
        }
    } else if (update) {
        json_t *cols = json_object_get(root, "columns"), *ex = json_object_get(root, "expressions");
        for (size_t i = 0; i < json_array_size(cols); i++) {
            info_t v = info_new(&c);
            eval(&c, json_array_get(ex, i), &in, &v);
            map_column(&c, l, tinfo, ju(json_array_get(cols, i)), &v, rows);
        }
    } else if (merge_into) {
        info_t whens = info_new(&c);
        size_t i, j;
        json_t *a, *act;
        json_array_foreach(json_object_get(root, "actions"), i, a)
        {
            json_array_foreach(json_object_get(a, "value"), j, act)
            {
                eval_nested(&c, json_object_get(act, "condition"), &in, &whens, LIN_IDENTITY);
                const char *at = js(act, "action_type");
                json_t *ex = json_object_get(act, "expressions");
                if (!strcmp(at, "MERGE_UPDATE")) {
                    json_t *cols = json_object_get(act, "columns");
                    for (size_t k = 0; k < json_array_size(cols); k++) {
                        info_t v = info_new(&c);
                        eval(&c, json_array_get(ex, k), &in, &v);
                        map_column(&c, l, tinfo, ju(json_array_get(cols, k)), &v, rows);
                    }
                } else if (!strcmp(at, "MERGE_INSERT")) {
                    json_t *map =
                        json_object_get(json_object_get(act, "column_index_map"), "internal_vector");
                    size_t nmap = json_array_size(map);
                    size_t ncol = nmap ? nmap : json_array_size(ex);
                    for (size_t k = 0; k < ncol; k++) {
                        unsigned long long from = nmap ? ju(json_array_get(map, k)) : k;
                        if (from >= json_array_size(ex)) continue;
                        info_t v = info_new(&c);
                        eval(&c, json_array_get(ex, (size_t)from), &in, &v);
                        map_column(&c, l, tinfo, k, &v, rows);
                    }
                }
            }
        }
        merge_all_as(&c, &in.rows, &whens, LIN_CONDITIONAL);
    }
    emit_rows(&c, l, &in.rows);
    l->approximate = c.approximate;
    rel_free(&in);
    dctx_free(&c);
    return l;
}

lin_t *lin_from_query_plan(json_t *plan, const char *sql, const char *target, const char *kind, char **cols,
                           int ncols)
{
    json_t *root = first_plan(plan);
    lin_t *l = lin_new(kind, target);
    l->redefines = true;
    dctx_t c;
    dctx_init(&c, root, sql);
    rel_t in;
    op(&c, root, &in);
    for (int i = 0; i < in.n && i < ncols; i++) emit(&c, l, cols[i], &in.cols[i], &in.rows);
    emit_rows(&c, l, &in.rows);
    l->approximate = c.approximate;
    rel_free(&in);
    dctx_free(&c);
    return l;
}
