/* util.c — allocation wrappers that abort on OOM, the event logger, buf_t, clocks. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
    fprintf(stderr, "madang: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    if (n < 0) oom(0);
    return out;
}

static log_level_t g_level = LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level_t lvl)
{
    g_level = lvl;
}

bool log_enabled(log_level_t lvl)
{
    return lvl >= g_level;
}

void log_event(log_level_t lvl, const char *event, const char *fmt, ...)
{
    if (lvl < g_level) return;
    char ts[40];
    fmt_iso_time(wall_us(), ts);
    char line[2048];
    int n = snprintf(line, sizeof line, "%s level=%s event=%s", ts, level_names[lvl], event);
    if (fmt && *fmt && n > 0 && (size_t)n < sizeof line - 2) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0) n += m;
        if ((size_t)n >= sizeof line - 1) n = (int)sizeof line - 2;
    }
    line[n++] = '\n';
    /* One write per line so concurrent threads never interleave within a line. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    UNUSED(w);
}

void buf_init(buf_t *b, size_t cap)
{
    b->data = cap ? xmalloc(cap) : NULL;
    b->len = 0;
    b->cap = cap;
}

void buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_grow(buf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void buf_append_str(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_consume(buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

const char *buf_cstr(buf_t *b)
{
    buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return b->data;
}

int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void fmt_iso_time(int64_t wall_micros, char out[40])
{
    time_t secs = (time_t)(wall_micros / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%06dZ", (int)(wall_micros % 1000000));
}

bool str_ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

bool str_has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

bool write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) goto fail;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            close(fd);
            goto fail_unlink;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) goto fail_unlink;
    if (rename(tmp, path) != 0) goto fail_unlink;
    free(tmp);
    return true;
fail_unlink:
    unlink(tmp);
fail:
    free(tmp);
    return false;
}

char *read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    buf_t b;
    buf_init(&b, 256);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(&b, tmp, n);
    fclose(f);
    buf_cstr(&b);
    if (len_out) *len_out = b.len;
    return b.data;
}

void strcache_clear(strcache_t *c)
{
    for (int i = 0; i < STRCACHE_N; i++) {
        free(c->key[i]);
        free(c->val[i]);
        c->key[i] = c->val[i] = NULL;
    }
}

const char *strcache_get(strcache_t *c, uint64_t version, const char *key)
{
    if (c->version != version) {
        strcache_clear(c);
        c->version = version;
        return NULL;
    }
    for (int i = 0; i < STRCACHE_N; i++)
        if (c->key[i] && !strcmp(c->key[i], key)) return c->val[i];
    return NULL;
}

void strcache_put(strcache_t *c, uint64_t version, const char *key, const char *val, size_t max_key)
{
    if (c->version != version) {
        strcache_clear(c);
        c->version = version;
    }
    if (strlen(key) > max_key) return;
    free(c->key[c->next]);
    free(c->val[c->next]);
    c->key[c->next] = xstrdup(key);
    c->val[c->next] = xstrdup(val);
    c->next = (c->next + 1) % STRCACHE_N;
}
