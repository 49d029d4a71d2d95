/* test_codec.c — the PostgreSQL v3 codec byte for byte, and the other
 * socket-free parsers of client bytes.
 *
 *  - every backend builder against the layouts in the PostgreSQL docs
 *    ("Message Formats", protocol-message-formats.html), bytes written by hand;
 *  - the frontend parsers (startup, framing, Parse, Bind, the bounded reader)
 *    on good, truncated and malformed input;
 *  - the SQL splitter and lex_value (gate/lex.c);
 *  - the COPY text/csv row parser (pgwire/copy.c);
 *  - the date/timestamp/interval/float8 text formatters against what
 *    PostgreSQL prints (DateStyle ISO, IntervalStyle postgres,
 *    extra_float_digits 1).
 *
 * Divergences from PostgreSQL that are known and reported but not yet fixed
 * are written as KNOWN_BUG(cond): cond is what PostgreSQL does. They print
 * XFAIL without failing the run, and XPASS once fixed — then turn them into
 * CHECKs. */
#include "check.h"
#include "gate/lex.h"
#include "pgwire/codec.h"
#include "pgwire/copy.h"
#include "pgwire/types.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int known_failing, known_passing;

#define KNOWN_BUG(cond)                                                                                      \
    do {                                                                                                     \
        if (cond) {                                                                                          \
            known_passing++;                                                                                 \
            fprintf(stderr, "%s:%d: XPASS (fixed? make it a CHECK): %s\n", __FILE__, __LINE__, #cond);       \
        } else {                                                                                             \
            known_failing++;                                                                                 \
            fprintf(stderr, "%s:%d: XFAIL known bug: %s\n", __FILE__, __LINE__, #cond);                      \
        }                                                                                                    \
    } while (0)

/* ---- helpers ---- */

static buf_t out;

static void reset(void)
{
    out.len = 0;
}

static void dump(const char *what, const char *p, size_t n)
{
    fprintf(stderr, "  %s (%zu):", what, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fprintf(stderr, " %c", c);
        else
            fprintf(stderr, " \\x%02x", c);
    }
    fprintf(stderr, "\n");
}

static bool bytes_are(const buf_t *b, const char *exp, size_t n, int line)
{
    if (b->len == n && memcmp(b->data, exp, n) == 0) return true;
    fprintf(stderr, "test_codec.c:%d: bytes differ\n", line);
    dump("want", exp, n);
    dump("got ", b->data, b->len);
    return false;
}

/* Expected bytes as a string literal; sizeof keeps embedded NULs. Adjacent
 * literals ("\x0d" "S") keep a hex escape from swallowing the next letter. */
#define CHECK_BYTES(lit) CHECK(bytes_are(&out, lit, sizeof(lit) - 1, __LINE__))

static bool str_is(buf_t *b, const char *want, int line)
{
    const char *got = buf_cstr(b);
    if (strcmp(got, want) == 0) return true;
    fprintf(stderr, "test_codec.c:%d: want \"%s\" got \"%s\"\n", line, want, got);
    return false;
}

#define OUT_IS(want) str_is(&out, want, __LINE__)

/* Frontend message bytes, built independently of the codec under test. */
typedef struct {
    char d[512];
    size_t n;
} msg_t;

static void m_raw(msg_t *m, const void *p, size_t n)
{
    memcpy(m->d + m->n, p, n);
    m->n += n;
}
static void m_i16(msg_t *m, int v)
{
    m->d[m->n++] = (char)((v >> 8) & 0xff);
    m->d[m->n++] = (char)(v & 0xff);
}
static void m_i32(msg_t *m, int64_t v)
{
    uint32_t u = (uint32_t)v;
    for (int s = 24; s >= 0; s -= 8) m->d[m->n++] = (char)((u >> s) & 0xff);
}
static void m_str(msg_t *m, const char *s)
{
    m_raw(m, s, strlen(s) + 1);
}

/* ---- backend builders ---- */

static void test_auth(void)
{
    reset();
    pgw_auth_ok(&out);
    CHECK_BYTES("R\0\0\0\x08\0\0\0\0");

    reset();
    pgw_auth_cleartext(&out);
    CHECK_BYTES("R\0\0\0\x08\0\0\0\x03");

    /* AuthenticationSASL: int32 10, mechanism list, each NUL-terminated, then an empty name */
    reset();
    pgw_auth_sasl(&out, "SCRAM-SHA-256");
    CHECK_BYTES("R\0\0\0\x17\0\0\0\x0a"
                "SCRAM-SHA-256\0\0");

    /* SASLContinue / SASLFinal: the data is not NUL-terminated */
    reset();
    pgw_auth_sasl_continue(&out, "r=abc,s=xyz,i=4096", 18);
    CHECK_BYTES("R\0\0\0\x1a\0\0\0\x0b"
                "r=abc,s=xyz,i=4096");

    reset();
    pgw_auth_sasl_final(&out, "v=xyz", 5);
    CHECK_BYTES("R\0\0\0\x0d\0\0\0\x0c"
                "v=xyz");

    reset();
    pgw_auth_sasl_final(&out, "", 0);
    CHECK_BYTES("R\0\0\0\x08\0\0\0\x0c");
}

static void test_startup_replies(void)
{
    reset();
    pgw_parameter_status(&out, "client_encoding", "UTF8");
    CHECK_BYTES("S\0\0\0\x19"
                "client_encoding\0UTF8\0");

    reset();
    pgw_parameter_status(&out, "x", "");
    CHECK_BYTES("S\0\0\0\x07x\0\0");

    reset();
    pgw_backend_key_data(&out, 1234, (int32_t)0xdeadbeef);
    CHECK_BYTES("K\0\0\0\x0c\0\0\x04\xd2\xde\xad\xbe\xef");

    /* NegotiateProtocolVersion: int32 version, int32 count, names. PostgreSQL
     * sends the whole version number here (PG_PROTOCOL_LATEST, 196608 for 3.0). */
    reset();
    const char *unrec[] = {"_pq_.foo"};
    pgw_negotiate_version(&out, PGW_PROTO_30, 1, unrec);
    CHECK_BYTES("v\0\0\0\x15\0\x03\0\0\0\0\0\x01"
                "_pq_.foo\0");

    reset();
    pgw_negotiate_version(&out, PGW_PROTO_30, 0, NULL);
    CHECK_BYTES("v\0\0\0\x0c\0\x03\0\0\0\0\0\0");

    reset();
    pgw_ready_for_query(&out, 'I');
    pgw_ready_for_query(&out, 'T');
    pgw_ready_for_query(&out, 'E');
    CHECK_BYTES("Z\0\0\0\x05I"
                "Z\0\0\0\x05T"
                "Z\0\0\0\x05"
                "E");
}

static void test_simple_messages(void)
{
    reset();
    pgw_command_complete(&out, "SELECT 1");
    CHECK_BYTES("C\0\0\0\x0d"
                "SELECT 1\0");

    reset();
    pgw_command_complete(&out, "INSERT 0 3");
    CHECK_BYTES("C\0\0\0\x0fINSERT 0 3\0");

    reset();
    pgw_empty_query(&out);
    CHECK_BYTES("I\0\0\0\x04");

    const char types[] = {'1', '2', '3', 'n', 's', 'c'};
    for (size_t i = 0; i < sizeof types; i++) {
        reset();
        pgw_simple(&out, types[i]);
        char want[5] = {types[i], 0, 0, 0, 4};
        CHECK(bytes_are(&out, want, 5, __LINE__));
    }

    /* messages append: the length patch must use the message's own offset */
    reset();
    pgw_simple(&out, '1');
    pgw_simple(&out, '2');
    pgw_command_complete(&out, "BEGIN");
    pgw_ready_for_query(&out, 'T');
    CHECK_BYTES("1\0\0\0\x04"
                "2\0\0\0\x04"
                "C\0\0\0\x0a"
                "BEGIN\0"
                "Z\0\0\0\x05T");

    reset();
    size_t m = pgw_msg_begin(&out, 'D');
    pgw_put_i16(&out, -2);
    pgw_put_i32(&out, -1);
    pgw_put_cstr(&out, "");
    pgw_msg_end(&out, m);
    CHECK_BYTES("D\0\0\0\x0b\xff\xfe\xff\xff\xff\xff\0");
}

static void test_error_notice(void)
{
    /* All fields: S V C M D H P, then the terminator. */
    pgw_error_t e = {.severity = "ERROR",
                     .sqlstate = "42P01",
                     .message = "relation \"t\" does not exist",
                     .detail = "d",
                     .hint = "h",
                     .position = 15};
    reset();
    pgw_error_response(&out, &e);
    CHECK_BYTES("E\0\0\0\x41"
                "SERROR\0"
                "VERROR\0"
                "C42P01\0"
                "Mrelation \"t\" does not exist\0"
                "Dd\0"
                "Hh\0"
                "P15\0"
                "\0");

    /* Optional fields omitted when empty, NULL or zero; NULL message is "". */
    pgw_error_t f = {.severity = "FATAL", .sqlstate = "08P01", .message = NULL, .detail = "", .hint = NULL};
    reset();
    pgw_error_response(&out, &f);
    CHECK_BYTES("E\0\0\0\x1c"
                "SFATAL\0"
                "VFATAL\0"
                "C08P01\0"
                "M\0"
                "\0");

    pgw_error_t n = {.severity = "WARNING", .sqlstate = "01000", .message = "careful"};
    reset();
    pgw_notice_response(&out, &n);
    CHECK_BYTES("N\0\0\0\x27"
                "SWARNING\0"
                "VWARNING\0"
                "C01000\0"
                "Mcareful\0"
                "\0");
}

static void test_descriptions(void)
{
    pgw_field_t f[2] = {
        {.name = "id", .table_oid = 16384, .column_attnum = 1, .type_oid = 23, .type_len = 4, .type_mod = -1},
        {.name = "n", .type_oid = 25, .type_len = -1, .type_mod = -1, .format = 1},
    };
    reset();
    pgw_row_description(&out, 2, f);
    CHECK_BYTES("T\0\0\0\x2f\0\x02"
                "id\0"
                "\0\0\x40\0"       /* table oid 16384 */
                "\0\x01"           /* attnum */
                "\0\0\0\x17"       /* int4 */
                "\0\x04"           /* typlen */
                "\xff\xff\xff\xff" /* typmod -1 */
                "\0\0"             /* text */
                "n\0"              /* second field, no table */
                "\0\0\0\0\0\0"     /* table oid 0, attnum 0 */
                "\0\0\0\x19"       /* text */
                "\xff\xff"         /* typlen -1 */
                "\xff\xff\xff\xff" /* typmod -1 */
                "\0\x01");         /* binary */

    reset();
    pgw_row_description(&out, 0, NULL);
    CHECK_BYTES("T\0\0\0\x06\0\0");

    uint32_t oids[2] = {23, 3802};
    reset();
    pgw_parameter_description(&out, 2, oids);
    CHECK_BYTES("t\0\0\0\x0e\0\x02\0\0\0\x17\0\0\x0e\xda");

    reset();
    pgw_parameter_description(&out, 0, NULL);
    CHECK_BYTES("t\0\0\0\x06\0\0");

    /* CopyInResponse text, 3 columns: int8 0, int16 3, three int16 0 */
    reset();
    pgw_copy_response(&out, 'G', false, 3);
    CHECK_BYTES("G\0\0\0\x0d\0\0\x03\0\0\0\0\0\0");

    reset();
    pgw_copy_response(&out, 'H', true, 2);
    CHECK_BYTES("H\0\0\0\x0b\x01\0\x02\0\x01\0\x01");

    reset();
    pgw_copy_response(&out, 'H', false, 0);
    CHECK_BYTES("H\0\0\0\x07\0\0\0");
}

/* ---- frontend parsers ---- */

static void test_reader(void)
{
    static const char body[] = "\x01\xff\xfe\x80\0\0\x01"
                               "ab\0"
                               "xyz";
    pgw_reader_t r;
    pgw_reader_init(&r, body, sizeof body - 1);
    CHECK(pgw_get_u8(&r) == 1);
    CHECK(pgw_get_i16(&r) == -2);
    CHECK(pgw_get_i32(&r) == (int32_t)0x80000001);
    const char *s = pgw_get_cstr(&r);
    CHECK(s && strcmp(s, "ab") == 0);
    CHECK(!pgw_reader_done(&r));
    const char *x = pgw_get_bytes(&r, 3);
    CHECK(x && memcmp(x, "xyz", 3) == 0);
    CHECK(pgw_reader_done(&r));
    CHECK(!r.err);
    /* past the end: zero/NULL and a sticky error */
    CHECK(pgw_get_u8(&r) == 0);
    CHECK(r.err);
    CHECK(!pgw_reader_done(&r));
    CHECK(pgw_get_bytes(&r, 0) == NULL);
    CHECK(pgw_get_cstr(&r) == NULL);

    pgw_reader_init(&r, "abc", 3);
    CHECK(pgw_get_cstr(&r) == NULL); /* unterminated */
    CHECK(r.err);

    pgw_reader_init(&r, "abc", 3);
    CHECK(pgw_get_i32(&r) == 0 && r.err); /* 3 bytes are not an int32 */
    pgw_reader_init(&r, "a", 1);
    CHECK(pgw_get_i16(&r) == 0 && r.err);
    pgw_reader_init(&r, "abc", 3);
    CHECK(pgw_get_bytes(&r, SIZE_MAX) == NULL && r.err); /* no wrap-around */
    pgw_reader_init(&r, "abc", 3);
    CHECK(pgw_get_bytes(&r, 2) != NULL && pgw_get_bytes(&r, SIZE_MAX) == NULL && r.err);

    pgw_reader_init(&r, "", 0);
    CHECK(pgw_reader_done(&r));
    CHECK(pgw_get_cstr(&r) == NULL && r.err);

    pgw_reader_init(&r, "\0", 1);
    s = pgw_get_cstr(&r);
    CHECK(s && *s == '\0' && pgw_reader_done(&r));
}

static void test_startup(void)
{
    pgw_startup_t su;
    size_t consumed = 0;

    /* SSLRequest, GSSENCRequest */
    CHECK(pgw_parse_startup("\0\0\0\x08\x04\xd2\x16\x2f", 8, &su, &consumed) == PGW_OK);
    CHECK(su.kind == PGW_STARTUP_SSL && consumed == 8);
    CHECK(pgw_parse_startup("\0\0\0\x08\x04\xd2\x16\x30", 8, &su, &consumed) == PGW_OK);
    CHECK(su.kind == PGW_STARTUP_GSSENC && consumed == 8);
    /* SSLRequest with a body is not one */
    CHECK(pgw_parse_startup("\0\0\0\x0c\x04\xd2\x16\x2f\0\0\0\0", 12, &su, &consumed) == PGW_BAD);
    /* pipelined: a startup packet right behind the SSLRequest is not consumed */
    CHECK(pgw_parse_startup("\0\0\0\x08\x04\xd2\x16\x2f\0\0\0\x08", 12, &su, &consumed) == PGW_OK);
    CHECK(consumed == 8);

    /* CancelRequest: pid 0x1234, key 0xcafebabe */
    CHECK(pgw_parse_startup("\0\0\0\x10\x04\xd2\x16\x2e\0\0\x12\x34\xca\xfe\xba\xbe", 16, &su, &consumed) ==
          PGW_OK);
    CHECK(su.kind == PGW_STARTUP_CANCEL && su.cancel_pid == 0x1234 && su.cancel_key == (int32_t)0xcafebabe);
    CHECK(consumed == 16);
    CHECK(pgw_parse_startup("\0\0\0\x0c\x04\xd2\x16\x2e\0\0\x12\x34", 12, &su, &consumed) == PGW_BAD);
    CHECK(pgw_parse_startup("\0\0\0\x14\x04\xd2\x16\x2e\0\0\x12\x34\xca\xfe\xba\xbe\0\0\0\0", 20, &su,
                            &consumed) == PGW_BAD);

    /* StartupMessage 3.0 with parameters */
    msg_t m = {.n = 0};
    m_i32(&m, 32);
    m_i32(&m, PGW_PROTO_30);
    m_str(&m, "user");
    m_str(&m, "alice");
    m_str(&m, "database");
    m_str(&m, "db");
    m_raw(&m, "", 1);
    CHECK(m.n == 32);
    CHECK(pgw_parse_startup(m.d, m.n, &su, &consumed) == PGW_OK);
    CHECK(su.kind == PGW_STARTUP_NORMAL && su.version == PGW_PROTO_30 && consumed == 32);
    CHECK(su.nparams == 2);
    CHECK(pgw_startup_get(&su, "user") && strcmp(pgw_startup_get(&su, "user"), "alice") == 0);
    CHECK(pgw_startup_get(&su, "database") && strcmp(pgw_startup_get(&su, "database"), "db") == 0);
    CHECK(pgw_startup_get(&su, "options") == NULL);

    /* every truncation of it needs more bytes */
    bool all_need_more = true;
    for (size_t n = 0; n < m.n; n++)
        if (pgw_parse_startup(m.d, n, &su, &consumed) != PGW_NEED_MORE) all_need_more = false;
    CHECK(all_need_more);

    /* 3.2: accepted, the version reported for negotiation */
    msg_t m32 = {.n = 0};
    m_i32(&m32, 16);
    m_i32(&m32, PGW_PROTO_32);
    m_str(&m32, "user");
    m_str(&m32, "u");
    m_raw(&m32, "", 1);
    CHECK(pgw_parse_startup(m32.d, m32.n, &su, &consumed) == PGW_OK);
    CHECK(su.kind == PGW_STARTUP_NORMAL && su.version == PGW_PROTO_32 && su.nparams == 1);

    /* no parameters at all: just the terminator */
    CHECK(pgw_parse_startup("\0\0\0\x09\0\x03\0\0\0", 9, &su, &consumed) == PGW_OK);
    CHECK(su.nparams == 0);
    /* an empty value is a value */
    CHECK(pgw_parse_startup("\0\0\0\x0f\0\x03\0\0user\0\0\0", 15, &su, &consumed) == PGW_OK);
    CHECK(su.nparams == 1 && strcmp(su.values[0], "") == 0);

    /* bad lengths */
    CHECK(pgw_parse_startup("\0\0\0", 3, &su, &consumed) == PGW_NEED_MORE);
    CHECK(pgw_parse_startup("\0\0\0\x07\0\x03\0", 7, &su, &consumed) == PGW_BAD);
    CHECK(pgw_parse_startup("\0\0\0\0", 4, &su, &consumed) == PGW_BAD);
    CHECK(pgw_parse_startup("\xff\xff\xff\xff", 4, &su, &consumed) == PGW_TOO_BIG);
    CHECK(pgw_parse_startup("\0\0\x27\x11", 4, &su, &consumed) == PGW_TOO_BIG);   /* 10001 */
    CHECK(pgw_parse_startup("\0\0\x27\x10", 4, &su, &consumed) == PGW_NEED_MORE); /* 10000: allowed */

    /* missing terminator; missing value; bytes after the terminator */
    msg_t bad = {.n = 0};
    m_i32(&bad, 19);
    m_i32(&bad, PGW_PROTO_30);
    m_str(&bad, "user");
    m_str(&bad, "alice");
    CHECK(pgw_parse_startup(bad.d, bad.n, &su, &consumed) == PGW_BAD);
    CHECK(pgw_parse_startup("\0\0\0\x0d\0\x03\0\0user\0", 13, &su, &consumed) == PGW_BAD);
    CHECK(pgw_parse_startup("\0\0\0\x0e\0\x03\0\0user\0\0", 14, &su, &consumed) == PGW_BAD);
    CHECK(pgw_parse_startup("\0\0\0\x0a\0\x03\0\0\0x", 10, &su, &consumed) == PGW_BAD);
    CHECK(pgw_parse_startup("\0\0\0\x0a\0\x03\0\0\0\0", 10, &su, &consumed) == PGW_BAD);
    /* a length that cuts the last string */
    CHECK(pgw_parse_startup("\0\0\0\x0c\0\x03\0\0user\0", 13, &su, &consumed) == PGW_BAD);

    /* protocol 2.0 and 4.0 are not spoken */
    CHECK(pgw_parse_startup("\0\0\0\x09\0\x02\0\0\0", 9, &su, &consumed) == PGW_BAD);
    CHECK(pgw_parse_startup("\0\0\0\x09\0\x04\0\0\0", 9, &su, &consumed) == PGW_BAD);
    CHECK(pgw_parse_startup("\0\0\0\x09\xff\xfd\0\0\0", 9, &su, &consumed) == PGW_BAD);

    /* parameter count limit */
    static char big[4096];
    for (int count = PGW_MAX_STARTUP_PARAMS; count <= PGW_MAX_STARTUP_PARAMS + 1; count++) {
        size_t pos = 8;
        for (int i = 0; i < count; i++) {
            pos += (size_t)sprintf(big + pos, "k%d", i) + 1;
            memcpy(big + pos, "v\0", 2);
            pos += 2;
        }
        big[pos++] = '\0';
        uint32_t be = htonl((uint32_t)pos);
        memcpy(big, &be, 4);
        be = htonl(PGW_PROTO_30);
        memcpy(big + 4, &be, 4);
        pgw_status_t st = pgw_parse_startup(big, pos, &su, &consumed);
        CHECK(st == (count <= PGW_MAX_STARTUP_PARAMS ? PGW_OK : PGW_BAD));
        if (st == PGW_OK) CHECK(su.nparams == count && strcmp(su.keys[count - 1], "k63") == 0);
    }
}

static void test_frame(void)
{
    char type = 0;
    const char *body = NULL;
    size_t blen = 0, consumed = 0;
    static const char q[] = "Q\0\0\0\x0dSELECT 1\0"
                            "S\0\0\0\x04";
    size_t qn = sizeof q - 1;

    CHECK(pgw_frame(q, 0, 1024, &type, &body, &blen, &consumed) == PGW_NEED_MORE);
    CHECK(pgw_frame(q, 4, 1024, &type, &body, &blen, &consumed) == PGW_NEED_MORE);
    CHECK(pgw_frame(q, 13, 1024, &type, &body, &blen, &consumed) == PGW_NEED_MORE);
    CHECK(pgw_frame(q, qn, 1024, &type, &body, &blen, &consumed) == PGW_OK);
    CHECK(type == 'Q' && body == q + 5 && blen == 9 && consumed == 14);
    CHECK(memcmp(body, "SELECT 1", 9) == 0);
    /* the next message: Sync, empty body */
    CHECK(pgw_frame(q + consumed, qn - 14, 1024, &type, &body, &blen, &consumed) == PGW_OK);
    CHECK(type == 'S' && blen == 0 && consumed == 5);

    /* length < 4 is malformed */
    CHECK(pgw_frame("X\0\0\0\x03", 5, 1024, &type, &body, &blen, &consumed) == PGW_BAD);
    CHECK(pgw_frame("X\0\0\0\0", 5, 1024, &type, &body, &blen, &consumed) == PGW_BAD);
    /* over the limit: refused before the body arrives */
    CHECK(pgw_frame("Q\0\0\x04\x01", 5, 1024, &type, &body, &blen, &consumed) == PGW_TOO_BIG);
    CHECK(pgw_frame("Q\0\0\x04\0", 5, 1024, &type, &body, &blen, &consumed) == PGW_NEED_MORE);
    CHECK(pgw_frame("Q\xff\xff\xff\xff", 5, 1024, &type, &body, &blen, &consumed) == PGW_TOO_BIG);
    CHECK(pgw_frame("Q\xff\xff\xff\xff", 5, SIZE_MAX, &type, &body, &blen, &consumed) == PGW_NEED_MORE);
    /* exactly the limit is fine */
    CHECK(pgw_frame(q, qn, 13, &type, &body, &blen, &consumed) == PGW_OK);
    CHECK(pgw_frame(q, qn, 12, &type, &body, &blen, &consumed) == PGW_TOO_BIG);
}

static void test_parse_msg(void)
{
    pgw_parse_msg_t p;
    msg_t m = {.n = 0};
    m_str(&m, "s1");
    m_str(&m, "SELECT $1, $2");
    m_i16(&m, 2);
    m_i32(&m, 23);
    m_i32(&m, 0);
    CHECK(pgw_parse_parse(m.d, m.n, &p));
    CHECK(strcmp(p.name, "s1") == 0 && strcmp(p.query, "SELECT $1, $2") == 0 && p.nparams == 2);
    CHECK(pgw_parse_param_oid(&p, 0) == 23 && pgw_parse_param_oid(&p, 1) == 0);

    /* unnamed, no parameter types */
    CHECK(pgw_parse_parse("\0SELECT 1\0\0\0", 12, &p));
    CHECK(p.name[0] == '\0' && p.nparams == 0);

    /* every truncation is rejected, and so is a trailing byte */
    bool all_bad = true;
    for (size_t n = 0; n < m.n; n++)
        if (pgw_parse_parse(m.d, n, &p)) all_bad = false;
    CHECK(all_bad);
    m.d[m.n] = 'x';
    CHECK(!pgw_parse_parse(m.d, m.n + 1, &p));

    /* negative and over-long counts */
    CHECK(!pgw_parse_parse("\0SELECT 1\0\xff\xff", 12, &p));
    CHECK(!pgw_parse_parse("\0SELECT 1\0\0\x02\0\0\0\x17", 16, &p));
    CHECK(!pgw_parse_parse("\0SELECT 1\0\0", 11, &p));
    /* unterminated query */
    CHECK(!pgw_parse_parse("\0SELECT 1", 9, &p));

    /* PostgreSQL reads the count as unsigned (pq_getmsgint(msg, 2)): 40000
     * parameter types are legal there; madang reads a signed int16. */
    size_t n = 2 + 2 + 40000 * 4;
    char *huge = xcalloc(1, n);
    huge[2] = (char)(40000 >> 8);
    huge[3] = (char)(40000 & 0xff);
    CHECK(pgw_parse_parse(huge, n, &p) && p.nparams == 40000);
    free(huge);
}

/* Bind's three counts are unsigned in PostgreSQL too; 40000 NULL parameters. */
static void test_bind_many(void)
{
    size_t n = 2 + 2 + 2 + 40000 * 4 + 2;
    char *huge = xcalloc(1, n);
    huge[4] = (char)(40000 >> 8);
    huge[5] = (char)(40000 & 0xff);
    memset(huge + 6, 0xff, 40000 * 4);
    pgw_bind_msg_t b;
    CHECK(pgw_parse_bind(huge, n, &b) && b.nparams == 40000);
    free(huge);
}

static bool bind_ok(const msg_t *m, pgw_bind_msg_t *b)
{
    return pgw_parse_bind(m->d, m->n, b);
}

static void test_bind_msg(void)
{
    pgw_bind_msg_t b;
    const char *v;
    int32_t l;
    size_t pos;

    /* text params, one NULL, no formats */
    msg_t m = {.n = 0};
    m_str(&m, "");
    m_str(&m, "s1");
    m_i16(&m, 0);
    m_i16(&m, 3);
    m_i32(&m, 2);
    m_raw(&m, "42", 2);
    m_i32(&m, -1);
    m_i32(&m, 0);
    m_i16(&m, 0);
    CHECK(bind_ok(&m, &b));
    CHECK(b.portal[0] == '\0' && strcmp(b.stmt, "s1") == 0 && b.nformats == 0 && b.nparams == 3);
    CHECK(b.nresult_formats == 0);
    CHECK(pgw_bind_param_format(&b, 0) == 0 && pgw_bind_param_format(&b, 2) == 0);
    CHECK(pgw_bind_result_format(&b, 0) == 0 && pgw_bind_result_format(&b, 5) == 0);
    pos = 0;
    CHECK(pgw_bind_next_param(&b, &pos, &v, &l) && l == 2 && memcmp(v, "42", 2) == 0);
    CHECK(pgw_bind_next_param(&b, &pos, &v, &l) && l == -1 && v == NULL);
    CHECK(pgw_bind_next_param(&b, &pos, &v, &l) && l == 0 && v != NULL);
    CHECK(!pgw_bind_next_param(&b, &pos, &v, &l));

    bool all_bad = true;
    for (size_t n = 0; n < m.n; n++)
        if (pgw_parse_bind(m.d, n, &b)) all_bad = false;
    CHECK(all_bad);
    m.d[m.n] = '\0';
    CHECK(!pgw_parse_bind(m.d, m.n + 1, &b)); /* trailing garbage */

    /* one format code applies to every parameter; one result format to every column */
    msg_t one = {.n = 0};
    m_str(&one, "p");
    m_str(&one, "");
    m_i16(&one, 1);
    m_i16(&one, 1);
    m_i16(&one, 2);
    m_i32(&one, 4);
    m_raw(&one, "\0\0\0\x07", 4);
    m_i32(&one, 8);
    m_raw(&one, "\0\0\0\0\0\0\0\x09", 8);
    m_i16(&one, 1);
    m_i16(&one, 1);
    CHECK(bind_ok(&one, &b));
    CHECK(strcmp(b.portal, "p") == 0 && b.stmt[0] == '\0');
    CHECK(pgw_bind_param_format(&b, 0) == 1 && pgw_bind_param_format(&b, 1) == 1);
    CHECK(pgw_bind_result_format(&b, 0) == 1 && pgw_bind_result_format(&b, 7) == 1);
    pos = 0;
    CHECK(pgw_bind_next_param(&b, &pos, &v, &l) && l == 4 && v[3] == 7);
    CHECK(pgw_bind_next_param(&b, &pos, &v, &l) && l == 8 && v[7] == 9);
    CHECK(!pgw_bind_next_param(&b, &pos, &v, &l));

    /* n format codes for n parameters; n result formats */
    msg_t many = {.n = 0};
    m_str(&many, "");
    m_str(&many, "");
    m_i16(&many, 2);
    m_i16(&many, 0);
    m_i16(&many, 1);
    m_i16(&many, 2);
    m_i32(&many, 1);
    m_raw(&many, "x", 1);
    m_i32(&many, -1);
    m_i16(&many, 3);
    m_i16(&many, 1);
    m_i16(&many, 0);
    m_i16(&many, 1);
    CHECK(bind_ok(&many, &b));
    CHECK(pgw_bind_param_format(&b, 0) == 0 && pgw_bind_param_format(&b, 1) == 1);
    CHECK(pgw_bind_result_format(&b, 0) == 1 && pgw_bind_result_format(&b, 1) == 0);
    CHECK(pgw_bind_result_format(&b, 2) == 1);

    /* format count neither 0, 1 nor nparams */
    msg_t mism = {.n = 0};
    m_str(&mism, "");
    m_str(&mism, "");
    m_i16(&mism, 2);
    m_i16(&mism, 0);
    m_i16(&mism, 0);
    m_i16(&mism, 3);
    for (int i = 0; i < 3; i++) m_i32(&mism, -1);
    m_i16(&mism, 0);
    CHECK(!bind_ok(&mism, &b));

    /* invalid format code 2, for a parameter and for a result */
    msg_t f2 = {.n = 0};
    m_str(&f2, "");
    m_str(&f2, "");
    m_i16(&f2, 1);
    m_i16(&f2, 2);
    m_i16(&f2, 1);
    m_i32(&f2, -1);
    m_i16(&f2, 0);
    CHECK(!bind_ok(&f2, &b));
    msg_t r2 = {.n = 0};
    m_str(&r2, "");
    m_str(&r2, "");
    m_i16(&r2, 0);
    m_i16(&r2, 0);
    m_i16(&r2, 2);
    m_i16(&r2, 1);
    m_i16(&r2, 2);
    CHECK(!bind_ok(&r2, &b));
    msg_t rneg = {.n = 0};
    m_str(&rneg, "");
    m_str(&rneg, "");
    m_i16(&rneg, 0);
    m_i16(&rneg, 0);
    m_i16(&rneg, 1);
    m_i16(&rneg, -1);
    CHECK(!bind_ok(&rneg, &b));

    /* negative counts, a length below -1, a length past the end */
    CHECK(!pgw_parse_bind("\0\0\xff\xff", 4, &b));
    CHECK(!pgw_parse_bind("\0\0\0\0\xff\xff", 6, &b));
    CHECK(!pgw_parse_bind("\0\0\0\0\0\0\xff\xff", 8, &b));
    CHECK(!pgw_parse_bind("\0\0\0\0\0\x01\xff\xff\xff\xfe\0\0", 12, &b));
    CHECK(!pgw_parse_bind("\0\0\0\0\0\x01\0\0\0\x06"
                          "abc\0\0",
                          15, &b));
    CHECK(!pgw_parse_bind("\0\0\0\0\0\x01\x7f\xff\xff\xff\0\0", 12, &b));
    /* no parameters, no formats: the smallest Bind */
    CHECK(pgw_parse_bind("\0\0\0\0\0\0\0\0", 8, &b));
    CHECK(b.nparams == 0 && b.params_len == 0);
    pos = 0;
    CHECK(!pgw_bind_next_param(&b, &pos, &v, &l));
    /* one format code with no parameters is allowed (PostgreSQL too) */
    CHECK(pgw_parse_bind("\0\0\0\x01\0\x01\0\0\0\0", 10, &b));
}

/* ---- lexer ---- */

/* "[stmt][stmt]..." with E for an empty one; or "ERR". */
static bool split_is(const char *sql, const char *want, int line)
{
    lex_range_t *r = NULL;
    int n = lex_split(sql, &r);
    buf_t b;
    buf_init(&b, 64);
    if (n < 0) {
        buf_append_str(&b, "ERR");
        if (r != NULL) buf_append_str(&b, "(non-NULL out)");
    }
    for (int i = 0; i < n; i++) {
        buf_putc(&b, r[i].is_empty ? 'E' : '[');
        if (!r[i].is_empty || r[i].len) buf_append(&b, sql + r[i].start, r[i].len);
        if (!r[i].is_empty) buf_putc(&b, ']');
    }
    bool ok = str_is(&b, want, line);
    buf_free(&b);
    free(r);
    return ok;
}

#define SPLIT_IS(sql, want) CHECK(split_is(sql, want, __LINE__))

static void test_lex_split(void)
{
    SPLIT_IS("SELECT 1", "[SELECT 1]");
    SPLIT_IS("SELECT 1;", "[SELECT 1]");
    SPLIT_IS("SELECT 1; SELECT 2", "[SELECT 1][ SELECT 2]");
    SPLIT_IS("SELECT 1;\n SELECT 2;\n", "[SELECT 1][\n SELECT 2]");
    /* semicolons inside strings, identifiers, comments */
    SPLIT_IS("SELECT ';'; SELECT 2", "[SELECT ';'][ SELECT 2]");
    SPLIT_IS("SELECT 'it''s;'; x", "[SELECT 'it''s;'][ x]");
    SPLIT_IS("SELECT \"a;b\"\";\"; x", "[SELECT \"a;b\"\";\"][ x]");
    SPLIT_IS("SELECT 1 -- no; split\n; x", "[SELECT 1 -- no; split\n][ x]");
    SPLIT_IS("SELECT /* ; */ 1; x", "[SELECT /* ; */ 1][ x]");
    /* standard strings: backslash is not an escape */
    SPLIT_IS("SELECT '\\'; SELECT 2", "[SELECT '\\'][ SELECT 2]");
    /* E'' strings: it is */
    SPLIT_IS("SELECT E'\\';'; SELECT 2", "[SELECT E'\\';'][ SELECT 2]");
    SPLIT_IS("SELECT e'\\\\'; x", "[SELECT e'\\\\'][ x]");
    SPLIT_IS("SELECT E'a''b;'; x", "[SELECT E'a''b;'][ x]");
    /* dollar quotes */
    SPLIT_IS("SELECT $$a;b$$; x", "[SELECT $$a;b$$][ x]");
    SPLIT_IS("SELECT $tag$ $$; $tag$; x", "[SELECT $tag$ $$; $tag$][ x]");
    SPLIT_IS("SELECT $a$ $b$; $a$;x", "[SELECT $a$ $b$; $a$][x]");
    SPLIT_IS("SELECT $1; SELECT $2", "[SELECT $1][ SELECT $2]");
    SPLIT_IS("SELECT a$b; x", "[SELECT a$b][ x]");
    /* nested block comments */
    SPLIT_IS("/* a /* b; */ c; */ SELECT 1; x", "[/* a /* b; */ c; */ SELECT 1][ x]");
    /* parentheses hide a semicolon */
    SPLIT_IS("CREATE RULE r AS ON INSERT TO t DO (SELECT 1; SELECT 2); x",
             "[CREATE RULE r AS ON INSERT TO t DO (SELECT 1; SELECT 2)][ x]");
    /* empty statements */
    SPLIT_IS("", "E");
    SPLIT_IS("   ", "E   ");
    SPLIT_IS("-- only a comment", "E-- only a comment");
    SPLIT_IS(";", "E");
    SPLIT_IS(";;", "EE");
    SPLIT_IS("SELECT 1;;SELECT 2", "[SELECT 1]E[SELECT 2]");
    SPLIT_IS("SELECT 1; /* c */ ;", "[SELECT 1]E /* c */ ");
    SPLIT_IS("SELECT 1; -- trailing", "[SELECT 1]");
    /* unterminated → -1 */
    SPLIT_IS("SELECT 'abc", "ERR");
    SPLIT_IS("SELECT 'abc''", "ERR");
    SPLIT_IS("SELECT \"abc", "ERR");
    SPLIT_IS("SELECT E'abc\\'", "ERR");
    SPLIT_IS("SELECT E'abc\\", "ERR");
    SPLIT_IS("SELECT $$abc", "ERR");
    SPLIT_IS("SELECT $x$abc$y$", "ERR");
    SPLIT_IS("SELECT 1 /* open", "ERR");
    SPLIT_IS("SELECT 1 /* a /* b */", "ERR");
    SPLIT_IS("/*/", "ERR");
    SPLIT_IS("SELECT 1; SELECT 'x", "ERR");
    /* a comment start inside an operator run */
    SPLIT_IS("SELECT 1+/*;*/2; x", "[SELECT 1+/*;*/2][ x]");
    SPLIT_IS("SELECT 1--;\n; x", "[SELECT 1--;\n][ x]");

    /* PostgreSQL's scanner ends a -- comment at \n or \r (scan.l: newline
     * [\n\r]); lex.c only at \n, so a CR-only line ending hides the ';'. */
    CHECK(split_is("SELECT 1 -- c\r; SELECT 2", "[SELECT 1 -- c\r][ SELECT 2]", __LINE__));
}

static lex_tok_t tok1(lex_t *l, const char *sql)
{
    lex_init(l, sql, strlen(sql));
    return lex_next(l);
}

static bool value_is(const char *sql, lex_type_t type, const char *want, int line)
{
    lex_t l;
    lex_tok_t t = tok1(&l, sql);
    if (t.type != type) {
        fprintf(stderr, "test_codec.c:%d: token type %d, want %d for %s\n", line, t.type, type, sql);
        return false;
    }
    if (t.len != strlen(sql)) {
        fprintf(stderr, "test_codec.c:%d: token is %zu bytes of %zu for %s\n", line, t.len, strlen(sql), sql);
        return false;
    }
    char *v = lex_value(&t);
    bool ok = strcmp(v, want) == 0;
    if (!ok) fprintf(stderr, "test_codec.c:%d: lex_value(%s) = \"%s\", want \"%s\"\n", line, sql, v, want);
    free(v);
    return ok;
}

#define VALUE_IS(sql, type, want) CHECK(value_is(sql, type, want, __LINE__))

static void test_lex_value(void)
{
    VALUE_IS("FooBar", TK_IDENT, "foobar");
    VALUE_IS("_x1$", TK_IDENT, "_x1$");
    VALUE_IS("\"FooBar\"", TK_QIDENT, "FooBar");
    VALUE_IS("\"a\"\"b\"", TK_QIDENT, "a\"b");
    VALUE_IS("\"\"", TK_QIDENT, "");
    VALUE_IS("'it''s'", TK_STRING, "it's");
    VALUE_IS("''", TK_STRING, "");
    VALUE_IS("'a\\nb'", TK_STRING, "a\\nb");
    VALUE_IS("E'a\\nb\\tc\\\\d\\'e'", TK_STRING, "a\nb\tc\\d'e");
    VALUE_IS("e'\\r\\b\\f\\q'", TK_STRING, "\r\b\fq");
    VALUE_IS("E'x''y'", TK_STRING, "x'y");
    VALUE_IS("$$a'b$$", TK_STRING, "a'b");
    VALUE_IS("$$$$", TK_STRING, "");
    VALUE_IS("$t$x$y$$t$", TK_STRING, "x$y$");
    VALUE_IS("$_1$ $$ $_1$", TK_STRING, " $$ ");
    VALUE_IS("X'1F'", TK_STRING, "1F");
    VALUE_IS("B'101'", TK_STRING, "101");
    VALUE_IS("N'abc'", TK_STRING, "abc");
    VALUE_IS("1.5e+10", TK_NUMBER, "1.5e+10");
    VALUE_IS(".5", TK_NUMBER, ".5");
    VALUE_IS("$12", TK_PARAM, "$12");
    VALUE_IS("<=", TK_OP, "<=");
    VALUE_IS(";", TK_SEMI, ";");

    /* keyword matching is case-insensitive and whole-word */
    lex_t l;
    lex_tok_t t = tok1(&l, "select");
    CHECK(lex_is(&t, "SELECT") && !lex_is(&t, "SELEC") && !lex_is(&t, "SELECTS"));
    t = tok1(&l, "'select'");
    CHECK(!lex_is(&t, "select"));

    /* token stream with offsets */
    const char *sql = "SET x = 'a' ; -- c\n $1";
    lex_init(&l, sql, strlen(sql));
    lex_type_t want[] = {TK_IDENT, TK_IDENT, TK_OP, TK_STRING, TK_SEMI, TK_PARAM, TK_EOF};
    size_t off[] = {0, 4, 6, 8, 12, 20, 22};
    bool stream_ok = true;
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        t = lex_next(&l);
        if (t.type != want[i] || t.offset != off[i]) stream_ok = false;
    }
    CHECK(stream_ok);
    t = tok1(&l, "'open");
    CHECK(t.type == TK_ERROR);

    /* PostgreSQL E'' strings also take \xhh, \ooo and \uXXXX escapes:
     * SELECT E'\x41\101\u0041' is 'AAA'. lex_value passes them through as the
     * letter after the backslash, so e.g. PASSWORD E'\x41' stores "x41". */
    CHECK(value_is("E'\\x41\\101\\u0041'", TK_STRING, "AAA", __LINE__));
}

/* ---- COPY row parser ---- */

static bool collect_row(void *ctx, int n, char **fields, size_t *lens)
{
    buf_t *b = ctx;
    buf_putc(b, '[');
    for (int i = 0; i < n; i++) {
        if (i) buf_putc(b, '|');
        if (fields[i])
            buf_append(b, fields[i], lens[i]);
        else
            buf_append_str(b, "<NULL>");
    }
    buf_putc(b, ']');
    return true;
}

static bool reject_row(void *ctx, int n, char **fields, size_t *lens)
{
    UNUSED(ctx);
    UNUSED(n);
    UNUSED(fields);
    UNUSED(lens);
    return false;
}

/* Feeds chunks (NULL-terminated list), then finishes; the rows as "[a|b][c|d]",
 * with "!err" appended when a call failed. */
static bool copy_is(const gate_copy_opts_t *o, const char *const *chunks, const char *want, int line)
{
    pgw_copy_parser_t p;
    pgw_copy_parser_init(&p, o);
    buf_t rows;
    buf_init(&rows, 64);
    bool ok = true;
    for (int i = 0; chunks[i] && ok; i++)
        ok = pgw_copy_feed(&p, chunks[i], strlen(chunks[i]), collect_row, &rows);
    if (ok) ok = pgw_copy_finish(&p, collect_row, &rows);
    if (!ok) buf_append_str(&rows, "!err");
    bool same = str_is(&rows, want, line);
    buf_free(&rows);
    pgw_copy_parser_free(&p);
    return same;
}

#define COPY_IS(o, want, ...) CHECK(copy_is(o, (const char *const[]){__VA_ARGS__, NULL}, want, __LINE__))

static void test_copy(void)
{
    char text_null[] = "\\N", csv_null[] = "", word_null[] = "NULL";
    gate_copy_opts_t text = {.delim = '\t', .quote = '"', .escape = '"', .null_str = text_null};
    gate_copy_opts_t csv = {.csv = true, .delim = ',', .quote = '"', .escape = '"', .null_str = csv_null};
    gate_copy_opts_t csvh = csv;
    csvh.header = true;
    gate_copy_opts_t pipe = {.delim = '|', .quote = '"', .escape = '"', .null_str = word_null};

    COPY_IS(&text, "[a|b][1|<NULL>]", "a\tb\n1\t\\N\n");
    COPY_IS(&text, "[x\ty\nAA\\|\x01]", "x\\ty\\n\\101\\x41\\\\\t\\1\n");
    COPY_IS(&text, "[|][]", "\t\n\n");
    COPY_IS(&text, "[a\\N]", "a\\\\N\n");          /* an escaped backslash, not NULL */
    COPY_IS(&text, "[abc|d]", "ab", "c\td", "\n"); /* split across CopyData */
    COPY_IS(&text, "[last]", "last");              /* no final newline */
    COPY_IS(&text, "[a|b]", "a\tb\r\n");           /* CRLF */
    COPY_IS(&text, "[a]", "a\n\\.\nignored\n");    /* end marker */
    COPY_IS(&text, "[a]", "a\n\\.\n", "ignored\n");
    COPY_IS(&text, "[a\tb]", "a\\\tb\n"); /* backslash-delimiter is the delimiter as data */
    COPY_IS(&pipe, "[1|<NULL>|NULLx]", "1|NULL|NULLx\n");
    pgw_copy_parser_t p;
    pgw_copy_parser_init(&p, &text);
    CHECK(!pgw_copy_feed(&p, "a\n", 2, reject_row, NULL)); /* the callback's refusal stops the load */
    pgw_copy_parser_free(&p);

    COPY_IS(&csvh, "[a,b|<NULL>][x\"y|]", "h1,h2\n\"a,b\",\n\"x\"\"y\",\"\"\n");
    COPY_IS(&csv, "[line1\nline2|z]", "\"line1\n", "line2\",z\n");
    COPY_IS(&csv, "[a|b|c]", "a,b,c\r\n");
    COPY_IS(&csv, "[1|<NULL>|]", "1,,\"\"");
    COPY_IS(&csv, "[\\.]", "\"\\.\"\n"); /* a quoted \. is data */
    COPY_IS(&csv, "[a]", "a\n\\.\n");
    COPY_IS(&csv, "!err", "\"open\n"); /* unterminated quote at the end */
}

/* ---- text formatters ---- */

static void test_fmt_date(void)
{
    struct {
        int32_t days;
        const char *want;
    } cases[] = {
        {0, "1970-01-01"},
        {-1, "1969-12-31"},
        {10957, "2000-01-01"},
        {19782, "2024-02-29"},
        {2932896, "9999-12-31"},
        {2932897, "10000-01-01"},
        {-719162, "0001-01-01"},
        {-719163, "0001-12-31 BC"},
        {-719528, "0001-01-01 BC"}, /* year 0 is 1 BC, a leap year */
        {-719529, "0002-12-31 BC"},
        {-2440588, "4714-11-24 BC"}, /* Julian day 0: PostgreSQL's earliest date */
        {INT32_MAX, "infinity"},
        {-INT32_MAX, "-infinity"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        reset();
        pgw_fmt_date(&out, cases[i].days);
        CHECK(OUT_IS(cases[i].want));
    }
}

static void test_fmt_timestamp(void)
{
    const int64_t S = 1000000, D = 86400 * S;
    struct {
        int64_t us;
        bool tz;
        const char *want;
    } cases[] = {
        {0, false, "1970-01-01 00:00:00"},
        {0, true, "1970-01-01 00:00:00+00"},
        {1500000, false, "1970-01-01 00:00:01.5"},
        {-1, false, "1969-12-31 23:59:59.999999"},
        {946684800 * S + 123456, false, "2000-01-01 00:00:00.123456"},
        {946684800 * S + 120000, true, "2000-01-01 00:00:00.12+00"},
        {(10957 + 1) * D - 1 * S, false, "2000-01-01 23:59:59"},
        {-719163 * D + 23 * 3600 * S, false, "0001-12-31 23:00:00 BC"},
        {-719163 * D + 23 * 3600 * S, true, "0001-12-31 23:00:00+00 BC"},
        {INT64_MAX, false, "infinity"},
        {-INT64_MAX, true, "-infinity"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        reset();
        pgw_fmt_timestamp(&out, cases[i].us, cases[i].tz);
        CHECK(OUT_IS(cases[i].want));
    }
}

static void test_fmt_interval(void)
{
    const int64_t S = 1000000, H = 3600 * S;
    struct {
        int32_t months, days;
        int64_t us;
        const char *want;
    } cases[] = {
        {14, 3, 4 * H + 5 * 60 * S + 6 * S + 500000, "1 year 2 mons 3 days 04:05:06.5"},
        {0, 0, 0, "00:00:00"},
        {12, 0, 0, "1 year"},
        {1, 0, 0, "1 mon"},
        {2, 0, 0, "2 mons"},
        {0, 1, 0, "1 day"},
        {0, 2, 0, "2 days"},
        {0, 0, 1, "00:00:00.000001"},
        {0, 0, -H, "-01:00:00"},
        {0, 0, 100 * H, "100:00:00"},
        {0, 1, -H, "1 day -01:00:00"},
        {0, -2, 0, "-2 days"},
        {-24, 0, 0, "-2 years"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        reset();
        pgw_fmt_interval(&out, cases[i].months, cases[i].days, cases[i].us);
        CHECK(OUT_IS(cases[i].want));
    }

    /* PostgreSQL pluralizes every value but 1 ("-1 days", "-1 years"), and
     * puts a + on a positive field that follows a negative one:
     *   SELECT interval '-1 day';               -1 days
     *   SELECT interval '-14 months';           -1 years -2 mons
     *   SELECT interval '-1 day +01:00';        -1 days +01:00:00
     *   SELECT interval '-1 mon 1 day';         -1 mons +1 day */
    reset();
    pgw_fmt_interval(&out, 0, -1, 0);
    CHECK(OUT_IS("-1 days"));
    reset();
    pgw_fmt_interval(&out, -14, 0, 0);
    CHECK(OUT_IS("-1 years -2 mons"));
    reset();
    pgw_fmt_interval(&out, 0, -1, H);
    CHECK(OUT_IS("-1 days +01:00:00"));
    reset();
    pgw_fmt_interval(&out, -1, 1, 0);
    CHECK(OUT_IS("-1 mons +1 day"));
}

static void test_fmt_double(void)
{
    struct {
        double d;
        const char *want;
    } cases[] = {
        {0.1, "0.1"},
        {1e20, "1e+20"},
        {1e15, "1e+15"},
        {1e14, "100000000000000"},
        {100, "100"},
        {123.456, "123.456"},
        {-1.5, "-1.5"},
        {0.0, "0"},
        {-0.0, "-0"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1e-5, "1e-05"},
        {0.0001, "0.0001"},
        {2.5e-7, "2.5e-07"},
        {1e100, "1e+100"},
        {123456789012345.67, "123456789012345.67"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {NAN, "NaN"},
        {INFINITY, "Infinity"},
        {-INFINITY, "-Infinity"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        reset();
        pgw_fmt_double(&out, cases[i].d);
        CHECK(OUT_IS(cases[i].want));
    }

    /* PostgreSQL (Ryu, src/common/d2s.c) prints the shortest exact digits, in
     * exponent form whenever the decimal exponent is >= 15 or < -4. The
     * %.15g/%.16g/%.17g search differs for subnormals (too many digits) and
     * for values in [1e15, 1e17) that need 16-17 digits (fixed, not exponent). */
    reset();
    pgw_fmt_double(&out, 5e-324);
    CHECK(OUT_IS("5e-324"));
    reset();
    pgw_fmt_double(&out, 1234567890123456.0);
    CHECK(OUT_IS("1.234567890123456e+15"));
    reset();
    pgw_fmt_double(&out, 1e15 + 0.5);
    CHECK(OUT_IS("1.0000000000000005e+15"));
}

/* The fast path for short decimals against the exhaustive search it
 * shortcuts: the same text for a million values of every magnitude, and the
 * text always reads back as the value. */
static void ref_shortest(char *dst, size_t n, double d)
{
    char tmp[48];
    int prec;
    for (prec = 1; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    int exp10 = atoi(strchr(tmp, 'e') + 1);
    if (exp10 < -4 || exp10 >= 15) {
        *strchr(tmp, 'e') = '\0';
        snprintf(dst, n, "%se%c%02d", tmp, exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        return;
    }
    int decimals = prec - 1 - exp10;
    snprintf(dst, n, "%.*f", decimals < 0 ? 0 : decimals, d);
}

static void test_fmt_double_fast_path(void)
{
    uint64_t x = 88172645463325252ULL;
    int bad = 0;
    for (int i = 0; i < 1000000 && bad < 5; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        switch (i % 4) {
        case 0:
            d = (double)(x % 100000) * 0.01;
            break; /* prices */
        case 1:
            d = (double)(int64_t)(x % 2000000001) / 1000.0 - 1e6;
            break; /* signed, 3 decimals */
        case 2:
            d = ldexp((double)(x >> 11), (int)(x % 80) - 100);
            break; /* any mantissa, 1e-18 .. 1e7 */
        default:
            memcpy(&d, &x, sizeof d);
            if (!isfinite(d)) continue;
            break; /* any bit pattern */
        }
        char want[64];
        ref_shortest(want, sizeof want, d);
        reset();
        pgw_fmt_double(&out, d);
        char *got = (char *)buf_cstr(&out);
        if (d == 0) continue;
        if (strcmp(got, want) != 0 || strtod(got, NULL) != d) {
            fprintf(stderr, "fmt_double(%.17g): got %s want %s\n", d, got, want);
            bad++;
        }
    }
    CHECK(bad == 0);
}

int main(void)
{
    buf_init(&out, 256);
    test_auth();
    test_startup_replies();
    test_simple_messages();
    test_error_notice();
    test_descriptions();
    test_reader();
    test_startup();
    test_frame();
    test_parse_msg();
    test_bind_msg();
    test_bind_many();
    test_lex_split();
    test_lex_value();
    test_copy();
    test_fmt_date();
    test_fmt_timestamp();
    test_fmt_interval();
    test_fmt_double();
    test_fmt_double_fast_path();
    buf_free(&out);
    if (known_failing || known_passing)
        printf("known bugs: %d still failing, %d now passing\n", known_failing, known_passing);
    return check_summary();
}
