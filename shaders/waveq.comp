// WaveQ pass 1 (grid-stride), beta read from the device, m = 2^beta - 1,
// u = w m:  dw += coef_w (pi m / (2^beta divisor)) sin(2 pi u)
// and per-workgroup partials of S0 = sum sin^2(pi u) and
// S1 = sum pi w sin(2 pi u), interleaved, for reduce_final (MODE_WAVEQ).
#version 450
#define SR_RED_LOCAL 256
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = SR_RED_LOCAL) in;

#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float beta[]; };
layout(std430, set = 0, binding = 2) buffer DW { float dw[]; };
layout(std430, set = 0, binding = 3) writeonly buffer P { float part[]; };

layout(push_constant) uniform Push {
    uint n;
    uint w_off, beta_off, dw_off, part_off;
    float div;
    uint cw_slot;
} pc;

void main()
{
    float p2 = exp2(beta[pc.beta_off]);
    float m = p2 - 1.0;
    float coef = sr_scalar_f(int(pc.cw_slot)) * (SR_PI * m / (p2 * pc.div));
    uint stride = gl_NumWorkGroups.x * SR_RED_LOCAL;
    float a0 = 0.0, a1 = 0.0;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) {
        float wi = w[pc.w_off + i];
        float r = sr_frac_mul(wi, m, 0.0);
        float sn = sin(SR_PI * r);
        float s2 = sin(2.0 * SR_PI * r);
        a0 += sn * sn;
        a1 += SR_PI * wi * s2;
        dw[pc.dw_off + i] += coef * s2;
    }
    a0 = sr_wg_sum(a0);
    a1 = sr_wg_sum(a1);
    if (gl_LocalInvocationIndex == 0u) {
        part[pc.part_off + 2u * gl_WorkGroupID.x] = a0;
        part[pc.part_off + 2u * gl_WorkGroupID.x + 1u] = a1;
    }
}
