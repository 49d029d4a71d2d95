/* engine.c — opening, locking down and closing the embedded DuckDB (see engine.h). */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eng {
    duckdb_database db;
};

const char *eng_version(void)
{
    return duckdb_library_version();
}

/* Settings applied once for the whole database, in this order; after the last
 * one no statement can change any setting (SET search_path and other session
 * values excepted, which DuckDB still allows and the gate governs).
 * allowed_directories stays empty: with external access off, no file outside
 * DuckDB's own database and temp files can be read or written. */
static const char *lockdown_sql[] = {
    "SET GLOBAL TimeZone = 'UTC'",
    "SET GLOBAL enable_external_access = false",
    "SET GLOBAL lock_configuration = true",
};

static bool lockdown(eng_t *e, char *err, size_t errlen)
{
    duckdb_connection c = eng_connect(e);
    if (!c) {
        snprintf(err, errlen, "cannot connect to the engine");
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < ARRAY_LEN(lockdown_sql) && ok; i++) {
        char e2[256];
        ok = eng_exec_internal(c, lockdown_sql[i], e2, sizeof e2);
        if (!ok) snprintf(err, errlen, "engine lockdown failed at \"%s\": %s", lockdown_sql[i], e2);
    }
    eng_disconnect(&c);
    return ok;
}

eng_t *eng_open(const char *db_path, const char *tmp_dir, char *err, size_t errlen)
{
    duckdb_config cfg = NULL;
    char *open_err = NULL;
    eng_t *e = xcalloc(1, sizeof *e);
    if (duckdb_create_config(&cfg) != DuckDBSuccess) {
        snprintf(err, errlen, "cannot create DuckDB config");
        goto fail;
    }
    /* The second wall (DESIGN.md): even SQL that slipped past the gate cannot
     * reach files, the network or extensions. External access and the
     * configuration lock are switched off by SQL right after opening (see
     * lockdown), because TimeZone can only be set once ICU is loaded. */
    struct {
        const char *k, *v;
    } opts[] = {
        {"access_mode", "READ_WRITE"},
        {"temp_directory", tmp_dir},
        {"autoinstall_known_extensions", "false"},
        {"autoload_known_extensions", "false"},
        {"allow_community_extensions", "false"},
        {"allow_unsigned_extensions", "false"},
        {"default_order", "asc"},
        /* give freed query memory back to the OS instead of keeping it in
         * jemalloc's caches: RSS returns to its level after a burst of load */
        {"allocator_background_threads", "true"},
        {"allocator_flush_threshold", "16MB"},
        {"allocator_bulk_deallocation_flush_threshold", "16MB"},
    };
    for (size_t i = 0; i < ARRAY_LEN(opts); i++) {
        if (duckdb_set_config(cfg, opts[i].k, opts[i].v) != DuckDBSuccess) {
            snprintf(err, errlen, "cannot set DuckDB option %s=%s", opts[i].k, opts[i].v);
            goto fail;
        }
    }
    if (duckdb_open_ext(db_path, &e->db, cfg, &open_err) != DuckDBSuccess) {
        snprintf(err, errlen, "cannot open %s: %s", db_path, open_err ? open_err : "unknown error");
        goto fail;
    }
    duckdb_destroy_config(&cfg);
    cfg = NULL;
    if (!lockdown(e, err, errlen)) {
        duckdb_close(&e->db);
        goto fail;
    }
    return e;
fail:
    if (open_err) duckdb_free(open_err);
    if (cfg) duckdb_destroy_config(&cfg);
    free(e);
    return NULL;
}

void eng_close(eng_t *e)
{
    if (!e) return;
    duckdb_connection c = eng_connect(e);
    if (c) {
        char err[256];
        if (!eng_exec_internal(c, "CHECKPOINT", err, sizeof err))
            log_event(LOG_WARN, "engine_checkpoint_failed", "error=\"%s\"", err);
        eng_disconnect(&c);
    }
    duckdb_close(&e->db);
    free(e);
}

duckdb_connection eng_connect(eng_t *e)
{
    duckdb_connection c = NULL;
    if (duckdb_connect(e->db, &c) != DuckDBSuccess) return NULL;
    return c;
}

void eng_disconnect(duckdb_connection *c)
{
    if (*c) duckdb_disconnect(c);
}

bool eng_exec_internal(duckdb_connection c, const char *sql, char *err, size_t errlen)
{
    duckdb_result r;
    bool ok = duckdb_query(c, sql, &r) == DuckDBSuccess;
    if (!ok && err) snprintf(err, errlen, "%s", duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return ok;
}

int64_t eng_query_int(duckdb_connection c, const char *sql)
{
    duckdb_result r;
    int64_t v = -1;
    if (duckdb_query(c, sql, &r) == DuckDBSuccess && duckdb_row_count(&r) > 0)
        v = duckdb_value_int64(&r, 0, 0);
    duckdb_destroy_result(&r);
    return v;
}
