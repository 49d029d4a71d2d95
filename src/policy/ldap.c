/* ldap.c — LDAP login and group sync (ldap.h). */
#include "policy/ldap.h"

#define LDAP_DEPRECATED 0
#include <ctype.h>
#include <ldap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "policy/acl.h"

static char *read_secret(const char *path)
{
    if (!path) return NULL;
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    char *s = xstrdup(buf);
    explicit_bzero(buf, sizeof buf);
    return s;
}

static LDAP *connect_dir(const config_t *cfg, char *err, size_t errlen)
{
    LDAP *ld = NULL;
    if (ldap_initialize(&ld, cfg->ldap_url) != LDAP_SUCCESS || !ld) {
        snprintf(err, errlen, "bad ldap.url %s", cfg->ldap_url);
        return NULL;
    }
    int v = LDAP_VERSION3;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v);
    struct timeval tv = {5, 0};
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    if (cfg->ldap_starttls) {
        int rc = ldap_start_tls_s(ld, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            snprintf(err, errlen, "LDAP StartTLS failed: %s", ldap_err2string(rc));
            ldap_unbind_ext_s(ld, NULL, NULL);
            return NULL;
        }
    }
    return ld;
}

static int simple_bind(LDAP *ld, const char *dn, const char *pw)
{
    struct berval cred = {.bv_val = (char *)(pw ? pw : ""), .bv_len = pw ? strlen(pw) : 0};
    return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

static bool service_bind(LDAP *ld, const config_t *cfg, char *err, size_t errlen)
{
    if (!cfg->ldap_bind_dn) return simple_bind(ld, NULL, NULL) == LDAP_SUCCESS; /* anonymous */
    char *pw = read_secret(cfg->ldap_bind_password_file);
    int rc = simple_bind(ld, cfg->ldap_bind_dn, pw);
    if (pw) {
        explicit_bzero(pw, strlen(pw));
        free(pw);
    }
    if (rc != LDAP_SUCCESS) {
        snprintf(err, errlen, "LDAP service bind as %s failed: %s", cfg->ldap_bind_dn, ldap_err2string(rc));
        return false;
    }
    return true;
}

static char *escaped(const char *v)
{
    struct berval in = {.bv_val = (char *)v, .bv_len = strlen(v)}, out = {0};
    if (ldap_bv2escaped_filter_value(&in, &out) != 0) return NULL;
    char *s = xstrndup(out.bv_val, out.bv_len);
    ber_memfree(out.bv_val);
    return s;
}

/* The filter with %u replaced by the escaped login name. */
static char *user_filter(const config_t *cfg, const char *user)
{
    char *e = escaped(user);
    if (!e) return NULL;
    buf_t b;
    buf_init(&b, 128);
    for (const char *p = cfg->ldap_user_filter; *p; p++) {
        if (p[0] == '%' && p[1] == 'u') {
            buf_append_str(&b, e);
            p++;
        } else {
            buf_putc(&b, *p);
        }
    }
    free(e);
    buf_cstr(&b);
    return b.data;
}

/* The user's entry DN (heap) or NULL; *found says whether it exists. */
static char *find_user(LDAP *ld, const config_t *cfg, const char *user, bool *found, char *err, size_t errlen)
{
    *found = false;
    char *filter = user_filter(cfg, user);
    if (!filter) return NULL;
    LDAPMessage *res = NULL;
    char *attrs[] = {"1.1", NULL};
    struct timeval tv = {5, 0};
    int rc = ldap_search_ext_s(ld, cfg->ldap_user_base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL, &tv,
                               2, &res);
    free(filter);
    char *dn = NULL;
    if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
        if (ldap_count_entries(ld, res) == 1) {
            char *d = ldap_get_dn(ld, ldap_first_entry(ld, res));
            if (d) {
                dn = xstrdup(d);
                ldap_memfree(d);
                *found = true;
            }
        }
    } else if (rc != LDAP_NO_SUCH_OBJECT) {
        snprintf(err, errlen, "LDAP search failed: %s", ldap_err2string(rc));
    }
    if (res) ldap_msgfree(res);
    return dn;
}

static bool user_groups(LDAP *ld, const config_t *cfg, const char *user, const char *dn, char ***groups,
                        int *ngroups, char *err, size_t errlen)
{
    *groups = NULL;
    *ngroups = 0;
    if (!cfg->ldap_group_base) return true;
    const char *attr = cfg->ldap_group_member_attribute;
    char *val = escaped(!strcasecmp(attr, "memberUid") ? user : dn);
    if (!val) return false;
    char *filter = xasprintf("(&%s(%s=%s))", cfg->ldap_group_filter, attr, val);
    free(val);
    LDAPMessage *res = NULL;
    char *attrs[] = {"cn", NULL};
    struct timeval tv = {5, 0};
    int rc = ldap_search_ext_s(ld, cfg->ldap_group_base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL,
                               &tv, 1000, &res);
    free(filter);
    if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
        snprintf(err, errlen, "LDAP group search failed: %s", ldap_err2string(rc));
        if (res) ldap_msgfree(res);
        return false;
    }
    for (LDAPMessage *e = ldap_first_entry(ld, res); e; e = ldap_next_entry(ld, e)) {
        struct berval **v = ldap_get_values_len(ld, e, "cn");
        if (v && v[0]) {
            char *g = xstrndup(v[0]->bv_val, v[0]->bv_len);
            for (char *p = g; *p; p++) *p = (char)tolower((unsigned char)*p);
            *groups = xrealloc(*groups, sizeof(char *) * (size_t)(*ngroups + 1));
            (*groups)[(*ngroups)++] = g;
        }
        if (v) ldap_value_free_len(v);
    }
    if (res) ldap_msgfree(res);
    return true;
}

void ldap_groups_free(char **groups, int n)
{
    for (int i = 0; i < n; i++) free(groups[i]);
    free(groups);
}

bool ldap_login(const config_t *cfg, const char *user, const char *password, char ***groups, int *ngroups,
                char *err, size_t errlen)
{
    *groups = NULL;
    *ngroups = 0;
    if (!password || !password[0]) {
        snprintf(err, errlen, "empty password"); /* an empty simple bind is anonymous: never a login */
        return false;
    }
    LDAP *ld = connect_dir(cfg, err, errlen);
    if (!ld) return false;
    bool ok = false, found = false;
    char *dn = NULL;
    if (!service_bind(ld, cfg, err, errlen)) goto out;
    dn = find_user(ld, cfg, user, &found, err, errlen);
    if (!found) {
        if (!err[0]) snprintf(err, errlen, "no such LDAP user");
        goto out;
    }
    int rc = simple_bind(ld, dn, password);
    if (rc != LDAP_SUCCESS) {
        snprintf(err, errlen, "LDAP bind failed: %s", ldap_err2string(rc));
        goto out;
    }
    /* groups are read with the service identity (the user may not read them) */
    if (!service_bind(ld, cfg, err, errlen)) goto out;
    ok = user_groups(ld, cfg, user, dn, groups, ngroups, err, errlen);
out:
    free(dn);
    ldap_unbind_ext_s(ld, NULL, NULL);
    return ok;
}

bool ldap_lookup(const config_t *cfg, const char *user, bool *exists, char ***groups, int *ngroups, char *err,
                 size_t errlen)
{
    *exists = false;
    *groups = NULL;
    *ngroups = 0;
    LDAP *ld = connect_dir(cfg, err, errlen);
    if (!ld) return false;
    bool ok = false;
    err[0] = '\0';
    char *dn = NULL;
    if (service_bind(ld, cfg, err, errlen)) {
        dn = find_user(ld, cfg, user, exists, err, errlen);
        ok = !err[0] && (!*exists || user_groups(ld, cfg, user, dn, groups, ngroups, err, errlen));
    }
    free(dn);
    ldap_unbind_ext_s(ld, NULL, NULL);
    return ok;
}

bool ldap_apply(meta_t *m, const char *user, bool exists, char **groups, int ngroups)
{
    if (!meta_begin(m)) return false;
    const char *a[] = {user};
    bool ok =
        meta_exec(
            m,
            "INSERT INTO users (name, scram, superuser, can_login, source) VALUES (?1, '', 0, 1, 'ldap') "
            "ON CONFLICT (name) DO NOTHING",
            1, a, NULL, 0) >= 0;
    ok = ok && meta_exec(m, "UPDATE users SET can_login = ?2 WHERE name = ?1 AND source = 'ldap'", 2,
                         (const char *[]){user, exists ? "1" : "0"}, NULL, 0) >= 0;
    /* memberships in synced groups: exactly the directory's */
    ok =
        ok &&
        meta_exec(m,
                  "DELETE FROM group_members WHERE user_name = ?1 AND group_name IN (SELECT name FROM groups "
                  "WHERE synced = 1)",
                  1, a, NULL, 0) >= 0;
    for (int i = 0; ok && exists && i < ngroups; i++) {
        const char *g[] = {groups[i], user};
        ok = meta_exec(m,
                       "INSERT INTO groups (name, synced) VALUES (?1, 1) ON CONFLICT (name) DO UPDATE SET "
                       "synced = 1",
                       1, g, NULL, 0) >= 0 &&
             meta_exec(m, "INSERT OR IGNORE INTO group_members (group_name, user_name) VALUES (?1, ?2)", 2, g,
                       NULL, 0) >= 0 &&
             /* the directory owns a synced group: a local group of the same name that it took
              * over keeps no local members */
             meta_exec(
                 m,
                 "DELETE FROM group_members WHERE group_name = ?1 AND user_name IN (SELECT name FROM users "
                 "WHERE source <> 'ldap')",
                 1, g, NULL, 0) >= 0;
    }
    if (!ok) {
        meta_rollback(m);
        return false;
    }
    if (!meta_commit(m)) return false;
    pol_bump();
    return true;
}

/* ---- background sync ---- */

struct ldap_sync {
    server_t *srv;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

typedef struct {
    char **names;
    int n;
} names_t;

static bool name_cb(void *ctx, int n, const char **c)
{
    names_t *l = ctx;
    UNUSED(n);
    l->names = xrealloc(l->names, sizeof(char *) * (size_t)(l->n + 1));
    l->names[l->n++] = xstrdup(c[0]);
    return true;
}

static void sync_once(server_t *srv)
{
    names_t ctx = {NULL, 0};
    if (!meta_query(srv->meta, "SELECT name FROM users WHERE source = 'ldap'", 0, NULL, name_cb, &ctx))
        return;
    for (int i = 0; i < ctx.n; i++) {
        bool exists = false;
        char **groups = NULL;
        int ng = 0;
        char err[256] = "";
        if (ldap_lookup(&srv->cfg, ctx.names[i], &exists, &groups, &ng, err, sizeof err)) {
            if (!ldap_apply(srv->meta, ctx.names[i], exists, groups, ng))
                log_event(LOG_WARN, "ldap_sync_failed", "user=\"%s\" error=\"cannot store\"", ctx.names[i]);
            else if (!exists)
                log_event(LOG_INFO, "ldap_user_removed", "user=\"%s\"", ctx.names[i]);
        } else {
            log_event(LOG_WARN, "ldap_sync_failed", "user=\"%s\" error=\"%s\"", ctx.names[i], err);
        }
        ldap_groups_free(groups, ng);
        free(ctx.names[i]);
    }
    free(ctx.names);
}

static void *sync_main(void *arg)
{
    struct ldap_sync *ls = arg;
    pthread_mutex_lock(&ls->mu);
    while (!ls->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ls->srv->cfg.ldap_sync_interval_s;
        pthread_cond_timedwait(&ls->cv, &ls->mu, &ts);
        if (ls->stop) break;
        pthread_mutex_unlock(&ls->mu);
        sync_once(ls->srv);
        pthread_mutex_lock(&ls->mu);
    }
    pthread_mutex_unlock(&ls->mu);
    return NULL;
}

struct ldap_sync *ldap_sync_start(server_t *srv)
{
    if (!srv->cfg.ldap_url) return NULL;
    struct ldap_sync *ls = xcalloc(1, sizeof *ls);
    ls->srv = srv;
    pthread_mutex_init(&ls->mu, NULL);
    pthread_cond_init(&ls->cv, NULL);
    if (pthread_create(&ls->thread, NULL, sync_main, ls) != 0) {
        free(ls);
        return NULL;
    }
    return ls;
}

void ldap_sync_stop(struct ldap_sync *ls)
{
    if (!ls) return;
    pthread_mutex_lock(&ls->mu);
    ls->stop = true;
    pthread_cond_signal(&ls->cv);
    pthread_mutex_unlock(&ls->mu);
    pthread_join(ls->thread, NULL);
    pthread_mutex_destroy(&ls->mu);
    pthread_cond_destroy(&ls->cv);
    free(ls);
}
