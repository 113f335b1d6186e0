/* Test helper: writes an SVHN-style MATLAB file with libmatio (used when
 * python3-scipy is not installed).
 *   write_mat OUT.mat X.raw H W C N Y.raw [zlib]
 * X.raw holds H*W*C*N bytes in MATLAB (column-major) order; Y.raw N bytes;
 * X is written as uint8 H x W x C x N, y as double N x 1 (like SVHN). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <matio.h>

static void *slurp(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    void *buf = malloc(n ? n : 1);

    if (!f || !buf || fread(buf, 1, n, f) != n) {
        fprintf(stderr, "write_mat: cannot read %zu bytes of %s\n", n, path);
        exit(1);
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    size_t dx[4], dy[2];
    size_t n, bytes;
    uint8_t *x, *yb;
    double *y;
    mat_t *mat;
    matvar_t *vx, *vy;
    enum matio_compression z;

    if (argc < 8)
        return 2;
    dx[0] = strtoul(argv[3], NULL, 10);
    dx[1] = strtoul(argv[4], NULL, 10);
    dx[2] = strtoul(argv[5], NULL, 10);
    dx[3] = n = strtoul(argv[6], NULL, 10);
    bytes = dx[0] * dx[1] * dx[2] * dx[3];
    x = slurp(argv[2], bytes);
    yb = slurp(argv[7], n);
    y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[i] = yb[i];
    dy[0] = n;
    dy[1] = 1;
    z = argc > 8 && strcmp(argv[8], "zlib") == 0 ? MAT_COMPRESSION_ZLIB
                                                 : MAT_COMPRESSION_NONE;
    mat = Mat_CreateVer(argv[1], NULL, MAT_FT_MAT5);
    if (!mat)
        return 1;
    vx = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, dx, x, 0);
    vy = Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dy, y, 0);
    if (!vx || !vy || Mat_VarWrite(mat, vx, z) != 0 || Mat_VarWrite(mat, vy, z) != 0)
        return 1;
    Mat_VarFree(vx);
    Mat_VarFree(vy);
    Mat_Close(mat);
    free(x);
    free(yb);
    free(y);
    return 0;
}
