/* split.h — the benchmark clients' shared bits: reading a file of queries.
 * Lines starting with "--" are comments; a query ends with ";" at the end
 * of a line. */
#ifndef BENCH_SPLIT_H
#define BENCH_SPLIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The queries of a file (heap strings), or NULL when it cannot be read. */
static inline char **read_queries(const char *path, int *n)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char **out = NULL;
    *n = 0;
    size_t cap = 0, len = 0;
    char *cur = NULL;
    char line[65536];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "--", 2)) continue;
        size_t l = strlen(line);
        if (len + l + 1 > cap) {
            cap = (len + l + 1) * 2;
            cur = realloc(cur, cap);
        }
        memcpy(cur + len, line, l + 1);
        len += l;
        while (l && (line[l - 1] == '\n' || line[l - 1] == ' ')) l--;
        if (l && line[l - 1] == ';') {
            while (len && (cur[len - 1] == '\n' || cur[len - 1] == ' ' || cur[len - 1] == ';')) cur[--len] = '\0';
            char *q = cur;
            while (*q == '\n' || *q == ' ') q++;
            if (*q) {
                out = realloc(out, sizeof *out * (size_t)(*n + 1));
                out[(*n)++] = strdup(q);
            }
            len = 0;
            cur[0] = '\0';
        }
    }
    free(cur);
    fclose(f);
    return out;
}

#endif
