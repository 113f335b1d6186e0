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
        st = sr_h5_error(SR_E_IO, "%s: cannot write %s/%s", path, grp, l->name);
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
        st = sr_h5_error(SR_E_IO, "%s: cannot write the attributes of %s/%s",
                         path, grp, l->name);
out:
    sr_h5_close(&d);
    sr_h5_close(&s);
    return st;
}

sr_status sr_hist_write(const char *path, int epoch, const sr_hist_layer *l,
                        int n)
{
    char grp[32];
    hid_t f, g = H5I_INVALID_HID;
    sr_status st = SR_OK;

    sr_h5_quiet();
    snprintf(grp, sizeof grp, "epoch_%d", epoch);
    if (access(path, F_OK) == 0) {
        f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    } else {
        f = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
        if (f >= 0 && (sr_h5_attr_str(f, "format", SR_HIST_FORMAT) ||
                       sr_h5_attr_i32(f, "format_version", 1))) {
            H5Fclose(f);
            return sr_h5_error(SR_E_IO, "%s: cannot write the attributes", path);
        }
    }
    if (f < 0)
        return sr_h5_error(SR_E_IO, "cannot open %s for writing", path);
    if (H5Lexists(f, grp, H5P_DEFAULT) > 0)
        H5Ldelete(f, grp, H5P_DEFAULT);
    g = H5Gcreate2(f, grp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        st = sr_h5_error(SR_E_IO, "%s: cannot create /%s", path, grp);
        goto out;
    }
    if (sr_h5_attr_i32(g, "epoch", epoch)) {
        st = sr_h5_error(SR_E_IO, "%s: cannot write /%s@epoch", path, grp);
        goto out;
    }
    for (int i = 0; st == SR_OK && i < n; i++)
        st = write_layer(g, path, grp, &l[i]);
out:
    sr_h5_close(&g);
    if (H5Fclose(f) < 0 && st == SR_OK)
        st = sr_h5_error(SR_E_IO, "%s: cannot close", path);
    return st;
}
