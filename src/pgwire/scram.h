/* scram.h — SCRAM-SHA-256 server side, as PostgreSQL does it (RFC 5802, RFC 7677).
 *
 * Verifiers use PostgreSQL's pg_authid format, so one made by PostgreSQL can be
 * pasted into madang and the other way round:
 *     SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 *
 * Only SCRAM-SHA-256 is offered, never SCRAM-SHA-256-PLUS: a client-first message
 * whose gs2 header is "n,," or "y,," is accepted, "p=..." (channel binding) is
 * refused with a message that says how to connect instead.
 *
 * Passwords are used as raw bytes, without SASLprep. PostgreSQL and libpq fall
 * back to raw bytes too whenever a password is not valid UTF-8 or contains
 * characters SASLprep prohibits (e.g. ASCII control characters), and for ASCII
 * passwords SASLprep is the identity, so those interoperate exactly. A non-ASCII
 * password that NFKC normalisation would change (e.g. a ligature, a non-ASCII
 * space) gets a verifier that differs from PostgreSQL's, and libpq, which does
 * normalise, will then fail to log in with it.
 *
 * Errors: every fallible call fills err with a one-line message. A wrong proof
 * (or an unknown user) yields exactly PGW_SCRAM_AUTH_FAILED; any other message
 * means the client sent something malformed (a protocol violation). */
#ifndef MADANG_PGWIRE_SCRAM_H
#define MADANG_PGWIRE_SCRAM_H

#include "util/util.h"

#define PGW_SCRAM_MECHANISM   "SCRAM-SHA-256"
#define PGW_SCRAM_ITERATIONS  4096
#define PGW_SCRAM_SALT_LEN    16
#define PGW_SCRAM_AUTH_FAILED "password authentication failed"

/* Makes a stored verifier for password with a fresh 16-byte random salt and
 * 4096 iterations. Returns a heap string the caller frees, or NULL only if the
 * system random generator or the KDF fails. */
char *pgw_scram_make_verifier(const char *password) MUST_CHECK;

/* Same with a given salt and iteration count (tests, and re-deriving known
 * verifiers). NULL if iterations < 1, saltlen == 0 or the KDF fails. */
char *pgw_scram_make_verifier_salt(const char *password, const unsigned char *salt, size_t saltlen,
                                   int iterations) MUST_CHECK;

/* Checks a cleartext password (PasswordMessage over TLS) against a verifier;
 * the key comparison is constant-time. False for a wrong password and for a
 * NULL or unparsable verifier. */
bool pgw_scram_check_password(const char *verifier, const char *password) MUST_CHECK;

/* One server-side exchange. Create with pgw_scram_begin, feed the
 * SASLInitialResponse data to pgw_scram_client_first and the SASLResponse data
 * to pgw_scram_client_final, then pgw_scram_free. Not thread-safe per object;
 * different objects may be used from different threads. */
typedef struct pgw_scram pgw_scram_t;

/* username is the startup-packet user (the "n=" in the SCRAM message is ignored,
 * as PostgreSQL does; libpq sends it empty). verifier may be NULL or invalid
 * (unknown user, no password set): the exchange then proceeds with a fake salt
 * that is deterministic per username (HMAC of the name under a per-process
 * random secret) and always fails at the final step with
 * PGW_SCRAM_AUTH_FAILED, so neither timing nor messages reveal whether the user
 * exists. Never fails; both strings are copied. */
pgw_scram_t *pgw_scram_begin(const char *username, const char *verifier);

/* client-first-message (msg, len; need not be NUL-terminated) -> server-first-
 * message in *out (heap, NUL-terminated, caller frees; *outlen excludes the NUL).
 * False + err on malformed input, on a second call, or if the random generator
 * fails. */
bool pgw_scram_client_first(pgw_scram_t *s, const char *msg, size_t len, char **out, size_t *outlen,
                            char *err, size_t errlen) MUST_CHECK;

/* client-final-message -> server-final-message ("v=<ServerSignature>") in *out,
 * ownership as above. False + err PGW_SCRAM_AUTH_FAILED when the proof is wrong
 * or the user unknown; false + another err when the input is malformed or the
 * call is out of order. After it returns (either way) the exchange is over. */
bool pgw_scram_client_final(pgw_scram_t *s, const char *msg, size_t len, char **out, size_t *outlen,
                            char *err, size_t errlen) MUST_CHECK;

/* Frees s and wipes the key material it held. NULL is a no-op. */
void pgw_scram_free(pgw_scram_t *s);

/* Test hook: use server_nonce (printable ASCII, no ',') instead of 18 random
 * bytes as the server's part of the nonce. Call before pgw_scram_client_first. */
void pgw_scram_set_test_nonce(pgw_scram_t *s, const char *server_nonce);

#endif
