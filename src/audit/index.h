/* index.h — the audit index in meta.db (table audit_index), derived from the
 * segment files and rebuildable from them: a thread follows the segments and
 * inserts every record; madang.audit_log catches it up before answering.
 * Deleting the table's rows (or the whole meta.db table) and restarting
 * rebuilds it. */
#ifndef MADANG_AUDIT_INDEX_H
#define MADANG_AUDIT_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"

typedef struct audit_index audit_index_t;

/* log_end: the last seq in the segments; index rows past it are dropped. */
audit_index_t *audit_index_start(meta_t *m, const char *data_dir, uint64_t log_end);
void audit_index_stop(audit_index_t *x);
/* Indexes every complete record written so far. */
void audit_index_catch_up(audit_index_t *x);

/* The writer's listener (audit_set_listener, ctx = the index): keeps the
 * records' lines to index them from memory, without reading them back. */
void audit_index_hand_over(void *ctx, const char *lines, size_t n, uint64_t first, int segment, size_t off);

#endif
