/* util.h — the allocation policy, logging and small helpers every subsystem uses.
 *
 * Allocation: xmalloc/xcalloc/xrealloc/xstrdup abort the process on out-of-memory
 * (the Redis policy), so no caller checks for NULL.
 *
 * Logging: one line per event on stderr, `ts level event key=value ...`. */
#ifndef MADANG_UTIL_H
#define MADANG_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MUST_CHECK   __attribute__((warn_unused_result))
#define UNUSED(x)    ((void)(x))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;
void log_set_level(log_level_t lvl);
/* Whether events of this level are written (to skip building what is not). */
bool log_enabled(log_level_t lvl);
/* log_event(LOG_INFO, "server_start", "pg_port=%d http_port=%d", 5433, 8080) */
void log_event(log_level_t lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A growable byte buffer. `data` is owned; buf_free releases it. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

void buf_init(buf_t *b, size_t cap);
void buf_free(buf_t *b);
/* Makes room for extra more bytes (the slow path of buf_reserve). */
void buf_grow(buf_t *b, size_t extra);
/* Inline: the wire encoders append a few bytes per field, millions of times. */
static inline void buf_reserve(buf_t *b, size_t extra)
{
    if (b->len + extra > b->cap) buf_grow(b, extra);
}
static inline void buf_append(buf_t *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}
static inline void buf_putc(buf_t *b, char c)
{
    buf_reserve(b, 1);
    b->data[b->len++] = c;
}
void buf_append_str(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Remove the first n bytes. */
void buf_consume(buf_t *b, size_t n);
/* NUL-terminate without counting the NUL in len. */
const char *buf_cstr(buf_t *b);

/* Monotonic and wall clocks. */
int64_t now_us(void);  /* CLOCK_MONOTONIC microseconds */
int64_t wall_us(void); /* CLOCK_REALTIME microseconds since the epoch */
void fmt_iso_time(int64_t wall_micros, char out[40]);

bool str_ieq(const char *a, const char *b);
bool str_has_prefix_ci(const char *s, const char *prefix);

/* Write all bytes of a file atomically (tmp + rename), with mode. */
bool write_file_atomic(const char *path, const void *data, size_t len, int mode) MUST_CHECK;
/* Read a whole small file into a NUL-terminated heap string; NULL on error. */
char *read_file(const char *path, size_t *len_out);

/* A small per-session memo: the last STRCACHE_N (key → value) pairs, all
 * dropped when `version` moves (grants, policies or the catalog changed). */
#define STRCACHE_N 64
typedef struct {
    uint64_t version;
    char *key[STRCACHE_N];
    char *val[STRCACHE_N];
    int next;
} strcache_t;

/* The value stored for key at this version (borrowed), or NULL. */
const char *strcache_get(strcache_t *c, uint64_t version, const char *key);
/* Stores copies; keys longer than max_key are not kept. */
void strcache_put(strcache_t *c, uint64_t version, const char *key, const char *val, size_t max_key);
void strcache_clear(strcache_t *c);

#endif
