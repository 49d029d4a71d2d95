-- Differential corpus for row policies and column masks (tests/integration/test_policies.py,
-- tests/java/PolicyDiffTest.java).
--
-- Each query runs as alice on a server with the demo data and these policies:
--   customers: row policy "country IN (SELECT country FROM user_regions WHERE user_name = current_user)"
--              (alice -> KR), email masked by mask_email, phone masked by mask_show_last(v, 4) via tag pii
--   orders:    row policy keeping only orders of accounts whose customer is in KR
--   accounts:  no policy, no mask
-- and as admin on a server whose tables hold exactly those rows with the masks already applied.
-- Both must give the same rows (multiset unless marked "-- @ordered": a total ORDER BY) or the
-- same error (SQLSTATE and message).
--
-- Format: queries separated by a line holding only ";;". Lines starting with "--" are not sent;
-- "-- @ordered" marks a query whose result order is fully determined.
-- Hidden rows used below: customers 2 (SG), 3 (GB), 5 (US); orders 1..5 (non-KR customers).
-- Visible: customers 1, 4, 7 (KR); order 6.
;;
-- q001 count
SELECT count(*) FROM customers
;;
-- q002 every visible row, masked
SELECT * FROM customers
;;
-- @ordered
-- q003 first rows by id
SELECT id, name, email, phone, country FROM customers ORDER BY id LIMIT 20
;;
-- q004 group by the filtered column
SELECT country, count(*) FROM customers GROUP BY country
;;
-- q005 group by a masked column (masked values collide)
SELECT email, count(*) FROM customers GROUP BY email HAVING count(*) > 1
;;
-- @ordered
-- q006 group + order by a masked column
SELECT email, count(*) AS n FROM customers GROUP BY email ORDER BY n DESC, email
;;
-- @ordered
-- q007 order by a masked column
SELECT id, phone FROM customers ORDER BY phone, id LIMIT 10
;;
-- q008 LIKE on a masked column
SELECT id FROM customers WHERE email LIKE 's%'
;;
-- q009 LIKE matching the mask's shape
SELECT count(*) FROM customers WHERE email LIKE '%***@%'
;;
-- q010 ILIKE on a masked column
SELECT count(*) FROM customers WHERE email ILIKE 'S***%'
;;
-- q011 LIKE on the unmasked value must find nothing
SELECT count(*) FROM customers WHERE email LIKE 'sora%'
;;
-- q012 regexp on a masked column
SELECT count(*) FROM customers WHERE regexp_matches(phone, '^\*+[0-9]{4}$')
;;
-- q013 prefix of the real phone must not match
SELECT count(*) FROM customers WHERE phone LIKE '+82%'
;;
-- q014 equality with a real value must not match
SELECT count(*) FROM customers WHERE phone = '+82-10-7919-4729' OR email = 'sora.smith1@example.com'
;;
-- q015 string function of a masked column in WHERE
SELECT id FROM customers WHERE right(phone, 4) = '4729'
;;
-- q016 min/max of masked columns
SELECT min(email), max(email), min(phone), max(phone) FROM customers
;;
-- q017 min/max of the filtered and other columns
SELECT min(id), max(id), min(country), max(country), min(birth_date), max(created_at) FROM customers
;;
-- q018 count distinct
SELECT count(DISTINCT email), count(DISTINCT phone), count(DISTINCT country), count(DISTINCT name) FROM customers
;;
-- q019 distinct on the filtered column
SELECT DISTINCT country FROM customers
;;
-- q020 distinct of an expression over a masked column
SELECT DISTINCT left(email, 1) AS initial FROM customers
;;
-- q021 string functions of masked columns
SELECT id, length(email), length(phone), upper(email), lower(phone), substr(email, 1, 5),
       replace(email, '*', '#'), split_part(email, '@', 2), reverse(phone), email || '/' || phone
FROM customers WHERE id < 100
;;
-- q022 ordered string_agg of masked values
SELECT string_agg(email, ',' ORDER BY id) FROM customers WHERE id < 50
;;
-- q023 self-join on a masked column
SELECT a.id, b.id FROM customers a JOIN customers b ON a.email = b.email AND a.id < b.id WHERE a.id < 40 AND b.id < 80
;;
-- q024 join with an unprotected table
SELECT count(*) FROM customers c JOIN accounts a ON a.customer_id = c.id
;;
-- q025 join, group by all
SELECT c.country, a.currency, count(*), sum(a.balance) FROM customers c JOIN accounts a ON a.customer_id = c.id GROUP BY ALL
;;
-- q026 left join from the unprotected side
SELECT count(*), count(c.id), count(c.email) FROM accounts a LEFT JOIN customers c ON c.id = a.customer_id
;;
-- q027 NOT EXISTS against the protected table
SELECT count(*) FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = a.customer_id)
;;
-- q028 EXISTS against the protected table
SELECT count(*) FROM accounts a WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = a.customer_id)
;;
-- q029 count of the second protected table
SELECT count(*) FROM orders
;;
-- q030 aggregates over orders
SELECT status, count(*), sum(quantity), min(price), max(price) FROM orders GROUP BY status
;;
-- q031 three-way join grouped by a masked column
SELECT c.email, count(*) FROM orders o JOIN accounts a ON a.id = o.account_id JOIN customers c ON c.id = a.customer_id GROUP BY c.email
;;
-- @ordered
-- q032 OFFSET probing
SELECT o.id, o.price, o.status FROM orders o ORDER BY o.id LIMIT 5 OFFSET 100
;;
-- @ordered
-- q033 the first visible order
SELECT id, account_id FROM orders ORDER BY id LIMIT 1
;;
-- q034 a hidden order by key
SELECT count(*) FROM orders WHERE id = 1
;;
-- q035 IN list mixing hidden and visible keys
SELECT count(*) FROM customers WHERE id IN (1, 2, 3, 4, 5)
;;
-- q036 IN list returning masked columns
SELECT id, email, phone FROM customers WHERE id IN (1, 2, 3, 4, 5, 6, 7)
;;
-- q037 NOT IN on the filtered column
SELECT count(*) FROM customers WHERE country NOT IN ('KR')
;;
-- @ordered
-- q038 window over the whole visible table
SELECT id, row_number() OVER (ORDER BY id) AS rn, count(*) OVER () AS total FROM customers ORDER BY id LIMIT 10
;;
-- @ordered
-- q039 lag/lead of masked columns
SELECT id, email, lag(email) OVER (ORDER BY id), lead(phone) OVER (ORDER BY id) FROM customers WHERE id < 60 ORDER BY id
;;
-- q040 partition by a masked column
SELECT id, email, rank() OVER (PARTITION BY email ORDER BY id) AS r FROM customers WHERE id < 200
;;
-- @ordered
-- q041 running sum over a protected table
SELECT account_id, id, sum(quantity) OVER (PARTITION BY account_id ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run
FROM orders WHERE account_id < 400 ORDER BY account_id, id
;;
-- q042 ntile
SELECT ntile(4) OVER (ORDER BY id) AS q, id FROM customers
;;
-- q043 scalar subqueries
SELECT (SELECT count(*) FROM customers), (SELECT max(email) FROM customers), (SELECT count(*) FROM orders)
;;
-- q044 correlated scalar subquery returning a masked value
SELECT a.id, (SELECT c.email FROM customers c WHERE c.id = a.customer_id) AS email FROM accounts a WHERE a.id < 300
;;
-- q045 correlated count
SELECT c.id, (SELECT count(*) FROM accounts a WHERE a.customer_id = c.id) AS n FROM customers c WHERE c.id < 200
;;
-- q046 IN subquery
SELECT count(*) FROM accounts a WHERE a.customer_id IN (SELECT id FROM customers)
;;
-- q047 NOT IN subquery on a masked predicate
SELECT count(*) FROM accounts WHERE customer_id NOT IN (SELECT id FROM customers WHERE email LIKE 'a%')
;;
-- q048 CTE
WITH k AS (SELECT * FROM customers WHERE id < 500) SELECT count(*), max(email), min(phone) FROM k
;;
-- q049 nested CTEs
WITH a AS (SELECT id, email FROM customers), b AS (SELECT * FROM a WHERE id % 2 = 0),
     c AS (SELECT email, count(*) AS n FROM b GROUP BY email)
SELECT * FROM c
;;
-- q050 CTE shadowing the protected table's name
WITH customers AS (SELECT 1 AS id, 'plain@example.com' AS email) SELECT * FROM customers
;;
-- q051 CTE shadowing the name, reading the real table qualified
WITH customers AS (SELECT * FROM main.customers WHERE id < 100) SELECT count(*), min(email), max(phone) FROM customers
;;
-- q052 CTE named after another protected table
WITH orders AS (SELECT * FROM customers) SELECT count(*), count(DISTINCT email) FROM orders
;;
-- q053 recursive CTE probing ids
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 8)
SELECT n, (SELECT email FROM customers WHERE id = n) AS email FROM r
;;
-- q054 UNION of masked columns
SELECT email FROM customers WHERE id < 50 UNION SELECT phone FROM customers WHERE id < 50
;;
-- q055 UNION ALL
SELECT count(*) FROM (SELECT id FROM customers UNION ALL SELECT customer_id FROM accounts) t
;;
-- q056 INTERSECT
SELECT customer_id FROM accounts INTERSECT SELECT id FROM customers
;;
-- q057 EXCEPT
SELECT id FROM customers WHERE id < 300 EXCEPT SELECT customer_id FROM accounts
;;
-- q058 EXCEPT on the filtered column
SELECT country FROM customers EXCEPT SELECT 'KR'
;;
-- q059 CASE over masked columns
SELECT CASE WHEN email LIKE 's%' THEN 'S' WHEN phone LIKE '%1' THEN 'one' ELSE 'other' END AS k, count(*)
FROM customers GROUP BY 1
;;
-- q060 casts
SELECT CAST(id AS VARCHAR) || email, CAST(birth_date AS VARCHAR), created_at::DATE, phone::VARCHAR(20), CAST(email AS BLOB)
FROM customers WHERE id < 30
;;
-- q061 TRY_CAST of a masked substring
SELECT count(*) FROM customers WHERE TRY_CAST(right(phone, 4) AS INTEGER) > 5000
;;
-- q062 error oracle on the filtered column
SELECT count(*) FROM customers WHERE CASE WHEN country <> 'KR' THEN error('leak') END
;;
-- q063 cast oracle on a hidden row
SELECT id FROM customers WHERE CASE WHEN id = 2 THEN CAST('x' AS INT) ELSE 1 END = 1
;;
-- q064 division oracle on a hidden row
SELECT count(*) FROM customers WHERE 1 / (id - 2) IS NOT NULL
;;
-- q065 integer division oracle on a hidden row
SELECT sum(1 // (id - 2)) FROM customers
;;
-- q066 modulo oracle on a hidden row
SELECT count(*) FROM customers WHERE 100 % (id - 3) = 0
;;
-- q067 error oracle on a hidden order
SELECT count(*) FROM orders WHERE CASE WHEN id = 1 THEN error('order leak') ELSE true END
;;
-- q068 error oracle in a join condition's filter
SELECT count(*) FROM accounts a JOIN customers c ON c.id = a.customer_id
WHERE CASE WHEN c.country <> 'KR' THEN error('join leak') ELSE true END
;;
-- q069 error oracle in a join condition
SELECT count(*) FROM accounts a JOIN customers c ON c.id = a.customer_id AND CASE WHEN c.country <> 'KR' THEN error('on leak') ELSE true END
;;
-- q070 error oracle on a real (unmasked) email
SELECT count(*) FROM customers WHERE CASE WHEN email LIKE '%.%@%' THEN error('unmasked email seen') ELSE true END
;;
-- q071 failing cast of a masked value (error shows the masked value)
SELECT CAST(email AS INTEGER) FROM customers WHERE id = 1
;;
-- q072 failing cast of another masked value
SELECT CAST(phone AS BIGINT) FROM customers WHERE id = 4
;;
-- q073 cast that would fail on a hidden row only
SELECT CAST(email AS DATE) FROM customers WHERE id = 2
;;
-- q074 cast that would fail on a hidden row only (unmasked column)
SELECT CAST(name AS INT) FROM customers WHERE id = 3
;;
-- q075 failing cast on the filtered column: the message names the first visible value
SELECT CAST(country AS INT) FROM customers
;;
-- q076 failing cast over all masked emails
SELECT CAST(email AS INT) FROM customers
;;
-- @ordered
-- q077 LIMIT probing past a hidden row
SELECT id FROM customers WHERE id > 1 ORDER BY id LIMIT 1
;;
-- @ordered
-- q078 ORDER BY masked column with OFFSET
SELECT id, email FROM customers ORDER BY email DESC, id DESC LIMIT 3 OFFSET 10
;;
-- @ordered
-- q079 ORDER BY masked column descending
SELECT id, phone FROM customers ORDER BY phone DESC, id LIMIT 5
;;
-- q080 tail of the visible table
SELECT count(*), min(id), max(id) FROM (SELECT * FROM customers ORDER BY id LIMIT 100 OFFSET 3950) t
;;
-- q081 error: unknown column
SELECT nosuchcol FROM customers
;;
-- q082 error: no operator for a masked column
SELECT email + 1 FROM customers
;;
-- q083 error() on a visible row
SELECT error('boom') FROM customers WHERE id = 1
;;
-- q084 error() on a hidden row only
SELECT error('boom') FROM customers WHERE id = 2
;;
-- q085 HAVING over the visible count
SELECT count(*) FROM customers HAVING count(*) > 5000
;;
-- q086 hashes of every masked value
SELECT sum(hash(email)), sum(hash(phone)), sum(hash(id, name, email, phone, country, birth_date, created_at)) FROM customers
;;
-- q087 digest of all masked values in order
SELECT md5(string_agg(email || phone, '' ORDER BY id)) FROM customers
;;
-- @ordered
-- q088 group by an expression of a masked column
SELECT right(phone, 2) AS p2, count(*) FROM customers GROUP BY p2 ORDER BY p2
;;
-- q089 regexp_extract on a masked column
SELECT regexp_extract(email, '^(.)\*\*\*@(.*)$', 2) AS domain, count(*) FROM customers GROUP BY 1
;;
-- q090 contains on a masked column
SELECT count(*) FROM customers WHERE contains(email, 'smith') OR contains(phone, '-10-')
;;
-- q091 PostgreSQL regex operator on a masked column
SELECT count(*) FROM customers WHERE email ~ '^[a-z]\*\*\*@example\.com$'
;;
-- q092 LATERAL
SELECT c.id, x.n FROM customers c, LATERAL (SELECT count(*) AS n FROM accounts a WHERE a.customer_id = c.id) x WHERE c.id < 100
;;
-- q093 derived table
SELECT t.email, t.phone FROM (SELECT email, phone FROM customers WHERE id = 1) t
;;
-- q094 schema-qualified name
SELECT count(*), max(email) FROM main.customers
;;
-- q095 catalog-qualified name
SELECT count(*), max(email), max(phone) FROM warehouse.main.customers
;;
-- q096 quoted name and alias
SELECT x.email FROM "customers" AS x WHERE x.id = 4
;;
-- q097 join with table names as qualifiers
SELECT count(*), max(customers.email) FROM customers JOIN accounts ON accounts.customer_id = customers.id
;;
-- q098 USING join of the table with itself
SELECT count(*), count(DISTINCT c1.phone) FROM customers c1 JOIN customers c2 USING (id)
;;
-- q099 cross join
SELECT count(*) FROM (SELECT * FROM customers WHERE id < 20) a CROSS JOIN (SELECT * FROM customers WHERE id < 20) b
;;
-- q100 full outer join
SELECT count(*), count(c.id), count(a.id) FROM (SELECT * FROM customers WHERE id < 1000) c
FULL OUTER JOIN (SELECT * FROM accounts WHERE id < 1000) a ON a.customer_id = c.id
;;
-- q101 ROLLUP over a masked expression
SELECT country, left(email, 1) AS i, count(*) FROM customers GROUP BY ROLLUP (country, left(email, 1))
;;
-- q102 QUALIFY partitioned by a masked column
SELECT id, email FROM customers QUALIFY row_number() OVER (PARTITION BY email ORDER BY id) = 1
;;
-- q103 VALUES left-joined to hidden and visible keys
SELECT v.x, c.email, c.phone FROM (VALUES (1), (2), (4), (5)) v(x) LEFT JOIN customers c ON c.id = v.x
;;
-- q104 IN list of masked and real values
SELECT count(*) FROM customers WHERE email IN ('s***@example.com', 'sora.smith1@example.com')
;;
-- q105 BETWEEN on a masked column
SELECT count(*) FROM customers WHERE phone BETWEEN '*' AND '+'
;;
-- q106 floating aggregates over a protected table
SELECT avg(price), stddev(quantity), avg(quantity * price) FROM orders
;;
-- q107 date functions on a protected table
SELECT year(birth_date) AS y, count(*) FROM customers GROUP BY 1
;;
-- q108 orders of a hidden customer's accounts
SELECT count(*) FROM orders o WHERE o.account_id IN (SELECT id FROM accounts WHERE customer_id = 2)
;;
-- q109 error: failing cast independent of the data
SELECT CAST('abc' AS INT) FROM customers WHERE id = 1
;;
-- q110 error: comparison with an unconvertible literal
SELECT * FROM customers WHERE id = 'abc'
;;
-- q111 sum of a cast of masked substrings
SELECT sum(CAST(right(phone, 4) AS INT)) FROM customers
;;
-- q112 failing cast of masked phones
SELECT CAST(phone AS INT) FROM customers WHERE id < 5
;;
-- q113 scalar subquery that has one visible row among several hidden
SELECT (SELECT email FROM customers WHERE id < 4) AS e
;;
-- q114 scalar subquery over hidden orders only
SELECT (SELECT id FROM orders WHERE id < 6) AS o
;;
-- q115 scalar subquery with more than one visible row (error)
SELECT (SELECT email FROM customers WHERE id < 8) AS e
;;
-- q116 FILTER clauses over masked predicates
SELECT count(*) FILTER (WHERE email LIKE 't%'), count(*) FILTER (WHERE phone LIKE '%0') FROM customers
;;
-- @ordered
-- q117 DISTINCT ON a masked column
SELECT DISTINCT ON (email) email, id FROM customers ORDER BY email, id
;;
-- q118 equality with a scalar subquery
SELECT * FROM customers c WHERE c.id = (SELECT max(id) FROM customers)
;;
-- @ordered
-- q119 comparison with a subquery on the filtered column
SELECT id FROM customers WHERE id > (SELECT min(id) FROM customers WHERE country = 'KR') ORDER BY id LIMIT 3
;;
-- q120 function round trip on a masked column
SELECT count(*) FROM customers WHERE email = lower(upper(email))
;;
-- q121 timestamp predicate
SELECT count(*), min(email) FROM customers WHERE created_at > TIMESTAMP '2023-03-01'
;;
-- q122 NOT EXISTS chain through the unprotected table
SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM accounts a JOIN customers c ON c.id = a.customer_id WHERE a.id = o.account_id)
;;
-- q123 the unprotected table alone
SELECT sum(balance), count(*) FROM accounts
;;
-- @ordered
-- @error-row-may-differ
-- q124 failing cast after ORDER BY/LIMIT
SELECT CAST(email AS INT) FROM customers ORDER BY id LIMIT 1 OFFSET 1
;;
-- q125 orders joined to customers, masked columns in the output
SELECT o.id, c.email, c.phone FROM orders o JOIN accounts a ON a.id = o.account_id JOIN customers c ON c.id = a.customer_id WHERE o.id < 200
;;
-- q126 semi-join of orders to hidden customers' accounts via the protected table
SELECT count(*) FROM orders o WHERE o.account_id IN (SELECT a.id FROM accounts a JOIN customers c ON c.id = a.customer_id WHERE c.country = 'US')
;;
-- q127 status-grouped, ordered
-- @ordered
SELECT status, side, count(*) FROM orders GROUP BY status, side ORDER BY status, side
;;
-- q128 symbols of visible orders through a CTE and a window
WITH s AS (SELECT symbol, count(*) AS n FROM orders GROUP BY symbol)
SELECT symbol, n, rank() OVER (ORDER BY n DESC, symbol) AS r FROM s
;;
-- q129 GROUP BY with masked column and HAVING on an aggregate of a masked column
SELECT left(email, 1) AS i, max(phone) FROM customers GROUP BY i HAVING max(length(phone)) = 16
;;
-- q130 ILIKE with escape on a masked column
SELECT count(*) FROM customers WHERE email ILIKE '%\*%' ESCAPE '\'
;;
-- q131 SIMILAR TO on a masked column
SELECT count(*) FROM customers WHERE phone SIMILAR TO '\*{12}[0-9]{4}'
;;
-- q132 division by zero error on a visible row
SELECT 10 // (id - 1) FROM customers WHERE id = 1
;;
-- q133 positional reference in ORDER BY, total
-- @ordered
SELECT email, id FROM customers WHERE id < 40 ORDER BY 2 DESC
;;
-- q134 concat_ws and coalesce over masked columns
SELECT count(DISTINCT concat_ws('|', coalesce(email, '-'), coalesce(phone, '-'))) FROM customers
;;
-- q135 EXCEPT ALL / INTERSECT ALL
SELECT email FROM customers WHERE id < 100 EXCEPT ALL SELECT email FROM customers WHERE id < 50
;;
-- q136 IN list on the filtered column with a masked projection
SELECT email FROM customers WHERE country IN ('KR', 'US', 'DE') AND id < 30
;;
-- q137 typeof of every column (masks keep the column types)
SELECT typeof(id), typeof(name), typeof(email), typeof(phone), typeof(country), typeof(birth_date), typeof(created_at)
FROM customers WHERE id = 1
;;
-- q138 ORDER BY an expression that fails on a hidden row
-- @ordered
SELECT id FROM customers ORDER BY CASE WHEN id = 2 THEN error('sort leak') ELSE id END LIMIT 3
;;
-- q139 aggregate that fails on hidden rows
SELECT sum(CASE WHEN country <> 'KR' THEN error('agg leak') ELSE 1 END) FROM customers
;;
-- q140 GROUP BY key that fails on a hidden row
SELECT CASE WHEN id = 3 THEN error('group leak') ELSE 0 END AS g, count(*) FROM customers GROUP BY g
;;
-- q141 window argument that fails on a hidden row
SELECT id, sum(CASE WHEN id = 5 THEN error('window leak') ELSE 1 END) OVER () AS n FROM customers WHERE id < 10
;;
-- q142 join condition that fails on a hidden order
SELECT count(*) FROM orders o JOIN accounts a ON a.id = o.account_id AND CASE WHEN o.id = 1 THEN error('order join leak') ELSE true END
;;
-- q143 error oracle on a real (unmasked) phone
SELECT count(*) FROM customers WHERE CASE WHEN phone LIKE '+%' THEN error('unmasked phone seen') ELSE true END
;;
-- q144 correlated subquery using an outer masked column
SELECT count(*) FROM customers c WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.customer_id = c.id AND c.email LIKE 's%')
;;
-- q145 ASOF join from a protected table
SELECT count(*), count(a.id) FROM orders o ASOF JOIN accounts a ON o.account_id = a.id AND o.created_at >= a.opened_at
;;
-- q146 the standard TABLE statement
TABLE customers
;;
-- q147 FROM-first syntax
SELECT count(*), max(email) FROM (FROM customers WHERE id < 1000)
;;
-- q148 the row as a struct
SELECT c FROM customers c WHERE id < 8
;;
-- q149 COLUMNS() over masked columns
SELECT COLUMNS('^(email|phone)$') FROM customers WHERE id < 20
;;
-- q150 star EXCLUDE / REPLACE
SELECT * EXCLUDE (name) REPLACE (upper(email) AS email) FROM customers WHERE id < 30
;;
-- q151 qualified star
SELECT customers.* FROM customers WHERE id < 10
;;
-- q152 row-value IN list with hidden and visible rows
SELECT count(*) FROM customers WHERE (id, country) IN ((2, 'SG'), (1, 'KR'), (3, 'GB'))
;;
-- q153 error: unknown qualified column (binder message with candidates)
SELECT customers.nosuch FROM customers
;;
-- q154 error: unknown column in a join
SELECT nosuch FROM customers c JOIN accounts a ON a.customer_id = c.id
;;
-- q155 error: ambiguous column in a self-join
SELECT email FROM customers a JOIN customers b ON a.id = b.id
;;
-- q156 a view over the protected table (definer rights, policies still apply to the reader)
SELECT count(*), max(email), min(phone), count(DISTINCT country) FROM v_contacts
;;
-- q157 rows of a view
SELECT * FROM v_contacts WHERE id < 50
;;
-- q158 a view joining both protected tables
SELECT status, count(*), count(DISTINCT email) FROM v_order_owner GROUP BY status
;;
-- q159 error oracle through a view
SELECT count(*) FROM v_contacts WHERE CASE WHEN country <> 'KR' THEN error('view leak') ELSE true END
;;
-- q160 a view joined to its own base table
SELECT v.id, v.email, c.phone FROM v_contacts v JOIN customers c ON c.id = v.id WHERE v.id < 100
;;
-- q161 error oracle on a hidden order through a view
SELECT count(*) FROM v_order_owner WHERE CASE WHEN order_id = 1 THEN error('view order leak') ELSE true END
;;
-- q162 point lookups on a filtered table (a constant filter the gate also applies under the policy)
SELECT id, name, email, country FROM customers WHERE id IN (1, 2, 3, 17, 40, 3999)
-- @ordered
;;
-- q163 a range and a string equality on unmasked columns
SELECT count(*), min(name), max(id) FROM customers WHERE id BETWEEN 100 AND 900 AND country = 'KR'
;;
-- q164 an equality only hidden rows satisfy
SELECT count(*) FROM customers WHERE country = 'US'
;;
-- q165 constant on the left, and <>
SELECT count(*), sum(id) FROM customers WHERE 500 > id AND name <> 'nobody'
;;
-- q166 a masked column in WHERE beside a constant filter: compared as masked
SELECT count(*) FROM customers WHERE email LIKE '%***%' AND phone LIKE '****%' AND id < 2000
;;
-- q167 error oracle beside a constant filter the policy's rows also pass
SELECT count(*) FROM customers WHERE id < 3000 AND CASE WHEN country <> 'KR' THEN error('leak beside a pushed filter') ELSE true END
;;
-- q168 IS NOT NULL and IS NULL
SELECT count(*), count(*) FILTER (WHERE birth_date IS NULL) FROM customers WHERE birth_date IS NOT NULL AND id <= 2500
;;
-- q169 qualified constant filters on two filtered tables of an inner join
SELECT c.country, count(*), sum(o.id) FROM orders o JOIN accounts a ON a.id = o.account_id JOIN customers c ON c.id = a.customer_id WHERE o.id < 50000 AND c.id > 10 GROUP BY 1
;;
-- q170 IS NULL on the null-supplying side of an outer join (not a filter of that table's own rows)
SELECT count(*) FROM accounts a LEFT JOIN customers c ON c.id = a.customer_id WHERE c.id IS NULL
;;
-- q171 an outer join with a constant filter on the preserved side
SELECT count(*), count(c.id) FROM customers c LEFT JOIN orders o ON o.account_id = c.id WHERE c.id < 1500
;;
-- q172 decimal columns against integer constants
SELECT count(*), min(id) FROM orders WHERE price > 100 AND quantity BETWEEN 1 AND 10
;;
-- q173 a string constant with a quote, and a constant filter inside a subquery
SELECT count(*) FROM accounts WHERE customer_id IN (SELECT id FROM customers WHERE id < 1000 AND name <> 'O''Brien')
;;
-- q174 a constant filter and an OR (only top-level AND terms are copied)
SELECT id, status FROM orders WHERE id < 60000 AND (id = 5 OR id % 997 = 0)
-- @ordered
;;
-- q175 a cast of the column in the filter (not copied under the policy; a hidden row must not fail it)
SELECT count(*) FROM customers WHERE CAST(name AS INTEGER) = 5 AND id < 0
;;
-- q176 error oracle inside an aggregate (a column read only by aggregates is not fenced: aggregates see only admitted rows)
SELECT sum(CASE WHEN country <> 'KR' THEN error('aggregate leak') ELSE 1 END), max(id) FROM customers
;;
-- q177 error oracle in an aggregate's FILTER
SELECT count(*) FILTER (WHERE CASE WHEN country <> 'KR' THEN error('filter clause leak') ELSE true END), sum(id) FROM customers
;;
-- q178 a condition on an aggregate's result in the outer query
SELECT * FROM (SELECT country, max(CASE WHEN country <> 'KR' THEN error('outer on aggregate leak') ELSE id END) AS m FROM customers GROUP BY country) WHERE m > 0
;;
-- q179 HAVING over an aggregate of an error oracle
SELECT country, count(*) FROM customers GROUP BY country HAVING sum(CASE WHEN country <> 'KR' THEN error('having leak') ELSE 1 END) > 0
;;
-- q180 a subquery inside an aggregate's argument: its own WHERE is fenced
SELECT sum((SELECT count(*) FROM orders o WHERE o.account_id = a.id AND CASE WHEN o.id = 1 THEN error('subquery in aggregate leak') ELSE true END)) FROM accounts a WHERE a.id < 40
;;
-- q181 a column read by an aggregate and, through a subquery's select list, by the outer WHERE
SELECT count(*) FROM (SELECT id, sum(id) OVER () AS s FROM customers) x WHERE CASE WHEN id = 2 THEN error('window leak') ELSE true END
;;
-- q182 no condition anywhere (columns unfenced): an error oracle in the select list sees only admitted rows
SELECT id, CASE WHEN country <> 'KR' THEN error('select list leak') ELSE country END AS c FROM customers ORDER BY id LIMIT 5
-- @ordered
;;
-- q183 no condition: an error oracle in GROUP BY
SELECT CASE WHEN country <> 'KR' THEN error('group by leak') ELSE country END AS g, count(*) FROM customers GROUP BY 1
;;
-- q184 no condition: an error oracle in ORDER BY with LIMIT (top-N)
SELECT id FROM customers ORDER BY CASE WHEN country <> 'KR' THEN error('order by leak') ELSE id END DESC LIMIT 3
-- @ordered
;;
-- q185 no condition: an error oracle in a window partition
SELECT id, row_number() OVER (PARTITION BY CASE WHEN country <> 'KR' THEN error('partition leak') ELSE country END ORDER BY id) AS rn FROM customers ORDER BY id LIMIT 5
-- @ordered
;;
-- q186 no condition: a failing cast in a derived table's output, counted outside
SELECT count(*), count(DISTINCT v) FROM (SELECT CAST(CASE WHEN country <> 'KR' THEN 'x' ELSE '1' END AS INTEGER) AS v FROM customers) t
;;
-- q187 a condition on an output of a derived table reaches the column behind it
SELECT count(*) FROM (SELECT country AS c, id FROM customers) t WHERE CASE WHEN c <> 'KR' THEN error('derived output leak') ELSE true END
;;
-- q188 a condition naming a select-list alias in the same query
SELECT country AS c188 FROM customers WHERE CASE WHEN c188 <> 'KR' THEN error('alias leak') ELSE true END LIMIT 1
;;
-- q189 a condition on an output whose name the engine made up
SELECT count(*) FROM (SELECT upper(country), id FROM customers) t WHERE CASE WHEN t."upper(country)" <> 'KR' THEN error('unnamed output leak') ELSE true END
;;
-- q190 DISTINCT ON with an error oracle, no condition
SELECT DISTINCT ON (CASE WHEN country <> 'KR' THEN error('distinct on leak') ELSE country END) id FROM customers ORDER BY CASE WHEN country <> 'KR' THEN error('distinct on leak') ELSE country END, id
-- @ordered
;;
-- q191 a join key with a constant condition on the other side (the engine may carry it over)
SELECT c.id, c.country, a.id FROM customers c JOIN accounts a ON a.customer_id = c.id WHERE a.customer_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10) ORDER BY 1, 3
-- @ordered
;;
-- q192 a join key of another type, a constant condition on the other side and an error oracle
SELECT count(*) FROM customers c JOIN orders o ON o.id = c.id WHERE o.id < 40 AND CASE WHEN c.country <> 'KR' THEN error('key type leak') ELSE true END
