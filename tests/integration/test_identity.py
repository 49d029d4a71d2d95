"""Issue 6: configuration file, impersonation, login protection, API tokens,
madang.sessions — against a real madang (LDAP itself: test_ldap.py)."""
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import psycopg
import psycopg2
import pytest

from conftest import MADANG, ROOT, MadangServer

JAR = "/usr/share/java/postgresql.jar"
SECRETS = ["alice-secret-pw", "zep-secret-pw", "bob-secret-pw"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = tmp_path_factory.mktemp("identity")
    conf = d / "madang.conf"
    conf.write_text("# identity test settings\n"
                    "auth.max_failures = 3\n"
                    "auth.failure_window = 10min\n"
                    "auth.lockout = '3s'   # short, so the test can watch it end\n"
                    "impersonation.allowed_hosts.farproxy = 10.0.0.0/8\n")
    s = MadangServer(d / "data", demo=True, extra_args=["--config", str(conf)]).start(timeout=300)
    s.psql("CREATE USER alice PASSWORD 'alice-secret-pw'; CREATE USER bob PASSWORD 'bob-secret-pw'; "
           "CREATE USER zeppelin PASSWORD 'zep-secret-pw'; CREATE USER farproxy PASSWORD 'zep-secret-pw'; "
           "CREATE GROUP notebook_users; ALTER GROUP notebook_users ADD USER alice; "
           "GRANT SELECT ON customers TO alice; GRANT SELECT ON customers TO bob; "
           "CREATE TABLE user_regions (user_name VARCHAR, country VARCHAR); "
           "INSERT INTO user_regions VALUES ('alice', 'KR'); "
           "CREATE POLICY kr ON customers FOR SELECT TO PUBLIC USING "
           "(country IN (SELECT country FROM user_regions WHERE user_name = current_user)); "
           "CREATE MASKING POLICY em AS (v VARCHAR) RETURNS VARCHAR -> mask_email(v); "
           "ALTER TABLE customers ALTER COLUMN email SET MASKING POLICY em; "
           "GRANT IMPERSONATE ON GROUP notebook_users TO USER zeppelin; "
           "GRANT IMPERSONATE ON USER alice TO USER farproxy")
    yield s
    s.stop()


def connect(s, user, pw, **kw):
    return psycopg2.connect(s.dsn(user, pw, **kw))


def rows(conn, sql):
    with conn.cursor() as c:
        c.execute(sql)
        return c.fetchall()


# ---- configuration file ----

@pytest.mark.parametrize("text,needle", [
    ("auth.max_failures = 3\nbogus.key = 1\n", ":2: unknown key \"bogus.key\""),
    ("auth.lockout = soon\n", ":1: bad value \"soon\" for auth.lockout"),
    ("ldap.url = 'ldap://x\n", ":1: unterminated quoted value"),
    ("auth.max_failures 3\n", ":1: expected \"key = value\""),
])
def test_config_errors_name_the_line(tmp_path, text, needle):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    r = subprocess.run([MADANG, "serve", "--data", str(tmp_path / "d"), "--config", str(conf), "--pg-port", "0",
                        "--http-port", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr, r.stderr
    assert not (tmp_path / "d").exists(), "a bad config must not touch the data dir"


def test_config_missing_explicit_file(tmp_path):
    r = subprocess.run([MADANG, "serve", "--data", str(tmp_path / "d"), "--config", str(tmp_path / "none.conf")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cannot read" in r.stderr, r.stderr


# ---- impersonation ----

def test_connect_time_impersonation_sees_exactly_alices_data(srv):
    direct = connect(srv, "alice", "alice-secret-pw")
    imp = connect(srv, "zeppelin", "zep-secret-pw", options="'-c madang.impersonate=alice'")
    for q in ("SELECT current_user", "SELECT id, email, country FROM customers ORDER BY id LIMIT 20",
              "SELECT country, count(*) FROM customers GROUP BY 1 ORDER BY 1"):
        assert rows(direct, q) == rows(imp, q), q
    assert rows(imp, "SELECT count(*) FROM customers")[0][0] == 4000
    assert all("***@" in r[0] for r in rows(imp, "SELECT email FROM customers LIMIT 10"))
    # madang.sessions shows the real user behind the effective one
    sess = rows(imp, "SELECT user_name, real_user, door FROM madang.sessions")
    assert ("alice", "zeppelin", "pgwire") in sess, sess
    # psycopg 3 (extended protocol) too
    with psycopg.connect(srv.dsn("zeppelin", "zep-secret-pw", options="'-c madang.impersonate=alice'"),
                         prepare_threshold=0) as c3:
        assert c3.execute("SELECT count(*) FROM customers").fetchone()[0] == 4000
    direct.close()
    imp.close()


def test_impersonation_without_grant_is_refused(srv):
    with pytest.raises(psycopg2.OperationalError) as e:
        connect(srv, "zeppelin", "zep-secret-pw", options="'-c madang.impersonate=bob'")
    assert "permission denied to impersonate" in str(e.value)
    with pytest.raises(psycopg2.OperationalError) as e:
        connect(srv, "zeppelin", "zep-secret-pw", options="'-c madang.impersonate=admin'")
    assert "superuser" in str(e.value)
    with pytest.raises(psycopg.OperationalError) as e3:
        psycopg.connect(srv.dsn("zeppelin", "zep-secret-pw", options="'-c madang.impersonate=bob'"))
    assert e3.value.sqlstate in ("28000", None) and "impersonate" in str(e3.value)


def test_allowed_hosts(srv):
    with pytest.raises(psycopg2.OperationalError) as e:
        connect(srv, "farproxy", "zep-secret-pw", options="'-c madang.impersonate=alice'")
    assert "allowed_hosts" in str(e.value)


def test_set_session_authorization(srv):
    z = connect(srv, "zeppelin", "zep-secret-pw")
    z.autocommit = True
    assert rows(z, "SELECT current_user")[0][0] == "zeppelin"
    with z.cursor() as c:
        c.execute("SET SESSION AUTHORIZATION 'alice'")
        assert z.get_parameter_status("session_authorization") == "alice"
    assert rows(z, "SELECT current_user")[0][0] == "alice"
    assert rows(z, "SELECT count(*) FROM customers")[0][0] == 4000
    with z.cursor() as c:
        c.execute("RESET SESSION AUTHORIZATION")
    assert rows(z, "SELECT current_user")[0][0] == "zeppelin"
    with z.cursor() as c, pytest.raises(psycopg2.Error) as e:
        c.execute("SET SESSION AUTHORIZATION 'bob'")
    assert e.value.pgcode == "42501"
    z.close()
    # a user without any IMPERSONATE grant
    b = connect(srv, "bob", "bob-secret-pw")
    b.autocommit = True
    with b.cursor() as c, pytest.raises(psycopg2.Error) as e:
        c.execute("SET SESSION AUTHORIZATION 'alice'")
    assert e.value.pgcode == "42501" and "impersonate" in e.value.pgerror
    b.close()
    # an impersonated session cannot impersonate further, nor go back to the proxy
    imp = connect(srv, "zeppelin", "zep-secret-pw", options="'-c madang.impersonate=alice'")
    imp.autocommit = True
    for sql in ("SET SESSION AUTHORIZATION 'zeppelin'", "RESET SESSION AUTHORIZATION"):
        with imp.cursor() as c, pytest.raises(psycopg2.Error) as e:
            c.execute(sql)
        assert e.value.pgcode == "42501", sql
    imp.close()


@pytest.fixture(scope="module")
def jclasses(tmp_path_factory):
    assert shutil.which("javac") and os.path.exists(JAR)
    out = tmp_path_factory.mktemp("jimp")
    r = subprocess.run(["javac", "-encoding", "UTF-8", "-cp", JAR, "-d", str(out),
                        os.path.join(ROOT, "tests", "java", "ImpersonationTest.java")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return str(out)


def test_jdbc_zeppelin_style_impersonation(srv, jclasses):
    url = "jdbc:postgresql://127.0.0.1:%d/madang?sslmode=disable&prepareThreshold=1" % srv.pg_port
    r = subprocess.run(["java", "-cp", JAR + os.pathsep + jclasses, "ImpersonationTest", url, "zeppelin",
                        "zep-secret-pw", "alice", "alice-secret-pw", "bob"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK refused" in r.stdout and "OK no.further" in r.stdout and ", 0 failed" in r.stdout


# ---- login protection ----

def test_lockout_and_unlock(srv):
    srv.psql("CREATE USER carol PASSWORD 'carol-secret-pw'")
    for _ in range(3):
        with pytest.raises(psycopg2.OperationalError) as e:
            connect(srv, "carol", "wrong-pw-123")
        assert "password authentication failed" in str(e.value)
    with pytest.raises(psycopg2.OperationalError) as e:
        connect(srv, "carol", "carol-secret-pw")
    assert "locked" in str(e.value)
    srv.psql("ALTER USER carol ACCOUNT UNLOCK")
    connect(srv, "carol", "carol-secret-pw").close()
    # the lock also ends by itself after auth.lockout (3 s here)
    for _ in range(3):
        with pytest.raises(psycopg2.OperationalError):
            connect(srv, "carol", "wrong-pw-123")
    with pytest.raises(psycopg2.OperationalError):
        connect(srv, "carol", "carol-secret-pw")
    time.sleep(3.5)
    connect(srv, "carol", "carol-secret-pw").close()
    log = srv.read_log()
    assert 'event=login_failed user="carol"' in log
    assert 'event=account_locked user="carol"' in log
    assert "wrong-pw-123" not in log


def test_unlock_needs_superuser(srv):
    r = srv.psql("ALTER USER alice ACCOUNT UNLOCK", user="alice", password="alice-secret-pw", check=False)
    assert r.returncode != 0 and "superuser" in r.stderr


def test_failed_login_timing_does_not_reveal_existence(srv):
    def t(user):
        best = 1e9
        for _ in range(5):
            t0 = time.perf_counter()
            with pytest.raises(psycopg2.OperationalError):
                connect(srv, user, "nope-nope")
            best = min(best, time.perf_counter() - t0)
        return best
    known, unknown = t("bob"), t("nobody_here")
    srv.psql("ALTER USER bob ACCOUNT UNLOCK")
    assert abs(known - unknown) < max(0.02, 0.5 * min(known, unknown)), (known, unknown)


# ---- tokens ----

def http(srv, path, body, headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (srv.http_port, path), data=json.dumps(body).encode(),
                                 headers=dict({"Content-Type": "application/json"}, **(headers or {})),
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_tokens_expiry_and_revocation(srv):
    r = srv.psql("CREATE TOKEN FOR USER alice", extra=["-F", "\t"])
    tid, tok, user, expires = r.stdout.rstrip("\n").split("\t")
    assert tok.startswith("mdt_") and user == "alice"
    st, body = http(srv, "/api/v1/query", {"sql": "SELECT current_user, count(*) FROM customers"},
                    {"Authorization": "Bearer " + tok})
    assert st == 200 and body["rows"] == [["alice", 4000]], body
    # listed without the secret
    listed = srv.psql("SELECT * FROM madang.tokens WHERE token_id = %s" % tid).stdout
    assert tok not in listed and "alice" in listed
    srv.psql("DROP TOKEN %s" % tid)
    st, body = http(srv, "/api/v1/query", {"sql": "SELECT 1"}, {"Authorization": "Bearer " + tok})
    assert st == 401, body
    # expired
    r = srv.psql("CREATE TOKEN FOR USER alice EXPIRES '2001-01-01'", extra=["-F", "\t"])
    old = r.stdout.rstrip("\n").split("\t")[1]
    st, body = http(srv, "/api/v1/query", {"sql": "SELECT 1"}, {"Authorization": "Bearer " + old})
    assert st == 401, body
    assert srv.psql("SELECT expired FROM madang.tokens WHERE expires_at < '2002-01-01'").stdout.strip() == "t"
    # a user may create their own, not someone else's
    r = srv.psql("CREATE TOKEN FOR USER bob", user="alice", password="alice-secret-pw", check=False)
    assert r.returncode != 0 and "superusers" in r.stderr
    mine = srv.psql("CREATE TOKEN", user="alice", password="alice-secret-pw", extra=["-F", "\t"]).stdout
    assert mine.split("\t")[2] == "alice"
    # secrets never stored or logged
    log = srv.read_log()
    meta = open(os.path.join(srv.data_dir, "meta.db"), "rb").read()
    for secret in [tok, old] + SECRETS:
        assert secret not in log, secret
        assert secret.encode() not in meta, secret


def test_http_login_and_impersonation_header(srv):
    st, body = http(srv, "/api/v1/login", {"user": "zeppelin", "password": "zep-secret-pw"})
    assert st == 200 and body["token"].startswith("mdt_"), body
    tok = body["token"]
    st, body = http(srv, "/api/v1/query", {"sql": "SELECT current_user, count(*) FROM customers"},
                    {"Authorization": "Bearer " + tok, "X-Madang-Impersonate": "alice"})
    assert st == 200 and body["rows"] == [["alice", 4000]], body
    st, body = http(srv, "/api/v1/query", {"sql": "SELECT 1"},
                    {"Authorization": "Bearer " + tok, "X-Madang-Impersonate": "bob"})
    assert st == 403 and "impersonate" in body["error"]["message"], body
    st, body = http(srv, "/api/v1/login", {"user": "zeppelin", "password": "wrong-pw-123"})
    assert st == 401
    assert "wrong-pw-123" not in srv.read_log()
    assert tok not in srv.read_log()


def test_passwords_never_in_views_or_logs(srv):
    out = srv.psql("SELECT * FROM madang.users").stdout + srv.psql("SELECT * FROM madang.sessions").stdout
    for secret in SECRETS:
        assert secret not in out
        assert secret not in srv.read_log()
