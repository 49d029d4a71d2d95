"""pgbench with a custom script (random primary-key lookups on customers) against madang."""
import os
import re
import shutil
import subprocess

import pytest

SCRIPT = """\\set id random(1, 10000)
SELECT id, name, email, country FROM customers WHERE id = :id;
"""


def pgbench(server, tmp_path, mode, extra=()):
    assert shutil.which("pgbench"), "pgbench not installed"
    script = tmp_path / "lookup.sql"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    env["PGPASSWORD"] = server.admin_password
    env["PGCONNECT_TIMEOUT"] = "10"
    cmd = ["pgbench", "-n", "-M", mode, "-f", str(script), "-c", "4", "-j", "2", "-T", "5",
           "-h", "127.0.0.1", "-p", str(server.pg_port), "-U", "admin"] + list(extra) + ["madang"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def check_result(r):
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "error" not in r.stderr.lower(), out
    m = re.search(r"number of failed transactions: (\d+)", out)
    assert m is None or m.group(1) == "0", out
    m = re.search(r"number of transactions actually processed: (\d+)", out)
    assert m and int(m.group(1)) > 0, out
    m = re.search(r"tps = ([0-9.]+)", out)
    assert m and float(m.group(1)) > 0, out
    return float(m.group(1))


@pytest.mark.parametrize("mode", ["extended", "simple", "prepared"])
def test_pgbench_pk_lookup(server, tmp_path, mode):
    r = pgbench(server, tmp_path, mode)
    check_result(r)


def test_pgbench_over_tls(server, tmp_path):
    script = tmp_path / "lookup.sql"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    env["PGPASSWORD"] = server.admin_password
    env["PGSSLMODE"] = "require"
    r = subprocess.run(["pgbench", "-n", "-M", "extended", "-f", str(script), "-c", "2", "-j", "2", "-T", "3",
                        "-h", "127.0.0.1", "-p", str(server.pg_port), "-U", "admin", "madang"],
                       capture_output=True, text=True, env=env, timeout=120)
    check_result(r)
