/* demo.c — generates the demo data set in SQL at first start.
 *
 * Deterministic: every value is a function of the row number (no random()),
 * so every install shows the same numbers and tests can assert on them.
 * Sizes: 10 000 customers, 20 000 accounts, 200 000 orders, 1 000 000 trades. */
#include "demo/demo.h"

#include <stdio.h>

static const char *demo_sql[] = {
    "BEGIN",
    "CREATE TABLE customers ("
    "  id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, email VARCHAR NOT NULL,"
    "  phone VARCHAR NOT NULL, country VARCHAR NOT NULL, birth_date DATE NOT NULL,"
    "  created_at TIMESTAMP NOT NULL)",
    "INSERT INTO customers SELECT i,"
    "  f || ' ' || l,"
    "  lower(f) || '.' || lower(l) || i || '@example.com',"
    "  '+82-10-' || lpad(((i * 7919) % 10000)::VARCHAR, 4, '0') || '-' ||"
    "      lpad(((i * 104729) % 10000)::VARCHAR, 4, '0'),"
    "  ['KR','KR','KR','KR','JP','US','SG','VN','DE','GB'][1 + (i * 13) % 10],"
    "  DATE '1960-01-01' + ((i * 7841) % 16000)::INTEGER,"
    "  TIMESTAMP '2023-01-01 00:00:00' + to_seconds((i * 2657) % 60000000)"
    " FROM (SELECT i,"
    "  ['Minji','Jisoo','Hyunwoo','Seoyeon','Jiho','Yuna','Dongha','Sora','Taeyang','Haeun',"
    "   'Kenji','Emma','Liam','Mai','Lukas','Olivia','Noah','Ava','Duc','Sofia'][1 + (i * 7) % 20] AS f,"
    "  ['Kim','Lee','Park','Choi','Jung','Kang','Cho','Yoon','Jang','Lim',"
    "   'Tanaka','Smith','Nguyen','Muller','Brown','Tan','Sato','Garcia','Wong','Han'][1 + (i * 11) % 20] AS "
    "l"
    " FROM range(1, 10001) r(i))",
    "CREATE TABLE accounts ("
    "  id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, currency VARCHAR NOT NULL,"
    "  balance DECIMAL(20,8) NOT NULL, opened_at TIMESTAMP NOT NULL)",
    "INSERT INTO accounts SELECT i, 1 + (i * 7) % 10000,"
    "  ['KRW','BTC','ETH','USDT','XRP'][1 + i % 5],"
    "  ((i * 982451653) % 100000000)::DECIMAL(20,8) / 1000,"
    "  TIMESTAMP '2023-01-01 00:00:00' + to_seconds((i * 3571) % 60000000)"
    " FROM range(1, 20001) r(i)",
    "CREATE TABLE orders ("
    "  id BIGINT PRIMARY KEY, account_id INTEGER NOT NULL, symbol VARCHAR NOT NULL,"
    "  side VARCHAR NOT NULL, order_type VARCHAR NOT NULL, price DECIMAL(18,2) NOT NULL,"
    "  quantity DECIMAL(20,8) NOT NULL, status VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)",
    "INSERT INTO orders SELECT i, 1 + (i * 31) % 20000,"
    "  ['BTC-KRW','ETH-KRW','XRP-KRW','SOL-KRW','DOGE-KRW'][1 + i % 5],"
    "  CASE WHEN i % 2 = 0 THEN 'buy' ELSE 'sell' END,"
    "  CASE WHEN i % 3 = 0 THEN 'market' ELSE 'limit' END,"
    "  ([90000000, 4000000, 800, 200000, 150][1 + i % 5] * (900 + (i * 37) % 200) / 1000)::DECIMAL(18,2),"
    "  (((i * 7919) % 100000) + 1)::DECIMAL(20,8) / 10000,"
    "  ['filled','filled','filled','partially_filled','cancelled'][1 + (i * 3) % 5],"
    "  TIMESTAMP '2024-01-01 00:00:00' + to_seconds(i * 150)"
    " FROM range(1, 200001) r(i)",
    "CREATE TABLE trades ("
    "  id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL, symbol VARCHAR NOT NULL,"
    "  price DECIMAL(18,2) NOT NULL, quantity DECIMAL(20,8) NOT NULL, fee DECIMAL(18,8) NOT NULL,"
    "  executed_at TIMESTAMP NOT NULL)",
    "INSERT INTO trades SELECT i, o,"
    "  ['BTC-KRW','ETH-KRW','XRP-KRW','SOL-KRW','DOGE-KRW'][1 + o % 5],"
    "  ([90000000, 4000000, 800, 200000, 150][1 + o % 5] * (900 + (i * 53) % 200) / 1000)::DECIMAL(18,2),"
    "  (((i * 6151) % 50000) + 1)::DECIMAL(20,8) / 10000,"
    "  (((i * 6151) % 50000) + 1)::DECIMAL(18,8) / 20000000,"
    "  TIMESTAMP '2024-01-01 00:00:00' + to_seconds(o * 150 + i % 150)"
    " FROM (SELECT i, 1 + (i - 1) // 5 AS o FROM range(1, 1000001) r(i))",
    "COMMENT ON TABLE customers IS 'Exchange customers (PII: name, email, phone)'",
    "COMMENT ON TABLE accounts IS 'One wallet per customer and currency'",
    "COMMENT ON TABLE orders IS 'Orders placed on the exchange'",
    "COMMENT ON TABLE trades IS 'Executions of orders (five per order)'",
    "COMMIT",
};

bool demo_load(duckdb_connection c, char *err, size_t errlen)
{
    duckdb_result r;
    bool exists = false;
    if (duckdb_query(
            c, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'trades'",
            &r) == DuckDBSuccess)
        exists = duckdb_value_int64(&r, 0, 0) > 0;
    duckdb_destroy_result(&r);
    if (exists) return true;
    for (size_t i = 0; i < ARRAY_LEN(demo_sql); i++) {
        if (duckdb_query(c, demo_sql[i], &r) != DuckDBSuccess) {
            snprintf(err, errlen, "demo data statement %zu failed: %s", i, duckdb_result_error(&r));
            duckdb_destroy_result(&r);
            duckdb_query(c, "ROLLBACK", &r);
            duckdb_destroy_result(&r);
            return false;
        }
        duckdb_destroy_result(&r);
    }
    return true;
}
