/* Helpers shared by every HDF5 file of src/io (internal). */
#ifndef SR_IO_H5UTIL_H
#define SR_IO_H5UTIL_H

#include <hdf5.h>

#include "sinreq/file_commit.h"
#include "sinreq/model_io.h"
#include "sinreq/status.h"

sr_status sr_h5_error_at(sr_status code, const char *file, int line,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define sr_h5_error(code, ...) sr_h5_error_at((code), __FILE__, __LINE__, __VA_ARGS__)

void sr_h5_quiet(void);
/* Before H5Fopen: a missing path, a directory or a file that is not HDF5
 * at all gets a plain sentence (SR_E_IO) instead of the driver's message. */
sr_status sr_h5_check_file(const char *path);
/* Reads every variable-length string of the file in a child process and
 * refuses the file (SR_E_IO) if that crashes HDF5 (h5_probe.c says why).
 * sr_h5_check_file calls it. */
sr_status sr_h5_probe_strings(const char *path);
void sr_h5_close(hid_t *id);

int sr_h5_attr_str(hid_t loc, const char *name, const char *value);
/* The root attribute every file sinreq writes carries (model, checkpoint,
 * histograms, export): the version of the program that wrote it
 * (sr_version()). Readers never require it: older files lack it. */
#define SR_H5_VERSION_ATTR "sinreq_version"
int sr_h5_attr_version(hid_t file);
int sr_h5_attr_strs(hid_t loc, const char *name, const char *const *v, int n);
int sr_h5_attr_i32s(hid_t loc, const char *name, const int *v, int n);
int sr_h5_attr_f32s(hid_t loc, const char *name, const float *v, int n);
int sr_h5_attr_f64(hid_t loc, const char *name, double v);
int sr_h5_attr_i32(hid_t loc, const char *name, int v);
int sr_h5_attr_u32(hid_t loc, const char *name, uint32_t v);
int sr_h5_attr_u64(hid_t loc, const char *name, uint64_t v);
int sr_h5_attr_u64s(hid_t loc, const char *name, const uint64_t *v, int n);

/* Readers: 0 on success, -1 when missing or of the wrong kind; n is the
 * number of elements expected (checked). */
int sr_h5_read_attr_str(hid_t loc, const char *name, char *buf, size_t size);
int sr_h5_attr_len(hid_t loc, const char *name);   /* -1: missing */
int sr_h5_read_attr_i32s(hid_t loc, const char *name, int *v, int n);
int sr_h5_read_attr_f32s(hid_t loc, const char *name, float *v, int n);
int sr_h5_read_attr_f64s(hid_t loc, const char *name, double *v, int n);
/* String array attribute: n strings, each copied into buf[i*size]. */
int sr_h5_read_attr_strs(hid_t loc, const char *name, char *buf, size_t size,
                         int n);


/* Files written whole: built in memory (the core driver, no backing
 * store), then sr_h5_mem_save writes the image to tmp with checked
 * write() and fsync calls. A full disk is then an errno with a message
 * (SR_E_WRITE), never a failed H5Fclose, whose half-closed file crashes
 * the library's exit-time cleanup. v18: 1.8+ object headers (checksums). */
hid_t sr_h5_mem_create(int v18);
/* Close *file (every object in it closed first) and write its image to
 * tmp, synced; on failure no tmp is left. *file is closed either way. */
sr_status sr_h5_mem_save(hid_t *file, const char *tmp);
/* Close an in-memory file that is not to be written. */
void sr_h5_mem_abort(hid_t *file);

/* model_h5.c: the network description of model and export files. */
int sr_model_meta_attrs(hid_t file, const sr_model_meta *m);
/* format, format_version, the description and created_at on file (a file
 * or a group), the per-layer plan on q. */
sr_status sr_model_meta_write(hid_t file, hid_t q, const char *path,
                              const sr_model_meta *m);
/* Read and check them (format and version first, every attribute, /quant
 * with one entry per layer, every value in range); m->layers is malloc'd. */
sr_status sr_model_meta_read(hid_t file, const char *path, const char *format,
                             int version, sr_model_meta *m);
#define SR_MODEL_MAX_BITS 16

#endif
