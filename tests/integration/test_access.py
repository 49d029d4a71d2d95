"""Adversarial access-control suite (issue 4: groups, grants, ownership, definer-rights
views, default deny, per-user catalogs, prepared statements, live grant changes).

Every attempt in ATTACKS runs as an unprivileged user over BOTH the simple query
protocol (psycopg2, client-side interpolation) and the extended protocol (psycopg 3,
server-side prepared with prepare=True / $n parameters). Each must fail with the
expected SQLSTATE, must not reveal data in its error, must leave the session usable and
must leave no trace (tables, views, grants, users, groups, files under /tmp all
unchanged, checked as admin before and after).

The positive controls at the end prove the denials are not just "everything is denied".

Set-up grants use unqualified table names on purpose (they resolve to main.*); the
schema-qualified `s.t` form of GRANT/REVOKE is exercised by its own tests so a bug in
one form does not silently weaken every attack.
"""
import glob
import io
import os
import subprocess

import psycopg
import psycopg2
import pytest

from conftest import MadangServer

PFX = "/tmp/madang-acc-%d" % os.getpid()          # every file path an attack names
SECRET = "TOPSECRET-7f3a9"                         # a value no denied error may show

USERS = {
    "support": "support-demo",      # demo: SELECT(id,name,country) ON customers via support_agents
    "analyst": "analyst-demo",      # demo: SELECT ON trades, orders, accounts via analysts
    "mallory": "mallory-pw",        # nothing but SELECT on main.v_country
    "eve": "eve-pw",                # SELECT(id,name,country)+DELETE+UPDATE(name) ON customers,
                                    # ALL ON notes, CREATE ON SCHEMA work
}


# --------------------------------------------------------------------------- helpers

def sqlstate(e):
    return getattr(e, "pgcode", None) or getattr(e, "sqlstate", None) or \
        getattr(getattr(e, "diag", None), "sqlstate", None)


def full_message(e):
    d = getattr(e, "diag", None)
    parts = [str(e)]
    for a in ("message_primary", "message_detail", "message_hint", "context"):
        v = getattr(d, a, None) if d is not None else None
        if v:
            parts.append(v)
    return "\n".join(parts)


def admin_conn(srv):
    c = getattr(srv, "_admin", None)
    if c is None or c.closed:
        c = srv._admin = psycopg2.connect(srv.dsn())
        c.autocommit = True
    return c


def admin_q(srv, sql, params=None):
    cur = admin_conn(srv).cursor()
    cur.execute(sql, params)
    return cur.fetchall() if cur.description else None


def connect(srv, proto, user, password):
    if proto == "simple":
        c = psycopg2.connect(srv.dsn(user, password))
    else:
        c = psycopg.connect(srv.dsn(user, password))
    c.autocommit = True
    return c


def run(conn, proto, sql, params=None):
    """Run one statement; simple = psycopg2 (client-side interpolation, Query message),
    extended = psycopg 3 (Parse/Bind/Execute, named prepared statement)."""
    if proto == "simple":
        cur = conn.cursor()
        cur.execute(sql, params)
    else:
        cur = conn.cursor()
        cur.execute(sql, params, prepare=True)
    return cur.fetchall() if cur.description else None


def copy_out(conn, proto, sql):
    if proto == "simple":
        buf = io.StringIO()
        conn.cursor().copy_expert(sql, buf)
        return buf.getvalue()
    with conn.cursor().copy(sql) as cp:
        return b"".join(bytes(x) for x in cp).decode()


def copy_in(conn, proto, sql, data):
    if proto == "simple":
        conn.cursor().copy_expert(sql, io.StringIO(data))
        return
    with conn.cursor().copy(sql) as cp:
        cp.write(data)


FP_SQL = """
SELECT
 (SELECT count(*) || ':' || coalesce(sum(hash(c)), 0) FROM main.customers c),
 (SELECT count(*) || ':' || coalesce(sum(hash(a)), 0) FROM main.accounts a),
 (SELECT count(*) || ':' || coalesce(sum(hash(o.id, o.status, o.price, o.quantity)), 0) FROM main.orders o),
 (SELECT count(*) || ':' || coalesce(sum(id), 0) || ':' || coalesce(sum(quantity), 0) || ':' || max(executed_at)
    FROM main.trades),
 (SELECT count(*) || ':' || coalesce(sum(hash(n)), 0) FROM main.notes n),
 (SELECT count(*) || ':' || coalesce(sum(hash(v)), 0) FROM main.vault v),
 (SELECT count(*) FROM work.admin_tab)
"""


def fingerprint(srv):
    cur = admin_conn(srv).cursor()
    cur.execute(FP_SQL)
    data = cur.fetchone()
    cur.execute("SELECT database_name, schema_name, table_name, column_count FROM duckdb_tables() "
                "WHERE NOT temporary ORDER BY ALL")
    tables = cur.fetchall()
    cur.execute("SELECT database_name, schema_name, view_name, sql FROM duckdb_views() "
                "WHERE NOT temporary AND NOT internal ORDER BY ALL")
    views = cur.fetchall()
    cur.execute("SELECT database_name, schema_name FROM duckdb_schemas() ORDER BY ALL")
    schemas = cur.fetchall()
    cur.execute("SELECT database_name FROM duckdb_databases() ORDER BY ALL")
    dbs = cur.fetchall()
    cur.execute("SELECT function_name FROM duckdb_functions() WHERE NOT internal ORDER BY ALL")
    funcs = cur.fetchall()
    cur.execute("SELECT grantee_kind, grantee, privilege, object_kind, schema_name, table_name, "
                "column_name, grantor FROM madang.grants ORDER BY ALL")
    grants = cur.fetchall()
    cur.execute("SELECT name, superuser FROM madang.users ORDER BY ALL")
    users = cur.fetchall()
    cur.execute("SELECT name, members FROM madang.groups ORDER BY ALL")
    groups = cur.fetchall()
    cur.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'customers'")
    comment = cur.fetchall()
    files = sorted(glob.glob(PFX + "*"))
    return dict(data=data, tables=tables, views=views, schemas=schemas, dbs=dbs, funcs=funcs,
                grants=grants, users=users, groups=groups, comment=comment, files=files)


# --------------------------------------------------------------------------- server

@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = tmp_path_factory.mktemp("access") / "data"
    s = MadangServer(d, demo=True).start(timeout=300)
    setup = [
        "CREATE USER mallory PASSWORD 'mallory-pw'",
        "CREATE USER eve PASSWORD 'eve-pw'",
        "CREATE SCHEMA work",
        "GRANT CREATE ON SCHEMA work TO eve",
        "CREATE TABLE work.admin_tab (a INT)",
        "INSERT INTO work.admin_tab VALUES (1), (2)",
        "CREATE VIEW work.v_admin AS SELECT 1 AS a",
        "CREATE TABLE notes (id INT, body VARCHAR)",
        "INSERT INTO notes VALUES (1, 'n1'), (2, 'n2')",
        "CREATE TABLE vault (id INT, secret VARCHAR)",
        "INSERT INTO vault VALUES (1, '%s')" % SECRET,
        "GRANT SELECT (id) ON vault TO support",
        "GRANT ALL PRIVILEGES ON TABLE notes TO USER eve",
        "GRANT SELECT (id, name, country) ON customers TO eve",
        "GRANT DELETE ON customers TO eve",
        "GRANT UPDATE (name) ON customers TO eve",
        "CREATE VIEW v_country AS SELECT country, count(*) AS n FROM customers GROUP BY 1",
        "GRANT SELECT ON v_country TO mallory",
    ]
    for q in setup:
        admin_q(s, q)
    s.emails = [r[0] for r in admin_q(s, "SELECT email FROM customers ORDER BY id LIMIT 20")]
    s.phones = [r[0] for r in admin_q(s, "SELECT phone FROM customers ORDER BY id LIMIT 20")]
    yield s
    for f in glob.glob(PFX + "*"):
        subprocess.run(["rm", "-rf", f])
    admin_conn(s).close()
    rc = s.stop()
    assert rc == 0, "server exit code %s\n%s" % (rc, s.read_log()[-4000:])


@pytest.fixture(scope="module")
def conns(srv):
    pool = {}

    def get(user, proto, fresh=False):
        key = (user, proto)
        if fresh or key not in pool:
            if key in pool:
                try:
                    pool[key].close()
                except Exception:
                    pass
            pool[key] = connect(srv, proto, user, USERS[user])
            if user == "support":
                # a temp table the attacker owns: target for INSERT ... SELECT forbidden
                run(pool[key], proto, "CREATE TEMP TABLE IF NOT EXISTS loot (v VARCHAR)")
        return pool[key]
    yield get
    for c in pool.values():
        try:
            c.close()
        except Exception:
            pass


# --------------------------------------------------------------------------- attacks

GATE = ("42501",)
# the engine wall (enable_external_access=false, lock_configuration) may answer first
FILE_WALL = ("42501", "58030", "42P01", "XX000", "22023", "IO000", "HV000")
SETTING = ("42501", "42704", "42601")


class A:
    def __init__(self, id, user, sql, codes=GATE, names=(), params=None, kind="exec", data=None,
                 ext_codes=None, after=None):
        self.id, self.user, self.sql, self.codes, self.names = id, user, sql.replace("{T}", PFX), codes, names
        self.params, self.kind, self.data, self.ext_codes, self.after = params, kind, data, ext_codes, after


EMAIL = ("email", "customers")
ATTACKS = [
    # ---- partially granted table (support: id, name, country of customers)
    A("star", "support", "SELECT * FROM customers", names=("customers",)),
    A("table_stmt", "support", "TABLE customers", names=("customers",)),
    A("from_first", "support", "FROM customers SELECT email", names=EMAIL),
    A("from_only", "support", "FROM customers", names=("customers",)),
    A("star_exclude", "support", "SELECT * EXCLUDE (name) FROM customers", names=("customers",)),
    A("columns_regex", "support", "SELECT COLUMNS('e.*') FROM customers", names=EMAIL),
    A("row_struct", "support", "SELECT c FROM customers c LIMIT 1", names=("customers",)),
    A("subquery_star", "support", "SELECT id FROM (SELECT * FROM customers) WHERE false", names=("customers",)),
    A("where_only", "support", "SELECT id FROM customers WHERE email LIKE 'a%'", names=EMAIL),
    A("where_param", "support", "SELECT id FROM customers WHERE email = %s", names=EMAIL,
      params=("sora.smith1@example.com",)),
    A("where_and", "support", "SELECT id FROM customers WHERE id = 1 AND email = 'x'", names=EMAIL),
    A("order_only", "support", "SELECT id FROM customers ORDER BY email LIMIT 1", names=EMAIL),
    A("group_only", "support", "SELECT count(*) FROM customers GROUP BY phone", names=("phone", "customers")),
    A("group_all", "support", "SELECT email, count(*) FROM customers GROUP BY ALL", names=EMAIL),
    A("join_on_only", "support",
      "SELECT c.id FROM customers c JOIN customers d ON c.email = d.email LIMIT 1", names=EMAIL),
    A("count_col", "support", "SELECT count(email) FROM customers", names=EMAIL),
    A("agg_max", "support", "SELECT max(birth_date) FROM customers", names=("birth_date", "customers")),
    A("string_agg", "support", "SELECT string_agg(email, ',') FROM customers", names=EMAIL),
    A("agg_filter", "support", "SELECT count(*) FILTER (WHERE email LIKE 'a%') FROM customers", names=EMAIL),
    A("window_order", "support", "SELECT id, row_number() OVER (ORDER BY email) FROM customers LIMIT 1",
      names=EMAIL),
    A("window_partition", "support", "SELECT id, count(*) OVER (PARTITION BY phone) FROM customers LIMIT 1",
      names=("phone", "customers")),
    A("qualify", "support", "SELECT id FROM customers QUALIFY row_number() OVER (PARTITION BY email) = 1",
      names=EMAIL),
    A("distinct_on", "support", "SELECT DISTINCT ON (email) id FROM customers", names=EMAIL),
    A("case_expr", "support", "SELECT CASE WHEN email LIKE '%@%' THEN 1 ELSE 0 END FROM customers LIMIT 1",
      names=EMAIL),
    A("cast", "support", "SELECT CAST(birth_date AS VARCHAR) FROM customers LIMIT 1",
      names=("birth_date", "customers")),
    A("cast_error_oracle", "support", "SELECT CAST(email AS INTEGER) FROM customers", names=EMAIL),
    A("error_fn_oracle", "support", "SELECT error(email) FROM customers", names=EMAIL),
    A("coalesce", "support", "SELECT coalesce(phone, name) FROM customers LIMIT 1", names=("phone", "customers")),
    A("list_pack", "support", "SELECT [email] FROM customers LIMIT 1", names=EMAIL),
    A("struct_pack", "support", "SELECT {'e': email} FROM customers LIMIT 1", names=EMAIL),
    A("unnest_subq", "support", "SELECT unnest([(SELECT email FROM customers LIMIT 1)])", names=EMAIL),
    A("similar_to", "support", "SELECT id FROM customers c WHERE c.email SIMILAR TO 'a.*'", names=EMAIL),
    A("quoted_name", "support", 'SELECT id FROM "Customers" WHERE email IS NOT NULL', names=EMAIL),
    A("upper_name", "support", "SELECT email FROM CUSTOMERS", names=EMAIL),
    A("quoted_upper_col", "support", 'SELECT "EMAIL" FROM "CUSTOMERS"', names=("customers",)),
    A("schema_qual", "support", "SELECT email FROM main.customers", names=EMAIL),
    A("catalog_qual", "support", 'SELECT "EMAIL" FROM "warehouse"."MAIN"."CUSTOMERS"', names=("customers",)),
    A("catalog_qual_where", "support", "SELECT id FROM warehouse.main.customers WHERE email IS NULL",
      names=EMAIL),
    A("cte_shadow", "support", "WITH trades AS (SELECT * FROM customers) SELECT * FROM trades",
      names=("customers",)),
    A("cte_like_granted", "support",
      "WITH customers AS (SELECT id, email AS name, country FROM main.customers) SELECT name FROM customers",
      names=EMAIL),
    A("cte_recursive", "support",
      "WITH RECURSIVE r(e, k) AS (SELECT email, 0 FROM customers WHERE id = 1 "
      "UNION ALL SELECT e, k + 1 FROM r WHERE k < 1) SELECT * FROM r", names=EMAIL),
    A("subq_select", "support", "SELECT (SELECT max(email) FROM customers)", names=EMAIL),
    A("subq_where", "support",
      "SELECT id FROM customers WHERE id IN (SELECT id FROM customers WHERE phone LIKE '+82%')",
      names=("phone", "customers")),
    A("subq_having", "support",
      "SELECT country FROM customers GROUP BY country HAVING max(email) > 'a'", names=EMAIL),
    A("exists_forbidden_table", "support", "SELECT 1 WHERE EXISTS (SELECT 1 FROM trades)", names=("trades",)),
    A("in_forbidden_table", "support",
      "SELECT id FROM customers WHERE id IN (SELECT customer_id FROM accounts)", names=("accounts",)),
    A("lateral", "support", "SELECT c.id, l.e FROM customers c, LATERAL (SELECT c.email AS e) l LIMIT 1",
      names=EMAIL),
    A("union_col", "support", "SELECT name FROM customers UNION SELECT email FROM customers", names=EMAIL),
    A("union_table", "support", "SELECT id FROM customers UNION ALL SELECT id FROM trades", names=("trades",)),
    A("intersect", "support", "SELECT id FROM customers INTERSECT SELECT customer_id FROM accounts",
      names=("accounts",)),
    A("except", "support", "SELECT id FROM customers EXCEPT SELECT id FROM orders", names=("orders",)),
    A("limit_subq", "support", "SELECT id FROM customers LIMIT (SELECT count(*) FROM trades)",
      names=("trades",)),
    A("count_star_no_grant", "support", "SELECT count(*) FROM trades", names=("trades",)),
    A("pivot_in", "support", "PIVOT customers ON country IN ('KR', 'SG') USING count(email)",
      names=("customers",)),
    A("pivot_subq", "support",
      "PIVOT (SELECT country, email FROM customers) ON country IN ('KR') USING first(email)", names=EMAIL),
    # PIVOT without IN needs DuckDB to run a second statement; fail closed is what matters
    A("pivot_dynamic", "support", "PIVOT customers ON country USING count(email)",
      codes=("42501", "0A000", "22023")),
    A("unpivot", "support", "UNPIVOT (SELECT id, email FROM customers) ON email INTO NAME k VALUE v",
      names=EMAIL),
    A("vault_secret", "support", "SELECT secret FROM vault", names=("secret", "vault")),
    A("vault_where_oracle", "support", "SELECT id FROM vault WHERE secret LIKE 'TOP%'", names=("secret", "vault")),
    A("vault_cast_oracle", "support", "SELECT id FROM vault WHERE CAST(secret AS INT) = 1",
      names=("secret", "vault")),
    # ---- no grant at all on the table (analyst and customers; mallory)
    A("nogrant_count", "analyst", "SELECT count(*) FROM customers", names=("customers",)),
    A("nogrant_const", "analyst", "SELECT 1 FROM customers LIMIT 1", names=("customers",)),
    A("nogrant_exists", "analyst", "SELECT EXISTS (SELECT 1 FROM customers)", names=("customers",)),
    A("nogrant_join", "analyst", "SELECT count(*) FROM trades t JOIN customers c ON c.id = t.id",
      names=("customers",)),
    A("nogrant_in", "analyst", "SELECT 'x' FROM trades WHERE order_id IN (SELECT id FROM customers)",
      names=("customers",)),
    A("nogrant_natural", "analyst", "SELECT * FROM trades NATURAL JOIN customers LIMIT 1", names=("customers",)),
    A("nogrant_cte_granted_name", "analyst",
      "WITH orders AS (SELECT id, email FROM customers) SELECT * FROM orders LIMIT 1", names=("customers",)),
    A("nogrant_window_subq", "analyst",
      "SELECT sum(balance) OVER (PARTITION BY (SELECT max(email) FROM customers)) FROM accounts LIMIT 1",
      names=("customers",)),
    A("nogrant_error_oracle", "analyst", "SELECT error((SELECT max(email) FROM customers))",
      names=("customers",)),
    A("view_then_base", "mallory", "SELECT c.email FROM v_country v JOIN customers c ON c.country = v.country",
      names=("customers",)),
    A("view_cte_shadow", "mallory",
      "WITH v_country AS (SELECT email AS country, 1 AS n FROM customers) SELECT * FROM v_country",
      names=("customers",)),
    A("view_where_base", "mallory",
      "SELECT n FROM v_country WHERE country IN (SELECT country FROM customers WHERE email LIKE 'a%')",
      names=("customers",)),
    # ---- table functions, files, metadata
    A("query_table", "support", "SELECT * FROM query_table('customers')", names=("query_table",)),
    A("query_fn", "support", "SELECT * FROM query('SELECT email FROM customers')", names=("query",)),
    A("json_exec_sql", "analyst",
      "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT email FROM customers'))"),
    A("read_csv", "support", "SELECT * FROM read_csv('/etc/passwd')", codes=FILE_WALL),
    A("read_csv_auto", "support", "SELECT * FROM read_csv_auto('/etc/passwd')", codes=FILE_WALL),
    A("read_parquet", "support", "SELECT * FROM read_parquet('{T}.parquet')", codes=FILE_WALL),
    A("read_text", "support", "SELECT * FROM read_text('/etc/hostname')", codes=FILE_WALL),
    A("read_blob", "support", "SELECT * FROM read_blob('/etc/passwd')", codes=FILE_WALL),
    A("read_json", "support", "SELECT * FROM read_json_auto('/etc/passwd')", codes=FILE_WALL),
    A("glob", "support", "SELECT * FROM glob('/etc/*')", codes=FILE_WALL),
    A("from_file", "support", "SELECT * FROM '/etc/passwd'", codes=FILE_WALL),
    A("from_file_csv", "support", "FROM '{T}.csv'", codes=FILE_WALL),
    A("sniff_csv", "support", "SELECT * FROM sniff_csv('/etc/passwd')", codes=FILE_WALL),
    A("duckdb_tables", "support", "SELECT * FROM duckdb_tables()", names=("duckdb_tables",)),
    A("duckdb_tables_qual", "support", "SELECT * FROM system.main.duckdb_tables()"),
    A("duckdb_columns", "support", "SELECT * FROM duckdb_columns()", names=("duckdb_columns",)),
    A("duckdb_views", "analyst", "SELECT * FROM duckdb_views()"),
    A("duckdb_settings", "analyst", "SELECT * FROM duckdb_settings()"),
    A("pragma_table_info", "analyst", "SELECT * FROM pragma_table_info('customers')"),
    A("autocomplete", "analyst", "SELECT * FROM sql_auto_complete('SELECT * FROM cust')"),
    A("info_schema_check", "analyst", "SELECT * FROM information_schema.check_constraints"),
    A("describe", "analyst", "DESCRIBE customers"),
    A("summarize", "support", "SUMMARIZE customers"),
    A("explain_analyze", "support", "EXPLAIN ANALYZE SELECT email FROM customers"),
    A("explain", "support", "EXPLAIN SELECT email FROM customers"),
    # ---- COPY
    A("copy_out_table", "support", "COPY customers TO STDOUT", kind="copy_out", names=EMAIL),
    A("copy_out_query", "support", "COPY (SELECT email FROM customers) TO STDOUT", kind="copy_out", names=EMAIL),
    A("copy_out_nogrant", "analyst", "COPY customers TO STDOUT (FORMAT csv)", kind="copy_out",
      names=("customers",)),
    A("copy_to_file", "support", "COPY customers TO '{T}-c.csv'"),
    A("copy_cols_to_file", "support", "COPY customers (id, name, country) TO '{T}-c2.csv'"),
    A("copy_query_to_parquet", "support", "COPY (SELECT id FROM customers) TO '{T}-c3.parquet' (FORMAT parquet)"),
    A("copy_from_file", "support", "COPY customers FROM '/etc/passwd'"),
    A("copy_from_stdin_noinsert", "analyst", "COPY trades FROM STDIN", kind="copy_in",
      data="99999999\t1\tX\t1\t1\t0\t2024-01-01 00:00:00\n"),
    A("copy_program", "support", "COPY (SELECT 1) TO PROGRAM 'touch {T}-prog'"),
    # ---- writes without privilege / with privilege but reading forbidden columns
    A("insert_noprivs", "support", "INSERT INTO customers (id, name, country) VALUES (99999, 'x', 'KR')"),
    A("insert_or_replace", "support", "INSERT OR REPLACE INTO customers (id, name, country) VALUES (1, 'x', 'KR')"),
    A("upsert_do_nothing", "support",
      "INSERT INTO customers VALUES (99998, 'new', 'e@x.invalid', '1', 'KR', DATE '2000-01-01', "
      "TIMESTAMP '2024-01-01') ON CONFLICT DO NOTHING", names=("customers",)),
    A("upsert_do_update", "support",
      "INSERT INTO customers (id, name, country) VALUES (2, 'pwned', 'KR') "
      "ON CONFLICT (id) DO UPDATE SET name = excluded.name", names=("customers",)),
    A("upsert_update_only_priv", "eve",
      "INSERT INTO customers (id, name, country) VALUES (3, 'pwned', 'KR') "
      "ON CONFLICT (id) DO UPDATE SET name = excluded.name", names=("customers",)),
    A("upsert_nogrant", "analyst",
      "INSERT OR REPLACE INTO customers (id, name, country) VALUES (4, 'pwned', 'KR')", names=("customers",)),
    A("update_noprivs", "support", "UPDATE customers SET name = 'x' WHERE id = 1"),
    A("update_selectonly", "analyst", "UPDATE accounts SET balance = 0"),
    A("delete_noprivs", "support", "DELETE FROM customers WHERE id = 1"),
    A("delete_where_forbidden", "eve", "DELETE FROM customers WHERE email = 'nobody@example.invalid'",
      names=EMAIL),
    A("delete_returning", "eve", "DELETE FROM customers WHERE id = -1 RETURNING email", names=EMAIL),
    A("update_where_forbidden", "eve", "UPDATE customers SET name = name WHERE email LIKE 'zz%'", names=EMAIL),
    A("update_set_forbidden_col", "eve", "UPDATE customers SET email = 'x' WHERE id = -1", names=EMAIL),
    A("update_from_forbidden", "eve", "UPDATE customers SET name = email WHERE id = -1", names=EMAIL),
    A("update_subq", "eve", "UPDATE notes SET body = (SELECT email FROM customers WHERE id = 1)", names=EMAIL),
    A("insert_select", "eve", "INSERT INTO notes SELECT id, email FROM customers", names=EMAIL),
    A("insert_select_temp", "support", "INSERT INTO loot SELECT email FROM customers", names=EMAIL,
      after="loot_empty"),
    A("ctas", "eve", "CREATE TABLE work.stolen AS SELECT email FROM customers"),
    A("ctas_temp", "support", "CREATE TEMP TABLE stolen AS SELECT email FROM customers", names=EMAIL),
    A("ctas_no_create", "support", "CREATE TABLE main.mine AS SELECT id FROM customers"),
    A("truncate", "analyst", "TRUNCATE trades"),
    A("merge", "eve",
      "MERGE INTO notes USING (SELECT id, email FROM customers) s ON notes.id = s.id "
      "WHEN MATCHED THEN UPDATE SET body = s.email"),
    # ---- DDL on objects not owned
    A("alter_not_owner", "support", "ALTER TABLE customers ADD COLUMN z INT", names=("customers",)),
    A("rename_not_owner", "analyst", "ALTER TABLE trades RENAME TO t2", names=("trades",)),
    A("drop_not_owner", "support", "DROP TABLE customers", names=("customers",)),
    A("drop_in_create_schema", "eve", "DROP TABLE work.admin_tab", names=("admin_tab",)),
    A("alter_in_create_schema", "eve", "ALTER TABLE work.admin_tab ADD COLUMN z INT", names=("admin_tab",)),
    A("replace_view_not_owner", "eve", "CREATE OR REPLACE VIEW work.v_admin AS SELECT 2 AS a",
      names=("v_admin",)),
    A("replace_view_main", "mallory",
      "CREATE OR REPLACE VIEW main.v_country AS SELECT email AS country, 1 AS n FROM customers"),
    A("drop_granted_view", "mallory", "DROP VIEW main.v_country"),
    A("alter_view", "mallory", "ALTER VIEW v_country RENAME TO vc2"),
    A("view_over_forbidden", "eve", "CREATE VIEW work.v_bad AS SELECT email FROM main.customers", names=EMAIL),
    A("view_over_forbidden_where", "eve",
      "CREATE VIEW work.v_bad2 AS SELECT id FROM main.customers WHERE email LIKE 'a%'", names=EMAIL),
    A("temp_view_over_forbidden", "support", "CREATE TEMP VIEW tv AS SELECT email FROM customers", names=EMAIL),
    A("comment", "support", "COMMENT ON TABLE customers IS 'pwned'"),
    A("create_index", "support", "CREATE INDEX ix_email ON customers (email)"),
    A("create_schema", "support", "CREATE SCHEMA evil"),
    A("drop_schema", "eve", "DROP SCHEMA work CASCADE"),
    A("create_sequence", "support", "CREATE SEQUENCE main.s1"),
    # ---- engine escape hatches
    A("create_macro", "support", "CREATE MACRO m(x) AS x + 1"),
    A("temp_macro_current_user", "support", "CREATE TEMP MACRO current_user() AS 'admin'"),
    A("create_function", "support", "CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql"),
    A("temp_view_pg_class", "support", "CREATE OR REPLACE TEMP VIEW pg_class AS SELECT * FROM pg_catalog.pg_class"),
    A("drop_view_pg_class", "support", "DROP VIEW pg_class"),
    A("insert_madang_visible", "support", "INSERT INTO madang_visible VALUES ('main', 'trades', '')"),
    A("update_madang_visible", "support", "UPDATE madang_visible SET table_name = 'trades'"),
    A("delete_madang_visible", "support", "DELETE FROM madang_visible"),
    A("insert_madang_settings", "support", "INSERT INTO madang_settings VALUES ('is_superuser', 'on')"),
    A("attach", "support", "ATTACH '{T}.duckdb' AS x"),
    A("detach", "support", "DETACH warehouse"),
    A("install", "support", "INSTALL httpfs"),
    A("load", "support", "LOAD httpfs"),
    A("pragma", "support", "PRAGMA database_list"),
    A("call", "support", "CALL pragma_version()"),
    A("use", "support", "USE temp"),
    A("checkpoint", "support", "CHECKPOINT"),
    A("export", "support", "EXPORT DATABASE '{T}-exp'"),
    A("import", "support", "IMPORT DATABASE '/tmp'"),
    A("create_secret", "support", "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')"),
    A("set_external_access", "support", "SET enable_external_access = true", codes=SETTING),
    A("set_lock_config", "support", "SET lock_configuration = false", codes=SETTING),
    A("reset_lock_config", "support", "RESET lock_configuration", codes=SETTING),
    A("set_global", "support", "SET GLOBAL allowed_directories = ['/']", codes=SETTING),
    A("set_variable", "support", "SET VARIABLE x = (SELECT max(email) FROM customers)", codes=SETTING),
    A("prepare_sql", "support", "PREPARE p AS SELECT email FROM customers"),
    # ---- identity and governance
    A("session_authorization", "support", "SET SESSION AUTHORIZATION 'admin'"),
    A("set_role", "support", "SET ROLE admin", codes=("42501", "42704", "0A000")),
    A("grant_self", "support", "GRANT SELECT ON customers TO support", names=("customers",)),
    A("grant_col_group", "support", "GRANT SELECT (email) ON main.customers TO GROUP support_agents",
      names=("main.customers",)),
    A("grant_public", "support", "GRANT SELECT ON trades TO PUBLIC", names=("trades",)),
    A("grant_granted_view", "mallory", "GRANT SELECT ON v_country TO support", names=("v_country",)),
    A("grant_create_schema", "support", "GRANT CREATE ON SCHEMA main TO support"),
    A("grant_create_schema_own", "eve", "GRANT CREATE ON SCHEMA work TO mallory"),
    A("revoke_others", "support", "REVOKE SELECT ON trades FROM GROUP analysts"),
    A("create_user", "support", "CREATE USER x2 PASSWORD 'y'"),
    A("create_group", "support", "CREATE GROUP g2"),
    A("alter_group_join", "support", "ALTER GROUP analysts ADD USER support"),
    A("alter_admin_password", "support", "ALTER USER admin PASSWORD 'pwned'"),
    A("drop_admin", "support", "DROP USER admin"),
    A("drop_other_user", "analyst", "DROP USER support"),
    A("explain_access_other", "support", "SELECT * FROM madang.explain_access('analyst', 'main.trades')"),
    # the second statement is forbidden; extended protocol refuses multi-statement Parse (42601)
    A("multi_stmt", "support", "SELECT 1; SELECT email FROM customers", names=EMAIL, ext_codes=("42601",)),
    A("multi_stmt_write", "eve", "SELECT 1; INSERT INTO notes SELECT id, email FROM customers",
      ext_codes=("42601",)),
]

assert len({a.id for a in ATTACKS}) == len(ATTACKS)


def assert_no_data(srv, msg):
    for v in [SECRET] + srv.emails + srv.phones:
        assert v not in msg, "denied error reveals data %r: %s" % (v, msg)


@pytest.mark.parametrize("proto", ["simple", "extended"])
@pytest.mark.parametrize("a", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack(srv, conns, a, proto):
    conn = conns(a.user, proto)
    before = fingerprint(srv)
    codes = a.ext_codes if (proto == "extended" and a.ext_codes) else a.codes
    try:
        if a.kind == "copy_out":
            out = copy_out(conn, proto, a.sql)
            pytest.fail("COPY OUT succeeded, %d bytes leaked: %r" % (len(out), out[:200]))
        elif a.kind == "copy_in":
            copy_in(conn, proto, a.sql, a.data)
            pytest.fail("COPY IN succeeded")
        else:
            rows = run(conn, proto, a.sql, a.params)
            pytest.fail("statement succeeded, returned %r" % (rows[:5] if rows else rows,))
    except (psycopg2.Error, psycopg.Error) as e:
        st, msg = sqlstate(e), full_message(e)
        assert st in codes, "expected SQLSTATE %s, got %r: %s" % ("/".join(codes), st, msg)
        for n in (a.names if st == "42501" else ()):
            assert n.lower() in msg.lower(), "denial does not name %r: %s" % (n, msg)
        assert_no_data(srv, msg)
        try:
            msg.encode("utf-8")
        except UnicodeError:
            pytest.fail("error message is not valid text: %r" % msg)
    # session still usable, and nothing happened
    conn = conns(a.user, proto)
    try:
        assert run(conn, proto, "SELECT 1") == [(1,)]
    except (psycopg2.Error, psycopg.Error) as e:
        conns(a.user, proto, fresh=True)
        pytest.fail("session unusable after denial: %s" % e)
    after = fingerprint(srv)
    for k in before:
        assert before[k] == after[k], "trace left in %s:\nbefore %r\nafter  %r" % (k, before[k], after[k])
    if a.after == "loot_empty":
        assert run(conn, proto, "SELECT count(*) FROM loot") == [(0,)]


def test_attack_count():
    assert len(ATTACKS) >= 80


# ------------------------------------------------- metadata oracles that may run but must show nothing

@pytest.mark.parametrize("proto", ["simple", "extended"])
@pytest.mark.parametrize("sql", [
    "SELECT json_serialize_plan('SELECT * FROM customers')::VARCHAR",
    "SELECT a.attname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON a.attrelid = c.oid "
    "WHERE c.relname = 'customers'",
    "SELECT relname FROM pg_catalog.pg_class",
    "SELECT * FROM pg_catalog.pg_description",
    "SELECT * FROM madang.grants",
    "SELECT * FROM madang.users",
    "SELECT * FROM madang.groups",
    "SELECT table_name, column_name FROM information_schema.columns",
    "SELECT table_name FROM information_schema.tables",
    "SELECT * FROM information_schema.key_column_usage",
    "SELECT * FROM information_schema.table_constraints",
], ids=["json_serialize_plan", "pg_attribute", "pg_class", "pg_description", "grants", "users", "groups",
        "is_columns", "is_tables", "is_key_column_usage", "is_table_constraints"])
def test_metadata_oracle_hides_customers(srv, conns, sql, proto):
    """analyst has no grant on customers: no catalog surface may show its columns."""
    conn = conns("analyst", proto)
    try:
        rows = run(conn, proto, sql)
    except (psycopg2.Error, psycopg.Error) as e:
        assert sqlstate(e) == "42501", full_message(e)
        return
    text = repr(rows)
    for leak in ("customers", "email", "birth_date", "support_agents", "'support'"):
        assert leak not in text, "%s leaks %r to analyst: %s" % (sql, leak, text[:800])


# --------------------------------------------------------------------------- prepared statements

def test_prepared_revoke_between_parse_and_execute(srv):
    admin_q(srv, "CREATE USER prep_u PASSWORD 'prep-pw'")
    admin_q(srv, "GRANT SELECT ON accounts TO prep_u")
    c = psycopg.connect(srv.dsn("prep_u", "prep-pw"), autocommit=True)
    pg = c.pgconn
    r = pg.prepare(b"s1", b"SELECT count(*) FROM accounts WHERE balance > $1")
    assert r.status == psycopg.pq.ExecStatus.COMMAND_OK, r.error_message
    r = pg.exec_prepared(b"s1", [b"0"])
    assert r.status == psycopg.pq.ExecStatus.TUPLES_OK, r.error_message
    admin_q(srv, "REVOKE SELECT ON accounts FROM prep_u")
    r = pg.exec_prepared(b"s1", [b"0"])
    assert r.status == psycopg.pq.ExecStatus.FATAL_ERROR, "Execute after REVOKE returned rows"
    assert r.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == b"42501", r.error_message
    # re-grant: the same prepared statement works again
    admin_q(srv, "GRANT SELECT ON accounts TO prep_u")
    r = pg.exec_prepared(b"s1", [b"0"])
    assert r.status == psycopg.pq.ExecStatus.TUPLES_OK, r.error_message
    # denied at Parse already
    r = pg.prepare(b"s2", b"SELECT count(*) FROM trades")
    assert r.status == psycopg.pq.ExecStatus.FATAL_ERROR
    assert r.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == b"42501", r.error_message
    c.close()


def test_prepared_psycopg3_auto_prepared_revoke(srv):
    """psycopg 3 prepare=True: second execute is Bind/Execute of the named statement."""
    admin_q(srv, "CREATE USER prep_v PASSWORD 'prep-pw'")
    admin_q(srv, "GRANT SELECT (id, country) ON customers TO prep_v")
    c = psycopg.connect(srv.dsn("prep_v", "prep-pw"), autocommit=True)
    q = "SELECT count(*) FROM customers WHERE country = %s"
    assert c.execute(q, ("KR",), prepare=True).fetchone()[0] > 0
    admin_q(srv, "REVOKE SELECT (country) ON customers FROM prep_v")
    with pytest.raises(psycopg.Error) as e:
        c.execute(q, ("KR",), prepare=True).fetchall()
    assert e.value.sqlstate == "42501", str(e.value)
    assert "country" in str(e.value)
    c.close()


# --------------------------------------------------------------------------- positive controls

@pytest.mark.parametrize("proto", ["simple", "extended"])
def test_support_reads_granted_columns(srv, conns, proto):
    c = conns("support", proto)
    assert run(c, proto, "SELECT count(*) FROM customers") == admin_q(srv, "SELECT count(*) FROM customers")
    rows = run(c, proto, "SELECT id, name, country FROM customers WHERE country = %s ORDER BY id LIMIT 3",
               ("KR",))
    assert len(rows) == 3 and all(r[2] == "KR" for r in rows)
    assert run(c, proto, "SELECT count(DISTINCT country) FROM main.customers WHERE name LIKE '%'")[0][0] > 1
    assert run(c, proto, "FROM customers SELECT id ORDER BY id LIMIT 1") == [(1,)]
    assert run(c, proto, "SELECT id FROM vault") == [(1,)]


@pytest.mark.parametrize("proto", ["simple", "extended"])
def test_analyst_reads_trades_join_orders(srv, conns, proto):
    c = conns("analyst", proto)
    rows = run(c, proto, "SELECT o.side, count(*), sum(t.quantity) FROM trades t JOIN orders o "
                         "ON o.id = t.order_id GROUP BY 1 ORDER BY 1")
    assert sum(r[1] for r in rows) == 1000000
    assert run(c, proto, "WITH x AS (SELECT * FROM accounts) SELECT count(*) FROM x") == \
        admin_q(srv, "SELECT count(*) FROM accounts")


@pytest.mark.parametrize("proto", ["simple", "extended"])
def test_view_grant_without_base_grant(srv, conns, proto):
    c = conns("mallory", proto)
    rows = run(c, proto, "SELECT country, n FROM v_country ORDER BY 1")
    assert rows == admin_q(srv, "SELECT country, count(*) FROM customers GROUP BY 1 ORDER BY 1")
    with pytest.raises((psycopg2.Error, psycopg.Error)) as e:
        run(c, proto, "SELECT country FROM customers")
    assert sqlstate(e.value) == "42501"


def test_definer_view_owner_loses_access(srv):
    admin_q(srv, "CREATE USER vera PASSWORD 'vera-pw'")
    admin_q(srv, "CREATE USER vic PASSWORD 'vic-pw'")
    admin_q(srv, "GRANT CREATE ON SCHEMA main TO vera")
    admin_q(srv, "GRANT SELECT (id, country) ON customers TO vera")
    vera = psycopg2.connect(srv.dsn("vera", "vera-pw"))
    vera.autocommit = True
    vc = vera.cursor()
    vc.execute("CREATE VIEW v_vera AS SELECT id, country FROM main.customers WHERE country = 'KR'")
    # (granted from a second session: the same-session case is test_owner_grants_in_same_session)
    v2 = psycopg2.connect(srv.dsn("vera", "vera-pw"))
    v2.autocommit = True
    v2.cursor().execute("GRANT SELECT ON v_vera TO vic")
    v2.close()
    vic2 = psycopg2.connect(srv.dsn("vic", "vic-pw"))
    vic2.autocommit = True
    vic3 = psycopg.connect(srv.dsn("vic", "vic-pw"), autocommit=True)
    n = admin_q(srv, "SELECT count(*) FROM customers WHERE country = 'KR'")[0][0]
    assert run(vic2, "simple", "SELECT count(*) FROM v_vera") == [(n,)]
    assert run(vic3, "extended", "SELECT count(*) FROM v_vera") == [(n,)]
    admin_q(srv, "REVOKE SELECT (id, country) ON customers FROM vera")
    # the owner may not re-create it over what they cannot read any more
    with pytest.raises(psycopg2.Error) as e:
        vc.execute("CREATE OR REPLACE VIEW v_vera AS SELECT id, country FROM main.customers")
    assert e.value.pgcode == "42501"
    for conn, proto in ((vic2, "simple"), (vic3, "extended"), (vera, "simple")):
        with pytest.raises((psycopg2.Error, psycopg.Error)) as e:
            run(conn, proto, "SELECT count(*) FROM v_vera")
        assert sqlstate(e.value) == "42501", full_message(e.value)
    for c in (vera, vic2, vic3):
        c.close()


def test_schema_grant_covers_later_tables_and_group_membership(srv):
    admin_q(srv, "CREATE USER rita PASSWORD 'rita-pw'")
    admin_q(srv, "CREATE GROUP readers")
    admin_q(srv, "CREATE SCHEMA sales")
    admin_q(srv, "GRANT SELECT ON SCHEMA sales TO GROUP readers")
    r2 = psycopg2.connect(srv.dsn("rita", "rita-pw"))
    r2.autocommit = True
    r3 = psycopg.connect(srv.dsn("rita", "rita-pw"), autocommit=True)
    admin_q(srv, "CREATE TABLE sales.later AS SELECT 42 AS x")
    for c, p in ((r2, "simple"), (r3, "extended")):
        with pytest.raises((psycopg2.Error, psycopg.Error)) as e:
            run(c, p, "SELECT x FROM sales.later")
        assert sqlstate(e.value) == "42501"
    admin_q(srv, "ALTER GROUP readers ADD USER rita")
    for c, p in ((r2, "simple"), (r3, "extended")):
        assert run(c, p, "SELECT x FROM sales.later") == [(42,)]
    admin_q(srv, "CREATE TABLE sales.even_later AS SELECT 7 AS y")
    for c, p in ((r2, "simple"), (r3, "extended")):
        assert run(c, p, "SELECT y FROM sales.even_later") == [(7,)]
        with pytest.raises((psycopg2.Error, psycopg.Error)) as e:
            run(c, p, "SELECT count(*) FROM main.accounts")
        assert sqlstate(e.value) == "42501"
    groups = admin_q(srv, "SELECT members FROM madang.groups WHERE name = 'readers'")
    assert groups == [(["rita"],)]
    admin_q(srv, "ALTER GROUP readers DROP USER rita")
    for c, p in ((r2, "simple"), (r3, "extended")):
        with pytest.raises((psycopg2.Error, psycopg.Error)) as e:
            run(c, p, "SELECT x FROM sales.later")
        assert sqlstate(e.value) == "42501"
    r2.close()
    r3.close()


def test_create_on_schema_makes_owner(srv):
    admin_q(srv, "CREATE USER owen PASSWORD 'owen-pw'")
    admin_q(srv, "CREATE USER olga PASSWORD 'olga-pw'")
    admin_q(srv, "CREATE SCHEMA lab")
    o = psycopg2.connect(srv.dsn("owen", "owen-pw"))
    o.autocommit = True
    oc = o.cursor()
    with pytest.raises(psycopg2.Error) as e:
        oc.execute("CREATE TABLE lab.t (a INT)")
    assert e.value.pgcode == "42501"
    admin_q(srv, "GRANT CREATE ON SCHEMA lab TO owen")
    oc.execute("CREATE TABLE lab.t (a INT)")
    oc.execute("INSERT INTO lab.t VALUES (1), (2)")
    oc.execute("UPDATE lab.t SET a = a + 10")
    oc.execute("DELETE FROM lab.t WHERE a = 12")
    oc.execute("SELECT a FROM lab.t")
    assert oc.fetchall() == [(11,)]
    oc.execute("CREATE TABLE lab.t2 AS SELECT 1 AS z")
    oc.execute("ALTER TABLE lab.t2 ADD COLUMN b INT")
    oc.execute("DROP TABLE lab.t2")
    with pytest.raises(psycopg2.Error) as e:
        oc.execute("CREATE TABLE main.owen_t (a INT)")
    assert e.value.pgcode == "42501"
    o2 = psycopg2.connect(srv.dsn("owen", "owen-pw"))
    o2.autocommit = True
    o2.cursor().execute("GRANT SELECT ON lab.t TO olga")   # the contract form s.t
    o2.close()
    g = admin_q(srv, "SELECT grantee, privilege, grantor FROM madang.grants "
                     "WHERE schema_name = 'lab' AND table_name = 't'")
    assert g == [("olga", "SELECT", "owen")], g
    olga = psycopg.connect(srv.dsn("olga", "olga-pw"), autocommit=True)
    assert olga.execute("SELECT a FROM lab.t").fetchall() == [(11,)]
    with pytest.raises(psycopg.Error) as e3:
        olga.execute("DROP TABLE lab.t")
    assert e3.value.sqlstate == "42501"
    oc.execute("DROP TABLE lab.t")
    assert admin_q(srv, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'lab'") == [(0,)]
    o.close()
    olga.close()


def test_all_privileges_and_revoke(srv):
    admin_q(srv, "CREATE USER alp PASSWORD 'alp-pw'")
    admin_q(srv, "CREATE TABLE main.allp (a INT, b VARCHAR)")
    admin_q(srv, "GRANT ALL PRIVILEGES ON TABLE allp TO USER alp")
    c = psycopg.connect(srv.dsn("alp", "alp-pw"), autocommit=True)
    c.execute("INSERT INTO allp VALUES (%s, %s)", (1, "x"), prepare=True)
    c.execute("UPDATE allp SET b = %s WHERE a = %s", ("y", 1), prepare=True)
    assert c.execute("SELECT a, b FROM allp").fetchall() == [(1, "y")]
    c.execute("DELETE FROM allp WHERE a = 1")
    rows = admin_q(srv, "SELECT * FROM madang.explain_access('alp', 'main.allp') ORDER BY 1")
    assert [r[:2] for r in rows] == [("DELETE", True), ("INSERT", True), ("SELECT", True), ("UPDATE", True)]
    admin_q(srv, "REVOKE ALL PRIVILEGES ON TABLE allp FROM USER alp")
    for q in ("SELECT a FROM allp", "INSERT INTO allp VALUES (2, 'z')", "DELETE FROM allp"):
        with pytest.raises(psycopg.Error) as e:
            c.execute(q)
        assert e.value.sqlstate == "42501", (q, str(e.value))
    c.close()


@pytest.mark.parametrize("form", ["qualified", "unqualified"])
def test_revoke_removes_grant(srv, form):
    """REVOKE must take effect whether the table is written s.t (contract) or t."""
    u = "rv_" + form[:4]
    admin_q(srv, "CREATE USER %s PASSWORD 'pw'" % u)
    t = "main.orders" if form == "qualified" else "orders"
    admin_q(srv, "GRANT SELECT ON %s TO %s" % (t, u))
    c = psycopg2.connect(srv.dsn(u, "pw"))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("SELECT count(*) FROM orders")
    g = admin_q(srv, "SELECT schema_name, table_name, privilege FROM madang.grants WHERE grantee = %s", (u,))
    assert g == [("main", "orders", "SELECT")], g
    admin_q(srv, "REVOKE SELECT ON %s FROM %s" % (t, u))
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("SELECT count(*) FROM orders")
    assert e.value.pgcode == "42501"
    assert admin_q(srv, "SELECT count(*) FROM madang.grants WHERE grantee = %s", (u,)) == [(0,)]
    c.close()


def test_column_grant_schema_qualified(srv):
    """GRANT SELECT (cols) ON s.t — the contract form — grants exactly those columns."""
    admin_q(srv, "CREATE USER colq PASSWORD 'pw'")
    admin_q(srv, "GRANT SELECT (id, name) ON main.customers TO colq")
    g = admin_q(srv, "SELECT schema_name, table_name, column_name FROM madang.grants "
                     "WHERE grantee = 'colq' ORDER BY 3")
    assert g == [("main", "customers", "id"), ("main", "customers", "name")], g
    c = psycopg.connect(srv.dsn("colq", "pw"), autocommit=True)
    assert c.execute("SELECT count(name) FROM customers").fetchone() == tuple(admin_q(srv, "SELECT count(*) FROM customers")[0])
    with pytest.raises(psycopg.Error) as e:
        c.execute("SELECT country FROM customers")
    assert e.value.sqlstate == "42501"
    c.close()


def test_public_grant(srv):
    admin_q(srv, "CREATE TABLE main.pub AS SELECT 5 AS v")
    admin_q(srv, "GRANT SELECT ON pub TO PUBLIC")
    m = psycopg2.connect(srv.dsn("mallory", "mallory-pw"))
    m.autocommit = True
    cur = m.cursor()
    cur.execute("SELECT v FROM pub")
    assert cur.fetchall() == [(5,)]
    assert admin_q(srv, "SELECT grantee_kind FROM madang.grants WHERE table_name = 'pub'") == [("public",)]
    admin_q(srv, "REVOKE SELECT ON pub FROM PUBLIC")
    with pytest.raises(psycopg2.Error) as e:
        cur.execute("SELECT v FROM pub")
    assert e.value.pgcode == "42501"
    m.close()


def test_grant_and_revoke_in_open_session_both_protocols(srv):
    admin_q(srv, "CREATE USER live PASSWORD 'live-pw'")
    c2 = psycopg2.connect(srv.dsn("live", "live-pw"))
    c2.autocommit = True
    c3 = psycopg.connect(srv.dsn("live", "live-pw"), autocommit=True)
    q = "SELECT count(*) FROM accounts WHERE balance >= %s"
    for c, p in ((c2, "simple"), (c3, "extended")):
        with pytest.raises((psycopg2.Error, psycopg.Error)) as e:
            run(c, p, q, (0,))
        assert sqlstate(e.value) == "42501"
    admin_q(srv, "GRANT SELECT ON accounts TO live")
    n = admin_q(srv, "SELECT count(*) FROM accounts WHERE balance >= 0")
    for c, p in ((c2, "simple"), (c3, "extended")):
        assert run(c, p, q, (0,)) == n
    admin_q(srv, "REVOKE SELECT ON accounts FROM live")
    for c, p in ((c2, "simple"), (c3, "extended")):
        with pytest.raises((psycopg2.Error, psycopg.Error)) as e:
            run(c, p, q, (0,))
        assert sqlstate(e.value) == "42501"
    # and inside an open transaction
    c3.autocommit = False
    admin_q(srv, "GRANT SELECT ON accounts TO live")
    assert run(c3, "extended", q, (0,)) == n
    admin_q(srv, "REVOKE SELECT ON accounts FROM live")
    with pytest.raises(psycopg.Error) as e:
        run(c3, "extended", q, (0,))
    assert e.value.sqlstate == "42501"
    c3.rollback()
    c2.close()
    c3.close()


def test_system_views_own_rows_only(srv):
    c = psycopg2.connect(srv.dsn("support", "support-demo"))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("SELECT grantee_kind, grantee, privilege, schema_name, table_name, column_name "
                "FROM madang.grants ORDER BY ALL")
    rows = cur.fetchall()
    assert ("group", "support_agents", "SELECT", "main", "customers", "email") not in rows
    assert {r[1] for r in rows} <= {"support", "support_agents"}, rows
    assert {(r[4], r[5]) for r in rows} >= {("customers", "id"), ("customers", "name"), ("customers", "country")}
    cur.execute("SELECT name, superuser, groups FROM madang.users")
    assert cur.fetchall() == [("support", False, ["support_agents"])]
    cur.execute("SELECT name, members FROM madang.groups")
    assert cur.fetchall() == [("support_agents", ["support"])]
    c.close()
    users = {r[0]: r for r in admin_q(srv, "SELECT name, superuser, groups FROM madang.users")}
    assert {"admin", "analyst", "support", "mallory", "eve"} <= set(users)
    assert users["admin"][1] is True and users["analyst"][2] == ["analysts"]
    assert users["admin"][2] in ([], None), "admin is in no group, got %r" % (users["admin"][2],)
    gr = admin_q(srv, "SELECT grantee, table_name FROM madang.grants WHERE grantee = 'analysts' ORDER BY 2")
    assert gr == [("analysts", "accounts"), ("analysts", "orders"), ("analysts", "trades")]


def test_explain_access(srv):
    rows = {r[0]: r for r in admin_q(srv, "SELECT * FROM madang.explain_access('analyst', 'main.trades')")}
    assert rows["SELECT"][1] is True and "analysts" in rows["SELECT"][2], rows
    assert rows["DELETE"][1] is False
    rows = {r[0]: r for r in admin_q(srv, "SELECT * FROM madang.explain_access('support', 'main.customers')")}
    assert rows["SELECT"][1] is False  # only some columns
    assert "support_agents" in rows["SELECT"][2] and "email" not in rows["SELECT"][2], rows
    # a user may explain their own access, not another's
    c = psycopg.connect(srv.dsn("analyst", "analyst-demo"), autocommit=True)
    own = c.execute("SELECT privilege, allowed FROM madang.explain_access('analyst', 'main.customers')").fetchall()
    assert ("SELECT", False) in own
    with pytest.raises(psycopg.Error) as e:
        c.execute("SELECT * FROM madang.explain_access('support', 'main.customers')")
    assert e.value.sqlstate == "42501", (e.value.sqlstate, str(e.value))
    c.close()


def test_psql_dt_per_user(srv):
    out = srv.psql("\\dt", user="support", password="support-demo").stdout
    names = {line.split("|")[1] for line in out.splitlines() if "|" in line}
    assert "customers" in names and "trades" not in names and "accounts" not in names, out
    out = srv.psql("\\dt", user="analyst", password="analyst-demo").stdout
    names = {line.split("|")[1] for line in out.splitlines() if "|" in line}
    assert {"trades", "orders", "accounts"} <= names and "customers" not in names, out
    out = srv.psql("\\d customers", user="analyst", password="analyst-demo", check=False)
    assert "email" not in out.stdout and "email" not in out.stderr, out.stdout


@pytest.mark.parametrize("proto", ["simple", "extended"])
def test_pg_class_per_user(srv, conns, proto):
    rel = {r[0] for r in run(conns("analyst", proto), proto, "SELECT relname FROM pg_catalog.pg_class")}
    assert {"trades", "orders", "accounts"} <= rel and "customers" not in rel and "vault" not in rel, rel
    rel = {r[0] for r in run(conns("support", proto), proto, "SELECT relname FROM pg_class")}
    assert "customers" in rel and "trades" not in rel, rel


def test_copy_out_granted_query(srv):
    """COPY (query) TO STDOUT of what the user may read works for non-superusers too."""
    c = psycopg2.connect(srv.dsn("support", "support-demo"))
    buf = io.StringIO()
    c.cursor().copy_expert("COPY (SELECT id FROM customers ORDER BY id LIMIT 2) TO STDOUT", buf)
    assert buf.getvalue() == "1\n2\n"
    buf = io.StringIO()
    c.cursor().copy_expert("COPY customers (id, name, country) TO STDOUT", buf)
    assert len(buf.getvalue().splitlines()) == admin_q(srv, "SELECT count(*) FROM customers")[0][0]
    c.close()


def test_owner_grants_in_same_session(srv):
    """The creator owns the object at once: GRANT on it in the session that created it."""
    admin_q(srv, "CREATE USER sam PASSWORD 'sam-pw'")
    admin_q(srv, "GRANT CREATE ON SCHEMA main TO sam")
    c = psycopg2.connect(srv.dsn("sam", "sam-pw"))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("CREATE TABLE sam_t AS SELECT 1 AS a")
    cur.execute("GRANT SELECT ON sam_t TO mallory")
    assert admin_q(srv, "SELECT grantee, grantor FROM madang.grants WHERE table_name = 'sam_t'") == \
        [("mallory", "sam")]
    cur.execute("DROP TABLE sam_t")
    c.close()
