// PgJDBC against madang. Usage: java -cp postgresql.jar:. JdbcTest <jdbc-url> <user> <password>
// Prints "OK <step>" per passed step; runs every step, exits 1 if any failed.
import java.math.BigDecimal;
import java.sql.*;
import java.util.*;
import java.util.concurrent.atomic.AtomicReference;

public class JdbcTest {
    static String url, user, password;
    static int failures = 0;

    interface Step { void run() throws Exception; }

    static void check(boolean cond, String msg) {
        if (!cond) throw new AssertionError(msg);
    }

    static Connection connect() throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("connectTimeout", "10");
        return DriverManager.getConnection(url, p);
    }

    static void step(String name, Step s) {
        try {
            s.run();
            System.out.println("OK " + name);
        } catch (Throwable t) {
            failures++;
            System.out.println("FAIL " + name + ": " + t);
            if (t instanceof SQLException) {
                System.out.println("  SQLState=" + ((SQLException) t).getSQLState());
            }
            t.printStackTrace(System.out);
        }
        System.out.flush();
    }

    static Timestamp tsPlus(Timestamp base, int seconds) {
        Timestamp t = new Timestamp(base.getTime() + seconds * 1000L);
        t.setNanos(base.getNanos());
        return t;
    }

    static String uniq(String p) {
        return p + "_" + Long.toHexString(System.nanoTime() & 0xffffffffL);
    }

    public static void main(String[] args) throws Exception {
        url = args[0];
        user = args[1];
        password = args[2];

        step("connect", () -> {
            try (Connection c = connect(); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM customers")) {
                check(rs.next(), "no row");
                check(rs.getLong(1) == 10000, "count=" + rs.getLong(1));
                DatabaseMetaData md = c.getMetaData();
                check(md.getDatabaseProductName().equals("PostgreSQL"), "product " + md.getDatabaseProductName());
            }
        });

        step("metadata.getTables", () -> {
            try (Connection c = connect()) {
                DatabaseMetaData md = c.getMetaData();
                Set<String> names = new HashSet<>();
                try (ResultSet rs = md.getTables(null, null, "%", new String[]{"TABLE"})) {
                    while (rs.next()) names.add(rs.getString("TABLE_NAME"));
                }
                for (String t : new String[]{"customers", "accounts", "orders", "trades"})
                    check(names.contains(t), "getTables missing " + t + " in " + names);
                int n = 0;
                try (ResultSet rs = md.getTables(null, null, "trades", null)) {
                    while (rs.next()) {
                        n++;
                        check("trades".equals(rs.getString("TABLE_NAME")), "name");
                        check("TABLE".equals(rs.getString("TABLE_TYPE")), "type " + rs.getString("TABLE_TYPE"));
                    }
                }
                check(n == 1, "getTables(trades) rows=" + n);
            }
        });

        step("metadata.getColumns", () -> {
            try (Connection c = connect()) {
                DatabaseMetaData md = c.getMetaData();
                List<String> cols = new ArrayList<>();
                Map<String, Integer> types = new HashMap<>();
                Map<String, String> typeNames = new HashMap<>();
                try (ResultSet rs = md.getColumns(null, null, "trades", "%")) {
                    while (rs.next()) {
                        cols.add(rs.getString("COLUMN_NAME"));
                        types.put(rs.getString("COLUMN_NAME"), rs.getInt("DATA_TYPE"));
                        typeNames.put(rs.getString("COLUMN_NAME"), rs.getString("TYPE_NAME"));
                    }
                }
                check(cols.equals(Arrays.asList("id", "order_id", "symbol", "price", "quantity", "fee", "executed_at")),
                      "columns " + cols);
                check(types.get("price") == Types.NUMERIC, "price type " + types.get("price") + " " + typeNames);
                check(types.get("executed_at") == Types.TIMESTAMP, "executed_at type " + types.get("executed_at"));
                check(types.get("symbol") == Types.VARCHAR, "symbol type " + types.get("symbol"));
            }
        });

        step("metadata.getSchemas", () -> {
            try (Connection c = connect()) {
                Set<String> s = new HashSet<>();
                try (ResultSet rs = c.getMetaData().getSchemas()) {
                    while (rs.next()) s.add(rs.getString("TABLE_SCHEM"));
                }
                check(s.contains("main"), "schemas " + s);
            }
        });

        step("metadata.getPrimaryKeys", () -> {
            try (Connection c = connect()) {
                List<String> pk = new ArrayList<>();
                try (ResultSet rs = c.getMetaData().getPrimaryKeys(null, null, "customers")) {
                    while (rs.next()) pk.add(rs.getString("COLUMN_NAME"));
                }
                check(pk.equals(Collections.singletonList("id")), "pk " + pk);
            }
        });

        step("metadata.getTypeInfo", () -> {
            try (Connection c = connect()) {
                Set<String> t = new HashSet<>();
                try (ResultSet rs = c.getMetaData().getTypeInfo()) {
                    while (rs.next()) t.add(rs.getString("TYPE_NAME"));
                }
                for (String n : new String[]{"int4", "int8", "text", "numeric", "timestamp", "bool"})
                    check(t.contains(n), "getTypeInfo missing " + n + " in " + t);
            }
        });

        step("prepared.binary", () -> {
            String t = uniq("jdbc_ps");
            try (Connection c = connect()) {
                try (Statement st = c.createStatement()) {
                    st.execute("CREATE TABLE " + t + " (i int, l bigint, s varchar, d decimal(18,4), ts timestamp, dt date)");
                }
                Timestamp base = Timestamp.valueOf("2024-03-01 10:11:12.345678");
                try (PreparedStatement ins = c.prepareStatement("INSERT INTO " + t + " VALUES (?,?,?,?,?,?)")) {
                    for (int k = 0; k < 12; k++) {
                        ins.setInt(1, k);
                        ins.setLong(2, 10000000000L + k);
                        ins.setString(3, "str 'k' ü " + k);
                        ins.setBigDecimal(4, new BigDecimal("1234.5678").add(BigDecimal.valueOf(k)));
                        ins.setTimestamp(5, tsPlus(base, k));
                        ins.setDate(6, java.sql.Date.valueOf("2024-03-" + String.format("%02d", k + 1)));
                        check(ins.executeUpdate() == 1, "insert count");
                    }
                }
                try (PreparedStatement q = c.prepareStatement(
                        "SELECT i, l, s, d, ts, dt FROM " + t + " WHERE i = ? AND l = ? AND s = ? AND d = ?")) {
                    for (int k = 0; k < 12; k++) {
                        q.setInt(1, k);
                        q.setLong(2, 10000000000L + k);
                        q.setString(3, "str 'k' ü " + k);
                        q.setBigDecimal(4, new BigDecimal("1234.5678").add(BigDecimal.valueOf(k)));
                        try (ResultSet rs = q.executeQuery()) {
                            check(rs.next(), "row " + k);
                            check(rs.getInt(1) == k, "i");
                            check(rs.getLong(2) == 10000000000L + k, "l");
                            check(rs.getString(3).equals("str 'k' ü " + k), "s " + rs.getString(3));
                            check(rs.getBigDecimal(4).compareTo(new BigDecimal("1234.5678").add(BigDecimal.valueOf(k))) == 0,
                                  "d " + rs.getBigDecimal(4));
                            Timestamp ts = rs.getTimestamp(5);
                            check(ts.equals(tsPlus(base, k)) && ts.getNanos() == 345678000,
                                  "ts " + ts + " run " + k);
                            check(rs.getDate(6).toString().equals("2024-03-" + String.format("%02d", k + 1)),
                                  "dt " + rs.getDate(6));
                            check(!rs.next(), "one row");
                        }
                    }
                }
                // server-side prepared on a demo table, past prepareThreshold
                try (PreparedStatement q = c.prepareStatement("SELECT price, quantity, executed_at FROM trades WHERE id = ?")) {
                    BigDecimal first = null;
                    for (int k = 0; k < 12; k++) {
                        q.setLong(1, 7);
                        try (ResultSet rs = q.executeQuery()) {
                            check(rs.next(), "trade row");
                            BigDecimal p = rs.getBigDecimal(1);
                            check(p.scale() == 2, "price scale " + p);
                            check(rs.getBigDecimal(2).scale() == 8, "qty scale " + rs.getBigDecimal(2));
                            check(rs.getTimestamp(3) != null, "ts");
                            if (first == null) first = p;
                            check(first.equals(p), "same price in text and binary: " + first + " vs " + p);
                        }
                    }
                }
                try (Statement st = c.createStatement()) { st.execute("DROP TABLE " + t); }
            }
        });

        step("fetchsize.trades", () -> {
            try (Connection c = connect()) {
                c.setAutoCommit(false);
                long n = 0, maxId = 0;
                try (Statement st = c.createStatement()) {
                    st.setFetchSize(1000);
                    try (ResultSet rs = st.executeQuery("SELECT * FROM trades")) {
                        while (rs.next()) {
                            n++;
                            maxId = Math.max(maxId, rs.getLong(1));
                        }
                    }
                }
                c.commit();
                check(n == 1000000, "rows " + n);
                check(maxId == 1000000, "max id " + maxId);
            }
        });

        step("cancel", () -> {
            try (Connection c = connect(); Statement st = c.createStatement()) {
                AtomicReference<Throwable> err = new AtomicReference<>();
                Thread canceller = new Thread(() -> {
                    try {
                        Thread.sleep(1000);
                        st.cancel();
                    } catch (Throwable t) {
                        err.set(t);
                    }
                });
                canceller.start();
                long t0 = System.currentTimeMillis();
                String state = null;
                try {
                    st.executeQuery("SELECT count(*) FROM trades a, trades b");
                } catch (SQLException e) {
                    state = e.getSQLState();
                }
                canceller.join();
                long ms = System.currentTimeMillis() - t0;
                check(err.get() == null, "cancel threw " + err.get());
                check("57014".equals(state), "SQLState " + state);
                check(ms < 10000, "cancel took " + ms + " ms");
                try (ResultSet rs = st.executeQuery("SELECT 1")) {
                    check(rs.next() && rs.getInt(1) == 1, "connection usable after cancel");
                }
            }
        });

        step("batch", () -> {
            String t = uniq("jdbc_batch");
            try (Connection c = connect()) {
                try (Statement st = c.createStatement()) {
                    st.execute("CREATE TABLE " + t + " (id int, v varchar, amt decimal(10,2))");
                }
                c.setAutoCommit(false);
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + t + " VALUES (?,?,?)")) {
                    for (int k = 0; k < 1000; k++) {
                        ps.setInt(1, k);
                        ps.setString(2, "v" + k);
                        ps.setBigDecimal(3, new BigDecimal(k).movePointLeft(2));
                        ps.addBatch();
                    }
                    int[] counts = ps.executeBatch();
                    check(counts.length == 1000, "batch counts " + counts.length);
                    for (int x : counts) check(x == 1 || x == Statement.SUCCESS_NO_INFO, "count " + x);
                }
                c.commit();
                c.setAutoCommit(true);
                try (Statement st = c.createStatement();
                     ResultSet rs = st.executeQuery("SELECT count(*), sum(id), sum(amt) FROM " + t)) {
                    check(rs.next(), "row");
                    check(rs.getLong(1) == 1000, "count " + rs.getLong(1));
                    check(rs.getLong(2) == 499500, "sum " + rs.getLong(2));
                    check(rs.getBigDecimal(3).compareTo(new BigDecimal("4995.00")) == 0, "amt " + rs.getBigDecimal(3));
                }
                try (Statement st = c.createStatement()) { st.execute("DROP TABLE " + t); }
            }
        });

        step("errors", () -> {
            try (Connection c = connect(); Statement st = c.createStatement()) {
                String state = null;
                try { st.executeQuery("SELECT * FROM no_such_jdbc"); } catch (SQLException e) { state = e.getSQLState(); }
                check("42P01".equals(state), "undefined table state " + state);
                c.setAutoCommit(false);
                try { st.executeQuery("SELECT * FROM no_such_jdbc"); } catch (SQLException e) { state = e.getSQLState(); }
                try { st.executeQuery("SELECT 1"); state = null; } catch (SQLException e) { state = e.getSQLState(); }
                check("25P02".equals(state), "in failed tx state " + state);
                c.rollback();
                try (ResultSet rs = st.executeQuery("SELECT 1")) { check(rs.next(), "after rollback"); }
                c.commit();
            }
        });

        if (failures > 0) {
            System.out.println("FAILURES " + failures);
            System.exit(1);
        }
        System.out.println("ALL OK");
    }
}
