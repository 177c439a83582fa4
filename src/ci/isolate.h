/* isolate.h: order dependence in pytest chunks. A chunk runs several test files in one pytest
 * process, and a file can change what the next one sees (a module global, an environment
 * variable, a monkeypatch left in place). When a chunk has failing tests, dtf re-runs each of
 * them alone, in a process of its own on the same kind of worker, and each file they come from
 * alone, and classifies what it sees (docs/reports.md, "Order dependence"):
 *
 *   failed             the test fails in its chunk and fails when re-run alone too;
 *   order_dependent    it fails in its chunk but passes when re-run alone: something that ran
 *                      before it in the chunk (the files named) made it fail;
 *   isolation_failure  it passed in its chunk but fails when its file is re-run alone: it
 *                      depends on state that a file before it in the chunk set up.
 *
 * Tests that could not be told apart (over the bound, a re-run that did not finish, was skipped
 * or found no test) keep their status, with the reason. The planning and the classification are
 * pure functions over task documents, so they are unit-tested without processes; only
 * dtf_isolate_run() talks to a coordinator. */
#ifndef DTF_CI_ISOLATE_H
#define DTF_CI_ISOLATE_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

struct dtf_http_client;

#define DTF_ISOLATE_MAX_TESTS	20   /* failing tests re-run alone per run, by default */
#define DTF_ISOLATE_MAX_SECONDS 60.0 /* how long the re-runs of one run may take, by default */
#define DTF_ISOLATE_TESTS_CAP	1000 /* the largest --isolate-max-tests */

struct dtf_isolate_opts {
	bool off;	    /* --no-isolate: no re-runs, statuses as the chunks gave them */
	bool allow;	    /* --allow-order-dependent: those two outcomes do not fail the run */
	int max_tests;	    /* failing tests re-run alone (each its own process), 0..CAP */
	double max_seconds; /* the re-runs' time in all, and each re-run's timeout */
	bool quiet;	    /* no progress or findings on stderr */
};

/* The defaults: on, not allowed, 20 tests, 60 s. */
void dtf_isolate_opts_init(struct dtf_isolate_opts *o);

/* The command-line options `dtf run` and `dtf ci` share, for their getopt_long tables, and the
 * lines of their --help. The values are DTF_ISOLATE_OPT_FIRST and up. */
enum {
	DTF_ISOLATE_OPT_FIRST = 0x1100,
	DTF_ISOLATE_OPT_OFF = DTF_ISOLATE_OPT_FIRST,
	DTF_ISOLATE_OPT_MAX_TESTS,
	DTF_ISOLATE_OPT_MAX_SECONDS,
	DTF_ISOLATE_OPT_ALLOW,
	DTF_ISOLATE_OPT_LAST = DTF_ISOLATE_OPT_ALLOW
};
#define DTF_ISOLATE_LONG_OPTIONS                                                                   \
	{"no-isolate", no_argument, NULL, DTF_ISOLATE_OPT_OFF},                                    \
	    {"isolate-max-tests", required_argument, NULL, DTF_ISOLATE_OPT_MAX_TESTS},             \
	    {"isolate-max-seconds", required_argument, NULL, DTF_ISOLATE_OPT_MAX_SECONDS},         \
	{                                                                                          \
		"allow-order-dependent", no_argument, NULL, DTF_ISOLATE_OPT_ALLOW                  \
	}
#define DTF_ISOLATE_USAGE                                                                          \
	"  --no-isolate           do not re-run a chunk's failing tests alone\n"                   \
	"  --isolate-max-tests N  re-run at most N failing tests alone (default 20)\n"             \
	"  --isolate-max-seconds S  the re-runs take at most S seconds in all (default 60)\n"      \
	"  --allow-order-dependent  order-dependent tests and isolation failures do not fail\n"    \
	"                         the run (they are still reported)\n"

/* True for a getopt value of one of those options. */
bool dtf_isolate_is_opt(int opt);
/* Applies option opt with its argument (NULL for flags). Returns 0, or DTF_EINVAL with err set
 * for a bad value. */
int dtf_isolate_parse_opt(struct dtf_isolate_opts *o, int opt, const char *arg, char *err,
			  size_t errlen);

/* The re-runs to make for the failing tests of tasks (an array of task documents as the API
 * shows them): for each failed pytest chunk (a task with params.pytest_files and JUnit test
 * cases), each failing test case (failed or error), in order, up to o->max_tests in all, becomes
 * a task that runs that test alone (its pytest node id; a file that failed to import is re-run
 * as the file); then each file those tests come from that also had a passing test in the chunk
 * becomes a task that runs that file alone. Each re-run task has the chunk's runner, cwd, env and
 * placement (hardware, requirements, constraints), timeout_s = o->max_seconds, and
 * params.isolate = {"task_id", "case" (the test case's index; absent for a file), "kind" ("test"
 * or "file"), "file"}. Returns a new array (empty when there is nothing to re-run), or NULL when
 * out of memory. */
json_t *dtf_isolate_plan(const json_t *tasks, const struct dtf_isolate_opts *o);

/* Classifies the failing test cases of doc's failed pytest chunks (doc: {"tasks": [...]}, as the
 * run's export gives it) from reruns (the re-run tasks dtf_isolate_plan made, as the API shows
 * them once finished; may be NULL or empty). Every failing case of such a chunk gets an
 * "isolation" object {"outcome": "failed" | "order_dependent" | "not_rerun" | "inconclusive",
 * "chunk_status", "files_before": [the chunk's files that ran before its file], "earlier_in_file"
 * (tests of its own file that ran before it), and when re-run "alone_status", "rerun_task_id", or
 * else "reason"}; an order-dependent case gets status "order_dependent", type "order_dependent"
 * and a message naming the files before it (the chunk's message kept in isolation.chunk_message).
 * A passing case of a re-run file that fails when the file runs alone gets status
 * "isolation_failure" and an isolation object with outcome "isolation_failure". Returns the
 * number of cases whose status changed, or a negative DTF_E* code. */
int dtf_isolate_apply(json_t *doc, const json_t *reruns, const struct dtf_isolate_opts *o);

/* True when doc (classified by dtf_isolate_apply) has failed tasks and each of them is a pytest
 * chunk that failed only through its tests (pytest's exit code 1) with at least one
 * order-dependent or isolation-failure case and no failed or error case: with
 * --allow-order-dependent such a run passes. */
bool dtf_isolate_only_order(const json_t *doc);

/* For run_id on the coordinator behind hc: fetches its failed tasks, plans the re-runs, submits
 * them as a run of their own (named "isolation re-runs of <run_id>"), waits for them at most
 * o->max_seconds (progress on stderr unless o->quiet), cancels what is left, and stores the
 * finished re-run tasks in *reruns (a new array, empty when there was nothing to re-run; NULL
 * with --no-isolate or a bound of 0 tests, when nothing is to be classified). Prints what it
 * found (each order-dependent test with the files before it). Returns 0 or a DTF_E* code
 * (*reruns is then an empty array: the failing tests are reported as the chunks gave them, each
 * with the reason "not re-run alone"). */
int dtf_isolate_run(struct dtf_http_client *hc, const char *run_id,
		    const struct dtf_isolate_opts *o, json_t **reruns);

#endif
