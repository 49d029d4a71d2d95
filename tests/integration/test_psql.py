"""psql against madang: queries, meta-commands, \\copy, errors, cancel, TLS."""
import os
import signal
import subprocess
import time
import uuid

import pytest


def uniq(prefix):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


def psql_env(server, **extra):
    e = dict(os.environ)
    e["PGPASSWORD"] = server.admin_password
    e["PGCONNECT_TIMEOUT"] = "10"
    e.update(extra)
    return e


def psql_cmd(server, *args, aligned=False):
    cmd = ["psql", "-X", "-h", "127.0.0.1", "-p", str(server.pg_port), "-U", "admin", "-d", "madang"]
    if not aligned:
        cmd.append("-At")
    return cmd + list(args)


def run_psql(server, *args, aligned=False, timeout=120, cwd=None):
    return subprocess.run(psql_cmd(server, *args, aligned=aligned), capture_output=True, text=True,
                          env=psql_env(server), timeout=timeout, cwd=cwd)


def assert_ok(r):
    assert r.returncode == 0, "psql rc=%d\nstdout:%s\nstderr:%s" % (r.returncode, r.stdout, r.stderr)
    assert "ERROR" not in r.stderr, r.stderr
    assert "ERROR" not in r.stdout, r.stdout


def test_simple_queries(server):
    assert server.psql("SELECT count(*) FROM customers").stdout.strip() == "10000"
    assert server.psql("SELECT count(*) FROM trades").stdout.strip() == "1000000"
    r = server.psql("SELECT 1 + 1, 'hello', NULL IS NULL")
    assert r.stdout.strip() == "2|hello|t"
    r = server.psql("SELECT id, name FROM customers ORDER BY id LIMIT 3")
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("1|")


def test_multiple_statements_in_one_c(server):
    t = uniq("psql_multi")
    r = run_psql(server, "-v", "ON_ERROR_STOP=1", "-c",
                 "CREATE TABLE %s(a int); INSERT INTO %s VALUES (1),(2),(3); "
                 "SELECT sum(a) FROM %s; SELECT 'done'" % (t, t, t))
    assert_ok(r)
    # psql -c with several statements prints only the last result
    assert "done" in r.stdout
    assert server.psql("SELECT sum(a) FROM %s" % t).stdout.strip() == "6"
    server.psql("DROP TABLE %s" % t)


@pytest.mark.parametrize("cmd,expect", [
    (r"\dt", ["customers", "accounts", "orders", "trades"]),
    (r"\dn", ["main"]),
    (r"\l", ["madang"]),
    (r"\du", ["admin"]),
    (r"\d trades", ["id", "order_id", "symbol", "price", "quantity", "fee", "executed_at"]),
    (r"\d customers", ["id", "name", "email", "phone", "country", "birth_date", "created_at"]),
    (r"\d+ trades", ["numeric(18,2)", "timestamp without time zone", "trades_id_pkey"]),
    (r"\dt+", ["customers", "trades", "Executions of orders"]),
    (r"\l+", ["madang"]),
    (r"\di", ["customers_id_pkey"]),
])
def test_meta_commands(server, cmd, expect):
    r = run_psql(server, "-c", cmd, aligned=True)
    assert_ok(r)
    for name in expect:
        assert name in r.stdout, "%s: %r missing from\n%s" % (cmd, name, r.stdout)


def test_df_lists_functions(server):
    # \df needs a pattern to return something in PostgreSQL's default filter (user functions
    # only); \dfS lists system functions too.
    r = run_psql(server, "-c", r"\df", aligned=True)
    assert_ok(r)
    assert "List of functions" in r.stdout
    r = run_psql(server, "-c", r"\dfS abs", aligned=True)
    assert_ok(r)
    assert "abs" in r.stdout


def test_d_trades_types(server):
    r = run_psql(server, "-c", r"\d trades", aligned=True)
    assert_ok(r)
    out = r.stdout
    assert 'Table "main.trades"' in out or 'Table "public.trades"' in out, out
    assert "numeric(18,2)" in out
    assert "numeric(20,8)" in out
    assert "timestamp without time zone" in out


def test_copy_from_file_and_to_file_csv(server, tmp_path):
    t = uniq("psql_copy")
    src = tmp_path / "in.csv"
    src.write_text('1,alpha,1.5\n2,"b,eta",2.25\n3,"quo""te",\n4,ünï,0\n')
    out = tmp_path / "out.csv"
    r = run_psql(server, "-v", "ON_ERROR_STOP=1",
                 "-c", "CREATE TABLE %s(id int, s text, v double)" % t,
                 "-c", r"\copy %s from '%s' csv" % (t, src),
                 "-c", r"\copy (SELECT * FROM %s ORDER BY id) to '%s' csv header" % (t, out))
    assert_ok(r)
    assert "COPY 4" in r.stdout
    assert out.read_text() == 'id,s,v\n1,alpha,1.5\n2,"b,eta",2.25\n3,"quo""te",\n4,ünï,0\n'
    assert server.psql("SELECT count(*), count(v) FROM %s" % t).stdout.strip() == "4|3"
    server.psql("DROP TABLE %s" % t)


def test_copy_text_format_roundtrip(server, tmp_path):
    t = uniq("psql_copyt")
    src = tmp_path / "in.txt"
    src.write_text("1\tone\n2\t\\N\n3\ttab\\there\n")
    out = tmp_path / "out.txt"
    r = run_psql(server, "-v", "ON_ERROR_STOP=1",
                 "-c", "CREATE TABLE %s(id int, s text)" % t,
                 "-c", r"\copy %s from '%s'" % (t, src),
                 "-c", r"\copy (SELECT id, s FROM %s ORDER BY id) to '%s'" % (t, out))
    assert_ok(r)
    assert server.psql("SELECT count(*), count(s) FROM %s" % t).stdout.strip() == "3|2"
    assert server.psql("SELECT s FROM %s WHERE id = 3" % t).stdout == "tab\there\n"
    assert out.read_text() == "1\tone\n2\t\\N\n3\ttab\\there\n"
    server.psql("DROP TABLE %s" % t)


def test_copy_from_large_file(server, tmp_path):
    t = uniq("psql_copybig")
    src = tmp_path / "big.csv"
    with open(src, "w") as f:
        for i in range(50000):
            f.write("%d,name %d\n" % (i, i))
    r = run_psql(server, "-v", "ON_ERROR_STOP=1",
                 "-c", "CREATE TABLE %s(id int, s text)" % t,
                 "-c", r"\copy %s from '%s' with (format csv)" % (t, src))
    assert_ok(r)
    assert "COPY 50000" in r.stdout
    assert server.psql("SELECT count(*), sum(id) FROM %s" % t).stdout.strip() == "50000|%d" % sum(range(50000))
    server.psql("DROP TABLE %s" % t)


def test_error_has_sqlstate_in_verbose_mode(server):
    r = run_psql(server, "-c", r"\set VERBOSITY verbose", "-c", "SELECT * FROM no_such_table_xyz")
    assert r.returncode != 0
    assert "ERROR:  42P01:" in r.stderr, r.stderr
    r = run_psql(server, "-c", r"\set VERBOSITY verbose", "-c", "SELEC 1")
    assert "ERROR:  42601:" in r.stderr, r.stderr
    r = run_psql(server, "-c", r"\set VERBOSITY verbose", "-c", "SELECT 'abc'::int")
    assert "ERROR:  22P02:" in r.stderr or "ERROR:  22018:" in r.stderr, r.stderr


def test_error_stops_script_with_on_error_stop(server):
    r = run_psql(server, "-v", "ON_ERROR_STOP=1", "-c", "SELECT 1", "-c", "SELECT * FROM nope_zz", "-c", "SELECT 3")
    assert r.returncode == 1
    assert "1" in r.stdout and "3" not in r.stdout
    assert "ERROR" in r.stderr
    # the server still answers
    assert server.psql("SELECT 4").stdout.strip() == "4"


def test_ctrl_c_cancels_long_query(server):
    p = subprocess.Popen(psql_cmd(server, "-c", "SELECT count(*) FROM trades a, trades b"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=psql_env(server))
    # let psql log in and start the query (slower under the sanitizer build)
    time.sleep(6.0 if os.environ.get("MADANG_ASAN") else 1.0)
    assert p.poll() is None, "query ended before it could be cancelled: %s" % (p.communicate(),)
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    elapsed = time.time() - t0
    assert elapsed < 5, elapsed
    assert "canceling statement due to user request" in err, (out, err)
    assert p.returncode != 0
    assert server.psql("SELECT count(*) FROM customers").stdout.strip() == "10000"


def test_tls_sslmode_require(server):
    r = subprocess.run(["psql", "-X", "-At", "host=127.0.0.1 port=%d dbname=madang user=admin sslmode=require"
                        % server.pg_port, "-c", "SELECT 1"],
                       capture_output=True, text=True, env=psql_env(server), timeout=30)
    assert_ok(r)
    assert r.stdout.strip() == "1"
    # \conninfo reports the SSL connection
    r = subprocess.run(["psql", "-X", "host=127.0.0.1 port=%d dbname=madang user=admin sslmode=require"
                        % server.pg_port, "-c", r"\conninfo"],
                       capture_output=True, text=True, env=psql_env(server), timeout=30)
    assert r.returncode == 0, r.stderr
    assert "SSL" in r.stdout, r.stdout


def test_tls_verify_full(server):
    crt = os.path.join(server.data_dir, "server.crt")
    assert os.path.exists(crt)
    r = subprocess.run(["psql", "-X", "-At",
                        "host=localhost port=%d dbname=madang user=admin sslmode=verify-full sslrootcert=%s"
                        % (server.pg_port, crt), "-c", "SELECT 1"],
                       capture_output=True, text=True, env=psql_env(server), timeout=30)
    assert_ok(r)
    assert r.stdout.strip() == "1"


def test_tls_verify_full_wrong_host_rejected(server):
    # the certificate names localhost/127.0.0.1/::1 only; a verify-full against a CA that did not
    # sign it must fail (sanity check that verification is really happening)
    crt = os.path.join(server.data_dir, "server.crt")
    r = subprocess.run(["psql", "-X", "-At",
                        "hostaddr=127.0.0.1 host=not-the-server.example port=%d dbname=madang user=admin "
                        "sslmode=verify-full sslrootcert=%s" % (server.pg_port, crt), "-c", "SELECT 1"],
                       capture_output=True, text=True, env=psql_env(server), timeout=30)
    assert r.returncode != 0
    assert "does not match host name" in r.stderr or "certificate" in r.stderr, r.stderr
