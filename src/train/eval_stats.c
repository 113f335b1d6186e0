/* Evaluation statistics: top-5, per-class accuracy, the confusion matrix,
 * printed for people and written as JSON (eval and result.json). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run_io.h"
#include "train_internal.h"

sr_status sr_eval_result_init(sr_eval_result *r, int classes)
{
    memset(r, 0, sizeof *r);
    r->loss = r->acc = r->top5 = NAN;
    r->classes = classes;
    r->confusion = calloc((size_t)classes * (size_t)classes,
                          sizeof *r->confusion);
    SR_CHECK(r->confusion, SR_E_NOMEM, "out of memory for a %dx%d confusion "
             "matrix", classes, classes);
    return SR_OK;
}

sr_status sr_eval_result_names(sr_eval_result *r,
                               const char *(*name)(const void *, int),
                               const void *src)
{
    r->class_names = calloc((size_t)r->classes, sizeof *r->class_names);
    SR_CHECK(r->class_names, SR_E_NOMEM, "out of memory");
    for (int k = 0; k < r->classes; k++) {
        const char *s = name(src, k);
        r->class_names[k] = strdup(s ? s : "");
        SR_CHECK(r->class_names[k], SR_E_NOMEM, "out of memory");
    }
    return SR_OK;
}

void sr_eval_result_add(sr_eval_result *r, const float *logits,
                        const uint32_t *y, int nv)
{
    int C = r->classes;

    for (int i = 0; i < nv; i++) {
        const float *l = logits + (size_t)i * (size_t)C;
        int best = 0, above = 0;
        uint32_t t = y[i];
        for (int j = 1; j < C; j++)
            if (l[j] > l[best])
                best = j;   /* the first on ties, as the backends */
        for (int j = 0; j < C; j++)
            above += l[j] > l[t];
        r->correct5 += above < 5;
        r->confusion[(size_t)t * (size_t)C + (size_t)best] += 1;
    }
}

void sr_eval_result_free(sr_eval_result *r)
{
    if (!r)
        return;
    for (int k = 0; r->class_names && k < r->classes; k++)
        free(r->class_names[k]);
    free(r->class_names);
    free(r->confusion);
    memset(r, 0, sizeof *r);
}

double sr_eval_result_class_count(const sr_eval_result *r, int k)
{
    double s = 0;

    for (int j = 0; j < r->classes; j++)
        s += r->confusion[(size_t)k * (size_t)r->classes + (size_t)j];
    return s;
}

double sr_eval_result_class_acc(const sr_eval_result *r, int k)
{
    double n = sr_eval_result_class_count(r, k);

    return n > 0 ? r->confusion[(size_t)k * (size_t)(r->classes + 1)] / n
                 : NAN;
}

static const char *class_name(const sr_eval_result *r, int k)
{
    return r->class_names ? r->class_names[k] : "";
}

void sr_eval_result_print(const sr_eval_result *r, FILE *f)
{
    int C = r->classes;

    fprintf(f, "per class:\n  %5s %-20s %8s %8s\n", "class", "name",
            "images", "top-1");
    for (int k = 0; k < C; k++)
        fprintf(f, "  %5d %-20s %8.0f %8.4f\n", k, class_name(r, k),
                sr_eval_result_class_count(r, k),
                sr_eval_result_class_acc(r, k));
    if (C > 20) {
        fprintf(f, "\nconfusion matrix: %d classes, written by --json\n", C);
        return;
    }
    fprintf(f, "\nconfusion matrix (rows: true class, columns: predicted "
            "class):\n  %5s", "");
    for (int j = 0; j < C; j++)
        fprintf(f, " %5d", j);
    fputc('\n', f);
    for (int k = 0; k < C; k++) {
        fprintf(f, "  %5d", k);
        for (int j = 0; j < C; j++)
            fprintf(f, " %5.0f", r->confusion[(size_t)k * (size_t)C +
                                              (size_t)j]);
        fputc('\n', f);
    }
}

void sr_eval_result_json(const sr_eval_result *r, FILE *f)
{
    int C = r->classes;

    fprintf(f, "\"images\": %ld, \"loss\": ", r->n);
    sr_json_num(f, r->loss);
    fputs(", \"top1\": ", f);
    sr_json_num(f, r->acc);
    fputs(", \"top5\": ", f);
    sr_json_num(f, r->top5);
    fputs(", \"classes\": [", f);
    for (int k = 0; k < C; k++) {
        fputs(k ? ", " : "", f);
        sr_json_str(f, class_name(r, k));
    }
    fputs("], \"per_class\": [", f);
    for (int k = 0; k < C; k++) {
        fprintf(f, "%s{\"class\": ", k ? ", " : "");
        sr_json_str(f, class_name(r, k));
        fprintf(f, ", \"images\": %.0f, \"top1\": ",
                sr_eval_result_class_count(r, k));
        sr_json_num(f, sr_eval_result_class_acc(r, k));
        fputc('}', f);
    }
    fputs("], \"confusion\": [", f);
    for (int k = 0; k < C; k++) {
        fputs(k ? ", [" : "[", f);
        for (int j = 0; j < C; j++)
            fprintf(f, "%s%.0f", j ? ", " : "",
                    r->confusion[(size_t)k * (size_t)C + (size_t)j]);
        fputc(']', f);
    }
    fputc(']', f);
}

sr_status sr_eval_result_write(const sr_eval_opts *o,
                               const sr_eval_result *r, const char *path)
{
    char tmp[4200];
    FILE *f;

    SR_TRY(sr_tmp_path(tmp, sizeof tmp, path));
    f = fopen(tmp, "w");
    if (!f)
        return sr_error(sr_write_errno_status(errno), "cannot create %s: %s",
                        tmp, strerror(errno));
    fputs("{\"model\": ", f);
    sr_json_str(f, o->model);
    fputs(", \"data\": ", f);
    sr_json_str(f, o->data);
    fputs(", \"split\": ", f);
    sr_json_str(f, o->split ? o->split : "test");
    fputs(", ", f);
    sr_eval_result_json(r, f);
    fputs("}\n", f);
    return sr_text_commit(f, tmp, path);
}
