/* Open JTalk 1.11's njd_set_digit, written from its source: digit runs read
 * as numbers (or digit by digit), counters after numerals (二人, 四日, 三百,
 * 六本 ...) and the accent phrases around them. It works on a linked copy of
 * the word list because it inserts and removes words while it walks. */
#include "text/njd_digit.h"
#include "text/njd_rules.h"

#include <stdlib.h>
#include <string.h>

#define G(x) ((x) ? (x) : "*")

typedef struct dn {
    njd_word w;
    struct dn *prev, *next;
} dn;

typedef struct {
    dn *head, *tail;
    int oom;
} dlist;

#define set njd_set_field
#define load njd_load_word
#define word_free njd_word_free

static dn *insert_after(dlist *l, dn *at, const char *feature) {
    dn *n = calloc(1, sizeof *n);
    if (!n) { l->oom = 1; return at; }
    n->w.chain_flag = -1;
    load(&n->w, feature);
    n->prev = at, n->next = at->next;
    if (at->next) at->next->prev = n;
    else l->tail = n;
    at->next = n;
    return n;
}

static dn *remove_node(dlist *l, dn *n) {
    dn *next = n->next;
    if (n->prev) n->prev->next = n->next;
    else l->head = n->next;
    if (n->next) n->next->prev = n->prev;
    else l->tail = n->prev;
    word_free(&n->w);
    free(n);
    return next;
}

static void remove_silent(dlist *l) {
    for (dn *n = l->head; n;) n = !strcmp(G(n->w.pron), "*") ? remove_node(l, n) : n->next;
}

static int get_digit(dn *n, int convert) {
    if (!strcmp(G(n->w.string), "*")) return -1;
    if (!strcmp(G(n->w.pos_group1), "数"))
        for (int i = 0; njd_digit_numeral_list1[i]; i += 3)
            if (!strcmp(njd_digit_numeral_list1[i], G(n->w.string))) {
                if (convert) set(&n->w.string, njd_digit_numeral_list1[i + 2]), set(&n->w.orig, njd_digit_numeral_list1[i + 2]);
                return atoi(njd_digit_numeral_list1[i + 1]);
            }
    return -1;
}

static int is_period(const char *s) { return s && (!strcmp(s, "．") || !strcmp(s, "・")); }
static int is_comma(const char *s) { return s && !strcmp(s, "，"); }
static int is_hyphen(const char *s) {
    return !strcmp(s, "―") || !strcmp(s, "−") || !strcmp(s, "‐") || !strcmp(s, "—") || !strcmp(s, "－");
}

static int sequence_score(dn *s, dn *e) {
    int score = 0;
    if (s->prev) {
        const char *g1 = G(s->prev->w.pos_group1), *g2 = G(s->prev->w.pos_group2), *str = G(s->prev->w.string);
        if (!strcmp(g1, "数接続")) score += 2;
        if (!strcmp(g2, "助数詞") || !strcmp(g1, "副詞可能")) score += 1;
        if (is_period(str)) {
            if (s->prev->prev && !strcmp(G(s->prev->prev->w.pos_group1), "数")) score -= 5;
        } else if (is_hyphen(str)) {
            score -= 2;
        } else if (!strcmp(str, "（")) {
            if (s->prev->prev && !strcmp(G(s->prev->prev->w.pos_group1), "数")) score -= 2;
        } else if (!strcmp(str, "）") || !strcmp(str, "番号")) {
            score -= 2;
        }
        if (s->prev->prev && !strcmp(G(s->prev->prev->w.string), "番号")) score -= 2;
    }
    if (e->next) {
        const char *g1 = G(e->next->w.pos_group1), *g2 = G(e->next->w.pos_group2), *str = G(e->next->w.string);
        if (!strcmp(g2, "助数詞") || !strcmp(g1, "副詞可能")) score += 2;
        if (is_hyphen(str) || !strcmp(str, "（") || !strcmp(str, "番号")) score -= 2;
        else if (!strcmp(str, "）")) {
            if (e->next->next && !strcmp(G(e->next->next->w.pos_group1), "数")) score -= 2;
        } else if (is_period(str)) score += 4;
    }
    return score;
}

static void non_numerical(dn *s, dn *e) {
    int size = 0;
    for (dn *n = s; n != e->next; n = n->next) size++;
    if (size <= 1) return;
    size = 0;
    for (dn *n = s; n != e->next; n = n->next) {
        const char *str = G(n->w.string);
        if (!strcmp(str, "〇") || !strcmp(str, "０")) set(&n->w.pron, "ゼロ"), n->w.mora_size = 2;
        else if (!strcmp(str, "二")) set(&n->w.pron, "ニー"), n->w.mora_size = 2;
        else if (!strcmp(str, "五")) set(&n->w.pron, "ゴー"), n->w.mora_size = 2;
        set(&n->w.chain_rule, NULL);
        if (size % 2 == 0) n->w.chain_flag = 0;
        else n->w.chain_flag = 1, n->prev->w.acc = 3;
        size++;
    }
}

static void numerical(dlist *l, dn *s, dn *e) {
    int size = 0, have = 0, place = 0;
    for (dn *n = s; n != e->next; n = n->next) size++;
    if (size <= 1) return;
    int index = size % 4;
    if (index == 0) index = 4;
    if (size > index) place = (size - index) / 4;
    index--;
    if (place > 17) return;
    dn *end = e->next;
    for (dn *n = s; n != end; n = n->next) {
        const int digit = get_digit(n, 0);
        if (index == 0) {
            if (digit == 0) set(&n->w.pron, NULL), n->w.acc = 0, n->w.mora_size = 0;
            else have = 1;
            if (have) {
                if (place > 0) n = insert_after(l, n, njd_digit_numeral_list3[place]);
                have = 0;
            }
            place--;
        } else {
            if (digit <= 0) set(&n->w.pron, NULL), n->w.acc = 0, n->w.mora_size = 0;
            else if (digit == 1) load(&n->w, njd_digit_numeral_list2[index]), have = 1;
            else n = insert_after(l, n, njd_digit_numeral_list2[index]), have = 1;
        }
        index--;
        if (index < 0) index = 3;
    }
}

static void convert_sequence(dlist *l, dn *s, dn *e) {
    if (!s || !e) return;
    if (is_comma(s->w.string) || is_period(s->w.string)) {
        if (s != e) convert_sequence(l, s->next, e);
        return;
    }
    dn *fin = s; /* final digit before a period */
    while (fin->next && fin != e && !is_period(fin->next->w.string)) fin = fin->next;
    while (fin->prev && fin != s && is_comma(fin->w.string)) fin = fin->prev;
    int numerical_reading = 1, num_comma = 0;
    dn *first_comma = NULL;
    int rindex = 0;
    for (dn *n = fin;; n = n->prev, rindex++) {
        if (is_comma(n->w.string)) {
            first_comma = n, num_comma++;
            if (numerical_reading == 1 && rindex % 4 != 3) numerical_reading = 0;
        } else if (numerical_reading == 1 && rindex % 4 == 3) {
            numerical_reading = 0;
        }
        if (n == s) break;
    }
    if (s != fin && get_digit(s, 0) == 0) numerical_reading = -1;
    if (numerical_reading == 1 && num_comma == 0) numerical_reading = 0;
    if (numerical_reading == 1) {
        if (num_comma > 0)
            for (dn *n = s; n != fin;) n = is_comma(n->w.string) ? remove_node(l, n) : n->next;
        dn *after = fin != e ? fin->next : NULL;
        numerical(l, s, fin);
        if (after) convert_sequence(l, after, e);
    } else {
        dn *fd = first_comma ? first_comma->prev : fin;
        if (numerical_reading == 0) numerical_reading = sequence_score(s, fd) >= 0 ? 1 : -1;
        dn *after = fd != e ? fd->next : NULL;
        if (numerical_reading == 1) numerical(l, s, fd);
        else non_numerical(s, fd);
        if (after) convert_sequence(l, after, e);
    }
}

static int in_list(const char *const *list, const char *s) {
    if (!strcmp(s, "*")) return 0;
    for (; *list; list++)
        if (!strcmp(*list, s)) return 1;
    return 0;
}

static void digit_pron(const char *const *list, dn *n) {
    const char *s = G(n->w.string);
    if (!strcmp(s, "*")) return;
    for (int i = 0; list[i]; i += 4)
        if (!strcmp(list[i], s)) {
            set(&n->w.pron, list[i + 1]);
            n->w.acc = atoi(list[i + 2]), n->w.mora_size = atoi(list[i + 3]);
            return;
        }
}

static int prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)) ? (int)strlen(p) : -1; }

static void numerative_pron(const char *const *list, dn *n1, dn *n2) {
    const char *s = G(n1->w.string);
    if (!strcmp(s, "*")) return;
    int type = 0;
    for (int i = 0; list[i]; i += 2)
        if (!strcmp(list[i], s)) { type = atoi(list[i + 1]); break; }
    const char *const *tab = type == 1 ? njd_digit_voiced_sound_symbol_list
                             : type == 2 ? njd_digit_semivoiced_sound_symbol_list : NULL;
    if (!tab) return;
    for (int i = 0; tab[i]; i += 2) {
        const char *p = G(n2->w.pron);
        int j = prefix(p, tab[i]);
        if (j >= 0) {
            size_t a = strlen(tab[i + 1]), b = strlen(p + j);
            char *buf = malloc(a + b + 1);
            if (!buf) return;
            memcpy(buf, tab[i + 1], a), memcpy(buf + a, p + j, b + 1);
            set(&n2->w.pron, buf);
            free(buf);
            return;
        }
    }
}

static const char *const *const k_class1[][2] = {
    {njd_digit_numerative_class1b, njd_digit_conv_table1b},   {njd_digit_numerative_class1c1, njd_digit_conv_table1c1},
    {njd_digit_numerative_class1c2, njd_digit_conv_table1c2}, {njd_digit_numerative_class1d, njd_digit_conv_table1d},
    {njd_digit_numerative_class1e, njd_digit_conv_table1e},   {njd_digit_numerative_class1f, njd_digit_conv_table1f},
    {njd_digit_numerative_class1g, njd_digit_conv_table1g},   {njd_digit_numerative_class1h, njd_digit_conv_table1h},
    {njd_digit_numerative_class1i, njd_digit_conv_table1i},   {njd_digit_numerative_class1j, njd_digit_conv_table1j},
    {njd_digit_numerative_class1k, njd_digit_conv_table1k}};
static const char *const *const k_class2[][2] = {
    {njd_digit_numerative_class2b, njd_digit_conv_table2b}, {njd_digit_numerative_class2c, njd_digit_conv_table2c},
    {njd_digit_numerative_class2d, njd_digit_conv_table2d}, {njd_digit_numerative_class2e, njd_digit_conv_table2e},
    {njd_digit_numerative_class2f, njd_digit_conv_table2f}};

static void run(dlist *l) {
    dn *s = NULL, *e = NULL;
    int find = 0;
    for (dn *n = l->head; n; n = n->next) {
        if (!find && !strcmp(G(n->w.pos_group1), "数")) find = 1;
        if (get_digit(n, 1) >= 0 ||
            (!strcmp(G(n->w.pos_group1), "数") && (is_period(n->w.string) || is_comma(n->w.string)))) {
            if (!s) s = n;
            if (n == l->tail) e = n;
        } else if (s) {
            e = n->prev;
        }
        if (s && e) {
            convert_sequence(l, s, e);
            s = e = NULL;
        }
    }
    if (!find) return;
    remove_silent(l);
    if (!l->head) return;
    for (dn *n = l->head->next; n && n->next;) {
        if (strcmp(G(n->w.string), "*") && strcmp(G(n->prev->w.string), "*") && is_period(n->w.string) &&
            !strcmp(G(n->prev->w.pos_group1), "数") && !strcmp(G(n->next->w.pos_group1), "数")) {
            load(&n->w, "．,名詞,接尾,助数詞,*,*,*,．,テン,テン,0/2,*,-1");
            n->w.chain_flag = 1;
            const char *ps = G(n->prev->w.string);
            if (!strcmp(ps, "〇") || !strcmp(ps, "０")) set(&n->prev->w.pron, "レー"), n->prev->w.mora_size = 2;
            else if (!strcmp(ps, "二")) set(&n->prev->w.pron, "ニー"), n->prev->w.mora_size = 2;
            else if (!strcmp(ps, "五")) set(&n->prev->w.pron, "ゴー"), n->prev->w.mora_size = 2;
            else if (!strcmp(ps, "六")) n->prev->w.acc = 1;
            n = n->next;
            while (n && !strcmp(G(n->w.pos), "名詞")) n = n->next;
            if (n) n = n->next;
        } else {
            n = n->next;
        }
    }
    for (dn *n = l->head->next; n; n = n->next) {
        if (strcmp(G(n->prev->w.pos_group1), "数")) continue;
        if (!strcmp(G(n->w.pos_group2), "助数詞") || !strcmp(G(n->w.pos_group1), "副詞可能")) {
            for (size_t k = 0; k < sizeof k_class1 / sizeof k_class1[0]; k++)
                if (in_list(k_class1[k][0], G(n->w.string))) { digit_pron(k_class1[k][1], n->prev); break; }
            for (size_t k = 0; k < sizeof k_class2 / sizeof k_class2[0]; k++)
                if (in_list(k_class2[k][0], G(n->w.string))) { numerative_pron(k_class2[k][1], n->prev, n); break; }
            n->prev->w.chain_flag = 0, n->w.chain_flag = 1;
        }
    }
    for (dn *n = l->head->next; n; n = n->next) {
        if (strcmp(G(n->prev->w.pos_group1), "数")) continue;
        if (!strcmp(G(n->w.pos_group1), "数")) {
            const char *ps = G(n->prev->w.string), *s2 = G(n->w.string);
            int found = 0;
            for (int i = 0; njd_digit_numeral_list4[i]; i++)
                if (!strcmp(ps, njd_digit_numeral_list4[i])) {
                    for (int j = 0; njd_digit_numeral_list5[j]; j++)
                        if (!strcmp(s2, njd_digit_numeral_list5[j])) {
                            n->prev->w.chain_flag = 0, n->w.chain_flag = 1, found = 1;
                            break;
                        }
                    break;
                }
            if (!found)
                for (int i = 0; njd_digit_numeral_list5[i]; i++)
                    if (!strcmp(ps, njd_digit_numeral_list5[i])) {
                        for (int j = 0; njd_digit_numeral_list4[j]; j++)
                            if (!strcmp(s2, njd_digit_numeral_list4[j])) { n->w.chain_flag = 0; break; }
                        break;
                    }
        }
        if (in_list(njd_digit_numeral_list8, G(n->w.string))) digit_pron(njd_digit_numeral_list9, n->prev);
        if (in_list(njd_digit_numeral_list10, G(n->w.string))) digit_pron(njd_digit_numeral_list11, n->prev);
        if (in_list(njd_digit_numeral_list6, G(n->w.string))) numerative_pron(njd_digit_numeral_list7, n->prev, n);
    }
    for (dn *n = l->head; n; n = n->next) {
        if (!n->next || !strcmp(G(n->next->w.string), "*") || strcmp(G(n->w.pos_group1), "数")) continue;
        if (!(n->prev == NULL || !strcmp(G(n->prev->w.pos), "記号") || strcmp(G(n->prev->w.pos_group1), "数"))) continue;
        if (strcmp(G(n->next->w.pos_group2), "助数詞") && strcmp(G(n->next->w.pos_group1), "副詞可能")) continue;
        const char *ns = G(n->next->w.string);
        for (int i = 0; njd_digit_numerative_class3[i]; i += 2)
            if (!strcmp(ns, njd_digit_numerative_class3[i]) && !strcmp(G(n->next->w.read), njd_digit_numerative_class3[i + 1])) {
                for (int j = 0; njd_digit_conv_table3[j]; j += 4)
                    if (!strcmp(G(n->w.string), njd_digit_conv_table3[j])) {
                        set(&n->w.read, njd_digit_conv_table3[j + 1]), set(&n->w.pron, njd_digit_conv_table3[j + 1]);
                        n->w.acc = atoi(njd_digit_conv_table3[j + 2]), n->w.mora_size = atoi(njd_digit_conv_table3[j + 3]);
                        break;
                    }
                break;
            }
        if (!strcmp(ns, "人"))
            for (int i = 0; njd_digit_conv_table4[i]; i += 2)
                if (!strcmp(G(n->w.string), njd_digit_conv_table4[i])) {
                    load(&n->w, njd_digit_conv_table4[i + 1]);
                    set(&n->next->w.pron, NULL);
                    break;
                }
        if (!strcmp(ns, "日") && strcmp(G(n->w.string), "*")) {
            if (n->prev && strstr(G(n->prev->w.string), "月") && !strcmp(G(n->w.string), "一")) {
                load(&n->w, "一日,名詞,副詞可能,*,*,*,*,一日,ツイタチ,ツイタチ,4/4,*");
                set(&n->next->w.pron, NULL);
            } else {
                for (int i = 0; njd_digit_conv_table5[i]; i += 2)
                    if (!strcmp(G(n->w.string), njd_digit_conv_table5[i])) {
                        load(&n->w, njd_digit_conv_table5[i + 1]);
                        set(&n->next->w.pron, NULL);
                        break;
                    }
            }
        } else if (!strcmp(ns, "日間")) {
            for (int i = 0; njd_digit_conv_table6[i]; i += 2)
                if (!strcmp(G(n->w.string), njd_digit_conv_table6[i])) {
                    load(&n->w, njd_digit_conv_table6[i + 1]);
                    set(&n->next->w.pron, NULL);
                    break;
                }
        }
    }
    for (dn *n = l->head; n; n = n->next) {
        if (!((n->prev == NULL || strcmp(G(n->prev->w.pos_group1), "数")) && n->next && n->next->next)) continue;
        const char *s0 = G(n->w.string), *s1 = G(n->next->w.string), *s2 = G(n->next->next->w.string);
        if (!strcmp(s0, "十") && !strcmp(s1, "四")) {
            if (!strcmp(s2, "日")) {
                load(&n->w, "十四日,名詞,副詞可能,*,*,*,*,十四日,ジュウヨッカ,ジューヨッカ,1/5,*");
                set(&n->next->w.pron, NULL), set(&n->next->next->w.pron, NULL);
            } else if (!strcmp(s2, "日間")) {
                load(&n->w, "十四日間,名詞,副詞可能,*,*,*,*,十四日間,ジュウヨッカカン,ジューヨッカカン,5/7,*");
                set(&n->next->w.pron, NULL), set(&n->next->next->w.pron, NULL);
            }
        } else if (!strcmp(s0, "二") && !strcmp(s1, "十")) {
            if (!strcmp(s2, "日")) {
                load(&n->w, "二十日,名詞,副詞可能,*,*,*,*,二十日,ハツカ,ハツカ,0/3,*");
                set(&n->next->w.pron, NULL), set(&n->next->next->w.pron, NULL);
            } else if (!strcmp(s2, "日間")) {
                load(&n->w, "二十日間,名詞,副詞可能,*,*,*,*,二十日間,ハツカカン,ハツカカン,3/5,*");
                set(&n->next->w.pron, NULL), set(&n->next->next->w.pron, NULL);
            } else if (!strcmp(s2, "四") && n->next->next->next) {
                const char *s3 = G(n->next->next->next->w.string);
                if (!strcmp(s3, "日")) {
                    load(&n->w, "二十,名詞,副詞可能,*,*,*,*,二十,ニジュウ,ニジュー,1/3,*");
                    load(&n->next->w, "四日,名詞,副詞可能,*,*,*,*,四日,ヨッカ,ヨッカ,0/3,*,0");
                    set(&n->next->next->w.pron, NULL), set(&n->next->next->next->w.pron, NULL);
                } else if (!strcmp(s3, "日間")) {
                    load(&n->w, "二十,名詞,副詞可能,*,*,*,*,二十,ニジュウ,ニジュー,1/3,*");
                    load(&n->next->w, "四日間,名詞,副詞可能,*,*,*,*,四日間,ヨッカカン,ヨッカカン,3/5,*,0");
                    set(&n->next->next->w.pron, NULL), set(&n->next->next->next->w.pron, NULL);
                }
            }
        }
    }
    remove_silent(l);
}

int njd_set_digit(njd_list *l) {
    dlist d = {0};
    for (size_t i = 0; i < l->n; i++) {
        dn *n = calloc(1, sizeof *n);
        if (!n) {
            for (dn *m = d.head; m;) { dn *x = m->next; free(m); m = x; }
            return -1;
        }
        n->w = l->w[i];
        n->prev = d.tail;
        if (d.tail) d.tail->next = n;
        else d.head = n;
        d.tail = n;
    }
    run(&d);
    size_t cnt = 0;
    for (dn *n = d.head; n; n = n->next) cnt++;
    njd_word *w = malloc((cnt ? cnt : 1) * sizeof *w);
    if (!w) {
        for (dn *n = d.head; n;) n = remove_node(&d, n);
        free(l->w);
        l->w = NULL, l->n = 0;
        return -1;
    }
    size_t i = 0;
    for (dn *n = d.head; n;) {
        dn *x = n->next;
        w[i++] = n->w;
        free(n);
        n = x;
    }
    free(l->w);
    l->w = w, l->n = cnt;
    return d.oom ? -1 : 0;
}
