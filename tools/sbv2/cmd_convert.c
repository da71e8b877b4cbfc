/* sbv2 convert MODEL [-o OUT] [--force] [--aivmx | --aivm]: ONNX export as
 * SBV2's convert_onnx.py does it, or an AivisSpeech .aivm (output beside the
 * model file by default, an existing file kept unless --force). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "sbv2.h"

static const char *k_usage =
    "usage: sbv2 convert MODEL [-o OUT] [--force] [--aivmx | --aivm]\n"
    "  Exports the model's inference path as ONNX with SBV2's input signature,\n"
    "  or (--aivm) writes it as an AivisSpeech .aivm file.\n"
    "  MODEL: a .safetensors path (config.json and style_vectors.npy beside it),\n"
    "         an .aivm file, or a directory holding exactly one of them.\n"
    "  -o F       output file (default: <model stem>.onnx beside the model file,\n"
    "             <stem>.aivmx with --aivmx, <stem>.aivm with --aivm)\n"
    "  --force    overwrite an existing output\n"
    "  --aivmx    add AivisSpeech's AIVMX metadata (manifest, hyper-parameters, style vectors)\n"
    "  --aivm     write an .aivm: the safetensors weights unchanged, config.json and the style\n"
    "             vectors in its header, with a manifest as aivmlib makes it (an .aivm input\n"
    "             keeps its own manifest)\n";

/* The .safetensors a MODEL argument designates (a file, or the only one in a directory). */
static int find_safetensors(const char *model, char *out, size_t n);

int cmd_convert(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    int force = 0, aivm = 0;
    sbv2_export_options opt = sbv2_export_default_options();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(k_usage, stdout); return 0; }
        else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) out = argv[++i];
        else if (!strcmp(a, "--force") || !strcmp(a, "--force-convert")) force = 1;
        else if (!strcmp(a, "--aivmx")) opt.aivmx = 1;
        else if (!strcmp(a, "--aivm")) aivm = 1;
        else if (a[0] == '-') { fprintf(stderr, "sbv2 convert: unknown or incomplete option %s\n%s", a, k_usage); return 2; }
        else if (!model) model = a;
        else { fprintf(stderr, "sbv2 convert: unexpected argument %s\n", a); return 2; }
    }
    if (!model) { fputs(k_usage, stderr); return 2; }
    if (aivm && opt.aivmx) { fprintf(stderr, "sbv2 convert: --aivm and --aivmx exclude each other\n"); return 2; }
    char st_path[4096], def_out[4200];
    if (!find_safetensors(model, st_path, sizeof st_path)) return 1;
    if (!out) {
        const char *dot = strrchr(st_path, '.');
        const size_t l = dot ? (size_t)(dot - st_path) : strlen(st_path);
        snprintf(def_out, sizeof def_out, "%.*s%s", (int)l, st_path, aivm ? ".aivm" : opt.aivmx ? ".aivmx" : ".onnx");
        out = def_out;
    }
    struct stat sb;
    if (!force && stat(out, &sb) == 0) {
        fprintf(stderr, "sbv2 convert: %s exists; keeping it (use --force to overwrite)\n", out);
        return 0;
    }
    const char *base = strrchr(st_path, '/');
    opt.model_file_name = base ? base + 1 : st_path;
    sbv2_error err = {0, ""};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sbv2_model *m = sbv2_model_load(st_path, &err);
    if (!m) { fprintf(stderr, "sbv2 convert: %s\n", err.message); return 1; }
    int rc = aivm ? sbv2_export_aivm(m, out, &opt, &err) : sbv2_export_onnx(m, out, &opt, &err);
    sbv2_model_free(m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != SBV2_OK) { fprintf(stderr, "sbv2 convert: %s\n", err.message); return 1; }
    stat(out, &sb);
    fprintf(stderr, "sbv2 convert: wrote %s (%.1f MB) in %.2f s\n", out, (double)sb.st_size / 1e6,
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return 0;
}

#include <dirent.h>

static int find_safetensors(const char *model, char *out, size_t n) {
    struct stat sb;
    if (stat(model, &sb) != 0) {
        fprintf(stderr, "sbv2 convert: %s: %s\n", model, strerror(errno));
        return 0;
    }
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(out, n, "%s", model);
        return 1; /* the loader tells the format from the content */
    }
    DIR *d = opendir(model);
    int count = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (((l > 12 && strcmp(e->d_name + l - 12, ".safetensors") == 0) || (l > 5 && strcmp(e->d_name + l - 5, ".aivm") == 0)) &&
            e->d_name[0] != '.' && count++ == 0)
            snprintf(out, n, "%s/%s", model, e->d_name);
    }
    if (d) closedir(d);
    if (count != 1) {
        fprintf(stderr, "sbv2 convert: %s holds %d .safetensors/.aivm files: pass the path of one\n", model, count);
        return 0;
    }
    return 1;
}
