/* Text-to-speech parameter validation: sbv2_tts_check_params, then all that
 * sbv2_tts() checks before the first model work (sbv2_tts_validate: text,
 * speaker, style, given phones and tones, the frontend on every line) on the
 * golden tiny JP-Extra model. Every field comes from the input: doubles as
 * raw bit patterns, names from a short list or raw bytes. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "pipeline/tts.h"
#include "sbv2.h"

static sbv2_model *model;
static sbv2_state *state;
static sbv2_frontend *fe;
static sbv2_bert *bert;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    sbv2_error err = {0};
    sbv2_frontend_options o = sbv2_frontend_default_options();
    if (!(model = sbv2_model_load(SBV2_GOLDEN_DIR "/netg/tiny-jp-extra/model.safetensors", &err)) ||
        !(state = sbv2_state_new(model, &err)) || !(fe = sbv2_frontend_new(&o, &err)) ||
        !(bert = sbv2_bert_load(SBV2_GOLDEN_DIR "/tts/bert", NULL, &err))) {
        fprintf(stderr, "fuzz_tts_params: %s\n", err.message);
        exit(1);
    }
    return 0;
}

static const char *pick(fz_in *in, char *buf, size_t max, const char *const *names, int n) {
    const int k = fz_u8(in);
    if (k < n) return names[k];
    if (k == 255) return NULL;
    return fz_str(in, buf, max);
}

static double num(fz_in *in, double dflt) {
    const int k = fz_u8(in) & 3;
    return k == 0 ? dflt : k == 1 ? (double)(int8_t)fz_u8(in) / 16.0 : fz_f64(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in = {data, size};
    static const char *const langs[] = {"JP", "EN", "ZH", ""}, *const styles[] = {"Neutral", "neutral", ""};
    static const char *const phones[] = {"_", "a", "k", "N", "n", "i", "kw", "?", "!", "pau", ""};
    char b_lang[17], b_spk[17], b_sty[17], b_text[201], b_assist[33], b_ph[16][5];
    sbv2_tts_params p = sbv2_tts_default_params();
    const uint32_t sel = fz_u32(&in); /* which fields differ from the defaults */
    if (sel & 1) p.language = pick(&in, b_lang, 16, langs, 4);
    if (sel & 2) p.speaker_id = (int)fz_u32(&in);
    if (sel & 4) p.speaker = pick(&in, b_spk, 16, (const char *const[]){""}, 0);
    if (sel & 8) p.style = pick(&in, b_sty, 16, styles, 3);
    if (sel & 16) p.style_id = (int)fz_u32(&in);
    if (sel & 32) p.style_weight = num(&in, 1.0);
    if (sel & 64) p.sdp_ratio = num(&in, 0.2);
    if (sel & 128) p.noise = num(&in, 0.6);
    if (sel & 256) p.noise_w = num(&in, 0.8);
    if (sel & 512) p.length = num(&in, 1.0);
    if (sel & 1024) p.line_split = fz_u8(&in) & 1;
    if (sel & 2048) p.split_interval = num(&in, 0.5);
    if (sel & 4096) p.assist_text = fz_str(&in, b_assist, 32), p.use_assist_text = 1;
    if (sel & 8192) p.assist_text_weight = num(&in, 1.0);
    if (sel & 16384) p.pitch_scale = num(&in, 1.0);
    if (sel & 32768) p.intonation_scale = num(&in, 1.0);
    if (sel & 65536) p.max_chars = fz_u8(&in);
    if (sel & 131072) p.split_sentences = (int8_t)fz_u8(&in);
    if (sel & 262144) p.sentence_chars = fz_u8(&in);
    if (sel & 524288) p.stream_first_frames = (int)fz_u32(&in);
    if (sel & 1048576) p.stream_max_frames = (int)fz_u32(&in);
    if (sel & 2097152) p.seed = (uint64_t)fz_u32(&in) << 32 | fz_u32(&in);
    if (sel & 4194304) p.struct_size = fz_u8(&in);
    const char *gp[16];
    int gt[16];
    if (sel & 8388608) { /* given phones and tones, lengths independent */
        const size_t np = fz_u8(&in) % 17, nt = fz_u8(&in) % 17;
        for (size_t i = 0; i < np; i++) gp[i] = pick(&in, b_ph[i], 4, phones, 11);
        for (size_t i = 0; i < nt; i++) gt[i] = (int8_t)fz_u8(&in);
        for (size_t i = 0; i < np; i++)
            if (!gp[i]) gp[i] = "_"; /* a NULL phone is a caller's bug the API does not promise to catch */
        p.given_phone = gp, p.n_given_phone = np, p.given_tone = gt, p.n_given_tone = nt;
    }
    fz_str(&in, b_text, 200);
    const int streaming = (sel >> 31) & 1;
    sbv2_error err = {0};
    const int rc = sbv2_tts_check_params(&p, &err);
    const int rv = sbv2_tts_validate(state, fe, bert, b_text, &p, streaming, &err);
    if (rc != 0 && rv == 0 && p.struct_size == sizeof p) abort(); /* the full check passed what check_params refused */
    return 0;
}
