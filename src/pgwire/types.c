/* types.c — DuckDB vectors to PostgreSQL text/binary fields, and Bind params back.
 *
 * Text output follows PostgreSQL 15's output functions with DateStyle=ISO, MDY,
 * IntervalStyle=postgres, TimeZone=UTC, bytea_output=hex, so that drivers parse
 * it exactly as they parse PostgreSQL's. Binary output follows the *send
 * functions (big-endian; dates and timestamps relative to 2000-01-01). */
#include "pgwire/types.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_EPOCH_DAYS 10957 /* 2000-01-01 - 1970-01-01 */
#define PG_EPOCH_US   946684800000000LL
#define US_PER_DAY    86400000000LL

static uint32_t array_oid_of(uint32_t elem)
{
    switch (elem) {
    case PGW_OID_BOOL:
        return 1000;
    case PGW_OID_BYTEA:
        return 1001;
    case PGW_OID_INT2:
        return 1005;
    case PGW_OID_INT4:
        return 1007;
    case PGW_OID_TEXT:
        return 1009;
    case PGW_OID_VARCHAR:
        return 1015;
    case PGW_OID_INT8:
        return 1016;
    case PGW_OID_FLOAT4:
        return 1021;
    case PGW_OID_FLOAT8:
        return 1022;
    case PGW_OID_TIMESTAMP:
        return 1115;
    case PGW_OID_DATE:
        return 1182;
    case PGW_OID_TIME:
        return 1183;
    case PGW_OID_TIMESTAMPTZ:
        return 1185;
    case PGW_OID_INTERVAL:
        return 1187;
    case PGW_OID_NUMERIC:
        return 1231;
    case PGW_OID_UUID:
        return 2951;
    case PGW_OID_JSON:
        return 199;
    default:
        return 0;
    }
}

uint32_t pgw_oid_for_type(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN:
        return PGW_OID_BOOL;
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_UTINYINT:
        return PGW_OID_INT2;
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_USMALLINT:
        return PGW_OID_INT4;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UINTEGER:
        return PGW_OID_INT8;
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_DECIMAL:
        return PGW_OID_NUMERIC;
    case DUCKDB_TYPE_FLOAT:
        return PGW_OID_FLOAT4;
    case DUCKDB_TYPE_DOUBLE:
        return PGW_OID_FLOAT8;
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_ENUM:
        return PGW_OID_TEXT;
    case DUCKDB_TYPE_BLOB:
        return PGW_OID_BYTEA;
    case DUCKDB_TYPE_DATE:
        return PGW_OID_DATE;
    case DUCKDB_TYPE_TIME:
        return PGW_OID_TIME;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
        return PGW_OID_TIMESTAMP;
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        return PGW_OID_TIMESTAMPTZ;
    case DUCKDB_TYPE_INTERVAL:
        return PGW_OID_INTERVAL;
    case DUCKDB_TYPE_UUID:
        return PGW_OID_UUID;
    default:
        return PGW_OID_TEXT;
    }
}

const char *pgw_oid_name(uint32_t oid)
{
    switch (oid) {
    case PGW_OID_BOOL:
        return "boolean";
    case PGW_OID_BYTEA:
        return "bytea";
    case PGW_OID_INT2:
        return "smallint";
    case PGW_OID_INT4:
        return "integer";
    case PGW_OID_INT8:
        return "bigint";
    case PGW_OID_TEXT:
        return "text";
    case PGW_OID_VARCHAR:
        return "character varying";
    case PGW_OID_FLOAT4:
        return "real";
    case PGW_OID_FLOAT8:
        return "double precision";
    case PGW_OID_NUMERIC:
        return "numeric";
    case PGW_OID_DATE:
        return "date";
    case PGW_OID_TIME:
        return "time without time zone";
    case PGW_OID_TIMESTAMP:
        return "timestamp without time zone";
    case PGW_OID_TIMESTAMPTZ:
        return "timestamp with time zone";
    case PGW_OID_INTERVAL:
        return "interval";
    case PGW_OID_UUID:
        return "uuid";
    case PGW_OID_JSON:
        return "json";
    default:
        return "text";
    }
}

const char *pgw_duckdb_type_for_oid(uint32_t oid)
{
    switch (oid) {
    case PGW_OID_BOOL:
        return "BOOLEAN";
    case PGW_OID_BYTEA:
        return "BLOB";
    case PGW_OID_INT8:
        return "BIGINT";
    case PGW_OID_INT2:
        return "SMALLINT";
    case PGW_OID_INT4:
        return "INTEGER";
    case PGW_OID_TEXT:
    case PGW_OID_VARCHAR:
    case PGW_OID_BPCHAR:
    case PGW_OID_NAME:
        return "VARCHAR";
    case PGW_OID_JSON:
        return "JSON";
    case PGW_OID_FLOAT4:
        return "FLOAT";
    case PGW_OID_FLOAT8:
        return "DOUBLE";
    case PGW_OID_DATE:
        return "DATE";
    case PGW_OID_TIME:
        return "TIME";
    case PGW_OID_TIMESTAMP:
        return "TIMESTAMP";
    case PGW_OID_TIMESTAMPTZ:
        return "TIMESTAMPTZ";
    case PGW_OID_INTERVAL:
        return "INTERVAL";
    case PGW_OID_UUID:
        return "UUID";
    case PGW_OID_NUMERIC:
        return "DECIMAL(38,10)";
    default:
        return NULL;
    }
}

static bool scalar_supported(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_INVALID:
    case DUCKDB_TYPE_ANY:
    case DUCKDB_TYPE_STRING_LITERAL:
    case DUCKDB_TYPE_INTEGER_LITERAL:
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_DECIMAL:
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_DATE:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_UUID:
    case DUCKDB_TYPE_ENUM:
    case DUCKDB_TYPE_SQLNULL:
        return true;
    default:
        return false;
    }
}

bool pgw_type_supported(duckdb_logical_type lt)
{
    duckdb_type t = duckdb_get_type_id(lt);
    if (t == DUCKDB_TYPE_LIST || t == DUCKDB_TYPE_ARRAY) {
        duckdb_logical_type c =
            t == DUCKDB_TYPE_LIST ? duckdb_list_type_child_type(lt) : duckdb_array_type_child_type(lt);
        duckdb_type ct = duckdb_get_type_id(c);
        bool ok = scalar_supported(ct) && ct != DUCKDB_TYPE_SQLNULL && ct != DUCKDB_TYPE_ENUM &&
                  array_oid_of(pgw_oid_for_type(ct)) != 0;
        duckdb_destroy_logical_type(&c);
        return ok;
    }
    return scalar_supported(t);
}

void pgw_colenc_init(pgw_colenc_t *e, duckdb_logical_type lt)
{
    memset(e, 0, sizeof *e);
    e->lt = lt;
    e->type = duckdb_get_type_id(lt);
    e->oid = pgw_oid_for_type(e->type);
    e->typlen = -1;
    e->typmod = -1;
    switch (e->type) {
    case DUCKDB_TYPE_BOOLEAN:
        e->typlen = 1;
        break;
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_UTINYINT:
        e->typlen = 2;
        break;
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DATE:
        e->typlen = 4;
        break;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        e->typlen = 8;
        break;
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_UUID:
        e->typlen = 16;
        break;
    case DUCKDB_TYPE_DECIMAL:
        e->width = duckdb_decimal_width(lt);
        e->scale = duckdb_decimal_scale(lt);
        e->phys = duckdb_decimal_internal_type(lt);
        e->typmod = ((int32_t)e->width << 16 | e->scale) + 4;
        break;
    case DUCKDB_TYPE_ENUM:
        e->phys = duckdb_enum_internal_type(lt);
        break;
    case DUCKDB_TYPE_VARCHAR: {
        char *alias = duckdb_logical_type_get_alias(lt);
        if (alias) {
            if (strcmp(alias, "JSON") == 0) {
                e->is_json = true;
                e->oid = PGW_OID_JSON;
            }
            duckdb_free(alias);
        }
        break;
    }
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_ARRAY: {
        duckdb_logical_type c =
            e->type == DUCKDB_TYPE_LIST ? duckdb_list_type_child_type(lt) : duckdb_array_type_child_type(lt);
        if (e->type == DUCKDB_TYPE_ARRAY) e->array_size = (uint32_t)duckdb_array_type_array_size(lt);
        e->child = xmalloc(sizeof *e->child);
        pgw_colenc_init(e->child, c);
        e->oid = array_oid_of(e->child->oid);
        if (!e->oid) e->oid = PGW_OID_TEXT;
        break;
    }
    default:
        break;
    }
}

void pgw_colenc_free(pgw_colenc_t *e)
{
    if (e->child) {
        pgw_colenc_free(e->child);
        free(e->child);
        e->child = NULL;
    }
    if (e->lt) duckdb_destroy_logical_type(&e->lt);
}

/* ---- text formatting helpers ---- */

static char *u64_to_str(uint64_t v, char *end)
{
    *--end = '\0';
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static void put_i64(buf_t *b, int64_t v)
{
    char tmp[24];
    char *s;
    if (v < 0) {
        s = u64_to_str((uint64_t)0 - (uint64_t)v, tmp + sizeof tmp);
        *--s = '-';
    } else {
        s = u64_to_str((uint64_t)v, tmp + sizeof tmp);
    }
    buf_append(b, s, (size_t)(tmp + sizeof tmp - 1 - s));
}

static void put_u128(buf_t *b, unsigned __int128 v, bool neg)
{
    char tmp[48];
    char *end = tmp + sizeof tmp, *s = end;
    do {
        *--s = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    if (neg) *--s = '-';
    buf_append(b, s, (size_t)(end - s));
}

static __int128 hugeint_val(duckdb_hugeint h)
{
    /* shift as unsigned: a negative upper half shifted signed is undefined */
    return (__int128)(((unsigned __int128)(uint64_t)h.upper << 64) | (unsigned __int128)h.lower);
}

/* The decimal digits of |v|, at least scale + 1 of them, written backwards
 * ending at end; returns the first. 128-bit division only for the digits
 * that need it. */
static char *decimal_digits(__int128 v, int scale, char *end)
{
    unsigned __int128 u = v < 0 ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    char *s = end;
    while (u > UINT64_MAX) {
        *--s = (char)('0' + (int)(u % 10));
        u /= 10;
    }
    uint64_t w = (uint64_t)u;
    do {
        *--s = (char)('0' + (int)(w % 10));
        w /= 10;
    } while (w || end - s <= scale);
    return s;
}

/* A decimal with `scale` fractional digits, from its unscaled integer value. */
static void put_decimal(buf_t *b, __int128 v, int scale)
{
    char tmp[64];
    char *end = tmp + sizeof tmp, *s = decimal_digits(v, scale, end);
    if (v < 0) buf_putc(b, '-');
    int intlen = (int)(end - s) - scale;
    buf_append(b, s, (size_t)intlen);
    if (scale > 0) {
        buf_putc(b, '.');
        buf_append(b, s + intlen, (size_t)scale);
    }
}

/* PostgreSQL 12+ float output (extra_float_digits > 0): the shortest digits
 * that read back exactly, in %g style with the exponent form used when the
 * decimal exponent is < -4 or >= digits limit (15 for float8, 6 for float4). */
static void fmt_shortest(buf_t *b, double d, int maxprec, int explimit, bool is_float)
{
    if (isnan(d)) {
        buf_append_str(b, "NaN");
        return;
    }
    if (isinf(d)) {
        buf_append_str(b, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (d == 0) {
        buf_append_str(b, signbit(d) ? "-0" : "0");
        return;
    }
    char tmp[48];
    int prec = 1;
    if (!is_float) {
        /* Fast path, plain notation: the fewest decimals k such that an
         * integer r < 2^53 gives r / 10^k == d. Both the division and a
         * reader's strtod round correctly for such r and k <= 22, so the
         * text reads back as d; the first k is the shortest. */
        double a = fabs(d);
        if (a >= 1e-4 && a < 1e14) {
            static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                         1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
            for (int k = 0; k < (int)ARRAY_LEN(p10); k++) {
                double m = a * p10[k];
                if (m >= 9007199254740992.0) break;
                double r = nearbyint(m);
                if (r / p10[k] != a) continue;
                put_decimal(b, d < 0 ? -(__int128)r : (__int128)r, k);
                return;
            }
            prec = 15; /* no shorter text exists: 15 to 17 digits */
        }
    }
    for (; prec < maxprec; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (is_float ? strtof(tmp, NULL) == (float)d : strtod(tmp, NULL) == d) break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    char *e = strchr(tmp, 'e');
    int exp10 = atoi(e + 1);
    if (exp10 < -4 || exp10 >= explimit) {
        /* mantissa digits, then e+XX with at least two exponent digits */
        *e = '\0';
        buf_append_str(b, tmp);
        buf_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        return;
    }
    int decimals = prec - 1 - exp10;
    if (decimals < 0) decimals = 0;
    snprintf(tmp, sizeof tmp, "%.*f", decimals, d);
    buf_append_str(b, tmp);
}

void pgw_fmt_double(buf_t *b, double d)
{
    fmt_shortest(b, d, 17, 15, false);
}

static void fmt_float(buf_t *b, float f)
{
    fmt_shortest(b, (double)f, 9, 6, true);
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static void put2(buf_t *b, unsigned v)
{
    char t[2] = {(char)('0' + v / 10 % 10), (char)('0' + v % 10)};
    buf_append(b, t, 2);
}

static void put_ymd(buf_t *b, int64_t days, bool *bc)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    *bc = y <= 0;
    if (*bc) y = 1 - y; /* there is no year 0: 0 is 1 BC */
    if (y < 10000) {
        put2(b, (unsigned)(y / 100));
        put2(b, (unsigned)(y % 100));
        buf_putc(b, '-');
    } else {
        char tmp[24];
        int n = snprintf(tmp, sizeof tmp, "%04lld-", (long long)y);
        buf_append(b, tmp, (size_t)n);
    }
    put2(b, m);
    buf_putc(b, '-');
    put2(b, d);
}

void pgw_fmt_date(buf_t *b, int32_t days)
{
    if (days == INT32_MAX) {
        buf_append_str(b, "infinity");
        return;
    }
    if (days == -INT32_MAX) {
        buf_append_str(b, "-infinity");
        return;
    }
    bool bc;
    put_ymd(b, days, &bc);
    if (bc) buf_append_str(b, " BC");
}

static void put_time_of_day(buf_t *b, int64_t us)
{
    unsigned h = (unsigned)(us / 3600000000LL);
    us %= 3600000000LL;
    unsigned mi = (unsigned)(us / 60000000LL);
    us %= 60000000LL;
    unsigned s = (unsigned)(us / 1000000LL);
    unsigned frac = (unsigned)(us % 1000000LL);
    if (h >= 100) {
        char tmp[16];
        int n = snprintf(tmp, sizeof tmp, "%u", h);
        buf_append(b, tmp, (size_t)n);
    } else {
        put2(b, h);
    }
    buf_putc(b, ':');
    put2(b, mi);
    buf_putc(b, ':');
    put2(b, s);
    if (frac) {
        char tmp[8] = ".";
        for (int i = 6; i >= 1; i--, frac /= 10) tmp[i] = (char)('0' + frac % 10);
        int n = 7;
        while (tmp[n - 1] == '0') n--;
        buf_append(b, tmp, (size_t)n);
    }
}

void pgw_fmt_timestamp(buf_t *b, int64_t micros, bool tz)
{
    if (micros == INT64_MAX) {
        buf_append_str(b, "infinity");
        return;
    }
    if (micros == -INT64_MAX) {
        buf_append_str(b, "-infinity");
        return;
    }
    int64_t days = micros / US_PER_DAY;
    int64_t rem = micros % US_PER_DAY;
    if (rem < 0) {
        rem += US_PER_DAY;
        days--;
    }
    bool bc;
    put_ymd(b, days, &bc);
    buf_putc(b, ' ');
    put_time_of_day(b, rem);
    if (tz) buf_append_str(b, "+00");
    if (bc) buf_append_str(b, " BC");
}

/* IntervalStyle postgres, as PostgreSQL's EncodeInterval: a positive field
 * after a negative one gets a '+'; only exactly 1 is singular. */
static void interval_part(buf_t *b, int64_t n, const char *unit, bool *any, bool *before_neg)
{
    if (!n) return;
    if (*any) buf_putc(b, ' ');
    if (*before_neg && n > 0) buf_putc(b, '+');
    put_i64(b, n);
    buf_putc(b, ' ');
    buf_append_str(b, unit);
    if (n != 1) buf_putc(b, 's');
    *before_neg = n < 0;
    *any = true;
}

void pgw_fmt_interval(buf_t *b, int32_t months, int32_t days, int64_t micros)
{
    bool any = false, before_neg = false;
    interval_part(b, months / 12, "year", &any, &before_neg);
    interval_part(b, months % 12, "mon", &any, &before_neg);
    interval_part(b, days, "day", &any, &before_neg);
    if (micros || !any) {
        if (any) buf_putc(b, ' ');
        if (micros < 0) {
            buf_putc(b, '-');
            micros = micros == INT64_MIN ? INT64_MAX : -micros;
        } else if (before_neg) {
            buf_putc(b, '+');
        }
        put_time_of_day(b, micros);
    }
}

static void put_uuid(buf_t *b, duckdb_hugeint h)
{
    /* DuckDB stores a UUID as a hugeint with the top bit flipped (for ordering). */
    uint64_t hi = (uint64_t)h.upper ^ (1ULL << 63), lo = h.lower;
    unsigned char bytes[16];
    for (int i = 0; i < 8; i++) {
        bytes[i] = (unsigned char)(hi >> (56 - 8 * i));
        bytes[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
    }
    static const char hex[] = "0123456789abcdef";
    char out[36];
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[bytes[i] >> 4];
        out[o++] = hex[bytes[i] & 15];
    }
    buf_append(b, out, 36);
}

static void uuid_bytes(duckdb_hugeint h, unsigned char bytes[16])
{
    uint64_t hi = (uint64_t)h.upper ^ (1ULL << 63), lo = h.lower;
    for (int i = 0; i < 8; i++) {
        bytes[i] = (unsigned char)(hi >> (56 - 8 * i));
        bytes[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
    }
}

static int64_t ts_to_us(duckdb_type t, int64_t v)
{
    if (v == INT64_MAX || v == -INT64_MAX) return v;
    switch (t) {
    case DUCKDB_TYPE_TIMESTAMP_S:
        return v * 1000000;
    case DUCKDB_TYPE_TIMESTAMP_MS:
        return v * 1000;
    case DUCKDB_TYPE_TIMESTAMP_NS:
        return v / 1000;
    default:
        return v;
    }
}

static __int128 decimal_val(const pgw_colenc_t *e, const void *data, idx_t row)
{
    switch (e->phys) {
    case DUCKDB_TYPE_SMALLINT:
        return ((const int16_t *)data)[row];
    case DUCKDB_TYPE_INTEGER:
        return ((const int32_t *)data)[row];
    case DUCKDB_TYPE_BIGINT:
        return ((const int64_t *)data)[row];
    default:
        return hugeint_val(((const duckdb_hugeint *)data)[row]);
    }
}

static const char *string_ptr(duckdb_string_t *s, uint32_t *len)
{
    *len = duckdb_string_t_length(*s);
    return duckdb_string_t_data(s);
}

/* ---- PostgreSQL numeric binary form ---- */

/* digits: ASCII decimal digits of |v| with `scale` fractional digits. */
static void put_numeric_binary(buf_t *b, const char *digits, size_t ndig, int scale, bool neg)
{
    int intlen = (int)ndig - scale;
    /* Base-10000 groups aligned on the decimal point. */
    int int_groups = (intlen + 3) / 4;
    int frac_groups = (scale + 3) / 4;
    int total = int_groups + frac_groups;
    int16_t groups[64];
    if (total > 64) total = 64;
    int lead = int_groups * 4 - intlen; /* zero padding on the left */
    for (int g = 0; g < total; g++) {
        int v = 0;
        for (int k = 0; k < 4; k++) {
            int pos = g * 4 + k - lead; /* index into digits */
            int dgt = (pos >= 0 && pos < (int)ndig) ? digits[pos] - '0' : 0;
            v = v * 10 + dgt;
        }
        groups[g] = (int16_t)v;
    }
    int first = 0, last = total;
    while (first < last && groups[first] == 0) first++;
    while (last > first && groups[last - 1] == 0) last--;
    int16_t weight = (int16_t)(int_groups - 1 - first);
    int16_t n = (int16_t)(last - first);
    if (n == 0) weight = 0;
    uint32_t len = htonl((uint32_t)(8 + 2 * n));
    buf_append(b, &len, 4);
    uint16_t hdr[4] = {htons((uint16_t)n), htons((uint16_t)weight), htons(neg && n ? 0x4000 : 0),
                       htons((uint16_t)scale)};
    buf_append(b, hdr, 8);
    for (int g = first; g < last; g++) {
        uint16_t v = htons((uint16_t)groups[g]);
        buf_append(b, &v, 2);
    }
}

static void numeric_binary_from_i128(buf_t *b, __int128 v, int scale)
{
    char tmp[64];
    char *end = tmp + sizeof tmp, *s = decimal_digits(v, scale, end);
    put_numeric_binary(b, s, (size_t)(end - s), scale, v < 0);
}

/* ---- the field encoder ---- */

static inline void put_len(buf_t *b, int32_t n)
{
    uint32_t v = htonl((uint32_t)n);
    buf_append(b, &v, 4);
}

static inline void put_be16(buf_t *b, uint16_t v)
{
    v = htons(v);
    buf_append(b, &v, 2);
}

static inline void put_be32(buf_t *b, uint32_t v)
{
    v = htonl(v);
    buf_append(b, &v, 4);
}

static inline void put_be64(buf_t *b, uint64_t v)
{
    uint32_t hi = htonl((uint32_t)(v >> 32)), lo = htonl((uint32_t)v);
    buf_append(b, &hi, 4);
    buf_append(b, &lo, 4);
}

static void encode_text_value(buf_t *b, const pgw_colenc_t *e, duckdb_vector v, idx_t row);
static void encode_binary_value(buf_t *b, const pgw_colenc_t *e, duckdb_vector v, idx_t row);

static bool is_null(duckdb_vector v, idx_t row)
{
    uint64_t *valid = duckdb_vector_get_validity(v);
    return valid && !duckdb_validity_row_is_valid(valid, row);
}

/* PostgreSQL array text form: {a,b,"c d",NULL}. */
static void encode_list_text(buf_t *b, const pgw_colenc_t *e, duckdb_vector v, idx_t row)
{
    duckdb_vector child =
        e->type == DUCKDB_TYPE_LIST ? duckdb_list_vector_get_child(v) : duckdb_array_vector_get_child(v);
    idx_t off, n;
    if (e->type == DUCKDB_TYPE_LIST) {
        duckdb_list_entry ent = ((duckdb_list_entry *)duckdb_vector_get_data(v))[row];
        off = ent.offset;
        n = ent.length;
    } else {
        off = row * e->array_size;
        n = e->array_size;
    }
    bool quote = e->child->oid == PGW_OID_TEXT || e->child->oid == PGW_OID_VARCHAR ||
                 e->child->oid == PGW_OID_BYTEA || e->child->oid == PGW_OID_JSON ||
                 e->child->oid == PGW_OID_TIMESTAMP || e->child->oid == PGW_OID_TIMESTAMPTZ ||
                 e->child->oid == PGW_OID_INTERVAL;
    buf_putc(b, '{');
    for (idx_t i = 0; i < n; i++) {
        if (i) buf_putc(b, ',');
        if (is_null(child, off + i)) {
            buf_append_str(b, "NULL");
            continue;
        }
        if (!quote) {
            encode_text_value(b, e->child, child, off + i);
            continue;
        }
        buf_t tmp;
        buf_init(&tmp, 64);
        encode_text_value(&tmp, e->child, child, off + i);
        buf_putc(b, '"');
        for (size_t k = 0; k < tmp.len; k++) {
            if (tmp.data[k] == '"' || tmp.data[k] == '\\') buf_putc(b, '\\');
            buf_putc(b, tmp.data[k]);
        }
        buf_putc(b, '"');
        buf_free(&tmp);
    }
    buf_putc(b, '}');
}

static void encode_text_value(buf_t *b, const pgw_colenc_t *e, duckdb_vector v, idx_t row)
{
    void *data = duckdb_vector_get_data(v);
    switch (e->type) {
    case DUCKDB_TYPE_BOOLEAN:
        buf_putc(b, ((bool *)data)[row] ? 't' : 'f');
        break;
    case DUCKDB_TYPE_TINYINT:
        put_i64(b, ((int8_t *)data)[row]);
        break;
    case DUCKDB_TYPE_SMALLINT:
        put_i64(b, ((int16_t *)data)[row]);
        break;
    case DUCKDB_TYPE_INTEGER:
        put_i64(b, ((int32_t *)data)[row]);
        break;
    case DUCKDB_TYPE_BIGINT:
        put_i64(b, ((int64_t *)data)[row]);
        break;
    case DUCKDB_TYPE_UTINYINT:
        put_i64(b, ((uint8_t *)data)[row]);
        break;
    case DUCKDB_TYPE_USMALLINT:
        put_i64(b, ((uint16_t *)data)[row]);
        break;
    case DUCKDB_TYPE_UINTEGER:
        put_i64(b, ((uint32_t *)data)[row]);
        break;
    case DUCKDB_TYPE_UBIGINT:
        put_u128(b, ((uint64_t *)data)[row], false);
        break;
    case DUCKDB_TYPE_HUGEINT: {
        __int128 h = hugeint_val(((duckdb_hugeint *)data)[row]);
        put_u128(b, h < 0 ? (unsigned __int128)(-(h + 1)) + 1 : (unsigned __int128)h, h < 0);
        break;
    }
    case DUCKDB_TYPE_UHUGEINT: {
        duckdb_uhugeint u = ((duckdb_uhugeint *)data)[row];
        put_u128(b, ((unsigned __int128)u.upper << 64) | u.lower, false);
        break;
    }
    case DUCKDB_TYPE_FLOAT:
        fmt_float(b, ((float *)data)[row]);
        break;
    case DUCKDB_TYPE_DOUBLE:
        pgw_fmt_double(b, ((double *)data)[row]);
        break;
    case DUCKDB_TYPE_DECIMAL:
        put_decimal(b, decimal_val(e, data, row), e->scale);
        break;
    case DUCKDB_TYPE_VARCHAR: {
        uint32_t len;
        const char *s = string_ptr(&((duckdb_string_t *)data)[row], &len);
        buf_append(b, s, len);
        break;
    }
    case DUCKDB_TYPE_BLOB: {
        uint32_t len;
        const char *s = string_ptr(&((duckdb_string_t *)data)[row], &len);
        static const char hex[] = "0123456789abcdef";
        buf_reserve(b, 2 + 2 * (size_t)len);
        b->data[b->len++] = '\\';
        b->data[b->len++] = 'x';
        for (uint32_t i = 0; i < len; i++) {
            b->data[b->len++] = hex[(unsigned char)s[i] >> 4];
            b->data[b->len++] = hex[(unsigned char)s[i] & 15];
        }
        break;
    }
    case DUCKDB_TYPE_DATE:
        pgw_fmt_date(b, ((duckdb_date *)data)[row].days);
        break;
    case DUCKDB_TYPE_TIME:
        put_time_of_day(b, ((duckdb_time *)data)[row].micros);
        break;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
        pgw_fmt_timestamp(b, ts_to_us(e->type, ((int64_t *)data)[row]), false);
        break;
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        pgw_fmt_timestamp(b, ((int64_t *)data)[row], true);
        break;
    case DUCKDB_TYPE_INTERVAL: {
        duckdb_interval iv = ((duckdb_interval *)data)[row];
        pgw_fmt_interval(b, iv.months, iv.days, iv.micros);
        break;
    }
    case DUCKDB_TYPE_UUID:
        put_uuid(b, ((duckdb_hugeint *)data)[row]);
        break;
    case DUCKDB_TYPE_ENUM: {
        uint64_t idx = e->phys == DUCKDB_TYPE_UTINYINT    ? ((uint8_t *)data)[row]
                       : e->phys == DUCKDB_TYPE_USMALLINT ? ((uint16_t *)data)[row]
                                                          : ((uint32_t *)data)[row];
        char *s = duckdb_enum_dictionary_value(e->lt, idx);
        buf_append_str(b, s);
        duckdb_free(s);
        break;
    }
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_ARRAY:
        encode_list_text(b, e, v, row);
        break;
    default:
        break; /* unsupported types are cast to VARCHAR by the gate */
    }
}

static void encode_list_binary(buf_t *b, const pgw_colenc_t *e, duckdb_vector v, idx_t row)
{
    duckdb_vector child =
        e->type == DUCKDB_TYPE_LIST ? duckdb_list_vector_get_child(v) : duckdb_array_vector_get_child(v);
    idx_t off, n;
    if (e->type == DUCKDB_TYPE_LIST) {
        duckdb_list_entry ent = ((duckdb_list_entry *)duckdb_vector_get_data(v))[row];
        off = ent.offset;
        n = ent.length;
    } else {
        off = row * e->array_size;
        n = e->array_size;
    }
    bool hasnull = false;
    for (idx_t i = 0; i < n; i++)
        if (is_null(child, off + i)) hasnull = true;
    put_be32(b, n ? 1 : 0);
    put_be32(b, hasnull ? 1 : 0);
    put_be32(b, e->child->oid);
    if (n) {
        put_be32(b, (uint32_t)n);
        put_be32(b, 1);
    }
    for (idx_t i = 0; i < n; i++) {
        if (is_null(child, off + i))
            put_len(b, -1);
        else
            encode_binary_value(b, e->child, child, off + i);
    }
}

/* Writes length + binary value. */
static void encode_binary_value(buf_t *b, const pgw_colenc_t *e, duckdb_vector v, idx_t row)
{
    void *data = duckdb_vector_get_data(v);
    switch (e->type) {
    case DUCKDB_TYPE_BOOLEAN:
        put_len(b, 1);
        buf_putc(b, ((bool *)data)[row] ? 1 : 0);
        return;
    case DUCKDB_TYPE_TINYINT:
        put_len(b, 2);
        put_be16(b, (uint16_t)(int16_t)((int8_t *)data)[row]);
        return;
    case DUCKDB_TYPE_UTINYINT:
        put_len(b, 2);
        put_be16(b, ((uint8_t *)data)[row]);
        return;
    case DUCKDB_TYPE_SMALLINT:
        put_len(b, 2);
        put_be16(b, (uint16_t)((int16_t *)data)[row]);
        return;
    case DUCKDB_TYPE_INTEGER:
        put_len(b, 4);
        put_be32(b, (uint32_t)((int32_t *)data)[row]);
        return;
    case DUCKDB_TYPE_USMALLINT:
        put_len(b, 4);
        put_be32(b, ((uint16_t *)data)[row]);
        return;
    case DUCKDB_TYPE_BIGINT:
        put_len(b, 8);
        put_be64(b, (uint64_t)((int64_t *)data)[row]);
        return;
    case DUCKDB_TYPE_UINTEGER:
        put_len(b, 8);
        put_be64(b, ((uint32_t *)data)[row]);
        return;
    case DUCKDB_TYPE_UBIGINT:
        numeric_binary_from_i128(b, (__int128)((uint64_t *)data)[row], 0);
        return;
    case DUCKDB_TYPE_HUGEINT:
        numeric_binary_from_i128(b, hugeint_val(((duckdb_hugeint *)data)[row]), 0);
        return;
    case DUCKDB_TYPE_FLOAT: {
        uint32_t u;
        memcpy(&u, &((float *)data)[row], 4);
        put_len(b, 4);
        put_be32(b, u);
        return;
    }
    case DUCKDB_TYPE_DOUBLE: {
        uint64_t u;
        memcpy(&u, &((double *)data)[row], 8);
        put_len(b, 8);
        put_be64(b, u);
        return;
    }
    case DUCKDB_TYPE_DECIMAL:
        numeric_binary_from_i128(b, decimal_val(e, data, row), e->scale);
        return;
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB: {
        uint32_t len;
        const char *s = string_ptr(&((duckdb_string_t *)data)[row], &len);
        put_len(b, (int32_t)len);
        buf_append(b, s, len);
        return;
    }
    case DUCKDB_TYPE_DATE: {
        int32_t d = ((duckdb_date *)data)[row].days;
        if (d != INT32_MAX && d != -INT32_MAX)
            d -= PG_EPOCH_DAYS;
        else
            d = d == INT32_MAX ? INT32_MAX : INT32_MIN;
        put_len(b, 4);
        put_be32(b, (uint32_t)d);
        return;
    }
    case DUCKDB_TYPE_TIME:
        put_len(b, 8);
        put_be64(b, (uint64_t)((duckdb_time *)data)[row].micros);
        return;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ: {
        int64_t us = ts_to_us(e->type, ((int64_t *)data)[row]);
        if (us == INT64_MAX || us == -INT64_MAX)
            us = us == INT64_MAX ? INT64_MAX : INT64_MIN;
        else
            us -= PG_EPOCH_US;
        put_len(b, 8);
        put_be64(b, (uint64_t)us);
        return;
    }
    case DUCKDB_TYPE_INTERVAL: {
        duckdb_interval iv = ((duckdb_interval *)data)[row];
        put_len(b, 16);
        put_be64(b, (uint64_t)iv.micros);
        put_be32(b, (uint32_t)iv.days);
        put_be32(b, (uint32_t)iv.months);
        return;
    }
    case DUCKDB_TYPE_UUID: {
        unsigned char bytes[16];
        uuid_bytes(((duckdb_hugeint *)data)[row], bytes);
        put_len(b, 16);
        buf_append(b, bytes, 16);
        return;
    }
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_ARRAY: {
        size_t at = b->len;
        put_len(b, 0);
        encode_list_binary(b, e, v, row);
        uint32_t n = htonl((uint32_t)(b->len - at - 4));
        memcpy(b->data + at, &n, 4);
        return;
    }
    default: {
        /* text-typed (enum, json, ...): binary form of text is its bytes */
        size_t at = b->len;
        put_len(b, 0);
        encode_text_value(b, e, v, row);
        uint32_t n = htonl((uint32_t)(b->len - at - 4));
        memcpy(b->data + at, &n, 4);
        return;
    }
    }
}

void pgw_encode_text(buf_t *b, const pgw_colenc_t *e, duckdb_vector v, idx_t row)
{
    encode_text_value(b, e, v, row);
}

void pgw_encode_field(buf_t *b, const pgw_colenc_t *e, duckdb_vector v, idx_t row)
{
    if (is_null(v, row) || e->type == DUCKDB_TYPE_SQLNULL) {
        put_len(b, -1);
        return;
    }
    if (e->binary) {
        encode_binary_value(b, e, v, row);
        return;
    }
    buf_reserve(b, 32);
    size_t at = b->len;
    b->len += 4;
    encode_text_value(b, e, v, row);
    uint32_t n = htonl((uint32_t)(b->len - at - 4));
    memcpy(b->data + at, &n, 4);
}

/* ---- Bind parameters ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static uint64_t rd_be(const char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | (unsigned char)p[i];
    return v;
}

/* PostgreSQL binary numeric → decimal text. */
static bool numeric_binary_to_text(const char *p, int32_t len, buf_t *out)
{
    if (len < 8) return false;
    int16_t ndig = (int16_t)rd_be(p, 2), weight = (int16_t)rd_be(p + 2, 2);
    uint16_t sign = (uint16_t)rd_be(p + 4, 2);
    int16_t dscale = (int16_t)rd_be(p + 6, 2);
    if (ndig < 0 || len != 8 + 2 * ndig || dscale < 0) return false;
    if (sign == 0xC000) {
        buf_append_str(out, "NaN");
        return true;
    }
    if (sign == 0x4000) buf_putc(out, '-');
    /* integer part: groups 0..weight */
    if (weight < 0) buf_putc(out, '0');
    for (int g = 0; g <= weight; g++) {
        int d = g < ndig ? (int)rd_be(p + 8 + 2 * g, 2) : 0;
        if (d > 9999) return false;
        if (g == 0)
            buf_printf(out, "%d", d);
        else
            buf_printf(out, "%04d", d);
    }
    if (dscale > 0) {
        buf_putc(out, '.');
        int written = 0;
        for (int g = weight + 1; written < dscale; g++) {
            int d = (g >= 0 && g < ndig) ? (int)rd_be(p + 8 + 2 * g, 2) : 0;
            char tmp[8];
            snprintf(tmp, sizeof tmp, "%04d", d);
            for (int k = 0; k < 4 && written < dscale; k++, written++) buf_putc(out, tmp[k]);
        }
    }
    return true;
}

/* DuckDB re-plans a prepared statement whenever a bound value's type differs
 * from the type it inferred for the parameter (PreparedStatementData::
 * RequireRebind), and after one such re-plan it re-plans on every execution.
 * Drivers send most parameters as text (pgbench, node-postgres, psycopg 3 for
 * a str) or as a narrower integer than the column (pgjdbc's setInt on a
 * bigint). So a value whose spelling is unambiguous is bound as the inferred
 * type itself; anything else (out of range, exponents in an integer, 'NaN',
 * dates...) is bound as before and the engine casts it, with its own errors. */
static void trim_space(const char **p, const char **e)
{
    while (*p < *e && isspace((unsigned char)**p)) (*p)++;
    while (*e > *p && isspace((unsigned char)(*e)[-1])) (*e)--;
}

/* Binds v as integer type t; false when t is not an integer type or v is out
 * of its range. */
static bool bind_int_as(duckdb_prepared_statement ps, idx_t idx, duckdb_type t, int64_t v, duckdb_state *st)
{
    switch (t) {
    case DUCKDB_TYPE_TINYINT:
        if (v < INT8_MIN || v > INT8_MAX) return false;
        *st = duckdb_bind_int8(ps, idx, (int8_t)v);
        return true;
    case DUCKDB_TYPE_SMALLINT:
        if (v < INT16_MIN || v > INT16_MAX) return false;
        *st = duckdb_bind_int16(ps, idx, (int16_t)v);
        return true;
    case DUCKDB_TYPE_INTEGER:
        if (v < INT32_MIN || v > INT32_MAX) return false;
        *st = duckdb_bind_int32(ps, idx, (int32_t)v);
        return true;
    case DUCKDB_TYPE_BIGINT:
        *st = duckdb_bind_int64(ps, idx, v);
        return true;
    case DUCKDB_TYPE_UTINYINT:
        if (v < 0 || v > UINT8_MAX) return false;
        *st = duckdb_bind_uint8(ps, idx, (uint8_t)v);
        return true;
    case DUCKDB_TYPE_USMALLINT:
        if (v < 0 || v > UINT16_MAX) return false;
        *st = duckdb_bind_uint16(ps, idx, (uint16_t)v);
        return true;
    case DUCKDB_TYPE_UINTEGER:
        if (v < 0 || v > UINT32_MAX) return false;
        *st = duckdb_bind_uint32(ps, idx, (uint32_t)v);
        return true;
    default:
        return false;
    }
}

/* [space][sign]digits[space] into *v; false for anything else or past int64. */
static bool parse_int_text(const char *p, int32_t len, int64_t *v)
{
    const char *e = p + len;
    trim_space(&p, &e);
    bool neg = false;
    if (p < e && (*p == '+' || *p == '-')) neg = *p++ == '-';
    if (p == e || e - p > 19) return false;
    uint64_t u = 0;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9') return false;
        u = u * 10 + (uint64_t)(*p - '0');
    }
    if (u > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) return false;
    *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

/* [space][sign](digits[.digits]|.digits)[e[sign]digits][space], finite and
 * not underflowing, into *d. */
static bool parse_float_text(const char *p, int32_t len, double *d)
{
    const char *e = p + len;
    trim_space(&p, &e);
    if (e - p > 64) return false;
    char tmp[72];
    size_t n = (size_t)(e - p);
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    const char *q = tmp;
    if (*q == '+' || *q == '-') q++;
    int digits = 0;
    while (*q >= '0' && *q <= '9') q++, digits++;
    if (*q == '.') {
        q++;
        while (*q >= '0' && *q <= '9') q++, digits++;
    }
    if (!digits) return false;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-') q++;
        if (*q < '0' || *q > '9') return false;
        while (*q >= '0' && *q <= '9') q++;
    }
    if (*q) return false;
    errno = 0;
    *d = strtod(tmp, NULL);
    return errno == 0 && isfinite(*d);
}

/* A text parameter bound as the inferred type when its spelling allows. */
static bool bind_text_typed(duckdb_prepared_statement ps, idx_t idx, duckdb_type t, const char *val,
                            int32_t len, duckdb_state *st)
{
    int64_t v;
    double d;
    if (t == DUCKDB_TYPE_VARCHAR) return false; /* the common case: nothing to parse */
    if (parse_int_text(val, len, &v) && bind_int_as(ps, idx, t, v, st)) return true;
    if (t == DUCKDB_TYPE_DOUBLE) {
        if (!parse_float_text(val, len, &d)) return false;
        *st = duckdb_bind_double(ps, idx, d);
        return true;
    }
    if (t == DUCKDB_TYPE_FLOAT) {
        if (!parse_float_text(val, len, &d) || fabs(d) > FLT_MAX || (d != 0 && fabs(d) < FLT_MIN))
            return false;
        *st = duckdb_bind_float(ps, idx, (float)d);
        return true;
    }
    return false;
}

bool pgw_bind_param(duckdb_prepared_statement ps, idx_t idx, uint32_t oid, duckdb_type inferred,
                    int16_t format, const char *val, int32_t len, char *err, size_t errlen)
{
    duckdb_state st;
    if (len < 0) return duckdb_bind_null(ps, idx) == DuckDBSuccess;
    if (format == 0 && (oid == PGW_OID_BYTEA || inferred == DUCKDB_TYPE_BLOB) && len >= 2 && val[0] == '\\' &&
        (val[1] == 'x' || val[1] == 'X')) {
        if ((len - 2) % 2) goto badhex;
        char *raw = xmalloc((size_t)(len - 2) / 2 + 1);
        for (int32_t i = 2; i < len; i += 2) {
            int hi = hexval(val[i]), lo = hexval(val[i + 1]);
            if (hi < 0 || lo < 0) {
                free(raw);
                goto badhex;
            }
            raw[(i - 2) / 2] = (char)(hi << 4 | lo);
        }
        st = duckdb_bind_blob(ps, idx, raw, (idx_t)(len - 2) / 2);
        free(raw);
        return st == DuckDBSuccess;
    }
    if (format == 0 && (inferred == DUCKDB_TYPE_LIST || inferred == DUCKDB_TYPE_ARRAY) && len >= 2 &&
        val[0] == '{') {
        /* PostgreSQL array literal → DuckDB list literal: braces outside quotes become brackets */
        char *v = xstrndup(val, (size_t)len);
        bool quoted = false;
        for (int32_t i = 0; i < len; i++) {
            if (quoted && v[i] == '\\')
                i++;
            else if (v[i] == '"')
                quoted = !quoted;
            else if (!quoted && v[i] == '{')
                v[i] = '[';
            else if (!quoted && v[i] == '}')
                v[i] = ']';
        }
        st = duckdb_bind_varchar_length(ps, idx, v, (idx_t)len);
        free(v);
        if (st != DuckDBSuccess) {
            snprintf(err, errlen, "invalid array value for parameter $%llu", (unsigned long long)idx);
            return false;
        }
        return true;
    }
    if (format == 0) {
        if (bind_text_typed(ps, idx, inferred, val, len, &st) && st == DuckDBSuccess) return true;
        st = duckdb_bind_varchar_length(ps, idx, val, (idx_t)len);
        if (st != DuckDBSuccess) {
            /* e.g. invalid UTF-8 for a text parameter */
            snprintf(err, errlen, "invalid value for parameter $%llu", (unsigned long long)idx);
            return false;
        }
        return true;
    }
    switch (oid) {
    case PGW_OID_BOOL:
        if (len != 1) goto badlen;
        st = duckdb_bind_boolean(ps, idx, val[0] != 0);
        break;
    case PGW_OID_INT2:
        if (len != 2) goto badlen;
        if (bind_int_as(ps, idx, inferred, (int16_t)rd_be(val, 2), &st)) break;
        st = duckdb_bind_int16(ps, idx, (int16_t)rd_be(val, 2));
        break;
    case PGW_OID_INT4:
    case PGW_OID_OID:
        if (len != 4) goto badlen;
        if (oid == PGW_OID_INT4 && bind_int_as(ps, idx, inferred, (int32_t)rd_be(val, 4), &st)) break;
        st = duckdb_bind_int32(ps, idx, (int32_t)rd_be(val, 4));
        break;
    case PGW_OID_INT8:
        if (len != 8) goto badlen;
        if (bind_int_as(ps, idx, inferred, (int64_t)rd_be(val, 8), &st)) break;
        st = duckdb_bind_int64(ps, idx, (int64_t)rd_be(val, 8));
        break;
    case PGW_OID_FLOAT4: {
        if (len != 4) goto badlen;
        uint32_t u = (uint32_t)rd_be(val, 4);
        float f;
        memcpy(&f, &u, 4);
        st = duckdb_bind_float(ps, idx, f);
        break;
    }
    case PGW_OID_FLOAT8: {
        if (len != 8) goto badlen;
        uint64_t u = rd_be(val, 8);
        double d;
        memcpy(&d, &u, 8);
        st = duckdb_bind_double(ps, idx, d);
        break;
    }
    case PGW_OID_BYTEA:
        st = duckdb_bind_blob(ps, idx, val, (idx_t)len);
        break;
    case PGW_OID_DATE: {
        if (len != 4) goto badlen;
        int32_t d = (int32_t)rd_be(val, 4);
        duckdb_date dd = {.days = d == INT32_MAX || d == INT32_MIN ? (d == INT32_MAX ? INT32_MAX : -INT32_MAX)
                                                                   : d + PG_EPOCH_DAYS};
        st = duckdb_bind_date(ps, idx, dd);
        break;
    }
    case PGW_OID_TIME: {
        if (len != 8) goto badlen;
        duckdb_time t = {.micros = (int64_t)rd_be(val, 8)};
        st = duckdb_bind_time(ps, idx, t);
        break;
    }
    case PGW_OID_TIMESTAMP:
    case PGW_OID_TIMESTAMPTZ: {
        if (len != 8) goto badlen;
        int64_t us = (int64_t)rd_be(val, 8);
        duckdb_timestamp ts = {.micros = us == INT64_MAX || us == INT64_MIN
                                             ? (us == INT64_MAX ? INT64_MAX : -INT64_MAX)
                                             : us + PG_EPOCH_US};
        if (oid == PGW_OID_TIMESTAMPTZ)
            st = duckdb_bind_timestamp_tz(ps, idx, ts);
        else
            st = duckdb_bind_timestamp(ps, idx, ts);
        break;
    }
    case PGW_OID_INTERVAL: {
        if (len != 16) goto badlen;
        duckdb_interval iv = {.micros = (int64_t)rd_be(val, 8),
                              .days = (int32_t)rd_be(val + 8, 4),
                              .months = (int32_t)rd_be(val + 12, 4)};
        st = duckdb_bind_interval(ps, idx, iv);
        break;
    }
    case PGW_OID_UUID: {
        if (len != 16) goto badlen;
        char s[37];
        static const char hex[] = "0123456789abcdef";
        int o = 0;
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) s[o++] = '-';
            s[o++] = hex[(unsigned char)val[i] >> 4];
            s[o++] = hex[(unsigned char)val[i] & 15];
        }
        s[o] = '\0';
        st = duckdb_bind_varchar(ps, idx, s);
        break;
    }
    case PGW_OID_NUMERIC: {
        buf_t t;
        buf_init(&t, 64);
        if (!numeric_binary_to_text(val, len, &t)) {
            buf_free(&t);
            snprintf(err, errlen, "invalid binary numeric for parameter $%llu", (unsigned long long)idx);
            return false;
        }
        st = duckdb_bind_varchar(ps, idx, buf_cstr(&t));
        buf_free(&t);
        break;
    }
    case PGW_OID_TEXT:
    case PGW_OID_VARCHAR:
    case PGW_OID_BPCHAR:
    case PGW_OID_NAME:
    case PGW_OID_JSON:
    case PGW_OID_UNKNOWN:
    case 0:
        st = duckdb_bind_varchar_length(ps, idx, val, (idx_t)len);
        break;
    case PGW_OID_JSONB:
        if (len < 1 || val[0] != 1) goto badlen;
        st = duckdb_bind_varchar_length(ps, idx, val + 1, (idx_t)len - 1);
        break;
    default:
        snprintf(err, errlen,
                 "binary format for parameter $%llu of type oid %u is not supported; send it as text",
                 (unsigned long long)idx, oid);
        return false;
    }
    if (st != DuckDBSuccess) {
        snprintf(err, errlen, "cannot bind parameter $%llu", (unsigned long long)idx);
        return false;
    }
    return true;
badhex:
    snprintf(err, errlen, "invalid hexadecimal bytea value for parameter $%llu", (unsigned long long)idx);
    return false;
badlen:
    snprintf(err, errlen, "invalid binary length %d for parameter $%llu (type oid %u)", len,
             (unsigned long long)idx, oid);
    return false;
}
