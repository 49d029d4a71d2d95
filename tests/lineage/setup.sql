-- The lineage corpus's schema: a small shop (tests/lineage/corpus.txt).
CREATE TABLE regions (code VARCHAR PRIMARY KEY, name VARCHAR, country VARCHAR);
CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR, email VARCHAR, region VARCHAR, created_at TIMESTAMP);
CREATE TABLE products (id INTEGER PRIMARY KEY, name VARCHAR, category VARCHAR, price DECIMAL(10,2));
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, status VARCHAR, amount DECIMAL(12,2), ordered_at TIMESTAMP);
CREATE TABLE order_items (order_id INTEGER, product_id INTEGER, qty INTEGER, unit_price DECIMAL(10,2));
CREATE TABLE payments (order_id INTEGER, paid DECIMAL(12,2), method VARCHAR, paid_at TIMESTAMP);
CREATE TABLE archive (id INTEGER, customer_id INTEGER, amount DECIMAL(12,2), note VARCHAR);
CREATE TABLE customer_stats (customer_id INTEGER, orders BIGINT, total DECIMAL(38,2), last_order TIMESTAMP);
CREATE TABLE contacts (id INTEGER, email VARCHAR, name VARCHAR);
INSERT INTO regions VALUES ('KR', 'Korea', 'KR'), ('JP', 'Japan', 'JP');
INSERT INTO customers VALUES (1, 'kim', 'kim@example.com', 'KR', TIMESTAMP '2026-01-01'), (2, 'sato', 'sato@example.com', 'JP', TIMESTAMP '2026-02-01');
INSERT INTO products VALUES (1, 'pen', 'office', 2.50), (2, 'desk', 'furniture', 120.00);
INSERT INTO orders VALUES (10, 1, 'paid', 125.00, TIMESTAMP '2026-03-01'), (11, 2, 'open', 2.50, TIMESTAMP '2026-03-02');
INSERT INTO order_items VALUES (10, 1, 2, 2.50), (10, 2, 1, 120.00), (11, 1, 1, 2.50);
INSERT INTO payments VALUES (10, 125.00, 'card', TIMESTAMP '2026-03-01');
INSERT INTO customer_stats VALUES (1, 0, 0, NULL);
INSERT INTO contacts VALUES (1, 'old@example.com', 'kim');
