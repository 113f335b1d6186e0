#version 450
// Split-K epilogue: dst[i] = sum_z src[z * stride + i], z = 0 .. splits-1
// in order, so the result does not depend on scheduling (no float atomics).
#include "common.glsl"

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer BufS { float src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufD { float dst[]; };

layout(push_constant) uniform Push {
    uint off_s, off_d, count, splits, stride;
} p;

void main()
{
    uint i = sr_global_index();
    if (i >= p.count)
        return;
    float s = 0.0;
    for (uint z = 0; z < p.splits; z++)
        s += src[p.off_s + z * p.stride + i];
    dst[p.off_d + i] = s;
}
