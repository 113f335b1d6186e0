/* sinreq: counter-based RNG (src/core).
 *
 * Stateless: a random 32-bit word is a pure function of (key, counter), so a
 * CPU loop, a GPU shader (shaders/common.glsl has the same code) and a resumed
 * run all draw identical numbers for the same element without sharing state.
 * The mixer is Chris Wellons' "lowbias32" integer hash.
 * Keys are built from (seed, stream, step), e.g. (run seed, layer id, step). */
#ifndef SINREQ_RNG_H
#define SINREQ_RNG_H

#include <stdint.h>

static inline uint32_t sr_hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static inline uint32_t sr_rng_key(uint32_t seed, uint32_t stream, uint32_t step)
{
    return sr_hash32(sr_hash32(sr_hash32(seed) ^ stream) ^ step);
}

static inline uint32_t sr_rng_u32(uint32_t key, uint32_t counter)
{
    return sr_hash32(key ^ sr_hash32(counter + 0x9e3779b9U));
}

/* Uniform float in [0, 1) with 24 random bits (exact in float32). */
static inline float sr_rng_uniform(uint32_t key, uint32_t counter)
{
    return (float)(sr_rng_u32(key, counter) >> 8) * (1.0f / 16777216.0f);
}

#endif
