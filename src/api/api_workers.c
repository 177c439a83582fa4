/* api_workers.c: the REST API's workers: registration, heartbeats and the long-poll lease
 * (workers), and the worker list and views (clients). Quarantine is in api_recovery.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/err.h"
#include "common/json.h"
#include "core/model.h"

void api_h_worker_register(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *body = api_body_json(r), *reply;
	struct core_err e;

	if (!body)
		return;
	pthread_mutex_lock(&c->lock);
	if (core_worker_register(c, dtf_http_header(r, "X-DTF-Protocol"), body, &reply, &e))
		api_reply_err(r, &e);
	else
		dtf_http_reply_json(r, 201, reply);
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

void api_h_worker_heartbeat(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *body = r->body_len ? api_body_json(r) : json_object();
	struct cworker *w;

	if (!body)
		return;
	pthread_mutex_lock(&c->lock);
	w = api_worker(r, r->param[0], body);
	if (w)
		dtf_http_reply_json(r, 200, core_worker_heartbeat(c, w, body));
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

/* Long-poll lease: answered at once with tasks (or results acknowledged), else suspended until
 * the core has tasks for the worker or its wait ends (api.c's lease_done answers it then). */
void api_h_worker_lease(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *body = api_body_json(r), *reply, *leased;
	struct core_err e;

	if (!body)
		return;
	pthread_mutex_lock(&c->lock);
	if (core_worker_lease(c, r->param[0], dtf_http_header(r, "X-DTF-Protocol"),
			      dtf_http_header(r, "X-DTF-Worker-Token"), body, r, &reply, &leased,
			      &e)) {
		api_reply_err(r, &e);
	} else if (!reply) {
		dtf_http_suspend(r);
	} else {
		r->app_state = leased;
		dtf_http_reply_json(r, 200, reply);
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

void api_h_workers_list(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *list;

	pthread_mutex_lock(&c->lock);
	list = core_workers_list(c);
	pthread_mutex_unlock(&c->lock);
	dtf_http_reply_json(r, 200, list);
}

/* GET /api/v1/browsers: the workers' browser pools (docs/browsers.md). */
void api_h_browsers_list(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *list;

	pthread_mutex_lock(&c->lock);
	list = core_browsers_list(c);
	pthread_mutex_unlock(&c->lock);
	dtf_http_reply_json(r, 200, json_pack("{s:o}", "browsers", list));
}

void api_h_worker_get(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct core_err e;
	json_t *view;

	pthread_mutex_lock(&c->lock);
	view = core_worker_get(c, r->param[0], &e);
	if (view)
		dtf_http_reply_json(r, 200, view);
	else
		api_reply_err(r, &e);
	pthread_mutex_unlock(&c->lock);
}
