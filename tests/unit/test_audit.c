/* test_audit.c — the audit writer's own JSON (audit/record.c) against
 * jansson, whose canonical dump `madang audit verify` checks every line
 * with: every byte value and UTF-8 edge case escaped the same way, bytes
 * that are not UTF-8 replaced so the line still loads, members in key
 * order; the line reader gives back every member; and records appended by
 * the writer (many threads at once, across segment rotations) form the
 * chain verify accepts. */
#include "check.h"
#include "audit/audit.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* s (n bytes) escaped by audit_json_string and by jansson, compared. */
static bool same_as_jansson(const char *s, size_t n)
{
    buf_t b;
    buf_init(&b, 16);
    audit_json_string(&b, s, n);
    json_t *j = json_stringn(s, n);
    char *want = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    bool ok = want && b.len == strlen(want) && !memcmp(b.data, want, b.len);
    if (!ok)
        fprintf(stderr, "escape differs: got %.*s want %s\n", (int)b.len, b.data, want ? want : "(null)");
    free(want);
    json_decref(j);
    buf_free(&b);
    return ok;
}

/* What audit_json_string makes of s must load (as jansson loads a line). */
static json_t *load_escaped(const char *s, size_t n)
{
    buf_t b;
    buf_init(&b, 16);
    audit_json_string(&b, s, n);
    json_error_t je;
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY, &je);
    buf_free(&b);
    return v;
}

static void test_escaping(void)
{
    /* every single byte below 0x80, alone and inside text */
    for (int c = 1; c < 0x80; c++) {
        char one[1] = {(char)c}, mid[5] = {'a', 'b', (char)c, 'd', 'e'};
        CHECK(same_as_jansson(one, 1));
        CHECK(same_as_jansson(mid, 5));
    }
    const char *utf8[] = {"",
                          "plain ascii",
                          "caf\xc3\xa9",
                          "\xe2\x82\xac 5",
                          "\xf0\x9f\x98\x80 smile",
                          "\xed\x9f\xbf", /* U+D7FF, just below the surrogates */
                          "\xee\x80\x80",
                          "\xf4\x8f\xbf\xbf", /* U+10FFFF */
                          "quote \" backslash \\ slash / tab \t nl \n cr \r bell \a del \x7f",
                          "SELECT * FROM t WHERE name = 'x' -- \xea\xb0\x80\xeb\x82\x98"};
    for (size_t i = 0; i < ARRAY_LEN(utf8); i++) CHECK(same_as_jansson(utf8[i], strlen(utf8[i])));
    /* not UTF-8: each bad byte becomes U+FFFD and the string still loads */
    const char *bad[] = {"\x80",         "a\xffz",           "\xc0\xaf",         "\xc3",          "\xe2\x82",
                         "\xed\xa0\x80", "\xf5\x80\x80\x80", "\xf4\x90\x80\x80", "ok \xc3\x28 ok"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        json_t *v = load_escaped(bad[i], strlen(bad[i]));
        CHECK(v && json_is_string(v) && strstr(json_string_value(v), "\xef\xbf\xbd"));
        json_decref(v);
    }
    json_t *v = load_escaped("ok \xc3\x28 ok", 8);
    CHECK(v && !strcmp(json_string_value(v), "ok \xef\xbf\xbd( ok"));
    json_decref(v);
    /* unquoting gives back what was escaped */
    for (size_t i = 0; i < ARRAY_LEN(utf8); i++) {
        buf_t b;
        buf_init(&b, 16);
        audit_json_string(&b, utf8[i], strlen(utf8[i]));
        char *back = audit_json_unquote(b.data, b.len);
        CHECK(back && !strcmp(back, utf8[i]));
        free(back);
        buf_free(&b);
    }
    const char *q = "\"\\ud83d\\ude00 \\u00e9\\/\"";
    char *sur = audit_json_unquote(q, strlen(q));
    CHECK(sur && !strcmp(sur, "\xf0\x9f\x98\x80 \xc3\xa9/"));
    free(sur);
    CHECK(audit_json_unquote("\"\\x\"", 4) == NULL);
    CHECK(audit_json_unquote("\"\\u00", 5) == NULL);
    CHECK(audit_json_unquote("nope", 4) == NULL);
}

typedef struct {
    int n;
    char key[40][32];
    char val[40][256];
} members_t;

static void collect(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
    members_t *m = ctx;
    if (m->n >= 40 || kn >= 32 || vn >= 256) return;
    memcpy(m->key[m->n], k, kn);
    m->key[m->n][kn] = 0;
    memcpy(m->val[m->n], v, vn);
    m->val[m->n][vn] = 0;
    m->n++;
}

static void test_records(void)
{
    /* a record built out of order is sorted like JSON_SORT_KEYS; a key set twice keeps its last value */
    audit_rec_t r;
    audit_rec_init(&r);
    audit_rec_str(&r, "zeta", "last");
    audit_rec_int(&r, "alpha", -42);
    audit_rec_bool(&r, "mid", true);
    json_t *arr =
        json_loads("[{\"object\":\"main.t\",\"access\":\"select\",\"columns\":[\"b\",\"a\"]}]", 0, NULL);
    audit_rec_json(&r, "objects", arr);
    audit_rec_str(&r, "alpha2", "x");
    audit_rec_str(&r, "Alpha", "upper sorts first");
    audit_rec_str(&r, "zeta", "again");
    audit_rec_sort(&r);
    CHECK(r.n == 6);
    buf_t line;
    buf_init(&line, 64);
    buf_putc(&line, '{');
    for (int i = 0; i < r.n; i++) {
        buf_printf(&line, "%s\"%s\":", i ? "," : "", r.m[i].key);
        buf_append(&line, r.text.data + r.m[i].off, r.m[i].len);
    }
    buf_putc(&line, '}');
    json_error_t je;
    json_t *j = json_loadb(line.data, line.len, JSON_REJECT_DUPLICATES, &je);
    CHECK(j != NULL);
    char *again = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    CHECK(again && strlen(again) == line.len && !memcmp(again, line.data, line.len));
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "zeta")), "again"));
    free(again);
    json_decref(j);
    /* the line reader gives every member back, nested values whole */
    members_t m = {0};
    CHECK(audit_line_members(line.data, line.len, collect, &m));
    CHECK(m.n == 6);
    CHECK(!strcmp(m.key[0], "Alpha") && !strcmp(m.key[5], "zeta"));
    CHECK(!strcmp(m.val[1], "-42"));
    CHECK(!strcmp(m.val[4], "[{\"access\":\"select\",\"columns\":[\"b\",\"a\"],\"object\":\"main.t\"}]"));
    members_t none = {0};
    CHECK(!audit_line_members("[1,2]", 5, collect, &none));
    CHECK(!audit_line_members("{\"a\":1,}", 8, collect, &none));
    CHECK(!audit_line_members("{\"a\" 1}", 7, collect, &none));
    json_decref(arr);
    buf_free(&line);
    audit_rec_free(&r);
}

/* ---- the writer: many threads, small segments, then verify ---- */

static audit_t *g_audit;

static int g_writer_failures[8]; /* CHECK's counters are not for threads: each writer counts its own */

static void *writer(void *arg)
{
    long id = (long)arg;
    audit_rec_t r;
    audit_rec_init(&r);
    for (int i = 0; i < 400; i++) {
        r.text.len = 0;
        r.n = 0;
        audit_rec_int(&r, "session_id", id);
        audit_rec_str(&r, "statement", i % 7 ? "SELECT 1" : "SELECT 'caf\xc3\xa9 \"q\" \xff'");
        audit_rec_str(&r, "decision", "allowed");
        uint64_t seq = audit_append(g_audit, "statement", &r, false);
        g_writer_failures[id] += seq == 0;
        r.text.len = 0;
        r.n = 0;
        audit_rec_int(&r, "statement_seq", (int64_t)seq);
        audit_rec_int(&r, "rows", i);
        uint64_t c = audit_append(g_audit, "completion", &r, false);
        if (i % 5 == 0) g_writer_failures[id] += !audit_sync(g_audit, c);
    }
    audit_rec_free(&r);
    return NULL;
}

static void test_writer(void)
{
    char dir[] = "/tmp/madang-audit-unit-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char err[256];
    g_audit = audit_open(dir, err, sizeof err);
    CHECK(g_audit != NULL);
    if (!g_audit) return;
    audit_set_limits(g_audit, 0, 64 * 1024); /* rotations while eight threads write */
    pthread_t t[8];
    for (long i = 0; i < 8; i++) pthread_create(&t[i], NULL, writer, (void *)i);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        CHECK(g_writer_failures[i] == 0);
    }
    audit_close(g_audit);
    char *argv[] = {"audit", "verify", "--data", dir};
    CHECK(audit_main(4, argv) == 0);
    /* segments are whole lines and more than one was written */
    char *p = xasprintf("%s/audit/segment-000003.jsonl", dir);
    struct stat st;
    CHECK(stat(p, &st) == 0 && st.st_size > 0);
    free(p);
    char *rm = xasprintf("rm -rf '%s'", dir);
    CHECK(system(rm) == 0);
    free(rm);
}

/* Secrets never reach a record: every spelling of PASSWORD's literal, a
 * CREATE SECRET's literals, connection strings, token secrets; the rest of
 * the text is kept byte for byte. */
static void redacts(const char *in, const char *want)
{
    char *got = audit_redact(in);
    if (strcmp(got, want) != 0) fprintf(stderr, "redact: %s\n   got: %s\n  want: %s\n", in, got, want);
    CHECK(!strcmp(got, want));
    free(got);
}

static void test_redact(void)
{
    redacts("CREATE USER a PASSWORD 'pw1'", "CREATE USER a PASSWORD '***'");
    redacts("create user a with password 'it''s'", "create user a with password '***'");
    redacts("ALTER USER a PASSWORD E'x\\'y'", "ALTER USER a PASSWORD '***'");
    redacts("CREATE USER s2 WITH PASSWORD $$SecretDollar02$$", "CREATE USER s2 WITH PASSWORD '***'");
    redacts("CREATE USER s3 WITH PASSWORD $tag$Secret$Tag03$tag$ LOGIN",
            "CREATE USER s3 WITH PASSWORD '***' LOGIN");
    redacts("CREATE USER s9 PASSWORD/*c*/'SecretComment09'", "CREATE USER s9 PASSWORD/*c*/'***'");
    redacts("CREATE USER s9 PASSWORD -- c\n 'SecretComment10'", "CREATE USER s9 PASSWORD -- c\n '***'");
    redacts("CREATE USER s14 WITH PASSWORD U&'SecretUnicode14'", "CREATE USER s14 WITH PASSWORD '***'");
    redacts("CREATE USER s15 PASSWORD\n\t'Secret15'; CREATE USER s16 PASSWORD 'Secret16'",
            "CREATE USER s15 PASSWORD\n\t'***'; CREATE USER s16 PASSWORD '***'");
    redacts("CREATE USER s17 PASSWORD 'unterminated", "CREATE USER s17 PASSWORD '***'");
    redacts("ALTER USER s18 ENCRYPTED PASSWORD 'Secret18'", "ALTER USER s18 ENCRYPTED PASSWORD '***'");
    /* not a password: kept */
    redacts("SELECT 'password' AS password, 'x' FROM t", "SELECT 'password' AS password, 'x' FROM t");
    redacts("SELECT password FROM t WHERE note = 'PASSWORD'",
            "SELECT password FROM t WHERE note = 'PASSWORD'");
    /* CREATE SECRET: every literal */
    redacts("CREATE SECRET s (TYPE s3, KEY_ID 'AKIA1', SECRET 'wJalr')",
            "CREATE SECRET s (TYPE s3, KEY_ID '***', SECRET '***')");
    redacts("CREATE OR REPLACE PERSISTENT SECRET s (TYPE s3, SECRET $$x$$); SELECT 'kept'",
            "CREATE OR REPLACE PERSISTENT SECRET s (TYPE s3, SECRET '***'); SELECT 'kept'");
    /* connection strings */
    redacts("ATTACH 'host=db password=hunter2 user=x' AS pg (TYPE postgres)",
            "ATTACH '***' AS pg (TYPE postgres)");
    redacts("ATTACH 'postgres://u:SecretUri@h/db' AS p (TYPE postgres)", "ATTACH '***' AS p (TYPE postgres)");
    redacts("SELECT 'https://example.org/a:b@c'", "SELECT 'https://example.org/a:b@c'");
    redacts("CREATE USER x PASSWORD 'Secr'\n'etCont01' LOGIN", "CREATE USER x PASSWORD '***'\n'***' LOGIN");
    redacts("CREATE USER x PASSWORD \"SecretIdent35\"", "CREATE USER x PASSWORD '***'");
    /* token secrets, anywhere outside what is cut */
    redacts("SELECT 'mdt_0123456789abcdef0123456789' AS t", "SELECT 'mdt_***' AS t");
    redacts("select 1 -- mdt_0123456789abcdef0123456789abcdef", "select 1 -- mdt_***");
    redacts("SELECT 'mdt_short'", "SELECT 'mdt_short'");
}

int main(void)
{
    test_redact();
    test_escaping();
    test_records();
    test_writer();
    return check_summary();
}
