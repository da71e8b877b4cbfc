/* SBV2's ONNX inputs read from DIR/in_<name>.npy (batch 1), checked for
 * dtype and shape, ready for sbv2_infer(). */
#ifndef SBV2_CLI_INPUTS_H
#define SBV2_CLI_INPUTS_H

#include "formats/npy.h"
#include "sbv2.h"

typedef struct {
    const char *name;
    npy_dtype dtype;
    npy_array a;
} input_t;

typedef struct cli_inputs {
    input_t in[13];
    sbv2_infer_input input;   /* points into in[] */
    sbv2_infer_params params; /* defaults + the four scalars */
} cli_inputs;

int cli_inputs_load(cli_inputs *ci, const char *dir, int multilingual, sbv2_error *err);
void cli_inputs_free(cli_inputs *ci);

#endif
