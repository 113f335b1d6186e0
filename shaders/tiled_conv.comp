#version 450
#extension GL_EXT_control_flow_attributes : require
// GPU family: implicit-GEMM 2-D convolution, NCHW activations, KCRS
// weights, tiled through shared memory (tiled_gemm.glsl). The im2col
// matrix is never stored: its elements are read from x (or dy) through
// index math as the tiles are staged, with activation quantization
// (act_bits) applied on that load. The same GEMMs as conv_fallback.comp:
//
//   MODE 0 fwd:        M = K, N = n*OH*OW, reduction over (c, r, s)
//   MODE 1 bwd_data:   M = C, N = n*H*W,   reduction over (k, r, s);
//                      zeroed where x is outside [0,1] (STE) when QUANT
//   MODE 2 bwd_weight: M = K, N = C*R*S,   reduction over (i, oh, ow),
//                      split along it over workgroup z (KCHUNK each) into
//                      partials that bwd_weight_reduce.comp sums in order.
//
// Workgroups: x along N tiles, y along M tiles, z split-K (MODE 2).
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
layout(constant_id = 6) const int MODE = 0;
layout(constant_id = 7) const int STRIDE = 1;
layout(constant_id = 8) const bool QUANT = false; // act_bits > 0
layout(constant_id = 9) const bool BIAS = false;  // fwd only
// A read as vec4s: MODE 0 (w rows, C*R*S % 4 == 0) and MODE 2 (dy rows,
// OH*OW % 4 == 0), with a 4-aligned offset.
layout(constant_id = 10) const bool VEC4 = false;

// a: w (fwd, bwd_data) or dy (bwd_weight); b: x (fwd, bwd_weight) or dy
// (bwd_data); e: bias (fwd) or x for the STE mask (bwd_data).
layout(std430, set = 0, binding = 0) readonly buffer BufA { float a_buf[]; };
layout(std430, set = 0, binding = 0) readonly buffer BufA4 { vec4 a_buf4[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float b_buf[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufE { float e_buf[]; };
layout(std430, set = 0, binding = 3) writeonly buffer BufY { float y_buf[]; };

layout(push_constant) uniform Push {
    uint off_a, off_b, off_e, off_y;
    uint n, c, h, w, k, kh, kw, pad, oh, ow;
    int bits;
    uint kchunk;        // MODE 2: reduction length per split (BK multiple)
    uint split_stride;  // MODE 2: words between partial results
} p;

const bool A_KFAST = true;
const bool A_VEC4 = VEC4;
const bool B_KFAST = MODE == 2;
const bool B_VEC4 = false;

float load_x(uint idx)
{
    float v = b_buf[idx];
    return QUANT ? sr_quantize01(v, p.bits) : v;
}

float load_a(uint m, uint kk)
{
    uint rs = p.kh * p.kw;
    if (MODE == 0)
        return a_buf[p.off_a + m * p.c * rs + kk];
    if (MODE == 1)
        return a_buf[p.off_a + (kk / rs) * p.c * rs + m * rs + kk % rs];
    uint ohw = p.oh * p.ow;
    return a_buf[p.off_a + (kk / ohw) * p.k * ohw + m * ohw + kk % ohw];
}

vec4 load_a4(uint m, uint kk)
{
    uint ohw = p.oh * p.ow;
    uint i = MODE == 0 ? p.off_a + m * p.c * p.kh * p.kw + kk
                       : p.off_a + (kk / ohw) * p.k * ohw + m * ohw + kk % ohw;
    return a_buf4[i / 4];
}

// x at image img, channel ci, row ih, column iw (signed), 0 outside
float x_at(uint img, uint ci, int ih, int iw)
{
    if (uint(ih) >= p.h || uint(iw) >= p.w)
        return 0.0;
    return load_x(p.off_b + ((img * p.c + ci) * p.h + uint(ih)) * p.w +
                  uint(iw));
}

float load_b(uint kk, uint col)
{
    uint rs = p.kh * p.kw, ohw = p.oh * p.ow;
    if (MODE == 0) {
        uint img = col / ohw, q = col % ohw, ci = kk / rs, t = kk % rs;
        return x_at(img, ci,
                    int((q / p.ow) * STRIDE + t / p.kw) - int(p.pad),
                    int((q % p.ow) * STRIDE + t % p.kw) - int(p.pad));
    }
    if (MODE == 1) {
        // dx pixel (y, x) takes dy[o] where o * STRIDE = y + pad - r
        uint hw = p.h * p.w, img = col / hw, q = col % hw;
        uint kc = kk / rs, t = kk % rs;
        int th = int(q / p.w + p.pad) - int(t / p.kw);
        int tw = int(q % p.w + p.pad) - int(t % p.kw);
        if (th < 0 || tw < 0 || th % STRIDE != 0 || tw % STRIDE != 0)
            return 0.0;
        uint o = uint(th / STRIDE), ox = uint(tw / STRIDE);
        if (o >= p.oh || ox >= p.ow)
            return 0.0;
        return b_buf[p.off_b + ((img * p.k + kc) * p.oh + o) * p.ow + ox];
    }
    uint img = kk / ohw, q = kk % ohw, ci = col / rs, t = col % rs;
    return x_at(img, ci, int((q / p.ow) * STRIDE + t / p.kw) - int(p.pad),
                int((q % p.ow) * STRIDE + t % p.kw) - int(p.pad));
}

vec4 load_b4(uint kk, uint col)
{
    return vec4(0.0); // B is never read as vec4s here
}

void store_c(uint m, uint col, float v)
{
    if (MODE == 0) {
        uint ohw = p.oh * p.ow;
        if (BIAS)
            v += e_buf[p.off_e + m];
        y_buf[p.off_y + ((col / ohw) * p.k + m) * ohw + col % ohw] = v;
    } else if (MODE == 1) {
        uint hw = p.h * p.w;
        uint xi = ((col / hw) * p.c + m) * hw + col % hw;
        if (QUANT) {
            float xv = e_buf[p.off_e + xi];
            v = (xv >= 0.0 && xv <= 1.0) ? v : 0.0;
        }
        y_buf[p.off_y + xi] = v;
    } else {
        y_buf[p.off_y + gl_WorkGroupID.z * p.split_stride +
              m * p.c * p.kh * p.kw + col] = v;
    }
}

#include "tiled_gemm.glsl"

void main()
{
    uint rs = p.kh * p.kw;
    uint M = MODE == 1 ? p.c : p.k;
    uint N = MODE == 0 ? p.n * p.oh * p.ow
           : MODE == 1 ? p.n * p.h * p.w : p.c * rs;
    uint K = MODE == 0 ? p.c * rs
           : MODE == 1 ? p.k * rs : p.n * p.oh * p.ow;
    uint kbeg = 0, kend = K;
    if (MODE == 2) {
        kbeg = gl_WorkGroupID.z * p.kchunk;
        kend = min(kbeg + p.kchunk, K);
    }
    gemm_tile(M, N, kbeg, kend, gl_WorkGroupID.y * BM, gl_WorkGroupID.x * BN);
}
