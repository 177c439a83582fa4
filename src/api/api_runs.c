/* api_runs.c: the REST API's runs: create, list and show them, their summary (which may wait for
 * the run's end), and their report in any format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/err.h"
#include "common/json.h"
#include "core/model.h"

/* How long GET /api/v1/runs/{id}/summary?wait_s= may wait, at most. */
#define MAX_SUMMARY_WAIT_S 60.0

void api_h_runs_create(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *body = api_body_json(r);
	const char *project;
	struct crun *run;
	struct core_err e;

	if (!body)
		return;
	if (!json_is_object(body) ||
	    (json_object_get(body, "name") && !json_is_string(json_object_get(body, "name"))) ||
	    (json_object_get(body, "project") &&
	     !json_is_string(json_object_get(body, "project")))) {
		dtf_http_reply_error(r, 400, "invalid_run",
				     "a run is an object with a string 'name' (and 'project')");
		goto out;
	}
	/* A project key's runs are of its project: it may name no other. */
	project = dtf_json_str(body, "project", NULL);
	if (api_project(r) && project && strcmp(project, api_project(r)) != 0) {
		dtf_http_reply_error(r, 403, "forbidden",
				     "key '%s' may submit to project '%s' only", r->key.name,
				     r->key.project);
		goto out;
	}
	if (api_project(r))
		project = api_project(r);
	pthread_mutex_lock(&c->lock);
	if (core_run_create(c, dtf_json_str(body, "name", NULL), json_object_get(body, "metadata"),
			    project, &run, &e))
		api_reply_err(r, &e);
	else
		dtf_http_reply_json(r, 201, core_run_view(c, run, false));
	pthread_mutex_unlock(&c->lock);
out:
	json_decref(body);
}

void api_h_runs_list(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *list;

	pthread_mutex_lock(&c->lock);
	list = core_runs_list(c, api_project(r));
	pthread_mutex_unlock(&c->lock);
	dtf_http_reply_json(r, 200, list);
}

/* The run the path names, or NULL after a 404. */
static struct crun *find_run(struct dtf_http_req *r)
{
	struct core_err e;
	struct crun *run = core_run_find(api_core(r), r->param[0], api_project(r), &e);

	if (!run)
		api_reply_err(r, &e);
	return run;
}

void api_h_run_get(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct crun *run;

	pthread_mutex_lock(&c->lock);
	run = find_run(r);
	if (run)
		dtf_http_reply_json(r, 200, core_run_view(c, run, true));
	pthread_mutex_unlock(&c->lock);
}

/* GET /api/v1/runs/{id}/summary[?wait_s=S]: with wait_s (at most MAX_SUMMARY_WAIT_S), a run
 * that is not done yet is answered once it is, or after S seconds, whichever comes first. */
void api_h_run_summary(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct crun *run;
	const char *ws = dtf_http_query(r, "wait_s");
	double wait_s = 0;
	struct core_err e;

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
	if (run && wait_s > 0 && !core_run_done(run) && !c->stopping &&
	    core_summary_wait(c, run, r, wait_s, &e) == 0) {
		dtf_http_suspend(r);
		run = NULL;
	}
	if (run)
		dtf_http_reply_json(r, 200, core_run_summary(c, run));
	pthread_mutex_unlock(&c->lock);
}

void api_h_run_export(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct core_err e;
	json_t *doc = NULL;

	pthread_mutex_lock(&c->lock);
	if (core_run_find(c, r->param[0], api_project(r), &e))
		core_export_doc(c, r->param[0], NULL, api_project(r), &doc, &e);
	pthread_mutex_unlock(&c->lock);
	if (doc)
		api_reply_report(r, doc);
	else
		api_reply_err(r, &e);
}
