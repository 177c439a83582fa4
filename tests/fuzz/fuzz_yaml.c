/* fuzz_yaml.c: libFuzzer target for the YAML configuration reader (src/common/yaml.c): whatever
 * the input, dtf_yaml_parse must not crash, leak or recurse without bound; what it accepts must
 * serialize as JSON; and dtf_yaml_key_line must stay inside the text it is given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/json.h"
#include "common/yaml.h"

/* Checks that a failed parse always says why (a plain `nan` once failed silently). */
#define STRICT 1

#define NAME "fuzz.yaml"

/* The deepest nesting in v (a scalar is 0). */
static int depth(const json_t *v)
{
	const char *k;
	json_t *e;
	size_t i;
	int d = 0, sub;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e)
			if ((sub = depth(e)) > d)
				d = sub;
		return d + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if ((sub = depth(e)) > d)
				d = sub;
		return d + 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char err[512];
	const char *k;
	json_t *v, *e;
	char *dump;
	int line;

	err[0] = '\0';
	v = dtf_yaml_parse(text, size, NAME, err, sizeof(err));
	if (!v) {
		if (STRICT && strncmp(err, NAME, strlen(NAME)) != 0)
			abort();
		goto keys;
	}
	/* The reader refuses nesting past 32 levels (so 33 containers at most). */
	if (depth(v) > 33)
		abort();
	dump = dtf_json_dumps(v);
	if (!dump)
		abort();
	free(dump);
	if (json_is_object(v)) {
		json_object_foreach(v, k, e) {
			line = dtf_yaml_key_line(text, size, k);
			if (line < 0)
				abort();
		}
	}
	json_decref(v);
keys:
	line = dtf_yaml_key_line(text, size, "port");
	if (line < 0)
		abort();
	return 0;
}
