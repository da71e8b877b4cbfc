/* The public Japanese frontend: normalize_text -> MeCab + NJD -> g2p -> ids,
 * and run-time user dictionaries. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mecab.h>

#include "common.h"
#include "formats/file.h"
#include "text/frontend.h"
#include "text/jp_g2p.h"
#include "text/jp_mecab.h"
#include "text/normalize.h"

#ifndef SBV2_DEFAULT_DICDIR
#define SBV2_DEFAULT_DICDIR "/usr/share/sbv2/dic"
#endif

struct sbv2_frontend {
    jp_mecab *mecab;
};

typedef struct {
    sbv2_g2p_result pub;
    jp_g2p_out g;
    int64_t *ids; /* phone, tone, lang ids and word2ph_blank in one block */
} g2p_result_impl;

sbv2_frontend_options sbv2_frontend_default_options(void) {
    sbv2_frontend_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    return o;
}

/* Each row: 15+ comma-separated fields, numeric ids and cost, acc/morae.
 * (MeCab's dictionary compiler exits the process on malformed rows.) */
int sbv2_user_csv_check(const char *text, size_t len, const char *name, sbv2_error *err) {
    char line[4096];
    int n = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
        n++;
        if (ll >= sizeof line)
            return sbv2_fail(err, SBV2_ERR_FORMAT, "user dictionary %s line %d: longer than %zu bytes", name, n, sizeof line - 1);
        if (memchr(text + pos, '\0', ll)) return sbv2_fail(err, SBV2_ERR_FORMAT, "user dictionary %s line %d: a NUL byte", name, n);
        memcpy(line, text + pos, ll);
        pos += ll + 1;
        while (ll && (line[ll - 1] == '\n' || line[ll - 1] == '\r')) ll--;
        line[ll] = '\0';
        if (!ll) continue;
        /* split keeping empty fields (pyopenjtalk's examples leave the ids empty:
           MeCab then derives them from the part of speech) */
        char *fld[32] = {0};
        int k = 0;
        for (char *p = line; k < 32;) {
            fld[k++] = p;
            char *c = strchr(p, ',');
            if (!c) break;
            *c = '\0';
            p = c + 1;
        }
        int ok = k >= 15 && *fld[0];
        for (int i = 1; ok && i <= 3; i++) {
            char *end;
            strtol(fld[i], &end, 10);
            ok = (i < 3 && !*fld[i]) || (*fld[i] && !*end);
        }
        if (ok) ok = strchr(fld[13], '/') != NULL;
        if (!ok)
            return sbv2_fail(err, SBV2_ERR_FORMAT,
                             "user dictionary %s line %d: want surface,left_id,right_id,cost,pos,pos1,pos2,pos3,ctype,"
                             "cform,orig,read,pron,acc/morae,chain_rule",
                             name, n);
    }
    return SBV2_OK;
}

static int check_user_csv(const char *path, sbv2_error *err) {
    char *buf;
    size_t len;
    int rc = sbv2_read_file(path, (size_t)1 << 30, "user dictionary", &buf, &len, err);
    if (rc == SBV2_OK) rc = sbv2_user_csv_check(buf, len, path, err);
    free(buf);
    return rc;
}

/* Compiles the CSV with libmecab's own dictionary compiler, in a child process
 * so its exit-on-error cannot end the caller's process. */
static int compile_user_dict(const char *dic_dir, const char *csv, char *out, size_t cap, sbv2_error *err) {
    const char *tmp = getenv("TMPDIR");
    snprintf(out, cap, "%s/sbv2-userdic-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(out);
    if (fd < 0) return sbv2_fail(err, SBV2_ERR_IO, "cannot create a temporary file: %s", strerror(errno));
    close(fd);
    pid_t pid = fork();
    if (pid < 0) {
        unlink(out);
        return sbv2_fail(err, SBV2_ERR_IO, "fork failed: %s", strerror(errno));
    }
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) dup2(dn, 1), dup2(dn, 2);
        char *argv[] = {"mecab-dict-index", "-d", (char *)dic_dir, "-u", out, "-f", "utf-8", "-t", "utf-8", (char *)csv, NULL};
        _exit(mecab_dict_index(10, argv) == 0 ? 0 : 1);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        unlink(out);
        return sbv2_fail(err, SBV2_ERR_FORMAT, "MeCab could not compile the user dictionary %s", csv);
    }
    return SBV2_OK;
}

sbv2_frontend *sbv2_frontend_new(const sbv2_frontend_options *options, sbv2_error *err) {
    sbv2_frontend_options o = sbv2_frontend_default_options();
    if (options) {
        if (options->struct_size < sizeof(size_t) || options->struct_size > sizeof o) {
            sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "sbv2_frontend_options.struct_size is wrong");
            return NULL;
        }
        memcpy(&o, options, options->struct_size);
    }
    const char *dir = o.dict_dir ? o.dict_dir : SBV2_DEFAULT_DICDIR;
    char user[4096] = "";
    if (o.user_dict) {
        if (check_user_csv(o.user_dict, err) != SBV2_OK) return NULL;
        if (compile_user_dict(dir, o.user_dict, user, sizeof user, err) != SBV2_OK) return NULL;
    }
    sbv2_frontend *fe = calloc(1, sizeof *fe);
    if (!fe) {
        sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    } else if (jp_mecab_open(&fe->mecab, dir, user[0] ? user : NULL, err) != SBV2_OK) {
        free(fe);
        fe = NULL;
    }
    if (user[0]) unlink(user); /* MeCab has it mapped; the name is not needed any more */
    return fe;
}

void sbv2_frontend_free(sbv2_frontend *fe) {
    if (!fe) return;
    jp_mecab_close(fe->mecab);
    free(fe);
}

int sbv2_g2p(const sbv2_frontend *fe, const char *text, size_t len, int use_jp_extra, sbv2_g2p_result **result,
             sbv2_error *err) {
    if (result) *result = NULL;
    if (!fe || !result || (!text && len)) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "fe, text and result are required");
    g2p_result_impl *r = calloc(1, sizeof *r);
    if (!r) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    njd_list njd = {0};
    int rc = jp_normalize_text(text ? text : "", len, &r->pub.norm_text, err);
    if (rc == SBV2_OK) rc = jp_run_frontend(fe->mecab, r->pub.norm_text, strlen(r->pub.norm_text), &njd, err);
    if (rc == SBV2_OK) rc = jp_g2p_from_njd(&njd, &r->g, err);
    njd_list_free(&njd);
    if (rc == SBV2_OK) {
        const size_t n = 2 * r->g.n_phones + 1, w = r->g.n_word2ph;
        int *tmp = malloc(sizeof(int) * (3 * n + w));
        r->ids = malloc(sizeof(int64_t) * (3 * n + w));
        if (!tmp || !r->ids) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        else rc = jp_g2p_ids(&r->g, use_jp_extra, tmp, tmp + n, tmp + 2 * n, tmp + 3 * n, err);
        if (rc == SBV2_OK)
            for (size_t i = 0; i < 3 * n + w; i++) r->ids[i] = tmp[i];
        free(tmp);
        if (rc == SBV2_OK) {
            r->pub.bert_text = r->g.bert_text;
            r->pub.n_phones = r->g.n_phones, r->pub.phones = r->g.phones, r->pub.tones = r->g.tones;
            r->pub.n_word2ph = w, r->pub.word2ph = r->g.word2ph;
            r->pub.n_ids = n;
            r->pub.phone_ids = r->ids, r->pub.tone_ids = r->ids + n, r->pub.lang_ids = r->ids + 2 * n;
            r->pub.word2ph_blank = r->ids + 3 * n;
        }
    }
    if (rc != SBV2_OK) {
        sbv2_g2p_result_free(&r->pub);
        return rc;
    }
    *result = &r->pub;
    return SBV2_OK;
}

int sbv2_frontend_sep_text(const sbv2_frontend *fe, const char *text, size_t len, char **out, sbv2_error *err) {
    *out = NULL;
    njd_list njd = {0};
    int rc = jp_run_frontend(fe->mecab, text, len, &njd, err);
    size_t cap = 1, n = 0;
    char *buf = rc == SBV2_OK ? malloc(cap) : NULL;
    if (rc == SBV2_OK && !buf) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; rc == SBV2_OK && i < njd.n; i++) {
        char *word = NULL;
        const char *str = njd.w[i].string ? njd.w[i].string : "";
        if ((rc = jp_replace_punctuation(str, strlen(str), &word, err)) != SBV2_OK) break;
        const size_t wl = strlen(word);
        if (n + wl + 1 > cap) {
            char *nb = realloc(buf, (cap = 2 * (n + wl + 1)));
            if (!nb) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
            else buf = nb;
        }
        if (rc == SBV2_OK) memcpy(buf + n, word, wl), n += wl;
        free(word);
    }
    njd_list_free(&njd);
    if (rc != SBV2_OK) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    return SBV2_OK;
}

void sbv2_g2p_result_free(sbv2_g2p_result *result) {
    if (!result) return;
    g2p_result_impl *r = (g2p_result_impl *)result; /* pub is the first member */
    free(r->pub.norm_text);
    jp_g2p_out_free(&r->g);
    free(r->ids);
    free(r);
}
