/* sbv2 info MODEL [--json] */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sbv2.h"

static void json_str(const char *s) {
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void int_list(const int *v, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf("%s%d", i ? ", " : "", v[i]);
    putchar(']');
}

/* An AIVM file's manifest: what AivisSpeech shows of the voice. */
static void print_manifest(const char *json) {
    cJSON *m = json ? cJSON_Parse(json) : NULL;
    if (!m) return;
    const char *keys[][2] = {{"name", "AIVM name:      "}, {"version", "AIVM version:   "}, {"uuid", "AIVM uuid:      "},
                             {"model_format", "AIVM format:    "}, {"terms_of_use", "terms of use:   "}};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, keys[k][0]);
        if (cJSON_IsString(v) && *v->valuestring) printf("%s%s\n", keys[k][1], v->valuestring);
    }
    const cJSON *cr = cJSON_GetObjectItemCaseSensitive(m, "creators"), *c;
    if (cJSON_GetArraySize(cr) > 0) {
        printf("creators:      ");
        cJSON_ArrayForEach(c, cr) if (cJSON_IsString(c)) printf(" %s", c->valuestring);
        printf("\n");
    }
    const cJSON *sps = cJSON_GetObjectItemCaseSensitive(m, "speakers"), *sp;
    cJSON_ArrayForEach(sp, sps) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(sp, "name"), *u = cJSON_GetObjectItemCaseSensitive(sp, "uuid");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(sp, "local_id"), *sts = cJSON_GetObjectItemCaseSensitive(sp, "styles"), *st;
        printf("AIVM speaker:   %d=%s (%s), styles:", id ? id->valueint : -1, cJSON_IsString(n) ? n->valuestring : "?",
               cJSON_IsString(u) ? u->valuestring : "?");
        cJSON_ArrayForEach(st, sts) {
            const cJSON *sn = cJSON_GetObjectItemCaseSensitive(st, "name"), *si = cJSON_GetObjectItemCaseSensitive(st, "local_id");
            printf(" %d=%s", si ? si->valueint : -1, cJSON_IsString(sn) ? sn->valuestring : "?");
        }
        printf("\n");
    }
    cJSON_Delete(m);
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: sbv2 info MODEL [--json]\n");
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "sbv2 info: unknown option %s\n", argv[i]);
            return 2;
        } else if (!path) path = argv[i];
        else {
            fprintf(stderr, "sbv2 info: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: sbv2 info MODEL [--json]\n");
        return 2;
    }
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load(path, &err);
    if (!m) {
        fprintf(stderr, "sbv2 info: %s\n", err.message);
        return 1;
    }
    sbv2_model_info in;
    sbv2_model_get_info(m, &in);
    if (json) {
        printf("{\"architecture\": ");
        json_str(in.arch_name);
        printf(", \"version\": ");
        json_str(in.version);
        printf(", \"model_name\": ");
        json_str(in.model_name);
        printf(", \"sampling_rate\": %d, \"hop_length\": %d, \"n_params\": %lld, \"weights_f16\": %s,\n",
               in.sampling_rate, in.hop_length, (long long)in.n_params, in.weights_dtype_f16 ? "true" : "false");
        printf(" \"n_vocab\": %d, \"n_tones\": %d, \"n_languages\": %d, \"inter_channels\": %d, \"hidden_channels\": %d, "
               "\"filter_channels\": %d, \"n_heads\": %d, \"n_layers\": %d, \"kernel_size\": %d, \"gin_channels\": %d, "
               "\"n_flow_layers\": %d, \"n_layers_trans_flow\": %d,\n",
               in.n_vocab, in.n_tones, in.n_languages, in.inter_channels, in.hidden_channels, in.filter_channels,
               in.n_heads, in.n_layers, in.kernel_size, in.gin_channels, in.n_flow_layers, in.n_layers_trans_flow);
        printf(" \"resblock\": \"%c\", \"resblock_kernel_sizes\": ", in.resblock);
        int_list(in.resblock_kernel_sizes, in.n_resblock_kernels);
        printf(", \"upsample_initial_channel\": %d, \"upsample_rates\": ", in.upsample_initial_channel);
        int_list(in.upsample_rates, in.n_upsamples);
        printf(", \"upsample_kernel_sizes\": ");
        int_list(in.upsample_kernel_sizes, in.n_upsamples);
        printf(",\n \"speakers\": {");
        int first = 1;
        for (int i = 0; i < in.n_speakers; i++) {
            const char *n = sbv2_model_speaker_name(m, i);
            if (!n) continue;
            printf("%s", first ? "" : ", ");
            json_str(n);
            printf(": %d", i);
            first = 0;
        }
        printf("}, \"styles\": {");
        first = 1;
        for (int i = 0; i < in.n_styles; i++) {
            const char *n = sbv2_model_style_name(m, i);
            if (!n) continue;
            printf("%s", first ? "" : ", ");
            json_str(n);
            printf(": %d", i);
            first = 0;
        }
        printf("}");
        const char *man = sbv2_model_aivm_manifest(m);
        if (man) printf(",\n \"aivm_manifest\": %s", man);
        printf("}\n");
    } else {
        printf("architecture:   %s (version %s)\n", in.arch_name, in.version);
        if (in.model_name[0]) printf("model name:     %s\n", in.model_name);
        printf("sampling rate:  %d Hz, %d samples per frame\n", in.sampling_rate, in.hop_length);
        printf("parameters:     %lld (inference path)%s\n", (long long)in.n_params, in.weights_dtype_f16 ? ", stored as fp16" : "");
        printf("text encoder:   vocab %d, tones %d, languages %d, hidden %d, filter %d, heads %d, layers %d, kernel %d\n",
               in.n_vocab, in.n_tones, in.n_languages, in.hidden_channels, in.filter_channels, in.n_heads, in.n_layers,
               in.kernel_size);
        printf("flow:           %d coupling layers x %d transformer layers, inter %d\n", in.n_flow_layers,
               in.n_layers_trans_flow, in.inter_channels);
        printf("decoder:        initial %d channels, resblock \"%c\" kernels ", in.upsample_initial_channel, in.resblock);
        int_list(in.resblock_kernel_sizes, in.n_resblock_kernels);
        printf(", rates ");
        int_list(in.upsample_rates, in.n_upsamples);
        printf(", kernels ");
        int_list(in.upsample_kernel_sizes, in.n_upsamples);
        printf("\nspeakers (%d):", in.n_speakers);
        for (int i = 0; i < in.n_speakers; i++) {
            const char *n = sbv2_model_speaker_name(m, i);
            printf(" %d=%s", i, n ? n : "(unnamed)");
        }
        printf("\nstyles (%d):", in.n_styles);
        for (int i = 0; i < in.n_styles; i++) {
            const char *n = sbv2_model_style_name(m, i);
            printf(" %d=%s", i, n ? n : "(unnamed)");
        }
        printf("\n");
        print_manifest(sbv2_model_aivm_manifest(m));
        printf("this machine:   %s\n", sbv2_system_info());
    }
    sbv2_model_free(m);
    return 0;
}
