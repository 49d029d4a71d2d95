// Zeppelin's JDBC interpreter connects as one proxy user and passes the
// logged-in user in the URL's `options`; madang must then answer exactly as if
// that user had logged in. Arguments: url (without options), proxy, proxyPassword,
// user, userPassword, notGrantedUser. Prints "OK step" lines and "N passed, M failed".
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.*;
import java.util.*;

public class ImpersonationTest {
    static int passed = 0, failed = 0;

    static void check(String step, boolean ok, String detail) {
        if (ok) {
            passed++;
            System.out.println("OK " + step);
        } else {
            failed++;
            System.out.println("FAIL " + step + ": " + detail);
        }
    }

    static List<String> rows(Connection c, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder b = new StringBuilder();
                for (int i = 1; i <= n; i++) b.append(i > 1 ? "|" : "").append(rs.getString(i));
                out.add(b.toString());
            }
        }
        return out;
    }

    static String opts(String user) throws Exception {
        return URLEncoder.encode("-c madang.impersonate=" + user, "UTF-8");
    }

    public static void main(String[] a) throws Exception {
        String url = a[0], proxy = a[1], proxyPw = a[2], user = a[3], userPw = a[4], other = a[5];
        String[] queries = {
            "SELECT current_user",
            "SELECT id, name, email, phone, country FROM customers ORDER BY id LIMIT 50",
            "SELECT country, count(*) FROM customers GROUP BY country ORDER BY country",
            "SELECT count(*) FROM customers WHERE email LIKE '%@example.com'",
        };
        try (Connection direct = DriverManager.getConnection(url, user, userPw);
             Connection imp = DriverManager.getConnection(url + "&options=" + opts(user), proxy, proxyPw)) {
            for (int i = 0; i < queries.length; i++) {
                // run each twice: prepareThreshold=1 in the URL makes the second one server-prepared, binary
                for (int k = 0; k < 2; k++) {
                    List<String> d = rows(direct, queries[i]), p = rows(imp, queries[i]);
                    check("same." + i + "." + k, d.equals(p) && !d.isEmpty(), "direct=" + d + " impersonated=" + p);
                }
            }
            // the session cannot become someone else
            try (Statement st = imp.createStatement()) {
                st.execute("SET SESSION AUTHORIZATION '" + proxy + "'");
                check("no.further", false, "SET SESSION AUTHORIZATION succeeded");
            } catch (SQLException e) {
                check("no.further", "42501".equals(e.getSQLState()), e.getSQLState() + " " + e.getMessage());
            }
        }
        // a user the proxy has no IMPERSONATE grant for: the connection is refused
        try (Connection bad = DriverManager.getConnection(url + "&options=" + opts(other), proxy, proxyPw)) {
            check("refused", false, "connected as " + other);
        } catch (SQLException e) {
            String m = String.valueOf(e.getMessage());
            check("refused", ("28000".equals(e.getSQLState()) || "42501".equals(e.getSQLState()))
                                 && m.contains("impersonate"), e.getSQLState() + " " + m);
        }
        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
