/* Data tables of the Japanese frontend: SBV2's symbol table (symbols.py)
 * and katakana mora table (mora_list.py, the same moras as Open JTalk's
 * jpcommon list, which spells ッ "cl" where SBV2 writes "q"). */
#include "text/jp_tables.h"

const char *const jp_symbols[JP_N_SYMBOLS] = {
    "_", "AA", "E", "EE", "En", "N", "OO", "V", "a", "a:", "aa", "ae", "ah", "ai", "an", "ang", "ao", "aw",
    "ay", "b", "by", "c", "ch", "d", "dh", "dy", "e", "e:", "eh", "ei", "en", "eng", "er", "ey", "f", "g",
    "gy", "h", "hh", "hy", "i", "i0", "i:", "ia", "ian", "iang", "iao", "ie", "ih", "in", "ing", "iong", "ir",
    "iu", "iy", "j", "jh", "k", "ky", "l", "m", "my", "n", "ng", "ny", "o", "o:", "ong", "ou", "ow", "oy",
    "p", "py", "q", "r", "ry", "s", "sh", "t", "th", "ts", "ty", "u", "u:", "ua", "uai", "uan", "uang", "uh",
    "ui", "un", "uo", "uw", "v", "van", "ve", "vn", "w", "x", "y", "z", "zh", "zy", "!", "?", "…", ",", ".",
    "'", "-", "SP", "UNK",
};

/* longest katakana first, so the first prefix match is the longest */
const jp_mora jp_moras[JP_N_MORAS] = {
    {"イェ", "y", "e"}, {"ウィ", "w", "i"}, {"ウェ", "w", "e"}, {"ウォ", "w", "o"}, {"キェ", "ky", "e"},
    {"キャ", "ky", "a"}, {"キュ", "ky", "u"}, {"キョ", "ky", "o"}, {"ギェ", "gy", "e"}, {"ギャ", "gy", "a"},
    {"ギュ", "gy", "u"}, {"ギョ", "gy", "o"}, {"クヮ", "kw", "a"}, {"グヮ", "gw", "a"}, {"シェ", "sh", "e"},
    {"シャ", "sh", "a"}, {"シュ", "sh", "u"}, {"ショ", "sh", "o"}, {"ジェ", "j", "e"}, {"ジャ", "j", "a"},
    {"ジュ", "j", "u"}, {"ジョ", "j", "o"}, {"スィ", "s", "i"}, {"ズィ", "z", "i"}, {"チェ", "ch", "e"},
    {"チャ", "ch", "a"}, {"チュ", "ch", "u"}, {"チョ", "ch", "o"}, {"ツァ", "ts", "a"}, {"ツィ", "ts", "i"},
    {"ツェ", "ts", "e"}, {"ツォ", "ts", "o"}, {"ティ", "t", "i"}, {"テャ", "ty", "a"}, {"テュ", "ty", "u"},
    {"テョ", "ty", "o"}, {"ディ", "d", "i"}, {"デャ", "dy", "a"}, {"デュ", "dy", "u"}, {"デョ", "dy", "o"},
    {"トゥ", "t", "u"}, {"ドゥ", "d", "u"}, {"ニェ", "ny", "e"}, {"ニャ", "ny", "a"}, {"ニュ", "ny", "u"},
    {"ニョ", "ny", "o"}, {"ヒェ", "hy", "e"}, {"ヒャ", "hy", "a"}, {"ヒュ", "hy", "u"}, {"ヒョ", "hy", "o"},
    {"ビェ", "by", "e"}, {"ビャ", "by", "a"}, {"ビュ", "by", "u"}, {"ビョ", "by", "o"}, {"ピェ", "py", "e"},
    {"ピャ", "py", "a"}, {"ピュ", "py", "u"}, {"ピョ", "py", "o"}, {"ファ", "f", "a"}, {"フィ", "f", "i"},
    {"フェ", "f", "e"}, {"フォ", "f", "o"}, {"ミェ", "my", "e"}, {"ミャ", "my", "a"}, {"ミュ", "my", "u"},
    {"ミョ", "my", "o"}, {"リェ", "ry", "e"}, {"リャ", "ry", "a"}, {"リュ", "ry", "u"}, {"リョ", "ry", "o"},
    {"ヴァ", "v", "a"}, {"ヴィ", "v", "i"}, {"ヴェ", "v", "e"}, {"ヴォ", "v", "o"}, {"ヴャ", "by", "a"},
    {"ヴュ", "by", "u"}, {"ヴョ", "by", "o"}, {"ァ", NULL, "a"}, {"ア", NULL, "a"}, {"ィ", NULL, "i"},
    {"イ", NULL, "i"}, {"ゥ", NULL, "u"}, {"ウ", NULL, "u"}, {"ェ", NULL, "e"}, {"エ", NULL, "e"},
    {"ォ", NULL, "o"}, {"オ", NULL, "o"}, {"カ", "k", "a"}, {"ガ", "g", "a"}, {"キ", "k", "i"}, {"ギ", "g", "i"},
    {"ク", "k", "u"}, {"グ", "g", "u"}, {"ケ", "k", "e"}, {"ゲ", "g", "e"}, {"コ", "k", "o"}, {"ゴ", "g", "o"},
    {"サ", "s", "a"}, {"ザ", "z", "a"}, {"シ", "sh", "i"}, {"ジ", "j", "i"}, {"ス", "s", "u"}, {"ズ", "z", "u"},
    {"セ", "s", "e"}, {"ゼ", "z", "e"}, {"ソ", "s", "o"}, {"ゾ", "z", "o"}, {"タ", "t", "a"}, {"ダ", "d", "a"},
    {"チ", "ch", "i"}, {"ヂ", "j", "i"}, {"ッ", NULL, "q"}, {"ツ", "ts", "u"}, {"ヅ", "z", "u"}, {"テ", "t", "e"},
    {"デ", "d", "e"}, {"ト", "t", "o"}, {"ド", "d", "o"}, {"ナ", "n", "a"}, {"ニ", "n", "i"}, {"ヌ", "n", "u"},
    {"ネ", "n", "e"}, {"ノ", "n", "o"}, {"ハ", "h", "a"}, {"バ", "b", "a"}, {"パ", "p", "a"}, {"ヒ", "h", "i"},
    {"ビ", "b", "i"}, {"ピ", "p", "i"}, {"フ", "f", "u"}, {"ブ", "b", "u"}, {"プ", "p", "u"}, {"ヘ", "h", "e"},
    {"ベ", "b", "e"}, {"ペ", "p", "e"}, {"ホ", "h", "o"}, {"ボ", "b", "o"}, {"ポ", "p", "o"}, {"マ", "m", "a"},
    {"ミ", "m", "i"}, {"ム", "m", "u"}, {"メ", "m", "e"}, {"モ", "m", "o"}, {"ャ", "y", "a"}, {"ヤ", "y", "a"},
    {"ュ", "y", "u"}, {"ユ", "y", "u"}, {"ョ", "y", "o"}, {"ヨ", "y", "o"}, {"ラ", "r", "a"}, {"リ", "r", "i"},
    {"ル", "r", "u"}, {"レ", "r", "e"}, {"ロ", "r", "o"}, {"ヮ", "w", "a"}, {"ワ", "w", "a"}, {"ヰ", NULL, "i"},
    {"ヱ", NULL, "e"}, {"ヲ", NULL, "o"}, {"ン", NULL, "N"}, {"ヴ", "v", "u"}, {"ヶ", "k", "e"},
};

#include <string.h>

int jp_symbol_id(const char *ph) {
    for (int i = 0; i < JP_N_SYMBOLS; i++)
        if (!strcmp(jp_symbols[i], ph)) return i;
    return -1;
}

const jp_mora *jp_mora_prefix(const char *s, size_t *len) {
    for (int i = 0; i < JP_N_MORAS; i++) {
        size_t n = strlen(jp_moras[i].kata);
        if (!strncmp(s, jp_moras[i].kata, n)) {
            *len = n;
            return &jp_moras[i];
        }
    }
    return NULL;
}

/* phones the frontend makes that are not in the symbol table */
static const char *const k_extra_phones[] = {"cl", "gw", "kw", "pau", "ー"};

const char *jp_phone_intern(const char *s, size_t len) {
    for (int i = 0; i < JP_N_SYMBOLS; i++)
        if (strlen(jp_symbols[i]) == len && !strncmp(jp_symbols[i], s, len)) return jp_symbols[i];
    for (size_t i = 0; i < sizeof k_extra_phones / sizeof k_extra_phones[0]; i++)
        if (strlen(k_extra_phones[i]) == len && !strncmp(k_extra_phones[i], s, len)) return k_extra_phones[i];
    return NULL;
}
