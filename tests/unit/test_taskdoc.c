/* test_taskdoc.c: unit tests of a pending task's document kept as compact JSON text
 * (src/core/taskdoc.c): the document read back is the one written, member order and
 * number types included; the scheduler's fields stay valid while it is text; tasks whose fields
 * borrow from their document (hardware lists, plugin types, deadlines, recoveries) and tasks that
 * are not pending keep their parsed document. */
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
#include "core/model.h"
#include "unit_main.h"

/* A task as state_add_task() sets it up, from a submitted JSON text. */
static struct ctask *task_of(const char *submitted, enum task_status st)
{
	static const char *const plugin_types[] = {"xplugin", NULL};
	struct ctask *t = calloc(1, sizeof(*t));
	json_t *in = json_loads(submitted, JSON_ALLOW_NUL, NULL);
	char err[256];

	assert_non_null(t);
	assert_non_null(in);
	t->jdoc = task_normalize_ex(in, 3600, plugin_types, err, sizeof(err));
	if (!t->jdoc)
		print_error("task_normalize_ex: %s\n", err);
	assert_non_null(t->jdoc);
	json_decref(in);
	json_object_set_new(t->jdoc, "id", json_string("t-1"));
	json_object_set_new(t->jdoc, "created_at", json_string("2026-11-24T05:00:00.000Z"));
	json_object_set_new(t->jdoc, "attempt", json_integer(0));
	json_object_set_new(t->jdoc, "seq", json_integer(7));
	json_object_set_new(t->jdoc, "status", json_string(task_status_name(st)));
	t->status = st;
	t->type = dtf_json_str(t->jdoc, "type", "command");
	t->hw_any = json_object_get(t->jdoc, "hardware");
	t->hw_all = json_object_get(json_object_get(t->jdoc, "requirements"), "hardware");
	return t;
}

static void free_task(struct ctask *t)
{
	task_doc_free(t);
	free(t);
}

static void test_round_trip(void **state)
{
	struct ctask *t =
	    task_of("{\"name\":\"a b\",\"command\":[\"sh\",\"-c\",\"echo \\u00e9\"],"
		    "\"timeout_s\":2.5,\"priority\":3,\"env\":{\"K\":\"v\"},"
		    "\"params\":{\"n\":9007199254740993,\"r\":1.0,\"z\":\"a\\u0000b\"},"
		    "\"model\":\"m\",\"labels\":{\"x\":[1,2]}}",
		    TS_PENDING);
	char *before = json_dumps(t->jdoc, JSON_COMPACT), *after;
	json_t *copy = json_deep_copy(t->jdoc), *doc;

	(void)state;
	task_compact(t);
	assert_null(t->jdoc);
	assert_non_null(t->text);
	/* The scheduler's fields need no document while it is text. */
	assert_string_equal(t->type, "command");
	assert_true(json_is_array(t->hw_any) && json_array_size(t->hw_any) == 0);
	assert_true(json_is_array(t->hw_all) && json_array_size(t->hw_all) == 0);

	/* Shown: a parsed copy, the task stays text. */
	doc = task_doc_copy(t);
	assert_non_null(doc);
	assert_null(t->jdoc);
	assert_non_null(t->text);
	assert_true(json_equal(doc, copy));
	json_decref(doc);

	doc = task_doc(t);
	assert_non_null(doc);
	assert_ptr_equal(doc, t->jdoc);
	assert_null(t->text);
	assert_true(json_equal(doc, copy));
	after = json_dumps(doc, JSON_COMPACT);
	assert_string_equal(before, after);
	assert_true(json_is_real(json_object_get(json_object_get(doc, "params"), "r")));
	assert_true(json_is_integer(json_object_get(doc, "seq")));
	assert_ptr_equal(t->hw_any, json_object_get(doc, "hardware"));
	assert_ptr_equal(t->hw_all,
			 json_object_get(json_object_get(doc, "requirements"), "hardware"));
	/* A second read is the same document. */
	assert_ptr_equal(task_doc(t), doc);
	free(before);
	free(after);
	json_decref(copy);
	free_task(t);
}

static void expect_kept(const char *submitted, enum task_status st)
{
	struct ctask *t = task_of(submitted, st);
	json_t *doc = t->jdoc;

	task_compact(t);
	assert_ptr_equal(t->jdoc, doc);
	assert_null(t->text);
	assert_ptr_equal(task_doc(t), doc);
	free_task(t);
}

static void test_kept_parsed(void **state)
{
	(void)state;
	expect_kept("{\"command\":[\"true\"]}", TS_ASSIGNED);
	expect_kept("{\"command\":[\"true\"]}", TS_RUNNING);
	expect_kept("{\"command\":[\"true\"],\"hardware\":\"gpu\"}", TS_COMPLETED);
	expect_kept("{\"command\":[\"true\"],\"hardware\":\"gpu\"}", TS_PENDING);
	expect_kept("{\"command\":[\"true\"],\"requirements\":{\"hardware\":[\"gpu\"]}}",
		    TS_PENDING);
	expect_kept("{\"command\":[\"true\"],\"requirements\":{\"cpu\":2}}", TS_PENDING);
	expect_kept("{\"type\":\"xplugin\"}", TS_PENDING);
	expect_kept("{\"command\":[\"true\"],\"deadline\":\"2030-01-01T00:00:00Z\"}", TS_PENDING);
}

/* A finished task is kept as text too (its document, with its result, is read again only when it
 * is shown or reported), and reads back the same. */
static void test_finished_text(void **state)
{
	static const enum task_status final[] = {TS_COMPLETED, TS_FAILED, TS_CANCELLED};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(final) / sizeof(final[0]); i++) {
		struct ctask *t = task_of("{\"command\":[\"true\"],\"name\":\"n\"}", final[i]);
		char *before, *after;

		json_object_set_new(t->jdoc, "result",
				    json_pack("{s:i,s:s,s:f}", "exit_code", 0, "stdout", "ok\n",
					      "duration_s", 0.25));
		before = json_dumps(t->jdoc, JSON_COMPACT);
		task_compact(t);
		assert_null(t->jdoc);
		assert_non_null(t->text);
		/* Kept packed (taskdoc.c): shorter than its JSON, which it reads back as. */
		assert_true(t->packed);
		assert_true(strlen(t->text) < strlen(before));
		after = json_dumps(task_doc(t), JSON_COMPACT);
		assert_string_equal(after, before);
		free(before);
		free(after);
		free_task(t);
	}
}

/* The packed text reads back byte for byte, also where the packed members' text appears inside
 * strings (escaped there) or as a prefix of other members, and with the task's id and run_id. */
static void test_packed_round_trip(void **state)
{
	struct ctask *t = task_of("{\"command\":[\"echo\",\"\\\"id\\\":\\\"t-1\\\"\"],"
				  "\"name\":\"\\\"priority\\\": \\u00e9\",\"env\":{\"A\":\"\\n\"},"
				  "\"params\":{\"id\":\"t-1\",\"run_id\":\"r-2\",\"status\":\"x\","
				  "\"seq\":[]}}",
				  TS_PENDING);
	char *before, *after;

	(void)state;
	snprintf(t->id, sizeof(t->id), "t-1");
	snprintf(t->run_id, sizeof(t->run_id), "r-1");
	json_object_set_new(t->jdoc, "run_id", json_string("r-1"));
	before = json_dumps(t->jdoc, JSON_COMPACT);
	task_compact(t);
	assert_null(t->jdoc);
	assert_true(t->packed);
	assert_true(strlen(t->text) < strlen(before));
	after = json_dumps(task_doc(t), JSON_COMPACT);
	assert_string_equal(after, before);
	free(before);
	free(after);
	free_task(t);
}

static void test_recovery_kept(void **state)
{
	struct ctask *t = task_of("{\"command\":[\"true\"]}", TS_PENDING);
	json_t *doc = t->jdoc;

	(void)state;
	json_object_set_new(doc, "recovery", json_pack("{s:i}", "level", 2));
	t->rec = json_object_get(doc, "recovery");
	task_compact(t);
	assert_ptr_equal(t->jdoc, doc);
	assert_null(t->text);
	free_task(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),	      cmocka_unit_test(test_kept_parsed),
	    cmocka_unit_test(test_finished_text),     cmocka_unit_test(test_recovery_kept),
	    cmocka_unit_test(test_packed_round_trip),
	};
	return dtf_unit_run(tests, NULL, NULL);
}
