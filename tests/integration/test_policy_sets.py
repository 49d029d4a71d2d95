"""Policy sets: a row policy's "col IN (SELECT ...)" evaluated by the gate before
each execution (protect.c, madang_policy_in).

The values must be read afresh for every execution (a prepared statement sees a
mapping change made after it was prepared), inside the statement's transaction
(a transaction sees its own uncommitted mapping rows), and the answer must be
IN's, NULLs included, for every type the rewrite accepts. Types it does not
accept keep the plain IN."""
import psycopg
import psycopg2
import pytest

from conftest import MadangServer

ALICE, ALICE_PW = "alice", "alice-sets-pw"

# type, values for the table (None = NULL), values for the mapping
TYPES = [
    ("VARCHAR", ["KR", "JP", None, "a string longer than twelve bytes", "US"],
     ["KR", "a string longer than twelve bytes", None]),
    ("INTEGER", [1, 2, 3, None, -7], [2, -7]),
    ("BIGINT", [10**12, 5, None], [10**12, None]),
    ("DECIMAL(18,2)", ["1.50", "2.00", "-3.25", None], ["2.00", "-3.25"]),
    ("DATE", ["2024-01-01", "1999-12-31", None], ["1999-12-31"]),
    ("TIMESTAMP", ["2024-01-01 10:00:00", "2024-01-01 10:00:01"], ["2024-01-01 10:00:01"]),
    ("UUID", ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"],
     ["00000000-0000-0000-0000-000000000002"]),
    ("BOOLEAN", [True, False, None], [True]),
]


def lit(v, t):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return "CAST(%d AS %s)" % (v, t)
    return "CAST('%s' AS %s)" % (v.replace("'", "''"), t)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = MadangServer(tmp_path_factory.mktemp("sets") / "data", env={"MADANG_LOG": "debug"}).start()
    try:
        c = psycopg2.connect(s.dsn())
        c.autocommit = True
        cur = c.cursor()
        cur.execute("CREATE USER %s PASSWORD '%s'" % (ALICE, ALICE_PW))
        cur.execute("CREATE TABLE main.facts (id INTEGER, region VARCHAR)")
        cur.execute("INSERT INTO main.facts SELECT i, ['KR','JP','US','DE'][i % 4 + 1] FROM range(400) t(i)")
        cur.execute("CREATE TABLE main.region_map (user_name VARCHAR, region VARCHAR)")
        cur.execute("INSERT INTO main.region_map VALUES ('alice', 'KR'), ('bob', 'US')")
        cur.execute("GRANT SELECT ON main.facts TO alice")
        cur.execute("GRANT INSERT ON main.region_map TO alice")
        cur.execute("CREATE POLICY by_region ON main.facts FOR SELECT TO alice USING "
                    "(region IN (SELECT region FROM main.region_map WHERE user_name = current_user))")
        for i, (t, vals, keep) in enumerate(TYPES):
            cur.execute("CREATE TABLE main.t%d (k INTEGER, v %s)" % (i, t))
            cur.execute("INSERT INTO main.t%d VALUES %s" % (
                i, ", ".join("(%d, %s)" % (k, lit(v, t)) for k, v in enumerate(vals))))
            cur.execute("CREATE TABLE main.m%d (v %s)" % (i, t))
            cur.execute("INSERT INTO main.m%d VALUES %s" % (i, ", ".join("(%s)" % lit(v, t) for v in keep)))
            cur.execute("GRANT SELECT ON main.t%d TO alice" % i)
            cur.execute("CREATE POLICY p%d ON main.t%d FOR SELECT TO alice USING (v IN (SELECT v FROM main.m%d))"
                        % (i, i, i))
        # an integer column against a bigint subquery: IN compares after a cast, the set would not
        cur.execute("CREATE TABLE main.tcast (k INTEGER, v INTEGER)")
        cur.execute("INSERT INTO main.tcast VALUES (1, 1), (2, 2), (3, NULL)")
        cur.execute("CREATE TABLE main.mcast (v BIGINT)")
        cur.execute("INSERT INTO main.mcast VALUES (2)")
        cur.execute("GRANT SELECT ON main.tcast TO alice")
        cur.execute("CREATE POLICY pc ON main.tcast FOR SELECT TO alice USING (v IN (SELECT v FROM main.mcast))")
        c.close()
        yield s
    finally:
        s.stop()


def admin(srv, sql):
    c = psycopg2.connect(srv.dsn())
    c.autocommit = True
    cur = c.cursor()
    cur.execute(sql)
    rows = cur.fetchall() if cur.description else None
    c.close()
    return rows


def alice(srv):
    c = psycopg2.connect(srv.dsn(ALICE, ALICE_PW))
    c.autocommit = True
    return c


def rewrite_logged(srv, marker):
    lines = [l for l in srv.read_log().splitlines() if "event=policy_rewrite" in l and marker in l]
    assert lines, "no rewrite logged for %s" % marker
    return lines[-1]


@pytest.mark.parametrize("i", range(len(TYPES)), ids=[t[0] for t in TYPES])
def test_answer_is_in_for_every_type(srv, i):
    c = alice(srv)
    cur = c.cursor()
    cur.execute("SELECT k FROM t%d ORDER BY k -- types %d" % (i, i))
    got = [r[0] for r in cur.fetchall()]
    c.close()
    want = [r[0] for r in admin(srv, "SELECT k FROM main.t%d WHERE v IN (SELECT v FROM main.m%d) ORDER BY k"
                                % (i, i))]
    assert got == want
    assert want, "the reference must not be empty"
    assert "madang_policy_in(v, " in rewrite_logged(srv, "types %d" % i)


def test_mismatched_types_keep_in(srv):
    c = alice(srv)
    cur = c.cursor()
    cur.execute("SELECT k FROM tcast ORDER BY k -- cast marker")
    assert [r[0] for r in cur.fetchall()] == [2]
    c.close()
    line = rewrite_logged(srv, "cast marker")
    assert "madang_policy_in" not in line and "IN (SELECT" in line


def test_mapping_change_reaches_every_execution(srv):
    """Simple protocol (cached rewrite) and a server-side prepared statement both
    see a mapping row added or removed after they were first run."""
    simple = alice(srv)
    prepared = psycopg.connect(srv.dsn(ALICE, ALICE_PW), autocommit=True)

    def counts():
        cur = simple.cursor()
        cur.execute("SELECT region, count(*) FROM facts GROUP BY region ORDER BY region")
        a = cur.fetchall()
        b = prepared.execute("SELECT region, count(*) FROM facts WHERE id >= %s GROUP BY region ORDER BY region",
                             (0,), prepare=True).fetchall()
        assert a == [tuple(r) for r in b]
        return a

    try:
        assert counts() == [("KR", 100)]
        assert counts() == [("KR", 100)]
        admin(srv, "INSERT INTO main.region_map VALUES ('alice', 'JP')")
        assert counts() == [("JP", 100), ("KR", 100)]
        admin(srv, "DELETE FROM main.region_map WHERE user_name = 'alice'")
        assert counts() == []
    finally:
        admin(srv, "DELETE FROM main.region_map WHERE user_name = 'alice'")
        admin(srv, "INSERT INTO main.region_map VALUES ('alice', 'KR')")
        simple.close()
        prepared.close()


def test_transaction_sees_its_own_mapping_rows(srv):
    c = psycopg2.connect(srv.dsn(ALICE, ALICE_PW))
    cur = c.cursor()
    cur.execute("INSERT INTO region_map VALUES ('alice', 'DE')")
    cur.execute("SELECT region, count(*) FROM facts GROUP BY region ORDER BY region")
    assert cur.fetchall() == [("DE", 100), ("KR", 100)]
    other = alice(srv)
    ocur = other.cursor()
    ocur.execute("SELECT region, count(*) FROM facts GROUP BY region ORDER BY region")
    assert ocur.fetchall() == [("KR", 100)], "another session must not see the uncommitted mapping row"
    c.rollback()
    cur.execute("SELECT region, count(*) FROM facts GROUP BY region ORDER BY region")
    assert cur.fetchall() == [("KR", 100)]
    c.rollback()
    c.close()
    other.close()


def test_users_cannot_call_the_set_function(srv):
    c = alice(srv)
    cur = c.cursor()
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("SELECT madang_policy_in('KR', 's1.0')")
    assert e.value.pgcode == "42501", e.value
    c.close()


def test_dropped_mapping_table_fails_closed(srv):
    admin(srv, "CREATE TABLE main.gone_map (region VARCHAR)")
    admin(srv, "INSERT INTO main.gone_map VALUES ('KR')")
    admin(srv, "CREATE POLICY gone ON main.facts FOR SELECT TO alice USING "
               "(region IN (SELECT region FROM main.gone_map))")
    c = psycopg.connect(srv.dsn(ALICE, ALICE_PW), autocommit=True)
    try:
        q = "SELECT count(*) FROM facts WHERE id >= %s"
        assert c.execute(q, (0,), prepare=True).fetchone()[0] == 100
        admin(srv, "DROP TABLE main.gone_map")
        with pytest.raises(psycopg.Error) as e:
            c.execute(q, (0,), prepare=True).fetchall()
        assert e.value.sqlstate not in (None, "00000")
    finally:
        c.close()
        admin(srv, "DROP POLICY gone ON main.facts")


def test_views_keep_no_policy_set(srv):
    """A view's text outlives the session that wrote it: it is stored as written,
    and each reader's policies (sets included) apply when it is read."""
    admin(srv, "GRANT CREATE ON SCHEMA main TO alice")
    c = alice(srv)
    cur = c.cursor()
    cur.execute("CREATE VIEW main.alice_view AS SELECT region FROM facts")
    try:
        body = admin(srv, "SELECT sql FROM duckdb_views() WHERE view_name = 'alice_view'")[0][0]
        assert "madang_" not in body, body
        cur.execute("SELECT region, count(*) FROM main.alice_view GROUP BY region ORDER BY region")
        assert cur.fetchall() == [("KR", 100)]
        assert len(admin(srv, "SELECT DISTINCT region FROM main.alice_view")) == 4
    finally:
        c.close()
        admin(srv, "DROP VIEW main.alice_view")


def test_create_table_as_keeps_in_as_written(srv):
    admin(srv, "GRANT CREATE ON SCHEMA main TO alice")
    c = alice(srv)
    cur = c.cursor()
    cur.execute("CREATE TABLE main.alice_copy AS SELECT region FROM facts -- ctas marker")
    try:
        assert "madang_policy_in" not in rewrite_logged(srv, "ctas marker")
        assert admin(srv, "SELECT DISTINCT region FROM main.alice_copy") == [("KR",)]
    finally:
        c.close()
        admin(srv, "DROP TABLE main.alice_copy")
