"""Issue 4, acceptance 3: the gate's added latency per statement.

The same statement runs through madang as a superuser (the gate classifies
and executes; authorization is skipped for superusers) and as a user whose
rights come from grants (the gate also reads the engine's plan and checks
every table and column). Each run re-sends the SQL text (no client-side
statement cache), so every execution is parsed, planned and authorized.
Added latency = median(user) - median(superuser); target: under 1 ms median.
Three cases: the same text repeated; a new constant each time (the same
statement shape: the session's decision cache answers, as it does for the
common case of one query shape with varying values); a new shape each time
(nothing cached: the engine plans the statement once more for the check)."""
import os
import statistics
import tempfile
import time

import psycopg

from common import start

N = int(os.environ.get("BENCH_N", "300"))
QUERIES = {
    "simple SELECT": "SELECT name, country FROM customers WHERE id = 42",
    "5-way join": ("SELECT t.id, o.side, a.currency, c.country, t2.price FROM trades t "
                   "JOIN orders o ON o.id = t.order_id JOIN accounts a ON a.id = o.account_id "
                   "JOIN customers c ON c.id = a.customer_id JOIN trades t2 ON t2.id = t.id + 1 "
                   "WHERE t.id = 4242"),
}


def vary(sql, mode, i):
    """same: the same text; literal: a new constant each time (same shape);
    shape: a new column alias each time, so no cached decision applies and
    the statement is planned and checked from scratch."""
    if mode == "literal":
        return sql.replace("= 42", "= %d" % (i % 10000 + 1)).replace("= 4242", "= %d" % (i % 100000 + 1))
    if mode == "shape":
        return sql.replace("SELECT ", "SELECT %d AS shape_%d, " % (i, i), 1)
    return sql


def timings(dsn, sql, n, mode):
    out = []
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as c:
        for i in range(20):
            c.execute(vary(sql, mode, 100000 + i)).fetchall()
        for i in range(n):
            q = vary(sql, mode, i)
            t0 = time.perf_counter()
            c.execute(q).fetchall()
            out.append((time.perf_counter() - t0) * 1000.0)
    return out


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        srv = start(tmp)
        try:
            with psycopg.connect(srv.dsn(), autocommit=True) as c:
                c.execute("CREATE USER bench_user WITH PASSWORD 'bench'")
                c.execute("CREATE GROUP bench_group")
                c.execute("ALTER GROUP bench_group ADD USER bench_user")
                c.execute("GRANT SELECT ON trades, orders, accounts TO GROUP bench_group")
                c.execute("GRANT SELECT (id, name, country) ON customers TO bench_user")
            print("| statement | superuser median ms | user median ms | added median ms | superuser p99 | user p99 | added p99 | target |")
            print("|---|---|---|---|---|---|---|---|")
            ok = True
            labels = {"same": "repeated text", "literal": "new constant each time",
                      "shape": "new statement shape each time"}
            for (name, sql), mode in [(q, m) for m in ("same", "literal", "shape") for q in QUERIES.items()]:
                su = timings(srv.dsn(), sql, N, mode)
                us = timings(srv.dsn("bench_user", "bench"), sql, N, mode)
                name = "%s (%s)" % (name, labels[mode])
                added = statistics.median(us) - statistics.median(su)
                added99 = p99(us) - p99(su)
                good = added < 1.0
                ok &= good
                print("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | < 1 ms median %s |" % (
                    name, statistics.median(su), statistics.median(us), added, p99(su), p99(us), added99,
                    "met" if good else "MISSED"))
            return 0 if ok else 1
        finally:
            srv.stop()


if __name__ == "__main__":
    raise SystemExit(main())
