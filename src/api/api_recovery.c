/* api_recovery.c: the admin calls of error recovery: GET /api/v1/recovery/history, POST
 * /api/v1/recovery/unblock, and POST/DELETE /api/v1/workers/{id}/quarantine; and the
 * notifications outbox, GET /api/v1/notifications. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/json.h"
#include "core/model.h"
#include "core/outbox.h"
#include "core/recovery.h"

/* The optional JSON object body (an empty body is {}); on failure replies 400, returns NULL. */
static json_t *body_object(struct dtf_http_req *r)
{
	char err[200];
	json_t *v;

	if (r->body_len == 0)
		return json_object();
	if (r->body_len > 64 * 1024) {
		dtf_http_reply_error(r, 413, "too_large", "the body is limited to 64 KiB");
		return NULL;
	}
	v = dtf_json_parse(r->body, r->body_len, err, sizeof(err));
	if (!v) {
		dtf_http_reply_error(r, 400, "malformed_json", "malformed JSON: %s", err);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		dtf_http_reply_error(r, 400, "invalid_request", "the body must be a JSON object");
		return NULL;
	}
	return v;
}

void api_h_recovery_history(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *v;

	pthread_mutex_lock(&c->lock);
	v = recovery_history_json(c);
	if (api_project(r))
		json_object_set_new(v, "blocked_hardware",
				    core_blocked_hardware(c, api_project(r)));
	pthread_mutex_unlock(&c->lock);
	dtf_http_reply_json(r, 200, v);
}

void api_h_recovery_unblock(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	json_t *body = body_object(r);
	const char *hw;

	if (!body)
		return;
	hw = dtf_json_str(body, "hardware", NULL);
	if (!hw) {
		dtf_http_reply_error(r, 400, "invalid_request",
				     "'hardware' (a string) is required");
		json_decref(body);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (!json_object_get(c->blocked_hw, hw)) {
		dtf_http_reply_error(r, 404, "not_blocked", "hardware class '%s' is not blocked",
				     hw);
	} else if (txn_begin(c) != 0) {
		dtf_http_reply_error(r, 503, "store_error", "the change could not be committed");
	} else {
		recovery_unblock(c, hw);
		if (txn_commit(c) != 0) {
			dtf_http_reply_error(r, 503, "store_error",
					     "the change could not be committed");
		} else {
			dtf_http_reply_json(r, 200,
					    json_pack("{s:s,s:O}", "unblocked", hw,
						      "blocked_hardware", c->blocked_hw));
			lease_wake(c);
		}
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

/* POST quarantines (body: {"reason"?, "duration_s"?}); DELETE lifts the quarantine. */
void api_h_worker_quarantine(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	bool lift = strcmp(r->method, "DELETE") == 0;
	json_t *body = lift ? json_object() : body_object(r);
	struct cworker *w;
	json_t *d;
	double dur;

	if (!body)
		return;
	d = json_object_get(body, "duration_s");
	if ((d && !json_is_number(d)) ||
	    (json_object_get(body, "reason") && !json_is_string(json_object_get(body, "reason")))) {
		dtf_http_reply_error(r, 400, "invalid_request",
				     "'duration_s' must be a number and 'reason' a string");
		json_decref(body);
		return;
	}
	dur = d ? json_number_value(d) : 0;
	if (d && (dur <= 0 || dur > 365.0 * 86400)) {
		dtf_http_reply_error(r, 400, "invalid_request",
				     "'duration_s' must be more than 0 and at most a year");
		json_decref(body);
		return;
	}
	pthread_mutex_lock(&c->lock);
	w = dtf_hmap_get(&c->workers, r->param[0]);
	if (!w) {
		dtf_http_reply_error(r, 404, "worker_not_found", "no worker '%s'", r->param[0]);
	} else if (txn_begin(c) != 0) {
		dtf_http_reply_error(r, 503, "store_error", "the change could not be committed");
	} else {
		if (lift)
			recovery_unquarantine(c, w, "lifted by an admin call");
		else
			recovery_quarantine(
			    c, w, dtf_json_str(body, "reason", "quarantined by an admin call"),
			    dur);
		if (txn_commit(c) != 0) {
			dtf_http_reply_error(r, 503, "store_error",
					     "the change could not be committed");
		} else {
			json_t *view;
			state_worker_sync(w);
			view = state_worker_view(w);
			dtf_http_reply_json(r, 200, view);
			lease_wake(c);
		}
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

/* GET /api/v1/notifications?state=pending|sent|dead&limit=N: the outbox, newest first. */
void api_h_notifications(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	const char *state = dtf_http_query(r, "state");
	const char *lim = dtf_http_query(r, "limit");
	long limit = lim ? strtol(lim, NULL, 10) : 100;
	json_t *v;

	if (state && strcmp(state, "pending") != 0 && strcmp(state, "sent") != 0 &&
	    strcmp(state, "dead") != 0) {
		dtf_http_reply_error(r, 400, "invalid_request",
				     "state must be pending, sent or dead");
		return;
	}
	if (limit < 1 || limit > 10000) {
		dtf_http_reply_error(r, 400, "invalid_request", "limit must be 1..10000");
		return;
	}
	pthread_mutex_lock(&c->lock);
	v = outbox_list(c, state, (size_t)limit);
	pthread_mutex_unlock(&c->lock);
	if (!v) {
		dtf_http_reply_error(r, 404, "not_configured",
				     "no notifications are configured (integrations and "
				     "notifications in the coordinator's --config)");
		return;
	}
	dtf_http_reply_json(r, 200, v);
}
