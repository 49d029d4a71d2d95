/* copy.c — COPY text and csv formats (see copy.h).
 *
 * Text format: fields separated by the delimiter (tab), rows by newline,
 * backslash escapes (\t \n \r \b \f \v \\ \ooo \xhh), \N for NULL, and an
 * optional "\." end-of-data line. CSV: RFC 4180 quoting with the configured
 * quote and escape characters; an unquoted field equal to the NULL string
 * (default empty) is NULL, a quoted empty string is an empty string. */
#include "pgwire/copy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pgw_copy_parser_init(pgw_copy_parser_t *p, const gate_copy_opts_t *o)
{
    memset(p, 0, sizeof *p);
    p->o = o;
    buf_init(&p->pending, 4096);
    buf_init(&p->field, 4096);
}

void pgw_copy_parser_free(pgw_copy_parser_t *p)
{
    buf_free(&p->pending);
    buf_free(&p->field);
    free(p->starts);
    free(p->lens);
    free(p->nulls);
    free(p->ptrs);
}

static void add_field(pgw_copy_parser_t *p, int n, size_t start, bool null)
{
    if (n >= p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->starts = xrealloc(p->starts, sizeof *p->starts * (size_t)p->cap);
        p->lens = xrealloc(p->lens, sizeof *p->lens * (size_t)p->cap);
        p->nulls = xrealloc(p->nulls, sizeof *p->nulls * (size_t)p->cap);
        p->ptrs = xrealloc(p->ptrs, sizeof *p->ptrs * (size_t)p->cap);
    }
    p->starts[n] = start;
    p->lens[n] = p->field.len - start;
    p->nulls[n] = null;
}

static bool emit(pgw_copy_parser_t *p, int n, pgw_copy_row_fn fn, void *ctx)
{
    buf_cstr(&p->field);
    for (int i = 0; i < n; i++) p->ptrs[i] = p->nulls[i] ? NULL : p->field.data + p->starts[i];
    /* fields are not NUL-terminated individually; lens say where they end */
    return fn(ctx, n, p->ptrs, p->lens);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One text-format line (without its newline). */
static bool parse_text_line(pgw_copy_parser_t *p, const char *s, size_t len, pgw_copy_row_fn fn, void *ctx)
{
    if (len == 2 && s[0] == '\\' && s[1] == '.') {
        p->ended = true;
        return true;
    }
    p->field.len = 0;
    int n = 0;
    size_t start = 0;
    bool raw_is_null_candidate = true;
    size_t raw_start = 0;
    const char *nul = p->o->null_str;
    size_t nul_len = strlen(nul);
    for (size_t i = 0;; i++) {
        if (i == len || s[i] == p->o->delim) {
            bool null =
                raw_is_null_candidate && i - raw_start == nul_len && memcmp(s + raw_start, nul, nul_len) == 0;
            add_field(p, n++, start, null);
            if (i == len) break;
            start = p->field.len;
            raw_start = i + 1;
            continue;
        }
        char c = s[i];
        if (c == '\\' && i + 1 < len) {
            char e = s[++i];
            switch (e) {
            case 'b':
                buf_putc(&p->field, '\b');
                break;
            case 'f':
                buf_putc(&p->field, '\f');
                break;
            case 'n':
                buf_putc(&p->field, '\n');
                break;
            case 'r':
                buf_putc(&p->field, '\r');
                break;
            case 't':
                buf_putc(&p->field, '\t');
                break;
            case 'v':
                buf_putc(&p->field, '\v');
                break;
            case 'x': {
                int v = 0, k = 0;
                while (k < 2 && i + 1 < len && hexval(s[i + 1]) >= 0) v = v * 16 + hexval(s[++i]), k++;
                if (k == 0)
                    buf_putc(&p->field, 'x');
                else
                    buf_putc(&p->field, (char)v);
                break;
            }
            default:
                if (e >= '0' && e <= '7') {
                    int v = e - '0', k = 1;
                    while (k < 3 && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '7')
                        v = v * 8 + (s[++i] - '0'), k++;
                    buf_putc(&p->field, (char)v);
                } else {
                    buf_putc(&p->field, e);
                }
            }
        } else {
            buf_putc(&p->field, c);
        }
    }
    return emit(p, n, fn, ctx);
}

/* Finds the end of one CSV record in s (respecting quotes); returns its length
 * or -1 when the record is incomplete. */
static long csv_record_end(const pgw_copy_parser_t *p, const char *s, size_t len)
{
    bool inq = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (inq) {
            if (c == p->o->escape && p->o->escape != p->o->quote && i + 1 < len &&
                (s[i + 1] == p->o->quote || s[i + 1] == p->o->escape)) {
                i++;
            } else if (c == p->o->quote) {
                if (p->o->escape == p->o->quote && i + 1 < len && s[i + 1] == p->o->quote)
                    i++;
                else
                    inq = false;
            }
        } else if (c == p->o->quote) {
            inq = true;
        } else if (c == '\n') {
            return (long)i;
        }
    }
    return -1;
}

static bool parse_csv_record(pgw_copy_parser_t *p, const char *s, size_t len, pgw_copy_row_fn fn, void *ctx)
{
    if (len > 0 && s[len - 1] == '\r') len--;
    if (len == 2 && s[0] == '\\' && s[1] == '.') {
        p->ended = true;
        return true;
    }
    p->field.len = 0;
    int n = 0;
    size_t i = 0;
    const char *nul = p->o->null_str;
    size_t nul_len = strlen(nul);
    for (;;) {
        size_t start = p->field.len;
        bool quoted = false;
        size_t raw_start = i;
        while (i < len && s[i] != p->o->delim) {
            char c = s[i];
            if (c == p->o->quote) {
                quoted = true;
                i++;
                for (;;) {
                    if (i >= len) {
                        snprintf(p->err, sizeof p->err, "unterminated CSV quoted field");
                        return false;
                    }
                    if (s[i] == p->o->escape && p->o->escape != p->o->quote && i + 1 < len &&
                        (s[i + 1] == p->o->quote || s[i + 1] == p->o->escape)) {
                        buf_putc(&p->field, s[i + 1]);
                        i += 2;
                    } else if (s[i] == p->o->quote) {
                        if (p->o->escape == p->o->quote && i + 1 < len && s[i + 1] == p->o->quote) {
                            buf_putc(&p->field, p->o->quote);
                            i += 2;
                        } else {
                            i++;
                            break;
                        }
                    } else {
                        buf_putc(&p->field, s[i++]);
                    }
                }
            } else {
                buf_putc(&p->field, c);
                i++;
            }
        }
        bool null = !quoted && i - raw_start == nul_len && memcmp(s + raw_start, nul, nul_len) == 0;
        add_field(p, n++, start, null);
        if (i >= len) break;
        i++; /* delimiter */
    }
    return emit(p, n, fn, ctx);
}

static bool take_lines(pgw_copy_parser_t *p, bool final, pgw_copy_row_fn fn, void *ctx)
{
    size_t pos = 0;
    while (pos < p->pending.len && !p->ended) {
        const char *s = p->pending.data + pos;
        size_t left = p->pending.len - pos;
        long end;
        if (p->o->csv) {
            end = csv_record_end(p, s, left);
        } else {
            const char *nl = memchr(s, '\n', left);
            end = nl ? (long)(nl - s) : -1;
        }
        size_t linelen;
        size_t adv;
        if (end < 0) {
            if (!final) break;
            linelen = left;
            adv = left;
        } else {
            linelen = (size_t)end;
            adv = linelen + 1;
        }
        p->line++;
        bool skip = p->o->header && !p->header_skipped;
        if (skip) {
            p->header_skipped = true;
        } else {
            size_t l = linelen;
            if (!p->o->csv && l > 0 && s[l - 1] == '\r') l--;
            bool ok = p->o->csv ? parse_csv_record(p, s, l, fn, ctx) : parse_text_line(p, s, l, fn, ctx);
            if (!ok) {
                if (p->err[0] == '\0') snprintf(p->err, sizeof p->err, "row rejected");
                return false;
            }
        }
        pos += adv;
    }
    buf_consume(&p->pending, pos);
    return true;
}

bool pgw_copy_feed(pgw_copy_parser_t *p, const char *data, size_t len, pgw_copy_row_fn fn, void *ctx)
{
    if (p->ended) return true;
    buf_append(&p->pending, data, len);
    return take_lines(p, false, fn, ctx);
}

bool pgw_copy_finish(pgw_copy_parser_t *p, pgw_copy_row_fn fn, void *ctx)
{
    if (p->ended || p->pending.len == 0) return true;
    return take_lines(p, true, fn, ctx);
}

static void put_text_field(buf_t *b, const char *s, size_t n, char delim)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        switch (c) {
        case '\\':
            buf_append(b, "\\\\", 2);
            break;
        case '\n':
            buf_append(b, "\\n", 2);
            break;
        case '\r':
            buf_append(b, "\\r", 2);
            break;
        case '\t':
            buf_append(b, "\\t", 2);
            break;
        case '\b':
            buf_append(b, "\\b", 2);
            break;
        case '\f':
            buf_append(b, "\\f", 2);
            break;
        case '\v':
            buf_append(b, "\\v", 2);
            break;
        default:
            if (c == delim) {
                buf_putc(b, '\\');
            }
            buf_putc(b, c);
        }
    }
}

static void put_csv_field(buf_t *b, const gate_copy_opts_t *o, const char *s, size_t n)
{
    bool need = n == 0 || (strlen(o->null_str) == n && memcmp(s, o->null_str, n) == 0);
    for (size_t i = 0; i < n && !need; i++)
        if (s[i] == o->delim || s[i] == o->quote || s[i] == '\n' || s[i] == '\r' || s[i] == o->escape)
            need = true;
    if (n == 2 && s[0] == '\\' && s[1] == '.') need = true;
    if (!need) {
        buf_append(b, s, n);
        return;
    }
    buf_putc(b, o->quote);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == o->quote || s[i] == o->escape) buf_putc(b, o->escape);
        buf_putc(b, s[i]);
    }
    buf_putc(b, o->quote);
}

void pgw_copy_encode_row(buf_t *b, const gate_copy_opts_t *o, const pgw_colenc_t *enc, duckdb_vector *vecs,
                         int ncols, idx_t row)
{
    buf_t tmp;
    buf_init(&tmp, 256);
    for (int i = 0; i < ncols; i++) {
        if (i) buf_putc(b, o->delim);
        uint64_t *valid = duckdb_vector_get_validity(vecs[i]);
        if (valid && !duckdb_validity_row_is_valid(valid, row)) {
            buf_append_str(b, o->null_str);
            continue;
        }
        tmp.len = 0;
        pgw_encode_text(&tmp, &enc[i], vecs[i], row);
        if (o->csv)
            put_csv_field(b, o, tmp.data, tmp.len);
        else
            put_text_field(b, tmp.data, tmp.len, o->delim);
    }
    buf_putc(b, '\n');
    buf_free(&tmp);
}

void pgw_copy_encode_header(buf_t *b, const gate_copy_opts_t *o, char **names, int ncols)
{
    for (int i = 0; i < ncols; i++) {
        if (i) buf_putc(b, o->delim);
        if (o->csv)
            put_csv_field(b, o, names[i], strlen(names[i]));
        else
            put_text_field(b, names[i], strlen(names[i]), o->delim);
    }
    buf_putc(b, '\n');
}
