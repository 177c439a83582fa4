/* test_sched.c: unit tests of matching and leases (src/core/lease.c) on a coordinator
 * built without HTTP around a private SQLite file: hardware (any of `hardware`, all of
 * `requirements.hardware`), total resources, task types, resource accounting that never
 * over-commits a worker, draining and lost workers, and the reasons given for pending tasks. */
#include <setjmp.h>
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
#include "unit_main.h"

/* The fixture's (a command is added to a task that has none). */
static struct ctask *add_task(struct coord *c, const char *id, const char *text)
{
	return coord_fixture_add_task(c, id, text);
}

static struct cworker *add_worker(struct coord *c, const char *id, const char *text)
{
	return coord_fixture_add_worker(c, id, text);
}

/* Leases up to max tasks to w in one transaction; returns how many it got. */
static size_t lease(struct coord *c, struct cworker *w, int max)
{
	json_t *tasks = coord_fixture_lease(c, w, max);
	size_t n = json_array_size(tasks);

	json_decref(tasks);
	return n;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		print_error("\"%s\" does not contain \"%s\"\n", hay, needle);
	assert_non_null(strstr(hay, needle));
}

static void test_hardware_any_of(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct ctask *t = add_task(c, "t", "{\"hardware\": [\"cuda\", \"rocm\"]}");
	struct ctask *plain = add_task(c, "p", "{}");
	struct cworker *rocm = add_worker(c, "rocm",
					  "{\"capabilities\": {\"hardware\": "
					  "[\"cpu\", \"rocm\"]}}");
	struct cworker *cpu = add_worker(c, "cpu", "{\"capabilities\": {\"hardware\": [\"cpu\"]}}");
	struct cworker *bare = add_worker(c, "bare", "{}");

	assert_true(lease_could_run(t, rocm));
	assert_true(lease_fits_now(t, rocm));
	assert_false(lease_could_run(t, cpu));
	assert_false(lease_fits_now(t, cpu));
	assert_false(lease_could_run(t, bare));
	/* A task that names no hardware runs anywhere. */
	assert_true(lease_could_run(plain, rocm));
	assert_true(lease_could_run(plain, cpu));
	assert_true(lease_could_run(plain, bare));
}

static void test_hardware_all_of(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct ctask *all = add_task(c, "all",
				     "{\"requirements\": {\"hardware\": "
				     "[\"cuda\", \"nvlink\"]}}");
	struct ctask *both = add_task(c, "both",
				      "{\"hardware\": [\"a100\", \"h100\"], "
				      "\"requirements\": {\"hardware\": [\"nvlink\"]}}");
	struct cworker *cuda = add_worker(c, "cuda",
					  "{\"capabilities\": {\"hardware\": "
					  "[\"cuda\", \"a100\"]}}");
	struct cworker *full = add_worker(c, "full",
					  "{\"capabilities\": {\"hardware\": "
					  "[\"cpu\", \"nvlink\", \"cuda\", \"h100\"]}}");
	struct cworker *nv = add_worker(c, "nv",
					"{\"capabilities\": {\"hardware\": "
					"[\"nvlink\", \"cpu\"]}}");

	assert_false(lease_could_run(all, cuda));
	assert_true(lease_could_run(all, full));
	assert_false(lease_could_run(all, nv));
	/* Any of a100/h100 and all of nvlink. */
	assert_false(lease_could_run(both, cuda));
	assert_true(lease_could_run(both, full));
	assert_false(lease_could_run(both, nv));
}

static void test_total_resources(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w",
				       "{\"slots\": 2, \"capabilities\": {\"cpu\": "
				       "{\"cores\": 4}, \"memory\": 1000, "
				       "\"gpu_memory\": 8000}}");
	struct cworker *nogpu = add_worker(c, "nogpu", "{\"capabilities\": {\"memory\": 1000}}");

	assert_int_equal(w->slots, 2);
	assert_true(w->cpu == 4);
	assert_true(w->memory == 1000);
	assert_true(w->gpu_memory == 8000);
	/* Without a core count a worker has as many cores as slots. */
	assert_true(nogpu->cpu == 1);
	assert_true(
	    lease_could_run(add_task(c, "m-eq", "{\"requirements\": {\"memory\": 1000}}"), w));
	assert_false(
	    lease_could_run(add_task(c, "m-big", "{\"requirements\": {\"memory\": 1001}}"), w));
	assert_true(lease_could_run(add_task(c, "c-eq", "{\"requirements\": {\"cpu\": 4}}"), w));
	assert_false(
	    lease_could_run(add_task(c, "c-big", "{\"requirements\": {\"cpu\": 4.5}}"), w));
	assert_true(
	    lease_could_run(add_task(c, "g-eq", "{\"requirements\": {\"gpu_memory\": 8000}}"), w));
	assert_false(
	    lease_could_run(add_task(c, "g-big", "{\"requirements\": {\"gpu_memory\": 8001}}"), w));
	assert_false(lease_could_run(add_task(c, "g-any",
					      "{\"requirements\": "
					      "{\"gpu_memory\": 1}}"),
				     nogpu));
}

static void test_task_types(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct ctask *cmd = add_task(c, "cmd", "{\"type\": \"command\"}");
	struct ctask *test = add_task(c, "test", "{\"type\": \"test\"}");
	struct ctask *bench = add_task(c, "bench", "{\"type\": \"benchmark\"}");
	struct cworker *only = add_worker(c, "only", "{\"task_types\": [\"command\"]}");
	struct cworker *any = add_worker(c, "any", "{}");
	char why[512];

	assert_true(lease_could_run(cmd, only));
	assert_false(lease_could_run(test, only));
	assert_false(lease_could_run(bench, only));
	assert_true(lease_could_run(cmd, any));
	assert_true(lease_could_run(test, any));
	assert_true(lease_could_run(bench, any));
	/* The worker that runs only commands is given only the command. */
	assert_int_equal(lease(c, only, 10), 1);
	assert_int_equal(cmd->status, TS_ASSIGNED);
	assert_int_equal(test->status, TS_PENDING);
	assert_int_equal(bench->status, TS_PENDING);
	/* any could run them, so nothing is unschedulable. */
	assert_false(lease_pending_reason(c, test, why, sizeof(why)));
}

static void test_no_over_commit(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w",
				       "{\"slots\": 4, \"capabilities\": {\"cpu\": "
				       "{\"cores\": 4}, \"memory\": 1000}}");
	struct ctask *first = NULL, *t;
	char id[16];
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "t%d", i);
		t = add_task(c, id, "{\"requirements\": {\"memory\": 400}}");
		if (!first)
			first = t;
	}
	assert_int_equal(lease(c, w, 10), 2);
	assert_true(w->used_memory == 800);
	assert_int_equal(w->used_slots, 2);
	assert_int_equal(w->active, 2);
	assert_int_equal(lease(c, w, 10), 0);
	assert_int_equal(c->pending_count, 8);
	assert_int_equal(c->counts[TS_ASSIGNED], 2);

	/* Completing one frees its memory for exactly one more. */
	assert_int_equal(first->status, TS_ASSIGNED);
	state_release(c, first);
	state_set_status(c, first, TS_COMPLETED);
	assert_true(w->used_memory == 400);
	assert_int_equal(w->used_slots, 1);
	assert_int_equal(lease(c, w, 10), 1);
	assert_true(w->used_memory == 800);
	assert_int_equal(lease(c, w, 10), 0);
	assert_int_equal(c->counts[TS_COMPLETED], 1);
	assert_int_equal(c->counts[TS_ASSIGNED], 2);
	assert_int_equal(c->pending_count, 7);
}

static void test_slots_and_cores(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w",
				       "{\"slots\": 4, \"capabilities\": {\"cpu\": "
				       "{\"cores\": 4}}}");
	char id[16];
	int i;

	/* Tasks without requirements take one slot each: four at most. */
	for (i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "s%d", i);
		add_task(c, id, "{\"priority\": 1}");
	}
	/* Tasks that need 3 of the 4 cores: one at a time. */
	for (i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		add_task(c, id, "{\"priority\": 2, \"requirements\": {\"cpu\": 3}}");
	}
	assert_int_equal(lease(c, w, 2), 2);
	assert_int_equal(lease(c, w, 10), 2);
	assert_int_equal(w->used_slots, 4);
	assert_int_equal(lease(c, w, 10), 0);
	/* Free all four slots: only one of the three-core tasks fits. */
	for (i = 0; i < 4; i++) {
		struct ctask *t;
		snprintf(id, sizeof(id), "s%d", i);
		t = dtf_hmap_get(&c->tasks, id);
		assert_non_null(t);
		assert_int_equal(t->status, TS_ASSIGNED);
		state_release(c, t);
		state_set_status(c, t, TS_COMPLETED);
	}
	assert_int_equal(w->used_slots, 0);
	/* s4 and s5 come first (priority 1), then one c task fills three cores; the fourth core
	 * is too few for another. */
	assert_int_equal(lease(c, w, 10), 3);
	assert_true(w->used_cpu == 3);
	assert_int_equal(w->used_slots, 3);
	assert_int_equal(lease(c, w, 10), 0);
}

static void test_skips_what_does_not_fit(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct ctask *gpu = add_task(c, "gpu", "{\"priority\": 1, \"hardware\": \"cuda\"}");
	struct ctask *big = add_task(c, "big",
				     "{\"priority\": 1, \"requirements\": "
				     "{\"memory\": 5000}}");
	struct ctask *fits = add_task(c, "fits", "{\"priority\": 9}");
	struct cworker *w = add_worker(c, "w",
				       "{\"slots\": 2, \"capabilities\": "
				       "{\"hardware\": [\"cpu\"], \"memory\": 1000}}");

	/* Tasks of higher priority that this worker cannot run do not block the rest. */
	assert_int_equal(lease(c, w, 10), 1);
	assert_int_equal(fits->status, TS_ASSIGNED);
	assert_int_equal(gpu->status, TS_PENDING);
	assert_int_equal(big->status, TS_PENDING);
	assert_int_equal(lease(c, w, 0), 0);
	assert_int_equal(lease(c, w, -1), 0);
}

static void test_draining_and_lost(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct ctask *t = add_task(c, "t", "{}");
	struct cworker *drain = add_worker(c, "drain", "{\"status\": \"draining\", \"slots\": 4}");
	struct cworker *lost = add_worker(c, "lost", "{\"status\": \"lost\", \"slots\": 4}");
	char why[512];

	assert_int_equal(drain->status, WS_DRAINING);
	assert_int_equal(lost->status, WS_LOST);
	/* A draining worker could run it (it may come back), but gets nothing now. */
	assert_true(lease_could_run(t, drain));
	assert_false(lease_fits_now(t, drain));
	assert_false(lease_could_run(t, lost));
	assert_false(lease_fits_now(t, lost));
	assert_int_equal(lease(c, drain, 10), 0);
	assert_int_equal(lease(c, lost, 10), 0);
	assert_int_equal(t->status, TS_PENDING);
	assert_int_equal(c->m_leases, 0);
	assert_false(lease_pending_reason(c, t, why, sizeof(why)));
	assert_contains(why, "busy");
}

static void test_reason_no_worker(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct ctask *t = add_task(c, "t", "{\"hardware\": \"cuda\"}");
	char why[512];

	assert_false(lease_pending_reason(c, t, why, sizeof(why)));
	assert_string_equal(why, "no worker is registered yet");
	/* Lost workers do not count as registered. */
	add_worker(c, "lost",
		   "{\"status\": \"lost\", \"capabilities\": {\"hardware\": "
		   "[\"cuda\"]}}");
	assert_false(lease_pending_reason(c, t, why, sizeof(why)));
	assert_string_equal(why, "no worker is registered yet");
}

static void test_reason_unschedulable(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct ctask *any = add_task(c, "any", "{\"hardware\": [\"cuda\", \"rocm\"]}");
	struct ctask *all = add_task(c, "all",
				     "{\"hardware\": \"cuda\", \"requirements\": "
				     "{\"hardware\": [\"nvlink\"]}}");
	struct ctask *mem = add_task(c, "mem", "{\"requirements\": {\"memory\": 2048}}");
	char why[512];

	add_worker(c, "cpu", "{\"capabilities\": {\"hardware\": [\"cpu\"], \"memory\": 1024}}");
	add_worker(c, "cpu2", "{\"capabilities\": {\"hardware\": [\"cpu\"], \"memory\": 1024}}");
	assert_true(lease_pending_reason(c, any, why, sizeof(why)));
	assert_contains(why, "cuda or rocm");
	assert_contains(why, "2 workers registered");
	assert_true(lease_pending_reason(c, all, why, sizeof(why)));
	assert_contains(why, "cuda and nvlink");
	assert_true(lease_pending_reason(c, mem, why, sizeof(why)));
	assert_contains(why, "memory 2048 MiB");
	/* A small buffer still gets a terminated (truncated) reason. */
	assert_true(lease_pending_reason(c, any, why, 10));
	assert_int_equal(strlen(why), 9);
}

static void test_reason_busy_and_waiting(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "gpu",
				       "{\"slots\": 1, \"capabilities\": {\"hardware\": "
				       "[\"cuda\"]}}");
	struct ctask *a = add_task(c, "a", "{\"priority\": 3, \"hardware\": \"cuda\"}");
	struct ctask *b = add_task(c, "b", "{\"priority\": 3, \"hardware\": \"cuda\"}");
	struct ctask *low = add_task(c, "low", "{\"priority\": 7}");
	char why[512];

	assert_false(lease_pending_reason(c, a, why, sizeof(why)));
	assert_string_equal(why, "waiting for a worker to ask for work");
	assert_false(lease_pending_reason(c, low, why, sizeof(why)));
	assert_string_equal(why, "behind 2 tasks of higher priority");
	assert_int_equal(lease(c, w, 1), 1);
	assert_int_equal(a->status, TS_ASSIGNED);
	assert_false(lease_pending_reason(c, b, why, sizeof(why)));
	assert_string_equal(why, "all workers that can run it are busy (1 fitting, all full)");
	assert_false(lease_pending_reason(c, low, why, sizeof(why)));
	assert_string_equal(why, "all workers that can run it are busy (1 fitting, all full); "
				 "behind 1 tasks of higher priority");
	/* A task in backoff says so first. */
	b->sx.not_before_ms = dtf_mono_ms() + 60000;
	assert_false(lease_pending_reason(c, b, why, sizeof(why)));
	assert_contains(why, "backoff");
	/* And it is not leased before its time, even with room. */
	state_release(c, a);
	state_set_status(c, a, TS_COMPLETED);
	assert_int_equal(lease(c, w, 1), 1);
	assert_int_equal(b->status, TS_PENDING);
	assert_int_equal(low->status, TS_ASSIGNED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    coord_fixture_test(test_hardware_any_of),
	    coord_fixture_test(test_hardware_all_of),
	    coord_fixture_test(test_total_resources),
	    coord_fixture_test(test_task_types),
	    coord_fixture_test(test_no_over_commit),
	    coord_fixture_test(test_slots_and_cores),
	    coord_fixture_test(test_skips_what_does_not_fit),
	    coord_fixture_test(test_draining_and_lost),
	    coord_fixture_test(test_reason_no_worker),
	    coord_fixture_test(test_reason_unschedulable),
	    coord_fixture_test(test_reason_busy_and_waiting),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
