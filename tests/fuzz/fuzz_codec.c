/* fuzz_codec.c — libFuzzer target for every parser of untrusted client bytes
 * on the PostgreSQL wire, driven the way pgwire/conn.c drives them:
 *
 *   startup packet(s) (SSLRequest/GSSENCRequest answered 'N', CancelRequest
 *   ends the stream) → typed messages framed with a size limit → for each, the
 *   parser the server would call: Query (lex_split, then lex_next/lex_value on
 *   every token of every statement), Parse (+ the same lexing of its query),
 *   Bind (+ every parameter and format), Describe/Close/Execute/SASLResponse/
 *   CopyFail bodies through pgw_reader_t, CopyData/CopyDone through the COPY
 *   parser in text and csv modes (state kept across messages, as in COPY FROM
 *   STDIN). Backend builders are fed the parsed strings too.
 *
 * Every message body is copied into its own exact-size heap block before it
 * is parsed, so AddressSanitizer sees a read past the end of a message even
 * when the next message follows it in the stream. Invariants the callers rely
 * on (ranges inside the text, values no longer than their token, params inside
 * the Bind body) trap when broken.
 *
 * Build (the Makefile's fuzz target with lex.c and copy.c added):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc -Ithird_party/duckdb \
 *     -o build/fuzz/fuzz_codec tests/fuzz/fuzz_codec.c src/pgwire/codec.c src/gate/lex.c \
 *     src/pgwire/copy.c src/util/util.c
 * Run:   build/fuzz/fuzz_codec -max_len=4096 tests/fuzz/corpus
 *
 * copy.c's encoder half calls into the engine; this target never encodes, so
 * the three engine symbols it references are stubbed below (no libduckdb). */
#include "gate/lex.h"
#include "pgwire/codec.h"
#include "pgwire/copy.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_MSG (64u << 10) /* the server's limit is larger; the framing logic is the same */

#define INVARIANT(c)                                                                                         \
    do {                                                                                                     \
        if (!(c)) __builtin_trap();                                                                          \
    } while (0)

/* ---- stubs for copy.c's encoder (unreachable here) ---- */

uint64_t *duckdb_vector_get_validity(duckdb_vector vector)
{
    UNUSED(vector);
    abort();
}

bool duckdb_validity_row_is_valid(uint64_t *validity, idx_t row)
{
    UNUSED(validity);
    UNUSED(row);
    abort();
}

void pgw_encode_text(buf_t *b, const pgw_colenc_t *e, duckdb_vector v, idx_t row)
{
    UNUSED(b);
    UNUSED(e);
    UNUSED(v);
    UNUSED(row);
    abort();
}

/* ---- helpers ---- */

static volatile unsigned sink; /* keeps the byte-touching loops */

static void touch(const char *p, size_t n)
{
    unsigned h = 0;
    for (size_t i = 0; i < n; i++) h = h * 31 + (unsigned char)p[i];
    sink += h;
}

static char *dup_exact(const char *p, size_t n)
{
    char *d = malloc(n ? n : 1);
    if (!d) abort();
    if (n) memcpy(d, p, n);
    return d;
}

/* Lexes one statement the way the gate reads it: token by token, with the
 * value of every token. */
static void lex_statement(const char *sql, size_t len)
{
    char *s = dup_exact(sql, len); /* exact size: no NUL after it */
    lex_t l;
    lex_init(&l, s, len);
    size_t last = 0;
    for (int guard = 0; guard < 100000; guard++) {
        lex_tok_t t = lex_next(&l);
        if (t.type == TK_EOF || t.type == TK_ERROR) break;
        INVARIANT(t.len > 0);
        INVARIANT(t.offset >= last && t.offset + t.len <= len);
        INVARIANT(t.p == s + t.offset);
        last = t.offset + t.len;
        char *v = lex_value(&t);
        INVARIANT(strlen(v) <= t.len);
        touch(v, strlen(v));
        sink += lex_is(&t, "select") + lex_is(&t, "copy");
        free(v);
    }
    free(s);
}

static void lex_query(const char *sql)
{
    lex_range_t *r = NULL;
    int n = lex_split(sql, &r);
    if (n < 0) {
        INVARIANT(r == NULL);
        return;
    }
    INVARIANT(n >= 1);
    size_t total = strlen(sql), prev_end = 0;
    for (int i = 0; i < n; i++) {
        INVARIANT(r[i].start >= prev_end && r[i].start <= total && r[i].len <= total - r[i].start);
        prev_end = r[i].start + r[i].len;
        if (!r[i].is_empty) lex_statement(sql + r[i].start, r[i].len);
    }
    free(r);
}

/* ---- COPY ---- */

typedef struct {
    pgw_copy_parser_t p;
    gate_copy_opts_t o;
    bool failed;
} copy_sink_t;

static bool copy_row(void *ctx, int n, char **fields, size_t *lens)
{
    UNUSED(ctx);
    INVARIANT(n >= 1);
    for (int i = 0; i < n; i++)
        if (fields[i]) touch(fields[i], lens[i]);
    /* a row that starts with '!' is refused, as a failing INSERT would be */
    return !(fields[0] && lens[0] > 0 && fields[0][0] == '!');
}

static char null_text[] = "\\N", null_csv[] = "", null_word[] = "NULL", null_empty[] = "";
static char null_fuzz[2];

/* The defaults gate.c picks for text and csv, two variants that take the
 * other branches (escape distinct from quote, a non-default NULL), and one
 * whose options come from the first bytes of the COPY's first CopyData — gate.c
 * takes DELIMITER/QUOTE/ESCAPE/NULL from the user without cross-checks, so any
 * combination (delimiter = quote, newline as delimiter, ...) is reachable. */
static void copy_opts(copy_sink_t *c, int i, const char *first, size_t first_len)
{
    memset(&c->o, 0, sizeof c->o);
    switch (i) {
    case 0:
        c->o = (gate_copy_opts_t){.delim = '\t', .quote = '"', .escape = '"', .null_str = null_text};
        break;
    case 1:
        c->o =
            (gate_copy_opts_t){.csv = true, .delim = ',', .quote = '"', .escape = '"', .null_str = null_csv};
        break;
    case 2:
        c->o = (gate_copy_opts_t){
            .csv = true, .header = true, .delim = '|', .quote = '\'', .escape = '\\', .null_str = null_word};
        break;
    case 3:
        c->o = (gate_copy_opts_t){.delim = ',', .quote = '"', .escape = '"', .null_str = null_empty};
        break;
    default: {
        char k[5] = {'\t', '"', '"', '\\', 0};
        memcpy(k, first, first_len < 5 ? first_len : 5);
        null_fuzz[0] = k[3]; /* "" when the byte is NUL */
        c->o = (gate_copy_opts_t){.csv = k[4] & 1,
                                  .header = (k[4] & 2) != 0,
                                  .delim = k[0],
                                  .quote = k[1],
                                  .escape = k[2] ? k[2] : k[1],
                                  .null_str = null_fuzz};
        break;
    }
    }
}

#define NCOPY 5

static void copy_begin(copy_sink_t *cs, const char *first, size_t first_len)
{
    for (int i = 0; i < NCOPY; i++) {
        copy_opts(&cs[i], i, first, first_len);
        pgw_copy_parser_init(&cs[i].p, &cs[i].o);
        cs[i].failed = false;
    }
}

static void copy_end(copy_sink_t *cs, bool finish)
{
    for (int i = 0; i < NCOPY; i++) {
        if (finish && !cs[i].failed && !pgw_copy_finish(&cs[i].p, copy_row, NULL)) touch(cs[i].p.err, 1);
        pgw_copy_parser_free(&cs[i].p);
    }
}

static void copy_data(copy_sink_t *cs, const char *body, size_t len)
{
    for (int i = 0; i < NCOPY; i++) {
        if (cs[i].failed) continue; /* conn.c stops feeding after the first failure */
        if (!pgw_copy_feed(&cs[i].p, body, len, copy_row, NULL)) {
            cs[i].failed = true;
            INVARIANT(memchr(cs[i].p.err, '\0', sizeof cs[i].p.err) != NULL);
        }
    }
}

/* ---- one message ---- */

static void on_message(char type, const char *body, size_t len, buf_t *wb, copy_sink_t *cs, bool *in_copy)
{
    pgw_reader_t r;
    pgw_reader_init(&r, body, len);
    switch (type) {
    case 'Q':
        if (len == 0 || body[len - 1] != '\0') return; /* conn.c: "invalid query message" */
        lex_query(body);
        pgw_command_complete(wb, body);
        break;
    case 'P': {
        pgw_parse_msg_t m;
        if (!pgw_parse_parse(body, len, &m)) return;
        INVARIANT(m.nparams >= 0 && m.name >= body && m.query >= body);
        for (int i = 0; i < m.nparams; i++) sink += pgw_parse_param_oid(&m, i);
        lex_query(m.query);
        pgw_simple(wb, '1');
        break;
    }
    case 'B': {
        pgw_bind_msg_t m;
        if (!pgw_parse_bind(body, len, &m)) return;
        INVARIANT(m.nparams >= 0 && m.nformats >= 0 && m.nresult_formats >= 0);
        INVARIANT(m.params >= body && m.params + m.params_len <= body + len);
        for (int i = 0; i < m.nformats; i++) {
            int16_t f = pgw_bind_param_format(&m, i);
            INVARIANT(f == 0 || f == 1);
        }
        for (int i = 0; i < m.nresult_formats + 2; i++) {
            int16_t f = pgw_bind_result_format(&m, i);
            INVARIANT(f == 0 || f == 1);
        }
        size_t pos = 0;
        int seen = 0;
        const char *v;
        int32_t l;
        while (pgw_bind_next_param(&m, &pos, &v, &l)) {
            INVARIANT(pos <= m.params_len);
            if (l >= 0) {
                INVARIANT(v >= m.params && v + l <= m.params + m.params_len);
                touch(v, (size_t)l);
            } else {
                INVARIANT(v == NULL && l == -1);
            }
            seen++;
        }
        INVARIANT(seen == m.nparams && pos == m.params_len);
        pgw_simple(wb, '2');
        break;
    }
    case 'D':
    case 'C': {
        uint8_t kind = pgw_get_u8(&r);
        const char *name = pgw_get_cstr(&r);
        if (!pgw_reader_done(&r) || (kind != 'S' && kind != 'P')) return;
        touch(name, strlen(name));
        pgw_simple(wb, type == 'C' ? '3' : 'n');
        break;
    }
    case 'E': {
        const char *name = pgw_get_cstr(&r);
        int32_t max = pgw_get_i32(&r);
        if (!pgw_reader_done(&r)) return;
        touch(name, strlen(name));
        sink += (unsigned)max;
        pgw_command_complete(wb, name);
        break;
    }
    case 'p': { /* SASLInitialResponse / SASLResponse, as authenticate() reads it */
        const char *mech = pgw_get_cstr(&r);
        int32_t n = pgw_get_i32(&r);
        const char *data = n > 0 ? pgw_get_bytes(&r, (size_t)n) : NULL;
        if (r.err || !mech || !data) return;
        touch(data, (size_t)n);
        pgw_auth_sasl_continue(wb, data, (size_t)n);
        break;
    }
    case 'd':
        if (!*in_copy) {
            copy_begin(cs, body, len);
            *in_copy = true;
        }
        copy_data(cs, body, len);
        break;
    case 'c':
    case 'f':
        if (type == 'f') {
            const char *m = pgw_get_cstr(&r);
            if (m) touch(m, strlen(m));
        }
        if (*in_copy) {
            copy_end(cs, type == 'c');
            *in_copy = false;
        }
        break;
    default:
        break; /* S, H, F, unknown: no body parsing */
    }
}

/* ---- the stream ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t pos = 0;
    buf_t wb;
    buf_init(&wb, 256);

    /* Startup: up to two negotiation requests, then the real packet. */
    pgw_startup_t su;
    bool started = false;
    for (int round = 0; round < 3 && !started; round++) {
        size_t consumed = 0;
        pgw_status_t st = pgw_parse_startup(in + pos, size - pos, &su, &consumed);
        if (st != PGW_OK) goto out;
        INVARIANT(consumed >= 8 && consumed <= size - pos && consumed <= PGW_MAX_STARTUP);
        /* conn.c re-parses a private exact-size copy: strings must lie inside it */
        char *copy = dup_exact(in + pos, consumed);
        size_t again = 0;
        INVARIANT(pgw_parse_startup(copy, consumed, &su, &again) == PGW_OK && again == consumed);
        pos += consumed;
        switch (su.kind) {
        case PGW_STARTUP_SSL:
        case PGW_STARTUP_GSSENC:
            buf_putc(&wb, 'N');
            break;
        case PGW_STARTUP_CANCEL:
            free(copy);
            goto out;
        case PGW_STARTUP_NORMAL: {
            INVARIANT(su.nparams >= 0 && su.nparams <= PGW_MAX_STARTUP_PARAMS);
            const char *unrec[PGW_MAX_STARTUP_PARAMS];
            int nunrec = 0;
            for (int i = 0; i < su.nparams; i++) {
                INVARIANT(su.keys[i] >= copy && su.keys[i] < copy + consumed);
                INVARIANT(su.values[i] >= copy && su.values[i] < copy + consumed);
                if (strncmp(su.keys[i], "_pq_.", 5) == 0) unrec[nunrec++] = su.keys[i];
                pgw_parameter_status(&wb, su.keys[i], su.values[i]);
            }
            if ((su.version & 0xffff) != 0 || nunrec) pgw_negotiate_version(&wb, PGW_PROTO_30, nunrec, unrec);
            const char *user = pgw_startup_get(&su, "user");
            pgw_error_t e = {
                .severity = "FATAL", .sqlstate = "28000", .message = user, .detail = user, .position = 1};
            pgw_error_response(&wb, &e);
            started = true;
            break;
        }
        }
        free(copy);
    }
    if (!started) goto out;

    /* Typed messages until the stream ends, breaks, or says Terminate. */
    copy_sink_t cs[NCOPY];
    bool in_copy = false;
    for (;;) {
        char type;
        const char *body;
        size_t len, consumed;
        pgw_status_t st = pgw_frame(in + pos, size - pos, FUZZ_MAX_MSG, &type, &body, &len, &consumed);
        if (st != PGW_OK) break;
        INVARIANT(consumed == len + 5 && consumed <= size - pos && body == in + pos + 5);
        pos += consumed;
        if (type == 'X') break;
        char *own = dup_exact(body, len);
        on_message(type, own, len, &wb, cs, &in_copy);
        free(own);
        if (wb.len > (1u << 20)) wb.len = 0; /* the server flushes; keep memory flat */
    }
    if (in_copy) copy_end(cs, false); /* connection lost mid-COPY */

out:
    buf_free(&wb);
    return 0;
}
