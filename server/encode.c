#include "encode.h"

#include <stdlib.h>
#include <string.h>

#include <lame/lame.h>
#include <opus/opusenc.h>

int bytes_add(bytes *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q, b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

void bytes_free(bytes *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

const char *enc_mime(const char *f) {
    if (!strcmp(f, "wav")) return "audio/wav";
    if (!strcmp(f, "pcm")) return "audio/pcm";
    if (!strcmp(f, "mp3")) return "audio/mpeg";
    if (!strcmp(f, "opus")) return "audio/ogg";
    return NULL;
}

struct audio_enc {
    char fmt[8];
    int rate, started;
    lame_t lame;
    OggOpusEnc *ope;
    OggOpusComments *com;
    bytes *sink; /* where libopusenc's pages go during a call */
};

static int ope_write(void *user, const unsigned char *ptr, opus_int32 len) {
    audio_enc *e = user;
    return e->sink && bytes_add(e->sink, ptr, (size_t)len) == 0 ? 0 : 1;
}
static int ope_close(void *user) {
    (void)user;
    return 0;
}

audio_enc *enc_new(const char *format, int rate) {
    if (!enc_mime(format) || rate <= 0) return NULL;
    audio_enc *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    strncpy(e->fmt, format, sizeof e->fmt - 1);
    e->rate = rate;
    if (!strcmp(format, "mp3")) {
        e->lame = lame_init();
        if (!e->lame || lame_set_in_samplerate(e->lame, rate) || lame_set_num_channels(e->lame, 1) ||
            lame_set_mode(e->lame, MONO) || lame_set_brate(e->lame, 64) || lame_set_quality(e->lame, 5) ||
            lame_init_params(e->lame) < 0) {
            enc_free(e);
            return NULL;
        }
    } else if (!strcmp(format, "opus")) {
        OpusEncCallbacks cb = {ope_write, ope_close};
        int oerr = 0;
        e->com = ope_comments_create();
        e->ope = e->com ? ope_encoder_create_callbacks(&cb, e, e->com, rate, 1, 0, &oerr) : NULL;
        if (!e->ope) {
            enc_free(e);
            return NULL;
        }
    }
    return e;
}

int enc_push(audio_enc *e, const int16_t *pcm, size_t n, bytes *out) {
    if (!strcmp(e->fmt, "wav") && !e->started) {
        static const unsigned char h0[44] = {'R', 'I', 'F', 'F', 0xFF, 0xFF, 0xFF, 0xFF, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ', 16, 0, 0, 0,
                                             1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 16, 0, 'd', 'a', 't', 'a', 0xFF, 0xFF, 0xFF, 0xFF};
        unsigned char h[44];
        memcpy(h, h0, 44);
        const uint32_t r = (uint32_t)e->rate, br = r * 2;
        for (int i = 0; i < 4; i++) h[24 + i] = (unsigned char)(r >> (8 * i)), h[28 + i] = (unsigned char)(br >> (8 * i));
        if (bytes_add(out, h, 44)) return -1;
    }
    e->started = 1;
    if (!strcmp(e->fmt, "wav") || !strcmp(e->fmt, "pcm")) {
        for (size_t i = 0; i < n; i++) {
            const unsigned char le[2] = {(unsigned char)((uint16_t)pcm[i] & 0xFF), (unsigned char)((uint16_t)pcm[i] >> 8)};
            if (bytes_add(out, le, 2)) return -1;
        }
        return 0;
    }
    if (e->lame) {
        for (size_t done = 0; done < n;) {
            const int m = n - done > 65536 ? 65536 : (int)(n - done);
            unsigned char buf[65536 * 5 / 4 + 7200];
            const int k = lame_encode_buffer(e->lame, pcm + done, NULL, m, buf, (int)sizeof buf);
            if (k < 0 || bytes_add(out, buf, (size_t)k)) return -1;
            done += (size_t)m;
        }
        return 0;
    }
    e->sink = out;
    const int rc = ope_encoder_write(e->ope, pcm, (int)n);
    e->sink = NULL;
    return rc == OPE_OK ? 0 : -1;
}

int enc_finish(audio_enc *e, bytes *out) {
    if (e->lame) {
        unsigned char buf[7200];
        const int k = lame_encode_flush(e->lame, buf, (int)sizeof buf);
        return k < 0 || bytes_add(out, buf, (size_t)k) ? -1 : 0;
    }
    if (e->ope) {
        e->sink = out;
        const int rc = ope_encoder_drain(e->ope);
        e->sink = NULL;
        return rc == OPE_OK ? 0 : -1;
    }
    if (!e->started) return enc_push(e, NULL, 0, out);
    return 0;
}

void enc_free(audio_enc *e) {
    if (!e) return;
    if (e->lame) lame_close(e->lame);
    if (e->ope) ope_encoder_destroy(e->ope);
    if (e->com) ope_comments_destroy(e->com);
    free(e);
}
