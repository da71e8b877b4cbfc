/* Reading SBV2's net_g from ONNX files torch.onnx.export wrote (read.c). */
#ifndef SBV2_ONNX_READ_H
#define SBV2_ONNX_READ_H

#include "formats/safetensors.h"

/* Parses an ONNX file image (data, size; copied, so it may be freed after;
 * drop: it is a private file mapping whose pages may be released as they are
 * copied) into *f: one tensor per weight initializer, named as the safetensors
 * parameters are; st_close(f) frees it all. Checks the inputs against SBV2's
 * convert_onnx.py signature (*older_arch: it has ja_bert/en_bert).
 * *meta_json: metadata_props as one JSON object text (malloc'd), or NULL. */
int sbv2_onnx_read(st_file *f, const uint8_t *data, size_t size, int drop, const char *path, int *older_arch, char **meta_json,
                   sbv2_error *err);

#endif
