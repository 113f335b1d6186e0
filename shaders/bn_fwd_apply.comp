// Batch-norm normalisation, y = gamma invstd (x - mean) + beta (then
// max(y, 0) with RELU = 1: the ReLU that follows, fused), with
//   MODE_TRAIN: s0 = save_mean, s1 = save_invstd (batch statistics)
//   MODE_EVAL:  s0 = run_mean,  s1 = run_var, invstd = 1 / sqrt(var + eps)
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"

#define MODE_TRAIN 0u
#define MODE_EVAL 1u
layout(constant_id = 0) const uint MODE = 0u;
layout(constant_id = 1) const uint RELU = 0u;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer G { float gamma[]; };
layout(std430, set = 0, binding = 2) readonly buffer B { float beta[]; };
layout(std430, set = 0, binding = 3) readonly buffer S0 { float s0[]; };
layout(std430, set = 0, binding = 4) readonly buffer S1 { float s1[]; };
layout(std430, set = 0, binding = 5) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint planes, c, hw;  // planes = n * c
    uint x_off, g_off, b_off, s0_off, s1_off, y_off;
    float eps;
} pc;

// Workgroups (x: hw, y: planes), both grid-stride; the channel is uniform
// per workgroup row, so there is no integer division per element.
void main()
{
    for (uint pl = gl_WorkGroupID.y; pl < pc.planes; pl += gl_NumWorkGroups.y) {
        uint c = pl % pc.c;
        float mu = s0[pc.s0_off + c];
        float is = MODE == MODE_TRAIN ? s1[pc.s1_off + c]
                                      : 1.0 / sqrt(s1[pc.s1_off + c] + pc.eps);
        float a = gamma[pc.g_off + c] * is;
        float b = beta[pc.b_off + c];
        for (uint k = gl_GlobalInvocationID.x; k < pc.hw;
             k += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
            uint i = pl * pc.hw + k;
            float v = a * (x[pc.x_off + i] - mu) + b;
            y[pc.y_off + i] = RELU != 0u ? max(v, 0.0) : v;
        }
    }
}
