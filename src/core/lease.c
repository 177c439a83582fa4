/* lease.c: which worker may run which task, leases (the pending index and the strategies are in
 * src/sched/), batches, suspended (long-poll) leases and their wake-ups, and the reason a pending
 * task is still pending. Runs with c->lock held. A suspended lease is the front-end's token; the
 * core answers it through c->fe.lease_done and never sees the request behind it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "core/model.h"

_Static_assert(SX_PRIORITY_LEVELS == DTF_PRIORITY_LEVELS, "the index counts every priority");

static const char *const builtin_types[] = {"command", "test", "shell", "benchmark", NULL};

static bool has_str(const json_t *list, const char *s)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
			return true;
	return false;
}

static bool runs_type(const struct cworker *w, const char *type)
{
	int i;

	if (json_is_array(w->task_types))
		return has_str(w->task_types, type);
	for (i = 0; builtin_types[i]; i++)
		if (strcmp(builtin_types[i], type) == 0)
			return true;
	return false;
}

static bool hardware_ok(const struct ctask *t, const struct cworker *w)
{
	size_t i;
	json_t *e;
	bool any = json_array_size(t->hw_any) == 0;

	json_array_foreach(t->hw_any, i, e)
		if (has_str(w->hardware, json_string_value(e)))
			any = true;
	if (!any)
		return false;
	json_array_foreach(t->hw_all, i, e)
		if (!has_str(w->hardware, json_string_value(e)))
			return false;
	return true;
}

bool lease_could_run(const struct ctask *t, const struct cworker *w)
{
	if (w->status == WS_LOST)
		return false;
	if (!runs_type(w, t->type) || !hardware_ok(t, w))
		return false;
	if (t->sx.cpu > w->cpu || t->sx.memory > w->memory)
		return false;
	/* A worker with a GPU list is matched GPU by GPU (gpus.c); one that only declares GPU
	 * memory, by its total. */
	if (w->ngpus ? !gpus_could_run(t, w) : t->sx.gpu_memory > w->gpu_memory)
		return false;
	return constraints_hold(t, w, false);
}

bool lease_fits_now(const struct ctask *t, const struct cworker *w)
{
	if (w->status == WS_LOST || w->status == WS_DRAINING)
		return false;
	if (w->used_slots >= w->slots)
		return false;
	if (t->sx.cpu > 0 && w->used_cpu + t->sx.cpu > w->cpu + 1e-9)
		return false;
	if (t->sx.memory > 0 && w->used_memory + t->sx.memory > w->memory + 1e-9)
		return false;
	if (w->ngpus ? !gpus_fit_now(t, w)
		     : t->sx.gpu_memory > 0 &&
			   w->used_gpu_memory + t->sx.gpu_memory > w->gpu_memory + 1e-9)
		return false;
	return lease_could_run(t, w) && constraints_hold_now(t, w);
}

/* ---- the index's view of the core (src/sched/ sees tasks and workers only through
 * struct sx_task and struct sx_worker, and asks these) ---- */

static bool op_fits(void *ctx, const struct sx_task *t, const struct sx_worker *w)
{
	(void)ctx;
	return lease_fits_now(ctask_of(t), cworker_of(w));
}

static bool op_allows(void *ctx, const struct sx_task *t, const struct sx_worker *w)
{
	return recovery_allows(ctx, ctask_of(t), cworker_of(w));
}

static bool op_waiting(void *ctx, const struct sx_worker *w)
{
	(void)ctx;
	return cworker_of(w)->waiter != NULL;
}

static bool op_persistent(void *ctx)
{
	struct coord *c = ctx;

	return c->store && c->store->ops->put_duration;
}

static int op_put_duration(void *ctx, const char *name, const char *hw, double mean_s, int64_t n)
{
	struct coord *c = ctx;

	return c->store->ops->put_duration(c->store, name, hw, mean_s, n);
}

static const struct sx_ops coord_sx_ops = {
    .fits = op_fits,
    .allows = op_allows,
    .waiting = op_waiting,
    .persistent = op_persistent,
    .put_duration = op_put_duration,
};

static int load_hist_cb(void *arg, const char *name, const char *hw, double mean_s, int64_t n)
{
	sx_history_set(arg, name, hw, mean_s, n);
	return 0;
}

int lease_index_init(struct coord *c, const json_t *section, const char *strategy, char *err,
		     size_t errlen)
{
	if (!c->sx) {
		c->sx = sx_new(&coord_sx_ops, c);
		if (!c->sx) {
			if (err)
				snprintf(err, errlen, "out of memory");
			return DTF_ENOMEM;
		}
		if (c->store && c->store->ops->load_durations &&
		    c->store->ops->load_durations(c->store, load_hist_cb, c->sx) != 0)
			log_warn("scheduler: cannot load the duration history: %s",
				 c->store->error);
	}
	return sx_configure(c->sx, section, c->cfg.default_constraints, strategy, err, errlen);
}

struct sx *lease_index(struct coord *c)
{
	if (!c->sx)
		lease_index_init(c, NULL, NULL, NULL, 0);
	return c->sx;
}

void lease_index_task(struct coord *c, struct ctask *t)
{
	t->sx.run_id = t->run_id;
	sx_task_set(lease_index(c), &t->sx, task_doc(t), t->strs, t->room);
}

void lease_deadline_check(struct coord *c, struct ctask *t)
{
	json_t *doc, *was;
	bool risk;

	if (!t->sx.deadline_ms)
		return;
	risk = sx_deadline_check(c->sx, &t->sx);
	doc = task_doc(t);
	was = json_object_get(doc, "deadline_at_risk");
	if (!was || json_is_true(was) != risk)
		json_object_set_new(doc, "deadline_at_risk", json_boolean(risk));
}

const char *lease_worker_hw(const struct cworker *w)
{
	json_t *first = json_array_get(w->hardware, 0);

	return json_is_string(first) ? json_string_value(first) : NULL;
}

/* What resource-aware's best fit reads of the worker, as it is now. */
static struct sx_worker *worker_view(struct cworker *w)
{
	w->sx.id = w->id;
	w->sx.slots = w->slots;
	w->sx.used_slots = w->used_slots;
	w->sx.cpu = w->cpu;
	w->sx.used_cpu = w->used_cpu;
	w->sx.memory = w->memory;
	w->sx.used_memory = w->used_memory;
	w->sx.gpu_memory = w->gpu_memory;
	w->sx.used_gpu_memory = w->used_gpu_memory;
	return &w->sx;
}

/* ---- leases ---- */

static void assign(struct coord *c, struct ctask *t, struct cworker *w)
{
	char ts[32];

	t->assigned_ms = sx_now_ms(c->sx);
	t->attempt++;
	snprintf(t->worker_id, sizeof(t->worker_id), "%s", w->id);
	state_set_status(c, t, TS_ASSIGNED);
	json_object_set_new(task_doc(t), "attempt", json_integer(t->attempt));
	json_object_set_new(task_doc(t), "worker_id", json_string(w->id));
	dtf_rfc3339(dtf_wall_ms(), ts);
	json_object_set_new(task_doc(t), "assigned_at", json_string(ts));
	json_object_del(task_doc(t), "pending_reason");
	json_object_del(task_doc(t), "batch_id");
	json_object_del(task_doc(t), "started_at");
	json_object_del(task_doc(t), "finished_at");
	json_object_del(task_doc(t), "slot");
	w->used_slots++;
	w->used_cpu += t->sx.cpu;
	w->used_memory += t->sx.memory;
	w->used_gpu_memory += t->sx.gpu_memory;
	w->active++;
	gpus_take(w, t);
	lease_deadline_check(c, t);
	sx_assigned(c->sx, &t->sx);
	state_save_task(c, t);
}

/* Leases t's batch mates (same signature and batch_key) to w after t, while they fit and the
 * lease has room; marks the batch in every member's document. Returns how many it added. */
static int lease_batch(struct coord *c, struct cworker *w, struct ctask *t, struct sx_task **mates,
		       size_t nmates, int room, json_t *out)
{
	bool took[SX_MAX_BATCH] = {false};
	char id[48];
	size_t i;
	int n = 0;

	for (i = 0; i < nmates && n < room; i++) {
		struct ctask *m = ctask_of(mates[i]);
		if (m->status != TS_PENDING || !lease_fits_now(m, w) || !recovery_allows(c, m, w))
			continue;
		assign(c, m, w);
		json_array_append(out, task_doc(m));
		took[i] = true;
		n++;
	}
	if (n == 0)
		return 0;
	/* The documents in out are the tasks' own: the id shows in the reply too. */
	snprintf(id, sizeof(id), "b-%s", t->id);
	json_object_set_new(task_doc(t), "batch_id", json_string(id));
	state_save_task(c, t);
	for (i = 0; i < nmates; i++)
		if (took[i]) {
			struct ctask *m = ctask_of(mates[i]);
			json_object_set_new(task_doc(m), "batch_id", json_string(id));
			state_save_task(c, m);
		}
	sx_count_batch(c->sx, (size_t)n + 1);
	return n;
}

/* Leases in the order a scheduler plugin chooses among the best candidates. */
static int lease_plugin(struct coord *c, struct cworker *w, int max, int64_t now, json_t *out)
{
	struct sx_task *cands[SX_PLUGIN_CANDIDATES];
	size_t order[SX_PLUGIN_CANDIDATES], n, i;
	json_t *arr, *wv;
	char *tasks_json, *worker_json;
	int k, got = 0;

	n = sx_candidates(c->sx, worker_view(w), now, cands, SX_PLUGIN_CANDIDATES);
	if (!n)
		return 0;
	/* The plugin sees the candidates' documents and the worker's (without its token). */
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append(arr, task_doc(ctask_of(cands[i])));
	state_worker_sync(w);
	wv = json_copy(w->doc);
	json_object_del(wv, "token");
	tasks_json = json_dumps(arr, JSON_COMPACT);
	worker_json = json_dumps(wv, JSON_COMPACT);
	json_decref(arr);
	json_decref(wv);
	k = tasks_json && worker_json
		? sx_plugin_order(c->sx, c->plugins, worker_json, tasks_json, n, order)
		: DTF_ENOMEM;
	free(tasks_json);
	free(worker_json);
	if (k < 0) {
		/* The plugin failed: keep the candidates' priority order. */
		for (i = 0; i < n; i++)
			order[i] = i;
		k = (int)n;
	}
	for (i = 0; i < (size_t)k && got < max; i++) {
		struct ctask *t = ctask_of(cands[order[i]]);
		if (t->status != TS_PENDING || !lease_fits_now(t, w) || !recovery_allows(c, t, w))
			continue;
		assign(c, t, w);
		json_array_append(out, task_doc(t));
		got++;
	}
	return got;
}

json_t *lease_tasks(struct coord *c, struct cworker *w, int max)
{
	json_t *out = json_array();
	int64_t now = sx_now_ms(c->sx);
	int n = 0;
	bool batching = c->cfg.batch_processing && c->cfg.batch_size_limit > 1;

	if (max < 1 || w->status == WS_LOST || w->status == WS_DRAINING || w->quarantined)
		return out;
	if (sx_is_plugin(c->sx)) {
		n = lease_plugin(c, w, max, now, out);
		max = 0;
	}
	while (n < max && w->used_slots < w->slots) {
		struct sx_task *mates[SX_MAX_BATCH];
		size_t nmates = 0;
		struct sx_task *picked = sx_pick(c->sx, worker_view(w), now);
		struct ctask *t;
		if (!picked)
			break;
		t = ctask_of(picked);
		if (batching) {
			size_t lim = (size_t)c->cfg.batch_size_limit - 1;
			nmates = sx_batch_mates(c->sx, picked, now, mates,
						lim < SX_MAX_BATCH ? lim : SX_MAX_BATCH);
		}
		assign(c, t, w);
		json_array_append(out, task_doc(t));
		n++;
		if (nmates)
			n += lease_batch(c, w, t, mates, nmates, max - n, out);
	}
	if (n) {
		c->m_leases++;
		c->m_leased_tasks += (uint64_t)n;
	}
	return out;
}

int lease_ahead(struct coord *c, struct cworker *w, int ahead, json_t *out)
{
	size_t i, nw, waited = 0;
	struct sx_worker **ws;
	json_t *more, *e;
	int n, slots;

	if (ahead < 1 || c->pending_count == 0 || w->used_slots < w->slots)
		return 0;
	/* A task queued here must not keep an idle worker idle: what the waiting workers ask for
	 * stays pending for them. */
	ws = sx_waiting(c->sx, &nw);
	for (i = 0; i < nw; i++)
		if (ws[i] != &w->sx && cworker_of(ws[i])->waiter)
			waited += (size_t)cworker_of(ws[i])->waiter_max;
	if (c->pending_count <= waited)
		return 0;
	if ((size_t)ahead > c->pending_count - waited)
		ahead = (int)(c->pending_count - waited);
	/* At most one queued task per slot, whatever the worker asks. */
	if (ahead > 2 * w->slots - w->used_slots)
		ahead = 2 * w->slots - w->used_slots;
	if (ahead < 1)
		return 0;
	slots = w->slots;
	w->slots = w->used_slots + ahead;
	more = lease_tasks(c, w, ahead);
	w->slots = slots;
	n = (int)json_array_size(more);
	c->m_leased_ahead += (uint64_t)n;
	json_array_foreach(more, i, e)
		json_array_append(out, e);
	json_decref(more);
	return n;
}

/* Builds the reply to a lease: tasks, plus the ids the worker must cancel. */
json_t *lease_reply(struct cworker *w, json_t *tasks)
{
	json_t *reply = json_pack("{s:o}", "tasks", tasks);

	if (json_array_size(w->cancel)) {
		json_object_set_new(reply, "cancel", json_copy(w->cancel));
		json_array_clear(w->cancel);
	}
	if (w->restart_executor) {
		json_object_set_new(reply, "restart_executor", json_true());
		w->restart_executor = false;
	}
	return reply;
}

/* Answers w's suspended lease with reply (owned) or an error; the front-end keeps tasks. */
static void answer(struct coord *c, struct cworker *w, json_t *reply, json_t *tasks, int err,
		   const char *kind, const char *msg)
{
	void *token = w->waiter;

	w->waiter = NULL;
	if (c->fe.lease_done)
		c->fe.lease_done(c->fe.ctx, token, reply, tasks, err, kind, msg);
	else
		json_decref(reply);
}

void lease_wake(struct coord *c)
{
	size_t i, nw;
	struct sx_worker **ws;
	bool began = false;

	if (c->pending_count == 0)
		return;
	/* Only workers with a suspended lease: the list the lease handler keeps, not all. */
	ws = sx_waiting(c->sx, &nw);
	for (i = 0; i < nw; i++) {
		struct cworker *w = cworker_of(ws[i]);
		json_t *tasks;
		if (!w->waiter)
			continue;
		if (!began) {
			if (txn_begin(c) != 0)
				return;
			began = true;
		}
		tasks = lease_tasks(c, w, w->waiter_max);
		if (json_array_size(tasks) == 0) {
			json_decref(tasks);
			continue;
		}
		/* The reply goes out once the assignment is durable: commit before answering. */
		if (txn_commit(c) == 0) {
			began = false;
			answer(c, w, lease_reply(w, json_incref(tasks)), tasks, 0, NULL, NULL);
			json_decref(tasks);
		} else {
			size_t j;
			json_t *e;
			began = false;
			/* The store kept them pending: undo the assignment in memory too. */
			json_array_foreach(tasks, j, e) {
				struct ctask *t =
				    dtf_hmap_get(&c->tasks, dtf_json_str(e, "id", ""));
				if (t && t->status == TS_ASSIGNED) {
					state_release(c, t);
					t->attempt--;
					json_object_set_new(task_doc(t), "attempt",
							    json_integer(t->attempt));
					state_set_status(c, t, TS_PENDING);
				}
			}
			json_decref(tasks);
			answer(c, w, NULL, NULL, DTF_ESTORE, "store_error",
			       "could not record the lease");
		}
		if (c->pending_count == 0)
			break;
	}
	if (began)
		txn_commit(c);
}

void lease_suspend(struct coord *c, struct cworker *w, void *token, int max, double wait_s)
{
	w->waiter = token;
	/* The tick ends the wait through this list (lease_index: the one index, made if none). */
	sx_waiting_add(lease_index(c), &w->sx);
	w->waiter_max = max;
	w->waiter_deadline_ms = dtf_mono_ms() + (int64_t)(wait_s * 1000);
}

void lease_end(struct coord *c, struct cworker *w, int err, const char *kind, const char *msg)
{
	if (!w->waiter)
		return;
	if (err)
		answer(c, w, NULL, NULL, err, kind, msg);
	else
		answer(c, w, lease_reply(w, json_array()), NULL, 0, NULL, NULL);
}

void lease_forget(struct coord *c, void *token)
{
	size_t pos = 0;
	const char *k;
	void *v;

	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0)
		if (((struct cworker *)v)->waiter == token)
			((struct cworker *)v)->waiter = NULL;
}

void lease_undelivered(struct coord *c, const json_t *tasks)
{
	size_t i;
	json_t *e;

	if (!json_array_size(tasks) || txn_begin(c) != 0)
		return;
	json_array_foreach(tasks, i, e) {
		struct ctask *t = dtf_hmap_get(&c->tasks, dtf_json_str(e, "id", ""));
		if (t && t->status == TS_ASSIGNED)
			state_requeue(c, t, "lease_undelivered",
				      "the lease reply did not reach the worker", RQ_FREE);
	}
	txn_commit(c);
	lease_wake(c);
}

void lease_task_passed(struct coord *c, struct ctask *t, struct cworker *w, const json_t *result)
{
	json_t *d = json_object_get(result, "duration_s");
	double s = json_is_number(d) ? json_number_value(d)
				     : (double)(sx_now_ms(c->sx) - t->assigned_ms) / 1000.0;

	if (isfinite(s) && s >= 0)
		sx_record_duration(c->sx, &t->sx, lease_worker_hw(w), s);
}

bool lease_pending_reason(struct coord *c, const struct ctask *t, char *why, size_t len)
{
	size_t pos = 0, live = 0, capable = 0, free_now = 0, ahead = 0;
	const char *k;
	void *v;
	char hw[256] = "", extra[300], gpu_why[256];
	size_t i;
	json_t *e;

	if (t->sx.not_before_ms > dtf_mono_ms()) {
		snprintf(why, len, "waiting to be retried (backoff)");
		return false;
	}
	if (recovery_pending_reason(c, t, why, len))
		return false;
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		struct cworker *w = v;
		if (w->status == WS_LOST)
			continue;
		live++;
		if (lease_could_run(t, w)) {
			capable++;
			if (lease_fits_now(t, w))
				free_now++;
		}
	}
	if (live == 0) {
		snprintf(why, len, "no worker is registered yet");
		return false;
	}
	if (capable == 0 && constraints_explain(c, t, why, len))
		return true;
	if (capable == 0) {
		size_t n = 0, hw_ok = 0, type_ok = 0;
		double max_cpu = 0, max_mem = 0, max_gpu = 0;
		pos = 0;
		while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
			struct cworker *w = v;
			if (w->status == WS_LOST || !hardware_ok(t, w))
				continue;
			hw_ok++;
			if (!runs_type(w, t->type))
				continue;
			type_ok++;
			max_cpu = w->cpu > max_cpu ? w->cpu : max_cpu;
			max_mem = w->memory > max_mem ? w->memory : max_mem;
			max_gpu = w->gpu_memory > max_gpu ? w->gpu_memory : max_gpu;
		}
		json_array_foreach(t->hw_any, i, e)
			n += (size_t)snprintf(hw + n, n < sizeof(hw) ? sizeof(hw) - n : 0, "%s%s",
					      i ? " or " : "", json_string_value(e));
		if (n < sizeof(hw))
			json_array_foreach(t->hw_all, i, e)
				n += (size_t)snprintf(hw + n, n < sizeof(hw) ? sizeof(hw) - n : 0,
						      "%s%s", n ? " and " : "",
						      json_string_value(e));
		if (hw_ok == 0)
			snprintf(
			    why, len,
			    "no registered worker can run it: none has hardware %s (%zu worker%s "
			    "registered)",
			    hw, live, live == 1 ? "" : "s");
		else if (type_ok == 0)
			snprintf(why, len,
				 "no registered worker can run it: none runs tasks of type '%s'",
				 t->type);
		else if (gpus_explain(c, t, gpu_why, sizeof(gpu_why)) == 2)
			snprintf(why, len, "no registered worker can run it: %s", gpu_why);
		else if (t->sx.gpu_memory > max_gpu)
			snprintf(
			    why, len,
			    "no registered worker can run it: it needs gpu_memory %.0f MiB, the "
			    "most any fitting worker has is %.0f MiB",
			    t->sx.gpu_memory, max_gpu);
		else if (t->sx.memory > max_mem)
			snprintf(
			    why, len,
			    "no registered worker can run it: it needs memory %.0f MiB, the most "
			    "any fitting worker has is %.0f MiB",
			    t->sx.memory, max_mem);
		else
			snprintf(
			    why, len,
			    "no registered worker can run it: it needs %.0f cpu cores, the most "
			    "any fitting worker has is %.0f",
			    t->sx.cpu, max_cpu);
		return true;
	}
	ahead = sx_ahead(c->sx, t->sx.priority);
	/* Only a task with a deadline is looked at (never one kept as text: taskdoc.c). */
	lease_deadline_check(c, (struct ctask *)t);
	sx_reason(c->sx, &t->sx, extra, sizeof(extra));
	if (free_now == 0 && gpus_explain(c, t, gpu_why, sizeof(gpu_why)) == 1) {
		snprintf(why, len, "%s", gpu_why);
	} else if (free_now == 0) {
		char behind[64] = "";
		if (ahead)
			snprintf(behind, sizeof(behind), "; behind %zu tasks of higher priority",
				 ahead);
		snprintf(why, len,
			 "all workers that can run it are busy (%zu fitting, all full)%s%s%s",
			 capable, behind, extra[0] ? "; " : "", extra);
	} else if (extra[0])
		snprintf(why, len, "%s", extra);
	else if (ahead)
		snprintf(why, len, "behind %zu tasks of higher priority", ahead);
	else
		snprintf(why, len, "waiting for a worker to ask for work");
	return false;
}
