/* Model files: save/load round trip bit-exact (meta and tensors), shape and
 * name errors, a wrong format, atomic replace; histogram files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sinreq/hist_io.h"
#include "sinreq/model_io.h"
#include "train_internal.h"   /* the evaluation statistics */

#include "train_check.h"
#define TRY(x)                                                         \
    do {                                                               \
        sr_status s_ = (x);                                            \
        CHECK(s_ == SR_OK, "%s: %s", #x, sr_last_error());             \
    } while (0)

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp/sr_train_io";
    char path[1024], hpath[1024];
    float w[6 * 3 * 5 * 5], b[6], back[6 * 3 * 5 * 5];
    sr_model_layer_meta layers[2] = {
        {.name = "conv1", .quantized = 1, .bits = 3, .act_bits = 0, .beta = 2.5f},
        {.name = "fc", .quantized = 0},
    };
    sr_model_meta m = {.net = "cifar10net", .width = 1, .classes = 10,
                       .in_c = 3, .in_h = 32, .in_w = 32, .quantizer = "wrpn",
                       .act_bits = 0, .regularizer = "waveq",
                       .norm_mean = {0.1f, 0.2f, 0.3f},
                       .norm_std = {0.5f, 0.25f, 0.125f},
                       .program_version = "sinreq test", .n_layers = 2,
                       .layers = layers};
    sr_model_file *f = NULL;

    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/m.h5", dir);
    snprintf(hpath, sizeof hpath, "%s/h.h5", dir);
    remove(hpath);
    for (size_t i = 0; i < sizeof w / sizeof *w; i++)
        w[i] = (float)sin((double)i * 1.7) * 0.3f;
    w[0] = -0.0f;
    w[1] = 1e-42f;          /* a denormal survives */
    w[2] = 3.4e38f;
    for (int i = 0; i < 6; i++)
        b[i] = (float)i - 2.5f;
    sr_model_tensor t[2] = {
        {.name = "conv1.weight", .ndim = 4, .dims = {6, 3, 5, 5}, .data = w},
        {.name = "conv1.bias", .ndim = 1, .dims = {6}, .data = b},
    };
    TRY(sr_model_save(path, &m, t, 2));
    struct stat sb;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(stat(tmp, &sb) != 0, "temporary file left behind");

    TRY(sr_model_open(path, &f));
    if (f) {
        const sr_model_meta *r = sr_model_file_meta(f);
        CHECK(strcmp(r->net, "cifar10net") == 0 && r->classes == 10 &&
              r->in_h == 32 && strcmp(r->quantizer, "wrpn") == 0 &&
              strcmp(r->regularizer, "waveq") == 0, "meta");
        CHECK(r->norm_std[2] == 0.125f && r->norm_mean[1] == 0.2f, "norm");
        CHECK(r->n_layers == 2 && r->layers[0].bits == 3 &&
              r->layers[0].quantized == 1 && r->layers[0].beta == 2.5f &&
              strcmp(r->layers[1].name, "fc") == 0 &&
              r->layers[1].quantized == 0, "layers");
        CHECK(sr_model_file_tensor_count(f) == 2, "tensor count");
        int dims[4] = {6, 3, 5, 5};
        TRY(sr_model_read(f, "conv1.weight", 4, dims, back));
        CHECK(memcmp(back, w, sizeof w) == 0, "weights not bit-exact");
        int bad[4] = {6, 3, 3, 3};
        CHECK(sr_model_read(f, "conv1.weight", 4, bad, back) == SR_E_FORMAT &&
              strstr(sr_last_error(), "6x3x5x5") &&
              strstr(sr_last_error(), "6x3x3x3"), "shape mismatch: %s",
              sr_last_error());
        CHECK(sr_model_read(f, "fc.weight", 2, dims, back) == SR_E_FORMAT &&
              strstr(sr_last_error(), "/model/fc.weight is missing"),
              "missing: %s", sr_last_error());
        sr_model_close(f);
    }
    /* replace atomically */
    b[0] = 42.0f;
    TRY(sr_model_save(path, &m, t, 2));
    TRY(sr_model_open(path, &f));
    if (f) {
        int d1[1] = {6};
        TRY(sr_model_read(f, "conv1.bias", 1, d1, back));
        CHECK(back[0] == 42.0f, "not replaced");
        sr_model_close(f);
    }

    /* histograms */
    float counts[4] = {1, 2, 3, 4}, lv[3] = {-1, 0, 1};
    sr_hist_layer h = {.name = "conv1", .bins = 4, .lo = -1, .hi = 1,
                       .counts = counts, .bits = 2, .quantizer = "wrpn",
                       .levels = lv, .n_levels = 3, .reg = 0.25f,
                       .qerr = 0.1f};
    TRY(sr_hist_write(hpath, 0, &h, 1));
    TRY(sr_hist_write(hpath, 3, &h, 1));
    TRY(sr_hist_write(hpath, 3, &h, 1));   /* replaces epoch 3 */
    /* a histogram file is not a model */
    CHECK(sr_model_open(hpath, &f) == SR_E_FORMAT &&
          strstr(sr_last_error(), "format"), "wrong format: %s",
          sr_last_error());
    CHECK(sr_model_open("/nonexistent/x.h5", &f) == SR_E_IO, "missing file");

    /* evaluation statistics: 7 classes, hand-made logits */
    {
        sr_eval_result r;
        const float lg[4 * 7] = {
            /* label 0: the largest logit (top-1 and top-5) */
            9, 1, 2, 3, 4, 5, 6,
            /* label 6: six logits above it (neither) */
            1, 2, 3, 4, 5, 6, 0,
            /* label 1: four above it, two equal (top-5, predicted 6) */
            0, 5, 5, 6, 7, 8, 9,
            /* label 2: tied with the largest, the first wins (predicted 0,
             * top-5: nothing larger) */
            4, 1, 4, 0, 0, 0, 0};
        const uint32_t y[4] = {0, 6, 1, 2};
        TRY(sr_eval_result_init(&r, 7));
        sr_eval_result_add(&r, lg, y, 4);
        CHECK(r.correct5 == 3, "top-5 count %ld, want 3", r.correct5);
        CHECK(r.confusion[0 * 7 + 0] == 1 && r.confusion[6 * 7 + 5] == 1 &&
              r.confusion[1 * 7 + 6] == 1 && r.confusion[2 * 7 + 0] == 1,
              "confusion cells");
        double total = 0;
        for (int k = 0; k < 49; k++)
            total += r.confusion[k];
        CHECK(total == 4, "confusion sum %g", total);
        CHECK(sr_eval_result_class_count(&r, 0) == 1 &&
              sr_eval_result_class_acc(&r, 0) == 1 &&
              sr_eval_result_class_acc(&r, 2) == 0 &&
              isnan(sr_eval_result_class_acc(&r, 3)), "per-class");
        /* rows [0, nv) only: a padded row is not counted */
        sr_eval_result_add(&r, lg, y, 1);
        CHECK(r.correct5 == 4 && r.confusion[0] == 2, "nv rows");
        sr_eval_result_free(&r);
    }

    if (fails) {
        printf("%d failure(s)\n", fails);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
