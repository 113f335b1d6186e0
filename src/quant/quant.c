/* Quantization plans, schedules and the per-layer op sequence
 * (include/sinreq/quant.h). Host-side policy plus thin op emitters. */
#include "sinreq/quant.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void sr_quant_opts_default(sr_quant_opts *o)
{
    memset(o, 0, sizeof *o);
    o->quantizer = SR_QUANT_NONE;
    o->bits = 4;
    o->act_bits = 0;
    o->reg = SR_QUANT_REG_NONE;
    o->norm = SR_QUANT_NORM_LAYER_MEAN;
    o->sinreq_domain = SR_SINREQ_DOMAIN_W;
    o->beta_init = 8.0f;
    o->quantize_ends = -1;
}

static int min_bits(sr_quantizer q)
{
    return q == SR_QUANT_WRPN ? 2 : SR_MIN_BITS;
}

static sr_status check_wbits(sr_quantizer q, int bits, const char *where)
{
    SR_CHECK(bits >= min_bits(q) && bits <= SR_MAX_BITS, SR_E_BITS,
             "%s: %s weight bits = %d outside [%d, %d]%s", where,
             sr_quant_quantizer_name(q), bits, min_bits(q), SR_MAX_BITS,
             q == SR_QUANT_WRPN && bits == 1
                 ? " (WRPN needs a sign bit and at least one magnitude bit)"
                 : "");
    return SR_OK;
}

static sr_status check_abits(int bits, const char *where)
{
    SR_CHECK(bits == 0 || (bits >= SR_MIN_BITS && bits <= SR_MAX_BITS),
             SR_E_BITS, "%s: activation bits = %d outside [%d, %d] (0 = float)",
             where, bits, SR_MIN_BITS, SR_MAX_BITS);
    return SR_OK;
}

/* Names of the layers for an error message, cut to fit. */
static void list_names(const sr_quant_target *layers, int n, char *buf,
                       size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "",
                         layers[i].name);
        if (w < 0 || (size_t)w >= cap - len) {
            if (cap > 4) strcpy(buf + cap - 5, "...");
            return;
        }
        len += (size_t)w;
    }
}

sr_status sr_quant_resolve(const sr_quant_opts *o, int ends_fp_default,
                           const sr_quant_target *layers, int n,
                           sr_quant_layer *out)
{
    SR_CHECK(o && out && (layers || n == 0), SR_E_ARG,
             "sr_quant_resolve: NULL argument");
    SR_CHECK(o->quantizer == SR_QUANT_NONE || o->quantizer == SR_QUANT_DOREFA ||
                 o->quantizer == SR_QUANT_WRPN,
             SR_E_ARG, "quantizer %d is not none, dorefa or wrpn",
             (int)o->quantizer);
    SR_CHECK(o->reg >= SR_QUANT_REG_NONE && o->reg <= SR_QUANT_REG_WAVEQ,
             SR_E_ARG, "regularizer %d is not none, sinreq or waveq",
             (int)o->reg);
    SR_CHECK(o->norm == SR_QUANT_NORM_LAYER_MEAN ||
                 o->norm == SR_QUANT_NORM_GLOBAL,
             SR_E_ARG, "normalisation %d is not layer or global", (int)o->norm);
    SR_CHECK(o->reg == SR_QUANT_REG_NONE || o->quantizer != SR_QUANT_NONE,
             SR_E_CONFIG, "the %s regularizer needs a quantizer (dorefa or "
             "wrpn)", sr_quant_reg_name(o->reg));
    SR_CHECK(o->sinreq_domain == SR_SINREQ_DOMAIN_W ||
                 o->sinreq_domain == SR_SINREQ_DOMAIN_X,
             SR_E_ARG, "SinReQ domain %d is not w or x", (int)o->sinreq_domain);
    SR_CHECK(o->sinreq_domain != SR_SINREQ_DOMAIN_X ||
                 o->quantizer != SR_QUANT_WRPN,
             SR_E_CONFIG, "SinReQ domain x is DoReFa's rounding variable "
             "tanh(W)/(2 max|tanh W|) + 1/2; WRPN rounds W itself, so its "
             "SinReQ term is always on W (use domain w with wrpn)");
    SR_CHECK(o->sinreq_domain != SR_SINREQ_DOMAIN_X ||
                 o->reg != SR_QUANT_REG_WAVEQ,
             SR_E_CONFIG, "SinReQ domain x applies to SinReQ only; WaveQ's "
             "term is on W (use domain w with waveq)");
    SR_CHECK(o->quantize_ends >= -1 && o->quantize_ends <= 1, SR_E_ARG,
             "quantize_ends must be -1 (network rule), 0 or 1");
    if (o->quantizer != SR_QUANT_NONE)
        SR_TRY(check_wbits(o->quantizer, o->bits, "global setting"));
    SR_TRY(check_abits(o->act_bits, "global setting"));
    int ends_fp = o->quantize_ends < 0 ? !!ends_fp_default : !o->quantize_ends;

    for (int i = 0; i < n; i++) {
        sr_quant_layer *q = &out[i];
        memset(q, 0, sizeof *q);
        if (o->quantizer == SR_QUANT_NONE) continue;
        int end = layers[i].is_first || layers[i].is_last;
        q->quantized = !(ends_fp && end);
        q->bits = o->bits;
        q->act_bits = o->act_bits;
    }
    for (int k = 0; k < o->n_overrides; k++) {
        const sr_quant_override *ov = &o->overrides[k];
        SR_CHECK(ov->layer, SR_E_CONFIG, "override %d has no layer name", k);
        int i;
        for (i = 0; i < n; i++)
            if (strcmp(layers[i].name, ov->layer) == 0) break;
        if (i == n) {
            char names[700];
            list_names(layers, n, names, sizeof names);
            return sr_error(SR_E_CONFIG,
                            "override names layer '%s', which is not a conv "
                            "or linear layer of this network; valid: %s",
                            ov->layer, names);
        }
        SR_CHECK(ov->quantize >= -1 && ov->quantize <= 1, SR_E_CONFIG,
                 "override for '%s': quantize must be -1, 0 or 1", ov->layer);
        SR_CHECK(ov->quantize != 1 || o->quantizer != SR_QUANT_NONE,
                 SR_E_CONFIG, "override quantizes '%s' but no quantizer is "
                 "set (dorefa or wrpn)", ov->layer);
        SR_CHECK(ov->act_bits >= -1, SR_E_BITS,
                 "override for '%s': activation bits %d", ov->layer,
                 ov->act_bits);
        sr_quant_layer *q = &out[i];
        if (ov->quantize >= 0) q->quantized = ov->quantize;
        if (ov->bits) {
            char where[160];
            snprintf(where, sizeof where, "override for '%s'", ov->layer);
            SR_CHECK(o->quantizer != SR_QUANT_NONE, SR_E_CONFIG,
                     "%s sets bits but no quantizer is set", where);
            SR_TRY(check_wbits(o->quantizer, ov->bits, where));
            q->bits = ov->bits;
        }
        if (ov->act_bits >= 0) {
            char where[160];
            snprintf(where, sizeof where, "override for '%s'", ov->layer);
            SR_TRY(check_abits(ov->act_bits, where));
            q->act_bits = ov->act_bits;
        }
    }
    for (int i = 0; i < n; i++) {
        sr_quant_layer *q = &out[i];
        if (!q->quantized) {
            /* Activation quantization belongs to quantized layers only. */
            memset(q, 0, sizeof *q);
            continue;
        }
        q->quantizer = o->quantizer;
        q->domain = o->sinreq_domain;
        if (layers[i].is_first) q->act_bits = 0;  /* images, not [0, 1] */
    }
    return SR_OK;
}

/* ---- Schedules ---- */

static float step_at(long t, long T, float centre, float width)
{
    double s = width > 0.0f ? (double)width : 0.05 * (double)T;
    if (s <= 0.0) s = 1.0;
    return (float)(0.5 * (1.0 + tanh(((double)t - centre * (double)T) / s)));
}

sr_status sr_quant_sched_parse(const char *s, sr_quant_sched_kind *out)
{
    SR_CHECK(s && out, SR_E_ARG, "sr_quant_sched_parse: NULL argument");
    if (strcasecmp(s, "const") == 0 || strcasecmp(s, "constant") == 0)
        *out = SR_SCHED_CONST;
    else if (strcasecmp(s, "tanh") == 0)
        *out = SR_SCHED_TANH;
    else if (strcasecmp(s, "linear") == 0)
        *out = SR_SCHED_LINEAR;
    else
        return sr_error(SR_E_CONFIG, "unknown lambda schedule '%s' (use "
                        "const, tanh or linear)", s);
    return SR_OK;
}

float sr_quant_lambda(const sr_quant_sched *s, long t, long T)
{
    if (T <= 0) T = 1;
    switch (s->kind) {
    case SR_SCHED_CONST:
        return s->lambda_max;
    case SR_SCHED_TANH:
        if (t < 0) return 0.0f;
        return s->lambda_max * step_at(t, T, s->start, s->width);
    case SR_SCHED_LINEAR: {
        double a = s->start * (double)T, b = s->end * (double)T;
        if (t < 0 || (double)t <= a) return 0.0f;
        if ((double)t >= b) return s->lambda_max;
        return (float)(s->lambda_max * ((double)t - a) / (b - a));
    }
    }
    return 0.0f;
}

void sr_quant_waveq_sched_default(sr_quant_waveq_sched *s)
{
    s->scale = 1.0f;
    s->c = 0.03f;
    s->start = 0.2f;
    s->stop = 0.8f;
    s->width = 0.0f;
    s->beta_lr = 0.01f;
}

void sr_quant_waveq_coefs(const sr_quant_waveq_sched *s, long t, long T,
                          float *lambda_w, float *lambda_beta)
{
    if (T <= 0) T = 1;
    float f1 = step_at(t, T, s->start, s->width);
    float f2 = step_at(t, T, s->stop, s->width);
    if (lambda_w) *lambda_w = s->scale * f1;
    if (lambda_beta) *lambda_beta = s->c * (f1 - f2);
}

float sr_quant_waveq_beta_lr(const sr_quant_waveq_sched *s, long t, long T)
{
    return (double)t >= s->stop * (double)T ? 0.0f : s->beta_lr;
}

int sr_quant_waveq_bits(float beta, sr_quantizer q)
{
    int lo = min_bits(q);
    if (!(beta == beta)) return SR_MAX_BITS;  /* NaN: be conservative */
    if (beta <= (float)lo) return lo;
    if (beta >= (float)SR_MAX_BITS) return SR_MAX_BITS;
    return (int)ceilf(beta);
}

/* ---- Ops ---- */

sr_status sr_quant_emit_fwd(sr_backend *be, const sr_quant_layer *q, size_t n,
                            sr_view w, sr_view wq, sr_view err)
{
    SR_CHECK(q->quantized, SR_E_INTERNAL, "quant fwd on a float layer");
    if (q->quantizer == SR_QUANT_DOREFA)
        SR_TRY(sr_dorefa_w_fwd(be, n, q->bits, w, wq));
    else
        SR_TRY(sr_wrpn_w_fwd(be, n, q->bits, w, wq));
    if (err.buf) SR_TRY(sr_mean_abs_diff(be, n, w, wq, err));
    return SR_OK;
}

sr_status sr_quant_emit_bwd(sr_backend *be, const sr_quant_layer *q, size_t n,
                            sr_view w, sr_view dwq, sr_view dw)
{
    SR_CHECK(q->quantized, SR_E_INTERNAL, "quant bwd on a float layer");
    if (q->quantizer == SR_QUANT_DOREFA)
        return sr_dorefa_w_bwd(be, n, q->bits, w, dwq, dw);
    return sr_wrpn_w_bwd(be, n, q->bits, w, dwq, dw);
}

sr_status sr_quant_emit_reg(sr_backend *be, const sr_quant_layer *q, size_t n,
                            const sr_quant_reg_args *a, sr_view w, sr_view dw,
                            sr_view value)
{
    SR_CHECK(q->quantized, SR_E_INTERNAL, "regularizer on a float layer");
    if (a->reg == SR_QUANT_REG_WAVEQ) {
        sr_waveq_desc d = {.n = n, .divisor = a->divisor,
                           .coef_w_slot = a->wq_w_slot,
                           .coef_beta_slot = a->wq_beta_slot};
        return sr_waveq(be, &d, w, a->beta, dw, a->dbeta, value);
    }
    /* SinReQ, or none: with reg none the caller keeps lambda at 0 and the
     * op still yields R_l, worth logging for the baselines too. */
    sr_sinreq_desc d = {.n = n, .quantizer = q->quantizer, .bits = q->bits,
                        .divisor = a->divisor, .coef_slot = a->lambda_slot,
                        .domain = q->domain};
    return sr_sinreq(be, &d, w, dw, value);
}

/* ---- Names ---- */

const char *sr_quant_quantizer_name(sr_quantizer q)
{
    switch (q) {
    case SR_QUANT_NONE: return "none";
    case SR_QUANT_DOREFA: return "dorefa";
    case SR_QUANT_WRPN: return "wrpn";
    }
    return "unknown";
}

sr_status sr_quant_quantizer_parse(const char *s, sr_quantizer *out)
{
    SR_CHECK(s && out, SR_E_ARG, "sr_quant_quantizer_parse: NULL argument");
    if (strcasecmp(s, "none") == 0 || strcasecmp(s, "fp32") == 0)
        *out = SR_QUANT_NONE;
    else if (strcasecmp(s, "dorefa") == 0)
        *out = SR_QUANT_DOREFA;
    else if (strcasecmp(s, "wrpn") == 0)
        *out = SR_QUANT_WRPN;
    else
        return sr_error(SR_E_CONFIG, "unknown quantizer '%s' (use none, "
                        "dorefa or wrpn)", s);
    return SR_OK;
}

const char *sr_quant_reg_name(sr_quant_reg r)
{
    switch (r) {
    case SR_QUANT_REG_NONE: return "none";
    case SR_QUANT_REG_SINREQ: return "sinreq";
    case SR_QUANT_REG_WAVEQ: return "waveq";
    }
    return "unknown";
}

sr_status sr_quant_reg_parse(const char *s, sr_quant_reg *out)
{
    SR_CHECK(s && out, SR_E_ARG, "sr_quant_reg_parse: NULL argument");
    if (strcasecmp(s, "none") == 0)
        *out = SR_QUANT_REG_NONE;
    else if (strcasecmp(s, "sinreq") == 0)
        *out = SR_QUANT_REG_SINREQ;
    else if (strcasecmp(s, "waveq") == 0)
        *out = SR_QUANT_REG_WAVEQ;
    else
        return sr_error(SR_E_CONFIG, "unknown regularizer '%s' (use none, "
                        "sinreq or waveq)", s);
    return SR_OK;
}

sr_status sr_quant_norm_parse(const char *s, sr_quant_norm *out)
{
    SR_CHECK(s && out, SR_E_ARG, "sr_quant_norm_parse: NULL argument");
    if (strcasecmp(s, "layer") == 0 || strcasecmp(s, "mean") == 0 ||
        strcasecmp(s, "layer-mean") == 0)
        *out = SR_QUANT_NORM_LAYER_MEAN;
    else if (strcasecmp(s, "global") == 0)
        *out = SR_QUANT_NORM_GLOBAL;
    else
        return sr_error(SR_E_CONFIG, "unknown normalisation '%s' (use layer "
                        "or global)", s);
    return SR_OK;
}

const char *sr_quant_domain_name(sr_sinreq_domain d)
{
    switch (d) {
    case SR_SINREQ_DOMAIN_W: return "w";
    case SR_SINREQ_DOMAIN_X: return "x";
    }
    return "unknown";
}

sr_status sr_quant_domain_parse(const char *s, sr_sinreq_domain *out)
{
    SR_CHECK(s && out, SR_E_ARG, "sr_quant_domain_parse: NULL argument");
    if (strcasecmp(s, "w") == 0)
        *out = SR_SINREQ_DOMAIN_W;
    else if (strcasecmp(s, "x") == 0)
        *out = SR_SINREQ_DOMAIN_X;
    else
        return sr_error(SR_E_CONFIG, "unknown SinReQ domain '%s' (use w: "
                        "the raw weights, or x: DoReFa's rounding variable)",
                        s);
    return SR_OK;
}
