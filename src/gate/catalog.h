/* catalog.h — madang.tables and madang.columns, the governed catalog of the
 * warehouse (catalog.c); the HTTP catalog reads them through the gate. */
#ifndef MADANG_GATE_CATALOG_H
#define MADANG_GATE_CATALOG_H

#include "server/server.h"

/* Registers the catalog's table functions and (re)creates its views. */
bool catalog_setup(server_t *srv, duckdb_connection c, char *err, size_t errlen) MUST_CHECK;

#endif
