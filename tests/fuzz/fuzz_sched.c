/* fuzz_sched.c: libFuzzer target for the scheduler's outside inputs: a configuration's scheduler
 * section (an object: strategy, shares, default_share, half_life), and a simulator workload (a
 * list of tasks, or {"tasks", "workers"}), run through the real scheduler on two workers. Neither
 * may crash or leak; a rejected input always says why; an accepted workload accounts for every
 * task (completed or unschedulable) with a makespan no shorter than its lower bound. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/json.h"
#include "core/model.h"
#include "core/sim.h"

#define MAX_INPUT      (16u << 10)
#define MAX_FUZZ_TASKS 64

static void config_case(const json_t *sec)
{
	struct coord *c = calloc(1, sizeof(*c));
	char err[512] = "";

	if (!c)
		return;
	if (lease_index_init(c, sec, NULL, err, sizeof(err)) != 0 && !err[0])
		abort();
	sx_free(c->sx);
	free(c);
}

static void workload_case(const json_t *tasks, const json_t *workers)
{
	struct sim_config cfg = {.workers = 2, .slots = 2, .strategy = "priority"};
	static const char *const strategies[] = {"priority",	   "fair-share", "round-robin",
						 "resource-aware", "deadline",	 "duration"};
	struct sim_result r;
	char err[512] = "";
	size_t i;

	if (json_array_size(tasks) > MAX_FUZZ_TASKS || json_array_size(workers) > 4)
		return;
	for (i = 0; i < json_array_size(workers); i++)
		if (dtf_json_int(json_array_get(workers, i), "count", 1) > 8)
			return;
	cfg.strategy = strategies[json_array_size(tasks) % 6];
	cfg.batching = json_array_size(tasks) % 2;
	cfg.batch_limit = 3;
	cfg.history = true;
	if (sim_run(&cfg, tasks, workers, &r, err, sizeof(err)) != 0) {
		if (!err[0])
			abort();
		return;
	}
	if (r.completed + r.unschedulable != json_array_size(tasks))
		abort();
	if (r.unschedulable == 0 && r.makespan_s + 0.002 * (double)r.tasks < r.lower_bound_s)
		abort();
	if (!(r.jain >= 0 && r.jain <= 1.000001) && r.users)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *doc;

	if (size > MAX_INPUT)
		return 0;
	doc = dtf_json_parse((const char *)data, size, err, sizeof(err));
	if (!doc)
		return 0;
	if (json_is_array(doc))
		workload_case(doc, NULL);
	else if (json_is_object(doc) && json_is_array(json_object_get(doc, "tasks")))
		workload_case(json_object_get(doc, "tasks"), json_object_get(doc, "workers"));
	else
		config_case(doc);
	json_decref(doc);
	return 0;
}
