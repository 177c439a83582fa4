/* api.c: the REST front-end's frame: starting and stopping its server, the route table, what
 * every handler shares (body parsing, errors as replies), and the hooks through which the core
 * answers what a handler left waiting (a long-poll lease, a run summary, a reply held for the
 * group commit). The handlers themselves are in api_tasks.c, api_runs.c, api_workers.c,
 * api_admin.c, api_scheduler.c, api_recovery.c and metrics.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "core/model.h"

struct coord *api_core(struct dtf_http_req *r)
{
	return ((struct dtf_api *)r->app)->c;
}

json_t *api_body_json(struct dtf_http_req *r)
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

struct cworker *api_worker(struct dtf_http_req *r, const char *id, const json_t *body)
{
	struct core_err e;
	struct cworker *w = core_worker_auth(api_core(r), id, dtf_http_header(r, "X-DTF-Protocol"),
					     dtf_http_header(r, "X-DTF-Worker-Token"), body, &e);

	if (!w)
		api_reply_err(r, &e);
	return w;
}

unsigned api_status(int code)
{
	switch (code) {
	case DTF_EINVAL:
	case DTF_EPARSE:
	case DTF_EPROTO:
		return 400;
	case DTF_EAUTH:
		return 401;
	case DTF_EDENIED:
		return 403;
	case DTF_ENOTFOUND:
		return 404;
	case DTF_EEXISTS:
	case DTF_ESTATE:
	case DTF_ESTALE:
		return 409;
	case DTF_ETOOBIG:
		return 413;
	case DTF_ESTORE:
	case DTF_ENOMEM:
	case DTF_ESHUTDOWN:
		return 503;
	default:
		return 500;
	}
}

void api_reply_err(struct dtf_http_req *r, const struct core_err *e)
{
	dtf_http_reply_error(r, api_status(e->code), e->kind, "%s", e->msg);
}

const struct dtf_http_route api_routes[] = {
    {"GET", "/api/v1/events", api_h_events, false},
    {"GET", "/api/v1/plugins", api_h_plugins, false},
    {"GET", "/api/v1/scheduler", api_h_scheduler_get, false},
    {"PUT", "/api/v1/scheduler", api_h_scheduler_put, false},
    {"GET", "/healthz", api_h_healthz, true},
    {"GET", "/metrics", api_h_metrics, false},
    {"GET", "/api/v1/openapi.json", api_h_openapi, false},
    {"GET", "/api/v1/tasks/summary", api_h_tasks_summary, false},
    {"GET", "/api/v1/tasks/export", api_h_tasks_export, false},
    {"GET", "/api/v1/tasks", api_h_tasks_list, false},
    {"POST", "/api/v1/tasks", api_h_tasks_create, false},
    {"GET", "/api/v1/tasks/{id}/log", api_h_task_log, false},
    {"POST", "/api/v1/tasks/{id}/log", api_h_task_log_append, false},
    {"POST", "/api/v1/tasks/{id}/started", api_h_task_started, false},
    {"POST", "/api/v1/tasks/{id}/result", api_h_task_result, false},
    {"GET", "/api/v1/tasks/{id}", api_h_task_get, false},
    {"PUT", "/api/v1/tasks/{id}", api_h_task_put, false},
    {"DELETE", "/api/v1/tasks/{id}", api_h_task_delete, false},
    {"GET", "/api/v1/runs", api_h_runs_list, false},
    {"POST", "/api/v1/runs", api_h_runs_create, false},
    {"GET", "/api/v1/runs/{id}/summary", api_h_run_summary, false},
    {"GET", "/api/v1/runs/{id}/export", api_h_run_export, false},
    {"GET", "/api/v1/runs/{id}", api_h_run_get, false},
    {"POST", "/api/v1/workers/register", api_h_worker_register, false},
    {"GET", "/api/v1/workers", api_h_workers_list, false},
    {"GET", "/api/v1/browsers", api_h_browsers_list, false},
    {"POST", "/api/v1/workers/{id}/heartbeat", api_h_worker_heartbeat, false},
    {"POST", "/api/v1/workers/{id}/lease", api_h_worker_lease, false},
    {"GET", "/api/v1/workers/{id}", api_h_worker_get, false},
    {"GET", "/api/v1/recovery/history", api_h_recovery_history, false},
    {"POST", "/api/v1/recovery/unblock", api_h_recovery_unblock, false},
    {"GET", "/api/v1/notifications", api_h_notifications, false},
    {"POST", "/api/v1/workers/{id}/quarantine", api_h_worker_quarantine, false},
    {"DELETE", "/api/v1/workers/{id}/quarantine", api_h_worker_quarantine, false},
    {NULL, NULL, NULL, false},
};

/* ---- the core's hooks (called with the core's lock held) ---- */

static bool in_request(void *ctx)
{
	struct dtf_api *a = ctx;

	return a->http && dtf_http_server_in_loop(a->http);
}

static void committed(void *ctx, int rc, const char *why)
{
	struct dtf_api *a = ctx;
	size_t i;

	for (i = 0; i < a->nheld; i++) {
		struct dtf_http_req *r = a->held[i];
		if (rc)
			dtf_http_reply_error(r, 503, "store_error",
					     "the change could not be committed: %s", why);
		dtf_http_release(r);
	}
	a->nheld = 0;
}

static void lease_done(void *ctx, void *waiter, json_t *reply, json_t *tasks, int err,
		       const char *kind, const char *msg)
{
	struct dtf_http_req *r = waiter;

	(void)ctx;
	if (reply) {
		/* Kept to be given back should the reply not reach the worker (on_done). */
		r->app_state = json_incref(tasks);
		dtf_http_reply_json(r, 200, reply);
	} else {
		dtf_http_reply_error(r, api_status(err), kind, "%s", msg);
	}
	dtf_http_resume(r);
}

static void summary_done(void *ctx, void *token, json_t *summary, int err, const char *kind,
			 const char *msg)
{
	struct dtf_http_req *r = token;

	(void)ctx;
	if (summary)
		dtf_http_reply_json(r, 200, summary);
	else
		dtf_http_reply_error(r, api_status(err), kind, "%s", msg);
	dtf_http_resume(r);
}

/* ---- the server's hooks ---- */

/* Asked before each reply is sent: one whose change waits for the group commit is held. */
static bool hold(struct dtf_http_req *r)
{
	struct dtf_api *a = r->app;
	struct coord *c = a->c;
	bool held = false;

	pthread_mutex_lock(&c->lock);
	if (txn_pending(c)) {
		if (a->nheld == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 64;
			struct dtf_http_req **n = realloc(a->held, cap * sizeof(*n));
			if (!n) {
				/* Cannot wait for the group: commit it now instead. */
				txn_flush(c);
				pthread_mutex_unlock(&c->lock);
				return false;
			}
			a->held = n;
			a->cap = cap;
		}
		dtf_http_hold(r);
		a->held[a->nheld++] = r;
		held = true;
	}
	pthread_mutex_unlock(&c->lock);
	return held;
}

/* After each pass over the ready connections: the group commit, then the summaries it ended. */
static void after_run(void *app)
{
	struct dtf_api *a = app;
	struct coord *c = a->c;

	pthread_mutex_lock(&c->lock);
	if (txn_pending(c) || a->nheld)
		txn_flush(c);
	if (c->run_waiters)
		core_summary_check(c, false);
	pthread_mutex_unlock(&c->lock);
}

/* A request is done. A lease reply that did not reach its worker gives its tasks back at once;
 * a suspended request whose connection is gone is forgotten. */
static void on_done(struct dtf_http_req *r, bool ok)
{
	struct coord *c = api_core(r);
	json_t *tasks = r->app_state;

	if (!tasks && !r->suspend_requested)
		return;
	pthread_mutex_lock(&c->lock);
	/* Only a suspended request can be a worker's waiter or a waiting summary. */
	if (r->suspend_requested) {
		lease_forget(c, r);
		if (c->run_waiters)
			core_summary_forget(c, r);
	}
	if (tasks && !ok)
		lease_undelivered(c, tasks);
	pthread_mutex_unlock(&c->lock);
	json_decref(tasks);
	r->app_state = NULL;
}

/* api_routes and then every table of extra in one zero-terminated table, or NULL. */
static struct dtf_http_route *join_routes(const struct dtf_http_route *const *extra)
{
	const struct dtf_http_route *const *t;
	struct dtf_http_route *all;
	size_t n = 0, i;

	for (i = 0; api_routes[i].method; i++)
		n++;
	for (t = extra; t && *t; t++)
		for (i = 0; (*t)[i].method; i++)
			n++;
	all = calloc(n + 1, sizeof(*all));
	if (!all)
		return NULL;
	n = 0;
	for (i = 0; api_routes[i].method; i++)
		all[n++] = api_routes[i];
	for (t = extra; t && *t; t++)
		for (i = 0; (*t)[i].method; i++)
			all[n++] = (*t)[i];
	return all;
}

struct dtf_api *dtf_api_start(struct coord *c, const struct dtf_http_route *const *extra, char *err,
			      size_t errlen)
{
	struct dtf_api *a = calloc(1, sizeof(*a));
	struct dtf_http_config hc;

	if (a)
		a->routes = join_routes(extra);
	if (!a || !a->routes) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->c = c;
	pthread_mutex_lock(&c->lock);
	c->fe.ctx = a;
	c->fe.in_request = in_request;
	c->fe.committed = committed;
	c->fe.lease_done = lease_done;
	c->fe.summary_done = summary_done;
	pthread_mutex_unlock(&c->lock);
	memset(&hc, 0, sizeof(hc));
	hc.host = c->cfg.host;
	hc.port = c->cfg.port;
	hc.routes = a->routes;
	hc.app = a;
	hc.api_keys = c->cfg.api_keys;
	hc.on_done = on_done;
	hc.tls_cert = c->cfg.tls_cert;
	hc.tls_key = c->cfg.tls_key;
	hc.hold = hold;
	hc.after_run = after_run;
	a->http = dtf_http_server_start(&hc, err, errlen);
	if (!a->http) {
		dtf_api_stop(a);
		return NULL;
	}
	return a;
}

unsigned dtf_api_port(const struct dtf_api *a)
{
	return dtf_http_server_port(a->http);
}

void dtf_api_stop(struct dtf_api *a)
{
	struct coord *c;

	if (!a)
		return;
	c = a->c;
	if (a->http) {
		pthread_mutex_lock(&c->lock);
		core_end_waiting(c);
		pthread_mutex_unlock(&c->lock);
		dtf_events_close(c->events);
		dtf_http_server_stop(a->http);
	}
	pthread_mutex_lock(&c->lock);
	memset(&c->fe, 0, sizeof(c->fe));
	pthread_mutex_unlock(&c->lock);
	free(a->held);
	free(a->routes);
	free(a);
}
