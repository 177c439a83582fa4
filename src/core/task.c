/* task.c: validation of submitted tasks into the normalized task document (DESIGN.md §4), and
 * the status names. Everything here is input from outside: every field is type-checked and
 * size-limited, and the error names the field. */
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "core/model.h"

#define MAX_STR	 4096
#define MAX_ARGV 4096
#define MAX_ARG	 (256u << 10)
#define MAX_LIST 256

static const char *const status_names[TS__COUNT] = {"pending",	 "assigned", "running",
						    "completed", "failed",   "cancelled"};

const char *task_status_name(enum task_status s)
{
	return s < TS__COUNT ? status_names[s] : "unknown";
}

bool task_status_parse(const char *name, enum task_status *out)
{
	int i;

	for (i = 0; i < TS__COUNT; i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*out = (enum task_status)i;
			return true;
		}
	}
	return false;
}

bool task_is_final(enum task_status s)
{
	return s == TS_COMPLETED || s == TS_FAILED || s == TS_CANCELLED;
}

/* Task types the core knows; plugins add more (a worker advertises the types it runs). */
/* "browser": a page run in a worker's browser pool (worker/browser_pool.c), no command. */
static const char *const known_types[] = {"command", "test", "benchmark", "shell", "browser", NULL};

static bool is_known_type(const char *t)
{
	int i;

	for (i = 0; known_types[i]; i++)
		if (strcmp(known_types[i], t) == 0)
			return true;
	return false;
}

static bool str_ok(const json_t *v, size_t max)
{
	return json_is_string(v) && json_string_length(v) <= max &&
	       strlen(json_string_value(v)) == json_string_length(v);
}

/* True (with the message in err) when v is a string longer than max bytes: a field over its
 * limit is told so, with the limit, rather than that it "must be a non-empty string". The
 * limits are listed in docs/security.md ("Limits"). */
static bool too_long(const json_t *v, const char *field, size_t max, char *err, size_t errlen)
{
	if (!json_is_string(v) || json_string_length(v) <= max)
		return false;
	snprintf(err, errlen, "field '%s' is too long: at most %zu bytes (got %zu)", field, max,
		 json_string_length(v));
	return true;
}

/* The same for a list of strings: too many items, or one item too long. */
static bool list_too_long(const json_t *v, const char *field, size_t max_items, size_t max_len,
			  char *err, size_t errlen)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return false;
	if (json_array_size(v) > max_items) {
		snprintf(err, errlen, "field '%s' is too long: at most %zu items (got %zu)", field,
			 max_items, json_array_size(v));
		return true;
	}
	json_array_foreach(v, i, e) {
		if (json_is_string(e) && json_string_length(e) > max_len) {
			snprintf(err, errlen,
				 "field '%s[%zu]' is too long: at most %zu bytes (got %zu)", field,
				 i, max_len, json_string_length(e));
			return true;
		}
	}
	return false;
}

static bool strlist_ok(const json_t *v, size_t max_items, size_t max_len)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) > max_items)
		return false;
	json_array_foreach(v, i, e)
		if (!str_ok(e, max_len))
			return false;
	return true;
}

/* Normalizes "hardware": a string or a list of strings, into a list. */
static json_t *hw_list(const json_t *v)
{
	if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 64)
		return json_pack("[O]", v);
	if (strlist_ok(v, 32, 64))
		return json_deep_copy(v);
	return NULL;
}

static bool num_in(const json_t *v, double lo, double hi)
{
	double d;

	if (!json_is_number(v))
		return false;
	d = json_number_value(v);
	return d >= lo && d <= hi;
}

static bool is_plugin_type(const char *const *types, const char *t)
{
	for (; types && *types; types++)
		if (strcmp(*types, t) == 0)
			return true;
	return false;
}

json_t *task_normalize(const json_t *in, double default_timeout_s, char *err, size_t errlen)
{
	return task_normalize_ex(in, default_timeout_s, NULL, err, errlen);
}

json_t *task_normalize_ex(const json_t *in, double default_timeout_s,
			  const char *const *plugin_types, char *err, size_t errlen)
{
	json_t *out = NULL, *params, *v;
	const char *key, *type;

	if (!json_is_object(in)) {
		snprintf(err, errlen, "a task must be a JSON object");
		return NULL;
	}
	out = json_object();
	v = json_object_get(in, "params");
	if (v && !json_is_object(v)) {
		snprintf(err, errlen, "field 'params' must be an object");
		goto fail;
	}
	params = v ? json_deep_copy(v) : json_object();
	json_object_set_new(out, "params", params);

	json_object_foreach((json_t *)in, key, v) {
		if (json_is_null(v))
			continue;
		if (strcmp(key, "params") == 0) {
			continue;
		} else if (strcmp(key, "id") == 0 || strcmp(key, "run_id") == 0) {
			if (!json_is_string(v) || !dtf_valid_id(json_string_value(v)) ||
			    strlen(json_string_value(v)) != json_string_length(v)) {
				snprintf(err, errlen,
					 "field '%s' must be 1-64 characters of [A-Za-z0-9._-]",
					 key);
				goto fail;
			}
		} else if (strcmp(key, "name") == 0 || strcmp(key, "cwd") == 0 ||
			   strcmp(key, "user") == 0 || strcmp(key, "project") == 0 ||
			   strcmp(key, "junit") == 0 || strcmp(key, "batch_key") == 0 ||
			   strcmp(key, "type") == 0) {
			if (too_long(v, key, MAX_STR, err, errlen))
				goto fail;
			if (!str_ok(v, MAX_STR) || json_string_length(v) == 0) {
				snprintf(err, errlen, "field '%s' must be a non-empty string", key);
				goto fail;
			}
		} else if (strcmp(key, "shell") == 0) {
			if (too_long(v, key, MAX_ARG, err, errlen))
				goto fail;
			if (!str_ok(v, MAX_ARG) || json_string_length(v) == 0) {
				snprintf(err, errlen, "field 'shell' must be a non-empty string");
				goto fail;
			}
		} else if (strcmp(key, "command") == 0) {
			if (json_is_string(v)) {
				snprintf(err, errlen,
					 "field 'command' must be a list of strings (argv); use "
					 "'shell' for a shell command line");
				goto fail;
			}
			if (list_too_long(v, key, MAX_ARGV, MAX_ARG, err, errlen))
				goto fail;
			if (!strlist_ok(v, MAX_ARGV, MAX_ARG) || json_array_size(v) == 0) {
				snprintf(err, errlen,
					 "field 'command' must be a non-empty list of strings");
				goto fail;
			}
		} else if (strcmp(key, "env") == 0) {
			const char *ek;
			json_t *ev;
			if (json_is_object(v) && json_object_size(v) > 1024) {
				snprintf(
				    err, errlen,
				    "field 'env' is too long: at most 1024 variables (got %zu)",
				    json_object_size(v));
				goto fail;
			}
			if (!json_is_object(v)) {
				snprintf(err, errlen, "field 'env' must be an object of strings");
				goto fail;
			}
			json_object_foreach(v, ek, ev) {
				if (json_is_string(ev) && json_string_length(ev) > MAX_ARG) {
					snprintf(err, errlen,
						 "field 'env.%.64s' is too long: at most %u bytes "
						 "(got %zu)",
						 ek, MAX_ARG, json_string_length(ev));
					goto fail;
				}
				if (!str_ok(ev, MAX_ARG) || !*ek || strchr(ek, '=')) {
					snprintf(err, errlen,
						 "field 'env.%s' must be a string (names without "
						 "'=')",
						 ek);
					goto fail;
				}
			}
		} else if (strcmp(key, "timeout_s") == 0 || strcmp(key, "timeout") == 0) {
			if (!num_in(v, 0.001, 30 * 86400.0)) {
				snprintf(
				    err, errlen,
				    "field '%s' must be a number of seconds (0 < s <= 2592000)",
				    key);
				goto fail;
			}
			json_object_set(out, "timeout_s", v);
			continue;
		} else if (strcmp(key, "priority") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > DTF_PRIORITY_LEVELS) {
				snprintf(err, errlen,
					 "field 'priority' must be an integer from 1 (most urgent) "
					 "to 10");
				goto fail;
			}
		} else if (strcmp(key, "max_retries") == 0 || strcmp(key, "max_requeues") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 100) {
				snprintf(err, errlen, "field '%s' must be an integer from 0 to 100",
					 key);
				goto fail;
			}
		} else if (strcmp(key, "hardware") == 0) {
			json_t *l = hw_list(v);
			if (!l) {
				snprintf(
				    err, errlen,
				    "field 'hardware' must be a hardware class or a list of them");
				goto fail;
			}
			json_object_set_new(out, "hardware", l);
			continue;
		} else if (strcmp(key, "requirements") == 0) {
			const char *rk;
			json_t *rv, *req = json_object();
			if (!json_is_object(v)) {
				json_decref(req);
				snprintf(err, errlen, "field 'requirements' must be an object");
				goto fail;
			}
			json_object_foreach(v, rk, rv) {
				if (strcmp(rk, "hardware") == 0) {
					json_t *l = hw_list(rv);
					if (!l) {
						json_decref(req);
						snprintf(err, errlen,
							 "field 'requirements.hardware' must be a "
							 "list of hardware classes");
						goto fail;
					}
					json_object_set_new(req, rk, l);
				} else if (strcmp(rk, "cpu") == 0 || strcmp(rk, "memory") == 0 ||
					   strcmp(rk, "gpu_memory") == 0) {
					if (!num_in(rv, 0, 1e12)) {
						json_decref(req);
						snprintf(err, errlen,
							 "field 'requirements.%s' must be a number "
							 ">= 0",
							 rk);
						goto fail;
					}
					json_object_set(req, rk, rv);
				} else if (strcmp(rk, "gpus") == 0) {
					/* Whole GPUs (docs/gpu.md). */
					if (!json_is_integer(rv) || json_integer_value(rv) < 0 ||
					    json_integer_value(rv) > 64) {
						json_decref(req);
						snprintf(err, errlen,
							 "field 'requirements.gpus' must be an "
							 "integer from 0 to 64");
						goto fail;
					}
					json_object_set(req, rk, rv);
				} else {
					json_object_set(req, rk, rv);
				}
			}
			json_object_set_new(out, "requirements", req);
			continue;
		} else if (strcmp(key, "constraints") == 0) {
			json_t *l = constraints_normalize(v, err, errlen);
			if (!l)
				goto fail;
			json_object_set_new(out, "constraints", l);
			continue;
		} else if (strcmp(key, "artifacts") == 0) {
			if (list_too_long(v, key, MAX_LIST, MAX_STR, err, errlen))
				goto fail;
			if (!strlist_ok(v, MAX_LIST, MAX_STR)) {
				snprintf(err, errlen, "field '%s' must be a list of strings", key);
				goto fail;
			}
		} else if (strcmp(key, "deadline") == 0) {
			int64_t ms;
			if (!json_is_string(v) || dtf_parse_rfc3339(json_string_value(v), &ms)) {
				snprintf(err, errlen,
					 "field 'deadline' must be an RFC 3339 time such as "
					 "2026-01-31T12:00:00Z");
				goto fail;
			}
		} else if (strcmp(key, "labels") == 0 || strcmp(key, "metadata") == 0) {
			if (!json_is_object(v)) {
				snprintf(err, errlen, "field '%s' must be an object", key);
				goto fail;
			}
		} else if (strcmp(key, "status") == 0 || strcmp(key, "result") == 0 ||
			   strcmp(key, "error") == 0 || strcmp(key, "attempt") == 0 ||
			   strcmp(key, "worker_id") == 0 || strcmp(key, "created_at") == 0) {
			/* Server-owned fields: ignored on submission. */
			continue;
		} else {
			/* Unknown members are the task's own parameters (the seed's benchmark tasks
			 * carry model, batch_sizes, …). */
			json_object_set(params, key, v);
			continue;
		}
		json_object_set(out, key, v);
	}

	type = dtf_json_str(out, "type", NULL);
	/* A plugin's task type is run by its task processor: no command needed. */
	if (!json_object_get(out, "command") && !json_object_get(out, "shell") &&
	    !(type && is_plugin_type(plugin_types, type)) &&
	    !(type && strcmp(type, "browser") == 0)) {
		snprintf(
		    err, errlen,
		    "the task needs 'command' (a list of strings) or 'shell' (a string) to run");
		goto fail;
	}
	if (type && strcmp(type, "browser") == 0 &&
	    !json_is_string(json_object_get(params, "page")) &&
	    !json_is_string(json_object_get(params, "url"))) {
		snprintf(err, errlen,
			 "a browser task needs 'page' (a file of the task's) or 'url'");
		goto fail;
	}
	if (json_object_get(out, "command") && json_object_get(out, "shell")) {
		snprintf(err, errlen, "give either 'command' or 'shell', not both");
		goto fail;
	}
	type = dtf_json_str(out, "type", NULL);
	if (!type) {
		json_object_set_new(out, "type", json_string("command"));
	} else if (!is_known_type(type) && !is_plugin_type(plugin_types, type)) {
		snprintf(err, errlen,
			 "unknown task type '%s' (known: command, test, benchmark, shell)", type);
		goto fail;
	}
	if (!json_object_get(out, "priority"))
		json_object_set_new(out, "priority", json_integer(5));
	if (!json_object_get(out, "max_retries"))
		json_object_set_new(out, "max_retries", json_integer(0));
	if (!json_object_get(out, "timeout_s"))
		json_object_set_new(out, "timeout_s", json_real(default_timeout_s));
	if (!json_object_get(out, "hardware"))
		json_object_set_new(out, "hardware", json_array());
	if (!json_object_get(out, "requirements"))
		json_object_set_new(out, "requirements", json_object());
	if (!json_object_get(json_object_get(out, "requirements"), "hardware"))
		json_object_set_new(json_object_get(out, "requirements"), "hardware", json_array());
	if (!json_object_get(out, "batch_key") && json_is_string(json_object_get(params, "model")))
		json_object_set(out, "batch_key", json_object_get(params, "model"));
	if (!json_object_get(out, "name")) {
		json_t *cmd = json_object_get(out, "command");
		const char *nm =
		    cmd ? json_string_value(json_array_get(cmd, json_array_size(cmd) > 1 ? 1 : 0))
			: dtf_json_str(out, "shell", "task");
		char shortname[121];
		snprintf(shortname, sizeof(shortname), "%s", nm && *nm ? nm : "task");
		v = json_string(shortname);
		json_object_set_new(out, "name", v ? v : json_string("task"));
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}
