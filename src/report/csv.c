/* csv.c: the CSV report: one row per test (a task, or each JUnit test case a task brought), with
 * the columns name, task_id, status, duration_s, worker, error_kind, error_message, metrics.
 * Quoting follows RFC 4180: CRLF line ends, a field with a comma, quote, CR, LF or edge spaces is
 * quoted and its quotes doubled. metrics holds the task's benchmark metrics as key=value pairs
 * separated by ';'.
 *
 * A CSV file is opened by spreadsheets, which run a cell that starts with =, +, -, @, a tab or a
 * carriage return as a formula (OWASP, "CSV Injection"): test names, error messages and worker
 * ids come from whoever submits tasks or runs a worker, so such a cell gets a leading ' (shown
 * as text, not run), and control bytes other than tab, CR and LF are dropped. */
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/hmap.h"
#include "report/view.h"

#define FIELD_CAP 4096 /* bytes of an error message kept */

/* Appends one field, quoted when it must be. */
static int csv_field(struct dtf_buf *b, const char *s, size_t len, bool first)
{
	size_t i, run = 0;
	bool quote = len > 0 && (s[0] == ' ' || s[len - 1] == ' ');
	int rc = first ? 0 : dtf_buf_adds(b, ",");

	for (i = 0; i < len && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (rc || !quote)
		return rc ? rc : dtf_buf_add(b, s, len);
	rc = dtf_buf_adds(b, "\"");
	for (i = 0; i < len && !rc; i++) {
		if (s[i] != '"')
			continue;
		rc = dtf_buf_add(b, s + run, i + 1 - run);
		if (!rc)
			rc = dtf_buf_adds(b, "\"");
		run = i + 1;
	}
	if (!rc)
		rc = dtf_buf_add(b, s + run, len - run);
	if (!rc)
		rc = dtf_buf_adds(b, "\"");
	return rc;
}

/* True for a first byte that makes a spreadsheet read the cell as a formula. */
static bool formula_lead(char c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

/* Appends s (len bytes) as a field that is safe to open: without control bytes (tab, CR and LF
 * stay: they are quoted) and with a ' before a formula's first character. */
static int csv_safe(struct dtf_buf *b, const char *s, size_t len, bool first)
{
	char *tmp = malloc(len + 2);
	size_t i, n = 0;
	int rc;

	if (!tmp)
		return DTF_ENOMEM;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
			continue;
		if (n == 0 && formula_lead((char)c))
			tmp[n++] = '\'';
		tmp[n++] = (char)c;
	}
	rc = csv_field(b, tmp, n, first);
	free(tmp);
	return rc;
}

static int csv_str(struct dtf_buf *b, const char *s, bool first)
{
	size_t len = strlen(s);

	if (len > FIELD_CAP) {
		len = FIELD_CAP;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	return csv_safe(b, s, len, first);
}

/* The metrics of a task as "key=value;…", numbers in their shortest %g form. */
static int metrics_text(struct dtf_buf *m, json_t *task)
{
	json_t *metrics = json_object_get(json_object_get(task, "result"), "metrics"), *v;
	const char *key;
	int rc = 0;

	dtf_buf_reset(m);
	json_object_foreach(metrics, key, v) {
		if (rc || !json_is_number(v) || !isfinite(json_number_value(v)))
			continue;
		rc = dtf_buf_printf(m, "%s%s=%.10g", m->len ? ";" : "", key, json_number_value(v));
	}
	return rc == DTF_ETOOBIG ? 0 : rc;
}

int dtf_report_csv(json_t *doc, struct dtf_buf *out)
{
	json_t *tests = NULL, *row, *task;
	struct dtf_hmap tasks;
	struct dtf_buf m;
	size_t start = out->len, i;
	char dur[32];
	int rc = DTF_EINVAL;

	dtf_hmap_init(&tasks);
	dtf_buf_init(&m, 64u << 10);
	if (!json_is_object(doc))
		goto out;
	rc = DTF_ENOMEM;
	tests = report_tests(doc);
	if (!tests)
		goto out;
	json_array_foreach(json_object_get(doc, "tasks"), i, task) {
		const char *id = report_str(task, "id", NULL);

		if (id && dtf_hmap_put(&tasks, id, task))
			goto out;
	}
	rc = dtf_buf_adds(out, "name,task_id,status,duration_s,worker,error_kind,error_message,"
			       "metrics\r\n");
	json_array_foreach(tests, i, row) {
		if (rc)
			break;
		task = dtf_hmap_get(&tasks, report_str(row, "task_id", ""));
		rc = metrics_text(&m, task);
		snprintf(dur, sizeof(dur), "%.3f", report_num(row, "duration_s"));
		if (!rc)
			rc = csv_str(out, report_str(row, "name", ""), true);
		if (!rc)
			rc = csv_str(out, report_str(row, "task_id", ""), false);
		if (!rc)
			rc = csv_str(out, report_str(row, "status", ""), false);
		if (!rc)
			rc = csv_field(out, dur, strlen(dur), false);
		if (!rc)
			rc = csv_str(out, report_str(row, "worker_id", ""), false);
		if (!rc)
			rc = csv_str(out, report_str(row, "error_kind", ""), false);
		if (!rc)
			rc = csv_str(out, report_str(row, "error_message", ""), false);
		if (!rc)
			rc = csv_safe(out, dtf_buf_str(&m), m.len, false);
		if (!rc)
			rc = dtf_buf_adds(out, "\r\n");
	}
out:
	if (rc) /* leave the caller's buffer as it was */
		dtf_buf_truncate(out, start);
	dtf_hmap_release(&tasks);
	dtf_buf_release(&m);
	json_decref(tests);
	return rc;
}
