// Batch-norm pass 2: one workgroup per channel (looping past the x limit)
// folds the channel's P <= 256 partials with the shared-memory tree.
//   MODE_MEAN: out0 = save_mean = S / L
//   MODE_VAR:  out0 = save_mean (read), out1 = save_invstd = 1/sqrt(S/L+eps),
//              out2 = run_mean, out3 = run_var updated with momentum
//              (unbiased S / (L - 1) for the running variance, as PyTorch)
//   MODE_BWD:  out0 = dgamma = S1, out1 = dbeta = S0
#version 450
#define SR_RED_LOCAL 256
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = SR_RED_LOCAL) in;

#include "common.glsl"
#include "reduce_common.glsl"

#define MODE_MEAN 0u
#define MODE_VAR 1u
#define MODE_BWD 2u
layout(constant_id = 0) const uint MODE = 0u;

layout(std430, set = 0, binding = 0) readonly buffer P { float part[]; };
layout(std430, set = 0, binding = 1) buffer O0 { float out0[]; };
layout(std430, set = 0, binding = 2) buffer O1 { float out1[]; };
layout(std430, set = 0, binding = 3) buffer O2 { float out2[]; };
layout(std430, set = 0, binding = 4) buffer O3 { float out3[]; };

layout(push_constant) uniform Push {
    uint c, p;
    float l;
    uint part_off, o0, o1, o2, o3;
    float eps, momentum;
} pc;

void main()
{
    const uint K = MODE == MODE_BWD ? 2u : 1u;
    uint t = gl_LocalInvocationIndex;
    for (uint c = gl_WorkGroupID.x; c < pc.c; c += gl_NumWorkGroups.x) {
        uint base = pc.part_off + c * pc.p * K;
        float a0 = 0.0, a1 = 0.0;
        for (uint i = t; i < pc.p; i += SR_RED_LOCAL) {
            a0 += part[base + i * K];
            if (K == 2u)
                a1 += part[base + i * K + 1u];
        }
        float s0 = sr_wg_sum(a0);
        float s1 = K == 2u ? sr_wg_sum(a1) : 0.0;
        if (t != 0u) {
            // keep every invocation on the same path to the next barrier
        } else if (MODE == MODE_MEAN) {
            out0[pc.o0 + c] = s0 / pc.l;
        } else if (MODE == MODE_VAR) {
            float mu = out0[pc.o0 + c];
            float m = pc.momentum;
            out1[pc.o1 + c] = 1.0 / sqrt(s0 / pc.l + pc.eps);
            out2[pc.o2 + c] = (1.0 - m) * out2[pc.o2 + c] + m * mu;
            out3[pc.o3 + c] = (1.0 - m) * out3[pc.o3 + c] + m * (s0 / (pc.l - 1.0));
        } else {
            out0[pc.o0 + c] = s1;
            out1[pc.o1 + c] = s0;
        }
    }
}
