/* Reading SBV2's ONNX inputs (DIR/in_<name>.npy) for sbv2 infer / bench. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inputs.h"

/* Loads DIR/in_<name>.npy with exact dtype and rank; batch must be 1. */
static int load_input(const char *dir, input_t *in, int rank, const int64_t *shape, sbv2_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/in_%s.npy", dir, in->name);
    int rc = npy_load(&in->a, path, err);
    if (rc != SBV2_OK) return rc;
    if (in->a.dtype != in->dtype)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "%s: dtype %s, expected %s", path, npy_dtype_name(in->a.dtype),
                         npy_dtype_name(in->dtype));
    int scalar_ok = rank == 0 && in->a.ndim == 1 && in->a.shape[0] == 1;
    if (in->a.ndim != rank && !scalar_ok)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "%s: %d dims, expected %d", path, in->a.ndim, rank);
    for (int i = 0; i < rank; i++)
        if (shape[i] >= 0 && in->a.shape[i] != shape[i]) {
            if (i == 0 && in->a.shape[0] > 1)
                return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "%s: batch size %lld; only batch 1 is supported", path,
                                 (long long)in->a.shape[0]);
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "%s: dim %d is %lld, expected %lld", path, i,
                             (long long)in->a.shape[i], (long long)shape[i]);
        }
    return SBV2_OK;
}

int cli_inputs_load(cli_inputs *ci, const char *in_dir, int multi, sbv2_error *err) {
    memset(ci, 0, sizeof *ci);
    enum { X, XL, SID, TONES, LANG, BERT, JA, EN, STYLE, LS, SDP, NS, NSW, N_IN };
    input_t *in = ci->in;
    const input_t init[N_IN] = {
        {"x_tst", NPY_I64, {0}},        {"x_tst_lengths", NPY_I64, {0}}, {"sid", NPY_I64, {0}},
        {"tones", NPY_I64, {0}},        {"language", NPY_I64, {0}},      {"bert", NPY_F32, {0}},
        {"ja_bert", NPY_F32, {0}},      {"en_bert", NPY_F32, {0}},       {"style_vec", NPY_F32, {0}},
        {"length_scale", NPY_F32, {0}}, {"sdp_ratio", NPY_F32, {0}},     {"noise_scale", NPY_F32, {0}},
        {"noise_scale_w", NPY_F32, {0}},
    };
    memcpy(in, init, sizeof init);
    int rc;
    const int64_t s_bl[2] = {1, -1}, s_b[1] = {1};
    rc = load_input(in_dir, &in[X], 2, s_bl, err);
    int64_t L = rc == SBV2_OK ? in[X].a.shape[1] : 0;
    const int64_t s_bl2[2] = {1, L}, s_bert[3] = {1, SBV2_BERT_DIM, L}, s_style[2] = {1, SBV2_STYLE_DIM};
    if (rc == SBV2_OK && L < 1) rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "in_x_tst.npy has no tokens");
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[XL], 1, s_b, err);
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[SID], 1, s_b, err);
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[TONES], 2, s_bl2, err);
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[LANG], 2, s_bl2, err);
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[BERT], 3, s_bert, err);
    if (rc == SBV2_OK && multi) rc = load_input(in_dir, &in[JA], 3, s_bert, err);
    if (rc == SBV2_OK && multi) rc = load_input(in_dir, &in[EN], 3, s_bert, err);
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[STYLE], 2, s_style, err);
    for (int k = LS; k <= NSW && rc == SBV2_OK; k++) rc = load_input(in_dir, &in[k], 0, NULL, err);
    if (rc != SBV2_OK) goto fail;
    int64_t xl = ((int64_t *)in[XL].a.data)[0];
    if (xl < 1 || xl > L) {
        rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "x_tst_lengths is %lld, must be in [1, %lld]", (long long)xl, (long long)L);
        goto fail;
    }
    ci->input = (sbv2_infer_input){
        .n_tokens = (size_t)L,
        .phone_ids = in[X].a.data,
        .tone_ids = in[TONES].a.data,
        .lang_ids = in[LANG].a.data,
        .bert = in[BERT].a.data,
        .ja_bert = multi ? in[JA].a.data : NULL,
        .en_bert = multi ? in[EN].a.data : NULL,
        .style_vec = in[STYLE].a.data,
        .speaker_id = ((int64_t *)in[SID].a.data)[0],
        .valid_length = (size_t)xl,
    };
    ci->params = sbv2_infer_default_params();
    ci->params.length_scale = ((float *)in[LS].a.data)[0];
    ci->params.sdp_ratio = ((float *)in[SDP].a.data)[0];
    ci->params.noise_scale = ((float *)in[NS].a.data)[0];
    ci->params.noise_scale_w = ((float *)in[NSW].a.data)[0];
    return SBV2_OK;
fail:
    cli_inputs_free(ci);
    return rc;
}

void cli_inputs_free(cli_inputs *ci) {
    for (int k = 0; k < 13; k++) npy_free(&ci->in[k].a);
}
