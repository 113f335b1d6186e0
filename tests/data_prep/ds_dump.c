/* Test helper: prints what the sinreq dataset reader API returns.
 *   ds_dump FILE shape SPLIT              -> "N C H W"
 *   ds_dump FILE labels SPLIT             -> one label per line
 *   ds_dump FILE images SPLIT FIRST COUNT OUT   -> raw NCHW bytes to OUT
 *   ds_dump FILE classes                  -> one class name per line
 *   ds_dump FILE splits                   -> split names, one per line
 * Exit 1 with the reader's message on any error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinreq/dataset.h"

static int fail(sr_ds *ds)
{
    fprintf(stderr, "ds_dump: %s\n", sr_last_error());
    sr_ds_close(ds);
    return 1;
}

int main(int argc, char **argv)
{
    struct sr_ds_split_info in;
    sr_ds *ds = NULL;
    int s = -1;

    if (argc < 3) {
        fprintf(stderr, "usage: ds_dump FILE shape|labels|images|classes|splits ...\n");
        return 2;
    }
    if (sr_ds_open(&ds, argv[1]) != SR_OK)
        return fail(NULL);
    if (strcmp(argv[2], "classes") == 0) {
        for (uint32_t k = 0; k < sr_ds_num_classes(ds); k++)
            printf("%s\n", sr_ds_class_name(ds, k));
        sr_ds_close(ds);
        return 0;
    }
    if (strcmp(argv[2], "splits") == 0) {
        for (int i = 0; i < sr_ds_num_splits(ds); i++) {
            sr_ds_split_info(ds, i, &in);
            printf("%s\n", in.name);
        }
        sr_ds_close(ds);
        return 0;
    }
    if (argc < 4 || (s = sr_ds_find_split(ds, argv[3])) < 0) {
        fprintf(stderr, "ds_dump: no split %s\n", argc < 4 ? "given" : argv[3]);
        sr_ds_close(ds);
        return 1;
    }
    sr_ds_split_info(ds, s, &in);
    if (strcmp(argv[2], "shape") == 0) {
        printf("%llu %u %u %u\n", (unsigned long long)in.count, in.channels,
               in.height, in.width);
    } else if (strcmp(argv[2], "labels") == 0) {
        uint32_t *l = malloc((in.count + 1) * sizeof *l);

        if (!l || sr_ds_read_labels(ds, s, l) != SR_OK) {
            free(l);
            return fail(ds);
        }
        for (uint64_t i = 0; i < in.count; i++)
            printf("%u\n", l[i]);
        free(l);
    } else if (strcmp(argv[2], "images") == 0 && argc == 7) {
        uint64_t first = strtoull(argv[4], NULL, 10);
        uint64_t count = strtoull(argv[5], NULL, 10);
        size_t bytes = (size_t)count * in.channels * in.height * in.width;
        uint8_t *buf = malloc(bytes + 1);
        FILE *f;

        if (!buf || sr_ds_read_images(ds, s, first, count, buf) != SR_OK) {
            free(buf);
            return fail(ds);
        }
        f = fopen(argv[6], "wb");
        if (!f || fwrite(buf, 1, bytes, f) != bytes) {
            fprintf(stderr, "ds_dump: cannot write %s\n", argv[6]);
            free(buf);
            sr_ds_close(ds);
            return 1;
        }
        fclose(f);
        free(buf);
    } else {
        fprintf(stderr, "ds_dump: bad command\n");
        sr_ds_close(ds);
        return 2;
    }
    sr_ds_close(ds);
    return 0;
}
