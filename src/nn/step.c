/* One step as backend ops: forward, loss, backward (with the quantizers'
 * STE and the regularizer), SGD. Only ops are emitted here, never host
 * reads or writes, so any of these can be captured into a program. */
#include "nn_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Views                                                               */

sr_view nn_param_view(sr_nn *net, int t)
{
    const sr_nn_tensor_info *i = &net->tinfo[t].pub;
    return sr_at(net->param[i->slab], i->off);
}

sr_view nn_grad_view(sr_nn *net, int t)
{
    const sr_nn_tensor_info *i = &net->tinfo[t].pub;
    return sr_at(net->grad[i->slab], i->off);
}

sr_view nn_state_view(sr_nn *net, int t)
{
    return sr_at(net->state, net->tinfo[t].pub.off);
}

static sr_view act(sr_nn *net, int t)
{
    return sr_at(net->act[net->tensors[t].act].buf, 0);
}

static sr_view dact(sr_nn *net, int t)
{
    return sr_at(net->gradst[net->tensors[t].gbuf].buf, 0);
}

static sr_view metric(sr_nn *net, size_t i) { return sr_at(net->metrics, i); }

static sr_status need_alloc(const sr_nn *net)
{
    SR_CHECK(net->be, SR_E_ARG, "%s: call sr_nn_alloc first", net->name);
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Descriptors                                                         */

static sr_conv2d_desc conv_desc(const sr_nn *net, const nn_layer *l)
{
    const nn_tensor *x = &net->tensors[l->in[0]];
    sr_conv2d_desc d = {.n = net->batch, .c = x->c, .h = x->h, .w = x->w,
                        .k = l->out_c, .kh = l->kernel, .kw = l->kernel,
                        .stride = l->stride, .pad = l->pad, .bias = l->bias,
                        .act_bits = l->q.act_bits};
    return d;
}

static sr_linear_desc linear_desc(const sr_nn *net, const nn_layer *l)
{
    sr_linear_desc d = {.n = net->batch, .in = l->in_features,
                        .out = l->out_c, .bias = l->bias,
                        .act_bits = l->q.act_bits};
    return d;
}

static sr_bn_desc bn_desc(const sr_nn *net, const nn_layer *l)
{
    const nn_tensor *x = &net->tensors[l->in[0]];
    sr_bn_desc d = {.n = net->batch, .c = x->c, .hw = x->h * x->w,
                    .eps = net->opts.bn_eps, .momentum = net->opts.bn_momentum};
    return d;
}

static sr_pool_desc pool_desc(const sr_nn *net, const nn_layer *l)
{
    const nn_tensor *x = &net->tensors[l->in[0]];
    sr_pool_desc d = {.n = net->batch, .c = x->c, .h = x->h, .w = x->w,
                      .k = l->kernel, .stride = l->stride, .pad = l->pad};
    return d;
}

static sr_avgpool_desc avg_desc(const sr_nn *net, const nn_layer *l)
{
    const nn_tensor *x = &net->tensors[l->in[0]];
    sr_avgpool_desc d = {.n = net->batch, .c = x->c, .h = x->h, .w = x->w,
                         .oh = l->oh, .ow = l->ow};
    return d;
}

static sr_dropout_desc drop_desc(const sr_nn *net, const nn_layer *l)
{
    sr_dropout_desc d = {.n = net->tensors[l->out].numel, .p = l->p,
                         .seed = net->opts.seed,
                         .stream = (uint32_t)(l - net->layers),
                         .step_slot = SR_NN_SLOT_STEP};
    return d;
}

/* ------------------------------------------------------------------ */
/* Forward                                                             */

/* The weight a conv/linear multiplies: Q(W) for a quantized layer. */
static sr_status layer_weight(sr_nn *net, const nn_layer *l, int train,
                              sr_view *w)
{
    *w = nn_param_view(net, l->param[0]);
    if (l->qidx < 0) return SR_OK;
    const nn_qlayer *q = &net->q[l->qidx];
    sr_view wq = sr_at(net->wq[q->slab], q->wq_off);
    sr_view err = train ? metric(net, 2 + (size_t)net->nq + (size_t)l->qidx)
                        : SR_NONE;
    SR_TRY(sr_quant_emit_fwd(net->be, &l->q, net->tinfo[l->param[0]].pub.numel,
                             *w, wq, err));
    *w = wq;
    return SR_OK;
}

static sr_status forward_layer(sr_nn *net, const nn_layer *l, int train)
{
    sr_backend *be = net->be;
    sr_view x = act(net, l->in[0]), y = act(net, l->out);
    size_t n = net->tensors[l->out].numel;
    sr_view w, b = l->bias ? nn_param_view(net, l->param[1]) : SR_NONE;
    switch (l->kind) {
    case SR_NN_CONV2D: {
        sr_conv2d_desc d = conv_desc(net, l);
        SR_TRY(layer_weight(net, l, train, &w));
        if (l->depthwise) return sr_dwconv2d_fwd(be, &d, x, w, b, y);
        return sr_conv2d_fwd(be, &d, x, w, b, y);
    }
    case SR_NN_LINEAR: {
        sr_linear_desc d = linear_desc(net, l);
        SR_TRY(layer_weight(net, l, train, &w));
        return sr_linear_fwd(be, &d, x, w, b, y);
    }
    case SR_NN_BATCHNORM: {
        sr_bn_desc d = bn_desc(net, l);
        sr_view g = nn_param_view(net, l->param[0]);
        sr_view be_ = nn_param_view(net, l->param[1]);
        sr_view rm = nn_state_view(net, l->state[0]);
        sr_view rv = nn_state_view(net, l->state[1]);
        d.relu = l->relu_fused;
        if (!train) return sr_bn_fwd_eval(be, &d, x, g, be_, rm, rv, y);
        sr_view sm = sr_at(net->bn_save, l->bn_save);
        sr_view si = sr_at(net->bn_save, l->bn_save + (size_t)d.c);
        return sr_bn_fwd_train(be, &d, x, g, be_, rm, rv, sm, si, y);
    }
    case SR_NN_RELU:  /* fused: its producer wrote max(., 0) already */
        return l->relu_fused ? SR_OK : sr_relu_fwd(be, n, x, y);
    case SR_NN_DROPOUT: {
        if (!train || l->p == 0.0f) return sr_copy(be, n, x, y);
        sr_dropout_desc d = drop_desc(net, l);
        return sr_dropout_fwd(be, &d, x, y);
    }
    case SR_NN_MAXPOOL: {
        sr_pool_desc d = pool_desc(net, l);
        return sr_maxpool_fwd(be, &d, x, y, sr_at(l->idx, 0));
    }
    case SR_NN_AVGPOOL: {
        sr_avgpool_desc d = avg_desc(net, l);
        return sr_avgpool_fwd(be, &d, x, y);
    }
    case SR_NN_ADD:
        return (l->relu_fused ? sr_add_relu : sr_add)(be, n, x,
                                                      act(net, l->in[1]), y);
    case SR_NN_FLATTEN:
        return SR_OK;  /* a view */
    }
    return sr_error(SR_E_INTERNAL, "unknown layer kind %d", (int)l->kind);
}

sr_status sr_nn_forward(sr_nn *net, int train)
{
    SR_TRY(need_alloc(net));
    for (int i = 0; i < net->nlayers; i++)
        SR_TRY(forward_layer(net, &net->layers[i], train));
    net->train_forward = train;
    return SR_OK;
}

sr_status sr_nn_loss(sr_nn *net, int n_valid)
{
    SR_TRY(need_alloc(net));
    if (n_valid == 0) n_valid = net->batch;
    SR_CHECK(n_valid > 0 && n_valid <= net->batch, SR_E_ARG,
             "%s: %d valid rows outside [1, %d]", net->name, n_valid,
             net->batch);
    SR_CHECK(net->tensors[net->logits].grad >= 0, SR_E_ARG,
             "%s: the network has no parameters to train", net->name);
    sr_view logits = act(net, net->logits);
    sr_view labels = sr_at(net->labels, 0);
    /* label smoothing shapes training; evaluation reports plain xent */
    float eps = net->train_forward ? net->opts.label_smoothing : 0.0f;
    SR_TRY(sr_softmax_xent_smooth(net->be, n_valid, net->classes, eps, logits,
                                  labels, metric(net, 0),
                                  dact(net, net->logits)));
    return sr_top1_count(net->be, n_valid, net->classes, logits, labels,
                         metric(net, 1));
}

/* ------------------------------------------------------------------ */
/* Backward                                                            */

/* Where the gradient of input tensor t goes: its buffer on the first
 * write, the scratch buffer (then added) on later ones. */
static sr_view grad_dst(sr_nn *net, int t, int *accumulate)
{
    int g = net->tensors[t].grad;
    if (g < 0) {  /* no gradient wanted (BN on the input) */
        *accumulate = 0;
        return sr_at(net->scratch, 0);
    }
    *accumulate = net->written[g];
    net->written[g] = 1;
    return *accumulate ? sr_at(net->scratch, 0) : dact(net, t);
}

static sr_status grad_done(sr_nn *net, int t, int accumulate)
{
    if (!accumulate) return SR_OK;
    sr_view g = dact(net, t);
    return sr_add(net->be, net->tensors[t].numel, g, sr_at(net->scratch, 0), g);
}

/* Weight gradient of a conv/linear: straight into the gradient slab, or
 * through dWq, the quantizer's backward and the regularizer. */
static sr_status weight_grad(sr_nn *net, const nn_layer *l, sr_view x,
                             sr_view dy)
{
    sr_backend *be = net->be;
    sr_view dw = nn_grad_view(net, l->param[0]);
    sr_view db = l->bias ? nn_grad_view(net, l->param[1]) : SR_NONE;
    sr_view target = l->qidx >= 0 ? sr_at(net->dwq, 0) : dw;
    if (l->kind == SR_NN_CONV2D) {
        sr_conv2d_desc d = conv_desc(net, l);
        SR_TRY(l->depthwise
                   ? sr_dwconv2d_bwd_weight(be, &d, x, dy, target, db)
                   : sr_conv2d_bwd_weight(be, &d, x, dy, target, db));
    } else {
        sr_linear_desc d = linear_desc(net, l);
        SR_TRY(sr_linear_bwd_weight(be, &d, x, dy, target, db));
    }
    if (l->qidx < 0) return SR_OK;
    size_t n = net->tinfo[l->param[0]].pub.numel;
    sr_view w = nn_param_view(net, l->param[0]);
    SR_TRY(sr_quant_emit_bwd(be, &l->q, n, w, target, dw));
    sr_quant_reg_args a = {
        .reg = net->qopts.reg,
        .divisor = (float)(net->qopts.norm == SR_QUANT_NORM_GLOBAL
                               ? net->q_numel : n),
        .lambda_slot = SR_NN_SLOT_LAMBDA,
        .wq_w_slot = SR_NN_SLOT_WAVEQ_W,
        .wq_beta_slot = SR_NN_SLOT_WAVEQ_BETA,
        .beta = sr_at(net->beta, (size_t)l->qidx),
        .dbeta = sr_at(net->beta, (size_t)net->nq + (size_t)l->qidx),
    };
    return sr_quant_emit_reg(be, &l->q, n, &a, w, dw,
                             metric(net, 2 + (size_t)l->qidx));
}

static sr_status backward_layer(sr_nn *net, const nn_layer *l)
{
    sr_backend *be = net->be;
    int in = l->in[0], acc;
    int want = net->tensors[in].rg;
    sr_view x = act(net, in), y = act(net, l->out), dy = dact(net, l->out);
    size_t n = net->tensors[l->out].numel;
    sr_view dx;
    switch (l->kind) {
    case SR_NN_CONV2D: {
        SR_TRY(weight_grad(net, l, x, dy));
        if (!want) return SR_OK;
        sr_conv2d_desc d = conv_desc(net, l);
        sr_view w = l->qidx >= 0 ? sr_at(net->wq[net->q[l->qidx].slab],
                                         net->q[l->qidx].wq_off)
                                 : nn_param_view(net, l->param[0]);
        dx = grad_dst(net, in, &acc);
        SR_TRY(l->depthwise ? sr_dwconv2d_bwd_data(be, &d, dy, w, x, dx)
                            : sr_conv2d_bwd_data(be, &d, dy, w, x, dx));
        return grad_done(net, in, acc);
    }
    case SR_NN_LINEAR: {
        SR_TRY(weight_grad(net, l, x, dy));
        if (!want) return SR_OK;
        sr_linear_desc d = linear_desc(net, l);
        sr_view w = l->qidx >= 0 ? sr_at(net->wq[net->q[l->qidx].slab],
                                         net->q[l->qidx].wq_off)
                                 : nn_param_view(net, l->param[0]);
        dx = grad_dst(net, in, &acc);
        SR_TRY(sr_linear_bwd_data(be, &d, dy, w, x, dx));
        return grad_done(net, in, acc);
    }
    case SR_NN_BATCHNORM: {
        sr_bn_desc d = bn_desc(net, l);
        dx = grad_dst(net, in, &acc);
        SR_TRY(sr_bn_bwd(be, &d, x, dy, nn_param_view(net, l->param[0]),
                         sr_at(net->bn_save, l->bn_save),
                         sr_at(net->bn_save, l->bn_save + (size_t)d.c), dx,
                         nn_grad_view(net, l->param[0]),
                         nn_grad_view(net, l->param[1])));
        return want ? grad_done(net, in, acc) : SR_OK;
    }
    default:
        break;
    }
    if (l->kind == SR_NN_FLATTEN || !want) return SR_OK;
    if (l->kind == SR_NN_ADD) {
        for (int k = 0; k < 2; k++) {
            int t = l->in[k];
            int g = net->tensors[t].grad;
            if (g < 0) continue;
            sr_view gv = dact(net, t);
            if (net->written[g])
                SR_TRY(sr_add(be, n, gv, dy, gv));
            else
                SR_TRY(sr_copy(be, n, dy, gv));
            net->written[g] = 1;
        }
        return SR_OK;
    }
    dx = grad_dst(net, in, &acc);
    switch (l->kind) {
    case SR_NN_RELU:
        SR_TRY(sr_relu_bwd(be, n, y, dy, dx));
        break;
    case SR_NN_DROPOUT:
        if (l->p == 0.0f) {
            SR_TRY(sr_copy(be, n, dy, dx));
        } else {
            sr_dropout_desc d = drop_desc(net, l);
            SR_TRY(sr_dropout_bwd(be, &d, dy, dx));
        }
        break;
    case SR_NN_MAXPOOL: {
        sr_pool_desc d = pool_desc(net, l);
        SR_TRY(sr_maxpool_bwd(be, &d, dy, sr_at(l->idx, 0), dx));
        break;
    }
    case SR_NN_AVGPOOL: {
        sr_avgpool_desc d = avg_desc(net, l);
        SR_TRY(sr_avgpool_bwd(be, &d, dy, dx));
        break;
    }
    default:
        return sr_error(SR_E_INTERNAL, "unknown layer kind %d", (int)l->kind);
    }
    return grad_done(net, in, acc);
}

sr_status sr_nn_backward_begin(sr_nn *net)
{
    SR_TRY(need_alloc(net));
    memset(net->written, 0, (size_t)net->ngrad);
    net->written[net->tensors[net->logits].grad] = 1;  /* sr_nn_loss */
    net->bwd_next = net->nlayers - 1;
    if (net->nq && net->qopts.reg == SR_QUANT_REG_WAVEQ)
        SR_TRY(sr_fill(net->be, (size_t)net->nq, 0.0f,
                       sr_at(net->beta, (size_t)net->nq)));
    return SR_OK;
}

sr_status sr_nn_backward_until(sr_nn *net, int layer)
{
    SR_TRY(need_alloc(net));
    SR_CHECK(layer >= 0 && layer < net->nlayers, SR_E_ARG,
             "%s: backward down to layer %d of %d", net->name, layer,
             net->nlayers);
    /* bwd_next < layer: a later call for a layer done already, or no
     * sr_nn_backward_begin (bwd_next is -1 after a complete pass) */
    SR_CHECK(net->bwd_next >= layer, SR_E_ARG,
             "%s: backward down to layer %d, but the pass %s", net->name,
             layer, net->bwd_next < 0 ? "is not begun (sr_nn_backward_begin)"
                                      : "is past it (call in decreasing order)");
    for (; net->bwd_next >= layer; net->bwd_next--) {
        const nn_layer *l = &net->layers[net->bwd_next];
        if (!net->tensors[l->out].rg) continue;
        SR_TRY(backward_layer(net, l));
    }
    return SR_OK;
}

sr_status sr_nn_backward(sr_nn *net)
{
    SR_TRY(sr_nn_backward_begin(net));
    return sr_nn_backward_until(net, 0);
}

/* Word offset of slab s's first word in the slabs laid end to end. */
static size_t slab_start(const sr_nn *net, int s)
{
    size_t w = 0;
    for (int i = 0; i < s; i++) w += net->slab_words[i];
    return w;
}

size_t sr_nn_grad_final_words(const sr_nn *net, int layer)
{
    if (!net->be || layer >= net->nlayers) return 0;
    /* Up to the first word of a tensor whose layer is still to come. The
     * layout makes that every parameter of layers >= layer; asking the
     * layout keeps it right whatever the placement. */
    size_t done = slab_start(net, net->nslabs);
    for (int i = 0; i < layer; i++)
        for (int k = 0; k < net->layers[i].nparam; k++) {
            const sr_nn_tensor_info *t =
                &net->tinfo[net->layers[i].param[k]].pub;
            size_t w = slab_start(net, t->slab) + t->off;
            if (w < done) done = w;
        }
    return done;
}

/* ------------------------------------------------------------------ */
/* Update                                                              */

static int decayed(const sr_nn *net, int t)
{
    sr_nn_role r = net->tinfo[t].pub.role;
    return net->opts.decay_bn_bias || r == SR_NN_WEIGHT;
}

sr_status sr_nn_update(sr_nn *net)
{
    SR_TRY(need_alloc(net));
    sr_sgd_desc d = {.momentum = net->opts.momentum,
                     .lr_slot = SR_NN_SLOT_LR,
                     .nesterov = net->opts.nesterov ? 1 : 0,
                     .grad_scale_slot = net->opts.grad_scale
                                        ? SR_NN_SLOT_GRAD_SCALE : 0};
    for (int s = 0; s < net->nslabs; s++) {
        if (net->opts.decay_bn_bias || net->opts.weight_decay == 0.0f) {
            d.n = net->slab_words[s];
            d.weight_decay = net->opts.weight_decay;
            SR_TRY(sr_sgd(net->be, &d, sr_at(net->param[s], 0),
                          sr_at(net->grad[s], 0), sr_at(net->mom[s], 0)));
            continue;
        }
        /* Runs of neighbouring tensors with the same decay, one op each:
         * the slab is packed, so walk it by offset. */
        size_t off = 0;
        while (off < net->slab_words[s]) {
            int first = -1;
            for (int t = 0; t < net->ntinfo; t++) {
                const sr_nn_tensor_info *ti = &net->tinfo[t].pub;
                if (ti->trainable && ti->slab == s && ti->off == off) {
                    first = t;
                    break;
                }
            }
            SR_CHECK(first >= 0, SR_E_INTERNAL, "slab %d has a hole at %zu",
                     s, off);
            int dec = decayed(net, first);
            size_t end = off;
            for (;;) {
                int next = -1;
                for (int t = 0; t < net->ntinfo; t++) {
                    const sr_nn_tensor_info *ti = &net->tinfo[t].pub;
                    if (ti->trainable && ti->slab == s && ti->off == end) {
                        next = t;
                        break;
                    }
                }
                if (next < 0 || decayed(net, next) != dec) break;
                end += net->tinfo[next].pub.numel;
            }
            d.n = end - off;
            d.weight_decay = dec ? net->opts.weight_decay : 0.0f;
            SR_TRY(sr_sgd(net->be, &d, sr_at(net->param[s], off),
                          sr_at(net->grad[s], off), sr_at(net->mom[s], off)));
            off = end;
        }
    }
    if (net->nq && net->qopts.reg == SR_QUANT_REG_WAVEQ) {
        /* betas: plain SGD with their own learning rate, no decay */
        sr_sgd_desc b = {.n = (size_t)net->nq, .momentum = 0.0f,
                         .weight_decay = 0.0f, .lr_slot = SR_NN_SLOT_BETA_LR};
        size_t q = (size_t)net->nq;
        SR_TRY(sr_sgd(net->be, &b, sr_at(net->beta, 0), sr_at(net->beta, q),
                      sr_at(net->beta, 2 * q)));
    }
    return SR_OK;
}

sr_status sr_nn_grad_sumsq(sr_nn *net, double *sumsq)
{
    SR_TRY(need_alloc(net));
    size_t most = 0;
    for (int s = 0; s < net->nslabs; s++)
        if (net->slab_words[s] > most) most = net->slab_words[s];
    float *g = malloc((most ? most : 1) * sizeof *g);
    SR_CHECK(g, SR_E_NOMEM, "%s: out of memory", net->name);
    double sum = 0.0;
    sr_status st = SR_OK;
    for (int s = 0; st == SR_OK && s < net->nslabs; s++) {
        st = sr_buf_read(net->be, net->grad[s], 0, net->slab_words[s], g);
        for (size_t i = 0; st == SR_OK && i < net->slab_words[s]; i++)
            sum += (double)g[i] * (double)g[i];
    }
    free(g);
    *sumsq = sum;
    return st;
}

sr_status sr_nn_set_grad_scale(sr_nn *net, float scale)
{
    SR_TRY(need_alloc(net));
    SR_CHECK(net->opts.grad_scale, SR_E_ARG, "%s: gradient scaling was not "
             "asked for (sr_nn_opts.grad_scale)", net->name);
    return sr_backend_set_scalar_f(net->be, SR_NN_SLOT_GRAD_SCALE, scale);
}

sr_status sr_nn_train_step(sr_nn *net)
{
    SR_TRY(sr_nn_forward(net, 1));
    SR_TRY(sr_nn_loss(net, net->batch));
    SR_TRY(sr_nn_backward(net));
    return sr_nn_update(net);
}

sr_status sr_nn_eval_step(sr_nn *net, int n_valid)
{
    SR_TRY(sr_nn_forward(net, 0));
    return sr_nn_loss(net, n_valid);
}

/* ------------------------------------------------------------------ */
/* Host I/O                                                            */

sr_status sr_nn_set_scalars(sr_nn *net, const sr_nn_scalars *s)
{
    SR_TRY(need_alloc(net));
    sr_backend *be = net->be;
    int sinreq = net->qopts.reg == SR_QUANT_REG_SINREQ;
    int waveq = net->qopts.reg == SR_QUANT_REG_WAVEQ;
    SR_TRY(sr_backend_set_scalar_f(be, SR_NN_SLOT_LR, s->lr));
    SR_TRY(sr_backend_set_scalar_u(be, SR_NN_SLOT_STEP, s->step));
    /* no clipping unless the trainer sets a scale after backward */
    if (net->opts.grad_scale)
        SR_TRY(sr_backend_set_scalar_f(be, SR_NN_SLOT_GRAD_SCALE, 1.0f));
    /* without the regularizer the op still runs for R_l, at lambda 0 */
    SR_TRY(sr_backend_set_scalar_f(be, SR_NN_SLOT_LAMBDA,
                                   sinreq ? s->lambda : 0.0f));
    SR_TRY(sr_backend_set_scalar_f(be, SR_NN_SLOT_WAVEQ_W,
                                   waveq ? s->waveq_w : 0.0f));
    SR_TRY(sr_backend_set_scalar_f(be, SR_NN_SLOT_WAVEQ_BETA,
                                   waveq ? s->waveq_beta : 0.0f));
    return sr_backend_set_scalar_f(be, SR_NN_SLOT_BETA_LR,
                                   waveq ? s->beta_lr : 0.0f);
}

sr_status sr_nn_set_batch(sr_nn *net, const float *x, const uint32_t *labels)
{
    SR_TRY(need_alloc(net));
    if (labels) {
        for (int i = 0; i < net->batch; i++)
            SR_CHECK(labels[i] < (uint32_t)net->classes, SR_E_ARG,
                     "%s: label %u of row %d outside [0, %d)", net->name,
                     labels[i], i, net->classes);
        SR_TRY(sr_buf_write(net->be, net->labels, 0, (size_t)net->batch,
                            labels));
    }
    if (x)
        SR_TRY(sr_buf_write(net->be, net->input, 0, net->tensors[0].numel, x));
    return SR_OK;
}

sr_buf *sr_nn_input_buf(sr_nn *net) { return net->input; }
sr_buf *sr_nn_label_buf(sr_nn *net) { return net->labels; }

sr_status sr_nn_read_stats(sr_nn *net, float *loss, uint32_t *correct)
{
    SR_TRY(need_alloc(net));
    uint32_t w[2];
    SR_TRY(sr_buf_read(net->be, net->metrics, 0, 2, w));
    if (loss) memcpy(loss, &w[0], sizeof *loss);
    if (correct) *correct = w[1];
    return SR_OK;
}

sr_status sr_nn_read_quant_metrics(sr_nn *net, float *reg, float *qerr)
{
    SR_TRY(need_alloc(net));
    size_t q = (size_t)net->nq;
    if (!q) return SR_OK;
    if (reg) SR_TRY(sr_buf_read(net->be, net->metrics, 2, q, reg));
    if (qerr) SR_TRY(sr_buf_read(net->be, net->metrics, 2 + q, q, qerr));
    /* The op's value is the layer's term: sum_j / N_total under global
     * normalisation. Report the layer's mean, the diagnostic (0.5 for
     * weights spread between levels, 0 on them), whatever the
     * normalisation: otherwise small layers look settled when they are not. */
    if (reg && net->qopts.norm == SR_QUANT_NORM_GLOBAL) {
        for (int i = 0; i < net->nlayers; i++) {
            const nn_layer *l = &net->layers[i];
            if (l->qidx < 0) continue;
            size_t n = net->tinfo[l->param[0]].pub.numel;
            reg[l->qidx] = (float)((double)reg[l->qidx] *
                                   (double)net->q_numel / (double)n);
        }
    }
    return SR_OK;
}

sr_status sr_nn_read_betas(sr_nn *net, float *beta)
{
    SR_TRY(need_alloc(net));
    if (!net->nq) return SR_OK;
    return sr_buf_read(net->be, net->beta, 0, (size_t)net->nq, beta);
}

sr_status sr_nn_write_betas(sr_nn *net, const float *beta)
{
    SR_TRY(need_alloc(net));
    if (!net->nq) return SR_OK;
    return sr_buf_write(net->be, net->beta, 0, (size_t)net->nq, beta);
}

static sr_status tensor_loc(sr_nn *net, int i, int grad, sr_buf **buf,
                            size_t *off, size_t *n)
{
    SR_TRY(need_alloc(net));
    SR_CHECK(i >= 0 && i < net->ntinfo, SR_E_ARG,
             "%s: tensor index %d outside [0, %d)", net->name, i, net->ntinfo);
    const sr_nn_tensor_info *t = &net->tinfo[i].pub;
    SR_CHECK(!grad || t->trainable, SR_E_ARG,
             "%s: %s is not trained and has no gradient", net->name,
             net->tinfo[i].name);
    *buf = t->trainable ? (grad ? net->grad : net->param)[t->slab] : net->state;
    *off = t->off;
    *n = t->numel;
    return SR_OK;
}

sr_status sr_nn_read_tensor(sr_nn *net, int i, float *dst)
{
    sr_buf *b = NULL;
    size_t off = 0, n = 0;
    SR_TRY(tensor_loc(net, i, 0, &b, &off, &n));
    return sr_buf_read(net->be, b, off, n, dst);
}

sr_status sr_nn_write_tensor(sr_nn *net, int i, const float *src)
{
    sr_buf *b = NULL;
    size_t off = 0, n = 0;
    SR_TRY(tensor_loc(net, i, 0, &b, &off, &n));
    return sr_buf_write(net->be, b, off, n, src);
}

sr_status sr_nn_read_grad(sr_nn *net, int i, float *dst)
{
    sr_buf *b = NULL;
    size_t off = 0, n = 0;
    SR_TRY(tensor_loc(net, i, 1, &b, &off, &n));
    return sr_buf_read(net->be, b, off, n, dst);
}

sr_status sr_nn_read_wq(sr_nn *net, int qidx, float *dst)
{
    SR_TRY(need_alloc(net));
    SR_CHECK(qidx >= 0 && qidx < net->nq, SR_E_ARG,
             "%s: quantized layer index %d outside [0, %d)", net->name, qidx,
             net->nq);
    const nn_qlayer *q = &net->q[qidx];
    const nn_layer *l = &net->layers[q->layer];
    return sr_buf_read(net->be, net->wq[q->slab], q->wq_off,
                       net->tinfo[l->param[0]].pub.numel, dst);
}

sr_status sr_nn_read_logits(sr_nn *net, float *dst)
{
    SR_TRY(need_alloc(net));
    return sr_buf_read(net->be, net->act[net->tensors[net->logits].act].buf, 0,
                       net->tensors[net->logits].numel, dst);
}

int sr_nn_slab_count(const sr_nn *net) { return net->nslabs; }

sr_status sr_nn_slab(sr_nn *net, int i, sr_buf **param, sr_buf **grad,
                     sr_buf **momentum, size_t *words)
{
    SR_TRY(need_alloc(net));
    SR_CHECK(i >= 0 && i < net->nslabs, SR_E_ARG,
             "%s: slab %d outside [0, %d)", net->name, i, net->nslabs);
    if (param) *param = net->param[i];
    if (grad) *grad = net->grad[i];
    if (momentum) *momentum = net->mom[i];
    if (words) *words = net->slab_words[i];
    return SR_OK;
}

sr_buf *sr_nn_state_buf(sr_nn *net, size_t *words)
{
    if (words) *words = net->state_words;
    return net->state;
}
