/* `sinreq eval --dump-logits`: the logits of every evaluated image (layout
 * in include/sinreq/model_io.h). */
#include <stdint.h>

#include <hdf5.h>

#include "h5util.h"

static int write_2d(hid_t file, const char *name, hid_t ftype, hid_t mtype,
                    hsize_t rows, hsize_t cols, const void *v)
{
    hsize_t dims[2] = {rows, cols};
    hid_t space = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    hid_t d = space < 0 ? H5I_INVALID_HID
                        : H5Dcreate2(file, name, ftype, space, H5P_DEFAULT,
                                     H5P_DEFAULT, H5P_DEFAULT);
    int bad = d < 0 ||
              (rows && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                v) < 0);
    sr_h5_close(&d);
    sr_h5_close(&space);
    return bad;
}

sr_status sr_logits_save(const char *path, const char *model,
                         const float *logits, const uint32_t *labels, long n,
                         int classes)
{
    char tmp[4200];
    hid_t file;
    int bad = 0;

    SR_TRY(sr_tmp_path(tmp, sizeof tmp, path));
    file = sr_h5_mem_create(0);
    if (file < 0)
        return sr_h5_error(SR_E_INTERNAL, "cannot set up %s", tmp);
    bad |= sr_h5_attr_str(file, "format", SR_LOGITS_FORMAT);
    bad |= sr_h5_attr_i32(file, "format_version", 1);
    bad |= sr_h5_attr_version(file);
    bad |= sr_h5_attr_str(file, "model", model);
    bad |= write_2d(file, "logits", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                    (hsize_t)n, (hsize_t)classes, logits);
    bad |= write_2d(file, "labels", H5T_STD_U32LE, H5T_NATIVE_UINT32,
                    (hsize_t)n, 0, labels);
    if (bad) {
        sr_status st = sr_h5_error(SR_E_WRITE, "%s: cannot write the "
                                   "logits", tmp);
        sr_h5_mem_abort(&file);
        return st;
    }
    SR_TRY(sr_h5_mem_save(&file, tmp));
    return sr_file_commit(tmp, path, 1);
}
