// Depthwise convolution, weight and bias gradients: workgroup (t, ch) sums
// tap t of channel ch over every image and output pixel (t == kh*kw: the
// bias, the sum of dy). Each invocation adds a fixed strided subset, then a
// fixed tree combines them (reduce_common.glsl): no atomics, the same bits
// on every run.
#version 450
#define SR_RED_LOCAL 64
layout(local_size_x = SR_RED_LOCAL) in;

#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DW { float dw[]; };
layout(std430, set = 0, binding = 3) writeonly buffer DB { float db[]; };

layout(push_constant) uniform Push {
    uint n, c, h, w, oh, ow, kh, kw, stride, pad;
    int bits;
    uint x_off, dy_off, dw_off, db_off;
} pc;

void main()
{
    uint t = gl_WorkGroupID.x, ch = gl_WorkGroupID.y;
    uint taps = pc.kh * pc.kw;
    uint ohw = pc.oh * pc.ow;
    uint items = pc.n * ohw;
    int r = int(t / pc.kw), s = int(t - (t / pc.kw) * pc.kw);
    float acc = 0.0;
    for (uint k = gl_LocalInvocationIndex; k < items; k += SR_RED_LOCAL) {
        uint img = k / ohw, j = k - img * ohw;
        uint plane = img * pc.c + ch;
        float g = dy[pc.dy_off + plane * ohw + j];
        if (t == taps) {
            acc += g;
            continue;
        }
        int oy = int(j / pc.ow), ox = int(j - (j / pc.ow) * pc.ow);
        int iy = oy * int(pc.stride) - int(pc.pad) + r;
        int ix = ox * int(pc.stride) - int(pc.pad) + s;
        if (iy < 0 || iy >= int(pc.h) || ix < 0 || ix >= int(pc.w))
            continue;
        uint xi = pc.x_off + plane * pc.h * pc.w + uint(iy) * pc.w + uint(ix);
        float v = x[xi];
        if (pc.bits > 0)
            v = sr_quantize01(v, pc.bits);
        acc += g * v;
    }
    float sum = sr_wg_sum(acc);
    if (gl_LocalInvocationIndex == 0u) {
        if (t == taps)
            db[pc.db_off + ch] = sum;
        else
            dw[pc.dw_off + ch * taps + t] = sum;
    }
}
