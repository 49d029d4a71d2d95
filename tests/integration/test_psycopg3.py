"""psycopg 3 against madang: binary results, prepared statements, COPY, executemany,
pipeline mode, NULLs."""
import datetime
import uuid
from decimal import Decimal

import psycopg
import psycopg.errors
import pytest

UTC = datetime.timezone.utc


def uniq(prefix):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def conn(server):
    c = psycopg.connect(server.dsn(), autocommit=True, connect_timeout=10)
    yield c
    c.close()


TYPED = [
    ("1::int2", 21, 1),
    ("-2::int4", 23, -2),
    ("9007199254740993::int8", 20, 9007199254740993),
    ("1.5::float4", 700, 1.5),
    ("-2.25::float8", 701, -2.25),
    ("1234567.89::numeric(12,2)", 1700, Decimal("1234567.89")),
    ("-0.00012345::numeric(20,8)", 1700, Decimal("-0.00012345")),
    ("'héllo wörld'::text", 25, "héllo wörld"),
    ("true", 16, True),
    ("false", 16, False),
    ("date '2024-02-29'", 1082, datetime.date(2024, 2, 29)),
    ("date '1900-01-01'", 1082, datetime.date(1900, 1, 1)),
    ("timestamp '2024-01-02 03:04:05.123456'", 1114, datetime.datetime(2024, 1, 2, 3, 4, 5, 123456)),
    ("timestamp '1969-12-31 23:59:59'", 1114, datetime.datetime(1969, 12, 31, 23, 59, 59)),
    ("timestamptz '2024-01-02 03:04:05+00'", 1184, datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("interval '1 day 2 hours 3 seconds'", 1186, datetime.timedelta(days=1, seconds=7203)),
    ("'5d5b0a0e-6d1e-4a43-9d42-2a1e2b3c4d5e'::uuid", 2950, uuid.UUID("5d5b0a0e-6d1e-4a43-9d42-2a1e2b3c4d5e")),
    ("'abc'::bytea", 17, b"abc"),
    ("[1, 2, 3]::int4[]", 1007, [1, 2, 3]),
    ("[1, NULL, 3]::int8[]", 1016, [1, None, 3]),
    ("['a', 'b c']::text[]", 1009, ["a", "b c"]),
]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize("expr,oid,expected", TYPED, ids=[t[0] for t in TYPED])
def test_result_types(conn, binary, expr, oid, expected):
    cur = conn.cursor(binary=binary)
    cur.execute("SELECT " + expr + " AS v, NULL::" + ("int4" if oid != 25 else "text") + " AS n")
    row = cur.fetchone()
    assert cur.description[0].type_code == oid
    v = row[0]
    if isinstance(v, datetime.datetime) and v.tzinfo is not None:
        v = v.astimezone(UTC)
    assert v == expected
    assert type(v) is type(expected)
    assert row[1] is None


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_table_columns_binary(conn, binary):
    cur = conn.cursor(binary=binary)
    cur.execute("SELECT id, symbol, price, quantity, executed_at FROM trades ORDER BY id LIMIT 1000")
    rows = cur.fetchall()
    assert len(rows) == 1000
    assert [d.type_code for d in cur.description] == [20, 1043, 1700, 1700, 1114] or \
        [d.type_code for d in cur.description] == [23, 1043, 1700, 1700, 1114] or \
        [d.type_code for d in cur.description][2:] == [1700, 1700, 1114]
    for r in rows:
        assert isinstance(r[2], Decimal) and isinstance(r[3], Decimal)
        assert isinstance(r[4], datetime.datetime)
    # the same values come back in text and binary
    tcur = conn.cursor(binary=not binary)
    tcur.execute("SELECT id, symbol, price, quantity, executed_at FROM trades ORDER BY id LIMIT 1000")
    assert tcur.fetchall() == rows


def test_binary_parameters(conn):
    cur = conn.cursor(binary=True)
    params = (7, 2 ** 40, 1.25, Decimal("3.14159"), "tëxt", True, datetime.date(2020, 5, 17),
              datetime.datetime(2020, 5, 17, 8, 9, 10, 11), b"\x00\xff\x10", None,
              uuid.UUID("12345678-1234-5678-1234-567812345678"))
    cur.execute("SELECT %b, %b, %b, %b, %b, %b, %b, %b, %b, %b::int4, %b", params)
    assert cur.fetchone() == params


def test_text_parameters(conn):
    cur = conn.cursor()
    params = (7, 2 ** 40, 1.25, Decimal("3.14159"), "it's \"q\" ✓", False, datetime.date(2020, 5, 17),
              datetime.datetime(2020, 5, 17, 8, 9, 10, 11), b"\x00\xff\x10", None)
    cur.execute("SELECT %t, %t, %t, %t, %t, %t, %t, %t, %t, %t::text", params)
    assert cur.fetchone() == params


def test_prepared_statements(conn):
    cur = conn.cursor()
    seen = []
    for i in range(1, 13):
        cur.execute("SELECT id, name, email FROM customers WHERE id = %s", (i * 10,), prepare=True)
        row = cur.fetchone()
        assert row[0] == i * 10
        seen.append(row)
    # the same results without preparation
    for i, row in enumerate(seen, 1):
        cur.execute("SELECT id, name, email FROM customers WHERE id = %s", (i * 10,), prepare=False)
        assert cur.fetchone() == row
    # automatic preparation after prepare_threshold executions (default 5)
    conn.prepare_threshold = 2
    for i in range(8):
        cur.execute("SELECT count(*) FROM orders WHERE id <= %s", (1000 + i,))
        assert cur.fetchone()[0] == 1000 + i


def test_prepared_statement_binary_many_runs(conn):
    cur = conn.cursor(binary=True)
    for i in range(10):
        cur.execute("SELECT price, quantity, executed_at FROM trades WHERE id = %s", (i + 1,), prepare=True)
        p, q, ts = cur.fetchone()
        assert isinstance(p, Decimal) and isinstance(q, Decimal) and isinstance(ts, datetime.datetime)


def test_prepared_statement_survives_error(conn):
    cur = conn.cursor()
    for i in range(6):
        cur.execute("SELECT %s::int + 1", (i,), prepare=True)
        assert cur.fetchone()[0] == i + 1
    with pytest.raises(psycopg.errors.UndefinedTable):
        cur.execute("SELECT * FROM nope_p3 WHERE x = %s", (1,), prepare=True)
    cur.execute("SELECT %s::int + 1", (41,), prepare=True)
    assert cur.fetchone()[0] == 42


def test_copy_from_write_row_and_to(conn):
    t = uniq("p3_copy")
    cur = conn.cursor()
    cur.execute("CREATE TABLE %s (id int, name text, amount decimal(10,2), ts timestamp, ok boolean)" % t)
    base = datetime.datetime(2023, 3, 4, 5, 6, 7)
    rows = [(i, "n\t%d \\ \"x\" ü" % i if i % 7 else None, Decimal(i) / 4, base + datetime.timedelta(minutes=i),
             i % 2 == 0) for i in range(5000)]
    with cur.copy("COPY %s (id, name, amount, ts, ok) FROM STDIN" % t) as cp:
        for r in rows:
            cp.write_row(r)
    assert cur.rowcount == 5000
    cur.execute("SELECT count(*), count(name), sum(amount) FROM %s" % t)
    assert cur.fetchone() == (5000, sum(1 for r in rows if r[1] is not None), sum(r[2] for r in rows))
    out = []
    with cur.copy("COPY (SELECT id, name, amount, ts, ok FROM %s ORDER BY id) TO STDOUT" % t) as cp:
        cp.set_types(["int4", "text", "numeric", "timestamp", "bool"])
        for r in cp.rows():
            out.append(r)
    assert out == rows
    cur.execute("DROP TABLE %s" % t)


def test_copy_text_blocks(conn):
    t = uniq("p3_copyblk")
    cur = conn.cursor()
    cur.execute("CREATE TABLE %s (id int, s text)" % t)
    data = "".join("%d\tline %d\n" % (i, i) for i in range(20000)) + "20000\t\\N\n"
    with cur.copy("COPY %s FROM STDIN" % t) as cp:
        # odd-sized blocks split rows across CopyData messages
        for i in range(0, len(data), 777):
            cp.write(data[i:i + 777])
    cur.execute("SELECT count(*), count(s), sum(id) FROM %s" % t)
    assert cur.fetchone() == (20001, 20000, sum(range(20001)))
    buf = bytearray()
    with cur.copy("COPY %s TO STDOUT" % t) as cp:
        for block in cp:
            buf += block
    got = sorted(buf.decode().splitlines(), key=lambda l: int(l.split("\t")[0]))
    assert got == data.splitlines()
    cur.execute("DROP TABLE %s" % t)


def test_copy_csv_with_header(conn):
    t = uniq("p3_copycsv")
    cur = conn.cursor()
    cur.execute("CREATE TABLE %s (id int, s text, v double)" % t)
    csv_in = 'id,s,v\n1,"a,b",1.5\n2,"say ""hi""",\n3,plain,-3\n'
    with cur.copy("COPY %s FROM STDIN WITH (FORMAT csv, HEADER true)" % t) as cp:
        cp.write(csv_in)
    cur.execute("SELECT count(*), count(v) FROM %s" % t)
    assert cur.fetchone() == (3, 2)
    buf = bytearray()
    with cur.copy("COPY (SELECT * FROM %s ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER true)" % t) as cp:
        for block in cp:
            buf += block
    assert buf.decode() == 'id,s,v\n1,"a,b",1.5\n2,"say ""hi""",\n3,plain,-3\n' or \
        buf.decode() == 'id,s,v\n1,"a,b",1.5\n2,"say ""hi""",\n3,plain,-3.0\n', buf.decode()
    cur.execute("DROP TABLE %s" % t)


def test_copy_error_reports_and_connection_survives(conn):
    t = uniq("p3_copyerr")
    cur = conn.cursor()
    cur.execute("CREATE TABLE %s (id int)" % t)
    with pytest.raises(psycopg.errors.DataError):
        with cur.copy("COPY %s FROM STDIN" % t) as cp:
            cp.write("1\nnot-a-number\n3\n")
    cur.execute("SELECT count(*) FROM %s" % t)
    assert cur.fetchone() == (0,)
    cur.execute("DROP TABLE %s" % t)


def test_executemany(conn):
    t = uniq("p3_em")
    cur = conn.cursor()
    cur.execute("CREATE TABLE %s (id int, s text, d date)" % t)
    rows = [(i, "s%d" % i if i % 5 else None, datetime.date(2024, 1, 1) + datetime.timedelta(days=i))
            for i in range(2000)]
    cur.executemany("INSERT INTO " + t + " VALUES (%s, %s, %s)", rows)
    cur.execute("SELECT count(*), count(s), max(d) FROM %s" % t)
    assert cur.fetchone() == (2000, 1600, datetime.date(2024, 1, 1) + datetime.timedelta(days=1999))
    cur.executemany("SELECT s FROM " + t + " WHERE id = %s", [(1,), (2,), (5,)], returning=True)
    results = []
    while True:
        results.append(cur.fetchone())
        if not cur.nextset():
            break
    assert results == [("s1",), ("s2",), (None,)]
    cur.execute("DROP TABLE %s" % t)


def test_pipeline_mode(conn):
    t = uniq("p3_pipe")
    cur = conn.cursor()
    cur.execute("CREATE TABLE %s (id int, v text)" % t)
    with conn.pipeline() as p:
        for i in range(100):
            cur.execute("INSERT INTO " + t + " VALUES (%s, %s)", (i, "v%d" % i))
        c2 = conn.cursor()
        c2.execute("SELECT count(*) FROM " + t)
        c3 = conn.cursor()
        c3.execute("SELECT %s::int * 2", (21,))
        p.sync()
        assert c2.fetchone() == (100,)
        assert c3.fetchone() == (42,)
    # an error inside the pipeline aborts the rest up to the next sync, then recovers
    with pytest.raises(psycopg.errors.UndefinedTable):
        with conn.pipeline():
            conn.execute("SELECT * FROM nope_pipe")
            conn.execute("SELECT 1")
    assert conn.execute("SELECT count(*) FROM " + t).fetchone() == (100,)
    cur.execute("DROP TABLE %s" % t)


def test_nulls_everywhere(conn):
    cur = conn.cursor(binary=True)
    cur.execute("SELECT NULL::int2, NULL::int4, NULL::int8, NULL::float8, NULL::numeric, NULL::text, "
                "NULL::bool, NULL::date, NULL::timestamp, NULL::timestamptz, NULL::interval, NULL::uuid, "
                "NULL::bytea, NULL::int4[]")
    assert cur.fetchone() == (None,) * 14
    cur = conn.cursor()
    cur.execute("SELECT %s::int IS NULL, coalesce(%s::text, 'dflt')", (None, None))
    assert cur.fetchone() == (True, "dflt")


def test_transactions_and_failed_state(server):
    with psycopg.connect(server.dsn()) as c:
        with pytest.raises(psycopg.errors.UndefinedTable):
            c.execute("SELECT * FROM nope_tx3")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            c.execute("SELECT 1")
        c.rollback()
        assert c.execute("SELECT 1").fetchone() == (1,)
        c.commit()
        # with no transaction open, transaction() issues BEGIN/COMMIT (no savepoint)
        with c.transaction():
            assert c.execute("SELECT 2").fetchone() == (2,)
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


# Text parameters of unknown type (psycopg 3 sends a str with oid 0, as
# pgbench and node-postgres send every parameter) are bound as the type the
# engine inferred when their spelling is a plain number (pgwire/types.c), so
# a prepared INSERT is not re-planned at each run. The values must come out
# exactly as PostgreSQL reads them, and whatever is not a plain number must
# still reach the engine's own cast and its errors.
NUMERIC_TEXT = [
    ("42", " 7 ", "-9223372036854775808", "1.5", "2.5", (42, 7, -9223372036854775808, 1.5, 2.5)),
    ("+2147483647", "-32768", "9223372036854775807", "-0", ".5", (2147483647, -32768, 9223372036854775807, 0.0, 0.5)),
    ("-2147483648", "32767", "007", "1e308", "3.4e38", (-2147483648, 32767, 7, 1e308, 3.4e38)),
    ("0", "0", "0", "2.2250738585072014e-308", "5.", (0, 0, 0, 2.2250738585072014e-308, 5.0)),
    ("1", "1", "1", "0.1", "0.1", (1, 1, 1, 0.1, 0.1)),
    ("1", "1", "1", "NaN", "1E2", None),
]


def test_text_parameters_bound_as_the_inferred_number(conn):
    t = uniq("tp")
    conn.execute("CREATE TABLE %s (k int, i int, s smallint, b bigint, d double precision, r real)" % t)
    for k, (i, s, b, d, r, want) in enumerate(NUMERIC_TEXT):
        conn.execute("INSERT INTO %s VALUES (%d, %%s, %%s, %%s, %%s, %%s)" % (t, k), (i, s, b, d, r), prepare=True)
        got = conn.execute("SELECT i, s, b, d, r FROM %s WHERE k = %%s" % t, (str(k),), prepare=True).fetchone()
        if want is None:  # 'NaN' and '1E2' go through the engine's cast as before
            assert got[3] != got[3] and got[4] == 100.0
        else:
            assert got == want, (k, got)
    assert conn.execute("SELECT count(*) FROM %s WHERE b = %%s" % t, ("  -9223372036854775808\n",)).fetchone() == (1,)


@pytest.mark.parametrize("col,value", [("i", "2147483648"), ("s", "32768"), ("b", "9223372036854775808"),
                                       ("i", "12abc"), ("i", "1.5.1"), ("i", "")])
def test_text_parameters_that_are_not_plain_numbers_keep_their_errors(conn, col, value):
    t = uniq("tq")
    conn.execute("CREATE TABLE %s (i int, s smallint, b bigint, d double precision)" % t)
    with pytest.raises(psycopg.errors.DataError) as e:
        conn.execute("INSERT INTO %s (%s) VALUES (%%s)" % (t, col), (value,), prepare=True)
    assert e.value.sqlstate.startswith("22")
    assert conn.execute("SELECT count(*) FROM %s" % t).fetchone() == (0,)
