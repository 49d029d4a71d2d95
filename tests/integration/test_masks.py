"""The built-in masks (schema madang), checked value by value against their
definitions written here in Python: lengths count code points, NULL in gives
NULL out, n is clamped to [0, length]. The values mix short ASCII strings (the
engine keeps up to 12 bytes inline; the masks work on those in place), longer
ones, multi-byte UTF-8, empty strings and NULLs, in vectors of several chunks."""
import datetime

import psycopg2
import pytest

from conftest import MadangServer

VALUES = ["", "a", "abc", "010-12345678", "0123456789ab", "0123456789abc", "kim@example.com",
          "k@x", "@nouser.org", "no-at-sign", "김철수", "서울특별시 강남구", "é", "naïve café",
          "emoji 🙂 here", "MiXeD 42 Case!", None, "x" * 40, "한" * 5, "ab\tcd"]
NS = [-1, 0, 1, 2, 4, 12, 13, 100]


def show_first(v, n):
    k = max(0, min(n, len(v)))
    return v[:k] + "*" * (len(v) - k)


def show_last(v, n):
    k = max(0, min(n, len(v)))
    return "*" * (len(v) - k) + v[len(v) - k:]


def redact(v):
    return "".join("x" if "a" <= ch <= "z" else "X" if "A" <= ch <= "Z" else "n" if "0" <= ch <= "9" else ch
                   for ch in v)


def email(v):
    if v == "" or v[0] == "@":
        return v
    at = v.find("@", 1)
    return v[0] + "***" + (v[at:] if at >= 0 else "")


@pytest.fixture(scope="module")
def cur(tmp_path_factory):
    s = MadangServer(tmp_path_factory.mktemp("masks") / "data").start()
    c = None
    try:
        c = psycopg2.connect(s.dsn())
        c.autocommit = True
        cur = c.cursor()
        cur.execute("CREATE TABLE main.vals (i INTEGER, v VARCHAR)")
        # 3 copies of the values spread over several 2048-row vectors
        n = 3 * 2048 + 7
        cur.executemany("INSERT INTO main.vals VALUES (%s, %s)", list(enumerate(VALUES)))
        cur.execute("INSERT INTO main.vals SELECT r.i, b.v FROM range(%d, %d) r(i) "
                    "JOIN (SELECT i, v FROM main.vals) b ON b.i = r.i %% %d" % (len(VALUES), n, len(VALUES)))
        yield cur
    finally:
        if c:
            c.close()
        s.stop()


def fetch(cur, expr):
    cur.execute("SELECT i, v, %s FROM main.vals ORDER BY i" % expr)
    return cur.fetchall()


@pytest.mark.parametrize("n", NS)
def test_show_first_and_last(cur, n):
    for i, v, got in fetch(cur, "madang.mask_show_first(v, %d)" % n):
        assert got == (None if v is None else show_first(v, n)), (i, v, n)
    for i, v, got in fetch(cur, "madang.mask_show_last(v, %d)" % n):
        assert got == (None if v is None else show_last(v, n)), (i, v, n)


def test_redact_and_email(cur):
    for i, v, got in fetch(cur, "madang.mask_redact(v)"):
        assert got == (None if v is None else redact(v)), (i, v)
    for i, v, got in fetch(cur, "madang.mask_email(v)"):
        assert got == (None if v is None else email(v)), (i, v)


def test_masked_values_compare_and_group_like_strings(cur):
    """Masked short strings built in place must equal the same text made any
    other way (the engine compares inlined strings by all their bytes)."""
    cur.execute("SELECT count(*) FROM main.vals WHERE madang.mask_show_last(v, 4) <> "
                "CASE WHEN length(v) <= 4 THEN v ELSE repeat('*', length(v) - 4) || right(v, 4) END")
    assert cur.fetchone()[0] == 0
    cur.execute("SELECT count(DISTINCT madang.mask_show_last(v, 4)), "
                "count(DISTINCT CASE WHEN length(v) <= 4 THEN v ELSE repeat('*', length(v) - 4) || right(v, 4) END) "
                "FROM main.vals")
    a, b = cur.fetchone()
    assert a == b


def test_mask_year(cur):
    days = [datetime.date(1, 1, 1), datetime.date(1969, 12, 31), datetime.date(1970, 1, 1),
            datetime.date(2000, 2, 29), datetime.date(2024, 12, 31), datetime.date(2025, 1, 1),
            datetime.date(9999, 12, 31)]
    cur.execute("SELECT d, madang.mask_year(d), madang.mask_year(CAST(d AS TIMESTAMP) + INTERVAL 13 HOUR) "
                "FROM unnest(%s::DATE[]) t(d) ORDER BY d", (days,))
    for d, y, ts in cur.fetchall():
        assert y == datetime.date(d.year, 1, 1), d
        assert ts == datetime.datetime(d.year, 1, 1), d
    # runs of one year and jumps back and forth (the memo of the last year)
    cur.execute("SELECT count(*) FROM (SELECT DATE '1900-01-01' + CAST((i * 7919) % 80000 AS INTEGER) AS d "
                "FROM range(20000) t(i)) WHERE madang.mask_year(d) <> CAST(date_trunc('year', d) AS DATE)")
    assert cur.fetchone()[0] == 0
    cur.execute("SELECT madang.mask_year(NULL::DATE), madang.mask_year(DATE 'infinity')")
    assert cur.fetchone() == (None, datetime.date.max)
