/* `sinreq info --config`: the per-layer quantization plan a configuration
 * would apply, resolved exactly as `sinreq train` resolves it, without data
 * or training. */
#include <stdlib.h>
#include <string.h>

#include "sinreq/models.h"
#include "train_internal.h"

void sr_train_quant_opts(const sr_train_config *c, const sr_train_sched *s,
                         const sr_train_plan *plan, sr_quant_opts *qo)
{
    sr_quant_opts_default(qo);
    qo->quantizer = s->quantizer;
    /* WaveQ: every quantized layer starts at ceil(beta_init), the bits it
     * takes after any epoch until beta moves */
    qo->bits = c->waveq ? sr_quant_waveq_bits((float)c->waveq_beta_init,
                                              s->quantizer)
                        : c->bits;
    qo->act_bits = c->act_bits;
    qo->reg = s->reg;
    qo->norm = s->norm;
    qo->sinreq_domain = s->domain;
    qo->beta_init = (float)c->waveq_beta_init;
    qo->quantize_ends = s->quantize_ends;
    qo->overrides = plan->ov;
    qo->n_overrides = plan->n;
}

static void print_plan(const sr_train_config *c, const sr_train_sched *s,
                       const sr_nn *net, FILE *f)
{
    int sinreq = s->reg == SR_QUANT_REG_SINREQ;

    fprintf(f, "network: %s, width x%d, %d classes\n", c->net, c->width_mult,
            sr_nn_classes(net));
    fprintf(f, "quantizer: %s, bits %d, activation bits %d, regularizer "
            "%s", sr_quant_quantizer_name(s->quantizer), c->bits, c->act_bits,
            sr_quant_reg_name(s->reg));
    if (sinreq)
        fprintf(f, " (lambda %g, schedule %s, domain %s)", c->sinreq_lambda,
                c->lambda_schedule, sr_quant_domain_name(s->domain));
    fprintf(f, "\n\nquantization plan:\n  %-28s %-6s %-9s %4s %-9s %8s "
            "%-7s %s\n", "layer", "kind", "quantized", "bits", "quantizer",
            "act_bits", "sinreq", "lambda");
    for (int i = 0; i < sr_nn_layer_count(net); i++) {
        sr_nn_layer_info li;
        if (sr_nn_layer(net, i, &li) != SR_OK ||
            (li.kind != SR_NN_CONV2D && li.kind != SR_NN_LINEAR))
            continue;
        /* the regularizer acts on quantized layers only */
        int on = sinreq && li.quant.quantized;
        char lam[32] = "-";
        if (on)
            snprintf(lam, sizeof lam, "%g", c->sinreq_lambda);
        fprintf(f, "  %-28s %-6s %-9s %4d %-9s %8d %-7s %s\n", li.name,
                sr_nn_kind_name(li.kind), li.quant.quantized ? "yes" : "no",
                li.quant.bits,
                sr_quant_quantizer_name(li.quant.quantizer), li.quant.act_bits,
                on ? "on" : s->reg == SR_QUANT_REG_WAVEQ && li.quant.quantized
                               ? "(waveq)" : "off", lam);
    }
}

sr_status sr_train_plan_print(const sr_train_config *c, FILE *f)
{
    sr_train_sched s;
    sr_train_plan plan = {0};
    sr_model_opts mo = {0};
    sr_quant_opts qo;
    sr_nn *net = NULL;
    sr_status st;

    SR_TRY(sr_train_config_check(c));
    SR_TRY(sr_train_sched_parse(c, &s));
    SR_TRY(sr_train_plan_parse(c, &plan));
    /* the network's own input shape; classes as configured (0: its
     * default): the plan does not depend on either */
    mo.name = c->net;
    mo.batch = 1;
    mo.width = c->width_mult;
    mo.num_classes = c->classes;
    st = sr_model_build(&mo, &net);
    if (st == SR_OK) {
        sr_train_quant_opts(c, &s, &plan, &qo);
        st = sr_nn_set_quant(net, &qo);
    }
    if (st == SR_OK)
        print_plan(c, &s, net, f);
    sr_nn_free(net);
    sr_train_plan_free(&plan);
    return st;
}
