/* sysviews.h — the madang.* system views, served from meta.db by table
 * functions registered in the engine (madang_users(), ...). */
#ifndef MADANG_GATE_SYSVIEWS_H
#define MADANG_GATE_SYSVIEWS_H

#include "server/server.h"

/* Registers the table functions and (re)creates schema madang's views. */
bool sysviews_install(server_t *srv, duckdb_connection c, char *err, size_t errlen) MUST_CHECK;

#endif
