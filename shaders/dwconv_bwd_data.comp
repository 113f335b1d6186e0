// Depthwise convolution, gradient of the input as a gather: one invocation
// per input element sums the outputs whose window covers it; with bits > 0
// the STE of the fused activation quantizer zeroes dx outside [0, 1].
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 3) writeonly buffer DX { float dx[]; };

layout(push_constant) uniform Push {
    uint total;  // n * c * h * w
    uint c, h, w, oh, ow, kh, kw, stride, pad;
    int bits;    // 0: no STE mask (x unused)
    uint dy_off, w_off, x_off, dx_off;
} pc;

void main()
{
    uint i = sr_global_index();
    if (i >= pc.total)
        return;
    uint hw = pc.h * pc.w;
    uint plane = i / hw;
    uint j = i - plane * hw;
    int iy = int(j / pc.w), ix = int(j - (j / pc.w) * pc.w);
    uint ch = plane % pc.c;
    uint yb = pc.dy_off + plane * pc.oh * pc.ow;
    uint wb = pc.w_off + ch * pc.kh * pc.kw;
    int st = int(pc.stride);
    float acc = 0.0;
    for (int r = 0; r < int(pc.kh); r++) {
        int ty = iy + int(pc.pad) - r;
        if (ty < 0 || ty % st != 0 || ty / st >= int(pc.oh))
            continue;
        for (int s = 0; s < int(pc.kw); s++) {
            int tx = ix + int(pc.pad) - s;
            if (tx < 0 || tx % st != 0 || tx / st >= int(pc.ow))
                continue;
            acc += w[wb + uint(r) * pc.kw + uint(s)] *
                   dy[yb + uint(ty / st) * pc.ow + uint(tx / st)];
        }
    }
    if (pc.bits > 0) {
        float v = x[pc.x_off + i];
        if (!(v >= 0.0 && v <= 1.0))
            acc = 0.0;
    }
    dx[pc.dx_off + i] = acc;
}
