/* results.c: what workers report about their tasks: results (checked field by field, stale ones
 * refused), starts, live output, and the reconciliation of what a worker says it runs with what
 * the core believes it holds. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "core/model.h"

#define MAX_OUTPUT_FIELD (2u << 20)

static int store_error(struct core_err *e)
{
	return core_fail(e, DTF_ESTORE, "store_error",
			 "the change could not be committed; nothing was stored");
}

void core_worker_reconcile(struct coord *c, struct cworker *w, const json_t *running)
{
	int64_t now = dtf_mono_ms();
	size_t pos = 0;
	const char *k;
	void *v;
	bool began = false;
	/* Three heartbeats and a bit: a reply still on its way is never taken for lost. */
	int64_t grace_ms = (int64_t)(c->cfg.heartbeat_interval_s * 3000) + 2000;

	size_t i, listed = 0;
	json_t *e;

	if (!json_is_array(running) || w->active == 0)
		return;
	/* The common case costs a lookup per listed task: when every task charged to this worker
	 * is among those it lists, nothing was lost and no scan of all tasks is needed. */
	json_array_foreach(running, i, e) {
		struct ctask *t =
		    json_is_string(e) ? dtf_hmap_get(&c->tasks, json_string_value(e)) : NULL;
		if (t && (t->status == TS_ASSIGNED || t->status == TS_RUNNING) &&
		    strcmp(t->worker_id, w->id) == 0)
			listed++;
	}
	if ((int)listed >= w->active)
		return;
	while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
		struct ctask *t = v;
		bool held = false;
		if ((t->status != TS_ASSIGNED && t->status != TS_RUNNING) ||
		    strcmp(t->worker_id, w->id) != 0 || now - t->assigned_ms < grace_ms)
			continue;
		json_array_foreach(running, i, e)
			if (json_is_string(e) && strcmp(json_string_value(e), t->id) == 0)
				held = true;
		if (held)
			continue;
		if (!began && txn_begin(c) != 0)
			return;
		began = true;
		log_warn("task %s was leased to %s but the worker does not have it; requeued",
			 t->id, w->id);
		state_requeue(c, t, "lease_lost", "the worker never received the task", RQ_FREE);
	}
	if (began) {
		txn_commit(c);
		lease_wake(c);
	}
}

/* True if an earlier attempt of t failed by itself (not because its worker was lost or the lease
 * went astray): a pass after that makes the task flaky. */
static bool failed_before(const struct ctask *t)
{
	json_t *hist = json_object_get(task_doc((struct ctask *)t), "history"), *a;
	size_t i;

	json_array_foreach(hist, i, a) {
		const char *k = dtf_json_str(a, "error_kind", "");
		if (strcmp(dtf_json_str(a, "outcome", ""), "requeued") == 0 &&
		    (!strcmp(k, "exit_code") || !strcmp(k, "signal") || !strcmp(k, "timeout") ||
		     !strcmp(k, "test_failures")))
			return true;
	}
	return false;
}

/* Checks the members of a worker's result and error objects; writes what is wrong to why. */
static bool result_fields_ok(const json_t *res, char *why, size_t len)
{
	static const char *const strs[] = {"stdout", "stderr", "worker_id", "junit_error", NULL};
	static const char *const ints[] = {"exit_code", "signal", "stdout_truncated",
					   "stderr_truncated", NULL};
	json_t *result = json_object_get(res, "result"), *error = json_object_get(res, "error");
	json_t *v;
	int i;
	int64_t ms;

	for (i = 0; strs[i]; i++)
		if ((v = json_object_get(result, strs[i])) && !json_is_string(v)) {
			snprintf(why, len, "'result.%s' must be a string", strs[i]);
			return false;
		}
	for (i = 0; ints[i]; i++)
		if ((v = json_object_get(result, ints[i])) && !json_is_integer(v)) {
			snprintf(why, len, "'result.%s' must be an integer", ints[i]);
			return false;
		}
	if ((v = json_object_get(result, "duration_s")) && !json_is_number(v)) {
		snprintf(why, len, "'result.duration_s' must be a number");
		return false;
	}
	if ((v = json_object_get(result, "testcases")) && !json_is_array(v)) {
		snprintf(why, len, "'result.testcases' must be a list");
		return false;
	}
	if ((v = json_object_get(result, "metrics")) && !json_is_object(v)) {
		snprintf(why, len, "'result.metrics' must be an object");
		return false;
	}
	if (((v = json_object_get(error, "kind")) && !json_is_string(v)) ||
	    ((v = json_object_get(error, "message")) && !json_is_string(v))) {
		snprintf(why, len, "'error.kind' and 'error.message' must be strings");
		return false;
	}
	if ((v = json_object_get(res, "started_at")) &&
	    (!json_is_string(v) || dtf_parse_rfc3339(json_string_value(v), &ms))) {
		snprintf(why, len, "'started_at' must be an RFC 3339 time");
		return false;
	}
	return true;
}

/* Applies a worker's result for a task. Returns 0 when recorded, DTF_ESTALE when the task is no
 * longer this worker's attempt, DTF_ENOTFOUND, DTF_EINVAL for a malformed result. */
int core_result_apply(struct coord *c, struct cworker *w, const char *task_id, json_t *res,
		      char *why, size_t len)
{
	struct ctask *t = dtf_hmap_get(&c->tasks, task_id);
	const char *outcome = dtf_json_str(res, "outcome", NULL);
	json_t *result = json_object_get(res, "result");
	json_t *error = json_object_get(res, "error");
	long long attempt = dtf_json_int(res, "attempt", -1);
	const char *kind;

	if (!t) {
		snprintf(why, len, "no task with id '%s'", task_id);
		return DTF_ENOTFOUND;
	}
	if (!outcome || (strcmp(outcome, "passed") && strcmp(outcome, "failed") &&
			 strcmp(outcome, "interrupted"))) {
		snprintf(why, len, "'outcome' must be passed, failed or interrupted");
		return DTF_EINVAL;
	}
	if ((result && !json_is_object(result)) || (error && !json_is_object(error)) ||
	    !json_is_integer(json_object_get(res, "attempt"))) {
		snprintf(why, len, "'result' and 'error' must be objects and 'attempt' an integer");
		return DTF_EINVAL;
	}
	if (!result_fields_ok(res, why, len))
		return DTF_EINVAL;
	if (result && (json_string_length(json_object_get(result, "stdout")) > MAX_OUTPUT_FIELD ||
		       json_string_length(json_object_get(result, "stderr")) > MAX_OUTPUT_FIELD)) {
		snprintf(why, len, "stdout and stderr are limited to %u bytes each",
			 MAX_OUTPUT_FIELD);
		return DTF_EINVAL;
	}
	if ((t->status != TS_ASSIGNED && t->status != TS_RUNNING) ||
	    strcmp(t->worker_id, w->id) != 0 || attempt != t->attempt) {
		snprintf(why, len,
			 "stale result: task '%s' attempt %lld is not running on worker '%s' "
			 "(the task is %s%s%s, attempt %d)",
			 t->id, attempt, w->id, task_status_name(t->status),
			 t->worker_id[0] ? " on " : "", t->worker_id, t->attempt);
		c->m_stale_results++;
		return DTF_ESTALE;
	}
	kind = dtf_json_str(error, "kind", strcmp(outcome, "passed") == 0 ? NULL : "exit_code");
	/* Short tasks report their start with their result (the worker sends /started only for
	 * tasks that run a while). */
	if (json_is_string(json_object_get(res, "started_at")) &&
	    !json_object_get(task_doc(t), "started_at"))
		json_object_set(task_doc(t), "started_at", json_object_get(res, "started_at"));
	/* A start reported with the result is fired now, before the outcome. */
	if (t->status == TS_ASSIGNED && json_is_string(json_object_get(res, "started_at")))
		state_fire_task(c, t, DTF_HOOK_TASK_STARTED);
	if (result)
		json_object_set(task_doc(t), "result", result);
	/* The worker's executor that ran the attempt (0-based), for its history entry. */
	if (json_is_integer(json_object_get(res, "slot")) &&
	    json_integer_value(json_object_get(res, "slot")) >= 0 &&
	    json_integer_value(json_object_get(res, "slot")) < 4096)
		json_object_set(task_doc(t), "slot", json_object_get(res, "slot"));
	if (strcmp(outcome, "interrupted") == 0) {
		/* Not the task's fault: no retry spent. A task that had started counts against
		 * max_requeues: one the worker stopped (it sends what it has of the result and
		 * error), and one whose processes a restarted worker found and stopped (an error
		 * only), so that a task that keeps taking its worker down stops. A task leased but
		 * never started, which a stopping worker hands back with nothing but the outcome,
		 * spends nothing. */
		bool started = t->status == TS_RUNNING || result || error ||
			       json_is_string(json_object_get(res, "started_at"));
		state_requeue(c, t, "interrupted",
			      strcmp(dtf_json_str(error, "kind", ""), "interrupted") == 0
				  ? dtf_json_str(error, "message", "interrupted")
				  : "the worker stopped the task while shutting down",
			      started ? RQ_INFRA : RQ_FREE);
		return 0;
	}
	if (strcmp(outcome, "passed") == 0) {
		state_record_attempt(c, t, "passed", NULL, NULL);
		/* Settles a recovery in progress and counts strikes against workers where it
		 * failed. */
		recovery_on_success(c, t);
		lease_task_passed(c, t, w, result);
		browsers_record(c, t, w, result);
		state_release(c, t);
		json_object_del(task_doc(t), "error");
		if (failed_before(t))
			json_object_set_new(json_object_get(task_doc(t), "result"), "flaky",
					    json_true());
		state_set_status(c, t, TS_COMPLETED);
		c->m_results[TS_COMPLETED]++;
	} else if (t->retries_used < t->max_retries) {
		state_requeue(c, t, kind, dtf_json_str(error, "message", "the task failed"),
			      RQ_FAILURE);
		state_backoff(c, t);
		state_save_task(c, t);
		return 0;
	} else {
		recovery_on_failure(c, t, kind, dtf_json_str(error, "message", "the task failed"),
				    true);
		state_record_attempt(c, t, "failed", kind, dtf_json_str(error, "message", NULL));
		state_release(c, t);
		json_object_set_new(
		    task_doc(t), "error",
		    error ? json_deep_copy(error)
			  : json_pack("{s:s,s:s}", "kind", kind, "message", "the task failed"));
		if (!json_object_get(json_object_get(task_doc(t), "error"), "kind"))
			json_object_set_new(json_object_get(task_doc(t), "error"), "kind",
					    json_string(kind));
		state_set_status(c, t, TS_FAILED);
		c->m_results[TS_FAILED]++;
	}
	/* Finished: what is read of it from now on is read through task_doc(), so it is kept as
	 * the text saved (a finished task's parsed document, with its result and history, is
	 * about 4 KiB; its text a quarter of that). */
	task_save_compact(c, t);
	return 0;
}

int core_task_result(struct coord *c, struct cworker *w, const char *task_id, json_t *body,
		     json_t **reply, json_t **leased, struct core_err *e)
{
	char why[512];
	int rc, lease_max;
	json_t *tasks = NULL;

	*reply = *leased = NULL;
	if (txn_begin(c))
		return store_error(e);
	rc = core_result_apply(c, w, task_id, body, why, sizeof(why));
	if (rc) {
		txn_rollback(c);
		return core_fail(e, rc, rc == DTF_ESTALE ? "stale_result" : "invalid_result", "%s",
				 why);
	}
	/* A worker whose slot is now free may ask for its next tasks in the same round trip. */
	lease_max = (int)dtf_json_int(body, "lease_max", 0);
	if (lease_max > 0 && lease_max <= 4096)
		tasks = lease_tasks(c, w, lease_max);
	if (txn_commit(c)) {
		json_decref(tasks);
		return store_error(e);
	}
	if (tasks) {
		*reply = lease_reply(w, json_incref(tasks));
		json_object_set_new(*reply, "accepted", json_true());
		*leased = tasks;
	} else {
		*reply = json_pack("{s:b}", "accepted", 1);
	}
	lease_wake(c);
	return 0;
}

int core_task_started(struct coord *c, struct cworker *w, const char *task_id, const json_t *body,
		      struct core_err *e)
{
	struct ctask *t = dtf_hmap_get(&c->tasks, task_id);

	if (!t)
		return core_fail(e, DTF_ENOTFOUND, "task_not_found", "no task with id '%s'",
				 task_id);
	if (t->status != TS_ASSIGNED || strcmp(t->worker_id, w->id) != 0 ||
	    dtf_json_int(body, "attempt", -1) != t->attempt) {
		c->m_stale_results++;
		return core_fail(e, DTF_ESTALE, "stale_start",
				 "task '%s' attempt %lld is not assigned to worker '%s'", t->id,
				 dtf_json_int(body, "attempt", -1), w->id);
	}
	{
		char ts[32];
		dtf_rfc3339(dtf_wall_ms(), ts);
		json_object_set_new(task_doc(t), "started_at", json_string(ts));
	}
	state_set_status(c, t, TS_RUNNING);
	if (txn_begin(c) || state_save_task(c, t) || txn_commit(c))
		return store_error(e);
	return 0;
}

int core_task_log_append(struct coord *c, struct cworker *w, const char *task_id,
			 const json_t *body, struct core_err *e)
{
	struct ctask *t = dtf_hmap_get(&c->tasks, task_id);

	if (!t)
		return core_fail(e, DTF_ENOTFOUND, "task_not_found", "no task with id '%s'",
				 task_id);
	if (!json_is_string(json_object_get(body, "chunk")))
		return core_fail(e, DTF_EINVAL, "invalid_log",
				 "a log chunk needs a string 'chunk'");
	if (strcmp(t->worker_id, w->id) != 0)
		return core_fail(e, DTF_ESTALE, "stale_log", "task '%s' is not on worker '%s'",
				 t->id, w->id);
	{
		/* Live output is kept in memory only (the final result carries the durable copy),
		 * bounded to its last 64 KiB. */
		struct dtf_buf b;
		const char *old = dtf_json_str(task_doc(t), "live_output", "");
		size_t keep;
		dtf_buf_init(&b, 1u << 20);
		dtf_buf_adds(&b, old);
		dtf_buf_adds(&b, dtf_json_str(body, "chunk", ""));
		keep = b.len > 65536 ? b.len - 65536 : 0;
		json_object_set_new(task_doc(t), "live_output",
				    json_string(b.data ? b.data + keep : ""));
		dtf_buf_release(&b);
	}
	return 0;
}
