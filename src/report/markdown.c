/* markdown.c: the Markdown report of seed 003 (status, summary with percentages, performance
 * metrics, failed tests, coverage, comparison with the previous run). It is also the body of
 * pull-request comments, so it stays well under the 65,536 characters GitHub allows: long tables
 * are cut with a note, and every text from a task is escaped so it cannot break the layout or
 * inject markup (HTML included, which GitHub renders). */
#include "report/report.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/testcount.h"
#include "common/utf8.h"
#include "common/util.h"
#include "report/view.h"

#define CELL_CAP  300 /* bytes of one table cell's text */
#define MAX_ROWS  100 /* rows of a failure or skip table */
#define MAX_FILES 50  /* rows of the coverage table */
#define MAX_NAMES 50  /* names in a comparison list */

/* What a code point becomes in inline Markdown text: HTML markup characters become references
 * (GitHub renders HTML), table pipes and Markdown's own markup are escaped with a backslash, line
 * breaks become spaces so a cell stays one line, and other control characters are dropped. */
static const char *md_rep(uint32_t cp, char tmp[8])
{
	switch (cp) {
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '&':
		return "&amp;";
	case '|':
		return "\\|";
	case '\n':
	case '\r':
	case '\t':
		return " ";
	}
	if (cp < 0x20 || cp == 0x7f)
		return "";
	/* strchr() compares one byte: only ASCII can be Markdown markup. */
	if (cp < 0x80 && strchr("\\`*_[]#~!", (int)cp)) {
		tmp[0] = '\\';
		tmp[1] = (char)cp;
		tmp[2] = '\0';
		return tmp;
	}
	return NULL;
}

/* Appends s as inline Markdown text (see md_rep), at most cap bytes of it. */
static int md_text(struct dtf_buf *b, const char *s, size_t cap)
{
	return report_escape(b, s, strlen(s), cap, md_rep);
}

/* Appends fmt with each %s an argument written as md_text() does (see report_escapef). */
#define md_putf(b, ...) report_escapef((b), md_rep, CELL_CAP, __VA_ARGS__)

/* Appends "(12.5%)"-style percentages as seed 003 shows them, with one decimal. */
static int line_count(struct dtf_buf *b, const char *label, json_int_t n, json_int_t total,
		      bool pct)
{
	if (!pct)
		return dtf_buf_printf(b, "- %s: %lld\n", label, (long long)n);
	return dtf_buf_printf(b, "- %s: %lld (%.1f%%)\n", label, (long long)n,
			      report_pct((double)n, (double)total));
}

static json_int_t iget(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static int put_header(struct dtf_buf *b, json_t *doc, json_t *s)
{
	json_t *run = json_object_get(doc, "run"), *ci = json_object_get(doc, "ci"), *t;
	const char *status = report_status(s);
	json_int_t total = iget(s, "total");
	char dur[64], up[16];
	size_t i;
	int rc;

	report_upper(status, up, sizeof(up));
	rc = dtf_buf_adds(b, "# Test Run Report: ");
	if (!rc)
		rc = md_text(b, report_str(run, "name", report_str(run, "id", "dtf")), CELL_CAP);
	if (!rc)
		rc = dtf_buf_printf(b, "\n\n**Status:** %s\n\n**Summary:**\n", up);
	if (!rc)
		rc = line_count(b, "Total Tests", total, total, false);
	/* Passed, failed and skipped always; the other statuses when there are any. */
	for (i = 0; i < DTF_TEST__COUNT && !rc; i++) {
		json_int_t n = iget(s, dtf_test_status_name((enum dtf_test_status)i));

		if (n || i == DTF_TEST_PASSED || i == DTF_TEST_FAILED || i == DTF_TEST_SKIPPED)
			rc = line_count(b, report_status_label((enum dtf_test_status)i), n, total,
					true);
	}
	t = json_object_get(s, "tasks");
	if (!rc && json_is_object(t) && iget(t, "total") != total)
		rc = dtf_buf_printf(b, "- Tasks: %lld\n", (long long)iget(t, "total"));
	/* The run's wall time when known; the summed time of its tests in any case. */
	if (json_is_number(json_object_get(s, "wall_s"))) {
		report_duration(report_num(s, "wall_s"), dur);
		if (!rc)
			rc = dtf_buf_printf(b, "- Duration: %s\n", dur);
		report_duration(report_num(s, "duration_s"), dur);
		if (!rc)
			rc = dtf_buf_printf(b, "- Test Time: %s\n", dur);
	} else {
		report_duration(report_num(s, "duration_s"), dur);
		if (!rc)
			rc = dtf_buf_printf(b, "- Duration: %s\n", dur);
	}
	if (!rc && json_is_object(ci) && json_object_size(ci)) {
		static const char *const keys[] = {"provider", "branch", "commit", "pr",
						   "build_url"};
		static const char *const labels[] = {"Provider", "Branch", "Commit", "Pull Request",
						     "Build"};

		rc = dtf_buf_adds(b, "\n**CI:**\n");
		for (i = 0; i < 5 && !rc; i++) {
			json_t *v = json_object_get(ci, keys[i]);
			char num[32];
			const char *text = report_value_text(v, num);

			if (!text || !*text)
				continue;
			rc = md_putf(b, "- %s: %s\n", labels[i], text);
		}
	}
	return rc;
}

/* One row of the metrics table; the metric's cell stays empty when its name could not be
 * written. */
static int metric_row(struct dtf_buf *b, const char *task, const char *label, double value)
{
	int rc = md_putf(b, "| %s | %s", task, label ? label : "");

	if (!rc)
		rc = dtf_buf_printf(b, " | %.2f |\n", value);
	return rc;
}

static int put_metrics(struct dtf_buf *b, json_t *doc)
{
	return report_metric_table(b, doc,
				   "\n## Performance Metrics\n\n| Task | Metric | Value |\n"
				   "|------|--------|-------|\n",
				   "", metric_row);
}

static int put_coverage(struct dtf_buf *b, json_t *doc)
{
	json_t *cov = json_object_get(doc, "coverage"), *f;
	json_t *files = json_object_get(cov, "files"), *errors = json_object_get(cov, "errors");
	size_t i;
	int rc;

	if (!json_is_object(cov))
		return 0;
	rc = dtf_buf_printf(b, "\n## Coverage\n\n**Lines:** %.2f%% (%lld of %lld lines)\n",
			    report_num(cov, "percent"), (long long)iget(cov, "lines_covered"),
			    (long long)iget(cov, "lines_total"));
	if (!rc && json_array_size(files))
		rc = dtf_buf_adds(b, "\n| File | Lines | Covered |\n|------|-------|---------|\n");
	json_array_foreach(files, i, f) {
		if (rc)
			break;
		if (i == MAX_FILES) {
			rc = dtf_buf_printf(b, "\n*… and %zu more file%s*\n",
					    json_array_size(files) - i,
					    json_array_size(files) - i == 1 ? "" : "s");
			break;
		}
		rc = md_putf(b, "| %s", report_str(f, "path", ""));
		if (!rc)
			rc = dtf_buf_printf(b, " | %lld | %.2f%% |\n",
					    (long long)iget(f, "lines_total"),
					    report_num(f, "percent"));
	}
	json_array_foreach(errors, i, f) {
		if (rc || i == MAX_NAMES)
			break;
		rc = md_putf(b, i ? "- %s: %s\n" : "\nCoverage files not counted:\n- %s: %s\n",
			     report_str(f, "file", ""), report_str(f, "error", ""));
	}
	return rc;
}

/* Appends a "### title" list of names, when there are any. */
static int put_names(struct dtf_buf *b, const char *title, json_t *names)
{
	json_t *n;
	size_t i;
	int rc = 0;

	if (json_array_size(names) == 0)
		return 0;
	rc = dtf_buf_printf(b, "\n### %s\n\n", title);
	json_array_foreach(names, i, n) {
		if (rc)
			break;
		if (i == MAX_NAMES) {
			rc = dtf_buf_printf(b, "- … and %zu more\n", json_array_size(names) - i);
			break;
		}
		rc = md_putf(b, "- %s\n", json_string_value(n) ? json_string_value(n) : "");
	}
	return rc;
}

static int put_comparison(struct dtf_buf *b, json_t *doc)
{
	json_t *cmp = json_object_get(doc, "comparison"), *slower, *row;
	char before[64], after[64];
	size_t i;
	int rc;

	if (!json_is_object(cmp))
		return 0;
	slower = json_object_get(cmp, "slower");
	rc = dtf_buf_adds(b, "\n## Comparison with the Previous Run\n\n");
	if (!rc)
		rc = dtf_buf_adds(b, "Previous run: ");
	if (!rc)
		rc = md_text(b, report_str(cmp, "previous_run_id", "(unknown)"), CELL_CAP);
	if (!rc)
		rc = dtf_buf_printf(b,
				    "\n\n- New failures: %zu\n- Fixed: %zu\n- Flaky: %zu\n"
				    "- Slower (more than %.0f%% and %.0f s): %zu\n",
				    json_array_size(json_object_get(cmp, "new_failures")),
				    json_array_size(json_object_get(cmp, "fixed")),
				    json_array_size(json_object_get(cmp, "flaky")),
				    (REPORT_REGRESSION_RATIO - 1) * 100, REPORT_REGRESSION_MIN_S,
				    json_array_size(slower));
	if (!rc)
		rc = put_names(b, "New Failures", json_object_get(cmp, "new_failures"));
	if (!rc)
		rc = put_names(b, "Fixed Tests", json_object_get(cmp, "fixed"));
	if (!rc)
		rc = put_names(b, "Flaky Tests", json_object_get(cmp, "flaky"));
	if (!rc)
		rc = put_names(b, "Order-Dependent Tests", json_object_get(cmp, "order_dependent"));
	if (!rc)
		rc = put_names(b, "Isolation Failures", json_object_get(cmp, "isolation_failures"));
	if (!rc && json_array_size(slower))
		rc = dtf_buf_adds(b, "\n### Slower Tests\n\n| Test | Before | After |\n"
				     "|------|--------|-------|\n");
	json_array_foreach(slower, i, row) {
		if (rc || i == MAX_ROWS)
			break;
		report_duration(report_num(row, "before_s"), before);
		report_duration(report_num(row, "after_s"), after);
		rc = md_putf(b, "| %s", report_str(row, "name", ""));
		if (!rc)
			rc = dtf_buf_printf(b, " | %s | %s |\n", before, after);
	}
	return rc;
}

static int put_details(struct dtf_buf *b, json_t *tests)
{
	json_t *row;
	size_t i, nfail = 0, nskip = 0, npass = 0, shown;
	char dur[64];
	int rc = 0;

	json_array_foreach(tests, i, row) {
		const char *st = report_str(row, "status", "");

		if (report_row_failed(row))
			nfail++;
		else if (strcmp(st, "skipped") == 0)
			nskip++;
		else if (strcmp(st, "passed") == 0)
			npass++;
	}
	rc = dtf_buf_adds(b, "\n## Test Details\n");
	if (!rc && nfail)
		rc = dtf_buf_adds(b, "\n### Failed Tests\n\n| Test | Status | Error | Duration |\n"
				     "|------|--------|-------|----------|\n");
	shown = 0;
	json_array_foreach(tests, i, row) {
		if (rc || !report_row_failed(row))
			continue;
		if (shown++ == MAX_ROWS) {
			rc = dtf_buf_printf(b, "\n*… and %zu more failed test%s*\n",
					    nfail - MAX_ROWS, nfail - MAX_ROWS == 1 ? "" : "s");
			break;
		}
		report_duration(report_num(row, "duration_s"), dur);
		rc = md_putf(
		    b, "| %s | %s | %s", report_str(row, "name", ""), report_str(row, "status", ""),
		    report_str(row, "error_message", report_str(row, "error_kind", "failed")));
		if (!rc)
			rc = dtf_buf_printf(b, " | %s |\n", dur);
	}
	if (!rc && nskip)
		rc = dtf_buf_adds(b,
				  "\n### Skipped Tests\n\n| Test | Reason |\n|------|--------|\n");
	shown = 0;
	json_array_foreach(tests, i, row) {
		if (rc || strcmp(report_str(row, "status", ""), "skipped") != 0)
			continue;
		if (shown++ == MAX_ROWS) {
			rc = dtf_buf_printf(b, "\n*… and %zu more skipped test%s*\n",
					    nskip - MAX_ROWS, nskip - MAX_ROWS == 1 ? "" : "s");
			break;
		}
		rc = md_putf(b, "| %s | %s |\n", report_str(row, "name", ""),
			     report_str(row, "error_message", "skipped"));
	}
	if (!rc)
		rc = dtf_buf_printf(b, "\n### Passed Tests: %zu\n", npass);
	return rc;
}

/* The closing line; it shows when the run finished (not when the report was written), so the
 * same run always gives the same report. */
static int put_footer(struct dtf_buf *b, json_t *doc, json_t *summary)
{
	char text[40];

	if (!report_finished_text(doc, summary, text))
		return 0;
	return dtf_buf_printf(b, "\n*Report generated on %s*\n", text);
}

int dtf_report_markdown(json_t *doc, struct dtf_buf *out)
{
	json_t *summary = NULL, *tests = NULL;
	size_t start = out->len;
	int rc;

	rc = report_view(doc, &summary, &tests);
	if (rc)
		goto out;
	rc = put_header(out, doc, summary);
	if (!rc)
		rc = put_metrics(out, doc);
	if (!rc)
		rc = put_coverage(out, doc);
	if (!rc)
		rc = put_comparison(out, doc);
	if (!rc)
		rc = put_details(out, tests);
	if (!rc)
		rc = put_footer(out, doc, summary);
out:
	if (rc) /* leave the caller's buffer as it was */
		dtf_buf_truncate(out, start);
	json_decref(summary);
	json_decref(tests);
	return rc;
}
