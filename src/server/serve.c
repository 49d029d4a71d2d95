/* serve.c — `madang serve`: flags, data dir, listeners, bootstrap, signals, shutdown.
 *
 * Start-up order is chosen so that a refused start changes nothing: check the
 * data dir, bind both ports, and only then create or lock the directory. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/index.h"
#include "demo/demo.h"
#include "http/http.h"
#include "pgwire/conn.h"
#include "pgwire/scram.h"
#include "pgwire/tls.h"
#include "policy/acl.h"
#include "server/metrics.h"
#include "server/server.h"
#include "policy/ldap.h"

static int g_sigpipe[2] = {-1, -1};

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(g_sigpipe[1], &b, 1);
    UNUSED(w);
}

static void serve_usage(FILE *f)
{
    fprintf(f, "usage: madang serve [--data DIR] [--listen ADDR] [--pg-port N] [--http-port N] [--demo]\n"
               "\n"
               "Starts the madang server on DIR (created on first start).\n"
               "\n"
               "  --data DIR        data directory (default ./madang-data)\n"
               "  --listen ADDR     IPv4 address to listen on (default 127.0.0.1)\n"
               "  --pg-port N       PostgreSQL wire protocol port (default 5433)\n"
               "  --http-port N     HTTP API port (default 8080)\n"
               "  --demo            load the demo data set (a small crypto exchange) on first start\n"
               "  --max-connections N   client connection limit (default 100)\n"
               "  --max-message-bytes N largest protocol message accepted (default 268435456)\n"
               "  --auth-timeout S      seconds a client has to log in (default 60)\n"
               "  --config FILE         settings file (default DATA/madang.conf; see docs/configuration.md)\n"
               "  -h, --help        show this help\n"
               "\n"
               "On first start the superuser 'admin' gets the password in $MADANG_ADMIN_PASSWORD,\n"
               "or a random one written to DIR/admin.password (mode 0600).\n");
}

static bool parse_port(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 65535) return false;
    *out = (int)v;
    return true;
}

static int bind_listen(const char *addr, int port, const char *what, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "--listen %s is not an IPv4 address; use e.g. 127.0.0.1 or 0.0.0.0", addr);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "cannot listen for %s on %s:%d: %s; stop what uses it or pass another --%s",
                 what, addr, port, strerror(errno), strcmp(what, "http") == 0 ? "http-port" : "pg-port");
        close(fd);
        return -1;
    }
    if (listen(fd, 128) != 0) {
        snprintf(err, errlen, "listen on %s:%d: %s", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static char *random_password(void)
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    unsigned char raw[24];
    if (RAND_bytes(raw, sizeof raw) != 1) abort();
    char *p = xmalloc(sizeof raw + 1);
    for (size_t i = 0; i < sizeof raw; i++) p[i] = alphabet[raw[i] % (sizeof alphabet - 1)];
    p[sizeof raw] = '\0';
    return p;
}

/* Demo users that show access control off (passwords are public: demo only).
 * analyst: reads trades, orders and accounts, not customers.
 * support: reads customers' id, name and country, not their email or phone. */
static bool demo_users(server_t *srv, char *err, size_t errlen)
{
    static const struct {
        const char *user, *password, *group;
    } users[] = {{"analyst", "analyst-demo", "analysts"}, {"support", "support-demo", "support_agents"}};
    char *done = meta_kv_get(srv->meta, "demo_users");
    if (done) { /* once per data dir: later changes by an admin stay */
        free(done);
        return true;
    }
    meta_user_t u;
    for (size_t i = 0; i < ARRAY_LEN(users); i++) {
        if (meta_user_get(srv->meta, users[i].user, &u)) continue;
        char *v = pgw_scram_make_verifier(users[i].password);
        bool ok = v && meta_user_create(srv->meta, users[i].user, v, false, err, errlen);
        free(v);
        if (!ok) return false;
        if (!pol_group_exists(srv->meta, users[i].group) &&
            !pol_group_create(srv->meta, users[i].group, err, errlen))
            return false;
        const char *members[] = {users[i].user};
        if (!pol_group_alter(srv->meta, users[i].group, true, members, 1, err, errlen)) return false;
    }
    static const char *analyst_tables[] = {"trades", "orders", "accounts"};
    for (size_t i = 0; i < ARRAY_LEN(analyst_tables); i++)
        if (!pol_grant(srv->meta, false, POL_SELECT, false, "main", analyst_tables[i], NULL, 0,
                       POL_GRANTEE_GROUP, "analysts", "admin", err, errlen))
            return false;
    const char *cols[] = {"id", "name", "country"};
    if (!pol_grant(srv->meta, false, POL_SELECT, false, "main", "customers", cols, 3, POL_GRANTEE_GROUP,
                   "support_agents", "admin", err, errlen))
        return false;
    if (!meta_kv_set(srv->meta, "demo_users", "1")) {
        snprintf(err, errlen, "cannot record the demo users");
        return false;
    }
    return true;
}

static bool bootstrap_admin(server_t *srv, char *err, size_t errlen)
{
    if (meta_user_count(srv->meta) > 0) return true;
    const char *env = getenv("MADANG_ADMIN_PASSWORD");
    char *pw = env && *env ? xstrdup(env) : random_password();
    char *verifier = pgw_scram_make_verifier(pw);
    bool ok = meta_user_create(srv->meta, "admin", verifier, true, err, errlen);
    free(verifier);
    if (ok && !(env && *env)) {
        char *path = xasprintf("%s/admin.password", srv->opts.data_dir);
        char *line = xasprintf("%s\n", pw);
        ok = write_file_atomic(path, line, strlen(line), 0600);
        if (!ok)
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        else
            printf("madang: created superuser 'admin' with password %s (saved in %s)\n", pw, path);
        fflush(stdout);
        free(line);
        free(path);
    } else if (ok) {
        log_event(LOG_INFO, "admin_created", "password_source=MADANG_ADMIN_PASSWORD");
    }
    free(pw);
    return ok;
}

int serve_main(int argc, char **argv)
{
    /* MADANG_LOG=debug also logs what the gate rewrote (policies) */
    const char *lv = getenv("MADANG_LOG");
    if (lv && !strcmp(lv, "debug")) log_set_level(LOG_DEBUG);
    server_t srv = {
        .opts =
            {
                .data_dir = "./madang-data",
                .listen_addr = "127.0.0.1",
                .pg_port = 5433,
                .http_port = 8080,
                .max_connections = 100,
                .auth_timeout_s = 60,
                .idle_in_tx_timeout_s = 0,
                .max_message_bytes = 256u << 20,
            },
        .pg_fd = -1,
        .http_fd = -1,
    };
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"pg-port", required_argument, NULL, 'p'},
        {"http-port", required_argument, NULL, 'H'},
        {"demo", no_argument, NULL, 'D'},
        {"max-connections", required_argument, NULL, 'm'},
        {"max-message-bytes", required_argument, NULL, 'M'},
        {"auth-timeout", required_argument, NULL, 'A'},
        {"config", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            srv.opts.data_dir = optarg;
            break;
        case 'l':
            srv.opts.listen_addr = optarg;
            break;
        case 'p':
        case 'H':
            if (!parse_port(optarg, c == 'p' ? &srv.opts.pg_port : &srv.opts.http_port)) {
                fprintf(stderr, "madang serve: bad port '%s' (want 0..65535)\n", optarg);
                return 2;
            }
            break;
        case 'm':
            srv.opts.max_connections = atoi(optarg);
            break;
        case 'M': {
            long long v = atoll(optarg);
            if (v < 1024) {
                fprintf(stderr, "madang serve: --max-message-bytes must be at least 1024\n");
                return 2;
            }
            srv.opts.max_message_bytes = (size_t)v;
            break;
        }
        case 'A':
            srv.opts.auth_timeout_s = atoi(optarg);
            if (srv.opts.auth_timeout_s < 1) {
                fprintf(stderr, "madang serve: --auth-timeout must be at least 1 second\n");
                return 2;
            }
            break;
        case 'D':
            srv.opts.demo = true;
            break;
        case 'C':
            srv.opts.config_path = optarg;
            break;
        case 'h':
            serve_usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "madang serve: option %s needs a value\n", argv[optind - 1]);
            serve_usage(stderr);
            return 2;
        default:
            fprintf(stderr, "madang serve: unknown option '%s'\n", argv[optind - 1]);
            serve_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "madang serve: unexpected argument '%s'\n", argv[optind]);
        serve_usage(stderr);
        return 2;
    }
    if (srv.opts.max_connections < 1) srv.opts.max_connections = 1;

    /* A few shared malloc arenas instead of up to eight per core for the
     * connection threads: fewer heaps holding free memory between bursts.
     * (What RSS keeps after a burst is mostly live memory in the engine; see
     * the README's mem_concurrency row.) */
    mallopt(M_ARENA_MAX, 4);

    char err[512];
    int lock_fd = -1;
    http_t *http = NULL;
    int rc = 1;
    met_init();
    srv.started_wall_us = wall_us();

    config_defaults(&srv.cfg);
    {
        char *cpath = srv.opts.config_path ? xstrdup(srv.opts.config_path)
                                           : xasprintf("%s/madang.conf", srv.opts.data_dir);
        bool ok = config_load(&srv.cfg, cpath, srv.opts.config_path == NULL, err, sizeof err);
        free(cpath);
        if (!ok) {
            fprintf(stderr, "madang serve: %s\n", err);
            config_free(&srv.cfg);
            return 2;
        }
    }
    if (!datadir_check(srv.opts.data_dir, err, sizeof err)) goto fail;
    srv.pg_fd = bind_listen(srv.opts.listen_addr, srv.opts.pg_port, "pg", err, sizeof err);
    if (srv.pg_fd < 0) goto fail;
    srv.http_fd = bind_listen(srv.opts.listen_addr, srv.opts.http_port, "http", err, sizeof err);
    if (srv.http_fd < 0) goto fail;
    if (!datadir_create(srv.opts.data_dir, err, sizeof err)) goto fail;
    lock_fd = datadir_lock(srv.opts.data_dir, err, sizeof err);
    if (lock_fd < 0) goto fail;

#ifndef MADANG_BENCH_NO_AUDIT
    srv.audit = audit_open(srv.opts.data_dir, err, sizeof err);
    if (!srv.audit) goto fail;
#else
    /* bench/audit_cost.py's comparison build only (make bench-noaudit): never shipped */
    log_event(LOG_WARN, "audit_disabled_bench_build", "");
#endif
    audit_set_limits(srv.audit, srv.cfg.audit_segment_age_s, (size_t)srv.cfg.audit_segment_mb << 20);
    audit_purge(srv.audit, srv.cfg.audit_retention_days);
    audit_write(srv.audit, "server_start",
                json_pack("{s:s,s:s,s:i}", "version", MADANG_VERSION, "data_dir", srv.opts.data_dir, "pid",
                          (int)getpid()),
                true);

    char *path = xasprintf("%s/meta.db", srv.opts.data_dir);
    srv.meta = meta_open(path, err, sizeof err);
    free(path);
    if (!srv.meta) goto fail;
    srv.audit_index =
        audit_index_start(srv.meta, srv.opts.data_dir, srv.audit ? audit_last_seq(srv.audit) : UINT64_MAX);
    if (srv.audit_index) audit_set_listener(srv.audit, audit_index_hand_over, srv.audit_index);

    path = xasprintf("%s/warehouse.duckdb", srv.opts.data_dir);
    char *tmp = xasprintf("%s/tmp", srv.opts.data_dir);
    srv.eng = eng_open(path, tmp, err, sizeof err);
    free(path);
    free(tmp);
    if (!srv.eng) goto fail;

    char *crt = xasprintf("%s/server.crt", srv.opts.data_dir);
    char *key = xasprintf("%s/server.key", srv.opts.data_dir);
    bool tls_ok = pgw_tls_ensure_cert(crt, key, err, sizeof err);
    if (tls_ok) srv.tls = pgw_tls_server_ctx(crt, key, err, sizeof err);
    free(crt);
    free(key);
    if (!tls_ok || !srv.tls) goto fail;

    if (!bootstrap_admin(&srv, err, sizeof err)) goto fail;
    if (!pgw_setup_engine(&srv, err, sizeof err)) goto fail;
    if (srv.opts.demo) {
        duckdb_connection dc = eng_connect(srv.eng);
        int64_t t0 = now_us();
        bool ok = dc && demo_load(dc, err, sizeof err);
        eng_disconnect(&dc);
        if (ok) ok = demo_users(&srv, err, sizeof err);
        if (!ok) goto fail;
        log_event(LOG_INFO, "demo_ready", "ms=%lld", (long long)((now_us() - t0) / 1000));
    }

    srv.ldap = ldap_sync_start(&srv);
    http = http_start(&srv, srv.http_fd, err, sizeof err);
    if (!http) goto fail;
    srv.http_fd = -1; /* owned by the HTTP daemon now */

    if (pipe2(g_sigpipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, sizeof err, "pipe: %s", strerror(errno));
        goto fail;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    log_event(LOG_INFO, "server_started",
              "version=%s engine=%s data=\"%s\" listen=%s pg_port=%d http_port=%d pid=%d", MADANG_VERSION,
              eng_version(), srv.opts.data_dir, srv.opts.listen_addr, srv.opts.pg_port, srv.opts.http_port,
              (int)getpid());

    int sig = 0;
    while (!sig) {
        struct pollfd pf[2] = {{.fd = srv.pg_fd, .events = POLLIN}, {.fd = g_sigpipe[0], .events = POLLIN}};
        int n = poll(pf, 2, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pf[1].revents & POLLIN) {
            unsigned char b;
            if (read(g_sigpipe[0], &b, 1) == 1) sig = b;
        }
        if (!sig && (pf[0].revents & POLLIN)) pgw_accept(&srv);
    }
    log_event(LOG_INFO, "server_stopping", "signal=%s", sig == SIGINT ? "SIGINT" : sig ? "SIGTERM" : "none");
    atomic_store(&srv.stopping, true);
    close(srv.pg_fd);
    srv.pg_fd = -1;
    pgw_shutdown_all(10000);
    http_stop(http);
    http = NULL;
    rc = 0;
    goto out;

fail:
    fprintf(stderr, "madang serve: %s\n", err);
    log_event(LOG_ERROR, "server_start_failed", "error=\"%s\"", err);
    rc = 1;
out:
    http_stop(http);
    ldap_sync_stop(srv.ldap);
    srv.ldap = NULL;
    if (srv.audit) {
        audit_write(srv.audit, "server_stop", json_pack("{s:i}", "exit_code", rc), true);
        audit_close(srv.audit);
        srv.audit = NULL;
    }
    audit_index_stop(srv.audit_index);
    srv.audit_index = NULL;
    if (srv.pg_fd >= 0) close(srv.pg_fd);
    if (srv.http_fd >= 0) close(srv.http_fd);
    eng_close(srv.eng);
    meta_close(srv.meta);
    if (srv.tls) SSL_CTX_free(srv.tls);
    if (lock_fd >= 0) close(lock_fd);
    config_free(&srv.cfg);
    if (rc == 0) log_event(LOG_INFO, "server_stopped", "");
    return rc;
}
