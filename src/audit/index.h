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

audit_index_t *audit_index_start(meta_t *m, const char *data_dir);
void audit_index_stop(audit_index_t *x);
/* Indexes every complete record written so far. */
void audit_index_catch_up(audit_index_t *x);

/* The writer's listener (audit_set_listener, ctx = the index): keeps the
 * record's line to index it from memory, without reading it back. */
void audit_index_hand_over(void *ctx, const char *line, size_t n, uint64_t seq, int segment, size_t end);

#endif
