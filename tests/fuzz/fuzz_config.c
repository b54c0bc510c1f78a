/* libFuzzer target: the YAML config loader, on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "veer/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct veer_errors errs = { 0 };
	struct veer_config *c = veer_config_load_mem("fuzz.yaml", (const char *)data, size, &errs);

	if (c != NULL && veer_config_unref(c))
		veer_config_free(c);
	veer_errors_free(&errs);
	return 0;
}
