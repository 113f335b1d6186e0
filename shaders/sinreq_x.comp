// SinReQ on DoReFa's rounding variable (domain X, include/sinreq/backend.h),
// after dorefa_w_stats has left {M = max|tanh w|, first arg-max a} at
// stat_off of the scratch buffer. t = tanh w, q = t / M, L = 2^b - 1, so
// x = q / 2 + 1/2 and, L being odd, pi L x = pi (L/2) q + pi (L-1)/2 + pi/2:
//   sin^2(pi L x)   =  cos^2(pi r),  sin(2 pi L x) = -sin(2 pi r),
//   r = (L/2) q mod 1, centred, with the product's rounding error put back;
//   what remains is q's own float error times L/2 (a few 1e-5 of a period
//   at 8 bits, tested; ~1e-2 at 16, where float32 x is that coarse too).
// With G = coef pi L / divisor (grad_scale times the coef slot):
//   PASS 0 (sr_vk_red_partials workgroups per piece, grid-stride):
//     dw_j += G sin(2 pi L x_j) (1 - t_j^2) / (2M)
//     partial pairs {sum cos^2(pi r_j), sum sin(2 pi L x_j) t_j}
//   PASS 1 (one workgroup per piece, see vk_quant.c): folds all the
//     pairs in a fixed order, then
//     value = S0 / divisor                              (first piece)
//     dw_a += -sign(t_a) (1 - t_a^2) G S1 / (2 M^2)     (the piece with a)
// A piece is the weights [idx0, idx0 + len) of the layer, bound from w_off
// and dw_off; a is a layer index (dorefa_w_stats adds idx0 too).
// M = 0 (an all-zero layer): every x is 1/2, r = 0, value n / divisor and
// no gradient.
#version 450
#define SR_RED_LOCAL 256
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = SR_RED_LOCAL) in;

#include "common.glsl"
#include "quant_common.glsl"
#include "reduce_common.glsl"

layout(constant_id = 0) const uint PASS = 0u;

layout(std430, set = 0, binding = 0) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 1) buffer DW { float dw[]; };
layout(std430, set = 0, binding = 2) buffer S { uint scratch[]; };
layout(std430, set = 0, binding = 3) writeonly buffer V { float val[]; };

layout(push_constant) uniform Push {
    uint n;           // PASS 0: weights of the piece; PASS 1: pairs
    uint w_off, dw_off, val_off;
    uint stat_off;    // {M, a} from dorefa_w_stats
    uint part_off;    // pairs at part_off + 2 * workgroup
    uint idx0, len;   // the piece within the layer
    float half_l;     // L / 2 (exact in float for L < 2^24)
    float grad_scale; // pi L / divisor
    float div;
    uint coef_slot;
} pc;

void main()
{
    float m = uintBitsToFloat(scratch[pc.stat_off]);
    float g = sr_scalar_f(int(pc.coef_slot)) * pc.grad_scale;
    uint t = gl_LocalInvocationIndex;
    float a0 = 0.0, a1 = 0.0;
    if (PASS == 0u) {
        float inv_m = m > 0.0 ? 1.0 / m : 0.0;
        float gm = g * 0.5 * inv_m;
        uint stride = gl_NumWorkGroups.x * SR_RED_LOCAL;
        for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) {
            float th = sr_tanh(w[pc.w_off + i]);
            float q = m > 0.0 ? th / m : 0.0;
            float r = sr_frac_mul(q, pc.half_l, 0.0);
            float c = cos(SR_PI * r);
            float s2 = -sin(2.0 * SR_PI * r);
            a0 += c * c;
            a1 += s2 * th;
            dw[pc.dw_off + i] += gm * s2 * (1.0 - th * th);
        }
        a0 = sr_wg_sum(a0);
        a1 = sr_wg_sum(a1);
        if (t == 0u) {
            uint o = pc.part_off + 2u * gl_WorkGroupID.x;
            scratch[o] = floatBitsToUint(a0);
            scratch[o + 1u] = floatBitsToUint(a1);
        }
        return;
    }
    for (uint i = t; i < pc.n; i += SR_RED_LOCAL) {
        a0 += uintBitsToFloat(scratch[pc.part_off + 2u * i]);
        a1 += uintBitsToFloat(scratch[pc.part_off + 2u * i + 1u]);
    }
    a0 = sr_wg_sum(a0);
    a1 = sr_wg_sum(a1);
    if (t != 0u)
        return;
    if (pc.idx0 == 0u)
        val[pc.val_off] = a0 / pc.div;
    uint a = scratch[pc.stat_off + 1u];
    if (m > 0.0 && a >= pc.idx0 && a - pc.idx0 < pc.len) {
        a -= pc.idx0;
        float ta = sr_tanh(w[pc.w_off + a]);
        dw[pc.dw_off + a] -= sign(ta) * (1.0 - ta * ta) * g * a1 /
                             (2.0 * m * m);
    }
}
