/* The training configuration: key table, YAML (libyaml), flags, checks. */
#include "sinreq/train.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "sinreq/backend.h"
#include "sinreq/model_io.h"
#include "sinreq/models.h"
#include "sinreq/netfile.h"
#include "sinreq/parse.h"
#include "sinreq/quant.h"
#include "sinreq/suggest.h"
#include "train_internal.h"

enum key_type { K_STR, K_INT, K_LONG, K_DBL, K_BOOL };

struct key {
    const char *name;
    enum key_type type;
    size_t off;
    const char *def;
    const char *help;
};

#define F(f) offsetof(sr_train_config, f)
static const struct key keys[] = {
    {"net", K_STR, F(net), "cifar10net", "network: cifar10net svhnnet resnet20 vgg11 alexnet resnet18, or FILE.yaml"},
    {"data", K_STR, F(data), "", "dataset file (sinreq-prep HDF5)"},
    {"width_mult", K_INT, F(width_mult), "1", "WRPN widening of hidden layers (1..8)"},
    {"classes", K_INT, F(classes), "0", "class count; 0: the dataset's (must match it)"},
    {"augment", K_STR, F(augment), "auto", "auto (by network family), none, cifar, imagenet"},
    {"quantizer", K_STR, F(quantizer), "none", "none, dorefa, wrpn"},
    {"bits", K_INT, F(bits), "4", "weight bits of quantized layers"},
    {"layer_bits", K_STR, F(layer_bits), "", "per-layer bits NAME=K,... (quantizes NAME)"},
    {"quantize_layers", K_STR, F(quantize_layers), "", "layers to quantize NAME,..."},
    {"fp_layers", K_STR, F(fp_layers), "", "layers to keep in float32 NAME,..."},
    {"quantize_ends", K_STR, F(quantize_ends), "auto", "first conv/last fc: auto (network rule), quantize, fp"},
    {"act_bits", K_INT, F(act_bits), "0", "activation bits (0: float32)"},
    {"sinreq_lambda", K_DBL, F(sinreq_lambda), "0", "SinReQ lambda_max (0: off)"},
    {"lambda_schedule", K_STR, F(lambda_schedule), "constant", "constant, delayed-tanh, linear-ramp"},
    {"lambda_start", K_DBL, F(lambda_start), "0.2", "tanh centre / ramp begin, fraction of training"},
    {"lambda_end", K_DBL, F(lambda_end), "1", "ramp end, fraction of training"},
    {"lambda_width", K_DBL, F(lambda_width), "0", "tanh width s in steps (0: 0.05 T)"},
    {"sinreq_norm", K_STR, F(sinreq_norm), "layer-mean", "layer-mean (authors) or global"},
    {"sinreq_domain", K_STR, F(sinreq_domain), "w", "DoReFa: w (raw weights, authors) or x (DoReFa's rounding variable)"},
    {"waveq", K_BOOL, F(waveq), "false", "WaveQ: learn each layer's bitwidth"},
    {"waveq_scale", K_DBL, F(waveq_scale), "1", "WaveQ lambda_w maximum"},
    {"waveq_c", K_DBL, F(waveq_c), "0.03", "WaveQ lambda_beta scale c"},
    {"waveq_start", K_DBL, F(waveq_start), "0.2", "WaveQ phase 2 begins (fraction)"},
    {"waveq_stop", K_DBL, F(waveq_stop), "0.8", "WaveQ bitwidths freeze (fraction)"},
    {"waveq_width", K_DBL, F(waveq_width), "0", "WaveQ step width in steps (0: 0.05 T)"},
    {"waveq_beta_lr", K_DBL, F(waveq_beta_lr), "0.01", "learning rate of the betas"},
    {"waveq_beta_init", K_DBL, F(waveq_beta_init), "8", "initial beta"},
    {"epochs", K_INT, F(epochs), "1", "epochs"},
    {"batch", K_INT, F(batch), "256", "batch size"},
    {"lr", K_DBL, F(lr), "0.1", "initial learning rate"},
    {"lr_schedule", K_STR, F(lr_schedule), "multistep", "multistep, step, cosine, constant"},
    {"lr_milestones", K_STR, F(lr_milestones), "60,75", "multistep epochs E,..."},
    {"lr_step_epochs", K_INT, F(lr_step_epochs), "30", "step: epochs between decays"},
    {"lr_gamma", K_DBL, F(lr_gamma), "0.2", "multistep/step factor"},
    {"warmup_epochs", K_DBL, F(warmup_epochs), "0", "linear learning-rate warm-up over this many epochs (fractions allowed)"},
    {"momentum", K_DBL, F(momentum), "0.9", "SGD momentum"},
    {"nesterov", K_BOOL, F(nesterov), "false", "Nesterov momentum"},
    {"label_smoothing", K_DBL, F(label_smoothing), "0", "training loss label smoothing eps in [0, 1)"},
    {"clip_grad_norm", K_DBL, F(clip_grad_norm), "0", "clip the gradients' global L2 norm to this (0: off)"},
    {"weight_decay", K_DBL, F(weight_decay), "0.0001", "weight decay"},
    {"backend", K_STR, F(backend), "cpu", "cpu or vulkan"},
    {"device", K_STR, F(device), "", "Vulkan device index or name substring"},
    {"threads", K_INT, F(threads), "0", "CPU threads (0: OpenMP default)"},
    {"seed", K_LONG, F(seed), "0", "initialisation, shuffling, augmentation"},
    {"out", K_STR, F(out), "", "run directory"},
    {"init", K_STR, F(init), "", "model file to start from (fine-tuning)"},
    {"val", K_BOOL, F(val), "false", "also evaluate on /val when the dataset has it"},
    {"hist_epochs", K_STR, F(hist_epochs), "0,last", "epochs with weight histograms E,...,last (empty: none)"},
    {"hist_bins", K_INT, F(hist_bins), "200", "histogram bins"},
    {"capture", K_BOOL, F(capture), "true", "record the step once and replay it"},
    {"bucket_mb", K_DBL, F(bucket_mb), "0.25", "several ranks: gradient bucket size in MiB (averaged while backward goes on)"},
    {"force", K_BOOL, F(force), "false", "reuse a non-empty run directory"},
    {"max_steps", K_LONG, F(max_steps), "0", "stop after this many steps (0: no limit)"},
    {"quiet", K_BOOL, F(quiet), "false", "no progress output"},
    {"checkpoint_interval", K_LONG, F(checkpoint_interval), "0", "checkpoint every N steps too (0: at epoch ends only)"},
    {"keep_last", K_INT, F(keep_last), "3", "checkpoints kept in RUN_DIR/ckpt: N, all, or 0 (none once the run finished)"},
    {"resume", K_STR, F(resume), "", "auto (newest valid checkpoint in RUN_DIR/ckpt) or a checkpoint file"},
    {"diverge_factor", K_DBL, F(diverge_factor), "100", "stop (exit 2) when a step's loss exceeds this x ln(classes) (0: off)"},
    {"max_abs_weight", K_DBL, F(max_abs_weight), "100", "stop (exit 2) when a weight's |value| exceeds this at a checkpoint (0: off)"},
    {"rank_timeout", K_DBL, F(rank_timeout), "120", "several ranks: end the job (exit 2) when a rank does not respond for this many seconds (0: off)"},
    {"train_limit", K_LONG, F(train_limit), "0", "train on N images of /train only (a fixed subset, the same for every seed; 0: all)"},
    {"test_limit", K_LONG, F(test_limit), "0", "evaluate on N images of /test only (0: all)"},
    {"val_limit", K_LONG, F(val_limit), "0", "evaluate on N images of /val only (0: all)"},
    {"eval_every", K_INT, F(eval_every), "1", "evaluate every K epochs and after the last (0: after the last only)"},
    {"quick", K_BOOL, F(quick), "false", "smoke run: 1 epoch, train_limit 2560, test/val_limit 1000 unless set"},
    {"progress_every", K_STR, F(progress_every), "30s", "progress line when stderr is not a terminal: every N steps or Ns seconds"},
};
#undef F
#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

static int find_key(const char *name)
{
    char k[64];
    size_t i;

    for (i = 0; name[i] && i + 1 < sizeof k; i++)
        k[i] = name[i] == '-' ? '_' : name[i];
    k[i] = '\0';
    /* `sinreq info --width` spells it so: one spelling for both commands */
    if (strcmp(k, "width") == 0)
        strcpy(k, "width_mult");
    for (int j = 0; j < NKEYS; j++)
        if (strcmp(keys[j].name, k) == 0)
            return j;
    return -1;
}

/* " (did you mean X?)" for the key nearest name, as a flag (--lr-schedule)
 * or a YAML key (lr_schedule); "" when none is near. */
static const char *did_you_mean(const char *name, int flag)
{
    static _Thread_local char buf[96];
    const char *near = sr_closest_in(name, keys, NKEYS, sizeof keys[0]);
    size_t n;

    if (!near)
        return "";
    n = (size_t)snprintf(buf, sizeof buf, " (did you mean %s%s?)",
                         flag ? "--" : "", near);
    for (size_t i = 0; flag && i < n && i < sizeof buf; i++)
        if (buf[i] == '_')
            buf[i] = '-';
    return buf;
}

static int parse_bool(const char *v, int *out)
{
    static const char *t[] = {"true", "yes", "on", "1"};
    static const char *f[] = {"false", "no", "off", "0"};

    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, t[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(v, f[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

static sr_status set_idx(sr_train_config *c, int k, const char *v,
                         const char *where)
{
    void *p = (char *)c + keys[k].off;

    switch (keys[k].type) {
    case K_STR: {
        char *s = strdup(v);
        if (!s)
            return sr_error(SR_E_NOMEM, "out of memory");
        /* quantizer names are stored as the code spells them (DoReFa ->
         * dorefa): config.yaml, model files and reports compare them */
        if (strcmp(keys[k].name, "quantizer") == 0)
            for (char *t = s; *t; t++)
                *t = (char)tolower((unsigned char)*t);
        free(*(char **)p);
        *(char **)p = s;
        break;
    }
    case K_INT:
    case K_LONG:
    case K_DBL: {
        /* "--batch" for a flag, "FILE:LINE: batch" for the YAML file */
        char what[4300];
        sr_status st;
        long x = 0;

        /* keep_last: a count or "all" (-1 inside, never as a number) */
        if (strcmp(keys[k].name, "keep_last") == 0) {
            if (strcasecmp(v, "all") == 0)
                x = SR_KEEP_ALL;
            else if (sr_parse_long(where, v, 0, INT_MAX, &x) != SR_OK)
                return sr_error(SR_E_CONFIG, "%s: keep_last must be a "
                                "count >= 0 or 'all', not '%s'", where, v);
            *(int *)p = (int)x;
            break;
        }

        if (strncmp(where, "--", 2) == 0 || strcmp(where, "default") == 0)
            snprintf(what, sizeof what, "%s", where);
        else
            snprintf(what, sizeof what, "%s: %s", where, keys[k].name);
        if (keys[k].type == K_DBL)
            st = sr_parse_double(what, v, -DBL_MAX, DBL_MAX, (double *)p);
        else
            st = sr_parse_long(what, v, keys[k].type == K_INT ? INT_MIN
                               : LONG_MIN, keys[k].type == K_INT ? INT_MAX
                               : LONG_MAX, &x);
        if (st != SR_OK)
            return SR_E_CONFIG;   /* the message names the key and value */
        if (keys[k].type == K_INT)
            *(int *)p = (int)x;
        else if (keys[k].type == K_LONG)
            *(long *)p = x;
        break;
    }
    case K_BOOL:
        if (parse_bool(v, (int *)p))
            return sr_error(SR_E_CONFIG, "%s: %s must be true or false, not '%s'",
                            where, keys[k].name, v);
        break;
    }
    if (c->where) {
        char *w = strdup(where);
        if (!w)
            return sr_error(SR_E_NOMEM, "out of memory");
        free(c->where[k]);
        c->where[k] = w;
    }
    return SR_OK;
}

void sr_train_config_default(sr_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->where = calloc(NKEYS, sizeof *c->where);
    for (int k = 0; k < NKEYS; k++)
        set_idx(c, k, keys[k].def, "default");
}

void sr_train_config_free(sr_train_config *c)
{
    for (int k = 0; k < NKEYS; k++) {
        if (keys[k].type == K_STR) {
            char **p = (char **)((char *)c + keys[k].off);
            free(*p);
            *p = NULL;
        }
        if (c->where)
            free(c->where[k]);
    }
    free(c->where);
    c->where = NULL;
}

sr_status sr_train_config_set(sr_train_config *c, const char *key,
                              const char *value, const char *where)
{
    int k = find_key(key);

    if (k < 0)
        return sr_error(SR_E_CONFIG, "%s: unknown key '%s'%s (sinreq train "
                        "--help lists the keys)", where, key,
                        did_you_mean(key, 0));
    return set_idx(c, k, value, where);
}

const char *sr_train_where(const sr_train_config *c, const char *key)
{
    int k = find_key(key);

    return k >= 0 && c->where && c->where[k] ? c->where[k] : key;
}

/* ---- YAML ---- */

/* A scalar, a sequence of scalars (joined by ","), or for layer_bits a
 * mapping NAME: K (joined as NAME=K,...). */
static sr_status yaml_value(yaml_document_t *doc, yaml_node_t *n,
                            const char *where, char *buf, size_t size)
{
    size_t o = 0;

    buf[0] = '\0';
    if (n->type == YAML_SCALAR_NODE) {
        o = n->data.scalar.length;
        /* a NUL inside would cut the value short without a word */
        if (o >= size || memchr(n->data.scalar.value, '\0', o))
            return sr_error(SR_E_CONFIG, "%s: value %s", where, o >= size
                            ? "too long" : "contains a NUL byte");
        memcpy(buf, n->data.scalar.value, o);
        buf[o] = '\0';
        return SR_OK;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++) {
            yaml_node_t *e = yaml_document_get_node(doc, *it);
            if (!e || e->type != YAML_SCALAR_NODE ||
                memchr(e->data.scalar.value, '\0', e->data.scalar.length))
                return sr_error(SR_E_CONFIG, "%s: list items must be plain values",
                                where);
            o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "%s%.*s",
                                  o ? "," : "", (int)e->data.scalar.length,
                                  (const char *)e->data.scalar.value);
        }
    } else if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            yaml_node_t *v = yaml_document_get_node(doc, p->value);
            if (!k || !v || k->type != YAML_SCALAR_NODE ||
                v->type != YAML_SCALAR_NODE)
                return sr_error(SR_E_CONFIG, "%s: mapping items must be NAME: value",
                                where);
            for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
                yaml_node_t *kq = yaml_document_get_node(doc, q->key);
                if (kq && kq->type == YAML_SCALAR_NODE &&
                    kq->data.scalar.length == k->data.scalar.length &&
                    memcmp(kq->data.scalar.value, k->data.scalar.value,
                           k->data.scalar.length) == 0)
                    return sr_error(SR_E_CONFIG, "%s: '%.*s' appears twice "
                                    "(lines %zu and %zu)", where,
                                    (int)k->data.scalar.length,
                                    (const char *)k->data.scalar.value,
                                    kq->start_mark.line + 1,
                                    k->start_mark.line + 1);
            }
            o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "%s%.*s=%.*s",
                                  o ? "," : "", (int)k->data.scalar.length,
                                  (const char *)k->data.scalar.value,
                                  (int)v->data.scalar.length,
                                  (const char *)v->data.scalar.value);
        }
    }
    if (o >= size)
        return sr_error(SR_E_CONFIG, "%s: value too long", where);
    return SR_OK;
}

/* Lists (and for layer_bits a mapping) only where a key takes several
 * items; a list elsewhere would be joined into one odd value. */
static int key_takes_list(int k, yaml_node_type_t t)
{
    static const char *const lists[] = {
        "layer_bits", "quantize_layers", "fp_layers", "lr_milestones",
        "hist_epochs",
    };

    if (t == YAML_SCALAR_NODE)
        return 1;
    if (t == YAML_MAPPING_NODE)
        return strcmp(keys[k].name, "layer_bits") == 0;
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        if (strcmp(keys[k].name, lists[i]) == 0)
            return 1;
    return 0;
}

/* libyaml's scanner is quadratic in the nesting depth (200 KB of "[" took
 * minutes); a config needs two levels, so stop at the first deep one. */
#define YAML_MAX_DEPTH 16

static sr_status yaml_check_depth(FILE *f, const char *path)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    sr_status st = SR_OK;
    int depth = 0, done = 0;

    if (!yaml_parser_initialize(&parser))
        return sr_error(SR_E_NOMEM, "out of memory");
    yaml_parser_set_input_file(&parser, f);
    /* a syntax error is left to the loader, which reports it */
    while (!done && st == SR_OK && yaml_parser_parse(&parser, &ev)) {
        if (ev.type == YAML_SEQUENCE_START_EVENT ||
            ev.type == YAML_MAPPING_START_EVENT) {
            if (++depth > YAML_MAX_DEPTH)
                st = sr_error(SR_E_CONFIG, "%s:%zu: nested deeper than %d "
                              "levels", path, ev.start_mark.line + 1,
                              YAML_MAX_DEPTH);
        } else if (ev.type == YAML_SEQUENCE_END_EVENT ||
                   ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    rewind(f);
    return st;
}

/* The config is one document: a second one ("---") would be ignored. */
static sr_status yaml_one_document(yaml_parser_t *parser, const char *path)
{
    yaml_document_t next;
    yaml_node_t *root;
    sr_status st = SR_OK;

    if (!yaml_parser_load(parser, &next))
        return sr_error(SR_E_CONFIG, "%s:%zu:%zu: YAML error: %s %s", path,
                        parser->problem_mark.line + 1,
                        parser->problem_mark.column + 1,
                        parser->problem ? parser->problem : "",
                        parser->context ? parser->context : "");
    root = yaml_document_get_root_node(&next);
    if (root)
        st = sr_error(SR_E_CONFIG, "%s:%zu: a second YAML document; the "
                      "config must be a single document", path,
                      next.start_mark.line + 1);
    yaml_document_delete(&next);
    return st;
}

sr_status sr_train_config_load_yaml(sr_train_config *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    char where[4200], kname[128];
    char *val = NULL;
    size_t seen[NKEYS] = {0};   /* line of each key's first appearance */
    sr_status st = SR_OK;
    int ki;

    if (!f)
        return sr_error(SR_E_IO, "config file %s: %s", path, strerror(errno));
    st = yaml_check_depth(f, path);
    if (st != SR_OK) {
        fclose(f);
        return st;
    }
    val = malloc(65536);
    if (!val || !yaml_parser_initialize(&parser)) {
        fclose(f);
        free(val);
        return sr_error(SR_E_NOMEM, "out of memory");
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        st = sr_error(SR_E_CONFIG, "%s:%zu:%zu: YAML error: %s %s", path,
                      parser.problem_mark.line + 1,
                      parser.problem_mark.column + 1,
                      parser.problem ? parser.problem : "",
                      parser.context ? parser.context : "");
        goto out_parser;
    }
    root = yaml_document_get_root_node(&doc);
    if (!root)      /* an empty file sets nothing */
        goto out_doc;
    st = yaml_one_document(&parser, path);
    if (st != SR_OK)
        goto out_doc;
    if (root->type != YAML_MAPPING_NODE) {
        st = sr_error(SR_E_CONFIG, "%s:%zu: the config must be a mapping of "
                      "key: value", path, root->start_mark.line + 1);
        goto out_doc;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         st == SR_OK && p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE ||
            k->data.scalar.length >= sizeof kname ||
            memchr(k->data.scalar.value, '\0', k->data.scalar.length)) {
            st = sr_error(SR_E_CONFIG, "%s:%zu: keys must be plain names",
                          path, k ? k->start_mark.line + 1 : 0);
            break;
        }
        snprintf(kname, sizeof kname, "%.*s", (int)k->data.scalar.length,
                 (const char *)k->data.scalar.value);
        snprintf(where, sizeof where, "%s:%zu", path, k->start_mark.line + 1);
        ki = find_key(kname);
        if (ki < 0) {
            st = sr_error(SR_E_CONFIG, "%s: unknown key '%s'%s (sinreq "
                          "train --help lists the keys)", where, kname,
                          did_you_mean(kname, 0));
            break;
        }
        /* YAML leaves duplicates to the application: last-wins would hide
         * a typo or a merge mistake */
        if (seen[ki]) {
            st = sr_error(SR_E_CONFIG, "%s: key '%s' appears twice (first at "
                          "line %zu)", where, keys[ki].name, seen[ki]);
            break;
        }
        seen[ki] = k->start_mark.line + 1;
        if (!key_takes_list(ki, v->type)) {
            st = sr_error(SR_E_CONFIG, "%s: %s takes a single value, not a "
                          "%s", where, keys[ki].name,
                          v->type == YAML_MAPPING_NODE ? "mapping" : "list");
            break;
        }
        st = yaml_value(&doc, v, where, val, 65536);
        if (st == SR_OK)
            st = sr_train_config_set(c, kname, val, where);
    }
out_doc:
    yaml_document_delete(&doc);
out_parser:
    yaml_parser_delete(&parser);
    fclose(f);
    free(val);
    return st;
}

/* ---- flags ---- */

sr_status sr_train_config_from_args(sr_train_config *c, int argc, char **argv)
{
    char key[128], where[160];

    /* The file first, wherever --config appears, so flags override it. */
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            SR_CHECK(i + 1 < argc, SR_E_CONFIG, "--config needs a file name");
            SR_TRY(sr_train_config_load_yaml(c, argv[i + 1]));
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            SR_TRY(sr_train_config_load_yaml(c, argv[i] + 9));
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *eq, *v;
        int k;

        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        if (strncmp(a, "--", 2) != 0)
            return sr_error(SR_E_CONFIG, "unexpected argument '%s' (options "
                            "are --name value)", a);
        eq = strchr(a, '=');
        snprintf(key, sizeof key, "%.*s",
                 (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)), a + 2);
        k = find_key(key);
        if (k < 0 || strchr(key, '_'))
            return sr_error(SR_E_CONFIG, "unknown option --%s%s (sinreq "
                            "train --help lists them)", key,
                            did_you_mean(key, 1));
        snprintf(where, sizeof where, "--%s", key);
        if (eq) {
            v = eq + 1;
        } else if (keys[k].type == K_BOOL) {
            int b;
            /* --val alone means true; --val false is accepted too */
            if (i + 1 < argc && parse_bool(argv[i + 1], &b) == 0)
                v = argv[++i];
            else
                v = "true";
        } else {
            SR_CHECK(i + 1 < argc, SR_E_CONFIG, "--%s needs a value", key);
            v = argv[++i];
        }
        SR_TRY(set_idx(c, k, v, where));
    }
    return sr_train_config_presets(c);
}

/* ---- output ---- */

static void yaml_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\x%02x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

sr_status sr_train_config_write_yaml(const sr_train_config *c, FILE *f)
{
    fprintf(f, "# sinreq train: resolved configuration (load with --config)\n");
    for (int k = 0; k < NKEYS; k++) {
        const void *p = (const char *)c + keys[k].off;
        fprintf(f, "%s: ", keys[k].name);
        switch (keys[k].type) {
        case K_STR: yaml_str(f, *(char *const *)p ? *(char *const *)p : ""); break;
        case K_INT:
            if (strcmp(keys[k].name, "keep_last") == 0 &&
                *(const int *)p == SR_KEEP_ALL)
                fputs("all", f);
            else
                fprintf(f, "%d", *(const int *)p);
            break;
        case K_LONG: fprintf(f, "%ld", *(const long *)p); break;
        case K_DBL: {
            /* shortest text that reads back to the same double */
            char b[40];
            for (int prec = 6; prec <= 17; prec++) {
                snprintf(b, sizeof b, "%.*g", prec, *(const double *)p);
                if (strtod(b, NULL) == *(const double *)p)
                    break;
            }
            fputs(b, f);
            break;
        }
        case K_BOOL: fprintf(f, "%s", *(const int *)p ? "true" : "false"); break;
        }
        fputc('\n', f);
    }
    return ferror(f) ? sr_error(SR_E_IO, "cannot write the config") : SR_OK;
}

void sr_train_config_help(FILE *f)
{
    fprintf(f, "usage: sinreq train --data FILE.h5 --out RUN_DIR [options]\n\n"
               "  --config FILE   YAML file of the keys below (flags override it)\n");
    for (int k = 0; k < NKEYS; k++) {
        char flag[64];
        size_t i;
        for (i = 0; keys[k].name[i] && i + 1 < sizeof flag; i++)
            flag[i] = keys[k].name[i] == '_' ? '-' : keys[k].name[i];
        flag[i] = '\0';
        fprintf(f, "  --%-16s %s [%s]\n", flag, keys[k].help,
                keys[k].def[0] ? keys[k].def : "\"\"");
    }
}

/* ---- the --quick preset ---- */

sr_status sr_train_config_presets(sr_train_config *c)
{
    /* about half a minute for resnet20 on a few CPU cores */
    static const char *const preset[][2] = {
        {"epochs", "1"}, {"train_limit", "2560"}, {"test_limit", "1000"},
        {"val_limit", "1000"},
    };

    if (!c->quick)
        return SR_OK;
    for (size_t i = 0; i < sizeof preset / sizeof preset[0]; i++) {
        int k = find_key(preset[i][0]);
        if (c->where && c->where[k] && strcmp(c->where[k], "default") != 0)
            continue;   /* set by the user: theirs wins */
        SR_TRY(set_idx(c, k, preset[i][1], "--quick"));
    }
    return SR_OK;
}

sr_status sr_train_progress_every(const sr_train_config *c, long *steps,
                                  double *seconds)
{
    const char *v = c->progress_every ? c->progress_every : "";
    size_t n = strlen(v);
    char num[64];

    *steps = 0;
    *seconds = 0;
    if (n > 1 && n < sizeof num && v[n - 1] == 's') {
        snprintf(num, sizeof num, "%.*s", (int)(n - 1), v);
        if (sr_parse_double(sr_train_where(c, "progress_every"), num, 1e-3,
                            1e9, seconds) == SR_OK)
            return SR_OK;
    } else if (sr_parse_long(sr_train_where(c, "progress_every"), v, 1,
                             LONG_MAX, steps) == SR_OK) {
        return SR_OK;
    }
    return sr_error(SR_E_CONFIG, "%s: progress_every must be a step count "
                    "(100) or seconds (30s), not '%s'",
                    sr_train_where(c, "progress_every"), v);
}

/* ---- checks ---- */

sr_status sr_train_config_check(const sr_train_config *c)
{
    int cc, ch, cw, ncl;
    sr_quantizer q;
    sr_train_plan pt;

    if (sr_netfile_is_path(c->net)) {
        /* the file's own message names the file, line and layer */
        sr_status st = sr_model_defaults(c->net, &cc, &ch, &cw, &ncl);
        if (st != SR_OK) return st;
        SR_CHECK(strlen(c->net) < SR_MODEL_NET_MAX, SR_E_CONFIG,
                 "%s: network file path longer than %d characters",
                 sr_train_where(c, "net"), SR_MODEL_NET_MAX - 1);
    } else if (sr_model_defaults(c->net, &cc, &ch, &cw, &ncl) != SR_OK) {
        return sr_error(SR_E_CONFIG, "%s: unknown network '%s'%s (use %s, "
                        "or a network file ending in .yaml)",
                        sr_train_where(c, "net"), c->net,
                        sr_model_suggest(c->net), sr_model_names());
    }
    SR_CHECK(c->data && c->data[0], SR_E_CONFIG,
             "no dataset: give --data FILE.h5 (or data: in the config)");
    SR_CHECK(c->out && c->out[0], SR_E_CONFIG,
             "no run directory: give --out DIR (or out: in the config)");
    if (sr_quant_quantizer_parse(c->quantizer, &q) != SR_OK)
        return sr_error(SR_E_CONFIG, "%s: unknown quantizer '%s' (use none, "
                        "dorefa or wrpn)", sr_train_where(c, "quantizer"),
                        c->quantizer);
    if (q != SR_QUANT_NONE) {
        int lo = q == SR_QUANT_WRPN ? 2 : SR_MIN_BITS;
        if (c->bits < lo || c->bits > SR_MAX_BITS)
            return sr_error(SR_E_BITS, "%s: bits %d is outside %d..%d for %s",
                            sr_train_where(c, "bits"), c->bits, lo,
                            SR_MAX_BITS, c->quantizer);
    }
    if (c->act_bits < 0 || c->act_bits > SR_MAX_BITS)
        return sr_error(SR_E_BITS, "%s: act_bits %d is outside 0..%d",
                        sr_train_where(c, "act_bits"), c->act_bits, SR_MAX_BITS);
    SR_CHECK(c->width_mult >= 1 && c->width_mult <= 8, SR_E_CONFIG,
             "%s: width_mult %d is outside 1..8",
             sr_train_where(c, "width_mult"), c->width_mult);
    SR_CHECK(c->classes >= 0, SR_E_CONFIG, "%s: classes must be >= 0",
             sr_train_where(c, "classes"));
    SR_CHECK(c->epochs >= 1, SR_E_CONFIG, "%s: epochs must be >= 1",
             sr_train_where(c, "epochs"));
    SR_CHECK(c->batch >= 1 && c->batch <= 65536, SR_E_CONFIG,
             "%s: batch %d is outside 1..65536", sr_train_where(c, "batch"),
             c->batch);
    SR_CHECK(c->lr > 0, SR_E_CONFIG, "%s: lr must be > 0",
             sr_train_where(c, "lr"));
    SR_CHECK(c->momentum >= 0 && c->momentum < 1, SR_E_CONFIG,
             "%s: momentum must be in [0, 1)", sr_train_where(c, "momentum"));
    SR_CHECK(c->weight_decay >= 0, SR_E_CONFIG, "%s: weight_decay must be >= 0",
             sr_train_where(c, "weight_decay"));
    SR_CHECK(c->lr_gamma > 0, SR_E_CONFIG, "%s: lr_gamma must be > 0",
             sr_train_where(c, "lr_gamma"));
    SR_CHECK(c->lr_step_epochs >= 1, SR_E_CONFIG,
             "%s: lr_step_epochs must be >= 1, not %d",
             sr_train_where(c, "lr_step_epochs"), c->lr_step_epochs);
    SR_CHECK(isfinite(c->warmup_epochs) && c->warmup_epochs >= 0 &&
             c->warmup_epochs <= c->epochs, SR_E_CONFIG,
             "%s: warmup_epochs must be in [0, epochs = %d], not %g",
             sr_train_where(c, "warmup_epochs"), c->epochs, c->warmup_epochs);
    SR_CHECK(c->label_smoothing >= 0 && c->label_smoothing < 1, SR_E_CONFIG,
             "%s: label_smoothing must be in [0, 1), not %g",
             sr_train_where(c, "label_smoothing"), c->label_smoothing);
    SR_CHECK(isfinite(c->clip_grad_norm) && c->clip_grad_norm >= 0,
             SR_E_CONFIG, "%s: clip_grad_norm must be 0 (off) or > 0, not %g",
             sr_train_where(c, "clip_grad_norm"), c->clip_grad_norm);
    SR_CHECK(!c->nesterov || c->momentum > 0, SR_E_CONFIG,
             "%s: Nesterov momentum needs momentum > 0",
             sr_train_where(c, "nesterov"));
    SR_CHECK(c->sinreq_lambda >= 0, SR_E_CONFIG, "%s: sinreq_lambda must be >= 0",
             sr_train_where(c, "sinreq_lambda"));
    SR_CHECK(c->hist_bins >= 2 && c->hist_bins <= 100000, SR_E_CONFIG,
             "%s: hist_bins must be in 2..100000", sr_train_where(c, "hist_bins"));
    SR_CHECK(c->max_steps >= 0, SR_E_CONFIG, "%s: max_steps must be >= 0",
             sr_train_where(c, "max_steps"));
    SR_CHECK(c->checkpoint_interval >= 0, SR_E_CONFIG,
             "%s: checkpoint_interval must be >= 0",
             sr_train_where(c, "checkpoint_interval"));
    SR_CHECK(c->keep_last >= 0 || c->keep_last == SR_KEEP_ALL, SR_E_CONFIG,
             "%s: keep_last must be a count >= 0 or 'all'",
             sr_train_where(c, "keep_last"));
    SR_CHECK(c->train_limit >= 0, SR_E_CONFIG, "%s: train_limit must be "
             ">= 0 (0: the whole split)", sr_train_where(c, "train_limit"));
    SR_CHECK(c->test_limit >= 0, SR_E_CONFIG, "%s: test_limit must be >= 0 "
             "(0: the whole split)", sr_train_where(c, "test_limit"));
    SR_CHECK(c->val_limit >= 0, SR_E_CONFIG, "%s: val_limit must be >= 0 "
             "(0: the whole split)", sr_train_where(c, "val_limit"));
    SR_CHECK(c->eval_every >= 0, SR_E_CONFIG, "%s: eval_every must be >= 0 "
             "(0: evaluate after the last epoch only)",
             sr_train_where(c, "eval_every"));
    {
        long n;
        double s;
        SR_TRY(sr_train_progress_every(c, &n, &s));
    }
    SR_CHECK(c->threads >= 0 && c->threads <= SR_MAX_THREADS, SR_E_CONFIG,
             "%s: threads %d is outside 0..%d (0: OpenMP's default)",
             sr_train_where(c, "threads"), c->threads, SR_MAX_THREADS);
    /* at least one float, at most what one MPI message takes here */
    SR_CHECK(isfinite(c->diverge_factor) && (c->diverge_factor == 0 ||
             c->diverge_factor >= 1), SR_E_CONFIG, "%s: diverge_factor must "
             "be 0 (off) or >= 1, not %g", sr_train_where(c, "diverge_factor"),
             c->diverge_factor);
    SR_CHECK(isfinite(c->max_abs_weight) && c->max_abs_weight >= 0,
             SR_E_CONFIG, "%s: max_abs_weight must be 0 (off) or > 0, not %g",
             sr_train_where(c, "max_abs_weight"), c->max_abs_weight);
    SR_CHECK(isfinite(c->rank_timeout) && c->rank_timeout >= 0 &&
             c->rank_timeout <= 1e6, SR_E_CONFIG, "%s: rank_timeout must be "
             "0 (off) or seconds in (0, 1e6], not %g",
             sr_train_where(c, "rank_timeout"), c->rank_timeout);
    SR_CHECK(c->bucket_mb * 1048576.0 >= 4.0 && c->bucket_mb <= 1024.0,
             SR_E_CONFIG, "%s: bucket_mb must be in [4 bytes, 1024] MiB, not %g",
             sr_train_where(c, "bucket_mb"), c->bucket_mb);
    SR_CHECK(c->waveq_beta_init > 0 && c->waveq_beta_init <= SR_MAX_BITS,
             SR_E_CONFIG, "%s: waveq_beta_init must be in (0, 16]",
             sr_train_where(c, "waveq_beta_init"));
    if ((c->sinreq_lambda > 0 || c->waveq) && q == SR_QUANT_NONE)
        return sr_error(SR_E_CONFIG, "%s: the %s regularizer needs a quantizer "
                        "(--quantizer dorefa or wrpn)",
                        sr_train_where(c, c->waveq ? "waveq" : "sinreq_lambda"),
                        c->waveq ? "WaveQ" : "SinReQ");
    if (c->waveq) {
        /* WaveQ sets every quantized layer's bits itself (ceil beta): a
         * bit setting would be ignored. Refused when it differs from the
         * default, which a saved config.yaml carries. */
        SR_CHECK(c->bits == 4, SR_E_CONFIG, "%s: --bits %d has no effect "
                 "under WaveQ, which learns each layer's bitwidth (start it "
                 "with --waveq-beta-init; drop --bits)",
                 sr_train_where(c, "bits"), c->bits);
        SR_CHECK(!c->layer_bits[0], SR_E_CONFIG, "%s: --layer-bits has no "
                 "effect under WaveQ, which learns each layer's bitwidth "
                 "(choose the quantized layers with --quantize-layers / "
                 "--fp-layers)", sr_train_where(c, "layer_bits"));
        SR_CHECK(c->sinreq_lambda == 0, SR_E_CONFIG, "%s: --sinreq-lambda "
                 "has no effect under WaveQ, whose term is weighted by "
                 "--waveq-scale and --waveq-c (drop --sinreq-lambda, or "
                 "drop --waveq for SinReQ)", sr_train_where(c, "sinreq_lambda"));
    }
    SR_CHECK(strcmp(c->backend, "cpu") == 0 || strcmp(c->backend, "vulkan") == 0,
             SR_E_CONFIG, "%s: unknown backend '%s' (use cpu or vulkan)",
             sr_train_where(c, "backend"), c->backend);
    SR_TRY(sr_train_plan_parse(c, &pt));
    sr_train_plan_free(&pt);
    {
        sr_train_sched s;
        SR_TRY(sr_train_sched_parse(c, &s));
    }
    {
        int e[SR_TRAIN_MAX_HIST];
        int n, last;
        SR_TRY(sr_train_hist_epochs(c, e, &n, &last));
    }
    {
        sr_augment a;
        SR_TRY(sr_train_augment(c, &a));
    }
    return SR_OK;
}

int sr_train_exit_code(sr_status st)
{
    switch (st) {
    case SR_OK:
        return SR_EXIT_OK;
    case SR_E_ARG: case SR_E_SHAPE: case SR_E_BITS: case SR_E_IO:
    case SR_E_FORMAT: case SR_E_CONFIG:
        return SR_EXIT_USAGE;
    default:
        return SR_EXIT_RUNTIME;
    }
}
