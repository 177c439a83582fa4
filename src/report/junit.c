/* junit.c: writes a run as a JUnit XML report that Jenkins' junit step and GitLab's test reports
 * read: one <testsuite> for the run inside <testsuites>, one <testcase> per task, or one per test
 * case when a task brought a JUnit report of its own.
 *
 * The XML is written by hand, so everything that comes from a task passes through xml_escape():
 * markup characters become references, invalid UTF-8 becomes U+FFFD and characters that XML 1.0
 * does not allow at all (most control characters) are dropped, since no reference can carry them
 * either. */
#include "report/report.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/testcount.h"
#include "common/util.h"
#include "report/view.h"

#define EXCERPT_CAP (64u << 10) /* bytes of stdout, stderr or details kept (the tail) */
#define ATTR_CAP    4096	/* bytes of a message attribute kept (the head) */
#define TRUNC_NOTE  "[dtf: output truncated, showing the end]\n"

/* Counts for the <testsuite> and <testsuites> attributes, gathered while the cases are written. */
struct junit_ctx {
	struct dtf_buf *body; /* the <testcase> elements, written before the suite header */
	size_t tests, failures, errors, skipped;
	double time;
};

/* True for the characters XML 1.0 allows (tab, newline and carriage return are handled apart). */
static bool xml_char_ok(uint32_t cp)
{
	return (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
	       (cp >= 0x10000 && cp <= 0x10ffff);
}

/* What a code point becomes in element content: markup characters become references, and
 * characters XML 1.0 does not allow are dropped. */
static const char *xml_text_rep(uint32_t cp, char tmp[8])
{
	(void)tmp;
	if (report_markup_ref(cp))
		return report_markup_ref(cp);
	switch (cp) {
	case '\'':
		return "&apos;";
	case '\r':
		return "&#13;";
	case '\t':
	case '\n':
		return NULL;
	}
	return xml_char_ok(cp) ? NULL : "";
}

/* The same in a double-quoted attribute value, where tab and newline must be references too, or
 * attribute normalization eats them. */
static const char *xml_attr_rep(uint32_t cp, char tmp[8])
{
	if (cp == '\t')
		return "&#9;";
	if (cp == '\n')
		return "&#10;";
	return xml_text_rep(cp, tmp);
}

/* Appends s[0..len) escaped for element content, or for a double-quoted attribute value when attr
 * is set; invalid UTF-8 becomes U+FFFD. */
static int xml_escape(struct dtf_buf *b, const char *s, size_t len, bool attr)
{
	return report_escape(b, s, len, SIZE_MAX, attr ? xml_attr_rep : xml_text_rep);
}

/* Appends ` name="value"`, the value cut to ATTR_CAP bytes on a character boundary. */
static int put_attr(struct dtf_buf *b, const char *name, const char *value, size_t len)
{
	int rc;

	if (len > ATTR_CAP) {
		len = ATTR_CAP;
		while (len > 0 && ((unsigned char)value[len] & 0xc0) == 0x80)
			len--;
	}
	rc = dtf_buf_printf(b, " %s=\"", name);
	if (!rc)
		rc = xml_escape(b, value, len, true);
	if (!rc)
		rc = dtf_buf_adds(b, "\"");
	return rc;
}

static int put_attrs(struct dtf_buf *b, const char *name, const char *value)
{
	return put_attr(b, name, value, strlen(value));
}

/* A non-empty string member of obj, or NULL; *len gets its length (strings may hold NULs). */
static const char *get_str(json_t *obj, const char *key, size_t *len)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	if (len)
		*len = json_string_length(v);
	return json_string_value(v);
}

/* Appends the text of an excerpt: the last EXCERPT_CAP bytes of s, with a note in front when
 * anything was cut here or, as truncated says, earlier by the worker. */
static int put_excerpt(struct dtf_buf *b, const char *s, size_t len, bool truncated)
{
	size_t keep = EXCERPT_CAP - (sizeof(TRUNC_NOTE) - 1);
	int rc = 0;

	if (len > EXCERPT_CAP) {
		s += len - keep;
		len = keep;
		while (len > 0 && ((unsigned char)*s & 0xc0) == 0x80)
			s++, len--;
		truncated = true;
	}
	if (truncated)
		rc = dtf_buf_adds(b, TRUNC_NOTE);
	if (!rc)
		rc = xml_escape(b, s, len, false);
	return rc;
}

/* Appends <tag>excerpt</tag> for a non-empty string member key of obj. trunc_key names the
 * boolean that says the worker already cut the output. */
static int put_output(struct dtf_buf *b, const char *tag, json_t *obj, const char *key,
		      const char *trunc_key)
{
	size_t len = 0;
	const char *s = get_str(obj, key, &len);
	int rc;

	if (!s)
		return 0;
	rc = dtf_buf_printf(b, "      <%s>", tag);
	if (!rc)
		rc = put_excerpt(b, s, len,
				 trunc_key && json_is_true(json_object_get(obj, trunc_key)));
	if (!rc)
		rc = dtf_buf_printf(b, "</%s>\n", tag);
	return rc;
}

/* Opens <testcase classname name time> and counts it. */
static int open_case(struct junit_ctx *ctx, const char *classname, const char *name, double time)
{
	struct dtf_buf *b = ctx->body;
	int rc;

	rc = dtf_buf_adds(b, "    <testcase");
	if (!rc)
		rc = put_attrs(b, "classname", classname);
	if (!rc)
		rc = put_attrs(b, "name", name);
	if (!rc)
		rc = dtf_buf_printf(b, " time=\"%.3f\">\n", time);
	ctx->tests++;
	ctx->time += time;
	return rc;
}

/* Appends an outcome element (failure, error or skipped) with its message and type attributes and
 * an optional body, and counts it. */
static int put_outcome(struct junit_ctx *ctx, const char *tag, const char *message,
		       const char *type, const char *body, size_t body_len, bool body_truncated)
{
	struct dtf_buf *b = ctx->body;
	int rc;

	if (strcmp(tag, "failure") == 0)
		ctx->failures++;
	else if (strcmp(tag, "error") == 0)
		ctx->errors++;
	else
		ctx->skipped++;
	rc = dtf_buf_printf(b, "      <%s", tag);
	if (!rc && message)
		rc = put_attrs(b, "message", message);
	if (!rc && type)
		rc = put_attrs(b, "type", type);
	if (rc)
		goto out;
	if (!body || body_len == 0) {
		rc = dtf_buf_adds(b, "/>\n");
		goto out;
	}
	rc = dtf_buf_adds(b, ">");
	if (!rc)
		rc = put_excerpt(b, body, body_len, body_truncated);
	if (!rc)
		rc = dtf_buf_printf(b, "</%s>\n", tag);
out:
	return rc;
}

/* The outcome element of a status: "failure", "error", "skipped", or NULL for a pass. */
static const char *outcome_tag(enum dtf_test_status s)
{
	switch (s) {
	case DTF_TEST_FAILED:
	case DTF_TEST_ORDER_DEPENDENT:
	case DTF_TEST_ISOLATION_FAILURE:
		return "failure";
	case DTF_TEST_ERROR:
	case DTF_TEST_PENDING:
	case DTF_TEST_RUNNING:
		return "error";
	case DTF_TEST_SKIPPED:
	case DTF_TEST_XFAILED:
	case DTF_TEST_CANCELLED:
		return "skipped";
	default:
		return NULL;
	}
}

/* Writes one test case of a task's own JUnit report. */
static int put_testcase(struct junit_ctx *ctx, const struct dtf_test_entry *e,
			const char *task_name)
{
	json_t *tc = (json_t *)e->tc;
	const char *tag = outcome_tag(e->status), *type = get_str(tc, "type", NULL);
	const char *details;
	size_t details_len = 0;
	int rc;

	rc = open_case(ctx, e->classname ? e->classname : task_name, e->name, e->duration_s);
	if (rc)
		goto out;
	if (tag) {
		/* An expected failure is written the way pytest writes it, so that it reads back as
		 * one; a status dtf gave the case (order dependence) is its type when it had none.
		 */
		if (e->status == DTF_TEST_XFAILED)
			type = "pytest.xfail";
		else if (!type && e->status != DTF_TEST_FAILED && e->status != DTF_TEST_ERROR &&
			 e->status != DTF_TEST_SKIPPED)
			type = dtf_test_status_name(e->status);
		details = get_str(tc, "details", &details_len);
		rc = put_outcome(ctx, tag, get_str(tc, "message", NULL), type, details, details_len,
				 false);
	}
	if (!rc)
		rc = put_output(ctx->body, "system-out", tc, "stdout", NULL);
	if (!rc)
		rc = put_output(ctx->body, "system-err", tc, "stderr", NULL);
	if (!rc)
		rc = dtf_buf_adds(ctx->body, "    </testcase>\n");
out:
	return rc;
}

/* Marks a task that passed after failing (result.flaky) the way Maven Surefire writes reruns: one
 * <flakyFailure> per failed attempt, which is not counted as a failure. */
static int put_flaky(struct junit_ctx *ctx, json_t *task)
{
	json_t *hist = json_object_get(task, "history"), *a;
	size_t i;
	int rc = 0;

	json_array_foreach(hist, i, a) {
		const char *kind = get_str(a, "error_kind", NULL);
		const char *outcome = get_str(a, "outcome", NULL), *msg;
		if (rc || !kind || !outcome || strcmp(outcome, "requeued") != 0 ||
		    strcmp(kind, "worker_lost") == 0 || strcmp(kind, "lease_lost") == 0)
			continue;
		msg = get_str(a, "message", NULL);
		rc = dtf_buf_adds(ctx->body, "      <flakyFailure");
		if (!rc)
			rc = put_attrs(ctx->body, "message", msg ? msg : kind);
		if (!rc)
			rc = put_attrs(ctx->body, "type", kind);
		if (!rc)
			rc = dtf_buf_adds(ctx->body, "/>\n");
	}
	return rc;
}

/* Writes an entry of the task itself: the task that produced no test case (its status mapped to
 * an outcome), the error of a task that failed outside its tests ("<task> (task)"), or a file it
 * did not get to. */
static int put_task_case(struct junit_ctx *ctx, const struct dtf_test_entry *e)
{
	json_t *task = (json_t *)e->task, *result = json_object_get(task, "result");
	const char *type = get_str(task, "type", NULL);
	const char *tag = outcome_tag(e->status), *message = e->message;
	struct dtf_buf classname, full_name;
	const char *body = NULL;
	size_t body_len = 0;
	char text[96];
	bool show_stderr = e->kind != DTF_ENTRY_NOT_RUN;
	int rc;

	dtf_buf_init(&classname, 1u << 20);
	dtf_buf_init(&full_name, 1u << 20);
	if (e->kind == DTF_ENTRY_NOT_RUN)
		rc = dtf_buf_adds(&classname, get_str(task, "name", NULL)
						  ? get_str(task, "name", NULL)
						  : "dtf.task");
	else
		rc = dtf_buf_printf(&classname, "dtf.%s", type ? type : "task");
	if (!rc)
		rc = dtf_buf_printf(&full_name, "%s%s", e->name,
				    e->kind == DTF_ENTRY_TASK_ERROR ? " (task)" : "");
	if (!rc)
		rc =
		    open_case(ctx, dtf_buf_str(&classname), dtf_buf_str(&full_name), e->duration_s);
	if (rc)
		goto out;
	if (e->status == DTF_TEST_FLAKY) {
		rc = put_flaky(ctx, task);
	} else if (e->status == DTF_TEST_PENDING || e->status == DTF_TEST_RUNNING) {
		snprintf(text, sizeof(text), "task did not finish: status %.40s",
			 get_str(task, "status", NULL) ? get_str(task, "status", NULL) : "unknown");
		rc = put_outcome(ctx, "error", text, "incomplete", NULL, 0, false);
	} else if (tag && strcmp(tag, "skipped") == 0) {
		if (!message)
			message = get_str(json_object_get(task, "error"), "kind", NULL);
		rc = put_outcome(ctx, tag, message ? message : dtf_test_status_name(e->status),
				 NULL, NULL, 0, false);
	} else if (tag) {
		/* A failure of the task itself carries the tail of its stderr. */
		if (show_stderr)
			body = get_str(result, "stderr", &body_len);
		rc = put_outcome(ctx, tag, message ? message : "task failed", e->error_kind, body,
				 body_len,
				 json_is_true(json_object_get(result, "stderr_truncated")));
		show_stderr = false;
	}
	if (!rc && e->kind != DTF_ENTRY_NOT_RUN)
		rc = put_output(ctx->body, "system-out", result, "stdout", "stdout_truncated");
	if (!rc && show_stderr)
		rc = put_output(ctx->body, "system-err", result, "stderr", "stderr_truncated");
	if (!rc)
		rc = dtf_buf_adds(ctx->body, "    </testcase>\n");
out:
	dtf_buf_release(&classname);
	dtf_buf_release(&full_name);
	return rc;
}

/* Writes one test entry of a task (common/testcount.h), so that the cases here are the ones
 * every other report counts. */
static int put_entry(const struct dtf_test_entry *e, void *arg)
{
	struct junit_ctx *ctx = arg;

	if (e->kind == DTF_ENTRY_CASE) {
		const char *name = get_str((json_t *)e->task, "name", NULL);

		if (!name)
			name = get_str((json_t *)e->task, "id", NULL);
		return put_testcase(ctx, e, name ? name : "(unnamed task)");
	}
	return put_task_case(ctx, e);
}

/* Formats an RFC 3339 timestamp the way Ant and Jenkins write them: UTC, no zone, no fraction. */
static bool junit_timestamp(const char *rfc3339, char out[32])
{
	int64_t ms;
	time_t t;
	struct tm tm;

	if (!rfc3339 || dtf_parse_rfc3339(rfc3339, &ms) != 0)
		return false;
	t = (time_t)(ms / 1000);
	if (!gmtime_r(&t, &tm))
		return false;
	return strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm) > 0;
}

/* The worker all tasks ran on, when there was exactly one; NULL otherwise. */
static const char *single_worker(json_t *tasks)
{
	const char *worker = NULL, *w;
	size_t i;

	for (i = 0; i < json_array_size(tasks); i++) {
		w = get_str(json_array_get(tasks, i), "worker_id", NULL);
		if (!w)
			continue;
		if (worker && strcmp(worker, w) != 0)
			return NULL;
		worker = w;
	}
	return worker;
}

/* Appends one <property name="prefix+name" value="value"/>, opening <properties> first. */
static int put_property(struct dtf_buf *b, bool *open, const char *prefix, const char *name,
			const char *value)
{
	struct dtf_buf full;
	int rc = 0;

	if (!*open)
		rc = dtf_buf_adds(b, "    <properties>\n");
	*open = true;
	dtf_buf_init(&full, 1u << 16);
	if (!rc)
		rc = dtf_buf_printf(&full, "%s%s", prefix, name);
	if (!rc)
		rc = dtf_buf_adds(b, "      <property");
	if (!rc)
		rc = put_attr(b, "name", dtf_buf_str(&full), full.len);
	if (!rc)
		rc = put_attrs(b, "value", value);
	if (!rc)
		rc = dtf_buf_adds(b, "/>\n");
	dtf_buf_release(&full);
	return rc;
}

/* Appends <properties> with what identifies the run, the performance metrics of its tasks
 * ("dtf.metric.<task>.<metric>") and its coverage when known. */
static int put_properties(struct dtf_buf *b, json_t *doc)
{
	static const char *const keys[] = {"id", "name", "created_at", "finished_at"};
	static const char *const cov_keys[] = {"percent", "lines_covered", "lines_total"};
	json_t *run = json_object_get(doc, "run"), *task, *v;
	json_t *cov = json_object_get(doc, "coverage");
	struct dtf_buf prefix;
	bool open = false;
	const char *s, *key;
	char num[64];
	size_t i;
	int rc = 0;

	dtf_buf_init(&prefix, 1u << 16);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && !rc; i++) {
		s = get_str(run, keys[i], NULL);
		if (s)
			rc = put_property(b, &open, "dtf.run.", keys[i], s);
	}
	json_array_foreach(json_object_get(doc, "tasks"), i, task) {
		json_t *m = json_object_get(json_object_get(task, "result"), "metrics");

		if (rc || !json_is_object(m))
			continue;
		dtf_buf_reset(&prefix);
		s = get_str(task, "name", NULL);
		if (!s)
			s = get_str(task, "id", NULL);
		rc = dtf_buf_printf(&prefix, "dtf.metric.%s.", s ? s : "task");
		json_object_foreach(m, key, v) {
			if (rc || !json_is_number(v) || !isfinite(json_number_value(v)))
				continue;
			snprintf(num, sizeof(num), "%.10g", json_number_value(v));
			rc = put_property(b, &open, dtf_buf_str(&prefix), key, num);
		}
	}
	for (i = 0; i < 3 && !rc && json_is_object(cov); i++) {
		v = json_object_get(cov, cov_keys[i]);
		if (!json_is_number(v))
			continue;
		snprintf(num, sizeof(num), "%.10g", json_number_value(v));
		rc = put_property(b, &open, "dtf.coverage.", cov_keys[i], num);
	}
	if (!rc && open)
		rc = dtf_buf_adds(b, "    </properties>\n");
	dtf_buf_release(&prefix);
	return rc;
}

/* Appends the count attributes shared by <testsuites> and <testsuite>. */
static int put_counts(struct dtf_buf *b, const struct junit_ctx *ctx)
{
	return dtf_buf_printf(b,
			      " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\""
			      " time=\"%.3f\"",
			      ctx->tests, ctx->failures, ctx->errors, ctx->skipped, ctx->time);
}

int dtf_report_junit(json_t *doc, struct dtf_buf *out)
{
	json_t *run = json_object_get(doc, "run");
	json_t *tasks = json_object_get(doc, "tasks");
	struct junit_ctx ctx = {0};
	struct dtf_buf body;
	size_t start = out->len;
	const char *suite, *host;
	char stamp[32];
	size_t i;
	int rc;

	dtf_buf_init(&body, out->cap);
	ctx.body = &body;
	if (!json_is_object(doc) || (tasks && !json_is_array(tasks))) {
		rc = DTF_EINVAL;
		goto out;
	}
	for (i = 0; i < json_array_size(tasks); i++) {
		json_t *task = json_array_get(tasks, i);

		if (!json_is_object(task))
			continue;
		rc = dtf_test_entries(task, put_entry, &ctx);
		if (rc)
			goto out;
	}

	suite = get_str(run, "name", NULL);
	if (!suite)
		suite = get_str(run, "id", NULL);
	if (!suite)
		suite = "dtf";
	rc = dtf_buf_adds(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
	if (!rc)
		rc = put_attrs(out, "name", suite);
	if (!rc)
		rc = put_counts(out, &ctx);
	if (!rc)
		rc = dtf_buf_adds(out, ">\n  <testsuite");
	if (!rc)
		rc = put_attrs(out, "name", suite);
	if (!rc)
		rc = put_counts(out, &ctx);
	if (!rc && junit_timestamp(get_str(run, "created_at", NULL), stamp))
		rc = dtf_buf_printf(out, " timestamp=\"%s\"", stamp);
	host = single_worker(tasks);
	if (!rc && host)
		rc = put_attrs(out, "hostname", host);
	if (!rc)
		rc = dtf_buf_adds(out, ">\n");
	if (!rc)
		rc = put_properties(out, doc);
	if (!rc)
		rc = dtf_buf_add(out, dtf_buf_str(&body), body.len);
	if (!rc)
		rc = dtf_buf_adds(out, "  </testsuite>\n</testsuites>\n");
out:
	if (rc) /* leave the caller's buffer as it was */
		dtf_buf_truncate(out, start);
	dtf_buf_release(&body);
	return rc;
}
