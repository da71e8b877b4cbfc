/* MeCab (libmecab) over Open JTalk's NAIST-JDIC, text2mecab's full-width
 * conversion before it, and the NJD steps after it. */
#include "text/jp_mecab.h"

#include <mecab.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/njd_rules.h"
#include "text/utf8.h"

#ifndef SBV2_DEFAULT_DICDIR
#define SBV2_DEFAULT_DICDIR "/usr/share/sbv2/dic"
#endif

struct jp_mecab {
    mecab_model_t *model;
};

int jp_mecab_open(jp_mecab **out, const char *dic_dir, const char *user_dic, sbv2_error *err) {
    *out = NULL;
    const char *dir = dic_dir ? dic_dir : SBV2_DEFAULT_DICDIR;
    char arg[4096];
    if (user_dic) snprintf(arg, sizeof arg, "-d %s -u %s", dir, user_dic);
    else snprintf(arg, sizeof arg, "-d %s", dir);
    jp_mecab *m = calloc(1, sizeof *m);
    if (!m) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    m->model = mecab_model_new2(arg);
    if (!m->model) {
        free(m);
        return sbv2_fail(err, SBV2_ERR_IO, "cannot open the MeCab dictionary in %s: %s", dir, mecab_strerror(NULL));
    }
    *out = m;
    return SBV2_OK;
}

void jp_mecab_close(jp_mecab *m) {
    if (!m) return;
    mecab_model_destroy(m->model);
    free(m);
}

/* text2mecab: ASCII to its full-width forms (a few to look-alikes), other
 * ASCII/control bytes dropped, half-width katakana to full width. */
static void text2mecab(const char *s, size_t n, sbuf *o) {
    for (size_t i = 0; i < n;) {
        const unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (c == ' ') sb_adds(o, "　");
            else if (c == '"') sb_adds(o, "”");
            else if (c == '\'') sb_adds(o, "’");
            else if (c == '-') sb_adds(o, "−");
            else if (c == '\\') sb_adds(o, "￥");
            else if (c == '`') sb_adds(o, "‘");
            else if (c == '~') sb_adds(o, "〜");
            else if (c > 0x20 && c < 0x7f) sb_addcp(o, 0xff01 + (c - 0x21));
            i++;
            continue;
        }
        uint32_t cp;
        size_t l = utf8_decode(s + i, n - i, &cp);
        if (!l) { i++; continue; }
        if (cp >= 0xff61 && cp <= 0xff9f) {
            /* half-width katakana: with a following (han)dakuten when they compose */
            uint32_t nx = 0;
            size_t l2 = i + l < n ? utf8_decode(s + i + l, n - i - l, &nx) : 0;
            if (cp == 0xff9e || cp == 0xff9f) { i += l; continue; } /* a lone mark is dropped */
            char pair[9];
            size_t pl = utf8_encode(cp, pair);
            size_t take = l;
            if (l2 && (nx == 0xff9e || nx == 0xff9f)) pl += utf8_encode(nx, pair + pl), take += l2;
            pair[pl] = '\0';
            char *nf = (char *)utf8proc_NFKC((const utf8proc_uint8_t *)pair);
            if (nf && utf8_count(nf) == 1) {
                sb_adds(o, nf);
                i += take;
            } else {
                char one[5];
                one[utf8_encode(cp, one)] = '\0';
                free(nf);
                nf = (char *)utf8proc_NFKC((const utf8proc_uint8_t *)one);
                if (nf) sb_adds(o, nf);
                i += l;
            }
            free(nf);
            continue;
        }
        sb_add(o, s + i, l);
        i += l;
    }
}

int jp_run_frontend(const jp_mecab *m, const char *text, size_t len, njd_list *out, sbv2_error *err) {
    memset(out, 0, sizeof *out);
    sbuf t = {0};
    sb_add(&t, "", 0);
    text2mecab(text, len, &t);
    if (t.oom) { free(t.p); return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); }
    mecab_t *tagger = mecab_model_new_tagger(m->model);
    mecab_lattice_t *lat = mecab_model_new_lattice(m->model);
    int rc = SBV2_OK;
    if (!tagger || !lat) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "cannot create a MeCab tagger"); goto done; }
    mecab_lattice_set_sentence(lat, t.p);
    if (!mecab_parse_lattice(tagger, lat)) { rc = sbv2_fail(err, SBV2_ERR_INTERNAL, "MeCab failed: %s", mecab_lattice_strerror(lat)); goto done; }
    for (const mecab_node_t *nd = mecab_lattice_get_bos_node(lat); nd; nd = nd->next) {
        if (nd->stat == MECAB_BOS_NODE || nd->stat == MECAB_EOS_NODE) continue;
        sbuf line = {0};
        sb_add(&line, nd->surface, nd->length);
        sb_adds(&line, ",");
        sb_adds(&line, nd->feature ? nd->feature : "");
        int bad = line.oom || njd_push_mecab(out, line.p);
        free(line.p);
        if (bad) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto done; }
    }
    if (njd_apply_rules(out) || njd_finish(out)) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
done:
    if (rc != SBV2_OK) njd_list_free(out);
    if (lat) mecab_lattice_destroy(lat);
    if (tagger) mecab_destroy(tagger);
    free(t.p);
    return rc;
}
