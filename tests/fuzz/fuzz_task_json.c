/* fuzz_task_json.c: libFuzzer target for task submission (src/core/task.c): the body is
 * parsed with dtf_json_parse, then each task in it is validated with task_normalize: the body
 * itself, each element of an array, or each element of {"tasks": […]}, the shapes the API takes.
 * Whatever the input, nothing may crash or leak; a rejected task must come with a reason, and an
 * accepted one must be a well-formed normalized document that normalizes again to itself. The
 * compact writer (dtf_json_dump) must give jansson's bytes for the body and for every normalized
 * task, and the parser (dtf_json_load) must accept exactly what jansson accepts and build the same
 * value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "core/model.h"

#define MAX_INPUT (1u << 20)
#define MAX_TASKS 256

/* Checks that once found bugs (a failed parse with no message for `nan`; an empty generated
 * name; reading past a short deadline offset such as "…+1:2") stay fixed. */
#define STRICT 1

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

/* Aborts unless t has the shape task_normalize promises. */
static void check_normalized(const json_t *t)
{
	const char *type = dtf_json_str(t, "type", NULL);
	json_t *prio = json_object_get(t, "priority");
	json_t *retries = json_object_get(t, "max_retries");
	json_t *req = json_object_get(t, "requirements");
	bool cmd = json_object_get(t, "command") != NULL, sh = json_object_get(t, "shell") != NULL;

	if (cmd == sh)
		abort();
	if (cmd && (!strlist(json_object_get(t, "command")) ||
		    json_array_size(json_object_get(t, "command")) == 0))
		abort();
	if (sh && !json_is_string(json_object_get(t, "shell")))
		abort();
	if (!type || (strcmp(type, "command") && strcmp(type, "test") &&
		      strcmp(type, "benchmark") && strcmp(type, "shell")))
		abort();
	if (!json_is_integer(prio) || json_integer_value(prio) < 1 ||
	    json_integer_value(prio) > DTF_PRIORITY_LEVELS)
		abort();
	if (!json_is_integer(retries) || json_integer_value(retries) < 0 ||
	    json_integer_value(retries) > 100)
		abort();
	if (!(dtf_json_num(t, "timeout_s", 0) > 0))
		abort();
	if (!strlist(json_object_get(t, "hardware")) || !json_is_object(req) ||
	    !strlist(json_object_get(req, "hardware")))
		abort();
	if (!json_is_object(json_object_get(t, "params")))
		abort();
	if (!json_is_string(json_object_get(t, "name")))
		abort();
}

/* Aborts unless the compact writer gives the bytes jansson's writer gives. */
static void same_text(const json_t *v)
{
	char *ours = dtf_json_dumps(v), *theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!ours || !theirs || strcmp(ours, theirs) != 0)
		abort();
	free(ours);
	free(theirs);
}

/* Aborts unless dtf_json_load and jansson agree on the input: both reject it, or both build
 * values that the writer prints alike. */
static void same_reading(const uint8_t *data, size_t size)
{
	json_t *ours = dtf_json_load((const char *)data, size, 2048);
	json_t *theirs =
	    json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	char *a, *b;

	if (!ours != !theirs)
		abort();
	if (ours) {
		a = dtf_json_dumps(ours);
		b = dtf_json_dumps(theirs);
		if (!a || !b || strcmp(a, b) != 0)
			abort();
		free(a);
		free(b);
	}
	json_decref(ours);
	json_decref(theirs);
}

/* Parses a deadline from an exact-size heap copy, so that a read past its end shows under ASan
 * (jansson's own string buffers have slack after the terminator that hides it). */
static void deadline(const json_t *in)
{
	json_t *v = json_object_get(in, "deadline");
	char *copy;
	int64_t ms;
	size_t n;

	if (!json_is_string(v))
		return;
	n = strlen(json_string_value(v)) + 1;
	copy = malloc(n);
	if (!copy)
		return;
	memcpy(copy, json_string_value(v), n);
	(void)dtf_parse_rfc3339(copy, &ms);
	free(copy);
}

static void one_task(const json_t *in)
{
	char err[512], err2[512];
	json_t *t, *again;

	if (STRICT)
		deadline(in);
	err[0] = '\0';
	t = task_normalize(in, 60, err, sizeof(err));
	if (!t) {
		if (!err[0])
			abort();
		return;
	}
	check_normalized(t);
	same_text(t);
	if (STRICT || strcmp(dtf_json_str(t, "name", ""), "") != 0) {
		again = task_normalize(t, 60, err2, sizeof(err2));
		if (!again || !json_equal(again, t))
			abort();
		json_decref(again);
	}
	json_decref(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *doc, *list, *e;
	size_t i;

	if (size > MAX_INPUT)
		return 0;
	same_reading(data, size);
	err[0] = '\0';
	doc = dtf_json_parse((const char *)data, size, err, sizeof(err));
	if (!doc) {
		if (!err[0])
			abort();
		return 0;
	}
	same_text(doc);
	list = json_is_array(doc) ? doc : json_object_get(doc, "tasks");
	one_task(doc);
	if (json_is_array(list)) {
		json_array_foreach(list, i, e) {
			if (i >= MAX_TASKS)
				break;
			one_task(e);
		}
	}
	json_decref(doc);
	return 0;
}
