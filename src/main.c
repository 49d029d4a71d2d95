/* main.c — `madang`: dispatches subcommands, nothing else. */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "lineage/lineage.h"
#include "server/server.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: madang <command> [options]\n"
               "\n"
               "commands:\n"
               "  serve      start the server (see madang serve --help)\n"
               "  audit      verify or export the audit trail (see madang audit --help)\n"
               "  lineage    export lineage as OpenLineage events (see madang lineage --help)\n"
               "  version    print the version\n"
               "  help       show this help\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0) return serve_main(argc - 1, argv + 1);
    if (strcmp(cmd, "audit") == 0) return audit_main(argc - 1, argv + 1);
    if (strcmp(cmd, "lineage") == 0) return lin_export_main(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("madang %s (PostgreSQL %s protocol, DuckDB engine)\n", MADANG_VERSION, MADANG_PG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "madang: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
