/* api_tasks.c: the REST API's tasks: submit, list, summarize, export, show, change and cancel
 * them (clients), and report their start, output and result (workers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "core/model.h"
#include "report/report.h"

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

void api_reply_report(struct dtf_http_req *r, json_t *doc)
{
	const char *fmt = dtf_http_query(r, "format");
	int rc;

	if (!fmt)
		fmt = "json";
	if (!dtf_report_file_name(fmt)) {
		dtf_http_reply_error(
		    r, 400, "unsupported_format",
		    "format '%s' is not supported (json, junit, markdown, html, csv)", fmt);
		json_decref(doc);
		return;
	}
	dtf_buf_reset(&r->resp);
	rc = report_export(doc, fmt, &r->resp, &r->content_type);
	json_decref(doc);
	if (rc)
		dtf_http_reply_error(r, 500, "report_failed", "could not write the report: %s",
				     dtf_strerror(rc));
	else
		r->status = 200;
}

/* Accepts one task object, a list, or {"tasks": [...], "run_id"?, "run": {"name"}?}. */
void api_h_tasks_create(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *body = api_body_json(r), *reply;
	struct core_err e;

	if (!body)
		return;
	pthread_mutex_lock(&c->lock);
	if (core_tasks_submit(c, body, api_project(r), &reply, &e))
		api_reply_err(r, &e);
	else
		dtf_http_reply_json(r, 201, reply);
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

void api_h_tasks_list(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	const char *status = dtf_http_query(r, "status");
	const char *lim = dtf_http_query(r, "limit");
	const char *off = dtf_http_query(r, "offset");
	long limit = lim ? strtol(lim, NULL, 10) : 1000, offset = off ? strtol(off, NULL, 10) : 0;
	enum task_status want = TS_PENDING;
	json_t *list;

	if (status && !task_status_parse(status, &want)) {
		dtf_http_reply_error(r, 400, "invalid_status", "unknown status '%s'", status);
		return;
	}
	if (limit < 0 || limit > 100000 || offset < 0) {
		dtf_http_reply_error(r, 400, "invalid_range",
				     "limit must be 0..100000 and offset >= 0");
		return;
	}
	pthread_mutex_lock(&c->lock);
	list = core_tasks_list(c, dtf_http_query(r, "run_id"), status ? (int)want : -1, limit,
			       offset, api_project(r));
	pthread_mutex_unlock(&c->lock);
	dtf_http_reply_json(r, 200, list);
}

void api_h_tasks_summary(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct ctask **ts;
	size_t n;
	struct core_err e;

	pthread_mutex_lock(&c->lock);
	if (core_tasks_collect(c, dtf_http_query(r, "run_id"), dtf_http_query(r, "ids"),
			       api_project(r), &ts, &n, &e))
		api_reply_err(r, &e);
	else
		dtf_http_reply_json(r, 200, core_tasks_summary(c, ts, n, true, true));
	free(ts);
	pthread_mutex_unlock(&c->lock);
}

void api_h_tasks_export(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct core_err e;
	json_t *doc;
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = core_export_doc(c, dtf_http_query(r, "run_id"), dtf_http_query(r, "ids"),
			     api_project(r), &doc, &e);
	pthread_mutex_unlock(&c->lock);
	if (rc)
		api_reply_err(r, &e);
	else
		api_reply_report(r, doc);
}

/* The task the path names, or NULL after a 404 (another project's, to a project key). */
static struct ctask *find_task(struct dtf_http_req *r)
{
	struct core_err e;
	struct ctask *t = core_task_find(api_core(r), r->param[0], api_project(r), &e);

	if (!t)
		api_reply_err(r, &e);
	return t;
}

void api_h_task_get(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct ctask *t;

	pthread_mutex_lock(&c->lock);
	t = find_task(r);
	if (t)
		dtf_http_reply_json(r, 200, core_task_view(c, t));
	pthread_mutex_unlock(&c->lock);
}

void api_h_task_log(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct ctask *t;

	pthread_mutex_lock(&c->lock);
	t = find_task(r);
	if (t) {
		r->status = 200;
		r->content_type = "text/plain; charset=utf-8";
		dtf_buf_reset(&r->resp);
		core_task_output(t, &r->resp);
	}
	pthread_mutex_unlock(&c->lock);
}

/* PUT: change a pending task's scheduling fields. */
void api_h_task_put(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *body = api_body_json(r), *reply;
	struct core_err e;

	if (!body)
		return;
	pthread_mutex_lock(&c->lock);
	if (core_task_update(c, r->param[0], body, api_project(r), &reply, &e))
		api_reply_err(r, &e);
	else
		dtf_http_reply_json(r, 200, reply);
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

/* DELETE: cancel (?reason=unschedulable: because no worker could ever run it). A running task is
 * stopped on its worker (told with its next reply). */
void api_h_task_delete(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	const char *reason = dtf_http_query(r, "reason");
	json_t *reply;
	struct core_err e;

	pthread_mutex_lock(&c->lock);
	if (core_task_cancel(c, r->param[0], reason ? reason : "cancelled", api_project(r), &reply,
			     &e))
		api_reply_err(r, &e);
	else
		dtf_http_reply_json(r, 200, reply);
	pthread_mutex_unlock(&c->lock);
}

void api_h_task_result(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *body = api_body_json(r), *reply, *leased;
	struct cworker *w;
	struct core_err e;

	if (!body)
		return;
	if (!json_is_object(body) || !json_is_string(json_object_get(body, "worker_id"))) {
		dtf_http_reply_error(r, 400, "invalid_result", "a result needs 'worker_id'");
		json_decref(body);
		return;
	}
	pthread_mutex_lock(&c->lock);
	w = api_worker(r, dtf_json_str(body, "worker_id", ""), body);
	if (w) {
		if (core_task_result(c, w, r->param[0], body, &reply, &leased, &e)) {
			api_reply_err(r, &e);
		} else {
			r->app_state = leased;
			dtf_http_reply_json(r, 200, reply);
		}
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

/* A worker's report about one of its tasks (the worker's id in the body): op's outcome, or
 * {"ok": true}. */
static void worker_report(struct dtf_http_req *r,
			  int (*op)(struct coord *c, struct cworker *w, const char *task_id,
				    const json_t *body, struct core_err *e))
{
	struct coord *c = api_core(r);
	json_t *body = api_body_json(r);
	struct cworker *w;
	struct core_err e;

	if (!body)
		return;
	pthread_mutex_lock(&c->lock);
	w = api_worker(r, dtf_json_str(body, "worker_id", ""), body);
	if (w) {
		if (op(c, w, r->param[0], body, &e))
			api_reply_err(r, &e);
		else
			dtf_http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

void api_h_task_started(struct dtf_http_req *r)
{
	worker_report(r, core_task_started);
}

void api_h_task_log_append(struct dtf_http_req *r)
{
	worker_report(r, core_task_log_append);
}
