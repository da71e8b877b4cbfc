/* 16-bit PCM mono WAV writer. */
#ifndef SBV2_WAV_H
#define SBV2_WAV_H

#include "common.h"

/* Samples are clipped to [-1, 1] and scaled by 32767. */
int wav_write_pcm16(const char *path, const float *samples, size_t n, int sample_rate, sbv2_error *err);

#endif
