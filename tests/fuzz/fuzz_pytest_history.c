/* fuzz_pytest_history.c: libFuzzer target for the pytest duration history that `dtf run` reads
 * from .dtf/pytest-durations.json (src/ci/pytest_group.c). Whatever the file holds, parsing must
 * not crash or leak, and what it accepts maps paths to finite, non-negative seconds. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "ci/pytest_group.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *h = dtf_pytest_history_parse((const char *)data, size);
	const char *k;
	json_t *v;

	if (!h)
		return 0;
	if (!json_is_object(h))
		abort();
	json_object_foreach(h, k, v) {
		double s = json_real_value(v);
		if (!json_is_real(v) || !isfinite(s) || s < 0)
			abort();
	}
	json_decref(h);
	return 0;
}
