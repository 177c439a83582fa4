/* sim.h: a discrete-event simulator that runs the real scheduler (the coordinator's state and
 * lease functions, the pending index and the strategies) against simulated workers in virtual
 * time, with no HTTP and no store. `dtf simulate` and bench/lease_bench use it. */
#ifndef DTF_SCHED_SIM_H
#define DTF_SCHED_SIM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct coord;

/* The most tasks and workers a simulation takes. */
#define SIM_MAX_TASKS	10000000
#define SIM_MAX_WORKERS 100000
/* The largest workload file read. */
#define SIM_MAX_FILE_BYTES ((size_t)512 << 20)

/* A coordinator without HTTP, store (writes go nowhere) or threads, for simulations and
 * benchmarks: scheduler section and strategy as sx_init takes them. Returns NULL with a reason
 * in err. Freed with sim_coord_free. */
struct coord *sim_coord_new(const json_t *sched_section, const char *strategy, bool batching,
			    int batch_limit, char *err, size_t errlen);
void sim_coord_free(struct coord *c);

struct sim_config {
	int workers; /* homogeneous workers (when the workload lists none) */
	int slots;   /* slots per homogeneous worker */
	const char *strategy;
	const json_t *scheduler; /* a scheduler section (shares…), or NULL */
	bool history;		 /* seed the duration history with the true durations */
	bool batching;
	int batch_limit;
};

struct sim_result {
	size_t tasks, completed, unschedulable;
	size_t workers, slots;
	double makespan_s;
	double lower_bound_s; /* max(longest task, total work / total slots) */
	double ratio;	      /* makespan / lower bound */
	double mean_wait_s;
	double jain; /* Jain's index of the users' slot-seconds per share while every user still had
		      * tasks waiting (1: each got the same per share) */
	size_t users;
	size_t deadline_tasks, deadline_misses;
	size_t batches;
	double real_s; /* wall time the simulation took */
};

/* Runs a workload: tasks is a list of task objects, each with "duration_s" (required, >= 0),
 * and optionally "user", "project", "priority", "hardware", "requirements", "name",
 * "batch_key", "deadline_s" (seconds after the start), as dtf tasks; workers (NULL: cfg->workers
 * alike) a list of {"count", "slots", "hardware", "cpu", "memory", "gpu_memory", "labels"}. Returns
 * 0 and fills out, or DTF_EINVAL with "tasks[i]: reason" in err. */
int sim_run(const struct sim_config *cfg, const json_t *tasks, const json_t *workers,
	    struct sim_result *out, char *err, size_t errlen);

/* A synthetic workload: n tasks with lognormal durations (median median_s, sigma), spread over
 * users user-0…user-(users-1) unevenly, named test-<i>; seeded. A new list. */
json_t *sim_synthetic(size_t n, double median_s, double sigma, int users, uint64_t seed);

#endif
