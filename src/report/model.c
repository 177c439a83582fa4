/* model.c: the TestRunResult model every report format is written from. dtf_report_prepare()
 * enriches a run document in place with a flat list of test rows, a summary with percentages and
 * a status, the performance metrics of benchmark tasks, the merged coverage of the files the run
 * produced, and a comparison with an earlier run; dtf_report_render() picks a writer by name. */
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/hmap.h"
#include "common/testcount.h"
#include "common/utf8.h"
#include "common/util.h"
#include "report/coverage.h"
#include "report/view.h"

#define MAX_METRICS_PER_TASK 256
#define MAX_COVERAGE_FILES   1000

double report_num(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	double d;

	if (!json_is_number(v))
		return 0;
	d = json_number_value(v);
	return isfinite(d) && d > 0 ? d : 0;
}

const char *report_str(json_t *obj, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : def;
}

const char *report_value_text(json_t *v, char num[32])
{
	if (json_is_integer(v)) {
		snprintf(num, 32, "%lld", (long long)json_integer_value(v));
		return num;
	}
	return json_string_value(v);
}

double report_pct(double part, double total)
{
	if (total <= 0)
		return 0;
	/* Two decimals are all a report shows; rounding here keeps the JSON readable too. */
	return round(part * 10000.0 / total) / 100.0;
}

void report_duration(double s, char out[64])
{
	long long whole;
	int h, m;

	if (!isfinite(s) || s < 0)
		s = 0;
	if (s < 60) {
		snprintf(out, 64, "%.2fs", s);
		return;
	}
	whole = (long long)(s / 60.0);
	s -= (double)whole * 60.0;
	h = (int)(whole / 60 > 1000000 ? 1000000 : whole / 60);
	m = (int)(whole % 60);
	if (h)
		snprintf(out, 64, "%dh %dm %.2fs", h, m, s);
	else
		snprintf(out, 64, "%dm %.2fs", m, s);
}

int report_humanize(struct dtf_buf *b, const char *key)
{
	bool start = true;
	char c;
	int rc = 0;

	for (; *key && !rc; key++) {
		c = *key;
		if (c == '_' || c == '-') {
			rc = dtf_buf_adds(b, " ");
			start = true;
			continue;
		}
		if (start && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		start = false;
		rc = dtf_buf_add(b, &c, 1);
	}
	return rc;
}

bool report_row_failed(json_t *row)
{
	int st = dtf_test_status_parse(report_str(row, "status", ""));

	return st >= 0 && dtf_test_status_fails((enum dtf_test_status)st, false);
}

const char *report_status_label(enum dtf_test_status s)
{
	static const char *const labels[DTF_TEST__COUNT] = {
	    [DTF_TEST_PASSED] = "Passed",
	    [DTF_TEST_FAILED] = "Failed",
	    [DTF_TEST_ERROR] = "Errors",
	    [DTF_TEST_SKIPPED] = "Skipped",
	    [DTF_TEST_XFAILED] = "Expected failures (xfailed)",
	    [DTF_TEST_XPASSED] = "Unexpected passes (xpassed)",
	    [DTF_TEST_FLAKY] = "Flaky (passed on retry)",
	    [DTF_TEST_ORDER_DEPENDENT] = "Order-dependent",
	    [DTF_TEST_ISOLATION_FAILURE] = "Isolation failures",
	    [DTF_TEST_CANCELLED] = "Cancelled",
	    [DTF_TEST_PENDING] = "Pending",
	    [DTF_TEST_RUNNING] = "Running",
	};

	return (unsigned)s < DTF_TEST__COUNT ? labels[s] : "Unknown";
}

int report_view(json_t *doc, json_t **summary, json_t **tests)
{
	*summary = NULL;
	*tests = NULL;
	if (!json_is_object(doc))
		return DTF_EINVAL;
	*summary = report_summary(doc);
	*tests = report_tests(doc);
	return *summary && *tests ? 0 : DTF_ENOMEM;
}

void report_upper(const char *s, char *out, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i < len - 1; i++)
		out[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i]);
	out[i] = '\0';
}

const char *report_status(json_t *summary)
{
	struct dtf_testcount c;

	dtf_testcount_from_json(&c, summary);
	return dtf_testcount_state(&c, false);
}

bool report_finished_text(json_t *doc, json_t *summary, char out[40])
{
	json_t *run = json_object_get(doc, "run");
	const char *when = report_str(summary, "finished_at", NULL);
	int64_t ms;
	time_t t;
	struct tm tm;

	if (!when)
		when = report_str(run, "finished_at", report_str(run, "created_at", NULL));
	if (!when || dtf_parse_rfc3339(when, &ms) != 0)
		return false;
	t = (time_t)(ms / 1000);
	return gmtime_r(&t, &tm) && strftime(out, 40, "%Y-%m-%d %H:%M:%S UTC", &tm) > 0;
}

/* ---- test rows ---- */

/* The test type a task belongs to, for the per-type badges: its "test_type", params.test_type,
 * else its task type. */
static const char *test_type(json_t *task)
{
	const char *t = report_str(task, "test_type", NULL);

	if (!t)
		t = report_str(json_object_get(task, "params"), "test_type", NULL);
	if (!t)
		t = report_str(task, "type", "task");
	return t;
}

json_t *report_string(const char *s)
{
	size_t len = strlen(s), i = 0, n;
	struct dtf_buf b;
	uint32_t cp;
	json_t *j = json_stringn(s, len);

	if (j)
		return j;
	/* Not UTF-8 (a document built in memory can hold anything): show bad bytes as U+FFFD. */
	dtf_buf_init(&b, len * 3 + 1);
	while (i < len) {
		n = dtf_utf8_decode((const unsigned char *)s + i, len - i, &cp);
		if (n == 0) {
			if (dtf_buf_adds(&b, "\xef\xbf\xbd"))
				break;
			i++;
			continue;
		}
		if (dtf_buf_add(&b, s + i, n))
			break;
		i += n;
	}
	j = i == len ? json_stringn(dtf_buf_str(&b), b.len) : NULL;
	dtf_buf_release(&b);
	return j;
}

/* Sets key to s as a valid UTF-8 string; 0 or DTF_ENOMEM. */
static int set_str(json_t *obj, const char *key, const char *s)
{
	return json_object_set_new(obj, key, report_string(s)) ? DTF_ENOMEM : 0;
}

/* Appends the row of one test entry (see common/testcount.h). */
static int add_entry_row(const struct dtf_test_entry *e, void *arg)
{
	json_t *rows = arg, *row = json_object(), *task = (json_t *)e->task;
	const char *worker = report_str(task, "worker_id", NULL);
	struct dtf_buf full;
	int rc;

	dtf_buf_init(&full, 1u << 16);
	if (e->classname)
		rc = dtf_buf_printf(&full, "%s::%s", e->classname, e->name);
	else if (e->kind == DTF_ENTRY_TASK_ERROR)
		rc = dtf_buf_printf(&full, "%s (task)", e->name);
	else
		rc = dtf_buf_adds(&full, e->name);
	if (rc == DTF_ETOOBIG)
		rc = 0; /* a name that long is shown cut */
	if (rc || !row || set_str(row, "name", dtf_buf_str(&full)) ||
	    set_str(row, "task_id", report_str(task, "id", "")) ||
	    set_str(row, "task_name", report_str(task, "name", report_str(task, "id", ""))) ||
	    set_str(row, "test_type", test_type(task)) ||
	    set_str(row, "status", dtf_test_status_name(e->status)) ||
	    json_object_set_new(row, "duration_s", json_real(e->duration_s)) ||
	    (worker && set_str(row, "worker_id", worker)) ||
	    (e->error_kind && *e->error_kind && set_str(row, "error_kind", e->error_kind)) ||
	    (e->message && *e->message && set_str(row, "error_message", e->message)) ||
	    (e->status == DTF_TEST_FLAKY && json_object_set_new(row, "flaky", json_true()))) {
		json_decref(row);
		dtf_buf_release(&full);
		return DTF_ENOMEM;
	}
	dtf_buf_release(&full);
	return json_array_append_new(rows, row) ? DTF_ENOMEM : 0;
}

json_t *report_build_tests(json_t *doc)
{
	json_t *rows = json_array(), *task;
	size_t i;

	json_array_foreach(json_object_get(doc, "tasks"), i, task) {
		if (!json_is_object(task))
			continue;
		if (dtf_test_entries(task, add_entry_row, rows)) {
			json_decref(rows);
			return NULL;
		}
	}
	return rows;
}

json_t *report_tests(json_t *doc)
{
	json_t *t = json_object_get(doc, "tests");

	if (json_is_array(t))
		return json_incref(t);
	return report_build_tests(doc);
}

/* ---- summary ---- */

/* Sets "finished_at" (the run's, else its last task's) and "wall_s" (from the run's creation to
 * then) on the summary when the document tells them. */
static void set_wall_time(json_t *s, json_t *doc)
{
	json_t *run = json_object_get(doc, "run"), *task;
	const char *end = report_str(run, "finished_at", NULL), *t;
	int64_t created, fin = 0, ms;
	size_t i;

	if (end && dtf_parse_rfc3339(end, &fin) != 0)
		end = NULL;
	if (!end) {
		json_array_foreach(json_object_get(doc, "tasks"), i, task) {
			t = report_str(task, "finished_at", NULL);
			if (t && dtf_parse_rfc3339(t, &ms) == 0 && (!end || ms > fin)) {
				end = t;
				fin = ms;
			}
		}
	}
	if (!end)
		return;
	json_object_set_new(s, "finished_at", json_string(end));
	t = report_str(run, "created_at", NULL);
	if (t && dtf_parse_rfc3339(t, &created) == 0 && fin >= created)
		json_object_set_new(s, "wall_s", json_real((double)(fin - created) / 1000.0));
}

static json_t *build_summary(json_t *doc)
{
	json_t *s = dtf_report_summary(doc);
	double total;

	if (!s)
		return NULL;
	set_wall_time(s, doc);
	total = (double)json_integer_value(json_object_get(s, "total"));
	json_object_set_new(
	    s, "passed_pct",
	    json_real(report_pct((double)json_integer_value(json_object_get(s, "passed")), total)));
	json_object_set_new(
	    s, "failed_pct",
	    json_real(report_pct((double)json_integer_value(json_object_get(s, "failed")), total)));
	json_object_set_new(s, "skipped_pct",
			    json_real(report_pct(
				(double)json_integer_value(json_object_get(s, "skipped")), total)));
	json_object_set_new(s, "status", json_string(report_status(s)));
	return s;
}

json_t *report_summary(json_t *doc)
{
	json_t *s = json_object_get(doc, "summary");

	if (json_is_object(s) && json_is_string(json_object_get(s, "status")))
		return json_incref(s);
	return build_summary(doc);
}

/* ---- metrics ---- */

static json_t *build_metrics(json_t *doc)
{
	json_t *all = json_object(), *task, *m, *v;
	const char *key;
	size_t i;
	char name[512];

	json_array_foreach(json_object_get(doc, "tasks"), i, task) {
		json_t *mine;
		size_t n = 0;

		m = json_object_get(json_object_get(task, "result"), "metrics");
		if (!json_is_object(m) || json_object_size(m) == 0)
			continue;
		mine = json_object();
		json_object_foreach(m, key, v) {
			if (!json_is_number(v) || !isfinite(json_number_value(v)))
				continue;
			if (n++ >= MAX_METRICS_PER_TASK)
				break;
			json_object_set(mine, key, v);
		}
		if (json_object_size(mine) == 0) {
			json_decref(mine);
			continue;
		}
		snprintf(name, sizeof(name), "%s",
			 report_str(task, "name", report_str(task, "id", "task")));
		if (json_object_get(all, name))
			snprintf(name, sizeof(name), "%s (%s)", report_str(task, "name", "task"),
				 report_str(task, "id", ""));
		json_object_set_new(all, name, mine);
	}
	return all;
}

json_t *report_metrics(json_t *doc)
{
	json_t *m = json_object_get(doc, "metrics");

	return json_is_object(m) ? json_incref(m) : build_metrics(doc);
}

/* ---- coverage ---- */

static int build_coverage(json_t *doc, json_t **out, char *err, size_t errlen)
{
	json_t *files = json_object_get(doc, "coverage_files"), *f, *errors = NULL, *cov;
	struct dtf_coverage *c;
	char msg[256];
	size_t i;
	int rc = 0;

	*out = NULL;
	if (!json_is_array(files) || json_array_size(files) == 0)
		return 0;
	if (json_array_size(files) > MAX_COVERAGE_FILES) {
		snprintf(err, errlen, "too many coverage files (%zu, at most %d)",
			 json_array_size(files), MAX_COVERAGE_FILES);
		return DTF_ETOOBIG;
	}
	c = dtf_coverage_new();
	errors = json_array();
	if (!c || !errors) {
		rc = DTF_ENOMEM;
		goto out;
	}
	/* A file that cannot be read is noted in the coverage and the others still count: the
	 * reports of a run are not lost to one bad coverage file. */
	json_array_foreach(files, i, f) {
		const char *path = json_string_value(f);

		if (!path)
			continue;
		rc = dtf_coverage_add_file(c, path, msg, sizeof(msg));
		if (rc == DTF_ENOMEM)
			goto out;
		if (rc)
			json_array_append_new(errors,
					      json_pack("{ss ss}", "file", path, "error", msg));
		rc = 0;
	}
	cov = dtf_coverage_json(c);
	if (!cov) {
		rc = DTF_ENOMEM;
		goto out;
	}
	if (json_array_size(errors))
		json_object_set(cov, "errors", errors);
	*out = cov;
out:
	if (rc == DTF_ENOMEM)
		snprintf(err, errlen, "out of memory while merging coverage");
	json_decref(errors);
	dtf_coverage_free(c);
	return rc;
}

/* ---- comparison ---- */

/* True for a row that passed: passed, or passed on a retry (flaky). */
static bool row_passing(json_t *row)
{
	const char *st = report_str(row, "status", "");

	return strcmp(st, "passed") == 0 || strcmp(st, "flaky") == 0;
}

/* The key a row is matched on between runs: the task's name and the row's. */
static void row_key(json_t *row, struct dtf_buf *b)
{
	dtf_buf_reset(b);
	dtf_buf_printf(b, "%s\x1f%s", report_str(row, "task_name", ""),
		       report_str(row, "name", ""));
}

static int build_comparison(json_t *doc, json_t *tests, const json_t *previous, json_t **out)
{
	json_t *prev_tests = report_tests((json_t *)previous), *row, *cmp = NULL;
	json_t *new_failures = NULL, *fixed = NULL, *flaky = NULL, *slower = NULL;
	json_t *order = NULL, *isolation = NULL;
	struct dtf_hmap before;
	struct dtf_buf key;
	size_t i;
	int rc = DTF_ENOMEM;

	(void)doc;
	dtf_hmap_init(&before);
	dtf_buf_init(&key, 1u << 20);
	if (!prev_tests)
		goto out;
	json_array_foreach(prev_tests, i, row) {
		row_key(row, &key);
		if (dtf_hmap_put(&before, dtf_buf_str(&key), row))
			goto out;
	}
	new_failures = json_array();
	fixed = json_array();
	flaky = json_array();
	slower = json_array();
	order = json_array();
	isolation = json_array();
	if (!new_failures || !fixed || !flaky || !slower || !order || !isolation)
		goto out;
	json_array_foreach(tests, i, row) {
		json_t *old, *name = json_object_get(row, "name");
		bool ok = row_passing(row);
		/* Order dependence (ci/isolate.h) is listed apart, not as a new failure. */
		const char *st = report_str(row, "status", "");
		bool od = strcmp(st, "order_dependent") == 0;
		bool iso = strcmp(st, "isolation_failure") == 0;

		row_key(row, &key);
		old = dtf_hmap_get(&before, dtf_buf_str(&key));
		if (od || iso)
			json_array_append(od ? order : isolation, name);
		else if (report_row_failed(row) && !(old && report_row_failed(old)))
			json_array_append(new_failures, name);
		if (old && report_row_failed(old) && ok)
			json_array_append(fixed, name);
		if (json_is_true(json_object_get(row, "flaky")))
			json_array_append(flaky, name);
		if (old && ok && row_passing(old)) {
			double a = report_num(old, "duration_s"), z = report_num(row, "duration_s");

			if (z > a * REPORT_REGRESSION_RATIO && z - a >= REPORT_REGRESSION_MIN_S)
				json_array_append_new(slower,
						      json_pack("{sO sf sf}", "name", name,
								"before_s", a, "after_s", z));
		}
	}
	cmp = json_pack("{ss so so so so so so}", "previous_run_id",
			report_str(json_object_get((json_t *)previous, "run"), "id", ""),
			"new_failures", new_failures, "fixed", fixed, "flaky", flaky, "slower",
			slower, "order_dependent", order, "isolation_failures", isolation);
	new_failures = fixed = flaky = slower = order = isolation = NULL;
	if (!cmp)
		goto out;
	*out = cmp;
	rc = 0;
out:
	json_decref(new_failures);
	json_decref(fixed);
	json_decref(flaky);
	json_decref(slower);
	json_decref(order);
	json_decref(isolation);
	json_decref(prev_tests);
	dtf_hmap_release(&before);
	dtf_buf_release(&key);
	return rc;
}

/* ---- the model ---- */

int dtf_report_prepare(json_t *doc, const json_t *previous, char *err, size_t errlen)
{
	json_t *tests = NULL, *summary = NULL, *metrics = NULL, *cov = NULL, *cmp = NULL;
	int rc;

	if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "tasks"))) {
		snprintf(err, errlen, "a run document needs a \"tasks\" array");
		return DTF_EINVAL;
	}
	rc = DTF_ENOMEM;
	snprintf(err, errlen, "out of memory while preparing the report");
	tests = report_build_tests(doc);
	summary = tests ? build_summary(doc) : NULL;
	metrics = build_metrics(doc);
	if (!tests || !summary || !metrics)
		goto out;
	rc = build_coverage(doc, &cov, err, errlen);
	if (rc)
		goto out;
	if (json_is_object(previous)) {
		rc = build_comparison(doc, tests, previous, &cmp);
		if (rc)
			goto out;
	}
	json_object_set(doc, "summary", summary);
	json_object_set(doc, "tests", tests);
	if (json_object_size(metrics))
		json_object_set(doc, "metrics", metrics);
	else
		json_object_del(doc, "metrics");
	if (cov)
		json_object_set(doc, "coverage", cov);
	else
		json_object_del(doc, "coverage");
	if (cmp)
		json_object_set(doc, "comparison", cmp);
	else
		json_object_del(doc, "comparison");
	rc = 0;
	if (errlen)
		err[0] = '\0';
out:
	json_decref(tests);
	json_decref(summary);
	json_decref(metrics);
	json_decref(cov);
	json_decref(cmp);
	return rc;
}

/* ---- formats by name ---- */

static const struct {
	const char *name, *alias, *file;
	int (*write)(json_t *doc, struct dtf_buf *out);
} formats[] = {
    {"json", NULL, "results.json", dtf_report_json},
    {"junit", "xml", "results.xml", dtf_report_junit},
    {"markdown", "md", "report.md", dtf_report_markdown},
    {"html", NULL, "report.html", dtf_report_html},
    {"csv", NULL, "results.csv", dtf_report_csv},
};

static int find_format(const char *name)
{
	size_t i;

	if (!name)
		return -1;
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(name, formats[i].name) == 0 ||
		    (formats[i].alias && strcmp(name, formats[i].alias) == 0))
			return (int)i;
	return -1;
}

int dtf_report_render(const char *format, json_t *doc, struct dtf_buf *out)
{
	int i = find_format(format);

	return i < 0 ? DTF_EINVAL : formats[i].write(doc, out);
}

const char *dtf_report_file_name(const char *format)
{
	int i = find_format(format);

	return i < 0 ? NULL : formats[i].file;
}
