// Batch-norm per-channel partial sums over (n, hw), pass 1 of 2:
// workgroup (p, c) covers j = p*256 + t + m*P*256 of the channel's
// L = n*hw values (j -> x[((j / hw) * C + c) * hw + j % hw]); channels
// beyond the y limit are handled by looping.
//   MODE_SUM: sum x
//   MODE_SQ:  sum (x - mean)^2       (two-pass variance: no cancellation)
//   MODE_BWD: sum dy, sum dy (x - mean) invstd
// part[(c * P_ALL + P_BASE + p) * K + k], K = 2 for MODE_BWD else 1: a
// batch larger than one storage binding runs in pieces of whole images,
// each with its own P workgroups at its own P_BASE; bn_stats_final folds all
// P_ALL partials of a channel.
#version 450
#define SR_RED_LOCAL 256
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = SR_RED_LOCAL) in;

#include "common.glsl"
#include "reduce_common.glsl"

#define MODE_SUM 0u
#define MODE_SQ 1u
#define MODE_BWD 2u
layout(constant_id = 0) const uint MODE = 0u;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 2) readonly buffer Mean { float mean[]; };
layout(std430, set = 0, binding = 3) readonly buffer Inv { float invstd[]; };
layout(std430, set = 0, binding = 4) writeonly buffer P { float part[]; };

layout(push_constant) uniform Push {
    uint c, hw, l, p;
    uint step_n, step_k;  // (P * 256) / hw and (P * 256) % hw
    uint x_off, dy_off, mean_off, inv_off, part_off;
    uint p_all;           // partials per channel, all pieces
    uint p_base;          // this piece's first
} pc;

void main()
{
    const uint K = MODE == MODE_BWD ? 2u : 1u;
    uint stride = pc.p * SR_RED_LOCAL;
    uint j0 = gl_WorkGroupID.x * SR_RED_LOCAL + gl_LocalInvocationIndex;
    for (uint c = gl_WorkGroupID.y; c < pc.c; c += gl_NumWorkGroups.y) {
        float mu = MODE == MODE_SUM ? 0.0 : mean[pc.mean_off + c];
        float is = MODE == MODE_BWD ? invstd[pc.inv_off + c] : 0.0;
        float a0 = 0.0, a1 = 0.0;
        // j = ni * hw + k stepped without a division per element (lavapipe
        // scalarises vector integer division).
        uint ni = j0 / pc.hw, k = j0 - (j0 / pc.hw) * pc.hw;
        for (uint j = j0; j < pc.l; j += stride) {
            uint e = (ni * pc.c + c) * pc.hw + k;
            float v = x[pc.x_off + e];
            if (MODE == MODE_SUM) {
                a0 += v;
            } else if (MODE == MODE_SQ) {
                float d = v - mu;
                a0 += d * d;
            } else {
                float g = dy[pc.dy_off + e];
                a0 += g;
                a1 += g * ((v - mu) * is);
            }
            ni += pc.step_n;
            k += pc.step_k;
            if (k >= pc.hw) {
                k -= pc.hw;
                ni++;
            }
        }
        a0 = sr_wg_sum(a0);
        if (K == 2u)
            a1 = sr_wg_sum(a1);
        if (gl_LocalInvocationIndex == 0u) {
            uint o = pc.part_off +
                     (c * pc.p_all + pc.p_base + gl_WorkGroupID.x) * K;
            part[o] = a0;
            if (K == 2u)
                part[o + 1u] = a1;
        }
    }
}
