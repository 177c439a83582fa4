/* summary.c: the counts that head a run's JSON report and that the CLI prints at the end of a
 * run: tasks by status, passed, skipped (unschedulable), flaky, total duration and pass rate. */
#include "report/report.h"

#include <math.h>
#include <string.h>

#include "common/err.h"

#include "common/banned.h"

/* Task counts by status, in the order they appear in the summary object. */
struct summary_counts {
	json_int_t total, pending, assigned, running, completed, failed, cancelled;
	json_int_t skipped, flaky;
	double duration_s;
};

/* Adds one task to the counts. Tasks of an unknown status count in the total only. */
static void count_task(struct summary_counts *c, json_t *task)
{
	const char *status = json_string_value(json_object_get(task, "status"));
	json_t *error = json_object_get(task, "error");
	const char *kind = json_string_value(json_object_get(error, "kind"));
	json_t *result = json_object_get(task, "result");
	json_t *duration = json_object_get(result, "duration_s");
	double d;

	c->total++;
	if (!status)
		status = "";
	if (strcmp(status, "pending") == 0) {
		c->pending++;
	} else if (strcmp(status, "assigned") == 0) {
		c->assigned++;
	} else if (strcmp(status, "running") == 0) {
		c->running++;
	} else if (strcmp(status, "completed") == 0) {
		c->completed++;
	} else if (strcmp(status, "failed") == 0) {
		c->failed++;
	} else if (strcmp(status, "cancelled") == 0) {
		c->cancelled++;
		if (kind && strcmp(kind, "unschedulable") == 0)
			c->skipped++;
	}
	if (json_is_true(json_object_get(result, "flaky")))
		c->flaky++;
	if (json_is_number(duration)) {
		d = json_number_value(duration);
		if (isfinite(d) && d > 0)
			c->duration_s += d;
	}
}

json_t *dtf_report_summary(json_t *doc)
{
	struct summary_counts c = {0};
	json_t *tasks = json_object_get(doc, "tasks");
	json_t *summary;
	size_t i;

	for (i = 0; i < json_array_size(tasks); i++) {
		json_t *task = json_array_get(tasks, i);

		if (json_is_object(task))
			count_task(&c, task);
	}
	summary = json_pack("{sI sI sI sI sI sI sI sI sI sI sf sf}", "total", c.total, "pending",
			    c.pending, "assigned", c.assigned, "running", c.running, "completed",
			    c.completed, "failed", c.failed, "cancelled", c.cancelled, "skipped",
			    c.skipped, "passed", c.completed, "flaky", c.flaky, "duration_s",
			    c.duration_s, "pass_rate",
			    c.total ? (double)c.completed / (double)c.total : 0.0);
	return summary;
}
