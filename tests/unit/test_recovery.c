/* test_recovery.c: unit tests of error recovery (src/core/recovery.c and the worker's
 * src/worker/classify.c): the classifier, the strategy choice from the history (exploration and
 * ties included), parameter adjustment, quarantine thresholds, and, on a coordinator built without
 * HTTP around a private SQLite file, the escalation through the five levels, the reset on
 * success, strikes that quarantine a worker, and the history surviving a reload. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/json.h"
#include "common/util.h"
#include "coord_fixture.h"
#include "core/model.h"
#include "core/recovery.h"
#include "unit_main.h"
#include "worker/classify.h"

/* ---- pure helpers ---- */

static void test_classify(void **state)
{
	static const struct {
		const char *kind;
		int cls; /* -1: not classified */
	} cases[] = {
	    {"timeout", RC_TIMEOUT},
	    {"signal", RC_SIGNAL},
	    {"exit_code", RC_EXIT},
	    {"test_failures", RC_EXIT},
	    {"oom", RC_OOM},
	    {"worker_lost", RC_WORKER_LOST},
	    {"infrastructure", RC_INFRASTRUCTURE},
	    {"spawn", RC_INFRASTRUCTURE},
	    {"cancelled", -1},
	    {"interrupted", -1},
	    {"lease_lost", -1},
	    {"unschedulable", -1},
	    {"", -1},
	};
	size_t i;
	enum rec_class c;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = recovery_classify(cases[i].kind, &c);
		if (cases[i].cls < 0) {
			assert_false(ok);
		} else {
			assert_true(ok);
			assert_int_equal(c, cases[i].cls);
		}
	}
	assert_false(recovery_classify(NULL, &c));
	for (i = 0; i < RC__COUNT; i++) {
		assert_true(recovery_class_parse(recovery_class_name((enum rec_class)i), &c));
		assert_int_equal(c, i);
	}
	assert_false(recovery_class_parse("nonsense", &c));
	for (i = 1; i <= REC_LEVELS; i++)
		assert_int_equal(recovery_strategy_parse(recovery_strategy_name((int)i)), i);
	assert_null(recovery_strategy_name(0));
	assert_null(recovery_strategy_name(6));
	assert_int_equal(recovery_strategy_parse("retry"), 0);
	assert_int_equal(recovery_min_level(RC_EXIT), 1);
	assert_int_equal(recovery_min_level(RC_WORKER_LOST), 2);
	assert_int_equal(recovery_min_level(RC_INFRASTRUCTURE), 2);
}

static void test_choose(void **state)
{
	struct rec_history h;

	(void)state;
	memset(&h, 0, sizeof(h));
	/* No history: the floor, for every floor; never above 5, never below the class minimum. */
	assert_int_equal(recovery_choose(&h, RC_EXIT, 1), 1);
	assert_int_equal(recovery_choose(&h, RC_EXIT, 3), 3);
	assert_int_equal(recovery_choose(&h, RC_EXIT, 5), 5);
	assert_int_equal(recovery_choose(&h, RC_EXIT, 9), 5);
	assert_int_equal(recovery_choose(&h, RC_WORKER_LOST, 1), 2);
	assert_int_equal(recovery_choose(NULL, RC_EXIT, 2), 2);
	/* Level 1 works half the time or better: kept. */
	h.s[RC_EXIT][1] = (struct rec_stat){.attempts = 4, .successes = 2};
	assert_int_equal(recovery_choose(&h, RC_EXIT, 1), 1);
	/* Below half: the untried level 2 (score 1/2) is explored. */
	h.s[RC_EXIT][1] = (struct rec_stat){.attempts = 4, .successes = 1};
	assert_int_equal(recovery_choose(&h, RC_EXIT, 1), 2);
	/* Level 2 tried and worse than level 1: back to level 1. */
	h.s[RC_EXIT][2] = (struct rec_stat){.attempts = 10, .successes = 1};
	assert_int_equal(recovery_choose(&h, RC_EXIT, 1), 1);
	/* Other classes are not affected. */
	assert_int_equal(recovery_choose(&h, RC_TIMEOUT, 1), 1);
	/* From floor 2 the choice is 2 or 3. */
	h.s[RC_EXIT][3] = (struct rec_stat){.attempts = 2, .successes = 2};
	assert_int_equal(recovery_choose(&h, RC_EXIT, 2), 3);
	/* Levels 4 and 5 are never chosen ahead of time, however good. */
	h.s[RC_EXIT][4] = (struct rec_stat){.attempts = 50, .successes = 50};
	h.s[RC_EXIT][3] = (struct rec_stat){.attempts = 50, .successes = 0};
	assert_int_equal(recovery_choose(&h, RC_EXIT, 3), 3);
	h.s[RC_EXIT][5] = (struct rec_stat){.attempts = 50, .successes = 50};
	assert_int_equal(recovery_choose(&h, RC_EXIT, 4), 4);
	/* A tie goes to the lower level. */
	memset(&h, 0, sizeof(h));
	h.s[RC_SIGNAL][1] = (struct rec_stat){.attempts = 2, .successes = 1};
	h.s[RC_SIGNAL][2] = (struct rec_stat){.attempts = 2, .successes = 1};
	assert_int_equal(recovery_choose(&h, RC_SIGNAL, 1), 1);
}

static void test_adjust(void **state)
{
	json_t *d = json_pack("{s:f,s:{s:f}}", "timeout_s", 10.0, "requirements", "memory", 1000.0);

	(void)state;
	assert_true(recovery_adjust(d, RC_TIMEOUT, 86400, 0));
	assert_true(dtf_json_num(d, "timeout_s", 0) == 20.0);
	assert_true(recovery_adjust(d, RC_TIMEOUT, 30, 0));
	assert_true(dtf_json_num(d, "timeout_s", 0) == 30.0);
	assert_false(recovery_adjust(d, RC_TIMEOUT, 30, 0)); /* at the cap */
	assert_true(recovery_adjust(d, RC_OOM, 0, 4000));
	assert_true(dtf_json_num(json_object_get(d, "requirements"), "memory", 0) == 1500.0);
	assert_true(recovery_adjust(d, RC_OOM, 0, 2000));
	assert_true(dtf_json_num(json_object_get(d, "requirements"), "memory", 0) == 2000.0);
	assert_false(recovery_adjust(d, RC_OOM, 0, 2000));
	assert_false(recovery_adjust(d, RC_EXIT, 86400, 4000));
	assert_false(recovery_adjust(d, RC_SIGNAL, 86400, 4000));
	json_decref(d);
	d = json_object(); /* no timeout, no memory requirement: nothing to raise */
	assert_false(recovery_adjust(d, RC_TIMEOUT, 86400, 0));
	assert_false(recovery_adjust(d, RC_OOM, 0, 4000));
	json_decref(d);
}

static void test_quarantine_threshold(void **state)
{
	(void)state;
	assert_false(recovery_should_quarantine(0, 3));
	assert_false(recovery_should_quarantine(2, 3));
	assert_true(recovery_should_quarantine(3, 3));
	assert_true(recovery_should_quarantine(4, 3));
	assert_true(recovery_should_quarantine(1, 1));
	assert_false(recovery_should_quarantine(100, 0));
	assert_false(recovery_should_quarantine(100, -1));
}

static void test_worker_failure_kind(void **state)
{
	struct dtf_failure_facts f;
	static const char oom_err[] = "Traceback…\nMemoryError\n";

	(void)state;
	memset(&f, 0, sizeof(f));
	f.oom_kills_before = f.oom_kills_after = -1;
	assert_null(dtf_failure_kind(&f));
	f.exit_code = 3;
	assert_string_equal(dtf_failure_kind(&f), "exit_code");
	f.disk_full = true;
	assert_string_equal(dtf_failure_kind(&f), "infrastructure");
	f.disk_full = false;
	f.exit_code = -1;
	f.signal = SIGSEGV;
	assert_string_equal(dtf_failure_kind(&f), "signal");
	/* SIGKILL while the cgroup's oom_kill count rose: oom; unchanged or unknown: signal. */
	f.signal = SIGKILL;
	f.oom_kills_before = 2;
	f.oom_kills_after = 3;
	assert_string_equal(dtf_failure_kind(&f), "oom");
	f.oom_kills_after = 2;
	assert_string_equal(dtf_failure_kind(&f), "signal");
	f.oom_kills_before = -1;
	f.oom_kills_after = 5;
	assert_string_equal(dtf_failure_kind(&f), "signal");
	/* An out-of-memory message counts only for a task with a memory requirement. */
	f.signal = 0;
	f.exit_code = 1;
	f.err = oom_err;
	f.err_len = sizeof(oom_err) - 1;
	assert_string_equal(dtf_failure_kind(&f), "exit_code");
	f.memory_limited = true;
	assert_string_equal(dtf_failure_kind(&f), "oom");
	/* dtf's own stops come first. */
	f.timed_out = true;
	assert_string_equal(dtf_failure_kind(&f), "timeout");
	f.cancelled = true;
	assert_string_equal(dtf_failure_kind(&f), "cancelled");
}

/* ---- on a coordinator ---- */

/* The fixture with a quarantine after 2 strikes for 600 s, and the recovery history loaded (as
 * a start does). */
static void prepare(struct coord *c)
{
	c->cfg.quarantine_threshold = 2;
	c->cfg.quarantine_s = 600;
	assert_int_equal(recovery_load(c), 0);
}

static int setup(void **state)
{
	*state = coord_fixture_new(prepare);
	return *state ? 0 : -1;
}

static struct ctask *add_task(struct coord *c, const char *id, const char *extra)
{
	char err[256];
	json_t *in = dtf_json_parse(extra, strlen(extra), err, sizeof(err)), *doc;

	assert_non_null(in);
	json_object_set_new(in, "id", json_string(id));
	json_object_set_new(in, "command", json_pack("[s]", "true"));
	doc = task_normalize(in, c->cfg.default_timeout_s, err, sizeof(err));
	if (!doc)
		print_error("task_normalize: %s\n", err);
	assert_non_null(doc);
	json_decref(in);
	return coord_fixture_submit(c, doc);
}

static struct cworker *add_worker(struct coord *c, const char *id)
{
	json_t *doc = json_pack("{s{s[s]s{si}sisi}si}", "capabilities", "hardware", "cpu", "cpu",
				"cores", 1, "memory", 1 << 20, "gpu_memory", 0, "slots", 1);
	struct cworker *w = state_add_worker(c, id, doc);

	assert_non_null(w);
	assert_int_equal(txn_begin(c), 0);
	assert_int_equal(state_save_worker(c, w), 0);
	assert_int_equal(txn_commit(c), 0);
	return w;
}

/* Leases at most one task to w; returns its id or "". */
static const char *lease1(struct coord *c, struct cworker *w, char *out, size_t len)
{
	json_t *tasks = coord_fixture_lease(c, w, 1);

	snprintf(out, len, "%s", dtf_json_str(json_array_get(tasks, 0), "id", ""));
	json_decref(tasks);
	return out;
}

/* The attempt failed with kind (the way apply_result records a failure with retries left). */
static void fail_attempt(struct coord *c, struct ctask *t, const char *kind)
{
	assert_int_equal(txn_begin(c), 0);
	state_requeue(c, t, kind, "it failed", RQ_FAILURE);
	assert_int_equal(txn_commit(c), 0);
}

/* The attempt passed (as apply_result records it). */
static void pass_attempt(struct coord *c, struct ctask *t)
{
	assert_int_equal(txn_begin(c), 0);
	state_record_attempt(c, t, "passed", NULL, NULL);
	recovery_on_success(c, t);
	state_release(c, t);
	state_set_status(c, t, TS_COMPLETED);
	state_save_task(c, t);
	assert_int_equal(txn_commit(c), 0);
}

static const char *strategy_of(struct ctask *t)
{
	return dtf_json_str(json_object_get(task_doc(t), "recovery"), "strategy", "");
}

static void test_escalation_and_reset(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w1 = add_worker(c, "w1"), *w2 = add_worker(c, "w2");
	struct ctask *t = add_task(c, "a", "{\"max_retries\": 6, \"hardware\": \"cpu\"}");
	const struct rec_stat *s = c->rhist->s[RC_EXIT];
	char id[64];
	int l;

	assert_string_equal(lease1(c, w1, id, sizeof(id)), "a");
	/* Level 1: retried in place, held for w1. */
	fail_attempt(c, t, "exit_code");
	assert_string_equal(strategy_of(t), "retry_in_place");
	assert_string_equal(lease1(c, w2, id, sizeof(id)), "");
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "a");
	/* Level 2: elsewhere, w1 excluded while w2 can run it. */
	fail_attempt(c, t, "exit_code");
	assert_string_equal(strategy_of(t), "retry_elsewhere");
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "");
	assert_string_equal(lease1(c, w2, id, sizeof(id)), "a");
	/* Level 3: w2 is told to restart its executors; the task is held for it. */
	fail_attempt(c, t, "exit_code");
	assert_string_equal(strategy_of(t), "restart_executor");
	assert_true(w2->restart_executor);
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "");
	assert_string_equal(lease1(c, w2, id, sizeof(id)), "a");
	{
		json_t *reply = lease_reply(w2, json_array());
		assert_true(json_is_true(json_object_get(reply, "restart_executor")));
		json_decref(reply);
		assert_false(w2->restart_executor);
	}
	/* Level 4: w2 quarantined; w1 (excluded too, but the only one left) runs it. */
	fail_attempt(c, t, "exit_code");
	assert_string_equal(strategy_of(t), "quarantine_worker");
	assert_true(w2->quarantined);
	assert_string_equal(dtf_json_str(w2->doc, "status", ""), "quarantined");
	assert_string_equal(lease1(c, w2, id, sizeof(id)), "");
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "a");
	/* Level 5: its hardware class is blocked system-wide; nothing leases it until lifted. */
	fail_attempt(c, t, "exit_code");
	assert_string_equal(strategy_of(t), "system_intervention");
	assert_non_null(json_object_get(c->blocked_hw, "cpu"));
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "");
	assert_int_equal(txn_begin(c), 0);
	assert_true(recovery_unblock(c, "cpu"));
	assert_false(recovery_unblock(c, "cpu"));
	assert_int_equal(txn_commit(c), 0);
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "a");
	/* Success: the recovery ends (reset) and the history has one try of each level, only the
	 * last one successful. */
	pass_attempt(c, t);
	assert_null(json_object_get(task_doc(t), "recovery"));
	assert_null(t->rec);
	for (l = 1; l <= 4; l++) {
		assert_int_equal(s[l].attempts, 1);
		assert_int_equal(s[l].successes, 0);
	}
	assert_int_equal(s[5].attempts, 1);
	assert_int_equal(s[5].successes, 1);
	assert_true(s[5].recover_ms_total >= 0);
	assert_int_equal(c->m_recoveries_started, 5);
	assert_int_equal(c->m_recoveries_completed, 1);

	/* The history drives the next choice: level 1 (0 of 1) and level 2 (0 of 1) tie at 1/3,
	 * so level 1; after a success at level 1, still level 1. */
	assert_int_equal(txn_begin(c), 0);
	recovery_unquarantine(c, w2, "test");
	assert_int_equal(txn_commit(c), 0);
	t = add_task(c, "b", "{\"max_retries\": 2}");
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "b");
	fail_attempt(c, t, "exit_code");
	assert_string_equal(strategy_of(t), "retry_in_place");
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "b");
	pass_attempt(c, t);
	assert_int_equal(s[1].attempts, 2);
	assert_int_equal(s[1].successes, 1);
	/* Another class starts fresh; a lost worker's task (with retries) starts at level 2. Its
	 * requeue spends no retry. */
	t = add_task(c, "c", "{\"max_retries\": 1}");
	assert_string_equal(lease1(c, w2, id, sizeof(id)), "c");
	assert_int_equal(txn_begin(c), 0);
	state_worker_lost(c, w2, "test");
	assert_int_equal(txn_commit(c), 0);
	assert_string_equal(strategy_of(t), "retry_elsewhere");
	assert_int_equal(t->status, TS_PENDING);
	assert_int_equal(t->requeues, 1);
	assert_int_equal(t->retries_used, 0);
	/* Its own failure spends the retry (the lost-worker strategy failed: next level). */
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "c");
	fail_attempt(c, t, "exit_code");
	assert_int_equal(t->status, TS_PENDING);
	assert_int_equal(t->retries_used, 1);
	assert_string_equal(strategy_of(t), "restart_executor");
	/* Out of retries: the recovery fails and is dropped. */
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "c");
	fail_attempt(c, t, "exit_code");
	assert_int_equal(t->status, TS_FAILED);
	assert_null(json_object_get(task_doc(t), "recovery"));
	assert_int_equal(c->rhist->s[RC_WORKER_LOST][2].attempts, 1);
	assert_int_equal(c->rhist->s[RC_WORKER_LOST][2].successes, 0);
	assert_int_equal(c->m_recoveries_failed, 1);

	/* Everything is in the store: a reload sees the same history and no blocked class. */
	{
		struct coord *c2;
		c2 = coord_fixture_reopen(f);
		assert_int_equal(c2->rhist->s[RC_EXIT][1].attempts, 2);
		assert_int_equal(c2->rhist->s[RC_EXIT][1].successes, 1);
		assert_int_equal(c2->rhist->s[RC_EXIT][5].successes, 1);
		assert_int_equal(c2->rhist->s[RC_WORKER_LOST][2].attempts, 1);
		assert_int_equal(json_object_size(c2->blocked_hw), 0);
	}
}

static void test_strikes_quarantine(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w1 = add_worker(c, "w1"), *w2 = add_worker(c, "w2");
	const char *names[] = {"x", "y"};
	char id[64];
	int i;

	for (i = 0; i < 2; i++) {
		struct ctask *t = add_task(c, names[i], "{\"max_retries\": 3}");
		assert_string_equal(lease1(c, w1, id, sizeof(id)), names[i]);
		fail_attempt(c, t, "exit_code");
		if (i == 0) {
			/* In place first, then elsewhere: fails on w1 again, passes on w2. */
			assert_string_equal(strategy_of(t), "retry_in_place");
			assert_string_equal(lease1(c, w1, id, sizeof(id)), names[i]);
			fail_attempt(c, t, "exit_code");
		}
		/* The second time the history (in place 0 of 1, elsewhere 1 of 1) goes elsewhere
		 * at once. */
		assert_string_equal(strategy_of(t), "retry_elsewhere");
		assert_string_equal(lease1(c, w1, id, sizeof(id)), "");
		assert_string_equal(lease1(c, w2, id, sizeof(id)), names[i]);
		pass_attempt(c, t);
		/* One strike per task, however many attempts failed there. */
		assert_int_equal(w1->strikes, i + 1);
		assert_int_equal(w2->strikes, 0);
	}
	/* Threshold 2: w1 is quarantined, gets no work, and says so. */
	assert_true(w1->quarantined);
	assert_int_equal(c->m_quarantines, 1);
	assert_true(json_is_true(json_object_get(w1->doc, "quarantined")));
	add_task(c, "z", "{}");
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "");
	/* A lost worker's task is no strike against it. */
	assert_false(w2->quarantined);
	/* The quarantine ends with its time. */
	w1->quarantine_until_ms = dtf_wall_ms() - 1;
	recovery_tick(c);
	assert_false(w1->quarantined);
	assert_int_equal(w1->strikes, 0);
	assert_null(json_object_get(w1->doc, "quarantined"));
	assert_string_equal(lease1(c, w1, id, sizeof(id)), "z");
	/* A quarantine is kept in the store. */
	assert_int_equal(txn_begin(c), 0);
	recovery_quarantine(c, w2, "by hand", 30);
	assert_int_equal(txn_commit(c), 0);
	c = coord_fixture_reopen(f);
	assert_int_equal(state_load(c), 0);
	w2 = dtf_hmap_get(&c->workers, "w2");
	assert_non_null(w2);
	assert_true(w2->quarantined);
	assert_string_equal(w2->quarantine_reason, "by hand");
	assert_true(w2->quarantine_until_ms > dtf_wall_ms() + 20000);
}

/* A task without retries whose workers keep getting lost is requeued each time and never
 * escalates: no recovery in its document, no quarantine, no blocked hardware class. */
static void test_lost_workers_without_retries(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct ctask *t = add_task(c, "k", "{\"max_requeues\": 5, \"hardware\": \"cpu\"}");
	char id[64], wid[16];
	int i;

	for (i = 1; i <= 5; i++) {
		struct cworker *w;
		snprintf(wid, sizeof(wid), "w%d", i);
		w = add_worker(c, wid);
		assert_string_equal(lease1(c, w, id, sizeof(id)), "k");
		assert_int_equal(txn_begin(c), 0);
		state_worker_lost(c, w, "test");
		assert_int_equal(txn_commit(c), 0);
		assert_int_equal(t->status, TS_PENDING);
		assert_int_equal(t->requeues, i);
		assert_null(json_object_get(task_doc(t), "recovery"));
		assert_false(w->quarantined);
	}
	assert_int_equal(c->m_recoveries_started, 0);
	assert_int_equal(c->m_quarantines, 0);
	assert_int_equal(json_object_size(c->blocked_hw), 0);
	/* The sixth loss is past max_requeues 5: failed, still without a recovery. */
	{
		struct cworker *w = add_worker(c, "w6");
		assert_string_equal(lease1(c, w, id, sizeof(id)), "k");
		assert_int_equal(txn_begin(c), 0);
		state_worker_lost(c, w, "test");
		assert_int_equal(txn_commit(c), 0);
	}
	assert_int_equal(t->status, TS_FAILED);
	assert_int_equal(c->m_recoveries_failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_choose),
	    cmocka_unit_test(test_adjust),
	    cmocka_unit_test(test_quarantine_threshold),
	    cmocka_unit_test(test_worker_failure_kind),
	    cmocka_unit_test_setup_teardown(test_escalation_and_reset, setup,
					    coord_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_strikes_quarantine, setup, coord_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_lost_workers_without_retries, setup,
					    coord_fixture_teardown),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
