/* metrics.h — process-wide counters exported at GET /metrics (Prometheus text).
 * Lock-free: every counter is an atomic updated where the event happens. */
#ifndef MADANG_METRICS_H
#define MADANG_METRICS_H

#include "util/util.h"

typedef enum {
    MET_KIND_SELECT,
    MET_KIND_INSERT,
    MET_KIND_UPDATE,
    MET_KIND_DELETE,
    MET_KIND_DDL,
    MET_KIND_COPY,
    MET_KIND_TRANSACTION,
    MET_KIND_SESSION,
    MET_KIND_GOVERNANCE,
    MET_KIND_OTHER,
    MET_KIND__COUNT
} met_kind_t;

const char *met_kind_name(met_kind_t k);

void met_init(void);
void met_conn_opened(void);
void met_conn_closed(void);
void met_statement(met_kind_t k, bool ok);
void met_render(buf_t *out);

#endif
