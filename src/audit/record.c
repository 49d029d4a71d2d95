/* record.c — audit records built as canonical JSON text, and the reading of
 * one record line back into its members (audit.h).
 *
 * The canonical form is what jansson's json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) prints — `madang audit verify` checks every line against
 * it — so the writer can build records without a json_t per record: each
 * member's value is escaped once, as jansson escapes it, and the members are
 * put in key order when the record is appended. tests/unit/test_audit.c
 * holds the two side by side. */
#include "audit/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* JSON's two-character escapes: the character, and the letter after the backslash. */
static const char ESC_CHARS[] = "\"\\/\b\f\n\r\t", ESC_LETTERS[] = "\"\\/bfnrt";

void audit_rec_init(audit_rec_t *r)
{
    buf_init(&r->text, 256);
    r->n = 0;
}

void audit_rec_clear(audit_rec_t *r)
{
    r->text.len = 0;
    r->n = 0;
}

void audit_rec_free(audit_rec_t *r)
{
    buf_free(&r->text);
    r->n = 0;
}

/* Ends the member whose value starts at off. */
static void member_done(audit_rec_t *r, const char *key, size_t off)
{
    if (r->n == AUDIT_REC_MAX) {
        log_event(LOG_ERROR, "audit_record_too_wide", "key=%s", key);
        r->text.len = off;
        return;
    }
    r->m[r->n++] = (audit_member_t){key, (uint32_t)off, (uint32_t)(r->text.len - off)};
}

/* The length of the well-formed UTF-8 sequence at p (of n bytes), or 0: the
 * rules of jansson's loader (no overlong forms, no surrogates, nothing past
 * U+10FFFF), so that verify reads back what was written. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) {
        len = 2;
        cp = c & 0x1F;
    } else if (c < 0xF0) {
        len = 3;
        cp = c & 0x0F;
    } else if (c < 0xF5) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp > 0x10FFFF)
        return 0;
    return len;
}

void audit_json_string(buf_t *b, const char *s, size_t n)
{
    static const char hexd[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    buf_reserve(b, n + 2);
    buf_putc(b, '"');
    size_t run = 0; /* bytes copied as they are, from p + i - run */
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            run++;
            continue;
        }
        size_t len = c >= 0x80 ? utf8_len(p + i, n - i) : 1;
        if (c >= 0x80 && len) {
            i += len;
            run += len;
            continue;
        }
        buf_append(b, p + i - run, run);
        run = 0;
        const char *e = c ? strchr(ESC_CHARS, c) : NULL;
        if (e && c != '/') { /* jansson leaves '/' as it is */
            char two[2] = {'\\', ESC_LETTERS[e - ESC_CHARS]};
            buf_append(b, two, 2);
        } else if (c < 0x20) {
            char six[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
            buf_append(b, six, 6);
        } else {
            buf_append(b, "\xEF\xBF\xBD", 3); /* not UTF-8: U+FFFD, as a client decoder would show it */
        }
        i++;
    }
    buf_append(b, p + n - run, run);
    buf_putc(b, '"');
}

void audit_rec_strn(audit_rec_t *r, const char *key, const char *s, size_t n)
{
    size_t off = r->text.len;
    audit_json_string(&r->text, s ? s : "", s ? n : 0);
    member_done(r, key, off);
}

void audit_rec_str(audit_rec_t *r, const char *key, const char *s)
{
    audit_rec_strn(r, key, s, s ? strlen(s) : 0);
}

void audit_rec_int(audit_rec_t *r, const char *key, int64_t v)
{
    size_t off = r->text.len;
    char d[24];
    int n = snprintf(d, sizeof d, "%lld", (long long)v);
    buf_append(&r->text, d, (size_t)n);
    member_done(r, key, off);
}

void audit_rec_bool(audit_rec_t *r, const char *key, bool v)
{
    size_t off = r->text.len;
    buf_append_str(&r->text, v ? "true" : "false");
    member_done(r, key, off);
}

void audit_rec_json(audit_rec_t *r, const char *key, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    size_t off = r->text.len;
    buf_append_str(&r->text, s ? s : "null");
    free(s);
    member_done(r, key, off);
}

void audit_rec_copy(audit_rec_t *r, const audit_rec_t *from)
{
    for (int i = 0; i < from->n; i++) {
        size_t off = r->text.len;
        buf_append(&r->text, from->text.data + from->m[i].off, from->m[i].len);
        member_done(r, from->m[i].key, off);
    }
}

void audit_rec_sort(audit_rec_t *r)
{
    /* insertion sort: stable, and a record has a few dozen members at most */
    for (int i = 1; i < r->n; i++) {
        audit_member_t m = r->m[i];
        int j = i;
        while (j > 0 && strcmp(r->m[j - 1].key, m.key) > 0) {
            r->m[j] = r->m[j - 1];
            j--;
        }
        r->m[j] = m;
    }
    /* a key set twice keeps its last value, as json_object_set does */
    int k = 0;
    for (int i = 0; i < r->n; i++) {
        if (k > 0 && !strcmp(r->m[k - 1].key, r->m[i].key))
            r->m[k - 1] = r->m[i];
        else
            r->m[k++] = r->m[i];
    }
    r->n = k;
}

/* ---- reading a line back ---- */

/* The end of the JSON value at p (before end), or NULL. */
static const char *value_end(const char *p, const char *end)
{
    int depth = 0;
    bool str = false;
    for (; p < end; p++) {
        char c = *p;
        if (str) {
            if (c == '\\')
                p++;
            else if (c == '"') {
                str = false;
                if (depth == 0) return p + 1;
            }
        } else if (c == '"') {
            str = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return p;
            if (--depth == 0) return p + 1;
        } else if (c == ',' && depth == 0) {
            return p;
        }
    }
    return depth == 0 && !str ? p : NULL;
}

bool audit_line_members(const char *line, size_t n, audit_member_fn fn, void *ctx)
{
    const char *p = line, *end = line + n;
    while (end > p && (end[-1] == '\n' || end[-1] == '\r')) end--;
    if (p == end || *p != '{' || end[-1] != '}') return false;
    p++;
    end--;
    while (p < end) {
        if (*p != '"') return false;
        const char *k = p + 1, *ke = k;
        while (ke < end && *ke != '"') ke += *ke == '\\' ? 2 : 1;
        if (ke >= end || ke + 1 >= end || ke[1] != ':') return false;
        const char *v = ke + 2, *ve = value_end(v, end);
        if (!ve || ve == v) return false;
        fn(ctx, k, (size_t)(ke - k), v, (size_t)(ve - v));
        p = ve;
        if (p < end) {
            if (*p != ',' || p + 1 == end) return false;
            p++;
        }
    }
    return true;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static bool read_u4(const char *p, const char *end, uint32_t *out)
{
    if (end - p < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return false;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return true;
}

static void put_utf8(buf_t *b, uint32_t cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_append(b, o, n);
}

char *audit_json_unquote(const char *v, size_t n)
{
    if (n < 2 || v[0] != '"' || v[n - 1] != '"') return NULL;
    const char *p = v + 1, *end = v + n - 1;
    buf_t b;
    buf_init(&b, n);
    while (p < end) {
        const char *q = memchr(p, '\\', (size_t)(end - p));
        if (!q) q = end;
        buf_append(&b, p, (size_t)(q - p));
        p = q;
        if (p == end) break;
        if (p + 1 >= end) goto bad;
        char c = p[1];
        p += 2;
        const char *e = c ? strchr(ESC_LETTERS, c) : NULL;
        if (e) {
            buf_putc(&b, ESC_CHARS[e - ESC_LETTERS]);
            continue;
        }
        if (c != 'u') goto bad;
        uint32_t cp, lo;
        if (!read_u4(p, end, &cp)) goto bad;
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
            read_u4(p + 2, end, &lo) && lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        } else if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xFFFD;
        }
        if (cp == 0) goto bad; /* a C string cannot hold it */
        put_utf8(&b, cp);
    }
    buf_cstr(&b);
    return b.data;
bad:
    buf_free(&b);
    return NULL;
}
