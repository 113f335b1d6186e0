/* sinreq-prep: X and y of a MATLAB v5/v7/v7.3 file with libmatio. */
#include "mat_read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <matio.h>

void prep_mat_free(struct prep_mat_images *m)
{
    if (m->xvar)
        Mat_VarFree(m->xvar);
    free(m->y);
    memset(m, 0, sizeof *m);
}

/* Value i of a numeric variable as double; NAN for a class we do not know. */
static double mat_value(const matvar_t *v, size_t i)
{
    switch (v->class_type) {
    case MAT_C_DOUBLE: return ((const double *)v->data)[i];
    case MAT_C_SINGLE: return ((const float *)v->data)[i];
    case MAT_C_INT8: return ((const int8_t *)v->data)[i];
    case MAT_C_UINT8: return ((const uint8_t *)v->data)[i];
    case MAT_C_INT16: return ((const int16_t *)v->data)[i];
    case MAT_C_UINT16: return ((const uint16_t *)v->data)[i];
    case MAT_C_INT32: return ((const int32_t *)v->data)[i];
    case MAT_C_UINT32: return ((const uint32_t *)v->data)[i];
    case MAT_C_INT64: return (double)((const int64_t *)v->data)[i];
    case MAT_C_UINT64: return (double)((const uint64_t *)v->data)[i];
    default: return NAN;
    }
}

sr_status prep_mat_read_xy(const char *path, struct prep_mat_images *out)
{
    mat_t *mat;
    matvar_t *x = NULL, *y = NULL;
    size_t ny = 1;
    sr_status st = SR_OK;

    memset(out, 0, sizeof *out);
    mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat)
        return sr_error(SR_E_FORMAT, "%s: cannot open as a MATLAB file "
                        "(missing, or not a .mat file)", path);
    x = Mat_VarRead(mat, "X");
    if (!x) {
        st = sr_error(SR_E_FORMAT, "%s: no readable variable X (truncated "
                      "or not an SVHN file?)", path);
        goto out_close;
    }
    if (x->class_type != MAT_C_UINT8 || x->isComplex || !x->data ||
        x->rank < 3 || x->rank > 4 || (x->dims[2] != 3 && x->dims[2] != 1)) {
        st = sr_error(SR_E_FORMAT, "%s: X must be uint8 H x W x 3 x N "
                      "(class %d, rank %d)", path, (int)x->class_type, x->rank);
        goto out_close;
    }
    out->h = (uint32_t)x->dims[0];
    out->w = (uint32_t)x->dims[1];
    out->c = (uint32_t)x->dims[2];
    out->n = x->rank == 4 ? x->dims[3] : 1;   /* MATLAB drops a last 1 */
    if (x->nbytes != (size_t)out->h * out->w * out->c * out->n) {
        st = sr_error(SR_E_FORMAT, "%s: X has %zu bytes, expected %llu",
                      path, x->nbytes, (unsigned long long)out->h * out->w *
                      out->c * out->n);
        goto out_close;
    }
    y = Mat_VarRead(mat, "y");
    if (!y || !y->data || y->isComplex) {
        st = sr_error(SR_E_FORMAT, "%s: no readable numeric variable y",
                      path);
        goto out_close;
    }
    for (int i = 0; i < y->rank; i++)
        ny *= y->dims[i];
    if (ny != out->n) {
        st = sr_error(SR_E_FORMAT, "%s: y has %zu entries but X has %llu "
                      "images", path, ny, (unsigned long long)out->n);
        goto out_close;
    }
    out->y = malloc(ny * sizeof *out->y);
    if (!out->y) {
        st = sr_error(SR_E_NOMEM, "out of memory");
        goto out_close;
    }
    for (size_t i = 0; i < ny; i++) {
        double v = mat_value(y, i);

        if (!(v >= 0 && v <= 4294967295.0) || v != floor(v)) {
            st = sr_error(SR_E_FORMAT, "%s: y(%zu) = %g is not a label",
                          path, i + 1, v);
            goto out_close;
        }
        out->y[i] = (uint32_t)v;
    }
    out->x = x->data;
    out->xvar = x;
    x = NULL;
out_close:
    if (st != SR_OK) {
        free(out->y);
        out->y = NULL;
    }
    if (y)
        Mat_VarFree(y);
    if (x)
        Mat_VarFree(x);
    Mat_Close(mat);
    return st;
}
