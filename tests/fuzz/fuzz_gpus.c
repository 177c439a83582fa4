/* fuzz_gpus.c: libFuzzer target for what a GPU worker takes from outside: the value of
 * CUDA_VISIBLE_DEVICES it was started with (src/worker/hw.c, dtf_hw_visible_gpus) and the "gpus"
 * readings of a heartbeat the coordinator applies (src/core/gpus.c, gpus_heartbeat). The input
 * is both: as text, the variable; as JSON (when it parses), the readings. Neither may crash or
 * leak; the GPUs let through are some of the three detected, each once; the readings leave every
 * GPU's index and total as registered. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/model.h"
#include "worker/hw.h"

#define MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *gpus, *out, *g, *caps, *live;
	struct cworker w;
	char text[MAX_INPUT + 1];
	size_t i, j;

	if (size > MAX_INPUT)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	gpus = json_pack("[{s:i,s:s,s:i},{s:i,s:s,s:i},{s:i,s:s,s:i}]", "index", 0, "uuid",
			 "GPU-0a", "memory", 1000, "index", 1, "uuid", "GPU-1b", "memory", 2000,
			 "index", 2, "uuid", "GPU-2c", "memory", 3000);
	if (!gpus)
		return 0;
	caps = json_pack("{s:O}", "gpus", gpus);
	out = dtf_hw_visible_gpus(gpus, text);
	if (json_array_size(out) > 3)
		abort();
	json_array_foreach(out, i, g) {
		for (j = 0; j < i; j++)
			if (json_array_get(out, j) == g)
				abort();
		if (!json_is_integer(json_object_get(g, "index")))
			abort();
	}
	json_decref(out);

	memset(&w, 0, sizeof(w));
	gpus_load(&w, caps);
	if (w.ngpus != 3)
		abort();
	live = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (json_is_array(live)) {
		gpus_heartbeat(&w, live);
		for (int k = 0; k < w.ngpus; k++)
			if (w.gpus[k].index != k || w.gpus[k].total != 1000.0 * (k + 1))
				abort();
	}
	json_decref(live);
	gpus_free(&w);
	json_decref(caps);
	return 0;
}
