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
#include "common/token.h"
#include "common/util.h"
#include "core/model.h"

#define MAX_LEASE_WAIT_S 60.0
#define TOKEN_ISS	 "dtf-coordinator"
#define TOKEN_AUD	 "dtf-worker"

void core_auth_setup(struct coord *c, const unsigned char *key, size_t keylen, double ttl_s)
{
	memset(c->auth.key, 0, sizeof(c->auth.key));
	memcpy(c->auth.key, key, keylen < sizeof(c->auth.key) ? keylen : sizeof(c->auth.key));
	c->auth.ttl_s = ttl_s >= 1 ? ttl_s : 900;
	if (!c->auth.revoked)
		c->auth.revoked = json_object();
	/* Revocations outlive a restart: the worker's stored document says so. */
	{
		size_t pos = 0;
		const char *k;
		void *v;
		while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0)
			if (dtf_json_bool(((struct cworker *)v)->doc, "revoked", false))
				json_object_set_new(c->auth.revoked, k, json_true());
	}
	c->auth.on = true;
}

/* A new token for w (its registration's sid), into out. */
static int issue_token(struct coord *c, struct cworker *w, char *out, size_t outlen)
{
	int64_t now = dtf_wall_ms() / 1000;
	int rc = dtf_token_issue(c->auth.key, sizeof(c->auth.key), TOKEN_ISS, TOKEN_AUD, w->id,
				 w->token, now, (int64_t)c->auth.ttl_s, out, outlen);

	if (!rc) {
		c->auth.issued++;
		w->token_exp = now + (int64_t)c->auth.ttl_s;
	}
	return rc;
}

/* Checks a worker's JWT: signed by us, current, for worker id and its current registration. */
static bool token_ok(struct coord *c, struct cworker *w, const char *id, const char *token,
		     struct core_err *e)
{
	struct dtf_token_claims cl;
	const char *why = "";
	char msg[160];

	if (dtf_token_verify(c->auth.key, sizeof(c->auth.key), token, TOKEN_ISS, TOKEN_AUD,
			     dtf_wall_ms() / 1000, &cl, &why, msg, sizeof(msg))) {
		core_fail(e, DTF_EAUTH, "bad_worker_token", "%s: %s", why, msg);
		goto refused;
	}
	if (strcmp(cl.sub, id) != 0) {
		core_fail(e, DTF_EAUTH, "bad_worker_token",
			  "wrong_worker: the token is for worker '%s', not '%s'", cl.sub, id);
		goto refused;
	}
	if (json_object_get(c->auth.revoked, id)) {
		core_fail(e, DTF_EAUTH, "bad_worker_token",
			  "revoked: worker '%s' was revoked by an admin", id);
		goto refused;
	}
	if (!w || strcmp(cl.sid, w->token) != 0) {
		core_fail(e, DTF_EAUTH, "bad_worker_token",
			  "superseded: the token belongs to an earlier registration of '%s'", id);
		goto refused;
	}
	w->token_exp = cl.exp;
	return true;
refused:
	c->auth.refused++;
	return false;
}

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
	if (c->auth.on) {
		if (!token_ok(c, w, id, token, e))
			return NULL;
	} else if (w->token[0] && !dtf_secret_eq(token, w->token)) {
		/* In constant time: the comparison must not tell how much of a guessed token
		 * matched. */
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

int core_worker_register(struct coord *c, const char *proto, const char *credential, bool replace,
			 json_t *body, json_t **reply, struct core_err *e)
{
	json_t *doc, *caps, *running;
	const char *wid;
	int rc = 0;
	char id[72], token[48], ts[32], err[256], jwt[DTF_TOKEN_MAX + 1];
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
	if (c->auth.on && !replace) {
		struct cworker *old = dtf_hmap_get(&c->workers, id);
		struct core_err te;
		if (json_object_get(c->auth.revoked, id)) {
			log_warn("registration of revoked worker %s refused", id);
			c->auth.takeovers++;
			rc = core_fail(e, DTF_EDENIED, "worker_revoked",
				       "worker '%s' was revoked; an admin may replace it "
				       "(\"replace\": true)",
				       id);
			goto out;
		}
		/* A live worker's identity goes only to whoever holds its current token: else
		 * anyone with an enrollment key could take over its tasks and post their results.
		 */
		if (old && old->status != WS_LOST && !token_ok(c, old, id, credential, &te)) {
			log_warn("registration of live worker %s refused: %s", id, te.msg);
			c->auth.takeovers++;
			rc = core_fail(e, DTF_ESTALE, "worker_live",
				       "worker '%s' is registered and alive; registering it again "
				       "needs its current token (%s), or an admin's replacement",
				       id, te.msg);
			goto out;
		}
	}
	if (replace && json_object_get(c->auth.revoked, id)) {
		log_warn("worker %s replaced by an admin", id);
		json_object_del(c->auth.revoked, id);
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
	if (c->auth.on && issue_token(c, w, jwt, sizeof(jwt)) != 0) {
		rc = core_fail(e, DTF_ENOMEM, "internal", "cannot issue the worker's token");
		goto out;
	}
	*reply =
	    json_pack("{s:s,s:s,s:f,s:f,s:i}", "worker_id", id, "token", c->auth.on ? jwt : token,
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
		/* Free memory and utilization per GPU (docs/gpu.md): more free memory may let a
		 * pending task fit. */
		if (json_is_array(json_object_get(body, "gpus")) &&
		    json_array_size(json_object_get(body, "gpus")) <= 64 &&
		    gpus_heartbeat(w, json_object_get(body, "gpus")))
			lease_wake(c);
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
		if (c->auth.on) {
			/* Renewed before it expires: once half its lifetime is gone. */
			int64_t left = w->token_exp - dtf_wall_ms() / 1000;
			char jwt[DTF_TOKEN_MAX + 1];
			if (left <= ((int64_t)c->auth.ttl_s + 1) / 2 &&
			    issue_token(c, w, jwt, sizeof(jwt)) == 0) {
				json_object_set_new(reply, "token", json_string(jwt));
				json_object_set_new(reply, "token_expires_in_s",
						    json_integer((json_int_t)c->auth.ttl_s));
			}
		}
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

int core_worker_revoke(struct coord *c, const char *id, json_t **reply, struct core_err *e)
{
	struct cworker *w = dtf_hmap_get(&c->workers, id);
	size_t pos = 0;
	const char *k;
	void *v;

	*reply = NULL;
	if (!w)
		return core_fail(e, DTF_ENOTFOUND, "worker_not_found", "no worker '%s'", id);
	if (!c->auth.revoked)
		c->auth.revoked = json_object();
	json_object_set_new(c->auth.revoked, id, json_true());
	/* Its tokens name this registration: a new secret makes every one of them stale. */
	dtf_id_new("", w->token, sizeof(w->token));
	json_object_set_new(w->doc, "token", json_string(w->token));
	json_object_set_new(w->doc, "revoked", json_true());
	if (txn_begin(c))
		return store_error(e);
	while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
		struct ctask *t = v;
		if ((t->status == TS_ASSIGNED || t->status == TS_RUNNING) &&
		    strcmp(t->worker_id, id) == 0)
			state_requeue(c, t, "worker_lost", "its worker was revoked", RQ_INFRA);
	}
	lease_end(c, w, 0, NULL, NULL);
	w->status = WS_LOST;
	state_worker_sync(w);
	if (state_save_worker(c, w) || txn_commit(c))
		return store_error(e);
	state_publish_worker(c, w);
	log_warn("worker %s revoked: its tokens are refused from now on", id);
	*reply = state_worker_view(w);
	json_object_set_new(*reply, "revoked", json_true());
	lease_wake(c);
	return 0;
}
