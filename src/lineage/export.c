/* export.c — madang lineage export: the recorded runs as OpenLineage 2-0-2
 * RunEvents, one JSON object per line, for Marquez, DataHub or OpenMetadata.
 *
 * Each run gives a START event (when the statement began) and a COMPLETE,
 * FAIL (the statement failed) or ABORT (its transaction rolled back) event;
 * a COMPLETE event's output carries the columnLineage facet 1-2-0, with the
 * table-wide INDIRECT edges in its "dataset" list. Reads meta.db read-only,
 * so it runs beside a live server. */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lineage/lineage.h"
#include "server/server.h"

#define OL_SCHEMA   "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
#define OL_CLL      "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json"
#define OL_SQL      "https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json"
#define OL_JOBTYPE  "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json"
#define OL_ERROR    "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json"
#define OL_ENGINE   "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json"
#define OL_PRODUCER "urn:madang:" MADANG_VERSION

static int usage(FILE *f)
{
    fprintf(f, "usage: madang lineage export --data DIR --format openlineage [--since TS] [--namespace NS]\n"
               "\n"
               "  Writes every recorded run (a statement that wrote or defined a table) as\n"
               "  OpenLineage 2-0-2 RunEvents, one JSON object per line, oldest first.\n"
               "  --since TS      only runs that ended at or after TS (ISO 8601, UTC)\n"
               "  --namespace NS  the datasets' and jobs' namespace (default: madang)\n");
    return f == stdout ? 0 : 2;
}

static json_t *facet(const char *schema)
{
    return json_pack("{s:s,s:s}", "_producer", OL_PRODUCER, "_schemaURL", schema);
}

static json_t *dataset(const char *ns, const char *table)
{
    if (!strcmp(table, "stdin")) return json_pack("{s:s,s:s}", "namespace", "client", "name", "stdin");
    return json_pack("{s:s,s:s}", "namespace", ns, "name", table);
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* The output dataset of a run with its columnLineage facet, and its inputs. */
static void lineage_of(sqlite3 *db, sqlite3_int64 run, const char *ns, const char *target, json_t **inputs,
                       json_t **output)
{
    json_t *fields = json_object(), *wide = json_array();
    *inputs = json_array();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            db,
            "SELECT target_column, source_table, source_column, type, subtype FROM lineage_edges "
            "WHERE run_id = ?1 ORDER BY id",
            -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *tc = col(st, 0), *stbl = col(st, 1), *sc = col(st, 2);
            json_t *ds = dataset(ns, stbl);
            bool seen = false;
            size_t i;
            json_t *x;
            json_array_foreach(*inputs, i, x) seen |= json_equal(x, ds);
            if (!seen) json_array_append(*inputs, ds);
            json_t *tr = json_pack("{s:s,s:s,s:s,s:b}", "type", col(st, 3), "subtype", col(st, 4),
                                   "description", "", "masking", 0);
            json_t *in =
                json_pack("{s:O,s:O,s:s,s:[o]}", "namespace", json_object_get(ds, "namespace"), "name",
                          json_object_get(ds, "name"), "field", sc ? sc : "", "transformations", tr);
            json_decref(ds);
            if (tc) {
                json_t *f = json_object_get(fields, tc);
                if (!f) {
                    f = json_pack("{s:[]}", "inputFields");
                    json_object_set_new(fields, tc, f);
                }
                json_array_append_new(json_object_get(f, "inputFields"), in);
            } else {
                json_array_append_new(wide, in);
            }
        }
        sqlite3_finalize(st);
    }
    json_t *cll = facet(OL_CLL);
    json_object_set_new(cll, "fields", fields);
    json_object_set_new(cll, "dataset", wide);
    *output = dataset(ns, target);
    json_object_set_new(*output, "facets", json_pack("{s:o}", "columnLineage", cll));
}

static void emit(json_t *ev)
{
    char *s = json_dumps(ev, JSON_COMPACT);
    puts(s);
    free(s);
    json_decref(ev);
}

static int export_runs(const char *data, const char *since, const char *ns)
{
    char *path = xasprintf("%s/meta.db", data);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "madang lineage export: cannot open %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        free(path);
        return 1;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            db,
            "SELECT id, run_uuid, statement_seq, kind, target_table, user_name, statement, status, "
            "error, started_at, ended_at FROM lineage_runs WHERE ?1 IS NULL OR julianday(ended_at) "
            ">= julianday(?1) ORDER BY id",
            -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "madang lineage export: %s has no lineage (%s)\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        free(path);
        return 1;
    }
    free(path);
    if (since) sqlite3_bind_text(st, 1, since, -1, SQLITE_TRANSIENT);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *uuid = col(st, 1), *kind = col(st, 3), *target = col(st, 4), *user = col(st, 5),
                   *sql = col(st, 6), *status = col(st, 7), *error = col(st, 8);
        char job[512];
        snprintf(job, sizeof job, "madang.%s.%s", kind, target);
        for (char *p = job; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
        json_t *inputs, *output;
        bool complete = !strcmp(status, "COMPLETE");
        if (complete) {
            lineage_of(db, sqlite3_column_int64(st, 0), ns, target, &inputs, &output);
        } else {
            inputs = json_array();
            output = dataset(ns, target);
        }
        json_t *sqlf = facet(OL_SQL);
        json_object_set_new(sqlf, "query", json_string(sql ? sql : ""));
        json_t *jt = facet(OL_JOBTYPE);
        json_object_update_new(jt, json_pack("{s:s,s:s,s:s}", "processingType", "BATCH", "integration",
                                             "MADANG", "jobType", "QUERY"));
        json_t *jobj = json_pack("{s:s,s:s,s:{s:o,s:o}}", "namespace", ns, "name", job, "facets", "sql", sqlf,
                                 "jobType", jt);
        json_t *eng = facet(OL_ENGINE);
        json_object_update_new(eng, json_pack("{s:s,s:s,s:s}", "version", MADANG_VERSION, "name", "madang",
                                              "openlineageAdapterVersion", MADANG_VERSION));
        json_t *madang = facet("urn:madang:facets:MadangRunFacet:1-0-0"); /* docs/lineage.md */
        json_object_update_new(madang, json_pack("{s:s?,s:I}", "user", user, "statement_seq",
                                                 (json_int_t)sqlite3_column_int64(st, 2)));
        json_t *runf = json_pack("{s:o,s:o}", "processing_engine", eng, "madang", madang);
        json_t *start_out = json_deep_copy(output);
        json_object_del(start_out, "facets"); /* the START event's output carries no lineage yet */
        json_t *start =
            json_pack("{s:s,s:s,s:{s:s,s:O},s:O,s:O,s:[o],s:s,s:s}", "eventType", "START", "eventTime",
                      col(st, 9), "run", "runId", uuid, "facets", runf, "job", jobj, "inputs", inputs,
                      "outputs", start_out, "producer", OL_PRODUCER, "schemaURL", OL_SCHEMA);
        json_t *endf = json_deep_copy(runf);
        if (!complete) {
            json_t *em = facet(OL_ERROR);
            json_object_update_new(
                em, json_pack("{s:s,s:s}", "message", error ? error : status, "programmingLanguage", "SQL"));
            json_object_set_new(endf, "errorMessage", em);
        }
        json_t *end =
            json_pack("{s:s,s:s,s:{s:s,s:o},s:o,s:o,s:[o],s:s,s:s}", "eventType",
                      complete                   ? "COMPLETE"
                      : !strcmp(status, "ABORT") ? "ABORT"
                                                 : "FAIL",
                      "eventTime", col(st, 10), "run", "runId", uuid, "facets", endf, "job", jobj, "inputs",
                      inputs, "outputs", output, "producer", OL_PRODUCER, "schemaURL", OL_SCHEMA);
        json_decref(runf);
        emit(start);
        emit(end);
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    fflush(stdout);
    fprintf(stderr, "madang lineage export: %d runs, %d events\n", n, 2 * n);
    return 0;
}

int lin_export_main(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    const char *cmd = argv[1], *data = NULL, *since = NULL, *format = NULL, *ns = "madang";
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) return usage(stdout);
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) return usage(stdout);
        if (i + 1 >= argc) {
            fprintf(stderr, "madang lineage: option %s needs a value\n", o);
            return 2;
        }
        if (!strcmp(o, "--data"))
            data = argv[++i];
        else if (!strcmp(o, "--since"))
            since = argv[++i];
        else if (!strcmp(o, "--format"))
            format = argv[++i];
        else if (!strcmp(o, "--namespace"))
            ns = argv[++i];
        else {
            fprintf(stderr, "madang lineage: unknown option '%s'\n", o);
            return usage(stderr);
        }
    }
    if (strcmp(cmd, "export") != 0) {
        fprintf(stderr, "madang lineage: unknown command '%s'\n", cmd);
        return usage(stderr);
    }
    if (!data) {
        fprintf(stderr, "madang lineage export: --data DIR is required\n");
        return 2;
    }
    if (format && strcmp(format, "openlineage") != 0) {
        fprintf(stderr, "madang lineage export: --format is openlineage\n");
        return 2;
    }
    return export_runs(data, since, ns);
}
