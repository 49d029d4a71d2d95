"""Issue 2: the binary, its data dir, its lock, bad input, clean shutdown."""
import os
import signal
import socket
import stat
import subprocess
import time
import urllib.request

import pytest

from conftest import MADANG, ROOT, MadangServer, free_port


def run(args, **kw):
    return subprocess.run([MADANG] + args, capture_output=True, text=True, timeout=60, **kw)


def test_help_and_version():
    r = run(["--help"])
    assert r.returncode == 0 and "serve" in r.stdout
    r = run(["serve", "--help"])
    assert r.returncode == 0 and "--data" in r.stdout and "--pg-port" in r.stdout
    r = run(["version"])
    assert r.returncode == 0 and r.stdout.startswith("madang ")


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["serve", "--bogus"], ["serve", "--pg-port"],
                                  ["serve", "--pg-port", "notaport"], ["serve", "extra-arg"]])
def test_bad_usage_exits_2(args, tmp_path):
    r = run(args, cwd=tmp_path)
    assert r.returncode == 2, r
    assert "usage" in r.stderr.lower() or "bad port" in r.stderr
    assert not os.path.exists(tmp_path / "madang-data"), "bad usage must not create a data dir"


def test_data_dir_created_with_random_admin_password(tmp_path):
    d = tmp_path / "data"
    s = MadangServer(d, admin_password=None).start()
    try:
        for name in ("VERSION", "meta.db", "warehouse.duckdb", "admin.password", "server.crt", "server.key"):
            assert (d / name).exists(), name
        assert open(d / "VERSION").read().startswith("madang data format ")
        mode = stat.S_IMODE(os.stat(d / "admin.password").st_mode)
        assert mode == 0o600
        pw = open(d / "admin.password").read().strip()
        assert len(pw) >= 16
        log = s.read_log()
        assert log.count(pw) == 1, "the generated password is printed exactly once"
        r = s.psql("SELECT 1", password=pw)
        assert r.stdout.strip() == "1"
        # meta.db is SQLite in WAL mode
        import sqlite3
        con = sqlite3.connect(str(d / "meta.db"))
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA user_version").fetchone()[0] >= 1
        con.close()
    finally:
        assert s.stop() == 0
    # reopen: same password, no new one printed
    s2 = MadangServer(d, admin_password=None)
    s2.pg_port, s2.http_port = free_port(), free_port()
    s2.start()
    try:
        assert open(d / "admin.password").read().strip() == pw
        assert s2.psql("SELECT 2", password=pw).stdout.strip() == "2"
        assert s2.read_log().count(pw) == 1
    finally:
        assert s2.stop() == 0


def test_lock_refuses_second_server(fresh_server):
    s2 = MadangServer(fresh_server.data_dir)
    r = subprocess.run(s2.args(), capture_output=True, text=True, timeout=60, env=s2.env)
    assert r.returncode != 0
    assert "in use by another madang server" in r.stderr
    # the first one is unharmed
    assert fresh_server.psql("SELECT 42").stdout.strip() == "42"


def test_port_in_use_leaves_new_dir_untouched(tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    d = tmp_path / "new"
    r = run(["serve", "--data", str(d), "--pg-port", str(port), "--http-port", str(free_port())])
    blocker.close()
    assert r.returncode != 0
    assert "cannot listen" in r.stderr and str(port) in r.stderr
    assert len(r.stderr.strip().splitlines()) >= 1
    assert not d.exists(), "a refused start must not create the data dir"


def test_foreign_dir_refused_untouched(tmp_path):
    d = tmp_path / "foreign"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    r = run(["serve", "--data", str(d), "--pg-port", str(free_port()), "--http-port", str(free_port())])
    assert r.returncode != 0
    assert "not a madang data dir" in r.stderr
    assert sorted(os.listdir(d)) == ["notes.txt"]


def test_newer_format_refused_untouched(tmp_path):
    d = tmp_path / "newer"
    d.mkdir()
    (d / "VERSION").write_text("madang data format 99\n")
    r = run(["serve", "--data", str(d), "--pg-port", str(free_port()), "--http-port", str(free_port())])
    assert r.returncode != 0
    assert "newer" in r.stderr and "upgrade madang" in r.stderr
    assert sorted(os.listdir(d)) == ["VERSION"]


def test_unwritable_dir_refused(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    os.chmod(d, 0o555)
    os.chmod(tmp_path, 0o755)
    cmd = [MADANG, "serve", "--data", str(d), "--pg-port", str(free_port()), "--http-port", str(free_port())]
    if os.geteuid() == 0:
        # root may write anywhere; run as an unprivileged user to see the refusal
        cmd = ["runuser", "-u", "nobody", "--"] + cmd
        for p in [tmp_path] + list(tmp_path.parents):
            if str(p) == "/":
                break
            os.chmod(p, os.stat(p).st_mode | 0o005)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "not writable" in r.stderr
    assert os.listdir(d) == []


def test_healthz_and_metrics(fresh_server):
    with urllib.request.urlopen(fresh_server.http_url("/api/v1/healthz")) as r:
        import json
        body = json.loads(r.read())
        assert body["status"] == "ok" and body["engine"].startswith("v1.4")
    fresh_server.psql("SELECT 1")
    with urllib.request.urlopen(fresh_server.http_url("/metrics")) as r:
        text = r.read().decode()
    assert "madang_uptime_seconds" in text
    assert "madang_connections_total" in text
    assert 'madang_statements_total{kind="select",outcome="ok"}' in text
    line = [l for l in text.splitlines() if l.startswith('madang_statements_total{kind="select",outcome="ok"}')][0]
    assert float(line.split()[-1]) >= 1
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(fresh_server.http_url("/api/v1/nope"))
    assert e.value.code == 404


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_keeps_committed_rows(tmp_path, sig):
    d = tmp_path / "data"
    s = MadangServer(d).start()
    s.psql("CREATE TABLE t (id INTEGER, v VARCHAR)")
    s.psql("INSERT INTO t SELECT i, 'row ' || i FROM range(1000) r(i)")
    s.psql("BEGIN; INSERT INTO t VALUES (-1, 'in tx'); COMMIT;")
    rc = s.stop(sig)
    assert rc == 0, s.read_log()[-3000:]
    log = s.read_log()
    assert "event=server_stopping" in log and "event=server_stopped" in log
    s2 = MadangServer(d)
    s2.start()
    try:
        assert s2.psql("SELECT count(*) FROM t").stdout.strip() == "1001"
    finally:
        assert s2.stop() == 0


def test_log_lines_have_level_and_event(fresh_server):
    fresh_server.psql("SELECT 1")
    lines = [l for l in fresh_server.read_log().splitlines() if l.strip()]
    started = [l for l in lines if "event=server_started" in l]
    assert started and "level=info" in started[0] and "pg_port=" in started[0]


def test_deps_is_idempotent_and_quick():
    t0 = time.time()
    r = subprocess.run([os.path.join(ROOT, "scripts", "deps")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    t1 = time.time()
    r = subprocess.run([os.path.join(ROOT, "scripts", "deps")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert time.time() - t1 < 10, "deps should be quick when everything is present"
    assert r.stdout.strip() == "", "nothing to install the second time: " + r.stdout
    assert os.path.exists(os.path.join(ROOT, "third_party", "duckdb", "libduckdb.so"))
