/* test_plugin_dispatch.c: unit tests of hook dispatch (src/plugin/dispatch.c): plugins are
 * called in the enabled order, each exactly once per event; a plugin whose hook errors is
 * disabled, skipped from then on, and reported as plugin_failed; a slow plugin is disabled after
 * its budget without holding up the others; dtf_plugins_fire never blocks and a full queue drops
 * its oldest events (counted); hook filters; timers, custom events and the host's tasks; and exec
 * plugins (one JSON line per event, restarts, a program that keeps dying, one that stops reading).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../fixtures/plugins/unit_helpers.h"
#include "common/err.h"
#include "unit_main.h"

#define DIR DTF_TEST_PLUGIN_DIR

static void fire_task(struct dtf_plugins *p, enum dtf_hook hook, int i)
{
	char id[32];
	json_t *payload;

	snprintf(id, sizeof(id), "t-%d", i);
	payload = json_pack("{s:s,s:i}", "id", id, "n", i);
	dtf_plugins_fire(p, hook, payload);
	json_decref(payload);
}

/* The n-th field (0-based, space-separated) of a line, into out. */
static void nth_field(const char *line, int n, char *out, size_t len)
{
	const char *s = line;
	size_t k;

	while (n-- > 0 && s) {
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	if (!s) {
		out[0] = '\0';
		return;
	}
	k = strcspn(s, " \n");
	snprintf(out, len, "%.*s", (int)k, s);
}

static void test_order_exactly_once(void **state)
{
	char err[1024] = "", rec[512], line_want[128];
	struct dtf_plugins *p;
	char *text, *line;
	int i, n = 0, expect_i = 0, expect_p = 0;
	const char *names[] = {"rec_a", "rec_b", "rec_c"};

	(void)state;
	tmp_path(rec, sizeof(rec), "order.rec");
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  directories: [%s]\n  enabled: [rec_b, rec_a, rec_c]\n"
		      "  config:\n    rec_a: {record: %s, hooks: [task_created]}\n"
		      "    rec_b: {record: %s, hooks: [task_created]}\n"
		      "    rec_c: {record: %s, hooks: [task_created]}\n",
		      DIR, rec, rec, rec);
	assert_non_null(p);
	for (i = 0; i < 200; i++)
		fire_task(p, DTF_HOOK_TASK_CREATED, i);
	dtf_plugins_free(p); /* delivers everything queued */
	names[0] = "rec_b";
	names[1] = "rec_a";
	text = read_text(rec);
	for (line = text; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		char who[32], hook[32];
		nth_field(line, 0, who, sizeof(who));
		nth_field(line, 1, hook, sizeof(hook));
		if (strcmp(hook, "task_created") != 0)
			continue;
		/* rec_b, rec_a, rec_c for t-0, then for t-1, … each once. */
		snprintf(line_want, sizeof(line_want), "%s task_created {\"id\":\"t-%d\",\"n\":%d}",
			 names[expect_p], expect_i, expect_i);
		if (strncmp(line, line_want, strlen(line_want)) != 0) {
			fprintf(stderr, "line %d: got \"%.80s\", want \"%s\"\n", n, line,
				line_want);
			fail();
		}
		n++;
		if (++expect_p == 3) {
			expect_p = 0;
			expect_i++;
		}
	}
	assert_int_equal(n, 600);
	free(text);
}

static void test_error_disables(void **state)
{
	char err[1024] = "", rec[512], buf[32];
	struct dtf_plugins *p;
	json_t *e;
	char *text;
	int i;

	(void)state;
	th_reset();
	tmp_path(rec, sizeof(rec), "error.rec");
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  directories: [%s]\n  enabled: [rec_a, rec_b]\n"
		      "  config:\n    rec_a: {record: %s, fail_on: task_created}\n"
		      "    rec_b: {record: %s}\n",
		      DIR, rec, rec);
	assert_non_null(p);
	for (i = 0; i < 3; i++)
		fire_task(p, DTF_HOOK_TASK_CREATED, i);
	assert_int_equal(wait_lines(rec, "rec_b task_created", 3, 10000), 3);
	assert_string_equal(state_of(p, "rec_a", buf, sizeof(buf)), "disabled");
	e = entry_of(p, "rec_a");
	assert_has(dtf_json_str(e, "reason", ""), "the task_created hook failed (-1)", "reason");
	assert_has(dtf_json_str(e, "reason", ""), "refusing task_created on purpose", "reason");
	assert_int_equal(dtf_json_int(json_object_get(e, "counters"), "errors", 0), 1);
	json_decref(e);
	/* The others hear about it. */
	assert_int_equal(wait_lines(rec, "rec_b custom {\"name\":\"plugin_failed\"", 1, 10000), 1);
	assert_int_equal(th_count("plugin_failed", "\"plugin\":\"rec_a\""), 1);
	fire_task(p, DTF_HOOK_TASK_COMPLETED, 9);
	dtf_plugins_free(p);
	text = read_text(rec);
	/* Disabled after its first error: skipped from then on (its shutdown still runs). */
	assert_int_equal(count_prefix(text, "rec_a task_created"), 1);
	assert_int_equal(count_prefix(text, "rec_a task_completed"), 0);
	assert_int_equal(count_prefix(text, "rec_a shutdown"), 1);
	assert_int_equal(count_prefix(text, "rec_b task_created"), 3);
	assert_int_equal(count_prefix(text, "rec_b task_completed"), 1);
	free(text);
}

static void test_max_errors(void **state)
{
	char err[1024] = "", rec[512], buf[32];
	struct dtf_plugins *p;
	int i;

	(void)state;
	tmp_path(rec, sizeof(rec), "maxerr.rec");
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  directories: [%s]\n  enabled: [rec_a]\n"
		      "  config:\n    rec_a: {record: %s, fail_on: task_created, max_errors: 3}\n",
		      DIR, rec);
	assert_non_null(p);
	for (i = 0; i < 2; i++)
		fire_task(p, DTF_HOOK_TASK_CREATED, i);
	assert_int_equal(wait_lines(rec, "rec_a task_created", 2, 10000), 2);
	sleep_ms(50);
	assert_string_equal(state_of(p, "rec_a", buf, sizeof(buf)), "enabled");
	fire_task(p, DTF_HOOK_TASK_CREATED, 2);
	fire_task(p, DTF_HOOK_TASK_CREATED, 3);
	dtf_plugins_free(p);
	{
		char *text = read_text(rec);
		assert_int_equal(count_prefix(text, "rec_a task_created"), 3);
		free(text);
	}
}

static void test_slow_plugin_does_not_block(void **state)
{
	char err[1024] = "", rec[512], buf[32];
	struct dtf_plugins *p;
	int64_t start, took;
	json_t *e;
	int i;

	(void)state;
	th_reset();
	tmp_path(rec, sizeof(rec), "slow.rec");
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  directories: [%s]\n  enabled: [slow, rec_a]\n"
		      "  config:\n    slow: {sleep_ms: 2500, hook_timeout: 0.2}\n"
		      "    rec_a: {record: %s}\n",
		      DIR, rec);
	assert_non_null(p);
	start = dtf_mono_ms();
	for (i = 0; i < 5; i++)
		fire_task(p, DTF_HOOK_TASK_CREATED, i);
	took = dtf_mono_ms() - start;
	assert_true(took < 200); /* firing never waits for a plugin */
	assert_int_equal(wait_lines(rec, "rec_a task_created", 5, 10000), 5);
	took = dtf_mono_ms() - start;
	/* Without the budget, rec_a would have waited 5 x 2.5 s. */
	if (took >= 2000)
		fprintf(stderr, "rec_a got its 5 events after %lld ms\n", (long long)took);
	assert_true(took < 2000);
	assert_string_equal(state_of(p, "slow", buf, sizeof(buf)), "disabled");
	e = entry_of(p, "slow");
	assert_has(dtf_json_str(e, "reason", ""),
		   "the task_created hook took longer than its 0.2 s budget", "reason");
	assert_int_equal(dtf_json_int(json_object_get(e, "counters"), "timeouts", 0), 1);
	assert_int_equal(dtf_json_int(json_object_get(e, "counters"), "events", 0), 1);
	json_decref(e);
	assert_int_equal(th_count("plugin_failed", "\"plugin\":\"slow\""), 1);
	dtf_plugins_free(p); /* waits for the slow hook to return, then shuts it down */
}

static void test_fire_never_blocks_drops_oldest(void **state)
{
	char err[1024] = "", rec[512];
	struct dtf_plugins *p;
	int64_t start, took;
	json_t *doc;
	long long dropped;
	char *text;
	int i, got;

	(void)state;
	tmp_path(rec, sizeof(rec), "drop.rec");
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  directories: [%s]\n  enabled: [rec_a]\n  queue_size: 8\n"
		      "  config:\n    rec_a: {record: %s, sleep_on: all, sleep_ms: 50,"
		      " hooks: [task_created]}\n",
		      DIR, rec);
	assert_non_null(p);
	start = dtf_mono_ms();
	for (i = 0; i < 200; i++)
		fire_task(p, DTF_HOOK_TASK_CREATED, i);
	took = dtf_mono_ms() - start;
	assert_true(took < 500);
	doc = dtf_plugins_list(p);
	dropped = dtf_json_int(json_object_get(doc, "queue"), "dropped", 0);
	assert_int_equal(dtf_json_int(json_object_get(doc, "queue"), "capacity", 0), 8);
	json_decref(doc);
	assert_true(dropped >= 150);
	dtf_plugins_free(p);
	text = read_text(rec);
	got = count_prefix(text, "rec_a task_created");
	/* Each event is delivered once or dropped, never twice; the newest are kept. */
	assert_int_equal(got + dropped, 200);
	assert_has(text, "{\"id\":\"t-199\",\"n\":199}", "record");
	free(text);
}

static void test_hook_filter(void **state)
{
	char err[1024] = "", rec[512];
	struct dtf_plugins *p;
	json_t *e;
	char *text;

	(void)state;
	tmp_path(rec, sizeof(rec), "filter.rec");
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  directories: [%s]\n  enabled: [rec_a]\n"
		      "  config:\n    rec_a: {record: %s, hooks: [task_failed, worker_failed]}\n",
		      DIR, rec);
	assert_non_null(p);
	e = entry_of(p, "rec_a");
	assert_int_equal(json_array_size(json_object_get(e, "hooks")), 2);
	json_decref(e);
	fire_task(p, DTF_HOOK_TASK_CREATED, 1);
	fire_task(p, DTF_HOOK_TASK_FAILED, 2);
	fire_task(p, DTF_HOOK_TASK_COMPLETED, 3);
	dtf_plugins_fire(p, DTF_HOOK_COORDINATOR_STARTUP, NULL);
	dtf_plugins_free(p);
	text = read_text(rec);
	assert_int_equal(count_prefix(text, "rec_a task_"), 1);
	assert_int_equal(count_prefix(text, "rec_a task_failed {\"id\":\"t-2\""), 1);
	assert_int_equal(count_prefix(text, "rec_a coordinator"), 0);
	free(text);
}

static void test_timer_emit_get_task(void **state)
{
	char err[1024] = "", rec[512];
	struct dtf_plugins *p;
	char *text;

	(void)state;
	th_reset();
	tmp_path(rec, sizeof(rec), "timer.rec");
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  directories: [%s]\n  enabled: [rec_a, rec_b]\n"
		      "  config:\n    rec_a: {record: %s, timer_ms: 30, emit_on: task_completed}\n"
		      "    rec_b: {record: %s, get_task: true}\n",
		      DIR, rec, rec);
	assert_non_null(p);
	/* rec_a's second tick emits "tick": the host and rec_b see it, rec_a does not. */
	assert_int_equal(wait_lines(rec,
				    "rec_b custom {\"name\":\"tick\",\"plugin\":\"rec_a\","
				    "\"data\":{\"from\":\"rec_a\"}}",
				    1, 10000),
			 1);
	assert_true(wait_lines(rec, "rec_a timer ", 3, 10000) >= 3);
	assert_int_equal(th_count("tick", "{\"from\":\"rec_a\"}"), 1);
	fire_task(p, DTF_HOOK_TASK_COMPLETED, 1);
	assert_int_equal(wait_lines(rec, "rec_b custom {\"name\":\"echo\"", 1, 10000), 1);
	dtf_plugins_free(p);
	text = read_text(rec);
	assert_int_equal(count_prefix(text, "rec_a custom"), 0);
	assert_int_equal(count_prefix(text, "rec_b get_task {\"id\":\"t-1\",\"x\":1}"), 1);
	free(text);
}

static void test_exec_notifier(void **state)
{
	char err[1024] = "", out[512];
	struct dtf_plugins *p;
	json_t *e;
	char *text, *line;
	int i, n = 0;

	(void)state;
	tmp_path(out, sizeof(out), "exec.out");
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  enabled: [catter]\n  config:\n"
		      "    catter: {exec: [sh, -c, 'cat >> \"$0\"', %s], type: notification,"
		      " hooks: [task_created, custom]}\n",
		      out);
	if (!p)
		fprintf(stderr, "load: %s\n", err);
	assert_non_null(p);
	e = entry_of(p, "catter");
	assert_string_equal(dtf_json_str(e, "source", ""), "exec");
	assert_string_equal(dtf_json_str(e, "type", ""), "notification");
	assert_has(dtf_json_str(e, "path", ""), "/sh", "path");
	json_decref(e);
	for (i = 0; i < 3; i++)
		fire_task(p, DTF_HOOK_TASK_CREATED, i);
	fire_task(p, DTF_HOOK_TASK_FAILED, 9); /* filtered out */
	dtf_plugins_fire_custom(p, "hello", NULL);
	dtf_plugins_free(p); /* closes its stdin; it ends */
	text = read_text(out);
	for (line = text; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t len = strcspn(line, "\n");
		char perr[128];
		json_t *ev = dtf_json_parse(line, len, perr, sizeof(perr));
		assert_non_null(ev);
		if (n < 3) {
			assert_string_equal(dtf_json_str(ev, "hook", ""), "task_created");
			assert_int_equal(dtf_json_int(json_object_get(ev, "payload"), "n", -1), n);
		} else {
			assert_string_equal(dtf_json_str(ev, "hook", ""), "custom");
			assert_string_equal(
			    dtf_json_str(json_object_get(ev, "payload"), "name", ""), "hello");
		}
		assert_true(dtf_json_int(ev, "seq", 0) > 0);
		assert_non_null(json_object_get(ev, "time"));
		json_decref(ev);
		n++;
	}
	assert_int_equal(n, 4);
	free(text);
}

static void test_exec_restarts(void **state)
{
	char err[1024] = "", out[512], buf[32];
	struct dtf_plugins *p;
	json_t *e;
	int i;

	(void)state;
	tmp_path(out, sizeof(out), "restart.out");
	/* The program handles one event and exits: each later event starts it again. */
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  enabled: [once]\n  config:\n"
		      "    once: {exec: [sh, -c, 'head -n 1 >> \"$0\"', %s], max_restarts: 10}\n",
		      out);
	assert_non_null(p);
	for (i = 0; i < 3; i++) {
		fire_task(p, DTF_HOOK_TASK_CREATED, i);
		assert_int_equal(wait_lines(out, "{\"hook\":\"task_created\"", i + 1, 10000),
				 i + 1);
		sleep_ms(300); /* let it exit before the next event */
	}
	e = entry_of(p, "once");
	assert_int_equal(dtf_json_int(json_object_get(e, "counters"), "starts", 0), 3);
	assert_string_equal(dtf_json_str(e, "state", ""), "enabled");
	json_decref(e);
	dtf_plugins_free(p);

	/* A program that dies at once, again and again, is given up on. */
	tmp_path(out, sizeof(out), "dying.out");
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  enabled: [dying]\n  config:\n"
		      "    dying: {exec: [sh, -c, 'exit 7'], max_restarts: 2}\n");
	assert_non_null(p);
	for (i = 0; i < 6; i++) {
		fire_task(p, DTF_HOOK_TASK_CREATED, i);
		sleep_ms(50);
	}
	{
		int64_t until = dtf_mono_ms() + 10000;
		while (strcmp(state_of(p, "dying", buf, sizeof(buf)), "enabled") == 0 &&
		       dtf_mono_ms() < until)
			sleep_ms(20);
	}
	e = entry_of(p, "dying");
	assert_string_equal(dtf_json_str(e, "state", ""), "disabled");
	assert_has(dtf_json_str(e, "reason", ""), "died 2 times in a row (last: exit code 7)",
		   "reason");
	json_decref(e);
	dtf_plugins_free(p);
}

static void test_exec_not_reading(void **state)
{
	char err[1024] = "", buf[32];
	struct dtf_plugins *p;
	json_t *payload, *e;
	char *big;
	int64_t until;

	(void)state;
	/* It never reads its stdin: once the pipe is full, the write blocks past the budget. */
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  enabled: [deaf]\n  hook_timeout: 0.3\n  config:\n"
		      "    deaf: {exec: [sleep, '30']}\n");
	assert_non_null(p);
	big = malloc(200000);
	memset(big, 'x', 199999);
	big[199999] = '\0';
	payload = json_pack("{s:s,s:s}", "id", "t-1", "blob", big);
	dtf_plugins_fire(p, DTF_HOOK_TASK_CREATED, payload);
	json_decref(payload);
	free(big);
	until = dtf_mono_ms() + 10000;
	while (strcmp(state_of(p, "deaf", buf, sizeof(buf)), "enabled") == 0 &&
	       dtf_mono_ms() < until)
		sleep_ms(20);
	e = entry_of(p, "deaf");
	assert_string_equal(dtf_json_str(e, "state", ""), "disabled");
	assert_has(dtf_json_str(e, "reason", ""), "longer than its 0.3 s budget", "reason");
	json_decref(e);
	dtf_plugins_free(p); /* must not hang on the program */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_exactly_once),
	    cmocka_unit_test(test_error_disables),
	    cmocka_unit_test(test_max_errors),
	    cmocka_unit_test(test_slow_plugin_does_not_block),
	    cmocka_unit_test(test_fire_never_blocks_drops_oldest),
	    cmocka_unit_test(test_hook_filter),
	    cmocka_unit_test(test_timer_emit_get_task),
	    cmocka_unit_test(test_exec_notifier),
	    cmocka_unit_test(test_exec_restarts),
	    cmocka_unit_test(test_exec_not_reading),
	};

	return dtf_unit_run(tests, make_tmpdir, remove_tmpdir);
}
