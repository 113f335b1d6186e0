// Deterministic workgroup reductions for the 1-D ops (reductions, losses,
// batch-norm statistics). A fixed binary tree in shared memory, never
// subgroup ops or atomics: the summation order then depends only on the
// workgroup size, so every device (and every replay) gives the same bits.
// Include after defining SR_RED_LOCAL (a power of two, = local_size_x).
#ifndef SR_REDUCE_COMMON_GLSL
#define SR_REDUCE_COMMON_GLSL

#ifndef SR_RED_LOCAL
#error "define SR_RED_LOCAL before including reduce_common.glsl"
#endif

shared float sr_red_f[SR_RED_LOCAL];

// Sum of v over the workgroup; every invocation must call it (uniform
// control flow) and every invocation gets the result.
float sr_wg_sum(float v)
{
    uint t = gl_LocalInvocationIndex;
    sr_red_f[t] = v;
    memoryBarrierShared();
    barrier();
    for (uint s = SR_RED_LOCAL / 2u; s > 0u; s >>= 1) {
        if (t < s)
            sr_red_f[t] += sr_red_f[t + s];
        memoryBarrierShared();
        barrier();
    }
    float r = sr_red_f[0];
    // Nobody may overwrite slot 0 before everyone has read it.
    barrier();
    return r;
}

// Max of v over the workgroup (NaN-free inputs assumed).
float sr_wg_max(float v)
{
    uint t = gl_LocalInvocationIndex;
    sr_red_f[t] = v;
    memoryBarrierShared();
    barrier();
    for (uint s = SR_RED_LOCAL / 2u; s > 0u; s >>= 1) {
        if (t < s)
            sr_red_f[t] = max(sr_red_f[t], sr_red_f[t + s]);
        memoryBarrierShared();
        barrier();
    }
    float r = sr_red_f[0];
    barrier();
    return r;
}

// Sin-based regularizers only need u mod 1: reduce exactly (u - nearest
// integer is exact in float for |u| < 2^22) so sin() sees |pi r| <= pi/2
// and keeps full accuracy for large arguments.
float sr_frac_centered(float u)
{
    return u - floor(u + 0.5);
}

// Error-free product a b = p + e (Dekker/Veltkamp splitting; fma() is not
// relied on, lavapipe may lower it to an unfused multiply-add). `precise`
// keeps the compiler from contracting or reassociating the error terms.
void sr_two_prod(float a, float b, out float p, out float e)
{
    precise float ca = 4097.0 * a;
    precise float ahi = ca - (ca - a);
    precise float alo = a - ahi;
    precise float cb = 4097.0 * b;
    precise float bhi = cb - (cb - b);
    precise float blo = b - bhi;
    precise float pp = a * b;
    precise float ee = ((ahi * bhi - pp) + ahi * blo + alo * bhi) + alo * blo;
    p = pp;
    e = ee;
}

// r = a b + extra mod 1 (centered) with the product's rounding error put
// back: at 8+ bits |a b| reaches 100s to 10^4, and a plain float product
// would lose ~|a b| 2^-24 of the phase.
float sr_frac_mul(float a, float b, float extra)
{
    float p, e;
    sr_two_prod(a, b, p, e);
    precise float r = sr_frac_centered(p) + (e + extra);
    return r;
}

// r = (w + s) (inv_hi + inv_lo) mod 1, compensated: TwoSum for w + s and
// the residual of the product, so the phase error stays ~1e-7 at any
// bitwidth.
float sr_frac_shift_mul(float w, float s, float inv_hi, float inv_lo)
{
    precise float x = w + s;
    precise float bv = x - w;
    precise float err = (w - (x - bv)) + (s - bv);
    precise float extra = x * inv_lo + err * inv_hi;
    return sr_frac_mul(x, inv_hi, extra);
}

const float SR_PI = 3.14159265358979323846;
const float SR_LN2 = 0.69314718055994530942;

#endif
