/* json.c: jansson helpers. */
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t depth_of(const char *data, size_t len)
{
	size_t i, depth = 0, max = 0;
	bool in_str = false;

	for (i = 0; i < len; i++) {
		char c = data[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return max;
}

json_t *dtf_json_parse(const char *data, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v;

	if (depth_of(data, len) > DTF_JSON_MAX_DEPTH) {
		snprintf(err, errlen, "document nested deeper than %d levels", DTF_JSON_MAX_DEPTH);
		return NULL;
	}
	v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!v)
		snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
	return v;
}

const char *dtf_json_str(const json_t *obj, const char *key, const char *dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

double dtf_json_num(const json_t *obj, const char *key, double dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : dflt;
}

long long dtf_json_int(const json_t *obj, const char *key, long long dflt)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v)) {
		/* Outside input: a real that does not fit (or NaN) is not converted. */
		double d = json_real_value(v);
		if (!(d >= -9.2e18 && d <= 9.2e18))
			return dflt;
		return (long long)d;
	}
	return dflt;
}

bool dtf_json_bool(const json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
	return dtf_buf_add(data, buffer, size) ? -1 : 0;
}

int dtf_json_dump(const json_t *v, struct dtf_buf *out)
{
	return json_dump_callback(v, dump_cb, out, JSON_COMPACT | JSON_ENCODE_ANY) ? -1 : 0;
}

char *dtf_json_dumps(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

json_t *dtf_json_split(const char *s, const char *seps)
{
	json_t *out = json_array();

	while (s && *s) {
		size_t n = strcspn(s, seps);
		if (n)
			json_array_append_new(out, json_stringn(s, n));
		s += n;
		if (*s)
			s++;
	}
	return out;
}
