"""Issue 7, acceptance 4: audited statements per second and the audit's cost
on small-query throughput.

pgbench (-M extended, 8 clients, 2 threads) runs a primary-key lookup against
two builds of the same commit: build/madang (every statement recorded, the
record on disk before the client hears back: group-committed fdatasync) and
build-noaudit/madang (`make bench-noaudit`, the audit trail compiled out, for
this comparison only). Targets: >= 5000 audited statements/s; throughput cost
<= 10 %. Each figure is the median of BENCH_RUNS runs of BENCH_SECONDS."""
import os
import re
import statistics
import subprocess
import sys
import tempfile

from common import start

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import conftest  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SCRIPT = "\\set id random(1, 100000)\nSELECT id, price FROM trades WHERE id = :id;\n"
TRIVIAL = "SELECT 1;\n"


def tps(srv, script):
    env = dict(os.environ, PGPASSWORD=srv.admin_password)
    out = []
    for _ in range(RUNS):
        r = subprocess.run(["pgbench", "-n", "-M", "extended", "-c", "8", "-j", "2", "-T", str(SECONDS), "-f", script,
                            "-h", "127.0.0.1", "-p", str(srv.pg_port), "-U", "admin", "madang"],
                           capture_output=True, text=True, env=env, timeout=SECONDS * 4 + 60)
        m = re.search(r"tps = ([0-9.]+)", r.stdout)
        assert m, r.stdout + r.stderr
        out.append(float(m.group(1)))
    return statistics.median(out)


def run(binary, tmp, scripts):
    conftest.MADANG = binary
    srv = start(tmp, demo=True)
    try:
        return [tps(srv, script) for script in scripts]
    finally:
        srv.stop()


def main():
    audited_bin = os.environ.get("MADANG_BIN", os.path.join(ROOT, "build", "madang"))
    plain_bin = os.path.join(ROOT, "build-noaudit", "madang")
    if not os.path.exists(plain_bin):
        print("build-noaudit/madang is missing: run `make bench-noaudit`")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        scripts = []
        for name, text in (("lookup.sql", SCRIPT), ("one.sql", TRIVIAL)):
            scripts.append(os.path.join(tmp, name))
            with open(scripts[-1], "w") as f:
                f.write(text)
        os.makedirs(os.path.join(tmp, "a"))
        os.makedirs(os.path.join(tmp, "b"))
        plain, plain_one = run(plain_bin, os.path.join(tmp, "b"), scripts)
        audited, audited_one = run(audited_bin, os.path.join(tmp, "a"), scripts)
    cost = 1 - audited / plain
    print("| figure | audited | not audited | target |")
    print("|---|---|---|---|")
    print("| PK lookups, pgbench -M extended -c 8 -j 2, %d s, median of %d | %.0f statements/s | %.0f statements/s "
          "| >= 5000/s — %s |" % (SECONDS, RUNS, audited, plain, "met" if audited >= 5000 else "**missed**"))
    print("| throughput cost of the audit on PK lookups | %.1f %% | | <= 10 %% — %s |" % (
        cost * 100, "met" if cost <= 0.10 else "**missed**"))
    print("| `SELECT 1`, same pgbench (the engine's share smallest) | %.0f statements/s | %.0f statements/s "
          "| reported (cost %.1f %%) |" % (audited_one, plain_one, (1 - audited_one / plain_one) * 100))
    return 0 if audited >= 5000 and cost <= 0.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
