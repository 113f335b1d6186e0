#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_ballot : require
// Implicit-GEMM 2-D convolution, NCHW activations, KCRS weights. The im2col
// matrix is never stored: its elements are read from x (or dy) through
// index math in the loads, so activation quantization (act_bits) happens on
// read and needs no separate pass, and no column scratch exists.
//
//   MODE 0 fwd:        y[i,k,p]  = b[k] + sum_{c,r,s} w[k,c,r,s] xq[i,c,..]
//                      GEMM M = K, N = n*OH*OW, reduction over (c, r, s)
//   MODE 1 bwd_data:   dx[i,c,q] = sum_{k,r,s} w[k,c,r,s] dy[i,k,..],
//                      zeroed where x is outside [0,1] (STE) when QUANT
//                      GEMM M = C, N = n*H*W, reduction over (k, r, s)
//   MODE 2 bwd_weight: dw[z][k,crs] = sum_{i in split z, p} dy[i,k,p] xq[..]
//                      GEMM M = K, N = C*R*S, reduction over (i, oh, ow);
//                      splits (workgroup z) go to partials that
//                      bwd_weight_reduce.comp sums in a fixed order.
//
// Each invocation accumulates a TM x TN register block: rows contiguous
// (shared by the GX lanes of a row, so A loads are lane-uniform), columns
// strided by GX (neighbouring lanes read neighbouring pixels). Edge rows and
// columns are clamped on load and skipped on store, so any size works.
// Where subgroups are 8 wide (lavapipe, whose storage-buffer loads are a
// per-lane scalar loop and dominate the cost), each lane loads a different
// A row and subgroupBroadcast shares them: 8x fewer A loads.
// Summation order is fixed: results are deterministic.
#include "common.glsl"

#ifndef TM
#define TM 16
#endif
#ifndef TN
#define TN 8
#endif
#define TMB (TM / 8)

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint GX = 8;       // lanes along N per group
layout(constant_id = 2) const int MODE = 0;
layout(constant_id = 3) const int STRIDE = 1;
layout(constant_id = 4) const bool QUANT = false; // act_bits > 0
layout(constant_id = 5) const bool BIAS = false;  // fwd only

// a: w (fwd, bwd_data) or dy (bwd_weight); b: x (fwd, bwd_weight) or dy
// (bwd_data); e: bias (fwd) or x for the STE mask (bwd_data).
layout(std430, set = 0, binding = 0) readonly buffer BufA { float a_buf[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float b_buf[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufE { float e_buf[]; };
layout(std430, set = 0, binding = 3) writeonly buffer BufY { float y_buf[]; };

layout(push_constant) uniform Push {
    int off_a, off_b, off_e, off_y;
    int n, c, h, w, k, kh, kw, pad, oh, ow;
    int bits;
    uint tiles_n;        // column tiles; x and z are folded for MODE 0, 1
    int imgs_per_split;  // MODE 2
    int split_stride;    // MODE 2: words between partial results
} p;

float load_x(int idx)
{
    float v = b_buf[idx];
    return QUANT ? sr_quantize01(v, p.bits) : v;
}

// av[i] = a_buf[rb[i] + ko]; rbl[t] is the row base of row 8t + lane.
void load_a(bool bc, int ko, int rb[TM], int rbl[TMB], out float av[TM])
{
    if (bc) {
        [[unroll]] for (int t = 0; t < TMB; t++) {
            float v = a_buf[rbl[t] + ko];
            [[unroll]] for (int q = 0; q < 8; q++)
                av[t * 8 + q] = subgroupBroadcast(v, q);
        }
    } else {
        [[unroll]] for (int i = 0; i < TM; i++)
            av[i] = a_buf[rb[i] + ko];
    }
}

void main()
{
    const uint GY = gl_WorkGroupSize.x / GX;
    uint lid = gl_LocalInvocationID.x;
    uint lx = lid % GX, ly = lid / GX;

    uint tile = gl_WorkGroupID.x;
    if (MODE != 2) {
        tile += gl_WorkGroupID.z * gl_NumWorkGroups.x;
        if (tile >= p.tiles_n)
            return;
    }

    int hw = p.h * p.w, chw = p.c * hw, ohw = p.oh * p.ow;
    int rs = p.kh * p.kw, crs = p.c * rs;
    int M = MODE == 1 ? p.c : p.k;
    int N = MODE == 0 ? p.n * ohw : MODE == 1 ? p.n * hw : crs;

    int m0 = int(gl_WorkGroupID.y * GY * TM + ly * TM);
    int n0 = int(tile * GX * TN + lx);
    int mi[TM], mil[TMB];
    [[unroll]] for (int i = 0; i < TM; i++)
        mi[i] = min(m0 + i, M - 1);
    // GX is a multiple of 8, so a subgroup of 8 shares its rows.
    bool bc = gl_SubgroupSize == 8u;
    [[unroll]] for (int t = 0; t < TMB; t++)
        mil[t] = min(m0 + 8 * t + int(gl_SubgroupInvocationID), M - 1);

    float acc[TM][TN];
    [[unroll]] for (int i = 0; i < TM; i++)
        [[unroll]] for (int j = 0; j < TN; j++)
            acc[i][j] = 0.0;

    int col[TN];
    [[unroll]] for (int j = 0; j < TN; j++)
        col[j] = min(n0 + int(GX) * j, N - 1);

    if (MODE == 0) {
        int xb[TN], ih0[TN], iw0[TN];
        [[unroll]] for (int j = 0; j < TN; j++) {
            int img = col[j] / ohw, q = col[j] % ohw;
            ih0[j] = (q / p.ow) * STRIDE - p.pad;
            iw0[j] = (q % p.ow) * STRIDE - p.pad;
            xb[j] = p.off_b + img * chw + ih0[j] * p.w + iw0[j];
        }
        int wr[TM], wrl[TMB];
        [[unroll]] for (int i = 0; i < TM; i++)
            wr[i] = p.off_a + mi[i] * crs;
        [[unroll]] for (int t = 0; t < TMB; t++)
            wrl[t] = p.off_a + mil[t] * crs;
        int kk = 0;
        for (int ci = 0; ci < p.c; ci++) {
            for (int r = 0; r < p.kh; r++) {
                bool rok[TN];
                [[unroll]] for (int j = 0; j < TN; j++)
                    rok[j] = uint(ih0[j] + r) < uint(p.h);
                int ro = ci * hw + r * p.w;
                for (int s = 0; s < p.kw; s++, kk++) {
                    float bv[TN], av[TM];
                    [[unroll]] for (int j = 0; j < TN; j++) {
                        bv[j] = 0.0;
                        if (rok[j] && uint(iw0[j] + s) < uint(p.w))
                            bv[j] = load_x(xb[j] + ro + s);
                    }
                    load_a(bc, kk, wr, wrl, av);
                    [[unroll]] for (int i = 0; i < TM; i++)
                        [[unroll]] for (int j = 0; j < TN; j++)
                            acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                }
            }
        }
    } else if (MODE == 1) {
        int db[TN], th[TN], tw[TN];
        [[unroll]] for (int j = 0; j < TN; j++) {
            int img = col[j] / hw, q = col[j] % hw;
            th[j] = q / p.w + p.pad;
            tw[j] = q % p.w + p.pad;
            db[j] = p.off_b + img * p.k * ohw;
        }
        int wr[TM], wrl[TMB];
        [[unroll]] for (int i = 0; i < TM; i++)
            wr[i] = p.off_a + mi[i] * rs;
        [[unroll]] for (int t = 0; t < TMB; t++)
            wrl[t] = p.off_a + mil[t] * rs;
        for (int kc = 0; kc < p.k; kc++) {
            for (int r = 0; r < p.kh; r++) {
                bool rok[TN];
                int ro[TN];
                [[unroll]] for (int j = 0; j < TN; j++) {
                    int t = th[j] - r;
                    int o = int(uint(t) / uint(STRIDE));
                    rok[j] = t >= 0 && o * STRIDE == t && o < p.oh;
                    ro[j] = db[j] + kc * ohw + o * p.ow;
                }
                int wo = kc * crs + r * p.kw;
                for (int s = 0; s < p.kw; s++) {
                    float bv[TN], av[TM];
                    [[unroll]] for (int j = 0; j < TN; j++) {
                        int t = tw[j] - s;
                        int o = int(uint(t) / uint(STRIDE));
                        bv[j] = 0.0;
                        if (rok[j] && t >= 0 && o * STRIDE == t && o < p.ow)
                            bv[j] = b_buf[ro[j] + o];
                    }
                    load_a(bc, wo + s, wr, wrl, av);
                    [[unroll]] for (int i = 0; i < TM; i++)
                        [[unroll]] for (int j = 0; j < TN; j++)
                            acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                }
            }
        }
    } else {
        int xo[TN], ry[TN], sx[TN];
        [[unroll]] for (int j = 0; j < TN; j++) {
            int ci = col[j] / rs, q = col[j] % rs;
            ry[j] = q / p.kw - p.pad;
            sx[j] = q % p.kw - p.pad;
            xo[j] = ci * hw + ry[j] * p.w + sx[j];
        }
        int dr[TM], drl[TMB];
        [[unroll]] for (int i = 0; i < TM; i++)
            dr[i] = p.off_a + mi[i] * ohw;
        [[unroll]] for (int t = 0; t < TMB; t++)
            drl[t] = p.off_a + mil[t] * ohw;
        int i0 = int(gl_WorkGroupID.z) * p.imgs_per_split;
        int i1 = min(i0 + p.imgs_per_split, p.n);
        for (int img = i0; img < i1; img++) {
            int xi = p.off_b + img * chw, di = img * p.k * ohw;
            for (int y = 0; y < p.oh; y++) {
                bool rok[TN];
                [[unroll]] for (int j = 0; j < TN; j++)
                    rok[j] = uint(y * STRIDE + ry[j]) < uint(p.h);
                int xr = xi + y * STRIDE * p.w, dyr = di + y * p.ow;
                for (int x = 0; x < p.ow; x++) {
                    float bv[TN], av[TM];
                    [[unroll]] for (int j = 0; j < TN; j++) {
                        bv[j] = 0.0;
                        if (rok[j] && uint(x * STRIDE + sx[j]) < uint(p.w))
                            bv[j] = load_x(xr + xo[j] + x * STRIDE);
                    }
                    load_a(bc, dyr + x, dr, drl, av);
                    [[unroll]] for (int i = 0; i < TM; i++)
                        [[unroll]] for (int j = 0; j < TN; j++)
                            acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                }
            }
        }
    }

    // Store, skipping the clamped edge rows and columns. No break or
    // continue here: they stop the unroll, and acc would leave registers.
    [[unroll]] for (int j = 0; j < TN; j++) {
        int cj = n0 + int(GX) * j;
        int ybase, ystep;
        if (MODE == 0) {
            ybase = p.off_y + (cj / ohw) * p.k * ohw + cj % ohw;
            ystep = ohw;
        } else if (MODE == 1) {
            ybase = (cj / hw) * chw + cj % hw;
            ystep = hw;
        } else {
            ybase = p.off_y + int(gl_WorkGroupID.z) * p.split_stride + cj;
            ystep = crs;
        }
        [[unroll]] for (int i = 0; i < TM; i++) {
            int m = m0 + i;
            if (cj < N && m < M) {
                float v = acc[i][j];
                if (MODE == 0 && BIAS)
                    v += e_buf[p.off_e + m];
                if (MODE == 1) {
                    int xi = ybase + m * ystep;
                    if (QUANT) {
                        float xv = e_buf[p.off_e + xi];
                        v = (xv >= 0.0 && xv <= 1.0) ? v : 0.0;
                    }
                    y_buf[p.off_y + xi] = v;
                } else {
                    y_buf[ybase + m * ystep] = v;
                }
            }
        }
    }
}
