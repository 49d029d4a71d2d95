/* test_scram.c — SCRAM-SHA-256 server side: the RFC 7677 vector byte for byte,
 * verifiers captured from a real PostgreSQL 15, wrong proofs, unknown users and
 * malformed messages. The client side is re-implemented here with OpenSSL
 * directly, so the test does not grade scram.c with its own code. */
#include "check.h"
#include "pgwire/scram.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

/* RFC 7677 section 3 */
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SERVER_FIRST                                                                                     \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL                                                                                     \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+"                         \
    "Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* Captured from PostgreSQL 15.x: password_encryption = 'scram-sha-256';
 * CREATE ROLE x PASSWORD 'secret'; CREATE ROLE y PASSWORD 'pencil';
 * SELECT rolpassword FROM pg_authid; */
#define PG_VERIFIER_SECRET                                                                                   \
    "SCRAM-SHA-256$4096:hEQg8QDmd6Q2rdFQcf0MWw==$1rt2Gpq5AofCC3j4mAmZmds8Rufx/+bpBYIxWtS1B+8=:"              \
    "KnNuQXIVk/gnROflJE3cGGGCPAzmFWTs8gnobLv1xHo="
#define PG_VERIFIER_PENCIL                                                                                   \
    "SCRAM-SHA-256$4096:+s4vKSA17TahjAiRU4DMzA==$+leOSFqpNl5Z4TBhWm0K1bQYA2Qy6oZN6p/zjEIlJ3E=:"              \
    "hLnbtkdiDVQQ4AwmycyzRNVzvcJFHFCP1zEF/9JaFnQ="

static char err[256];

static bool first(pgw_scram_t *s, const char *msg, char **out)
{
    size_t outlen = 0;
    *out = NULL;
    bool ok = pgw_scram_client_first(s, msg, strlen(msg), out, &outlen, err, sizeof err);
    if (ok && strlen(*out) != outlen) return false;
    return ok;
}

static bool final(pgw_scram_t *s, const char *msg, char **out)
{
    size_t outlen = 0;
    *out = NULL;
    bool ok = pgw_scram_client_final(s, msg, strlen(msg), out, &outlen, err, sizeof err);
    if (ok && strlen(*out) != outlen) return false;
    return ok;
}

/* The client's side of RFC 5802: from the server-first message and the
 * password, the client-final message (with gs2 header "n,,"). Heap string. */
static char *client_final_for(const char *client_first_bare, const char *server_first, const char *password,
                              const char *ext)
{
    char nonce[256], salt_b64[256];
    int iter;
    unsigned char salt[256], salted[32], client_key[32], stored[32], sig[32], proof[32];
    unsigned char proof_b64[64];
    unsigned int len;
    if (sscanf(server_first, "r=%255[^,],s=%255[^,],i=%d", nonce, salt_b64, &iter) != 3) return NULL;
    int saltlen = EVP_DecodeBlock(salt, (const unsigned char *)salt_b64, (int)strlen(salt_b64));
    if (saltlen < 0) return NULL;
    size_t b64len = strlen(salt_b64);
    if (b64len >= 1 && salt_b64[b64len - 1] == '=') saltlen--;
    if (b64len >= 2 && salt_b64[b64len - 2] == '=') saltlen--;
    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, saltlen, iter, EVP_sha256(), 32, salted);
    HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, client_key, &len);
    SHA256(client_key, 32, stored);
    char *without_proof = xasprintf("c=biws,r=%s%s%s", nonce, ext ? "," : "", ext ? ext : "");
    char *auth = xasprintf("%s,%s,%s", client_first_bare, server_first, without_proof);
    HMAC(EVP_sha256(), stored, 32, (const unsigned char *)auth, strlen(auth), sig, &len);
    for (int i = 0; i < 32; i++) proof[i] = client_key[i] ^ sig[i];
    EVP_EncodeBlock(proof_b64, proof, 32);
    char *msg = xasprintf("%s,p=%s", without_proof, proof_b64);
    free(without_proof);
    free(auth);
    return msg;
}

static void test_rfc7677_vector(void)
{
    static const unsigned char salt[] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
                                         0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};
    char *v = pgw_scram_make_verifier_salt("pencil", salt, sizeof salt, 4096);
    CHECK(v && strncmp(v, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$", 44) == 0);

    pgw_scram_t *s = pgw_scram_begin("user", v);
    pgw_scram_set_test_nonce(s, RFC_SERVER_NONCE);
    char *out;
    CHECK(first(s, RFC_CLIENT_FIRST, &out));
    CHECK(out && strcmp(out, RFC_SERVER_FIRST) == 0);
    free(out);
    CHECK(final(s, RFC_CLIENT_FINAL, &out));
    CHECK(out && strcmp(out, RFC_SERVER_FINAL) == 0);
    free(out);
    /* The exchange is over: a replay is refused. */
    CHECK(!final(s, RFC_CLIENT_FINAL, &out));
    pgw_scram_free(s);

    /* Same vector with one proof bit flipped ('d' -> 'e'). */
    s = pgw_scram_begin("user", v);
    pgw_scram_set_test_nonce(s, RFC_SERVER_NONCE);
    CHECK(first(s, RFC_CLIENT_FIRST, &out));
    free(out);
    char *bad = xstrdup(RFC_CLIENT_FINAL);
    strstr(bad, ",p=d")[3] = 'e';
    CHECK(!final(s, bad, &out));
    CHECK(strcmp(err, PGW_SCRAM_AUTH_FAILED) == 0);
    free(bad);
    pgw_scram_free(s);
    free(v);
}

/* Full exchange with a freshly generated nonce, against a verifier. */
static bool exchange(const char *verifier, const char *user, const char *password)
{
    const char *cfirst = "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL";
    char *sfirst = NULL, *cfinal = NULL, *sfinal = NULL;
    pgw_scram_t *s = pgw_scram_begin(user, verifier);
    bool ok = first(s, cfirst, &sfirst);
    if (ok) {
        cfinal = client_final_for(cfirst + 3, sfirst, password, NULL);
        ok = cfinal && final(s, cfinal, &sfinal) && strncmp(sfinal, "v=", 2) == 0;
    }
    free(sfirst);
    free(cfinal);
    free(sfinal);
    pgw_scram_free(s);
    return ok;
}

static void test_postgres_verifiers(void)
{
    CHECK(pgw_scram_check_password(PG_VERIFIER_SECRET, "secret"));
    CHECK(!pgw_scram_check_password(PG_VERIFIER_SECRET, "Secret"));
    CHECK(pgw_scram_check_password(PG_VERIFIER_PENCIL, "pencil"));
    CHECK(!pgw_scram_check_password(PG_VERIFIER_PENCIL, "secret"));
    CHECK(exchange(PG_VERIFIER_SECRET, "x", "secret"));
    CHECK(!exchange(PG_VERIFIER_SECRET, "x", "wrong"));
    CHECK(strcmp(err, PGW_SCRAM_AUTH_FAILED) == 0);

    /* Re-deriving PostgreSQL's verifier from its salt gives the same string. */
    static const unsigned char pg_salt[] = {0x84, 0x44, 0x20, 0xf1, 0x00, 0xe6, 0x77, 0xa4,
                                            0x36, 0xad, 0xd1, 0x50, 0x71, 0xfd, 0x0c, 0x5b};
    char *v = pgw_scram_make_verifier_salt("secret", pg_salt, sizeof pg_salt, 4096);
    CHECK(v && strcmp(v, PG_VERIFIER_SECRET) == 0);
    free(v);
}

static void test_make_verifier(void)
{
    char *a = pgw_scram_make_verifier("secret");
    char *b = pgw_scram_make_verifier("secret");
    CHECK(a && b && strncmp(a, "SCRAM-SHA-256$4096:", 19) == 0);
    CHECK(a && b && strcmp(a, b) != 0); /* fresh salt each time */
    CHECK(pgw_scram_check_password(a, "secret"));
    CHECK(!pgw_scram_check_password(a, "secret "));
    CHECK(!pgw_scram_check_password(a, ""));
    CHECK(exchange(a, "u", "secret"));
    CHECK(!exchange(a, "u", "Secret"));
    free(a);
    free(b);

    char *e = pgw_scram_make_verifier("");
    CHECK(e && pgw_scram_check_password(e, "") && !pgw_scram_check_password(e, "x"));
    free(e);

    static const unsigned char salt[] = {1, 2, 3};
    CHECK(pgw_scram_make_verifier_salt("x", salt, 0, 4096) == NULL);
    CHECK(pgw_scram_make_verifier_salt("x", salt, 3, 0) == NULL);

    CHECK(!pgw_scram_check_password(NULL, "secret"));
    CHECK(!pgw_scram_check_password("", "secret"));
    CHECK(!pgw_scram_check_password("md5abcdef", "secret"));
    CHECK(!pgw_scram_check_password("SCRAM-SHA-256$0:hEQg8QDmd6Q2rdFQcf0MWw==$"
                                    "1rt2Gpq5AofCC3j4mAmZmds8Rufx/+bpBYIxWtS1B+8=:"
                                    "KnNuQXIVk/gnROflJE3cGGGCPAzmFWTs8gnobLv1xHo=",
                                    "secret"));
    CHECK(!pgw_scram_check_password("SCRAM-SHA-256$4096:hEQg8QDmd6Q2rdFQcf0MWw==$"
                                    "1rt2Gpq5AofCC3j4mAmZmds8Rufx/+bpBYIxWtS1B+8=",
                                    "secret"));
    CHECK(!pgw_scram_check_password("SCRAM-SHA-256$4096:hEQg8QDmd6Q2rdFQcf0MWw=$"
                                    "1rt2Gpq5AofCC3j4mAmZmds8Rufx/+bpBYIxWtS1B+8=:"
                                    "KnNuQXIVk/gnROflJE3cGGGCPAzmFWTs8gnobLv1xHo=",
                                    "secret"));
}

static char *server_first_for(const char *user, const char *verifier)
{
    char *out = NULL;
    pgw_scram_t *s = pgw_scram_begin(user, verifier);
    if (!first(s, "n,,n=,r=abc", &out)) out = NULL;
    pgw_scram_free(s);
    return out;
}

static void test_unknown_user(void)
{
    /* Fake salt: same for the same name, different across names, and shaped
     * like a real one (16-byte salt, 4096 iterations). */
    char *a1 = server_first_for("ghost", NULL);
    char *a2 = server_first_for("ghost", "not a verifier");
    char *b = server_first_for("phantom", NULL);
    CHECK(a1 && a2 && b);
    if (a1 && a2 && b) {
        const char *sa1 = strstr(a1, ",s="), *sa2 = strstr(a2, ",s="), *sb = strstr(b, ",s=");
        CHECK(sa1 && sa2 && sb && strcmp(sa1, sa2) == 0 && strcmp(sa1, sb) != 0);
        CHECK(sa1 && strlen(sa1) == strlen(",s=") + 24 + strlen(",i=4096"));
        CHECK(sa1 && strcmp(sa1 + strlen(sa1) - 7, ",i=4096") == 0);
    }
    free(a1);
    free(a2);
    free(b);

    /* Fails only at the final step, with the same message as a wrong password. */
    CHECK(!exchange(NULL, "ghost", "secret"));
    CHECK(strcmp(err, PGW_SCRAM_AUTH_FAILED) == 0);
    CHECK(!exchange("SCRAM-SHA-256$4096:zz$zz:zz", "ghost", ""));
    CHECK(strcmp(err, PGW_SCRAM_AUTH_FAILED) == 0);
}

static void test_malformed_first(void)
{
    static const char *bad[] = {
        "x,,n=,r=abc",    "n,a=admin,n=,r=abc", "n,,m=ext,n=,r=abc", "n,,r=abc",   "n,,n=,r=", "n,,n=,r=a,b",
        "n,,n=,",         "n,,n=,r=abc,",       "n,,n=,r=a b",       "n,n=,r=abc", "n",        "n,,n=x",
        "y,,n=,r=abc,=x",
    };
    char *out;
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        pgw_scram_t *s = pgw_scram_begin("u", PG_VERIFIER_SECRET);
        bool ok = first(s, bad[i], &out);
        CHECK(!ok);
        if (ok) fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK(strncmp(err, "malformed SCRAM message", 23) == 0 || strstr(err, "not supported"));
        pgw_scram_free(s);
    }

    pgw_scram_t *s = pgw_scram_begin("u", PG_VERIFIER_SECRET);
    CHECK(!first(s, "p=tls-server-end-point,,n=,r=abc", &out));
    CHECK(strstr(err, "channel binding") && strstr(err, "SCRAM-SHA-256-PLUS"));
    pgw_scram_free(s);

    s = pgw_scram_begin("u", PG_VERIFIER_SECRET);
    CHECK(!pgw_scram_client_first(s, "n,,n=,r=a\0bc", 12, &out, &(size_t){0}, err, sizeof err));
    pgw_scram_free(s);

    s = pgw_scram_begin("u", PG_VERIFIER_SECRET);
    CHECK(!pgw_scram_client_first(s, "", 0, &out, &(size_t){0}, err, sizeof err));
    pgw_scram_free(s);

    /* Accepted: "y" flag, extensions after the nonce, and a message that is
     * not NUL-terminated at len. */
    s = pgw_scram_begin("u", PG_VERIFIER_SECRET);
    CHECK(first(s, "y,,n=someone,r=abc,x=ext", &out));
    CHECK(out && strncmp(out, "r=abc", 5) == 0 &&
          strlen(out) == 5 + 24 + strlen(",s=hEQg8QDmd6Q2rdFQcf0MWw==,i=4096"));
    free(out);
    pgw_scram_free(s);

    s = pgw_scram_begin("u", PG_VERIFIER_SECRET);
    size_t outlen;
    CHECK(pgw_scram_client_first(s, "n,,n=,r=abcXXXX", 11, &out, &outlen, err, sizeof err));
    CHECK(out && strncmp(out, "r=abc", 5) == 0 && strstr(out, "XXXX") == NULL);
    free(out);
    /* A second client-first is out of order. */
    CHECK(!first(s, "n,,n=,r=abc", &out));
    pgw_scram_free(s);
}

static void test_malformed_final(void)
{
    char *out, *msg;
    /* Final before first. */
    pgw_scram_t *s = pgw_scram_begin("user", PG_VERIFIER_PENCIL);
    CHECK(!final(s, RFC_CLIENT_FINAL, &out));
    pgw_scram_free(s);

    const char *nonce = "rOprNGfwEbeRWgbNEkqO" RFC_SERVER_NONCE;
    const char *proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    char *bad[] = {
        xasprintf("c=eSws,r=%s,%s", nonce, proof),          /* "y,," but first said "n,," */
        xasprintf("c=biws,r=%sX,%s", nonce, proof),         /* nonce mismatch */
        xasprintf("c=biws,r=%s", nonce),                    /* no proof */
        xasprintf("c=biws,r=%s,%s,x=1", nonce, proof),      /* garbage after proof */
        xasprintf("c=biws,r=%s,p=dHzbZapWIk4jUhN+", nonce), /* short proof */
        xasprintf("c=biws,r=%s,p=!!!!", nonce),             /* not base64 */
        xasprintf("r=%s,c=biws,%s", nonce, proof),          /* order */
        xasprintf("c=biw,r=%s,%s", nonce, proof),           /* bad base64 */
        xasprintf("c=biws,r=%s,,%s", nonce, proof),         /* empty attribute */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        s = pgw_scram_begin("user", PG_VERIFIER_PENCIL);
        pgw_scram_set_test_nonce(s, RFC_SERVER_NONCE);
        CHECK(first(s, RFC_CLIENT_FIRST, &out));
        free(out);
        bool ok = final(s, bad[i], &out);
        CHECK(!ok);
        if (ok) fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK(strncmp(err, "malformed SCRAM message", 23) == 0);
        pgw_scram_free(s);
        free(bad[i]);
    }

    /* An extension before the proof is allowed (and is part of AuthMessage). */
    s = pgw_scram_begin("user", PG_VERIFIER_PENCIL);
    CHECK(first(s, "n,,n=,r=abc", &out));
    msg = client_final_for("n=,r=abc", out, "pencil", "x=ext");
    free(out);
    CHECK(msg && strstr(msg, ",x=ext,p="));
    CHECK(final(s, msg, &out));
    free(out);
    free(msg);
    pgw_scram_free(s);
}

int main(void)
{
    test_rfc7677_vector();
    test_postgres_verifiers();
    test_make_verifier();
    test_unknown_user();
    test_malformed_first();
    test_malformed_final();
    return check_summary();
}
