/* "Did you mean": the known name nearest a mistyped one. */
#ifndef SINREQ_SUGGEST_H
#define SINREQ_SUGGEST_H

#include <stddef.h>

/* The name of names (NULL-terminated) with the smallest edit distance
 * (Levenshtein, case-insensitive, '-' and '_' alike) to word, if that
 * distance is at most a third of word's length (at least 1, at most 3);
 * else NULL. */
const char *sr_closest(const char *word, const char *const *names);

/* sr_closest over a table: n entries of size stride whose first member is
 * the name (const char *). */
const char *sr_closest_in(const char *word, const void *table, int n,
                          size_t stride);

#endif
