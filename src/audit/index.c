/* index.c — following the audit segments into meta.db (index.h). */
#include "audit/index.h"

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A record handed over by the writer (audit_index_hand_over): indexed from
 * memory instead of read back from its segment and parsed again. */
typedef struct {
    json_t *rec;
    uint64_t seq;
    int segment;
    size_t end; /* the segment's size after the record */
} handed_t;

#define HAND_MAX 65536 /* beyond that the records wait in the segments */

struct audit_index {
    meta_t *m;
    char *dir;
    pthread_t thread;
    pthread_mutex_t mu; /* one catch-up at a time */
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stop;
    int segment; /* where the next record is read */
    long offset;
    uint64_t last_seq;
    pthread_mutex_t hand_mu; /* the writer's hand-over queue */
    handed_t *hand;
    int nhand, cap;
};

static bool max_cb(void *ctx, int n, const char **c)
{
    if (n >= 1 && c[0]) *(uint64_t *)ctx = strtoull(c[0], NULL, 10);
    return false;
}

static const char *js(json_t *r, const char *k)
{
    return json_string_value(json_object_get(r, k));
}

static char *jnum(json_t *r, const char *k, char *buf, size_t n)
{
    json_t *v = json_object_get(r, k);
    if (!json_is_integer(v)) return NULL;
    snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    return buf;
}

static char *jdump(json_t *r, const char *k)
{
    json_t *v = json_object_get(r, k);
    return v ? json_dumps(v, JSON_COMPACT) : NULL;
}

static void insert(audit_index_t *x, json_t *r, int segment)
{
    char seq[32], sid[32], rows[32], dur[32], sseq[32], seg[16];
    snprintf(seg, sizeof seg, "%d", segment);
    char *objects = jdump(r, "objects"), *policies = jdump(r, "policies");
    const char *type = js(r, "type");
    const char *rule = js(r, "rule") ? js(r, "rule") : js(r, "reason") ? js(r, "reason") : js(r, "error");
    const char *args[] = {jnum(r, "seq", seq, sizeof seq),
                          js(r, "ts"),
                          type,
                          jnum(r, "session_id", sid, sizeof sid),
                          js(r, "real_user"),
                          js(r, "user"),
                          js(r, "client_addr"),
                          js(r, "application_name"),
                          js(r, "door"),
                          js(r, "statement"),
                          js(r, "fingerprint"),
                          js(r, "kind"),
                          js(r, "decision"),
                          rule,
                          js(r, "sqlstate"),
                          jnum(r, "rows", rows, sizeof rows),
                          jnum(r, "duration_us", dur, sizeof dur),
                          objects,
                          policies,
                          js(r, "outcome"),
                          jnum(r, "statement_seq", sseq, sizeof sseq),
                          seg};
    if (args[0] && args[1] && args[2])
        (void)meta_exec(
            x->m,
            "INSERT OR IGNORE INTO audit_index (seq, ts, type, session_id, real_user, user_name, "
            "client_addr, application_name, door, statement, fingerprint, kind, decision, rule, sqlstate, "
            "rows, duration_us, objects, policies, outcome, statement_seq, segment) VALUES (?1, ?2, ?3, "
            "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
            22, args, NULL, 0);
    free(objects);
    free(policies);
}

static bool segment_exists(const char *dir, int n)
{
    char *p = xasprintf("%s/segment-%06d.jsonl", dir, n);
    FILE *f = fopen(p, "r");
    free(p);
    if (f) fclose(f);
    return f != NULL;
}

void audit_index_hand_over(void *ctx, json_t *rec, uint64_t seq, int segment, size_t end)
{
    audit_index_t *x = ctx;
    pthread_mutex_lock(&x->hand_mu);
    if (x->nhand == x->cap && x->cap < HAND_MAX) {
        x->cap = x->cap ? x->cap * 2 : 256;
        x->hand = xrealloc(x->hand, sizeof *x->hand * (size_t)x->cap);
    }
    if (x->nhand < x->cap) x->hand[x->nhand++] = (handed_t){json_incref(rec), seq, segment, end};
    pthread_mutex_unlock(&x->hand_mu);
}

static void read_segments(audit_index_t *x);

/* Indexes the handed-over records that follow the last one indexed; a gap
 * (records the queue had no room for) is read from the segments. Under x->mu. */
static void index_handed(audit_index_t *x)
{
    pthread_mutex_lock(&x->hand_mu);
    handed_t *h = x->hand;
    int n = x->nhand;
    x->hand = NULL;
    x->nhand = x->cap = 0;
    pthread_mutex_unlock(&x->hand_mu);
    if (!n) {
        free(h);
        return;
    }
    bool began = meta_begin(x->m);
    for (int i = 0; i < n; i++) {
        if (h[i].seq > x->last_seq + 1) {
            if (began && !meta_commit(x->m)) meta_rollback(x->m);
            read_segments(x);
            began = meta_begin(x->m);
        }
        if (h[i].seq == x->last_seq + 1) {
            insert(x, h[i].rec, h[i].segment);
            x->last_seq = h[i].seq;
            x->segment = h[i].segment;
            x->offset = (long)h[i].end;
        }
        json_decref(h[i].rec);
    }
    if (began && !meta_commit(x->m)) meta_rollback(x->m);
    free(h);
}

void audit_index_catch_up(audit_index_t *x)
{
    if (!x) return;
    pthread_mutex_lock(&x->mu);
    index_handed(x);
    read_segments(x); /* what was written before the hand-over began, or is not handed yet */
    pthread_mutex_unlock(&x->mu);
}

/* Indexes every complete record of the segments past the last one indexed. */
static void read_segments(audit_index_t *x)
{
    for (;;) {
        char *p = xasprintf("%s/segment-%06d.jsonl", x->dir, x->segment);
        FILE *f = fopen(p, "r");
        free(p);
        if (!f) break;
        fseek(f, x->offset, SEEK_SET);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        bool began = meta_begin(x->m);
        while ((n = getline(&line, &cap, f)) > 0) {
            if (line[n - 1] != '\n') break; /* being written: next time */
            json_error_t je;
            json_t *r = json_loadb(line, (size_t)n, 0, &je);
            uint64_t seq = r ? (uint64_t)json_integer_value(json_object_get(r, "seq")) : 0;
            if (r && seq > x->last_seq) {
                insert(x, r, x->segment);
                x->last_seq = seq;
            }
            json_decref(r);
            x->offset += n;
        }
        if (began && !meta_commit(x->m)) meta_rollback(x->m);
        free(line);
        fclose(f);
        if (!segment_exists(x->dir, x->segment + 1)) break;
        x->segment++;
        x->offset = 0;
    }
}

static void *index_main(void *arg)
{
    audit_index_t *x = arg;
    pthread_mutex_lock(&x->stop_mu);
    while (!x->stop) {
        pthread_mutex_unlock(&x->stop_mu);
        audit_index_catch_up(x);
        pthread_mutex_lock(&x->stop_mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!x->stop) pthread_cond_timedwait(&x->stop_cv, &x->stop_mu, &ts);
    }
    pthread_mutex_unlock(&x->stop_mu);
    return NULL;
}

audit_index_t *audit_index_start(meta_t *m, const char *data_dir)
{
    audit_index_t *x = xcalloc(1, sizeof *x);
    x->m = m;
    x->dir = xasprintf("%s/audit", data_dir);
    x->segment = 1;
    pthread_mutex_init(&x->mu, NULL);
    pthread_mutex_init(&x->hand_mu, NULL);
    pthread_mutex_init(&x->stop_mu, NULL);
    pthread_cond_init(&x->stop_cv, NULL);
    if (!meta_query(m, "SELECT max(seq) FROM audit_index", 0, NULL, max_cb, &x->last_seq)) x->last_seq = 0;
    /* start at the segment holding the last indexed record */
    if (x->last_seq) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)x->last_seq);
        const char *a[] = {buf};
        uint64_t seg = 1;
        if (meta_query(m, "SELECT segment FROM audit_index WHERE seq = ?1", 1, a, max_cb, &seg) && seg > 0)
            x->segment = (int)seg;
    }
    audit_index_catch_up(x);
    if (pthread_create(&x->thread, NULL, index_main, x) != 0) {
        free(x->dir);
        free(x);
        return NULL;
    }
    return x;
}

void audit_index_stop(audit_index_t *x)
{
    if (!x) return;
    pthread_mutex_lock(&x->stop_mu);
    x->stop = true;
    pthread_cond_signal(&x->stop_cv);
    pthread_mutex_unlock(&x->stop_mu);
    pthread_join(x->thread, NULL);
    audit_index_catch_up(x);
    for (int i = 0; i < x->nhand; i++) json_decref(x->hand[i].rec);
    free(x->hand);
    free(x->dir);
    free(x);
}
