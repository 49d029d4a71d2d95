"""Lineage (issue 8): exact column lineage from the bound plan.

The corpus (tests/lineage/corpus.txt) holds statements with their exact
expected edge sets; each runs against a real server over psycopg2 and the
edges madang recorded for it (madang.lineage_edges, by the statement's audit
sequence number) must equal the expected set, no more, no fewer.

Regenerate a draft of the expectations (then review every line by hand):
    /usr/bin/python3 tests/integration/test_lineage.py --draft > /tmp/draft.txt
"""
import json
import os
import subprocess
import sys
import urllib.request

import psycopg2
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import MADANG, MadangServer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LINEAGE = os.path.join(HERE, "..", "lineage")


def parse_corpus(path):
    """[(name, target, sql, expected edge set or None)]"""
    cases = []
    cur = None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("== "):
            name, target = [p.strip() for p in line[3:].split("->")]
            cur = {"name": name, "target": target, "sql": [], "edges": set(), "in_edges": False}
            cases.append(cur)
        elif cur is None or line.startswith("#"):
            continue
        elif line == "--":
            cur["in_edges"] = True
        elif cur["in_edges"]:
            if line.strip() and line.strip() != "(none)":
                cur["edges"].add(parse_edge(line))
        elif line.strip():
            cur["sql"].append(line)
    return [(c["name"], c["target"], "\n".join(c["sql"]), c["edges"]) for c in cases]


def parse_edge(line):
    # "col <- schema.table.col TYPE SUBTYPE" ("*" for a table-wide edge)
    left, right = line.split("<-")
    src, typ, sub = right.split()
    st, sc = src.rsplit(".", 1)
    tc = left.strip()
    return (None if tc == "*" else tc, st, None if sc == "*" else sc, typ, sub)


def fmt_edge(e):
    tc, st, sc, typ, sub = e
    return "%s <- %s.%s %s %s" % (tc or "*", st, sc or "*", typ, sub)


def edges_of(cur, sql):
    cur.execute("SELECT max(seq) FROM madang.audit_log WHERE type = 'statement' AND statement = %s", (sql,))
    seq = cur.fetchone()[0]
    assert seq is not None, "no audit record for %r" % sql
    cur.execute("SELECT target_table, target_column, source_table, source_column, type, subtype "
                "FROM madang.lineage_edges WHERE statement_seq = %s", (seq,))
    rows = cur.fetchall()
    return {r[0] for r in rows}, {(r[1], r[2], r[3], r[4], r[5]) for r in rows}


def setup_sql():
    with open(os.path.join(LINEAGE, "setup.sql"), encoding="utf-8") as f:
        text = "\n".join(l for l in f.read().splitlines() if not l.startswith("--"))
    return [s.strip() for s in text.split(";\n") if s.strip()]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = MadangServer(tmp_path_factory.mktemp("lineage") / "data").start()
    conn = psycopg2.connect(s.dsn())
    conn.autocommit = True
    cur = conn.cursor()
    for stmt in setup_sql():
        cur.execute(stmt)
    conn.close()
    yield s
    s.stop()


CORPUS = parse_corpus(os.path.join(LINEAGE, "corpus.txt"))


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 50
    assert sum(1 for c in CORPUS if c[3]) >= 50


@pytest.fixture(scope="module")
def corpus_results(srv):
    """Runs the corpus in order (later cases read what earlier ones built)."""
    conn = psycopg2.connect(srv.dsn())
    conn.autocommit = True
    cur = conn.cursor()
    out = {}
    for name, target, sql, _ in CORPUS:
        cur.execute(sql)
        out[name] = edges_of(cur, sql)
    conn.close()
    return out


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_edges_exact(corpus_results, case):
    name, target, sql, expected = case
    targets, got = corpus_results[name]
    assert targets <= {target}, targets
    missing, extra = expected - got, got - expected
    assert not missing and not extra, "\n%s\nmissing:\n  %s\nextra:\n  %s" % (
        sql, "\n  ".join(sorted(map(fmt_edge, missing))), "\n  ".join(sorted(map(fmt_edge, extra))))


def draft():
    import tempfile
    d = tempfile.mkdtemp()
    s = MadangServer(os.path.join(d, "data")).start()
    try:
        conn = psycopg2.connect(s.dsn())
        conn.autocommit = True
        cur = conn.cursor()
        for stmt in setup_sql():
            cur.execute(stmt)
        for name, target, sql, _ in parse_corpus(os.path.join(LINEAGE, "corpus.txt")):
            cur.execute(sql)
            _, got = edges_of(cur, sql)
            print("== %s -> %s" % (name, target))
            print(sql)
            print("--")
            for e in sorted(got, key=lambda e: (e[3], e[0] or "~", e[4], e[1], e[2] or "")):
                print(fmt_edge(e))
            if not got:
                print("(none)")
            print()
    finally:
        s.stop()


if __name__ == "__main__":
    if "--draft" in sys.argv:
        draft()


# ---- the graph: multi-hop, versions, transactions, doors ----

def q(cur, sql, args=None):
    cur.execute(sql, args)
    return cur.fetchall() if cur.description else None


@pytest.fixture
def conn(srv):
    c = psycopg2.connect(srv.dsn())
    c.autocommit = True
    yield c
    c.close()


def test_chain_of_six_answers_every_depth(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE h1 (k INTEGER, v DOUBLE, note VARCHAR)")
    for i in range(2, 7):
        cur.execute("CREATE TABLE h%d AS SELECT k, v * 2 AS v, note FROM h%d WHERE k > %d" % (i, i - 1, i))
    for d in range(1, 7):
        up = q(cur, "SELECT \"table\", \"column\", depth, path FROM madang.lineage_upstream('main.h6', %s)", (d,))
        assert [(r[0], r[2]) for r in up] == [("main.h%d" % (6 - k), k) for k in range(1, min(d, 5) + 1)]
        assert all(r[1] is None for r in up)
        assert up[-1][3] == ["main.h%d" % (6 - k) for k in range(0, min(d, 5) + 1)]
        down = q(cur, "SELECT \"table\", depth FROM madang.lineage_downstream('main.h1', %s)", (d,))
        assert down == [("main.h%d" % (1 + k), k) for k in range(1, min(d, 5) + 1)]
    # column level: v is derived (TRANSFORMATION) all the way; k filters every hop (table-wide)
    colup = q(cur, "SELECT \"table\", \"column\", depth FROM madang.lineage_upstream('main.h6.v', 2)")
    assert ("main.h5", "v", 1) in colup and ("main.h5", "k", 1) in colup and ("main.h4", "v", 2) in colup
    assert all(r[1] != "note" for r in colup), colup
    coldown = q(cur, "SELECT \"table\", \"column\", depth FROM madang.lineage_downstream('main.h1.note', 5)")
    assert coldown == [("main.h%d" % (1 + k), "note", k) for k in range(1, 6)]
    mid = q(cur, "SELECT \"table\", depth FROM madang.lineage_upstream('main.h3', 10)")
    assert mid == [("main.h2", 1), ("main.h1", 2)]


def test_replacing_a_middle_view_retires_its_edges(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE m_src_a (x INTEGER, y VARCHAR)")
    cur.execute("CREATE TABLE m_src_b (x INTEGER, z VARCHAR)")
    cur.execute("CREATE VIEW m_mid AS SELECT x, y AS label FROM m_src_a")
    cur.execute("CREATE TABLE m_out AS SELECT x, label FROM m_mid")
    before = q(cur, "SELECT source_table, source_column FROM madang.lineage_edges "
                    "WHERE target_table = 'main.m_mid' AND current ORDER BY 2")
    assert before == [("main.m_src_a", "x"), ("main.m_src_a", "y")]
    cur.execute("CREATE OR REPLACE VIEW m_mid AS SELECT x, upper(z) AS label FROM m_src_b")
    rows = q(cur, "SELECT source_table, source_column, subtype, current FROM madang.lineage_edges "
                  "WHERE target_table = 'main.m_mid' ORDER BY current, source_column")
    assert rows == [("main.m_src_a", "x", "IDENTITY", False), ("main.m_src_a", "y", "IDENTITY", False),
                    ("main.m_src_b", "x", "IDENTITY", True), ("main.m_src_b", "z", "TRANSFORMATION", True)]
    up = q(cur, "SELECT \"table\", depth FROM madang.lineage_upstream('main.m_out', 5)")
    assert up == [("main.m_mid", 1), ("main.m_src_b", 2)]
    assert ("main.m_mid", "main.m_src_a") not in q(cur, "SELECT target_table, source_table FROM madang.table_lineage")
    # DROP retires, history stays
    cur.execute("DROP VIEW m_mid")
    assert q(cur, "SELECT count(*) FROM madang.lineage_edges WHERE target_table = 'main.m_mid' AND current") == [(0,)]
    assert q(cur, "SELECT count(*) FROM madang.lineage_edges WHERE target_table = 'main.m_mid'") == [(4,)]


def test_insert_appends_runs_and_rename_follows(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE r_src (a INTEGER, b VARCHAR)")
    cur.execute("CREATE TABLE r_dst (a INTEGER, b VARCHAR)")
    for _ in range(3):
        cur.execute("INSERT INTO r_dst SELECT a, b FROM r_src")
    runs = q(cur, "SELECT count(DISTINCT statement_seq), count(*) FROM madang.lineage_edges "
                  "WHERE target_table = 'main.r_dst' AND current")
    assert runs == [(3, 6)]
    cur.execute("ALTER TABLE r_src RENAME TO r_src2")
    cur.execute("ALTER TABLE r_dst RENAME COLUMN b TO label")
    rows = set(q(cur, "SELECT target_column, source_table, source_column FROM madang.lineage_edges "
                      "WHERE target_table = 'main.r_dst'"))
    assert rows == {("a", "main.r_src2", "a"), ("label", "main.r_src2", "b")}
    assert q(cur, "SELECT count(*) FROM madang.lineage_edges WHERE source_table = 'main.r_src'") == [(0,)]


def test_rolled_back_and_failed_statements_leave_no_edge(srv, conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE tx_src (a INTEGER, s VARCHAR)")
    cur.execute("INSERT INTO tx_src VALUES (1, 'one'), (2, 'x')")
    cur.execute("CREATE TABLE tx_dst (a INTEGER)")
    cur.execute("BEGIN")
    cur.execute("INSERT INTO tx_dst SELECT a FROM tx_src")
    cur.execute("CREATE TABLE tx_new AS SELECT s FROM tx_src")
    cur.execute("ROLLBACK")
    assert q(cur, "SELECT count(*) FROM madang.lineage_edges WHERE target_table IN ('main.tx_dst', 'main.tx_new')") \
        == [(0,)]
    with pytest.raises(psycopg2.Error):
        cur.execute("INSERT INTO tx_dst SELECT CAST(s AS INTEGER) FROM tx_src")  # 'one' fails the cast
    assert q(cur, "SELECT count(*) FROM madang.lineage_edges WHERE target_table = 'main.tx_dst'") == [(0,)]
    cur.execute("BEGIN")
    cur.execute("INSERT INTO tx_dst SELECT a + 1 FROM tx_src")
    # not before the COMMIT: the edges land with the effect
    other = psycopg2.connect(srv.dsn())
    other.autocommit = True
    assert q(other.cursor(), "SELECT count(*) FROM madang.lineage_edges WHERE target_table = 'main.tx_dst'") \
        == [(0,)]
    cur.execute("COMMIT")
    assert q(other.cursor(), "SELECT target_column, source_table, source_column, subtype "
                             "FROM madang.lineage_edges WHERE target_table = 'main.tx_dst'") \
        == [("a", "main.tx_src", "a", "TRANSFORMATION")]
    other.close()
    # a failed statement inside a block: the block's edges go with it
    cur.execute("BEGIN")
    cur.execute("INSERT INTO tx_dst SELECT a FROM tx_src")
    with pytest.raises(psycopg2.Error):
        cur.execute("INSERT INTO tx_dst SELECT CAST(s AS INTEGER) FROM tx_src")
    cur.execute("ROLLBACK")
    assert q(cur, "SELECT count(DISTINCT statement_seq) FROM madang.lineage_edges "
                  "WHERE target_table = 'main.tx_dst'") == [(1,)]


def test_copy_from_stdin_is_a_load_edge(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE cp_dst (id INTEGER, name VARCHAR, score DOUBLE)")
    import io
    cur.copy_expert("COPY cp_dst (name, id) FROM STDIN", io.StringIO("a\t1\nb\t2\n"))
    rows = set(q(cur, "SELECT target_column, source_table, source_column, type, subtype FROM madang.lineage_edges "
                      "WHERE target_table = 'main.cp_dst'"))
    assert rows == {("name", "stdin", "name", "DIRECT", "IDENTITY"), ("id", "stdin", "id", "DIRECT", "IDENTITY")}
    up = q(cur, "SELECT \"table\", depth FROM madang.lineage_upstream('main.cp_dst', 3)")
    assert up == [("stdin", 1)]


def test_extended_protocol_records_each_execution(srv):
    import psycopg
    with psycopg.connect(srv.dsn(), autocommit=True) as c:
        c.execute("CREATE TABLE ep_src (a INTEGER, b VARCHAR)")
        c.execute("CREATE TABLE ep_dst (a INTEGER, b VARCHAR)")
        for i in range(3):
            c.execute("INSERT INTO ep_dst SELECT a + %s, b FROM ep_src WHERE a > %s", (i, i), prepare=True)
        rows = c.execute("SELECT target_column, source_column, subtype, count(*) FROM madang.lineage_edges "
                         "WHERE target_table = 'main.ep_dst' GROUP BY ALL ORDER BY 1 NULLS FIRST, 3").fetchall()
        assert rows == [(None, "a", "FILTER", 3), ("a", "a", "TRANSFORMATION", 3), ("b", "b", "IDENTITY", 3)]


def test_users_see_only_lineage_of_tables_they_can_see(srv, conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE vis_public (a INTEGER)")
    cur.execute("CREATE TABLE vis_secret (a INTEGER, s VARCHAR)")
    cur.execute("CREATE TABLE vis_mix AS SELECT p.a, s.s FROM vis_public p JOIN vis_secret s ON s.a = p.a")
    cur.execute("CREATE TABLE vis_pub2 AS SELECT a FROM vis_public")
    cur.execute("CREATE USER lin_alice PASSWORD 'alice-pw-1'")
    cur.execute("GRANT SELECT ON vis_public, vis_mix, vis_pub2 TO lin_alice")
    a = psycopg2.connect(srv.dsn(user="lin_alice", password="alice-pw-1"))
    a.autocommit = True
    ac = a.cursor()
    seen = set(q(ac, "SELECT target_table, source_table FROM madang.lineage_edges"))
    assert seen == {("main.vis_mix", "main.vis_public"), ("main.vis_pub2", "main.vis_public")}
    assert q(ac, "SELECT \"table\" FROM madang.lineage_upstream('main.vis_mix', 3)") == [("main.vis_public",)]
    assert q(ac, "SELECT count(*) FROM madang.lineage_upstream('main.vis_secret', 3)") == [(0,)]
    assert all("vis_secret" not in (r[0] + r[1]) for r in q(ac, "SELECT * FROM madang.table_lineage"))
    a.close()


def http_get(srv, path, token):
    req = urllib.request.Request(srv.http_url(path), headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_http_lineage_graph(srv, conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE hg_a (k INTEGER, v VARCHAR)")
    cur.execute("CREATE TABLE hg_b AS SELECT k, upper(v) AS v FROM hg_a")
    cur.execute("CREATE TABLE hg_c AS SELECT k, v FROM hg_b WHERE k > 0")
    token = q(cur, "CREATE TOKEN")[0][1]
    g = http_get(srv, "/api/v1/lineage/main.hg_c?direction=up&depth=5", token)
    assert {(n["id"], n["depth"]) for n in g["nodes"]} == {("main.hg_c", 0), ("main.hg_b", 1), ("main.hg_a", 2)}
    assert {(e["source"], e["target"]) for e in g["edges"]} == {("main.hg_b", "main.hg_c"), ("main.hg_a", "main.hg_b")}
    g = http_get(srv, "/api/v1/lineage/main.hg_a?direction=down&depth=1", token)
    assert {n["id"] for n in g["nodes"]} == {"main.hg_a", "main.hg_b"}
    g = http_get(srv, "/api/v1/lineage/main.hg_c?direction=both&depth=5&columns=true", token)
    edges = {(e["source"], e["target"], e["subtype"]) for e in g["edges"]}
    assert ("main.hg_a.v", "main.hg_b.v", "TRANSFORMATION") in edges
    assert ("main.hg_b.k", "main.hg_c", "FILTER") in edges
    assert ("main.hg_b.v", "main.hg_c.v", "IDENTITY") in edges
    with pytest.raises(urllib.error.HTTPError) as e:
        http_get(srv, "/api/v1/lineage/main.hg_c?direction=sideways", token)
    assert e.value.code == 400


def test_openlineage_export(srv, conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE ol_src (id INTEGER, amount DOUBLE, status VARCHAR)")
    cur.execute("INSERT INTO ol_src VALUES (1, 2.5, 'x')")
    cur.execute("CREATE TABLE ol_dst AS SELECT id, sum(amount) AS total FROM ol_src WHERE status = 'x' GROUP BY id")
    with pytest.raises(psycopg2.Error):
        cur.execute("INSERT INTO ol_dst SELECT CAST(status AS INTEGER), amount FROM ol_src")
    cur.execute("BEGIN")
    cur.execute("INSERT INTO ol_dst SELECT id, amount FROM ol_src")
    cur.execute("ROLLBACK")
    r = subprocess.run([MADANG, "lineage", "export", "--data", srv.data_dir, "--format", "openlineage"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    events = [json.loads(l) for l in r.stdout.splitlines()]
    assert events and len(events) % 2 == 0
    for ev in events:
        assert ev["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/OpenLineage.json")
        assert ev["eventType"] in ("START", "COMPLETE", "FAIL", "ABORT")
        assert ev["run"]["runId"] and ev["job"]["namespace"] and ev["job"]["name"] and ev["producer"]
        assert len(ev["outputs"]) == 1
    mine = [e for e in events if e["outputs"][0]["name"] == "main.ol_dst"]
    assert [e["eventType"] for e in mine] == ["START", "COMPLETE", "START", "FAIL", "START", "ABORT"]
    assert len({e["run"]["runId"] for e in mine}) == 3
    done = mine[1]
    cll = done["outputs"][0]["facets"]["columnLineage"]
    assert cll["_schemaURL"] == "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json"
    assert cll["fields"]["total"]["inputFields"] == [{
        "namespace": "madang", "name": "main.ol_src", "field": "amount",
        "transformations": [{"type": "DIRECT", "subtype": "AGGREGATION", "description": "", "masking": False}]}]
    assert {(d["field"], d["transformations"][0]["subtype"]) for d in cll["dataset"]} == \
        {("status", "FILTER"), ("id", "GROUP_BY")}
    assert done["inputs"] == [{"namespace": "madang", "name": "main.ol_src"}]
    assert done["job"]["facets"]["sql"]["query"].startswith("CREATE TABLE ol_dst")
    assert "errorMessage" in mine[3]["run"]["facets"]
    # --since keeps later runs only
    r2 = subprocess.run([MADANG, "lineage", "export", "--data", srv.data_dir, "--format", "openlineage",
                         "--since", "2999-01-01"], capture_output=True, text=True, timeout=60)
    assert r2.returncode == 0 and r2.stdout == ""
    bad = subprocess.run([MADANG, "lineage", "export", "--data", srv.data_dir, "--format", "dot"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "openlineage" in bad.stderr


def test_merge_is_authorized_and_refused_under_policies(srv, conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE mg_src (id INTEGER, v VARCHAR)")
    cur.execute("CREATE TABLE mg_dst (id INTEGER, v VARCHAR)")
    cur.execute("INSERT INTO mg_src VALUES (1, 'a'), (2, 'b')")
    cur.execute("INSERT INTO mg_dst VALUES (1, 'old')")
    cur.execute("CREATE USER lin_bob PASSWORD 'bob-pw-12'")
    cur.execute("GRANT SELECT ON mg_src TO lin_bob")
    cur.execute("GRANT SELECT, INSERT, UPDATE ON mg_dst TO lin_bob")
    b = psycopg2.connect(srv.dsn(user="lin_bob", password="bob-pw-12"))
    b.autocommit = True
    bc = b.cursor()
    merge = ("MERGE INTO mg_dst d USING mg_src s ON d.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v "
             "WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)")
    bc.execute(merge)
    assert bc.rowcount == 2 and bc.statusmessage == "MERGE 2"
    assert q(bc, "SELECT * FROM mg_dst ORDER BY id") == [(1, "a"), (2, "b")]
    with pytest.raises(psycopg2.Error) as e:  # DELETE is not granted
        bc.execute("MERGE INTO mg_dst d USING mg_src s ON d.id = s.id WHEN MATCHED THEN DELETE")
    assert e.value.pgcode == "42501"
    cur.execute("CREATE POLICY mg_p ON mg_dst FOR ALL TO lin_bob USING (id = 1)")
    with pytest.raises(psycopg2.Error) as e:
        bc.execute(merge)
    assert e.value.pgcode == "0A000"
    b.close()



def test_drop_then_create_again(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE dl_src (a INTEGER)")
    cur.execute("CREATE TABLE dl_one AS SELECT a FROM dl_src")
    cur.execute("DROP TABLE dl_one")
    assert q(cur, "SELECT current FROM madang.lineage_edges WHERE target_table = 'main.dl_one'") == [(False,)]
    cur.execute("CREATE TABLE dl_one AS SELECT a * 2 AS b FROM dl_src")  # a new table of that name
    assert q(cur, "SELECT target_column, current FROM madang.lineage_edges WHERE target_table = 'main.dl_one' "
                  "ORDER BY current") == [("a", False), ("b", True)]


# ---- found by review ----

def test_view_sealing_follows_text_order(srv, conn):
    """ORDER BY comes before FROM in the parse tree: sealing a view must not
    land on another name (it once let a secret table through)."""
    cur = conn.cursor()
    cur.execute("CREATE TABLE rv_secret (c VARCHAR)")
    cur.execute("INSERT INTO rv_secret VALUES ('TOPSECRET')")
    cur.execute("CREATE TABLE rv_pub (c INTEGER)")
    cur.execute("CREATE VIEW rv_v1 AS SELECT c FROM rv_pub")
    cur.execute("CREATE VIEW rv_v2 AS SELECT c FROM rv_pub")
    cur.execute("CREATE USER rv_eve PASSWORD 'eve-pw-123'")
    cur.execute("GRANT SELECT ON rv_v1, rv_v2, rv_pub TO rv_eve")
    e = psycopg2.connect(srv.dsn(user="rv_eve", password="eve-pw-123"))
    e.autocommit = True
    ec = e.cursor()
    for pad in (1, 12, 40):
        with pytest.raises(psycopg2.Error) as err:
            ec.execute("SELECT x.* FROM rv_v1, (SELECT * FROM rv_secret) x ORDER BY" + " " * pad +
                       "(SELECT max(c) FROM rv_v2)")
        assert err.value.pgcode == "42501"
    assert q(ec, "SELECT count(*) FROM rv_v1 ORDER BY (SELECT max(c) FROM rv_v2)") == [(0,)]
    # nobody names lineage's stand-in (it would forge edges)
    with pytest.raises(psycopg2.Error) as err:
        ec.execute("SELECT * FROM madang_lineage_view('main.rv_secret', {'c': NULL::VARCHAR})")
    assert err.value.pgcode == "42501"
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("CREATE TABLE rv_forged AS SELECT * FROM \"madang_lineage_view\"('main.rv_secret', {'c': 1})")
    assert err.value.pgcode == "42501"
    e.close()


def test_temp_tables_never_touch_lineage(srv, conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE tt_real (id INTEGER, ssn VARCHAR)")
    cur.execute("CREATE TABLE tt_down AS SELECT id, ssn FROM tt_real")
    cur.execute("CREATE USER tt_eve PASSWORD 'eve-pw-456'")
    e = psycopg2.connect(srv.dsn(user="tt_eve", password="eve-pw-456"))
    e.autocommit = True
    ec = e.cursor()
    ec.execute("CREATE TEMP TABLE tt_real (id INTEGER, ssn VARCHAR)")
    ec.execute("ALTER TABLE tt_real RENAME COLUMN ssn TO pwned")
    ec.execute("CREATE TEMP TABLE tt_down (id INTEGER, ssn VARCHAR)")
    import io
    ec.copy_expert("COPY tt_down FROM STDIN", io.StringIO("1\tx\n"))
    e.close()
    rows = set(q(cur, "SELECT target_column, source_table, source_column FROM madang.lineage_edges "
                      "WHERE target_table = 'main.tt_down'"))
    assert rows == {("id", "main.tt_real", "id"), ("ssn", "main.tt_real", "ssn")}


def test_returning_writes_have_lineage(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE rt_src (id INTEGER, v VARCHAR)")
    cur.execute("INSERT INTO rt_src VALUES (1, 'a')")
    cur.execute("CREATE TABLE rt_dst (id INTEGER, v VARCHAR)")
    assert q(cur, "INSERT INTO rt_dst SELECT id, upper(v) FROM rt_src RETURNING id") == [(1,)]
    assert q(cur, "UPDATE rt_dst SET v = s.v FROM rt_src s WHERE s.id = rt_dst.id RETURNING rt_dst.v") == [("a",)]
    rows = set(q(cur, "SELECT target_column, source_column, subtype FROM madang.lineage_edges "
                      "WHERE target_table = 'main.rt_dst'"))
    assert ("v", "v", "TRANSFORMATION") in rows and ("v", "v", "IDENTITY") in rows and ("id", "id", "IDENTITY") in rows


def test_prepared_system_views_answer_every_execution(srv, conn):
    import psycopg
    cur = conn.cursor()
    cur.execute("CREATE TABLE pv_a (k INTEGER)")
    cur.execute("CREATE TABLE pv_b AS SELECT k FROM pv_a")
    with psycopg.connect(srv.dsn(), autocommit=True) as c:
        for sql in ("SELECT count(*) FROM madang.lineage_edges WHERE target_table = 'main.pv_b'",
                    "SELECT count(*) FROM madang.lineage_upstream('main.pv_b', 5)",
                    "SELECT count(*) FROM madang.users"):
            counts = [c.execute(sql, prepare=True).fetchone()[0] for _ in range(3)]
            assert counts[0] > 0 and counts == [counts[0]] * 3, (sql, counts)
        # and a later execution sees what changed since the statement was prepared
        before = c.execute("SELECT count(*) FROM madang.lineage_edges", prepare=True).fetchone()[0]
        cur.execute("CREATE TABLE pv_c AS SELECT k FROM pv_b")
        after = c.execute("SELECT count(*) FROM madang.lineage_edges", prepare=True).fetchone()[0]
        assert after == before + 1


def test_search_path_and_case(conn):
    cur = conn.cursor()
    cur.execute("CREATE SCHEMA sp2")
    cur.execute("CREATE TABLE sp_src (a INTEGER)")
    cur.execute("CREATE TABLE sp2.sp_src (a INTEGER)")
    cur.execute("CREATE TABLE sp_dst (a INTEGER)")
    sql = "INSERT INTO main.sp_dst SELECT a FROM sp_src"
    cur.execute(sql)
    cur.execute("SET search_path = sp2")
    cur.execute(sql)
    cur.execute("SET search_path = main")
    rows = q(cur, "SELECT source_table FROM madang.lineage_edges WHERE target_table = 'main.sp_dst' "
                  "ORDER BY statement_seq")
    assert rows == [("main.sp_src",), ("sp2.sp_src",)]
    cur.execute('CREATE TABLE "MixT" AS SELECT a FROM sp_src')
    cur.execute("DROP TABLE mixt")
    assert q(cur, "SELECT count(*) FROM madang.lineage_edges WHERE lower(target_table) = 'main.mixt' AND current") \
        == [(0,)]
