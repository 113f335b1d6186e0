// Adaptive average pool backward as a gather: one invocation per input
// element sums dy / bin_size over the (possibly overlapping) bins that
// contain it, i in [floor(p oh / h), ceil((p + 1) oh / h)).
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) writeonly buffer DX { float dx[]; };

layout(push_constant) uniform Push {
    uint total;  // n * c * h * w
    uint h, w, oh, ow;
    uint dy_off, dx_off;
} pc;

uint bin_lo(uint i, uint n_in, uint n_out) { return (i * n_in) / n_out; }
uint bin_hi(uint i, uint n_in, uint n_out) { return ((i + 1u) * n_in + n_out - 1u) / n_out; }

void main()
{
    uint i = sr_global_index();
    if (i >= pc.total)
        return;
    uint plane_in = pc.h * pc.w;
    uint plane = i / plane_in;
    uint j = i - plane * plane_in;
    uint yy = j / pc.w, xx = j - (j / pc.w) * pc.w;
    uint oy0 = (yy * pc.oh) / pc.h;
    uint oy1 = min(((yy + 1u) * pc.oh + pc.h - 1u) / pc.h, pc.oh);
    uint ox0 = (xx * pc.ow) / pc.w;
    uint ox1 = min(((xx + 1u) * pc.ow + pc.w - 1u) / pc.w, pc.ow);
    uint base = pc.dy_off + plane * pc.oh * pc.ow;
    float acc = 0.0;
    for (uint oy = oy0; oy < oy1; oy++) {
        uint ya = bin_lo(oy, pc.h, pc.oh), yb = bin_hi(oy, pc.h, pc.oh);
        if (yy < ya || yy >= yb)
            continue;
        for (uint ox = ox0; ox < ox1; ox++) {
            uint xa = bin_lo(ox, pc.w, pc.ow), xb = bin_hi(ox, pc.w, pc.ow);
            if (xx < xa || xx >= xb)
                continue;
            acc += dy[base + oy * pc.ow + ox] / float((yb - ya) * (xb - xa));
        }
    }
    dx[pc.dx_off + i] = acc;
}
