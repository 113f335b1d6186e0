/* sinreq-prep: raw datasets -> the sinreq HDF5 dataset layout.
 *
 *   sinreq-prep cifar10 <dir|cifar-10-binary.tar.gz> -o out.h5
 *   sinreq-prep svhn    <dir with train_32x32.mat ...> -o out.h5
 *   sinreq-prep images  <root with train/<class>/...> --size S -o out.h5
 *   sinreq-prep idx     <dir with train-images-idx3-ubyte[.gz] ...> -o out.h5
 *   sinreq-prep info    file.h5
 *
 * Exit codes: 0 ok, 1 bad input or usage (the message says what and where),
 * 2 runtime failure (out of memory, cannot write the output). */
#include "prep.h"
#include "sinreq/parse.h"

#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EXIT_INPUT = 1, EXIT_RUNTIME = 2 };

static const char usage_text[] =
"usage: sinreq-prep <subcommand> <input> -o OUT.h5 [options]\n"
"\n"
"subcommands:\n"
"  cifar10 DIR|cifar-10-binary.tar.gz   official CIFAR-10 binary version\n"
"  svhn DIR        train_32x32.mat, test_32x32.mat [, extra_32x32.mat]\n"
"  images ROOT     ROOT/train/<class>/*.{jpg,jpeg,png}, ROOT/test/<class>/*\n"
"                  and/or ROOT/val/<class>/* (ImageNet layout); needs --size\n"
"  idx DIR         train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],\n"
"                  t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]\n"
"                  (MNIST, Fashion-MNIST)\n"
"  info FILE.h5    print splits, shapes, class counts, attributes, and verify\n"
"                  every chunk's Fletcher32 checksum by reading everything\n"
"\n"
"common options:\n"
"  -o, --output FILE     output HDF5 file (written as FILE.tmp, then renamed)\n"
"  --force               replace an existing output (default: refuse, exit 1)\n"
"  --val-fraction F      hold out F (0 <= F < 1) of train as /val, stratified\n"
"                        per class (round(F * n_class) images of each class)\n"
"  --seed N              seed of the validation split (default 0)\n"
"  --threads N           decoding threads (default: number of CPUs)\n"
"  --deflate N           deflate level 0..9 of the stored chunks (default 1)\n"
"  --quiet               no progress and no summary\n"
"  -h, --help            this text\n"
"cifar10:  --skip-md5    do not require the official archive's md5\n"
"images:   --size S      output S x S (centre crop); --resize R (default S):\n"
"                        shorter side resized to R before the crop\n"
"svhn:     --extra MODE  extra_32x32.mat: 'split' (own /extra split, default),\n"
"                        'train' (appended to /train) or 'skip'\n"
"idx:      --class-names NAMES  'digits' (0..9), 'fashion-mnist', or a\n"
"                        comma-separated list (default: fashion-mnist when the\n"
"                        directory name contains \"fashion\", else digits)\n"
"info:     --quick       skip reading every chunk\n"
"\n"
"exit codes: 0 ok, 1 bad input or usage, 2 runtime failure\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "sinreq-prep: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(sinreq-prep --help lists the subcommands and "
            "options)\n");
    return EXIT_INPUT;
}

/* The shared strict parsers (whole string, no sign or blanks, in range);
 * the callers word the message. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    return sr_parse_u64("", s, max, out) == SR_OK ? 0 : -1;
}

static int parse_fraction(const char *s, double *out)
{
    double v;

    if (sr_parse_double("", s, 0, 1, &v) != SR_OK || v >= 1)
        return -1;
    *out = v;
    return 0;
}

enum {
    OPT_FORCE = 256, OPT_QUIET, OPT_VAL, OPT_SEED, OPT_THREADS, OPT_DEFLATE,
    OPT_SKIP_MD5, OPT_SIZE, OPT_RESIZE, OPT_EXTRA, OPT_NAMES, OPT_QUICK,
};

static const struct option long_opts[] = {
    { "output", required_argument, NULL, 'o' },
    { "help", no_argument, NULL, 'h' },
    { "force", no_argument, NULL, OPT_FORCE },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "val-fraction", required_argument, NULL, OPT_VAL },
    { "seed", required_argument, NULL, OPT_SEED },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "deflate", required_argument, NULL, OPT_DEFLATE },
    { "skip-md5", no_argument, NULL, OPT_SKIP_MD5 },
    { "size", required_argument, NULL, OPT_SIZE },
    { "resize", required_argument, NULL, OPT_RESIZE },
    { "extra", required_argument, NULL, OPT_EXTRA },
    { "class-names", required_argument, NULL, OPT_NAMES },
    { "quick", no_argument, NULL, OPT_QUICK },
    { NULL, 0, NULL, 0 },
};

struct subcommand {
    const char *name;
    sr_status (*run)(struct prep_opts *o);
    const char *const *allowed;   /* subcommand-specific options */
};

static const char *const cifar_opts[] = { "skip-md5", NULL };
static const char *const svhn_opts[] = { "extra", NULL };
static const char *const images_opts[] = { "size", "resize", NULL };
static const char *const idx_opts[] = { "class-names", NULL };
static const char *const info_opts[] = { "quick", NULL };

static const struct subcommand subcommands[] = {
    { "cifar10", prep_cifar10, cifar_opts },
    { "svhn", prep_svhn, svhn_opts },
    { "images", prep_images, images_opts },
    { "idx", prep_idx, idx_opts },
    { "info", prep_info, info_opts },
};

static int opt_allowed(const struct subcommand *sc, int opt)
{
    static const char *const specific[] = {
        "skip-md5", "size", "resize", "extra", "class-names", "quick",
    };
    const char *name = NULL;

    if (opt < OPT_SKIP_MD5)
        return 1;
    name = specific[opt - OPT_SKIP_MD5];
    for (const char *const *a = sc->allowed; *a; a++)
        if (strcmp(*a, name) == 0)
            return 1;
    return 0;
}

/* The output's directory must exist and be writable; an existing output
 * needs --force. Checked before any slow work. */
static sr_status check_output(const struct prep_opts *o)
{
    char *copy = strdup(o->output), *dir;
    struct stat sb;
    sr_status st = SR_OK;

    if (!copy)
        return sr_error(SR_E_NOMEM, "out of memory");
    dir = dirname(copy);
    if (!prep_is_dir(dir))
        st = sr_error(SR_E_ARG, "%s: the output directory %s does not exist",
                      o->output, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        st = sr_error(SR_E_ARG, "%s: the output directory %s is not "
                      "writable", o->output, dir);
    else if (stat(o->output, &sb) == 0 && S_ISDIR(sb.st_mode))
        st = sr_error(SR_E_ARG, "%s is a directory", o->output);
    else if (!o->force && stat(o->output, &sb) == 0)
        st = sr_error(SR_E_ARG, "%s exists; not overwriting it (use --force "
                      "to replace it)", o->output);
    free(copy);
    return st;
}

int main(int argc, char **argv)
{
    struct prep_opts o = {
        .seed = 0, .threads = 0, .deflate = 1, .extra = "split",
    };
    const struct subcommand *sc = NULL;
    char **av = argv + 1;   /* getopt sees the subcommand as argv[0] */
    int li = 0;
    uint64_t v;
    long ncpu;
    sr_status st;
    int c;

    if (argc < 2)
        return usage_error("%s", "no subcommand given");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof *subcommands; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            sc = &subcommands[i];
    if (!sc)
        return usage_error("unknown subcommand '%s' (expected cifar10, svhn, "
                           "images, idx or info)", argv[1]);

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc - 1, av, ":o:h", long_opts, &li)) != -1) {
        if (c == '?') {
            char shortopt[3] = { '-', (char)optopt, '\0' };

            return usage_error("unknown option '%s'",
                               optopt ? shortopt : av[optind - 1]);
        }
        if (c == ':')
            return usage_error("option '%s' needs a value", av[optind - 1]);
        if (!opt_allowed(sc, c))
            return usage_error("option '--%s' does not apply to this "
                               "subcommand", long_opts[li].name);
        switch (c) {
        case 'o': o.output = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case OPT_FORCE: o.force = 1; break;
        case OPT_QUIET: o.quiet = 1; break;
        case OPT_SKIP_MD5: o.skip_md5 = 1; break;
        case OPT_QUICK: o.quick = 1; break;
        case OPT_EXTRA:
            if (strcmp(optarg, "split") && strcmp(optarg, "train") &&
                strcmp(optarg, "skip"))
                return usage_error("--extra '%s': expected split, train or "
                                   "skip", optarg);
            o.extra = optarg;
            break;
        case OPT_NAMES: o.class_names = optarg; break;
        case OPT_VAL:
            if (parse_fraction(optarg, &o.val_fraction))
                return usage_error("--val-fraction '%s' is not a number in "
                                   "[0, 1)", optarg);
            break;
        case OPT_SEED:
            if (parse_u64(optarg, UINT64_MAX, &o.seed))
                return usage_error("--seed '%s' is not a non-negative "
                                   "integer", optarg);
            break;
        case OPT_THREADS:
            if (parse_u64(optarg, 64, &v) || v == 0)
                return usage_error("--threads '%s' is not in 1..64", optarg);
            o.threads = (int)v;
            break;
        case OPT_DEFLATE:
            if (parse_u64(optarg, 9, &v))
                return usage_error("--deflate '%s' is not in 0..9", optarg);
            o.deflate = (int)v;
            break;
        case OPT_SIZE:
            if (parse_u64(optarg, 4096, &v) || v == 0)
                return usage_error("--size '%s' is not in 1..4096", optarg);
            o.size = (uint32_t)v;
            break;
        case OPT_RESIZE:
            if (parse_u64(optarg, 8192, &v) || v == 0)
                return usage_error("--resize '%s' is not in 1..8192", optarg);
            o.resize = (uint32_t)v;
            break;
        }
    }
    if (optind != argc - 2)
        return usage_error("%s", optind > argc - 2
                           ? "no input given" : "more than one input given");
    o.input = av[optind];
    if (strcmp(sc->name, "info") != 0) {
        if (!o.output)
            return usage_error("%s", "no output given (-o OUT.h5)");
        st = check_output(&o);
        if (st != SR_OK) {
            fprintf(stderr, "sinreq-prep: error: %s\n", sr_last_error());
            return EXIT_INPUT;
        }
    }
    if (o.threads == 0) {
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
    }
    st = sc->run(&o);
    if (st == SR_OK)
        return 0;
    fprintf(stderr, "sinreq-prep: error: %s\n", sr_last_error());
    if (o.runtime_failure || st == SR_E_NOMEM || st == SR_E_INTERNAL ||
        st == SR_E_DEVICE)
        return EXIT_RUNTIME;
    return EXIT_INPUT;
}
