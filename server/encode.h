/* Audio in the response formats the server offers: wav, pcm (s16le), mp3
 * (libmp3lame), opus (libopusenc, Ogg), whole or pushed chunk by chunk. */
#ifndef SBV2_SERVER_ENCODE_H
#define SBV2_SERVER_ENCODE_H

#include <stddef.h>
#include <stdint.h>

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

int bytes_add(bytes *b, const void *p, size_t n); /* 0 or -1 */
void bytes_free(bytes *b);

/* "audio/wav", ... or NULL for a format the server does not make. */
const char *enc_mime(const char *format);

typedef struct audio_enc audio_enc;
/* A streaming encoder at rate Hz, mono. A WAV stream starts with a header
 * whose sizes say "until the end" (0xFFFFFFFF). NULL on failure. */
audio_enc *enc_new(const char *format, int rate);
int enc_push(audio_enc *e, const int16_t *pcm, size_t n, bytes *out);
int enc_finish(audio_enc *e, bytes *out);
void enc_free(audio_enc *e);

#endif
