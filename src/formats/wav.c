#include "formats/wav.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }

static void wav_header(uint8_t h[44], size_t n, int sample_rate) {
    memcpy(h, "RIFF", 4);
    put_u32(h + 4, (uint32_t)(36 + n * 2));
    memcpy(h + 8, "WAVEfmt ", 8);
    put_u32(h + 16, 16);
    put_u16(h + 20, 1); /* PCM */
    put_u16(h + 22, 1); /* mono */
    put_u32(h + 24, (uint32_t)sample_rate);
    put_u32(h + 28, (uint32_t)sample_rate * 2);
    put_u16(h + 32, 2);
    put_u16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put_u32(h + 40, (uint32_t)(n * 2));
}

int sbv2_wav_encode(const int16_t *pcm, size_t n, int sample_rate, void **bytes, size_t *n_bytes, sbv2_error *err) {
    if (bytes) *bytes = NULL;
    if (n_bytes) *n_bytes = 0;
    if (!bytes || !n_bytes || (!pcm && n)) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "WAV: bad arguments");
    if (n > (0xFFFFFFFFu - 36) / 2 || sample_rate <= 0)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "WAV: too many samples or bad sample rate");
    uint8_t *b = malloc(44 + 2 * n);
    if (!b) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    wav_header(b, n, sample_rate);
    for (size_t i = 0; i < n; i++) put_u16(b + 44 + 2 * i, (uint16_t)pcm[i]);
    *bytes = b, *n_bytes = 44 + 2 * n;
    return SBV2_OK;
}

int wav_write_pcm16(const char *path, const float *samples, size_t n, int sample_rate, sbv2_error *err) {
    if (n > (0xFFFFFFFFu - 36) / 2 || sample_rate <= 0)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "WAV: too many samples or bad sample rate");
    FILE *fp = fopen(path, "wb");
    if (!fp) return sbv2_fail(err, SBV2_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    uint8_t h[44];
    wav_header(h, n, sample_rate);
    int ok = fwrite(h, 1, 44, fp) == 44;
    for (size_t i = 0; ok && i < n; i++) {
        float v = samples[i];
        if (!(v == v)) v = 0;
        v = v > 1.0f ? 1.0f : (v < -1.0f ? -1.0f : v);
        int16_t s = (int16_t)lrintf(v * 32767.0f);
        uint8_t b[2];
        put_u16(b, (uint16_t)s);
        ok = fwrite(b, 1, 2, fp) == 2;
    }
    ok = (fclose(fp) == 0) && ok;
    return ok ? SBV2_OK : sbv2_fail(err, SBV2_ERR_IO, "cannot write %s", path);
}
