/* runs.c: runs: creating one, what clients see of it, its summary from its counters, and
 * summaries that wait for the run's end (answered through c->fe.summary_done). */
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

/* A run's summary from its counters, without a scan of its tasks. The blocked list (pending
 * tasks no worker can run) looks at the run's pending tasks in queue order, at most
 * BLOCKED_SCAN of them, so the cost stays bounded however large the run. */
#define BLOCKED_SCAN 500

struct crun *core_run_find(struct coord *c, const char *id, const char *project, struct core_err *e)
{
	struct crun *run = id ? state_run(c, id) : NULL;

	/* Another project's run is, to a project-limited caller, no run at all. */
	if (run && !core_run_in(run, project))
		run = NULL;
	if (!run)
		core_fail(e, DTF_ENOTFOUND, "run_not_found", "no run with id '%s'", id ? id : "");
	return run;
}

struct crun *core_run_new(struct coord *c, const char *name, json_t *meta, const char *project)
{
	char id[48], ts[32];
	json_t *doc;

	dtf_id_new("r-", id, sizeof(id));
	dtf_rfc3339(dtf_wall_ms(), ts);
	doc = json_pack("{s:s,s:s}", "name", name && *name ? name : id, "created_at", ts);
	if (json_is_object(meta))
		json_object_set(doc, "metadata", meta);
	if (project && *project)
		json_object_set_new(doc, "project", json_string(project));
	return state_add_run(c, id, doc);
}

int core_run_create(struct coord *c, const char *name, json_t *meta, const char *project,
		    struct crun **out, struct core_err *e)
{
	struct crun *run;

	*out = NULL;
	if (project && (!*project || strlen(project) > 4096))
		return core_fail(e, DTF_EINVAL, "invalid_run",
				 "field 'project' must be a string of 1 to 4096 bytes");
	run = core_run_new(c, name, meta, project);
	if (!run || txn_begin(c) || state_save_run(c, run) || txn_commit(c))
		return core_fail(e, DTF_ESTORE, "store_error",
				 "the change could not be committed; nothing was stored");
	*out = run;
	return 0;
}

json_t *core_runs_list(struct coord *c, const char *project)
{
	json_t *list = json_array();
	size_t pos = 0;
	const char *k;
	void *v;

	while ((pos = dtf_hmap_next(&c->runs, pos, &k, &v)) != 0)
		if (core_run_in(v, project))
			json_array_append_new(list, core_run_view(c, v, false));
	return json_pack("{s:o}", "runs", list);
}

json_t *core_run_view(struct coord *c, struct crun *run, bool with_blocked)
{
	size_t n;
	struct ctask **ts = NULL;
	struct core_err e;
	json_t *v = json_copy(run->doc);

	core_tasks_collect(c, run->id, NULL, NULL, &ts, &n, &e);

	json_object_set_new(v, "summary", core_tasks_summary(c, ts, n, with_blocked, false));
	json_object_set_new(json_object_get(v, "summary"), "tests",
			    dtf_testcount_json(&run->tests));
	free(ts);
	return v;
}

json_t *core_run_summary(struct coord *c, struct crun *run)
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
	json_object_set_new(
	    out, "done",
	    json_boolean(
		run->counts[TS_PENDING] + run->counts[TS_ASSIGNED] + run->counts[TS_RUNNING] == 0));
	for (p = 1; p <= DTF_PRIORITY_LEVELS && run->counts[TS_PENDING] > 0; p++) {
		struct ctask *t;
		for (t = c->qhead[p]; t && scanned < BLOCKED_SCAN; t = t->qnext) {
			if (strcmp(t->run_id, run->id) != 0)
				continue;
			scanned++;
			if (core_note_blocked(c, t, blocked))
				nblocked++;
		}
	}
	json_object_set_new(out, "blocked_count", json_integer(nblocked));
	json_object_set_new(out, "blocked", blocked);
	return out;
}

bool core_run_done(const struct crun *run)
{
	return run->counts[TS_PENDING] + run->counts[TS_ASSIGNED] + run->counts[TS_RUNNING] == 0;
}

int core_summary_wait(struct coord *c, struct crun *run, void *token, double wait_s,
		      struct core_err *e)
{
	struct run_waiter *rw = calloc(1, sizeof(*rw));

	if (!rw)
		return core_fail(e, DTF_ENOMEM, "unavailable", "out of memory");
	rw->token = token;
	snprintf(rw->run_id, sizeof(rw->run_id), "%s", run->id);
	rw->deadline_ms = dtf_mono_ms() + (int64_t)(wait_s * 1000);
	rw->next = c->run_waiters;
	c->run_waiters = rw;
	return 0;
}

/* Answers a suspended summary (run NULL: the run is gone) and frees it. */
static void answer(struct coord *c, struct run_waiter *rw, struct crun *run)
{
	if (c->fe.summary_done) {
		if (run)
			c->fe.summary_done(c->fe.ctx, rw->token, core_run_summary(c, run), 0, NULL,
					   NULL);
		else {
			char msg[96];
			snprintf(msg, sizeof(msg), "no run with id '%s'", rw->run_id);
			c->fe.summary_done(c->fe.ctx, rw->token, NULL, DTF_ENOTFOUND,
					   "run_not_found", msg);
		}
	}
	free(rw);
}

void core_summary_check(struct coord *c, bool expired_too)
{
	struct run_waiter **pp = &c->run_waiters, *rw;
	int64_t now = expired_too ? dtf_mono_ms() : 0;

	while ((rw = *pp) != NULL) {
		struct crun *run = state_run(c, rw->run_id);
		if (run && !core_run_done(run) && !(expired_too && now >= rw->deadline_ms)) {
			pp = &rw->next;
			continue;
		}
		*pp = rw->next;
		answer(c, rw, run);
	}
}

void core_summary_forget(struct coord *c, void *token)
{
	struct run_waiter **pp, *rw;

	for (pp = &c->run_waiters; (rw = *pp) != NULL; pp = &rw->next) {
		if (rw->token == token) {
			*pp = rw->next;
			free(rw);
			return;
		}
	}
}

void core_summary_end(struct coord *c)
{
	struct run_waiter *rw;

	while ((rw = c->run_waiters) != NULL) {
		c->run_waiters = rw->next;
		if (c->fe.summary_done)
			c->fe.summary_done(c->fe.ctx, rw->token, NULL, DTF_ESHUTDOWN,
					   "shutting_down", "the coordinator is shutting down");
		free(rw);
	}
}
