/* lex.h — a small SQL lexer for the gate: splitting statements and reading
 * their leading words. It never decides what a statement *does* (the engine's
 * bound plan does, see DESIGN.md); it finds statement boundaries and the
 * statements madang handles itself (SET, SHOW, COPY, CREATE USER, ...).
 *
 * It understands PostgreSQL's lexical rules: '' strings with '' doubling,
 * E'' strings with backslash escapes, "" identifiers, $tag$ dollar quotes,
 * -- and nested block comments. */
#ifndef MADANG_GATE_LEX_H
#define MADANG_GATE_LEX_H

#include "util/util.h"

typedef enum {
    TK_EOF,
    TK_ERROR, /* unterminated string, identifier or comment */
    TK_IDENT, /* bare word (keyword or identifier) */
    TK_QIDENT,
    TK_STRING,
    TK_NUMBER,
    TK_PARAM, /* $1 */
    TK_OP,    /* any other punctuation, one operator run */
    TK_SEMI,
    TK_LPAREN,
    TK_RPAREN,
    TK_COMMA,
    TK_DOT,
} lex_type_t;

typedef struct {
    lex_type_t type;
    const char *p;
    size_t len;
    size_t offset; /* byte offset in the SQL text */
} lex_tok_t;

typedef struct {
    const char *sql;
    size_t len;
    size_t pos;
} lex_t;

void lex_init(lex_t *l, const char *sql, size_t len);
lex_tok_t lex_next(lex_t *l);
/* Case-insensitive keyword match of a bare word. */
bool lex_is(const lex_tok_t *t, const char *kw);
/* The value of a string literal token (unescaped) or identifier (unquoted
 * folded to lower case, quoted taken as is). Heap string. */
char *lex_value(const lex_tok_t *t);

/* Byte offset just past the first occurrence of keyword kw outside any
 * parentheses (e.g. the AS of CREATE VIEW v AS ...), or -1. */
long lex_after_top_level_kw(const char *sql, const char *kw);
/* Byte offset of the first keyword of kws outside any parentheses at or after
 * from, or -1; *which (may be NULL) gets its index. */
long lex_find_top_level(const char *sql, size_t from, const char *const *kws, size_t nkws, size_t *which);

/* Appends s as a quoted identifier ("a""b") or a string literal ('it''s'). */
void lex_put_ident(buf_t *b, const char *s);
void lex_put_literal(buf_t *b, const char *s);
/* "catalog"."schema"."name" (catalog left out when NULL or empty). */
void lex_put_qname(buf_t *b, const char *catalog, const char *schema, const char *name);

/* Splits SQL into statements on top-level semicolons. Each range excludes the
 * semicolon; empty statements (only blanks and comments) are kept with
 * is_empty set so the wire can answer EmptyQueryResponse. Returns the count;
 * *out is heap-allocated. Returns -1 on a lexical error (unterminated quote). */
typedef struct {
    size_t start, len;
    bool is_empty;
} lex_range_t;
int lex_split(const char *sql, lex_range_t **out);

#endif
