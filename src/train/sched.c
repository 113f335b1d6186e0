/* Parsing of the enumerated settings and lists; the learning-rate schedule. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sinreq/models.h"
#include "sinreq/netfile.h"
#include "sinreq/parse.h"
#include "train_internal.h"

static int count_items(const char *s)
{
    int n = 0;

    for (const char *p = s; *p; p++)
        n += *p == ',';
    return s[0] ? n + 1 : 0;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

/* Appends the items of one list key to p. bits_form: "NAME=K". */
static sr_status add_list(const sr_train_config *c, sr_train_plan *p,
                          const char *key, const char *list, char **cursor,
                          int quantize, int bits_form)
{
    char *s = *cursor, *save = NULL, *tok;

    strcpy(s, list);
    *cursor = s + strlen(list) + 1;
    for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        sr_quant_override *o = &p->ov[p->n];
        char *name = trim(tok);

        o->quantize = quantize;
        o->bits = 0;
        o->act_bits = -1;
        if (bits_form) {
            char *eq = strchr(name, '=');
            int b;
            if (!eq)
                return sr_error(SR_E_CONFIG, "%s: '%s' is not NAME=BITS",
                                sr_train_where(c, key), name);
            *eq = '\0';
            if (sr_parse_int(key, trim(eq + 1), SR_MIN_BITS, SR_MAX_BITS,
                             &b) != SR_OK)
                return sr_error(SR_E_BITS, "%s: bits for layer '%s' must be "
                                "an integer in %d..%d", sr_train_where(c, key),
                                trim(name), SR_MIN_BITS, SR_MAX_BITS);
            o->bits = b;
            name = trim(name);
        }
        if (!name[0])
            return sr_error(SR_E_CONFIG, "%s: empty layer name in '%s'",
                            sr_train_where(c, key), list);
        o->layer = name;
        p->n++;
    }
    return SR_OK;
}

sr_status sr_train_plan_parse(const sr_train_config *c, sr_train_plan *p)
{
    size_t len = strlen(c->layer_bits) + strlen(c->quantize_layers) +
                 strlen(c->fp_layers) + 3;
    int n = count_items(c->layer_bits) + count_items(c->quantize_layers) +
            count_items(c->fp_layers);
    char *cur;
    sr_status st;

    memset(p, 0, sizeof *p);
    p->buf = malloc(len);
    p->ov = calloc((size_t)(n ? n : 1), sizeof *p->ov);
    if (!p->buf || !p->ov) {
        sr_train_plan_free(p);
        return sr_error(SR_E_NOMEM, "out of memory");
    }
    cur = p->buf;
    /* Order matters: later overrides win (quant.h), so per-layer bits last. */
    st = add_list(c, p, "quantize_layers", c->quantize_layers, &cur, 1, 0);
    if (st == SR_OK)
        st = add_list(c, p, "fp_layers", c->fp_layers, &cur, 0, 0);
    if (st == SR_OK)
        st = add_list(c, p, "layer_bits", c->layer_bits, &cur, 1, 1);
    if (st != SR_OK)
        sr_train_plan_free(p);
    return st;
}

void sr_train_plan_free(sr_train_plan *p)
{
    free(p->ov);
    free(p->buf);
    memset(p, 0, sizeof *p);
}

sr_status sr_train_sched_parse(const sr_train_config *c, sr_train_sched *s)
{
    memset(s, 0, sizeof *s);
    if (sr_quant_quantizer_parse(c->quantizer, &s->quantizer) != SR_OK)
        return sr_error(SR_E_CONFIG, "%s: unknown quantizer '%s' (use none, "
                        "dorefa or wrpn)", sr_train_where(c, "quantizer"),
                        c->quantizer);
    s->reg = c->waveq ? SR_QUANT_REG_WAVEQ
           : c->sinreq_lambda > 0 ? SR_QUANT_REG_SINREQ : SR_QUANT_REG_NONE;
    if (sr_quant_norm_parse(c->sinreq_norm, &s->norm) != SR_OK)
        return sr_error(SR_E_CONFIG, "%s: unknown sinreq_norm '%s' (use "
                        "layer-mean or global)", sr_train_where(c, "sinreq_norm"),
                        c->sinreq_norm);
    if (sr_quant_domain_parse(c->sinreq_domain, &s->domain) != SR_OK)
        return sr_error(SR_E_CONFIG, "%s: unknown sinreq_domain '%s' (use w: "
                        "the raw weights, or x: DoReFa's rounding variable "
                        "tanh(W)/(2 max|tanh W|) + 1/2)",
                        sr_train_where(c, "sinreq_domain"), c->sinreq_domain);
    if (s->domain == SR_SINREQ_DOMAIN_X && s->quantizer == SR_QUANT_WRPN)
        return sr_error(SR_E_CONFIG, "%s: sinreq_domain x is DoReFa's rounding "
                        "variable; WRPN rounds W itself and has no such "
                        "choice (use sinreq_domain w, or quantizer dorefa)",
                        sr_train_where(c, "sinreq_domain"));
    if (s->domain == SR_SINREQ_DOMAIN_X && c->waveq)
        return sr_error(SR_E_CONFIG, "%s: sinreq_domain x applies to SinReQ "
                        "only; WaveQ's term is on W (use sinreq_domain w)",
                        sr_train_where(c, "sinreq_domain"));
    if (strcasecmp(c->quantize_ends, "auto") == 0)
        s->quantize_ends = -1;
    else if (strcasecmp(c->quantize_ends, "quantize") == 0)
        s->quantize_ends = 1;
    else if (strcasecmp(c->quantize_ends, "fp") == 0)
        s->quantize_ends = 0;
    else
        return sr_error(SR_E_CONFIG, "%s: quantize_ends '%s' is not auto, "
                        "quantize or fp", sr_train_where(c, "quantize_ends"),
                        c->quantize_ends);

    const char *ls = c->lambda_schedule;
    if (strcasecmp(ls, "constant") == 0 || strcasecmp(ls, "const") == 0)
        s->lambda.kind = SR_SCHED_CONST;
    else if (strcasecmp(ls, "delayed-tanh") == 0 || strcasecmp(ls, "tanh") == 0)
        s->lambda.kind = SR_SCHED_TANH;
    else if (strcasecmp(ls, "linear-ramp") == 0 || strcasecmp(ls, "linear") == 0)
        s->lambda.kind = SR_SCHED_LINEAR;
    else
        return sr_error(SR_E_CONFIG, "%s: unknown lambda_schedule '%s' (use "
                        "constant, delayed-tanh or linear-ramp)",
                        sr_train_where(c, "lambda_schedule"), ls);
    s->lambda.lambda_max = (float)c->sinreq_lambda;
    s->lambda.start = (float)c->lambda_start;
    s->lambda.end = (float)c->lambda_end;
    s->lambda.width = (float)c->lambda_width;
    SR_CHECK(c->lambda_start >= 0 && c->lambda_start <= 1 && c->lambda_end >= 0 &&
             c->lambda_end <= 1 && (s->lambda.kind != SR_SCHED_LINEAR ||
                                    c->lambda_end > c->lambda_start),
             SR_E_CONFIG, "%s: lambda_start/lambda_end must be fractions of "
             "training in [0, 1] (ramp: start < end)",
             sr_train_where(c, "lambda_start"));

    sr_quant_waveq_sched_default(&s->waveq);
    s->waveq.scale = (float)c->waveq_scale;
    s->waveq.c = (float)c->waveq_c;
    s->waveq.start = (float)c->waveq_start;
    s->waveq.stop = (float)c->waveq_stop;
    s->waveq.width = (float)c->waveq_width;
    s->waveq.beta_lr = (float)c->waveq_beta_lr;
    SR_CHECK(c->waveq_start >= 0 && c->waveq_stop <= 1 &&
             c->waveq_start < c->waveq_stop, SR_E_CONFIG,
             "%s: need 0 <= waveq_start < waveq_stop <= 1",
             sr_train_where(c, "waveq_start"));

    if (strcasecmp(c->lr_schedule, "multistep") == 0)
        s->lr_kind = SR_LR_MULTISTEP;
    else if (strcasecmp(c->lr_schedule, "cosine") == 0)
        s->lr_kind = SR_LR_COSINE;
    else if (strcasecmp(c->lr_schedule, "constant") == 0)
        s->lr_kind = SR_LR_CONSTANT;
    else if (strcasecmp(c->lr_schedule, "step") == 0)
        s->lr_kind = SR_LR_STEP;
    else
        return sr_error(SR_E_CONFIG, "%s: unknown lr_schedule '%s' (use "
                        "multistep, step, cosine or constant)",
                        sr_train_where(c, "lr_schedule"), c->lr_schedule);
    const char *p = c->lr_milestones;
    while (*p) {
        char *end;
        long m;
        errno = 0;
        m = strtol(p, &end, 10);
        if (end == p || errno || m < 1 || m > INT_MAX ||
            (*end && *end != ',') ||
            s->n_milestones == SR_TRAIN_MAX_MILESTONES ||
            (s->n_milestones && m <= s->milestones[s->n_milestones - 1]))
            return sr_error(SR_E_CONFIG, "%s: lr_milestones '%s' must be "
                            "increasing epochs >= 1 separated by commas",
                            sr_train_where(c, "lr_milestones"), c->lr_milestones);
        s->milestones[s->n_milestones++] = (int)m;
        p = *end ? end + 1 : end;
    }
    return SR_OK;
}

double sr_train_lr(const sr_train_config *c, const sr_train_sched *s, long t,
                   long steps_per_epoch, long T)
{
    double lr = c->lr;

    if (s->lr_kind == SR_LR_MULTISTEP) {
        /* PyTorch's MultiStepLR, stepped per epoch: epochs are 0-based
         * there, so milestone 60 starts at the 61st epoch. */
        long epoch = steps_per_epoch > 0 ? t / steps_per_epoch : 0;
        for (int i = 0; i < s->n_milestones; i++)
            if (epoch >= s->milestones[i])
                lr *= c->lr_gamma;
    } else if (s->lr_kind == SR_LR_STEP) {
        /* PyTorch's StepLR(step_size = lr_step_epochs), stepped per epoch */
        long epoch = steps_per_epoch > 0 ? t / steps_per_epoch : 0;
        lr *= pow(c->lr_gamma, (double)(epoch / c->lr_step_epochs));
    } else if (s->lr_kind == SR_LR_COSINE && T > 0) {
        lr *= 0.5 * (1.0 + cos(M_PI * (double)t / (double)T));
    }
    if (c->warmup_epochs > 0) {
        long w = lround(c->warmup_epochs * (double)steps_per_epoch);
        if (w < 1)
            w = 1;
        if (t < w)
            lr *= (double)(t + 1) / (double)w;
    }
    return lr;
}

static int int_cmp(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

sr_status sr_train_hist_epochs(const sr_train_config *c, int *epochs, int *n,
                               int *last)
{
    const char *p = c->hist_epochs;

    *n = 0;
    *last = 0;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[32];

        snprintf(item, sizeof item, "%.*s", (int)(len < 31 ? len : 31), p);
        char *it = trim(item);
        if (len >= sizeof item)   /* never judge a cut-off item */
            return sr_error(SR_E_CONFIG, "%s: hist_epochs item '%s...' is too "
                            "long", sr_train_where(c, "hist_epochs"), it);
        if (strcmp(it, "last") == 0) {
            *last = 1;
        } else {
            int v;
            if (sr_parse_int("hist_epochs", it, 0, c->epochs, &v) != SR_OK ||
                *n == SR_TRAIN_MAX_HIST)
                return sr_error(SR_E_CONFIG, "%s: hist_epochs item '%s' is not "
                                "an epoch in 0..%d or 'last'",
                                sr_train_where(c, "hist_epochs"), it, c->epochs);
            epochs[(*n)++] = v;
        }
        p = e ? e + 1 : p + len;
    }
    qsort(epochs, (size_t)*n, sizeof *epochs, int_cmp);
    return SR_OK;
}

int sr_train_is_imagenet(const char *net)
{
    int h = 0;
    /* a network file: by its input size, as the built-ins are 32 or 224 */
    if (sr_netfile_is_path(net))
        return sr_model_defaults(net, NULL, &h, NULL, NULL) == SR_OK &&
               h >= 128;
    return strcmp(net, "alexnet") == 0 || strcmp(net, "resnet18") == 0;
}

sr_status sr_train_augment(const sr_train_config *c, sr_augment *a)
{
    if (strcasecmp(c->augment, "auto") == 0) {
        /* docs/method.md, Training setup: CIFAR crop+flip for the CIFAR nets, none for
         * SVHN, random resized crop for the ImageNet nets. */
        if (sr_train_is_imagenet(c->net))
            *a = SR_AUG_IMAGENET;
        else if (strcmp(c->net, "svhnnet") == 0)
            *a = SR_AUG_NONE;
        else
            *a = SR_AUG_CIFAR;
    } else if (strcasecmp(c->augment, "none") == 0) {
        *a = SR_AUG_NONE;
    } else if (strcasecmp(c->augment, "cifar") == 0) {
        *a = SR_AUG_CIFAR;
    } else if (strcasecmp(c->augment, "imagenet") == 0) {
        *a = SR_AUG_IMAGENET;
    } else {
        return sr_error(SR_E_CONFIG, "%s: unknown augment '%s' (use auto, "
                        "none, cifar or imagenet)", sr_train_where(c, "augment"),
                        c->augment);
    }
    return SR_OK;
}
