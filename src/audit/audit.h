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
#define AUDIT_FLUSH_MS         100          /* lines nobody waits for reach the file within this */
#define AUDIT_PENDING_BYTES    (256u << 10) /* or sooner, when this much is pending */

typedef struct audit audit_t;

/* A record being built: its members' values as canonical JSON text, back to
 * back in `text`, in any order (audit_append puts them in key order). Keys
 * are string literals. The writer adds seq, ts, type, prev_hash, hash and mac
 * itself. Building a record takes no json_t and no allocation per member. */
#define AUDIT_REC_MAX 40
typedef struct {
    const char *key;
    uint32_t off, len;
} audit_member_t;
typedef struct audit_rec {
    buf_t text;
    audit_member_t m[AUDIT_REC_MAX];
    int n;
} audit_rec_t;

void audit_rec_init(audit_rec_t *r);
void audit_rec_free(audit_rec_t *r);
/* Empties r for reuse (its memory kept). */
void audit_rec_clear(audit_rec_t *r);
/* A string member (NULL is ""); bytes that are not UTF-8 become U+FFFD. */
void audit_rec_str(audit_rec_t *r, const char *key, const char *s);
void audit_rec_strn(audit_rec_t *r, const char *key, const char *s, size_t n);
void audit_rec_int(audit_rec_t *r, const char *key, int64_t v);
void audit_rec_bool(audit_rec_t *r, const char *key, bool v);
/* Any JSON value (borrowed), printed canonically; NULL is null. */
void audit_rec_json(audit_rec_t *r, const char *key, json_t *v);
/* Every member of from, after r's own. */
void audit_rec_copy(audit_rec_t *r, const audit_rec_t *from);
/* Puts the members in key order (a key set twice keeps its last value). */
void audit_rec_sort(audit_rec_t *r);
/* SHA-256 of n bytes at s, as 64 hex digits. */
void audit_sha256_hex(const char *s, size_t n, char out[65]);
/* s as a JSON string literal, escaped exactly as jansson escapes it. */
void audit_json_string(buf_t *b, const char *s, size_t n);

/* Appends record r (not consumed) of the given type. Returns its seq, or 0
 * when it could not be written. */
uint64_t audit_append(audit_t *a, const char *type, audit_rec_t *r, bool durable);

/* Reading a record line back without a JSON parser: fn gets each top-level
 * member's key (as written, without quotes) and value (its JSON text).
 * false when the line is not a flat JSON object. */
typedef void (*audit_member_fn)(void *ctx, const char *key, size_t klen, const char *val, size_t vlen);
bool audit_line_members(const char *line, size_t n, audit_member_fn fn, void *ctx);
/* A JSON string literal's value (heap), or NULL when it is not one. */
char *audit_json_unquote(const char *v, size_t n);

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

/* Told of records once their lines are in the segment file: n bytes of
 * whole lines (borrowed), the consecutive records from seq first, in segment
 * at file offset off. Called with the writer's lock held, so it must only
 * copy the lines on. */
typedef void (*audit_listener_fn)(void *ctx, const char *lines, size_t n, uint64_t first, int segment,
                                  size_t off);
void audit_set_listener(audit_t *a, audit_listener_fn fn, void *ctx);
/* The seq of the last record appended (after a start: the last in the log). */
uint64_t audit_last_seq(audit_t *a);

/* Waits until record seq is on disk (group commit); false when the audit
 * trail can no longer be written (a write or sync failed). */
bool audit_sync(audit_t *a, uint64_t seq);

/* The statement text with secrets replaced: PASSWORD '…' literals and mdt_
 * token secrets. Heap string. */
char *audit_redact(const char *sql);

/* A time as microseconds since the epoch: YYYY-MM-DD, then optionally T or a
 * space, HH:MM[:SS[.frac]], then optionally Z or ±HH[:MM] (no zone: UTC, as
 * records' ts are). False when s is not such a time. */
bool audit_parse_time(const char *s, int64_t *out);

/* `madang audit verify|export|pubkey ...`: the process exit code. */
int audit_main(int argc, char **argv);

#endif
