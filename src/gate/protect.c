/* protect.c — row policies and masks applied by rewriting statements (protect.h). */
#include "gate/protect.h"

#include "audit/audit.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/authz.h"
#include "gate/lex.h"
#include "policy/acl.h"
#include "policy/rls.h"

#define MAX_DEPTH 16

struct protect_state {
    uint64_t set_version;
    rls_set_t *set;
    strcache_t rewrites;  /* statement → its rewrite ("" = none), at authz_version() */
    strcache_t applied;   /* statement → the policies its rewrite applied (JSON), for the audit */
    strcache_t columns;   /* "db.schema.table" → its columns ("name\x1ftype\x1e…"), at authz_version() */
    strcache_t qualified; /* policy or mask expression → qualify()'s result, at authz_version() */
    strcache_t insets;    /* a table's policy expression → with its IN subqueries as policy sets */
    json_t *set_sql;      /* policy set K's subquery (ids "s<session>.<K>") */
    bool no_sets;         /* rewriting DDL: the text outlives this session, keep IN as written */
};

static void note_applied(const char *schema, const char *table, const char *row_policies, json_t *masks);
static void splice(char **work, size_t at, size_t len, const char *with);

/* ---- engine functions ---- */

/* Registers scalar function name(params…) -> ret; n params of the types
 * given; SF_VOLATILE: never folded or moved; SF_NULLS: the function sees
 * NULL arguments (else NULL in gives NULL out). */
enum { SF_VOLATILE = 1, SF_NULLS = 2 };

static bool register_scalar(duckdb_connection c, const char *name, const duckdb_type *params, int n,
                            duckdb_type ret, duckdb_scalar_function_t fn, const void *extra, unsigned flags)
{
    duckdb_scalar_function f = duckdb_create_scalar_function();
    duckdb_scalar_function_set_name(f, name);
    for (int i = 0; i < n; i++) {
        duckdb_logical_type t = duckdb_create_logical_type(params[i]);
        duckdb_scalar_function_add_parameter(f, t);
        duckdb_destroy_logical_type(&t);
    }
    duckdb_logical_type rt = duckdb_create_logical_type(ret);
    duckdb_scalar_function_set_return_type(f, rt);
    duckdb_destroy_logical_type(&rt);
    if (extra) duckdb_scalar_function_set_extra_info(f, (void *)extra, NULL);
    if (flags & SF_VOLATILE) duckdb_scalar_function_set_volatile(f);
    if (flags & SF_NULLS) duckdb_scalar_function_set_special_handling(f);
    duckdb_scalar_function_set_function(f, fn);
    duckdb_state st = duckdb_register_scalar_function(c, f);
    duckdb_destroy_scalar_function(&f);
    return st == DuckDBSuccess;
}

static void fence_fn(duckdb_function_info info, duckdb_data_chunk in, duckdb_vector out)
{
    UNUSED(info);
    idx_t n = duckdb_data_chunk_get_size(in);
    bool *d = duckdb_vector_get_data(out);
    for (idx_t i = 0; i < n; i++) d[i] = true;
}

/* Built-in masks on strings, as engine functions (the engine's own string
 * functions are far slower for this). UTF-8 aware: lengths count code points.
 * NULL in, NULL out (the engine's default for scalar functions). */

#define STR_INLINE  12 /* strings up to this length are stored in the duckdb_string_t */
#define MASK_GROWTH 3  /* a mask's result is at most this longer than its input (email's "***") */

/* Row i of a vector is not NULL: its validity mask (duckdb.h: one bit a row,
 * set when valid; NULL when every row is) says so. */
static inline bool row_valid(const uint64_t *valid, idx_t i)
{
    return !valid || (valid[i / 64] >> (i % 64) & 1);
}

typedef size_t (*mask_fn_t)(const char *in, size_t len, int64_t n, char *out);

/* Whether the n bytes at p are all ASCII (then bytes are code points). */
static bool all_ascii(const char *p, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= (unsigned char)p[i];
    return !(acc & 0x8080808080808080ULL);
}

static size_t utf8_chars(const char *p, size_t len)
{
    if (all_ascii(p, len)) return len;
    size_t c = 0;
    for (size_t i = 0; i < len; i++) c += ((unsigned char)p[i] & 0xC0) != 0x80;
    return c;
}

/* Byte offset of code point k (k <= chars); ascii: the string is all ASCII. */
static size_t utf8_offset(const char *p, size_t len, size_t k, bool ascii)
{
    if (ascii) return k < len ? k : len;
    size_t c = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)p[i] & 0xC0) != 0x80) {
            if (c == k) return i;
            c++;
        }
    }
    return len;
}

static size_t clamp_keep(int64_t n, size_t len)
{
    return n < 0 ? 0 : (size_t)n > len ? len : (size_t)n;
}

static size_t show_last(const char *in, size_t len, int64_t n, char *out)
{
    size_t chars = utf8_chars(in, len), keep = clamp_keep(n, chars);
    size_t hide = chars - keep, from = utf8_offset(in, len, hide, chars == len);
    memset(out, '*', hide);
    memcpy(out + hide, in + from, len - from);
    return hide + len - from;
}

static size_t show_first(const char *in, size_t len, int64_t n, char *out)
{
    size_t chars = utf8_chars(in, len), keep = clamp_keep(n, chars);
    size_t upto = utf8_offset(in, len, keep, chars == len);
    memcpy(out, in, upto);
    memset(out + upto, '*', chars - keep);
    return upto + chars - keep;
}

static size_t redact(const char *in, size_t len, int64_t n, char *out)
{
    UNUSED(n);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        out[i] = ch >= 'a' && ch <= 'z'   ? 'x'
                 : ch >= 'A' && ch <= 'Z' ? 'X'
                 : ch >= '0' && ch <= '9' ? 'n'
                                          : (char)ch;
    }
    return len;
}

/* "kim@example.com" → "k***@example.com"; no '@': the first character and "***". */
static size_t email(const char *in, size_t len, int64_t n, char *out)
{
    UNUSED(n);
    if (len == 0 || in[0] == '@') {
        memcpy(out, in, len);
        return len;
    }
    size_t first = utf8_offset(in, len, 1, false);
    const char *at = memchr(in + first, '@', len - first);
    size_t rest = at ? len - (size_t)(at - in) : 0;
    memcpy(out, in, first);
    memcpy(out + first, "***", 3);
    if (at) memcpy(out + first + 3, at, rest);
    return first + 3 + rest;
}

/* The same masks on a short ASCII string held in the duckdb_string_t itself,
 * in place: for ASCII they keep the length, so only bytes change. */
typedef void (*mask_ascii_fn_t)(char *s, size_t len, int64_t n);

static void show_last_ascii(char *s, size_t len, int64_t n)
{
    for (size_t j = 0, hide = len - clamp_keep(n, len); j < hide; j++) s[j] = '*';
}

static void show_first_ascii(char *s, size_t len, int64_t n)
{
    for (size_t j = clamp_keep(n, len); j < len; j++) s[j] = '*';
}

static void redact_ascii(char *s, size_t len, int64_t n)
{
    redact(s, len, n, s);
}

typedef struct {
    mask_fn_t fn;
    mask_ascii_fn_t ascii; /* NULL: no in-place form */
} mask_def_t;

static const mask_def_t mask_show_last_def = {show_last, show_last_ascii},
                        mask_show_first_def = {show_first, show_first_ascii},
                        mask_redact_def = {redact, redact_ascii}, mask_email_def = {email, NULL};

/* Whether an inlined string is ASCII: its unused bytes are zero, so all 12
 * can be tested at once. */
static bool inline_ascii(const duckdb_string_t *s)
{
    uint64_t a;
    uint32_t b;
    memcpy(&a, s->value.inlined.inlined, 8);
    memcpy(&b, s->value.inlined.inlined + 8, 4);
    return !((a | b) & 0x8080808080808080ULL);
}

static void mask_apply(duckdb_function_info info, duckdb_data_chunk in, duckdb_vector out)
{
    const mask_def_t *def = duckdb_scalar_function_get_extra_info(info);
    mask_fn_t fn = def->fn;
    idx_t n = duckdb_data_chunk_get_size(in);
    duckdb_vector v = duckdb_data_chunk_get_vector(in, 0);
    duckdb_string_t *sv = duckdb_vector_get_data(v);
    uint64_t *valid = duckdb_vector_get_validity(v);
    int64_t *nv = NULL;
    uint64_t *nvalid = NULL;
    if (duckdb_data_chunk_get_column_count(in) > 1) {
        duckdb_vector k = duckdb_data_chunk_get_vector(in, 1);
        nv = duckdb_vector_get_data(k);
        nvalid = duckdb_vector_get_validity(k);
    }
    duckdb_string_t *od = duckdb_vector_get_data(out);
    char small[256];
    for (idx_t i = 0; i < n; i++) {
        if (!row_valid(valid, i) || !row_valid(nvalid, i)) {
            duckdb_vector_ensure_validity_writable(out);
            duckdb_validity_set_row_invalid(duckdb_vector_get_validity(out), i);
            continue;
        }
        /* duckdb.h's duckdb_string_t: up to STR_INLINE bytes are held in the
         * struct itself, whose unused bytes must be zero (comparisons read
         * all of them); longer strings point to their bytes */
        size_t len = sv[i].value.inlined.length;
        const char *p = len <= STR_INLINE ? sv[i].value.inlined.inlined : sv[i].value.pointer.ptr;
        int64_t k = nv ? nv[i] : 0;
        if (def->ascii && len <= STR_INLINE && inline_ascii(&sv[i])) {
            duckdb_string_t o = sv[i];
            def->ascii(o.value.inlined.inlined, len, k);
            od[i] = o;
            continue;
        }
        if (len + MASK_GROWTH <= STR_INLINE) {
            duckdb_string_t o = {0};
            o.value.inlined.length = (uint32_t)fn(p, len, k, o.value.inlined.inlined);
            od[i] = o;
            continue;
        }
        size_t cap = len + MASK_GROWTH;
        char *buf = cap <= sizeof small ? small : xmalloc(cap);
        size_t olen = fn(p, len, k, buf);
        if (olen <= STR_INLINE) {
            duckdb_string_t o = {0};
            o.value.inlined.length = (uint32_t)olen;
            memcpy(o.value.inlined.inlined, buf, olen);
            od[i] = o;
        } else {
            duckdb_vector_assign_string_element_len(out, i, buf, olen);
        }
        if (buf != small) free(buf);
    }
}

static bool register_mask(duckdb_connection c, const char *name, const mask_def_t *def, bool with_n)
{
    static const duckdb_type params[] = {DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_BIGINT};
    return register_scalar(c, name, params, with_n ? 2 : 1, DUCKDB_TYPE_VARCHAR, mask_apply, def, 0);
}

/* mask_year on dates and timestamps: the first day (midnight) of the value's
 * year, by civil-calendar arithmetic (H. Hinnant's days_from_civil). The
 * engine's date_trunc('year', v) gives the same values several times slower.
 * Infinities stay as they are; timestamps with time zone are cut in UTC, so
 * a mask never depends on the session's TimeZone. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t civil_year(int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10); /* months 11 and 12 of a March-based year: January, February */
}

/* The first day of the year holding days. Values of a column tend to come in
 * runs of one year, so the last year's bounds are kept: most values are
 * two comparisons. */
typedef struct {
    int64_t lo, hi; /* [first day of the year, first day of the next) */
} year_memo_t;

static int64_t year_start(year_memo_t *m, int64_t days)
{
    if (days < m->lo || days >= m->hi) {
        int64_t y = civil_year(days);
        m->lo = days_from_civil(y, 1, 1);
        m->hi = days_from_civil(y + 1, 1, 1);
    }
    return m->lo;
}

#define US_PER_DAY 86400000000LL

static void year_fn(duckdb_function_info info, duckdb_data_chunk in, duckdb_vector out)
{
    bool is_date = duckdb_scalar_function_get_extra_info(info) != NULL;
    idx_t n = duckdb_data_chunk_get_size(in);
    duckdb_vector v = duckdb_data_chunk_get_vector(in, 0);
    uint64_t *valid = duckdb_vector_get_validity(v);
    if (valid) {
        duckdb_vector_ensure_validity_writable(out);
        memcpy(duckdb_vector_get_validity(out), valid, (n + 63) / 64 * sizeof(uint64_t));
    }
    year_memo_t m = {1, 0}; /* empty */
    if (is_date) {
        const int32_t *d = duckdb_vector_get_data(v);
        int32_t *o = duckdb_vector_get_data(out);
        for (idx_t i = 0; i < n; i++)
            o[i] = d[i] == INT32_MAX || d[i] == -INT32_MAX ? d[i] : (int32_t)year_start(&m, d[i]);
    } else {
        const int64_t *t = duckdb_vector_get_data(v);
        int64_t *o = duckdb_vector_get_data(out);
        for (idx_t i = 0; i < n; i++) {
            int64_t us = t[i];
            if (us == INT64_MAX || us == -INT64_MAX) {
                o[i] = us;
                continue;
            }
            int64_t days = us / US_PER_DAY - (us % US_PER_DAY < 0);
            o[i] = year_start(&m, days) * US_PER_DAY;
        }
    }
}

/* ---- policy sets ----
 * A row policy's "c IN (SELECT …)" (a column of the table against an
 * uncorrelated subquery of the same type) is rewritten to
 * madang_policy_in(c, 'sN.K'): the gate runs the subquery on the session's
 * connection just before each execution of the statement (same transaction,
 * so the same snapshot inside a transaction block; the policy owner's
 * rights, like the subquery in the statement itself) and registers its
 * values under that id; the function looks each row's value up in them.
 * The engine would plan IN as a semi join that hashes and probes every row
 * and slows the scan; a look-up in a small hash set keeps the scan as it is.
 * The result is IN's, in SQL's three-valued logic: true if some value equals
 * c; else NULL if c or a value is NULL; false for no values. Only types
 * whose values are equal exactly when their bytes are (integers, decimals,
 * dates, times, timestamps, UUIDs, booleans, strings) qualify; a string
 * column with a collation is compared byte for byte, which can only admit
 * fewer rows. A set the gate has not evaluated is an error (fail closed). */
typedef struct {
    int kind;         /* 0: string, else the value's width in bytes */
    const void *data; /* the values that are not NULL: data[0, len) */
    uint64_t len;
    bool any_null;  /* a value was NULL */
    uint32_t *slot; /* open addressing over element indexes + 1; 0 empty */
    size_t mask;
} in_set_t;

static uint64_t in_hash(const in_set_t *st, const void *v)
{
    const unsigned char *p;
    size_t n;
    if (st->kind == 0) {
        const duckdb_string_t *s = v;
        n = s->value.inlined.length;
        p = (const unsigned char *)(n <= STR_INLINE ? s->value.inlined.inlined : s->value.pointer.ptr);
    } else {
        p = v;
        n = (size_t)st->kind;
    }
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static bool in_equal(const in_set_t *st, const void *a, const void *b)
{
    if (st->kind) return !memcmp(a, b, (size_t)st->kind);
    const duckdb_string_t *x = a, *y = b;
    uint32_t n = x->value.inlined.length;
    if (n != y->value.inlined.length) return false;
    if (n <= STR_INLINE) return !memcmp(x->value.inlined.inlined, y->value.inlined.inlined, n);
    return !memcmp(x->value.pointer.ptr, y->value.pointer.ptr, n);
}

static const void *in_elem(const in_set_t *st, uint64_t i)
{
    return st->kind ? (const char *)st->data + i * (uint64_t)st->kind
                    : (const void *)((const duckdb_string_t *)st->data + i);
}

static void in_build(in_set_t *st)
{
    size_t cap = 16;
    while (cap < st->len * 2) cap <<= 1;
    st->slot = xcalloc(cap, sizeof *st->slot);
    st->mask = cap - 1;
    for (uint64_t i = 0; i < st->len; i++) {
        const void *e = in_elem(st, i);
        size_t h = (size_t)in_hash(st, e) & st->mask;
        while (st->slot[h] && !in_equal(st, in_elem(st, st->slot[h] - 1), e)) h = (h + 1) & st->mask;
        st->slot[h] = (uint32_t)(i + 1);
    }
}

static bool in_find(const in_set_t *st, const void *v)
{
    for (size_t h = (size_t)in_hash(st, v) & st->mask; st->slot[h]; h = (h + 1) & st->mask)
        if (in_equal(st, in_elem(st, st->slot[h] - 1), v)) return true;
    return false;
}

/* The byte width of a type whose equality is byte equality; 0 for VARCHAR,
 * -1 when the type does not qualify. */
static int in_kind(duckdb_logical_type t)
{
    switch (duckdb_get_type_id(t)) {
    case DUCKDB_TYPE_VARCHAR:
        return 0;
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_UTINYINT:
        return 1;
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_USMALLINT:
        return 2;
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_DATE:
        return 4;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        return 8;
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_UUID:
        return 16;
    case DUCKDB_TYPE_DECIMAL:
        switch (duckdb_decimal_internal_type(t)) {
        case DUCKDB_TYPE_SMALLINT:
            return 2;
        case DUCKDB_TYPE_INTEGER:
            return 4;
        case DUCKDB_TYPE_BIGINT:
            return 8;
        case DUCKDB_TYPE_HUGEINT:
            return 16;
        default:
            return -1;
        }
    default:
        return -1;
    }
}

/* A type's identity for the set's comparison: its id, and a decimal's width
 * and scale; -1 when it does not qualify. */
static int64_t in_type_key(duckdb_logical_type t)
{
    int kind = in_kind(t);
    if (kind < 0) return -1;
    int64_t k = (int64_t)duckdb_get_type_id(t) << 16;
    if (duckdb_get_type_id(t) == DUCKDB_TYPE_DECIMAL)
        k |= (int64_t)duckdb_decimal_width(t) << 8 | duckdb_decimal_scale(t);
    return k;
}

typedef struct pset {
    struct pset *next;
    char id[48];
    int refs;     /* readers, plus one while registered */
    int64_t tkey; /* in_type_key of its values */
    in_set_t set; /* over owned copies */
    char **strs;  /* owned bytes of long strings */
    size_t nstrs;
} pset_t;

static pthread_mutex_t g_psets_mu = PTHREAD_MUTEX_INITIALIZER;
static pset_t *g_psets;

static void pset_unref(pset_t *p) /* under g_psets_mu */
{
    if (--p->refs) return;
    for (size_t i = 0; i < p->nstrs; i++) free(p->strs[i]);
    free(p->strs);
    free((void *)p->set.data);
    free(p->set.slot);
    free(p);
}

/* Registers p under its id, replacing what was there. */
static void pset_publish(pset_t *p)
{
    pthread_mutex_lock(&g_psets_mu);
    for (pset_t **pp = &g_psets; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->id, p->id)) {
            pset_t *old = *pp;
            *pp = old->next;
            pset_unref(old);
            break;
        }
    }
    p->refs = 1;
    p->next = g_psets;
    g_psets = p;
    pthread_mutex_unlock(&g_psets_mu);
}

/* Drops every set whose id starts with prefix (a session's, at its end). */
static void pset_drop_prefix(const char *prefix)
{
    size_t n = strlen(prefix);
    pthread_mutex_lock(&g_psets_mu);
    for (pset_t **pp = &g_psets; *pp;) {
        if (!strncmp((*pp)->id, prefix, n)) {
            pset_t *old = *pp;
            *pp = old->next;
            pset_unref(old);
        } else {
            pp = &(*pp)->next;
        }
    }
    pthread_mutex_unlock(&g_psets_mu);
}

static void policy_in_fn(duckdb_function_info info, duckdb_data_chunk in, duckdb_vector out)
{
    idx_t n = duckdb_data_chunk_get_size(in);
    if (!n) return;
    duckdb_vector xv = duckdb_data_chunk_get_vector(in, 0), iv = duckdb_data_chunk_get_vector(in, 1);
    duckdb_string_t *ids = duckdb_vector_get_data(iv);
    char id[48];
    size_t il = ids[0].value.inlined.length;
    const char *ip = il <= STR_INLINE ? ids[0].value.inlined.inlined : ids[0].value.pointer.ptr;
    snprintf(id, sizeof id, "%.*s", (int)(il < sizeof id ? il : sizeof id - 1), ip);
    pthread_mutex_lock(&g_psets_mu);
    pset_t *p = g_psets;
    while (p && strcmp(p->id, id)) p = p->next;
    if (p) p->refs++;
    pthread_mutex_unlock(&g_psets_mu);
    if (!p) {
        duckdb_scalar_function_set_error(info, "a row policy's set of values was not evaluated for this "
                                               "statement; run it through madang's gate");
        return;
    }
    duckdb_logical_type xt = duckdb_vector_get_column_type(xv);
    bool same = in_type_key(xt) == p->tkey;
    duckdb_destroy_logical_type(&xt);
    if (!same) {
        duckdb_scalar_function_set_error(
            info, "a row policy's set of values changed type; run the statement again");
    } else {
        const char *xd = duckdb_vector_get_data(xv);
        uint64_t *xvalid = duckdb_vector_get_validity(xv);
        size_t w = p->set.kind ? (size_t)p->set.kind : sizeof(duckdb_string_t);
        bool *o = duckdb_vector_get_data(out);
        for (idx_t i = 0; i < n; i++) {
            if (!p->set.len && !p->set.any_null) {
                o[i] = false; /* IN of no rows is false, even for NULL */
                continue;
            }
            bool isnull = !row_valid(xvalid, i);
            o[i] = !isnull && in_find(&p->set, xd + i * w);
            if (!o[i] && (isnull || p->set.any_null)) {
                duckdb_vector_ensure_validity_writable(out);
                duckdb_validity_set_row_invalid(duckdb_vector_get_validity(out), i);
            }
        }
    }
    pthread_mutex_lock(&g_psets_mu);
    pset_unref(p);
    pthread_mutex_unlock(&g_psets_mu);
}

static bool register_policy_in(duckdb_connection c)
{
    static const duckdb_type params[] = {DUCKDB_TYPE_ANY, DUCKDB_TYPE_VARCHAR};
    return register_scalar(c, "madang_policy_in", params, 2, DUCKDB_TYPE_BOOLEAN, policy_in_fn, NULL,
                           SF_NULLS); /* NULLs are its own business */
}

static bool register_year(duckdb_connection c)
{
    duckdb_scalar_function_set set = duckdb_create_scalar_function_set("madang_mask_year");
    static const duckdb_type types[] = {DUCKDB_TYPE_DATE, DUCKDB_TYPE_TIMESTAMP, DUCKDB_TYPE_TIMESTAMP_TZ};
    bool ok = true;
    for (size_t i = 0; i < ARRAY_LEN(types) && ok; i++) {
        duckdb_scalar_function f = duckdb_create_scalar_function();
        duckdb_scalar_function_set_name(f, "madang_mask_year");
        duckdb_logical_type t = duckdb_create_logical_type(types[i]);
        duckdb_scalar_function_add_parameter(f, t);
        duckdb_scalar_function_set_return_type(f, t);
        duckdb_destroy_logical_type(&t);
        duckdb_scalar_function_set_extra_info(f, types[i] == DUCKDB_TYPE_DATE ? (void *)1 : NULL, NULL);
        duckdb_scalar_function_set_function(f, year_fn);
        ok = duckdb_add_scalar_function_to_set(set, f) == DuckDBSuccess;
        duckdb_destroy_scalar_function(&f);
    }
    ok = ok && duckdb_register_scalar_function_set(c, set) == DuckDBSuccess;
    duckdb_destroy_scalar_function_set(&set);
    return ok;
}

/* The masks users name, in schema madang (policies are rewritten to call them
 * qualified, so a user's own object of the same name cannot stand in). */
static const char *const mask_macros[] = {
    "CREATE OR REPLACE MACRO madang.mask_redact(v) AS madang_mask_redact(CAST(v AS VARCHAR))",
    "CREATE OR REPLACE MACRO madang.mask_show_first(v, n) AS madang_mask_show_first(CAST(v AS VARCHAR), n)",
    "CREATE OR REPLACE MACRO madang.mask_show_last(v, n) AS madang_mask_show_last(CAST(v AS VARCHAR), n)",
    "CREATE OR REPLACE MACRO madang.mask_email(v) AS madang_mask_email(CAST(v AS VARCHAR))",
    "CREATE OR REPLACE MACRO madang.mask_hash(v) AS sha256(CAST(v AS VARCHAR))",
    "CREATE OR REPLACE MACRO madang.mask_null(v) AS CASE WHEN false THEN v END",
    "CREATE OR REPLACE MACRO madang.mask_year(v) AS madang_mask_year(v)",
};

static const char *const mask_names[] = {"mask_redact", "mask_show_first", "mask_show_last", "mask_hash",
                                         "mask_null",   "mask_year",       "mask_email"};

/* madang_has_row_policies(schema, table): whether any row policy exists on the
 * table (for anyone). The catalog shim uses it to hide row counts
 * (pg_class.reltuples, sizes) of such tables and to set relrowsecurity. It
 * answers from a process-wide copy of the policy set, so it needs no session. */
static meta_t *g_meta;
static pthread_mutex_t g_rows_mu = PTHREAD_MUTEX_INITIALIZER;
static rls_set_t *g_rows_set;

static void has_rows_fn(duckdb_function_info info, duckdb_data_chunk in, duckdb_vector out)
{
    UNUSED(info);
    idx_t n = duckdb_data_chunk_get_size(in);
    duckdb_vector a = duckdb_data_chunk_get_vector(in, 0), b = duckdb_data_chunk_get_vector(in, 1);
    duckdb_string_t *sa = duckdb_vector_get_data(a), *sb = duckdb_vector_get_data(b);
    uint64_t *va = duckdb_vector_get_validity(a), *vb = duckdb_vector_get_validity(b);
    bool *d = duckdb_vector_get_data(out);
    pthread_mutex_lock(&g_rows_mu);
    if (g_meta && (!g_rows_set || g_rows_set->version != pol_version())) {
        rls_free(g_rows_set);
        g_rows_set = rls_load(g_meta);
    }
    for (idx_t i = 0; i < n; i++) {
        if ((va && !duckdb_validity_row_is_valid(va, i)) || (vb && !duckdb_validity_row_is_valid(vb, i)) ||
            !g_rows_set) {
            d[i] = g_meta && !g_rows_set; /* unreadable policies: assume protected */
            continue;
        }
        char *x = xstrndup(duckdb_string_t_data(&sa[i]), duckdb_string_t_length(sa[i]));
        char *y = xstrndup(duckdb_string_t_data(&sb[i]), duckdb_string_t_length(sb[i]));
        d[i] = rls_has_row_policies(g_rows_set, x, y);
        free(x);
        free(y);
    }
    pthread_mutex_unlock(&g_rows_mu);
}

static bool register_has_rows(duckdb_connection c)
{
    static const duckdb_type params[] = {DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_VARCHAR};
    return register_scalar(c, "madang_has_row_policies", params, 2, DUCKDB_TYPE_BOOLEAN, has_rows_fn, NULL,
                           SF_VOLATILE);
}

bool protect_setup_engine(meta_t *m, duckdb_connection c, char *err, size_t errlen)
{
    g_meta = m;
    if (!register_has_rows(c)) {
        snprintf(err, errlen, "cannot register madang_has_row_policies");
        return false;
    }
    if (!register_scalar(c, "madang_fence", NULL, 0, DUCKDB_TYPE_BOOLEAN, fence_fn, NULL, SF_VOLATILE)) {
        snprintf(err, errlen, "cannot register madang_fence");
        return false;
    }
    if (!register_mask(c, "madang_mask_show_last", &mask_show_last_def, true) ||
        !register_mask(c, "madang_mask_show_first", &mask_show_first_def, true) ||
        !register_mask(c, "madang_mask_redact", &mask_redact_def, false) ||
        !register_mask(c, "madang_mask_email", &mask_email_def, false) || !register_year(c) ||
        !register_policy_in(c)) {
        snprintf(err, errlen, "cannot register the built-in masks");
        return false;
    }
    for (size_t i = 0; i < ARRAY_LEN(mask_macros); i++) {
        duckdb_result r;
        if (duckdb_query(c, mask_macros[i], &r) != DuckDBSuccess) {
            snprintf(err, errlen, "cannot create the built-in masks: %s", duckdb_result_error(&r));
            duckdb_destroy_result(&r);
            return false;
        }
        duckdb_destroy_result(&r);
    }
    return true;
}

/* ---- session state ---- */

static struct protect_state *ps(sess_t *s)
{
    if (!s->prot) s->prot = xcalloc(1, sizeof *s->prot);
    return s->prot;
}

void protect_session_free(sess_t *s)
{
    if (!s->prot) return;
    strcache_clear(&s->prot->rewrites);
    strcache_clear(&s->prot->applied);
    strcache_clear(&s->prot->columns);
    strcache_clear(&s->prot->qualified);
    strcache_clear(&s->prot->insets);
    json_decref(s->prot->set_sql);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "s%lld.", (long long)s->id);
    pset_drop_prefix(prefix);
    rls_free(s->prot->set);
    free(s->prot);
    s->prot = NULL;
}

static rls_set_t *policy_set(sess_t *s)
{
    struct protect_state *p = ps(s);
    if (!p->set || p->set_version != pol_version()) {
        rls_free(p->set);
        p->set_version = pol_version();
        p->set = rls_load(s->srv->meta);
    }
    return p->set;
}

static bool any_policy(const rls_set_t *r)
{
    return r && (r->npol || r->ncolmask || r->ncoltag);
}

/* ---- policy expressions for one user ---- */

static bool is_mask_name(const lex_tok_t *t)
{
    for (size_t i = 0; i < ARRAY_LEN(mask_names); i++)
        if (lex_is(t, mask_names[i])) return true;
    return false;
}

/* The expression with current_user / session_user / is_member('g') replaced by
 * constants for this user, mask_* qualified with schema madang, and (masks)
 * the argument name replaced by repl. */
char *protect_subst(const char *expr, const pol_acl_t *a, const char *real_user, const char *arg,
                    const char *repl)
{
    lex_t l;
    lex_init(&l, expr, strlen(expr));
    buf_t b;
    buf_init(&b, strlen(expr) + 64);
    size_t copied = 0;
    lex_tok_t prev = {TK_EOF, NULL, 0, 0};
    for (lex_tok_t t = lex_next(&l); t.type != TK_EOF && t.type != TK_ERROR; t = lex_next(&l)) {
        bool after_dot = prev.type == TK_DOT;
        prev = t;
        if (t.type != TK_IDENT || after_dot) continue;
        lex_t save = l;
        lex_tok_t nx = lex_next(&l);
        bool call = nx.type == TK_LPAREN;
        l = save;
        const char *lit = NULL;
        size_t end = t.offset + t.len;
        char *memb = NULL;
        if (lex_is(&t, "current_user") || lex_is(&t, "current_role") || (lex_is(&t, "user") && !call)) {
            lit = a->user;
        } else if (lex_is(&t, "session_user")) {
            lit = real_user;
        }
        if (lit && call) {
            /* current_user() */
            lex_t s2 = l;
            lex_next(&s2);
            lex_tok_t rp = lex_next(&s2);
            if (rp.type != TK_RPAREN) continue;
            end = rp.offset + rp.len;
            l = s2;
        }
        if (!lit && lex_is(&t, "is_member") && call) {
            lex_t s2 = l;
            lex_next(&s2);
            lex_tok_t g = lex_next(&s2), rp = lex_next(&s2);
            if (g.type != TK_STRING || rp.type != TK_RPAREN) continue; /* left as is: fails to bind */
            memb = lex_value(&g);
            end = rp.offset + rp.len;
            l = s2;
        }
        if (!lit && !memb && call && is_mask_name(&t)) {
            buf_append(&b, expr + copied, t.offset - copied);
            buf_append_str(&b, "madang.");
            buf_append(&b, t.p, t.len);
            copied = end;
            continue;
        }
        if (!lit && !memb && !call && arg && t.len == strlen(arg) && !strncasecmp(t.p, arg, t.len)) {
            buf_append(&b, expr + copied, t.offset - copied);
            buf_append_str(&b, repl);
            copied = end;
            continue;
        }
        if (!lit && !memb) continue;
        buf_append(&b, expr + copied, t.offset - copied);
        if (lit)
            lex_put_literal(&b, lit);
        else
            buf_append_str(&b, pol_in_group(a, memb) ? "true" : "false");
        free(memb);
        copied = end;
        prev.type = TK_RPAREN;
    }
    buf_append_str(&b, expr + copied);
    buf_cstr(&b);
    return b.data;
}

/* A policy or mask expression with every relation it reads fully qualified
 * ("warehouse"."main"."user_regions"), so that nothing of the user's — a CTE or
 * a TEMP table of the same name, which the engine would find first — can
 * stand in for it once the expression sits inside the user's statement.
 * NULL (err set) when a relation it names does not exist: the policy cannot
 * be evaluated, and the statement fails rather than run unfiltered. */
static char *qualify_uncached(sess_t *s, const char *expr, gate_err_t *err);

static char *qualify(sess_t *s, const char *expr, gate_err_t *err)
{
    /* with the session's epoch: a setting (search_path) may change how names resolve */
    char *key = xasprintf("%llu\x1f%s", (unsigned long long)s->epoch, expr);
    const char *v = strcache_get(&ps(s)->qualified, authz_version(), key);
    char *q = v ? xstrdup(v) : qualify_uncached(s, expr, err);
    if (q && !v) strcache_put(&ps(s)->qualified, authz_version(), key, q, 16384);
    free(key);
    return q;
}

static char *qualify_uncached(sess_t *s, const char *expr, gate_err_t *err)
{
    char *sql = xasprintf("SELECT %s", expr);
    json_t *tree = authz_serialize(s, "json_serialize_sql", sql, err);
    if (!tree) {
        free(sql);
        return NULL;
    }
    named_t n = {0};
    ref_t **order = authz_refs_last_first(tree, &n);
    bool ok = true;
    for (int i = 0; i < n.nrefs && ok; i++) {
        ref_t *r = order[i];
        if (authz_is_cte(&n, r->name) && !r->schema[0]) continue; /* the expression's own CTE */
        rel_t v;
        rel_kind_t k = authz_resolve_persistent(s, r, &v);
        free(v.sql);
        size_t span = r->location != (size_t)-1 ? authz_name_span(sql, r->location) : 0;
        if ((k != REL_TABLE && k != REL_VIEW) || span == 0 || !authz_span_names(sql + r->location, span, r)) {
            gate_err_set(err, "42P17", "a row or masking policy reads %s%s%s, which does not exist",
                         r->schema[0] ? r->schema : "", r->schema[0] ? "." : "", r->name);
            ok = false;
            break;
        }
        buf_t q;
        buf_init(&q, 128);
        lex_put_qname(&q, v.db, v.schema, v.name);
        if (!r->alias[0]) {
            buf_append_str(&q, " AS ");
            lex_put_ident(&q, r->name);
        }
        splice(&sql, r->location, span, buf_cstr(&q));
        buf_free(&q);
    }
    free(order);
    authz_named_free(&n);
    if (!ok) {
        free(sql);
        return NULL;
    }
    char *out = xstrdup(sql + 7);
    free(sql);
    return out;
}

/* The user's row filter on the table: "(e1) OR (e2)", "false" when no policy
 * admits them, NULL when the table has no row policies. for_insert: the
 * WITH CHECK expressions (USING where a policy has none). */
/* Policy sets (see policy_in_fn): each top-level conjunct of a policy
 * expression of the form col IN (SELECT …), col a column of the table and
 * the subquery uncorrelated and of col's type, becomes
 * madang_policy_in(col, 's<session>.<K>'). The engine binds a probe of both
 * types (never runs it) to decide; anything else stays as written. */
static char *in_sets_one(sess_t *s, const char *x, const authz_cols_t *c, const char *db, const char *schema,
                         const char *table)
{
    struct protect_state *p = ps(s);
    size_t cap = 64, nt = 0;
    lex_tok_t *t = xcalloc(cap, sizeof *t);
    lex_t l;
    lex_init(&l, x, strlen(x));
    for (;;) {
        lex_tok_t k = lex_next(&l);
        if (k.type == TK_EOF) break;
        if (k.type == TK_ERROR) {
            free(t);
            return xstrdup(x);
        }
        if (nt == cap) t = xrealloc(t, (cap *= 2) * sizeof *t);
        t[nt++] = k;
    }
    /* matching parentheses, and whether AND is the top-level operator */
    size_t *match = xcalloc(nt + 1, sizeof *match);
    size_t *stack = xcalloc(nt + 1, sizeof *stack);
    size_t sp = 0;
    bool plain = true;
    for (size_t i = 0; i < nt; i++) {
        if (t[i].type == TK_LPAREN)
            stack[sp++] = i;
        else if (t[i].type == TK_RPAREN && sp)
            match[stack[--sp]] = i;
        else if (!sp && t[i].type == TK_IDENT && (lex_is(&t[i], "OR") || lex_is(&t[i], "NOT")))
            plain = false;
    }
    free(stack);
    buf_t out;
    buf_init(&out, strlen(x) + 64);
    size_t copied = 0; /* bytes of x already in out */
    for (size_t from = 0; from < nt && plain && !sp;) {
        size_t to = from;
        int depth = 0;
        while (to < nt && !(depth == 0 && t[to].type == TK_IDENT && lex_is(&t[to], "AND"))) {
            depth += t[to].type == TK_LPAREN ? 1 : t[to].type == TK_RPAREN ? -1 : 0;
            to++;
        }
        size_t a = from, b = to; /* [a, b) */
        while (b - a >= 2 && t[a].type == TK_LPAREN && match[a] == b - 1) a++, b--;
        int col = -1;
        if (b - a >= 5 && (t[a].type == TK_IDENT || t[a].type == TK_QIDENT) && t[a + 1].type == TK_IDENT &&
            lex_is(&t[a + 1], "IN") && t[a + 2].type == TK_LPAREN && match[a + 2] == b - 1 &&
            t[a + 3].type == TK_IDENT && lex_is(&t[a + 3], "SELECT")) {
            char *name = lex_value(&t[a]);
            for (int i = 0; i < c->n && col < 0; i++)
                if (t[a].type == TK_QIDENT ? !strcmp(c->name[i], name) : !strcasecmp(c->name[i], name))
                    col = i;
            free(name);
        }
        if (col >= 0) {
            size_t s0 = t[a + 2].offset + 1, s1 = t[b - 1].offset;
            char *sub = xstrndup(x + s0, s1 - s0);
            buf_t probe;
            buf_init(&probe, strlen(sub) + 128);
            buf_printf(&probe, "SELECT q.*, t.");
            lex_put_ident(&probe, c->name[col]);
            buf_printf(&probe, " FROM (%s) AS q, ", sub);
            lex_put_qname(&probe, db, schema, table);
            buf_append_str(&probe, " AS t LIMIT 0");
            duckdb_prepared_statement pst;
            bool ok = duckdb_prepare(s->conn, buf_cstr(&probe), &pst) == DuckDBSuccess &&
                      duckdb_prepared_statement_column_count(pst) == 2;
            if (ok) {
                duckdb_logical_type t0 = duckdb_prepared_statement_column_logical_type(pst, 0),
                                    t1 = duckdb_prepared_statement_column_logical_type(pst, 1);
                ok = in_type_key(t0) >= 0 && in_type_key(t0) == in_type_key(t1);
                duckdb_destroy_logical_type(&t0);
                duckdb_destroy_logical_type(&t1);
            }
            duckdb_destroy_prepare(&pst);
            buf_free(&probe);
            if (ok) {
                if (!p->set_sql) p->set_sql = json_array();
                size_t k = 0;
                while (k < json_array_size(p->set_sql) &&
                       strcmp(json_string_value(json_array_get(p->set_sql, k)), sub))
                    k++;
                if (k == json_array_size(p->set_sql)) json_array_append_new(p->set_sql, json_string(sub));
                buf_append(&out, x + copied, t[a].offset - copied);
                buf_append_str(&out, "madang_policy_in(");
                buf_append(&out, t[a].p, t[a].len);
                buf_printf(&out, ", 's%lld.%zu')", (long long)s->id, k);
                copied = t[b - 1].offset + 1;
            }
            free(sub);
        }
        from = to + 1;
    }
    buf_append_str(&out, x + copied);
    free(match);
    free(t);
    buf_cstr(&out);
    return out.data;
}

/* in_sets_one, remembered for the session until the catalog, grants or
 * policies change. */
static char *in_sets(sess_t *s, char *x, const authz_cols_t *c, const char *db, const char *schema,
                     const char *table)
{
    struct protect_state *p = ps(s);
    if (!c || p->no_sets || !strcasestr(x, "IN")) return x;
    char *key = xasprintf("%s\x1f%s\x1f%s\x1f%s", db ? db : "", schema, table, x);
    const char *v = strcache_get(&p->insets, authz_version(), key);
    char *r = v ? xstrdup(v) : in_sets_one(s, x, c, db, schema, table);
    if (!v) strcache_put(&p->insets, authz_version(), key, r, 4096);
    free(key);
    free(x);
    return r;
}

/* Evaluates the policy sets statement sql uses (its madang_policy_in ids),
 * just before it runs. */
static bool refresh_set(sess_t *s, size_t k, gate_err_t *err)
{
    const char *sub = json_string_value(json_array_get(s->prot->set_sql, k));
    duckdb_result r;
    if (duckdb_query(s->conn, sub, &r) != DuckDBSuccess) {
        gate_err_from_duckdb(err, duckdb_result_error(&r), duckdb_result_error_type(&r));
        snprintf(err->detail, sizeof err->detail, "while evaluating a row policy's subquery: %s", sub);
        duckdb_destroy_result(&r);
        return false;
    }
    duckdb_logical_type lt = duckdb_column_logical_type(&r, 0);
    pset_t *p = xcalloc(1, sizeof *p);
    snprintf(p->id, sizeof p->id, "s%lld.%zu", (long long)s->id, k);
    p->tkey = in_type_key(lt);
    p->set.kind = in_kind(lt);
    duckdb_destroy_logical_type(&lt);
    if (p->tkey < 0 || duckdb_column_count(&r) != 1) {
        gate_err_set(err, "42804", "a row policy's subquery changed its type");
        snprintf(err->hint, sizeof err->hint, "run the statement again");
        free(p);
        duckdb_destroy_result(&r);
        return false;
    }
    size_t w = p->set.kind ? (size_t)p->set.kind : sizeof(duckdb_string_t), n = 0, cap = 16;
    char *vals = xmalloc(cap * w);
    bool any_null = false;
    duckdb_data_chunk ch;
    while ((ch = duckdb_fetch_chunk(r)) != NULL) {
        idx_t m = duckdb_data_chunk_get_size(ch);
        duckdb_vector v = duckdb_data_chunk_get_vector(ch, 0);
        const char *d = duckdb_vector_get_data(v);
        uint64_t *valid = duckdb_vector_get_validity(v);
        for (idx_t i = 0; i < m; i++) {
            if (!row_valid(valid, i)) {
                any_null = true;
                continue;
            }
            if (n == cap) vals = xrealloc(vals, (cap *= 2) * w);
            memcpy(vals + n * w, d + i * w, w);
            if (!p->set.kind) {
                duckdb_string_t *e = (duckdb_string_t *)(vals + n * w);
                if (e->value.inlined.length > STR_INLINE) {
                    p->strs = xrealloc(p->strs, (p->nstrs + 1) * sizeof *p->strs);
                    p->strs[p->nstrs] = xmalloc(e->value.inlined.length);
                    memcpy(p->strs[p->nstrs], e->value.pointer.ptr, e->value.inlined.length);
                    e->value.pointer.ptr = p->strs[p->nstrs++];
                }
            }
            n++;
        }
        duckdb_destroy_data_chunk(&ch);
    }
    duckdb_destroy_result(&r);
    p->set.data = vals;
    p->set.len = n;
    p->set.any_null = any_null;
    in_build(&p->set);
    pset_publish(p);
    return true;
}

bool protect_before_execute(sess_t *s, const gate_stmt_t *st, gate_err_t *err)
{
    if (!s->prot || !json_array_size(s->prot->set_sql) || !st->sql) return true;
    char mark[48];
    int ml = snprintf(mark, sizeof mark, ", 's%lld.", (long long)s->id);
    uint64_t done = 0;
    for (const char *q = strstr(st->sql, "madang_policy_in("); q; q = strstr(q + 1, "madang_policy_in(")) {
        const char *m = strstr(q, mark);
        if (!m) continue;
        size_t k = strtoul(m + ml, NULL, 10);
        if (k >= json_array_size(s->prot->set_sql) || (k < 64 && done >> k & 1)) continue;
        if (k < 64) done |= 1ULL << k;
        if (!refresh_set(s, k, err)) return false;
    }
    return true;
}

static char *row_filter(sess_t *s, const rls_set_t *r, const char *db, const char *schema, const char *table,
                        const authz_cols_t *cols, bool for_insert, char *names, size_t nameslen,
                        gate_err_t *err, bool *failed)
{
    if (failed) *failed = false;
    if (!rls_has_row_policies(r, schema, table)) return NULL;
    buf_t b;
    buf_init(&b, 128);
    if (names) names[0] = '\0';
    for (int i = 0; i < r->npol; i++) {
        const rls_policy_t *p = &r->pol[i];
        if (strcmp(p->schema, schema) || strcmp(p->table, table) || !rls_policy_applies(p, s->acl)) continue;
        const char *e;
        if (for_insert) {
            if (!strcmp(p->command, "SELECT")) continue;
            e = p->check_expr ? p->check_expr : p->using_expr;
        } else {
            if (!strcmp(p->command, "INSERT")) continue;
            e = p->using_expr;
        }
        if (!e) continue;
        char *x = protect_subst(e, s->acl, s->real_user, NULL, NULL);
        if (err) {
            /* its relations, fully qualified: nothing of the user's may stand in for them */
            char *q = qualify(s, x, err);
            free(x);
            if (!q) {
                *failed = true;
                buf_free(&b);
                return NULL;
            }
            x = for_insert ? q : in_sets(s, q, cols, db, schema, table);
        }
        buf_printf(&b, "%s(%s)", b.len ? " OR " : "", x);
        free(x);
        if (names) {
            size_t l = strlen(names);
            snprintf(names + l, nameslen - l, "%s%s", l ? ", " : "", p->name);
        }
    }
    if (!b.len) buf_append_str(&b, "false");
    buf_cstr(&b);
    return b.data;
}

/* ---- tables ---- */

static bool is_protected(const rls_set_t *r, const char *schema, const char *table)
{
    return rls_has_row_policies(r, schema, table) || rls_may_mask(r, schema, table);
}

/* The masked expression of column i for this user, or NULL. */
static char *column_mask(sess_t *s, const rls_set_t *r, const char *schema, const char *table,
                         const authz_cols_t *c, int i, gate_err_t *err, bool *failed)
{
    char via[160];
    const rls_mask_t *m = rls_column_mask(r, schema, table, c->name[i], c->type[i], via, sizeof via);
    if (!m) return NULL;
    if (strcasecmp(m->type, c->type[i]) != 0) {
        gate_err_set(
            err, "42804",
            "masking policy %s takes %s but column %s of %s.%s is %s; the query is refused rather than "
            "run unmasked",
            m->name, m->type, c->name[i], schema, table, c->type[i]);
        snprintf(err->hint, sizeof err->hint,
                 "a superuser must set a masking policy of type %s on the column", c->type[i]);
        *failed = true;
        return NULL;
    }
    buf_t col;
    buf_init(&col, 64);
    lex_put_ident(&col, c->name[i]);
    char *body = protect_subst(m->body, s->acl, s->real_user, m->arg, buf_cstr(&col));
    buf_free(&col);
    char *qb = qualify(s, body, err);
    free(body);
    if (!qb) {
        *failed = true;
        return NULL;
    }
    body = qb;
    char *e = xasprintf("CAST((%s) AS %s)", body, c->type[i]);
    free(body);
    return e;
}

/* ---- leakproof predicates ----
 * A conjunct of a query's WHERE that compares a column of a row-filtered table
 * with a constant or a parameter ("id = 5", "d >= $1", "region IN ('KR',
 * 'JP')", "x BETWEEN 1 AND 9", "c IS NULL") calls nothing of the user's and
 * can raise no error, so applying it before the policy shows nothing the
 * policy hides. It is copied into the protected relation's own WHERE, where
 * the engine can use it to skip whole row groups instead of scanning the
 * table: PostgreSQL pushes its leakproof quals below a security barrier the
 * same way. The user's WHERE keeps it as well. Only for a FROM of base tables
 * joined by inner or cross joins (an outer join's WHERE is not its tables'
 * own filter), on unmasked columns. */

typedef struct {
    size_t location;  /* of the BASE_TABLE in the statement */
    const char *qual; /* how its columns are qualified: its alias, or its name */
    bool sole;        /* the only relation of its FROM: unqualified columns are its own */
    json_t *conj;     /* the conjuncts of its SELECT's WHERE */
} pushcand_t;

typedef struct {
    pushcand_t *v;
    int n;
    json_t *lists; /* owns the conjunct arrays */
    bool dollar;   /* the statement numbers its parameters $1, $2, … */
} pushset_t;

static void flatten_and(json_t *e, json_t *out)
{
    if (!strcmp(authz_jstr(e, "class"), "CONJUNCTION") && !strcmp(authz_jstr(e, "type"), "CONJUNCTION_AND")) {
        size_t i;
        json_t *ch;
        json_array_foreach(json_object_get(e, "children"), i, ch) flatten_and(ch, out);
    } else {
        json_array_append(out, e);
    }
}

/* The base tables of a FROM made of base tables and inner or cross joins. */
static bool from_tables(json_t *f, json_t *out)
{
    const char *t = authz_jstr(f, "type");
    if (!strcmp(t, "BASE_TABLE")) return json_array_append(out, f) == 0;
    if (strcmp(t, "JOIN") || strcmp(authz_jstr(f, "join_type"), "INNER") ||
        (strcmp(authz_jstr(f, "ref_type"), "REGULAR") && strcmp(authz_jstr(f, "ref_type"), "CROSS")))
        return false;
    return from_tables(json_object_get(f, "left"), out) && from_tables(json_object_get(f, "right"), out);
}

static void push_walk(json_t *o, pushset_t *ps)
{
    if (json_is_array(o)) {
        size_t i;
        json_t *v;
        json_array_foreach(o, i, v) push_walk(v, ps);
        return;
    }
    if (!json_is_object(o)) return;
    json_t *where = json_object_get(o, "where_clause");
    if (!strcmp(authz_jstr(o, "type"), "SELECT_NODE") && json_is_object(where)) {
        json_t *tabs = json_array();
        if (from_tables(json_object_get(o, "from_table"), tabs)) {
            json_t *conj = json_array();
            flatten_and(where, conj);
            json_array_append_new(ps->lists, conj);
            size_t i;
            json_t *t;
            json_array_foreach(tabs, i, t)
            {
                long long loc = authz_jidx(json_object_get(t, "query_location"));
                if (loc < 0) continue;
                ps->v = xrealloc(ps->v, sizeof *ps->v * (size_t)(ps->n + 1));
                const char *alias = authz_jstr(t, "alias");
                ps->v[ps->n++] = (pushcand_t){(size_t)loc, alias[0] ? alias : authz_jstr(t, "table_name"),
                                              json_array_size(tabs) == 1, conj};
            }
        }
        json_decref(tabs);
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) push_walk(v, ps);
}

static void pushset_free(pushset_t *ps)
{
    free(ps->v);
    json_decref(ps->lists);
}

/* The column of the table a column reference names, or -1. */
static int push_column(json_t *e, const pushcand_t *pc, const authz_cols_t *c, const bool *masked)
{
    if (strcmp(authz_jstr(e, "class"), "COLUMN_REF")) return -1;
    json_t *names = json_object_get(e, "column_names");
    size_t n = json_array_size(names);
    const char *name = NULL;
    if (n == 1 && pc->sole)
        name = json_string_value(json_array_get(names, 0));
    else if (n == 2 && !strcasecmp(json_string_value(json_array_get(names, 0)) ?: "", pc->qual))
        name = json_string_value(json_array_get(names, 1));
    if (!name) return -1;
    for (int i = 0; i < c->n; i++)
        if (!strcasecmp(c->name[i], name)) return masked[i] ? -1 : i;
    return -1;
}

static bool numeric_type(const char *t)
{
    static const char *const nums[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT",
                                       "HUGEINT", "FLOAT",    "DOUBLE"};
    for (size_t i = 0; i < ARRAY_LEN(nums); i++)
        if (!strcasecmp(t, nums[i])) return true;
    return !strncasecmp(t, "DECIMAL", 7);
}

/* A constant the column can be compared with and no cast of the column's
 * values can fail on: an integer with a numeric column, a string with a
 * VARCHAR one; or a $n parameter (converted once, before any row is read). */
static bool push_value(buf_t *b, json_t *e, const char *coltype, bool dollar)
{
    const char *cls = authz_jstr(e, "class");
    if (!strcmp(cls, "PARAMETER")) {
        const char *id = authz_jstr(e, "identifier");
        if (!dollar || !id[0] || strspn(id, "0123456789") != strlen(id)) return false;
        buf_printf(b, "$%s", id);
        return true;
    }
    if (strcmp(cls, "CONSTANT")) return false;
    json_t *v = json_object_get(e, "value");
    if (json_is_true(json_object_get(v, "is_null"))) return false;
    const char *tid = authz_jstr(json_object_get(v, "type"), "id");
    json_t *x = json_object_get(v, "value");
    /* the tree's numbers are reals: integers only while a double holds them exactly */
    double d = json_number_value(x);
    if (json_is_number(x) && d == (double)(long long)d && d > -9007199254740992.0 && d < 9007199254740992.0 &&
        numeric_type(coltype) &&
        (!strcmp(tid, "INTEGER") || !strcmp(tid, "BIGINT") || !strcmp(tid, "SMALLINT") ||
         !strcmp(tid, "TINYINT"))) {
        buf_printf(b, "%lld", (long long)d);
        return true;
    }
    if (json_is_string(x) && !strcmp(tid, "VARCHAR") && !strcasecmp(coltype, "VARCHAR")) {
        lex_put_literal(b, json_string_value(x));
        return true;
    }
    return false;
}

static const char *push_op(const char *type)
{
    static const char *const ops[][2] = {{"COMPARE_EQUAL", "="},
                                         {"COMPARE_NOTEQUAL", "<>"},
                                         {"COMPARE_LESSTHAN", "<"},
                                         {"COMPARE_GREATERTHAN", ">"},
                                         {"COMPARE_LESSTHANOREQUALTO", "<="},
                                         {"COMPARE_GREATERTHANOREQUALTO", ">="}};
    for (size_t i = 0; i < ARRAY_LEN(ops); i++)
        if (!strcmp(type, ops[i][0])) return ops[i][1];
    return NULL;
}

/* One conjunct as SQL over the table's own columns, or false. */
static bool push_conjunct(buf_t *b, json_t *e, const pushcand_t *pc, const authz_cols_t *c,
                          const bool *masked, bool dollar)
{
    const char *cls = authz_jstr(e, "class"), *type = authz_jstr(e, "type");
    int i;
    if (!strcmp(cls, "COMPARISON") && push_op(type)) {
        json_t *l = json_object_get(e, "left"), *r = json_object_get(e, "right");
        bool flip = (i = push_column(l, pc, c, masked)) < 0;
        if (flip && (i = push_column(r, pc, c, masked)) < 0) return false;
        if (flip) {
            if (!push_value(b, l, c->type[i], dollar)) return false;
            buf_printf(b, " %s ", push_op(type));
            lex_put_ident(b, c->name[i]);
        } else {
            lex_put_ident(b, c->name[i]);
            buf_printf(b, " %s ", push_op(type));
            if (!push_value(b, r, c->type[i], dollar)) return false;
        }
        return true;
    }
    if (!strcmp(cls, "BETWEEN")) {
        if ((i = push_column(json_object_get(e, "input"), pc, c, masked)) < 0) return false;
        lex_put_ident(b, c->name[i]);
        buf_append_str(b, " BETWEEN ");
        if (!push_value(b, json_object_get(e, "lower"), c->type[i], dollar)) return false;
        buf_append_str(b, " AND ");
        return push_value(b, json_object_get(e, "upper"), c->type[i], dollar);
    }
    if (strcmp(cls, "OPERATOR")) return false;
    json_t *ch = json_object_get(e, "children");
    if ((i = push_column(json_array_get(ch, 0), pc, c, masked)) < 0) return false;
    if (!strcmp(type, "OPERATOR_IS_NULL") || !strcmp(type, "OPERATOR_IS_NOT_NULL")) {
        lex_put_ident(b, c->name[i]);
        buf_append_str(b, strcmp(type, "OPERATOR_IS_NULL") ? " IS NOT NULL" : " IS NULL");
        return json_array_size(ch) == 1;
    }
    if (strcmp(type, "COMPARE_IN") || json_array_size(ch) < 2) return false;
    lex_put_ident(b, c->name[i]);
    buf_append_str(b, " IN (");
    for (size_t k = 1; k < json_array_size(ch); k++) {
        if (k > 1) buf_append_str(b, ", ");
        if (!push_value(b, json_array_get(ch, k), c->type[i], dollar)) return false;
    }
    buf_putc(b, ')');
    return true;
}

/* " AND (p1) AND (p2)…" for the table at location, into b. */
static void push_predicates(buf_t *b, const pushset_t *ps, size_t location, const authz_cols_t *c,
                            const bool *masked)
{
    for (int k = 0; ps && k < ps->n; k++) {
        const pushcand_t *pc = &ps->v[k];
        if (pc->location != location) continue;
        size_t i;
        json_t *e;
        json_array_foreach(pc->conj, i, e)
        {
            buf_t one;
            buf_init(&one, 64);
            if (push_conjunct(&one, e, pc, c, masked, ps->dollar)) buf_printf(b, " AND (%s)", buf_cstr(&one));
            buf_free(&one);
        }
    }
}

/* ---- which columns need the fence ----
 * A column of a row-filtered table is fenced ("CASE WHEN madang_fence() THEN
 * c END") so that no condition of the user's on it can be moved under the
 * policy: the fence is needed only for columns a condition can reach. They
 * are the columns read, outside aggregate functions, where conditions are:
 * WHERE, HAVING, QUALIFY, join conditions and USING lists, subquery
 * expressions (their correlated references become join conditions), table
 * function arguments; and, since a condition may name a select-list output
 * instead of the column (WHERE may name an alias; an outer query filters a
 * derived table's columns), the columns read by every output whose name a
 * condition uses, and when there is any condition at all, by outputs whose
 * name is made up by the engine. A column read only elsewhere (the select
 * list, GROUP BY, ORDER BY, window clauses, aggregate arguments) of a
 * statement no condition reaches it from is left as it is: no expression of
 * the user's is ever evaluated below the policy but a condition. When names
 * may stand for other columns (alias lists, * RENAME/REPLACE, COLUMNS(),
 * positional references, NATURAL joins, set operations, PIVOT) or the query
 * is a view's (the outer statement is not in sight), every column is fenced.
 * Fencing costs a CASE per row and column and hides the column from the
 * engine's optimizations (a weekly date_trunc on 10 M rows: 1.29x -> 1.07x the
 * unprotected time). */

typedef struct {
    json_t *names;   /* lower-case names read outside aggregates where conditions are */
    json_t *outputs; /* select-list output name → the names its expression reads outside aggregates */
    json_t *unnamed; /* names read by outputs whose name the engine makes up */
    bool any_condition;
    bool all;
} fence_need_t;

static bool is_aggregate(json_t *e)
{
    static const char *const aggs[] = {"sum",           "avg",           "mean",
                                       "min",           "max",           "count",
                                       "count_star",    "any_value",     "first",
                                       "last",          "arg_min",       "arg_max",
                                       "argmin",        "argmax",        "min_by",
                                       "max_by",        "string_agg",    "group_concat",
                                       "list",          "array_agg",     "bool_and",
                                       "bool_or",       "stddev",        "stddev_pop",
                                       "stddev_samp",   "variance",      "var_pop",
                                       "var_samp",      "median",        "mode",
                                       "quantile_cont", "quantile_disc", "approx_count_distinct",
                                       "product",       "bit_and",       "bit_or",
                                       "bit_xor",       "fsum",          "favg",
                                       "sumkahan",      "kahan_sum"};
    if (strcmp(authz_jstr(e, "class"), "FUNCTION") || authz_jstr(e, "schema")[0] ||
        json_is_true(json_object_get(e, "is_operator")))
        return false;
    const char *n = authz_jstr(e, "function_name");
    for (size_t i = 0; i < ARRAY_LEN(aggs); i++)
        if (!strcasecmp(n, aggs[i])) return true;
    return false;
}

static char *lower_dup(const char *s)
{
    char *l = xstrdup(s);
    for (char *p = l; *p; p++) *p = (char)tolower((unsigned char)*p);
    return l;
}

static void add_name(json_t *set, const char *name)
{
    char *l = lower_dup(name);
    json_object_set_new(set, l, json_true());
    free(l);
}

static void need_walk(json_t *o, fence_need_t *f, bool in_agg, bool in_cond, json_t *out);

/* A select list: each output collects the names its expression reads. */
static void need_outputs(json_t *list, fence_need_t *f, bool in_cond)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *name = authz_jstr(e, "alias");
        json_t *cols = json_object_get(e, "column_names");
        if (!name[0] && !strcmp(authz_jstr(e, "class"), "COLUMN_REF") && json_array_size(cols))
            name = json_string_value(json_array_get(cols, json_array_size(cols) - 1)) ?: "";
        json_t *set = f->unnamed;
        if (name[0]) {
            char *l = lower_dup(name);
            set = json_object_get(f->outputs, l);
            if (!set) {
                set = json_object();
                json_object_set_new(f->outputs, l, set);
            }
            free(l);
        } else if (!strcmp(authz_jstr(e, "class"), "STAR")) {
            set = NULL; /* the table's own names */
        }
        need_walk(e, f, false, in_cond, set);
    }
}

static void need_walk(json_t *o, fence_need_t *f, bool in_agg, bool in_cond, json_t *out)
{
    if (json_is_array(o)) {
        size_t i;
        json_t *v;
        json_array_foreach(o, i, v) need_walk(v, f, in_agg, in_cond, out);
        return;
    }
    if (!json_is_object(o)) return;
    const char *cls = authz_jstr(o, "class"), *type = authz_jstr(o, "type");
    bool node = !strcmp(type, "SELECT_NODE");
    if (node || !strcmp(cls, "SUBQUERY")) in_agg = false; /* its own WHERE */
    if (!strcmp(cls, "SUBQUERY") || !strcmp(type, "TABLE_FUNCTION")) {
        in_cond = true; /* correlated references become join conditions; arguments may be lateral */
        f->any_condition = true;
    }
    if (!strcmp(cls, "COLUMN_REF") && !in_agg) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(o, "column_names"), i, v)
        {
            if (in_cond) add_name(f->names, json_string_value(v) ?: "");
            if (out) add_name(out, json_string_value(v) ?: "");
        }
    }
    if (!strcmp(cls, "POSITIONAL_REFERENCE") ||
        (!strcmp(cls, "STAR") &&
         (json_array_size(json_object_get(o, "rename_list")) ||
          json_array_size(json_object_get(o, "replace_list")) ||
          json_is_true(json_object_get(o, "columns")) || json_is_object(json_object_get(o, "expr")))) ||
        json_array_size(json_object_get(o, "column_name_alias")) ||
        json_array_size(json_object_get(o, "aliases")) || !strcmp(type, "SET_OPERATION_NODE") ||
        !strcmp(type, "PIVOT") || !strcmp(type, "UNPIVOT") || !strcmp(authz_jstr(o, "ref_type"), "NATURAL"))
        f->all = true;
    if (!strcmp(type, "JOIN")) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(o, "using_columns"), i, v)
        {
            add_name(f->names, json_string_value(v) ?: "");
            f->any_condition = true;
        }
    }
    bool agg = in_agg || is_aggregate(o);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (node && !strcmp(k, "select_list")) {
            need_outputs(v, f, in_cond);
        } else if ((node && (!strcmp(k, "where_clause") || !strcmp(k, "having") || !strcmp(k, "qualify"))) ||
                   (!strcmp(type, "JOIN") && !strcmp(k, "condition"))) {
            if (!json_is_null(v)) f->any_condition = true;
            need_walk(v, f, agg, true, out);
        } else {
            need_walk(v, f, agg, in_cond, out);
        }
    }
}

/* The walk's result: the names conditions reach, through outputs too. */
static void need_close(fence_need_t *f)
{
    const char *k;
    json_t *v;
    if (f->any_condition) json_object_update(f->names, f->unnamed);
    for (bool grew = true; grew;) {
        grew = false;
        json_object_foreach(f->outputs, k, v)
        {
            if (!json_object_get(f->names, k)) continue;
            const char *n;
            json_t *t;
            json_object_foreach(v, n, t)
            {
                if (json_object_get(f->names, n)) continue;
                json_object_set_new(f->names, n, json_true());
                grew = true;
            }
        }
    }
}

static bool needs_fence(const fence_need_t *f, const char *column)
{
    if (!f || f->all) return true;
    char *l = lower_dup(column);
    bool yes = json_object_get(f->names, l) != NULL;
    free(l);
    return yes;
}

/* authz_columns, remembered for the session until the catalog, grants or
 * policies change (authz_version): a new statement over a protected table
 * does not query the engine's catalog again. */
static bool protected_columns(sess_t *s, const char *db, const char *schema, const char *table,
                              authz_cols_t *c)
{
    struct protect_state *p = ps(s);
    char *key = xasprintf("%s\x1f%s\x1f%s", db ? db : "", schema, table);
    const char *v = strcache_get(&p->columns, authz_version(), key);
    if (v) {
        memset(c, 0, sizeof *c);
        int n = 0;
        for (const char *q = v; *q; q++) n += *q == '\x1e';
        c->name = xcalloc((size_t)n + 1, sizeof(char *));
        c->type = xcalloc((size_t)n + 1, sizeof(char *));
        for (const char *q = v; *q;) {
            const char *us = strchr(q, '\x1f'), *rs = strchr(us, '\x1e');
            c->name[c->n] = xstrndup(q, (size_t)(us - q));
            c->type[c->n] = xstrndup(us + 1, (size_t)(rs - us - 1));
            c->n++;
            q = rs + 1;
        }
        free(key);
        return true;
    }
    bool ok = authz_columns(s->conn, db, schema, table, c);
    bool plain = ok;
    for (int i = 0; i < c->n && plain; i++)
        plain = !strpbrk(c->name[i], "\x1e\x1f") && !strpbrk(c->type[i], "\x1e\x1f");
    if (plain) {
        buf_t b;
        buf_init(&b, 256);
        for (int i = 0; i < c->n; i++) buf_printf(&b, "%s\x1f%s\x1e", c->name[i], c->type[i]);
        strcache_put(&p->columns, authz_version(), key, buf_cstr(&b), 1024);
        buf_free(&b);
    }
    free(key);
    return ok;
}

/* "(SELECT … FROM s.t WHERE madang_fence() AND (filter))" for a protected
 * table, or NULL with *failed=false when the table is not protected for the
 * user. with_rowid adds the row id (the target of UPDATE/DELETE). masked, if
 * given, gets a comma-separated list of the masked columns. */
static char *protected_relation(sess_t *s, const rls_set_t *r, const char *db, const char *schema,
                                const char *table, bool with_rowid, char **masked, const pushset_t *ps,
                                size_t location, const fence_need_t *need, gate_err_t *err, bool *failed)
{
    *failed = false;
    if (!is_protected(r, schema, table)) return NULL;
    authz_cols_t c;
    if (!protected_columns(s, db, schema, table, &c)) {
        gate_err_set(err, "42P01", "cannot read the columns of %s.%s", schema, table);
        *failed = true;
        return NULL;
    }
    char pnames[512];
    char *filter = row_filter(s, r, db, schema, table, &c, false, pnames, sizeof pnames, err, failed);
    if (*failed) {
        authz_cols_free(&c);
        return NULL;
    }
    json_t *masks = json_object();
    buf_t b, mk;
    buf_init(&b, 512);
    buf_init(&mk, 64);
    buf_append_str(&b, "(SELECT ");
    if (with_rowid) buf_append_str(&b, "rowid AS \"rowid\", ");
    bool any_mask = false;
    bool *is_masked = xcalloc((size_t)c.n + 1, sizeof(bool));
    for (int i = 0; i < c.n && !*failed; i++) {
        char *m = column_mask(s, r, schema, table, &c, i, err, failed);
        if (*failed) break;
        is_masked[i] = m != NULL;
        buf_t col;
        buf_init(&col, 64);
        lex_put_ident(&col, c.name[i]);
        const char *e = m ? m : buf_cstr(&col);
        if (i) buf_append_str(&b, ", ");
        if (filter && needs_fence(need, c.name[i]))
            buf_printf(&b, "CASE WHEN madang_fence() THEN %s END", e);
        else
            buf_append_str(&b, e);
        buf_append_str(&b, " AS ");
        buf_append_str(&b, buf_cstr(&col));
        if (m) {
            any_mask = true;
            if (mk.len) buf_putc(&mk, ',');
            buf_append_str(&mk, c.name[i]);
            char via[160];
            const rls_mask_t *mp = rls_column_mask(r, schema, table, c.name[i], c.type[i], via, sizeof via);
            if (mp) json_object_set_new(masks, c.name[i], json_string(mp->name));
        }
        free(m);
        buf_free(&col);
    }
    buf_append_str(&b, " FROM ");
    lex_put_qname(&b, db, schema, table); /* with its catalog: a TEMP table of the same name is never read */
    buf_append_str(&b, " WHERE madang_fence()");
    if (filter) {
        buf_printf(&b, " AND (%s)", filter);
        if (!*failed) push_predicates(&b, ps, location, &c, is_masked);
    }
    free(is_masked);
    buf_append_str(&b, ")");
    bool had_filter = filter != NULL;
    free(filter);
    authz_cols_free(&c);
    if (*failed) {
        json_decref(masks);
        buf_free(&b);
        buf_free(&mk);
        return NULL;
    }
    if (!had_filter && !any_mask) {
        json_decref(masks);
        /* tags whose masks do not take these columns' types: nothing to apply */
        buf_free(&b);
        buf_free(&mk);
        return NULL;
    }
    note_applied(schema, table, had_filter ? pnames : NULL, masks);
    if (masked) *masked = xstrdup(buf_cstr(&mk));
    buf_free(&mk);
    buf_cstr(&b);
    return b.data;
}

/* The policies the current rewrite applied, for the statement's audit record. */
static __thread json_t *t_applied;

static void note_applied(const char *schema, const char *table, const char *row_policies, json_t *masks)
{
    if (!t_applied) {
        json_decref(masks);
        return;
    }
    char *obj = xasprintf("%s.%s", schema, table);
    size_t i;
    json_t *e;
    json_array_foreach(t_applied, i, e)
    {
        if (!strcmp(json_string_value(json_object_get(e, "table")), obj)) {
            free(obj);
            json_decref(masks);
            return;
        }
    }
    json_t *rp = json_array();
    if (row_policies) {
        char *list = xstrdup(row_policies);
        char *save = NULL;
        for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
            json_array_append_new(rp, json_string(t));
        free(list);
    }
    json_array_append_new(t_applied, json_pack("{s:s,s:o,s:b,s:o}", "table", obj, "row_policies", rp,
                                               "row_filter", row_policies != NULL, "masks", masks));
    free(obj);
}

/* ---- rewriting a query ---- */

static void splice(char **work, size_t at, size_t len, const char *with)
{
    buf_t b;
    buf_init(&b, strlen(*work) + strlen(with) + 1);
    buf_append(&b, *work, at);
    buf_append_str(&b, with);
    buf_append_str(&b, *work + at + len);
    free(*work);
    *work = xstrdup(buf_cstr(&b));
    buf_free(&b);
}

/* The offset of a TABLE keyword right before loc, or (size_t)-1. */
static size_t prev_table_kw(const char *sql, size_t loc)
{
    lex_t l;
    lex_init(&l, sql, loc);
    lex_tok_t last = {TK_EOF, NULL, 0, 0};
    for (lex_tok_t t = lex_next(&l); t.type != TK_EOF && t.type != TK_ERROR; t = lex_next(&l)) last = t;
    return lex_is(&last, "TABLE") ? last.offset : (size_t)-1;
}

/* Rewrites every protected table (and every view reaching one) in a SELECT-like
 * query. target_loc: the byte offset of the DML target's name (its relation
 * also exposes rowid), or (size_t)-1. Heap result; *changed says whether
 * anything was replaced. NULL with err on failure. */
static char *rewrite_query(sess_t *s, const rls_set_t *r, const char *sql, int depth, size_t target_loc,
                           bool *changed, gate_err_t *err)
{
    *changed = false;
    if (depth > MAX_DEPTH) {
        gate_err_set(err, "54001", "views nested deeper than %d levels", MAX_DEPTH);
        return NULL;
    }
    json_t *tree = authz_serialize(s, "json_serialize_sql", sql, err);
    if (!tree) return NULL;
    pushset_t ps = {.lists = json_array(), .dollar = !strchr(sql, '?')};
    json_incref(tree); /* the candidates point into it */
    push_walk(tree, &ps);
    fence_need_t need = {.names = json_object(),
                         .outputs = json_object(),
                         .unnamed = json_object(),
                         .all = depth > 0}; /* a view: the outer query is not in sight */
    need_walk(tree, &need, false, false, NULL);
    need_close(&need);
    json_t *held = tree;
    named_t n = {0};
    ref_t **order = authz_refs_last_first(tree, &n);
    char *work = xstrdup(sql);
    bool ok = true;
    for (int i = 0; i < n.nrefs && ok; i++) {
        ref_t *ref = order[i];
        if (authz_is_cte(&n, ref->name) && !ref->schema[0]) continue; /* the plan check catches mistakes */
        rel_t v;
        rel_kind_t k = authz_resolve(s, ref, &v);
        char *with = NULL;
        if (k == REL_TABLE) {
            bool failed;
            char *rel = protected_relation(s, r, v.db, v.schema, v.name, ref->location == target_loc, NULL,
                                           &ps, ref->location, &need, err, &failed);
            if (failed) ok = false;
            if (rel) {
                buf_t b;
                buf_init(&b, strlen(rel) + 64);
                buf_append_str(&b, rel);
                if (!ref->alias[0]) {
                    buf_append_str(&b, " AS ");
                    lex_put_ident(&b, ref->name);
                }
                with = xstrdup(buf_cstr(&b));
                buf_free(&b);
                free(rel);
            }
        } else if (k == REL_VIEW && v.sql) {
            char *body = authz_view_body(v.sql);
            bool ch = false;
            char *rb = body ? rewrite_query(s, r, body, depth + 1, (size_t)-1, &ch, err) : NULL;
            if (!body) {
                gate_err_set(err, "XX000", "cannot read the definition of view %s.%s", v.schema, v.name);
                ok = false;
            } else if (!rb) {
                ok = false;
            } else if (ch) {
                /* the view's own column names over its rewritten body */
                authz_cols_t c;
                if (!authz_columns(s->conn, v.db, v.schema, v.name, &c)) {
                    gate_err_set(err, "XX000", "cannot read the columns of view %s.%s", v.schema, v.name);
                    ok = false;
                } else {
                    buf_t b;
                    buf_init(&b, strlen(rb) + 256);
                    buf_printf(&b, "(SELECT * FROM (%s) AS madang_view(", rb);
                    for (int j = 0; j < c.n; j++) {
                        if (j) buf_append_str(&b, ", ");
                        lex_put_ident(&b, c.name[j]);
                    }
                    buf_append_str(&b, "))");
                    if (!ref->alias[0]) {
                        buf_append_str(&b, " AS ");
                        lex_put_ident(&b, ref->name);
                    }
                    with = xstrdup(buf_cstr(&b));
                    buf_free(&b);
                    authz_cols_free(&c);
                }
            }
            free(rb);
            free(body);
        }
        if (with) {
            size_t span = ref->location != (size_t)-1 ? authz_name_span(work, ref->location) : 0;
            if (span == 0 || !authz_span_names(work + ref->location, span, ref)) {
                gate_err_set(err, "42501",
                             "madang cannot apply the row and masking policies of %s.%s in this statement",
                             v.schema, v.name);
                ok = false;
            } else {
                /* "TABLE name" (PostgreSQL's short SELECT) cannot take a subquery */
                size_t at = ref->location, tbl = prev_table_kw(work, at);
                if (tbl != (size_t)-1) {
                    char *w2 = xasprintf("SELECT * FROM %s", with);
                    free(with);
                    with = w2;
                    span += at - tbl;
                    at = tbl;
                }
                splice(&work, at, span, with);
                *changed = true;
            }
            free(with);
        }
        free(v.sql);
    }
    free(order);
    authz_named_free(&n);
    pushset_free(&ps);
    json_decref(need.names);
    json_decref(need.outputs);
    json_decref(need.unnamed);
    json_decref(held);
    if (!ok) {
        free(work);
        return NULL;
    }
    return work;
}

/* ---- the check on the rewritten statement's plan ---- */

typedef struct {
    sess_t *s;
    const rls_set_t *r;
    const char *target_schema, *target_table; /* DML target allowed one unfenced scan */
    const char *target_masked;                /* its masked columns (comma list) */
    int target_scans;
    gate_err_t *err;
    bool ok;
} vwalk_t;

static bool is_fence(json_t *e)
{
    const char *t = json_string_value(json_object_get(e, "type"));
    const char *n = json_string_value(json_object_get(e, "name"));
    return t && n && !strcmp(t, "BOUND_FUNCTION") && !strcmp(n, "madang_fence");
}

static bool in_comma_list(const char *list, const char *name)
{
    if (!list) return false;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, name, n)) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

static void vwalk(vwalk_t *w, json_t *n, bool fenced)
{
    if (!w->ok) return;
    if (json_is_array(n)) {
        size_t i;
        json_t *v;
        json_array_foreach(n, i, v) vwalk(w, v, fenced);
        return;
    }
    if (!json_is_object(n)) return;
    const char *type = json_string_value(json_object_get(n, "type"));
    if (type && !strcmp(type, "LOGICAL_FILTER")) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(n, "expressions"), i, e) if (is_fence(e)) fenced = true;
    }
    if (type && !strcmp(type, "LOGICAL_GET") && !fenced) {
        json_t *fd = json_object_get(n, "function_data");
        const char *schema = json_string_value(json_object_get(fd, "schema"));
        const char *table = json_string_value(json_object_get(fd, "table"));
        const char *catalog = json_string_value(json_object_get(fd, "catalog"));
        if (schema && table && catalog && strcmp(catalog, "temp") && strcmp(catalog, "system") &&
            is_protected(w->r, schema, table)) {
            bool target = w->target_table && !strcmp(schema, w->target_schema) &&
                          !strcmp(table, w->target_table) && w->target_scans == 0;
            if (!target) {
                gate_err_set(w->err, "0A000",
                             "%s.%s has row or masking policies for you, and this statement reads it where "
                             "madang cannot apply them",
                             schema, table);
                snprintf(
                    w->err->hint, sizeof w->err->hint,
                    "read the table in the FROM clause of a SELECT (CTEs, subqueries and views are fine)");
                w->ok = false;
                return;
            }
            w->target_scans++;
            /* UPDATE … SET may not read masked columns of its target */
            json_t *names = json_object_get(n, "names");
            size_t i;
            json_t *ci;
            json_array_foreach(json_object_get(n, "column_indexes"), i, ci)
            {
                double d = json_number_value(json_object_get(ci, "index"));
                if (d < 0 || d >= (double)json_array_size(names)) continue;
                const char *col = json_string_value(json_array_get(names, (size_t)d));
                if (col && in_comma_list(w->target_masked, col)) {
                    gate_err_set(w->err, "42501",
                                 "column %s of %s.%s is masked for you; this statement would read its "
                                 "unmasked value",
                                 col, schema, table);
                    w->ok = false;
                    return;
                }
            }
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(n, k, v) vwalk(w, v, fenced);
}

static bool verify(sess_t *s, const rls_set_t *r, const char *sql, const char *tschema, const char *ttable,
                   const char *tmasked, gate_err_t *err)
{
    json_t *plan = authz_serialize(s, "json_serialize_plan", sql, err);
    if (!plan) return false;
    vwalk_t w = {.s = s,
                 .r = r,
                 .target_schema = tschema,
                 .target_table = ttable,
                 .target_masked = tmasked,
                 .err = err,
                 .ok = true};
    vwalk(&w, json_object_get(plan, "plans"), false);
    json_decref(plan);
    return w.ok;
}

/* ---- which statements touch protected tables ---- */

/* Cheap and sound: a statement can read a table only by naming it or a view
 * (users cannot create macros; the allowed table functions read no tables). */
static bool names_protected(sess_t *s, const rls_set_t *r, const char *sql)
{
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    for (lex_tok_t t = lex_next(&l); t.type != TK_EOF && t.type != TK_ERROR; t = lex_next(&l)) {
        /* string literals too: a name in a string is never a table reference
         * the gate allows, but checking it costs nothing and fails safe */
        if (t.type != TK_IDENT && t.type != TK_QIDENT && t.type != TK_STRING) continue;
        char *v = lex_value(&t);
        bool hit = false;
        for (int i = 0; i < r->npol && !hit; i++) hit = !strcasecmp(r->pol[i].table, v);
        for (int i = 0; i < r->ncolmask && !hit; i++) hit = !strcasecmp(r->colmask[i].table, v);
        for (int i = 0; i < r->ncoltag && !hit; i++) hit = !strcasecmp(r->coltag[i].table, v);
        if (!hit) hit = authz_is_view_name(s, v);
        free(v);
        if (hit) return true;
    }
    return false;
}

/* ---- statements ---- */

typedef struct {
    const char *p;
    size_t len, offset;
} span_t;

/* Reads "[schema.]name [[AS] alias]" at the lexer. */
typedef struct {
    size_t start, end; /* the name as written */
    char schema[128], name[128], alias[128];
    size_t after; /* offset after the alias */
} target_t;

static bool read_target(const char *sql, lex_t *l, target_t *t, bool alias_allowed)
{
    memset(t, 0, sizeof *t);
    lex_tok_t a = lex_next(l);
    if (a.type != TK_IDENT && a.type != TK_QIDENT) return false;
    t->start = a.offset;
    char *parts[3] = {lex_value(&a), NULL, NULL};
    int np = 1;
    t->end = a.offset + a.len;
    for (;;) {
        lex_t save = *l;
        lex_tok_t d = lex_next(l);
        if (d.type != TK_DOT || np == 3) {
            *l = save;
            break;
        }
        lex_tok_t b = lex_next(l);
        if (b.type != TK_IDENT && b.type != TK_QIDENT) break;
        parts[np++] = lex_value(&b);
        t->end = b.offset + b.len;
    }
    snprintf(t->name, sizeof t->name, "%s", parts[np - 1]);
    if (np >= 2) snprintf(t->schema, sizeof t->schema, "%s", parts[np - 2]);
    for (int i = 0; i < np; i++) free(parts[i]);
    t->after = t->end;
    if (alias_allowed) {
        lex_t save = *l;
        lex_tok_t x = lex_next(l);
        if (lex_is(&x, "AS")) x = lex_next(l);
        if ((x.type == TK_IDENT || x.type == TK_QIDENT) && !lex_is(&x, "SET") && !lex_is(&x, "WHERE") &&
            !lex_is(&x, "USING") && !lex_is(&x, "RETURNING") && !lex_is(&x, "FROM")) {
            char *v = lex_value(&x);
            snprintf(t->alias, sizeof t->alias, "%s", v);
            free(v);
            t->after = x.offset + x.len;
        } else {
            *l = save;
        }
    }
    (void)sql;
    return true;
}

static bool resolve_target(sess_t *s, const target_t *t, rel_t *v)
{
    ref_t ref = {.catalog = "", .schema = (char *)t->schema, .name = (char *)t->name, .alias = ""};
    return authz_resolve(s, &ref, v) == REL_TABLE;
}

static bool unsupported(gate_err_t *err, const char *what, const rel_t *v)
{
    gate_err_set(err, "0A000", "%s on %s.%s is not supported while it has row or masking policies for you",
                 what, v->schema, v->name);
    return false;
}

/* UPDATE / DELETE whose target is protected: the WHERE runs on the
 * protected relation and picks row ids. */
static bool rewrite_dml(sess_t *s, const rls_set_t *r, const char *sql, bool is_update, char **out,
                        char **tschema, char **ttable, char **tmasked, gate_err_t *err)
{
    *out = NULL;
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    lex_tok_t t = lex_next(&l); /* UPDATE | DELETE */
    if (!is_update) {
        t = lex_next(&l);
        if (!lex_is(&t, "FROM")) return true; /* WITH … DELETE: the plan check decides */
    } else if (!lex_is(&t, "UPDATE")) {
        return true;
    }
    target_t tg;
    if (!read_target(sql, &l, &tg, true)) return true;
    rel_t v;
    bool is_table = resolve_target(s, &tg, &v);
    if (!is_table || !is_protected(r, v.schema, v.name)) {
        free(v.sql);
        return true;
    }
    static const char *const kws_del[] = {"USING", "WHERE", "RETURNING"};
    static const char *const kws_upd[] = {"FROM", "WHERE", "RETURNING"};
    const char *which = NULL;
    size_t after = tg.after;
    long set_at = -1;
    if (is_update) {
        static const char *const kset[] = {"SET"};
        set_at = lex_find_top_level(sql, after, kset, 1, NULL);
        if (set_at < 0) {
            free(v.sql);
            return true;
        }
        after = (size_t)set_at + 3;
    }
    size_t wi = 0;
    long at = lex_find_top_level(sql, after, is_update ? kws_upd : kws_del, 3, &wi);
    which = (is_update ? kws_upd : kws_del)[wi];
    long where_at = -1;
    if (at >= 0 && strcmp(which, "WHERE") != 0) {
        bool ok = unsupported(err,
                              is_update ? (!strcmp(which, "FROM") ? "UPDATE … FROM" : "UPDATE … RETURNING")
                                        : (!strcmp(which, "USING") ? "DELETE … USING" : "DELETE … RETURNING"),
                              &v);
        free(v.sql);
        return ok;
    }
    if (at >= 0) {
        where_at = at;
        static const char *const kret[] = {"RETURNING"};
        if (lex_find_top_level(sql, (size_t)at + 5, kret, 1, NULL) >= 0) {
            bool ok = unsupported(err, is_update ? "UPDATE … RETURNING" : "DELETE … RETURNING", &v);
            free(v.sql);
            return ok;
        }
    }
    const char *alias = tg.alias[0] ? tg.alias : tg.name;
    /* inner: SELECT a.rowid FROM <name> AS a [WHERE cond] */
    buf_t in;
    buf_init(&in, strlen(sql) + 64);
    buf_append_str(&in, "SELECT ");
    lex_put_ident(&in, alias);
    buf_append_str(&in, ".rowid FROM ");
    size_t name_loc = in.len;
    buf_append(&in, sql + tg.start, tg.end - tg.start);
    buf_append_str(&in, " AS ");
    lex_put_ident(&in, alias);
    if (where_at >= 0) {
        buf_putc(&in, ' ');
        buf_append_str(&in, sql + where_at);
    }
    bool ch;
    char *inner = rewrite_query(s, r, buf_cstr(&in), 0, name_loc, &ch, err);
    buf_free(&in);
    if (!inner) {
        free(v.sql);
        return false;
    }
    buf_t o;
    buf_init(&o, strlen(inner) + strlen(sql) + 64);
    if (is_update) {
        /* UPDATE <name> [AS a] SET … WHERE rowid IN (inner) */
        buf_append(&o, sql, (size_t)(where_at >= 0 ? where_at : (long)strlen(sql)));
    } else {
        buf_append_str(&o, "DELETE FROM ");
        buf_append(&o, sql + tg.start, tg.end - tg.start);
        buf_putc(&o, ' ');
    }
    buf_printf(&o, " WHERE rowid IN (%s)", inner);
    free(inner);
    *out = xstrdup(buf_cstr(&o));
    buf_free(&o);
    *tschema = xstrdup(v.schema);
    *ttable = xstrdup(v.name);
    gate_err_t e2;
    bool failed = false;
    char *masked = NULL;
    char *rel = protected_relation(s, r, v.db, v.schema, v.name, false, &masked, NULL, (size_t)-1, NULL, &e2,
                                   &failed);
    free(rel);
    *tmasked = masked;
    free(v.sql);
    return true;
}

/* INSERT INTO <name> [(cols)] <query>: the query is rewritten; into a table
 * with row policies, its rows must pass the user's WITH CHECK. */
static bool rewrite_insert(sess_t *s, const rls_set_t *r, const char *sql, char **out, gate_err_t *err)
{
    *out = NULL;
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    lex_tok_t t = lex_next(&l);
    if (!lex_is(&t, "INSERT")) return true; /* WITH … INSERT: the plan check decides */
    t = lex_next(&l);
    if (!lex_is(&t, "INTO")) return true; /* INSERT OR REPLACE …: the plan check decides */
    target_t tg;
    if (!read_target(sql, &l, &tg, false)) return true;
    rel_t v;
    bool is_table = resolve_target(s, &tg, &v);
    bool checked = is_table && rls_has_row_policies(r, v.schema, v.name);
    /* optional column list */
    char **cols = NULL;
    int ncols = 0;
    lex_t save = l;
    t = lex_next(&l);
    if (t.type == TK_LPAREN) {
        for (;;) {
            lex_tok_t c = lex_next(&l);
            if (c.type != TK_IDENT && c.type != TK_QIDENT) break;
            cols = xrealloc(cols, sizeof(char *) * (size_t)(ncols + 1));
            cols[ncols++] = lex_value(&c);
            lex_tok_t sep = lex_next(&l);
            if (sep.type != TK_COMMA) break;
        }
    } else {
        l = save;
    }
    size_t qstart = l.pos;
    while (qstart < strlen(sql) && isspace((unsigned char)sql[qstart])) qstart++;
    static const char *const tail[] = {"ON", "RETURNING"};
    long tail_at = lex_find_top_level(sql, qstart, tail, 2, NULL);
    lex_t q0;
    lex_init(&q0, sql + qstart, strlen(sql + qstart));
    lex_tok_t first = lex_next(&q0);
    bool query_form = first.type == TK_LPAREN || lex_is(&first, "SELECT") || lex_is(&first, "WITH") ||
                      lex_is(&first, "VALUES") || lex_is(&first, "FROM") || lex_is(&first, "TABLE");
    bool ok = true;
    if (!query_form || tail_at >= 0) {
        if (checked) ok = unsupported(err, "this form of INSERT", &v);
        goto done;
    }
    {
        char *q = xstrdup(sql + qstart);
        bool ch = false;
        char *rq = names_protected(s, r, q) ? rewrite_query(s, r, q, 0, (size_t)-1, &ch, err) : xstrdup(q);
        free(q);
        if (!rq) {
            ok = false;
            goto done;
        }
        if (!ch && !checked) {
            free(rq);
            goto done;
        }
        buf_t o;
        buf_init(&o, strlen(sql) + strlen(rq) + 256);
        buf_append(&o, sql, qstart);
        if (!checked) {
            buf_append_str(&o, rq);
        } else {
            authz_cols_t c;
            if (!authz_columns(s->conn, v.db, v.schema, v.name, &c)) {
                gate_err_set(err, "42P01", "cannot read the columns of %s.%s", v.schema, v.name);
                free(rq);
                buf_free(&o);
                ok = false;
                goto done;
            }
            bool cfailed = false;
            char *check = row_filter(s, r, v.db, v.schema, v.name, NULL, true, NULL, 0, err, &cfailed);
            if (cfailed) {
                free(rq);
                buf_free(&o);
                authz_cols_free(&c);
                ok = false;
                goto done;
            }
            /* the inserted columns, in order, named; the others NULL for the check */
            buf_t names;
            buf_init(&names, 128);
            int n = ncols ? ncols : c.n;
            for (int i = 0; i < n; i++) {
                if (i) buf_append_str(&names, ", ");
                lex_put_ident(&names, ncols ? cols[i] : c.name[i]);
            }
            buf_printf(&o, "SELECT %s FROM (SELECT madang_new.*", buf_cstr(&names));
            for (int i = 0; ncols && i < c.n; i++) {
                bool listed = false;
                for (int j = 0; j < ncols; j++) listed |= !strcasecmp(cols[j], c.name[i]);
                if (listed) continue;
                buf_printf(&o, ", CAST(NULL AS %s) AS ", c.type[i]);
                lex_put_ident(&o, c.name[i]);
            }
            buf_printf(&o,
                       " FROM (%s) AS madang_new(%s)) AS madang_row WHERE CASE WHEN (%s) THEN true ELSE "
                       "error(",
                       rq, buf_cstr(&names), check);
            char *msg = xasprintf("new row violates row-level security policy for table \"%s\"", v.name);
            lex_put_literal(&o, msg);
            free(msg);
            buf_append_str(&o, ") END");
            free(check);
            buf_free(&names);
            authz_cols_free(&c);
        }
        free(rq);
        *out = xstrdup(buf_cstr(&o));
        buf_free(&o);
    }
done:
    for (int i = 0; i < ncols; i++) free(cols[i]);
    free(cols);
    free(v.sql);
    return ok;
}

bool protect_has_row_policies(sess_t *s, const char *schema, const char *table)
{
    if (s->acl && s->acl->superuser) return false;
    const rls_set_t *r = policy_set(s);
    return r && rls_has_row_policies(r, schema, table);
}

static bool cache_get(sess_t *s, const char *key, char **val)
{
    const char *v = strcache_get(&ps(s)->rewrites, authz_version(), key);
    if (!v) return false;
    *val = v[0] ? xstrdup(v) : NULL;
    return true;
}

static void cache_put(sess_t *s, const char *key, const char *val)
{
    strcache_put(&ps(s)->rewrites, authz_version(), key, val ? val : "", 16384);
}

bool protect_rewrite(sess_t *s, gate_stmt_t *st, char **out, gate_err_t *err)
{
    *out = NULL;
    if (!s->acl) return true;
    if (s->acl->superuser) {
        /* exempt, and on the record */
        const rls_set_t *r = policy_set(s);
        if (any_policy(r) && names_protected(s, r, st->sql)) {
            char *red = audit_redact(st->sql); /* the log is no place for secrets either */
            log_event(LOG_INFO, "policy_exempt", "user=\"%s\" reason=superuser sql=\"%.200s\"", s->user, red);
            free(red);
            free(st->audit_policies);
            st->audit_policies = xstrdup("[{\"exempt\":\"superuser\"}]"); /* on the record too */
        }
        return true;
    }
    const rls_set_t *r = policy_set(s);
    if (!r) {
        gate_err_set(err, "XX000", "cannot read the row and masking policies");
        return false;
    }
    if (!any_policy(r)) return true;
    if (st->kind == MET_KIND_DDL && strcmp(st->tag, "SELECT") != 0) return true; /* only CTAS reads */
    if (!names_protected(s, r, st->sql)) return true;
    if (!strcmp(st->tag, "MERGE")) {
        /* not rewritten (yet): refused rather than run unfiltered */
        gate_err_set(err, "0A000", "MERGE is not supported on tables with row or masking policies for you");
        snprintf(err->hint, sizeof err->hint, "use INSERT, UPDATE and DELETE");
        return false;
    }
    if (cache_get(s, st->sql, out)) {
        if (*out) {
            const char *applied = strcache_get(&ps(s)->applied, authz_version(), st->sql);
            free(st->audit_policies);
            st->audit_policies = NULL;
            if (applied) {
                st->audit_policies = xstrdup(applied);
            } else {
                /* evicted: record the policies by rewriting once more */
                bool ch;
                gate_err_t e2;
                t_applied = json_array();
                char *again = rewrite_query(s, r, st->sql, 0, (size_t)-1, &ch, &e2);
                free(again);
                st->audit_policies = json_dumps(t_applied, JSON_COMPACT);
                json_decref(t_applied);
                t_applied = NULL;
            }
        }
        return true;
    }
    json_decref(t_applied);
    t_applied = json_array();

    char *res = NULL;
    char *tschema = NULL, *ttable = NULL, *tmasked = NULL;
    bool ok = true;
    const char *sql = st->sql;
    if (st->kind == MET_KIND_SELECT) {
        lex_t l;
        lex_init(&l, sql, strlen(sql));
        lex_tok_t t = lex_next(&l);
        if (lex_is(&t, "EXPLAIN")) {
            bool ch = false;
            char *x = rewrite_query(s, r, sql + l.pos, 0, (size_t)-1, &ch, err);
            ok = x != NULL;
            free(x);
            if (ok && ch) {
                gate_err_set(err, "42501",
                             "EXPLAIN is not available for statements that read tables with row or masking "
                             "policies for you");
                snprintf(err->detail, sizeof err->detail, "plans show row counts of rows the policies hide");
                ok = false;
            }
            goto finish;
        }
        bool ch = false;
        res = rewrite_query(s, r, sql, 0, (size_t)-1, &ch, err);
        ok = res != NULL;
        if (ok && !ch) {
            free(res);
            res = NULL;
        }
    } else if (st->kind == MET_KIND_UPDATE || st->kind == MET_KIND_DELETE) {
        ok = rewrite_dml(s, r, sql, st->kind == MET_KIND_UPDATE, &res, &tschema, &ttable, &tmasked, err);
    } else if (st->kind == MET_KIND_INSERT) {
        ok = rewrite_insert(s, r, sql, &res, err);
    } else if (st->kind == MET_KIND_DDL) {
        long at = lex_after_top_level_kw(sql, "AS");
        if (at > 0) {
            bool ch = false;
            ps(s)->no_sets = true;
            char *q = rewrite_query(s, r, sql + at, 0, (size_t)-1, &ch, err);
            ps(s)->no_sets = false;
            ok = q != NULL;
            if (ok && ch) res = xasprintf("%.*s %s", (int)at, sql, q);
            free(q);
        }
    }
    if (ok) ok = verify(s, r, res ? res : sql, tschema, ttable, tmasked, err);
finish:
    free(tschema);
    free(ttable);
    free(tmasked);
    if (!ok) {
        free(res);
        json_decref(t_applied);
        t_applied = NULL;
        return false;
    }
    cache_put(s, st->sql, res);
    if (res && t_applied) {
        free(st->audit_policies);
        st->audit_policies = json_dumps(t_applied, JSON_COMPACT);
        strcache_put(&ps(s)->applied, authz_version(), st->sql, st->audit_policies, 16384);
    }
    json_decref(t_applied);
    t_applied = NULL;
    if (res && log_enabled(LOG_DEBUG)) {
        char *red = audit_redact(res);
        log_event(LOG_DEBUG, "policy_rewrite", "user=\"%s\" sql=\"%.2000s\"", s->user, red);
        free(red);
    }
    *out = res;
    return true;
}

/* ---- madang.explain_access ---- */

void protect_explain(meta_t *m, duckdb_connection c, const char *user, const char *schema, const char *table,
                     void (*fn)(void *ctx, const char *what, const char *via), void *ctx)
{
    rls_set_t *r = rls_load(m);
    pol_acl_t *a = pol_acl_load(m, user);
    if (!r || !a) goto out;
    if (a->superuser) {
        if (rls_has_row_policies(r, schema, table) || rls_may_mask(r, schema, table))
            fn(ctx, "ROW FILTER", "superuser: exempt from row and masking policies");
        goto out;
    }
    sess_t fake = {0};
    fake.acl = a;
    snprintf(fake.real_user, sizeof fake.real_user, "%s", user);
    char names[512];
    char *f = row_filter(&fake, r, NULL, schema, table, NULL, false, names, sizeof names, NULL, NULL);
    if (f) {
        char *via = names[0] ? xasprintf("policies %s: %s", names, f)
                             : xstrdup("no row policy admits this user: no rows are visible");
        fn(ctx, "ROW FILTER", via);
        free(via);
        free(f);
    }
    /* masks: the table's columns from the engine */
    authz_cols_t cols;
    if (authz_columns(c, NULL, schema, table, &cols)) {
        for (int i = 0; i < cols.n; i++) {
            char via[160];
            const rls_mask_t *mk =
                rls_column_mask(r, schema, table, cols.name[i], cols.type[i], via, sizeof via);
            if (!mk) continue;
            char *what = xasprintf("MASK %s", cols.name[i]);
            char *why = xasprintf("masking policy %s (%s)", mk->name, via);
            fn(ctx, what, why);
            free(what);
            free(why);
        }
        authz_cols_free(&cols);
    }
out:
    rls_free(r);
    pol_acl_free(a);
}
