// DoReFa weights, elementwise, given the layer statistics {M, arg-max a, S}
// from dorefa_w_stats. t = tanh w, x = t / (2M) + 1/2.
//   forward:  wq = 2 quantize_k(x) - 1
//   backward (STE on round, so dwq/dx = 2):
//     dw_j = dwq_j (1 - t_j^2) / M
//            - [j == a] sign(t_a) (1 - t_a^2) S / M^2   (through M)
// An all-zero layer (M = 0) maps to x = 1/2 and gets a zero gradient
// instead of 0/0.
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"
#include "quant_common.glsl"

layout(constant_id = 0) const uint BWD = 0u;

layout(std430, set = 0, binding = 0) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 1) readonly buffer DWQ { float dwq[]; };
layout(std430, set = 0, binding = 2) readonly buffer S { uint stats[]; };
layout(std430, set = 0, binding = 3) writeonly buffer O { float o[]; };

layout(push_constant) uniform Push {
    uint n;
    uint w_off, dwq_off, stat_off, o_off;
    uint bits;
    uint idx0;     // index of w[w_off] in the layer (pieces of big layers)
} pc;

void main()
{
    uint i = sr_global_index();
    if (i >= pc.n)
        return;
    float m = uintBitsToFloat(stats[pc.stat_off]);
    float t = sr_tanh(w[pc.w_off + i]);
    if (BWD == 0u) {
        float x = m > 0.0 ? t / (2.0 * m) + 0.5 : 0.5;
        o[pc.o_off + i] = 2.0 * sr_quantize01(x, int(pc.bits)) - 1.0;
        return;
    }
    if (!(m > 0.0)) {
        o[pc.o_off + i] = 0.0;
        return;
    }
    float dt = 1.0 - t * t;
    float g = dwq[pc.dwq_off + i] * dt / m;
    if (pc.idx0 + i == stats[pc.stat_off + 1u]) {
        float s = uintBitsToFloat(stats[pc.stat_off + 2u]);
        g -= sign(t) * dt * s / (m * m);
    }
    o[pc.o_off + i] = g;
}
