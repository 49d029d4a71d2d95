"""The gate caches allowed decisions per statement shape (literals replaced).
A literal that chooses columns must never let a cached decision apply to a
statement that reads other columns."""
import psycopg
import psycopg2
import pytest

from conftest import MadangServer


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = MadangServer(tmp_path_factory.mktemp("cache") / "data", demo=True).start(timeout=300)
    yield s
    s.stop()


PAIRS = [
    ("SELECT COLUMNS('^id$') FROM customers", "SELECT COLUMNS('email') FROM customers"),
    ("SELECT #1 FROM customers", "SELECT #3 FROM customers"),
    ("SELECT * LIKE 'i%' FROM customers", "SELECT * LIKE 'e%' FROM customers"),
    ("SELECT COLUMNS(c -> c = 'id') FROM customers", "SELECT COLUMNS(c -> c = 'email') FROM customers"),
]


@pytest.mark.parametrize("allowed,denied", PAIRS)
@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_literal_choosing_columns_is_not_cached(srv, allowed, denied, protocol):
    if protocol == "simple":
        c = psycopg2.connect(srv.dsn("support", "support-demo"))
        c.autocommit = True
        cur = c.cursor()
        cur.execute(allowed + " LIMIT 1")
        cur.fetchall()
        with pytest.raises(psycopg2.Error) as e:
            cur.execute(denied + " LIMIT 1")
        assert e.value.pgcode == "42501"
        c.close()
    else:
        with psycopg.connect(srv.dsn("support", "support-demo"), autocommit=True) as c:
            c.execute(allowed + " LIMIT 1", prepare=True).fetchall()
            with pytest.raises(psycopg.Error) as e:
                c.execute(denied + " LIMIT 1", prepare=True)
            assert e.value.sqlstate == "42501"


def test_same_shape_other_constant_still_checked_for_denied(srv):
    c = psycopg2.connect(srv.dsn("support", "support-demo"))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("SELECT name FROM customers WHERE id = 1")
    cur.fetchall()
    cur.execute("SELECT name FROM customers WHERE id = 2")
    assert len(cur.fetchall()) == 1
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("SELECT name FROM customers WHERE email = 'x'")
    assert e.value.pgcode == "42501"
    c.close()
