// SinReQ pass 1 (grid-stride over the layer): u = (w + s) / D,
//   dw += coef (pi / (D divisor)) sin(2 pi u)     (coef from a scalar slot)
// and per-workgroup partial sums of sin^2(pi u) for reduce_final.
#version 450
#define SR_RED_LOCAL 256
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = SR_RED_LOCAL) in;

#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 1) buffer DW { float dw[]; };
layout(std430, set = 0, binding = 2) writeonly buffer P { float part[]; };

layout(push_constant) uniform Push {
    uint n;
    uint w_off, dw_off, part_off;
    float shift;       // s
    float inv_hi;      // 1 / D = inv_hi + inv_lo (double-float)
    float inv_lo;
    float grad_scale;  // pi / (D divisor)
    uint coef_slot;
} pc;

void main()
{
    float coef = sr_scalar_f(int(pc.coef_slot)) * pc.grad_scale;
    uint stride = gl_NumWorkGroups.x * SR_RED_LOCAL;
    float acc = 0.0;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) {
        float r = sr_frac_shift_mul(w[pc.w_off + i], pc.shift, pc.inv_hi,
                                     pc.inv_lo);
        float sn = sin(SR_PI * r);
        acc += sn * sn;
        dw[pc.dw_off + i] += coef * sin(2.0 * SR_PI * r);
    }
    acc = sr_wg_sum(acc);
    if (gl_LocalInvocationIndex == 0u)
        part[pc.part_off + gl_WorkGroupID.x] = acc;
}
