/* Whole small files (config.json, vocab.txt, user dictionaries) read into memory. */
#ifndef SBV2_FILE_H
#define SBV2_FILE_H

#include "common.h"

/* Reads all of path into *out (NUL-terminated, caller frees; *len excludes the
 * NUL). Pipes and other unseekable files work too. what names the file in
 * messages ("user dictionary"; NULL: just the path). A missing file is
 * SBV2_ERR_NOT_FOUND, a file over max bytes SBV2_ERR_FORMAT. */
int sbv2_read_file(const char *path, size_t max, const char *what, char **out, size_t *len, sbv2_error *err);

#endif
