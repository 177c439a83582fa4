/* test_strategy.c: unit tests of the pending index and the strategies (src/sched/): each
 * strategy's order, fair-share convergence, round-robin turns, best fit, deadline flags, the
 * duration history (memory and store), batching limits, resource accounting under random lease
 * and release sequences, the index against a brute-force scan on random states, switching
 * strategies, backoff, explanations, and the simulator on a workload with a known optimum. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "common/json.h"
#include "common/prom.h"
#include "common/util.h"
#include "core/model.h"
#include "core/sim.h"
#include "unit_main.h"

static struct coord *new_coord(const char *strategy, const char *section_json)
{
	char err[256];
	json_t *sec = section_json ? json_loads(section_json, 0, NULL) : NULL;
	struct coord *c = sim_coord_new(sec, strategy, false, 8, err, sizeof(err));

	if (!c)
		print_error("sim_coord_new: %s\n", err);
	assert_non_null(c);
	json_decref(sec);
	return c;
}

static struct ctask *add_task(struct coord *c, const char *id, const char *text)
{
	char err[256];
	json_t *in = json_loads(text, 0, NULL), *doc;
	struct ctask *t;

	if (!in)
		print_error("bad test input %s\n", text);
	assert_non_null(in);
	json_object_set_new(in, "id", json_string(id));
	if (!json_object_get(in, "command"))
		json_object_set_new(in, "command", json_pack("[s]", "true"));
	doc = task_normalize(in, 60, err, sizeof(err));
	if (!doc)
		print_error("task_normalize %s: %s\n", text, err);
	assert_non_null(doc);
	json_decref(in);
	t = state_add_task(c, doc, TS_PENDING);
	assert_non_null(t);
	return t;
}

static struct cworker *add_worker(struct coord *c, const char *id, const char *text)
{
	json_t *doc = json_loads(text, 0, NULL);
	struct cworker *w;

	assert_non_null(doc);
	w = state_add_worker(c, id, doc);
	assert_non_null(w);
	return w;
}

/* Leases up to max tasks to w; writes their ids joined with commas into out. */
static const char *lease_ids(struct coord *c, struct cworker *w, int max, char *out, size_t len)
{
	json_t *tasks = lease_tasks(c, w, max), *e;
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

/* Ends a leased task (completed) after it ran for secs of virtual time. */
static void finish(struct coord *c, struct ctask *t, double secs)
{
	sx_set_virtual(c->sx, sx_now_ms(c->sx) + (int64_t)(secs * 1000));
	state_release(c, t);
	state_set_status(c, t, TS_COMPLETED);
}

static struct ctask *task(struct coord *c, const char *id)
{
	struct ctask *t = dtf_hmap_get(&c->tasks, id);

	assert_non_null(t);
	return t;
}

static void test_priority_order(void **state)
{
	struct coord *c = new_coord("priority", NULL);
	struct cworker *w = add_worker(c, "w", "{\"slots\": 8}");
	char ids[256];

	(void)state;
	add_task(c, "a", "{\"priority\": 5}");
	add_task(c, "b", "{\"priority\": 2}");
	add_task(c, "c", "{\"priority\": 5}");
	add_task(c, "d", "{\"priority\": 1}");
	add_task(c, "e", "{\"priority\": 9}");
	assert_string_equal(lease_ids(c, w, 8, ids, sizeof(ids)), "d,b,a,c,e");
	assert_int_equal(c->pending_count, 0);
	sim_coord_free(c);
}

static void test_duration_longest_first(void **state)
{
	struct coord *c = new_coord("duration", NULL);
	struct cworker *w = add_worker(c, "w",
				       "{\"slots\": 8, \"capabilities\": {\"hardware\": "
				       "[\"cpu\"]}}");
	char ids[256];

	(void)state;
	sx_history_set(c->sx, "short", "*", 5, 3);
	sx_history_set(c->sx, "long", "*", 120, 3);
	sx_history_set(c->sx, "mid", "*", 30, 3);
	sx_history_set(c->sx, "gpu-only", "cuda", 200, 1);
	add_task(c, "s", "{\"name\": \"short\"}");
	add_task(c, "m", "{\"name\": \"mid\"}");
	add_task(c, "l", "{\"name\": \"long\"}");
	add_task(c, "new", "{\"name\": \"never-ran\"}");
	/* Without history for its hardware, the any-hardware entry answers; with, its own. */
	assert_true(sx_expected(c->sx, &task(c, "l")->sx) == 120);
	assert_true(sx_expected(c->sx, &task(c, "new")->sx) < 0);
	add_task(c, "g", "{\"name\": \"gpu-only\", \"hardware\": \"cpu\"}");
	assert_true(sx_expected(c->sx, &task(c, "g")->sx) < 0);
	/* Unknown durations go first (they may be long), then longest first. */
	assert_string_equal(lease_ids(c, w, 8, ids, sizeof(ids)), "new,g,l,m,s");
	sim_coord_free(c);
}

static void test_duration_history_recorded(void **state)
{
	char dir[64], db[128], err[256];
	struct coord *c;
	struct cworker *w;
	struct ctask *t;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/dtf-test-strategy-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/dtf.db", dir);
	c = new_coord("duration", NULL);
	/* Record through a real store, then read it back in a fresh scheduler. */
	free(c->store);
	c->store = dtf_store_open(db, err, sizeof(err));
	assert_non_null(c->store);
	w = add_worker(c, "w", "{\"slots\": 1, \"capabilities\": {\"hardware\": [\"cuda\"]}}");
	t = add_task(c, "t", "{\"name\": \"suite::test_a\"}");
	assert_int_equal(txn_begin(c), 0);
	sx_record_duration(c->sx, &t->sx, lease_worker_hw(w), 10);
	sx_record_duration(c->sx, &t->sx, lease_worker_hw(w), 20);
	/* Entries wait in memory for the next batch (a second apart); `all` writes them now. */
	sx_history_persist(c->sx, true);
	assert_int_equal(txn_commit(c), 0);
	assert_true(fabs(sx_expected(c->sx, &t->sx) - 15) < 1e-9);
	dtf_store_close(c->store);
	c->store = NULL;
	sx_free(c->sx);
	c->sx = NULL;
	c->store = dtf_store_open(db, err, sizeof(err));
	assert_non_null(c->store);
	assert_int_equal(lease_index_init(c, NULL, "duration", err, sizeof(err)), 0);
	assert_true(fabs(sx_expected(c->sx, &t->sx) - 15) < 1e-9);
	/* Keyed by hardware class too: a task for cuda finds the cuda entry. */
	t = add_task(c, "t2", "{\"name\": \"suite::test_a\", \"hardware\": \"cuda\"}");
	assert_true(fabs(sx_expected(c->sx, &t->sx) - 15) < 1e-9);
	dtf_store_close(c->store);
	c->store = calloc(1, sizeof(*c->store)); /* sim_coord_free frees a plain one */
	assert_non_null(c->store);
	sim_coord_free(c);
	dtf_rmtree(dir);
}

static void test_deadline_order_and_flag(void **state)
{
	struct coord *c = new_coord("deadline", NULL);
	struct cworker *w = add_worker(c, "w", "{\"slots\": 8}");
	char ids[256], late[32], soon[32], text[256];
	struct ctask *tight;

	(void)state;
	dtf_rfc3339(sx_wall_ms(c->sx) + 3600 * 1000, late);
	dtf_rfc3339(sx_wall_ms(c->sx) + 60 * 1000, soon);
	/* Ten minutes: cannot make a one-minute deadline. */
	sx_history_set(c->sx, "slow", "*", 600, 2);
	snprintf(text, sizeof(text), "{\"deadline\": \"%s\"}", late);
	add_task(c, "late", text);
	add_task(c, "none", "{\"priority\": 1}");
	snprintf(text, sizeof(text), "{\"deadline\": \"%s\", \"name\": \"slow\"}", soon);
	tight = add_task(c, "tight", text);
	snprintf(text, sizeof(text), "{\"deadline\": \"%s\"}", soon);
	add_task(c, "soon", text);
	assert_true(json_is_true(json_object_get(task_doc(tight), "deadline_at_risk")));
	assert_true(json_is_false(json_object_get(task_doc(task(c, "soon")), "deadline_at_risk")));
	assert_true(json_is_false(json_object_get(task_doc(task(c, "late")), "deadline_at_risk")));
	assert_null(json_object_get(task_doc(task(c, "none")), "deadline_at_risk"));
	/* Earliest deadline first; no deadline last whatever its priority. */
	assert_string_equal(lease_ids(c, w, 8, ids, sizeof(ids)), "tight,soon,late,none");
	sim_coord_free(c);
}

static void test_fair_share_converges(void **state)
{
	struct coord *c = new_coord("fair-share", "{\"shares\": {\"users\": {\"alice\": 2, "
						  "\"bob\": 1}}, \"half_life\": 0}");
	struct cworker *w = add_worker(c, "w", "{\"slots\": 1}");
	char id[32], ids[64];
	int i, alice = 0, bob = 0;

	(void)state;
	/* Bob submits first: FIFO would serve him alone for 300 tasks. */
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "b%d", i);
		add_task(c, id, "{\"user\": \"bob\"}");
	}
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "a%d", i);
		add_task(c, id, "{\"user\": \"alice\"}");
	}
	for (i = 0; i < 300; i++) {
		lease_ids(c, w, 1, ids, sizeof(ids));
		assert_true(ids[0] == 'a' || ids[0] == 'b');
		if (ids[0] == 'a')
			alice++;
		else
			bob++;
		finish(c, task(c, ids), 1.0);
	}
	/* Shares 2:1 of the resource-seconds. */
	print_message("fair-share: alice %d, bob %d of 300\n", alice, bob);
	assert_true(alice >= 198 && alice <= 202);
	assert_true(bob >= 98 && bob <= 102);
	sim_coord_free(c);
}

static void test_fair_share_explained(void **state)
{
	struct coord *c = new_coord("fair-share", NULL);
	struct cworker *w = add_worker(c, "w", "{\"slots\": 1}");
	char ids[64], why[512];
	struct ctask *b2;

	(void)state;
	add_task(c, "a1", "{\"user\": \"alice\"}");
	add_task(c, "a2", "{\"user\": \"alice\"}");
	add_task(c, "b1", "{\"user\": \"bob\"}");
	b2 = add_task(c, "b2", "{\"user\": \"bob\"}");
	assert_string_equal(lease_ids(c, w, 1, ids, sizeof(ids)), "a1");
	finish(c, task(c, "a1"), 100);
	assert_string_equal(lease_ids(c, w, 1, ids, sizeof(ids)), "b1");
	finish(c, task(c, "b1"), 500);
	/* Bob used more: his next task waits for Alice's. */
	assert_false(lease_pending_reason(c, b2, why, sizeof(why)));
	assert_non_null(strstr(why, "deferred by fair share: user bob is over its share"));
	assert_string_equal(lease_ids(c, w, 1, ids, sizeof(ids)), "a2");
	sim_coord_free(c);
}

static void test_round_robin_alternates(void **state)
{
	struct coord *c = new_coord("round-robin", NULL);
	struct cworker *w = add_worker(c, "w", "{\"slots\": 1}");
	char id[32], ids[64], seq[256] = "";
	size_t n = 0;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "x%d", i);
		add_task(c, id, "{\"user\": \"xavier\"}");
	}
	for (i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "y%d", i);
		add_task(c, id, "{\"user\": \"yann\"}");
	}
	snprintf(id, sizeof(id), "z0");
	add_task(c, id, "{\"user\": \"zoe\"}");
	for (i = 0; i < 7; i++) {
		lease_ids(c, w, 1, ids, sizeof(ids));
		n += (size_t)snprintf(seq + n, sizeof(seq) - n, "%s%s", i ? "," : "", ids);
		finish(c, task(c, ids), 1);
	}
	assert_string_equal(seq, "x0,y0,z0,x1,y1,x2,x3");
	sim_coord_free(c);
}

static void test_resource_aware_best_fit(void **state)
{
	struct coord *c = new_coord("resource-aware", NULL);
	struct cworker *big = add_worker(c, "big",
					 "{\"slots\": 4, \"capabilities\": {\"cpu\": "
					 "{\"cores\": 16}, \"gpu_memory\": 16000}}");
	struct cworker *small = add_worker(c, "small",
					   "{\"slots\": 4, \"capabilities\": "
					   "{\"cpu\": {\"cores\": 2}}}");
	char ids[64];

	(void)state;
	add_task(c, "s1", "{\"requirements\": {\"cpu\": 1}}");
	add_task(c, "s2", "{\"requirements\": {\"cpu\": 2}}");
	add_task(c, "g", "{\"requirements\": {\"cpu\": 8, \"gpu_memory\": 16000}}");
	add_task(c, "b", "{\"requirements\": {\"cpu\": 16}}");
	/* The small machine takes what fills it best; the big one its biggest fit. */
	assert_string_equal(lease_ids(c, small, 1, ids, sizeof(ids)), "s2");
	assert_string_equal(lease_ids(c, big, 1, ids, sizeof(ids)), "g");
	/* Only 8 cores left on big: s1 fits, b does not. */
	assert_string_equal(lease_ids(c, big, 1, ids, sizeof(ids)), "s1");
	sim_coord_free(c);
}

static void test_batching_limits(void **state)
{
	char err[256], ids[256];
	struct coord *c = sim_coord_new(NULL, "priority", true, 3, err, sizeof(err));
	struct cworker *w, *two;
	json_t *tasks, *e;
	size_t i;

	(void)state;
	assert_non_null(c);
	w = add_worker(c, "w", "{\"slots\": 16}");
	two = add_worker(c, "two", "{\"slots\": 2}");
	add_task(c, "m1", "{\"params\": {\"model\": \"llama\"}}");
	add_task(c, "x", "{\"priority\": 5}");
	add_task(c, "m2", "{\"params\": {\"model\": \"llama\"}}");
	add_task(c, "n1", "{\"params\": {\"model\": \"bert\"}}");
	add_task(c, "m3", "{\"params\": {\"model\": \"llama\"}}");
	add_task(c, "m4", "{\"params\": {\"model\": \"llama\"}, \"hardware\": \"cuda\"}");
	add_task(c, "m5", "{\"params\": {\"model\": \"llama\"}}");
	/* A worker with two free slots takes a batch of two, never more than fits. */
	assert_string_equal(lease_ids(c, two, 8, ids, sizeof(ids)), "m1,m2");
	assert_string_equal(json_string_value(json_object_get(task_doc(task(c, "m2")), "batch_id")),
			    "b-m1");
	assert_int_equal(two->used_slots, 2);
	/* The rest in priority order; m3 brings m5 (same key and hardware) but not m4 (another
	 * signature: w has no cuda, so it stays pending). */
	assert_string_equal(lease_ids(c, w, 16, ids, sizeof(ids)), "x,n1,m3,m5");
	assert_string_equal(json_string_value(json_object_get(task_doc(task(c, "m5")), "batch_id")),
			    "b-m3");
	assert_string_equal(json_string_value(json_object_get(task_doc(task(c, "m3")), "batch_id")),
			    "b-m3");
	assert_null(json_object_get(task_doc(task(c, "x")), "batch_id"));
	assert_null(json_object_get(task_doc(task(c, "n1")), "batch_id"));
	assert_int_equal(task(c, "m4")->status, TS_PENDING);
	{
		struct dtf_buf m;
		struct dtf_prom pm;
		dtf_buf_init(&m, 1 << 16);
		dtf_prom_init(&pm, &m);
		assert_int_equal(sx_metrics(c->sx, &pm), 0);
		assert_non_null(strstr(dtf_buf_str(&m), "dtf_batches_total 2\n"));
		assert_non_null(strstr(dtf_buf_str(&m), "dtf_batch_size_sum 4\n"));
		dtf_buf_release(&m);
	}
	sim_coord_free(c);
	/* The limit: 10 tasks of one model, limit 3, a worker with room for all. */
	c = sim_coord_new(NULL, "priority", true, 3, err, sizeof(err));
	assert_non_null(c);
	w = add_worker(c, "w", "{\"slots\": 16}");
	for (i = 0; i < 10; i++) {
		char id[16];
		snprintf(id, sizeof(id), "t%zu", i);
		add_task(c, id, "{\"batch_key\": \"k\"}");
	}
	tasks = lease_tasks(c, w, 16);
	assert_int_equal(json_array_size(tasks), 10);
	{
		json_t *count = json_object();
		const char *k;
		json_t *v;
		json_array_foreach(tasks, i, e) {
			const char *b = dtf_json_str(e, "batch_id", "none");
			json_object_set_new(count, b, json_integer(dtf_json_int(count, b, 0) + 1));
		}
		/* 3 + 3 + 3 + 1: the last one alone has no batch. */
		json_object_foreach(count, k, v)
			assert_true(json_integer_value(v) <= 3);
		assert_int_equal(dtf_json_int(count, "none", 0), 1);
		assert_int_equal(json_object_size(count), 4);
		json_decref(count);
	}
	json_decref(tasks);
	sim_coord_free(c);
}

static void test_switch_strategy(void **state)
{
	struct coord *c = new_coord("priority", NULL);
	struct cworker *w = add_worker(c, "w", "{\"slots\": 8}");
	char ids[256], err[256];
	json_t *d;

	(void)state;
	sx_history_set(c->sx, "long", "*", 100, 1);
	sx_history_set(c->sx, "short", "*", 1, 1);
	add_task(c, "s", "{\"name\": \"short\", \"priority\": 1}");
	add_task(c, "l", "{\"name\": \"long\", \"priority\": 9}");
	assert_int_equal(sx_set_strategy(c->sx, c->plugins, "no-such", err, sizeof(err)),
			 DTF_ENOTFOUND);
	assert_non_null(strstr(err, "unknown strategy 'no-such'"));
	assert_string_equal(sx_strategy(c->sx), "priority");
	assert_int_equal(sx_set_strategy(c->sx, c->plugins, "duration", err, sizeof(err)), 0);
	d = sx_describe(c->sx, c->plugins, c->cfg.batch_processing, c->cfg.batch_size_limit,
			c->pending_count);
	assert_string_equal(dtf_json_str(d, "strategy", ""), "duration");
	assert_int_equal(json_array_size(json_object_get(d, "strategies")), 6);
	assert_int_equal(dtf_json_int(d, "pending", -1), 2);
	json_decref(d);
	/* The pending tasks were re-keyed. */
	assert_string_equal(lease_ids(c, w, 8, ids, sizeof(ids)), "l,s");
	sim_coord_free(c);
}

/* Pending tasks kept as text (taskdoc.c) stay text through strategy switches and the leases of
 * other tasks: the index reads the fields copied at submission, never the documents. */
static void test_switch_keeps_text(void **state)
{
	static const char *const strategies[] = {"fair-share", "round-robin",	 "duration",
						 "deadline",   "resource-aware", "priority"};
	struct coord *c = new_coord("priority", NULL);
	struct cworker *w = add_worker(c, "w", "{\"slots\": 1}");
	struct ctask *a, *b, *x;
	char ids[64], err[256];
	size_t i;

	(void)state;
	sx_history_set(c->sx, "long", "*", 100, 1);
	sx_history_set(c->sx, "short", "*", 1, 1);
	sx_history_set(c->sx, "other", "*", 10, 1);
	a = add_task(c, "a", "{\"name\": \"long\", \"user\": \"alice\", \"priority\": 9}");
	b = add_task(c, "b", "{\"name\": \"short\", \"user\": \"bob\", \"priority\": 1}");
	x = add_task(c, "x", "{\"name\": \"other\", \"user\": \"carol\", \"priority\": 5}");
	task_compact(a);
	task_compact(b);
	task_compact(x);
	assert_non_null(a->text);
	for (i = 0; i < sizeof(strategies) / sizeof(strategies[0]); i++) {
		assert_int_equal(
		    sx_set_strategy(c->sx, c->plugins, strategies[i], err, sizeof(err)), 0);
		assert_non_null(a->text);
		assert_non_null(b->text);
		assert_non_null(x->text);
	}
	/* Under duration the long one goes first; the others are not read to decide it. */
	assert_int_equal(sx_set_strategy(c->sx, c->plugins, "duration", err, sizeof(err)), 0);
	assert_string_equal(lease_ids(c, w, 1, ids, sizeof(ids)), "a");
	assert_non_null(b->text);
	assert_non_null(x->text);
	assert_true(fabs(sx_expected(c->sx, &a->sx) - 100) < 1e-9);
	sim_coord_free(c);
}

static void test_config_errors(void **state)
{
	char err[256];
	struct coord *c = calloc(1, sizeof(*c));
	static const char *const bad[] = {
	    "{\"strategy\": 3}",
	    "{\"shares\": {\"teams\": {}}}",
	    "{\"shares\": {\"users\": {\"alice\": -1}}}",
	    "{\"shares\": {\"users\": {\"alice\": \"x\"}}}",
	    "{\"half_life\": \"soon\"}",
	    "{\"colour\": 1}",
	};
	size_t i;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *sec = json_loads(bad[i], 0, NULL);
		err[0] = '\0';
		assert_int_not_equal(lease_index_init(c, sec, NULL, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "scheduler."));
		json_decref(sec);
	}
	assert_int_not_equal(lease_index_init(c, NULL, "nonsense", err, sizeof(err)), 0);
	assert_non_null(strstr(err, "unknown strategy"));
	sx_free(c->sx);
	free(c);
}

static void test_backoff_delays(void **state)
{
	struct coord *c = new_coord("priority", NULL);
	struct cworker *w = add_worker(c, "w", "{\"slots\": 4}");
	struct ctask *a = add_task(c, "a", "{\"priority\": 1}");
	char ids[64];

	(void)state;
	add_task(c, "b", "{\"priority\": 5}");
	a->sx.not_before_ms = sx_now_ms(c->sx) + 5000;
	sx_delay(c->sx, &a->sx);
	assert_string_equal(lease_ids(c, w, 4, ids, sizeof(ids)), "b");
	assert_int_equal(sx_expire(c->sx, sx_now_ms(c->sx)), a->sx.not_before_ms);
	sx_set_virtual(c->sx, sx_now_ms(c->sx) + 5000);
	assert_int_equal(sx_expire(c->sx, sx_now_ms(c->sx)), 0);
	assert_string_equal(lease_ids(c, w, 4, ids, sizeof(ids)), "a");
	sim_coord_free(c);
}

static void test_signature_follows_constraints(void **state)
{
	struct coord *c = new_coord("priority", NULL);
	struct cworker *w = add_worker(c, "w", "{\"slots\": 4}");
	char ids[64];

	(void)state;
	/* Same constraint text, but it reads the priority: the urgent task that fails it must not
	 * hide the one that meets it. */
	add_task(c, "p1", "{\"priority\": 1, \"constraints\": [\"task.priority >= 5\"]}");
	add_task(c, "p7", "{\"priority\": 7, \"constraints\": [\"task.priority >= 5\"]}");
	/* And one that reads the task's parameters. */
	add_task(c, "no",
		 "{\"priority\": 1, \"params\": {\"ok\": false}, \"constraints\": "
		 "[\"task.params.ok == true\"]}");
	add_task(c, "yes",
		 "{\"priority\": 2, \"params\": {\"ok\": true}, \"constraints\": "
		 "[\"task.params.ok == true\"]}");
	assert_string_equal(lease_ids(c, w, 4, ids, sizeof(ids)), "yes,p7");
	assert_int_equal(c->pending_count, 2);
	sim_coord_free(c);
}

static void test_waiting_list(void **state)
{
	struct coord *c = new_coord("priority", NULL);
	struct cworker *a = add_worker(c, "a", "{}"), *b = add_worker(c, "b", "{}");
	struct dtf_http_req *fake = (struct dtf_http_req *)&state; /* never dereferenced */
	struct sx_worker **ws;
	size_t n;

	(void)state;
	sx_waiting(c->sx, &n);
	assert_int_equal(n, 0);
	a->waiter = fake;
	sx_waiting_add(c->sx, &a->sx);
	sx_waiting_add(c->sx, &a->sx); /* listed once */
	b->waiter = fake;
	sx_waiting_add(c->sx, &b->sx);
	ws = sx_waiting(c->sx, &n);
	assert_int_equal(n, 2);
	assert_true((ws[0] == &a->sx && ws[1] == &b->sx) || (ws[0] == &b->sx && ws[1] == &a->sx));
	/* A lease answered elsewhere drops out at the next look. */
	a->waiter = NULL;
	ws = sx_waiting(c->sx, &n);
	assert_int_equal(n, 1);
	assert_ptr_equal(ws[0], &b->sx);
	assert_false(a->sx.waiting);
	a->waiter = fake;
	sx_waiting_add(c->sx, &a->sx);
	sx_waiting(c->sx, &n);
	assert_int_equal(n, 2);
	a->waiter = b->waiter = NULL;
	sx_waiting(c->sx, &n);
	assert_int_equal(n, 0);
	sim_coord_free(c);
}

/* ---- random states: accounting and the index against a brute-force scan ---- */

static uint64_t rng = 0x1234567887654321ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *const hws[] = {"cpu", "cuda", "rocm"};

static void random_state(struct coord *c, struct cworker **ws, int nw, int nt)
{
	char id[32], text[256];
	int i;

	for (i = 0; i < nw; i++) {
		snprintf(id, sizeof(id), "w%d", i);
		snprintf(text, sizeof(text),
			 "{\"slots\": %d, \"capabilities\": {\"cpu\": {\"cores\": %d}, \"memory\": "
			 "%d, \"gpu_memory\": %d, \"hardware\": [\"%s\", \"%s\"]}}",
			 (int)(1 + rnd() % 4), (int)(1 + rnd() % 8), (int)(1000 * (rnd() % 8)),
			 (int)(1000 * (rnd() % 3)), hws[rnd() % 3], hws[rnd() % 3]);
		ws[i] = add_worker(c, id, text);
	}
	for (i = 0; i < nt; i++) {
		snprintf(id, sizeof(id), "t%d", i);
		snprintf(
		    text, sizeof(text),
		    "{\"priority\": %d, \"name\": \"n%d\", \"hardware\": %s, \"requirements\": "
		    "{\"cpu\": %d, \"memory\": %d, \"gpu_memory\": %d}}",
		    (int)(1 + rnd() % 10), (int)(rnd() % 20),
		    rnd() % 3	? "[]"
		    : rnd() % 2 ? "[\"cuda\"]"
				: "[\"cpu\", \"rocm\"]",
		    (int)(rnd() % 4), (int)(500 * (rnd() % 6)), (int)(1000 * (rnd() % 2)));
		add_task(c, id, text);
	}
}

/* The task a full scan would lease to w under a strategy without a dynamic score. */
static struct ctask *brute_pick(struct coord *c, struct cworker *w)
{
	size_t pos = 0;
	const char *k;
	void *v;
	struct ctask *best = NULL;

	while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
		struct ctask *t = v;
		if (t->status != TS_PENDING || t->sx.not_before_ms > sx_now_ms(c->sx) ||
		    !lease_fits_now(t, w))
			continue;
		if (!best || t->sx.k1 < best->sx.k1 ||
		    (t->sx.k1 == best->sx.k1 &&
		     (t->sx.k2 < best->sx.k2 ||
		      (t->sx.k2 == best->sx.k2 && t->sx.seq < best->sx.seq))))
			best = t;
	}
	return best;
}

static void check_accounting(struct coord *c, struct cworker **ws, int nw)
{
	size_t by_prio[DTF_PRIORITY_LEVELS + 2] = {0}, pos0 = 0, ahead = 0;
	const char *k0;
	void *v0;
	int i, p;

	/* The "behind N tasks of higher priority" count the index keeps. */
	while ((pos0 = dtf_hmap_next(&c->tasks, pos0, &k0, &v0)) != 0)
		if (((struct ctask *)v0)->status == TS_PENDING)
			by_prio[((struct ctask *)v0)->sx.priority]++;
	for (p = 1; p <= DTF_PRIORITY_LEVELS + 1; p++) {
		assert_int_equal(sx_ahead(c->sx, p), ahead);
		ahead += by_prio[p];
	}

	for (i = 0; i < nw; i++) {
		struct cworker *w = ws[i];
		size_t pos = 0;
		const char *k;
		void *v;
		int slots = 0;
		double cpu = 0, mem = 0, gpu = 0;
		while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
			struct ctask *t = v;
			if ((t->status == TS_ASSIGNED || t->status == TS_RUNNING) &&
			    strcmp(t->worker_id, w->id) == 0) {
				slots++;
				cpu += t->sx.cpu;
				mem += t->sx.memory;
				gpu += t->sx.gpu_memory;
			}
		}
		assert_int_equal(slots, w->used_slots);
		assert_true(w->used_slots <= w->slots);
		assert_true(fabs(cpu - w->used_cpu) < 1e-6 && w->used_cpu <= w->cpu + 1e-6);
		assert_true(fabs(mem - w->used_memory) < 1e-6 &&
			    w->used_memory <= w->memory + 1e-6);
		assert_true(fabs(gpu - w->used_gpu_memory) < 1e-6 &&
			    w->used_gpu_memory <= w->gpu_memory + 1e-6);
	}
}

static void random_rounds(const char *strategy, bool brute)
{
	struct coord *c = new_coord(strategy, NULL);
	struct cworker *ws[12];
	int round, checked = 0;

	sx_history_set(c->sx, "n3", "*", 30, 1);
	sx_history_set(c->sx, "n7", "*", 3, 1);
	random_state(c, ws, 12, 400);
	for (round = 0; round < 3000; round++) {
		struct cworker *w = ws[rnd() % 12];
		uint64_t op = rnd() % 10;
		if (op < 6) {
			struct ctask *want = brute ? brute_pick(c, w) : NULL;
			json_t *got = lease_tasks(c, w, 1);
			if (brute) {
				if (!want)
					assert_int_equal(json_array_size(got), 0);
				else
					assert_string_equal(
					    dtf_json_str(json_array_get(got, 0), "id", ""),
					    want->id);
				checked++;
			}
			json_decref(got);
		} else {
			/* End or requeue a random running task. */
			size_t pos = 0, skip = rnd() % 50;
			const char *k;
			void *v;
			while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
				struct ctask *t = v;
				if (t->status != TS_ASSIGNED || skip-- > 0)
					continue;
				state_release(c, t);
				if (op == 9) {
					t->sx.not_before_ms =
					    sx_now_ms(c->sx) + (int64_t)(rnd() % 3000);
					state_set_status(c, t, TS_PENDING);
					sx_delay(c->sx, &t->sx);
				} else if (op == 8) {
					state_set_status(c, t, TS_PENDING);
				} else {
					state_set_status(c, t, TS_COMPLETED);
				}
				break;
			}
		}
		sx_set_virtual(c->sx, sx_now_ms(c->sx) + 100);
		sx_expire(c->sx, sx_now_ms(c->sx));
		if (round % 50 == 0)
			check_accounting(c, ws, 12);
	}
	check_accounting(c, ws, 12);
	if (brute)
		assert_true(checked > 1000);
	sim_coord_free(c);
}

static void test_index_matches_scan_priority(void **state)
{
	(void)state;
	random_rounds("priority", true);
}

static void test_index_matches_scan_duration(void **state)
{
	(void)state;
	random_rounds("duration", true);
}

static void test_accounting_fuzz(void **state)
{
	(void)state;
	random_rounds("resource-aware", false);
	random_rounds("fair-share", false);
	random_rounds("round-robin", false);
}

/* ---- the simulator ---- */

static void test_simulator_known_optimum(void **state)
{
	/* Durations 2, 3, 3, 4 on two 1-slot workers: the optimum is 6 (4+2 | 3+3), the lower
	 * bound too (12 / 2). Longest first finds it; submission order gives 7 (2+3 | 3+4). */
	json_t *tasks = json_loads("[{\"duration_s\": 2, \"name\": \"a\"}, {\"duration_s\": 3, "
				   "\"name\": \"b\"}, {\"duration_s\": 3, \"name\": \"c\"}, "
				   "{\"duration_s\": 4, \"name\": \"d\"}]",
				   0, NULL);
	struct sim_config cfg = {.workers = 2, .slots = 1, .strategy = "duration", .history = true};
	struct sim_result r;
	char err[256];

	(void)state;
	assert_int_equal(sim_run(&cfg, tasks, NULL, &r, err, sizeof(err)), 0);
	assert_int_equal(r.completed, 4);
	assert_true(fabs(r.makespan_s - 6) < 1e-9);
	assert_true(fabs(r.lower_bound_s - 6) < 1e-9);
	assert_true(fabs(r.ratio - 1) < 1e-9);
	cfg.strategy = "priority";
	assert_int_equal(sim_run(&cfg, tasks, NULL, &r, err, sizeof(err)), 0);
	assert_true(fabs(r.makespan_s - 7) < 1e-9);
	/* Mean wait under priority: a and b at 0, c at 2, d at 3. */
	assert_true(fabs(r.mean_wait_s - 1.25) < 1e-9);
	/* A bad workload is an error naming the task. */
	json_array_append_new(tasks, json_pack("{s:s}", "name", "no-duration"));
	assert_int_not_equal(sim_run(&cfg, tasks, NULL, &r, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "tasks[4]"));
	json_decref(tasks);
}

static void test_simulator_deadlines_and_hardware(void **state)
{
	/* One cuda worker and one cpu worker; the cuda task can only go to one of them; a task
	 * whose deadline (1 s) is shorter than its duration misses it. */
	json_t *wl =
	    json_loads("{\"workers\": [{\"hardware\": [\"cuda\"]}, {\"hardware\": [\"cpu\"]}],"
		       " \"tasks\": [{\"duration_s\": 5, \"hardware\": \"cuda\"},"
		       "  {\"duration_s\": 5, \"hardware\": \"cuda\"},"
		       "  {\"duration_s\": 2, \"deadline_s\": 1, \"hardware\": \"cpu\"},"
		       "  {\"duration_s\": 1, \"hardware\": \"tpu\"}]}",
		       0, NULL);
	struct sim_config cfg = {.workers = 1, .slots = 1, .strategy = "deadline"};
	struct sim_result r;
	char err[256];

	(void)state;
	assert_non_null(wl);
	assert_int_equal(sim_run(&cfg, json_object_get(wl, "tasks"), json_object_get(wl, "workers"),
				 &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.completed, 3);
	assert_int_equal(r.unschedulable, 1);
	assert_true(fabs(r.makespan_s - 10) < 1e-9); /* the two cuda tasks in a row */
	assert_int_equal(r.deadline_tasks, 1);
	assert_int_equal(r.deadline_misses, 1);
	json_decref(wl);
}

static void test_simulator_labels_and_constraints(void **state)
{
	/* Two tasks only the mac worker may run go one after the other there. */
	json_t *wl = json_loads(
	    "{\"workers\": [{\"labels\": {\"os\": \"linux\"}}, {\"labels\": {\"os\": \"mac\"}}],"
	    " \"tasks\": [{\"duration_s\": 3, \"constraints\": [\"worker.labels.os == "
	    "\\\"mac\\\"\"]},"
	    "  {\"duration_s\": 3, \"constraints\": [\"worker.labels.os == \\\"mac\\\"\"]},"
	    "  {\"duration_s\": 1}]}",
	    0, NULL);
	struct sim_config cfg = {.workers = 1, .slots = 1, .strategy = "priority"};
	struct sim_result r;
	char err[256];

	(void)state;
	assert_non_null(wl);
	assert_int_equal(sim_run(&cfg, json_object_get(wl, "tasks"), json_object_get(wl, "workers"),
				 &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.completed, 3);
	assert_true(fabs(r.makespan_s - 6) < 1e-9);
	json_decref(wl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_priority_order),
	    cmocka_unit_test(test_duration_longest_first),
	    cmocka_unit_test(test_duration_history_recorded),
	    cmocka_unit_test(test_deadline_order_and_flag),
	    cmocka_unit_test(test_fair_share_converges),
	    cmocka_unit_test(test_fair_share_explained),
	    cmocka_unit_test(test_round_robin_alternates),
	    cmocka_unit_test(test_resource_aware_best_fit),
	    cmocka_unit_test(test_batching_limits),
	    cmocka_unit_test(test_switch_strategy),
	    cmocka_unit_test(test_switch_keeps_text),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_backoff_delays),
	    cmocka_unit_test(test_waiting_list),
	    cmocka_unit_test(test_signature_follows_constraints),
	    cmocka_unit_test(test_index_matches_scan_priority),
	    cmocka_unit_test(test_index_matches_scan_duration),
	    cmocka_unit_test(test_accounting_fuzz),
	    cmocka_unit_test(test_simulator_known_optimum),
	    cmocka_unit_test(test_simulator_deadlines_and_hardware),
	    cmocka_unit_test(test_simulator_labels_and_constraints),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
