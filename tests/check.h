/* Minimal test harness: counters, CHECK macros, group lines, a fixed-seed
 * PRNG for test data. Header-only; each test binary includes it once. */
#ifndef SR_TEST_CHECK_H
#define SR_TEST_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_pass, g_fail;          /* totals */
static int g_group_pass, g_group_fail;
static const char *g_group = "";

static void group_begin(const char *name)
{
    g_group = name;
    g_group_pass = g_group_fail = 0;
}

static void group_end(void)
{
    printf("[%s] %-28s %d passed, %d failed\n",
           g_group_fail ? "FAIL" : " ok ", g_group, g_group_pass, g_group_fail);
    fflush(stdout);
}

static int check_record(int ok)
{
    if (ok) {
        g_pass++;
        g_group_pass++;
    } else {
        g_fail++;
        g_group_fail++;
    }
    return ok;
}

/* CHECK(cond, fmt, ...): one assertion; prints the message on failure. */
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!check_record(!!(cond))) {                                       \
            fprintf(stderr, "  FAIL %s:%d [%s]: ", __FILE__, __LINE__,       \
                    g_group);                                                \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

static int finish(void)
{
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}

/* ---- fixed-seed PRNG (splitmix64) ---- */
static uint64_t g_rng_state;

static void test_seed(uint64_t seed) { g_rng_state = seed; }

static uint64_t rnd_u64(void)
{
    uint64_t z = (g_rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 bits */
static double rnd_unit(void) { return (double)(rnd_u64() >> 11) * (1.0 / 9007199254740992.0); }
static double rnd_range(double lo, double hi) { return lo + (hi - lo) * rnd_unit(); }
static int rnd_int(int lo, int hi) /* inclusive */
{
    return lo + (int)(rnd_u64() % (uint64_t)(hi - lo + 1));
}

/* Seed from env SR_TEST_SEED or the given default; prints it. */
static uint64_t test_seed_from_env(uint64_t dflt)
{
    const char *s = getenv("SR_TEST_SEED");
    uint64_t seed = s && *s ? strtoull(s, NULL, 0) : dflt;
    test_seed(seed);
    printf("seed %llu (set SR_TEST_SEED to change)\n", (unsigned long long)seed);
    return seed;
}

#endif
