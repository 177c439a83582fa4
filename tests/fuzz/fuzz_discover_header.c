/* fuzz_discover_header.c: libFuzzer target for the `dtf:` header parser (src/ci/discover.c): the
 * input, made a NUL-terminated string, is parsed into a task object. It must not crash or leak;
 * it either succeeds with fields of the right types or fails with DTF_EPARSE and a reason; and
 * the task it builds, given a command, goes through task_normalize without harm. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ci/discover.h"
#include "common/err.h"
#include "common/json.h"
#include "core/model.h"

#define MAX_INPUT (64u << 10)

static bool strlist(const json_t *v)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return false;
	return true;
}

/* A member that, when present, must be a number >= lo. */
static void check_num(const json_t *obj, const char *key, double lo)
{
	json_t *v = json_object_get(obj, key);

	if (v && (!json_is_number(v) || !(json_number_value(v) >= lo)))
		abort();
}

static void check_task(const json_t *t)
{
	json_t *req = json_object_get(t, "requirements");
	json_t *v;

	if ((v = json_object_get(t, "hardware")) && !strlist(v))
		abort();
	if (req &&
	    (!json_is_object(req) || ((v = json_object_get(req, "hardware")) && !strlist(v))))
		abort();
	check_num(t, "timeout_s", 0);
	if ((v = json_object_get(t, "timeout_s")) && json_number_value(v) == 0)
		abort();
	check_num(t, "priority", 0);
	check_num(t, "max_retries", 0);
	check_num(req, "cpu", 0);
	check_num(req, "memory", 0);
	check_num(req, "gpu_memory", 0);
	if (dtf_json_int(t, "priority", 0) > 100 || dtf_json_int(t, "max_retries", 0) > 100)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line, err[512];
	json_t *task, *norm;
	int rc;

	if (size > MAX_INPUT)
		return 0;
	line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	task = json_object();
	err[0] = '\0';
	rc = dtf_discover_header(line, task, err, sizeof(err));
	if (rc != 0 && rc != DTF_EPARSE)
		abort();
	if (rc == DTF_EPARSE && !err[0])
		abort();
	if (rc == 0) {
		check_task(task);
		json_object_set_new(task, "command", json_pack("[s]", "true"));
		err[0] = '\0';
		norm = task_normalize(task, 60, err, sizeof(err));
		if (!norm && !err[0])
			abort();
		json_decref(norm);
	}
	json_decref(task);
	free(line);
	return 0;
}
