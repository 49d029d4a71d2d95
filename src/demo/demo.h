/* demo.h — the fictional crypto-exchange data set behind `madang serve --demo`. */
#ifndef MADANG_DEMO_H
#define MADANG_DEMO_H

#include <duckdb.h>

#include "util/util.h"

/* Creates customers, accounts, orders and trades (about 1 M rows) in schema
 * main, deterministically, in one transaction. Idempotent: does nothing when
 * the tables exist. */
bool demo_load(duckdb_connection c, char *err, size_t errlen) MUST_CHECK;

#endif
