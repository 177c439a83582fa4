/* test_state.c: unit tests of the coordinator's in-memory model (src/core/state.c) on a
 * coordinator built without HTTP around a private SQLite file: status transitions and the
 * counters per status and per run, leases, requeues that spend retries and those that spend
 * requeues instead (a lost worker, bounded by max_requeues), the pending queues
 * (priority first, then submission order, also for requeued tasks), removal, and a reload of the
 * state from the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/json.h"
#include "common/util.h"
#include "coord_fixture.h"
#include "core/model.h"
#include "unit_main.h"

/* Submits a task the way the API does: normalize, index, write, commit. extra is a JSON object
 * text merged into the task (NULL for none). */
static struct ctask *add_task(struct coord *c, const char *id, const char *run_id, int priority,
			      const char *extra)
{
	char err[256];
	json_t *in, *doc;

	in = extra ? dtf_json_parse(extra, strlen(extra), err, sizeof(err)) : json_object();
	assert_non_null(in);
	json_object_set_new(in, "id", json_string(id));
	if (run_id)
		json_object_set_new(in, "run_id", json_string(run_id));
	json_object_set_new(in, "priority", json_integer(priority));
	if (!json_object_get(in, "command") && !json_object_get(in, "shell"))
		json_object_set_new(in, "command", json_pack("[s]", "true"));
	doc = task_normalize(in, c->cfg.default_timeout_s, err, sizeof(err));
	if (!doc)
		print_error("task_normalize: %s\n", err);
	assert_non_null(doc);
	json_decref(in);
	return coord_fixture_submit(c, doc);
}

static struct crun *add_run(struct coord *c, const char *id)
{
	struct crun *r = state_add_run(c, id, json_pack("{ss}", "name", id));

	assert_non_null(r);
	assert_int_equal(txn_begin(c), 0);
	assert_int_equal(state_save_run(c, r), 0);
	assert_int_equal(txn_commit(c), 0);
	return r;
}

static struct cworker *add_worker(struct coord *c, const char *id, int slots)
{
	json_t *doc = json_pack("{s{s[s]s{si}sisi}si}", "capabilities", "hardware", "cpu", "cpu",
				"cores", slots, "memory", 1 << 20, "gpu_memory", 0, "slots", slots);
	struct cworker *w;

	assert_non_null(doc);
	w = state_add_worker(c, id, doc);
	assert_non_null(w);
	assert_int_equal(txn_begin(c), 0);
	assert_int_equal(state_save_worker(c, w), 0);
	assert_int_equal(txn_commit(c), 0);
	return w;
}

static struct ctask *task_of(struct coord *c, const char *id)
{
	struct ctask *t = dtf_hmap_get(&c->tasks, id);

	if (!t)
		print_error("no task %s\n", id);
	assert_non_null(t);
	return t;
}

/* Leases up to max tasks to w in one transaction and returns their ids joined with commas. */
static const char *lease(struct coord *c, struct cworker *w, int max, char *out, size_t len)
{
	json_t *tasks = coord_fixture_lease(c, w, max), *e;
	size_t i, n = 0;

	out[0] = '\0';
	json_array_foreach(tasks, i, e) {
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "," : "",
				      dtf_json_str(e, "id", "?"));
		assert_true(n < len);
	}
	json_decref(tasks);
	return out;
}

/* The ids in the pending queue of priority p, head first, joined with commas. */
static const char *queue_of(struct coord *c, int p, char *out, size_t len)
{
	const struct ctask *t;
	size_t n = 0;

	out[0] = '\0';
	for (t = c->qhead[p]; t; t = t->qnext) {
		n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "," : "", t->id);
		assert_true(n < len);
		assert_true(t->queued);
		assert_int_equal(t->sx.priority, p);
		if (t->qnext)
			assert_ptr_equal(t->qnext->qprev, t);
		else
			assert_ptr_equal(c->qtail[p], t);
	}
	return out;
}

static void assert_counts(const int *counts, int pending, int assigned, int running, int completed,
			  int failed, int cancelled)
{
	assert_int_equal(counts[TS_PENDING], pending);
	assert_int_equal(counts[TS_ASSIGNED], assigned);
	assert_int_equal(counts[TS_RUNNING], running);
	assert_int_equal(counts[TS_COMPLETED], completed);
	assert_int_equal(counts[TS_FAILED], failed);
	assert_int_equal(counts[TS_CANCELLED], cancelled);
}

static void test_add_pending(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct crun *r = add_run(c, "r1");
	struct ctask *t;
	char q[256];

	add_task(c, "a", "r1", 5, NULL);
	add_task(c, "b", "r1", 5, NULL);
	t = add_task(c, "c", NULL, 5, NULL);
	assert_counts(c->counts, 3, 0, 0, 0, 0, 0);
	assert_counts(r->counts, 2, 0, 0, 0, 0, 0);
	assert_int_equal(r->total, 2);
	assert_int_equal(c->pending_count, 3);
	assert_int_equal(c->tasks.count, 3);
	assert_int_equal(t->sx.seq, 3);
	assert_int_equal(dtf_json_int(task_doc(t), "seq", 0), 3);
	assert_int_equal(c->next_seq, 4);
	assert_string_equal(dtf_json_str(task_doc(t), "status", "?"), "pending");
	assert_int_equal(t->attempt, 0);
	assert_string_equal(t->worker_id, "");
	assert_string_equal(queue_of(c, 5, q, sizeof(q)), "a,b,c");
}

static void test_lease_assigns(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct crun *r = add_run(c, "r1");
	struct cworker *w = add_worker(c, "w1", 2);
	struct ctask *t;
	char ids[256];

	add_task(c, "a", "r1", 5, NULL);
	add_task(c, "b", "r1", 5, NULL);
	add_task(c, "c", "r1", 5, NULL);
	assert_string_equal(dtf_json_str(w->doc, "status", "?"), "idle");
	assert_string_equal(lease(c, w, 1, ids, sizeof(ids)), "a");
	t = task_of(c, "a");
	assert_int_equal(t->status, TS_ASSIGNED);
	assert_int_equal(t->attempt, 1);
	assert_string_equal(t->worker_id, "w1");
	assert_false(t->queued);
	assert_string_equal(dtf_json_str(task_doc(t), "status", "?"), "assigned");
	assert_string_equal(dtf_json_str(task_doc(t), "worker_id", "?"), "w1");
	assert_int_equal(dtf_json_int(task_doc(t), "attempt", 0), 1);
	assert_non_null(dtf_json_str(task_doc(t), "assigned_at", NULL));
	assert_counts(c->counts, 2, 1, 0, 0, 0, 0);
	assert_counts(r->counts, 2, 1, 0, 0, 0, 0);
	assert_int_equal(r->total, 3);
	assert_int_equal(c->pending_count, 2);
	assert_int_equal(w->used_slots, 1);
	assert_int_equal(w->active, 1);
	/* The worker's document shows its live fields once synced (as the API does to show it). */
	state_worker_sync(w);
	assert_string_equal(dtf_json_str(w->doc, "status", "?"), "busy");
	assert_int_equal(dtf_json_int(w->doc, "available_slots", -1), 1);
	assert_int_equal(c->m_leases, 1);
	assert_int_equal(c->m_leased_tasks, 1);

	/* The second slot takes one more; then the worker is full. */
	assert_string_equal(lease(c, w, 5, ids, sizeof(ids)), "b");
	assert_string_equal(lease(c, w, 5, ids, sizeof(ids)), "");
	assert_counts(c->counts, 1, 2, 0, 0, 0, 0);
	assert_int_equal(c->m_leases, 2);

	/* Running, then completed: the counters follow and the slot comes back. */
	state_set_status(c, t, TS_RUNNING);
	assert_counts(c->counts, 1, 1, 1, 0, 0, 0);
	assert_counts(r->counts, 1, 1, 1, 0, 0, 0);
	state_release(c, t);
	state_set_status(c, t, TS_COMPLETED);
	assert_counts(c->counts, 1, 1, 0, 1, 0, 0);
	assert_counts(r->counts, 1, 1, 0, 1, 0, 0);
	assert_int_equal(r->total, 3);
	assert_string_equal(dtf_json_str(task_doc(t), "status", "?"), "completed");
	assert_non_null(dtf_json_str(task_doc(t), "finished_at", NULL));
	/* A finished task keeps the worker it ran on, for reports. */
	assert_string_equal(dtf_json_str(task_doc(t), "worker_id", ""), "w1");
	assert_int_equal(w->used_slots, 1);
	assert_int_equal(w->active, 1);
	assert_string_equal(lease(c, w, 5, ids, sizeof(ids)), "c");
	assert_counts(c->counts, 0, 2, 0, 1, 0, 0);
}

static void test_requeue_spends_retries(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct crun *r = add_run(c, "r1");
	struct cworker *w = add_worker(c, "w1", 1);
	struct ctask *t = add_task(c, "a", "r1", 5, "{\"max_retries\": 1}");
	json_t *hist, *err;
	char ids[64];

	assert_int_equal(t->max_retries, 1);
	assert_string_equal(lease(c, w, 1, ids, sizeof(ids)), "a");
	assert_int_equal(txn_begin(c), 0);
	state_requeue(c, t, "exit_code", "exited with 1", RQ_FAILURE);
	assert_int_equal(txn_commit(c), 0);
	/* The first failure spends the retry: back to pending, off the worker. */
	assert_int_equal(t->status, TS_PENDING);
	assert_true(t->queued);
	assert_int_equal(t->retries_used, 1);
	assert_int_equal(dtf_json_int(task_doc(t), "retries_used", 0), 1);
	assert_string_equal(dtf_json_str(json_object_get(task_doc(t), "last_error"), "kind", "?"),
			    "exit_code");
	assert_string_equal(t->worker_id, "");
	assert_int_equal(w->used_slots, 0);
	assert_int_equal(w->active, 0);
	assert_counts(c->counts, 1, 0, 0, 0, 0, 0);
	assert_counts(r->counts, 1, 0, 0, 0, 0, 0);
	assert_int_equal(c->m_requeued, 1);
	hist = json_object_get(task_doc(t), "history");
	assert_int_equal(json_array_size(hist), 1);
	assert_string_equal(dtf_json_str(json_array_get(hist, 0), "outcome", "?"), "requeued");
	assert_string_equal(dtf_json_str(json_array_get(hist, 0), "worker_id", "?"), "w1");
	assert_int_equal(dtf_json_int(json_array_get(hist, 0), "attempt", 0), 1);

	/* The second failure has no retry left: failed, with the error's kind. */
	assert_string_equal(lease(c, w, 1, ids, sizeof(ids)), "a");
	assert_int_equal(t->attempt, 2);
	assert_int_equal(txn_begin(c), 0);
	state_requeue(c, t, "exit_code", "exited with 2", RQ_FAILURE);
	assert_int_equal(txn_commit(c), 0);
	assert_int_equal(t->status, TS_FAILED);
	assert_false(t->queued);
	assert_int_equal(t->retries_used, 1);
	err = json_object_get(task_doc(t), "error");
	assert_string_equal(dtf_json_str(err, "kind", "?"), "exit_code");
	assert_string_equal(dtf_json_str(err, "message", "?"), "exited with 2");
	assert_string_equal(dtf_json_str(task_doc(t), "status", "?"), "failed");
	assert_counts(c->counts, 0, 0, 0, 0, 1, 0);
	assert_counts(r->counts, 0, 0, 0, 0, 1, 0);
	assert_int_equal(w->used_slots, 0);
	assert_int_equal(c->m_requeued, 1);
	assert_int_equal(json_array_size(json_object_get(task_doc(t), "history")), 2);
	assert_int_equal(c->pending_count, 0);
}

static void test_requeue_without_retry(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w1", 1);
	struct ctask *t = add_task(c, "a", NULL, 5, NULL);
	char ids[64];
	int i;

	/* A requeue that is nobody's fault (RQ_FREE: a lease gone astray) never fails it and
	 * spends neither retries nor requeues. */
	for (i = 1; i <= 5; i++) {
		assert_string_equal(lease(c, w, 1, ids, sizeof(ids)), "a");
		assert_int_equal(t->attempt, i);
		assert_int_equal(txn_begin(c), 0);
		state_requeue(c, t, "lease_lost", "never received", RQ_FREE);
		assert_int_equal(txn_commit(c), 0);
		assert_int_equal(t->status, TS_PENDING);
		assert_int_equal(t->retries_used, 0);
		assert_int_equal(t->requeues, 0);
	}
	assert_null(json_object_get(task_doc(t), "requeues"));
	assert_int_equal(c->m_requeued, 5);
	assert_counts(c->counts, 1, 0, 0, 0, 0, 0);
}

static void test_priority_then_fifo(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w1", 100);
	char ids[256];

	add_task(c, "low1", NULL, 9, NULL);
	add_task(c, "mid1", NULL, 5, NULL);
	add_task(c, "high1", NULL, 1, NULL);
	add_task(c, "low2", NULL, 9, NULL);
	add_task(c, "mid2", NULL, 5, NULL);
	add_task(c, "high2", NULL, 1, NULL);
	add_task(c, "mid3", NULL, 5, NULL);
	assert_string_equal(queue_of(c, 1, ids, sizeof(ids)), "high1,high2");
	assert_string_equal(queue_of(c, 5, ids, sizeof(ids)), "mid1,mid2,mid3");
	assert_string_equal(queue_of(c, 9, ids, sizeof(ids)), "low1,low2");
	assert_string_equal(lease(c, w, 3, ids, sizeof(ids)), "high1,high2,mid1");
	assert_string_equal(lease(c, w, 100, ids, sizeof(ids)), "mid2,mid3,low1,low2");
	assert_int_equal(c->pending_count, 0);
	assert_null(c->qhead[1]);
	assert_null(c->qtail[5]);
}

static void test_requeued_task_keeps_its_age(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w1", 1);
	struct cworker *w2 = add_worker(c, "w2", 10);
	char ids[256];

	add_task(c, "a", NULL, 5, "{\"max_retries\": 2}");
	add_task(c, "b", NULL, 5, NULL);
	add_task(c, "c", NULL, 5, NULL);
	assert_string_equal(lease(c, w, 1, ids, sizeof(ids)), "a");
	add_task(c, "d", NULL, 5, NULL);
	assert_string_equal(queue_of(c, 5, ids, sizeof(ids)), "b,c,d");
	/* Lease b too, so that a goes back between nothing and c. */
	assert_string_equal(lease(c, w2, 1, ids, sizeof(ids)), "b");
	assert_int_equal(txn_begin(c), 0);
	state_requeue(c, task_of(c, "a"), "exit_code", "failed", RQ_FAILURE);
	assert_int_equal(txn_commit(c), 0);
	assert_string_equal(queue_of(c, 5, ids, sizeof(ids)), "a,c,d");
	assert_int_equal(txn_begin(c), 0);
	state_requeue(c, task_of(c, "b"), "worker_lost", "gone", RQ_INFRA);
	assert_int_equal(txn_commit(c), 0);
	/* An older task returns before newer ones of its priority, in seq order. */
	assert_string_equal(queue_of(c, 5, ids, sizeof(ids)), "a,b,c,d");
	assert_string_equal(lease(c, w2, 10, ids, sizeof(ids)), "a,b,c,d");
}

static void test_remove_task(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct crun *r = add_run(c, "r1");
	struct cworker *w = add_worker(c, "w1", 1);
	char ids[256];

	add_task(c, "a", "r1", 5, NULL);
	add_task(c, "b", "r1", 5, NULL);
	add_task(c, "c", "r1", 5, NULL);
	add_task(c, "d", "r1", 2, NULL);
	assert_string_equal(lease(c, w, 1, ids, sizeof(ids)), "d");
	state_remove_task(c, task_of(c, "b"));
	assert_null(dtf_hmap_get(&c->tasks, "b"));
	assert_string_equal(queue_of(c, 5, ids, sizeof(ids)), "a,c");
	assert_int_equal(c->pending_count, 2);
	assert_counts(c->counts, 2, 1, 0, 0, 0, 0);
	assert_counts(r->counts, 2, 1, 0, 0, 0, 0);
	assert_int_equal(r->total, 3);
	state_remove_task(c, task_of(c, "c"));
	state_remove_task(c, task_of(c, "a"));
	assert_string_equal(queue_of(c, 5, ids, sizeof(ids)), "");
	assert_null(c->qtail[5]);
	assert_int_equal(c->pending_count, 0);
	/* Removing a task that is not queued only undoes its counts. */
	state_release(c, task_of(c, "d"));
	state_remove_task(c, task_of(c, "d"));
	assert_counts(c->counts, 0, 0, 0, 0, 0, 0);
	assert_counts(r->counts, 0, 0, 0, 0, 0, 0);
	assert_int_equal(r->total, 0);
	assert_int_equal(c->tasks.count, 0);
	assert_int_equal(w->used_slots, 0);
}

static void test_set_status_same_is_noop(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct ctask *t = add_task(c, "a", NULL, 5, NULL);
	char ids[64];

	state_set_status(c, t, TS_PENDING);
	assert_counts(c->counts, 1, 0, 0, 0, 0, 0);
	assert_int_equal(c->pending_count, 1);
	assert_null(json_object_get(task_doc(t), "updated_at"));
	/* A cancelled task leaves its queue. */
	state_set_status(c, t, TS_CANCELLED);
	assert_counts(c->counts, 0, 0, 0, 0, 0, 1);
	assert_int_equal(c->pending_count, 0);
	assert_string_equal(queue_of(c, 5, ids, sizeof(ids)), "");
	assert_non_null(dtf_json_str(task_doc(t), "finished_at", NULL));
}

static void test_worker_lost_requeues(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w1", 3);
	struct ctask *a, *b, *d;
	json_t *err;
	char ids[64];

	a = add_task(c, "a", NULL, 5, "{\"max_retries\": 1}");
	b = add_task(c, "b", NULL, 5, NULL);
	d = add_task(c, "d", NULL, 5, "{\"max_requeues\": 0}");
	/* The coordinator's default, shown in the document, unless the task gives its own. */
	assert_int_equal(b->max_requeues, DTF_MAX_REQUEUES);
	assert_int_equal(dtf_json_int(task_doc(b), "max_requeues", -1), DTF_MAX_REQUEUES);
	assert_int_equal(d->max_requeues, 0);
	assert_string_equal(lease(c, w, 3, ids, sizeof(ids)), "a,b,d");
	assert_int_equal(txn_begin(c), 0);
	state_worker_lost(c, w, "no heartbeat");
	assert_int_equal(txn_commit(c), 0);
	assert_int_equal(w->status, WS_LOST);
	assert_string_equal(dtf_json_str(w->doc, "status", "?"), "lost");
	assert_int_equal(w->used_slots, 0);
	assert_int_equal(w->active, 0);
	/* A lost worker is the infrastructure's fault: a and b go back without spending a retry
	 * (b has none), d allows no requeue and fails with worker_lost, saying why. */
	assert_int_equal(a->status, TS_PENDING);
	assert_int_equal(b->status, TS_PENDING);
	assert_int_equal(a->retries_used, 0);
	assert_int_equal(b->retries_used, 0);
	assert_int_equal(a->requeues, 1);
	assert_int_equal(dtf_json_int(task_doc(b), "requeues", 0), 1);
	assert_int_equal(d->status, TS_FAILED);
	err = json_object_get(task_doc(d), "error");
	assert_string_equal(dtf_json_str(err, "kind", "?"), "worker_lost");
	assert_string_equal(dtf_json_str(err, "message", "?"),
			    "no heartbeat; not requeued: max_requeues is 0");
	assert_counts(c->counts, 2, 0, 0, 0, 1, 0);
	assert_int_equal(c->m_infra_requeues[0], 2);
	assert_int_equal(c->m_requeue_limit, 1);
	assert_int_equal(c->m_results[TS_FAILED], 1);
	/* A lost worker is given nothing. */
	assert_string_equal(lease(c, w, 2, ids, sizeof(ids)), "");
}

/* A task that keeps losing its worker stops after max_requeues: the next loss fails it with
 * worker_lost and a message that counts the requeues. Its retries are never spent;
 * interruptions count too, under their own kind. */
static void test_requeue_limit(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w1", 1);
	struct ctask *t = add_task(c, "a", NULL, 5, "{\"max_requeues\": 2, \"max_retries\": 1}");
	const char *kinds[3] = {"worker_lost", "interrupted", "worker_lost"};
	json_t *hist, *err;
	char ids[64];
	int i;

	for (i = 0; i < 3; i++) {
		assert_string_equal(lease(c, w, 1, ids, sizeof(ids)), "a");
		assert_int_equal(txn_begin(c), 0);
		state_requeue(c, t, kinds[i], "gone", RQ_INFRA);
		assert_int_equal(txn_commit(c), 0);
		assert_int_equal(t->retries_used, 0);
		assert_int_equal(t->status, i < 2 ? TS_PENDING : TS_FAILED);
		assert_int_equal(t->requeues, i < 2 ? i + 1 : 2);
	}
	err = json_object_get(task_doc(t), "error");
	assert_string_equal(dtf_json_str(err, "kind", "?"), "worker_lost");
	assert_string_equal(dtf_json_str(err, "message", "?"),
			    "gone; the task was requeued 2 times for its worker's failures and "
			    "max_requeues is 2");
	hist = json_object_get(task_doc(t), "history");
	assert_int_equal(json_array_size(hist), 3);
	assert_string_equal(dtf_json_str(json_array_get(hist, 0), "outcome", "?"), "requeued");
	assert_string_equal(dtf_json_str(json_array_get(hist, 1), "error_kind", "?"),
			    "interrupted");
	assert_string_equal(dtf_json_str(json_array_get(hist, 2), "outcome", "?"), "failed");
	assert_int_equal(c->m_infra_requeues[0], 1);
	assert_int_equal(c->m_infra_requeues[1], 1);
	assert_int_equal(c->m_requeue_limit, 1);
	assert_int_equal(c->m_requeued, 2);

	/* The requeue count is the task's own: a failure of the task still spends its retry. */
	t = add_task(c, "b", NULL, 5, "{\"max_requeues\": 1, \"max_retries\": 1}");
	assert_string_equal(lease(c, w, 1, ids, sizeof(ids)), "b");
	assert_int_equal(txn_begin(c), 0);
	state_requeue(c, t, "worker_lost", "gone", RQ_INFRA);
	assert_int_equal(txn_commit(c), 0);
	assert_string_equal(lease(c, w, 1, ids, sizeof(ids)), "b");
	assert_int_equal(txn_begin(c), 0);
	state_requeue(c, t, "exit_code", "exit code 1", RQ_FAILURE);
	assert_int_equal(txn_commit(c), 0);
	assert_int_equal(t->status, TS_PENDING);
	assert_int_equal(t->retries_used, 1);
	assert_int_equal(t->requeues, 1);
	assert_int_equal(t->attempt, 2);
}

/* The coordinator's max_requeues: 0 means the default, negative none, else the value. */
static void test_default_max_requeues(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;

	assert_int_equal(state_default_max_requeues(c), DTF_MAX_REQUEUES);
	c->cfg.max_requeues = -1;
	assert_int_equal(state_default_max_requeues(c), 0);
	assert_int_equal(add_task(c, "a", NULL, 5, NULL)->max_requeues, 0);
	c->cfg.max_requeues = 7;
	assert_int_equal(add_task(c, "b", NULL, 5, NULL)->max_requeues, 7);
	assert_int_equal(add_task(c, "c", NULL, 5, "{\"max_requeues\": 1}")->max_requeues, 1);
}

static void test_reload_from_store(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w1", 2);
	struct crun *r;
	struct ctask *t;
	char ids[64];

	add_run(c, "r1");
	add_task(c, "a", "r1", 5, NULL);
	add_task(c, "b", "r1", 3, NULL);
	add_task(c, "c", "r1", 5, NULL);
	add_task(c, "d", "r1", 5, NULL);
	assert_string_equal(lease(c, w, 1, ids, sizeof(ids)), "b");
	/* a's worker was lost once before the restart: its requeue count survives it. */
	assert_string_equal(lease(c, w, 1, ids, sizeof(ids)), "a");
	assert_int_equal(txn_begin(c), 0);
	state_requeue(c, task_of(c, "a"), "worker_lost", "gone", RQ_INFRA);
	assert_int_equal(txn_commit(c), 0);
	t = task_of(c, "d");
	assert_int_equal(txn_begin(c), 0);
	state_set_status(c, t, TS_CANCELLED);
	assert_int_equal(state_save_task(c, t), 0);
	assert_int_equal(txn_commit(c), 0);

	c = coord_fixture_reopen(f);
	assert_int_equal(state_load(c), 0);
	assert_int_equal(c->tasks.count, 4);
	assert_int_equal(c->runs.count, 1);
	assert_int_equal(c->workers.count, 1);
	assert_counts(c->counts, 2, 1, 0, 0, 0, 1);
	r = state_run(c, "r1");
	assert_non_null(r);
	assert_counts(r->counts, 2, 1, 0, 0, 0, 1);
	assert_int_equal(r->total, 4);
	assert_string_equal(queue_of(c, 5, ids, sizeof(ids)), "a,c");
	assert_int_equal(c->next_seq, 5);
	t = task_of(c, "b");
	assert_int_equal(t->attempt, 1);
	assert_string_equal(t->worker_id, "w1");
	assert_int_equal(task_of(c, "a")->requeues, 1);
	assert_int_equal(task_of(c, "a")->max_requeues, DTF_MAX_REQUEUES);
	assert_int_equal(task_of(c, "a")->retries_used, 0);
	/* The assigned task is charged to its worker again. */
	w = dtf_hmap_get(&c->workers, "w1");
	assert_non_null(w);
	assert_int_equal(w->used_slots, 1);
	assert_int_equal(w->active, 1);
	/* New tasks continue the sequence. */
	assert_int_equal(add_task(c, "e", "r1", 5, NULL)->sx.seq, 5);
}

/* A coordinator that restarts finds tasks charged to a worker that was lost: they are requeued
 * as the loss would have requeued them (a requeue, not a retry), or fail at max_requeues. */
static void test_reload_lost_worker(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w1", 2);
	struct ctask *t;
	char ids[64];

	add_task(c, "a", NULL, 5, NULL);
	add_task(c, "b", NULL, 5, "{\"max_requeues\": 0}");
	assert_string_equal(lease(c, w, 2, ids, sizeof(ids)), "a,b");
	w->status = WS_LOST;
	assert_int_equal(txn_begin(c), 0);
	assert_int_equal(state_save_worker(c, w), 0);
	assert_int_equal(txn_commit(c), 0);

	c = coord_fixture_reopen(f);
	assert_int_equal(state_load(c), 0);
	t = task_of(c, "a");
	assert_int_equal(t->status, TS_PENDING);
	assert_int_equal(t->requeues, 1);
	assert_int_equal(t->retries_used, 0);
	t = task_of(c, "b");
	assert_int_equal(t->status, TS_FAILED);
	assert_string_equal(dtf_json_str(json_object_get(task_doc(t), "error"), "message", "?"),
			    "its worker is gone; not requeued: max_requeues is 0");
	/* What the reload decided is in the store: a second reload sees the same. */
	c = coord_fixture_reopen(f);
	assert_int_equal(state_load(c), 0);
	assert_int_equal(task_of(c, "a")->requeues, 1);
	assert_int_equal(task_of(c, "a")->status, TS_PENDING);
	assert_int_equal(task_of(c, "b")->status, TS_FAILED);
}

/* A restart reads most pending tasks from their stored text without parsing them into a tree
 * (taskdoc.c's scan): every task's document, fields, queue and index entry are what they were. */
/* Consecutive stored tasks that differ in their name, user, project or batch key keep their own
 * after a reload (the index document of one is reused for the next when it can be). */
static void test_reload_alike_tasks(void **state)
{
	static const char *const ids[] = {"a", "b", "c", "d", "e", "f"};
	static const char *const names[] = {"n-a", "n-b", NULL, "n-d", "n-e", "n-f"};
	static const char *const users[] = {"u1", "u1", "u2", "u2", "u2", "u2"};
	static const char *const projects[] = {"", "", "", "", "", "p"};
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	size_t i;

	add_run(c, "r1");
	add_task(c, "a", "r1", 5, "{\"name\": \"n-a\", \"user\": \"u1\"}");
	add_task(c, "b", "r1", 5, "{\"name\": \"n-b\", \"user\": \"u1\"}");
	add_task(c, "c", "r1", 5, "{\"user\": \"u2\"}");
	add_task(c, "d", "r1", 5, "{\"name\": \"n-d\", \"user\": \"u2\", \"batch_key\": \"k1\"}");
	add_task(c, "e", "r1", 5, "{\"name\": \"n-e\", \"user\": \"u2\", \"batch_key\": \"k2\"}");
	add_task(
	    c, "f", "r1", 5,
	    "{\"name\": \"n-f\", \"user\": \"u2\", \"batch_key\": \"k2\", \"project\": \"p\"}");

	c = coord_fixture_reopen(f);
	assert_int_equal(state_load(c), 0);
	assert_null(c->load_idx);
	assert_int_equal(c->tasks.count, 6);
	for (i = 0; i < 6; i++) {
		struct ctask *t = task_of(c, ids[i]);
		assert_null(t->jdoc);
		if (names[i]) /* else whatever name the submission gave it */
			assert_string_equal(sx_task_name(&t->sx), names[i]);
		assert_string_equal(t->sx.user, users[i]);
		assert_string_equal(t->sx.project, projects[i]);
	}
	assert_ptr_equal(task_of(c, "a")->sx.cls, task_of(c, "b")->sx.cls);
	assert_false(task_of(c, "c")->sx.has_key);
	assert_true(task_of(c, "d")->sx.has_key);
	assert_string_equal(task_of(c, "d")->sx.strs + strlen("n-d") + 1, "k1");
	assert_string_equal(task_of(c, "e")->sx.strs + strlen("n-e") + 1, "k2");
	assert_ptr_not_equal(task_of(c, "d")->sx.group, task_of(c, "e")->sx.group);
	assert_ptr_equal(task_of(c, "e")->sx.group, task_of(c, "f")->sx.group);
}

static void test_reload_keeps_documents(void **state)
{
	static const char *const ids[] = {"plain", "named", "escaped", "hw",
					  "req",   "later", "done"};
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w;
	char *before[7], buf[128];
	json_t *tasks;
	size_t i;

	add_run(c, "r1");
	add_task(c, "plain", "r1", 5, NULL);
	add_task(c, "named", "r1", 2,
		 "{\"name\": \"n-1\", \"user\": \"u\", \"project\": \"p\", "
		 "\"params\": {\"model\": \"m\"}, \"max_retries\": 2}");
	add_task(c, "escaped", "r1", 5, "{\"name\": \"a \\\"q\\\" \\u00e9\"}");
	add_task(c, "hw", "r1", 5, "{\"hardware\": \"cuda\"}");
	add_task(c, "req", "r1", 5, "{\"requirements\": {\"cpu\": 2}}");
	add_task(c, "later", NULL, 2, NULL);
	add_task(c, "done", "r1", 5, NULL);
	assert_int_equal(txn_begin(c), 0);
	state_set_status(c, task_of(c, "done"), TS_COMPLETED);
	assert_int_equal(state_save_task(c, task_of(c, "done")), 0);
	assert_int_equal(txn_commit(c), 0);
	for (i = 0; i < 7; i++) {
		json_t *d = task_doc_copy(task_of(c, ids[i]));
		before[i] = json_dumps(d, JSON_COMPACT);
		json_decref(d);
	}

	c = coord_fixture_reopen(f);
	assert_int_equal(state_load(c), 0);
	assert_int_equal(c->tasks.count, 7);
	assert_counts(c->counts, 6, 0, 0, 1, 0, 0);
	assert_int_equal(state_run(c, "r1")->total, 6);
	assert_int_equal(c->next_seq, 8);
	/* Kept as text, with the fields the scheduler reads. */
	assert_null(task_of(c, "plain")->jdoc);
	assert_non_null(task_of(c, "plain")->text);
	assert_null(task_of(c, "named")->jdoc);
	assert_int_equal(task_of(c, "named")->sx.priority, 2);
	assert_int_equal(task_of(c, "named")->max_retries, 2);
	assert_int_equal(task_of(c, "named")->max_requeues, DTF_MAX_REQUEUES);
	assert_string_equal(sx_task_name(&task_of(c, "named")->sx), "n-1");
	assert_string_equal(task_of(c, "named")->sx.user, "u");
	assert_string_equal(task_of(c, "named")->sx.project, "p");
	assert_string_equal(task_of(c, "named")->type, "command");
	assert_string_equal(task_of(c, "named")->run_id, "r1");
	assert_string_equal(sx_task_name(&task_of(c, "escaped")->sx), "a \"q\" \xc3\xa9");
	assert_int_equal(task_of(c, "hw")->sx.nhw, 1);
	assert_non_null(task_of(c, "hw")->jdoc); /* its hardware list is borrowed from it */
	assert_true(task_of(c, "req")->sx.cpu == 2);
	for (i = 0; i < 7; i++) {
		json_t *d = task_doc_copy(task_of(c, ids[i]));
		char *after = json_dumps(d, JSON_COMPACT);
		assert_string_equal(after, before[i]);
		free(after);
		free(before[i]);
		json_decref(d);
	}
	assert_string_equal(queue_of(c, 2, buf, sizeof(buf)), "named,later");
	assert_string_equal(queue_of(c, 5, buf, sizeof(buf)), "plain,escaped,hw,req");
	/* Leased in priority, then submission order; their documents parse when leased. */
	w = add_worker(c, "w1", 8);
	w->hardware = json_object_get(json_object_get(w->doc, "capabilities"), "hardware");
	tasks = coord_fixture_lease(c, w, 3);
	assert_int_equal(json_array_size(tasks), 3);
	assert_string_equal(dtf_json_str(json_array_get(tasks, 0), "id", ""), "named");
	assert_string_equal(dtf_json_str(json_array_get(tasks, 1), "id", ""), "later");
	assert_string_equal(dtf_json_str(json_array_get(tasks, 2), "id", ""), "plain");
	assert_string_equal(dtf_json_str(json_array_get(tasks, 0), "status", ""), "assigned");
	json_decref(tasks);
}

/* A queue of several loading batches (the load prepares one on a second thread while the core
 * builds the one before): tasks kept as text and tasks that must be parsed (a hardware list, a
 * leased task) interleaved, each built as it was, the queues in submission order, the leased
 * tasks charged to their worker, and the attempts and workers read after every task. */
static void test_reload_many(void **state)
{
	enum { N = 5000 };
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w1", 64);
	struct ctask *t, *prev;
	char id[32], extra[96], ids[256], *before[N / 500 + 1];
	size_t i, n, k;

	add_run(c, "r1");
	for (i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "t%05zu", i);
		if (i % 7 == 3)
			snprintf(extra, sizeof(extra), "{\"hardware\": \"hw%zu\"}", i % 3);
		else
			snprintf(extra, sizeof(extra), "{\"name\": \"n-%zu\", \"user\": \"u%zu\"}",
				 i, i % 4);
		add_task(c, id, i % 2 ? "r1" : NULL, i % 5 == 4 ? 2 : 5, extra);
	}
	/* The first tasks of priority 2 are leased: assigned, parsed at the reload. */
	assert_string_equal(lease(c, w, 3, ids, sizeof(ids)), "t00004,t00009,t00014");
	for (i = k = 0; i < N; i += 500, k++) {
		json_t *d;
		snprintf(id, sizeof(id), "t%05zu", i);
		d = task_doc_copy(task_of(c, id));
		before[k] = json_dumps(d, JSON_COMPACT);
		json_decref(d);
	}

	c = coord_fixture_reopen(f);
	assert_int_equal(state_load(c), 0);
	assert_null(c->load_pipe);
	assert_int_equal(c->tasks.count, N);
	assert_counts(c->counts, N - 3, 3, 0, 0, 0, 0);
	assert_int_equal(state_run(c, "r1")->total, N / 2);
	assert_int_equal(c->next_seq, N + 1);
	w = dtf_hmap_get(&c->workers, "w1");
	assert_non_null(w);
	assert_int_equal(w->used_slots, 3);
	assert_string_equal(task_of(c, "t00009")->worker_id, "w1");
	for (i = k = 0; i < N; i += 500, k++) {
		json_t *d;
		char *after;
		snprintf(id, sizeof(id), "t%05zu", i);
		t = task_of(c, id);
		if (i % 7 == 3)
			assert_non_null(t->jdoc);
		else
			assert_null(t->jdoc);
		d = task_doc_copy(t);
		after = json_dumps(d, JSON_COMPACT);
		assert_string_equal(after, before[k]);
		free(after);
		free(before[k]);
		json_decref(d);
	}
	snprintf(id, sizeof(id), "t%05d", 4998);
	assert_string_equal(sx_task_name(&task_of(c, id)->sx), "n-4998");
	assert_string_equal(task_of(c, id)->sx.user, "u2");
	/* Each queue in submission order, every pending task in one. */
	for (n = 0, k = 2; k <= 5; k += 3) {
		prev = NULL;
		for (t = c->qhead[k]; t; prev = t, t = t->qnext, n++) {
			assert_int_equal(t->sx.priority, (int)k);
			assert_true(!prev || prev->sx.seq < t->sx.seq);
			assert_ptr_equal(t->qprev, prev);
		}
		assert_ptr_equal(c->qtail[k], prev);
	}
	assert_int_equal(n, N - 3);
	/* t00024 needs hardware w1 lacks. */
	assert_string_equal(lease(c, w, 2, ids, sizeof(ids)), "t00019,t00029");
}

static int waits_ended;

static void count_end(void *ctx, void *waiter, json_t *reply, json_t *tasks, int err,
		      const char *kind, const char *msg)
{
	(void)ctx;
	(void)tasks;
	(void)kind;
	(void)msg;
	assert_string_equal((const char *)waiter, "token");
	assert_int_equal(err, 0);
	assert_int_equal(json_array_size(json_object_get(reply, "tasks")), 0);
	json_decref(reply);
	waits_ended++;
}

/* The tick walks every worker only when a heartbeat can have run out: it remembers the
 * earliest moment one can, a new worker brings the walk back, and a silent worker is still
 * declared lost. A suspended lease ends at its deadline, found through the list of waiting
 * workers. */
static void test_tick_heartbeat_and_waits(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w1, *w2;
	int64_t deadline;

	c->cfg.heartbeat_timeout_s = 10;
	w1 = add_worker(c, "w1", 1);
	core_tick(c);
	assert_int_equal(w1->status, WS_IDLE);
	assert_int_equal(c->hb_check_ms, w1->last_seen_ms + 10001);
	w2 = add_worker(c, "w2", 1);
	assert_int_equal(c->hb_check_ms, 0);
	core_tick(c);
	assert_int_equal(c->hb_check_ms, w1->last_seen_ms + 10001);

	/* The wait of a suspended lease ends at its deadline, with no tasks. */
	c->fe.lease_done = count_end;
	waits_ended = 0;
	lease_suspend(c, w2, "token", 1, 0.05);
	deadline = dtf_mono_ms() + 5000;
	while (waits_ended == 0 && dtf_mono_ms() < deadline) {
		usleep(10000);
		core_tick(c);
	}
	assert_int_equal(waits_ended, 1);
	assert_null(w2->waiter);

	/* With a short timeout (from the next walk on), both go silent and are declared
	 * lost. */
	c->cfg.heartbeat_timeout_s = 0.1;
	c->hb_check_ms = 0;
	deadline = dtf_mono_ms() + 5000;
	while ((w1->status != WS_LOST || w2->status != WS_LOST) && dtf_mono_ms() < deadline) {
		usleep(10000);
		core_tick(c);
	}
	assert_int_equal(w1->status, WS_LOST);
	assert_int_equal(w2->status, WS_LOST);
	/* No live worker left: no walk until one registers. */
	assert_int_equal(c->hb_check_ms, INT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    coord_fixture_test(test_add_pending),
	    coord_fixture_test(test_lease_assigns),
	    coord_fixture_test(test_requeue_spends_retries),
	    coord_fixture_test(test_requeue_without_retry),
	    coord_fixture_test(test_priority_then_fifo),
	    coord_fixture_test(test_requeued_task_keeps_its_age),
	    coord_fixture_test(test_remove_task),
	    coord_fixture_test(test_set_status_same_is_noop),
	    coord_fixture_test(test_worker_lost_requeues),
	    coord_fixture_test(test_requeue_limit),
	    coord_fixture_test(test_default_max_requeues),
	    coord_fixture_test(test_reload_from_store),
	    coord_fixture_test(test_reload_lost_worker),
	    coord_fixture_test(test_reload_keeps_documents),
	    coord_fixture_test(test_reload_alike_tasks),
	    coord_fixture_test(test_reload_many),
	    coord_fixture_test(test_tick_heartbeat_and_waits),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
