/* view.h: what the report writers share inside src/report/: the flat list of test rows a run
 * is made of, the prepared summary, and small formatting helpers. Not for use outside. */
#ifndef DTF_REPORT_VIEW_H
#define DTF_REPORT_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/testcount.h"

/* Two runs' durations compared: a test is reported slower when it took more than
 * REGRESSION_RATIO times as long as before and at least REGRESSION_MIN_S seconds more. */
#define REPORT_REGRESSION_RATIO 1.2
#define REPORT_REGRESSION_MIN_S 1.0

/* The rows of doc (see dtf_report_prepare: "tests"): doc's own "tests" array when it was
 * prepared, else computed now. Returns a new reference; never NULL unless out of memory. */
json_t *report_tests(json_t *doc);
/* Builds the rows of a run document's tasks (a new array), NULL when out of memory. */
json_t *report_build_tests(json_t *doc);
/* doc's prepared summary, or one computed now (a new reference). */
json_t *report_summary(json_t *doc);
/* What a page-like writer needs from doc: its summary and rows (new references the caller
 * releases, even on failure). DTF_EINVAL when doc is not an object, DTF_ENOMEM. */
int report_view(json_t *doc, json_t **summary, json_t **tests);

/* doc's "metrics" object, or one computed now from its tasks (a new reference; NULL when out of
 * memory). */
json_t *report_metrics(json_t *doc);

/* A number member as a finite, non-negative double (0 otherwise). */
double report_num(json_t *obj, const char *key);
/* A string member or def. */
const char *report_str(json_t *obj, const char *key, const char *def);
/* A string value, or an integer written into num; NULL for anything else. */
const char *report_value_text(json_t *v, char num[32]);
/* part out of total in percent, 0 when total is 0. */
double report_pct(double part, double total);
/* Writes a duration as seed 003 shows it: "0.50s", "2m 5.70s", "1h 2m 3.00s". */
void report_duration(double s, char out[64]);
/* "average_latency_ms" -> "Average Latency Ms". */
int report_humanize(struct dtf_buf *b, const char *key);
/* s as a new JSON string; bytes that are not UTF-8 become U+FFFD. NULL when out of memory. */
json_t *report_string(const char *s);
/* True for the rows that fail a run: failed, error, order_dependent, isolation_failure. */
bool report_row_failed(json_t *row);
/* The reference for the markup characters HTML and XML share (& < > "), NULL for others. The
 * apostrophe is left to each format (HTML writes &#39;, XML &apos;). */
const char *report_markup_ref(uint32_t cp);
/* What code point cp becomes in a format's text: a replacement (a static string, or tmp filled
 * in), or NULL to keep the character as it is. */
typedef const char *(*report_escape_fn)(uint32_t cp, char tmp[8]);
/* What a code point becomes in HTML text and quoted attributes (timeline.c; see
 * dtf_html_escape): markup characters and the apostrophe become references, control characters
 * other than tab and newline are dropped. */
const char *report_html_rep(uint32_t cp, char tmp[8]);
/* Appends s[0..len) escaped by rep_of: bytes that are not UTF-8 become U+FFFD, and past cap bytes
 * of input the text is cut (on a character boundary) with "…". 0 or DTF_ENOMEM. */
int report_escape(struct dtf_buf *b, const char *s, size_t len, size_t cap,
		  report_escape_fn rep_of);
/* Writes one metrics table row: task's metric label (humanized, NULL when it could not be) is
 * value. 0 or a DTF_E* code, which stops the table. */
typedef int (*report_metric_fn)(struct dtf_buf *b, const char *task, const char *label,
				double value);
/* Writes doc's performance metrics table (report_metrics: {task: {key: number}}): nothing when
 * there are no metrics, else head, row for each numeric metric in order, and tail. 0 or the
 * first DTF_E* code. */
int report_metric_table(struct dtf_buf *b, json_t *doc, const char *head, const char *tail,
			report_metric_fn row);
/* Appends fmt with each %s replaced by the next argument (a NUL-terminated string) escaped as
 * report_escape() does with rep_of and cap; %% is a percent sign, and nothing else may follow a
 * percent sign (DTF_EINVAL). 0 or a DTF_E* code. */
int report_escapef(struct dtf_buf *b, report_escape_fn rep_of, size_t cap, const char *fmt, ...);
/* When the run finished (summary's finished_at, else the run's finished_at or created_at) as
 * "2026-01-02 03:04:05 UTC"; false when unknown. */
bool report_finished_text(json_t *doc, json_t *summary, char out[40]);
/* s in upper case (ASCII letters), cut to fit out's len (>= 1) bytes with its NUL. */
void report_upper(const char *s, char *out, size_t len);
/* A status as a summary writes it: "Passed", "Errors", "Flaky (passed on retry)", … */
const char *report_status_label(enum dtf_test_status s);
/* The run's status for the headline: "success", "failure", "incomplete" or "empty", from the
 * summary's test counts (dtf_testcount_state). */
const char *report_status(json_t *summary);

#endif
