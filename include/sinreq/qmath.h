/* sinreq: scalar quantization math shared by the CPU backend, the host-side
 * quantization code and the tests (shaders/common.glsl has the GLSL twin).
 * One rounding rule everywhere so every backend yields the same levels:
 * half away from zero, computed as sign(v) floor(|v| + 0.5). */
#ifndef SINREQ_QMATH_H
#define SINREQ_QMATH_H

#include <math.h>

static inline float sr_round(float v)
{
    float r = floorf(fabsf(v) + 0.5f);
    return v < 0.0f ? -r : r;
}

/* round((2^k-1) clamp(x,0,1)) / (2^k-1) */
static inline float sr_quantize01(float x, int bits)
{
    float m = (float)((1u << bits) - 1u);
    float c = x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
    return sr_round(c * m) / m;
}

/* WRPN: round((2^(k-1)-1) clamp(w,-1,1)) / (2^(k-1)-1), k >= 2 */
static inline float sr_wrpn_quantize(float w, int bits)
{
    float m = (float)((1u << (bits - 1)) - 1u);
    float c = w < -1.0f ? -1.0f : (w > 1.0f ? 1.0f : w);
    return sr_round(c * m) / m;
}

/* SinReQ period D and shift s (docs/method.md, SinReQ). */
static inline void sr_sinreq_period(int dorefa, int bits, float *period,
                                    float *shift)
{
    if (dorefa) {
        *period = 2.0f / (float)((1u << bits) - 1u);
        *shift = *period / 2.0f;
    } else {
        *period = 1.0f / (float)((1u << (bits - 1)) - 1u);
        *shift = 0.0f;
    }
}

#endif
