/* test_constraints.c: unit tests of constraint expressions in the coordinator
 * (src/core/constraints.c with lease.c) on a coordinator built without HTTP around a
 * private SQLite file: placement by labels, constraints on free resources checked at each lease,
 * the coordinator's default constraints, pending reasons that name the constraint, stored
 * expressions that no longer compile, and the checks of configuration and worker labels. */
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

/* The fixture with the built-in constraint registry and no defaults. */
static void prepare(struct coord *c)
{
	char err[256];
	int rc = constraints_registry_new(NULL, NULL, &c->constraints, err, sizeof(err));

	if (rc)
		print_error("constraints_registry_new: %s\n", err);
	assert_int_equal(rc, 0);
}

static int setup(void **state)
{
	*state = coord_fixture_new(prepare);
	return *state ? 0 : -1;
}

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

/* Compiles default constraints (from config text, then flags) into the coordinator. */
static void set_defaults(struct coord *c, const char *config, const char *const *flags)
{
	char err[256];
	json_t *doc = config ? dtf_json_parse(config, strlen(config), err, sizeof(err)) : NULL;
	int rc;

	constraints_registry_free(c->constraints);
	rc = constraints_registry_new(doc, flags, &c->constraints, err, sizeof(err));
	if (rc)
		print_error("constraints_registry_new: %s\n", err);
	assert_int_equal(rc, 0);
	json_decref(doc);
}

static void test_labels_place_tasks(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *lin = add_worker(c, "lin",
					 "{\"slots\": 2, \"labels\": {\"os\": \"linux\", "
					 "\"zone\": \"a\"}}");
	struct cworker *win = add_worker(c, "win",
					 "{\"slots\": 2, \"labels\": {\"os\": "
					 "\"windows\", \"zone\": \"b\"}}");
	struct ctask *t = add_task(c, "t", "{\"constraints\": \"worker.labels.os == 'linux'\"}");
	struct ctask *z = add_task(c, "z",
				   "{\"constraints\": [\"worker.labels.zone in ['b', "
				   "'c']\", \"!(worker.labels.os == 'linux')\"]}");
	char why[512];

	(void)state;
	assert_non_null(t->constraints);
	assert_true(lease_could_run(t, lin));
	assert_false(lease_could_run(t, win));
	assert_false(lease_fits_now(t, win));
	assert_true(lease_could_run(z, win));
	assert_false(lease_could_run(z, lin));
	assert_false(lease_pending_reason(c, t, why, sizeof(why)));
	/* Each worker gets only what it may run. */
	assert_int_equal(lease(c, win, 10), 1);
	assert_int_equal(z->status, TS_ASSIGNED);
	assert_string_equal(z->worker_id, "win");
	assert_int_equal(t->status, TS_PENDING);
	assert_int_equal(lease(c, lin, 10), 1);
	assert_string_equal(t->worker_id, "lin");
}

/* worker.available_* is the free capacity at the lease, not the total. */
static void test_available_at_lease(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w",
				       "{\"slots\": 3, \"capabilities\": {\"memory\": "
				       "1000}}");
	struct ctask *t[3];
	char why[512];
	int i;

	for (i = 0; i < 3; i++) {
		char id[8];
		snprintf(id, sizeof(id), "t%d", i);
		t[i] = add_task(c, id,
				"{\"constraints\": [\"worker.available_slots >= 2\", "
				"\"task.memory <= worker.available_memory\"]}");
	}
	(void)t;
	assert_true(lease_could_run(t[0], w));
	/* Three slots free, then two: the third lease finds one. */
	assert_int_equal(lease(c, w, 10), 2);
	assert_int_equal(w->used_slots, 2);
	assert_false(lease_fits_now(t[2], w));
	assert_true(lease_could_run(t[2], w));
	assert_false(lease_pending_reason(c, t[2], why, sizeof(why)));
	assert_contains(why, "busy");
}

/* The reason names the constraint no worker meets; a task nobody's constraints stop is told by
 * hardware or capacity as before. */
static void test_reason_names_constraint(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct ctask *mac, *both, *rocm;
	char why[512];

	(void)state;
	add_worker(c, "lin", "{\"labels\": {\"os\": \"linux\", \"zone\": \"a\"}}");
	add_worker(c, "win", "{\"labels\": {\"os\": \"windows\", \"zone\": \"b\"}}");
	mac = add_task(c, "mac",
		       "{\"constraints\": [\"worker.labels.zone != 'c'\", "
		       "\"worker.labels.os == 'macos'\"]}");
	both = add_task(c, "both",
			"{\"constraints\": [\"worker.labels.os == 'linux'\", "
			"\"worker.labels.zone == 'b'\"]}");
	rocm = add_task(c, "rocm",
			"{\"hardware\": \"rocm\", \"constraints\": "
			"\"worker.labels.os == 'macos'\"}");
	assert_true(lease_pending_reason(c, mac, why, sizeof(why)));
	assert_string_equal(why, "no registered worker can run it: none of the 2 workers with its "
				 "hardware and capacity satisfies constraint "
				 "'worker.labels.os == 'macos''");
	assert_true(lease_pending_reason(c, both, why, sizeof(why)));
	assert_contains(why, "satisfies all its constraints together");
	assert_true(lease_pending_reason(c, rocm, why, sizeof(why)));
	assert_contains(why, "none has hardware rocm");
}

static void test_default_constraints(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	static const char *const flags[] = {"worker.labels.zone == 'a'", NULL};
	struct cworker *a, *b;
	struct ctask *t, *own, *gpu;
	char why[512];

	(void)state;
	set_defaults(c, "{\"scheduler\": {\"default_constraints\": [\"'os' in worker.labels\"]}}",
		     flags);
	a = add_worker(c, "a", "{\"labels\": {\"os\": \"linux\", \"zone\": \"a\"}}");
	b = add_worker(c, "b", "{\"labels\": {\"os\": \"linux\", \"zone\": \"b\"}}");
	t = add_task(c, "t", "{}");
	own = add_task(c, "own", "{\"constraints\": \"worker.labels.zone == 'b'\"}");
	assert_non_null(t->constraints);
	assert_true(lease_could_run(t, a));
	assert_false(lease_could_run(t, b));
	/* Defaults apply on top of a task's own constraints. */
	assert_false(lease_could_run(own, a));
	assert_false(lease_could_run(own, b));
	assert_true(lease_pending_reason(c, own, why, sizeof(why)));
	assert_contains(why, "satisfies all its constraints together");
	/* The only cuda worker is in zone c: the default constraint is named. */
	add_worker(c, "g",
		   "{\"labels\": {\"os\": \"linux\", \"zone\": \"c\"}, "
		   "\"capabilities\": {\"hardware\": [\"cuda\"]}}");
	gpu = add_task(c, "gpu", "{\"hardware\": \"cuda\"}");
	assert_true(lease_pending_reason(c, gpu, why, sizeof(why)));
	assert_string_equal(why, "no registered worker can run it: none of the 1 worker with its "
				 "hardware and capacity satisfies the coordinator's default "
				 "constraint 'worker.labels.zone == 'a''");
	assert_int_equal(lease(c, b, 10), 0);
	assert_int_equal(lease(c, a, 10), 1);
	assert_int_equal(t->status, TS_ASSIGNED);
}

/* A stored expression that does not compile (another version wrote it) blocks only its task. */
static void test_broken_stored_constraint(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w", "{}");
	json_t *doc = json_pack("{s:s,s:[s],s:[s],s:s}", "id", "old", "command", "true",
				"constraints", "os == linux", "type", "command");
	struct ctask *t;
	char why[512];

	(void)state;
	t = state_add_task(c, doc, TS_PENDING);
	assert_non_null(t);
	assert_false(lease_could_run(t, w));
	assert_true(lease_pending_reason(c, t, why, sizeof(why)));
	assert_contains(why, "constraint 'os == linux' does not compile: position 1: unknown name");
	assert_int_equal(lease(c, w, 10), 0);
}

/* Tasks with the same constraint text share one compiled copy, given back with the last task. */
static void test_shared_expressions(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct cworker *w = add_worker(c, "w", "{\"labels\": {\"os\": \"linux\"}}");
	struct ctask *ts[50], *other;
	int i;

	(void)state;
	for (i = 0; i < 50; i++) {
		char id[8];
		snprintf(id, sizeof(id), "t%d", i);
		ts[i] = add_task(c, id,
				 "{\"constraints\": [\"worker.labels.os == 'linux'\", "
				 "\"task.cpu <= worker.available_cpu\"]}");
	}
	other = add_task(c, "other",
			 "{\"constraints\": [\"worker.labels.os == 'linux'\", "
			 "\"worker.labels.os != 'windows'\"]}");
	assert_int_equal(constraints_registry_size(c->constraints), 3);
	assert_true(lease_could_run(ts[49], w));
	assert_true(lease_could_run(other, w));
	for (i = 0; i < 50; i++)
		state_remove_task(c, ts[i]);
	assert_int_equal(constraints_registry_size(c->constraints), 2);
	assert_true(lease_could_run(other, w));
	state_remove_task(c, other);
	assert_int_equal(constraints_registry_size(c->constraints), 0);
}

static void test_config_errors(void **state)
{
	struct dtf_constraints *s = NULL;
	char err[256];
	json_t *doc;
	static const char *const bad_flag[] = {"true", "worker.labels.os ==", NULL};

	(void)state;
	doc = json_pack("{s:{s:[s,s]}}", "scheduler", "default_constraints", "true", "x == 1");
	assert_int_not_equal(constraints_defaults(doc, NULL, &s, err, sizeof(err)), 0);
	assert_null(s);
	assert_string_equal(err,
			    "default constraint scheduler.default_constraints[1]: position 1: "
			    "unknown name 'x' (fields start with task. or worker.; quote text)");
	json_decref(doc);
	doc = json_pack("{s:{s:{s:i}}}", "coordinator", "scheduler", "default_constraints", 3);
	assert_int_not_equal(constraints_defaults(doc, NULL, &s, err, sizeof(err)), 0);
	assert_contains(err, "must be a list of expressions");
	json_decref(doc);
	assert_int_not_equal(constraints_defaults(NULL, bad_flag, &s, err, sizeof(err)), 0);
	assert_string_equal(err, "default constraint --constraint 'worker.labels.os ==': position "
				 "20: expected an operand, found the end of the expression");
	/* None at all is no set. */
	assert_int_equal(constraints_defaults(NULL, NULL, &s, err, sizeof(err)), 0);
	assert_null(s);
	doc = json_pack("{s:{s:s}}", "scheduler", "default_constraints", "true");
	assert_int_equal(constraints_defaults(doc, NULL, &s, err, sizeof(err)), 0);
	assert_non_null(s);
	constraints_free(s);
	json_decref(doc);
}

static void test_labels_checked(void **state)
{
	char err[256];
	json_t *v;

	(void)state;
	v = json_pack("{s:s,s:i,s:b}", "os", "linux", "rack", 3, "ssd", 1);
	assert_true(constraints_labels_ok(v, err, sizeof(err)));
	json_decref(v);
	v = json_pack("{s:[s]}", "os", "linux");
	assert_false(constraints_labels_ok(v, err, sizeof(err)));
	assert_contains(err, "label 'os' must be a string");
	json_decref(v);
	v = json_pack("[s]", "os=linux");
	assert_false(constraints_labels_ok(v, err, sizeof(err)));
	assert_contains(err, "'labels' must be an object");
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_labels_place_tasks, setup, coord_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_available_at_lease, setup, coord_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_reason_names_constraint, setup,
					    coord_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_default_constraints, setup,
					    coord_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_broken_stored_constraint, setup,
					    coord_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_shared_expressions, setup, coord_fixture_teardown),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_labels_checked),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
