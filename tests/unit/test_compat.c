/* test_compat.c — compat_rewrite on its own (literals, comments and quoted
 * identifiers untouched; each rewrite rule), then the shim on an in-memory
 * DuckDB with the objects the client corpus was captured against: every
 * statement of the .sql files in tests/corpus/client-queries must run through
 * compat_rewrite + duckdb_query, and the answers clients depend on are
 * spot-checked. SET/SHOW statements are counted but skipped (the gate
 * answers them itself). The corpus directory is $MADANG_CORPUS_DIR, else
 * tests/corpus/client-queries relative to the working directory. */
#include "check.h"
#include "gate/compat.h"
#include "gate/lex.h"
#include "gate/session.h"
#include "gate/protect.h"
#include "gate/sysviews.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A real engine and session: current_setting() and set_config() read the
 * calling session through the engine connection id. */
static server_t srv;
static sess_t *sess;
static duckdb_connection con;

/* ------------------------------------------------------------ rewrite */

static void check_rw(const char *in, const char *want)
{
    char *got = compat_rewrite(in);
    bool ok = strcmp(got, want) == 0;
    if (!ok) fprintf(stderr, "rewrite\n  in:   %s\n  got:  %s\n  want: %s\n", in, got, want);
    CHECK(ok);
    free(got);
}

static void test_rewrite(void)
{
    /* untouched: no trigger word, literals, comments, quoted identifiers */
    check_rw("select 1", "select 1");
    check_rw("select 'pg_catalog.pg_class', E'pg_catalog.\\'x', $$pg_catalog.x$$",
             "select 'pg_catalog.pg_class', E'pg_catalog.\\'x', $$pg_catalog.x$$");
    check_rw("select 1 -- from pg_catalog.pg_class\n", "select 1 -- from pg_catalog.pg_class\n");
    check_rw("/* pg_catalog.pg_class OPERATOR(pg_catalog.~) */ select \"pg_catalog.x\"",
             "/* pg_catalog.pg_class OPERATOR(pg_catalog.~) */ select \"pg_catalog.x\"");
    check_rw("select '{a}' , 'x'::regclass_like", "select '{a}' , 'x'::regclass_like");
    check_rw("select * from system.pg_catalog.pg_class", "select * from system.pg_catalog.pg_class");
    check_rw("select 'a' COLLATE \"C\"", "select 'a' COLLATE \"C\"");
    check_rw("select unterminated 'pg_catalog.", "select unterminated 'pg_catalog.");

    /* pg_catalog qualifiers */
    check_rw("SELECT * FROM pg_catalog.pg_class c", "SELECT * FROM pg_class c");
    check_rw("select PG_CATALOG . pg_get_userbyid(10), \"pg_catalog\".version()",
             "select pg_get_userbyid(10), version()");
    check_rw("select x::pg_catalog.int2[]", "select x::int2[]");

    /* OPERATOR() and COLLATE */
    check_rw("WHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' COLLATE pg_catalog.default\n  AND x",
             "WHERE c.relname ~ '^(orders)$'\n  AND x");
    check_rw("where a OPERATOR(pg_catalog.!~) b", "where a !~ b");
    check_rw("where a OPERATOR(=) b COLLATE \"default\"", "where a = b");
    check_rw("where a COLLATE pg_catalog.\"C\" = b", "where a COLLATE \"C\" = b");

    /* reg* casts */
    check_rw("d.classoid = 'pg_class'::regclass", "d.classoid = madang_regclass('pg_class')");
    check_rw("c.classoid = 'pg_catalog.pg_extension'::pg_catalog.regclass",
             "c.classoid = madang_regclass('pg_catalog.pg_extension')");
    check_rw("select 16405::regclass, 16405::regclass::text", "select 16405, madang_regclass_name(16405)");
    check_rw("SELECT c.oid::pg_catalog.regclass FROM t", "SELECT madang_regclass_name(c.oid) FROM t");
    check_rw("order by c.oid::pg_catalog.regclass::pg_catalog.text;",
             "order by madang_regclass_name(c.oid);");
    check_rw("select x::regclass::oid", "select x");
    check_rw("select (a + 1)::regclass", "select madang_regclass_name((a + 1))");
    check_rw("ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END",
             "ELSE format_type(c.reloftype, NULL) END");
    check_rw("select case when x then 1 end::regtype", "select format_type(case when x then 1 end, NULL)");
    check_rw("select 'int4'::regtype", "select madang_regtype('int4')");
    check_rw("stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp",
             "madang_nspname(stxnamespace) AS nsp");
    check_rw("select 'pg_catalog.now'::regproc", "select madang_regproc('pg_catalog.now')");
    check_rw("select f(a.b)::regclass", "select madang_regclass_name(f(a.b))");

    /* array literals */
    check_rw("where w <> ALL ('{a,\"null\",b}'::text[])", "where w <> ALL ('[a,\"null\",b]'::text[])");
    check_rw("select '{}'::pg_catalog.int2[]", "select '[]'::int2[]");
    check_rw("select '{\"{x}\"}'::text[]", "select '[\"{x}\"]'::text[]");
    check_rw("where pol.polroles = '{0}'", "where pol.polroles = '{0}'");
    check_rw("select '{a,b}'::character varying[]", "select '[a,b]'::character varying[]");

    /* _pg_expandarray, set-returning function aliases */
    check_rw("(information_schema._pg_expandarray(i.indkey)).n", "(_pg_expandarray(i.indkey)).n");
    check_rw("FROM pg_catalog.generate_series(0, 3) s,\n pg_attribute",
             "FROM generate_series(0, 3) s(s),\n pg_attribute");
    check_rw("select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x)",
             "select 'toast.' || x from unnest(tc.reloptions) x(x))");
    check_rw("FROM t, generate_series(1, 32) AS pos(n)", "FROM t, generate_series(1, 32) AS pos(n)");
    check_rw("FROM t JOIN generate_series(1, 3) AS g ON true",
             "FROM t JOIN generate_series(1, 3) AS g(g) ON true");
    check_rw("SELECT a, unnest(x) u FROM t", "SELECT a, unnest(x) u FROM t");
    check_rw("FROM generate_series(1, 3) WHERE true", "FROM generate_series(1, 3) WHERE true");
}

/* ------------------------------------------------------------ DuckDB */

static bool exec_ok(const char *sql)
{
    duckdb_result r;
    bool ok = duckdb_query(con, sql, &r) == DuckDBSuccess;
    if (!ok) fprintf(stderr, "SQL failed: %s\n  %s\n", sql, duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return ok;
}

/* Runs rewritten SQL; *res must be destroyed by the caller on success. */
static bool query(const char *sql, duckdb_result *res)
{
    char *rw = compat_rewrite(sql);
    bool ok = duckdb_query(con, rw, res) == DuckDBSuccess;
    if (!ok) {
        fprintf(stderr, "query failed: %s\n  %.300s\n", duckdb_result_error(res), rw);
        duckdb_destroy_result(res);
    }
    free(rw);
    return ok;
}

/* First column of the first row as a heap string; NULL on error or SQL NULL. */
static char *scalar(const char *sql)
{
    duckdb_result r;
    if (!query(sql, &r)) return NULL;
    char *v = NULL;
    if (duckdb_row_count(&r) > 0 && !duckdb_value_is_null(&r, 0, 0)) {
        char *d = duckdb_value_varchar(&r, 0, 0);
        v = xstrdup(d);
        duckdb_free(d);
    }
    duckdb_destroy_result(&r);
    return v;
}

static bool str_eq(char *got, const char *want)
{
    bool ok = got && strcmp(got, want) == 0;
    if (!ok) fprintf(stderr, "  got %s, want %s\n", got ? got : "(null)", want);
    free(got);
    return ok;
}

/* s with every occurrence of from replaced by to. Heap string. */
static char *replace_all(const char *s, const char *from, const char *to)
{
    buf_t b;
    buf_init(&b, strlen(s) + 16);
    size_t fl = strlen(from);
    for (const char *p = s;;) {
        const char *q = strstr(p, from);
        if (!q) {
            buf_append_str(&b, p);
            break;
        }
        buf_append(&b, p, (size_t)(q - p));
        buf_append_str(&b, to);
        p = q + fl;
    }
    buf_cstr(&b);
    return b.data;
}

static const char *corpus_dir(void)
{
    const char *d = getenv("MADANG_CORPUS_DIR");
    return d && *d ? d : "tests/corpus/client-queries";
}

/* The client corpus, split into statements (oid/parameter substitution done). */
typedef struct {
    char **sql;
    char **file; /* points into names */
    size_t n;
    char *names[64];
    size_t nnames;
} corpus_t;

/* The first corpus statement containing m1 and m2 (if not NULL) but not
 * not_m (if not NULL). */
static const char *find_stmt(const corpus_t *c, const char *m1, const char *m2, const char *not_m)
{
    for (size_t i = 0; i < c->n; i++)
        if (strstr(c->sql[i], m1) && (!m2 || strstr(c->sql[i], m2)) && (!not_m || !strstr(c->sql[i], not_m)))
            return c->sql[i];
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads every *.sql file of the corpus directory and splits it into
 * statements. Lines starting with "--" are the capture's labels. The oid
 * psql saw for sales.orders (16405) becomes this database's, $1 becomes 42. */
static void load_corpus(corpus_t *c, const char *orders_oid)
{
    memset(c, 0, sizeof *c);
    DIR *d = opendir(corpus_dir());
    if (!d) {
        fprintf(stderr, "cannot open corpus dir %s (set MADANG_CORPUS_DIR)\n", corpus_dir());
        return;
    }
    char **names = c->names;
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < ARRAY_LEN(c->names)) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".sql") == 0) names[nn++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    c->nnames = nn;
    size_t cap = 128;
    c->sql = xmalloc(cap * sizeof *c->sql);
    c->file = xmalloc(cap * sizeof *c->file);
    for (size_t f = 0; f < nn; f++) {
        char *path = xasprintf("%s/%s", corpus_dir(), names[f]);
        char *text = read_file(path, NULL);
        free(path);
        if (!text) continue;
        buf_t body;
        buf_init(&body, strlen(text) + 1);
        for (char *line = text; *line;) {
            char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
            if (!(len >= 2 && line[0] == '-' && line[1] == '-')) buf_append(&body, line, len);
            line += len;
        }
        buf_cstr(&body);
        free(text);
        lex_range_t *rg;
        int k = lex_split(body.data, &rg);
        CHECK(k > 0);
        for (int i = 0; i < k; i++) {
            if (rg[i].is_empty) continue;
            char *raw = xstrndup(body.data + rg[i].start, rg[i].len);
            char *a = replace_all(raw, "16405", orders_oid);
            char *b = replace_all(a, "$1", "42");
            free(raw);
            free(a);
            if (c->n == cap) {
                cap *= 2;
                c->sql = xrealloc(c->sql, cap * sizeof *c->sql);
                c->file = xrealloc(c->file, cap * sizeof *c->file);
            }
            c->sql[c->n] = b;
            c->file[c->n] = names[f];
            c->n++;
        }
        free(rg);
        buf_free(&body);
    }
}

static bool first_word_is(const char *sql, const char *w)
{
    lex_t l;
    lex_init(&l, sql, strlen(sql));
    lex_tok_t t = lex_next(&l);
    return lex_is(&t, w);
}

static void test_corpus(const corpus_t *c)
{
    int ran = 0, ok = 0, skipped = 0;
    for (size_t i = 0; i < c->n; i++) {
        const char *sql = c->sql[i];
        if (first_word_is(sql, "set") || first_word_is(sql, "show")) {
            skipped++;
            continue;
        }
        ran++;
        duckdb_result r;
        bool good = query(sql, &r);
        if (good) {
            ok++;
            duckdb_destroy_result(&r);
            /* the client would end its transaction before the next BEGIN */
            if (first_word_is(sql, "begin")) CHECK(exec_ok("COMMIT"));
        } else {
            fprintf(stderr, "  corpus statement #%zu of %s failed\n", i + 1, c->file[i]);
        }
        CHECK(good);
    }
    printf("corpus: %zu statements, %d run, %d ok, %d SET/SHOW skipped\n", c->n, ran, ok, skipped);
    CHECK(ran >= 50);
    CHECK(skipped == 6);
}

static void test_spot_checks(const corpus_t *c, const char *orders_oid)
{
    duckdb_result r;

    /* psql \d sales.orders: the columns query */
    const char *cols = find_stmt(c, "format_type(a.atttypid, a.atttypmod)", "a.attgenerated\n", "attstorage");
    CHECK(cols != NULL);
    if (cols && query(cols, &r)) {
        static const char *const names[] = {"id", "customer_id", "amount", "created_at"};
        static const char *const types[] = {"bigint", "integer", "numeric(12,2)",
                                            "timestamp without time zone"};
        CHECK(duckdb_row_count(&r) == 4);
        for (idx_t i = 0; i < duckdb_row_count(&r) && i < 4; i++) {
            char *n = duckdb_value_varchar(&r, 0, i), *t = duckdb_value_varchar(&r, 1, i);
            bool good = n && t && strcmp(n, names[i]) == 0 && strcmp(t, types[i]) == 0;
            if (!good) fprintf(stderr, "  \\d column %llu: %s %s\n", (unsigned long long)i, n, t);
            CHECK(good);
            duckdb_free(n);
            duckdb_free(t);
        }
        duckdb_destroy_result(&r);
    }

    /* psql \dt sales.*: tables only */
    const char *dt = find_stmt(c, "'^(sales)$'", "c.relkind IN ('r','p','t','s','')", NULL);
    CHECK(dt != NULL);
    if (dt && query(dt, &r)) {
        bool customers = false, orders = false, view = false;
        for (idx_t i = 0; i < duckdb_row_count(&r); i++) {
            char *n = duckdb_value_varchar(&r, 1, i);
            customers |= n && strcmp(n, "customers") == 0;
            orders |= n && strcmp(n, "orders") == 0;
            view |= n && strcmp(n, "v_big") == 0;
            duckdb_free(n);
        }
        CHECK(customers && orders && !view);
        CHECK(duckdb_row_count(&r) == 2);
        duckdb_destroy_result(&r);
    }

    /* pgjdbc getPrimaryKeys */
    const char *pk = find_stmt(c, "i.indisprimary", "AS KEY_SEQ", NULL);
    CHECK(pk != NULL);
    if (pk && query(pk, &r)) {
        CHECK(duckdb_row_count(&r) == 1);
        if (duckdb_row_count(&r) == 1) {
            char *col = duckdb_value_varchar(&r, 3, 0), *seq = duckdb_value_varchar(&r, 4, 0);
            CHECK(col && strcmp(col, "id") == 0);
            CHECK(seq && strcmp(seq, "1") == 0);
            duckdb_free(col);
            duckdb_free(seq);
        }
        duckdb_destroy_result(&r);
    }

    /* pgjdbc getTables: the table comment is REMARKS */
    const char *tables = find_stmt(c, "AS REMARKS", "n.nspname LIKE 'sales'", NULL);
    CHECK(tables != NULL);
    if (tables && query(tables, &r)) {
        bool remark = false;
        for (idx_t i = 0; i < duckdb_row_count(&r); i++) {
            char *n = duckdb_value_varchar(&r, 2, i), *d = duckdb_value_varchar(&r, 4, i);
            remark |= n && d && strcmp(n, "orders") == 0 && strcmp(d, "all orders") == 0;
            duckdb_free(n);
            duckdb_free(d);
        }
        CHECK(remark);
        duckdb_destroy_result(&r);
    }

    /* session values */
    char *v = scalar("select version()");
    CHECK(v && strncmp(v, "PostgreSQL 15.", 14) == 0 && strstr(v, "madang") && strstr(v, "DuckDB"));
    free(v);
    CHECK(str_eq(scalar("select current_user"), "o'neil"));
    CHECK(str_eq(scalar("select session_user"), "o'neil"));
    CHECK(str_eq(scalar("select pg_catalog.current_user()"), "o'neil"));
    CHECK(str_eq(scalar("select user"), "o'neil"));
    CHECK(str_eq(scalar("select pg_backend_pid()"), "4242"));
    CHECK(str_eq(scalar("select pg_catalog.pg_get_userbyid(10)"), "admin"));
    CHECK(str_eq(scalar("select current_setting('server_version')"), "15.8"));
    CHECK(str_eq(scalar("select current_setting('server_version_num')"), "150008"));
    CHECK(str_eq(scalar("select current_setting('is_superuser')"), "on"));
    CHECK(str_eq(scalar("select rolsuper::varchar from pg_roles where rolname = current_user"), "true"));
    CHECK(str_eq(scalar("select count(*) from pg_catalog.pg_roles"), "2"));
    CHECK(str_eq(scalar("select current_schema()"), "main"));
    CHECK(str_eq(scalar("select 'pg_catalog' ~ '^pg_'"), "true"));

    /* VARCHAR is text (25) in the catalog, as on the wire */
    CHECK(str_eq(
        scalar("select a.atttypid from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = "
               "a.attrelid where c.relname = 'customers' and a.attname = 'name'"),
        "25"));
    CHECK(str_eq(
        scalar("select pg_catalog.format_type(a.atttypid, a.atttypmod) from pg_attribute a join pg_class "
               "c on c.oid = a.attrelid where c.relname = 'customers' and a.attname = 'email'"),
        "text"));
    CHECK(str_eq(
        scalar("select t.typname from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_type t "
               "on t.oid = a.atttypid where c.relname = 'customers' and a.attname = 'country'"),
        "text"));

    /* reg* casts and settings */
    char *q = xasprintf("select 'sales.orders'::regclass = %s", orders_oid);
    CHECK(str_eq(scalar(q), "true"));
    free(q);
    q = xasprintf("select %s::pg_catalog.regclass::pg_catalog.text", orders_oid);
    CHECK(str_eq(scalar(q), "sales.orders"));
    free(q);
    CHECK(str_eq(scalar("select 23::regtype::text"), "integer"));
    char e2[128];
    CHECK(sess_set(sess, "application_name", "psql", false, e2, sizeof e2) == SESS_SET_OK);
    CHECK(str_eq(scalar("select current_setting('application_name')"), "psql"));
    CHECK(str_eq(scalar("select set_config('application_name', 'via set_config', false)"), "via set_config"));
    CHECK(strcmp(sess_get(sess, "application_name"), "via set_config") == 0);
    CHECK(compat_set_setting(con, "application_name", "it's"));
    CHECK(
        str_eq(scalar("select setting from pg_catalog.pg_settings where name = 'application_name'"), "it's"));
}

/* Per-connection cost: the script as one duckdb_query (what compat_install
 * does), averaged over fresh connections. */
static void time_install(void)
{
    char err[512];
    enum { N = 10 };
    double total = 0;
    for (int i = 0; i < N; i++) {
        duckdb_connection c2 = eng_connect(srv.eng);
        CHECK(c2 != NULL);
        int64_t t0 = now_us();
        bool ok = compat_install(c2, "bob", true, 77, err, sizeof err);
        total += (double)(now_us() - t0) / 1000.0;
        CHECK(ok);
        duckdb_disconnect(&c2);
    }
    printf("compat_install: %.1f ms per connection (mean of %d)\n", total / N, N);
}

int main(void)
{
    test_rewrite();

    char err[512];
    srv.eng = eng_open(NULL, "/tmp", err, sizeof err);
    CHECK(srv.eng != NULL);
    if (!srv.eng) return check_summary();
    sess = sess_create(&srv, "o'neil", true, "", "test");
    CHECK(sess != NULL);
    con = sess->conn;
    CHECK(sysviews_install(&srv, con, err, sizeof err));
    CHECK(protect_setup_engine(NULL, con, err, sizeof err));
    sess_register(sess);
    CHECK(exec_ok("CREATE SCHEMA sales"));
    CHECK(exec_ok("CREATE TABLE sales.customers(id integer primary key, name varchar, email varchar, country "
                  "varchar)"));
    CHECK(
        exec_ok("CREATE TABLE sales.orders(id bigint primary key, customer_id integer, amount decimal(12,2), "
                "created_at timestamp)"));
    CHECK(exec_ok("CREATE VIEW sales.v_big AS SELECT * FROM sales.orders WHERE amount > 100"));
    CHECK(exec_ok("COMMENT ON TABLE sales.orders IS 'all orders'"));

    bool installed = compat_install(con, "o'neil", true, 4242, err, sizeof err);
    if (!installed) fprintf(stderr, "%s\n", err);
    CHECK(installed);
    /* running it twice on one connection is harmless */
    CHECK(compat_install(con, "o'neil", true, 4242, err, sizeof err));
    if (!installed) return check_summary();

    char *orders_oid =
        scalar("select c.oid from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = "
               "c.relnamespace where n.nspname = 'sales' and c.relname = 'orders'");
    CHECK(orders_oid != NULL);
    if (!orders_oid) return check_summary();

    corpus_t corpus;
    load_corpus(&corpus, orders_oid);
    CHECK(corpus.n > 0);
    test_corpus(&corpus);
    test_spot_checks(&corpus, orders_oid);
    time_install();

    for (size_t i = 0; i < corpus.n; i++) free(corpus.sql[i]);
    free(corpus.sql);
    free(corpus.file);
    for (size_t i = 0; i < corpus.nnames; i++) free(corpus.names[i]);
    free(orders_oid);
    sess_destroy(sess); /* closes con */
    eng_close(srv.eng);
    return check_summary();
}
