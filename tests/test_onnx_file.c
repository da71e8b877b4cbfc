/* The exported ONNX file itself (read back with protobuf-c): SBV2's input
 * signature in order with dtypes and dynamic axes, the single "output",
 * opset 17, the metadata (config.json, style vectors, maps) and, with
 * --aivmx, the AIVMX keys with a manifest AivisSpeech accepts. */
#include <cjson/cJSON.h>
#include <math.h>
#include <unistd.h>

#include "formats/npy.h"
#include "onnx.pb-c.h"
#include "sbv2.h"
#include "test_common.h"


static Onnx__ModelProto *read_model(const char *path) {
    size_t n = 0;
    char *b = read_whole_file(path, &n);
    Onnx__ModelProto *m = b ? onnx__model_proto__unpack(NULL, n, (const uint8_t *)b) : NULL;
    free(b);
    return m;
}

static const char *meta(const Onnx__ModelProto *m, const char *key) {
    for (size_t i = 0; i < m->n_metadata_props; i++)
        if (!strcmp(m->metadata_props[i]->key, key)) return m->metadata_props[i]->value;
    return NULL;
}

static uint8_t *unbase64(const char *s, size_t *n) {
    size_t l = strlen(s);
    uint8_t *o = malloc(l / 4 * 3 + 3);
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < l && s[i] != '='; i++) {
        const char *tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = strchr(tbl, s[i]);
        if (!p) { free(o); return NULL; }
        acc = acc << 6 | (uint32_t)(p - tbl), bits += 6;
        if (bits >= 8) bits -= 8, o[k++] = (uint8_t)(acc >> bits);
    }
    *n = k;
    return o;
}

static void check_style_vectors(const char *b64, const char *npy_path) {
    size_t n;
    uint8_t *bytes = b64 ? unbase64(b64, &n) : NULL;
    npy_array a, ref;
    sbv2_error err;
    CHECK(bytes && npy_parse(&a, bytes, n, &err) == SBV2_OK, "style vectors metadata is not base64 npy");
    CHECK(npy_load(&ref, npy_path, &err) == SBV2_OK, "cannot read %s", npy_path);
    if (bytes && a.data && ref.data)
        CHECK(a.numel == ref.numel && a.shape[1] == 256 && !memcmp(a.data, ref.data, a.numel * 4),
              "style vectors in the metadata differ from style_vectors.npy");
    npy_free(&a), npy_free(&ref), free(bytes);
}

static void check_signature(const Onnx__ModelProto *m, int multi) {
    static const char *jx[] = {"x_tst", "x_tst_lengths", "sid", "tones", "language", "bert", "style_vec",
                               "length_scale", "sdp_ratio", "noise_scale", "noise_scale_w"};
    static const char *v2[] = {"x_tst", "x_tst_lengths", "sid", "tones", "language", "bert", "ja_bert", "en_bert",
                               "style_vec", "length_scale", "sdp_ratio", "noise_scale", "noise_scale_w"};
    const char **names = multi ? v2 : jx;
    size_t n = multi ? 13 : 11;
    const Onnx__GraphProto *g = m->graph;
    CHECK(g->n_input == n, "%zu inputs, expected %zu", g->n_input, n);
    for (size_t i = 0; i < n && i < g->n_input; i++) {
        const Onnx__ValueInfoProto *v = g->input[i];
        CHECK(!strcmp(v->name, names[i]), "input %zu is %s, expected %s", i, v->name, names[i]);
        int is_int = i < 5;
        const Onnx__TypeProto__Tensor *t = v->type->tensor_type;
        CHECK(t->elem_type == (is_int ? ONNX__TENSOR_PROTO__DATA_TYPE__INT64 : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT),
              "input %s has the wrong dtype", v->name);
        size_t rank = t->shape->n_dim;
        if (i >= n - 4) CHECK(rank == 0, "%s must be a 0-d scalar", v->name);
        else {
            CHECK(rank >= 1 && t->shape->dim[0]->dim_param && !strcmp(t->shape->dim[0]->dim_param, "batch_size"),
                  "%s: dim 0 is not batch_size", v->name);
            if (i == 0 || i == 3 || i == 4)
                CHECK(rank == 2 && !strcmp(t->shape->dim[1]->dim_param, "x_tst_max_length"), "%s: dim 1", v->name);
            if (strstr(v->name, "bert"))
                CHECK(rank == 3 && t->shape->dim[1]->dim_value == 1024 && !strcmp(t->shape->dim[2]->dim_param, "x_tst_max_length"),
                      "%s: shape", v->name);
        }
    }
    CHECK(g->n_output == 1 && !strcmp(g->output[0]->name, "output"), "the graph output must be 'output'");
    CHECK(m->n_opset_import == 1 && m->opset_import[0]->version == 17, "opset 17");
    int noise = 0, wn = 0;
    for (size_t i = 0; i < g->n_node; i++) {
        noise += !strcmp(g->node[i]->op_type, "RandomNormalLike");
    }
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        wn += t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    }
    CHECK(noise == 2, "expected 2 RandomNormalLike nodes (SDP and prior), found %d", noise);
    CHECK(wn == 0, "initializers must be fp32 (or int64 constants)");
}

/* ---- malformed ONNX files: each a precise error when loaded ----------------- */

static int write_model(const Onnx__ModelProto *m, const char *path) {
    const size_t n = onnx__model_proto__get_packed_size(m);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return 0;
    onnx__model_proto__pack(m, b);
    FILE *f = fopen(path, "wb");
    const int ok = f && fwrite(b, 1, n, f) == n;
    if (f) fclose(f);
    free(b);
    return ok;
}

static Onnx__TensorProto *init_named(Onnx__ModelProto *m, const char *name) {
    for (size_t i = 0; i < m->graph->n_initializer; i++)
        if (!strcmp(m->graph->initializer[i]->name, name)) return m->graph->initializer[i];
    return NULL;
}

/* loads path and expects an error whose message holds word */
static void expect_load_error(const char *what, const char *path, const char *word) {
    sbv2_error err = {0, ""};
    sbv2_model *x = sbv2_model_load(path, &err);
    CHECK(!x && strstr(err.message, word), "%s: %s (wanted an error with '%s')", what, x ? "loaded" : err.message, word);
    if (!x) printf("ok   %s: %s\n", what, err.message);
    sbv2_model_free(x);
}

static void malformed_onnx(const char *dir) {
    char src[512], cfg[512], sv[512], path[600], cmd[2048];
    snprintf(src, sizeof src, "%s/netg/tiny-jp-extra/model.onnx", SBV2_GOLDEN_DIR);
    /* SBV2's model.onnx, with its config.json and style_vectors.npy beside */
    snprintf(cfg, sizeof cfg, "%s/config.json", dir), snprintf(sv, sizeof sv, "%s/style_vectors.npy", dir);
    snprintf(cmd, sizeof cmd, "cp '%s/netg/tiny-jp-extra/config.json' '%s/netg/tiny-jp-extra/style_vectors.npy' '%s/'", SBV2_GOLDEN_DIR,
             SBV2_GOLDEN_DIR, dir);
    CHECK(system(cmd) == 0, "cannot copy the golden config");
    size_t n = 0;
    char *img = read_whole_file(src, &n);
    CHECK(img != NULL, "cannot read %s", src);
    if (!img) return;
    snprintf(path, sizeof path, "%s/cut.onnx", dir);
    FILE *f = fopen(path, "wb");
    if (f) fwrite(img, 1, n / 3, f), fclose(f);
    expect_load_error("truncated protobuf", path, "not a valid ONNX protobuf");
    free(img);
    static const struct { const char *what, *word; int edit; } cases[] = {
        {"an input renamed", "no input 'sid'", 0},
        {"an initializer of the wrong type", "missing tensor 'enc_p.emb.weight'", 1},
        {"an initializer missing", "missing tensor 'enc_p.tone_emb.weight'", 2},
        {"a shape contradicting config.json", "has shape [24, 112], but config.json implies", 3},
        {"raw data shorter than the shape", "holds 10748 bytes", 4},
        {"a folded decoder weight whose node lost its name", "dec.ups.0.weight", 5},
        {"AIVMX manifest failing the schema", "AIVM manifest: uuid", 6},
        {"AIVMX style vectors that are not .npy", "AIVM style vectors", 7},
        {"ja_bert without en_bert", "ja_bert but not en_bert", 8},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Onnx__ModelProto *m = read_model(src);
        CHECK(m != NULL, "cannot parse %s", src);
        if (!m) return;
        Onnx__GraphProto *g = m->graph;
        char *saved_name = NULL;
        Onnx__TensorProto *t = NULL;
        switch (cases[k].edit) {
        case 0: for (size_t i = 0; i < g->n_input; i++) if (!strcmp(g->input[i]->name, "sid")) saved_name = g->input[i]->name, g->input[i]->name = "speaker"; break;
        case 1: if ((t = init_named(m, "enc_p.emb.weight"))) t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT32; break;
        case 2: if ((t = init_named(m, "enc_p.tone_emb.weight"))) saved_name = t->name, t->name = "enc_p.tone_emb.weight_gone"; break;
        case 3: if ((t = init_named(m, "enc_p.emb.weight"))) t->dims[0] = 24, t->dims[1] = 112; break;
        case 4: if ((t = init_named(m, "enc_p.emb.weight"))) t->raw_data.len -= 4; break;
        case 5:
            for (size_t i = 0; i < g->n_node; i++)
                if (g->node[i]->name && !strcmp(g->node[i]->name, "/dec/ups.0/ConvTranspose")) saved_name = g->node[i]->name, g->node[i]->name = "";
            break;
        default: break;
        }
        Onnx__StringStringEntryProto e[3] = {ONNX__STRING_STRING_ENTRY_PROTO__INIT, ONNX__STRING_STRING_ENTRY_PROTO__INIT,
                                             ONNX__STRING_STRING_ENTRY_PROTO__INIT};
        Onnx__StringStringEntryProto *ep[3] = {&e[0], &e[1], &e[2]};
        Onnx__StringStringEntryProto **saved_meta = m->metadata_props;
        size_t saved_n = m->n_metadata_props;
        char *hp = NULL, *man = NULL;
        if (cases[k].edit == 6 || cases[k].edit == 7) { /* AIVMX keys, from an .aivm this test writes */
            sbv2_error err = {0, ""};
            char ap[600];
            snprintf(ap, sizeof ap, "%s/tmp.aivm", dir);
            sbv2_model *mm = sbv2_model_load(src, &err);
            if (mm && sbv2_export_aivm(mm, ap, NULL, &err) == SBV2_OK) {
                size_t an = 0;
                char *a = read_whole_file(ap, &an);
                uint64_t hn = 0;
                for (int i = 7; a && i >= 0; i--) hn = hn << 8 | (uint8_t)a[i];
                cJSON *h = a ? cJSON_ParseWithLength(a + 8, (size_t)hn) : NULL, *md = cJSON_GetObjectItem(h, "__metadata__");
                man = strdup(cJSON_GetObjectItem(md, "aivm_manifest")->valuestring);
                hp = strdup(cJSON_GetObjectItem(md, "aivm_hyper_parameters")->valuestring);
                cJSON_Delete(h), free(a);
            }
            sbv2_model_free(mm);
            if (man && cases[k].edit == 6) {
                char *u = strstr(man, "\"uuid\":\"");
                if (u) u[8] = 'z';
            }
            e[0].key = "aivm_manifest", e[0].value = man ? man : "";
            e[1].key = "aivm_hyper_parameters", e[1].value = hp ? hp : "";
            e[2].key = "aivm_style_vectors", e[2].value = cases[k].edit == 7 ? "QUJDRA==" : "k05VTVBZ";
            m->metadata_props = ep, m->n_metadata_props = 3;
        }
        Onnx__ValueInfoProto *removed = NULL;
        if (cases[k].edit == 8) /* JP-Extra's graph with the older architecture's ja_bert only */
            for (size_t i = 0; i < g->n_input; i++)
                if (!strcmp(g->input[i]->name, "bert")) {
                    removed = g->input[i];
                    Onnx__ValueInfoProto *copy = malloc(sizeof *copy);
                    *copy = *removed;
                    copy->name = "ja_bert";
                    Onnx__ValueInfoProto **ins = malloc(sizeof *ins * (g->n_input + 1));
                    memcpy(ins, g->input, sizeof *ins * g->n_input);
                    ins[g->n_input] = copy;
                    removed = (Onnx__ValueInfoProto *)g->input; /* remember the old array */
                    g->input = ins, g->n_input++;
                    break;
                }
        snprintf(path, sizeof path, "%s/case%zu.onnx", dir, k);
        CHECK(write_model(m, path), "cannot write %s", path);
        expect_load_error(cases[k].what, path, cases[k].word);
        /* restore what the unpacked message owns before freeing it */
        if (cases[k].edit == 0)
            for (size_t i = 0; i < g->n_input; i++) if (!strcmp(g->input[i]->name, "speaker")) g->input[i]->name = saved_name;
        if (cases[k].edit == 2 && t) t->name = saved_name;
        if (cases[k].edit == 4 && t) t->raw_data.len += 4;
        if (cases[k].edit == 5)
            for (size_t i = 0; i < g->n_node; i++) if (g->node[i]->name && !*g->node[i]->name) g->node[i]->name = saved_name;
        if (cases[k].edit == 8 && removed) {
            free(g->input[g->n_input - 1]);
            free(g->input);
            g->input = (Onnx__ValueInfoProto **)removed, g->n_input--;
        }
        m->metadata_props = saved_meta, m->n_metadata_props = saved_n;
        free(man), free(hp);
        onnx__model_proto__free_unpacked(m, NULL);
        remove(path);
    }
    snprintf(path, sizeof path, "%s/tmp.aivm", dir), remove(path);
    remove(cfg), remove(sv);
}

int main(void) {
    golden_dir_or_skip(SBV2_GOLDEN_DIR);
    char dir[] = "/tmp/sbv2_onnx_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    const char *models[2] = {"tiny-jp-extra", "tiny-v2"};
    for (int k = 0; k < 2; k++) {
        char mp[1024], sv[1024], out[1200], outx[1200];
        snprintf(mp, sizeof mp, SBV2_GOLDEN_DIR "/netg/%s/model.safetensors", models[k]);
        snprintf(sv, sizeof sv, SBV2_GOLDEN_DIR "/netg/%s/style_vectors.npy", models[k]);
        snprintf(out, sizeof out, "%s/%s.onnx", dir, models[k]);
        snprintf(outx, sizeof outx, "%s/%s.aivmx", dir, models[k]);
        sbv2_error err;
        sbv2_model *model = sbv2_model_load(mp, &err);
        CHECK(model != NULL, "load %s: %s", mp, err.message);
        if (!model) continue;
        sbv2_export_options o = sbv2_export_default_options();
        CHECK(sbv2_export_onnx(model, out, &o, &err) == SBV2_OK, "export: %s", err.message);
        o.aivmx = 1;
        o.model_file_name = "voice_e123_s4567.safetensors";
        CHECK(sbv2_export_onnx(model, outx, &o, &err) == SBV2_OK, "export aivmx: %s", err.message);
        o.struct_size = 1;
        CHECK(sbv2_export_onnx(model, outx, &o, &err) == SBV2_ERR_INVALID_ARGUMENT, "bad struct_size accepted");
        CHECK(sbv2_export_onnx(model, "/nonexistent/dir/x.onnx", NULL, &err) == SBV2_ERR_IO, "unwritable path accepted");
        Onnx__ModelProto *m = read_model(out), *mx = read_model(outx);
        CHECK(m && mx, "cannot parse the exported files");
        if (m && mx) {
            check_signature(m, k == 1);
            check_signature(mx, k == 1);
            CHECK(meta(m, "sbv2_hyper_parameters") && strstr(meta(m, "sbv2_hyper_parameters"), "\"spk2id\""),
                  "config.json missing from the metadata");
            CHECK(meta(m, "sbv2_spk2id") && !strcmp(meta(m, "sbv2_spk2id"), "{\"spk_a\":0,\"spk_b\":1}"), "spk2id metadata");
            CHECK(meta(m, "sbv2_style2id") && strstr(meta(m, "sbv2_style2id"), "\"Neutral\":0"), "style2id metadata");
            check_style_vectors(meta(m, "sbv2_style_vectors"), sv);
            CHECK(!meta(m, "aivm_manifest"), "aivm keys only with --aivmx");
            /* AIVMX */
            check_style_vectors(meta(mx, "aivm_style_vectors"), sv);
            cJSON *man = meta(mx, "aivm_manifest") ? cJSON_Parse(meta(mx, "aivm_manifest")) : NULL;
            cJSON *hp = meta(mx, "aivm_hyper_parameters") ? cJSON_Parse(meta(mx, "aivm_hyper_parameters")) : NULL;
            CHECK(man && hp, "aivm_manifest / aivm_hyper_parameters are not JSON");
            if (man && hp) {
                const char *arch = cJSON_GetObjectItem(man, "model_architecture")->valuestring;
                CHECK(!strcmp(cJSON_GetObjectItem(man, "manifest_version")->valuestring, "1.0"), "manifest_version");
                CHECK(!strcmp(arch, k == 0 ? "Style-Bert-VITS2 (JP-Extra)" : "Style-Bert-VITS2"), "architecture %s", arch);
                CHECK(!strcmp(cJSON_GetObjectItem(man, "model_format")->valuestring, "ONNX"), "model_format");
                CHECK(cJSON_GetObjectItem(man, "training_epochs")->valueint == 123 &&
                          cJSON_GetObjectItem(man, "training_steps")->valueint == 4567, "epochs/steps from the file name");
                CHECK(strlen(cJSON_GetObjectItem(man, "uuid")->valuestring) == 36, "uuid");
                cJSON *spk = cJSON_GetObjectItem(man, "speakers");
                CHECK(cJSON_GetArraySize(spk) == 2, "two speakers");
                cJSON *s0 = cJSON_GetArrayItem(spk, 0);
                CHECK(!strcmp(cJSON_GetObjectItem(s0, "name")->valuestring, "spk_a") &&
                          !strncmp(cJSON_GetObjectItem(s0, "icon")->valuestring, "data:image/png;base64,", 22),
                      "speaker 0 name/icon");
                cJSON *st = cJSON_GetObjectItem(s0, "styles");
                CHECK(cJSON_GetArraySize(st) == 3 &&
                          !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(st, 0), "name")->valuestring, "\xe3\x83\x8e\xe3\x83\xbc\xe3\x83\x9e\xe3\x83\xab"),
                      "styles: Neutral shown as ノーマル");
                cJSON *data = cJSON_GetObjectItem(hp, "data");
                CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(data, "style2id"), "\xe3\x83\x8e\xe3\x83\xbc\xe3\x83\x9e\xe3\x83\xab") &&
                          cJSON_GetObjectItem(data, "num_styles")->valueint == 3,
                      "hyper-parameters style2id follows the manifest");
                const char *ver = cJSON_GetObjectItem(hp, "version")->valuestring;
                CHECK((strstr(ver, "JP-Extra") != NULL) == (k == 0), "hyper-parameters version keeps the architecture");
            }
            cJSON_Delete(man), cJSON_Delete(hp);
        }
        if (m) onnx__model_proto__free_unpacked(m, NULL);
        if (mx) onnx__model_proto__free_unpacked(mx, NULL);
        sbv2_model_free(model);
        remove(out), remove(outx);
    }
    malformed_onnx(dir);
    rmdir(dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
