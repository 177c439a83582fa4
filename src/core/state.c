/* state.c: the coordinator's in-memory model (tasks, runs, workers, the pending queues) and its
 * write-through to the store. Every function here runs with c->lock held. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "core/model.h"
#include "core/outbox.h"

static void set_time(json_t *doc, const char *key)
{
	char ts[32];

	dtf_rfc3339(dtf_wall_ms(), ts);
	json_object_set_new(doc, key, json_string(ts));
}

static void copy_id(char *dst, size_t n, const char *src)
{
	size_t len = src ? strnlen(src, n - 1) : 0;

	memcpy(dst, src ? src : "", len);
	dst[len] = '\0';
}

static void task_fields(struct ctask *t)
{
	json_t *req = json_object_get(task_doc(t), "requirements");

	t->type = dtf_json_str(task_doc(t), "type", "command");
	t->sx.priority = (int)dtf_json_int(task_doc(t), "priority", 5);
	if (t->sx.priority < 1 || t->sx.priority > DTF_PRIORITY_LEVELS)
		t->sx.priority = 5;
	t->hw_any = json_object_get(task_doc(t), "hardware");
	t->hw_all = json_object_get(req, "hardware");
	t->sx.cpu = dtf_json_num(req, "cpu", 0);
	t->sx.memory = dtf_json_num(req, "memory", 0);
	t->sx.gpu_memory = dtf_json_num(req, "gpu_memory", 0);
	t->sx.gpus = (uint8_t)gpus_of_task(task_doc(t), t->hw_any, t->hw_all, t->sx.gpu_memory);
	t->max_retries = (int)dtf_json_int(task_doc(t), "max_retries", 0);
	t->retries_used = (int)dtf_json_int(task_doc(t), "retries_used", 0);
	t->max_requeues = (int)dtf_json_int(task_doc(t), "max_requeues", -1);
	t->requeues = (int)dtf_json_int(task_doc(t), "requeues", 0);
	t->attempt = (int)dtf_json_int(task_doc(t), "attempt", 0);
	copy_id(t->worker_id, sizeof(t->worker_id), dtf_json_str(task_doc(t), "worker_id", ""));
	t->rec = json_is_object(json_object_get(task_doc(t), "recovery"))
		     ? json_object_get(task_doc(t), "recovery")
		     : NULL;
}

void state_fire_task(struct coord *c, struct ctask *t, enum dtf_hook hook)
{
	json_t *v;

	if (!dtf_plugins_subscribed(c->plugins, hook))
		return;
	v = json_copy(task_doc(t));
	json_object_del(v, "live_output");
	if (hook == DTF_HOOK_TASK_STARTED) {
		/* Also fired for a start learned with the result: show the task as it was. */
		json_object_set_new(v, "status", json_string("running"));
		json_object_del(v, "result");
		json_object_del(v, "error");
		json_object_del(v, "finished_at");
	}
	dtf_plugins_fire(c->plugins, hook, v);
	json_decref(v);
}

/* A task's status change as an event: {"id", "run_id", "name", "status", "attempt",
 * "requeues" once it was requeued for its worker's loss, "worker_id" while it has one, "error"
 * when it has one}, written as text directly (one per
 * lease and per result: building and freeing a document for each cost a tenth of the
 * coordinator's time under load). */
static void publish_task(struct coord *c, struct ctask *t)
{
	json_t *err;
	struct dtf_buf b;
	size_t len;
	char *s;
	int rc;

	if (!c->events)
		return;
	err = json_object_get(task_doc(t), "error");
	dtf_buf_init(&b, (size_t)1 << 24);
	rc = dtf_buf_adds(&b, "{\"id\":") || dtf_json_write_string(&b, t->id) ||
	     dtf_buf_adds(&b, ",\"run_id\":") || dtf_json_write_string(&b, t->run_id) ||
	     dtf_buf_adds(&b, ",\"name\":") ||
	     dtf_json_write_string(&b, dtf_json_str(task_doc(t), "name", "")) ||
	     dtf_buf_printf(&b, ",\"status\":\"%s\",\"attempt\":%d", task_status_name(t->status),
			    t->attempt) ||
	     (t->requeues > 0 && dtf_buf_printf(&b, ",\"requeues\":%d", t->requeues)) ||
	     (t->worker_id[0] &&
	      (dtf_buf_adds(&b, ",\"worker_id\":") || dtf_json_write_string(&b, t->worker_id))) ||
	     (err && (dtf_buf_adds(&b, ",\"error\":") || dtf_json_dump(err, &b))) ||
	     dtf_buf_adds(&b, "}");
	if (rc) {
		dtf_buf_release(&b);
		return;
	}
	s = dtf_buf_detach(&b, &len);
	dtf_events_publish_text(c->events, "task", t->run_id, t->sx.project, s, len);
}

void state_publish_worker(struct coord *c, struct cworker *w)
{
	json_t *e;

	if (!c->events)
		return;
	e = json_pack("{s:s,s:s,s:i}", "id", w->id, "status",
		      dtf_json_str(w->doc, "status", "idle"), "slots", w->slots);
	dtf_events_publish(c->events, "worker", NULL, NULL, e);
	json_decref(e);
}

/* Adds (delta 1) or takes away (-1) the test entries of t to its run's counts, the ones every
 * report gives (common/testcount.h): one pending or running entry until the task finishes, then
 * what its document holds. A finished task's result, error and status no longer change, so what
 * is taken away is what was added. */
static void count_tests(struct crun *r, struct ctask *t, int delta)
{
	struct dtf_testcount one;

	memset(&one, 0, sizeof(one));
	if (task_is_final(t->status)) {
		dtf_testcount_add_task_as(&one, task_doc(t), task_status_name(t->status));
	} else {
		one.n[t->status == TS_PENDING ? DTF_TEST_PENDING : DTF_TEST_RUNNING] = 1;
		one.total = 1;
	}
	dtf_testcount_merge(&r->tests, &one, delta);
}

static void count(struct coord *c, struct ctask *t, int delta)
{
	struct crun *r = t->run_id[0] ? state_run(c, t->run_id) : NULL;

	c->counts[t->status] += delta;
	if (r) {
		r->counts[t->status] += delta;
		r->total += delta;
		if (t->status == TS_CANCELLED &&
		    strcmp(dtf_json_str(json_object_get(task_doc(t), "error"), "kind", ""),
			   "unschedulable") == 0)
			r->unschedulable += delta;
		count_tests(r, t, delta);
	}
}

struct ctask *state_add_task(struct coord *c, json_t *doc, enum task_status status)
{
	size_t room = sx_task_strs_size(doc);
	struct ctask *t;

	if (room > UINT16_MAX)
		room = 0; /* an outsized name or hardware list gets a block of its own */
	t = calloc(1, sizeof(*t) + room);
	if (!t)
		return NULL;
	t->room = (uint32_t)room;
	t->jdoc = doc;
	copy_id(t->id, sizeof(t->id), dtf_json_str(doc, "id", ""));
	copy_id(t->run_id, sizeof(t->run_id), dtf_json_str(doc, "run_id", ""));
	t->sx.seq = dtf_json_int(doc, "seq", 0);
	if (t->sx.seq <= 0) {
		t->sx.seq = c->next_seq++;
		json_object_set_new(doc, "seq", json_integer(t->sx.seq));
	} else if (t->sx.seq >= c->next_seq) {
		c->next_seq = t->sx.seq + 1;
	}
	t->status = status;
	json_object_set_new(doc, "status", json_string(task_status_name(status)));
	task_fields(t);
	lease_index_task(c, t);
	/* A task that gives no max_requeues (or one stored before there was such a field) gets the
	 * coordinator's, shown in its document. */
	if (t->max_requeues < 0) {
		t->max_requeues = state_default_max_requeues(c);
		json_object_set_new(doc, "max_requeues", json_integer(t->max_requeues));
	}
	constraints_attach(c, t);
	if (dtf_hmap_put(&c->tasks, t->id, t) != 0) {
		constraints_free(t->constraints);
		sx_task_release(&t->sx);
		free(t);
		return NULL;
	}
	count(c, t, 1);
	if (status == TS_PENDING)
		state_queue(c, t);
	publish_task(c, t);
	if (status == TS_PENDING && c->events)
		state_fire_task(c, t, DTF_HOOK_TASK_CREATED);
	return t;
}

void state_free_all(struct coord *c)
{
	size_t pos = 0;
	const char *k;
	void *v;

	while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
		task_doc_free((struct ctask *)v);
		constraints_free(((struct ctask *)v)->constraints);
		sx_task_release(&((struct ctask *)v)->sx);
		free(v);
	}
	pos = 0;
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		json_decref(((struct cworker *)v)->doc);
		json_decref(((struct cworker *)v)->cancel);
		gpus_free(v);
		free(v);
	}
	pos = 0;
	while ((pos = dtf_hmap_next(&c->runs, pos, &k, &v)) != 0) {
		json_decref(((struct crun *)v)->doc);
		free(v);
	}
	dtf_hmap_release(&c->tasks);
	dtf_hmap_release(&c->workers);
	dtf_hmap_release(&c->runs);
}

void state_remove_task(struct coord *c, struct ctask *t)
{
	state_unqueue(c, t);
	count(c, t, -1);
	dtf_hmap_del(&c->tasks, t->id);
	task_doc_free(t);
	constraints_free(t->constraints);
	sx_task_release(&t->sx);
	free(t);
}

void state_queue(struct coord *c, struct ctask *t)
{
	int p = t->sx.priority;
	struct ctask *after;

	if (t->queued)
		return;
	/* Keep each queue in submission order: walk back from the tail (new tasks land at once).
	 * The store hands tasks over in any order at start-up: they are sorted once at its end. */
	for (after = c->qtail[p]; !c->loading && after && after->sx.seq > t->sx.seq;
	     after = after->qprev)
		;
	if (c->loading && after && after->sx.seq > t->sx.seq)
		c->load_unsorted |= 1u << p;
	t->qprev = after;
	t->qnext = after ? after->qnext : c->qhead[p];
	if (t->qnext)
		t->qnext->qprev = t;
	else
		c->qtail[p] = t;
	if (after)
		after->qnext = t;
	else
		c->qhead[p] = t;
	t->queued = true;
	c->pending_count++;
	lease_deadline_check(c, t);
	sx_add(lease_index(c), &t->sx);
}

void state_unqueue(struct coord *c, struct ctask *t)
{
	int p = t->sx.priority;

	if (!t->queued)
		return;
	if (t->qprev)
		t->qprev->qnext = t->qnext;
	else
		c->qhead[p] = t->qnext;
	if (t->qnext)
		t->qnext->qprev = t->qprev;
	else
		c->qtail[p] = t->qprev;
	t->qprev = t->qnext = NULL;
	t->queued = false;
	c->pending_count--;
	sx_remove(c->sx, &t->sx);
}

void state_set_status(struct coord *c, struct ctask *t, enum task_status s)
{
	if (t->status == s)
		return;
	if (t->status == TS_PENDING)
		state_unqueue(c, t);
	count(c, t, -1);
	t->status = s;
	json_object_set_new(task_doc(t), "status", json_string(task_status_name(s)));
	set_time(task_doc(t), "updated_at");
	if (task_is_final(s))
		set_time(task_doc(t), "finished_at");
	/* Counted once finished_at is set: a finished task's test time may come from it. */
	count(c, t, 1);
	if (s == TS_PENDING) {
		json_object_del(task_doc(t), "worker_id");
		state_queue(c, t);
	}
	publish_task(c, t);
	switch (s) {
	case TS_ASSIGNED:
		state_fire_task(c, t, DTF_HOOK_TASK_ASSIGNED);
		break;
	case TS_RUNNING:
		state_fire_task(c, t, DTF_HOOK_TASK_STARTED);
		break;
	case TS_COMPLETED:
		state_fire_task(c, t, DTF_HOOK_TASK_COMPLETED);
		break;
	case TS_FAILED:
		state_fire_task(c, t, DTF_HOOK_TASK_FAILED);
		break;
	case TS_CANCELLED:
		state_fire_task(c, t, DTF_HOOK_TASK_CANCELLED);
		break;
	default: /* pending again: a retry, not a new task */
		break;
	}
	if (c->outbox && task_is_final(s))
		outbox_task_final(c, t);
}

struct crun *state_run(struct coord *c, const char *id)
{
	return dtf_hmap_get(&c->runs, id);
}

struct crun *state_add_run(struct coord *c, const char *id, json_t *doc)
{
	struct crun *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	copy_id(r->id, sizeof(r->id), id);
	r->doc = doc;
	json_object_set_new(doc, "id", json_string(r->id));
	if (dtf_hmap_put(&c->runs, r->id, r) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

static const char *const worker_status_names[] = {"idle", "busy", "draining", "lost"};

json_t *state_worker_view(const struct cworker *w)
{
	json_t *v = json_copy(w->doc);

	json_object_del(v, "token");
	return v;
}

void state_worker_sync(struct cworker *w)
{
	char ts[32];

	if (w->status != WS_LOST && w->status != WS_DRAINING)
		w->status = w->active > 0 ? WS_BUSY : WS_IDLE;
	json_object_set_new(w->doc, "status", json_string(worker_status_names[w->status]));
	json_object_set_new(w->doc, "active_tasks", json_integer(w->active));
	/* Tasks leased ahead (queued on the worker) may hold more than its slots. */
	json_object_set_new(w->doc, "available_slots",
			    json_integer(w->used_slots < w->slots ? w->slots - w->used_slots : 0));
	json_object_set_new(w->doc, "available_cpu", json_real(w->cpu - w->used_cpu));
	json_object_set_new(w->doc, "available_memory", json_real(w->memory - w->used_memory));
	json_object_set_new(w->doc, "available_gpu_memory", json_real(gpus_available(w)));
	gpus_sync(w);
	dtf_rfc3339(dtf_wall_ms() - (dtf_mono_ms() - w->last_seen_ms), ts);
	json_object_set_new(w->doc, "last_heartbeat", json_string(ts));
	recovery_worker_sync(w);
}

struct cworker *state_add_worker(struct coord *c, const char *id, json_t *doc)
{
	struct cworker *w = dtf_hmap_get(&c->workers, id);
	json_t *caps = json_object_get(doc, "capabilities");
	const char *st = dtf_json_str(doc, "status", "idle");
	bool fresh = !w;

	if (w) {
		json_decref(w->doc);
	} else {
		w = calloc(1, sizeof(*w));
		if (!w)
			return NULL;
		copy_id(w->id, sizeof(w->id), id);
		if (dtf_hmap_put(&c->workers, w->id, w) != 0) {
			free(w);
			return NULL;
		}
		w->cancel = json_array();
	}
	w->doc = doc;
	w->sx.id = w->id;
	json_object_set_new(doc, "id", json_string(w->id));
	w->hardware = json_object_get(caps, "hardware");
	w->task_types = json_object_get(doc, "task_types");
	w->slots = (int)dtf_json_int(doc, "slots", 1);
	if (w->slots < 1)
		w->slots = 1;
	w->cpu = dtf_json_num(json_object_get(caps, "cpu"), "cores", (double)w->slots);
	w->memory = dtf_json_num(caps, "memory", 0);
	w->gpu_memory = dtf_json_num(caps, "gpu_memory", 0);
	gpus_load(w, caps);
	copy_id(w->token, sizeof(w->token), dtf_json_str(doc, "token", ""));
	w->status = strcmp(st, "lost") == 0	  ? WS_LOST
		    : strcmp(st, "draining") == 0 ? WS_DRAINING
						  : WS_IDLE;
	w->last_seen_ms = dtf_mono_ms();
	c->hb_check_ms = 0;
	if (fresh)
		recovery_worker_load(w);
	if (w->quarantined)
		c->quarantine_check_ms = 0;
	state_worker_sync(w);
	return w;
}

int state_save_task(struct coord *c, struct ctask *t)
{
	return c->store->ops->put_task(c->store, t->id, t->sx.seq, t->run_id,
				       task_status_name(t->status), task_doc(t));
}

int state_save_worker(struct coord *c, struct cworker *w)
{
	state_worker_sync(w);
	return c->store->ops->put_worker(c->store, w->id, w->doc);
}

int state_save_run(struct coord *c, struct crun *r)
{
	return c->store->ops->put_run(c->store, r->id, r->doc);
}

void state_release(struct coord *c, struct ctask *t)
{
	struct cworker *w = t->worker_id[0] ? dtf_hmap_get(&c->workers, t->worker_id) : NULL;

	if (w && (t->status == TS_ASSIGNED || t->status == TS_RUNNING)) {
		sx_released(c->sx, &t->sx, t->assigned_ms);
		w->used_slots--;
		w->used_cpu -= t->sx.cpu;
		w->used_memory -= t->sx.memory;
		w->used_gpu_memory -= t->sx.gpu_memory;
		w->active--;
		gpus_give_back(w, t);
	}
	t->worker_id[0] = '\0';
}

/* Records an attempt's outcome. The first HISTORY_MAX attempts live in the task's own "history"
 * (written with the task, in the same transaction); later ones, which only a task requeued over
 * and over would have, go to the store's attempts table instead, so every attempt is kept without
 * a second row written for every task. */
#define HISTORY_MAX 100

static void record_attempt(struct coord *c, struct ctask *t, const char *outcome, const char *kind,
			   const char *why)
{
	json_t *hist = json_object_get(task_doc(t), "history");
	json_t *a;
	char ts[32];

	if (!json_is_array(hist)) {
		hist = json_array();
		json_object_set_new(task_doc(t), "history", hist);
	}
	dtf_rfc3339(dtf_wall_ms(), ts);
	a = json_pack("{s:i,s:s,s:s,s:s}", "attempt", t->attempt, "worker_id", t->worker_id,
		      "outcome", outcome, "finished_at", ts);
	/* When the attempt was leased and started: with finished_at, where it sat on its worker's
	 * timeline (report/timeline.h), retried attempts included. */
	if (json_is_string(json_object_get(task_doc(t), "assigned_at")))
		json_object_set(a, "assigned_at", json_object_get(task_doc(t), "assigned_at"));
	if (json_is_string(json_object_get(task_doc(t), "started_at")))
		json_object_set(a, "started_at", json_object_get(task_doc(t), "started_at"));
	if (json_is_integer(json_object_get(task_doc(t), "slot")))
		json_object_set(a, "slot", json_object_get(task_doc(t), "slot"));
	if (kind)
		json_object_set_new(a, "error_kind", json_string(kind));
	if (why)
		json_object_set_new(a, "message", json_string(why));
	/* The test cases a retried attempt failed: one that passes on the retry is flaky
	 * (common/testcount.h). */
	if (strcmp(outcome, "requeued") == 0) {
		json_t *failed = dtf_test_failing_names(task_doc(t), 100);

		if (failed)
			json_object_set_new(a, "failed_tests", failed);
	}
	if (json_array_size(hist) < HISTORY_MAX)
		json_array_append(hist, a);
	else
		c->store->ops->put_attempt(c->store, t->id, t->attempt, a);
	json_decref(a);
}

void state_record_attempt(struct coord *c, struct ctask *t, const char *outcome, const char *kind,
			  const char *why)
{
	record_attempt(c, t, outcome, kind, why);
}

const char *const state_requeue_kind_names[2] = {"worker_lost", "interrupted"};

int state_default_max_requeues(const struct coord *c)
{
	if (c->cfg.max_requeues < 0)
		return 0;
	return c->cfg.max_requeues > 0 ? c->cfg.max_requeues : DTF_MAX_REQUEUES;
}

void state_requeue(struct coord *c, struct ctask *t, const char *kind, const char *why,
		   enum requeue_cause cause)
{
	bool final = (cause == RQ_FAILURE && t->retries_used >= t->max_retries) ||
		     (cause == RQ_INFRA && t->requeues >= t->max_requeues);
	enum rec_class cls;
	char msg[640];

	if (cause == RQ_INFRA && final) {
		/* Say why a task whose worker was at fault still failed. */
		if (t->max_requeues > 0)
			snprintf(msg, sizeof(msg),
				 "%s; the task was requeued %d time%s for its worker's failures "
				 "and max_requeues is %d",
				 why, t->requeues, t->requeues == 1 ? "" : "s", t->max_requeues);
		else
			snprintf(msg, sizeof(msg), "%s; not requeued: max_requeues is 0", why);
		why = msg;
	}
	record_attempt(c, t, final ? "failed" : "requeued", kind, why);
	/* Recovery (recovery.h) is for tasks with retries: a lost worker's task that has them is
	 * recovered elsewhere even though the requeue spends none. Without retries it is only
	 * requeued (the lost worker leases nothing until it registers again), so a task that
	 * keeps losing its workers escalates nothing (no quarantine, no blocked hardware). An
	 * interruption or a lease gone astray needs no recovery. */
	if (cause == RQ_FAILURE || (cause == RQ_INFRA && t->max_retries > 0 &&
				    recovery_classify(kind, &cls) && cls == RC_WORKER_LOST))
		recovery_on_failure(c, t, kind, why, final);
	state_release(c, t);
	if (final) {
		json_object_set_new(task_doc(t), "error",
				    json_pack("{s:s,s:s}", "kind", kind, "message", why));
		state_set_status(c, t, TS_FAILED);
		c->m_results[TS_FAILED]++;
		if (cause == RQ_INFRA)
			c->m_requeue_limit++;
	} else {
		if (cause == RQ_FAILURE) {
			t->retries_used++;
			json_object_set_new(task_doc(t), "retries_used",
					    json_integer(t->retries_used));
		} else if (cause == RQ_INFRA) {
			t->requeues++;
			json_object_set_new(task_doc(t), "requeues", json_integer(t->requeues));
			c->m_infra_requeues[strcmp(kind, state_requeue_kind_names[1]) == 0]++;
		}
		json_object_set_new(task_doc(t), "last_error",
				    json_pack("{s:s,s:s}", "kind", kind, "message", why));
		state_set_status(c, t, TS_PENDING);
		c->m_requeued++;
	}
	state_save_task(c, t);
}

static uint64_t next_random(struct coord *c)
{
	uint64_t x = c->rng ? c->rng : (uint64_t)dtf_wall_ms() * 0x9E3779B97F4A7C15ULL + 1;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	c->rng = x;
	return x;
}

void state_backoff(struct coord *c, struct ctask *t)
{
	double base = c->cfg.retry_backoff_s > 0 ? c->cfg.retry_backoff_s : 0;
	double delay = base;
	int i;
	char ts[32];

	for (i = 1; i < t->retries_used && delay < 60; i++)
		delay *= 2;
	if (delay > 60)
		delay = 60;
	delay *= 0.5 + 0.5 * (double)(next_random(c) % 1000) / 1000.0;
	t->sx.not_before_ms = dtf_mono_ms() + (int64_t)(delay * 1000);
	if (!c->next_backoff_ms || t->sx.not_before_ms < c->next_backoff_ms)
		c->next_backoff_ms = t->sx.not_before_ms;
	sx_delay(c->sx, &t->sx);
	dtf_rfc3339(dtf_wall_ms() + (int64_t)(delay * 1000), ts);
	json_object_set_new(task_doc(t), "retry_at", json_string(ts));
}

void state_backoff_tick(struct coord *c)
{
	int64_t now = sx_now_ms(c->sx);

	if (!c->next_backoff_ms || now < c->next_backoff_ms)
		return;
	/* Tasks whose backoff ended go back into the index; the rest say when to look again. */
	c->next_backoff_ms = sx_expire(c->sx, now);
	lease_wake(c);
}

void state_worker_lost(struct coord *c, struct cworker *w, const char *why)
{
	size_t pos = 0;
	const char *k;
	void *v;

	log_warn("worker %s lost: %s", w->id, why);
	w->status = WS_LOST;
	if (w->waiter) {
		char msg[256];
		snprintf(msg, sizeof(msg), "worker %s was declared lost: %s", w->id, why);
		lease_end(c, w, DTF_ESTATE, "worker_lost", msg);
	}
	if (w->active > 0) {
		while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
			struct ctask *t = v;
			if ((t->status == TS_ASSIGNED || t->status == TS_RUNNING) &&
			    strcmp(t->worker_id, w->id) == 0)
				state_requeue(c, t, "worker_lost", why, RQ_INFRA);
		}
	}
	state_worker_sync(w);
	state_save_worker(c, w);
	state_publish_worker(c, w);
	outbox_worker_lost(c, w, why);
	if (c->plugins) {
		json_t *wv = state_worker_view(w);
		json_object_set_new(wv, "reason", json_string(why));
		dtf_plugins_fire(c->plugins, DTF_HOOK_WORKER_FAILED, wv);
		json_decref(wv);
	}
}

/* What the pending index reads of a scanned task (sx_task_set): a small document with only those
 * members, as the task's own document has them. */
static json_t *scan_index_doc(const struct task_scan *ts)
{
	json_t *d = json_object();

	if (!d)
		return NULL;
	json_object_set_new(d, "id", json_string(ts->id));
	json_object_set_new(d, "type", json_string(ts->type));
	if (ts->has_hardware)
		json_object_set_new(d, "hardware", json_array());
	if (ts->requirements)
		json_object_set_new(d, "requirements",
				    ts->requirements == 2 ? json_pack("{s:[]}", "hardware")
							  : json_object());
	if (ts->name)
		json_object_set_new(d, "name", json_stringn(ts->name, ts->name_len));
	if (ts->batch_key)
		json_object_set_new(d, "batch_key", json_stringn(ts->batch_key, ts->batch_key_len));
	if (ts->user)
		json_object_set_new(d, "user", json_stringn(ts->user, ts->user_len));
	if (ts->project)
		json_object_set_new(d, "project", json_stringn(ts->project, ts->project_len));
	return d;
}

static bool same_str(const json_t *d, const char *key, const char *v, size_t len)
{
	json_t *m = json_object_get(d, key);

	if (!v)
		return !m;
	return m && json_string_length(m) == len && memcmp(json_string_value(m), v, len) == 0;
}

/* The index document of a scanned task: the previous task's, with this one's id and name, when
 * the rest is the same (a large queue is mostly one kind of task), else a new one. Some fifteen
 * allocations and frees a task fewer. Borrowed: c->load_idx holds it until the load ends. */
static json_t *load_index_doc(struct coord *c, const struct task_scan *ts)
{
	json_t *d = c->load_idx, *type, *req, *name;
	int kind;

	if (d) {
		type = json_object_get(d, "type");
		req = json_object_get(d, "requirements");
		name = json_object_get(d, "name");
		kind = !req ? 0 : json_object_size(req) ? 2 : 1;
		if ((ts->type ? type && strcmp(json_string_value(type), ts->type) == 0 : !type) &&
		    !json_object_get(d, "hardware") == !ts->has_hardware &&
		    kind == ts->requirements && !name == !ts->name &&
		    same_str(d, "batch_key", ts->batch_key, ts->batch_key_len) &&
		    same_str(d, "user", ts->user, ts->user_len) &&
		    same_str(d, "project", ts->project, ts->project_len) &&
		    json_string_set(json_object_get(d, "id"), ts->id) == 0 &&
		    (!name || json_string_setn(name, ts->name, ts->name_len) == 0))
			return d;
	}
	json_decref(d);
	c->load_idx = scan_index_doc(ts);
	return c->load_idx;
}

/* A pending task from its scanned text, kept as that text: prepared already (kept, from
 * task_text_prepare), or taken from *text. What state_add_task does for its document, without
 * the document. */
/* What a loading thread prepared of a scanned task beside the core's: its kept text, the record
 * with room for its strings, its id's hash in the task map. */
struct load_prep {
	char *kept;
	struct ctask *t; /* calloc'd with room bytes after it, or NULL */
	size_t room;
	uint64_t hash;
};

/* The room for the pending index's strings of a scanned task: sx_task_strs_size of its index
 * document, worked out from the scan (the document is the core's to build). */
static size_t scan_room(const struct task_scan *ts)
{
	size_t room = (ts->name ? ts->name_len + 1 : 0) +
		      (ts->batch_key && ts->batch_key_len ? ts->batch_key_len + 1 : 0);

	return room > UINT16_MAX ? 0 : room;
}

static int add_scanned_task(struct coord *c, const struct task_scan *ts, char **text,
			    struct load_prep *pp)
{
	json_t *idx = load_index_doc(c, ts);
	size_t room = idx ? sx_task_strs_size(idx) : 0;
	struct ctask *t = NULL;
	char *kept = pp ? pp->kept : NULL;
	int rc;

	if (pp) {
		/* Taken: whatever happens now, the caller gives back nothing of it. */
		pp->kept = NULL;
		if (pp->t && pp->room == (room > UINT16_MAX ? 0 : room))
			t = pp->t;
		else
			free(pp->t);
		pp->t = NULL;
	}
	if (!idx) {
		task_text_discard(kept);
		free(t);
		return DTF_ENOMEM;
	}
	if (room > UINT16_MAX)
		room = 0;
	if (!t)
		t = calloc(1, sizeof(*t) + room);
	if (!t) {
		task_text_discard(kept);
		return DTF_ENOMEM;
	}
	t->room = (uint32_t)room;
	copy_id(t->id, sizeof(t->id), ts->id);
	copy_id(t->run_id, sizeof(t->run_id), ts->run_id);
	copy_id(t->worker_id, sizeof(t->worker_id), ts->worker_id);
	t->sx.seq = ts->seq;
	if (t->sx.seq >= c->next_seq)
		c->next_seq = t->sx.seq + 1;
	t->status = TS_PENDING;
	t->sx.priority = ts->priority;
	t->max_retries = ts->max_retries;
	t->retries_used = ts->retries_used;
	t->max_requeues = ts->max_requeues;
	t->requeues = ts->requeues;
	t->attempt = ts->attempt;
	if (kept) {
		task_adopt_text(t, kept);
	} else {
		task_keep_text(t, *text);
		*text = NULL;
	}
	t->type = ts->type;
	t->sx.run_id = t->run_id;
	sx_task_set(lease_index(c), &t->sx, idx, t->strs, t->room);
	/* The store's ids are its primary key: each comes once. */
	rc = kept ? dtf_hmap_put_new_hashed(&c->tasks, t->id, pp->hash, t)
		  : dtf_hmap_put_new(&c->tasks, t->id, t);
	if (rc != 0) {
		task_doc_free(t);
		sx_task_release(&t->sx);
		free(t);
		return DTF_ENOMEM;
	}
	count(c, t, 1);
	state_queue(c, t);
	return 0;
}

/* The scan leaves out what would need the document: default constraints, and the event stream
 * and plugins (not set up while loading). */
static bool load_may_scan(const struct coord *c)
{
	return !c->events && !c->plugins && !constraints_registry_has_defaults(c->constraints);
}

/* A stored task that is not scanned: parsed, and kept as text when it can be, the text the store
 * holds (no second serialization). */
static int load_task_parsed(struct coord *c, const char *id, char **text, size_t len)
{
	enum task_status st;
	json_error_t je;
	json_t *doc;
	struct ctask *t;
	bool same;

	doc = dtf_json_load(*text, len, 256);
	if (!doc)
		doc = json_loadb(*text, len, JSON_ALLOW_NUL, &je);
	if (!doc) {
		log_error("store: record %s is not valid JSON (%s); skipped", id, je.text);
		return 0;
	}
	if (!task_status_parse(dtf_json_str(doc, "status", ""), &st))
		st = TS_PENDING;
	/* state_add_task leaves the document as stored when it has its seq, status and
	 * max_requeues: then the stored text is the document's text. */
	same = dtf_json_int(doc, "seq", 0) > 0 &&
	       json_is_integer(json_object_get(doc, "max_requeues")) &&
	       json_is_string(json_object_get(doc, "status"));
	t = state_add_task(c, doc, st);
	if (!t)
		return -1;
	if (task_compactable(t)) {
		if (same && strlen(*text) == len) {
			task_keep_text(t, *text);
			*text = NULL;
		} else {
			task_compact(t);
		}
	}
	return 0;
}

/* ---- the start-up load on two threads ----
 *
 * A million stored tasks took some 2.4 s of one core to load, most of it per task and in two
 * independent halves: reading the text (the scan of its members, packing it, copying it to where
 * kept texts live) needs nothing of the core; building the task (the task map, the pending
 * index, the queues) needs the core and its order. So the texts are gathered in batches, a
 * second thread prepares one batch while the core's thread builds the tasks of the batch before
 * (and the store reads the next), and a batch is built in the order its texts came. Anything
 * else loaded after the tasks (attempts, workers) waits until every batch is built. */

#define LOAD_BATCH 2048

struct load_item {
	char *text; /* owned: task_scan's strings point into it */
	size_t len;
	char id[72]; /* the store's, for its messages */
	bool scanned;
	struct load_prep prep; /* of a scanned task */
	struct task_scan ts;
};

/* A ring of LOAD_RING batches: the core's thread fills batch `filled`, the second thread
 * prepares the batches from `prepared` to `filled` in turn, the core's thread builds them from
 * `built` in the same order. Several batches in flight, so that neither thread waits for the
 * other at each batch (one batch in flight had the two in lockstep: 1.3 cores busy of 2). */
#define LOAD_RING 4

struct load_batch {
	struct load_item *v;
	size_t n;
};

struct load_pipe {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct load_batch ring[LOAD_RING];
	size_t filled, prepared, built; /* batches so far; built <= prepared <= filled */
	bool stop;
	bool threaded;
};

static void load_prepare(struct load_item *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct load_prep *pp = &v[i].prep;
		v[i].scanned = task_text_scan(v[i].text, v[i].len, &v[i].ts);
		if (!v[i].scanned)
			continue;
		pp->kept = task_text_prepare(v[i].ts.id, v[i].ts.run_id, v[i].text, v[i].len);
		if (!pp->kept)
			continue; /* the core's thread packs it its own way */
		pp->room = scan_room(&v[i].ts);
		pp->t = calloc(1, sizeof(*pp->t) + pp->room);
		pp->hash = dtf_hmap_hash(v[i].ts.id);
	}
}

static void *load_pipe_main(void *arg)
{
	struct load_pipe *p = arg;
	struct load_batch *b;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->prepared == p->filled && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->prepared == p->filled)
			break;
		b = &p->ring[p->prepared % LOAD_RING];
		pthread_mutex_unlock(&p->mu);
		load_prepare(b->v, b->n);
		pthread_mutex_lock(&p->mu);
		p->prepared++;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Builds the prepared tasks v[0..n) in order (after an error, only gives back what they hold). */
static int load_build(struct coord *c, struct load_item *v, size_t n, int rc)
{
	size_t i;

	for (i = 0; i < n; i++) {
		/* The task map's slots are scattered over tens of MiB: ask for one some tasks
		 * ahead rather than wait for each. */
		if (!rc && i + 8 < n && v[i + 8].prep.kept)
			dtf_hmap_prefetch(&c->tasks, v[i + 8].prep.hash);
		if (!rc && v[i].scanned)
			rc = add_scanned_task(c, &v[i].ts, &v[i].text,
					      v[i].prep.kept ? &v[i].prep : NULL);
		else if (!rc)
			rc = load_task_parsed(c, v[i].id, &v[i].text, v[i].len);
		task_text_discard(v[i].prep.kept);
		free(v[i].prep.t);
		free(v[i].text);
		memset(&v[i].prep, 0, sizeof(v[i].prep));
		v[i].text = NULL;
	}
	return rc;
}

/* Builds the prepared batches in order: those ready now, and then, while the ring is full
 * (wait) or until none is left (all), the next as soon as it is prepared. */
static int load_pipe_build(struct coord *c, int rc, bool all)
{
	struct load_pipe *p = c->load_pipe;
	struct load_batch *b;
	size_t ready;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->built == p->prepared && p->built < p->filled &&
		       (all || p->filled - p->built == LOAD_RING))
			pthread_cond_wait(&p->cv, &p->mu);
		ready = p->prepared;
		pthread_mutex_unlock(&p->mu);
		if (p->built == ready)
			return rc;
		while (p->built < ready) {
			b = &p->ring[p->built % LOAD_RING];
			rc = load_build(c, b->v, b->n, rc);
			b->n = 0;
			p->built++;
		}
	}
}

/* The filled batch goes to the second thread; what it prepared is built. */
static int load_pipe_push(struct coord *c, int rc)
{
	struct load_pipe *p = c->load_pipe;
	struct load_batch *b = &p->ring[p->filled % LOAD_RING];

	if (!p->threaded) {
		load_prepare(b->v, b->n);
		rc = load_build(c, b->v, b->n, rc);
		b->n = 0;
		return rc;
	}
	if (!b->n)
		return rc;
	pthread_mutex_lock(&p->mu);
	p->filled++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	/* The next batch to fill must be built and empty. */
	return load_pipe_build(c, rc, false);
}

/* Every gathered task built (rc 0), or given back (rc, an earlier error); the pipe stays. */
static int load_pipe_drain(struct coord *c, int rc)
{
	struct load_pipe *p = c->load_pipe;

	if (!p)
		return rc;
	rc = load_pipe_push(c, rc);
	return p->threaded ? load_pipe_build(c, rc, true) : rc;
}

static bool load_pipe_pending(const struct load_pipe *p)
{
	return p->ring[p->filled % LOAD_RING].n || p->built < p->filled;
}

static void load_pipe_free(struct load_pipe *p)
{
	size_t i;

	for (i = 0; i < LOAD_RING; i++)
		free(p->ring[i].v);
	free(p);
}

static void load_pipe_start(struct coord *c)
{
	struct load_pipe *p = calloc(1, sizeof(*p));
	size_t i;

	for (i = 0; p && i < LOAD_RING; i++) {
		p->ring[i].v = calloc(LOAD_BATCH, sizeof(*p->ring[i].v));
		if (!p->ring[i].v) {
			load_pipe_free(p);
			return; /* the tasks are loaded one by one */
		}
	}
	if (!p)
		return;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->threaded = pthread_create(&p->th, NULL, load_pipe_main, p) == 0;
	c->load_pipe = p;
}

static int load_pipe_end(struct coord *c, int rc)
{
	struct load_pipe *p = c->load_pipe;

	if (!p)
		return rc;
	rc = load_pipe_drain(c, rc);
	if (p->threaded) {
		pthread_mutex_lock(&p->mu);
		p->stop = true;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->th, NULL);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	load_pipe_free(p);
	c->load_pipe = NULL;
	return rc;
}

/* A stored task at start-up: gathered for the two-thread load, or built from its text when it is
 * a pending task that can be kept as text (most of a large queue), else parsed. */
static int load_task_text(void *arg, const char *id, char **text, size_t len)
{
	struct coord *c = arg;
	struct load_pipe *p = c->load_pipe;
	struct task_scan ts;

	if (p) {
		struct load_batch *b = &p->ring[p->filled % LOAD_RING];
		struct load_item *it = &b->v[b->n++];
		it->text = *text;
		it->len = len;
		*text = NULL;
		copy_id(it->id, sizeof(it->id), id);
		return b->n == LOAD_BATCH ? load_pipe_push(c, 0) : 0;
	}
	if (load_may_scan(c) && task_text_scan(*text, len, &ts))
		return add_scanned_task(c, &ts, text, NULL);
	return load_task_parsed(c, id, text, len);
}

/* The store's count of the tasks it is about to load: the task map is built at its final size
 * rather than grown (and rehashed) some twenty times on the way to a million. */
static void load_task_count(void *arg, size_t n)
{
	struct coord *c = arg;

	if (dtf_hmap_reserve(&c->tasks, n) != 0)
		log_warn("store: no memory to presize the task map for %zu tasks", n);
}

static int load_cb(void *arg, enum dtf_store_kind kind, const char *id, json_t *doc)
{
	struct coord *c = arg;
	enum task_status st;
	int rc;

	/* What comes after the tasks may refer to them: every task is built first. */
	if (c->load_pipe && load_pipe_pending(c->load_pipe) && (rc = load_pipe_drain(c, 0)) != 0)
		return rc;

	switch (kind) {
	case DTF_STORE_RUN:
		if (!state_add_run(c, id, json_incref(doc)))
			return -1;
		break;
	case DTF_STORE_TASK:
		if (!task_status_parse(dtf_json_str(doc, "status", ""), &st))
			st = TS_PENDING;
		if (!state_add_task(c, json_incref(doc), st))
			return -1;
		break;
	case DTF_STORE_WORKER:
		if (!state_add_worker(c, id, json_incref(doc)))
			return -1;
		break;
	case DTF_STORE_ATTEMPT:
		break;
	}
	return 0;
}

static int cmp_seq(const void *a, const void *b)
{
	const struct ctask *x = *(struct ctask *const *)a, *y = *(struct ctask *const *)b;

	return x->sx.seq < y->sx.seq ? -1 : x->sx.seq > y->sx.seq;
}

_Static_assert(DTF_PRIORITY_LEVELS < 32, "a bit of load_unsorted for each queue");

/* Puts each pending queue in submission order (its tasks were appended as they were loaded). */
static int sort_queues(struct coord *c)
{
	struct ctask **v = NULL, *t;
	size_t n, cap = 0, i;
	bool sorted;
	int p;

	for (p = 0; p <= DTF_PRIORITY_LEVELS; p++) {
		/* A queue whose tasks came in order is not walked (a million, scattered). */
		if (!(c->load_unsorted & (1u << p)))
			continue;
		n = 0;
		sorted = true;
		for (t = c->qhead[p]; t; t = t->qnext) {
			if (n == cap) {
				struct ctask **nv;
				cap = cap ? cap * 2 : 1024;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return DTF_ENOMEM;
				}
				v = nv;
			}
			if (n && v[n - 1]->sx.seq > t->sx.seq)
				sorted = false;
			v[n++] = t;
		}
		if (sorted)
			continue;
		qsort(v, n, sizeof(*v), cmp_seq);
		for (i = 0; i < n; i++) {
			v[i]->qprev = i ? v[i - 1] : NULL;
			v[i]->qnext = i + 1 < n ? v[i + 1] : NULL;
		}
		c->qhead[p] = v[0];
		c->qtail[p] = v[n - 1];
	}
	free(v);
	return 0;
}

int state_load(struct coord *c)
{
	bool busy;
	size_t pos = 0;
	const char *k;
	void *v;
	int rc;

	c->store->load_task_text = load_task_text;
	c->store->load_task_count = load_task_count;
	c->load_unsorted = 0;
	c->loading = true;
	if (load_may_scan(c))
		load_pipe_start(c);
	rc = c->store->ops->load(c->store, load_cb, c);
	rc = load_pipe_end(c, rc);
	c->loading = false;
	json_decref(c->load_idx);
	c->load_idx = NULL;
	c->store->load_task_text = NULL;
	c->store->load_task_count = NULL;
	if (!rc)
		rc = sort_queues(c);
	c->load_unsorted = 0;
	if (rc)
		return rc;
	/* Charge the work of assigned and running tasks to their workers. A worker that does not
	 * come back within the heartbeat timeout is declared lost and its tasks are requeued. A
	 * queue of pending tasks only is not walked (a million tasks, scattered in memory). */
	busy = c->counts[TS_ASSIGNED] || c->counts[TS_RUNNING];
	while (busy && (pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
		struct ctask *t = v;
		struct cworker *w;
		if (t->status != TS_ASSIGNED && t->status != TS_RUNNING)
			continue;
		w = dtf_hmap_get(&c->workers, t->worker_id);
		if (!w || w->status == WS_LOST) {
			rc = txn_begin(c);
			state_requeue(c, t, "worker_lost", "its worker is gone", RQ_INFRA);
			if (!rc)
				txn_commit(c);
			continue;
		}
		w->used_slots++;
		w->used_cpu += t->sx.cpu;
		w->used_memory += t->sx.memory;
		w->used_gpu_memory += t->sx.gpu_memory;
		w->active++;
		gpus_hold(w, t);
		t->assigned_ms = dtf_mono_ms();
		state_worker_sync(w);
	}
	log_info("loaded %zu runs, %zu tasks (%zu pending), %zu workers", c->runs.count,
		 c->tasks.count, c->pending_count, c->workers.count);
	return 0;
}
