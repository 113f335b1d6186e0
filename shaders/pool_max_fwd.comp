// Max pool forward: one invocation per output. idx is the flat h*w index of
// the max inside its (n, c) plane, first in row-major order on ties
// (strict >), padding never wins.
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 2) writeonly buffer I { uint idx[]; };

layout(push_constant) uniform Push {
    uint total;  // n * c * oh * ow
    int h, w, oh, ow;
    int k, stride, pad;
    uint x_off, y_off, idx_off;
} pc;

void main()
{
    uint o = sr_global_index();
    if (o >= pc.total)
        return;
    uint plane_out = uint(pc.oh * pc.ow);
    uint plane = o / plane_out;
    int r = int(o - plane * plane_out);
    int oy = r / pc.ow, ox = r - (r / pc.ow) * pc.ow;
    int y0 = oy * pc.stride - pc.pad, x0 = ox * pc.stride - pc.pad;
    int ya = max(y0, 0), yb = min(y0 + pc.k, pc.h);
    int xa = max(x0, 0), xb = min(x0 + pc.k, pc.w);
    uint base = pc.x_off + plane * uint(pc.h * pc.w);
    // pad <= k/2 guarantees at least one real element per window.
    int bi = ya * pc.w + xa;
    float best = x[base + uint(bi)];
    for (int yy = ya; yy < yb; yy++) {
        for (int xx = xa; xx < xb; xx++) {
            int j = yy * pc.w + xx;
            float v = x[base + uint(j)];
            if (v > best) {
                best = v;
                bi = j;
            }
        }
    }
    y[pc.y_off + o] = best;
    idx[pc.idx_off + o] = uint(bi);
}
