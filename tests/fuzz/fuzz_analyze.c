/* fuzz_analyze.c: libFuzzer target for the requirement analysis of test files
 * (src/ci/analyze.c): any bytes are analyzed as a file's contents, in each comment syntax. It
 * must not crash or leak; the analysis always names at least one hardware class (strings), its
 * optional min_memory and priority are in range, and applying it to a task leaves a task
 * task_normalize accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ci/analyze.h"
#include "common/json.h"
#include "core/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *a, *hw, *v, *task, *norm;
	char err[512];
	size_t i;

	if (size > DTF_ANALYZE_MAX_BYTES + 16)
		return 0;
	/* The first byte picks the comment syntax, so every stripper sees every input. */
	a = dtf_analyze_text((const char *)data, size, (enum dtf_lang)(size ? data[0] % 4 : 0));
	if (!a)
		abort();
	hw = json_object_get(a, "hardware");
	if (!json_is_array(hw) || json_array_size(hw) == 0)
		abort();
	json_array_foreach(hw, i, v)
		if (!json_is_string(v) || !*json_string_value(v))
			abort();
	if ((v = json_object_get(a, "min_memory")) &&
	    (!json_is_integer(v) || json_integer_value(v) <= 0))
		abort();
	if ((v = json_object_get(a, "priority")) &&
	    (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10))
		abort();
	if ((v = json_object_get(a, "browser")) && !json_is_string(v))
		abort();
	task = json_pack("{s:s,s:[s]}", "name", "t", "command", "true");
	dtf_analyze_apply(task, a);
	err[0] = '\0';
	norm = task_normalize(task, 60, err, sizeof(err));
	if (!norm && !err[0])
		abort();
	json_decref(norm);
	json_decref(task);
	json_decref(a);
	return 0;
}
