"""The governed catalog: madang.tables, madang.columns (DESIGN.md system views)
and the HTTP catalog, GET /api/v1/catalog/search and GET /api/v1/tables/{s}.{t},
each showing a caller only what they may see."""
import json
import urllib.error
import urllib.parse
import urllib.request

import psycopg2
import pytest


@pytest.fixture(scope="module")
def srv(server):
    return server


def connect(srv, user="admin", password=None):
    c = psycopg2.connect(srv.dsn(user=user, password=password))
    c.autocommit = True
    return c


def q(cur, sql, args=None):
    cur.execute(sql, args)
    return cur.fetchall()


def http_get(srv, path, token=None):
    headers = {"Authorization": "Bearer " + token} if token else {}
    req = urllib.request.Request(srv.http_url(path), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.fixture(scope="module")
def setup(srv):
    """Tables, a view, comments, tags, masks, a row policy, and three users: one
    with a column grant, one with a schema grant, one auditor."""
    c = connect(srv)
    cur = c.cursor()
    for sql in [
        "CREATE SCHEMA cat_s",
        "CREATE TABLE cat_s.clients (id INTEGER NOT NULL, full_name VARCHAR, iban VARCHAR, branch VARCHAR)",
        "INSERT INTO cat_s.clients VALUES (1, 'Ann', 'DE001', 'north'), (2, 'Bo', 'DE002', 'south')",
        "CREATE TABLE cat_s.ledger_entries AS SELECT id AS client_id, 10.5 AS amount FROM cat_s.clients",
        "CREATE VIEW cat_s.client_names AS SELECT id, full_name FROM cat_s.clients",
        "COMMENT ON TABLE cat_s.clients IS 'Retail banking clients'",
        "COMMENT ON COLUMN cat_s.clients.iban IS 'International bank account number'",
        "CREATE TAG cat_pii",
        "ALTER TABLE cat_s.clients ALTER COLUMN full_name SET TAG cat_pii",
        "CREATE MASKING POLICY cat_redact AS (v VARCHAR) RETURNS VARCHAR -> mask_redact(v)",
        "CREATE MASKING POLICY cat_last4 AS (v VARCHAR) RETURNS VARCHAR -> mask_show_last(v, 4)",
        "ALTER TAG cat_pii SET MASKING POLICY cat_redact",
        "ALTER TABLE cat_s.clients ALTER COLUMN iban SET MASKING POLICY cat_last4",
        "CREATE POLICY cat_branch ON cat_s.clients FOR SELECT TO PUBLIC USING (branch = 'north')",
        "CREATE USER cat_col PASSWORD 'cat-col-pw-1'",
        "GRANT SELECT (id, iban) ON cat_s.clients TO cat_col",
        "CREATE USER cat_schema PASSWORD 'cat-schema-pw-1'",
        "GRANT SELECT ON SCHEMA cat_s TO cat_schema",
        "CREATE USER cat_none PASSWORD 'cat-none-pw-1'",
        "CREATE USER cat_aud PASSWORD 'cat-aud-pw-1'",
        "CREATE GROUP auditors",
        "ALTER GROUP auditors ADD USER cat_aud",
    ]:
        try:
            cur.execute(sql)
        except psycopg2.Error as e:
            # the auditors group may exist already on the shared server
            if "auditors" not in sql:
                raise
            assert "exists" in str(e) or "already" in str(e), e
    c.close()
    return True


def tables_of(srv, user, password):
    c = connect(srv, user, password)
    rows = q(c.cursor(), "SELECT schema_name, table_name FROM madang.tables WHERE schema_name = 'cat_s' ORDER BY 2")
    c.close()
    return [r[1] for r in rows]


def test_tables_view_as_superuser(srv, setup):
    c = connect(srv)
    cur = c.cursor()
    rows = q(cur, "SELECT table_name, table_kind, owner, comment, column_count, estimated_rows, tags, has_row_policy "
                  "FROM madang.tables WHERE schema_name = 'cat_s' ORDER BY table_name")
    assert rows == [
        ("client_names", "view", "admin", None, 2, None, [], False),
        ("clients", "table", "admin", "Retail banking clients", 4, 2, ["cat_pii"], True),
        ("ledger_entries", "table", "admin", None, 2, 2, [], False),
    ]
    # the demo data set's tables are there with their comments; madang's own views are not
    names = {r[0] for r in q(cur, "SELECT schema_name || '.' || table_name FROM madang.tables")}
    assert "main.trades" in names and not any(n.startswith("madang.") for n in names)
    c.close()


def test_columns_view_types_comments_tags_masks(srv, setup):
    c = connect(srv)
    rows = q(c.cursor(), "SELECT column_name, ordinal_position, data_type, is_nullable, comment, tags, masking_policy, "
                         "masked_via FROM madang.columns WHERE schema_name = 'cat_s' AND table_name = 'clients' "
                         "ORDER BY ordinal_position")
    assert rows == [
        ("id", 1, "INTEGER", False, None, [], None, None),
        ("full_name", 2, "VARCHAR", True, None, ["cat_pii"], "cat_redact", "tag cat_pii"),
        ("iban", 3, "VARCHAR", True, "International bank account number", [], "cat_last4", "column"),
        ("branch", 4, "VARCHAR", True, None, [], None, None),
    ]
    c.close()


def test_each_user_sees_only_what_they_may(srv, setup):
    assert tables_of(srv, "cat_col", "cat-col-pw-1") == ["clients"]
    assert tables_of(srv, "cat_schema", "cat-schema-pw-1") == ["client_names", "clients", "ledger_entries"]
    assert tables_of(srv, "cat_none", "cat-none-pw-1") == []
    assert tables_of(srv, "cat_aud", "cat-aud-pw-1") == ["client_names", "clients", "ledger_entries"]
    # a column grant shows those columns only, as information_schema does
    c = connect(srv, "cat_col", "cat-col-pw-1")
    cols = q(c.cursor(), "SELECT column_name FROM madang.columns WHERE table_name = 'clients' ORDER BY 1")
    assert cols == [("iban",), ("id",)]
    # the row count of a table with row policies would tell what the filter hides
    assert q(c.cursor(), "SELECT estimated_rows, has_row_policy FROM madang.tables WHERE table_name = 'clients'") == [
        (None, True)]
    c.close()
    c = connect(srv, "cat_none", "cat-none-pw-1")
    assert q(c.cursor(), "SELECT count(*) FROM madang.columns WHERE schema_name = 'cat_s'") == [(0,)]
    c.close()


def test_catalog_follows_changes(srv, setup):
    c = connect(srv)
    cur = c.cursor()
    cur.execute("CREATE TABLE cat_s.fresh (k INTEGER)")
    cur.execute("COMMENT ON TABLE cat_s.fresh IS 'made just now'")
    assert q(cur, "SELECT comment FROM madang.tables WHERE table_name = 'fresh'") == [("made just now",)]
    u = connect(srv, "cat_none", "cat-none-pw-1")
    assert q(u.cursor(), "SELECT count(*) FROM madang.tables WHERE table_name = 'fresh'") == [(0,)]
    cur.execute("GRANT INSERT ON cat_s.fresh TO cat_none")
    assert q(u.cursor(), "SELECT table_name FROM madang.tables WHERE schema_name = 'cat_s'") == [("fresh",)]
    cur.execute("DROP TABLE cat_s.fresh")
    assert q(u.cursor(), "SELECT count(*) FROM madang.tables WHERE schema_name = 'cat_s'") == [(0,)]
    u.close()
    c.close()


def test_catalog_views_are_read_only(srv, setup):
    c = connect(srv)
    with pytest.raises(psycopg2.Error):
        c.cursor().execute("DELETE FROM madang.tables")
    c.close()


def token_for(srv, user, password):
    c = connect(srv, user, password)
    t = q(c.cursor(), "CREATE TOKEN")[0][1]
    c.close()
    return t


def search(srv, token, text, **params):
    params["q"] = text
    return http_get(srv, "/api/v1/catalog/search?" + urllib.parse.urlencode(params), token)


def test_http_search_by_name_column_comment_and_tag(srv, setup):
    tok = token_for(srv, "admin", srv.admin_password)
    st, body = search(srv, tok, "clients")
    assert st == 200 and body["query"] == "clients"
    names = [r["name"] for r in body["results"]]
    assert names[0] == "cat_s.clients"  # the exact name first
    st, body = search(srv, tok, "client")
    names = [r["name"] for r in body["results"]]
    assert {"cat_s.clients", "cat_s.client_names", "cat_s.ledger_entries"} <= set(names)
    assert names.index("cat_s.ledger_entries") > names.index("cat_s.client_names")  # a column only: last
    assert [r["matched_columns"] for r in body["results"] if r["name"] == "cat_s.ledger_entries"] == [["client_id"]]
    st, body = search(srv, tok, "clients")
    first = body["results"][0]
    assert first["kind"] == "table" and first["comment"] == "Retail banking clients"
    assert first["tags"] == ["cat_pii"] and first["owner"] == "admin" and first["estimated_rows"] == 2
    # a column's name and a column's comment
    st, body = search(srv, tok, "IBAN")
    hit = [r for r in body["results"] if r["name"] == "cat_s.clients"]
    assert hit and hit[0]["matched_columns"] == ["iban"]
    st, body = search(srv, tok, "bank account")
    assert [r["name"] for r in body["results"]] == ["cat_s.clients"]
    # the table's comment
    st, body = search(srv, tok, "retail banking")
    assert [r["name"] for r in body["results"]] == ["cat_s.clients"]
    # a tag
    st, body = search(srv, tok, "cat_pii")
    assert [r["name"] for r in body["results"]] == ["cat_s.clients"]
    assert body["results"][0]["matched_columns"] == ["full_name"]
    # limit
    st, body = search(srv, tok, "cat_s", limit=1)
    assert st == 200 and body["count"] == 1


def test_http_search_is_governed(srv, setup):
    tok = token_for(srv, "cat_col", "cat-col-pw-1")
    st, body = search(srv, tok, "cat_s")
    assert st == 200 and [r["name"] for r in body["results"]] == ["cat_s.clients"]
    # a column the user was not granted does not match
    st, body = search(srv, tok, "full_name")
    assert st == 200 and body["results"] == []
    tok = token_for(srv, "cat_none", "cat-none-pw-1")
    st, body = search(srv, tok, "clients")
    assert st == 200 and body["count"] == 0


def test_http_search_errors(srv, setup):
    tok = token_for(srv, "admin", srv.admin_password)
    st, body = http_get(srv, "/api/v1/catalog/search", tok)
    assert st == 400 and body["error"]["code"] == "22023"
    st, body = search(srv, tok, "x", limit=0)
    assert st == 400
    st, body = search(srv, None, "clients")
    assert st == 401
    # quotes and wildcards are text to look for, not SQL
    st, body = search(srv, tok, "x' OR '1'='1")
    assert st == 200 and body["count"] == 0
    st, body = search(srv, tok, "%")
    assert st == 200 and body["count"] == 0


def test_http_table_detail(srv, setup):
    tok = token_for(srv, "admin", srv.admin_password)
    st, body = http_get(srv, "/api/v1/tables/cat_s.clients", tok)
    assert st == 200, body
    assert body["name"] == "cat_s.clients" and body["kind"] == "table" and body["owner"] == "admin"
    assert body["comment"] == "Retail banking clients" and body["has_row_policy"] is True
    assert body["tags"] == ["cat_pii"] and body["estimated_rows"] == 2
    assert [(c["name"], c["position"], c["type"], c["masking_policy"]) for c in body["columns"]] == [
        ("id", 1, "INTEGER", None), ("full_name", 2, "VARCHAR", "cat_redact"), ("iban", 3, "VARCHAR", "cat_last4"),
        ("branch", 4, "VARCHAR", None)]
    assert body["columns"][0]["nullable"] is False and body["columns"][1]["tags"] == ["cat_pii"]
    assert body["columns"][2]["comment"] == "International bank account number"
    assert body["downstream"] == ["cat_s.client_names", "cat_s.ledger_entries"] and body["upstream"] == []
    st, body = http_get(srv, "/api/v1/tables/cat_s.ledger_entries", tok)
    assert st == 200 and body["upstream"] == ["cat_s.clients"]
    st, body = http_get(srv, "/api/v1/tables/cat_s.client_names", tok)
    assert st == 200 and body["kind"] == "view"
    # no schema: main
    st, body = http_get(srv, "/api/v1/tables/trades", tok)
    assert st == 200 and body["name"] == "main.trades"


def test_http_table_detail_is_governed(srv, setup):
    tok = token_for(srv, "cat_col", "cat-col-pw-1")
    st, body = http_get(srv, "/api/v1/tables/cat_s.clients", tok)
    assert st == 200 and [c["name"] for c in body["columns"]] == ["id", "iban"]
    # a table the user may not see and one that does not exist answer alike
    st1, body1 = http_get(srv, "/api/v1/tables/cat_s.ledger_entries", tok)
    st2, body2 = http_get(srv, "/api/v1/tables/cat_s.no_such_table", tok)
    assert st1 == st2 == 404 and body1["error"]["code"] == body2["error"]["code"] == "42P01"
    assert body1["error"]["message"] == body2["error"]["message"]
    # lineage to a table the user may not see is left out
    assert body.get("downstream", []) == []
    st, body = http_get(srv, "/api/v1/tables/cat_s.clients", None)
    assert st == 401


def test_hidden_columns_leave_no_trace(srv, setup):
    # cat_col may use (id, iban) of clients: full_name's tag, and the column count, are not theirs to see
    c = connect(srv, "cat_col", "cat-col-pw-1")
    cur = c.cursor()
    assert q(cur, "SELECT column_count, tags FROM madang.tables WHERE table_name = 'clients'") == [(2, [])]
    tags = dict(q(cur, "SELECT name, columns FROM madang.tags"))
    assert not any("full_name" in col for cols in tags.values() for col in cols)
    pols = q(cur, "SELECT column_name FROM madang.policies WHERE table_name = 'clients' AND column_name IS NOT NULL")
    assert ("full_name",) not in pols
    c.close()
    tok = token_for(srv, "cat_col", "cat-col-pw-1")
    st, body = search(srv, tok, "cat_pii")
    assert st == 200 and body["results"] == []
    st, body = http_get(srv, "/api/v1/tables/cat_s.clients", tok)
    assert body["tags"] == []
    # a superuser finds the tag by part of its name
    tok = token_for(srv, "admin", srv.admin_password)
    st, body = search(srv, tok, "PII")
    assert "cat_s.clients" in [r["name"] for r in body["results"]]


def test_pg_catalog_and_information_schema_hide_columns_too(srv, setup):
    c = connect(srv)
    c.cursor().execute("COMMENT ON COLUMN cat_s.clients.branch IS 'hidden-branch-comment'")
    c.close()
    u = connect(srv, "cat_col", "cat-col-pw-1")
    cur = u.cursor()
    cols = q(cur, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'cat_s' "
                  "AND table_name = 'clients' ORDER BY ordinal_position")
    assert cols == [("id",), ("iban",)]
    att = q(cur, "SELECT attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                 "WHERE c.relname = 'clients' AND a.attnum > 0 ORDER BY attnum")
    assert att == [("id",), ("iban",)]
    assert ("hidden-branch-comment",) not in q(cur, "SELECT description FROM pg_description")
    u.close()
    # psql's \d shows what the user may use
    r = srv.psql("\\d cat_s.clients", user="cat_col", password="cat-col-pw-1")
    assert "iban" in r.stdout and "full_name" not in r.stdout and "branch" not in r.stdout
    # a table-level grant still shows every column
    u = connect(srv, "cat_schema", "cat-schema-pw-1")
    assert len(q(u.cursor(), "SELECT column_name FROM information_schema.columns WHERE table_schema = 'cat_s' "
                             "AND table_name = 'clients'")) == 4
    u.close()
