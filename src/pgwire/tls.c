/* tls.c — self-signed certificate generation and the server SSL_CTX (see tls.h).
 *
 * The generated certificate is both the server's leaf and the trust anchor a
 * client pins, which is why it carries CA:TRUE and keyCertSign: OpenSSL (and so
 * libpq) accepts a self-signed certificate found in the root store as a
 * complete chain, and hostname checking then uses its subjectAltName. */
#include "pgwire/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CERT_DAYS     3650
#define CERT_CN       "localhost"
#define CERT_SAN      "DNS:localhost,IP:127.0.0.1,IP:::1"
#define ALPN_POSTGRES "\x0apostgresql"

/* err = "<what>: <first queued OpenSSL error>", then empties the queue so a
 * later failure does not report this one. */
static void openssl_error(char *err, size_t errlen, const char *what)
{
    char buf[256] = "unknown OpenSSL error";
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "%s: %s", what, buf);
    ERR_clear_error();
}

/* 1 if path exists, 0 if it does not, -1 (with err) if it cannot be told. */
static int file_exists(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0) return 1;
    if (errno == ENOENT) return 0;
    snprintf(err, errlen, "cannot check %s: %s", path, strerror(errno));
    return -1;
}

MUST_CHECK static bool add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, char *err, size_t errlen)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (!ext || !X509_add_ext(x, ext, -1)) {
        X509_EXTENSION_free(ext);
        openssl_error(err, errlen, "cannot add certificate extension");
        return false;
    }
    X509_EXTENSION_free(ext);
    return true;
}

/* Builds and signs the self-signed certificate for key. */
MUST_CHECK static X509 *make_cert(EVP_PKEY *key, char *err, size_t errlen)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    X509_NAME *name;
    X509V3_CTX ctx;
    if (!x || !serial) goto ssl_fail;
    /* 127 random bits: positive, and unique enough that a browser or client
     * that cached an earlier madang certificate does not confuse the two. */
    if (!X509_set_version(x, X509_VERSION_3) || !BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)))
        goto ssl_fail;
    /* Backdated an hour to tolerate clients whose clock is a little behind. */
    if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL))
        goto ssl_fail;
    name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)CERT_CN, -1, -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, key))
        goto ssl_fail;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    /* subjectKeyIdentifier first: authorityKeyIdentifier copies it. */
    if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE", err, errlen) ||
        !add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyCertSign", err, errlen) ||
        !add_ext(x, &ctx, NID_ext_key_usage, "serverAuth", err, errlen) ||
        !add_ext(x, &ctx, NID_subject_alt_name, CERT_SAN, err, errlen) ||
        !add_ext(x, &ctx, NID_subject_key_identifier, "hash", err, errlen) ||
        !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err, errlen))
        goto fail;
    if (X509_sign(x, key, EVP_sha256()) <= 0) goto ssl_fail;
    BN_free(serial);
    return x;
ssl_fail:
    openssl_error(err, errlen, "cannot build the self-signed certificate");
fail:
    BN_free(serial);
    X509_free(x);
    return NULL;
}

/* Writes what a PEM writer put into a memory BIO to path, atomically. */
MUST_CHECK static bool write_bio(BIO *bio, const char *path, int mode, char *err, size_t errlen)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    if (len <= 0 || !write_file_atomic(path, data, (size_t)len, mode)) {
        snprintf(err, errlen, "cannot write %s: %s (check the data directory exists and is writable)", path,
                 strerror(errno));
        return false;
    }
    return true;
}

bool pgw_tls_ensure_cert(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    BIO *key_bio = NULL, *cert_bio = NULL;
    bool ok = false, key_written = false;

    int have_cert = file_exists(cert_path, err, errlen);
    if (have_cert < 0) return false;
    int have_key = file_exists(key_path, err, errlen);
    if (have_key < 0) return false;
    if (have_cert && have_key) return true;
    if (have_cert || have_key) {
        snprintf(err, errlen,
                 "%s exists but %s does not; supply both, or remove %s to have a self-signed pair generated",
                 have_cert ? cert_path : key_path, have_cert ? key_path : cert_path,
                 have_cert ? cert_path : key_path);
        return false;
    }

    key = EVP_EC_gen("P-256");
    if (!key) {
        openssl_error(err, errlen, "cannot generate an EC P-256 key");
        goto done;
    }
    x = make_cert(key, err, errlen);
    if (!x) goto done;
    key_bio = BIO_new(BIO_s_mem());
    cert_bio = BIO_new(BIO_s_mem());
    if (!key_bio || !cert_bio || !PEM_write_bio_PrivateKey(key_bio, key, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cert_bio, x)) {
        openssl_error(err, errlen, "cannot encode the certificate or key as PEM");
        goto done;
    }
    /* Key first: a crash between the two writes leaves a key without a
     * certificate, which the next start reports instead of silently
     * regenerating. */
    if (!write_bio(key_bio, key_path, 0600, err, errlen)) goto done;
    key_written = true;
    /* The mode given at creation is filtered by the umask; make it exact. */
    if (chmod(key_path, 0600) != 0) {
        snprintf(err, errlen, "cannot chmod 0600 %s: %s", key_path, strerror(errno));
        goto done;
    }
    if (!write_bio(cert_bio, cert_path, 0644, err, errlen)) goto done;
    ok = true;
done:
    if (!ok && key_written) unlink(key_path);
    BIO_free(key_bio);
    BIO_free(cert_bio);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

/* Picks "postgresql" if the client offers it; without a match the handshake
 * simply goes on without ALPN (libpq before 17 offers none). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    UNUSED(ssl);
    UNUSED(arg);
    if (SSL_select_next_proto((unsigned char **)out, outlen, (const unsigned char *)ALPN_POSTGRES,
                              sizeof ALPN_POSTGRES - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_OK;
    return SSL_TLSEXT_ERR_NOACK;
}

SSL_CTX *pgw_tls_server_ctx(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        openssl_error(err, errlen, "cannot create the TLS context");
        return NULL;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        openssl_error(err, errlen, "cannot require TLS 1.2");
        goto fail;
    }
    /* As PostgreSQL's be_tls_init: no compression (CRIME), no renegotiation,
     * no tickets or session cache (sessions are never resumed). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        char what[512];
        snprintf(what, sizeof what, "cannot load certificate %s", cert_path);
        openssl_error(err, errlen, what);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
        char what[512];
        snprintf(what, sizeof what, "cannot load private key %s", key_path);
        openssl_error(err, errlen, what);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        char what[1024];
        snprintf(what, sizeof what, "private key %s does not match certificate %s", key_path, cert_path);
        openssl_error(err, errlen, what);
        goto fail;
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}
