"""The captured client corpus (tests/corpus/client-queries: psql, pgjdbc, psqlODBC,
psycopg) replayed over the wire, as a superuser and as an unprivileged user
with one grant: every statement runs (no error), and the unprivileged user's
catalog answers mention only what they may read."""
import glob
import os
import re

import psycopg2
import pytest

from conftest import ROOT, MadangServer

CORPUS = os.path.join(ROOT, "tests", "corpus", "client-queries")


def statements():
    out = []
    for path in sorted(glob.glob(os.path.join(CORPUS, "*.sql"))):
        text = open(path).read()
        # statements end with ';' at end of line (psql's own capture appends ';;')
        for chunk in re.split(r";\s*\n", text):
            lines = [l for l in chunk.splitlines() if not l.strip().startswith("--")]
            sql = "\n".join(lines).strip().rstrip(";").strip()
            if sql:
                out.append((os.path.basename(path), sql))
    return out


STATEMENTS = statements()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = MadangServer(tmp_path_factory.mktemp("replay") / "data").start()
    c = psycopg2.connect(s.dsn())
    c.autocommit = True
    cur = c.cursor()
    cur.execute("CREATE SCHEMA sales")
    cur.execute("CREATE TABLE sales.customers (id INTEGER PRIMARY KEY, name VARCHAR, email VARCHAR, country VARCHAR)")
    cur.execute("CREATE TABLE sales.orders (id BIGINT PRIMARY KEY, customer_id INTEGER, amount DECIMAL(12,2), "
                "created_at TIMESTAMP)")
    cur.execute("CREATE VIEW sales.v_big AS SELECT * FROM sales.orders WHERE amount > 100")
    cur.execute("COMMENT ON TABLE sales.orders IS 'all orders'")
    cur.execute("CREATE USER replay_user WITH PASSWORD 'replay'")
    cur.execute("GRANT SELECT ON sales.orders TO replay_user")
    oid = None
    cur.execute("SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'sales' AND c.relname = 'orders'")
    oid = cur.fetchone()[0]
    c.close()
    s.orders_oid = oid
    yield s
    s.stop()


def prepare(sql, oid):
    sql = sql.replace("16405", str(oid))
    return re.sub(r"\$\d+", "42", sql)


@pytest.mark.parametrize("user", ["admin", "replay_user"])
def test_corpus_runs(srv, user):
    c = psycopg2.connect(srv.dsn(user, None if user == "admin" else "replay"))
    c.autocommit = True
    cur = c.cursor()
    failures = []
    ran = 0
    for name, sql in STATEMENTS:
        try:
            cur.execute(prepare(sql, srv.orders_oid))
            if cur.description:
                cur.fetchall()
            ran += 1
        except psycopg2.Error as e:
            failures.append("%s: %s\n  %s" % (name, str(e).strip().splitlines()[0], sql[:160]))
    c.close()
    assert not failures, "%d of %d failed:\n%s" % (len(failures), len(STATEMENTS), "\n".join(failures))
    assert ran >= 50


def test_user_catalog_shows_only_granted(srv):
    c = psycopg2.connect(srv.dsn("replay_user", "replay"))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'sales' ORDER BY 1")
    names = [r[0] for r in cur.fetchall()]
    assert "orders" in names
    assert "customers" not in names and "v_big" not in names
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'sales'")
    assert [r[0] for r in cur.fetchall()] == ["orders"]
    cur.execute("SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = 'customers'")
    assert cur.fetchone() == (0,)
    c.close()
