/* Network description files: YAML -> a flat layer list (blocks expanded,
 * input names resolved) -> checks (duplicates, unknown inputs, cycles,
 * unused outputs) -> the graph through the sr_nn builder calls. */
#include "sinreq/netfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define NF_NAME_MAX 64       /* the graph's layer-name limit */
#define NF_MAX_LAYERS 10000  /* repeat inside repeat cannot blow up memory */
#define NF_MAX_DEPTH 16      /* libyaml's scanner is quadratic in nesting */
#define NF_MAX_BYTES (1 << 20) /* model files keep the whole text */
#define NF_NET_INPUT "in"    /* the reserved name of a block's input */

typedef enum nf_op {
    NF_CONV, NF_DWCONV, NF_LINEAR, NF_BATCHNORM, NF_RELU, NF_DROPOUT,
    NF_MAXPOOL, NF_AVGPOOL, NF_ADD, NF_FLATTEN, NF_NOPS
} nf_op;

static const char *const op_names[NF_NOPS] = {
    "conv", "dwconv", "linear", "batchnorm", "relu", "dropout", "maxpool",
    "avgpool", "add", "flatten"};

/* A conv/linear layer's own quantization (sr_nn_set_layer_rule). */
#define NF_QUANT_KEYS "quantize bits act_bits"

/* The keys each op takes besides name, op and input(s). */
static const char *const op_keys[NF_NOPS] = {
    "out kernel stride pad bias " NF_QUANT_KEYS,
    "kernel stride pad bias " NF_QUANT_KEYS, "out bias " NF_QUANT_KEYS, "",
    "", "p",
    "kernel stride pad", "size", "", ""};

typedef struct nf_layer {
    char name[NF_NAME_MAX];
    size_t line;
    nf_op op;
    int nin;
    char in[2][NF_NAME_MAX];  /* full names; NF_NET_INPUT: the images */
    int src[2];               /* resolved: layer index, -1 = the images */
    int out, out_classes;     /* conv/linear; out_classes: "out: classes" */
    int kernel, stride, pad, bias;
    int size_h, size_w;       /* avgpool output */
    float p;                  /* dropout */
    int has_rule, q_quantize, q_bits, q_act_bits; /* -1 / 0 / -1: keep */
    int used, state, tensor;  /* checks and building */
} nf_layer;

typedef struct nf_file {
    const char *path;
    char *text;          /* the whole file (malloc'd, NUL-terminated) */
    yaml_document_t doc;
    char name[NF_NAME_MAX];
    int c, h, w, classes, ends_fp;
    char output[NF_NAME_MAX];
    size_t output_line;
    nf_layer *l;
    int n, cap;
} nf_file;

/* ------------------------------------------------------------------ */
/* Errors: "FILE:LINE: layer NAME: what"                               */

__attribute__((format(printf, 5, 6)))
static sr_status nf_err(const nf_file *f, sr_status code, size_t line,
                        const char *layer, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (layer && layer[0])
        return sr_error(code, "%s:%zu: layer %s: %s", f->path, line, layer,
                        msg);
    return sr_error(code, "%s:%zu: %s", f->path, line, msg);
}

static size_t line_of(const yaml_node_t *n) { return n->start_mark.line + 1; }

/* The graph's message without its "graph.c:123: " source prefix: ours
 * already says where. */
static const char *inner_msg(void)
{
    const char *m = sr_last_error(), *p = m;
    while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
        p++;
    if (strncmp(p, ".c:", 3) != 0) return m;
    for (p += 3; *p >= '0' && *p <= '9'; p++) {}
    return strncmp(p, ": ", 2) == 0 ? p + 2 : m;
}

/* ------------------------------------------------------------------ */
/* YAML values                                                         */

static yaml_node_t *node(nf_file *f, int id)
{
    return yaml_document_get_node(&f->doc, id);
}

/* The scalar's text, or NULL when n is not a scalar (or holds a NUL). */
static const char *scalar(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE) return NULL;
    const char *s = (const char *)n->data.scalar.value;
    return strlen(s) == n->data.scalar.length ? s : NULL;
}

static yaml_node_t *get(nf_file *f, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        const char *k = scalar(node(f, p->key));
        if (k && strcmp(k, key) == 0) return node(f, p->value);
    }
    return NULL;
}

/* A word in a space-separated list. */
static int in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *s = list; (s = strstr(s, word)) != NULL; s += n)
        if ((s == list || s[-1] == ' ') && (s[n] == ' ' || s[n] == '\0'))
            return 1;
    return 0;
}

/* Every key of map must be in allowed; duplicates are refused too. */
static sr_status check_keys(nf_file *f, yaml_node_t *map, const char *allowed,
                            const char *layer, const char *what)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(f, p->key);
        const char *k = scalar(kn);
        if (!k)
            return nf_err(f, SR_E_CONFIG, line_of(kn), layer,
                          "keys must be plain names");
        if (!in_list(allowed, k))
            return nf_err(f, SR_E_CONFIG, line_of(kn), layer,
                          "unknown key '%s' for %s (valid: %s)", k, what,
                          allowed);
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++)
            if (strcmp(scalar(node(f, q->key)), k) == 0)
                return nf_err(f, SR_E_CONFIG, line_of(kn), layer,
                              "key '%s' given twice", k);
    }
    return SR_OK;
}

static sr_status get_int(nf_file *f, yaml_node_t *v, const char *key,
                         const char *layer, int lo, int hi, int *out)
{
    const char *s = scalar(v);
    char *end;
    errno = 0;
    long x = s && s[0] ? strtol(s, &end, 10) : 0;
    if (!s || !s[0] || *end || errno || x < lo || x > hi)
        return nf_err(f, SR_E_CONFIG, line_of(v), layer, "%s must be an "
                      "integer in %d..%d (got '%s')", key, lo, hi,
                      s ? s : "a list or mapping");
    *out = (int)x;
    return SR_OK;
}

/* An optional integer key: *out keeps its default when absent. */
static sr_status opt_int(nf_file *f, yaml_node_t *map, const char *key,
                         const char *layer, int lo, int hi, int *out)
{
    yaml_node_t *v = get(f, map, key);
    return v ? get_int(f, v, key, layer, lo, hi, out) : SR_OK;
}

static sr_status req_int(nf_file *f, yaml_node_t *map, const char *key,
                         const char *layer, const char *op, int lo, int hi,
                         int *out)
{
    yaml_node_t *v = get(f, map, key);
    if (!v)
        return nf_err(f, SR_E_CONFIG, line_of(map), layer, "%s needs '%s'",
                      op, key);
    return get_int(f, v, key, layer, lo, hi, out);
}

static sr_status opt_bool(nf_file *f, yaml_node_t *map, const char *key,
                          const char *layer, int *out)
{
    yaml_node_t *v = get(f, map, key);
    if (!v) return SR_OK;
    const char *s = scalar(v);
    if (s && strcmp(s, "true") == 0) *out = 1;
    else if (s && strcmp(s, "false") == 0) *out = 0;
    else
        return nf_err(f, SR_E_CONFIG, line_of(v), layer, "%s must be true "
                      "or false (got '%s')", key, s ? s : "a list or mapping");
    return SR_OK;
}

/* A name: letters, digits, '_', '-', '.', and "{i}" where templates are
 * allowed; shorter than the graph's limit. */
static sr_status check_name(nf_file *f, yaml_node_t *v, const char *what,
                            int template_ok, const char **out)
{
    const char *s = scalar(v);
    if (!s || !s[0])
        return nf_err(f, SR_E_CONFIG, line_of(v), NULL, "%s must be a "
                      "non-empty name", what);
    if (strlen(s) >= NF_NAME_MAX)
        return nf_err(f, SR_E_CONFIG, line_of(v), NULL, "%s '%s' is longer "
                      "than %d characters", what, s, NF_NAME_MAX - 1);
    for (const char *c = s; *c; c++) {
        if (template_ok && strncmp(c, "{i}", 3) == 0) {
            c += 2;
            continue;
        }
        if (!(*c == '_' || *c == '-' || *c == '.' ||
              (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z')))
            return nf_err(f, SR_E_CONFIG, line_of(v), NULL, "%s '%s' may "
                          "hold only letters, digits, '_', '-', '.'%s", what,
                          s, template_ok ? " and {i}" : "");
    }
    if (strcmp(s, NF_NET_INPUT) == 0)
        return nf_err(f, SR_E_CONFIG, line_of(v), NULL, "'%s' is reserved "
                      "(it names the input of the network or block)",
                      NF_NET_INPUT);
    *out = s;
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Expansion: blocks and repeats into one flat list                    */

typedef struct nf_scope {
    const char *prefix;        /* "" at the top, "layer1.0" in a block */
    const char *input;         /* full name of what "in" means here */
    yaml_node_t *items;        /* the sequence: its layer names are local */
} nf_scope;

static void full_name(char *dst, const char *prefix, const char *name)
{
    if (prefix[0])
        snprintf(dst, NF_NAME_MAX, "%s.%s", prefix, name);
    else
        snprintf(dst, NF_NAME_MAX, "%s", name);
}

/* A reference inside scope sc: "in", a layer of the same list (by its
 * short name), or any layer by its full name. */
static void resolve_ref(nf_file *f, const nf_scope *sc, const char *ref,
                        char *dst)
{
    if (strcmp(ref, NF_NET_INPUT) == 0) {
        snprintf(dst, NF_NAME_MAX, "%s", sc->input);
        return;
    }
    for (yaml_node_item_t *it = sc->items->data.sequence.items.start;
         sc->prefix[0] && it < sc->items->data.sequence.items.top; it++) {
        yaml_node_t *m = node(f, *it);
        if (!m || m->type != YAML_MAPPING_NODE || get(f, m, "block")) continue;
        const char *nm = scalar(get(f, m, "name"));
        if (nm && strcmp(nm, ref) == 0) {
            full_name(dst, sc->prefix, ref);
            return;
        }
    }
    snprintf(dst, NF_NAME_MAX, "%s", ref);
}

static sr_status name_fits(nf_file *f, yaml_node_t *v, const char *prefix,
                           const char *name)
{
    if (strlen(prefix) + 1 + strlen(name) >= NF_NAME_MAX)
        return nf_err(f, SR_E_CONFIG, line_of(v), NULL, "layer name "
                      "'%s.%s' is longer than %d characters", prefix, name,
                      NF_NAME_MAX - 1);
    return SR_OK;
}

static sr_status new_layer(nf_file *f, yaml_node_t *at, nf_layer **out)
{
    if (f->n == NF_MAX_LAYERS)
        return nf_err(f, SR_E_CONFIG, line_of(at), NULL, "more than %d "
                      "layers", NF_MAX_LAYERS);
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 64;
        nf_layer *l = realloc(f->l, (size_t)cap * sizeof *l);
        SR_CHECK(l, SR_E_NOMEM, "out of memory reading %s", f->path);
        f->l = l;
        f->cap = cap;
    }
    *out = &f->l[f->n++];
    memset(*out, 0, sizeof **out);
    return SR_OK;
}

/* quantize: true|false, bits: N, act_bits: N on a conv/linear layer. */
static sr_status parse_rule(nf_file *f, yaml_node_t *m, nf_layer *l)
{
    int quantize = -1;
    l->q_quantize = -1;
    l->q_bits = 0;
    l->q_act_bits = -1;
    SR_TRY(opt_bool(f, m, "quantize", l->name, &quantize));
    SR_TRY(opt_int(f, m, "bits", l->name, 1, 16, &l->q_bits));
    SR_TRY(opt_int(f, m, "act_bits", l->name, 0, 16, &l->q_act_bits));
    l->q_quantize = quantize;
    l->has_rule = quantize >= 0 || l->q_bits > 0 || l->q_act_bits >= 0;
    if (quantize == 0 && (l->q_bits > 0 || l->q_act_bits > 0))
        return nf_err(f, SR_E_CONFIG, l->line, l->name, "quantize: false "
                      "keeps the layer in float32, so bits / act_bits "
                      "cannot apply");
    return SR_OK;
}

static sr_status parse_layer(nf_file *f, yaml_node_t *m, const nf_scope *sc,
                             const char *prev, char *last)
{
    const char *nm, *opname;
    yaml_node_t *nv = get(f, m, "name"), *ov = get(f, m, "op");
    if (!nv)
        return nf_err(f, SR_E_CONFIG, line_of(m), NULL, "a layer without a "
                      "name (every layer needs name: and op:)");
    SR_TRY(check_name(f, nv, "layer name", 0, &nm));
    SR_TRY(name_fits(f, nv, sc->prefix, nm));
    nf_layer *l = NULL;
    SR_TRY(new_layer(f, m, &l));
    full_name(l->name, sc->prefix, nm);
    l->line = line_of(m);
    const char *ln = l->name;
    opname = scalar(ov);
    if (!ov)
        return nf_err(f, SR_E_CONFIG, l->line, ln, "no op (one of conv, "
                      "dwconv, linear, batchnorm, relu, dropout, maxpool, "
                      "avgpool, add, flatten)");
    int op = NF_NOPS;
    for (int i = 0; opname && i < NF_NOPS; i++)
        if (strcmp(opname, op_names[i]) == 0) op = i;
    if (op == NF_NOPS)
        return nf_err(f, SR_E_CONFIG, line_of(ov), ln, "unknown op '%s' "
                      "(valid: conv, dwconv, linear, batchnorm, relu, "
                      "dropout, maxpool, avgpool, add, flatten)",
                      opname ? opname : "a list or mapping");
    l->op = (nf_op)op;
    char allowed[192];
    snprintf(allowed, sizeof allowed, "name op %s %s",
             op == NF_ADD ? "inputs" : "input", op_keys[op]);
    SR_TRY(check_keys(f, m, allowed, ln, opname));

    /* inputs: the previous layer unless named */
    if (op == NF_ADD) {
        yaml_node_t *iv = get(f, m, "inputs");
        if (!iv || iv->type != YAML_SEQUENCE_NODE ||
            iv->data.sequence.items.top - iv->data.sequence.items.start != 2)
            return nf_err(f, SR_E_CONFIG, iv ? line_of(iv) : l->line, ln,
                          "add needs inputs: [A, B] (two layer names)");
        for (int i = 0; i < 2; i++) {
            yaml_node_t *e = node(f, iv->data.sequence.items.start[i]);
            const char *r = scalar(e);
            if (!r || !r[0] || strlen(r) >= NF_NAME_MAX)
                return nf_err(f, SR_E_CONFIG, line_of(e), ln, "add's "
                              "inputs must be layer names");
            resolve_ref(f, sc, r, l->in[i]);
        }
        l->nin = 2;
    } else {
        yaml_node_t *iv = get(f, m, "input");
        const char *r = iv ? scalar(iv) : NULL;
        if (iv && (!r || !r[0] || strlen(r) >= NF_NAME_MAX))
            return nf_err(f, SR_E_CONFIG, line_of(iv), ln, "input must be "
                          "a layer name");
        if (r)
            resolve_ref(f, sc, r, l->in[0]);
        else
            snprintf(l->in[0], NF_NAME_MAX, "%s", prev);
        l->nin = 1;
    }

    switch (l->op) {
    case NF_CONV:
        l->stride = 1;
        l->bias = 1;
        SR_TRY(req_int(f, m, "out", ln, "conv", 1, 1 << 16, &l->out));
        SR_TRY(req_int(f, m, "kernel", ln, "conv", 1, 11, &l->kernel));
        SR_TRY(opt_int(f, m, "stride", ln, 1, 4, &l->stride));
        SR_TRY(opt_int(f, m, "pad", ln, 0, 10, &l->pad));
        SR_TRY(opt_bool(f, m, "bias", ln, &l->bias));
        if (l->pad >= l->kernel)
            return nf_err(f, SR_E_CONFIG, l->line, ln, "pad %d must be "
                          "smaller than the kernel %d", l->pad, l->kernel);
        break;
    case NF_DWCONV:
        l->stride = 1;
        l->bias = 1;
        SR_TRY(req_int(f, m, "kernel", ln, "dwconv", 1, 11, &l->kernel));
        SR_TRY(opt_int(f, m, "stride", ln, 1, 4, &l->stride));
        SR_TRY(opt_int(f, m, "pad", ln, 0, 10, &l->pad));
        SR_TRY(opt_bool(f, m, "bias", ln, &l->bias));
        if (l->pad >= l->kernel)
            return nf_err(f, SR_E_CONFIG, l->line, ln, "pad %d must be "
                          "smaller than the kernel %d", l->pad, l->kernel);
        break;
    case NF_LINEAR: {
        yaml_node_t *v = get(f, m, "out");
        l->bias = 1;
        if (!v)
            return nf_err(f, SR_E_CONFIG, l->line, ln, "linear needs 'out' "
                          "(a number, or classes)");
        if (scalar(v) && strcmp(scalar(v), "classes") == 0)
            l->out_classes = 1;
        else
            SR_TRY(get_int(f, v, "out", ln, 1, 1 << 20, &l->out));
        SR_TRY(opt_bool(f, m, "bias", ln, &l->bias));
        break;
    }
    case NF_DROPOUT: {
        yaml_node_t *v = get(f, m, "p");
        const char *s = scalar(v);
        char *end;
        if (!v)
            return nf_err(f, SR_E_CONFIG, l->line, ln, "dropout needs 'p'");
        l->p = s && s[0] ? strtof(s, &end) : -1.0f;
        if (!s || !s[0] || *end || !(l->p >= 0.0f && l->p < 1.0f))
            return nf_err(f, SR_E_CONFIG, line_of(v), ln, "p must be a "
                          "number in [0, 1) (got '%s')",
                          s ? s : "a list or mapping");
        break;
    }
    case NF_MAXPOOL:
        SR_TRY(req_int(f, m, "kernel", ln, "maxpool", 1, 11, &l->kernel));
        l->stride = l->kernel;
        SR_TRY(opt_int(f, m, "stride", ln, 1, 11, &l->stride));
        SR_TRY(opt_int(f, m, "pad", ln, 0, 5, &l->pad));
        break;
    case NF_AVGPOOL: {
        yaml_node_t *v = get(f, m, "size");
        if (!v)
            return nf_err(f, SR_E_CONFIG, l->line, ln, "avgpool needs 'size' "
                          "(the output H and W: a number or [H, W])");
        if (v->type == YAML_SEQUENCE_NODE &&
            v->data.sequence.items.top - v->data.sequence.items.start == 2) {
            SR_TRY(get_int(f, node(f, v->data.sequence.items.start[0]),
                           "size", ln, 1, 4096, &l->size_h));
            SR_TRY(get_int(f, node(f, v->data.sequence.items.start[1]),
                           "size", ln, 1, 4096, &l->size_w));
        } else {
            SR_TRY(get_int(f, v, "size", ln, 1, 4096, &l->size_h));
            l->size_w = l->size_h;
        }
        break;
    }
    default:
        break;
    }
    if (l->op == NF_CONV || l->op == NF_DWCONV || l->op == NF_LINEAR)
        SR_TRY(parse_rule(f, m, l));
    snprintf(last, NF_NAME_MAX, "%s", l->name);
    return SR_OK;
}

static sr_status expand(nf_file *f, yaml_node_t *items, const char *prefix,
                        const char *input, char *last, int depth);

/* block: "layer1.{i}", repeat: N, from: K, input: NAME, layers: [...] */
static sr_status parse_block(nf_file *f, yaml_node_t *m, const nf_scope *sc,
                             const char *prev, char *last, int depth)
{
    const char *tmpl;
    int repeat = 1, from = 0;
    char in[NF_NAME_MAX], pfx[NF_NAME_MAX];

    SR_TRY(check_keys(f, m, "block repeat from input layers", NULL,
                      "a block"));
    SR_TRY(check_name(f, get(f, m, "block"), "block name", 1, &tmpl));
    SR_TRY(opt_int(f, m, "repeat", tmpl, 1, NF_MAX_LAYERS, &repeat));
    SR_TRY(opt_int(f, m, "from", tmpl, 0, 1 << 20, &from));
    if (repeat > 1 && !strstr(tmpl, "{i}"))
        return nf_err(f, SR_E_CONFIG, line_of(m), NULL, "block '%s' repeats "
                      "%d times, so its name needs {i} (e.g. %s.{i})", tmpl,
                      repeat, tmpl);
    yaml_node_t *ls = get(f, m, "layers");
    if (!ls || ls->type != YAML_SEQUENCE_NODE ||
        ls->data.sequence.items.top == ls->data.sequence.items.start)
        return nf_err(f, SR_E_CONFIG, line_of(m), NULL, "block '%s' needs "
                      "layers: (a non-empty list)", tmpl);
    yaml_node_t *iv = get(f, m, "input");
    if (iv) {
        const char *r = scalar(iv);
        if (!r || !r[0] || strlen(r) >= NF_NAME_MAX)
            return nf_err(f, SR_E_CONFIG, line_of(iv), NULL, "input must be "
                          "a layer name");
        resolve_ref(f, sc, r, in);
    } else {
        snprintf(in, sizeof in, "%s", prev);
    }
    for (int k = 0; k < repeat; k++) {
        char num[16], name[NF_NAME_MAX * 2] = "";
        snprintf(num, sizeof num, "%d", from + k);
        for (const char *s = tmpl; *s;) {   /* substitute {i} */
            size_t len = strlen(name);
            if (strncmp(s, "{i}", 3) == 0) {
                snprintf(name + len, sizeof name - len, "%s", num);
                s += 3;
            } else {
                name[len] = *s++;
                name[len + 1] = '\0';
            }
            if (strlen(name) >= NF_NAME_MAX) break;
        }
        SR_TRY(name_fits(f, m, sc->prefix, name));
        full_name(pfx, sc->prefix, name);
        SR_TRY(expand(f, ls, pfx, in, last, depth + 1));
        snprintf(in, sizeof in, "%s", last);
    }
    return SR_OK;
}

/* A list of layers and blocks; each item's default input is the previous
 * item's output, the first one's is input. last: the list's output. */
static sr_status expand(nf_file *f, yaml_node_t *items, const char *prefix,
                        const char *input, char *last, int depth)
{
    nf_scope sc = {prefix, input, items};
    char prev[NF_NAME_MAX];

    if (depth > NF_MAX_DEPTH)
        return nf_err(f, SR_E_CONFIG, line_of(items), NULL, "blocks nested "
                      "deeper than %d levels", NF_MAX_DEPTH);
    snprintf(prev, sizeof prev, "%s", input);
    for (yaml_node_item_t *it = items->data.sequence.items.start;
         it < items->data.sequence.items.top; it++) {
        yaml_node_t *m = node(f, *it);
        if (!m || m->type != YAML_MAPPING_NODE)
            return nf_err(f, SR_E_CONFIG, m ? line_of(m) : 0, NULL, "each "
                          "entry of layers: must be a mapping (a layer or a "
                          "block)");
        if (get(f, m, "block"))
            SR_TRY(parse_block(f, m, &sc, prev, last, depth));
        else
            SR_TRY(parse_layer(f, m, &sc, prev, last));
        snprintf(prev, sizeof prev, "%s", last);
    }
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Checks on the flat list                                             */

static int find_layer(const nf_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->l[i].name, name) == 0) return i;
    return -1;
}

/* Depth-first over inputs; state 1 = on the path, 2 = done. */
static sr_status visit(nf_file *f, int i, int *path, int depth)
{
    nf_layer *l = &f->l[i];
    if (l->state == 2) return SR_OK;
    path[depth] = i;
    if (l->state == 1) {
        char cyc[1024] = "";
        int k = depth - 1;
        while (k > 0 && path[k] != i) k--;
        for (int j = depth; j >= k; j--) {
            size_t len = strlen(cyc);
            snprintf(cyc + len, sizeof cyc - len, "%s%s", f->l[path[j]].name,
                     j > k ? " -> " : "");
        }
        return nf_err(f, SR_E_CONFIG, l->line, l->name, "the inputs form a "
                      "cycle: %s (each feeds the next)", cyc);
    }
    l->state = 1;
    for (int k = 0; k < l->nin; k++)
        if (l->src[k] >= 0) SR_TRY(visit(f, l->src[k], path, depth + 1));
    l->state = 2;
    return SR_OK;
}

static sr_status check_graph(nf_file *f, int *out_layer)
{
    for (int i = 0; i < f->n; i++) {
        nf_layer *l = &f->l[i];
        for (int j = 0; j < i; j++)
            if (strcmp(f->l[j].name, l->name) == 0)
                return nf_err(f, SR_E_CONFIG, l->line, l->name, "duplicate "
                              "name (first defined on line %zu)",
                              f->l[j].line);
    }
    for (int i = 0; i < f->n; i++) {
        nf_layer *l = &f->l[i];
        for (int k = 0; k < l->nin; k++) {
            if (strcmp(l->in[k], NF_NET_INPUT) == 0) {
                l->src[k] = -1;
                continue;
            }
            l->src[k] = find_layer(f, l->in[k]);
            if (l->src[k] < 0)
                return nf_err(f, SR_E_CONFIG, l->line, l->name, "unknown "
                              "input '%s' (no layer has that name)",
                              l->in[k]);
            f->l[l->src[k]].used = 1;
        }
    }
    int *path = malloc((size_t)(f->n + 1) * sizeof *path);
    SR_CHECK(path, SR_E_NOMEM, "out of memory reading %s", f->path);
    sr_status st = SR_OK;
    for (int i = 0; st == SR_OK && i < f->n; i++) st = visit(f, i, path, 0);
    free(path);
    SR_TRY(st);

    int o = f->n - 1;
    if (f->output[0]) {
        o = find_layer(f, f->output);
        if (o < 0)
            return nf_err(f, SR_E_CONFIG, f->output_line, NULL, "output: "
                          "no layer is named '%s'", f->output);
    }
    f->l[o].used = 1;
    for (int i = 0; i < f->n; i++)
        if (!f->l[i].used)
            return nf_err(f, SR_E_CONFIG, f->l[i].line, f->l[i].name, "its "
                          "output is never used (not an input of any layer, "
                          "nor the network's output)");
    *out_layer = o;
    return SR_OK;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

static sr_status read_doc(nf_file *f, FILE *fp)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    sr_status st = SR_OK;
    int depth = 0, done = 0;

    /* nesting first: a deep file would take the loader minutes */
    if (!yaml_parser_initialize(&parser))
        return sr_error(SR_E_NOMEM, "out of memory");
    yaml_parser_set_input_file(&parser, fp);
    while (!done && st == SR_OK && yaml_parser_parse(&parser, &ev)) {
        if (ev.type == YAML_SEQUENCE_START_EVENT ||
            ev.type == YAML_MAPPING_START_EVENT) {
            if (++depth > 4 * NF_MAX_DEPTH)
                st = nf_err(f, SR_E_CONFIG, ev.start_mark.line + 1, NULL,
                            "nested deeper than %d levels", 4 * NF_MAX_DEPTH);
        } else if (ev.type == YAML_SEQUENCE_END_EVENT ||
                   ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    SR_TRY(st);
    rewind(fp);

    if (!yaml_parser_initialize(&parser))
        return sr_error(SR_E_NOMEM, "out of memory");
    yaml_parser_set_input_file(&parser, fp);
    if (!yaml_parser_load(&parser, &f->doc)) {
        st = sr_error(SR_E_CONFIG, "%s:%zu:%zu: YAML error: %s %s", f->path,
                      parser.problem_mark.line + 1,
                      parser.problem_mark.column + 1,
                      parser.problem ? parser.problem : "",
                      parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return st;
    }
    yaml_parser_delete(&parser);
    return SR_OK;
}

static sr_status parse_file(nf_file *f)
{
    yaml_node_t *root = yaml_document_get_root_node(&f->doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return nf_err(f, SR_E_CONFIG, root ? line_of(root) : 1, NULL, "a "
                      "network file is a mapping with input:, classes: and "
                      "layers:");
    SR_TRY(check_keys(f, root, "name input classes ends_full_precision "
                      "output layers", NULL, "a network file"));
    yaml_node_t *v = get(f, root, "name");
    if (v) {
        const char *s;
        SR_TRY(check_name(f, v, "name", 0, &s));
        snprintf(f->name, sizeof f->name, "%s", s);
    } else {    /* the file's base name */
        const char *b = strrchr(f->path, '/');
        snprintf(f->name, sizeof f->name, "%s", b ? b + 1 : f->path);
        char *dot = strrchr(f->name, '.');
        if (dot && dot != f->name) *dot = '\0';
    }
    v = get(f, root, "input");
    if (!v || v->type != YAML_SEQUENCE_NODE ||
        v->data.sequence.items.top - v->data.sequence.items.start != 3)
        return nf_err(f, SR_E_CONFIG, v ? line_of(v) : line_of(root), NULL,
                      "input: [C, H, W] is required (e.g. [3, 32, 32])");
    int *chw[3] = {&f->c, &f->h, &f->w};
    for (int i = 0; i < 3; i++)
        SR_TRY(get_int(f, node(f, v->data.sequence.items.start[i]), "input",
                       NULL, 1, 4096, chw[i]));
    v = get(f, root, "classes");
    if (!v)
        return nf_err(f, SR_E_CONFIG, line_of(root), NULL, "classes: is "
                      "required (the default class count, e.g. 10)");
    SR_TRY(get_int(f, v, "classes", NULL, 2, 1 << 20, &f->classes));
    SR_TRY(opt_bool(f, root, "ends_full_precision", NULL, &f->ends_fp));
    v = get(f, root, "output");
    if (v) {
        const char *s = scalar(v);
        if (!s || !s[0] || strlen(s) >= NF_NAME_MAX)
            return nf_err(f, SR_E_CONFIG, line_of(v), NULL, "output must be "
                          "a layer name");
        snprintf(f->output, sizeof f->output, "%s", s);
        f->output_line = line_of(v);
    }
    v = get(f, root, "layers");
    if (!v || v->type != YAML_SEQUENCE_NODE ||
        v->data.sequence.items.top == v->data.sequence.items.start)
        return nf_err(f, SR_E_CONFIG, v ? line_of(v) : line_of(root), NULL,
                      "layers: (a non-empty list) is required");
    char last[NF_NAME_MAX];
    return expand(f, v, "", NF_NET_INPUT, last, 0);
}

static void nf_close(nf_file *f)
{
    yaml_document_delete(&f->doc);
    free(f->l);
    free(f->text);
}

/* The whole file, NUL-terminated, into f->text. */
static sr_status read_text(nf_file *f)
{
    FILE *fp = fopen(f->path, "rb");
    if (!fp)
        return sr_error(SR_E_IO, "network file %s: %s", f->path,
                        strerror(errno));
    size_t cap = 0, len = 0;
    sr_status st = SR_OK;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            if (cap >= NF_MAX_BYTES) {
                st = sr_error(SR_E_CONFIG, "network file %s is larger than "
                              "%d KiB", f->path, NF_MAX_BYTES >> 10);
                break;
            }
            cap = cap ? cap * 2 : 16384;
            char *p = realloc(f->text, cap);
            if (!p) {
                st = sr_error(SR_E_NOMEM, "out of memory");
                break;
            }
            f->text = p;
        }
        size_t got = fread(f->text + len, 1, cap - len - 1, fp);
        len += got;
        if (got == 0) break;
    }
    if (st == SR_OK && ferror(fp))
        st = sr_error(SR_E_IO, "network file %s: read error", f->path);
    fclose(fp);
    if (st == SR_OK) {
        f->text[len] = '\0';
        if (strlen(f->text) != len)
            st = sr_error(SR_E_CONFIG, "network file %s: not a text file "
                          "(a NUL byte at offset %zu)", f->path,
                          strlen(f->text));
    }
    return st;
}

/* Read (or take text as the file's contents), expand and check path into
 * f (nf_close it either way). */
static sr_status nf_open(const char *path, const char *text, nf_file *f,
                         int *out_layer)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    if (text) {
        f->text = strdup(text);
        if (!f->text) return sr_error(SR_E_NOMEM, "out of memory");
    } else {
        SR_TRY(read_text(f));
    }
    /* the parser reads the same bytes from memory that a model file will
     * keep: what was built is what is stored */
    if (!f->text[0])
        return sr_error(SR_E_CONFIG, "network file %s is empty", path);
    FILE *fp = fmemopen(f->text, strlen(f->text), "rb");
    if (!fp)
        return sr_error(SR_E_NOMEM, "network file %s: %s", path,
                        strerror(errno));
    sr_status st = read_doc(f, fp);
    fclose(fp);
    if (st != SR_OK) {
        memset(&f->doc, 0, sizeof f->doc);  /* nothing loaded */
        return st;
    }
    SR_TRY(parse_file(f));
    return check_graph(f, out_layer);
}

/* ------------------------------------------------------------------ */
/* Public                                                              */

int sr_netfile_is_path(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return (n > 5 && strcasecmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcasecmp(name + n - 4, ".yml") == 0);
}

sr_status sr_netfile_defaults(const char *path, int *c, int *h, int *w,
                              int *classes)
{
    nf_file f;
    int o;
    sr_status st = nf_open(path, NULL, &f, &o);
    if (st == SR_OK) {
        if (c) *c = f.c;
        if (h) *h = f.h;
        if (w) *w = f.w;
        if (classes) *classes = f.classes;
    }
    nf_close(&f);
    return st;
}

/* Add layer l to the graph; its inputs are built already. */
static int build_layer(nf_file *f, sr_nn *net, nf_layer *l, int width,
                       int classes)
{
    int in0 = l->src[0] < 0 ? sr_nn_input(net) : f->l[l->src[0]].tensor;
    int out = l->out_classes ? classes : l->out * width;
    switch (l->op) {
    case NF_CONV:
        return sr_nn_conv2d(net, l->name, in0, out, l->kernel, l->stride,
                            l->pad, l->bias);
    case NF_DWCONV:
        return sr_nn_dwconv2d(net, l->name, in0, l->kernel, l->stride, l->pad,
                              l->bias);
    case NF_LINEAR: {
        sr_nn_layer_info li = {0};
        int feat = f->c * f->h * f->w;
        if (l->src[0] >= 0 &&
            sr_nn_layer(net, sr_nn_find_layer(net, f->l[l->src[0]].name),
                        &li) == SR_OK)
            feat = li.out_c * li.out_h * li.out_w;
        return sr_nn_linear(net, l->name, in0, feat, out, l->bias);
    }
    case NF_BATCHNORM: return sr_nn_batchnorm(net, l->name, in0);
    case NF_RELU: return sr_nn_relu(net, l->name, in0);
    case NF_DROPOUT: return sr_nn_dropout(net, l->name, in0, l->p);
    case NF_MAXPOOL:
        return sr_nn_maxpool(net, l->name, in0, l->kernel, l->stride, l->pad);
    case NF_AVGPOOL:
        return sr_nn_avgpool(net, l->name, in0, l->size_h, l->size_w);
    case NF_ADD: {
        int in1 = l->src[1] < 0 ? sr_nn_input(net) : f->l[l->src[1]].tensor;
        return sr_nn_add(net, l->name, in0, in1);
    }
    case NF_FLATTEN: return sr_nn_flatten(net, l->name, in0);
    default: return -1;
    }
}

sr_status sr_netfile_build(const sr_model_opts *o, sr_nn **out)
{
    SR_CHECK(o && out && o->name, SR_E_ARG, "sr_netfile_build: NULL "
             "argument");
    *out = NULL;
    nf_file f;
    int olayer;
    sr_nn *net = NULL;
    sr_status st = nf_open(o->name, o->text, &f, &olayer);
    if (st != SR_OK) goto done;

    int width = o->width ? o->width : 1;
    int classes = o->num_classes ? o->num_classes : f.classes;
    int c = o->in_c ? o->in_c : f.c, h = o->in_h ? o->in_h : f.h,
        w = o->in_w ? o->in_w : f.w;
    if (width < 1 || width > 8 || classes < 2 || o->batch <= 0) {
        st = sr_error(SR_E_CONFIG, "%s: width %d (1..8), classes %d (>= 2) "
                      "and batch %d (> 0) must all be in range", o->name,
                      width, classes, o->batch);
        goto done;
    }
    char hint[48];
    snprintf(hint, sizeof hint, "%dx%dx%d", f.c, f.h, f.w);
    f.c = c;
    f.h = h;
    f.w = w;
    st = sr_nn_create(f.name, o->batch, c, h, w, hint, &net);
    if (st != SR_OK) goto done;

    /* file order, except that a layer waits for its inputs */
    for (int i = 0; i < f.n; i++) f.l[i].tensor = -1;
    for (int built = 0; built < f.n;) {
        int i = 0;
        for (; i < f.n; i++) {
            nf_layer *l = &f.l[i];
            if (l->tensor >= 0) continue;
            int ready = 1;
            for (int k = 0; k < l->nin; k++)
                ready &= l->src[k] < 0 || f.l[l->src[k]].tensor >= 0;
            if (ready) break;
        }
        nf_layer *l = &f.l[i];  /* exists: the inputs have no cycle */
        l->tensor = build_layer(&f, net, l, width, classes);
        if (l->tensor >= 0 && l->has_rule &&
            sr_nn_set_layer_rule(net, l->name, l->q_quantize, l->q_bits,
                                 l->q_act_bits) != SR_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", inner_msg());
            st = nf_err(&f, SR_E_CONFIG, l->line, l->name, "%s", msg);
            goto done;
        }
        if (l->tensor < 0) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", inner_msg());
            st = nf_err(&f, sr_nn_status(net), l->line, l->name, "%s", msg);
            goto done;
        }
        built++;
    }
    nf_layer *ol = &f.l[olayer];
    if (ol->op != NF_LINEAR) {
        st = nf_err(&f, SR_E_SHAPE, ol->line, ol->name, "the network's "
                    "output must be a linear layer giving the logits (it is "
                    "%s)", op_names[ol->op]);
        goto done;
    }
    int nout = ol->out_classes ? classes : ol->out * width;
    if (nout != classes) {
        st = nf_err(&f, SR_E_SHAPE, ol->line, ol->name, "gives %d outputs "
                    "but there are %d classes (write out: classes)", nout,
                    classes);
        goto done;
    }
    st = sr_nn_set_output(net, ol->tensor, f.ends_fp);
    if (st != SR_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", inner_msg());
        st = nf_err(&f, st, ol->line, ol->name, "%s", msg);
    }
    if (st == SR_OK) st = sr_nn_set_source(net, f.text);
done:
    nf_close(&f);
    if (st != SR_OK) {
        sr_nn_free(net);
        return st;
    }
    *out = net;
    return SR_OK;
}
