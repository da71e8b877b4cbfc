/* Open JTalk 1.11's NJD steps (njd_node.c loading, njd_set_pronunciation,
 * njd_set_accent_phrase, njd_set_accent_type), written from its sources. */
#include "text/njd_rules.h"

#include "text/njd_digit.h"

#include <stdlib.h>
#include <string.h>

/* getters see NULL as "*", as NJDNode_get_* do */
#define G(x) ((x) ? (x) : "*")

static char *dupn(const char *s) { return s && *s ? strdup(s) : NULL; }

/* Accent types, mora counts and rule offsets come from dictionary text (a
 * user dictionary may hold any number): parsed as atoi() reads them, but
 * held to +-2^20, and summed saturating at +-2^30, so no arithmetic on them
 * can overflow. Real values are below 100. */
#define NJD_NUM_MAX (1 << 20)
#define NJD_SUM_MAX (1 << 30)
static int njd_atoi(const char *s) {
    while (*s == ' ' || (*s >= '\t' && *s <= '\r')) s++;
    const int neg = *s == '-';
    if (*s == '-' || *s == '+') s++;
    long v = 0;
    for (; *s >= '0' && *s <= '9' && v <= NJD_NUM_MAX; s++) v = v * 10 + (*s - '0');
    if (v > NJD_NUM_MAX) v = NJD_NUM_MAX;
    return (int)(neg ? -v : v);
}
static int sat_add(int a, int b) {
    const long long v = (long long)a + b;
    return v > NJD_SUM_MAX ? NJD_SUM_MAX : v < -NJD_SUM_MAX ? -NJD_SUM_MAX : (int)v;
}
void njd_set_field(char **f, const char *s) {
    char *n = dupn(s);
    free(*f);
    *f = n;
}
#define set njd_set_field
static void add(char **f, const char *s) {
    if (!s || !*s) return;
    if (!*f) { *f = strdup(s); return; }
    size_t a = strlen(*f), b = strlen(s);
    char *n = realloc(*f, a + b + 1);
    if (!n) return;
    memcpy(n + a, s, b + 1);
    *f = n;
}
void njd_word_free(njd_word *w) {
    free(w->string), free(w->pos), free(w->pos_group1), free(w->pos_group2), free(w->pos_group3);
    free(w->ctype), free(w->cform), free(w->orig), free(w->read), free(w->pron), free(w->chain_rule);
}
#define free_word njd_word_free

static njd_word *push(njd_list *l) {
    njd_word *w = realloc(l->w, (l->n + 1) * sizeof *w);
    if (!w) return NULL;
    l->w = w;
    memset(&w[l->n], 0, sizeof *w);
    w[l->n].chain_flag = -1;
    return &w[l->n++];
}

/* token up to d (or the end); *i moves past d */
static void tok(const char *s, size_t *i, char *buf, size_t cap, char d) {
    size_t k = 0;
    while (s[*i] && s[*i] != d) {
        if (k + 1 < cap) buf[k++] = s[*i];
        (*i)++;
    }
    if (s[*i] == d) (*i)++;
    buf[k] = '\0';
}

enum { FB = 1024 };
/* a feature line's 13 comma-separated fields */
typedef struct { char str[FB], pos[FB], g1[FB], g2[FB], g3[FB], ct[FB], cf[FB], orig[FB], read[FB], pron[FB], acc[FB], rule[FB], flag[FB]; } fields;

static int parse_fields(const char *line, fields *f, njd_word *w) {
    char *dst[13] = {f->str, f->pos, f->g1, f->g2, f->g3, f->ct, f->cf, f->orig, f->read, f->pron, f->acc, f->rule, f->flag};
    size_t i = 0;
    for (int k = 0; k < 13; k++) tok(line, &i, dst[k], FB, ',');
    set(&w->pos, f->pos), set(&w->pos_group1, f->g1), set(&w->pos_group2, f->g2), set(&w->pos_group3, f->g3);
    set(&w->ctype, f->ct), set(&w->cform, f->cf), set(&w->chain_rule, f->rule);
    if (!strcmp(f->flag, "1")) w->chain_flag = 1;
    else if (!strcmp(f->flag, "0")) w->chain_flag = 0;
    int count = 0;
    for (const char *p = f->acc; *p; p++) count += *p == '/';
    if (strchr(f->acc, '*') || count == 0) { /* symbol */
        set(&w->string, f->str), set(&w->orig, f->orig), set(&w->read, f->read), set(&w->pron, f->pron);
        w->acc = 0, w->mora_size = 0;
        return 0;
    }
    return count;
}

void njd_load_word(njd_word *w, const char *line) {
    fields *f = malloc(sizeof *f);
    if (!f) return;
    if (parse_fields(line, f, w) > 0) {
        size_t a = 0;
        char t[FB];
        set(&w->string, f->str), set(&w->orig, f->orig), set(&w->read, f->read), set(&w->pron, f->pron);
        tok(f->acc, &a, t, FB, '/'), w->acc = t[0] ? njd_atoi(t) : 0;
        tok(f->acc, &a, t, FB, ':'), w->mora_size = t[0] ? njd_atoi(t) : 0;
        if (w->acc < 0) w->acc = 0;
    }
    free(f);
}

int njd_push_mecab(njd_list *l, const char *line) {
    enum { B = FB };
    njd_word *w = push(l);
    fields *f = malloc(sizeof *f);
    if (!w || !f) { free(f); return -1; }
    const int count = parse_fields(line, f, w);
    char *str = f->str, *orig = f->orig, *read = f->read, *pron = f->pron, *acc = f->acc;
    size_t is = 0, io = 0, ir = 0, ip = 0, ia = 0;
    char buf[B];
    for (int k = 0; k < count; k++) {
        if (k > 0) {
            const size_t prev = l->n - 1;
            njd_word *n = push(l);
            if (!n) { free(f); return -1; }
            njd_word *p = &l->w[prev];
            n->pos = dupn(p->pos), n->pos_group1 = dupn(p->pos_group1), n->pos_group2 = dupn(p->pos_group2);
            n->pos_group3 = dupn(p->pos_group3), n->ctype = dupn(p->ctype), n->cform = dupn(p->cform);
            n->chain_rule = dupn(p->chain_rule), n->chain_flag = 0;
            w = n;
        }
        tok(orig, &io, buf, B, ':');
        set(&w->orig, buf);
        if (k + 1 < count) {
            set(&w->string, buf);
            is += strlen(buf);
        } else {
            set(&w->string, is < strlen(str) ? str + is : "");
        }
        tok(read, &ir, buf, B, ':'), set(&w->read, buf);
        tok(pron, &ip, buf, B, ':'), set(&w->pron, buf);
        tok(acc, &ia, buf, B, '/'), w->acc = buf[0] ? njd_atoi(buf) : 0;
        tok(acc, &ia, buf, B, ':'), w->mora_size = buf[0] ? njd_atoi(buf) : 0;
        if (w->acc < 0) w->acc = 0;
    }
    free(f);
    return 0;
}

/* drops words whose pron is unset (NJD_remove_silent_node) */
static void remove_silent(njd_list *l) {
    size_t o = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!strcmp(G(l->w[i].pron), "*")) { free_word(&l->w[i]); continue; }
        l->w[o++] = l->w[i];
    }
    l->n = o;
}

static const njd_kana *kana_prefix(const char *s, size_t *len) {
    for (int i = 0; i < NJD_N_KANA; i++) {
        size_t n = strlen(njd_kana_list[i].kana);
        if (n && !strncmp(s, njd_kana_list[i].kana, n)) { *len = n; return &njd_kana_list[i]; }
    }
    return NULL;
}

static void set_pronunciation(njd_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        njd_word *w = &l->w[i];
        if (w->mora_size != 0) continue;
        set(&w->read, NULL), set(&w->pron, NULL);
        const char *s = G(w->string);
        for (size_t p = 0, n = strlen(s); p < n;) {
            size_t k;
            const njd_kana *e = kana_prefix(s + p, &k);
            if (e) {
                add(&w->read, e->read), add(&w->pron, e->read);
                w->mora_size += e->morae;
                p += k;
            } else {
                p++;
            }
        }
        if (w->mora_size != 0) { /* kana the dictionary did not know: a filler */
            set(&w->pos, "フィラー"), set(&w->pos_group1, NULL), set(&w->pos_group2, NULL), set(&w->pos_group3, NULL);
        }
        if (!strcmp(G(w->orig), "*")) set(&w->orig, s);
        if (!strcmp(G(w->pron), "*") && !strcmp(G(w->string), "？")) set(&w->read, "？"), set(&w->pron, "？");
        if (!strcmp(G(w->pron), "*")) set(&w->read, "、"), set(&w->pron, "、"), set(&w->pos, "記号");
    }
    remove_silent(l);
    /* runs of kana fillers become one word */
    size_t head = (size_t)-1;
    for (size_t i = 0; i < l->n; i++) {
        njd_word *w = &l->w[i];
        int find = 0;
        if (!strcmp(G(w->pos), "フィラー")) {
            for (int k = 0; k < NJD_N_KANA; k++)
                if (!strcmp(G(w->string), njd_kana_list[k].kana)) { find = 1; break; }
            if (find) {
                if (head == (size_t)-1) head = i;
                else {
                    njd_word *h = &l->w[head];
                    add(&h->string, w->string), add(&h->orig, w->orig), add(&h->read, w->read), add(&h->pron, w->pron);
                    h->mora_size = sat_add(h->mora_size, w->mora_size);
                    set(&w->pron, NULL);
                }
            }
        }
        if (!find) head = (size_t)-1;
    }
    remove_silent(l);
    for (size_t i = 0; i + 1 < l->n; i++) {
        njd_word *w = &l->w[i], *n = &l->w[i + 1];
        if (!strcmp(G(n->pron), "ウ") && !strcmp(G(n->pos), "助動詞") &&
            (!strcmp(G(w->pos), "動詞") || !strcmp(G(w->pos), "助動詞")) && w->mora_size > 0)
            set(&n->pron, "ー");
        if (!strcmp(G(w->pos), "助動詞") && !strcmp(G(n->string), "？")) {
            if (!strcmp(G(w->string), "です")) set(&w->pron, "デス");
            else if (!strcmp(G(w->string), "ます")) set(&w->pron, "マス");
        }
    }
}

#define IS(f, s) (!strcmp(G(f), (s)))
static void set_accent_phrase(njd_list *l) {
    for (size_t i = 1; i < l->n; i++) {
        njd_word *n = &l->w[i], *p = &l->w[i - 1];
        if (n->chain_flag >= 0) continue;
        int f = 1;
        if (IS(p->pos, "名詞") && IS(n->pos, "名詞")) f = 1;
        if (IS(p->pos, "形容詞") && IS(n->pos, "名詞")) f = 0;
        if (IS(p->pos, "名詞") && IS(p->pos_group1, "形容動詞語幹") && IS(n->pos, "名詞")) f = 0;
        if (IS(p->pos, "動詞") && (IS(n->pos, "形容詞") || IS(n->pos, "名詞"))) f = 0;
        if (IS(n->pos, "副詞") || IS(p->pos, "副詞") || IS(n->pos, "接続詞") || IS(p->pos, "接続詞") ||
            IS(n->pos, "連体詞") || IS(p->pos, "連体詞"))
            f = 0;
        if (IS(p->pos, "名詞") && IS(p->pos_group1, "副詞可能")) f = 0;
        if (IS(n->pos, "名詞") && IS(n->pos_group1, "副詞可能")) f = 0;
        if (IS(n->pos, "助動詞")) f = 1;
        if (IS(n->pos, "助詞")) f = 1;
        if (IS(p->pos, "助動詞") && !IS(n->pos, "助動詞") && !IS(n->pos, "助詞")) f = 0;
        if (IS(p->pos, "助詞") && !IS(n->pos, "助動詞") && !IS(n->pos, "助詞")) f = 0;
        if (IS(p->pos_group1, "接尾") && IS(n->pos, "名詞")) f = 0;
        if (IS(n->pos, "形容詞") && IS(n->pos_group1, "非自立")) {
            if (IS(p->pos, "動詞") || IS(p->pos, "形容詞")) {
                if (!strncmp(G(p->cform), "連用", strlen("連用"))) f = 1;
            } else if (IS(p->pos, "助詞") && IS(p->pos_group1, "接続助詞")) {
                if (IS(p->string, "て") || IS(p->string, "で")) f = 1;
            }
        }
        if (IS(n->pos, "動詞") && IS(n->pos_group1, "非自立")) {
            if (IS(p->pos, "動詞")) {
                if (!strncmp(G(p->cform), "連用", strlen("連用"))) f = 1;
            } else if (IS(p->pos, "名詞") && IS(p->pos_group1, "サ変接続")) {
                f = 1;
            }
        }
        if (IS(p->pos, "名詞") && (IS(n->pos, "動詞") || IS(n->pos, "形容詞") || IS(n->pos_group1, "形容動詞語幹"))) f = 0;
        if (IS(n->pos, "記号") || IS(p->pos, "記号")) f = 0;
        if (IS(n->pos, "接頭詞")) f = 0;
        if (IS(p->pos_group3, "姓") && IS(n->pos, "名詞")) f = 0;
        if (IS(p->pos, "名詞") && IS(n->pos_group3, "名")) f = 0;
        if (IS(n->pos_group1, "接尾")) f = 1;
        n->chain_flag = f;
    }
}

enum { RULE_TOKEN_MAX = 1024 };

/* Copies in from *i up to the next % @ / or the end into out (at most
   RULE_TOKEN_MAX - 1 bytes), moves *i past that delimiter and returns it
   ('\0' at the end). */
static char rule_token(const char *in, size_t *i, char *out) {
    size_t k = 0;
    while (in[*i] && in[*i] != '%' && in[*i] != '@' && in[*i] != '/') {
        if (k + 1 < RULE_TOKEN_MAX) out[k++] = in[*i];
        (*i)++;
    }
    out[k] = '\0';
    const char c = in[*i];
    if (c) (*i)++;
    return c;
}

/* the chain rule's entry for the previous word's part of speech:
   "pos%RULE@add/pos%RULE/RULE" */
static void get_rule(const char *in, const char *prev_pos, char *rule, int *add_type) {
    char buf[RULE_TOKEN_MAX];
    size_t i = 0;
    if (in) {
        char c = ' ';
        while (c != '\0') {
            c = rule_token(in, &i, buf);
            if ((c == '%' && strstr(prev_pos, buf)) || c == '@' || c == '/' || c == '\0') {
                if (c == '%') c = rule_token(in, &i, rule);
                else strcpy(rule, buf);
                if (c == '@') {
                    rule_token(in, &i, buf);
                    *add_type = njd_atoi(buf);
                } else {
                    *add_type = 0;
                }
                return;
            }
            while (c == '%' || c == '@') {
                while (in[i] && in[i] != '%' && in[i] != '@' && in[i] != '/') i++;
                c = in[i];
                if (c) i++;
            }
        }
    }
    strcpy(rule, "*");
    *add_type = 0;
}

static void set_acc(njd_word *w, int a) { w->acc = a < 0 ? 0 : a; }

static int is_any(const char *s, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

static void set_accent_type(njd_list *l) {
    size_t top = 0;
    int mora = 0;
    char rule[1024];
    int add_type = 0;
    for (size_t i = 0; i < l->n; i++) {
        njd_word *w = &l->w[i];
        if (i == 0 || w->chain_flag != 1) {
            top = i, mora = 0;
        } else if (w->chain_flag == 1) {
            njd_word *t = &l->w[top];
            get_rule(w->chain_rule, G(l->w[i - 1].pos), rule, &add_type);
            if (!strcmp(rule, "F2")) { if (t->acc == 0) set_acc(t, sat_add(mora, add_type)); }
            else if (!strcmp(rule, "F3")) { if (t->acc != 0) set_acc(t, sat_add(mora, add_type)); }
            else if (!strcmp(rule, "F4")) set_acc(t, sat_add(mora, add_type));
            else if (!strcmp(rule, "F5")) set_acc(t, 0);
            else if (!strcmp(rule, "C1")) set_acc(t, sat_add(mora, w->acc));
            else if (!strcmp(rule, "C2")) set_acc(t, sat_add(mora, 1));
            else if (!strcmp(rule, "C3")) set_acc(t, mora);
            else if (!strcmp(rule, "C4")) set_acc(t, 0);
            else if (!strcmp(rule, "P1")) set_acc(t, w->acc == 0 ? 0 : sat_add(mora, w->acc));
            else if (!strcmp(rule, "P2")) set_acc(t, w->acc == 0 ? sat_add(mora, 1) : sat_add(mora, w->acc));
            else if (!strcmp(rule, "P6")) set_acc(t, 0);
            else if (!strcmp(rule, "P14")) { if (w->acc != 0) set_acc(t, sat_add(mora, w->acc)); }
        }
        /* numerals */
        if (i > 0 && w->chain_flag == 1 && IS(l->w[i - 1].pos_group1, "数") && IS(w->pos_group1, "数")) {
            njd_word *p = &l->w[i - 1];
            const char *ps = G(p->string), *s = G(w->string);
            if (!strcmp(s, "十")) {
                set_acc(p, 1);
                static const char *const k568[] = {"五", "六", "八", NULL};
                static const char *const k1to9[] = {"一", "二", "三", "四", "五", "六", "七", "八", "九", NULL};
                if (is_any(ps, k568) && i + 1 < l->n && is_any(G(l->w[i + 1].string), k1to9)) set_acc(p, 0);
            } else if (!strcmp(s, "百")) {
                static const char *const k349[] = {"三", "四", "九", "何", NULL};
                if (!strcmp(ps, "七")) set_acc(p, 2);
                else if (is_any(ps, k349)) set_acc(p, 1);
                else set_acc(p, sat_add(p->mora_size, w->mora_size));
            } else if (!strcmp(s, "千") || !strcmp(s, "万")) {
                set_acc(p, sat_add(p->mora_size, 1));
            } else if (!strcmp(s, "億")) {
                static const char *const k[] = {"一", "六", "七", "八", "幾", NULL};
                set_acc(p, is_any(ps, k) ? 2 : 1);
            } else if (!strcmp(s, "兆")) {
                static const char *const k[] = {"六", "七", NULL};
                set_acc(p, is_any(ps, k) ? 2 : 1);
            }
        }
        if (!strcmp(G(w->string), "十") && w->chain_flag != 1 && i + 1 < l->n && IS(l->w[i + 1].pos_group1, "数"))
            set_acc(w, 0);
        mora = sat_add(mora, w->mora_size);
    }
}

int njd_apply_rules(njd_list *l) {
    set_pronunciation(l);
    if (njd_set_digit(l)) return -1;
    set_accent_phrase(l);
    set_accent_type(l);
    return 0;
}

int njd_finish(njd_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        njd_word *w = &l->w[i];
        char **f[] = {&w->string, &w->pos, &w->pos_group1, &w->pos_group2, &w->pos_group3, &w->ctype,
                      &w->cform,  &w->orig, &w->read,       &w->pron,       &w->chain_rule};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
            if (!*f[k] && !(*f[k] = strdup("*"))) return -1;
    }
    return 0;
}
