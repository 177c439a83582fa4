/* message.c: rendering a message's template and shortening its test list until it fits a
 * service's limits (a long run must never make a send fail: the list is cut, "and N more"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "notify/internal.h"

int nt_render(const struct dtf_tpl *tpl, const char *def, const json_t *data,
	      enum dtf_tpl_escape esc, size_t cap, struct dtf_buf *out, char *err, size_t errlen)
{
	struct dtf_tpl *own = NULL;
	struct dtf_tpl_error te;
	int rc = 0;

	dtf_buf_init(out, cap);
	if (!tpl) {
		rc = dtf_tpl_compile(def, strlen(def), &own, &te);
		if (rc) {
			snprintf(err, errlen, "built-in template: %u:%u: %s", te.line, te.column,
				 te.message);
			return rc;
		}
		tpl = own;
	}
	rc = dtf_tpl_render(tpl, data, esc, out, &te);
	if (rc)
		snprintf(err, errlen, "template: %s", te.message);
	dtf_tpl_free(own);
	return rc;
}

void nt_clip(struct dtf_buf *out, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max) {
		dtf_buf_add(out, s, n);
		return;
	}
	n = max >= 3 ? max - 3 : 0;
	/* Back up to the start of a UTF-8 sequence. */
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	dtf_buf_add(out, s, n);
	if (max >= 3)
		dtf_buf_adds(out, "\xe2\x80\xa6");
}

static json_t *clip_strings(json_t *v, size_t clip)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_string(v) && json_string_length(v) > clip) {
		struct dtf_buf b;
		json_t *n;
		dtf_buf_init(&b, clip + 8);
		nt_clip(&b, json_string_value(v), clip);
		n = json_stringn(dtf_buf_str(&b), b.len);
		dtf_buf_release(&b);
		if (n) {
			json_decref(v);
			return n;
		}
		return v;
	}
	if (json_is_object(v)) {
		json_object_foreach(v, k, x) {
			json_t *n;
			json_incref(x);
			n = clip_strings(x, clip);
			json_object_set_new(v, k, n);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			json_t *n;
			json_incref(x);
			n = clip_strings(x, clip);
			json_array_set_new(v, i, n);
		}
	}
	return v;
}

json_t *nt_data_fit(const json_t *data, size_t keep, size_t clip)
{
	json_t *d = json_deep_copy(data), *tests;
	size_t n;

	if (!d)
		return NULL;
	tests = json_object_get(d, "tests");
	n = json_array_size(tests);
	if (json_is_array(tests) && n > keep) {
		json_int_t more = json_integer_value(json_object_get(d, "more"));
		while (json_array_size(tests) > keep)
			json_array_remove(tests, json_array_size(tests) - 1);
		json_object_set_new(d, "more", json_integer(more + (json_int_t)(n - keep)));
	}
	if (clip)
		d = clip_strings(d, clip);
	return d;
}

size_t nt_data_ntests(const json_t *data)
{
	return json_array_size(json_object_get(data, "tests"));
}

const json_t *nt_get(const json_t *data, const char *dotted)
{
	char part[128];
	const char *p = dotted;

	while (data && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, p, n);
		part[n] = '\0';
		data = json_object_get(data, part);
		p += n;
		if (*p == '.')
			p++;
	}
	return data;
}

const char *nt_gets(const json_t *data, const char *dotted, const char *def)
{
	const char *s = json_string_value(nt_get(data, dotted));

	return s && *s ? s : def;
}

int nt_fit_tests(const json_t *data, size_t limit, size_t clip, nt_build_fn build, void *arg)
{
	size_t n = nt_data_ntests(data), lo = 0, hi, size = 0;
	json_t *d;
	int rc;

	d = nt_data_fit(data, n, clip);
	if (!d)
		return DTF_ENOMEM;
	rc = build(d, arg, &size);
	json_decref(d);
	if (rc || size <= limit || n == 0)
		return rc;
	/* The most tests that fit: lo fits (0 is taken to fit), hi does not. */
	hi = n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		d = nt_data_fit(data, mid, clip);
		if (!d)
			return DTF_ENOMEM;
		rc = build(d, arg, &size);
		json_decref(d);
		if (rc)
			return rc;
		if (size <= limit)
			lo = mid;
		else
			hi = mid;
	}
	/* The last build must be the one kept. */
	d = nt_data_fit(data, lo, clip);
	if (!d)
		return DTF_ENOMEM;
	rc = build(d, arg, &size);
	json_decref(d);
	return rc;
}

bool nt_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80;
}

json_t *nt_data_names(const json_t *data, void (*fmt)(struct dtf_buf *out, const char *name))
{
	json_t *d = json_deep_copy(data), *t;
	struct dtf_buf b;
	size_t i;

	if (!d)
		return NULL;
	dtf_buf_init(&b, 64 * 1024);
	json_array_foreach(json_object_get(d, "tests"), i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		if (!json_is_object(t) || !name)
			continue;
		dtf_buf_reset(&b);
		fmt(&b, name);
		json_object_set_new(t, "name_md", json_string(dtf_buf_str(&b)));
	}
	dtf_buf_release(&b);
	return d;
}

int nt_message_input(struct notify_channel *ch, const struct notify_message *m, const char *type,
		     struct notify_result *res, char **out)
{
	struct dtf_buf text;
	char err[256];
	json_t *doc;
	int rc;

	*out = NULL;
	doc = json_pack("{s:s,s:s,s:s,s:s}", "event", m->event ? m->event : "", "severity",
			m->severity ? m->severity : "", "key", m->key ? m->key : "", "channel",
			ch->name);
	if (!doc)
		return DTF_ENOMEM;
	if (type)
		json_object_set_new(doc, "type", json_string(type));
	json_object_set_new(doc, "data", m->data ? json_incref((json_t *)m->data) : json_null());
	if (m->ref)
		json_object_set_new(doc, "ref", json_string(m->ref));
	if (m->tpl) {
		dtf_buf_init(&text, 1 << 20);
		rc = nt_render(m->tpl, NULL, m->data, DTF_TPL_TEXT, 1 << 20, &text, err,
			       sizeof(err));
		if (rc) {
			dtf_buf_release(&text);
			json_decref(doc);
			nt_fail(ch, res, NULL, "the template: %s", err);
			return rc;
		}
		json_object_set_new(doc, "text", json_string(dtf_buf_str(&text)));
		dtf_buf_release(&text);
	}
	*out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return *out ? 0 : DTF_ENOMEM;
}
