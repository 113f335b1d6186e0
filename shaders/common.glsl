// Shared by every shader: scalar slots, the counter-based RNG (identical to
// include/sinreq/rng.h), quantization helpers and 1-D index folding.
#ifndef SR_COMMON_GLSL
#define SR_COMMON_GLSL

// Per-step values (learning rate, lambda, dropout step), set by the host
// with sr_backend_set_scalar_* before each submission. Float slots hold
// float bits: read them with uintBitsToFloat(scalars[i]).
layout(std430, set = 1, binding = 0) readonly buffer SrScalars { uint scalars[]; };

float sr_scalar_f(int slot) { return uintBitsToFloat(scalars[slot]); }

uint sr_hash32(uint x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}
uint sr_rng_key(uint seed, uint stream, uint step)
{
    return sr_hash32(sr_hash32(sr_hash32(seed) ^ stream) ^ step);
}
uint sr_rng_u32(uint key, uint counter)
{
    return sr_hash32(key ^ sr_hash32(counter + 0x9e3779b9u));
}
float sr_rng_uniform(uint key, uint counter)
{
    return float(sr_rng_u32(key, counter) >> 8) * (1.0 / 16777216.0);
}

// Rounding used by every quantizer on every backend (include/sinreq/qmath.h
// has the C twin): half away from zero, computed as sign(v) floor(|v| + 0.5).
float sr_round(float v) { return sign(v) * floor(abs(v) + 0.5); }

// k-bit quantization of [0,1]: round((2^k-1) clamp(x,0,1)) / (2^k-1).
float sr_quantize01(float x, int bits)
{
    float m = float((1u << bits) - 1u);
    return sr_round(clamp(x, 0.0, 1.0) * m) / m;
}

// Global 1-D index for launches folded into x and y (sr_vk_groups_1d).
// A macro, not a function: glslang resolves gl_WorkGroupSize where a function
// is compiled, and this file is included before the shader's local_size
// layout line, which would silently make the size 1.
#define sr_global_index() \
    (gl_GlobalInvocationID.x + \
     gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x)

#endif
