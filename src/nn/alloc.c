/* Device side of a network: storage plan (activation and gradient
 * buffers), parameter slabs, initialisation, release. */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/rng.h"

#define DEFAULT_SLAB_WORDS ((size_t)32 << 20)  /* 128 MiB: lavapipe's cap */
#define INIT_STREAM 0x10000u                   /* dropout uses layer ids */
#define INIT_CHUNK ((size_t)1 << 20)

void sr_nn_opts_default(sr_nn_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->momentum = 0.9f;
    o->weight_decay = 1e-4f;
    o->decay_bn_bias = 1;
    o->bn_eps = 1e-5f;
    o->bn_momentum = 0.1f;
    o->max_slab_words = DEFAULT_SLAB_WORDS;
}

static void free_bufs(sr_backend *be, sr_buf **b, int n)
{
    for (int i = 0; b && i < n; i++) sr_buf_free(be, b[i]);
    free(b);
}

void nn_release_device(sr_nn *net)
{
    sr_backend *be = net->be;
    if (!be) return;
    free_bufs(be, net->param, net->nslabs);
    free_bufs(be, net->grad, net->nslabs);
    free_bufs(be, net->mom, net->nslabs);
    free_bufs(be, net->wq, net->nwq);
    free(net->slab_words);
    net->param = net->grad = net->mom = net->wq = NULL;
    net->slab_words = NULL;
    net->nslabs = net->nwq = 0;
    /* act[0] is the input buffer */
    for (int i = 0; net->act && i < net->nact; i++) sr_buf_free(be, net->act[i].buf);
    for (int i = 0; net->gradst && i < net->ngradst; i++)
        sr_buf_free(be, net->gradst[i].buf);
    free(net->act);
    free(net->gradst);
    net->act = net->gradst = NULL;
    net->nact = net->ngradst = 0;
    for (int i = 0; i < net->nlayers; i++) {
        sr_buf_free(be, net->layers[i].idx);
        net->layers[i].idx = NULL;
    }
    sr_buf *single[] = {net->state, net->bn_save, net->labels, net->scratch,
                        net->dwq, net->metrics, net->beta};
    for (size_t i = 0; i < sizeof single / sizeof *single; i++)
        sr_buf_free(be, single[i]);
    net->state = net->bn_save = net->labels = net->scratch = NULL;
    net->dwq = net->metrics = net->beta = net->input = NULL;
    free(net->written);
    net->written = NULL;
    net->be = NULL;
}

/* ------------------------------------------------------------------ */
/* Storage plan                                                        */

/* arr (of *cap elements of elem bytes) with room for need, new elements
 * zeroed: arr itself, or its larger copy; NULL (arr untouched) when out of
 * memory. Returned rather than stored through a void ** so the caller's
 * typed pointer is never written as another type. */
static void *grow(void *arr, int *cap, int need, size_t elem)
{
    if (need <= *cap) return arr;
    int c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *p = realloc(arr, (size_t)c * elem);
    if (!p) return NULL;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(c - *cap) * elem);
    *cap = c;
    return p;
}

/* Backward position of layer i: backward runs layers last to first. */
static int bpos(const sr_nn *net, int layer) { return net->nlayers - 1 - layer; }

sr_status nn_plan_storage(sr_nn *net)
{
    int cap = 0;
    net->nact = 0;
    /* SINREQ_FUSE=0 keeps every ReLU a pass of its own (the same bits;
     * for measuring what the fusion saves) */
    const char *fuse_env = getenv("SINREQ_FUSE");
    int fuse = !(fuse_env && strcmp(fuse_env, "0") == 0);
    for (int i = 0; i < net->nlayers; i++) net->layers[i].relu_fused = 0;
    /* Which tensors need gradients: those downstream of a parameter. */
    for (int t = 0; t < net->ntensors; t++) {
        nn_tensor *x = &net->tensors[t];
        x->rg = 0;
        if (x->producer < 0) continue;
        const nn_layer *l = &net->layers[x->producer];
        x->rg = l->nparam > 0;
        for (int i = 0; i < l->nin; i++) x->rg |= net->tensors[l->in[i]].rg;
    }
    /* Activations: one storage per tensor, except views and in-place ReLU. */
    for (int t = 0; t < net->ntensors; t++) {
        nn_tensor *x = &net->tensors[t];
        const nn_layer *l = x->producer >= 0 ? &net->layers[x->producer] : NULL;
        if (l && l->kind == SR_NN_FLATTEN) {
            x->act = net->tensors[l->in[0]].act;
            continue;
        }
        if (l && l->kind == SR_NN_RELU) {
            const nn_tensor *in = &net->tensors[l->in[0]];
            int pk = in->producer >= 0 ? (int)net->layers[in->producer].kind : -1;
            /* In place is safe when nobody else reads the input and its
             * producer's backward does not need its own output (true for
             * every kind here but ReLU itself; flatten is a shared view). */
            if (in->nconsumers == 1 && pk >= 0 && pk != SR_NN_FLATTEN &&
                pk != SR_NN_RELU) {
                x->act = in->act;
                /* Nobody reads the producer's output but this ReLU, which
                 * overwrites it: the producer can write max(., 0) itself
                 * and save a pass over the tensor. */
                if ((pk == SR_NN_BATCHNORM || pk == SR_NN_ADD) && fuse) {
                    net->layers[in->producer].relu_fused = 1;
                    net->layers[x->producer].relu_fused = 1;
                }
                continue;
            }
        }
        void *act = grow(net->act, &cap, net->nact + 1, sizeof *net->act);
        if (!act)
            return sr_error(SR_E_NOMEM, "out of memory planning storage");
        net->act = act;
        net->act[net->nact].words = x->numel;
        x->act = net->nact++;
    }

    /* Gradients: storage per tensor (flatten shares its input's), then
     * buffers shared between storages whose lifetimes over the backward
     * pass do not overlap. Lifetime of a gradient: from the backward of its
     * last reader (first to run) to the backward of its producer. */
    int ng = 0;
    for (int t = 0; t < net->ntensors; t++) {
        nn_tensor *x = &net->tensors[t];
        x->grad = -1;
        if (!x->rg) continue;
        const nn_layer *l = &net->layers[x->producer];
        if (l->kind == SR_NN_FLATTEN)
            x->grad = net->tensors[l->in[0]].grad;
        else
            x->grad = ng++;
    }
    int *birth = malloc(((size_t)ng + 1) * sizeof *birth);
    int *death = malloc(((size_t)ng + 1) * sizeof *death);
    int *writers = calloc((size_t)ng + 1, sizeof *writers);
    int *slot = malloc(((size_t)ng + 1) * sizeof *slot);
    size_t *need = calloc((size_t)ng + 1, sizeof *need);
    int *order = malloc(((size_t)ng + 1) * sizeof *order);
    sr_status st = SR_OK;
    if (!birth || !death || !writers || !slot || !need || !order) {
        st = sr_error(SR_E_NOMEM, "out of memory planning storage");
        goto out_free;
    }
    for (int g = 0; g < ng; g++) {
        birth[g] = net->nlayers;
        death[g] = -1;
    }
    for (int t = 0; t < net->ntensors; t++) {
        const nn_tensor *x = &net->tensors[t];
        if (x->grad < 0) continue;
        const nn_layer *pl = &net->layers[x->producer];
        if (pl->kind != SR_NN_FLATTEN) {
            death[x->grad] = bpos(net, x->producer);
            need[x->grad] = x->numel;
        }
        if (t == net->logits) birth[x->grad] = -1;  /* softmax_xent */
    }
    for (int i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        if (l->kind == SR_NN_FLATTEN) continue;
        for (int k = 0; k < l->nin; k++) {
            int g = net->tensors[l->in[k]].grad;
            if (g < 0) continue;
            writers[g]++;
            if (bpos(net, i) < birth[g]) birth[g] = bpos(net, i);
        }
    }
    size_t scratch = 0;
    /* BN backward always writes dx, even where no gradient is wanted. */
    for (int i = 0; i < net->nlayers; i++) {
        const nn_tensor *x = &net->tensors[net->layers[i].in[0]];
        if (net->layers[i].kind == SR_NN_BATCHNORM && !x->rg &&
            x->numel > scratch)
            scratch = x->numel;
    }
    for (int g = 0; g < ng; g++) {
        if (writers[g] > 1 && need[g] > scratch) scratch = need[g];
        order[g] = g;
    }
    /* insertion sort by birth (a few hundred entries at most) */
    for (int i = 1; i < ng; i++) {
        int v = order[i], j = i;
        while (j > 0 && birth[order[j - 1]] > birth[v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    int nbuf = 0, capb = 0;
    int *busy_until = NULL;  /* per buffer: death of its current occupant */
    for (int k = 0; k < ng; k++) {
        int g = order[k], best = -1;
        for (int b = 0; b < nbuf; b++) {
            if (busy_until[b] >= birth[g]) continue;
            size_t w = net->gradst[b].words;
            if (best < 0) { best = b; continue; }
            size_t bw = net->gradst[best].words;
            /* prefer the smallest that fits, else the largest */
            if ((w >= need[g] && (bw < need[g] || w < bw)) ||
                (bw < need[g] && w > bw))
                best = b;
        }
        if (best < 0) {
            void *gs = grow(net->gradst, &capb, nbuf + 1,
                            sizeof *net->gradst);
            if (!gs) {
                st = sr_error(SR_E_NOMEM, "out of memory planning storage");
                free(busy_until);
                goto out_free;
            }
            net->gradst = gs;
            int *bu = realloc(busy_until, (size_t)capb * sizeof *bu);
            if (!bu) {
                st = sr_error(SR_E_NOMEM, "out of memory planning storage");
                free(busy_until);
                goto out_free;
            }
            busy_until = bu;
            best = nbuf++;
            net->gradst[best].words = 0;
        }
        if (net->gradst[best].words < need[g]) net->gradst[best].words = need[g];
        busy_until[best] = death[g];
        slot[g] = best;
    }
    free(busy_until);
    net->ngradst = nbuf;
    net->ngrad = ng;
    for (int t = 0; t < net->ntensors; t++) {
        nn_tensor *x = &net->tensors[t];
        x->gbuf = x->grad >= 0 ? slot[x->grad] : -1;
    }
    if (scratch) {
        st = sr_buf_alloc(net->be, SR_POOL_ACTIVATIONS, scratch, &net->scratch);
        if (st != SR_OK) goto out_free;
    }
out_free:
    free(birth);
    free(death);
    free(writers);
    free(slot);
    free(need);
    free(order);
    return st;
}

/* ------------------------------------------------------------------ */
/* Slabs                                                               */

/* Place tensors (sizes[i] words, in the given order) into slabs of at
 * most max words; a tensor larger than max gets a slab of its own. */
static sr_status place(size_t n, const size_t *sizes, size_t max, int *slab,
                       size_t *off, int *nslabs, size_t **slab_words)
{
    size_t *sw = calloc(n + 1, sizeof *sw);
    SR_CHECK(sw, SR_E_NOMEM, "out of memory placing tensors");
    int s = 0;
    for (size_t i = 0; i < n; i++) {
        if (sw[s] > 0 && sw[s] + sizes[i] > max) s++;
        slab[i] = s;
        off[i] = sw[s];
        sw[s] += sizes[i];
    }
    *nslabs = n ? s + 1 : 0;
    *slab_words = sw;
    return SR_OK;
}

static sr_status alloc_n(sr_backend *be, sr_pool pool, int n,
                         const size_t *words, sr_buf ***out)
{
    *out = calloc((size_t)n + 1, sizeof **out);
    SR_CHECK(*out, SR_E_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) SR_TRY(sr_buf_alloc(be, pool, words[i], &(*out)[i]));
    return SR_OK;
}

static sr_status alloc_params(sr_nn *net)
{
    size_t max = net->opts.max_slab_words;
    /* trainable tensors in reverse layer order (logits layer first) */
    int np = 0;
    for (int i = 0; i < net->ntinfo; i++) np += net->tinfo[i].pub.trainable;
    int *ids = malloc(((size_t)np + 1) * sizeof *ids);
    size_t *sizes = malloc(((size_t)np + 1) * sizeof *sizes);
    size_t *offs = malloc(((size_t)np + 1) * sizeof *offs);
    int *slabs = malloc(((size_t)np + 1) * sizeof *slabs);
    sr_status st = SR_E_NOMEM;
    if (!ids || !sizes || !offs || !slabs) {
        sr_error(SR_E_NOMEM, "out of memory placing parameters");
        goto out_free;
    }
    int k = 0;
    for (int l = net->nlayers - 1; l >= 0; l--)
        for (int j = 0; j < net->layers[l].nparam; j++) {
            ids[k] = net->layers[l].param[j];
            sizes[k] = net->tinfo[ids[k]].pub.numel;
            k++;
        }
    st = place((size_t)np, sizes, max, slabs, offs, &net->nslabs,
               &net->slab_words);
    if (st != SR_OK) goto out_free;
    for (k = 0; k < np; k++) {
        net->tinfo[ids[k]].pub.slab = slabs[k];
        net->tinfo[ids[k]].pub.off = offs[k];
    }
    if ((st = alloc_n(net->be, SR_POOL_WEIGHTS, net->nslabs, net->slab_words,
                      &net->param)) != SR_OK ||
        (st = alloc_n(net->be, SR_POOL_WEIGHTS, net->nslabs, net->slab_words,
                      &net->grad)) != SR_OK ||
        (st = alloc_n(net->be, SR_POOL_WEIGHTS, net->nslabs, net->slab_words,
                      &net->mom)) != SR_OK)
        goto out_free;

    /* Quantized weights Wq, same placement rule, layer order. */
    if (net->nq) {
        size_t *qs = realloc(sizes, ((size_t)net->nq + 1) * sizeof *qs);
        if (!qs) {
            st = sr_error(SR_E_NOMEM, "out of memory placing Wq");
            goto out_free;
        }
        sizes = qs;
        size_t *qo = realloc(offs, ((size_t)net->nq + 1) * sizeof *qo);
        int *qsl = realloc(slabs, ((size_t)net->nq + 1) * sizeof *qsl);
        if (qo) offs = qo;
        if (qsl) slabs = qsl;
        if (!qo || !qsl) {
            st = sr_error(SR_E_NOMEM, "out of memory placing Wq");
            goto out_free;
        }
        size_t maxq = 0;
        for (int q = 0; q < net->nq; q++) {
            const nn_layer *l = &net->layers[net->q[q].layer];
            sizes[q] = net->tinfo[l->param[0]].pub.numel;
            if (sizes[q] > maxq) maxq = sizes[q];
        }
        size_t *qw = NULL;
        st = place((size_t)net->nq, sizes, max, slabs, offs, &net->nwq, &qw);
        if (st != SR_OK) goto out_free;
        for (int q = 0; q < net->nq; q++) {
            net->q[q].slab = slabs[q];
            net->q[q].wq_off = offs[q];
        }
        st = alloc_n(net->be, SR_POOL_WEIGHTS, net->nwq, qw, &net->wq);
        free(qw);
        if (st != SR_OK) goto out_free;
        st = sr_buf_alloc(net->be, SR_POOL_ACTIVATIONS, maxq, &net->dwq);
        if (st != SR_OK) goto out_free;
    }
    st = SR_OK;
out_free:
    free(ids);
    free(sizes);
    free(offs);
    free(slabs);
    return st;
}

static sr_status alloc_rest(sr_nn *net)
{
    sr_backend *be = net->be;
    /* running statistics, in table order */
    size_t sw = 0;
    for (int i = 0; i < net->ntinfo; i++) {
        if (net->tinfo[i].pub.trainable) continue;
        net->tinfo[i].pub.off = sw;
        sw += net->tinfo[i].pub.numel;
    }
    net->state_words = sw;
    if (sw) SR_TRY(sr_buf_alloc(be, SR_POOL_WEIGHTS, sw, &net->state));
    size_t bs = 0;
    for (int i = 0; i < net->nlayers; i++) {
        nn_layer *l = &net->layers[i];
        if (l->kind == SR_NN_BATCHNORM) {
            l->bn_save = bs;
            bs += 2 * (size_t)net->tensors[l->out].c;
        }
        if (l->kind == SR_NN_MAXPOOL)
            SR_TRY(sr_buf_alloc(be, SR_POOL_ACTIVATIONS,
                                net->tensors[l->out].numel, &l->idx));
    }
    if (bs) SR_TRY(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, bs, &net->bn_save));
    for (int i = 0; i < net->nact; i++)
        SR_TRY(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, net->act[i].words,
                            &net->act[i].buf));
    net->input = net->act[0].buf;
    for (int i = 0; i < net->ngradst; i++)
        SR_TRY(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, net->gradst[i].words,
                            &net->gradst[i].buf));
    SR_TRY(sr_buf_alloc(be, SR_POOL_ACTIVATIONS, (size_t)net->batch,
                        &net->labels));
    SR_TRY(sr_buf_alloc(be, SR_POOL_STAGING, 2 + 2 * (size_t)net->nq,
                        &net->metrics));
    if (net->nq)
        SR_TRY(sr_buf_alloc(be, SR_POOL_WEIGHTS, 3 * (size_t)net->nq,
                            &net->beta));
    net->written = calloc((size_t)net->ngrad + 1, 1);
    SR_CHECK(net->written, SR_E_NOMEM, "out of memory");
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Initialisation                                                      */

static size_t fan_in(const sr_nn *net, const nn_layer *l)
{
    const sr_nn_tensor_info *w = &net->tinfo[l->param[0]].pub;
    return w->numel / (size_t)w->dims[0];
}

static sr_status write_fill(sr_nn *net, sr_buf *buf, size_t off, size_t n,
                            float v, float *tmp)
{
    for (size_t i = 0; i < INIT_CHUNK && i < n; i++) tmp[i] = v;
    for (size_t i = 0; i < n; i += INIT_CHUNK) {
        size_t m = n - i < INIT_CHUNK ? n - i : INIT_CHUNK;
        SR_TRY(sr_buf_write(net->be, buf, off + i, m, tmp));
    }
    return SR_OK;
}

sr_status sr_nn_init_params(sr_nn *net, uint32_t seed)
{
    SR_CHECK(net->be, SR_E_ARG, "%s: not allocated", net->name);
    float *tmp = malloc(INIT_CHUNK * sizeof *tmp);
    SR_CHECK(tmp, SR_E_NOMEM, "out of memory initialising %s", net->name);
    sr_status st = SR_OK;
    for (int i = 0; i < net->ntinfo && st == SR_OK; i++) {
        const sr_nn_tensor_info *t = &net->tinfo[i].pub;
        const nn_layer *l = &net->layers[t->layer];
        switch (t->role) {
        case SR_NN_WEIGHT:
        case SR_NN_BIAS: {
            /* kaiming_uniform(a = sqrt 5) and PyTorch's bias rule reduce to
             * the same bound 1/sqrt(fan_in). */
            float bound = (float)(1.0 / sqrt((double)fan_in(net, l)));
            uint32_t key = sr_rng_key(seed, INIT_STREAM + (uint32_t)i, 0);
            for (size_t k = 0; k < t->numel && st == SR_OK; k += INIT_CHUNK) {
                size_t m = t->numel - k < INIT_CHUNK ? t->numel - k : INIT_CHUNK;
                for (size_t j = 0; j < m; j++)
                    tmp[j] = bound * (2.0f * sr_rng_uniform(key,
                                      (uint32_t)(k + j)) - 1.0f);
                st = sr_buf_write(net->be, net->param[t->slab], t->off + k, m,
                                  tmp);
            }
            break;
        }
        case SR_NN_BN_WEIGHT:
            st = write_fill(net, net->param[t->slab], t->off, t->numel, 1.0f, tmp);
            break;
        case SR_NN_BN_BIAS:
            st = write_fill(net, net->param[t->slab], t->off, t->numel, 0.0f, tmp);
            break;
        case SR_NN_RUNNING_MEAN:
            st = write_fill(net, net->state, t->off, t->numel, 0.0f, tmp);
            break;
        case SR_NN_RUNNING_VAR:
            st = write_fill(net, net->state, t->off, t->numel, 1.0f, tmp);
            break;
        }
    }
    for (int s = 0; s < net->nslabs && st == SR_OK; s++) {
        st = sr_fill(net->be, net->slab_words[s], 0.0f, sr_at(net->mom[s], 0));
        if (st == SR_OK)
            st = sr_fill(net->be, net->slab_words[s], 0.0f, sr_at(net->grad[s], 0));
    }
    if (st == SR_OK && net->nq) {
        st = write_fill(net, net->beta, 0, (size_t)net->nq,
                        net->qopts.beta_init, tmp);
        if (st == SR_OK)
            st = sr_fill(net->be, 2 * (size_t)net->nq, 0.0f,
                         sr_at(net->beta, (size_t)net->nq));
    }
    if (st == SR_OK)
        st = sr_fill(net->be, 2 + 2 * (size_t)net->nq, 0.0f,
                     sr_at(net->metrics, 0));
    free(tmp);
    return st;
}

sr_status sr_nn_alloc(sr_nn *net, sr_backend *be, const sr_nn_opts *o)
{
    SR_CHECK(net && be, SR_E_ARG, "sr_nn_alloc: NULL argument");
    if (net->status != SR_OK) return net->status;
    SR_CHECK(net->built, SR_E_ARG, "%s: sr_nn_set_output was not called",
             net->name);
    SR_CHECK(!net->be, SR_E_ARG, "%s: already allocated", net->name);
    if (o)
        net->opts = *o;
    else
        sr_nn_opts_default(&net->opts);
    if (!net->opts.max_slab_words) net->opts.max_slab_words = DEFAULT_SLAB_WORDS;
    SR_CHECK(net->opts.momentum >= 0.0f && net->opts.momentum < 1.0f,
             SR_E_ARG, "SGD momentum %g outside [0, 1)",
             (double)net->opts.momentum);
    SR_CHECK(net->opts.weight_decay >= 0.0f, SR_E_ARG,
             "weight decay %g is negative", (double)net->opts.weight_decay);
    SR_CHECK(net->opts.label_smoothing >= 0.0f &&
             net->opts.label_smoothing < 1.0f, SR_E_ARG,
             "label smoothing %g outside [0, 1)",
             (double)net->opts.label_smoothing);
    SR_CHECK(net->opts.bn_eps > 0.0f, SR_E_ARG, "BN eps must be > 0");
    SR_CHECK(net->opts.bn_momentum >= 0.0f && net->opts.bn_momentum <= 1.0f,
             SR_E_ARG, "BN momentum outside [0, 1]");
    net->be = be;
    sr_status st = nn_plan_storage(net);
    if (st == SR_OK) st = alloc_params(net);
    if (st == SR_OK) st = alloc_rest(net);
    if (st == SR_OK) st = sr_nn_init_params(net, net->opts.seed);
    if (st == SR_OK) st = sr_fill(be, sr_buf_words(net->labels), 0.0f,
                                  sr_at(net->labels, 0));
    if (st == SR_OK) st = sr_fill(be, sr_buf_words(net->input), 0.0f,
                                  sr_at(net->input, 0));
    if (st != SR_OK) nn_release_device(net);
    return st;
}
