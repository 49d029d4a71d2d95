/* duckrun — the same work as pgfetch, in-process on DuckDB's C API: the
 * anchor for "how fast is the engine itself" (bench/compare.py).
 *
 *   duckrun DBFILE setup FILE              runs FILE's statements
 *   duckrun DBFILE stream SQL              one streaming run: "rows=N seconds=S"
 *   duckrun DBFILE queries FILE RUNS       JSON lines as pgfetch's
 *   duckrun DBFILE version -               the engine's version
 *
 * A streaming run fetches every chunk (duckdb_fetch_chunk); a query run
 * materializes the result. */
#include <duckdb.h>

#include "split.h"

static int fail(const char *what, duckdb_result *r)
{
    fprintf(stderr, "duckrun: %s: %s\n", what, duckdb_result_error(r));
    duckdb_destroy_result(r);
    return 1;
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
    } else {
        fprintf(stderr, "duckrun: unknown mode %s\n", argv[2]);
        rc = 2;
    }
    duckdb_disconnect(&c);
    duckdb_close(&db);
    return rc;
}
