/* MeCab with Open JTalk's dictionary, and pyopenjtalk.run_frontend(). */
#ifndef SBV2_JP_MECAB_H
#define SBV2_JP_MECAB_H

#include <stddef.h>

#include "common.h"
#include "text/njd.h"

typedef struct jp_mecab jp_mecab; /* immutable after open; shareable between threads */

/* dic_dir: a MeCab dictionary directory (sys.dic, matrix.bin, char.bin,
 * unk.dic and a dicrc); NULL = the one this build set up. user_dic: a
 * compiled MeCab user dictionary (.dic) or NULL. */
int jp_mecab_open(jp_mecab **out, const char *dic_dir, const char *user_dic, sbv2_error *err);
void jp_mecab_close(jp_mecab *m);
/* = pyopenjtalk.run_frontend(text) (text: UTF-8, normalised by SBV2). */
int jp_run_frontend(const jp_mecab *m, const char *text, size_t len, njd_list *out, sbv2_error *err);

#endif
