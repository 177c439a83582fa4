/* testcount.c: a task's test entries and their counts (see testcount.h). The rules, in one place:
 * a task's JUnit test cases are its entries, or the task is one entry when it has none; a failed
 * task none of whose cases failed gets an error entry of its own (it crashed, timed out or
 * exited non-zero outside its tests); a failed pytest chunk names the files no case came from as
 * not run. */
#include "common/testcount.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"

static const char *const status_names[DTF_TEST__COUNT] = {
    [DTF_TEST_PASSED] = "passed",
    [DTF_TEST_FAILED] = "failed",
    [DTF_TEST_ERROR] = "error",
    [DTF_TEST_SKIPPED] = "skipped",
    [DTF_TEST_XFAILED] = "xfailed",
    [DTF_TEST_XPASSED] = "xpassed",
    [DTF_TEST_FLAKY] = "flaky",
    [DTF_TEST_ORDER_DEPENDENT] = "order_dependent",
    [DTF_TEST_ISOLATION_FAILURE] = "isolation_failure",
    [DTF_TEST_CANCELLED] = "cancelled",
    [DTF_TEST_PENDING] = "pending",
    [DTF_TEST_RUNNING] = "running",
};

const char *dtf_test_status_name(enum dtf_test_status s)
{
	return (unsigned)s < DTF_TEST__COUNT ? status_names[s] : "error";
}

int dtf_test_status_parse(const char *name)
{
	int i;

	for (i = 0; name && i < DTF_TEST__COUNT; i++)
		if (strcmp(name, status_names[i]) == 0)
			return i;
	return -1;
}

bool dtf_test_status_fails(enum dtf_test_status s, bool order_ok)
{
	switch (s) {
	case DTF_TEST_FAILED:
	case DTF_TEST_ERROR:
		return true;
	case DTF_TEST_ORDER_DEPENDENT:
	case DTF_TEST_ISOLATION_FAILURE:
		return !order_ok;
	default:
		return false;
	}
}

/* A non-negative finite number member, else 0. */
static double num(const json_t *obj, const char *key)
{
	double d = dtf_json_num(obj, key, 0);

	return isfinite(d) && d > 0 ? d : 0;
}

double dtf_task_seconds(const json_t *task)
{
	const json_t *result = json_object_get(task, "result");
	const char *a = dtf_json_str(task, "started_at", NULL);
	const char *z = dtf_json_str(task, "finished_at", NULL);
	int64_t ta, tz;

	if (json_is_number(json_object_get(result, "duration_s")))
		return num(result, "duration_s");
	if (a && z && dtf_parse_rfc3339(a, &ta) == 0 && dtf_parse_rfc3339(z, &tz) == 0 && tz > ta)
		return (double)(tz - ta) / 1000.0;
	return 0;
}

const char *dtf_task_failure_text(const json_t *task, char *buf, size_t len)
{
	const json_t *error = json_object_get(task, "error");
	const json_t *result = json_object_get(task, "result");
	const json_t *code = json_object_get(result, "exit_code");
	const json_t *sig = json_object_get(result, "signal");
	const char *msg = dtf_json_str(error, "message", NULL);

	if (msg && *msg)
		return msg;
	if (json_is_integer(sig) && json_integer_value(sig) > 0)
		snprintf(buf, len, "killed by signal %lld", (long long)json_integer_value(sig));
	else if (json_is_integer(code) && json_integer_value(code) != 0)
		snprintf(buf, len, "exit code %lld", (long long)json_integer_value(code));
	else
		snprintf(buf, len, "%s", dtf_json_str(error, "kind", "task failed"));
	return buf;
}

/* Writes a case's full name, "classname::name" or its name, into buf. */
static const char *case_name(const json_t *tc, char *buf, size_t len)
{
	const char *cls = dtf_json_str(tc, "classname", NULL);
	const char *name = dtf_json_str(tc, "name", "(unnamed)");

	if (!cls || !*cls)
		return name;
	snprintf(buf, len, "%s::%s", cls, name);
	return buf;
}

/* True when an attempt of task before the last one names the case among its failed_tests. */
static bool failed_before(const json_t *task, const json_t *tc)
{
	const json_t *hist = json_object_get(task, "history"), *a, *n;
	char buf[1024];
	const char *name = NULL;
	size_t i, j;

	json_array_foreach(hist, i, a) {
		json_array_foreach(json_object_get(a, "failed_tests"), j, n) {
			if (!name)
				name = case_name(tc, buf, sizeof(buf));
			if (json_is_string(n) && strcmp(json_string_value(n), name) == 0)
				return true;
		}
	}
	return false;
}

json_t *dtf_test_failing_names(const json_t *task, size_t max)
{
	const json_t *cases = json_object_get(json_object_get(task, "result"), "testcases"), *tc;
	json_t *names = NULL;
	char buf[1024];
	size_t i;
	int s;

	json_array_foreach(cases, i, tc) {
		s = dtf_test_status_parse(dtf_json_str(tc, "status", "passed"));
		if (s >= 0 && !dtf_test_status_fails((enum dtf_test_status)s, false))
			continue;
		if (!names && !(names = json_array()))
			return NULL;
		if (json_array_size(names) >= max ||
		    json_array_append_new(names, json_string(case_name(tc, buf, sizeof(buf)))))
			break;
	}
	return names;
}

/* The status of one JUnit test case. A runner (or dtf's own re-run of a failing test) may write
 * any status name; pytest writes an expected failure as skipped with type "pytest.xfail". A case
 * of a task that passed only on a retry is flaky when an earlier attempt failed it. */
static enum dtf_test_status case_status(const json_t *task, const json_t *tc)
{
	const char *st = dtf_json_str(tc, "status", "passed");
	int s = dtf_test_status_parse(st);

	if (s < 0 || s == DTF_TEST_PENDING || s == DTF_TEST_RUNNING || s == DTF_TEST_CANCELLED)
		return DTF_TEST_ERROR; /* not a status a finished test case can have */
	if (s == DTF_TEST_SKIPPED && strcmp(dtf_json_str(tc, "type", ""), "pytest.xfail") == 0)
		return DTF_TEST_XFAILED;
	if (s == DTF_TEST_PASSED &&
	    (dtf_json_bool(tc, "flaky", false) ||
	     (dtf_json_bool(json_object_get(task, "result"), "flaky", false) &&
	      failed_before(task, tc))))
		return DTF_TEST_FLAKY;
	return (enum dtf_test_status)s;
}

/* The status of a task that is its own (only) test entry. */
static enum dtf_test_status task_status(const json_t *task, const char *st, const char **kind)
{
	const json_t *error = json_object_get(task, "error");

	*kind = dtf_json_str(error, "kind", NULL);
	if (strcmp(st, "completed") == 0) {
		*kind = NULL;
		return dtf_json_bool(json_object_get(task, "result"), "flaky", false)
			   ? DTF_TEST_FLAKY
			   : DTF_TEST_PASSED;
	}
	if (strcmp(st, "failed") == 0)
		return DTF_TEST_FAILED;
	if (strcmp(st, "cancelled") == 0)
		return *kind && strcmp(*kind, "unschedulable") == 0 ? DTF_TEST_SKIPPED
								    : DTF_TEST_CANCELLED;
	if (strcmp(st, "pending") == 0)
		return DTF_TEST_PENDING;
	if (strcmp(st, "assigned") == 0 || strcmp(st, "running") == 0)
		return DTF_TEST_RUNNING;
	return DTF_TEST_ERROR;
}

/* True when s (a dotted classname or module path) has base (a file name without ".py") as one of
 * its dot-separated components: pytest names the case of tests/test_x.py::T::t "tests.test_x.T",
 * and a collection error of that file "tests.test_x". */
static bool has_component(const char *s, const char *base, size_t blen)
{
	const char *p = s;

	if (!s || !blen)
		return false;
	while ((p = strstr(p, base)) != NULL) {
		if ((p == s || p[-1] == '.') && (p[blen] == '\0' || p[blen] == '.'))
			return true;
		p++;
	}
	return false;
}

/* True when one of cases came from the Python file path. */
static bool file_has_case(const char *path, const json_t *cases)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t blen = strlen(base), i;
	const json_t *tc;

	if (blen > 3 && strcmp(base + blen - 3, ".py") == 0)
		blen -= 3;
	if (blen == 0 || blen >= 1024)
		return true; /* nothing to match on: do not claim it was not run */
	{
		char b[1024];

		memcpy(b, base, blen);
		b[blen] = '\0';
		json_array_foreach(cases, i, tc) {
			const char *file = dtf_json_str(tc, "file", NULL);

			if (file && strcmp(file, path) == 0)
				return true;
			if (has_component(dtf_json_str(tc, "classname", NULL), b, blen) ||
			    has_component(dtf_json_str(tc, "name", NULL), b, blen))
				return true;
		}
	}
	return false;
}

int dtf_test_entries(const json_t *task, dtf_test_entry_fn fn, void *arg)
{
	return dtf_test_entries_as(task, NULL, fn, arg);
}

int dtf_test_entries_as(const json_t *task, const char *status, dtf_test_entry_fn fn, void *arg)
{
	const json_t *result = json_object_get(task, "result");
	const json_t *cases = json_object_get(result, "testcases");
	const json_t *files = json_object_get(json_object_get(task, "params"), "pytest_files");
	const char *name = dtf_json_str(task, "name", dtf_json_str(task, "id", "(unnamed task)"));
	const char *st = status ? status : dtf_json_str(task, "status", "");
	bool failed = strcmp(st, "failed") == 0;
	struct dtf_test_entry e = {.task = task};
	size_t i, ncases = 0, bad = 0;
	double case_time = 0, secs;
	const char *why;
	char buf[128], nr[512];
	const json_t *tc, *f;
	int rc;

	json_array_foreach(cases, i, tc) {
		if (!json_is_object(tc))
			continue;
		ncases++;
		e.kind = DTF_ENTRY_CASE;
		e.tc = tc;
		e.status = case_status(task, tc);
		e.classname = dtf_json_str(tc, "classname", NULL);
		if (e.classname && !*e.classname)
			e.classname = NULL;
		e.name = dtf_json_str(tc, "name", "(unnamed)");
		e.duration_s = num(tc, "time");
		e.error_kind = e.status == DTF_TEST_PASSED ? NULL : dtf_json_str(tc, "type", NULL);
		e.message = e.status == DTF_TEST_PASSED ? NULL : dtf_json_str(tc, "message", NULL);
		if (dtf_test_status_fails(e.status, false))
			bad++;
		case_time += e.duration_s;
		rc = fn(&e, arg);
		if (rc)
			return rc;
	}
	e.tc = NULL;
	e.classname = NULL;
	e.name = name;
	if (ncases == 0 && !(failed && json_array_size(files))) {
		e.kind = DTF_ENTRY_TASK;
		e.status = task_status(task, st, &e.error_kind);
		e.duration_s = dtf_task_seconds(task);
		e.message = NULL;
		if (e.status == DTF_TEST_FAILED)
			e.message = dtf_task_failure_text(task, buf, sizeof(buf));
		else if (e.status == DTF_TEST_SKIPPED || e.status == DTF_TEST_CANCELLED)
			e.message = dtf_json_str(json_object_get(task, "error"), "message", NULL);
		return fn(&e, arg);
	}
	if (!failed || bad)
		return 0;
	/* Failed outside its tests: say so, with what happened, and name what it did not get to. */
	e.kind = DTF_ENTRY_TASK_ERROR;
	e.status = DTF_TEST_ERROR;
	secs = dtf_task_seconds(task);
	e.duration_s = secs > case_time ? secs - case_time : 0;
	e.error_kind = dtf_json_str(json_object_get(task, "error"), "kind", NULL);
	/* The failure's text, also for the files it did not get to, below. */
	why = dtf_task_failure_text(task, buf, sizeof(buf));
	e.message = why;
	rc = fn(&e, arg);
	if (rc)
		return rc;
	e.kind = DTF_ENTRY_NOT_RUN;
	e.duration_s = 0;
	e.error_kind = "not_run";
	json_array_foreach(files, i, f) {
		const char *path = json_string_value(f);

		if (!path || file_has_case(path, cases))
			continue;
		e.name = path;
		snprintf(nr, sizeof(nr),
			 "not run: %.200s failed before this file's tests reported (%.200s)", name,
			 why);
		e.message = nr;
		rc = fn(&e, arg);
		if (rc)
			return rc;
	}
	return 0;
}

void dtf_testcount_add(struct dtf_testcount *c, const struct dtf_test_entry *e)
{
	c->n[e->status]++;
	c->total++;
	c->duration_s += e->duration_s;
}

static int add_entry(const struct dtf_test_entry *e, void *arg)
{
	dtf_testcount_add(arg, e);
	return 0;
}

void dtf_testcount_add_task(struct dtf_testcount *c, const json_t *task)
{
	dtf_testcount_add_task_as(c, task, NULL);
}

void dtf_testcount_add_task_as(struct dtf_testcount *c, const json_t *task, const char *status)
{
	if (json_is_object(task))
		dtf_test_entries_as(task, status, add_entry, c);
}

void dtf_testcount_merge(struct dtf_testcount *c, const struct dtf_testcount *b, int sign)
{
	int i;

	for (i = 0; i < DTF_TEST__COUNT; i++)
		c->n[i] += sign * b->n[i];
	c->total += sign * b->total;
	c->duration_s += sign * b->duration_s;
	if (c->duration_s < 0)
		c->duration_s = 0;
}

long long dtf_testcount_failing(const struct dtf_testcount *c, bool order_ok)
{
	long long n = 0;
	int i;

	for (i = 0; i < DTF_TEST__COUNT; i++)
		if (dtf_test_status_fails((enum dtf_test_status)i, order_ok))
			n += c->n[i];
	return n;
}

long long dtf_testcount_unfinished(const struct dtf_testcount *c)
{
	return c->n[DTF_TEST_PENDING] + c->n[DTF_TEST_RUNNING];
}

const char *dtf_testcount_state(const struct dtf_testcount *c, bool order_ok)
{
	if (c->total == 0)
		return "empty";
	if (dtf_testcount_failing(c, order_ok))
		return "failure";
	if (dtf_testcount_unfinished(c) || c->n[DTF_TEST_CANCELLED])
		return "incomplete";
	return "success";
}

json_t *dtf_testcount_json(const struct dtf_testcount *c)
{
	json_t *o = json_object();
	int i, bad = 0;

	if (!o)
		return NULL;
	bad |= json_object_set_new(o, "total", json_integer(c->total));
	for (i = 0; i < DTF_TEST__COUNT; i++)
		bad |= json_object_set_new(o, status_names[i], json_integer(c->n[i]));
	/* Rounded to the microsecond, so that sums of many cases print the same everywhere. */
	bad |= json_object_set_new(o, "duration_s", json_real(round(c->duration_s * 1e6) / 1e6));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void dtf_testcount_from_json(struct dtf_testcount *c, const json_t *obj)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->total = dtf_json_int(obj, "total", 0);
	for (i = 0; i < DTF_TEST__COUNT; i++)
		c->n[i] = dtf_json_int(obj, status_names[i], 0);
	c->duration_s = num(obj, "duration_s");
}

/* How a status is written in the line, singular and plural. */
static const struct {
	enum dtf_test_status s;
	const char *one, *many;
} line_words[] = {
    {DTF_TEST_ERROR, "error", "errors"},
    {DTF_TEST_SKIPPED, "skipped", "skipped"},
    {DTF_TEST_XFAILED, "xfailed", "xfailed"},
    {DTF_TEST_XPASSED, "xpassed", "xpassed"},
    {DTF_TEST_FLAKY, "flaky", "flaky"},
    {DTF_TEST_ORDER_DEPENDENT, "order-dependent", "order-dependent"},
    {DTF_TEST_ISOLATION_FAILURE, "isolation failure", "isolation failures"},
    {DTF_TEST_CANCELLED, "cancelled", "cancelled"},
};

void dtf_testcount_line(const struct dtf_testcount *c, char *out, size_t len)
{
	size_t i, used;
	int n;

	if (!len)
		return;
	n = snprintf(out, len, "%lld test%s: %lld passed, %lld failed", c->total,
		     c->total == 1 ? "" : "s", c->n[DTF_TEST_PASSED], c->n[DTF_TEST_FAILED]);
	used = n < 0 ? 0 : (size_t)n;
	for (i = 0; i < sizeof(line_words) / sizeof(line_words[0]) && used < len; i++) {
		long long k = c->n[line_words[i].s];

		if (!k)
			continue;
		n = snprintf(out + used, len - used, ", %lld %s", k,
			     k == 1 ? line_words[i].one : line_words[i].many);
		used += n < 0 ? 0 : (size_t)n;
	}
	if (used < len && dtf_testcount_unfinished(c))
		snprintf(out + used, len - used, ", %lld not finished",
			 dtf_testcount_unfinished(c));
}
