/* test_unsched.c: unit tests of how long a client waits for tasks no registered worker can run
 * (src/cli/unsched.c): a task's clock starts when a run summary first lists it as blocked, starts
 * again when it leaves the list, never runs with a timeout of 0, and a skip the coordinator
 * cannot take does not count. The coordinator here is unreachable, so nothing is cancelled. */
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

#include "cli/cli.h"
#include "net/http.h"
#include "unit_main.h"

/* A summary listing the tasks ids (NULL-terminated) as blocked. */
static json_t *summary(const char *const *ids)
{
	json_t *s = json_pack("{s:i,s:[]}", "blocked_count", 0, "blocked"), *b;
	int n = 0;

	b = json_object_get(s, "blocked");
	for (; ids && *ids; ids++, n++)
		json_array_append_new(b, json_pack("{s:s,s:s,s:s}", "id", *ids, "name", *ids,
						   "reason", "no registered worker can run it"));
	json_object_set_new(s, "blocked_count", json_integer(n));
	return s;
}

static int check(struct cli_unsched *u, struct dtf_http_client *c, const char *const *ids)
{
	json_t *s = summary(ids);
	int n = cli_unsched_check(u, c, "r-1", s, true);

	json_decref(s);
	return n;
}

static void test_clock_restarts(void **state)
{
	static const char *const a[] = {"t-a", NULL}, *const ab[] = {"t-a", "t-b", NULL},
				 *const b[] = {"t-b", NULL};
	struct dtf_http_client c;
	struct cli_unsched u;
	double next;

	(void)state;
	assert_int_equal(dtf_http_client_init(&c, "http://127.0.0.1:9", NULL), 0);
	cli_unsched_init(&u, 1.0);
	assert_true(cli_unsched_next_s(&u) < 0); /* nothing timed yet */
	assert_int_equal(check(&u, &c, a), 0);
	next = cli_unsched_next_s(&u);
	assert_true(next > 0.7 && next <= 1.0);
	usleep(600 * 1000);
	/* Still blocked: the clock runs on. */
	assert_int_equal(check(&u, &c, ab), 0);
	assert_true(cli_unsched_next_s(&u) < 0.45);
	/* t-a can run now; t-b keeps its own clock. */
	assert_int_equal(check(&u, &c, b), 0);
	next = cli_unsched_next_s(&u);
	assert_true(next > 0.7 && next <= 1.0);
	assert_null(json_object_get(u.seen, "t-a"));
	/* Blocked again: it starts from zero. */
	assert_int_equal(check(&u, &c, ab), 0);
	assert_true(json_integer_value(json_object_get(u.seen, "t-a")) >=
		    json_integer_value(json_object_get(u.seen, "t-b")));
	/* Nothing blocked: every clock stops. */
	assert_int_equal(check(&u, &c, NULL), 0);
	assert_true(cli_unsched_next_s(&u) < 0);
	assert_int_equal(json_object_size(u.seen), 0);
	assert_int_equal(json_array_size(u.skipped), 0);
	cli_unsched_release(&u);
	cli_unsched_release(&u); /* twice is fine */
	dtf_http_client_release(&c);
}

static void test_zero_waits(void **state)
{
	static const char *const a[] = {"t-a", NULL};
	struct dtf_http_client c;
	struct cli_unsched u;

	(void)state;
	assert_int_equal(dtf_http_client_init(&c, "http://127.0.0.1:9", NULL), 0);
	cli_unsched_init(&u, 0);
	assert_int_equal(check(&u, &c, a), 0);
	assert_true(cli_unsched_next_s(&u) < 0);
	assert_int_equal(json_object_size(u.seen), 0);
	cli_unsched_release(&u);
	dtf_http_client_release(&c);
}

static void test_skip_refused(void **state)
{
	static const char *const a[] = {"t-a", NULL};
	struct dtf_http_client c;
	struct cli_unsched u;

	(void)state;
	assert_int_equal(dtf_http_client_init(&c, "http://127.0.0.1:9", NULL), 0);
	cli_unsched_init(&u, 0.05);
	assert_int_equal(check(&u, &c, a), 0);
	usleep(100 * 1000);
	/* Due, but the coordinator cannot be told: not skipped, and timed again from now. */
	assert_int_equal(check(&u, &c, a), 0);
	assert_int_equal(json_array_size(u.skipped), 0);
	assert_int_equal(check(&u, &c, a), 0);
	assert_true(cli_unsched_next_s(&u) > 0);
	cli_unsched_release(&u);
	dtf_http_client_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clock_restarts),
	    cmocka_unit_test(test_zero_waits),
	    cmocka_unit_test(test_skip_refused),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
