// DoReFa layer statistics, by two launches of this shader:
//   PASS 0 (G workgroups, grid-stride over the weights; a layer larger
//           than one storage binding runs it once per piece, the pieces'
//           partials side by side) and
//   PASS 1 (one workgroup over all G partials: the max stays layer-wide),
// each producing triples {M = max |tanh w|, its FIRST arg-max, and (BWD)
// S = sum dwq tanh w}. Max and arg-max are exact; S uses the fixed
// sequential-then-tree order, so the result is deterministic.
#version 450
#define SR_RED_LOCAL 256
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = SR_RED_LOCAL) in;

#include "common.glsl"
#include "quant_common.glsl"

layout(constant_id = 0) const uint PASS = 0u;
layout(constant_id = 1) const uint BWD = 0u;

layout(std430, set = 0, binding = 0) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 1) readonly buffer DWQ { float dwq[]; };
layout(std430, set = 0, binding = 2) buffer S { uint scratch[]; };

layout(push_constant) uniform Push {
    uint n;        // PASS 0: weights; PASS 1: partials
    uint w_off, dwq_off;
    uint in_off;   // PASS 1: where the partial triples are
    uint out_off;  // triples written at out_off + 3 * workgroup
    uint idx0;     // PASS 0: index of w[w_off] in the layer (a layer
                   // larger than one binding is reduced in pieces)
} pc;

shared float sh_m[SR_RED_LOCAL];
shared uint sh_i[SR_RED_LOCAL];
shared float sh_s[SR_RED_LOCAL];

// Larger |t| wins; on a tie the smaller index (first arg-max).
bool better(float m2, uint i2, float m1, uint i1)
{
    return m2 > m1 || (m2 == m1 && i2 < i1);
}

void main()
{
    uint t = gl_LocalInvocationIndex;
    uint stride = gl_NumWorkGroups.x * SR_RED_LOCAL;
    float bm = -1.0;   // below any |t|; NaN never wins
    uint bi = 0xffffffffu;
    float acc = 0.0;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) {
        float m, s = 0.0;
        uint j;
        if (PASS == 0u) {
            float th = sr_tanh(w[pc.w_off + i]);
            m = abs(th);
            j = pc.idx0 + i;
            if (BWD != 0u)
                s = dwq[pc.dwq_off + i] * th;
        } else {
            uint p = pc.in_off + 3u * i;
            m = uintBitsToFloat(scratch[p]);
            j = scratch[p + 1u];
            s = uintBitsToFloat(scratch[p + 2u]);
        }
        if (better(m, j, bm, bi)) {
            bm = m;
            bi = j;
        }
        acc += s;
    }
    sh_m[t] = bm;
    sh_i[t] = bi;
    sh_s[t] = acc;
    memoryBarrierShared();
    barrier();
    for (uint h = SR_RED_LOCAL / 2u; h > 0u; h >>= 1) {
        if (t < h) {
            if (better(sh_m[t + h], sh_i[t + h], sh_m[t], sh_i[t])) {
                sh_m[t] = sh_m[t + h];
                sh_i[t] = sh_i[t + h];
            }
            sh_s[t] += sh_s[t + h];
        }
        memoryBarrierShared();
        barrier();
    }
    if (t == 0u) {
        uint o = pc.out_off + 3u * gl_WorkGroupID.x;
        scratch[o] = floatBitsToUint(sh_m[0]);
        scratch[o + 1u] = sh_i[0];
        scratch[o + 2u] = floatBitsToUint(sh_s[0]);
    }
}
