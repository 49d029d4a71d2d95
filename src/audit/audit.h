/* audit.h — the tamper-evident audit trail (DESIGN.md, issue 7).
 *
 * Storage (contract): append-only segment files DATA/audit/segment-NNNNNN.jsonl,
 * one JSON object per line, each with "seq", "prev_hash" and "hash": SHA-256
 * (hex) over the record's canonical form (sorted keys, compact, without
 * "hash" and "mac") — which contains prev_hash, so the records form a chain.
 * "mac" is an HMAC-SHA-256 of "hash" under a key kept in the data dir, so a
 * line forged without the key is caught even when its chain hash is right.
 * A "checkpoint" record, signed with Ed25519 (DATA/audit/signing.key; the
 * public key in signing.pub is exportable), closes every segment and follows
 * every AUDIT_CHECKPOINT_EVERY records.
 *
 * Durability: audit_write(..., durable=true) returns once the record is on
 * disk (fdatasync, group-committed: concurrent writers share one sync). The
 * gate writes a statement's record durably before the first result row or
 * the completion reaches the client; the completion follows in a record
 * linked by "statement_seq".
 *
 * Secrets never reach a record: statement text goes through
 * audit_redact() first (passwords and token secrets become '***'). */
#ifndef MADANG_AUDIT_H
#define MADANG_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

#define AUDIT_CHECKPOINT_EVERY 1000
#define AUDIT_SEGMENT_BYTES    (64u << 20)

typedef struct audit audit_t;

audit_t *audit_open(const char *data_dir, char *err, size_t errlen);
/* Segment limits: a new segment after max_age_s seconds or max_bytes. */
void audit_set_limits(audit_t *a, int max_age_s, size_t max_bytes);
/* Retention: deletes whole segments whose records are all older than days,
 * and records what it deleted (chained like every record). */
void audit_purge(audit_t *a, int days);
/* Writes a final checkpoint and closes. */
void audit_close(audit_t *a);

/* Appends a record of the given type; fields (consumed) become its other
 * members. Returns its seq, or 0 when the record could not be written. */
uint64_t audit_write(audit_t *a, const char *type, json_t *fields, bool durable);

/* Told of every record once it is in its segment: the record (borrowed: take
 * a reference to keep it; it has every member but hash and mac), its seq,
 * segment, and the segment's size after it. Called with the writer's lock
 * held, so it must only hand the record on. */
typedef void (*audit_listener_fn)(void *ctx, json_t *rec, uint64_t seq, int segment, size_t end);
void audit_set_listener(audit_t *a, audit_listener_fn fn, void *ctx);

/* Waits until record seq is on disk (group commit). */
void audit_sync(audit_t *a, uint64_t seq);

/* The statement text with secrets replaced: PASSWORD '…' literals and mdt_
 * token secrets. Heap string. */
char *audit_redact(const char *sql);

/* `madang audit verify|export|pubkey ...`: the process exit code. */
int audit_main(int argc, char **argv);

#endif
