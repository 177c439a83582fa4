/* shortest_first.c: an example scheduler plugin. It offers the strategy "shortest-first": of
 * the candidates dtf hands it for a worker, the task with the smallest params.estimate_s goes
 * first (tasks without an estimate last, in the order given), and tasks whose estimate is above
 * the configured max_estimate_s are held back entirely (not leased while that strategy is on).
 *
 * Configuration (plugins.config.shortest_first): max_estimate_s (default: no limit).
 * Select it with scheduler.strategy: shortest-first, `dtf coordinator --strategy
 * shortest-first`, or PUT /api/v1/scheduler {"strategy": "shortest-first"}.
 * Build: see examples/plugins/CMakeLists.txt; it uses only include/dtf/plugin.h and jansson. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dtf/plugin.h"

struct sf {
	double max_estimate_s; /* 0: no limit */
};

static int sf_init(dtf_plugin_ctx *ctx, const struct dtf_plugin_host *host, void **state)
{
	(void)ctx;
	(void)host;
	*state = calloc(1, sizeof(struct sf));
	return *state ? 0 : -1;
}

static int sf_configure(void *state, const char *config_json, char *err, size_t errlen)
{
	struct sf *s = state;
	json_t *cfg = json_loads(config_json, 0, NULL), *v = json_object_get(cfg, "max_estimate_s");
	int rc = 0;

	if (v && (!json_is_number(v) || json_number_value(v) <= 0)) {
		snprintf(err, errlen, "max_estimate_s must be a number of seconds above 0");
		rc = -1;
	} else if (v) {
		s->max_estimate_s = json_number_value(v);
	}
	json_decref(cfg);
	return rc;
}

static void sf_shutdown(void *state)
{
	free(state);
}

struct item {
	size_t index;
	double estimate; /* INFINITY when the task has none */
};

static int by_estimate(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->estimate != y->estimate)
		return x->estimate < y->estimate ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Called on the coordinator's lease path: quick, no blocking. */
static int sf_order(void *state, const char *worker_json, const char *tasks_json, size_t n,
		    size_t *order)
{
	struct sf *s = state;
	json_t *tasks = json_loads(tasks_json, 0, NULL);
	struct item *items = calloc(n ? n : 1, sizeof(*items));
	size_t i, k = 0;

	(void)worker_json;
	if (!json_is_array(tasks) || json_array_size(tasks) != n || !items) {
		json_decref(tasks);
		free(items);
		return -1;
	}
	for (i = 0; i < n; i++) {
		json_t *e = json_object_get(json_object_get(json_array_get(tasks, i), "params"),
					    "estimate_s");
		double est = json_is_number(e) ? json_number_value(e) : INFINITY;
		if (s->max_estimate_s > 0 && isfinite(est) && est > s->max_estimate_s)
			continue; /* held back */
		items[k].index = i;
		items[k].estimate = est;
		k++;
	}
	qsort(items, k, sizeof(*items), by_estimate);
	for (i = 0; i < k; i++)
		order[i] = items[i].index;
	json_decref(tasks);
	free(items);
	return (int)k;
}

static const struct dtf_scheduler_ops sf_scheduler = {
    .struct_size = sizeof(struct dtf_scheduler_ops),
    .strategy = "shortest-first",
    .order = sf_order,
};

static const struct dtf_plugin sf_plugin = {
    .abi_version = DTF_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct dtf_plugin),
    .name = "shortest_first",
    .version = "1.0.0",
    .type = DTF_PLUGIN_SCHEDULER,
    .hooks = 0,
    .init = sf_init,
    .configure = sf_configure,
    .shutdown = sf_shutdown,
    .scheduler = &sf_scheduler,
    .description = "scheduler: smallest params.estimate_s first (strategy shortest-first)",
};

DTF_PLUGIN_EXPORT const struct dtf_plugin *dtf_plugin_entry(void)
{
	return &sf_plugin;
}
