/* report.h: report writers. Each takes the same run document, a JSON object:
 *   {"run": {"id": "…", "name": "…", "created_at": "…", "finished_at": "…"},
 *    "tasks": [ <task objects as GET /api/v1/tasks/{id} returns them> ]}
 * where a task has "id", "name", "type", "status" (pending|assigned|running|completed|failed|
 * cancelled), optional "error" {"kind", "message"}, optional "worker_id", "attempts",
 * "started_at"/"finished_at" (RFC 3339) and optional "result":
 *   {"exit_code", "signal", "duration_s", "stdout", "stderr", "stdout_truncated",
 *    "stderr_truncated", "testcases": [ see worker/junit.h ], "metrics": {…}}.
 * A cancelled task whose error.kind is "unschedulable" is reported as skipped. */
#ifndef DTF_REPORT_H
#define DTF_REPORT_H

#include <jansson.h>

#include "common/buf.h"

/* Appends a JUnit XML document (one <testsuite> per run, one <testcase> per test entry of
 * common/testcount.h: each JUnit test case a task brought, or the task itself when it brought
 * none, plus "<task> (task)" for a task that failed outside its tests and its files not run;
 * failure messages; stdout/stderr excerpts in system-out/system-err, at most 64 KiB each) to out.
 * Its tests= is the summary's total. Returns 0 or a DTF_E* code. */
int dtf_report_junit(json_t *doc, struct dtf_buf *out);

/* Appends the JSON report: the document plus a "summary" object (a prepared document's summary
 * is kept as it is). Returns 0 or a DTF_E* code. */
int dtf_report_json(json_t *doc, struct dtf_buf *out);

/* Returns a new summary object computed from doc's tasks: the test entries counted by status
 * (dtf_testcount_json: "total", "passed", "failed", "error", "skipped", "xfailed", "xpassed",
 * "flaky", "order_dependent", "isolation_failure", "cancelled", "pending", "running",
 * "duration_s" — the summed time of the entries), "pass_rate" ((passed + flaky) / total) and
 * "tasks" {"total", "pending", "assigned", "running", "completed", "failed", "cancelled",
 * "unschedulable", "flaky", "duration_s"} counting the tasks themselves. NULL when out of
 * memory. */
json_t *dtf_report_summary(json_t *doc);

/* ---- The TestRunResult model ----
 * The model is the run document above, enriched in place by dtf_report_prepare() with:
 *   "summary"    as dtf_report_summary() returns it, plus "passed_pct", "failed_pct",
 *                "skipped_pct" (percent of all test entries, two decimals), "status" ("success",
 *                "failure", "incomplete", "empty": dtf_testcount_state), and when known
 *                "finished_at" and "wall_s";
 *   "tests"      the test rows, one per test entry (common/testcount.h), so that their number is
 *                the summary's total: [{"name" ("classname::name" for a JUnit case, the task's
 *                name, "<task> (task)" for a task that failed outside its tests, the path of a
 *                file not run), "task_id", "task_name", "test_type", "status" (a
 *                dtf_test_status_name), "duration_s" (the case's own time), "worker_id"?,
 *                "error_kind"?, "error_message"?, "flaky"?}];
 *   "metrics"    {"<task name>": {"<metric>": number, …}} from tasks' result.metrics (benchmark
 *                tasks) — absent when there are none;
 *   "coverage"   {"lines_total", "lines_covered", "percent", "files": [{"path", "lines_total",
 *                 "lines_covered", "percent"}], "errors"?: [{"file", "error"}]} merged from the
 *                 lcov / Cobertura files listed in doc["coverage_files"] (paths) — absent when
 *                 there are none; a file that cannot be read is listed in errors, not fatal;
 *   "comparison" {"previous_run_id", "new_failures": [names], "fixed": [names], "flaky": [names],
 *                 "slower": [{"name", "before_s", "after_s"}], "order_dependent": [names],
 *                 "isolation_failures": [names]} against previous (may be NULL); the tests
 *                 found order-dependent or isolation failures (ci/isolate.h) are listed apart,
 *                 not among the new failures;
 *                 rows are matched by task name and row name; slower means more than 20 % and
 *                 at least 1 s slower, both runs passing;
 *   "ci"         {"provider", "branch", "commit", "pr", "build_url", …} is set by `dtf ci`
 *                before rendering and shown by the reports when present.
 * The writers accept an unprepared document too (they compute rows and summary on the fly). */

/* Fills in summary, metrics, coverage and comparison (previous: an earlier prepared document of
 * the same branch, or NULL). Returns 0 or a DTF_E* code with err set. */
int dtf_report_prepare(json_t *doc, const json_t *previous, char *err, size_t errlen);

/* Markdown as in seed 003's example (status, summary with percentages, performance metrics,
 * failed tests, coverage, comparison). Also the body of a pull-request comment. */
int dtf_report_markdown(json_t *doc, struct dtf_buf *out);
/* One self-contained HTML file (inline CSS/JS, works offline). */
int dtf_report_html(json_t *doc, struct dtf_buf *out);
/* CSV: one row per test row (see "tests" above). */
int dtf_report_csv(json_t *doc, struct dtf_buf *out);

/* Renders doc in a named format: "json", "junit" (alias "xml"), "markdown" (alias "md"), "html",
 * "csv". Returns DTF_EINVAL for an unknown name. */
int dtf_report_render(const char *format, json_t *doc, struct dtf_buf *out);
/* The file name a format is written to in an output directory (e.g. "results.xml",
 * "report.md"), or NULL for an unknown format. */
const char *dtf_report_file_name(const char *format);

/* Writes shields.io endpoint badges (combined status, one per test type, coverage when known)
 * into dir as JSON files. Returns 0 or a DTF_E* code with err set. */
int dtf_report_write_badges(json_t *doc, const char *dir, char *err, size_t errlen);
/* The badge colour of a coverage percentage: >= 90 brightgreen, >= 80 green, >= 70 yellowgreen,
 * >= 60 yellow, >= 50 orange, else red. */
const char *dtf_report_coverage_color(double percent);

#endif
