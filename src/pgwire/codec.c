/* codec.c — PostgreSQL v3 message parsing and building (see codec.h).
 *
 * Invariant: no function here trusts a length it read; every read goes
 * through pgw_reader_t, which refuses to step past the end. */
#include "pgwire/codec.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

void pgw_reader_init(pgw_reader_t *r, const char *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->err = false;
}

static bool have(pgw_reader_t *r, size_t n)
{
    if (r->err || r->len - r->pos < n) {
        r->err = true;
        return false;
    }
    return true;
}

uint8_t pgw_get_u8(pgw_reader_t *r)
{
    if (!have(r, 1)) return 0;
    return (uint8_t)r->p[r->pos++];
}

int16_t pgw_get_i16(pgw_reader_t *r)
{
    if (!have(r, 2)) return 0;
    uint16_t v;
    memcpy(&v, r->p + r->pos, 2);
    r->pos += 2;
    return (int16_t)ntohs(v);
}

int32_t pgw_get_i32(pgw_reader_t *r)
{
    if (!have(r, 4)) return 0;
    uint32_t v;
    memcpy(&v, r->p + r->pos, 4);
    r->pos += 4;
    return (int32_t)ntohl(v);
}

const char *pgw_get_cstr(pgw_reader_t *r)
{
    if (r->err) return NULL;
    const char *s = r->p + r->pos;
    const char *nul = memchr(s, '\0', r->len - r->pos);
    if (!nul) {
        r->err = true;
        return NULL;
    }
    r->pos += (size_t)(nul - s) + 1;
    return s;
}

const char *pgw_get_bytes(pgw_reader_t *r, size_t n)
{
    if (!have(r, n)) return NULL;
    const char *s = r->p + r->pos;
    r->pos += n;
    return s;
}

bool pgw_reader_done(const pgw_reader_t *r)
{
    return !r->err && r->pos == r->len;
}

static uint32_t be32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}

pgw_status_t pgw_parse_startup(const char *buf, size_t len, pgw_startup_t *out, size_t *consumed)
{
    if (len < 4) return PGW_NEED_MORE;
    uint32_t n = be32(buf);
    if (n < 8 || n > PGW_MAX_STARTUP) return n < 8 ? PGW_BAD : PGW_TOO_BIG;
    if (len < n) return PGW_NEED_MORE;
    memset(out, 0, sizeof *out);
    pgw_reader_t r;
    pgw_reader_init(&r, buf + 4, n - 4);
    int32_t code = pgw_get_i32(&r);
    *consumed = n;
    switch (code) {
    case PGW_SSL_REQUEST:
        out->kind = PGW_STARTUP_SSL;
        return n == 8 ? PGW_OK : PGW_BAD;
    case PGW_GSSENC_REQUEST:
        out->kind = PGW_STARTUP_GSSENC;
        return n == 8 ? PGW_OK : PGW_BAD;
    case PGW_CANCEL_REQUEST:
        out->kind = PGW_STARTUP_CANCEL;
        out->cancel_pid = pgw_get_i32(&r);
        out->cancel_key = pgw_get_i32(&r);
        return pgw_reader_done(&r) ? PGW_OK : PGW_BAD;
    default:
        break;
    }
    if ((code >> 16) != 3) return PGW_BAD;
    out->kind = PGW_STARTUP_NORMAL;
    out->version = code;
    /* key\0value\0 ... \0 */
    for (;;) {
        const char *k = pgw_get_cstr(&r);
        if (!k) return PGW_BAD;
        if (*k == '\0') break;
        const char *v = pgw_get_cstr(&r);
        if (!v) return PGW_BAD;
        if (out->nparams >= PGW_MAX_STARTUP_PARAMS) return PGW_BAD;
        out->keys[out->nparams] = k;
        out->values[out->nparams] = v;
        out->nparams++;
    }
    return pgw_reader_done(&r) ? PGW_OK : PGW_BAD;
}

const char *pgw_startup_get(const pgw_startup_t *s, const char *key)
{
    for (int i = 0; i < s->nparams; i++)
        if (strcmp(s->keys[i], key) == 0) return s->values[i];
    return NULL;
}

pgw_status_t pgw_frame(const char *buf, size_t len, size_t max_len, char *type, const char **body,
                       size_t *body_len, size_t *consumed)
{
    if (len < 5) return PGW_NEED_MORE;
    uint32_t n = be32(buf + 1);
    if (n < 4) return PGW_BAD;
    if (n > max_len) return PGW_TOO_BIG;
    if (len < (size_t)n + 1) return PGW_NEED_MORE;
    *type = buf[0];
    *body = buf + 5;
    *body_len = n - 4;
    *consumed = (size_t)n + 1;
    return PGW_OK;
}

bool pgw_parse_parse(const char *body, size_t len, pgw_parse_msg_t *out)
{
    pgw_reader_t r;
    pgw_reader_init(&r, body, len);
    out->name = pgw_get_cstr(&r);
    out->query = pgw_get_cstr(&r);
    out->nparams = (uint16_t)pgw_get_i16(&r);
    if (r.err) return false;
    out->param_oids_be = (const uint32_t *)pgw_get_bytes(&r, (size_t)out->nparams * 4);
    return pgw_reader_done(&r);
}

uint32_t pgw_parse_param_oid(const pgw_parse_msg_t *m, int i)
{
    return be32((const char *)m->param_oids_be + (size_t)i * 4);
}

bool pgw_parse_bind(const char *body, size_t len, pgw_bind_msg_t *out)
{
    pgw_reader_t r;
    pgw_reader_init(&r, body, len);
    out->portal = pgw_get_cstr(&r);
    out->stmt = pgw_get_cstr(&r);
    out->nformats = (uint16_t)pgw_get_i16(&r);
    if (r.err) return false;
    out->formats_be = pgw_get_bytes(&r, (size_t)out->nformats * 2);
    out->nparams = (uint16_t)pgw_get_i16(&r);
    if (r.err) return false;
    if (out->nformats > 1 && out->nformats != out->nparams) return false;
    size_t start = r.pos;
    for (int i = 0; i < out->nparams; i++) {
        int32_t n = pgw_get_i32(&r);
        if (n < -1) return false;
        if (n > 0) pgw_get_bytes(&r, (size_t)n);
        if (r.err) return false;
    }
    out->params = body + start;
    out->params_len = r.pos - start;
    out->nresult_formats = (uint16_t)pgw_get_i16(&r);
    if (r.err) return false;
    out->result_formats_be = pgw_get_bytes(&r, (size_t)out->nresult_formats * 2);
    if (!pgw_reader_done(&r)) return false;
    for (int i = 0; i < out->nformats; i++) {
        int16_t f = pgw_bind_param_format(out, i);
        if (f != 0 && f != 1) return false;
    }
    for (int i = 0; i < out->nresult_formats; i++) {
        int16_t f = pgw_bind_result_format(out, i);
        if (f != 0 && f != 1) return false;
    }
    return true;
}

static int16_t be16_at(const char *p, int i)
{
    uint16_t v;
    memcpy(&v, p + (size_t)i * 2, 2);
    return (int16_t)ntohs(v);
}

int16_t pgw_bind_param_format(const pgw_bind_msg_t *m, int i)
{
    if (m->nformats == 0) return 0;
    if (m->nformats == 1) return be16_at(m->formats_be, 0);
    return i < m->nformats ? be16_at(m->formats_be, i) : 0;
}

int16_t pgw_bind_result_format(const pgw_bind_msg_t *m, int i)
{
    if (m->nresult_formats == 0) return 0;
    if (m->nresult_formats == 1) return be16_at(m->result_formats_be, 0);
    return i < m->nresult_formats ? be16_at(m->result_formats_be, i) : 0;
}

bool pgw_bind_next_param(const pgw_bind_msg_t *m, size_t *pos, const char **val, int32_t *len)
{
    if (*pos >= m->params_len) return false;
    int32_t n = (int32_t)be32(m->params + *pos);
    *pos += 4;
    *len = n;
    if (n < 0) {
        *val = NULL;
        return true;
    }
    *val = m->params + *pos;
    *pos += (size_t)n;
    return true;
}

size_t pgw_msg_begin(buf_t *b, char type)
{
    buf_reserve(b, 5);
    b->data[b->len++] = type;
    size_t start = b->len;
    b->len += 4;
    return start;
}

void pgw_msg_end(buf_t *b, size_t start)
{
    uint32_t n = htonl((uint32_t)(b->len - start));
    memcpy(b->data + start, &n, 4);
}

void pgw_put_i16(buf_t *b, int16_t v)
{
    uint16_t n = htons((uint16_t)v);
    buf_append(b, &n, 2);
}

void pgw_put_i32(buf_t *b, int32_t v)
{
    uint32_t n = htonl((uint32_t)v);
    buf_append(b, &n, 4);
}

void pgw_put_cstr(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s) + 1);
}

static void auth_code(buf_t *b, int32_t code)
{
    size_t m = pgw_msg_begin(b, 'R');
    pgw_put_i32(b, code);
    pgw_msg_end(b, m);
}

void pgw_auth_ok(buf_t *b)
{
    auth_code(b, 0);
}

void pgw_auth_cleartext(buf_t *b)
{
    auth_code(b, 3);
}

void pgw_auth_sasl(buf_t *b, const char *mechanism)
{
    size_t m = pgw_msg_begin(b, 'R');
    pgw_put_i32(b, 10);
    pgw_put_cstr(b, mechanism);
    buf_putc(b, '\0');
    pgw_msg_end(b, m);
}

static void auth_data(buf_t *b, int32_t code, const char *data, size_t len)
{
    size_t m = pgw_msg_begin(b, 'R');
    pgw_put_i32(b, code);
    buf_append(b, data, len);
    pgw_msg_end(b, m);
}

void pgw_auth_sasl_continue(buf_t *b, const char *data, size_t len)
{
    auth_data(b, 11, data, len);
}

void pgw_auth_sasl_final(buf_t *b, const char *data, size_t len)
{
    auth_data(b, 12, data, len);
}

void pgw_parameter_status(buf_t *b, const char *name, const char *value)
{
    size_t m = pgw_msg_begin(b, 'S');
    pgw_put_cstr(b, name);
    pgw_put_cstr(b, value);
    pgw_msg_end(b, m);
}

void pgw_backend_key_data(buf_t *b, int32_t pid, int32_t key)
{
    size_t m = pgw_msg_begin(b, 'K');
    pgw_put_i32(b, pid);
    pgw_put_i32(b, key);
    pgw_msg_end(b, m);
}

void pgw_negotiate_version(buf_t *b, int32_t version, int nunrecognized, const char **unrecognized)
{
    size_t m = pgw_msg_begin(b, 'v');
    pgw_put_i32(b, version);
    pgw_put_i32(b, nunrecognized);
    for (int i = 0; i < nunrecognized; i++) pgw_put_cstr(b, unrecognized[i]);
    pgw_msg_end(b, m);
}

void pgw_ready_for_query(buf_t *b, char status)
{
    size_t m = pgw_msg_begin(b, 'Z');
    buf_putc(b, status);
    pgw_msg_end(b, m);
}

void pgw_command_complete(buf_t *b, const char *tag)
{
    size_t m = pgw_msg_begin(b, 'C');
    pgw_put_cstr(b, tag);
    pgw_msg_end(b, m);
}

void pgw_empty_query(buf_t *b)
{
    pgw_simple(b, 'I');
}

void pgw_simple(buf_t *b, char type)
{
    size_t m = pgw_msg_begin(b, type);
    pgw_msg_end(b, m);
}

static void notice_fields(buf_t *b, char type, const pgw_error_t *e)
{
    size_t m = pgw_msg_begin(b, type);
    buf_putc(b, 'S');
    pgw_put_cstr(b, e->severity);
    buf_putc(b, 'V');
    pgw_put_cstr(b, e->severity);
    buf_putc(b, 'C');
    pgw_put_cstr(b, e->sqlstate);
    buf_putc(b, 'M');
    pgw_put_cstr(b, e->message ? e->message : "");
    if (e->detail && *e->detail) {
        buf_putc(b, 'D');
        pgw_put_cstr(b, e->detail);
    }
    if (e->hint && *e->hint) {
        buf_putc(b, 'H');
        pgw_put_cstr(b, e->hint);
    }
    if (e->position > 0) {
        char pos[16];
        snprintf(pos, sizeof pos, "%d", e->position);
        buf_putc(b, 'P');
        pgw_put_cstr(b, pos);
    }
    buf_putc(b, '\0');
    pgw_msg_end(b, m);
}

void pgw_error_response(buf_t *b, const pgw_error_t *e)
{
    notice_fields(b, 'E', e);
}

void pgw_notice_response(buf_t *b, const pgw_error_t *e)
{
    notice_fields(b, 'N', e);
}

void pgw_row_description(buf_t *b, int n, const pgw_field_t *f)
{
    size_t m = pgw_msg_begin(b, 'T');
    pgw_put_i16(b, (int16_t)n);
    for (int i = 0; i < n; i++) {
        pgw_put_cstr(b, f[i].name);
        pgw_put_i32(b, (int32_t)f[i].table_oid);
        pgw_put_i16(b, f[i].column_attnum);
        pgw_put_i32(b, (int32_t)f[i].type_oid);
        pgw_put_i16(b, f[i].type_len);
        pgw_put_i32(b, f[i].type_mod);
        pgw_put_i16(b, f[i].format);
    }
    pgw_msg_end(b, m);
}

void pgw_parameter_description(buf_t *b, int n, const uint32_t *oids)
{
    size_t m = pgw_msg_begin(b, 't');
    pgw_put_i16(b, (int16_t)n);
    for (int i = 0; i < n; i++) pgw_put_i32(b, (int32_t)oids[i]);
    pgw_msg_end(b, m);
}

void pgw_copy_response(buf_t *b, char type, bool binary, int ncols)
{
    size_t m = pgw_msg_begin(b, type);
    buf_putc(b, binary ? 1 : 0);
    pgw_put_i16(b, (int16_t)ncols);
    for (int i = 0; i < ncols; i++) pgw_put_i16(b, binary ? 1 : 0);
    pgw_msg_end(b, m);
}
