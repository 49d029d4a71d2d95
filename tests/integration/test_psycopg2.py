"""psycopg2 (libpq) against madang: named cursors, execute_values, parameter types,
transactions and error classes."""
import datetime
import uuid
from decimal import Decimal

import psycopg2
import psycopg2.errors
import psycopg2.extras
import pytest


def uniq(prefix):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def conn(server):
    c = psycopg2.connect(server.dsn(), connect_timeout=10)
    yield c
    c.close()


def test_connect_and_server_version(conn):
    assert conn.server_version > 0
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM customers")
    assert cur.fetchone() == (10000,)
    assert [d.name for d in cur.description] == ["count"] or cur.description[0].name.startswith("count")


def test_named_cursor_over_100k_rows(conn):
    conn.autocommit = False
    cur = conn.cursor(name="big_" + uuid.uuid4().hex[:6])
    cur.itersize = 5000
    cur.execute("SELECT id, symbol, price FROM trades WHERE id <= 100000 ORDER BY id")
    n = 0
    last = 0
    total = Decimal(0)
    for row in cur:
        n += 1
        assert row[0] > last
        last = row[0]
        assert isinstance(row[2], Decimal)
        total += row[2]
    assert n == 100000
    cur.close()
    conn.commit()
    c2 = conn.cursor()
    c2.execute("SELECT sum(price) FROM trades WHERE id <= 100000")
    assert c2.fetchone()[0] == total


def test_named_cursor_fetchmany_and_scroll(conn):
    conn.autocommit = False
    cur = conn.cursor(name="fm_" + uuid.uuid4().hex[:6])
    cur.execute("SELECT id FROM customers ORDER BY id")
    assert [r[0] for r in cur.fetchmany(10)] == list(range(1, 11))
    assert [r[0] for r in cur.fetchmany(5)] == list(range(11, 16))
    rest = cur.fetchall()
    assert len(rest) == 10000 - 15
    cur.close()
    conn.rollback()


def test_execute_values_10k(conn):
    conn.autocommit = True
    t = uniq("pg2_ev")
    cur = conn.cursor()
    cur.execute("CREATE TABLE %s (id integer, name text, amount decimal(12,2), ts timestamp)" % t)
    base = datetime.datetime(2024, 1, 1, 12, 0, 0)
    rows = [(i, "name %d 'q'" % i, Decimal("%d.%02d" % (i, i % 100)), base + datetime.timedelta(seconds=i))
            for i in range(10000)]
    psycopg2.extras.execute_values(cur, "INSERT INTO " + t + " (id, name, amount, ts) VALUES %s", rows,
                                   page_size=1000)
    cur.execute("SELECT count(*), sum(id), sum(amount), max(ts) FROM %s" % t)
    cnt, s, amt, mx = cur.fetchone()
    assert cnt == 10000
    assert s == sum(range(10000))
    assert amt == sum(r[2] for r in rows)
    assert mx == base + datetime.timedelta(seconds=9999)
    cur.execute("SELECT name FROM %s WHERE id = 42" % t)
    assert cur.fetchone()[0] == "name 42 'q'"
    cur.execute("DROP TABLE %s" % t)


def test_parameters_many_types(conn):
    cur = conn.cursor()
    vals = {
        "i": 42,
        "big": 9007199254740993,
        "neg": -7,
        "f": 3.25,
        "d": Decimal("12345.6789"),
        "s": "it's a \"quote\" \\ back ünïcödé ✓ 한국어",
        "n": None,
        "bt": True,
        "bf": False,
        "dt": datetime.date(2024, 2, 29),
        "ts": datetime.datetime(2024, 2, 29, 23, 59, 58, 123456),
        "b": b"\x00\x01\xfe\xff bytes",
    }
    cur.execute("SELECT %(i)s, %(big)s, %(neg)s, %(f)s, %(d)s, %(s)s, %(n)s, %(bt)s, %(bf)s, "
                "%(dt)s, %(ts)s, %(b)s", vals)
    row = cur.fetchone()
    assert row[0] == 42
    assert row[1] == 9007199254740993
    assert row[2] == -7
    assert row[3] == 3.25
    assert row[4] == Decimal("12345.6789")
    assert row[5] == vals["s"]
    assert row[6] is None
    assert row[7] is True and row[8] is False
    assert row[9] == datetime.date(2024, 2, 29)
    assert row[10] == datetime.datetime(2024, 2, 29, 23, 59, 58, 123456)
    assert bytes(row[11]) == vals["b"]


def test_parameters_in_where_and_insert(conn):
    conn.autocommit = True
    cur = conn.cursor()
    t = uniq("pg2_types")
    cur.execute("CREATE TABLE %s (i int, f double, d decimal(10,3), s varchar, b boolean, dt date, "
                "ts timestamp, bl blob)" % t)
    row = (7, 1.5, Decimal("2.125"), "O'Brien \u00e9", True, datetime.date(1999, 12, 31),
           datetime.datetime(2000, 1, 1, 0, 0, 1), b"\x00\xff")
    cur.execute("INSERT INTO " + t + " VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", row)
    cur.execute("INSERT INTO " + t + " VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", (None,) * 8)
    cur.execute("SELECT * FROM " + t + " WHERE s = %s", ("O'Brien \u00e9",))
    got = cur.fetchone()
    assert got[:7] == row[:7]
    assert bytes(got[7]) == row[7]
    cur.execute("SELECT count(*) FROM " + t + " WHERE i IS NULL AND s IS NULL")
    assert cur.fetchone()[0] == 1
    cur.execute("SELECT count(*) FROM customers WHERE id = ANY(%s)", ([1, 2, 3, 99999],))
    assert cur.fetchone()[0] == 3
    cur.execute("SELECT count(*) FROM customers WHERE id IN %s", ((1, 2, 3),))
    assert cur.fetchone()[0] == 3
    cur.execute("DROP TABLE %s" % t)


def test_error_in_transaction_is_25P02_until_rollback(conn):
    conn.autocommit = False
    cur = conn.cursor()
    cur.execute("SELECT 1")
    with pytest.raises(psycopg2.errors.UndefinedTable):
        cur.execute("SELECT * FROM no_such_table_pg2")
    for _ in range(2):
        with pytest.raises(psycopg2.errors.InFailedSqlTransaction) as ei:
            cur.execute("SELECT 1")
        assert ei.value.pgcode == "25P02"
    assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INERROR
    conn.rollback()
    cur.execute("SELECT 2")
    assert cur.fetchone() == (2,)
    conn.rollback()


def test_commit_and_rollback_visibility(server, conn):
    t = uniq("pg2_tx")
    conn.autocommit = True
    conn.cursor().execute("CREATE TABLE %s (id int)" % t)
    other = psycopg2.connect(server.dsn())
    other.autocommit = True
    try:
        conn.autocommit = False
        cur = conn.cursor()
        cur.execute("INSERT INTO %s VALUES (1)" % t)
        oc = other.cursor()
        oc.execute("SELECT count(*) FROM %s" % t)
        assert oc.fetchone()[0] == 0, "uncommitted row visible to another session"
        cur.execute("SELECT count(*) FROM %s" % t)
        assert cur.fetchone()[0] == 1, "own uncommitted row not visible"
        conn.commit()
        oc.execute("SELECT count(*) FROM %s" % t)
        assert oc.fetchone()[0] == 1
        cur.execute("INSERT INTO %s VALUES (2)" % t)
        conn.rollback()
        oc.execute("SELECT count(*) FROM %s" % t)
        assert oc.fetchone()[0] == 1
        cur.execute("SELECT count(*) FROM %s" % t)
        assert cur.fetchone()[0] == 1
        conn.commit()
        # context manager commits
        with conn:
            with conn.cursor() as c:
                c.execute("INSERT INTO %s VALUES (3)" % t)
        oc.execute("SELECT count(*) FROM %s" % t)
        assert oc.fetchone()[0] == 2
        # ...and rolls back on exception
        with pytest.raises(ZeroDivisionError):
            with conn:
                with conn.cursor() as c:
                    c.execute("INSERT INTO %s VALUES (4)" % t)
                    1 / 0
        oc.execute("SELECT count(*) FROM %s" % t)
        assert oc.fetchone()[0] == 2
    finally:
        conn.rollback()
        conn.autocommit = True
        conn.cursor().execute("DROP TABLE IF EXISTS %s" % t)
        other.close()


def test_error_classes(conn):
    conn.autocommit = True
    cur = conn.cursor()
    with pytest.raises(psycopg2.errors.UndefinedTable) as ei:
        cur.execute("SELECT * FROM definitely_not_here")
    assert ei.value.pgcode == "42P01"
    assert ei.value.diag.sqlstate == "42P01"
    assert ei.value.diag.severity == "ERROR"
    with pytest.raises(psycopg2.errors.SyntaxError) as ei:
        cur.execute("SELEC 1")
    assert ei.value.pgcode == "42601"
    with pytest.raises(psycopg2.errors.SyntaxError) as ei:
        cur.execute("SELECT FROM WHERE")
    assert ei.value.pgcode == "42601"
    with pytest.raises(psycopg2.errors.UndefinedColumn) as ei:
        cur.execute("SELECT no_such_col FROM customers")
    assert ei.value.pgcode == "42703"
    t = uniq("pg2_pk")
    cur.execute("CREATE TABLE %s (id int PRIMARY KEY, v text)" % t)
    cur.execute("INSERT INTO " + t + " VALUES (%s, %s)", (1, "a"))
    with pytest.raises(psycopg2.errors.UniqueViolation) as ei:
        cur.execute("INSERT INTO " + t + " VALUES (%s, %s)", (1, "b"))
    assert ei.value.pgcode == "23505"
    with pytest.raises(psycopg2.errors.NotNullViolation) as ei:
        cur.execute("INSERT INTO " + t + " VALUES (NULL, 'c')")
    assert ei.value.pgcode == "23502"
    # the connection is still usable in autocommit mode
    cur.execute("SELECT count(*) FROM " + t)
    assert cur.fetchone()[0] == 1
    cur.execute("DROP TABLE %s" % t)


def test_many_statements_one_execute(conn):
    conn.autocommit = True
    cur = conn.cursor()
    t = uniq("pg2_multi")
    cur.execute("CREATE TABLE %s(a int); INSERT INTO %s VALUES (1),(2); SELECT sum(a) FROM %s" % (t, t, t))
    assert cur.fetchone()[0] == 2 + 1
    cur.execute("DROP TABLE %s" % t)


def test_server_side_cursor_after_error_recovers(conn):
    conn.autocommit = False
    cur = conn.cursor(name="err_" + uuid.uuid4().hex[:6])
    with pytest.raises(psycopg2.errors.UndefinedTable):
        cur.execute("SELECT * FROM nope_named")
    conn.rollback()
    cur = conn.cursor(name="ok_" + uuid.uuid4().hex[:6])
    cur.execute("SELECT id FROM customers ORDER BY id LIMIT 3")
    assert [r[0] for r in cur.fetchall()] == [1, 2, 3]
    conn.rollback()


def test_session_identity(conn):
    cur = conn.cursor()
    cur.execute("SELECT current_user, session_user, current_database()")
    assert cur.fetchone() == ("admin", "admin", "madang")
