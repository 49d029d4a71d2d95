"""psqlODBC (odbc-postgresql) through unixODBC's isql against madang."""
import os
import shutil
import subprocess

import pytest

DRIVER = "/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so"


@pytest.fixture
def odbc_env(server, tmp_path):
    assert shutil.which("isql"), "isql (unixodbc) not installed"
    assert os.path.exists(DRIVER), DRIVER
    (tmp_path / "odbcinst.ini").write_text(
        "[PostgreSQL Unicode]\nDescription=psqlODBC\nDriver=%s\nUsageCount=1\n" % DRIVER)
    dsn = ("[madang]\nDriver=PostgreSQL Unicode\nServername=127.0.0.1\nPort=%d\nDatabase=madang\n"
           "Username=admin\nPassword=%s\nSSLmode=disable\nUseServerSidePrepare=1\n"
           % (server.pg_port, server.admin_password))
    dsn += ("\n[madang_tls]\nDriver=PostgreSQL Unicode\nServername=127.0.0.1\nPort=%d\nDatabase=madang\n"
            "Username=admin\nPassword=%s\nSSLmode=require\n" % (server.pg_port, server.admin_password))
    (tmp_path / "odbc.ini").write_text(dsn)
    env = dict(os.environ)
    env["ODBCSYSINI"] = str(tmp_path)
    env["ODBCINI"] = str(tmp_path / "odbc.ini")
    env.pop("ODBCINSTINI", None)
    return env


def isql(env, sql, dsn="madang"):
    # -b batch mode, -d| delimiter, -c column names on the first line, -v verbose errors
    r = subprocess.run(["isql", dsn, "admin", "", "-b", "-v", "-d|", "-c"],
                       input=sql + "\n", capture_output=True, text=True, env=env, timeout=120)
    return r


def data_lines(out):
    return [l for l in out.splitlines() if l.strip() and not l.startswith("SQLRowCount")
            and not l.startswith("SQL>") and "rows fetched" not in l]


def test_count(odbc_env):
    r = isql(odbc_env, "SELECT count(*) AS n FROM customers")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[ISQL]ERROR" not in r.stdout and "[S1" not in r.stdout, r.stdout
    lines = data_lines(r.stdout)
    assert lines[0].strip() == "n", r.stdout
    assert lines[1].strip() == "10000", r.stdout


def test_join(odbc_env):
    sql = ("SELECT c.country, count(*) AS n FROM customers c JOIN accounts a ON a.customer_id = c.id "
           "GROUP BY c.country ORDER BY n DESC, c.country LIMIT 5")
    r = isql(odbc_env, sql)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "ERROR" not in r.stdout, out
    lines = data_lines(r.stdout)
    assert lines[0].replace(" ", "") == "country|n", out
    rows = [l.split("|") for l in lines[1:]]
    assert len(rows) == 5, out
    counts = [int(x[1]) for x in rows]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0


def test_join_total_matches_psql(server, odbc_env):
    sql = ("SELECT count(*) FROM orders o JOIN accounts a ON a.id = o.account_id "
           "JOIN customers c ON c.id = a.customer_id WHERE c.id <= 100")
    expected = server.psql(sql).stdout.strip()
    assert int(expected) > 0
    r = isql(odbc_env, sql)
    assert r.returncode == 0, r.stdout + r.stderr
    assert data_lines(r.stdout)[1].strip() == expected, r.stdout


def test_types_and_error(odbc_env):
    r = isql(odbc_env, "SELECT 1.5::decimal(10,2) AS d, 'héllo' AS s, date '2024-02-29' AS dt, "
                       "timestamp '2024-02-29 01:02:03' AS ts, true AS b, NULL::int AS n")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = data_lines(r.stdout)
    vals = [v.strip() for v in lines[1].split("|")]
    assert vals[0] == "1.50", vals
    assert vals[1] == "héllo", vals
    assert vals[2] == "2024-02-29", vals
    assert vals[3].startswith("2024-02-29 01:02:03"), vals
    assert vals[4] in ("1", "t", "true"), vals
    assert vals[5] == "", vals
    r = isql(odbc_env, "SELECT * FROM no_such_odbc_table")
    assert "42P01" in r.stdout + r.stderr, r.stdout + r.stderr


def test_tls(odbc_env):
    r = isql(odbc_env, "SELECT count(*) FROM trades", dsn="madang_tls")
    assert r.returncode == 0, r.stdout + r.stderr
    assert data_lines(r.stdout)[1].strip() == "1000000", r.stdout
