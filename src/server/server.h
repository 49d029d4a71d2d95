/* server.h — the running server: what every door and the gate share.
 *
 * One server_t lives for the whole `madang serve` process. Doors (pgwire,
 * http) hold a pointer to it; the gate reads meta and eng through it. */
#ifndef MADANG_SERVER_H
#define MADANG_SERVER_H

#include <openssl/ssl.h>
#include <stdatomic.h>

#include "engine/engine.h"
#include "meta/meta.h"
#include "server/config.h"
#include "util/util.h"

#define MADANG_VERSION        "0.1.0"
#define MADANG_DATA_FORMAT    1
#define MADANG_PG_VERSION     "15.8"
#define MADANG_PG_VERSION_NUM "150008"

typedef struct {
    const char *data_dir;
    const char *listen_addr;
    int pg_port;
    int http_port;
    bool demo;
    int max_connections;
    int auth_timeout_s;
    int idle_in_tx_timeout_s; /* 0 = off */
    size_t max_message_bytes;
    const char *config_path; /* NULL = DATA/madang.conf if it exists */
} server_opts_t;

typedef struct server {
    server_opts_t opts;
    meta_t *meta;
    eng_t *eng;
    SSL_CTX *tls;
    int pg_fd;
    int http_fd;
    atomic_bool stopping;
    int64_t started_wall_us;
    config_t cfg;
    struct ldap_sync *ldap;          /* policy/ldap.c's background sync, NULL without LDAP */
    struct audit *audit;             /* audit/audit.c's writer */
    struct audit_index *audit_index; /* audit/index.c: the segments followed into meta.db */
} server_t;

/* `madang serve ...`: returns the process exit code. */
int serve_main(int argc, char **argv);

/* Data dir checks (datadir.c). Each returns false with a one-line reason and fix. */
bool datadir_check(const char *dir, char *err, size_t errlen) MUST_CHECK;
bool datadir_create(const char *dir, char *err, size_t errlen) MUST_CHECK;
/* Takes the data dir's lock; returns the held fd or -1 with err. */
int datadir_lock(const char *dir, char *err, size_t errlen);

#endif
