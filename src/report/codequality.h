/* codequality.h: a run's tests that did not pass as a GitLab Code Quality report
 * (https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format), the JSON half of
 * `dtf client export-results --format gitlab`; the JUnit report is the other half (GitLab's unit
 * test reports, https://docs.gitlab.com/ci/testing/unit_test_reports/). */
#ifndef DTF_REPORT_CODEQUALITY_H
#define DTF_REPORT_CODEQUALITY_H

#include <jansson.h>

#include "common/buf.h"

/* Appends a JSON array to out, one issue per test row (see report.h) that did not pass, was not
 * skipped and is not still running:
 *   {"description": "<test> failed: <message>", "check_name": "dtf/<status>",
 *    "fingerprint": 32 hex digits from the task and test names (the same test keeps its
 *    fingerprint across runs, so GitLab tells new failures from old ones),
 *    "severity": "critical" (error) | "major" (failed and the like) | "minor" (cancelled) |
 *                "info" (flaky: passed on a retry),
 *    "location": {"path": the task's params.file, else its name; "lines": {"begin": the line
 *                 the failure message names for that file, else 1}}}.
 * doc is the run document; it is prepared (dtf_report_prepare) when it has no test rows yet.
 * Returns 0 or a DTF_E* code. */
int dtf_report_codequality(json_t *doc, struct dtf_buf *out);

#endif
