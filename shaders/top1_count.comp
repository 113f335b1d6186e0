// Top-1 count, pass 1: one invocation per row (grid-stride), arg-max first
// on ties; per-workgroup counts go to partials, reduce_final sums them.
#version 450
#define SR_RED_LOCAL 256
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = SR_RED_LOCAL) in;

#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer L { float logits[]; };
layout(std430, set = 0, binding = 1) readonly buffer Lab { uint labels[]; };
layout(std430, set = 0, binding = 2) writeonly buffer P { uint part[]; };

layout(push_constant) uniform Push {
    uint n, classes;
    uint logits_off, labels_off, part_off;
} pc;

shared uint cnt[SR_RED_LOCAL];

void main()
{
    uint t = gl_LocalInvocationIndex;
    uint stride = gl_NumWorkGroups.x * SR_RED_LOCAL;
    uint c = 0u;
    for (uint row = gl_GlobalInvocationID.x; row < pc.n; row += stride) {
        uint base = pc.logits_off + row * pc.classes;
        uint bi = 0u;
        float best = logits[base];
        for (uint j = 1u; j < pc.classes; j++) {
            float v = logits[base + j];
            if (v > best) {
                best = v;
                bi = j;
            }
        }
        c += bi == labels[pc.labels_off + row] ? 1u : 0u;
    }
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
        part[pc.part_off + gl_WorkGroupID.x] = cnt[0];
}
