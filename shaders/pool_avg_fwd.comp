// Adaptive average pool forward with PyTorch's bins
// [floor(i h / oh), ceil((i + 1) h / oh)); one invocation per output.
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint total;  // n * c * oh * ow
    uint h, w, oh, ow;
    uint x_off, y_off;
} pc;

void main()
{
    uint o = sr_global_index();
    if (o >= pc.total)
        return;
    uint plane_out = pc.oh * pc.ow;
    uint plane = o / plane_out;
    uint r = o - plane * plane_out;
    uint oy = r / pc.ow, ox = r - (r / pc.ow) * pc.ow;
    uint ya = (oy * pc.h) / pc.oh, yb = ((oy + 1u) * pc.h + pc.oh - 1u) / pc.oh;
    uint xa = (ox * pc.w) / pc.ow, xb = ((ox + 1u) * pc.w + pc.ow - 1u) / pc.ow;
    uint base = pc.x_off + plane * pc.h * pc.w;
    float acc = 0.0;
    for (uint yy = ya; yy < yb; yy++)
        for (uint xx = xa; xx < xb; xx++)
            acc += x[base + yy * pc.w + xx];
    y[pc.y_off + o] = acc / float((yb - ya) * (xb - xa));
}
