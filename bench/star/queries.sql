-- B2: twelve analytic queries over the star schema, the same text for madang,
-- in-process DuckDB and PostgreSQL. Each ends with ";" at the end of a line.
-- Q1 date bucketing: revenue by year and month
SELECT d.d_year, d.d_month, sum(s.quantity * s.price) AS revenue, count(*) AS n
FROM sales s JOIN date_dim d ON d.d_date_sk = s.date_sk GROUP BY d.d_year, d.d_month ORDER BY 1, 2;
-- Q2 top-N: the ten best-selling products
SELECT p.p_name, sum(s.quantity * s.price) AS revenue FROM sales s JOIN product p ON p.p_sk = s.product_sk
GROUP BY p.p_name ORDER BY revenue DESC, p.p_name LIMIT 10;
-- Q3 count distinct: customers per state
SELECT st.s_state, count(DISTINCT s.customer_sk) AS customers FROM sales s JOIN store st ON st.s_sk = s.store_sk
GROUP BY st.s_state ORDER BY 1;
-- Q4 3-way join: category by region
SELECT p.p_category, c.c_region, sum(s.quantity * s.price) AS revenue, avg(s.discount) AS discount
FROM sales s JOIN product p ON p.p_sk = s.product_sk JOIN customer c ON c.c_sk = s.customer_sk
GROUP BY p.p_category, c.c_region ORDER BY 1, 2;
-- Q5 4-way join with a filter on the date dimension
SELECT st.s_state, c.c_segment, count(*) AS sales, sum(s.price) AS amount
FROM sales s JOIN date_dim d ON d.d_date_sk = s.date_sk JOIN customer c ON c.c_sk = s.customer_sk
JOIN store st ON st.s_sk = s.store_sk WHERE d.d_year = 2024 AND d.d_month BETWEEN 4 AND 9
GROUP BY st.s_state, c.c_segment ORDER BY 1, 2;
-- Q6 5-way join: the whole star
SELECT d.d_year, p.p_category, st.s_state, c.c_segment, sum(s.quantity * s.price) AS revenue
FROM sales s JOIN date_dim d ON d.d_date_sk = s.date_sk JOIN product p ON p.p_sk = s.product_sk
JOIN store st ON st.s_sk = s.store_sk JOIN customer c ON c.c_sk = s.customer_sk
WHERE p.p_price > 50 GROUP BY d.d_year, p.p_category, st.s_state, c.c_segment ORDER BY 5 DESC, 1, 2, 3, 4 LIMIT 100;
-- Q7 window: the three best products of each category
SELECT p_category, p_name, revenue, rnk FROM (
  SELECT p.p_category, p.p_name, sum(s.quantity * s.price) AS revenue,
         rank() OVER (PARTITION BY p.p_category ORDER BY sum(s.quantity * s.price) DESC, p.p_name) AS rnk
  FROM sales s JOIN product p ON p.p_sk = s.product_sk GROUP BY p.p_category, p.p_name) ranked
WHERE rnk <= 3 ORDER BY 1, 4;
-- Q8 window: running revenue by month and the month-over-month change
SELECT month, revenue, sum(revenue) OVER (ORDER BY month) AS running,
       revenue - lag(revenue) OVER (ORDER BY month) AS change
FROM (SELECT date_trunc('month', ts) AS month, sum(quantity * price) AS revenue FROM sales GROUP BY 1) m ORDER BY 1;
-- Q9 date bucketing: weekly volume
SELECT date_trunc('week', ts) AS week, count(*) AS n, avg(discount) AS discount, max(price) AS top
FROM sales GROUP BY 1 ORDER BY 1;
-- Q10 count distinct with a filter: products per customer segment
SELECT c.c_segment, count(DISTINCT s.product_sk) AS products, count(DISTINCT s.customer_sk) AS customers
FROM sales s JOIN customer c ON c.c_sk = s.customer_sk WHERE s.quantity > 5 GROUP BY c.c_segment ORDER BY 1;
-- Q11 top-N: the twenty biggest customers
SELECT s.customer_sk, sum(s.quantity * s.price) AS spent FROM sales s GROUP BY s.customer_sk
ORDER BY spent DESC, s.customer_sk LIMIT 20;
-- Q12 share of total: each region's part of revenue
SELECT c_region, revenue, revenue / sum(revenue) OVER () AS share FROM (
  SELECT c.c_region, sum(s.quantity * s.price) AS revenue FROM sales s JOIN customer c ON c.c_sk = s.customer_sk
  GROUP BY c.c_region) r ORDER BY 1;
