/* Subcommands of the sbv2 CLI; each returns the process exit code. */
#ifndef SBV2_CLI_H
#define SBV2_CLI_H

#include <stdint.h>

int cmd_info(int argc, char **argv);
int cmd_say(int argc, char **argv);
int cmd_bench_tts(int argc, char **argv);
int cmd_bench_tts_run(int argc, char **argv);
int cmd_infer(int argc, char **argv);
int cmd_testmodel(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_run(int argc, char **argv);
int cmd_g2p(int argc, char **argv);
int cmd_bert(int argc, char **argv);
int cmd_convert_bert(int argc, char **argv);

int cmd_bench_bert(int argc, char **argv);
int cmd_bench_bert_run(int argc, char **argv);
int cmd_testmodel_bert(int argc, char **argv);

/* Sizes of a random-weight DeBERTa-v2 test model (cmd_testmodel_bert.c). */
typedef struct bert_dims {
    int hidden, heads, head_size, layers, intermediate, vocab, buckets, max_relative, conv_kernel;
} bert_dims;
extern const bert_dims BERT_REAL_DIMS; /* ku-nlp/deberta-v2-large-japanese-char-wwm */
/* Writes config.json, vocab.txt and fp16 model.safetensors into dir; 0 or -1. */
int bert_write_test_model(const char *dir, const bert_dims *d, uint64_t seed);

/* Benchmark helpers (cmd_bench.c): a child's last stdout line as JSON and its
 * peak RSS; the median of n values (sorted in place). */
typedef struct child_result {
    struct cJSON *json;
    double rss_mb;
} child_result;
int bench_run_child(char *const argv[], child_result *out);
double bench_median(double *v, int n);
/* --isa: sets SBV2_ISA for this process and its children; -1 on a bad value. */
int bench_set_isa(const char *cmd, const char *v);
/* Prints the active kernel path, its FMA-loop peak and the kernel's in-cache
 * rate at 1 and 2 threads; kernel[t] gets the rate at t threads. */
void bench_print_peaks(double kernel[3]);
/* The LD_PRELOAD value that shows ONNX Runtime no AVX-512 (the CPUID shim
 * built beside this binary) when want_avx2 and the CPU has AVX-512, else
 * NULL; prints which kernels ONNX Runtime runs. */
const char *bench_ort_preload(int want_avx2, char *buf, size_t cap);
/* One round: the sbv2c child, then the ORT child (with ort_preload, if set). */
int bench_run_pair(char *const sbv2c[], char *const ort[], const char *ort_preload, child_result *cs, child_result *co);

/* Parses a non-negative integer option value; returns 0 on garbage. */
int cli_parse_u64(const char *s, uint64_t *out);

#endif
