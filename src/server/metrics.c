/* metrics.c — counters behind GET /metrics. */
#include "server/metrics.h"

#include <stdatomic.h>

static const char *kind_names[MET_KIND__COUNT] = {
    "select", "insert", "update", "delete", "ddl", "copy", "transaction", "session", "governance", "other",
};

static int64_t g_started_us;
static atomic_long g_conn_active;
static atomic_long g_conn_total;
static atomic_long g_stmt_ok[MET_KIND__COUNT];
static atomic_long g_stmt_err[MET_KIND__COUNT];

const char *met_kind_name(met_kind_t k)
{
    return k < MET_KIND__COUNT ? kind_names[k] : "other";
}

void met_init(void)
{
    g_started_us = now_us();
}

void met_conn_opened(void)
{
    atomic_fetch_add(&g_conn_active, 1);
    atomic_fetch_add(&g_conn_total, 1);
}

void met_conn_closed(void)
{
    atomic_fetch_sub(&g_conn_active, 1);
}

void met_statement(met_kind_t k, bool ok)
{
    if (k >= MET_KIND__COUNT) k = MET_KIND_OTHER;
    atomic_fetch_add(ok ? &g_stmt_ok[k] : &g_stmt_err[k], 1);
}

void met_render(buf_t *out)
{
    buf_printf(out,
               "# HELP madang_uptime_seconds Seconds since the server started.\n"
               "# TYPE madang_uptime_seconds gauge\n"
               "madang_uptime_seconds %.3f\n",
               (double)(now_us() - g_started_us) / 1e6);
    buf_printf(out,
               "# HELP madang_connections Open client connections (PostgreSQL wire).\n"
               "# TYPE madang_connections gauge\n"
               "madang_connections %ld\n"
               "# HELP madang_connections_total Client connections accepted.\n"
               "# TYPE madang_connections_total counter\n"
               "madang_connections_total %ld\n",
               atomic_load(&g_conn_active), atomic_load(&g_conn_total));
    buf_append_str(out, "# HELP madang_statements_total Statements run, by kind and outcome.\n"
                        "# TYPE madang_statements_total counter\n");
    for (int k = 0; k < MET_KIND__COUNT; k++) {
        buf_printf(out, "madang_statements_total{kind=\"%s\",outcome=\"ok\"} %ld\n", kind_names[k],
                   atomic_load(&g_stmt_ok[k]));
        buf_printf(out, "madang_statements_total{kind=\"%s\",outcome=\"error\"} %ld\n", kind_names[k],
                   atomic_load(&g_stmt_err[k]));
    }
}
