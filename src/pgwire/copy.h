/* copy.h — COPY's text and csv row formats (PostgreSQL's), both directions.
 *
 * Decoding is incremental: feed CopyData payloads as they arrive; every
 * complete row is handed to the callback as an array of fields (NULL = SQL
 * NULL). Fields point into the parser's own buffer and are valid only during
 * the callback. */
#ifndef MADANG_PGWIRE_COPY_H
#define MADANG_PGWIRE_COPY_H

#include <duckdb.h>

#include "gate/gate.h"
#include "pgwire/types.h"

typedef bool (*pgw_copy_row_fn)(void *ctx, int n, char **fields, size_t *lens);

typedef struct {
    const gate_copy_opts_t *o;
    buf_t pending; /* bytes of an incomplete row */
    buf_t field;   /* decoded field bytes of the current row */
    size_t *starts;
    size_t *lens;
    bool *nulls;
    char **ptrs;
    int cap;
    bool header_skipped;
    bool ended; /* saw the \. end marker */
    int64_t line;
    char err[256];
} pgw_copy_parser_t;

void pgw_copy_parser_init(pgw_copy_parser_t *p, const gate_copy_opts_t *o);
void pgw_copy_parser_free(pgw_copy_parser_t *p);
/* false when the callback failed or the data is malformed (p->err set if malformed). */
bool pgw_copy_feed(pgw_copy_parser_t *p, const char *data, size_t len, pgw_copy_row_fn fn,
                   void *ctx) MUST_CHECK;
/* End of data: the last row may lack its newline. */
bool pgw_copy_finish(pgw_copy_parser_t *p, pgw_copy_row_fn fn, void *ctx) MUST_CHECK;

/* Appends one row in COPY text/csv form (no CopyData framing), with newline. */
void pgw_copy_encode_row(buf_t *b, const gate_copy_opts_t *o, const pgw_colenc_t *enc, duckdb_vector *vecs,
                         int ncols, idx_t row);
void pgw_copy_encode_header(buf_t *b, const gate_copy_opts_t *o, char **names, int ncols);

#endif
