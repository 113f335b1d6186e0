/* sinreq: checkpoint and export files (src/io/ckpt_h5.c, src/io/export_h5.c).
 *
 * A checkpoint is one HDF5 file holding the whole training state; the
 * trainer (src/train) decides what goes in it, this module how: datasets
 * are float32, chunked (one chunk), Fletcher32; scalars and lists are
 * attributes on groups; object headers carry HDF5's own metadata checksums
 * (format >= 1.8 objects). docs/usage.md lists every object.
 *
 * Writing is atomic: everything goes to "<path>.tmp", which is closed,
 * fsynced, renamed to path, and the directory fsynced. A process killed at
 * any moment leaves either no file or a complete one at path (and perhaps a
 * stale .tmp). The environment variable SINREQ_TEST_CKPT_SLEEP=S (seconds)
 * sleeps between the fsync and the rename: the fault tests kill the writer
 * there.
 *
 * Names: a dataset is addressed as (group, name), e.g. ("model",
 * "conv1.weight"); group "" or "/" is the root. Groups are created as
 * needed. */
#ifndef SINREQ_CKPT_IO_H
#define SINREQ_CKPT_IO_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/model_io.h"
#include "sinreq/status.h"

#define SR_CKPT_FORMAT "sinreq-checkpoint"
#define SR_CKPT_FORMAT_VERSION 1

/* ---- writing ---- */

typedef struct sr_ckpt_writer sr_ckpt_writer;

/* Start writing path (creates "<path>.tmp"; sets /@format and
 * /@format_version). */
sr_status sr_ckpt_create(const char *path, sr_ckpt_writer **out);
sr_status sr_ckpt_put_f32(sr_ckpt_writer *w, const char *group,
                          const char *name, int ndim, const int *dims,
                          const float *data);
sr_status sr_ckpt_attr_i64(sr_ckpt_writer *w, const char *group,
                           const char *name, int64_t v);
sr_status sr_ckpt_attr_f64(sr_ckpt_writer *w, const char *group,
                           const char *name, double v);
sr_status sr_ckpt_attr_str(sr_ckpt_writer *w, const char *group,
                           const char *name, const char *v);
sr_status sr_ckpt_attr_i32s(sr_ckpt_writer *w, const char *group,
                            const char *name, const int *v, int n);
sr_status sr_ckpt_attr_strs(sr_ckpt_writer *w, const char *group,
                            const char *name, const char *const *v, int n);
/* Close, fsync, rename, fsync the directory; frees w. */
sr_status sr_ckpt_commit(sr_ckpt_writer *w);
/* Drop the temporary file; frees w (NULL is a no-op). */
void sr_ckpt_abort(sr_ckpt_writer *w);

/* ---- reading ---- */

typedef struct sr_ckpt_file sr_ckpt_file;

/* Open and check /@format and /@format_version. A file that is not HDF5,
 * truncated, or another format: SR_E_IO / SR_E_FORMAT naming the file. */
sr_status sr_ckpt_open(const char *path, sr_ckpt_file **out);
/* Read every dataset once, so every Fletcher32 checksum is checked. */
sr_status sr_ckpt_verify(sr_ckpt_file *f);
void sr_ckpt_close(sr_ckpt_file *f);   /* NULL is a no-op */
const char *sr_ckpt_path(const sr_ckpt_file *f);

/* A float dataset of exactly the shape (ndim, dims): a missing dataset or
 * another shape (a transposed one too) is SR_E_FORMAT naming both. */
sr_status sr_ckpt_get_f32(sr_ckpt_file *f, const char *group,
                          const char *name, int ndim, const int *dims,
                          float *dst);
int sr_ckpt_has(sr_ckpt_file *f, const char *group, const char *name);
sr_status sr_ckpt_get_i64(sr_ckpt_file *f, const char *group,
                          const char *name, int64_t *v);
sr_status sr_ckpt_get_f64(sr_ckpt_file *f, const char *group,
                          const char *name, double *v);
/* A string attribute; *v is malloc'd (free it). */
sr_status sr_ckpt_get_str(sr_ckpt_file *f, const char *group,
                          const char *name, char **v);
sr_status sr_ckpt_get_i32s(sr_ckpt_file *f, const char *group,
                           const char *name, int *v, int n);

/* The network description of a model file (model_io.h) as group /meta
 * (its attributes, /meta/quant the plan): eval and info take a checkpoint
 * as a model file. */
sr_status sr_ckpt_put_meta(sr_ckpt_writer *w, const sr_model_meta *m);
/* Read and check /meta as a model file's description (m->layers
 * malloc'd); a checkpoint without it is SR_E_FORMAT. */
sr_status sr_ckpt_get_meta(sr_ckpt_file *f, sr_model_meta *m);

/* ---- export: really quantized weights (src/io/export_h5.c) ----
 *
 *   /@format = "sinreq-export", /@format_version = 1, and the model
 *   file's root attributes (net, width, classes, input, quantizer,
 *   act_bits, regularizer, norm_mean, norm_std, program_version) and
 *   /quant attributes (layers, quantized, bits, act_bits, beta)
 *   /float/<tensor>         float32, every tensor that is not the weight of
 *                           a quantized layer (biases, BN, fp layers)
 *   /quantized/<layer>      uint32 [words]: the layer's k-bit codes packed
 *                           little-endian, code i at bits [i k, (i+1) k) of
 *                           the stream (word j holds bits [32 j, 32 j + 32))
 *     @bits, @numel, @shape (int32, PyTorch), @tensor (the weight's name),
 *     @quantizer, @scale, @offset (float64): wq ~= scale * code + offset,
 *     @decode: the exact float32 expression:
 *        dorefa: wq = 2 * (code / (2^k - 1)) - 1
 *        wrpn:   wq = (code - m) / m, m = 2^(k-1) - 1 (codes offset-binary)
 */
#define SR_EXPORT_FORMAT "sinreq-export"
#define SR_EXPORT_FORMAT_VERSION 1

typedef struct sr_export_layer {
    const char *tensor;     /* "conv2.weight" */
    const char *layer;      /* "conv2" */
    int ndim, dims[4];
    size_t numel;
    int bits;
    const char *quantizer;  /* "dorefa", "wrpn" */
    double scale, offset;
    const uint32_t *codes;  /* numel codes, one per word (packed on write) */
} sr_export_layer;

/* Write atomically: meta as the model file, nf float tensors, nq layers. */
sr_status sr_export_save(const char *path, const sr_model_meta *m,
                         const sr_model_tensor *f, int nf,
                         const sr_export_layer *q, int nq);
/* 1 when path is an HDF5 file with /@format = "sinreq-export". */
int sr_export_probe(const char *path);
/* Decode an export into meta and tensors: every tensor as float32 (the
 * quantized weights decoded exactly as the fake quantizer computes them),
 * the per-layer plan as stored (quantized layers with their bits and
 * activation bits: their weights are Q(W) already, see
 * sr_quant_opts.weights_quantized). The description is checked as a model
 * file's, every code dataset against its attributes.
 * Free with sr_export_decoded_free. */
typedef struct sr_export_decoded {
    sr_model_meta meta;
    int n;
    sr_model_tensor *t;     /* names and data owned */
    int *bits;              /* per tensor: bits of its codes, 0: float32 */
} sr_export_decoded;
sr_status sr_export_load(const char *path, sr_export_decoded *out);
void sr_export_decoded_free(sr_export_decoded *d);

#endif
