/* task.c: task processors on the worker (a plugin's own task types) and resource managers:
 * finding the processor of a task's type, running it on the caller's thread, and turning what it
 * reported into the result document the worker sends to the coordinator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "plugin/internal.h"

#define MAX_RESULT_BYTES (8u << 20)

/* A JSON string of len bytes with every byte that is not part of valid UTF-8 made '?'. */
static json_t *utf8_string(const char *s, size_t len)
{
	json_t *v;
	char *copy;
	size_t i = 0;

	if (!s)
		return json_string("");
	v = json_stringn(s, len);
	if (v)
		return v;
	copy = malloc(len + 1);
	if (!copy)
		return json_string("");
	memcpy(copy, s, len);
	copy[len] = '\0';
	while (i < len) {
		unsigned char c = (unsigned char)copy[i];
		size_t n = c < 0x80	    ? 1
			   : (c >> 5) == 6  ? 2
			   : (c >> 4) == 14 ? 3
			   : (c >> 3) == 30 ? 4
					    : 0;
		size_t j;
		bool ok = n > 0 && i + n <= len && c != 0;
		for (j = 1; ok && j < n; j++)
			ok = ((unsigned char)copy[i + j] >> 6) == 2;
		if (ok && n > 1) {
			/* Let jansson judge overlong forms and surrogates. */
			json_t *t = json_stringn(copy + i, n);
			ok = t != NULL;
			json_decref(t);
		}
		if (!ok) {
			copy[i] = c == 0 ? ' ' : '?';
			i++;
		} else {
			i += n;
		}
	}
	v = json_stringn(copy, len);
	free(copy);
	return v ? v : json_string("");
}

json_t *plugin_task_result(const json_t *obj, const struct dtf_process_result *proc,
			   const char *spawn_error)
{
	json_t *result = json_object(), *msg, *err_obj = NULL, *v;
	const char *outcome = dtf_json_str(obj, "outcome", NULL);
	const char *kind = NULL;
	char message[512] = "";
	long long exit_code;

	exit_code = json_is_integer(json_object_get(obj, "exit_code"))
			? json_integer_value(json_object_get(obj, "exit_code"))
		    : proc ? proc->exit_code
			   : 0;
	if (spawn_error && !json_object_get(obj, "exit_code"))
		exit_code = -1;
	json_object_set_new(result, "exit_code", json_integer(exit_code));
	json_object_set_new(result, "duration_s",
			    json_real(json_is_number(json_object_get(obj, "duration_s"))
					  ? json_number_value(json_object_get(obj, "duration_s"))
				      : proc ? proc->duration_s
					     : 0.0));
	v = json_object_get(obj, "stdout");
	json_object_set_new(result, "stdout",
			    json_is_string(v) ? json_copy(v)
			    : proc	      ? utf8_string(proc->out, proc->out_len)
					      : json_string(""));
	v = json_object_get(obj, "stderr");
	json_object_set_new(result, "stderr",
			    json_is_string(v) ? json_copy(v)
			    : proc	      ? utf8_string(proc->err, proc->err_len)
					      : json_string(""));
	if (proc) {
		json_object_set_new(result, "signal", json_integer(proc->signal));
		json_object_set_new(result, "stdout_truncated",
				    json_integer((json_int_t)proc->out_dropped));
		json_object_set_new(result, "stderr_truncated",
				    json_integer((json_int_t)proc->err_dropped));
	}
	if (json_is_object(json_object_get(obj, "metrics")))
		json_object_set(result, "metrics", json_object_get(obj, "metrics"));
	v = json_object_get(obj, "error");
	if (json_is_object(v))
		err_obj = json_deep_copy(v);

	if (spawn_error) {
		outcome = "failed";
		kind = "spawn";
		snprintf(message, sizeof(message), "%s", spawn_error);
	} else if (proc && proc->cancelled) {
		outcome = "failed";
		kind = "cancelled";
		snprintf(message, sizeof(message), "the task was cancelled");
	} else if (proc && proc->timed_out) {
		outcome = "failed";
		kind = "timeout";
		snprintf(message, sizeof(message), "timed out after %.1f s", proc->duration_s);
	} else if (outcome && (strcmp(outcome, "passed") == 0 || strcmp(outcome, "failed") == 0)) {
		if (strcmp(outcome, "failed") == 0 && !err_obj) {
			kind = exit_code ? "exit_code" : "failed";
			if (exit_code)
				snprintf(message, sizeof(message), "exit code %lld", exit_code);
			else
				snprintf(message, sizeof(message),
					 "the task processor reported "
					 "a failure");
		}
	} else if (err_obj) {
		outcome = "failed";
	} else if (proc && proc->signal) {
		outcome = "failed";
		kind = "signal";
		snprintf(message, sizeof(message), "killed by signal %d (%s)", proc->signal,
			 strsignal(proc->signal));
	} else if (exit_code != 0) {
		outcome = "failed";
		kind = "exit_code";
		snprintf(message, sizeof(message), "exit code %lld", exit_code);
	} else {
		outcome = "passed";
	}
	if (strcmp(outcome, "passed") == 0) {
		json_decref(err_obj);
		err_obj = NULL;
	} else if (kind || !err_obj) {
		/* dtf's own reason wins over the processor's (a timeout is a timeout). */
		json_decref(err_obj);
		err_obj = json_pack("{s:s,s:s}", "kind", kind ? kind : "failed", "message",
				    message[0] ? message : "the task failed");
	}
	if (err_obj && !json_is_string(json_object_get(err_obj, "kind")))
		json_object_set_new(err_obj, "kind", json_string("failed"));
	if (err_obj && !json_is_string(json_object_get(err_obj, "message")))
		json_object_set_new(err_obj, "message", json_string("the task failed"));
	msg = json_pack("{s:s,s:o}", "outcome", outcome, "result", result);
	if (err_obj)
		json_object_set_new(msg, "error", err_obj);
	return msg;
}

static struct dtf_plugin_ctx *processor_for(struct dtf_plugins *p, const char *type)
{
	struct dtf_plugin_ctx *found = NULL;
	size_t i;

	if (!p || !type)
		return NULL;
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->n && !found; i++) {
		struct dtf_plugin_ctx *pl = p->v[i];
		if (pl->st != PS_ENABLED || !pl->task_types)
			continue;
		for (char **t = pl->task_types; *t; t++)
			if (strcmp(*t, type) == 0) {
				found = pl;
				break;
			}
	}
	pthread_mutex_unlock(&p->lock);
	return found;
}

const char *const *dtf_plugins_task_types(struct dtf_plugins *p)
{
	static const char *const none[] = {NULL};

	if (!p || !p->task_types)
		return none;
	return (const char *const *)p->task_types;
}

bool dtf_plugins_handles(struct dtf_plugins *p, const char *task_type)
{
	return processor_for(p, task_type) != NULL;
}

int dtf_plugins_run_task_cancellable(struct dtf_plugins *p, const json_t *task, atomic_int *cancel,
				     json_t **result)
{
	struct dtf_plugin_ctx *pl = processor_for(p, dtf_json_str(task, "type", NULL));
	struct dtf_task_run run = {0};
	char *task_json, *out = NULL;
	json_t *obj = NULL;
	double timeout;
	int64_t start;
	int rc;

	*result = NULL;
	if (!pl)
		return DTF_ENOTFOUND;
	atomic_fetch_add(&pl->n_tasks, 1);
	if (pl->exec) {
		*result = exec_plugin_run_task(pl->exec, task, cancel);
		goto out;
	}
	task_json = dtf_json_dumps(task);
	if (!task_json) {
		*result = plugin_task_result(NULL, NULL, "out of memory");
		goto out;
	}
	run.cancel = cancel;
	timeout = dtf_json_num(task, "timeout_s", 0);
	start = dtf_mono_ms();
	if (timeout > 0)
		run.deadline_ms = start + (int64_t)(timeout * 1000);
	rc = pl->task_processor.run(pl->state, &run, task_json, &out);
	free(task_json);
	if (out) {
		char perr[128];
		obj = dtf_json_parse(out, strnlen(out, MAX_RESULT_BYTES), perr, sizeof(perr));
		if (!json_is_object(obj)) {
			json_decref(obj);
			obj = json_pack("{s:s,s:{s:s,s:s+}}", "outcome", "failed", "error", "kind",
					"plugin", "message",
					"the task processor returned bad JSON: ", perr);
		}
		free(out);
	}
	if (rc < 0) {
		char why[PLUGIN_REASON_MAX + 128];
		pthread_mutex_lock(&p->lock);
		snprintf(why, sizeof(why), "task processor %s failed (%s)%s%s", pl->name,
			 dtf_strerror(rc), pl->last_error[0] ? ": " : "", pl->last_error);
		pthread_mutex_unlock(&p->lock);
		json_decref(obj);
		obj = json_pack("{s:s,s:{s:s,s:s}}", "outcome", "failed", "error", "kind", "plugin",
				"message", why);
	} else if (!json_is_number(json_object_get(obj, "duration_s"))) {
		if (!obj)
			obj = json_object();
		json_object_set_new(obj, "duration_s",
				    json_real((double)(dtf_mono_ms() - start) / 1000.0));
	}
	*result = plugin_task_result(obj, NULL, NULL);
	json_decref(obj);
out:
	if (strcmp(dtf_json_str(*result, "outcome", ""), "passed") != 0)
		atomic_fetch_add(&pl->n_task_failures, 1);
	return 0;
}

int dtf_plugins_run_task(struct dtf_plugins *p, const json_t *task, json_t **result)
{
	return dtf_plugins_run_task_cancellable(p, task, NULL, result);
}

void dtf_plugins_detect_resources(struct dtf_plugins *p, json_t *caps)
{
	size_t i;

	if (!p || !json_is_object(caps))
		return;
	for (i = 0; i < p->n; i++) {
		struct dtf_plugin_ctx *pl = p->v[i];
		struct plugin_call *c;
		bool enabled;
		int rc;

		pthread_mutex_lock(&p->lock);
		enabled =
		    pl->st == PS_ENABLED && pl->has_resource_manager && pl->resource_manager.detect;
		pthread_mutex_unlock(&p->lock);
		if (!enabled)
			continue;
		c = calloc(1, sizeof(*c));
		if (!c)
			return;
		c->kind = CALL_DETECT;
		rc = plugin_call(pl, c, p->init_timeout_s);
		if (rc == DTF_ETIMEOUT) {
			plugin_disable(pl, "detect took longer than %.1f s", p->init_timeout_s);
			continue; /* c belongs to the plugin's thread now */
		}
		if (rc < 0) {
			plugin_disable(pl, "detect failed (%s)%s%s", dtf_strerror(rc),
				       c->err[0] ? ": " : "", c->err);
		} else if (c->out) {
			char perr[128];
			json_t *o = dtf_json_parse(c->out, strnlen(c->out, MAX_RESULT_BYTES), perr,
						   sizeof(perr));
			if (json_is_object(o))
				json_object_update(caps, o);
			else
				log_warn("plugin %s: detect returned no JSON object (%s)", pl->name,
					 perr);
			json_decref(o);
		}
		free(c->out);
		free(c);
	}
}
