/* audit.c — segment files, hash chain, group-committed fsync, checkpoints,
 * and the `madang audit` commands (audit.h). */
#include "audit/audit.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gate/lex.h"

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

struct audit {
    char *dir;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;
    int segment;
    size_t seg_bytes;
    uint64_t seq;                 /* last written */
    uint64_t synced;              /* last on disk */
    uint64_t wanted;              /* the newest record a session waits for */
    bool syncer_idle;             /* the syncer waits for work */
    bool rotating;                /* a rotation waits for the flush under way */
    _Atomic uint64_t synced_seen; /* synced, read without the lock */
    _Atomic bool failed_seen;     /* failed, likewise */
    _Atomic uint32_t sync_gen;    /* the futex word: moves at every flush */
    _Atomic int sleepers;         /* sessions asleep on it */
    bool flushing;                /* a write (and sync) of the pending lines is under way */
    bool failed;                  /* a write or sync failed: nothing more is appended */
    uint64_t written;             /* last in the segment file */
    buf_t pending;                /* lines appended, not yet written */
    buf_t spare;                  /* the other buffer: pending's while it is written */
    buf_t scratch;                /* the canonical form being hashed */
    buf_t own;                    /* the writer's members of the record being appended */
    uint64_t pending_first;       /* the seq of the first line in pending */
    size_t file_bytes;            /* what the segment file holds (seg_bytes counts pending too) */
    char last_hash[65];
    unsigned char mac_key[32];
    EVP_MAC_CTX *mac; /* HMAC-SHA256 keyed with mac_key, reset for each record */
    EVP_PKEY *sign_key;
    uint64_t since_checkpoint;
    time_t seg_opened;
    int max_age_s;
    size_t max_bytes;
    time_t ts_sec; /* the second ts_prefix formats */
    char ts_prefix[24];
    audit_listener_fn listener; /* told of the lines written (audit_set_listener) */
    void *listener_ctx;
    pthread_t syncer; /* writes out, every AUDIT_FLUSH_MS, what nobody waits for */
    pthread_cond_t work_cv;
    bool stop;
};

/* ---- helpers ---- */

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The digest and MAC algorithms, fetched once: OpenSSL 3 looks them up in
 * its provider tables on every call that names them by EVP_sha256() or
 * HMAC(), which cost more than hashing a record. */
static EVP_MD *g_sha256;
static EVP_MAC *g_hmac;
static pthread_once_t g_algs_once = PTHREAD_ONCE_INIT;

static void crypto_failed(const char *what)
{
    fprintf(stderr, "madang: %s\n", what);
    abort();
}

static void fetch_algs(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!g_sha256 || !g_hmac) crypto_failed("OpenSSL has no SHA256 or HMAC");
}

void audit_sha256_hex(const char *s, size_t n, char out[65])
{
    pthread_once(&g_algs_once, fetch_algs);
    unsigned char d[32];
    unsigned int len = 0;
    EVP_Digest(s, n, d, &len, g_sha256, NULL);
    hex(d, 32, out);
}

/* An HMAC-SHA256 context keyed with key; free with EVP_MAC_CTX_free. */
static EVP_MAC_CTX *mac_new(const unsigned char key[32])
{
    pthread_once(&g_algs_once, fetch_algs);
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(g_hmac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!c || !EVP_MAC_init(c, key, 32, params)) crypto_failed("cannot set up HMAC-SHA256");
    return c;
}

/* The MAC of a record's hash; the context keeps its key from one to the next. */
static void mac_hex(EVP_MAC_CTX *c, const char *hash, char out[65])
{
    unsigned char d[32];
    size_t len = 0;
    if (!EVP_MAC_init(c, NULL, 0, NULL) || !EVP_MAC_update(c, (const unsigned char *)hash, strlen(hash)) ||
        !EVP_MAC_final(c, d, &len, sizeof d) || len != 32)
        crypto_failed("HMAC-SHA256 failed");
    hex(d, 32, out);
}

/* The time now as "2026-11-26T17:18:12.123456Z" into out; the date and time
 * of day are formatted once a second (under the writer's lock). */
static void now_iso(audit_t *a, char out[40])
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    if (t.tv_sec != a->ts_sec || !a->ts_prefix[0]) {
        struct tm tm;
        gmtime_r(&t.tv_sec, &tm);
        strftime(a->ts_prefix, sizeof a->ts_prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        a->ts_sec = t.tv_sec;
    }
    snprintf(out, 40, "%.23s.%06dZ", a->ts_prefix, (int)(t.tv_nsec / 1000) % 1000000);
}

/* The canonical form: sorted keys, compact, without hash and mac. */
static char *canonical(json_t *rec)
{
    json_t *c = json_copy(rec);
    json_object_del(c, "hash");
    json_object_del(c, "mac");
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    return s;
}

static char *seg_path(const char *dir, int n)
{
    return xasprintf("%s/segment-%06d.jsonl", dir, n);
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Segment numbers in dir, ascending. */
static int *list_segments(const char *dir, int *n)
{
    *n = 0;
    int *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        int k;
        char tail[16];
        if (sscanf(e->d_name, "segment-%d.%15s", &k, tail) == 2 && !strcmp(tail, "jsonl")) {
            out = xrealloc(out, sizeof(int) * (size_t)(*n + 1));
            out[(*n)++] = k;
        }
    }
    closedir(d);
    if (*n) qsort(out, (size_t)*n, sizeof(int), cmp_int);
    return out;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static char *audit_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = xmalloc((size_t)(n > 0 ? n : 0) + 1);
    size_t got = n > 0 ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    b[got] = '\0';
    if (len) *len = got;
    return b;
}

/* ---- keys ---- */

static bool load_keys(audit_t *a, char *err, size_t errlen)
{
    char *mp = xasprintf("%s/mac.key", a->dir);
    size_t n = 0;
    char *m = audit_read_file(mp, &n);
    if (!m) {
        unsigned char k[32];
        char h[65];
        RAND_bytes(k, sizeof k);
        hex(k, 32, h);
        int fd = open(mp, O_WRONLY | O_CREAT | O_EXCL, 0600);
        bool ok = fd >= 0 && write_all(fd, h, 64) && fsync(fd) == 0;
        if (fd >= 0) close(fd);
        if (!ok) {
            snprintf(err, errlen, "cannot create %s: %s", mp, strerror(errno));
            free(mp);
            return false;
        }
        m = xstrdup(h);
        n = 64;
    }
    free(mp);
    for (int i = 0; i < 32 && n >= 64; i++) {
        unsigned int v;
        sscanf(m + 2 * i, "%2x", &v);
        a->mac_key[i] = (unsigned char)v;
    }
    explicit_bzero(m, n);
    free(m);
    char *kp = xasprintf("%s/signing.key", a->dir), *pp = xasprintf("%s/signing.pub", a->dir);
    FILE *f = fopen(kp, "r");
    if (f) {
        a->sign_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
    } else {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
        if (ctx && EVP_PKEY_keygen_init(ctx) > 0) EVP_PKEY_keygen(ctx, &a->sign_key);
        EVP_PKEY_CTX_free(ctx);
        int fd = open(kp, O_WRONLY | O_CREAT | O_EXCL, 0600);
        FILE *o = fd >= 0 ? fdopen(fd, "w") : NULL;
        bool ok = a->sign_key && o && PEM_write_PrivateKey(o, a->sign_key, NULL, NULL, 0, NULL, NULL);
        if (o) fclose(o);
        FILE *p = fopen(pp, "w");
        ok = ok && p && PEM_write_PUBKEY(p, a->sign_key);
        if (p) fclose(p);
        if (!ok) {
            snprintf(err, errlen, "cannot create the audit signing key in %s", a->dir);
            free(kp);
            free(pp);
            return false;
        }
    }
    free(kp);
    free(pp);
    if (!a->sign_key) {
        snprintf(err, errlen, "cannot read the audit signing key in %s", a->dir);
        return false;
    }
    return true;
}

static char *sign_b64(EVP_PKEY *k, const char *msg)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char sig[64];
    size_t n = sizeof sig;
    bool ok = EVP_DigestSignInit(c, NULL, NULL, NULL, k) > 0 &&
              EVP_DigestSign(c, sig, &n, (const unsigned char *)msg, strlen(msg)) > 0;
    EVP_MD_CTX_free(c);
    if (!ok) return NULL;
    char out[128];
    EVP_EncodeBlock((unsigned char *)out, sig, (int)n);
    return xstrdup(out);
}

static bool verify_b64(EVP_PKEY *k, const char *msg, const char *b64)
{
    unsigned char sig[96];
    int n = EVP_DecodeBlock(sig, (const unsigned char *)b64, (int)strlen(b64));
    if (n < 64) return false;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) > 0 &&
              EVP_DigestVerify(c, sig, 64, (const unsigned char *)msg, strlen(msg)) == 1;
    EVP_MD_CTX_free(c);
    return ok;
}

/* ---- writing ---- */

/* Prints record r (members sorted) into b as one compact JSON object, the
 * writer's own members (sorted) merged in key order: without h and mac, the
 * canonical form that is hashed; with them, the line, "hash" and "mac" in
 * their places too. */
static void emit(buf_t *b, const audit_rec_t *r, const audit_member_t *own, int nown, const char *own_text,
                 const char *h, const char *mac)
{
    const audit_member_t hm[2] = {{"hash", 0, 64}, {"mac", 0, 64}};
    int i = 0, j = 0, k = h ? 0 : 2;
    bool first = true;
    buf_reserve(b, r->text.len + 64 + 40 * (size_t)(r->n + nown + 2));
    buf_putc(b, '{');
    for (;;) {
        /* the smallest key of the three sorted lists */
        const audit_member_t *m = NULL;
        const char *text = NULL;
        int which = -1;
        if (i < r->n) m = &r->m[i], text = r->text.data, which = 0;
        if (j < nown && (!m || strcmp(own[j].key, m->key) < 0)) m = &own[j], text = own_text, which = 1;
        if (k < 2 && (!m || strcmp(hm[k].key, m->key) < 0)) m = &hm[k], text = NULL, which = 2;
        if (!m) break;
        if (!first) buf_putc(b, ',');
        first = false;
        buf_putc(b, '"');
        buf_append_str(b, m->key);
        buf_append(b, "\":", 2);
        if (which == 2) {
            buf_putc(b, '"');
            buf_append(b, k == 0 ? h : mac, 64);
            buf_putc(b, '"');
            k++;
        } else {
            buf_append(b, text + m->off, m->len);
            if (which == 0)
                i++;
            else
                j++;
        }
    }
    buf_putc(b, '}');
}

static bool reserved_key(const char *k)
{
    return !strcmp(k, "seq") || !strcmp(k, "ts") || !strcmp(k, "type") || !strcmp(k, "prev_hash") ||
           !strcmp(k, "hash") || !strcmp(k, "mac");
}

/* Appends a record (members sorted) under a->mu; returns its seq. The line
 * goes to a->pending: a session waiting for it (audit_sync) or the syncer
 * writes it out, so no session makes a system call per record. */
static uint64_t append_locked(audit_t *a, const char *type, const audit_rec_t *r)
{
    if (a->failed) return 0;
    uint64_t seq = a->seq + 1;
    char ts[40], seqd[24];
    now_iso(a, ts);
    snprintf(seqd, sizeof seqd, "%llu", (unsigned long long)seq);
    /* the writer's members, in key order: prev_hash, seq, ts, type */
    buf_t *o = &a->own;
    o->len = 0;
    audit_member_t own[4];
    const char *vals[4] = {a->last_hash, NULL, ts, type};
    const char *keys[4] = {"prev_hash", "seq", "ts", "type"};
    for (int i = 0; i < 4; i++) {
        size_t off = o->len;
        if (i == 1)
            buf_append_str(o, seqd);
        else
            audit_json_string(o, vals[i], strlen(vals[i]));
        own[i] = (audit_member_t){keys[i], (uint32_t)off, (uint32_t)(o->len - off)};
    }
    a->scratch.len = 0;
    emit(&a->scratch, r, own, 4, o->data, NULL, NULL);
    char h[65], m[65];
    audit_sha256_hex(a->scratch.data, a->scratch.len, h);
    mac_hex(a->mac, h, m);
    size_t at = a->pending.len;
    emit(&a->pending, r, own, 4, o->data, h, m);
    buf_putc(&a->pending, '\n');
    size_t n = a->pending.len - at;
    a->seq = seq;
    memcpy(a->last_hash, h, 65);
    a->seg_bytes += n;
    a->since_checkpoint++;
    if (at == 0) a->pending_first = seq;
    return seq;
}

static void checkpoint_locked(audit_t *a)
{
    char *msg = xasprintf("madang-audit-checkpoint:%llu:%s", (unsigned long long)a->seq, a->last_hash);
    char *sig = sign_b64(a->sign_key, msg);
    free(msg);
    audit_rec_t r;
    audit_rec_init(&r);
    audit_rec_int(&r, "segment", a->segment);
    audit_rec_str(&r, "signature", sig ? sig : "");
    audit_rec_str(&r, "signed_hash", a->last_hash);
    audit_rec_int(&r, "signed_seq", (int64_t)a->seq);
    free(sig);
    append_locked(a, "checkpoint", &r);
    audit_rec_free(&r);
    a->since_checkpoint = 0;
}

static bool open_segment(audit_t *a, int n)
{
    char *p = seg_path(a->dir, n);
    int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    free(p);
    if (fd < 0) return false;
    struct stat st;
    fstat(fd, &st);
    a->fd = fd;
    a->segment = n;
    a->seg_bytes = a->file_bytes = (size_t)st.st_size;
    a->seg_opened = st.st_size ? st.st_mtime < time(NULL) ? st.st_ctime : time(NULL) : time(NULL);
    return true;
}

/* Sessions wait for the syncer on a futex word, not on the writer's mutex:
 * one sync ends the wait of every session it covers, and none of them takes
 * the lock to find out (a condition variable's broadcast made each of eight
 * waiters queue on the mutex in turn). */
static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *w)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Marks the end of a failed write or sync (under a->mu). */
static void write_failed(audit_t *a, int e, uint64_t target)
{
    log_event(LOG_ERROR, "audit_write_failed", "error=\"%s\" seq=%llu", strerror(e),
              (unsigned long long)target);
    a->failed = true;
    atomic_store(&a->failed_seen, true);
}

/* Lines (whole, consecutive records from seq first) are in the segment
 * file: the listener hears of them now, never before, so the index holds no
 * record a crash of the process could take back. Under a->mu. */
static void written_locked(audit_t *a, const char *lines, size_t n, uint64_t first)
{
    if (n && a->listener) a->listener(a->listener_ctx, lines, n, first, a->segment, a->file_bytes);
    a->file_bytes += n;
}

/* Writes the pending lines out and, when sync, makes them durable: under
 * a->mu, which it lets go of for the system calls. One flush at a time
 * (a->flushing); lines appended meanwhile wait for the next. */
static void flush_locked(audit_t *a, bool sync)
{
    while (a->flushing) pthread_cond_wait(&a->cv, &a->mu);
    if (a->failed || (a->written == a->seq && (!sync || a->synced == a->seq))) return;
    a->flushing = true;
    buf_t out = a->pending;
    a->pending = a->spare;
    uint64_t target = a->seq, first = a->pending_first;
    a->pending_first = 0;
    int fd = a->fd;
    pthread_mutex_unlock(&a->mu);
    bool ok = write_all(fd, out.data, out.len) && (!sync || fdatasync(fd) == 0);
    int e = errno;
    pthread_mutex_lock(&a->mu);
    if (ok) written_locked(a, out.data, out.len, first);
    out.len = 0;
    a->spare = out;
    if (ok) {
        a->written = target;
        if (sync) {
            a->synced = target;
            atomic_store(&a->synced_seen, target);
        }
    } else {
        /* fail closed: nothing more is recorded, so nothing more runs (audit_append returns 0) */
        write_failed(a, e, target);
    }
    a->flushing = false;
    pthread_cond_broadcast(&a->cv);
    atomic_fetch_add(&a->sync_gen, 1);
    if (atomic_load(&a->sleepers)) futex_wake_all(&a->sync_gen);
}

/* The syncer: when a session waits for its record, one write and one
 * fdatasync cover every record appended by then, and the sessions that come
 * to wait meanwhile share the next one (group commit). Records nobody waits
 * for (completions) are written within AUDIT_FLUSH_MS. (Holding a sync back
 * for sessions about to wait, as PostgreSQL's commit_delay does, made no
 * difference that stood out of the noise on this machine: tried and left.) */
static void *syncer_main(void *arg)
{
    audit_t *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        if (a->wanted > a->synced && !a->failed) {
            flush_locked(a, true);
            continue;
        }
        a->syncer_idle = true;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += AUDIT_FLUSH_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&a->work_cv, &a->mu, &ts);
        a->syncer_idle = false;
        if (!a->stop && a->wanted <= a->synced && a->written < a->seq) flush_locked(a, false);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

bool audit_sync(audit_t *a, uint64_t seq)
{
    if (!a) return true;
    if (atomic_load(&a->synced_seen) < seq) {
        pthread_mutex_lock(&a->mu);
        if (a->synced < seq && a->wanted < seq) {
            a->wanted = seq;
            if (a->syncer_idle) pthread_cond_signal(&a->work_cv);
        }
        pthread_mutex_unlock(&a->mu);
    }
    for (;;) {
        uint32_t g = atomic_load(&a->sync_gen);
        if (atomic_load(&a->synced_seen) >= seq) return true;
        if (atomic_load(&a->failed_seen)) return false;
        atomic_fetch_add(&a->sleepers, 1);
        futex_wait(&a->sync_gen, g);
        atomic_fetch_sub(&a->sleepers, 1);
    }
}

/* Closes the segment with a checkpoint and opens the next: all under a->mu
 * once the flush under way is done, so that no record lands between the
 * checkpoint and the new segment and no other rotation starts meanwhile. */
static void rotate_locked(audit_t *a)
{
    if (a->rotating) return;
    a->rotating = true;
    while (a->flushing) pthread_cond_wait(&a->cv, &a->mu);
    a->rotating = false;
    if (a->failed) return;
    checkpoint_locked(a);
    if (!write_all(a->fd, a->pending.data, a->pending.len) || fdatasync(a->fd) != 0) {
        write_failed(a, errno, a->seq);
    } else {
        written_locked(a, a->pending.data, a->pending.len, a->pending_first);
        a->pending.len = 0;
        a->pending_first = 0;
        a->written = a->synced = a->seq;
        atomic_store(&a->synced_seen, a->seq);
        close(a->fd);
        if (!open_segment(a, a->segment + 1)) write_failed(a, errno, a->seq);
    }
    atomic_fetch_add(&a->sync_gen, 1);
    if (atomic_load(&a->sleepers)) futex_wake_all(&a->sync_gen);
}

uint64_t audit_append(audit_t *a, const char *type, audit_rec_t *r, bool durable)
{
    if (!a) return 0;
    audit_rec_sort(r);
    /* the writer's own members are not the caller's to set */
    int k = 0;
    for (int i = 0; i < r->n; i++)
        if (!reserved_key(r->m[i].key)) r->m[k++] = r->m[i];
    r->n = k;
    pthread_mutex_lock(&a->mu);
    uint64_t seq = append_locked(a, type, r);
    if (seq && a->since_checkpoint >= AUDIT_CHECKPOINT_EVERY) checkpoint_locked(a);
    if (seq && (a->seg_bytes >= (a->max_bytes ? a->max_bytes : AUDIT_SEGMENT_BYTES) ||
                (a->max_age_s && time(NULL) - a->seg_opened >= a->max_age_s)))
        rotate_locked(a);
    if (seq && !durable && a->pending.len >= AUDIT_PENDING_BYTES) pthread_cond_signal(&a->work_cv);
    pthread_mutex_unlock(&a->mu);
    if (seq && durable && !audit_sync(a, seq)) return 0;
    return seq;
}

uint64_t audit_write(audit_t *a, const char *type, json_t *fields, bool durable)
{
    if (!a) {
        json_decref(fields);
        return 0;
    }
    audit_rec_t r;
    audit_rec_init(&r);
    const char *k;
    json_t *v;
    json_object_foreach(fields, k, v) audit_rec_json(&r, k, v);
    uint64_t seq = audit_append(a, type, &r, durable);
    audit_rec_free(&r); /* the keys are the object's: it goes last */
    json_decref(fields);
    return seq;
}

/* Reads the last complete record of the newest segment; cuts a torn tail. */
static bool recover(audit_t *a, char *err, size_t errlen)
{
    int n;
    int *segs = list_segments(a->dir, &n);
    snprintf(a->last_hash, sizeof a->last_hash, "%s", GENESIS);
    a->seq = 0;
    if (n == 0) {
        free(segs);
        return open_segment(a, 1) ||
               (snprintf(err, errlen, "cannot create an audit segment in %s", a->dir), false);
    }
    /* the newest segment with a record (an empty newest one takes the chain from the one before) */
    for (int i = n - 1; i >= 0; i--) {
        char *p = seg_path(a->dir, segs[i]);
        size_t len = 0;
        char *b = audit_read_file(p, &len);
        if (b) {
            size_t end = len;
            while (end && b[end - 1] != '\n') end--;
            if (end != len && i == n - 1) {
                log_event(LOG_WARN, "audit_torn_tail", "segment=%d bytes=%zu", segs[i], len - end);
                if (truncate(p, (off_t)end) != 0) {
                    snprintf(err, errlen, "cannot cut the torn tail of %s", p);
                    free(b);
                    free(p);
                    free(segs);
                    return false;
                }
            }
            if (end) {
                size_t start = end - 1;
                while (start && b[start - 1] != '\n') start--;
                json_error_t je;
                json_t *rec = json_loadb(b + start, end - start, 0, &je);
                const char *h = json_string_value(json_object_get(rec, "hash"));
                if (!rec || !h) {
                    snprintf(err, errlen,
                             "the last audit record in %s cannot be read; run madang audit verify", p);
                    json_decref(rec);
                    free(b);
                    free(p);
                    free(segs);
                    return false;
                }
                a->seq = (uint64_t)json_integer_value(json_object_get(rec, "seq"));
                snprintf(a->last_hash, sizeof a->last_hash, "%s", h);
                json_decref(rec);
                free(b);
                free(p);
                break;
            }
            free(b);
        }
        free(p);
    }
    bool ok = open_segment(a, segs[n - 1]);
    free(segs);
    if (!ok) snprintf(err, errlen, "cannot open the audit segment in %s", a->dir);
    a->synced = a->written = a->seq;
    atomic_store(&a->synced_seen, a->seq);
    return ok;
}

audit_t *audit_open(const char *data_dir, char *err, size_t errlen)
{
    audit_t *a = xcalloc(1, sizeof *a);
    a->dir = xasprintf("%s/audit", data_dir);
    a->fd = -1;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    buf_init(&a->pending, 64 * 1024);
    buf_init(&a->spare, 64 * 1024);
    buf_init(&a->scratch, 4096);
    buf_init(&a->own, 256);
    pthread_cond_init(&a->work_cv, NULL);
    if (mkdir(a->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", a->dir, strerror(errno));
        goto fail;
    }
    if (!load_keys(a, err, errlen)) goto fail;
    a->mac = mac_new(a->mac_key);
    if (!recover(a, err, errlen)) goto fail;
    if (pthread_create(&a->syncer, NULL, syncer_main, a) != 0) {
        snprintf(err, errlen, "cannot start the audit syncer");
        goto fail;
    }
    return a;
fail:
    if (a->sign_key) EVP_PKEY_free(a->sign_key);
    EVP_MAC_CTX_free(a->mac);
    buf_free(&a->pending);
    buf_free(&a->spare);
    buf_free(&a->scratch);
    buf_free(&a->own);
    free(a->dir);
    free(a);
    return NULL;
}

uint64_t audit_last_seq(audit_t *a)
{
    pthread_mutex_lock(&a->mu);
    uint64_t seq = a->seq;
    pthread_mutex_unlock(&a->mu);
    return seq;
}

void audit_set_listener(audit_t *a, audit_listener_fn fn, void *ctx)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->listener = fn;
    a->listener_ctx = ctx;
    pthread_mutex_unlock(&a->mu);
}

void audit_set_limits(audit_t *a, int max_age_s, size_t max_bytes)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->max_age_s = max_age_s;
    a->max_bytes = max_bytes;
    pthread_mutex_unlock(&a->mu);
}

/* The ts of a segment's last record (heap) or NULL. */
static char *last_ts(const char *dir, int seg, char *hash_out, uint64_t *seq_out)
{
    char *p = seg_path(dir, seg);
    char *b = audit_read_file(p, NULL);
    free(p);
    if (!b) return NULL;
    size_t len = strlen(b);
    while (len && b[len - 1] == '\n') len--;
    size_t start = len;
    while (start && b[start - 1] != '\n') start--;
    json_error_t je;
    json_t *r = json_loadb(b + start, len - start, 0, &je);
    free(b);
    char *ts = r && json_string_value(json_object_get(r, "ts"))
                   ? xstrdup(json_string_value(json_object_get(r, "ts")))
                   : NULL;
    if (r && hash_out) snprintf(hash_out, 65, "%s", json_string_value(json_object_get(r, "hash")) ?: "");
    if (r && seq_out) *seq_out = (uint64_t)json_integer_value(json_object_get(r, "seq"));
    json_decref(r);
    return ts;
}

void audit_purge(audit_t *a, int days)
{
    if (!a || days <= 0) return;
    time_t cut = time(NULL) - (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&cut, &tm);
    char cutoff[32];
    strftime(cutoff, sizeof cutoff, "%Y-%m-%dT%H:%M:%S", &tm);
    pthread_mutex_lock(&a->mu);
    int n;
    int *segs = list_segments(a->dir, &n);
    json_t *gone = json_array();
    uint64_t through = 0;
    char through_hash[65] = "";
    /* oldest first, never the segment being written, and only a prefix (the chain stays whole) */
    for (int i = 0; i < n && segs[i] != a->segment; i++) {
        char h[65];
        uint64_t sq = 0;
        char *ts = last_ts(a->dir, segs[i], h, &sq);
        bool old = ts && strcmp(ts, cutoff) < 0;
        free(ts);
        if (!old) break;
        char *p = seg_path(a->dir, segs[i]);
        if (unlink(p) == 0) {
            json_array_append_new(gone, json_integer(segs[i]));
            through = sq;
            memcpy(through_hash, h, 65);
        }
        free(p);
    }
    free(segs);
    if (json_array_size(gone)) {
        audit_rec_t r;
        audit_rec_init(&r);
        audit_rec_str(&r, "cutoff", cutoff);
        audit_rec_int(&r, "retention_days", days);
        audit_rec_json(&r, "segments", gone);
        audit_rec_str(&r, "through_hash", through_hash);
        audit_rec_int(&r, "through_seq", (int64_t)through);
        append_locked(a, "purge", &r);
        audit_rec_free(&r);
        log_event(LOG_INFO, "audit_purged", "through_seq=%llu", (unsigned long long)through);
    }
    json_decref(gone);
    pthread_mutex_unlock(&a->mu);
}

void audit_close(audit_t *a)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    checkpoint_locked(a);
    a->stop = true;
    pthread_cond_broadcast(&a->work_cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->syncer, NULL);
    pthread_mutex_lock(&a->mu);
    flush_locked(a, true);
    close(a->fd);
    pthread_mutex_unlock(&a->mu);
    buf_free(&a->pending);
    buf_free(&a->spare);
    buf_free(&a->scratch);
    buf_free(&a->own);
    EVP_PKEY_free(a->sign_key);
    EVP_MAC_CTX_free(a->mac);
    explicit_bzero(a->mac_key, sizeof a->mac_key);
    free(a->dir);
    free(a);
}

/* ---- redaction ---- */

/* Whether a string literal's text (with its quotes) holds a connection
 * string's password (ATTACH 'host=… password=…'). */
static bool holds_password(const char *p, size_t n)
{
    /* a URI's user info: scheme://user:password@host */
    for (size_t i = 0; i + 3 <= n; i++) {
        if (memcmp(p + i, "://", 3) != 0) continue;
        bool colon = false;
        for (size_t j = i + 3; j < n && p[j] != '/' && p[j] != '\''; j++) {
            if (p[j] == ':') colon = true;
            if (p[j] == '@' && colon) return true;
        }
    }
    for (size_t i = 0; i + 8 <= n; i++) {
        if (strncasecmp(p + i, "password", 8) != 0) continue;
        size_t j = i + 8;
        while (j < n && isspace((unsigned char)p[j])) j++;
        if (j < n && (p[j] == '=' || p[j] == ':')) return true;
    }
    return false;
}

/* The statement text with secrets replaced by '***', keeping every other
 * byte: the literal after PASSWORD in any of PostgreSQL's spellings ('…',
 * E'…', $$…$$, $tag$…$tag$, U&'…', comments between), every literal of a
 * CREATE SECRET, a literal holding "password=", and mdt_ token secrets
 * anywhere. Text the lexer cannot read past after PASSWORD (an unterminated
 * literal) is replaced to its end: nothing is guessed out. */
char *audit_redact(const char *sql)
{
    size_t n = strlen(sql);
    /* the byte ranges to replace, in order */
    struct {
        size_t from, to;
    } cut[64];
    int ncut = 0;
    /* a cut; when they run out, the last one takes the rest of the text */
#define ADD_CUT(f, t_)                                                                                       \
    do {                                                                                                     \
        cut[ncut].from = (f);                                                                                \
        cut[ncut].to = ncut == (int)ARRAY_LEN(cut) - 1 ? n : (t_);                                           \
        if (++ncut == (int)ARRAY_LEN(cut)) goto lexed;                                                       \
    } while (0)
    bool whole_literals = false; /* CREATE … SECRET: every literal */
    lex_t l;
    lex_init(&l, sql, n);
    lex_tok_t prev = {0}, prev2 = {0};
    bool after_password = false;
    for (;;) {
        lex_tok_t t = lex_next(&l);
        if (t.type == TK_EOF) break;
        if (t.type == TK_ERROR) {
            /* an unterminated literal or comment: after PASSWORD, or in a
             * statement that names a secret, the rest of the text goes */
            if (after_password || whole_literals) ADD_CUT(t.offset, n);
            break;
        }
        if (t.type == TK_SEMI) whole_literals = false;
        if (t.type == TK_IDENT && lex_is(&t, "SECRET") && prev.type == TK_IDENT &&
            (lex_is(&prev, "CREATE") || lex_is(&prev, "REPLACE") || lex_is(&prev, "PERSISTENT") ||
             lex_is(&prev, "TEMPORARY") || lex_is(&prev, "TEMP")))
            whole_literals = true;
        if (t.type == TK_QIDENT && after_password) {
            /* PASSWORD "…" (refused by the parser, but sent) */
            ADD_CUT(t.offset, t.offset + t.len);
        } else if (t.type == TK_STRING) {
            size_t from = t.offset;
            /* U&'…': the U& goes with it */
            if (after_password && prev.type == TK_OP && prev.len == 1 && prev.p[0] == '&' &&
                prev2.type == TK_IDENT && prev2.len == 1 && (prev2.p[0] == 'u' || prev2.p[0] == 'U') &&
                prev2.offset + 1 == prev.offset && prev.offset + 1 == t.offset)
                from = prev2.offset;
            if (after_password || whole_literals || holds_password(t.p, t.len))
                ADD_CUT(from, t.offset + t.len);
        }
        /* PASSWORD's literal may come after U& (two tokens), and go on in
         * literals that follow it (PostgreSQL joins 'a'<newline>'b') */
        if (after_password && !(t.type == TK_IDENT && t.len == 1 && (t.p[0] == 'u' || t.p[0] == 'U')) &&
            !(t.type == TK_OP && t.len == 1 && t.p[0] == '&') && t.type != TK_STRING && t.type != TK_QIDENT)
            after_password = false;
        if (t.type == TK_IDENT && lex_is(&t, "PASSWORD")) after_password = true;
        prev2 = prev;
        prev = t;
    }
lexed:
#undef ADD_CUT
    buf_t b;
    buf_init(&b, n + 16);
    size_t at = 0;
    for (int k = 0; k <= ncut; k++) {
        size_t upto = k < ncut ? cut[k].from : n;
        /* token secrets, in what is kept */
        for (size_t i = at; i < upto;) {
            if (i + 4 <= upto && !strncmp(sql + i, "mdt_", 4)) {
                size_t j = i + 4;
                while (j < upto && isxdigit((unsigned char)sql[j])) j++;
                if (j - i >= 20) {
                    buf_append_str(&b, "mdt_***");
                    i = j;
                    continue;
                }
            }
            buf_putc(&b, sql[i++]);
        }
        if (k < ncut) {
            buf_append_str(&b, "'***'");
            at = cut[k].to;
        }
    }
    buf_cstr(&b);
    return b.data;
}

/* ---- madang audit verify / export / pubkey ---- */

static int usage(FILE *f)
{
    fprintf(f, "usage: madang audit verify --data DIR [--anchor [SEQ:]HASH] [--pubkey FILE]\n"
               "       madang audit export --data DIR [--since TS] --format jsonl|syslog [--socket PATH]\n"
               "       madang audit pubkey --data DIR\n"
               "\n"
               "verify checks every record's hash chain, MAC and the signed checkpoints, and\n"
               "names the first bad record; with --anchor (a record hash kept elsewhere) it\n"
               "also detects a cut tail; with --pubkey (the key `pubkey` exported, kept\n"
               "elsewhere) checkpoints are checked against it, not the data dir's.\n"
               "export prints records (RFC 5424 lines for syslog).\n");
    return f == stdout ? 0 : 2;
}

static int verify(const char *data, const char *anchor, const char *pubkey)
{
    char *dir = xasprintf("%s/audit", data);
    audit_t k = {.dir = dir};
    char err[256];
    /* keys must exist already: verifying never creates them. The checkpoints'
     * key: the one exported earlier and kept elsewhere (--pubkey), or the data dir's */
    char *mp = xasprintf("%s/mac.key", dir),
         *pp = pubkey ? xstrdup(pubkey) : xasprintf("%s/signing.pub", dir);
    size_t mlen;
    char *m = audit_read_file(mp, &mlen);
    FILE *pf = fopen(pp, "r");
    EVP_PKEY *pub = pf ? PEM_read_PUBKEY(pf, NULL, NULL, NULL) : NULL;
    if (pf) fclose(pf);
    free(mp);
    free(pp);
    if (!m || mlen < 64 || !pub) {
        if (pubkey && !pub)
            fprintf(stderr, "madang audit verify: %s is not a public key (madang audit pubkey writes one)\n",
                    pubkey);
        else
            fprintf(stderr, "madang audit verify: no audit keys in %s\n", dir);
        free(m);
        free(dir);
        return 2;
    }
    for (int i = 0; i < 32; i++) {
        unsigned int v;
        sscanf(m + 2 * i, "%2x", &v);
        k.mac_key[i] = (unsigned char)v;
    }
    free(m);
    k.mac = mac_new(k.mac_key);
    UNUSED(err);
    int n;
    int *segs = list_segments(dir, &n);
    uint64_t expect = 1;
    char prev[65] = GENESIS;
    /* segments purged by retention: the chain starts later, and a purge record must say so */
    uint64_t gap_seq = 0;
    char gap_hash[65] = "";
    bool gap_justified = true;
    if (n > 0 && segs[0] != 1) {
        char *p0 = seg_path(dir, segs[0]);
        char *b0 = audit_read_file(p0, NULL);
        free(p0);
        char *nl0 = b0 ? strchr(b0, '\n') : NULL;
        json_error_t je0;
        json_t *r0 = nl0 ? json_loadb(b0, (size_t)(nl0 - b0), 0, &je0) : NULL;
        if (r0) {
            expect = (uint64_t)json_integer_value(json_object_get(r0, "seq"));
            snprintf(prev, sizeof prev, "%s", json_string_value(json_object_get(r0, "prev_hash")) ?: "");
            gap_seq = expect - 1;
            snprintf(gap_hash, sizeof gap_hash, "%s", prev);
            gap_justified = false;
        }
        json_decref(r0);
        free(b0);
    }
    bool anchor_seen = anchor == NULL;
    /* --anchor HASH, or SEQ:HASH (then an anchor whose record retention purged is told apart from a cut) */
    uint64_t anchor_seq = 0;
    bool anchor_ok = true;
    if (anchor && strchr(anchor, ':')) {
        size_t digits = strspn(anchor, "0123456789");
        anchor_ok = digits > 0 && anchor[digits] == ':';
        anchor_seq = strtoull(anchor, NULL, 10);
        anchor_ok = anchor_ok && anchor_seq > 0;
        anchor = strchr(anchor, ':') + 1;
    }
    uint64_t anchor_found_at = 0; /* the seq of the record with the anchor's hash */
    if (anchor && (!anchor_ok || strlen(anchor) != 64 || strspn(anchor, "0123456789abcdef") != 64)) {
        fprintf(stderr, "madang audit verify: --anchor is a record's hash (64 hex digits), or SEQ:HASH\n");
        free(segs);
        EVP_PKEY_free(pub);
        EVP_MAC_CTX_free(k.mac);
        free(dir);
        return 2;
    }
    uint64_t purged_through = 0; /* the newest verified purge record's through_seq */
    int rc = 0;
    uint64_t total = 0;
    for (int s = 0; s < n && rc == 0; s++) {
        if (s > 0 && segs[s] != segs[s - 1] + 1) {
            fprintf(stderr, "audit: segment %06d is missing (before record seq %llu)\n", segs[s - 1] + 1,
                    (unsigned long long)expect);
            rc = 1;
            break;
        }
        char *p = seg_path(dir, segs[s]);
        size_t len;
        char *b = audit_read_file(p, &len);
        int lineno = 0;
        for (char *line = b; line && *line && rc == 0;) {
            char *nl = strchr(line, '\n');
            lineno++;
            if (!nl) {
                fprintf(stderr, "audit: segment %06d line %d: incomplete record after seq %llu\n", segs[s],
                        lineno, (unsigned long long)(expect - 1));
                rc = 1;
                break;
            }
            json_error_t je;
            json_t *rec = json_loadb(line, (size_t)(nl - line), JSON_REJECT_DUPLICATES, &je);
            uint64_t seq = rec ? (uint64_t)json_integer_value(json_object_get(rec, "seq")) : 0;
            /* the bytes on disk must be exactly what was hashed: the canonical dump of the record */
            bool exact = false;
            if (rec) {
                char *again = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
                exact = again && strlen(again) == (size_t)(nl - line) &&
                        !memcmp(again, line, (size_t)(nl - line));
                free(again);
            }
            const char *h = json_string_value(json_object_get(rec, "hash"));
            const char *mc = json_string_value(json_object_get(rec, "mac"));
            const char *ph = json_string_value(json_object_get(rec, "prev_hash"));
            const char *where = "";
            char what[200] = "";
            if (!rec || !h || !mc || !ph) {
                snprintf(what, sizeof what, "not a record (%s)",
                         rec ? "missing seq/hash/mac/prev_hash" : je.text);
            } else if (!exact) {
                snprintf(what, sizeof what,
                         "the line is not its record's canonical form (the record was edited)");
            } else if (seq != expect) {
                snprintf(what, sizeof what,
                         "seq %llu where %llu was expected (a record was deleted, inserted or "
                         "moved)",
                         (unsigned long long)seq, (unsigned long long)expect);
            } else if (strcmp(ph, prev) != 0) {
                snprintf(what, sizeof what,
                         "prev_hash does not match the record before (reordered or inserted)");
            } else {
                char *c = canonical(rec);
                char hh[65], mm[65];
                audit_sha256_hex(c, strlen(c), hh);
                free(c);
                mac_hex(k.mac, h, mm);
                if (strcmp(hh, h) != 0)
                    snprintf(what, sizeof what, "hash does not match its content (the record was edited)");
                else if (strcmp(mm, mc) != 0)
                    snprintf(what, sizeof what, "MAC does not match (the record was forged)");
                else if (!strcmp(json_string_value(json_object_get(rec, "type")) ?: "", "checkpoint")) {
                    uint64_t ss = (uint64_t)json_integer_value(json_object_get(rec, "signed_seq"));
                    const char *sh = json_string_value(json_object_get(rec, "signed_hash"));
                    const char *sig = json_string_value(json_object_get(rec, "signature"));
                    char *msg =
                        xasprintf("madang-audit-checkpoint:%llu:%s", (unsigned long long)ss, sh ? sh : "");
                    if (ss != seq - 1 || !sh || strcmp(sh, prev) != 0 || !sig || !verify_b64(pub, msg, sig))
                        snprintf(what, sizeof what, "checkpoint signature does not verify");
                    free(msg);
                }
            }
            if (what[0]) {
                fprintf(stderr, "audit: record seq %llu (segment %06d line %d): %s%s\n",
                        (unsigned long long)(seq ? seq : expect), segs[s], lineno, what, where);
                rc = 1;
            } else {
                const char *ty = json_string_value(json_object_get(rec, "type"));
                if (!gap_justified && ty && !strcmp(ty, "purge") &&
                    (uint64_t)json_integer_value(json_object_get(rec, "through_seq")) == gap_seq &&
                    !strcmp(json_string_value(json_object_get(rec, "through_hash")) ?: "", gap_hash))
                    gap_justified = true;
                if (ty && !strcmp(ty, "purge")) {
                    uint64_t th = (uint64_t)json_integer_value(json_object_get(rec, "through_seq"));
                    if (th > purged_through) purged_through = th;
                    if (anchor &&
                        !strcmp(json_string_value(json_object_get(rec, "through_hash")) ?: "", anchor) &&
                        (!anchor_seq || anchor_seq == th))
                        anchor_seen = true; /* the last record purged */
                }
                if (anchor && !strcmp(anchor, h)) {
                    anchor_found_at = seq;
                    anchor_seen = !anchor_seq || anchor_seq == seq;
                }
                snprintf(prev, sizeof prev, "%s", h);
                expect++;
                total++;
            }
            json_decref(rec);
            line = nl + 1;
        }
        free(b);
        free(p);
    }
    if (rc == 0 && !gap_justified) {
        fprintf(stderr,
                "audit: records before seq %llu are missing (segments deleted without a purge record)\n",
                (unsigned long long)(gap_seq + 1));
        rc = 1;
    }
    if (rc == 0 && !anchor_seen && anchor_seq && !anchor_found_at && anchor_seq <= purged_through) {
        /* its record was purged by retention, and a verified purge record says so */
        printf("audit: anchor seq %llu was purged by retention (records through seq %llu)\n",
               (unsigned long long)anchor_seq, (unsigned long long)purged_through);
        anchor_seen = true;
    }
    if (rc == 0 && !anchor_seen) {
        if (anchor_seq && anchor_found_at)
            fprintf(stderr,
                    "audit: anchor %llu:%s names record seq %llu, but that hash is record seq %llu's\n",
                    (unsigned long long)anchor_seq, anchor, (unsigned long long)anchor_seq,
                    (unsigned long long)anchor_found_at);
        else if (anchor_seq && anchor_seq < expect)
            fprintf(stderr,
                    "audit: anchor %llu:%s does not match record seq %llu (the record was replaced)\n",
                    (unsigned long long)anchor_seq, anchor, (unsigned long long)anchor_seq);
        else if (purged_through && !anchor_seq)
            fprintf(
                stderr,
                "audit: anchor %s not found: the log was cut after record seq %llu, or the anchor's record "
                "was purged by retention (records through seq %llu are); give it as SEQ:HASH to tell\n",
                anchor, (unsigned long long)(expect - 1), (unsigned long long)purged_through);
        else
            fprintf(stderr, "audit: anchor %s not found: the log was cut after record seq %llu\n", anchor,
                    (unsigned long long)(expect - 1));
        rc = 1;
    }
    if (rc == 0)
        printf("audit: %llu records verified, last hash %s (keep %llu:%s as an anchor)\n",
               (unsigned long long)total, prev, (unsigned long long)(expect - 1), prev);
    free(segs);
    EVP_PKEY_free(pub);
    EVP_MAC_CTX_free(k.mac);
    free(dir);
    return rc;
}

/* A time as microseconds since the epoch: YYYY-MM-DD, then optionally T or a
 * space, HH:MM[:SS[.frac]], then optionally Z or ±HH[:MM] (no zone: UTC, as
 * the records' own times are). False when s is not such a time. */
bool audit_parse_time(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, n = 0;
    double sec = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return false;
    const char *p = s + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        int m2 = 0;
        if (sscanf(p, "%2d:%2d%n", &h, &mi, &m2) != 2 || m2 != 5) return false;
        p += m2;
        if (*p == ':') {
            char *e;
            sec = strtod(p + 1, &e);
            if (e == p + 1 || sec < 0 || sec >= 61) return false;
            p = e;
        }
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = 0, om = 0, m3 = 0;
        if (sscanf(p + 1, "%2d%n", &oh, &m3) != 1 || m3 != 2) return false;
        const char *q = p + 3;
        if (*q == ':') q++;
        if (isdigit((unsigned char)*q)) {
            if (sscanf(q, "%2d%n", &om, &m3) != 1 || m3 != 2) return false;
            q += 2;
        }
        off = (int64_t)(oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p = q;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    int64_t t = (int64_t)timegm(&tm);
    *out = (t - off) * 1000000 + (int64_t)(sec * 1e6 + 0.5);
    return true;
}

static int export_records(const char *data, const char *since_text, const char *format, const char *sock_path)
{
    int64_t since_us = 0;
    const char *since = since_text;
    if (since && !audit_parse_time(since, &since_us)) {
        fprintf(stderr,
                "madang audit export: --since '%s' is not a time: say 2026-11-27, 2026-11-27T09:30:00Z or "
                "2026-11-27 18:30:00+09:00 (no zone: UTC)\n",
                since);
        return 2;
    }
    int sock = -1;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (sock_path) {
        if (strlen(sock_path) >= sizeof sun.sun_path || (sock = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0) {
            fprintf(stderr, "madang audit export: cannot use socket %s\n", sock_path);
            return 1;
        }
        snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sock_path);
    }
    int rc = 0;
    char *dir = xasprintf("%s/audit", data);
    int n;
    int *segs = list_segments(dir, &n);
    char host[256] = "-";
    gethostname(host, sizeof host - 1);
    for (int s = 0; s < n; s++) {
        char *p = seg_path(dir, segs[s]);
        char *b = audit_read_file(p, NULL);
        for (char *line = b; line && *line;) {
            char *nl = strchr(line, '\n');
            if (!nl) break;
            json_error_t je;
            json_t *rec = json_loadb(line, (size_t)(nl - line), 0, &je);
            const char *ts = json_string_value(json_object_get(rec, "ts"));
            int64_t at = 0;
            if (rec && ts && (!since || (audit_parse_time(ts, &at) && at >= since_us))) {
                if (!strcmp(format, "syslog")) {
                    /* RFC 5424: <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG; facility 13 (log audit), info
                     */
                    if (sock >= 0) {
                        char *msg =
                            xasprintf("<110>1 %s %s madang - audit - %.*s", ts, host, (int)(nl - line), line);
                        if (sendto(sock, msg, strlen(msg), 0, (struct sockaddr *)&sun, sizeof sun) < 0 &&
                            rc == 0) {
                            fprintf(stderr, "madang audit export: sending to %s: %s\n", sock_path,
                                    strerror(errno));
                            rc = 1;
                        }
                        free(msg);
                    } else {
                        printf("<110>1 %s %s madang - audit - %.*s\n", ts, host, (int)(nl - line), line);
                    }
                } else {
                    printf("%.*s\n", (int)(nl - line), line);
                }
            }
            json_decref(rec);
            line = nl + 1;
        }
        free(b);
        free(p);
    }
    free(segs);
    free(dir);
    if (sock >= 0) close(sock);
    return rc;
}

int audit_main(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    const char *cmd = argv[1], *data = NULL, *anchor = NULL, *since = NULL, *format = NULL, *sock = NULL,
               *pubkey = NULL;
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) return usage(stdout);
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) return usage(stdout);
        if (i + 1 >= argc) {
            fprintf(stderr, "madang audit: option %s needs a value\n", o);
            return 2;
        }
        if (!strcmp(o, "--data"))
            data = argv[++i];
        else if (!strcmp(o, "--anchor"))
            anchor = argv[++i];
        else if (!strcmp(o, "--pubkey"))
            pubkey = argv[++i];
        else if (!strcmp(o, "--since"))
            since = argv[++i];
        else if (!strcmp(o, "--format"))
            format = argv[++i];
        else if (!strcmp(o, "--socket"))
            sock = argv[++i];
        else {
            fprintf(stderr, "madang audit: unknown option '%s'\n", o);
            return usage(stderr);
        }
    }
    if (!data) {
        fprintf(stderr, "madang audit %s: --data DIR is required\n", cmd);
        return 2;
    }
    if (!strcmp(cmd, "verify")) return verify(data, anchor, pubkey);
    if (!strcmp(cmd, "export")) {
        if (!format) format = "jsonl";
        if (strcmp(format, "jsonl") && strcmp(format, "syslog")) {
            fprintf(stderr, "madang audit export: --format is jsonl or syslog\n");
            return 2;
        }
        if (sock && strcmp(format, "syslog") != 0) {
            fprintf(stderr, "madang audit export: --socket sends syslog lines: add --format syslog\n");
            return 2;
        }
        return export_records(data, since, format, sock);
    }
    if (!strcmp(cmd, "pubkey")) {
        char *p = xasprintf("%s/audit/signing.pub", data);
        char *b = audit_read_file(p, NULL);
        free(p);
        if (!b) {
            fprintf(stderr, "madang audit pubkey: no key in %s/audit\n", data);
            return 1;
        }
        fputs(b, stdout);
        free(b);
        return 0;
    }
    fprintf(stderr, "madang audit: unknown command '%s'\n", cmd);
    return usage(stderr);
}
