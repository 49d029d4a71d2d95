/* compat.c — PostgreSQL compatibility for DuckDB (see compat.h).
 *
 * Why it is built this way (findings against DuckDB 1.4.4):
 *  - Nothing can be created in pg_catalog, and a qualified pg_catalog.x is only
 *    looked up in system.pg_catalog, whose views are wrong for PostgreSQL
 *    clients (atttypid holds DuckDB type ids, pg_index is empty, ...). So the
 *    rewrite strips "pg_catalog." and the shim provides the names unqualified.
 *  - TEMP objects come first on DuckDB's search path (temp.main, then the
 *    user's schemas, system.main, system.pg_catalog), so the shim is TEMP and
 *    per connection: it shadows builtins such as version() and current_user,
 *    is invisible to other sessions, never lands in the user's database file
 *    and is not undone by a client's SET search_path.
 *  - OPERATOR(pg_catalog.~) and COLLATE pg_catalog.default parse into wrong
 *    nodes, reg* types do not exist, '{a,b}' is not a DuckDB list literal, and
 *    "FROM generate_series(...) s" makes s a STRUCT row where PostgreSQL makes
 *    it a scalar column: those are fixed on tokens before DuckDB parses.
 *
 * SECURITY: the shim objects are TEMP objects on the client's own connection,
 * and a client could try to redefine them (CREATE OR REPLACE TEMP MACRO
 * current_user() AS 'admin', or write into madang_settings / drop a view) to
 * lie to itself or to anything that trusts those answers. madang's identity
 * and policy decisions must never read them back from SQL; and the gate must
 * deny CREATE MACRO / CREATE FUNCTION and any write (INSERT/UPDATE/DELETE/
 * DROP/ALTER/CREATE OR REPLACE) that targets a temp object, other than the
 * compat_set_setting upsert madang issues itself. */
#include "gate/compat.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/lex.h"

/* src/gate/compat.sql, embedded by scripts/embed-sql ($(BUILD)/gen/compat_sql.c). */
extern const char compat_sql[];

/* ---------------------------------------------------------------- rewrite */

/* One token of the statement and what to do with it when the text is put
 * back together: the blanks/comments before it ("gap") and its text are
 * kept unless dropped; before/after are inserted around it. */
typedef struct {
    lex_tok_t tok;
    bool drop;
    bool drop_gap;
    bool in_from; /* inside a FROM list at this paren depth */
    const char *repl;
    size_t repl_len;
    char *before;
    char *after;
} rw_tok_t;

typedef struct {
    const char *sql;
    rw_tok_t *t;
    size_t n;
} rw_t;

/* The words that can start a rewrite, lower case. '{ stands for an array
 * literal. If none occurs (case-insensitively) the SQL is copied as is. */
static const char *const trigger_words[] = {
    "pg_catalog",         "regclass",        "regtype", "regproc",
    "regnamespace",       "operator",        "collate", "'{",
    "_pg_expandarray",    "generate_series", "unnest",  "bytea",
    "information_schema",
};

static bool has_trigger(const char *sql)
{
    for (const char *p = sql; *p; p++) {
        char c = (char)tolower((unsigned char)*p);
        if (c != 'p' && c != 'r' && c != 'o' && c != 'c' && c != '\'' && c != '_' && c != 'g' && c != 'u' &&
            c != 'b' && c != 'i')
            continue;
        char c2 = (char)tolower((unsigned char)p[1]);
        for (size_t i = 0; i < ARRAY_LEN(trigger_words); i++) {
            const char *w = trigger_words[i];
            if (w[0] == c && w[1] == c2 && strncasecmp(p, w, strlen(w)) == 0) return true;
        }
    }
    return false;
}

/* lex_is with the cheap tests first: keyword lists are checked per token. */
static bool word_is(const lex_tok_t *t, const char *kw)
{
    return t->type == TK_IDENT && tolower((unsigned char)t->p[0]) == kw[0] && t->len == strlen(kw) &&
           strncasecmp(t->p, kw, t->len) == 0;
}

static bool tok_is(const rw_t *r, size_t i, lex_type_t type)
{
    return i < r->n && r->t[i].tok.type == type;
}

static bool tok_kw(const rw_t *r, size_t i, const char *kw)
{
    return i < r->n && word_is(&r->t[i].tok, kw);
}

static bool tok_text(const rw_t *r, size_t i, const char *s)
{
    return i < r->n && r->t[i].tok.len == strlen(s) && memcmp(r->t[i].tok.p, s, r->t[i].tok.len) == 0;
}

static bool tok_name(const rw_t *r, size_t i)
{
    return tok_is(r, i, TK_IDENT) || tok_is(r, i, TK_QIDENT);
}

/* Identifier (bare or quoted) whose value is name; bare words compare
 * case-insensitively, quoted ones exactly (name is lower case). */
static bool tok_named(const rw_t *r, size_t i, const char *name)
{
    if (tok_is(r, i, TK_IDENT)) return word_is(&r->t[i].tok, name);
    if (!tok_is(r, i, TK_QIDENT)) return false;
    const lex_tok_t *t = &r->t[i].tok;
    return t->len == strlen(name) + 2 && memcmp(t->p + 1, name, t->len - 2) == 0;
}

/* "pg_catalog" "." at i, not itself preceded by a dot (db.pg_catalog.x). */
static bool is_pgcat(const rw_t *r, size_t i)
{
    return tok_named(r, i, "pg_catalog") && tok_is(r, i + 1, TK_DOT) && !(i > 0 && tok_is(r, i - 1, TK_DOT));
}

static size_t skip_pgcat(const rw_t *r, size_t i)
{
    return tok_named(r, i, "pg_catalog") && tok_is(r, i + 1, TK_DOT) ? i + 2 : i;
}

/* Drops tokens [a, b) and the gaps between them; the gap before a is kept
 * unless gap_a. */
static void drop_range(rw_t *r, size_t a, size_t b, bool gap_a)
{
    for (size_t k = a; k < b && k < r->n; k++) {
        r->t[k].drop = true;
        if (k > a || gap_a) r->t[k].drop_gap = true;
    }
}

static void add_text(char **slot, const char *s, bool prepend)
{
    if (!*slot) {
        *slot = xstrdup(s);
        return;
    }
    char *n = prepend ? xasprintf("%s%s", s, *slot) : xasprintf("%s%s", *slot, s);
    free(*slot);
    *slot = n;
}

/* Wrapping [s, e] in "fn(" ... ")": an earlier wrap of the same start stays
 * inside (prepend), an earlier closing at the same end stays inside too. */
static void wrap(rw_t *r, size_t s, size_t e, const char *open, const char *close)
{
    add_text(&r->t[s].before, open, true);
    add_text(&r->t[e].after, close, false);
}

/* Index of the token matching the closer at e (")" or "]"), scanning back;
 * SIZE_MAX if unbalanced. */
static size_t match_back(const rw_t *r, size_t e)
{
    bool paren = r->t[e].tok.type == TK_RPAREN;
    int depth = 0;
    for (size_t k = e + 1; k-- > 0;) {
        if (paren ? tok_is(r, k, TK_RPAREN) : tok_text(r, k, "]")) depth++;
        if (paren ? tok_is(r, k, TK_LPAREN) : tok_text(r, k, "[")) {
            if (--depth == 0) return k;
        }
    }
    return SIZE_MAX;
}

static size_t match_fwd(const rw_t *r, size_t s)
{
    int depth = 0;
    for (size_t k = s; k < r->n; k++) {
        if (tok_is(r, k, TK_LPAREN)) depth++;
        if (tok_is(r, k, TK_RPAREN) && --depth == 0) return k;
    }
    return SIZE_MAX;
}

/* Words that can stand before "(" without being a function name. */
static bool is_nonfunc_kw(const rw_t *r, size_t i)
{
    static const char *const kws[] = {
        "select", "where",   "and",       "or",     "not",   "in",     "on",        "when",   "then",
        "else",   "case",    "from",      "join",   "as",    "by",     "having",    "is",     "like",
        "ilike",  "between", "exists",    "any",    "all",   "some",   "array",     "values", "distinct",
        "using",  "return",  "returning", "with",   "union", "except", "intersect", "over",   "filter",
        "within", "lateral", "limit",     "offset", "set",
    };
    if (!tok_is(r, i, TK_IDENT)) return false;
    for (size_t k = 0; k < ARRAY_LEN(kws); k++)
        if (word_is(&r->t[i].tok, kws[k])) return true;
    return false;
}

/* Start of a dotted name ending at e (a.b."c"). */
static size_t name_start(const rw_t *r, size_t e)
{
    size_t s = e;
    while (s >= 2 && tok_is(r, s - 1, TK_DOT) && tok_name(r, s - 2)) s -= 2;
    return s;
}

/* First token of the primary expression that ends at token e (the operand of
 * a following "::" cast); SIZE_MAX if it cannot be told. */
static size_t operand_start(const rw_t *r, size_t e)
{
    if (e >= r->n) return SIZE_MAX;
    switch (r->t[e].tok.type) {
    case TK_STRING:
    case TK_NUMBER:
    case TK_PARAM:
        return e;
    case TK_QIDENT:
        return name_start(r, e);
    case TK_IDENT:
        if (tok_kw(r, e, "end")) { /* CASE ... END */
            int depth = 0;
            for (size_t k = e + 1; k-- > 0;) {
                if (tok_kw(r, k, "end")) depth++;
                if (tok_kw(r, k, "case") && --depth == 0) return k;
            }
            return SIZE_MAX;
        }
        return name_start(r, e);
    case TK_RPAREN: {
        size_t l = match_back(r, e);
        if (l == SIZE_MAX) return SIZE_MAX;
        if (l > 0 && tok_name(r, l - 1) && !is_nonfunc_kw(r, l - 1)) return name_start(r, l - 1);
        return l;
    }
    case TK_OP:
        if (tok_text(r, e, "]")) { /* subscript: base[...] */
            size_t b = match_back(r, e);
            if (b == SIZE_MAX || b == 0) return SIZE_MAX;
            return operand_start(r, b - 1);
        }
        return SIZE_MAX;
    default:
        return SIZE_MAX;
    }
}

/* After the type name of a reg* cast ending at j: a following ::text,
 * ::varchar or ::name (optionally pg_catalog-qualified) whose last token is
 * returned in *end; false if there is none. */
static bool text_cast_follows(const rw_t *r, size_t j, size_t *end)
{
    if (!tok_text(r, j + 1, "::")) return false;
    size_t m = skip_pgcat(r, j + 2);
    if (tok_kw(r, m, "text") || tok_kw(r, m, "varchar") || tok_kw(r, m, "name")) {
        *end = m;
        return true;
    }
    return false;
}

/* "::" at i followed by [pg_catalog.]regclass|regtype|regnamespace|regproc.
 * Returns the index after the consumed tokens, or i + 1 if nothing applied. */
static size_t rewrite_regcast(rw_t *r, size_t i)
{
    size_t j = skip_pgcat(r, i + 1);
    bool regclass = tok_kw(r, j, "regclass"), regtype = tok_kw(r, j, "regtype");
    bool regns = tok_kw(r, j, "regnamespace"),
         regproc = tok_kw(r, j, "regproc") || tok_kw(r, j, "regprocedure");
    if (!(regclass || regtype || regns || regproc) || i == 0) return i + 1;
    size_t e = i - 1, s = operand_start(r, e);
    if (s == SIZE_MAX) return i + 1;
    bool literal = tok_is(r, e, TK_STRING) || tok_is(r, e, TK_PARAM); /* a name, not an oid */
    bool number = tok_is(r, e, TK_NUMBER);
    size_t end = j;
    bool to_text = text_cast_follows(r, j, &end);
    bool to_oid = false;
    if (!to_text && tok_text(r, j + 1, "::") && tok_kw(r, skip_pgcat(r, j + 2), "oid")) {
        to_oid = true;
        end = skip_pgcat(r, j + 2);
    }

    if (regclass) {
        if (literal && s == e) {
            if (to_text) {
                wrap(r, s, e, "madang_regclass_name(madang_regclass(", "))");
            } else {
                wrap(r, s, e, "madang_regclass(", ")");
                end = j; /* keep a following ::oid */
            }
        } else if (to_oid || (number && !to_text)) {
            /* an oid already: x::regclass::oid and 16405::regclass are x */
        } else {
            wrap(r, s, e, "madang_regclass_name(", ")");
        }
    } else if (regtype) {
        if (literal && s == e) {
            if (to_text) {
                wrap(r, s, e, "format_type(madang_regtype(", "), NULL)");
            } else {
                wrap(r, s, e, "madang_regtype(", ")");
                end = j;
            }
        } else if (!to_oid) {
            wrap(r, s, e, "format_type(", ", NULL)");
        }
    } else if (regns) {
        if (literal) return i + 1; /* 'name'::regnamespace: not supported */
        if (!to_oid) wrap(r, s, e, "madang_nspname(", ")");
    } else { /* regproc */
        if (!(literal && s == e)) return i + 1;
        wrap(r, s, e, "madang_regproc(", ")");
        end = j;
    }
    drop_range(r, i, end + 1, true);
    return end + 1;
}

/* PostgreSQL array literal '{a,b,"c d"}' cast to an array type, at the
 * string token i: DuckDB's list syntax is '[a,b,"c d"]'. Braces inside
 * double-quoted elements stay. */
static void rewrite_array_literal(rw_t *r, size_t i)
{
    const lex_tok_t *t = &r->t[i].tok;
    if (t->len < 4 || t->p[0] != '\'' || t->p[1] != '{' || t->p[t->len - 2] != '}') return;
    if (!tok_text(r, i + 1, "::")) return;
    size_t j = skip_pgcat(r, i + 2), k = j;
    while (k < j + 3 && tok_name(r, k)) k++; /* text, character varying, double precision */
    if (k == j || !tok_text(r, k, "[")) return;
    char *s = xstrndup(t->p, t->len);
    bool quoted = false;
    for (size_t k = 1; k + 1 < t->len; k++) {
        if (quoted && s[k] == '\\' && k + 2 < t->len) {
            k++;
        } else if (s[k] == '"') {
            quoted = !quoted;
        } else if (!quoted && s[k] == '{') {
            s[k] = '[';
        } else if (!quoted && s[k] == '}') {
            s[k] = ']';
        }
    }
    /* the only heap-owned repl: freed in compat_rewrite (TK_STRING tokens) */
    r->t[i].repl = s;
    r->t[i].repl_len = t->len;
}

/* '\x0a0b'::bytea is PostgreSQL's hex bytea input (psycopg2 sends bytes this
 * way); DuckDB would read the backslash escapes instead: use unhex(). */
static void rewrite_bytea_literal(rw_t *r, size_t i)
{
    const lex_tok_t *t = &r->t[i].tok;
    if (t->len < 4 || t->p[0] != '\'' || t->p[1] != '\\' || (t->p[2] != 'x' && t->p[2] != 'X')) return;
    if (!tok_text(r, i + 1, "::")) return;
    size_t j = skip_pgcat(r, i + 2);
    if (!tok_named(r, j, "bytea")) return;
    for (size_t k = 3; k + 1 < t->len; k++)
        if (!isxdigit((unsigned char)t->p[k])) return;
    buf_t b;
    buf_init(&b, t->len + 16);
    buf_append_str(&b, "unhex('");
    buf_append(&b, t->p + 3, t->len - 4);
    buf_append_str(&b, "')");
    r->t[i].repl = buf_cstr(&b);
    r->t[i].repl_len = b.len;
    drop_range(r, i + 1, j + 1, false);
}

static bool is_clause_end_kw(const rw_t *r, size_t i)
{
    static const char *const kws[] = {
        "select",    "where",  "group",   "order",     "having", "limit", "offset", "union", "except",
        "intersect", "window", "qualify", "returning", "values", "set",   "fetch",  "into",
    };
    for (size_t k = 0; k < ARRAY_LEN(kws); k++)
        if (tok_kw(r, i, kws[k])) return true;
    return false;
}

/* Marks each token that sits in a FROM list at its own paren depth. */
static void mark_from_lists(rw_t *r)
{
    enum { MAXD = 64 };
    bool from[MAXD] = {false};
    int depth = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (tok_is(r, i, TK_LPAREN)) {
            r->t[i].in_from = depth < MAXD && from[depth];
            depth++;
            if (depth < MAXD) from[depth] = false;
            continue;
        }
        if (tok_is(r, i, TK_RPAREN)) {
            if (depth > 0) depth--;
        } else if (!tok_is(r, i, TK_IDENT)) {
            /* only words change the clause */
        } else if (depth < MAXD && (tok_kw(r, i, "from") || tok_kw(r, i, "join"))) {
            from[depth] = true;
        } else if (depth < MAXD && is_clause_end_kw(r, i)) {
            from[depth] = false;
        }
        r->t[i].in_from = depth < MAXD && from[depth];
    }
}

/* The last token before i that is kept; SIZE_MAX if none. */
static size_t prev_live(const rw_t *r, size_t i)
{
    while (i-- > 0)
        if (!r->t[i].drop) return i;
    return SIZE_MAX;
}

/* Words that follow a FROM item and are not its alias. */
static bool is_not_alias(const rw_t *r, size_t i)
{
    static const char *const kws[] = {
        "on",    "where",   "join",    "left",      "right",       "full",      "inner",
        "cross", "natural", "order",   "group",     "limit",       "union",     "using",
        "with",  "having",  "window",  "offset",    "except",      "intersect", "outer",
        "fetch", "for",     "qualify", "returning", "tablesample", "lateral",   "as",
    };
    if (!tok_is(r, i, TK_IDENT)) return false;
    for (size_t k = 0; k < ARRAY_LEN(kws); k++)
        if (word_is(&r->t[i].tok, kws[k])) return true;
    return false;
}

/* "FROM generate_series(...) s" / ", unnest(...) x": PostgreSQL makes the
 * alias a scalar column, DuckDB a STRUCT row; s(s) names the column too. */
static void rewrite_srf_alias(rw_t *r, size_t i)
{
    if (!tok_is(r, i + 1, TK_LPAREN) || !r->t[i].in_from) return;
    size_t p = prev_live(r, i);
    if (p == SIZE_MAX ||
        !(tok_kw(r, p, "from") || tok_kw(r, p, "join") || tok_kw(r, p, "lateral") || tok_is(r, p, TK_COMMA)))
        return;
    size_t close = match_fwd(r, i + 1);
    if (close == SIZE_MAX) return;
    size_t a = close + 1;
    if (tok_kw(r, a, "as")) a++;
    if (!tok_name(r, a) || is_not_alias(r, a) || tok_is(r, a + 1, TK_LPAREN)) return;
    const lex_tok_t *t = &r->t[a].tok;
    char *col = xasprintf("(%.*s)", (int)t->len, t->p);
    add_text(&r->t[a].after, col, false);
    free(col);
}

static void rw_emit(const rw_t *r, buf_t *out)
{
    size_t pos = 0;
    for (size_t i = 0; i < r->n; i++) {
        const rw_tok_t *t = &r->t[i];
        if (!t->drop_gap) buf_append(out, r->sql + pos, t->tok.offset - pos);
        if (t->before) buf_append_str(out, t->before);
        if (!t->drop) {
            if (t->repl)
                buf_append(out, t->repl, t->repl_len);
            else
                buf_append(out, t->tok.p, t->tok.len);
        }
        if (t->after) buf_append_str(out, t->after);
        pos = t->tok.offset + t->tok.len;
    }
    buf_append_str(out, r->sql + pos);
}

char *compat_rewrite(const char *sql)
{
    if (!has_trigger(sql)) return xstrdup(sql);

    rw_t r = {sql, NULL, 0};
    size_t cap = 64;
    r.t = xmalloc(cap * sizeof *r.t);
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    for (;;) {
        lex_tok_t t = lex_next(&l);
        if (t.type == TK_ERROR) { /* let DuckDB report the unterminated quote */
            free(r.t);
            return xstrdup(sql);
        }
        if (t.type == TK_EOF) break;
        if (r.n == cap) {
            cap *= 2;
            r.t = xrealloc(r.t, cap * sizeof *r.t);
        }
        r.t[r.n++] = (rw_tok_t){.tok = t};
    }
    bool from_marked = false; /* mark_from_lists runs only if an SRF occurs */
    for (size_t i = 0; i < r.n;) {
        if (tok_kw(&r, i, "operator") && tok_is(&r, i + 1, TK_LPAREN)) {
            /* OPERATOR(pg_catalog.~) → ~ */
            size_t j = i + 2;
            while (tok_name(&r, j) && tok_is(&r, j + 1, TK_DOT)) j += 2;
            if (tok_is(&r, j, TK_OP) && tok_is(&r, j + 1, TK_RPAREN)) {
                r.t[i].repl = r.t[j].tok.p;
                r.t[i].repl_len = r.t[j].tok.len;
                if (r.t[i].tok.offset == (i ? r.t[i - 1].tok.offset + r.t[i - 1].tok.len : 0))
                    add_text(&r.t[i].before, " ", false);
                if (j + 2 < r.n && r.t[j + 2].tok.offset == r.t[j + 1].tok.offset + 1)
                    add_text(&r.t[i].after, " ", false);
                drop_range(&r, i + 1, j + 2, true);
                i = j + 2;
                continue;
            }
        }
        if (tok_kw(&r, i, "collate")) {
            /* COLLATE pg_catalog."default": DuckDB has no collation "default" */
            size_t j = skip_pgcat(&r, i + 1);
            if (tok_named(&r, j, "default")) {
                drop_range(&r, i, j + 1, true);
                i = j + 1;
                continue;
            }
        }
        if (tok_named(&r, i, "information_schema") && tok_is(&r, i + 1, TK_DOT) &&
            tok_named(&r, i + 2, "_pg_expandarray") && !(i > 0 && tok_is(&r, i - 1, TK_DOT))) {
            drop_range(&r, i, i + 2, false);
            r.t[i + 2].drop_gap = true;
            i += 2;
            continue;
        }
        if (tok_named(&r, i, "information_schema") && tok_is(&r, i + 1, TK_DOT) &&
            !(i > 0 && tok_is(&r, i - 1, TK_DOT))) {
            /* information_schema.tables → madang_is_tables: the shim's filtered copies */
            static const char *const is_views[] = {"tables",
                                                   "columns",
                                                   "views",
                                                   "schemata",
                                                   "table_constraints",
                                                   "key_column_usage",
                                                   "referential_constraints"};
            for (size_t v = 0; v < ARRAY_LEN(is_views); v++) {
                if (tok_named(&r, i + 2, is_views[v]) && r.t[i + 2].tok.type == TK_IDENT) {
                    drop_range(&r, i, i + 2, false);
                    r.t[i + 2].drop_gap = true;
                    add_text(&r.t[i + 2].before, "madang_is_", false);
                    break;
                }
            }
            if (r.t[i].drop) {
                i += 3;
                continue;
            }
        }
        if (is_pgcat(&r, i)) {
            drop_range(&r, i, i + 2, false);
            if (i + 2 < r.n) r.t[i + 2].drop_gap = true;
            i += 2;
            continue;
        }
        if (tok_text(&r, i, "::")) {
            i = rewrite_regcast(&r, i);
            continue;
        }
        if (tok_is(&r, i, TK_STRING)) {
            rewrite_array_literal(&r, i);
            rewrite_bytea_literal(&r, i);
        }
        if (tok_kw(&r, i, "generate_series") || tok_kw(&r, i, "unnest")) {
            if (!from_marked) mark_from_lists(&r);
            from_marked = true;
            rewrite_srf_alias(&r, i);
        }
        i++;
    }

    buf_t out;
    buf_init(&out, strlen(sql) + 64);
    rw_emit(&r, &out);
    buf_cstr(&out);
    for (size_t i = 0; i < r.n; i++) {
        free(r.t[i].before);
        free(r.t[i].after);
        if (r.t[i].repl && r.t[i].tok.type == TK_STRING) free((char *)r.t[i].repl);
    }
    free(r.t);
    return out.data;
}

/* ---------------------------------------------------------------- install */

/* x86_64-pc-linux-gnu style triple of the build, for version(). */
#if defined(__x86_64__)
#define COMPAT_ARCH "x86_64-pc-linux-gnu, 64-bit"
#elif defined(__aarch64__)
#define COMPAT_ARCH "aarch64-unknown-linux-gnu, 64-bit"
#else
#define COMPAT_ARCH "unknown-linux-gnu"
#endif

/* s with ' doubled, for the body of a '...' literal. */
static void append_sql_literal_body(buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\'') buf_putc(b, '\'');
        buf_putc(b, *s);
    }
}

/* The shim with placeholders filled in and the "@@" separator lines turned
 * into ";" so that the whole script runs as one duckdb_query. Measured on
 * DuckDB 1.4.4 (2-core box, median of 40 fresh connections): 30-45 ms per
 * connection, one query vs one duckdb_query per statement within noise, the
 * single query a few ms lower at best; no statement dominates, binding the
 * ~70 CREATE statements does. */
/* part: 0 = the statements before the "@@ lazy" line (installed at connect),
 * 1 = the ones after it (installed on first use), 2 = all. */
static char *shim_script(const char *user, bool superuser, int32_t pid, const char *db, int part)
{
    char *version = xasprintf("PostgreSQL %s (madang %s, DuckDB %s) on %s", MADANG_PG_VERSION, MADANG_VERSION,
                              duckdb_library_version(), COMPAT_ARCH);
    char pidbuf[16];
    snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
    buf_t b;
    buf_init(&b, strlen(compat_sql) + 256);
    bool emitting = part != 1;
    for (const char *p = compat_sql; *p;) {
        const char *line_end = strchr(p, '\n');
        size_t len = line_end ? (size_t)(line_end - p) : strlen(p);
        if (len >= 7 && strncmp(p, "@@ lazy", 7) == 0) {
            if (part == 0) break;
            buf_append_str(&b, ";\n");
            emitting = true;
            p += len + (line_end ? 1 : 0);
            continue;
        }
        if (!emitting) {
            p += len + (line_end ? 1 : 0);
            continue;
        }
        if (len == 2 && p[0] == '@' && p[1] == '@') {
            buf_append_str(&b, ";\n");
            p += len + (line_end ? 1 : 0);
            continue;
        }
        /* copy the line, filling in placeholders (values are never rescanned) */
        for (const char *q = p; q < p + len;) {
            if (q[0] == '{' && q[1] == '{') {
                if (strncmp(q, "{{USER}}", 8) == 0) {
                    append_sql_literal_body(&b, user);
                    q += 8;
                    continue;
                }
                if (strncmp(q, "{{SUPERUSER}}", 13) == 0) {
                    buf_append_str(&b, superuser ? "on" : "off");
                    q += 13;
                    continue;
                }
                if (strncmp(q, "{{DB}}", 6) == 0) {
                    append_sql_literal_body(&b, db);
                    q += 6;
                    continue;
                }
                if (strncmp(q, "{{PID}}", 7) == 0) {
                    buf_append_str(&b, pidbuf);
                    q += 7;
                    continue;
                }
                if (strncmp(q, "{{VERSION}}", 11) == 0) {
                    append_sql_literal_body(&b, version);
                    q += 11;
                    continue;
                }
            }
            buf_putc(&b, *q++);
        }
        buf_putc(&b, '\n');
        p += len + (line_end ? 1 : 0);
    }
    free(version);
    buf_cstr(&b);
    return b.data;
}

bool compat_install_part(duckdb_connection c, const char *user, bool superuser, int32_t pid, int part,
                         char *err, size_t errlen)
{
    /* The shim's views select this catalog's objects by its real name (DuckDB
     * names it after the database file); it is read before current_database()
     * is shadowed with "madang". Re-installing keeps the same name. */
    char db[256] = "";
    duckdb_result res;
    if (duckdb_query(c,
                     "SELECT database_name FROM duckdb_databases() WHERE NOT internal AND NOT readonly "
                     "AND database_name NOT IN ('temp', 'system') ORDER BY database_oid LIMIT 1",
                     &res) == DuckDBSuccess &&
        duckdb_row_count(&res) > 0) {
        char *v = duckdb_value_varchar(&res, 0, 0);
        if (v) snprintf(db, sizeof db, "%s", v);
        duckdb_free(v);
    }
    duckdb_destroy_result(&res);
    char *script = shim_script(user ? user : "", superuser, pid, db, part);
    bool ok = duckdb_query(c, script, &res) == DuckDBSuccess;
    if (!ok) {
        const char *e = duckdb_result_error(&res);
        snprintf(err, errlen, "installing the PostgreSQL catalog shim failed: %s", e ? e : "unknown error");
    }
    duckdb_destroy_result(&res);
    free(script);
    return ok;
}

bool compat_install(duckdb_connection c, const char *user, bool superuser, int32_t pid, char *err,
                    size_t errlen)
{
    return compat_install_part(c, user, superuser, pid, 2, err, errlen);
}

bool compat_set_setting(duckdb_connection c, const char *name, const char *value)
{
    duckdb_prepared_statement ps = NULL;
    bool ok = false;
    if (duckdb_prepare(c, "INSERT OR REPLACE INTO temp.main.madang_settings VALUES (lower($1), $2)", &ps) !=
        DuckDBSuccess)
        goto done;
    if (duckdb_bind_varchar(ps, 1, name) != DuckDBSuccess) goto done;
    if ((value ? duckdb_bind_varchar(ps, 2, value) : duckdb_bind_null(ps, 2)) != DuckDBSuccess) goto done;
    duckdb_result res;
    ok = duckdb_execute_prepared(ps, &res) == DuckDBSuccess;
    duckdb_destroy_result(&res);
done:
    duckdb_destroy_prepare(&ps);
    return ok;
}
