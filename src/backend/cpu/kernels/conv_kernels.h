/* Register-blocked micro-kernels of the direct convolution engine
 * (cpu_conv_direct.c), compiled once per instruction set: conv_kernels.c is
 * built with SR_ISA=avx512, avx2 and generic, each with its own compiler
 * flags, and the engine picks one set at run time.
 *
 * Both kernels see a "plane" as a flat array indexed by q = row * width +
 * col over a zero-padded image, so every tap of a convolution is a constant
 * offset and the inner loops are plain vector loads along q (no im2col, no
 * bounds checks). Each output value is accumulated by one lane in a fixed
 * order (input channel, then tap; weight gradients: image, then q), so
 * results do not depend on how work is split over threads. */
#ifndef SINREQ_CPU_CONV_KERNELS_H
#define SINREQ_CPU_CONV_KERNELS_H

#include <stddef.h>

typedef struct sr_conv_kernels {
    const char *name; /* "avx512", "avx2", "generic" */
    int vl;           /* floats per vector */
    int kmax;         /* output channels per forward register block */
    int qmax;         /* vectors along q per forward register block */
    int wk_max;       /* output channels per weight-gradient block */
    int wj_max;       /* (channel, tap) pairs per weight-gradient block */

    /* out[k * out_cs + q] = sum_i sum_t wp[(i * ntaps + t) * kmax + k]
     *                        * in[i * in_cs + toff[t] + q]
     * for k < kb (<= kmax) and q < nvec * vl. */
    void (*fwd)(const float *in, size_t in_cs, int nin, const long *toff,
                int ntaps, const float *wp, int kb, float *out,
                size_t out_cs, long nvec);

    /* acc[j * kb + k] += sum over images m < nimg and q < nvec * vl of
     * dy[m * dy_is + k * dy_cs + q] * x[m * x_is + xoff[j] + q], summed in
     * vl lanes (lane q % vl, images then q in order), the lanes then added
     * in lane order; j < nj (<= wj_max), k < kb (<= wk_max). */
    void (*wgrad)(const float *x, size_t x_is, const long *xoff, int nj,
                  const float *dy, size_t dy_is, size_t dy_cs, int kb,
                  int nimg, long nvec, float *acc);

    /* Runs n iterations of fma_acc independent vector FMAs (enough to hide
     * FMA latency, few enough to stay in registers) and returns a value
     * that depends on them: the benchmark's measure of this set's peak
     * FLOP rate (fma_acc * vl * 2 flops per iteration). */
    int fma_acc;
    float (*fma_loop)(long n);
} sr_conv_kernels;

extern const sr_conv_kernels sr_conv_kernels_generic;
#if defined(__x86_64__)
extern const sr_conv_kernels sr_conv_kernels_avx2;
extern const sr_conv_kernels sr_conv_kernels_avx512;
#endif

#endif
