// Mean |a - b| pass 1: per-workgroup partial sums (grid-stride) for
// reduce_final (MODE_SUM, div = n).
#version 450
#define SR_RED_LOCAL 256
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = SR_RED_LOCAL) in;

#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer P { float part[]; };

layout(push_constant) uniform Push {
    uint n;
    uint a_off, b_off, part_off;
} pc;

void main()
{
    uint stride = gl_NumWorkGroups.x * SR_RED_LOCAL;
    float acc = 0.0;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride)
        acc += abs(a[pc.a_off + i] - b[pc.b_off + i]);
    acc = sr_wg_sum(acc);
    if (gl_LocalInvocationIndex == 0u)
        part[pc.part_off + gl_WorkGroupID.x] = acc;
}
