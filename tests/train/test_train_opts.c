/* Training options as flags and YAML keys, and the learning rate they give
 * against its closed form: the step and multi-step schedules, the linear
 * warm-up; the checks of the option values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/train.h"
#include "train_internal.h"

#include "train_check.h"

static sr_status from_args(sr_train_config *c, const char *line)
{
    char buf[512], *argv[32], *save = NULL;
    int argc = 0;

    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok_r(buf, " ", &save); t && argc < 32;
         t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    sr_train_config_default(c);
    return sr_train_config_from_args(c, argc, argv);
}

static void check_fields(const sr_train_config *c, const char *how)
{
    CHECK(c->nesterov == 1 && c->warmup_epochs == 2.5 &&
          c->label_smoothing == 0.1 && c->clip_grad_norm == 5 &&
          c->lr_step_epochs == 3 && strcmp(c->lr_schedule, "step") == 0,
          "%s: nesterov %d warmup %g smoothing %g clip %g step %d sched %s",
          how, c->nesterov, c->warmup_epochs, c->label_smoothing,
          c->clip_grad_norm, c->lr_step_epochs, c->lr_schedule);
}

static void test_keys(const char *dir)
{
    sr_train_config c;
    char path[1024];
    FILE *f;

    CHECK(from_args(&c, "--nesterov --warmup-epochs 2.5 --label-smoothing 0.1 "
                    "--clip-grad-norm 5 --lr-schedule step --lr-step-epochs 3")
          == SR_OK, "flags: %s", sr_last_error());
    check_fields(&c, "flags");
    sr_train_config_free(&c);
    snprintf(path, sizeof path, "%s/opts.yaml", dir);
    f = fopen(path, "w");
    CHECK(f, "cannot write %s", path);
    if (!f)
        return;
    fputs("nesterov: true\nwarmup_epochs: 2.5\nlabel_smoothing: 0.1\n"
          "clip_grad_norm: 5\nlr_schedule: step\nlr_step_epochs: 3\n", f);
    fclose(f);
    sr_train_config_default(&c);
    CHECK(sr_train_config_load_yaml(&c, path) == SR_OK, "yaml: %s",
          sr_last_error());
    check_fields(&c, "yaml");
    sr_train_config_free(&c);
    /* the defaults leave training as it was */
    sr_train_config_default(&c);
    CHECK(!c.nesterov && c.warmup_epochs == 0 && c.label_smoothing == 0 &&
          c.clip_grad_norm == 0, "defaults are not off");
    sr_train_config_free(&c);
}

/* lr(t) for every step of a run of E epochs of S steps */
static void lr_case(const char *args, int E, long S,
                    double (*want)(long t, long S))
{
    sr_train_config c;
    sr_train_sched s;
    double md = 0;
    long worst = -1;

    if (from_args(&c, args) != SR_OK ||
        sr_train_sched_parse(&c, &s) != SR_OK) {
        CHECK(0, "%s: %s", args, sr_last_error());
        sr_train_config_free(&c);
        return;
    }
    for (long t = 0; t < E * S; t++) {
        double d = fabs(sr_train_lr(&c, &s, t, S, E * S) - want(t, S));
        if (d > md) {
            md = d;
            worst = t;
        }
    }
    CHECK(md <= 1e-15, "%s: lr off by %g at step %ld (%g, want %g)", args,
          md, worst, sr_train_lr(&c, &s, worst, S, E * S), want(worst, S));
    sr_train_config_free(&c);
}

/* StepLR(step_size 3, gamma 0.5) from 0.1, by epoch */
static double want_step(long t, long S)
{
    static const double by_epoch[] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05,
                                      0.025, 0.025};
    return by_epoch[t / S];
}

/* MultiStepLR(milestones 2,5, gamma 0.2) from 0.1 */
static double want_multistep(long t, long S)
{
    long e = t / S;
    return e < 2 ? 0.1 : e < 5 ? 0.1 * 0.2 : 0.1 * 0.2 * 0.2;
}

/* warm-up over 2.5 epochs of 10 steps (25 steps), then StepLR as above */
static double want_warm_step(long t, long S)
{
    double f = t < 25 ? (double)(t + 1) / 25.0 : 1.0;
    return want_step(t, S) * f;
}

/* warm-up over 0.04 epochs of 10 steps: rounds to 0, so 1 step: no change */
static double want_constant(long t, long S)
{
    (void)t;
    (void)S;
    return 0.1;
}

static void test_schedules(void)
{
    lr_case("--lr 0.1 --lr-schedule step --lr-step-epochs 3 --lr-gamma 0.5 "
            "--epochs 8", 8, 10, want_step);
    lr_case("--lr 0.1 --lr-schedule multistep --lr-milestones 2,5 "
            "--lr-gamma 0.2 --epochs 7", 7, 10, want_multistep);
    lr_case("--lr 0.1 --lr-schedule step --lr-step-epochs 3 --lr-gamma 0.5 "
            "--epochs 8 --warmup-epochs 2.5", 8, 10, want_warm_step);
    lr_case("--lr 0.1 --lr-schedule constant --epochs 2 --warmup-epochs 0.04",
            2, 10, want_constant);
}

static void bad(const char *args, const char *words)
{
    sr_train_config c;
    sr_status st = from_args(&c, args);

    if (st == SR_OK)
        st = sr_train_config_check(&c);
    CHECK(st == SR_E_CONFIG && strstr(sr_last_error(), words),
          "%s: status %d, message '%s' (want '%s')", args, (int)st,
          st == SR_OK ? "" : sr_last_error(), words);
    sr_train_config_free(&c);
}

static void test_checks(void)
{
    const char *base = "--data d.h5 --out r ";
    char a[256];
#define BAD(flags, words)                                               \
    do {                                                                \
        snprintf(a, sizeof a, "%s%s", base, flags);                     \
        bad(a, words);                                                  \
    } while (0)
    BAD("--label-smoothing 1", "--label-smoothing: label_smoothing must be in [0, 1)");
    BAD("--label-smoothing -0.1", "label_smoothing must be in [0, 1)");
    BAD("--clip-grad-norm -1", "--clip-grad-norm: clip_grad_norm must be 0 (off) or > 0");
    BAD("--warmup-epochs 3 --epochs 2", "--warmup-epochs: warmup_epochs must be in [0, epochs = 2]");
    BAD("--nesterov --momentum 0", "--nesterov: Nesterov momentum needs momentum > 0");
    BAD("--lr-schedule step --lr-step-epochs 0", "--lr-step-epochs: lr_step_epochs must be >= 1");
    BAD("--lr-schedule steps", "unknown lr_schedule 'steps' (use multistep, step, cosine or constant)");
#undef BAD
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    test_keys(dir);
    test_schedules();
    test_checks();
    printf("%s\n", fails ? "FAILED" : "ok");
    return fails != 0;
}
