/* test_expr.c: unit tests of the constraint expression language (src/sched/expr.c): every
 * operator, precedence, the errors (each naming its position) and limits of the parser; the
 * evaluator on the seed's examples, labels, lists and missing fields; and that evaluation
 * allocates nothing (malloc is counted while expressions are evaluated). */
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

#include "common/json.h"
#include "sched/expr.h"
#include "unit_main.h"

/* ---- counting allocations: every malloc of the process, while counting is on ---- */

static volatile int counting;
static volatile long allocations;

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#if defined(__GLIBC__) && !defined(UNDER_ASAN)
/* glibc's own entry points: this executable's malloc wraps them (sanitizer builds bring their
 * own allocator, so there only jansson's allocations are counted). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

void *malloc(size_t n)
{
	if (counting)
		allocations++;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	if (counting)
		allocations++;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	if (counting)
		allocations++;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}
#define LIBC_COUNTED 1
#else
#define LIBC_COUNTED 0
#endif

static void *json_counting_malloc(size_t n)
{
	if (counting)
		allocations++;
	return malloc(n);
}

/* ---- helpers ---- */

static json_t *task_doc, *worker_doc;
static struct dtf_expr_ctx ctx;

/* A GPU task (cuda or rocm, 8 GiB of GPU memory, 2 cores) and a Linux worker with cuda. */
static int setup(void **state)
{
	char err[200];

	(void)state;
	static const char task_json[] =
	    "{\"name\": \"bert\", \"hardware\": [\"cuda\", \"rocm\"], \"priority\": 2,"
	    " \"requirements\": {\"cpu\": 2, \"memory\": 4096, \"gpu_memory\": 8192,"
	    " \"hardware\": [\"cuda\"]},"
	    " \"params\": {\"model\": \"bert-base\", \"batch_sizes\": [1, 8, 32]},"
	    " \"labels\": {\"team\": \"ml\"}}";
	static const char worker_json[] =
	    "{\"id\": \"w1\", \"labels\": {\"os\": \"linux\", \"zone\": \"a\","
	    " \"kubernetes.io/arch\": \"amd64\"},"
	    " \"capabilities\": {\"hardware\": [\"cpu\", \"cuda\"], \"docker\": true,"
	    " \"gpus\": [{\"name\": \"A100\", \"memory\": 40960}]}}";

	task_doc = dtf_json_parse(task_json, strlen(task_json), err, sizeof(err));
	worker_doc = dtf_json_parse(worker_json, strlen(worker_json), err, sizeof(err));
	assert_non_null(task_doc);
	assert_non_null(worker_doc);
	dtf_expr_ctx_init(&ctx);
	ctx.task = task_doc;
	ctx.worker = worker_doc;
	ctx.task_hardware = json_object_get(task_doc, "hardware");
	ctx.worker_hardware =
	    json_object_get(json_object_get(worker_doc, "capabilities"), "hardware");
	ctx.num[DTF_EXPR_TASK_CPU] = 2;
	ctx.num[DTF_EXPR_TASK_MEMORY] = 4096;
	ctx.num[DTF_EXPR_TASK_GPU_MEMORY] = 8192;
	ctx.num[DTF_EXPR_TASK_PRIORITY] = 2;
	ctx.num[DTF_EXPR_WORKER_CPU] = 16;
	ctx.num[DTF_EXPR_WORKER_MEMORY] = 65536;
	ctx.num[DTF_EXPR_WORKER_GPU_MEMORY] = 40960;
	ctx.num[DTF_EXPR_WORKER_SLOTS] = 4;
	ctx.num[DTF_EXPR_WORKER_AVAILABLE_CPU] = 1;
	ctx.num[DTF_EXPR_WORKER_AVAILABLE_MEMORY] = 32768;
	ctx.num[DTF_EXPR_WORKER_AVAILABLE_GPU_MEMORY] = 8192;
	ctx.num[DTF_EXPR_WORKER_AVAILABLE_SLOTS] = 3;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(task_doc);
	json_decref(worker_doc);
	return 0;
}

/* Compiles src (it must compile) and evaluates it against ctx. */
static bool eval_src(const char *src)
{
	struct dtf_expr *e = NULL;
	char err[256];
	int rc = dtf_expr_compile(src, &e, err, sizeof(err));
	bool v;

	if (rc != 0)
		print_error("'%s' does not compile: %s\n", src, err);
	assert_int_equal(rc, 0);
	assert_string_equal(dtf_expr_source(e), src);
	v = dtf_expr_eval(e, &ctx);
	dtf_expr_free(e);
	return v;
}

static void expect(const char *src, bool want)
{
	bool got = eval_src(src);

	if (got != want)
		print_error("'%s' evaluated to %s, want %s\n", src, got ? "true" : "false",
			    want ? "true" : "false");
	assert_true(got == want);
}

/* src must not compile; the message must be exactly want. */
static void expect_error(const char *src, const char *want)
{
	struct dtf_expr *e = (struct dtf_expr *)1;
	char err[256];
	int rc = dtf_expr_compile(src, &e, err, sizeof(err));

	if (rc == 0)
		print_error("'%s' compiled; want the error '%s'\n", src, want);
	assert_int_not_equal(rc, 0);
	assert_null(e);
	if (strcmp(err, want) != 0)
		print_error("'%s': got error '%s', want '%s'\n", src, err, want);
	assert_string_equal(err, want);
}

/* ---- the seed's examples (seed 000 "Constraint Expression", DESIGN.md §4) ---- */

static void test_seed_examples(void **state)
{
	(void)state;
	expect("task.hardware in worker.hardware", true);
	expect("task.cpu <= worker.available_cpu", false); /* 2 cores asked, 1 free */
	expect("task.memory <= worker.available_memory", true);
	expect("task.gpu_memory <= worker.available_gpu_memory", true);
	expect("worker.labels.os == \"linux\" && task.gpu_memory <= worker.available_gpu_memory",
	       true);
	ctx.num[DTF_EXPR_WORKER_AVAILABLE_GPU_MEMORY] = 8191;
	expect("task.gpu_memory <= worker.available_gpu_memory", false);
	ctx.num[DTF_EXPR_WORKER_AVAILABLE_GPU_MEMORY] = 8192;
	/* Totals, as the coordinator uses to decide whether a worker could ever run a task. */
	expect("task.cpu <= worker.cpu && task.memory <= worker.memory", true);
	expect("worker.slots == 4 && worker.available_slots == 3 && task.priority == 2", true);
}

/* ---- operators ---- */

static void test_comparisons(void **state)
{
	(void)state;
	expect("task.cpu == 2", true);
	expect("task.cpu == 2.0", true);
	expect("task.cpu != 2", false);
	expect("task.cpu != 3", true);
	expect("task.cpu < 3", true);
	expect("task.cpu < 2", false);
	expect("task.cpu <= 2", true);
	expect("task.cpu > 1.5", true);
	expect("task.cpu > 2", false);
	expect("task.cpu >= 2", true);
	expect("task.cpu >= 2e0", true);
	expect("-1 < task.cpu", true);
	expect("task.memory > -.5", true);
	expect("\"abc\" < \"abd\"", true);
	expect("\"ab\" < \"abc\"", true);
	expect("\"b\" >= \"abc\"", true);
	expect("true == true", true);
	expect("true != false", true);
	expect("'single' == \"single\"", true);
	expect("\"a\\\"b\" == 'a\"b'", true);
	expect("\"tab\\there\" != \"tab here\"", true);
}

static void test_logic_and_precedence(void **state)
{
	(void)state;
	expect("true && true", true);
	expect("true && false", false);
	expect("false || true", true);
	expect("false || false", false);
	expect("!false", true);
	expect("!!true", true);
	/* && binds tighter than ||. */
	expect("true || true && false", true);
	expect("(true || true) && false", false);
	expect("false && false || true", true);
	expect("false && (false || true)", false);
	/* ! applies to the whole comparison after it. */
	expect("!task.cpu == 3", true);
	expect("!\"rocm\" in worker.hardware", true);
	expect("!(task.cpu == 2) || task.memory == 4096", true);
	expect("! (true && false)", true);
	/* Long chains (one node, not a deep tree). */
	expect("true && true && true && true && true && true && true && true && true && false",
	       false);
	expect("false || false || false || false || false || false || false || true", true);
	/* Whitespace is free. */
	expect("  task.cpu<=worker.cpu&&task.memory<=worker.memory\n", true);
}

static void test_in_and_lists(void **state)
{
	(void)state;
	expect("\"cuda\" in worker.hardware", true);
	expect("\"rocm\" in worker.hardware", false);
	expect("\"cuda\" in [\"rocm\", \"cuda\"]", true);
	expect("2 in [1, 2, 3]", true);
	expect("task.cpu in [1, 3]", false);
	expect("task.params.model in [\"bert-base\", \"gpt2\"]", true);
	/* A list on the left: any of its elements (the task's hardware is any-of). */
	expect("task.hardware in worker.hardware", true);
	expect("[\"rocm\", \"tpu\"] in worker.hardware", false);
	expect("task.requirements.hardware in worker.hardware", true);
	expect("[] in worker.hardware", true); /* asks for nothing */
	expect("\"x\" in []", false);
	/* A string on the right: substring; an object: one of its keys. */
	expect("\"bert\" in task.params.model", true);
	expect("\"gpt\" in task.params.model", false);
	expect("\"zone\" in worker.labels", true);
	expect("\"rack\" in worker.labels", false);
	/* Lists compare element by element. */
	expect("task.params.batch_sizes == [1, 8, 32]", true);
	expect("task.params.batch_sizes == [1, 8]", false);
	expect("task.params.batch_sizes != [1, 8]", true);
	expect("[1, [2, 3]] == [1, [2, 3]]", true);
	expect("task.params.batch_sizes[2] == 32", true);
	expect("32 in task.params.batch_sizes", true);
	/* Elements may be fields. */
	expect("worker.labels.zone in [\"b\", task.labels.team, \"a\"]", true);
}

static void test_fields_and_labels(void **state)
{
	(void)state;
	expect("worker.labels.os == \"linux\"", true);
	expect("worker.labels.zone != \"b\"", true);
	expect("worker.labels[\"kubernetes.io/arch\"] == \"amd64\"", true);
	expect("task.labels.team == \"ml\"", true);
	expect("task.name == \"bert\"", true);
	expect("worker.id == \"w1\"", true);
	expect("worker.capabilities.docker", true);
	expect("worker.capabilities.docker == true", true);
	expect("worker.capabilities.gpus[0].name == \"A100\"", true);
	expect("worker.capabilities.gpus[0].memory >= task.gpu_memory", true);
	expect("worker.hardware[1] == \"cuda\"", true);
	expect("task.requirements.memory == task.memory", true);
}

/* Missing fields are null: every comparison with null is false, != included. */
static void test_nulls(void **state)
{
	(void)state;
	expect("worker.labels.rack == \"r1\"", false);
	expect("worker.labels.rack != \"r1\"", false);
	expect("!(worker.labels.rack == \"r1\")", true);
	expect("worker.labels.rack < 1", false);
	expect("worker.labels.rack >= 1", false);
	expect("worker.labels.rack in [\"r1\"]", false);
	expect("\"r1\" in worker.labels.rack", false);
	expect("task.params.nothing.deeper == 1", false);
	expect("worker.capabilities.gpus[5].name == \"A100\"", false);
	expect("task.cpu.sub == 1", false);
	expect("worker.nope", false);
	expect("!worker.nope", true);
	/* Values of different types are not comparable either. */
	expect("task.params.model == 1", false);
	expect("task.params.model != 1", false);
	expect("task.params.model < 1", false);
	expect("worker.labels == worker.labels", false); /* objects compare to nothing */
	/* A field the caller does not know (NaN) is null. */
	ctx.num[DTF_EXPR_WORKER_AVAILABLE_CPU] = NAN;
	expect("task.cpu <= worker.available_cpu", false);
	expect("task.cpu > worker.available_cpu", false);
	ctx.num[DTF_EXPR_WORKER_AVAILABLE_CPU] = 1;
	/* No documents at all. */
	{
		struct dtf_expr_ctx save = ctx;
		dtf_expr_ctx_init(&ctx);
		expect("task.hardware in worker.hardware", false);
		expect("worker.labels.os == \"linux\"", false);
		expect("!(task.cpu <= 1)", true);
		ctx = save;
	}
}

/* ---- errors: each names the 1-based character position ---- */

static void test_errors(void **state)
{
	(void)state;
	expect_error("", "position 1: the expression is empty");
	expect_error("   ", "position 1: the expression is empty");
	expect_error("task.cpu <= ", "position 13: expected an operand, found the end of the "
				     "expression");
	expect_error("task.cpu <= && true", "position 13: expected an operand");
	expect_error("task.cpu = 2", "position 10: '=' is not an operator (use == to compare)");
	expect_error("task.cpu == 2 & true", "position 15: '&' is not an operator (use &&)");
	expect_error("task.cpu == 2 | true", "position 15: '|' is not an operator (use ||)");
	expect_error("(task.cpu == 2", "position 15: expected ')'");
	expect_error("task.cpu == 2)", "position 14: unexpected ')' after a complete expression");
	expect_error("[1, 2", "position 6: expected ',' or ']' in a list");
	expect_error("foo == 1",
		     "position 1: unknown name 'foo' (fields start with task. or worker.; quote "
		     "text)");
	expect_error("worker.labels.os == linux",
		     "position 21: unknown name 'linux' (fields start with task. or worker.; "
		     "quote text)");
	expect_error("task == 1", "position 6: expected '.' and a field name after 'task'");
	expect_error("task. == 1", "position 7: expected a field name after '.'");
	expect_error("worker.labels[os] == 1",
		     "position 15: expected a quoted key or a list index inside [ ]");
	expect_error("worker.labels[\"os\" == 1", "position 20: expected ']'");
	expect_error("task.name == \"abc", "position 14: unterminated string");
	expect_error("task.name == \"a\\qb\"",
		     "position 16: unknown escape in a string (use \\\" \\' \\\\ \\n \\t)");
	expect_error("task.cpu == 1x", "position 13: malformed number");
	expect_error("task.cpu == 1e999", "position 13: number out of range");
	expect_error("task.cpu # 2", "position 10: unexpected '#'");
	expect_error("1 < task.cpu < 3",
		     "position 14: comparisons do not chain: join them with &&");
	expect_error("task.cpu", "position 1: expected a condition (a comparison, true/false or a "
				 "field), found a number");
	expect_error("\"linux\"", "position 1: expected a condition (a comparison, true/false or "
				  "a field), found a string");
	expect_error("true && 3", "position 9: expected a condition (a comparison, true/false or "
				  "a field), found a number");
	expect_error("!task.hardware",
		     "position 2: expected a condition (a comparison, true/false or a field), "
		     "found a list");
	expect_error("task.cpu == \"2\"", "position 10: cannot compare a number with a string");
	expect_error("[1] < [2]",
		     "position 5: '<', '<=', '>' and '>=' compare numbers or strings, not a list");
	expect_error("\"a\" in 3",
		     "position 8: the right side of 'in' must be a list, a string or a field, not "
		     "a number");
	/* Positions count characters, not bytes. */
	expect_error("worker.labels.city == \"Zürich\" &&", "position 34: expected an operand, "
							    "found the end of the expression");
	expect_error("worker.labels.city == é", "position 23: unexpected character (names are "
						"ASCII; quote text)");
	expect_error("task.cpu\x01", "position 9: unexpected control character");
}

static void test_limits(void **state)
{
	char *src = malloc(DTF_EXPR_MAX_LEN + 2), err[256];
	struct dtf_expr *e = NULL;
	size_t i, n;

	(void)state;
	/* Length. */
	memset(src, ' ', DTF_EXPR_MAX_LEN + 1);
	memcpy(src, "true", 4);
	src[DTF_EXPR_MAX_LEN] = '\0';
	assert_int_equal(dtf_expr_compile(src, &e, err, sizeof(err)), 0);
	dtf_expr_free(e);
	src[DTF_EXPR_MAX_LEN] = ' ';
	src[DTF_EXPR_MAX_LEN + 1] = '\0';
	assert_int_not_equal(dtf_expr_compile(src, &e, err, sizeof(err)), 0);
	assert_null(e);
	assert_string_equal(err, "position 4097: the expression is too long (at most 4096 bytes)");

	/* Depth: 32 levels of parentheses compile, 33 do not. */
	for (n = 32; n <= 33; n++) {
		size_t k = 0;
		for (i = 0; i < n; i++)
			src[k++] = '(';
		memcpy(src + k, "true", 4);
		k += 4;
		for (i = 0; i < n; i++)
			src[k++] = ')';
		src[k] = '\0';
		if (n == 32) {
			assert_int_equal(dtf_expr_compile(src, &e, err, sizeof(err)), 0);
			assert_true(dtf_expr_eval(e, &ctx));
			dtf_expr_free(e);
		} else {
			assert_int_not_equal(dtf_expr_compile(src, &e, err, sizeof(err)), 0);
			assert_string_equal(err,
					    "position 33: nested too deeply (at most 32 levels)");
		}
	}
	/* Negations and lists nest too. */
	memset(src, '!', 40);
	memcpy(src + 40, "true", 5);
	assert_int_not_equal(dtf_expr_compile(src, &e, err, sizeof(err)), 0);
	assert_string_equal(err, "position 33: nested too deeply (at most 32 levels)");
	memset(src, '[', 40);
	memcpy(src + 40, "1", 2);
	memcpy(src, "1 in ", 5);
	assert_int_not_equal(dtf_expr_compile(src, &e, err, sizeof(err)), 0);
	assert_string_equal(err, "position 38: nested too deeply (at most 32 levels)");

	/* Nodes: a list of 600 numbers is too many terms, within the length limit. */
	{
		size_t k = 0;
		k += (size_t)snprintf(src + k, 16, "1 in [");
		for (i = 0; i < 600; i++)
			k += (size_t)snprintf(src + k, 8, "%s1", i ? "," : "");
		snprintf(src + k, 4, "]");
		assert_true(strlen(src) <= DTF_EXPR_MAX_LEN);
		assert_int_not_equal(dtf_expr_compile(src, &e, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "the expression is too large (at most 512 terms)"));
	}
	free(src);
}

/* ---- evaluation allocates nothing ---- */

static void test_no_allocation(void **state)
{
	static const char *const srcs[] = {
	    "task.hardware in worker.hardware",
	    "task.cpu <= worker.available_cpu || task.cpu <= worker.cpu",
	    "worker.labels.os == \"linux\" && task.gpu_memory <= worker.available_gpu_memory",
	    "task.params.batch_sizes == [1, 8, 32] && !(\"rocm\" in worker.hardware)",
	    "worker.labels[\"kubernetes.io/arch\"] in [\"amd64\", \"arm64\"]",
	    "worker.capabilities.gpus[0].memory >= task.gpu_memory && 'bert' in task.params.model",
	    "worker.labels.missing != \"x\" || \"zone\" in worker.labels",
	};
	struct dtf_expr *e[sizeof(srcs) / sizeof(srcs[0])];
	char err[256];
	size_t i;
	int round;
	long n;

	(void)state;
	for (i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++)
		assert_int_equal(dtf_expr_compile(srcs[i], &e[i], err, sizeof(err)), 0);
	json_set_alloc_funcs(json_counting_malloc, free);
	/* The counter itself works: a compile allocates. */
	counting = 1;
	allocations = 0;
	{
		struct dtf_expr *tmp = NULL;
		assert_int_equal(dtf_expr_compile("true", &tmp, err, sizeof(err)), 0);
		dtf_expr_free(tmp);
		json_decref(json_string("x"));
	}
	n = allocations;
	counting = 0;
	assert_true(n >= (LIBC_COUNTED ? 2 : 1));
	/* Evaluating allocates nothing. */
	counting = 1;
	allocations = 0;
	for (round = 0; round < 100; round++)
		for (i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++)
			(void)dtf_expr_eval(e[i], &ctx);
	n = allocations;
	counting = 0;
	json_set_alloc_funcs(malloc, free);
	if (n != 0)
		print_error("evaluation allocated %ld times\n", n);
	assert_int_equal(n, 0);
	for (i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++)
		dtf_expr_free(e[i]);
}

static void test_uses_available(void **state)
{
	struct dtf_expr *e;
	char err[128];

	(void)state;
	assert_int_equal(dtf_expr_compile("task.cpu <= worker.available_cpu", &e, err, sizeof(err)),
			 0);
	assert_true(dtf_expr_uses_available(e));
	dtf_expr_free(e);
	assert_int_equal(dtf_expr_compile("task.cpu <= worker.cpu", &e, err, sizeof(err)), 0);
	assert_false(dtf_expr_uses_available(e));
	dtf_expr_free(e);
	assert_false(dtf_expr_uses_available(NULL));
	assert_false(dtf_expr_eval(NULL, &ctx));
	dtf_expr_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_seed_examples, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_comparisons, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_logic_and_precedence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_in_and_lists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fields_and_labels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nulls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_allocation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uses_available, setup, teardown),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
