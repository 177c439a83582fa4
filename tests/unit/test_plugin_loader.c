/* test_plugin_loader.c: unit tests of the plugin loader (src/plugin/loader.c): a good plugin
 * (descriptor, capabilities, configure, shutdown), a .so without the entry symbol, a plugin
 * built for a newer ABI (refused, and fatal under plugins.strict), one built against an older,
 * shorter header (loaded), an init failure (disabled and reported), built-ins, discovery through
 * plugins.directories, DTF_PLUGIN_PATH and paths, configuration errors that name the file, line
 * and key, and task processors (exec and shared object). The test plugins are in
 * tests/fixtures/plugins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>

#include "../fixtures/plugins/unit_helpers.h"
#include "common/err.h"
#include "plugin/internal.h"
#include "unit_main.h"

#define DIR DTF_TEST_PLUGIN_DIR

static void test_good_plugin(void **state)
{
	char err[1024] = "", rec[512], buf[32];
	struct dtf_plugins *p;
	json_t *e;
	char *text;

	(void)state;
	tmp_path(rec, sizeof(rec), "good.rec");
	p = load_yaml(err, sizeof(err),
		      "plugins:\n"
		      "  directories: [%s]\n"
		      "  enabled: [rec_a]\n"
		      "  config:\n"
		      "    rec_a: {record: %s, answer: 42}\n",
		      DIR, rec);
	if (!p)
		fprintf(stderr, "load: %s\n", err);
	assert_non_null(p);
	e = entry_of(p, "rec_a");
	assert_non_null(e);
	assert_string_equal(dtf_json_str(e, "state", ""), "enabled");
	assert_true(dtf_json_bool(e, "enabled", false));
	assert_string_equal(dtf_json_str(e, "version", ""), "0.1.0");
	assert_string_equal(dtf_json_str(e, "type", ""), "custom");
	assert_has(dtf_json_str(e, "source", ""), "/rec_a.so", "source");
	assert_string_equal(dtf_json_str(e, "description", ""), "test plugin: records every call");
	assert_true(dtf_json_bool(json_object_get(e, "capabilities"), "records", false));
	assert_int_equal(json_array_size(json_object_get(e, "hooks")), DTF_HOOK__COUNT);
	json_decref(e);
	/* The other plugins of the directory are listed as available or invalid. */
	assert_string_equal(state_of(p, "rec_b", buf, sizeof(buf)), "available");
	assert_string_equal(state_of(p, "nosym", buf, sizeof(buf)), "invalid");
	assert_string_equal(state_of(p, "newabi", buf, sizeof(buf)), "invalid");
	assert_string_equal(state_of(p, "log", buf, sizeof(buf)), "available");
	assert_string_equal(state_of(p, "exec", buf, sizeof(buf)), "available");
	assert_int_equal(dtf_plugins_task_types(p)[0], NULL);
	dtf_plugins_free(p);
	text = read_text(rec);
	assert_has(text, "rec_a configured {", "record");
	assert_has(text, "\"answer\":42", "record");
	assert_has(text, "rec_a shutdown -", "record");
	assert_int_equal(count_prefix(text, "rec_a "), 2);
	free(text);
}

static void test_missing_symbol(void **state)
{
	char err[1024] = "";
	struct dtf_plugins *p;
	json_t *e;

	(void)state;
	th_reset();
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  directories: [%s]\n  enabled: [nosym, rec_b]\n", DIR);
	assert_non_null(p);
	e = entry_of(p, "nosym");
	assert_non_null(e);
	assert_string_equal(dtf_json_str(e, "state", ""), "disabled");
	assert_false(dtf_json_bool(e, "enabled", true));
	assert_has(dtf_json_str(e, "reason", ""), "has no dtf_plugin_entry symbol", "reason");
	assert_has(dtf_json_str(e, "reason", ""), "nosym.so", "reason");
	json_decref(e);
	e = entry_of(p, "rec_b");
	assert_string_equal(dtf_json_str(e, "state", ""), "enabled");
	json_decref(e);
	/* Reported to the host as plugin_failed. */
	assert_int_equal(th_count("plugin_failed", "\"plugin\":\"nosym\""), 1);
	dtf_plugins_free(p);
}

static void test_newer_abi_refused(void **state)
{
	char err[1024] = "";
	struct dtf_plugins *p;
	json_t *e;

	(void)state;
	p = load_yaml(err, sizeof(err), "plugins:\n  directories: [%s]\n  enabled: [newabi]\n",
		      DIR);
	assert_non_null(p);
	e = entry_of(p, "newabi");
	assert_non_null(e);
	assert_string_equal(dtf_json_str(e, "state", ""), "disabled");
	assert_string_equal(dtf_json_str(e, "version", ""), "9.0.0");
	{
		/* newabi is built one version past this dtf's, whatever that is. */
		char want[128];
		snprintf(want, sizeof(want),
			 "built for plugin ABI %d, newer than this dtf's ABI %d",
			 DTF_PLUGIN_ABI_VERSION + 1, DTF_PLUGIN_ABI_VERSION);
		assert_has(dtf_json_str(e, "reason", ""), want, "reason");
	}
	assert_has(dtf_json_str(e, "reason", ""), "rebuild it", "reason");
	json_decref(e);
	dtf_plugins_free(p);

	/* With plugins.strict, a plugin that cannot load stops everything, naming the line. */
	p = load_yaml(err, sizeof(err),
		      "# strict\nplugins:\n  strict: true\n  directories: [%s]\n  enabled:\n"
		      "    - rec_a\n    - newabi\n",
		      DIR);
	assert_null(p);
	assert_has(err, "dtf.yaml:7: plugin newabi: ", "strict error");
	{
		char want[64];
		snprintf(want, sizeof(want), "newer than this dtf's ABI %d",
			 DTF_PLUGIN_ABI_VERSION);
		assert_has(err, want, "strict error");
	}
}

static void test_older_abi_loads(void **state)
{
	char err[1024] = "";
	struct dtf_plugins *p;
	json_t *e, *payload;
	int64_t until;

	(void)state;
	p = load_yaml(err, sizeof(err), "plugins:\n  directories: [%s]\n  enabled: [oldabi]\n",
		      DIR);
	assert_non_null(p);
	e = entry_of(p, "oldabi");
	assert_non_null(e);
	assert_string_equal(dtf_json_str(e, "state", ""), "enabled");
	assert_string_equal(dtf_json_str(e, "version", ""), "0.9.0");
	assert_true(dtf_json_bool(json_object_get(e, "capabilities"), "old", false));
	assert_int_equal(json_array_size(json_object_get(e, "hooks")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "hooks"), 0)),
			    "task_completed");
	assert_null(json_object_get(e, "description")); /* past its struct_size: absent */
	json_decref(e);
	payload = json_pack("{s:s}", "id", "t-9");
	dtf_plugins_fire(p, DTF_HOOK_TASK_CREATED, payload); /* not subscribed */
	dtf_plugins_fire(p, DTF_HOOK_TASK_COMPLETED, payload);
	json_decref(payload);
	until = dtf_mono_ms() + 5000;
	for (;;) {
		e = entry_of(p, "oldabi");
		if (dtf_json_int(json_object_get(e, "counters"), "events", 0) >= 1 ||
		    dtf_mono_ms() > until)
			break;
		json_decref(e);
		sleep_ms(10);
	}
	assert_int_equal(dtf_json_int(json_object_get(e, "counters"), "events", 0), 1);
	json_decref(e);
	dtf_plugins_free(p);
}

static void test_init_failure(void **state)
{
	char err[1024] = "", rec[512];
	struct dtf_plugins *p;
	json_t *e;
	char *text;

	(void)state;
	th_reset();
	tmp_path(rec, sizeof(rec), "initfail.rec");
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  directories: [%s]\n  enabled: [initfail, rec_a]\n"
		      "  config:\n    rec_a: {record: %s}\n",
		      DIR, rec);
	assert_non_null(p);
	e = entry_of(p, "initfail");
	assert_string_equal(dtf_json_str(e, "state", ""), "disabled");
	assert_string_equal(dtf_json_str(e, "type", ""), "notification");
	assert_has(dtf_json_str(e, "reason", ""), "init failed (-5)", "reason");
	assert_has(dtf_json_str(e, "reason", ""), "cannot open /dev/nonexistent-device", "reason");
	json_decref(e);
	e = entry_of(p, "rec_a");
	assert_string_equal(dtf_json_str(e, "state", ""), "enabled");
	json_decref(e);
	assert_int_equal(th_count("plugin_failed", "\"plugin\":\"initfail\""), 1);
	/* An init failure is not a load failure: dtf_plugins_load succeeded. It is also fired to
	 * the other plugins as the custom event plugin_failed. */
	dtf_plugins_free(p);
	text = read_text(rec);
	assert_has(text,
		   "rec_a custom {\"name\":\"plugin_failed\",\"data\":{\"plugin\":\"initfail\"",
		   "record");
	free(text);
}

static void test_configure_failure(void **state)
{
	char err[1024] = "";
	struct dtf_plugins *p;
	json_t *e;

	(void)state;
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  enabled: [log]\n  config:\n    log: {level: loud}\n");
	assert_non_null(p);
	e = entry_of(p, "log");
	assert_string_equal(dtf_json_str(e, "state", ""), "disabled");
	assert_string_equal(dtf_json_str(e, "source", ""), "builtin");
	assert_has(dtf_json_str(e, "reason", ""), "configure failed", "reason");
	assert_has(dtf_json_str(e, "reason", ""), "level must be debug, info or warn", "reason");
	json_decref(e);
	dtf_plugins_free(p);
}

static void test_builtin_log(void **state)
{
	char err[1024] = "";
	struct dtf_plugins *p;
	json_t *e, *payload;

	(void)state;
	p = load_yaml(err, sizeof(err), "plugins:\n  enabled: [log]\n");
	assert_non_null(p);
	e = entry_of(p, "log");
	assert_string_equal(dtf_json_str(e, "state", ""), "enabled");
	assert_string_equal(dtf_json_str(e, "type", ""), "notification");
	assert_string_equal(dtf_json_str(e, "source", ""), "builtin");
	json_decref(e);
	payload = json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", "t-1", "name", "build", "error", "kind",
			    "exit_code", "message", "exit code 2");
	dtf_plugins_fire(p, DTF_HOOK_TASK_FAILED, payload);
	json_decref(payload);
	dtf_plugins_free(p); /* delivers it first */
	/* The message notifiers get. */
	payload = json_pack("{s:s,s:s,s:{s:s}}", "id", "t-1", "name", "build", "error", "message",
			    "exit code 2");
	{
		char *m = plugin_event_message(DTF_HOOK_TASK_FAILED, payload);
		assert_string_equal(m, "task t-1 'build' failed: exit code 2");
		free(m);
	}
	assert_string_equal(plugin_event_severity(DTF_HOOK_TASK_FAILED, payload), "error");
	json_decref(payload);
}

static void test_discovery_paths(void **state)
{
	char err[1024] = "", buf[32];
	struct dtf_plugins *p;
	json_t *e;

	(void)state;
	/* DTF_PLUGIN_PATH, with an entry that does not exist (a warning only). */
	setenv("DTF_PLUGIN_PATH", "/nonexistent/dir:" DIR, 1);
	p = load_yaml(err, sizeof(err), "plugins:\n  enabled: [rec_b]\n");
	unsetenv("DTF_PLUGIN_PATH");
	if (!p)
		fprintf(stderr, "load: %s\n", err);
	assert_non_null(p);
	assert_string_equal(state_of(p, "rec_b", buf, sizeof(buf)), "enabled");
	dtf_plugins_free(p);
	/* A path to the .so itself. */
	p = load_yaml(err, sizeof(err), "plugins:\n  enabled: [%s/rec_c.so]\n", DIR);
	assert_non_null(p);
	e = entry_of(p, "rec_c");
	assert_non_null(e);
	assert_string_equal(dtf_json_str(e, "state", ""), "enabled");
	json_decref(e);
	dtf_plugins_free(p);
	/* No plugins section at all: nothing enabled, the built-ins listed. */
	p = dtf_plugins_load(NULL, NULL, NULL, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(state_of(p, "log", buf, sizeof(buf)), "available");
	dtf_plugins_free(p);
}

/* The error of loading yaml must start with "<config>:line: " and hold the text. */
static void expect_error(const char *yaml, int line, const char *text)
{
	char err[1024] = "", want[600];
	struct dtf_plugins *p = load_yaml(err, sizeof(err), "%s", yaml);

	if (p) {
		dtf_plugins_free(p);
		fprintf(stderr, "loaded, but wanted an error for:\n%s", yaml);
		fail();
	}
	snprintf(want, sizeof(want), "%s:%d: ", config_file, line);
	if (strncmp(err, want, strlen(want)) != 0) {
		fprintf(stderr, "error \"%s\" does not start with \"%s\"\n", err, want);
		fail();
	}
	assert_has(err, text, "error");
}

static void test_config_errors(void **state)
{
	char yaml[1024];

	(void)state;
	expect_error("coordinator:\n  port: 1\nplugins:\n  enabled: [log]\n  bogus: 1\n", 5,
		     "unknown key plugins.bogus");
	expect_error("plugins:\n  enabled:\n    - log\n    - nope\n", 4,
		     "plugins.enabled[1]: no plugin named 'nope'");
	expect_error("plugins:\n  enabled: log\n", 2, "plugins.enabled must be a list");
	expect_error("plugins:\n  enabled: [log, log]\n", 2, "'log' is listed twice");
	expect_error("plugins:\n  enabled: [exec]\n", 2, "'exec' is a kind, not a plugin");
	expect_error("plugins:\n  enabled: ['bad name!']\n", 2, "is not a plugin name");
	expect_error("plugins:\n  hook_timeout: -1\n", 2,
		     "plugins.hook_timeout must be a duration");
	expect_error("plugins:\n  queue_size: 0\n", 2, "plugins.queue_size must be an integer");
	expect_error("plugins:\n  directories: [/nonexistent/plugins]\n", 2,
		     "plugins.directories[0]: /nonexistent/plugins");
	expect_error("plugins:\n  enabled: [log]\n  config:\n    log:\n      hooks: [task_done]\n",
		     5, "plugins.config.log.hooks: unknown hook 'task_done'");
	expect_error("plugins:\n  enabled: [n]\n  config:\n    n:\n      exec: 3\n", 5,
		     "plugins.config.n.exec must be a program");
	expect_error("plugins:\n  config:\n    n:\n      exec: [sh]\n      type: scheduler\n", 5,
		     "an exec plugin cannot be a scheduler");
	expect_error("plugins:\n  config:\n    n:\n      exec: [sh]\n      env: {A: 1}\n", 5,
		     "plugins.config.n.env.A must be a string");
	expect_error("plugins: [a, b]\n", 1, "plugins must be a mapping");
	/* The config check alone (what the fuzzer drives), without a file. */
	snprintf(yaml, sizeof(yaml), "plugins:\n  strict: maybe\n");
	{
		char err[512];
		json_t *doc = dtf_yaml_parse(yaml, strlen(yaml), "x.yaml", err, sizeof(err));
		assert_int_equal(
		    dtf_plugins_config_check(doc, yaml, strlen(yaml), "x.yaml", err, sizeof(err)),
		    DTF_EINVAL);
		assert_string_equal(err, "x.yaml:2: plugins.strict must be true or false");
		json_decref(doc);
	}
}

/* ---- task processors ---- */

static void test_exec_task_processor(void **state)
{
	char err[1024] = "";
	struct dtf_plugins *p;
	const char *const *types;
	json_t *task, *res;
	atomic_int cancel;

	(void)state;
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  enabled: [echoer]\n  config:\n    echoer:\n"
		      "      exec: [%s/exec_task.sh]\n      task_types: [echo, echo2]\n"
		      "      timeout: 30\n",
		      DTF_TEST_FIXTURE_DIR);
	if (!p)
		fprintf(stderr, "load: %s\n", err);
	assert_non_null(p);
	types = dtf_plugins_task_types(p);
	assert_string_equal(types[0], "echo");
	assert_string_equal(types[1], "echo2");
	assert_null(types[2]);
	assert_true(dtf_plugins_handles(p, "echo"));
	assert_false(dtf_plugins_handles(p, "command"));
	{
		json_t *e = entry_of(p, "echoer");
		assert_string_equal(dtf_json_str(e, "type", ""), "task_processor");
		assert_string_equal(dtf_json_str(e, "source", ""), "exec");
		assert_int_equal(json_array_size(json_object_get(e, "hooks")), 0);
		json_decref(e);
	}

	task = json_pack("{s:s,s:s,s:{}}", "id", "t-7", "type", "echo", "params");
	assert_int_equal(dtf_plugins_run_task(p, task, &res), 0);
	assert_string_equal(dtf_json_str(res, "outcome", ""), "passed");
	assert_has(dtf_json_str(json_object_get(res, "result"), "stdout", ""),
		   "processing t-7 (echo)", "stdout");
	assert_has(dtf_json_str(json_object_get(res, "result"), "stderr", ""), "a line on stderr",
		   "stderr");
	assert_int_equal(dtf_json_int(json_object_get(res, "result"), "exit_code", -1), 0);
	assert_true(dtf_json_int(json_object_get(json_object_get(res, "result"), "metrics"),
				 "bytes", 0) > 10);
	assert_string_equal(
	    dtf_json_str(json_object_get(json_object_get(res, "result"), "metrics"), "plugin", ""),
	    "echoer");
	assert_null(json_object_get(res, "error"));
	json_decref(res);
	json_decref(task);

	task = json_pack("{s:s,s:s,s:{s:b}}", "id", "t-8", "type", "echo", "params", "fail", 1);
	assert_int_equal(dtf_plugins_run_task(p, task, &res), 0);
	assert_string_equal(dtf_json_str(res, "outcome", ""), "failed");
	assert_int_equal(dtf_json_int(json_object_get(res, "result"), "exit_code", -1), 3);
	assert_string_equal(dtf_json_str(json_object_get(res, "error"), "kind", ""), "exit_code");
	json_decref(res);
	json_decref(task);

	task = json_pack("{s:s,s:s,s:f,s:{s:i}}", "id", "t-9", "type", "echo", "timeout_s", 0.5,
			 "params", "sleep", 20);
	assert_int_equal(dtf_plugins_run_task(p, task, &res), 0);
	assert_string_equal(dtf_json_str(res, "outcome", ""), "failed");
	assert_string_equal(dtf_json_str(json_object_get(res, "error"), "kind", ""), "timeout");
	assert_true(dtf_json_num(json_object_get(res, "result"), "duration_s", 99) < 10);
	json_decref(res);
	json_decref(task);

	atomic_init(&cancel, 1);
	task = json_pack("{s:s,s:s,s:{s:i}}", "id", "t-10", "type", "echo", "params", "sleep", 20);
	assert_int_equal(dtf_plugins_run_task_cancellable(p, task, &cancel, &res), 0);
	assert_string_equal(dtf_json_str(json_object_get(res, "error"), "kind", ""), "cancelled");
	json_decref(res);
	json_decref(task);

	task = json_pack("{s:s,s:s}", "id", "t-11", "type", "nobody");
	assert_int_equal(dtf_plugins_run_task(p, task, &res), DTF_ENOTFOUND);
	assert_null(res);
	json_decref(task);
	{
		json_t *e = entry_of(p, "echoer");
		assert_int_equal(dtf_json_int(json_object_get(e, "counters"), "tasks", 0), 4);
		assert_int_equal(dtf_json_int(json_object_get(e, "counters"), "task_failures", 0),
				 3);
		json_decref(e);
	}
	dtf_plugins_free(p);
}

static void test_so_task_processor(void **state)
{
	char err[1024] = "";
	struct dtf_plugins *p;
	json_t *task, *res, *metrics;

	(void)state;
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  directories: [%s]\n  enabled: [benchmark]\n  config:\n"
		      "    benchmark:\n      command: [sh, %s/examples/plugins/fake_benchmark.sh,"
		      " '{model}', '{batch_size}']\n",
		      DTF_TEST_EXAMPLES_DIR, DTF_TEST_SOURCE_DIR);
	if (!p)
		fprintf(stderr, "load: %s\n", err);
	assert_non_null(p);
	assert_string_equal(dtf_plugins_task_types(p)[0], "benchmark");
	task = json_pack("{s:s,s:s,s:{s:s,s:[i,i,i]}}", "id", "t-1", "type", "benchmark", "params",
			 "model", "bert-base-uncased", "batch_sizes", 1, 2, 8);
	assert_int_equal(dtf_plugins_run_task(p, task, &res), 0);
	if (strcmp(dtf_json_str(res, "outcome", ""), "passed") != 0) {
		char *s = json_dumps(res, 0);
		fprintf(stderr, "result: %s\n", s);
		free(s);
	}
	assert_string_equal(dtf_json_str(res, "outcome", ""), "passed");
	metrics = json_object_get(json_object_get(res, "result"), "metrics");
	assert_string_equal(dtf_json_str(metrics, "model", ""), "bert-base-uncased");
	assert_int_equal(json_array_size(json_object_get(metrics, "batch_sizes")), 3);
	assert_int_equal(
	    dtf_json_int(json_object_get(json_object_get(metrics, "by_batch_size"), "8"),
			 "throughput_items_per_s", 0),
	    800);
	assert_int_equal(
	    dtf_json_int(json_object_get(json_object_get(metrics, "by_batch_size"), "2"),
			 "latency_ms", 0),
	    12);
	assert_has(dtf_json_str(json_object_get(res, "result"), "stdout", ""),
		   "benchmarking bert-base-uncased with batch size 8", "stdout");
	json_decref(res);
	json_decref(task);
	/* A task without a model fails with the reason. */
	task = json_pack("{s:s,s:s,s:{}}", "id", "t-2", "type", "benchmark", "params");
	assert_int_equal(dtf_plugins_run_task(p, task, &res), 0);
	assert_string_equal(dtf_json_str(res, "outcome", ""), "failed");
	assert_string_equal(dtf_json_str(json_object_get(res, "error"), "kind", ""), "benchmark");
	assert_has(dtf_json_str(json_object_get(res, "error"), "message", ""), "needs 'model'",
		   "message");
	json_decref(res);
	json_decref(task);
	dtf_plugins_free(p);
}

static void test_null_safe(void **state)
{
	json_t *l, *res = NULL, *task = json_pack("{s:s}", "type", "x");

	(void)state;
	dtf_plugins_fire(NULL, DTF_HOOK_TASK_CREATED, NULL);
	dtf_plugins_fire_custom(NULL, "x", NULL);
	dtf_plugins_free(NULL);
	assert_null(dtf_plugins_task_types(NULL)[0]);
	assert_false(dtf_plugins_handles(NULL, "x"));
	assert_int_equal(dtf_plugins_run_task(NULL, task, &res), DTF_ENOTFOUND);
	l = dtf_plugins_list(NULL);
	assert_int_equal(json_array_size(json_object_get(l, "plugins")), 0);
	json_decref(l);
	json_decref(task);
	assert_string_equal(dtf_hook_name(DTF_HOOK_RECOVERY_FAILED), "recovery_failed");
	assert_string_equal(dtf_hook_name(DTF_HOOK__COUNT), "unknown");
	{
		enum dtf_hook h;
		assert_true(dtf_hook_parse("worker_recovered", &h));
		assert_int_equal(h, DTF_HOOK_WORKER_RECOVERED);
		assert_false(dtf_hook_parse("nope", &h));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_plugin),	      cmocka_unit_test(test_missing_symbol),
	    cmocka_unit_test(test_newer_abi_refused), cmocka_unit_test(test_older_abi_loads),
	    cmocka_unit_test(test_init_failure),      cmocka_unit_test(test_configure_failure),
	    cmocka_unit_test(test_builtin_log),	      cmocka_unit_test(test_discovery_paths),
	    cmocka_unit_test(test_config_errors),     cmocka_unit_test(test_exec_task_processor),
	    cmocka_unit_test(test_so_task_processor), cmocka_unit_test(test_null_safe),
	};

	return dtf_unit_run(tests, make_tmpdir, remove_tmpdir);
}
