/* sinreq-prep: PNG -> RGB with libpng's simplified API. */
#include "png_decode.h"

#include <stdlib.h>
#include <string.h>

#include <png.h>

sr_status prep_png_decode(const uint8_t *data, size_t size, uint8_t **rgb,
                          uint32_t *w, uint32_t *h)
{
    png_image img;
    uint8_t *buf;

    *rgb = NULL;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, size))
        return sr_error(SR_E_FORMAT, "bad PNG: %s", img.message);
    img.format = PNG_FORMAT_RGB;
    buf = malloc(PNG_IMAGE_SIZE(img));
    if (!buf) {
        png_image_free(&img);
        return sr_error(SR_E_NOMEM, "out of memory decoding a %ux%u PNG",
                        img.width, img.height);
    }
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        png_image_free(&img);
        return sr_error(SR_E_FORMAT, "bad PNG: %s", img.message);
    }
    *w = img.width;
    *h = img.height;
    *rgb = buf;
    return SR_OK;
}
