/* test_task.c: unit tests of task validation (src/core/task.c): the defaults a minimal
 * task gets, hardware given as a string, unknown members kept under params (the seed's benchmark
 * tasks), and one error per kind of bad input, each of which must name the field at fault. */
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

#define DEFAULT_TIMEOUT 120.0

/* Fails the test, showing both strings, unless needle occurs in hay. */
static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		print_error("\"%s\" does not contain \"%s\"\n", hay, needle);
	assert_non_null(strstr(hay, needle));
}

/* Parses text as JSON (it must parse) and normalizes it; err receives the reason on failure. */
static json_t *normalize(const char *text, char *err, size_t errlen)
{
	char perr[160];
	json_t *in = dtf_json_parse(text, strlen(text), perr, sizeof(perr));
	json_t *out;

	if (!in)
		print_error("test input does not parse: %s: %s\n", text, perr);
	assert_non_null(in);
	err[0] = '\0';
	out = task_normalize(in, DEFAULT_TIMEOUT, err, errlen);
	json_decref(in);
	return out;
}

/* Normalizes text, which must be accepted. */
static json_t *accept(const char *text)
{
	char err[256];
	json_t *out = normalize(text, err, sizeof(err));

	if (!out)
		print_error("rejected: %s: %s\n", text, err);
	assert_non_null(out);
	return out;
}

/* Normalizes text, which must be rejected with an error that contains each of the needles. */
static void reject(const char *text, const char *needle, const char *needle2)
{
	char err[256];
	json_t *out = normalize(text, err, sizeof(err));

	if (out)
		print_error("accepted: %s\n", text);
	assert_null(out);
	assert_true(err[0] != '\0');
	assert_contains(err, needle);
	if (needle2)
		assert_contains(err, needle2);
}

/* The string members of a JSON array joined with commas, into out. */
static const char *joined(const json_t *arr, char *out, size_t len)
{
	size_t i, n = 0;
	json_t *e;

	assert_true(json_is_array(arr));
	out[0] = '\0';
	json_array_foreach(arr, i, e) {
		assert_true(json_is_string(e));
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "," : "", json_string_value(e));
		assert_true(n < len);
	}
	return out;
}

static void test_minimal_defaults(void **state)
{
	json_t *t = accept("{\"command\": [\"echo\", \"hi\"]}");
	json_t *req = json_object_get(t, "requirements");
	char list[256];

	(void)state;
	assert_string_equal(dtf_json_str(t, "type", "?"), "command");
	assert_int_equal(json_integer_value(json_object_get(t, "priority")), 5);
	assert_int_equal(json_integer_value(json_object_get(t, "max_retries")), 0);
	assert_true(json_is_number(json_object_get(t, "timeout_s")));
	assert_true(dtf_json_num(t, "timeout_s", 0) == DEFAULT_TIMEOUT);
	assert_string_equal(joined(json_object_get(t, "hardware"), list, sizeof(list)), "");
	assert_true(json_is_object(req));
	assert_string_equal(joined(json_object_get(req, "hardware"), list, sizeof(list)), "");
	assert_true(json_is_object(json_object_get(t, "params")));
	assert_int_equal(json_object_size(json_object_get(t, "params")), 0);
	assert_string_equal(joined(json_object_get(t, "command"), list, sizeof(list)), "echo,hi");
	/* The name defaults to the first argument after the program. */
	assert_string_equal(dtf_json_str(t, "name", "?"), "hi");
	assert_null(json_object_get(t, "shell"));
	assert_null(json_object_get(t, "batch_key"));
	json_decref(t);
}

static void test_explicit_fields_kept(void **state)
{
	json_t *t =
	    accept("{\"id\": \"t-1\", \"run_id\": \"run.2\", \"type\": \"test\", "
		   "\"shell\": \"make check\", \"priority\": 10, \"max_retries\": 3, "
		   "\"timeout\": 30, \"env\": {\"A\": \"1\"}, \"cwd\": \"/tmp\", "
		   "\"deadline\": \"2026-01-31T12:00:00Z\", \"labels\": {\"k\": 1}, "
		   "\"constraints\": [\"worker.labels.os == 'linux'\"], \"params\": {\"p\": true}, "
		   "\"status\": \"completed\", \"attempt\": 7, \"worker_id\": \"w\"}");

	(void)state;
	assert_string_equal(dtf_json_str(t, "id", "?"), "t-1");
	assert_string_equal(dtf_json_str(t, "run_id", "?"), "run.2");
	assert_string_equal(dtf_json_str(t, "type", "?"), "test");
	assert_string_equal(dtf_json_str(t, "shell", "?"), "make check");
	assert_string_equal(dtf_json_str(t, "name", "?"), "make check");
	assert_int_equal(dtf_json_int(t, "priority", 0), 10);
	assert_int_equal(dtf_json_int(t, "max_retries", 0), 3);
	/* "timeout" is an alias that lands in timeout_s. */
	assert_int_equal(dtf_json_int(t, "timeout_s", 0), 30);
	assert_null(json_object_get(t, "timeout"));
	assert_string_equal(dtf_json_str(json_object_get(t, "env"), "A", "?"), "1");
	assert_string_equal(dtf_json_str(t, "deadline", "?"), "2026-01-31T12:00:00Z");
	assert_true(dtf_json_bool(json_object_get(t, "params"), "p", false));
	/* Server-owned members are dropped on submission, not moved under params. */
	assert_null(json_object_get(t, "status"));
	assert_null(json_object_get(t, "attempt"));
	assert_null(json_object_get(t, "worker_id"));
	assert_int_equal(json_object_size(json_object_get(t, "params")), 1);
	json_decref(t);
}

static void test_hardware_string_becomes_list(void **state)
{
	json_t *t = accept("{\"command\": [\"x\"], \"hardware\": \"cuda\", "
			   "\"requirements\": {\"hardware\": \"nvlink\", \"memory\": 512, "
			   "\"gpu_memory\": 8000, \"cpu\": 2.5, \"disk\": \"fast\"}}");
	json_t *req = json_object_get(t, "requirements");
	char list[256];

	(void)state;
	assert_string_equal(joined(json_object_get(t, "hardware"), list, sizeof(list)), "cuda");
	assert_string_equal(joined(json_object_get(req, "hardware"), list, sizeof(list)), "nvlink");
	assert_int_equal(dtf_json_int(req, "memory", 0), 512);
	assert_int_equal(dtf_json_int(req, "gpu_memory", 0), 8000);
	assert_true(dtf_json_num(req, "cpu", 0) == 2.5);
	/* Requirements the core does not know are kept for plugins. */
	assert_string_equal(dtf_json_str(req, "disk", "?"), "fast");
	/* With one argument the name is the program. */
	assert_string_equal(dtf_json_str(t, "name", "?"), "x");
	json_decref(t);

	t = accept("{\"command\": [\"x\"], \"hardware\": [\"cuda\", \"rocm\"]}");
	assert_string_equal(joined(json_object_get(t, "hardware"), list, sizeof(list)),
			    "cuda,rocm");
	json_decref(t);
}

static void test_seed_benchmark_params(void **state)
{
	json_t *t = accept("{\"type\": \"benchmark\", \"model\": \"bert-base-uncased\", "
			   "\"hardware\": \"cuda\", \"batch_sizes\": [1, 2], \"priority\": 1, "
			   "\"command\": [\"python3\", \"bench.py\"]}");
	json_t *params = json_object_get(t, "params");
	json_t *bs = json_object_get(params, "batch_sizes");
	char list[256];

	(void)state;
	assert_string_equal(dtf_json_str(t, "type", "?"), "benchmark");
	assert_int_equal(dtf_json_int(t, "priority", 0), 1);
	assert_string_equal(joined(json_object_get(t, "hardware"), list, sizeof(list)), "cuda");
	assert_string_equal(dtf_json_str(params, "model", "?"), "bert-base-uncased");
	assert_int_equal(json_array_size(bs), 2);
	assert_int_equal(json_integer_value(json_array_get(bs, 0)), 1);
	assert_int_equal(json_integer_value(json_array_get(bs, 1)), 2);
	assert_null(json_object_get(t, "model"));
	assert_null(json_object_get(t, "batch_sizes"));
	assert_string_equal(dtf_json_str(t, "batch_key", "?"), "bert-base-uncased");
	assert_string_equal(dtf_json_str(t, "name", "?"), "bench.py");
	json_decref(t);

	/* An explicit batch_key wins over the model. */
	t = accept("{\"model\": \"m\", \"batch_key\": \"k\", \"command\": [\"x\"]}");
	assert_string_equal(dtf_json_str(t, "batch_key", "?"), "k");
	json_decref(t);
}

static void test_null_members_ignored(void **state)
{
	json_t *t = accept("{\"command\": [\"x\"], \"priority\": null, \"hardware\": null, "
			   "\"shell\": null, \"extra\": null}");

	(void)state;
	assert_int_equal(dtf_json_int(t, "priority", 0), 5);
	assert_int_equal(json_array_size(json_object_get(t, "hardware")), 0);
	assert_null(json_object_get(t, "shell"));
	assert_null(json_object_get(json_object_get(t, "params"), "extra"));
	json_decref(t);
}

static void test_input_left_alone(void **state)
{
	const char *text = "{\"command\": [\"x\"], \"hardware\": \"cuda\", \"model\": \"m\"}";
	char perr[160], err[256];
	json_t *in = dtf_json_parse(text, strlen(text), perr, sizeof(perr));
	json_t *copy = json_deep_copy(in);
	json_t *out = task_normalize(in, 1.0, err, sizeof(err));

	(void)state;
	assert_non_null(out);
	assert_true(json_equal(in, copy));
	/* Normalizing a normalized task changes nothing. */
	{
		json_t *again = task_normalize(out, 1.0, err, sizeof(err));
		assert_non_null(again);
		assert_true(json_equal(again, out));
		json_decref(again);
	}
	json_decref(out);
	json_decref(copy);
	json_decref(in);
}

static void test_not_an_object(void **state)
{
	json_t *scalars[] = {json_string("echo hi"), json_null(), json_integer(1), NULL};
	char err[256];
	int i;

	(void)state;
	reject("[{\"command\": [\"x\"]}]", "object", NULL);
	/* dtf_json_parse takes only documents, so scalars are built by hand. */
	for (i = 0; scalars[i]; i++) {
		err[0] = '\0';
		assert_null(task_normalize(scalars[i], DEFAULT_TIMEOUT, err, sizeof(err)));
		assert_contains(err, "object");
		json_decref(scalars[i]);
	}
	err[0] = '\0';
	assert_null(task_normalize(NULL, DEFAULT_TIMEOUT, err, sizeof(err)));
	assert_contains(err, "object");
	reject("{\"command\": [\"x\"], \"params\": [1]}", "'params'", NULL);
}

static void test_bad_command(void **state)
{
	(void)state;
	reject("{\"command\": \"echo hi\"}", "'command'", "'shell'");
	reject("{\"command\": []}", "'command'", NULL);
	reject("{\"command\": [\"echo\", 1]}", "'command'", NULL);
	reject("{\"command\": [\"echo\", null]}", "'command'", NULL);
	reject("{\"command\": {\"argv\": [\"x\"]}}", "'command'", NULL);
	/* A NUL inside an argument could not be passed to exec(). */
	reject("{\"command\": [\"a\\u0000b\"]}", "'command'", NULL);
	reject("{\"shell\": \"\"}", "'shell'", NULL);
	reject("{\"shell\": [\"echo\"]}", "'shell'", NULL);
}

static void test_command_or_shell(void **state)
{
	(void)state;
	reject("{}", "'command'", "'shell'");
	reject("{\"name\": \"n\", \"params\": {\"command\": [\"x\"]}}", "'command'", "'shell'");
	reject("{\"command\": [\"x\"], \"shell\": \"x\"}", "'command'", "'shell'");
}

static void test_bad_priority(void **state)
{
	(void)state;
	reject("{\"command\": [\"x\"], \"priority\": 0}", "'priority'", NULL);
	reject("{\"command\": [\"x\"], \"priority\": 11}", "'priority'", NULL);
	reject("{\"command\": [\"x\"], \"priority\": -3}", "'priority'", NULL);
	reject("{\"command\": [\"x\"], \"priority\": \"high\"}", "'priority'", NULL);
	reject("{\"command\": [\"x\"], \"priority\": 2.5}", "'priority'", NULL);
	reject("{\"command\": [\"x\"], \"max_retries\": -1}", "'max_retries'", NULL);
	reject("{\"command\": [\"x\"], \"max_retries\": 101}", "'max_retries'", NULL);
	reject("{\"command\": [\"x\"], \"max_retries\": \"2\"}", "'max_retries'", NULL);
}

static void test_bad_timeout(void **state)
{
	json_t *t;

	(void)state;
	reject("{\"command\": [\"x\"], \"timeout_s\": 0}", "'timeout_s'", NULL);
	reject("{\"command\": [\"x\"], \"timeout_s\": -5}", "'timeout_s'", NULL);
	reject("{\"command\": [\"x\"], \"timeout_s\": \"10\"}", "'timeout_s'", NULL);
	reject("{\"command\": [\"x\"], \"timeout_s\": 2592001}", "'timeout_s'", NULL);
	reject("{\"command\": [\"x\"], \"timeout\": true}", "'timeout'", NULL);
	/* The bounds themselves are allowed. */
	t = accept("{\"command\": [\"x\"], \"timeout_s\": 2592000}");
	assert_int_equal(dtf_json_int(t, "timeout_s", 0), 2592000);
	json_decref(t);
	t = accept("{\"command\": [\"x\"], \"timeout_s\": 0.001}");
	assert_true(dtf_json_num(t, "timeout_s", 0) == 0.001);
	json_decref(t);
}

static void test_bad_hardware(void **state)
{
	char long_class[200];

	(void)state;
	reject("{\"command\": [\"x\"], \"hardware\": 5}", "'hardware'", NULL);
	reject("{\"command\": [\"x\"], \"hardware\": \"\"}", "'hardware'", NULL);
	reject("{\"command\": [\"x\"], \"hardware\": [\"cuda\", 1]}", "'hardware'", NULL);
	reject("{\"command\": [\"x\"], \"hardware\": {\"cuda\": true}}", "'hardware'", NULL);
	reject("{\"command\": [\"x\"], \"requirements\": {\"hardware\": 7}}",
	       "'requirements.hardware'", NULL);
	reject("{\"command\": [\"x\"], \"requirements\": [\"cuda\"]}", "'requirements'", NULL);
	reject("{\"command\": [\"x\"], \"requirements\": {\"memory\": -1}}",
	       "'requirements.memory'", NULL);
	reject("{\"command\": [\"x\"], \"requirements\": {\"cpu\": \"4\"}}", "'requirements.cpu'",
	       NULL);
	reject("{\"command\": [\"x\"], \"requirements\": {\"gpu_memory\": 1e13}}",
	       "'requirements.gpu_memory'", NULL);
	/* A hardware class is at most 64 characters. */
	snprintf(long_class, sizeof(long_class), "{\"command\": [\"x\"], \"hardware\": \"%065d\"}",
		 0);
	reject(long_class, "'hardware'", NULL);
}

static void test_bad_env(void **state)
{
	(void)state;
	reject("{\"command\": [\"x\"], \"env\": {\"A\": 1}}", "'env.A'", NULL);
	reject("{\"command\": [\"x\"], \"env\": {\"OK\": \"1\", \"B\": null}}", "'env.B'", NULL);
	reject("{\"command\": [\"x\"], \"env\": {\"A=B\": \"1\"}}", "'env.A=B'", NULL);
	reject("{\"command\": [\"x\"], \"env\": {\"\": \"1\"}}", "'env.'", NULL);
	reject("{\"command\": [\"x\"], \"env\": [\"A=1\"]}", "'env'", NULL);
}

static void test_bad_type(void **state)
{
	(void)state;
	reject("{\"command\": [\"x\"], \"type\": \"quantum\"}", "type", "quantum");
	reject("{\"command\": [\"x\"], \"type\": 3}", "'type'", NULL);
	reject("{\"command\": [\"x\"], \"type\": \"\"}", "'type'", NULL);
}

static void test_bad_deadline(void **state)
{
	(void)state;
	reject("{\"command\": [\"x\"], \"deadline\": \"tomorrow\"}", "'deadline'", NULL);
	reject("{\"command\": [\"x\"], \"deadline\": \"2026-01-31\"}", "'deadline'", NULL);
	reject("{\"command\": [\"x\"], \"deadline\": \"2026-01-31T12:00:00\"}", "'deadline'", NULL);
	reject("{\"command\": [\"x\"], \"deadline\": 1769860800}", "'deadline'", NULL);
}

static void test_bad_ids_and_strings(void **state)
{
	char long_id[128];

	(void)state;
	reject("{\"command\": [\"x\"], \"id\": \"bad id\"}", "'id'", NULL);
	reject("{\"command\": [\"x\"], \"id\": \"\"}", "'id'", NULL);
	reject("{\"command\": [\"x\"], \"id\": 12}", "'id'", NULL);
	reject("{\"command\": [\"x\"], \"id\": \"a/b\"}", "'id'", NULL);
	reject("{\"command\": [\"x\"], \"run_id\": \"r#1\"}", "'run_id'", NULL);
	snprintf(long_id, sizeof(long_id), "{\"command\": [\"x\"], \"id\": \"%065d\"}", 0);
	reject(long_id, "'id'", NULL);
	reject("{\"command\": [\"x\"], \"name\": \"\"}", "'name'", NULL);
	reject("{\"command\": [\"x\"], \"cwd\": 1}", "'cwd'", NULL);
	reject("{\"command\": [\"x\"], \"junit\": [\"r.xml\"]}", "'junit'", NULL);
	reject("{\"command\": [\"x\"], \"constraints\": 5}", "'constraints'", NULL);
	reject("{\"command\": [\"x\"], \"artifacts\": [1]}", "'artifacts'", NULL);
	reject("{\"command\": [\"x\"], \"labels\": [\"a\"]}", "'labels'", NULL);
	reject("{\"command\": [\"x\"], \"metadata\": \"m\"}", "'metadata'", NULL);
}

/* Constraints: one expression or a list; each must compile, and the error names the entry and
 * the character position at fault. */
static void test_constraints(void **state)
{
	char buf[256];
	json_t *t = accept("{\"command\": [\"x\"], \"constraints\": "
			   "\"task.hardware in worker.hardware\"}");

	(void)state;
	assert_string_equal(joined(json_object_get(t, "constraints"), buf, sizeof(buf)),
			    "task.hardware in worker.hardware");
	json_decref(t);
	t = accept("{\"command\": [\"x\"], \"constraints\": [\"task.cpu <= "
		   "worker.available_cpu\", \"worker.labels.os == \\\"linux\\\"\"]}");
	assert_int_equal(json_array_size(json_object_get(t, "constraints")), 2);
	json_decref(t);
	reject("{\"command\": [\"x\"], \"constraints\": [\"true\", \"task.cpu <= \"]}",
	       "constraints[1]: position 13: expected an operand", NULL);
	reject("{\"command\": [\"x\"], \"constraints\": \"os == linux\"}",
	       "constraints[0]: position 1: unknown name 'os'", NULL);
	reject("{\"command\": [\"x\"], \"constraints\": [true]}",
	       "constraints[0]: must be a string", NULL);
	{
		char big[80 * 70];
		size_t n =
		    (size_t)snprintf(big, sizeof(big), "{\"command\": [\"x\"], \"constraints\": [");
		int i;
		for (i = 0; i < 65; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"true\"", i ? "," : "");
		snprintf(big + n, sizeof(big) - n, "]}");
		reject(big, "more than 64 expressions", NULL);
	}
}

static void test_status_names(void **state)
{
	enum task_status s;
	int i;

	(void)state;
	for (i = 0; i < TS__COUNT; i++) {
		assert_true(task_status_parse(task_status_name((enum task_status)i), &s));
		assert_int_equal(s, i);
	}
	assert_string_equal(task_status_name(TS_PENDING), "pending");
	assert_string_equal(task_status_name(TS_CANCELLED), "cancelled");
	assert_string_equal(task_status_name(TS__COUNT), "unknown");
	assert_false(task_status_parse("done", &s));
	assert_false(task_is_final(TS_PENDING));
	assert_false(task_is_final(TS_ASSIGNED));
	assert_false(task_is_final(TS_RUNNING));
	assert_true(task_is_final(TS_COMPLETED));
	assert_true(task_is_final(TS_FAILED));
	assert_true(task_is_final(TS_CANCELLED));
}

/* A field over its limit is told so with the field, the limit and the length it had. */
static void test_field_limits(void **state)
{
	static const struct {
		const char *key;
		size_t len;
		const char *want;
	} cases[] = {
	    {"name", 10000, "field 'name' is too long: at most 4096 bytes (got 10000)"},
	    {"cwd", 4097, "field 'cwd' is too long: at most 4096 bytes (got 4097)"},
	    {"shell", 300000, "field 'shell' is too long: at most 262144 bytes (got 300000)"},
	};
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *big = malloc(cases[i].len + 1);
		json_t *in, *out;
		assert_non_null(big);
		memset(big, 'x', cases[i].len);
		big[cases[i].len] = '\0';
		in = json_pack("{ss ss}", "shell", "true", cases[i].key, big);
		out = task_normalize(in, DEFAULT_TIMEOUT, err, sizeof(err));
		assert_null(out);
		assert_string_equal(err, cases[i].want);
		json_decref(in);
		free(big);
	}
	{
		json_t *in = json_pack("{s[s] ss}", "command", "true", "name", "ok");
		json_t *a = json_array();
		for (i = 0; i < 5000; i++)
			json_array_append_new(a, json_string("x"));
		json_object_set_new(in, "command", a);
		assert_null(task_normalize(in, DEFAULT_TIMEOUT, err, sizeof(err)));
		assert_string_equal(err,
				    "field 'command' is too long: at most 4096 items (got 5000)");
		json_decref(in);
	}
	/* An empty name still gets the old message. */
	{
		json_t *in = json_pack("{ss ss}", "shell", "true", "name", "");
		assert_null(task_normalize(in, DEFAULT_TIMEOUT, err, sizeof(err)));
		assert_string_equal(err, "field 'name' must be a non-empty string");
		json_decref(in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_minimal_defaults),
	    cmocka_unit_test(test_explicit_fields_kept),
	    cmocka_unit_test(test_hardware_string_becomes_list),
	    cmocka_unit_test(test_seed_benchmark_params),
	    cmocka_unit_test(test_null_members_ignored),
	    cmocka_unit_test(test_input_left_alone),
	    cmocka_unit_test(test_not_an_object),
	    cmocka_unit_test(test_bad_command),
	    cmocka_unit_test(test_command_or_shell),
	    cmocka_unit_test(test_bad_priority),
	    cmocka_unit_test(test_bad_timeout),
	    cmocka_unit_test(test_bad_hardware),
	    cmocka_unit_test(test_bad_env),
	    cmocka_unit_test(test_bad_type),
	    cmocka_unit_test(test_bad_deadline),
	    cmocka_unit_test(test_bad_ids_and_strings),
	    cmocka_unit_test(test_constraints),
	    cmocka_unit_test(test_status_names),
	    cmocka_unit_test(test_field_limits),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
