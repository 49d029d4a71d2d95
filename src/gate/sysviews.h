/* sysviews.h — the madang.* system views, served from meta.db by table
 * functions registered in the engine (madang_users(), ...). */
#ifndef MADANG_GATE_SYSVIEWS_H
#define MADANG_GATE_SYSVIEWS_H

#include "server/server.h"

/* Registers the table functions and (re)creates schema madang's views. */
bool sysviews_install(server_t *srv, duckdb_connection c, char *err, size_t errlen) MUST_CHECK;

/* Other subsystems' system functions (lineage): fill is called at bind time
 * with the calling session's user and the function's VARCHAR/BIGINT
 * arguments as text (NULL for SQL NULL); it adds rows of text cells, which
 * the view over the function casts. Returns false with a message for the
 * caller's error. */
typedef struct sys_rows sys_rows_t;
typedef bool (*sys_fill_fn)(const char *user, bool superuser, const char **args, sys_rows_t *out, char *err,
                            size_t errlen);
typedef struct {
    const char *name;
    const char *cols[16];
    int nargs;
    duckdb_type arg_types[4];
    sys_fill_fn fill;
} sys_fn_t;
bool sysviews_register(duckdb_connection c, const sys_fn_t *f) MUST_CHECK; /* f must outlive the engine */
void sys_rows_add(sys_rows_t *r, int n, const char **cells);
/* Registers a subsystem's functions, then (re)creates its views over them. */
bool sysviews_setup(duckdb_connection c, const sys_fn_t *fns, size_t nfns, const char *const *views,
                    size_t nviews, char *err, size_t errlen) MUST_CHECK;

#endif
