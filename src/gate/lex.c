/* lex.c — the gate's SQL lexer (see lex.h). */
#include "gate/lex.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void lex_init(lex_t *l, const char *sql, size_t len)
{
    l->sql = sql;
    l->len = len;
    l->pos = 0;
}

static bool ident_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Skips blanks and comments; false on an unterminated block comment. */
static bool skip_space(lex_t *l)
{
    while (l->pos < l->len) {
        char c = l->sql[l->pos];
        if (isspace((unsigned char)c)) {
            l->pos++;
        } else if (c == '-' && l->pos + 1 < l->len && l->sql[l->pos + 1] == '-') {
            while (l->pos < l->len && l->sql[l->pos] != '\n' && l->sql[l->pos] != '\r') l->pos++;
        } else if (c == '/' && l->pos + 1 < l->len && l->sql[l->pos + 1] == '*') {
            int depth = 0;
            do {
                if (l->pos + 1 < l->len && l->sql[l->pos] == '/' && l->sql[l->pos + 1] == '*') {
                    depth++;
                    l->pos += 2;
                } else if (l->pos + 1 < l->len && l->sql[l->pos] == '*' && l->sql[l->pos + 1] == '/') {
                    depth--;
                    l->pos += 2;
                } else {
                    l->pos++;
                }
            } while (depth > 0 && l->pos < l->len);
            if (depth > 0) return false;
        } else {
            break;
        }
    }
    return true;
}

lex_tok_t lex_next(lex_t *l)
{
    lex_tok_t t = {TK_EOF, NULL, 0, 0};
    if (!skip_space(l)) {
        t.type = TK_ERROR;
        return t;
    }
    t.offset = l->pos;
    t.p = l->sql + l->pos;
    if (l->pos >= l->len) return t;
    const char *s = l->sql;
    size_t i = l->pos;
    unsigned char c = (unsigned char)s[i];
    bool estr = (c == 'e' || c == 'E') && i + 1 < l->len && s[i + 1] == '\'';
    if (estr || c == '\'' ||
        ((c == 'x' || c == 'X' || c == 'b' || c == 'B' || c == 'n' || c == 'N') && i + 1 < l->len &&
         s[i + 1] == '\'')) {
        if (c != '\'') i++;
        i++; /* opening quote */
        for (;;) {
            if (i >= l->len) {
                t.type = TK_ERROR;
                return t;
            }
            if (estr && s[i] == '\\') {
                i += 2;
                continue;
            }
            if (s[i] == '\'') {
                if (i + 1 < l->len && s[i + 1] == '\'') {
                    i += 2;
                    continue;
                }
                i++;
                break;
            }
            i++;
        }
        t.type = TK_STRING;
    } else if (c == '"') {
        i++;
        for (;;) {
            if (i >= l->len) {
                t.type = TK_ERROR;
                return t;
            }
            if (s[i] == '"') {
                if (i + 1 < l->len && s[i + 1] == '"') {
                    i += 2;
                    continue;
                }
                i++;
                break;
            }
            i++;
        }
        t.type = TK_QIDENT;
    } else if (c == '$' && i + 1 < l->len && isdigit((unsigned char)s[i + 1])) {
        i++;
        while (i < l->len && isdigit((unsigned char)s[i])) i++;
        t.type = TK_PARAM;
    } else if (c == '$') {
        /* dollar quote $tag$ ... $tag$ */
        size_t j = i + 1;
        while (j < l->len && ident_char((unsigned char)s[j]) && s[j] != '$') j++;
        if (j < l->len && s[j] == '$') {
            size_t taglen = j - i + 1;
            const char *tag = s + i;
            size_t k = j + 1;
            for (;;) {
                if (k + taglen > l->len) {
                    t.type = TK_ERROR;
                    return t;
                }
                if (s[k] == '$' && memcmp(s + k, tag, taglen) == 0) break;
                k++;
            }
            i = k + taglen;
            t.type = TK_STRING;
        } else {
            i++;
            t.type = TK_OP;
        }
    } else if (ident_start(c)) {
        while (i < l->len && ident_char((unsigned char)s[i])) i++;
        t.type = TK_IDENT;
    } else if (isdigit(c) || (c == '.' && i + 1 < l->len && isdigit((unsigned char)s[i + 1]))) {
        while (i < l->len && (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_')) {
            if ((s[i] == 'e' || s[i] == 'E') && i + 1 < l->len && (s[i + 1] == '+' || s[i + 1] == '-')) i++;
            i++;
        }
        t.type = TK_NUMBER;
    } else if (c == ';') {
        i++;
        t.type = TK_SEMI;
    } else if (c == '(') {
        i++;
        t.type = TK_LPAREN;
    } else if (c == ')') {
        i++;
        t.type = TK_RPAREN;
    } else if (c == ',') {
        i++;
        t.type = TK_COMMA;
    } else if (c == '.') {
        i++;
        t.type = TK_DOT;
    } else {
        /* operator run; stop before a comment start */
        static const char opchars[] = "+-*/<>=~!@#%^&|`?:[]{}\\";
        i++;
        if (strchr(opchars, c))
            while (i < l->len && s[i] && strchr(opchars, s[i]) &&
                   !(s[i] == '-' && i + 1 < l->len && s[i + 1] == '-') &&
                   !(s[i] == '/' && i + 1 < l->len && s[i + 1] == '*') && !strchr("[]{}", s[i]) &&
                   !strchr("[]{}", c))
                i++;
        t.type = TK_OP;
    }
    t.len = i - l->pos;
    l->pos = i;
    return t;
}

bool lex_is(const lex_tok_t *t, const char *kw)
{
    return t->type == TK_IDENT && strlen(kw) == t->len && strncasecmp(t->p, kw, t->len) == 0;
}

char *lex_value(const lex_tok_t *t)
{
    buf_t b;
    buf_init(&b, t->len + 1);
    if (t->type == TK_IDENT) {
        for (size_t i = 0; i < t->len; i++) buf_putc(&b, (char)tolower((unsigned char)t->p[i]));
    } else if (t->type == TK_QIDENT) {
        for (size_t i = 1; i + 1 < t->len; i++) {
            buf_putc(&b, t->p[i]);
            if (t->p[i] == '"') i++;
        }
    } else if (t->type == TK_STRING && t->p[0] == '$') {
        const char *end = memchr(t->p + 1, '$', t->len - 1);
        size_t taglen = (size_t)(end - t->p) + 1;
        buf_append(&b, t->p + taglen, t->len - 2 * taglen);
    } else if (t->type == TK_STRING) {
        size_t i = 0;
        bool esc = false;
        if (t->p[0] != '\'') {
            esc = t->p[0] == 'e' || t->p[0] == 'E';
            i = 1;
        }
        i++; /* quote */
        for (; i + 1 < t->len; i++) {
            char c = t->p[i];
            if (c == '\'' && t->p[i + 1] == '\'') {
                buf_putc(&b, '\'');
                i++;
            } else if (esc && c == '\\') {
                char n = t->p[++i];
                switch (n) {
                case 'n':
                    buf_putc(&b, '\n');
                    break;
                case 't':
                    buf_putc(&b, '\t');
                    break;
                case 'r':
                    buf_putc(&b, '\r');
                    break;
                case 'b':
                    buf_putc(&b, '\b');
                    break;
                case 'f':
                    buf_putc(&b, '\f');
                    break;
                case 'x': {
                    int v = 0, k = 0;
                    while (k < 2 && i + 2 < t->len && isxdigit((unsigned char)t->p[i + 1])) {
                        char h = t->p[++i];
                        v = v * 16 +
                            (isdigit((unsigned char)h) ? h - '0' : (tolower((unsigned char)h) - 'a' + 10));
                        k++;
                    }
                    if (k)
                        buf_putc(&b, (char)v);
                    else
                        buf_putc(&b, 'x');
                    break;
                }
                case 'u':
                case 'U': {
                    int want = n == 'u' ? 4 : 8, k = 0;
                    unsigned long cp = 0;
                    while (k < want && i + 2 < t->len && isxdigit((unsigned char)t->p[i + 1])) {
                        char h = t->p[++i];
                        cp = cp * 16 + (unsigned long)(isdigit((unsigned char)h)
                                                           ? h - '0'
                                                           : (tolower((unsigned char)h) - 'a' + 10));
                        k++;
                    }
                    /* UTF-8 encode */
                    if (cp < 0x80)
                        buf_putc(&b, (char)cp);
                    else if (cp < 0x800) {
                        buf_putc(&b, (char)(0xC0 | (cp >> 6)));
                        buf_putc(&b, (char)(0x80 | (cp & 0x3F)));
                    } else if (cp < 0x10000) {
                        buf_putc(&b, (char)(0xE0 | (cp >> 12)));
                        buf_putc(&b, (char)(0x80 | ((cp >> 6) & 0x3F)));
                        buf_putc(&b, (char)(0x80 | (cp & 0x3F)));
                    } else {
                        buf_putc(&b, (char)(0xF0 | (cp >> 18)));
                        buf_putc(&b, (char)(0x80 | ((cp >> 12) & 0x3F)));
                        buf_putc(&b, (char)(0x80 | ((cp >> 6) & 0x3F)));
                        buf_putc(&b, (char)(0x80 | (cp & 0x3F)));
                    }
                    break;
                }
                default:
                    if (n >= '0' && n <= '7') {
                        int v = n - '0', k = 1;
                        while (k < 3 && i + 2 < t->len && t->p[i + 1] >= '0' && t->p[i + 1] <= '7')
                            v = v * 8 + (t->p[++i] - '0'), k++;
                        buf_putc(&b, (char)v);
                    } else {
                        buf_putc(&b, n);
                    }
                    break;
                }
            } else {
                buf_putc(&b, c);
            }
        }
    } else {
        buf_append(&b, t->p, t->len);
    }
    buf_cstr(&b);
    return b.data;
}

int lex_split(const char *sql, lex_range_t **out)
{
    lex_t l;
    size_t n = strlen(sql);
    lex_init(&l, sql, n);
    int count = 0, cap = 4;
    lex_range_t *r = xmalloc(sizeof *r * (size_t)cap);
    size_t start = 0;
    bool empty = true;
    int depth = 0;
    /* BEGIN ... END blocks are not part of madang's SQL; parentheses are tracked
     * only so that a ';' inside them is not a boundary (it is an error later). */
    for (;;) {
        lex_tok_t t = lex_next(&l);
        if (t.type == TK_ERROR) {
            free(r);
            *out = NULL;
            return -1;
        }
        bool boundary = t.type == TK_EOF || (t.type == TK_SEMI && depth == 0);
        if (!boundary) {
            if (t.type == TK_LPAREN) depth++;
            if (t.type == TK_RPAREN && depth > 0) depth--;
            empty = false;
            continue;
        }
        size_t end = t.type == TK_EOF ? n : t.offset;
        if (!(t.type == TK_EOF && empty && count > 0)) {
            if (count == cap) {
                cap *= 2;
                r = xrealloc(r, sizeof *r * (size_t)cap);
            }
            r[count].start = start;
            r[count].len = end - start;
            r[count].is_empty = empty;
            count++;
        }
        if (t.type == TK_EOF) break;
        start = l.pos;
        empty = true;
    }
    *out = r;
    return count;
}

void lex_put_qname(buf_t *b, const char *catalog, const char *schema, const char *name)
{
    if (catalog && catalog[0]) {
        lex_put_ident(b, catalog);
        buf_putc(b, '.');
    }
    lex_put_ident(b, schema);
    buf_putc(b, '.');
    lex_put_ident(b, name);
}

void lex_put_ident(buf_t *b, const char *s)
{
    buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"') buf_putc(b, '"');
        buf_putc(b, *s);
    }
    buf_putc(b, '"');
}

void lex_put_literal(buf_t *b, const char *s)
{
    buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') buf_putc(b, '\'');
        buf_putc(b, *s);
    }
    buf_putc(b, '\'');
}

long lex_find_top_level(const char *sql, size_t from, const char *const *kws, size_t nkws, size_t *which)
{
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    l.pos = from;
    int depth = 0;
    for (lex_tok_t t = lex_next(&l); t.type != TK_EOF && t.type != TK_ERROR; t = lex_next(&l)) {
        if (t.type == TK_LPAREN) depth++;
        if (t.type == TK_RPAREN) depth--;
        if (depth != 0 || t.type != TK_IDENT) continue;
        for (size_t i = 0; i < nkws; i++)
            if (lex_is(&t, kws[i])) {
                if (which) *which = i;
                return (long)t.offset;
            }
    }
    return -1;
}

long lex_after_top_level_kw(const char *sql, const char *kw)
{
    long at = lex_find_top_level(sql, 0, &kw, 1, NULL);
    return at < 0 ? -1 : at + (long)strlen(kw);
}
