// Differential test of row policies and masks over PgJDBC (tests/integration/test_policies.py).
// Usage: java -cp postgresql.jar:. PolicyDiffTest <urlA> <userA> <passwordA> <urlB> <userB> <passwordB> <corpus.sql>
// Runs every query of the corpus on A (the user under policies) and on B (the reference tables)
// with a PreparedStatement (use prepareThreshold=1 in the URLs: server-prepared, binary results),
// compares rows (as multisets unless the query is marked "-- @ordered") as strings via getString,
// or errors (SQLSTATE and message). Prints every mismatch, then "N passed, M failed"; exits 1 on
// any mismatch.
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.sql.*;
import java.util.*;

import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

public class PolicyDiffTest {
    static final class Query {
        String label, sql;
        boolean ordered;
        boolean errorRowMayDiffer; // "-- @error-row-may-differ": same SQLSTATE, message names only masked values
    }

    static List<Query> loadCorpus(String path) throws Exception {
        String text = new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.UTF_8);
        List<List<String>> groups = new ArrayList<>();
        List<String> cur = new ArrayList<>();
        for (String line : text.split("\n", -1)) {
            if (line.trim().equals(";;")) {
                groups.add(cur);
                cur = new ArrayList<>();
            } else {
                cur.add(line);
            }
        }
        groups.add(cur);
        List<Query> out = new ArrayList<>();
        for (List<String> g : groups) {
            StringBuilder body = new StringBuilder();
            boolean ordered = false, errorRowMayDiffer = false;
            String label = null;
            for (String l : g) {
                String t = l.trim();
                if (t.startsWith("--")) {
                    if (t.equals("-- @ordered")) ordered = true;
                    else if (t.equals("-- @error-row-may-differ")) errorRowMayDiffer = true;
                    else if (label == null && t.matches("--\\s*q\\d+.*")) label = t.substring(2).trim().split("\\s+")[0];
                    continue;
                }
                if (t.isEmpty()) continue;
                if (body.length() > 0) body.append('\n');
                body.append(l);
            }
            if (body.length() == 0) continue;
            Query q = new Query();
            q.sql = body.toString().trim();
            q.ordered = ordered;
            q.errorRowMayDiffer = errorRowMayDiffer;
            q.label = label != null ? label : String.format("q%03d", out.size() + 1);
            out.add(q);
        }
        return out;
    }

    static Connection connect(String url, String user, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("connectTimeout", "10");
        Connection c = DriverManager.getConnection(url, p);
        c.setAutoCommit(true);
        return c;
    }

    /** "ROWS" + column names + rows (each a list of strings), or "ERROR" sqlstate message. */
    static final class Result {
        String error; // null when rows
        List<String> columns = new ArrayList<>();
        List<String> rows = new ArrayList<>();

        String describe() {
            if (error != null) return "ERROR " + error;
            StringBuilder b = new StringBuilder();
            b.append(rows.size()).append(" rows, columns ").append(columns);
            for (int i = 0; i < rows.size() && i < 8; i++) b.append("\n    ").append(rows.get(i));
            if (rows.size() > 8) b.append("\n    ...");
            return b.toString();
        }
    }

    static String cell(ResultSet rs, ResultSetMetaData md, int i) throws SQLException {
        String s = rs.getString(i);
        if (s == null) return "NULL";
        int t = md.getColumnType(i);
        if (t == Types.DOUBLE || t == Types.FLOAT || t == Types.REAL) {
            try {
                double d = Double.parseDouble(s);
                if (Double.isNaN(d) || Double.isInfinite(d) || d == 0.0) return String.valueOf(d);
                return new BigDecimal(d).round(new MathContext(9)).stripTrailingZeros().toString();
            } catch (NumberFormatException e) {
                return s;
            }
        }
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    static Result run(Connection c, String sql) {
        Result r = new Result();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            boolean hasRs = ps.execute();
            if (!hasRs) return r;
            try (ResultSet rs = ps.getResultSet()) {
                ResultSetMetaData md = rs.getMetaData();
                int n = md.getColumnCount();
                for (int i = 1; i <= n; i++) r.columns.add(md.getColumnLabel(i));
                while (rs.next()) {
                    StringBuilder b = new StringBuilder("(");
                    for (int i = 1; i <= n; i++) {
                        if (i > 1) b.append(", ");
                        b.append(cell(rs, md, i));
                    }
                    r.rows.add(b.append(')').toString());
                }
            }
        } catch (SQLException e) {
            String msg = e.getMessage();
            if (e instanceof PSQLException) {
                ServerErrorMessage sem = ((PSQLException) e).getServerErrorMessage();
                if (sem != null) {
                    // the engine's "Candidate bindings" name columns: only superusers (the
                    // reference side) get them (docs/access-control.md)
                    String det = sem.getDetail();
                    if (det != null && det.startsWith("Candidate bindings")) det = null;
                    msg = sem.getMessage() + (det != null ? "\n      DETAIL: " + det : "");
                }
            }
            r.error = e.getSQLState() + ": " + msg;
        }
        return r;
    }

    static String compare(Query q, Result a, Result b) {
        if ((a.error == null) != (b.error == null)) return "one side failed";
        if (a.error != null) {
            if (q.errorRowMayDiffer && a.error.substring(0, 5).equals(b.error.substring(0, 5)))
                return a.error.contains("***@") ? null : "error names an unmasked value";
            return a.error.equals(b.error) ? null : "different errors";
        }
        if (!a.columns.equals(b.columns)) return "different column names";
        List<String> ra = new ArrayList<>(a.rows), rb = new ArrayList<>(b.rows);
        if (!q.ordered) {
            Collections.sort(ra);
            Collections.sort(rb);
        }
        if (ra.equals(rb)) return null;
        int i = 0;
        while (i < ra.size() && i < rb.size() && ra.get(i).equals(rb.get(i))) i++;
        return "different rows (" + (q.ordered ? "ordered" : "multiset") + "), first difference at " + i + ": A="
            + (i < ra.size() ? ra.get(i) : "<none>") + " B=" + (i < rb.size() ? rb.get(i) : "<none>");
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 7) {
            System.err.println("usage: PolicyDiffTest urlA userA passwordA urlB userB passwordB corpus.sql");
            System.exit(2);
        }
        List<Query> corpus = loadCorpus(args[6]);
        int passed = 0, failed = 0;
        try (Connection ca = connect(args[0], args[1], args[2]); Connection cb = connect(args[3], args[4], args[5])) {
            for (Query q : corpus) {
                Result a = run(ca, q.sql), b = run(cb, q.sql);
                String why = compare(q, a, b);
                if (why == null) {
                    passed++;
                    continue;
                }
                failed++;
                System.out.println("MISMATCH " + q.label + ": " + why);
                System.out.println("  query: " + q.sql.replace("\n", "\n         "));
                System.out.println("  A (policies): " + a.describe().replace("\n", "\n  "));
                System.out.println("  B (reference): " + b.describe().replace("\n", "\n  "));
                System.out.flush();
            }
        }
        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
