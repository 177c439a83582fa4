/* codequality.c: the GitLab Code Quality report of a run (codequality.h): one issue per test that
 * did not pass, at its file, so the merge request shows failing tests next to the diff. */
#include "report/codequality.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/utf8.h"
#include "report/report.h"

#define DESCRIPTION_MAX 1000 /* bytes of a description (the test, its status, the message) */

/* FNV-1a, 64 bits, over the parts (each followed by a NUL), from a seed. */
static uint64_t fnv(uint64_t h, const char *const *parts, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)parts[i];
		for (;; p++) {
			h ^= *p;
			h *= 0x100000001b3ULL;
			if (!*p)
				break;
		}
	}
	return h;
}

/* The line that text names for the file base ("test_x.py:12: AssertionError"), or 1. */
static long line_in(const char *text, const char *base)
{
	size_t m = strlen(base);
	const char *p = text;

	if (!text || m == 0)
		return 1;
	while ((p = strstr(p, base))) {
		if (p[m] == ':' && p[m + 1] >= '1' && p[m + 1] <= '9') {
			long line = strtol(p + m + 1, NULL, 10);
			if (line > 0 && line < 10000000)
				return line;
		}
		p += m;
	}
	return 1;
}

/* Copies at most max bytes of s into out (outlen > max) without splitting a UTF-8 sequence;
 * bytes that are not UTF-8 become '?'. */
static void utf8_cut(const char *s, size_t max, char *out, size_t outlen)
{
	size_t len = strlen(s), i = 0, o = 0;

	while (i < len && o < max && o + 4 < outlen) {
		uint32_t cp;
		size_t n = dtf_utf8_decode((const unsigned char *)s + i, len - i, &cp);
		if (n == 0) {
			out[o++] = '?';
			i++;
			continue;
		}
		if (o + n > max)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
}

/* The severity of a row's status, or NULL when the row is not an issue. */
static const char *severity(const json_t *row)
{
	const char *st = dtf_json_str(row, "status", "");
	static const char *const fine[] = {"passed",  "skipped",  "xfailed", "xpassed",
					   "pending", "assigned", "running", NULL};
	int i;

	/* A test that passed only on a retry (status "flaky", see common/testcount.h). */
	if (strcmp(st, "flaky") == 0 ||
	    (strcmp(st, "passed") == 0 && json_is_true(json_object_get(row, "flaky"))))
		return "info";
	for (i = 0; fine[i]; i++)
		if (strcmp(st, fine[i]) == 0)
			return NULL;
	if (strcmp(st, "error") == 0)
		return "critical";
	if (strcmp(st, "cancelled") == 0)
		return "minor";
	return "major";
}

int dtf_report_codequality(json_t *doc, struct dtf_buf *out)
{
	json_t *rows, *row, *tasks = json_object(), *t, *issues = json_array();
	char err[256];
	size_t i;
	int rc = 0;

	if (!json_is_array(json_object_get(doc, "tests")) &&
	    (rc = dtf_report_prepare(doc, NULL, err, sizeof(err))) != 0)
		goto out;
	json_array_foreach(json_object_get(doc, "tasks"), i, t)
		json_object_set(tasks, dtf_json_str(t, "id", ""), t);
	rows = json_object_get(doc, "tests");
	json_array_foreach(rows, i, row) {
		const char *sev = severity(row), *name, *task_name, *path, *base, *msg, *st;
		const json_t *task;
		const char *parts[2];
		char fp[40], full[4096], desc[DESCRIPTION_MAX + 8];
		json_t *issue;
		if (!sev)
			continue;
		task = json_object_get(tasks, dtf_json_str(row, "task_id", ""));
		name = dtf_json_str(row, "name", "?");
		task_name = dtf_json_str(row, "task_name", name);
		path = dtf_json_str(json_object_get(task, "params"), "file", task_name);
		while (path[0] == '.' && path[1] == '/')
			path += 2;
		base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		st = dtf_json_str(row, "status", "");
		msg = dtf_json_str(row, "error_message", "");
		if (strcmp(sev, "info") == 0)
			st = "flaky";
		parts[0] = task_name;
		parts[1] = name;
		snprintf(fp, sizeof(fp), "%016llx%016llx",
			 (unsigned long long)fnv(0xcbf29ce484222325ULL, parts, 2),
			 (unsigned long long)fnv(0x84222325cbf29ce4ULL, parts, 2));
		snprintf(full, sizeof(full), "%s %s%s%s", name,
			 strcmp(st, "flaky") == 0 ? "passed only on a retry" : st, *msg ? ": " : "",
			 msg);
		utf8_cut(full, DESCRIPTION_MAX, desc, sizeof(desc));
		issue = json_pack("{s:s,s:s+,s:s,s:s,s:{s:s,s:{s:I}}}", "description", desc,
				  "check_name", "dtf/", st, "fingerprint", fp, "severity", sev,
				  "location", "path", path, "lines", "begin",
				  (json_int_t)line_in(msg, base));
		if (!issue) {
			rc = DTF_ENOMEM;
			goto out;
		}
		json_array_append_new(issues, issue);
	}
	rc = dtf_json_dump(issues, out);
	if (rc == 0)
		rc = dtf_buf_adds(out, "\n");
out:
	json_decref(issues);
	json_decref(tasks);
	return rc;
}
