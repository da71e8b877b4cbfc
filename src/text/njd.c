#include "text/njd.h"

#include <stdlib.h>

void njd_list_free(njd_list *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        njd_word *w = &l->w[i];
        free(w->string), free(w->pos), free(w->pos_group1), free(w->pos_group2), free(w->pos_group3);
        free(w->ctype), free(w->cform), free(w->orig), free(w->read), free(w->pron), free(w->chain_rule);
    }
    free(l->w);
    l->w = NULL, l->n = 0;
}
