// Depthwise convolution forward: one invocation per output element sums its
// channel's kh x kw taps (the input quantized on read when bits > 0), in
// the same tap order as the CPU backend.
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint total;  // n * c * oh * ow
    uint c, h, w, oh, ow, kh, kw, stride, pad;
    int bits;    // 0: float input
    uint has_bias;
    uint x_off, w_off, b_off, y_off;
} pc;

void main()
{
    uint i = sr_global_index();
    if (i >= pc.total)
        return;
    uint ohw = pc.oh * pc.ow;
    uint plane = i / ohw;
    uint j = i - plane * ohw;
    int oy = int(j / pc.ow), ox = int(j - (j / pc.ow) * pc.ow);
    uint ch = plane % pc.c;
    uint xb = pc.x_off + plane * pc.h * pc.w;
    uint wb = pc.w_off + ch * pc.kh * pc.kw;
    float acc = 0.0;
    for (int r = 0; r < int(pc.kh); r++) {
        int iy = oy * int(pc.stride) - int(pc.pad) + r;
        if (iy < 0 || iy >= int(pc.h))
            continue;
        for (int s = 0; s < int(pc.kw); s++) {
            int ix = ox * int(pc.stride) - int(pc.pad) + s;
            if (ix < 0 || ix >= int(pc.w))
                continue;
            float v = x[xb + uint(iy) * pc.w + uint(ix)];
            if (pc.bits > 0)
                v = sr_quantize01(v, pc.bits);
            acc += w[wb + uint(r) * pc.kw + uint(s)] * v;
        }
    }
    y[pc.y_off + i] = acc + (pc.has_bias != 0u ? b[pc.b_off + ch] : 0.0);
}
