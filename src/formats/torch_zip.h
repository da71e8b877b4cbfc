/* PyTorch's torch.save zip format (pytorch_model.bin), read without Python. */
#ifndef SBV2_TORCH_ZIP_H
#define SBV2_TORCH_ZIP_H

#include "formats/safetensors.h"

/* Maps the file and lists the state dict's tensors in *f exactly as st_open
 * does for safetensors (names sorted, data inside the mapping; F32, F16 and
 * BF16 storages, contiguous tensors only), so st_find/st_close work as usual.
 * Everything is validated: zip directory (zip64 too, stored entries only),
 * the pickle (a small VM for what torch.save writes), storage bounds. */
int pt_open(st_file *f, const char *path, sbv2_error *err);
/* The same on a file image held by the caller (it must outlive *f); path
 * only names it in errors. */
int pt_parse(st_file *f, const uint8_t *data, size_t size, const char *path, sbv2_error *err);

#endif
