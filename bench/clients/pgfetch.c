/* pgfetch — the small libpq client of the benchmarks (bench/compare.py).
 *
 *   pgfetch CONNINFO stream text|binary SQL   one run: "rows=N seconds=S"
 *   pgfetch CONNINFO queries FILE RUNS        each query of FILE (statements
 *       end with ";" at the end of a line) RUNS times: one JSON line per query
 *       {"query": i, "rows": n, "ms": [..]}
 *
 * Every result is fetched whole (PQgetResult), as psql does; the time runs
 * from sending the query to the last row received.
 *
 * A whole B1 result is hundreds of MB of PGresult. glibc's malloc grows the
 * heap 128 KB at a time (brk) and gives the top back when freed: the client
 * spent most of a B1 run in the kernel growing its heap (83 000 brk calls
 * for 2 M rows) and was the bottleneck of the measurement, the same for
 * PostgreSQL and madang. So it grows the heap 64 MB at a time and keeps it. */
#include <libpq-fe.h>
#include <malloc.h>

#include "split.h"

/* Runs sql; returns rows, or -1 after printing the error. */
static long run(PGconn *c, const char *sql, int format)
{
    if (!PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, format)) {
        fprintf(stderr, "pgfetch: %s", PQerrorMessage(c));
        return -1;
    }
    long rows = 0;
    int failed = 0;
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK)
            rows += PQntuples(r);
        else if (st != PGRES_COMMAND_OK) {
            fprintf(stderr, "pgfetch: %s", PQresultErrorMessage(r));
            failed = 1;
        }
        PQclear(r);
    }
    return failed ? -1 : rows;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: pgfetch CONNINFO stream text|binary SQL | pgfetch CONNINFO queries FILE RUNS\n");
        return 2;
    }
    mallopt(M_TOP_PAD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    PGconn *c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pgfetch: %s", PQerrorMessage(c));
        return 1;
    }
    int rc = 0;
    if (!strcmp(argv[2], "stream")) {
        int format = !strcmp(argv[3], "binary");
        double t0 = now_s();
        long rows = run(c, argv[4], format);
        double t = now_s() - t0;
        if (rows < 0) rc = 1;
        else printf("rows=%ld seconds=%.6f\n", rows, t);
    } else if (!strcmp(argv[2], "queries")) {
        int n = 0, runs = atoi(argv[4]);
        char **qs = read_queries(argv[3], &n);
        if (!qs) {
            fprintf(stderr, "pgfetch: cannot read %s\n", argv[3]);
            return 1;
        }
        for (int q = 0; q < n && rc == 0; q++) {
            printf("{\"query\": %d, \"ms\": [", q + 1);
            long rows = 0;
            for (int i = 0; i < runs; i++) {
                double t0 = now_s();
                rows = run(c, qs[q], 0);
                if (rows < 0) {
                    rc = 1;
                    break;
                }
                printf("%s%.3f", i ? ", " : "", (now_s() - t0) * 1000);
            }
            printf("], \"rows\": %ld}\n", rows);
            fflush(stdout);
        }
    } else {
        fprintf(stderr, "pgfetch: unknown mode %s\n", argv[2]);
        rc = 2;
    }
    PQfinish(c);
    return rc;
}
