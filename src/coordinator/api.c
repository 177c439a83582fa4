/* api.c: the REST API of DESIGN.md §5: the client API (tasks, runs, workers, summaries,
 * exports), the worker API (register, heartbeat, long-poll lease, started, result), health and
 * metrics. Each handler takes the coordinator lock, validates everything it was sent before it
 * changes anything, commits, and only then replies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/prom.h"
#include "common/util.h"
#include "coordinator/coordinator.h"
#include "report/report.h"

#define MAX_OUTPUT_FIELD (2u << 20)
#define MAX_LEASE_WAIT_S 60.0

static struct coord *C(struct dtf_http_req *r)
{
	return r->app;
}

/* Parses the request body as JSON; on failure replies 400 and returns NULL. */
static json_t *body_json(struct dtf_http_req *r)
{
	char err[200];
	json_t *v;

	if (r->body_len == 0) {
		dtf_http_reply_error(r, 400, "empty_body", "the request needs a JSON body");
		return NULL;
	}
	v = dtf_json_parse(r->body, r->body_len, err, sizeof(err));
	if (!v)
		dtf_http_reply_error(r, 400, "malformed_json", "malformed JSON: %s", err);
	return v;
}

static void reply_store_error(struct dtf_http_req *r)
{
	C(r)->m_http_errors++;
	dtf_http_reply_error(r, 503, "store_error",
			     "the change could not be committed; nothing was stored");
}

/* The task as the API shows it (a new reference): its document plus, while it is pending, why. */
static json_t *task_view(struct coord *c, struct ctask *t)
{
	json_t *v = task_doc_copy(t);
	char why[512];

	if (t->status == TS_PENDING) {
		bool never = sched_pending_reason(c, t, why, sizeof(why));
		json_object_set_new(v, "pending_reason", json_string(why));
		json_object_set_new(v, "schedulable", json_boolean(!never));
	}
	return v;
}

static int by_seq(const void *a, const void *b)
{
	const struct ctask *x = *(struct ctask *const *)a, *y = *(struct ctask *const *)b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Collects tasks (of a run, or of a comma-separated id list, or all) sorted by submission. */
static struct ctask **collect(struct coord *c, const char *run_id, const char *ids, size_t *n,
			      char *bad, size_t badlen)
{
	struct ctask **out = NULL;
	size_t cap = 0, pos = 0;
	const char *k;
	void *v;

	*n = 0;
	bad[0] = '\0';
	if (ids) {
		const char *p = ids;
		while (*p) {
			char id[64];
			size_t len = strcspn(p, ",");
			struct ctask *t;
			if (len > 0 && len < sizeof(id)) {
				memcpy(id, p, len);
				id[len] = '\0';
				t = dtf_hmap_get(&c->tasks, id);
				if (!t) {
					snprintf(bad, badlen, "%s", id);
					free(out);
					*n = 0;
					return NULL;
				}
				if (*n == cap) {
					cap = cap ? cap * 2 : 64;
					out = realloc(out, cap * sizeof(*out));
				}
				out[(*n)++] = t;
			}
			p += len;
			if (*p == ',')
				p++;
		}
	} else {
		while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
			struct ctask *t = v;
			if (run_id && strcmp(t->run_id, run_id) != 0)
				continue;
			if (*n == cap) {
				cap = cap ? cap * 2 : 64;
				out = realloc(out, cap * sizeof(*out));
			}
			out[(*n)++] = t;
		}
	}
	if (*n)
		qsort(out, *n, sizeof(*out), by_seq);
	return out;
}

/* True if no registered worker could ever run pending task t; lists it (the first 20) in
 * blocked with the reason. */
static bool note_blocked(struct coord *c, struct ctask *t, json_t *blocked)
{
	char why[512];
	size_t pos = 0;
	const char *k;
	void *v;

	/* Most pending tasks have a worker that could run them: find one before writing why. */
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0)
		if (sched_could_run(t, v))
			return false;
	if (!sched_pending_reason(c, t, why, sizeof(why)))
		return false;
	if (json_array_size(blocked) < 20)
		json_array_append_new(blocked, json_pack("{s:s,s:s,s:s}", "id", t->id, "name",
							 dtf_json_str(task_doc(t), "name", ""), "reason",
							 why));
	return true;
}

static json_t *summary_of(struct coord *c, struct ctask **ts, size_t n, bool with_blocked)
{
	int counts[TS__COUNT] = {0};
	int unsched = 0, blocked_n = 0;
	json_t *blocked = json_array();
	size_t i;
	int s;
	json_t *out;

	for (i = 0; i < n; i++) {
		struct ctask *t = ts[i];
		counts[t->status]++;
		if (t->status == TS_CANCELLED &&
		    strcmp(dtf_json_str(json_object_get(task_doc(t), "error"), "kind", ""),
			   "unschedulable") == 0)
			unsched++;
		if (with_blocked && t->status == TS_PENDING && note_blocked(c, t, blocked))
			blocked_n++;
	}
	out = json_pack("{s:i}", "total", (int)n);
	for (s = 0; s < TS__COUNT; s++)
		json_object_set_new(out, task_status_name((enum task_status)s),
				    json_integer(counts[s]));
	json_object_set_new(out, "unschedulable", json_integer(unsched));
	json_object_set_new(out, "finished", json_integer(counts[TS_COMPLETED] + counts[TS_FAILED] +
							  counts[TS_CANCELLED]));
	json_object_set_new(out, "done",
			    json_boolean(counts[TS_PENDING] + counts[TS_ASSIGNED] +
						 counts[TS_RUNNING] ==
					 0));
	if (with_blocked) {
		json_object_set_new(out, "blocked_count", json_integer(blocked_n));
		json_object_set_new(out, "blocked", blocked);
	} else {
		json_decref(blocked);
	}
	return out;
}

/* ---- health and metrics ---- */

static void h_healthz(struct dtf_http_req *r)
{
	dtf_http_reply_json(r, 200, json_pack("{s:s,s:i}", "status", "ok", "protocol",
					      DTF_PROTOCOL_VERSION));
}

static void h_metrics(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	static const char *const wnames[] = {"idle", "busy", "draining", "lost"};
	int wcount[4] = {0}, waiters = 0;
	size_t pos = 0, i;
	const char *k;
	void *v;
	int s;
	struct dtf_prom pm;

	pthread_mutex_lock(&c->lock);
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		wcount[((struct cworker *)v)->status]++;
		waiters += ((struct cworker *)v)->waiter != NULL;
	}
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4";
	dtf_buf_reset(&r->resp);
	dtf_prom_init(&pm, &r->resp);
	dtf_prom_family(&pm, "dtf_tasks", DTF_PROM_GAUGE, "Tasks by status.");
	for (s = 0; s < TS__COUNT; s++)
		dtf_prom_sample(&pm, NULL,
				DTF_PROM_LABELS("status", task_status_name((enum task_status)s)),
				c->counts[s]);
	dtf_prom_family(&pm, "dtf_workers", DTF_PROM_GAUGE, "Workers by status.");
	for (s = 0; s < 4; s++)
		dtf_prom_sample(&pm, NULL, DTF_PROM_LABELS("status", wnames[s]), wcount[s]);
	dtf_prom_single(&pm, "dtf_tasks_submitted_total", DTF_PROM_COUNTER, "Tasks accepted.",
			(double)c->m_submitted);
	dtf_prom_single(&pm, "dtf_leases_total", DTF_PROM_COUNTER, "Leases that handed out tasks.",
			(double)c->m_leases);
	dtf_prom_single(&pm, "dtf_leased_tasks_total", DTF_PROM_COUNTER,
			"Tasks handed out by leases.", (double)c->m_leased_tasks);
	dtf_prom_single(&pm, "dtf_tasks_requeued_total", DTF_PROM_COUNTER,
			"Tasks sent back to pending.", (double)c->m_requeued);
	dtf_prom_family(&pm, "dtf_task_requeues_total", DTF_PROM_COUNTER,
			"Tasks requeued without spending a retry because their worker was lost, "
			"restarted without them or stopped them (bounded by max_requeues).");
	for (i = 0; i < 2; i++)
		dtf_prom_sample(&pm, NULL, DTF_PROM_LABELS("kind", state_requeue_kind_names[i]),
				(double)c->m_infra_requeues[i]);
	dtf_prom_single(&pm, "dtf_task_requeue_limit_total", DTF_PROM_COUNTER,
			"Tasks failed because their worker was lost more often than max_requeues "
			"allows.",
			(double)c->m_requeue_limit);
	dtf_prom_single(&pm, "dtf_stale_results_total", DTF_PROM_COUNTER,
			"Results rejected as stale.", (double)c->m_stale_results);
	dtf_prom_single(&pm, "dtf_pending_tasks", DTF_PROM_GAUGE, "Tasks in the pending queues.",
			(double)c->pending_count);
	dtf_prom_single(&pm, "dtf_lease_waiters", DTF_PROM_GAUGE,
			"Workers with a long-poll lease parked, waiting for work.", waiters);
	dtf_prom_single(&pm, "dtf_leased_ahead_total", DTF_PROM_COUNTER,
			"Tasks leased ahead (queued on a worker whose slots were all taken).",
			(double)c->m_leased_ahead);
	dtf_prom_family(&pm, "dtf_task_results_total", DTF_PROM_COUNTER, "Final task outcomes.");
	for (s = TS_COMPLETED; s < TS__COUNT; s++)
		dtf_prom_sample(&pm, NULL,
				DTF_PROM_LABELS("status", task_status_name((enum task_status)s)),
				(double)c->m_results[s]);
	dtf_prom_single(&pm, "dtf_store_commits_total", DTF_PROM_COUNTER,
			"Store transactions committed.", (double)c->m_commits);
	dtf_prom_single(&pm, "dtf_store_committed_changes_total", DTF_PROM_COUNTER,
			"Changes (requests) those commits held.", (double)c->m_commit_changes);
	recovery_metrics(c, &pm);
	coord_sched_metrics(c, &pm);
	pthread_mutex_unlock(&c->lock);
	{
		int prc = dtf_prom_end(&pm);

		if (prc) {
			/* A bug in a family's definition (or no memory): say so rather than
			 * serve half. */
			log_error("/metrics: %s", dtf_strerror(prc));
			dtf_http_reply_error(r, 500, "metrics_error",
					     "the metrics could not be written: %s", dtf_strerror(prc));
		}
	}
}

/* ---- runs ---- */

static struct crun *new_run(struct coord *c, const char *name, json_t *meta)
{
	char id[48], ts[32];
	json_t *doc;

	dtf_id_new("r-", id, sizeof(id));
	dtf_rfc3339(dtf_wall_ms(), ts);
	doc = json_pack("{s:s,s:s}", "name", name && *name ? name : id, "created_at", ts);
	if (json_is_object(meta))
		json_object_set(doc, "metadata", meta);
	return state_add_run(c, id, doc);
}

static json_t *run_view(struct coord *c, struct crun *run, bool with_blocked)
{
	size_t n;
	char bad[64];
	struct ctask **ts = collect(c, run->id, NULL, &n, bad, sizeof(bad));
	json_t *v = json_copy(run->doc);

	json_object_set_new(v, "summary", summary_of(c, ts, n, with_blocked));
	json_object_set_new(json_object_get(v, "summary"), "tests", dtf_testcount_json(&run->tests));
	free(ts);
	return v;
}

static void h_runs_create(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	json_t *body = body_json(r);
	struct crun *run;

	if (!body)
		return;
	if (!json_is_object(body) ||
	    (json_object_get(body, "name") && !json_is_string(json_object_get(body, "name")))) {
		dtf_http_reply_error(r, 400, "invalid_run", "a run is an object with a string 'name'");
		goto out;
	}
	pthread_mutex_lock(&c->lock);
	run = new_run(c, dtf_json_str(body, "name", NULL), json_object_get(body, "metadata"));
	if (!run || state_begin(c) || state_save_run(c, run) || state_commit(c))
		reply_store_error(r);
	else
		dtf_http_reply_json(r, 201, run_view(c, run, false));
	pthread_mutex_unlock(&c->lock);
out:
	json_decref(body);
}

static void h_runs_list(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	json_t *list = json_array();
	size_t pos = 0;
	const char *k;
	void *v;

	pthread_mutex_lock(&c->lock);
	while ((pos = dtf_hmap_next(&c->runs, pos, &k, &v)) != 0)
		json_array_append_new(list, run_view(c, v, false));
	pthread_mutex_unlock(&c->lock);
	dtf_http_reply_json(r, 200, json_pack("{s:o}", "runs", list));
}

static struct crun *find_run(struct dtf_http_req *r)
{
	struct crun *run = state_run(C(r), r->param[0]);

	if (!run)
		dtf_http_reply_error(r, 404, "run_not_found", "no run with id '%s'", r->param[0]);
	return run;
}

static void h_run_get(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	struct crun *run;

	pthread_mutex_lock(&c->lock);
	run = find_run(r);
	if (run)
		dtf_http_reply_json(r, 200, run_view(c, run, true));
	pthread_mutex_unlock(&c->lock);
}

/* A run's summary from its counters, without a scan of its tasks. The blocked list (pending
 * tasks no worker can run) looks at the run's pending tasks in queue order, at most
 * BLOCKED_SCAN of them, so the cost stays bounded however large the run. */
#define BLOCKED_SCAN 500

static json_t *run_summary(struct coord *c, struct crun *run)
{
	json_t *out = json_pack("{s:s,s:i}", "run_id", run->id, "total", run->total);
	json_t *blocked = json_array();
	int s, scanned = 0, nblocked = 0, p;

	for (s = 0; s < TS__COUNT; s++)
		json_object_set_new(out, task_status_name((enum task_status)s),
				    json_integer(run->counts[s]));
	json_object_set_new(out, "unschedulable", json_integer(run->unschedulable));
	/* The counts users see in every report: test entries, not tasks. */
	json_object_set_new(out, "tests", dtf_testcount_json(&run->tests));
	json_object_set_new(out, "finished",
			    json_integer(run->counts[TS_COMPLETED] + run->counts[TS_FAILED] +
					 run->counts[TS_CANCELLED]));
	json_object_set_new(out, "done", json_boolean(run->counts[TS_PENDING] +
							      run->counts[TS_ASSIGNED] +
							      run->counts[TS_RUNNING] ==
						      0));
	for (p = 1; p <= DTF_PRIORITY_LEVELS && run->counts[TS_PENDING] > 0; p++) {
		struct ctask *t;
		for (t = c->qhead[p]; t && scanned < BLOCKED_SCAN; t = t->qnext) {
			if (strcmp(t->run_id, run->id) != 0)
				continue;
			scanned++;
			if (note_blocked(c, t, blocked))
				nblocked++;
		}
	}
	json_object_set_new(out, "blocked_count", json_integer(nblocked));
	json_object_set_new(out, "blocked", blocked);
	return out;
}

static bool run_done(const struct crun *run)
{
	return run->counts[TS_PENDING] + run->counts[TS_ASSIGNED] + run->counts[TS_RUNNING] == 0;
}

/* GET /api/v1/runs/{id}/summary[?wait_s=S]: with wait_s (at most MAX_SUMMARY_WAIT_S), a run
 * that is not done yet is answered once it is, or after S seconds, whichever comes first. */
#define MAX_SUMMARY_WAIT_S 60.0

static void h_run_summary(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	struct crun *run;
	const char *ws = dtf_http_query(r, "wait_s");
	double wait_s = 0;

	if (ws) {
		char *end;
		wait_s = strtod(ws, &end);
		if (end == ws || *end || !(wait_s >= 0 && wait_s <= MAX_SUMMARY_WAIT_S)) {
			dtf_http_reply_error(r, 400, "invalid_wait",
					     "wait_s must be a number of seconds from 0 to %.0f",
					     MAX_SUMMARY_WAIT_S);
			return;
		}
	}
	pthread_mutex_lock(&c->lock);
	run = find_run(r);
	if (run && wait_s > 0 && !run_done(run) && !c->stopping) {
		struct run_waiter *rw = calloc(1, sizeof(*rw));
		if (rw) {
			rw->r = r;
			snprintf(rw->run_id, sizeof(rw->run_id), "%s", run->id);
			rw->deadline_ms = dtf_mono_ms() + (int64_t)(wait_s * 1000);
			rw->next = c->run_waiters;
			c->run_waiters = rw;
			dtf_http_suspend(r);
			run = NULL;
		}
	}
	if (run)
		dtf_http_reply_json(r, 200, run_summary(c, run));
	pthread_mutex_unlock(&c->lock);
}

void coord_run_waiters_check(struct coord *c, bool expired_too)
{
	struct run_waiter **pp = &c->run_waiters, *rw;
	int64_t now = expired_too ? dtf_mono_ms() : 0;

	while ((rw = *pp) != NULL) {
		struct crun *run = state_run(c, rw->run_id);
		if (run && !run_done(run) && !(expired_too && now >= rw->deadline_ms)) {
			pp = &rw->next;
			continue;
		}
		*pp = rw->next;
		if (run)
			dtf_http_reply_json(rw->r, 200, run_summary(c, run));
		else
			dtf_http_reply_error(rw->r, 404, "run_not_found", "no run with id '%s'",
					     rw->run_id);
		dtf_http_resume(rw->r);
		free(rw);
	}
}

void coord_run_waiters_forget(struct coord *c, struct dtf_http_req *r)
{
	struct run_waiter **pp, *rw;

	for (pp = &c->run_waiters; (rw = *pp) != NULL; pp = &rw->next) {
		if (rw->r == r) {
			*pp = rw->next;
			free(rw);
			return;
		}
	}
}

void coord_run_waiters_end(struct coord *c)
{
	struct run_waiter *rw;

	while ((rw = c->run_waiters) != NULL) {
		c->run_waiters = rw->next;
		dtf_http_reply_error(rw->r, 503, "shutting_down", "the coordinator is shutting down");
		dtf_http_resume(rw->r);
		free(rw);
	}
}

/* Renders doc in fmt (a name dtf_report_file_name() knows): JSON and JUnit as they always were,
 * the other formats from the prepared model. */
static int report_export(json_t *doc, const char *fmt, struct dtf_buf *out,
			 const char **content_type)
{
	char err[256];
	int rc = 0;

	if (strcmp(fmt, "json") == 0)
		*content_type = "application/json";
	else if (strcmp(fmt, "junit") == 0 || strcmp(fmt, "xml") == 0)
		*content_type = "application/xml";
	else if (strcmp(fmt, "html") == 0)
		*content_type = "text/html; charset=utf-8";
	else if (strcmp(fmt, "csv") == 0)
		*content_type = "text/csv; charset=utf-8";
	else
		*content_type = "text/markdown; charset=utf-8";
	if (strcmp(fmt, "json") != 0 && strcmp(fmt, "junit") != 0 && strcmp(fmt, "xml") != 0)
		rc = dtf_report_prepare(doc, NULL, err, sizeof(err));
	return rc ? rc : dtf_report_render(fmt, doc, out);
}

/* Writes the report of tasks ts in the requested format. */
static void export_tasks(struct dtf_http_req *r, struct coord *c, json_t *run, struct ctask **ts,
			 size_t n)
{
	const char *fmt = dtf_http_query(r, "format");
	json_t *doc, *tasks = json_array();
	size_t i;
	int rc;

	if (!fmt)
		fmt = "json";
	if (!dtf_report_file_name(fmt)) {
		dtf_http_reply_error(r, 400, "unsupported_format",
				     "format '%s' is not supported (json, junit, markdown, html, csv)",
				     fmt);
		json_decref(tasks);
		return;
	}
	for (i = 0; i < n; i++)
		json_array_append_new(tasks, task_view(c, ts[i]));
	doc = json_pack("{s:O,s:o}", "run", run, "tasks", tasks);
	dtf_buf_reset(&r->resp);
	rc = report_export(doc, fmt, &r->resp, &r->content_type);
	json_decref(doc);
	if (rc)
		dtf_http_reply_error(r, 500, "report_failed", "could not write the report: %s",
				     dtf_strerror(rc));
	else
		r->status = 200;
}

static void h_run_export(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	struct crun *run;
	struct ctask **ts;
	size_t n;
	char bad[64];

	pthread_mutex_lock(&c->lock);
	run = find_run(r);
	if (run) {
		ts = collect(c, run->id, NULL, &n, bad, sizeof(bad));
		export_tasks(r, c, run->doc, ts, n);
		free(ts);
	}
	pthread_mutex_unlock(&c->lock);
}

/* ---- tasks ---- */

/* Accepts one task object, a list, or {"tasks": [...], "run_id"?, "run": {"name"}?}. */
static void h_tasks_create(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	json_t *body = body_json(r), *list, *docs = NULL, *ids = NULL, *v;
	const char *run_id = NULL;
	struct crun *run = NULL;
	bool single = false, created_run = false;
	size_t i, j;
	char err[512];

	if (!body)
		return;
	if (json_is_array(body)) {
		list = body;
	} else if (json_is_object(body) && json_is_array(json_object_get(body, "tasks"))) {
		list = json_object_get(body, "tasks");
		run_id = dtf_json_str(body, "run_id", NULL);
	} else if (json_is_object(body)) {
		list = NULL;
		single = true;
		run_id = dtf_json_str(body, "run_id", NULL);
	} else {
		dtf_http_reply_error(r, 400, "invalid_task",
				     "expected a task object, a list of tasks or {\"tasks\": [...]}");
		goto out;
	}
	if (list && json_array_size(list) > DTF_MAX_TASKS_PER_REQUEST) {
		dtf_http_reply_error(r, 413, "too_many_tasks", "at most %d tasks per request",
				     DTF_MAX_TASKS_PER_REQUEST);
		goto out;
	}
	/* Validate everything before anything is stored. */
	docs = json_array();
	for (i = 0; i < (single ? 1 : json_array_size(list)); i++) {
		json_t *in = single ? body : json_array_get(list, i);
		json_t *doc = task_normalize_ex(in, c->cfg.default_timeout_s,
						dtf_plugins_task_types(c->plugins), err, sizeof(err));
		if (!doc) {
			const char *code = strncmp(err, DTF_CONSTRAINTS_ERR_PREFIX,
						   strlen(DTF_CONSTRAINTS_ERR_PREFIX)) == 0
						   ? "invalid_constraint"
						   : "invalid_task";
			if (single)
				dtf_http_reply_error(r, 400, code, "%s", err);
			else
				dtf_http_reply_error(r, 400, code, "task %zu: %s", i, err);
			goto out;
		}
		json_array_append_new(docs, doc);
	}
	if (!single && json_array_size(docs) == 0) {
		dtf_http_reply_error(r, 400, "invalid_task", "the task list is empty");
		goto out;
	}
	pthread_mutex_lock(&c->lock);
	json_array_foreach(docs, i, v)
	{
		const char *id = dtf_json_str(v, "id", NULL);
		const char *rid = dtf_json_str(v, "run_id", run_id);
		if (id && dtf_hmap_get(&c->tasks, id)) {
			dtf_http_reply_error(r, 409, "task_exists", "a task with id '%s' exists", id);
			goto unlock;
		}
		for (j = 0; id && j < i; j++) {
			if (strcmp(dtf_json_str(json_array_get(docs, j), "id", ""), id) == 0) {
				dtf_http_reply_error(r, 400, "duplicate_id",
						     "tasks %zu and %zu have the same id '%s'", j, i,
						     id);
				goto unlock;
			}
		}
		if (rid && !state_run(c, rid)) {
			dtf_http_reply_error(r, 404, "run_not_found", "no run with id '%s'", rid);
			goto unlock;
		}
	}
	if (state_begin_alone(c)) {
		reply_store_error(r);
		goto unlock;
	}
	if (!single && !run_id) {
		json_t *rn = json_object_get(body, "run");
		run = new_run(c, dtf_json_str(rn, "name", NULL), json_object_get(rn, "metadata"));
		if (!run || state_save_run(c, run)) {
			state_rollback(c);
			reply_store_error(r);
			goto unlock;
		}
		created_run = true;
		run_id = run->id;
	}
	ids = json_array();
	json_array_foreach(docs, i, v)
	{
		char id[48], ts[32];
		struct ctask *t;
		const char *rid = dtf_json_str(v, "run_id", run_id);
		if (!json_object_get(v, "id")) {
			dtf_id_new("t-", id, sizeof(id));
			json_object_set_new(v, "id", json_string(id));
		}
		if (rid)
			json_object_set_new(v, "run_id", json_string(rid));
		dtf_rfc3339(dtf_wall_ms(), ts);
		json_object_set_new(v, "created_at", json_string(ts));
		json_object_set_new(v, "attempt", json_integer(0));
		t = state_add_task(c, json_incref(v), TS_PENDING);
		/* Stored, and kept as text while it waits in the queue (taskdoc.c). */
		if (!t || task_save_compact(c, t)) {
			reply_store_error(r);
			break;
		}
		json_array_append_new(ids, json_string(t->id));
	}
	if (json_array_size(ids) != json_array_size(docs) || state_commit_now(c)) {
		/* Undo the in-memory part too: nothing of this request is kept. */
		state_rollback(c);
		json_array_foreach(ids, i, v)
		{
			struct ctask *t = dtf_hmap_get(&c->tasks, json_string_value(v));
			if (t)
				state_remove_task(c, t);
		}
		if (created_run) {
			struct crun *rr = dtf_hmap_del(&c->runs, run_id);
			if (rr) {
				json_decref(rr->doc);
				free(rr);
			}
		}
		reply_store_error(r);
		goto unlock;
	}
	c->m_submitted += json_array_size(ids);
	if (single) {
		struct ctask *t = dtf_hmap_get(&c->tasks, json_string_value(json_array_get(ids, 0)));
		dtf_http_reply_json(r, 201, task_view(c, t));
	} else {
		dtf_http_reply_json(r, 201,
				    json_pack("{s:s,s:O,s:i}", "run_id", run_id, "ids", ids, "count",
					      (int)json_array_size(ids)));
	}
	sched_wake(c);
unlock:
	pthread_mutex_unlock(&c->lock);
out:
	json_decref(ids);
	json_decref(docs);
	json_decref(body);
}

static void h_tasks_list(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	const char *status = dtf_http_query(r, "status");
	const char *run_id = dtf_http_query(r, "run_id");
	const char *lim = dtf_http_query(r, "limit");
	const char *off = dtf_http_query(r, "offset");
	long limit = lim ? strtol(lim, NULL, 10) : 1000, offset = off ? strtol(off, NULL, 10) : 0;
	enum task_status want = TS_PENDING;
	struct ctask **ts;
	size_t n, i, matched = 0;
	json_t *list = json_array();
	char bad[64];

	if (status && !task_status_parse(status, &want)) {
		json_decref(list);
		dtf_http_reply_error(r, 400, "invalid_status", "unknown status '%s'", status);
		return;
	}
	if (limit < 0 || limit > 100000 || offset < 0) {
		json_decref(list);
		dtf_http_reply_error(r, 400, "invalid_range",
				     "limit must be 0..100000 and offset >= 0");
		return;
	}
	pthread_mutex_lock(&c->lock);
	ts = collect(c, run_id, NULL, &n, bad, sizeof(bad));
	for (i = 0; i < n; i++) {
		if (status && ts[i]->status != want)
			continue;
		if ((long)matched >= offset && (long)json_array_size(list) < limit)
			json_array_append_new(list, task_view(c, ts[i]));
		matched++;
	}
	free(ts);
	pthread_mutex_unlock(&c->lock);
	dtf_http_reply_json(r, 200, json_pack("{s:o,s:i}", "tasks", list, "total", (int)matched));
}

/* Adds "tests" to a summary of tasks ts: their test entries by status, as the reports count them
 * (common/testcount.h). A finished task kept as text is read from a copy, so that its parsed
 * document is not kept. Returns summary. */
static json_t *tests_summary(json_t *summary, struct ctask **ts, size_t n)
{
	struct dtf_testcount tc;
	size_t i;

	memset(&tc, 0, sizeof(tc));
	for (i = 0; i < n; i++) {
		json_t *doc;

		if (!task_is_final(ts[i]->status)) {
			tc.n[ts[i]->status == TS_PENDING ? DTF_TEST_PENDING : DTF_TEST_RUNNING]++;
			tc.total++;
			continue;
		}
		doc = task_doc_copy(ts[i]);
		dtf_testcount_add_task(&tc, doc);
		json_decref(doc);
	}
	json_object_set_new(summary, "tests", dtf_testcount_json(&tc));
	return summary;
}

static void h_tasks_summary(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	const char *ids = dtf_http_query(r, "ids");
	const char *run_id = dtf_http_query(r, "run_id");
	struct ctask **ts;
	size_t n;
	char bad[64];

	pthread_mutex_lock(&c->lock);
	ts = collect(c, run_id, ids, &n, bad, sizeof(bad));
	if (bad[0])
		dtf_http_reply_error(r, 404, "task_not_found", "no task with id '%s'", bad);
	else
		dtf_http_reply_json(r, 200, tests_summary(summary_of(c, ts, n, true), ts, n));
	free(ts);
	pthread_mutex_unlock(&c->lock);
}

static void h_tasks_export(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	const char *ids = dtf_http_query(r, "ids");
	const char *run_id = dtf_http_query(r, "run_id");
	struct ctask **ts;
	size_t n;
	char bad[64], now[32];
	json_t *run;

	pthread_mutex_lock(&c->lock);
	ts = collect(c, run_id, ids, &n, bad, sizeof(bad));
	if (bad[0]) {
		dtf_http_reply_error(r, 404, "task_not_found", "no task with id '%s'", bad);
	} else {
		struct crun *cr = run_id ? state_run(c, run_id) : NULL;
		dtf_rfc3339(dtf_wall_ms(), now);
		run = cr ? json_incref(cr->doc)
			 : json_pack("{s:s,s:s,s:s}", "id", "export", "name", "dtf", "created_at",
				     now);
		export_tasks(r, c, run, ts, n);
		json_decref(run);
	}
	free(ts);
	pthread_mutex_unlock(&c->lock);
}

static struct ctask *find_task(struct dtf_http_req *r)
{
	struct ctask *t = dtf_hmap_get(&C(r)->tasks, r->param[0]);

	if (!t)
		dtf_http_reply_error(r, 404, "task_not_found", "no task with id '%s'", r->param[0]);
	return t;
}

static void h_task_get(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	struct ctask *t;

	pthread_mutex_lock(&c->lock);
	t = find_task(r);
	if (t)
		dtf_http_reply_json(r, 200, task_view(c, t));
	pthread_mutex_unlock(&c->lock);
}

static void h_task_log(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	struct ctask *t;

	pthread_mutex_lock(&c->lock);
	t = find_task(r);
	if (t) {
		json_t *res = json_object_get(task_doc(t), "result");
		const char *live = dtf_json_str(task_doc(t), "live_output", "");
		r->status = 200;
		r->content_type = "text/plain; charset=utf-8";
		dtf_buf_reset(&r->resp);
		if (res) {
			dtf_buf_adds(&r->resp, dtf_json_str(res, "stdout", ""));
			dtf_buf_adds(&r->resp, dtf_json_str(res, "stderr", ""));
		} else {
			dtf_buf_adds(&r->resp, live);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* PUT: change a pending task's scheduling fields (priority, timeout_s, max_retries,
 * max_requeues, params). */
static void h_task_put(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	json_t *body = body_json(r), *v;
	struct ctask *t;
	const char *key;

	if (!body)
		return;
	if (!json_is_object(body)) {
		dtf_http_reply_error(r, 400, "invalid_update", "the update must be an object");
		json_decref(body);
		return;
	}
	json_object_foreach(body, key, v)
	{
		bool ok = (strcmp(key, "priority") == 0 && json_is_integer(v) &&
			   json_integer_value(v) >= 1 && json_integer_value(v) <= 10) ||
			  (strcmp(key, "timeout_s") == 0 && json_is_number(v) &&
			   json_number_value(v) > 0) ||
			  ((strcmp(key, "max_retries") == 0 || strcmp(key, "max_requeues") == 0) &&
			   json_is_integer(v) && json_integer_value(v) >= 0 &&
			   json_integer_value(v) <= 100) ||
			  (strcmp(key, "params") == 0 && json_is_object(v)) ||
			  (strcmp(key, "name") == 0 && json_is_string(v));
		if (!ok) {
			dtf_http_reply_error(r, 400, "invalid_update",
					     "field '%s' cannot be set to that (priority 1-10, "
					     "timeout_s > 0, max_retries and max_requeues 0-100, "
					     "params, name)",
					     key);
			json_decref(body);
			return;
		}
	}
	pthread_mutex_lock(&c->lock);
	t = find_task(r);
	if (t && t->status != TS_PENDING) {
		dtf_http_reply_error(r, 409, "not_pending", "task '%s' is %s; only pending tasks change",
				     t->id, task_status_name(t->status));
	} else if (t) {
		json_t *old = json_deep_copy(task_doc(t));
		bool queued = t->queued;
		if (queued)
			state_unqueue(c, t);
		json_object_update(task_doc(t), body);
		t->priority = (int)dtf_json_int(task_doc(t), "priority", 5);
		t->max_retries = (int)dtf_json_int(task_doc(t), "max_retries", 0);
		t->max_requeues = (int)dtf_json_int(task_doc(t), "max_requeues", t->max_requeues);
		sched_task_set(c, t); /* its priority or name may have changed */
		if (queued)
			state_queue(c, t);
		if (state_begin(c) || state_save_task(c, t) || state_commit(c)) {
			if (queued)
				state_unqueue(c, t);
			json_object_update(task_doc(t), old);
			t->priority = (int)dtf_json_int(task_doc(t), "priority", 5);
			t->max_retries = (int)dtf_json_int(task_doc(t), "max_retries", 0);
			t->max_requeues =
			    (int)dtf_json_int(task_doc(t), "max_requeues", t->max_requeues);
			sched_task_set(c, t);
			if (queued)
				state_queue(c, t);
			reply_store_error(r);
		} else {
			dtf_http_reply_json(r, 200, task_view(c, t));
			sched_wake(c);
		}
		json_decref(old);
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

/* DELETE: cancel. A running task is stopped on its worker (told with its next reply). */
static void h_task_delete(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	struct ctask *t;
	const char *reason = dtf_http_query(r, "reason");
	const char *kind = reason && strcmp(reason, "unschedulable") == 0 ? "unschedulable"
									  : "cancelled";

	pthread_mutex_lock(&c->lock);
	t = find_task(r);
	if (t && task_is_final(t->status)) {
		dtf_http_reply_error(r, 409, "already_finished", "task '%s' already %s", t->id,
				     task_status_name(t->status));
	} else if (t) {
		char why[512];
		struct cworker *holder = NULL;
		if (strcmp(kind, "unschedulable") == 0 &&
		    !(t->status == TS_PENDING && sched_pending_reason(c, t, why, sizeof(why)))) {
			dtf_http_reply_error(r, 409, "schedulable",
					     "task '%s' can still run somewhere", t->id);
			goto out;
		}
		if (strcmp(kind, "unschedulable") != 0)
			snprintf(why, sizeof(why), "cancelled by request");
		if (t->status == TS_ASSIGNED || t->status == TS_RUNNING) {
			struct cworker *w = dtf_hmap_get(&c->workers, t->worker_id);
			if (w)
				json_array_append_new(w->cancel, json_string(t->id));
			holder = w;
			state_record_attempt(c, t, "cancelled", "cancelled", why);
			state_release(c, t);
		}
		json_object_set_new(task_doc(t), "error", json_pack("{s:s,s:s}", "kind", kind, "message",
							       why));
		state_set_status(c, t, TS_CANCELLED);
		if (state_begin(c) || state_save_task(c, t) || state_commit(c)) {
			reply_store_error(r);
		} else {
			c->m_results[TS_CANCELLED]++;
			dtf_http_reply_json(r, 200, task_view(c, t));
			/* A parked long-poll carries the cancellation at once. */
			if (holder && holder->waiter && json_array_size(holder->cancel)) {
				struct dtf_http_req *old = holder->waiter;
				holder->waiter = NULL;
				dtf_http_reply_json(old, 200,
						    sched_lease_reply(holder, json_array()));
				dtf_http_resume(old);
			}
			sched_wake(c);
		}
	}
out:
	pthread_mutex_unlock(&c->lock);
}

/* ---- workers ---- */

/* Checks the protocol version and the worker's token; replies and returns NULL on failure. */
static struct cworker *worker_auth(struct dtf_http_req *r, const char *id, json_t *body)
{
	struct coord *c = C(r);
	const char *proto = dtf_http_header(r, "X-DTF-Protocol");
	const char *token = dtf_http_header(r, "X-DTF-Worker-Token");
	long long bp = dtf_json_int(body, "protocol", DTF_PROTOCOL_VERSION);
	struct cworker *w;

	if ((proto && atoi(proto) != DTF_PROTOCOL_VERSION) || bp != DTF_PROTOCOL_VERSION) {
		dtf_http_reply_error(r, 400, "protocol_mismatch",
				     "this coordinator speaks protocol %d; the worker sent %s",
				     DTF_PROTOCOL_VERSION, proto ? proto : "another version");
		return NULL;
	}
	w = dtf_hmap_get(&c->workers, id);
	if (!w) {
		dtf_http_reply_error(r, 404, "worker_not_found",
				     "no worker '%s' is registered; register first", id);
		return NULL;
	}
	if (w->token[0] && (!token || strcmp(token, w->token) != 0)) {
		dtf_http_reply_error(r, 401, "bad_worker_token",
				     "the worker token does not match worker '%s'", id);
		return NULL;
	}
	if (w->status == WS_LOST) {
		dtf_http_reply_error(r, 409, "worker_lost",
				     "worker '%s' was declared lost and its tasks were requeued; "
				     "register again",
				     id);
		return NULL;
	}
	w->last_seen_ms = dtf_mono_ms();
	return w;
}

static bool allowed_worker(struct coord *c, const char *id)
{
	const char *const *p;

	if (c->cfg.auto_discovery || !c->cfg.workers)
		return true;
	for (p = c->cfg.workers; *p; p++)
		if (strcmp(*p, id) == 0)
			return true;
	return false;
}

static void h_worker_register(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	json_t *body = body_json(r), *doc, *caps, *running;
	const char *proto = dtf_http_header(r, "X-DTF-Protocol");
	const char *wid;
	char id[72], token[48], ts[32], err[256];
	struct cworker *w;
	size_t pos = 0;
	const char *k;
	void *v;
	bool was_lost = false;

	if (!body)
		return;
	if (!json_is_object(body)) {
		dtf_http_reply_error(r, 400, "invalid_worker", "registration must be an object");
		goto out;
	}
	if ((proto && atoi(proto) != DTF_PROTOCOL_VERSION) ||
	    dtf_json_int(body, "protocol", DTF_PROTOCOL_VERSION) != DTF_PROTOCOL_VERSION) {
		dtf_http_reply_error(r, 400, "protocol_mismatch",
				     "this coordinator speaks protocol %d", DTF_PROTOCOL_VERSION);
		goto out;
	}
	caps = json_object_get(body, "capabilities");
	if (caps && !json_is_object(caps)) {
		dtf_http_reply_error(r, 400, "invalid_worker", "'capabilities' must be an object");
		goto out;
	}
	if (json_object_get(body, "slots") &&
	    (!json_is_integer(json_object_get(body, "slots")) ||
	     dtf_json_int(body, "slots", 1) < 1 || dtf_json_int(body, "slots", 1) > 4096)) {
		dtf_http_reply_error(r, 400, "invalid_worker", "'slots' must be 1..4096");
		goto out;
	}
	if (json_object_get(body, "labels") &&
	    !constraints_labels_ok(json_object_get(body, "labels"), err, sizeof(err))) {
		dtf_http_reply_error(r, 400, "invalid_worker", "%s", err);
		goto out;
	}
	wid = dtf_json_str(body, "worker_id", NULL);
	if (wid && !dtf_valid_id(wid)) {
		dtf_http_reply_error(r, 400, "invalid_worker",
				     "'worker_id' must be 1-64 characters of [A-Za-z0-9._-]");
		goto out;
	}
	if (wid)
		snprintf(id, sizeof(id), "%s", wid);
	else
		dtf_id_new("w-", id, sizeof(id));
	pthread_mutex_lock(&c->lock);
	if (!allowed_worker(c, id)) {
		dtf_http_reply_error(r, 403, "worker_not_allowed",
				     "worker '%s' is not listed in the configuration (start the "
				     "coordinator with --worker-auto-discovery to accept any)",
				     id);
		goto unlock;
	}
	dtf_id_new("", token, sizeof(token));
	dtf_rfc3339(dtf_wall_ms(), ts);
	doc = json_pack("{s:s,s:s,s:o,s:o,s:i,s:s,s:s}", "id", id, "hostname",
			dtf_json_str(body, "hostname", ""), "capabilities",
			caps ? json_deep_copy(caps) : json_object(), "labels",
			json_is_object(json_object_get(body, "labels"))
				? json_deep_copy(json_object_get(body, "labels"))
				: json_object(),
			"slots", (int)dtf_json_int(body, "slots", 1), "token", token, "registered_at",
			ts);
	if (json_is_array(json_object_get(body, "task_types")))
		json_object_set(doc, "task_types", json_object_get(body, "task_types"));
	if (state_begin(c)) {
		json_decref(doc);
		reply_store_error(r);
		goto unlock;
	}
	/* A worker that registers again has restarted: what it no longer runs goes back. */
	running = json_object_get(body, "running");
	w = dtf_hmap_get(&c->workers, id);
	was_lost = w && w->status == WS_LOST;
	if (w) {
		while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
			struct ctask *t = v;
			size_t i;
			json_t *e;
			bool still = false;
			if ((t->status != TS_ASSIGNED && t->status != TS_RUNNING) ||
			    strcmp(t->worker_id, id) != 0)
				continue;
			json_array_foreach(running, i, e) if (json_is_string(e) &&
							      strcmp(json_string_value(e), t->id) ==
								      0) still = true;
			if (!still)
				state_requeue(c, t, "worker_lost",
					      "the worker restarted without this task", RQ_INFRA);
		}
		if (w->waiter) {
			struct dtf_http_req *old = w->waiter;
			w->waiter = NULL;
			dtf_http_reply_json(old, 200, sched_lease_reply(w, json_array()));
			dtf_http_resume(old);
		}
	}
	{
		int used_slots = w ? w->used_slots : 0, active = w ? w->active : 0;
		double uc = w ? w->used_cpu : 0, um = w ? w->used_memory : 0,
		       ug = w ? w->used_gpu_memory : 0;
		w = state_add_worker(c, id, doc);
		w->status = WS_IDLE;
		w->used_slots = used_slots;
		w->active = active;
		w->used_cpu = uc;
		w->used_memory = um;
		w->used_gpu_memory = ug;
		state_worker_sync(w);
	}
	if (state_save_worker(c, w) || state_commit(c)) {
		reply_store_error(r);
		goto unlock;
	}
	log_info("worker %s registered (%d slots)", id, w->slots);
	state_publish_worker(c, w);
	if (c->plugins) {
		json_t *wv = state_worker_view(w);
		dtf_plugins_fire(c->plugins, DTF_HOOK_WORKER_REGISTERED, wv);
		if (was_lost)
			dtf_plugins_fire(c->plugins, DTF_HOOK_WORKER_RECOVERED, wv);
		json_decref(wv);
	}
	dtf_http_reply_json(r, 201,
			    json_pack("{s:s,s:s,s:f,s:f,s:i}", "worker_id", id, "token", token,
				      "heartbeat_interval_s", c->cfg.heartbeat_interval_s,
				      "heartbeat_timeout_s", c->cfg.heartbeat_timeout_s, "protocol",
				      DTF_PROTOCOL_VERSION));
	sched_wake(c);
unlock:
	pthread_mutex_unlock(&c->lock);
out:
	json_decref(body);
}

/* Tasks this coordinator believes a worker holds, that the worker does not list among those it
 * runs or has queued, were lost on the way (a lease reply that never arrived, a coordinator that
 * died between commit and reply): after a grace period they go back to pending. */

static void reconcile(struct coord *c, struct cworker *w, json_t *running)
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
	json_array_foreach(running, i, e)
	{
		struct ctask *t = json_is_string(e) ? dtf_hmap_get(&c->tasks, json_string_value(e))
						    : NULL;
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
		json_array_foreach(running, i, e) if (json_is_string(e) &&
						      strcmp(json_string_value(e), t->id) == 0) held =
			true;
		if (held)
			continue;
		if (!began && state_begin(c) != 0)
			return;
		began = true;
		log_warn("task %s was leased to %s but the worker does not have it; requeued", t->id,
			 w->id);
		state_requeue(c, t, "lease_lost", "the worker never received the task", RQ_FREE);
	}
	if (began) {
		state_commit(c);
		sched_wake(c);
	}
}

static void h_worker_heartbeat(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	json_t *body = r->body_len ? body_json(r) : json_object();
	struct cworker *w;

	if (!body)
		return;
	pthread_mutex_lock(&c->lock);
	w = worker_auth(r, r->param[0], body);
	if (w) {
		json_t *reply = json_pack("{s:b,s:f}", "ok", 1, "heartbeat_interval_s",
					  c->cfg.heartbeat_interval_s);
		if (json_is_object(json_object_get(body, "resources")) &&
		    json_object_size(json_object_get(body, "resources")) <= 16)
			json_object_set(w->doc, "live", json_object_get(body, "resources"));
		if (dtf_json_bool(body, "draining", false) && w->status != WS_DRAINING) {
			w->status = WS_DRAINING;
			log_info("worker %s is draining", w->id);
			state_worker_sync(w);
			state_publish_worker(c, w);
			if (c->plugins) {
				json_t *wv = state_worker_view(w);
				dtf_plugins_fire(c->plugins, DTF_HOOK_WORKER_DISCONNECTED, wv);
				json_decref(wv);
			}
			if (w->waiter) {
				struct dtf_http_req *old = w->waiter;
				w->waiter = NULL;
				dtf_http_reply_json(old, 200, sched_lease_reply(w, json_array()));
				dtf_http_resume(old);
			}
		}
		state_worker_sync(w);
		if (json_array_size(w->cancel)) {
			json_object_set_new(reply, "cancel", json_copy(w->cancel));
			json_array_clear(w->cancel);
		}
		if (w->restart_executor) {
			json_object_set_new(reply, "restart_executor", json_true());
			w->restart_executor = false;
		}
		if (json_is_integer(json_object_get(body, "executor_restarts")))
			json_object_set(w->doc, "executor_restarts",
					json_object_get(body, "executor_restarts"));
		reconcile(c, w, json_object_get(body, "running"));
		dtf_http_reply_json(r, 200, reply);
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

/* True if an earlier attempt of t failed by itself (not because its worker was lost or the lease
 * went astray): a pass after that makes the task flaky. */
static bool failed_before(const struct ctask *t)
{
	json_t *hist = json_object_get(task_doc((struct ctask *)t), "history"), *a;
	size_t i;

	json_array_foreach(hist, i, a)
	{
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
static int apply_result(struct coord *c, struct cworker *w, const char *task_id, json_t *res,
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
		/* Settles a recovery in progress and counts strikes against workers where it failed. */
		recovery_on_success(c, t);
		coord_task_passed(c, t, w, result);
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
		json_object_set_new(task_doc(t), "error",
				    error ? json_deep_copy(error)
					  : json_pack("{s:s,s:s}", "kind", kind, "message",
						      "the task failed"));
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

static void h_task_result(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	json_t *body = body_json(r);
	struct cworker *w;
	char why[512];
	int rc, lease_max;
	json_t *tasks = NULL;

	if (!body)
		return;
	if (!json_is_object(body) || !json_is_string(json_object_get(body, "worker_id"))) {
		dtf_http_reply_error(r, 400, "invalid_result", "a result needs 'worker_id'");
		json_decref(body);
		return;
	}
	pthread_mutex_lock(&c->lock);
	w = worker_auth(r, dtf_json_str(body, "worker_id", ""), body);
	if (!w)
		goto unlock;
	if (state_begin(c)) {
		reply_store_error(r);
		goto unlock;
	}
	rc = apply_result(c, w, r->param[0], body, why, sizeof(why));
	if (rc) {
		state_rollback(c);
		dtf_http_reply_error(r, rc == DTF_ESTALE ? 409 : rc == DTF_ENOTFOUND ? 404 : 400,
				     rc == DTF_ESTALE ? "stale_result" : "invalid_result", "%s", why);
		goto unlock;
	}
	/* A worker whose slot is now free may ask for its next tasks in the same round trip. */
	lease_max = (int)dtf_json_int(body, "lease_max", 0);
	if (lease_max > 0 && lease_max <= 4096)
		tasks = sched_lease(c, w, lease_max);
	if (state_commit(c)) {
		json_decref(tasks);
		reply_store_error(r);
		goto unlock;
	}
	if (tasks) {
		json_t *reply = sched_lease_reply(w, json_incref(tasks));
		json_object_set_new(reply, "accepted", json_true());
		r->app_state = tasks;
		dtf_http_reply_json(r, 200, reply);
	} else {
		dtf_http_reply_json(r, 200, json_pack("{s:b}", "accepted", 1));
	}
	sched_wake(c);
unlock:
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

static void h_task_started(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	json_t *body = body_json(r);
	struct cworker *w;
	struct ctask *t;

	if (!body)
		return;
	pthread_mutex_lock(&c->lock);
	w = worker_auth(r, dtf_json_str(body, "worker_id", ""), body);
	if (!w)
		goto unlock;
	t = find_task(r);
	if (!t)
		goto unlock;
	if (t->status != TS_ASSIGNED || strcmp(t->worker_id, w->id) != 0 ||
	    dtf_json_int(body, "attempt", -1) != t->attempt) {
		c->m_stale_results++;
		dtf_http_reply_error(r, 409, "stale_start",
				     "task '%s' attempt %lld is not assigned to worker '%s'", t->id,
				     dtf_json_int(body, "attempt", -1), w->id);
		goto unlock;
	}
	{
		char ts[32];
		dtf_rfc3339(dtf_wall_ms(), ts);
		json_object_set_new(task_doc(t), "started_at", json_string(ts));
	}
	state_set_status(c, t, TS_RUNNING);
	if (state_begin(c) || state_save_task(c, t) || state_commit(c))
		reply_store_error(r);
	else
		dtf_http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
unlock:
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

static void h_task_log_append(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	json_t *body = body_json(r);
	struct cworker *w;
	struct ctask *t;

	if (!body)
		return;
	pthread_mutex_lock(&c->lock);
	w = worker_auth(r, dtf_json_str(body, "worker_id", ""), body);
	if (!w)
		goto unlock;
	t = find_task(r);
	if (!t)
		goto unlock;
	if (!json_is_string(json_object_get(body, "chunk"))) {
		dtf_http_reply_error(r, 400, "invalid_log", "a log chunk needs a string 'chunk'");
		goto unlock;
	}
	if (strcmp(t->worker_id, w->id) != 0) {
		dtf_http_reply_error(r, 409, "stale_log", "task '%s' is not on worker '%s'", t->id,
				     w->id);
		goto unlock;
	}
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
		json_object_set_new(task_doc(t), "live_output", json_string(b.data ? b.data + keep : ""));
		dtf_buf_release(&b);
	}
	dtf_http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
unlock:
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

/* Long-poll lease. The body may carry finished results first ("results": [...]), so a busy
 * worker reports and asks for more in one round trip. */
static void h_worker_lease(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	json_t *body = body_json(r), *results, *acks = NULL, *e, *tasks;
	struct cworker *w;
	double wait_s;
	int max, ahead;
	size_t i;

	if (!body)
		return;
	if (!json_is_object(body)) {
		dtf_http_reply_error(r, 400, "invalid_lease", "a lease request is an object");
		json_decref(body);
		return;
	}
	max = (int)dtf_json_int(body, "max", 1);
	wait_s = dtf_json_num(body, "wait_s", 0);
	ahead = (int)dtf_json_int(body, "ahead", 0);
	results = json_object_get(body, "results");
	if (max < 0 || max > 4096 || ahead < 0 || ahead > 64 || wait_s < 0 ||
	    wait_s > MAX_LEASE_WAIT_S || (results && !json_is_array(results))) {
		dtf_http_reply_error(r, 400, "invalid_lease",
				     "max must be 0..4096, ahead 0..64, wait_s 0..%.0f, results a list",
				     MAX_LEASE_WAIT_S);
		json_decref(body);
		return;
	}
	pthread_mutex_lock(&c->lock);
	w = worker_auth(r, r->param[0], body);
	if (!w)
		goto unlock;
	if (state_begin(c)) {
		reply_store_error(r);
		goto unlock;
	}
	acks = json_array();
	json_array_foreach(results, i, e)
	{
		char why[512];
		const char *tid = dtf_json_str(e, "task_id", "");
		int rc = apply_result(c, w, tid, e, why, sizeof(why));
		if (rc)
			json_array_append_new(acks, json_pack("{s:s,s:b,s:s}", "task_id", tid,
							      "accepted", 0, "reason", why));
		else
			json_array_append_new(acks,
					      json_pack("{s:s,s:b}", "task_id", tid, "accepted", 1));
	}
	if (w->waiter && !json_array_size(results)) {
		/* A new lease replaces one the worker gave up on (a worker's results come on
		 * another connection than its long-poll, which stays). */
		struct dtf_http_req *old = w->waiter;
		w->waiter = NULL;
		dtf_http_reply_json(old, 200, sched_lease_reply(w, json_array()));
		dtf_http_resume(old);
	}
	tasks = sched_lease(c, w, max);
	sched_lease_ahead(c, w, ahead, tasks);
	if (state_commit(c)) {
		json_decref(tasks);
		reply_store_error(r);
		goto unlock;
	}
	if (json_array_size(results))
		sched_wake(c);
	if (json_array_size(tasks) == 0 && wait_s > 0 && json_array_size(acks) == 0 && max > 0) {
		json_decref(tasks);
		w->waiter = r;
		sx_waiting_add(c->sx, &w->sx);
		w->waiter_max = max;
		w->waiter_deadline_ms = dtf_mono_ms() + (int64_t)(wait_s * 1000);
		dtf_http_suspend(r);
		goto unlock;
	}
	r->app_state = json_incref(tasks);
	{
		json_t *reply = sched_lease_reply(w, tasks);
		json_object_set(reply, "results", acks);
		dtf_http_reply_json(r, 200, reply);
	}
unlock:
	pthread_mutex_unlock(&c->lock);
	json_decref(acks);
	json_decref(body);
}

/* A lease reply that did not reach its worker gives its tasks back at once. */
void coord_on_done(struct dtf_http_req *r, bool ok)
{
	struct coord *c = C(r);
	json_t *tasks = r->app_state;
	size_t pos = 0;
	const char *k;
	void *v;

	if (!tasks && !r->suspend_requested)
		return;
	pthread_mutex_lock(&c->lock);
	/* Forget a suspended lease whose connection is gone (only a suspended request can be a
	 * worker's waiter, so the others skip the walk over the workers). */
	while (r->suspend_requested && (pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0)
		if (((struct cworker *)v)->waiter == r)
			((struct cworker *)v)->waiter = NULL;
	if (r->suspend_requested && c->run_waiters)
		coord_run_waiters_forget(c, r);
	if (tasks && !ok && json_array_size(tasks)) {
		size_t i;
		json_t *e;
		if (state_begin(c) == 0) {
			json_array_foreach(tasks, i, e)
			{
				struct ctask *t = dtf_hmap_get(&c->tasks, dtf_json_str(e, "id", ""));
				if (t && t->status == TS_ASSIGNED)
					state_requeue(c, t, "lease_undelivered",
						      "the lease reply did not reach the worker",
						      RQ_FREE);
			}
			state_commit(c);
			sched_wake(c);
		}
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(tasks);
	r->app_state = NULL;
}

static void h_workers_list(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	json_t *list = json_array(), *blocked;
	size_t pos = 0;
	const char *k;
	void *v;

	pthread_mutex_lock(&c->lock);
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		struct cworker *w = v;
		json_t *view;
		state_worker_sync(w);
		view = state_worker_view(w);
		json_array_append_new(list, view);
	}
	blocked = json_deep_copy(c->blocked_hw);
	pthread_mutex_unlock(&c->lock);
	dtf_http_reply_json(r, 200,
			    json_pack("{s:o,s:o}", "workers", list, "blocked_hardware", blocked));
}

static void h_worker_get(struct dtf_http_req *r)
{
	struct coord *c = C(r);
	struct cworker *w;

	pthread_mutex_lock(&c->lock);
	w = dtf_hmap_get(&c->workers, r->param[0]);
	if (!w) {
		dtf_http_reply_error(r, 404, "worker_not_found", "no worker '%s'", r->param[0]);
	} else {
		json_t *view;
		state_worker_sync(w);
		view = state_worker_view(w);
		dtf_http_reply_json(r, 200, view);
	}
	pthread_mutex_unlock(&c->lock);
}

static void h_plugins(struct dtf_http_req *r)
{
	dtf_http_reply_json(r, 200, dtf_plugins_list(C(r)->plugins));
}

static void h_events(struct dtf_http_req *r)
{
	dtf_events_serve(C(r)->events, r);
}

const struct dtf_http_route coord_routes[] = {
	{"GET", "/api/v1/events", h_events, false},
	{"GET", "/api/v1/plugins", h_plugins, false},
	{"GET", "/api/v1/scheduler", coord_h_scheduler_get, false},
	{"PUT", "/api/v1/scheduler", coord_h_scheduler_put, false},
	{"GET", "/healthz", h_healthz, true},
	{"GET", "/metrics", h_metrics, false},
	{"GET", "/api/v1/tasks/summary", h_tasks_summary, false},
	{"GET", "/api/v1/tasks/export", h_tasks_export, false},
	{"GET", "/api/v1/tasks", h_tasks_list, false},
	{"POST", "/api/v1/tasks", h_tasks_create, false},
	{"GET", "/api/v1/tasks/{id}/log", h_task_log, false},
	{"POST", "/api/v1/tasks/{id}/log", h_task_log_append, false},
	{"POST", "/api/v1/tasks/{id}/started", h_task_started, false},
	{"POST", "/api/v1/tasks/{id}/result", h_task_result, false},
	{"GET", "/api/v1/tasks/{id}", h_task_get, false},
	{"PUT", "/api/v1/tasks/{id}", h_task_put, false},
	{"DELETE", "/api/v1/tasks/{id}", h_task_delete, false},
	{"GET", "/api/v1/runs", h_runs_list, false},
	{"POST", "/api/v1/runs", h_runs_create, false},
	{"GET", "/api/v1/runs/{id}/summary", h_run_summary, false},
	{"GET", "/api/v1/runs/{id}/export", h_run_export, false},
	{"GET", "/api/v1/runs/{id}", h_run_get, false},
	{"POST", "/api/v1/workers/register", h_worker_register, false},
	{"GET", "/api/v1/workers", h_workers_list, false},
	{"POST", "/api/v1/workers/{id}/heartbeat", h_worker_heartbeat, false},
	{"POST", "/api/v1/workers/{id}/lease", h_worker_lease, false},
	{"GET", "/api/v1/workers/{id}", h_worker_get, false},
	{"GET", "/api/v1/recovery/history", h_recovery_history, false},
	{"POST", "/api/v1/recovery/unblock", h_recovery_unblock, false},
	{"POST", "/api/v1/workers/{id}/quarantine", h_worker_quarantine, false},
	{"DELETE", "/api/v1/workers/{id}/quarantine", h_worker_quarantine, false},
	{NULL, NULL, NULL, false},
};
