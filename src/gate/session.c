/* session.c — sessions and their emulated PostgreSQL settings.
 *
 * DuckDB's configuration is locked at start-up (engine.c), so the settings a
 * PostgreSQL client sets live here. Each known setting has a PostgreSQL 15
 * default; values madang cannot honour (a client_encoding other than UTF8, a
 * DateStyle other than ISO) are refused rather than silently ignored. */
#include "gate/session.h"

#include "gate/authz.h"
#include "gate/gate.h"
#include "gate/protect.h"
#include "lineage/lineage.h"
#include "policy/acl.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *name;
    const char *dflt;
    bool reported; /* sent as ParameterStatus */
    bool readonly;
} setting_def_t;

/* PostgreSQL 15's defaults; `reported` mirrors GUC_REPORT. */
static const setting_def_t defs[] = {
    {"application_name", "", true, false},
    {"bytea_output", "hex", false, false},
    {"client_encoding", "UTF8", true, false},
    {"client_min_messages", "notice", false, false},
    {"datestyle", "ISO, MDY", true, false},
    {"default_transaction_isolation", "read committed", true, false},
    {"default_transaction_read_only", "off", true, false},
    {"extra_float_digits", "1", false, false},
    {"idle_in_transaction_session_timeout", "0", false, false},
    {"idle_session_timeout", "0", false, false},
    {"in_hot_standby", "off", true, true},
    {"integer_datetimes", "on", true, true},
    {"intervalstyle", "postgres", true, false},
    {"is_superuser", "off", true, true},
    {"jit", "off", false, false},
    {"lc_collate", "C.UTF-8", false, true},
    {"lc_ctype", "C.UTF-8", false, true},
    {"lc_messages", "C.UTF-8", false, false},
    {"lc_monetary", "C.UTF-8", false, false},
    {"lc_numeric", "C.UTF-8", false, false},
    {"lc_time", "C.UTF-8", false, false},
    {"lock_timeout", "0", false, false},
    {"max_identifier_length", "63", false, true},
    {"max_index_keys", "32", false, true},
    {"search_path", "\"$user\", public", false, false},
    {"server_encoding", "UTF8", true, true},
    {"server_version", MADANG_PG_VERSION, true, true},
    {"server_version_num", MADANG_PG_VERSION_NUM, false, true},
    {"session_authorization", "", true, true},
    {"standard_conforming_strings", "on", true, false},
    {"statement_timeout", "0", false, false},
    {"synchronous_commit", "on", false, false},
    {"timezone", "UTC", true, false},
    {"transaction_isolation", "read committed", false, false},
    {"transaction_read_only", "off", false, false},
    {"work_mem", "4MB", false, false},
};

/* Names as PostgreSQL spells them in ParameterStatus and SHOW headers. */
static const char *display_name(const char *n)
{
    if (strcmp(n, "datestyle") == 0) return "DateStyle";
    if (strcmp(n, "timezone") == 0) return "TimeZone";
    if (strcmp(n, "intervalstyle") == 0) return "IntervalStyle";
    return n;
}

static const setting_def_t *find_def(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(defs); i++)
        if (strcasecmp(defs[i].name, name) == 0) return &defs[i];
    return NULL;
}

const char *sess_default(const char *name)
{
    const setting_def_t *d = find_def(name);
    return d ? d->dflt : NULL;
}

bool sess_is_reported(const char *name)
{
    const setting_def_t *d = find_def(name);
    return d && d->reported;
}

static atomic_long g_next_id = 1;

static void put_setting(sess_t *s, const char *name, const char *value, bool also_reset)
{
    s->epoch++; /* what names resolve to may change (search_path): statements kept by the door are stale */
    char lname[128];
    snprintf(lname, sizeof lname, "%s", name);
    for (char *p = lname; *p; p++) *p = (char)tolower((unsigned char)*p);
    for (int i = 0; i < s->nsettings; i++) {
        if (strcmp(s->settings[i].name, lname) == 0) {
            bool changed = strcmp(s->settings[i].value, value) != 0;
            free(s->settings[i].value);
            s->settings[i].value = xstrdup(value);
            if (also_reset) {
                free(s->settings[i].reset);
                s->settings[i].reset = xstrdup(value);
            }
            if (changed && sess_is_reported(lname)) {
                s->changed = xrealloc(s->changed, sizeof(char *) * (size_t)(s->nchanged + 1));
                s->changed[s->nchanged++] = xstrdup(display_name(lname));
            }
            return;
        }
    }
    s->settings = xrealloc(s->settings, sizeof *s->settings * (size_t)(s->nsettings + 1));
    s->settings[s->nsettings].name = xstrdup(lname);
    s->settings[s->nsettings].value = xstrdup(value);
    s->settings[s->nsettings].reset = xstrdup(value);
    s->nsettings++;
}

sess_t *sess_create(server_t *srv, const char *user, bool superuser, const char *client_addr,
                    const char *door)
{
    duckdb_connection c = eng_connect(srv->eng);
    if (!c) return NULL;
    sess_t *s = xcalloc(1, sizeof *s);
    s->srv = srv;
    s->conn = c;
    s->id = atomic_fetch_add(&g_next_id, 1);
    snprintf(s->real_user, sizeof s->real_user, "%s", user);
    snprintf(s->user, sizeof s->user, "%s", user);
    s->superuser = superuser;
    snprintf(s->client_addr, sizeof s->client_addr, "%s", client_addr ? client_addr : "");
    s->door = door;
    s->started_wall_us = wall_us();
    s->tx = SESS_TX_IDLE;
    snprintf(s->default_schema, sizeof s->default_schema, "main");
    for (size_t i = 0; i < ARRAY_LEN(defs); i++) put_setting(s, defs[i].name, defs[i].dflt, true);
    put_setting(s, "is_superuser", superuser ? "on" : "off", true);
    put_setting(s, "session_authorization", user, true);
    /* Nothing has been reported yet; the door sends every reported setting once. */
    for (int i = 0; i < s->nchanged; i++) free(s->changed[i]);
    s->nchanged = 0;
    return s;
}

void sess_set_identity(sess_t *s, const char *user, bool superuser)
{
    s->epoch++;
    put_setting(s, "is_superuser", superuser ? "on" : "off", true);
    put_setting(s, "session_authorization", user, true);
}

static pthread_mutex_t g_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static sess_t **g_reg;
static int g_nreg;

void sess_register(sess_t *s)
{
    duckdb_client_context ctx;
    duckdb_connection_get_client_context(s->conn, &ctx);
    s->engine_conn_id = duckdb_client_context_get_connection_id(ctx);
    duckdb_destroy_client_context(&ctx);
    pthread_mutex_lock(&g_reg_mu);
    g_reg = xrealloc(g_reg, sizeof *g_reg * (size_t)(g_nreg + 1));
    g_reg[g_nreg++] = s;
    pthread_mutex_unlock(&g_reg_mu);
}

void sess_foreach(void (*fn)(void *ctx, const sess_t *s), void *ctx)
{
    pthread_mutex_lock(&g_reg_mu);
    for (int i = 0; i < g_nreg; i++) fn(ctx, g_reg[i]);
    pthread_mutex_unlock(&g_reg_mu);
}

bool sess_user_of_connection(uint64_t conn_id, char *user, size_t n, bool *superuser)
{
    bool found = false;
    pthread_mutex_lock(&g_reg_mu);
    for (int i = 0; i < g_nreg; i++) {
        if (g_reg[i]->engine_conn_id == conn_id) {
            snprintf(user, n, "%s", g_reg[i]->user);
            *superuser = g_reg[i]->superuser;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&g_reg_mu);
    return found;
}

sess_t *sess_of_connection(uint64_t conn_id)
{
    sess_t *found = NULL;
    pthread_mutex_lock(&g_reg_mu);
    for (int i = 0; i < g_nreg; i++)
        if (g_reg[i]->engine_conn_id == conn_id) found = g_reg[i];
    pthread_mutex_unlock(&g_reg_mu);
    return found;
}

static void sess_unregister(sess_t *s)
{
    pthread_mutex_lock(&g_reg_mu);
    for (int i = 0; i < g_nreg; i++) {
        if (g_reg[i] == s) {
            g_reg[i] = g_reg[--g_nreg];
            break;
        }
    }
    pthread_mutex_unlock(&g_reg_mu);
}

void sess_destroy(sess_t *s)
{
    if (!s) return;
    sess_unregister(s);
    eng_disconnect(&s->conn);
    for (int i = 0; i < s->nsettings; i++) {
        free(s->settings[i].name);
        free(s->settings[i].value);
        free(s->settings[i].reset);
    }
    free(s->settings);
    for (int i = 0; i < s->nchanged; i++) free(s->changed[i]);
    free(s->changed);
    pol_acl_free(s->acl);
    authz_session_free(s);
    protect_session_free(s);
    lin_session_free(s);
    gate_audit_session_free(s);
    for (int i = 0; i < s->nshim_objects; i++) free(s->shim_objects[i]);
    free(s->shim_objects);
    free(s);
}

const char *sess_get(sess_t *s, const char *name)
{
    for (int i = 0; i < s->nsettings; i++)
        if (strcasecmp(s->settings[i].name, name) == 0) return s->settings[i].value;
    return NULL;
}

static bool is_utf8_name(const char *v)
{
    return strcasecmp(v, "UTF8") == 0 || strcasecmp(v, "UTF-8") == 0 || strcasecmp(v, "unicode") == 0;
}

sess_set_result_t sess_set(sess_t *s, const char *name, const char *value, bool is_startup, char *err,
                           size_t errlen)
{
    const setting_def_t *d = find_def(name);
    if (!d) {
        /* Custom (dotted) settings are accepted as placeholders, as PostgreSQL does. */
        if (!strchr(name, '.')) {
            snprintf(err, errlen, "unrecognized configuration parameter \"%s\"", name);
            return SESS_SET_UNKNOWN;
        }
        put_setting(s, name, value, is_startup);
        return SESS_SET_OK;
    }
    if (d->readonly) {
        snprintf(err, errlen, "parameter \"%s\" cannot be changed", d->name);
        return SESS_SET_READONLY;
    }
    if (strcmp(d->name, "client_encoding") == 0) {
        /* pgjdbc and others require the reported value to be exactly UTF8. */
        if (!is_utf8_name(value)) {
            snprintf(err, errlen, "client_encoding \"%s\" is not supported: madang speaks UTF8 only", value);
            return SESS_SET_BAD_VALUE;
        }
        value = "UTF8";
    }
    if (strcmp(d->name, "datestyle") == 0) {
        /* Values are always sent in ISO form; accept the orderings, refuse others. */
        if (!strcasestr(value, "iso") && strcasecmp(value, "mdy") && strcasecmp(value, "dmy") &&
            strcasecmp(value, "ymd")) {
            snprintf(err, errlen, "DateStyle \"%s\" is not supported: madang sends dates in ISO style",
                     value);
            return SESS_SET_BAD_VALUE;
        }
        value = "ISO, MDY";
    }
    if (strcmp(d->name, "intervalstyle") == 0 && strcasecmp(value, "postgres") != 0) {
        snprintf(err, errlen, "IntervalStyle \"%s\" is not supported: madang uses postgres style", value);
        return SESS_SET_BAD_VALUE;
    }
    if (strcmp(d->name, "standard_conforming_strings") == 0 && strcasecmp(value, "on") != 0 &&
        strcasecmp(value, "true") != 0) {
        snprintf(err, errlen, "standard_conforming_strings can only be on");
        return SESS_SET_BAD_VALUE;
    }
    if (strcmp(d->name, "bytea_output") == 0 && strcasecmp(value, "hex") != 0) {
        snprintf(err, errlen, "bytea_output \"%s\" is not supported: madang uses hex", value);
        return SESS_SET_BAD_VALUE;
    }
    put_setting(s, d->name, value, is_startup);
    if (strcmp(d->name, "default_transaction_isolation") == 0)
        put_setting(s, "transaction_isolation", value, is_startup);
    return SESS_SET_OK;
}

sess_set_result_t sess_reset(sess_t *s, const char *name)
{
    if (!name) {
        for (int i = 0; i < s->nsettings; i++) {
            const setting_def_t *d = find_def(s->settings[i].name);
            if (d && d->readonly) continue;
            put_setting(s, s->settings[i].name, s->settings[i].reset, false);
        }
        return SESS_SET_OK;
    }
    for (int i = 0; i < s->nsettings; i++) {
        if (strcasecmp(s->settings[i].name, name) == 0) {
            const setting_def_t *d = find_def(name);
            if (d && d->readonly) return SESS_SET_READONLY;
            put_setting(s, s->settings[i].name, s->settings[i].reset, false);
            return SESS_SET_OK;
        }
    }
    return SESS_SET_UNKNOWN;
}

char **sess_take_changed(sess_t *s, int *n)
{
    char **out = s->changed;
    *n = s->nchanged;
    s->changed = NULL;
    s->nchanged = 0;
    return out;
}

int sess_setting_count(sess_t *s)
{
    return s->nsettings;
}
