/* Weight histogram files: the layout is in include/sinreq/hist_io.h. */
#include "sinreq/hist_io.h"

#include <stdio.h>
#include <unistd.h>

#include <hdf5.h>

#include "h5util.h"

static sr_status write_layer(hid_t g, const char *path, const char *grp,
                             const sr_hist_layer *l)
{
    hsize_t n = (hsize_t)l->bins;
    hid_t s = H5Screate_simple(1, &n, NULL);
    hid_t d = H5I_INVALID_HID;
    int bad = 0;
    sr_status st = SR_OK;

    d = s < 0 ? -1 : H5Dcreate2(g, l->name, H5T_IEEE_F32LE, s, H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                          l->counts) < 0) {
        st = sr_h5_error(SR_E_WRITE, "%s: cannot write %s/%s", path, grp,
                         l->name);
        goto out;
    }
    bad |= sr_h5_attr_f64(d, "lo", l->lo);
    bad |= sr_h5_attr_f64(d, "hi", l->hi);
    bad |= sr_h5_attr_i32(d, "bits", l->bits);
    bad |= sr_h5_attr_str(d, "quantizer", l->quantizer ? l->quantizer : "none");
    bad |= sr_h5_attr_f64(d, "R", l->reg);
    bad |= sr_h5_attr_f64(d, "qerr", l->qerr);
    if (l->levels && l->n_levels > 0)
        bad |= sr_h5_attr_f32s(d, "levels", l->levels, l->n_levels);
    if (l->minima && l->n_minima > 0)
        bad |= sr_h5_attr_f32s(d, "minima", l->minima, l->n_minima);
    if (bad)
        st = sr_h5_error(SR_E_WRITE, "%s: cannot write the attributes of %s/%s",
                         path, grp, l->name);
out:
    sr_h5_close(&d);
    sr_h5_close(&s);
    return st;
}

/* The epoch of a group named epoch_<E>; -1 for any other name. */
static int group_epoch(const char *name)
{
    int e = -1, used = 0;

    if (sscanf(name, "epoch_%d%n", &e, &used) != 1 || name[used] != '\0')
        return -1;
    return e;
}

struct copy_ctx {
    hid_t dst;      /* H5I_INVALID_HID: count only */
    int keep_max;   /* groups of later epochs are left out */
    int n_over;     /* groups of later epochs seen */
};

static herr_t copy_cb(hid_t g, const char *name, const H5L_info_t *info,
                      void *data)
{
    struct copy_ctx *c = data;
    int e = group_epoch(name);

    (void)info;
    if (e < 0)
        return 0;
    if (e > c->keep_max) {
        c->n_over++;
        return 0;
    }
    if (c->dst >= 0 &&
        H5Ocopy(g, name, c->dst, name, H5P_DEFAULT, H5P_DEFAULT) < 0)
        return -1;
    return 0;
}

/* Walk path's epoch groups: copied into dst (when valid) up to keep_max;
 * *n_over: how many are later. A missing file has none. */
static sr_status walk_old(const char *path, hid_t dst, int keep_max,
                          int *n_over)
{
    struct copy_ctx c = { dst, keep_max, 0 };
    hsize_t idx = 0;
    hid_t f;

    *n_over = 0;
    if (access(path, F_OK) != 0)
        return SR_OK;
    SR_TRY(sr_h5_probe_strings(path));
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return sr_h5_error(SR_E_IO, "%s: cannot read the earlier epochs' "
                           "histograms (move the file away to start it "
                           "over)", path);
    if (H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, &idx, copy_cb, &c) < 0) {
        sr_status st = sr_h5_error(SR_E_IO, "%s: cannot copy the earlier "
                                   "epochs' histograms", path);
        H5Fclose(f);
        return st;
    }
    H5Fclose(f);
    *n_over = c.n_over;
    return SR_OK;
}

/* A new histograms file: the groups of path up to keep_max, plus epoch's
 * layers when l; written whole to path.tmp, synced and renamed over path,
 * so that a kill or a full disk leaves the old file or the new one. */
static sr_status rebuild(const char *path, int keep_max, int epoch,
                         const sr_hist_layer *l, int n)
{
    char grp[32], tmp[4200];
    hid_t f, g = H5I_INVALID_HID;
    int n_over;
    sr_status st = SR_OK;

    snprintf(grp, sizeof grp, "epoch_%d", epoch);
    SR_TRY(sr_tmp_path(tmp, sizeof tmp, path));
    f = sr_h5_mem_create(0);
    if (f < 0)
        return sr_h5_error(SR_E_INTERNAL, "cannot set up %s", tmp);
    if (sr_h5_attr_str(f, "format", SR_HIST_FORMAT) ||
        sr_h5_attr_i32(f, "format_version", 1) || sr_h5_attr_version(f)) {
        st = sr_h5_error(SR_E_WRITE, "%s: cannot write the attributes", tmp);
        goto out;
    }
    st = walk_old(path, f, keep_max, &n_over);
    if (st != SR_OK || !l)
        goto out;
    g = H5Gcreate2(f, grp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        st = sr_h5_error(SR_E_WRITE, "%s: cannot create /%s", tmp, grp);
        goto out;
    }
    if (sr_h5_attr_i32(g, "epoch", epoch)) {
        st = sr_h5_error(SR_E_WRITE, "%s: cannot write /%s@epoch", tmp, grp);
        goto out;
    }
    for (int i = 0; st == SR_OK && i < n; i++)
        st = write_layer(g, tmp, grp, &l[i]);
out:
    sr_h5_close(&g);
    if (st != SR_OK) {
        sr_h5_mem_abort(&f);
        return st;
    }
    SR_TRY(sr_h5_mem_save(&f, tmp));
    return sr_file_commit(tmp, path, 1);
}

sr_status sr_hist_write(const char *path, int epoch, const sr_hist_layer *l,
                        int n)
{
    sr_h5_quiet();
    /* groups of this epoch or later come from a run that was stopped
     * before its checkpoint: this epoch's replaces them */
    return rebuild(path, epoch - 1, epoch, l, n);
}

sr_status sr_hist_trim(const char *path, int last_epoch)
{
    int n_over = 0;

    sr_h5_quiet();
    SR_TRY(walk_old(path, H5I_INVALID_HID, last_epoch, &n_over));
    return n_over ? rebuild(path, last_epoch, last_epoch, NULL, 0) : SR_OK;
}
