/* sinreq-prep: JPEG -> RGB with libjpeg(-turbo), errors via longjmp. */
#include "jpeg_decode.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
};

static void jerr_exit(j_common_ptr cinfo)
{
    struct jerr *e = (struct jerr *)cinfo->err;

    e->mgr.format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void jerr_emit(j_common_ptr cinfo, int level)
{
    struct jerr *e = (struct jerr *)cinfo->err;

    /* A file cut short decodes as gray padding: refuse it. Other warnings
     * (e.g. extraneous bytes) are harmless and ignored. */
    if (level < 0 && e->mgr.msg_code == JWRN_JPEG_EOF)
        jerr_exit(cinfo);
    if (level < 0)
        e->mgr.num_warnings++;
}

sr_status prep_jpeg_decode(const uint8_t *data, size_t size, uint32_t min_side,
                           uint8_t **rgb, uint32_t *w, uint32_t *h)
{
    struct jpeg_decompress_struct cinfo;
    struct jerr err;
    uint8_t *volatile buf = NULL;
    volatile int cmyk = 0;
    size_t stride;

    *rgb = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jerr_exit;
    err.mgr.emit_message = jerr_emit;
    err.msg[0] = '\0';
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        return sr_error(SR_E_FORMAT, "bad JPEG: %s", err.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        cinfo.out_color_space = JCS_CMYK;
        cmyk = 1;
    } else {
        cinfo.out_color_space = JCS_RGB;
    }
    if (min_side > 0) {
        uint32_t shorter = cinfo.image_width < cinfo.image_height
                           ? cinfo.image_width : cinfo.image_height;
        unsigned denom = 1;

        while (denom < 8 && shorter / (denom * 2) >= 2 * min_side)
            denom *= 2;
        cinfo.scale_num = 1;
        cinfo.scale_denom = denom;
    }
    jpeg_start_decompress(&cinfo);
    stride = (size_t)cinfo.output_width * cinfo.output_components;
    buf = malloc(stride * cinfo.output_height);
    if (!buf) {
        jpeg_destroy_decompress(&cinfo);
        return sr_error(SR_E_NOMEM, "out of memory decoding a %ux%u JPEG",
                        cinfo.output_width, cinfo.output_height);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buf + stride * cinfo.output_scanline;

        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *w = cinfo.output_width;
    *h = cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    if (cmyk) {
        /* Adobe-style inverted CMYK: R = C * K / 255 ..., in place. */
        size_t n = (size_t)*w * *h;

        for (size_t i = 0; i < n; i++) {
            unsigned k = buf[4 * i + 3];

            buf[3 * i + 0] = (uint8_t)((buf[4 * i + 0] * k + 127) / 255);
            buf[3 * i + 1] = (uint8_t)((buf[4 * i + 1] * k + 127) / 255);
            buf[3 * i + 2] = (uint8_t)((buf[4 * i + 2] * k + 127) / 255);
        }
    }
    *rgb = buf;
    return SR_OK;
}
