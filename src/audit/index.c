/* index.c — following the audit segments into meta.db (index.h). */
#include "audit/index.h"

#include <dirent.h>
#include "audit/audit.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A record handed over by the writer (audit_index_hand_over): its line,
 * indexed from memory instead of read back from its segment. */
typedef struct {
    size_t off, len; /* the line in the queue's text */
    uint64_t seq;
    int segment;
    size_t end; /* the segment's size after the record */
} handed_t;

#define HAND_MAX       65536 /* beyond that many lines, or bytes, the records wait in the segments */
#define HAND_MAX_BYTES (32u << 20)

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
    buf_t text;  /* the lines of the queue */
    buf_t spare; /* the other one, being indexed */
};

static bool max_cb(void *ctx, int n, const char **c)
{
    if (n >= 1 && c[0]) *(uint64_t *)ctx = strtoull(c[0], NULL, 10);
    return false;
}

/* The columns of audit_index, in the order of UPSERT_SQL, and the member
 * each comes from. A statement's row also carries its completion's members
 * (one row per statement: half the inserts of a row per record). */
enum {
    C_SEQ,
    C_TS,
    C_TYPE,
    C_SID,
    C_REAL,
    C_USER,
    C_ADDR,
    C_APP,
    C_DOOR,
    C_STMT,
    C_FP,
    C_KIND,
    C_DECISION,
    C_RULE,
    C_SQLSTATE,
    C_ROWS,
    C_DUR,
    C_OBJECTS,
    C_POLICIES,
    C_OUTCOME,
    C_CSEQ,
    C_CSQLSTATE,
    C_ERROR,
    C_DIRECT,
    C_TAG,
    C_SEGMENT,
    NCOLS
};
static const struct {
    const char *key;
    char how; /* s: string, i: integer, j: JSON text */
} COLS[NCOLS] = {
    [C_SEQ] = {"seq", 'i'},
    [C_TS] = {"ts", 's'},
    [C_TYPE] = {"type", 's'},
    [C_SID] = {"session_id", 'i'},
    [C_REAL] = {"real_user", 's'},
    [C_USER] = {"user", 's'},
    [C_ADDR] = {"client_addr", 's'},
    [C_APP] = {"application_name", 's'},
    [C_DOOR] = {"door", 's'},
    [C_STMT] = {"statement", 's'},
    [C_FP] = {"fingerprint", 's'},
    [C_KIND] = {"kind", 's'},
    [C_DECISION] = {"decision", 's'},
    [C_RULE] = {"rule", 's'},
    [C_SQLSTATE] = {"sqlstate", 's'},
    [C_ROWS] = {"rows", 'i'},
    [C_DUR] = {"duration_us", 'i'},
    [C_OBJECTS] = {"objects", 'j'},
    [C_POLICIES] = {"policies", 'j'},
    [C_OUTCOME] = {"outcome", 's'},
    [C_CSEQ] = {"statement_seq", 'i'}, /* a completion's link, read into its own row_t */
    [C_ERROR] = {"error", 's'},
    [C_DIRECT] = {"direct_objects", 'j'},
    [C_TAG] = {"tag", 's'},
};

/* Inserts a row, or (a statement indexed before its completion was read)
 * adds the completion to it. */
#define UPSERT_SQL                                                                                           \
    "INSERT INTO audit_index (seq, ts, type, session_id, real_user, user_name, client_addr, "                \
    "application_name, door, statement, fingerprint, kind, decision, rule, sqlstate, rows, duration_us, "    \
    "objects, policies, outcome, completion_seq, completion_sqlstate, error, direct_objects, tag, segment) " \
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "    \
    "?21, ?22, ?23, ?24, ?25, ?26) "                                                                         \
    "ON CONFLICT (seq) DO UPDATE SET completion_seq = excluded.completion_seq, completion_sqlstate = "       \
    "excluded.completion_sqlstate, rows = excluded.rows, duration_us = excluded.duration_us, error = "       \
    "excluded.error, decision = excluded.decision, rule = excluded.rule WHERE excluded.completion_seq IS "   \
    "NOT "                                                                                                   \
    "NULL"
/* A completion whose statement was indexed in an earlier batch. */
#define COMPLETE_SQL                                                                                         \
    "UPDATE audit_index SET completion_seq = ?1, completion_sqlstate = ?2, rows = ?3, duration_us = ?4, "    \
    "error = ?5, decision = COALESCE(?7, decision), rule = COALESCE(?8, rule) WHERE seq = ?6"

typedef struct {
    char *col[NCOLS];
    char *reason; /* a login's: its rule */
    uint64_t seq;
    int segment;
} row_t;

/* The records read in one transaction: statements wait here for their
 * completion until the batch is written. */
typedef struct {
    row_t *rows;
    int n, cap;
} batch_t;

static bool integer_text(const char *v, size_t n)
{
    size_t i = n && v[0] == '-';
    if (i == n) return false;
    for (; i < n; i++)
        if (v[i] < '0' || v[i] > '9') return false;
    return true;
}

static void member_cb(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
    row_t *r = ctx;
    char **slot = NULL;
    char how = 's';
    for (int i = 0; i < NCOLS && !slot; i++)
        if (COLS[i].key && strlen(COLS[i].key) == kn && !memcmp(COLS[i].key, k, kn)) {
            slot = &r->col[i];
            how = COLS[i].how;
        }
    if (!slot && kn == 6 && !memcmp(k, "reason", 6)) slot = &r->reason;
    if (!slot || *slot) return;
    if (how == 's')
        *slot = audit_json_unquote(v, vn);
    else if (how == 'j' || integer_text(v, vn))
        *slot = xstrndup(v, vn);
}

static void row_free(row_t *r)
{
    for (int i = 0; i < NCOLS; i++) free(r->col[i]);
    free(r->reason);
}

static void batch_write(audit_index_t *x, batch_t *b)
{
    for (int i = 0; i < b->n; i++) {
        row_t *r = &b->rows[i];
        char seg[16];
        snprintf(seg, sizeof seg, "%d", r->segment);
        const char *args[NCOLS];
        for (int j = 0; j < NCOLS; j++) args[j] = r->col[j];
        if (!args[C_RULE]) args[C_RULE] = r->reason;
        args[C_SEGMENT] = seg;
        (void)meta_exec(x->m, UPSERT_SQL, NCOLS, args, NULL, 0);
        row_free(r);
    }
    b->n = 0;
}

/* Reads one record line into the batch; its seq (0 when it is not a record). */
static uint64_t index_line(audit_index_t *x, batch_t *b, const char *line, size_t n, int segment,
                           uint64_t after)
{
    row_t r = {.segment = segment};
    if (audit_line_members(line, n, member_cb, &r) && r.col[C_SEQ]) r.seq = strtoull(r.col[C_SEQ], NULL, 10);
    if (r.seq <= after || !r.col[C_TS] || !r.col[C_TYPE]) {
        row_free(&r);
        return r.seq;
    }
    if (!strcmp(r.col[C_TYPE], "completion")) {
        /* onto its statement's row: in this batch (usually the last few rows), or indexed already */
        uint64_t of = r.col[C_CSEQ] ? strtoull(r.col[C_CSEQ], NULL, 10) : 0;
        row_t *st = NULL;
        for (int i = b->n - 1; i >= 0 && !st && b->rows[i].seq >= of; i--)
            if (b->rows[i].seq == of) st = &b->rows[i];
        if (st) {
            free(st->col[C_CSEQ]);
            st->col[C_CSEQ] = r.col[C_SEQ];
            r.col[C_SEQ] = NULL;
            int moved[] = {C_SQLSTATE, C_ROWS, C_DUR, C_ERROR, C_DECISION, C_RULE};
            for (size_t i = 0; i < ARRAY_LEN(moved); i++) {
                int c = moved[i] == C_SQLSTATE ? C_CSQLSTATE : moved[i];
                /* a completion's decision (a governance statement refused while
                 * it ran) overrides the statement's; none keeps it */
                if ((c == C_DECISION || c == C_RULE) && !r.col[moved[i]]) continue;
                free(st->col[c]);
                st->col[c] = r.col[moved[i]];
                r.col[moved[i]] = NULL;
            }
        } else if (of) {
            const char *args[] = {r.col[C_SEQ],   r.col[C_SQLSTATE], r.col[C_ROWS],     r.col[C_DUR],
                                  r.col[C_ERROR], r.col[C_CSEQ],     r.col[C_DECISION], r.col[C_RULE]};
            (void)meta_exec(x->m, COMPLETE_SQL, 8, args, NULL, 0);
        }
        uint64_t seq = r.seq;
        row_free(&r);
        return seq;
    }
    free(r.col[C_CSEQ]);
    r.col[C_CSEQ] = NULL;
    if (r.col[C_ERROR] && !r.col[C_RULE]) { /* a record's own error is its rule */
        r.col[C_RULE] = r.col[C_ERROR];
        r.col[C_ERROR] = NULL;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->rows = xrealloc(b->rows, sizeof *b->rows * (size_t)b->cap);
    }
    b->rows[b->n++] = r;
    return r.seq;
}

static void batch_end(audit_index_t *x, batch_t *b, bool began)
{
    batch_write(x, b);
    if (began && !meta_commit(x->m)) meta_rollback(x->m);
}

static bool segment_exists(const char *dir, int n)
{
    char *p = xasprintf("%s/segment-%06d.jsonl", dir, n);
    FILE *f = fopen(p, "r");
    free(p);
    if (f) fclose(f);
    return f != NULL;
}

void audit_index_hand_over(void *ctx, const char *lines, size_t n, uint64_t first, int segment, size_t off)
{
    audit_index_t *x = ctx;
    pthread_mutex_lock(&x->hand_mu);
    for (size_t at = 0; at < n;) {
        const char *nl = memchr(lines + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (lines + at)) + 1 : n - at;
        if (x->nhand == x->cap && x->cap < HAND_MAX) {
            x->cap = x->cap ? x->cap * 2 : 256;
            x->hand = xrealloc(x->hand, sizeof *x->hand * (size_t)x->cap);
        }
        if (x->nhand < x->cap && x->text.len + len <= HAND_MAX_BYTES) {
            x->hand[x->nhand++] = (handed_t){x->text.len, len, first, segment, off + at + len};
            buf_append(&x->text, lines + at, len);
        }
        first++;
        at += len;
    }
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
    buf_t text = x->text;
    x->text = x->spare;
    x->hand = NULL;
    x->nhand = x->cap = 0;
    pthread_mutex_unlock(&x->hand_mu);
    if (n) {
        batch_t b = {0};
        bool began = meta_begin(x->m);
        for (int i = 0; i < n; i++) {
            if (h[i].seq > x->last_seq + 1) {
                batch_end(x, &b, began);
                read_segments(x);
                began = meta_begin(x->m);
            }
            if (h[i].seq == x->last_seq + 1) {
                index_line(x, &b, text.data + h[i].off, h[i].len, h[i].segment, x->last_seq);
                x->last_seq = h[i].seq;
                x->segment = h[i].segment;
                x->offset = (long)h[i].end;
            }
        }
        batch_end(x, &b, began);
        free(b.rows);
    }
    free(h);
    text.len = 0;
    if (text.cap > (4u << 20)) {
        buf_free(&text);
        buf_init(&text, 64 * 1024);
    }
    pthread_mutex_lock(&x->hand_mu);
    x->spare = text;
    pthread_mutex_unlock(&x->hand_mu);
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
        batch_t b = {0};
        bool began = meta_begin(x->m);
        while ((n = getline(&line, &cap, f)) > 0) {
            if (line[n - 1] != '\n') break; /* being written: next time */
            uint64_t seq = index_line(x, &b, line, (size_t)n, x->segment, x->last_seq);
            if (seq > x->last_seq) x->last_seq = seq;
            x->offset += n;
            if (b.n >= 4096) { /* a long segment: in transactions of a few thousand rows */
                batch_end(x, &b, began);
                began = meta_begin(x->m);
            }
        }
        batch_end(x, &b, began);
        free(b.rows);
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

/* The lowest segment number in dir (0: none). */
static int first_segment(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int lo = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int n;
        char tail[8];
        if (sscanf(e->d_name, "segment-%d.jsonl%7s", &n, tail) == 1 && n > 0 && (!lo || n < lo)) lo = n;
    }
    closedir(d);
    return lo;
}

audit_index_t *audit_index_start(meta_t *m, const char *data_dir, uint64_t log_end)
{
    /* rows of records the log no longer holds (lost with the page cache in a
     * crash of the machine): their seqs are written again */
    char end[32];
    snprintf(end, sizeof end, "%llu", (unsigned long long)log_end);
    const char *ea[] = {end};
    (void)meta_exec(m, "DELETE FROM audit_index WHERE seq > ?1", 1, ea, NULL, 0);
    (void)meta_exec(m,
                    "UPDATE audit_index SET completion_seq = NULL, completion_sqlstate = NULL, rows = NULL, "
                    "duration_us = NULL, error = NULL WHERE completion_seq > ?1",
                    1, ea, NULL, 0);
    audit_index_t *x = xcalloc(1, sizeof *x);
    x->m = m;
    x->dir = xasprintf("%s/audit", data_dir);
    /* rows of segments retention purged: their statements are gone from the
     * trail, so they go from the index too */
    int first = first_segment(x->dir);
    if (first > 1) {
        char fs[16];
        snprintf(fs, sizeof fs, "%d", first);
        const char *fa[] = {fs};
        (void)meta_exec(m, "DELETE FROM audit_index WHERE segment < ?1", 1, fa, NULL, 0);
    }
    x->segment = 1;
    pthread_mutex_init(&x->mu, NULL);
    pthread_mutex_init(&x->hand_mu, NULL);
    pthread_mutex_init(&x->stop_mu, NULL);
    pthread_cond_init(&x->stop_cv, NULL);
    buf_init(&x->text, 64 * 1024);
    buf_init(&x->spare, 64 * 1024);
    /* the last record read: a statement's row, or the completion merged into one */
    if (!meta_query(m, "SELECT max(max(seq), coalesce(max(completion_seq), 0)) FROM audit_index", 0, NULL,
                    max_cb, &x->last_seq))
        x->last_seq = 0;
    /* start at the segment holding the last indexed record */
    if (x->last_seq) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)x->last_seq);
        const char *a[] = {buf};
        uint64_t seg = 1;
        if (meta_query(m, "SELECT segment FROM audit_index WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1", 1, a,
                       max_cb, &seg) &&
            seg > 0)
            x->segment = (int)seg;
    }
    audit_index_catch_up(x);
    if (pthread_create(&x->thread, NULL, index_main, x) != 0) {
        buf_free(&x->text);
        buf_free(&x->spare);
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
    free(x->hand);
    buf_free(&x->text);
    buf_free(&x->spare);
    free(x->dir);
    free(x);
}
