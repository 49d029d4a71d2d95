/* scram.c — SCRAM-SHA-256 server exchange and pg_authid-format verifiers (see scram.h).
 *
 * Message grammar (RFC 5802 section 7), as far as a server without channel
 * binding needs it:
 *     client-first = gs2-cbind-flag "," [authzid] "," client-first-bare
 *     client-first-bare = ["m=" ext ","] "n=" saslname "," "r=" c-nonce ["," extensions]
 *     server-first = "r=" c-nonce s-nonce "," "s=" salt "," "i=" iterations
 *     client-final = "c=" base64(gs2-header) "," "r=" nonce ["," extensions] "," "p=" proof
 *     server-final = "v=" base64(ServerSignature)
 * Key derivation (RFC 5802 section 3):
 *     SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, i)
 *     ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = SHA-256(ClientKey)
 *     ServerKey = HMAC(SaltedPassword, "Server Key")
 *     AuthMessage = client-first-bare "," server-first "," client-final-without-proof
 *     ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage)
 *     ServerSignature = HMAC(ServerKey, AuthMessage)
 * The server recovers ClientKey from the proof and accepts when its SHA-256
 * equals StoredKey. */
#include "pgwire/scram.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define KEY_LEN         SHA256_DIGEST_LENGTH
#define NONCE_RAW_LEN   18
#define VERIFIER_PREFIX "SCRAM-SHA-256$"

typedef enum { SCRAM_INIT, SCRAM_SENT_FIRST, SCRAM_DONE } scram_state_t;

struct pgw_scram {
    scram_state_t state;
    char *username;
    /* True when the user is unknown or its verifier unusable: the exchange runs
     * with mock values and fails at the final step. */
    bool doomed;
    int iterations;
    unsigned char *salt;
    size_t saltlen;
    unsigned char stored_key[KEY_LEN];
    unsigned char server_key[KEY_LEN];
    char *gs2_header;        /* "n,," or "y,," as the client sent it */
    char *client_first_bare; /* for AuthMessage */
    char *server_first;      /* for AuthMessage */
    char *nonce;             /* client nonce + server nonce */
    char *test_nonce;        /* server nonce override, tests only */
};

/* ---- base64 (RFC 4648, padded; decoding is strict: no whitespace) ---- */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const unsigned char *p, size_t n)
{
    char *out = xmalloc((n + 2) / 3 * 4 + 1);
    char *o = out;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64_chars[v >> 18 & 63];
        *o++ = b64_chars[v >> 12 & 63];
        *o++ = b64_chars[v >> 6 & 63];
        *o++ = b64_chars[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = b64_chars[v >> 18 & 63];
        *o++ = b64_chars[v >> 12 & 63];
        *o++ = i + 1 < n ? b64_chars[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes s[0..n) into a heap buffer (*out, *outlen). False if s is not
 * canonical padded base64. */
MUST_CHECK static bool b64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
    if (n % 4 != 0) return false;
    unsigned char *buf = xmalloc(n / 4 * 3 + 1);
    size_t len = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int pad = 0;
        if (last && s[i + 3] == '=') pad = s[i + 2] == '=' ? 2 : 1;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int d = k >= 4 - pad ? 0 : b64_value(s[i + k]);
            if (d < 0) goto fail;
            v = v << 6 | (uint32_t)d;
        }
        buf[len++] = (unsigned char)(v >> 16);
        if (pad < 2) buf[len++] = (unsigned char)(v >> 8);
        if (pad < 1) buf[len++] = (unsigned char)v;
    }
    *out = buf;
    *outlen = len;
    return true;
fail:
    free(buf);
    return false;
}

/* Decodes into a fixed-size key; false unless exactly KEY_LEN bytes. */
MUST_CHECK static bool b64_decode_key(const char *s, size_t n, unsigned char key[KEY_LEN])
{
    unsigned char *buf;
    size_t len;
    if (!b64_decode(s, n, &buf, &len)) return false;
    bool ok = len == KEY_LEN;
    if (ok) memcpy(key, buf, KEY_LEN);
    OPENSSL_cleanse(buf, len);
    free(buf);
    return ok;
}

/* ---- key derivation and verifiers ---- */

MUST_CHECK static bool hmac_sha256(const unsigned char *key, size_t keylen, const void *data, size_t n,
                                   unsigned char out[KEY_LEN])
{
    unsigned int outlen = 0;
    if (keylen > INT_MAX) return false;
    if (!HMAC(EVP_sha256(), key, (int)keylen, data, n, out, &outlen)) return false;
    return outlen == KEY_LEN;
}

/* Passwords are taken as raw bytes (no SASLprep); see scram.h for why that is
 * compatible with PostgreSQL for every ASCII password. */
MUST_CHECK static bool derive_keys(const char *password, const unsigned char *salt, size_t saltlen,
                                   int iterations, unsigned char stored_key[KEY_LEN],
                                   unsigned char server_key[KEY_LEN])
{
    unsigned char salted[KEY_LEN], client_key[KEY_LEN];
    bool ok = false;
    size_t pwlen = strlen(password);
    if (pwlen > INT_MAX || saltlen > INT_MAX || iterations < 1) return false;
    if (!PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)saltlen, iterations, EVP_sha256(), KEY_LEN,
                           salted))
        goto done;
    if (!hmac_sha256(salted, KEY_LEN, "Client Key", 10, client_key)) goto done;
    if (!SHA256(client_key, KEY_LEN, stored_key)) goto done;
    if (!hmac_sha256(salted, KEY_LEN, "Server Key", 10, server_key)) goto done;
    ok = true;
done:
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(client_key, sizeof client_key);
    return ok;
}

char *pgw_scram_make_verifier_salt(const char *password, const unsigned char *salt, size_t saltlen,
                                   int iterations)
{
    unsigned char stored[KEY_LEN], server[KEY_LEN];
    if (saltlen == 0 || !derive_keys(password, salt, saltlen, iterations, stored, server)) return NULL;
    char *s_salt = b64_encode(salt, saltlen);
    char *s_stored = b64_encode(stored, KEY_LEN);
    char *s_server = b64_encode(server, KEY_LEN);
    char *v = xasprintf(VERIFIER_PREFIX "%d:%s$%s:%s", iterations, s_salt, s_stored, s_server);
    free(s_salt);
    free(s_stored);
    free(s_server);
    OPENSSL_cleanse(stored, sizeof stored);
    OPENSSL_cleanse(server, sizeof server);
    return v;
}

char *pgw_scram_make_verifier(const char *password)
{
    unsigned char salt[PGW_SCRAM_SALT_LEN];
    if (RAND_bytes(salt, sizeof salt) != 1) return NULL;
    return pgw_scram_make_verifier_salt(password, salt, sizeof salt, PGW_SCRAM_ITERATIONS);
}

/* Parses "SCRAM-SHA-256$<iter>:<salt>$<stored>:<server>" (PostgreSQL's
 * parse_scram_secret). On success *salt is heap-allocated. */
MUST_CHECK static bool parse_verifier(const char *v, int *iterations, unsigned char **salt, size_t *saltlen,
                                      unsigned char stored[KEY_LEN], unsigned char server[KEY_LEN])
{
    if (!v || strncmp(v, VERIFIER_PREFIX, strlen(VERIFIER_PREFIX)) != 0) return false;
    const char *p = v + strlen(VERIFIER_PREFIX);
    if (!isdigit((unsigned char)*p)) return false;
    char *end;
    long it = strtol(p, &end, 10);
    if (*end != ':' || it < 1 || it > INT_MAX) return false;
    const char *salt_s = end + 1;
    const char *dollar = strchr(salt_s, '$');
    if (!dollar || dollar == salt_s) return false;
    const char *stored_s = dollar + 1;
    const char *colon = strchr(stored_s, ':');
    if (!colon) return false;
    const char *server_s = colon + 1;
    if (!b64_decode_key(stored_s, (size_t)(colon - stored_s), stored)) return false;
    if (!b64_decode_key(server_s, strlen(server_s), server)) return false;
    if (!b64_decode(salt_s, (size_t)(dollar - salt_s), salt, saltlen)) return false;
    if (*saltlen == 0) {
        free(*salt);
        return false;
    }
    *iterations = (int)it;
    return true;
}

bool pgw_scram_check_password(const char *verifier, const char *password)
{
    unsigned char want_stored[KEY_LEN], want_server[KEY_LEN], stored[KEY_LEN], server[KEY_LEN];
    unsigned char *salt = NULL;
    size_t saltlen = 0;
    int iterations;
    bool ok = false;
    if (!password || !parse_verifier(verifier, &iterations, &salt, &saltlen, want_stored, want_server))
        return false;
    if (!derive_keys(password, salt, saltlen, iterations, stored, server)) goto done;
    /* Both compared, without short-circuit, so timing does not say which differed. */
    ok = (CRYPTO_memcmp(stored, want_stored, KEY_LEN) | CRYPTO_memcmp(server, want_server, KEY_LEN)) == 0;
done:
    OPENSSL_cleanse(stored, sizeof stored);
    OPENSSL_cleanse(server, sizeof server);
    free(salt);
    return ok;
}

/* ---- mock values for unknown users ---- */

static pthread_once_t mock_once = PTHREAD_ONCE_INIT;
static unsigned char mock_secret[KEY_LEN];
static bool mock_ready;

static void mock_init(void)
{
    mock_ready = RAND_bytes(mock_secret, sizeof mock_secret) == 1;
}

/* The fake salt must be the same on every attempt for a given name (a
 * changing salt would betray a non-existent user) and unpredictable across
 * processes, hence HMAC under a per-process random secret (PostgreSQL uses
 * SHA-256 of the name and a per-cluster nonce in the same way). */
MUST_CHECK static bool mock_salt(const char *username, unsigned char salt[PGW_SCRAM_SALT_LEN])
{
    unsigned char mac[KEY_LEN];
    if (pthread_once(&mock_once, mock_init) != 0 || !mock_ready) return false;
    if (!hmac_sha256(mock_secret, sizeof mock_secret, username, strlen(username), mac)) return false;
    memcpy(salt, mac, PGW_SCRAM_SALT_LEN);
    return true;
}

/* ---- exchange ---- */

pgw_scram_t *pgw_scram_begin(const char *username, const char *verifier)
{
    pgw_scram_t *s = xcalloc(1, sizeof *s);
    s->state = SCRAM_INIT;
    s->username = xstrdup(username ? username : "");
    s->doomed =
        !parse_verifier(verifier, &s->iterations, &s->salt, &s->saltlen, s->stored_key, s->server_key);
    if (s->doomed) {
        /* Keys that no proof can match by accident; the final step refuses
         * anyway, but the same work is done as for a real user. */
        s->iterations = PGW_SCRAM_ITERATIONS;
        s->salt = NULL;
        s->saltlen = 0;
        memset(s->stored_key, 0, KEY_LEN);
        memset(s->server_key, 0, KEY_LEN);
    }
    return s;
}

void pgw_scram_set_test_nonce(pgw_scram_t *s, const char *server_nonce)
{
    free(s->test_nonce);
    s->test_nonce = xstrdup(server_nonce);
}

void pgw_scram_free(pgw_scram_t *s)
{
    if (!s) return;
    OPENSSL_cleanse(s->stored_key, KEY_LEN);
    OPENSSL_cleanse(s->server_key, KEY_LEN);
    free(s->username);
    free(s->salt);
    free(s->gs2_header);
    free(s->client_first_bare);
    free(s->server_first);
    free(s->nonce);
    free(s->test_nonce);
    free(s);
}

/* Reads "<want>=value" at *p (want 0: any letter), stopping before ',' or the
 * end; *name gets the attribute letter, *val a heap copy of the value. */
MUST_CHECK static bool read_attr(const char **p, char want, char *name, char **val, const char *what,
                                 char *err, size_t errlen)
{
    const char *s = *p;
    if (!isalpha((unsigned char)s[0]) || s[1] != '=' || (want && s[0] != want)) {
        if (want)
            snprintf(err, errlen, "malformed SCRAM message: expected attribute \"%c\" in %s", want, what);
        else
            snprintf(err, errlen, "malformed SCRAM message: expected an attribute in %s", what);
        return false;
    }
    const char *e = strchr(s + 2, ',');
    if (!e) e = s + strlen(s);
    if (name) *name = s[0];
    *val = xstrndup(s + 2, (size_t)(e - (s + 2)));
    *p = e;
    return true;
}

MUST_CHECK static bool eat_comma(const char **p, const char *what, char *err, size_t errlen)
{
    if (**p != ',') {
        snprintf(err, errlen, "malformed SCRAM message: expected ',' in %s", what);
        return false;
    }
    (*p)++;
    return true;
}

/* RFC 5802: printable = %x21-2B / %x2D-7E (printable ASCII except ','). */
static bool valid_nonce(const char *n)
{
    if (!*n) return false;
    for (; *n; n++)
        if (*n < 0x21 || *n > 0x7E || *n == ',') return false;
    return true;
}

/* A NUL-terminated copy of the message, refusing empty messages and embedded
 * NULs (which would silently truncate what is parsed). */
MUST_CHECK static bool copy_message(const char *msg, size_t len, char **copy, const char *what, char *err,
                                    size_t errlen)
{
    if (!msg || len == 0 || memchr(msg, '\0', len)) {
        snprintf(err, errlen, "malformed SCRAM message: %s is empty or contains a NUL byte", what);
        return false;
    }
    *copy = xstrndup(msg, len);
    return true;
}

bool pgw_scram_client_first(pgw_scram_t *s, const char *msg, size_t len, char **out, size_t *outlen,
                            char *err, size_t errlen)
{
    static const char what[] = "client-first-message";
    char *copy = NULL, *val = NULL, *client_nonce = NULL, *server_nonce = NULL, *salt_b64 = NULL;
    unsigned char mock[PGW_SCRAM_SALT_LEN];
    unsigned char raw[NONCE_RAW_LEN];

    if (s->state != SCRAM_INIT) {
        snprintf(err, errlen, "SCRAM client-first-message received twice");
        s->state = SCRAM_DONE;
        return false;
    }
    s->state = SCRAM_DONE; /* any failure ends the exchange */
    if (!copy_message(msg, len, &copy, what, err, errlen)) return false;

    const char *p = copy;
    switch (*p) {
    case 'n': /* client does not support channel binding */
    case 'y': /* client supports it but thinks the server does not: true, we offer no -PLUS */
        p++;
        break;
    case 'p':
        snprintf(err, errlen,
                 "SCRAM channel binding is not supported: this server offers SCRAM-SHA-256 only, "
                 "not SCRAM-SHA-256-PLUS; connect with channel_binding=prefer or disable");
        goto fail;
    default:
        snprintf(err, errlen, "malformed SCRAM message: unexpected channel-binding flag in %s", what);
        goto fail;
    }
    if (!eat_comma(&p, what, err, errlen)) goto fail;
    if (*p == 'a' && p[1] == '=') {
        snprintf(err, errlen, "SCRAM authorization identity (\"a=\") is not supported; leave it empty");
        goto fail;
    }
    if (!eat_comma(&p, what, err, errlen)) goto fail;
    s->gs2_header = xstrndup(copy, (size_t)(p - copy));
    s->client_first_bare = xstrdup(p);

    if (*p == 'm' && p[1] == '=') {
        snprintf(err, errlen, "SCRAM mandatory extensions (\"m=\") are not supported");
        goto fail;
    }
    /* The user name inside SCRAM is ignored: the startup packet's is used. */
    if (!read_attr(&p, 'n', NULL, &val, what, err, errlen)) goto fail;
    free(val);
    val = NULL;
    if (!eat_comma(&p, what, err, errlen)) goto fail;
    if (!read_attr(&p, 'r', NULL, &client_nonce, what, err, errlen)) goto fail;
    if (!valid_nonce(client_nonce)) {
        snprintf(err, errlen, "malformed SCRAM message: invalid client nonce in %s", what);
        goto fail;
    }
    /* Optional extensions are read and ignored. */
    while (*p) {
        if (!eat_comma(&p, what, err, errlen)) goto fail;
        if (!read_attr(&p, 0, NULL, &val, what, err, errlen)) goto fail;
        free(val);
        val = NULL;
    }

    if (s->test_nonce) {
        server_nonce = xstrdup(s->test_nonce);
    } else {
        if (RAND_bytes(raw, sizeof raw) != 1) {
            snprintf(err, errlen, "could not generate a SCRAM nonce: random generator failed");
            goto fail;
        }
        server_nonce = b64_encode(raw, sizeof raw);
    }
    if (s->doomed) {
        if (!mock_salt(s->username, mock)) {
            snprintf(err, errlen, "could not generate a SCRAM salt: random generator failed");
            goto fail;
        }
        salt_b64 = b64_encode(mock, sizeof mock);
    } else {
        salt_b64 = b64_encode(s->salt, s->saltlen);
    }
    s->nonce = xasprintf("%s%s", client_nonce, server_nonce);
    s->server_first = xasprintf("r=%s,s=%s,i=%d", s->nonce, salt_b64, s->iterations);
    *out = xstrdup(s->server_first);
    *outlen = strlen(*out);
    s->state = SCRAM_SENT_FIRST;
    free(copy);
    free(client_nonce);
    free(server_nonce);
    free(salt_b64);
    return true;
fail:
    free(copy);
    free(val);
    free(client_nonce);
    free(server_nonce);
    free(salt_b64);
    return false;
}

bool pgw_scram_client_final(pgw_scram_t *s, const char *msg, size_t len, char **out, size_t *outlen,
                            char *err, size_t errlen)
{
    static const char what[] = "client-final-message";
    char *copy = NULL, *val = NULL, *auth_message = NULL;
    unsigned char *cbind = NULL;
    size_t cbind_len = 0;
    unsigned char proof[KEY_LEN], sig[KEY_LEN], client_key[KEY_LEN], check[KEY_LEN];
    const char *proof_at;
    char *sig_b64;
    char attr = 0;
    bool ok = false;

    if (s->state != SCRAM_SENT_FIRST) {
        snprintf(err, errlen, "SCRAM client-final-message received out of order");
        s->state = SCRAM_DONE;
        return false;
    }
    s->state = SCRAM_DONE;
    if (!copy_message(msg, len, &copy, what, err, errlen)) return false;

    const char *p = copy;
    if (!read_attr(&p, 'c', NULL, &val, what, err, errlen)) goto done;
    if (!b64_decode(val, strlen(val), &cbind, &cbind_len) || cbind_len != strlen(s->gs2_header) ||
        memcmp(cbind, s->gs2_header, cbind_len) != 0) {
        snprintf(err, errlen,
                 "malformed SCRAM message: channel-binding attribute does not match the "
                 "client-first-message header");
        goto done;
    }
    free(val);
    val = NULL;
    if (!eat_comma(&p, what, err, errlen)) goto done;
    if (!read_attr(&p, 'r', NULL, &val, what, err, errlen)) goto done;
    if (strcmp(val, s->nonce) != 0) {
        snprintf(err, errlen, "malformed SCRAM message: nonce does not match the one the server sent");
        goto done;
    }
    /* Skip extensions up to the proof, which must be the last attribute. */
    do {
        free(val);
        val = NULL;
        proof_at = p;
        if (!eat_comma(&p, what, err, errlen)) goto done;
        if (!read_attr(&p, 0, &attr, &val, what, err, errlen)) goto done;
    } while (attr != 'p');
    if (*p != '\0') {
        snprintf(err, errlen, "malformed SCRAM message: garbage after the proof in %s", what);
        goto done;
    }
    if (!b64_decode_key(val, strlen(val), proof)) {
        snprintf(err, errlen, "malformed SCRAM message: invalid proof in %s", what);
        goto done;
    }

    auth_message =
        xasprintf("%s,%s,%.*s", s->client_first_bare, s->server_first, (int)(proof_at - copy), copy);
    if (!hmac_sha256(s->stored_key, KEY_LEN, auth_message, strlen(auth_message), sig)) goto crypto_fail;
    for (int i = 0; i < KEY_LEN; i++) client_key[i] = proof[i] ^ sig[i];
    if (!SHA256(client_key, KEY_LEN, check)) goto crypto_fail;
    /* Computed for unknown users too, so the failure costs the same time. */
    if (CRYPTO_memcmp(check, s->stored_key, KEY_LEN) != 0 || s->doomed) {
        snprintf(err, errlen, "%s", PGW_SCRAM_AUTH_FAILED);
        goto done;
    }
    if (!hmac_sha256(s->server_key, KEY_LEN, auth_message, strlen(auth_message), sig)) goto crypto_fail;
    sig_b64 = b64_encode(sig, KEY_LEN);
    *out = xasprintf("v=%s", sig_b64);
    *outlen = strlen(*out);
    free(sig_b64);
    ok = true;
    goto done;
crypto_fail:
    snprintf(err, errlen, "SCRAM verification failed: OpenSSL HMAC/SHA-256 error");
done:
    OPENSSL_cleanse(client_key, sizeof client_key);
    free(copy);
    free(val);
    free(cbind);
    free(auth_message);
    return ok;
}
