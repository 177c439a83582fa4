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

/* Appends a JUnit XML document (one <testsuite> per run, one <testcase> per task, or per test case
 * when the task produced a JUnit report of its own; failure messages; stdout/stderr excerpts in
 * system-out/system-err, at most 64 KiB each) to out. Returns 0 or a DTF_E* code. */
int dtf_report_junit(json_t *doc, struct dtf_buf *out);

/* Appends the JSON report: the document plus a "summary" object with counts by status, passed,
 * failed, skipped, pass_rate and total duration. Returns 0 or a DTF_E* code. */
int dtf_report_json(json_t *doc, struct dtf_buf *out);

/* Returns a new summary object {"total", "completed", "failed", "pending", "assigned", "running",
 * "cancelled", "skipped", "passed", "flaky", "duration_s"} computed from doc's tasks. */
json_t *dtf_report_summary(json_t *doc);

#endif
