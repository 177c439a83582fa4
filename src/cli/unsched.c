/* unsched.c: how long a client waits for tasks that no registered worker can run. The
 * coordinator's run summary lists such tasks ("blocked", with the reason); a task's clock starts
 * when it is first seen there and restarts when it leaves the list (a worker that can run it
 * registered). Once a task has been unschedulable for the whole timeout it is cancelled at the
 * coordinator with reason=unschedulable, which records it as skipped with the reason, so every
 * report of the run says the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "net/http.h"

/* When the summary lists fewer blocked tasks than it counts, the run's pending tasks are read. */
#define PENDING_LIST_MAX 100000

void cli_unsched_init(struct cli_unsched *u, double timeout_s)
{
	u->timeout_s = timeout_s > 0 ? timeout_s : 0;
	u->seen = json_object();
	u->skipped = json_array();
}

void cli_unsched_release(struct cli_unsched *u)
{
	json_decref(u->seen);
	json_decref(u->skipped);
	u->seen = NULL;
	u->skipped = NULL;
}

static void add_listed(json_t *out, const json_t *list)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
		json_object_set_new(out, dtf_json_str(e, "id", ""),
				    json_pack("{s:s,s:s}", "name", dtf_json_str(e, "name", ""),
					      "reason", dtf_json_str(e, "reason", "")));
}

/* The unschedulable tasks of the run as {id: {"name", "reason"}} (a new object), from the
 * summary, or from the run's pending tasks when the summary's list is cut short. */
static json_t *blocked_now(struct dtf_http_client *c, const char *run_id, const json_t *summary)
{
	json_t *out = json_object(), *list = json_object_get(summary, "blocked"), *e, *resp = NULL;
	char path[256];
	size_t i;

	if (dtf_json_int(summary, "blocked_count", 0) <= (long long)json_array_size(list)) {
		add_listed(out, list);
		return out;
	}
	snprintf(path, sizeof(path), "/api/v1/tasks?run_id=%s&status=pending&limit=%d", run_id,
		 PENDING_LIST_MAX);
	if (dtf_http_call(c, "GET", path, NULL, 30000, &resp) != 0) {
		/* Not this time: only what the summary named. */
		json_decref(resp);
		add_listed(out, list);
		return out;
	}
	json_array_foreach(json_object_get(resp, "tasks"), i, e) {
		if (!json_is_false(json_object_get(e, "schedulable")))
			continue;
		json_object_set_new(out, dtf_json_str(e, "id", ""),
				    json_pack("{s:s,s:s}", "name", dtf_json_str(e, "name", ""),
					      "reason", dtf_json_str(e, "pending_reason", "")));
	}
	json_decref(resp);
	return out;
}

int cli_unsched_check(struct cli_unsched *u, struct dtf_http_client *c, const char *run_id,
		      const json_t *summary, bool quiet)
{
	json_t *now_blocked, *v, *info;
	const char *id;
	void *tmp;
	int64_t now = dtf_mono_ms();
	int skipped = 0;

	if (u->timeout_s <= 0 || !u->seen)
		return 0;
	if (dtf_json_int(summary, "blocked_count", 0) == 0) {
		/* Nothing is blocked: every clock restarts. */
		json_object_clear(u->seen);
		return 0;
	}
	now_blocked = blocked_now(c, run_id, summary);
	/* A task that can run again starts from zero the next time it is blocked. */
	json_object_foreach_safe(u->seen, tmp, id, v) {
		if (!json_object_get(now_blocked, id))
			json_object_del(u->seen, id);
	}
	json_object_foreach(now_blocked, id, info) {
		json_t *first = json_object_get(u->seen, id);
		char path[256];
		int rc;
		if (!*id)
			continue;
		if (!first) {
			json_object_set_new(u->seen, id, json_integer(now));
			continue;
		}
		if ((double)(now - json_integer_value(first)) < u->timeout_s * 1000.0)
			continue;
		snprintf(path, sizeof(path), "/api/v1/tasks/%s?reason=unschedulable", id);
		rc = dtf_http_call(c, "DELETE", path, NULL, 10000, NULL);
		json_object_del(u->seen, id);
		if (rc == DTF_ESTALE) {
			/* It became schedulable (or finished) meanwhile: its clock restarts. */
			continue;
		}
		if (rc) {
			fprintf(stderr, "dtf: cannot skip task %s: %s\n", id, c->error);
			continue;
		}
		json_array_append_new(u->skipped, json_pack("{s:s,s:O,s:O}", "id", id, "name",
							    json_object_get(info, "name"), "reason",
							    json_object_get(info, "reason")));
		if (!quiet)
			fprintf(stderr, "skipping %s: %s (no worker could run it for %.0f s)\n",
				dtf_json_str(info, "name", id), dtf_json_str(info, "reason", ""),
				u->timeout_s);
		skipped++;
	}
	json_decref(now_blocked);
	return skipped;
}

double cli_unsched_next_s(const struct cli_unsched *u)
{
	const char *id;
	json_t *v;
	int64_t now = dtf_mono_ms();
	double next = -1;

	if (u->timeout_s <= 0 || !u->seen)
		return -1;
	json_object_foreach(u->seen, id, v) {
		double left = u->timeout_s - (double)(now - json_integer_value(v)) / 1000.0;
		if (left < 0)
			left = 0;
		if (next < 0 || left < next)
			next = left;
	}
	return next;
}

void cli_unsched_print(const struct cli_unsched *u, FILE *f)
{
	size_t i;
	json_t *e;

	json_array_foreach(u->skipped, i, e)
		fprintf(f, "skipped %s (%s): %s\n", dtf_json_str(e, "name", ""),
			dtf_json_str(e, "id", ""), dtf_json_str(e, "reason", ""));
}
