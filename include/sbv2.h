/*
 * sbv2.h - Style-Bert-VITS2 text-to-speech in C (public API of libsbv2).
 *
 * Model handle vs. per-request state:
 *   - sbv2_model is loaded once and is immutable afterwards: any number of
 *     threads may use one model at the same time.
 *   - sbv2_state holds one request's working memory; use one state per thread
 *     (a state must not be used by two threads at once).
 *
 * Errors: every fallible call returns an sbv2_status (0 = SBV2_OK, negative =
 * error) or NULL, and fills the optional sbv2_error with a message. The library
 * never prints and never exits.
 *
 * Buffers: the caller owns everything it is handed; buffers allocated by the
 * library are released with sbv2_free().
 */
#ifndef SBV2_H
#define SBV2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SBV2_API __attribute__((visibility("default")))
#define SBV2_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define SBV2_API
#define SBV2_WARN_UNUSED
#endif

#define SBV2_VERSION_STRING "0.1.0"

/* Style vectors are always 256-dimensional; BERT features 1024. */
#define SBV2_STYLE_DIM 256
#define SBV2_BERT_DIM 1024

typedef enum sbv2_status {
    SBV2_OK = 0,
    SBV2_ERR_INVALID_ARGUMENT = -1, /* a bad argument from the caller */
    SBV2_ERR_IO = -2,               /* a file could not be opened/read/written */
    SBV2_ERR_FORMAT = -3,           /* a malformed or inconsistent file */
    SBV2_ERR_NO_MEMORY = -4,        /* an allocation failed */
    SBV2_ERR_UNSUPPORTED = -5,      /* valid, but not supported (yet) */
    SBV2_ERR_NOT_FOUND = -6,        /* a named style/speaker/file does not exist */
    SBV2_ERR_INTERNAL = -7          /* a numerical failure (non-finite values) */
} sbv2_status;

typedef struct sbv2_error {
    int code;           /* an sbv2_status */
    char message[512];  /* NUL-terminated, human readable */
} sbv2_error;

/* Static text for a status code (never NULL). */
SBV2_API const char *sbv2_status_string(int code);
SBV2_API const char *sbv2_version_string(void);
/* The kernel path that runs and the CPU's best, e.g.
 * "kernels=avx2+fma cpu=avx512 openmp=1". The path is the CPU's best unless
 * the environment variable SBV2_ISA (avx512, avx2, generic) caps it. */
SBV2_API const char *sbv2_system_info(void);

typedef enum sbv2_arch {
    SBV2_ARCH_JP_EXTRA = 1,     /* models_jp_extra.py (version "*-JP-Extra") */
    SBV2_ARCH_MULTILINGUAL = 2  /* models.py: bert + ja_bert + en_bert inputs */
} sbv2_arch;

typedef struct sbv2_model sbv2_model;
typedef struct sbv2_state sbv2_state;

/* ---- loading -------------------------------------------------------------- */

/* Loads a model. `path` is either a directory holding config.json,
 * style_vectors.npy and exactly one *.safetensors, or the path of a
 * .safetensors file whose directory holds the other two, or an AivisSpeech
 * .aivm file (weights, hyper-parameters and style vectors in one file; its
 * manifest is checked as aivmlib's schema declares it), or an ONNX file:
 * an .aivmx (the same metadata), SBV2's convert_onnx.py export (config.json
 * and style_vectors.npy beside it) or sbv2c's own export. The format is told
 * by the content, not the name; a directory's .safetensors wins over its
 * .aivm, which wins over ONNX files. Returns NULL on error. */
SBV2_API SBV2_WARN_UNUSED sbv2_model *sbv2_model_load(const char *path, sbv2_error *err);
/* Same, with every file named explicitly. */
SBV2_API SBV2_WARN_UNUSED sbv2_model *sbv2_model_load_files(const char *safetensors_path,
                                                            const char *config_path,
                                                            const char *style_vectors_path,
                                                            sbv2_error *err);
SBV2_API void sbv2_model_free(sbv2_model *model); /* NULL is fine */

typedef struct sbv2_model_info {
    sbv2_arch arch;
    const char *arch_name;     /* "JP-Extra" or "multilingual" */
    const char *version;       /* config.json "version" */
    const char *model_name;    /* config.json "model_name" (may be "") */
    int sampling_rate;
    int hop_length;            /* samples per frame = prod(upsample_rates) */
    int n_vocab, n_tones, n_languages;
    int n_speakers, n_styles;
    int inter_channels, hidden_channels, filter_channels;
    int n_heads, n_layers, kernel_size, gin_channels;
    int n_flow_layers;         /* coupling layers in the flow (4) */
    int n_layers_trans_flow;   /* encoder layers per coupling (6 JP-Extra, 4 older) */
    int upsample_initial_channel;
    int n_upsamples;
    const int *upsample_rates, *upsample_kernel_sizes; /* [n_upsamples] */
    char resblock;             /* '1' or '2' */
    int n_resblock_kernels;
    const int *resblock_kernel_sizes;                   /* [n_resblock_kernels] */
    int64_t n_params;          /* parameters of the inference path */
    int weights_dtype_f16;     /* 1 when the file held F16/BF16 tensors */
} sbv2_model_info;

/* Fills `info`; the pointers inside stay valid while the model lives. */
SBV2_API void sbv2_model_get_info(const sbv2_model *model, sbv2_model_info *info);

SBV2_API int sbv2_model_n_speakers(const sbv2_model *model);
SBV2_API int sbv2_model_n_styles(const sbv2_model *model);
/* Name of speaker/style id `i`, or NULL when that id has no name. */
SBV2_API const char *sbv2_model_speaker_name(const sbv2_model *model, int i);
SBV2_API const char *sbv2_model_style_name(const sbv2_model *model, int i);
/* Id for a name, or -1. */
SBV2_API int sbv2_model_speaker_id(const sbv2_model *model, const char *name);
/* -1 when absent; "Neutral" (SBV2's default style) also finds AivisSpeech's
 * "ノーマル" in a model that has no "Neutral". */
SBV2_API int sbv2_model_style_id(const sbv2_model *model, const char *name);

/* Style vector as SBV2's get_style_vector: mean + (style - mean) * weight,
 * mean = row 0 of style_vectors.npy. */
SBV2_API SBV2_WARN_UNUSED int sbv2_model_style_vector(const sbv2_model *model, int style_id,
                                                      float weight, float out[SBV2_STYLE_DIM],
                                                      sbv2_error *err);

/* ---- inference ------------------------------------------------------------ */

/* One intermediate tensor (float32 or int64, row-major, batch first). */
typedef struct sbv2_tensor_view {
    const char *name;      /* the golden-data names: "enc_x", "logw", "z", ... */
    int is_int64;          /* 1: data is int64_t, 0: float */
    int ndim;
    int64_t shape[4];
    const void *data;
} sbv2_tensor_view;

/* Called for each intermediate when set; returning non-zero aborts inference
 * with SBV2_ERR_INVALID_ARGUMENT ("aborted by callback"). */
typedef int (*sbv2_tensor_callback)(const sbv2_tensor_view *tensor, void *user_data);

typedef struct sbv2_infer_params {
    size_t struct_size;     /* = sizeof(sbv2_infer_params); set by the default */
    /* doubles, as SBV2's Python floats: each is rounded to float32 where SBV2
       multiplies it into a float32 tensor (1 - sdp_ratio is taken in double first) */
    double length_scale;    /* 1.0: speed (larger = slower) */
    double sdp_ratio;       /* 0.2: mix of stochastic (1) vs deterministic (0) durations */
    double noise_scale;     /* 0.6: prior noise */
    double noise_scale_w;   /* 0.8: stochastic duration noise */
    uint64_t seed;          /* the same seed gives the same audio */
    int n_threads;          /* <= 0: one thread */
    sbv2_tensor_callback on_tensor; /* optional, for debugging/parity (slow) */
    void *user_data;
} sbv2_infer_params;

/* SBV2's defaults (server_fastapi.py / tts_model.py). */
SBV2_API sbv2_infer_params sbv2_infer_default_params(void);

/* One utterance, already turned into model inputs (add_blank interspersed). */
typedef struct sbv2_infer_input {
    size_t n_tokens;          /* L >= 1 */
    const int64_t *phone_ids; /* [L] */
    const int64_t *tone_ids;  /* [L] */
    const int64_t *lang_ids;  /* [L] */
    const float *bert;        /* [1024, L]: JP-Extra: Japanese BERT; older arch: zh "bert" */
    const float *ja_bert;     /* [1024, L]: older arch only (NULL = zeros) */
    const float *en_bert;     /* [1024, L]: older arch only (NULL = zeros) */
    const float *style_vec;   /* [256], e.g. from sbv2_model_style_vector() */
    int64_t speaker_id;
    size_t valid_length;      /* x_tst_lengths: 0 means n_tokens */
} sbv2_infer_input;

SBV2_API SBV2_WARN_UNUSED sbv2_state *sbv2_state_new(const sbv2_model *model, sbv2_error *err);
SBV2_API void sbv2_state_free(sbv2_state *state); /* NULL is fine */

/* Runs net_g.infer(). On success *audio (float32 in [-1, 1], at the model's
 * sampling rate) is allocated by the library: release it with sbv2_free(). */
SBV2_API SBV2_WARN_UNUSED int sbv2_infer(sbv2_state *state, const sbv2_infer_input *input,
                                         const sbv2_infer_params *params, float **audio,
                                         size_t *n_samples, sbv2_error *err);

/* ---- ONNX export ------------------------------------------------------------ */

typedef struct sbv2_export_options {
    size_t struct_size;  /* = sizeof(sbv2_export_options); set by the default */
    int aivmx;           /* also write AivisSpeech's AIVMX metadata (aivm_manifest, ...) */
    const char *model_file_name; /* for AIVMX epochs/steps ("name_e100_s2000.safetensors"); may be NULL */
} sbv2_export_options;

SBV2_API sbv2_export_options sbv2_export_default_options(void);

/* Writes the generator's inference path as an ONNX graph (opset 17) with the
 * exact input/output signature of SBV2's convert_onnx.py: inputs x_tst,
 * x_tst_lengths, sid, tones, language, bert (+ ja_bert, en_bert for the older
 * architecture), style_vec, length_scale, sdp_ratio, noise_scale,
 * noise_scale_w; output "output" [batch, 1, samples]. Weights are folded fp32;
 * the noise is drawn inside the graph (RandomNormalLike). The file carries
 * config.json, the style vectors and the speaker/style maps as metadata. */
SBV2_API SBV2_WARN_UNUSED int sbv2_export_onnx(const sbv2_model *model, const char *path,
                                               const sbv2_export_options *options, sbv2_error *err);

/* Writes an AivisSpeech .aivm file: the model's safetensors weights unchanged,
 * with aivm_manifest, aivm_hyper_parameters and aivm_style_vectors in the
 * header's __metadata__, as aivmlib writes them. A model loaded from an .aivm
 * keeps its manifest (names, UUIDs, terms); otherwise one is made from
 * config.json as aivmlib's generate_aivm_metadata() does (model_file_name
 * gives the epochs and steps). sbv2_model_load() reads .aivm files back. */
SBV2_API SBV2_WARN_UNUSED int sbv2_export_aivm(const sbv2_model *model, const char *path,
                                               const sbv2_export_options *options, sbv2_error *err);
/* The AIVM manifest (JSON text) of a model loaded from an .aivm file, else NULL. */
SBV2_API const char *sbv2_model_aivm_manifest(const sbv2_model *model);

/* ---- Japanese text frontend (SBV2's normalize_text + g2p) ----------------- */

typedef struct sbv2_frontend sbv2_frontend; /* immutable; share it between threads */

typedef struct sbv2_frontend_options {
    size_t struct_size;    /* = sizeof(sbv2_frontend_options); set by the default */
    const char *dict_dir;  /* MeCab dictionary of Open JTalk (with a dicrc); NULL = the one
                              this build set up beside the Debian open-jtalk-mecab-naist-jdic */
    const char *user_dict; /* CSV of user words, MeCab/Open JTalk rows as pyopenjtalk and SBV2
                              write them (surface,left_id,right_id,cost,pos,pos1,pos2,pos3,
                              ctype,cform,orig,read,pron,acc/morae,chain_rule); NULL = none */
} sbv2_frontend_options;

SBV2_API sbv2_frontend_options sbv2_frontend_default_options(void);
SBV2_API SBV2_WARN_UNUSED sbv2_frontend *sbv2_frontend_new(const sbv2_frontend_options *options,
                                                           sbv2_error *err);
SBV2_API void sbv2_frontend_free(sbv2_frontend *fe); /* NULL is fine */

/* What SBV2's get_text() computes for Japanese text (add_blank on). Arrays are
 * owned by the result; phone strings are static. */
typedef struct sbv2_g2p_result {
    char *norm_text;          /* normalize_text(text) */
    char *bert_text;          /* the text BERT sees ("".join(sep_text)) */
    size_t n_phones;          /* phones, "_" at both ends */
    const char *const *phones;
    const int *tones;         /* 0/1 per phone */
    size_t n_word2ph;         /* per BERT character, with 1 for each "_" */
    const int *word2ph;
    size_t n_ids;             /* 2 * n_phones + 1: ids with blanks interspersed */
    const int64_t *phone_ids, *tone_ids, *lang_ids;
    const int64_t *word2ph_blank; /* n_word2ph entries: 2*word2ph, +1 on the first */
} sbv2_g2p_result;

/* text: UTF-8 of len bytes. use_jp_extra = 0 maps ん to "n" as the older
 * architecture does. Inputs SBV2 itself rejects (invalid UTF-8, a number of 51
 * or more digits, readings outside the symbol table such as クヮ, ー after an
 * empty word) return SBV2_ERR_INVALID_ARGUMENT with the reason. */
SBV2_API SBV2_WARN_UNUSED int sbv2_g2p(const sbv2_frontend *fe, const char *text, size_t len,
                                       int use_jp_extra, sbv2_g2p_result **result, sbv2_error *err);
SBV2_API void sbv2_g2p_result_free(sbv2_g2p_result *result); /* NULL is fine */

/* ---- BERT features (DeBERTa-v2, as SBV2 computes them) ----------------------- */

typedef struct sbv2_bert sbv2_bert; /* immutable after loading; share it between threads */

/* dir holds config.json and vocab.txt as SBV2 downloads them
 * (bert/deberta-v2-large-japanese-char-wwm); weights: a model.safetensors or
 * pytorch_model.bin path, or NULL for dir's (model.safetensors first). F32,
 * F16 and BF16 weights are computed in fp32. Only the layers SBV2 reads
 * (all but the last two) are loaded. */
SBV2_API SBV2_WARN_UNUSED sbv2_bert *sbv2_bert_load(const char *dir, const char *weights, sbv2_error *err);
SBV2_API void sbv2_bert_free(sbv2_bert *bert); /* NULL is fine */
SBV2_API size_t sbv2_bert_hidden_size(const sbv2_bert *bert);
/* Token ids as SBV2's tokenizer gives them ([CLS] ... [SEP]); *ids: sbv2_free. */
SBV2_API SBV2_WARN_UNUSED int sbv2_bert_tokenize(const sbv2_bert *bert, const char *text, size_t len, int64_t **ids,
                                                 size_t *n_ids, sbv2_error *err);
/* hidden_states[-3] for the ids: *state [n_ids][hidden] (sbv2_free). */
SBV2_API SBV2_WARN_UNUSED int sbv2_bert_hidden(const sbv2_bert *bert, const int64_t *ids, size_t n_ids, int n_threads,
                                               float **state, sbv2_error *err);
/* SBV2's extract_bert_feature: the text's state, row i repeated word2ph[i]
 * times (word2ph as g2p gives it after add_blank; n_word2ph must equal the
 * token count), blended with the mean state of assist_text by assist_weight
 * when assist_text is non-empty. *feature [hidden][*n_phones] (sbv2_free). */
SBV2_API SBV2_WARN_UNUSED int sbv2_bert_feature(const sbv2_bert *bert, const char *text, size_t len, const int *word2ph,
                                                size_t n_word2ph, const char *assist_text, float assist_weight,
                                                int n_threads, float **feature, size_t *n_phones, sbv2_error *err);

/* The ONNX graph SBV2's convert_bert_onnx.py makes (before its fp16 step):
 * inputs input_ids and attention_mask (int64 [batch_size, sequence_length]),
 * output "output" = hidden_states[-3] of batch 0 ([sequence_length, hidden]). */
SBV2_API SBV2_WARN_UNUSED int sbv2_bert_export_onnx(const sbv2_bert *bert, const char *path, sbv2_error *err);

/* ---- text to speech: SBV2's TTSModel.infer() ----------------------------------- */

/* Every parameter of TTSModel.infer(), with SBV2's defaults
 * (style_bert_vits2/constants.py). Scalars are doubles, as SBV2's are Python
 * floats; they are rounded to float32 where SBV2 multiplies them into
 * float32 tensors. */
typedef struct sbv2_tts_params {
    size_t struct_size;        /* = sizeof(sbv2_tts_params); set by the default */
    const char *language;      /* "JP" (NULL = "JP"); any other: SBV2_ERR_UNSUPPORTED */
    int speaker_id;            /* 0 */
    const char *speaker;       /* a spk2id name; when set it wins over speaker_id (NULL) */
    const char *style;         /* "Neutral": a style2id name; NULL = use style_id */
    int style_id;              /* used when style is NULL (0) */
    double style_weight;       /* 1.0: mean + (style - mean) * weight */
    double sdp_ratio;          /* 0.2 */
    double noise;              /* 0.6: noise_scale */
    double noise_w;            /* 0.8: noise_scale_w */
    double length;             /* 1.0: length_scale (larger = slower) */
    int line_split;            /* 1: synthesise each "\n"-separated line alone */
    double split_interval;     /* 0.5: seconds of silence between lines, as
                                  int(44100 * split_interval) samples whatever the
                                  model's rate (SBV2 hard-codes 44100) */
    const char *assist_text;   /* NULL; used only when use_assist_text and non-empty */
    double assist_text_weight; /* 1.0 (constants.py assigns 0.7, then 1.0) */
    int use_assist_text;       /* 0 */
    /* given_phone / given_tone: SBV2's phones ("_" at both ends, no blanks) and
       tones (0/1). Used only when line_split is 0, and given_phone only together
       with given_tone (given_tone alone replaces the tones), as in SBV2. */
    const char *const *given_phone;
    size_t n_given_phone;      /* 0 = not given */
    const int *given_tone;
    size_t n_given_tone;       /* 0 = not given */
    double pitch_scale;        /* 1.0; other values (pyworld) are SBV2_ERR_UNSUPPORTED */
    double intonation_scale;   /* 1.0; likewise */
    size_t max_chars;          /* longest accepted text in characters (5000; 0 = no limit) */
    /* Long lines split at sentence ends: a line of more than sentence_chars
       characters is synthesised sentence by sentence (cut after each run of
       。！？!?．.), with no pause added between its sentences, so memory stays
       bounded. SBV2 does not do this: -1 (default) = on for streams, off for
       sbv2_tts(); 1 = on; 0 = off. Never applied with given_phone/given_tone. */
    int split_sentences;
    size_t sentence_chars;     /* 100 */
    /* Streams: the decoder runs in windows of frames (hop samples each), the
       first stream_first_frames long (8, ~0.1 s at 44.1 kHz), each next one
       twice the last up to stream_max_frames (256): the audio already handed
       out covers the time the next window takes. */
    int stream_first_frames;
    int stream_max_frames;
    uint64_t seed;             /* line k draws its noise from seed + k */
    int n_threads;             /* <= 0: one thread (BERT and generator) */
} sbv2_tts_params;

SBV2_API sbv2_tts_params sbv2_tts_default_params(void);
/* The checks sbv2_tts() makes of the parameters alone (ranges, NaN, the
 * language, window sizes), for callers that validate before any work. */
SBV2_API SBV2_WARN_UNUSED int sbv2_tts_check_params(const sbv2_tts_params *params, sbv2_error *err);

typedef enum sbv2_span_kind {
    SBV2_SPAN_PHONE = 0, /* a phone of the text (the "_" at each line's ends included) */
    SBV2_SPAN_BLANK = 1, /* the blank add_blank puts between phones */
    SBV2_SPAN_PAUSE = 2  /* the silence line_split puts between two lines */
} sbv2_span_kind;

/* One stretch of the audio. The spans tile [0, n_samples) in order, so their
 * n_samples add up to the audio's length. */
typedef struct sbv2_span {
    int kind;             /* sbv2_span_kind */
    const char *phone;    /* SBV2's symbol ("_" for blanks, "" for pauses) */
    int tone;             /* 0/1 as g2p gives it (-1 for pauses) */
    int line;             /* index into sbv2_tts_result.lines (the line before, for pauses) */
    int char_index;       /* the character of the line's bert_text the BERT feature came
                             from (code points from 0); -1 for [CLS]/[SEP] and pauses */
    int64_t first_sample; /* durations (ceil(w) frames) x hop length */
    int64_t n_samples;
} sbv2_span;

typedef struct sbv2_tts_line {
    const char *text;      /* the line as given to the frontend */
    const char *norm_text; /* normalize_text(text) */
    const char *bert_text; /* what the BERT tokenizer saw */
    int64_t first_sample, n_samples;
    size_t first_span, n_spans;
} sbv2_tts_line;

typedef struct sbv2_tts_result {
    int sampling_rate;      /* the model's */
    size_t n_samples;
    const float *audio;     /* float32, lines joined with their silences: what
                               TTSModel.infer holds before convert_to_16_bit_wav */
    const int16_t *pcm16;   /* what TTSModel.infer returns: audio / max|audio| * 32767,
                               truncated toward zero (float32 for one line, float64 for
                               several, as numpy's types fall); all-zero audio gives zeros */
    size_t n_spans;
    const sbv2_span *spans;
    size_t n_lines;
    const sbv2_tts_line *lines;
    double seconds_g2p, seconds_bert, seconds_generator; /* wall time per stage */
} sbv2_tts_result;

/* Text in, audio out: normalize_text -> g2p -> BERT feature -> net_g.infer
 * per line, lines joined, int16 conversion, as TTSModel.infer() does it.
 * state is the model's (sbv2_state_new); fe and bert are shared, immutable
 * objects (one BERT serves every model). params NULL = the defaults. On
 * success *result is the library's: release it with sbv2_tts_result_free(). */
SBV2_API SBV2_WARN_UNUSED int sbv2_tts(sbv2_state *state, const sbv2_frontend *fe, const sbv2_bert *bert,
                                       const char *text, const sbv2_tts_params *params,
                                       sbv2_tts_result **result, sbv2_error *err);
SBV2_API void sbv2_tts_result_free(sbv2_tts_result *result); /* NULL is fine */

/* ---- streaming: the first audio long before the last ------------------------ */

/* A streamed synthesis of one text: each line's text encoder, durations and
 * flow run once (the flow attends over the whole line), then its decoder runs
 * window by window with enough context each side that the chunks joined equal
 * sbv2_tts()'s float audio (within 1e-5; rounding differs). Between lines come
 * pause chunks as in sbv2_tts(). The stream uses the state exclusively until
 * it is freed; fe and bert stay shared. */
typedef struct sbv2_tts_stream sbv2_tts_stream;

typedef struct sbv2_tts_chunk {
    const float *samples;     /* float audio, as sbv2_tts_result.audio */
    const int16_t *pcm16;     /* samples clipped to [-1, 1] times 32767, rounded: a stream
                                 cannot know the whole utterance's peak, so this is NOT
                                 SBV2's peak normalisation (sbv2_tts() keeps that) */
    size_t n_samples;
    int64_t first_sample;     /* offset of samples[0] in the whole stream */
    int line;                 /* the line (sbv2_tts_stream_line) it belongs to */
    const sbv2_span *spans;   /* the spans that start in this chunk (alignment, in order) */
    size_t n_spans;
    int is_last;              /* 1: nothing follows */
} sbv2_tts_chunk;

/* Starts a stream: every line goes through the frontend first, so bad text
 * fails here; no audio is made yet. text and params are copied. */
SBV2_API SBV2_WARN_UNUSED int sbv2_tts_stream_start(sbv2_state *state, const sbv2_frontend *fe, const sbv2_bert *bert,
                                                    const char *text, const sbv2_tts_params *params,
                                                    sbv2_tts_stream **stream, sbv2_error *err);
/* Makes the next chunk. Its memory belongs to the stream and stays valid
 * until the next call or sbv2_tts_stream_free(); spans stay valid until the
 * free. After the chunk with is_last, or after an error, further calls fail. */
SBV2_API SBV2_WARN_UNUSED int sbv2_tts_stream_next(sbv2_tts_stream *stream, sbv2_tts_chunk *chunk, sbv2_error *err);
/* Line i of the stream (texts always; first_sample/n_samples once its first
 * chunk came out), or NULL past the end. */
SBV2_API const sbv2_tts_line *sbv2_tts_stream_line(const sbv2_tts_stream *stream, size_t i);
SBV2_API size_t sbv2_tts_stream_n_lines(const sbv2_tts_stream *stream);
/* Cancels (at any point) and releases the stream. NULL is fine. */
SBV2_API void sbv2_tts_stream_free(sbv2_tts_stream *stream);

/* A RIFF WAVE file (PCM 16-bit mono) of the samples, in memory: *bytes
 * (sbv2_free) holds *n_bytes = 44 + 2 * n_samples bytes. */
SBV2_API SBV2_WARN_UNUSED int sbv2_wav_encode(const int16_t *pcm, size_t n_samples, int sampling_rate, void **bytes,
                                              size_t *n_bytes, sbv2_error *err);

SBV2_API void sbv2_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* SBV2_H */
