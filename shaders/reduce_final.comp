// Second pass of the 1-D reductions: one workgroup folds the G partials
// (K floats each, interleaved) in a fixed order -- each invocation sums a
// strided handful sequentially, then the shared-memory tree -- and writes
// the op's result.
//   MODE_SUM:   out0 = S0 / div                       (sinreq, xent, mad)
//   MODE_WAVEQ: beta = out0; value(out2) = S0 / (2^beta div);
//               dbeta(out1) += cw ln2 (S1 - S0 / 2^beta) / div + cb
//   MODE_COUNT: out0 = sum of uint partials            (top1)
#version 450
#define SR_RED_LOCAL 256
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = SR_RED_LOCAL) in;

#include "common.glsl"
#include "reduce_common.glsl"

#define MODE_SUM 0u
#define MODE_WAVEQ 1u
#define MODE_COUNT 2u
layout(constant_id = 0) const uint MODE = 0u;

layout(std430, set = 0, binding = 0) readonly buffer P { uint part[]; };
layout(std430, set = 0, binding = 1) buffer O0 { uint out0[]; };
layout(std430, set = 0, binding = 2) buffer O1 { uint out1[]; };
layout(std430, set = 0, binding = 3) buffer O2 { uint out2[]; };

layout(push_constant) uniform Push {
    uint g;          // number of partials
    uint part_off;
    uint o0, o1, o2;
    float div;
    uint cw_slot, cb_slot;
} pc;

shared uint cnt[SR_RED_LOCAL];

void main()
{
    uint t = gl_LocalInvocationIndex;
    if (MODE == MODE_COUNT) {
        uint c = 0u;
        for (uint i = t; i < pc.g; i += SR_RED_LOCAL)
            c += part[pc.part_off + i];
        cnt[t] = c;
        memoryBarrierShared();
        barrier();
        for (uint s = SR_RED_LOCAL / 2u; s > 0u; s >>= 1) {
            if (t < s)
                cnt[t] += cnt[t + s];
            memoryBarrierShared();
            barrier();
        }
        if (t == 0u)
            out0[pc.o0] = cnt[0];
        return;
    }
    const uint K = MODE == MODE_WAVEQ ? 2u : 1u;
    float a0 = 0.0, a1 = 0.0;
    for (uint i = t; i < pc.g; i += SR_RED_LOCAL) {
        a0 += uintBitsToFloat(part[pc.part_off + i * K]);
        if (K == 2u)
            a1 += uintBitsToFloat(part[pc.part_off + i * K + 1u]);
    }
    float s0 = sr_wg_sum(a0);
    float s1 = K == 2u ? sr_wg_sum(a1) : 0.0;
    if (t != 0u)
        return;
    if (MODE == MODE_SUM) {
        out0[pc.o0] = floatBitsToUint(s0 / pc.div);
    } else {
        float p2 = exp2(uintBitsToFloat(out0[pc.o0]));
        float cw = sr_scalar_f(int(pc.cw_slot));
        float cb = sr_scalar_f(int(pc.cb_slot));
        out2[pc.o2] = floatBitsToUint(s0 / (p2 * pc.div));
        float db = uintBitsToFloat(out1[pc.o1]);
        db += cw * SR_LN2 * (s1 - s0 / p2) / pc.div + cb;
        out1[pc.o1] = floatBitsToUint(db);
    }
}
