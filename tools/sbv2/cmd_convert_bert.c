/* sbv2 convert-bert: the BERT as ONNX, SBV2's convert_bert_onnx.py interface. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sbv2.h"
#include "cli.h"

int cmd_convert_bert(int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *weights = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: sbv2 convert-bert BERT_DIR [-o OUT.onnx] [--force] [--weights FILE]\n"
                   "  Writes the DeBERTa-v2 SBV2 uses as ONNX (inputs input_ids, attention_mask; output\n"
                   "  \"output\" = hidden_states[-3][0]), default BERT_DIR/model.onnx; an existing file is\n"
                   "  kept unless --force.\n");
            return 0;
        } else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc) weights = argv[++i];
        else if (!strcmp(argv[i], "--force")) force = 1;
        else if (argv[i][0] == '-') { fprintf(stderr, "sbv2 convert-bert: unknown or incomplete option %s\n", argv[i]); return 2; }
        else if (!dir) dir = argv[i];
        else { fprintf(stderr, "sbv2 convert-bert: unexpected argument %s\n", argv[i]); return 2; }
    }
    if (!dir) { fprintf(stderr, "usage: sbv2 convert-bert BERT_DIR [-o OUT.onnx] [--force]\n"); return 2; }
    char def[4096];
    if (!out) snprintf(def, sizeof def, "%s/model.onnx", dir), out = def;
    struct stat sb;
    if (!force && stat(out, &sb) == 0) { fprintf(stderr, "sbv2 convert-bert: %s exists (use --force to overwrite)\n", out); return 1; }
    sbv2_error err = {0};
    sbv2_bert *b = sbv2_bert_load(dir, weights, &err);
    if (!b || sbv2_bert_export_onnx(b, out, &err) != SBV2_OK) {
        fprintf(stderr, "sbv2 convert-bert: %s\n", err.message);
        sbv2_bert_free(b);
        return 1;
    }
    sbv2_bert_free(b);
    printf("wrote %s\n", out);
    return 0;
}
