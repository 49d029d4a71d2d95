"""The gate's statement allow-list (issue 3 part; full authorization is issue 4).

Everything the gate does not run must be refused with a clear SQLSTATE, leave
no trace, and leave the session usable."""
import os

import psycopg2
import pytest


DENIED_42501 = [
    "ATTACH '/tmp/x.duckdb' AS x",
    "DETACH x",
    "COPY customers TO '/tmp/madang-leak.csv'",
    "COPY customers FROM '/etc/passwd'",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "EXPORT DATABASE '/tmp/madang-export'",
    "IMPORT DATABASE '/tmp/madang-export'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA enable_profiling",
    "CALL pragma_version()",
    "CREATE MACRO f(x) AS x + 1",
    "CREATE TEMP MACRO current_user() AS 'admin'",
    "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql",
    "USE memory",
    "SUMMARIZE customers",
    "EXPLAIN ANALYZE SELECT 1",
    "CHECKPOINT",
]


@pytest.fixture
def conn(server):
    c = psycopg2.connect(server.dsn())
    c.autocommit = True
    yield c
    c.close()


@pytest.mark.parametrize("sql", DENIED_42501)
def test_denied_statement(conn, sql):
    cur = conn.cursor()
    with pytest.raises(psycopg2.Error) as e:
        cur.execute(sql)
    assert e.value.pgcode == "42501", (sql, e.value.pgcode, str(e.value))
    assert "not allowed" in str(e.value)
    cur.execute("SELECT 1")
    assert cur.fetchone() == (1,)


def test_nothing_written_by_denied_copy(conn):
    path = "/tmp/madang-leak.csv"
    if os.path.exists(path):
        os.unlink(path)
    cur = conn.cursor()
    with pytest.raises(psycopg2.Error):
        cur.execute("COPY customers TO '%s'" % path)
    assert not os.path.exists(path)


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/etc/*')",
])
def test_file_access_refused_by_engine_wall(conn, sql):
    cur = conn.cursor()
    with pytest.raises(psycopg2.Error) as e:
        cur.execute(sql)
    assert e.value.pgcode in ("42501", "58030", "42P01", "XX000", "22023"), (e.value.pgcode, str(e.value))
    assert "root:" not in str(e.value)


@pytest.mark.parametrize("sql", ["SET enable_external_access = true", "SET lock_configuration = false",
                                 "SET allowed_directories = ['/']", "RESET lock_configuration"])
def test_engine_settings_cannot_be_changed(conn, sql):
    cur = conn.cursor()
    with pytest.raises(psycopg2.Error) as e:
        cur.execute(sql)
    assert e.value.pgcode in ("42704", "42501", "42601"), (e.value.pgcode, str(e.value))
    with pytest.raises(psycopg2.Error):
        cur.execute("SELECT * FROM read_csv('/etc/passwd')")


def test_syntax_error_is_42601(conn):
    cur = conn.cursor()
    with pytest.raises(psycopg2.errors.SyntaxError):
        cur.execute("SELEC 1")


def test_session_statements_emulated(conn):
    cur = conn.cursor()
    cur.execute("SET application_name = 'gate-test'")
    cur.execute("SHOW application_name")
    assert cur.fetchone() == ("gate-test",)
    cur.execute("SELECT current_setting('application_name')")
    assert cur.fetchone() == ("gate-test",)
    cur.execute("SHOW TRANSACTION ISOLATION LEVEL")
    assert cur.fetchone() == ("read committed",)
    cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED")
    cur.execute("SELECT version()")
    assert cur.fetchone()[0].startswith("PostgreSQL 15.")
    cur.execute("SELECT current_setting('server_version')")
    assert cur.fetchone()[0].startswith("15.")
    cur.execute("SELECT current_user, session_user, current_database()")
    assert cur.fetchone() == ("admin", "admin", "madang")
    cur.execute("SELECT set_config('application_name', 'via-set-config', false)")
    assert cur.fetchone() == ("via-set-config",)
    cur.execute("SHOW application_name")
    assert cur.fetchone() == ("via-set-config",)
    assert conn.get_parameter_status("application_name") == "via-set-config"
    # inside a filter the engine may copy the expression: server-wide values still answer
    cur.execute("SELECT count(*) FROM (SELECT 1 AS a UNION ALL SELECT 2) t "
                "WHERE current_setting('server_version_num')::int >= 150000")
    assert cur.fetchone() == (2,)
    cur.execute("RESET ALL")
    cur.execute("SHOW application_name")
    cur.execute("SET nosuch_setting = 1") if False else None
    with pytest.raises(psycopg2.errors.UndefinedObject):
        cur.execute("SET nosuch_setting = 1")
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("SET client_encoding = 'LATIN1'")
    assert e.value.pgcode == "22023"
    cur.execute("SET search_path TO public")
    cur.execute("SELECT count(*) FROM customers")
    assert cur.fetchone() == (10000,)


def test_user_management(server):
    c = psycopg2.connect(server.dsn())
    c.autocommit = True
    cur = c.cursor()
    cur.execute("CREATE USER gate_alice WITH PASSWORD 'alice-pw'")
    with pytest.raises(psycopg2.errors.DuplicateObject):
        cur.execute("CREATE USER gate_alice PASSWORD 'x'")
    a = psycopg2.connect(server.dsn("gate_alice", "alice-pw"))
    a.autocommit = True
    acur = a.cursor()
    acur.execute("SELECT current_user")
    assert acur.fetchone() == ("gate_alice",)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        acur.execute("CREATE USER gate_mallory PASSWORD 'x'")
    a.close()
    cur.execute("ALTER USER gate_alice WITH PASSWORD 'new-pw'")
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(server.dsn("gate_alice", "alice-pw"))
    psycopg2.connect(server.dsn("gate_alice", "new-pw")).close()
    cur.execute("DROP USER gate_alice")
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(server.dsn("gate_alice", "new-pw"))
    cur.execute("DROP USER IF EXISTS gate_alice")
    import sqlite3
    con = sqlite3.connect(os.path.join(server.data_dir, "meta.db"))
    rows = con.execute("SELECT scram FROM users").fetchall()
    con.close()
    assert all(r[0].startswith("SCRAM-SHA-256$") for r in rows)
    assert "new-pw" not in open(os.path.join(server.data_dir, "meta.db"), "rb").read().decode("latin1")
    c.close()


def test_command_tags(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE tag_t AS SELECT * FROM range(5) r(i)")
    assert cur.statusmessage == "SELECT 5"
    cur.execute("INSERT INTO tag_t SELECT * FROM range(3)")
    assert cur.statusmessage == "INSERT 0 3"
    cur.execute("UPDATE tag_t SET i = 1")
    assert cur.statusmessage == "UPDATE 8"
    cur.execute("DELETE FROM tag_t WHERE i = 1")
    assert cur.statusmessage == "DELETE 8"
    cur.execute("DROP TABLE tag_t")
    assert cur.statusmessage == "DROP TABLE"


def test_errors_raised_while_the_engine_runs_keep_their_sqlstate(conn):
    # raised after planning, while the statement's tasks run (gate.c run_prepared):
    # the engine's own error and SQLSTATE, never a wrapper of the driver's
    cur = conn.cursor()
    bad = "SELECT CAST(CASE WHEN i = 7000 THEN 'x' ELSE CAST(i AS VARCHAR) END AS INT) AS v FROM range(10000) t(i)"
    with pytest.raises(psycopg2.errors.InvalidTextRepresentation) as e:
        cur.execute(bad)
    assert "Could not convert string 'x'" in e.value.pgerror and "pending" not in e.value.pgerror
    cur.execute("CREATE TABLE run_err_t (id INTEGER PRIMARY KEY, v INTEGER)")
    try:
        with pytest.raises(psycopg2.errors.InvalidTextRepresentation):
            cur.execute("INSERT INTO run_err_t " + bad.replace("AS v FROM", "AS id, 1 AS v FROM"))
        cur.execute("INSERT INTO run_err_t VALUES (1, 1)")
        with pytest.raises(psycopg2.errors.IntegrityError) as e:
            cur.execute("INSERT INTO run_err_t SELECT 2, 2 UNION ALL SELECT 1, 3")
        assert "pending" not in e.value.pgerror
        # nothing of the failed statements stayed, and the session goes on
        cur.execute("SELECT count(*), sum(v) FROM run_err_t")
        assert cur.fetchone() == (1, 1)
        cur.execute("SELECT sum(i) FROM range(100000) t(i)")
        assert cur.fetchone()[0] == sum(range(100000))
    finally:
        cur.execute("DROP TABLE run_err_t")
