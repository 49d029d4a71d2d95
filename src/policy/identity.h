/* identity.h — who a login is: lockout, impersonation grants, API tokens.
 *
 * Lockout: every failed login is recorded (login_failures); after
 * auth.max_failures within auth.failure_window an account is locked for
 * auth.lockout (0 = until an administrator runs ALTER USER u ACCOUNT UNLOCK).
 *
 * Impersonation (Hadoop proxy-user style): GRANT IMPERSONATE ON {USER u |
 * GROUP g} TO USER proxy lets proxy act as u (or any member of g). Superusers
 * may impersonate anyone; nobody may impersonate a superuser except a
 * superuser.
 *
 * Tokens: "mdt_" + 48 hex characters, shown once; only SHA-256 of the secret
 * is stored. */
#ifndef MADANG_POLICY_IDENTITY_H
#define MADANG_POLICY_IDENTITY_H

#include "meta/meta.h"
#include "server/config.h"

/* Records a failed login; locks the account when the limit is reached. */
void id_login_failed(meta_t *m, const config_t *cfg, const char *user, const char *peer);
/* Clears the failure count after a successful login. */
void id_login_succeeded(meta_t *m, const char *user);
bool id_is_locked(const meta_user_t *u);
bool id_unlock(meta_t *m, const char *user) MUST_CHECK;

bool id_grant_impersonate(meta_t *m, bool revoke, const char *proxy, bool group, const char *target,
                          const char *grantor, char *err, size_t errlen) MUST_CHECK;
/* Whether proxy may act as target; err gets the reason when not. */
bool id_may_impersonate(meta_t *m, const char *proxy, const char *target, char *err, size_t errlen);

/* Creates a token for user; *secret (heap) is shown to the client once. */
bool id_token_create(meta_t *m, const char *user, const char *expires, const char *by, int64_t *id,
                     char **secret, char *err, size_t errlen) MUST_CHECK;
bool id_token_drop(meta_t *m, int64_t id, const char *by, bool superuser, char *err,
                   size_t errlen) MUST_CHECK;
/* The user a valid, unexpired token belongs to (user, n), or false. */
bool id_token_check(meta_t *m, const char *secret, char *user, size_t n);

#endif
