/* meta.h — madang's own metadata store: SQLite (WAL mode) at DATA/meta.db.
 *
 * Holds users (with SCRAM verifiers, never passwords) and, as later issues land,
 * groups, grants, policies, tags, audit indexes and lineage. The schema is
 * versioned with PRAGMA user_version; meta_open applies pending migrations in
 * order, each in one transaction, and refuses a database newer than this build.
 *
 * One meta_t is shared by all threads; every call takes its mutex. */
#ifndef MADANG_META_H
#define MADANG_META_H

#include "util/util.h"

typedef struct meta meta_t;

typedef struct {
    int64_t id;
    char name[64];
    char scram[256]; /* "SCRAM-SHA-256$iter:salt$stored:server" or "" */
    bool superuser;
    bool can_login;
    char source[8];      /* "local" (SCRAM) or "ldap" */
    double locked_until; /* unix seconds; 0 = not locked */
} meta_user_t;

/* Opens (creating and migrating) the database at path. On failure returns NULL
 * and puts a one-line reason in err. */
meta_t *meta_open(const char *path, char *err, size_t errlen);
void meta_close(meta_t *m);
int meta_schema_version(meta_t *m);
int meta_latest_version(void);

/* Users. Names are case-sensitive as stored (the wire folds unquoted names). */
int meta_user_count(meta_t *m);
bool meta_user_get(meta_t *m, const char *name, meta_user_t *out) MUST_CHECK;
bool meta_user_create(meta_t *m, const char *name, const char *scram, bool superuser, char *err,
                      size_t errlen) MUST_CHECK;
bool meta_user_set_scram(meta_t *m, const char *name, const char *scram) MUST_CHECK;
bool meta_user_drop(meta_t *m, const char *name) MUST_CHECK;

/* Generic access for subsystems that own their tables (policy, audit, ...).
 * args bind to ?1..?n as text (NULL binds SQL NULL). meta_exec returns the
 * number of rows changed, or -1 with err. meta_query calls fn for every row
 * with the columns as text (NULL for SQL NULL); fn returns false to stop. */
typedef bool (*meta_row_fn)(void *ctx, int ncols, const char **cols);
int meta_exec(meta_t *m, const char *sql, int nargs, const char **args, char *err, size_t errlen);
bool meta_query(meta_t *m, const char *sql, int nargs, const char **args, meta_row_fn fn,
                void *ctx) MUST_CHECK;
/* Runs fn inside one IMMEDIATE transaction (for multi-statement changes). */
bool meta_begin(meta_t *m) MUST_CHECK;
bool meta_commit(meta_t *m) MUST_CHECK;
void meta_rollback(meta_t *m);

/* Small key/value facts about this data dir (e.g. "demo_loaded"). */
char *meta_kv_get(meta_t *m, const char *key); /* heap string or NULL */
bool meta_kv_set(meta_t *m, const char *key, const char *value) MUST_CHECK;

#endif
