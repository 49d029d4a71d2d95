-- The benchmark star schema (bench/compare.py), PostgreSQL dialect: the same
-- rows as duckdb.sql (madang and in-process DuckDB), then ANALYZE.
-- {FACT} fact rows, {CUST} customers; deterministic (no random()).
CREATE TABLE date_dim (d_date_sk INTEGER, d_date DATE, d_year INTEGER, d_month INTEGER, d_dow INTEGER);
INSERT INTO date_dim SELECT CAST(i AS INTEGER), DATE '2023-01-01' + CAST(i AS INTEGER),
  CAST(EXTRACT(YEAR FROM DATE '2023-01-01' + CAST(i AS INTEGER)) AS INTEGER),
  CAST(EXTRACT(MONTH FROM DATE '2023-01-01' + CAST(i AS INTEGER)) AS INTEGER),
  CAST(EXTRACT(DOW FROM DATE '2023-01-01' + CAST(i AS INTEGER)) AS INTEGER) FROM generate_series(0::bigint, (1096) - 1) AS t(i);
CREATE TABLE customer (c_sk INTEGER PRIMARY KEY, c_name VARCHAR, c_region VARCHAR, c_segment VARCHAR, c_since DATE);
INSERT INTO customer SELECT CAST(i AS INTEGER), 'customer#' || i, 'region' || (i % 20), 'segment' || (i % 5),
  DATE '2015-01-01' + CAST(i % 3000 AS INTEGER) FROM generate_series(0::bigint, ({CUST}) - 1) AS t(i);
CREATE TABLE product (p_sk INTEGER, p_name VARCHAR, p_category VARCHAR, p_brand VARCHAR, p_price DECIMAL(10,2));
INSERT INTO product SELECT CAST(i AS INTEGER), 'product#' || i, 'category' || (i % 50), 'brand' || (i % 400),
  CAST(1 + (i * 37) % 10000 * 0.01 AS DECIMAL(10,2)) FROM generate_series(0::bigint, (10000) - 1) AS t(i);
CREATE TABLE store (s_sk INTEGER, s_city VARCHAR, s_state VARCHAR);
INSERT INTO store SELECT CAST(i AS INTEGER), 'city' || i, 'state' || (i % 25) FROM generate_series(0::bigint, (200) - 1) AS t(i);
CREATE TABLE sales (id BIGINT, date_sk INTEGER, customer_sk INTEGER, product_sk INTEGER, store_sk INTEGER,
  quantity INTEGER, price DECIMAL(12,2), discount DOUBLE PRECISION, note VARCHAR, ts TIMESTAMP);
INSERT INTO sales SELECT i, CAST((i * 7) % 1096 AS INTEGER), CAST((i * 7919) % {CUST} AS INTEGER),
  CAST((i * 104729) % 10000 AS INTEGER), CAST((i * 31) % 200 AS INTEGER), CAST(1 + i % 10 AS INTEGER),
  CAST((i * 13) % 100000 * 0.01 AS DECIMAL(12,2)), CAST((i % 7) * 0.01 AS DOUBLE PRECISION), 'note ' || (i % 1000),
  TIMESTAMP '2023-01-01 00:00:00' + ((i * 7) % 1096) * INTERVAL '1 day' + (i % 86400) * INTERVAL '1 second'
  FROM generate_series(0::bigint, ({FACT}) - 1) AS t(i);
CREATE TABLE b1 AS SELECT id, discount, price, note, ts FROM sales WHERE id < {B1};
ANALYZE;
