/* sbv2 say MODEL [TEXT]: Japanese text to speech, as SBV2's TTSModel.infer(). */
#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sbv2.h"
#include "cli.h"

static const char k_usage[] =
    "usage: sbv2 say MODEL [TEXT] -o OUT.wav [options]\n"
    "  Speaks Japanese TEXT (or --text-file F, or stdin) with the model, exactly as\n"
    "  Style-Bert-VITS2's TTSModel.infer(): normalise, g2p, BERT, net_g, lines joined.\n"
    "  MODEL: a folder with config.json, style_vectors.npy and one .safetensors (or an\n"
    "  SBV2 .onnx), a .safetensors file beside them, or an AivisSpeech .aivm/.aivmx file.\n"
    "\n"
    "  -o, --output PATH       where the audio goes; - = stdout\n"
    "  --format wav|raw|f32    wav (default): SBV2's int16 in a RIFF file; raw: the same\n"
    "                          int16 as s16le; f32: the float samples before the int16 step\n"
    "  --text-file PATH        read the text from a file (- = stdin); one final newline is dropped\n"
    "  --bert DIR              the BERT folder (deberta-v2-large-japanese-char-wwm); default:\n"
    "                          $SBV2_BERT_DIR, else bert/deberta-v2-large-japanese-char-wwm in\n"
    "                          a folder above the model (SBV2's layout beside model_assets/)\n"
    "  --speaker NAME|ID       speaker (default 0)\n"
    "  --style NAME|ID         style (default Neutral)\n"
    "  --style-weight W        1.0\n"
    "  --sdp-ratio R           0.2\n"
    "  --noise N               0.6\n"
    "  --noise-w N             0.8\n"
    "  --length L              1.0 (larger = slower)\n"
    "  --no-line-split         synthesise the whole text at once (default: line by line)\n"
    "  --split-interval S      seconds of silence between lines (0.5), as int(44100 * S)\n"
    "                          samples whatever the model's rate, as SBV2 does\n"
    "  --assist-text T         text whose BERT mean is blended in (SBV2's use_assist_text)\n"
    "  --assist-text-weight W  1.0\n"
    "  --given-phones \"P ...\"  SBV2's phones, \"_\" at both ends (needs --no-line-split)\n"
    "  --given-tones \"T ...\"   their tones, 0/1 (needs --no-line-split)\n"
    "  --seed N                noise seed (line k uses N + k); the same seed, the same audio\n"
    "  --threads N             threads for the BERT and the generator (default 1)\n"
    "  --alignment PATH        per-phone timings as JSON (see the README)\n"
    "  --max-chars N           refuse longer texts (5000; 0 = no limit)\n"
    "  --user-dict CSV         Open JTalk user dictionary rows (as SBV2 writes them)\n"
    "  --dict-dir DIR          the Open JTalk MeCab dictionary (default: the one built in)\n"
    "  -q, --quiet             no report on stderr\n"
    "  --stream                write audio as it is made (default -o -, --format raw), e.g.\n"
    "                          sbv2 say --stream MODEL \"...\" | aplay -f S16_LE -r 44100 -c 1\n"
    "                          int16 is the float clipped to [-1, 1] times 32767 (a stream cannot\n"
    "                          know the peak SBV2 normalises by); long lines are cut at sentence ends\n"
    "  --first-frames N        first streamed window in frames (8), doubling up to --max-frames (256)\n"
    "  --split-sentences       also cut lines longer than --sentence-chars (100) at sentence ends\n"
    "                          without --stream (SBV2 does not); --no-split-sentences: never\n";

static volatile sig_atomic_t g_stop; /* SIGINT/SIGTERM: stop between chunks */
static void on_signal(int sig) { g_stop = sig; }

static int parse_num(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno) return 0;
    *out = v;
    return 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *read_all(FILE *f) {
    size_t cap = 1 << 12, n = 0, r;
    char *b = malloc(cap);
    while (b && (r = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            char *q = realloc(b, cap *= 2);
            if (!q) free(b);
            b = q;
        }
    }
    if (!b) return NULL;
    if (n && b[n - 1] == '\n') n--; /* the file's final newline */
    if (n && b[n - 1] == '\r') n--;
    b[n] = '\0';
    if (strlen(b) != n) { /* a NUL inside: not text */
        free(b);
        return NULL;
    }
    return b;
}

static int is_dir_with_config(const char *dir) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/config.json", dir);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* --bert, $SBV2_BERT_DIR, then SBV2's layout: bert/<name> in a folder above
 * the model. looked gets every place tried. */
static const char *find_bert(const char *opt, const char *model, char *buf, size_t cap, char *looked, size_t lcap) {
    looked[0] = '\0';
    const char *env = getenv("SBV2_BERT_DIR");
    if (opt) {
        snprintf(looked, lcap, "  %s (--bert)\n", opt);
        return is_dir_with_config(opt) ? opt : NULL;
    }
    if (env && *env) {
        snprintf(looked + strlen(looked), lcap - strlen(looked), "  %s ($SBV2_BERT_DIR)\n", env);
        if (is_dir_with_config(env)) return env;
    }
    char dir[4096];
    struct stat st;
    snprintf(dir, sizeof dir, "%s", model);
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) { /* a .safetensors path: its folder */
        char *sl = strrchr(dir, '/');
        if (sl) *sl = '\0';
        else snprintf(dir, sizeof dir, ".");
    }
    char abs[4096];
    if (!realpath(dir, abs)) snprintf(abs, sizeof abs, "%s", dir);
    for (int up = 0; up < 3; up++) {
        char *sl = strrchr(abs, '/');
        if (!sl) break;
        if (sl == abs) sl[1] = '\0';
        else *sl = '\0';
        snprintf(buf, cap, "%s%sbert/deberta-v2-large-japanese-char-wwm", abs, strcmp(abs, "/") ? "/" : "");
        snprintf(looked + strlen(looked), lcap - strlen(looked), "  %s\n", buf);
        if (is_dir_with_config(buf)) return buf;
        if (!strcmp(abs, "/")) break;
    }
    return NULL;
}

/* "a b c" -> strings / ints; returns the count, or (size_t)-1 on a bad entry. */
static size_t split_words(char *s, char ***out) {
    size_t n = 0, cap = 16;
    char **v = malloc(sizeof *v * cap);
    for (char *t = strtok(s, " \t,"); v && t; t = strtok(NULL, " \t,")) {
        if (n == cap) {
            char **q = realloc(v, sizeof *v * (cap *= 2));
            if (!q) { free(v); return (size_t)-1; }
            v = q;
        }
        v[n++] = t;
    }
    if (!v) return (size_t)-1;
    *out = v;
    return n;
}

/* The samples in the chosen format (little-endian). */
static int write_samples(FILE *of, const char *fmt, const float *audio, const int16_t *pcm, size_t n) {
    unsigned char b[4096];
    size_t k = 0;
    const int f32 = !strcmp(fmt, "f32");
    for (size_t i = 0; i < n; i++) {
        if (f32) {
            uint32_t w;
            memcpy(&w, &audio[i], 4);
            b[k++] = (unsigned char)w, b[k++] = (unsigned char)(w >> 8), b[k++] = (unsigned char)(w >> 16), b[k++] = (unsigned char)(w >> 24);
        } else {
            const uint16_t s = (uint16_t)pcm[i];
            b[k++] = (unsigned char)(s & 0xFF), b[k++] = (unsigned char)(s >> 8);
        }
        if (k == sizeof b || i + 1 == n) {
            if (fwrite(b, 1, k, of) != k) return -1;
            k = 0;
        }
    }
    return 0;
}

static int write_alignment(const char *path, const sbv2_tts_result *r) {
    cJSON *root = cJSON_CreateObject(), *lines = cJSON_AddArrayToObject(root, "lines"), *spans = cJSON_AddArrayToObject(root, "spans");
    cJSON_AddNumberToObject(root, "sampling_rate", r->sampling_rate);
    cJSON_AddNumberToObject(root, "samples", (double)r->n_samples);
    for (size_t i = 0; i < r->n_lines; i++) {
        const sbv2_tts_line *l = &r->lines[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "text", l->text);
        cJSON_AddStringToObject(o, "norm_text", l->norm_text);
        cJSON_AddStringToObject(o, "bert_text", l->bert_text);
        cJSON_AddNumberToObject(o, "first_sample", (double)l->first_sample);
        cJSON_AddNumberToObject(o, "n_samples", (double)l->n_samples);
        cJSON_AddNumberToObject(o, "first_span", (double)l->first_span);
        cJSON_AddNumberToObject(o, "n_spans", (double)l->n_spans);
        cJSON_AddItemToArray(lines, o);
    }
    static const char *kinds[] = {"phone", "blank", "pause"};
    for (size_t i = 0; i < r->n_spans; i++) {
        const sbv2_span *s = &r->spans[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", kinds[s->kind]);
        cJSON_AddStringToObject(o, "phone", s->phone);
        cJSON_AddNumberToObject(o, "tone", s->tone);
        cJSON_AddNumberToObject(o, "line", s->line);
        cJSON_AddNumberToObject(o, "char", s->char_index);
        cJSON_AddNumberToObject(o, "first_sample", (double)s->first_sample);
        cJSON_AddNumberToObject(o, "n_samples", (double)s->n_samples);
        cJSON_AddItemToArray(spans, o);
    }
    char *txt = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    FILE *f = txt ? fopen(path, "wb") : NULL;
    int ok = f && fputs(txt, f) >= 0 && fputc('\n', f) != EOF;
    if (f) ok = fclose(f) == 0 && ok;
    free(txt);
    return ok ? 0 : -1;
}

/* --stream: chunks go out as they are made. A closed pipe ends the job
 * quietly (exit 0); SIGINT/SIGTERM stop it between chunks. */
static int say_stream(sbv2_state *st, const sbv2_frontend *fe, const sbv2_bert *b, const char *text, const sbv2_tts_params *p,
                      int rate, const char *out, const char *fmt, const char *align, int quiet, double load_s) {
    sbv2_error err = {0};
    const double t0 = now_s();
    sbv2_tts_stream *s = NULL;
    if (sbv2_tts_stream_start(st, fe, b, text, p, &s, &err) != SBV2_OK) {
        fprintf(stderr, "sbv2 say: %s\n", err.message);
        return 1;
    }
    FILE *of = strcmp(out, "-") ? fopen(out, "wb") : stdout;
    if (!of) {
        fprintf(stderr, "sbv2 say: cannot write %s: %s\n", out, strerror(errno));
        sbv2_tts_stream_free(s);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    const int is_wav = !strcmp(fmt, "wav");
    int rc = 0, broken = 0;
    size_t total = 0, n_spans = 0, cap = 0, chunks = 0;
    sbv2_span *spans = NULL;
    double ttfa = 0;
    for (int last = 0; !last;) {
        if (g_stop) break;
        sbv2_tts_chunk c;
        if (sbv2_tts_stream_next(s, &c, &err) != SBV2_OK) {
            fprintf(stderr, "sbv2 say: %s\n", err.message);
            rc = 1;
            break;
        }
        last = c.is_last;
        if (!chunks++) ttfa = now_s() - t0;
        if (is_wav && total == 0 && chunks == 1) { /* length unknown: the sizes say "to the end" */
            void *h = NULL;
            size_t hn = 0;
            if (sbv2_wav_encode(NULL, 0, rate, &h, &hn, &err) != SBV2_OK) { rc = 1; break; }
            unsigned char *hb = h;
            memset(hb + 4, 0xFF, 4), memset(hb + 40, 0xFF, 4);
            broken = fwrite(hb, 1, hn, of) != hn;
            sbv2_free(h);
        }
        if (!broken) broken = write_samples(of, fmt, c.samples, c.pcm16, c.n_samples) != 0 || fflush(of) != 0;
        if (broken) break;
        total += c.n_samples;
        if (align && c.n_spans) {
            if (n_spans + c.n_spans > cap) {
                sbv2_span *q = realloc(spans, sizeof *spans * (cap = 2 * (n_spans + c.n_spans)));
                if (!q) { fprintf(stderr, "sbv2 say: out of memory\n"); rc = 1; break; }
                spans = q;
            }
            memcpy(spans + n_spans, c.spans, sizeof *spans * c.n_spans);
            n_spans += c.n_spans;
        }
    }
    const double t_all = now_s() - t0;
    if (is_wav && !broken && of != stdout && rc == 0 && !g_stop && fseek(of, 0, SEEK_SET) == 0) { /* a file: the real sizes */
        const uint32_t data = (uint32_t)(2 * total), riff = 36 + data;
        const unsigned char r4[4] = {(unsigned char)riff, (unsigned char)(riff >> 8), (unsigned char)(riff >> 16), (unsigned char)(riff >> 24)};
        const unsigned char d4[4] = {(unsigned char)data, (unsigned char)(data >> 8), (unsigned char)(data >> 16), (unsigned char)(data >> 24)};
        fseek(of, 4, SEEK_SET), fwrite(r4, 1, 4, of), fseek(of, 40, SEEK_SET), fwrite(d4, 1, 4, of);
    }
    if ((of == stdout ? fflush(of) : fclose(of)) != 0 && !broken) rc = 1;
    if (broken && errno != EPIPE) {
        fprintf(stderr, "sbv2 say: writing %s failed: %s\n", out, strerror(errno));
        rc = 1;
    }
    if (rc == 0 && !broken && !g_stop && align) {
        sbv2_tts_result r;
        memset(&r, 0, sizeof r);
        const size_t nl = sbv2_tts_stream_n_lines(s);
        sbv2_tts_line *lines = calloc(nl ? nl : 1, sizeof *lines);
        for (size_t i = 0; lines && i < nl; i++) lines[i] = *sbv2_tts_stream_line(s, i);
        r.sampling_rate = rate, r.n_samples = total, r.spans = spans, r.n_spans = n_spans, r.lines = lines, r.n_lines = nl;
        if (!lines || write_alignment(align, &r) != 0) { fprintf(stderr, "sbv2 say: cannot write %s\n", align); rc = 1; }
        free(lines);
    }
    if (!quiet) {
        const double audio_s = (double)total / rate;
        fprintf(stderr, "sbv2 say: loaded in %.2f s; streamed %.2f s of audio in %zu chunks; first audio after %.3f s, "
                        "all after %.3f s (real-time factor %.3f)%s\n",
                load_s, audio_s, chunks, ttfa, t_all, audio_s > 0 ? t_all / audio_s : 0.0,
                g_stop ? " - stopped by a signal" : broken ? " - the reader closed the pipe" : "");
    }
    free(spans);
    sbv2_tts_stream_free(s);
    if (g_stop) return 128 + g_stop;
    return rc;
}

int cmd_say(int argc, char **argv) {
    const char *model_path = NULL, *text = NULL, *text_file = NULL, *out = NULL, *fmt = "wav", *bert_opt = NULL;
    const char *spk = NULL, *sty = NULL, *align = NULL, *user_dict = NULL, *dict_dir = NULL;
    char *phones_s = NULL, *tones_s = NULL;
    int quiet = 0, stream = 0, fmt_set = 0;
    sbv2_tts_params p = sbv2_tts_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1, takes = 1;
        uint64_t u = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(k_usage, stdout); return 0; }
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) quiet = 1, takes = 0;
        else if (!strcmp(a, "--no-line-split")) p.line_split = 0, takes = 0;
        else if (!strcmp(a, "--stream")) stream = 1, takes = 0;
        else if (!strcmp(a, "--split-sentences")) p.split_sentences = 1, takes = 0;
        else if (!strcmp(a, "--no-split-sentences")) p.split_sentences = 0, takes = 0;
        else if (!v && a[0] == '-' && a[1]) ok = 0;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--format")) fmt = v, fmt_set = 1, ok = !strcmp(v, "wav") || !strcmp(v, "raw") || !strcmp(v, "f32");
        else if (!strcmp(a, "--first-frames")) ok = cli_parse_u64(v, &u) && u >= 1 && u <= (1u << 24), p.stream_first_frames = (int)u;
        else if (!strcmp(a, "--max-frames")) ok = cli_parse_u64(v, &u) && u >= 1 && u <= (1u << 24), p.stream_max_frames = (int)u;
        else if (!strcmp(a, "--sentence-chars")) ok = cli_parse_u64(v, &u) && u >= 1 && u <= (1u << 30), p.sentence_chars = (size_t)u;
        else if (!strcmp(a, "--text-file")) text_file = v;
        else if (!strcmp(a, "--bert")) bert_opt = v;
        else if (!strcmp(a, "--speaker")) spk = v;
        else if (!strcmp(a, "--style")) sty = v;
        else if (!strcmp(a, "--style-weight")) ok = parse_num(v, &p.style_weight);
        else if (!strcmp(a, "--sdp-ratio")) ok = parse_num(v, &p.sdp_ratio);
        else if (!strcmp(a, "--noise")) ok = parse_num(v, &p.noise);
        else if (!strcmp(a, "--noise-w")) ok = parse_num(v, &p.noise_w);
        else if (!strcmp(a, "--length")) ok = parse_num(v, &p.length);
        else if (!strcmp(a, "--split-interval")) ok = parse_num(v, &p.split_interval);
        else if (!strcmp(a, "--assist-text")) p.assist_text = v, p.use_assist_text = 1;
        else if (!strcmp(a, "--assist-text-weight")) ok = parse_num(v, &p.assist_text_weight);
        else if (!strcmp(a, "--given-phones")) free(phones_s), phones_s = strdup(v);
        else if (!strcmp(a, "--given-tones")) free(tones_s), tones_s = strdup(v);
        else if (!strcmp(a, "--seed")) ok = cli_parse_u64(v, &p.seed);
        else if (!strcmp(a, "--threads")) ok = cli_parse_u64(v, &u) && u >= 1 && u <= 1024, p.n_threads = (int)u;
        else if (!strcmp(a, "--alignment")) align = v;
        else if (!strcmp(a, "--max-chars")) ok = cli_parse_u64(v, &u) && u <= ((uint64_t)1 << 30), p.max_chars = (size_t)u;
        else if (!strcmp(a, "--user-dict")) user_dict = v;
        else if (!strcmp(a, "--dict-dir")) dict_dir = v;
        else if (a[0] == '-' && a[1]) ok = 0;
        else if (!model_path) model_path = a, takes = 0;
        else if (!text) text = a, takes = 0;
        else ok = 0, takes = 0;
        if (!ok) {
            fprintf(stderr, "sbv2 say: bad or unknown argument %s%s%s\n\n%s", a, takes && v ? " " : "", takes && v ? v : "", k_usage);
            free(phones_s), free(tones_s);
            return 2;
        }
        i += takes;
    }
    if (stream && !out) out = "-";
    if (stream && !fmt_set) fmt = "raw";
    if (!model_path || !out) {
        fprintf(stderr, "sbv2 say: %s\n\n%s", !model_path ? "MODEL is missing" : "-o OUT is missing (- for stdout)", k_usage);
        free(phones_s), free(tones_s);
        return 2;
    }
    if (text && text_file) {
        fprintf(stderr, "sbv2 say: give the text either as an argument or with --text-file, not both\n");
        free(phones_s), free(tones_s);
        return 2;
    }
    int rc = 1;
    char *owned = NULL, **gp = NULL, **gt_s = NULL;
    int *gt = NULL;
    sbv2_model *m = NULL;
    sbv2_bert *b = NULL;
    sbv2_frontend *fe = NULL;
    sbv2_state *st = NULL;
    sbv2_tts_result *res = NULL;
    void *wav = NULL;
    sbv2_error err = {0};
    if (!text) {
        FILE *f = !text_file || !strcmp(text_file, "-") ? stdin : fopen(text_file, "rb");
        if (!f) { fprintf(stderr, "sbv2 say: cannot open %s: %s\n", text_file, strerror(errno)); goto done; }
        if (f == stdin && isatty(0) && !quiet) fprintf(stderr, "sbv2 say: reading the text from stdin (end with Ctrl-D)\n");
        owned = read_all(f);
        if (f != stdin) fclose(f);
        if (!owned) { fprintf(stderr, "sbv2 say: cannot read the text (out of memory, or a NUL byte in it)\n"); goto done; }
        text = owned;
    }
    if (phones_s) {
        size_t n = split_words(phones_s, &gp);
        if (n == (size_t)-1) { fprintf(stderr, "sbv2 say: out of memory\n"); goto done; }
        p.given_phone = (const char *const *)gp, p.n_given_phone = n;
    }
    if (tones_s) {
        size_t n = split_words(tones_s, &gt_s);
        if (n == (size_t)-1 || !(gt = malloc(sizeof(int) * (n ? n : 1)))) { fprintf(stderr, "sbv2 say: out of memory\n"); goto done; }
        for (size_t i = 0; i < n; i++) {
            char *e;
            long t = strtol(gt_s[i], &e, 10);
            if (*e || t < -1000 || t > 1000) { fprintf(stderr, "sbv2 say: --given-tones: '%s' is not a tone\n", gt_s[i]); rc = 2; goto done; }
            gt[i] = (int)t;
        }
        p.given_tone = gt, p.n_given_tone = n;
    }
    if (p.n_given_phone && !p.n_given_tone && !quiet)
        fprintf(stderr, "sbv2 say: note: --given-phones without --given-tones is ignored, as in SBV2\n");
    if ((p.n_given_phone || p.n_given_tone) && p.line_split && !quiet)
        fprintf(stderr, "sbv2 say: note: --given-phones/--given-tones are ignored with line split on, as in SBV2; add --no-line-split\n");

    const double t_load = now_s();
    /* the model first: a mistyped MODEL should not be reported as a missing BERT;
       the loader's messages already name the file */
    if (!(m = sbv2_model_load(model_path, &err))) { fprintf(stderr, "sbv2 say: %s\n", err.message); goto done; }
    char bbuf[4096], looked[8192];
    const char *bert_dir = find_bert(bert_opt, model_path, bbuf, sizeof bbuf, looked, sizeof looked);
    if (!bert_dir) {
        fprintf(stderr, "sbv2 say: no BERT folder (deberta-v2-large-japanese-char-wwm with config.json) found; looked in:\n%s"
                        "give one with --bert DIR or SBV2_BERT_DIR\n", looked);
        goto done;
    }
    if (!(b = sbv2_bert_load(bert_dir, NULL, &err))) { fprintf(stderr, "sbv2 say: BERT %s: %s\n", bert_dir, err.message); goto done; }
    sbv2_frontend_options fo = sbv2_frontend_default_options();
    fo.dict_dir = dict_dir, fo.user_dict = user_dict;
    if (!(fe = sbv2_frontend_new(&fo, &err))) { fprintf(stderr, "sbv2 say: frontend: %s\n", err.message); goto done; }
    if (!(st = sbv2_state_new(m, &err))) { fprintf(stderr, "sbv2 say: %s\n", err.message); goto done; }
    const double t_loaded = now_s();
    /* a name first, then a number */
    if (spk) {
        char *e;
        long id = strtol(spk, &e, 10);
        if (sbv2_model_speaker_id(m, spk) >= 0 || *e || e == spk) p.speaker = spk;
        else p.speaker_id = (int)id;
    }
    if (sty) {
        char *e;
        long id = strtol(sty, &e, 10);
        if (sbv2_model_style_id(m, sty) >= 0 || *e || e == sty) p.style = sty;
        else p.style = NULL, p.style_id = (int)id;
    }
    if (stream) {
        sbv2_model_info mi;
        sbv2_model_get_info(m, &mi);
        rc = say_stream(st, fe, b, text, &p, mi.sampling_rate, out, fmt, align, quiet, t_loaded - t_load);
        goto done;
    }
    if (sbv2_tts(st, fe, b, text, &p, &res, &err) != SBV2_OK) { fprintf(stderr, "sbv2 say: %s\n", err.message); goto done; }

    FILE *of = strcmp(out, "-") ? fopen(out, "wb") : stdout;
    if (!of) { fprintf(stderr, "sbv2 say: cannot write %s: %s\n", out, strerror(errno)); goto done; }
    int ok = 1;
    if (!strcmp(fmt, "wav")) {
        size_t nb = 0;
        ok = sbv2_wav_encode(res->pcm16, res->n_samples, res->sampling_rate, &wav, &nb, &err) == SBV2_OK &&
             fwrite(wav, 1, nb, of) == nb;
    } else {
        ok = write_samples(of, fmt, res->audio, res->pcm16, res->n_samples) == 0;
    }
    ok = (of == stdout ? fflush(of) == 0 : fclose(of) == 0) && ok;
    if (!ok) { fprintf(stderr, "sbv2 say: writing %s failed\n", out); goto done; }
    if (align && write_alignment(align, res) != 0) { fprintf(stderr, "sbv2 say: cannot write %s\n", align); goto done; }
    if (!quiet) {
        const double audio_s = (double)res->n_samples / res->sampling_rate;
        const double synth = res->seconds_g2p + res->seconds_bert + res->seconds_generator;
        size_t phones = 0;
        for (size_t i = 0; i < res->n_spans; i++) phones += res->spans[i].kind == SBV2_SPAN_PHONE;
        fprintf(stderr, "sbv2 say: loaded in %.2f s; %zu line%s, %zu phones; g2p %.3f s, BERT %.3f s, generator %.3f s\n",
                t_loaded - t_load, res->n_lines, res->n_lines == 1 ? "" : "s", phones, res->seconds_g2p, res->seconds_bert,
                res->seconds_generator);
        fprintf(stderr, "sbv2 say: %.2f s of audio at %d Hz in %.3f s (real-time factor %.3f) -> %s\n", audio_s,
                res->sampling_rate, synth, audio_s > 0 ? synth / audio_s : 0.0, strcmp(out, "-") ? out : "stdout");
    }
    rc = 0;
done:
    sbv2_free(wav);
    sbv2_tts_result_free(res);
    sbv2_state_free(st);
    sbv2_frontend_free(fe);
    sbv2_bert_free(b);
    sbv2_model_free(m);
    free(owned), free(gp), free(gt_s), free(gt), free(phones_s), free(tones_s);
    return rc;
}
