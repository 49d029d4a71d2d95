/* types.h — DuckDB types as PostgreSQL types: OIDs, and value encoding.
 *
 * The mapping (docs/types.md is the table users read) uses only standard
 * PostgreSQL OIDs; a DuckDB type with no PostgreSQL equivalent is sent as
 * text (OID 25) in DuckDB's own text form.
 *
 * Encoders write one DataRow field (int32 length, then bytes; -1 for NULL)
 * straight from a DuckDB vector into the output buffer. */
#ifndef MADANG_PGWIRE_TYPES_H
#define MADANG_PGWIRE_TYPES_H

#include <duckdb.h>

#include "util/util.h"

#define PGW_OID_BOOL        16
#define PGW_OID_BYTEA       17
#define PGW_OID_CHAR        18
#define PGW_OID_NAME        19
#define PGW_OID_INT8        20
#define PGW_OID_INT2        21
#define PGW_OID_INT4        23
#define PGW_OID_TEXT        25
#define PGW_OID_OID         26
#define PGW_OID_JSON        114
#define PGW_OID_FLOAT4      700
#define PGW_OID_FLOAT8      701
#define PGW_OID_UNKNOWN     705
#define PGW_OID_BPCHAR      1042
#define PGW_OID_VARCHAR     1043
#define PGW_OID_DATE        1082
#define PGW_OID_TIME        1083
#define PGW_OID_TIMESTAMP   1114
#define PGW_OID_TIMESTAMPTZ 1184
#define PGW_OID_INTERVAL    1186
#define PGW_OID_TIMETZ      1266
#define PGW_OID_NUMERIC     1700
#define PGW_OID_UUID        2950
#define PGW_OID_JSONB       3802

/* How one result column is described and encoded. */
typedef struct pgw_colenc {
    duckdb_type type; /* DuckDB type id of the vector */
    duckdb_type phys; /* DECIMAL: internal storage type; ENUM: index type */
    uint32_t oid;     /* PostgreSQL type */
    int16_t typlen;
    int32_t typmod;
    uint8_t width, scale; /* DECIMAL */
    bool binary;          /* format requested by the client */
    bool is_json;
    duckdb_logical_type lt;   /* owned; for ENUM dictionaries and LIST children */
    struct pgw_colenc *child; /* LIST/ARRAY element */
    uint32_t array_size;      /* ARRAY (fixed size) */
} pgw_colenc_t;

/* Fills e from a logical type (which e takes ownership of). */
void pgw_colenc_init(pgw_colenc_t *e, duckdb_logical_type lt);
void pgw_colenc_free(pgw_colenc_t *e);
/* Whether this type can be encoded natively; false → caller should cast to VARCHAR. */
bool pgw_type_supported(duckdb_logical_type lt);
/* The PostgreSQL OID for a DuckDB type id, for ParameterDescription. */
uint32_t pgw_oid_for_type(duckdb_type t);
/* The DuckDB type a declared parameter OID stands for; NULL if none. */
const char *pgw_duckdb_type_for_oid(uint32_t oid);
/* Name of an OID as PostgreSQL's format_type would print it. */
const char *pgw_oid_name(uint32_t oid);

/* Appends one field (length + bytes) for row `row` of vector v. */
void pgw_encode_field(buf_t *b, const pgw_colenc_t *e, duckdb_vector v, idx_t row);

/* Appends the text form of one non-NULL value (no length prefix). */
void pgw_encode_text(buf_t *b, const pgw_colenc_t *e, duckdb_vector v, idx_t row);

/* Binds one Bind parameter (text or binary per format; oid is the declared or
 * inferred type; inferred is the engine's) to parameter idx (1-based). Text
 * values in PostgreSQL's own input forms that DuckDB reads differently are
 * converted: bytea hex ('\x0a0b') and array literals ('{1,2}'). */
bool pgw_bind_param(duckdb_prepared_statement ps, idx_t idx, uint32_t oid, duckdb_type inferred,
                    int16_t format, const char *val, int32_t len, char *err, size_t errlen) MUST_CHECK;

/* Text helpers shared with COPY and tests. */
void pgw_fmt_date(buf_t *b, int32_t days);
void pgw_fmt_timestamp(buf_t *b, int64_t micros, bool tz);
void pgw_fmt_interval(buf_t *b, int32_t months, int32_t days, int64_t micros);
void pgw_fmt_double(buf_t *b, double d);

#endif
