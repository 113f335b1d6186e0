// Max pool backward as a gather (no atomics, overlapping windows allowed):
// one invocation per input element sums dy over the windows that contain
// it and whose idx points at it, in (oh, ow) order -- the same order a
// serial scatter over the outputs would add them.
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer I { uint idx[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; };

layout(push_constant) uniform Push {
    uint total;  // n * c * h * w
    int h, w, oh, ow;
    int k, stride, pad;
    uint dy_off, idx_off, dx_off;
} pc;

// Outputs o whose window [o*stride - pad, o*stride - pad + k) holds p.
void out_range(int p, int n_out, out int lo, out int hi)
{
    int a = p + pc.pad - pc.k + 1;
    lo = a <= 0 ? 0 : (a + pc.stride - 1) / pc.stride;
    hi = min((p + pc.pad) / pc.stride, n_out - 1);
}

void main()
{
    uint i = sr_global_index();
    if (i >= pc.total)
        return;
    uint plane_in = uint(pc.h * pc.w);
    uint plane = i / plane_in;
    int j = int(i - plane * plane_in);
    int yy = j / pc.w, xx = j - (j / pc.w) * pc.w;
    int oy0, oy1, ox0, ox1;
    out_range(yy, pc.oh, oy0, oy1);
    out_range(xx, pc.ow, ox0, ox1);
    uint base = plane * uint(pc.oh * pc.ow);
    float acc = 0.0;
    for (int oy = oy0; oy <= oy1; oy++) {
        for (int ox = ox0; ox <= ox1; ox++) {
            uint o = base + uint(oy * pc.ow + ox);
            if (idx[pc.idx_off + o] == uint(j))
                acc += dy[pc.dy_off + o];
        }
    }
    dx[pc.dx_off + i] = acc;
}
