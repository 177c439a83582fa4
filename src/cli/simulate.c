/* simulate.c: `dtf simulate`: runs the real scheduler against simulated workers in virtual time
 * (src/core/sim.c) and reports makespan, its ratio to the lower bound, mean wait, fairness
 * across users and deadline misses. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "common/yaml.h"
#include "core/sim.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: dtf simulate [options]\n"
	    "  --workload F|synthetic  a JSON file: a list of tasks (duration_s, user, project,\n"
	    "                       priority, hardware, requirements, name, batch_key,\n"
	    "                       deadline_s) or {\"tasks\": [...], \"workers\": [...]};\n"
	    "                       or synthetic (lognormal durations, a few users; default)\n"
	    "  --tasks N            synthetic tasks (default 1000)\n"
	    "  --workers W          workers (default 10), unless the workload lists them\n"
	    "  --slots K            slots per worker (default 1)\n"
	    "  --strategy S         priority, fair-share, round-robin, resource-aware,\n"
	    "                       deadline, duration (default priority); 'all' runs each\n"
	    "  --config F           a configuration whose scheduler section (shares…) applies\n"
	    "  --no-history         duration starts without a duration history (the default\n"
	    "                       seeds it with the true durations: a second run)\n"
	    "  --batch N            batch processing with batch_size_limit N\n"
	    "  --median S           synthetic median duration in seconds (default 30)\n"
	    "  --sigma X            synthetic lognormal sigma (default 1)\n"
	    "  --users N            synthetic users (default 4)\n"
	    "  --seed X             synthetic seed (default 1)\n"
	    "  --json               print the results as JSON\n");
}

static json_t *result_json(const char *strategy, const struct sim_result *r)
{
	return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:f}",
			 "strategy", strategy, "tasks", (json_int_t)r->tasks, "workers",
			 (json_int_t)r->workers, "slots", (json_int_t)r->slots, "completed",
			 (json_int_t)r->completed, "unschedulable", (json_int_t)r->unschedulable,
			 "makespan_s", r->makespan_s, "lower_bound_s", r->lower_bound_s, "ratio",
			 r->ratio, "mean_wait_s", r->mean_wait_s, "jain", r->jain, "users",
			 (json_int_t)r->users, "deadline_tasks", (json_int_t)r->deadline_tasks,
			 "deadline_misses", (json_int_t)r->deadline_misses, "batches",
			 (json_int_t)r->batches, "real_s", r->real_s);
}

static int load_workload(const char *path, json_t **tasks, json_t **workers)
{
	char *text = NULL, err[256];
	size_t len;
	json_t *doc;

	if (dtf_read_file(path, SIM_MAX_FILE_BYTES, &text, &len) != 0) {
		fprintf(stderr, "dtf simulate: cannot read %s (or it is over %zu MiB)\n", path,
			SIM_MAX_FILE_BYTES >> 20);
		return 2;
	}
	doc = dtf_json_parse(text, len, err, sizeof(err));
	free(text);
	if (!doc) {
		fprintf(stderr, "dtf simulate: %s: %s\n", path, err);
		return 2;
	}
	if (json_is_array(doc)) {
		*tasks = doc;
		return 0;
	}
	if (json_is_object(doc) && json_is_array(json_object_get(doc, "tasks"))) {
		*tasks = json_incref(json_object_get(doc, "tasks"));
		*workers = json_incref(json_object_get(doc, "workers"));
		json_decref(doc);
		return 0;
	}
	fprintf(stderr, "dtf simulate: %s: expected a list of tasks or {\"tasks\": [...]}\n", path);
	json_decref(doc);
	return 2;
}

static bool num_arg(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

int cmd_simulate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"workload", required_argument, NULL, 'l'},
	    {"tasks", required_argument, NULL, 'n'},
	    {"workers", required_argument, NULL, 'w'},
	    {"slots", required_argument, NULL, 'k'},
	    {"strategy", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"no-history", no_argument, NULL, 'H'},
	    {"batch", required_argument, NULL, 'b'},
	    {"median", required_argument, NULL, 'm'},
	    {"sigma", required_argument, NULL, 'g'},
	    {"users", required_argument, NULL, 'u'},
	    {"seed", required_argument, NULL, 'x'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const all[] = {"priority",	    "fair-share", "round-robin",
					  "resource-aware", "deadline",	  "duration"};
	struct sim_config cfg = {
	    .workers = 10, .slots = 1, .strategy = "priority", .history = true};
	const char *workload = "synthetic", *config = NULL;
	double ntasks = 1000, median = 30, sigma = 1, users = 4, seed = 1, d;
	bool as_json = false;
	json_t *tasks = NULL, *workers = NULL, *cfgdoc = NULL, *results = json_array();
	int opt, rc = 0;
	size_t i, nstrat = 1;
	const char *const *strats = &cfg.strategy;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			workload = optarg;
			break;
		case 'n':
			if (!num_arg(optarg, 0, SIM_MAX_TASKS, &ntasks))
				goto bad;
			break;
		case 'w':
			if (!num_arg(optarg, 1, SIM_MAX_WORKERS, &d))
				goto bad;
			cfg.workers = (int)d;
			break;
		case 'k':
			if (!num_arg(optarg, 1, 4096, &d))
				goto bad;
			cfg.slots = (int)d;
			break;
		case 's':
			cfg.strategy = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'H':
			cfg.history = false;
			break;
		case 'b':
			if (!num_arg(optarg, 1, 4096, &d))
				goto bad;
			cfg.batching = true;
			cfg.batch_limit = (int)d;
			break;
		case 'm':
			if (!num_arg(optarg, 0.001, 1e7, &median))
				goto bad;
			break;
		case 'g':
			if (!num_arg(optarg, 0, 10, &sigma))
				goto bad;
			break;
		case 'u':
			if (!num_arg(optarg, 1, 100000, &users))
				goto bad;
			break;
		case 'x':
			if (!num_arg(optarg, 0, 1e18, &seed))
				goto bad;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			usage(stdout);
			json_decref(results);
			return 0;
		default:
			usage(stderr);
			json_decref(results);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dtf simulate: unexpected argument '%s'\n", argv[optind]);
		json_decref(results);
		return 2;
	}
	if (config) {
		char *text = NULL, err[512];
		size_t len;
		if (dtf_read_file(config, DTF_YAML_MAX_BYTES, &text, &len) != 0 ||
		    !(cfgdoc = dtf_yaml_parse(text, len, config, err, sizeof(err)))) {
			fprintf(stderr, "dtf simulate: cannot read config %s\n", config);
			free(text);
			rc = 2;
			goto out;
		}
		free(text);
		cfg.scheduler = json_object_get(cfgdoc, "scheduler");
		if (!cfg.scheduler)
			cfg.scheduler =
			    json_object_get(json_object_get(cfgdoc, "coordinator"), "scheduler");
	}
	if (strcmp(workload, "synthetic") == 0)
		tasks = sim_synthetic((size_t)ntasks, median, sigma, (int)users, (uint64_t)seed);
	else if ((rc = load_workload(workload, &tasks, &workers)) != 0)
		goto out;
	if (strcmp(cfg.strategy, "all") == 0) {
		strats = all;
		nstrat = sizeof(all) / sizeof(all[0]);
	}
	for (i = 0; i < nstrat; i++) {
		struct sim_result r;
		struct sim_config one = cfg;
		char err[512];
		one.strategy = strats[i];
		if (sim_run(&one, tasks, workers, &r, err, sizeof(err)) != 0) {
			fprintf(stderr, "dtf simulate: %s\n", err);
			rc = 2;
			goto out;
		}
		json_array_append_new(results, result_json(one.strategy, &r));
		if (!as_json) {
			printf("strategy %s: %zu tasks, %zu workers, %zu slots\n", one.strategy,
			       r.tasks, r.workers, r.slots);
			printf("  makespan        %.1f s\n", r.makespan_s);
			printf("  lower bound     %.1f s  (max(longest task, total work / "
			       "capacity))\n",
			       r.lower_bound_s);
			printf("  ratio           %.3f\n", r.ratio);
			printf("  mean wait       %.1f s\n", r.mean_wait_s);
			printf(
			    "  fairness        %.3f  (Jain's index over %zu users of service per "
			    "share while all had work waiting)\n",
			    r.jain, r.users);
			printf("  deadline misses %zu of %zu\n", r.deadline_misses,
			       r.deadline_tasks);
			if (r.unschedulable)
				printf("  unschedulable   %zu (no worker can run them)\n",
				       r.unschedulable);
			if (r.batches)
				printf("  batches         %zu\n", r.batches);
			printf("  simulated in    %.2f s\n", r.real_s);
		}
	}
	if (as_json) {
		char *s =
		    json_dumps(json_array_size(results) == 1 ? json_array_get(results, 0) : results,
			       JSON_INDENT(2));
		if (s)
			printf("%s\n", s);
		free(s);
	}
out:
	json_decref(tasks);
	json_decref(workers);
	json_decref(cfgdoc);
	json_decref(results);
	return rc;
bad:
	fprintf(stderr, "dtf simulate: bad value '%s' (see dtf simulate --help)\n", optarg);
	json_decref(results);
	return 2;
}
