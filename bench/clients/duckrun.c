/* duckrun — the same work as pgfetch, in-process on DuckDB's C API: the
 * anchor for "how fast is the engine itself" (bench/compare.py).
 *
 *   duckrun DBFILE setup FILE              runs FILE's statements
 *   duckrun DBFILE stream SQL              one streaming run: "rows=N seconds=S"
 *   duckrun DBFILE queries FILE RUNS       JSON lines as pgfetch's
 *   duckrun DBFILE version -               the engine's version
 *   duckrun DBFILE lookup SQL MAXKEY SECONDS THREADS
 *                                          B3's engine floor: THREADS
 *                                          connections run SQL ($1 a random
 *                                          key in 0..MAXKEY, bound as a
 *                                          number) for SECONDS: "lookups=N
 *                                          seconds=S"; then one connection
 *                                          runs it with a constant key (a plan
 *                                          DuckDB caches): "cached_us=U
 *                                          replanned_us=V"
 *
 * A streaming run fetches every chunk (duckdb_fetch_chunk); a query run
 * materializes the result. */
#include <duckdb.h>
#include <pthread.h>

#include "split.h"

static int fail(const char *what, duckdb_result *r)
{
    fprintf(stderr, "duckrun: %s: %s\n", what, duckdb_result_error(r));
    duckdb_destroy_result(r);
    return 1;
}

struct looker {
    duckdb_database db;
    const char *sql;
    long maxkey;
    double until;
    unsigned seed;
    long done;
    int rc;
};

static void *look(void *arg)
{
    struct looker *l = arg;
    duckdb_connection c;
    duckdb_prepared_statement ps;
    duckdb_result r;
    if (duckdb_connect(l->db, &c) != DuckDBSuccess || duckdb_prepare(c, l->sql, &ps) != DuckDBSuccess) {
        fprintf(stderr, "duckrun: lookup: cannot prepare %s\n", l->sql);
        l->rc = 1;
        return NULL;
    }
    while (now_s() < l->until) {
        for (int i = 0; i < 64; i++) {
            duckdb_bind_int64(ps, 1, (int64_t)(rand_r(&l->seed) % (l->maxkey + 1)));
            if (duckdb_execute_prepared(ps, &r) != DuckDBSuccess || duckdb_row_count(&r) != 1) {
                fprintf(stderr, "duckrun: lookup: %s\n", duckdb_result_error(&r));
                l->rc = 1;
                duckdb_destroy_result(&r);
                return NULL;
            }
            duckdb_destroy_result(&r);
            l->done++;
        }
    }
    duckdb_destroy_prepare(&ps);
    duckdb_disconnect(&c);
    return NULL;
}

/* Microseconds per run of a prepared statement (no parameter when key < 0). */
static double per_run(duckdb_connection c, const char *sql, long key, int runs)
{
    duckdb_prepared_statement ps;
    duckdb_result r;
    if (duckdb_prepare(c, sql, &ps) != DuckDBSuccess) return -1;
    double t0 = now_s();
    for (int i = 0; i < runs; i++) {
        if (key >= 0) duckdb_bind_int64(ps, 1, key);
        duckdb_execute_prepared(ps, &r);
        duckdb_destroy_result(&r);
    }
    double us = (now_s() - t0) / runs * 1e6;
    duckdb_destroy_prepare(&ps);
    return us;
}

static int lookup(duckdb_database db, duckdb_connection c, int argc, char **argv)
{
    if (argc < 7) return 2;
    const char *sql = argv[3], *param = strstr(sql, "$1");
    long maxkey = atol(argv[4]);
    int nt = atoi(argv[6]);
    if (!param || nt < 1 || nt > 64) return 2;
    struct looker ls[64];
    pthread_t th[64];
    double t0 = now_s(), until = t0 + atof(argv[5]);
    for (int i = 0; i < nt; i++) {
        ls[i] = (struct looker){db, sql, maxkey, until, 7919u * (unsigned)(i + 1), 0, 0};
        pthread_create(&th[i], NULL, look, &ls[i]);
    }
    long total = 0;
    int rc = 0;
    for (int i = 0; i < nt; i++) {
        pthread_join(th[i], NULL);
        total += ls[i].done;
        rc |= ls[i].rc;
    }
    double secs = now_s() - t0;
    /* the same lookup with its key written in: DuckDB keeps that plan */
    char *lit = malloc(strlen(sql) + 32);
    sprintf(lit, "%.*s%ld%s", (int)(param - sql), sql, maxkey / 2, param + 2);
    double cached = per_run(c, lit, -1, 2000), replanned = per_run(c, sql, maxkey / 2, 2000);
    free(lit);
    printf("lookups=%ld seconds=%.6f cached_us=%.1f replanned_us=%.1f\n", total, secs, cached, replanned);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: duckrun DBFILE setup FILE | stream SQL | queries FILE RUNS\n");
        return 2;
    }
    duckdb_database db;
    duckdb_connection c;
    if (duckdb_open(argv[1], &db) != DuckDBSuccess || duckdb_connect(db, &c) != DuckDBSuccess) {
        fprintf(stderr, "duckrun: cannot open %s\n", argv[1]);
        return 1;
    }
    int rc = 0;
    duckdb_result r;
    if (!strcmp(argv[2], "version")) {
        printf("%s\n", duckdb_library_version());
    } else if (!strcmp(argv[2], "setup") || !strcmp(argv[2], "queries")) {
        int n = 0;
        char **qs = read_queries(argv[3], &n);
        if (!qs) {
            fprintf(stderr, "duckrun: cannot read %s\n", argv[3]);
            return 1;
        }
        int runs = argc > 4 ? atoi(argv[4]) : 1;
        bool timed = !strcmp(argv[2], "queries");
        for (int q = 0; q < n && rc == 0; q++) {
            if (timed) printf("{\"query\": %d, \"ms\": [", q + 1);
            idx_t rows = 0;
            for (int i = 0; i < (timed ? runs : 1); i++) {
                double t0 = now_s();
                if (duckdb_query(c, qs[q], &r) != DuckDBSuccess) {
                    rc = fail(qs[q], &r);
                    break;
                }
                rows = duckdb_row_count(&r);
                duckdb_destroy_result(&r);
                if (timed) printf("%s%.3f", i ? ", " : "", (now_s() - t0) * 1000);
            }
            if (timed) printf("], \"rows\": %llu}\n", (unsigned long long)rows);
            fflush(stdout);
        }
    } else if (!strcmp(argv[2], "stream")) {
        duckdb_prepared_statement ps;
        double t0 = now_s();
        if (duckdb_prepare(c, argv[3], &ps) != DuckDBSuccess) {
            fprintf(stderr, "duckrun: %s\n", duckdb_prepare_error(ps));
            return 1;
        }
        if (duckdb_execute_prepared_streaming(ps, &r) != DuckDBSuccess) return fail("stream", &r);
        unsigned long long rows = 0;
        for (;;) {
            duckdb_data_chunk ch = duckdb_fetch_chunk(r);
            if (!ch) break;
            rows += duckdb_data_chunk_get_size(ch);
            duckdb_destroy_data_chunk(&ch);
        }
        printf("rows=%llu seconds=%.6f\n", rows, now_s() - t0);
        duckdb_destroy_result(&r);
        duckdb_destroy_prepare(&ps);
    } else if (!strcmp(argv[2], "lookup")) {
        rc = lookup(db, c, argc, argv);
        if (rc == 2) fprintf(stderr, "usage: duckrun DBFILE lookup SQL MAXKEY SECONDS THREADS\n");
    } else {
        fprintf(stderr, "duckrun: unknown mode %s\n", argv[2]);
        rc = 2;
    }
    duckdb_disconnect(&c);
    duckdb_close(&db);
    return rc;
}
