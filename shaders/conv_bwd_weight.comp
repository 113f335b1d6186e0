#version 450
#extension GL_EXT_control_flow_attributes : require
// Convolution weight gradient as an implicit GEMM reading texel views
// (lavapipe gathers texel fetches with vector loads; its storage-buffer
// loads are a per-lane scalar loop):
//   dw[z][k][c][r][s] = sum over pixels p of split z of
//                       dy[k][p] * xq[img(p)][c][oy(p)*S-pad+r][ox(p)*S-pad+s]
// dy: packed by conv_pack.comp (MODE 1) as [K][P4] vec4s over the whole
// batch (binding 0, RGBA32F view), P = n*OH*OW pixels, zero padded.
// x: binding 1, an R32F view (RGBA32F with XV4, see ROW). Each invocation
// accumulates TM output channels times CPL input channels' KH*KW taps;
// pixels step four at a time. A workgroup is CLANES lanes along input channels times the rest
// along output channels (few input channels still fill the SIMD lanes). Split z (workgroup z)
// reduces pixels [z*split4*4, ..) into partials z*split_stride apart that
// bwd_weight_reduce.comp sums in order: deterministic.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TM = 16;
layout(constant_id = 2) const int CPL = 1;
layout(constant_id = 3) const int KH = 3;
layout(constant_id = 4) const int KW = 3;
layout(constant_id = 5) const int STRIDE = 1;
layout(constant_id = 6) const bool QUANT = false;
layout(constant_id = 7) const uint CLANES = 64; // lanes along channels; the
                                                // rest of the group along k
// ROW: the four pixels of a vec4 always lie in one output row (the host
// checks ow % 4 == 0, so every pixel of the vec4 exists); then one strip of SW values per kernel row and
// channel serves all four: about 2x fewer fetches of x for 3x3.
// ROW > 1 (XV4): each strip is read as whole aligned vec4s through an
// RGBA32F view of x (binding 1) instead of SW single-word fetches (a
// vpgatherdd each on lavapipe); x's rows start at multiples of 4 words and
// every strip at phase ROW - 2 inside its first vec4.
layout(constant_id = 8) const int ROW = 0;
// DIRECT: binding 0 is dy itself ([N][K][OH*OW], OH*OW % 4 == 0, offset
// off_dy4 vec4s), not the packed copy: the four pixels of a vec4 always lie
// in one image, so dy needs no packing (the pack cost as much as the GEMM
// for few input channels).
layout(constant_id = 9) const bool DIRECT = false;
const int RS = KH * KW;
const int TN = CPL * RS;
const int SW = 3 * STRIDE + KW;
const int XPH = ROW > 1 ? ROW - 2 : 0;
const int NV4 = (XPH + SW + 3) / 4;

layout(set = 0, binding = 0) uniform samplerBuffer dyp;
layout(set = 0, binding = 1) uniform samplerBuffer xt;
layout(std430, set = 0, binding = 4) writeonly buffer BufY { float y[]; };

layout(push_constant) uniform Push {
    int off_x, off_y, ld4;
    int k, c, h, w, oh, ow, pad;
    int npix, split4, split_stride;
    int x_last, bits;
    int off_dy4;     // DIRECT: dy's offset in vec4s
} p;

void main()
{
    uint lid = gl_LocalInvocationID.x, klanes = gl_WorkGroupSize.x / CLANES;
    int m0 = int(gl_WorkGroupID.y * klanes + lid / CLANES) * TM;
    int c0 = int(gl_WorkGroupID.x * CLANES + lid % CLANES) * CPL;
    int hw = p.h * p.w, ohw = p.oh * p.ow, chw = p.c * hw;
    int xc[CPL];
    [[unroll]] for (int u = 0; u < CPL; u++)
        xc[u] = min(c0 + u, p.c - 1) * hw;
    int ar[TM];
    [[unroll]] for (int i = 0; i < TM; i++)
        ar[i] = min(m0 + i, p.k - 1) * (DIRECT ? ohw / 4 : p.ld4);

    float acc[TM][TN];
    [[unroll]] for (int i = 0; i < TM; i++)
        [[unroll]] for (int j = 0; j < TN; j++)
            acc[i][j] = 0.0;

    int t0 = int(gl_WorkGroupID.z) * p.split4;
    int t1 = min(t0 + p.split4, p.ld4);
    int p0 = 4 * t0;
    int img = p0 / ohw, pix = p0 % ohw;
    int oy = pix / p.ow, ox = pix % p.ow;
    for (int t = t0; t < t1; t++) {
        vec4 av[TM];
        int ab = DIRECT ? p.off_dy4 + img * p.k * (ohw / 4) + (oy * p.ow + ox) / 4
                        : t;
        [[unroll]] for (int i = 0; i < TM; i++)
            av[i] = texelFetch(dyp, ar[i] + ab);
        if (ROW > 0) {
            int iy = oy * STRIDE - p.pad, ix = ox * STRIDE - p.pad;
            int xb = p.off_x + img * chw + iy * p.w + ix;
            float xs[CPL][KH][SW];
            [[unroll]] for (int r = 0; r < KH; r++) {
                bool rok = uint(iy + r) < uint(p.h);
                if (ROW > 1) {
                    // xb - ix + xc[u] + r * p.w is a row start: a multiple of 4
                    [[unroll]] for (int u = 0; u < CPL; u++) {
                        int v0 = ((xb - ix + xc[u] + r * p.w) >> 2) + (ix >> 2);
                        vec4 xv[NV4];
                        [[unroll]] for (int k = 0; k < NV4; k++)
                            xv[k] = texelFetch(xt, clamp(v0 + k, 0, p.x_last >> 2));
                        [[unroll]] for (int q = 0; q < SW; q++) {
                            bool ok = rok && uint(ix + q) < uint(p.w);
                            float v = xv[(q + XPH) / 4][(q + XPH) % 4];
                            if (QUANT)
                                v = sr_quantize01(v, p.bits);
                            xs[u][r][q] = ok ? v : 0.0;
                        }
                    }
                } else {
                    [[unroll]] for (int q = 0; q < SW; q++) {
                        bool ok = rok && uint(ix + q) < uint(p.w);
                        [[unroll]] for (int u = 0; u < CPL; u++) {
                            int idx = clamp(xb + xc[u] + r * p.w + q, 0, p.x_last);
                            float v = texelFetch(xt, idx).x;
                            if (QUANT)
                                v = sr_quantize01(v, p.bits);
                            xs[u][r][q] = ok ? v : 0.0;
                        }
                    }
                }
            }
            [[unroll]] for (int e = 0; e < 4; e++)
                [[unroll]] for (int u = 0; u < CPL; u++)
                    [[unroll]] for (int r = 0; r < KH; r++)
                        [[unroll]] for (int s = 0; s < KW; s++)
                            [[unroll]] for (int i = 0; i < TM; i++) {
                                int j = u * RS + r * KW + s;
                                acc[i][j] = fma(av[i][e], xs[u][r][e * STRIDE + s],
                                                acc[i][j]);
                            }
            ox += 4;
            if (ox == p.ow) {
                ox = 0;
                if (++oy == p.oh) {
                    oy = 0;
                    img++;
                }
            }
            continue;
        }
        [[unroll]] for (int e = 0; e < 4; e++) {
            int iy = oy * STRIDE - p.pad, ix = ox * STRIDE - p.pad;
            int xb = p.off_x + img * chw + iy * p.w + ix;
            bool live = 4 * t + e < p.npix;
            float bv[TN];
            [[unroll]] for (int r = 0; r < KH; r++) {
                bool rok = live && uint(iy + r) < uint(p.h);
                [[unroll]] for (int s = 0; s < KW; s++) {
                    bool ok = rok && uint(ix + s) < uint(p.w);
                    [[unroll]] for (int u = 0; u < CPL; u++) {
                        int idx = clamp(xb + xc[u] + r * p.w + s, 0, p.x_last);
                        float v = texelFetch(xt, idx).x;
                        if (QUANT)
                            v = sr_quantize01(v, p.bits);
                        bv[u * RS + r * KW + s] = ok ? v : 0.0;
                    }
                }
            }
            [[unroll]] for (int i = 0; i < TM; i++)
                [[unroll]] for (int j = 0; j < TN; j++)
                    acc[i][j] = fma(av[i][e], bv[j], acc[i][j]);
            if (++ox == p.ow) {
                ox = 0;
                if (++oy == p.oh) {
                    oy = 0;
                    img++;
                }
            }
        }
    }

    int crs = p.c * RS;
    int base = p.off_y + int(gl_WorkGroupID.z) * p.split_stride + c0 * RS;
    [[unroll]] for (int i = 0; i < TM; i++)
        [[unroll]] for (int j = 0; j < TN; j++)
            if (m0 + i < p.k && c0 * RS + j < crs)
                y[base + (m0 + i) * crs + j] = acc[i][j];
}
