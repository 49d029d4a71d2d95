/* config.h — madang.conf: PostgreSQL-style "key = value" lines.
 *
 * `madang serve --config FILE` (default DATA/madang.conf, optional). '#'
 * starts a comment; values may be bare words or 'single-quoted' ('' is a
 * quote). Unknown keys and bad values stop the start with the file and line.
 * Every key is documented in docs/configuration.md. */
#ifndef MADANG_SERVER_CONFIG_H
#define MADANG_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *user;  /* proxy user */
    char *hosts; /* comma-separated addresses or CIDR blocks */
} cfg_hosts_t;

typedef struct {
    /* LDAP (ldap.url unset = no LDAP) */
    char *ldap_url;
    char *ldap_bind_dn;
    char *ldap_bind_password_file;
    char *ldap_user_base;
    char *ldap_user_filter; /* %u = the login name */
    char *ldap_group_base;
    char *ldap_group_filter;
    char *ldap_group_member_attribute; /* member | memberUid | uniqueMember */
    int ldap_sync_interval_s;
    bool ldap_starttls;
    /* login protection */
    int auth_max_failures;
    int auth_failure_window_s;
    int auth_lockout_s;
    /* audit */
    int audit_retention_days; /* 0 = keep everything */
    int audit_segment_age_s;  /* a new segment after this long */
    int audit_segment_mb;     /* or this size */
    int audit_statement_max;  /* bytes of statement text kept in a record (the whole is hashed) */
    /* impersonation.allowed_hosts.<proxy user> */
    cfg_hosts_t *allowed_hosts;
    int nallowed_hosts;
} config_t;

void config_defaults(config_t *c);
/* Reads path into c. missing_ok: a file that does not exist is not an error. */
bool config_load(config_t *c, const char *path, bool missing_ok, char *err, size_t errlen);
void config_free(config_t *c);
/* Whether proxy may impersonate from addr (no allowed_hosts line: any host). */
bool config_host_allowed(const config_t *c, const char *proxy, const char *addr);

#endif
