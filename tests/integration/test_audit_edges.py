"""Issue 7, the edges of "every statement, exactly once, no secrets": secrets in
every spelling PostgreSQL accepts, statements refused inside an aborted
transaction, refused HTTP impersonation, governance refused while it runs,
COPY that fails on its data, export --since as a time, retention (segments,
index, anchors) and verify's anchors."""
import glob
import json
import os
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import psycopg
import psycopg2
import pytest

from conftest import MADANG, MadangServer
from test_audit import records, statements  # the segments' records; statements with their completion

FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = tmp_path_factory.mktemp("audit_edges")
    s = MadangServer(d / "data", demo=True).start(timeout=300)
    s.psql("CREATE USER alice PASSWORD 'alice-edge-pw'; CREATE USER bob PASSWORD 'bob-edge-pw'; "
           "CREATE USER zeppelin PASSWORD 'zep-edge-pw'; GRANT IMPERSONATE ON USER alice TO USER zeppelin; "
           "GRANT SELECT ON customers TO alice; CREATE TABLE edge_notes (id INTEGER, body VARCHAR); "
           "GRANT ALL ON edge_notes TO alice")
    yield s
    s.stop()




def connect(s, user="admin", password=None):
    c = psycopg2.connect(s.dsn(user, password))
    c.autocommit = True
    return c


def audit_log(s, where):
    c = connect(s)
    cur = c.cursor()
    cur.execute("SELECT statement, decision, rule, sqlstate, kind, type, user_name, real_user, door, outcome "
                "FROM madang.audit_log WHERE " + where + " ORDER BY seq")
    rows = cur.fetchall()
    c.close()
    return rows


SECRETS = [
    ("CREATE USER s2 WITH PASSWORD $$SecretDollar02$$", True),
    ("CREATE USER s3 WITH PASSWORD $tag$SecretDollarTag03$tag$", True),
    ("CREATE USER s9 PASSWORD/*c*/'SecretComment09'", True),
    ("CREATE USER s10 PASSWORD -- c\n 'SecretComment10'", True),
    ("CREATE USER s14 WITH PASSWORD U&'SecretUnicode14'", None),  # refused or not: never recorded
    ("ALTER USER s2 WITH PASSWORD E'SecretEscape\\'15'", True),
    ("CREATE SECRET s16 (TYPE s3, KEY_ID 'SecretKeyId16', SECRET 'SecretValue16')", False),
    ("ATTACH 'host=127.0.0.1 password=SecretConn17' AS pg17 (TYPE postgres)", False),
]


@pytest.mark.parametrize("proto", ["simple", "extended"])
def test_secrets_in_every_spelling_never_recorded(srv, proto):
    # psycopg2 sends simple queries, psycopg 3 extended ones
    c = psycopg2.connect(srv.dsn()) if proto == "simple" else psycopg.connect(srv.dsn())
    c.autocommit = True
    for sql, ok in SECRETS:
        sql = re.sub(r"\b(s\d+)\b", lambda m: m.group(1) + proto[0], sql)
        try:
            c.cursor().execute(sql)
            worked = True
        except (psycopg.Error, psycopg2.Error):
            worked = False
        if ok is not None:
            assert worked == ok, sql
    c.close()
    time.sleep(0.3)  # the index follows the segments
    places = {}
    for p in glob.glob(os.path.join(srv.data_dir, "audit", "segment-*.jsonl")):
        places[p] = open(p, encoding="utf-8", errors="replace").read()
    places["log"] = open(srv.log_path, encoding="utf-8", errors="replace").read()
    m = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.data_dir, "meta.db"), uri=True)
    places["index"] = "\n".join(str(r) for r in m.execute("SELECT statement, rule, error FROM audit_index"))
    m.close()
    places["audit_log"] = "\n".join(str(r) for r in audit_log(srv, "true"))
    r = subprocess.run([MADANG, "audit", "export", "--data", srv.data_dir, "--format", "syslog"],
                       capture_output=True, text=True, timeout=60)
    places["export"] = r.stdout
    for where, text in places.items():
        assert "Secret" not in text, (where, [line for line in text.splitlines() if "Secret" in line][:3])
    # the statements are there, their secrets replaced
    assert statements(srv, "CREATE USER s2%s WITH PASSWORD '***'" % proto[0])


def test_statements_in_an_aborted_transaction_are_recorded(srv):
    # simple protocol (psycopg2) and extended (psycopg 3): each statement sent once, on the record once
    a = psycopg2.connect(srv.dsn("alice", "alice-edge-pw"))
    cur = a.cursor()
    with pytest.raises(psycopg2.Error):
        cur.execute("SELECT * FROM trades /* ab-denied */")
    for marker in ("ab-second", "ab-third"):
        with pytest.raises(psycopg2.Error) as e:
            cur.execute("SELECT id FROM customers LIMIT 1 /* %s */" % marker)
        assert e.value.pgcode == "25P02"
    a.rollback()
    a.close()
    b = psycopg.connect(srv.dsn("alice", "alice-edge-pw"))
    with pytest.raises(psycopg.Error):
        b.execute("SELECT 1/0::INTEGER, CAST('x' AS INTEGER) /* ab3-failed */")
    with pytest.raises(psycopg.Error) as e:
        b.execute("INSERT INTO edge_notes VALUES (%s, %s) /* ab3-insert */", (1, "x"))
    assert e.value.sqlstate == "25P02"
    b.rollback()
    b.close()
    for marker in ("ab-second", "ab-third", "ab3-insert"):
        got = statements(srv, marker)
        assert len(got) == 1, (marker, got)
        rec, _ = got[0]
        assert rec["sqlstate"] == "25P02" and rec["decision"] == "error" and rec["user"] == "alice"
    assert len(statements(srv, "ab-denied")) == 1 and len(statements(srv, "ab3-failed")) == 1


def http(srv, path, body=None, headers=None):
    req = urllib.request.Request(srv.http_url(path), data=json.dumps(body).encode() if body is not None else None,
                                 headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_refused_http_impersonation_is_recorded(srv):
    st, body = http(srv, "/api/v1/login", {"user": "zeppelin", "password": "zep-edge-pw"})
    assert st == 200
    tok = body["token"]
    st, body = http(srv, "/api/v1/query", {"sql": "SELECT 1 /* imp-refused */"},
                    {"Authorization": "Bearer " + tok, "X-Madang-Impersonate": "bob"})
    assert st == 403 and body["error"]["code"] == "42501"
    logins = [r for r in records(srv) if r["type"] == "login" and r.get("user") == "bob"
              and r.get("real_user") == "zeppelin"]
    assert logins and logins[-1]["outcome"] == "failure" and logins[-1]["door"] == "http"
    assert logins[-1]["sqlstate"] == "42501" and "bob" in logins[-1]["reason"]
    assert not statements(srv, "imp-refused")  # it never ran
    # allowed impersonation still works and is recorded as alice, by zeppelin
    st, body = http(srv, "/api/v1/query", {"sql": "SELECT 2 /* imp-allowed */"},
                    {"Authorization": "Bearer " + tok, "X-Madang-Impersonate": "alice"})
    assert st == 200
    (rec, _), = statements(srv, "imp-allowed")
    assert rec["user"] == "alice" and rec["real_user"] == "zeppelin" and rec["door"] == "http"


def test_governance_refused_while_it_runs_is_denied(srv):
    a = connect(srv, "alice", "alice-edge-pw")
    for sql in ["GRANT SELECT ON customers TO bob /* gov-grant */",
                "CREATE USER s21 PASSWORD 'gov-pw-21' /* gov-user */",
                "SET SESSION AUTHORIZATION 'bob' /* gov-sess */"]:
        with pytest.raises(psycopg2.Error) as e:
            a.cursor().execute(sql)
        assert e.value.pgcode == "42501", sql
    a.close()
    time.sleep(0.3)
    for marker in ("gov-grant", "gov-user", "gov-sess"):
        (rec, comp), = statements(srv, marker)
        assert comp["sqlstate"] == "42501" and comp["decision"] == "denied" and comp["rule"], marker
        rows = audit_log(srv, "statement LIKE '%%%s%%'" % marker)
        assert [(r[1], r[3]) for r in rows] == [("denied", "42501")], (marker, rows)
        assert rows[0][2]  # the rule
    assert audit_log(srv, "decision = 'denied' AND statement LIKE '%gov-grant%'")


def test_copy_that_fails_on_its_data_records_why(srv):
    c = connect(srv)
    cur = c.cursor()
    import io
    with pytest.raises(psycopg2.Error) as e:
        cur.copy_expert("COPY edge_notes FROM STDIN /* copy-bad-int */", io.StringIO("1\tok\nnotanumber\tx\n"))
    code = e.value.pgcode
    with pytest.raises(psycopg2.Error) as e:
        cur.copy_expert("COPY edge_notes FROM STDIN /* copy-short */", io.StringIO("1\n"))
    short_code = e.value.pgcode
    c.close()
    (rec, comp), = statements(srv, "copy-bad-int")
    assert comp["sqlstate"] == code and comp["sqlstate"] != "57014" and "notanumber" in comp["error"]
    (rec, comp), = statements(srv, "copy-short")
    assert comp["sqlstate"] == short_code == "22P04"
    assert comp["rows"] == 0


def export(data, *args):
    return subprocess.run([MADANG, "audit", "export", "--data", data, "--format", "jsonl", *args],
                          capture_output=True, text=True, timeout=60)


def test_export_since_compares_times(srv):
    recs = records(srv)
    mid = recs[len(recs) // 2]["ts"]  # 2026-11-27T05:12:12.123456Z
    want = len([r for r in recs if r["ts"] >= mid])
    iso = export(srv.data_dir, "--since", mid)
    assert iso.returncode == 0
    n = len(iso.stdout.splitlines())
    assert n >= want  # records written since the listing are in too
    pg = export(srv.data_dir, "--since", mid.replace("T", " ").rstrip("Z"))
    assert pg.returncode == 0 and abs(len(pg.stdout.splitlines()) - n) <= 5
    hh = int(mid[11:13])
    shifted = mid[:11] + "%02d" % ((hh + 9) % 24) + mid[13:].rstrip("Z") + "+09:00"
    if hh + 9 < 24:  # the same instant in Seoul
        off = export(srv.data_dir, "--since", shifted)
        assert off.returncode == 0 and abs(len(off.stdout.splitlines()) - n) <= 5
    day = export(srv.data_dir, "--since", mid[:10])
    assert day.returncode == 0 and len(day.stdout.splitlines()) >= n
    bad = export(srv.data_dir, "--since", "garbage")
    assert bad.returncode == 2 and "not a time" in bad.stderr and bad.stdout == ""


def verify(data, anchor=None):
    return subprocess.run([MADANG, "audit", "verify", "--data", data] + (["--anchor", anchor] if anchor else []),
                          capture_output=True, text=True, timeout=120)


def test_verify_anchor_forms(srv):
    r = verify(srv.data_dir)
    assert r.returncode == 0, r.stderr
    m = re.search(r"keep (\d+):([0-9a-f]{64}) as an anchor", r.stdout)
    assert m
    assert verify(srv.data_dir, "%s:%s" % (m.group(1), m.group(2))).returncode == 0
    assert verify(srv.data_dir, m.group(2)).returncode == 0
    bad = verify(srv.data_dir, "zzzz")
    assert bad.returncode == 2 and "64 hex digits" in bad.stderr
    # a record replaced under an anchor that names its seq: named
    early = records(srv)[5]
    wrong = "0" * 64
    r = verify(srv.data_dir, "%d:%s" % (early["seq"], wrong))
    assert r.returncode == 1 and "record seq %d" % early["seq"] in r.stderr


def test_retention_purges_segments_index_and_keeps_anchors(tmp_path):
    assert os.path.exists(FAKETIME), "faketime is installed by scripts/deps"
    conf = tmp_path / "madang.conf"
    conf.write_text("audit.segment_max_mb = 1\naudit.retention_days = 1\n")
    s = MadangServer(tmp_path / "data", extra_args=["--config", str(conf)]).start()
    c = connect(s)
    cur = c.cursor()
    # over 1 MB of records: a few segments
    big = "x" * 20000
    for i in range(80):
        cur.execute("SELECT %s AS pad /* ret-old-" + str(i) + " */", (big,))
    c.close()
    assert s.stop() == 0
    segs = sorted(glob.glob(os.path.join(s.data_dir, "audit", "segment-*.jsonl")))
    assert len(segs) >= 2
    first = [json.loads(line) for line in open(segs[0])]
    anchor_rec = first[3]
    last_of_first = first[-1]
    # three days later, retention of one day purges every segment but the newest
    env = {"LD_PRELOAD": FAKETIME, "FAKETIME": "+3d", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    if os.environ.get("MADANG_ASAN"):  # the sanitizer's runtime wants to be loaded first
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    s2 = MadangServer(tmp_path / "data", extra_args=["--config", str(conf)], env=env)
    s2.start()
    try:
        left = sorted(glob.glob(os.path.join(s.data_dir, "audit", "segment-*.jsonl")))
        assert segs[0] not in left and left
        purges = [r for r in records(s2) if r["type"] == "purge"]
        assert len(purges) == 1 and purges[0]["retention_days"] == 1
        through = purges[0]["through_seq"]
        assert through >= last_of_first["seq"]
        # the index forgets what the trail no longer holds
        c = connect(s2)
        cur = c.cursor()
        cur.execute("SELECT count(*), min(seq) FROM madang.audit_log WHERE seq <= %s", (through,))
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM madang.audit_log WHERE statement LIKE '%%ret-old-0 %%'")
        assert cur.fetchone()[0] == 0
        c.close()
    finally:
        assert s2.stop() == 0
    assert verify(s.data_dir).returncode == 0
    # an anchor whose record was purged: with its seq it passes, bare it cannot be told from a cut
    r = verify(s.data_dir, "%d:%s" % (anchor_rec["seq"], anchor_rec["hash"]))
    assert r.returncode == 0 and "purged by retention" in r.stdout, r.stderr
    r = verify(s.data_dir, anchor_rec["hash"])
    assert r.returncode == 1 and "purged by retention" in r.stderr
    # the last record purged is named by the purge record itself
    r = verify(s.data_dir, purges[0]["through_hash"])
    assert r.returncode == 0, r.stderr


def test_objects_written_and_read_down_to_columns(srv):
    c = connect(srv)
    cur = c.cursor()
    cur.execute("CREATE TABLE obj_t (a INTEGER, b VARCHAR, c INTEGER DEFAULT 5) /* ob-create */")
    cur.execute("INSERT INTO obj_t (b) VALUES ('y') /* ob-insert-b */")
    cur.execute("INSERT INTO obj_t VALUES (1, 'x', 2) /* ob-insert-all */")
    cur.execute("UPDATE obj_t SET c = a + 1 WHERE b = 'x' /* ob-update */")
    cur.execute("CREATE TABLE obj_t2 AS SELECT a, b FROM obj_t /* ob-ctas */")
    cur.execute("CREATE VIEW obj_v AS SELECT a, b FROM obj_t")
    cur.execute("SELECT a FROM obj_v /* ob-view */")
    cur.execute("DELETE FROM obj_t WHERE a = 1 /* ob-delete */")
    import io
    cur.copy_expert("COPY obj_t (a, b) FROM STDIN /* ob-copy */", io.StringIO("7\tz\n"))
    c.close()

    def objs(marker):
        (rec, _), = statements(srv, marker)
        return sorted((o["object"], o["access"], sorted(o["columns"])) for o in rec["objects"])

    assert objs("ob-insert-b") == [("main.obj_t", "insert", ["b"])]
    assert objs("ob-insert-all") == [("main.obj_t", "insert", ["a", "b", "c"])]
    assert objs("ob-update") == [("main.obj_t", "read", ["a", "b"]), ("main.obj_t", "update", ["c"])]
    assert objs("ob-ctas") == [("main.obj_t", "read", ["a", "b"]), ("main.obj_t2", "create", ["a", "b"])]
    # through a view: the columns the statement uses, not all the view reads
    assert objs("ob-view") == [("main.obj_t", "read", ["a"])]
    assert objs("ob-delete") == [("main.obj_t", "delete", []), ("main.obj_t", "read", ["a"])]
    # COPY FROM is a write of its columns, not a read
    assert objs("ob-copy") == [("main.obj_t", "insert", ["a", "b"])]


def test_denied_statement_names_what_it_would_touch(srv):
    a = connect(srv, "alice", "alice-edge-pw")
    with pytest.raises(psycopg2.Error) as e:
        a.cursor().execute("SELECT price FROM trades WHERE id = 1 /* den-select */")
    assert e.value.pgcode == "42501"
    with pytest.raises(psycopg2.Error):
        a.cursor().execute("UPDATE customers SET email = 'x' WHERE id = 1 /* den-update */")
    a.close()
    (rec, _), = statements(srv, "den-select")
    assert rec["decision"] == "denied" and rec["kind"] == "select" and rec["tag"] == "SELECT"
    assert [(o["object"], o["access"], sorted(o["columns"])) for o in rec["objects"]] == [
        ("main.trades", "read", ["id", "price"])]
    (rec, _), = statements(srv, "den-update")
    assert rec["decision"] == "denied" and rec["kind"] == "update"
    assert ("main.customers", "update", ["email"]) in [(o["object"], o["access"], o["columns"]) for o in rec["objects"]]


def test_audit_log_columns_and_http_filters(srv):
    c = connect(srv)
    cur = c.cursor()
    cur.execute("CREATE VIEW edge_v AS SELECT id, country FROM customers")
    for i in range(3):
        cur.execute("SELECT id FROM edge_v /* via-view-%d */" % i)
    with pytest.raises(psycopg2.Error):
        cur.execute("SELECT CAST('x' AS INTEGER) FROM customers /* runtime-err */")
    c.close()
    time.sleep(0.3)
    c = connect(srv)
    cur = c.cursor()
    cur.execute("SELECT tag, direct_objects::VARCHAR FROM madang.audit_log WHERE statement LIKE '%via-view-0%'")
    tag, direct = cur.fetchone()
    assert tag == "SELECT" and json.loads(direct) == [{"kind": "view", "object": "main.edge_v"}]
    cur.execute("SELECT sqlstate, error FROM madang.audit_log WHERE statement LIKE '%runtime-err%'")
    st, err = cur.fetchone()
    assert st == "22018" or st.startswith("22"), st
    assert err and "x" in err
    c.close()
    st, body = http(srv, "/api/v1/login", {"user": "admin", "password": srv.admin_password})
    tok = body["token"]
    hdr = {"Authorization": "Bearer " + tok}
    # by the view's name (what was named), and by a table without its schema
    st, body = http(srv, "/api/v1/audit?type=statement&table=main.edge_v", None, hdr)
    assert st == 200 and body["row_count"] >= 3
    st, body2 = http(srv, "/api/v1/audit?type=statement&table=edge_v", None, hdr)
    assert st == 200 and body2["row_count"] == body["row_count"]
    st, body = http(srv, "/api/v1/audit?type=statement&table=customers", None, hdr)
    assert st == 200 and body["row_count"] >= 3
    # limit says when there is more
    st, body = http(srv, "/api/v1/audit?limit=2", None, hdr)
    assert st == 200 and body["row_count"] == 2 and len(body["rows"]) == 2 and body["truncated"] is True
    st, body = http(srv, "/api/v1/audit?type=statement&table=main.edge_v&limit=1000", None, hdr)
    assert body["truncated"] is False


def test_fingerprint_groups_statements_of_one_shape(srv):
    c = connect(srv)
    cur = c.cursor()
    same = ["SELECT id FROM customers WHERE id = 5 /* fp-1 */",
            "select  id from customers where id=7 /* fp-2 */",
            "SELECT id\n  FROM Customers WHERE id = -5 /* fp-3 */"]
    for q in same:
        cur.execute(q)
    cur.execute("SELECT id FROM customers WHERE id IN (1, 2, 3) /* fp-in3 */")
    cur.execute("SELECT id FROM customers WHERE id IN (4) /* fp-in1 */")
    cur.execute("SELECT country FROM customers WHERE id = 5 /* fp-other */")
    c.close()
    fp = {m: statements(srv, m)[0][0]["fingerprint"] for m in ("fp-1", "fp-2", "fp-3", "fp-in3", "fp-in1", "fp-other")}
    assert fp["fp-1"] == fp["fp-2"] == fp["fp-3"]
    assert fp["fp-in3"] == fp["fp-in1"]
    assert fp["fp-other"] != fp["fp-1"]


def test_verify_with_an_exported_public_key(tmp_path):
    srv = MadangServer(tmp_path / "data").start()
    srv.psql("SELECT 1")
    assert srv.stop() == 0  # the segment closes with a signed checkpoint
    pub = subprocess.run([MADANG, "audit", "pubkey", "--data", srv.data_dir], capture_output=True, text=True)
    assert pub.returncode == 0 and "PUBLIC KEY" in pub.stdout
    kept = tmp_path / "kept.pub"
    kept.write_text(pub.stdout)
    r = subprocess.run([MADANG, "audit", "verify", "--data", srv.data_dir, "--pubkey", str(kept)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # another key (as after someone replaced the data dir's key pair): the checkpoints do not verify
    other = tmp_path / "other.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(other)], check=True)
    other_pub = tmp_path / "other.pub"
    subprocess.run(["openssl", "pkey", "-in", str(other), "-pubout", "-out", str(other_pub)], check=True)
    r = subprocess.run([MADANG, "audit", "verify", "--data", srv.data_dir, "--pubkey", str(other_pub)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "checkpoint signature does not verify" in r.stderr
    r = subprocess.run([MADANG, "audit", "verify", "--data", srv.data_dir, "--pubkey", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not a public key" in r.stderr


def test_policies_name_the_masks_that_shaped_what_was_read(srv):
    srv.psql("CREATE TABLE pol_t (id INTEGER, secret VARCHAR); INSERT INTO pol_t VALUES (1, 'abc'); "
             "GRANT SELECT ON pol_t TO alice; "
             "CREATE MASKING POLICY pol_m AS (v VARCHAR) RETURNS VARCHAR -> mask_redact(v); "
             "ALTER TABLE pol_t ALTER COLUMN secret SET MASKING POLICY pol_m")
    a = connect(srv, "alice", "alice-edge-pw")
    cur = a.cursor()
    cur.execute("SELECT id FROM pol_t /* pm-id */")
    cur.execute("SELECT id, secret FROM pol_t /* pm-secret */")
    assert cur.fetchall() == [(1, "***")] or cur.rowcount == 1
    a.close()
    (rec, _), = statements(srv, "pm-id")
    assert [p["masks"] for p in rec["policies"] if p.get("table") == "main.pol_t"] == [{}]
    (rec, _), = statements(srv, "pm-secret")
    assert [p["masks"] for p in rec["policies"] if p.get("table") == "main.pol_t"] == [{"secret": "pol_m"}]


def test_second_review_edges(srv, tmp_path):
    # HTTP: non-finite doubles keep their place in the row
    st, body = http(srv, "/api/v1/login", {"user": "admin", "password": srv.admin_password})
    hdr = {"Authorization": "Bearer " + body["token"]}
    st, body = http(srv, "/api/v1/query", {"sql": "SELECT 'inf'::DOUBLE i, 'nan'::DOUBLE n, '-inf'::DOUBLE m, 3 z"},
                    hdr)
    assert st == 200 and body["rows"] == [["Infinity", "NaN", "-Infinity", 3]]
    # a login whose application name is not UTF-8 keeps its fields
    env = {k.encode(): v.encode() for k, v in os.environ.items()}
    env.update({b"PGAPPNAME": b"evil\xff", b"PGPASSWORD": b"wrong-pw-1", b"PGCONNECT_TIMEOUT": b"10"})
    subprocess.run([b"psql", b"-X", b"-h", b"127.0.0.1", b"-p", str(srv.pg_port).encode(), b"-U", b"alice",
                    b"-d", b"madang", b"-c", b"SELECT 1"], env=env, capture_output=True, timeout=60)
    logins = [r for r in records(srv) if r["type"] == "login" and r.get("application_name", "").startswith("evil")]
    assert logins and logins[-1]["user"] == "alice" and logins[-1]["outcome"] == "failure"
    assert logins[-1]["application_name"] == "evil\ufffd" and logins[-1]["client_addr"]
    # the wrong database: a failed login on the record
    with pytest.raises(psycopg2.Error):
        psycopg2.connect(srv.dsn("alice", "alice-edge-pw", dbname="otherdb"))
    assert [r for r in records(srv) if r["type"] == "login" and r.get("sqlstate") == "3D000"
            and r["user"] == "alice"]
    # a Parse of two statements: refused, recorded
    with psycopg.connect(srv.dsn("alice", "alice-edge-pw"), autocommit=True) as c3:
        with pytest.raises(psycopg.Error) as e:
            c3.execute("SELECT %s /* ms-a */; SELECT 2 /* ms-b */", (1,))
        assert e.value.sqlstate == "42601"
    got = [r for r in records(srv) if r["type"] == "statement" and "ms-a" in r.get("statement", "")]
    assert len(got) == 1 and got[0]["sqlstate"] == "42601" and got[0]["decision"] == "error"


def test_errors_name_nothing_the_user_may_not_see(srv):
    srv.psql("CREATE TABLE hid_t (a INTEGER, secretcol INTEGER); CREATE TABLE hid_whole (zz INTEGER); "
             "GRANT SELECT (a) ON hid_t TO alice")
    a = connect(srv, "alice", "alice-edge-pw")
    cur = a.cursor()
    for sql in ["SELECT nope FROM hid_t", "SELECT * FROM hid_whol", "SELECT secretcl FROM hid_t"]:
        with pytest.raises(psycopg2.Error) as e:
            cur.execute(sql)
        text = "%s %s %s" % (e.value.pgerror, e.value.diag.message_hint, e.value.diag.message_detail)
        assert "secretcol" not in text and "hid_whole" not in text, (sql, text)
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("SELECT * FROM hid_whole")
    assert e.value.pgcode == "42501" and "permission denied for table main.hid_whole" in e.value.pgerror
    assert "zz" not in e.value.pgerror and "zz" not in (e.value.diag.message_hint or "")
    a.close()
    # a superuser still gets the engine's hint
    c = connect(srv)
    with pytest.raises(psycopg2.Error) as e:
        c.cursor().execute("SELECT * FROM hid_whol")
    assert "hid_whole" in "%s %s" % (e.value.pgerror, e.value.diag.message_hint)
    c.close()


def test_refused_copy_and_cursor_name_what_they_would_read(srv):
    a = connect(srv, "alice", "alice-edge-pw")
    with pytest.raises(psycopg2.Error):
        a.cursor().copy_expert("COPY trades TO STDOUT /* rc-copy */", __import__("io").StringIO())
    a.close()
    (rec, _), = statements(srv, "rc-copy")
    assert rec["decision"] == "denied" and rec["kind"] == "copy" and rec["tag"] == "COPY"
    assert "main.trades" in [o["object"] for o in rec["objects"]]
    a = psycopg2.connect(srv.dsn("alice", "alice-edge-pw"))
    with pytest.raises(psycopg2.Error):
        a.cursor().execute("DECLARE rc_cur CURSOR FOR SELECT price FROM trades /* rc-declare */")
    a.close()
    (rec, _), = statements(srv, "rc-declare")
    assert rec["decision"] == "denied" and rec["tag"] == "DECLARE CURSOR"
    assert [(o["object"], o["columns"]) for o in rec["objects"]] == [("main.trades", ["price"])]
    assert rec["direct_objects"] == [{"kind": "table", "object": "main.trades"}]


def test_http_audit_times_with_zones_and_anchor_seq(srv):
    st, body = http(srv, "/api/v1/login", {"user": "admin", "password": srv.admin_password})
    hdr = {"Authorization": "Bearer " + body["token"]}
    mid = records(srv)[10]["ts"]  # UTC
    hh = int(mid[11:13])
    if hh + 9 < 24:
        seoul = mid[:11] + "%02d" % (hh + 9) + mid[13:].rstrip("Z") + "+09:00"
        _, a = http(srv, "/api/v1/audit?limit=10000&since=" + urllib.parse.quote(mid), None, hdr)
        _, b = http(srv, "/api/v1/audit?limit=10000&since=" + urllib.parse.quote(seoul), None, hdr)
        assert abs(a["row_count"] - b["row_count"]) <= 3
    st, body = http(srv, "/api/v1/audit?since=yesterday", None, hdr)
    assert st == 400
    # an anchor whose hash belongs to another seq than it names
    r = verify(srv.data_dir)
    m = re.search(r"keep (\d+):([0-9a-f]{64})", r.stdout)
    wrong = verify(srv.data_dir, "%d:%s" % (int(m.group(1)) - 3, m.group(2)))
    assert wrong.returncode == 1 and "that hash is record seq %s's" % m.group(1) in wrong.stderr
    for bad in ("-1:" + m.group(2), "x:" + m.group(2)):
        assert verify(srv.data_dir, bad).returncode == 2


def test_more_secret_spellings_and_fingerprints(srv):
    c = connect(srv)
    cur = c.cursor()
    cur.execute("CREATE USER s22 PASSWORD 'Secr'\n'etCont22'")
    with pytest.raises(psycopg2.Error):
        cur.execute("ATTACH 'postgres://u:SecretUriAttach@h/db' AS p (TYPE postgres)")
    with pytest.raises(psycopg2.Error):
        cur.execute('CREATE USER s23 PASSWORD "SecretIdent23"')
    cur.execute("SELECT id FROM customers WHERE id=-7 /* fpn-1 */")
    cur.execute('SELECT id FROM "customers" WHERE id = -8 /* fpn-2 */')
    c.close()
    # the joined literal is the password
    psycopg2.connect(srv.dsn("s22", "SecretCont22")).close()
    text = "".join(open(p, errors="replace").read()
                   for p in glob.glob(os.path.join(srv.data_dir, "audit", "segment-*.jsonl")))
    text += open(srv.log_path, errors="replace").read()
    for secret in ("etCont22", "Secr'", "SecretUriAttach", "SecretIdent23"):
        assert secret not in text, secret
    assert statements(srv, "fpn-1")[0][0]["fingerprint"] == statements(srv, "fpn-2")[0][0]["fingerprint"]


def test_http_statements_name_their_application(srv):
    st, body = http(srv, "/api/v1/login", {"user": "admin", "password": srv.admin_password})
    hdr = {"Authorization": "Bearer " + body["token"], "User-Agent": "notebook-test/1.0"}
    st, _ = http(srv, "/api/v1/query", {"sql": "SELECT 1 /* app-ua */"}, hdr)
    assert st == 200
    st, _ = http(srv, "/api/v1/query", {"sql": "SELECT 1 /* app-hdr */"}, dict(hdr, **{"X-Madang-Application": "zeppelin"}))
    assert st == 200
    assert statements(srv, "app-ua")[0][0]["application_name"] == "notebook-test/1.0"
    assert statements(srv, "app-hdr")[0][0]["application_name"] == "zeppelin"
