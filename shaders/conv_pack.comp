#version 450
// Packs a small convolution operand into scratch for conv_fwd_bwd_data.comp and
// conv_bwd_weight.comp, as a row-major matrix of vec4s: dst[row][c4] holds
// columns 4 c4 .. 4 c4 + 3, zero from `cols` on.
//   MODE 0  w  -> [K*C][R*S]   (fwd: taps of w[k][c])
//   MODE 1  dy -> [K][pixel]   (bwd_weight: all pixels of the batch)
//   MODE 2  w  -> [C*K][R*S]   (bwd_data, stride 1: w[k][c], taps reversed)
//   MODE 3  w  -> [C*K][sub]   (bwd_data, stride > 1: the taps of phase
//                               class img0 = py * STRIDE + px, reversed)
// The source is read through an RGBA32F texel view (binding 0; word i is
// component i % 4 of texel i / 4): any word offset works.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const int MODE = 0;
layout(constant_id = 1) const int STRIDE = 1;
layout(constant_id = 2) const int KH = 3;   // the full kernel
layout(constant_id = 3) const int KW = 3;
const int RS = KH * KW;

layout(set = 0, binding = 0) uniform samplerBuffer src;
layout(std430, set = 0, binding = 4) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Push {
    int off_src;        // words
    int off_dst4;       // vec4s
    int rows, cols, ld4;
    int img0;           // MODE 3: the phase class
    int c, h, w, k;
    int kh, kw;         // MODE 3: the class's sub-kernel
    int pad, oh, ow;
    int bits;
} p;

float ld(int i)
{
    return texelFetch(src, i >> 2)[i & 3];
}

void main()
{
    uint g = sr_global_index();
    if (g >= uint(p.rows * p.ld4))
        return;
    int row = int(g) / p.ld4, c0 = (int(g) % p.ld4) * 4;
    vec4 v = vec4(0.0);
    if (MODE == 0) {
        for (int e = 0; e < 4; e++)
            if (c0 + e < p.cols)
                v[e] = ld(p.off_src + row * p.cols + c0 + e);
    } else if (MODE == 1) {
        // Pixels past one image continue in the next: decompose once.
        int ohw = p.oh * p.ow;
        int img = c0 / ohw, pix = c0 % ohw;
        for (int e = 0; e < 4; e++) {
            if (c0 + e < p.cols)
                v[e] = ld(p.off_src + (img * p.k + row) * ohw + pix);
            if (++pix == ohw) {
                pix = 0;
                img++;
            }
        }
    } else if (MODE == 2) {
        // row = c * K + k
        int ci = row / p.k, kk = row % p.k;
        for (int e = 0; e < 4; e++)
            if (c0 + e < p.cols)
                v[e] = ld(p.off_src + (kk * p.c + ci) * RS + RS - 1 - (c0 + e));
    } else {
        // MODE 3: row = c * K + k; tap (u, v) of the sub-kernel is
        // r = r0 + STRIDE * (kh - 1 - u), zero past the kernel.
        int ci = row / p.k, kk = row % p.k;
        int r0 = (p.img0 / STRIDE + p.pad) % STRIDE;
        int s0 = (p.img0 % STRIDE + p.pad) % STRIDE;
        for (int e = 0; e < 4; e++) {
            int col = c0 + e;
            int r = r0 + STRIDE * (p.kh - 1 - col / p.kw);
            int s = s0 + STRIDE * (p.kw - 1 - col % p.kw);
            if (col < p.cols && r < KH && s < KW)
                v[e] = ld(p.off_src + ((kk * p.c + ci) * KH + r) * KW + s);
        }
    }
    dst[p.off_dst4 + int(g)] = v;
}
