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

/* ---- the compact writer ----
 *
 * Writes the same bytes as jansson's json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) (members in
 * insertion order; '"', '\\' and control characters escaped, \u00XX in upper case; reals as
 * "%.17g" with ".0" added to integral ones and the exponent's '+' and leading zeros dropped),
 * checked against it in unit.test_common and by fuzz_task_json. It is on every hot path of the
 * coordinator (each task is serialized for the store at submission, lease and result, and for
 * the lease reply), where jansson's writer, one callback per token and a character-by-character
 * UTF-8 walk per string, cost a fifth of the coordinator's time. Strings in a json_t are valid
 * UTF-8 (jansson checks them when they are made), so bytes at or above 0x80 are copied as they
 * are, as jansson does without JSON_ENSURE_ASCII. */

#define WRITE_MAX_DEPTH 2048

/* Room for extra more bytes: the common case inline, growth in buf.c. */
static inline int w_reserve(struct dtf_buf *b, size_t extra)
{
	if (extra < b->alloc - b->len && extra <= b->cap - b->len)
		return 0;
	return dtf_buf_reserve(b, extra) ? -1 : 0;
}

static inline int w_add(struct dtf_buf *b, const char *s, size_t n)
{
	if (w_reserve(b, n))
		return -1;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return 0;
}

static inline int w_char(struct dtf_buf *b, char c)
{
	if (w_reserve(b, 1))
		return -1;
	b->data[b->len++] = c;
	return 0;
}

/* Which bytes need an escape: 0 none, else the letter of its short form, or 'u'. */
static const char esc_of[256] = {
	['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
	[0] = 'u',    [1] = 'u',    [2] = 'u',    [3] = 'u',    [4] = 'u',    [5] = 'u',
	[6] = 'u',    [7] = 'u',    [11] = 'u',   [14] = 'u',   [15] = 'u',   [16] = 'u',
	[17] = 'u',   [18] = 'u',   [19] = 'u',   [20] = 'u',   [21] = 'u',   [22] = 'u',
	[23] = 'u',   [24] = 'u',   [25] = 'u',   [26] = 'u',   [27] = 'u',   [28] = 'u',
	[29] = 'u',   [30] = 'u',   [31] = 'u',   ['"'] = '"',  ['\\'] = '\\',
};

static int w_string(struct dtf_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, run = 0;

	/* The worst case, every byte as \u00XX, reserved at once for short strings. */
	if (w_reserve(b, n <= 4096 ? n * 6 + 2 : n + 2))
		return -1;
	b->data[b->len++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char e = esc_of[ch];

		if (!e)
			continue;
		if (w_add(b, s + run, i - run))
			return -1;
		run = i + 1;
		if (e == 'u') {
			char seq[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};

			if (w_add(b, seq, 6))
				return -1;
		} else {
			char seq[2] = {'\\', e};

			if (w_add(b, seq, 2))
				return -1;
		}
	}
	if (w_add(b, s + run, n - run))
		return -1;
	return w_char(b, '"');
}

static int w_integer(struct dtf_buf *b, json_int_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return w_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* jansson's jsonp_dtostr with its default precision of 17 (the C locale's '.' assumed, as the
 * program never calls setlocale for numbers). */
static int w_real(struct dtf_buf *b, double v)
{
	char buf[48], *start, *end;
	int n = snprintf(buf, sizeof(buf) - 3, "%.17g", v);
	size_t len;

	if (n < 0 || (size_t)n >= sizeof(buf) - 3)
		return -1;
	len = (size_t)n;
	if (!strchr(buf, '.') && !strchr(buf, 'e')) {
		buf[len++] = '.';
		buf[len++] = '0';
		buf[len] = '\0';
	}
	start = strchr(buf, 'e');
	if (start) {
		start++;
		end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - buf) + 1);
			len -= (size_t)(end - start);
		}
	}
	return w_add(b, buf, len);
}

static int w_value(struct dtf_buf *b, const json_t *v, int depth)
{
	size_t i, n;
	void *it;

	if (depth > WRITE_MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (w_char(b, '{'))
			return -1;
		for (it = json_object_iter((json_t *)v), i = 0; it;
		     it = json_object_iter_next((json_t *)v, it), i++) {
			if ((i && w_char(b, ',')) ||
			    w_string(b, json_object_iter_key(it), json_object_iter_key_len(it)) ||
			    w_char(b, ':') || w_value(b, json_object_iter_value(it), depth + 1))
				return -1;
		}
		return w_char(b, '}');
	case JSON_ARRAY:
		if (w_char(b, '['))
			return -1;
		n = json_array_size(v);
		for (i = 0; i < n; i++)
			if ((i && w_char(b, ',')) || w_value(b, json_array_get(v, i), depth + 1))
				return -1;
		return w_char(b, ']');
	case JSON_STRING:
		return w_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return w_integer(b, json_integer_value(v));
	case JSON_REAL:
		return w_real(b, json_real_value(v));
	case JSON_TRUE:
		return w_add(b, "true", 4);
	case JSON_FALSE:
		return w_add(b, "false", 5);
	case JSON_NULL:
		return w_add(b, "null", 4);
	}
	return -1;
}

int dtf_json_dump(const json_t *v, struct dtf_buf *out)
{
	size_t len0 = out->len;

	if (!v || w_value(out, v, 0)) {
		dtf_buf_truncate(out, len0);
		return -1;
	}
	if (out->data)
		out->data[out->len] = '\0';
	return 0;
}

/* The buffer starts at 512 bytes (most task documents fit) instead of growing from 16 by
 * reallocs, and is cut to the text's size at the end. */
char *dtf_json_dumps(const json_t *v)
{
	struct dtf_buf b;
	char *s;

	dtf_buf_init(&b, (size_t)1 << 30);
	b.data = malloc(512);
	if (!b.data)
		return NULL;
	b.alloc = 512;
	b.data[0] = '\0';
	if (dtf_json_dump(v, &b)) {
		dtf_buf_release(&b);
		return NULL;
	}
	if (b.alloc - b.len > 128 && (s = realloc(b.data, b.len + 1)) != NULL)
		return s;
	return b.data;
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
