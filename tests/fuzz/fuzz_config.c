/* config.json: JSON, every hyper-parameter and their consistency
 * (sbv2_config_parse), and the speaker and style name maps. */
#include "fuzz_common.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sbv2_hparams hp;
    name_map spk = {0}, sty = {0};
    sbv2_error err = {0};
    (void)sbv2_config_parse((const char *)data, size, &hp, &spk, &sty, &err);
    name_map_free(&spk);
    name_map_free(&sty);
    return 0;
}
