/* test_tls.c — certificate generation and the server SSL_CTX: files and modes,
 * idempotence, and real handshakes over a socketpair with a verifying client
 * (hostname localhost, IPs 127.0.0.1 and ::1, a wrong name, an old protocol). */
#include "check.h"
#include "pgwire/tls.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static char err[512];

typedef struct {
    const char *host; /* checked as DNS name, or NULL */
    const char *ip;   /* checked as IP address, or NULL */
    int max_version;  /* client's maximum protocol version, 0 = any */
    bool offer_alpn;
    long verify_result; /* out */
    char alpn[32];      /* out: protocol the server selected, "" if none */
    int version;        /* out */
} hs_t;

/* Runs server and client handshakes in turn on non-blocking socketpair ends,
 * then sends one message each way. True when both sides completed. */
static bool handshake(SSL_CTX *sctx, const char *ca_file, hs_t *h)
{
    int sv[2];
    bool ok = false;
    SSL *srv = NULL, *cli = NULL;
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    if (!cctx || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return false;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    if (SSL_CTX_load_verify_locations(cctx, ca_file, NULL) != 1) goto done;
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    if (h->max_version) SSL_CTX_set_max_proto_version(cctx, h->max_version);
    srv = SSL_new(sctx);
    cli = SSL_new(cctx);
    SSL_set_fd(srv, sv[0]);
    SSL_set_fd(cli, sv[1]);
    SSL_set_accept_state(srv);
    SSL_set_connect_state(cli);
    if (h->host) {
        SSL_set_tlsext_host_name(cli, h->host);
        SSL_set1_host(cli, h->host);
    }
    if (h->ip) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(cli), h->ip);
    if (h->offer_alpn) SSL_set_alpn_protos(cli, (const unsigned char *)"\x02h2\x0apostgresql", 14);

    bool sdone = false, cdone = false;
    for (int i = 0; i < 100 && !(sdone && cdone); i++) {
        if (!cdone) {
            int r = SSL_do_handshake(cli);
            if (r == 1)
                cdone = true;
            else if (SSL_get_error(cli, r) != SSL_ERROR_WANT_READ)
                break;
        }
        if (!sdone) {
            int r = SSL_do_handshake(srv);
            if (r == 1)
                sdone = true;
            else if (SSL_get_error(srv, r) != SSL_ERROR_WANT_READ)
                break;
        }
    }
    h->verify_result = SSL_get_verify_result(cli);
    if (!(sdone && cdone)) goto done;
    h->version = SSL_version(cli);
    const unsigned char *proto;
    unsigned int plen;
    SSL_get0_alpn_selected(cli, &proto, &plen);
    snprintf(h->alpn, sizeof h->alpn, "%.*s", (int)plen, proto ? (const char *)proto : "");

    char buf[16] = {0};
    if (SSL_write(cli, "ping", 4) != 4 || SSL_read(srv, buf, sizeof buf) != 4 || memcmp(buf, "ping", 4) != 0)
        goto done;
    if (SSL_write(srv, "pong", 4) != 4 || SSL_read(cli, buf, sizeof buf) != 4 || memcmp(buf, "pong", 4) != 0)
        goto done;
    ok = true;
done:
    ERR_clear_error();
    SSL_free(srv);
    SSL_free(cli);
    SSL_CTX_free(cctx);
    close(sv[0]);
    close(sv[1]);
    return ok;
}

static bool same_file(const char *path, const char *content, size_t len, const struct stat *before)
{
    size_t n;
    struct stat st;
    char *now = read_file(path, &n);
    bool same = now && n == len && memcmp(now, content, len) == 0 && stat(path, &st) == 0 &&
                st.st_ino == before->st_ino && st.st_mtim.tv_sec == before->st_mtim.tv_sec &&
                st.st_mtim.tv_nsec == before->st_mtim.tv_nsec;
    free(now);
    return same;
}

static void test_cert_and_handshake(const char *dir)
{
    char *crt = xasprintf("%s/server.crt", dir), *key = xasprintf("%s/server.key", dir);
    struct stat st_key, st_crt;

    CHECK(pgw_tls_ensure_cert(crt, key, err, sizeof err));
    CHECK(stat(key, &st_key) == 0 && (st_key.st_mode & 07777) == 0600);
    CHECK(stat(crt, &st_crt) == 0 && S_ISREG(st_crt.st_mode));

    /* The certificate's contents, as a client would see them. */
    FILE *f = fopen(crt, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f) fclose(f);
    CHECK(x != NULL);
    if (x) {
        CHECK(X509_check_host(x, "localhost", 0, 0, NULL) == 1);
        CHECK(X509_check_ip_asc(x, "127.0.0.1", 0) == 1);
        CHECK(X509_check_ip_asc(x, "::1", 0) == 1);
        CHECK(X509_check_ca(x) >= 1);
        CHECK((X509_get_key_usage(x) & (KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN)) ==
              (KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN));
        EVP_PKEY *pk = X509_get0_pubkey(x);
        char group[32] = "";
        CHECK(pk && EVP_PKEY_get_group_name(pk, group, sizeof group, NULL) == 1 &&
              strcmp(group, "prime256v1") == 0);
        int days = 0, secs = 0;
        CHECK(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1 && days >= 3649 && days <= 3650);
        X509_free(x);
    }

    /* A second call leaves both files exactly as they are. */
    size_t crt_len = 0, key_len = 0;
    char *crt_before = read_file(crt, &crt_len), *key_before = read_file(key, &key_len);
    CHECK(crt_before && key_before);
    CHECK(pgw_tls_ensure_cert(crt, key, err, sizeof err));
    CHECK(crt_before && same_file(crt, crt_before, crt_len, &st_crt));
    CHECK(key_before && same_file(key, key_before, key_len, &st_key));

    SSL_CTX *ctx = pgw_tls_server_ctx(crt, key, err, sizeof err);
    CHECK(ctx != NULL);
    if (!ctx) fprintf(stderr, "  %s\n", err);
    if (ctx) {
        CHECK(SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION);
        CHECK(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);

        hs_t h = {.host = "localhost", .offer_alpn = true};
        CHECK(handshake(ctx, crt, &h));
        CHECK(h.verify_result == X509_V_OK);
        CHECK(h.version >= TLS1_2_VERSION);
        CHECK(strcmp(h.alpn, "postgresql") == 0);

        h = (hs_t){.ip = "127.0.0.1"};
        CHECK(handshake(ctx, crt, &h) && h.verify_result == X509_V_OK && h.alpn[0] == '\0');
        h = (hs_t){.ip = "::1"};
        CHECK(handshake(ctx, crt, &h) && h.verify_result == X509_V_OK);
        h = (hs_t){.host = "localhost", .max_version = TLS1_2_VERSION};
        CHECK(handshake(ctx, crt, &h) && h.version == TLS1_2_VERSION);

        h = (hs_t){.host = "example.com"};
        CHECK(!handshake(ctx, crt, &h));
        CHECK(h.verify_result == X509_V_ERR_HOSTNAME_MISMATCH);
        h = (hs_t){.ip = "10.0.0.1"};
        CHECK(!handshake(ctx, crt, &h));
        h = (hs_t){.host = "localhost", .max_version = TLS1_1_VERSION};
        CHECK(!handshake(ctx, crt, &h));
        SSL_CTX_free(ctx);
    }

    /* Only one of the pair present: refused, and the other is not created. */
    char *crt_moved = xasprintf("%s.moved", crt);
    CHECK(rename(crt, crt_moved) == 0);
    CHECK(!pgw_tls_ensure_cert(crt, key, err, sizeof err));
    CHECK(strstr(err, "exists but") != NULL);
    CHECK(access(crt, F_OK) != 0);
    CHECK(same_file(key, key_before, key_len, &st_key));
    CHECK(rename(crt_moved, crt) == 0);

    CHECK(pgw_tls_server_ctx(crt, "/nonexistent/server.key", err, sizeof err) == NULL);
    CHECK(strstr(err, "/nonexistent/server.key") != NULL);

    free(crt_moved);
    free(crt_before);
    free(key_before);
    free(crt);
    free(key);
}

static void test_mismatched_key(const char *dir)
{
    char *crt = xasprintf("%s/server.crt", dir), *key = xasprintf("%s/server.key", dir);
    char *crt2 = xasprintf("%s/other.crt", dir), *key2 = xasprintf("%s/other.key", dir);
    CHECK(pgw_tls_ensure_cert(crt2, key2, err, sizeof err));
    CHECK(pgw_tls_server_ctx(crt, key2, err, sizeof err) == NULL);
    CHECK(strstr(err, "does not match") != NULL || strstr(err, "key") != NULL);

    /* A client pinning the other certificate refuses this server. */
    SSL_CTX *ctx = pgw_tls_server_ctx(crt, key, err, sizeof err);
    CHECK(ctx != NULL);
    if (ctx) {
        hs_t h = {.host = "localhost"};
        CHECK(!handshake(ctx, crt2, &h));
        CHECK(h.verify_result != X509_V_OK);
        SSL_CTX_free(ctx);
    }
    unlink(crt2);
    unlink(key2);
    free(crt);
    free(key);
    free(crt2);
    free(key2);
}

int main(void)
{
    char dir[] = "/tmp/madang_test_tls_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_cert_and_handshake(dir);
    test_mismatched_key(dir);

    char *crt = xasprintf("%s/server.crt", dir), *key = xasprintf("%s/server.key", dir);
    unlink(crt);
    unlink(key);
    rmdir(dir);
    free(crt);
    free(key);
    return check_summary();
}
