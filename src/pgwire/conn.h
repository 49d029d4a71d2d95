/* conn.h — the PostgreSQL wire door: accepting connections and running the
 * protocol loop for each (one thread per connection). */
#ifndef MADANG_PGWIRE_CONN_H
#define MADANG_PGWIRE_CONN_H

#include "server/server.h"

/* Installs what the wire door needs in the engine (compatibility shims). */
bool pgw_setup_engine(server_t *srv, char *err, size_t errlen) MUST_CHECK;
/* Accepts one pending connection on srv->pg_fd and starts its thread. */
void pgw_accept(server_t *srv);
/* Interrupts and closes every connection; waits up to timeout_ms for them. */
void pgw_shutdown_all(int timeout_ms);

#endif
