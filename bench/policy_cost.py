"""Issue 5, acceptance 3: the cost of a row filter and two masks.

A 10 M-row table (BENCH_ROWS) is scanned and aggregated twice: by a superuser
(no policies apply) and by a user with a row policy (a mapping table of users
to regions, the usual shape) and two masks on columns the query reads
(mask_show_last on a phone number, mask_year on a date). Two users:
alice's policy admits every row, so both runs aggregate the same rows and the
ratio is the price of the governance itself (the worst case); bob's admits one
region of ten, a Seoul analyst's usual view. Medians of BENCH_RUNS runs after
one warm-up each; target: ratio <= 1.3."""
import os
import statistics
import tempfile
import time

import psycopg

from common import start

ROWS = int(os.environ.get("BENCH_ROWS", "10000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
QUERY = ("SELECT region, count(*), sum(amount), max(phone), min(opened), count(DISTINCT opened) "
         "FROM facts GROUP BY region ORDER BY region")

SETUP = [
    "CREATE TABLE facts AS SELECT i AS id, ['KR','JP','US','DE','GB','FR','SG','HK','AU','CA'][i % 10 + 1] "
    "AS region, CAST((i % 100000) / 100 AS DECIMAL(18,2)) AS amount, '010-' || lpad(CAST(i % 100000000 AS "
    "VARCHAR), 8, '0') AS phone, DATE '2000-01-01' + CAST(i % 9000 AS INTEGER) AS opened "
    "FROM range({rows}) t(i)".format(rows=ROWS),
    "CREATE TABLE bench_regions (user_name VARCHAR, region VARCHAR)",
    "INSERT INTO bench_regions SELECT 'alice', r FROM (VALUES ('KR'),('JP'),('US'),('DE'),('GB'),('FR'),"
    "('SG'),('HK'),('AU'),('CA')) v(r)",
    "INSERT INTO bench_regions VALUES ('bob', 'KR')",
    "CREATE USER alice PASSWORD 'alice-bench-pw'",
    "CREATE USER bob PASSWORD 'bob-bench-pw'",
    "CREATE GROUP analysts",
    "ALTER GROUP analysts ADD USER alice, bob",
    "GRANT SELECT ON facts TO GROUP analysts",
    "CREATE POLICY by_region ON facts FOR SELECT TO GROUP analysts USING "
    "(region IN (SELECT region FROM bench_regions WHERE user_name = current_user))",
    "CREATE MASKING POLICY last4 AS (v VARCHAR) RETURNS VARCHAR -> mask_show_last(v, 4)",
    "CREATE MASKING POLICY year_only AS (v DATE) RETURNS DATE -> mask_year(v)",
    "ALTER TABLE facts ALTER COLUMN phone SET MASKING POLICY last4",
    "ALTER TABLE facts ALTER COLUMN opened SET MASKING POLICY year_only",
]


def timed(conn, runs):
    out = []
    conn.execute(QUERY).fetchall()  # warm-up
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = conn.execute(QUERY).fetchall()
        out.append(time.perf_counter() - t0)
    return statistics.median(out), rows


def main():
    with tempfile.TemporaryDirectory() as tmp:
        srv = start(tmp, demo=False)
        try:
            admin = psycopg.connect(srv.dsn(), autocommit=True)
            for sql in SETUP:
                admin.execute(sql)
            alice = psycopg.connect(srv.dsn("alice", "alice-bench-pw"), autocommit=True)
            bob = psycopg.connect(srv.dsn("bob", "bob-bench-pw"), autocommit=True)
            base, rows_a = timed(admin, RUNS)
            gov, rows_b = timed(alice, RUNS)
            one, rows_c = timed(bob, RUNS)
            assert [r[:3] for r in rows_a] == [r[:3] for r in rows_b], (rows_a, rows_b)
            assert rows_b[0][3].startswith("****"), "the phone mask must apply"
            assert [r[0] for r in rows_c] == ["KR"], rows_c
            ratio, ratio1 = gov / base, one / base
            print("| %d-row scan and aggregate (median of %d) | time | ratio to superuser | target |" % (ROWS, RUNS))
            print("|---|---|---|---|")
            print("| superuser (no policies) | %.0f ms | 1.00× | |" % (base * 1000))
            print("| alice: row filter admitting every row + 2 masks | %.0f ms | %.2f× | ≤ 1.30× — %s |" % (
                gov * 1000, ratio, "met" if ratio <= 1.3 else "**missed**"))
            print("| bob: row filter admitting 1 region of 10 + 2 masks | %.0f ms | %.2f× | ≤ 1.30× — %s |" % (
                one * 1000, ratio1, "met" if ratio1 <= 1.3 else "**missed**"))
            for c in (admin, alice, bob):
                c.close()
            return 0 if ratio <= 1.3 else 1
        finally:
            srv.stop()


if __name__ == "__main__":
    raise SystemExit(main())
