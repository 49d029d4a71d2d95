"""Row policies and column masks, tested differentially.

The spec: for a non-superuser, a query's result (rows, errors and their messages) is the
same as if each table held only the rows that user may see, with masked columns already
replaced by their masked values. Superusers are exempt.

Server A: demo data plus the policies below, queried as alice.
Server B: tables of the same names and column types holding exactly alice's visible rows
with the masks already applied (computed on A as admin with explicit SQL, not through the
policies, and copied over with COPY), queried as admin.

Every query in tests/corpus/policy_queries.sql runs on both, over psycopg2 (simple
protocol), psycopg 3 (prepare=True, binary: extended protocol) and pgjdbc
(tests/java/PolicyDiffTest.java, prepareThreshold=1), and must give equal results.

Besides the corpus: parameterized statements, COPY TO STDOUT, multi-statement queries,
EXPLAIN (denied, 42501), the superuser's exemption, madang.explain_access, a user no policy
admits (no rows), a group policy, policies that cannot be evaluated (must fail, never return
rows), table functions naming a protected table in a string (query_table/query: may be refused,
never answered past the policies), and policy changes reaching already-prepared statements.
"""
import io
import math
import os
import re
import shutil
import subprocess
from decimal import Decimal

import psycopg
import psycopg2
import pytest

from conftest import ROOT, MadangServer

CORPUS = os.path.join(ROOT, "tests", "corpus", "policy_queries.sql")
JAR = "/usr/share/java/postgresql.jar"
JAVA_SRC = os.path.join(ROOT, "tests", "java", "PolicyDiffTest.java")

ALICE, ALICE_PW = "alice", "alice-pw"
BOB, BOB_PW = "bob", "bob-pw"          # grants on customers, no policy admits him
CAROL, CAROL_PW = "carol", "carol-pw"  # member of group us_team, admitted by a group policy

POLICY_SETUP = [
    "CREATE TABLE main.user_regions (user_name VARCHAR, country VARCHAR)",
    "INSERT INTO main.user_regions VALUES ('alice', 'KR'), ('bob', 'US'), ('nobody', 'SG')",
    "CREATE USER alice PASSWORD 'alice-pw'",
    "CREATE USER bob PASSWORD 'bob-pw'",
    "CREATE USER carol PASSWORD 'carol-pw'",
    "CREATE GROUP us_team",
    "ALTER GROUP us_team ADD USER carol",
    "GRANT SELECT ON customers TO alice",
    "GRANT SELECT ON accounts TO alice",
    "GRANT SELECT ON orders TO alice",
    "GRANT SELECT ON customers TO bob",
    "GRANT SELECT ON customers TO GROUP us_team",
    # customers: alice sees the countries the mapping table gives her (KR)
    "CREATE POLICY region_rows ON main.customers FOR SELECT TO alice "
    "USING (country IN (SELECT country FROM user_regions WHERE user_name = current_user))",
    "CREATE POLICY us_rows ON main.customers FOR SELECT TO GROUP us_team USING (country = 'US')",
    # email: a column mask; phone: a tag whose mask keeps the last 4 characters
    "CREATE MASKING POLICY email_mask AS (v varchar) RETURNS varchar -> mask_email(v)",
    "ALTER TABLE customers ALTER COLUMN email SET MASKING POLICY email_mask",
    "CREATE MASKING POLICY last4 AS (v varchar) RETURNS varchar -> mask_show_last(v, 4)",
    "CREATE TAG pii",
    "ALTER TAG pii SET MASKING POLICY last4",
    "ALTER TABLE customers ALTER COLUMN phone SET TAG pii",
    # orders: only orders of accounts whose customer is in KR
    "CREATE POLICY kr_orders ON main.orders FOR SELECT TO alice "
    "USING (account_id IN (SELECT a.id FROM main.accounts a JOIN main.customers c ON c.id = a.customer_id "
    "WHERE c.country = 'KR'))",
]

# Column types as `\d` shows them on A (DuckDB names), checked against A before use.
TABLES = {
    "customers": [("id", "INTEGER"), ("name", "VARCHAR"), ("email", "VARCHAR"), ("phone", "VARCHAR"),
                  ("country", "VARCHAR"), ("birth_date", "DATE"), ("created_at", "TIMESTAMP")],
    "accounts": [("id", "INTEGER"), ("customer_id", "INTEGER"), ("currency", "VARCHAR"),
                 ("balance", "DECIMAL(20,8)"), ("opened_at", "TIMESTAMP")],
    "orders": [("id", "BIGINT"), ("account_id", "INTEGER"), ("symbol", "VARCHAR"), ("side", "VARCHAR"),
               ("order_type", "VARCHAR"), ("price", "DECIMAL(18,2)"), ("quantity", "DECIMAL(20,8)"),
               ("status", "VARCHAR"), ("created_at", "TIMESTAMP")],
}

# alice's view, spelled out (NOT through the policies): the row filter and the masks.
REFERENCE = {
    "customers": """
        SELECT id, name,
               regexp_replace(email, '^(.)[^@]*', '\\1***') AS email,
               CASE WHEN phone IS NULL THEN NULL
                    ELSE repeat('*', CAST(greatest(length(phone) - 4, 0) AS BIGINT)) || right(phone, 4) END AS phone,
               country, birth_date, created_at
        FROM main.customers WHERE country = 'KR' ORDER BY id""",
    "accounts": "SELECT id, customer_id, currency, balance, opened_at FROM main.accounts ORDER BY id",
    "orders": """
        SELECT o.id, o.account_id, o.symbol, o.side, o.order_type, o.price, o.quantity, o.status, o.created_at
        FROM main.orders o
        WHERE o.account_id IN (SELECT a.id FROM main.accounts a JOIN main.customers c ON c.id = a.customer_id
                               WHERE c.country = 'KR')
        ORDER BY o.id""",
}
EXPECTED_COUNTS = {"customers": 4000, "accounts": 20000, "orders": 80000}

# Views over the protected tables, created alike on both servers (on A owned by admin, read
# by alice with definer rights: the policies still apply to alice's reads through them).
VIEWS = [
    "CREATE VIEW main.v_contacts AS SELECT id, email, phone, country FROM main.customers WHERE id % 2 = 1",
    "CREATE VIEW main.v_order_owner AS SELECT o.id AS order_id, o.status, c.email, c.country "
    "FROM main.orders o JOIN main.accounts a ON a.id = o.account_id JOIN main.customers c ON c.id = a.customer_id",
]


# --------------------------------------------------------------------------- corpus

class Query:
    def __init__(self, n, sql, ordered, label, error_row_may_differ=False):
        self.n, self.sql, self.ordered, self.label = n, sql, ordered, label
        # "-- @error-row-may-differ": the query fails on visible data either
        # way, but which visible row the engine reports depends on its plan
        # (without policies DuckDB fetches late, after ORDER BY/LIMIT; behind
        # the policy fence it cannot). Both must fail with the same SQLSTATE,
        # and the message may name only masked values.
        self.error_row_may_differ = error_row_may_differ

    def __repr__(self):
        return self.label


def load_corpus(path=CORPUS):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    groups, cur = [], []
    for line in text.split("\n"):
        if line.strip() == ";;":
            groups.append(cur)
            cur = []
        else:
            cur.append(line)
    groups.append(cur)
    out = []
    for g in groups:
        comments = [l.strip() for l in g if l.strip().startswith("--")]
        body = [l for l in g if l.strip() and not l.strip().startswith("--")]
        if not body:
            continue
        ordered = any(c == "-- @ordered" for c in comments)
        label = next((c[2:].strip().split()[0] for c in comments if re.match(r"--\s*q\d+", c)), None)
        out.append(Query(len(out) + 1, "\n".join(body).strip(), ordered, label or "q%03d" % (len(out) + 1),
                         any(c == "-- @error-row-may-differ" for c in comments)))
    return out


QUERIES = load_corpus()


def test_corpus_size():
    assert len(QUERIES) >= 70
    assert len({q.label for q in QUERIES}) == len(QUERIES), "duplicate labels"


# --------------------------------------------------------------------------- servers

def sqlstate(e):
    return getattr(e, "pgcode", None) or getattr(e, "sqlstate", None) or \
        getattr(getattr(e, "diag", None), "sqlstate", None)


def admin_exec(srv, sqls):
    c = psycopg2.connect(srv.dsn())
    c.autocommit = True
    try:
        cur = c.cursor()
        for s in sqls:
            cur.execute(s)
    finally:
        c.close()


def admin_rows(srv, sql, params=None):
    c = psycopg2.connect(srv.dsn())
    c.autocommit = True
    try:
        cur = c.cursor()
        cur.execute(sql, params)
        return cur.fetchall()
    finally:
        c.close()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("policies")
    a = MadangServer(base / "a", demo=True, env={"MADANG_LOG": "debug"})  # debug: logs each policy rewrite
    b = MadangServer(base / "b")
    a.start(timeout=300)
    try:
        b.start(timeout=120)
    except Exception:
        a.stop()
        raise
    try:
        admin_exec(a, POLICY_SETUP + VIEWS + ["GRANT SELECT ON v_contacts TO alice",
                                              "GRANT SELECT ON v_order_owner TO alice"])
        ca = psycopg2.connect(a.dsn())
        ca.autocommit = True
        cb = psycopg2.connect(b.dsn())
        cb.autocommit = True
        try:
            for table, cols in TABLES.items():
                # the reference table has exactly A's column types (and its key / NOT NULL)
                got = admin_rows(a, "SELECT column_name, data_type FROM duckdb_columns() "
                                    "WHERE schema_name = 'main' AND table_name = %s ORDER BY column_index",
                                 (table,))
                assert [(n, t) for n, t in got] == cols, (table, got)
                ddl = "CREATE TABLE main.%s (%s, PRIMARY KEY (id))" % (
                    table, ", ".join("%s %s NOT NULL" % (n, t) for n, t in cols))
                cb.cursor().execute(ddl)
                buf = io.StringIO()
                ca.cursor().copy_expert("COPY (%s) TO STDOUT" % REFERENCE[table], buf)
                data = buf.getvalue()
                assert data.count("\n") == EXPECTED_COUNTS[table], (table, data.count("\n"))
                cb.cursor().copy_expert("COPY main.%s FROM STDIN" % table, io.StringIO(data))
                cur = cb.cursor()
                cur.execute("SELECT count(*) FROM main.%s" % table)
                assert cur.fetchone()[0] == EXPECTED_COUNTS[table]
            for v in VIEWS:
                cb.cursor().execute(v)
        finally:
            ca.close()
            cb.close()
        yield a, b
    finally:
        rb = b.stop()
        ra = a.stop()
    assert ra == 0, a.read_log()[-4000:]
    assert rb == 0, b.read_log()[-4000:]


@pytest.fixture(scope="module")
def conns(pair):
    a, b = pair
    pool = {}

    def get(side, proto):
        key = (side, proto)
        c = pool.get(key)
        if c is None or c.closed:
            srv, user, pw = (a, ALICE, ALICE_PW) if side == "A" else (b, "admin", None)
            if proto == "simple":
                c = psycopg2.connect(srv.dsn(user, pw))
            else:
                c = psycopg.connect(srv.dsn(user, pw))
            c.autocommit = True
            pool[key] = c
        return c

    yield get
    for c in pool.values():
        try:
            c.close()
        except Exception:
            pass


# --------------------------------------------------------------------------- comparison

def norm_value(v):
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return ("f", repr(v))
        return ("f", float("%.9g" % v))        # floats compared with a relative tolerance
    if isinstance(v, Decimal):
        return ("d", v.normalize() if v.is_finite() else str(v))
    if isinstance(v, (bytes, bytearray, memoryview)):
        return ("b", bytes(v))
    if isinstance(v, (list, tuple)):
        return ("l", tuple(norm_value(x) for x in v))
    return (type(v).__name__, v)


def sort_key(row):
    return repr(row)


def run_query(conn, proto, sql):
    """('rows', [normalized rows], names) or ('error', sqlstate, message, detail)."""
    try:
        cur = conn.cursor()
        if proto == "simple":
            cur.execute(sql)
        else:
            cur.execute(sql, prepare=True, binary=True)
        if cur.description is None:
            return ("rows", [], [])
        names = [d[0] for d in cur.description]
        rows = [tuple(norm_value(v) for v in r) for r in cur.fetchall()]
        return ("rows", rows, names)
    except (psycopg2.Error, psycopg.Error) as e:
        d = getattr(e, "diag", None)
        primary = getattr(d, "message_primary", None) or str(e).strip()
        detail = getattr(d, "message_detail", None)
        if detail and detail.startswith("Candidate bindings"):
            detail = None  # names columns: only superusers (the reference side) get it (docs/access-control.md)
        code = sqlstate(e)
        if code is None:     # a client-side failure is never a valid answer
            raise
        return ("error", code, primary, detail)


def describe(res, limit=8):
    if res[0] == "error":
        return "ERROR %s: %s%s" % (res[1], res[2], ("\nDETAIL: " + res[3]) if res[3] else "")
    rows = res[1]
    shown = "\n".join("  " + repr(r) for r in rows[:limit])
    return "%d rows, columns %s\n%s%s" % (len(rows), res[2], shown, "\n  ..." if len(rows) > limit else "")


def compare(q, ra, rb):
    """None if equal, else a message."""
    if ra[0] != rb[0]:
        return "one side failed:\nA (alice, policies): %s\nB (reference):      %s" % (describe(ra), describe(rb))
    if ra[0] == "error":
        if q.error_row_may_differ and ra[1] == rb[1]:
            return None if "***@" in str(ra[2]) else "error names an unmasked value: %s" % describe(ra)
        if ra[1:] != rb[1:]:
            return "different errors:\nA: %s\nB: %s" % (describe(ra), describe(rb))
        return None
    rows_a, rows_b = ra[1], rb[1]
    if ra[2] != rb[2]:
        return "different column names: %s vs %s" % (ra[2], rb[2])
    if not q.ordered:
        rows_a, rows_b = sorted(rows_a, key=sort_key), sorted(rows_b, key=sort_key)
    if rows_a != rows_b:
        first = next((i for i, (x, y) in enumerate(zip(rows_a, rows_b)) if x != y), min(len(rows_a), len(rows_b)))
        return ("different rows (%s; first difference at %d):\nA (alice, policies): %s\nB (reference):      %s"
                "\nA[%d]=%r\nB[%d]=%r" % ("ordered" if q.ordered else "multiset", first, describe(ra),
                                           describe(rb), first, rows_a[first] if first < len(rows_a) else None,
                                           first, rows_b[first] if first < len(rows_b) else None))
    return None


@pytest.mark.parametrize("proto", ["simple", "extended"])
@pytest.mark.parametrize("q", QUERIES, ids=[q.label for q in QUERIES])
def test_differential(conns, q, proto):
    ra = run_query(conns("A", proto), proto, q.sql)
    rb = run_query(conns("B", proto), proto, q.sql)
    msg = compare(q, ra, rb)
    assert msg is None, "%s [%s]\n%s\n%s" % (q.label, proto, q.sql, msg)


# Parameterized statements: the parameters arrive in Bind (extended) or are interpolated by
# the client (simple); the answer must not depend on whether the parameter names a hidden row.
PARAM_QUERIES = [
    ("SELECT id, email, phone FROM customers WHERE id = %s", (1,)),
    ("SELECT id, email, phone FROM customers WHERE id = %s", (2,)),
    ("SELECT count(*) FROM customers WHERE id < %s", (100,)),
    ("SELECT count(*) FROM customers WHERE email = %s", ("s***@example.com",)),
    ("SELECT count(*) FROM customers WHERE email = %s", ("sora.smith1@example.com",)),
    ("SELECT count(*) FROM customers WHERE phone LIKE %s", ("+82%",)),
    ("SELECT count(*) FROM customers WHERE country = %s", ("US",)),
    ("SELECT count(*) FROM orders WHERE id = %s", (1,)),
    ("SELECT count(*) FROM customers WHERE CASE WHEN id = %s THEN error('param leak') ELSE true END", (2,)),
    ("SELECT CAST(email AS INT) FROM customers WHERE id = %s", (4,)),
    ("SELECT id FROM customers WHERE id > %s ORDER BY id LIMIT %s", (1, 3)),
    ("SELECT id, email FROM customers WHERE id = %s", (17,)),
    ("SELECT id, email FROM customers WHERE id = %s", (2,)),
    ("SELECT count(*) FROM customers WHERE country = %s AND id BETWEEN %s AND %s", ("KR", 10, 3000)),
    ("SELECT count(*) FROM orders WHERE id >= %s AND CASE WHEN account_id = 1 THEN error('pushed param leak') "
     "ELSE true END", (1,)),
]


@pytest.mark.parametrize("proto", ["simple", "extended"])
@pytest.mark.parametrize("i", range(len(PARAM_QUERIES)), ids=["p%02d" % (i + 1) for i in range(len(PARAM_QUERIES))])
def test_differential_with_parameters(conns, i, proto):
    sql, params = PARAM_QUERIES[i]
    out = []
    for side in ("A", "B"):
        conn = conns(side, proto)
        try:
            cur = conn.cursor()
            if proto == "simple":
                cur.execute(sql, params)
            else:
                cur.execute(sql, params, prepare=True, binary=True)
            out.append(("rows", [tuple(norm_value(v) for v in r) for r in cur.fetchall()],
                        [d[0] for d in cur.description]))
        except (psycopg2.Error, psycopg.Error) as e:
            d = getattr(e, "diag", None)
            out.append(("error", sqlstate(e), getattr(d, "message_primary", None) or str(e).strip(),
                        getattr(d, "message_detail", None)))
    msg = compare(Query(0, sql, "ORDER BY" in sql, "p"), out[0], out[1])
    assert msg is None, "[%s] %s %r\n%s" % (proto, sql, params, msg)


COPY_QUERIES = [
    "COPY customers TO STDOUT",
    "COPY main.orders TO STDOUT",
    "COPY (SELECT * FROM customers ORDER BY id) TO STDOUT",
    "COPY (SELECT id, email, phone FROM customers WHERE id < 20 ORDER BY id) TO STDOUT (FORMAT csv, HEADER)",
    "COPY (SELECT o.id, c.email FROM orders o JOIN accounts a ON a.id = o.account_id "
    "JOIN customers c ON c.id = a.customer_id ORDER BY o.id) TO STDOUT",
]


@pytest.mark.parametrize("sql", COPY_QUERIES, ids=["copy%d" % i for i in range(1, len(COPY_QUERIES) + 1)])
def test_copy_out(pair, sql):
    """COPY ... TO STDOUT as alice gives exactly the reference's COPY output (or is refused)."""
    a, b = pair
    out = []
    for srv, user, pw in ((a, ALICE, ALICE_PW), (b, "admin", None)):
        c = psycopg2.connect(srv.dsn(user, pw))
        c.autocommit = True
        try:
            buf = io.StringIO()
            try:
                c.cursor().copy_expert(sql, buf)
                out.append(("data", buf.getvalue()))
            except psycopg2.Error as e:
                out.append(("error", e.pgcode, str(e).strip()))
        finally:
            c.close()
    ra, rb = out
    assert rb[0] == "data", rb
    if ra[0] == "error":
        assert ra[1], ra                     # refused with an SQLSTATE: acceptable, never a leak
        print("\n%s refused: %s" % (sql, ra[2]))
        return
    la, lb = ra[1].splitlines(), rb[1].splitlines()
    if "ORDER BY" not in sql:
        la, lb = sorted(la), sorted(lb)
    assert len(la) == len(lb) and la == lb, "%s\nA: %d lines %r\nB: %d lines %r" % (
        sql, len(la), la[:3], len(lb), lb[:3])


def test_multi_statement_simple_query(pair):
    """Several statements in one simple Query message: each is governed."""
    a, b = pair
    sql = "SELECT count(*) FROM accounts; SELECT count(*), max(email), max(phone) FROM customers"
    res = []
    for srv, user, pw in ((a, ALICE, ALICE_PW), (b, "admin", None)):
        c = psycopg2.connect(srv.dsn(user, pw))
        c.autocommit = True
        try:
            cur = c.cursor()
            try:
                cur.execute(sql)
                res.append(("rows", cur.fetchall()))
            except psycopg2.Error as e:
                res.append(("error", e.pgcode))
        finally:
            c.close()
    print("\n", res)
    if res[0][0] == "error":
        return
    assert res[0] == res[1], res


def test_reference_is_not_trivial(conns):
    """The corpus must actually see masked and filtered data (guards against an empty
    reference making every comparison vacuous)."""
    r = run_query(conns("A", "simple"), "simple",
                  "SELECT count(*), min(email), min(phone), count(DISTINCT country) FROM customers")
    assert r[0] == "rows"
    (n, email, phone, ncountry), = [tuple(v[1] for v in row) for row in r[1]]
    assert n == 4000 and ncountry == 1
    assert re.fullmatch(r".\*\*\*@example\.com", email), email
    assert re.fullmatch(r"\*{12}\d{4}", phone), phone


# --------------------------------------------------------------------------- JDBC

@pytest.fixture(scope="module")
def java_classes(tmp_path_factory):
    for tool in ("javac", "java"):
        assert shutil.which(tool), tool + " not installed"
    assert os.path.exists(JAR), JAR
    out = tmp_path_factory.mktemp("policyjava")
    r = subprocess.run(["javac", "-encoding", "UTF-8", "-cp", JAR, "-d", str(out), JAVA_SRC],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return str(out)


def test_jdbc_differential(pair, java_classes):
    a, b = pair
    url = "jdbc:postgresql://127.0.0.1:%d/madang?prepareThreshold=1&sslmode=disable"
    r = subprocess.run(["java", "-Dfile.encoding=UTF-8", "-cp", JAR + os.pathsep + java_classes, "PolicyDiffTest",
                        url % a.pg_port, ALICE, ALICE_PW, url % b.pg_port, "admin", b.admin_password, CORPUS],
                       capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    m = re.search(r"(\d+) passed, (\d+) failed", r.stdout)
    assert m, out[-6000:]
    assert int(m.group(1)) + int(m.group(2)) == len(QUERIES), out[-6000:]
    assert r.returncode == 0 and m.group(2) == "0", out[-20000:]


# --------------------------------------------------------------------------- non-differential

def test_explain_denied(pair):
    a, _ = pair
    for proto in ("simple", "extended"):
        c = psycopg2.connect(a.dsn(ALICE, ALICE_PW)) if proto == "simple" else psycopg.connect(a.dsn(ALICE, ALICE_PW))
        c.autocommit = True
        try:
            for sql in ("EXPLAIN SELECT * FROM customers",
                        "EXPLAIN SELECT count(*) FROM orders",
                        "EXPLAIN ANALYZE SELECT count(*) FROM customers WHERE country = 'US'",
                        "EXPLAIN SELECT * FROM accounts a JOIN customers c ON c.id = a.customer_id"):
                with pytest.raises((psycopg2.Error, psycopg.Error)) as ei:
                    cur = c.cursor()
                    if proto == "simple":
                        cur.execute(sql)
                    else:
                        cur.execute(sql, prepare=True)
                    cur.fetchall()
                assert sqlstate(ei.value) == "42501", (sql, proto, str(ei.value))
            # the session is still usable, and a table without policies can be explained
            cur = c.cursor()
            cur.execute("SELECT count(*) FROM customers")
            assert cur.fetchone()[0] == 4000
            cur.execute("EXPLAIN SELECT count(*) FROM accounts")
            assert cur.fetchall()
        finally:
            c.close()


def test_superuser_sees_everything_unmasked(pair):
    a, _ = pair
    (n, ncountry, real_emails, real_phones), = admin_rows(
        a, "SELECT count(*), count(DISTINCT country), count(*) FILTER (WHERE email NOT LIKE '%***%'), "
           "count(*) FILTER (WHERE phone LIKE '+%') FROM customers")
    assert (n, ncountry, real_emails, real_phones) == (10000, 7, 10000, 10000)
    assert admin_rows(a, "SELECT count(*) FROM orders") == [(200000,)]
    assert admin_rows(a, "SELECT email, phone FROM customers WHERE id = 1") == \
        [("sora.smith1@example.com", "+82-10-7919-4729")]
    # and EXPLAIN is allowed for the superuser
    assert admin_rows(a, "EXPLAIN SELECT * FROM customers")


def test_explain_access(pair):
    a, _ = pair
    rows = admin_rows(a, "SELECT * FROM madang.explain_access('alice', 'customers')")
    print("\nexplain_access('alice', 'customers'):")
    for r in rows:
        print("  ", r)
    assert any(r[0] == "SELECT" and r[1] is True for r in rows), rows


def test_user_without_policy_sees_no_rows(pair):
    a, _ = pair
    c = psycopg2.connect(a.dsn(BOB, BOB_PW))
    c.autocommit = True
    try:
        cur = c.cursor()
        cur.execute("SELECT count(*) FROM customers")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM customers WHERE CASE WHEN id = 1 THEN error('bob leak') ELSE true END")
        assert cur.fetchone()[0] == 0
    finally:
        c.close()


def test_group_policy(pair):
    a, _ = pair
    c = psycopg.connect(a.dsn(CAROL, CAROL_PW))
    c.autocommit = True
    try:
        cur = c.cursor()
        cur.execute("SELECT count(*), count(DISTINCT country), min(country), max(email LIKE '_***@%'), "
                    "max(phone LIKE '+%') FROM customers", prepare=True)
        assert cur.fetchone() == (1000, 1, "US", True, False)
    finally:
        c.close()


def _alice_query(srv, sql):
    c = psycopg2.connect(srv.dsn(ALICE, ALICE_PW))
    c.autocommit = True
    try:
        cur = c.cursor()
        cur.execute(sql)
        return cur.fetchall()
    finally:
        c.close()


@pytest.mark.parametrize("breakage,restore", [
    ("ALTER TABLE main.user_regions RENAME TO user_regions_gone",
     "ALTER TABLE main.user_regions_gone RENAME TO user_regions"),
    # (not "RENAME COLUMN country": the policy's unqualified `country` would then bind to
    # customers.country, a correlated subquery that is true for every row, as in PostgreSQL)
    ("ALTER TABLE main.user_regions RENAME COLUMN user_name TO login",
     "ALTER TABLE main.user_regions RENAME COLUMN login TO user_name"),
    ("DROP TABLE main.user_regions",
     "CREATE TABLE main.user_regions AS SELECT * FROM (VALUES ('alice', 'KR'), ('bob', 'US'), ('nobody', 'SG')) "
     "t(user_name, country)"),
], ids=["rename-table", "rename-column", "drop-table"])
def test_unevaluable_policy_fails_closed(pair, breakage, restore):
    a, _ = pair
    sql = "SELECT count(*), count(DISTINCT country) FROM customers"
    assert _alice_query(a, sql) == [(4000, 1)]
    admin_exec(a, [breakage])
    try:
        for proto in ("simple", "extended"):
            c = psycopg2.connect(a.dsn(ALICE, ALICE_PW)) if proto == "simple" else \
                psycopg.connect(a.dsn(ALICE, ALICE_PW))
            c.autocommit = True
            try:
                for q in (sql, "SELECT id, email FROM customers WHERE id IN (1, 2)",
                          "SELECT count(*) FROM customers c JOIN accounts a ON a.customer_id = c.id"):
                    try:
                        cur = c.cursor()
                        if proto == "simple":
                            cur.execute(q)
                        else:
                            cur.execute(q, prepare=True)
                        rows = cur.fetchall()
                    except (psycopg2.Error, psycopg.Error) as e:
                        assert sqlstate(e), e
                        print("\n%s [%s] -> %s: %s" % (q, proto, sqlstate(e), str(e).strip().splitlines()[0]))
                        continue
                    # never rows: the policy cannot be evaluated, so the query must fail
                    pytest.fail("query with an unevaluable policy returned %r for %s [%s]" % (rows, q, proto))
            finally:
                c.close()
    finally:
        admin_exec(a, [restore])
    assert _alice_query(a, sql) == [(4000, 1)]


# Statements that name the protected table in a way a text scan does not see (a string given
# to a table function) or ask for something the reference cannot answer the same way (rowid:
# A's row ids would reveal hidden rows' positions). madang may refuse them; it may not answer
# anything but the reference's answer.
NO_BYPASS = [
    "SELECT count(*) FROM query_table('customers')",
    "SELECT id, email, phone, country FROM query_table('customers') WHERE id IN (1, 2, 3)",
    "SELECT count(*) FROM query_table('main.customers')",
    "SELECT count(*) FROM query_table('warehouse.main.customers')",
    "SELECT count(*) FROM query_table('cust' || 'omers')",
    "SELECT count(*) FROM query('SELECT * FROM customers')",
    "SELECT max(email) FROM query('SELECT email FROM main.customers')",
    "SELECT count(*) FROM query_table('orders')",
    "SELECT count(*) FROM query('SELECT id FROM orders WHERE id < 6')",
    "SELECT (SELECT count(*) FROM query_table('customers')) AS n, (SELECT count(*) FROM customers) AS m",
    "SELECT rowid, id FROM customers WHERE id < 8",
]


@pytest.mark.parametrize("proto", ["simple", "extended"])
@pytest.mark.parametrize("sql", NO_BYPASS, ids=["nb%02d" % i for i in range(1, len(NO_BYPASS) + 1)])
def test_no_bypass(conns, sql, proto):
    ra = run_query(conns("A", proto), proto, sql)
    if ra[0] == "error":
        return                                  # refused: fine
    rb = run_query(conns("B", proto), proto, sql)
    msg = compare(Query(0, sql, False, "nb"), ra, rb)
    assert msg is None, "policies bypassed [%s]\n%s\n%s" % (proto, sql, msg)


def _execute_outcomes(cur, sql, times):
    out = []
    for _ in range(times):
        try:
            cur.execute(sql, prepare=True)
            out.append(("rows", cur.fetchone()))
        except psycopg.Error as e:
            out.append(("error", e.sqlstate, str(e).strip().splitlines()[0]))
    return out


def test_policy_change_reaches_prepared_statements(pair):
    """A statement prepared before a policy or mask exists must not go on reading the table
    unfiltered or unmasked once it is created: every later execution of it either answers
    as the new policies say or fails (madang may ask the client to prepare it again)."""
    a, _ = pair
    c = psycopg.connect(a.dsn(ALICE, ALICE_PW))
    c.autocommit = True
    q_acc = "SELECT count(*), count(DISTINCT currency) FROM accounts"
    q_mail = "SELECT max(email) FROM customers WHERE id = 1"
    try:
        cur = c.cursor()
        for _ in range(3):                     # server-side prepared (psycopg keeps the name)
            cur.execute(q_acc, prepare=True)
            assert cur.fetchone() == (20000, 5)
            cur.execute(q_mail, prepare=True)
            assert cur.fetchone() == ("s***@example.com",)
        admin_exec(a, ["CREATE POLICY btc_only ON main.accounts FOR SELECT TO alice USING (currency = 'BTC')",
                       "CREATE MASKING POLICY em2 AS (v varchar) RETURNS varchar -> mask_null(v)",
                       "ALTER TABLE customers ALTER COLUMN email SET MASKING POLICY em2"])
        try:
            acc = _execute_outcomes(cur, q_acc, 3)
            mail = _execute_outcomes(cur, q_mail, 3)
            print("\naccounts after the new policy:", acc, "\nemail after the new mask:", mail)
            stale = [o for o in acc if o[0] == "rows" and o[1] != (4000, 1)] + \
                    [o for o in mail if o[0] == "rows" and o[1] != (None,)]
            assert not stale, "a prepared statement kept the old policies: accounts %r, email %r" % (acc, mail)
            # a fresh session sees the new policies
            c2 = psycopg.connect(a.dsn(ALICE, ALICE_PW))
            c2.autocommit = True
            try:
                assert _execute_outcomes(c2.cursor(), q_acc, 2) == [("rows", (4000, 1))] * 2
                assert _execute_outcomes(c2.cursor(), q_mail, 2) == [("rows", (None,))] * 2
            finally:
                c2.close()
        finally:
            admin_exec(a, ["DROP POLICY btc_only ON main.accounts",
                           "ALTER TABLE customers ALTER COLUMN email SET MASKING POLICY email_mask",
                           "DROP MASKING POLICY em2"])
    finally:
        c.close()
    c = psycopg.connect(a.dsn(ALICE, ALICE_PW))
    c.autocommit = True
    try:
        assert _execute_outcomes(c.cursor(), q_acc, 1) == [("rows", (20000, 5))]
        assert _execute_outcomes(c.cursor(), q_mail, 1) == [("rows", ("s***@example.com",))]
    finally:
        c.close()


def test_authorization_cache_does_not_extend_to_other_tables(pair):
    """Found while testing the policies: the authorization cache is keyed by the statement's
    shape (literals replaced by '?'), and a table function's argument is a literal, so once
    SELECT ... FROM query_table('customers') is allowed, query_table('trades') (no grant) must
    not ride on that decision."""
    a, _ = pair
    for proto in ("simple", "extended"):
        c = psycopg2.connect(a.dsn(ALICE, ALICE_PW)) if proto == "simple" else psycopg.connect(a.dsn(ALICE, ALICE_PW))
        c.autocommit = True
        try:
            outcomes = []
            for t in ("accounts", "trades"):
                try:
                    cur = c.cursor()
                    sql = "SELECT count(*) FROM query_table('%s')" % t
                    cur.execute(sql) if proto == "simple" else cur.execute(sql, prepare=True)
                    outcomes.append((t, "rows", cur.fetchall()))
                except (psycopg2.Error, psycopg.Error) as e:
                    outcomes.append((t, "error", sqlstate(e)))
            print("\n[%s] %s" % (proto, outcomes))
            assert outcomes[1][1] == "error" and outcomes[1][2] == "42501", \
                "alice (no grant on trades) read it after an allowed query of the same shape: %r" % outcomes
        finally:
            c.close()


def test_policy_tables_cannot_be_shadowed_by_the_user(pair):
    """A CTE or a TEMP table named like the policy's mapping table must not
    stand in for it (the policy's relations are fully qualified)."""
    a, _ = pair
    c = psycopg2.connect(a.dsn("alice", ALICE_PW))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("WITH user_regions AS (SELECT 'alice' AS user_name, unnest(['US','KR','JP','DE']) AS country) "
                "SELECT count(*), count(DISTINCT country) FROM customers")
    assert cur.fetchone() == (4000, 1)
    cur.execute("CREATE TEMP TABLE user_regions AS SELECT 'alice' AS user_name, 'US' AS country")
    cur.execute("SELECT count(*), min(country) FROM customers")
    assert cur.fetchone() == (4000, "KR")
    cur.execute("CREATE TEMP TABLE customers AS SELECT 1 AS id")
    cur.execute("SELECT count(*) FROM main.customers")
    n = cur.fetchone()[0]
    assert n in (1, 4000), n  # her own temp table, or the filtered real one: never more
    c.close()


def test_copy_out_is_filtered_and_masked(pair):
    a, _ = pair
    c = psycopg2.connect(a.dsn("alice", ALICE_PW))
    for sql in ("COPY (SELECT email, country FROM customers) TO STDOUT", "COPY customers (email, country) TO STDOUT"):
        buf = io.StringIO()
        c.cursor().copy_expert(sql, buf)
        lines = buf.getvalue().splitlines()
        assert len(lines) == 4000, sql
        assert all("***@" in l.split("\t")[0] and l.split("\t")[1] == "KR" for l in lines), sql
    c.close()


PUSHDOWN = [
    # (statement, text the rewrite must contain, text it must not)
    ("SELECT id FROM customers WHERE id = 17171", '"id" = 17171', None),
    ("SELECT id FROM customers WHERE 17172 >= id AND country IN ('KR', 'JP')", '17172 >= "id"',
     None),
    ("SELECT id FROM customers WHERE id BETWEEN 17173 AND 17180 AND name <> 'O''Neil'",
     '"id" BETWEEN 17173 AND 17180', None),
    ("SELECT id FROM customers WHERE name <> 'O''Neil' AND id = 17181", "\"name\" <> 'O''Neil'", None),
    ("SELECT o.id FROM orders o JOIN customers c ON c.id = o.account_id WHERE o.id = 17182 AND c.id = 17183",
     '"id" = 17183', None),
    # a masked column is compared as masked: never under the policy
    ("SELECT id FROM customers WHERE email = 'x@17184' AND id = 17184", '"id" = 17184', '"email" ='),
    # the null-supplying side of an outer join: its WHERE is no filter of that table's rows
    ("SELECT count(*) FROM accounts a LEFT JOIN customers c ON c.id = a.customer_id WHERE c.id = 17185",
     "madang_policy_in(country", "17185)"),
    # a cast of the column, a function, an OR: not copied
    ("SELECT id FROM customers WHERE CAST(name AS INTEGER) = 17186", "madang_policy_in(country", "17186)"),
    ("SELECT id FROM customers WHERE abs(id) = 17187", "madang_policy_in(country", "17187)"),
    ("SELECT id FROM customers WHERE id = 17188 OR id = 17189", "madang_policy_in(country", "17188)"),
]


@pytest.mark.parametrize("i", range(len(PUSHDOWN)), ids=["push%d" % (i + 1) for i in range(len(PUSHDOWN))])
def test_constant_filters_applied_under_the_policy(pair, i):
    """A WHERE term comparing an unmasked column of a row-filtered table with a
    constant is also applied inside the protected relation, after its policy
    (so the engine can skip row groups); nothing else is."""
    a, _ = pair
    sql, must, must_not = PUSHDOWN[i]
    marker = re.search(r"171\d\d", sql).group(0)
    c = psycopg2.connect(a.dsn(ALICE, ALICE_PW))
    c.autocommit = True
    try:
        c.cursor().execute(sql)
    except psycopg2.Error:
        pass  # a failing cast is fine: the rewrite is what is checked
    finally:
        c.close()
    lines = [l for l in a.read_log().splitlines() if "event=policy_rewrite" in l and marker in l]
    assert lines, "no rewrite logged for %s" % sql
    rewritten = lines[-1]
    inner = rewritten[rewritten.index("madang_fence() AND"):]
    assert must in inner, rewritten
    if must_not:
        assert must_not not in inner, rewritten


FENCING = [
    # (statement with a unique marker, columns that must be fenced, columns that must not)
    # no condition anywhere: nothing can be moved under the policy
    ("SELECT country, sum(id) + 17190 FROM customers GROUP BY country", [], ["country", "id"]),
    # read only inside aggregates: no fence, the condition's column has one
    ("SELECT max(id) FROM customers c WHERE name <> 'x17191'", ["name"], ["id"]),
    # a condition names an output: the columns behind it
    ("SELECT country AS c17192 FROM customers WHERE c17192 = 'KR'", ["country"], ["id"]),
    ("SELECT * FROM (SELECT upper(country) AS u, id + 17193 AS k FROM customers) t WHERE u = 'KR'",
     ["country"], ["id"]),
    # an output whose name the engine makes up, under a condition
    ("SELECT * FROM (SELECT upper(country), id + 17194 AS k FROM customers) t WHERE k > 0", ["country", "id"],
     []),
    # join conditions, USING, correlated subqueries
    ("SELECT count(*) FROM customers c JOIN accounts a ON a.customer_id = c.id WHERE a.id > 17195", ["id"],
     ["country"]),
    ("SELECT c.country, (SELECT count(*) FROM accounts a WHERE a.customer_id = c.id) + 17196 FROM customers c",
     ["id"], ["country"]),
    # names that may stand for other columns: everything
    ("SELECT country FROM customers UNION ALL SELECT 'x17197'", ["country", "id"], []),
    ("SELECT count(*) + 17198 FROM customers NATURAL JOIN (SELECT 'KR' AS country) z", ["country", "id"], []),
]


@pytest.mark.parametrize("i", range(len(FENCING)), ids=["fence%d" % (i + 1) for i in range(len(FENCING))])
def test_only_columns_conditions_reach_are_fenced(pair, i):
    """The fence (a CASE per row and column) only where a condition could reach
    the column: see protect.c, which columns need the fence."""
    sql, fenced, free = FENCING[i]
    marker = re.search(r"17\d{3}", sql).group(0)
    a, _ = pair
    c = psycopg2.connect(a.dsn(ALICE, ALICE_PW))
    c.autocommit = True
    try:
        c.cursor().execute(sql)
    finally:
        c.close()
    line = [l for l in a.read_log().splitlines() if "event=policy_rewrite" in l and marker in l][-1]
    inner = line[line.index("FROM (SELECT"):]
    for col in fenced:
        assert 'THEN "%s" END' % col in inner, (col, line)
    for col in free:
        assert '"%s" AS "%s"' % (col, col) in inner, (col, line)
