/* tls.h — the server's TLS setup: a self-signed certificate on first start and
 * the SSL_CTX every connection's SSL object is made from (OpenSSL 3).
 *
 * The generated certificate is its own CA (basicConstraints CA:TRUE, keyUsage
 * digitalSignature + keyCertSign) with subjectAltName DNS:localhost,
 * IP:127.0.0.1, IP:::1, so a client can pin it: libpq with sslmode=verify-full
 * sslrootcert=DATA/server.crt host=localhost (or 127.0.0.1) verifies it. */
#ifndef MADANG_PGWIRE_TLS_H
#define MADANG_PGWIRE_TLS_H

#include "util/util.h"

#include <openssl/ssl.h>

/* Ensures cert_path and key_path exist. If both are absent, generates a
 * self-signed certificate (EC P-256 key, valid 10 years, CN=localhost, the
 * subjectAltNames above) and writes them atomically, the key with mode 0600.
 * If both are present they are left untouched (not even validated: that is
 * pgw_tls_server_ctx's job). If only one exists, refuses rather than overwrite
 * it. False + a one-line err on failure. */
bool pgw_tls_ensure_cert(const char *cert_path, const char *key_path, char *err, size_t errlen) MUST_CHECK;

/* A server SSL_CTX using that certificate (chain) and key: TLS 1.2 or newer,
 * no compression, no renegotiation, no session tickets or cache (every
 * connection is a full handshake, as PostgreSQL does). Selects ALPN
 * "postgresql" when the client offers it (libpq 17 direct SSL) and otherwise
 * does without ALPN. Caller owns the result (SSL_CTX_free). NULL + err on
 * failure, including a key that does not match the certificate. */
SSL_CTX *pgw_tls_server_ctx(const char *cert_path, const char *key_path, char *err, size_t errlen) MUST_CHECK;

#endif
