"""Issue 9: madang measured against PostgreSQL 15 and against its own engine.

Side by side in one run, on one machine, with the same generated star schema
(bench/star/*.sql: 10 M fact rows; QUICK=1: 1 M):

  B1 result streaming  SELECT * of 5 M rows (bigint, double, decimal, varchar,
                       timestamp) fetched whole by a libpq client
                       (bench/clients/pgfetch.c), text and binary: rows/s of
                       madang vs PostgreSQL, and vs in-process DuckDB
                       (bench/clients/duckrun.c, C API, streaming chunks)
  B2 analytics         12 queries (bench/star/queries.sql) through libpq:
                       per query and geometric mean, madang vs in-process
                       DuckDB running the same SQL, and vs PostgreSQL
  B3 small queries     pgbench -n -M extended -c 8 -j 2 -T 20, primary-key
                       lookup: tps and median latency
  B4 governance cost   B2 and B3 as a user with grants, a row filter and two
                       masks with the audit on, vs a superuser on the same
                       commit built without the audit (make bench-noaudit)
  B5 memory            madang's idle RSS and its peak RSS growth during B1

Every figure is the median of BENCH_RUNS runs (default 3; PostgreSQL's B2
queries, which take seconds each, BENCH_PG_RUNS = 2). Prints a table and
writes bench/results/latest.md and latest.json. QUICK=1 runs B1-B3 at 1/10
scale (B4 and B5 are left out)."""
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import pg
from common import rss_mb

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import conftest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
QUICK = bool(os.environ.get("QUICK"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PG_RUNS = int(os.environ.get("BENCH_PG_RUNS", "2"))  # PostgreSQL's B2 takes seconds per query
B2_ROUNDS = int(os.environ.get("BENCH_B2_ROUNDS", "2"))  # madang and DuckDB take turns, RUNS runs a round
FACT = 1_000_000 if QUICK else 10_000_000
CUST = 10_000 if QUICK else 100_000
B1ROWS = FACT // 2
PGBENCH_SECONDS = int(os.environ.get("BENCH_PGBENCH_SECONDS", "5" if QUICK else "20"))
BIN = os.path.join(ROOT, "build", "bench")
PGFETCH = os.path.join(BIN, "pgfetch")
DUCKRUN = os.path.join(BIN, "duckrun")
MADANG = os.environ.get("MADANG_BIN", os.path.join(ROOT, "build", "madang"))
MADANG_NOAUDIT = os.path.join(ROOT, "build-noaudit", "madang")
ANALYST_PASSWORD = "analyst-bench-pw"

GOVERNANCE = [
    "CREATE USER analyst PASSWORD '%s'" % ANALYST_PASSWORD,
    "GRANT SELECT ON ALL TABLES IN SCHEMA main TO analyst",
    "CREATE POLICY some_stores ON sales FOR SELECT TO analyst USING (store_sk < 190)",
    "CREATE MASKING POLICY hashed AS (v VARCHAR) RETURNS VARCHAR -> mask_hash(v)",
    "CREATE MASKING POLICY last4 AS (v VARCHAR) RETURNS VARCHAR -> mask_show_last(v, 4)",
    "ALTER TABLE customer ALTER COLUMN c_region SET MASKING POLICY hashed",
    "ALTER TABLE product ALTER COLUMN p_name SET MASKING POLICY last4",
]

# What the analyst may see, as plain tables: the reference of issue #5 (the
# same query as a superuser over tables holding exactly the user's visible,
# masked data). Governed time / this time is the price of the governance
# machinery alone; this time / the superuser's is the price of the masked
# values themselves (a 64-character hash groups and joins slower than a
# 9-character region name).
SEEN = [
    "CREATE SCHEMA seen",
    "CREATE TABLE seen.sales AS SELECT * FROM main.sales WHERE store_sk < 190",
    "CREATE TABLE seen.customer AS SELECT * REPLACE (madang.mask_hash(c_region) AS c_region) FROM main.customer",
    "CREATE TABLE seen.product AS SELECT * REPLACE (madang.mask_show_last(p_name, 4) AS p_name) FROM main.product",
]


def seen_queries(qfile, tmp):
    """queries.sql with the governed tables read from schema seen."""
    with open(qfile) as f:
        text = f.read()
    out = os.path.join(tmp, "queries_seen.sql")
    with open(out, "w") as f:
        f.write(re.sub(r"\b(FROM|JOIN)(\s+)(sales|customer|product)\b", r"\1\2seen.\3", text))
    return out


LOOKUP = "\\set id random(0, %d)\nSELECT c_sk, c_name, c_region, c_segment FROM customer WHERE c_sk = :id;\n"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def star_sql(dialect, tmp):
    with open(os.path.join(HERE, "star", dialect + ".sql")) as f:
        sql = f.read().replace("{FACT}", str(FACT)).replace("{CUST}", str(CUST)).replace("{B1}", str(B1ROWS))
    path = os.path.join(tmp, "star-%s.sql" % dialect)
    with open(path, "w") as f:
        f.write(sql)
    return path


def madang_dsn(srv, user="admin", password=None):
    # the same transport as the PostgreSQL anchor, which has no TLS configured:
    # plain TCP on loopback (TLS costs madang about 20 % of B1; docs/benchmarks.md)
    return srv.dsn(user=user, password=password, sslmode="disable")


def start_madang(binary, tmp, name):
    conftest.MADANG = binary
    srv = conftest.MadangServer(os.path.join(tmp, name)).start(timeout=300)
    t0 = time.time()
    srv.psql(None, extra=["-f", star_sql("duckdb", tmp)])
    return srv, time.time() - t0


def stream(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    m = re.search(r"rows=(\d+) seconds=([0-9.]+)", r.stdout)
    if not m:
        raise RuntimeError("%s: %s %s" % (cmd[0], r.stdout, r.stderr))
    return int(m.group(1)), float(m.group(2))


def rows_per_s(cmd):
    out = []
    for _ in range(RUNS):
        n, s = stream(cmd)
        out.append(n / s)
    return statistics.median(out), n


def query_runs(cmd):
    """Every run's time of every query of the file, [[ms, ...], ...]."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (cmd[0], r.stderr))
    return [json.loads(l)["ms"] for l in r.stdout.splitlines() if l.startswith("{")]


def queries(cmd):
    return [statistics.median(ms) for ms in query_runs(cmd)]


def taking_turns(cmds, rounds):
    """Per command, each query's median time over `rounds` rounds in which the
    commands take turns: a drift of the shared machine during the minutes a
    figure takes falls on both sides of its ratio alike."""
    runs = [None] * len(cmds)
    for _ in range(rounds):
        for i, cmd in enumerate(cmds):
            got = query_runs(cmd)
            runs[i] = got if runs[i] is None else [a + b for a, b in zip(runs[i], got)]
    return [[statistics.median(ms) for ms in r] for r in runs]


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def pgbench(host_port, user, password, tmp, label):
    script = os.path.join(tmp, "lookup.sql")
    with open(script, "w") as f:
        f.write(LOOKUP % (CUST - 1))
    logdir = os.path.join(tmp, "pgbench-" + label)
    os.makedirs(logdir, exist_ok=True)
    env = dict(os.environ, PGPASSWORD=password or "", PGSSLMODE="disable")  # as madang_dsn
    r = subprocess.run(["pgbench", "-n", "-M", "extended", "-c", "8", "-j", "2", "-T", str(PGBENCH_SECONDS),
                        "-f", script, "-l", "--log-prefix", os.path.join(logdir, "tx"), "-h", "127.0.0.1", "-p",
                        str(host_port[1]), "-U", user, host_port[2]],
                       capture_output=True, text=True, env=env, timeout=PGBENCH_SECONDS * 4 + 120, cwd=logdir)
    m = re.search(r"tps = ([0-9.]+)", r.stdout)
    if not m:
        raise RuntimeError("pgbench %s: %s %s" % (label, r.stdout, r.stderr))
    lat = []
    for name in os.listdir(logdir):
        with open(os.path.join(logdir, name)) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]) / 1000.0)
    return float(m.group(1)), statistics.median(lat) if lat else float("nan")


def engine_lookups(duckfile):
    """B3's engine floor: the same primary-key lookup in-process on DuckDB's
    C API, prepared once per connection, 2 connections (2 cores) for
    PGBENCH_SECONDS; and one lookup's time with its key as a parameter (the
    plan re-made at every run: DuckDB does not cache a parameterized plan
    that scans a table) vs as a constant (the plan cached)."""
    sql = LOOKUP.split("\n")[1].replace(":id", "$1").rstrip(";")
    r = subprocess.run([DUCKRUN, duckfile, "lookup", sql, str(CUST - 1), str(PGBENCH_SECONDS), "2"],
                       capture_output=True, text=True, timeout=PGBENCH_SECONDS * 4 + 120)
    m = re.search(r"lookups=(\d+) seconds=([0-9.]+) cached_us=([0-9.]+) replanned_us=([0-9.]+)", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError("duckrun lookup: %s %s" % (r.stdout, r.stderr))
    return {"lookups_s": int(m.group(1)) / float(m.group(2)), "cached_us": float(m.group(3)),
            "replanned_us": float(m.group(4))}


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) / 1024 / 1024
    except OSError:
        mem = 0
    return "%s, %d cores, %.0f GB RAM, %s" % (model, os.cpu_count(), mem, platform.platform())


class Sampler:
    """Peak RSS of a process while a block runs."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def __enter__(self):
        self.base = rss_mb(self.pid)
        self.peak = self.base
        self.th = threading.Thread(target=self.run)
        self.th.start()
        return self

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __exit__(self, *a):
        self.stop.set()
        self.th.join()


def main():
    for b in (PGFETCH, DUCKRUN, MADANG):
        if not os.path.exists(b):
            print("%s is missing: run `make bench`" % b)
            return 1
    if not QUICK and not os.path.exists(MADANG_NOAUDIT):
        print("build-noaudit/madang is missing: run `make bench-noaudit`")
        return 1
    t_start = time.time()
    res = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quick": QUICK, "runs": RUNS,
           "fact_rows": FACT, "b1_rows": B1ROWS, "machine": machine(), "figures": {}}
    fig = res["figures"]
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        log("loading %d fact rows into madang ..." % FACT)
        srv, t_load = start_madang(MADANG, tmp, "madang")
        res["load_s"] = {"madang": t_load}
        pgs = pg.Postgres(tmp)
        try:
            res["versions"] = {"madang": subprocess.run([MADANG, "version"], capture_output=True,
                                                        text=True).stdout.strip(),
                               "postgres": pgs.version()}
            log("loading PostgreSQL ...")
            pgs.start()
            t0 = time.time()
            pgs.psql(file=star_sql("postgres", tmp))
            res["load_s"]["postgres"] = time.time() - t0
            log("loading in-process DuckDB ...")
            duckfile = os.path.join(tmp, "inproc.duckdb")
            t0 = time.time()
            subprocess.run([DUCKRUN, duckfile, "setup", star_sql("duckdb", tmp)], check=True, timeout=3600)
            res["load_s"]["duckdb"] = time.time() - t0
            res["versions"]["duckdb"] = subprocess.run([DUCKRUN, duckfile, "version", "-"], capture_output=True,
                                                       text=True).stdout.strip()
            mdsn, pdsn = madang_dsn(srv), pgs.dsn()

            # ---- B5 idle, B1 ----
            time.sleep(1)
            fig["b5_idle_rss_mb"] = rss_mb(srv.proc.pid)
            b1 = "SELECT * FROM b1"
            peak = 0.0
            for fmt in ("text", "binary"):
                log("B1 %s ..." % fmt)
                with Sampler(srv.proc.pid) as smp:
                    m, n = rows_per_s([PGFETCH, mdsn, "stream", fmt, b1])
                peak = max(peak, smp.peak - smp.base)
                p, _ = rows_per_s([PGFETCH, pdsn, "stream", fmt, b1])
                fig["b1_%s" % fmt] = {"madang_rows_s": m, "postgres_rows_s": p, "rows": n}
            d, _ = rows_per_s([DUCKRUN, duckfile, "stream", b1])
            fig["b1_duckdb_rows_s"] = d
            fig["b5_peak_growth_b1_mb"] = peak

            # ---- B2 ----
            qfile = os.path.join(HERE, "star", "queries.sql")
            log("B2 madang and in-process DuckDB, taking turns ...")
            qm, qd = taking_turns([[PGFETCH, mdsn, "queries", qfile, str(RUNS)],
                                   [DUCKRUN, duckfile, "queries", qfile, str(RUNS)]], B2_ROUNDS)
            log("B2 PostgreSQL ...")
            qp = queries([PGFETCH, pdsn, "queries", qfile, str(PG_RUNS)])
            fig["b2"] = {"madang_ms": qm, "duckdb_ms": qd, "postgres_ms": qp,
                         "geomean_madang_vs_duckdb": geomean([a / b for a, b in zip(qm, qd)]),
                         "geomean_postgres_vs_madang": geomean([b / a for a, b in zip(qm, qp)])}

            # ---- B3 ----
            log("B3 pgbench madang ...")
            tm, lm = pgbench(("127.0.0.1", srv.pg_port, "madang"), "admin", srv.admin_password, tmp, "madang")
            log("B3 pgbench PostgreSQL ...")
            tp, lp = pgbench(("127.0.0.1", pgs.port, "postgres"), "postgres", "", tmp, "postgres")
            log("B3 in-process DuckDB, the same lookup on 2 connections ...")
            fl = engine_lookups(duckfile)
            fig["b3"] = {"madang_tps": tm, "madang_median_ms": lm, "postgres_tps": tp, "postgres_median_ms": lp,
                         "duckdb_lookups_s": fl["lookups_s"], "duckdb_cached_us": fl["cached_us"],
                         "duckdb_replanned_us": fl["replanned_us"]}

            # ---- B4 ----
            if not QUICK:
                import psycopg2
                c = psycopg2.connect(mdsn)
                c.autocommit = True
                for s in GOVERNANCE:
                    c.cursor().execute(s)
                c.close()
                adsn = madang_dsn(srv, "analyst", ANALYST_PASSWORD)
                log("B4 B2 as the analyst (audited) ...")
                qa = queries([PGFETCH, adsn, "queries", qfile, str(RUNS)])
                log("B4 B3 as the analyst (audited) ...")
                ta, la = pgbench(("127.0.0.1", srv.pg_port, "madang"), "analyst", ANALYST_PASSWORD, tmp, "analyst")
        finally:
            pgs.stop()
            srv.stop()
        if not QUICK:
            log("B4 the same commit without the audit, as a superuser ...")
            plain, _ = start_madang(MADANG_NOAUDIT, tmp, "noaudit")
            try:
                pdsn2 = madang_dsn(plain)
                qs = queries([PGFETCH, pdsn2, "queries", qfile, str(RUNS)])
                log("B4 the analyst's data as plain tables, as a superuser without the audit ...")
                c = psycopg2.connect(pdsn2)
                c.autocommit = True
                for s in SEEN:
                    c.cursor().execute(s)
                c.close()
                qr = queries([PGFETCH, pdsn2, "queries", seen_queries(qfile, tmp), str(RUNS)])
                ts, ls = pgbench(("127.0.0.1", plain.pg_port, "madang"), "admin", plain.admin_password, tmp,
                                 "noaudit")
            finally:
                plain.stop()
            fig["b4"] = {"analyst_ms": qa, "superuser_noaudit_ms": qs, "reference_noaudit_ms": qr,
                         "geomean_analyst_vs_superuser": geomean([a / b for a, b in zip(qa, qs)]),
                         "geomean_analyst_vs_reference": geomean([a / b for a, b in zip(qa, qr)]),
                         "geomean_reference_vs_superuser": geomean([a / b for a, b in zip(qr, qs)]),
                         "analyst_tps": ta, "analyst_median_ms": la, "superuser_noaudit_tps": ts,
                         "superuser_noaudit_median_ms": ls, "tps_ratio": ta / ts}
    res["elapsed_s"] = time.time() - t_start
    return report(res)


def verdict(ok):
    return "met" if ok else "**missed**"


def report(res):
    f = res["figures"]
    lines = ["# madang benchmarks (`make bench%s`)" % (" QUICK=1" if res["quick"] else ""), "",
             "%s; %s; madang %s, DuckDB %s (in-process anchor), %s; %d fact rows, B1 %d rows; medians of %d runs "
             "(B2: madang and DuckDB %d rounds taking turns, the median of their %d runs; PostgreSQL B2: %d); "
             "%.0f s end to end." % (res["date"], res["machine"], res["versions"]["madang"], res["versions"]["duckdb"],
                                    res["versions"]["postgres"], res["fact_rows"], res["b1_rows"], res["runs"],
                                    B2_ROUNDS, B2_ROUNDS * res["runs"], PG_RUNS, res["elapsed_s"]), "",
             "| figure | madang | anchor | ratio | target |", "|---|---|---|---|---|"]
    for fmt in ("text", "binary"):
        b = f["b1_" + fmt]
        r = b["madang_rows_s"] / b["postgres_rows_s"]
        lines.append("| B1 stream %s, rows/s | %.0f | PostgreSQL %.0f | %.2f× | ≥ 1.5× — %s |" % (
            fmt, b["madang_rows_s"], b["postgres_rows_s"], r, verdict(r >= 1.5)))
        lines.append("| B1 stream %s vs in-process DuckDB (C API), rows/s | %.0f | DuckDB %.0f | %.2f× | reported |" % (
            fmt, b["madang_rows_s"], f["b1_duckdb_rows_s"], b["madang_rows_s"] / f["b1_duckdb_rows_s"]))
    b2 = f["b2"]
    g1, g2 = b2["geomean_madang_vs_duckdb"], b2["geomean_postgres_vs_madang"]
    lines.append("| B2 12 queries, geometric mean time vs in-process DuckDB | %.1f ms | %.1f ms | %.2f× | ≤ 1.10× — %s |" % (
        geomean(b2["madang_ms"]), geomean(b2["duckdb_ms"]), g1, verdict(g1 <= 1.10)))
    lines.append("| B2 12 queries, PostgreSQL time / madang time (geometric mean) | %.1f ms | %.1f ms | %.1f× faster | ≥ 10× — %s |" % (
        geomean(b2["madang_ms"]), geomean(b2["postgres_ms"]), g2, verdict(g2 >= 10)))
    b3 = f["b3"]
    floor = ""
    if b3["madang_median_ms"] >= 1.0 and b3.get("duckdb_lookups_s", 1e9) < 8000:
        # Little's law: 8 clients each waiting < 1 ms need > 8 000 lookups/s
        floor = " (8 clients under 1 ms need ≥ 8 000/s; the engine alone does %.0f/s)" % b3["duckdb_lookups_s"]
    lines.append("| B3 pgbench PK lookup, tps (median latency) | %.0f (%.2f ms) | PostgreSQL %.0f (%.2f ms) | %.2f× | reported; median < 1 ms — %s%s |" % (
        b3["madang_tps"], b3["madang_median_ms"], b3["postgres_tps"], b3["postgres_median_ms"],
        b3["madang_tps"] / b3["postgres_tps"], verdict(b3["madang_median_ms"] < 1.0), floor))
    if "duckdb_lookups_s" in b3:
        lines.append("| B3 engine floor: the same lookup in-process (DuckDB C API, prepared, 2 connections), lookups/s | %.0f | DuckDB %.0f | %.2f× | reported |" % (
            b3["madang_tps"], b3["duckdb_lookups_s"], b3["madang_tps"] / b3["duckdb_lookups_s"]))
        lines.append("| B3 one lookup in-process: key as a parameter (plan re-made each run) vs key as a constant (plan cached), µs | | %.0f vs %.0f | %.2f× | reported |" % (
            b3["duckdb_replanned_us"], b3["duckdb_cached_us"], b3["duckdb_replanned_us"] / b3["duckdb_cached_us"]))
    if "b4" in f:
        b4 = f["b4"]
        g4 = b4["geomean_analyst_vs_superuser"]
        lines.append("| B4 B2 as a governed user (grants, row filter, 2 masks, audit on) vs superuser without audit | %.1f ms | %.1f ms | %.2f× | ≤ 1.3× — %s |" % (
            geomean(b4["analyst_ms"]), geomean(b4["superuser_noaudit_ms"]), g4, verdict(g4 <= 1.3)))
        if "reference_noaudit_ms" in b4:
            lines.append("| B4 B2 split: superuser over tables holding the analyst's masked rows vs superuser (the masked data itself) | %.1f ms | %.1f ms | %.2f× | reported |" % (
                geomean(b4["reference_noaudit_ms"]), geomean(b4["superuser_noaudit_ms"]), b4["geomean_reference_vs_superuser"]))
            lines.append("| B4 B2 split: governed user vs superuser over those tables (the governance machinery) | %.1f ms | %.1f ms | %.2f× | reported |" % (
                geomean(b4["analyst_ms"]), geomean(b4["reference_noaudit_ms"]), b4["geomean_analyst_vs_reference"]))
        lines.append("| B4 B3 as a governed user vs superuser without audit, tps | %.0f | %.0f | %.2f× | ≥ 0.8× — %s |" % (
            b4["analyst_tps"], b4["superuser_noaudit_tps"], b4["tps_ratio"], verdict(b4["tps_ratio"] >= 0.8)))
    if "b5_idle_rss_mb" in f:
        lines.append("| B5 idle RSS after loading | %.0f MB | | | reported |" % f["b5_idle_rss_mb"])
        lines.append("| B5 peak RSS growth during B1 | %.0f MB | | | < 256 MB — %s |" % (
            f["b5_peak_growth_b1_mb"], verdict(f["b5_peak_growth_b1_mb"] < 256)))
    lines += ["", "B2 per query (ms, median): madang / in-process DuckDB / PostgreSQL", "",
              "| query | madang | DuckDB | madang/DuckDB | PostgreSQL | PostgreSQL/madang |" +
              (" governed | governed/superuser | reference | governed/reference |" if "b4" in f else ""),
              "|---|---|---|---|---|---|" + ("---|---|---|---|" if "b4" in f else "")]
    for i, (m, d, p) in enumerate(zip(b2["madang_ms"], b2["duckdb_ms"], b2["postgres_ms"])):
        row = "| Q%d | %.1f | %.1f | %.2f× | %.1f | %.1f× |" % (i + 1, m, d, m / d, p, p / m)
        if "b4" in f:
            a, s = f["b4"]["analyst_ms"][i], f["b4"]["superuser_noaudit_ms"][i]
            r = f["b4"].get("reference_noaudit_ms", [float("nan")] * 12)[i]
            row += " %.1f | %.2f× | %.1f | %.2f× |" % (a, a / s, r, a / r)
        lines.append(row)
    lines.append("")
    lines.append("Loads: madang %.0f s, PostgreSQL %.0f s, in-process DuckDB %.0f s." % (
        res["load_s"]["madang"], res["load_s"]["postgres"], res["load_s"]["duckdb"]))
    text = "\n".join(lines) + "\n"
    print(text)
    outdir = os.path.join(HERE, "results")
    os.makedirs(outdir, exist_ok=True)
    name = "quick" if res["quick"] else "latest"
    with open(os.path.join(outdir, name + ".md"), "w") as fh:
        fh.write(text)
    with open(os.path.join(outdir, name + ".json"), "w") as fh:
        json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
