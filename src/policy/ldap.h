/* ldap.h — LDAP login and group sync (libldap, real directory in tests).
 *
 * Login: a service bind (ldap.bind_dn + the password in
 * ldap.bind_password_file) finds the user's entry with ldap.user_filter under
 * ldap.user_base, then binds as that entry with the password the client sent
 * (the password is never stored or logged). The user's groups are the
 * entries under ldap.group_base matching ldap.group_filter whose
 * ldap.group_member_attribute holds the user's DN (member, uniqueMember) or
 * login name (memberUid); their cn become madang groups marked synced.
 *
 * Sync: every ldap.sync_interval a thread re-reads every LDAP user's entry
 * and groups; a user gone from the directory loses login and synced
 * memberships. */
#ifndef MADANG_POLICY_LDAP_H
#define MADANG_POLICY_LDAP_H

#include "server/server.h"

bool ldap_login(const config_t *cfg, const char *user, const char *password, char ***groups, int *ngroups,
                char *err, size_t errlen) MUST_CHECK;
/* The user's groups by a service lookup; *exists false when the entry is gone. */
bool ldap_lookup(const config_t *cfg, const char *user, bool *exists, char ***groups, int *ngroups, char *err,
                 size_t errlen) MUST_CHECK;
/* Creates the user (source ldap) if new, and makes their synced-group
 * memberships exactly groups. */
bool ldap_apply(meta_t *m, const char *user, bool exists, char **groups, int ngroups) MUST_CHECK;
void ldap_groups_free(char **groups, int n);

struct ldap_sync *ldap_sync_start(server_t *srv);
void ldap_sync_stop(struct ldap_sync *ls);

#endif
