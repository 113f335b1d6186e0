#version 450
#extension GL_EXT_control_flow_attributes : require
// Implicit-GEMM 2-D convolution, stride STRIDE, reading through texel views
// (lavapipe gathers texel fetches with vector loads; its storage-buffer
// loads are a per-lane scalar loop):
//   y[i][m][p] = sum_{ci,r,s} wp[m][ci][r*KW+s] * xq[i][ci][oy*S-ph+r][ox*S-pw+s]
// wp: weights packed by conv_pack.comp as [M][CIN][RS4] vec4s (binding 0,
// RGBA32F view), taps padded with zeros to whole vec4s. x: binding 1, an
// R32F view (RGBA32F with XV4, see ROW). Backward data with stride 1 is the same computation on dy
// with the kernel flipped and transposed and padding KH-1-pad (the host
// packs the weights that way); the STE mask then reads x (binding 2).
// Backward data with stride TS > 1 splits dx into TS*TS phase classes
// (dx pixels (a*TS+py, b*TS+px)), one dispatch each: a class is a stride-1
// convolution of dy with the sub-kernel of taps r = (py+pad) mod TS + TS*u
// (KH, KW here are that sub-kernel's size), packed per class, reversed. No
// work is spent on the zero taps of the transposed convolution.
// Each invocation accumulates a TM x TN block: TM output channels (shared
// by the workgroup, uniform weight fetches) times TN consecutive pixels.
// In ROW mode each accumulator takes all KH*KW taps of an input channel in
// a row, so LLVM keeps it in a register for them (lavapipe has 16 vector
// registers; summing tap by tap over the whole block spilled every
// accumulator at every tap).
// Edge rows/columns are clamped on load and skipped on store; fixed
// summation order, so results are deterministic.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TM = 16;
layout(constant_id = 2) const int TN = 8;
layout(constant_id = 3) const int KH = 3;
layout(constant_id = 4) const int KW = 3;
layout(constant_id = 5) const int STRIDE = 1;
layout(constant_id = 6) const bool QUANT = false;
// EPI: 0 plain, 1 + bias[m], 2 STE mask (x read per word, binding 2 an
// R32F view), 3 STE mask read as whole vec4s (VST only: binding 2 an
// RGBA32F view, x's offset a multiple of 4).
layout(constant_id = 7) const int EPI = 0;
layout(constant_id = 8) const int TS = 1;     // transposed stride (bwd_data)
// ROW: the TN pixels of an invocation always lie in one output row (the
// host checks ow % TN == 0). Then the taps of a kernel row overlap between
// neighbouring pixels, and one strip of SW values per kernel row serves
// all TN pixels: about 2.4x fewer fetches of x for 3x3 at stride 1.
// ROW > 1 (XV4): the strip is read as whole aligned vec4s through an
// RGBA32F view of x (binding 1): lavapipe's R32F fetch is a vpgatherdd,
// slower per value on x86 than the four plain 128-bit loads of an RGBA32F
// fetch. Needs x's rows at multiples of 4 words; the strip starts at
// phase ROW - 2 inside its first vec4 (the same for every invocation).
layout(constant_id = 9) const int ROW = 0;
// VST: ROW, TS == 1, TN % 4 == 0 and y's offset a multiple of 4: the TN
// outputs of a row are whole aligned vec4s, stored as such (lavapipe's
// storage writes are a per-lane scalar loop per store; for few input
// channels the stores cost as much as the arithmetic).
layout(constant_id = 10) const bool VST = false;
// ROWS: with ROW, the TN pixels are ROWS whole output rows of RW = TN /
// ROWS pixels each (the host checks ow == RW and oh % ROWS == 0), so a
// phase class of a narrow layer still gets a wide block; the input rows
// shared by neighbouring output rows are fetched once.
layout(constant_id = 11) const int ROWS = 1;
const int RW = TN / ROWS;
const int SW = (RW - 1) * STRIDE + KW;
const int NT = (ROWS - 1) * STRIDE + KH;   // input rows per block
const int RS = KH * KW;
const int RS4 = (RS + 3) / 4;
const int XPH = ROW > 1 ? ROW - 2 : 0;
const int NV4 = (XPH + SW + 3) / 4;

layout(set = 0, binding = 0) uniform samplerBuffer wp;
layout(set = 0, binding = 1) uniform samplerBuffer xt;
layout(set = 0, binding = 2) uniform samplerBuffer et;   // bias or x
layout(std430, set = 0, binding = 4) writeonly buffer BufY { float y[]; };
layout(std430, set = 0, binding = 4) writeonly buffer BufY4 { vec4 y4[]; };

layout(push_constant) uniform Push {
    int off_w4, off_x, off_e, off_y;
    int m, cin, h, w, oh, ow, ph, pw;
    int ncols;        // images * oh * ow
    int x_last;       // last readable word of x's buffer
    int bits;
    uint tiles_n;     // column tiles (per class when TS > 1); x, z folded
    int pad0;         // TS > 1: the convolution's padding
    int hd, wd;       // TS > 1: dx's size (oh, ow: the class grid)
    int cls;          // TS > 1: phase class py * TS + px
} p;

void main()
{
    uint tile = gl_WorkGroupID.x + gl_WorkGroupID.z * gl_NumWorkGroups.x;
    // No early return (it would put everything below under lavapipe's
    // execution mask): a tile past the end computes tile_n - 1 again and
    // stores nothing.
    bool alive = tile < p.tiles_n;
    tile = min(tile, p.tiles_n - 1u);
    int py = 0, px = 0, ph = p.ph, pw = p.pw;
    if (TS > 1) {
        py = p.cls / TS;
        px = p.cls % TS;
        ph = KH - 1 - (py + p.pad0) / TS;
        pw = KW - 1 - (px + p.pad0) / TS;
    }
    int m0 = int(gl_WorkGroupID.y) * TM;
    int n0 = int(tile * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * TN;
    int hw = p.h * p.w, ohw = p.oh * p.ow;

    // Columns n0 .. n0+TN-1 are consecutive pixels: decompose n0 once and
    // step (integer division is a scalar loop per lane on a CPU). Columns
    // past the end read clamped addresses and are not stored.
    int img0 = n0 / ohw, pix0 = n0 % ohw;
    int oy0 = pix0 / p.ow, ox0 = pix0 % p.ow;
    int xb[TN];
    uint rok[TN], cok[TN];   // bit r / s: tap row / column inside x
    {
        int img = img0, oy = oy0, ox = ox0;
        [[unroll]] for (int j = 0; j < TN; j++) {
            int iy = oy * STRIDE - ph, ix = ox * STRIDE - pw;
            xb[j] = p.off_x + img * p.cin * hw + iy * p.w + ix;
            rok[j] = 0u;
            cok[j] = 0u;
            [[unroll]] for (int r = 0; r < KH; r++)
                rok[j] |= uint(uint(iy + r) < uint(p.h)) << r;
            [[unroll]] for (int s = 0; s < KW; s++)
                cok[j] |= uint(uint(ix + s) < uint(p.w)) << s;
            if (++ox == p.ow) {
                ox = 0;
                if (++oy == p.oh) {
                    oy = 0;
                    img++;
                }
            }
        }
    }
    int wr[TM];
    [[unroll]] for (int i = 0; i < TM; i++)
        wr[i] = p.off_w4 + min(m0 + i, p.m - 1) * p.cin * RS4;

    float acc[TM][TN];
    [[unroll]] for (int i = 0; i < TM; i++)
        [[unroll]] for (int j = 0; j < TN; j++)
            acc[i][j] = 0.0;

    if (ROW > 0) {
        // Strip t of kernel row r is x[iy0 + r][ix0 + t] of pixel 0.
        int iy = oy0 * STRIDE - ph, ix = ox0 * STRIDE - pw;
        int xr = p.off_x + img0 * p.cin * hw + iy * p.w + ix;
        // bit t % 32 of sok[t / 32]: strip column t lies inside x (SW is
        // up to 34 for 32-pixel blocks)
        uint sok[(SW + 31) / 32];
        [[unroll]] for (int k = 0; k < (SW + 31) / 32; k++)
            sok[k] = 0u;
        [[unroll]] for (int t = 0; t < SW; t++)
            sok[t / 32] |= uint(uint(ix + t) < uint(p.w)) << (t % 32);
        for (int ci = 0; ci < p.cin; ci++) {
            vec4 av[TM][RS4];
            [[unroll]] for (int i = 0; i < TM; i++)
                [[unroll]] for (int u = 0; u < RS4; u++)
                    av[i][u] = texelFetch(wp, wr[i] + ci * RS4 + u);
            // All NT input rows of the block first; then each accumulator
            // takes its KH*KW taps in a row (it stays in a register; the
            // taps of one output channel are reused by its RW pixels).
            // Input row t serves output row g with kernel row r = t - g*S;
            // each accumulator still sums in (ci, r, s) order.
            float xs[NT][SW];
            [[unroll]] for (int t = 0; t < NT; t++) {
                bool rok0 = uint(iy + t) < uint(p.h);
                if (ROW > 1) {
                    // xr + ci * hw + t * p.w - ix is a row start: a multiple of 4
                    int v0 = ((xr + ci * hw + t * p.w - ix) >> 2) + (ix >> 2);
                    vec4 xv[NV4];
                    [[unroll]] for (int k = 0; k < NV4; k++)
                        xv[k] = texelFetch(xt, clamp(v0 + k, 0, p.x_last >> 2));
                    [[unroll]] for (int u = 0; u < SW; u++) {
                        float v = xv[(u + XPH) / 4][(u + XPH) % 4];
                        if (QUANT)
                            v = sr_quantize01(v, p.bits);
                        xs[t][u] = rok0 && ((sok[u / 32] >> (u % 32)) & 1u) != 0u ? v : 0.0;
                    }
                } else {
                    [[unroll]] for (int u = 0; u < SW; u++) {
                        int idx = clamp(xr + ci * hw + t * p.w + u, 0, p.x_last);
                        float v = texelFetch(xt, idx).x;
                        if (QUANT)
                            v = sr_quantize01(v, p.bits);
                        xs[t][u] = rok0 && ((sok[u / 32] >> (u % 32)) & 1u) != 0u ? v : 0.0;
                    }
                }
            }
            [[unroll]] for (int i = 0; i < TM; i++)
                [[unroll]] for (int g = 0; g < ROWS; g++)
                    [[unroll]] for (int j = 0; j < RW; j++) {
                        float a = acc[i][g * RW + j];
                        [[unroll]] for (int r = 0; r < KH; r++)
                            [[unroll]] for (int s = 0; s < KW; s++) {
                                int q = r * KW + s;
                                a = fma(av[i][q / 4][q % 4],
                                        xs[g * STRIDE + r][j * STRIDE + s], a);
                            }
                        acc[i][g * RW + j] = a;
                    }
        }
    } else {
        for (int ci = 0; ci < p.cin; ci++) {
            [[unroll]] for (int u = 0; u < RS4; u++) {
                vec4 av[TM];
                [[unroll]] for (int i = 0; i < TM; i++)
                    av[i] = texelFetch(wp, wr[i] + ci * RS4 + u);
                [[unroll]] for (int e = 0; e < 4; e++) {
                    int q = 4 * u + e;
                    if (q < RS) {
                        int r = q / KW, s = q % KW;
                        float bv[TN];
                        [[unroll]] for (int j = 0; j < TN; j++) {
                            int idx = clamp(xb[j] + ci * hw + r * p.w + s, 0, p.x_last);
                            float v = texelFetch(xt, idx).x;
                            if (QUANT)
                                v = sr_quantize01(v, p.bits);
                            bool ok = ((rok[j] >> r) & (cok[j] >> s) & 1u) != 0u;
                            bv[j] = ok ? v : 0.0;
                        }
                        [[unroll]] for (int i = 0; i < TM; i++)
                            [[unroll]] for (int j = 0; j < TN; j++)
                                acc[i][j] = fma(av[i][e], bv[j], acc[i][j]);
                    }
                }
            }
        }
    }

    if (VST) {
        // One output row: pixels n0 .. n0+TN-1 all exist, or none does.
        int base = p.off_y + img0 * p.m * ohw + oy0 * p.ow + ox0;
        [[unroll]] for (int i = 0; i < TM; i++) {
            int row = m0 + i;
            if (alive && n0 < p.ncols && row < p.m) {
                int idx = base + row * ohw;
                [[unroll]] for (int q = 0; q < TN / 4; q++) {
                    vec4 v = vec4(acc[i][4 * q], acc[i][4 * q + 1],
                                  acc[i][4 * q + 2], acc[i][4 * q + 3]);
                    if (EPI == 1)
                        v += texelFetch(et, p.off_e + row).x;
                    if (EPI == 2) {
                        [[unroll]] for (int e = 0; e < 4; e++) {
                            float xv = texelFetch(et, p.off_e + idx - p.off_y + 4 * q + e).x;
                            v[e] = (xv >= 0.0 && xv <= 1.0) ? v[e] : 0.0;
                        }
                    }
                    if (EPI == 3) {
                        vec4 xv = texelFetch(et, (p.off_e + idx - p.off_y) / 4 + q);
                        [[unroll]] for (int e = 0; e < 4; e++)
                            v[e] = (xv[e] >= 0.0 && xv[e] <= 1.0) ? v[e] : 0.0;
                    }
                    y4[idx / 4 + q] = v;
                }
            }
        }
        return;
    }
    // No break or continue: they stop the unroll.
    int img = img0, oy = oy0, ox = ox0;
    [[unroll]] for (int j = 0; j < TN; j++) {
        bool cok = n0 + j < p.ncols;
        int plane = ohw, pix = oy * p.ow + ox;
        if (TS > 1) {
            int yy = oy * TS + py, xx = ox * TS + px;
            cok = cok && yy < p.hd && xx < p.wd;
            plane = p.hd * p.wd;
            pix = yy * p.wd + xx;
        }
        int base = img * p.m * plane + pix;
        [[unroll]] for (int i = 0; i < TM; i++) {
            int row = m0 + i;
            if (alive && cok && row < p.m) {
                int idx = base + row * plane;
                float v = acc[i][j];
                if (EPI == 1)
                    v += texelFetch(et, p.off_e + row).x;
                if (EPI == 2) {
                    float xv = texelFetch(et, p.off_e + idx).x;
                    v = (xv >= 0.0 && xv <= 1.0) ? v : 0.0;
                }
                y[p.off_y + idx] = v;
            }
        }
        if (++ox == p.ow) {
            ox = 0;
            if (++oy == p.oh) {
                oy = 0;
                img++;
            }
        }
    }
}
