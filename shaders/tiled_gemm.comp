#version 450
#extension GL_EXT_control_flow_attributes : require
// GPU family: the linear layers' SGEMM, tiled through shared memory
// (tiled_gemm.glsl). Same contract as linear_gemm.comp:
//   C = alpha op(A) op(B) + beta C (+ bias) (STE mask)
// op(A) is M x K: A[m][k] at m*lda + k, or A[k][m] at k*lda + m (TRANS_A);
// op(B) is K x N: B[k][n] at k*ldb + n, or B[n][k] at n*ldb + k (TRANS_B).
// QUANT 1/2 quantizes A/B to k-bit [0,1] as the tiles are staged. BIAS 1
// adds bias[n], 2 adds bias[m]. MASK zeroes C where the same-shaped x (ldc)
// is outside [0,1]. beta == 0 never reads C.
// Workgroups: x along N tiles, y along M tiles.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
layout(constant_id = 6) const bool TRANS_A = false;
layout(constant_id = 7) const bool TRANS_B = false;
layout(constant_id = 8) const int QUANT = 0;
layout(constant_id = 9) const int BIAS = 0;
layout(constant_id = 10) const bool MASK = false;
// bit 0: A read as vec4s (k-contiguous A, lda, off_a and K 4-aligned);
// bit 1: the same for B
layout(constant_id = 11) const uint VEC4 = 0;

layout(std430, set = 0, binding = 0) readonly buffer BufA { float a_buf[]; };
layout(std430, set = 0, binding = 0) readonly buffer BufA4 { vec4 a_buf4[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float b_buf[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB4 { vec4 b_buf4[]; };
layout(std430, set = 0, binding = 2) buffer BufC { float c_buf[]; };
layout(std430, set = 0, binding = 3) readonly buffer BufBias { float bias_buf[]; };
layout(std430, set = 0, binding = 4) readonly buffer BufX { float x_buf[]; };

layout(push_constant) uniform Push {
    uint off_a, off_b, off_c, off_bias, off_x;
    uint m, n, k, lda, ldb, ldc;
    int bits;
    float alpha, beta;
} p;

const bool A_KFAST = !TRANS_A;
const bool B_KFAST = TRANS_B;
const bool A_VEC4 = (VEC4 & 1u) != 0u;
const bool B_VEC4 = (VEC4 & 2u) != 0u;

float load_a(uint m, uint k)
{
    float v = a_buf[p.off_a + (TRANS_A ? k * p.lda + m : m * p.lda + k)];
    return QUANT == 1 ? sr_quantize01(v, p.bits) : v;
}

vec4 load_a4(uint m, uint k)
{
    vec4 v = a_buf4[(p.off_a + m * p.lda + k) / 4];
    if (QUANT == 1)
        v = vec4(sr_quantize01(v.x, p.bits), sr_quantize01(v.y, p.bits),
                 sr_quantize01(v.z, p.bits), sr_quantize01(v.w, p.bits));
    return v;
}

float load_b(uint k, uint n)
{
    float v = b_buf[p.off_b + (TRANS_B ? n * p.ldb + k : k * p.ldb + n)];
    return QUANT == 2 ? sr_quantize01(v, p.bits) : v;
}

vec4 load_b4(uint k, uint n)
{
    vec4 v = b_buf4[(p.off_b + n * p.ldb + k) / 4];
    if (QUANT == 2)
        v = vec4(sr_quantize01(v.x, p.bits), sr_quantize01(v.y, p.bits),
                 sr_quantize01(v.z, p.bits), sr_quantize01(v.w, p.bits));
    return v;
}

void store_c(uint m, uint n, float acc)
{
    uint idx = m * p.ldc + n;
    float v = p.alpha * acc;
    if (p.beta != 0.0)
        v += p.beta * c_buf[p.off_c + idx];
    if (BIAS == 1)
        v += bias_buf[p.off_bias + n];
    else if (BIAS == 2)
        v += bias_buf[p.off_bias + m];
    if (MASK) {
        float xv = x_buf[p.off_x + idx];
        v = (xv >= 0.0 && xv <= 1.0) ? v : 0.0;
    }
    c_buf[p.off_c + idx] = v;
}

#include "tiled_gemm.glsl"

void main()
{
    gemm_tile(p.m, p.n, 0u, p.k, gl_WorkGroupID.y * BM, gl_WorkGroupID.x * BN);
}
