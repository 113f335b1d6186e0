/* Helpers shared by the tests that run networks on a backend. */
#ifndef SR_NN_UTIL_H
#define SR_NN_UTIL_H

#include "nn_test.h"

#include "sinreq/backend.h"
#include "sinreq/models.h"
#include "sinreq/nn.h"
#include "sinreq/quant.h"
#include "sinreq/rng.h"

/* Build a model (or NULL opts for float32), plan, allocate. */
/* The same with training options (o->seed is replaced by seed). */
static inline sr_status nu_model_opts(sr_backend *be, const char *name,
                                      int batch, const sr_quant_opts *q,
                                      uint32_t seed, const sr_nn_opts *opts,
                                      sr_nn **out)
{
    sr_model_opts mo = {.name = name, .batch = batch};
    sr_nn *net;
    SR_TRY(sr_model_build(&mo, &net));
    sr_nn_opts o = *opts;
    o.seed = seed;
    sr_status st = q ? sr_nn_set_quant(net, q) : SR_OK;
    if (st == SR_OK) st = sr_nn_alloc(net, be, &o);
    if (st != SR_OK) {
        sr_nn_free(net);
        return st;
    }
    *out = net;
    return SR_OK;
}

static inline sr_status nu_model(sr_backend *be, const char *name, int batch,
                                 const sr_quant_opts *q, uint32_t seed,
                                 sr_nn **out)
{
    sr_model_opts mo = {.name = name, .batch = batch};
    sr_nn *net;
    SR_TRY(sr_model_build(&mo, &net));
    sr_nn_opts o;
    sr_nn_opts_default(&o);
    o.seed = seed;
    sr_status st = q ? sr_nn_set_quant(net, q) : SR_OK;
    if (st == SR_OK) st = sr_nn_alloc(net, be, &o);
    if (st != SR_OK) {
        sr_nn_free(net);
        return st;
    }
    *out = net;
    return SR_OK;
}

/* A reproducible batch: x ~ U(-1, 1), labels drawn from the RNG. */
static inline sr_status nu_batch(sr_nn *net, int c, int h, int w,
                                 uint32_t seed)
{
    int n = sr_nn_batch(net);
    size_t len = (size_t)n * (size_t)c * (size_t)h * (size_t)w;
    float *x = malloc(len * sizeof *x);
    uint32_t *y = malloc((size_t)n * sizeof *y);
    SR_CHECK(x && y, SR_E_NOMEM, "test: out of memory");
    uint32_t key = sr_rng_key(seed, 77, 0);
    for (size_t i = 0; i < len; i++)
        x[i] = 2.0f * sr_rng_uniform(key, (uint32_t)i) - 1.0f;
    for (int i = 0; i < n; i++)
        y[i] = sr_rng_u32(key ^ 0x5555u, (uint32_t)i) %
               (uint32_t)sr_nn_classes(net);
    sr_status st = sr_nn_set_batch(net, x, y);
    free(x);
    free(y);
    return st;
}

static inline sr_status nu_scalars(sr_nn *net, float lr, uint32_t step,
                                   float lambda)
{
    sr_nn_scalars s = {.lr = lr, .step = step, .lambda = lambda,
                       .waveq_w = 1.0f, .waveq_beta = 0.03f,
                       .beta_lr = 0.01f};
    return sr_nn_set_scalars(net, &s);
}

/* All trainable parameters, concatenated in table order (malloc'd). */
static inline float *nu_params(sr_nn *net, size_t *n)
{
    size_t total = sr_nn_param_count(net), off = 0;
    float *p = malloc((total ? total : 1) * sizeof *p);
    if (!p) return NULL;
    for (int i = 0; i < sr_nn_tensor_count(net); i++) {
        const sr_nn_tensor_info *t = sr_nn_tensor(net, i);
        if (!t->trainable) continue;
        if (sr_nn_read_tensor(net, i, p + off) != SR_OK) {
            free(p);
            return NULL;
        }
        off += t->numel;
    }
    *n = total;
    return p;
}

#endif
