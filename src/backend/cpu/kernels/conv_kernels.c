/* Direct-convolution micro-kernels, one instruction set per build of this
 * file (SR_ISA_AVX512, SR_ISA_AVX2 or neither: generic). GCC vector
 * extensions keep one source for every width; the compiler flags of each
 * build (src/backend/cpu/CMakeLists.txt) pick the instructions.
 *
 * Register blocks: the forward kernel keeps kmax output channels x qmax
 * vectors of consecutive q in registers, so each weight is broadcast once
 * per qmax vectors and each input vector is used kmax times; the weight
 * gradient keeps wj_max (channel, tap) pairs x wk_max output channels,
 * so each dy vector is used wj_max times and each x vector wk_max times.
 * The block sizes fill the register file (32 zmm, 16 ymm/xmm) without
 * spilling. Remainders use the smaller instantiations of the same code. */
#include "conv_kernels.h"

#if defined(SR_ISA_AVX512)
#define VL 16
#define KMAX 4
#define QMAX 6
#define WK 3
#define WJ 9
#define ISA_NAME "avx512"
#define NACC 24
#define ISA_TABLE sr_conv_kernels_avx512
#elif defined(SR_ISA_AVX2)
#define VL 8
#define KMAX 3
#define QMAX 3
#define WK 2
#define WJ 5
#define ISA_NAME "avx2"
#define NACC 12
#define ISA_TABLE sr_conv_kernels_avx2
#else
#define VL 4
#define KMAX 3
#define QMAX 3
#define WK 2
#define WJ 5
#define ISA_NAME "generic"
#define NACC 12
#define ISA_TABLE sr_conv_kernels_generic
#endif

typedef float vf __attribute__((vector_size(VL * sizeof(float))));
/* The same vector at 4-byte alignment: loads and stores anywhere along q. */
typedef float vfu __attribute__((vector_size(VL * sizeof(float)), aligned(4)));

#define INLINE static inline __attribute__((always_inline))

INLINE vf load_v(const float *p) { return *(const vfu *)p; }

/* A scalar in every lane (one vbroadcastss; "0 + s" would add an add). */
#if VL == 16
#define BCAST(s) ((vf){s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s})
#elif VL == 8
#define BCAST(s) ((vf){s, s, s, s, s, s, s, s})
#else
#define BCAST(s) ((vf){s, s, s, s})
#endif
INLINE void store_v(float *p, vf v) { *(vfu *)p = v; }

/* One forward register block: KB output channels x QV vectors. */
INLINE void fwd_block(const float *in, size_t in_cs, int nin,
                      const long *toff, int ntaps, const float *wp,
                      float *out, size_t out_cs, const int KB, const int QV)
{
    vf acc[4][6]; /* largest instantiation; only KB x QV live */
#pragma GCC unroll 8
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 8
        for (int v = 0; v < QV; v++) acc[k][v] = (vf){0};
    for (int i = 0; i < nin; i++) {
        const float *pi = in + (size_t)i * in_cs;
        for (int t = 0; t < ntaps; t++, wp += KMAX) {
            const float *p = pi + toff[t];
            vf xv[6];
#pragma GCC unroll 8
            for (int v = 0; v < QV; v++) xv[v] = load_v(p + v * VL);
#pragma GCC unroll 8
            for (int k = 0; k < KB; k++) {
                float ws = wp[k];
                vf w = BCAST(ws);
#pragma GCC unroll 8
                for (int v = 0; v < QV; v++) acc[k][v] += w * xv[v];
            }
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 8
        for (int v = 0; v < QV; v++)
            store_v(out + (size_t)k * out_cs + v * VL, acc[k][v]);
}

typedef void (*fwd_fn)(const float *, size_t, int, const long *, int,
                       const float *, float *, size_t);

#define FWD_INST(KB, QV)                                                     \
    static void fwd_##KB##_##QV(const float *in, size_t in_cs, int nin,      \
                                const long *toff, int ntaps,                 \
                                const float *wp, float *out, size_t out_cs)  \
    {                                                                        \
        fwd_block(in, in_cs, nin, toff, ntaps, wp, out, out_cs, KB, QV);     \
    }
#define FWD_ROW(KB)                                                          \
    FWD_INST(KB, 1) FWD_INST(KB, 2) FWD_INST(KB, 3) FWD_INST(KB, 4)          \
    FWD_INST(KB, 5) FWD_INST(KB, 6)
FWD_ROW(1) FWD_ROW(2) FWD_ROW(3) FWD_ROW(4)
#define FWD_PTRS(KB)                                                         \
    { fwd_##KB##_1, fwd_##KB##_2, fwd_##KB##_3, fwd_##KB##_4, fwd_##KB##_5,  \
      fwd_##KB##_6 }
static const fwd_fn fwd_table[4][6] = {FWD_PTRS(1), FWD_PTRS(2), FWD_PTRS(3),
                                       FWD_PTRS(4)};

static void fwd(const float *in, size_t in_cs, int nin, const long *toff,
                int ntaps, const float *wp, int kb, float *out, size_t out_cs,
                long nvec)
{
    const fwd_fn *row = fwd_table[kb - 1];
    long v = 0;
    for (; v + QMAX <= nvec; v += QMAX)
        row[QMAX - 1](in + v * VL, in_cs, nin, toff, ntaps, wp, out + v * VL,
                      out_cs);
    if (v < nvec)
        row[nvec - v - 1](in + v * VL, in_cs, nin, toff, ntaps, wp,
                          out + v * VL, out_cs);
}

/* One weight-gradient block: NJ (channel, tap) pairs x KB channels, summed
 * over nimg images of nvec vectors of q in vector lanes, then each vector's
 * lanes summed in lane order and added to acc. */
INLINE void wgrad_block(const float *x, size_t x_is, const long *xoff,
                        const float *dy, size_t dy_is, size_t dy_cs, int nimg,
                        long nvec, float *acc, const int KB, const int NJ)
{
    vf a[9][3]; /* largest instantiation; only NJ x KB live */
#pragma GCC unroll 16
    for (int j = 0; j < NJ; j++)
#pragma GCC unroll 4
        for (int k = 0; k < KB; k++) a[j][k] = (vf){0};
    for (int m = 0; m < nimg; m++) {
        const float *xm = x + (size_t)m * x_is, *dm = dy + (size_t)m * dy_is;
        const float *px[9];
#pragma GCC unroll 16
        for (int j = 0; j < NJ; j++) px[j] = xm + xoff[j];
        for (long q = 0; q < nvec * VL; q += VL) {
            vf d[3];
#pragma GCC unroll 4
            for (int k = 0; k < KB; k++)
                d[k] = load_v(dm + (size_t)k * dy_cs + q);
#pragma GCC unroll 16
            for (int j = 0; j < NJ; j++) {
                vf xv = load_v(px[j] + q);
                /* one load, used KB times (else GCC folds it into every
                 * FMA: KB loads) */
                __asm__("" : "+v"(xv));
#pragma GCC unroll 4
                for (int k = 0; k < KB; k++) a[j][k] += d[k] * xv;
            }
        }
    }
#pragma GCC unroll 16
    for (int j = 0; j < NJ; j++)
#pragma GCC unroll 4
        for (int k = 0; k < KB; k++) {
            float sum = 0.0f;
            for (int l = 0; l < VL; l++) sum += a[j][k][l];
            acc[j * KB + k] += sum;
        }
}

typedef void (*wgrad_fn)(const float *, size_t, const long *, const float *,
                         size_t, size_t, int, long, float *);
#define WG_INST(KB, NJ)                                                      \
    static void wg_##KB##_##NJ(const float *x, size_t x_is,                  \
                               const long *xoff, const float *dy,            \
                               size_t dy_is, size_t dy_cs, int nimg,         \
                               long nvec, float *acc)                        \
    {                                                                        \
        wgrad_block(x, x_is, xoff, dy, dy_is, dy_cs, nimg, nvec, acc, KB,    \
                    NJ);                                                     \
    }
#define WG_ROW(KB)                                                           \
    WG_INST(KB, 1) WG_INST(KB, 2) WG_INST(KB, 3) WG_INST(KB, 4)              \
    WG_INST(KB, 5) WG_INST(KB, 6) WG_INST(KB, 7) WG_INST(KB, 8)              \
    WG_INST(KB, 9)
WG_ROW(1) WG_ROW(2) WG_ROW(3)
#define WG_PTRS(KB)                                                          \
    { wg_##KB##_1, wg_##KB##_2, wg_##KB##_3, wg_##KB##_4, wg_##KB##_5,       \
      wg_##KB##_6, wg_##KB##_7, wg_##KB##_8, wg_##KB##_9 }
static const wgrad_fn wg_table[3][9] = {WG_PTRS(1), WG_PTRS(2), WG_PTRS(3)};

static void wgrad(const float *x, size_t x_is, const long *xoff, int nj,
                  const float *dy, size_t dy_is, size_t dy_cs, int kb,
                  int nimg, long nvec, float *acc)
{
    wg_table[kb - 1][nj - 1](x, x_is, xoff, dy, dy_is, dy_cs, nimg, nvec,
                             acc);
}

static float fma_loop(long n)
{
    vf a[NACC], m = (vf){0} + 0.999999f, c = (vf){0} + 1e-7f;
#pragma GCC unroll 24
    for (int i = 0; i < NACC; i++) a[i] = (vf){0} + (float)i;
    for (long it = 0; it < n; it++) {
        /* keeps the values in registers and the loop unrolled */
        __asm__ volatile("" : "+x"(m));
#pragma GCC unroll 24
        for (int i = 0; i < NACC; i++) a[i] = a[i] * m + c;
    }
    float s = 0.0f;
    for (int i = 0; i < NACC; i++)
        for (int l = 0; l < VL; l++) s += a[i][l];
    return s;
}

const sr_conv_kernels ISA_TABLE = {
    .name = ISA_NAME, .vl = VL, .kmax = KMAX, .qmax = QMAX,
    .wk_max = WK, .wj_max = WJ, .fwd = fwd, .wgrad = wgrad,
    .fma_acc = NACC, .fma_loop = fma_loop,
};
