/* yaml.c: YAML to JSON with libyaml's event parser. */
#include "common/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/util.h"

#define MAX_DEPTH 32

static json_t *scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	char *end;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(v, n);
	if (n == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0)
		return json_null();
	if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "yes") == 0)
		return json_true();
	if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "no") == 0)
		return json_false();
	errno = 0;
	{
		long long i = strtoll(v, &end, 10);
		if (!errno && *end == '\0')
			return json_integer(i);
	}
	errno = 0;
	{
		double d = strtod(v, &end);
		/* Non-finite values (nan, inf) have no JSON form: they stay strings. */
		if (!errno && *end == '\0' && isfinite(d))
			return json_real(d);
	}
	return json_stringn(v, n);
}

static json_t *parse_node(yaml_parser_t *p, yaml_event_t *ev, int depth, const char *name,
			  char *err, size_t errlen);

static bool next(yaml_parser_t *p, yaml_event_t *ev, const char *name, char *err, size_t errlen)
{
	if (!yaml_parser_parse(p, ev)) {
		snprintf(err, errlen, "%s:%zu: %s", name, p->problem_mark.line + 1,
			 p->problem ? p->problem : "syntax error");
		return false;
	}
	return true;
}

static json_t *parse_node(yaml_parser_t *p, yaml_event_t *ev, int depth, const char *name,
			  char *err, size_t errlen)
{
	json_t *out = NULL;
	yaml_event_t e;

	if (depth > MAX_DEPTH) {
		snprintf(err, errlen, "%s:%zu: nested too deeply", name, ev->start_mark.line + 1);
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return scalar(ev);
	case YAML_ALIAS_EVENT:
		snprintf(err, errlen, "%s:%zu: aliases are not supported", name,
			 ev->start_mark.line + 1);
		return NULL;
	case YAML_SEQUENCE_START_EVENT:
		out = json_array();
		for (;;) {
			json_t *v;
			if (!next(p, &e, name, err, errlen))
				goto fail;
			if (e.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&e);
				return out;
			}
			v = parse_node(p, &e, depth + 1, name, err, errlen);
			yaml_event_delete(&e);
			if (!v)
				goto fail;
			json_array_append_new(out, v);
		}
	case YAML_MAPPING_START_EVENT:
		out = json_object();
		for (;;) {
			json_t *v;
			char key[256];
			if (!next(p, &e, name, err, errlen))
				goto fail;
			if (e.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&e);
				return out;
			}
			if (e.type != YAML_SCALAR_EVENT) {
				snprintf(err, errlen, "%s:%zu: mapping keys must be plain strings",
					 name, e.start_mark.line + 1);
				yaml_event_delete(&e);
				goto fail;
			}
			snprintf(key, sizeof(key), "%s", (const char *)e.data.scalar.value);
			yaml_event_delete(&e);
			if (!next(p, &e, name, err, errlen))
				goto fail;
			v = parse_node(p, &e, depth + 1, name, err, errlen);
			yaml_event_delete(&e);
			if (!v)
				goto fail;
			json_object_set_new(out, key, v);
		}
	default:
		snprintf(err, errlen, "%s:%zu: unexpected YAML event", name,
			 ev->start_mark.line + 1);
		return NULL;
	}
fail:
	json_decref(out);
	return NULL;
}

json_t *dtf_yaml_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	json_t *out = NULL;

	if (len > DTF_YAML_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %u bytes", name, DTF_YAML_MAX_BYTES);
		return NULL;
	}
	err[0] = '\0';
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (;;) {
		if (!next(&p, &ev, name, err, errlen))
			break;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			if (!out)
				out = json_object();
			break;
		}
		if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT ||
		    ev.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (out) {
			snprintf(err, errlen, "%s:%zu: only one document is allowed", name,
				 ev.start_mark.line + 1);
			yaml_event_delete(&ev);
			json_decref(out);
			out = NULL;
			break;
		}
		out = parse_node(&p, &ev, 0, name, err, errlen);
		yaml_event_delete(&ev);
		if (!out)
			break;
	}
	yaml_parser_delete(&p);
	if (!out && !err[0])
		snprintf(err, errlen, "%s: not a valid configuration document", name);
	return out;
}

json_t *dtf_yaml_load(const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len;
	json_t *v;
	int rc = dtf_read_file(path, DTF_YAML_MAX_BYTES, &text, &len);

	if (rc) {
		snprintf(err, errlen, "%s: cannot read the file", path);
		return NULL;
	}
	v = dtf_yaml_parse(text, len, path, err, errlen);
	free(text);
	return v;
}

int dtf_yaml_key_line(const char *text, size_t len, const char *key)
{
	size_t i = 0, klen = strlen(key);
	int line = 1;

	while (i < len) {
		size_t s = i;
		while (s < len && (text[s] == ' ' || text[s] == '\t' || text[s] == '-'))
			s++;
		if (s + klen < len && strncmp(text + s, key, klen) == 0 && text[s + klen] == ':')
			return line;
		while (i < len && text[i] != '\n')
			i++;
		i++;
		line++;
	}
	return 0;
}
