/* pages.c: the dashboard's pages: the overview (runs, workers, blocked hardware, what waits and
 * why), a run (its counts, its tasks, its timeline), a task (status, error, output, attempts,
 * recovery) and the small JSON view the script refreshes them from. Each handler takes the core's
 * lock, reads through the core's operations (core/ops.h) and streams the HTML into the reply's
 * buffer; every text from a run, a task or a worker goes through dtf_html_escape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "core/model.h"
#include "core/recovery.h"
#include "dashboard/internal.h"
#include "report/timeline.h"

#define esc dtf_html_escape

/* ---- runs ---- */

/* What a run's row shows (and the script refreshes): {"id", "name", "created_at", "passed",
 * "failed", "skipped", "total" (test entries, as the run's summary and every report count them),
 * "finished", "tasks_total" (tasks, for the progress bar), "status", "done"}. A new reference. */
static json_t *run_row(struct coord *c, struct crun *run)
{
	json_t *s = core_run_summary(c, run), *tests = json_object_get(s, "tests");
	json_t *row;

	row = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:b}", "id", run->id, "name",
			dtf_json_str(run->doc, "name", run->id), "created_at",
			dtf_json_str(run->doc, "created_at", ""), "passed",
			(json_int_t)dtf_json_int(tests, "passed", 0), "failed",
			(json_int_t)dtf_json_int(tests, "failed", 0), "skipped",
			(json_int_t)dtf_json_int(tests, "skipped", 0), "total",
			(json_int_t)dtf_json_int(tests, "total", 0), "finished",
			(json_int_t)dtf_json_int(s, "finished", 0), "tasks_total",
			(json_int_t)dtf_json_int(s, "total", 0), "status", dash_run_state(s),
			"done", json_is_true(json_object_get(s, "done")));
	json_decref(s);
	return row;
}

static int by_created_desc(const void *x, const void *y)
{
	const struct crun *a = *(struct crun *const *)x, *b = *(struct crun *const *)y;
	int d =
	    strcmp(dtf_json_str(b->doc, "created_at", ""), dtf_json_str(a->doc, "created_at", ""));

	return d ? d : strcmp(b->id, a->id);
}

/* The rows of the latest DASH_MAX_RUNS runs of project (NULL: all), newest first (a new array);
 * *nruns gets how many runs there are. */
static json_t *latest_runs(struct coord *c, const char *project, size_t *nruns)
{
	struct crun **all = NULL;
	size_t n = 0, cap = 0, pos = 0, i;
	json_t *rows = json_array();
	const char *k;
	void *v;

	while ((pos = dtf_hmap_next(&c->runs, pos, &k, &v)) != 0) {
		if (!core_run_in(v, project))
			continue;
		if (n == cap) {
			struct crun **na;
			cap = cap ? cap * 2 : 64;
			na = realloc(all, cap * sizeof(*na));
			if (!na)
				break;
			all = na;
		}
		all[n++] = v;
	}
	if (n)
		qsort(all, n, sizeof(*all), by_created_desc);
	for (i = 0; i < n && i < DASH_MAX_RUNS; i++)
		json_array_append_new(rows, run_row(c, all[i]));
	free(all);
	*nruns = n;
	return rows;
}

/* The counts of a run's row or of #run-counts: integers only inside the cells. */
static int put_run_row(struct dtf_buf *b, json_t *row)
{
	const char *id = dtf_json_str(row, "id", "");

	return dtf_buf_adds(b, "<tr class=\"run\" data-run-id=\"") || esc(b, id) ||
	       dtf_buf_printf(b, "\" data-done=\"%s\"><td class=\"run-name\">",
			      json_is_true(json_object_get(row, "done")) ? "true" : "false") ||
	       dtf_buf_adds(b, "<a class=\"run-link\" href=\"/runs/") || dash_url_part(b, id) ||
	       dtf_buf_adds(b, "\">") || esc(b, dtf_json_str(row, "name", id)) ||
	       dtf_buf_adds(b, "</a><div class=\"muted\">") || esc(b, id) ||
	       dtf_buf_adds(b, "</div></td><td class=\"run-status\">") ||
	       esc(b, dtf_json_str(row, "status", "")) ||
	       dtf_buf_printf(b,
			      "</td><td class=\"run-progress\"><progress value=\"%lld\" "
			      "max=\"%lld\">%lld/%lld</progress></td><td class=\"passed\">%lld</td>"
			      "<td class=\"failed\">%lld</td><td class=\"skipped\">%lld</td>"
			      "<td class=\"total\">%lld</td><td class=\"created\">",
			      dtf_json_int(row, "finished", 0),
			      dtf_json_int(row, "tasks_total", 0) > 0
				  ? dtf_json_int(row, "tasks_total", 0)
				  : 1,
			      dtf_json_int(row, "finished", 0), dtf_json_int(row, "tasks_total", 0),
			      dtf_json_int(row, "passed", 0), dtf_json_int(row, "failed", 0),
			      dtf_json_int(row, "skipped", 0), dtf_json_int(row, "total", 0)) ||
	       esc(b, dtf_json_str(row, "created_at", "")) || dtf_buf_adds(b, "</td></tr>\n");
}

/* ---- workers ---- */

static int worker_used(json_t *w)
{
	long long slots = dtf_json_int(w, "slots", 0),
		  free_ = dtf_json_int(w, "available_slots", 0);

	return slots > free_ ? (int)(slots - free_) : 0;
}

/* The quarantine as a line ("until T: reason"), "" when none. */
static void quarantine_text(json_t *w, char *out, size_t len)
{
	json_t *q = json_object_get(w, "quarantine");

	out[0] = '\0';
	if (json_is_true(json_object_get(w, "quarantined")))
		snprintf(out, len, "until %s: %s", dtf_json_str(q, "until", "?"),
			 dtf_json_str(q, "reason", "quarantined"));
}

/* A GPU's memory, and what its worker's heartbeats say of it: " (81559 MiB, 80000 free, 12%,
 * task T)". */
static int put_gpu_state(struct dtf_buf *b, json_t *g)
{
	json_t *util = json_object_get(json_object_get(g, "utilization"), "gpu");
	int rc = dtf_buf_printf(b, " (%lld MiB", dtf_json_int(g, "memory", 0));

	if (!rc && json_is_integer(json_object_get(g, "memory_free")))
		rc = dtf_buf_printf(b, ", %lld free", dtf_json_int(g, "memory_free", 0));
	if (!rc && json_is_integer(util))
		rc = dtf_buf_printf(b, ", %lld%%", (long long)json_integer_value(util));
	if (!rc && json_is_string(json_object_get(g, "task_id")))
		rc = dtf_buf_adds(b, ", task ") || esc(b, dtf_json_str(g, "task_id", ""));
	return rc ? rc : dtf_buf_adds(b, ")");
}

/* Names from a list of strings or of objects with "name" (GPUs, browsers), joined. */
static int put_names(struct dtf_buf *b, json_t *list)
{
	json_t *v;
	size_t i;
	int rc = 0;

	if (!json_array_size(list))
		return dtf_buf_adds(b, "\xe2\x80\x94");
	json_array_foreach(list, i, v) {
		const char *name =
		    json_is_string(v) ? json_string_value(v) : dtf_json_str(v, "name", "?");
		if (i >= 16) {
			rc = dtf_buf_printf(b, ", \xe2\x80\xa6 (%zu)", json_array_size(list));
			break;
		}
		rc = (i && dtf_buf_adds(b, ", ")) || esc(b, name);
		if (!rc && json_is_object(v) && json_is_string(json_object_get(v, "version")))
			rc = dtf_buf_adds(b, " ") || esc(b, dtf_json_str(v, "version", ""));
		if (!rc && json_is_object(v) && json_is_integer(json_object_get(v, "memory")))
			rc = put_gpu_state(b, v);
		if (rc)
			break;
	}
	return rc;
}

static int put_worker_row(struct dtf_buf *b, json_t *w)
{
	json_t *caps = json_object_get(w, "capabilities");
	char q[400];

	quarantine_text(w, q, sizeof(q));
	return dtf_buf_adds(b, "<tr class=\"worker\" data-worker-id=\"") ||
	       esc(b, dtf_json_str(w, "id", "")) || dtf_buf_adds(b, "\" data-status=\"") ||
	       esc(b, dtf_json_str(w, "status", "")) ||
	       dtf_buf_adds(b, "\"><td class=\"worker-id\">") ||
	       esc(b, dtf_json_str(w, "id", "")) || dtf_buf_adds(b, "<div class=\"muted\">") ||
	       esc(b, dtf_json_str(w, "hostname", dtf_json_str(caps, "hostname", ""))) ||
	       dtf_buf_adds(b, "</div></td><td class=\"hardware\">") ||
	       put_names(b, json_object_get(caps, "hardware")) ||
	       dtf_buf_adds(b, "</td><td class=\"gpus\">") ||
	       put_names(b, json_object_get(caps, "gpus")) ||
	       dtf_buf_adds(b, "</td><td class=\"browsers\">") ||
	       put_names(b, json_object_get(caps, "browsers")) ||
	       dtf_buf_adds(b, "</td><td class=\"worker-status\">") ||
	       esc(b, dtf_json_str(w, "status", "")) ||
	       dtf_buf_printf(
		   b,
		   "</td><td class=\"slots num\"><span class=\"slots-used\">%d</span> / "
		   "<span class=\"slots-total\">%lld</span></td><td class=\"quarantine\">",
		   worker_used(w), dtf_json_int(w, "slots", 0)) ||
	       esc(b, q[0] ? q : "\xe2\x80\x94") || dtf_buf_adds(b, "</td></tr>\n");
}

static int by_id(const void *x, const void *y)
{
	return strcmp(dtf_json_str(*(json_t *const *)x, "id", ""),
		      dtf_json_str(*(json_t *const *)y, "id", ""));
}

/* The workers of core_workers_list sorted by id: a new array of borrowed values. */
static json_t **sorted_workers(json_t *list, size_t *n)
{
	json_t *ws = json_object_get(list, "workers");
	json_t **out;
	size_t i;

	*n = json_array_size(ws);
	out = calloc(*n ? *n : 1, sizeof(*out));
	if (!out) {
		*n = 0;
		return NULL;
	}
	for (i = 0; i < *n; i++)
		out[i] = json_array_get(ws, i);
	qsort(out, *n, sizeof(*out), by_id);
	return out;
}

/* ---- the overview ---- */

/* Error recovery's record (GET /api/v1/recovery/history): each strategy's attempts and success
 * rate per error class, the numbers the next choice of strategy is made from. */
static int put_recovery_history(struct dtf_buf *b, json_t *rh)
{
	json_t *list = json_object_get(rh, "history"), *e;
	size_t i;
	int rc;

	rc = dtf_buf_adds(b, "<section id=\"recovery-history\"><h2>Error recovery</h2>\n");
	if (!rc && json_array_size(list) == 0)
		return dtf_buf_adds(b, "<p class=\"muted\">No recovery has been tried yet.</p>"
				       "</section>\n");
	if (!rc)
		rc = dtf_buf_adds(b, "<table id=\"recovery-stats\"><thead><tr><th>Error class</th>"
				     "<th>Strategy</th><th>Level</th><th>Attempts</th>"
				     "<th>Success rate</th></tr></thead><tbody>\n");
	json_array_foreach(list, i, e) {
		if (rc)
			break;
		rc = dtf_buf_adds(b, "<tr class=\"recovery-stat\"><td>") ||
		     esc(b, dtf_json_str(e, "class", "")) || dtf_buf_adds(b, "</td><td>") ||
		     esc(b, dtf_json_str(e, "strategy", "")) ||
		     dtf_buf_printf(b,
				    "</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td>"
				    "<td class=\"num\">%.0f%%</td></tr>\n",
				    dtf_json_int(e, "level", 0), dtf_json_int(e, "attempts", 0),
				    100.0 * json_number_value(json_object_get(e, "success_rate")));
	}
	return rc || dtf_buf_adds(b, "</tbody></table></section>\n");
}

void dash_h_overview(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *runs, *workers, *pending, *rhist, *row, *t, *hw;
	json_t **ws;
	size_t nruns, nw, i;
	const char *k;
	struct dtf_buf *b = &r->resp;
	int rc;

	pthread_mutex_lock(&c->lock);
	runs = latest_runs(c, api_project(r), &nruns);
	workers = core_workers_list(c);
	if (api_project(r))
		json_object_set_new(workers, "blocked_hardware",
				    core_blocked_hardware(c, api_project(r)));
	pending = core_tasks_list(c, NULL, TS_PENDING, DASH_MAX_PENDING, 0, api_project(r));
	rhist = recovery_history_json(c);
	pthread_mutex_unlock(&c->lock);

	ws = sorted_workers(workers, &nw);
	rc =
	    dash_page_begin(r, "Overview", "overview", NULL, NULL) ||
	    dtf_buf_printf(b,
			   "<h1>Overview</h1>\n<section><h2>Runs</h2>\n<p class=\"muted\">The "
			   "latest %d of <span id=\"runs-count\">%zu</span> runs. Counts are test "
			   "entries, as the run's summary and its reports count them.</p>\n"
			   "<table id=\"runs\"><thead><tr><th>Run</th><th>Status</th>"
			   "<th>Progress (tasks)</th><th>Passed</th><th>Failed</th><th>Skipped</th>"
			   "<th>Total</th><th>Created</th></tr></thead><tbody>\n",
			   DASH_MAX_RUNS, nruns);
	json_array_foreach(runs, i, row) {
		if (!rc)
			rc = put_run_row(b, row);
	}
	if (!rc && nruns == 0)
		rc = dtf_buf_adds(b,
				  "<tr class=\"empty\"><td colspan=\"8\">No run yet.</td></tr>\n");
	if (!rc)
		rc = dtf_buf_adds(b,
				  "</tbody></table></section>\n<section><h2>Workers</h2>\n"
				  "<table id=\"workers\"><thead><tr><th>Worker</th>"
				  "<th>Hardware</th><th>GPUs</th><th>Browsers</th><th>Status</th>"
				  "<th>Slots in use</th><th>Quarantine</th></tr></thead><tbody>\n");
	for (i = 0; !rc && i < nw; i++)
		rc = put_worker_row(b, ws[i]);
	if (!rc && nw == 0)
		rc = dtf_buf_adds(b, "<tr class=\"empty\"><td colspan=\"7\">No worker has "
				     "registered.</td></tr>\n");
	if (!rc)
		rc = dtf_buf_adds(b, "</tbody></table></section>\n<section id=\"blocked\">"
				     "<h2>Blocked hardware</h2>\n");
	hw = json_object_get(workers, "blocked_hardware");
	if (!rc && json_object_size(hw) == 0)
		rc = dtf_buf_adds(b, "<p class=\"muted\">No hardware class is blocked.</p>\n");
	else if (!rc) {
		rc = dtf_buf_adds(
		    b, "<p>Scheduling stopped on these classes after repeated "
		       "failures (unblock with POST /api/v1/recovery/unblock):</p><ul>\n");
		json_object_foreach(hw, k, t) {
			if (rc)
				break;
			rc = dtf_buf_adds(b, "<li class=\"blocked-hw\" data-hardware=\"") ||
			     esc(b, k) || dtf_buf_adds(b, "\"><b>") || esc(b, k) ||
			     dtf_buf_adds(b, "</b>: ") || esc(b, dtf_json_str(t, "reason", "")) ||
			     dtf_buf_adds(b, " <span class=\"muted\">since ") ||
			     esc(b, dtf_json_str(t, "since", "?")) || dtf_buf_adds(b, ", task ") ||
			     esc(b, dtf_json_str(t, "task_id", "?")) ||
			     dtf_buf_adds(b, "</span></li>\n");
		}
		if (!rc)
			rc = dtf_buf_adds(b, "</ul>\n");
	}
	if (!rc)
		rc = dtf_buf_printf(
		    b,
		    "</section>\n<section><h2>Pending tasks</h2>\n<p class=\"muted\">"
		    "<span id=\"pending-total\">%lld</span> pending; the first %d "
		    "in submission order, with why each still waits.</p>\n"
		    "<table id=\"pending\"><thead><tr><th>Task</th><th>Run</th>"
		    "<th>Priority</th><th>Why pending</th></tr></thead><tbody>\n",
		    dtf_json_int(pending, "total", 0), DASH_MAX_PENDING);
	json_array_foreach(json_object_get(pending, "tasks"), i, t) {
		const char *id = dtf_json_str(t, "id", "");
		if (rc)
			break;
		rc = dtf_buf_adds(b, "<tr class=\"pending-task\" data-task-id=\"") || esc(b, id) ||
		     dtf_buf_adds(b, "\"><td class=\"task-name\"><a class=\"task-link\" "
				     "href=\"/tasks/") ||
		     dash_url_part(b, id) || dtf_buf_adds(b, "\">") ||
		     esc(b, dtf_json_str(t, "name", id)) ||
		     dtf_buf_adds(b, "</a></td><td class=\"run\"><a href=\"/runs/") ||
		     dash_url_part(b, dtf_json_str(t, "run_id", "")) || dtf_buf_adds(b, "\">") ||
		     esc(b, dtf_json_str(t, "run_id", "")) ||
		     dtf_buf_printf(b,
				    "</a></td><td class=\"priority num\">%lld</td>"
				    "<td class=\"why-pending\">",
				    dtf_json_int(t, "priority", 5)) ||
		     esc(b, dtf_json_str(t, "pending_reason", "")) ||
		     dtf_buf_adds(b, "</td></tr>\n");
	}
	if (!rc && json_array_size(json_object_get(pending, "tasks")) == 0)
		rc = dtf_buf_adds(b, "<tr class=\"empty\"><td colspan=\"4\">Nothing is "
				     "waiting.</td></tr>\n");
	if (!rc)
		rc = dtf_buf_adds(b, "</tbody></table></section>\n") ||
		     put_recovery_history(b, rhist) || dash_page_end(r);
	free(ws);
	json_decref(rhist);
	json_decref(runs);
	json_decref(workers);
	json_decref(pending);
	if (rc)
		dtf_http_reply_error(r, 500, "render_failed", "could not render the page");
}

/* ---- a run ---- */

static const char *const filter_names[] = {"passed",  "failed",	  "skipped", "cancelled",
					   "pending", "assigned", "running", NULL};

static int put_task_row(struct dtf_buf *b, json_t *t, const char *st)
{
	const char *id = dtf_json_str(t, "id", "");
	json_t *err = json_object_get(t, "error");
	char dur[32];
	double d = dash_task_duration(t);

	dash_fmt_secs(d, dur);
	return dtf_buf_adds(b, "<tr class=\"task\" data-task-id=\"") || esc(b, id) ||
	       dtf_buf_adds(b, "\" data-status=\"") || esc(b, st) ||
	       dtf_buf_adds(b,
			    "\"><td class=\"task-name\"><a class=\"task-link\" href=\"/tasks/") ||
	       dash_url_part(b, id) || dtf_buf_adds(b, "\">") ||
	       esc(b, dtf_json_str(t, "name", id)) ||
	       dtf_buf_adds(b, "</a></td><td class=\"task-status\">") || esc(b, st) ||
	       dtf_buf_printf(b,
			      "</td><td class=\"duration num\" data-value=\"%.3f\">%s</td>"
			      "<td class=\"worker\">",
			      d, dur) ||
	       esc(b, dtf_json_str(t, "worker_id", "")) ||
	       dtf_buf_printf(b, "</td><td class=\"attempts num\">%lld</td><td class=\"error\">",
			      dtf_json_int(t, "attempt", 0)) ||
	       dtf_html_escape_cap(b, dtf_json_str(err, "message", dtf_json_str(err, "kind", "")),
				   300) ||
	       dtf_buf_adds(b, "</td></tr>\n");
}

static int put_counts(struct dtf_buf *b, json_t *row)
{
	long long fin = dtf_json_int(row, "finished", 0), tot = dtf_json_int(row, "tasks_total", 0);

	return dtf_buf_printf(b,
			      "<div id=\"run-counts\" data-done=\"%s\"><span class=\"passed\">%lld"
			      "</span> passed \xc2\xb7 <span class=\"failed\">%lld</span> failed "
			      "\xc2\xb7 <span class=\"skipped\">%lld</span> skipped \xc2\xb7 "
			      "<span class=\"total\">%lld</span> total \xc2\xb7 "
			      "<span class=\"run-status\">",
			      json_is_true(json_object_get(row, "done")) ? "true" : "false",
			      dtf_json_int(row, "passed", 0), dtf_json_int(row, "failed", 0),
			      dtf_json_int(row, "skipped", 0), dtf_json_int(row, "total", 0)) ||
	       esc(b, dtf_json_str(row, "status", "")) ||
	       dtf_buf_printf(
		   b,
		   "</span><br><progress value=\"%lld\" max=\"%lld\">%lld/%lld</progress>"
		   " <span class=\"muted\">tasks finished</span></div>\n",
		   fin, tot > 0 ? tot : 1, fin, tot);
}

/* The run's browser benchmarks against their history (core_browsers_report): one row per judged
 * metric, a regression marked. Nothing when the run has none. */
static int put_benchmarks(struct dtf_buf *b, json_t *bench)
{
	json_t *it, *m, *x;
	size_t i, j, k;
	int rc;

	if (!json_array_size(bench))
		return 0;
	rc = dtf_buf_adds(b, "<section><h2>Browser benchmarks</h2>\n<table id=\"benchmarks\">"
			     "<thead><tr><th>Benchmark</th><th>Worker</th><th>Metric</th>"
			     "<th>Trend</th><th>Median before</th><th>This run</th><th>Change</th>"
			     "</tr></thead><tbody>\n");
	json_array_foreach(bench, i, it) {
		json_array_foreach(json_object_get(it, "metrics"), j, m) {
			bool reg = json_is_true(json_object_get(m, "regression"));
			rc = rc ||
			     dtf_buf_adds(b, reg ? "<tr class=\"regression\"><td>" : "<tr><td>") ||
			     esc(b, dtf_json_str(it, "benchmark", "")) ||
			     dtf_buf_adds(b, "</td><td>") ||
			     esc(b, dtf_json_str(it, "worker_id", "")) ||
			     dtf_buf_adds(b, "</td><td>") ||
			     esc(b, dtf_json_str(m, "metric", "")) || dtf_buf_adds(b, "</td><td>");
			json_array_foreach(json_object_get(m, "trend"), k, x)
				if (!rc && json_is_number(x))
					rc = dtf_buf_printf(b, "%s%.4g", k ? " \xe2\x86\x92 " : "",
							    json_number_value(x));
			if (!rc && json_is_number(json_object_get(m, "median")))
				rc = dtf_buf_printf(
				    b, "</td><td>%.4g</td><td>%.4g</td><td>%+.1f %%%s",
				    json_number_value(json_object_get(m, "median")),
				    json_number_value(json_object_get(m, "value")),
				    json_number_value(json_object_get(m, "change_pct")),
				    reg ? " <strong class=\"error-text\">regression"
					  "</strong>"
					: "");
			else if (!rc)
				rc = dtf_buf_printf(b, "</td><td>-</td><td>%.4g</td><td>-",
						    json_number_value(json_object_get(m, "value")));
			rc = rc || dtf_buf_adds(b, "</td></tr>\n");
		}
	}
	return rc || dtf_buf_adds(b, "</tbody></table></section>\n");
}

void dash_h_run(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	const char *filter = dtf_http_query(r, "status");
	struct dtf_buf *b = &r->resp;
	struct dtf_timeline tl;
	struct core_err e;
	struct ctask **ts = NULL;
	struct crun *run;
	json_t *row = NULL, *bench = NULL;
	size_t n = 0, i, shown = 0, matched = 0;
	int rc = 0;

	if (filter && !*filter)
		filter = NULL;
	if (filter && strcmp(filter, "completed") == 0)
		filter = "passed";
	for (i = 0; filter && filter_names[i] && strcmp(filter_names[i], filter); i++)
		;
	if (filter && !filter_names[i]) {
		dash_error(r, 400,
			   "unknown status '%s' (passed, failed, skipped, cancelled, pending, "
			   "assigned, running)",
			   filter);
		return;
	}
	dtf_timeline_init(&tl, dtf_wall_ms());
	pthread_mutex_lock(&c->lock);
	run = core_run_find(c, r->param[0], api_project(r), &e);
	if (!run) {
		pthread_mutex_unlock(&c->lock);
		dash_error(r, 404, "%s", e.msg);
		return;
	}
	row = run_row(c, run);
	core_tasks_collect(c, run->id, NULL, api_project(r), &ts, &n, &e);
	bench = core_browsers_report(c, ts, n);
	rc = dash_page_begin(r, dtf_json_str(row, "name", run->id), "run", run->id, NULL) ||
	     dtf_buf_adds(b, "<h1>Run ") || esc(b, dtf_json_str(row, "name", run->id)) ||
	     dtf_buf_adds(b, " <span class=\"muted\">") || esc(b, run->id) ||
	     dtf_buf_adds(b, "</span></h1>\n<section>") || put_counts(b, row) ||
	     dtf_buf_adds(b, "</section>\n<section><h2>Timeline</h2>\n<p class=\"muted\">One lane "
			     "per worker slot, one bar per attempt (retries included): green "
			     "passed, red failed, orange timed out, purple the infrastructure's "
			     "fault, blue running. Hover a bar for its task and duration; click it "
			     "for the task.</p>\n<div id=\"timeline-box\">");
	/* The rows go into a second buffer while the timeline collects the attempts, so that the
	 * timeline can come first on the page without a second walk over the tasks. */
	{
		struct dtf_buf rows;
		dtf_buf_init(&rows, (size_t)1 << 30);
		for (i = 0; !rc && i < n; i++) {
			json_t *v = core_task_view(c, ts[i]);
			const char *st = dash_task_status(v);
			rc = dtf_timeline_add_task(&tl, v);
			if (!rc && (!filter || strcmp(st, filter) == 0)) {
				matched++;
				if (shown < DASH_MAX_TASK_ROWS) {
					rc = put_task_row(&rows, v, st);
					shown++;
				}
			}
			json_decref(v);
		}
		pthread_mutex_unlock(&c->lock);
		free(ts);
		if (!rc)
			rc = dtf_timeline_svg(&tl, b, "timeline", 1) ||
			     dtf_buf_adds(b, "</div></section>\n") || put_benchmarks(b, bench) ||
			     dtf_buf_adds(b, "<section><h2>Tasks</h2>\n"
					     "<label>Show <select id=\"status-filter\">"
					     "<option value=\"\">all</option>");
		for (i = 0; !rc && filter_names[i]; i++)
			rc = dtf_buf_printf(
			    b, "<option value=\"%s\"%s>%s</option>", filter_names[i],
			    filter && strcmp(filter, filter_names[i]) == 0 ? " selected" : "",
			    filter_names[i]);
		if (!rc)
			rc = dtf_buf_printf(b,
					    "</select></label> <span class=\"muted\" "
					    "id=\"tasks-shown\">%zu of %zu task%s%s</span>\n",
					    shown, n, n == 1 ? "" : "s",
					    filter ? " (filtered by the server: ?status=)" : "");
		if (!rc && shown < matched)
			rc = dtf_buf_printf(
			    b,
			    "<p class=\"error-text\" id=\"tasks-capped\">Only the "
			    "first %d of %zu rows are shown; filter with ?status= to "
			    "see others.</p>\n",
			    DASH_MAX_TASK_ROWS, matched);
		if (!rc)
			rc = dtf_buf_adds(
				 b, "<table id=\"tasks\"><thead><tr><th>Task</th>"
				    "<th>Status</th><th>Duration</th><th>Worker</th>"
				    "<th>Attempts</th><th>Error</th></tr></thead><tbody>\n") ||
			     dtf_buf_add(b, rows.data ? rows.data : "", rows.len) ||
			     dtf_buf_adds(b, "</tbody></table></section>\n") || dash_page_end(r);
		dtf_buf_release(&rows);
	}
	dtf_timeline_release(&tl);
	json_decref(row);
	json_decref(bench);
	if (rc)
		dtf_http_reply_error(r, 500, "render_failed", "could not render the page");
}

/* GET /runs/{id}/timeline: the run's timeline alone (an SVG document), which the script puts in
 * place of the page's once the run is done. */
void dash_h_run_timeline(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct dtf_timeline tl;
	struct core_err e;
	struct ctask **ts = NULL;
	size_t n = 0, i;
	int rc = 0;

	dtf_timeline_init(&tl, dtf_wall_ms());
	pthread_mutex_lock(&c->lock);
	if (!core_run_find(c, r->param[0], api_project(r), &e)) {
		pthread_mutex_unlock(&c->lock);
		api_reply_err(r, &e);
		return;
	}
	core_tasks_collect(c, r->param[0], NULL, api_project(r), &ts, &n, &e);
	for (i = 0; !rc && i < n; i++) {
		json_t *v = core_task_view(c, ts[i]);
		rc = dtf_timeline_add_task(&tl, v);
		json_decref(v);
	}
	pthread_mutex_unlock(&c->lock);
	free(ts);
	dash_headers(r, NULL);
	dtf_buf_reset(&r->resp);
	if (!rc)
		rc = dtf_timeline_svg(&tl, &r->resp, "timeline", 1);
	dtf_timeline_release(&tl);
	if (rc) {
		dtf_http_reply_error(r, 500, "render_failed", "could not draw the timeline");
		return;
	}
	r->status = 200;
	r->content_type = "image/svg+xml; charset=utf-8";
}

/* ---- a task ---- */

static int put_attempts(struct dtf_buf *b, json_t *t)
{
	json_t *hist = json_object_get(t, "history"), *h;
	const char *st = dtf_json_str(t, "status", "");
	size_t i;
	int rc;

	rc = dtf_buf_adds(b, "<section><h2>Attempts</h2>\n<table id=\"attempts\"><thead><tr>"
			     "<th>#</th><th>Worker</th><th>Outcome</th><th>Error</th>"
			     "<th>Started</th><th>Finished</th><th>Duration</th></tr></thead>"
			     "<tbody>\n");
	json_array_foreach(hist, i, h) {
		int64_t a = 0, z = 0;
		char dur[32];
		const char *start =
		    dtf_json_str(h, "started_at", dtf_json_str(h, "assigned_at", ""));
		bool known = *start && dtf_parse_rfc3339(start, &a) == 0 &&
			     dtf_parse_rfc3339(dtf_json_str(h, "finished_at", ""), &z) == 0;
		if (rc)
			break;
		dash_fmt_secs(known && z >= a ? (double)(z - a) / 1000.0 : -1, dur);
		rc =
		    dtf_buf_printf(b, "<tr class=\"attempt\" data-attempt=\"%lld\" data-outcome=\"",
				   dtf_json_int(h, "attempt", 0)) ||
		    esc(b, dtf_json_str(h, "outcome", "")) ||
		    dtf_buf_printf(b, "\"><td class=\"num\">%lld</td><td class=\"worker\">",
				   dtf_json_int(h, "attempt", 0)) ||
		    esc(b, dtf_json_str(h, "worker_id", "")) ||
		    dtf_buf_adds(b, "</td><td class=\"outcome\">") ||
		    esc(b, dtf_json_str(h, "outcome", "")) ||
		    dtf_buf_adds(b, "</td><td class=\"error\">") ||
		    esc(b, dtf_json_str(h, "error_kind", "")) ||
		    (json_is_string(json_object_get(h, "message")) &&
		     (dtf_buf_adds(b, ": ") ||
		      dtf_html_escape_cap(b, dtf_json_str(h, "message", ""), 2000))) ||
		    dtf_buf_adds(b, "</td><td>") || esc(b, start) || dtf_buf_adds(b, "</td><td>") ||
		    esc(b, dtf_json_str(h, "finished_at", "")) ||
		    dtf_buf_printf(b, "</td><td class=\"num\">%s</td></tr>\n", dur);
	}
	if (!rc && (strcmp(st, "assigned") == 0 || strcmp(st, "running") == 0))
		rc = dtf_buf_printf(b,
				    "<tr class=\"attempt current\" data-attempt=\"%lld\" "
				    "data-outcome=\"running\"><td class=\"num\">%lld</td>"
				    "<td class=\"worker\">",
				    dtf_json_int(t, "attempt", 0), dtf_json_int(t, "attempt", 0)) ||
		     esc(b, dtf_json_str(t, "worker_id", "")) ||
		     dtf_buf_adds(b, "</td><td class=\"outcome\">") || esc(b, st) ||
		     dtf_buf_adds(b, "</td><td></td><td>") ||
		     esc(b, dtf_json_str(t, "started_at", dtf_json_str(t, "assigned_at", ""))) ||
		     dtf_buf_adds(b, "</td><td></td><td></td></tr>\n");
	if (!rc && !json_array_size(hist) && strcmp(st, "assigned") && strcmp(st, "running"))
		rc = dtf_buf_adds(b, "<tr class=\"empty\"><td colspan=\"7\">No attempt yet.</td>"
				     "</tr>\n");
	return rc || dtf_buf_adds(b, "</tbody></table></section>\n");
}

/* Its recovery (core/recovery.h): the step in progress and the attempts that led to it. */
static int put_recovery(struct dtf_buf *b, json_t *t)
{
	json_t *rec = json_object_get(t, "recovery"), *hist = json_object_get(t, "history"), *h;
	size_t i, retried = 0;
	int rc;

	json_array_foreach(hist, i, h) {
		if (strcmp(dtf_json_str(h, "outcome", ""), "passed") != 0 &&
		    i + 1 < json_array_size(hist))
			retried++;
	}
	if (!json_is_object(rec) && retried == 0 &&
	    !json_is_true(json_object_get(json_object_get(t, "result"), "flaky")))
		return 0;
	rc = dtf_buf_adds(b, "<section id=\"recovery\"><h2>Recovery</h2>\n<ol class=\"steps\">\n");
	json_array_foreach(hist, i, h) {
		if (rc || strcmp(dtf_json_str(h, "outcome", ""), "passed") == 0)
			continue;
		rc = dtf_buf_printf(b, "<li class=\"recovery-step\">attempt %lld on ",
				    dtf_json_int(h, "attempt", 0)) ||
		     esc(b, dtf_json_str(h, "worker_id", "?")) || dtf_buf_adds(b, " ") ||
		     esc(b, dtf_json_str(h, "outcome", "")) || dtf_buf_adds(b, " (") ||
		     esc(b, dtf_json_str(h, "error_kind", "")) ||
		     dtf_buf_adds(b, strcmp(dtf_json_str(h, "outcome", ""), "requeued") == 0
					 ? "), then retried</li>\n"
					 : ")</li>\n");
	}
	if (!rc && json_is_object(rec))
		rc = dtf_buf_adds(b, "<li class=\"recovery-step current\">in progress: ") ||
		     esc(b, dtf_json_str(rec, "strategy", "?")) ||
		     dtf_buf_printf(b, " (level %lld, ", dtf_json_int(rec, "level", 0)) ||
		     esc(b, dtf_json_str(rec, "class", "?")) ||
		     dtf_buf_adds(b, "), after a failure on ") ||
		     esc(b, dtf_json_str(rec, "failed_on", "?")) || dtf_buf_adds(b, "</li>\n");
	return rc || dtf_buf_adds(b, "</ol></section>\n");
}

/* The text of a task's error: "message (kind)", or its kind; "" when it has none. */
static void error_text(json_t *t, struct dtf_buf *out)
{
	json_t *err = json_object_get(t, "error");
	const char *msg = dtf_json_str(err, "message", ""), *kind = dtf_json_str(err, "kind", "");

	if (*msg)
		dtf_buf_printf(out, "%s%s%s%s", msg, *kind ? " (" : "", kind, *kind ? ")" : "");
	else if (*kind)
		dtf_buf_adds(out, kind);
	else if (strcmp(dtf_json_str(t, "status", ""), "failed") == 0)
		dtf_buf_adds(out, "failed");
}

/* The end of a task's output (core_task_output), at most DASH_MAX_OUTPUT bytes; *cut says
 * whether its start was left out. */
static void task_output(struct ctask *t, struct dtf_buf *out, bool *cut)
{
	struct dtf_buf all;

	dtf_buf_init(&all, (size_t)64 << 20);
	core_task_output(t, &all);
	*cut = all.len > DASH_MAX_OUTPUT;
	if (*cut) {
		size_t from = all.len - DASH_MAX_OUTPUT;
		/* Start on a character, not inside one. */
		while (from < all.len && ((unsigned char)all.data[from] & 0xC0) == 0x80)
			from++;
		dtf_buf_add(out, all.data + from, all.len - from);
	} else if (all.len)
		dtf_buf_add(out, all.data, all.len);
	dtf_buf_release(&all);
}

void dash_h_task(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct dtf_buf *b = &r->resp, out, errtext;
	struct core_err e;
	struct ctask *t;
	json_t *v;
	char dur[32];
	bool cut = false;
	int rc;

	pthread_mutex_lock(&c->lock);
	t = core_task_find(c, r->param[0], api_project(r), &e);
	if (!t) {
		pthread_mutex_unlock(&c->lock);
		dash_error(r, 404, "no task with id '%s'", r->param[0]);
		return;
	}
	v = core_task_view(c, t);
	dtf_buf_init(&out, DASH_MAX_OUTPUT + 16);
	task_output(t, &out, &cut);
	pthread_mutex_unlock(&c->lock);

	dtf_buf_init(&errtext, 1u << 20);
	error_text(v, &errtext);
	dash_fmt_secs(dash_task_duration(v), dur);
	rc = dash_page_begin(r, dtf_json_str(v, "name", r->param[0]), "task",
			     dtf_json_str(v, "run_id", NULL), dtf_json_str(v, "id", "")) ||
	     dtf_buf_adds(b, "<h1>Task ") || esc(b, dtf_json_str(v, "name", r->param[0])) ||
	     dtf_buf_adds(b, "</h1>\n<section><table class=\"facts\"><tbody>\n<tr><th>Status</th>"
			     "<td><span id=\"task-status\" data-status=\"") ||
	     esc(b, dtf_json_str(v, "status", "")) || dtf_buf_adds(b, "\">") ||
	     esc(b, dtf_json_str(v, "status", "")) ||
	     dtf_buf_adds(b, "</span></td></tr>\n<tr><th>Id</th><td id=\"task-id\">") ||
	     esc(b, dtf_json_str(v, "id", "")) ||
	     dtf_buf_adds(b, "</td></tr>\n<tr><th>Run</th><td><a id=\"task-run\" href=\"/runs/") ||
	     dash_url_part(b, dtf_json_str(v, "run_id", "")) || dtf_buf_adds(b, "\">") ||
	     esc(b, dtf_json_str(v, "run_id", "")) ||
	     dtf_buf_adds(b, "</a></td></tr>\n<tr><th>Type</th><td>") ||
	     esc(b, dtf_json_str(v, "type", "")) ||
	     dtf_buf_adds(b, "</td></tr>\n<tr><th>Worker</th><td id=\"task-worker\">") ||
	     esc(b, dtf_json_str(v, "worker_id", "\xe2\x80\x94")) ||
	     dtf_buf_printf(
		 b,
		 "</td></tr>\n<tr><th>Attempt</th><td id=\"task-attempt\">%lld</td></tr>\n"
		 "<tr><th>Duration</th><td id=\"task-duration\">%s</td></tr>\n",
		 dtf_json_int(v, "attempt", 0), dur);
	if (!rc && json_is_string(json_object_get(v, "pending_reason")))
		rc = dtf_buf_adds(b, "<tr><th>Why pending</th><td id=\"pending-reason\">") ||
		     esc(b, dtf_json_str(v, "pending_reason", "")) ||
		     dtf_buf_adds(b, "</td></tr>\n");
	if (!rc)
		rc = dtf_buf_adds(b, "</tbody></table></section>\n<section><h2>Error</h2>\n"
				     "<pre id=\"task-error\">") ||
		     esc(b, dtf_buf_str(&errtext)) ||
		     dtf_buf_adds(b, "</pre>\n</section>\n<section><h2>Output</h2>\n");
	if (!rc && cut)
		rc = dtf_buf_printf(
			 b,
			 "<p class=\"muted\" id=\"output-cut\">The last %u KiB; the whole "
			 "log is at <a href=\"/api/v1/tasks/",
			 DASH_MAX_OUTPUT >> 10) ||
		     dash_url_part(b, dtf_json_str(v, "id", "")) ||
		     dtf_buf_adds(b, "/log\">the "
				     "API</a>.</p>\n");
	if (!rc)
		rc = dtf_buf_adds(b, "<pre id=\"task-output\">") ||
		     dtf_html_escape_cap(b, dtf_buf_str(&out), DASH_MAX_OUTPUT + 16) ||
		     dtf_buf_adds(b, "</pre>\n</section>\n") || put_attempts(b, v) ||
		     put_recovery(b, v) || dash_page_end(r);
	dtf_buf_release(&out);
	dtf_buf_release(&errtext);
	json_decref(v);
	if (rc)
		dtf_http_reply_error(r, 500, "render_failed", "could not render the page");
}

/* ---- the live view ---- */

/* GET /dashboard/live[?run=ID][&task=ID]: what the script refreshes a page from:
 * {"runs": [run rows] (the one run, or the latest), "workers": [{"id", "status", "used", "slots",
 * "quarantine"}] and "pending_total" without run or task, "task": {"id", "status", "error",
 * "output", "attempt", "worker"} with task}. */
void dash_h_live(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	const char *run_id = dtf_http_query(r, "run"), *task_id = dtf_http_query(r, "task");
	json_t *out = json_object(), *runs;
	struct core_err e;
	size_t n;

	pthread_mutex_lock(&c->lock);
	if (task_id) {
		struct ctask *t = core_task_find(c, task_id, api_project(r), &e);
		struct dtf_buf o, et;
		bool cut;
		json_t *v;
		if (!t) {
			pthread_mutex_unlock(&c->lock);
			json_decref(out);
			dtf_http_reply_error(r, 404, "task_not_found", "no task with id '%s'",
					     task_id);
			return;
		}
		v = core_task_view(c, t);
		dtf_buf_init(&o, DASH_MAX_OUTPUT + 16);
		dtf_buf_init(&et, 1u << 20);
		task_output(t, &o, &cut);
		error_text(v, &et);
		json_object_set_new(out, "task",
				    json_pack("{s:s,s:s,s:s%,s:s%,s:I,s:s}", "id", t->id, "status",
					      dtf_json_str(v, "status", ""), "error",
					      dtf_buf_str(&et), et.len, "output", dtf_buf_str(&o),
					      o.len, "attempt",
					      (json_int_t)dtf_json_int(v, "attempt", 0), "worker",
					      dtf_json_str(v, "worker_id", "")));
		if (!json_object_get(out, "task")) /* output that is not UTF-8 */
			json_object_set_new(
			    out, "task",
			    json_pack("{s:s,s:s,s:s,s:I}", "id", t->id, "status",
				      dtf_json_str(v, "status", ""), "output",
				      "(the output is not UTF-8: see the task's log)", "attempt",
				      (json_int_t)dtf_json_int(v, "attempt", 0)));
		run_id = NULL;
		runs = json_array();
		{
			struct crun *run = core_run_find(c, t->run_id, api_project(r), &e);
			if (run)
				json_array_append_new(runs, run_row(c, run));
		}
		dtf_buf_release(&o);
		dtf_buf_release(&et);
		json_decref(v);
	} else if (run_id) {
		struct crun *run = core_run_find(c, run_id, api_project(r), &e);
		if (!run) {
			pthread_mutex_unlock(&c->lock);
			json_decref(out);
			api_reply_err(r, &e);
			return;
		}
		runs = json_array();
		json_array_append_new(runs, run_row(c, run));
	} else {
		json_t *list = core_workers_list(c), *ws = json_array(), *w;
		size_t i;
		runs = latest_runs(c, api_project(r), &n);
		json_array_foreach(json_object_get(list, "workers"), i, w) {
			char q[400];
			quarantine_text(w, q, sizeof(q));
			json_array_append_new(ws, json_pack("{s:s,s:s,s:i,s:I,s:s}", "id",
							    dtf_json_str(w, "id", ""), "status",
							    dtf_json_str(w, "status", ""), "used",
							    worker_used(w), "slots",
							    (json_int_t)dtf_json_int(w, "slots", 0),
							    "quarantine", q));
		}
		json_object_set_new(out, "workers", ws);
		/* The core's counter: the script polls this, so no walk over the tasks (but for a
		 * project key, whose count is of its own project's tasks). */
		if (api_project(r)) {
			json_t *p = core_tasks_list(c, NULL, TS_PENDING, 0, 0, api_project(r));
			json_object_set(out, "pending_total", json_object_get(p, "total"));
			json_decref(p);
		} else {
			json_object_set_new(out, "pending_total",
					    json_integer(c->counts[TS_PENDING]));
		}
		json_decref(list);
	}
	pthread_mutex_unlock(&c->lock);
	json_object_set_new(out, "runs", runs);
	dash_headers(r, NULL);
	dtf_http_reply_json(r, 200, out);
}
