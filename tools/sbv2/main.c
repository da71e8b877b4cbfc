/* sbv2: command-line front end of libsbv2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sbv2.h"
#include "cli.h"
#include "serve.h"
#include "core/isa.h"

static void usage(FILE *fp) {
    fprintf(fp,
            "sbv2 %s - Style-Bert-VITS2 text-to-speech in C\n"
            "\n"
            "usage:\n"
            "  sbv2 say MODEL [TEXT] -o OUT.wav [--bert DIR] [--style S] [--speaker S] ...\n"
            "      Japanese text to speech, exactly as SBV2's TTSModel.infer() (see 'sbv2 say --help')\n"
            "  sbv2 serve --models DIR [--bert DIR] [--port 5000] [--workers N] ...\n"
            "      HTTP server: SBV2's /voice and OpenAI's /v1/audio/speech (see 'sbv2 serve --help')\n"
            "  sbv2 bench-tts [--threads 1,2] [--chars 40,200,1000]\n"
            "      streaming vs one-shot: time to first audio, total, RSS (full-size random models)\n"
            "  sbv2 info MODEL [--json]\n"
            "      architecture, dimensions, parameters, speakers and styles of a model\n"
            "  sbv2 infer MODEL --inputs DIR --output OUT.npy [--wav OUT.wav] [--seed N]\n"
            "             [--threads N] [--dump DIR]\n"
            "      run net_g.infer() on DIR/in_<name>.npy (SBV2's ONNX inputs)\n"
            "  sbv2 convert MODEL [-o OUT] [--force] [--aivmx | --aivm]\n"
            "      export the inference path as ONNX with SBV2's input signature, or write an .aivm\n"
            "  sbv2 g2p TEXT [--json] [--no-jp-extra] [--user-dict CSV] | sbv2 g2p --jsonl < IN > OUT\n"
            "      Japanese text -> phones, tones, word2ph and ids as SBV2's frontend makes them\n"
            "  sbv2 bert BERT_DIR --text T [--word2ph N,...] [--output F.npy] [--layer-output S.npy] [--ids]\n"
            "      SBV2's BERT features (DeBERTa-v2) for a text\n"
            "  sbv2 convert-bert BERT_DIR [-o OUT.onnx] [--force]\n"
            "      export the BERT as SBV2's convert_bert_onnx.py does (input_ids, attention_mask -> output)\n"
            "  sbv2 bench-bert [--rounds N] [--reps N] [--threads N]\n"
            "      time the BERT against ONNX Runtime on a full-size random DeBERTa-v2\n"
            "  sbv2 testmodel-bert OUTDIR [--hidden N] [--heads N] [--layers N] ...\n"
            "      write a random-weight DeBERTa-v2 folder of any size (tests)\n"
            "  sbv2 bench [--rounds N] [--reps N]\n"
            "      time sbv2c against ONNX Runtime on a full-size random model (a few minutes)\n"
            "  sbv2 testmodel OUTDIR [--size tiny|full] [--arch jp-extra|multilingual] [--seed N]\n"
            "      write a random-weight model in SBV2's file layout (noise, not speech)\n"
            "  sbv2 demo MODEL --wav OUT.wav [--tokens N] [--seed N] [--threads N]\n"
            "      synthesize random phone/BERT inputs with a model (smoke test)\n"
            "\n"
            "MODEL is a directory holding config.json, style_vectors.npy and one\n"
            ".safetensors file (or SBV2's .onnx), the path of that file itself, or an\n"
            "AivisSpeech .aivm/.aivmx file (weights, config and style vectors in one).\n"
            "Run 'sbv2 COMMAND --help' for the options of one command.\n"
            "SBV2_ISA=avx512|avx2|generic caps the kernel path (default: the CPU's best);\n"
            "'sbv2 --version' shows the path that runs.\n",
            sbv2_version_string());
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    isa_t want;
    if (isa_from_env(&want) == -2) {
        fprintf(stderr, "sbv2: SBV2_ISA='%s' is not one of avx512, avx2, generic\n", getenv("SBV2_ISA"));
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("sbv2 %s (%s)\n", sbv2_version_string(), sbv2_system_info());
        return 0;
    }
    if (!strcmp(cmd, "say")) return cmd_say(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return serve_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench-tts")) return cmd_bench_tts(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench-tts-run")) return cmd_bench_tts_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "infer")) return cmd_infer(argc - 1, argv + 1);
    if (!strcmp(cmd, "testmodel")) return cmd_testmodel(argc - 1, argv + 1);
    if (!strcmp(cmd, "demo")) return cmd_demo(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert")) return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "g2p")) return cmd_g2p(argc - 1, argv + 1);
    if (!strcmp(cmd, "bert")) return cmd_bert(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert-bert")) return cmd_convert_bert(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench-bert")) return cmd_bench_bert(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench-bert-run")) return cmd_bench_bert_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "testmodel-bert")) return cmd_testmodel_bert(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench-run")) return cmd_bench_run(argc - 1, argv + 1);
    fprintf(stderr, "sbv2: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
