/* Subcommands of the sbv2 CLI; each returns the process exit code. */
#ifndef SBV2_CLI_H
#define SBV2_CLI_H

#include <stdint.h>

int cmd_info(int argc, char **argv);
int cmd_infer(int argc, char **argv);
int cmd_testmodel(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_run(int argc, char **argv);
int cmd_g2p(int argc, char **argv);
int cmd_bert(int argc, char **argv);
int cmd_convert_bert(int argc, char **argv);

/* Parses a non-negative integer option value; returns 0 on garbage. */
int cli_parse_u64(const char *s, uint64_t *out);

#endif
