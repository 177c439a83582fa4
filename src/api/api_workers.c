/* api_workers.c: the REST API's workers: registration, heartbeats and the long-poll lease
 * (workers), and the worker list and views (clients). Quarantine is in api_recovery.c. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/err.h"
#include "common/json.h"
#include "core/model.h"

/* An enrollment key's limits (docs/auth.md): the worker ids it may register and the labels
 * they must carry. false after a 403. */
static bool enroll_limits_ok(struct dtf_http_req *r, const json_t *body)
{
	const char *id = dtf_json_str(body, "worker_id", NULL);
	char labels[sizeof(r->key.labels)], *item, *save = NULL;

	if (r->key.worker_pattern[0] && (!id || fnmatch(r->key.worker_pattern, id, 0) != 0)) {
		dtf_http_reply_error(r, 403, "forbidden",
				     "key '%s' may register workers whose id matches '%s' only",
				     r->key.name, r->key.worker_pattern);
		return false;
	}
	snprintf(labels, sizeof(labels), "%s", r->key.labels);
	for (item = strtok_r(labels, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		const char *have;
		if (!eq)
			continue;
		*eq = '\0';
		have = dtf_json_str(json_object_get(body, "labels"), item, NULL);
		if (!have || strcmp(have, eq + 1) != 0) {
			dtf_http_reply_error(r, 403, "forbidden",
					     "key '%s' may register workers labelled %s=%s only",
					     r->key.name, item, eq + 1);
			return false;
		}
	}
	return true;
}

void api_h_worker_register(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *body = api_body_json(r), *reply;
	struct core_err e;

	if (!body)
		return;
	if (!enroll_limits_ok(r, body)) {
		json_decref(body);
		return;
	}
	pthread_mutex_lock(&c->lock);
	/* Replacing a live or revoked worker is an admin's explicit act. */
	if (core_worker_register(
		c, dtf_http_header(r, "X-DTF-Protocol"), dtf_http_header(r, "X-DTF-Worker-Token"),
		api_role(r) == DTF_ROLE_ADMIN && dtf_json_bool(body, "replace", false), body,
		&reply, &e))
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
	if (api_project(r))
		json_object_set_new(list, "blocked_hardware",
				    core_blocked_hardware(c, api_project(r)));
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
