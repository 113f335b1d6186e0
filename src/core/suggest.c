#include "sinreq/suggest.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

static int fold(int c)
{
    return c == '_' ? '-' : tolower(c);
}

/* Levenshtein distance; names longer than 63 characters never match. */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[64];

    if (la > 63 || lb > 63)
        return 1 << 20;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (fold(a[i - 1]) != fold(b[j - 1]));
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *sr_closest_in(const char *word, const void *table, int n,
                          size_t stride)
{
    const char *best = NULL;
    int best_d = 1 << 20;
    int limit = (int)strlen(word) / 3;

    if (limit < 1) limit = 1;
    if (limit > 3) limit = 3;
    for (int i = 0; i < n; i++) {
        const char *name =
            *(const char *const *)((const char *)table + (size_t)i * stride);
        if (!name) continue;
        int d = distance(word, name);
        if (d < best_d) {
            best_d = d;
            best = name;
        }
    }
    return best_d <= limit ? best : NULL;
}

const char *sr_closest(const char *word, const char *const *names)
{
    int n = 0;
    while (names[n]) n++;
    return sr_closest_in(word, names, n, sizeof *names);
}
