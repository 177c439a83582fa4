/* fuzz_pyrun.c: libFuzzer target for the runner detection of Python test files (src/ci/pyrun.c):
 * any text gets one of the three runners, whatever its length, and detection reads nothing past
 * the length it is given; the same bytes as a file name (up to a NUL) make a task whose shell
 * quotes the name whole, and that the coordinator takes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ci/pyrun.h"
#include "common/buf.h"
#include "core/model.h"

#define MAX_INPUT (256u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *r;
	char *copy, err[256];
	json_t *task, *args, *norm;
	struct dtf_buf q;

	if (size > MAX_INPUT)
		return 0;
	/* An exact-size copy: reading past it is an ASan error. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	r = dtf_pyrun_detect(copy, size);
	if (!dtf_pyrun_valid(r))
		abort();
	free(copy);

	copy = malloc(size + 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	copy[size] = '\0';
	task = json_object();
	args = json_pack("[s]", copy);
	if (task && args && dtf_pyrun_task(task, "pytest", args) == 0) {
		dtf_buf_init(&q, MAX_INPUT * 8);
		if (dtf_buf_add_shquote(&q, copy) == 0 &&
		    !strstr(json_string_value(json_object_get(task, "shell")), dtf_buf_str(&q)))
			abort();
		dtf_buf_release(&q);
		norm = task_normalize(task, 60, err, sizeof(err));
		json_decref(norm);
	}
	json_decref(args);
	json_decref(task);
	free(copy);
	return 0;
}
