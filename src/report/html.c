/* html.c: the HTML report: one self-contained file (inline CSS and JavaScript, no external
 * resource, a Content-Security-Policy that forbids fetching any) that opens offline. It shows the
 * status, summary cards, progress bars, performance metrics, coverage per file, the comparison
 * with the previous run, a sortable table of failures and one of every test.
 *
 * Every text that comes from a run passes through html_escape(); the script reads nothing but
 * the DOM, and once it has run it adds <div id="dtf-js-ok">, which tests look for. */
#include "report/report.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/utf8.h"
#include "common/util.h"
#include "report/timeline.h"
#include "report/view.h"

#define TEXT_CAP 2000  /* bytes of one cell's text */
#define MAX_ROWS 10000 /* rows of one table */

static const char style[] =
    "<style>\n"
    ":root{--pass:#2e7d32;--fail:#c62828;--skip:#9e9e9e;--warn:#ef6c00;--bg:#fafafa;"
    "--fg:#212121;--line:#e0e0e0}\n"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "background:var(--bg);color:var(--fg)}\n"
    "header{background:#263238;color:#fff;padding:16px 24px;display:flex;align-items:center;"
    "gap:16px;flex-wrap:wrap}\n"
    "header h1{font-size:20px;margin:0;font-weight:600}\n"
    "main{padding:8px 24px 24px;max-width:1200px}\n"
    "section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;"
    "margin:16px 0}\n"
    "h2{font-size:16px;margin:4px 0 12px}\n"
    ".status{padding:3px 10px;border-radius:12px;font-weight:700;font-size:13px}\n"
    ".status-success{background:var(--pass)}.status-failure{background:var(--fail)}"
    ".status-incomplete{background:var(--warn)}.status-empty{background:var(--skip)}\n"
    ".cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:12px}\n"
    ".card{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:90px}\n"
    ".card .num{font-size:22px;font-weight:700}.card .label{color:#616161;font-size:12px}\n"
    ".card.pass .num{color:var(--pass)}.card.fail .num{color:var(--fail)}"
    ".card.skip .num{color:var(--skip)}\n"
    ".bar{display:flex;height:14px;border-radius:7px;overflow:hidden;background:#eceff1;"
    "min-width:80px}\n"
    ".bar span{display:block;height:100%}.bar .pass{background:var(--pass)}"
    ".bar .fail{background:var(--fail)}.bar .skip{background:var(--skip)}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);"
    "vertical-align:top;word-break:break-word}\n"
    "th{background:#eceff1;font-weight:600}\n"
    "table.sortable th{cursor:pointer;user-select:none}\n"
    "th[aria-sort=ascending]::after{content:' \\25B2'}"
    "th[aria-sort=descending]::after{content:' \\25BC'}\n"
    "td.num{text-align:right;white-space:nowrap}\n"
    ".st-passed,.st-xpassed,.st-flaky{color:var(--pass)}"
    ".st-failed,.st-error,.st-order_dependent,.st-isolation_failure{color:var(--fail);"
    "font-weight:600}.st-skipped,.st-xfailed,.st-cancelled{color:var(--skip)}\n"
    "ul{margin:4px 0 8px}footer{color:#757575;font-size:12px;padding:0 24px 24px}\n"
    "</style>\n";

/* Sorts a table on a click on its header: by data-value when the cells have one (numbers), by
 * text otherwise; a second click reverses. */
static const char script[] =
    "<script>\n"
    "(function () {\n"
    "  'use strict';\n"
    "  function key(cell) {\n"
    "    var v = cell.getAttribute('data-value');\n"
    "    return v === null ? cell.textContent.toLowerCase() : parseFloat(v);\n"
    "  }\n"
    "  function sortBy(table, th, col) {\n"
    "    var body = table.tBodies[0];\n"
    "    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;\n"
    "    var rows = Array.prototype.slice.call(body.rows);\n"
    "    rows.sort(function (a, b) {\n"
    "      var x = key(a.cells[col]), y = key(b.cells[col]);\n"
    "      return (x < y ? -1 : x > y ? 1 : 0) * dir;\n"
    "    });\n"
    "    Array.prototype.forEach.call(th.parentNode.cells, function (h) {\n"
    "      h.removeAttribute('aria-sort');\n"
    "    });\n"
    "    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');\n"
    "    rows.forEach(function (r) { body.appendChild(r); });\n"
    "  }\n"
    "  var tables = document.querySelectorAll('table.sortable');\n"
    "  Array.prototype.forEach.call(tables, function (table) {\n"
    "    var head = table.tHead.rows[0];\n"
    "    Array.prototype.forEach.call(head.cells, function (th, col) {\n"
    "      th.title = 'Sort';\n"
    "      th.addEventListener('click', function () { sortBy(table, th, col); });\n"
    "    });\n"
    "  });\n"
    "  var ok = document.createElement('div');\n"
    "  ok.id = 'dtf-js-ok';\n"
    "  ok.hidden = true;\n"
    "  ok.setAttribute('data-tables', String(tables.length));\n"
    "  document.body.appendChild(ok);\n"
    "})();\n"
    "</script>\n";

/* The one HTML escaper (report/timeline.h), shared with the timeline and the dashboard. */
#define html_rep report_html_rep

/* Appends s escaped for HTML (see html_rep), at most cap bytes of it; invalid UTF-8 becomes
 * U+FFFD. */
static int html_escape(struct dtf_buf *b, const char *s, size_t cap)
{
	return dtf_html_escape_cap(b, s, cap);
}

/* Appends fmt with each %s an argument escaped as html_escape() does, at most TEXT_CAP bytes of
 * each (see report_escapef). */
#define html_putf(b, ...) report_escapef((b), html_rep, TEXT_CAP, __VA_ARGS__)

static json_int_t iget(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* <td>text</td>, with class cls when given. */
static int td(struct dtf_buf *b, const char *cls, const char *text)
{
	int rc = cls ? dtf_buf_printf(b, "<td class=\"%s\">", cls) : dtf_buf_adds(b, "<td>");

	if (!rc)
		rc = html_escape(b, text, TEXT_CAP);
	if (!rc)
		rc = dtf_buf_adds(b, "</td>");
	return rc;
}

/* A numeric cell that sorts by its value. */
static int td_seconds(struct dtf_buf *b, double s)
{
	char dur[64];

	report_duration(s, dur);
	return dtf_buf_printf(b, "<td class=\"num\" data-value=\"%.3f\">%s</td>", s, dur);
}

/* A progress bar of passed, failed and skipped shares (percentages). */
static int bar(struct dtf_buf *b, const char *label, double pass, double fail, double skip)
{
	int rc = dtf_buf_adds(b, "<div class=\"bar\" role=\"img\" aria-label=\"");

	if (!rc)
		rc = html_escape(b, label, TEXT_CAP);
	if (!rc)
		rc = dtf_buf_printf(b,
				    "\"><span class=\"pass\" style=\"width:%.2f%%\"></span>"
				    "<span class=\"fail\" style=\"width:%.2f%%\"></span>"
				    "<span class=\"skip\" style=\"width:%.2f%%\"></span></div>\n",
				    pass, fail, skip);
	return rc;
}

static int card(struct dtf_buf *b, const char *cls, const char *num, const char *label)
{
	return dtf_buf_printf(b,
			      "<div class=\"card %s\"><div class=\"num\">%s</div>"
			      "<div class=\"label\">%s</div></div>\n",
			      cls, num, label);
}

/* The card style of a status: one of a known set, so it needs no escaping. */
static const char *card_class(enum dtf_test_status s)
{
	if (s == DTF_TEST_PASSED || s == DTF_TEST_XPASSED)
		return "pass";
	if (dtf_test_status_fails(s, false))
		return "fail";
	if (s == DTF_TEST_FLAKY)
		return "flaky";
	return "skip";
}

static int put_summary(struct dtf_buf *b, json_t *s)
{
	json_int_t total = iget(s, "total");
	char num[64], label[160];
	json_t *t;
	int rc, i;

	rc = dtf_buf_adds(b, "<section id=\"summary\"><h2>Summary</h2>\n<div class=\"cards\">\n");
	snprintf(num, sizeof(num), "%lld", (long long)total);
	if (!rc)
		rc = card(b, "total", num, "Total");
	/* Passed, failed and skipped always; the other statuses when there are any. */
	for (i = 0; i < DTF_TEST__COUNT && !rc; i++) {
		json_int_t n = iget(s, dtf_test_status_name((enum dtf_test_status)i));

		if (!n && i != DTF_TEST_PASSED && i != DTF_TEST_FAILED && i != DTF_TEST_SKIPPED)
			continue;
		snprintf(num, sizeof(num), "%lld", (long long)n);
		snprintf(label, sizeof(label), "%s (%.1f%%)",
			 report_status_label((enum dtf_test_status)i),
			 report_pct((double)n, (double)total));
		rc = card(b, card_class((enum dtf_test_status)i), num, label);
	}
	t = json_object_get(s, "tasks");
	if (!rc && json_is_object(t) && iget(t, "total") != total) {
		snprintf(num, sizeof(num), "%lld", (long long)iget(t, "total"));
		rc = card(b, "total", num, "Tasks");
	}
	if (json_is_number(json_object_get(s, "wall_s"))) {
		report_duration(report_num(s, "wall_s"), num);
		if (!rc)
			rc = card(b, "time", num, "Duration");
	}
	report_duration(report_num(s, "duration_s"), num);
	if (!rc)
		rc = card(b, "time", num, "Test time");
	if (!rc)
		rc = dtf_buf_adds(b, "</div>\n");
	{
		/* The bar: passing, failing and the rest (skipped, cancelled, unfinished). */
		struct dtf_testcount c;
		long long ok, bad;

		dtf_testcount_from_json(&c, s);
		ok = c.n[DTF_TEST_PASSED] + c.n[DTF_TEST_FLAKY] + c.n[DTF_TEST_XPASSED];
		bad = dtf_testcount_failing(&c, false);
		dtf_testcount_line(&c, label, sizeof(label));
		if (!rc)
			rc = bar(b, label, report_pct((double)ok, (double)total),
				 report_pct((double)bad, (double)total),
				 report_pct((double)(total - ok - bad), (double)total));
	}
	if (!rc)
		rc = dtf_buf_adds(b, "</section>\n");
	return rc;
}

static int put_ci(struct dtf_buf *b, json_t *doc)
{
	json_t *ci = json_object_get(doc, "ci"), *v;
	const char *key;
	int rc;

	if (!json_is_object(ci) || json_object_size(ci) == 0)
		return 0;
	rc = dtf_buf_adds(b, "<section id=\"ci\"><h2>CI</h2>\n<table><tbody>\n");
	json_object_foreach(ci, key, v) {
		char num[32];
		const char *text = report_value_text(v, num);

		if (rc)
			break;
		if (!text)
			continue;
		rc = html_putf(b, "<tr><td>%s</td><td>%s</td></tr>\n", key, text);
	}
	if (!rc)
		rc = dtf_buf_adds(b, "</tbody></table></section>\n");
	return rc;
}

/* One row of the metrics table; a metric whose name could not be written is left out. */
static int metric_row(struct dtf_buf *b, const char *task, const char *label, double value)
{
	int rc;

	if (!label)
		return 0;
	rc = html_putf(b, "<tr><td>%s</td><td>%s</td>", task, label);
	if (!rc)
		rc = dtf_buf_printf(b,
				    "<td class=\"num\" data-value=\"%.17g\">%.2f</td>"
				    "</tr>\n",
				    value, value);
	return rc;
}

static int put_metrics(struct dtf_buf *b, json_t *doc)
{
	return report_metric_table(
	    b, doc,
	    "<section id=\"metrics\"><h2>Performance Metrics</h2>\n"
	    "<table class=\"sortable\" id=\"metrics-table\"><thead><tr><th>Task</th>"
	    "<th>Metric</th><th>Value</th></tr></thead><tbody>\n",
	    "</tbody></table></section>\n", metric_row);
}

/* Browser benchmarks against their history (the coordinator adds "browser_benchmarks"): per
 * judged metric the trend (this run's value last), the median of the runs before it, the change
 * and a regression flag. */
static int put_browser_benchmarks(struct dtf_buf *b, json_t *doc)
{
	json_t *list = json_object_get(doc, "browser_benchmarks"), *it, *m;
	size_t i, j, k;
	int rc;

	if (!json_array_size(list))
		return 0;
	rc = dtf_buf_adds(b, "<section id=\"browser-benchmarks\"><h2>Browser Benchmarks</h2>\n"
			     "<table id=\"browser-benchmarks-table\"><thead><tr><th>Benchmark</th>"
			     "<th>Worker</th><th>Adapter</th><th>Metric</th><th>Trend</th>"
			     "<th>Median before</th><th>This run</th><th>Change</th><th></th>"
			     "</tr></thead><tbody>\n");
	json_array_foreach(list, i, it) {
		json_array_foreach(json_object_get(it, "metrics"), j, m) {
			json_t *trend = json_object_get(m, "trend"), *x;
			bool reg = json_is_true(json_object_get(m, "regression"));
			if (!rc)
				rc =
				    dtf_buf_printf(b, "<tr%s>", reg ? " class=\"regression\"" : "");
			if (!rc)
				rc = html_putf(
				    b, "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>",
				    report_str(it, "benchmark", ""),
				    report_str(it, "worker_id", ""), report_str(it, "adapter", ""),
				    report_str(m, "metric", ""));
			json_array_foreach(trend, k, x)
				if (!rc)
					rc = json_is_number(x)
						 ? dtf_buf_printf(b, "%s%.4g",
								  k ? " \xe2\x86\x92 " : "",
								  json_number_value(x))
						 : 0;
			if (!rc && json_is_number(json_object_get(m, "median")))
				rc =
				    dtf_buf_printf(b, "</td><td class=\"num\">%.4g</td>",
						   json_number_value(json_object_get(m, "median")));
			else if (!rc)
				rc = dtf_buf_adds(b, "</td><td class=\"num\">-</td>");
			if (!rc)
				rc = dtf_buf_printf(b, "<td class=\"num\">%.4g</td>",
						    json_number_value(json_object_get(m, "value")));
			if (!rc && json_is_number(json_object_get(m, "change_pct")))
				rc = dtf_buf_printf(
				    b, "<td class=\"num\">%+.1f %%</td>",
				    json_number_value(json_object_get(m, "change_pct")));
			else if (!rc)
				rc = dtf_buf_adds(b, "<td class=\"num\">-</td>");
			if (!rc)
				rc =
				    dtf_buf_adds(b, reg ? "<td class=\"flag\" "
							  "style=\"color:#c62828;font-weight:700\">"
							  "REGRESSION</td></tr>\n"
							: "<td></td></tr>\n");
		}
	}
	if (!rc)
		rc = dtf_buf_adds(b, "</tbody></table></section>\n");
	return rc;
}

static int put_coverage(struct dtf_buf *b, json_t *doc)
{
	json_t *cov = json_object_get(doc, "coverage"), *f;
	char label[128];
	size_t i;
	int rc;

	if (!json_is_object(cov))
		return 0;
	snprintf(label, sizeof(label), "%.2f%% of lines covered", report_num(cov, "percent"));
	rc =
	    dtf_buf_printf(b,
			   "<section id=\"coverage\"><h2>Coverage</h2>\n<p><strong>%.2f%%</strong> "
			   "of lines (%lld of %lld)</p>\n",
			   report_num(cov, "percent"), (long long)iget(cov, "lines_covered"),
			   (long long)iget(cov, "lines_total"));
	if (!rc)
		rc = bar(b, label, report_num(cov, "percent"), 0, 0);
	if (!rc && json_array_size(json_object_get(cov, "files")))
		rc = dtf_buf_adds(b, "<table class=\"sortable\" id=\"coverage-table\"><thead><tr>"
				     "<th>File</th><th>Lines</th><th>Covered</th><th>Percent</th>"
				     "<th></th></tr></thead><tbody>\n");
	json_array_foreach(json_object_get(cov, "files"), i, f) {
		double pct = report_num(f, "percent");

		if (rc || i == MAX_ROWS)
			break;
		rc = dtf_buf_adds(b, "<tr>");
		if (!rc)
			rc = td(b, NULL, report_str(f, "path", ""));
		if (!rc)
			rc = dtf_buf_printf(b,
					    "<td class=\"num\" data-value=\"%lld\">%lld</td>"
					    "<td class=\"num\" data-value=\"%lld\">%lld</td>"
					    "<td class=\"num\" data-value=\"%.2f\">%.2f%%</td><td>",
					    (long long)iget(f, "lines_total"),
					    (long long)iget(f, "lines_total"),
					    (long long)iget(f, "lines_covered"),
					    (long long)iget(f, "lines_covered"), pct, pct);
		snprintf(label, sizeof(label), "%.2f%%", pct);
		if (!rc)
			rc = bar(b, label, pct, 0, 0);
		if (!rc)
			rc = dtf_buf_adds(b, "</td></tr>\n");
	}
	if (!rc && json_array_size(json_object_get(cov, "files")))
		rc = dtf_buf_adds(b, "</tbody></table>\n");
	json_array_foreach(json_object_get(cov, "errors"), i, f) {
		if (rc || i == MAX_ROWS)
			break;
		rc = html_putf(b,
			       i ? "<li>%s: %s</li>\n"
				 : "<p>Coverage files not counted:</p><ul><li>%s: %s</li>\n",
			       report_str(f, "file", ""), report_str(f, "error", ""));
	}
	if (!rc && json_array_size(json_object_get(cov, "errors")))
		rc = dtf_buf_adds(b, "</ul>\n");
	if (!rc)
		rc = dtf_buf_adds(b, "</section>\n");
	return rc;
}

static int put_names(struct dtf_buf *b, const char *id, const char *title, json_t *names)
{
	json_t *n;
	size_t i;
	int rc;

	if (json_array_size(names) == 0)
		return 0;
	rc = dtf_buf_printf(b, "<h3>%s (%zu)</h3>\n<ul id=\"%s\">\n", title, json_array_size(names),
			    id);
	json_array_foreach(names, i, n) {
		if (rc || i == MAX_ROWS)
			break;
		rc =
		    html_putf(b, "<li>%s</li>\n", json_string_value(n) ? json_string_value(n) : "");
	}
	if (!rc)
		rc = dtf_buf_adds(b, "</ul>\n");
	return rc;
}

static int put_comparison(struct dtf_buf *b, json_t *doc)
{
	json_t *cmp = json_object_get(doc, "comparison"), *slower, *row;
	size_t i;
	int rc;

	if (!json_is_object(cmp))
		return 0;
	slower = json_object_get(cmp, "slower");
	rc =
	    dtf_buf_adds(b, "<section id=\"comparison\"><h2>Comparison with the Previous Run</h2>\n"
			    "<p>Previous run: ");
	if (!rc)
		rc = html_escape(b, report_str(cmp, "previous_run_id", "(unknown)"), TEXT_CAP);
	if (!rc)
		rc = dtf_buf_printf(
		    b,
		    "</p>\n<ul><li>New failures: %zu</li><li>Fixed: %zu</li><li>Flaky: %zu</li>"
		    "<li>Slower (more than %.0f%% and %.0f s): %zu</li></ul>\n",
		    json_array_size(json_object_get(cmp, "new_failures")),
		    json_array_size(json_object_get(cmp, "fixed")),
		    json_array_size(json_object_get(cmp, "flaky")),
		    (REPORT_REGRESSION_RATIO - 1) * 100, REPORT_REGRESSION_MIN_S,
		    json_array_size(slower));
	if (!rc)
		rc = put_names(b, "new-failures", "New Failures",
			       json_object_get(cmp, "new_failures"));
	if (!rc)
		rc = put_names(b, "fixed", "Fixed Tests", json_object_get(cmp, "fixed"));
	if (!rc)
		rc = put_names(b, "flaky", "Flaky Tests", json_object_get(cmp, "flaky"));
	if (!rc)
		rc = put_names(b, "order-dependent", "Order-Dependent Tests",
			       json_object_get(cmp, "order_dependent"));
	if (!rc)
		rc = put_names(b, "isolation-failures", "Isolation Failures",
			       json_object_get(cmp, "isolation_failures"));
	if (!rc && json_array_size(slower))
		rc = dtf_buf_adds(b, "<h3>Slower Tests</h3>\n<table class=\"sortable\" id=\"slower-"
				     "table\"><thead><tr><th>Test</th><th>Before</th><th>After</th>"
				     "</tr></thead><tbody>\n");
	json_array_foreach(slower, i, row) {
		if (rc || i == MAX_ROWS)
			break;
		rc = html_putf(b, "<tr><td>%s</td>", report_str(row, "name", ""));
		if (!rc)
			rc = td_seconds(b, report_num(row, "before_s"));
		if (!rc)
			rc = td_seconds(b, report_num(row, "after_s"));
		if (!rc)
			rc = dtf_buf_adds(b, "</tr>\n");
	}
	if (!rc && json_array_size(slower))
		rc = dtf_buf_adds(b, "</tbody></table>\n");
	if (!rc)
		rc = dtf_buf_adds(b, "</section>\n");
	return rc;
}

/* The status as a CSS class suffix: one of a known set, so it needs no escaping. */
static const char *status_class(const char *st)
{
	int s = dtf_test_status_parse(st);

	return s < 0 ? "unknown" : dtf_test_status_name((enum dtf_test_status)s);
}

static int put_tests(struct dtf_buf *b, json_t *tests)
{
	json_t *row;
	size_t i, nfail = 0, shown = 0;
	char cls[32];
	int rc = 0;

	json_array_foreach(tests, i, row)
		nfail += report_row_failed(row);
	rc = dtf_buf_printf(b, "<section id=\"failures\"><h2>Failed Tests (%zu)</h2>\n", nfail);
	if (!rc && nfail)
		rc = dtf_buf_adds(b, "<table class=\"sortable\" id=\"failures-table\"><thead><tr>"
				     "<th>Test</th><th>Task</th><th>Error</th><th>Duration</th>"
				     "</tr></thead><tbody>\n");
	json_array_foreach(tests, i, row) {
		if (rc || !report_row_failed(row))
			continue;
		if (shown++ == MAX_ROWS)
			break;
		rc = html_putf(b, "<tr class=\"failed\"><td>%s</td><td>%s</td><td>%s</td>",
			       report_str(row, "name", ""), report_str(row, "task_name", ""),
			       report_str(row, "error_message", report_str(row, "error_kind", "")));
		if (!rc)
			rc = td_seconds(b, report_num(row, "duration_s"));
		if (!rc)
			rc = dtf_buf_adds(b, "</tr>\n");
	}
	if (!rc && nfail)
		rc = dtf_buf_adds(b, "</tbody></table>\n");
	if (!rc && nfail > MAX_ROWS)
		rc = dtf_buf_printf(b, "<p>… and %zu more</p>\n", nfail - MAX_ROWS);
	if (!rc)
		rc = dtf_buf_printf(b,
				    "</section>\n<section id=\"tests\"><h2>All Tests (%zu)</h2>\n"
				    "<table class=\"sortable\" id=\"tests-table\"><thead><tr>"
				    "<th>Test</th><th>Task</th><th>Status</th><th>Duration</th>"
				    "<th>Worker</th></tr></thead><tbody>\n",
				    json_array_size(tests));
	json_array_foreach(tests, i, row) {
		if (rc || i == MAX_ROWS)
			break;
		snprintf(cls, sizeof(cls), "st-%s", status_class(report_str(row, "status", "")));
		rc = html_putf(b, "<tr><td>%s</td><td>%s</td>", report_str(row, "name", ""),
			       report_str(row, "task_name", ""));
		if (!rc)
			rc = td(b, cls, report_str(row, "status", ""));
		if (!rc)
			rc = td_seconds(b, report_num(row, "duration_s"));
		if (!rc)
			rc = td(b, NULL, report_str(row, "worker_id", ""));
		if (!rc)
			rc = dtf_buf_adds(b, "</tr>\n");
	}
	if (!rc)
		rc = dtf_buf_adds(b, "</tbody></table>\n");
	if (!rc && json_array_size(tests) > MAX_ROWS)
		rc =
		    dtf_buf_printf(b, "<p>… and %zu more</p>\n", json_array_size(tests) - MAX_ROWS);
	if (!rc)
		rc = dtf_buf_adds(b, "</section>\n");
	return rc;
}

/* The run timeline (timeline.h): where the run's time went, worker slot by worker slot; nothing
 * when no task has run. */
static int put_timeline(struct dtf_buf *b, json_t *doc)
{
	json_t *tasks = json_object_get(doc, "tasks"), *t;
	struct dtf_timeline tl;
	size_t i;
	int rc = 0;

	dtf_timeline_init(&tl, dtf_wall_ms());
	json_array_foreach(tasks, i, t) {
		rc = dtf_timeline_add_task(&tl, t);
		if (rc)
			break;
	}
	if (!rc && tl.n > 0)
		rc =
		    dtf_buf_adds(b, "<section id=\"timeline-section\"><h2>Timeline</h2>\n"
				    "<p>One lane per worker slot, one bar per attempt (retries "
				    "included): green passed, red failed, orange timed out, purple "
				    "the infrastructure's fault. Hover a bar for its task and "
				    "duration.</p>\n") ||
		    dtf_timeline_svg(&tl, b, "timeline", 0) || dtf_buf_adds(b, "</section>\n");
	dtf_timeline_release(&tl);
	return rc > 0 ? DTF_ENOMEM : rc;
}

int dtf_report_html(json_t *doc, struct dtf_buf *out)
{
	json_t *summary = NULL, *tests = NULL, *run = json_object_get(doc, "run");
	const char *title = report_str(run, "name", report_str(run, "id", "dtf"));
	const char *status;
	size_t start = out->len;
	char up[16], when[40];
	int rc;

	rc = report_view(doc, &summary, &tests);
	if (rc)
		goto out;
	status = report_status(summary);
	report_upper(status, up, sizeof(up));
	rc = dtf_buf_adds(
	    out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		 "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"
		 " style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
		 "<title>Test Run Report: ");
	if (!rc)
		rc = html_escape(out, title, TEXT_CAP);
	if (!rc)
		rc = dtf_buf_adds(out, "</title>\n");
	if (!rc)
		rc = dtf_buf_adds(out, style);
	if (!rc)
		rc = dtf_buf_adds(out, "</head>\n<body>\n<header><h1>Test Run Report: ");
	if (!rc)
		rc = html_escape(out, title, TEXT_CAP);
	if (!rc)
		rc = dtf_buf_printf(out,
				    "</h1><span class=\"status status-%s\" id=\"status\">%s</span>"
				    "</header>\n<main>\n",
				    status, up);
	if (!rc)
		rc = put_summary(out, summary);
	if (!rc)
		rc = put_ci(out, doc);
	if (!rc)
		rc = put_metrics(out, doc);
	if (!rc)
		rc = put_browser_benchmarks(out, doc);
	if (!rc)
		rc = put_coverage(out, doc);
	if (!rc)
		rc = put_comparison(out, doc);
	if (!rc)
		rc = put_timeline(out, doc);
	if (!rc)
		rc = put_tests(out, tests);
	if (!rc)
		rc = dtf_buf_adds(out, "</main>\n<footer>");
	if (!rc && report_finished_text(doc, summary, when))
		rc = dtf_buf_printf(out, "Report generated on %s", when);
	if (!rc)
		rc = dtf_buf_adds(out, "</footer>\n");
	if (!rc)
		rc = dtf_buf_adds(out, script);
	if (!rc)
		rc = dtf_buf_adds(out, "</body>\n</html>\n");
out:
	if (rc) /* leave the caller's buffer as it was */
		dtf_buf_truncate(out, start);
	json_decref(summary);
	json_decref(tests);
	return rc;
}
