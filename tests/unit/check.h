/* check.h — the few lines every C unit test shares: CHECK(cond) records a
 * failure with file:line and carries on; check_summary() prints
 * "N passed, N failed" and returns the process exit code. Header-only, one
 * test program per translation unit. */
#ifndef MADANG_TESTS_CHECK_H
#define MADANG_TESTS_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (cond) {                                                                                          \
            check_passed++;                                                                                  \
        } else {                                                                                             \
            check_failed++;                                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                         \
        }                                                                                                    \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
