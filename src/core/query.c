/* query.c: what front-ends read of tasks: a task as clients see it (with why it still waits),
 * task lists by run or id, summaries by status and by test entry, report documents, output. The
 * reading half of ops.h; nothing here changes the state. */
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

int core_fail(struct core_err *e, int code, const char *kind, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* The task as clients see it (a new reference): its document plus, while it is pending, why. */
json_t *core_task_view(struct coord *c, struct ctask *t)
{
	json_t *v = task_doc_copy(t);
	char why[512];

	if (t->status == TS_PENDING) {
		bool never = lease_pending_reason(c, t, why, sizeof(why));
		json_object_set_new(v, "pending_reason", json_string(why));
		json_object_set_new(v, "schedulable", json_boolean(!never));
	}
	return v;
}

static int by_seq(const void *a, const void *b)
{
	const struct ctask *x = *(struct ctask *const *)a, *y = *(struct ctask *const *)b;

	return (x->sx.seq > y->sx.seq) - (x->sx.seq < y->sx.seq);
}

bool core_task_in(const struct ctask *t, const char *project)
{
	return !project || strcmp(t->sx.project ? t->sx.project : "", project) == 0;
}

bool core_run_in(const struct crun *run, const char *project)
{
	return !project || strcmp(dtf_json_str(run->doc, "project", ""), project) == 0;
}

struct ctask *core_task_find(struct coord *c, const char *id, const char *project,
			     struct core_err *e)
{
	struct ctask *t = id ? dtf_hmap_get(&c->tasks, id) : NULL;

	/* Another project's task is, to a project-limited caller, no task at all. */
	if (t && !core_task_in(t, project))
		t = NULL;
	if (!t)
		core_fail(e, DTF_ENOTFOUND, "task_not_found", "no task with id '%s'", id ? id : "");
	return t;
}

json_t *core_blocked_hardware(struct coord *c, const char *project)
{
	json_t *out = c->blocked_hw ? json_deep_copy(c->blocked_hw) : json_object(), *v;
	const char *k;

	json_object_foreach(out, k, v) {
		struct ctask *t = dtf_hmap_get(&c->tasks, dtf_json_str(v, "task_id", ""));
		if (!project || (t && core_task_in(t, project)))
			continue;
		/* The class stays blocked for everyone; which task (and why) is its project's. */
		json_object_del(v, "task_id");
		json_object_set_new(v, "reason", json_string("a task of another project"));
	}
	return out;
}

/* Collects tasks (of a run, or of a comma-separated id list, or all) of project (NULL: any)
 * sorted by submission; an unknown id (or one of another project) is written to bad. */
static struct ctask **collect(struct coord *c, const char *run_id, const char *ids,
			      const char *project, size_t *n, char *bad, size_t badlen)
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
				if (!t || !core_task_in(t, project)) {
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
			if ((run_id && strcmp(t->run_id, run_id) != 0) || !core_task_in(t, project))
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

int core_tasks_collect(struct coord *c, const char *run_id, const char *ids, const char *project,
		       struct ctask ***out, size_t *n, struct core_err *e)
{
	char bad[64];

	*out = collect(c, run_id, ids, project, n, bad, sizeof(bad));
	if (bad[0])
		return core_fail(e, DTF_ENOTFOUND, "task_not_found", "no task with id '%s'", bad);
	return 0;
}

/* True if no registered worker could ever run pending task t; lists it (the first 20) in
 * blocked with the reason. */
bool core_note_blocked(struct coord *c, struct ctask *t, json_t *blocked)
{
	char why[512];
	size_t pos = 0;
	const char *k;
	void *v;

	/* Most pending tasks have a worker that could run them: find one before writing why. */
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0)
		if (lease_could_run(t, v))
			return false;
	if (!lease_pending_reason(c, t, why, sizeof(why)))
		return false;
	if (json_array_size(blocked) < 20)
		json_array_append_new(blocked, json_pack("{s:s,s:s,s:s}", "id", t->id, "name",
							 dtf_json_str(task_doc(t), "name", ""),
							 "reason", why));
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
		if (with_blocked && t->status == TS_PENDING && core_note_blocked(c, t, blocked))
			blocked_n++;
	}
	out = json_pack("{s:i}", "total", (int)n);
	for (s = 0; s < TS__COUNT; s++)
		json_object_set_new(out, task_status_name((enum task_status)s),
				    json_integer(counts[s]));
	json_object_set_new(out, "unschedulable", json_integer(unsched));
	json_object_set_new(
	    out, "finished",
	    json_integer(counts[TS_COMPLETED] + counts[TS_FAILED] + counts[TS_CANCELLED]));
	json_object_set_new(
	    out, "done",
	    json_boolean(counts[TS_PENDING] + counts[TS_ASSIGNED] + counts[TS_RUNNING] == 0));
	if (with_blocked) {
		json_object_set_new(out, "blocked_count", json_integer(blocked_n));
		json_object_set_new(out, "blocked", blocked);
	} else {
		json_decref(blocked);
	}
	return out;
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

json_t *core_tasks_summary(struct coord *c, struct ctask **ts, size_t n, bool with_blocked,
			   bool with_tests)
{
	json_t *out = summary_of(c, ts, n, with_blocked);

	return with_tests ? tests_summary(out, ts, n) : out;
}

void core_task_output(struct ctask *t, struct dtf_buf *out)
{
	json_t *res = json_object_get(task_doc(t), "result");

	if (res) {
		dtf_buf_adds(out, dtf_json_str(res, "stdout", ""));
		dtf_buf_adds(out, dtf_json_str(res, "stderr", ""));
	} else {
		dtf_buf_adds(out, dtf_json_str(task_doc(t), "live_output", ""));
	}
}

json_t *core_report_doc(struct coord *c, const json_t *run, struct ctask **ts, size_t n)
{
	json_t *tasks = json_array();
	size_t i;

	json_t *doc, *bench;

	for (i = 0; i < n; i++)
		json_array_append_new(tasks, core_task_view(c, ts[i]));
	doc = json_pack("{s:O,s:o}", "run", run, "tasks", tasks);
	bench = core_browsers_report(c, ts, n);
	if (doc && bench)
		json_object_set_new(doc, "browser_benchmarks", bench);
	else
		json_decref(bench);
	return doc;
}

json_t *core_tasks_list(struct coord *c, const char *run_id, int status, long limit, long offset,
			const char *project)
{
	struct ctask **ts;
	size_t n, i, matched = 0;
	json_t *list = json_array();
	struct core_err e;

	core_tasks_collect(c, run_id, NULL, project, &ts, &n, &e);
	for (i = 0; i < n; i++) {
		if (status >= 0 && (int)ts[i]->status != status)
			continue;
		if ((long)matched >= offset && (long)json_array_size(list) < limit)
			json_array_append_new(list, core_task_view(c, ts[i]));
		matched++;
	}
	free(ts);
	return json_pack("{s:o,s:i}", "tasks", list, "total", (int)matched);
}

int core_export_doc(struct coord *c, const char *run_id, const char *ids, const char *project,
		    json_t **doc, struct core_err *e)
{
	struct ctask **ts;
	size_t n;
	struct crun *cr = run_id ? state_run(c, run_id) : NULL;
	json_t *run;
	char now[32];
	int rc;

	*doc = NULL;
	/* The report carries the run's document: another project's run is not shown. */
	if (cr && !core_run_in(cr, project))
		return core_fail(e, DTF_ENOTFOUND, "run_not_found", "no run with id '%s'", run_id);
	rc = core_tasks_collect(c, run_id, ids, project, &ts, &n, e);
	if (rc)
		return rc;
	dtf_rfc3339(dtf_wall_ms(), now);
	run = cr ? json_incref(cr->doc)
		 : json_pack("{s:s,s:s,s:s}", "id", "export", "name", "dtf", "created_at", now);
	*doc = core_report_doc(c, run, ts, n);
	json_decref(run);
	free(ts);
	return 0;
}
