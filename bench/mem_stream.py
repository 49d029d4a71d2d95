"""Issue 3, acceptance 4: streaming 10 M rows keeps server RSS growth under 256 MB.

A psycopg 3 client streams `SELECT ... FROM range(10_000_000)` (row by row,
no client-side buffering) through the simple and the extended protocol; the
server's RSS is sampled every 50 ms. Prints peak growth per protocol."""
import os
import tempfile
import threading
import time

import psycopg

from common import rss_mb, start

ROWS = int(os.environ.get("BENCH_STREAM_ROWS", "10000000"))  # make bench: 1 M (the client is Python)
SQL = ("SELECT i AS id, i * 1.5 AS x, (i %% 1000)::DECIMAL(12,2) AS d, 'row number ' || i AS s, "
       "TIMESTAMP '2024-01-01' + to_seconds(i) AS ts FROM range(%d) t(i)" % ROWS)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        srv = start(tmp, demo=False)
        pid = srv.proc.pid
        try:
            with psycopg.connect(srv.dsn()) as c:
                c.execute("SELECT 1").fetchall()
            results = []
            for mode in ("simple", "extended-binary"):
                base = rss_mb(pid)
                peak = [base]
                stop = threading.Event()

                def sample():
                    while not stop.is_set():
                        peak[0] = max(peak[0], rss_mb(pid))
                        time.sleep(0.05)

                th = threading.Thread(target=sample)
                th.start()
                t0 = time.time()
                n = 0
                with psycopg.connect(srv.dsn()) as c:
                    cur = c.cursor(binary=(mode != "simple"))
                    for _ in cur.stream(SQL.replace("%%", "%")):
                        n += 1
                dt = time.time() - t0
                stop.set()
                th.join()
                growth = peak[0] - base
                results.append((mode, n, dt, base, peak[0], growth))
            ok = True
            print("| protocol | rows | seconds | rows/s | base RSS MB | peak RSS MB | growth MB | target |")
            print("|---|---|---|---|---|---|---|---|")
            for mode, n, dt, base, pk, growth in results:
                good = n == ROWS and growth < 256
                ok &= good
                print("| %s | %d | %.1f | %.0f | %.0f | %.0f | %.0f | < 256 MB %s |" %
                      (mode, n, dt, n / dt, base, pk, growth, "met" if good else "MISSED"))
            return 0 if ok else 1
        finally:
            srv.stop()


if __name__ == "__main__":
    raise SystemExit(main())
