/* summary.c: the counts that head a run's JSON report and that the CLI prints at the end of a
 * run. The unit is the test case (common/testcount.h): the counts by test status come from the
 * same function the coordinator's /summary uses; the tasks the run was made of are counted apart
 * under "tasks". */
#include "report/report.h"

#include <math.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/testcount.h"

/* Task counts by status. */
struct task_counts {
	json_int_t total, pending, assigned, running, completed, failed, cancelled;
	json_int_t unschedulable, flaky;
	double duration_s;
};

/* Adds one task to the counts. Tasks of an unknown status count in the total only. */
static void count_task(struct task_counts *c, json_t *task)
{
	const char *status = dtf_json_str(task, "status", "");
	const char *kind = dtf_json_str(json_object_get(task, "error"), "kind", "");
	json_t *result = json_object_get(task, "result");

	c->total++;
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
		if (strcmp(kind, "unschedulable") == 0)
			c->unschedulable++;
	}
	if (json_is_true(json_object_get(result, "flaky")))
		c->flaky++;
	c->duration_s += dtf_task_seconds(task);
}

json_t *dtf_report_summary(json_t *doc)
{
	struct task_counts k = {0};
	struct dtf_testcount c;
	json_t *tasks = json_object_get(doc, "tasks"), *task, *summary, *t;
	size_t i;

	memset(&c, 0, sizeof(c));
	json_array_foreach(tasks, i, task) {
		if (!json_is_object(task))
			continue;
		count_task(&k, task);
		dtf_testcount_add_task(&c, task);
	}
	summary = dtf_testcount_json(&c);
	t = json_pack("{sI sI sI sI sI sI sI sI sI sf}", "total", k.total, "pending", k.pending,
		      "assigned", k.assigned, "running", k.running, "completed", k.completed,
		      "failed", k.failed, "cancelled", k.cancelled, "unschedulable",
		      k.unschedulable, "flaky", k.flaky, "duration_s",
		      round(k.duration_s * 1e6) / 1e6);
	if (!summary || !t) {
		json_decref(summary);
		json_decref(t);
		return NULL;
	}
	if (json_object_set_new(
		summary, "pass_rate",
		json_real(c.total ? (double)(c.n[DTF_TEST_PASSED] + c.n[DTF_TEST_FLAKY]) /
					(double)c.total
				  : 0.0)) ||
	    json_object_set_new(summary, "tasks", t)) {
		json_decref(summary);
		return NULL;
	}
	return summary;
}
