#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_ballot : require
// General SGEMM, row-major with leading dimensions:
//   C = alpha op(A) op(B) + beta C (+ bias) (STE mask)
// op(A) is M x K: A[m][k] at m*lda + k, or A[k][m] at k*lda + m (TRANS_A);
// op(B) is K x N: B[k][n] at k*ldb + n, or B[n][k] at n*ldb + k (TRANS_B).
// QUANT 1/2 applies the k-bit [0,1] activation quantizer to A/B as it is
// loaded (linear layers' act_bits: no separate pass over x). BIAS 1 adds
// bias[n], 2 adds bias[m]. MASK zeroes C where the same-shaped x (ldc) is
// outside [0,1] (the STE of activation quantization). beta == 0 never
// reads C, so C may hold garbage.
//
// Each invocation accumulates a TM x TN register block (rows contiguous and
// shared by the GX lanes of a row, columns strided by GX); edges are clamped
// on load and skipped on store. Where subgroups are 8 wide (lavapipe, whose
// storage-buffer loads are a per-lane scalar loop), each lane loads a
// different A row and subgroupBroadcast shares it: 8x fewer A loads.
// Fixed summation order: deterministic.
#include "common.glsl"

#define TM 16
#define TN 8
#define TMB (TM / 8)

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint GX = 8;
layout(constant_id = 2) const bool TRANS_A = false;
layout(constant_id = 3) const bool TRANS_B = false;
layout(constant_id = 4) const int QUANT = 0;
layout(constant_id = 5) const int BIAS = 0;
layout(constant_id = 6) const bool MASK = false;

layout(std430, set = 0, binding = 0) readonly buffer BufA { float a_buf[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float b_buf[]; };
layout(std430, set = 0, binding = 2) buffer BufC { float c_buf[]; };
layout(std430, set = 0, binding = 3) readonly buffer BufBias { float bias_buf[]; };
layout(std430, set = 0, binding = 4) readonly buffer BufX { float x_buf[]; };

layout(push_constant) uniform Push {
    uint off_a, off_b, off_c, off_bias, off_x;
    uint m, n, k, lda, ldb, ldc;
    int bits;
    uint tiles_n;   // column tiles; x and z are folded
    float alpha, beta;
} p;

void main()
{
    const uint GY = gl_WorkGroupSize.x / GX;
    uint lid = gl_LocalInvocationID.x;
    uint lx = lid % GX, ly = lid / GX;
    uint tile = gl_WorkGroupID.x + gl_WorkGroupID.z * gl_NumWorkGroups.x;
    if (tile >= p.tiles_n)
        return;
    uint m0 = gl_WorkGroupID.y * GY * TM + ly * TM;
    uint n0 = tile * GX * TN + lx;

    // Per-row / per-column start and step along k.
    uint ai[TM], ail[TMB], bi[TN];
    uint astep = TRANS_A ? p.lda : 1u, bstep = TRANS_B ? 1u : p.ldb;
    [[unroll]] for (uint i = 0; i < TM; i++) {
        uint m = min(m0 + i, p.m - 1u);
        ai[i] = p.off_a + (TRANS_A ? m : m * p.lda);
    }
    // GX is a multiple of 8, so a subgroup of 8 shares its rows.
    bool bc = gl_SubgroupSize == 8u;
    [[unroll]] for (uint t = 0; t < TMB; t++) {
        uint m = min(m0 + 8u * t + gl_SubgroupInvocationID, p.m - 1u);
        ail[t] = p.off_a + (TRANS_A ? m : m * p.lda);
    }
    [[unroll]] for (uint j = 0; j < TN; j++) {
        uint c = min(n0 + GX * j, p.n - 1u);
        bi[j] = p.off_b + (TRANS_B ? c * p.ldb : c);
    }

    float acc[TM][TN];
    [[unroll]] for (uint i = 0; i < TM; i++)
        [[unroll]] for (uint j = 0; j < TN; j++)
            acc[i][j] = 0.0;

    for (uint kk = 0; kk < p.k; kk++) {
        float av[TM], bv[TN];
        if (bc) {
            [[unroll]] for (uint t = 0; t < TMB; t++) {
                float v = a_buf[ail[t] + kk * astep];
                if (QUANT == 1)
                    v = sr_quantize01(v, p.bits);
                [[unroll]] for (uint q = 0; q < 8; q++)
                    av[t * 8 + q] = subgroupBroadcast(v, q);
            }
        } else {
            [[unroll]] for (uint i = 0; i < TM; i++) {
                av[i] = a_buf[ai[i] + kk * astep];
                if (QUANT == 1)
                    av[i] = sr_quantize01(av[i], p.bits);
            }
        }
        [[unroll]] for (uint j = 0; j < TN; j++) {
            bv[j] = b_buf[bi[j] + kk * bstep];
            if (QUANT == 2)
                bv[j] = sr_quantize01(bv[j], p.bits);
        }
        [[unroll]] for (uint i = 0; i < TM; i++)
            [[unroll]] for (uint j = 0; j < TN; j++)
                acc[i][j] = fma(av[i], bv[j], acc[i][j]);
    }

    [[unroll]] for (uint i = 0; i < TM; i++) {
        [[unroll]] for (uint j = 0; j < TN; j++) {
            uint m = m0 + i, c = n0 + GX * j;
            if (m < p.m && c < p.n) {
                uint idx = m * p.ldc + c;
                float v = p.alpha * acc[i][j];
                if (p.beta != 0.0)
                    v += p.beta * c_buf[p.off_c + idx];
                if (BIAS == 1)
                    v += bias_buf[p.off_bias + c];
                else if (BIAS == 2)
                    v += bias_buf[p.off_bias + m];
                if (MASK) {
                    float xv = x_buf[p.off_x + idx];
                    v = (xv >= 0.0 && xv <= 1.0) ? v : 0.0;
                }
                c_buf[p.off_c + idx] = v;
            }
        }
    }
}
