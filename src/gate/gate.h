/* gate.h — the one path every statement takes, from every door.
 *
 *   classify → (bind → authorize → rewrite: later issues) → execute → record
 *
 * A door splits what the client sent into statements (lex_split), calls
 * gate_prepare for each, binds parameters on stmt->ps, and calls gate_execute
 * (statements the engine runs) or gate_run_utility (statements madang
 * handles: SET, SHOW, users, transactions). Anything the gate does not
 * recognize is denied with SQLSTATE 42501 — fail closed.
 *
 * Ownership: gate_prepare returns a heap gate_stmt_t the caller frees with
 * gate_stmt_free. A result from gate_execute is owned by the caller
 * (duckdb_destroy_result). */
#ifndef MADANG_GATE_H
#define MADANG_GATE_H

#include <duckdb.h>

#include "gate/session.h"
#include "server/metrics.h"

typedef enum {
    GATE_EMPTY,
    GATE_ENGINE, /* a prepared DuckDB statement (may return rows) */
    GATE_SET,    /* SET name = value */
    GATE_RESET,  /* RESET name | RESET ALL (name NULL) */
    GATE_NOOP,   /* accepted, nothing to do (SET TRANSACTION ..., DISCARD, ...) */
    GATE_BEGIN,
    GATE_COMMIT,
    GATE_ROLLBACK,
    GATE_CREATE_USER,
    GATE_ALTER_USER,
    GATE_DROP_USER,
    GATE_DECLARE, /* DECLARE c CURSOR FOR <query>: ps is the query */
    GATE_FETCH,   /* FETCH n FROM c */
    GATE_CLOSE_CURSOR,
    GATE_COPY_IN,      /* COPY t FROM STDIN */
    GATE_COPY_OUT,     /* COPY t|(query) TO STDOUT: ps is the query */
    GATE_GOVERN,       /* GRANT, REVOKE, CREATE/ALTER/DROP GROUP: st->gov */
    GATE_POLICY,       /* row policies, masking policies, tags (polsql.c) */
    GATE_SESSION_AUTH, /* SET/RESET SESSION AUTHORIZATION: value = target or NULL */
    GATE_IDENTITY,     /* GRANT/REVOKE IMPERSONATE, CREATE/DROP TOKEN, ALTER USER … ACCOUNT UNLOCK */
} gate_action_t;

typedef struct {
    char sqlstate[6];
    char message[1024];
    char detail[512];
    char hint[512];
    int position;
} gate_err_t;

typedef struct {
    bool csv;
    bool header;
    char delim;
    char quote;
    char escape;
    char *null_str;
} gate_copy_opts_t;

typedef struct gate_stmt {
    gate_action_t action;
    met_kind_t kind;
    char tag[48];   /* CommandComplete verb: "SELECT", "INSERT", "CREATE TABLE", ... */
    char *sql;      /* what the engine prepared (after compatibility rewrites and policies) */
    char *orig_sql; /* the statement before row policies and masks were applied, or NULL */
    duckdb_prepared_statement ps;
    int nparams;
    duckdb_type *param_types;
    int ncols;
    char **col_names;
    duckdb_logical_type *col_types; /* owned */
    bool returns_rows;

    /* SET / RESET */
    char *name;
    char *value;
    /* users */
    char *password;
    int superuser; /* -1 unchanged */
    bool if_exists;
    /* cursors */
    int64_t fetch_count; /* -1 = ALL */
    bool cursor_binary;
    bool close_all;
    /* COPY */
    char *copy_table;  /* quoted for the engine: "schema"."table" */
    char *copy_schema; /* unquoted parts (schema NULL when not written) */
    char *copy_name;
    /* authorization: the pol_version() and catalog version it was granted at,
     * and the DDL bookkeeping to do once the statement succeeds */
    uint64_t authz_version;
    char ddl_op;       /* 'C' create, 'D' drop, 'R' rename, 0 none */
    char ddl_kind[16]; /* table, view, sequence, index, type, schema */
    char *ddl_schema;
    char *ddl_name;
    char *ddl_new_name; /* RENAME TO */
    char *ddl_column;   /* RENAME COLUMN: the old column name (ddl_op 'K', ddl_new_name the new) */
    char **copy_cols;
    int ncopy_cols;
    /* audit: the current execution's statement record, when it started, what
     * the plan reads and writes, the policies applied */
    uint64_t audit_seq;
    int64_t audit_t0;
    char *audit_objects;  /* JSON array */
    char *audit_direct;   /* a refused statement's direct objects (JSON), for its record */
    char *audit_policies; /* JSON array */
    char *audit_text;     /* what the client sent (NULL: sql) */
    /* the record's fields that are the same at every execution of an allowed
     * statement (text, fingerprint, objects, policies), made once per session
     * epoch and authz_version() */
    struct audit_rec *audit_static;
    uint64_t audit_static_epoch, audit_static_authz;
    /* CREATE TOKEN (identity_sql.c): created when executed */
    char *token_user;
    char *token_expires;
    /* GRANT/REVOKE/groups (grant.c) */
    struct gate_gov *gov;
    /* lineage (lineage/lineage.h): the edges this statement writes, derived
     * at the authz_version() it was executed at (0: not yet) */
    struct lin *lineage;
    uint64_t lineage_version;
    bool lineage_open;  /* executed, its end not yet recorded */
    int64_t lineage_us; /* time spent capturing this execution's lineage (audit completion record) */
    gate_copy_opts_t copy;
} gate_stmt_t;

/* Called once at start-up: installs compatibility functions in the engine. */
bool gate_setup_engine(server_t *srv, char *err, size_t errlen) MUST_CHECK;

/* Prepares a new session's engine connection (compatibility shims, settings).
 * pid is what pg_backend_pid() reports. */
bool gate_session_start(sess_t *s, int32_t pid, char *err, size_t errlen) MUST_CHECK;

/* Whether name is one of the compatibility shim's TEMP objects. */
bool gate_shim_object(const char *name);

/* Prepares one statement (a range from lex_split). type_ok says which result
 * column types the door can encode; others are cast to VARCHAR. */
bool gate_prepare(sess_t *s, const char *sql, bool (*type_ok)(duckdb_logical_type), gate_stmt_t **out,
                  gate_err_t *err) MUST_CHECK;
void gate_stmt_free(gate_stmt_t *st);
/* As gate_prepare, with the types the client declared for $1..$n (DuckDB type
 * names, NULL = unspecified). A parameter whose type the engine cannot infer
 * (SELECT $1) takes its declared type, as in PostgreSQL. */
bool gate_prepare_typed(sess_t *s, const char *sql, bool (*type_ok)(duckdb_logical_type),
                        const char **param_types, int nparam_types, gate_stmt_t **out,
                        gate_err_t *err) MUST_CHECK;

/* Before binding parameters to a prepared statement: if grants, policies or
 * the catalog changed since it was authorized, authorizes it again and
 * re-prepares it under the current row policies and masks. */
bool gate_refresh(sess_t *s, gate_stmt_t *st, gate_err_t *err) MUST_CHECK;

/* Runs a GATE_ENGINE statement whose parameters are bound. When it returns
 * rows, *res is a streaming result to fetch with duckdb_fetch_chunk; otherwise
 * *rows_changed is set and *res is already destroyed. */
bool gate_execute(sess_t *s, gate_stmt_t *st, duckdb_result *res, int64_t *rows_changed,
                  gate_err_t *err) MUST_CHECK;

/* Runs a statement madang handles itself; fills tag for CommandComplete. */
bool gate_run_utility(sess_t *s, gate_stmt_t *st, char *tag, size_t taglen, gate_err_t *err) MUST_CHECK;

/* COPY FROM STDIN: rows arrive as text fields and are appended to the target
 * (through DuckDB's appender, which casts text to each column's type). */
typedef struct gate_copy gate_copy_t;
bool gate_copy_begin(sess_t *s, gate_stmt_t *st, gate_copy_t **out, gate_err_t *err) MUST_CHECK;
/* fields[i] NULL = SQL NULL. */
bool gate_copy_row(gate_copy_t *c, int n, char **fields, size_t *lens, gate_err_t *err) MUST_CHECK;
/* Finishes (commit=true) or abandons the load; returns rows appended. When
 * abandoning, err may hold the reason (recorded); otherwise zero it. */
bool gate_copy_end(gate_copy_t *c, bool commit, int64_t *rows, gate_err_t *err) MUST_CHECK;

/* Called by the door when a statement fails inside a transaction block. */
void gate_note_failure(sess_t *s);

/* Makes user the session's effective user (rights, catalog shim, settings). */
bool gate_become(sess_t *s, const char *user, bool superuser, char *err, size_t errlen) MUST_CHECK;

/* Whether the session may run st in its transaction state (25P02 otherwise). */
bool gate_check_tx(sess_t *s, const gate_stmt_t *st, gate_err_t *err) MUST_CHECK;

/* The audit trail (audit/audit.h): gate_audit_begin writes the statement's
 * record durably (before any result reaches the client); gate_audit_end its
 * completion (err NULL = success). Doors call gate_audit_end when the
 * statement's last row or CommandComplete is sent, and gate_audit_statement
 * (the record and a successful completion) for statements they run
 * themselves (FETCH, CLOSE). For a "denied" or "error" decision err is the
 * statement's error, recorded with it.
 * Fail closed: gate_audit_begin, gate_audit_statement and gate_audit_durable
 * return false when the record cannot be written (the trail's disk failed):
 * the statement must not run, or its answer must not be sent, and err (when
 * not NULL) holds the error to send instead (58030). */
bool gate_audit_begin(sess_t *s, gate_stmt_t *st, const char *decision, gate_err_t *err) MUST_CHECK;
void gate_audit_end(sess_t *s, gate_stmt_t *st, int64_t rows, const gate_err_t *err);
bool gate_audit_statement(sess_t *s, gate_stmt_t *st, gate_err_t *err) MUST_CHECK;
/* Waits until the session's audit records are on disk (doors call it before
 * writing anything to the client); false when they cannot be (err, when not
 * NULL, gets 58030): the wire door closes the connection instead of
 * answering, the HTTP door answers with the error. */
bool gate_audit_durable(sess_t *s, gate_err_t *err) MUST_CHECK;
/* Records a statement the door refused before the gate could take it (err
 * says why): every statement sent has its record. */
void gate_audit_refused(sess_t *s, const char *sql, gate_err_t *err);
void gate_audit_session_free(sess_t *s);
/* A login, success or failure (door, user, reason). */
void gate_audit_login(server_t *srv, const char *door, const char *user, const char *real_user,
                      const char *peer, const char *app, bool ok, const char *sqlstate, const char *reason);

/* Fills err from a DuckDB error message, mapping it to a SQLSTATE. */
void gate_err_from_duckdb(gate_err_t *err, const char *msg, duckdb_error_type type);
void gate_err_set(gate_err_t *err, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
