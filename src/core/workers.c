/* workers.c: workers as the core sees them: their credentials, registration (and registration
 * again after a restart), heartbeats, and the lease, where a worker reports results and asks for
 * work in one call, and waits (suspended) when there is none. */
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

#define MAX_LEASE_WAIT_S 60.0

static int store_error(struct core_err *e)
{
	return core_fail(e, DTF_ESTORE, "store_error",
			 "the change could not be committed; nothing was stored");
}

struct cworker *core_worker_auth(struct coord *c, const char *id, const char *proto,
				 const char *token, const json_t *body, struct core_err *e)
{
	long long bp = dtf_json_int(body, "protocol", DTF_PROTOCOL_VERSION);
	struct cworker *w;

	if ((proto && atoi(proto) != DTF_PROTOCOL_VERSION) || bp != DTF_PROTOCOL_VERSION) {
		core_fail(e, DTF_EPROTO, "protocol_mismatch",
			  "this coordinator speaks protocol %d; the worker sent %s",
			  DTF_PROTOCOL_VERSION, proto ? proto : "another version");
		return NULL;
	}
	w = dtf_hmap_get(&c->workers, id);
	if (!w) {
		core_fail(e, DTF_ENOTFOUND, "worker_not_found",
			  "no worker '%s' is registered; register first", id);
		return NULL;
	}
	if (w->token[0] && (!token || strcmp(token, w->token) != 0)) {
		core_fail(e, DTF_EAUTH, "bad_worker_token",
			  "the worker token does not match worker '%s'", id);
		return NULL;
	}
	if (w->status == WS_LOST) {
		core_fail(e, DTF_ESTATE, "worker_lost",
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

int core_worker_register(struct coord *c, const char *proto, json_t *body, json_t **reply,
			 struct core_err *e)
{
	json_t *doc, *caps, *running;
	const char *wid;
	int rc = 0;
	char id[72], token[48], ts[32], err[256];
	struct cworker *w;
	size_t pos = 0;
	const char *k;
	void *v;
	bool was_lost = false;

	*reply = NULL;
	if (!json_is_object(body)) {
		rc = core_fail(e, DTF_EINVAL, "invalid_worker", "registration must be an object");
		goto out;
	}
	if ((proto && atoi(proto) != DTF_PROTOCOL_VERSION) ||
	    dtf_json_int(body, "protocol", DTF_PROTOCOL_VERSION) != DTF_PROTOCOL_VERSION) {
		rc = core_fail(e, DTF_EPROTO, "protocol_mismatch",
			       "this coordinator speaks protocol %d", DTF_PROTOCOL_VERSION);
		goto out;
	}
	caps = json_object_get(body, "capabilities");
	if (caps && !json_is_object(caps)) {
		rc = core_fail(e, DTF_EINVAL, "invalid_worker", "'capabilities' must be an object");
		goto out;
	}
	if (json_object_get(body, "slots") &&
	    (!json_is_integer(json_object_get(body, "slots")) ||
	     dtf_json_int(body, "slots", 1) < 1 || dtf_json_int(body, "slots", 1) > 4096)) {
		rc = core_fail(e, DTF_EINVAL, "invalid_worker", "'slots' must be 1..4096");
		goto out;
	}
	if (json_object_get(body, "labels") &&
	    !constraints_labels_ok(json_object_get(body, "labels"), err, sizeof(err))) {
		rc = core_fail(e, DTF_EINVAL, "invalid_worker", "%s", err);
		goto out;
	}
	wid = dtf_json_str(body, "worker_id", NULL);
	if (wid && !dtf_valid_id(wid)) {
		rc = core_fail(e, DTF_EINVAL, "invalid_worker",
			       "'worker_id' must be 1-64 characters of [A-Za-z0-9._-]");
		goto out;
	}
	if (wid)
		snprintf(id, sizeof(id), "%s", wid);
	else
		dtf_id_new("w-", id, sizeof(id));
	if (!allowed_worker(c, id)) {
		rc = core_fail(e, DTF_EDENIED, "worker_not_allowed",
			       "worker '%s' is not listed in the configuration (start the "
			       "coordinator with --worker-auto-discovery to accept any)",
			       id);
		goto out;
	}
	dtf_id_new("", token, sizeof(token));
	dtf_rfc3339(dtf_wall_ms(), ts);
	doc = json_pack("{s:s,s:s,s:o,s:o,s:i,s:s,s:s}", "id", id, "hostname",
			dtf_json_str(body, "hostname", ""), "capabilities",
			caps ? json_deep_copy(caps) : json_object(), "labels",
			json_is_object(json_object_get(body, "labels"))
			    ? json_deep_copy(json_object_get(body, "labels"))
			    : json_object(),
			"slots", (int)dtf_json_int(body, "slots", 1), "token", token,
			"registered_at", ts);
	if (json_is_array(json_object_get(body, "task_types")))
		json_object_set(doc, "task_types", json_object_get(body, "task_types"));
	if (txn_begin(c)) {
		json_decref(doc);
		rc = store_error(e);
		goto out;
	}
	/* A worker that registers again has restarted: what it no longer runs goes back. */
	running = json_object_get(body, "running");
	w = dtf_hmap_get(&c->workers, id);
	was_lost = w && w->status == WS_LOST;
	if (w) {
		while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
			struct ctask *t = v;
			size_t i;
			json_t *re;
			bool still = false;
			if ((t->status != TS_ASSIGNED && t->status != TS_RUNNING) ||
			    strcmp(t->worker_id, id) != 0)
				continue;
			json_array_foreach(running, i, re)
				if (json_is_string(re) && strcmp(json_string_value(re), t->id) == 0)
					still = true;
			if (!still)
				state_requeue(c, t, "worker_lost",
					      "the worker restarted without this task", RQ_INFRA);
		}
		lease_end(c, w, 0, NULL, NULL);
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
	if (state_save_worker(c, w) || txn_commit(c)) {
		rc = store_error(e);
		goto out;
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
	*reply =
	    json_pack("{s:s,s:s,s:f,s:f,s:i}", "worker_id", id, "token", token,
		      "heartbeat_interval_s", c->cfg.heartbeat_interval_s, "heartbeat_timeout_s",
		      c->cfg.heartbeat_timeout_s, "protocol", DTF_PROTOCOL_VERSION);
	lease_wake(c);
out:
	return rc;
}

json_t *core_worker_heartbeat(struct coord *c, struct cworker *w, const json_t *body)
{
	{
		json_t *reply = json_pack("{s:b,s:f}", "ok", 1, "heartbeat_interval_s",
					  c->cfg.heartbeat_interval_s);
		if (json_is_object(json_object_get(body, "resources")) &&
		    json_object_size(json_object_get(body, "resources")) <= 16)
			json_object_set(w->doc, "live", json_object_get(body, "resources"));
		/* The browser pool's instances and their states (docs/browsers.md). */
		if (json_is_array(json_object_get(body, "browsers")) &&
		    json_array_size(json_object_get(body, "browsers")) <= 64)
			json_object_set(w->doc, "browser_pool", json_object_get(body, "browsers"));
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
			lease_end(c, w, 0, NULL, NULL);
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
		core_worker_reconcile(c, w, json_object_get(body, "running"));
		return reply;
	}
}

/* Checks a lease request's fields (max, ahead, wait_s, results) before anything is done. */
static int lease_valid(const json_t *body, struct core_err *e)
{
	long long max = dtf_json_int(body, "max", 1), ahead = dtf_json_int(body, "ahead", 0);
	double wait_s = dtf_json_num(body, "wait_s", 0);
	json_t *results = json_object_get(body, "results");

	if (!json_is_object(body))
		return core_fail(e, DTF_EINVAL, "invalid_lease", "a lease request is an object");
	if (max < 0 || max > 4096 || ahead < 0 || ahead > 64 || wait_s < 0 ||
	    wait_s > MAX_LEASE_WAIT_S || (results && !json_is_array(results)))
		return core_fail(e, DTF_EINVAL, "invalid_lease",
				 "max must be 0..4096, ahead 0..64, wait_s 0..%.0f, results a list",
				 MAX_LEASE_WAIT_S);
	return 0;
}

/* The body may carry finished results first ("results": [...]), so a busy worker reports and
 * asks for more in one round trip. */
int core_worker_lease(struct coord *c, const char *worker_id, const char *protocol,
		      const char *credential, const json_t *body, void *token, json_t **reply,
		      json_t **leased, struct core_err *err)
{
	json_t *results, *acks = NULL, *e, *tasks;
	struct cworker *w;
	double wait_s;
	int max, ahead, rc = 0;
	size_t i;

	*reply = *leased = NULL;
	/* The request's fields first, then who sends it (a bad request is 400 whoever sent it). */
	if (lease_valid(body, err))
		return err->code;
	w = core_worker_auth(c, worker_id, protocol, credential, body, err);
	if (!w)
		return err->code;
	max = (int)dtf_json_int(body, "max", 1);
	wait_s = dtf_json_num(body, "wait_s", 0);
	ahead = (int)dtf_json_int(body, "ahead", 0);
	results = json_object_get(body, "results");
	if (txn_begin(c))
		return store_error(err);
	acks = json_array();
	json_array_foreach(results, i, e) {
		char why[512];
		const char *tid = dtf_json_str(e, "task_id", "");
		if (core_result_apply(c, w, tid, e, why, sizeof(why)))
			json_array_append_new(acks, json_pack("{s:s,s:b,s:s}", "task_id", tid,
							      "accepted", 0, "reason", why));
		else
			json_array_append_new(
			    acks, json_pack("{s:s,s:b}", "task_id", tid, "accepted", 1));
	}
	if (w->waiter && !json_array_size(results)) {
		/* A new lease replaces one the worker gave up on (a worker's results come on
		 * another connection than its long-poll, which stays). */
		lease_end(c, w, 0, NULL, NULL);
	}
	tasks = lease_tasks(c, w, max);
	lease_ahead(c, w, ahead, tasks);
	if (txn_commit(c)) {
		json_decref(tasks);
		rc = store_error(err);
		goto out;
	}
	if (json_array_size(results))
		lease_wake(c);
	if (json_array_size(tasks) == 0 && wait_s > 0 && json_array_size(acks) == 0 && max > 0) {
		json_decref(tasks);
		lease_suspend(c, w, token, max, wait_s);
		goto out;
	}
	*leased = json_incref(tasks);
	*reply = lease_reply(w, tasks);
	json_object_set(*reply, "results", acks);
out:
	json_decref(acks);
	return rc;
}

json_t *core_workers_list(struct coord *c)
{
	json_t *list = json_array(), *blocked;
	size_t pos = 0;
	const char *k;
	void *v;

	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		struct cworker *w = v;
		json_t *view;
		state_worker_sync(w);
		view = state_worker_view(w);
		json_array_append_new(list, view);
	}
	blocked = json_deep_copy(c->blocked_hw);
	return json_pack("{s:o,s:o}", "workers", list, "blocked_hardware", blocked);
}

json_t *core_worker_get(struct coord *c, const char *id, struct core_err *e)
{
	struct cworker *w = dtf_hmap_get(&c->workers, id);

	if (!w) {
		core_fail(e, DTF_ENOTFOUND, "worker_not_found", "no worker '%s'", id);
		return NULL;
	}
	state_worker_sync(w);
	return state_worker_view(w);
}
