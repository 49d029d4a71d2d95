-- compat.sql — the per-connection PostgreSQL catalog shim (see src/gate/compat.c).
--
-- Run by compat_install() on every new DuckDB connection. Statements are
-- separated by lines containing only @@. Placeholders filled in by C:
--   {{USER}}      effective user name, already escaped for a '...' literal
--   {{SUPERUSER}} 'on' or 'off'
--   {{PID}}       backend pid (integer)
--   {{VERSION}}   the full version() string, already escaped
--
-- Everything is TEMP: it lives in temp.main, which DuckDB searches before the
-- user's schemas, system.main and system.pg_catalog, so these objects shadow
-- the built-ins (including version(), current_user and the pg_catalog views).
-- Nothing can be created in pg_catalog itself, which is why compat_rewrite()
-- strips "pg_catalog." qualifiers. CREATE OR REPLACE keeps the script
-- idempotent on one connection.
--
-- Type OIDs: VARCHAR maps to 25 (text) everywhere — madang's wire layer
-- reports VARCHAR result columns as text, and the catalog must agree.
-- Owner of every object is role oid 10, 'admin'.
--
-- Lookup macros use a "hygienic" form, (SELECT arg AS madang_a) madang_p, so
-- that a caller's argument such as "oid" or "t.oid" binds to the caller's row,
-- not to a column of the catalog scanned inside the macro.
-- set_config and current_setting read and change the session's settings (C functions in sysviews.c)
CREATE OR REPLACE TEMP MACRO set_config(n, v, is_local) AS madang_set_config(n, v, is_local)
@@
CREATE OR REPLACE TEMP MACRO version() AS '{{VERSION}}'
@@
CREATE OR REPLACE TEMP MACRO current_user() AS '{{USER}}'
@@
CREATE OR REPLACE TEMP MACRO session_user() AS '{{USER}}'
@@
CREATE OR REPLACE TEMP MACRO "user"() AS '{{USER}}'
@@
CREATE OR REPLACE TEMP MACRO current_role() AS '{{USER}}'
@@
CREATE OR REPLACE TEMP MACRO pg_backend_pid() AS {{PID}}
@@
CREATE OR REPLACE TEMP MACRO current_schemas(include_implicit) AS
  CASE WHEN include_implicit THEN ['pg_catalog', current_schema()] ELSE [current_schema()] END
@@
-- PostgreSQL clients connect to database "madang"; DuckDB's catalog is named after its file
CREATE OR REPLACE TEMP MACRO current_database() AS 'madang'
@@
CREATE OR REPLACE TEMP MACRO current_catalog() AS 'madang'
@@
-- PG regex operators: DuckDB's "~" binds to regexp_full_match (whole-string match); PG's "~" is a partial match.
-- A temp macro with that name shadows the builtin (only the 2-arg form can be shadowed: options must be constant).
CREATE OR REPLACE TEMP MACRO regexp_full_match(s, p) AS regexp_matches(s, p)
@@
CREATE OR REPLACE TEMP MACRO "~*"(s, p) AS regexp_matches(s, p, 'i')
@@
CREATE OR REPLACE TEMP MACRO "!~*"(s, p) AS NOT regexp_matches(s, p, 'i')
@@
-- ---------- macros that look things up: "hygienic" form (SELECT arg AS madang_a) so that an argument like
-- "oid" or "t.oid" binds to the caller's row, not to a column of the catalog scanned inside the macro ----------
CREATE OR REPLACE TEMP MACRO current_setting(n) AS coalesce(madang_get_setting(n),
   error('unrecognized configuration parameter "' || n || '"')),
 (n, missing_ok) AS CASE WHEN missing_ok THEN madang_get_setting(n)
   ELSE coalesce(madang_get_setting(n), error('unrecognized configuration parameter "' || n || '"')) END
@@ lazy
-- Everything below is installed on a session's first statement that names one of its objects
-- (catalog views and lookup macros); the part above is installed at connect.
CREATE OR REPLACE TEMP MACRO pg_get_userbyid(x) AS CASE WHEN x IS NULL THEN NULL WHEN x = 10 THEN 'admin' WHEN x = 16384 THEN '{{USER}}' ELSE 'unknown (OID=' || x || ')' END
@@
CREATE OR REPLACE TEMP MACRO pg_encoding_to_char(x) AS CASE x WHEN 6 THEN 'UTF8' WHEN 0 THEN 'SQL_ASCII' ELSE '' END
@@
CREATE OR REPLACE TEMP MACRO array_upper(arr, dim) AS CASE WHEN dim = 1 AND len(arr) > 0 THEN len(arr) ELSE NULL END
@@
CREATE OR REPLACE TEMP MACRO array_lower(arr, dim) AS CASE WHEN dim = 1 AND len(arr) > 0 THEN 1 ELSE NULL END
@@
CREATE OR REPLACE TEMP MACRO pg_table_is_visible(x) AS true
@@
-- TEMP tables cost a session far more memory than macros (measured: bench/mem_concurrency.py),
-- so they live here, in the part only catalog-reading sessions install.
-- The settings pg_settings shows (madang upserts every SET here once this part is installed):
CREATE OR REPLACE TEMP TABLE madang_settings(name VARCHAR PRIMARY KEY, setting VARCHAR)
@@
INSERT INTO madang_settings VALUES
 ('server_version','15.8'),('server_version_num','150008'),('server_encoding','UTF8'),('client_encoding','UTF8'),
 ('datestyle','ISO, MDY'),('intervalstyle','postgres'),('integer_datetimes','on'),('standard_conforming_strings','on'),
 ('transaction_isolation','read committed'),('default_transaction_isolation','read committed'),
 ('transaction_read_only','off'),('extra_float_digits','1'),('application_name',''),('max_index_keys','32'),
 ('max_identifier_length','63'),('lc_collate','C'),('lc_ctype','C'),('is_superuser','{{SUPERUSER}}'),('session_authorization','{{USER}}')
@@
-- relations the session's user may read something of (madang refreshes it when grants change);
-- superusers see everything
CREATE OR REPLACE TEMP TABLE madang_visible(schema_name VARCHAR, table_name VARCHAR, column_name VARCHAR)
@@
CREATE OR REPLACE TEMP MACRO madang_can_see(s, t) AS ('{{SUPERUSER}}' = 'on' OR (SELECT count(*) > 0
  FROM (SELECT s AS madang_s, t AS madang_t) madang_p, madang_visible madang_v
  WHERE madang_v.schema_name = madang_p.madang_s AND madang_v.table_name = madang_p.madang_t))
@@
-- columns: a row with column_name '' stands for every column (a table-level privilege or ownership);
-- a column grant lists its columns, as information_schema.columns shows only those in PostgreSQL
CREATE OR REPLACE TEMP MACRO madang_can_see_col(s, t, c) AS ('{{SUPERUSER}}' = 'on' OR (SELECT count(*) > 0
  FROM (SELECT s AS madang_s, t AS madang_t, c AS madang_col) madang_p, madang_visible madang_v
  WHERE madang_v.schema_name = madang_p.madang_s AND madang_v.table_name = madang_p.madang_t
    AND madang_v.column_name IN ('', madang_p.madang_col)))
@@
CREATE OR REPLACE TEMP MACRO pg_relation_is_publishable(x) AS false
@@
CREATE OR REPLACE TEMP MACRO pg_get_statisticsobjdef_columns(x) AS NULL::VARCHAR
@@
CREATE OR REPLACE TEMP MACRO pg_get_expr(expr, relid) AS expr::VARCHAR, (expr, relid, pretty) AS expr::VARCHAR
@@
CREATE OR REPLACE TEMP MACRO pg_function_is_visible(x) AS true
@@
CREATE OR REPLACE TEMP MACRO pg_type_is_visible(x) AS true
@@
-- ---------- types ----------
CREATE OR REPLACE TEMP TABLE madang_types(oid INTEGER, typname VARCHAR, fmt VARCHAR, typlen SMALLINT, typbyval BOOLEAN,
  typcategory VARCHAR, typelem INTEGER, typarray INTEGER, duck VARCHAR)
@@
INSERT INTO madang_types VALUES
 (16,'bool','boolean',1,true,'B',0,1000,'BOOLEAN'),(17,'bytea','bytea',-1,false,'U',0,1001,'BLOB'),
 (18,'char','"char"',1,true,'Z',0,1002,NULL),(19,'name','name',64,false,'S',0,1003,NULL),
 (20,'int8','bigint',8,true,'N',0,1016,'BIGINT'),(21,'int2','smallint',2,true,'N',0,1005,'SMALLINT'),
 (23,'int4','integer',4,true,'N',0,1007,'INTEGER'),(24,'regproc','regproc',4,true,'N',0,1008,NULL),
 (25,'text','text',-1,false,'S',0,1009,'VARCHAR'),(26,'oid','oid',4,true,'N',0,1028,NULL),
 (114,'json','json',-1,false,'U',0,199,'JSON'),(700,'float4','real',4,true,'N',0,1021,'FLOAT'),
 (701,'float8','double precision',8,true,'N',0,1022,'DOUBLE'),(705,'unknown','unknown',-2,false,'X',0,0,NULL),
 (1042,'bpchar','character',-1,false,'S',0,1014,NULL),
 (1043,'varchar','character varying',-1,false,'S',0,1015,NULL),(1082,'date','date',4,true,'D',0,1182,'DATE'),
 (1083,'time','time without time zone',8,true,'D',0,1183,'TIME'),
 (1114,'timestamp','timestamp without time zone',8,true,'D',0,1115,'TIMESTAMP'),
 (1184,'timestamptz','timestamp with time zone',8,true,'D',0,1185,'TIMESTAMP WITH TIME ZONE'),
 (1186,'interval','interval',16,false,'T',0,1187,'INTERVAL'),(1266,'timetz','time with time zone',12,false,'D',0,1270,'TIME WITH TIME ZONE'),
 (1560,'bit','bit',-1,false,'V',0,1561,'BIT'),(1700,'numeric','numeric',-1,false,'N',0,1231,'DECIMAL'),
 (2205,'regclass','regclass',4,true,'N',0,2210,NULL),(2206,'regtype','regtype',4,true,'N',0,2211,NULL),
 (2950,'uuid','uuid',16,false,'U',0,2951,'UUID'),
 (1000,'_bool','boolean[]',-1,false,'A',16,0,'BOOLEAN[]'),(1001,'_bytea','bytea[]',-1,false,'A',17,0,'BLOB[]'),
 (1005,'_int2','smallint[]',-1,false,'A',21,0,'SMALLINT[]'),(1007,'_int4','integer[]',-1,false,'A',23,0,'INTEGER[]'),
 (1009,'_text','text[]',-1,false,'A',25,0,'VARCHAR[]'),(1015,'_varchar','character varying[]',-1,false,'A',1043,0,NULL),
 (1016,'_int8','bigint[]',-1,false,'A',20,0,'BIGINT[]'),(1021,'_float4','real[]',-1,false,'A',700,0,'FLOAT[]'),
 (1022,'_float8','double precision[]',-1,false,'A',701,0,'DOUBLE[]'),(1028,'_oid','oid[]',-1,false,'A',26,0,NULL),
 (1115,'_timestamp','timestamp without time zone[]',-1,false,'A',1114,0,'TIMESTAMP[]'),
 (1182,'_date','date[]',-1,false,'A',1082,0,'DATE[]'),(1231,'_numeric','numeric[]',-1,false,'A',1700,0,'DECIMAL[]'),
 (2951,'_uuid','uuid[]',-1,false,'A',2950,0,'UUID[]')
@@
-- DuckDB type string (duckdb_columns.data_type / duckdb_functions types) -> PG type oid  (no subquery: usable inside lambdas)
CREATE OR REPLACE TEMP MACRO madang_typoid(dt) AS CASE
  WHEN dt IS NULL THEN NULL
  WHEN dt = 'BOOLEAN' THEN 16 WHEN dt = 'BLOB' THEN 17 WHEN dt IN ('TINYINT','SMALLINT','UTINYINT') THEN 21
  WHEN dt IN ('INTEGER','USMALLINT') THEN 23 WHEN dt IN ('BIGINT','UINTEGER') THEN 20
  WHEN dt IN ('UBIGINT','HUGEINT','UHUGEINT','BIGNUM') OR dt LIKE 'DECIMAL(%)' THEN 1700
  WHEN dt = 'FLOAT' THEN 700 WHEN dt = 'DOUBLE' THEN 701 WHEN dt = 'VARCHAR' THEN 25 WHEN dt = 'JSON' THEN 114
  WHEN dt = 'DATE' THEN 1082 WHEN dt IN ('TIME','TIME_NS') THEN 1083
  WHEN dt IN ('TIMESTAMP','TIMESTAMP_S','TIMESTAMP_MS','TIMESTAMP_NS') THEN 1114 WHEN dt = 'TIMESTAMP WITH TIME ZONE' THEN 1184
  WHEN dt = 'TIME WITH TIME ZONE' THEN 1266 WHEN dt = 'INTERVAL' THEN 1186 WHEN dt = 'UUID' THEN 2950 WHEN dt = 'BIT' THEN 1560
  WHEN dt = 'BOOLEAN[]' THEN 1000 WHEN dt IN ('SMALLINT[]','TINYINT[]') THEN 1005 WHEN dt = 'INTEGER[]' THEN 1007
  WHEN dt = 'BIGINT[]' THEN 1016 WHEN dt = 'VARCHAR[]' THEN 1009 WHEN dt = 'FLOAT[]' THEN 1021 WHEN dt = 'DOUBLE[]' THEN 1022
  WHEN dt = 'DATE[]' THEN 1182 WHEN dt = 'TIMESTAMP[]' THEN 1115 WHEN dt LIKE 'DECIMAL(%)[]' THEN 1231 WHEN dt = 'UUID[]' THEN 2951
  WHEN dt LIKE '%[]' THEN 1009
  ELSE 25 END
@@
-- PG atttypmod for numeric(p,s) is ((p<<16)|s)+4
CREATE OR REPLACE TEMP MACRO madang_typmod(dt, p, s) AS CASE WHEN dt LIKE 'DECIMAL(%' THEN p * 65536 + s + 4 ELSE -1 END
@@
CREATE OR REPLACE TEMP VIEW pg_type AS
SELECT oid::BIGINT AS oid, typname, 11::BIGINT AS typnamespace, 10::BIGINT AS typowner, typlen, typbyval,
  CASE WHEN typcategory = 'A' THEN 'b' WHEN oid = 705 THEN 'p' ELSE 'b' END AS typtype, typcategory,
  false AS typispreferred, true AS typisdefined, ',' AS typdelim, 0::BIGINT AS typrelid, 0::BIGINT AS typsubscript,
  typelem::BIGINT AS typelem, typarray::BIGINT AS typarray,
  CASE WHEN typcategory = 'A' THEN 'array_in' ELSE typname || 'in' END AS typinput,
  CASE WHEN typcategory = 'A' THEN 'array_out' ELSE typname || 'out' END AS typoutput,
  NULL::VARCHAR AS typreceive, NULL::VARCHAR AS typsend, NULL::VARCHAR AS typmodin, NULL::VARCHAR AS typmodout, NULL::VARCHAR AS typanalyze,
  'i' AS typalign, 'p' AS typstorage, false AS typnotnull, 0::BIGINT AS typbasetype, -1 AS typtypmod, 0 AS typndims,
  CASE WHEN typcategory = 'S' THEN 100 ELSE 0 END::BIGINT AS typcollation, NULL::VARCHAR AS typdefaultbin,
  NULL::VARCHAR AS typdefault, NULL::VARCHAR[] AS typacl
FROM madang_types
@@
-- ---------- namespaces / relations ----------
CREATE OR REPLACE TEMP VIEW pg_namespace AS
SELECT oid::BIGINT AS oid, schema_name AS nspname, 10::BIGINT AS nspowner, NULL::VARCHAR[] AS nspacl
FROM duckdb_schemas() WHERE database_name = '{{DB}}'
UNION ALL SELECT 11, 'pg_catalog', 10, NULL UNION ALL SELECT 13000, 'information_schema', 10, NULL
@@
CREATE OR REPLACE TEMP VIEW pg_am AS SELECT * FROM (VALUES (2::BIGINT,'heap','heap_tableam_handler','t'),(403,'btree','bthandler','i'),(405,'hash','hashhandler','i'))
  AS t(oid, amname, amhandler, amtype)
@@
-- synthesized PK / UNIQUE indexes (DuckDB does not list them in duckdb_indexes())
CREATE OR REPLACE TEMP VIEW madang_conindex AS
SELECT 1610612736 + table_oid * 1000 + constraint_index AS idxoid, 1073741824 + table_oid * 1000 + constraint_index AS conoid,
  c.*, coalesce(c.constraint_name, c.table_name || '_pkey') AS idxname
FROM duckdb_constraints() c
WHERE constraint_type IN ('PRIMARY KEY','UNIQUE') AND database_name = '{{DB}}' AND madang_can_see(c.schema_name, c.table_name)
@@
CREATE OR REPLACE TEMP VIEW pg_class AS
SELECT table_oid::BIGINT AS oid, table_name AS relname, schema_oid::BIGINT AS relnamespace, 0::BIGINT AS reltype, 0::BIGINT AS reloftype,
  10::BIGINT AS relowner, 2::BIGINT AS relam, table_oid::BIGINT AS relfilenode, 0::BIGINT AS reltablespace, 0 AS relpages,
  CASE WHEN madang_has_row_policies(schema_name, table_name) THEN -1 ELSE estimated_size END::FLOAT AS reltuples, 0 AS relallvisible, 0::BIGINT AS reltoastrelid,
  (index_count > 0 OR has_primary_key OR EXISTS (SELECT 1 FROM madang_conindex ci WHERE ci.table_oid = t.table_oid)) AS relhasindex,
  false AS relisshared, CASE WHEN temporary THEN 't' ELSE 'p' END AS relpersistence, 'r' AS relkind,
  column_count::SMALLINT AS relnatts, check_constraint_count::SMALLINT AS relchecks, false AS relhasrules, false AS relhastriggers,
  false AS relhassubclass, madang_has_row_policies(schema_name, table_name) AS relrowsecurity, false AS relforcerowsecurity, true AS relispopulated, 'd' AS relreplident,
  false AS relispartition, 0::BIGINT AS relrewrite, 0 AS relfrozenxid, 0 AS relminmxid, NULL::VARCHAR[] AS relacl,
  NULL::VARCHAR[] AS reloptions, NULL::VARCHAR AS relpartbound
FROM duckdb_tables() t WHERE database_name = '{{DB}}' AND madang_can_see(t.schema_name, t.table_name)
UNION ALL
SELECT view_oid, view_name, schema_oid, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, false, false, 'p', 'v', column_count, 0, true, false,
  false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL
FROM duckdb_views() madang_w WHERE database_name = '{{DB}}' AND NOT internal AND madang_can_see(madang_w.schema_name, madang_w.view_name)
UNION ALL
SELECT sequence_oid, sequence_name, schema_oid, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, false, false, 'p', 'S', 3, 0, false, false,
  false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL
FROM duckdb_sequences() WHERE database_name = '{{DB}}'
UNION ALL
SELECT index_oid, index_name, schema_oid, 0, 0, 10, 403, 0, 0, 0, 0, 0, 0, false, false, 'p', 'i', NULL, 0, false, false,
  false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL
FROM duckdb_indexes() madang_i WHERE database_name = '{{DB}}' AND madang_can_see(madang_i.schema_name, madang_i.table_name)
UNION ALL
SELECT idxoid, idxname, schema_oid, 0, 0, 10, 403, 0, 0, 0, 0, 0, 0, false, false, 'p', 'i', len(constraint_column_indexes), 0,
  false, false, false, false, false, true, 'n', false, 0, 0, 0, NULL, NULL, NULL
FROM madang_conindex
UNION ALL
SELECT * FROM (VALUES (1259::BIGINT,'pg_class'),(1247,'pg_type'),(1249,'pg_attribute'),(1255,'pg_proc'),(2615,'pg_namespace'),
  (2606,'pg_constraint'),(2610,'pg_index'),(2609,'pg_description'),(1262,'pg_database'),(3079,'pg_extension'),(2604,'pg_attrdef'),
  (1260,'pg_authid'),(2601,'pg_am')) v(oid, relname),
  LATERAL (SELECT 11::BIGINT, 0::BIGINT, 0::BIGINT, 10::BIGINT, 2::BIGINT, 0::BIGINT, 0::BIGINT, 0, 0::FLOAT, 0, 0::BIGINT, true, false, 'p', 'r',
   0::SMALLINT, 0::SMALLINT, false, false, false, false, false, true, 'n', false, 0::BIGINT, 0, 0, NULL::VARCHAR[], NULL::VARCHAR[], NULL::VARCHAR)
@@
CREATE OR REPLACE TEMP VIEW pg_attribute AS
SELECT c.table_oid::BIGINT AS attrelid, c.column_name AS attname, madang_typoid(c.data_type)::BIGINT AS atttypid,
  -1 AS attstattarget, coalesce((SELECT typlen FROM madang_types t WHERE t.oid = madang_typoid(c.data_type)), -1)::SMALLINT AS attlen,
  c.column_index::SMALLINT AS attnum, 0 AS attndims, -1 AS attcacheoff,
  madang_typmod(c.data_type, c.numeric_precision, c.numeric_scale) AS atttypmod, false AS attbyval, 'p' AS attalign,
  CASE WHEN c.data_type IN ('VARCHAR','BLOB') OR c.data_type LIKE 'DECIMAL%' THEN 'x' ELSE 'p' END AS attstorage,
  '' AS attcompression, NOT c.is_nullable AS attnotnull, c.column_default IS NOT NULL AS atthasdef, false AS atthasmissing,
  '' AS attidentity, '' AS attgenerated, false AS attisdropped, true AS attislocal, 0 AS attinhcount,
  CASE WHEN c.data_type = 'VARCHAR' THEN 100 ELSE 0 END::BIGINT AS attcollation,
  NULL::VARCHAR[] AS attacl, NULL::VARCHAR[] AS attoptions, NULL::VARCHAR[] AS attfdwoptions, NULL::VARCHAR AS attmissingval
FROM duckdb_columns() c WHERE c.database_name = '{{DB}}' AND madang_can_see_col(c.schema_name, c.table_name, c.column_name)
@@
CREATE OR REPLACE TEMP VIEW pg_attrdef AS
SELECT (table_oid * 1000 + column_index)::BIGINT AS oid, table_oid::BIGINT AS adrelid, column_index::SMALLINT AS adnum, column_default AS adbin
FROM duckdb_columns() madang_c WHERE column_default IS NOT NULL AND database_name = '{{DB}}' AND madang_can_see_col(madang_c.schema_name, madang_c.table_name, madang_c.column_name)
@@
CREATE OR REPLACE TEMP VIEW pg_index AS
SELECT idxoid::BIGINT AS indexrelid, table_oid::BIGINT AS indrelid, len(constraint_column_indexes)::SMALLINT AS indnatts,
  len(constraint_column_indexes)::SMALLINT AS indnkeyatts, true AS indisunique, false AS indnullsnotdistinct,
  constraint_type = 'PRIMARY KEY' AS indisprimary, false AS indisexclusion, true AS indimmediate, false AS indisclustered,
  true AS indisvalid, false AS indcheckxmin, true AS indisready, true AS indislive, false AS indisreplident,
  list_transform(constraint_column_indexes, x -> (x + 1)::SMALLINT) AS indkey, NULL::BIGINT[] AS indcollation,
  NULL::BIGINT[] AS indclass, list_transform(constraint_column_indexes, x -> 0::SMALLINT) AS indoption,
  NULL::VARCHAR AS indexprs, NULL::VARCHAR AS indpred
FROM madang_conindex
UNION ALL
SELECT index_oid, table_oid, NULL, NULL, is_unique, false, is_primary, false, true, false, true, false, true, true, false,
  NULL::SMALLINT[], NULL, NULL, NULL::SMALLINT[], expressions::VARCHAR, NULL
FROM duckdb_indexes() madang_i WHERE database_name = '{{DB}}' AND madang_can_see(madang_i.schema_name, madang_i.table_name)
@@
CREATE OR REPLACE TEMP VIEW pg_constraint AS
SELECT 1073741824 + c.table_oid * 1000 + c.constraint_index AS oid, c.constraint_name AS conname, c.schema_oid::BIGINT AS connamespace,
  CASE c.constraint_type WHEN 'CHECK' THEN 'c' WHEN 'UNIQUE' THEN 'u' WHEN 'PRIMARY KEY' THEN 'p' WHEN 'FOREIGN KEY' THEN 'f' END AS contype,
  false AS condeferrable, false AS condeferred, true AS convalidated, c.table_oid::BIGINT AS conrelid, 0::BIGINT AS contypid,
  CASE WHEN c.constraint_type IN ('PRIMARY KEY','UNIQUE') THEN 1610612736 + c.table_oid * 1000 + c.constraint_index
       WHEN c.constraint_type = 'FOREIGN KEY' THEN (SELECT min(ci.idxoid) FROM madang_conindex ci
            WHERE ci.schema_name = c.schema_name AND ci.table_name = c.referenced_table
              AND list_sort(ci.constraint_column_names) = list_sort(c.referenced_column_names))
       ELSE 0 END::BIGINT AS conindid,
  0::BIGINT AS conparentid,
  CASE WHEN c.constraint_type = 'FOREIGN KEY' THEN (SELECT t.table_oid FROM duckdb_tables() t
       WHERE t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.referenced_table) ELSE 0 END::BIGINT AS confrelid,
  CASE WHEN c.constraint_type = 'FOREIGN KEY' THEN 'a' ELSE ' ' END AS confupdtype,
  CASE WHEN c.constraint_type = 'FOREIGN KEY' THEN 'a' ELSE ' ' END AS confdeltype,
  CASE WHEN c.constraint_type = 'FOREIGN KEY' THEN 's' ELSE ' ' END AS confmatchtype,
  true AS conislocal, 0 AS coninhcount, false AS connoinherit,
  list_transform(c.constraint_column_indexes, x -> (x + 1)::SMALLINT) AS conkey,
  CASE WHEN c.constraint_type = 'FOREIGN KEY' THEN (SELECT list(col.column_index::SMALLINT ORDER BY r.i)
       FROM (SELECT unnest(c.referenced_column_names) AS rc, generate_subscripts(c.referenced_column_names, 1) AS i) r
       JOIN duckdb_columns() col ON col.database_name = c.database_name AND col.schema_name = c.schema_name
        AND col.table_name = c.referenced_table AND col.column_name = r.rc) END AS confkey,
  NULL::BIGINT[] AS conpfeqop, NULL::BIGINT[] AS conppeqop, NULL::BIGINT[] AS conffeqop, NULL::SMALLINT[] AS confdelsetcols,
  NULL::BIGINT[] AS conexclop, c.expression AS conbin, c.constraint_text AS madang_def
FROM duckdb_constraints() c
WHERE c.database_name = '{{DB}}' AND c.constraint_type IN ('CHECK','UNIQUE','PRIMARY KEY','FOREIGN KEY')
  AND madang_can_see(c.schema_name, c.table_name)
@@
CREATE OR REPLACE TEMP VIEW pg_description AS
SELECT table_oid::BIGINT AS objoid, 1259::BIGINT AS classoid, 0 AS objsubid, comment AS description FROM duckdb_tables() madang_t WHERE comment IS NOT NULL AND database_name = '{{DB}}' AND madang_can_see(madang_t.schema_name, madang_t.table_name)
UNION ALL SELECT view_oid, 1259, 0, comment FROM duckdb_views() madang_w WHERE comment IS NOT NULL AND NOT internal AND database_name = '{{DB}}' AND madang_can_see(madang_w.schema_name, madang_w.view_name)
UNION ALL SELECT table_oid, 1259, column_index, comment FROM duckdb_columns() madang_c WHERE comment IS NOT NULL AND database_name = '{{DB}}' AND madang_can_see_col(madang_c.schema_name, madang_c.table_name, madang_c.column_name)
UNION ALL SELECT index_oid, 1259, 0, comment FROM duckdb_indexes() WHERE comment IS NOT NULL AND database_name = '{{DB}}'
UNION ALL SELECT sequence_oid, 1259, 0, comment FROM duckdb_sequences() WHERE comment IS NOT NULL AND database_name = '{{DB}}'
UNION ALL SELECT oid, 2615, 0, comment FROM duckdb_schemas() WHERE comment IS NOT NULL AND database_name = '{{DB}}'
@@
CREATE OR REPLACE TEMP MACRO shobj_description(o, cat) AS NULL::VARCHAR
@@
CREATE OR REPLACE TEMP MACRO madang_regproc(s) AS regexp_replace(s, '^pg_catalog\.', '')
@@
-- 'int4'::regtype, 'pg_catalog.text'::regtype -> type oid (compat_rewrite turns the cast into this call)
CREATE OR REPLACE TEMP MACRO madang_regtype(s) AS (SELECT coalesce(
  TRY_CAST(madang_p.madang_a AS BIGINT),
  (SELECT min(madang_x.oid) FROM madang_types madang_x
    WHERE madang_x.typname = regexp_replace(lower(madang_p.madang_a), '^pg_catalog\.', '')
       OR madang_x.fmt = regexp_replace(lower(madang_p.madang_a), '^pg_catalog\.', '')),
  error('type "' || madang_p.madang_a || '" does not exist')) FROM (SELECT s AS madang_a) madang_p)
@@
-- ---------- database / roles ----------
CREATE OR REPLACE TEMP VIEW pg_database AS
SELECT database_oid::BIGINT AS oid, 'madang' AS datname, 10::BIGINT AS datdba, 6 AS encoding, 'c' AS datlocprovider,
  false AS datistemplate, true AS datallowconn, -1 AS datconnlimit, 0 AS datfrozenxid, 0 AS datminmxid, 1663::BIGINT AS dattablespace,
  'C' AS datcollate, 'C' AS datctype, NULL::VARCHAR AS daticulocale, NULL::VARCHAR AS datcollversion, NULL::VARCHAR[] AS datacl
FROM duckdb_databases() WHERE database_name = '{{DB}}'
@@
CREATE OR REPLACE TEMP VIEW pg_roles AS
SELECT r.rolname, r.rolsuper, true AS rolinherit, r.rolsuper AS rolcreaterole, r.rolsuper AS rolcreatedb, true AS rolcanlogin,
  false AS rolreplication, -1 AS rolconnlimit, '********' AS rolpassword, NULL::TIMESTAMPTZ AS rolvaliduntil, r.rolsuper AS rolbypassrls,
  NULL::VARCHAR[] AS rolconfig, r.oid
FROM (SELECT 'admin' AS rolname, CASE WHEN '{{USER}}' = 'admin' THEN '{{SUPERUSER}}' = 'on' ELSE true END AS rolsuper, 10::BIGINT AS oid
      UNION ALL SELECT '{{USER}}', '{{SUPERUSER}}' = 'on', 16384 WHERE '{{USER}}' <> 'admin') r
@@
CREATE OR REPLACE TEMP VIEW pg_user AS SELECT rolname AS usename, oid AS usesysid, rolcreatedb AS usecreatedb, rolsuper AS usesuper,
  rolreplication AS userepl, rolbypassrls AS usebypassrls, '********' AS passwd, rolvaliduntil AS valuntil, rolconfig AS useconfig FROM pg_roles
@@
CREATE OR REPLACE TEMP VIEW pg_auth_members AS SELECT 0::BIGINT AS roleid, 0::BIGINT AS member, 0::BIGINT AS grantor, false AS admin_option WHERE false
@@
-- ---------- always-empty catalogs ----------
CREATE OR REPLACE TEMP VIEW pg_inherits AS SELECT 0::BIGINT AS inhrelid, 0::BIGINT AS inhparent, 0 AS inhseqno, false AS inhdetachpending WHERE false
@@
CREATE OR REPLACE TEMP VIEW pg_policy AS SELECT 0::BIGINT AS oid, ''::VARCHAR AS polname, 0::BIGINT AS polrelid, '' AS polcmd, true AS polpermissive,
  NULL::BIGINT[] AS polroles, NULL::VARCHAR AS polqual, NULL::VARCHAR AS polwithcheck WHERE false
@@
CREATE OR REPLACE TEMP VIEW pg_statistic_ext AS SELECT 0::BIGINT AS oid, 0::BIGINT AS stxrelid, ''::VARCHAR AS stxname, 0::BIGINT AS stxnamespace,
  10::BIGINT AS stxowner, -1 AS stxstattarget, NULL::SMALLINT[] AS stxkeys, NULL::VARCHAR[] AS stxkind, NULL::VARCHAR AS stxexprs WHERE false
@@
CREATE OR REPLACE TEMP VIEW pg_publication AS SELECT 0::BIGINT AS oid, ''::VARCHAR AS pubname, 10::BIGINT AS pubowner, false AS puballtables,
  false AS pubinsert, false AS pubupdate, false AS pubdelete, false AS pubtruncate, false AS pubviaroot WHERE false
@@
CREATE OR REPLACE TEMP VIEW pg_publication_namespace AS SELECT 0::BIGINT AS oid, 0::BIGINT AS pnpubid, 0::BIGINT AS pnnspid WHERE false
@@
CREATE OR REPLACE TEMP VIEW pg_publication_rel AS SELECT 0::BIGINT AS oid, 0::BIGINT AS prpubid, 0::BIGINT AS prrelid, NULL::VARCHAR AS prqual,
  NULL::SMALLINT[] AS prattrs WHERE false
@@
CREATE OR REPLACE TEMP VIEW pg_collation AS SELECT * FROM (VALUES (100::BIGINT, 'default', 11::BIGINT, 10::BIGINT, 'd', true, -1, NULL::VARCHAR, NULL::VARCHAR),
  (950, 'C', 11, 10, 'c', true, -1, 'C', 'C')) t(oid, collname, collnamespace, collowner, collprovider, collisdeterministic, collencoding, collcollate, collctype)
@@
CREATE OR REPLACE TEMP VIEW pg_extension AS SELECT 0::BIGINT AS oid, ''::VARCHAR AS extname, 10::BIGINT AS extowner, 11::BIGINT AS extnamespace,
  false AS extrelocatable, ''::VARCHAR AS extversion, NULL::BIGINT[] AS extconfig, NULL::VARCHAR[] AS extcondition WHERE false
@@
CREATE OR REPLACE TEMP VIEW pg_tablespace AS SELECT * FROM (VALUES (1663::BIGINT, 'pg_default', 10::BIGINT, NULL::VARCHAR[], NULL::VARCHAR[])) t(oid, spcname, spcowner, spcacl, spcoptions)
@@
-- ---------- settings ----------
CREATE OR REPLACE TEMP VIEW pg_settings AS
SELECT name, setting, NULL::VARCHAR AS unit, 'madang' AS category, '' AS short_desc, NULL::VARCHAR AS extra_desc, 'user' AS context,
  'string' AS vartype, 'session' AS source FROM madang_settings
UNION ALL
SELECT name, value, NULL, 'duckdb', description, NULL, 'user',
  CASE WHEN input_type = 'VARCHAR' THEN 'string' WHEN input_type = 'BOOLEAN' THEN 'bool' WHEN input_type IN ('BIGINT','UBIGINT') THEN 'integer' ELSE lower(input_type) END,
  'default' FROM duckdb_settings() WHERE lower(name) NOT IN (SELECT name FROM madang_settings)
@@
-- ---------- functions ----------
CREATE OR REPLACE TEMP VIEW pg_proc AS
SELECT function_oid::BIGINT AS oid, function_name AS proname,
  CASE WHEN internal THEN 11 ELSE (SELECT s.oid FROM duckdb_schemas() s WHERE s.database_name = f.database_name AND s.schema_name = f.schema_name) END::BIGINT AS pronamespace,
  10::BIGINT AS proowner, 0::BIGINT AS prolang, 1 AS procost, 0 AS prorows, 0::BIGINT AS provariadic, 0::BIGINT AS prosupport,
  CASE function_type WHEN 'aggregate' THEN 'a' WHEN 'pragma' THEN 'p' ELSE 'f' END AS prokind,
  false AS prosecdef, false AS proleakproof, false AS proisstrict, function_type IN ('table','table_macro') AS proretset,
  'v' AS provolatile, 'u' AS proparallel, len(parameters)::SMALLINT AS pronargs, 0::SMALLINT AS pronargdefaults,
  CASE WHEN return_type IS NULL THEN 705 ELSE madang_typoid(return_type) END::BIGINT AS prorettype,
  list_transform(parameter_types, x -> madang_typoid(x)::BIGINT) AS proargtypes, NULL::BIGINT[] AS proallargtypes,
  NULL::VARCHAR[] AS proargmodes, parameters AS proargnames, NULL::VARCHAR AS proargdefaults, NULL::BIGINT[] AS protrftypes,
  coalesce(macro_definition, function_name) AS prosrc, NULL::VARCHAR AS probin, macro_definition AS prosqlbody,
  NULL::VARCHAR[] AS proconfig, NULL::VARCHAR[] AS proacl,
  return_type AS madang_rettype, parameters AS madang_args, parameter_types AS madang_argtypes, function_type AS madang_kind
FROM duckdb_functions() f WHERE database_name IN ('system', '{{DB}}')
@@
-- ---------- misc set-returning ----------
CREATE OR REPLACE TEMP MACRO _pg_expandarray(arr) AS unnest(list_transform(generate_series(1, len(arr)), i -> {'x': arr[i], 'n': i::INTEGER}))
@@
CREATE OR REPLACE TEMP MACRO pg_get_keywords() AS TABLE
  SELECT keyword_name AS word,
    CASE keyword_category WHEN 'reserved' THEN 'R' WHEN 'unreserved' THEN 'U' WHEN 'type_function' THEN 'T' ELSE 'C' END AS catcode,
    true AS barelabel,
    CASE keyword_category WHEN 'reserved' THEN 'reserved' WHEN 'unreserved' THEN 'unreserved' WHEN 'type_function' THEN 'reserved (can be function or type name)' ELSE 'unreserved (cannot be function or type name)' END AS catdesc,
    'can be bare label' AS baredesc
  FROM duckdb_keywords()
@@
CREATE OR REPLACE TEMP MACRO format_type(typoid, typmod) AS (SELECT
  CASE WHEN madang_p.madang_a IS NULL THEN NULL
       WHEN madang_p.madang_a = 1700 AND madang_p.madang_m >= 4 THEN 'numeric(' || ((madang_p.madang_m - 4) // 65536) || ',' || ((madang_p.madang_m - 4) % 65536) || ')'
       ELSE coalesce((SELECT madang_x.fmt FROM madang_types madang_x WHERE madang_x.oid = madang_p.madang_a), '???') END
  FROM (SELECT typoid AS madang_a, typmod AS madang_m) madang_p)
@@
CREATE OR REPLACE TEMP MACRO pg_get_constraintdef(coid) AS (SELECT
    CASE WHEN madang_x.contype IN ('p','u') THEN CASE madang_x.contype WHEN 'p' THEN 'PRIMARY KEY (' ELSE 'UNIQUE (' END ||
           (SELECT string_agg(madang_at.attname, ', ' ORDER BY madang_k.i) FROM (SELECT unnest(madang_x.conkey) AS n, generate_subscripts(madang_x.conkey, 1) AS i) madang_k
             JOIN pg_attribute madang_at ON madang_at.attrelid = madang_x.conrelid AND madang_at.attnum = madang_k.n) || ')'
         ELSE madang_x.madang_def END
  FROM (SELECT coid AS madang_a) madang_p, pg_constraint madang_x WHERE madang_x.oid = madang_p.madang_a),
 (coid, pretty) AS (SELECT
    CASE WHEN madang_x.contype IN ('p','u') THEN CASE madang_x.contype WHEN 'p' THEN 'PRIMARY KEY (' ELSE 'UNIQUE (' END ||
           (SELECT string_agg(madang_at.attname, ', ' ORDER BY madang_k.i) FROM (SELECT unnest(madang_x.conkey) AS n, generate_subscripts(madang_x.conkey, 1) AS i) madang_k
             JOIN pg_attribute madang_at ON madang_at.attrelid = madang_x.conrelid AND madang_at.attnum = madang_k.n) || ')'
         ELSE madang_x.madang_def END
  FROM (SELECT coid AS madang_a) madang_p, pg_constraint madang_x WHERE madang_x.oid = madang_p.madang_a)
@@
CREATE OR REPLACE TEMP MACRO pg_get_indexdef(ioid) AS (SELECT coalesce(
  (SELECT 'CREATE UNIQUE INDEX ' || madang_x.idxname || ' ON ' || madang_x.schema_name || '.' || madang_x.table_name || ' USING btree (' || array_to_string(madang_x.constraint_column_names, ', ') || ')'
     FROM madang_conindex madang_x WHERE madang_x.idxoid = madang_p.madang_a),
  (SELECT madang_y.sql FROM duckdb_indexes() madang_y WHERE madang_y.index_oid = madang_p.madang_a)) FROM (SELECT ioid AS madang_a) madang_p),
 (ioid, col, pretty) AS (SELECT coalesce(
  (SELECT CASE WHEN madang_p.madang_c = 0 THEN 'CREATE UNIQUE INDEX ' || madang_x.idxname || ' ON ' || madang_x.schema_name || '.' || madang_x.table_name || ' USING btree (' || array_to_string(madang_x.constraint_column_names, ', ') || ')'
               ELSE madang_x.constraint_column_names[madang_p.madang_c] END FROM madang_conindex madang_x WHERE madang_x.idxoid = madang_p.madang_a),
  (SELECT CASE WHEN madang_p.madang_c = 0 THEN madang_y.sql ELSE NULL END FROM duckdb_indexes() madang_y WHERE madang_y.index_oid = madang_p.madang_a))
  FROM (SELECT ioid AS madang_a, col AS madang_c) madang_p)
@@
CREATE OR REPLACE TEMP MACRO obj_description(o) AS (SELECT min(madang_x.description) FROM (SELECT o AS madang_a) madang_p, pg_description madang_x
   WHERE madang_x.objoid = madang_p.madang_a AND madang_x.objsubid = 0),
 (o, cat) AS (SELECT min(madang_x.description) FROM (SELECT o AS madang_a, cat AS madang_c) madang_p, pg_description madang_x
   WHERE madang_x.objoid = madang_p.madang_a AND madang_x.objsubid = 0
     AND madang_x.classoid = CASE madang_p.madang_c WHEN 'pg_class' THEN 1259 WHEN 'pg_namespace' THEN 2615 WHEN 'pg_proc' THEN 1255 WHEN 'pg_type' THEN 1247 ELSE -1 END)
@@
CREATE OR REPLACE TEMP MACRO col_description(o, n) AS (SELECT min(madang_x.description) FROM (SELECT o AS madang_a, n AS madang_n) madang_p, pg_description madang_x
   WHERE madang_x.objoid = madang_p.madang_a AND madang_x.objsubid = madang_p.madang_n AND madang_x.classoid = 1259)
@@
CREATE OR REPLACE TEMP MACRO madang_regclass(s) AS (SELECT coalesce(
  TRY_CAST(madang_p.madang_a AS BIGINT),
  (SELECT min(madang_c.oid) FROM pg_class madang_c JOIN pg_namespace madang_n ON madang_n.oid = madang_c.relnamespace
    WHERE madang_c.relname = CASE WHEN madang_p.madang_a LIKE '%.%' THEN split_part(madang_p.madang_a, '.', 2) ELSE madang_p.madang_a END
      AND CASE WHEN madang_p.madang_a LIKE '%.%' THEN madang_n.nspname = split_part(madang_p.madang_a, '.', 1)
               ELSE madang_n.nspname IN ('pg_catalog', current_schema()) END),
  error('relation "' || madang_p.madang_a || '" does not exist')) FROM (SELECT s AS madang_a) madang_p)
@@
CREATE OR REPLACE TEMP MACRO madang_regclass_name(o) AS (SELECT coalesce(
  (SELECT CASE WHEN madang_n.nspname IN ('pg_catalog', current_schema()) THEN madang_c.relname ELSE madang_n.nspname || '.' || madang_c.relname END
     FROM pg_class madang_c JOIN pg_namespace madang_n ON madang_n.oid = madang_c.relnamespace WHERE madang_c.oid = madang_p.madang_a),
  madang_p.madang_a::VARCHAR) FROM (SELECT o AS madang_a) madang_p)
@@
CREATE OR REPLACE TEMP MACRO madang_nspname(o) AS (SELECT min(madang_n.nspname) FROM (SELECT o AS madang_a) madang_p, pg_namespace madang_n WHERE madang_n.oid = madang_p.madang_a)
@@
CREATE OR REPLACE TEMP MACRO pg_get_function_result(o) AS (SELECT min(CASE WHEN madang_x.madang_kind IN ('table','table_macro') THEN 'TABLE' ELSE coalesce(lower(madang_x.madang_rettype), 'unknown') END)
  FROM (SELECT o AS madang_a) madang_p, pg_proc madang_x WHERE madang_x.oid = madang_p.madang_a)
@@
CREATE OR REPLACE TEMP MACRO pg_get_function_arguments(o) AS (SELECT min(array_to_string(list_transform(list_zip(madang_x.madang_args, madang_x.madang_argtypes), z -> z[1] || coalesce(' ' || lower(z[2]), '')), ', '))
  FROM (SELECT o AS madang_a) madang_p, pg_proc madang_x WHERE madang_x.oid = madang_p.madang_a)
@@
CREATE OR REPLACE TEMP MACRO pg_get_function_identity_arguments(o) AS (SELECT min(array_to_string(list_transform(list_zip(madang_x.madang_args, madang_x.madang_argtypes), z -> z[1] || coalesce(' ' || lower(z[2]), '')), ', '))
  FROM (SELECT o AS madang_a) madang_p, pg_proc madang_x WHERE madang_x.oid = madang_p.madang_a)
@@
-- ---------- sizes (psql \dt+, \l+; DBeaver) ----------
-- DuckDB keeps no per-table byte counts; sizes are estimated from row counts
-- (estimated_size rows x column count x 8 bytes), the database from its blocks.
CREATE OR REPLACE TEMP MACRO pg_table_size(x) AS (SELECT min(CASE WHEN madang_has_row_policies(madang_x.schema_name, madang_x.table_name) THEN 0 ELSE madang_x.estimated_size * madang_x.column_count * 8 END)::BIGINT
  FROM (SELECT x AS madang_a) madang_p, duckdb_tables() madang_x WHERE madang_x.table_oid = madang_p.madang_a)
@@
CREATE OR REPLACE TEMP MACRO pg_relation_size(x) AS pg_table_size(x), (x, fork) AS pg_table_size(x)
@@
CREATE OR REPLACE TEMP MACRO pg_total_relation_size(x) AS pg_table_size(x)
@@
CREATE OR REPLACE TEMP MACRO pg_indexes_size(x) AS 0::BIGINT
@@
CREATE OR REPLACE TEMP MACRO pg_database_size(x) AS (SELECT sum(total_blocks * block_size)::BIGINT FROM pragma_database_size())
@@
CREATE OR REPLACE TEMP MACRO pg_size_pretty(x) AS CASE WHEN x IS NULL THEN NULL
  WHEN x < 10240 THEN x::BIGINT || ' bytes'
  WHEN x < 10485760 THEN round(x / 1024)::BIGINT || ' kB'
  WHEN x < 10737418240 THEN round(x / 1048576)::BIGINT || ' MB'
  ELSE round(x / 1073741824)::BIGINT || ' GB' END
@@
CREATE OR REPLACE TEMP MACRO pg_tablespace_location(x) AS ''
@@
CREATE OR REPLACE TEMP MACRO pg_postmaster_start_time() AS now()
@@
-- ---------- information_schema, filtered to what the user may see ----------
-- compat_rewrite turns information_schema.X into madang_is_X for these views;
-- the catalog is reported as "madang" and DuckDB's types as PostgreSQL's names.
CREATE OR REPLACE TEMP VIEW madang_is_tables AS
SELECT * REPLACE ('madang' AS table_catalog, CASE WHEN table_schema = 'main' AND false THEN 'public' ELSE table_schema END AS table_schema)
FROM information_schema.tables madang_t
WHERE madang_t.table_catalog = '{{DB}}' AND madang_can_see(madang_t.table_schema, madang_t.table_name)
@@
CREATE OR REPLACE TEMP VIEW madang_is_columns AS
SELECT * REPLACE ('madang' AS table_catalog, coalesce(format_type(madang_typoid(data_type), NULL), lower(data_type)) AS data_type)
FROM information_schema.columns madang_c
WHERE madang_c.table_catalog = '{{DB}}' AND madang_can_see_col(madang_c.table_schema, madang_c.table_name, madang_c.column_name)
@@
CREATE OR REPLACE TEMP VIEW madang_is_views AS
SELECT * REPLACE ('madang' AS table_catalog) FROM information_schema.views madang_v
WHERE madang_v.table_catalog = '{{DB}}' AND madang_can_see(madang_v.table_schema, madang_v.table_name)
@@
CREATE OR REPLACE TEMP VIEW madang_is_schemata AS
SELECT * REPLACE ('madang' AS catalog_name) FROM information_schema.schemata WHERE catalog_name = '{{DB}}'
@@
CREATE OR REPLACE TEMP VIEW madang_is_table_constraints AS
SELECT * REPLACE ('madang' AS constraint_catalog, 'madang' AS table_catalog) FROM information_schema.table_constraints madang_k
WHERE madang_k.table_catalog = '{{DB}}' AND madang_can_see(madang_k.table_schema, madang_k.table_name)
@@
CREATE OR REPLACE TEMP VIEW madang_is_key_column_usage AS
SELECT * REPLACE ('madang' AS constraint_catalog, 'madang' AS table_catalog) FROM information_schema.key_column_usage madang_k
WHERE madang_k.table_catalog = '{{DB}}' AND madang_can_see(madang_k.table_schema, madang_k.table_name)
@@
CREATE OR REPLACE TEMP VIEW madang_is_referential_constraints AS
SELECT * REPLACE ('madang' AS constraint_catalog, 'madang' AS unique_constraint_catalog)
FROM information_schema.referential_constraints WHERE constraint_catalog = '{{DB}}'
