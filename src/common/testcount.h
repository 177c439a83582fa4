/* testcount.h: what users count. The unit is the test case: a JUnit test case a task produced,
 * or the task itself when it produced none. This file turns a task document (as GET
 * /api/v1/tasks/{id} shows it) into its test entries and counts them by status, so that the
 * terminal summaries, every report format, the badges, the CI providers and the coordinator's
 * /summary give the same numbers for the same run. It only reads documents: no I/O. */
#ifndef DTF_COMMON_TESTCOUNT_H
#define DTF_COMMON_TESTCOUNT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The status of one test entry. Every entry has exactly one, so the counts add up to the total. */
enum dtf_test_status {
	DTF_TEST_PASSED,
	DTF_TEST_FAILED,
	DTF_TEST_ERROR,		    /* an error outside the assertion, or a task that failed
				     * outside its tests, or a test it did not get to */
	DTF_TEST_SKIPPED,	    /* skipped by the runner, or no worker could run the task */
	DTF_TEST_XFAILED,	    /* expected to fail and failed (pytest's xfail) */
	DTF_TEST_XPASSED,	    /* expected to fail but passed (non-strict) */
	DTF_TEST_FLAKY,		    /* passed only on a retry: a task without cases, or a case
				     * an earlier attempt's history names among its
				     * failed_tests */
	DTF_TEST_ORDER_DEPENDENT,   /* failed in its group, passes alone */
	DTF_TEST_ISOLATION_FAILURE, /* passed in its group, fails alone */
	DTF_TEST_CANCELLED,	    /* its task was cancelled (not for want of a worker) */
	DTF_TEST_PENDING,	    /* its task has not started */
	DTF_TEST_RUNNING,	    /* its task is assigned or running */
	DTF_TEST__COUNT
};

/* The status's name as reports and the API write it ("passed", "order_dependent", …). */
const char *dtf_test_status_name(enum dtf_test_status s);
/* The status of a name, or -1 for a name that is none. */
int dtf_test_status_parse(const char *name);
/* True for the statuses that fail a run: failed, error, and unless order_ok, order_dependent
 * and isolation_failure. */
bool dtf_test_status_fails(enum dtf_test_status s, bool order_ok);

/* Where an entry comes from. */
enum dtf_test_entry_kind {
	DTF_ENTRY_CASE,	      /* a JUnit test case of the task */
	DTF_ENTRY_TASK,	      /* the task itself, which produced no test case */
	DTF_ENTRY_TASK_ERROR, /* the task failed outside its tests (crash, timeout, exit status) */
	DTF_ENTRY_NOT_RUN     /* a file of the task (params.pytest_files) with no test case, in a
			       * task that failed: the tests it did not get to */
};

/* One test entry, valid during the callback only. */
struct dtf_test_entry {
	const json_t *task;
	const json_t *tc; /* the JUnit test case (DTF_ENTRY_CASE), else NULL */
	enum dtf_test_entry_kind kind;
	enum dtf_test_status status;
	const char *classname;	/* the case's classname, or NULL */
	const char *name;	/* the case's name, the task's name, or the file not run */
	double duration_s;	/* the case's own time; a task's time, less its cases' for an
				 * error entry beside them; 0 for a file not run */
	const char *error_kind; /* or NULL */
	const char *message;	/* or NULL */
};

/* Called for each entry; a non-zero return stops the walk and is returned. */
typedef int (*dtf_test_entry_fn)(const struct dtf_test_entry *e, void *arg);

/* Calls fn for each test entry of task, in order: its test cases (or the task itself when it
 * has none), then an error entry when the task failed but none of its cases did, then one entry
 * per file of params.pytest_files that no case came from, when the task failed. Returns 0 or
 * what fn returned. */
int dtf_test_entries(const json_t *task, dtf_test_entry_fn fn, void *arg);
/* The same for a task whose status is status (a task status name) whatever its document says:
 * the coordinator counts a task while its status changes, before the document says so. */
int dtf_test_entries_as(const json_t *task, const char *status, dtf_test_entry_fn fn, void *arg);

/* A new array of the names ("classname::name", or the name) of task's test cases that fail
 * (dtf_test_status_fails), at most max of them; NULL when there are none or out of memory. The
 * coordinator keeps them with an attempt that is retried, so that a case that passes on the
 * retry is counted flaky. */
json_t *dtf_test_failing_names(const json_t *task, size_t max);

/* The time a task took: result.duration_s, else finished_at - started_at, else 0. */
double dtf_task_seconds(const json_t *task);

/* What a failed task's failure says: its error message, else what its exit status says ("killed
 * by signal 9", "exit code 2"), else its error kind. Written into buf when it is not the
 * message itself. */
const char *dtf_task_failure_text(const json_t *task, char *buf, size_t len);

/* Counts by status. */
struct dtf_testcount {
	long long n[DTF_TEST__COUNT];
	long long total;
	double duration_s; /* the summed time of the entries */
};

/* Adds one entry. */
void dtf_testcount_add(struct dtf_testcount *c, const struct dtf_test_entry *e);
/* Adds every entry of a task; with status (not NULL), of the task in that status (see
 * dtf_test_entries_as). */
void dtf_testcount_add_task(struct dtf_testcount *c, const json_t *task);
void dtf_testcount_add_task_as(struct dtf_testcount *c, const json_t *task, const char *status);
/* Adds (sign 1) or takes away (sign -1) the counts of b. */
void dtf_testcount_merge(struct dtf_testcount *c, const struct dtf_testcount *b, int sign);
/* Entries that fail the run (see dtf_test_status_fails). */
long long dtf_testcount_failing(const struct dtf_testcount *c, bool order_ok);
/* Entries whose task is not finished (pending, running). */
long long dtf_testcount_unfinished(const struct dtf_testcount *c);
/* The run's state: "empty" (no entries), "failure" (something fails), "incomplete" (something
 * is unfinished or cancelled), else "success". */
const char *dtf_testcount_state(const struct dtf_testcount *c, bool order_ok);
/* A new object {"total", one member per status name, "duration_s"}; NULL when out of memory. */
json_t *dtf_testcount_json(const struct dtf_testcount *c);
/* Reads such an object back (absent members are 0). */
void dtf_testcount_from_json(struct dtf_testcount *c, const json_t *obj);
/* The one-line summary every front-end prints: "12 tests: 9 passed, 1 failed, 1 error, 1
 * skipped" — total, passed and failed always, the other statuses when there are any ("not
 * finished" for pending and running), singular and plural right. Cut to fit len. */
void dtf_testcount_line(const struct dtf_testcount *c, char *out, size_t len);

#endif
