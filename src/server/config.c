/* config.c — reading madang.conf (config.h). */
#include "server/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

void config_defaults(config_t *c)
{
    memset(c, 0, sizeof *c);
    c->ldap_user_filter = xstrdup("(uid=%u)");
    c->ldap_group_filter = xstrdup("(objectClass=groupOfNames)");
    c->ldap_group_member_attribute = xstrdup("member");
    c->ldap_sync_interval_s = 300;
    c->auth_max_failures = 5;
    c->auth_failure_window_s = 600;
    c->auth_lockout_s = 900;
    c->audit_segment_age_s = 86400;
    c->audit_segment_mb = 64;
    c->audit_statement_max = 65536;
}

void config_free(config_t *c)
{
    free(c->ldap_url);
    free(c->ldap_bind_dn);
    free(c->ldap_bind_password_file);
    free(c->ldap_user_base);
    free(c->ldap_user_filter);
    free(c->ldap_group_base);
    free(c->ldap_group_filter);
    free(c->ldap_group_member_attribute);
    for (int i = 0; i < c->nallowed_hosts; i++) {
        free(c->allowed_hosts[i].user);
        free(c->allowed_hosts[i].hosts);
    }
    free(c->allowed_hosts);
    memset(c, 0, sizeof *c);
}

/* "30", "30s", "5min", "2h", "1d" → seconds; -1 if bad. */
static long parse_duration(const char *v)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || n < 0) return -1;
    while (*end == ' ') end++;
    long mul = !*end || !strcmp(end, "s")                 ? 1
               : !strcmp(end, "min") || !strcmp(end, "m") ? 60
               : !strcmp(end, "h")                        ? 3600
               : !strcmp(end, "d")                        ? 86400
                                                          : -1;
    return mul < 0 ? -1 : n * mul;
}

static int parse_bool(const char *v)
{
    if (!strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1")) return 1;
    if (!strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0")) return 0;
    return -1;
}

typedef enum { K_STR, K_DURATION, K_INT, K_BOOL } kind_t;

typedef struct {
    const char *key;
    kind_t kind;
    size_t off;
    long min;
} key_t_;

#define F(field) offsetof(config_t, field)
static const key_t_ keys[] = {
    {"ldap.url", K_STR, F(ldap_url), 0},
    {"ldap.bind_dn", K_STR, F(ldap_bind_dn), 0},
    {"ldap.bind_password_file", K_STR, F(ldap_bind_password_file), 0},
    {"ldap.user_base", K_STR, F(ldap_user_base), 0},
    {"ldap.user_filter", K_STR, F(ldap_user_filter), 0},
    {"ldap.group_base", K_STR, F(ldap_group_base), 0},
    {"ldap.group_filter", K_STR, F(ldap_group_filter), 0},
    {"ldap.group_member_attribute", K_STR, F(ldap_group_member_attribute), 0},
    {"ldap.sync_interval", K_DURATION, F(ldap_sync_interval_s), 1},
    {"ldap.starttls", K_BOOL, F(ldap_starttls), 0},
    {"auth.max_failures", K_INT, F(auth_max_failures), 1},
    {"auth.failure_window", K_DURATION, F(auth_failure_window_s), 1},
    {"auth.lockout", K_DURATION, F(auth_lockout_s), 0},
    {"audit.retention_days", K_INT, F(audit_retention_days), 0},
    {"audit.segment_max_age", K_DURATION, F(audit_segment_age_s), 60},
    {"audit.segment_max_mb", K_INT, F(audit_segment_mb), 1},
    {"audit.statement_max_bytes", K_INT, F(audit_statement_max), 256},
};

bool config_load(config_t *c, const char *path, bool missing_ok, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (missing_ok && errno == ENOENT) return true;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return false;
    }
    char line[4096];
    int lineno = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        /* key */
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (!*p || *p == '#') continue;
        char *k = p;
        while (*p && !isspace((unsigned char)*p) && *p != '=') p++;
        char *kend = p;
        while (isspace((unsigned char)*p)) p++;
        if (*p != '=') {
            snprintf(err, errlen, "%s:%d: expected \"key = value\"", path, lineno);
            ok = false;
            break;
        }
        *kend = '\0';
        p++;
        while (isspace((unsigned char)*p)) p++;
        /* value: 'quoted' or a bare word up to a comment */
        char val[4096];
        size_t n = 0;
        if (*p == '\'') {
            p++;
            for (;;) {
                if (!*p || *p == '\n') {
                    snprintf(err, errlen, "%s:%d: unterminated quoted value", path, lineno);
                    ok = false;
                    break;
                }
                if (*p == '\'' && p[1] == '\'') {
                    val[n++] = '\'';
                    p += 2;
                } else if (*p == '\'') {
                    p++;
                    break;
                } else if (n < sizeof val - 1) {
                    val[n++] = *p++;
                } else {
                    p++;
                }
            }
            if (!ok) break;
            while (isspace((unsigned char)*p)) p++;
            if (*p && *p != '#') {
                snprintf(err, errlen, "%s:%d: unexpected text after the value", path, lineno);
                ok = false;
                break;
            }
        } else {
            while (*p && *p != '#' && *p != '\n' && n < sizeof val - 1) val[n++] = *p++;
            while (n && isspace((unsigned char)val[n - 1])) n--;
        }
        val[n] = '\0';
        if (!strncmp(k, "impersonation.allowed_hosts.", 28) && k[28]) {
            c->allowed_hosts =
                xrealloc(c->allowed_hosts, sizeof *c->allowed_hosts * (size_t)(c->nallowed_hosts + 1));
            c->allowed_hosts[c->nallowed_hosts].user = xstrdup(k + 28);
            c->allowed_hosts[c->nallowed_hosts].hosts = xstrdup(val);
            c->nallowed_hosts++;
            continue;
        }
        const key_t_ *key = NULL;
        for (size_t i = 0; i < ARRAY_LEN(keys); i++)
            if (!strcmp(keys[i].key, k)) key = &keys[i];
        if (!key) {
            snprintf(err, errlen, "%s:%d: unknown key \"%s\" (see docs/configuration.md)", path, lineno, k);
            ok = false;
            break;
        }
        char *field = (char *)c + key->off;
        long num = 0;
        switch (key->kind) {
        case K_STR:
            free(*(char **)field);
            *(char **)field = xstrdup(val);
            break;
        case K_DURATION:
            num = parse_duration(val);
            if (num < key->min) goto bad;
            *(int *)field = (int)num;
            break;
        case K_INT: {
            char *end;
            num = strtol(val, &end, 10);
            if (end == val || *end || num < key->min) goto bad;
            *(int *)field = (int)num;
            break;
        }
        case K_BOOL: {
            int b = parse_bool(val);
            if (b < 0) goto bad;
            *(bool *)field = b == 1;
            break;
        }
        }
        continue;
    bad:
        if (key->kind == K_BOOL)
            snprintf(err, errlen, "%s:%d: bad value \"%s\" for %s: say on or off", path, lineno, val, k);
        else if (key->kind == K_DURATION)
            snprintf(err, errlen,
                     "%s:%d: bad value \"%s\" for %s: a duration of at least %lds (30s, 5min, 2h, 1d)", path,
                     lineno, val, k, key->min);
        else if (key->kind == K_INT)
            snprintf(err, errlen, "%s:%d: bad value \"%s\" for %s: a whole number, at least %ld", path,
                     lineno, val, k, key->min);
        else
            snprintf(err, errlen, "%s:%d: bad value \"%s\" for %s", path, lineno, val, k);
        ok = false;
    }
    fclose(f);
    if (ok && c->ldap_url && (!c->ldap_user_base || !c->ldap_user_base[0])) {
        snprintf(err, errlen, "%s: ldap.url needs ldap.user_base", path);
        ok = false;
    }
    return ok;
}

static bool addr_in(const char *addr, const char *entry)
{
    char e[128];
    snprintf(e, sizeof e, "%s", entry);
    char *slash = strchr(e, '/');
    int bits = -1;
    if (slash) {
        *slash = '\0';
        bits = atoi(slash + 1);
    }
    struct in_addr a, b;
    if (inet_pton(AF_INET, addr, &a) == 1 && inet_pton(AF_INET, e, &b) == 1) {
        if (bits < 0 || bits > 32) bits = 32;
        uint32_t mask = bits == 0 ? 0 : htonl(~0u << (32 - bits));
        return (a.s_addr & mask) == (b.s_addr & mask);
    }
    return !strcmp(addr, e);
}

bool config_host_allowed(const config_t *c, const char *proxy, const char *addr)
{
    for (int i = 0; i < c->nallowed_hosts; i++) {
        if (strcmp(c->allowed_hosts[i].user, proxy) != 0) continue;
        char *list = xstrdup(c->allowed_hosts[i].hosts);
        bool ok = false;
        char *save = NULL;
        for (char *t = strtok_r(list, ", \t", &save); t && !ok; t = strtok_r(NULL, ", \t", &save))
            ok = addr_in(addr, t);
        free(list);
        return ok;
    }
    return true;
}
