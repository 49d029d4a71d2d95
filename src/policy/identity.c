/* identity.c — lockout, impersonation grants and API tokens (identity.h). */
#include "policy/identity.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/acl.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static bool count_cb(void *ctx, int n, const char **c)
{
    if (n >= 1 && c[0]) *(long *)ctx = atol(c[0]);
    return false;
}

void id_login_failed(meta_t *m, const config_t *cfg, const char *user, const char *peer)
{
    char now[32], since[32], until[32];
    double t = now_s();
    snprintf(now, sizeof now, "%.3f", t);
    snprintf(since, sizeof since, "%.3f", t - cfg->auth_failure_window_s);
    snprintf(until, sizeof until, "%.3f", cfg->auth_lockout_s > 0 ? t + cfg->auth_lockout_s : 1e18);
    const char *a[] = {user, now, peer ? peer : ""};
    if (meta_exec(m, "INSERT INTO login_failures (user_name, at, peer) VALUES (?1, ?2, ?3)", 3, a, NULL, 0) <
        0)
        return;
    long n = 0;
    const char *b[] = {user, since};
    if (!meta_query(m, "SELECT count(*) FROM login_failures WHERE user_name = ?1 AND at >= ?2", 2, b,
                    count_cb, &n))
        return;
    if (n >= cfg->auth_max_failures) {
        const char *c[] = {user, until};
        if (meta_exec(m, "UPDATE users SET locked_until = ?2 WHERE name = ?1 AND locked_until < ?2", 2, c,
                      NULL, 0) > 0)
            log_event(LOG_WARN, "account_locked", "user=\"%s\" failures=%ld", user, n);
    }
}

void id_login_succeeded(meta_t *m, const char *user)
{
    const char *a[] = {user};
    (void)meta_exec(m, "DELETE FROM login_failures WHERE user_name = ?1", 1, a, NULL, 0);
}

bool id_is_locked(const meta_user_t *u)
{
    return u->locked_until > now_s();
}

bool id_unlock(meta_t *m, const char *user)
{
    const char *a[] = {user};
    return meta_exec(m, "UPDATE users SET locked_until = 0 WHERE name = ?1", 1, a, NULL, 0) >= 0 &&
           meta_exec(m, "DELETE FROM login_failures WHERE user_name = ?1", 1, a, NULL, 0) >= 0;
}

bool id_grant_impersonate(meta_t *m, bool revoke, const char *proxy, bool group, const char *target,
                          const char *grantor, char *err, size_t errlen)
{
    const char *a[] = {proxy, group ? "group" : "user", target, grantor};
    int n =
        revoke
            ? meta_exec(m, "DELETE FROM impersonation WHERE proxy = ?1 AND target_kind = ?2 AND target = ?3",
                        3, a, err, errlen)
            : meta_exec(
                  m,
                  "INSERT OR IGNORE INTO impersonation (proxy, target_kind, target, grantor) VALUES (?1, "
                  "?2, ?3, ?4)",
                  4, a, err, errlen);
    pol_bump();
    return n >= 0;
}

static bool exists_cb(void *ctx, int n, const char **c)
{
    UNUSED(n);
    UNUSED(c);
    *(bool *)ctx = true;
    return false;
}

bool id_may_impersonate(meta_t *m, const char *proxy, const char *target, char *err, size_t errlen)
{
    meta_user_t p, t;
    if (!meta_user_get(m, proxy, &p)) {
        snprintf(err, errlen, "role \"%s\" does not exist", proxy);
        return false;
    }
    if (!meta_user_get(m, target, &t) || !t.can_login) {
        snprintf(err, errlen, "role \"%s\" does not exist or may not log in", target);
        return false;
    }
    if (p.superuser) return true;
    if (t.superuser) {
        snprintf(err, errlen, "permission denied to impersonate superuser \"%s\"", target);
        return false;
    }
    bool ok = false;
    const char *a[] = {proxy, target};
    if (!meta_query(
            m,
            "SELECT 1 FROM impersonation WHERE proxy = ?1 AND ((target_kind = 'user' AND target = ?2) OR "
            "(target_kind = 'group' AND target IN (SELECT group_name FROM group_members WHERE user_name = "
            "?2)))",
            2, a, exists_cb, &ok))
        ok = false;
    if (!ok)
        snprintf(err, errlen,
                 "permission denied to impersonate \"%s\": \"%s\" has no IMPERSONATE grant for that user or "
                 "a group "
                 "of theirs",
                 target, proxy);
    return ok;
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char d[32];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static bool id_cb(void *ctx, int n, const char **c)
{
    if (n >= 1 && c[0]) *(int64_t *)ctx = atoll(c[0]);
    return false;
}

bool id_token_create(meta_t *m, const char *user, const char *expires, const char *by, int64_t *id,
                     char **secret, char *err, size_t errlen)
{
    unsigned char r[24];
    if (RAND_bytes(r, sizeof r) != 1) {
        snprintf(err, errlen, "no randomness for the token");
        return false;
    }
    char s[4 + 48 + 1] = "mdt_";
    for (size_t i = 0; i < sizeof r; i++) snprintf(s + 4 + 2 * i, 3, "%02x", r[i]);
    char h[65];
    sha256_hex(s, h);
    const char *a[] = {user, h, by, expires};
    if (meta_exec(m, "INSERT INTO tokens (user_name, hash, created_by, expires_at) VALUES (?1, ?2, ?3, ?4)",
                  4, a, err, errlen) < 0)
        return false;
    *id = 0;
    const char *b[] = {h};
    if (!meta_query(m, "SELECT id FROM tokens WHERE hash = ?1", 1, b, id_cb, id)) return false;
    *secret = xstrdup(s);
    return true;
}

bool id_token_drop(meta_t *m, int64_t id, const char *by, bool superuser, char *err, size_t errlen)
{
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *a[] = {ids, by};
    int n = superuser
                ? meta_exec(m, "DELETE FROM tokens WHERE id = ?1", 1, a, err, errlen)
                : meta_exec(m, "DELETE FROM tokens WHERE id = ?1 AND user_name = ?2", 2, a, err, errlen);
    if (n == 0) snprintf(err, errlen, "token %lld does not exist", (long long)id);
    return n > 0;
}

static bool user_cb(void *ctx, int n, const char **c)
{
    if (n >= 1 && c[0]) snprintf(ctx, 64, "%s", c[0]);
    return false;
}

bool id_token_check(meta_t *m, const char *secret, char *user, size_t n)
{
    if (strncmp(secret, "mdt_", 4) != 0 || strlen(secret) != 52) return false;
    char h[65];
    sha256_hex(secret, h);
    char u[64] = "";
    const char *a[] = {h};
    if (!meta_query(m,
                    "SELECT user_name FROM tokens WHERE hash = ?1 AND (expires_at IS NULL OR "
                    "julianday(expires_at) > julianday('now'))",
                    1, a, user_cb, u) ||
        !u[0])
        return false;
    snprintf(user, n, "%s", u);
    return true;
}
