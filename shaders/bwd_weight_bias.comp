#version 450
// Bias gradient, stage 1: part[z * k + ch] = sum over images of split z and
// all positions of dy[img, ch, pos] (NCHW; linear layers use hw = 1). Each
// invocation sums its slice in a fixed order; bwd_weight_reduce.comp then
// sums the splits, also in order, so db is deterministic without float
// atomics.
#include "common.glsl"

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer BufDy { float dy[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufP { float part[]; };

layout(push_constant) uniform Push {
    uint off_dy, off_part, n, k, hw, imgs_per_split, splits;
} p;

void main()
{
    uint g = sr_global_index();
    if (g >= p.k * p.splits)
        return;
    uint ch = g % p.k, z = g / p.k;
    uint i0 = z * p.imgs_per_split;
    uint i1 = min(i0 + p.imgs_per_split, p.n);
    float s = 0.0;
    for (uint img = i0; img < i1; img++) {
        uint base = p.off_dy + (img * p.k + ch) * p.hw;
        for (uint q = 0; q < p.hw; q++)
            s += dy[base + q];
    }
    part[p.off_part + g] = s;
}
