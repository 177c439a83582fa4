/* badges.c: shields.io endpoint badges (https://shields.io/badges/endpoint-badge): small JSON
 * files {"schemaVersion": 1, "label", "message", "color"} that a README shows through
 * img.shields.io/endpoint?url=…. One for the whole run (combined-status.json), one per test type
 * (<type>-status.json) and one for line coverage (coverage.json). */
#include "report/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/testcount.h"
#include "common/util.h"
#include "report/view.h"

#define MAX_TYPES    64 /* per-type badges written at most */
#define MAX_TYPE_LEN 40 /* a longer test type name is cut in the file name */

const char *dtf_report_coverage_color(double percent)
{
	if (percent >= 90)
		return "brightgreen";
	if (percent >= 80)
		return "green";
	if (percent >= 70)
		return "yellowgreen";
	if (percent >= 60)
		return "yellow";
	if (percent >= 50)
		return "orange";
	return "red";
}

/* Counts of one group of test rows. */
struct tally {
	char type[MAX_TYPE_LEN + 1]; /* file-name-safe test type ("" for the whole run) */
	struct dtf_testcount c;
};

static void tally_row(struct tally *t, json_t *row)
{
	int st = dtf_test_status_parse(report_str(row, "status", ""));

	t->c.n[st < 0 ? DTF_TEST_ERROR : st]++;
	t->c.total++;
}

/* A test type as a file-name part: lower-case letters, digits, '-' and '_'. */
static void safe_type(const char *type, char out[MAX_TYPE_LEN + 1])
{
	size_t i;

	for (i = 0; type[i] && i < MAX_TYPE_LEN; i++) {
		char c = type[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out[i] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') ? c : '-';
	}
	out[i] = '\0';
}

/* Appends ", N word" (or "N word" at the start) to msg when n is not 0. */
static void part(char *msg, size_t len, long long n, const char *one, const char *many)
{
	size_t used = strlen(msg);

	if (n && used < len)
		snprintf(msg + used, len - used, "%s%lld %s", used ? ", " : "", n,
			 n == 1 ? one : many);
}

/* The message and colour of a status badge: the same counts, in the same words, as the
 * terminal summary (dtf_testcount_line), the failing ones first. */
static void status_badge(const struct tally *t, char *msg, size_t len, const char **color)
{
	const long long *n = t->c.n;

	msg[0] = '\0';
	if (dtf_testcount_failing(&t->c, false)) {
		part(msg, len, n[DTF_TEST_FAILED], "failed", "failed");
		part(msg, len, n[DTF_TEST_ERROR], "error", "errors");
		part(msg, len, n[DTF_TEST_ORDER_DEPENDENT], "order-dependent", "order-dependent");
		part(msg, len, n[DTF_TEST_ISOLATION_FAILURE], "isolation failure",
		     "isolation failures");
		*color = "red";
	} else if (dtf_testcount_unfinished(&t->c) || n[DTF_TEST_CANCELLED]) {
		snprintf(msg, len, "incomplete");
		*color = "yellow";
	} else if (t->c.total == 0) {
		snprintf(msg, len, "no tests");
		*color = "lightgrey";
		return;
	} else {
		*color = "brightgreen";
	}
	if (strlen(msg) + 2 < len)
		snprintf(msg + strlen(msg), len - strlen(msg), "%s%lld passed", msg[0] ? ", " : "",
			 n[DTF_TEST_PASSED]);
	part(msg, len, n[DTF_TEST_FLAKY], "flaky", "flaky");
	part(msg, len, n[DTF_TEST_SKIPPED], "skipped", "skipped");
	part(msg, len, n[DTF_TEST_XFAILED], "xfailed", "xfailed");
	part(msg, len, n[DTF_TEST_XPASSED], "xpassed", "xpassed");
}

static int write_badge(const char *dir, const char *file, const char *label, const char *message,
		       const char *color, char *err, size_t errlen)
{
	json_t *b = json_pack("{si ss ss ss}", "schemaVersion", 1, "label", label, "message",
			      message, "color", color);
	char path[4096], *text = b ? json_dumps(b, JSON_INDENT(2)) : NULL;
	int rc = DTF_ENOMEM;

	if (!text)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	rc = dtf_write_file(path, text, strlen(text));
	if (rc)
		snprintf(err, errlen, "cannot write %s: %s", path, dtf_strerror(rc));
out:
	if (rc == DTF_ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(text);
	json_decref(b);
	return rc;
}

int dtf_report_write_badges(json_t *doc, const char *dir, char *err, size_t errlen)
{
	struct tally all = {0}, types[MAX_TYPES];
	json_t *tests = NULL, *row, *cov;
	size_t ntypes = 0, i, j;
	char msg[128], file[MAX_TYPE_LEN + 32], label[MAX_TYPE_LEN + 16];
	const char *color;
	int rc;

	if (!json_is_object(doc) || !dir || !*dir) {
		snprintf(err, errlen, "badges need a run document and a directory");
		return DTF_EINVAL;
	}
	rc = dtf_mkdirs(dir, 0755);
	if (rc) {
		snprintf(err, errlen, "cannot create %s: %s", dir, dtf_strerror(rc));
		return rc;
	}
	tests = report_tests(doc);
	if (!tests) {
		snprintf(err, errlen, "out of memory");
		return DTF_ENOMEM;
	}
	json_array_foreach(tests, i, row) {
		char t[MAX_TYPE_LEN + 1];

		tally_row(&all, row);
		safe_type(report_str(row, "test_type", "task"), t);
		if (!t[0] || strcmp(t, "combined") == 0)
			continue; /* combined-status.json is the whole run's */
		for (j = 0; j < ntypes && strcmp(types[j].type, t) != 0; j++)
			;
		if (j == ntypes) {
			if (ntypes == MAX_TYPES)
				continue;
			memset(&types[ntypes], 0, sizeof(types[0]));
			memcpy(types[ntypes].type, t, sizeof(t));
			ntypes++;
		}
		tally_row(&types[j], row);
	}
	status_badge(&all, msg, sizeof(msg), &color);
	rc = write_badge(dir, "combined-status.json", "tests", msg, color, err, errlen);
	for (j = 0; j < ntypes && !rc; j++) {
		status_badge(&types[j], msg, sizeof(msg), &color);
		snprintf(file, sizeof(file), "%s-status.json", types[j].type);
		snprintf(label, sizeof(label), "%s tests", types[j].type);
		rc = write_badge(dir, file, label, msg, color, err, errlen);
	}
	cov = json_object_get(doc, "coverage");
	if (!rc && json_is_object(cov) && json_integer_value(json_object_get(cov, "lines_total"))) {
		double pct = report_num(cov, "percent");

		snprintf(msg, sizeof(msg), "%.1f%%", pct);
		rc = write_badge(dir, "coverage.json", "coverage", msg,
				 dtf_report_coverage_color(pct), err, errlen);
	}
	json_decref(tests);
	return rc;
}
