/* One word of Open JTalk's NJD list, as pyopenjtalk.run_frontend() returns it. */
#ifndef SBV2_NJD_H
#define SBV2_NJD_H

#include <stddef.h>

typedef struct njd_word {
    char *string, *pos, *pos_group1, *pos_group2, *pos_group3, *ctype, *cform, *orig, *read, *pron;
    int acc, mora_size;
    char *chain_rule;
    int chain_flag;
} njd_word;

typedef struct njd_list {
    njd_word *w;
    size_t n;
} njd_list;

void njd_list_free(njd_list *l);

#endif
