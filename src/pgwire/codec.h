/* codec.h — the PostgreSQL v3 protocol codec: bytes in, messages out.
 *
 * No sockets, no engine: frontend messages are parsed from a buffer, backend
 * messages appended to a buf_t. Everything here is unit-tested byte for byte
 * (tests/unit/test_codec.c) and fuzzed (tests/fuzz/fuzz_codec.c).
 *
 * Parsed messages point into the caller's buffer (no copies); they are valid
 * until that buffer changes. */
#ifndef MADANG_PGWIRE_CODEC_H
#define MADANG_PGWIRE_CODEC_H

#include "util/util.h"

#define PGW_PROTO_30           196608 /* 3.0 */
#define PGW_PROTO_32           196610 /* 3.2 */
#define PGW_SSL_REQUEST        80877103
#define PGW_GSSENC_REQUEST     80877104
#define PGW_CANCEL_REQUEST     80877102
#define PGW_MAX_STARTUP        10000
#define PGW_MAX_PARAMS         65535
#define PGW_MAX_STARTUP_PARAMS 64

typedef enum {
    PGW_NEED_MORE, /* not a whole message yet */
    PGW_OK,
    PGW_TOO_BIG, /* declared length over the limit */
    PGW_BAD,     /* malformed: close the connection */
} pgw_status_t;

/* A bounds-checked reader over one message body. Any read past the end sets
 * err and returns zero/NULL; check err once at the end. */
typedef struct {
    const char *p;
    size_t len;
    size_t pos;
    bool err;
} pgw_reader_t;

void pgw_reader_init(pgw_reader_t *r, const char *p, size_t len);
uint8_t pgw_get_u8(pgw_reader_t *r);
int16_t pgw_get_i16(pgw_reader_t *r);
int32_t pgw_get_i32(pgw_reader_t *r);
/* A NUL-terminated string inside the body; NULL (and err) if unterminated. */
const char *pgw_get_cstr(pgw_reader_t *r);
const char *pgw_get_bytes(pgw_reader_t *r, size_t n);
bool pgw_reader_done(const pgw_reader_t *r); /* no error and nothing left */

typedef enum {
    PGW_STARTUP_SSL,
    PGW_STARTUP_GSSENC,
    PGW_STARTUP_CANCEL,
    PGW_STARTUP_NORMAL,
} pgw_startup_kind_t;

typedef struct {
    pgw_startup_kind_t kind;
    int32_t version; /* NORMAL: requested protocol version */
    int32_t cancel_pid, cancel_key;
    int nparams;
    const char *keys[PGW_MAX_STARTUP_PARAMS];
    const char *values[PGW_MAX_STARTUP_PARAMS];
} pgw_startup_t;

/* Parses the first (untyped) packet. *consumed is its total size on PGW_OK. */
pgw_status_t pgw_parse_startup(const char *buf, size_t len, pgw_startup_t *out, size_t *consumed);
const char *pgw_startup_get(const pgw_startup_t *s, const char *key);

/* Frames one typed message: type byte, int32 length (including itself), body.
 * On PGW_OK, *body and *body_len are the body and *consumed the whole message. */
pgw_status_t pgw_frame(const char *buf, size_t len, size_t max_len, char *type, const char **body,
                       size_t *body_len, size_t *consumed);

/* Frontend messages of the extended protocol. */
typedef struct {
    const char *name;
    const char *query;
    int nparams;
    const uint32_t *param_oids_be; /* nparams big-endian oids, unaligned: use pgw_parse_param_oid */
} pgw_parse_msg_t;

typedef struct {
    const char *portal;
    const char *stmt;
    int nformats;
    const char *formats_be; /* nformats int16 */
    int nparams;
    const char *params; /* raw: for each, int32 len (-1 = NULL) + bytes */
    size_t params_len;
    int nresult_formats;
    const char *result_formats_be;
} pgw_bind_msg_t;

bool pgw_parse_parse(const char *body, size_t len, pgw_parse_msg_t *out) MUST_CHECK;
uint32_t pgw_parse_param_oid(const pgw_parse_msg_t *m, int i);
bool pgw_parse_bind(const char *body, size_t len, pgw_bind_msg_t *out) MUST_CHECK;
int16_t pgw_bind_param_format(const pgw_bind_msg_t *m, int i);
int16_t pgw_bind_result_format(const pgw_bind_msg_t *m, int i);
/* Iterates Bind parameter values: call with *pos = 0 first; returns false at end. */
bool pgw_bind_next_param(const pgw_bind_msg_t *m, size_t *pos, const char **val, int32_t *len);

/* Backend messages. pgw_msg_begin returns the offset to pass to pgw_msg_end,
 * which patches in the length. */
size_t pgw_msg_begin(buf_t *b, char type);
void pgw_msg_end(buf_t *b, size_t start);
void pgw_put_i16(buf_t *b, int16_t v);
void pgw_put_i32(buf_t *b, int32_t v);
void pgw_put_cstr(buf_t *b, const char *s);

void pgw_auth_ok(buf_t *b);
void pgw_auth_cleartext(buf_t *b);
void pgw_auth_sasl(buf_t *b, const char *mechanism);
void pgw_auth_sasl_continue(buf_t *b, const char *data, size_t len);
void pgw_auth_sasl_final(buf_t *b, const char *data, size_t len);
void pgw_parameter_status(buf_t *b, const char *name, const char *value);
void pgw_backend_key_data(buf_t *b, int32_t pid, int32_t key);
/* version: the newest protocol the server speaks, as PostgreSQL sends it (196608 = 3.0). */
void pgw_negotiate_version(buf_t *b, int32_t version, int nunrecognized, const char **unrecognized);
void pgw_ready_for_query(buf_t *b, char status);
void pgw_command_complete(buf_t *b, const char *tag);
void pgw_empty_query(buf_t *b);
void pgw_simple(buf_t *b, char type); /* ParseComplete '1', BindComplete '2', CloseComplete '3', NoData 'n',
                                          PortalSuspended 's', CopyDone 'c' */

typedef struct {
    const char *severity; /* ERROR, FATAL, NOTICE, ... */
    const char *sqlstate;
    const char *message;
    const char *detail;
    const char *hint;
    int position; /* 1-based character position in the query; 0 = none */
} pgw_error_t;

void pgw_error_response(buf_t *b, const pgw_error_t *e);
void pgw_notice_response(buf_t *b, const pgw_error_t *e);

typedef struct {
    const char *name;
    uint32_t table_oid;
    int16_t column_attnum;
    uint32_t type_oid;
    int16_t type_len;
    int32_t type_mod;
    int16_t format;
} pgw_field_t;

void pgw_row_description(buf_t *b, int n, const pgw_field_t *fields);
void pgw_parameter_description(buf_t *b, int n, const uint32_t *oids);
void pgw_copy_response(buf_t *b, char type, bool binary, int ncols); /* 'G' in, 'H' out */

#endif
