/* session.h — one client session, whatever door it came through.
 *
 * It names the real and effective user, the client address and application,
 * the door, owns the session's DuckDB connection, and keeps the emulated
 * PostgreSQL settings (SET/SHOW/RESET never reach the engine). */
#ifndef MADANG_GATE_SESSION_H
#define MADANG_GATE_SESSION_H

#include <duckdb.h>

#include "server/server.h"

typedef enum { SESS_TX_IDLE = 'I', SESS_TX_BLOCK = 'T', SESS_TX_FAILED = 'E' } sess_tx_t;

typedef struct {
    char *name;  /* canonical (lower case) name */
    char *value; /* current value */
    char *reset; /* value RESET returns to (startup value or default) */
} sess_setting_t;

typedef struct sess {
    server_t *srv;
    duckdb_connection conn;
    int64_t id;
    uint64_t engine_conn_id;
    char real_user[64];
    char user[64]; /* effective user */
    bool superuser;
    bool impersonated; /* opened by real_user as user (madang.impersonate): may not switch again */
    char client_addr[64];
    const char *door; /* "pgwire", "http" */
    int64_t started_wall_us;
    uint64_t audit_pending; /* the newest audit record the client must not hear about before it is on disk */
    struct audit_sess *audit; /* gate.c's: the members of every record of this session */
    sess_tx_t tx;
    sess_setting_t *settings;
    int nsettings;
    /* Authorization state (authz.c): the effective user's rights, reloaded
     * when pol_version() changes; the catalog visibility table's version;
     * the schema unqualified new objects go to; the TEMP objects of the
     * compatibility shim (no user statement may write or replace them). */
    struct pol_acl *acl;
    uint64_t visible_version;
    char default_schema[64];
    char **shim_objects;
    int nshim_objects;
    struct authz_state *az;     /* authz.c's caches: catalog snapshot, recent decisions */
    struct protect_state *prot; /* protect.c's: the policy set, recent rewrites */
    struct lin_state *lin;      /* lineage.c's: runs waiting for COMMIT, derived edges */
    int32_t backend_pid;        /* what pg_backend_pid() answers */
    bool shim_lazy_done;        /* the catalog part of the compatibility shim is installed */
    /* Moves whenever a setting or the effective user changes: a door may keep
     * a prepared statement only within one epoch (and one authz_version()). */
    uint64_t epoch;
    /* Settings changed since the door last reported them (ParameterStatus). */
    char **changed;
    int nchanged;
} sess_t;

/* Creates a session with its own engine connection; NULL if the engine refuses. */
sess_t *sess_create(server_t *srv, const char *user, bool superuser, const char *client_addr,
                    const char *door);
void sess_destroy(sess_t *s);

typedef enum { SESS_SET_OK, SESS_SET_UNKNOWN, SESS_SET_READONLY, SESS_SET_BAD_VALUE } sess_set_result_t;

const char *sess_get(sess_t *s, const char *name);
/* Sets a setting as the client asked (SET or a startup option). is_startup also
 * makes it the RESET value. err gets the reason on failure. */
sess_set_result_t sess_set(sess_t *s, const char *name, const char *value, bool is_startup, char *err,
                           size_t errlen);
sess_set_result_t sess_reset(sess_t *s, const char *name); /* name NULL = RESET ALL */
/* The PostgreSQL 15 default of a known setting (server_version, ...); NULL if unknown. */
const char *sess_default(const char *name);
/* Whether this setting is one PostgreSQL reports with ParameterStatus. */
bool sess_is_reported(const char *name);
/* Pops the names of reported settings that changed; caller frees the array and strings. */
char **sess_take_changed(sess_t *s, int *n);
/* Registers the session under its engine connection id, so engine callbacks
 * (system table functions) can find who is calling. */
void sess_register(sess_t *s);
/* Copies the effective user of the session on engine connection id; false if none. */
bool sess_user_of_connection(uint64_t conn_id, char *user, size_t n, bool *superuser);

/* The session on engine connection id, for engine callbacks that run inside
 * that session's own statement (its thread is waiting on the engine, so the
 * session is alive and not being changed concurrently). NULL if none. */
sess_t *sess_of_connection(uint64_t conn_id);

/* Updates session_authorization and is_superuser (reported to the client). */
void sess_set_identity(sess_t *s, const char *user, bool superuser);

/* Calls fn for every live session (madang.sessions); fn must not block. */
void sess_foreach(void (*fn)(void *ctx, const sess_t *s), void *ctx);

/* SHOW ALL as (name, setting, description) rows. */
int sess_setting_count(sess_t *s);

#endif
