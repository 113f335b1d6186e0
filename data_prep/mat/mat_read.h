/* sinreq-prep: SVHN's MATLAB files (libmatio; the only user of it). */
#ifndef SINREQ_PREP_MAT_READ_H
#define SINREQ_PREP_MAT_READ_H

#include <stddef.h>
#include <stdint.h>

#include "sinreq/status.h"

/* Variables X (uint8, H x W x C x N, MATLAB's column-major order: element
 * (h, w, c, n) is x[h + H*(w + W*(c + C*n))]) and y (N numbers, any numeric
 * class, returned as integers). */
struct prep_mat_images {
    const uint8_t *x;
    uint32_t h, w, c;
    uint64_t n;
    uint32_t *y;
    void *xvar;   /* owns x */
};

sr_status prep_mat_read_xy(const char *path, struct prep_mat_images *out);
void prep_mat_free(struct prep_mat_images *m);

#endif
