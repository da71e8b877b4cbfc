/* What the tests and fuzzers reach of the pipeline beyond the public API (tts.c). */
#ifndef SBV2_PIPELINE_TTS_H
#define SBV2_PIPELINE_TTS_H

#include "common.h"

/* Everything sbv2_tts() checks and prepares before the first model work
 * (parameters, text, speaker and style, given phones and tones, the
 * frontend on every line), then nothing: SBV2_OK or the error sbv2_tts()
 * would give. streaming: as sbv2_tts_stream_start() would. */
int sbv2_tts_validate(sbv2_state *state, const sbv2_frontend *fe, const sbv2_bert *bert, const char *text,
                      const sbv2_tts_params *params, int streaming, sbv2_error *err);

#endif
