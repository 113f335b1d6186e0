/* sinreq: model files (src/io/model_h5.c).
 *
 * One HDF5 file per trained network, readable with h5py and h5dump:
 *
 *   /model/<tensor>     float32, PyTorch name and shape ("conv1.weight"
 *                       [6][3][5][5], "bn1.running_mean" [16], ...), chunked
 *                       (one chunk), Fletcher32
 *   /@format = "sinreq-model", /@format_version = 1, @net, @width,
 *   @classes, @input (int32 [3]: C, H, W), @quantizer, @act_bits,
 *   @regularizer, @norm_mean, @norm_std (float32 [3], the loader's
 *   normalisation, so eval feeds the network what training fed it),
 *   @program_version, @created_at
 *   /quant@layers (string [L], every conv/linear layer in network order),
 *   @quantized, @bits, @act_bits (int32 [L]), @beta (float32 [L], WaveQ's
 *   learned bitwidths; 0 when WaveQ was off)
 *   /network_file       uint8 [bytes], only for a network built from a
 *                       network file: the file's text as it was built, so
 *                       the model is evaluated without the file (export
 *                       files carry it too); chunked, Fletcher32
 *
 * Writing is atomic: "<path>.tmp", fsync, rename, fsync of the directory.
 * Reading checks the format, version and every attribute (in range:
 * width, classes, input, bits 0..16 with 0 exactly for float layers,
 * quantized 0/1, finite betas and normalisation, a positive std), and
 * reads a tensor only at the shape the caller expects; a missing dataset,
 * a wrong shape, a truncated or corrupted file (Fletcher32) is SR_E_FORMAT
 * or SR_E_IO with the file and the object in the message. Values and the
 * plan against the network are checked in src/train (eval.c). */
#ifndef SINREQ_MODEL_IO_H
#define SINREQ_MODEL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/status.h"

#define SR_MODEL_FORMAT "sinreq-model"
#define SR_MODEL_FORMAT_VERSION 1
#define SR_MODEL_NAME_MAX 128
/* @net: a built-in network's name or the path of its network file */
#define SR_MODEL_NET_MAX 1024

typedef struct sr_model_layer_meta {
    char name[SR_MODEL_NAME_MAX];
    int quantized;
    int bits;       /* 0 when not quantized */
    int act_bits;   /* 0: float activations */
    float beta;     /* WaveQ; 0 when off */
} sr_model_layer_meta;

typedef struct sr_model_meta {
    char net[SR_MODEL_NET_MAX];
    int width;
    int classes;
    int in_c, in_h, in_w;
    char quantizer[16];     /* "none", "dorefa", "wrpn" */
    int act_bits;
    char regularizer[16];   /* "none", "sinreq", "waveq" */
    float norm_mean[3], norm_std[3];
    char program_version[32];
    int n_layers;
    sr_model_layer_meta *layers;
    char *net_text;         /* the network file's text; NULL: built-in */
} sr_model_meta;

/* Free what a read (or filled) meta owns: layers and net_text. */
void sr_model_meta_free(sr_model_meta *m);

typedef struct sr_model_tensor {
    const char *name;
    int ndim;
    int dims[4];
    const float *data;
} sr_model_tensor;

/* Write meta and n tensors to path (atomically; replaces path). */
sr_status sr_model_save(const char *path, const sr_model_meta *m,
                        const sr_model_tensor *t, int n);

typedef struct sr_model_file sr_model_file;

/* Open and validate the format and every attribute. */
sr_status sr_model_open(const char *path, sr_model_file **out);
void sr_model_close(sr_model_file *f);   /* NULL is a no-op */
const sr_model_meta *sr_model_file_meta(const sr_model_file *f);
const char *sr_model_file_path(const sr_model_file *f);

/* The tensors stored under /model (sorted by name). */
int sr_model_file_tensor_count(const sr_model_file *f);
/* name, rank and dims of tensor i (dims has room for 4). */
sr_status sr_model_file_tensor(const sr_model_file *f, int i,
                               const char **name, int *ndim, int *dims);

/* Read tensor `name` into dst, which has the shape (ndim, dims): a missing
 * tensor or another shape is SR_E_FORMAT naming both shapes. */
sr_status sr_model_read(sr_model_file *f, const char *name, int ndim,
                        const int *dims, float *dst);

/* Logits files (`sinreq eval --dump-logits`): /logits float32 [N][K] in
 * the split's order, /labels uint32 [N]; root attributes @format =
 * "sinreq-logits", @format_version = 1, @model, @sinreq_version. Written
 * atomically. */
#define SR_LOGITS_FORMAT "sinreq-logits"
sr_status sr_logits_save(const char *path, const char *model,
                         const float *logits, const uint32_t *labels, long n,
                         int classes);

#endif
