/* meta.c — the SQLite metadata store and its migrations (see meta.h). */
#include "meta/meta.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prepared statements kept across calls, keyed by their text: the audit index
 * and lineage run the same few statements thousands of times a second, and
 * compiling one costs more than running it. A statement in use (a meta_query
 * callback that calls back into meta) is not shared: the nested call compiles
 * its own. */
#define META_CACHE 48

typedef struct {
    char *sql;
    sqlite3_stmt *st;
    bool busy;
} meta_cached_t;

struct meta {
    sqlite3 *db;
    pthread_mutex_t mu;
    meta_cached_t cache[META_CACHE];
    int ncache;
    int next_evict;
};

/* Migrations: index i brings the schema from version i to i+1. Never edit a
 * released migration; append a new one. */
static const char *migrations[] = {
    /* 1: users and data-dir facts */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  scram TEXT NOT NULL DEFAULT '',"
    "  superuser INTEGER NOT NULL DEFAULT 0,"
    "  can_login INTEGER NOT NULL DEFAULT 1,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));"
    "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    /* 2: groups, grants, ownership (the policy subsystem's tables) */
    "CREATE TABLE groups ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  synced INTEGER NOT NULL DEFAULT 0,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));"
    "CREATE TABLE group_members ("
    "  group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  PRIMARY KEY (group_name, user_name));"
    "CREATE TABLE grants ("
    "  id INTEGER PRIMARY KEY,"
    "  grantee_kind TEXT NOT NULL CHECK (grantee_kind IN ('user','group','public')),"
    "  grantee TEXT NOT NULL,"
    "  privilege TEXT NOT NULL CHECK (privilege IN ('SELECT','INSERT','UPDATE','DELETE','CREATE')),"
    "  object_kind TEXT NOT NULL CHECK (object_kind IN ('table','schema')),"
    "  schema_name TEXT NOT NULL,"
    "  table_name TEXT NOT NULL DEFAULT '',"
    "  column_name TEXT NOT NULL DEFAULT '',"
    "  grantor TEXT NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
    "  UNIQUE (grantee_kind, grantee, privilege, object_kind, schema_name, table_name, column_name));"
    "CREATE TABLE owners ("
    "  object_kind TEXT NOT NULL,"
    "  schema_name TEXT NOT NULL,"
    "  object_name TEXT NOT NULL DEFAULT '',"
    "  owner TEXT NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
    "  PRIMARY KEY (schema_name, object_name));",
    /* 3: row policies, masking policies, tags (policy/rls.h) */
    "CREATE TABLE row_policies ("
    "  name TEXT NOT NULL,"
    "  schema_name TEXT NOT NULL,"
    "  table_name TEXT NOT NULL,"
    "  command TEXT NOT NULL CHECK (command IN ('ALL','SELECT','INSERT')),"
    "  grantee_kind TEXT NOT NULL CHECK (grantee_kind IN ('user','group','public')),"
    "  grantee TEXT NOT NULL DEFAULT '',"
    "  using_expr TEXT,"
    "  check_expr TEXT,"
    "  owner TEXT NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
    "  PRIMARY KEY (schema_name, table_name, name));"
    "CREATE TABLE masking_policies ("
    "  name TEXT PRIMARY KEY,"
    "  arg_name TEXT NOT NULL,"
    "  arg_type TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  owner TEXT NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));"
    "CREATE TABLE column_masks ("
    "  schema_name TEXT NOT NULL,"
    "  table_name TEXT NOT NULL,"
    "  column_name TEXT NOT NULL,"
    "  policy TEXT NOT NULL REFERENCES masking_policies(name),"
    "  PRIMARY KEY (schema_name, table_name, column_name));"
    "CREATE TABLE tags ("
    "  name TEXT PRIMARY KEY,"
    "  masking_policy TEXT REFERENCES masking_policies(name),"
    "  comment TEXT,"
    "  owner TEXT NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));"
    "CREATE TABLE column_tags ("
    "  schema_name TEXT NOT NULL,"
    "  table_name TEXT NOT NULL,"
    "  column_name TEXT NOT NULL,"
    "  tag TEXT NOT NULL REFERENCES tags(name) ON DELETE CASCADE,"
    "  PRIMARY KEY (schema_name, table_name, column_name, tag));",
    /* 4: identity — LDAP users, lockout, impersonation, API tokens */
    "ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';"
    "ALTER TABLE users ADD COLUMN locked_until REAL NOT NULL DEFAULT 0;"
    "CREATE TABLE login_failures (user_name TEXT NOT NULL, at REAL NOT NULL, peer TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX login_failures_user ON login_failures (user_name, at);"
    "CREATE TABLE impersonation ("
    "  proxy TEXT NOT NULL,"
    "  target_kind TEXT NOT NULL CHECK (target_kind IN ('user','group')),"
    "  target TEXT NOT NULL,"
    "  grantor TEXT NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
    "  PRIMARY KEY (proxy, target_kind, target));"
    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  user_name TEXT NOT NULL,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  created_by TEXT NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
    "  expires_at TEXT);",
    /* 5: the audit index (derived from DATA/audit segments; rebuildable) */
    "CREATE TABLE audit_index ("
    "  seq INTEGER PRIMARY KEY,"
    "  ts TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  session_id INTEGER,"
    "  real_user TEXT,"
    "  user_name TEXT,"
    "  client_addr TEXT,"
    "  application_name TEXT,"
    "  door TEXT,"
    "  statement TEXT,"
    "  fingerprint TEXT,"
    "  kind TEXT,"
    "  decision TEXT,"
    "  rule TEXT,"
    "  sqlstate TEXT,"
    "  rows INTEGER,"
    "  duration_us INTEGER,"
    "  objects TEXT,"
    "  policies TEXT,"
    "  outcome TEXT,"
    "  statement_seq INTEGER,"
    "  segment INTEGER NOT NULL);"
    "CREATE INDEX audit_index_ts ON audit_index (ts);"
    "CREATE INDEX audit_index_user ON audit_index (user_name, ts);"
    "CREATE INDEX audit_index_completion ON audit_index (statement_seq) WHERE statement_seq IS NOT NULL;",
    /* 6: lineage — one run per statement that wrote or defined a table, its edges */
    "CREATE TABLE lineage_runs ("
    "  id INTEGER PRIMARY KEY,"
    "  run_uuid TEXT NOT NULL,"
    "  statement_seq INTEGER,"
    "  kind TEXT NOT NULL,"
    "  target_table TEXT NOT NULL,"
    "  user_name TEXT,"
    "  real_user TEXT,"
    "  statement TEXT,"
    "  status TEXT NOT NULL,"
    "  error TEXT,"
    "  started_at TEXT NOT NULL,"
    "  ended_at TEXT NOT NULL,"
    "  current INTEGER NOT NULL,"
    "  retired_at TEXT,"
    "  approximate INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX lineage_runs_target ON lineage_runs (target_table, current);"
    "CREATE INDEX lineage_runs_ended ON lineage_runs (ended_at);"
    "CREATE TABLE lineage_edges ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES lineage_runs (id),"
    "  target_table TEXT NOT NULL,"
    "  target_column TEXT,"
    "  source_table TEXT NOT NULL,"
    "  source_column TEXT,"
    "  type TEXT NOT NULL,"
    "  subtype TEXT NOT NULL);"
    "CREATE INDEX lineage_edges_run ON lineage_edges (run_id);"
    "CREATE INDEX lineage_edges_target ON lineage_edges (target_table);"
    "CREATE INDEX lineage_edges_source ON lineage_edges (source_table);",
    /* 7: the audit index keeps one row per statement with its completion in
     * it; emptied, it is rebuilt from the segments (the index thread starts
     * again from seq 0) */
    "DELETE FROM audit_index;"
    "DROP INDEX audit_index_completion;"
    "ALTER TABLE audit_index RENAME COLUMN statement_seq TO completion_seq;"
    "ALTER TABLE audit_index ADD COLUMN completion_sqlstate TEXT;"
    "ALTER TABLE audit_index ADD COLUMN error TEXT;",
    /* 8: what a statement named (views as views) and its command tag, for
     * madang.audit_log; emptied, it is rebuilt from the segments */
    "DELETE FROM audit_index;"
    "ALTER TABLE audit_index ADD COLUMN direct_objects TEXT;"
    "ALTER TABLE audit_index ADD COLUMN tag TEXT;",
};

int meta_latest_version(void)
{
    return (int)ARRAY_LEN(migrations);
}

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

meta_t *meta_open(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(db, 5000);
    char *emsg = NULL;
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", NULL,
                     NULL, &emsg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot set up %s: %s", path, emsg ? emsg : "?");
        sqlite3_free(emsg);
        goto fail;
    }
    int v = user_version(db);
    if (v < 0) {
        snprintf(err, errlen, "cannot read schema version of %s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    if (v > meta_latest_version()) {
        snprintf(err, errlen,
                 "%s has schema version %d but this madang knows up to %d; upgrade madang to open it", path,
                 v, meta_latest_version());
        goto fail;
    }
    for (; v < meta_latest_version(); v++) {
        char *sql = xasprintf("BEGIN IMMEDIATE; %s PRAGMA user_version=%d; COMMIT;", migrations[v], v + 1);
        int rc = sqlite3_exec(db, sql, NULL, NULL, &emsg);
        free(sql);
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "migration %d of %s failed: %s", v + 1, path, emsg ? emsg : "?");
            sqlite3_free(emsg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
        log_event(LOG_INFO, "meta_migrated", "version=%d", v + 1);
    }
    meta_t *m = xcalloc(1, sizeof *m);
    m->db = db;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&m->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    return m;
fail:
    if (db) sqlite3_close(db);
    return NULL;
}

void meta_close(meta_t *m)
{
    if (!m) return;
    for (int i = 0; i < m->ncache; i++) {
        sqlite3_finalize(m->cache[i].st);
        free(m->cache[i].sql);
    }
    sqlite3_close(m->db);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int meta_schema_version(meta_t *m)
{
    pthread_mutex_lock(&m->mu);
    int v = user_version(m->db);
    pthread_mutex_unlock(&m->mu);
    return v;
}

int meta_user_count(meta_t *m)
{
    int n = 0;
    sqlite3_stmt *st;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(m->db, "SELECT count(*) FROM users", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

bool meta_user_get(meta_t *m, const char *name, meta_user_t *out)
{
    bool found = false;
    sqlite3_stmt *st;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(
            m->db,
            "SELECT id, name, scram, superuser, can_login, source, locked_until FROM users WHERE "
            "name = ?",
            -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            memset(out, 0, sizeof *out);
            out->id = sqlite3_column_int64(st, 0);
            snprintf(out->name, sizeof out->name, "%s", (const char *)sqlite3_column_text(st, 1));
            snprintf(out->scram, sizeof out->scram, "%s", (const char *)sqlite3_column_text(st, 2));
            out->superuser = sqlite3_column_int(st, 3) != 0;
            out->can_login = sqlite3_column_int(st, 4) != 0;
            snprintf(out->source, sizeof out->source, "%s", (const char *)sqlite3_column_text(st, 5));
            out->locked_until = sqlite3_column_double(st, 6);
            found = true;
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&m->mu);
    return found;
}

static bool exec_bound(meta_t *m, const char *sql, const char *a, const char *b, int c, char *err,
                       size_t errlen)
{
    bool ok = false;
    sqlite3_stmt *st;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(m->db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
        if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
        if (c >= 0) sqlite3_bind_int(st, 3, c);
        int rc = sqlite3_step(st);
        ok = rc == SQLITE_DONE && sqlite3_changes(m->db) > 0;
        if (!ok && err) snprintf(err, errlen, "%s", sqlite3_errmsg(m->db));
        sqlite3_finalize(st);
    } else if (err) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(m->db));
    }
    pthread_mutex_unlock(&m->mu);
    return ok;
}

bool meta_user_create(meta_t *m, const char *name, const char *scram, bool superuser, char *err,
                      size_t errlen)
{
    return exec_bound(m, "INSERT INTO users(name, scram, superuser) VALUES (?, ?, ?)", name, scram,
                      superuser ? 1 : 0, err, errlen);
}

bool meta_user_set_scram(meta_t *m, const char *name, const char *scram)
{
    return exec_bound(m, "UPDATE users SET scram = ?2 WHERE name = ?1", name, scram, -1, NULL, 0);
}

bool meta_user_drop(meta_t *m, const char *name)
{
    return exec_bound(m, "DELETE FROM users WHERE name = ?", name, NULL, -1, NULL, 0);
}

static void bind_args(sqlite3_stmt *st, int nargs, const char **args)
{
    for (int i = 0; i < nargs; i++) {
        if (args[i])
            sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, i + 1);
    }
}

/* A prepared statement for sql, from the cache when it is there and free;
 * under m->mu. *slot is the cache entry to give back with stmt_done, or -1
 * for a statement of its own. */
static sqlite3_stmt *stmt_get(meta_t *m, const char *sql, int *slot)
{
    *slot = -1;
    int free_slot = -1;
    for (int i = 0; i < m->ncache; i++) {
        if (strcmp(m->cache[i].sql, sql) != 0) continue;
        if (m->cache[i].busy) {
            free_slot = -2; /* in use by an outer call: compile a private one */
            break;
        }
        m->cache[i].busy = true;
        *slot = i;
        return m->cache[i].st;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v3(m->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) return NULL;
    if (free_slot == -2 || !st) return st;
    if (m->ncache < META_CACHE) {
        free_slot = m->ncache++;
    } else {
        /* evict one that is not in use, round robin */
        for (int k = 0; k < META_CACHE; k++) {
            int i = (m->next_evict + k) % META_CACHE;
            if (!m->cache[i].busy) {
                free_slot = i;
                break;
            }
        }
        if (free_slot < 0) return st;
        m->next_evict = (free_slot + 1) % META_CACHE;
        sqlite3_finalize(m->cache[free_slot].st);
        free(m->cache[free_slot].sql);
    }
    m->cache[free_slot] = (meta_cached_t){.sql = xstrdup(sql), .st = st, .busy = true};
    *slot = free_slot;
    return st;
}

static void stmt_done(meta_t *m, sqlite3_stmt *st, int slot)
{
    if (slot < 0) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    m->cache[slot].busy = false;
}

int meta_exec(meta_t *m, const char *sql, int nargs, const char **args, char *err, size_t errlen)
{
    int changed = -1, slot;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *st = stmt_get(m, sql, &slot);
    if (st) {
        bind_args(st, nargs, args);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE || rc == SQLITE_ROW)
            changed = sqlite3_changes(m->db);
        else if (err)
            snprintf(err, errlen, "%s", sqlite3_errmsg(m->db));
        stmt_done(m, st, slot);
    } else if (err) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(m->db));
    }
    pthread_mutex_unlock(&m->mu);
    return changed;
}

bool meta_query(meta_t *m, const char *sql, int nargs, const char **args, meta_row_fn fn, void *ctx)
{
    bool ok = false;
    int slot;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *st = stmt_get(m, sql, &slot);
    if (st) {
        bind_args(st, nargs, args);
        int n = sqlite3_column_count(st);
        const char *cols[32];
        if (n > 32) n = 32;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            for (int i = 0; i < n; i++) cols[i] = (const char *)sqlite3_column_text(st, i);
            if (!fn(ctx, n, cols)) break;
        }
        ok = rc == SQLITE_DONE || rc == SQLITE_ROW;
        stmt_done(m, st, slot);
    }
    pthread_mutex_unlock(&m->mu);
    return ok;
}

/* Transactions hold the mutex from begin to commit/rollback (recursive use by
 * the same thread goes through meta_exec, so the mutex must be recursive). */
bool meta_begin(meta_t *m)
{
    pthread_mutex_lock(&m->mu);
    bool ok = sqlite3_exec(m->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) pthread_mutex_unlock(&m->mu);
    return ok;
}

bool meta_commit(meta_t *m)
{
    bool ok = sqlite3_exec(m->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&m->mu);
    return ok;
}

void meta_rollback(meta_t *m)
{
    sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&m->mu);
}

char *meta_kv_get(meta_t *m, const char *key)
{
    char *v = NULL;
    sqlite3_stmt *st;
    pthread_mutex_lock(&m->mu);
    if (sqlite3_prepare_v2(m->db, "SELECT value FROM kv WHERE key = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) v = xstrdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&m->mu);
    return v;
}

bool meta_kv_set(meta_t *m, const char *key, const char *value)
{
    return exec_bound(m,
                      "INSERT INTO kv(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                      key, value, -1, NULL, 0);
}
