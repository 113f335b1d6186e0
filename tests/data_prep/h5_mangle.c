/* Test helper (test-only HDF5 user): damages dataset files the ways the
 * reader must detect.
 *   h5_mangle FILE delete PATH            remove a link (/train/labels)
 *   h5_mangle FILE set-version V          rewrite /@format_version
 *   h5_mangle FILE grow PATH              extend a 1-D dataset by one entry
 *   h5_mangle FILE reshape SPLIT          replace SPLIT/images by one with H+1
 *   h5_mangle FILE chunk PATH K           print "offset size" of chunk K */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

static int reshape(hid_t f, const char *split)
{
    char path[256], tmp[256];
    hsize_t dims[4], maxd[4];
    hid_t d, sp, d2, sp2, dcpl;
    int ret = 1;

    snprintf(path, sizeof path, "/%s/images", split);
    snprintf(tmp, sizeof tmp, "/%s/images_new", split);
    d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0)
        return 1;
    sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, dims, maxd);
    dims[2] += 1;
    maxd[2] = dims[2];
    sp2 = H5Screate_simple(4, dims, maxd);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[4] = { 1, dims[1], dims[2], dims[3] };
    H5Pset_chunk(dcpl, 4, chunk);
    d2 = H5Dcreate2(f, tmp, H5T_STD_U8LE, sp2, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d2 >= 0 && H5Ldelete(f, path, H5P_DEFAULT) >= 0 &&
        H5Lmove(f, tmp, f, path, H5P_DEFAULT, H5P_DEFAULT) >= 0)
        ret = 0;
    H5Dclose(d2);
    H5Pclose(dcpl);
    H5Sclose(sp2);
    H5Sclose(sp);
    H5Dclose(d);
    return ret;
}

int main(int argc, char **argv)
{
    hid_t f;
    int ret = 1;

    if (argc < 3)
        return 2;
    f = H5Fopen(argv[1], strcmp(argv[2], "chunk") ? H5F_ACC_RDWR : H5F_ACC_RDONLY,
                H5P_DEFAULT);
    if (f < 0)
        return 1;
    if (strcmp(argv[2], "delete") == 0 && argc == 4) {
        ret = H5Ldelete(f, argv[3], H5P_DEFAULT) < 0;
    } else if (strcmp(argv[2], "set-version") == 0 && argc == 4) {
        unsigned v = (unsigned)atoi(argv[3]);
        hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);

        ret = a < 0 || H5Awrite(a, H5T_NATIVE_UINT, &v) < 0;
        H5Aclose(a);
    } else if (strcmp(argv[2], "grow") == 0 && argc == 4) {
        hid_t d = H5Dopen2(f, argv[3], H5P_DEFAULT);
        hid_t sp = H5Dget_space(d);
        hsize_t n;

        H5Sget_simple_extent_dims(sp, &n, NULL);
        n += 1;
        ret = H5Dset_extent(d, &n) < 0;
        H5Sclose(sp);
        H5Dclose(d);
    } else if (strcmp(argv[2], "reshape") == 0 && argc == 4) {
        ret = reshape(f, argv[3]);
    } else if (strcmp(argv[2], "chunk") == 0 && argc == 5) {
        hid_t d = H5Dopen2(f, argv[3], H5P_DEFAULT);
        hid_t sp = H5Dget_space(d);
        hsize_t off[4];
        unsigned mask;
        haddr_t addr;
        hsize_t size;

        if (d >= 0 && H5Dget_chunk_info(d, sp, (hsize_t)atoll(argv[4]),
                                        off, &mask, &addr, &size) >= 0) {
            printf("%llu %llu\n", (unsigned long long)addr,
                   (unsigned long long)size);
            ret = 0;
        }
        H5Sclose(sp);
        H5Dclose(d);
    }
    H5Fclose(f);
    return ret;
}
