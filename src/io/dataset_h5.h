/* Shared by dataset_read_h5.c and dataset_write_h5.c (src/io internal). */
#ifndef SR_IO_DATASET_H5_H
#define SR_IO_DATASET_H5_H

/* A split's name ("train", "test", "val", ...) with its terminator. */
#define SR_DS_SPLIT_NAME_MAX 32

#endif
