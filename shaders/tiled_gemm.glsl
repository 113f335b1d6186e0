// The GPU family's GEMM core (tiled_conv.comp, tiled_gemm.comp):
//   C[m][n] = sum over k in [kbeg, kend) of A[m][k] B[k][n]
// A workgroup computes a BM x BN tile of C. Each step along k stages a
// BM x BK slab of A and a BK x BN slab of B in shared memory (coalesced:
// consecutive invocations read consecutive addresses along whichever index
// is contiguous in memory), then every invocation accumulates a TM x TN
// register block from it. Rows and columns of the block are strided by the
// invocations along them (WM, WN), so the shared-memory reads of a row of
// invocations are broadcasts (A) or consecutive words (B).
//
// Tile sizes are specialization constants the host picks from the
// device's limits (shared memory, invocations per workgroup); nothing
// here depends on the subgroup size. Every C element is one fma chain over
// k in increasing order, whatever the tiles: results are bit-for-bit
// repeatable on a device (split-K partials are summed in a fixed order by
// bwd_weight_reduce.comp).
//
// Before including this file, the shader defines its buffers and:
//   bool A_KFAST, B_KFAST   operand contiguous along k (else along m / n)
//   bool A_VEC4, B_VEC4     load 4 consecutive k at once (needs K_FAST, the
//                           k range and every row start 4-aligned)
//   float load_a(uint m, uint k), vec4 load_a4(uint m, uint k)
//   float load_b(uint k, uint n), vec4 load_b4(uint k, uint n)
//   void store_c(uint m, uint n, float v)
// Loads are only called in range; out-of-range elements are zeros.
#ifndef SR_TILED_GEMM_GLSL
#define SR_TILED_GEMM_GLSL

// Shared-memory rows are padded by one word so that the column-wise stores
// of a K_FAST operand do not all hit one bank.
shared float sh_a[BK * (BM + 1)];
shared float sh_b[BK * (BN + 1)];

void gemm_tile(uint M, uint N, uint kbeg, uint kend, uint m_base,
               uint n_base)
{
    const uint WN = BN / TN, WM = BM / TM, WG = WM * WN;
    const uint SA = BM + 1, SB = BN + 1;
    uint lid = gl_LocalInvocationID.x;
    uint tx = lid % WN, ty = lid / WN;

    float acc[TM * TN];
    [[unroll]] for (uint i = 0; i < TM * TN; i++)
        acc[i] = 0.0;

    for (uint k0 = kbeg; k0 < kend; k0 += BK) {
        if (A_KFAST && A_VEC4) {
            for (uint idx = lid; idx < BM * BK / 4; idx += WG) {
                uint mm = idx / (BK / 4), kk = idx % (BK / 4) * 4;
                uint gm = m_base + mm, gk = k0 + kk;
                vec4 v = vec4(0.0);
                if (gm < M && gk < kend)
                    v = load_a4(gm, gk);
                sh_a[kk * SA + mm] = v.x;
                sh_a[(kk + 1) * SA + mm] = v.y;
                sh_a[(kk + 2) * SA + mm] = v.z;
                sh_a[(kk + 3) * SA + mm] = v.w;
            }
        } else {
            for (uint idx = lid; idx < BM * BK; idx += WG) {
                uint mm = A_KFAST ? idx / BK : idx % BM;
                uint kk = A_KFAST ? idx % BK : idx / BM;
                uint gm = m_base + mm, gk = k0 + kk;
                sh_a[kk * SA + mm] = gm < M && gk < kend ? load_a(gm, gk)
                                                         : 0.0;
            }
        }
        if (B_KFAST && B_VEC4) {
            for (uint idx = lid; idx < BN * BK / 4; idx += WG) {
                uint nn = idx / (BK / 4), kk = idx % (BK / 4) * 4;
                uint gn = n_base + nn, gk = k0 + kk;
                vec4 v = vec4(0.0);
                if (gn < N && gk < kend)
                    v = load_b4(gk, gn);
                sh_b[kk * SB + nn] = v.x;
                sh_b[(kk + 1) * SB + nn] = v.y;
                sh_b[(kk + 2) * SB + nn] = v.z;
                sh_b[(kk + 3) * SB + nn] = v.w;
            }
        } else {
            for (uint idx = lid; idx < BN * BK; idx += WG) {
                uint nn = B_KFAST ? idx / BK : idx % BN;
                uint kk = B_KFAST ? idx % BK : idx / BN;
                uint gn = n_base + nn, gk = k0 + kk;
                sh_b[kk * SB + nn] = gn < N && gk < kend ? load_b(gk, gn)
                                                         : 0.0;
            }
        }
        barrier();
        [[unroll]] for (uint kk = 0; kk < BK; kk++) {
            float av[TM], bv[TN];
            [[unroll]] for (uint i = 0; i < TM; i++)
                av[i] = sh_a[kk * SA + ty + i * WM];
            [[unroll]] for (uint j = 0; j < TN; j++)
                bv[j] = sh_b[kk * SB + tx + j * WN];
            [[unroll]] for (uint i = 0; i < TM; i++)
                [[unroll]] for (uint j = 0; j < TN; j++)
                    acc[i * TN + j] = fma(av[i], bv[j], acc[i * TN + j]);
        }
        barrier();
    }

    [[unroll]] for (uint i = 0; i < TM; i++) {
        [[unroll]] for (uint j = 0; j < TN; j++) {
            uint m = m_base + ty + i * WM, n = n_base + tx + j * WN;
            if (m < M && n < N)
                store_c(m, n, acc[i * TN + j]);
        }
    }
}

#endif
